/* graph_subgraph.c -- subgraphs in GRAPH attributes (If's branches, Loop's and Scan's bodies)
 * and the link between a subgraph and the scope around it (graph.h, "Subgraphs"): the names a
 * subgraph reads from outside become capture inputs of its node, so that every pass that walks
 * node inputs sees the dependency without knowing about subgraphs. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_internal.h"

/* Does body read tensor t from outside (a capture already linked, or a placeholder nothing
 * produces that is neither an input nor a constant)? */
static bool is_free(const rt_graph *body, int t)
{
    for (int k = 0; k < body->n_captures; k++)
        if (body->captures[k] == t)
            return true;
    const rt_tensor *ts = body->tensors[t];
    return ts->producer < 0 && ts->kind != RT_TENSOR_INPUT && ts->kind != RT_TENSOR_CONSTANT;
}

/* Add name to the union (no duplicates). */
static rt_status union_add(const char ***names, int *n, int *cap, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*names)[i], name) == 0)
            return RT_OK;
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        const char **p = realloc(*names, (size_t)nc * sizeof *p);
        if (!p)
            return RT_ERR_NOMEM;
        *names = p;
        *cap = nc;
    }
    (*names)[(*n)++] = name;
    return RT_OK;
}

/* Give body a captures[] aligned with names (adding unused placeholders where needed). */
static rt_status align_captures(rt_graph *body, const char *const *names, int n)
{
    int *caps = malloc((size_t)(n ? n : 1) * sizeof *caps);
    if (!caps)
        return RT_ERR_NOMEM;
    for (int k = 0; k < n; k++) {
        int t = graph_find_tensor(body, names[k]);
        if (t < 0)
            t = graph_add_tensor(body, names[k], RT_DT_UNDEFINED, -1, NULL, RT_TENSOR_INPUT);
        if (t < 0) {
            free(caps);
            return graph_last_error(body)->code;
        }
        if (body->tensors[t]->kind != RT_TENSOR_CONSTANT)
            body->tensors[t]->kind = RT_TENSOR_INPUT;
        caps[k] = t;
    }
    free(body->captures);
    body->captures = caps;
    body->n_captures = n;
    return RT_OK;
}

/* Recompute the capture inputs of node ni from all its subgraphs. */
static rt_status link_captures(rt_graph *g, int ni, rt_error *e)
{
    rt_node *n = &g->nodes[ni];
    n->n_inputs -= n->n_captures;
    n->n_captures = 0;
    const char **names = NULL;
    int nn = 0, cap = 0;
    rt_status s = RT_OK;
    for (int a = 0; a < n->n_attrs && s == RT_OK; a++) {
        const rt_graph *body = n->attrs[a].type == RT_ATTR_GRAPH ? n->attrs[a].g : NULL;
        for (int t = 0; body && t < body->n_tensors && s == RT_OK; t++)
            if (is_free(body, t))
                s = union_add(&names, &nn, &cap, body->tensors[t]->name);
    }
    /* the names belong to the bodies' tensors, which stay put while placeholders are added */
    for (int a = 0; a < n->n_attrs && s == RT_OK; a++)
        if (n->attrs[a].type == RT_ATTR_GRAPH && n->attrs[a].g)
            s = align_captures(n->attrs[a].g, names, nn);
    int *inputs = s == RT_OK ? realloc(n->inputs, (size_t)(n->n_inputs + nn + 1) * sizeof *inputs) : NULL;
    if (s == RT_OK && !inputs)
        s = RT_ERR_NOMEM;
    if (inputs)
        n->inputs = inputs;
    for (int k = 0; k < nn && s == RT_OK; k++) {
        int t = graph_tensor_ref(g, names[k]); /* never moves g->nodes */
        if (t < 0) {
            s = graph_last_error(g)->code;
            break;
        }
        n = &g->nodes[ni];
        n->inputs[n->n_inputs++] = t;
        n->n_captures++;
    }
    free(names);
    if (s != RT_OK) {
        char lbl[300];
        return rt_error_set(e, s, "node %s: cannot link the names its subgraphs read from outside",
                            graph_node_label(g, ni, lbl, sizeof lbl));
    }
    return RT_OK;
}

rt_status graph_node_set_graph(rt_graph *g, int node, const char *attr, rt_graph *body)
{
    rt_error e = {0};
    if (!body || node < 0 || node >= g->n_nodes || !attr || !*attr) {
        graph_free(body);
        rt_error_set(&e, RT_ERR_ARG, "graph attribute '%s': bad node index %d or no subgraph", attr ? attr : "",
                     node);
    } else {
        /* take the attribute slot through the generic setter, then hang the graph on it */
        rt_status s = graph_node_set_int(g, node, attr, 0);
        if (s != RT_OK) {
            graph_free(body);
            return s;
        }
        rt_attr *a = NULL;
        for (int i = 0; i < g->nodes[node].n_attrs; i++)
            if (strcmp(g->nodes[node].attrs[i].name, attr) == 0)
                a = &g->nodes[node].attrs[i];
        a->type = RT_ATTR_GRAPH;
        a->i = 0;
        a->g = body;
        if (link_captures(g, node, &e) == RT_OK)
            return RT_OK;
    }
    if (g->last_error.code == RT_OK)
        g->last_error = e;
    return e.code;
}

int graph_count_nodes_deep(const rt_graph *g)
{
    int n = g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++)
            if (g->nodes[i].attrs[a].type == RT_ATTR_GRAPH && g->nodes[i].attrs[a].g)
                n += graph_count_nodes_deep(g->nodes[i].attrs[a].g);
    return n;
}
