/* ops_cost.c -- FLOP and MAC counts per op from shapes alone (no data), so reports can give
 * "FLOPs of a module" for a graph whose weights were never materialised.
 *
 * Conventions (docs/ops.md): MatMul/Gemm/Conv/ConvTranspose count MACs, and flops = 2*MACs
 * (+ one per output for a bias). Elementwise ops count one flop per output element.
 * Normalisations count NORM_FLOPS_PER_ELEMENT per input element, softmax
 * SOFTMAX_FLOPS_PER_ELEMENT, reductions and pooling one per input element read (pooling: per
 * window tap). Pure data movement counts no flops (its cost is in bytes_in/bytes_out). */
#include <string.h>

#include "ops_geom.h"
#include "ops_impl.h"

/* mean, subtract, square, sum, rsqrt share, scale, shift: ~8 operations per element */
#define NORM_FLOPS_PER_ELEMENT 8.0
/* max, subtract, exp, sum, divide */
#define SOFTMAX_FLOPS_PER_ELEMENT 5.0
/* a recurrent gate element: bias adds, activation, and its share of the state update */
#define RNN_FLOPS_PER_GATE_ELEMENT 6.0
/* QLinearConv output: scale, add the zero point, round, clamp */
#define REQUANT_FLOPS_PER_ELEMENT 4.0

static rt_status out_numel(const rt_op_ctx *c, int i, double *n)
{
    const rt_tensor *t = i < c->n_out ? c->out[i] : NULL;
    int64_t e = t ? rt_tensor_numel(t) : -1;
    if (e < 0)
        return ops_err(c, RT_ERR_SHAPE, "cannot cost: shape of output %d is not known (run shape inference)", i);
    *n = (double)e;
    return RT_OK;
}

static rt_status in_numel(const rt_op_ctx *c, int i, double *n)
{
    const rt_tensor *t = ops_has_input(c, i) ? c->in[i] : NULL;
    int64_t e = t ? rt_tensor_numel(t) : -1;
    if (e < 0)
        return ops_err(c, RT_ERR_SHAPE, "cannot cost: shape of input %d is not known (run shape inference)", i);
    *n = (double)e;
    return RT_OK;
}

rt_status cost_none(const rt_op_ctx *c, rt_cost *o)
{
    (void)c;
    (void)o;
    return RT_OK;
}

rt_status cost_move(const rt_op_ctx *c, rt_cost *o)
{
    (void)c;
    (void)o;
    return RT_OK;
}

rt_status cost_elementwise(const rt_op_ctx *c, rt_cost *o)
{
    double n = 0;
    rt_status s = out_numel(c, 0, &n);
    if (s == RT_OK)
        o->flops += n;
    return s;
}

rt_status cost_matmul(const rt_op_ctx *c, rt_cost *o)
{
    const rt_tensor *a = c->in[0];
    double out = 0;
    rt_status s = out_numel(c, 0, &out);
    if (s != RT_OK)
        return s;
    if (!a || a->rank < 1 || a->dims[a->rank - 1] < 0)
        return ops_err(c, RT_ERR_SHAPE, "cannot cost: inner dimension not known");
    o->macs += out * (double)a->dims[a->rank - 1];
    o->flops += 2.0 * o->macs;
    return RT_OK;
}

rt_status cost_gemm(const rt_op_ctx *c, rt_cost *o)
{
    const rt_tensor *a = c->in[0];
    double out = 0;
    rt_status s = out_numel(c, 0, &out);
    if (s != RT_OK)
        return s;
    bool ta = rt_node_attr_int(c->node, "transA", 0);
    if (!a || a->rank != 2 || a->dims[ta ? 0 : 1] < 0)
        return ops_err(c, RT_ERR_SHAPE, "cannot cost: inner dimension not known");
    o->macs += out * (double)a->dims[ta ? 0 : 1];
    o->flops += 2.0 * o->macs + (ops_has_input(c, 2) ? out : 0);
    return RT_OK;
}

static double kernel_taps(const rt_tensor *w)
{
    double k = 1;
    for (int i = 2; i < w->rank; i++)
        k *= (double)w->dims[i];
    return k;
}

/* Conv-shaped: each output element takes (Cin/group) * prod(kernel) MACs; W (input w_index)
 * is [Cout, Cin/group, k...]. */
static rt_status conv_macs(const rt_op_ctx *c, int w_index, int bias_index, rt_cost *o)
{
    const rt_tensor *w = ops_has_input(c, w_index) ? c->in[w_index] : NULL;
    double out = 0;
    rt_status s = out_numel(c, 0, &out);
    if (s != RT_OK)
        return s;
    if (!w || !rt_tensor_shape_known(w))
        return ops_err(c, RT_ERR_SHAPE, "cannot cost: weight shape not known");
    o->macs += out * (double)w->dims[1] * kernel_taps(w);
    o->flops += 2.0 * o->macs + (bias_index >= 0 && ops_has_input(c, bias_index) ? out : 0);
    return RT_OK;
}

rt_status cost_conv(const rt_op_ctx *c, rt_cost *o)
{
    return conv_macs(c, 1, c->node->op == RT_OP_ConvInteger ? -1 : 2, o);
}

/* QLinearConv: W is input 3, the bias input 8; plus the requantisation of every output. */
rt_status cost_qlinearconv(const rt_op_ctx *c, rt_cost *o)
{
    rt_status s = conv_macs(c, 3, 8, o);
    double out = 0;
    if (s == RT_OK && (s = out_numel(c, 0, &out)) == RT_OK)
        o->flops += REQUANT_FLOPS_PER_ELEMENT * out;
    return s;
}

/* LSTM / GRU / RNN: per direction, step and sequence, the input and recurrent projections
 * (gates * hidden * (input + hidden) MACs) and the gate arithmetic. */
rt_status cost_rnn(const rt_op_ctx *c, rt_cost *o)
{
    ops_rnn r;
    rt_status s = ops_rnn_params(c, &r);
    if (s != RT_OK)
        return s;
    if (r.seq < 0 || r.batch < 0 || r.input < 0 || r.hidden < 0)
        return ops_err(c, RT_ERR_SHAPE, "cannot cost: sequence, batch, input or hidden size not known");
    double gate_elems = (double)r.dirs * (double)r.seq * (double)r.batch * (double)(r.gates * r.hidden);
    o->macs += gate_elems * (double)(r.input + r.hidden);
    o->flops += 2.0 * o->macs + RNN_FLOPS_PER_GATE_ELEMENT * gate_elems;
    return RT_OK;
}

rt_status cost_convtranspose(const rt_op_ctx *c, rt_cost *o)
{
    const rt_tensor *w = c->in[1];
    double in = 0, out = 0;
    rt_status s = in_numel(c, 0, &in);
    if (s == RT_OK)
        s = out_numel(c, 0, &out);
    if (s != RT_OK)
        return s;
    if (!w || !rt_tensor_shape_known(w))
        return ops_err(c, RT_ERR_SHAPE, "cannot cost: weight shape not known");
    /* each input element scatters into (Cout/group) * prod(kernel) outputs; W is [Cin, Cout/group, k...] */
    o->macs += in * (double)w->dims[1] * kernel_taps(w);
    o->flops += 2.0 * o->macs + (ops_has_input(c, 2) ? out : 0);
    return RT_OK;
}

rt_status cost_pool(const rt_op_ctx *c, rt_cost *o)
{
    double out = 0;
    rt_status s = out_numel(c, 0, &out);
    if (s != RT_OK)
        return s;
    const int64_t *ks;
    size_t nk = rt_node_attr_ints(c->node, "kernel_shape", &ks);
    double taps = 1;
    for (size_t i = 0; i < nk; i++)
        taps *= (double)ks[i];
    o->flops += out * taps;
    return RT_OK;
}

rt_status cost_norm(const rt_op_ctx *c, rt_cost *o)
{
    double n = 0;
    rt_status s = in_numel(c, 0, &n);
    if (s == RT_OK)
        o->flops += NORM_FLOPS_PER_ELEMENT * n;
    return s;
}

rt_status cost_softmax(const rt_op_ctx *c, rt_cost *o)
{
    double n = 0;
    rt_status s = in_numel(c, 0, &n);
    if (s == RT_OK)
        o->flops += SOFTMAX_FLOPS_PER_ELEMENT * n;
    return s;
}

rt_status cost_reduce(const rt_op_ctx *c, rt_cost *o)
{
    double n = 0;
    rt_status s = in_numel(c, 0, &n);
    if (s == RT_OK)
        o->flops += n;
    return s;
}

rt_status cost_resize(const rt_op_ctx *c, rt_cost *o)
{
    double out = 0;
    rt_status s = out_numel(c, 0, &out);
    if (s != RT_OK)
        return s;
    const char *mode = rt_node_attr_string(c->node, "mode", "nearest");
    int r = c->in[0]->rank;
    double taps = 1;
    int resized = 0;
    for (int i = 0; i < r; i++)
        if (c->in[0]->dims[i] != c->out[0]->dims[i])
            resized++;
    if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0)
        taps = (double)(1 << resized);
    else if (strcmp(mode, "cubic") == 0)
        taps = (double)(1 << (2 * resized));
    o->flops += out * (taps > 1 ? 2 * taps : 0); /* a multiply and an add per tap; nearest is a copy */
    return RT_OK;
}
