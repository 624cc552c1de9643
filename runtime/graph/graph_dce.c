/* graph_dce.c -- dead-node removal: a node whose outputs reach no graph output is dropped,
 * then every constant or activation no kept node refers to. Graph inputs (and a subgraph's
 * captures) are kept (they are the interface), even when unused.
 *
 * Which nodes are live is found by one sweep from the last node to the first when the graph is
 * in topological order (as graph_prepare leaves it): a node is live if one of its outputs is,
 * and then its inputs are, and every reader of a tensor comes after its producer, so a tensor's
 * liveness is final when its producer is reached. The loads of one node do not wait for those
 * of the next, unlike a walk from the outputs through producers, which on a long chain larger
 * than the cache waits a memory latency per node. An unsorted graph is walked so. Both mark the
 * same nodes and tensors (tests/runtime/test_graph_ir.c compares them). */
#include <stdlib.h>

#include "graph.h"
#include "graph_internal.h"

/* Sorted graphs: one sweep from the last node to the first. */
static void mark_live_sorted(const rt_graph *g, bool *live_t, bool *live_n)
{
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const rt_node *n = &g->nodes[i];
        bool live = false;
        for (int o = 0; o < n->n_outputs && !live; o++)
            live = n->outputs[o] >= 0 && live_t[n->outputs[o]];
        if (!live)
            continue;
        live_n[i] = true;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                live_t[n->inputs[k]] = true;
    }
}

/* Any order: from the graph outputs' producers back through the producers of their inputs. */
static void mark_live_walk(const rt_graph *g, bool *live_t, bool *live_n, int *stack)
{
    int sp = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        int p = g->tensors[g->outputs[k]]->producer;
        if (p >= 0 && !live_n[p]) {
            live_n[p] = true;
            stack[sp++] = p;
        }
    }
    while (sp > 0) {
        const rt_node *n = &g->nodes[stack[--sp]];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            live_t[t] = true;
            int p = g->tensors[t]->producer;
            if (p >= 0 && !live_n[p]) {
                live_n[p] = true;
                stack[sp++] = p;
            }
        }
    }
}

rt_status graph_remove_dead(rt_graph *g, int *n_removed, rt_error *e)
{
    *n_removed = 0;
    graph_relink_producers(g);
    bool *live_t = calloc((size_t)g->n_tensors + 1, sizeof *live_t);
    bool *live_n = calloc((size_t)g->n_nodes + 1, sizeof *live_n);
    int *stack = malloc((size_t)(g->n_nodes + 1) * sizeof *stack);
    if (!live_t || !live_n || !stack) {
        free(live_t);
        free(live_n);
        free(stack);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (dead-node removal)");
    }
    for (int k = 0; k < g->n_outputs; k++)
        live_t[g->outputs[k]] = true;
    if (graph_is_sorted(g))
        mark_live_sorted(g, live_t, live_n);
    else
        mark_live_walk(g, live_t, live_n, stack);
    bool *dead_n = calloc((size_t)g->n_nodes + 1, sizeof *dead_n);
    bool *dead_t = calloc((size_t)g->n_tensors + 1, sizeof *dead_t);
    if (!dead_n || !dead_t) {
        free(live_t);
        free(live_n);
        free(stack);
        free(dead_n);
        free(dead_t);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (dead-node removal)");
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (!live_n[i]) {
            dead_n[i] = true;
            (*n_removed)++;
        } else {
            for (int o = 0; o < g->nodes[i].n_outputs; o++)
                if (g->nodes[i].outputs[o] >= 0)
                    live_t[g->nodes[i].outputs[o]] = true; /* unused outputs of live nodes stay */
        }
    for (int k = 0; k < g->n_inputs; k++)
        live_t[g->inputs[k]] = true;
    for (int k = 0; k < g->n_captures; k++)
        live_t[g->captures[k]] = true; /* a subgraph's interface too: positions match the owner's inputs */
    bool any_t = false;
    for (int t = 0; t < g->n_tensors; t++)
        if (!live_t[t]) {
            dead_t[t] = true;
            any_t = true;
        }
    rt_status s = (*n_removed || any_t) ? graph_compact(g, dead_n, dead_t) : RT_OK;
    if (s != RT_OK)
        rt_error_set(e, s, "out of memory (dead-node removal)");
    free(live_t);
    free(live_n);
    free(stack);
    free(dead_n);
    free(dead_t);
    return s;
}
