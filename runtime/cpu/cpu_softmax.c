/* cpu_softmax.c -- CPU reference kernels of Softmax, LogSoftmax and Hardmax, with the opset
 * rule change: before opset 13 the input is coerced to 2-D at `axis` (default 1) and the
 * softmax runs over the flattened tail; from 13 on it runs over the single `axis` (default -1). */
#include <math.h>

#include "cpu_util.h"

rt_status cpu_softmax(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int r = x->rank;
    bool legacy = c->opset < 13;
    int axis;
    rt_status s = ops_axis(c, rt_node_attr_int(c->node, "axis", legacy ? 1 : -1), r, "axis", &axis);
    if (s != RT_OK)
        return s;
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < r; d++) {
        if (d < axis)
            outer *= x->dims[d];
        else if (d == axis || legacy)
            len *= x->dims[d];
        else
            inner *= x->dims[d];
    }
    int op = c->node->op;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * len * inner + in;
            double mx = -INFINITY;
            int64_t arg = 0;
            for (int64_t i = 0; i < len; i++) {
                double v = cpu_ld(x->dtype, x->data, base + i * inner);
                if (v > mx) {
                    mx = v;
                    arg = i;
                }
            }
            if (op == RT_OP_Hardmax) {
                for (int64_t i = 0; i < len; i++)
                    cpu_st(y->dtype, y->data, base + i * inner, i == arg ? 1.0 : 0.0);
                continue;
            }
            double sum = 0;
            for (int64_t i = 0; i < len; i++)
                sum += exp(cpu_ld(x->dtype, x->data, base + i * inner) - mx);
            double lsum = log(sum);
            for (int64_t i = 0; i < len; i++) {
                double d = cpu_ld(x->dtype, x->data, base + i * inner) - mx;
                cpu_st(y->dtype, y->data, base + i * inner, op == RT_OP_LogSoftmax ? d - lsum : exp(d) / sum);
            }
        }
    return RT_OK;
}
