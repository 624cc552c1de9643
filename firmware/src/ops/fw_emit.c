/* fw_emit.c -- how kernels put instructions on the unit queues: validation of every generated
 * instruction (a kernel bug faults the job instead of corrupting the device), the control
 * core's per-instruction cost, DMA and vector instructions split to the ISA's field widths,
 * the SRAM and semaphore allocators, and the slot pipelines that give double buffering.
 */
#include "fw_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* DRAM serves whole bursts: a long contiguous DMA moves rows of this many bytes, a multiple of
 * any burst up to FW_SRAM_ALIGN_BYTES, so that no row is rounded up. */
#define FW_FLAT_ROW_BYTES (FW_FIELD_MAX(DMA_LD, COLS) / FW_SRAM_ALIGN_BYTES * FW_SRAM_ALIGN_BYTES)
#define F32_BYTES 4u

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void bug(fw_op_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bug(fw_op_ctx *c, const char *fmt, ...)
{
    if (c->bug)
        return;
    char msg[FW_WHY_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!c->dry) /* a trial's bug recurs when the op is emitted */
        fw_log(c->f, "op %u: kernel bug: %s", c->index, msg);
    c->bug = 1;
}

int fw_stopped(const fw_op_ctx *c) { return c->st != HAL_OK || c->bug; }

/* ---------------------------------------------------------------- SRAM, semaphores, queues */

uint64_t fw_align(uint64_t bytes) { return (bytes + FW_SRAM_ALIGN_BYTES - 1) / FW_SRAM_ALIGN_BYTES * FW_SRAM_ALIGN_BYTES; }

uint32_t fw_sram_alloc(fw_op_ctx *c, uint64_t bytes)
{
    uint64_t need = fw_align(bytes ? bytes : 1);
    if (need > (uint64_t)c->info->sram_bytes - c->sram_used) {
        bug(c, "SRAM plan needs %llu more bytes; %u of %u are in use", (unsigned long long)need, c->sram_used,
            c->info->sram_bytes);
        return 0;
    }
    uint32_t at = c->sram_base + c->sram_used; /* the op's region (npu.overlap), else from 0 */
    c->sram_used += (uint32_t)need;
    return at;
}

uint64_t fw_sram_free(const fw_op_ctx *c) { return (uint64_t)c->info->sram_bytes - c->sram_used; }

/* Modelled cycles of `total` rows in chunks of `rows` through nslots stages: every stage of a chunk
 * pays a fixed cost (a transfer's setup, the chunk's instructions) and its bytes. */
static uint64_t chunk_cost(uint32_t nslots, uint64_t row_bytes, uint64_t total, uint64_t rows)
{
    uint64_t n = (total + rows - 1) / rows;
    uint64_t stage = FW_PLAN_CHUNK_FIXED_CYCLES + (rows * row_bytes + FW_PLAN_DRAM_BYTES_PER_CYCLE - 1) /
                                                      FW_PLAN_DRAM_BYTES_PER_CYCLE;
    return (n + nslots - 1) * stage;
}

static uint64_t isqrt_u64(uint64_t v)
{
    uint64_t r = 0, bit = (uint64_t)1 << 62;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

uint64_t fw_chunk_rows(uint64_t avail, uint32_t nslots, uint64_t row_bytes, uint64_t total)
{
    uint64_t per_slot = avail / nslots;
    per_slot = per_slot > FW_SRAM_ALIGN_BYTES ? per_slot - FW_SRAM_ALIGN_BYTES : 0; /* alignment slack */
    if (row_bytes == 0 || per_slot < row_bytes || total == 0)
        return 0;
    uint64_t cap = min_u64(per_slot, FW_CHUNK_TARGET_BYTES) / row_bytes;
    cap = cap ? min_u64(cap, total) : 1;
    /* the chunk count n with the least modelled cost (n + nslots - 1) * (fixed + bytes / n / rate),
     * convex in n: the continuous optimum's neighbours, and no fewer chunks than the cap allows.
     * A larger SRAM only lowers that bound, so its choice is modelled no slower (issue 14). */
    uint64_t n_min = (total + cap - 1) / cap;
    uint64_t n_opt = isqrt_u64((nslots - 1) * (total * row_bytes /
                                               ((uint64_t)FW_PLAN_DRAM_BYTES_PER_CYCLE * FW_PLAN_CHUNK_FIXED_CYCLES)));
    uint64_t best = cap;
    uint64_t best_cost = chunk_cost(nslots, row_bytes, total, cap);
    for (uint64_t n = n_opt; n <= n_opt + 1; n++) {
        if (n < n_min || n == 0 || n > total)
            continue;
        uint64_t rows = (total + n - 1) / n, cost = chunk_cost(nslots, row_bytes, total, rows);
        if (cost < best_cost) {
            best_cost = cost;
            best = rows;
        }
    }
    return best;
}

uint64_t fw_plan_dram_cycles(uint64_t rows, uint64_t row_bytes)
{
    uint64_t bytes = rows == 1 ? row_bytes
                               : rows * ((row_bytes + FW_PLAN_DRAM_BURST_BYTES - 1) / FW_PLAN_DRAM_BURST_BYTES *
                                         FW_PLAN_DRAM_BURST_BYTES);
    return (bytes + FW_PLAN_DRAM_BYTES_PER_CYCLE - 1) / FW_PLAN_DRAM_BYTES_PER_CYCLE;
}

uint64_t fw_plan_dma_cycles(uint64_t rows, uint64_t row_bytes)
{
    return FW_PLAN_DMA_SETUP_CYCLES + FW_PLAN_DMA_LATENCY_CYCLES + fw_plan_dram_cycles(rows, row_bytes);
}

uint64_t fw_plan_pipeline_cycles(uint64_t n, const uint64_t *stage, unsigned nstages, uint32_t slots,
                                 uint64_t pace_floor)
{
    if (n == 0)
        return 0;
    uint64_t fill = 0;
    for (unsigned i = 0; i < nstages; i++)
        fill += stage[i];
    uint64_t by_slots = slots ? (fill + slots - 1) / slots : fill;
    uint64_t pace = by_slots > pace_floor ? by_slots : pace_floor;
    return fill + (n - 1) * pace;
}

uint32_t fw_sem_alloc(fw_op_ctx *c)
{
    /* with npu.overlap the last FW_OVL_FENCE_SEMS order ops, and kernels' semaphores rotate */
    uint32_t limit = c->ovl ? FW_OVL_KERNEL_SEMS : FW_SEMAPHORES;
    if (c->sems_used >= limit) {
        bug(c, "more than %u semaphores", limit);
        return 0;
    }
    return (c->sem_base + c->sems_used++) % limit;
}

uint32_t fw_load_channels(const fw_op_ctx *c)
{
    return c->info->dma_channels > 1 ? c->info->dma_channels - 1 : 1;
}

unsigned fw_load_queue(const fw_op_ctx *c, uint32_t i) { return NPU_UNIT_DMA0 + i % fw_load_channels(c); }

unsigned fw_store_queue(const fw_op_ctx *c)
{
    return NPU_UNIT_DMA0 + (c->info->dma_channels > 1 ? c->info->dma_channels - 1 : 0);
}

/* ---------------------------------------------------------------- emission */

/* The DMA's reach into its buffer, checked here too: a kernel must never rely on the unit. */
static int dma_inside(const fw_op_ctx *c, const isa_insn *in)
{
    uint64_t first, end;
    isa_dma_span(in, &first, &end);
    return end <= c->bufs[ISA_GET(in, DMA_LD, BUF)].size;
}

void fw_emit(fw_op_ctx *c, const isa_insn *in)
{
    if (fw_stopped(c))
        return;
    isa_error err;
    isa_limits lim = c->f->limits;
    lim.buffers = c->nbufs;
    if (isa_validate(in, &lim, &err) != ISA_OK) {
        bug(c, "%s", err.msg);
        return;
    }
    if (in->op == ISA_OP_MM_CFG)
        c->mm_bias = (uint32_t)ISA_GET(in, MM_CFG, BIAS);
    isa_sram_range r[ISA_MAX_SRAM_RANGES];
    int n = isa_sram_ranges(in, &c->mm_bias, r);
    for (int i = 0; i < n; i++) /* inside the op's region (npu.overlap), else the SRAM */
        if (r[i].addr < c->sram_base || (uint64_t)r[i].addr + r[i].len > (uint64_t)c->sram_base + c->info->sram_bytes) {
            bug(c, "%s touches SRAM [0x%x, 0x%llx) outside [0x%x, +%u)", isa_desc(in->op)->mnemonic, r[i].addr,
                (unsigned long long)(r[i].addr + r[i].len), c->sram_base, c->info->sram_bytes);
            return;
        }
    int dma = in->op == ISA_OP_DMA_LD || in->op == ISA_OP_DMA_ST;
    if (dma && !dma_inside(c, in)) {
        bug(c, "DMA reaches outside buffer %lld", (long long)ISA_GET(in, DMA_LD, BUF));
        return;
    }
    if (c->dry) { /* a trial emission (fw_overlap.c): the plan, not the instructions */
        c->dry_insns++;
        if (dma)
            c->dry_dram_bytes += (uint64_t)ISA_GET(in, DMA_LD, ROWS) * (uint64_t)ISA_GET(in, DMA_LD, COLS);
        return;
    }
    if (c->ovl && !c->fencing) {
        fw_overlap_order(c, in, fw_insn_unit(in)); /* after earlier ops' conflicting work */
        if (fw_stopped(c))
            return;
    }
    hal_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.insn = *in;
    cmd.index = c->index;
    cmd.flags = c->cmd_flags;
    if (dma) {
        cmd.dram_base = c->bufs[ISA_GET(in, DMA_LD, BUF)].addr;
        cmd.dram_limit = c->bufs[ISA_GET(in, DMA_LD, BUF)].size;
    }
    /* the dispatch cost, then the queue (one HAL call: the port may wait once for both) */
    hal_status st = hal_spend_push(c->f->hal, c->info->cycles_per_insn, fw_insn_unit(in), &cmd);
    if (st != HAL_RESET) /* dispatched (a reset drops the job's result) */
        c->res->insns++;
    if (st != HAL_OK)
        c->st = st;
}

void fw_signal(fw_op_ctx *c, unsigned unit, uint32_t sem)
{
    isa_insn in = isa_insn_make(ISA_OP_SIGNAL);
    ISA_SET(&in, SIGNAL, UNIT, unit);
    ISA_SET(&in, SIGNAL, SEM, sem);
    fw_emit(c, &in);
}

void fw_wait(fw_op_ctx *c, unsigned unit, uint32_t sem)
{
    isa_insn in = isa_insn_make(ISA_OP_WAIT);
    ISA_SET(&in, WAIT, UNIT, unit);
    ISA_SET(&in, WAIT, SEM, sem);
    fw_emit(c, &in);
}

/* ---------------------------------------------------------------- DMA */

static void dma_one(fw_op_ctx *c, int load, unsigned q, uint32_t buf, uint64_t sram, uint64_t off, uint64_t rows,
                    uint64_t cols, uint64_t dstride, uint64_t sstride)
{
    isa_insn in = isa_insn_make(load ? ISA_OP_DMA_LD : ISA_OP_DMA_ST);
    ISA_SET(&in, DMA_LD, Q, q - NPU_UNIT_DMA0);
    ISA_SET(&in, DMA_LD, BUF, buf);
    ISA_SET(&in, DMA_LD, SRAM, sram);
    ISA_SET(&in, DMA_LD, OFF, off);
    ISA_SET(&in, DMA_LD, ROWS, rows);
    ISA_SET(&in, DMA_LD, COLS, cols);
    ISA_SET(&in, DMA_LD, DSTRIDE, rows > 1 ? dstride : cols);
    ISA_SET(&in, DMA_LD, SSTRIDE, rows > 1 ? sstride : cols);
    fw_emit(c, &in);
}

void fw_dma(fw_op_ctx *c, int load, unsigned q, uint32_t buf, uint32_t sram, uint64_t off, uint64_t rows,
            uint64_t cols, uint64_t dstride, uint64_t sstride)
{
    const uint64_t max_rows = FW_FIELD_MAX(DMA_LD, ROWS), max_cols = FW_FIELD_MAX(DMA_LD, COLS);
    const uint64_t max_stride = FW_FIELD_MAX(DMA_LD, DSTRIDE);
    if (rows == 0 || cols == 0)
        return;
    if (rows > 1 && dstride == cols && sstride == cols) { /* contiguous on both sides */
        fw_dma_flat(c, load, q, buf, sram, off, rows * cols);
        return;
    }
    if (cols > max_cols) {
        for (uint64_t c0 = 0; c0 < cols; c0 += max_cols)
            fw_dma(c, load, q, buf, (uint32_t)(sram + c0), off + c0, rows, min_u64(max_cols, cols - c0), dstride,
                   sstride);
        return;
    }
    if (rows > 1 && (dstride > max_stride || sstride > max_stride)) {
        for (uint64_t r = 0; r < rows; r++)
            dma_one(c, load, q, buf, sram + r * sstride, off + r * dstride, 1, cols, cols, cols);
        return;
    }
    for (uint64_t r0 = 0; r0 < rows; r0 += max_rows)
        dma_one(c, load, q, buf, sram + r0 * sstride, off + r0 * dstride, min_u64(max_rows, rows - r0), cols, dstride,
                sstride);
}

uint32_t fw_dma_flat_count(uint64_t bytes)
{
    if (bytes == 0)
        return 0;
    if (bytes <= FW_FIELD_MAX(DMA_LD, COLS))
        return 1;
    uint64_t rows = bytes / FW_FLAT_ROW_BYTES, max_rows = FW_FIELD_MAX(DMA_LD, ROWS);
    return (uint32_t)((rows + max_rows - 1) / max_rows + (bytes % FW_FLAT_ROW_BYTES != 0));
}

void fw_dma_flat(fw_op_ctx *c, int load, unsigned q, uint32_t buf, uint32_t sram, uint64_t off, uint64_t bytes)
{
    if (bytes == 0)
        return;
    if (bytes <= FW_FIELD_MAX(DMA_LD, COLS)) {
        dma_one(c, load, q, buf, sram, off, 1, bytes, bytes, bytes);
        return;
    }
    const uint64_t row = FW_FLAT_ROW_BYTES, max_rows = FW_FIELD_MAX(DMA_LD, ROWS);
    uint64_t rows = bytes / row, done = 0;
    for (uint64_t r0 = 0; r0 < rows; r0 += max_rows) {
        uint64_t n = min_u64(max_rows, rows - r0);
        dma_one(c, load, q, buf, sram + done, off + done, n, row, row, row);
        done += n * row;
    }
    if (done < bytes)
        dma_one(c, load, q, buf, sram + done, off + done, 1, bytes - done, bytes - done, bytes - done);
}

/* ---------------------------------------------------------------- compute instructions */

void fw_mm(fw_op_ctx *c, int ws, int acc, int int4, uint32_t m, uint32_t n, uint32_t k, uint32_t a, uint32_t b,
           uint32_t dst)
{
    fw_mm_typed(c, ws, acc, int4, ISA_MMT_I8, ISA_MMT_I8, m, n, k, a, b, dst);
}

int64_t fw_mm_type(uint32_t dtype)
{
    return dtype == NPU_DT_I16 ? ISA_MMT_I16 : dtype == NPU_DT_F16 ? ISA_MMT_F16 : ISA_MMT_I8;
}

static void mm_insn(fw_op_ctx *c, int ws, int acc, int int4, int64_t at, int64_t bt, int rq, uint32_t m, uint32_t n,
                    uint32_t k, uint32_t a, uint32_t b, uint32_t dst)
{
    isa_insn in = isa_insn_make(ISA_OP_MM);
    ISA_SET(&in, MM, AT, at);
    ISA_SET(&in, MM, BT, bt);
    ISA_SET(&in, MM, DF, ws ? ISA_DF_WS : ISA_DF_OS);
    ISA_SET(&in, MM, ACC, acc ? ISA_ACC_ADD : ISA_ACC_SET);
    ISA_SET(&in, MM, WT, int4 ? ISA_WT_I4 : ISA_WT_I8);
    ISA_SET(&in, MM, BIAS, ISA_BIAS_OFF);
    ISA_SET(&in, MM, RQ, rq ? ISA_RQ_ON : ISA_RQ_OFF);
    ISA_SET(&in, MM, M, m);
    ISA_SET(&in, MM, N, n);
    ISA_SET(&in, MM, K, k);
    ISA_SET(&in, MM, A, a);
    ISA_SET(&in, MM, B, b);
    ISA_SET(&in, MM, C, dst);
    fw_emit(c, &in);
}

void fw_mm_typed(fw_op_ctx *c, int ws, int acc, int int4, int64_t at, int64_t bt, uint32_t m, uint32_t n, uint32_t k,
                 uint32_t a, uint32_t b, uint32_t dst)
{
    mm_insn(c, ws, acc, int4, at, bt, 0, m, n, k, a, b, dst);
}

void fw_mm_rq(fw_op_ctx *c, int ws, int acc, int int4, int64_t at, int64_t bt, uint32_t m, uint32_t n, uint32_t k,
              uint32_t a, uint32_t b, uint32_t dst)
{
    mm_insn(c, ws, acc, int4, at, bt, 1, m, n, k, a, b, dst);
}

void fw_mm_out(fw_op_ctx *c, const fw_out_stage *st, int axis_row, uint32_t prm, uint32_t n, uint32_t tab)
{
    isa_insn in = isa_insn_make(ISA_OP_MM_OUT);
    ISA_SET(&in, MM_OUT, AXIS, axis_row ? ISA_AXIS_ROW : ISA_AXIS_COL);
    ISA_SET(&in, MM_OUT, LUT, st->lut ? ISA_LUT_ON : ISA_LUT_OFF);
    ISA_SET(&in, MM_OUT, PRM, prm);
    ISA_SET(&in, MM_OUT, N, n);
    ISA_SET(&in, MM_OUT, LO, st->lo);
    ISA_SET(&in, MM_OUT, HI, st->hi);
    ISA_SET(&in, MM_OUT, TAB, st->lut ? tab : 0);
    fw_emit(c, &in);
}

void fw_sm(fw_op_ctx *c, int causal, uint32_t src, uint32_t dst, uint32_t len, uint32_t rows, uint32_t scale,
           int32_t moff)
{
    isa_insn in = isa_insn_make(ISA_OP_SM);
    ISA_SET(&in, SM, MASK, causal ? ISA_MASK_CAUSAL : ISA_MASK_OFF);
    ISA_SET(&in, SM, SRC, src);
    ISA_SET(&in, SM, DST, dst);
    ISA_SET(&in, SM, LEN, len);
    ISA_SET(&in, SM, ROWS, rows);
    ISA_SET(&in, SM, SCALE, scale);
    ISA_SET(&in, SM, MOFF, moff);
    fw_emit(c, &in);
}

/* Split n elements into (rows x cols) pieces within the vector fields' widths: calls
 * piece(first element, rows, cols) for each. */
typedef void (*flat_piece_fn)(fw_op_ctx *c, const void *arg, uint64_t first, uint64_t rows, uint64_t cols);

static void flat_split(fw_op_ctx *c, uint64_t n, uint64_t max_rows, uint64_t max_cols, flat_piece_fn piece,
                       const void *arg)
{
    if (n == 0)
        return;
    uint64_t cols = min_u64(n, max_cols), rows = n / cols, done = 0;
    for (uint64_t r0 = 0; r0 < rows; r0 += max_rows) {
        uint64_t r = min_u64(max_rows, rows - r0);
        piece(c, arg, done, r, cols);
        done += r * cols;
    }
    if (done < n)
        piece(c, arg, done, 1, n - done);
}

typedef struct vun_arg {
    int64_t fn, dt;
    uint32_t dst, src;
    float imm;
} vun_arg;

static void vun_piece(fw_op_ctx *c, const void *arg, uint64_t first, uint64_t rows, uint64_t cols)
{
    const vun_arg *a = arg;
    isa_insn in = isa_insn_make(ISA_OP_VUN);
    ISA_SET(&in, VUN, FN, a->fn);
    ISA_SET(&in, VUN, DT, a->dt);
    ISA_SET(&in, VUN, DST, a->dst + F32_BYTES * first);
    ISA_SET(&in, VUN, SRC, a->src + F32_BYTES * first);
    ISA_SET(&in, VUN, ROWS, rows);
    ISA_SET(&in, VUN, COLS, cols);
    isa_set_f32(&in, ISA_F(VUN, IMM), a->imm);
    fw_emit(c, &in);
}

void fw_vun(fw_op_ctx *c, int64_t fn, uint32_t dst, uint32_t src, uint64_t n, float imm)
{
    vun_arg a = {fn, ISA_DT_F32, dst, src, imm};
    flat_split(c, n, FW_FIELD_MAX(VUN, ROWS), FW_FIELD_MAX(VUN, COLS), vun_piece, &a);
}

void fw_vzero(fw_op_ctx *c, uint32_t dst, uint64_t bytes)
{
    vun_arg a = {ISA_UNOP_MULI, ISA_DT_I32, dst, dst, 0.0f};
    flat_split(c, bytes / F32_BYTES, FW_FIELD_MAX(VUN, ROWS), FW_FIELD_MAX(VUN, COLS), vun_piece, &a);
}

typedef struct vbin_arg {
    int64_t fn, bc;
    uint32_t dst, a, b;
} vbin_arg;

static void vbin_emit(fw_op_ctx *c, int64_t fn, int64_t bc, uint32_t dst, uint32_t a, uint32_t b, uint64_t rows,
                      uint64_t cols)
{
    isa_insn in = isa_insn_make(ISA_OP_VBIN);
    ISA_SET(&in, VBIN, FN, fn);
    ISA_SET(&in, VBIN, DT, ISA_DT_F32);
    ISA_SET(&in, VBIN, BC, bc);
    ISA_SET(&in, VBIN, DST, dst);
    ISA_SET(&in, VBIN, A, a);
    ISA_SET(&in, VBIN, B, b);
    ISA_SET(&in, VBIN, ROWS, rows);
    ISA_SET(&in, VBIN, COLS, cols);
    fw_emit(c, &in);
}

static void vbin_piece(fw_op_ctx *c, const void *arg, uint64_t first, uint64_t rows, uint64_t cols)
{
    const vbin_arg *v = arg;
    uint32_t off = (uint32_t)(F32_BYTES * first);
    vbin_emit(c, v->fn, v->bc, v->dst + off, v->a + off, v->bc == ISA_BC_SCALAR ? v->b : v->b + off, rows, cols);
}

void fw_vbin_flat(fw_op_ctx *c, int64_t fn, int scalar_b, uint32_t dst, uint32_t a, uint32_t b, uint64_t n)
{
    vbin_arg v = {fn, scalar_b ? ISA_BC_SCALAR : ISA_BC_NONE, dst, a, b};
    flat_split(c, n, FW_FIELD_MAX(VBIN, ROWS), FW_FIELD_MAX(VBIN, COLS), vbin_piece, &v);
}

void fw_vbin_rows(fw_op_ctx *c, int64_t fn, int64_t bc, uint32_t dst, uint32_t a, uint32_t b, uint64_t rows,
                  uint64_t cols)
{
    if (bc == ISA_BC_NONE || bc == ISA_BC_SCALAR) {
        fw_vbin_flat(c, fn, bc == ISA_BC_SCALAR, dst, a, b, rows * cols);
        return;
    }
    const uint64_t max_rows = FW_FIELD_MAX(VBIN, ROWS);
    for (uint64_t r0 = 0; r0 < rows; r0 += max_rows) {
        uint32_t off = (uint32_t)(F32_BYTES * r0 * cols);
        vbin_emit(c, fn, bc, dst + off, a + off, bc == ISA_BC_COL ? b + (uint32_t)(F32_BYTES * r0) : b,
                  min_u64(max_rows, rows - r0), cols);
    }
}

void fw_vred(fw_op_ctx *c, int64_t fn, uint32_t dst, uint32_t src, uint64_t rows, uint64_t cols)
{
    const uint64_t max_rows = FW_FIELD_MAX(VRED, ROWS);
    for (uint64_t r0 = 0; r0 < rows; r0 += max_rows) {
        isa_insn in = isa_insn_make(ISA_OP_VRED);
        ISA_SET(&in, VRED, FN, fn);
        ISA_SET(&in, VRED, DT, ISA_DT_F32);
        ISA_SET(&in, VRED, DST, dst + F32_BYTES * r0);
        ISA_SET(&in, VRED, SRC, src + F32_BYTES * r0 * cols);
        ISA_SET(&in, VRED, ROWS, min_u64(max_rows, rows - r0));
        ISA_SET(&in, VRED, COLS, cols);
        fw_emit(c, &in);
    }
}

void fw_vnorm(fw_op_ctx *c, int64_t fn, int64_t aff, uint32_t dst, uint32_t src, uint32_t prm, uint64_t rows,
              uint64_t cols, int eps_exp)
{
    const uint64_t max_rows = FW_FIELD_MAX(VNORM, ROWS);
    for (uint64_t r0 = 0; r0 < rows; r0 += max_rows) {
        isa_insn in = isa_insn_make(ISA_OP_VNORM);
        ISA_SET(&in, VNORM, FN, fn);
        ISA_SET(&in, VNORM, AFF, aff);
        ISA_SET(&in, VNORM, DST, dst + F32_BYTES * r0 * cols);
        ISA_SET(&in, VNORM, SRC, src + F32_BYTES * r0 * cols);
        ISA_SET(&in, VNORM, PRM, prm);
        ISA_SET(&in, VNORM, ROWS, min_u64(max_rows, rows - r0));
        ISA_SET(&in, VNORM, COLS, cols);
        ISA_SET(&in, VNORM, EPS, eps_exp);
        fw_emit(c, &in);
    }
}

void fw_vquant(fw_op_ctx *c, uint32_t dst, uint32_t src, uint64_t n, float scale)
{
    const uint64_t max_n = FW_FIELD_MAX(VQUANT, N);
    for (uint64_t i0 = 0; i0 < n; i0 += max_n) {
        isa_insn in = isa_insn_make(ISA_OP_VQUANT);
        ISA_SET(&in, VQUANT, DST, dst + i0);
        ISA_SET(&in, VQUANT, SRC, src + F32_BYTES * i0);
        ISA_SET(&in, VQUANT, N, min_u64(max_n, n - i0));
        isa_set_f32(&in, ISA_F(VQUANT, SCALE), scale);
        fw_emit(c, &in);
    }
}

void fw_vdequant(fw_op_ctx *c, int64_t sdt, uint32_t dst, uint32_t src, uint64_t n, float scale)
{
    const uint64_t max_n = FW_FIELD_MAX(VDEQUANT, N), esz = sdt == ISA_SDT_I8 ? 1 : F32_BYTES;
    if (n == 0)
        return;
    /* last piece first: an int8 source at the start of its own f32 destination stays intact */
    for (uint64_t i0 = (n - 1) / max_n * max_n;; i0 -= max_n) {
        isa_insn in = isa_insn_make(ISA_OP_VDEQUANT);
        ISA_SET(&in, VDEQUANT, SDT, sdt);
        ISA_SET(&in, VDEQUANT, DST, dst + F32_BYTES * i0);
        ISA_SET(&in, VDEQUANT, SRC, src + esz * i0);
        ISA_SET(&in, VDEQUANT, N, min_u64(max_n, n - i0));
        isa_set_f32(&in, ISA_F(VDEQUANT, SCALE), scale);
        fw_emit(c, &in);
        if (i0 == 0)
            break;
    }
}

static uint64_t cdt_bytes(int64_t t)
{
    return t == ISA_CDT_I8 ? 1 : t == ISA_CDT_I16 || t == ISA_CDT_F16 ? 2 : F32_BYTES;
}

void fw_vcvt(fw_op_ctx *c, int64_t sdt, int64_t ddt, uint32_t dst, uint32_t src, uint64_t n, float scale)
{
    const uint64_t max_n = FW_FIELD_MAX(VCVT, N), se = cdt_bytes(sdt), de = cdt_bytes(ddt);
    if (n == 0)
        return;
    /* in place and widening: the last piece first, as each instruction goes last first */
    int backwards = de > se;
    uint64_t pieces = (n + max_n - 1) / max_n;
    for (uint64_t p = 0; p < pieces; p++) {
        uint64_t i0 = (backwards ? pieces - 1 - p : p) * max_n;
        isa_insn in = isa_insn_make(ISA_OP_VCVT);
        ISA_SET(&in, VCVT, SDT, sdt);
        ISA_SET(&in, VCVT, DDT, ddt);
        ISA_SET(&in, VCVT, DST, dst + de * i0);
        ISA_SET(&in, VCVT, SRC, src + se * i0);
        ISA_SET(&in, VCVT, N, min_u64(max_n, n - i0));
        isa_set_f32(&in, ISA_F(VCVT, SCALE), scale);
        fw_emit(c, &in);
    }
}

static void vmov_emit(fw_op_ctx *c, int transpose, uint32_t esz_bytes, uint32_t dst, uint32_t src, uint64_t rows,
                      uint64_t cols, uint64_t sstride, uint64_t dstride)
{
    isa_insn in = isa_insn_make(ISA_OP_VMOV);
    ISA_SET(&in, VMOV, FN, transpose ? ISA_MOV_TRANSPOSE : ISA_MOV_COPY);
    ISA_SET(&in, VMOV, ESZ, esz_bytes == 1 ? ISA_ESZ_B1 : esz_bytes == 2 ? ISA_ESZ_B2 : ISA_ESZ_B4);
    ISA_SET(&in, VMOV, DST, dst);
    ISA_SET(&in, VMOV, SRC, src);
    ISA_SET(&in, VMOV, ROWS, rows);
    ISA_SET(&in, VMOV, COLS, cols);
    ISA_SET(&in, VMOV, SSTRIDE, sstride);
    ISA_SET(&in, VMOV, DSTRIDE, dstride);
    fw_emit(c, &in);
}

void fw_vmov(fw_op_ctx *c, int transpose, uint32_t esz_bytes, uint32_t dst, uint32_t src, uint64_t rows,
             uint64_t cols, uint64_t sstride, uint64_t dstride)
{
    const uint64_t max_rows = FW_FIELD_MAX(VMOV, ROWS);
    if (!transpose && rows > 1 && sstride == cols && dstride == cols) { /* contiguous: one flat copy */
        uint64_t n = rows * cols, max_cols = FW_FIELD_MAX(VMOV, COLS);
        uint64_t w = min_u64(n, max_cols), r = n / w, done = 0;
        for (uint64_t r0 = 0; r0 < r; r0 += max_rows) {
            uint64_t k = min_u64(max_rows, r - r0);
            vmov_emit(c, 0, esz_bytes, dst + (uint32_t)(done * esz_bytes), src + (uint32_t)(done * esz_bytes), k, w,
                      w, w);
            done += k * w;
        }
        if (done < n)
            vmov_emit(c, 0, esz_bytes, dst + (uint32_t)(done * esz_bytes), src + (uint32_t)(done * esz_bytes), 1,
                      n - done, n - done, n - done);
        return;
    }
    for (uint64_t r0 = 0; r0 < rows; r0 += max_rows) {
        uint64_t k = min_u64(max_rows, rows - r0);
        uint32_t s = src + (uint32_t)(r0 * sstride * esz_bytes);
        uint32_t d = dst + (uint32_t)((transpose ? r0 : r0 * dstride) * esz_bytes);
        vmov_emit(c, transpose, esz_bytes, d, s, k, cols, k > 1 ? sstride : (sstride ? sstride : 1),
                  dstride ? dstride : 1);
    }
}

void fw_to_f32(fw_op_ctx *c, const npu_tensor_ref *t, uint32_t dst, uint32_t src, uint64_t n)
{
    if (t->dtype == NPU_DT_I8)
        fw_vdequant(c, ISA_SDT_I8, dst, src, n, t->scale);
    else if (t->dtype == NPU_DT_I16)
        fw_vcvt(c, ISA_CDT_I16, ISA_CDT_F32, dst, src, n, t->scale);
    else if (t->dtype == NPU_DT_F16)
        fw_vcvt(c, ISA_CDT_F16, ISA_CDT_F32, dst, src, n, 1.0f);
    else if (dst != src)
        fw_vmov(c, 0, F32_BYTES, dst, src, 1, n, n, n);
}

void fw_from_f32(fw_op_ctx *c, const npu_tensor_ref *t, uint32_t dst, uint32_t src, uint64_t n)
{
    if (t->dtype == NPU_DT_I8)
        fw_vquant(c, dst, src, n, t->scale);
    else if (t->dtype == NPU_DT_I16)
        fw_vcvt(c, ISA_CDT_F32, ISA_CDT_I16, dst, src, n, t->scale);
    else if (t->dtype == NPU_DT_F16)
        fw_vcvt(c, ISA_CDT_F32, ISA_CDT_F16, dst, src, n, 1.0f);
    else if (dst != src)
        fw_vmov(c, 0, F32_BYTES, dst, src, 1, n, n, n);
}

/* ---------------------------------------------------------------- pipelines */

void fw_pipe_init(fw_op_ctx *c, fw_pipe *p, uint32_t nslots, uint32_t nstages, uint64_t slot_bytes,
                  uint32_t total)
{
    memset(p, 0, sizeof *p);
    if (nstages < 1 || nstages > FW_PIPE_MAX_STAGES) {
        bug(c, "a pipe of %u stages (at most %d)", nstages, FW_PIPE_MAX_STAGES);
        return;
    }
    if (nslots > total)
        nslots = total;
    if (nslots < 1)
        nslots = 1;
    if (nslots > FW_PIPE_MAX_SLOTS)
        nslots = FW_PIPE_MAX_SLOTS;
    p->nslots = nslots;
    p->nstages = nstages;
    p->total = total;
    p->slot_bytes = (uint32_t)fw_align(slot_bytes);
    for (uint32_t s = 0; s < nslots; s++) {
        p->addr[s] = fw_sram_alloc(c, slot_bytes);
        for (uint32_t k = 0; k < nstages; k++)
            p->sem[k][s] = fw_sem_alloc(c);
    }
}

uint32_t fw_pipe_slot_index(const fw_pipe *p, uint32_t stage) { return p->count[stage] % p->nslots; }

uint32_t fw_pipe_slot(const fw_pipe *p, uint32_t stage) { return p->addr[fw_pipe_slot_index(p, stage)]; }

uint32_t fw_pipe_begin(fw_op_ctx *c, fw_pipe *p, uint32_t stage, unsigned unit)
{
    uint32_t item = p->count[stage], s = item % p->nslots;
    if (stage > 0)
        fw_wait(c, unit, p->sem[stage - 1][s]);
    else if (item >= p->nslots)
        fw_wait(c, unit, p->sem[p->nstages - 1][s]);
    return p->addr[s];
}

void fw_pipe_end(fw_op_ctx *c, fw_pipe *p, uint32_t stage, unsigned unit)
{
    uint32_t item = p->count[stage], s = item % p->nslots;
    if (stage + 1 < p->nstages || item + p->nslots < p->total)
        fw_signal(c, unit, p->sem[stage][s]);
    p->count[stage]++;
}
