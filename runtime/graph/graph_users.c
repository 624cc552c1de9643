/* graph_users.c -- who reads each tensor, for the passes that ask it of every tensor (dead
 * outputs, fusion, segment boundaries): one CSR index over the whole graph, built in
 * O(nodes + tensors) on the first question and kept until a node is added, removed or moved
 * (graph_users_drop), so that asking stays linear in the graph's size instead of a scan of every
 * node per tensor. Graph outputs are a flag on the tensor. */
#include <stdlib.h>

#include "graph.h"
#include "graph_internal.h"

struct rt_graph_users {
    int n_tensors;
    int *start; /* n_tensors + 1: readers of t are node[start[t] .. start[t + 1] - 1] */
    int *node;
};

void graph_users_drop(rt_graph *g)
{
    if (!g->users)
        return;
    free(g->users->start);
    free(g->users->node);
    free(g->users);
    g->users = NULL;
}

/* Count, then fill, each node once per tensor it reads (a node reading t twice is one reader:
 * nodes are visited in order, so a repeat is a tensor whose last reader is this node). */
static struct rt_graph_users *build(const rt_graph *g)
{
    struct rt_graph_users *u = calloc(1, sizeof *u);
    int nt = g->n_tensors;
    int *last = malloc(((size_t)nt + 1) * sizeof *last);
    if (!u || !last || !(u->start = calloc((size_t)nt + 2, sizeof *u->start)))
        goto fail;
    u->n_tensors = nt;
    size_t total = 0;
    for (int i = 0; i < g->n_nodes; i++)
        total += (size_t)g->nodes[i].n_inputs;
    if (!(u->node = malloc((total ? total : 1) * sizeof *u->node)))
        goto fail;
    for (int pass = 0; pass < 2; pass++) {
        for (int t = 0; t < nt; t++)
            last[t] = -1;
        for (int i = 0; i < g->n_nodes; i++) {
            const rt_node *n = &g->nodes[i];
            for (int k = 0; k < n->n_inputs; k++) {
                int t = n->inputs[k];
                if (t < 0 || t >= nt || last[t] == i)
                    continue;
                last[t] = i;
                if (pass == 0)
                    u->start[t + 2]++;
                else
                    u->node[u->start[t + 1]++] = i; /* advances start[t + 1] to the end of t's readers */
            }
        }
        if (pass == 0) /* prefix sums: start[t + 1] becomes where t's readers begin */
            for (int t = 0; t < nt; t++)
                u->start[t + 2] += u->start[t + 1];
    }
    free(last);
    return u;
fail:
    if (u) {
        free(u->start);
        free(u->node);
    }
    free(u);
    free(last);
    return NULL;
}

int graph_tensor_users(const rt_graph *g, int t, const int **nodes)
{
    *nodes = NULL;
    if (!g->users) {
        /* the index is a cache: building it changes nothing the graph means */
        rt_graph *mg = (rt_graph *)g;
        if (!(mg->users = build(g)))
            return -1;
    }
    const struct rt_graph_users *u = g->users;
    if (t < 0 || t >= u->n_tensors)
        return 0; /* a tensor added after the index was built: no node read it then, none since */
    *nodes = u->node + u->start[t];
    return u->start[t + 1] - u->start[t];
}

bool graph_is_output(const rt_graph *g, int t)
{
    return t >= 0 && t < g->n_tensors && g->tensors[t]->graph_output;
}
