/* ops_infer_tensor.c -- output type and shape of data-movement and shape ops (Reshape,
 * Transpose, Concat, Slice, Gather, Shape, Squeeze/Unsqueeze, Expand, Split, Pad, ...). Where a
 * shape comes from another tensor's VALUES, the values are used if known (constants, or at run
 * time); otherwise the dims stay unknown, never guessed. */
#include <math.h>
#include <string.h>

#include "ops_geom.h"
#include "ops_impl.h"

/* Length of a 1-D shape-like input (or -1). */
static int vec_len(const rt_tensor *t)
{
    if (t->rank != 1 || t->dims[0] < 0 || t->dims[0] > RT_MAX_RANK)
        return -1;
    return (int)t->dims[0];
}

rt_status infer_reshape(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    const rt_tensor *x = c->in[0];
    int64_t shape[RT_MAX_RANK + 1];
    int64_t n;
    if (s != RT_OK)
        return s;
    if (c->opset < 5) {
        const int64_t *v;
        n = (int64_t)rt_node_attr_ints(c->node, "shape", &v);
        if (n > RT_MAX_RANK)
            return ops_err(c, RT_ERR_LIMIT, "shape has more than %d entries", RT_MAX_RANK);
        memcpy(shape, v, (size_t)n * sizeof *v);
    } else {
        if ((s = ops_need_typed(c, 1)) != RT_OK)
            return s;
        if (!c->in[1]->data)
            return ops_set_unknown_dims(c, 0, x->dtype, vec_len(c->in[1]));
        if (c->in[1]->rank != 1)
            return ops_err(c, RT_ERR_SHAPE, "shape input must be 1-D");
        n = ops_read_ints(c->in[1], shape, RT_MAX_RANK + 1);
        if (n > RT_MAX_RANK)
            return ops_err(c, RT_ERR_LIMIT, "shape has more than %d entries", RT_MAX_RANK);
    }
    bool allowzero = rt_node_attr_int(c->node, "allowzero", 0) != 0;
    int infer_at = -1;
    int64_t known = 1;
    bool unknown = x->rank < 0;
    int64_t dims[RT_MAX_RANK];
    for (int i = 0; i < n; i++) {
        int64_t d = shape[i];
        if (d == 0 && !allowzero) {
            if (x->rank >= 0 && i >= x->rank)
                return ops_err(c, RT_ERR_SHAPE, "shape[%d] = 0 copies a dimension the input does not have", i);
            d = x->rank < 0 ? RT_DIM_UNKNOWN : x->dims[i];
        } else if (d == -1) {
            if (infer_at >= 0)
                return ops_err(c, RT_ERR_SHAPE, "shape has more than one -1");
            infer_at = i;
            dims[i] = RT_DIM_UNKNOWN;
            continue;
        } else if (d < -1) {
            return ops_err(c, RT_ERR_SHAPE, "shape[%d] = %lld is invalid", i, (long long)d);
        }
        dims[i] = d;
        if (d < 0)
            unknown = true;
        else if (d > RT_MAX_ELEMENTS || (d && known > RT_MAX_ELEMENTS / d))
            return ops_err(c, RT_ERR_LIMIT, "shape[%d] = %lld is too large", i, (long long)d);
        else
            known *= d;
    }
    int64_t total = rt_tensor_numel(x);
    if (total >= 0 && !unknown) {
        if (infer_at >= 0) {
            if (known == 0 || total % known)
                return ops_err(c, RT_ERR_SHAPE, "cannot reshape %lld elements with -1 (other dims give %lld)",
                               (long long)total, (long long)known);
            dims[infer_at] = total / known;
        } else if (known != total) {
            char s1[96];
            return ops_err(c, RT_ERR_SHAPE, "cannot reshape '%s' %s (%lld elements) to %lld elements", x->name,
                           rt_shape_str(x, s1, sizeof s1), (long long)total, (long long)known);
        }
    }
    return ops_set_output(c, 0, x->dtype, (int)n, dims);
}

rt_status infer_transpose(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    const int64_t *perm;
    size_t np = rt_node_attr_ints(c->node, "perm", &perm);
    int64_t dims[RT_MAX_RANK];
    bool used[RT_MAX_RANK] = {false};
    if (np && (int)np != x->rank)
        return ops_err(c, RT_ERR_ATTR, "perm has %zu entries for rank %d", np, x->rank);
    for (int i = 0; i < x->rank; i++) {
        int64_t p = np ? perm[i] : x->rank - 1 - i;
        if (p < 0 || p >= x->rank || used[p])
            return ops_err(c, RT_ERR_ATTR, "perm is not a permutation of 0..%d", x->rank - 1);
        used[p] = true;
        dims[i] = x->dims[p];
    }
    return ops_set_output(c, 0, x->dtype, x->rank, dims);
}

rt_status infer_concat(rt_op_ctx *c)
{
    if (c->n_in < 1)
        return ops_err(c, RT_ERR_MISSING_INPUT, "needs at least one input");
    int rank = -1;
    for (int i = 0; i < c->n_in; i++) {
        rt_status s = ops_need_typed(c, i);
        if (s != RT_OK)
            return s;
        if (c->in[i]->dtype != c->in[0]->dtype)
            return ops_err(c, RT_ERR_DTYPE, "input types differ");
        if (c->in[i]->rank >= 0) {
            if (rank >= 0 && c->in[i]->rank != rank)
                return ops_err(c, RT_ERR_SHAPE, "inputs have different ranks (%d and %d)", rank, c->in[i]->rank);
            rank = c->in[i]->rank;
        }
    }
    if (rank < 0)
        return ops_set_output(c, 0, c->in[0]->dtype, -1, NULL);
    if (!rt_node_attr(c->node, "axis"))
        return ops_err(c, RT_ERR_ATTR, "attribute 'axis' is required");
    int axis;
    rt_status s = ops_axis(c, rt_node_attr_int(c->node, "axis", 0), rank, "axis", &axis);
    if (s != RT_OK)
        return s;
    int64_t dims[RT_MAX_RANK];
    for (int d = 0; d < rank; d++)
        dims[d] = RT_DIM_UNKNOWN;
    int64_t sum = 0;
    bool sum_known = true;
    for (int i = 0; i < c->n_in; i++) {
        const rt_tensor *t = c->in[i];
        if (t->rank < 0) {
            sum_known = false;
            continue;
        }
        for (int d = 0; d < rank; d++) {
            if (d == axis)
                continue;
            if (t->dims[d] >= 0) {
                if (dims[d] >= 0 && dims[d] != t->dims[d])
                    return ops_err(c, RT_ERR_SHAPE, "input '%s' differs on axis %d (%lld vs %lld)", t->name, d,
                                   (long long)t->dims[d], (long long)dims[d]);
                dims[d] = t->dims[d];
            }
        }
        if (t->dims[axis] < 0)
            sum_known = false;
        else
            sum += t->dims[axis];
    }
    dims[axis] = sum_known ? sum : RT_DIM_UNKNOWN;
    return ops_set_output(c, 0, c->in[0]->dtype, rank, dims);
}

rt_status infer_slice(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    ops_slice sl;
    s = ops_slice_params(c, &sl);
    if (s == RT_ERR_NO_DATA) {
        ops_clear_err(c);
        return ops_set_unknown_dims(c, 0, x->dtype, x->rank);
    }
    if (s != RT_OK)
        return s;
    return ops_set_output(c, 0, x->dtype, x->rank, sl.out);
}

rt_status infer_gather(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0], *idx = c->in[1];
    if (idx->dtype != RT_DT_I32 && idx->dtype != RT_DT_I64)
        return ops_err(c, RT_ERR_DTYPE, "indices must be i32 or i64, got %s", rt_dtype_name(idx->dtype));
    if (x->rank < 0 || idx->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    int axis;
    if ((s = ops_axis(c, rt_node_attr_int(c->node, "axis", 0), x->rank, "axis", &axis)) != RT_OK)
        return s;
    int r = x->rank - 1 + idx->rank;
    if (r > RT_MAX_RANK)
        return ops_err(c, RT_ERR_LIMIT, "result rank %d exceeds %d", r, RT_MAX_RANK);
    int64_t dims[RT_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++)
        dims[k++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++)
        dims[k++] = idx->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        dims[k++] = x->dims[i];
    return ops_set_output(c, 0, x->dtype, r, dims);
}

rt_status infer_gather_elements(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0], *idx = c->in[1];
    if (x->rank >= 0 && idx->rank >= 0 && x->rank != idx->rank)
        return ops_err(c, RT_ERR_SHAPE, "data and indices ranks differ");
    return ops_set_output(c, 0, x->dtype, idx->rank, idx->dims);
}

rt_status infer_shape(rt_op_ctx *c)
{
    rt_status s = ops_need_input(c, 0, false);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_unknown_dims(c, 0, RT_DT_I64, 1);
    int64_t r = x->rank;
    int64_t start = rt_node_attr_int(c->node, "start", 0), end = rt_node_attr_int(c->node, "end", r);
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t len = end > start ? end - start : 0;
    return ops_set_output(c, 0, RT_DT_I64, 1, &len);
}

rt_status infer_size(rt_op_ctx *c)
{
    rt_status s = ops_need_input(c, 0, false);
    if (s != RT_OK)
        return s;
    return ops_set_output(c, 0, RT_DT_I64, 0, NULL);
}

rt_status infer_unsqueeze(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    int64_t axes[RT_MAX_RANK + 1];
    int na;
    bool present;
    s = ops_axes(c, 1, 13, axes, &na, &present);
    if (s == RT_ERR_NO_DATA) {
        ops_clear_err(c);
        int n = vec_len(c->in[1]);
        if (x->rank >= 0 && n >= 0 && x->rank + n > RT_MAX_RANK)
            return ops_err(c, RT_ERR_LIMIT, "result rank %d exceeds %d", x->rank + n, RT_MAX_RANK);
        return ops_set_unknown_dims(c, 0, x->dtype, x->rank < 0 || n < 0 ? -1 : x->rank + n);
    }
    if (s != RT_OK)
        return s;
    if (!present)
        return ops_err(c, RT_ERR_ATTR, "axes are required");
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    int r = x->rank + na;
    if (r > RT_MAX_RANK)
        return ops_err(c, RT_ERR_LIMIT, "result rank %d exceeds %d", r, RT_MAX_RANK);
    bool ins[RT_MAX_RANK] = {false};
    for (int i = 0; i < na; i++) {
        int a;
        if ((s = ops_axis(c, axes[i], r, "axes entry", &a)) != RT_OK)
            return s;
        if (ins[a])
            return ops_err(c, RT_ERR_ATTR, "axis %d given twice", a);
        ins[a] = true;
    }
    int64_t dims[RT_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++)
        dims[i] = ins[i] ? 1 : x->dims[k++];
    return ops_set_output(c, 0, x->dtype, r, dims);
}

rt_status infer_squeeze(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    int64_t axes[RT_MAX_RANK + 1];
    int na;
    bool present;
    s = ops_axes(c, 1, 13, axes, &na, &present);
    if (s == RT_ERR_NO_DATA) {
        ops_clear_err(c);
        int n = vec_len(c->in[1]);
        if (x->rank >= 0 && n > x->rank)
            return ops_err(c, RT_ERR_SHAPE, "%d axes to squeeze from a rank-%d input", n, x->rank);
        /* (no axes squeeze every axis of size 1: how many is unknown too) */
        return ops_set_unknown_dims(c, 0, x->dtype, x->rank < 0 || n <= 0 ? -1 : x->rank - n);
    }
    if (s != RT_OK)
        return s;
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    bool drop[RT_MAX_RANK] = {false};
    if (!present || na == 0) {
        for (int i = 0; i < x->rank; i++) {
            if (x->dims[i] < 0)
                return ops_set_output(c, 0, x->dtype, -1, NULL);
            drop[i] = x->dims[i] == 1;
        }
    }
    for (int i = 0; i < na; i++) {
        int a;
        if ((s = ops_axis(c, axes[i], x->rank, "axes entry", &a)) != RT_OK)
            return s;
        if (x->dims[a] >= 0 && x->dims[a] != 1)
            return ops_err(c, RT_ERR_SHAPE, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
        drop[a] = true;
    }
    int64_t dims[RT_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i])
            dims[r++] = x->dims[i];
    return ops_set_output(c, 0, x->dtype, r, dims);
}

rt_status infer_flatten(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_unknown_dims(c, 0, x->dtype, 2);
    int64_t axis = rt_node_attr_int(c->node, "axis", 1);
    if (axis < 0)
        axis += x->rank;
    if (axis < 0 || axis > x->rank)
        return ops_err(c, RT_ERR_ATTR, "axis %lld out of range for rank %d", (long long)rt_node_attr_int(c->node, "axis", 1),
                       x->rank);
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++) {
        int64_t *d = &dims[i < axis ? 0 : 1];
        *d = (x->dims[i] < 0 || *d < 0) ? RT_DIM_UNKNOWN : *d * x->dims[i];
    }
    return ops_set_output(c, 0, x->dtype, 2, dims);
}

rt_status infer_expand(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (!c->in[1]->data) {
        int n = vec_len(c->in[1]);
        return ops_set_unknown_dims(c, 0, x->dtype, x->rank < 0 || n < 0 ? -1 : (n > x->rank ? n : x->rank));
    }
    rt_tensor shape = {0};
    shape.name = c->in[1]->name;
    int64_t n = ops_read_ints(c->in[1], shape.dims, RT_MAX_RANK + 1);
    if (n > RT_MAX_RANK || c->in[1]->rank != 1)
        return ops_err(c, RT_ERR_SHAPE, "shape input must be 1-D with at most %d entries", RT_MAX_RANK);
    shape.rank = (int)n;
    for (int i = 0; i < shape.rank; i++)
        if (shape.dims[i] < 0)
            return ops_err(c, RT_ERR_SHAPE, "shape[%d] = %lld is negative", i, (long long)shape.dims[i]);
    const rt_tensor *pair[2] = {x, &shape};
    int rank;
    int64_t dims[RT_MAX_RANK];
    if ((s = ops_broadcast(c, 2, pair, &rank, dims)) != RT_OK)
        return s;
    return ops_set_output(c, 0, x->dtype, rank, dims);
}

rt_status infer_split(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0) {
        for (int i = 0; i < c->n_out; i++)
            if ((s = ops_set_output(c, i, x->dtype, -1, NULL)) != RT_OK)
                return s;
        return RT_OK;
    }
    if (c->n_out > 64)
        return ops_err(c, RT_ERR_LIMIT, "more than 64 outputs");
    int axis;
    int64_t sizes[64];
    s = ops_split_sizes(c, &axis, sizes);
    if (s == RT_ERR_NO_DATA) {
        ops_clear_err(c);
        for (int i = 0; i < c->n_out; i++)
            if ((s = ops_set_unknown_dims(c, i, x->dtype, x->rank)) != RT_OK)
                return s;
        return RT_OK;
    }
    if (s != RT_OK)
        return s;
    for (int i = 0; i < c->n_out; i++) {
        int64_t dims[RT_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = sizes[i];
        if ((s = ops_set_output(c, i, x->dtype, x->rank, dims)) != RT_OK)
            return s;
    }
    return RT_OK;
}

rt_status infer_tile(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 2);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0 || !c->in[1]->data)
        return ops_set_unknown_dims(c, 0, x->dtype, x->rank);
    int64_t rep[RT_MAX_RANK + 1];
    if (ops_read_ints(c->in[1], rep, RT_MAX_RANK + 1) != x->rank)
        return ops_err(c, RT_ERR_SHAPE, "repeats must have %d entries", x->rank);
    int64_t dims[RT_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (rep[i] < 0)
            return ops_err(c, RT_ERR_SHAPE, "repeats[%d] = %lld is negative", i, (long long)rep[i]);
        if (x->dims[i] < 0)
            dims[i] = RT_DIM_UNKNOWN;
        else if (rep[i] && x->dims[i] > RT_MAX_ELEMENTS / rep[i])
            return ops_err(c, RT_ERR_LIMIT, "repeats[%d] is too large", i);
        else
            dims[i] = x->dims[i] * rep[i];
    }
    return ops_set_output(c, 0, x->dtype, x->rank, dims);
}

rt_status infer_constant_of_shape(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_attr *v = rt_node_attr(c->node, "value");
    rt_dtype dt = RT_DT_F32;
    if (v) {
        if (v->type != RT_ATTR_TENSOR || !v->t || rt_tensor_numel(v->t) != 1 || !v->t->data)
            return ops_err(c, RT_ERR_ATTR, "value must be a one-element tensor");
        dt = v->t->dtype;
    }
    if (!c->in[0]->data)
        return ops_set_unknown_dims(c, 0, dt, vec_len(c->in[0]));
    int64_t dims[RT_MAX_RANK + 1];
    int64_t n = ops_read_ints(c->in[0], dims, RT_MAX_RANK + 1);
    if (n > RT_MAX_RANK)
        return ops_err(c, RT_ERR_LIMIT, "shape has more than %d entries", RT_MAX_RANK);
    for (int i = 0; i < n; i++)
        if (dims[i] < 0)
            return ops_err(c, RT_ERR_SHAPE, "shape[%d] = %lld is negative", i, (long long)dims[i]);
    return ops_set_output(c, 0, dt, (int)n, dims);
}

rt_status infer_range(rt_op_ctx *c)
{
    rt_status s = ops_need_typed_n(c, 3);
    if (s != RT_OK)
        return s;
    rt_dtype dt = c->in[0]->dtype;
    if (!c->in[0]->data || !c->in[1]->data || !c->in[2]->data)
        return ops_set_unknown_dims(c, 0, dt, 1);
    for (int i = 0; i < 3; i++)
        if (rt_tensor_numel(c->in[i]) != 1)
            return ops_err(c, RT_ERR_SHAPE, "start, limit and delta must be scalars");
    double start = rt_tensor_get_f64(c->in[0], 0), limit = rt_tensor_get_f64(c->in[1], 0);
    double delta = rt_tensor_get_f64(c->in[2], 0);
    if (delta == 0 || !isfinite(start) || !isfinite(limit) || !isfinite(delta))
        return ops_err(c, RT_ERR_ATTR, "delta must be non-zero and all values finite");
    double n = ceil((limit - start) / delta);
    if (n < 0)
        n = 0;
    if (n > (double)RT_MAX_ELEMENTS)
        return ops_err(c, RT_ERR_LIMIT, "range of %g elements is too large", n);
    int64_t len = (int64_t)n;
    return ops_set_output(c, 0, dt, 1, &len);
}

rt_status infer_constant(rt_op_ctx *c)
{
    const rt_node *n = c->node;
    if (n->n_attrs != 1)
        return ops_err(c, RT_ERR_ATTR, "needs exactly one value attribute");
    const rt_attr *a = &n->attrs[0];
    int64_t len = (int64_t)a->n;
    if (strcmp(a->name, "value") == 0 && a->type == RT_ATTR_TENSOR && a->t)
        return ops_set_output(c, 0, a->t->dtype, a->t->rank, a->t->dims);
    if (strcmp(a->name, "value_float") == 0)
        return ops_set_output(c, 0, RT_DT_F32, 0, NULL);
    if (strcmp(a->name, "value_int") == 0)
        return ops_set_output(c, 0, RT_DT_I64, 0, NULL);
    if (strcmp(a->name, "value_floats") == 0)
        return ops_set_output(c, 0, RT_DT_F32, 1, &len);
    if (strcmp(a->name, "value_ints") == 0)
        return ops_set_output(c, 0, RT_DT_I64, 1, &len);
    return ops_err(c, RT_ERR_UNSUPPORTED, "attribute '%s' is not supported (value, value_float(s), value_int(s))",
                   a->name);
}

rt_status infer_pad(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_output(c, 0, x->dtype, -1, NULL);
    int64_t pads[2 * RT_MAX_RANK + 1];
    int64_t n;
    int r = x->rank;
    if (c->opset < 11) {
        const int64_t *v;
        n = (int64_t)rt_node_attr_ints(c->node, "pads", &v);
        if (n > 2 * RT_MAX_RANK)
            return ops_err(c, RT_ERR_ATTR, "too many pads");
        memcpy(pads, v, (size_t)n * sizeof *v);
    } else {
        if ((s = ops_need_typed(c, 1)) != RT_OK)
            return s;
        if (!c->in[1]->data)
            return ops_set_unknown_dims(c, 0, x->dtype, r);
        n = ops_read_ints(c->in[1], pads, 2 * RT_MAX_RANK + 1);
    }
    int64_t axes[RT_MAX_RANK];
    int na = r;
    for (int i = 0; i < r; i++)
        axes[i] = i;
    if (ops_has_input(c, 3)) {
        if (!c->in[3]->data)
            return ops_set_unknown_dims(c, 0, x->dtype, r);
        int64_t cnt = ops_read_ints(c->in[3], axes, RT_MAX_RANK + 1);
        if (cnt > r)
            return ops_err(c, RT_ERR_SHAPE, "too many axes");
        na = (int)cnt;
    }
    if (n != 2 * na)
        return ops_err(c, RT_ERR_SHAPE, "pads has %lld entries, expected %d", (long long)n, 2 * na);
    int64_t dims[RT_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 0; i < na; i++) {
        int a;
        if ((s = ops_axis(c, axes[i], r, "axes entry", &a)) != RT_OK)
            return s;
        if (x->dims[a] < 0)
            continue;
        if (pads[i] > RT_MAX_ELEMENTS || pads[i + na] > RT_MAX_ELEMENTS || pads[i] < -RT_MAX_ELEMENTS ||
            pads[i + na] < -RT_MAX_ELEMENTS)
            return ops_err(c, RT_ERR_LIMIT, "pad on axis %d is absurd", a);
        dims[a] = x->dims[a] + pads[i] + pads[i + na];
        if (dims[a] < 0)
            return ops_err(c, RT_ERR_SHAPE, "pads make axis %d negative", a);
    }
    const char *mode = rt_node_attr_string(c->node, "mode", "constant");
    if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") && strcmp(mode, "wrap"))
        return ops_err(c, RT_ERR_ATTR, "mode '%s' is not constant, reflect, edge or wrap", mode);
    return ops_set_output(c, 0, x->dtype, r, dims);
}

rt_status infer_depth_space(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank < 0)
        return ops_set_unknown_dims(c, 0, x->dtype, 4);
    if (x->rank != 4)
        return ops_err(c, RT_ERR_SHAPE, "input must be 4-D (N, C, H, W)");
    int64_t b = rt_node_attr_int(c->node, "blocksize", 0);
    if (b < 1 || b > 1 << 16)
        return ops_err(c, RT_ERR_ATTR, "blocksize %lld is invalid", (long long)b);
    int64_t dims[4] = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]};
    if (c->node->op == RT_OP_DepthToSpace) {
        if (dims[1] >= 0 && dims[1] % (b * b))
            return ops_err(c, RT_ERR_SHAPE, "channels %lld not divisible by blocksize^2", (long long)dims[1]);
        dims[1] = dims[1] < 0 ? -1 : dims[1] / (b * b);
        dims[2] = dims[2] < 0 ? -1 : dims[2] * b;
        dims[3] = dims[3] < 0 ? -1 : dims[3] * b;
    } else {
        if ((dims[2] >= 0 && dims[2] % b) || (dims[3] >= 0 && dims[3] % b))
            return ops_err(c, RT_ERR_SHAPE, "spatial dims not divisible by blocksize");
        dims[1] = dims[1] < 0 ? -1 : dims[1] * b * b;
        dims[2] = dims[2] < 0 ? -1 : dims[2] / b;
        dims[3] = dims[3] < 0 ? -1 : dims[3] / b;
    }
    return ops_set_output(c, 0, x->dtype, 4, dims);
}

rt_status infer_eyelike(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    const rt_tensor *x = c->in[0];
    if (x->rank >= 0 && x->rank != 2)
        return ops_err(c, RT_ERR_SHAPE, "input must be 2-D");
    int dt = (int)rt_node_attr_int(c->node, "dtype", x->dtype);
    if (!rt_dtype_storable(dt))
        return ops_err(c, RT_ERR_DTYPE, "dtype %d is not supported", dt);
    return ops_set_output(c, 0, (rt_dtype)dt, x->rank, x->dims);
}
