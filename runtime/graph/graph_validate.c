/* graph_validate.c -- structural checks before anything runs: known ops, every input
 * produced somewhere, graph outputs defined. Messages name the node and the tensor. A model
 * with several ops the runtime lacks gets one error listing all of them (in the subgraphs too),
 * so that a user learns at once what is missing rather than one op per attempt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "ops.h"

#define LABEL_BYTES 300

typedef struct unknown_op {
    const char *domain, *op;
    int nodes;
    char first[LABEL_BYTES + 200]; /* the first node using it, with its scope */
} unknown_op;

typedef struct unknown_list {
    unknown_op *v;
    int n, cap;
    bool nomem;
} unknown_list;

static void note_unknown(unknown_list *l, const rt_node *n, const char *label)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i].op, n->op_type) == 0 && strcmp(l->v[i].domain, n->domain) == 0) {
            l->v[i].nodes++;
            return;
        }
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 8;
        unknown_op *p = realloc(l->v, (size_t)nc * sizeof *p);
        if (!p) {
            l->nomem = true;
            return;
        }
        l->v = p;
        l->cap = nc;
    }
    unknown_op *u = &l->v[l->n++];
    u->domain = n->domain;
    u->op = n->op_type;
    u->nodes = 1;
    snprintf(u->first, sizeof u->first, "%s", label);
}

/* Every node of g with no op in the registry, then the same in each subgraph; scope says where
 * g sits ("" at the top, " in then_branch of 'if1' (If)" below it). */
static void collect_unknown(const rt_graph *g, const char *scope, unknown_list *l)
{
    char lbl[LABEL_BYTES], full[LABEL_BYTES + 200];
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        if (n->op == RT_OP_NONE) {
            snprintf(full, sizeof full, "%s%s", graph_node_label(g, i, lbl, sizeof lbl), scope);
            note_unknown(l, n, full);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        for (int a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].type != RT_ATTR_GRAPH || !n->attrs[a].g)
                continue;
            char inner[LABEL_BYTES + 200];
            snprintf(inner, sizeof inner, " in %s of %.150s%.100s", n->attrs[a].name,
                     graph_node_label(g, i, lbl, sizeof lbl), scope);
            collect_unknown(n->attrs[a].g, inner, l);
        }
    }
}

static rt_status report_unknown(const unknown_list *l, rt_error *e)
{
    char msg[RT_ERROR_MSG_BYTES];
    size_t off = 0;
    if (l->n == 1)
        off += (size_t)snprintf(msg, sizeof msg, "unknown op ");
    else
        off += (size_t)snprintf(msg, sizeof msg, "%d unknown ops: ", l->n);
    for (int i = 0; i < l->n && off < sizeof msg; i++) {
        const unknown_op *u = &l->v[i];
        char one[LABEL_BYTES + 400];
        if (u->nodes == 1)
            snprintf(one, sizeof one, "%s'%s%s%s' (node %s)", i ? ", " : "", u->domain, u->domain[0] ? "." : "", u->op,
                     u->first);
        else
            snprintf(one, sizeof one, "%s'%s%s%s' (%d nodes, first %s)", i ? ", " : "", u->domain,
                     u->domain[0] ? "." : "", u->op, u->nodes, u->first);
        /* keep room for the tail; say how many did not fit */
        if (off + strlen(one) + 40 >= sizeof msg) {
            off += (size_t)snprintf(msg + off, sizeof msg - off, ", and %d more", l->n - i);
            break;
        }
        off += (size_t)snprintf(msg + off, sizeof msg - off, "%s", one);
    }
    if (off < sizeof msg)
        snprintf(msg + off, sizeof msg - off, ": no kernel");
    return rt_error_set(e, RT_ERR_UNKNOWN_OP, "%s", msg);
}

static rt_status check(const rt_graph *g, bool allow_unknown, rt_error *e)
{
    char lbl[LABEL_BYTES];
    if (!allow_unknown) {
        unknown_list l = {0};
        collect_unknown(g, "", &l);
        rt_status s = l.nomem ? rt_error_set(e, RT_ERR_NOMEM, "out of memory (validation)")
                    : l.n   ? report_unknown(&l, e)
                            : RT_OK;
        free(l.v);
        if (s != RT_OK)
            return s;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            const rt_tensor *ts = g->tensors[t];
            if (ts->producer < 0 && ts->kind != RT_TENSOR_INPUT && ts->kind != RT_TENSOR_CONSTANT)
                return rt_error_set(e, RT_ERR_MISSING_INPUT,
                                    "missing input: node %s reads '%s', which no node produces and is neither a "
                                    "graph input nor an initializer%s",
                                    graph_node_label(g, i, lbl, sizeof lbl), ts->name,
                                    k >= rt_node_explicit_inputs(n) ? " (read inside its subgraphs)" : "");
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
