/* cpu_norm.c -- CPU reference kernels of the normalisations: LayerNormalization (with its
 * optional Mean/InvStdDev outputs), BatchNormalization (inference), InstanceNormalization (how
 * torch exports GroupNorm below opset 18) and GroupNormalization. Statistics in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_util.h"

rt_status cpu_layernorm(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0], *scale = c->in[1], *bias = ops_has_input(c, 2) ? c->in[2] : NULL;
    rt_tensor *y = c->out[0];
    rt_tensor *mean_out = c->n_out > 1 ? c->out[1] : NULL, *istd_out = c->n_out > 2 ? c->out[2] : NULL;
    int axis;
    rt_status s = ops_axis(c, rt_node_attr_int(c->node, "axis", -1), x->rank, "axis", &axis);
    if (s != RT_OK)
        return s;
    double eps = rt_node_attr_float(c->node, "epsilon", 1e-5f);
    rt_tensor inner = {0};
    inner.rank = x->rank - axis;
    memcpy(inner.dims, x->dims + axis, (size_t)inner.rank * sizeof(int64_t));
    int64_t D = rt_tensor_numel(&inner), rows = D ? rt_tensor_numel(x) / D : 0;
    const rt_tensor *params[2] = {scale, bias};
    for (int k = 0; k < 2; k++) {
        const rt_tensor *p = params[k];
        if (!p)
            continue;
        if (p->rank > inner.rank)
            return ops_err(c, RT_ERR_SHAPE, "'%s' has more dims than the normalised axes", p->name);
        for (int d = 0; d < p->rank; d++) {
            int64_t want = inner.dims[inner.rank - p->rank + d];
            if (p->dims[d] != 1 && p->dims[d] != want)
                return ops_err(c, RT_ERR_SHAPE, "'%s' does not broadcast to the normalised shape", p->name);
        }
    }
    int64_t sstr[RT_MAX_RANK] = {0}, bstr[RT_MAX_RANK] = {0}, istr[RT_MAX_RANK];
    cpu_bcast_strides(scale, inner.rank, inner.dims, sstr);
    if (bias)
        cpu_bcast_strides(bias, inner.rank, inner.dims, bstr);
    cpu_strides(inner.rank, inner.dims, istr);
    for (int64_t r = 0; r < rows; r++) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < D; i++)
            mean += cpu_ld(x->dtype, x->data, r * D + i);
        mean /= (double)D;
        for (int64_t i = 0; i < D; i++) {
            double d = cpu_ld(x->dtype, x->data, r * D + i) - mean;
            var += d * d;
        }
        var /= (double)D;
        double istd = 1.0 / sqrt(var + eps);
        for (int64_t i = 0; i < D; i++) {
            int64_t so = 0, bo = 0, rem = i;
            for (int d = 0; d < inner.rank; d++) {
                int64_t q = rem / istr[d];
                rem %= istr[d];
                so += q * sstr[d];
                bo += q * bstr[d];
            }
            double v = (cpu_ld(x->dtype, x->data, r * D + i) - mean) * istd * cpu_ld(scale->dtype, scale->data, so);
            if (bias)
                v += cpu_ld(bias->dtype, bias->data, bo);
            cpu_st(y->dtype, y->data, r * D + i, v);
        }
        if (mean_out)
            cpu_st(mean_out->dtype, mean_out->data, r, mean);
        if (istd_out)
            cpu_st(istd_out->dtype, istd_out->data, r, istd);
    }
    return RT_OK;
}

static rt_status check_channel_param(const rt_op_ctx *c, int i, int64_t count)
{
    if (rt_tensor_numel(c->in[i]) != count)
        return ops_err(c, RT_ERR_SHAPE, "input %d ('%s') must have %lld entries", i, c->in[i]->name, (long long)count);
    return RT_OK;
}

rt_status cpu_batchnorm(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int64_t C = x->dims[1], N = x->dims[0], sp = rt_tensor_numel(x) / (N * C != 0 ? N * C : 1);
    for (int i = 1; i <= 4; i++) {
        rt_status s = check_channel_param(c, i, C);
        if (s != RT_OK)
            return s;
    }
    double eps = rt_node_attr_float(c->node, "epsilon", 1e-5f);
    const rt_tensor *sc = c->in[1], *b = c->in[2], *mu = c->in[3], *var = c->in[4];
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            double k = cpu_ld(sc->dtype, sc->data, ch) / sqrt(cpu_ld(var->dtype, var->data, ch) + eps);
            double m = cpu_ld(mu->dtype, mu->data, ch), bb = cpu_ld(b->dtype, b->data, ch);
            int64_t base = (n * C + ch) * sp;
            for (int64_t i = 0; i < sp; i++)
                cpu_st(y->dtype, y->data, base + i, (cpu_ld(x->dtype, x->data, base + i) - m) * k + bb);
        }
    return RT_OK;
}

/* Normalise each of `groups` consecutive blocks of `len` elements; the affine parameters are
 * indexed by channel (param_per_channel) or by group. */
static void normalise_blocks(const rt_tensor *x, rt_tensor *y, int64_t blocks, int64_t len, double eps,
                             const rt_tensor *sc, const rt_tensor *b, int64_t C, int64_t groups_per_sample,
                             bool param_per_channel)
{
    int64_t ch_per_group = groups_per_sample ? C / groups_per_sample : 1;
    int64_t sp = ch_per_group ? len / ch_per_group : len;
    for (int64_t blk = 0; blk < blocks; blk++) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < len; i++)
            mean += cpu_ld(x->dtype, x->data, blk * len + i);
        mean /= (double)(len ? len : 1);
        for (int64_t i = 0; i < len; i++) {
            double d = cpu_ld(x->dtype, x->data, blk * len + i) - mean;
            var += d * d;
        }
        var /= (double)(len ? len : 1);
        double istd = 1.0 / sqrt(var + eps);
        int64_t g = blk % groups_per_sample;
        for (int64_t i = 0; i < len; i++) {
            int64_t pi = param_per_channel ? g * ch_per_group + (sp ? i / sp : 0) : g;
            double v = (cpu_ld(x->dtype, x->data, blk * len + i) - mean) * istd;
            v = v * cpu_ld(sc->dtype, sc->data, pi) + cpu_ld(b->dtype, b->data, pi);
            cpu_st(y->dtype, y->data, blk * len + i, v);
        }
    }
}

rt_status cpu_instancenorm(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    if (!ops_has_input(c, 1) || !ops_has_input(c, 2))
        return ops_err(c, RT_ERR_MISSING_INPUT, "scale and B are required");
    if (x->rank < 3)
        return ops_err(c, RT_ERR_SHAPE, "input must have rank >= 3");
    int64_t N = x->dims[0], C = x->dims[1], len = N * C != 0 ? rt_tensor_numel(x) / (N * C) : 0;
    for (int i = 1; i <= 2; i++) {
        rt_status s = check_channel_param(c, i, C);
        if (s != RT_OK)
            return s;
    }
    normalise_blocks(x, c->out[0], N * C, len, rt_node_attr_float(c->node, "epsilon", 1e-5f), c->in[1], c->in[2], C,
                     C, true);
    return RT_OK;
}

rt_status cpu_groupnorm(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    if (!ops_has_input(c, 1) || !ops_has_input(c, 2))
        return ops_err(c, RT_ERR_MISSING_INPUT, "scale and bias are required");
    int64_t G = rt_node_attr_int(c->node, "num_groups", 0);
    int64_t N = x->dims[0], C = x->rank >= 2 ? x->dims[1] : 0;
    if (G < 1 || C % G)
        return ops_err(c, RT_ERR_ATTR, "num_groups %lld must divide the %lld channels", (long long)G, (long long)C);
    int64_t ns = rt_tensor_numel(c->in[1]);
    bool per_channel = ns == C;
    if (!per_channel && ns != G)
        return ops_err(c, RT_ERR_SHAPE, "scale must have one value per channel (%lld) or per group (%lld)",
                       (long long)C, (long long)G);
    if (rt_tensor_numel(c->in[2]) != ns)
        return ops_err(c, RT_ERR_SHAPE, "bias must have as many values as scale");
    int64_t len = N * G != 0 ? rt_tensor_numel(x) / (N * G) : 0;
    normalise_blocks(x, c->out[0], N * G, len, rt_node_attr_float(c->node, "epsilon", 1e-5f), c->in[1], c->in[2], C, G,
                     per_channel);
    return RT_OK;
}
