/* graph_infer.c -- shape and type inference over the whole graph (each node's op inference
 * function, in topological order), and graph_prepare, the standard pipeline every imported or
 * built graph goes through before it is run, partitioned or costed (and again when its input
 * dimensions are bound). */
#include <stdio.h>

#include "graph.h"
#include "ops.h"

rt_status graph_infer_shapes(rt_graph *g, rt_error *e)
{
    for (int i = 0; i < g->n_nodes; i++) {
        rt_op_binding b;
        rt_status s = ops_bind(g, i, NULL, &b, e);
        if (s != RT_OK)
            return s;
        s = ops_infer(&b.ctx);
        ops_unbind(&b);
        if (s != RT_OK)
            return s;
    }
    return RT_OK;
}

rt_status graph_prepare(rt_graph *g, rt_error *e)
{
    if (g->last_error.code != RT_OK)
        return rt_error_set(e, g->last_error.code, "%s", g->last_error.msg);
    rt_status s = graph_validate(g, e);
    if (s == RT_OK)
        s = graph_topo_sort(g, e);
    int n;
    if (s == RT_OK)
        s = graph_fold_constants(g, RT_FOLD_MAX_BYTES_DEFAULT, &n, e);
    /* a branch inlined may fold further and make another condition constant */
    for (int inlined = 1; s == RT_OK && inlined;) {
        s = graph_inline_constant_ifs(g, &inlined, e);
        if (s == RT_OK && inlined)
            s = graph_topo_sort(g, e);
        if (s == RT_OK && inlined)
            s = graph_fold_constants(g, RT_FOLD_MAX_BYTES_DEFAULT, &n, e);
    }
    if (s == RT_OK)
        s = graph_fold_batchnorm(g, &n, e);
    if (s == RT_OK)
        s = graph_remove_dead(g, &n, e);
    if (s == RT_OK)
        s = graph_infer_shapes(g, e);
    return s;
}
