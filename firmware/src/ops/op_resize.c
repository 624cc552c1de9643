/* op_resize.c -- NPU_OP_RESIZE: nearest and (bi)linear resizing of the last two axes of [B, H, W]
 * with ONNX's coordinate transforms.
 *
 * The source coordinates depend only on the descriptor (sizes, scales, modes): the firmware
 * computes them on the control core (resize_taps below, double arithmetic as README.md
 * specifies) and bakes them into the instruction stream as addresses and immediates, so no
 * index or weight table is needed. A block of planes and output rows is built in SRAM with
 * the rows h-major ([row][plane][column]), so that one output row of every plane of the block is
 * one contiguous vector:
 *   load        one DMA per input row the block uses (that row of every plane of the block), or
 *               one per plane (its rows, scattered by the SRAM pitch), whichever needs fewer:
 *               a DMA's DRAM pitch cannot span a large plane, and each DMA costs its setup and
 *               the DRAM's latency
 *   horizontal  transpose to [column][row, plane] (v.mov), then per output column one v.mov of the
 *               source column (nearest; runs of consecutive columns in one) or muli, muli, add of
 *               its two source columns (linear), then transpose back
 *   vertical    nearest: nothing (the store picks the source row), or, when the store goes by
 *               plane, each output row's source row transposed from Y^T (instead of all of
 *               them back); linear: per output row muli,
 *               muli, add of its two source rows
 *   store       one DMA per output row (that row of every plane of the block), or one per plane,
 *               whichever needs fewer
 * Nearest moves bytes unchanged (in0 and out share type and scale); linear computes in f32 and
 * converts to the output's type. Blocks go through two slots (load, vector, store overlap).
 * README.md ("RESIZE").
 */
#include "fw_ops.h"

#include <string.h>

#define RESIZE_PIPE_SLOTS 2
#define F32_BYTES 4u
/* Coordinates are small integers plus a fraction: truncation toward zero of a double below
 * this magnitude is exact, which gives floor without libm. */
#define RESIZE_MAX_COORD 1.0e15

typedef struct resize_tap {
    int64_t i0, i1;  /* source indices (equal for nearest) */
    float w0, w1;    /* linear weights */
} resize_tap;

typedef struct rs_plan {
    uint64_t b, h, w, ho, wo;
    int mode, coord, nearest;
    double scale_h, scale_w;
    uint32_t esz_in, esz_out, esz; /* esz: of the vector work (f32 for linear) */
    uint64_t nb, nro;              /* planes, output rows per block */
    uint64_t hmax;                 /* most input rows a block uses */
    int store_planes;              /* the store goes by plane (dma_by_plane) */
    uint64_t x_off, xt_off, yt_off, t_off, y_off, z_off, slot_bytes;
    uint64_t items;
} rs_plan;

static double floor_exact(double v)
{
    double t = (double)(int64_t)v;
    return t > v ? t - 1.0 : t;
}

/* The taps of output index o along an axis of n inputs (README.md, "RESIZE"). */
static resize_tap resize_taps(int mode, int coord, int nearest, double scale, int64_t n, int64_t o)
{
    double out_w = scale * (double)n, x;
    switch (coord) {
    case NPU_COORD_ALIGN_CORNERS: x = out_w == 1.0 ? 0.0 : (double)o * (double)(n - 1) / (out_w - 1.0); break;
    case NPU_COORD_ASYMMETRIC: x = (double)o / scale; break;
    case NPU_COORD_PYTORCH_HALF_PIXEL: x = out_w == 1.0 ? -0.5 : ((double)o + 0.5) / scale - 0.5; break;
    case NPU_COORD_TF_HALF_PIXEL_FOR_NN: x = ((double)o + 0.5) / scale; break;
    default: x = ((double)o + 0.5) / scale - 0.5; break;
    }
    if (x > RESIZE_MAX_COORD)
        x = RESIZE_MAX_COORD;
    if (x < -RESIZE_MAX_COORD)
        x = -RESIZE_MAX_COORD;
    double fl = floor_exact(x);
    int integral = x == fl;
    double ratio = integral ? 1.0 : x - fl;
    int64_t base = integral ? (int64_t)fl - 1 : (int64_t)fl;
    resize_tap t;
    if (mode == NPU_RESIZE_NEAREST) {
        int right = integral || (nearest == NPU_NEAREST_ROUND_PREFER_FLOOR  ? ratio > 0.5
                                 : nearest == NPU_NEAREST_ROUND_PREFER_CEIL ? ratio >= 0.5
                                                                            : nearest == NPU_NEAREST_CEIL);
        t.i0 = t.i1 = base + right;
        t.w0 = 1.0f;
        t.w1 = 0.0f;
    } else {
        t.i0 = base;
        t.i1 = base + 1;
        t.w0 = (float)(1.0 - ratio);
        t.w1 = (float)ratio;
    }
    t.i0 = t.i0 < 0 ? 0 : t.i0 >= n ? n - 1 : t.i0;
    t.i1 = t.i1 < 0 ? 0 : t.i1 >= n ? n - 1 : t.i1;
    return t;
}

static resize_tap tap_h(const rs_plan *p, uint64_t o)
{
    return resize_taps(p->mode, p->coord, p->nearest, p->scale_h, (int64_t)p->h, (int64_t)o);
}

static resize_tap tap_w(const rs_plan *p, uint64_t o)
{
    return resize_taps(p->mode, p->coord, p->nearest, p->scale_w, (int64_t)p->w, (int64_t)o);
}

/* Input rows output rows [ro, ro + n) read: they are taps' [i0 of the first, i1 of the last]. */
static void rows_used(const rs_plan *p, uint64_t ro, uint64_t n, uint64_t *first, uint64_t *count)
{
    uint64_t lo = (uint64_t)tap_h(p, ro).i0, hi = (uint64_t)tap_h(p, ro + n - 1).i1;
    *first = lo;
    *count = hi - lo + 1;
}

/* Whether moving `rows` rows of each of nb planes (rows of row_bytes, planes plane_bytes apart in
 * DRAM, h-major in SRAM) takes fewer DMAs by plane (one each: the plane's rows are contiguous in
 * DRAM, nb rows apart in SRAM) than by row (one each with nb rows at the plane pitch, or one per
 * row and plane when that pitch exceeds the DMA's). */
static int dma_by_plane(uint64_t nb, uint64_t rows, uint64_t row_bytes, uint64_t plane_bytes)
{
    const uint64_t max_pitch = FW_FIELD_MAX(DMA_LD, DSTRIDE);
    if (nb * row_bytes > max_pitch)
        return 0;
    return nb < rows * (plane_bytes > max_pitch ? nb : 1);
}

static uint64_t rs_slot(rs_plan *p)
{
    uint64_t r = p->hmax * p->nb, e = p->esz;
    p->store_planes = dma_by_plane(p->nb, p->nro, p->wo * p->esz_out, p->ho * p->wo * p->esz_out);
    p->x_off = 0;
    p->xt_off = fw_align(r * p->w * e);                  /* X [hmax][nb][W] (f32 for linear) */
    p->yt_off = p->xt_off + fw_align(r * p->w * e);      /* X^T [W][r] */
    p->t_off = p->yt_off + fw_align(r * p->wo * e);      /* Y^T [WO][r] */
    p->y_off = p->t_off + (p->mode == NPU_RESIZE_LINEAR ? fw_align(r * F32_BYTES) : 0); /* temporary row */
    p->z_off = p->y_off + fw_align(r * p->wo * e);       /* Y [hmax][nb][WO] */
    /* Z [nro][nb][WO]: linear's output rows (and a temporary row), nearest's when stored by plane */
    p->slot_bytes = p->z_off + (p->mode == NPU_RESIZE_LINEAR ? fw_align((p->nro + 1) * p->nb * p->wo * F32_BYTES)
                                : p->store_planes        ? fw_align(p->nro * p->nb * p->wo * e)
                                                         : 0);
    return p->slot_bytes;
}

static uint64_t max_rows_used(const rs_plan *p)
{
    uint64_t m = 0;
    for (uint64_t ro = 0; ro < p->ho; ro += p->nro) {
        uint64_t first, count;
        rows_used(p, ro, p->ho - ro < p->nro ? p->ho - ro : p->nro, &first, &count);
        m = count > m ? count : m;
    }
    return m;
}

static int rs_plan_make(const fw_op_ctx *c, const npu_op_desc *d, rs_plan *p, char *why, size_t whylen)
{
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    memset(p, 0, sizeof *p);
    if (fw_check_act(c, x, "in0", why, whylen) || fw_check_act(c, y, "out", why, whylen))
        return -1;
    if (x->rank != 3 || y->rank != 3)
        return fw_refuse(why, whylen, "in0 rank %u, out rank %u (expected [B,H,W] and [B,HO,WO])", x->rank, y->rank);
    p->mode = d->iattr[0];
    p->coord = d->iattr[1];
    p->nearest = d->iattr[2];
    if (p->mode != NPU_RESIZE_NEAREST && p->mode != NPU_RESIZE_LINEAR)
        return fw_refuse(why, whylen, "iattr[0] = %d is not an enum npu_resize_mode", p->mode);
    if (p->coord < 0 || p->coord >= NPU_COORD_COUNT)
        return fw_refuse(why, whylen, "iattr[1] = %d is not an enum npu_resize_coord", p->coord);
    if (p->nearest < 0 || p->nearest >= NPU_NEAREST_COUNT)
        return fw_refuse(why, whylen, "iattr[2] = %d is not an enum npu_resize_nearest", p->nearest);
    memcpy(&p->scale_h, &d->lattr[0], sizeof p->scale_h);
    memcpy(&p->scale_w, &d->lattr[1], sizeof p->scale_w);
    if (!(p->scale_h > 0.0 && p->scale_h < 1e300) || !(p->scale_w > 0.0 && p->scale_w < 1e300))
        return fw_refuse(why, whylen, "scales %g, %g (expected finite and > 0)", p->scale_h, p->scale_w);
    if (p->mode == NPU_RESIZE_NEAREST && (x->dtype != y->dtype || (x->dtype == NPU_DT_I8 && x->scale != y->scale)))
        return fw_refuse(why, whylen, "out: %s scale %g, in0 %s scale %g (nearest moves data unchanged)",
                         fw_dtype_name(y->dtype), (double)y->scale, fw_dtype_name(x->dtype), (double)x->scale);
    p->b = (uint64_t)x->dims[0];
    p->h = (uint64_t)x->dims[1];
    p->w = (uint64_t)x->dims[2];
    p->ho = (uint64_t)y->dims[1];
    p->wo = (uint64_t)y->dims[2];
    if ((uint64_t)y->dims[0] != p->b)
        return fw_refuse(why, whylen, "out: %lld planes, in0 has %llu", (long long)y->dims[0], (unsigned long long)p->b);
    p->esz_in = fw_dtype_bytes(x->dtype);
    p->esz_out = fw_dtype_bytes(y->dtype);
    p->esz = p->mode == NPU_RESIZE_LINEAR ? F32_BYTES : p->esz_in;
    if (p->w > FW_FIELD_MAX(VMOV, COLS) || p->wo > FW_FIELD_MAX(VMOV, DSTRIDE))
        return fw_refuse(why, whylen, "rows of %llu input / %llu output elements exceed the vector unit's %llu",
                         (unsigned long long)p->w, (unsigned long long)p->wo, (unsigned long long)FW_FIELD_MAX(VMOV, COLS));
    uint64_t sram = c->info->sram_bytes;
    p->nb = p->b;
    p->nro = p->ho;
    for (;;) {
        p->hmax = max_rows_used(p);
        uint64_t r = p->hmax * p->nb;
        if (RESIZE_PIPE_SLOTS * fw_align(rs_slot(p)) <= sram && r <= FW_FIELD_MAX(VMOV, DSTRIDE))
            break;
        if (p->nb > 1)
            p->nb = (p->nb + 1) / 2;
        else if (p->nro > 1)
            p->nro = (p->nro + 1) / 2;
        else
            return fw_refuse(why, whylen, "one output row does not fit in the %llu-byte SRAM", (unsigned long long)sram);
    }
    p->items = ((p->b + p->nb - 1) / p->nb) * ((p->ho + p->nro - 1) / p->nro);
    return 0;
}

static int rs_check(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen)
{
    rs_plan p;
    return rs_plan_make(c, d, &p, why, whylen);
}

/* ---------------------------------------------------------------- emission */

/* The horizontal pass: X [r][W] at s -> Y^T [WO][r], then back to Y [r][WO] unless `back` is 0
 * (element size p->esz). */
static void horizontal(fw_op_ctx *c, const rs_plan *p, uint32_t s, uint64_t r, int back)
{
    uint32_t e = p->esz, x = s + (uint32_t)p->x_off, xt = s + (uint32_t)p->xt_off, yt = s + (uint32_t)p->yt_off;
    fw_vmov(c, 1, e, xt, x, r, p->w, p->w, r);
    for (uint64_t j = 0; j < p->wo;) {
        resize_tap t = tap_w(p, j);
        if (p->mode == NPU_RESIZE_NEAREST) { /* a run of columns reading consecutive columns */
            uint64_t run = 1;
            while (j + run < p->wo && tap_w(p, j + run).i0 == t.i0 + (int64_t)run)
                run++;
            fw_vmov(c, 0, e, yt + (uint32_t)(j * r * e), xt + (uint32_t)((uint64_t)t.i0 * r * e), run, r, r, r);
            j += run;
            continue;
        }
        uint32_t tmp = s + (uint32_t)p->t_off, dst = yt + (uint32_t)(j * r * e);
        fw_vun(c, ISA_UNOP_MULI, dst, xt + (uint32_t)((uint64_t)t.i0 * r * e), r, t.w0);
        fw_vun(c, ISA_UNOP_MULI, tmp, xt + (uint32_t)((uint64_t)t.i1 * r * e), r, t.w1);
        fw_vbin_flat(c, ISA_BINOP_ADD, 0, dst, dst, tmp, r);
        j++;
    }
    if (back)
        fw_vmov(c, 1, e, s + (uint32_t)p->y_off, yt, p->wo, r, r, p->wo);
}

static void rs_emit(fw_op_ctx *c, const npu_op_desc *d)
{
    rs_plan p;
    char why[FW_WHY_BYTES];
    if (rs_plan_make(c, d, &p, why, sizeof why))
        return;
    const npu_tensor_ref *x = &d->in[0], *y = &d->out;
    fw_pipe pipe;
    fw_pipe_init(c, &pipe, RESIZE_PIPE_SLOTS, 3, p.slot_bytes, (uint32_t)p.items);
    unsigned sq = fw_store_queue(c);
    int linear = p.mode == NPU_RESIZE_LINEAR;
    for (uint64_t b0 = 0; b0 < p.b; b0 += p.nb)
        for (uint64_t ro0 = 0; ro0 < p.ho; ro0 += p.nro) {
            uint64_t nb = p.b - b0 < p.nb ? p.b - b0 : p.nb, nro = p.ho - ro0 < p.nro ? p.ho - ro0 : p.nro;
            uint64_t first, nh;
            rows_used(&p, ro0, nro, &first, &nh);
            uint64_t r = nh * nb, in_row = p.w * p.esz_in;
            /* load: input row h of every plane of the block -> X[h - first][plane] */
            unsigned q = fw_load_queue(c, fw_pipe_slot_index(&pipe, 0));
            uint32_t s = fw_pipe_begin(c, &pipe, 0, q);
            if (dma_by_plane(nb, nh, in_row, p.h * in_row))
                for (uint64_t k = 0; k < nb; k++)
                    fw_dma(c, 1, q, x->buf, s + (uint32_t)(k * in_row), x->offset + ((b0 + k) * p.h + first) * in_row, nh,
                           in_row, in_row, nb * in_row);
            else
                for (uint64_t h = 0; h < nh; h++)
                    fw_dma(c, 1, q, x->buf, s + (uint32_t)(h * nb * in_row), x->offset + (b0 * p.h + first + h) * in_row,
                           nb, in_row, p.h * in_row, in_row);
            fw_pipe_end(c, &pipe, 0, q);
            fw_pipe_begin(c, &pipe, 1, NPU_UNIT_VEC);
            if (linear)
                fw_to_f32(c, x, s, s, r * p.w);
            /* (nearest has Z only when the plan's blocks store by plane) */
            int by_plane = (linear || p.store_planes) && dma_by_plane(nb, nro, p.wo * p.esz_out, p.ho * p.wo * p.esz_out);
            int nearest_planes = !linear && by_plane;
            horizontal(c, &p, s, r, !nearest_planes);
            uint32_t yb = s + (uint32_t)p.y_off, z = s + (uint32_t)p.z_off;
            uint64_t orow = nb * p.wo; /* one output row of every plane */
            if (linear) { /* Z[ro] = Y[i0] * w0 + Y[i1] * w1, then to the output's type */
                uint32_t tmp = z + (uint32_t)(nro * orow * F32_BYTES);
                for (uint64_t k = 0; k < nro; k++) {
                    resize_tap t = tap_h(&p, ro0 + k);
                    uint32_t dst = z + (uint32_t)(k * orow * F32_BYTES);
                    fw_vun(c, ISA_UNOP_MULI, dst, yb + (uint32_t)(((uint64_t)t.i0 - first) * orow * F32_BYTES), orow, t.w0);
                    fw_vun(c, ISA_UNOP_MULI, tmp, yb + (uint32_t)(((uint64_t)t.i1 - first) * orow * F32_BYTES), orow, t.w1);
                    fw_vbin_flat(c, ISA_BINOP_ADD, 0, dst, dst, tmp, orow);
                }
                fw_from_f32(c, y, z, z, nro * orow);
            }
            /* nearest by plane: Z[k] = Y[i0(k)], transposed straight from Y^T (its columns of row
             * i0 of every plane; runs of consecutive source rows in one transpose) */
            for (uint64_t k = 0; nearest_planes && k < nro;) {
                uint64_t i0 = (uint64_t)tap_h(&p, ro0 + k).i0, run = 1;
                while (k + run < nro && (uint64_t)tap_h(&p, ro0 + k + run).i0 == i0 + run)
                    run++;
                fw_vmov(c, 1, p.esz, z + (uint32_t)(k * orow * p.esz),
                        s + (uint32_t)(p.yt_off + (i0 - first) * nb * p.esz), p.wo, run * nb, r, p.wo);
                k += run;
            }
            fw_pipe_end(c, &pipe, 1, NPU_UNIT_VEC);
            /* store: output row ro of every plane of the block (Z by plane, or the rows by row) */
            fw_pipe_begin(c, &pipe, 2, sq);
            uint64_t out_row = p.wo * p.esz_out;
            for (uint64_t k = 0; by_plane && k < nb; k++)
                fw_dma(c, 0, sq, y->buf, z + (uint32_t)(k * out_row), y->offset + ((b0 + k) * p.ho + ro0) * out_row, nro,
                       out_row, out_row, nb * out_row);
            for (uint64_t k = 0; !by_plane && k < nro; k++) {
                uint32_t src = linear ? z + (uint32_t)(k * nb * out_row)
                                      : yb + (uint32_t)(((uint64_t)tap_h(&p, ro0 + k).i0 - first) * nb * out_row);
                fw_dma(c, 0, sq, y->buf, src, y->offset + (b0 * p.ho + ro0 + k) * out_row, nb, out_row, p.ho * out_row,
                       out_row);
            }
            fw_pipe_end(c, &pipe, 2, sq);
        }
}

static void rs_describe(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len)
{
    rs_plan p;
    char why[FW_WHY_BYTES];
    if (rs_plan_make(c, d, &p, why, sizeof why))
        return;
    snprintf(buf, len, "%s, %llu planes %llux%llu -> %llux%llu, %llu planes and %llu output rows per block%s",
             p.mode == NPU_RESIZE_NEAREST ? "nearest" : "linear", (unsigned long long)p.b,
             (unsigned long long)p.h, (unsigned long long)p.w, (unsigned long long)p.ho, (unsigned long long)p.wo,
             (unsigned long long)p.nb, (unsigned long long)p.nro, p.store_planes ? ", stored by plane" : "");
}

const fw_op_kernel fw_kernel_resize = {"resize", rs_check, rs_emit, rs_describe};
