/* op_act.c -- NPU_OP_ACTIVATION (an activation on its own: Clip, HardSigmoid, HardSwish, LeakyRelu,
 * PRelu ...) and NPU_OP_CHANNEL_AFFINE (x * scale[r] + shift[r] with a fused activation: a
 * BatchNormalization that could not be folded into a convolution) on the vector unit.
 *
 * Both stream their tensor through three SRAM slots (load -> vector -> store, fw_pipe) as
 * op_eltwise.c does. An activation without a per-row operand streams flat chunks; HardSwish
 * keeps a temporary beside each chunk for its gate. PRelu and the channel affine stream whole
 * rows (or pieces of a row too long for a slot) with their per-row column operands (slopes;
 * scales and shifts), loaded beside the rows in the same slot and applied as column broadcasts. The channel affine is the convolutions'
 * epilogue (fw_epilogue.c) applied to a tensor. The arithmetic is in README.md ("ACTIVATION",
 * "CHANNEL_AFFINE").
 */
#include "fw_ops.h"

#include <string.h>

/* HardSwish's gate: hardsigmoid with ONNX's fixed alpha = 1/6 and beta = 1/2, clamped to [0, 1]. */
#define HARDSWISH_ALPHA (1.0f / 6.0f)
#define HARDSWISH_BETA 0.5f
#define HARD_SIGMOID_LO 0.0f
#define HARD_SIGMOID_HI 1.0f

typedef struct act_plan {
    int32_t act;
    int by_rows;                /* rows with per-row operands (PRelu, channel affine) */
    uint64_t numel, rows, cols;
    uint64_t chunk;             /* elements (flat) or rows per slot */
    uint64_t piece;             /* by rows: columns per slot (cols, or a piece of one row) */
    uint64_t slot_bytes;
    uint64_t tmp_off, col_off;  /* within a slot: the temporary, the column operands */
    uint32_t ncols_ops;         /* column operands (f32 per row) */
    uint32_t items;
} act_plan;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* SRAM left for the rows of three slots when each slot holds `areas` aligned areas. */
static uint64_t usable_sram(const fw_op_ctx *c, uint64_t areas)
{
    uint64_t slack = FW_STREAM_SLOTS * areas * FW_SRAM_ALIGN_BYTES;
    return c->info->sram_bytes > slack ? c->info->sram_bytes - slack : 0;
}

/* Flat chunks of f32 elements, with a temporary of the same size beside each when tmp. */
static int plan_flat(const fw_op_ctx *c, act_plan *p, int tmp, char *why, size_t whylen)
{
    p->chunk = fw_chunk_rows(usable_sram(c, 2), FW_STREAM_SLOTS, tmp ? 8 : 4, p->numel);
    if (p->chunk == 0)
        return fw_refuse(why, whylen, "does not fit in the %u-byte SRAM", c->info->sram_bytes);
    p->tmp_off = fw_align(4 * p->chunk);
    p->slot_bytes = tmp ? 2 * p->tmp_off : 4 * p->chunk;
    p->items = (uint32_t)ceil_div(p->numel, p->chunk);
    return 0;
}

/* Chunks of whole rows, or pieces of one row when a row does not fit: x (4 per element), a
 * temporary (tmp: 4 per element), and ncols f32 per row. */
static int plan_rows(const fw_op_ctx *c, act_plan *p, int tmp, uint32_t ncols, char *why, size_t whylen)
{
    uint64_t per_elem = tmp ? 8 : 4, avail = usable_sram(c, 3);
    p->piece = p->cols;
    p->chunk = fw_chunk_rows(avail, FW_STREAM_SLOTS, per_elem * p->cols + 4 * ncols, p->rows);
    if (p->chunk == 0) { /* one row at a time, in pieces */
        p->chunk = 1;
        p->piece = fw_chunk_rows(avail > 4 * FW_STREAM_SLOTS * ncols ? avail - 4 * FW_STREAM_SLOTS * ncols : 0,
                                 FW_STREAM_SLOTS, per_elem, p->cols);
        if (p->piece == 0)
            return fw_refuse(why, whylen, "does not fit in the %u-byte SRAM", c->info->sram_bytes);
    }
    if (p->piece > FW_FIELD_MAX(VBIN, COLS))
        p->piece = FW_FIELD_MAX(VBIN, COLS);
    if (p->piece < p->cols)
        p->chunk = 1;
    uint64_t xb = fw_align(4 * p->chunk * p->piece);
    p->tmp_off = xb;
    p->col_off = tmp ? 2 * xb : xb;
    p->ncols_ops = ncols;
    p->slot_bytes = p->col_off + 4 * p->chunk * ncols;
    p->items = (uint32_t)(ceil_div(p->rows, p->chunk) * ceil_div(p->cols, p->piece));
    return 0;
}

/* x and out: activations of equal element count; rows x cols with cols = in0's last dim. */
static int check_io(const fw_op_ctx *c, const npu_op_desc *d, act_plan *p, char *why, size_t whylen)
{
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, &d->in[0], "in0", why, whylen) || fw_check_act(c, &d->out, "out", why, whylen))
        return -1;
    p->numel = fw_numel(&d->in[0]);
    if (fw_numel(&d->out) != p->numel)
        return fw_refuse(why, whylen, "out: %llu elements, in0 has %llu", (unsigned long long)fw_numel(&d->out),
                         (unsigned long long)p->numel);
    p->cols = (uint64_t)d->in[0].dims[d->in[0].rank - 1];
    p->rows = p->numel / p->cols;
    return 0;
}

/* A per-row f32 column operand [rows, 1]. */
static int check_column(const fw_op_ctx *c, const npu_op_desc *d, uint32_t i, const char *what, const act_plan *p,
                        char *why, size_t whylen)
{
    if (d->n_inputs <= i || d->in[i].buf == NPU_NO_BUFFER)
        return fw_refuse(why, whylen, "%s is missing", what);
    return fw_check_f32_vec(c, &d->in[i], what, p->rows, why, whylen);
}

/* ---------------------------------------------------------------- activation */

static int act_plan_make(const fw_op_ctx *c, const npu_op_desc *d, act_plan *p, char *why, size_t whylen)
{
    if (check_io(c, d, p, why, whylen))
        return -1;
    p->act = d->iattr[0];
    if (p->act == NPU_ACT_PRELU) {
        if (check_column(c, d, 1, "in1 (slopes)", p, why, whylen))
            return -1;
        p->by_rows = 1;
        return plan_rows(c, p, 1, 1, why, whylen);
    }
    if (p->act == NPU_ACT_HARDSWISH)
        return plan_flat(c, p, 1, why, whylen);
    if (fw_check_fused_act(p->act, why, whylen))
        return -1;
    return plan_flat(c, p, 0, why, whylen);
}

static int act_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    act_plan p;
    return act_plan_make(c, d, &p, why, whylen);
}

/* The vector work on one chunk at s: n elements, or k rows of cc columns when by rows. */
static void act_compute(fw_op_ctx *c, const npu_op_desc *d, const act_plan *p, uint32_t s, uint64_t k, uint64_t cc)
{
    uint64_t n = k * cc;
    uint32_t tmp = s + (uint32_t)p->tmp_off;
    if (p->act == NPU_ACT_HARDSWISH) {
        /* the gate hardsigmoid(x) into the temporary (the first step reads x), then x * gate */
        fw_vun(c, ISA_UNOP_MULI, tmp, s, n, HARDSWISH_ALPHA);
        fw_vun(c, ISA_UNOP_ADDI, tmp, tmp, n, HARDSWISH_BETA);
        fw_vun(c, ISA_UNOP_MAXI, tmp, tmp, n, HARD_SIGMOID_LO);
        fw_vun(c, ISA_UNOP_MINI, tmp, tmp, n, HARD_SIGMOID_HI);
        fw_vbin_flat(c, ISA_BINOP_MUL, 0, s, s, tmp, n);
    } else if (p->act == NPU_ACT_PRELU) { /* relu(x) + min(x, 0) * slope */
        fw_vun(c, ISA_UNOP_MINI, tmp, s, n, 0.0f);
        fw_vbin_rows(c, ISA_BINOP_MUL, ISA_BC_COL, tmp, tmp, s + (uint32_t)p->col_off, k, cc);
        fw_vun(c, ISA_UNOP_RELU, s, s, n, 0.0f);
        fw_vbin_flat(c, ISA_BINOP_ADD, 0, s, s, tmp, n);
    } else {
        fw_activation(c, p->act, d->fattr, s, n);
    }
}

/* Stream flat elements, or rows (pieces of rows) with their column operands, through the three
 * slots; compute(s, k, cc) does the vector work on k rows of cc elements (flat: k = 1), from the
 * loaded elements at s to the output's type in place. */
static void stream(fw_op_ctx *c, const npu_op_desc *d, const act_plan *p,
                   void (*compute)(fw_op_ctx *, const npu_op_desc *, const act_plan *, uint32_t, uint64_t, uint64_t))
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    uint32_t xs = fw_dtype_bytes(x->dtype), ys = fw_dtype_bytes(y->dtype);
    fw_pipe pipe;
    fw_pipe_init(c, &pipe, FW_STREAM_SLOTS, 3, p->slot_bytes, p->items);
    unsigned sq = fw_store_queue(c);
    uint64_t rows = p->by_rows ? p->rows : 1, cols = p->by_rows ? p->cols : p->numel;
    uint64_t rstep = p->by_rows ? p->chunk : 1, cstep = p->by_rows ? p->piece : p->chunk;
    for (uint64_t r0 = 0; r0 < rows; r0 += rstep)
        for (uint64_t c0 = 0; c0 < cols; c0 += cstep) {
            uint64_t k = rows - r0 < rstep ? rows - r0 : rstep, cc = cols - c0 < cstep ? cols - c0 : cstep;
            uint64_t e0 = r0 * cols + c0, n = k * cc; /* whole rows or one row's piece: contiguous */
            unsigned q = fw_load_queue(c, fw_pipe_slot_index(&pipe, 0));
            uint32_t s = fw_pipe_begin(c, &pipe, 0, q);
            fw_dma_flat(c, 1, q, x->buf, s, x->offset + e0 * xs, n * xs);
            for (uint32_t j = 0; j < p->ncols_ops; j++) /* the rows' column operands: in1, in2 */
                fw_dma_flat(c, 1, q, d->in[1 + j].buf, s + (uint32_t)(p->col_off + 4 * j * p->chunk),
                            d->in[1 + j].offset + 4 * r0, 4 * k);
            fw_pipe_end(c, &pipe, 0, q);
            fw_pipe_begin(c, &pipe, 1, NPU_UNIT_VEC);
            compute(c, d, p, s, k, cc);
            fw_pipe_end(c, &pipe, 1, NPU_UNIT_VEC);
            fw_pipe_begin(c, &pipe, 2, sq);
            fw_dma_flat(c, 0, sq, y->buf, s, y->offset + e0 * ys, n * ys);
            fw_pipe_end(c, &pipe, 2, sq);
        }
}

static void act_compute_chunk(fw_op_ctx *c, const npu_op_desc *d, const act_plan *p, uint32_t s, uint64_t k,
                              uint64_t cc)
{
    fw_to_f32(c, &d->in[0], s, s, k * cc);
    act_compute(c, d, p, s, k, cc);
    fw_from_f32(c, &d->out, s, s, k * cc);
}

static void act_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    act_plan p;
    char why[FW_WHY_BYTES];
    if (act_plan_make(c, d, &p, why, sizeof why) == 0)
        stream(c, d, &p, act_compute_chunk);
}

/* The tiling of an activation or a channel affine: flat chunks, or rows with per-row operands. */
static void act_plan_describe(const act_plan *p, char *buf, size_t len)
{
    if (p->by_rows)
        snprintf(buf, len, "%llu rows of %llu, %llu rows of %llu columns per slot", (unsigned long long)p->rows,
                 (unsigned long long)p->cols, (unsigned long long)p->chunk, (unsigned long long)p->piece);
    else
        snprintf(buf, len, "%llu elements, %llu per slot", (unsigned long long)p->numel,
                 (unsigned long long)p->chunk);
}

static void act_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    act_plan p;
    char why[FW_WHY_BYTES];
    if (!act_plan_make(c, d, &p, why, sizeof why))
        act_plan_describe(&p, buf, len);
}

const fw_op_kernel fw_kernel_activation = {"activation", act_check, act_emit, act_describe};

/* ---------------------------------------------------------------- channel affine */

static int aff_plan_make(const fw_op_ctx *c, const npu_op_desc *d, act_plan *p, char *why, size_t whylen)
{
    if (check_io(c, d, p, why, whylen))
        return -1;
    if (d->n_inputs < 3)
        return fw_refuse(why, whylen, "needs 3 inputs (x, scales, shifts), has %u", d->n_inputs);
    if (check_column(c, d, 1, "in1 (scales)", p, why, whylen) || check_column(c, d, 2, "in2 (shifts)", p, why, whylen))
        return -1;
    if (fw_check_fused_act(d->iattr[0], why, whylen))
        return -1;
    p->act = d->iattr[0];
    p->by_rows = 1;
    return plan_rows(c, p, 0, 2, why, whylen);
}

static int aff_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    act_plan p;
    return aff_plan_make(c, d, &p, why, whylen);
}

static void aff_compute_chunk(fw_op_ctx *c, const npu_op_desc *d, const act_plan *p, uint32_t s, uint64_t k,
                              uint64_t cc)
{
    fw_epilogue ep = {d->in[0].scale, 1, 1, (uint32_t)(4 * p->chunk), p->act, d->fattr, &d->out};
    if (d->in[0].dtype == NPU_DT_I8)
        fw_epilogue_load(c, &ep, ISA_SDT_I8, s, s, k * cc);
    fw_epilogue_finish(c, &ep, s, s + (uint32_t)p->col_off, k, cc);
}

static void aff_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    act_plan p;
    char why[FW_WHY_BYTES];
    if (aff_plan_make(c, d, &p, why, sizeof why) == 0)
        stream(c, d, &p, aff_compute_chunk);
}

static void aff_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    act_plan p;
    char why[FW_WHY_BYTES];
    if (!aff_plan_make(c, d, &p, why, sizeof why))
        act_plan_describe(&p, buf, len);
}

const fw_op_kernel fw_kernel_channel_affine = {"channel_affine", aff_check, aff_emit, aff_describe};
