/* ops_geom.c -- decoding of the parameters that shape inference and kernels share (see
 * ops_geom.h): padding modes, ceil mode, slice clamping, opset-dependent axes inputs. */
#include <math.h>
#include <string.h>

#include "ops_geom.h"

static rt_status window_attrs(const rt_op_ctx *c, int nsp, ops_window *w)
{
    const int64_t *v;
    size_t n;
    memset(w, 0, sizeof *w);
    w->nsp = nsp;
    for (int i = 0; i < nsp; i++)
        w->stride[i] = w->dil[i] = 1;
    if ((n = rt_node_attr_ints(c->node, "strides", &v))) {
        if ((int)n != nsp)
            return ops_err(c, RT_ERR_ATTR, "strides has %zu values, expected %d", n, nsp);
        for (int i = 0; i < nsp; i++)
            w->stride[i] = v[i];
    }
    if ((n = rt_node_attr_ints(c->node, "dilations", &v))) {
        if ((int)n != nsp)
            return ops_err(c, RT_ERR_ATTR, "dilations has %zu values, expected %d", n, nsp);
        for (int i = 0; i < nsp; i++)
            w->dil[i] = v[i];
    }
    if ((n = rt_node_attr_ints(c->node, "pads", &v))) {
        if ((int)n != 2 * nsp)
            return ops_err(c, RT_ERR_ATTR, "pads has %zu values, expected %d", n, 2 * nsp);
        for (int i = 0; i < nsp; i++) {
            w->pad_b[i] = v[i];
            w->pad_e[i] = v[i + nsp];
        }
    }
    for (int i = 0; i < nsp; i++) {
        if (w->stride[i] < 1 || w->dil[i] < 1 || w->pad_b[i] < 0 || w->pad_e[i] < 0)
            return ops_err(c, RT_ERR_ATTR, "strides and dilations must be >= 1 and pads >= 0 (axis %d)", i);
    }
    return RT_OK;
}

rt_status ops_window_forward(const rt_op_ctx *c, int nsp, const int64_t *in, const int64_t *k, bool allow_ceil,
                             ops_window *w)
{
    rt_status s = window_attrs(c, nsp, w);
    if (s != RT_OK)
        return s;
    const char *ap = rt_node_attr_string(c->node, "auto_pad", "NOTSET");
    bool ceil_mode = allow_ceil && rt_node_attr_int(c->node, "ceil_mode", 0) != 0;
    for (int i = 0; i < nsp; i++) {
        w->in[i] = in[i];
        w->k[i] = k[i];
        if (k[i] < 1)
            return ops_err(c, RT_ERR_SHAPE, "kernel size %lld on spatial axis %d must be >= 1", (long long)k[i], i);
        int64_t ek = (k[i] - 1) * w->dil[i] + 1; /* effective kernel extent */
        if (in[i] < 0) {
            w->out[i] = RT_DIM_UNKNOWN;
            continue;
        }
        if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
            w->out[i] = (in[i] + w->stride[i] - 1) / w->stride[i];
            int64_t total = (w->out[i] - 1) * w->stride[i] + ek - in[i];
            if (total < 0)
                total = 0;
            bool upper = ap[5] == 'U';
            w->pad_b[i] = upper ? total / 2 : total - total / 2;
            w->pad_e[i] = total - w->pad_b[i];
        } else if (strcmp(ap, "VALID") == 0) {
            w->pad_b[i] = w->pad_e[i] = 0;
            w->out[i] = in[i] >= ek ? (in[i] - ek) / w->stride[i] + 1 : 0;
        } else if (strcmp(ap, "NOTSET") == 0) {
            int64_t span = in[i] + w->pad_b[i] + w->pad_e[i] - ek;
            if (span < 0)
                return ops_err(c, RT_ERR_SHAPE, "kernel extent %lld exceeds the padded input %lld on spatial axis %d",
                               (long long)ek, (long long)(in[i] + w->pad_b[i] + w->pad_e[i]), i);
            w->out[i] = (ceil_mode ? (span + w->stride[i] - 1) / w->stride[i] : span / w->stride[i]) + 1;
            /* ceil mode: a last window that would start inside the end padding is dropped */
            if (ceil_mode && (w->out[i] - 1) * w->stride[i] >= in[i] + w->pad_b[i])
                w->out[i]--;
        } else {
            return ops_err(c, RT_ERR_ATTR, "auto_pad '%s' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", ap);
        }
    }
    return RT_OK;
}

rt_status ops_window_transpose(const rt_op_ctx *c, int nsp, const int64_t *in, const int64_t *k, ops_window *w)
{
    rt_status s = window_attrs(c, nsp, w);
    if (s != RT_OK)
        return s;
    const int64_t *v;
    size_t n;
    if ((n = rt_node_attr_ints(c->node, "output_padding", &v))) {
        if ((int)n != nsp)
            return ops_err(c, RT_ERR_ATTR, "output_padding has %zu values, expected %d", n, nsp);
        for (int i = 0; i < nsp; i++)
            w->out_pad[i] = v[i];
    }
    const int64_t *oshape = NULL;
    size_t no = rt_node_attr_ints(c->node, "output_shape", &oshape);
    if (no && (int)no != nsp && (int)no != nsp + 2)
        return ops_err(c, RT_ERR_ATTR, "output_shape has %zu values, expected %d", no, nsp);
    if ((int)no == nsp + 2)
        oshape += 2;
    const char *ap = rt_node_attr_string(c->node, "auto_pad", "NOTSET");
    for (int i = 0; i < nsp; i++) {
        w->in[i] = in[i];
        w->k[i] = k[i];
        int64_t ek = (k[i] - 1) * w->dil[i] + 1;
        if (in[i] < 0) {
            w->out[i] = RT_DIM_UNKNOWN;
            continue;
        }
        int64_t full = w->stride[i] * (in[i] - 1) + w->out_pad[i] + ek;
        if (no || strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
            int64_t target = no ? oshape[i] : in[i] * w->stride[i];
            int64_t total = full - target;
            if (total < 0)
                total = 0;
            bool lower = strcmp(ap, "SAME_LOWER") == 0;
            w->pad_b[i] = lower ? total - total / 2 : total / 2;
            w->pad_e[i] = total - w->pad_b[i];
            w->out[i] = target;
        } else {
            if (strcmp(ap, "VALID") == 0)
                w->pad_b[i] = w->pad_e[i] = 0;
            w->out[i] = full - w->pad_b[i] - w->pad_e[i];
        }
        if (w->out[i] < 0)
            return ops_err(c, RT_ERR_SHAPE, "output size on spatial axis %d is negative", i);
    }
    return RT_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

rt_status ops_slice_params(const rt_op_ctx *c, ops_slice *s)
{
    const rt_tensor *x = c->in[0];
    int r = x->rank;
    s->rank = r;
    for (int i = 0; i < r; i++) {
        s->start[i] = 0;
        s->step[i] = 1;
        s->out[i] = x->dims[i];
    }
    int64_t starts[RT_MAX_RANK], ends[RT_MAX_RANK], axes[RT_MAX_RANK], steps[RT_MAX_RANK];
    int64_t n;
    if (c->opset < 10) {
        const int64_t *v;
        size_t ns = rt_node_attr_ints(c->node, "starts", &v);
        if (ns > RT_MAX_RANK)
            return ops_err(c, RT_ERR_ATTR, "too many starts");
        memcpy(starts, v, ns * sizeof *v);
        size_t ne = rt_node_attr_ints(c->node, "ends", &v);
        if (ne != ns)
            return ops_err(c, RT_ERR_ATTR, "starts and ends differ in length");
        memcpy(ends, v, ne * sizeof *v);
        n = (int64_t)ns;
        size_t na = rt_node_attr_ints(c->node, "axes", &v);
        if (na && na != ns)
            return ops_err(c, RT_ERR_ATTR, "axes and starts differ in length");
        for (int64_t i = 0; i < n; i++) {
            axes[i] = na ? v[i] : i;
            steps[i] = 1;
        }
    } else {
        for (int k = 1; k <= 2; k++) {
            rt_status st = ops_need_input(c, k, true);
            if (st != RT_OK)
                return st;
        }
        n = ops_read_ints(c->in[1], starts, RT_MAX_RANK + 1);
        if (n > RT_MAX_RANK || ops_read_ints(c->in[2], ends, RT_MAX_RANK + 1) != n)
            return ops_err(c, RT_ERR_SHAPE, "starts and ends must have the same length, at most the rank");
        for (int64_t i = 0; i < n; i++) {
            axes[i] = i;
            steps[i] = 1;
        }
        if (ops_has_input(c, 3)) {
            if (!c->in[3]->data)
                return ops_err(c, RT_ERR_NO_DATA, "axes input has no data");
            if (ops_read_ints(c->in[3], axes, RT_MAX_RANK + 1) != n)
                return ops_err(c, RT_ERR_SHAPE, "axes must have as many entries as starts");
        }
        if (ops_has_input(c, 4)) {
            if (!c->in[4]->data)
                return ops_err(c, RT_ERR_NO_DATA, "steps input has no data");
            if (ops_read_ints(c->in[4], steps, RT_MAX_RANK + 1) != n)
                return ops_err(c, RT_ERR_SHAPE, "steps must have as many entries as starts");
        }
    }
    bool seen[RT_MAX_RANK] = {false};
    for (int64_t i = 0; i < n; i++) {
        int a;
        rt_status st = ops_axis(c, axes[i], r, "slice axis", &a);
        if (st != RT_OK)
            return st;
        if (seen[a])
            return ops_err(c, RT_ERR_ATTR, "slice axis %d given twice", a);
        seen[a] = true;
        if (steps[i] == 0)
            return ops_err(c, RT_ERR_ATTR, "slice step on axis %d is 0", a);
        int64_t d = x->dims[a];
        if (d < 0) {
            s->out[a] = RT_DIM_UNKNOWN;
            continue;
        }
        int64_t st0 = starts[i], en = ends[i], step = steps[i];
        if (st0 < 0)
            st0 = st0 < -d ? 0 : st0 + d;
        if (en < 0)
            en = en < -d ? -1 : en + d; /* -1 before the beginning for negative steps */
        if (step > 0) {
            st0 = clamp64(st0, 0, d);
            en = clamp64(en, 0, d);
            s->out[a] = en > st0 ? (en - st0 + step - 1) / step : 0;
        } else {
            st0 = clamp64(st0, -1, d - 1);
            en = clamp64(en, -1, d - 1);
            s->out[a] = st0 > en ? (st0 - en + (-step) - 1) / (-step) : 0;
        }
        s->start[a] = st0;
        s->step[a] = step;
    }
    return RT_OK;
}

rt_status ops_axes(const rt_op_ctx *c, int in_idx, int64_t input_opset, int64_t *axes, int *n, bool *present)
{
    *n = 0;
    *present = false;
    if (c->opset >= input_opset) {
        if (!ops_has_input(c, in_idx))
            return RT_OK;
        const rt_tensor *t = c->in[in_idx];
        if (!t->data)
            return ops_err(c, RT_ERR_NO_DATA, "axes input '%s' has no data", t->name);
        int64_t cnt = ops_read_ints(t, axes, RT_MAX_RANK + 1);
        if (cnt > RT_MAX_RANK)
            return ops_err(c, RT_ERR_SHAPE, "more than %d axes", RT_MAX_RANK);
        *n = (int)cnt;
        *present = true;
        return RT_OK;
    }
    const int64_t *v;
    size_t cnt = rt_node_attr_ints(c->node, "axes", &v);
    const rt_attr *a = rt_node_attr(c->node, "axes");
    if (!a)
        return RT_OK;
    if (a->type != RT_ATTR_INTS && a->type != RT_ATTR_INT)
        return ops_err(c, RT_ERR_ATTR, "attribute 'axes' must be integers (it has type %d)", (int)a->type);
    if (cnt > RT_MAX_RANK)
        return ops_err(c, RT_ERR_ATTR, "more than %d axes", RT_MAX_RANK);
    memcpy(axes, v, cnt * sizeof *v);
    *n = (int)cnt;
    *present = true;
    return RT_OK;
}

rt_status ops_split_sizes(const rt_op_ctx *c, int *axis, int64_t *sizes)
{
    const rt_tensor *x = c->in[0];
    rt_status s = ops_axis(c, rt_node_attr_int(c->node, "axis", 0), x->rank, "axis", axis);
    if (s != RT_OK)
        return s;
    int64_t d = x->dims[*axis];
    int nout = c->n_out;
    int64_t given[64];
    int64_t ng = -1;
    if (c->opset >= 13) {
        if (ops_has_input(c, 1)) {
            if (!c->in[1]->data)
                return ops_err(c, RT_ERR_NO_DATA, "split input has no data");
            ng = ops_read_ints(c->in[1], given, 64);
        }
    } else {
        const int64_t *v;
        size_t n = rt_node_attr_ints(c->node, "split", &v);
        if (n) {
            if (n > 64)
                return ops_err(c, RT_ERR_ATTR, "too many split sizes");
            memcpy(given, v, n * sizeof *v);
            ng = (int64_t)n;
        }
    }
    if (ng >= 0) {
        if (ng != nout)
            return ops_err(c, RT_ERR_ATTR, "%lld split sizes for %d outputs", (long long)ng, nout);
        int64_t sum = 0;
        for (int i = 0; i < nout; i++) {
            if (given[i] < 0)
                return ops_err(c, RT_ERR_ATTR, "negative split size %lld", (long long)given[i]);
            sizes[i] = given[i];
            sum += given[i];
        }
        if (d >= 0 && sum != d)
            return ops_err(c, RT_ERR_SHAPE, "split sizes sum to %lld but axis %d has %lld", (long long)sum, *axis,
                           (long long)d);
        return RT_OK;
    }
    int64_t parts = rt_node_attr_int(c->node, "num_outputs", nout);
    if (parts != nout || nout < 1)
        return ops_err(c, RT_ERR_ATTR, "num_outputs %lld does not match %d outputs", (long long)parts, nout);
    for (int i = 0; i < nout; i++) {
        if (d < 0) {
            sizes[i] = RT_DIM_UNKNOWN;
            continue;
        }
        int64_t chunk = (d + nout - 1) / nout; /* opset 18: the last chunk may be smaller */
        if (c->opset < 18 && d % nout != 0)
            return ops_err(c, RT_ERR_SHAPE, "axis %d of size %lld does not split evenly into %d", *axis,
                           (long long)d, nout);
        int64_t lo = chunk * i, hi = lo + chunk > d ? d : lo + chunk;
        sizes[i] = hi > lo ? hi - lo : 0;
    }
    return RT_OK;
}

rt_status ops_resize_params(const rt_op_ctx *c, int64_t *out_dims, double *scales)
{
    const rt_tensor *x = c->in[0];
    int r = x->rank;
    const rt_tensor *sc = NULL, *sz = NULL;
    bool upsample = strcmp(c->node->op_type, "Upsample") == 0;
    if (upsample) {
        if (c->opset < 9) {
            const float *f;
            size_t n = rt_node_attr_floats(c->node, "scales", &f);
            if ((int)n != r)
                return ops_err(c, RT_ERR_ATTR, "scales has %zu values for rank %d", n, r);
            for (int i = 0; i < r; i++) {
                scales[i] = f[i];
                double o = floor((double)x->dims[i] * f[i]);
                if (!(f[i] > 0) || o > (double)RT_MAX_ELEMENTS)
                    return ops_err(c, RT_ERR_ATTR, "scale %g on axis %d is invalid", (double)f[i], i);
                out_dims[i] = x->dims[i] < 0 ? RT_DIM_UNKNOWN : (int64_t)o;
            }
            return RT_OK;
        }
        sc = ops_has_input(c, 1) ? c->in[1] : NULL;
    } else if (c->opset < 11) {
        sc = ops_has_input(c, 1) ? c->in[1] : NULL;
    } else {
        sc = ops_has_input(c, 2) ? c->in[2] : NULL;
        sz = ops_has_input(c, 3) ? c->in[3] : NULL;
        if (sc && rt_tensor_numel(sc) == 0)
            sc = NULL; /* an empty scales tensor means "use sizes" */
    }
    if (sz) {
        if (!sz->data)
            return ops_err(c, RT_ERR_NO_DATA, "sizes input has no data");
        int64_t v[RT_MAX_RANK + 1];
        if (ops_read_ints(sz, v, RT_MAX_RANK + 1) != r)
            return ops_err(c, RT_ERR_SHAPE, "sizes must have %d entries", r);
        for (int i = 0; i < r; i++) {
            if (v[i] < 0)
                return ops_err(c, RT_ERR_SHAPE, "negative size %lld", (long long)v[i]);
            out_dims[i] = v[i];
            scales[i] = x->dims[i] > 0 ? (double)v[i] / (double)x->dims[i] : 1.0;
        }
        return RT_OK;
    }
    if (!sc)
        return ops_err(c, RT_ERR_MISSING_INPUT, "neither scales nor sizes given");
    if (!sc->data)
        return ops_err(c, RT_ERR_NO_DATA, "scales input has no data");
    if (rt_tensor_numel(sc) != r)
        return ops_err(c, RT_ERR_SHAPE, "scales must have %d entries", r);
    for (int i = 0; i < r; i++) {
        scales[i] = rt_tensor_get_f64(sc, i);
        if (!(scales[i] > 0))
            return ops_err(c, RT_ERR_ATTR, "scale %g on axis %d must be > 0", scales[i], i);
        double o = floor((double)x->dims[i] * (float)scales[i]);
        if (o > (double)RT_MAX_ELEMENTS)
            return ops_err(c, RT_ERR_LIMIT, "scale %g on axis %d gives an absurd size", scales[i], i);
        out_dims[i] = x->dims[i] < 0 ? RT_DIM_UNKNOWN : (int64_t)o;
    }
    return RT_OK;
}

void ops_matmul_promote(const rt_tensor *a, const rt_tensor *b, rt_tensor *a2, rt_tensor *b2)
{
    *a2 = *a;
    *b2 = *b;
    if (a->rank == 1) {
        a2->rank = 2;
        a2->dims[0] = 1;
        a2->dims[1] = a->dims[0];
    }
    if (b->rank == 1) {
        b2->rank = 2;
        b2->dims[0] = b->dims[0];
        b2->dims[1] = 1;
    }
}
