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
        rt_attr *a = graph_attr_slot(g, node, attr);
        if (!a) {
            graph_free(body);
            return g->last_error.code;
        }
        a->type = RT_ATTR_GRAPH;
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

static bool copy_attr(rt_attr *d, const rt_attr *s)
{
    *d = *s;
    d->name = NULL;
    d->s = NULL;
    d->floats = NULL;
    d->ints = NULL;
    d->strings = NULL;
    d->t = NULL;
    d->g = NULL;
    if (!(d->name = strdup(s->name)))
        return false;
    if (s->s && !(d->s = strdup(s->s)))
        return false;
    if (s->floats && !(d->floats = malloc((s->n ? s->n : 1) * sizeof *d->floats)))
        return false;
    if (s->floats && s->n)
        memcpy(d->floats, s->floats, s->n * sizeof *d->floats);
    if (s->ints && !(d->ints = malloc((s->n ? s->n : 1) * sizeof *d->ints)))
        return false;
    if (s->ints && s->n)
        memcpy(d->ints, s->ints, s->n * sizeof *d->ints);
    if (s->strings) {
        if (!(d->strings = calloc(s->n ? s->n : 1, sizeof *d->strings)))
            return false;
        for (size_t i = 0; i < s->n; i++)
            if (!(d->strings[i] = strdup(s->strings[i])))
                return false;
    }
    if (s->t && !(d->t = rt_tensor_clone(s->t)))
        return false;
    if (s->g && !(d->g = graph_clone(s->g)))
        return false;
    return true;
}

static int *copy_ints(const int *v, int n)
{
    int *c = malloc((size_t)(n ? n : 1) * sizeof *c);
    if (c && n)
        memcpy(c, v, (size_t)n * sizeof *c);
    return c;
}

rt_graph *graph_clone(const rt_graph *g)
{
    rt_graph *c = graph_create(g->name);
    if (!c)
        return NULL;
    bool ok = true;
    c->ir_version = g->ir_version;
    for (int i = 0; ok && i < g->n_opsets; i++)
        ok = graph_set_opset(c, g->opsets[i].domain, g->opsets[i].version) == RT_OK;
    for (int i = 0; ok && i < g->n_dim_params; i++)
        ok = graph_set_dim_param(c, g->dim_params[i].tensor, g->dim_params[i].axis, g->dim_params[i].name) == RT_OK;
    c->tensors = calloc((size_t)g->n_tensors + 1, sizeof *c->tensors);
    c->nodes = calloc((size_t)g->n_nodes + 1, sizeof *c->nodes);
    ok = ok && c->tensors && c->nodes;
    if (ok) {
        c->cap_tensors = g->n_tensors + 1;
        c->cap_nodes = g->n_nodes + 1;
    }
    for (int t = 0; ok && t < g->n_tensors; t++)
        ok = (c->tensors[c->n_tensors++] = rt_tensor_clone(g->tensors[t])) != NULL;
    for (int i = 0; ok && i < g->n_nodes; i++) {
        const rt_node *s = &g->nodes[i];
        rt_node *d = &c->nodes[c->n_nodes++];
        memset(d, 0, sizeof *d);
        d->op = s->op;
        d->n_captures = s->n_captures;
        ok = (d->name = strdup(s->name)) && (d->op_type = strdup(s->op_type)) && (d->domain = strdup(s->domain)) &&
             (d->inputs = copy_ints(s->inputs, s->n_inputs)) && (d->outputs = copy_ints(s->outputs, s->n_outputs)) &&
             (d->attrs = calloc((size_t)s->n_attrs + 1, sizeof *d->attrs));
        if (ok) {
            d->n_inputs = s->n_inputs;
            d->n_outputs = s->n_outputs;
        }
        for (int a = 0; ok && a < s->n_attrs; a++) {
            ok = copy_attr(&d->attrs[a], &s->attrs[a]);
            d->n_attrs++; /* a half-copied attribute is cleared with the rest */
        }
    }
    if (ok) {
        c->inputs = copy_ints(g->inputs, g->n_inputs);
        c->outputs = copy_ints(g->outputs, g->n_outputs);
        c->captures = g->n_captures ? copy_ints(g->captures, g->n_captures) : NULL;
        ok = c->inputs && c->outputs && (c->captures || !g->n_captures);
        if (ok) {
            c->n_inputs = c->cap_inputs = g->n_inputs;
            c->n_outputs = c->cap_outputs = g->n_outputs;
            c->n_captures = g->n_captures;
            for (int k = 0; k < c->n_outputs; k++)
                c->tensors[c->outputs[k]]->graph_output = true; /* rt_tensor_clone copies values, not this */
        }
    }
    if (!ok || graph_rebuild_index(c) != RT_OK) {
        graph_free(c);
        return NULL;
    }
    return c;
}
