/* ops_infer_elementwise.c -- output type and shape of elementwise, comparison, casting and
 * quantisation ops: the same shape as the input, or the numpy broadcast of the inputs. */
#include <string.h>

#include "ops_impl.h"

rt_status infer_same(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    if (c->node->op == RT_OP_BatchNormalization || c->node->op == RT_OP_GroupNormalization ||
        c->node->op == RT_OP_InstanceNormalization || c->node->op == RT_OP_Softmax ||
        c->node->op == RT_OP_LogSoftmax || c->node->op == RT_OP_Hardmax || c->node->op == RT_OP_CumSum) {
        if (c->in[0]->rank == 0 && c->node->op != RT_OP_CumSum)
            return ops_err(c, RT_ERR_SHAPE, "input must have rank >= 1");
    }
    return ops_same_as_input(c, 0, 0);
}

rt_status infer_unary(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    rt_dtype t = c->in[0]->dtype;
    if (c->node->op == RT_OP_Not && t != RT_DT_BOOL)
        return ops_err(c, RT_ERR_DTYPE, "Not needs a bool input, got %s", rt_dtype_name(t));
    return ops_same_as_input(c, 0, 0);
}

rt_status infer_unary_bool(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    return ops_set_output(c, 0, RT_DT_BOOL, c->in[0]->rank, c->in[0]->dims);
}

static rt_status broadcast_out(rt_op_ctx *c, int first, int count, rt_dtype dt)
{
    int rank;
    int64_t dims[RT_MAX_RANK];
    rt_status s = ops_broadcast(c, count, (const rt_tensor *const *)c->in + first, &rank, dims);
    if (s != RT_OK)
        return s;
    return ops_set_output(c, 0, dt, rank, dims);
}

rt_status infer_binary(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    rt_dtype a = c->in[0]->dtype, b = c->in[1]->dtype;
    int op = c->node->op;
    bool logical = op == RT_OP_And || op == RT_OP_Or || op == RT_OP_Xor;
    if (logical && (a != RT_DT_BOOL || b != RT_DT_BOOL))
        return ops_err(c, RT_ERR_DTYPE, "logical ops need bool inputs");
    if (op != RT_OP_Pow && a != b)
        return ops_err(c, RT_ERR_DTYPE, "input types differ (%s and %s)", rt_dtype_name(a), rt_dtype_name(b));
    if (op == RT_OP_PRelu) {
        /* slope broadcasts to X (unidirectionally) */
        rt_status s = broadcast_out(c, 0, 2, a);
        if (s == RT_OK && c->out[0] && c->out[0]->rank != c->in[0]->rank && c->in[0]->rank >= 0)
            return ops_err(c, RT_ERR_SHAPE, "slope does not broadcast to X");
        return s;
    }
    return broadcast_out(c, 0, 2, a);
}

rt_status infer_compare(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    if (c->in[0]->dtype != c->in[1]->dtype)
        return ops_err(c, RT_ERR_DTYPE, "input types differ (%s and %s)", rt_dtype_name(c->in[0]->dtype),
                       rt_dtype_name(c->in[1]->dtype));
    return broadcast_out(c, 0, 2, RT_DT_BOOL);
}

rt_status infer_variadic(rt_op_ctx *c)
{
    if (c->n_in < 1)
        return ops_err(c, RT_ERR_MISSING_INPUT, "needs at least one input");
    for (int i = 0; i < c->n_in; i++) {
        rt_status s = ops_need_typed(c, i);
        if (s != RT_OK)
            return s;
        if (c->in[i]->dtype != c->in[0]->dtype)
            return ops_err(c, RT_ERR_DTYPE, "input types differ");
    }
    return broadcast_out(c, 0, c->n_in, c->in[0]->dtype);
}

rt_status infer_where(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 3);
    if (s != RT_OK)
        return s;
    if (c->in[0]->dtype != RT_DT_BOOL)
        return ops_err(c, RT_ERR_DTYPE, "condition must be bool, got %s", rt_dtype_name(c->in[0]->dtype));
    if (c->in[1]->dtype != c->in[2]->dtype)
        return ops_err(c, RT_ERR_DTYPE, "X and Y types differ");
    return broadcast_out(c, 0, 3, c->in[1]->dtype);
}

rt_status infer_cast(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    int to;
    if (c->node->op == RT_OP_CastLike) {
        if ((s = ops_need_typed(c, 1)) != RT_OK)
            return s;
        to = (int)c->in[1]->dtype;
    } else {
        if (!rt_node_attr(c->node, "to"))
            return ops_err(c, RT_ERR_ATTR, "attribute 'to' is required");
        to = (int)rt_node_attr_int(c->node, "to", 0);
    }
    if (!rt_dtype_storable(to) || to == RT_DT_I4)
        return ops_err(c, RT_ERR_DTYPE, "cannot cast to data type %d (%s)", to, rt_dtype_name((rt_dtype)to));
    if (!rt_dtype_storable(c->in[0]->dtype))
        return ops_err(c, RT_ERR_DTYPE, "cannot cast from %s", rt_dtype_name(c->in[0]->dtype));
    return ops_set_output(c, 0, (rt_dtype)to, c->in[0]->rank, c->in[0]->dims);
}

rt_status infer_dropout(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    if (rt_node_attr_int(c->node, "is_test", 1) == 0 && c->opset < 7)
        return ops_err(c, RT_ERR_UNSUPPORTED, "training-mode dropout is not supported");
    if (ops_has_input(c, 2)) {
        const rt_tensor *tm = c->in[2];
        if (!tm->data)
            return ops_err(c, RT_ERR_NO_DATA, "training_mode input must be a constant");
        if (rt_tensor_get_i64(tm, 0))
            return ops_err(c, RT_ERR_UNSUPPORTED, "training-mode dropout is not supported (random)");
    }
    s = ops_same_as_input(c, 0, 0);
    if (s == RT_OK)
        s = ops_set_output(c, 1, RT_DT_BOOL, c->in[0]->rank, c->in[0]->dims);
    return s;
}

rt_status infer_quantize(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    rt_dtype out = ops_has_input(c, 2) ? c->in[2]->dtype : RT_DT_U8;
    if (out != RT_DT_U8 && out != RT_DT_I8)
        return ops_err(c, RT_ERR_DTYPE, "quantising to %s is not supported (u8, i8)", rt_dtype_name(out));
    return ops_set_output(c, 0, out, c->in[0]->rank, c->in[0]->dims);
}

rt_status infer_dequantize(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    rt_dtype out = rt_dtype_is_float(c->in[1]->dtype) ? c->in[1]->dtype : RT_DT_F32;
    return ops_set_output(c, 0, out, c->in[0]->rank, c->in[0]->dims);
}

rt_status infer_dynquant(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    s = ops_set_output(c, 0, RT_DT_U8, c->in[0]->rank, c->in[0]->dims);
    if (s == RT_OK)
        s = ops_set_output(c, 1, RT_DT_F32, 0, NULL);
    if (s == RT_OK)
        s = ops_set_output(c, 2, RT_DT_U8, 0, NULL);
    return s;
}
