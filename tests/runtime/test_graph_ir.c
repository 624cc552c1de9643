/* Tests of the graph IR: the builder, topological sort (out of order, cycles), shape inference
 * (including shape-only weights), folding of a Shape->Gather->Concat->Reshape chain, dead-node
 * removal and FLOP counting. */
#include <math.h>

#include "test_util.h"

#include "cpu_exec.h"
#include "encoder_block.h"
#include "graph.h"
#include "ops.h"

static void test_builder_rejects_duplicates_and_bad_shapes(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    assert_int_equal(graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){2, 3}), 0);
    assert_int_equal(graph_add_weight(g, "x", RT_DT_F32, 1, (int64_t[]){3}), -1);
    assert_int_equal(graph_last_error(g)->code, RT_ERR_DUPLICATE);
    assert_non_null(strstr(graph_last_error(g)->msg, "'x' is defined twice"));
    rt_graph *h = graph_create("h");
    assert_int_equal(graph_add_weight(h, "neg", RT_DT_F32, 2, (int64_t[]){4, -5}), -1);
    assert_int_equal(graph_last_error(h)->code, RT_ERR_SHAPE);
    graph_free(h);
    h = graph_create("h");
    int64_t huge[3] = {INT64_C(1) << 30, INT64_C(1) << 30, 4};
    assert_int_equal(graph_add_weight(h, "huge", RT_DT_F32, 3, huge), -1);
    assert_int_equal(graph_last_error(h)->code, RT_ERR_LIMIT);
    graph_free(h);
    h = graph_create("h");
    assert_int_equal(graph_add_weight(h, "deep", RT_DT_F32, 9, (int64_t[9]){1}), -1);
    assert_int_equal(graph_last_error(h)->code, RT_ERR_LIMIT);
    graph_free(h);
    /* data must match the shape */
    float v[5] = {0};
    assert_int_equal(graph_add_constant(g, "c", RT_DT_F32, 1, (int64_t[]){6}, v, sizeof v), -1);
    graph_free(g);
    g = graph_create("g");
    assert_int_equal(graph_add_constant(g, "c", RT_DT_F32, 1, (int64_t[]){6}, v, sizeof v), -1);
    assert_int_equal(graph_last_error(g)->code, RT_ERR_DATA_SIZE);
    assert_non_null(strstr(graph_last_error(g)->msg, "tensor 'c': 20 bytes of data, but shape [6] of f32 needs 24"));
    graph_free(g);
}

static void test_shape_only_weight_has_bytes_but_no_data(void **state)
{
    (void)state;
    rt_graph *g = graph_create("llama-like");
    int w = graph_add_weight(g, "wq", RT_DT_I8, 2, (int64_t[]){4096, 4096});
    assert_true(w >= 0);
    assert_null(g->tensors[w]->data);
    assert_int_equal(rt_tensor_nbytes(g->tensors[w]), 4096 * 4096);
    int w4 = graph_add_weight(g, "wq4", RT_DT_I4, 2, (int64_t[]){4096, 11008});
    assert_int_equal(rt_tensor_nbytes(g->tensors[w4]), 4096 * 11008 / 2);
    graph_free(g);
}

/* nodes added consumer-first: topological sort must reorder them */
static void test_topo_sort_out_of_order(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Neg", "third", 1, (const char *[]){"b"}, 1, (const char *[]){"y"});
    graph_add_node(g, "Relu", "second", 1, (const char *[]){"a"}, 1, (const char *[]){"b"});
    graph_add_node(g, "Abs", "first", 1, (const char *[]){"x"}, 1, (const char *[]){"a"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e;
    assert_int_equal(graph_validate(g, &e), RT_OK);
    assert_int_equal(graph_topo_sort(g, &e), RT_OK);
    assert_string_equal(g->nodes[0].name, "first");
    assert_string_equal(g->nodes[1].name, "second");
    assert_string_equal(g->nodes[2].name, "third");
    assert_int_equal(g->tensors[graph_find_tensor(g, "b")]->producer, 1);
    graph_free(g);
}

static void test_topo_sort_names_a_node_on_the_cycle(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Abs", "before", 1, (const char *[]){"x"}, 1, (const char *[]){"x1"});
    graph_add_node(g, "Add", "loop_a", 2, (const char *[]){"x1", "lb"}, 1, (const char *[]){"la"});
    graph_add_node(g, "Relu", "loop_b", 1, (const char *[]){"la"}, 1, (const char *[]){"lb"});
    graph_add_node(g, "Neg", "after", 1, (const char *[]){"lb"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e;
    assert_int_equal(graph_topo_sort(g, &e), RT_ERR_CYCLE);
    assert_non_null(strstr(e.msg, "cycle in graph through node 'loop_a' (Add)"));
    assert_non_null(strstr(e.msg, "'loop_b' (Relu) -> 'loop_a' (Add)"));
    assert_null(strstr(e.msg, "'after'"));
    graph_free(g);
}

/* A node that reads its own output is a cycle, also for the check that skips sorting a graph
 * already in order: its input's producer is the node itself, not an earlier one. */
static void test_topo_sort_refuses_a_node_reading_its_own_output(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Abs", "first", 1, (const char *[]){"x"}, 1, (const char *[]){"a"});
    graph_add_node(g, "Add", "self", 2, (const char *[]){"a", "s"}, 1, (const char *[]){"s"});
    graph_mark_output(g, graph_find_tensor(g, "s"));
    rt_error e;
    assert_int_equal(graph_topo_sort(g, &e), RT_ERR_CYCLE);
    assert_non_null(strstr(e.msg, "'self' (Add)"));
    graph_free(g);
}

/* Dead-node removal sweeps a sorted graph from its last node and walks an unsorted one from its
 * outputs through producers: the same graph given in both orders keeps the same nodes and
 * tensors (a live chain with a node whose output two kept nodes read, a dead chain fed by live
 * tensors, a dead node reading a dead one, an unused constant, an unused graph input). */
typedef struct dce_node {
    const char *op, *name, *in0, *in1, *out;
} dce_node;

static const dce_node dce_nodes[] = { /* in topological order */
    {"Abs", "live_a", "x", NULL, "a"},
    {"Neg", "dead_b", "a", NULL, "b"},
    {"Relu", "live_c", "a", NULL, "c"},
    {"Add", "dead_d", "b", "k", "d"},
    {"Add", "live_e", "a", "c", "e"},
    {"Neg", "dead_f", "d", NULL, "f"},
    {"Mul", "live_y", "e", "k", "y"},
};
#define DCE_NODES (sizeof dce_nodes / sizeof dce_nodes[0])

static rt_graph *dce_graph(bool reversed)
{
    static const float k[4] = {1, 2, 3, 4}, unused[4] = {0};
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_input(g, "spare", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_constant(g, "k", RT_DT_F32, 1, (int64_t[]){4}, k, sizeof k);
    graph_add_constant(g, "unused", RT_DT_F32, 1, (int64_t[]){4}, unused, sizeof unused);
    for (size_t i = 0; i < DCE_NODES; i++) {
        const dce_node *d = &dce_nodes[reversed ? DCE_NODES - 1 - i : i];
        const char *in[2] = {d->in0, d->in1};
        graph_add_node(g, d->op, d->name, d->in1 ? 2 : 1, in, 1, (const char *[]){d->out});
    }
    graph_mark_output(g, graph_find_tensor(g, "y"));
    assert_int_equal(graph_last_error(g)->code, RT_OK);
    return g;
}

static void test_remove_dead_sorted_and_unsorted_agree(void **state)
{
    (void)state;
    static const char *const kept_nodes[] = {"live_a", "live_c", "live_e", "live_y"};
    static const char *const kept_tensors[] = {"x", "spare", "k", "a", "c", "e", "y"};
    static const char *const gone_tensors[] = {"unused", "b", "d", "f"};
    for (int reversed = 0; reversed <= 1; reversed++) {
        rt_graph *g = dce_graph(reversed);
        rt_error e;
        int removed;
        assert_int_equal(graph_remove_dead(g, &removed, &e), RT_OK);
        assert_int_equal(removed, 3);
        assert_int_equal(g->n_nodes, 4);
        for (int i = 0; i < g->n_nodes; i++) /* the order the graph was given in stays */
            assert_string_equal(g->nodes[i].name, kept_nodes[reversed ? 3 - i : i]);
        assert_int_equal(g->n_tensors, (int)(sizeof kept_tensors / sizeof kept_tensors[0]));
        for (size_t t = 0; t < sizeof kept_tensors / sizeof kept_tensors[0]; t++)
            assert_true(graph_find_tensor(g, kept_tensors[t]) >= 0);
        for (size_t t = 0; t < sizeof gone_tensors / sizeof gone_tensors[0]; t++)
            assert_int_equal(graph_find_tensor(g, gone_tensors[t]), -1);
        assert_int_equal(g->tensors[graph_find_tensor(g, "c")]->producer, reversed ? 2 : 1);
        graph_free(g);
    }
}

/* The name index keeps each name's hash: it grows from a reservation without reading the names
 * again, and every tensor is still found by name (and no other name is) after growing past the
 * reservation, after a reservation larger than the graph, and after dead tensors are compacted
 * away (which renumbers the rest). */
#define INDEX_TEST_TENSORS 3000
#define INDEX_TEST_RESERVED 10

static void check_index(const rt_graph *g, int first, int step)
{
    char name[32];
    for (int i = 0; i < INDEX_TEST_TENSORS; i++) {
        snprintf(name, sizeof name, "w%d", i);
        int t = graph_find_tensor(g, name);
        if (i < first || (i - first) % step) {
            assert_int_equal(t, -1);
            continue;
        }
        assert_true(t >= 0);
        assert_string_equal(g->tensors[t]->name, name);
    }
    assert_int_equal(graph_find_tensor(g, "w"), -1);
    assert_int_equal(graph_find_tensor(g, "w3000"), -1);
}

static void test_name_index_grows_from_a_reservation_and_survives_compaction(void **state)
{
    (void)state;
    for (int reserved = INDEX_TEST_RESERVED; reserved <= 4 * INDEX_TEST_TENSORS; reserved *= 20) {
        rt_graph *g = graph_create("g");
        assert_int_equal(graph_reserve(g, reserved, 1), RT_OK);
        char name[32];
        for (int i = 0; i < INDEX_TEST_TENSORS; i++) {
            snprintf(name, sizeof name, "w%d", i);
            assert_int_equal(graph_add_weight(g, name, RT_DT_F32, 1, (int64_t[]){4}), i);
        }
        assert_int_equal(graph_add_weight(g, "w7", RT_DT_F32, 1, (int64_t[]){4}), -1); /* still unique */
        check_index(g, 0, 1);
        /* keep every third weight: an Identity reads it and a graph output is made of it */
        for (int i = 0; i < INDEX_TEST_TENSORS; i += 3) {
            char out[32];
            snprintf(name, sizeof name, "w%d", i);
            snprintf(out, sizeof out, "o%d", i);
            graph_add_node(g, "Identity", NULL, 1, (const char *[]){name}, 1, (const char *[]){out});
            graph_mark_output(g, graph_find_tensor(g, out));
        }
        rt_error e;
        int removed;
        assert_int_equal(graph_remove_dead(g, &removed, &e), RT_OK);
        assert_int_equal(removed, 0);
        check_index(g, 0, 3);
        graph_free(g);
    }
}

static void test_validate_names_missing_input_and_unknown_op(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Add", "adder", 2, (const char *[]){"x", "ghost"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e;
    assert_int_equal(graph_validate(g, &e), RT_ERR_MISSING_INPUT);
    assert_non_null(strstr(e.msg, "node 'adder' (Add) reads 'ghost'"));
    graph_free(g);
    g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){4});
    graph_add_node(g, "Frobnicate", "frob", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    assert_int_equal(graph_validate(g, &e), RT_ERR_UNKNOWN_OP);
    assert_non_null(strstr(e.msg, "unknown op 'Frobnicate' (node 'frob' (Frobnicate))"));
    assert_int_equal(graph_validate_structure(g, &e), RT_OK);
    graph_free(g);
}

/* The encoder block without any weight data: shapes, bytes and MACs are all known. */
static void test_shape_inference_and_flops_without_data(void **state)
{
    (void)state;
    rt_error e;
    encoder_block_cfg cfg = ENCODER_BLOCK_DEFAULT;
    rt_graph *g = model_encoder_block(&cfg, false, &e);
    assert_non_null(g);
    const rt_tensor *y = g->tensors[graph_find_tensor(g, "y")];
    assert_int_equal(y->dtype, RT_DT_F32);
    assert_int_equal(y->rank, 3);
    assert_int_equal(y->dims[1], 16);
    assert_int_equal(y->dims[2], 64);
    const rt_tensor *scores = g->tensors[graph_find_tensor(g, "scores")];
    assert_int_equal(scores->rank, 4);
    assert_int_equal(scores->dims[1], 4);
    assert_int_equal(scores->dims[2], 16);
    assert_int_equal(scores->dims[3], 16);
    assert_null(g->tensors[graph_find_tensor(g, "attn.q.weight")]->data);
    rt_cost c;
    assert_int_equal(graph_cost(g, &c, &e), RT_OK);
    /* Q,K,V,O 4*T*d*d + scores and context 2*H*T*T*dh + MLP 2*T*d*F */
    double macs = 4.0 * 16 * 64 * 64 + 2.0 * 4 * 16 * 16 * 16 + 2.0 * 16 * 64 * 256;
    assert_true(c.macs == macs);
    assert_true(c.flops > 2 * macs);
    /* weights: 4 d*d + 4 d biases + fc1/fc2 + biases + two LayerNorms (gamma, beta) */
    uint64_t wbytes = 4 * (4 * 64 * 64 + 4 * 64 + 64 * 256 + 256 + 256 * 64 + 64 + 2 * 2 * 64);
    rt_cost total_w = {0};
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t]->kind == RT_TENSOR_CONSTANT && g->tensors[t]->rank == 2)
            total_w.bytes_weights += rt_tensor_nbytes(g->tensors[t]);
    assert_int_equal(total_w.bytes_weights, 4 * (4 * 64 * 64 + 2 * 64 * 256));
    assert_true(c.bytes_weights >= wbytes); /* every weight is read once by its consumer */
    /* running it must say which weight has no data */
    cpu_exec *x;
    assert_int_equal(cpu_exec_create(g, &x, &e), RT_OK);
    rt_tensor *in = rt_tensor_new("x", RT_DT_F32, 3, (int64_t[]){1, 16, 64});
    assert_int_equal(rt_tensor_alloc(in, &e), RT_OK);
    assert_int_equal(cpu_exec_set_input(x, "x", in, &e), RT_OK);
    assert_int_equal(cpu_exec_run(x, &e), RT_ERR_NO_DATA);
    assert_non_null(strstr(e.msg, "'ln1.weight' has no data (a shape-only weight)"));
    rt_tensor_free(in);
    cpu_exec_free(x);
    graph_free(g);
}

/* An inferred output shape past the element limit is refused with the output's name (the name is
 * formatted only on this path: ops_set_output). */
static void test_inferred_output_too_large_names_the_output(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 1, (int64_t[]){1});
    int64_t huge[3] = {1 << 20, 1 << 20, 1 << 20};
    graph_add_constant(g, "shape", RT_DT_I64, 1, (int64_t[]){3}, huge, sizeof huge);
    graph_add_node(g, "Expand", "expand", 2, (const char *[]){"x", "shape"}, 1, (const char *[]){"big_y"});
    graph_mark_output(g, graph_find_tensor(g, "big_y"));
    rt_error e = {0};
    assert_int_equal(graph_topo_sort(g, &e), RT_OK);
    assert_int_not_equal(graph_infer_shapes(g, &e), RT_OK);
    assert_int_equal(e.code, RT_ERR_LIMIT);
    if (!strstr(e.msg, "output 'big_y': element count overflows"))
        fail_msg("unexpected message: %s", e.msg);
    graph_free(g);
}

/* x [2,3,4] -> Shape -> Gather(0) -> Unsqueeze -> Concat(with [12]) -> Reshape(x) : [2,12] */
static void test_fold_shape_gather_concat_reshape_chain(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 3, (int64_t[]){2, 3, 4});
    int64_t zero = 0, twelve = 12, axes0 = 0;
    graph_add_constant(g, "idx0", RT_DT_I64, 0, NULL, &zero, sizeof zero);
    graph_add_constant(g, "c12", RT_DT_I64, 1, (int64_t[]){1}, &twelve, sizeof twelve);
    graph_add_constant(g, "axes0", RT_DT_I64, 1, (int64_t[]){1}, &axes0, sizeof axes0);
    graph_add_node(g, "Shape", "shape", 1, (const char *[]){"x"}, 1, (const char *[]){"s"});
    graph_add_node(g, "Gather", "gather", 2, (const char *[]){"s", "idx0"}, 1, (const char *[]){"n"});
    graph_add_node(g, "Unsqueeze", "unsq", 2, (const char *[]){"n", "axes0"}, 1, (const char *[]){"n1"});
    int cc = graph_add_node(g, "Concat", "concat", 2, (const char *[]){"n1", "c12"}, 1, (const char *[]){"target"});
    graph_node_set_int(g, cc, "axis", 0);
    graph_add_node(g, "Reshape", "reshape", 2, (const char *[]){"x", "target"}, 1, (const char *[]){"y"});
    /* a dead branch */
    graph_add_node(g, "Neg", "unused", 1, (const char *[]){"x"}, 1, (const char *[]){"dead"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e;
    assert_int_equal(graph_topo_sort(g, &e), RT_OK);
    int folded, removed;
    assert_int_equal(graph_fold_constants(g, RT_FOLD_MAX_BYTES_DEFAULT, &folded, &e), RT_OK);
    assert_int_equal(folded, 4);
    assert_int_equal(g->n_nodes, 2); /* Reshape and the dead Neg */
    const rt_tensor *target = g->tensors[graph_find_tensor(g, "target")];
    assert_int_equal(target->kind, RT_TENSOR_CONSTANT);
    assert_int_equal(((int64_t *)target->data)[0], 2);
    assert_int_equal(((int64_t *)target->data)[1], 12);
    assert_int_equal(graph_remove_dead(g, &removed, &e), RT_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(g->n_nodes, 1);
    assert_string_equal(g->nodes[0].op_type, "Reshape");
    assert_int_equal(graph_find_tensor(g, "dead"), -1);
    assert_int_equal(graph_find_tensor(g, "idx0"), -1); /* unreferenced constants go too */
    assert_int_equal(graph_infer_shapes(g, &e), RT_OK);
    const rt_tensor *y = g->tensors[graph_find_tensor(g, "y")];
    assert_int_equal(y->rank, 2);
    assert_int_equal(y->dims[0], 2);
    assert_int_equal(y->dims[1], 12);
    graph_free(g);
}

/* Regression (fuzzing, tests/fuzz/corpus/onnx/squeeze-more-axes-than-rank.onnx): Squeeze and
 * Unsqueeze with axes that are a graph input (known length, unknown values) gave the output a rank
 * below zero or above RT_MAX_RANK; inference now names the node and the counts. */
static void test_runtime_axes_beyond_the_rank(void **state)
{
    (void)state;
    static const struct {
        const char *op;
        int64_t n_axes;
        const char *expected;
    } cases[] = {
        {"Squeeze", 5, "5 axes to squeeze from a rank-3 input"},
        {"Unsqueeze", RT_MAX_RANK, "exceeds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_graph *g = graph_create("g");
        graph_add_input(g, "x", RT_DT_F32, 3, (int64_t[]){1, 4, 5});
        graph_add_input(g, "axes", RT_DT_I64, 1, (int64_t[]){cases[i].n_axes});
        graph_add_node(g, cases[i].op, "sq", 2, (const char *[]){"x", "axes"}, 1, (const char *[]){"y"});
        graph_mark_output(g, graph_find_tensor(g, "y"));
        rt_error e;
        assert_int_not_equal(graph_prepare(g, &e), RT_OK);
        if (!strstr(e.msg, cases[i].expected) || !strstr(e.msg, "sq"))
            fail_msg("%s: unexpected error: %s", cases[i].op, e.msg);
        graph_free(g);
    }
}

/* Regression (fuzzing, tests/fuzz/corpus/onnx/matmulinteger-u64-zero-point.onnx): a zero point
 * of another type than its operand (a u64 one of a u8 A) reached the kernel's arithmetic and an
 * out-of-range float-to-int conversion; inference refuses it, naming the input and the types. */
static void test_zero_point_of_another_type(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "A", RT_DT_U8, 2, (int64_t[]){4, 3});
    graph_add_input(g, "B", RT_DT_U8, 2, (int64_t[]){3, 2});
    graph_add_input(g, "a_zero_point", RT_DT_U64, 1, (int64_t[]){1});
    graph_set_opset(g, "", 10);
    graph_add_node(g, "MatMulInteger", "mmi", 3, (const char *[]){"A", "B", "a_zero_point"}, 1, (const char *[]){"Y"});
    graph_mark_output(g, graph_find_tensor(g, "Y"));
    rt_error e;
    assert_int_not_equal(graph_prepare(g, &e), RT_OK);
    if (!strstr(e.msg, "input 2 ('a_zero_point') is the zero point of input 0 and must be u8 (got u64)"))
        fail_msg("unexpected error: %s", e.msg);
    graph_free(g);
}

/* Regression (fuzzing, tests/fuzz/corpus/onnx/fold-node-without-outputs.onnx): a node whose
 * inputs are all constants but which has no output (or only empty ones) was folded, and its
 * kernel wrote through a NULL output. It computes nothing anyone reads: dead-node removal drops it. */
static void test_fold_skips_a_constant_node_without_outputs(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    float one = 1.0f;
    graph_add_constant(g, "c", RT_DT_F32, 1, (int64_t[]){1}, &one, sizeof one);
    graph_add_node(g, "Add", "no_outputs", 2, (const char *[]){"c", "c"}, 0, NULL);
    graph_add_node(g, "Mul", "empty_output", 2, (const char *[]){"c", "c"}, 1, (const char *[]){""});
    graph_add_node(g, "Identity", "id", 1, (const char *[]){"c"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e = {0};
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    assert_int_equal(g->n_nodes, 1);
    assert_string_equal(g->nodes[0].op_type, "Identity");
    graph_free(g);
}

/* A kernel is never handed a missing first output: ops_run_kernel refuses, naming the node. */
static void test_kernel_without_its_output_is_an_error(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    float one = 1.0f;
    graph_add_constant(g, "c", RT_DT_F32, 1, (int64_t[]){1}, &one, sizeof one);
    int n = graph_add_node(g, "Add", "add", 2, (const char *[]){"c", "c"}, 1, (const char *[]){""});
    rt_error e = {0};
    rt_op_binding b;
    assert_int_equal(ops_bind(g, n, NULL, &b, &e), RT_OK);
    assert_int_equal(ops_run_kernel(&b.ctx), RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "'add' (Add)"));
    assert_non_null(strstr(e.msg, "output 0"));
    ops_unbind(&b);
    graph_free(g);
}

/* A binding's node label is formatted when a message needs it, not at every bind: empty after
 * ops_bind, then the node's name or, for an unnamed node, its index (#n) with its op type, in
 * the error and from ops_node_label. */
static void test_node_label_is_formatted_on_first_use(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    float one = 1.0f;
    graph_add_constant(g, "c", RT_DT_F32, 1, (int64_t[]){1}, &one, sizeof one);
    graph_add_node(g, "Add", "named", 2, (const char *[]){"c", "c"}, 1, (const char *[]){"y"});
    int n = graph_add_node(g, "Add", "", 2, (const char *[]){"c", "c"}, 1, (const char *[]){""});
    rt_error e = {0};
    rt_op_binding b;
    assert_int_equal(ops_bind(g, n, NULL, &b, &e), RT_OK);
    assert_string_equal(b.ctx.node_label, "");
    assert_int_equal(ops_run_kernel(&b.ctx), RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "node #1 (Add): output 0"));
    assert_string_equal(ops_node_label(&b.ctx), "#1 (Add)");
    ops_unbind(&b);
    assert_int_equal(ops_bind(g, 0, NULL, &b, &e), RT_OK);
    assert_string_equal(ops_node_label(&b.ctx), "'named' (Add)");
    ops_unbind(&b);
    graph_free(g);
}

/* Regression (fuzzing; UBSan float-cast-overflow): a FLOAT attribute read as an int, or a float
 * tensor read as int64 (shapes, indices), was a plain cast -- undefined for NaN and for values
 * beyond int64 (x86 gave INT64_MIN for both). Now truncation, saturated, NaN as 0. */
static void test_float_to_int64_saturates(void **state)
{
    (void)state;
    assert_int_equal(rt_f64_to_i64(NAN), 0);
    assert_true(rt_f64_to_i64(1e30) == INT64_MAX);
    assert_true(rt_f64_to_i64(INFINITY) == INT64_MAX);
    assert_true(rt_f64_to_i64(-1e30) == INT64_MIN);
    assert_true(rt_f64_to_i64(-0x1p63) == INT64_MIN);
    assert_true(rt_f64_to_i64(0x1p62) == INT64_C(1) << 62);
    assert_int_equal(rt_f64_to_i64(-2.75), -2);
    rt_graph *g = graph_create("g");
    int n = graph_add_node(g, "Flatten", "f", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
    graph_node_set_float(g, n, "nan", NAN);
    graph_node_set_float(g, n, "big", 1e30f);
    graph_node_set_float(g, n, "small", -1e30f);
    assert_int_equal(rt_node_attr_int(&g->nodes[n], "nan", 7), 0);
    assert_true(rt_node_attr_int(&g->nodes[n], "big", 7) == INT64_MAX);
    assert_true(rt_node_attr_int(&g->nodes[n], "small", 7) == INT64_MIN);
    graph_free(g);
    float v[4] = {NAN, 1e30f, -1e30f, -2.5f};
    rt_tensor *t = rt_tensor_new("v", RT_DT_F32, 1, (int64_t[]){4});
    assert_non_null(t);
    assert_int_equal(rt_tensor_alloc(t, NULL), RT_OK);
    memcpy(t->data, v, sizeof v);
    assert_int_equal(rt_tensor_get_i64(t, 0), 0);
    assert_true(rt_tensor_get_i64(t, 1) == INT64_MAX);
    assert_true(rt_tensor_get_i64(t, 2) == INT64_MIN);
    assert_int_equal(rt_tensor_get_i64(t, 3), -2);
    rt_tensor_free(t);
}

/* Regression (fuzzing; UBSan: memcpy from NULL with length 0): an 'axes' attribute of another
 * type than ints gave no list at all, which was copied from a NULL pointer; it is an error now,
 * and a list attribute that is absent or empty always comes with a valid pointer. */
static void test_axes_attribute_must_be_ints(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){2, 3});
    int n = graph_add_node(g, "ReduceMean", "mean", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
    graph_node_set_float(g, n, "axes", 1.0f);
    graph_mark_output(g, graph_find_tensor(g, "y"));
    const int64_t *v = NULL;
    assert_int_equal(rt_node_attr_ints(&g->nodes[n], "axes", &v), 0);
    assert_non_null(v);
    assert_int_equal(rt_node_attr_ints(&g->nodes[n], "absent", &v), 0);
    assert_non_null(v);
    rt_error e = {0};
    assert_int_equal(graph_prepare(g, &e), RT_ERR_ATTR);
    assert_non_null(strstr(e.msg, "attribute 'axes' must be integers"));
    graph_free(g);
}

static void test_reshape_with_runtime_shape_leaves_dims_unknown(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){4, 6});
    graph_add_input(g, "shape", RT_DT_I64, 1, (int64_t[]){3});
    graph_add_node(g, "Reshape", "r", 2, (const char *[]){"x", "shape"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    rt_error e;
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    const rt_tensor *y = g->tensors[graph_find_tensor(g, "y")];
    assert_int_equal(y->rank, 3);
    assert_int_equal(y->dims[0], RT_DIM_UNKNOWN);
    rt_cost c;
    assert_int_equal(graph_cost(g, &c, &e), RT_OK); /* movement: no flops needed */
    graph_free(g);
}

static void test_flops_of_conv_and_gemm(void **state)
{
    (void)state;
    rt_graph *g = graph_create("g");
    graph_add_input(g, "x", RT_DT_F32, 4, (int64_t[]){1, 3, 224, 224});
    graph_add_weight(g, "w", RT_DT_F32, 4, (int64_t[]){1280, 3, 14, 14});
    int n = graph_add_node(g, "Conv", "patch", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"p"});
    graph_node_set_ints(g, n, "strides", 2, (int64_t[]){14, 14});
    graph_add_input(g, "a", RT_DT_F32, 2, (int64_t[]){8, 32});
    graph_add_weight(g, "b", RT_DT_F32, 2, (int64_t[]){16, 32});
    int m = graph_add_node(g, "Gemm", "gemm", 2, (const char *[]){"a", "b"}, 1, (const char *[]){"q"});
    graph_node_set_int(g, m, "transB", 1);
    graph_mark_output(g, graph_find_tensor(g, "p"));
    graph_mark_output(g, graph_find_tensor(g, "q"));
    rt_error e;
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    const rt_tensor *p = g->tensors[graph_find_tensor(g, "p")];
    assert_int_equal(p->dims[2], 16);
    assert_int_equal(p->dims[3], 16);
    rt_cost c;
    assert_int_equal(graph_node_cost(g, graph_find_node(g, "patch"), &c, &e), RT_OK);
    assert_true(c.macs == 1280.0 * 16 * 16 * 3 * 14 * 14);
    assert_true(c.flops == 2 * c.macs);
    assert_int_equal(c.bytes_weights, 1280 * 3 * 14 * 14 * 4);
    assert_int_equal(graph_node_cost(g, graph_find_node(g, "gemm"), &c, &e), RT_OK);
    assert_true(c.macs == 8.0 * 16 * 32);
    graph_free(g);
}

static void test_registry_m4_set(void **state)
{
    (void)state;
    assert_int_equal(ops_m4_count(), 39);
    assert_true(ops_get(ops_lookup("", "MatMul"))->in_m4);
    assert_false(ops_get(ops_lookup("", "MaxPool"))->in_m4);
    assert_int_equal(ops_lookup("com.microsoft", "MatMul"), RT_OP_NONE);
    assert_int_equal(ops_lookup("", "NoSuchOp"), RT_OP_NONE);
    for (int i = 0; i < ops_count(); i++) {
        const rt_op_def *d = ops_get(i);
        assert_non_null(d->infer);
        assert_non_null(d->kernel);
        assert_non_null(d->cost);
        assert_int_equal(ops_lookup("", d->name), i);
        if (d->in_m4)
            assert_true(d->modules != 0);
    }
    const char *mobile[] = {"BatchNormalization", "Clip", "HardSigmoid", "HardSwish", "LeakyRelu", "MaxPool",
                            "AveragePool", "GlobalAveragePool", "ConvTranspose", "Pad", "ReduceMax", "Log", "Max",
                            "Min", "QuantizeLinear", "DequantizeLinear", "MatMulInteger"};
    for (size_t i = 0; i < sizeof mobile / sizeof mobile[0]; i++)
        assert_int_not_equal(ops_lookup("", mobile[i]), RT_OP_NONE);
}

/* docs/ops.md lists exactly the registry's M4 set */
static void test_docs_list_the_m4_set(void **state)
{
    (void)state;
    FILE *f = fopen(M4NPU_SOURCE_DIR "/docs/ops.md", "rb");
    assert_non_null(f);
    static char doc[1 << 16];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    char heading[64];
    snprintf(heading, sizeof heading, "## The M4 set (%d)", ops_m4_count());
    assert_non_null(strstr(doc, heading));
    for (int i = 0; i < ops_count(); i++) {
        char row[96];
        snprintf(row, sizeof row, " | %s | ", ops_get(i)->name);
        bool listed = strstr(doc, row) != NULL;
        if (listed != ops_get(i)->in_m4)
            fail_msg("docs/ops.md %s '%s'", listed ? "lists an op outside the M4 set:" : "misses the M4 op",
                     ops_get(i)->name);
    }
}

/* docs/ops.md lists exactly the registry's supported ops outside the M4 set, with their count */
static void test_docs_list_the_supported_ops(void **state)
{
    (void)state;
    FILE *f = fopen(M4NPU_SOURCE_DIR "/docs/ops.md", "rb");
    assert_non_null(f);
    static char doc[1 << 16];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    char heading[64];
    snprintf(heading, sizeof heading, "## Supported ops outside the M4 set (%d)", ops_count() - ops_m4_count());
    if (!strstr(doc, heading))
        fail_msg("docs/ops.md has no heading '%s'", heading);
    const char *list = strstr(doc, heading), *end = strstr(list, "\n### ");
    assert_non_null(end);
    for (int i = 0; i < ops_count(); i++) {
        char name[80];
        snprintf(name, sizeof name, "`%s`", ops_get(i)->name);
        const char *at = strstr(list, name);
        bool listed = at && at < end;
        if (listed == ops_get(i)->in_m4)
            fail_msg("docs/ops.md %s '%s' in its list of supported ops outside the M4 set",
                     listed ? "lists the M4 op" : "misses", ops_get(i)->name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_rejects_duplicates_and_bad_shapes),
        cmocka_unit_test(test_shape_only_weight_has_bytes_but_no_data),
        cmocka_unit_test(test_topo_sort_out_of_order),
        cmocka_unit_test(test_topo_sort_names_a_node_on_the_cycle),
        cmocka_unit_test(test_topo_sort_refuses_a_node_reading_its_own_output),
        cmocka_unit_test(test_remove_dead_sorted_and_unsorted_agree),
        cmocka_unit_test(test_name_index_grows_from_a_reservation_and_survives_compaction),
        cmocka_unit_test(test_validate_names_missing_input_and_unknown_op),
        cmocka_unit_test(test_shape_inference_and_flops_without_data),
        cmocka_unit_test(test_fold_shape_gather_concat_reshape_chain),
        cmocka_unit_test(test_fold_skips_a_constant_node_without_outputs),
        cmocka_unit_test(test_runtime_axes_beyond_the_rank),
        cmocka_unit_test(test_zero_point_of_another_type),
        cmocka_unit_test(test_kernel_without_its_output_is_an_error),
        cmocka_unit_test(test_node_label_is_formatted_on_first_use),
        cmocka_unit_test(test_float_to_int64_saturates),
        cmocka_unit_test(test_axes_attribute_must_be_ints),
        cmocka_unit_test(test_reshape_with_runtime_shape_leaves_dims_unknown),
        cmocka_unit_test(test_flops_of_conv_and_gemm),
        cmocka_unit_test(test_registry_m4_set),
        cmocka_unit_test(test_inferred_output_too_large_names_the_output),
        cmocka_unit_test(test_docs_list_the_supported_ops),
        cmocka_unit_test(test_docs_list_the_m4_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
