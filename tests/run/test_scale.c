/* Regression: work on an input grows as O(n log n) at most. A chain of 200,000 elementwise nodes
 * (runtime/onnx/models/chain.c) is exported, imported, prepared and partitioned as `m4npu run`
 * does, and the plan is checked node by node. Before the partitioner and the graph passes were
 * made O(n log n), partitioning alone took minutes at this size (40k nodes: 11.7 s, growing 4x per
 * doubling); now it is about a second, so ctest's TIMEOUT on this suite (tests/run/CMakeLists.txt)
 * is the check, with room for the sanitizer build. Speed itself is measured by
 * `m4npu bench --scale`, not here. */
#include "test_util.h"

#include "chain.h"
#include "m4npu_config.h"
#include "onnx_io.h"
#include "partition.h"
#include "run.h"

#define SCALE_NODES 200000
#define SCALE_BATCH 3 /* the value --dim gives the inputs' shared dimension */
#define CHAIN_PERIOD 4 /* Add Relu Sin Mul: Sin is off in test.yaml's capability set */

static void test_chain_of_200k_nodes_imports_and_partitions(void **state)
{
    (void)state;
    rt_error e = {0};
    rt_graph *built = model_elementwise_chain(SCALE_NODES, &e);
    assert_non_null(built);
    uint8_t *buf;
    size_t len;
    assert_int_equal(onnx_export_buffer(built, &buf, &len, &e), RT_OK);
    graph_free(built);
    rt_graph *g;
    if (onnx_import_buffer(buf, len, NULL, NULL, &g, &e) != RT_OK)
        fail_msg("%s", e.msg);
    free(buf);
    assert_int_equal(g->n_nodes, SCALE_NODES);
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    part_plan *p;
    if (partition_graph(g, &cfg, NULL, NULL, &p, &e) != RT_OK)
        fail_msg("%s", e.msg);
    /* Add Relu | Sin | Mul Add Relu | Sin | ... | Sin | Mul: one segment per period, and the last Mul */
    assert_int_equal(p->n_segments, SCALE_NODES / CHAIN_PERIOD + 1);
    assert_int_equal(p->n_crossings, 2 * p->n_segments);
    for (int pos = 0; pos < p->n_nodes; pos++) {
        assert_int_equal(p->order[pos], pos); /* a chain keeps its order */
        bool sin = pos % CHAIN_PERIOD == 2;
        assert_int_equal(p->node[pos].place, sin ? PART_CPU : PART_NPU);
    }
    assert_int_equal(p->segments[0].n_nodes, 2);
    for (int s = 1; s < p->n_segments - 1; s++)
        assert_int_equal(p->segments[s].n_nodes, 3);
    assert_int_equal(p->segments[p->n_segments - 1].n_nodes, 1);
    part_plan_free(p);
    graph_free(g);
}

/* Regression: a symbolic dimension was found by a scan of all of them, for each one the importer
 * declared and each one the exporter looked up, so a model with one named dimension per input
 * took O(inputs^2): 40,000 inputs 7 s, 200,000 minutes. Built, exported (a look-up per input)
 * and imported (a declaration per input) here, every name checked, and bound as `m4npu run --dim`
 * binds them. */
static void test_200k_inputs_with_symbolic_dimensions(void **state)
{
    (void)state;
    rt_graph *built = graph_create("many_inputs");
    assert_non_null(built);
    int64_t unknown = RT_DIM_UNKNOWN;
    char name[32];
    for (int i = 0; i < SCALE_NODES; i++) {
        snprintf(name, sizeof name, "x%d", i);
        assert_true(graph_add_input(built, name, RT_DT_F32, 1, &unknown) >= 0);
        assert_int_equal(graph_set_dim_param(built, name, 0, "batch"), RT_OK);
    }
    const char *in[1] = {"x0"}, *out[1] = {"y"};
    assert_true(graph_add_node(built, "Identity", NULL, 1, in, 1, out) >= 0);
    assert_int_equal(graph_mark_output(built, graph_find_tensor(built, "y")), RT_OK);
    rt_error e = {0};
    uint8_t *buf;
    size_t len;
    if (onnx_export_buffer(built, &buf, &len, &e) != RT_OK)
        fail_msg("%s", e.msg);
    graph_free(built);
    rt_graph *g;
    if (onnx_import_buffer(buf, len, NULL, NULL, &g, &e) != RT_OK)
        fail_msg("%s", e.msg);
    free(buf);
    assert_int_equal(g->n_inputs, SCALE_NODES);
    for (int i = 0; i < SCALE_NODES; i++) {
        snprintf(name, sizeof name, "x%d", i);
        const char *got = graph_dim_param(g, name, 0);
        if (!got || strcmp(got, "batch") != 0)
            fail_msg("input %s: dimension 0 is '%s', expected 'batch'", name, got ? got : "(none)");
        assert_null(graph_dim_param(g, name, 1));
    }
    run_dim wrong = {"nope", SCALE_BATCH}, batch = {"batch", SCALE_BATCH};
    run_options o = {.dims = &wrong, .n_dims = 1, .timing_only = true};
    assert_int_equal(run_bind_dims(g, &o, &e), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "(its symbolic dimensions: batch)"));
    o.dims = &batch;
    if (run_bind_dims(g, &o, &e) != RT_OK)
        fail_msg("%s", e.msg);
    for (int k = 0; k < g->n_inputs; k++)
        assert_int_equal(g->tensors[g->inputs[k]]->dims[0], SCALE_BATCH);
    graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_of_200k_nodes_imports_and_partitions),
        cmocka_unit_test(test_200k_inputs_with_symbolic_dimensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
