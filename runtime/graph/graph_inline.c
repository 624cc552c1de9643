/* graph_inline.c -- an If whose condition folded to a constant is replaced by the branch it
 * selects. Real models branch on things that are fixed once the model is loaded (a sample rate
 * known from a shape, an export-time flag): inlined, the branch's nodes are ordinary nodes of
 * the graph, fold with it and may join its NPU segments, and the untaken branch costs nothing.
 *
 * The branch's tensors keep their names unless a name is taken in the graph (then it becomes
 * "NAME__inlinedN"); its outputs become the If's outputs (through an Identity where an output is
 * not produced by a branch node, or is produced twice); its captures are the If's capture
 * inputs; its nested subgraphs move along, and a nested capture of a renamed tensor is renamed
 * inside the nested subgraph too (positions bind captures, names only document them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_internal.h"
#include "ops.h"

#define RENAME_TRIES 1000000

static bool is_const_with_data(const rt_tensor *t)
{
    return t->kind == RT_TENSOR_CONSTANT && t->data != NULL;
}

/* A name not yet used in g: name itself, else "name__inlinedN". Returns a malloc'd string. */
static char *fresh_name(const rt_graph *g, const char *name)
{
    if (graph_find_tensor(g, name) < 0)
        return strdup(name);
    size_t len = strlen(name) + 32;
    char *buf = malloc(len);
    for (int i = 1; buf && i < RENAME_TRIES; i++) {
        snprintf(buf, len, "%s__inlined%d", name, i);
        if (graph_find_tensor(g, buf) < 0)
            return buf;
    }
    free(buf);
    return NULL;
}

/* Rename capture k of body (and what nested subgraphs capture of it) to name. */
static rt_status rename_capture(rt_graph *body, int k, const char *name, rt_error *e)
{
    int t = body->captures[k];
    if (strcmp(body->tensors[t]->name, name) == 0)
        return RT_OK;
    if (graph_find_tensor(body, name) >= 0)
        return rt_error_set(e, RT_ERR_UNSUPPORTED,
                            "inlining an If: subgraph '%s' defines '%s', the new name of the outer tensor '%s' it reads",
                            body->name, name, body->tensors[t]->name);
    char *nm = strdup(name);
    if (!nm)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (inlining)");
    free(body->tensors[t]->name);
    body->tensors[t]->name = nm;
    if (graph_rebuild_index(body) != RT_OK)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (inlining)");
    for (int i = 0; i < body->n_nodes; i++) {
        rt_node *n = &body->nodes[i];
        for (int c = 0; c < n->n_captures; c++) {
            if (n->inputs[rt_node_explicit_inputs(n) + c] != t)
                continue;
            for (int a = 0; a < n->n_attrs; a++) {
                rt_status s = n->attrs[a].type == RT_ATTR_GRAPH && n->attrs[a].g
                                  ? rename_capture(n->attrs[a].g, c, name, e)
                                  : RT_OK;
                if (s != RT_OK)
                    return s;
            }
        }
    }
    return RT_OK;
}

/* Replace node `ifn` of g by the nodes of `br` (taken from the If: the node is removed after). */
static rt_status inline_branch(rt_graph *g, int ifn, rt_graph *br, bool *remove, rt_error *e)
{
    char lbl[300];
    graph_node_label(g, ifn, lbl, sizeof lbl);
    if (br->n_inputs != 0 || br->n_outputs != g->nodes[ifn].n_outputs || br->n_captures != g->nodes[ifn].n_captures)
        return rt_error_set(e, RT_ERR_ATTR, "node %s: its branch does not fit the node (inputs, outputs or captures)", lbl);
    rt_status s = graph_topo_sort(br, e);
    if (s != RT_OK)
        return s;
    int nt = br->n_tensors, n_out = br->n_outputs;
    int *map = malloc((size_t)(nt + 1) * sizeof *map);
    int *if_out = malloc((size_t)(n_out + 1) * sizeof *if_out);
    bool *claimed = calloc((size_t)n_out + 1, sizeof *claimed);
    if (!map || !if_out || !claimed) {
        s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (inlining)");
        goto out;
    }
    for (int t = 0; t < nt; t++)
        map[t] = -1;
    /* the If stops producing its outputs: branch nodes will */
    {
        rt_node *n = &g->nodes[ifn];
        for (int k = 0; k < n_out; k++) {
            if_out[k] = n->outputs[k];
            if (if_out[k] >= 0)
                g->tensors[if_out[k]]->producer = -1;
            n->outputs[k] = -1;
        }
        for (int k = 0; k < br->n_captures; k++)
            map[br->captures[k]] = n->inputs[rt_node_explicit_inputs(n) + k];
    }
    /* the branch's constants become constants of g (their data moves) */
    for (int t = 0; t < nt && s == RT_OK; t++) {
        rt_tensor *bt = br->tensors[t];
        if (map[t] >= 0 || bt->kind != RT_TENSOR_CONSTANT)
            continue;
        char *nm = fresh_name(g, bt->name);
        int gt = nm ? graph_add_tensor(g, nm, bt->dtype, bt->rank, bt->dims, RT_TENSOR_CONSTANT) : -1;
        free(nm);
        if (gt < 0) {
            s = rt_error_set(e, RT_ERR_NOMEM, "node %s: cannot add the branch's constant '%s'", lbl, bt->name);
            break;
        }
        g->tensors[gt]->data = bt->data;
        g->tensors[gt]->data_bytes = bt->data_bytes;
        bt->data = NULL;
        map[t] = gt;
    }
    /* the branch's nodes, in order; an output that is a branch output k becomes the If's */
    for (int i = 0; i < br->n_nodes && s == RT_OK; i++) {
        rt_node *bn = &br->nodes[i];
        const char **in = calloc((size_t)bn->n_inputs + 1, sizeof *in);
        const char **out = calloc((size_t)bn->n_outputs + 1, sizeof *out);
        char **owned = calloc((size_t)bn->n_outputs + 1, sizeof *owned);
        if (!in || !out || !owned)
            s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (inlining)");
        for (int k = 0; k < bn->n_inputs && s == RT_OK; k++) {
            if (bn->inputs[k] >= 0 && map[bn->inputs[k]] < 0)
                s = rt_error_set(e, RT_ERR_MISSING_INPUT, "node %s: a branch node reads '%s' before it is made", lbl,
                                 br->tensors[bn->inputs[k]]->name);
            else
                in[k] = bn->inputs[k] < 0 ? "" : g->tensors[map[bn->inputs[k]]]->name;
        }
        for (int o = 0; o < bn->n_outputs && s == RT_OK; o++) {
            int bt = bn->outputs[o];
            out[o] = "";
            if (bt < 0)
                continue;
            for (int k = 0; k < n_out && !out[o][0]; k++)
                if (br->outputs[k] == bt && !claimed[k] && if_out[k] >= 0) {
                    claimed[k] = true;
                    out[o] = g->tensors[if_out[k]]->name;
                }
            if (!out[o][0]) {
                if (!(owned[o] = fresh_name(g, br->tensors[bt]->name)))
                    s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (inlining)");
                else
                    out[o] = owned[o];
            }
        }
        int ni = s == RT_OK ? graph_add_node_domain(g, bn->domain, bn->op_type, bn->name, bn->n_inputs - bn->n_captures,
                                                     in, bn->n_outputs, out)
                            : -1;
        if (s == RT_OK && ni < 0)
            s = rt_error_set(e, graph_last_error(g)->code, "%s", graph_last_error(g)->msg);
        if (s == RT_OK) {
            rt_node *nn = &g->nodes[ni];
            /* its captures, then its attributes (subgraphs included) move over */
            int *inputs = realloc(nn->inputs, (size_t)(bn->n_inputs + 1) * sizeof *inputs);
            if (!inputs) {
                s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (inlining)");
            } else {
                nn->inputs = inputs;
                for (int k = bn->n_inputs - bn->n_captures; k < bn->n_inputs; k++)
                    nn->inputs[nn->n_inputs++] = map[bn->inputs[k]];
                nn->n_captures = bn->n_captures;
                nn->attrs = bn->attrs;
                nn->n_attrs = bn->n_attrs;
                bn->attrs = NULL;
                bn->n_attrs = 0;
                for (int o = 0; o < bn->n_outputs; o++)
                    if (bn->outputs[o] >= 0)
                        map[bn->outputs[o]] = nn->outputs[o];
                for (int c = 0; c < nn->n_captures && s == RT_OK; c++)
                    for (int a = 0; a < nn->n_attrs && s == RT_OK; a++)
                        if (nn->attrs[a].type == RT_ATTR_GRAPH && nn->attrs[a].g)
                            s = rename_capture(nn->attrs[a].g, c,
                                               g->tensors[nn->inputs[rt_node_explicit_inputs(nn) + c]]->name, e);
            }
        }
        for (int o = 0; owned && o < bn->n_outputs; o++)
            free(owned[o]);
        free(owned);
        free(in);
        free(out);
    }
    /* outputs no branch node produced (a capture, a constant, an output listed twice) */
    for (int k = 0; k < n_out && s == RT_OK; k++) {
        if (claimed[k] || if_out[k] < 0)
            continue;
        if (map[br->outputs[k]] < 0) {
            s = rt_error_set(e, RT_ERR_MISSING_INPUT, "node %s: branch output %d is not made", lbl, k);
            break;
        }
        const char *in[1] = {g->tensors[map[br->outputs[k]]]->name};
        const char *out[1] = {g->tensors[if_out[k]]->name};
        char name[300];
        snprintf(name, sizeof name, "%s/output%d", g->nodes[ifn].name, k);
        if (graph_add_node(g, "Identity", name, 1, in, 1, out) < 0)
            s = rt_error_set(e, graph_last_error(g)->code, "%s", graph_last_error(g)->msg);
    }
    if (s == RT_OK)
        remove[ifn] = true;
    else
        rt_error_prefix(e, "inlining the constant branch of node %s", lbl);
out:
    free(map);
    free(if_out);
    free(claimed);
    return s;
}

rt_status graph_inline_constant_ifs(rt_graph *g, int *n_inlined, rt_error *e)
{
    *n_inlined = 0;
    int n0 = g->n_nodes;
    bool *remove = calloc((size_t)n0 + 1, sizeof *remove);
    if (!remove)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (inlining)");
    rt_status s = RT_OK;
    for (int i = 0; i < n0 && s == RT_OK; i++) {
        const rt_node *n = &g->nodes[i];
        if (n->op != RT_OP_If || n->n_inputs < 1 || n->inputs[0] < 0)
            continue;
        const rt_tensor *cond = g->tensors[n->inputs[0]];
        if (!is_const_with_data(cond) || rt_tensor_numel(cond) != 1)
            continue;
        const char *which = rt_tensor_get_f64(cond, 0) != 0 ? "then_branch" : "else_branch";
        rt_graph *br = rt_node_attr_graph(n, which);
        if (!br)
            continue; /* inference reports the missing attribute */
        s = inline_branch(g, i, br, remove, e);
        if (s == RT_OK)
            (*n_inlined)++;
    }
    if (*n_inlined) {
        /* graph_add_node may have grown the array: the new nodes are kept */
        bool *rm = calloc((size_t)g->n_nodes + 1, sizeof *rm);
        if (!rm) {
            free(remove);
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (inlining)");
        }
        memcpy(rm, remove, (size_t)n0 * sizeof *rm);
        rt_status c = graph_compact(g, rm, NULL);
        free(rm);
        if (s == RT_OK && c != RT_OK)
            s = rt_error_set(e, c, "out of memory (inlining)");
    }
    free(remove);
    return s;
}
