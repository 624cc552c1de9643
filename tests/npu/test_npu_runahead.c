/* The control core's run-ahead (sim/src/device.cpp Device::spend_push, issue 16) is exact for
 * operator jobs too: an NPU_JOB_OPS job's kernels call hal_now (the per-op profile and log stamps)
 * and hal_drain (between ops with npu.overlap off, at fences with it on) between their dispatches,
 * and each of those must first let the simulation catch up with a control core that ran ahead
 * (sim/src/hal_port.cpp). A short job of matmul, attention with a mask, eltwise, softmax and norm
 * ops runs on a fresh device with the run-ahead off and on -- npu.overlap off and on, timing-only
 * and with numerics, to the end and in small host budgets -- with the op memo off (it would skip
 * the dispatches); the two runs must agree on the job's result, every counter of every unit, the
 * per-op profile, the firmware's log (per-op lines with their cycle stamps), the whole
 * instruction event stream (same-cycle ends of different units sorted by unit: SystemC's order,
 * tests/insn_events.h), every byte of every buffer and, in small budgets, every host-visible
 * register after each budget. The run with it on must have run ahead for a share of its
 * dispatches, the run off never. The ISA-program scenarios are in tests/sim/test_sim_runahead.c. */
#include "npu_op_bench.h"

#include "npu_drv_internal.h" /* the device's npu_sim: its instruction hook, npu_sim_run, MMIO */
#include "insn_events.h"
#include "npu_sim.h"

#define BUF_BYTES (1u << 20)
#define LOG_BYTES 32768
#define MAX_CHUNKS 1000000u /* a chunked run that needs more has hung */
#define MIN_AHEAD_SHARE 0.2 /* of the dispatches, with the run-ahead on (measured: see the output) */

/* Budgets (NPU cycles) of the host's npu_sim_run calls, in turn: some smaller than one dispatch. */
static const uint64_t chunk_cycles[] = {7, 13, 29, 101, 512, 1};
#define NCHUNK_SIZES (sizeof chunk_cycles / sizeof chunk_cycles[0])

static opb B;

/* Every host-visible register after one npu_sim_run. */
typedef struct snapshot {
    int run_result;
    uint64_t cycles;
    uint32_t regs[NPU_MMIO_BYTES / 4];
} snapshot;

typedef struct outcome {
    npu_drv_status st;
    npu_job_result res;
    npu_counters ctr;
    npu_op_profile prof[OPB_MAX_OPS];
    char log[LOG_BYTES];
    npu_sim_insn_event *ev;
    size_t nev, capev;
    int hook_oom;
    snapshot *snap;
    size_t nsnap, capsnap;
    uint8_t *bytes[OPB_BUFS]; /* every buffer after the job */
    uint64_t ran_ahead, waited;
} outcome;

/* ---- the job */

static npu_tensor_ref act(uint32_t buf, uint32_t dtype, float scale, uint32_t rank, const int64_t *dims)
{
    npu_tensor_ref t = opb_tensor(&B, buf, dtype, scale, rank, dims);
    opb_fill(&B, &t);
    return t;
}

static void add_matmul(void)
{
    int64_t ad[2] = {40, 96}, wd[2] = {96, 80}, od[2] = {40, 80};
    npu_op_desc *d = opb_op(&B, NPU_OP_MATMUL, 2);
    d->in[0] = act(0, NPU_DT_I8, 0.05f, 2, ad);
    d->in[1] = act(2, NPU_DT_I8, 0.02f, 2, wd);
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

static void add_softmax(void)
{
    int64_t sd[3] = {2, 17, 100};
    npu_op_desc *d = opb_op(&B, NPU_OP_SOFTMAX, 1);
    d->in[0] = act(0, NPU_DT_I8, 0.08f, 3, sd);
    d->out = act(3, NPU_DT_I8, 1.0f / 128, 3, sd);
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

/* Each kind, then the matmul again reading the first one's output (a dependence through DRAM,
 * which npu.overlap fences). */
static void build_job(void)
{
    opb_reset(&B);
    add_matmul();
    add_attention();
    add_binary();
    add_softmax();
    add_norm();
    add_matmul();
    B.ops[B.nops - 1].in[0] = B.ops[0].out;
    B.ops[B.nops - 1].in[0].dims[1] = 96; /* its 40 x 80 bytes read as 40 x 96 (and the next ones') */
}

/* ---- one run */

static void on_insn(void *ctx, const npu_sim_insn_event *ev)
{
    outcome *o = ctx;
    if (insn_events_append(&o->ev, &o->nev, &o->capev, ev) != 0)
        o->hook_oom = 1;
}

static void take_snapshot(outcome *o, int run_result)
{
    if (o->nsnap == o->capsnap) {
        o->capsnap = o->capsnap ? 2 * o->capsnap : 1024;
        o->snap = realloc(o->snap, o->capsnap * sizeof *o->snap);
        assert_non_null(o->snap);
    }
    snapshot *s = &o->snap[o->nsnap++];
    s->run_result = run_result;
    s->cycles = npu_sim_cycles(B.dev->sim);
    for (uint32_t r = 0; r < NPU_MMIO_BYTES / 4; r++)
        s->regs[r] = npu_sim_mmio_read(B.dev->sim, 4 * r);
}

/* The job on a fresh device (overlap as given), the run-ahead on or off; in small budgets of the
 * host (a snapshot after each) until the interrupt when chunked, then npu_wait. */
static void run_job(npu_switch overlap, uint32_t flags, int chunked, int run_ahead, outcome *o)
{
    memset(o, 0, sizeof *o);
    npu_drv_set_op_memo(0);
    npu_drv_set_run_ahead(run_ahead);
    npu_device_config cfg;
    npu_config_defaults(&cfg);
    cfg.overlap = overlap;
    opb_open(&B, &cfg, BUF_BYTES);
    build_job();
    for (int i = 0; i < OPB_BUFS; i++)
        assert_int_equal(npu_bo_write(B.bo[i], 0, B.host[i], B.size[i]), NPU_DRV_OK);
    uint64_t pbytes = B.nops * sizeof(npu_op_desc);
    B.prog = npu_bo_alloc(B.dev, pbytes);
    npu_bo *prof = npu_bo_alloc(B.dev, B.nops * sizeof(npu_op_profile));
    assert_non_null(B.prog);
    assert_non_null(prof);
    assert_int_equal(npu_bo_write(B.prog, 0, B.ops, pbytes), NPU_DRV_OK);
    npu_job job;
    memset(&job, 0, sizeof job);
    job.type = NPU_JOB_OPS;
    job.flags = flags | NPU_JOB_F_LOG_OPS;
    job.program.bo = B.prog;
    job.program.size = pbytes;
    job.nbufs = OPB_BUFS;
    for (int i = 0; i < OPB_BUFS; i++)
        job.bufs[i].bo = B.bo[i];
    job.profile.bo = prof;

    npu_sim_set_insn_hook(B.dev->sim, on_insn, o);
    uint64_t ahead0, waited0, ahead1, waited1;
    npu_drv_run_ahead_counts(&ahead0, &waited0);
    npu_fence f;
    assert_int_equal(npu_submit(B.dev, &job, &f), NPU_DRV_OK);
    for (uint32_t i = 0; chunked; i++) {
        assert_true(i < MAX_CHUNKS);
        int r = npu_sim_run(B.dev->sim, chunk_cycles[i % NCHUNK_SIZES]);
        assert_true(r >= 0);
        take_snapshot(o, r);
        if (r == 1)
            break;
    }
    o->st = npu_wait(B.dev, f, OPB_TIMEOUT, &o->res);
    npu_dev_read_counters(B.dev, &o->ctr);
    npu_drv_run_ahead_counts(&ahead1, &waited1);
    o->ran_ahead = ahead1 - ahead0;
    o->waited = waited1 - waited0;
    npu_sim_set_insn_hook(B.dev->sim, NULL, NULL);
    insn_events_canonical(o->ev, o->nev); /* same-cycle ends of different units: SystemC's order */

    assert_int_equal(npu_bo_read(prof, 0, o->prof, B.nops * sizeof(npu_op_profile)), NPU_DRV_OK);
    size_t n = 0, got;
    while (n + 1 < sizeof o->log && (got = npu_dev_read_log(B.dev, o->log + n, sizeof o->log - n)) > 0)
        n += got;
    assert_true(n + 1 < sizeof o->log); /* the whole log */
    for (int i = 0; i < OPB_BUFS; i++) {
        o->bytes[i] = malloc(B.size[i]);
        assert_non_null(o->bytes[i]);
        assert_int_equal(npu_bo_read(B.bo[i], 0, o->bytes[i], B.size[i]), NPU_DRV_OK);
    }
    npu_bo_free(prof);
    opb_close(&B);
    npu_drv_set_run_ahead(1);
    npu_drv_set_op_memo(1);
    assert_false(o->hook_oom);
}

static void outcome_free(outcome *o)
{
    free(o->ev);
    free(o->snap);
    for (int i = 0; i < OPB_BUFS; i++)
        free(o->bytes[i]);
    memset(o, 0, sizeof *o);
}

/* ---- the comparison */

static void assert_same(const char *name, const outcome *a, const outcome *b, uint32_t nops)
{
    assert_int_equal(a->st, b->st);
    const npu_job_result *x = &a->res, *y = &b->res;
    if (memcmp(x, y, sizeof *x) != 0)
        fail_msg("%s: off: state %u fault %u cycles %llu..%llu insns %llu; on: state %u fault %u cycles %llu..%llu "
                 "insns %llu", name, x->state, x->fault, (unsigned long long)x->start_cycle,
                 (unsigned long long)x->end_cycle, (unsigned long long)x->insns, y->state, y->fault,
                 (unsigned long long)y->start_cycle, (unsigned long long)y->end_cycle, (unsigned long long)y->insns);
    if (strcmp(a->log, b->log) != 0)
        fail_msg("%s: the firmware logs differ\n--- run-ahead off:\n%s--- on:\n%s", name, a->log, b->log);
    for (uint32_t i = 0; i < nops; i++)
        if (memcmp(&a->prof[i], &b->prof[i], sizeof a->prof[i]) != 0)
            fail_msg("%s: op %u's profile differs: cycles %llu..%llu off, %llu..%llu on", name, i,
                     (unsigned long long)a->prof[i].start_cycle, (unsigned long long)a->prof[i].end_cycle,
                     (unsigned long long)b->prof[i].start_cycle, (unsigned long long)b->prof[i].end_cycle);
    assert_int_equal(a->ctr.cycles, b->ctr.cycles);
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        for (int c = 0; c < NPU_CTR_COUNT; c++)
            if (a->ctr.v[u][c] != b->ctr.v[u][c])
                fail_msg("%s: %s %s is %llu off, %llu on", name, npu_unit_str((uint32_t)u), npu_counter_str((uint32_t)c),
                         (unsigned long long)a->ctr.v[u][c], (unsigned long long)b->ctr.v[u][c]);
    size_t n = a->nev < b->nev ? a->nev : b->nev;
    for (size_t i = 0; i < n; i++) {
        const npu_sim_insn_event *p = &a->ev[i], *q = &b->ev[i];
        if (memcmp(p, q, sizeof *p) != 0)
            fail_msg("%s: instruction event %zu: off: %s insn %u op %u cycles %llu..%llu; on: %s insn %u op %u "
                     "cycles %llu..%llu", name, i, npu_unit_str(p->unit), p->index, p->op,
                     (unsigned long long)p->issue_cycle, (unsigned long long)p->end_cycle, npu_unit_str(q->unit),
                     q->index, q->op, (unsigned long long)q->issue_cycle, (unsigned long long)q->end_cycle);
    }
    if (a->nev != b->nev)
        fail_msg("%s: %zu instruction events off, %zu on", name, a->nev, b->nev);
    n = a->nsnap < b->nsnap ? a->nsnap : b->nsnap;
    for (size_t i = 0; i < n; i++) {
        const snapshot *p = &a->snap[i], *q = &b->snap[i];
        if (p->run_result != q->run_result || p->cycles != q->cycles)
            fail_msg("%s: after budget %zu: npu_sim_run %d at cycle %llu off, %d at cycle %llu on", name, i,
                     p->run_result, (unsigned long long)p->cycles, q->run_result, (unsigned long long)q->cycles);
        for (uint32_t r = 0; r < NPU_MMIO_BYTES / 4; r++)
            if (p->regs[r] != q->regs[r])
                fail_msg("%s: after budget %zu (cycle %llu): register 0x%03x is 0x%x off, 0x%x on", name, i,
                         (unsigned long long)p->cycles, 4 * r, p->regs[r], q->regs[r]);
    }
    if (a->nsnap != b->nsnap)
        fail_msg("%s: %zu budgets off, %zu on", name, a->nsnap, b->nsnap);
    for (int i = 0; i < OPB_BUFS; i++)
        if (memcmp(a->bytes[i], b->bytes[i], BUF_BYTES) != 0)
            fail_msg("%s: buffer %d's bytes differ", name, i);
}

/* The job with the run-ahead off, then on: everything equal, and only the run with it on ran
 * ahead (for at least MIN_AHEAD_SHARE of its dispatches). */
static void check(const char *name, npu_switch overlap, uint32_t flags, int chunked)
{
    static outcome off, on;
    run_job(overlap, flags, chunked, 0, &off);
    run_job(overlap, flags, chunked, 1, &on);
    uint64_t dispatches = on.ran_ahead + on.waited;
    print_message("%-36s %6zu events, %6zu budgets, %8llu cycles, %6llu dispatches, %5.1f%% ran ahead\n", name,
                  on.nev, on.nsnap, (unsigned long long)(on.res.end_cycle - on.res.start_cycle),
                  (unsigned long long)dispatches, dispatches ? 100.0 * (double)on.ran_ahead / (double)dispatches : 0.0);
    if (off.st != NPU_DRV_OK)
        fail_msg("%s: the job failed: state %u fault %u\n%s", name, off.res.state, off.res.fault, off.log);
    const uint32_t nops = 6;
    assert_same(name, &off, &on, nops);
    /* not vacuous: every op ran and logged, both dispatched as often, only the run on ran ahead */
    assert_true(off.nev > 0);
    for (uint32_t i = 0; i < nops; i++)
        assert_true(off.prof[i].end_cycle > off.prof[i].start_cycle);
    assert_non_null(strstr(off.log, "op 5 matmul"));
    assert_int_equal(off.ran_ahead, 0);
    assert_int_equal(off.waited, dispatches);
    if ((double)on.ran_ahead < MIN_AHEAD_SHARE * (double)dispatches)
        fail_msg("%s: only %llu of %llu dispatches ran ahead (want at least %.0f%%)", name,
                 (unsigned long long)on.ran_ahead, (unsigned long long)dispatches, 100.0 * MIN_AHEAD_SHARE);
    outcome_free(&off);
    outcome_free(&on);
}

static void test_overlap_off(void **state)
{
    (void)state;
    check("ops, overlap off, timing-only", NPU_OFF, NPU_JOB_F_TIMING_ONLY, 0);
    check("ops, overlap off, numerics", NPU_OFF, 0, 0);
    check("ops, overlap off, small budgets", NPU_OFF, NPU_JOB_F_TIMING_ONLY, 1);
}

static void test_overlap_on(void **state)
{
    (void)state;
    check("ops, overlap on, timing-only", NPU_ON, NPU_JOB_F_TIMING_ONLY, 0);
    check("ops, overlap on, numerics", NPU_ON, 0, 0);
    check("ops, overlap on, small budgets", NPU_ON, NPU_JOB_F_TIMING_ONLY, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlap_off),
        cmocka_unit_test(test_overlap_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
