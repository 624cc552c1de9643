/* test_trace_replay_order.c -- at level insn, replay matches the instruction records that end in
 * the same cycle as a set: two units that finish in one cycle may come in either order (SystemC
 * orders such ties by its timed-event queue's history, which changes whenever the simulator uses
 * more or fewer timed events), while everything else stays exact -- the order within a unit, the
 * cycles, a missing or an extra instruction, a group larger than replay holds. (The run-ahead's
 * tie, tests/sim/test_sim_runahead.c scenario 10, did not show through `m4npu exec`, so the
 * goldens are edited instead of recorded twice.)
 *
 * Each case rewrites a golden trace (traces/golden/) with the trace writer, changing only the
 * instruction records of its runs, and replays the result. */
#include "test_util.h"

#include "isa.h"
#include "npu_drv.h"
#include "trace_internal.h"

#define GOLDEN_DIR M4NPU_SOURCE_DIR "/traces/golden"
#define TIMER_TIES_GOLDEN GOLDEN_DIR "/encoder_block.trc" /* a DMA load and a vector op end together */
#define UNIT_TIES_GOLDEN GOLDEN_DIR "/double_buffer.trc"  /* a DMA load and its signal end together */
#define FIRST_RUN_INSNS 1024u                             /* instruction records of one run held at first */
#define EXTRA_INSN_INDEX_OFFSET 1000u                     /* an instruction index no job of the goldens has */

/* An edit of one run's instruction records: puts what the rewritten trace holds instead of them. */
typedef void (*insn_edit)(trace_writer *w, trace_record *insns, size_t n, void *ctx);

static void put(trace_writer *w, const trace_record *rec)
{
    trace_err e;
    trace_status st = trace_writer_put(w, rec, &e);
    if (st != TRACE_OK)
        fail_msg("writing the edited trace: %s", e.msg);
}

static void put_all(trace_writer *w, const trace_record *insns, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(w, &insns[i]);
}

/* Copy the trace src to dst, each run's instruction records through edit (BLOB records are
 * left to the writer, which stores each chunk again where it first appears). */
static void rewrite(const char *src, const char *dst, insn_edit edit, void *ctx)
{
    trace_err e;
    trace_reader *r = trace_reader_open(src, &e);
    if (!r)
        fail_msg("%s", e.msg);
    trace_writer *w = trace_writer_open(dst, 0, &e);
    if (!w)
        fail_msg("%s", e.msg);
    trace_record *insns = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        trace_record rec;
        if (trace_reader_next(r, &rec, &e) != TRACE_OK)
            fail_msg("%s", e.msg);
        if (rec.type == TRACE_REC_END)
            break;
        if (rec.type == TRACE_REC_BLOB)
            continue;
        if (rec.type == TRACE_REC_INSN) {
            if (n == cap) {
                cap = cap ? 2 * cap : FIRST_RUN_INSNS;
                insns = realloc(insns, cap * sizeof *insns);
                assert_non_null(insns);
            }
            insns[n++] = rec;
            continue;
        }
        if (rec.type == TRACE_REC_IRQ) {
            edit(w, insns, n, ctx);
            n = 0;
        }
        put(w, &rec);
    }
    assert_int_equal(n, 0);
    free(insns);
    trace_reader_close(r);
    assert_int_equal(trace_writer_close(w, &e), TRACE_OK);
}

static trace_status replay(const char *path, int retime, trace_replay_result *res, trace_err *e)
{
    trace_replay_opts o = {NULL, NULL, 0, retime};
    trace_status st = trace_replay(path, &o, res, e);
    trace_replay_result_free(res);
    return st;
}

static int is_sync(uint32_t op) { return op == ISA_OP_SIGNAL || op == ISA_OP_WAIT; }

/* ---- the edits: each acts once, on the first run where it applies, and says where */

typedef struct edit_ctx {
    int same_unit;       /* swap_tie: two records of one unit, else of two units (timers, not signals) */
    int done;            /* the edit was made */
    trace_record target; /* the record it changed, dropped or added (as it is in the edited trace) */
    trace_record other;  /* swap_tie: the record it was swapped with */
    size_t count;        /* oversize_group: records added */
} edit_ctx;

static void swap_tie(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    for (size_t i = 0; i + 1 < n && !c->done; i++) {
        trace_record *a = &insns[i], *b = &insns[i + 1];
        if (a->end_cycle != b->end_cycle || (a->unit == b->unit) != c->same_unit)
            continue;
        if (!c->same_unit && (is_sync(a->op) || is_sync(b->op)))
            continue; /* a tie of two timers, not a signal and the wait it releases */
        trace_record t = *a;
        *a = *b;
        *b = t;
        c->target = *b;
        c->other = *a;
        c->done = 1;
    }
    put_all(w, insns, n);
}

/* Every run of records that end in one cycle, stably sorted by unit, last unit first: each unit's
 * records keep their order, the units' order within the cycle is reversed where it can be. */
static void reorder_every_cycle(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && insns[end].end_cycle == insns[start].end_cycle; end++)
            ;
        for (size_t i = start + 1; i < end; i++) /* insertion sort: stable */
            for (size_t j = i; j > start && insns[j - 1].unit < insns[j].unit; j--) {
                trace_record t = insns[j - 1];
                insns[j - 1] = insns[j];
                insns[j] = t;
                c->count++;
            }
    }
    c->done |= c->count > 0;
    put_all(w, insns, n);
}

static void shift_end_cycle(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    if (n && !c->done) {
        insns[0].end_cycle++;
        c->target = insns[0];
        c->done = 1;
    }
    put_all(w, insns, n);
}

/* Drop the second record of the first tie of two units: the device finishes one the recording lacks. */
static void drop_tied(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        if (!c->done && i > 0 && insns[i - 1].end_cycle == insns[i].end_cycle && insns[i - 1].unit != insns[i].unit) {
            c->target = insns[i];
            c->done = 1;
            continue;
        }
        put(w, &insns[i]);
    }
}

static void drop_last(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    if (n && !c->done) {
        c->target = insns[--n];
        c->done = 1;
    }
    put_all(w, insns, n);
}

/* After the first record of the first tie of two units, one more of its unit in the same cycle
 * (an instruction index the job does not have): the device never finishes it. */
static void add_to_tie(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    for (size_t i = 0; i < n; i++) {
        put(w, &insns[i]);
        if (!c->done && i + 1 < n && insns[i].end_cycle == insns[i + 1].end_cycle &&
            insns[i].unit != insns[i + 1].unit) {
            c->target = insns[i];
            c->target.insn_index += EXTRA_INSN_INDEX_OFFSET;
            put(w, &c->target);
            c->done = 1;
        }
    }
}

/* After the run's last record, one more of its unit in the same cycle: the run ends without it. */
static void add_at_run_end(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    put_all(w, insns, n);
    if (n && !c->done) {
        c->target = insns[n - 1];
        c->target.insn_index += EXTRA_INSN_INDEX_OFFSET;
        put(w, &c->target);
        c->done = 1;
    }
}

/* After the first record, as many more ending in its cycle as make one too many for replay. */
static void oversize_group(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    if (n && !c->done) {
        put(w, &insns[0]);
        trace_record extra = insns[0];
        for (c->count = 0; c->count < TRACE_REPLAY_MAX_TIED_INSNS; c->count++) {
            extra.insn_index = insns[0].insn_index + 1 + (uint32_t)c->count;
            put(w, &extra);
        }
        c->target = insns[0];
        c->done = 1;
        put_all(w, insns + 1, n - 1);
        return;
    }
    put_all(w, insns, n);
}

static void keep(trace_writer *w, trace_record *insns, size_t n, void *ctx)
{
    edit_ctx *c = ctx;
    c->done = 1;
    put_all(w, insns, n);
}

/* Rewrite golden into NAME in the test directory with edit; the edit must have applied. */
static void edited(const char *golden, const char *name, insn_edit edit, edit_ctx *c, char *path, size_t cap)
{
    test_path(path, cap, name);
    rewrite(golden, path, edit, c);
    if (!c->done)
        fail_msg("%s: the edit found nothing to change (did the golden change?)", golden);
}

/* ---- the cases */

/* The divergence names rec as the recording's instruction the device did not finish:
 * "the recording has unit dma0, instruction 1000 (signal, ..." ("op descriptor 1000" in an op job). */
static void assert_names_unfinished(const char *msg, const trace_record *rec, const char *instead)
{
    const isa_insn_desc *d = isa_desc((isa_op)rec->op);
    assert_non_null(d);
    char unit[64], insn[64];
    snprintf(unit, sizeof unit, "the recording has unit %s, ", npu_unit_str(rec->unit));
    snprintf(insn, sizeof insn, " %u (%s, ", rec->insn_index, d->mnemonic);
    const char *at = strstr(msg, unit);
    if (!at || !strstr(at, insn) || !strstr(msg, "the device did not finish it in that cycle: ") ||
        !strstr(msg, instead))
        fail_msg("expected \"%s...%s\" and \"%s\" in: %s", unit, insn, instead, msg);
}

static void test_copy_replays_clean(void **state)
{
    (void)state;
    char path[512];
    edit_ctx c = {0};
    edited(TIMER_TIES_GOLDEN, "copy.trc", keep, &c, path, sizeof path);
    trace_replay_result res;
    trace_err e;
    trace_status st = replay(path, 0, &res, &e);
    if (st != TRACE_OK)
        fail_msg("an unedited copy does not replay: %s", e.msg);
}

static void test_two_units_swapped_in_one_cycle_replay_clean(void **state)
{
    (void)state;
    char path[512];
    edit_ctx c = {0};
    edited(TIMER_TIES_GOLDEN, "swap_units.trc", swap_tie, &c, path, sizeof path);
    assert_int_not_equal(c.target.unit, c.other.unit);
    trace_replay_result res;
    trace_err e;
    trace_status st = replay(path, 0, &res, &e);
    if (st != TRACE_OK)
        fail_msg("records %llu (%s) and %llu (%s), both ending at cycle %llu, swapped: %s",
                 (unsigned long long)c.other.index, npu_unit_str(c.other.unit), (unsigned long long)c.target.index,
                 npu_unit_str(c.target.unit), (unsigned long long)c.target.end_cycle, e.msg);
}

static void test_every_cycle_reordered_replays_clean(void **state)
{
    (void)state;
    const char *goldens[] = {TIMER_TIES_GOLDEN, GOLDEN_DIR "/IMG_enc.trc", UNIT_TIES_GOLDEN};
    for (size_t g = 0; g < sizeof goldens / sizeof goldens[0]; g++) {
        char path[512];
        edit_ctx c = {0};
        edited(goldens[g], "reordered.trc", reorder_every_cycle, &c, path, sizeof path);
        trace_replay_result res;
        trace_err e;
        trace_status st = replay(path, 0, &res, &e);
        if (st != TRACE_OK)
            fail_msg("%s with %zu swaps within cycles: %s", goldens[g], c.count, e.msg);
    }
}

static void test_one_unit_swapped_in_one_cycle_diverges(void **state)
{
    (void)state;
    char path[512];
    edit_ctx c = {.same_unit = 1};
    edited(UNIT_TIES_GOLDEN, "swap_unit.trc", swap_tie, &c, path, sizeof path);
    assert_int_equal(c.target.unit, c.other.unit);
    trace_replay_result res;
    trace_err e;
    assert_int_equal(replay(path, 0, &res, &e), TRACE_E_DIVERGED);
    /* the unit's first record in the recording (now the later instruction) is what was expected */
    char want[160], got[160];
    snprintf(want, sizeof want, "expected unit %s, instruction %u ", npu_unit_str(c.other.unit), c.other.insn_index);
    snprintf(got, sizeof got, "the device: unit %s, instruction %u ", npu_unit_str(c.target.unit), c.target.insn_index);
    if (!strstr(e.msg, want) || !strstr(e.msg, got))
        fail_msg("expected \"%s\" and \"%s\" in: %s", want, got, e.msg);
}

static void test_changed_end_cycle_diverges(void **state)
{
    (void)state;
    char path[512], want[160];
    edit_ctx c = {0};
    edited(UNIT_TIES_GOLDEN, "shift.trc", shift_end_cycle, &c, path, sizeof path);
    trace_replay_result res;
    trace_err e;
    assert_int_equal(replay(path, 0, &res, &e), TRACE_E_DIVERGED);
    snprintf(want, sizeof want, "ended at %llu (done); the device: unit %s", (unsigned long long)c.target.end_cycle,
             npu_unit_str(c.target.unit));
    if (!strstr(e.msg, want) || !strstr(e.msg, "expected unit"))
        fail_msg("expected \"%s\" in: %s", want, e.msg);
}

static void test_missing_instruction_diverges(void **state)
{
    (void)state;
    char path[512];
    trace_replay_result res;
    trace_err e;
    edit_ctx tie = {0};
    edited(TIMER_TIES_GOLDEN, "drop_tied.trc", drop_tied, &tie, path, sizeof path);
    assert_int_equal(replay(path, 0, &res, &e), TRACE_E_DIVERGED);
    if (!strstr(e.msg, "expected unit") || !strstr(e.msg, "the device: unit"))
        fail_msg("a record of a tie dropped: %s", e.msg);
    edit_ctx last = {0};
    edited(UNIT_TIES_GOLDEN, "drop_last.trc", drop_last, &last, path, sizeof path);
    assert_int_equal(replay(path, 0, &res, &e), TRACE_E_DIVERGED);
    if (!strstr(e.msg, "the recording has irq here; the device finished one more instruction"))
        fail_msg("the run's last record dropped: %s", e.msg);
}

static void test_extra_instruction_diverges(void **state)
{
    (void)state;
    char path[512];
    trace_replay_result res;
    trace_err e;
    /* in a tie: the device goes on to a later cycle without it */
    edit_ctx tie = {0};
    edited(TIMER_TIES_GOLDEN, "add_tied.trc", add_to_tie, &tie, path, sizeof path);
    assert_int_equal(replay(path, 0, &res, &e), TRACE_E_DIVERGED);
    assert_names_unfinished(e.msg, &tie.target, "its next instruction was unit ");
    /* the run's last cycle: the run ends without it */
    edit_ctx last = {0};
    edited(UNIT_TIES_GOLDEN, "add_last.trc", add_at_run_end, &last, path, sizeof path);
    assert_int_equal(replay(path, 0, &res, &e), TRACE_E_DIVERGED);
    assert_names_unfinished(e.msg, &last.target, "the run ended first (interrupt at cycle ");
    /* --retime skips instruction records */
    assert_int_equal(replay(path, 1, &res, &e), TRACE_OK);
}

static void test_group_larger_than_replay_holds_is_refused(void **state)
{
    (void)state;
    char path[512], want[200];
    edit_ctx c = {0};
    edited(UNIT_TIES_GOLDEN, "oversize.trc", oversize_group, &c, path, sizeof path);
    trace_replay_result res;
    trace_err e;
    assert_int_equal(replay(path, 0, &res, &e), TRACE_E_FORMAT);
    snprintf(want, sizeof want, "more than %u instruction records end in cycle %llu", TRACE_REPLAY_MAX_TIED_INSNS,
             (unsigned long long)c.target.end_cycle);
    if (!strstr(e.msg, path) || !strstr(e.msg, want))
        fail_msg("expected the file and \"%s\" in: %s", want, e.msg);
    assert_int_equal(replay(path, 1, &res, &e), TRACE_OK); /* --retime skips instruction records */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_replays_clean),
        cmocka_unit_test(test_two_units_swapped_in_one_cycle_replay_clean),
        cmocka_unit_test(test_every_cycle_reordered_replays_clean),
        cmocka_unit_test(test_one_unit_swapped_in_one_cycle_diverges),
        cmocka_unit_test(test_changed_end_cycle_diverges),
        cmocka_unit_test(test_missing_instruction_diverges),
        cmocka_unit_test(test_extra_instruction_diverges),
        cmocka_unit_test(test_group_larger_than_replay_holds_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
