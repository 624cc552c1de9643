/* fw_overlap.c -- scheduling across ops (npu.overlap: on): op i + 1's instructions go to the unit
 * queues while op i still runs, instead of after a drain, ordered against earlier ops only where
 * they touch the same things.
 *
 * Every instruction an op pushes leaves a footprint on its unit: the SRAM it touches, the DRAM it
 * reads or writes (device addresses, so aliased buffers are caught) and the semaphores it uses.
 * Before an instruction X of op j goes to unit U, its own footprint is compared with what every
 * other unit V was given by earlier ops that U is not yet known to follow. On a conflict (X's
 * SRAM meets V's SRAM; X reads DRAM that V writes; X writes DRAM that V reads or writes; X uses
 * a semaphore V used) a fence goes first: `signal` on V, `wait` on U, on a semaphore kept for the
 * pair (V, U). V's queue is in order, so when the signal runs every earlier instruction of V has
 * completed; U's queue is in order, so X runs after it. A unit needs no fence against itself.
 * The pair's semaphore is matched FIFO (V's signals and U's waits are each in order), so it is
 * reused by later fences of the same pair without ambiguity. When the fence semaphores run out,
 * the control core drains the units instead: safe at any point, since everything pushed is a
 * prefix of a valid sequential schedule (every wait's signal was pushed before it).
 *
 * So that ops rarely conflict, each op runs in one half of the SRAM, the half op j - 1 did not
 * touch, when a trial emission there (pushing nothing) fits, moves no more DRAM bytes and
 * dispatches at most 5/4 the instructions of the whole SRAM's plan; otherwise in the whole SRAM,
 * and its first SRAM access fences against the previous op. Kernel semaphores are handed out in
 * rotation, so consecutive ops use different ones; an op that needs more than the kernels' share
 * runs alone (drained before and after). README.md ("Overlap across ops") says what this costs
 * and what a per-op profile means then.
 */
#include "fw_ops.h"

#include <string.h>

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* ---------------------------------------------------------------- footprints */

/* Add [lo, hi) of buffer entry buf (device addresses). Spans of one buffer that meet are joined
 * (their exact union). When the list is full the new span widens the nearest span of the same
 * buffer, or, with none, the footprint covers all DRAM: so what conflicts depends only on where
 * tensors lie within their buffers and on which buffers share bytes, never on the distance
 * between buffers (the backend's memo keys on exactly that: runtime/npu/npu_memo.c). */
static void spans_add(fw_footprint *p, fw_span *s, uint32_t *n, uint64_t lo, uint64_t hi, uint32_t buf)
{
    if (lo >= hi)
        return;
    for (uint32_t i = 0; i < *n; i++)
        if (s[i].buf == buf && lo <= s[i].hi && s[i].lo <= hi) {
            s[i].lo = min_u64(s[i].lo, lo);
            s[i].hi = max_u64(s[i].hi, hi);
            return;
        }
    if (*n < FW_OVL_SPANS) {
        s[(*n)++] = (fw_span){lo, hi, buf};
        return;
    }
    uint32_t best = FW_OVL_SPANS;
    uint64_t best_gap = UINT64_MAX;
    for (uint32_t i = 0; i < *n; i++) {
        if (s[i].buf != buf)
            continue;
        uint64_t gap = hi < s[i].lo ? s[i].lo - hi : lo - s[i].hi;
        if (gap < best_gap) {
            best_gap = gap;
            best = i;
        }
    }
    if (best == FW_OVL_SPANS) {
        p->dram_all = 1;
        return;
    }
    s[best].lo = min_u64(s[best].lo, lo);
    s[best].hi = max_u64(s[best].hi, hi);
}

static int spans_meet(const fw_span *s, uint32_t n, uint64_t lo, uint64_t hi)
{
    for (uint32_t i = 0; i < n; i++)
        if (lo < s[i].hi && s[i].lo < hi)
            return 1;
    return 0;
}

static void footprint_merge(fw_footprint *into, const fw_footprint *from)
{
    if (!from->used)
        return;
    if (!into->used) {
        *into = *from;
        return;
    }
    into->last_op = from->last_op > into->last_op ? from->last_op : into->last_op;
    into->sram_lo = min_u64(into->sram_lo, from->sram_lo);
    into->sram_hi = max_u64(into->sram_hi, from->sram_hi);
    into->sems |= from->sems;
    into->dram_all |= from->dram_all;
    for (uint32_t i = 0; i < from->nrd; i++)
        spans_add(into, into->rd, &into->nrd, from->rd[i].lo, from->rd[i].hi, from->rd[i].buf);
    for (uint32_t i = 0; i < from->nwr; i++)
        spans_add(into, into->wr, &into->nwr, from->wr[i].lo, from->wr[i].hi, from->wr[i].buf);
}

/* What instruction `in` touches: SRAM ranges, its DRAM span (device addresses) and semaphore. */
typedef struct insn_reach {
    isa_sram_range sram[ISA_MAX_SRAM_RANGES];
    int nsram;
    int dram; /* 0 none, 1 read (dma.ld), 2 write (dma.st) */
    uint64_t dram_lo, dram_hi;
    uint32_t buf;
    int sem; /* -1: none */
} insn_reach;

static void reach_of(const fw_op_ctx *c, const isa_insn *in, insn_reach *r)
{
    uint32_t bias = c->mm_bias;
    r->nsram = isa_sram_ranges(in, &bias, r->sram);
    r->dram = 0;
    r->sem = -1;
    if (in->op == ISA_OP_DMA_LD || in->op == ISA_OP_DMA_ST) {
        uint64_t first, end, base = c->bufs[ISA_GET(in, DMA_LD, BUF)].addr;
        isa_dma_span(in, &first, &end);
        r->dram = in->op == ISA_OP_DMA_LD ? 1 : 2;
        r->dram_lo = base + first;
        r->dram_hi = base + end;
        r->buf = (uint32_t)ISA_GET(in, DMA_LD, BUF);
    } else if (in->op == ISA_OP_SIGNAL || in->op == ISA_OP_WAIT) {
        r->sem = (int)ISA_GET(in, SIGNAL, SEM);
    }
}

static int conflicts(const insn_reach *r, const fw_footprint *p)
{
    for (int i = 0; i < r->nsram; i++)
        if (r->sram[i].addr < p->sram_hi && p->sram_lo < (uint64_t)r->sram[i].addr + r->sram[i].len)
            return 1;
    if (r->dram && p->dram_all)
        return 1; /* a footprint too scattered to keep: it reads and writes all DRAM */
    if (r->dram == 1 && spans_meet(p->wr, p->nwr, r->dram_lo, r->dram_hi))
        return 1; /* read after write */
    if (r->dram == 2 &&
        (spans_meet(p->wr, p->nwr, r->dram_lo, r->dram_hi) || spans_meet(p->rd, p->nrd, r->dram_lo, r->dram_hi)))
        return 1; /* write after write, write after read */
    if (r->sem >= 0 && (p->sems >> r->sem & 1u))
        return 1;
    return 0;
}

static void note(fw_footprint *p, uint32_t op, const insn_reach *r)
{
    if (!p->used) {
        memset(p, 0, sizeof *p);
        p->used = 1;
        p->sram_lo = UINT64_MAX;
    }
    p->last_op = op;
    for (int i = 0; i < r->nsram; i++) {
        p->sram_lo = min_u64(p->sram_lo, r->sram[i].addr);
        p->sram_hi = max_u64(p->sram_hi, (uint64_t)r->sram[i].addr + r->sram[i].len);
    }
    if (r->dram == 1)
        spans_add(p, p->rd, &p->nrd, r->dram_lo, r->dram_hi, r->buf);
    else if (r->dram == 2)
        spans_add(p, p->wr, &p->nwr, r->dram_lo, r->dram_hi, r->buf);
    if (r->sem >= 0)
        p->sems |= 1u << r->sem;
}

/* ---------------------------------------------------------------- the job */

static void forget_all(fw_overlap *o)
{
    memset(o->hist, 0, sizeof o->hist);
    memset(o->old, 0, sizeof o->old);
    memset(o->cur, 0, sizeof o->cur);
    for (uint32_t u = 0; u < FW_QUEUE_UNITS; u++)
        for (uint32_t v = 0; v < FW_QUEUE_UNITS; v++) {
            o->synced[u][v] = o->op - 1; /* everything pushed so far has completed (op j's own
                                            instructions are in cur, which starts again) */
            o->fence_sem[u][v] = -1;
        }
    o->fence_sems_used = 0;
}

void fw_overlap_init(fw_overlap *o, fw *f)
{
    memset(o, 0, sizeof o[0]);
    o->f = f;
    o->info = *f->info;
    forget_all(o); /* op 0 follows nothing */
}

/* What a trial emission of an op in a region of the SRAM gives. */
typedef struct trial_plan {
    int fits;
    uint32_t sems;
    uint64_t insns, dram_bytes;
} trial_plan;

/* Emit op into nothing with the region [base, base + size). */
static trial_plan trial(fw_overlap *o, const fw_op_ctx *c, const npu_op_desc *op, uint32_t base, uint32_t size)
{
    trial_plan p = {0, 0, 0, 0};
    o->info = *c->f->info;
    o->info.sram_bytes = size;
    fw_op_ctx t = *c;
    t.info = &o->info;
    t.sram_base = base;
    t.dry = 1;
    t.ovl = NULL; /* every semaphore may be counted */
    char why[FW_WHY_BYTES];
    if (size < c->f->info->sram_bytes && fw_ops_kernel(op->op)->check(&t, op, why, sizeof why) != 0)
        return p;
    fw_ops_kernel(op->op)->emit(&t, op);
    p.fits = !t.bug && t.st == HAL_OK;
    p.sems = t.sems_used;
    p.insns = t.dry_insns;
    p.dram_bytes = t.dry_dram_bytes;
    return p;
}

void fw_overlap_begin_op(fw_overlap *o, fw_op_ctx *c, const npu_op_desc *op)
{
    o->op = (int64_t)c->index;
    o->exclusive = 0;
    const uint32_t full = c->f->info->sram_bytes;
    uint32_t half = full / 2 / FW_SRAM_ALIGN_BYTES * FW_SRAM_ALIGN_BYTES;
    /* the half op j - 1 left alone (the lower one if it touched neither or both) */
    int lower_free = o->prev_lo >= o->prev_hi || o->prev_lo >= half;
    int upper_free = o->prev_lo >= o->prev_hi || o->prev_hi <= half;
    uint32_t base = 0, size = full;
    trial_plan whole = trial(o, c, op, 0, full), part = {0, 0, 0, 0};
    if (half && (lower_free || upper_free))
        part = trial(o, c, op, lower_free ? 0 : half, half);
    /* half the SRAM when the op's plan there moves no more DRAM bytes and dispatches at most
     * FW_OVL_HALF_INSNS_SLACK more instructions: smaller tiles that re-read operands would cost
     * more than the overlap gives */
    if (part.fits && (!whole.fits || (part.dram_bytes <= whole.dram_bytes &&
                                      part.insns * FW_OVL_HALF_INSNS_DEN <= whole.insns * FW_OVL_HALF_INSNS_NUM))) {
        base = lower_free ? 0 : half;
        size = half;
    }
    uint32_t sems = size == full ? (whole.fits ? whole.sems : 0) : part.sems; /* a bug: the emission reports it */
    o->info = *c->f->info;
    o->info.sram_bytes = size;
    c->info = &o->info;
    if (sems > FW_OVL_KERNEL_SEMS) { /* run alone, as without overlap */
        o->exclusive = 1;
        o->exclusives++;
        hal_status st = hal_drain(c->f->hal);
        if (st != HAL_OK)
            c->st = st;
        forget_all(o);
        return;
    }
    c->sram_base = base;
    c->sem_base = o->sem_next;
    c->ovl = o;
    o->regions += size < full;
}

hal_status fw_overlap_end_op(fw_overlap *o, fw_op_ctx *c)
{
    if (o->exclusive) { /* the next op may use any semaphore */
        hal_status st = hal_drain(c->f->hal);
        forget_all(o);
        o->prev_lo = 0;
        o->prev_hi = c->f->info->sram_bytes;
        o->sem_next = 0;
        return st;
    }
    /* the SRAM op j really touched (every unit), for op j + 1's choice of half */
    o->prev_lo = UINT64_MAX;
    o->prev_hi = 0;
    for (uint32_t u = 0; u < FW_QUEUE_UNITS; u++)
        if (o->cur[u].used && o->cur[u].sram_lo < o->cur[u].sram_hi) {
            o->prev_lo = min_u64(o->prev_lo, o->cur[u].sram_lo);
            o->prev_hi = max_u64(o->prev_hi, o->cur[u].sram_hi);
        }
    if (o->prev_lo == UINT64_MAX)
        o->prev_lo = 0;
    uint32_t slot = (uint32_t)(o->op % FW_OVL_HISTORY);
    for (uint32_t u = 0; u < FW_QUEUE_UNITS; u++) {
        footprint_merge(&o->old[u], &o->hist[slot][u]); /* op j - FW_OVL_HISTORY */
        o->hist[slot][u] = o->cur[u];
        memset(&o->cur[u], 0, sizeof o->cur[u]);
    }
    o->sem_next = (c->sem_base + c->sems_used) % FW_OVL_KERNEL_SEMS;
    return HAL_OK;
}

/* The semaphore that orders unit v before unit u; -1 when none is left (the caller drains). */
static int pair_sem(fw_overlap *o, unsigned v, unsigned u)
{
    if (o->fence_sem[v][u] < 0) {
        if (o->fence_sems_used >= FW_SEMAPHORES - FW_OVL_KERNEL_SEMS)
            return -1;
        o->fence_sem[v][u] = (int8_t)(FW_OVL_KERNEL_SEMS + o->fence_sems_used++);
    }
    return o->fence_sem[v][u];
}

/* Does anything unit v was given by ops u does not yet follow conflict with r? */
static int must_follow(const fw_overlap *o, unsigned u, unsigned v, const insn_reach *r)
{
    for (uint32_t k = 0; k < FW_OVL_HISTORY; k++) {
        const fw_footprint *p = &o->hist[k][v];
        if (p->used && (int64_t)p->last_op > o->synced[u][v] && conflicts(r, p))
            return 1;
    }
    const fw_footprint *p = &o->old[v];
    return p->used && (int64_t)p->last_op > o->synced[u][v] && conflicts(r, p);
}

void fw_overlap_order(fw_op_ctx *c, const isa_insn *in, unsigned u)
{
    fw_overlap *o = c->ovl;
    insn_reach r;
    reach_of(c, in, &r);
    for (unsigned v = 0; v < FW_QUEUE_UNITS && !fw_stopped(c); v++) {
        if (v == u || !must_follow(o, u, v, &r))
            continue;
        int sem = pair_sem(o, v, u);
        if (sem < 0) {
            hal_status st = hal_drain(c->f->hal);
            if (st != HAL_OK) {
                c->st = st;
                return;
            }
            forget_all(o);
            o->drains++;
            break; /* everything earlier has completed */
        }
        /* the fence's own instructions go straight to the queues (no footprint: the pair owns sem) */
        c->fencing = 1;
        fw_signal(c, v, (uint32_t)sem);
        fw_wait(c, u, (uint32_t)sem);
        c->fencing = 0;
        o->synced[u][v] = o->op - 1;
        o->fences++;
    }
    note(&o->cur[u], c->index, &r);
}
