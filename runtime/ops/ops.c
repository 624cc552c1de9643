/* ops.c -- the registry built from ops_table.def, lookup by name, module names, binding a node
 * to tensors, and the checked entry points into inference, kernels and costing. */
#include <stdlib.h>
#include <string.h>

#include "ops_impl.h"

static const rt_op_def op_defs[RT_OP_COUNT] = {
#define RT_OP(nm, m4, mods, infer_fn, kernel_fn, cost_fn)                                        \
    [RT_OP_##nm] = {#nm, RT_OP_##nm, m4, (uint32_t)(mods), infer_fn, kernel_fn, cost_fn},
#include "ops_table.def"
#undef RT_OP
};

static const char *const module_names[RT_MOD_COUNT] = {
    "IMG_enc", "TXT_enc", "AUD-B_enc", "AUD-I_enc", "IMU_enc", "backbone", "GEN_dec", "TTS_dec", "IMG_dec",
};

const char *ops_module_name(int bit)
{
    return bit >= 0 && bit < RT_MOD_COUNT ? module_names[bit] : "?";
}

int ops_count(void)
{
    return RT_OP_COUNT;
}

const rt_op_def *ops_get(int id)
{
    return id >= 0 && id < RT_OP_COUNT ? &op_defs[id] : NULL;
}

int ops_lookup(const char *domain, const char *op_type)
{
    if (domain && *domain && strcmp(domain, "ai.onnx") != 0)
        return RT_OP_NONE; /* only the default ONNX domain has kernels */
    if (!op_type)
        return RT_OP_NONE;
    for (int i = 0; i < RT_OP_COUNT; i++)
        if (strcmp(op_defs[i].name, op_type) == 0)
            return i;
    return RT_OP_NONE;
}

int ops_m4_count(void)
{
    int n = 0;
    for (int i = 0; i < RT_OP_COUNT; i++)
        n += op_defs[i].in_m4;
    return n;
}

bool ops_is_control(int op)
{
    return op == RT_OP_If || op == RT_OP_Loop || op == RT_OP_Scan;
}

rt_status ops_bind(const rt_graph *g, int node, rt_tensor *const *values, rt_op_binding *b, rt_error *e)
{
    memset(b, 0, sizeof *b);
    if (node < 0 || node >= g->n_nodes)
        return rt_error_set(e, RT_ERR_ARG, "node index %d out of range", node);
    const rt_node *n = &g->nodes[node];
    if (!values)
        values = g->tensors;
    b->in = calloc((size_t)n->n_inputs + 1, sizeof *b->in);
    b->out = calloc((size_t)n->n_outputs + 1, sizeof *b->out);
    if (!b->in || !b->out) {
        ops_unbind(b);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n->n_inputs; i++)
        b->in[i] = n->inputs[i] >= 0 ? values[n->inputs[i]] : NULL;
    for (int i = 0; i < n->n_outputs; i++)
        b->out[i] = n->outputs[i] >= 0 ? values[n->outputs[i]] : NULL;
    b->ctx = (rt_op_ctx){.node = n,
                         .node_label = b->label, /* empty: formatted by ops_node_label */
                         .graph = g,
                         .node_index = node,
                         .opset = graph_opset(g, n->domain),
                         .n_in = n->n_inputs,
                         .in = b->in,
                         .n_out = n->n_outputs,
                         .out = b->out,
                         .err = e,
                         .runner = NULL};
    return RT_OK;
}

const char *ops_node_label(const rt_op_ctx *c)
{
    if (!c->node_label[0])
        graph_node_label(c->graph, c->node_index, c->node_label, RT_OP_LABEL_BYTES);
    return c->node_label;
}

void ops_unbind(rt_op_binding *b)
{
    free(b->in);
    free(b->out);
    b->in = b->out = NULL;
}

static const rt_op_def *def_or_error(const rt_op_ctx *c)
{
    const rt_op_def *d = ops_get(c->node->op);
    if (!d)
        rt_error_set(c->err, RT_ERR_UNKNOWN_OP, "unknown op '%s%s%s' (node %s): no kernel", c->node->domain,
                     c->node->domain[0] ? "." : "", c->node->op_type, ops_node_label(c));
    return d;
}

rt_status ops_infer(rt_op_ctx *c)
{
    const rt_op_def *d = def_or_error(c);
    if (!d)
        return c->err ? c->err->code : RT_ERR_UNKNOWN_OP;
    for (int i = 0; i < c->n_out; i++)
        if (c->out[i])
            c->out[i]->dtype = RT_DT_UNDEFINED; /* recomputed below */
    rt_status s = d->infer(c);
    if (s != RT_OK)
        return s;
    for (int i = 0; i < c->n_out; i++)
        if (c->out[i] && c->out[i]->dtype == RT_DT_UNDEFINED)
            return ops_err(c, RT_ERR_UNSUPPORTED, "output %d ('%s') is not produced by this op", i,
                           c->out[i]->name);
    return RT_OK;
}

/* Every op's first output is required, except the recurrent ops' Y: Y_h (and Y_c) alone is common. */
static bool first_output_optional(int op)
{
    return op == RT_OP_RNN || op == RT_OP_GRU || op == RT_OP_LSTM;
}

rt_status ops_run_kernel(rt_op_ctx *c)
{
    const rt_op_def *d = def_or_error(c);
    if (!d)
        return c->err ? c->err->code : RT_ERR_UNKNOWN_OP;
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i] && !c->in[i]->data)
            return ops_err(c, RT_ERR_NO_DATA, "input %d ('%s') has no data", i, c->in[i]->name);
    bool control = ops_is_control(c->node->op); /* a control-flow kernel sizes its outputs itself */
    bool any_out = false;
    for (int i = 0; i < c->n_out; i++)
        any_out |= c->out[i] != NULL;
    if (!control && (!any_out || (!first_output_optional(c->node->op) && !c->out[0])))
        return ops_err(c, RT_ERR_ARG, "output 0 is missing: the kernel has nothing to compute into");
    for (int i = 0; i < c->n_out && !control; i++)
        if (c->out[i] && !c->out[i]->data)
            return ops_err(c, RT_ERR_NO_DATA, "output %d ('%s') is not allocated", i, c->out[i]->name);
    return d->kernel(c);
}

rt_status ops_cost(const rt_op_ctx *c, rt_cost *cost)
{
    memset(cost, 0, sizeof *cost);
    const rt_op_def *d = def_or_error(c);
    if (!d)
        return c->err ? c->err->code : RT_ERR_UNKNOWN_OP;
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i]) {
            uint64_t b = rt_tensor_nbytes(c->in[i]);
            cost->bytes_in += b;
            if (c->in[i]->kind == RT_TENSOR_CONSTANT)
                cost->bytes_weights += b;
        }
    for (int i = 0; i < c->n_out; i++)
        if (c->out[i])
            cost->bytes_out += rt_tensor_nbytes(c->out[i]);
    return d->cost(c, cost);
}
