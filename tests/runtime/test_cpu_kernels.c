/* A sample of the CPU reference kernels against values computed by hand (the conformance
 * suite covers the rest against the ONNX reference outputs). */
#include <math.h>

#include "test_util.h"

#include "cpu_exec.h"
#include "graph.h"

typedef struct in_spec {
    const char *name;
    rt_dtype dt;
    int rank;
    int64_t dims[4];
    const void *data;
} in_spec;

/* One node over constant inputs; returns the executor (owning the output). */
static cpu_exec *run_one(rt_graph **gp, const char *op, int nin, const in_spec *ins,
                         void (*attrs)(rt_graph *, int), rt_status expect, const char *expect_msg)
{
    rt_graph *g = graph_create("one");
    const char *names[8];
    for (int i = 0; i < nin; i++) {
        names[i] = ins[i].name;
        if (!ins[i].name[0])
            continue;
        rt_tensor tmp = {0};
        tmp.dtype = ins[i].dt;
        tmp.rank = ins[i].rank;
        memcpy(tmp.dims, ins[i].dims, sizeof ins[i].dims);
        assert_true(graph_add_constant(g, ins[i].name, ins[i].dt, ins[i].rank, ins[i].dims, ins[i].data,
                                       rt_tensor_nbytes(&tmp)) >= 0);
    }
    int n = graph_add_node(g, op, "k", nin, names, 1, (const char *[]){"y"});
    assert_true(n >= 0);
    if (attrs)
        attrs(g, n);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e = {0};
    rt_status s = graph_prepare(g, &e);
    cpu_exec *x = NULL;
    if (s == RT_OK) {
        assert_int_equal(cpu_exec_create(g, &x, &e), RT_OK);
        s = cpu_exec_run(x, &e);
    }
    if (s != expect)
        fail_msg("%s: status %d (%s), expected %d", op, s, e.msg, expect);
    if (expect_msg && !strstr(e.msg, expect_msg))
        fail_msg("expected '%s' in '%s'", expect_msg, e.msg);
    *gp = g;
    return x;
}

static void done(rt_graph *g, cpu_exec *x)
{
    cpu_exec_free(x);
    graph_free(g);
}

static void expect_f32(cpu_exec *x, int n, const float *want, double tol)
{
    const rt_tensor *y = cpu_exec_output(x, "y");
    assert_non_null(y);
    assert_int_equal(rt_tensor_numel(y), n);
    for (int i = 0; i < n; i++)
        if (fabs(((const float *)y->data)[i] - want[i]) > tol)
            fail_msg("y[%d] = %.9g, expected %.9g", i, ((const float *)y->data)[i], want[i]);
}

static void test_matmul_2d_and_batched(void **state)
{
    (void)state;
    rt_graph *g;
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
    in_spec ins[2] = {{"a", RT_DT_F32, 2, {2, 3}, a}, {"b", RT_DT_F32, 2, {3, 2}, b}};
    cpu_exec *x = run_one(&g, "MatMul", 2, ins, NULL, RT_OK, NULL);
    expect_f32(x, 4, (float[]){58, 64, 139, 154}, 0);
    done(g, x);
    /* [2,2,2] x [2,2]: the 2-D operand broadcasts over the batch */
    float a3[8] = {1, 0, 0, 1, 2, 0, 0, 2}, b2[4] = {1, 2, 3, 4};
    in_spec ins3[2] = {{"a", RT_DT_F32, 3, {2, 2, 2}, a3}, {"b", RT_DT_F32, 2, {2, 2}, b2}};
    x = run_one(&g, "MatMul", 2, ins3, NULL, RT_OK, NULL);
    expect_f32(x, 8, (float[]){1, 2, 3, 4, 2, 4, 6, 8}, 0);
    assert_int_equal(cpu_exec_output(x, "y")->rank, 3);
    done(g, x);
}

static void test_softmax_and_layernorm(void **state)
{
    (void)state;
    rt_graph *g;
    float v[3] = {1, 2, 3};
    in_spec ins[1] = {{"x", RT_DT_F32, 1, {3}, v}};
    cpu_exec *x = run_one(&g, "Softmax", 1, ins, NULL, RT_OK, NULL);
    expect_f32(x, 3, (float[]){0.09003057f, 0.24472847f, 0.66524096f}, 1e-7);
    done(g, x);
    float xv[4] = {1, 2, 3, 4}, gamma[4] = {1, 1, 1, 1}, beta[4] = {0, 0, 0, 10};
    in_spec ln[3] = {{"x", RT_DT_F32, 2, {1, 4}, xv}, {"g", RT_DT_F32, 1, {4}, gamma}, {"b", RT_DT_F32, 1, {4}, beta}};
    x = run_one(&g, "LayerNormalization", 3, ln, NULL, RT_OK, NULL);
    /* mean 2.5, variance 1.25 (epsilon 1e-5) */
    double s = 1.0 / sqrt(1.25 + 1e-5);
    expect_f32(x, 4, (float[]){(float)(-1.5 * s), (float)(-0.5 * s), (float)(0.5 * s), (float)(1.5 * s + 10)}, 1e-6);
    done(g, x);
}

static void conv_attrs(rt_graph *g, int n)
{
    graph_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2});
}

static void test_conv_2x2_ones(void **state)
{
    (void)state;
    rt_graph *g;
    float img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, bias[1] = {0.5f};
    in_spec ins[3] = {{"x", RT_DT_F32, 4, {1, 1, 3, 3}, img}, {"w", RT_DT_F32, 4, {1, 1, 2, 2}, w},
                      {"b", RT_DT_F32, 1, {1}, bias}};
    cpu_exec *x = run_one(&g, "Conv", 3, ins, conv_attrs, RT_OK, NULL);
    expect_f32(x, 4, (float[]){12.5f, 16.5f, 24.5f, 28.5f}, 0);
    done(g, x);
}

static void conv_attrs_3x3(rt_graph *g, int n)
{
    graph_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){3, 3});
}

/* Regression (fuzzing, tests/fuzz/corpus/onnx/conv-kernel-shape-not-w.onnx): inference sized the
 * output from kernel_shape, the kernel walked W's window, and wrote past the output. */
static void test_conv_kernel_shape_must_match_w(void **state)
{
    (void)state;
    rt_graph *g;
    float img[35] = {0}, w[3] = {1, 1, 1};
    in_spec ins[2] = {{"x", RT_DT_F32, 4, {1, 1, 7, 5}, img}, {"w", RT_DT_F32, 4, {1, 1, 1, 3}, w}};
    cpu_exec *x = run_one(&g, "Conv", 2, ins, conv_attrs_3x3, RT_ERR_ATTR, "kernel_shape[0] = 3, but W's spatial dim 0 is 1");
    done(g, x);
    x = run_one(&g, "ConvTranspose", 2, ins, conv_attrs_3x3, RT_ERR_ATTR, "kernel_shape[0] = 3");
    done(g, x);
    x = run_one(&g, "Conv", 2, ins, conv_attrs, RT_ERR_ATTR, "kernel_shape[0] = 2");
    done(g, x);
}

static void test_resize_nearest_upsample(void **state)
{
    (void)state;
    rt_graph *g;
    float v[4] = {1, 2, 3, 4}, scales[4] = {1, 1, 2, 2};
    in_spec ins[3] = {{"x", RT_DT_F32, 4, {1, 1, 2, 2}, v}, {"", RT_DT_F32, 0, {0}, NULL},
                      {"scales", RT_DT_F32, 1, {4}, scales}};
    cpu_exec *x = run_one(&g, "Resize", 3, ins, NULL, RT_OK, NULL);
    expect_f32(x, 16, (float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0);
    done(g, x);
}

static void test_gather_slice_where(void **state)
{
    (void)state;
    rt_graph *g;
    float d[6] = {1, 2, 3, 4, 5, 6};
    int64_t idx[2] = {-1, 0};
    in_spec gi[2] = {{"d", RT_DT_F32, 2, {3, 2}, d}, {"i", RT_DT_I64, 1, {2}, idx}};
    cpu_exec *x = run_one(&g, "Gather", 2, gi, NULL, RT_OK, NULL);
    expect_f32(x, 4, (float[]){5, 6, 1, 2}, 0);
    done(g, x);
    int64_t bad[1] = {3};
    in_spec gb[2] = {{"d", RT_DT_F32, 2, {3, 2}, d}, {"i", RT_DT_I64, 1, {1}, bad}};
    x = run_one(&g, "Gather", 2, gb, NULL, RT_ERR_SHAPE, "node 'k' (Gather): index 3 is out of range for axis 0 of size 3");
    done(g, x);
    float ten[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    int64_t st[1] = {8}, en[1] = {2}, ax[1] = {0}, sp[1] = {-3};
    in_spec si[5] = {{"x", RT_DT_F32, 1, {10}, ten}, {"s", RT_DT_I64, 1, {1}, st}, {"e", RT_DT_I64, 1, {1}, en},
                     {"a", RT_DT_I64, 1, {1}, ax}, {"p", RT_DT_I64, 1, {1}, sp}};
    x = run_one(&g, "Slice", 5, si, NULL, RT_OK, NULL);
    expect_f32(x, 2, (float[]){8, 5}, 0);
    done(g, x);
    uint8_t cond[2] = {1, 0};
    float xv[4] = {1, 2, 3, 4}, zero = 0;
    in_spec wi[3] = {{"c", RT_DT_BOOL, 1, {2}, cond}, {"x", RT_DT_F32, 2, {2, 2}, xv}, {"z", RT_DT_F32, 0, {0}, &zero}};
    x = run_one(&g, "Where", 3, wi, NULL, RT_OK, NULL);
    expect_f32(x, 4, (float[]){1, 0, 3, 0}, 0);
    done(g, x);
}

static void trilu_attrs(rt_graph *g, int n)
{
    (void)g;
    (void)n; /* upper is the default */
}

/* Regression (fuzzing, tests/fuzz/corpus/onnx/quantize-nan.onnx; UBSan float-cast-overflow in the
 * sanitizer pass): NaN and infinite values reached integer casts in the quantisation kernels.
 * NaN quantises to the zero point's 0, infinities saturate; DynamicQuantizeLinear of [-inf, inf]
 * (an infinite scale, a NaN zero point) gives zero point 0. */
static void test_quantize_nan_and_infinities(void **state)
{
    (void)state;
    rt_graph *g;
    float v[3] = {NAN, INFINITY, -INFINITY}, scale = 1.0f;
    uint8_t zp = 0;
    in_spec q[3] = {{"x", RT_DT_F32, 1, {3}, v}, {"s", RT_DT_F32, 0, {0}, &scale}, {"z", RT_DT_U8, 0, {0}, &zp}};
    cpu_exec *x = run_one(&g, "QuantizeLinear", 3, q, NULL, RT_OK, NULL);
    assert_memory_equal(cpu_exec_output(x, "y")->data, ((uint8_t[]){0, 255, 0}), 3);
    done(g, x);
    float inf2[2] = {-INFINITY, INFINITY};
    rt_graph *dg = graph_create("dq");
    graph_add_constant(dg, "x", RT_DT_F32, 1, (int64_t[]){2}, inf2, sizeof inf2);
    graph_add_node(dg, "DynamicQuantizeLinear", "dq", 1, (const char *[]){"x"}, 3, (const char *[]){"y", "ys", "yz"});
    graph_add_node(dg, "Identity", "id", 1, (const char *[]){"yz"}, 1, (const char *[]){"out"});
    graph_mark_output(dg, graph_find_tensor(dg, "out"));
    rt_error e = {0};
    assert_int_equal(graph_prepare(dg, &e), RT_OK); /* folded: the kernel ran */
    const rt_tensor *yz = dg->tensors[graph_find_tensor(dg, "yz")];
    assert_non_null(yz->data);
    assert_int_equal(*(const uint8_t *)yz->data, 0);
    graph_free(dg);
}

static void test_quantize_trilu_mod_cast(void **state)
{
    (void)state;
    rt_graph *g;
    float v[5] = {-1.5f, 0.5f, 2.5f, 1000.0f, -1000.0f}, scale = 1.0f;
    int8_t zp = 0;
    in_spec q[3] = {{"x", RT_DT_F32, 1, {5}, v}, {"s", RT_DT_F32, 0, {0}, &scale}, {"z", RT_DT_I8, 0, {0}, &zp}};
    cpu_exec *x = run_one(&g, "QuantizeLinear", 3, q, NULL, RT_OK, NULL);
    const int8_t *qy = cpu_exec_output(x, "y")->data;
    int8_t want[5] = {-2, 0, 2, 127, -128}; /* half to even, saturated */
    assert_memory_equal(qy, want, 5);
    done(g, x);
    /* an empty scale (and zero point of the same size) is an error, not a read past its end */
    in_spec qe[3] = {{"x", RT_DT_F32, 1, {5}, v}, {"s", RT_DT_F32, 1, {0}, &scale}, {"z", RT_DT_I8, 1, {0}, &zp}};
    x = run_one(&g, "QuantizeLinear", 3, qe, NULL, RT_ERR_SHAPE, "scale is empty");
    done(g, x);
    x = run_one(&g, "DequantizeLinear", 3, (in_spec[]){{"x", RT_DT_I8, 1, {1}, &zp}, qe[1], qe[2]}, NULL, RT_ERR_SHAPE,
                "scale is empty");
    done(g, x);
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    int64_t k = 1;
    in_spec t[2] = {{"x", RT_DT_F32, 2, {3, 3}, ones}, {"k", RT_DT_I64, 0, {0}, &k}};
    x = run_one(&g, "Trilu", 2, t, trilu_attrs, RT_OK, NULL);
    expect_f32(x, 9, (float[]){0, 1, 1, 0, 0, 1, 0, 0, 0}, 0);
    done(g, x);
    int32_t a[2] = {-7, 7}, b[2] = {3, -3};
    in_spec m[2] = {{"a", RT_DT_I32, 1, {2}, a}, {"b", RT_DT_I32, 1, {2}, b}};
    x = run_one(&g, "Mod", 2, m, NULL, RT_OK, NULL);
    const int32_t *my = cpu_exec_output(x, "y")->data;
    assert_int_equal(my[0], 2); /* sign of the divisor, as Python's % */
    assert_int_equal(my[1], -2);
    done(g, x);
}

static void cast_to_f16(rt_graph *g, int n)
{
    graph_node_set_int(g, n, "to", RT_DT_F16);
}

static void test_cast_rounds_to_half(void **state)
{
    (void)state;
    rt_graph *g;
    float v[3] = {1.0f / 3.0f, 65504.0f, 70000.0f};
    in_spec c[1] = {{"x", RT_DT_F32, 1, {3}, v}};
    cpu_exec *x = run_one(&g, "Cast", 1, c, cast_to_f16, RT_OK, NULL);
    const uint16_t *h = cpu_exec_output(x, "y")->data;
    assert_int_equal(h[0], 0x3555); /* 0.33325195 */
    assert_int_equal(h[1], 0x7bff); /* largest finite half */
    assert_int_equal(h[2], 0x7c00); /* overflow to infinity */
    assert_true(fabs(rt_f16_to_f32(h[0]) - 0.33325195) < 1e-8);
    done(g, x);
}

static void test_erf_gelu_pieces(void **state)
{
    (void)state;
    rt_graph *g;
    float v[3] = {0.5f, -1.0f, 0.0f};
    in_spec c[1] = {{"x", RT_DT_F32, 1, {3}, v}};
    cpu_exec *x = run_one(&g, "Erf", 1, c, NULL, RT_OK, NULL);
    expect_f32(x, 3, (float[]){0.52049988f, -0.84270079f, 0.0f}, 1e-7);
    done(g, x);
    x = run_one(&g, "Sigmoid", 1, c, NULL, RT_OK, NULL);
    expect_f32(x, 3, (float[]){0.62245933f, 0.26894142f, 0.5f}, 1e-7);
    done(g, x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_2d_and_batched),
        cmocka_unit_test(test_softmax_and_layernorm),
        cmocka_unit_test(test_conv_2x2_ones),
        cmocka_unit_test(test_conv_kernel_shape_must_match_w),
        cmocka_unit_test(test_resize_nearest_upsample),
        cmocka_unit_test(test_gather_slice_where),
        cmocka_unit_test(test_quantize_nan_and_infinities),
        cmocka_unit_test(test_quantize_trilu_mod_cast),
        cmocka_unit_test(test_cast_rounds_to_half),
        cmocka_unit_test(test_erf_gelu_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
