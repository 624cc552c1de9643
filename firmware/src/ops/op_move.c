/* op_move.c -- data movement: NPU_OP_TRANSPOSE and NPU_OP_COPY (a box copy: Slice, Concat, Split,
 * padding into a zero-bordered buffer).
 *
 * Both reduce their tensors to a canonical form of at most four dimensions (size-1 dims dropped,
 * dims that stay adjacent in both tensors merged), then move 2-D blocks: a "row" dimension and
 * an "inner" dimension, looped over at most two outer dimensions. A block is one strided DMA in
 * and one strided DMA out. When the permutation moves the innermost dimension, the vector unit
 * transposes each block in SRAM (v.mov) between the two DMAs; when a copy changes the data type
 * or the int8 scale, the vector unit requantises it (through f32). Blocks stream through three
 * slots (fw_pipe) so loads, transposes and stores overlap. README.md ("TRANSPOSE", "COPY").
 */
#include "fw_ops.h"

#include <stdio.h>
#include <string.h>

#define MV_MAX_OUTER 2

typedef struct mv_dim {
    uint64_t n, sin, sout; /* extent and strides in elements (input, output) */
} mv_dim;

typedef struct mv_plan {
    mv_dim outer[MV_MAX_OUTER];
    int nouter;
    mv_dim row, inner;
    uint64_t in0, out0;   /* element offsets of the block origin */
    int transpose;        /* inner is contiguous in the input only: transpose in SRAM */
    int convert;          /* dtype or scale changes: through f32 in the vector unit */
    uint32_t esz_in, esz_out;
    uint64_t rr, lw;      /* rows and inner elements per block */
    uint64_t slot_bytes, items;
} mv_plan;

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

static void strides_of(const npu_tensor_ref *t, uint64_t *s)
{
    uint64_t acc = 1;
    for (int i = (int)t->rank - 1; i >= 0; i--) {
        s[i] = acc;
        acc *= (uint64_t)t->dims[i];
    }
}

/* Block sizes for the SRAM, and the item count. */
static int mv_tile(const fw_op_ctx *c, mv_plan *p, char *why, size_t whylen)
{
    uint64_t esz = p->convert ? 4 : p->esz_in, areas = p->transpose ? 2 : 1;
    uint64_t per_slot = c->info->sram_bytes / FW_STREAM_SLOTS / areas;
    per_slot = per_slot > FW_SRAM_ALIGN_BYTES ? per_slot - FW_SRAM_ALIGN_BYTES : 0;
    if (per_slot > FW_CHUNK_TARGET_BYTES / areas)
        per_slot = FW_CHUNK_TARGET_BYTES / areas;
    uint64_t max_lw = p->transpose ? FW_FIELD_MAX(VMOV, COLS) : UINT64_MAX;
    uint64_t max_rr = p->transpose ? FW_FIELD_MAX(VMOV, ROWS) : UINT64_MAX;
    if (p->transpose && FW_FIELD_MAX(VMOV, DSTRIDE) < max_rr)
        max_rr = FW_FIELD_MAX(VMOV, DSTRIDE);
    p->lw = p->inner.n < max_lw ? p->inner.n : max_lw;
    if (p->lw * esz > per_slot)
        p->lw = per_slot / esz;
    if (p->lw == 0)
        return fw_refuse(why, whylen, "does not fit in the %u-byte SRAM", c->info->sram_bytes);
    p->rr = per_slot / (p->lw * esz);
    if (p->rr > p->row.n)
        p->rr = p->row.n;
    if (p->rr > max_rr)
        p->rr = max_rr;
    p->slot_bytes = areas * fw_align(p->rr * p->lw * esz);
    p->items = ceil_div(p->row.n, p->rr) * ceil_div(p->inner.n, p->lw);
    for (int i = 0; i < p->nouter; i++)
        p->items *= p->outer[i].n;
    return 0;
}

/* Drop extent-1 dims, then merge neighbours contiguous in both tensors; fills row/inner/outer. */
static int mv_canonical(mv_plan *p, mv_dim *dims, int n, char *why, size_t whylen)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (dims[i].n > 1)
            dims[k++] = dims[i];
    n = k;
    k = 0;
    for (int i = 0; i < n; i++) {
        if (k > 0 && dims[k - 1].sin == dims[i].n * dims[i].sin && dims[k - 1].sout == dims[i].n * dims[i].sout) {
            dims[k - 1].n *= dims[i].n;
            dims[k - 1].sin = dims[i].sin;
            dims[k - 1].sout = dims[i].sout;
        } else {
            dims[k++] = dims[i];
        }
    }
    n = k;
    mv_dim one = {1, 1, 1};
    p->inner = n >= 1 ? dims[n - 1] : one;
    p->row = n >= 2 ? dims[n - 2] : one;
    p->nouter = n > 2 ? n - 2 : 0;
    if (p->nouter > MV_MAX_OUTER)
        return fw_refuse(why, whylen, "more than %d dimensions after merging", MV_MAX_OUTER + 2);
    for (int i = 0; i < p->nouter; i++)
        p->outer[i] = dims[i];
    return 0;
}

/* ---------------------------------------------------------------- transpose */

/* Does the dtype's scale mean something (i8, i16)? Then moving bytes between two scales converts. */
static int scaled(uint32_t dtype) { return dtype == NPU_DT_I8 || dtype == NPU_DT_I16; }

static int tr_plan(const fw_op_ctx *c, const npu_op_desc *d, mv_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, y, "out", why, whylen))
        return -1;
    if (x->dtype != y->dtype || (scaled(x->dtype) && x->scale != y->scale))
        return fw_refuse(why, whylen, "out: %s scale %g, in0 %s scale %g (a transpose moves data unchanged)",
                         fw_dtype_name(y->dtype), (double)y->scale, fw_dtype_name(x->dtype), (double)x->scale);
    if (y->rank != x->rank)
        return fw_refuse(why, whylen, "out: rank %u, in0 rank %u", y->rank, x->rank);
    int r = (int)x->rank, seen[NPU_MAX_RANK] = {0};
    for (int i = 0; i < r; i++) {
        int32_t a = d->iattr[i];
        if (a < 0 || a >= r || seen[a])
            return fw_refuse(why, whylen, "iattr[0..%d] is not a permutation of 0..%d", r - 1, r - 1);
        seen[a] = 1;
        if (y->dims[i] != x->dims[a])
            return fw_refuse(why, whylen, "out: dims[%d] = %lld, in0 dims[%d] = %lld", i, (long long)y->dims[i], a,
                             (long long)x->dims[a]);
    }
    uint64_t sin[NPU_MAX_RANK] = {0}, sout[NPU_MAX_RANK] = {0}, sout_of_in[NPU_MAX_RANK] = {0};
    strides_of(x, sin);
    strides_of(y, sout);
    for (int i = 0; i < r; i++)
        sout_of_in[d->iattr[i]] = sout[i];
    /* the input's dims in input order, each with its stride in the output */
    mv_dim dims[NPU_MAX_RANK];
    for (int k = 0; k < r; k++) {
        dims[k].n = (uint64_t)x->dims[k];
        dims[k].sin = sin[k];
        dims[k].sout = sout_of_in[k];
    }
    p->esz_in = p->esz_out = fw_dtype_bytes(x->dtype);
    /* canonical in input order; then the dim that is innermost in the output becomes "row" */
    int k = 0;
    for (int i = 0; i < r; i++)
        if (dims[i].n > 1)
            dims[k++] = dims[i];
    int n = k;
    k = 0;
    for (int i = 0; i < n; i++) { /* merge input neighbours that are neighbours in the output too */
        if (k > 0 && dims[k - 1].sout == dims[i].n * dims[i].sout) {
            dims[k - 1].n *= dims[i].n;
            dims[k - 1].sin = dims[i].sin;
            dims[k - 1].sout = dims[i].sout;
        } else {
            dims[k++] = dims[i];
        }
    }
    n = k;
    mv_dim one = {1, 1, 1};
    if (n == 0) {
        p->inner = p->row = one;
        return mv_tile(c, p, why, whylen);
    }
    p->inner = dims[n - 1]; /* input-contiguous */
    int ro = -1;            /* the dim contiguous in the output */
    for (int i = 0; i < n; i++)
        if (dims[i].sout == 1)
            ro = i;
    if (ro == n - 1) { /* the innermost stays innermost: plain strided copies */
        /* rows along the longest other dim whose pitches the DMA takes: the fewest, largest blocks */
        int best = -1;
        for (int i = 0; i + 1 < n; i++) {
            int fits = dims[i].sin * p->esz_in <= FW_FIELD_MAX(DMA_LD, DSTRIDE) &&
                       dims[i].sout * p->esz_in <= FW_FIELD_MAX(DMA_LD, DSTRIDE);
            int bfits = best >= 0 && dims[best].sin * p->esz_in <= FW_FIELD_MAX(DMA_LD, DSTRIDE) &&
                        dims[best].sout * p->esz_in <= FW_FIELD_MAX(DMA_LD, DSTRIDE);
            if (best < 0 || (fits && !bfits) || (fits == bfits && dims[i].n >= dims[best].n))
                best = i;
        }
        p->row = best >= 0 ? dims[best] : one;
        p->nouter = 0;
        for (int i = 0; i + 1 < n; i++)
            if (i != best)
                p->outer[p->nouter++] = dims[i];
    } else {
        p->transpose = 1;
        p->row = dims[ro];
        p->nouter = 0;
        for (int i = 0; i < n - 1; i++)
            if (i != ro)
                p->outer[p->nouter++] = dims[i];
    }
    if (p->nouter > MV_MAX_OUTER)
        return fw_refuse(why, whylen, "more than %d dimensions after merging", MV_MAX_OUTER + 2);
    return mv_tile(c, p, why, whylen);
}

/* ---------------------------------------------------------------- copy */

static int cp_plan(const fw_op_ctx *c, const npu_op_desc *d, mv_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, y, "out", why, whylen))
        return -1;
    if (y->rank != x->rank)
        return fw_refuse(why, whylen, "out: rank %u, in0 rank %u (a box copy keeps the rank)", y->rank, x->rank);
    int r = (int)x->rank;
    uint64_t sin[NPU_MAX_RANK] = {0}, sout[NPU_MAX_RANK] = {0};
    strides_of(x, sin);
    strides_of(y, sout);
    mv_dim dims[NPU_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int64_t box = d->lattr[i], s0 = d->iattr[i], d0 = d->iattr[NPU_MAX_RANK + i];
        if (box < 1 || s0 < 0 || d0 < 0 || s0 + box > x->dims[i] || d0 + box > y->dims[i])
            return fw_refuse(why, whylen, "dim %d: box %lld from %lld (in0 %lld) to %lld (out %lld) does not fit", i,
                             (long long)box, (long long)s0, (long long)x->dims[i], (long long)d0,
                             (long long)y->dims[i]);
        p->in0 += (uint64_t)s0 * sin[i];
        p->out0 += (uint64_t)d0 * sout[i];
        dims[i].n = (uint64_t)box;
        dims[i].sin = sin[i];
        dims[i].sout = sout[i];
    }
    p->esz_in = fw_dtype_bytes(x->dtype);
    p->esz_out = fw_dtype_bytes(y->dtype);
    p->convert = x->dtype != y->dtype || (scaled(x->dtype) && x->scale != y->scale);
    if (mv_canonical(p, dims, r, why, whylen))
        return -1;
    if (p->inner.sin != 1 || p->inner.sout != 1) { /* the box's innermost dim has extent 1 */
        mv_dim t = p->inner;
        if (p->nouter == MV_MAX_OUTER)
            return fw_refuse(why, whylen, "more than %d dimensions after merging", MV_MAX_OUTER + 1);
        if (p->row.n > 1)
            p->outer[p->nouter++] = p->row;
        p->row = t;
        p->inner.n = 1;
        p->inner.sin = p->inner.sout = 1;
    }
    return mv_tile(c, p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

static void mv_block(fw_op_ctx *c, const npu_op_desc *d, const mv_plan *p, fw_pipe *pipe, uint64_t in_off,
                     uint64_t out_off, uint64_t rows, uint64_t cols)
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    unsigned q = fw_load_queue(c, fw_pipe_slot_index(pipe, 0)), sq = fw_store_queue(c);
    uint32_t s = fw_pipe_begin(c, pipe, 0, q);
    uint64_t ei = p->esz_in, eo = p->esz_out, n = rows * cols;
    fw_dma(c, 1, q, x->buf, s, x->offset + in_off * ei, rows, cols * ei, p->row.sin * ei, cols * ei);
    fw_pipe_end(c, pipe, 0, q);
    uint32_t src = s;
    uint32_t st = 1;
    if (p->transpose || p->convert) {
        fw_pipe_begin(c, pipe, 1, NPU_UNIT_VEC);
        if (p->transpose) {
            src = s + p->slot_bytes / 2;
            fw_vmov(c, 1, p->esz_in, src, s, rows, cols, cols, rows);
        } else {
            fw_to_f32(c, x, s, s, n);
            fw_from_f32(c, y, s, s, n);
        }
        fw_pipe_end(c, pipe, 1, NPU_UNIT_VEC);
        st = 2;
    }
    fw_pipe_begin(c, pipe, st, sq);
    if (p->transpose) /* [cols][rows] in SRAM; rows run along the output's innermost dim */
        fw_dma(c, 0, sq, y->buf, src, y->offset + out_off * eo, cols, rows * eo, p->inner.sout * eo, rows * eo);
    else
        fw_dma(c, 0, sq, y->buf, src, y->offset + out_off * eo, rows, cols * eo, p->row.sout * eo, cols * eo);
    fw_pipe_end(c, pipe, st, sq);
}

static void mv_emit(fw_op_ctx *c, const npu_op_desc *d, const mv_plan *p)
{
    fw_pipe pipe;
    fw_pipe_init(c, &pipe, FW_STREAM_SLOTS, p->transpose || p->convert ? 3 : 2, p->slot_bytes, (uint32_t)p->items);
    mv_dim o0 = p->nouter > 0 ? p->outer[0] : (mv_dim){1, 0, 0};
    mv_dim o1 = p->nouter > 1 ? p->outer[1] : (mv_dim){1, 0, 0};
    for (uint64_t a = 0; a < o0.n; a++)
        for (uint64_t b = 0; b < o1.n; b++)
            for (uint64_t r0 = 0; r0 < p->row.n; r0 += p->rr)
                for (uint64_t l0 = 0; l0 < p->inner.n; l0 += p->lw) {
                    uint64_t in_off = p->in0 + a * o0.sin + b * o1.sin + r0 * p->row.sin + l0 * p->inner.sin;
                    uint64_t out_off = p->out0 + a * o0.sout + b * o1.sout + r0 * p->row.sout + l0 * p->inner.sout;
                    mv_block(c, d, p, &pipe, in_off, out_off, p->row.n - r0 < p->rr ? p->row.n - r0 : p->rr,
                             p->inner.n - l0 < p->lw ? p->inner.n - l0 : p->lw);
                }
}

static int tr_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    mv_plan p;
    return tr_plan(c, d, &p, why, whylen);
}

static void tr_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    mv_plan p;
    char why[FW_WHY_BYTES];
    if (tr_plan(c, d, &p, why, sizeof why) == 0)
        mv_emit(c, d, &p);
}

static int cp_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    mv_plan p;
    return cp_plan(c, d, &p, why, whylen);
}

static void cp_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    mv_plan p;
    char why[FW_WHY_BYTES];
    if (cp_plan(c, d, &p, why, sizeof why) == 0)
        mv_emit(c, d, &p);
}

/* A move's blocks, in words. */
static void mv_describe(const mv_plan *p, char *buf, size_t len)
{
    snprintf(buf, len, "%llu x %llu x %llu elements%s%s, blocks of %llu rows x %llu, %llu blocks",
             (unsigned long long)(p->nouter > 0 ? p->outer[0].n * (p->nouter > 1 ? p->outer[1].n : 1) : 1),
             (unsigned long long)p->row.n, (unsigned long long)p->inner.n, p->transpose ? ", transposed in SRAM" : "",
             p->convert ? ", converted" : "", (unsigned long long)p->rr, (unsigned long long)p->lw,
             (unsigned long long)p->items);
}

static void tr_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    mv_plan p;
    char why[FW_WHY_BYTES];
    if (tr_plan(c, d, &p, why, sizeof why) == 0)
        mv_describe(&p, buf, len);
}

static void cp_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    mv_plan p;
    char why[FW_WHY_BYTES];
    if (cp_plan(c, d, &p, why, sizeof why) == 0)
        mv_describe(&p, buf, len);
}

const fw_op_kernel fw_kernel_transpose = {"transpose", tr_check, tr_emit, tr_describe};
const fw_op_kernel fw_kernel_copy = {"copy", cp_check, cp_emit, cp_describe};
