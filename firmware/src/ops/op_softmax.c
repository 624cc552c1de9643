/* op_softmax.c -- NPU_OP_SOFTMAX over the last axis on the softmax tile, or on the vector unit.
 *
 * The tile takes int8 rows and writes int8 probabilities in Q0.7 (scale 1/128), so the output is
 * i8 with that scale, or f32 through one v.dequant. Rows stream through three slots (load ->
 * sm [-> vector] -> store), one sm instruction per chunk of rows. A causal mask counts rows from
 * the start of each [rows, len] matrix (the last two dims), so with a mask a chunk stays inside
 * one matrix and its mask offset is shifted by the chunk's first row. The arithmetic is the
 * tile's fixed-point algorithm (isa/isa_exec.c); README.md ("SOFTMAX") gives the scale rule.
 *
 * The tile reads int8 only: an i16 or f16 input (16-bit activations, whose precision Q0.7 would
 * throw away) runs on the vector unit in f32 instead: row max, x - max, exp, row sum, e / sum, in
 * chunks of rows with column broadcasts; with a causal mask row by row over each row's unmasked
 * prefix, the masked rest written as +0. Its output takes any activation type and scale.
 */
#include "fw_ops.h"

#include <stdio.h>
#include <string.h>

#include "isa_exec.h"

#define LOG2_E 1.4426950408889634

typedef struct sm_plan {
    uint64_t rows, len, mrows;  /* all rows, row length, rows per matrix */
    int causal;
    uint32_t scale_q;
    uint64_t chunk, slot_bytes, items;
    int f32_out;
    int vec;                    /* the vector unit's f32 softmax (an i16 or f16 input) */
    uint32_t xs, ys;            /* bytes per input and output element */
} sm_plan;

static uint64_t sm_items(const sm_plan *p)
{
    if (!p->causal)
        return (p->rows + p->chunk - 1) / p->chunk;
    return p->rows / p->mrows * ((p->mrows + p->chunk - 1) / p->chunk);
}

static int sm_plan_make(const fw_op_ctx *c, const npu_op_desc *d, sm_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, y, "out", why, whylen))
        return -1;
    if (x->dtype == NPU_DT_F32)
        return fw_refuse(why, whylen, "in0: dtype f32 (the softmax reads i8 on the tile, i16 or f16 on the vector unit)");
    p->vec = x->dtype != NPU_DT_I8;
    p->xs = fw_dtype_bytes(x->dtype);
    p->ys = fw_dtype_bytes(y->dtype);
    const float out_scale = 1.0f / (float)(1 << ISA_SM_OUT_FRAC_BITS);
    if (!p->vec && y->dtype == NPU_DT_I8 && y->scale != out_scale)
        return fw_refuse(why, whylen, "out: i8 scale %g (the tile writes Q0.7: the scale must be 1/128)",
                         (double)y->scale);
    p->f32_out = y->dtype != NPU_DT_I8; /* the tile's Q0.7 goes through f32 to any other type */
    p->len = (uint64_t)x->dims[x->rank - 1];
    p->rows = fw_numel(x) / p->len;
    p->mrows = x->rank >= 2 ? (uint64_t)x->dims[x->rank - 2] : 1;
    if (fw_numel(y) != fw_numel(x))
        return fw_refuse(why, whylen, "out: %llu elements, in0 has %llu", (unsigned long long)fw_numel(y),
                         (unsigned long long)fw_numel(x));
    if (!p->vec && p->len > c->info->sm_max_len)
        return fw_refuse(why, whylen, "rows of %llu elements exceed the softmax tile's %u", (unsigned long long)p->len,
                         c->info->sm_max_len);
    if (p->vec && p->len > FW_FIELD_MAX(VBIN, COLS))
        return fw_refuse(why, whylen, "rows of %llu elements exceed the vector unit's %llu", (unsigned long long)p->len,
                         (unsigned long long)FW_FIELD_MAX(VBIN, COLS));
    if (!p->vec) {
        double sq = (double)x->scale * LOG2_E * (double)(1 << ISA_SM_SCALE_FRAC_BITS) + 0.5;
        if (!(sq >= 1.0 && sq < (double)FW_FIELD_MAX(SM, SCALE) + 1.0))
            return fw_refuse(why, whylen,
                             "in0 scale %g is outside the tile's range (scale * log2(e) in Q4.12: 1..%llu)",
                             (double)x->scale, (unsigned long long)FW_FIELD_MAX(SM, SCALE));
        p->scale_q = (uint32_t)sq;
    }
    if (d->iattr[0] != 0 && d->iattr[0] != 1)
        return fw_refuse(why, whylen, "iattr[0] (causal) = %d (expected 0 or 1)", d->iattr[0]);
    /* a mask every element passes is no mask */
    p->causal = d->iattr[0] == 1 && (int64_t)d->iattr[1] < (int64_t)p->len - 1;
    /* a row in the slot: the tile's int8 (f32 when converted), or the vector unit's f32 and its
     * row statistic */
    uint64_t row_bytes = p->vec ? 4 * p->len + 4 : p->len * (p->f32_out ? 4 : 1);
    p->chunk = fw_chunk_rows(c->info->sram_bytes, FW_STREAM_SLOTS, row_bytes, p->causal ? p->mrows : p->rows);
    if (p->chunk == 0)
        return fw_refuse(why, whylen, "a row of %llu elements does not fit in the %u-byte SRAM",
                         (unsigned long long)p->len, c->info->sram_bytes);
    if (p->chunk > FW_FIELD_MAX(SM, ROWS))
        p->chunk = FW_FIELD_MAX(SM, ROWS); /* also the vector instructions' rows */
    if (p->causal) {
        int64_t lo = (int64_t)d->iattr[1], hi = lo + (int64_t)(p->mrows - 1);
        int64_t smin = -(int64_t)FW_FIELD_MAX(SM, MOFF) - 1;
        if (lo < smin || hi > (int64_t)FW_FIELD_MAX(SM, MOFF))
            return fw_refuse(why, whylen, "mask offsets %lld..%lld exceed the tile's signed 16 bits", (long long)lo,
                             (long long)hi);
    }
    p->slot_bytes = p->chunk * row_bytes;
    p->items = sm_items(p);
    return 0;
}

static int sm_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    sm_plan p;
    return sm_plan_make(c, d, &p, why, whylen);
}

/* The vector unit's softmax of k rows of f32 at s (row statistics at st); with a mask, row by
 * row over each row's unmasked prefix: row i of the chunk keeps elements 0 .. i + moff (moff is
 * the mask offset already shifted by the chunk's first row, as the tile takes it). */
static void sm_vector(fw_op_ctx *c, const sm_plan *p, uint32_t s, uint32_t st, uint64_t k, int32_t moff)
{
    const uint64_t len = p->len;
    if (!p->causal) {
        fw_vred(c, ISA_REDOP_MAX, st, s, k, len);
        fw_vbin_rows(c, ISA_BINOP_SUB, ISA_BC_COL, s, s, st, k, len);
        fw_vun(c, ISA_UNOP_EXP, s, s, k * len, 0.0f);
        fw_vred(c, ISA_REDOP_SUM, st, s, k, len);
        fw_vbin_rows(c, ISA_BINOP_DIV, ISA_BC_COL, s, s, st, k, len);
        return;
    }
    for (uint64_t i = 0; i < k; i++) {
        uint32_t row = s + (uint32_t)(4 * i * len);
        int64_t last = (int64_t)i + moff; /* the last unmasked element */
        uint64_t valid = last < 0 ? 0 : (uint64_t)last + 1 >= len ? len : (uint64_t)last + 1;
        if (valid > 0) {
            fw_vred(c, ISA_REDOP_MAX, st, row, 1, valid);
            fw_vbin_flat(c, ISA_BINOP_SUB, 1, row, row, st, valid);
            fw_vun(c, ISA_UNOP_EXP, row, row, valid, 0.0f);
            fw_vred(c, ISA_REDOP_SUM, st, row, 1, valid);
            fw_vbin_flat(c, ISA_BINOP_DIV, 1, row, row, st, valid);
        }
        if (valid < len)
            fw_vzero(c, row + (uint32_t)(4 * valid), 4 * (len - valid));
    }
}

static void sm_chunk(fw_op_ctx *c, const npu_op_desc *d, const sm_plan *p, fw_pipe *pipe, uint64_t r0, uint64_t k,
                     int32_t moff)
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    uint64_t n = k * p->len;
    if (p->vec) { /* load, f32 softmax, store: three stages */
        unsigned q = fw_load_queue(c, fw_pipe_slot_index(pipe, 0)), sq = fw_store_queue(c);
        uint32_t s = fw_pipe_begin(c, pipe, 0, q);
        fw_dma_flat(c, 1, q, x->buf, s, x->offset + r0 * p->len * p->xs, n * p->xs);
        fw_pipe_end(c, pipe, 0, q);
        fw_pipe_begin(c, pipe, 1, NPU_UNIT_VEC);
        uint32_t st = s + (uint32_t)(4 * n);
        fw_to_f32(c, x, s, s, n);
        sm_vector(c, p, s, st, k, moff);
        fw_from_f32(c, y, s, s, n);
        fw_pipe_end(c, pipe, 1, NPU_UNIT_VEC);
        fw_pipe_begin(c, pipe, 2, sq);
        fw_dma_flat(c, 0, sq, y->buf, s, y->offset + r0 * p->len * p->ys, n * p->ys);
        fw_pipe_end(c, pipe, 2, sq);
        return;
    }
    unsigned q = fw_load_queue(c, fw_pipe_slot_index(pipe, 0)), sq = fw_store_queue(c);
    uint32_t s = fw_pipe_begin(c, pipe, 0, q);
    fw_dma_flat(c, 1, q, x->buf, s, x->offset + r0 * p->len, n);
    fw_pipe_end(c, pipe, 0, q);
    fw_pipe_begin(c, pipe, 1, NPU_UNIT_SM);
    fw_sm(c, p->causal, s, s, (uint32_t)p->len, (uint32_t)k, p->scale_q, moff);
    fw_pipe_end(c, pipe, 1, NPU_UNIT_SM);
    uint32_t st = 2;
    if (p->f32_out) {
        fw_pipe_begin(c, pipe, 2, NPU_UNIT_VEC);
        fw_vdequant(c, ISA_SDT_I8, s, s, n, 1.0f / (float)(1 << ISA_SM_OUT_FRAC_BITS));
        fw_from_f32(c, y, s, s, n);
        fw_pipe_end(c, pipe, 2, NPU_UNIT_VEC);
        st = 3;
    }
    uint32_t ys = fw_dtype_bytes(y->dtype);
    fw_pipe_begin(c, pipe, st, sq);
    fw_dma_flat(c, 0, sq, y->buf, s, y->offset + r0 * p->len * ys, n * ys);
    fw_pipe_end(c, pipe, st, sq);
}

static void sm_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    sm_plan p;
    char why[FW_WHY_BYTES];
    if (sm_plan_make(c, d, &p, why, sizeof why))
        return;
    fw_pipe pipe;
    fw_pipe_init(c, &pipe, FW_STREAM_SLOTS, p.f32_out && !p.vec ? 4 : 3, p.slot_bytes, (uint32_t)p.items);
    if (!p.causal) {
        for (uint64_t r0 = 0; r0 < p.rows; r0 += p.chunk)
            sm_chunk(c, d, &p, &pipe, r0, p.rows - r0 < p.chunk ? p.rows - r0 : p.chunk, 0);
        return;
    }
    for (uint64_t m0 = 0; m0 < p.rows; m0 += p.mrows)
        for (uint64_t i = 0; i < p.mrows; i += p.chunk)
            sm_chunk(c, d, &p, &pipe, m0 + i, p.mrows - i < p.chunk ? p.mrows - i : p.chunk,
                     d->iattr[1] + (int32_t)i);
}

static void sm_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    sm_plan p;
    char why[FW_WHY_BYTES];
    if (sm_plan_make(c, d, &p, why, sizeof why))
        return;
    snprintf(buf, len, "%llu rows of %llu%s, %llu rows per chunk, %llu chunks", (unsigned long long)p.rows,
             (unsigned long long)p.len, p.causal ? ", causal" : "", (unsigned long long)p.chunk,
             (unsigned long long)p.items);
}

const fw_op_kernel fw_kernel_softmax = {"softmax", sm_check, sm_emit, sm_describe};
