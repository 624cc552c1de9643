/* The firmware's per-op profile (ABI 1.4) and per-op log lines: the spans of a job's op
 * descriptors follow one another, and with the job's own firmware work they make up the job's
 * cycles; every MAC, DRAM and SRAM byte and dispatched instruction of the job is in exactly one
 * op's counters; a profile changes no cycle and no counter; the log says per op which kernel, how
 * it is tiled and how many cycles it took, at most NPU_LOG_OPS_PER_JOB lines per job; the driver
 * refuses a profile too small for the job's ops. */
#include "npu_op_bench.h"

#include "isa.h"

#define BUF_BYTES (256u * 1024u)
#define LOG_BYTES (64u * 1024u)

static opb B;

static int setup(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    opb_open(&B, &c, BUF_BYTES);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    opb_close(&B);
    return 0;
}

/* matmul -> gelu -> softmax, as one job of three descriptors */
static void three_ops(void)
{
    opb_reset(&B);
    int64_t xd[2] = {20, 48}, wd[2] = {48, 40}, hd[2] = {20, 40};
    npu_tensor_ref x = opb_tensor(&B, 0, NPU_DT_I8, 0.05f, 2, xd), w = opb_tensor(&B, 1, NPU_DT_I8, 0.01f, 2, wd);
    npu_tensor_ref h = opb_tensor(&B, 0, NPU_DT_I8, 0.4f, 2, hd), g = opb_tensor(&B, 0, NPU_DT_I8, 0.4f, 2, hd);
    npu_tensor_ref s = opb_tensor(&B, 2, NPU_DT_I8, 1.0f / 128.0f, 2, hd);
    opb_fill(&B, &x);
    opb_fill(&B, &w);
    npu_op_desc *d = opb_op(&B, NPU_OP_MATMUL, 2);
    d->in[0] = x;
    d->in[1] = w;
    d->out = h;
    d = opb_op(&B, NPU_OP_UNARY, 1);
    d->in[0] = h;
    d->out = g;
    d->iattr[0] = ISA_UNOP_GELU;
    d = opb_op(&B, NPU_OP_SOFTMAX, 1);
    d->in[0] = g;
    d->out = s;
}

/* Run ops[0..nops-1] on B's buffers with a profile of `records` records (0: none) and the flags. */
static npu_drv_status run_ops(const npu_op_desc *ops, uint32_t nops, uint32_t flags, uint32_t records,
                              npu_op_profile *out)
{
    uint64_t pbytes = nops * sizeof(npu_op_desc);
    npu_bo_free(B.prog);
    B.prog = npu_bo_alloc(B.dev, pbytes);
    assert_non_null(B.prog);
    assert_int_equal(npu_bo_write(B.prog, 0, ops, pbytes), NPU_DRV_OK);
    for (int i = 0; i < OPB_BUFS; i++)
        assert_int_equal(npu_bo_write(B.bo[i], 0, B.host[i], B.size[i]), NPU_DRV_OK);
    npu_bo *prof = records ? npu_bo_alloc(B.dev, records * sizeof(npu_op_profile)) : NULL;
    npu_job job;
    memset(&job, 0, sizeof job);
    job.type = NPU_JOB_OPS;
    job.flags = flags;
    job.program.bo = B.prog;
    job.nbufs = OPB_BUFS;
    for (int i = 0; i < OPB_BUFS; i++)
        job.bufs[i].bo = B.bo[i];
    job.profile.bo = prof;
    npu_counters c0, c1;
    npu_dev_read_counters(B.dev, &c0);
    npu_fence f;
    npu_drv_status st = npu_submit(B.dev, &job, &f);
    if (st == NPU_DRV_OK) {
        memset(&B.res, 0, sizeof B.res);
        st = npu_wait(B.dev, f, OPB_TIMEOUT, &B.res);
        npu_dev_read_counters(B.dev, &c1);
        npu_counters_diff(&c0, &c1, &B.diff);
        if (st == NPU_DRV_OK && prof)
            assert_int_equal(npu_bo_read(prof, 0, out, records * sizeof *out), NPU_DRV_OK);
    }
    npu_bo_free(prof);
    return st;
}

static npu_drv_status run_profiled(uint32_t flags, uint32_t records, npu_op_profile *out)
{
    return run_ops(B.ops, B.nops, flags, records, out);
}

static void test_spans_and_counters_make_up_the_job(void **state)
{
    (void)state;
    three_ops();
    npu_op_profile p[3];
    char log[LOG_BYTES];
    npu_dev_read_log(B.dev, log, sizeof log); /* drain */
    assert_int_equal(run_profiled(NPU_JOB_F_TIMING_ONLY, 3, p), NPU_DRV_OK);
    uint64_t job = opb_cycles(&B), spans = 0;
    assert_true(p[0].start_cycle > B.res.start_cycle); /* the firmware fetched and checked the job first */
    for (int i = 0; i < 3; i++) {
        assert_true(p[i].end_cycle > p[i].start_cycle);
        if (i)
            assert_int_equal(p[i].start_cycle, p[i - 1].end_cycle); /* one after the other */
        spans += p[i].end_cycle - p[i].start_cycle;
    }
    assert_true(p[2].end_cycle <= B.res.end_cycle);
    assert_true(spans < job && job - spans < job / 10); /* the job's own work is small */
    /* the snapshots are of one instant each: every unit's idle, busy and stalled cycles over an
     * op make up its span exactly */
    for (int i = 0; i < 3; i++)
        for (int u = 0; u < NPU_UNIT_COUNT; u++)
            assert_int_equal(p[i].ctr[u][NPU_CTR_IDLE] + p[i].ctr[u][NPU_CTR_BUSY] + p[i].ctr[u][NPU_CTR_STALL],
                             p[i].end_cycle - p[i].start_cycle);
    /* everything the units did happened inside an op: the counters add up exactly */
    static const int inside[] = {NPU_CTR_BUSY, NPU_CTR_STALL, NPU_CTR_MACS, NPU_CTR_ELEMS, NPU_CTR_DRAM_RD,
                                 NPU_CTR_DRAM_WR, NPU_CTR_SRAM_RD, NPU_CTR_SRAM_WR, NPU_CTR_INSNS};
    for (int u = 0; u < NPU_UNIT_CTRL; u++)
        for (size_t k = 0; k < sizeof inside / sizeof inside[0]; k++) {
            uint64_t sum = 0;
            for (int i = 0; i < 3; i++)
                sum += p[i].ctr[u][inside[k]];
            assert_int_equal(sum, B.diff.v[u][inside[k]]);
        }
    /* the control core dispatched every instruction inside an op; its busy time outside them is
     * the job's own fetch, check and completion */
    uint64_t insns = 0, ctrl_busy = 0;
    for (int i = 0; i < 3; i++) {
        insns += p[i].ctr[NPU_UNIT_CTRL][NPU_CTR_INSNS];
        ctrl_busy += p[i].ctr[NPU_UNIT_CTRL][NPU_CTR_BUSY];
    }
    assert_int_equal(insns, B.res.insns);
    assert_true(ctrl_busy < B.diff.v[NPU_UNIT_CTRL][NPU_CTR_BUSY]);
    /* what each op is: the matmul has the MACs, the softmax the softmax tile */
    assert_true(p[0].ctr[NPU_UNIT_MM][NPU_CTR_MACS] == (uint64_t)20 * 48 * 40);
    assert_int_equal(p[1].ctr[NPU_UNIT_MM][NPU_CTR_MACS], 0);
    assert_true(p[2].ctr[NPU_UNIT_SM][NPU_CTR_BUSY] > 0 && p[1].ctr[NPU_UNIT_SM][NPU_CTR_BUSY] == 0);
    /* without the log flag the firmware logs no op line */
    npu_dev_read_log(B.dev, log, sizeof log);
    assert_null(strstr(log, "op 0 matmul"));
}

static void test_a_profile_changes_no_cycle(void **state)
{
    (void)state;
    three_ops();
    npu_op_profile p[3];
    assert_int_equal(run_profiled(0, 0, NULL), NPU_DRV_OK);
    uint64_t plain = opb_cycles(&B);
    npu_counters plain_ctr = B.diff;
    assert_int_equal(run_profiled(NPU_JOB_F_LOG_OPS, 3, p), NPU_DRV_OK);
    assert_int_equal(opb_cycles(&B), plain);
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        for (int k = 0; k < NPU_CTR_COUNT; k++)
            if (k != NPU_CTR_IDLE && k != NPU_CTR_JOBS)
                assert_int_equal(B.diff.v[u][k], plain_ctr.v[u][k]);
}

static void test_the_log_says_kernel_tiling_and_cycles_per_op(void **state)
{
    (void)state;
    three_ops();
    npu_op_profile p[3];
    char log[LOG_BYTES], want[96];
    npu_dev_read_log(B.dev, log, sizeof log);
    assert_int_equal(run_profiled(NPU_JOB_F_LOG_OPS, 3, p), NPU_DRV_OK);
    npu_dev_read_log(B.dev, log, sizeof log);
    static const char *const kernels[] = {"matmul", "unary", "softmax"};
    for (int i = 0; i < 3; i++) {
        snprintf(want, sizeof want, "op %d %s (", i, kernels[i]);
        if (!strstr(log, want))
            fail_msg("no '%s' in the log:\n%s", want, log);
        snprintf(want, sizeof want, "): %llu cycles,", (unsigned long long)(p[i].end_cycle - p[i].start_cycle));
        if (!strstr(log, want))
            fail_msg("op %d's cycles ('%s') are not in the log:\n%s", i, want, log);
    }
    assert_non_null(strstr(log, "output-stationary, 20x48 x 48x40 int8")); /* the matmul's tiling */
    assert_non_null(strstr(log, "20 rows of 40"));                          /* the softmax's */
    /* bounded: beyond NPU_LOG_OPS_PER_JOB ops a job logs one line for the rest */
    enum { MANY = NPU_LOG_OPS_PER_JOB + 6 };
    static npu_op_desc ops[MANY];
    static npu_op_profile many[MANY];
    opb_reset(&B);
    int64_t d[2] = {4, 16};
    npu_tensor_ref a = opb_tensor(&B, 0, NPU_DT_I8, 0.1f, 2, d), b = opb_tensor(&B, 1, NPU_DT_I8, 0.1f, 2, d);
    npu_op_desc *u = opb_op(&B, NPU_OP_UNARY, 1);
    u->iattr[0] = ISA_UNOP_NEG;
    for (int i = 0; i < MANY; i++) {
        ops[i] = *u;
        ops[i].in[0] = i % 2 ? b : a;
        ops[i].out = i % 2 ? a : b;
    }
    assert_int_equal(run_ops(ops, MANY, NPU_JOB_F_LOG_OPS, MANY, many), NPU_DRV_OK);
    npu_dev_read_log(B.dev, log, sizeof log);
    int lines = 0;
    for (const char *q = log; (q = strstr(q, " unary (")); q++)
        lines++;
    assert_int_equal(lines, NPU_LOG_OPS_PER_JOB);
    snprintf(want, sizeof want, "6 more ops not logged (at most %d per job)", NPU_LOG_OPS_PER_JOB);
    if (!strstr(log, want))
        fail_msg("no '%s' in the log:\n%s", want, log);
    assert_true(many[MANY - 1].end_cycle > many[MANY - 1].start_cycle); /* the profile has every op */
}

static void test_a_profile_too_small_is_refused(void **state)
{
    (void)state;
    three_ops();
    npu_op_profile p[2];
    assert_int_equal(run_profiled(0, 2, p), NPU_DRV_E_BOUNDS);
    assert_non_null(strstr(npu_dev_error(B.dev), "the profile holds"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_and_counters_make_up_the_job),
        cmocka_unit_test(test_a_profile_changes_no_cycle),
        cmocka_unit_test(test_the_log_says_kernel_tiling_and_cycles_per_op),
        cmocka_unit_test(test_a_profile_too_small_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
