/* graph_cost.c -- FLOPs, MACs and bytes per node and per graph from shapes alone: reports ask
 * "FLOPs of a module" of graphs whose weights were never materialised. */
#include "graph.h"
#include "ops.h"

rt_status graph_node_cost(const rt_graph *g, int node, rt_cost *c, rt_error *e)
{
    rt_op_binding b;
    rt_status s = ops_bind(g, node, NULL, &b, e);
    if (s != RT_OK)
        return s;
    s = ops_cost(&b.ctx, c);
    ops_unbind(&b);
    return s;
}

rt_status graph_cost(const rt_graph *g, rt_cost *total, rt_error *e)
{
    *total = (rt_cost){0};
    for (int i = 0; i < g->n_nodes; i++) {
        rt_cost c;
        rt_status s = graph_node_cost(g, i, &c, e);
        if (s != RT_OK)
            return s;
        total->macs += c.macs;
        total->flops += c.flops;
        total->bytes_in += c.bytes_in;
        total->bytes_out += c.bytes_out;
        total->bytes_weights += c.bytes_weights;
    }
    return RT_OK;
}
