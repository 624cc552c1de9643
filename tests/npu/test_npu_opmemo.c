/* The simulator's op memo (sim/src/op_memo.cpp) is exact: a timing-only NPU_JOB_OPS job run with
 * the memo on gives the cycles, every counter, the per-op profile, the instruction count and the
 * firmware's per-op log lines (their cycle stamps included) of the same job with the memo off --
 * for matmul, fused attention with a mask, eltwise, conv, norm and softmax ops, each twice in the
 * job at other places in memory (the second a replay), and for the whole job run again (every
 * op a replay). On the test device, on one with on-chip memory where a buffer is split by the
 * boundary (identical ops on either side of it must not share an entry), and on one whose
 * control core runs at a non-whole fraction of the NPU clock (the carried remainder decides an
 * op's span). Also: it is kept across opens with the same configuration only, and RTL tiles
 * and an instruction hook turn it off. */
#include "npu_op_bench.h"

#include "npu_drv_internal.h" /* the device's npu_sim, for its instruction hook */
#include "npu_sim.h"

#define BUF_BYTES (2u << 20)
#define ONCHIP_BYTES (1u << 20) /* half of buffer 1 lies on chip */
#define LOG_BYTES 32768
#define RUNS 2 /* the job, then the same job again */

static opb B;

typedef struct job_run {
    npu_job_result res;
    npu_counters diff;
    npu_op_profile prof[OPB_MAX_OPS];
    char log[LOG_BYTES];
    uint64_t replayed, simulated; /* the op memo's counts over the run */
} job_run;

static npu_tensor_ref act(uint32_t buf, uint32_t dtype, float scale, uint32_t rank, const int64_t *dims)
{
    npu_tensor_ref t = opb_tensor(&B, buf, dtype, scale, rank, dims);
    opb_fill(&B, &t);
    return t;
}

static void add_matmul(uint32_t wbuf)
{
    int64_t ad[2] = {40, 96}, wd[2] = {96, 80}, od[2] = {40, 80};
    npu_op_desc *d = opb_op(&B, NPU_OP_MATMUL, 2);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 2, ad);
    d->in[1] = act(wbuf, NPU_DT_I8, 0.02f, 2, wd);
    d->out = act(3, NPU_DT_I8, 0.3f, 2, od);
    d->iattr[1] = NPU_LAYOUT_ROW_MAJOR;
}

static void add_attention(void)
{
    int64_t qd[3] = {2, 24, 32}, kd[3] = {2, 32, 48}, vd[3] = {2, 48, 32}, md[3] = {1, 24, 48};
    npu_op_desc *d = opb_op(&B, NPU_OP_ATTENTION, 3);
    d->in[0] = act(0, NPU_DT_I8, 0.01f, 3, qd);
    d->in[1] = act(2, NPU_DT_I8, 0.01f, 3, kd);
    d->in[2] = act(2, NPU_DT_I8, 0.02f, 3, vd);
    d->out = act(3, NPU_DT_I8, 0.02f, 3, qd);
    d->iattr[0] = 16; /* key blocks */
    d->iattr[1] = NPU_ATTN_K_TRANSPOSED;
    d->fattr[0] = 0.18f;
    npu_tensor_ref m = act(2, NPU_DT_I8, 0.05f, 3, md);
    d->iattr[2] = NPU_ATTN_MASK_ADD;
    d->iattr[3] = (int32_t)m.buf;
    d->iattr[4] = (int32_t)m.dtype;
    d->fattr[1] = m.scale;
    d->lattr[0] = (int64_t)m.offset;
    d->lattr[1] = 1;
    d->lattr[2] = 2;
}

static void add_binary(void)
{
    int64_t sd[2] = {33, 170};
    npu_op_desc *d = opb_op(&B, NPU_OP_BINARY, 2);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 2, sd);
    d->in[1] = act(2, NPU_DT_F32, 0.0f, 2, sd);
    d->out = act(3, NPU_DT_I8, 0.08f, 2, sd);
    d->iattr[0] = ISA_BINOP_ADD;
}

static void add_conv(void)
{
    int64_t xd[4] = {1, 8, 12, 12}, wd[4] = {16, 8, 3, 3}, od[4] = {1, 16, 10, 10};
    npu_op_desc *d = opb_op(&B, NPU_OP_CONV2D, 2);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 4, xd);
    d->in[1] = act(2, NPU_DT_I8, 0.01f, 4, wd);
    d->out = act(3, NPU_DT_F32, 0.0f, 4, od);
    d->iattr[0] = 1;
    d->iattr[1] = 1;
    d->iattr[6] = NPU_ACT_NONE;
    d->iattr[7] = NPU_LAYOUT_OHWI;
}

static void add_norm(void)
{
    int64_t sd[2] = {20, 300};
    npu_op_desc *d = opb_op(&B, NPU_OP_NORM, 1);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 2, sd);
    d->out = act(3, NPU_DT_I8, 0.04f, 2, sd);
    d->iattr[0] = NPU_NORM_RMS;
    d->fattr[0] = 1e-5f;
}

static void add_softmax(void)
{
    int64_t sd[3] = {2, 17, 100};
    npu_op_desc *d = opb_op(&B, NPU_OP_SOFTMAX, 1);
    d->in[0] = act(0, NPU_DT_I8, 0.08f, 3, sd);
    d->out = act(3, NPU_DT_I8, 1.0f / 128, 3, sd);
}

/* Every kind twice, in that order: the second at other offsets (a replay when the memo is on). */
static void build_kinds(void)
{
    opb_reset(&B);
    for (int rep = 0; rep < 2; rep++) {
        add_matmul(2);
        add_attention();
        add_binary();
        add_conv();
        add_norm();
        add_softmax();
    }
}

/* Buffer 1 reallocated at the top of device memory: its upper half is the on-chip memory. Matmuls
 * whose weights lie off chip, across the boundary, on chip, and off chip again (the same
 * descriptor but for the offset: in a split buffer offsets stay in the key, so none of these four
 * shares an entry), then two in an unsplit buffer (the second a replay). */
static void build_split(void)
{
    opb_reset(&B);
    uint64_t base = npu_dev_onchip_base(B.dev), at = npu_bo_addr(B.bo[1]);
    assert_true(at < base && at + BUF_BYTES > base); /* split at base - at */
    uint64_t split = base - at, weights = 96 * 80;
    B.used[1] = split - 2 * weights;     /* wholly off chip */
    add_matmul(1);
    B.used[1] = split - weights / 2;      /* across the boundary */
    add_matmul(1);
    B.used[1] = split + 4 * weights;      /* wholly on chip */
    add_matmul(1);
    B.used[1] = split - 4 * weights;      /* off chip again */
    add_matmul(1);
    add_matmul(2); /* an unsplit buffer */
    add_matmul(2);
}

static void drain_log(void)
{
    char sink[4096];
    while (npu_dev_read_log(B.dev, sink, sizeof sink) > 0)
        ;
}

static void run_job(job_run *r)
{
    memset(r, 0, sizeof *r);
    drain_log();
    uint64_t rep0, sim0, rep1, sim1;
    npu_drv_op_memo_counts(&rep0, &sim0);
    npu_drv_status st = opb_run_device_profiled(&B, NPU_JOB_F_TIMING_ONLY | NPU_JOB_F_LOG_OPS, r->prof);
    if (st != NPU_DRV_OK)
        fail_msg("job: %s", npu_dev_error(B.dev));
    npu_drv_op_memo_counts(&rep1, &sim1);
    r->replayed = rep1 - rep0;
    r->simulated = sim1 - sim0;
    r->res = B.res;
    r->diff = B.diff;
    size_t n = 0, got;
    while (n + 1 < sizeof r->log && (got = npu_dev_read_log(B.dev, r->log + n, sizeof r->log - n)) > 0)
        n += got;
    assert_true(n + 1 < sizeof r->log); /* the whole log */
}

static void assert_same_run(const job_run *a, const job_run *b, uint32_t nops, const char *what)
{
    if (strcmp(a->log, b->log) != 0)
        fail_msg("%s: the firmware logs differ\n--- memo off:\n%s--- memo on:\n%s", what, a->log, b->log);
    assert_int_equal(a->res.end_cycle - a->res.start_cycle, b->res.end_cycle - b->res.start_cycle);
    assert_memory_equal(&a->res, &b->res, sizeof a->res);
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        for (int c = 0; c < NPU_CTR_COUNT; c++)
            if (a->diff.v[u][c] != b->diff.v[u][c])
                fail_msg("%s: unit %s counter %s: %llu (memo off) != %llu (on)", what, npu_unit_str((uint32_t)u),
                         npu_counter_str((uint32_t)c), (unsigned long long)a->diff.v[u][c],
                         (unsigned long long)b->diff.v[u][c]);
    assert_memory_equal(&a->diff, &b->diff, sizeof a->diff);
    for (uint32_t i = 0; i < nops; i++)
        if (memcmp(&a->prof[i], &b->prof[i], sizeof a->prof[i]) != 0)
            fail_msg("%s: op %u's profile differs: cycles %llu..%llu (memo off), %llu..%llu (on)", what, i,
                     (unsigned long long)a->prof[i].start_cycle, (unsigned long long)a->prof[i].end_cycle,
                     (unsigned long long)b->prof[i].start_cycle, (unsigned long long)b->prof[i].end_cycle);
}

/* The job twice on a fresh device with the memo off, then twice with it on (emptied first);
 * run by run, everything the host sees must be equal. */
static void compare_on_off(const npu_device_config *cfg, int split, void (*build)(void), job_run runs[2][RUNS])
{
    for (int on = 0; on <= 1; on++) {
        npu_drv_set_op_memo(0); /* empties it */
        npu_drv_set_op_memo(on);
        opb_open(&B, cfg, BUF_BYTES);
        if (split) { /* buffer 1 again, from the top of device memory */
            npu_bo_free(B.bo[1]);
            B.bo[1] = npu_bo_alloc_high(B.dev, BUF_BYTES);
            assert_non_null(B.bo[1]);
        }
        build();
        for (int r = 0; r < RUNS; r++)
            run_job(&runs[on][r]);
        opb_close(&B);
    }
    npu_drv_set_op_memo(1);
    if (getenv("OPMEMO_DEBUG"))
        for (int r = 0; r < RUNS; r++)
            fprintf(stderr, "run %d: cycles %llu; memo on: %llu replayed, %llu simulated\n%s", r + 1,
                    (unsigned long long)(runs[1][r].res.end_cycle - runs[1][r].res.start_cycle),
                    (unsigned long long)runs[1][r].replayed, (unsigned long long)runs[1][r].simulated, runs[1][r].log);
    for (int r = 0; r < RUNS; r++) {
        char what[64];
        snprintf(what, sizeof what, "run %d", r + 1);
        assert_same_run(&runs[0][r], &runs[1][r], OPB_MAX_OPS, what);
        assert_int_equal(runs[0][r].replayed + runs[0][r].simulated, 0); /* off: not consulted */
    }
}

static npu_device_config test_config(void)
{
    npu_device_config c;
    npu_config_defaults(&c);
    c.watchdog_cycles = 100000000;
    return c;
}

static void test_every_kind_is_replayed_exactly(void **state)
{
    (void)state;
    npu_device_config c = test_config();
    static job_run runs[2][RUNS];
    compare_on_off(&c, 0, build_kinds, runs);
    const uint32_t nops = 12;
    /* memo on: the first run simulates each kind once and replays its second op, or more (an op
     * repeats when its predecessor left the same state) */
    assert_int_equal(runs[1][0].replayed + runs[1][0].simulated, nops);
    assert_true(runs[1][0].replayed >= 5);
    assert_int_equal(runs[1][1].replayed + runs[1][1].simulated, nops);
    assert_true(runs[1][1].replayed > runs[1][0].replayed);
    assert_true(runs[0][0].res.end_cycle > runs[0][0].res.start_cycle);
}

/* The per-op log reads as it did (a replayed op is logged with its tiling and span). */
static void test_a_replayed_op_is_logged(void **state)
{
    (void)state;
    npu_device_config c = test_config();
    static job_run runs[2][RUNS];
    compare_on_off(&c, 0, build_kinds, runs);
    assert_non_null(strstr(runs[1][1].log, "op 6 matmul"));
    assert_non_null(strstr(runs[1][1].log, "op 7 attention"));
}

static void test_split_buffer_places_are_kept_apart(void **state)
{
    (void)state;
    npu_device_config c = test_config();
    c.dram.onchip_bytes = ONCHIP_BYTES;
    static job_run runs[2][RUNS];
    compare_on_off(&c, 1, build_split, runs);
    /* off chip, across and on chip take three different times */
    const job_run *off = &runs[0][0];
    uint64_t span[6];
    for (int i = 0; i < 6; i++)
        span[i] = off->prof[i].end_cycle - off->prof[i].start_cycle;
    assert_true(span[0] != span[1] && span[1] != span[2] && span[0] != span[2]);
    assert_true(runs[1][0].replayed >= 1);
    assert_int_equal(runs[1][0].replayed + runs[1][0].simulated, 6);
}

static void test_non_whole_clock_ratio(void **state)
{
    (void)state;
    npu_device_config c = test_config();
    c.control.clock_mhz = 300.0; /* 1000 / 300: the control core's cycles carry a remainder */
    static job_run runs[2][RUNS];
    compare_on_off(&c, 0, build_kinds, runs);
    assert_int_equal(runs[1][1].replayed + runs[1][1].simulated, 12);
    assert_true(runs[1][1].replayed > 0);
}

/* With an RTL tile (its cycles are measured) the memo stays out of the way. */
static void test_rtl_tiles_turn_it_off(void **state)
{
    (void)state;
    npu_device_config c = test_config();
    c.matmul.impl = NPU_IMPL_RTL;
    npu_drv_set_op_memo(1);
    opb_open(&B, &c, BUF_BYTES);
    opb_reset(&B);
    add_matmul(2);
    add_matmul(2);
    job_run r;
    run_job(&r);
    run_job(&r);
    assert_int_equal(r.replayed + r.simulated, 0);
    opb_close(&B);
}

/* Kept across opens with a byte-identical configuration (the modules of one what-if), emptied by an
 * open with another one: its remembered spans would be another device's. */
static void test_kept_for_the_same_configuration_only(void **state)
{
    (void)state;
    npu_device_config a = test_config(), b = test_config();
    b.dram.bandwidth_gb_s *= 2;
    npu_drv_set_op_memo(0);
    npu_drv_set_op_memo(1);
    const npu_device_config *order[4] = {&a, &a, &b, &a};
    job_run r[4];
    for (int i = 0; i < 4; i++) {
        opb_open(&B, order[i], BUF_BYTES);
        build_kinds();
        run_job(&r[i]);
        opb_close(&B);
    }
    assert_true(r[0].simulated > 0);
    assert_int_equal(r[1].simulated, 0); /* the same configuration: every op replayed */
    assert_int_equal(r[1].replayed, 12);
    assert_int_equal(r[2].simulated, r[0].simulated); /* another one: simulated afresh */
    assert_true(r[2].res.end_cycle - r[2].res.start_cycle != r[0].res.end_cycle - r[0].res.start_cycle);
    assert_int_equal(r[3].simulated, r[0].simulated); /* and back: emptied meanwhile */
    assert_memory_equal(&r[3].diff, &r[0].diff, sizeof r[0].diff);
}

static void count_insn(void *ctx, const npu_sim_insn_event *ev)
{
    (void)ev;
    (*(uint64_t *)ctx)++;
}

/* With an instruction hook (traces at --level insn) every instruction of every run is reported:
 * nothing is replayed. */
static void test_an_instruction_hook_turns_it_off(void **state)
{
    (void)state;
    npu_device_config c = test_config();
    npu_drv_set_op_memo(1);
    opb_open(&B, &c, BUF_BYTES);
    uint64_t events = 0;
    npu_sim_set_insn_hook(B.dev->sim, count_insn, &events);
    build_kinds();
    job_run r[RUNS];
    uint64_t insns = 0;
    for (int i = 0; i < RUNS; i++) {
        run_job(&r[i]);
        assert_int_equal(r[i].replayed + r[i].simulated, 0);
        insns += r[i].res.insns;
    }
    assert_int_equal(events, insns);
    npu_sim_set_insn_hook(B.dev->sim, NULL, NULL);
    opb_close(&B);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_is_replayed_exactly),
        cmocka_unit_test(test_a_replayed_op_is_logged),
        cmocka_unit_test(test_split_buffer_places_are_kept_apart),
        cmocka_unit_test(test_non_whole_clock_ratio),
        cmocka_unit_test(test_kept_for_the_same_configuration_only),
        cmocka_unit_test(test_rtl_tiles_turn_it_off),
        cmocka_unit_test(test_an_instruction_hook_turns_it_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
