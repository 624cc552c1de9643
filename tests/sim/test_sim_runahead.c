/* The control core's run-ahead (sim/src/device.cpp Device::spend_push, issue 16) is exact: every
 * scenario below runs twice on a fresh device each time (npu_dev_open resets the cycle count, so
 * absolute cycles compare), once with the run-ahead off and once on (npu_drv_set_run_ahead), and
 * the two runs must agree on the jobs' results (start and end cycle, instructions, state, fault
 * fields), every perf counter of every unit read after the run (idle included: both runs are
 * driven by the same host loop, so its granularity is the same), the whole instruction event
 * stream of the device's hook (every field of every event, in order; instructions that end in
 * the same cycle on different units are compared sorted by unit, tests/insn_events.h, because
 * SystemC releases same-time timers in an order that depends on its event queue's history,
 * which the skipped waits change), the output bytes, and --
 * where the host drives the device in small budgets -- every host-visible register (the whole
 * MMIO window: cycle counter, status, queue registers, unit states, every perf counter) after
 * every npu_sim_run. The run with it on must have run ahead for a share of its dispatches and the
 * run with it off never, with the same number of dispatches, so the test cannot pass vacuously.
 *
 * Scenarios: a long double-buffered program on every unit (timing-only and with numerics), the
 * control core slower than the units (pushes to idle units), queue depth 1 (the full-queue path),
 * a non-whole NPU/control clock ratio (the carried remainder), the host running the device in
 * small budgets (the bound of the host's run), a host reset in the middle then a fresh job, the
 * watchdog on a deadlock, two jobs queued back to back with no per-job firmware cost (the
 * host reads the counters at the first job's interrupt), a unit's fault in the middle of the
 * job (the firmware rejects an out-of-bounds DMA before the job starts, so the program rewrites
 * one of its own instructions after validation), and deep queues over a sweep of dispatch costs
 * (units ending in the same cycle: their events' order). Numbered as in issue 16's list. The operator
 * jobs' HAL calls between dispatches (hal_now, hal_drain) are in tests/npu/test_npu_runahead.c. */
#include "npu_test.h"

#include "npu_drv_internal.h" /* the device's npu_sim: its instruction hook, npu_sim_run, MMIO */
#include "insn_events.h"
#include "npu_sim.h"

/* The pipeline's tile: T x K int8 A times K x T int8 B, softmax and vector work on the T x T
 * product, a T x T f32 result; tile i reads A and B at i * TILE_IN_BYTES of buffers 0 and 1 and
 * stores its result at i * TILE_OUT_BYTES of buffer 2, so every block's output is kept. */
#define TILE 16u
#define DEPTH 64u
#define TILE_IN_BYTES (TILE * DEPTH)
#define TILE_OUT_BYTES (4u * TILE * TILE)
#define ALIGN_BYTES 64u
#define LONG_BLOCKS 30u   /* the long program: 30 blocks of 17 instructions */
#define SHORT_BLOCKS 6u
#define PROGRAM_CHARS 65536u

#define SLOW_CONTROL_CYCLES_PER_INSN 200u /* 400 NPU cycles per dispatch: units mostly idle */
#define ODD_NPU_MHZ 1000.0
#define ODD_CONTROL_MHZ 300.0             /* 33 1/3 NPU cycles per dispatch of 10 control cycles */
#define FAST_CONTROL_CYCLES_PER_INSN 1u   /* 2 NPU cycles per dispatch: small budgets still fit some */
#define DEADLOCK_WATCHDOG_CYCLES 5000u
#define MAX_CHUNKS 100000u                /* a chunked run that needs more has hung */
#define RESET_AFTER_CHUNKS 40u            /* the host resets the device after this many budgets */

/* The self-rewriting program (scenario 6): the word of FAULT_WORD_SRC waits at FAULT_WORD_OFFSET
 * of buffer 1 (beyond the pipeline's inputs); the program loads it to FAULT_WORD_SRAM (beyond the
 * pipeline's two slots) and stores it over a nop REWRITTEN_AFTER_BLOCKS blocks into its pipeline,
 * after that block's loads, while the other units still work on the blocks before. */
#define FAULT_WORD_SRC "dma.ld 0, 0, 0x0, 0xff00, 2, 512, 512, 512\n" /* row 0 ends past buffer 0's 64 KiB */
#define FAULT_WORD_OFFSET 0xf000u
#define FAULT_WORD_SRAM 0x8000u
#define REWRITE_PREAMBLE_INSNS 4u  /* load the word, barrier, store it over the nop, barrier */
#define PIPELINE_PREAMBLE_INSNS 3u /* two signals and mm.cfg */
#define PIPELINE_BLOCK_INSNS 17u
#define PIPELINE_LOADS_INSNS 4u    /* of a block: the wait, two loads and the signal */
#define REWRITTEN_AFTER_BLOCKS 10u

/* Scenario 10: deep queues (many dispatches ahead of the units) over a sweep of dispatch costs. */
#define TIE_BLOCKS 4u               /* the smallest pipeline found that shows the difference */
#define TIE_QUEUE_DEPTH 7u
#define TIE_CYCLES_PER_INSN 27u     /* mm insn 59 and sm insn 45 both end at cycle 4250 */
#define SWEEP_CYCLES_PER_INSN_MAX 40u
static const uint32_t sweep_queue_depths[] = {2, 7, 16};
#define NSWEEP_DEPTHS (sizeof sweep_queue_depths / sizeof sweep_queue_depths[0])

/* Budgets (NPU cycles) of the host's npu_sim_run calls, in turn: some smaller than one dispatch. */
static const uint64_t chunk_cycles[] = {7, 13, 29, 101, 512, 1};
#define NCHUNK_SIZES (sizeof chunk_cycles / sizeof chunk_cycles[0])

/* ---- programs */

static size_t align_up(size_t x) { return (x + ALIGN_BYTES - 1) / ALIGN_BYTES * ALIGN_BYTES; }

/* SRAM layout of one slot: A, B, the int8 product, the probabilities, the f32 result. */
#define SLOT_A 0u
#define SLOT_B (SLOT_A + TILE_IN_BYTES)
#define SLOT_C (SLOT_B + TILE_IN_BYTES)
#define SLOT_P (SLOT_C + TILE * TILE)
#define SLOT_F (SLOT_P + TILE * TILE)
#define SLOT_BYTES (SLOT_F + TILE_OUT_BYTES)

/* A double-buffered pipeline over `blocks` tiles on every unit, like `m4npu bench`'s program
 * (analysis/cli/cmd_bench.c): SRAM slot s = i % 2; dma0 loads tile i while the matmul, softmax
 * and vector units work on the tile before and dma1 stores the one before that. Semaphores: s
 * loaded (dma0 -> mm), 2 + s slot free (dma1 -> dma0), 4 + s product (mm -> sm), 6 + s
 * probabilities (sm -> vec), 8 + s result (vec -> dma1). */
static void pipeline(char *src, size_t cap, uint32_t blocks)
{
    size_t n = (size_t)snprintf(src, cap, "signal dma1, 2\nsignal dma1, 3\nmm.cfg 0, 1, 8\n");
    for (uint32_t i = 0; i < blocks; i++) {
        unsigned s = i % 2, base = (unsigned)align_up(SLOT_BYTES) * s;
        unsigned a = base + SLOT_A, b = base + SLOT_B, c = base + SLOT_C, p = base + SLOT_P, f = base + SLOT_F;
        n += (size_t)snprintf(src + n, cap - n,
                              "wait dma0, %u\n"
                              "dma.ld 0, 0, 0x%x, %u, %u, %u, %u, %u\n"
                              "dma.ld 0, 1, 0x%x, %u, %u, %u, %u, %u\n"
                              "signal dma0, %u\n"
                              "wait mm, %u\n"
                              "mm os, set, i8, nobias, rq, %u, %u, %u, 0x%x, 0x%x, 0x%x, i8, i8\n"
                              "signal mm, %u\n"
                              "wait sm, %u\n"
                              "sm nomask, 0x%x, 0x%x, %u, %u, 1000, 0\n"
                              "signal sm, %u\n"
                              "wait vec, %u\n"
                              "v.dequant i8, 0x%x, 0x%x, %u, 0.0078125\n"
                              "v.un gelu, f32, 0x%x, 0x%x, %u, %u, 0.0\n"
                              "signal vec, %u\n"
                              "wait dma1, %u\n"
                              "dma.st 1, 2, 0x%x, %u, %u, %u, %u, %u\n"
                              "signal dma1, %u\n",
                              2 + s,                                                  /* slot free */
                              a, i * TILE_IN_BYTES, TILE, DEPTH, DEPTH, DEPTH,        /* A */
                              b, i * TILE_IN_BYTES, DEPTH, TILE, TILE, TILE,          /* B */
                              s, s, TILE, TILE, DEPTH, a, b, c, 4 + s,                /* matmul */
                              4 + s, c, p, TILE, TILE, 6 + s,                         /* softmax */
                              6 + s, f, p, TILE * TILE, f, f, TILE, TILE, 8 + s,      /* vector */
                              8 + s, f, i * TILE_OUT_BYTES, TILE, 4 * TILE, 4 * TILE, 4 * TILE, /* store */
                              2 + s);
        assert_true(n < cap);
    }
    n += (size_t)snprintf(src + n, cap - n, "end\n");
    assert_true(n < cap);
}

/* A short pipeline, then the matmul waits on a semaphore nobody signals, with more matmuls queued
 * behind the wait than its queue holds (the control core then blocks on a full queue). */
static void deadlock(char *src, size_t cap)
{
    pipeline(src, cap, SHORT_BLOCKS);
    size_t n = strlen(src) - strlen("end\n");
    n += (size_t)snprintf(src + n, cap - n, "wait mm, 12\n");
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(src + n, cap - n, "mm os, set, i8, nobias, rq, 16, 16, 64, 0x0, 0x400, 0x800, i8, i8\n");
    n += (size_t)snprintf(src + n, cap - n, "end\n");
    assert_true(n < cap);
}

/* The long pipeline behind a preamble that rewrites a nop inserted into it (after the loads of
 * block REWRITTEN_AFTER_BLOCKS) with FAULT_WORD_SRC: validation saw the nop, dispatch sends the
 * out-of-bounds load to dma0, whose engine faults in the middle of the job. Buffer 3 is the
 * program. Returns the index of the rewritten instruction. */
static uint32_t self_rewriting(char *src, size_t cap)
{
    static char body[PROGRAM_CHARS];
    pipeline(body, sizeof body, LONG_BLOCKS);
    const uint32_t lines_before = PIPELINE_PREAMBLE_INSNS + REWRITTEN_AFTER_BLOCKS * PIPELINE_BLOCK_INSNS +
                                  PIPELINE_LOADS_INSNS;
    const char *cut = body;
    for (uint32_t l = 0; l < lines_before; l++) {
        cut = strchr(cut, '\n');
        assert_non_null(cut);
        cut++;
    }
    const uint32_t nop = REWRITE_PREAMBLE_INSNS + lines_before;
    int n = snprintf(src, cap,
                     "dma.ld 0, 1, 0x%x, 0x%x, 1, %u, %u, %u\n"
                     "barrier\n"
                     "dma.st 1, 3, 0x%x, 0x%x, 1, %u, %u, %u\n"
                     "barrier\n"
                     "%.*s"
                     "nop\n"
                     "%s",
                     FAULT_WORD_SRAM, FAULT_WORD_OFFSET, ISA_INSN_BYTES, ISA_INSN_BYTES, ISA_INSN_BYTES,
                     FAULT_WORD_SRAM, nop * ISA_INSN_BYTES, ISA_INSN_BYTES, ISA_INSN_BYTES, ISA_INSN_BYTES,
                     (int)(cut - body), body, cut);
    assert_true(n > 0 && (size_t)n < cap);
    return nop;
}

/* ---- one run */

typedef enum drive {
    DRIVE_WAIT,        /* npu_wait: the driver runs the device with the rest of its timeout */
    DRIVE_CHUNKS,      /* npu_sim_run in the budgets of chunk_cycles until the interrupt */
    DRIVE_CHUNKS_RESET, /* the same, but the host resets after RESET_AFTER_CHUNKS, then runs the second job */
    DRIVE_TWO_JOBS,    /* both jobs queued at once; the counters read at each one's completion */
} drive;

typedef struct scenario {
    const char *name;
    npu_device_config cfg;
    const char *src, *second_src; /* the job; the job after it (DRIVE_CHUNKS_RESET, DRIVE_TWO_JOBS) */
    uint32_t flags;
    drive how;
    npu_drv_status want; /* the first job's status */
    uint32_t out_bytes;  /* of buffer 2 compared (0: timing-only) */
    int program_is_buffer3; /* the job's buffer 3 is its own program (it may rewrite itself) */
    uint32_t want_fault, want_fault_unit, want_fault_insn; /* the first job's, if want_fault */
    double min_ahead_share; /* of the dispatches, with the run-ahead on */
} scenario;

/* Every host-visible register after one npu_sim_run. */
typedef struct snapshot {
    int run_result;
    uint64_t cycles;
    uint32_t regs[NPU_MMIO_BYTES / 4];
} snapshot;

typedef struct outcome {
    npu_drv_status st[2];
    npu_job_result res[2];
    npu_counters ctr[2]; /* after each job */
    npu_sim_insn_event *ev;
    size_t nev, capev;
    int hook_oom;
    snapshot *snap;
    size_t nsnap, capsnap;
    uint8_t out[LONG_BLOCKS * TILE_OUT_BYTES];
    uint64_t ran_ahead, waited;
} outcome;

static void on_insn(void *ctx, const npu_sim_insn_event *ev)
{
    outcome *o = ctx;
    if (insn_events_append(&o->ev, &o->nev, &o->capev, ev) != 0)
        o->hook_oom = 1;
}

static void take_snapshot(npu_test *t, outcome *o, int run_result)
{
    if (o->nsnap == o->capsnap) {
        o->capsnap = o->capsnap ? 2 * o->capsnap : 256;
        o->snap = realloc(o->snap, o->capsnap * sizeof *o->snap);
        assert_non_null(o->snap);
    }
    snapshot *s = &o->snap[o->nsnap++];
    s->run_result = run_result;
    s->cycles = npu_sim_cycles(t->dev->sim);
    for (uint32_t r = 0; r < NPU_MMIO_BYTES / 4; r++)
        s->regs[r] = npu_sim_mmio_read(t->dev->sim, 4 * r);
}

/* Run the device in the budgets of chunk_cycles, a snapshot after each, until the interrupt (or,
 * with stop_after, after that many budgets). Returns the number of budgets run. */
static uint32_t run_chunks(npu_test *t, outcome *o, uint32_t stop_after)
{
    for (uint32_t i = 0;; i++) {
        if (stop_after && i == stop_after)
            return i;
        assert_true(i < MAX_CHUNKS);
        int r = npu_sim_run(t->dev->sim, chunk_cycles[i % NCHUNK_SIZES]);
        assert_true(r >= 0);
        take_snapshot(t, o, r);
        if (r == 1)
            return i + 1;
    }
}

static void fill_inputs(npu_test *t)
{
    static uint8_t in[2 * NPU_TEST_BUF_BYTES];
    test_rng rng = {16};
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)test_rng_next(&rng);
    assert_int_equal(npu_bo_write(t->data, 0, in, sizeof in), NPU_DRV_OK);
    static const uint8_t zeros[NPU_TEST_BUF_BYTES];
    assert_int_equal(npu_bo_write(t->data, 2 * NPU_TEST_BUF_BYTES, zeros, sizeof zeros), NPU_DRV_OK);
}

/* Submit src like npu_test_submit, but with the program itself as buffer 3 (buffers 0..2 as there):
 * the program's DMA stores into buffer 3 rewrite its own instructions. */
static npu_fence submit_self_rewriting(npu_test *t, const char *src, uint32_t flags)
{
    isa_asm_result r;
    if (isa_assemble(src, strlen(src), "rewrite.s", &r) != ISA_OK)
        fail_msg("test program does not assemble: %s", r.diagnostics);
    npu_bo_free(t->prog);
    t->prog = npu_bo_alloc(t->dev, r.size);
    assert_non_null(t->prog);
    assert_int_equal(npu_bo_write(t->prog, 0, r.bytes, r.size), NPU_DRV_OK);
    npu_job job;
    memset(&job, 0, sizeof job);
    job.type = NPU_JOB_ISA;
    job.flags = flags;
    job.program.bo = t->prog;
    job.nbufs = NPU_TEST_BUFS;
    for (uint32_t i = 0; i < NPU_TEST_BUFS - 1; i++)
        job.bufs[i] = (npu_buf_ref){t->data, i * NPU_TEST_BUF_BYTES, NPU_TEST_BUF_BYTES};
    job.bufs[NPU_TEST_BUFS - 1] = (npu_buf_ref){t->prog, 0, r.size};
    isa_asm_result_free(&r);
    npu_fence f;
    assert_int_equal(npu_submit(t->dev, &job, &f), NPU_DRV_OK);
    return f;
}

static npu_drv_status wait_job(npu_test *t, npu_fence f, npu_job_result *res)
{
    memset(res, 0, sizeof *res);
    return npu_wait(t->dev, f, NPU_TEST_TIMEOUT, res);
}

static void run_scenario(const scenario *sc, int run_ahead, outcome *o)
{
    memset(o, 0, sizeof *o);
    npu_drv_set_run_ahead(run_ahead);
    npu_test t;
    npu_test_open(&t, &sc->cfg);
    fill_inputs(&t);
    if (sc->program_is_buffer3) { /* the word the program writes over its nop */
        isa_asm_result w;
        assert_int_equal(isa_assemble(FAULT_WORD_SRC, strlen(FAULT_WORD_SRC), "word.s", &w), ISA_OK);
        assert_int_equal(w.size, ISA_INSN_BYTES);
        assert_int_equal(npu_bo_write(t.data, NPU_TEST_BUF_BYTES + FAULT_WORD_OFFSET, w.bytes, w.size), NPU_DRV_OK);
        isa_asm_result_free(&w);
    }
    npu_sim_set_insn_hook(t.dev->sim, on_insn, o);
    uint64_t ahead0, waited0;
    npu_drv_run_ahead_counts(&ahead0, &waited0);

    npu_fence f = sc->program_is_buffer3 ? submit_self_rewriting(&t, sc->src, sc->flags)
                                         : npu_test_submit(&t, sc->src, sc->flags);
    switch (sc->how) {
    case DRIVE_WAIT:
        o->st[0] = wait_job(&t, f, &o->res[0]);
        npu_dev_read_counters(t.dev, &o->ctr[0]);
        break;
    case DRIVE_CHUNKS:
        run_chunks(&t, o, 0);
        o->st[0] = wait_job(&t, f, &o->res[0]);
        npu_dev_read_counters(t.dev, &o->ctr[0]);
        break;
    case DRIVE_CHUNKS_RESET:
        assert_int_equal(run_chunks(&t, o, RESET_AFTER_CHUNKS), RESET_AFTER_CHUNKS);
        assert_int_equal(npu_dev_reset(t.dev), NPU_DRV_OK);
        take_snapshot(&t, o, 0);
        o->st[0] = wait_job(&t, f, &o->res[0]);
        npu_dev_read_counters(t.dev, &o->ctr[0]);
        f = npu_test_submit(&t, sc->second_src, sc->flags);
        run_chunks(&t, o, 0);
        o->st[1] = wait_job(&t, f, &o->res[1]);
        npu_dev_read_counters(t.dev, &o->ctr[1]);
        break;
    case DRIVE_TWO_JOBS: {
        npu_bo *first = t.prog; /* the first job's program stays allocated while it runs */
        t.prog = NULL;
        npu_fence f2 = npu_test_submit(&t, sc->second_src, sc->flags);
        o->st[0] = wait_job(&t, f, &o->res[0]);
        npu_dev_read_counters(t.dev, &o->ctr[0]); /* at the first job's interrupt: the second runs */
        o->st[1] = wait_job(&t, f2, &o->res[1]);
        npu_dev_read_counters(t.dev, &o->ctr[1]);
        npu_bo_free(first);
        break;
    }
    }

    uint64_t ahead1, waited1;
    npu_drv_run_ahead_counts(&ahead1, &waited1);
    o->ran_ahead = ahead1 - ahead0;
    o->waited = waited1 - waited0;
    if (sc->out_bytes)
        assert_int_equal(npu_bo_read(t.data, 2 * NPU_TEST_BUF_BYTES, o->out, sc->out_bytes), NPU_DRV_OK);
    npu_sim_set_insn_hook(t.dev->sim, NULL, NULL);
    insn_events_canonical(o->ev, o->nev); /* same-cycle ends of different units: SystemC's order */
    npu_test_close(&t);
    npu_drv_set_run_ahead(1);
    assert_false(o->hook_oom);
}

static void outcome_free(outcome *o)
{
    free(o->ev);
    free(o->snap);
    o->ev = NULL;
    o->snap = NULL;
}

/* ---- the comparison */

static void assert_same_result(const char *name, int job, const npu_job_result *a, const npu_job_result *b)
{
    if (memcmp(a, b, sizeof *a) != 0)
        fail_msg("%s, job %d: off: state %u fault %u unit %u insn %u addr 0x%llx cycles %llu..%llu insns %llu; "
                 "on: state %u fault %u unit %u insn %u addr 0x%llx cycles %llu..%llu insns %llu",
                 name, job, a->state, a->fault, a->fault_unit, a->fault_insn, (unsigned long long)a->fault_addr,
                 (unsigned long long)a->start_cycle, (unsigned long long)a->end_cycle, (unsigned long long)a->insns,
                 b->state, b->fault, b->fault_unit, b->fault_insn, (unsigned long long)b->fault_addr,
                 (unsigned long long)b->start_cycle, (unsigned long long)b->end_cycle, (unsigned long long)b->insns);
}

static void assert_same_counters(const char *name, int job, const npu_counters *a, const npu_counters *b)
{
    if (a->cycles != b->cycles)
        fail_msg("%s, job %d: counters read at cycle %llu off, %llu on", name, job, (unsigned long long)a->cycles,
                 (unsigned long long)b->cycles);
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        for (int c = 0; c < NPU_CTR_COUNT; c++)
            if (a->v[u][c] != b->v[u][c])
                fail_msg("%s, job %d: %s %s is %llu off, %llu on", name, job, npu_unit_str((uint32_t)u),
                         npu_counter_str((uint32_t)c), (unsigned long long)a->v[u][c], (unsigned long long)b->v[u][c]);
}

static void assert_same_events(const char *name, const outcome *a, const outcome *b)
{
    size_t n = a->nev < b->nev ? a->nev : b->nev;
    for (size_t i = 0; i < n; i++) {
        const npu_sim_insn_event *x = &a->ev[i], *y = &b->ev[i];
        if (memcmp(x, y, sizeof *x) != 0)
            fail_msg("%s: instruction event %zu: off: %s insn %u op %u outcome %u cycles %llu..%llu; "
                     "on: %s insn %u op %u outcome %u cycles %llu..%llu",
                     name, i, npu_unit_str(x->unit), x->index, x->op, x->outcome, (unsigned long long)x->issue_cycle,
                     (unsigned long long)x->end_cycle, npu_unit_str(y->unit), y->index, y->op, y->outcome,
                     (unsigned long long)y->issue_cycle, (unsigned long long)y->end_cycle);
    }
    if (a->nev != b->nev)
        fail_msg("%s: %zu instruction events off, %zu on", name, a->nev, b->nev);
}

static void assert_same_snapshots(const char *name, const outcome *a, const outcome *b)
{
    size_t n = a->nsnap < b->nsnap ? a->nsnap : b->nsnap;
    for (size_t i = 0; i < n; i++) {
        const snapshot *x = &a->snap[i], *y = &b->snap[i];
        if (x->run_result != y->run_result || x->cycles != y->cycles)
            fail_msg("%s: after budget %zu: npu_sim_run %d at cycle %llu off, %d at cycle %llu on", name, i,
                     x->run_result, (unsigned long long)x->cycles, y->run_result, (unsigned long long)y->cycles);
        for (uint32_t r = 0; r < NPU_MMIO_BYTES / 4; r++)
            if (x->regs[r] != y->regs[r])
                fail_msg("%s: after budget %zu (cycle %llu): register 0x%03x is 0x%x off, 0x%x on", name, i,
                         (unsigned long long)x->cycles, 4 * r, x->regs[r], y->regs[r]);
    }
    if (a->nsnap != b->nsnap)
        fail_msg("%s: %zu budgets off, %zu on", name, a->nsnap, b->nsnap);
}

/* Run sc with the run-ahead off, then on; everything must agree, and only the run with it on may
 * (and must, for at least min_ahead_share of its dispatches) run ahead. */
static void check_scenario(const scenario *sc)
{
    static outcome off, on;
    run_scenario(sc, 0, &off);
    run_scenario(sc, 1, &on);
    uint64_t dispatches = on.ran_ahead + on.waited;
    print_message("%-28s %6zu events, %5zu budgets, end cycle %8llu, %5llu dispatches, %5.1f%% ran ahead\n",
                  sc->name, on.nev, on.nsnap, (unsigned long long)on.res[0].end_cycle,
                  (unsigned long long)dispatches, dispatches ? 100.0 * (double)on.ran_ahead / (double)dispatches : 0.0);
    assert_int_equal(off.st[0], sc->want);
    if (sc->want_fault) {
        assert_int_equal(off.res[0].fault, sc->want_fault);
        assert_int_equal(off.res[0].fault_unit, sc->want_fault_unit);
        assert_int_equal(off.res[0].fault_insn, sc->want_fault_insn);
    }
    for (int j = 0; j < 2; j++) {
        assert_int_equal(off.st[j], on.st[j]);
        assert_same_result(sc->name, j, &off.res[j], &on.res[j]);
        assert_same_counters(sc->name, j, &off.ctr[j], &on.ctr[j]);
    }
    assert_same_events(sc->name, &off, &on);
    assert_same_snapshots(sc->name, &off, &on);
    assert_memory_equal(off.out, on.out, sizeof off.out);
    /* not vacuous: work was done, both dispatched as often, only the run with it on ran ahead */
    assert_true(off.nev > 0);
    assert_true(off.res[0].insns > 0 || off.res[0].state == NPU_JOB_ABORTED);
    assert_int_equal(off.ran_ahead, 0);
    assert_int_equal(off.waited, dispatches);
    if ((double)on.ran_ahead < sc->min_ahead_share * (double)dispatches)
        fail_msg("%s: only %llu of %llu dispatches ran ahead (want at least %.0f%%)", sc->name,
                 (unsigned long long)on.ran_ahead, (unsigned long long)dispatches, 100.0 * sc->min_ahead_share);
    if (sc->out_bytes) {
        static const uint8_t zeros[TILE_OUT_BYTES];
        assert_memory_not_equal(off.out + sc->out_bytes - TILE_OUT_BYTES, zeros, TILE_OUT_BYTES); /* stored */
    }
    outcome_free(&off);
    outcome_free(&on);
}

/* ---- the scenarios */

static char long_src[PROGRAM_CHARS], short_src[PROGRAM_CHARS];

static int build_programs(void **state)
{
    (void)state;
    pipeline(long_src, sizeof long_src, LONG_BLOCKS);
    pipeline(short_src, sizeof short_src, SHORT_BLOCKS);
    return 0;
}

static scenario base(const char *name, const char *src)
{
    scenario sc;
    memset(&sc, 0, sizeof sc);
    sc.name = name;
    npu_config_defaults(&sc.cfg);
    sc.src = src;
    sc.how = DRIVE_WAIT;
    sc.want = NPU_DRV_OK;
    return sc;
}

/* 1. The long pipeline on every unit, timing-only and with numerics (its output compared). */
static void test_long_pipeline(void **state)
{
    (void)state;
    scenario sc = base("pipeline, timing-only", long_src);
    sc.flags = NPU_JOB_F_TIMING_ONLY;
    sc.min_ahead_share = 0.3;
    check_scenario(&sc);
    sc.name = "pipeline, numerics";
    sc.flags = 0;
    sc.out_bytes = LONG_BLOCKS * TILE_OUT_BYTES;
    check_scenario(&sc);
}

/* 2. The control core far slower than the units: most pushes go to idle units (waits_wake). */
static void test_slow_control_core(void **state)
{
    (void)state;
    scenario sc = base("slow control core", long_src);
    sc.cfg.control.cycles_per_insn = SLOW_CONTROL_CYCLES_PER_INSN;
    sc.flags = NPU_JOB_F_TIMING_ONLY;
    /* every unit has finished before the next dispatch: each push wakes an idle unit, which
     * spend_push counts as waited (it adds the cycles ahead, then waits for them) */
    sc.min_ahead_share = 0.0;
    check_scenario(&sc);
}

/* 3. Queue depth 1: the control core often finds a queue full (spend_push's full-queue path). */
static void test_queue_depth_one(void **state)
{
    (void)state;
    scenario sc = base("queue depth 1", long_src);
    sc.cfg.queue_depth = 1;
    sc.flags = NPU_JOB_F_TIMING_ONLY;
    sc.min_ahead_share = 0.0; /* measured: none runs ahead (see the report) */
    check_scenario(&sc);
}

/* 4. 1000 MHz NPU, 300 MHz control core: a dispatch is 33 or 34 NPU cycles (the carry). */
static void test_non_whole_clock_ratio(void **state)
{
    (void)state;
    scenario sc = base("npu 1000 / control 300 MHz", long_src);
    sc.cfg.clock_mhz = ODD_NPU_MHZ;
    sc.cfg.control.clock_mhz = ODD_CONTROL_MHZ;
    sc.flags = NPU_JOB_F_TIMING_ONLY;
    sc.min_ahead_share = 0.3;
    check_scenario(&sc);
}

/* 5. The host runs the device in small budgets and reads every register after each: the control
 * core never runs past the end of the host's run. With the default dispatch cost (20 NPU
 * cycles, more than the smallest budgets) and with a 2-cycle one. */
static void test_small_budgets(void **state)
{
    (void)state;
    scenario sc = base("small budgets", long_src);
    sc.how = DRIVE_CHUNKS;
    sc.out_bytes = LONG_BLOCKS * TILE_OUT_BYTES;
    sc.min_ahead_share = 0.1;
    check_scenario(&sc);
    sc.name = "small budgets, fast control";
    sc.cfg.control.cycles_per_insn = FAST_CONTROL_CYCLES_PER_INSN;
    check_scenario(&sc);
}

/* 6. A unit faults in the middle of the job: the program rewrites one of its nops, after
 * validation, into a load reaching past its buffer, which dma0's engine finds while the other
 * units work on earlier blocks. Run to the end, and in small budgets (every register after each). */
static void test_unit_fault_in_the_middle(void **state)
{
    (void)state;
    static char src[PROGRAM_CHARS];
    scenario sc = base("unit fault in the middle", src);
    sc.want_fault_insn = self_rewriting(src, sizeof src);
    sc.program_is_buffer3 = 1;
    sc.out_bytes = (REWRITTEN_AFTER_BLOCKS - 1) * TILE_OUT_BYTES; /* the blocks stored before the fault */
    sc.want = NPU_DRV_E_FAULT;
    sc.want_fault = NPU_FAULT_DMA_OOB;
    sc.want_fault_unit = NPU_UNIT_DMA0;
    sc.min_ahead_share = 0.1;
    check_scenario(&sc);
    sc.name = "unit fault, small budgets";
    sc.how = DRIVE_CHUNKS;
    check_scenario(&sc);
}

/* 7. The host resets the device while the long program runs, then runs a fresh job. */
static void test_reset_in_the_middle(void **state)
{
    (void)state;
    scenario sc = base("reset in the middle", long_src);
    sc.how = DRIVE_CHUNKS_RESET;
    sc.second_src = short_src;
    sc.want = NPU_DRV_E_ABORTED;
    sc.out_bytes = SHORT_BLOCKS * TILE_OUT_BYTES;
    sc.min_ahead_share = 0.1;
    check_scenario(&sc);
}

/* 8. A deadlock: the watchdog fires at the same cycle, naming the same unit and instruction. */
static void test_watchdog(void **state)
{
    (void)state;
    static char src[PROGRAM_CHARS];
    deadlock(src, sizeof src);
    scenario sc = base("watchdog", src);
    sc.cfg.watchdog_cycles = DEADLOCK_WATCHDOG_CYCLES;
    sc.flags = NPU_JOB_F_TIMING_ONLY;
    sc.want = NPU_DRV_E_FAULT;
    sc.min_ahead_share = 0.1;
    check_scenario(&sc);
}

/* 9. Two jobs queued back to back with no per-job firmware cost: right after raising the first
 * job's interrupt (which pauses the host's run at the end of that delta) the firmware dispatches
 * the second job's first instruction without a wait in between, and the host reads every counter
 * at that interrupt. Fails on e09a3f3: spend_push charges the dispatch's cycles to the control
 * core's busy counter before its wait, and the host reads it during that wait (ctrl busy_cycles
 * 20 off, 40 on). */
static void test_back_to_back_jobs(void **state)
{
    (void)state;
    scenario sc = base("back-to-back jobs", "end\n");
    sc.cfg.control.cycles_per_job = 0;
    sc.second_src = short_src;
    sc.how = DRIVE_TWO_JOBS;
    sc.min_ahead_share = 0.1;
    check_scenario(&sc);
}

/* 10. Deep queues: the control core dispatches up to a queue's depth ahead of the units, which
 * then often end instructions in the same cycle. Compared in strict order, the 4-block pipeline
 * with queue depth 7 and 27 control cycles per dispatch gives mm insn 59 (4123..4250) then sm
 * insn 45 (3305..4250) off, the other way round on: SystemC's order for two timers due at the
 * same time (12 of 360 configurations of the long pipeline). Everything else must be equal:
 * cycles, counters, registers, each unit's events and every cycle's set of events. Then a sweep
 * of dispatch costs and queue depths over the long pipeline. */
static void test_deep_queues(void **state)
{
    (void)state;
    static char src[PROGRAM_CHARS];
    pipeline(src, sizeof src, TIE_BLOCKS);
    scenario sc = base("deep queues, same-cycle ends", src);
    sc.cfg.queue_depth = TIE_QUEUE_DEPTH;
    sc.cfg.control.cycles_per_insn = TIE_CYCLES_PER_INSN;
    sc.flags = NPU_JOB_F_TIMING_ONLY;
    sc.min_ahead_share = 0.1;
    check_scenario(&sc);
    for (size_t q = 0; q < NSWEEP_DEPTHS; q++)
        for (uint32_t cpi = 1; cpi <= SWEEP_CYCLES_PER_INSN_MAX; cpi++) {
            char name[64];
            snprintf(name, sizeof name, "queue depth %u, %u cycles/insn", sweep_queue_depths[q], cpi);
            sc = base(name, long_src);
            sc.cfg.queue_depth = sweep_queue_depths[q];
            sc.cfg.control.cycles_per_insn = cpi;
            sc.flags = NPU_JOB_F_TIMING_ONLY;
            check_scenario(&sc);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_pipeline),      cmocka_unit_test(test_slow_control_core),
        cmocka_unit_test(test_queue_depth_one),    cmocka_unit_test(test_non_whole_clock_ratio),
        cmocka_unit_test(test_small_budgets),      cmocka_unit_test(test_unit_fault_in_the_middle),
        cmocka_unit_test(test_reset_in_the_middle), cmocka_unit_test(test_watchdog),
        cmocka_unit_test(test_back_to_back_jobs), cmocka_unit_test(test_deep_queues),
    };
    return cmocka_run_group_tests(tests, build_programs, NULL);
}
