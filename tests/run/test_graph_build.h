/* test_graph_build.h -- building small graphs by hand in the partitioning tests: one- and
 * two-input nodes and the preparation the partitioner expects (sorted, shapes inferred). Static
 * functions, so that each test program takes only what it uses. */
#ifndef M4NPU_TEST_GRAPH_BUILD_H
#define M4NPU_TEST_GRAPH_BUILD_H

#include "graph.h"
#include "test_util.h"

/* Sort g and infer its shapes; fail the test with the builder's or the pass's message. */
static inline void prepare(rt_graph *g)
{
    rt_error e;
    if (graph_last_error(g)->code != RT_OK)
        fail_msg("builder: %s", graph_last_error(g)->msg);
    if (graph_topo_sort(g, &e) != RT_OK || graph_infer_shapes(g, &e) != RT_OK)
        fail_msg("%s", e.msg);
}

static inline int add1(rt_graph *g, const char *op, const char *name, const char *a, const char *y)
{
    return graph_add_node(g, op, name, 1, (const char *[]){a}, 1, (const char *[]){y});
}

static inline int add2(rt_graph *g, const char *op, const char *name, const char *a, const char *b, const char *y)
{
    return graph_add_node(g, op, name, 2, (const char *[]){a, b}, 1, (const char *[]){y});
}

#endif
