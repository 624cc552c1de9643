/* cpu_reduce.c -- CPU reference kernels of the Reduce* family (axes from the attribute or,
 * from opset 13/18, the input; keepdims; noop_with_empty_axes), ArgMax/ArgMin and CumSum. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_util.h"
#include "ops_geom.h"

rt_status cpu_reduce(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int op = c->node->op;
    int64_t axes[RT_MAX_RANK + 1];
    int na;
    bool present;
    rt_status s = ops_axes(c, 1, op == RT_OP_ReduceSum ? 13 : 18, axes, &na, &present);
    if (s != RT_OK)
        return s;
    bool red[RT_MAX_RANK] = {false};
    int r = x->rank;
    if (na == 0) {
        if (rt_node_attr_int(c->node, "noop_with_empty_axes", 0)) {
            memcpy(y->data, x->data, x->data_bytes);
            return RT_OK;
        }
        for (int i = 0; i < r; i++)
            red[i] = true;
    }
    for (int i = 0; i < na; i++) {
        int a;
        if ((s = ops_axis(c, axes[i], r, "axes entry", &a)) != RT_OK)
            return s;
        red[a] = true;
    }
    /* output strides over the input's dims (0 on reduced axes) */
    int64_t ostr[RT_MAX_RANK], acc_n = 1;
    for (int d = r - 1; d >= 0; d--) {
        ostr[d] = red[d] ? 0 : acc_n;
        if (!red[d])
            acc_n *= x->dims[d];
    }
    int64_t nout = rt_tensor_numel(y), nin = rt_tensor_numel(x);
    double *acc = malloc((size_t)(nout ? nout : 1) * sizeof *acc);
    if (!acc)
        return ops_err(c, RT_ERR_NOMEM, "out of memory");
    double init = op == RT_OP_ReduceMax ? -INFINITY : op == RT_OP_ReduceMin ? INFINITY : op == RT_OP_ReduceProd ? 1 : 0;
    for (int64_t i = 0; i < nout; i++)
        acc[i] = init;
    int64_t idx[RT_MAX_RANK] = {0}, off = 0;
    for (int64_t i = 0; i < nin; i++) {
        double v = cpu_ld(x->dtype, x->data, i);
        double *a = &acc[off];
        switch (op) {
        case RT_OP_ReduceMax: *a = (v > *a || isnan(v)) ? v : *a; break;
        case RT_OP_ReduceMin: *a = (v < *a || isnan(v)) ? v : *a; break;
        case RT_OP_ReduceProd: *a *= v; break;
        case RT_OP_ReduceL1: *a += fabs(v); break;
        case RT_OP_ReduceL2: case RT_OP_ReduceSumSquare: *a += v * v; break;
        case RT_OP_ReduceLogSumExp: *a += exp(v); break;
        default: *a += v; break; /* Sum, Mean, LogSum */
        }
        for (int d = r - 1; d >= 0; d--) { /* advance the multi-index */
            idx[d]++;
            off += ostr[d];
            if (idx[d] < x->dims[d])
                break;
            off -= ostr[d] * x->dims[d];
            idx[d] = 0;
        }
    }
    double count = nout ? (double)nin / (double)nout : 0;
    for (int64_t i = 0; i < nout; i++) {
        double v = acc[i];
        switch (op) {
        case RT_OP_ReduceMean: v = count ? v / count : NAN; break;
        case RT_OP_ReduceL2: v = sqrt(v); break;
        case RT_OP_ReduceLogSum: case RT_OP_ReduceLogSumExp: v = log(v); break;
        default: break;
        }
        cpu_st(y->dtype, y->data, i, v);
    }
    free(acc);
    return RT_OK;
}

rt_status cpu_argreduce(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int axis;
    rt_status s = ops_axis(c, rt_node_attr_int(c->node, "axis", 0), x->rank, "axis", &axis);
    if (s != RT_OK)
        return s;
    bool last = rt_node_attr_int(c->node, "select_last_index", 0) != 0;
    bool is_max = c->node->op == RT_OP_ArgMax;
    int64_t outer = 1, len = x->dims[axis], inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++)
        inner *= x->dims[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double best = 0;
            int64_t at = 0;
            for (int64_t i = 0; i < len; i++) {
                double v = cpu_ld(x->dtype, x->data, (o * len + i) * inner + in);
                bool better = i == 0 || (is_max ? (v > best || (last && v == best)) : (v < best || (last && v == best)));
                if (better) {
                    best = v;
                    at = i;
                }
            }
            cpu_sti(y->dtype, y->data, o * inner + in, at);
        }
    return RT_OK;
}

rt_status cpu_cumsum(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    rt_status s = ops_need_input(c, 1, true);
    if (s != RT_OK)
        return s;
    if (rt_tensor_numel(c->in[1]) != 1)
        return ops_err(c, RT_ERR_SHAPE, "axis must be a scalar");
    int axis;
    if ((s = ops_axis(c, rt_tensor_get_i64(c->in[1], 0), x->rank, "axis", &axis)) != RT_OK)
        return s;
    bool excl = rt_node_attr_int(c->node, "exclusive", 0) != 0, rev = rt_node_attr_int(c->node, "reverse", 0) != 0;
    int64_t outer = 1, len = x->dims[axis], inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++)
        inner *= x->dims[d];
    bool is_f = rt_dtype_is_float(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double facc = 0;
            int64_t iacc = 0;
            for (int64_t k = 0; k < len; k++) {
                int64_t i = rev ? len - 1 - k : k, at = (o * len + i) * inner + in;
                double fv = is_f ? cpu_ld(x->dtype, x->data, at) : 0;
                int64_t iv = is_f ? 0 : cpu_ldi(x->dtype, x->data, at);
                if (!excl) {
                    facc += fv;
                    iacc = (int64_t)((uint64_t)iacc + (uint64_t)iv);
                }
                if (is_f)
                    cpu_st(y->dtype, y->data, at, facc);
                else
                    cpu_sti(y->dtype, y->data, at, iacc);
                if (excl) {
                    facc += fv;
                    iacc = (int64_t)((uint64_t)iacc + (uint64_t)iv);
                }
            }
        }
    return RT_OK;
}
