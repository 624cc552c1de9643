/* BatchNormalization folding at import (runtime/graph/graph_bnfold.c, part of graph_prepare):
 * Conv (grouped too), ConvTranspose and Gemm followed by an inference-mode BN lose the BN, and
 * the folded graph computes what the unfolded one does (the same graph with the layer's output
 * also a graph output, which forbids the fold, run by the CPU kernels on the same input); a
 * shape-only weight folds into a shape-only weight; every case that must not fold keeps its BN. */
#include "test_util.h"

#include <math.h>

#include "cpu_exec.h"
#include "graph.h"

#define FOLD_TOL 1e-5 /* relative to the output's range: float rounding of the folded weights */
#define IN(...) ((const char *[]){__VA_ARGS__})

typedef enum layer_kind { L_CONV, L_DEPTHWISE, L_CONVT, L_GEMM } layer_kind;

static uint64_t seed = 4711;

static float uniform(float lo, float hi)
{
    test_rng r = {seed++};
    return lo + (hi - lo) * (float)(test_rng_next(&r) >> 40) / (float)(1ull << 24);
}

static void constant(rt_graph *g, const char *name, int rank, const int64_t *dims, float lo, float hi, bool data)
{
    if (!data) {
        assert_true(graph_add_weight(g, name, RT_DT_F32, rank, dims) >= 0);
        return;
    }
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = uniform(lo, hi);
    assert_true(graph_add_constant(g, name, RT_DT_F32, rank, dims, v, (uint64_t)n * 4) >= 0);
    free(v);
}

/* x -> layer -> BN -> y; with expose, the layer's output is a graph output too (no fold). */
static rt_graph *build(layer_kind k, bool expose, bool data)
{
    seed = 4711; /* the same values in both variants */
    rt_graph *g = graph_create("bnfold");
    assert_non_null(g);
    int64_t c = 6;
    if (k == L_GEMM) {
        int64_t xd[2] = {3, 10}, wd[2] = {c, 10}, cd[1] = {c};
        assert_true(graph_add_input(g, "x", RT_DT_F32, 2, xd) >= 0);
        constant(g, "w", 2, wd, -0.5f, 0.5f, data);
        constant(g, "b", 1, cd, -0.5f, 0.5f, data);
        int n = graph_add_node(g, "Gemm", "fc", 3, IN("x", "w", "b"), 1, IN("h"));
        graph_node_set_int(g, n, "transB", 1);
        graph_node_set_float(g, n, "alpha", 0.5f);
        graph_node_set_float(g, n, "beta", 2.0f);
    } else {
        int64_t xd[4] = {1, k == L_CONVT ? 4 : (k == L_DEPTHWISE ? c : 3), 7, 7};
        int64_t wd[4] = {k == L_CONVT ? 4 : c, k == L_CONVT ? c / 2 : (k == L_DEPTHWISE ? 1 : 3), 3, 3}, cd[1] = {c};
        assert_true(graph_add_input(g, "x", RT_DT_F32, 4, xd) >= 0);
        constant(g, "w", 4, wd, -0.5f, 0.5f, data);
        constant(g, "b", 1, cd, -0.5f, 0.5f, data);
        int n = graph_add_node(g, k == L_CONVT ? "ConvTranspose" : "Conv", "conv", 3, IN("x", "w", "b"), 1, IN("h"));
        graph_node_set_ints(g, n, "pads", 4, (const int64_t[]){1, 1, 1, 1});
        if (k == L_DEPTHWISE)
            graph_node_set_int(g, n, "group", c);
        if (k == L_CONVT) {
            graph_node_set_ints(g, n, "strides", 2, (const int64_t[]){2, 2});
            graph_node_set_int(g, n, "group", 2);
        }
    }
    int64_t cd[1] = {c};
    constant(g, "scale", 1, cd, 0.5f, 1.5f, true);
    constant(g, "beta", 1, cd, -0.5f, 0.5f, true);
    constant(g, "mean", 1, cd, -0.3f, 0.3f, true);
    constant(g, "var", 1, cd, 0.5f, 2.0f, true);
    int n = graph_add_node(g, "BatchNormalization", "bn", 5, IN("h", "scale", "beta", "mean", "var"), 1, IN("y"));
    graph_node_set_float(g, n, "epsilon", 1e-3f);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    if (expose)
        graph_mark_output(g, graph_find_tensor(g, "h"));
    rt_error e;
    if (graph_prepare(g, &e) != RT_OK)
        fail_msg("prepare: %s", e.msg);
    return g;
}

static int count_op(const rt_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i].op_type, op) == 0;
    return n;
}

/* y of g for a fixed input (caller frees). */
static rt_tensor *run(rt_graph *g)
{
    rt_error e;
    cpu_exec *x;
    assert_int_equal(cpu_exec_create(g, &x, &e), RT_OK);
    const rt_tensor *d = g->tensors[graph_find_tensor(g, "x")];
    rt_tensor *in = rt_tensor_new("x", RT_DT_F32, d->rank, d->dims);
    assert_int_equal(rt_tensor_alloc(in, &e), RT_OK);
    for (int64_t i = 0; i < rt_tensor_numel(in); i++)
        ((float *)in->data)[i] = (float)sin(0.37 * (double)i);
    assert_int_equal(cpu_exec_set_input(x, "x", in, &e), RT_OK);
    if (cpu_exec_run(x, &e) != RT_OK)
        fail_msg("run: %s", e.msg);
    rt_tensor *y = rt_tensor_clone(cpu_exec_output(x, "y"));
    cpu_exec_free(x);
    rt_tensor_free(in);
    return y;
}

static void check_fold(layer_kind k, const char *layer)
{
    rt_graph *folded = build(k, false, true), *kept = build(k, true, true);
    assert_int_equal(count_op(folded, "BatchNormalization"), 0);
    assert_int_equal(count_op(folded, layer), 1);
    assert_int_equal(count_op(kept, "BatchNormalization"), 1); /* the layer's output is read twice */
    rt_tensor *a = run(folded), *b = run(kept);
    double range = 0, err = 0;
    for (int64_t i = 0; i < rt_tensor_numel(b); i++) {
        double want = ((float *)b->data)[i], got = ((float *)a->data)[i];
        range = fabs(want) > range ? fabs(want) : range;
        err = fabs(got - want) > err ? fabs(got - want) : err;
    }
    assert_true(range > 0.1);
    if (!(err <= FOLD_TOL * range))
        fail_msg("%s: folded output differs by %g (range %g)", layer, err, range);
    rt_tensor_free(a);
    rt_tensor_free(b);
    graph_free(folded);
    graph_free(kept);
}

static void test_conv_bn_folds(void **state)
{
    (void)state;
    check_fold(L_CONV, "Conv");
    check_fold(L_DEPTHWISE, "Conv");
}

static void test_conv_transpose_bn_folds(void **state)
{
    (void)state;
    check_fold(L_CONVT, "ConvTranspose");
}

static void test_gemm_bn_folds_alpha_and_beta(void **state)
{
    (void)state;
    check_fold(L_GEMM, "Gemm");
    rt_graph *g = build(L_GEMM, false, true);
    const rt_node *n = &g->nodes[0];
    assert_true(rt_node_attr_float(n, "alpha", 0) == 1.0f); /* both are inside the folded constants now */
    assert_true(rt_node_attr_float(n, "beta", 0) == 1.0f);
    graph_free(g);
}

static void test_shape_only_weights_fold_to_shape_only(void **state)
{
    (void)state;
    rt_graph *g = build(L_CONV, false, false); /* timing-only models: weights without data */
    assert_int_equal(count_op(g, "BatchNormalization"), 0);
    const rt_node *conv = &g->nodes[0];
    assert_int_equal(conv->n_inputs, 3);
    const rt_tensor *w = g->tensors[conv->inputs[1]], *b = g->tensors[conv->inputs[2]];
    assert_null(w->data);
    assert_null(b->data);
    assert_int_equal(w->dims[0], 6);
    assert_int_equal(b->dims[0], 6);
    assert_int_equal(g->tensors[conv->outputs[0]]->dims[1], 6); /* the conv writes the BN's output */
    assert_string_equal(g->tensors[conv->outputs[0]]->name, "y");
    graph_free(g);
}

static void test_what_does_not_fold(void **state)
{
    (void)state;
    /* statistics that are graph inputs (computed elsewhere) */
    rt_graph *g = graph_create("stats_input");
    int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, cd[1] = {3};
    assert_true(graph_add_input(g, "x", RT_DT_F32, 4, xd) >= 0);
    assert_true(graph_add_input(g, "mean", RT_DT_F32, 1, cd) >= 0);
    constant(g, "w", 4, wd, -1, 1, true);
    constant(g, "scale", 1, cd, 0.5f, 1.5f, true);
    constant(g, "beta", 1, cd, -0.5f, 0.5f, true);
    constant(g, "var", 1, cd, 0.5f, 2.0f, true);
    graph_add_node(g, "Conv", "conv", 2, IN("x", "w"), 1, IN("h"));
    graph_add_node(g, "BatchNormalization", "bn", 5, IN("h", "scale", "beta", "mean", "var"), 1, IN("y"));
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e;
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    assert_int_equal(count_op(g, "BatchNormalization"), 1);
    graph_free(g);

    /* a BN after a Relu (no layer to fold into) */
    g = graph_create("after_relu");
    assert_true(graph_add_input(g, "x", RT_DT_F32, 4, xd) >= 0);
    int64_t c2[1] = {2};
    constant(g, "scale", 1, c2, 0.5f, 1.5f, true);
    constant(g, "beta", 1, c2, -0.5f, 0.5f, true);
    constant(g, "mean", 1, c2, -0.5f, 0.5f, true);
    constant(g, "var", 1, c2, 0.5f, 2.0f, true);
    graph_add_node(g, "Relu", "relu", 1, IN("x"), 1, IN("h"));
    graph_add_node(g, "BatchNormalization", "bn", 5, IN("h", "scale", "beta", "mean", "var"), 1, IN("y"));
    graph_mark_output(g, graph_find_tensor(g, "y"));
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    assert_int_equal(count_op(g, "BatchNormalization"), 1);
    graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_bn_folds),
        cmocka_unit_test(test_conv_transpose_bn_folds),
        cmocka_unit_test(test_gemm_bn_folds_alpha_and_beta),
        cmocka_unit_test(test_shape_only_weights_fold_to_shape_only),
        cmocka_unit_test(test_what_does_not_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
