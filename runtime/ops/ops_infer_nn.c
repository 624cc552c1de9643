/* ops_infer_nn.c -- output type and shape of the compute-heavy ops: MatMul/Gemm, Conv,
 * ConvTranspose, pooling, normalisations, reductions and Resize. */
#include <string.h>

#include "ops_geom.h"
#include "ops_impl.h"

static rt_status matmul_shape(const rt_op_ctx *c, const rt_tensor *a, const rt_tensor *b, int *rank, int64_t *dims)
{
    if (a->rank < 0 || b->rank < 0) {
        *rank = -1;
        return RT_OK;
    }
    if (a->rank == 0 || b->rank == 0)
        return ops_err(c, RT_ERR_SHAPE, "MatMul inputs must have rank >= 1");
    rt_tensor a2, b2;
    ops_matmul_promote(a, b, &a2, &b2);
    int64_t ka = a2.dims[a2.rank - 1], kb = b2.dims[b2.rank - 2];
    if (ka >= 0 && kb >= 0 && ka != kb) {
        char s1[96], s2[96];
        return ops_err(c, RT_ERR_SHAPE, "inner dimensions differ: '%s' %s x '%s' %s", a->name,
                       rt_shape_str(a, s1, sizeof s1), b->name, rt_shape_str(b, s2, sizeof s2));
    }
    /* broadcast the batch dims */
    rt_tensor ba = a2, bb = b2;
    ba.rank -= 2;
    bb.rank -= 2;
    const rt_tensor *pair[2] = {&ba, &bb};
    int r;
    rt_status s = ops_broadcast(c, 2, pair, &r, dims);
    if (s != RT_OK)
        return s;
    dims[r] = a2.dims[a2.rank - 2];
    dims[r + 1] = b2.dims[b2.rank - 1];
    r += 2;
    if (a->rank == 1) { /* drop the promoted M */
        dims[r - 2] = dims[r - 1];
        r--;
    }
    if (b->rank == 1)
        r--;
    if (r > RT_MAX_RANK)
        return ops_err(c, RT_ERR_LIMIT, "result rank too large");
    *rank = r;
    return RT_OK;
}

static bool is_8bit(rt_dtype t)
{
    return t == RT_DT_U8 || t == RT_DT_I8;
}

/* The integer operators' zero points: each present input zp[k] has the type of input of[k]
 * (ONNX: "same type as"); a u64 zero point of a u8 operand would reach the kernel's arithmetic. */
static rt_status zero_points_typed(const rt_op_ctx *c, const int *zp, const int *of, int n)
{
    for (int k = 0; k < n; k++) {
        if (!ops_has_input(c, zp[k]))
            continue;
        rt_status s = ops_need_typed(c, zp[k]);
        if (s != RT_OK)
            return s;
        rt_dtype want = c->in[of[k]]->dtype, got = c->in[zp[k]]->dtype;
        if (got != want)
            return ops_err(c, RT_ERR_DTYPE, "input %d ('%s') is the zero point of input %d and must be %s (got %s)",
                           zp[k], c->in[zp[k]]->name, of[k], rt_dtype_name(want), rt_dtype_name(got));
    }
    return RT_OK;
}

rt_status infer_matmul(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    int rank = -1;
    int64_t dims[RT_MAX_RANK + 2];
    s = matmul_shape(c, c->in[0], c->in[1], &rank, dims);
    if (s != RT_OK)
        return s;
    rt_dtype dt = c->in[0]->dtype;
    if (c->node->op == RT_OP_MatMulInteger) {
        if (!is_8bit(dt) || !is_8bit(c->in[1]->dtype))
            return ops_err(c, RT_ERR_DTYPE, "MatMulInteger needs u8/i8 inputs");
        if ((s = zero_points_typed(c, (const int[]){2, 3}, (const int[]){0, 1}, 2)) != RT_OK)
            return s;
        dt = RT_DT_I32;
    } else if (c->in[1]->dtype != dt) {
        return ops_err(c, RT_ERR_DTYPE, "input types differ (%s and %s)", rt_dtype_name(dt),
                       rt_dtype_name(c->in[1]->dtype));
    }
    return ops_set_output(c, 0, dt, rank, dims);
}

rt_status infer_qlinearmatmul(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 8);
    if (s != RT_OK)
        return s;
    int rank = -1;
    int64_t dims[RT_MAX_RANK + 2];
    s = matmul_shape(c, c->in[0], c->in[3], &rank, dims);
    if (s != RT_OK)
        return s;
    if (!is_8bit(c->in[0]->dtype) || !is_8bit(c->in[3]->dtype) || !is_8bit(c->in[7]->dtype))
        return ops_err(c, RT_ERR_DTYPE, "a, b and y_zero_point must be u8 or i8 (got %s, %s and %s)",
                       rt_dtype_name(c->in[0]->dtype), rt_dtype_name(c->in[3]->dtype), rt_dtype_name(c->in[7]->dtype));
    if ((s = zero_points_typed(c, (const int[]){2, 5}, (const int[]){0, 3}, 2)) != RT_OK)
        return s;
    return ops_set_output(c, 0, c->in[7]->dtype, rank, dims);
}

rt_status infer_gemm(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    const rt_tensor *a = c->in[0], *b = c->in[1];
    if ((a->rank >= 0 && a->rank != 2) || (b->rank >= 0 && b->rank != 2))
        return ops_err(c, RT_ERR_SHAPE, "Gemm needs 2-D A and B");
    bool ta = rt_node_attr_int(c->node, "transA", 0), tb = rt_node_attr_int(c->node, "transB", 0);
    int64_t m = a->rank < 0 ? -1 : a->dims[ta ? 1 : 0], ka = a->rank < 0 ? -1 : a->dims[ta ? 0 : 1];
    int64_t kb = b->rank < 0 ? -1 : b->dims[tb ? 1 : 0], n = b->rank < 0 ? -1 : b->dims[tb ? 0 : 1];
    if (ka >= 0 && kb >= 0 && ka != kb)
        return ops_err(c, RT_ERR_SHAPE, "inner dimensions differ (%lld and %lld)", (long long)ka, (long long)kb);
    int64_t dims[2] = {m, n};
    return ops_set_output(c, 0, a->dtype, 2, dims);
}

/* Where a convolution's operands are: Conv/ConvTranspose (X, W, B), ConvInteger (X, W, no
 * bias), QLinearConv (X at 0, W at 3, B at 8, output type of y_zero_point at 7). */
typedef struct conv_operands {
    bool transpose, integer;
    int x, w, bias;
    rt_dtype out_dtype; /* RT_DT_UNDEFINED: X's type */
} conv_operands;

static rt_status conv_like(rt_op_ctx *c, const conv_operands *ops)
{
    bool transpose = ops->transpose;
    rt_status s = ops_need_typed(c, ops->x);
    if (s == RT_OK)
        s = ops_need_typed(c, ops->w);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[ops->x], *w = c->in[ops->w];
    rt_dtype out_dt = ops->out_dtype != RT_DT_UNDEFINED ? ops->out_dtype : x->dtype;
    if (ops->integer ? !is_8bit(x->dtype) || !is_8bit(w->dtype) : x->dtype != w->dtype)
        return ops_err(c, RT_ERR_DTYPE, ops->integer ? "X and W must be u8 or i8 (got %s and %s)"
                                                     : "X and W types differ (%s and %s)",
                       rt_dtype_name(x->dtype), rt_dtype_name(w->dtype));
    if (!ops->integer && !rt_dtype_is_float(x->dtype))
        return ops_err(c, RT_ERR_DTYPE, "X must be a float type (got %s)", rt_dtype_name(x->dtype));
    if (x->rank < 0 || w->rank < 0)
        return ops_set_output(c, 0, out_dt, -1, NULL);
    if (x->rank < 3 || w->rank != x->rank)
        return ops_err(c, RT_ERR_SHAPE, "X (rank %d) and W (rank %d) must have the same rank >= 3", x->rank, w->rank);
    int nsp = x->rank - 2;
    int64_t group = rt_node_attr_int(c->node, "group", 1);
    if (group < 1)
        return ops_err(c, RT_ERR_ATTR, "group %lld must be >= 1", (long long)group);
    int64_t k[RT_MAX_RANK];
    const int64_t *ks;
    size_t nk = rt_node_attr_ints(c->node, "kernel_shape", &ks);
    if (nk && nk != (size_t)nsp)
        return ops_err(c, RT_ERR_ATTR, "kernel_shape has %zu values; X has %d spatial dims", nk, nsp);
    for (int i = 0; i < nsp; i++) {
        /* the kernels take the window from W: a kernel_shape that says otherwise is an error */
        if (nk && w->dims[2 + i] >= 0 && ks[i] != w->dims[2 + i])
            return ops_err(c, RT_ERR_ATTR, "kernel_shape[%d] = %lld, but W's spatial dim %d is %lld", i,
                           (long long)ks[i], i, (long long)w->dims[2 + i]);
        k[i] = nk ? ks[i] : w->dims[2 + i];
    }
    for (int i = 0; i < nsp; i++)
        if (k[i] < 0)
            return ops_set_output(c, 0, out_dt, -1, NULL);
    ops_window win;
    s = transpose ? ops_window_transpose(c, nsp, x->dims + 2, k, &win)
                            : ops_window_forward(c, nsp, x->dims + 2, k, false, &win);
    if (s != RT_OK)
        return s;
    int64_t dims[RT_MAX_RANK];
    dims[0] = x->dims[0];
    int64_t cin = x->dims[1];
    if (!transpose) {
        dims[1] = w->dims[0];
        if (cin >= 0 && w->dims[1] >= 0 && cin != w->dims[1] * group)
            return ops_err(c, RT_ERR_SHAPE, "X has %lld channels, W expects %lld x group %lld", (long long)cin,
                           (long long)w->dims[1], (long long)group);
        if (w->dims[0] >= 0 && w->dims[0] % group)
            return ops_err(c, RT_ERR_SHAPE, "output channels %lld not divisible by group %lld",
                           (long long)w->dims[0], (long long)group);
    } else {
        dims[1] = w->dims[1] < 0 ? -1 : w->dims[1] * group;
        if (cin >= 0 && w->dims[0] >= 0 && cin != w->dims[0])
            return ops_err(c, RT_ERR_SHAPE, "X has %lld channels, W has %lld", (long long)cin, (long long)w->dims[0]);
    }
    const rt_tensor *b = ops->bias >= 0 && ops_has_input(c, ops->bias) ? c->in[ops->bias] : NULL;
    if (b && b->rank >= 0 && (b->rank != 1 || (dims[1] >= 0 && b->dims[0] >= 0 && b->dims[0] != dims[1])))
        return ops_err(c, RT_ERR_SHAPE, "bias must be 1-D with one value per output channel");
    for (int i = 0; i < nsp; i++)
        dims[2 + i] = win.out[i];
    return ops_set_output(c, 0, out_dt, x->rank, dims);
}

rt_status infer_conv(rt_op_ctx *c)
{
    const conv_operands ops = {.x = 0, .w = 1, .bias = 2};
    return conv_like(c, &ops);
}

rt_status infer_conv_integer(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s == RT_OK)
        s = zero_points_typed(c, (const int[]){2, 3}, (const int[]){0, 1}, 2);
    if (s != RT_OK)
        return s;
    const conv_operands ops = {.integer = true, .x = 0, .w = 1, .bias = -1, .out_dtype = RT_DT_I32};
    return conv_like(c, &ops);
}

rt_status infer_qlinearconv(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 8);
    if (s != RT_OK)
        return s;
    if (!is_8bit(c->in[7]->dtype))
        return ops_err(c, RT_ERR_DTYPE, "y_zero_point must be u8 or i8 (got %s)", rt_dtype_name(c->in[7]->dtype));
    if (ops_has_input(c, 8) && c->in[8]->dtype != RT_DT_I32)
        return ops_err(c, RT_ERR_DTYPE, "B must be i32 (got %s)", rt_dtype_name(c->in[8]->dtype));
    if ((s = zero_points_typed(c, (const int[]){2, 5}, (const int[]){0, 3}, 2)) != RT_OK)
        return s;
    const conv_operands ops = {.integer = true, .x = 0, .w = 3, .bias = 8, .out_dtype = c->in[7]->dtype};
    return conv_like(c, &ops);
}

rt_status infer_convtranspose(rt_op_ctx *c)
{
    const conv_operands ops = {.transpose = true, .x = 0, .w = 1, .bias = 2};
    return conv_like(c, &ops);
}

rt_status infer_pool(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    if (x->rank < 3)
        return ops_err(c, RT_ERR_SHAPE, "input must have rank >= 3 (N, C, spatial...)");
    int nsp = x->rank - 2;
    const int64_t *ks;
    if ((int)rt_node_attr_ints(c->node, "kernel_shape", &ks) != nsp)
        return ops_err(c, RT_ERR_ATTR, "kernel_shape must have %d values", nsp);
    ops_window w;
    if ((s = ops_window_forward(c, nsp, x->dims + 2, ks, true, &w)) != RT_OK)
        return s;
    int64_t dims[RT_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < nsp; i++)
        dims[2 + i] = w.out[i];
    s = ops_set_output(c, 0, x->dtype, x->rank, dims);
    if (s == RT_OK && c->node->op == RT_OP_MaxPool)
        s = ops_set_output(c, 1, RT_DT_I64, x->rank, dims);
    return s;
}

rt_status infer_global_pool(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    if (x->rank < 3)
        return ops_err(c, RT_ERR_SHAPE, "input must have rank >= 3");
    int64_t dims[RT_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < 2 ? x->dims[i] : 1;
    return ops_set_output(c, 0, x->dtype, x->rank, dims);
}

rt_status infer_layernorm(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    int axis;
    if ((s = ops_axis(c, rt_node_attr_int(c->node, "axis", -1), x->rank, "axis", &axis)) != RT_OK)
        return s;
    if ((s = ops_same_as_input(c, 0, 0)) != RT_OK)
        return s;
    int64_t dims[RT_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < axis ? x->dims[i] : 1;
    rt_dtype stash = (rt_dtype)rt_node_attr_int(c->node, "stash_type", RT_DT_F32);
    if ((s = ops_set_output(c, 1, stash, x->rank, dims)) != RT_OK)
        return s;
    return ops_set_output(c, 2, stash, x->rank, dims);
}

rt_status infer_batchnorm(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 5);
    if (s != RT_OK)
        return s;
    if (rt_node_attr_int(c->node, "training_mode", 0) != 0 || c->n_out > 1)
        return ops_err(c, RT_ERR_UNSUPPORTED, "training mode (running statistics outputs) is not supported");
    if (c->in[0]->rank == 0 || c->in[0]->rank == 1)
        return ops_err(c, RT_ERR_SHAPE, "input must have rank >= 2");
    return ops_same_as_input(c, 0, 0);
}

rt_status infer_reduce(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    bool keep = rt_node_attr_int(c->node, "keepdims", 1) != 0;
    int64_t axes[RT_MAX_RANK + 1];
    int na;
    bool present;
    int64_t input_opset = c->node->op == RT_OP_ReduceSum ? 13 : 18;
    s = ops_axes(c, 1, input_opset, axes, &na, &present);
    if (s == RT_ERR_NO_DATA) { /* axes computed at run time: rank known only when kept */
        ops_clear_err(c);
        return ops_set_unknown_dims(c, 0, x->dtype, keep ? x->rank : -1);
    }
    if (s != RT_OK)
        return s;
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    bool red[RT_MAX_RANK] = {false};
    if (na == 0) {
        bool noop = rt_node_attr_int(c->node, "noop_with_empty_axes", 0) != 0;
        if (noop)
            return ops_same_as_input(c, 0, 0);
        for (int i = 0; i < x->rank; i++)
            red[i] = true;
    }
    for (int i = 0; i < na; i++) {
        int a;
        if ((s = ops_axis(c, axes[i], x->rank, "axes entry", &a)) != RT_OK)
            return s;
        red[a] = true;
    }
    int64_t dims[RT_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (red[i]) {
            if (keep)
                dims[r++] = 1;
        } else {
            dims[r++] = x->dims[i];
        }
    }
    return ops_set_output(c, 0, x->dtype, r, dims);
}

rt_status infer_argreduce(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_output(c, 0, RT_DT_I64, -1, NULL);
    int axis;
    if ((s = ops_axis(c, rt_node_attr_int(c->node, "axis", 0), x->rank, "axis", &axis)) != RT_OK)
        return s;
    bool keep = rt_node_attr_int(c->node, "keepdims", 1) != 0;
    int64_t dims[RT_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i == axis) {
            if (keep)
                dims[r++] = 1;
        } else {
            dims[r++] = x->dims[i];
        }
    }
    return ops_set_output(c, 0, RT_DT_I64, r, dims);
}

rt_status infer_resize(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    int64_t dims[RT_MAX_RANK];
    double scales[RT_MAX_RANK];
    s = ops_resize_params(c, dims, scales);
    if (s == RT_ERR_NO_DATA) {
        ops_clear_err(c);
        return ops_set_unknown_dims(c, 0, x->dtype, x->rank);
    }
    if (s != RT_OK)
        return s;
    return ops_set_output(c, 0, x->dtype, x->rank, dims);
}
