/* cpu_conv.c -- CPU kernels of Conv, ConvTranspose, ConvInteger and QLinearConv over any
 * number of spatial dims (1-D for Whisper/TTS, 2-D for ViT patches and the UNet, 3-D for
 * ImageBind's video patch embedding), with groups (depthwise included), strides, dilations and
 * padding from ops_geom. The arithmetic is GEMM through OpenBLAS (im2col / col2im, see
 * cpu_conv_tmpl.h; Winograd for 3x3 f32 layers, cpu_winograd.c): floats compute in f32 (f64
 * in f64) after one whole-tensor conversion; the integer convolutions compute in f64, which is
 * exact for every u8/i8 product sum below 2^53, then convert (ConvInteger) or requantise
 * (QLinearConv). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_conv.h"
#include "cpu_dense.h"
#include "cpu_util.h"

static int64_t prod(int n, const int64_t *v)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= v[i];
    return p;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The iteration indices o in [0, n_iter) whose target o*stride - shift lies in [0, n_target):
 * [*lo, *hi), empty when *hi == *lo. */
static void conv_span(int64_t n_iter, int64_t n_target, int64_t stride, int64_t shift, int64_t *lo, int64_t *hi)
{
    int64_t a = -floor_div(-shift, stride);           /* ceil(shift / stride) */
    int64_t b = floor_div(n_target - 1 + shift, stride) + 1;
    a = a < 0 ? 0 : a > n_iter ? n_iter : a;
    b = b > n_iter ? n_iter : b;
    *lo = a;
    *hi = b < a ? a : b;
}

/* Line `line` (a position over the iteration dims but the last: output dims for Conv, input
 * dims for ConvTranspose) at kernel offset kidx: the target offset of its non-last dims in
 * *base, false if one of them falls into padding. */
static bool conv_line_base(const conv_geom *g, bool transpose, int64_t line, const int64_t *kidx, int64_t *base)
{
    const int64_t *iter = transpose ? g->w.in : g->w.out, *target = transpose ? g->w.out : g->w.in;
    const int64_t *str = transpose ? g->out_str : g->in_str;
    int64_t off = 0;
    for (int d = g->w.nsp - 2; d >= 0; d--) {
        int64_t i = line % iter[d];
        line /= iter[d];
        int64_t p = i * g->w.stride[d] - g->w.pad_b[d] + kidx[d] * g->w.dil[d];
        if (p < 0 || p >= target[d])
            return false;
        off += p * str[d];
    }
    *base = off;
    return true;
}

int64_t conv_chunk_lines(int64_t bytes_per_line, int64_t lines)
{
    int64_t n = bytes_per_line > 0 ? CPU_IM2COL_MAX_BYTES / bytes_per_line : lines;
    if (n < 1)
        n = 1;
    return n < lines ? n : lines;
}

#define CONV_REAL float
#define CONV_SFX f32
#define CONV_GEMM cpu_gemm_f32
#include "cpu_conv_tmpl.h"
#undef CONV_REAL
#undef CONV_SFX
#undef CONV_GEMM

#define CONV_REAL double
#define CONV_SFX f64
#define CONV_GEMM cpu_gemm_f64
#include "cpu_conv_tmpl.h"
#undef CONV_REAL
#undef CONV_SFX
#undef CONV_GEMM


/* Geometry of input x and weight wt (Conv: [M, C/group, k...]; ConvTranspose: [C, M/group,
 * k...]), checked against the channel counts so the cores can index without checks. */
static rt_status geom_of(rt_op_ctx *c, bool transpose, const rt_tensor *x, const rt_tensor *wt, conv_geom *g)
{
    memset(g, 0, sizeof *g);
    if (x->rank < 3 || wt->rank != x->rank)
        return ops_err(c, RT_ERR_SHAPE, "X (rank %d) and W (rank %d) must have the same rank >= 3", x->rank, wt->rank);
    int nsp = x->rank - 2;
    int64_t k[RT_MAX_RANK];
    for (int i = 0; i < nsp; i++)
        k[i] = wt->dims[2 + i];
    rt_status s = transpose ? ops_window_transpose(c, nsp, x->dims + 2, k, &g->w)
                            : ops_window_forward(c, nsp, x->dims + 2, k, false, &g->w);
    if (s != RT_OK)
        return s;
    g->group = rt_node_attr_int(c->node, "group", 1);
    g->N = x->dims[0];
    g->C = x->dims[1];
    if (g->group < 1 || g->C % g->group != 0)
        return ops_err(c, RT_ERR_SHAPE, "%lld input channels do not split into %lld groups", (long long)g->C,
                       (long long)g->group);
    g->Cg = g->C / g->group;
    if (transpose) {
        if (wt->dims[0] != g->C)
            return ops_err(c, RT_ERR_SHAPE, "W has %lld input channels, X has %lld", (long long)wt->dims[0],
                           (long long)g->C);
        g->Mg = wt->dims[1];
        g->M = g->Mg * g->group;
    } else {
        g->M = wt->dims[0];
        if (wt->dims[1] != g->Cg || g->M % g->group != 0)
            return ops_err(c, RT_ERR_SHAPE, "W %lldx%lld does not fit %lld input channels in %lld groups",
                           (long long)wt->dims[0], (long long)wt->dims[1], (long long)g->C, (long long)g->group);
        g->Mg = g->M / g->group;
    }
    g->in_sz = prod(nsp, g->w.in);
    g->out_sz = prod(nsp, g->w.out);
    g->k_sz = prod(nsp, g->w.k);
    g->in_lines = prod(nsp - 1, g->w.in);
    g->out_lines = prod(nsp - 1, g->w.out);
    cpu_strides(nsp, g->w.in, g->in_str);
    cpu_strides(nsp, g->w.out, g->out_str);
    g->pointwise = !transpose && g->k_sz == 1;
    for (int i = 0; i < nsp && g->pointwise; i++)
        g->pointwise = g->w.stride[i] == 1 && g->w.pad_b[i] == 0 && g->w.in[i] == g->w.out[i];
    return RT_OK;
}

static rt_status check_bias(rt_op_ctx *c, const rt_tensor *bias, int64_t M)
{
    if (bias && rt_tensor_numel(bias) != M)
        return ops_err(c, RT_ERR_SHAPE, "bias has %lld values, expected %lld (one per output channel)",
                       (long long)rt_tensor_numel(bias), (long long)M);
    return RT_OK;
}

/* Conv and ConvTranspose on float tensors: convert once, compute, convert back once. */
static rt_status float_conv(rt_op_ctx *c, bool transpose)
{
    const rt_tensor *x = c->in[0], *wt = c->in[1], *bias = ops_has_input(c, 2) ? c->in[2] : NULL;
    rt_tensor *y = c->out[0];
    if (!rt_dtype_is_float(x->dtype))
        return cpu_dtype_error(c, x->dtype);
    conv_geom g;
    rt_status s = geom_of(c, transpose, x, wt, &g);
    if (s == RT_OK)
        s = check_bias(c, bias, g.M);
    if (s != RT_OK)
        return s;
    bool ox, ow, ob = false, oy;
    if (cpu_dense_is_f64(x->dtype)) {
        const double *xb = cpu_dense_read_f64(c, x, &ox), *wb = cpu_dense_read_f64(c, wt, &ow);
        const double *bb = bias ? cpu_dense_read_f64(c, bias, &ob) : NULL;
        double *yb = cpu_dense_out_f64(c, y, &oy);
        if (!xb || !wb || (bias && !bb) || !yb)
            s = RT_ERR_NOMEM;
        else
            s = transpose ? convtranspose_core_f64(c, &g, xb, wb, bb, yb) : conv_core_f64(c, &g, xb, wb, bb, yb);
        if (yb)
            cpu_dense_commit_f64(y, yb, oy);
        cpu_dense_release(xb, ox);
        cpu_dense_release(wb, ow);
        cpu_dense_release(bb, ob);
    } else {
        const float *xb = cpu_dense_read_f32(c, x, &ox), *wb = cpu_dense_read_f32(c, wt, &ow);
        const float *bb = bias ? cpu_dense_read_f32(c, bias, &ob) : NULL;
        float *yb = cpu_dense_out_f32(c, y, &oy);
        if (!xb || !wb || (bias && !bb) || !yb)
            s = RT_ERR_NOMEM;
        else
            s = transpose                   ? convtranspose_core_f32(c, &g, xb, wb, bb, yb)
                : cpu_winograd_applies(&g) ? cpu_winograd_conv(c, &g, xb, wb, bb, yb)
                                           : conv_core_f32(c, &g, xb, wb, bb, yb);
        if (yb)
            cpu_dense_commit_f32(y, yb, oy);
        cpu_dense_release(xb, ox);
        cpu_dense_release(wb, ow);
        cpu_dense_release(bb, ob);
    }
    return s;
}

rt_status cpu_conv(rt_op_ctx *c)
{
    return float_conv(c, false);
}

rt_status cpu_convtranspose(rt_op_ctx *c)
{
    return float_conv(c, true);
}

/* ---- integer and quantised convolution */

/* Zero point of channel ch: scalar or one per channel (NULL: 0). */
static double zero_point(const rt_tensor *zp, int64_t ch)
{
    if (!zp)
        return 0;
    return (double)cpu_ldi(zp->dtype, zp->data, rt_tensor_numel(zp) == 1 ? 0 : ch);
}

static rt_status check_per_channel(rt_op_ctx *c, const rt_tensor *t, const char *what, int64_t count)
{
    int64_t n = t ? rt_tensor_numel(t) : 1;
    if (n != 1 && n != count)
        return ops_err(c, RT_ERR_SHAPE, "%s has %lld values, expected 1 or %lld", what, (long long)n,
                       (long long)count);
    return RT_OK;
}

/* X - x_zero_point and W - w_zero_point (per tensor, or per output channel for W) in f64, then
 * the f64 convolution into acc[N, M, out...]; bias (int32, QLinearConv) added exactly. */
static rt_status integer_conv(rt_op_ctx *c, const rt_tensor *x, const rt_tensor *xzp, const rt_tensor *wt,
                              const rt_tensor *wzp, const rt_tensor *bias, conv_geom *g, double **acc_out)
{
    *acc_out = NULL;
    if ((x->dtype != RT_DT_U8 && x->dtype != RT_DT_I8) || (wt->dtype != RT_DT_U8 && wt->dtype != RT_DT_I8))
        return ops_err(c, RT_ERR_DTYPE, "X and W must be u8 or i8 (got %s and %s)", rt_dtype_name(x->dtype),
                       rt_dtype_name(wt->dtype));
    rt_status s = geom_of(c, false, x, wt, g);
    if (s == RT_OK)
        s = check_per_channel(c, xzp, "x_zero_point", 1);
    if (s == RT_OK)
        s = check_per_channel(c, wzp, "w_zero_point", g->M);
    if (s == RT_OK)
        s = check_bias(c, bias, g->M);
    if (s != RT_OK)
        return s;
    bool ox, ow, ob = false;
    double *xb = cpu_dense_read_f64(c, x, &ox), *wb = cpu_dense_read_f64(c, wt, &ow);
    double *bb = bias ? cpu_dense_read_f64(c, bias, &ob) : NULL;
    int64_t ny = g->N * g->M * g->out_sz;
    double *acc = malloc((size_t)(ny > 0 ? ny : 1) * sizeof *acc);
    if (!xb || !wb || (bias && !bb) || !acc) {
        s = ops_err(c, RT_ERR_NOMEM, "out of memory (integer convolution)");
    } else {
        int64_t nx = rt_tensor_numel(x), per_m = rt_tensor_numel(wt) / (g->M ? g->M : 1);
        double xz = zero_point(xzp, 0);
        for (int64_t i = 0; i < nx; i++)
            xb[i] -= xz;
        for (int64_t m = 0; m < g->M; m++) {
            double wz = zero_point(wzp, m);
            for (int64_t i = 0; i < per_m; i++)
                wb[m * per_m + i] -= wz;
        }
        s = conv_core_f64(c, g, xb, wb, bb, acc);
    }
    /* the converted copies are ours (u8/i8 inputs are never f64) */
    cpu_dense_release(xb, ox);
    cpu_dense_release(wb, ow);
    cpu_dense_release(bb, ob);
    if (s != RT_OK) {
        free(acc);
        return s;
    }
    *acc_out = acc;
    return RT_OK;
}

rt_status cpu_conv_integer(rt_op_ctx *c)
{
    const rt_tensor *xzp = ops_has_input(c, 2) ? c->in[2] : NULL, *wzp = ops_has_input(c, 3) ? c->in[3] : NULL;
    conv_geom g;
    double *acc;
    rt_status s = integer_conv(c, c->in[0], xzp, c->in[1], wzp, NULL, &g, &acc);
    if (s != RT_OK)
        return s;
    rt_tensor *y = c->out[0];
    int64_t n = rt_tensor_numel(y);
    for (int64_t i = 0; i < n; i++)
        ((int32_t *)y->data)[i] = (int32_t)(uint32_t)(int64_t)acc[i];
    free(acc);
    return RT_OK;
}

/* Round half to even and saturate to u8 / i8. */
static int64_t requantise(rt_dtype t, double v)
{
    double lo = t == RT_DT_I8 ? INT8_MIN : 0, hi = t == RT_DT_I8 ? INT8_MAX : UINT8_MAX;
    v = nearbyint(v);
    return rt_f64_to_i64(v < lo ? lo : v > hi ? hi : v); /* NaN: 0 */
}

/* QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B. */
rt_status cpu_qlinearconv(rt_op_ctx *c)
{
    const rt_tensor *xs = c->in[1], *ws = c->in[4], *ys = c->in[6], *yzp = c->in[7];
    const rt_tensor *bias = ops_has_input(c, 8) ? c->in[8] : NULL;
    conv_geom g;
    double *acc;
    rt_status s = integer_conv(c, c->in[0], c->in[2], c->in[3], c->in[5], bias, &g, &acc);
    if (s == RT_OK && ((s = check_per_channel(c, ws, "w_scale", g.M)) != RT_OK ||
                       (s = check_per_channel(c, xs, "x_scale", 1)) != RT_OK ||
                       (s = check_per_channel(c, ys, "y_scale", 1)) != RT_OK ||
                       (s = check_per_channel(c, yzp, "y_zero_point", 1)) != RT_OK))
        free(acc);
    if (s != RT_OK)
        return s;
    rt_tensor *y = c->out[0];
    double x_scale = cpu_ld(xs->dtype, xs->data, 0), y_scale = cpu_ld(ys->dtype, ys->data, 0);
    double y_zp = zero_point(yzp, 0);
    int64_t n_ws = rt_tensor_numel(ws);
    for (int64_t n = 0; n < g.N; n++)
        for (int64_t m = 0; m < g.M; m++) {
            double scale = x_scale * cpu_ld(ws->dtype, ws->data, n_ws == 1 ? 0 : m) / y_scale;
            int64_t base = (n * g.M + m) * g.out_sz;
            for (int64_t o = 0; o < g.out_sz; o++)
                cpu_sti(y->dtype, y->data, base + o, requantise(y->dtype, acc[base + o] * scale + y_zp));
        }
    free(acc);
    return RT_OK;
}
