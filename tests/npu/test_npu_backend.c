/* The runtime's NPU backend (runtime/npu): ONNX nodes lowered to op descriptors and run as one
 * segment on configs/test.yaml's device. Every run is checked twice: the device against the
 * CPU twin bit for bit, and against the FP32 CPU reference within a tolerance relative to the
 * output's range (runtime/npu/README.md: 4% for one op, 8% for chains of quantised ops, 20%
 * with int4 weights). Also:
 * epilogue fusion, timing-only segments (no data, the same cycles), the boundary of a segment
 * inside a graph, what supports() refuses and why. Attention fuses into one NPU_OP_ATTENTION
 * descriptor in its variants (keys transposed or not, scale by Div or Mul, an activation or a
 * constant -inf mask, casts around the softmax), within the chain tolerance of FP32 and bit for
 * bit with the twin; turned off it runs op by op; on a long sequence the fused op moves a fraction
 * of the DRAM bytes and needs no L x L buffer; supports() accepts a member the kernels cannot run
 * alone (the mask Add of a long sequence) only while the pattern fuses. */
#include "npu_graph_bench.h"

#include "m4npu_config.h"

#define TOL_ONE_OP 0.04
#define TOL_CHAIN 0.08
/* attention through the softmax tile, fused or op by op: int8 scores into the tile's Q0.7
 * probabilities (measured up to 16% of the output's range at one query row; the online softmax
 * keeps the scores f32: within TOL_ONE_OP, ~1%) */
#define TOL_INT8_SOFTMAX 0.2

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

#define IN(...) ((const char *[]){__VA_ARGS__})

/* ---------------------------------------------------------------- matmul, gemm */

static void matmul_case(int64_t m, int64_t k, int64_t n, npu_weight_type w, bool bias_relu)
{
    gb b;
    gb_new(&b, "matmul");
    int64_t xd[2] = {m, k}, wd[2] = {k, n}, bd[1] = {n};
    gb_input(&b, "x", 2, xd);
    gb_const(&b, "w", 2, wd, -0.5f, 0.5f);
    gb_const(&b, "bias", 1, bd, -1.0f, 1.0f);
    gb_node(&b, "MatMul", 2, IN("x", "w"), 1, IN("y0"));
    if (bias_relu) {
        gb_node(&b, "Add", 2, IN("y0", "bias"), 1, IN("y1"));
        gb_node(&b, "Relu", 1, IN("y1"), 1, IN("y"));
    } else {
        gb_node(&b, "Identity", 1, IN("y0"), 1, IN("y"));
    }
    gb_output(&b, "y");
    /* int4 weights: 15 levels per channel, so a wider tolerance */
    gb_check(&b, BE, w, -1.0f, 1.0f, w == NPU_WEIGHTS_INT4 ? 0.2 : TOL_ONE_OP);
    assert_int_equal(b.ops, 1); /* Add and Relu folded into the matmul; Identity is a view */
    gb_free(&b);
}

static void test_matmul_weights_int8_int4(void **state)
{
    (void)state;
    static const int64_t sizes[][3] = {{1, 16, 16}, {15, 17, 33}, {17, 40, 16}, {33, 64, 50}};
    for (int i = 0; i < 4; i++) {
        matmul_case(sizes[i][0], sizes[i][1], sizes[i][2], NPU_WEIGHTS_INT8, i % 2);
        matmul_case(sizes[i][0], sizes[i][1], sizes[i][2], NPU_WEIGHTS_INT4, i % 2 == 0);
    }
}

static void test_gemm_trans_alpha_beta(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "gemm");
    int64_t xd[2] = {9, 20}, wd[2] = {30, 20}, cd[2] = {1, 30};
    gb_input(&b, "x", 2, xd);
    gb_const(&b, "w", 2, wd, -0.5f, 0.5f);
    gb_const(&b, "c", 2, cd, -1.0f, 1.0f);
    int n = gb_node(&b, "Gemm", 3, IN("x", "w", "c"), 1, IN("y"));
    graph_node_set_int(b.g, n, "transB", 1);
    graph_node_set_float(b.g, n, "alpha", 0.5f);
    graph_node_set_float(b.g, n, "beta", 2.0f);
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -1.0f, 1.0f, TOL_ONE_OP);
    gb_free(&b);
}

static void test_matmul_of_two_activations(void **state)
{
    (void)state;
    /* attention's scores: q [2,4,5,16] x k^T [2,4,16,7] */
    gb b;
    gb_new(&b, "qk");
    int64_t qd[4] = {2, 4, 5, 16}, kd[4] = {2, 4, 7, 16};
    gb_input(&b, "q", 4, qd);
    gb_input(&b, "k", 4, kd);
    int t = gb_node(&b, "Transpose", 1, IN("k"), 1, IN("kt"));
    graph_node_set_ints(b.g, t, "perm", 4, (const int64_t[]){0, 1, 3, 2});
    gb_node(&b, "MatMul", 2, IN("q", "kt"), 1, IN("s"));
    int sm = gb_node(&b, "Softmax", 1, IN("s"), 1, IN("p"));
    graph_node_set_int(b.g, sm, "axis", -1);
    gb_output(&b, "p");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -1.0f, 1.0f, TOL_CHAIN);
    assert_int_equal(b.ops, 3);
    gb_free(&b);
}

/* Weight-only quantisation as the M4 graphs export it: f16 activations, an int8/int4 weight behind
 * a Cast, the per-channel scales as a Mul after the MatMul (and for Conv a reshaped Mul): all of
 * it one descriptor reading the integer weights as they are. */
static void quantised_linear_case(rt_dtype wdt)
{
    gb b;
    gb_new(&b, wdt == RT_DT_I4 ? "linear_i4" : "linear_i8");
    /* big enough that graph_prepare does not fold the cast (its f16 output exceeds 64 KiB) */
    enum { K = 256, N = 136 };
    int64_t xd[3] = {1, 5, K}, wd[2] = {K, N}, sd[1] = {N};
    float qmax = wdt == RT_DT_I4 ? 7.0f : 127.0f, sc[N], bias[N];
    float *w = malloc(K * N * sizeof *w);
    assert_non_null(w);
    for (int i = 0; i < K * N; i++)
        w[i] = floorf(gb_uniform(&b, -qmax, qmax + 1.0f));
    for (int i = 0; i < N; i++) {
        sc[i] = gb_uniform(&b, 0.001f, 0.01f) * 127.0f / qmax;
        bias[i] = gb_uniform(&b, -0.5f, 0.5f);
    }
    assert_true(graph_add_input(b.g, "x", RT_DT_F16, 3, xd) >= 0);
    gb_const_typed(&b, "w", wdt, 2, wd, w);
    gb_const_typed(&b, "scale", RT_DT_F16, 1, sd, sc);
    gb_const_typed(&b, "bias", RT_DT_F16, 1, sd, bias);
    free(w);
    int c = gb_node(&b, "Cast", 1, IN("w"), 1, IN("wf"));
    graph_node_set_int(b.g, c, "to", RT_DT_F16);
    gb_node(&b, "MatMul", 2, IN("x", "wf"), 1, IN("m"));
    gb_node(&b, "Mul", 2, IN("m", "scale"), 1, IN("s"));
    gb_node(&b, "Add", 2, IN("s", "bias"), 1, IN("y"));
    gb_output(&b, "y");
    rt_tensor **ref = gb_reference(&b, -1.0f, 1.0f);
    gb_values_free(&b, ref);
    /* the weight's cast is not the NPU's: the partitioner precomputes it; the MatMul reads w */
    char why[256];
    int cast = -1, nodes[3], k = 0;
    for (int i = 0; i < b.g->n_nodes; i++) {
        if (b.g->nodes[i].op == RT_OP_Cast)
            cast = i;
        else
            nodes[k++] = i;
    }
    assert_false(npu_backend_supports(BE, b.g, cast, why, sizeof why));
    assert_non_null(strstr(why, "folded into the MatMul"));
    rt_error e;
    npu_segment *s = npu_segment_build(BE, b.g, nodes, k, NPU_WEIGHTS_INT8, false, &e);
    if (!s)
        fail_msg("build: %s", e.msg);
    uint32_t n;
    const npu_op_desc *ops = npu_segment_ops(s, &n);
    assert_int_equal(n, 1); /* Mul (scales) and Add (bias) folded in */
    assert_int_equal(ops[0].in[1].dtype, wdt == RT_DT_I4 ? NPU_DT_I4 : NPU_DT_I8);
    npu_segment_free(s);
    /* numbers: the same check as every other case */
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -1.0f, 1.0f, TOL_ONE_OP);
    gb_free(&b);
}

static void test_weight_only_quantised_f16_linear(void **state)
{
    (void)state;
    quantised_linear_case(RT_DT_I8);
    quantised_linear_case(RT_DT_I4);
}

/* ---------------------------------------------------------------- elementwise */

static void unary_case(const char *op, float lo, float hi)
{
    gb b;
    gb_new(&b, op);
    int64_t d[3] = {2, 7, 19};
    gb_input(&b, "x", 3, d);
    gb_node(&b, op, 1, IN("x"), 1, IN("y"));
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, lo, hi, TOL_ONE_OP);
    gb_free(&b);
}

static void test_unary_ops(void **state)
{
    (void)state;
    static const char *const ops[] = {"Relu", "Sigmoid", "Tanh", "Erf", "Gelu", "Neg", "Exp", "Abs", "Sin", "Cos",
                                      "LeakyRelu"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        unary_case(ops[i], -2.0f, 2.0f);
    /* positive inputs for these; the error is relative to the output's range */
    unary_case("Sqrt", 0.5f, 4.0f);
    unary_case("Log", 0.5f, 4.0f);
    unary_case("Reciprocal", 0.5f, 4.0f);
}

static void binary_case(const char *op, int rank_b, const int64_t *bdims, bool b_const, bool swap, float lo, float hi)
{
    gb b;
    gb_new(&b, op);
    int64_t d[3] = {3, 5, 24};
    gb_input(&b, "x", 3, d);
    if (b_const)
        gb_const(&b, "b", rank_b, bdims, lo, hi);
    else
        gb_input(&b, "b", rank_b, bdims);
    gb_node(&b, op, 2, swap ? IN("b", "x") : IN("x", "b"), 1, IN("y"));
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, lo, hi, TOL_ONE_OP);
    gb_free(&b);
}

static void test_binary_ops_and_broadcasts(void **state)
{
    (void)state;
    static const char *const ops[] = {"Add", "Sub", "Mul", "Max", "Min"};
    int64_t full[3] = {3, 5, 24}, row[1] = {24}, col[3] = {3, 5, 1}, scalar[1] = {1};
    int64_t plane[2] = {5, 24}, chan[2] = {5, 1}; /* a mask over heads; a per-channel operand per image */
    for (size_t i = 0; i < 5; i++) {
        binary_case(ops[i], 3, full, false, false, -2.0f, 2.0f);
        binary_case(ops[i], 2, plane, i % 2, i % 3 == 0, -2.0f, 2.0f);
        binary_case(ops[i], 2, chan, i % 2 == 0, false, -2.0f, 2.0f);
        binary_case(ops[i], 1, row, true, i % 2, -2.0f, 2.0f);
        binary_case(ops[i], 3, col, false, true, -2.0f, 2.0f);
        binary_case(ops[i], 1, scalar, true, false, -2.0f, 2.0f); /* an immediate */
        binary_case(ops[i], 1, scalar, true, true, -2.0f, 2.0f);  /* reversed for Sub */
    }
    binary_case("Div", 3, full, false, false, 0.5f, 2.0f);
    binary_case("Div", 1, scalar, true, false, 0.5f, 2.0f);
    binary_case("Div", 1, row, true, true, 0.5f, 2.0f); /* c / x: reciprocal then product */
    float two = 2.0f, three = 3.0f;
    gb b;
    gb_new(&b, "pow");
    int64_t d[2] = {4, 33}, one[1] = {1};
    gb_input(&b, "x", 2, d);
    gb_const_vals(&b, "two", 1, one, &two);
    gb_const_vals(&b, "three", 1, one, &three);
    gb_node(&b, "Pow", 2, IN("x", "two"), 1, IN("sq"));
    gb_node(&b, "Pow", 2, IN("x", "three"), 1, IN("cube"));
    gb_output(&b, "sq");
    gb_output(&b, "cube");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, 0.5f, 2.0f, TOL_ONE_OP);
    gb_free(&b);
}

static void test_clip_and_views(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "clip");
    int64_t d[4] = {2, 3, 4, 5}, shape[2] = {6, 20}, axes[1] = {0};
    float lo = -0.5f, hi = 0.75f;
    int64_t one[1] = {1};
    gb_input(&b, "x", 4, d);
    gb_const_vals(&b, "lo", 0, one, &lo);
    gb_const_vals(&b, "hi", 0, one, &hi);
    gb_const_i64(&b, "shape", 2, shape);
    gb_const_i64(&b, "axes", 1, axes);
    gb_node(&b, "Clip", 3, IN("x", "lo", "hi"), 1, IN("c"));
    gb_node(&b, "Reshape", 2, IN("c", "shape"), 1, IN("r"));
    gb_node(&b, "Unsqueeze", 2, IN("r", "axes"), 1, IN("u"));
    gb_node(&b, "Flatten", 1, IN("u"), 1, IN("f"));
    gb_node(&b, "Squeeze", 2, IN("f", "axes"), 1, IN("y"));
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -1.0f, 1.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, 1); /* one ACTIVATION (clip); the views cost nothing */
    gb_free(&b);
}

/* ---------------------------------------------------------------- norms, reductions, softmax */

static void test_norms_reductions_softmax(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "norms");
    int64_t xd[3] = {2, 6, 40}, gd[1] = {40}, img[4] = {2, 8, 3, 5}, cd[1] = {8}, grp[1] = {4};
    gb_input(&b, "x", 3, xd);
    gb_input(&b, "im", 4, img);
    gb_const(&b, "gamma", 1, gd, 0.5f, 1.5f);
    gb_const(&b, "beta", 1, gd, -0.5f, 0.5f);
    gb_const(&b, "cg", 1, cd, 0.5f, 1.5f);
    gb_const(&b, "cb", 1, cd, -0.5f, 0.5f);
    gb_const(&b, "gg", 1, grp, 0.5f, 1.5f);
    gb_const(&b, "gbeta", 1, grp, -0.5f, 0.5f);
    int ln = gb_node(&b, "LayerNormalization", 3, IN("x", "gamma", "beta"), 1, IN("ln"));
    graph_node_set_float(b.g, ln, "epsilon", 1e-5f);
    int inn = gb_node(&b, "InstanceNormalization", 3, IN("im", "cg", "cb"), 1, IN("in"));
    graph_node_set_float(b.g, inn, "epsilon", 1e-5f);
    int gn = gb_node(&b, "GroupNormalization", 3, IN("im", "gg", "gbeta"), 1, IN("gn"));
    graph_node_set_int(b.g, gn, "num_groups", 4);
    graph_node_set_float(b.g, gn, "epsilon", 1e-6f);
    int rm = gb_node(&b, "ReduceMean", 1, IN("x"), 1, IN("mean"));
    graph_node_set_ints(b.g, rm, "axes", 1, (const int64_t[]){-1});
    int rx = gb_node(&b, "ReduceMax", 1, IN("x"), 1, IN("max"));
    graph_node_set_ints(b.g, rx, "axes", 1, (const int64_t[]){2});
    graph_node_set_int(b.g, rx, "keepdims", 0);
    int64_t ax[1] = {-1};
    gb_const_i64(&b, "rsaxes", 1, ax);
    gb_node(&b, "ReduceSum", 2, IN("x", "rsaxes"), 1, IN("sum"));
    int sm = gb_node(&b, "Softmax", 1, IN("x"), 1, IN("p"));
    graph_node_set_int(b.g, sm, "axis", 2);
    const char *outs[] = {"ln", "in", "gn", "mean", "max", "sum", "p"};
    for (int i = 0; i < 7; i++)
        gb_output(&b, outs[i]);
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -2.0f, 2.0f, TOL_ONE_OP);
    assert_int_equal(b.ops, 7);
    gb_free(&b);
}

/* ---------------------------------------------------------------- data movement */

static void test_transpose_concat_slice_split(void **state)
{
    (void)state;
    gb b;
    gb_new(&b, "movement");
    int64_t xd[5] = {2, 3, 1, 4, 6}, cd[3] = {2, 12, 6};
    gb_input(&b, "x", 5, xd);
    gb_const(&b, "c", 3, cd, -1.0f, 1.0f);
    /* rank 5, a unit dim and a pair that stays together: four axes after merging */
    int t = gb_node(&b, "Transpose", 1, IN("x"), 1, IN("t"));
    graph_node_set_ints(b.g, t, "perm", 5, (const int64_t[]){3, 0, 2, 4, 1});
    int64_t shp[3] = {2, 12, 6};
    gb_const_i64(&b, "shp", 3, shp);
    gb_node(&b, "Reshape", 2, IN("x", "shp"), 1, IN("r"));
    int cc = gb_node(&b, "Concat", 2, IN("r", "c"), 1, IN("cat"));
    graph_node_set_int(b.g, cc, "axis", 1);
    int64_t st[2] = {1, 2}, en[2] = {20, 5}, axs[2] = {1, 2};
    gb_const_i64(&b, "st", 2, st);
    gb_const_i64(&b, "en", 2, en);
    gb_const_i64(&b, "axs", 2, axs);
    gb_node(&b, "Slice", 4, IN("cat", "st", "en", "axs"), 1, IN("sl"));
    int64_t one = 1;
    int64_t od[1] = {1};
    assert_true(graph_add_constant(b.g, "idx", RT_DT_I64, 0, od, &one, 8) >= 0);
    int ga = gb_node(&b, "Gather", 2, IN("cat", "idx"), 1, IN("g"));
    graph_node_set_int(b.g, ga, "axis", 2); /* cat[:, :, 1] */
    int sp = gb_node(&b, "Split", 1, IN("cat"), 3, IN("s0", "s1", "s2"));
    graph_node_set_int(b.g, sp, "axis", 1);
    graph_node_set_ints(b.g, sp, "split", 3, (const int64_t[]){5, 10, 9});
    const char *outs[] = {"t", "sl", "s0", "s1", "s2", "g"};
    for (int i = 0; i < 6; i++)
        gb_output(&b, outs[i]);
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -1.0f, 1.0f, TOL_ONE_OP);
    gb_free(&b);
}

/* ---------------------------------------------------------------- conv */

static void conv_case(int rank, const int64_t *xd, const int64_t *wd, const int64_t *strides, const int64_t *pads,
                      bool relu)
{
    gb b;
    gb_new(&b, "conv");
    int64_t bd[1] = {wd[0]};
    gb_input(&b, "x", rank, xd);
    gb_const(&b, "w", rank, wd, -0.3f, 0.3f);
    gb_const(&b, "b", 1, bd, -0.5f, 0.5f);
    int n = gb_node(&b, "Conv", 3, IN("x", "w", "b"), 1, IN(relu ? "c" : "y"));
    graph_node_set_ints(b.g, n, "strides", (size_t)(rank - 2), strides);
    graph_node_set_ints(b.g, n, "pads", (size_t)(2 * (rank - 2)), pads);
    if (relu)
        gb_node(&b, "Relu", 1, IN("c"), 1, IN("y"));
    gb_output(&b, "y");
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -1.0f, 1.0f, TOL_ONE_OP);
    gb_free(&b);
}

static void test_conv(void **state)
{
    (void)state;
    int64_t x1[4] = {1, 3, 10, 12}, w1[4] = {8, 3, 3, 3}, s1[2] = {1, 1}, p1[4] = {1, 1, 1, 1};
    conv_case(4, x1, w1, s1, p1, true);
    int64_t x2[4] = {2, 4, 9, 9}, w2[4] = {20, 4, 3, 3}, s2[2] = {2, 2}, p2[4] = {1, 1, 0, 0};
    conv_case(4, x2, w2, s2, p2, false);
    int64_t x3[3] = {1, 6, 30}, w3[3] = {10, 6, 3}, s3[1] = {2}, p3[2] = {1, 1};
    conv_case(3, x3, w3, s3, p3, true);
    int64_t x4[4] = {1, 5, 7, 7}, w4[4] = {17, 5, 1, 1}, s4[2] = {1, 1}, p4[4] = {0, 0, 0, 0};
    conv_case(4, x4, w4, s4, p4, false);
    /* 3-D with the kernel over the whole depth (a video patch embedding): channels x depth */
    int64_t x5[5] = {1, 3, 2, 12, 12}, w5[5] = {10, 3, 2, 4, 4}, s5[3] = {2, 4, 4}, p5[6] = {0, 0, 0, 0, 0, 0};
    conv_case(5, x5, w5, s5, p5, false);
}

/* ---------------------------------------------------------------- a chain, timing, boundary */

static void chain_graph(gb *b, bool with_data)
{
    gb_new(b, "chain");
    int64_t xd[2] = {12, 48}, w1[2] = {48, 64}, gd[1] = {64}, w2[2] = {64, 24};
    gb_input(b, "x", 2, xd);
    if (with_data) {
        gb_const(b, "w1", 2, w1, -0.3f, 0.3f);
        gb_const(b, "w2", 2, w2, -0.3f, 0.3f);
        gb_const(b, "gamma", 1, gd, 0.5f, 1.5f);
        gb_const(b, "beta", 1, gd, -0.5f, 0.5f);
    } else { /* shapes only: timing-only models */
        assert_true(graph_add_weight(b->g, "w1", RT_DT_F32, 2, w1) >= 0);
        assert_true(graph_add_weight(b->g, "w2", RT_DT_F32, 2, w2) >= 0);
        assert_true(graph_add_weight(b->g, "gamma", RT_DT_F32, 1, gd) >= 0);
        assert_true(graph_add_weight(b->g, "beta", RT_DT_F32, 1, gd) >= 0);
    }
    gb_node(b, "MatMul", 2, IN("x", "w1"), 1, IN("h"));
    gb_node(b, "Gelu", 1, IN("h"), 1, IN("g"));
    int ln = gb_node(b, "LayerNormalization", 3, IN("g", "gamma", "beta"), 1, IN("l"));
    graph_node_set_float(b->g, ln, "epsilon", 1e-5f);
    gb_node(b, "MatMul", 2, IN("l", "w2"), 1, IN("y"));
    gb_output(b, "y");
}

static void test_chain_as_one_segment(void **state)
{
    (void)state;
    gb b;
    chain_graph(&b, true);
    gb_check(&b, BE, NPU_WEIGHTS_INT8, -1.0f, 1.0f, TOL_CHAIN);
    assert_int_equal(b.ops, 3); /* the Gelu folds into the first matmul */
    assert_int_equal(b.st.bytes_in, 12 * 48);
    assert_int_equal(b.st.bytes_out, 12 * 24);
    /* int8 weights, f32 per-channel scales, the output stage's records (12 bytes per output
     * channel) and the Gelu's table (256 bytes), gamma and beta */
    assert_int_equal(b.st.weight_bytes, 48 * 64 + 64 * 24 + 4 * (64 + 24) + 12 * (64 + 24) + 256 + 2 * 4 * 64);
    assert_true(b.st.insns > b.ops);
    assert_true(b.st.seconds > 0);
    assert_true(b.st.counters.v[NPU_UNIT_MM][NPU_CTR_MACS] >= 12 * 48 * 64 + 12 * 64 * 24);
    gb_free(&b);
}

/* npu.matmul.output_stage.enabled: on, the chain's matmuls carry output-stage records in in2 (and
 * the fused Gelu its table) and the vector unit runs no epilogue; off, the descriptors are the
 * vector epilogue's. Both are bit-exact with the twin and within the chain's tolerance. */
static void test_output_stage_switch(void **state)
{
    uint64_t vec_elems[2], mm_elems[2];
    teardown(state); /* one device per process: this test opens its own two */
    for (int on = 0; on < 2; on++) {
        m4npu_config cfg;
        m4npu_config_defaults(&cfg);
        cfg.npu.matmul.output_stage.enabled = on ? NPU_ON : NPU_OFF;
        rt_error e;
        npu_backend *be = npu_backend_open(&cfg, &e);
        if (!be)
            fail_msg("npu_backend_open: %s", e.msg);
        gb b;
        chain_graph(&b, true);
        gb_check(&b, be, NPU_WEIGHTS_INT8, -1.0f, 1.0f, TOL_CHAIN); /* calibrates the graph, too */
        print_message("output stage %s: max error %.4f of the range\n", on ? "on" : "off", b.max_rel);
        vec_elems[on] = b.st.counters.v[NPU_UNIT_VEC][NPU_CTR_ELEMS];
        mm_elems[on] = b.st.counters.v[NPU_UNIT_MM][NPU_CTR_ELEMS];
        npu_segment *s = gb_segment(&b, be, NPU_WEIGHTS_INT8, false);
        uint32_t n;
        const npu_op_desc *d = npu_segment_ops(s, &n);
        assert_int_equal(n, 3);
        assert_int_equal(d[0].op, NPU_OP_MATMUL);
        assert_int_equal(d[0].iattr[0], NPU_ACT_GELU);
        assert_int_equal(d[2].op, NPU_OP_MATMUL);
        if (on) { /* 64 records and the table; 24 records */
            assert_int_equal(d[0].n_inputs, 3);
            assert_int_equal(d[0].in[2].dtype, NPU_DT_I32);
            assert_int_equal(d[0].in[2].dims[0], 3 * 64 + 256 / 4);
            assert_int_equal(d[2].in[2].dtype, NPU_DT_I32);
            assert_int_equal(d[2].in[2].dims[0], 3 * 24);
        } else {
            assert_int_equal(d[0].n_inputs, 2);
            assert_int_equal(d[2].n_inputs, 2);
        }
        npu_segment_free(s);
        gb_free(&b);
        npu_backend_close(be);
    }
    assert_int_equal(mm_elems[0], 0);
    assert_int_equal(mm_elems[1], 12 * 64 + 12 * 24); /* every result of both matmuls, once */
    assert_true(vec_elems[1] < vec_elems[0]);
    setup(state);
}

static void test_timing_only_equals_numeric_cycles(void **state)
{
    (void)state;
    gb num;
    chain_graph(&num, true);
    gb_check(&num, BE, NPU_WEIGHTS_INT4, -1.0f, 1.0f, 0.3);
    uint64_t cycles = num.st.cycles, insns = num.st.insns;
    gb_free(&num);

    gb t;
    chain_graph(&t, false); /* no weight has data */
    rt_error e;
    assert_int_equal(graph_prepare(t.g, &e), RT_OK);
    for (int i = 0; i < t.g->n_tensors; i++) { /* scales as a calibration would give them */
        float sc = 0.05f;
        int32_t z = 0;
        if (t.g->tensors[i]->kind != RT_TENSOR_CONSTANT)
            assert_int_equal(graph_set_quant(t.g, i, -1, 1, &sc, &z, &e), RT_OK);
    }
    /* a numeric segment needs the weights; a timing-only one does not */
    int nodes[4] = {0, 1, 2, 3};
    assert_null(npu_segment_build(BE, t.g, nodes, 4, NPU_WEIGHTS_INT4, false, &e));
    if (!strstr(e.msg, "has no data"))
        fail_msg("unexpected error: %s", e.msg);
    npu_segment *s = npu_segment_build(BE, t.g, nodes, 4, NPU_WEIGHTS_INT4, true, &e);
    if (!s)
        fail_msg("timing-only build: %s", e.msg);
    npu_segment_stats st;
    assert_int_equal(npu_segment_run(s, NULL, &st, &e), RT_OK);
    assert_int_equal(st.cycles, cycles); /* timing never depends on data */
    assert_int_equal(st.insns, insns);
    assert_int_equal(st.bytes_in, 12 * 48);
    assert_int_equal(st.counters.v[NPU_UNIT_MM][NPU_CTR_MACS_INT4], st.counters.v[NPU_UNIT_MM][NPU_CTR_MACS]);
    assert_int_equal(npu_segment_run_twin(s, NULL, &e), RT_ERR_ARG);
    npu_segment_free(s);
    gb_free(&t);
}

static void test_segment_inside_a_graph(void **state)
{
    (void)state;
    /* x -> Abs (CPU) -> a -> MatMul -> m -> Sigmoid -> s -> Neg (CPU) -> y; the segment is
     * {MatMul, Sigmoid}; m is also read on the CPU, so it crosses back too */
    gb b;
    gb_new(&b, "inside");
    int64_t xd[2] = {5, 16}, wd[2] = {16, 16};
    gb_input(&b, "x", 2, xd);
    gb_const(&b, "w", 2, wd, -0.5f, 0.5f);
    gb_node(&b, "Abs", 1, IN("x"), 1, IN("a"));
    gb_node(&b, "MatMul", 2, IN("a", "w"), 1, IN("m"));
    gb_node(&b, "Sigmoid", 1, IN("m"), 1, IN("s"));
    gb_node(&b, "Neg", 1, IN("s"), 1, IN("y"));
    gb_node(&b, "Neg", 1, IN("m"), 1, IN("z"));
    gb_output(&b, "y");
    gb_output(&b, "z");
    rt_tensor **ref = gb_reference(&b, -1.0f, 1.0f);
    int nodes[2] = {-1, -1}, k = 0; /* found by op: robust to the prepared order */
    for (int i = 0; i < b.g->n_nodes; i++)
        if (strcmp(b.g->nodes[i].op_type, "MatMul") == 0 || strcmp(b.g->nodes[i].op_type, "Sigmoid") == 0)
            nodes[k++] = i;
    assert_int_equal(k, 2);
    rt_error e;
    int twice[3] = {nodes[0], nodes[1], nodes[0]}; /* a caller's bug, named */
    assert_null(npu_segment_build(BE, b.g, twice, 3, NPU_WEIGHTS_INT8, false, &e));
    if (!strstr(e.msg, "is listed twice"))
        fail_msg("unexpected error: %s", e.msg);
    npu_segment *s = npu_segment_build(BE, b.g, nodes, 2, NPU_WEIGHTS_INT8, false, &e);
    if (!s)
        fail_msg("build: %s", e.msg);
    rt_tensor **vals = calloc((size_t)b.g->n_tensors, sizeof *vals);
    int ta = graph_find_tensor(b.g, "a"), tm = graph_find_tensor(b.g, "m"), ts = graph_find_tensor(b.g, "s");
    npu_segment_stats st;
    /* without its input's value a numeric segment says which value is missing */
    assert_int_equal(npu_segment_run(s, vals, &st, &e), RT_ERR_NO_DATA);
    assert_non_null(strstr(e.msg, "segment input 'a'"));
    vals[ta] = rt_tensor_clone(ref[ta]);
    if (npu_segment_run(s, vals, &st, &e) != RT_OK)
        fail_msg("run: %s", e.msg);
    assert_non_null(vals[tm]); /* read outside: returned */
    assert_non_null(vals[ts]);
    assert_int_equal(st.bytes_in, 5 * 16);
    assert_int_equal(st.bytes_out, 2 * 5 * 16);
    for (int i = 0; i < 5 * 16; i++)
        assert_true(fabsf(((float *)vals[ts]->data)[i] - ((float *)ref[ts]->data)[i]) < 0.03f);
    gb_values_free(&b, vals);
    gb_values_free(&b, ref);
    npu_segment_free(s);
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

static void test_supports_names_the_rule(void **state)
{
    (void)state;
    gb b;
    int64_t xd[4] = {1, 4, 8, 8}, wd[4] = {4, 2, 3, 3};
    gb_new(&b, "grouped");
    gb_input(&b, "x", 4, xd);
    gb_const(&b, "w", 4, wd, -1, 1);
    int n = gb_node(&b, "Conv", 2, IN("x", "w"), 1, IN("y"));
    graph_node_set_int(b.g, n, "group", 2);
    graph_node_set_ints(b.g, n, "dilations", 2, (const int64_t[]){2, 2});
    gb_output(&b, "y");
    expect_refusal(&b, "Conv", "dilation 2");
    gb_free(&b);

    gb_new(&b, "softmax0");
    int64_t sd[2] = {4, 8};
    gb_input(&b, "x", 2, sd);
    n = gb_node(&b, "Softmax", 1, IN("x"), 1, IN("y"));
    graph_node_set_int(b.g, n, "axis", 0);
    gb_output(&b, "y");
    expect_refusal(&b, "Softmax", "last axis");
    gb_free(&b);

    gb_new(&b, "longrow");
    int64_t ld[2] = {2, 1000};
    gb_input(&b, "x", 2, ld);
    gb_node(&b, "Softmax", 1, IN("x"), 1, IN("y"));
    gb_output(&b, "y");
    expect_refusal(&b, "Softmax", "exceed the softmax tile's 512");
    gb_free(&b);

    gb_new(&b, "gelu_tanh");
    gb_input(&b, "x", 2, sd);
    n = gb_node(&b, "Gelu", 1, IN("x"), 1, IN("y"));
    graph_node_set_string(b.g, n, "approximate", "tanh");
    gb_output(&b, "y");
    expect_refusal(&b, "Gelu", "approximate");
    gb_free(&b);

    gb_new(&b, "eps");
    int64_t gd[1] = {8};
    gb_input(&b, "x", 2, sd);
    gb_const(&b, "g", 1, gd, 1, 2);
    n = gb_node(&b, "LayerNormalization", 2, IN("x", "g"), 1, IN("y"));
    graph_node_set_float(b.g, n, "epsilon", 3e-5f);
    gb_output(&b, "y");
    expect_refusal(&b, "LayerNormalization", "power of ten");
    gb_free(&b);

    gb_new(&b, "mid");
    int64_t md[3] = {2, 3, 4}, bd[3] = {2, 1, 4};
    gb_input(&b, "x", 3, md);
    gb_input(&b, "b", 3, bd);
    gb_node(&b, "Add", 2, IN("x", "b"), 1, IN("y"));
    gb_output(&b, "y");
    expect_refusal(&b, "Add", "broadcasts inside its own extent");
    gb_free(&b);

    gb_new(&b, "floor");
    gb_input(&b, "x", 2, sd);
    gb_node(&b, "Floor", 1, IN("x"), 1, IN("y"));
    gb_output(&b, "y");
    expect_refusal(&b, "Floor", "no NPU kernel");
    gb_free(&b);

    gb_new(&b, "reduce0");
    gb_input(&b, "x", 2, sd);
    n = gb_node(&b, "ReduceMean", 1, IN("x"), 1, IN("y"));
    graph_node_set_ints(b.g, n, "axes", 1, (const int64_t[]){0});
    gb_output(&b, "y");
    expect_refusal(&b, "ReduceMean", "not the trailing ones");
    gb_free(&b);
}

/* ---------------------------------------------------------------- fused attention */

typedef struct attn_graph {
    int64_t B, H, Lq, Lk, D, Dv;
    int transpose; /* K [.., Lk, D] through a Transpose (else K^T is the input) */
    int mul_scale; /* Mul by 1/sqrt(D) instead of Div by sqrt(D) */
    int mask;      /* 0 none, 1 an input [B or 1, 1, Lq, Lk], 2 a constant causal [Lq, Lk] with -inf */
    int casts;     /* a float Cast before and after the softmax */
} attn_graph;

static int mk_attention(gb *b, const attn_graph *a)
{
    int64_t qd[4] = {a->B, a->H, a->Lq, a->D}, kd[4] = {a->B, a->H, a->Lk, a->D}, ktd[4] = {a->B, a->H, a->D, a->Lk};
    int64_t vd[4] = {a->B, a->H, a->Lk, a->Dv}, md[4] = {a->B, 1, a->Lq, a->Lk}, cd[2] = {a->Lq, a->Lk};
    gb_input(b, "q", 4, qd);
    gb_input(b, "k", 4, a->transpose ? kd : ktd);
    gb_input(b, "v", 4, vd);
    if (a->transpose) {
        int t = gb_node(b, "Transpose", 1, IN("k"), 1, IN("kt"));
        graph_node_set_ints(b->g, t, "perm", 4, (const int64_t[]){0, 1, 3, 2});
    } else {
        gb_node(b, "Identity", 1, IN("k"), 1, IN("kt"));
    }
    gb_node(b, "MatMul", 2, IN("q", "kt"), 1, IN("s0"));
    float c = a->mul_scale ? 1.0f / sqrtf((float)a->D) : sqrtf((float)a->D);
    gb_const_vals(b, "c", 0, NULL, &c);
    gb_node(b, a->mul_scale ? "Mul" : "Div", 2, a->mul_scale ? IN("c", "s0") : IN("s0", "c"), 1, IN("s1"));
    const char *x = "s1";
    if (a->mask == 1) {
        gb_input(b, "mask", 4, md);
        gb_node(b, "Add", 2, IN("s1", "mask"), 1, IN("s2"));
        x = "s2";
    } else if (a->mask == 2) {
        float *m = malloc((size_t)(a->Lq * a->Lk) * sizeof *m);
        for (int64_t r = 0; r < a->Lq; r++)
            for (int64_t j = 0; j < a->Lk; j++)
                m[r * a->Lk + j] = j > r ? -INFINITY : 0.0f;
        gb_const_vals(b, "causal", 2, cd, m);
        free(m);
        gb_node(b, "Add", 2, IN("causal", "s1"), 1, IN("s2"));
        x = "s2";
    }
    if (a->casts) {
        int n = gb_node(b, "Cast", 1, (const char *[]){x}, 1, IN("s3"));
        graph_node_set_int(b->g, n, "to", RT_DT_F32);
        x = "s3";
    }
    int sm = gb_node(b, "Softmax", 1, (const char *[]){x}, 1, IN("p0"));
    graph_node_set_int(b->g, sm, "axis", -1);
    x = "p0";
    if (a->casts) {
        int n = gb_node(b, "Cast", 1, IN("p0"), 1, IN("p1"));
        graph_node_set_int(b->g, n, "to", RT_DT_F32);
        x = "p1";
    }
    gb_node(b, "MatMul", 2, (const char *[]){x, "v"}, 1, IN("o"));
    gb_output(b, "o");
    return sm;
}

/* Reopen BE with up to two keys overridden (NULL: none). One device per process (SystemC), so the
 * backend is replaced, not added. */
static void reopen2(const char *set, const char *set2)
{
    npu_backend_close(BE);
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    m4npu_config_error ce;
    if ((set && m4npu_config_set_assignment(&cfg, set, &ce) != M4NPU_CONFIG_OK) ||
        (set2 && m4npu_config_set_assignment(&cfg, set2, &ce) != M4NPU_CONFIG_OK))
        fail_msg("%s", ce.msg);
    rt_error e;
    BE = npu_backend_open(&cfg, &e);
    if (!BE)
        fail_msg("%s", e.msg);
}

static void reopen(const char *set) { reopen2(set, NULL); }

/* The defaults again whatever a test left (cmocka's teardown runs after a failure too). */
static int restore(void **state)
{
    (void)state;
    reopen(NULL);
    return 0;
}

/* Every variant is one descriptor, bit-exact with the twin: with the softmax tile (rows up to its
 * 512) within the int8 softmax's tolerance of the FP32 reference, with the online softmax (the
 * tile's rows made too short) within one op's; with the kernel off, the same graph runs op by op,
 * within the int8 softmax's tolerance. A constant -inf mask has no int8 form: op by op only the fused path handles it.
 * (The test device's capability set has no Cast; the casts around the softmax need it.) */
static void test_attention_fuses_into_one_descriptor(void **state)
{
    (void)state;
    static const attn_graph cases[] = {
        {1, 2, 20, 24, 16, 8, 1, 0, 1, 1}, {2, 3, 7, 40, 16, 16, 0, 1, 0, 0}, {1, 2, 33, 33, 8, 24, 1, 1, 2, 1},
        {1, 4, 1, 50, 16, 16, 1, 0, 0, 1}, {1, 1, 300, 300, 16, 16, 1, 0, 1, 0},
    };
    enum { TILE, ONLINE, OFF };
    static const char *const mode_set[] = {NULL, "npu.softmax.max_len=4", "npu.fused_attention=off"};
    static const char *const mode_name[] = {"softmax tile", "online softmax", "op by op"};
    static const double mode_tol[] = {TOL_INT8_SOFTMAX, TOL_ONE_OP, TOL_INT8_SOFTMAX};
    for (int mode = TILE; mode <= OFF; mode++) {
        reopen2("ops.Cast=on", mode_set[mode]);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (mode == OFF && (cases[i].Lk > 64 || cases[i].mask == 2))
                continue; /* op by op the mask Add would not run on the NPU, or not meaningfully */
            if (mode != ONLINE && cases[i].Lk > 64)
                continue; /* a flat row of 300 probabilities of ~1/300 rounds to 0 in the tile's Q0.7 */
            gb b;
            gb_new(&b, "attention");
            mk_attention(&b, &cases[i]);
            gb_check(&b, BE, NPU_WEIGHTS_INT8, -1.0f, 1.0f, mode_tol[mode]);
            print_message("attention case %zu, %s: max error %.4f of the output's range\n", i, mode_name[mode],
                          b.max_rel);
            if (mode == OFF) {
                assert_true(b.ops >= 4);
            } else {
                if (b.ops != 1)
                    fail_msg("attention case %zu: %u descriptors (expected one NPU_OP_ATTENTION)", i, b.ops);
                uint32_t n;
                npu_segment *s = gb_segment(&b, BE, NPU_WEIGHTS_INT8, true);
                const npu_op_desc *d = npu_segment_ops(s, &n);
                assert_int_equal(d[0].op, NPU_OP_ATTENTION);
                assert_int_equal(d[0].iattr[5], mode == TILE ? NPU_ATTN_SOFTMAX_TILE : NPU_ATTN_SOFTMAX_ONLINE);
                npu_segment_free(s);
            }
            gb_free(&b);
        }
    }
}

/* A 4-head attention at 512 tokens (timing-only): the fused descriptor moves a
 * fraction of the DRAM bytes of the op-by-op path (which writes and reads the scores and the
 * probabilities of every head), and its segment needs no L x L activation. */
static void test_attention_fused_moves_fewer_dram_bytes(void **state)
{
    (void)state;
    const attn_graph a = {1, 4, 512, 512, 64, 64, 1, 0, 0, 0}; /* no mask: op by op its Add could not run */
    uint64_t dram[2], act[2], cycles[2];
    for (int f = 0; f < 2; f++) { /* an SRAM that holds all 512 query rows beside a key block */
        reopen2("npu.sram.size_bytes=8 MiB", f ? NULL : "npu.fused_attention=off");
        gb b;
        gb_new(&b, "long attention");
        mk_attention(&b, &a);
        rt_error e;
        assert_int_equal(graph_prepare(b.g, &e), RT_OK);
        npu_segment *s = gb_segment(&b, BE, NPU_WEIGHTS_INT8, true);
        npu_segment_stats st;
        assert_int_equal(npu_segment_run(s, NULL, &st, &e), RT_OK);
        dram[f] = 0;
        for (int u = NPU_UNIT_DMA0; u <= NPU_UNIT_DMA3; u++)
            dram[f] += st.counters.v[u][NPU_CTR_DRAM_RD] + st.counters.v[u][NPU_CTR_DRAM_WR];
        npu_mem_usage mu;
        npu_segment_mem_usage(s, &mu);
        act[f] = mu.act_bytes;
        cycles[f] = st.cycles;
        if (f) /* the softmax and vector work of the fused op shows in its counters */
            assert_true(st.counters.v[NPU_UNIT_VEC][NPU_CTR_BUSY] > 0 && st.counters.v[NPU_UNIT_MM][NPU_CTR_MACS] > 0);
        npu_segment_free(s);
        gb_free(&b);
    }
    print_message("attention 4 x 512 x 512: DRAM %llu bytes fused, %llu op by op; activations %llu / %llu; cycles "
                  "%llu / %llu\n", (unsigned long long)dram[1], (unsigned long long)dram[0], (unsigned long long)act[1],
                  (unsigned long long)act[0], (unsigned long long)cycles[1], (unsigned long long)cycles[0]);
    assert_true(dram[1] * 3 < dram[0]);
    uint64_t scores = 4 * 512 * 512; /* int8 */
    assert_true(act[0] >= scores && act[1] < scores);
    assert_true(cycles[1] > 0);
}

/* supports(): the mask Add of a long sequence cannot run alone (rows beyond the vector unit's
 * 65535) but is part of a fusable attention; with the kernel off or a member outside the
 * capability set, the Add's own reason stands. */
static void test_attention_supports_members_only_while_fused(void **state)
{
    (void)state;
    const attn_graph a = {1, 2, 300, 300, 16, 16, 1, 0, 1, 0};
    gb b;
    gb_new(&b, "members");
    mk_attention(&b, &a);
    rt_error e;
    assert_int_equal(graph_prepare(b.g, &e), RT_OK);
    int add = -1;
    for (int i = 0; i < b.g->n_nodes; i++)
        if (b.g->nodes[i].op == RT_OP_Add)
            add = i;
    assert_true(add >= 0);
    char why[256];
    assert_true(npu_backend_supports(BE, b.g, add, why, sizeof why));
    static const char *const breaks[] = {"npu.fused_attention=off", "ops.Softmax=off"};
    for (int k = 0; k < 2; k++) {
        reopen(breaks[k]);
        assert_false(npu_backend_supports(BE, b.g, add, why, sizeof why));
        if (!strstr(why, "exceed the vector unit's 65535"))
            fail_msg("%s: the Add's reason is '%s'", breaks[k], why);
    }
    gb_free(&b);
}

/* ---------------------------------------------------------------- supports() vs the firmware */

/* Whatever supports() accepts the firmware must run: random shapes per family, each node that is
 * accepted built as a timing-only segment (weights without data) and run; a BAD_OP there would
 * be a promise supports() cannot keep. */
static int random_node(gb *b, test_rng *r, int kind)
{
    int64_t d0 = test_rng_range(r, 1, 40), d1 = test_rng_range(r, 1, 300), d2 = test_rng_range(r, 1, 70000 / (d1 + 1) + 1);
    int64_t x3[3] = {d0 % 3 + 1, d1, d2};
    gb_new(b, "random");
    switch (kind) {
    case 0: { /* MatMul with weights */
        int64_t xd[2] = {d0 * 4, d1}, wd[2] = {d1, test_rng_range(r, 1, 600)};
        gb_input(b, "x", 2, xd);
        assert_true(graph_add_weight(b->g, "w", RT_DT_F32, 2, wd) >= 0);
        return gb_node(b, "MatMul", 2, IN("x", "w"), 1, IN("y"));
    }
    case 1: { /* batched MatMul of activations */
        int64_t ad[3] = {d0 % 5 + 1, d1 % 90 + 1, test_rng_range(r, 1, 200)}, bd[3] = {ad[0], ad[2], d2 % 700 + 1};
        gb_input(b, "a", 3, ad);
        gb_input(b, "b", 3, bd);
        return gb_node(b, "MatMul", 2, IN("a", "b"), 1, IN("y"));
    }
    case 2: { /* Add with a broadcast operand */
        int64_t bd[3] = {x3[0], test_rng_range(r, 0, 1) ? x3[1] : 1, test_rng_range(r, 0, 1) ? x3[2] : 1};
        gb_input(b, "x", 3, x3);
        gb_input(b, "b", 3, bd);
        return gb_node(b, "Add", 2, IN("x", "b"), 1, IN("y"));
    }
    case 3: { /* LayerNormalization over a long axis */
        int64_t gd[1] = {d2};
        gb_input(b, "x", 3, x3);
        assert_true(graph_add_weight(b->g, "g", RT_DT_F32, 1, gd) >= 0);
        return gb_node(b, "LayerNormalization", 2, IN("x", "g"), 1, IN("y"));
    }
    case 4: { /* Softmax */
        int64_t sd[2] = {d0, test_rng_range(r, 1, 700)};
        gb_input(b, "x", 2, sd);
        return gb_node(b, "Softmax", 1, IN("x"), 1, IN("y"));
    }
    case 5: { /* ReduceSum over the last axis */
        gb_input(b, "x", 3, x3);
        int n = gb_node(b, "ReduceMean", 1, IN("x"), 1, IN("y"));
        graph_node_set_ints(b->g, n, "axes", 1, (const int64_t[]){-1});
        return n;
    }
    case 6: { /* Conv */
        int64_t c = test_rng_range(r, 1, 300), k = test_rng_range(r, 1, 5), hw = test_rng_range(r, k, 40);
        int64_t xd[4] = {1, c, hw, hw}, wd[4] = {test_rng_range(r, 1, 200), c, k, k};
        int64_t st = test_rng_range(r, 1, 3), pd = test_rng_range(r, 0, k / 2);
        gb_input(b, "x", 4, xd);
        assert_true(graph_add_weight(b->g, "w", RT_DT_F32, 4, wd) >= 0);
        int n = gb_node(b, "Conv", 2, IN("x", "w"), 1, IN("y"));
        graph_node_set_ints(b->g, n, "strides", 2, (const int64_t[]){st, st});
        graph_node_set_ints(b->g, n, "pads", 4, (const int64_t[]){pd, pd, pd, pd});
        return n;
    }
    default: { /* Transpose of a rank-5 tensor */
        int64_t td[5] = {d0 % 4 + 1, d1 % 7 + 1, d2 % 9 + 1, 3, d0 % 2 + 1};
        int64_t perm[5] = {0, 1, 2, 3, 4};
        for (int i = 4; i > 0; i--) {
            int j = (int)test_rng_range(r, 0, i);
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        gb_input(b, "x", 5, td);
        int n = gb_node(b, "Transpose", 1, IN("x"), 1, IN("y"));
        graph_node_set_ints(b->g, n, "perm", 5, perm);
        return n;
    }
    }
}

static void test_supports_implies_the_firmware_runs_it(void **state)
{
    (void)state;
    test_rng r = {4242};
    int accepted = 0, refused = 0;
    for (int i = 0; i < 96; i++) {
        gb b;
        random_node(&b, &r, i % 8);
        gb_output(&b, "y");
        rt_error e;
        if (graph_prepare(b.g, &e) != RT_OK)
            fail_msg("case %d: prepare: %s", i, e.msg);
        char why[256];
        int node = 0;
        if (!npu_backend_supports(BE, b.g, node, why, sizeof why)) {
            assert_true(why[0] != '\0');
            refused++;
            gb_free(&b);
            continue;
        }
        accepted++;
        npu_segment *s = npu_segment_build(BE, b.g, &node, 1, (npu_weight_type)(i % 2), true, &e);
        if (!s)
            fail_msg("case %d (%s): supported, but the segment does not build: %s", i, b.g->nodes[0].op_type, e.msg);
        npu_segment_stats st;
        if (npu_segment_run(s, NULL, &st, &e) != RT_OK)
            fail_msg("case %d (%s): supported, but the firmware refuses: %s", i, b.g->nodes[0].op_type, e.msg);
        assert_true(st.cycles > 0);
        npu_segment_free(s);
        gb_free(&b);
    }
    assert_true(accepted >= 48); /* the cases exercise the kernels, not only refusals */
    assert_true(refused >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_weights_int8_int4),
        cmocka_unit_test(test_gemm_trans_alpha_beta),
        cmocka_unit_test(test_matmul_of_two_activations),
        cmocka_unit_test(test_weight_only_quantised_f16_linear),
        cmocka_unit_test(test_unary_ops),
        cmocka_unit_test(test_binary_ops_and_broadcasts),
        cmocka_unit_test(test_clip_and_views),
        cmocka_unit_test(test_norms_reductions_softmax),
        cmocka_unit_test(test_transpose_concat_slice_split),
        cmocka_unit_test(test_conv),
        cmocka_unit_test(test_chain_as_one_segment),
        cmocka_unit_test(test_output_stage_switch),
        cmocka_unit_test(test_timing_only_equals_numeric_cycles),
        cmocka_unit_test(test_segment_inside_a_graph),
        cmocka_unit_test(test_supports_names_the_rule),
        cmocka_unit_test(test_supports_implies_the_firmware_runs_it),
        cmocka_unit_test_teardown(test_attention_fuses_into_one_descriptor, restore),
        cmocka_unit_test_teardown(test_attention_fused_moves_fewer_dram_bytes, restore),
        cmocka_unit_test_teardown(test_attention_supports_members_only_while_fused, restore),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
