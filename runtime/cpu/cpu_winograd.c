/* cpu_winograd.c -- Winograd F(2x2, 3x3) for f32 3x3 stride-1 convolutions (cpu_conv.h).
 *
 * Each 2x2 block of outputs comes from a 4x4 input tile: Y = A^T [U . V] A with U = G g G^T
 * (the 3x3 kernel) and V = B^T d B (the tile), so one output block takes 16 multiplies per
 * input channel instead of 36: the 3x3 layers that dominate CNNs need 2.25x fewer MACs, as
 * 16 GEMMs [Mg x Cg] x [Cg x tiles] per chunk of tile rows. The transforms only add, subtract
 * and halve; in f32 the result differs from the direct sum by rounding alone (far inside the
 * conformance tolerance), and it is the same bits run to run. f64 (and so the integer
 * convolutions) keeps the direct im2col path. */
#include <stdlib.h>
#include <string.h>

#include "cpu_conv.h"
#include "cpu_dense.h"

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

bool cpu_winograd_applies(const conv_geom *g)
{
    if (g->w.nsp != 2 || g->Cg < WINO_MIN_CHANNELS || g->Mg < WINO_MIN_CHANNELS || g->out_sz == 0)
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

rt_status cpu_winograd_conv(const rt_op_ctx *c, const conv_geom *g, const float *x, const float *w, const float *bias,
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

