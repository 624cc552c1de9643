/* cpu_conv.c -- CPU kernels of Conv, ConvTranspose, ConvInteger and QLinearConv over any
 * number of spatial dims (1-D for Whisper/TTS, 2-D for ViT patches and the UNet, 3-D for
 * ImageBind's video patch embedding), with groups (depthwise included), strides, dilations and
 * padding from ops_geom. The arithmetic is GEMM through OpenBLAS (im2col / col2im, see
 * cpu_conv_tmpl.h): floats compute in f32 (f64 in f64) after one whole-tensor conversion; the
 * integer convolutions compute in f64, which is exact for every u8/i8 product sum below 2^53,
 * then convert (ConvInteger) or requantise (QLinearConv). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_dense.h"
#include "cpu_util.h"
#include "ops_geom.h"

/* Largest im2col / col2im working matrix; a chunk of lines is never less than one line. */
#define CPU_IM2COL_MAX_BYTES (INT64_C(32) << 20)

typedef struct conv_geom {
    ops_window w;
    int64_t N, C, M, group, Cg, Mg;
    int64_t in_sz, out_sz, k_sz;
    int64_t in_lines, out_lines; /* positions over all spatial dims but the last */
    int64_t in_str[RT_MAX_RANK], out_str[RT_MAX_RANK];
    bool pointwise; /* 1x1 kernel, stride 1, no padding: X is already the im2col matrix */
} conv_geom;

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

static int64_t conv_chunk_lines(int64_t bytes_per_line, int64_t lines)
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


/* ---- Winograd F(2x2, 3x3) for f32 3x3 stride-1 convolutions
 *
 * Each 2x2 block of outputs comes from a 4x4 input tile: Y = A^T [U . V] A with U = G g G^T
 * (the 3x3 kernel) and V = B^T d B (the tile), so one output block takes 16 multiplies per
 * input channel instead of 36: the 3x3 layers that dominate CNNs need 2.25x fewer MACs, as
 * 16 GEMMs [Mg x Cg] x [Cg x tiles] per chunk of tile rows. The transforms only add, subtract
 * and halve; in f32 the result differs from the direct sum by rounding alone (far inside the
 * conformance tolerance), and it is the same bits run to run. f64 (and so the integer
 * convolutions) keeps the direct im2col path. */

#define WINO_TILE 4       /* input tile edge */
#define WINO_OUT 2        /* output block edge */
#define WINO_POINTS 16    /* WINO_TILE * WINO_TILE transform points */
#define WINO_MIN_CHANNELS 16 /* below this the transforms cost more than the saved MACs */

/* The transforms are plain loops along rows of tiles: on x86-64 compile them for AVX2 as well
 * as the baseline and let the loader pick (GCC function multi-versioning). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WINO_VECTOR __attribute__((target_clones("avx2", "default")))
#else
#define WINO_VECTOR
#endif

static bool wino_applies(const conv_geom *g)
{
    if (g->w.nsp != 2 || g->Cg < WINO_MIN_CHANNELS || g->Mg < WINO_MIN_CHANNELS)
        return false;
    for (int d = 0; d < 2; d++)
        if (g->w.k[d] != 3 || g->w.stride[d] != 1 || g->w.dil[d] != 1)
            return false;
    return true;
}

/* U[16][Mg][Cg] of one group's weights wg [Mg][Cg][3][3]. */
static void wino_weights(const conv_geom *g, const float *wg, float *u)
{
    int64_t plane = g->Mg * g->Cg;
    for (int64_t mc = 0; mc < plane; mc++) {
        const float *k = wg + mc * 9;
        float t[WINO_TILE][3];
        for (int j = 0; j < 3; j++) { /* G k: rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2 */
            t[0][j] = k[j];
            t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
            t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
            t[3][j] = k[6 + j];
        }
        for (int i = 0; i < WINO_TILE; i++) { /* (G k) G^T */
            u[(i * 4 + 0) * plane + mc] = t[i][0];
            u[(i * 4 + 1) * plane + mc] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            u[(i * 4 + 2) * plane + mc] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            u[(i * 4 + 3) * plane + mc] = t[i][2];
        }
    }
}

/* V[16][Cg][ntiles] of tile rows [ty0, ty0 + nty) of one group's input xg [Cg][H][W]. The
 * loops run along a row of tiles so they vectorise: the four input rows of a tile row are
 * copied with their padding into band (4 rows of 2 * tw + 2), combined down the rows (B^T d),
 * then across each tile's four columns ((B^T d) B). */
WINO_VECTOR static void wino_inputs(const conv_geom *g, const float *xg, int64_t ty0, int64_t nty, int64_t tw, float *v,
                        float *band)
{
    int64_t H = g->w.in[0], W = g->w.in[1], pt = g->w.pad_b[0], pl = g->w.pad_b[1];
    int64_t nt = nty * tw, stride = g->Cg * nt, bw = WINO_OUT * tw + 2;
    float *t = band + WINO_TILE * bw; /* the rows of B^T d */
    for (int64_t ci = 0; ci < g->Cg; ci++) {
        const float *xc = xg + ci * H * W;
        for (int64_t ty = 0; ty < nty; ty++) {
            int64_t iy = (ty0 + ty) * WINO_OUT - pt;
            for (int r = 0; r < WINO_TILE; r++) {
                float *row = band + r * bw;
                int64_t yy = iy + r, lo = pl < bw ? pl : bw, hi = W + pl < bw ? W + pl : bw;
                if (yy < 0 || yy >= H) {
                    memset(row, 0, (size_t)bw * sizeof *row);
                    continue;
                }
                memset(row, 0, (size_t)lo * sizeof *row);
                if (hi > lo)
                    memcpy(row + lo, xc + yy * W, (size_t)(hi - lo) * sizeof *row);
                if (hi < bw)
                    memset(row + (hi > lo ? hi : lo), 0, (size_t)(bw - (hi > lo ? hi : lo)) * sizeof *row);
            }
            const float *d0 = band, *d1 = band + bw, *d2 = band + 2 * bw, *d3 = band + 3 * bw;
            float *t0 = t, *t1 = t + bw, *t2 = t + 2 * bw, *t3 = t + 3 * bw;
            for (int64_t q = 0; q < bw; q++) {
                t0[q] = d0[q] - d2[q];
                t1[q] = d1[q] + d2[q];
                t2[q] = d2[q] - d1[q];
                t3[q] = d1[q] - d3[q];
            }
            float *out = v + ci * nt + ty * tw;
            for (int r = 0; r < WINO_TILE; r++) {
                const float *tr = t + r * bw;
                float *o0 = out + (r * 4 + 0) * stride, *o1 = out + (r * 4 + 1) * stride;
                float *o2 = out + (r * 4 + 2) * stride, *o3 = out + (r * 4 + 3) * stride;
                for (int64_t tx = 0; tx < tw; tx++) {
                    const float *e = tr + WINO_OUT * tx;
                    o0[tx] = e[0] - e[2];
                    o1[tx] = e[1] + e[2];
                    o2[tx] = e[2] - e[1];
                    o3[tx] = e[1] - e[3];
                }
            }
        }
    }
}

/* Y (+ bias) of tile rows [ty0, ty0 + nty) from the products P[16][Mg][ntiles], along rows
 * of tiles (A^T m, then (A^T m) A into two output rows of 2 * tw, clipped to the output). */
WINO_VECTOR static void wino_outputs(const conv_geom *g, const float *p, int64_t ty0, int64_t nty, int64_t tw, const float *bias,
                         float *yg, float *band)
{
    int64_t Ho = g->w.out[0], Wo = g->w.out[1], nt = nty * tw, stride = g->Mg * nt, bw = WINO_OUT * tw;
    float *t = band + WINO_OUT * bw; /* [2][4][tw]: the rows of A^T m */
    for (int64_t m = 0; m < g->Mg; m++) {
        float b = bias ? bias[m] : 0.0f;
        float *ym = yg + m * Ho * Wo;
        for (int64_t ty = 0; ty < nty; ty++) {
            const float *in = p + m * nt + ty * tw;
            for (int q = 0; q < WINO_TILE; q++) {
                const float *m0 = in + (0 * 4 + q) * stride, *m1 = in + (1 * 4 + q) * stride;
                const float *m2 = in + (2 * 4 + q) * stride, *m3 = in + (3 * 4 + q) * stride;
                float *a0 = t + q * tw, *a1 = t + (WINO_TILE + q) * tw;
                for (int64_t tx = 0; tx < tw; tx++) {
                    a0[tx] = m0[tx] + m1[tx] + m2[tx];
                    a1[tx] = m1[tx] - m2[tx] - m3[tx];
                }
            }
            for (int r = 0; r < WINO_OUT; r++) {
                const float *e0 = t + (r * WINO_TILE + 0) * tw, *e1 = t + (r * WINO_TILE + 1) * tw;
                const float *e2 = t + (r * WINO_TILE + 2) * tw, *e3 = t + (r * WINO_TILE + 3) * tw;
                float *row = band + r * bw;
                for (int64_t tx = 0; tx < tw; tx++) {
                    row[WINO_OUT * tx] = e0[tx] + e1[tx] + e2[tx] + b;
                    row[WINO_OUT * tx + 1] = e1[tx] - e2[tx] - e3[tx] + b;
                }
                int64_t oy = (ty0 + ty) * WINO_OUT + r;
                if (oy < Ho)
                    memcpy(ym + oy * Wo, row, (size_t)Wo * sizeof *row);
            }
        }
    }
}

static rt_status wino_conv(const rt_op_ctx *c, const conv_geom *g, const float *x, const float *w, const float *bias,
                           float *y)
{
    int64_t th = (g->w.out[0] + WINO_OUT - 1) / WINO_OUT, tw = (g->w.out[1] + WINO_OUT - 1) / WINO_OUT;
    int64_t row_bytes = WINO_POINTS * (g->Cg + g->Mg) * tw * (int64_t)sizeof(float);
    int64_t chunk = conv_chunk_lines(row_bytes, th), nt_max = chunk * tw;
    float *u = malloc((size_t)(WINO_POINTS * g->Mg * g->Cg) * sizeof *u);
    float *v = malloc((size_t)(WINO_POINTS * g->Cg * nt_max) * sizeof *v);
    float *p = malloc((size_t)(WINO_POINTS * g->Mg * nt_max) * sizeof *p);
    /* input: 4 padded rows + their 4 combinations; output: 2 rows + 8 combinations */
    float *band = malloc((size_t)(2 * WINO_TILE * (WINO_OUT * tw + 2) + (2 + 2 * WINO_TILE) * WINO_OUT * tw) *
                         sizeof *band);
    rt_status s = RT_OK;
    if (!u || !v || !p || !band)
        s = ops_err(c, RT_ERR_NOMEM, "out of memory (Winograd buffers)");
    for (int64_t gi = 0; gi < g->group && s == RT_OK; gi++) {
        wino_weights(g, w + gi * g->Mg * g->Cg * 9, u);
        for (int64_t n = 0; n < g->N && s == RT_OK; n++) {
            const float *xg = x + (n * g->C + gi * g->Cg) * g->in_sz;
            float *yg = y + (n * g->M + gi * g->Mg) * g->out_sz;
            for (int64_t ty0 = 0; ty0 < th && s == RT_OK; ty0 += chunk) {
                int64_t nty = th - ty0 < chunk ? th - ty0 : chunk, nt = nty * tw;
                wino_inputs(g, xg, ty0, nty, tw, v, band);
                for (int k = 0; k < WINO_POINTS && s == RT_OK; k++)
                    s = cpu_gemm_f32(c, false, false, g->Mg, nt, g->Cg, 1, u + k * g->Mg * g->Cg, g->Cg,
                                     v + k * g->Cg * nt, nt, 0, p + k * g->Mg * nt, nt);
                if (s == RT_OK)
                    wino_outputs(g, p, ty0, nty, tw, bias ? bias + gi * g->Mg : NULL, yg, band);
            }
        }
    }
    free(u);
    free(v);
    free(p);
    free(band);
    return s;
}

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
            s = transpose            ? convtranspose_core_f32(c, &g, xb, wb, bb, yb)
                : wino_applies(&g) ? wino_conv(c, &g, xb, wb, bb, yb)
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
    return (int64_t)(v < lo ? lo : v > hi ? hi : v);
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
