/* npu_twin_cnn.c -- the CPU twin of the CNN kernels (ABI 1.5): GROUP_CONV2D, POOL, PAD, RESIZE,
 * ACTIVATION, CHANNEL_AFFINE, written from firmware/src/ops/README.md as npu_twin.c is: whole
 * tensors in plain loops, every f32 step through the vector unit's own semantics (npu_twin.c's
 * primitives run isa_exec), so that equal bytes mean the kernels' tiling lost nothing.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "npu_twin_internal.h"

/* HardSwish's gate (README.md, "ACTIVATION"): hardsigmoid with alpha 1/6, beta 1/2. */
#define HARDSWISH_ALPHA (1.0f / 6.0f)
#define HARDSWISH_BETA 0.5f
#define HARD_SIGMOID_LO 0.0f
#define HARD_SIGMOID_HI 1.0f

static uint64_t dim(const npu_tensor_ref *r, uint32_t i) { return i < r->rank ? (uint64_t)r->dims[i] : 1; }

static float *alloc_f32(tw *t, uint64_t n)
{
    float *v = malloc((n ? n : 1) * F32);
    if (!v)
        tw_fail(t, "out of memory");
    return v;
}

/* ---------------------------------------------------------------- GROUP_CONV2D */

static void group_conv(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *w = &d->in[1], *o = &d->out;
    uint64_t N = dim(x, 0), C = dim(x, 1), H = dim(x, 2), W = dim(x, 3), CO = dim(w, 0), CG = dim(w, 1);
    uint64_t KH = dim(w, 2), KW = dim(w, 3), OH = dim(o, 2), OW = dim(o, 3), G = d->lattr[0] > 0 ? (uint64_t)d->lattr[0] : 0;
    uint64_t sh = (uint64_t)d->iattr[0], sw = (uint64_t)d->iattr[1], KG = KH * KW * CG;
    if (G == 0 || C % G || CO % G || CG != C / G || x->dtype != NPU_DT_I8 || w->dtype != NPU_DT_I8)
        return (void)tw_fail(t, "group conv operands");
    uint64_t cout_g = CO / G;
    const int8_t *px = (const int8_t *)tw_tensor(t, bufs, nbufs, x, "in0");
    const int8_t *pw = (const int8_t *)tw_span(t, bufs, nbufs, w->buf, w->offset, CO * KG, "in1");
    uint8_t *po = tw_tensor(t, bufs, nbufs, o, "out");
    if (!px || !pw || !po)
        return;
    float s_deq = x->scale;
    const float *ws = NULL, *bias = NULL;
    if (w->scales_axis == 0)
        ws = (const float *)tw_span(t, bufs, nbufs, w->scales_buf, w->scales_offset, 4 * CO, "in1 scales");
    else
        s_deq = x->scale * w->scale;
    if (d->n_inputs >= 3)
        bias = (const float *)tw_span(t, bufs, nbufs, d->in[2].buf, d->in[2].offset, 4 * CO, "in2");
    uint64_t P = OH * OW;
    int32_t *acc = malloc(P * sizeof *acc);
    float *y = alloc_f32(t, P);
    for (uint64_t img = 0; img < N && acc && y && !t->failed; img++)
        for (uint64_t co = 0; co < CO && !t->failed; co++) {
            uint64_t c0 = co / cout_g * CG; /* the group's first input channel */
            for (uint64_t oh = 0; oh < OH; oh++)
                for (uint64_t ow = 0; ow < OW; ow++) {
                    uint32_t s = 0; /* int32, wrapping as the array's */
                    for (uint64_t i = 0; i < KH; i++)
                        for (uint64_t j = 0; j < KW; j++)
                            for (uint64_t c = 0; c < CG; c++) {
                                int32_t xv = px[((img * C + c0 + c) * H + oh * sh + i) * W + ow * sw + j];
                                int32_t wv = pw[co * KG + (i * KW + j) * CG + c];
                                s += (uint32_t)(xv * wv);
                            }
                    memcpy(&acc[oh * OW + ow], &s, sizeof s);
                }
            tw_channel_epilogue(t, acc, y, P, s_deq, ws ? ws + co : NULL, bias ? bias + co : NULL, d->iattr[6],
                                d->fattr);
            tw_store_f32(t, o, po + (img * CO + co) * P * tw_esz(o->dtype), y, P);
        }
    if (!acc)
        tw_fail(t, "out of memory");
    free(acc);
    free(y);
}

/* ---------------------------------------------------------------- POOL */

static void pool(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    uint64_t N = dim(x, 0), C = dim(x, 1), H = dim(x, 2), W = dim(x, 3), OH = dim(o, 2), OW = dim(o, 3);
    uint64_t sh = (uint64_t)d->iattr[0], sw = (uint64_t)d->iattr[1], KH = (uint64_t)d->iattr[2], KW = (uint64_t)d->iattr[3];
    int is_max = d->iattr[4] == NPU_POOL_MAX;
    const int8_t *px = (const int8_t *)tw_tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tw_tensor(t, bufs, nbufs, o, "out");
    const float *map = NULL;
    uint64_t P = OH * OW;
    if (d->n_inputs >= 2 && d->in[1].buf != NPU_NO_BUFFER)
        map = (const float *)tw_span(t, bufs, nbufs, d->in[1].buf, d->in[1].offset, 4 * P, "in1 (divisors)");
    if (!px || !po || x->dtype != NPU_DT_I8)
        return (void)tw_fail(t, "pool operands");
    if (is_max && !(x->scale > 0.0f && x->scale <= FLT_MAX))
        return (void)tw_fail(t, "a max pool's in0 scale (finite and > 0)");
    float *acc = alloc_f32(t, P);
    for (uint64_t plane = 0; plane < N * C && acc && !t->failed; plane++) {
        const int8_t *xp = px + plane * H * W;
        for (uint64_t oh = 0; oh < OH; oh++)
            for (uint64_t ow = 0; ow < OW; ow++) {
                int32_t m = xp[oh * sh * W + ow * sw], sum = 0; /* exact: the device's f32 max / sum of integers */
                for (uint64_t i = 0; i < KH; i++)
                    for (uint64_t j = 0; j < KW; j++) {
                        int32_t q = xp[(oh * sh + i) * W + ow * sw + j];
                        m = q > m ? q : m;
                        sum += q;
                    }
                acc[oh * OW + ow] = (float)(is_max ? m : sum);
            }
        tw_un(t, ISA_UNOP_MULI, acc, P, x->scale);
        if (!is_max) {
            if (map)
                tw_bin(t, ISA_BINOP_MUL, ISA_BC_NONE, acc, acc, map, 1, P);
            else
                tw_un(t, ISA_UNOP_MULI, acc, P, d->fattr[0]);
        }
        tw_store_f32(t, o, po + plane * P * tw_esz(o->dtype), acc, P);
    }
    free(acc);
}

/* ---------------------------------------------------------------- PAD */

/* The input index output index o copies along an axis (README.md, "PAD"), or -1: the fill. */
static int64_t pad_src(int mode, int64_t o, int64_t before, int64_t n, int64_t interior)
{
    int64_t r = o - before;
    if (mode == NPU_PAD_EDGE)
        return r < 0 ? 0 : r >= n ? n - 1 : r;
    if (mode == NPU_PAD_REFLECT)
        return r < 0 ? -r : r >= n ? 2 * (n - 1) - r : r;
    if (r < 0 || r % (interior + 1) != 0 || r / (interior + 1) >= n)
        return -1;
    return r / (interior + 1);
}

static void pad(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    uint64_t B = dim(x, 0), H = dim(x, 1), W = dim(x, 2), HO = dim(o, 1), WO = dim(o, 2), e = tw_esz(x->dtype);
    int mode = d->iattr[4];
    const uint8_t *px = tw_tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tw_tensor(t, bufs, nbufs, o, "out");
    const uint8_t *fill = NULL;
    if (mode == NPU_PAD_CONSTANT)
        fill = tw_span(t, bufs, nbufs, d->in[1].buf, d->in[1].offset, WO * e, "in1 (fill row)");
    if (!px || !po || (mode == NPU_PAD_CONSTANT && !fill) || x->rank != 3 || o->rank != 3)
        return (void)tw_fail(t, "pad operands");
    for (uint64_t b = 0; b < B; b++)
        for (uint64_t ro = 0; ro < HO; ro++) {
            int64_t hi = pad_src(mode, (int64_t)ro, d->iattr[0], (int64_t)H, d->iattr[5]);
            for (uint64_t co = 0; co < WO; co++) {
                int64_t wi = pad_src(mode, (int64_t)co, d->iattr[1], (int64_t)W, d->iattr[6]);
                uint8_t *dst = po + ((b * HO + ro) * WO + co) * e;
                if (hi < 0 || wi < 0)
                    memcpy(dst, fill + co * e, e);
                else
                    memcpy(dst, px + ((b * H + (uint64_t)hi) * W + (uint64_t)wi) * e, e);
            }
        }
}

/* ---------------------------------------------------------------- RESIZE */

typedef struct rtap {
    int64_t i0, i1;
    float w0, w1;
} rtap;

/* Exact floor of a coordinate (README.md bounds it to +-1e15; truncation is exact there). */
#define RESIZE_MAX_COORD 1.0e15

static double floor_coord(double v)
{
    double r = (double)(int64_t)v;
    return r > v ? r - 1.0 : r;
}

/* The taps of output index o along an axis of n inputs (README.md, "RESIZE"). */
static rtap resize_tap(int mode, int coord, int nearest, double scale, int64_t n, int64_t o)
{
    double out_w = scale * (double)n, xo;
    if (coord == NPU_COORD_ALIGN_CORNERS)
        xo = out_w == 1.0 ? 0.0 : (double)o * (double)(n - 1) / (out_w - 1.0);
    else if (coord == NPU_COORD_ASYMMETRIC)
        xo = (double)o / scale;
    else if (coord == NPU_COORD_PYTORCH_HALF_PIXEL)
        xo = out_w == 1.0 ? -0.5 : ((double)o + 0.5) / scale - 0.5;
    else if (coord == NPU_COORD_TF_HALF_PIXEL_FOR_NN)
        xo = ((double)o + 0.5) / scale;
    else
        xo = ((double)o + 0.5) / scale - 0.5;
    xo = xo > RESIZE_MAX_COORD ? RESIZE_MAX_COORD : xo < -RESIZE_MAX_COORD ? -RESIZE_MAX_COORD : xo;
    double fl = floor_coord(xo);
    int integral = xo == fl;
    double ratio = integral ? 1.0 : xo - fl;
    int64_t base = integral ? (int64_t)fl - 1 : (int64_t)fl;
    rtap r;
    if (mode == NPU_RESIZE_NEAREST) {
        int right = integral;
        if (!integral)
            right = nearest == NPU_NEAREST_ROUND_PREFER_FLOOR  ? ratio > 0.5
                    : nearest == NPU_NEAREST_ROUND_PREFER_CEIL ? ratio >= 0.5
                                                               : nearest == NPU_NEAREST_CEIL;
        r.i0 = r.i1 = base + right;
        r.w0 = 1.0f;
        r.w1 = 0.0f;
    } else {
        r.i0 = base;
        r.i1 = base + 1;
        r.w0 = (float)(1.0 - ratio);
        r.w1 = (float)ratio;
    }
    r.i0 = r.i0 < 0 ? 0 : r.i0 >= n ? n - 1 : r.i0;
    r.i1 = r.i1 < 0 ? 0 : r.i1 >= n ? n - 1 : r.i1;
    return r;
}

/* dst = a * w0 + b * w1 over n elements (muli, muli, add). */
static void lerp(tw *t, float *dst, const float *a, const float *b, float w0, float w1, float *tmp, uint64_t n)
{
    memcpy(dst, a, n * F32);
    memcpy(tmp, b, n * F32);
    tw_un(t, ISA_UNOP_MULI, dst, n, w0);
    tw_un(t, ISA_UNOP_MULI, tmp, n, w1);
    tw_bin(t, ISA_BINOP_ADD, ISA_BC_NONE, dst, dst, tmp, 1, n);
}

static void resize(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    uint64_t B = dim(x, 0), H = dim(x, 1), W = dim(x, 2), HO = dim(o, 1), WO = dim(o, 2);
    int mode = d->iattr[0], coord = d->iattr[1], nearest = d->iattr[2];
    double sh, sw;
    memcpy(&sh, &d->lattr[0], sizeof sh);
    memcpy(&sw, &d->lattr[1], sizeof sw);
    const uint8_t *px = tw_tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tw_tensor(t, bufs, nbufs, o, "out");
    if (!px || !po || x->rank != 3 || o->rank != 3 || !(sh > 0.0) || !(sw > 0.0))
        return (void)tw_fail(t, "resize operands");
    rtap *th = malloc(HO * sizeof *th), *tw_ = malloc(WO * sizeof *tw_);
    if (!th || !tw_) {
        free(th);
        free(tw_);
        return (void)tw_fail(t, "out of memory");
    }
    for (uint64_t i = 0; i < HO; i++)
        th[i] = resize_tap(mode, coord, nearest, sh, (int64_t)H, (int64_t)i);
    for (uint64_t j = 0; j < WO; j++)
        tw_[j] = resize_tap(mode, coord, nearest, sw, (int64_t)W, (int64_t)j);
    if (mode == NPU_RESIZE_NEAREST) {
        uint64_t e = tw_esz(x->dtype);
        for (uint64_t b = 0; b < B; b++)
            for (uint64_t i = 0; i < HO; i++)
                for (uint64_t j = 0; j < WO; j++)
                    memcpy(po + ((b * HO + i) * WO + j) * e, px + ((b * H + (uint64_t)th[i].i0) * W + (uint64_t)tw_[j].i0) * e, e);
    } else {
        float *xv = tw_load_f32(t, x, px);
        float *h1 = alloc_f32(t, H * WO), *z = alloc_f32(t, HO * WO), *c0 = alloc_f32(t, H), *c1 = alloc_f32(t, H);
        float *tmp = alloc_f32(t, (H > WO ? H : WO));
        for (uint64_t b = 0; b < B && xv && h1 && z && c0 && c1 && tmp && !t->failed; b++) {
            const float *xb = xv + b * H * W;
            for (uint64_t j = 0; j < WO; j++) { /* horizontal: output column j over every input row */
                float *col = c0;
                for (uint64_t h = 0; h < H; h++) {
                    c0[h] = xb[h * W + (uint64_t)tw_[j].i0];
                    c1[h] = xb[h * W + (uint64_t)tw_[j].i1];
                }
                lerp(t, col, c0, c1, tw_[j].w0, tw_[j].w1, tmp, H);
                for (uint64_t h = 0; h < H; h++)
                    h1[h * WO + j] = col[h];
            }
            for (uint64_t i = 0; i < HO; i++) /* vertical */
                lerp(t, z + i * WO, h1 + (uint64_t)th[i].i0 * WO, h1 + (uint64_t)th[i].i1 * WO, th[i].w0, th[i].w1, tmp, WO);
            tw_store_f32(t, o, po + b * HO * WO * tw_esz(o->dtype), z, HO * WO);
        }
        free(xv);
        free(h1);
        free(z);
        free(c0);
        free(c1);
        free(tmp);
    }
    free(th);
    free(tw_);
}

/* ---------------------------------------------------------------- ACTIVATION, CHANNEL_AFFINE */

static void activation_op(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    const uint8_t *px = tw_tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tw_tensor(t, bufs, nbufs, o, "out");
    uint64_t n = tw_numel(x), cols = dim(x, x->rank - 1), rows = n / cols;
    if (!px || !po)
        return;
    float *v = tw_load_f32(t, x, px), *tmp = NULL;
    if (v && (d->iattr[0] == NPU_ACT_HARDSWISH || d->iattr[0] == NPU_ACT_PRELU)) {
        tmp = alloc_f32(t, n);
        if (tmp)
            memcpy(tmp, v, n * F32);
    }
    if (v && d->iattr[0] == NPU_ACT_HARDSWISH && tmp) { /* x * hardsigmoid(x) */
        tw_un(t, ISA_UNOP_MULI, tmp, n, HARDSWISH_ALPHA);
        tw_un(t, ISA_UNOP_ADDI, tmp, n, HARDSWISH_BETA);
        tw_un(t, ISA_UNOP_MAXI, tmp, n, HARD_SIGMOID_LO);
        tw_un(t, ISA_UNOP_MINI, tmp, n, HARD_SIGMOID_HI);
        tw_bin(t, ISA_BINOP_MUL, ISA_BC_NONE, v, v, tmp, 1, n);
    } else if (v && d->iattr[0] == NPU_ACT_PRELU && tmp) { /* relu(x) + min(x, 0) * slope[row] */
        const float *slope = (const float *)tw_span(t, bufs, nbufs, d->in[1].buf, d->in[1].offset, 4 * rows, "in1");
        if (slope) {
            tw_un(t, ISA_UNOP_MINI, tmp, n, 0.0f);
            tw_bin(t, ISA_BINOP_MUL, ISA_BC_COL, tmp, tmp, slope, rows, cols);
            tw_un(t, ISA_UNOP_RELU, v, n, 0.0f);
            tw_bin(t, ISA_BINOP_ADD, ISA_BC_NONE, v, v, tmp, 1, n);
        }
    } else if (v) {
        tw_activation(t, d->iattr[0], d->fattr, v, n);
    }
    if (v && !t->failed)
        tw_store_f32(t, o, po, v, n);
    free(v);
    free(tmp);
}

static void channel_affine(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    const uint8_t *px = tw_tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tw_tensor(t, bufs, nbufs, o, "out");
    uint64_t n = tw_numel(x), cols = dim(x, x->rank - 1), rows = n / cols;
    if (!px || !po || d->n_inputs < 3)
        return (void)tw_fail(t, "channel affine operands");
    const float *scale = (const float *)tw_span(t, bufs, nbufs, d->in[1].buf, d->in[1].offset, 4 * rows, "in1");
    const float *shift = (const float *)tw_span(t, bufs, nbufs, d->in[2].buf, d->in[2].offset, 4 * rows, "in2");
    float *v = scale && shift ? tw_load_f32(t, x, px) : NULL;
    if (v) {
        tw_bin(t, ISA_BINOP_MUL, ISA_BC_COL, v, v, scale, rows, cols);
        tw_bin(t, ISA_BINOP_ADD, ISA_BC_COL, v, v, shift, rows, cols);
        tw_activation(t, d->iattr[0], d->fattr, v, n);
        tw_store_f32(t, o, po, v, n);
    }
    free(v);
}

void npu_twin_cnn_op(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    switch (d->op) {
    case NPU_OP_GROUP_CONV2D:
        if (d->n_inputs < 2 || d->in[0].rank != 4 || d->in[1].rank != 4 || d->out.rank != 4)
            return (void)tw_fail(t, "group conv operand ranks");
        group_conv(t, d, bufs, nbufs);
        break;
    case NPU_OP_POOL:
        if (d->in[0].rank != 4 || d->out.rank != 4)
            return (void)tw_fail(t, "pool operand ranks");
        pool(t, d, bufs, nbufs);
        break;
    case NPU_OP_PAD: pad(t, d, bufs, nbufs); break;
    case NPU_OP_RESIZE: resize(t, d, bufs, nbufs); break;
    case NPU_OP_ACTIVATION: activation_op(t, d, bufs, nbufs); break;
    case NPU_OP_CHANNEL_AFFINE: channel_affine(t, d, bufs, nbufs); break;
    default: tw_fail(t, "op code %u", d->op); break;
    }
}
