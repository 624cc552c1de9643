/* cpu_exec.c -- the CPU graph executor (see cpu_exec.h): binds values to the graph's tensors,
 * runs each node's inference then kernel in order, frees activations after their last use. */
#include <stdlib.h>
#include <string.h>

#include "cpu_exec.h"
#include "ops.h"

struct cpu_exec {
    const rt_graph *g;
    rt_tensor **vals;   /* per graph tensor: the current value (or NULL) */
    bool *owned;        /* vals[t] belongs to the executor (else it is the graph's constant) */
    int *last_use;      /* last node reading each tensor; -1 if none */
    bool *is_output;
    bool keep;
    int nodes_run;
};

rt_status cpu_exec_create(const rt_graph *g, cpu_exec **out, rt_error *e)
{
    *out = NULL;
    char lbl[300];
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_op_def *d = ops_get(g->nodes[i].op);
        if (!d || !d->kernel)
            return rt_error_set(e, RT_ERR_UNKNOWN_OP, "unknown op '%s' (node %s): no kernel", g->nodes[i].op_type,
                                graph_node_label(g, i, lbl, sizeof lbl));
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int t = g->nodes[i].inputs[k];
            if (t >= 0 && g->tensors[t]->producer >= i)
                return rt_error_set(e, RT_ERR_ARG, "node %s runs before the producer of '%s': call graph_prepare",
                                    graph_node_label(g, i, lbl, sizeof lbl), g->tensors[t]->name);
        }
    }
    cpu_exec *x = calloc(1, sizeof *x);
    size_t nt = (size_t)g->n_tensors + 1;
    if (x) {
        x->vals = calloc(nt, sizeof *x->vals);
        x->owned = calloc(nt, sizeof *x->owned);
        x->last_use = malloc(nt * sizeof *x->last_use);
        x->is_output = calloc(nt, sizeof *x->is_output);
    }
    if (!x || !x->vals || !x->owned || !x->last_use || !x->is_output) {
        cpu_exec_free(x);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (executor)");
    }
    x->g = g;
    for (int t = 0; t < g->n_tensors; t++)
        x->last_use[t] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0)
                x->last_use[g->nodes[i].inputs[k]] = i;
    for (int k = 0; k < g->n_outputs; k++)
        x->is_output[g->outputs[k]] = true;
    *out = x;
    return RT_OK;
}

static void drop_value(cpu_exec *x, int t)
{
    if (x->owned[t])
        rt_tensor_free(x->vals[t]);
    x->vals[t] = NULL;
    x->owned[t] = false;
}

void cpu_exec_free(cpu_exec *x)
{
    if (!x)
        return;
    if (x->vals)
        for (int t = 0; t < x->g->n_tensors; t++)
            drop_value(x, t);
    free(x->vals);
    free(x->owned);
    free(x->last_use);
    free(x->is_output);
    free(x);
}

void cpu_exec_keep_intermediates(cpu_exec *x, bool keep)
{
    x->keep = keep;
}

rt_status cpu_exec_set_input(cpu_exec *x, const char *name, const rt_tensor *value, rt_error *e)
{
    const rt_graph *g = x->g;
    int t = graph_find_tensor(g, name);
    if (t < 0 || g->tensors[t]->kind != RT_TENSOR_INPUT)
        return rt_error_set(e, RT_ERR_NOT_FOUND, "'%s' is not an input of graph '%s'", name, g->name);
    const rt_tensor *decl = g->tensors[t];
    if (!value->data || !rt_tensor_shape_known(value))
        return rt_error_set(e, RT_ERR_NO_DATA, "input '%s': the value has no data or no known shape", name);
    if (decl->dtype != RT_DT_UNDEFINED && decl->dtype != value->dtype)
        return rt_error_set(e, RT_ERR_DTYPE, "input '%s': expected %s, got %s", name, rt_dtype_name(decl->dtype),
                            rt_dtype_name(value->dtype));
    if (decl->rank >= 0) {
        bool ok = decl->rank == value->rank;
        for (int d = 0; ok && d < decl->rank; d++)
            ok = decl->dims[d] < 0 || decl->dims[d] == value->dims[d];
        if (!ok) {
            char s1[96], s2[96];
            return rt_error_set(e, RT_ERR_SHAPE, "input '%s': expected shape %s, got %s", name,
                                rt_shape_str(decl, s1, sizeof s1), rt_shape_str(value, s2, sizeof s2));
        }
    }
    if (value->data_bytes != rt_tensor_nbytes(value))
        return rt_error_set(e, RT_ERR_DATA_SIZE, "input '%s': %llu bytes of data for shape needing %llu", name,
                            (unsigned long long)value->data_bytes, (unsigned long long)rt_tensor_nbytes(value));
    rt_tensor *v = rt_tensor_clone(value);
    if (!v)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (input '%s')", name);
    free(v->name);
    v->name = strdup(decl->name);
    if (!v->name) {
        rt_tensor_free(v);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (input '%s')", name);
    }
    v->kind = RT_TENSOR_INPUT;
    drop_value(x, t);
    x->vals[t] = v;
    x->owned[t] = true;
    return RT_OK;
}

rt_status cpu_exec_node_run(const rt_graph *g, int node, rt_tensor **values, const rt_body_runner *runner,
                            rt_error *e)
{
    const rt_node *n = &g->nodes[node];
    char lbl[300];
    for (int k = 0; k < n->n_inputs; k++) {
        int t = n->inputs[k];
        if (t >= 0 && (!values[t] || !values[t]->data))
            return rt_error_set(e, RT_ERR_NO_DATA, "node %s: input '%s' has no data%s",
                                graph_node_label(g, node, lbl, sizeof lbl), g->tensors[t]->name,
                                g->tensors[t]->kind == RT_TENSOR_CONSTANT ? " (a shape-only weight)" : "");
    }
    for (int o = 0; o < n->n_outputs; o++) {
        int t = n->outputs[o];
        if (t < 0)
            continue;
        rt_tensor *v = rt_tensor_new(g->tensors[t]->name, RT_DT_UNDEFINED, 0, NULL);
        if (!v)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        v->rank = -1;
        v->producer = node;
        v->kind = g->tensors[t]->kind;
        rt_tensor_free(values[t]);
        values[t] = v;
    }
    rt_op_binding b;
    rt_status s = ops_bind(g, node, values, &b, e);
    if (s != RT_OK)
        return s;
    b.ctx.runner = runner;
    if (!ops_is_control(n->op)) { /* a control-flow kernel sizes its outputs itself */
        s = ops_infer(&b.ctx);
        for (int o = 0; o < n->n_outputs && s == RT_OK; o++)
            if (b.out[o]) {
                s = rt_tensor_alloc(b.out[o], e);
                if (s != RT_OK)
                    rt_error_prefix(e, "node %s", ops_node_label(&b.ctx));
            }
    }
    if (s == RT_OK)
        s = ops_run_kernel(&b.ctx);
    ops_unbind(&b);
    return s;
}

rt_status cpu_exec_node(const rt_graph *g, int node, rt_tensor **values, rt_error *e)
{
    return cpu_exec_node_run(g, node, values, NULL, e);
}

rt_status cpu_exec_body(const rt_graph *body, rt_tensor *const *args, rt_tensor **results,
                        const rt_body_runner *runner, rt_error *e)
{
    size_t nt = (size_t)body->n_tensors + 1;
    rt_tensor **vals = calloc(nt, sizeof *vals);
    bool *owned = calloc(nt, sizeof *owned), *keep = calloc(nt, sizeof *keep);
    int *last_use = malloc(nt * sizeof *last_use);
    rt_status s = RT_OK;
    if (!vals || !owned || !keep || !last_use) {
        s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (subgraph '%s')", body->name);
        goto out;
    }
    for (int t = 0; t < body->n_tensors; t++) {
        last_use[t] = -1;
        if (body->tensors[t]->kind == RT_TENSOR_CONSTANT)
            vals[t] = body->tensors[t]; /* borrowed; a capture below takes the outer value instead */
    }
    for (int k = 0; k < body->n_inputs; k++)
        vals[body->inputs[k]] = args[k];
    for (int k = 0; k < body->n_captures; k++)
        vals[body->captures[k]] = args[body->n_inputs + k];
    for (int i = 0; i < body->n_nodes; i++)
        for (int k = 0; k < body->nodes[i].n_inputs; k++)
            if (body->nodes[i].inputs[k] >= 0)
                last_use[body->nodes[i].inputs[k]] = i;
    for (int k = 0; k < body->n_outputs; k++)
        keep[body->outputs[k]] = true;
    for (int i = 0; i < body->n_nodes && s == RT_OK; i++) {
        const rt_node *n = &body->nodes[i];
        for (int o = 0; o < n->n_outputs; o++)
            if (n->outputs[o] >= 0) {
                if (!owned[n->outputs[o]])
                    vals[n->outputs[o]] = NULL; /* never free what is borrowed */
                owned[n->outputs[o]] = true;
            }
        s = cpu_exec_node_run(body, i, vals, runner, e);
        for (int k = 0; k < n->n_inputs && s == RT_OK; k++) {
            int t = n->inputs[k];
            if (t >= 0 && last_use[t] == i && owned[t] && !keep[t]) {
                rt_tensor_free(vals[t]);
                vals[t] = NULL;
                owned[t] = false;
            }
        }
    }
    for (int k = 0; k < body->n_outputs; k++)
        results[k] = NULL;
    for (int k = 0; k < body->n_outputs && s == RT_OK; k++) {
        int t = body->outputs[k];
        if (!vals[t] || !vals[t]->data) {
            s = rt_error_set(e, RT_ERR_NO_DATA, "subgraph '%s': output '%s' was not computed", body->name,
                             body->tensors[t]->name);
        } else if (owned[t]) {
            results[k] = vals[t]; /* moved; a second output of the same tensor gets a copy */
            owned[t] = false;
        } else if (!(results[k] = rt_tensor_clone(vals[t]))) {
            s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (subgraph '%s')", body->name);
        }
    }
    if (s != RT_OK) /* each result is its own tensor (a second output of one tensor is a copy) */
        for (int k = 0; k < body->n_outputs; k++) {
            rt_tensor_free(results[k]);
            results[k] = NULL;
        }
out:
    if (vals && owned)
        for (size_t t = 0; t < nt; t++)
            if (owned[t])
                rt_tensor_free(vals[t]);
    free(vals);
    free(owned);
    free(keep);
    free(last_use);
    return s;
}

rt_status cpu_exec_run(cpu_exec *x, rt_error *e)
{
    const rt_graph *g = x->g;
    x->nodes_run = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        const rt_tensor *gt = g->tensors[t];
        if (gt->kind == RT_TENSOR_INPUT) {
            if (!x->vals[t])
                return rt_error_set(e, RT_ERR_MISSING_INPUT, "graph input '%s' was not given a value", gt->name);
        } else if (gt->kind == RT_TENSOR_CONSTANT) {
            drop_value(x, t);
            x->vals[t] = (rt_tensor *)gt; /* borrowed; kernels never write inputs */
        } else {
            drop_value(x, t);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        for (int o = 0; o < n->n_outputs; o++)
            if (n->outputs[o] >= 0) {
                drop_value(x, n->outputs[o]);
                x->owned[n->outputs[o]] = true; /* cpu_exec_node stores a fresh tensor there */
            }
        rt_status s = cpu_exec_node(g, i, x->vals, e);
        if (s != RT_OK)
            return s;
        x->nodes_run++;
        if (x->keep)
            continue;
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && x->last_use[t] == i && !x->is_output[t] && g->tensors[t]->kind == RT_TENSOR_ACTIVATION)
                drop_value(x, t);
        }
    }
    return RT_OK;
}

const rt_tensor *cpu_exec_output(const cpu_exec *x, const char *name)
{
    int t = graph_find_tensor(x->g, name);
    return t >= 0 ? x->vals[t] : NULL;
}

int cpu_exec_nodes_run(const cpu_exec *x)
{
    return x->nodes_run;
}
