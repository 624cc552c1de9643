/* The NPU backend on the operators of mobile CNNs (ABI 1.5 kernels): grouped and depthwise
 * Conv (with ReLU6 fused), ConvTranspose, MaxPool, AveragePool (with divisors per position),
 * the global pools, Pad, Resize, HardSwish, HardSigmoid, PRelu, a BatchNormalization that import
 * cannot fold. Every graph runs as one segment on the default device, checked twice as in
 * test_npu_backend.c: the device against the CPU twin bit for bit, and against the FP32 CPU
 * reference within runtime/npu/README.md's tolerances. Then what supports() refuses and why,
 * and that whatever it accepts the firmware runs (random shapes, timing-only). */
#include "npu_graph_bench.h"

#include "m4npu_config.h"

#define TOL_ONE_OP 0.04
#define TOL_CHAIN 0.08
#define IN(...) ((const char *[]){__VA_ARGS__})

static npu_backend *BE;

static int setup(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    rt_error e;
    BE = npu_backend_open(&cfg, &e);
    if (!BE)
        fail_msg("npu_backend_open: %s", e.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    npu_backend_close(BE);
    return 0;
}

static void set_window(gb *b, int n, int nsp, const int64_t *k, const int64_t *strides, const int64_t *pads)
{
    if (k)
        graph_node_set_ints(b->g, n, "kernel_shape", (size_t)nsp, k);
    graph_node_set_ints(b->g, n, "strides", (size_t)nsp, strides);
    graph_node_set_ints(b->g, n, "pads", (size_t)(2 * nsp), pads);
}

/* ---------------------------------------------------------------- grouped convolution */

/* Conv with `groups` (+ bias), then ReLU6 as Clip(0, 6) or nothing; returns the kind of the
 * segment's first descriptor. */
static uint32_t gconv_case(int rank, const int64_t *xd, int64_t co, int64_t groups, int64_t k, int64_t stride, int64_t pad,
                       bool relu6, uint32_t want_ops)
{
    gb b;
    gb_new(&b, "gconv");
    int nsp = rank - 2;
    int64_t wd[4] = {co, xd[1] / groups, k, k}, bd[1] = {co}, one[1] = {1};
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pd[4] = {pad, pad, pad, pad};
    gb_input(&b, "x", rank, xd);
    gb_const(&b, "w", rank, wd, -0.5f, 0.5f);
    gb_const(&b, "b", 1, bd, -0.3f, 0.3f);
    int n = gb_node(&b, "Conv", 3, IN("x", "w", "b"), 1, IN(relu6 ? "c" : "y"));
    set_window(&b, n, nsp, NULL, st, pd);
    graph_node_set_ints(b.g, n, "kernel_shape", (size_t)nsp, ks);
    graph_node_set_int(b.g, n, "group", groups);
    if (relu6) {
        float lo = 0.0f, hi = 6.0f;
        gb_const_vals(&b, "lo", 0, one, &lo);
        gb_const_vals(&b, "hi", 0, one, &hi);
        gb_node(&b, "Clip", 3, IN("c", "lo", "hi"), 1, IN("y"));
    }
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_ONE_OP);
    if (want_ops)
        assert_int_equal(b.ops, want_ops);
    uint32_t first = b.first_op;
    gb_free(&b);
    return first;
}

static void test_depthwise_and_grouped_conv(void **state)
{
    (void)state;
    int64_t x1[4] = {1, 16, 12, 12};
    /* MobileNet's depthwise + ReLU6: the bordered input written by a PAD, one conv */
    assert_int_equal(gconv_case(4, x1, 16, 16, 3, 1, 1, true, 2), NPU_OP_PAD);
    int64_t x2[4] = {2, 6, 11, 9};
    gconv_case(4, x2, 12, 6, 3, 2, 1, false, 2);  /* channel multiplier 2, stride 2 */
    int64_t x3[4] = {1, 16, 8, 8};
    gconv_case(4, x3, 8, 4, 3, 1, 1, true, 2);    /* 4 groups of 4 -> 2 channels */
    int64_t x4[3] = {1, 6, 30};
    /* 1-D depthwise: one-row planes are bordered by a box copy into a buffer uploaded with its
     * border (a PAD would write the border on every run) */
    assert_int_equal(gconv_case(3, x4, 6, 6, 5, 1, 2, false, 2), NPU_OP_COPY);
    int64_t x5[4] = {1, 40, 7, 7};
    gconv_case(4, x5, 40, 40, 1, 1, 0, true, 1);  /* 1x1 depthwise, no padding */
}

/* A depthwise layer as the M4 builders write INT8 models: an i8 weight behind a Cast, then the
 * per-channel scales (Mul) and the bias (Add) after the Conv, and ReLU6: all one descriptor. */
static void test_depthwise_int8_weights_fuse(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "dw_i8");
    enum { C = 24 };
    int64_t xd[4] = {1, C, 10, 10}, wd[4] = {C, 1, 3, 3}, cd[4] = {1, C, 1, 1}, one[1] = {1};
    float wq[C * 9], sc[C], bias[C], lo = 0.0f, hi = 6.0f;
    for (int i = 0; i < C * 9; i++)
        wq[i] = (float)((i * 37) % 255 - 127);
    for (int i = 0; i < C; i++) {
        sc[i] = 0.002f + 0.0001f * (float)i;
        bias[i] = 0.05f * (float)(i % 7) - 0.15f;
    }
    gb_input(&b, "x", 4, xd);
    gb_const_typed(&b, "wq", RT_DT_I8, 4, wd, wq);
    gb_const_vals(&b, "sc", 4, cd, sc);
    gb_const_vals(&b, "bias", 4, cd, bias);
    gb_const_vals(&b, "lo", 0, one, &lo);
    gb_const_vals(&b, "hi", 0, one, &hi);
    int cast = gb_node(&b, "Cast", 1, IN("wq"), 1, IN("w"));
    graph_node_set_int(b.g, cast, "to", RT_DT_F32);
    int n = gb_node(&b, "Conv", 2, IN("x", "w"), 1, IN("c"));
    set_window(&b, n, 2, NULL, (const int64_t[]){1, 1}, (const int64_t[]){1, 1, 1, 1});
    graph_node_set_int(b.g, n, "group", C);
    gb_node(&b, "Mul", 2, IN("c", "sc"), 1, IN("m"));
    gb_node(&b, "Add", 2, IN("m", "bias"), 1, IN("a"));
    gb_node(&b, "Clip", 3, IN("a", "lo", "hi"), 1, IN("y"));
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, 2); /* the padding copy and one GROUP_CONV2D */
    gb_free(&b);
}

/* ---------------------------------------------------------------- transposed convolution */

static void convt_case(int rank, const int64_t *xd, int64_t co, int64_t k, int64_t stride, int64_t pad, int64_t outpad)
{
    gb b;
    gb_new(&b, "convt");
    int nsp = rank - 2;
    int64_t wd[4] = {xd[1], co, k, k}, bd[1] = {co};
    int64_t st[2] = {stride, stride}, pd[4] = {pad, pad, pad, pad}, op[2] = {outpad, outpad};
    gb_input(&b, "x", rank, xd);
    gb_const(&b, "w", rank, wd, -0.5f, 0.5f);
    gb_const(&b, "b", 1, bd, -0.3f, 0.3f);
    int n = gb_node(&b, "ConvTranspose", 3, IN("x", "w", "b"), 1, IN("c"));
    set_window(&b, n, nsp, NULL, st, pd);
    if (outpad)
        graph_node_set_ints(b.g, n, "output_padding", (size_t)nsp, op);
    gb_node(&b, "Relu", 1, IN("c"), 1, IN("y"));
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, 2); /* zero insertion (PAD), then CONV2D with the bias and Relu */
    gb_free(&b);
}

static void test_conv_transpose(void **state)
{
    (void)state;
    int64_t x1[4] = {1, 8, 6, 7};
    convt_case(4, x1, 5, 4, 2, 1, 0);  /* the decoders' 4x4 stride-2 upsampling */
    int64_t x2[4] = {2, 3, 5, 5};
    convt_case(4, x2, 4, 3, 2, 1, 1);  /* output_padding */
    int64_t x3[3] = {1, 4, 9};
    convt_case(3, x3, 6, 3, 1, 0, 0);  /* 1-D, stride 1 */
}

/* ---------------------------------------------------------------- pools */

static void pool_case(const char *op, int rank, const int64_t *xd, int64_t k, int64_t stride, int64_t pad,
                      int count_include_pad, int ceil_mode)
{
    gb b;
    gb_new(&b, op);
    int nsp = rank - 2;
    int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pd[4] = {pad, pad, pad, pad};
    gb_input(&b, "x", rank, xd);
    int n = gb_node(&b, op, 1, IN("x"), 1, IN("y"));
    set_window(&b, n, nsp, ks, st, pd);
    if (strcmp(op, "AveragePool") == 0)
        graph_node_set_int(b.g, n, "count_include_pad", count_include_pad);
    graph_node_set_int(b.g, n, "ceil_mode", ceil_mode);
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, pad || ceil_mode ? 2 : 1); /* a bordered copy when the window reaches outside */
    gb_free(&b);
}

static void test_pools(void **state)
{
    (void)state;
    int64_t x1[4] = {1, 8, 15, 15}, x2[4] = {2, 5, 8, 8}, x3[3] = {1, 4, 17};
    pool_case("MaxPool", 4, x1, 3, 2, 1, 0, 0);     /* ResNet's stem pool */
    pool_case("AveragePool", 4, x1, 3, 1, 1, 0, 0); /* divisors per position: the borders count fewer */
    pool_case("AveragePool", 4, x1, 3, 1, 1, 1, 0); /* count_include_pad: one divisor */
    pool_case("AveragePool", 4, x2, 2, 2, 0, 0, 0);
    pool_case("AveragePool", 4, x2, 3, 2, 0, 1, 1); /* ceil mode: the last window overhangs */
    pool_case("MaxPool", 4, x2, 3, 2, 0, 0, 1);
    pool_case("MaxPool", 3, x3, 3, 2, 1, 0, 0);     /* 1-D */
}

static void test_global_pools_and_spatial_means(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "global");
    int64_t xd[4] = {2, 12, 7, 7};
    gb_input(&b, "x", 4, xd);
    gb_node(&b, "GlobalAveragePool", 1, IN("x"), 1, IN("gap"));
    gb_node(&b, "GlobalMaxPool", 1, IN("x"), 1, IN("gmp"));
    int m = gb_node(&b, "ReduceMean", 1, IN("x"), 1, IN("mean"));
    graph_node_set_ints(b.g, m, "axes", 2, (const int64_t[]){2, 3}); /* as torch exports mean over H, W */
    gb_output(&b, "gap");
    gb_output(&b, "gmp");
    gb_output(&b, "mean");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, 3); /* three REDUCE over the channel planes */
    gb_free(&b);
}

/* ---------------------------------------------------------------- Pad, Resize */

static void pad_case(const char *mode, const int64_t *pads, float value)
{
    gb b;
    gb_new(&b, mode);
    int64_t xd[4] = {1, 3, 6, 7}, one[1] = {1};
    gb_input(&b, "x", 4, xd);
    gb_const_i64(&b, "pads", 8, pads);
    gb_const_vals(&b, "v", 0, one, &value);
    int n = gb_node(&b, "Pad", 3, IN("x", "pads", "v"), 1, IN("y"));
    graph_node_set_string(b.g, n, "mode", mode);
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, 1);
    gb_free(&b);
}

static void test_pad(void **state)
{
    (void)state;
    static const int64_t pads[8] = {0, 0, 1, 2, 0, 0, 3, 1}; /* begin N, C, H, W; end N, C, H, W */
    pad_case("constant", pads, 0.5f);
    pad_case("constant", pads, 0.0f);
    pad_case("reflect", pads, 0.0f);
    pad_case("edge", pads, 0.0f);
}

static void resize_case(const char *mode, const char *coord, const char *nearest, const int64_t *xd, const int64_t *sizes)
{
    gb b;
    gb_new(&b, mode);
    gb_input(&b, "x", 4, xd);
    gb_const_i64(&b, "sizes", 4, sizes);
    int n = gb_node(&b, "Resize", 4, IN("x", "", "", "sizes"), 1, IN("y"));
    graph_node_set_string(b.g, n, "mode", mode);
    graph_node_set_string(b.g, n, "coordinate_transformation_mode", coord);
    if (nearest)
        graph_node_set_string(b.g, n, "nearest_mode", nearest);
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, 1);
    gb_free(&b);
}

static void test_resize(void **state)
{
    (void)state;
    int64_t x[4] = {1, 4, 6, 8}, up[4] = {1, 4, 12, 16}, odd[4] = {1, 4, 9, 5};
    resize_case("nearest", "asymmetric", "floor", x, up); /* the FPN / U-Net 2x upsample */
    resize_case("nearest", "half_pixel", "round_prefer_floor", x, odd);
    resize_case("linear", "half_pixel", NULL, x, up);
    resize_case("linear", "align_corners", NULL, x, odd);
    resize_case("linear", "pytorch_half_pixel", NULL, x, odd);
}

/* ---------------------------------------------------------------- activations, BatchNormalization */

static void test_activations(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "acts");
    int64_t xd[4] = {2, 5, 6, 7}, sd[3] = {5, 1, 1}, one[1] = {1};
    float s1 = 0.2f;
    gb_input(&b, "x", 4, xd);
    gb_const(&b, "slope", 3, sd, -0.5f, 0.5f);
    gb_const_vals(&b, "s1", 1, one, &s1);
    gb_node(&b, "HardSwish", 1, IN("x"), 1, IN("hs"));
    int h = gb_node(&b, "HardSigmoid", 1, IN("x"), 1, IN("hg"));
    graph_node_set_float(b.g, h, "alpha", 0.3f);
    graph_node_set_float(b.g, h, "beta", 0.4f);
    gb_node(&b, "PRelu", 2, IN("x", "slope"), 1, IN("pr"));
    gb_node(&b, "PRelu", 2, IN("x", "s1"), 1, IN("p1"));
    gb_node(&b, "Clip", 1, IN("x"), 1, IN("cl")); /* no bounds: a requantising copy */
    const char *outs[] = {"hs", "hg", "pr", "p1", "cl"};
    for (int i = 0; i < 5; i++)
        gb_output(&b, outs[i]);
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -4.0f, 4.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, 5); /* one ACTIVATION each */
    gb_free(&b);
}

/* A BatchNormalization after a residual Add cannot be folded into a convolution: it runs as a
 * per-channel scale and shift with the following Relu fused. */
static void test_standalone_batchnorm(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "bn");
    int64_t xd[4] = {2, 6, 5, 5}, cd[1] = {6};
    gb_input(&b, "x", 4, xd);
    gb_input(&b, "r", 4, xd);
    gb_const(&b, "scale", 1, cd, 0.5f, 1.5f);
    gb_const(&b, "beta", 1, cd, -0.5f, 0.5f);
    gb_const(&b, "mean", 1, cd, -0.3f, 0.3f);
    gb_const(&b, "var", 1, cd, 0.5f, 2.0f);
    gb_node(&b, "Add", 2, IN("x", "r"), 1, IN("s"));
    int n = gb_node(&b, "BatchNormalization", 5, IN("s", "scale", "beta", "mean", "var"), 1, IN("bn"));
    graph_node_set_float(b.g, n, "epsilon", 1e-3f);
    gb_node(&b, "Relu", 1, IN("bn"), 1, IN("y"));
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_CHAIN);
    assert_int_equal(b.ops, 2); /* the Add, then CHANNEL_AFFINE with the Relu */
    gb_free(&b);
}

/* ---------------------------------------------------------------- refusals */

static void expect_refusal(gb *b, const char *node_op, const char *reason)
{
    rt_error e;
    if (graph_prepare(b->g, &e) != RT_OK)
        fail_msg("prepare: %s", e.msg);
    for (int i = 0; i < b->g->n_nodes; i++) {
        if (strcmp(b->g->nodes[i].op_type, node_op) != 0)
            continue;
        char why[256];
        if (npu_backend_supports(BE, b->g, i, why, sizeof why))
            fail_msg("%s (%s) is supported; expected a refusal saying '%s'", node_op, b->g->name, reason);
        if (!strstr(why, reason))
            fail_msg("%s: expected '%s' in the reason, got '%s'", node_op, reason, why);
        return;
    }
    fail_msg("no %s node", node_op);
}

static void test_cnn_refusals_name_the_rule(void **state)
{
    (void)state;
    gb b;
    int64_t xd[4] = {1, 4, 8, 8};

    gb_new(&b, "convt_group");
    int64_t wd[4] = {4, 2, 3, 3};
    gb_input(&b, "x", 4, xd);
    gb_const(&b, "w", 4, wd, -1, 1);
    int n = gb_node(&b, "ConvTranspose", 2, IN("x", "w"), 1, IN("y"));
    graph_node_set_int(b.g, n, "group", 2);
    gb_output(&b, "y");
    expect_refusal(&b, "ConvTranspose", "group = 2");
    gb_free(&b);

    gb_new(&b, "pad_wrap");
    int64_t pads[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    gb_input(&b, "x", 4, xd);
    gb_const_i64(&b, "pads", 8, pads);
    n = gb_node(&b, "Pad", 2, IN("x", "pads"), 1, IN("y"));
    graph_node_set_string(b.g, n, "mode", "wrap");
    gb_output(&b, "y");
    expect_refusal(&b, "Pad", "mode 'wrap'");
    gb_free(&b);

    gb_new(&b, "pad_channels");
    int64_t cpads[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    gb_input(&b, "x", 4, xd);
    gb_const_i64(&b, "pads", 8, cpads);
    gb_node(&b, "Pad", 2, IN("x", "pads"), 1, IN("y"));
    gb_output(&b, "y");
    expect_refusal(&b, "Pad", "the last two axes");
    gb_free(&b);

    gb_new(&b, "resize_cubic");
    int64_t sizes[4] = {1, 4, 16, 16};
    gb_input(&b, "x", 4, xd);
    gb_const_i64(&b, "sizes", 4, sizes);
    n = gb_node(&b, "Resize", 4, IN("x", "", "", "sizes"), 1, IN("y"));
    graph_node_set_string(b.g, n, "mode", "cubic");
    gb_output(&b, "y");
    expect_refusal(&b, "Resize", "mode 'cubic'");
    gb_free(&b);

    gb_new(&b, "resize_channels");
    int64_t csizes[4] = {1, 8, 8, 8};
    gb_input(&b, "x", 4, xd);
    gb_const_i64(&b, "sizes", 4, csizes);
    gb_node(&b, "Resize", 4, IN("x", "", "", "sizes"), 1, IN("y"));
    gb_output(&b, "y");
    expect_refusal(&b, "Resize", "resizes axis 1");
    gb_free(&b);

    gb_new(&b, "maxpool_dilated");
    gb_input(&b, "x", 4, xd);
    n = gb_node(&b, "MaxPool", 1, IN("x"), 1, IN("y"));
    graph_node_set_ints(b.g, n, "kernel_shape", 2, (const int64_t[]){2, 2});
    graph_node_set_ints(b.g, n, "dilations", 2, (const int64_t[]){2, 2});
    gb_output(&b, "y");
    expect_refusal(&b, "MaxPool", "dilation 2");
    gb_free(&b);

    gb_new(&b, "prelu_shape");
    int64_t sd[1] = {8};
    gb_input(&b, "x", 4, xd);
    gb_const(&b, "s", 1, sd, -1, 1); /* one slope per column, not per channel */
    gb_node(&b, "PRelu", 2, IN("x", "s"), 1, IN("y"));
    gb_output(&b, "y");
    expect_refusal(&b, "PRelu", "one per channel");
    gb_free(&b);

    gb_new(&b, "bn_runtime_stats");
    int64_t cd[1] = {4};
    gb_input(&b, "x", 4, xd);
    gb_input(&b, "m", 1, cd); /* statistics computed at run time: not a per-channel constant */
    gb_const(&b, "a", 1, cd, 0.5f, 1);
    gb_const(&b, "b", 1, cd, 0.5f, 1);
    gb_const(&b, "v", 1, cd, 0.5f, 1);
    gb_node(&b, "BatchNormalization", 5, IN("x", "a", "b", "m", "v"), 1, IN("y"));
    gb_output(&b, "y");
    expect_refusal(&b, "BatchNormalization", "input_mean 'm' is not a constant");
    gb_free(&b);
}

/* ---------------------------------------------------------------- supports() vs the firmware */

/* One random node of a CNN family (shapes across the kernels' tiling limits; weights without
 * data, as timing-only models have them), its output named y. */
static void random_cnn_node(gb *b, test_rng *r, int kind)
{
    /* one case in six with channel planes beyond the DMA's 64 KiB pitch: refused */
    int64_t c = test_rng_range(r, 1, 200), k = test_rng_range(r, 1, 7);
    int64_t hw = test_rng_range(r, 0, 5) ? test_rng_range(r, 1, 90) : test_rng_range(r, 260, 300);
    int64_t st = test_rng_range(r, 1, 3), pd = test_rng_range(r, 0, k - 1);
    if (hw < k)
        hw = k;
    int64_t xd[4] = {test_rng_range(r, 1, 2), c, hw, hw + test_rng_range(r, 0, 30)};
    gb_new(b, "random_cnn");
    gb_input(b, "x", 4, xd);
    switch (kind) {
    case 0: { /* grouped / depthwise conv */
        int64_t g = test_rng_range(r, 0, 1) ? c : 1, m = test_rng_range(r, 1, 3);
        for (int64_t d = c; d >= 1 && g == 1; d--)
            if (c % d == 0 && test_rng_range(r, 0, 2) == 0)
                g = d;
        if (g == 1)
            g = c; /* always grouped: the dense Conv is test_npu_backend's */
        int64_t wd[4] = {g * m * (c / g > 4 ? 1 : 2), c / g, k, k};
        if (wd[0] % g)
            wd[0] = g * m;
        assert_true(graph_add_weight(b->g, "w", RT_DT_F32, 4, wd) >= 0);
        int n = gb_node(b, "Conv", 2, IN("x", "w"), 1, IN("y"));
        set_window(b, n, 2, NULL, (const int64_t[]){st, st}, (const int64_t[]){pd, pd, pd, pd});
        if (g > 1)
            graph_node_set_int(b->g, n, "group", g);
        return;
    }
    case 1: case 2: { /* pools */
        int n = gb_node(b, kind == 1 ? "MaxPool" : "AveragePool", 1, IN("x"), 1, IN("y"));
        set_window(b, n, 2, (const int64_t[]){k, k}, (const int64_t[]){st, st}, (const int64_t[]){pd, pd, pd, pd});
        graph_node_set_int(b->g, n, "ceil_mode", test_rng_range(r, 0, 1));
        if (kind == 2)
            graph_node_set_int(b->g, n, "count_include_pad", test_rng_range(r, 0, 1));
        return;
    }
    case 3: { /* Pad */
        int64_t pads[8] = {0, 0, test_rng_range(r, 0, 3), test_rng_range(r, 0, 40), 0, 0, test_rng_range(r, 0, 3), 0};
        gb_const_i64(b, "pads", 8, pads);
        int n = gb_node(b, "Pad", 2, IN("x", "pads"), 1, IN("y"));
        graph_node_set_string(b->g, n, "mode", test_rng_range(r, 0, 1) ? "edge" : "constant");
        return;
    }
    case 4: { /* Resize */
        int64_t sizes[4] = {xd[0], c, test_rng_range(r, 1, 200), test_rng_range(r, 1, 300)};
        gb_const_i64(b, "sizes", 4, sizes);
        int n = gb_node(b, "Resize", 4, IN("x", "", "", "sizes"), 1, IN("y"));
        graph_node_set_string(b->g, n, "mode", test_rng_range(r, 0, 1) ? "linear" : "nearest");
        return;
    }
    case 5: { /* ConvTranspose */
        int64_t wd[4] = {c, test_rng_range(r, 1, 64), k, k};
        assert_true(graph_add_weight(b->g, "w", RT_DT_F32, 4, wd) >= 0);
        int n = gb_node(b, "ConvTranspose", 2, IN("x", "w"), 1, IN("y"));
        set_window(b, n, 2, NULL, (const int64_t[]){st, st}, (const int64_t[]){pd, pd, pd, pd});
        return;
    }
    case 6: { /* PRelu per channel */
        int64_t sd[3] = {c, 1, 1};
        assert_true(graph_add_weight(b->g, "s", RT_DT_F32, 3, sd) >= 0);
        gb_node(b, "PRelu", 2, IN("x", "s"), 1, IN("y"));
        return;
    }
    default: { /* BatchNormalization */
        int64_t cd[1] = {c};
        const char *p[4] = {"a", "b", "m", "v"};
        for (int i = 0; i < 4; i++)
            assert_true(graph_add_weight(b->g, p[i], RT_DT_F32, 1, cd) >= 0);
        gb_node(b, "BatchNormalization", 5, IN("x", "a", "b", "m", "v"), 1, IN("y"));
        return;
    }
    }
}

static void test_cnn_supports_implies_the_firmware_runs_it(void **state)
{
    (void)state;
    test_rng r = {9191};
    int accepted = 0, refused = 0;
    for (int i = 0; i < 128; i++) {
        gb b;
        random_cnn_node(&b, &r, i % 8);
        gb_output(&b, "y");
        rt_error e;
        if (graph_prepare(b.g, &e) != RT_OK) { /* a window larger than its padded input: not a case */
            gb_free(&b);
            continue;
        }
        char why[256];
        int node = -1;
        for (int k = 0; k < b.g->n_nodes; k++)
            if (b.g->nodes[k].outputs[0] == graph_find_tensor(b.g, "y"))
                node = k;
        assert_true(node >= 0);
        if (!npu_backend_supports(BE, b.g, node, why, sizeof why)) {
            assert_true(why[0] != '\0');
            refused++;
            gb_free(&b);
            continue;
        }
        accepted++;
        npu_segment *s = npu_segment_build(BE, b.g, &node, 1, NPU_WEIGHTS_INT8, true, &e);
        if (!s)
            fail_msg("case %d (%s): supported, but the segment does not build: %s", i, b.g->nodes[node].op_type, e.msg);
        npu_segment_stats st;
        if (npu_segment_run(s, NULL, &st, &e) != RT_OK)
            fail_msg("case %d (%s): supported, but the firmware refuses: %s", i, b.g->nodes[node].op_type, e.msg);
        assert_true(st.cycles > 0);
        npu_segment_free(s);
        gb_free(&b);
    }
    assert_true(accepted >= 80); /* the cases exercise the kernels, not only refusals */
    assert_true(refused >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depthwise_and_grouped_conv),
        cmocka_unit_test(test_depthwise_int8_weights_fuse),
        cmocka_unit_test(test_conv_transpose),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_global_pools_and_spatial_means),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_standalone_batchnorm),
        cmocka_unit_test(test_cnn_refusals_name_the_rule),
        cmocka_unit_test(test_cnn_supports_implies_the_firmware_runs_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
