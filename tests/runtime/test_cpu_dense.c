/* The dense CPU kernels (OpenBLAS GEMM, im2col / col2im, Winograd, depthwise, the integer and
 * quantised convolutions and matmuls) against FP64 references computed here by direct loops,
 * on models built in the test, saved as ONNX and imported again. Tolerances (relative to the
 * largest |reference| of the output, test_models.h): f64 1e-12, f32 1e-5, f16 4e-3, bf16 3e-2;
 * integer results exact. Also: an fp16 CNN end to end, and identical bits run to run. */
#include "test_models.h"

/* ---- FP64 references */

typedef struct conv_case {
    const char *what;
    int64_t N, C, M, group, H, W, kh, kw, sh, sw, dh, dw;
    int64_t pads[4]; /* top, left, bottom, right */
} conv_case;

static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe)
{
    return (in + pb + pe - ((k - 1) * d + 1)) / s + 1;
}

/* y[N][M][Ho][Wo] = sum x * w (+ b), zero points subtracted first (0 for floats). */
static double *ref_conv(const conv_case *k, const double *x, double xz, const double *w, const double *wz,
                        const double *b, int64_t *ho, int64_t *wo)
{
    int64_t Ho = conv_out(k->H, k->kh, k->sh, k->dh, k->pads[0], k->pads[2]);
    int64_t Wo = conv_out(k->W, k->kw, k->sw, k->dw, k->pads[1], k->pads[3]);
    int64_t Cg = k->C / k->group, Mg = k->M / k->group;
    double *y = calloc((size_t)(k->N * k->M * Ho * Wo), sizeof *y);
    assert_non_null(y);
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t m = 0; m < k->M; m++)
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++) {
                    double acc = b ? b[m] : 0;
                    int64_t g = m / Mg;
                    for (int64_t ci = 0; ci < Cg; ci++)
                        for (int64_t ky = 0; ky < k->kh; ky++)
                            for (int64_t kx = 0; kx < k->kw; kx++) {
                                int64_t iy = oy * k->sh - k->pads[0] + ky * k->dh;
                                int64_t ix = ox * k->sw - k->pads[1] + kx * k->dw;
                                if (iy < 0 || iy >= k->H || ix < 0 || ix >= k->W)
                                    continue;
                                double xv = x[((n * k->C + g * Cg + ci) * k->H + iy) * k->W + ix] - xz;
                                double wv = w[((m * Cg + ci) * k->kh + ky) * k->kw + kx] - (wz ? wz[m] : 0);
                                acc += xv * wv;
                            }
                    y[((n * k->M + m) * Ho + oy) * Wo + ox] = acc;
                }
    *ho = Ho;
    *wo = Wo;
    return y;
}

static int conv_node(rt_graph *g, const char *op, int nin, const char *const *ins, const conv_case *k)
{
    int nd = graph_add_node(g, op, op, nin, ins, 1, (const char *[]){"y"});
    assert_true(nd >= 0);
    assert_int_equal(graph_node_set_int(g, nd, "group", k->group), RT_OK);
    assert_int_equal(graph_node_set_ints(g, nd, "strides", 2, (int64_t[]){k->sh, k->sw}), RT_OK);
    assert_int_equal(graph_node_set_ints(g, nd, "dilations", 2, (int64_t[]){k->dh, k->dw}), RT_OK);
    assert_int_equal(graph_node_set_ints(g, nd, "pads", 4, k->pads), RT_OK);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    return nd;
}

/* Conv of case k in type dt against the FP64 reference; returns the relative error. */
static double conv_error(const conv_case *k, rt_dtype dt, uint64_t seed)
{
    int64_t xd[4] = {k->N, k->C, k->H, k->W}, wd[4] = {k->M, k->C / k->group, k->kh, k->kw}, bd[1] = {k->M};
    tv x = tv_random(seed, dt, 4, xd, -1, 1), w = tv_random(seed + 1, dt, 4, wd, -0.5, 0.5);
    tv b = tv_random(seed + 2, dt, 1, bd, -0.5, 0.5);
    rt_graph *g = graph_create("conv");
    assert_true(graph_add_input(g, "x", dt, 4, xd) >= 0);
    tv_constant(g, "w", &w);
    tv_constant(g, "b", &b);
    conv_node(g, "Conv", 3, (const char *[]){"x", "w", "b"}, k);
    rt_graph *h;
    cpu_exec *ex = model_run(g, NULL, 1, (const char *[]){"x"}, &x, &h);
    int64_t ho, wo;
    double *ref = ref_conv(k, x.v, 0, w.v, NULL, b.v, &ho, &wo);
    double err = output_error(ex, "y", dt, 4, (int64_t[]){k->N, k->M, ho, wo}, ref);
    free(ref);
    cpu_exec_free(ex);
    graph_free(h);
    tv_free(&x);
    tv_free(&w);
    tv_free(&b);
    return err;
}

/* Every path of cpu_conv: Winograd (3x3 stride 1, >= 16 channels per group; odd output sizes,
 * asymmetric padding, groups), im2col (strides, dilations, 5x5), pointwise, depthwise. */
static const conv_case conv_cases[] = {
    {"winograd 3x3", 2, 16, 16, 1, 9, 10, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}},
    {"winograd odd output, no padding", 1, 16, 24, 1, 7, 8, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}},
    {"winograd asymmetric padding", 1, 20, 16, 1, 6, 5, 3, 3, 1, 1, 1, 1, {2, 0, 1, 2}},
    {"winograd 2 groups", 1, 32, 32, 2, 8, 8, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}},
    {"im2col few channels", 1, 3, 8, 1, 9, 9, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}},
    {"im2col stride 2 dilation 2", 1, 16, 16, 1, 11, 12, 3, 3, 2, 2, 2, 2, {1, 2, 2, 1}},
    {"im2col 5x5 stride (1,2)", 2, 6, 4, 2, 9, 8, 5, 5, 1, 2, 1, 1, {2, 2, 2, 2}},
    {"pointwise 1x1", 2, 24, 8, 1, 5, 6, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}},
    {"depthwise 3x3 stride 2", 1, 8, 8, 8, 9, 9, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}},
    {"depthwise multiplier 2", 1, 4, 8, 4, 7, 6, 3, 3, 1, 1, 2, 1, {2, 1, 2, 1}},
};
#define N_CONV_CASES (sizeof conv_cases / sizeof conv_cases[0])

static void test_conv_matches_fp64(void **state)
{
    (void)state;
    const rt_dtype types[] = {RT_DT_F32, RT_DT_F64, RT_DT_F16, RT_DT_BF16};
    for (size_t i = 0; i < N_CONV_CASES; i++)
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            double err = conv_error(&conv_cases[i], types[t], 100 + i);
            if (!(err <= dtype_tolerance(types[t])))
                fail_msg("Conv %s in %s: relative error %g > %g", conv_cases[i].what, rt_dtype_name(types[t]), err,
                         dtype_tolerance(types[t]));
        }
}

/* 1-D (Whisper, TTS) and 3-D (ImageBind's video patches) convolutions: the im2col lines walk
 * every spatial dim but the last. Reference: direct sums over an N-D index. */
static void test_conv_1d_3d_match_fp64(void **state)
{
    (void)state;
    for (int nsp = 1; nsp <= 3; nsp += 2) {
        const int64_t C = 4, M = 6, group = 2, Cg = C / group, Mg = M / group;
        const int64_t in[3] = {5, 6, 7}, k[3] = {3, 2, 3}, st[3] = {1, 2, 2}, pad[3] = {1, 0, 1};
        int64_t out[3], xd[5] = {1, C}, wd[5] = {M, Cg}, yd[5] = {1, M}, pads[6];
        for (int d = 0; d < nsp; d++) {
            int64_t i = nsp == 1 ? in[2] : in[d], kk = nsp == 1 ? k[2] : k[d], s = nsp == 1 ? st[2] : st[d];
            int64_t p = nsp == 1 ? pad[2] : pad[d];
            out[d] = (i + 2 * p - kk) / s + 1;
            xd[2 + d] = i;
            wd[2 + d] = kk;
            yd[2 + d] = out[d];
            pads[d] = pads[nsp + d] = p;
        }
        tv x = tv_random(111, RT_DT_F32, 2 + nsp, xd, -1, 1), w = tv_random(112, RT_DT_F32, 2 + nsp, wd, -1, 1);
        rt_graph *g = graph_create("convnd");
        assert_true(graph_add_input(g, "x", RT_DT_F32, 2 + nsp, xd) >= 0);
        tv_constant(g, "w", &w);
        int nd = graph_add_node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
        graph_node_set_int(g, nd, "group", group);
        graph_node_set_ints(g, nd, "strides", (size_t)nsp, nsp == 1 ? st + 2 : st);
        graph_node_set_ints(g, nd, "pads", 2 * (size_t)nsp, pads);
        graph_mark_output(g, graph_find_tensor(g, "y"));
        rt_graph *h;
        cpu_exec *ex = model_run(g, NULL, 1, (const char *[]){"x"}, &x, &h);
        int64_t out_n = tv_count(nsp, out), k_n = tv_count(nsp, wd + 2), in_n = tv_count(nsp, xd + 2);
        double *ref = calloc((size_t)(M * out_n), sizeof *ref);
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < out_n; o++)
                for (int64_t ci = 0; ci < Cg; ci++)
                    for (int64_t kk = 0; kk < k_n; kk++) {
                        int64_t orem = o, krem = kk, off = 0, stride = 1;
                        bool inside = true;
                        for (int d = nsp - 1; d >= 0; d--) {
                            int64_t od = orem % out[d], kd = krem % wd[2 + d];
                            orem /= out[d];
                            krem /= wd[2 + d];
                            int64_t p = od * (nsp == 1 ? st[2] : st[d]) - pads[d] + kd;
                            inside = inside && p >= 0 && p < xd[2 + d];
                            off += p * stride;
                            stride *= xd[2 + d];
                        }
                        if (inside)
                            ref[m * out_n + o] += x.v[((m / Mg) * Cg + ci) * in_n + off] * w.v[(m * Cg + ci) * k_n + kk];
                    }
        double err = output_error(ex, "y", RT_DT_F32, 2 + nsp, yd, ref);
        if (!(err <= dtype_tolerance(RT_DT_F32)))
            fail_msg("%d-D Conv: relative error %g", nsp, err);
        free(ref);
        cpu_exec_free(ex);
        graph_free(h);
        tv_free(&x);
        tv_free(&w);
    }
}

/* ConvTranspose: y[n][g*Mg+m][oy][ox] += x[n][g*Cg+c][iy][ix] * w[g*Cg+c][m][ky][kx] at
 * oy = iy*s - pad + ky*d. */
static void test_convtranspose_matches_fp64(void **state)
{
    (void)state;
    const int64_t N = 1, C = 4, Mg = 3, group = 2, H = 5, W = 4, K = 3, S = 2, D = 1, P = 1, OP = 1;
    int64_t Cg = C / group, M = Mg * group;
    int64_t Ho = (H - 1) * S + (K - 1) * D + 1 + OP - 2 * P, Wo = (W - 1) * S + (K - 1) * D + 1 + OP - 2 * P;
    for (int t = 0; t < 2; t++) {
        rt_dtype dt = t ? RT_DT_F16 : RT_DT_F32;
        int64_t xd[4] = {N, C, H, W}, wd[4] = {C, Mg, K, K}, bd[1] = {M};
        tv x = tv_random(7, dt, 4, xd, -1, 1), w = tv_random(8, dt, 4, wd, -1, 1), b = tv_random(9, dt, 1, bd, -1, 1);
        rt_graph *g = graph_create("convtranspose");
        assert_true(graph_add_input(g, "x", dt, 4, xd) >= 0);
        tv_constant(g, "w", &w);
        tv_constant(g, "b", &b);
        int nd = graph_add_node(g, "ConvTranspose", "up", 3, (const char *[]){"x", "w", "b"}, 1, (const char *[]){"y"});
        graph_node_set_int(g, nd, "group", group);
        graph_node_set_ints(g, nd, "strides", 2, (int64_t[]){S, S});
        graph_node_set_ints(g, nd, "pads", 4, (int64_t[]){P, P, P, P});
        graph_node_set_ints(g, nd, "output_padding", 2, (int64_t[]){OP, OP});
        graph_mark_output(g, graph_find_tensor(g, "y"));
        rt_graph *h;
        cpu_exec *ex = model_run(g, NULL, 1, (const char *[]){"x"}, &x, &h);
        double *ref = calloc((size_t)(N * M * Ho * Wo), sizeof *ref);
        assert_non_null(ref);
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < Ho * Wo; o++)
                ref[m * Ho * Wo + o] = b.v[m];
        for (int64_t c = 0; c < C; c++)
            for (int64_t m = 0; m < Mg; m++)
                for (int64_t iy = 0; iy < H; iy++)
                    for (int64_t ix = 0; ix < W; ix++)
                        for (int64_t ky = 0; ky < K; ky++)
                            for (int64_t kx = 0; kx < K; kx++) {
                                int64_t oy = iy * S - P + ky * D, ox = ix * S - P + kx * D;
                                if (oy < 0 || oy >= Ho || ox < 0 || ox >= Wo)
                                    continue;
                                ref[((c / Cg) * Mg + m) * Ho * Wo + oy * Wo + ox] +=
                                    x.v[(c * H + iy) * W + ix] * w.v[((c * Mg + m) * K + ky) * K + kx];
                            }
        double err = output_error(ex, "y", dt, 4, (int64_t[]){N, M, Ho, Wo}, ref);
        if (!(err <= dtype_tolerance(dt)))
            fail_msg("ConvTranspose in %s: relative error %g", rt_dtype_name(dt), err);
        free(ref);
        cpu_exec_free(ex);
        graph_free(h);
        tv_free(&x);
        tv_free(&w);
        tv_free(&b);
    }
}

/* MatMul with batch broadcasting, and Gemm with transA, transB, alpha, beta and a broadcast C,
 * in f32, f16 and f64. */
static void test_matmul_gemm_match_fp64(void **state)
{
    (void)state;
    const rt_dtype types[] = {RT_DT_F32, RT_DT_F16, RT_DT_F64};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        rt_dtype dt = types[t];
        const int64_t B0 = 2, B1 = 3, M = 5, K = 7, N = 4;
        int64_t ad[4] = {B0, B1, M, K}, bd[2] = {K, N};
        tv a = tv_random(21, dt, 4, ad, -1, 1), b = tv_random(22, dt, 2, bd, -1, 1);
        rt_graph *g = graph_create("matmul");
        assert_true(graph_add_input(g, "a", dt, 4, ad) >= 0);
        tv_constant(g, "b", &b);
        assert_true(graph_add_node(g, "MatMul", "mm", 2, (const char *[]){"a", "b"}, 1, (const char *[]){"y"}) >= 0);
        graph_mark_output(g, graph_find_tensor(g, "y"));
        rt_graph *h;
        cpu_exec *ex = model_run(g, NULL, 1, (const char *[]){"a"}, &a, &h);
        double *ref = calloc((size_t)(B0 * B1 * M * N), sizeof *ref);
        for (int64_t bi = 0; bi < B0 * B1; bi++)
            for (int64_t m = 0; m < M; m++)
                for (int64_t n = 0; n < N; n++)
                    for (int64_t k = 0; k < K; k++)
                        ref[(bi * M + m) * N + n] += a.v[(bi * M + m) * K + k] * b.v[k * N + n];
        double err = output_error(ex, "y", dt, 4, (int64_t[]){B0, B1, M, N}, ref);
        if (!(err <= dtype_tolerance(dt)))
            fail_msg("MatMul in %s: relative error %g", rt_dtype_name(dt), err);
        free(ref);
        cpu_exec_free(ex);
        graph_free(h);
        tv_free(&a);
        tv_free(&b);

        /* Gemm: A stored [K, M] (transA), B stored [N, K] (transB), C [N] */
        const double alpha = 0.75, beta = -1.5;
        int64_t gad[2] = {K, M}, gbd[2] = {N, K}, gcd[1] = {N};
        tv ga = tv_random(31, dt, 2, gad, -1, 1), gb = tv_random(32, dt, 2, gbd, -1, 1);
        tv gc = tv_random(33, dt, 1, gcd, -1, 1);
        g = graph_create("gemm");
        assert_true(graph_add_input(g, "a", dt, 2, gad) >= 0);
        tv_constant(g, "b", &gb);
        tv_constant(g, "c", &gc);
        int nd = graph_add_node(g, "Gemm", "gemm", 3, (const char *[]){"a", "b", "c"}, 1, (const char *[]){"y"});
        graph_node_set_int(g, nd, "transA", 1);
        graph_node_set_int(g, nd, "transB", 1);
        graph_node_set_float(g, nd, "alpha", (float)alpha);
        graph_node_set_float(g, nd, "beta", (float)beta);
        graph_mark_output(g, graph_find_tensor(g, "y"));
        ex = model_run(g, NULL, 1, (const char *[]){"a"}, &ga, &h);
        ref = calloc((size_t)(M * N), sizeof *ref);
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += ga.v[k * M + m] * gb.v[n * K + k];
                ref[m * N + n] = alpha * acc + beta * gc.v[n];
            }
        err = output_error(ex, "y", dt, 2, (int64_t[]){M, N}, ref);
        if (!(err <= dtype_tolerance(dt)))
            fail_msg("Gemm in %s: relative error %g", rt_dtype_name(dt), err);
        free(ref);
        cpu_exec_free(ex);
        graph_free(h);
        tv_free(&ga);
        tv_free(&gb);
        tv_free(&gc);
    }
}

/* The same model and input give the same bytes in two executions (OpenBLAS blocking depends
 * on the shapes only; no threads race on a sum). */
static void test_results_identical_run_to_run(void **state)
{
    (void)state;
    const conv_case *k = &conv_cases[0];
    int64_t xd[4] = {k->N, k->C, k->H, k->W}, wd[4] = {k->M, k->C, 3, 3};
    tv x = tv_random(41, RT_DT_F32, 4, xd, -1, 1), w = tv_random(42, RT_DT_F32, 4, wd, -1, 1);
    void *first = NULL;
    uint64_t bytes = 0;
    for (int run = 0; run < 2; run++) {
        rt_graph *g = graph_create("det");
        assert_true(graph_add_input(g, "x", RT_DT_F32, 4, xd) >= 0);
        tv_constant(g, "w", &w);
        conv_node(g, "Conv", 2, (const char *[]){"x", "w"}, k);
        rt_graph *h;
        cpu_exec *ex = model_run(g, NULL, 1, (const char *[]){"x"}, &x, &h);
        const rt_tensor *y = cpu_exec_output(ex, "y");
        assert_non_null(y);
        if (!first) {
            bytes = rt_tensor_nbytes(y);
            first = malloc(bytes);
            memcpy(first, y->data, bytes);
        } else {
            assert_int_equal(rt_tensor_nbytes(y), bytes);
            assert_memory_equal(first, y->data, bytes);
        }
        cpu_exec_free(ex);
        graph_free(h);
    }
    free(first);
    tv_free(&x);
    tv_free(&w);
}

/* ---- integer and quantised */

static int64_t round_half_even_sat(double v, rt_dtype t)
{
    double r = nearbyint(v), lo = t == RT_DT_I8 ? -128 : 0, hi = t == RT_DT_I8 ? 127 : 255;
    return (int64_t)(r < lo ? lo : r > hi ? hi : r);
}

/* ConvInteger (u8 X, i8 W, per-channel w_zero_point) and QLinearConv (per-channel w_scale,
 * i32 bias) against exact integer sums; results must be equal. */
static void test_integer_convs_exact(void **state)
{
    (void)state;
    const conv_case k = {"int", 1, 16, 6, 1, 7, 6, 3, 3, 1, 2, 1, 1, {1, 0, 1, 1}};
    int64_t xd[4] = {k.N, k.C, k.H, k.W}, wd[4] = {k.M, k.C, 3, 3}, md[1] = {k.M}, sd[1] = {1};
    tv x = tv_random(51, RT_DT_U8, 4, xd, 0, 255), w = tv_random(52, RT_DT_I8, 4, wd, -128, 127);
    tv xz = tv_random(53, RT_DT_U8, 0, sd, 100, 140), wz = tv_random(54, RT_DT_I8, 1, md, -5, 5);
    int64_t ho, wo;
    double *ref = ref_conv(&k, x.v, xz.v[0], w.v, wz.v, NULL, &ho, &wo);
    int64_t ny = k.M * ho * wo;

    rt_graph *g = graph_create("convinteger");
    assert_true(graph_add_input(g, "x", RT_DT_U8, 4, xd) >= 0);
    tv_constant(g, "w", &w);
    tv_constant(g, "xz", &xz);
    tv_constant(g, "wz", &wz);
    conv_node(g, "ConvInteger", 4, (const char *[]){"x", "w", "xz", "wz"}, &k);
    rt_graph *h;
    char path[512];
    test_path(path, sizeof path, "convinteger.onnx");
    cpu_exec *ex = model_run(g, path, 1, (const char *[]){"x"}, &x, &h);
    assert_true(output_error(ex, "y", RT_DT_I32, 4, (int64_t[]){k.N, k.M, ho, wo}, ref) == 0);
    cpu_exec_free(ex);
    graph_free(h);

    /* QLinearConv: x_scale, y_scale, y_zero_point scalars; w_scale per channel; bias i32 */
    float xs = 0.02f, ys = 0.5f, wsv[6] = {0.01f, 0.02f, 0.005f, 0.03f, 0.015f, 0.01f};
    int64_t bd[1] = {k.M};
    tv bias = tv_random(55, RT_DT_I32, 1, bd, -2000, 2000), yz = tv_random(56, RT_DT_U8, 0, sd, 120, 130);
    g = graph_create("qlinearconv");
    assert_true(graph_add_input(g, "x", RT_DT_U8, 4, xd) >= 0);
    assert_true(graph_add_constant(g, "xs", RT_DT_F32, 0, NULL, &xs, sizeof xs) >= 0);
    tv_constant(g, "xz", &xz);
    tv_constant(g, "w", &w);
    assert_true(graph_add_constant(g, "ws", RT_DT_F32, 1, md, wsv, sizeof wsv) >= 0);
    tv_constant(g, "wz", &wz);
    assert_true(graph_add_constant(g, "ys", RT_DT_F32, 0, NULL, &ys, sizeof ys) >= 0);
    tv_constant(g, "yz", &yz);
    tv_constant(g, "b", &bias);
    conv_node(g, "QLinearConv", 9, (const char *[]){"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"}, &k);
    test_path(path, sizeof path, "qlinearconv.onnx");
    ex = model_run(g, path, 1, (const char *[]){"x"}, &x, &h);
    double *qref = malloc((size_t)ny * sizeof *qref);
    for (int64_t m = 0; m < k.M; m++)
        for (int64_t o = 0; o < ho * wo; o++) {
            double scale = (double)xs * (double)wsv[m] / (double)ys;
            qref[m * ho * wo + o] =
                (double)round_half_even_sat((ref[m * ho * wo + o] + bias.v[m]) * scale + yz.v[0], RT_DT_U8);
        }
    assert_true(output_error(ex, "y", RT_DT_U8, 4, (int64_t[]){k.N, k.M, ho, wo}, qref) == 0);
    /* its cost: W is input 3; a bias add and 4 requantisation flops per output */
    rt_cost cost;
    rt_error ce = {0};
    assert_int_equal(graph_node_cost(h, 0, &cost, &ce), RT_OK);
    double outs = (double)(k.M * ho * wo);
    assert_true(cost.macs == outs * (double)(k.C * 9));
    assert_true(cost.flops == 2 * cost.macs + outs + 4 * outs);
    cpu_exec_free(ex);
    graph_free(h);
    free(qref);
    free(ref);
    tv_free(&x);
    tv_free(&w);
    tv_free(&xz);
    tv_free(&wz);
    tv_free(&bias);
    tv_free(&yz);
}

/* MatMulInteger with a per-row a_zero_point and a per-column b_zero_point (i8 x u8), exact. */
static void test_matmul_integer_exact(void **state)
{
    (void)state;
    const int64_t M = 6, K = 300, N = 5;
    int64_t ad[2] = {M, K}, bd[2] = {K, N}, azd[1] = {M}, bzd[1] = {N};
    tv a = tv_random(61, RT_DT_I8, 2, ad, -128, 127), b = tv_random(62, RT_DT_U8, 2, bd, 0, 255);
    tv az = tv_random(63, RT_DT_I8, 1, azd, -3, 3), bz = tv_random(64, RT_DT_U8, 1, bzd, 120, 135);
    rt_graph *g = graph_create("matmulinteger");
    assert_true(graph_add_input(g, "a", RT_DT_I8, 2, ad) >= 0);
    tv_constant(g, "b", &b);
    tv_constant(g, "az", &az);
    tv_constant(g, "bz", &bz);
    assert_true(graph_add_node(g, "MatMulInteger", "mmi", 4, (const char *[]){"a", "b", "az", "bz"}, 1,
                               (const char *[]){"y"}) >= 0);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_graph *h;
    char path[512];
    test_path(path, sizeof path, "matmulinteger.onnx");
    cpu_exec *ex = model_run(g, path, 1, (const char *[]){"a"}, &a, &h);
    double ref[6 * 5] = {0};
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < K; k++)
                ref[m * N + n] += (a.v[m * K + k] - az.v[m]) * (b.v[k * N + n] - bz.v[n]);
    assert_true(output_error(ex, "y", RT_DT_I32, 2, (int64_t[]){M, N}, ref) == 0);
    cpu_exec_free(ex);
    graph_free(h);
    tv_free(&a);
    tv_free(&b);
    tv_free(&az);
    tv_free(&bz);
}

/* A wrong per-channel parameter is an error naming it, not a crash. */
static void test_integer_conv_errors(void **state)
{
    (void)state;
    const conv_case k = {"int", 1, 4, 3, 1, 5, 5, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}};
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {3, 4, 3, 3}, zd[1] = {2};
    tv x = tv_random(71, RT_DT_U8, 4, xd, 0, 255), w = tv_random(72, RT_DT_U8, 4, wd, 0, 255);
    tv wz = tv_random(73, RT_DT_U8, 1, zd, 0, 3);
    rt_graph *g = graph_create("bad");
    assert_true(graph_add_input(g, "x", RT_DT_U8, 4, xd) >= 0);
    tv_constant(g, "w", &w);
    tv_constant(g, "wz", &wz);
    conv_node(g, "ConvInteger", 4, (const char *[]){"x", "w", "", "wz"}, &k);
    rt_error e = {0};
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    cpu_exec *ex;
    assert_int_equal(cpu_exec_create(g, &ex, &e), RT_OK);
    rt_tensor *v = rt_tensor_new("x", RT_DT_U8, 4, xd);
    assert_int_equal(rt_tensor_alloc(v, NULL), RT_OK);
    memcpy(v->data, x.raw, tv_bytes(&x));
    assert_int_equal(cpu_exec_set_input(ex, "x", v, &e), RT_OK);
    assert_int_equal(cpu_exec_run(ex, &e), RT_ERR_SHAPE);
    if (!strstr(e.msg, "w_zero_point has 2 values, expected 1 or 3"))
        fail_msg("message: %s", e.msg);
    rt_tensor_free(v);
    cpu_exec_free(ex);
    graph_free(g);
    tv_free(&x);
    tv_free(&w);
    tv_free(&wz);
}

/* ---- an fp16 CNN end to end */

/* Conv 3x3 (16 -> 16, Winograd) + Relu + MaxPool 2x2 + ConvTranspose 2x2 stride 2 (16 -> 8) +
 * depthwise Conv 3x3 + Sigmoid, every tensor f16, against the same network in FP64 from the
 * same f16 weights (no rounding between layers). Tolerance 1e-2 of the largest output: five
 * layers, each output rounded to f16 (2^-11) and the rounding carried through. */
#define CNN_TOLERANCE 1e-2

static double sigmoid(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

static void test_fp16_cnn_matches_fp64(void **state)
{
    (void)state;
    const int64_t C = 16, H = 12, W = 10, M2 = 8;
    int64_t xd[4] = {1, C, H, W}, w1d[4] = {C, C, 3, 3}, b1d[1] = {C}, w2d[4] = {C, M2, 2, 2}, b2d[1] = {M2};
    int64_t w3d[4] = {M2, 1, 3, 3};
    tv x = tv_random(81, RT_DT_F16, 4, xd, -1, 1), w1 = tv_random(82, RT_DT_F16, 4, w1d, -0.3, 0.3);
    tv b1 = tv_random(83, RT_DT_F16, 1, b1d, -0.1, 0.1), w2 = tv_random(84, RT_DT_F16, 4, w2d, -0.5, 0.5);
    tv b2 = tv_random(85, RT_DT_F16, 1, b2d, -0.1, 0.1), w3 = tv_random(86, RT_DT_F16, 4, w3d, -0.5, 0.5);
    rt_graph *g = graph_create("cnn_fp16");
    assert_true(graph_add_input(g, "x", RT_DT_F16, 4, xd) >= 0);
    tv_constant(g, "w1", &w1);
    tv_constant(g, "b1", &b1);
    tv_constant(g, "w2", &w2);
    tv_constant(g, "b2", &b2);
    tv_constant(g, "w3", &w3);
    const conv_case k1 = {"c1", 1, C, C, 1, H, W, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}};
    int n1 = graph_add_node(g, "Conv", "c1", 3, (const char *[]){"x", "w1", "b1"}, 1, (const char *[]){"t1"});
    graph_node_set_ints(g, n1, "pads", 4, k1.pads);
    graph_add_node(g, "Relu", "r1", 1, (const char *[]){"t1"}, 1, (const char *[]){"t2"});
    int np = graph_add_node(g, "MaxPool", "p1", 1, (const char *[]){"t2"}, 1, (const char *[]){"t3"});
    graph_node_set_ints(g, np, "kernel_shape", 2, (int64_t[]){2, 2});
    graph_node_set_ints(g, np, "strides", 2, (int64_t[]){2, 2});
    int nu = graph_add_node(g, "ConvTranspose", "u1", 3, (const char *[]){"t3", "w2", "b2"}, 1, (const char *[]){"t4"});
    graph_node_set_ints(g, nu, "strides", 2, (int64_t[]){2, 2});
    int nd = graph_add_node(g, "Conv", "d1", 2, (const char *[]){"t4", "w3"}, 1, (const char *[]){"t5"});
    graph_node_set_int(g, nd, "group", M2);
    graph_node_set_ints(g, nd, "pads", 4, (int64_t[]){1, 1, 1, 1});
    graph_add_node(g, "Sigmoid", "s1", 1, (const char *[]){"t5"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_graph *h;
    char path[512];
    test_path(path, sizeof path, "cnn_fp16.onnx");
    cpu_exec *ex = model_run(g, path, 1, (const char *[]){"x"}, &x, &h);

    int64_t ho, wo;
    double *t1 = ref_conv(&k1, x.v, 0, w1.v, NULL, b1.v, &ho, &wo);
    int64_t H2 = H / 2, W2 = W / 2;
    double *t3 = malloc((size_t)(C * H2 * W2) * sizeof *t3);
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < H2; y++)
            for (int64_t z = 0; z < W2; z++) {
                double best = -INFINITY;
                for (int dy = 0; dy < 2; dy++)
                    for (int dz = 0; dz < 2; dz++)
                        best = fmax(best, fmax(0.0, t1[(c * H + 2 * y + dy) * W + 2 * z + dz]));
                t3[(c * H2 + y) * W2 + z] = best;
            }
    double *t4 = malloc((size_t)(M2 * H * W) * sizeof *t4);
    for (int64_t m = 0; m < M2; m++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t z = 0; z < W; z++) {
                double acc = b2.v[m];
                for (int64_t c = 0; c < C; c++)
                    acc += t3[(c * H2 + y / 2) * W2 + z / 2] * w2.v[((c * M2 + m) * 2 + y % 2) * 2 + z % 2];
                t4[(m * H + y) * W + z] = acc;
            }
    const conv_case k3 = {"d1", 1, M2, M2, M2, H, W, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}};
    double *t5 = ref_conv(&k3, t4, 0, w3.v, NULL, NULL, &ho, &wo);
    for (int64_t i = 0; i < M2 * H * W; i++)
        t5[i] = sigmoid(t5[i]);
    double err = output_error(ex, "y", RT_DT_F16, 4, (int64_t[]){1, M2, H, W}, t5);
    if (!(err <= CNN_TOLERANCE))
        fail_msg("fp16 CNN: relative error %g > %g", err, CNN_TOLERANCE);
    free(t1);
    free(t3);
    free(t4);
    free(t5);
    cpu_exec_free(ex);
    graph_free(h);
    tv_free(&x);
    tv_free(&w1);
    tv_free(&b1);
    tv_free(&w2);
    tv_free(&b2);
    tv_free(&w3);
}

/* Elementwise ops on f16 and bf16 tensors with broadcasting, y = Cast<f32>(Relu(x + b) * c -
 * x / d), against FP64 from the same values. */
static void test_elementwise_f16_bf16(void **state)
{
    (void)state;
    const rt_dtype types[] = {RT_DT_F16, RT_DT_BF16};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        rt_dtype dt = types[t];
        int64_t xd[3] = {2, 3, 4}, bd[1] = {4}, cd[3] = {2, 1, 4};
        tv x = tv_random(91, dt, 3, xd, -2, 2), b = tv_random(92, dt, 1, bd, -1, 1);
        tv cc = tv_random(93, dt, 3, cd, -2, 2), d = tv_random(94, dt, 1, bd, 0.5, 2);
        rt_graph *g = graph_create("elementwise");
        assert_true(graph_add_input(g, "x", dt, 3, xd) >= 0);
        tv_constant(g, "b", &b);
        tv_constant(g, "c", &cc);
        tv_constant(g, "d", &d);
        graph_add_node(g, "Add", "add", 2, (const char *[]){"x", "b"}, 1, (const char *[]){"t1"});
        graph_add_node(g, "Relu", "relu", 1, (const char *[]){"t1"}, 1, (const char *[]){"t2"});
        graph_add_node(g, "Mul", "mul", 2, (const char *[]){"t2", "c"}, 1, (const char *[]){"t3"});
        graph_add_node(g, "Div", "div", 2, (const char *[]){"x", "d"}, 1, (const char *[]){"t4"});
        graph_add_node(g, "Sub", "sub", 2, (const char *[]){"t3", "t4"}, 1, (const char *[]){"t5"});
        int nc = graph_add_node(g, "Cast", "cast", 1, (const char *[]){"t5"}, 1, (const char *[]){"y"});
        graph_node_set_int(g, nc, "to", RT_DT_F32);
        graph_mark_output(g, graph_find_tensor(g, "y"));
        rt_graph *h;
        cpu_exec *ex = model_run(g, NULL, 1, (const char *[]){"x"}, &x, &h);
        double ref[24];
        for (int64_t i = 0; i < 24; i++) {
            int64_t k = i % 4, bi = i / 12;
            ref[i] = fmax(0.0, x.v[i] + b.v[k]) * cc.v[bi * 4 + k] - x.v[i] / d.v[k];
        }
        double err = output_error(ex, "y", RT_DT_F32, 3, xd, ref);
        if (!(err <= dtype_tolerance(dt)))
            fail_msg("elementwise chain in %s: relative error %g", rt_dtype_name(dt), err);
        cpu_exec_free(ex);
        graph_free(h);
        tv_free(&x);
        tv_free(&b);
        tv_free(&cc);
        tv_free(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_matches_fp64),
        cmocka_unit_test(test_conv_1d_3d_match_fp64),
        cmocka_unit_test(test_convtranspose_matches_fp64),
        cmocka_unit_test(test_matmul_gemm_match_fp64),
        cmocka_unit_test(test_results_identical_run_to_run),
        cmocka_unit_test(test_integer_convs_exact),
        cmocka_unit_test(test_matmul_integer_exact),
        cmocka_unit_test(test_integer_conv_errors),
        cmocka_unit_test(test_fp16_cnn_matches_fp64),
        cmocka_unit_test(test_elementwise_f16_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
