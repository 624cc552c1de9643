/* fw_im2col.c -- the window operand shared by the convolutions (op_conv.c, op_gconv.c) and the
 * pools (op_pool.c): for one segment of output positions and a range of input channels, the
 * rows [(kh * KW + kw) * cc + c][n] of every window tap, built in SRAM by the DMA from an input
 * that is already padded (fw_ops.h). For stride 1, one strided DMA per tap moves the segment's
 * input run of every channel into its rows. For a horizontal stride s > 1, one DMA per (kh,
 * block of s kernel columns) moves s times longer runs into a staging area, and one v.mov
 * transpose per run de-interleaves them into the s phases kw = q*s + phase (phases past KW spill
 * into rows the next transpose rewrites, or into slack after the last). A kernel may instead take
 * the wide runs of a stride-1 window: positions across output rows in the input's width, so that
 * a segment's DMAs move long runs rather than one short output row each, and a compaction drops
 * the columns past the output's width before the store. The instruction stream depends only on
 * the geometry, never on data.
 */
#include "fw_ops.h"

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

void fw_im2col_init(fw_im2col *g, const npu_tensor_ref *x, uint64_t kh, uint64_t kw, uint64_t sh, uint64_t sw,
                    int allow_flat)
{
    g->x = x;
    g->esz = fw_dtype_bytes(x->dtype);
    g->c = (uint64_t)x->dims[1];
    g->h = (uint64_t)x->dims[2];
    g->w = (uint64_t)x->dims[3];
    g->kh = kh;
    g->kw = kw;
    g->sh = sh;
    g->sw = sw;
    g->flat = allow_flat && kh == 1 && kw == 1 && sh == 1 && sw == 1;
    g->qblocks = sw > 1 ? ceil_div(kw, sw) : 0;
    g->wide = 0;
    g->oh = g->ow = 0;
}

void fw_im2col_allow_wide(fw_im2col *g, uint64_t oh, uint64_t ow)
{
    g->oh = oh;
    g->ow = ow;
    g->wide = !g->flat && g->sh == 1 && g->sw == 1;
}

uint64_t fw_im2col_positions(const fw_im2col *g)
{
    if (g->wide)
        return (g->oh - 1) * g->w + g->ow;
    return g->flat ? g->h * g->w : 0;
}

void fw_im2col_outputs(const fw_im2col *g, uint64_t p0, uint64_t n, uint64_t *first, uint64_t *count)
{
    if (!g->wide) {
        *first = p0;
        *count = n;
        return;
    }
    /* valid positions before p: whole rows of OW, then the part of p's row below OW */
    uint64_t a = p0 / g->w * g->ow + (p0 % g->w < g->ow ? p0 % g->w : g->ow);
    uint64_t e = p0 + n, b = e / g->w * g->ow + (e % g->w < g->ow ? e % g->w : g->ow);
    *first = a;
    *count = b - a;
}

void fw_im2col_compact(fw_op_ctx *c, const fw_im2col *g, uint32_t esz, uint32_t dst, uint32_t src, uint64_t rows,
                       uint64_t p0, uint64_t n)
{
    uint64_t first, count;
    fw_im2col_outputs(g, p0, n, &first, &count);
    for (uint64_t r = p0 / g->w; r * g->w < p0 + n; r++) { /* output rows the run touches */
        uint64_t a = r * g->w > p0 ? r * g->w : p0, e = r * g->w + g->ow < p0 + n ? r * g->w + g->ow : p0 + n;
        if (a >= e)
            continue;
        uint64_t o = r * g->ow + (a - r * g->w); /* its first output position */
        fw_vmov(c, 0, esz, dst + (uint32_t)((o - first) * esz), src + (uint32_t)((a - p0) * esz), rows, e - a, n, count);
    }
}

uint64_t fw_im2col_slot_bytes(const fw_im2col *g, uint64_t cc, uint64_t n)
{
    uint64_t rows = g->kh * g->kw * cc * n * g->esz;
    if (g->sw <= 1 || g->flat)
        return rows;
    uint64_t staging = g->kh * g->qblocks * cc * n * g->sw * g->esz;
    return rows + fw_align((g->sw - 1) * cc * n) * g->esz + staging;
}

uint32_t fw_im2col_stages(const fw_im2col *g) { return g->sw > 1 && !g->flat ? 2 : 1; }

uint64_t fw_im2col_dmas(const fw_im2col *g)
{
    if (g->flat)
        return 1;
    return g->wide || g->sw == 1 ? g->kh * g->kw : g->kh * g->qblocks;
}

/* as fw_im2col_load: each DMA moves cc rows (one per channel) of a run of positions */
static uint64_t run_bytes(const fw_im2col *g, uint64_t n)
{
    return (g->flat || g->wide || g->sw == 1 ? n : n * g->sw) * g->esz;
}

uint64_t fw_im2col_plan_cycles(const fw_im2col *g, uint64_t cc, uint64_t n)
{
    return fw_im2col_dmas(g) * fw_plan_dma_cycles(cc, run_bytes(g, n));
}

uint64_t fw_im2col_plan_dram(const fw_im2col *g, uint64_t cc, uint64_t n)
{
    return fw_im2col_dmas(g) * fw_plan_dram_cycles(cc, run_bytes(g, n));
}

uint64_t fw_im2col_vmovs(const fw_im2col *g) { return g->flat || g->wide || g->sw == 1 ? 0 : g->kh * g->qblocks; }

uint64_t fw_im2col_max_positions(const fw_im2col *g, uint64_t cc)
{
    if (g->sw <= 1 || g->flat)
        return UINT64_MAX;
    return FW_FIELD_MAX(VMOV, DSTRIDE) / (cc ? cc : 1);
}

uint32_t fw_im2col_load(fw_op_ctx *c, const fw_im2col *g, fw_pipe *b, uint64_t img, uint64_t oh, uint64_t ow0,
                        uint64_t n, uint64_t c0, uint64_t cc)
{
    const npu_tensor_ref *x = g->x;
    const uint64_t e = g->esz; /* bytes per element */
    uint64_t plane = g->h * g->w, base = x->offset + (img * g->c + c0) * plane * e, kc = g->kh * g->kw * cc;
    unsigned q = fw_load_queue(c, fw_pipe_slot_index(b, 0));
    uint32_t bs = fw_pipe_begin(c, b, 0, q);
    if (g->flat) {
        fw_dma(c, 1, q, x->buf, bs, base + ow0 * e, cc, n * e, plane * e, n * e);
        fw_pipe_end(c, b, 0, q);
        return bs;
    }
    if (g->wide) { /* tap (kh, kw) of position p reads x[kh * W + kw + p]: one run per channel */
        for (uint64_t i = 0; i < g->kh; i++)
            for (uint64_t j = 0; j < g->kw; j++)
                fw_dma(c, 1, q, x->buf, bs + (uint32_t)((i * g->kw + j) * cc * n * e), base + (i * g->w + j + ow0) * e,
                       cc, n * e, plane * e, n * e);
        fw_pipe_end(c, b, 0, q);
        return bs;
    }
    if (g->sw == 1) {
        for (uint64_t i = 0; i < g->kh; i++)
            for (uint64_t j = 0; j < g->kw; j++)
                fw_dma(c, 1, q, x->buf, bs + (uint32_t)((i * g->kw + j) * cc * n * e),
                       base + ((oh * g->sh + i) * g->w + ow0 + j) * e, cc, n * e, plane * e, n * e);
        fw_pipe_end(c, b, 0, q);
        return bs;
    }
    /* stride > 1: runs of n * sw elements per channel into the staging area ... */
    uint64_t run = n * g->sw;
    uint32_t t = bs + (uint32_t)((kc * n + fw_align((g->sw - 1) * cc * n)) * e);
    for (uint64_t i = 0; i < g->kh; i++)
        for (uint64_t qb = 0; qb < g->qblocks; qb++) {
            uint64_t start = (ow0 + qb) * g->sw, cols = g->w - start < run ? g->w - start : run;
            fw_dma(c, 1, q, x->buf, t + (uint32_t)((i * g->qblocks + qb) * cc * run * e),
                   base + ((oh * g->sh + i) * g->w + start) * e, cc, cols * e, plane * e, run * e);
        }
    fw_pipe_end(c, b, 0, q);
    /* ... then [C*n][sw] -> [sw][C*n]: phase ph of block qb is kw = qb*sw + ph */
    fw_pipe_begin(c, b, 1, NPU_UNIT_VEC);
    for (uint64_t i = 0; i < g->kh; i++)
        for (uint64_t qb = 0; qb < g->qblocks; qb++)
            fw_vmov(c, 1, (uint32_t)e, bs + (uint32_t)((i * g->kw + qb * g->sw) * cc * n * e),
                    t + (uint32_t)((i * g->qblocks + qb) * cc * run * e), cc * n, g->sw, g->sw, cc * n);
    fw_pipe_end(c, b, 1, NPU_UNIT_VEC);
    return bs;
}
