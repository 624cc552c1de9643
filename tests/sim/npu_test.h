/* npu_test.h -- helpers for the device suites: open a device, assemble and run one program
 * through the driver, and read what happened. Tests only. */
#ifndef M4NPU_NPU_TEST_H
#define M4NPU_NPU_TEST_H

#include "test_util.h"

#include "isa_asm.h"
#include "npu_drv.h"

#define NPU_TEST_BUF_BYTES 65536u
#define NPU_TEST_BUFS 4u
#define NPU_TEST_TIMEOUT 100000000ull

typedef struct npu_test {
    npu_dev *dev;
    npu_bo *prog, *data;
    npu_fence fence;
    npu_job_result res;
    npu_counters diff; /* counters over the last run */
    npu_drv_status st;
} npu_test;

static inline void npu_test_open(npu_test *t, const npu_device_config *cfg)
{
    memset(t, 0, sizeof *t);
    char err[256];
    t->dev = npu_dev_open(cfg, err, sizeof err);
    if (!t->dev)
        fail_msg("npu_dev_open: %s", err);
    t->data = npu_bo_alloc(t->dev, NPU_TEST_BUF_BYTES * NPU_TEST_BUFS);
    assert_non_null(t->data);
}

static inline void npu_test_close(npu_test *t)
{
    npu_bo_free(t->prog);
    npu_bo_free(t->data);
    npu_dev_close(t->dev);
    memset(t, 0, sizeof *t);
}

/* Assemble src into the program BO and submit it with the data region as NPU_TEST_BUFS buffers. */
static inline npu_fence npu_test_submit(npu_test *t, const char *src, uint32_t flags)
{
    isa_asm_result r;
    if (isa_assemble(src, strlen(src), "test.s", &r) != ISA_OK)
        fail_msg("test program does not assemble: %s", r.diagnostics);
    npu_bo_free(t->prog);
    t->prog = npu_bo_alloc(t->dev, r.size);
    assert_non_null(t->prog);
    assert_int_equal(npu_bo_write(t->prog, 0, r.bytes, r.size), NPU_DRV_OK);
    isa_asm_result_free(&r);
    npu_job job;
    memset(&job, 0, sizeof job);
    job.type = NPU_JOB_ISA;
    job.flags = flags;
    job.program.bo = t->prog;
    job.nbufs = NPU_TEST_BUFS;
    for (uint32_t i = 0; i < NPU_TEST_BUFS; i++) {
        job.bufs[i].bo = t->data;
        job.bufs[i].offset = i * NPU_TEST_BUF_BYTES;
        job.bufs[i].size = NPU_TEST_BUF_BYTES;
    }
    npu_fence f;
    assert_int_equal(npu_submit(t->dev, &job, &f), NPU_DRV_OK);
    return f;
}

/* Run src to completion; returns the driver status, fills res and diff. */
static inline npu_drv_status npu_test_run(npu_test *t, const char *src, uint32_t flags)
{
    npu_counters a, b;
    npu_dev_read_counters(t->dev, &a);
    t->fence = npu_test_submit(t, src, flags);
    memset(&t->res, 0, sizeof t->res);
    t->st = npu_wait(t->dev, t->fence, NPU_TEST_TIMEOUT, &t->res);
    npu_dev_read_counters(t->dev, &b);
    npu_counters_diff(&a, &b, &t->diff);
    return t->st;
}

static inline uint64_t npu_test_cycles(const npu_test *t) { return t->res.end_cycle - t->res.start_cycle; }
static inline uint64_t npu_test_ctr(const npu_test *t, int unit, int ctr) { return t->diff.v[unit][ctr]; }

#endif
