/* cpu_tensor.c -- CPU reference kernels of the data-movement and shape ops: reshape-like
 * copies, Transpose, Concat, Slice, Gather(Elements), Shape/Size, Expand, Split, Tile, Pad,
 * ConstantOfShape, Cast, Trilu, Range, Constant, Depth/SpaceToDepth, EyeLike, Dropout. Output
 * shapes were already computed by the op's inference function; these only move bytes. */
#include <math.h>
#include <string.h>

#include "cpu_util.h"
#include "ops_geom.h"

static rt_status elem_size(const rt_op_ctx *c, const rt_tensor *t, size_t *es)
{
    unsigned bits = rt_dtype_bits(t->dtype);
    if (bits < 8)
        return cpu_dtype_error(c, t->dtype);
    *es = bits / 8;
    return RT_OK;
}

#define EL(t, i, es) ((char *)(t)->data + (size_t)(i) * (es))
#define CEL(t, i, es) ((const char *)(t)->data + (size_t)(i) * (es))

rt_status cpu_copy(rt_op_ctx *c)
{
    rt_tensor *y = c->out[0];
    if (y->data_bytes != c->in[0]->data_bytes)
        return ops_err(c, RT_ERR_SHAPE, "input and output sizes differ");
    memcpy(y->data, c->in[0]->data, y->data_bytes);
    return RT_OK;
}

rt_status cpu_dropout(rt_op_ctx *c)
{
    rt_status s = cpu_copy(c);
    if (s == RT_OK && c->n_out > 1 && c->out[1])
        memset(c->out[1]->data, 1, c->out[1]->data_bytes); /* inference: every element kept */
    return s;
}

/* y[i] = x[base + sum over d of idx_d(i) * st[d]] for every element i of y (row-major), where
 * idx(i) is i's index in y's shape: the walk behind Transpose (permuted strides) and Slice
 * (stepped strides from a start). */
static void strided_copy(rt_tensor *y, const rt_tensor *x, size_t es, int r, const int64_t *st, int64_t base)
{
    int64_t n = rt_tensor_numel(y), idx[RT_MAX_RANK] = {0}, off = base;
    for (int64_t i = 0; i < n; i++) {
        memcpy(EL(y, i, es), CEL(x, off, es), es);
        for (int d = r - 1; d >= 0; d--) {
            idx[d]++;
            off += st[d];
            if (idx[d] < y->dims[d])
                break;
            off -= st[d] * y->dims[d];
            idx[d] = 0;
        }
    }
}

rt_status cpu_transpose(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    const int64_t *perm;
    size_t np = rt_node_attr_ints(c->node, "perm", &perm);
    int r = x->rank;
    int64_t xs[RT_MAX_RANK], st[RT_MAX_RANK];
    cpu_strides(r, x->dims, xs);
    for (int i = 0; i < r; i++)
        st[i] = xs[np ? perm[i] : r - 1 - i]; /* input stride of output axis i */
    strided_copy(y, x, es, r, st, 0);
    return RT_OK;
}

rt_status cpu_concat(rt_op_ctx *c)
{
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, y, &es);
    if (s != RT_OK)
        return s;
    int axis;
    if ((s = ops_axis(c, rt_node_attr_int(c->node, "axis", 0), y->rank, "axis", &axis)) != RT_OK)
        return s;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= y->dims[d];
    for (int d = axis + 1; d < y->rank; d++)
        inner *= y->dims[d];
    int64_t yrow = y->dims[axis] * inner, at = 0;
    for (int k = 0; k < c->n_in; k++) {
        const rt_tensor *t = c->in[k];
        int64_t row = t->dims[axis] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy(EL(y, o * yrow + at, es), CEL(t, o * row, es), (size_t)row * es);
        at += row;
    }
    return RT_OK;
}

rt_status cpu_slice(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    ops_slice sl;
    if ((s = ops_slice_params(c, &sl)) != RT_OK)
        return s;
    int r = x->rank;
    int64_t xs[RT_MAX_RANK], st[RT_MAX_RANK], base = 0;
    cpu_strides(r, x->dims, xs);
    for (int d = 0; d < r; d++) {
        st[d] = xs[d] * sl.step[d];
        base += xs[d] * sl.start[d];
    }
    strided_copy(y, x, es, r, st, base);
    return RT_OK;
}

rt_status cpu_gather(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0], *ind = c->in[1];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    int axis;
    if ((s = ops_axis(c, rt_node_attr_int(c->node, "axis", 0), x->rank, "axis", &axis)) != RT_OK)
        return s;
    int64_t outer = 1, inner = 1, d = x->dims[axis], ni = rt_tensor_numel(ind);
    for (int k = 0; k < axis; k++)
        outer *= x->dims[k];
    for (int k = axis + 1; k < x->rank; k++)
        inner *= x->dims[k];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t v = rt_tensor_get_i64(ind, j), q = v < 0 ? v + d : v;
            if (q < 0 || q >= d)
                return ops_err(c, RT_ERR_SHAPE, "index %lld is out of range for axis %d of size %lld", (long long)v,
                               axis, (long long)d);
            memcpy(EL(y, (o * ni + j) * inner, es), CEL(x, (o * d + q) * inner, es), (size_t)inner * es);
        }
    return RT_OK;
}

rt_status cpu_gather_elements(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0], *ind = c->in[1];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    int axis;
    if ((s = ops_axis(c, rt_node_attr_int(c->node, "axis", 0), x->rank, "axis", &axis)) != RT_OK)
        return s;
    int r = x->rank;
    int64_t xs[RT_MAX_RANK], n = rt_tensor_numel(ind), idx[RT_MAX_RANK] = {0};
    cpu_strides(r, x->dims, xs);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = rt_tensor_get_i64(ind, i), q = v < 0 ? v + x->dims[axis] : v;
        if (q < 0 || q >= x->dims[axis])
            return ops_err(c, RT_ERR_SHAPE, "index %lld out of range on axis %d", (long long)v, axis);
        int64_t off = 0;
        for (int d = 0; d < r; d++) {
            if (d != axis && idx[d] >= x->dims[d])
                return ops_err(c, RT_ERR_SHAPE, "indices shape exceeds data shape on axis %d", d);
            off += (d == axis ? q : idx[d]) * xs[d];
        }
        memcpy(EL(y, i, es), CEL(x, off, es), es);
        cpu_next_index(r, ind->dims, idx);
    }
    return RT_OK;
}

rt_status cpu_shape(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int64_t r = x->rank, start = rt_node_attr_int(c->node, "start", 0);
    if (start < 0)
        start += r;
    if (start < 0)
        start = 0;
    for (int64_t i = 0; i < y->dims[0]; i++)
        ((int64_t *)y->data)[i] = x->dims[start + i];
    return RT_OK;
}

rt_status cpu_size(rt_op_ctx *c)
{
    *(int64_t *)c->out[0]->data = rt_tensor_numel(c->in[0]);
    return RT_OK;
}

rt_status cpu_expand(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    cpu_iter it;
    const rt_tensor *ins[1] = {x};
    cpu_iter_init(&it, y, 1, ins);
    int64_t n = rt_tensor_numel(y);
    for (int64_t i = 0; i < n; i++, cpu_iter_next(&it))
        memcpy(EL(y, i, es), CEL(x, it.off[0], es), es);
    return RT_OK;
}

rt_status cpu_tile(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    int r = x->rank;
    int64_t xs[RT_MAX_RANK], n = rt_tensor_numel(y), idx[RT_MAX_RANK] = {0};
    cpu_strides(r, x->dims, xs);
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++)
            off += (idx[d] % x->dims[d]) * xs[d];
        memcpy(EL(y, i, es), CEL(x, off, es), es);
        cpu_next_index(r, y->dims, idx);
    }
    return RT_OK;
}

rt_status cpu_split(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    int axis;
    int64_t sizes[64];
    if (c->n_out > 64)
        return ops_err(c, RT_ERR_LIMIT, "more than 64 outputs");
    if ((s = ops_split_sizes(c, &axis, sizes)) != RT_OK)
        return s;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++)
        inner *= x->dims[d];
    int64_t xrow = x->dims[axis] * inner, at = 0;
    for (int k = 0; k < c->n_out; k++) {
        int64_t row = sizes[k] * inner;
        if (c->out[k])
            for (int64_t o = 0; o < outer; o++)
                memcpy(EL(c->out[k], o * row, es), CEL(x, o * xrow + at, es), (size_t)row * es);
        at += row;
    }
    return RT_OK;
}

rt_status cpu_constant_of_shape(rt_op_ctx *c)
{
    rt_tensor *y = c->out[0];
    const rt_attr *v = rt_node_attr(c->node, "value");
    size_t es = 1;
    rt_status s = elem_size(c, y, &es);
    if (s != RT_OK)
        return s;
    int64_t n = rt_tensor_numel(y);
    if (!v) /* default: float 0, already zeroed */
        return RT_OK;
    for (int64_t i = 0; i < n; i++)
        memcpy(EL(y, i, es), v->t->data, es);
    return RT_OK;
}

rt_status cpu_cast(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int64_t n = rt_tensor_numel(x);
    if (x->dtype == y->dtype) {
        memcpy(y->data, x->data, y->data_bytes);
        return RT_OK;
    }
    bool from_f = rt_dtype_is_float(x->dtype), to_f = rt_dtype_is_float(y->dtype);
    for (int64_t i = 0; i < n; i++) {
        if (from_f || to_f)
            cpu_st(y->dtype, y->data, i, cpu_ld(x->dtype, x->data, i));
        else
            cpu_sti(y->dtype, y->data, i, cpu_ldi(x->dtype, x->data, i));
    }
    return RT_OK;
}

rt_status cpu_trilu(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    if (x->rank < 2)
        return ops_err(c, RT_ERR_SHAPE, "input must have rank >= 2");
    int64_t k = 0;
    if (ops_has_input(c, 1)) {
        if (rt_tensor_numel(c->in[1]) != 1)
            return ops_err(c, RT_ERR_SHAPE, "k must be a scalar");
        k = rt_tensor_get_i64(c->in[1], 0);
    }
    bool upper = rt_node_attr_int(c->node, "upper", 1) != 0;
    int64_t R = x->dims[x->rank - 2], C = x->dims[x->rank - 1], mats = R * C != 0 ? rt_tensor_numel(x) / (R * C) : 0;
    memset(y->data, 0, y->data_bytes);
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) {
                bool keep = upper ? j - i >= k : j - i <= k;
                if (keep) {
                    int64_t at = (m * R + i) * C + j;
                    memcpy(EL(y, at, es), CEL(x, at, es), es);
                }
            }
    return RT_OK;
}

rt_status cpu_range(rt_op_ctx *c)
{
    rt_tensor *y = c->out[0];
    int64_t n = rt_tensor_numel(y);
    if (rt_dtype_is_float(y->dtype)) {
        double st = rt_tensor_get_f64(c->in[0], 0), d = rt_tensor_get_f64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++)
            cpu_st(y->dtype, y->data, i, st + (double)i * d);
    } else {
        int64_t st = rt_tensor_get_i64(c->in[0], 0), d = rt_tensor_get_i64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++)
            cpu_sti(y->dtype, y->data, i, (int64_t)((uint64_t)st + (uint64_t)i * (uint64_t)d));
    }
    return RT_OK;
}

rt_status cpu_constant(rt_op_ctx *c)
{
    const rt_attr *a = &c->node->attrs[0];
    rt_tensor *y = c->out[0];
    if (a->type == RT_ATTR_TENSOR) {
        if (!a->t->data || a->t->data_bytes != y->data_bytes)
            return ops_err(c, RT_ERR_DATA_SIZE, "value tensor has no or wrongly sized data");
        memcpy(y->data, a->t->data, y->data_bytes);
    } else if (a->type == RT_ATTR_FLOAT) {
        *(float *)y->data = a->f;
    } else if (a->type == RT_ATTR_INT) {
        *(int64_t *)y->data = a->i;
    } else if (a->type == RT_ATTR_FLOATS) {
        memcpy(y->data, a->floats, a->n * sizeof(float));
    } else if (a->type == RT_ATTR_INTS) {
        memcpy(y->data, a->ints, a->n * sizeof(int64_t));
    } else {
        return ops_err(c, RT_ERR_UNSUPPORTED, "attribute type %d", (int)a->type);
    }
    return RT_OK;
}

rt_status cpu_pad(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    int r = x->rank;
    int64_t pb[RT_MAX_RANK] = {0}; /* begin pad per axis */
    int64_t pads[2 * RT_MAX_RANK + 1], axes[RT_MAX_RANK];
    int64_t n;
    if (c->opset < 11) {
        const int64_t *v;
        n = (int64_t)rt_node_attr_ints(c->node, "pads", &v);
        memcpy(pads, v, (size_t)n * sizeof *v);
    } else {
        n = ops_read_ints(c->in[1], pads, 2 * RT_MAX_RANK + 1);
    }
    int na = r;
    for (int d = 0; d < r; d++)
        axes[d] = d;
    if (ops_has_input(c, 3))
        na = (int)ops_read_ints(c->in[3], axes, RT_MAX_RANK);
    for (int i = 0; i < na && i < n; i++) {
        int a;
        if ((s = ops_axis(c, axes[i], r, "axes entry", &a)) != RT_OK)
            return s;
        pb[a] = pads[i];
    }
    const char *mode = rt_node_attr_string(c->node, "mode", "constant");
    int m = strcmp(mode, "reflect") == 0 ? 1 : strcmp(mode, "edge") == 0 ? 2 : strcmp(mode, "wrap") == 0 ? 3 : 0;
    double cval = c->opset < 11 ? rt_node_attr_float(c->node, "value", 0.0f)
                                : (ops_has_input(c, 2) && rt_tensor_numel(c->in[2]) > 0
                                       ? cpu_ld(c->in[2]->dtype, c->in[2]->data, 0) : 0.0);
    char cbytes[8] = {0};
    cpu_st(y->dtype, cbytes, 0, cval);
    int64_t xs[RT_MAX_RANK], total = rt_tensor_numel(y), idx[RT_MAX_RANK] = {0};
    cpu_strides(r, x->dims, xs);
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        bool use_const = false;
        for (int d = 0; d < r; d++) {
            int64_t q = idx[d] - pb[d], len = x->dims[d];
            if (q < 0 || q >= len) {
                if (m == 0 || len == 0) {
                    use_const = true;
                    break;
                }
                if (m == 2) {
                    q = q < 0 ? 0 : len - 1;
                } else if (m == 3) {
                    q = ((q % len) + len) % len;
                } else if (len == 1) {
                    q = 0;
                } else {
                    int64_t period = 2 * (len - 1);
                    q = ((q % period) + period) % period;
                    if (q >= len)
                        q = period - q;
                }
            }
            off += q * xs[d];
        }
        memcpy(EL(y, i, es), use_const ? cbytes : CEL(x, off, es), es);
        cpu_next_index(r, y->dims, idx);
    }
    return RT_OK;
}

rt_status cpu_depth_space(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    size_t es = 1;
    rt_status s = elem_size(c, x, &es);
    if (s != RT_OK)
        return s;
    int64_t bs = rt_node_attr_int(c->node, "blocksize", 1);
    bool d2s = c->node->op == RT_OP_DepthToSpace;
    bool crd = strcmp(rt_node_attr_string(c->node, "mode", "DCR"), "CRD") == 0;
    int64_t N = y->dims[0], C = y->dims[1], H = y->dims[2], W = y->dims[3];
    int64_t XC = x->dims[1], XH = x->dims[2], XW = x->dims[3];
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    int64_t src;
                    if (d2s) {
                        int64_t i = h % bs, j = w % bs;
                        int64_t xc = crd ? ch * bs * bs + i * bs + j : (i * bs + j) * C + ch;
                        src = ((n * XC + xc) * XH + h / bs) * XW + w / bs;
                    } else {
                        int64_t cc = ch % XC, blk = ch / XC, i = blk / bs, j = blk % bs;
                        src = ((n * XC + cc) * XH + h * bs + i) * XW + w * bs + j;
                    }
                    memcpy(EL(y, ((n * C + ch) * H + h) * W + w, es), CEL(x, src, es), es);
                }
    return RT_OK;
}

rt_status cpu_eyelike(rt_op_ctx *c)
{
    rt_tensor *y = c->out[0];
    int64_t k = rt_node_attr_int(c->node, "k", 0), R = y->dims[0], C = y->dims[1];
    for (int64_t i = 0; i < R; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < C)
            cpu_st(y->dtype, y->data, i * C + j, 1.0);
    }
    return RT_OK;
}
