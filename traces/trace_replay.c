/* trace_replay.c -- driving the device alone with a trace's host traffic (no runtime, no ONNX,
 * no driver) and checking everything the host saw, stopping at the first divergence.
 *
 * Replay follows the recorded host actions, never its own logic: it writes the registers and
 * memory the host wrote, runs the device where the host ran it, reads what the host read and
 * compares. At level insn the device's instruction events are compared, from inside the run,
 * against the INSN records between RUN and IRQ: those that end in one cycle as a set, each
 * unit's in the recorded order (on_insn says why).
 *
 * --retime (a configuration changed on purpose): values that depend on timing are expected to
 * differ and are counted, not failures -- the cycle counter, the performance counters, the
 * firmware log and its head, completion records' cycle stamps, the run budgets the host computed
 * from them -- and instruction records are skipped (another array size tiles differently).
 * Data the host read back that differs is reported (a configuration may change rounding), and a
 * job that completes differently (done vs failed, another fault) is still a failure.
 */
#include "trace_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "m4npu_config.h"
#include "npu_drv.h"
#include "npu_sim.h"

#define REPLAY_MAX_INFLIGHT 256u                 /* jobs submitted and not yet seen complete */
#define RETIME_RUN_BUDGET_CYCLES 1000000000000ull /* a run until the interrupt, re-timed */
#define REPLAY_TIED_INSNS_INITIAL 64u            /* records of one cycle held at first (grows) */

void trace_read_counter_deltas(npu_sim *sim, uint64_t last[NPU_UNIT_COUNT][NPU_CTR_COUNT],
                               uint64_t out[NPU_UNIT_COUNT][NPU_CTR_COUNT]);

typedef struct inflight_job {
    uint32_t id, type;
} inflight_job;

/* An instruction record of the group being matched (on_insn): the records, in recorded order, of
 * one run of INSN records that end in the same cycle. */
typedef struct tied_insn {
    uint64_t record_index, issue_cycle, end_cycle;
    uint32_t unit, insn_index, op, outcome;
    int matched; /* the device finished it */
} tied_insn;

typedef struct replay {
    const char *path;
    trace_reader *r;
    const trace_replay_opts *o;
    trace_replay_result *res;
    trace_err *e;
    npu_sim *sim;
    uint32_t level;
    int compare_insns;
    trace_record pending; /* a record read ahead and given back */
    int has_pending;
    trace_status read_error; /* a reader error met inside the instruction hook */
    inflight_job jobs[REPLAY_MAX_INFLIGHT];
    size_t njobs;
    uint32_t unit_seq[NPU_UNIT_COUNT]; /* instructions per unit in the job in flight */
    tied_insn *tied; /* the group: at most TRACE_REPLAY_MAX_TIED_INSNS */
    size_t ntied, tied_cap, tied_unmatched;
    size_t unit_cursor[NPU_UNIT_COUNT]; /* per unit, the group's records before it are matched */
    uint64_t last_ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT];
    uint64_t run_max; /* --retime: the recorded RUN's budget */
    uint8_t *buf;
    size_t bufcap;
} replay;

static trace_status next(replay *p, trace_record *rec)
{
    if (p->has_pending) {
        *rec = p->pending;
        p->has_pending = 0;
        return TRACE_OK;
    }
    return trace_reader_next(p->r, rec, p->e);
}

static void give_back(replay *p, const trace_record *rec)
{
    p->pending = *rec;
    p->has_pending = 1;
}

/* "job 3" (the oldest submitted job not yet seen complete: the device runs them in order). */
static void job_name(const replay *p, char *buf, size_t cap)
{
    if (p->njobs)
        snprintf(buf, cap, "job %u", p->jobs[0].id);
    else
        snprintf(buf, cap, "no job in flight");
}

static trace_status vdiverge(replay *p, uint64_t record_index, uint32_t record_type, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static trace_status vdiverge(replay *p, uint64_t record_index, uint32_t record_type, const char *fmt, va_list ap)
{
    if (p->res->divergence[0])
        return TRACE_E_DIVERGED;
    char what[TRACE_ERR_BYTES - 128], job[48];
    vsnprintf(what, sizeof what, fmt, ap);
    job_name(p, job, sizeof job);
    snprintf(p->res->divergence, sizeof p->res->divergence, "record %" PRIu64 " (%s), %s: %s", record_index,
             trace_rec_type_name(record_type), job, what);
    return trace_fail(p->e, TRACE_E_DIVERGED, "%s", p->res->divergence);
}

/* The first divergence, at rec: the record index, the job, what was expected and what happened. */
static trace_status diverge(replay *p, const trace_record *rec, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static trace_status diverge(replay *p, const trace_record *rec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trace_status st = vdiverge(p, rec->index, rec->type, fmt, ap);
    va_end(ap);
    return st;
}

/* The same at a record known by its index and type (one held in the group of on_insn). */
static trace_status diverge_at(replay *p, uint64_t record_index, uint32_t record_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static trace_status diverge_at(replay *p, uint64_t record_index, uint32_t record_type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trace_status st = vdiverge(p, record_index, record_type, fmt, ap);
    va_end(ap);
    return st;
}

static const char *op_name(uint32_t op)
{
    const isa_insn_desc *d = op < ISA_OP_COUNT ? isa_desc((isa_op)op) : NULL;
    return d ? d->mnemonic : "?";
}

static const char *outcome_name(uint32_t o)
{
    return o == NPU_SIM_INSN_DONE ? "done" : o == NPU_SIM_INSN_FAULT ? "fault" : "aborted";
}

/* "unit dma0, instruction 3 (dma.ld, the unit's 2nd in the job)" */
static void insn_name(const replay *p, uint32_t unit, uint32_t index, uint32_t op, char *buf, size_t cap)
{
    int ops_job = p->njobs && p->jobs[0].type == NPU_JOB_OPS;
    snprintf(buf, cap, "unit %s, %s %u (%s, the unit's instruction %u in the job)", npu_unit_str(unit),
             ops_job ? "op descriptor" : "instruction", index, op_name(op),
             unit < NPU_UNIT_COUNT ? p->unit_seq[unit] : 0);
}

/* ---------------------------------------------------------------- instructions (level insn) */

/* "unit dma0, instruction 3 (...) issued at cycle 420, ended at 644 (done)" of a recorded one */
static void tied_name(const replay *p, const tied_insn *t, char *buf, size_t cap)
{
    char name[200];
    insn_name(p, t->unit, t->insn_index, t->op, name, sizeof name);
    snprintf(buf, cap, "%s issued at cycle %" PRIu64 ", ended at %" PRIu64 " (%s)", name, t->issue_cycle,
             t->end_cycle, outcome_name(t->outcome));
}

/* The first record of the group the device has not finished, or NULL. */
static const tied_insn *first_unmatched(const replay *p)
{
    for (size_t i = 0; i < p->ntied; i++)
        if (!p->tied[i].matched)
            return &p->tied[i];
    return NULL;
}

/* The group's records the device did not finish (some of them read ahead) are a divergence at
 * the first of them; `instead` says what the device did. */
static void unfinished(replay *p, const char *instead)
{
    const tied_insn *t = first_unmatched(p);
    if (!t)
        return;
    char then[300];
    tied_name(p, t, then, sizeof then);
    diverge_at(p, t->record_index, TRACE_REC_INSN, "the recording has %s here; the device did not finish it in "
               "that cycle: %s", then, instead);
}

/* Read the next run of INSN records that end in one cycle into the group; the record after it is
 * given back. A non-INSN record first (the run's end in the recording) is a divergence: the device
 * finished one more instruction, `now`. */
static int load_group(replay *p, const npu_sim_insn_event *ev, const char *now)
{
    p->ntied = p->tied_unmatched = 0;
    memset(p->unit_cursor, 0, sizeof p->unit_cursor);
    for (;;) {
        trace_record rec;
        trace_status st = next(p, &rec);
        if (st != TRACE_OK) {
            p->read_error = st;
            return -1;
        }
        if (rec.type != TRACE_REC_INSN || (p->ntied && rec.end_cycle != p->tied[0].end_cycle)) {
            give_back(p, &rec);
            if (p->ntied)
                return 0;
            diverge(p, &rec, "the recording has %s here; the device finished one more instruction: %s, issued at cycle "
                    "%" PRIu64 ", ended at %" PRIu64, trace_rec_type_name(rec.type), now, ev->issue_cycle,
                    ev->end_cycle);
            return -1;
        }
        if (p->ntied == TRACE_REPLAY_MAX_TIED_INSNS) {
            p->read_error = trace_fail(p->e, TRACE_E_FORMAT, "%s: record %" PRIu64 " (insn): more than %u instruction "
                                       "records end in cycle %" PRIu64 "; replay holds at most %u of one cycle (every "
                                       "unit's whole queue at the largest depth, and a margin): not a recorded trace?",
                                       p->path, rec.index, TRACE_REPLAY_MAX_TIED_INSNS, rec.end_cycle,
                                       TRACE_REPLAY_MAX_TIED_INSNS);
            return -1;
        }
        if (p->ntied == p->tied_cap) {
            size_t cap = p->tied_cap ? 2 * p->tied_cap : REPLAY_TIED_INSNS_INITIAL;
            if (cap > TRACE_REPLAY_MAX_TIED_INSNS)
                cap = TRACE_REPLAY_MAX_TIED_INSNS;
            tied_insn *t = realloc(p->tied, cap * sizeof *t);
            if (!t) {
                p->read_error = trace_fail(p->e, TRACE_E_NOMEM, "out of memory");
                return -1;
            }
            p->tied = t;
            p->tied_cap = cap;
        }
        p->tied[p->ntied++] = (tied_insn){rec.index, rec.issue_cycle, rec.end_cycle, rec.unit, rec.insn_index, rec.op,
                                          rec.outcome, 0};
        p->tied_unmatched++;
    }
}

/* One instruction the device finished, against the recording. Instruction records that end in
 * the same cycle (a group) are matched as a set: units whose timers fire in the same cycle finish
 * in an order SystemC's timed-event queue picks, which changes with the number of timed events the
 * simulator uses. Within a unit the recorded order holds: the event must match the unit's first
 * record of the group not yet matched. The group's records the device has not finished when it
 * reports a later cycle, or when the run ends (run()), are a divergence. */
static void on_insn(void *ctx, const npu_sim_insn_event *ev)
{
    replay *p = ctx;
    if (p->res->divergence[0] || p->read_error != TRACE_OK)
        return;
    char now[200], then[300];
    insn_name(p, ev->unit, ev->index, ev->op, now, sizeof now);
    if (p->tied_unmatched && ev->end_cycle != p->tied[0].end_cycle) {
        char instead[300];
        snprintf(instead, sizeof instead, "its next instruction was %s, issued at cycle %" PRIu64 ", ended at %" PRIu64
                 " (%s)", now, ev->issue_cycle, ev->end_cycle, outcome_name(ev->outcome));
        unfinished(p, instead);
        return;
    }
    if (!p->tied_unmatched && load_group(p, ev, now) != 0)
        return;
    tied_insn *t = NULL;
    size_t *cursor = &p->unit_cursor[ev->unit < NPU_UNIT_COUNT ? ev->unit : 0];
    for (size_t i = *cursor; i < p->ntied && !t; i++)
        if (!p->tied[i].matched && p->tied[i].unit == ev->unit) {
            t = &p->tied[i];
            *cursor = i + 1;
        }
    if (ev->unit >= NPU_UNIT_COUNT || !t || t->insn_index != ev->index || t->op != ev->op ||
        t->outcome != ev->outcome || t->issue_cycle != ev->issue_cycle || t->end_cycle != ev->end_cycle) {
        const tied_insn *want = t ? t : first_unmatched(p); /* the unit's record, or the group's first left */
        insn_name(p, want->unit, want->insn_index, want->op, then, sizeof then);
        diverge_at(p, want->record_index, TRACE_REC_INSN, "expected %s issued at cycle %" PRIu64 ", ended at %" PRIu64
                   " (%s); the device: %s issued at cycle %" PRIu64 ", ended at %" PRIu64 " (%s)", then,
                   want->issue_cycle, want->end_cycle, outcome_name(want->outcome), now, ev->issue_cycle,
                   ev->end_cycle, outcome_name(ev->outcome));
        return;
    }
    t->matched = 1;
    p->tied_unmatched--;
    p->res->records++;
    p->unit_seq[ev->unit]++;
}

/* ---------------------------------------------------------------- opening */

static trace_status load_config(replay *p, const trace_record *open, m4npu_config *cfg)
{
    m4npu_config_error err;
    m4npu_config_status st;
    if (p->o->config_path) {
        st = m4npu_config_load_overrides(p->o->config_path, p->o->sets, p->o->nsets, cfg, &err);
    } else {
        size_t len;
        const char *yaml = trace_reader_config(p->r, open->config_hash, &len);
        st = m4npu_config_load_text(yaml, len, "the trace's configuration", cfg, &err);
        for (size_t i = 0; i < p->o->nsets && st == M4NPU_CONFIG_OK; i++)
            st = m4npu_config_set_assignment(cfg, p->o->sets[i], &err);
        if (st == M4NPU_CONFIG_OK)
            st = m4npu_config_validate(cfg, &err);
    }
    if (st != M4NPU_CONFIG_OK)
        return trace_fail(p->e, st == M4NPU_CONFIG_E_IO ? TRACE_E_IO : TRACE_E_ARG, "%s", err.msg);
    char *text;
    size_t len;
    uint64_t hash;
    if (trace_config_text(cfg, &text, &len, &hash) != 0)
        return trace_fail(p->e, TRACE_E_NOMEM, "out of memory");
    free(text);
    if (hash != open->config_hash)
        p->res->config_changed = 1;
    return TRACE_OK;
}

static trace_status do_open(replay *p, const trace_record *rec)
{
    m4npu_config *cfg = malloc(sizeof *cfg);
    if (!cfg)
        return trace_fail(p->e, TRACE_E_NOMEM, "out of memory");
    trace_status st = load_config(p, rec, cfg);
    if (st == TRACE_OK) {
        char err[512];
        p->sim = npu_sim_open(&cfg->npu, err, sizeof err);
        if (!p->sim)
            st = trace_fail(p->e, TRACE_E_ARG, "record %" PRIu64 " (open): cannot open the device: %s", rec->index, err);
    }
    free(cfg);
    if (st != TRACE_OK)
        return st;
    memset(p->last_ctr, 0, sizeof p->last_ctr);
    p->njobs = 0;
    if (p->compare_insns)
        npu_sim_set_insn_hook(p->sim, on_insn, p);
    return TRACE_OK;
}

static void do_close(replay *p)
{
    if (!p->sim)
        return;
    npu_sim_set_insn_hook(p->sim, NULL, NULL);
    npu_sim_close(p->sim);
    p->sim = NULL;
}

/* ---------------------------------------------------------------- host traffic */

static uint8_t *scratch(replay *p, uint64_t len)
{
    if (len > npu_sim_dram_size(p->sim))
        return NULL;
    if (len > p->bufcap) {
        uint8_t *b = realloc(p->buf, (size_t)len);
        if (!b)
            return NULL;
        p->buf = b;
        p->bufcap = (size_t)len;
    }
    return p->buf ? p->buf : (uint8_t *)"";
}

static trace_status mmio_read(replay *p, const trace_record *rec)
{
    uint32_t v = npu_sim_mmio_read(p->sim, rec->offset);
    if (v == rec->value)
        return TRACE_OK;
    if (p->o->retime && trace_reg_timing_dependent(rec->offset)) {
        p->res->timing_reads++;
        return TRACE_OK;
    }
    char reg[64];
    trace_reg_name(rec->offset, reg, sizeof reg);
    return diverge(p, rec, "register %s: expected 0x%08x, read 0x%08x", reg, rec->value, v);
}

static trace_status mem_read(replay *p, const trace_record *rec)
{
    uint8_t *b = scratch(p, rec->length);
    if (!b || npu_sim_mem_read(p->sim, rec->addr, b, rec->length) != 0)
        return diverge(p, rec, "the host read %" PRIu64 " bytes at 0x%" PRIx64 "; the device refused (outside its "
                       "memory?)", rec->length, rec->addr);
    uint64_t h = trace_hash64(b, (size_t)rec->length);
    if (h == rec->read_hash)
        return TRACE_OK;
    if (p->o->retime && rec->kind != NPU_READ_DATA) {
        p->res->timing_reads++;
        return TRACE_OK;
    }
    if (p->o->retime) {
        p->res->data_reads_differ++;
        return TRACE_OK;
    }
    return diverge(p, rec, "%s read of %" PRIu64 " bytes at 0x%" PRIx64 ": expected content hash %016" PRIx64
                   ", the device's bytes hash to %016" PRIx64, trace_read_kind_name(rec->kind), rec->length, rec->addr,
                   rec->read_hash, h);
}

/* A run and its IRQ record. Strict: the budget recorded, instruction records consumed by the
 * hook during the run. --retime: the budget recorded only if the recording spent it, else run
 * until the interrupt. */
static trace_status run(replay *p, const trace_record *run_rec)
{
    uint64_t budget = p->o->retime ? p->run_max : run_rec->max_cycles;
    trace_record irq;
    trace_status st;
    if (p->o->retime) {
        irq = *run_rec; /* the IRQ record itself */
        if (irq.result == TRACE_IRQ_RAISED && budget)
            budget = RETIME_RUN_BUDGET_CYCLES;
    }
    int r = npu_sim_run(p->sim, budget);
    uint32_t result = r < 0 ? TRACE_IRQ_ERROR : r ? TRACE_IRQ_RAISED : TRACE_IRQ_BUDGET;
    uint64_t cycle = npu_sim_cycles(p->sim);
    if (p->read_error == TRACE_OK && !p->res->divergence[0] && p->tied_unmatched) {
        char instead[200];
        snprintf(instead, sizeof instead, "the run ended first (%s at cycle %" PRIu64 ")",
                 result == TRACE_IRQ_RAISED ? "interrupt" : result == TRACE_IRQ_BUDGET ? "budget spent" : "model error",
                 cycle);
        unfinished(p, instead);
    }
    p->ntied = p->tied_unmatched = 0;
    if (p->read_error != TRACE_OK)
        return p->read_error;
    if (p->res->divergence[0])
        return TRACE_E_DIVERGED;
    if (!p->o->retime) {
        if ((st = next(p, &irq)) != TRACE_OK)
            return st;
        if (irq.type == TRACE_REC_INSN) {
            char then[200];
            insn_name(p, irq.unit, irq.insn_index, irq.op, then, sizeof then);
            return diverge(p, &irq, "expected %s to end at cycle %" PRIu64 "; the run ended first (%s at cycle %" PRIu64
                           ")", then, irq.end_cycle, result == TRACE_IRQ_RAISED ? "interrupt" : "budget spent", cycle);
        }
        p->res->records++;
    }
    static const char *const results[] = {"the budget was spent", "the interrupt", "a model error"};
    if (irq.result != result)
        return diverge(p, &irq, "the run should have ended with %s (cycle %" PRIu64 "), it ended with %s at cycle %" PRIu64,
                       results[irq.result], irq.cycle, results[result], cycle);
    if (irq.cycle != cycle) {
        if (p->o->retime) {
            p->res->timing_reads++;
            return TRACE_OK;
        }
        return diverge(p, &irq, "the run should have ended at cycle %" PRIu64 ", it ended at cycle %" PRIu64
                       "%s", irq.cycle, cycle, p->level == TRACE_LEVEL_INSN ? ""
                       : " (a job-level trace cannot say which instruction: record with --level insn)");
    }
    return TRACE_OK;
}

static trace_status done(replay *p, const trace_record *rec)
{
    npu_job_completion c;
    if (npu_sim_mem_read(p->sim, rec->completion_addr, &c, sizeof c) != 0)
        return diverge(p, rec, "the completion record at 0x%" PRIx64 " is outside device memory", rec->completion_addr);
    uint64_t ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT];
    trace_read_counter_deltas(p->sim, p->last_ctr, ctr);
    trace_job_timing *j = realloc(p->res->jobs, (p->res->njobs + 1) * sizeof *j);
    if (!j)
        return trace_fail(p->e, TRACE_E_NOMEM, "out of memory");
    p->res->jobs = j;
    j[p->res->njobs++] = (trace_job_timing){rec->job_id, c.state, rec->end_cycle - rec->start_cycle,
                                            c.end_cycle - c.start_cycle, rec->index};
    if (c.job_id != rec->job_id || c.state != rec->state || c.fault != rec->fault || c.fault_unit != rec->fault_unit ||
        c.fault_insn != rec->fault_insn || c.fault_addr != rec->fault_addr)
        return diverge(p, rec, "job %u should have ended %s (fault %s in unit %s at %u, address 0x%" PRIx64 "); job %u "
                       "ended %s (fault %s in unit %s at %u, address 0x%" PRIx64 ")", rec->job_id,
                       rec->state == NPU_JOB_DONE ? "done" : "failed", npu_fault_str(rec->fault),
                       npu_unit_str(rec->fault_unit), rec->fault_insn, rec->fault_addr, c.job_id,
                       c.state == NPU_JOB_DONE ? "done" : c.state == NPU_JOB_FAILED ? "failed" : "pending",
                       npu_fault_str(c.fault), npu_unit_str(c.fault_unit), c.fault_insn, c.fault_addr);
    if (!p->o->retime) {
        if (c.start_cycle != rec->start_cycle || c.end_cycle != rec->end_cycle || c.insns != rec->insns)
            return diverge(p, rec, "job %u should have run cycles %" PRIu64 "..%" PRIu64 " (%" PRIu64 " cycles, %" PRIu64
                           " instructions); it ran %" PRIu64 "..%" PRIu64 " (%" PRIu64 " cycles, %" PRIu64 " instructions)",
                           rec->job_id, rec->start_cycle, rec->end_cycle, rec->end_cycle - rec->start_cycle, rec->insns,
                           c.start_cycle, c.end_cycle, c.end_cycle - c.start_cycle, c.insns);
        for (uint32_t u = 0; u < NPU_UNIT_COUNT; u++)
            for (uint32_t k = 0; k < NPU_CTR_COUNT; k++)
                if (ctr[u][k] != rec->counters[u][k])
                    return diverge(p, rec, "job %u: counter %s.%s should have grown by %" PRIu64 ", it grew by %" PRIu64,
                                   rec->job_id, npu_unit_str(u), npu_counter_str(k), rec->counters[u][k], ctr[u][k]);
    }
    for (size_t i = 0; i < p->njobs; i++)
        if (p->jobs[i].id == rec->job_id) {
            memmove(&p->jobs[i], &p->jobs[i + 1], (p->njobs - i - 1) * sizeof p->jobs[0]);
            p->njobs--;
            break;
        }
    memset(p->unit_seq, 0, sizeof p->unit_seq);
    return TRACE_OK;
}

static trace_status step(replay *p, const trace_record *rec)
{
    switch (rec->type) {
    case TRACE_REC_HEADER:
        p->level = rec->level;
        p->compare_insns = rec->level == TRACE_LEVEL_INSN && !p->o->retime;
        if ((rec->abi_version >> 16) != NPU_ABI_VERSION_MAJOR)
            return trace_fail(p->e, TRACE_E_ARG, "the trace was recorded against ABI %u.%u; this m4npu speaks %u.%u",
                              rec->abi_version >> 16, rec->abi_version & 0xFFFF, NPU_ABI_VERSION_MAJOR,
                              NPU_ABI_VERSION_MINOR);
        return TRACE_OK;
    case TRACE_REC_CONFIG:
    case TRACE_REC_BLOB: return TRACE_OK;
    case TRACE_REC_OPEN: return do_open(p, rec);
    case TRACE_REC_CLOSE: do_close(p); return TRACE_OK;
    case TRACE_REC_MMIO_WR: npu_sim_mmio_write(p->sim, rec->offset, rec->value); return TRACE_OK;
    case TRACE_REC_MMIO_RD: return mmio_read(p, rec);
    case TRACE_REC_MEM_WR:
        if (npu_sim_mem_write(p->sim, rec->addr, rec->bytes, rec->length) != 0)
            return diverge(p, rec, "the host wrote %" PRIu64 " bytes at 0x%" PRIx64 "; the device refused (outside its "
                           "memory?)", rec->length, rec->addr);
        return TRACE_OK;
    case TRACE_REC_MEM_RD: return mem_read(p, rec);
    case TRACE_REC_RUN:
        if (p->o->retime) {
            p->run_max = rec->max_cycles; /* run at its IRQ record: the instruction records are skipped */
            return TRACE_OK;
        }
        return run(p, rec);
    case TRACE_REC_INSN: return TRACE_OK; /* --retime only: the strict path consumes them in the hook */
    case TRACE_REC_IRQ: return run(p, rec);
    case TRACE_REC_CYCLES: {
        uint64_t now = npu_sim_cycles(p->sim);
        if (now == rec->cycle)
            return TRACE_OK;
        if (p->o->retime) {
            p->res->timing_reads++;
            return TRACE_OK;
        }
        return diverge(p, rec, "the cycle counter should read %" PRIu64 ", it reads %" PRIu64, rec->cycle, now);
    }
    case TRACE_REC_SUBMIT:
        if (p->njobs == REPLAY_MAX_INFLIGHT) {
            memmove(&p->jobs[0], &p->jobs[1], (p->njobs - 1) * sizeof p->jobs[0]);
            p->njobs--;
        }
        p->jobs[p->njobs++] = (inflight_job){rec->job_id, rec->job_type};
        memset(p->unit_seq, 0, sizeof p->unit_seq);
        return TRACE_OK;
    case TRACE_REC_DONE: return done(p, rec);
    default: return TRACE_OK;
    }
}

trace_status trace_replay(const char *path, const trace_replay_opts *opts, trace_replay_result *res, trace_err *e)
{
    memset(res, 0, sizeof *res);
    replay *p = calloc(1, sizeof *p);
    if (!p)
        return trace_fail(e, TRACE_E_NOMEM, "out of memory");
    p->path = path;
    p->o = opts;
    p->res = res;
    p->e = e;
    p->read_error = TRACE_OK;
    p->r = trace_reader_open(path, e);
    trace_status st = p->r ? TRACE_OK : TRACE_E_FORMAT;
    if (!p->r && strstr(e->msg, "cannot open"))
        st = TRACE_E_IO;
    while (st == TRACE_OK) {
        trace_record rec;
        if ((st = next(p, &rec)) != TRACE_OK)
            break;
        if (rec.type == TRACE_REC_END)
            break;
        res->records++;
        st = step(p, &rec);
    }
    do_close(p);
    trace_reader_close(p->r);
    free(p->buf);
    free(p->tied);
    free(p);
    return st;
}

void trace_replay_result_free(trace_replay_result *res)
{
    free(res->jobs);
    res->jobs = NULL;
    res->njobs = 0;
}
