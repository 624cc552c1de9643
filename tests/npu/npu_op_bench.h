/* npu_op_bench.h -- a bench for the firmware's operator kernels: tensors in a few device
 * buffers filled with deterministic random bytes, op descriptors run as one NPU_JOB_OPS job
 * through the driver, and the same descriptors run by the CPU twin on host copies of the
 * buffers; then every byte of every buffer is compared. Tests only. */
#ifndef M4NPU_NPU_OP_BENCH_H
#define M4NPU_NPU_OP_BENCH_H

#include "test_util.h"

#include <math.h>

#include "isa_exec.h"
#include "npu_drv.h"
#include "npu_twin.h"

#define OPB_BUFS 4
#define OPB_MAX_OPS 16
#define OPB_TIMEOUT 4000000000ull
#define OPB_ALIGN 64

typedef struct opb {
    npu_dev *dev;
    npu_bo *bo[OPB_BUFS], *prog;
    uint64_t size[OPB_BUFS], used[OPB_BUFS];
    uint8_t *host[OPB_BUFS];
    npu_op_desc ops[OPB_MAX_OPS];
    uint32_t nops;
    test_rng rng;
    npu_job_result res;
    npu_counters diff;
    npu_drv_status st;
} opb;

static inline void opb_open(opb *b, const npu_device_config *cfg, uint64_t buf_bytes)
{
    memset(b, 0, sizeof *b);
    char err[256];
    b->dev = npu_dev_open(cfg, err, sizeof err);
    if (!b->dev)
        fail_msg("npu_dev_open: %s", err);
    for (int i = 0; i < OPB_BUFS; i++) {
        b->size[i] = buf_bytes;
        b->bo[i] = npu_bo_alloc(b->dev, buf_bytes);
        b->host[i] = calloc(1, buf_bytes);
        assert_non_null(b->bo[i]);
        assert_non_null(b->host[i]);
    }
    b->rng.s = 12345;
}

static inline void opb_close(opb *b)
{
    for (int i = 0; i < OPB_BUFS; i++) {
        npu_bo_free(b->bo[i]);
        free(b->host[i]);
    }
    npu_bo_free(b->prog);
    npu_dev_close(b->dev);
    memset(b, 0, sizeof *b);
}

/* Forget every tensor and op (buffers keep their bytes). */
static inline void opb_reset(opb *b)
{
    memset(b->used, 0, sizeof b->used);
    b->nops = 0;
}

static inline uint64_t opb_alloc(opb *b, uint32_t buf, uint64_t bytes)
{
    uint64_t at = b->used[buf];
    b->used[buf] = (at + bytes + OPB_ALIGN - 1) / OPB_ALIGN * OPB_ALIGN;
    if (b->used[buf] > b->size[buf])
        fail_msg("bench buffer %u too small for %llu more bytes", buf, (unsigned long long)bytes);
    return at;
}

static inline uint64_t opb_numel(const npu_tensor_ref *t)
{
    uint64_t n = 1;
    for (uint32_t i = 0; i < t->rank; i++)
        n *= (uint64_t)t->dims[i];
    return n;
}

/* A tensor of rank dims in buffer buf (space allocated, bytes as given or from the shape). */
static inline npu_tensor_ref opb_tensor_bytes(opb *b, uint32_t buf, uint32_t dtype, float scale, uint32_t rank,
                                              const int64_t *dims, uint64_t bytes)
{
    npu_tensor_ref t;
    memset(&t, 0, sizeof t);
    t.buf = buf;
    t.dtype = dtype;
    t.rank = rank;
    t.scales_axis = -1;
    t.scale = scale;
    t.scales_buf = NPU_NO_BUFFER;
    for (uint32_t i = 0; i < rank; i++)
        t.dims[i] = dims[i];
    if (!bytes) {
        uint64_t n = opb_numel(&t);
        bytes = dtype == NPU_DT_I4   ? (n + 1) / 2
                : dtype == NPU_DT_I8 ? n
                : dtype == NPU_DT_I16 || dtype == NPU_DT_F16 ? 2 * n
                                                             : 4 * n;
    }
    t.offset = opb_alloc(b, buf, bytes);
    return t;
}

static inline npu_tensor_ref opb_tensor(opb *b, uint32_t buf, uint32_t dtype, float scale, uint32_t rank,
                                        const int64_t *dims)
{
    return opb_tensor_bytes(b, buf, dtype, scale, rank, dims, 0);
}

/* Random bytes (int8 data: any value) or f32 values uniform in [-range, range]. */
static inline void opb_fill_bytes(opb *b, uint32_t buf, uint64_t off, uint64_t bytes)
{
    for (uint64_t i = 0; i < bytes; i++)
        b->host[buf][off + i] = (uint8_t)test_rng_next(&b->rng);
}

static inline void opb_fill_f32(opb *b, uint32_t buf, uint64_t off, uint64_t n, float lo, float hi)
{
    for (uint64_t i = 0; i < n; i++) {
        float v = lo + (hi - lo) * (float)(test_rng_next(&b->rng) >> 40) / (float)(1ull << 24);
        memcpy(b->host[buf] + off + 4 * i, &v, 4);
    }
}

/* f16 values uniform in [lo, hi] (rounded to binary16). */
static inline void opb_fill_f16(opb *b, uint32_t buf, uint64_t off, uint64_t n, float lo, float hi)
{
    for (uint64_t i = 0; i < n; i++) {
        float v = lo + (hi - lo) * (float)(test_rng_next(&b->rng) >> 40) / (float)(1ull << 24);
        uint16_t h = isa_f32_to_f16_sat(v);
        memcpy(b->host[buf] + off + 2 * i, &h, 2);
    }
}

/* Random contents: f32 and f16 values in [-4, 4], any bytes for the integer types. */
static inline void opb_fill(opb *b, const npu_tensor_ref *t)
{
    uint64_t n = opb_numel(t);
    if (t->dtype == NPU_DT_F32)
        opb_fill_f32(b, t->buf, t->offset, n, -4.0f, 4.0f);
    else if (t->dtype == NPU_DT_F16)
        opb_fill_f16(b, t->buf, t->offset, n, -4.0f, 4.0f);
    else if (t->dtype == NPU_DT_I16)
        opb_fill_bytes(b, t->buf, t->offset, 2 * n);
    else
        opb_fill_bytes(b, t->buf, t->offset, t->dtype == NPU_DT_I4 ? (n + 1) / 2 : n);
}

/* Per-channel scales (f32 in [lo, hi]) for t along axis. */
static inline void opb_scales(opb *b, npu_tensor_ref *t, int32_t axis, uint64_t count, uint32_t buf, float lo,
                              float hi)
{
    t->scales_axis = axis;
    t->scales_buf = buf;
    t->scales_offset = opb_alloc(b, buf, 4 * count);
    opb_fill_f32(b, buf, t->scales_offset, count, lo, hi);
}

static inline npu_op_desc *opb_op(opb *b, uint32_t op, uint32_t n_inputs)
{
    assert_true(b->nops < OPB_MAX_OPS);
    npu_op_desc *d = &b->ops[b->nops++];
    memset(d, 0, sizeof *d);
    d->op = op;
    d->n_inputs = n_inputs;
    for (int i = 0; i < NPU_OP_MAX_INPUTS; i++)
        d->in[i].buf = NPU_NO_BUFFER;
    return d;
}

static inline npu_drv_status opb_run_device_profiled(opb *b, uint32_t flags, npu_op_profile *profile);

/* Run the ops on the device (flags: NPU_JOB_F_TIMING_ONLY or 0); returns the driver status. */
static inline npu_drv_status opb_run_device(opb *b, uint32_t flags) { return opb_run_device_profiled(b, flags, NULL); }

/* The same, with the per-op profile (one record per op) read into profile when it is not NULL. */
static inline npu_drv_status opb_run_device_profiled(opb *b, uint32_t flags, npu_op_profile *profile)
{
    for (int i = 0; i < OPB_BUFS; i++)
        assert_int_equal(npu_bo_write(b->bo[i], 0, b->host[i], b->size[i]), NPU_DRV_OK);
    npu_bo_free(b->prog);
    uint64_t pbytes = b->nops * sizeof(npu_op_desc);
    b->prog = npu_bo_alloc(b->dev, pbytes ? pbytes : 1);
    assert_non_null(b->prog);
    assert_int_equal(npu_bo_write(b->prog, 0, b->ops, pbytes), NPU_DRV_OK);
    npu_job job;
    memset(&job, 0, sizeof job);
    job.type = NPU_JOB_OPS;
    job.flags = flags;
    job.program.bo = b->prog;
    job.program.size = pbytes;
    job.nbufs = OPB_BUFS;
    for (int i = 0; i < OPB_BUFS; i++)
        job.bufs[i].bo = b->bo[i];
    npu_bo *prof = profile ? npu_bo_alloc(b->dev, (b->nops ? b->nops : 1) * sizeof *profile) : NULL;
    assert_true(!profile || prof);
    job.profile.bo = prof;
    npu_counters c0, c1;
    npu_dev_read_counters(b->dev, &c0);
    npu_fence f;
    assert_int_equal(npu_submit(b->dev, &job, &f), NPU_DRV_OK);
    memset(&b->res, 0, sizeof b->res);
    b->st = npu_wait(b->dev, f, OPB_TIMEOUT, &b->res);
    npu_dev_read_counters(b->dev, &c1);
    npu_counters_diff(&c0, &c1, &b->diff);
    if (prof && b->st == NPU_DRV_OK)
        assert_int_equal(npu_bo_read(prof, 0, profile, b->nops * sizeof *profile), NPU_DRV_OK);
    npu_bo_free(prof);
    return b->st;
}

static inline uint64_t opb_cycles(const opb *b) { return b->res.end_cycle - b->res.start_cycle; }

/* Run on the device and with the twin; every byte of every buffer must agree. */
static inline void opb_check(opb *b, const char *what)
{
    if (opb_run_device(b, 0) != NPU_DRV_OK) {
        char log[4096];
        npu_dev_read_log(b->dev, log, sizeof log);
        fail_msg("%s: device run failed: %s\nfirmware log:\n%s", what, npu_dev_error(b->dev), log);
    }
    npu_twin_buf tb[OPB_BUFS];
    for (int i = 0; i < OPB_BUFS; i++) {
        tb[i].data = b->host[i];
        tb[i].size = b->size[i];
    }
    rt_error e;
    memset(&e, 0, sizeof e);
    if (npu_twin_run(b->ops, b->nops, tb, OPB_BUFS, &e) != RT_OK)
        fail_msg("%s: twin failed: %s", what, e.msg);
    uint8_t *dev = malloc(b->size[0]);
    assert_non_null(dev);
    for (int i = 0; i < OPB_BUFS; i++) {
        assert_int_equal(npu_bo_read(b->bo[i], 0, dev, b->size[i]), NPU_DRV_OK);
        if (memcmp(dev, b->host[i], b->size[i]) != 0) {
            uint64_t k = 0;
            while (dev[k] == b->host[i][k])
                k++;
            fail_msg("%s: buffer %d differs first at byte %llu: device 0x%02x, twin 0x%02x", what, i,
                     (unsigned long long)k, dev[k], b->host[i][k]);
        }
    }
    free(dev);
}

#endif
