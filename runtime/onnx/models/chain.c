/* chain.c -- the elementwise chain of chain.h. */
#include "chain.h"

#include <stdio.h>

#define CHAIN_OPS 4

rt_graph *model_elementwise_chain(int n_nodes, rt_error *e)
{
    static const char *const ops[CHAIN_OPS] = {"Add", "Relu", "Sin", "Mul"};
    if (n_nodes < 1) {
        rt_error_set(e, RT_ERR_ARG, "a chain needs at least one node (got %d)", n_nodes);
        return NULL;
    }
    rt_graph *g = graph_create("chain");
    if (!g) {
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (chain)");
        return NULL;
    }
    int64_t shape[2] = {1, CHAIN_WIDTH};
    float c[CHAIN_WIDTH];
    for (int i = 0; i < CHAIN_WIDTH; i++)
        c[i] = 0.25f + 0.125f * (float)(i % 4);
    graph_add_input(g, "x", RT_DT_F32, 2, shape);
    graph_add_constant(g, "c", RT_DT_F32, 1, shape + 1, c, sizeof c);
    char prev[32] = "x", out[32];
    for (int i = 0; i < n_nodes; i++) {
        const char *op = ops[i % CHAIN_OPS];
        if (i == n_nodes - 1)
            snprintf(out, sizeof out, "y");
        else
            snprintf(out, sizeof out, "t%d", i);
        const char *in[2] = {prev, "c"};
        bool binary = op[0] == 'A' || op[0] == 'M';
        const char *outs[1] = {out};
        graph_add_node(g, op, NULL, binary ? 2 : 1, in, 1, outs);
        snprintf(prev, sizeof prev, "%s", out);
    }
    graph_mark_output(g, graph_find_tensor(g, "y"));
    const rt_error *le = graph_last_error(g);
    if (le->code != RT_OK) {
        rt_error_set(e, le->code, "%s", le->msg);
        graph_free(g);
        return NULL;
    }
    return g;
}
