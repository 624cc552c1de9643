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

#define SCALE_NODES 200000
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_of_200k_nodes_imports_and_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
