/* cpu_conv_tmpl.h -- the convolution cores, written once and instantiated by cpu_conv.c for
 * each working type: define CONV_REAL (float or double), CONV_SFX (f32 or f64) and CONV_GEMM
 * (cpu_gemm_f32 or cpu_gemm_f64), then include this file. Not a public header.
 *
 * Conv:  per image and group, Y_g[Mg, out] = W_g[Mg, Cg*k] * col[Cg*k, out] + bias, where col
 *        is the im2col matrix built a chunk of output lines at a time (CPU_IM2COL_MAX_BYTES), a
 *        pointwise conv uses X directly, and a depthwise conv (Cg == 1) accumulates each tap
 *        directly (a product with one row would waste the GEMM).
 * ConvTranspose: col[Mg*k, in] = W_g[Cg, Mg*k]^T * X_g[Cg, in], then col2im scatters col into
 *        Y (+ bias), a chunk of input lines at a time. */

#define CONV_CAT2(a, b) a##_##b
#define CONV_CAT(a, b) CONV_CAT2(a, b)
#define CONV_FN(name) CONV_CAT(name, CONV_SFX)

/* Copy (or zero) one row of col: the taps of one kernel offset over a chunk of output lines. */
static void CONV_FN(im2col_row)(const conv_geom *g, const CONV_REAL *xc, const int64_t *kidx, int64_t line0,
                                int64_t nlines, CONV_REAL *row)
{
    int last = g->w.nsp - 1;
    int64_t wo = g->w.out[last];
    for (int64_t l = 0; l < nlines; l++) {
        CONV_REAL *dst = row + l * wo;
        int64_t base;
        if (!conv_line_base(g, false, line0 + l, kidx, &base)) {
            memset(dst, 0, (size_t)wo * sizeof *dst);
            continue;
        }
        int64_t lo, hi;
        conv_span(g->w.out[last], g->w.in[last], g->w.stride[last], g->w.pad_b[last] - kidx[last] * g->w.dil[last],
                  &lo, &hi);
        int64_t s = g->w.stride[last], off = base - g->w.pad_b[last] + kidx[last] * g->w.dil[last];
        for (int64_t o = 0; o < lo; o++)
            dst[o] = 0;
        if (s == 1) {
            if (hi > lo)
                memcpy(dst + lo, xc + off + lo, (size_t)(hi - lo) * sizeof *dst);
        } else {
            for (int64_t o = lo; o < hi; o++)
                dst[o] = xc[off + o * s];
        }
        for (int64_t o = hi > lo ? hi : lo; o < wo; o++)
            dst[o] = 0;
    }
}

/* y[out] += wv * x[taps of kernel offset kidx] over all output lines (depthwise). */
static void CONV_FN(tap_accumulate)(const conv_geom *g, const CONV_REAL *xc, const int64_t *kidx, CONV_REAL wv,
                                    CONV_REAL *yc)
{
    int last = g->w.nsp - 1;
    int64_t wo = g->w.out[last];
    int64_t lo, hi;
    conv_span(g->w.out[last], g->w.in[last], g->w.stride[last], g->w.pad_b[last] - kidx[last] * g->w.dil[last], &lo,
              &hi);
    int64_t s = g->w.stride[last];
    for (int64_t l = 0; l < g->out_lines; l++) {
        int64_t base;
        if (!conv_line_base(g, false, l, kidx, &base))
            continue;
        const CONV_REAL *src = xc + base - g->w.pad_b[last] + kidx[last] * g->w.dil[last];
        CONV_REAL *dst = yc + l * wo;
        for (int64_t o = lo; o < hi; o++)
            dst[o] += wv * src[o * s];
    }
}

static rt_status CONV_FN(conv_core)(const rt_op_ctx *c, const conv_geom *g, const CONV_REAL *x, const CONV_REAL *w,
                                    const CONV_REAL *bias, CONV_REAL *y)
{
    int64_t kc = g->Cg * g->k_sz, wo = g->w.out[g->w.nsp - 1];
    int64_t chunk = conv_chunk_lines(kc * wo * (int64_t)sizeof(CONV_REAL), g->out_lines);
    CONV_REAL *col = NULL;
    if (!g->pointwise && g->Cg > 1) {
        col = malloc((size_t)(kc * chunk * wo > 0 ? kc * chunk * wo : 1) * sizeof *col);
        if (!col)
            return ops_err(c, RT_ERR_NOMEM, "out of memory (im2col buffer)");
    }
    rt_status s = RT_OK;
    int64_t kidx[RT_MAX_RANK];
    for (int64_t n = 0; n < g->N && s == RT_OK; n++)
        for (int64_t gi = 0; gi < g->group && s == RT_OK; gi++) {
            const CONV_REAL *xg = x + (n * g->C + gi * g->Cg) * g->in_sz;
            const CONV_REAL *wg = w + gi * g->Mg * kc;
            CONV_REAL *yg = y + (n * g->M + gi * g->Mg) * g->out_sz;
            for (int64_t m = 0; m < g->Mg; m++) {
                CONV_REAL b = bias ? bias[gi * g->Mg + m] : 0;
                for (int64_t o = 0; o < g->out_sz; o++)
                    yg[m * g->out_sz + o] = b;
            }
            if (g->pointwise) {
                s = CONV_GEMM(c, false, false, g->Mg, g->out_sz, g->Cg, 1, wg, kc, xg, g->in_sz, 1, yg, g->out_sz);
                continue;
            }
            if (g->Cg == 1) {
                for (int64_t m = 0; m < g->Mg; m++) {
                    memset(kidx, 0, sizeof kidx);
                    for (int64_t kk = 0; kk < g->k_sz; kk++, cpu_next_index(g->w.nsp, g->w.k, kidx))
                        CONV_FN(tap_accumulate)(g, xg, kidx, wg[m * kc + kk], yg + m * g->out_sz);
                }
                continue;
            }
            for (int64_t line0 = 0; line0 < g->out_lines && s == RT_OK; line0 += chunk) {
                int64_t nl = g->out_lines - line0 < chunk ? g->out_lines - line0 : chunk, cols = nl * wo;
                for (int64_t ci = 0; ci < g->Cg; ci++) {
                    memset(kidx, 0, sizeof kidx);
                    for (int64_t kk = 0; kk < g->k_sz; kk++, cpu_next_index(g->w.nsp, g->w.k, kidx))
                        CONV_FN(im2col_row)(g, xg + ci * g->in_sz, kidx, line0, nl, col + (ci * g->k_sz + kk) * cols);
                }
                s = CONV_GEMM(c, false, false, g->Mg, cols, kc, 1, wg, kc, col, cols, 1, yg + line0 * wo, g->out_sz);
            }
        }
    free(col);
    return s;
}

/* Scatter one row of col (kernel offset kidx of one output channel) into that channel of Y. */
static void CONV_FN(col2im_row)(const conv_geom *g, const CONV_REAL *row, const int64_t *kidx, int64_t line0,
                                int64_t nlines, CONV_REAL *yc)
{
    int last = g->w.nsp - 1;
    int64_t wi = g->w.in[last], lo, hi;
    conv_span(g->w.in[last], g->w.out[last], g->w.stride[last], g->w.pad_b[last] - kidx[last] * g->w.dil[last], &lo,
              &hi);
    int64_t s = g->w.stride[last];
    for (int64_t l = 0; l < nlines; l++) {
        int64_t base;
        if (!conv_line_base(g, true, line0 + l, kidx, &base))
            continue;
        const CONV_REAL *src = row + l * wi;
        CONV_REAL *dst = yc + base - g->w.pad_b[last] + kidx[last] * g->w.dil[last];
        for (int64_t i = lo; i < hi; i++)
            dst[i * s] += src[i];
    }
}

static rt_status CONV_FN(convtranspose_core)(const rt_op_ctx *c, const conv_geom *g, const CONV_REAL *x,
                                             const CONV_REAL *w, const CONV_REAL *bias, CONV_REAL *y)
{
    int64_t mk = g->Mg * g->k_sz, wi = g->w.in[g->w.nsp - 1];
    int64_t chunk = conv_chunk_lines(mk * wi * (int64_t)sizeof(CONV_REAL), g->in_lines);
    CONV_REAL *col = malloc((size_t)(mk * chunk * wi > 0 ? mk * chunk * wi : 1) * sizeof *col);
    if (!col)
        return ops_err(c, RT_ERR_NOMEM, "out of memory (col2im buffer)");
    rt_status s = RT_OK;
    int64_t kidx[RT_MAX_RANK];
    for (int64_t n = 0; n < g->N && s == RT_OK; n++)
        for (int64_t gi = 0; gi < g->group && s == RT_OK; gi++) {
            const CONV_REAL *xg = x + (n * g->C + gi * g->Cg) * g->in_sz;
            const CONV_REAL *wg = w + gi * g->Cg * mk;
            CONV_REAL *yg = y + (n * g->M + gi * g->Mg) * g->out_sz;
            for (int64_t m = 0; m < g->Mg; m++) {
                CONV_REAL b = bias ? bias[gi * g->Mg + m] : 0;
                for (int64_t o = 0; o < g->out_sz; o++)
                    yg[m * g->out_sz + o] = b;
            }
            for (int64_t line0 = 0; line0 < g->in_lines && s == RT_OK; line0 += chunk) {
                int64_t nl = g->in_lines - line0 < chunk ? g->in_lines - line0 : chunk, cols = nl * wi;
                s = CONV_GEMM(c, true, false, mk, cols, g->Cg, 1, wg, mk, xg + line0 * wi, g->in_sz, 0, col, cols);
                for (int64_t m = 0; m < g->Mg && s == RT_OK; m++) {
                    memset(kidx, 0, sizeof kidx);
                    for (int64_t kk = 0; kk < g->k_sz; kk++, cpu_next_index(g->w.nsp, g->w.k, kidx))
                        CONV_FN(col2im_row)(g, col + (m * g->k_sz + kk) * cols, kidx, line0, nl, yg + m * g->out_sz);
                }
            }
        }
    free(col);
    return s;
}

#undef CONV_FN
#undef CONV_CAT
#undef CONV_CAT2
