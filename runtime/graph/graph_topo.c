/* graph_topo.c -- topological sort of the nodes (Kahn's algorithm with a min-heap on the
 * original position, so an already ordered graph keeps its order). Real exported models are
 * not always in order; a cycle is an error that names the nodes on it.
 *
 * Most graphs arrive in order (every exporter writes them so, and graph_prepare sorts before the
 * passes that follow), and for them the sort is the identity. Kahn's loop visits node after node
 * through the heap, each step waiting for the loads of the step before, so on a graph larger
 * than the cache it pays one memory latency per node; graph_is_sorted asks the same question with
 * loads that do not depend on each other, and the sort is skipped when the answer is yes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_internal.h"

static void heap_push(int *h, int *n, int v)
{
    int i = (*n)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        int p = (i - 1) / 2, t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static int heap_pop(int *h, int *n)
{
    int top = h[0];
    h[0] = h[--(*n)];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m])
            m = l;
        if (r < *n && h[r] < h[m])
            m = r;
        if (m == i)
            break;
        int t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
    return top;
}

/* Describe a cycle among the unsorted nodes: walk producers until a node repeats. */
static rt_status report_cycle(const rt_graph *g, const bool *done, rt_error *e)
{
    int start = -1;
    for (int i = 0; i < g->n_nodes && start < 0; i++)
        if (!done[i])
            start = i;
    int *seen_at = malloc((size_t)g->n_nodes * sizeof *seen_at);
    int *path = malloc((size_t)(g->n_nodes + 1) * sizeof *path);
    if (!seen_at || !path) {
        free(seen_at);
        free(path);
        return rt_error_set(e, RT_ERR_CYCLE, "cycle in graph (out of memory while describing it)");
    }
    for (int i = 0; i < g->n_nodes; i++)
        seen_at[i] = -1;
    int len = 0, cur = start;
    while (cur >= 0 && seen_at[cur] < 0) {
        seen_at[cur] = len;
        path[len++] = cur;
        int next = -1;
        const rt_node *n = &g->nodes[cur];
        for (int k = 0; k < n->n_inputs && next < 0; k++) {
            int t = n->inputs[k];
            if (t >= 0 && g->tensors[t]->producer >= 0 && !done[g->tensors[t]->producer])
                next = g->tensors[t]->producer;
        }
        cur = next;
    }
    char lbl[300], buf[RT_ERROR_MSG_BYTES];
    size_t off = 0;
    buf[0] = '\0';
    if (cur >= 0) {
        /* the cycle is path[seen_at[cur]..len-1], each node reading the next one's output */
        for (int i = len - 1; i >= seen_at[cur] && off < sizeof buf - 64; i--)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s -> ", graph_node_label(g, path[i], lbl, sizeof lbl));
        if (off < sizeof buf)
            snprintf(buf + off, sizeof buf - off, "%s", graph_node_label(g, path[len - 1], lbl, sizeof lbl));
    }
    free(seen_at);
    free(path);
    return rt_error_set(e, RT_ERR_CYCLE, "cycle in graph through node %s: %s",
                        graph_node_label(g, start, lbl, sizeof lbl), buf);
}

bool graph_is_sorted(const rt_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && g->tensors[t]->producer >= i) /* produced here or later: not in order */
                return false;
        }
    }
    return true;
}

rt_status graph_topo_sort(rt_graph *g, rt_error *e)
{
    if (g->n_nodes <= 0)
        return RT_OK;
    size_t nn = (size_t)g->n_nodes;
    graph_relink_producers(g);
    if (graph_is_sorted(g))
        return RT_OK; /* every edge goes forward: Kahn's order below would be the same */
    int *indeg = calloc(nn, sizeof *indeg);
    int *cons_start = calloc((size_t)g->n_tensors + 1, sizeof *cons_start);
    int *heap = malloc(nn * sizeof *heap);
    int *order = malloc(nn * sizeof *order);
    bool *done = calloc(nn, sizeof *done);
    int total_in = 0;
    for (int i = 0; i < (int)nn; i++)
        total_in += g->nodes[i].n_inputs;
    int *cons = malloc((size_t)(total_in ? total_in : 1) * sizeof *cons);
    rt_status st = RT_OK;
    if (!indeg || !cons_start || !heap || !order || !done || !cons) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (topological sort)");
        goto out;
    }
    /* consumers of each tensor, in CSR form; in-degree counts produced inputs */
    for (int i = 0; i < (int)nn; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int t = g->nodes[i].inputs[k];
            if (t >= 0 && g->tensors[t]->producer >= 0) {
                cons_start[t + 1]++;
                indeg[i]++;
            }
        }
    for (int t = 0; t < g->n_tensors; t++)
        cons_start[t + 1] += cons_start[t];
    {
        int *fill = calloc((size_t)g->n_tensors + 1, sizeof *fill);
        if (!fill) {
            st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (topological sort)");
            goto out;
        }
        for (int i = 0; i < (int)nn; i++)
            for (int k = 0; k < g->nodes[i].n_inputs; k++) {
                int t = g->nodes[i].inputs[k];
                if (t >= 0 && g->tensors[t]->producer >= 0)
                    cons[cons_start[t] + fill[t]++] = i;
            }
        free(fill);
    }
    int hn = 0, no = 0;
    for (int i = 0; i < (int)nn; i++)
        if (indeg[i] == 0)
            heap_push(heap, &hn, i);
    while (hn > 0) {
        int i = heap_pop(heap, &hn);
        order[no++] = i;
        done[i] = true;
        const rt_node *n = &g->nodes[i];
        for (int o = 0; o < n->n_outputs; o++) {
            int t = n->outputs[o];
            if (t < 0)
                continue;
            for (int c = cons_start[t]; c < cons_start[t + 1]; c++)
                if (--indeg[cons[c]] == 0)
                    heap_push(heap, &hn, cons[c]);
        }
    }
    if (no < (int)nn) {
        st = report_cycle(g, done, e);
        goto out;
    }
    {
        rt_node *sorted = malloc(nn * sizeof *sorted);
        if (!sorted) {
            st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (topological sort)");
            goto out;
        }
        for (int i = 0; i < (int)nn; i++)
            sorted[i] = g->nodes[order[i]];
        memcpy(g->nodes, sorted, nn * sizeof *sorted);
        graph_users_drop(g); /* node indices changed */
        free(sorted);
        graph_relink_producers(g);
    }
out:
    free(indeg);
    free(cons_start);
    free(heap);
    free(order);
    free(done);
    free(cons);
    return st;
}
