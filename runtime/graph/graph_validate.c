/* graph_validate.c -- structural checks before anything runs: known ops, every input
 * produced somewhere, graph outputs defined. Messages name the node and the tensor. */
#include <stdio.h>

#include "graph.h"
#include "ops.h"

static rt_status check(const rt_graph *g, bool allow_unknown, rt_error *e)
{
    char lbl[300];
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        if (n->op == RT_OP_NONE && !allow_unknown)
            return rt_error_set(e, RT_ERR_UNKNOWN_OP, "unknown op '%s%s%s' (node %s): no kernel", n->domain,
                                n->domain[0] ? "." : "", n->op_type, graph_node_label(g, i, lbl, sizeof lbl));
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            const rt_tensor *ts = g->tensors[t];
            if (ts->producer < 0 && ts->kind != RT_TENSOR_INPUT && ts->kind != RT_TENSOR_CONSTANT)
                return rt_error_set(e, RT_ERR_MISSING_INPUT,
                                    "missing input: node %s reads '%s', which no node produces and is neither a "
                                    "graph input nor an initializer",
                                    graph_node_label(g, i, lbl, sizeof lbl), ts->name);
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const rt_tensor *ts = g->tensors[g->outputs[k]];
        if (ts->producer < 0 && ts->kind != RT_TENSOR_INPUT && ts->kind != RT_TENSOR_CONSTANT)
            return rt_error_set(e, RT_ERR_MISSING_INPUT, "graph output '%s' is not produced by any node", ts->name);
    }
    return RT_OK;
}

rt_status graph_validate(const rt_graph *g, rt_error *e)
{
    return check(g, false, e);
}

rt_status graph_validate_structure(const rt_graph *g, rt_error *e)
{
    return check(g, true, e);
}
