/* graph_fold.c -- constant folding of shape computations. Exported models compute shapes at
 * run time (Shape -> Gather -> Unsqueeze -> Concat -> Reshape ...); when the shapes are known
 * these nodes are evaluated once here with the CPU kernels and become constants, so the
 * partitioner and the NPU see plain Reshapes with constant targets. Only small tensors are
 * folded: weights are never duplicated or computed on. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "graph_internal.h"
#include "ops.h"

static bool is_const_with_data(const rt_tensor *t)
{
    return t->kind == RT_TENSOR_CONSTANT && t->data != NULL;
}

/* Can node i be evaluated now? Shape/Size only need a known input shape. A node without any
 * output computes nothing anyone reads (dead-node removal drops it): never folded. */
static bool foldable(const rt_graph *g, int i, uint64_t max_bytes)
{
    const rt_node *n = &g->nodes[i];
    const rt_op_def *d = ops_get(n->op);
    bool any_out = false;
    for (int o = 0; o < n->n_outputs; o++)
        any_out |= n->outputs[o] >= 0;
    if (!d || !d->kernel || !any_out)
        return false;
    bool shape_only = n->op == RT_OP_Shape || n->op == RT_OP_Size;
    for (int k = 0; k < n->n_inputs; k++) {
        int t = n->inputs[k];
        if (t < 0)
            continue;
        const rt_tensor *ts = g->tensors[t];
        if (shape_only ? !rt_tensor_shape_known(ts) : !is_const_with_data(ts))
            return false;
    }
    for (int o = 0; o < n->n_outputs; o++) {
        int t = n->outputs[o];
        if (t < 0)
            continue;
        const rt_tensor *ts = g->tensors[t];
        if (!rt_tensor_shape_known(ts) || rt_tensor_nbytes(ts) > max_bytes || ts->graph_output)
            return false; /* (graph outputs produced by nodes are kept) */
    }
    return true;
}

/* Evaluate node i into fresh value tensors, then move the values into the graph. vals is a
 * table of g->n_tensors NULLs, shared by every call of one pass (so folding n nodes stays O(n)),
 * and left all NULL again. */
static rt_status fold_node(rt_graph *g, int i, rt_tensor **vals, rt_error *e)
{
    const rt_node *n = &g->nodes[i];
    rt_status s = RT_OK;
    /* inputs: the graph's own tensors (read-only); Shape/Size inputs need no data */
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0)
            vals[n->inputs[k]] = g->tensors[n->inputs[k]];
    for (int o = 0; o < n->n_outputs && s == RT_OK; o++) {
        int t = n->outputs[o];
        if (t < 0)
            continue;
        vals[t] = rt_tensor_clone(g->tensors[t]);
        if (!vals[t])
            s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (folding)");
        else
            s = rt_tensor_alloc(vals[t], e);
    }
    rt_op_binding b = {0};
    if (s == RT_OK)
        s = ops_bind(g, i, vals, &b, e);
    if (s == RT_OK) {
        if (n->op == RT_OP_Shape || n->op == RT_OP_Size) {
            const rt_op_def *d = ops_get(n->op);
            s = d->kernel(&b.ctx); /* reads only the input's shape */
        } else {
            s = ops_run_kernel(&b.ctx);
        }
    }
    ops_unbind(&b);
    for (int o = 0; o < n->n_outputs; o++) {
        int t = n->outputs[o];
        if (t < 0 || !vals[t])
            continue;
        if (s == RT_OK) {
            rt_tensor *gt = g->tensors[t];
            free(gt->data);
            gt->data = vals[t]->data;
            gt->data_bytes = vals[t]->data_bytes;
            gt->kind = RT_TENSOR_CONSTANT;
            gt->producer = -1;
            vals[t]->data = NULL;
        }
        rt_tensor_free(vals[t]);
    }
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0)
            vals[n->inputs[k]] = NULL;
    for (int o = 0; o < n->n_outputs; o++)
        if (n->outputs[o] >= 0)
            vals[n->outputs[o]] = NULL;
    return s;
}

rt_status graph_fold_constants(rt_graph *g, uint64_t max_bytes, int *n_folded, rt_error *e)
{
    *n_folded = 0;
    bool *remove = calloc((size_t)g->n_nodes + 1, sizeof *remove);
    rt_tensor **vals = calloc((size_t)g->n_tensors + 1, sizeof *vals);
    if (!remove || !vals) {
        free(remove);
        free(vals);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (folding)");
    }
    rt_status s = RT_OK;
    for (int i = 0; i < g->n_nodes && s == RT_OK; i++) {
        if (g->nodes[i].op == RT_OP_NONE)
            continue;
        rt_op_binding b;
        s = ops_bind(g, i, NULL, &b, e);
        if (s != RT_OK)
            break;
        s = ops_infer(&b.ctx); /* shapes from the constants folded so far */
        ops_unbind(&b);
        if (s != RT_OK)
            break;
        if (!foldable(g, i, max_bytes))
            continue;
        s = fold_node(g, i, vals, e);
        if (s == RT_OK) {
            remove[i] = true;
            (*n_folded)++;
        }
    }
    if (s == RT_OK && *n_folded)
        s = graph_compact(g, remove, NULL);
    free(remove);
    free(vals);
    return s;
}
