/* ops_util.c -- helpers every inference function and kernel uses: error messages that name
 * the node, axis normalisation, numpy broadcasting, reading small integer tensors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

rt_status ops_err(const rt_op_ctx *c, rt_status code, const char *fmt, ...)
{
    char body[RT_ERROR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return rt_error_set(c->err, code, "node %.200s: %.300s", ops_node_label(c), body);
}

rt_status ops_axis(const rt_op_ctx *c, int64_t axis, int rank, const char *what, int *out)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank || rank <= 0)
        return ops_err(c, RT_ERR_ATTR, "%s %lld is out of range for rank %d", what, (long long)axis, rank);
    *out = (int)a;
    return RT_OK;
}

rt_status ops_need_input(const rt_op_ctx *c, int i, bool need_data)
{
    if (!ops_has_input(c, i))
        return ops_err(c, RT_ERR_MISSING_INPUT, "required input %d is missing", i);
    if (need_data && !c->in[i]->data)
        return ops_err(c, RT_ERR_NO_DATA, "input %d ('%s') must be a constant with data", i, c->in[i]->name);
    return RT_OK;
}

rt_status ops_need_typed(const rt_op_ctx *c, int i)
{
    rt_status s = ops_need_input(c, i, false);
    if (s == RT_OK && c->in[i]->dtype == RT_DT_UNDEFINED)
        return ops_err(c, RT_ERR_DTYPE, "input %d ('%s') has no known type", i, c->in[i]->name);
    return s;
}

rt_status ops_need_typed_n(const rt_op_ctx *c, int n)
{
    for (int i = 0; i < n; i++) {
        rt_status s = ops_need_typed(c, i);
        if (s != RT_OK)
            return s;
    }
    return RT_OK;
}

void ops_clear_err(const rt_op_ctx *c)
{
    if (c->err)
        c->err->code = RT_OK;
}

rt_status ops_set_unknown_dims(const rt_op_ctx *c, int out, rt_dtype dt, int rank)
{
    int64_t d[RT_MAX_RANK];
    for (int i = 0; i < RT_MAX_RANK; i++)
        d[i] = RT_DIM_UNKNOWN;
    return ops_set_output(c, out, dt, rank, d);
}

rt_status ops_set_output(const rt_op_ctx *c, int i, rt_dtype dt, int rank, const int64_t *dims)
{
    if (i >= c->n_out || !c->out[i])
        return RT_OK; /* optional output not requested */
    rt_tensor *t = c->out[i];
    if (rank < -1) /* (an inference's arithmetic on counts it did not check; -1 is "unknown") */
        return ops_err(c, RT_ERR_SHAPE, "output '%.200s' would have rank %d", t->name, rank);
    if (rank >= 0) {
        rt_error e;
        if (rt_shape_check(rank, dims, "output", &e) != RT_OK) {
            /* the message names the output: formatted only when there is one (every node's
             * inference passes here: a whole what-if's modules spent 0.9% of it in snprintf) */
            char what[256];
            snprintf(what, sizeof what, "output '%.200s'", t->name);
            rt_shape_check(rank, dims, what, &e);
            return ops_err(c, e.code, "%s", e.msg);
        }
        for (int k = 0; k < rank; k++)
            t->dims[k] = dims[k];
    }
    t->rank = rank;
    t->dtype = dt;
    return RT_OK;
}

rt_status ops_broadcast(const rt_op_ctx *c, int n, const rt_tensor *const *ts, int *rank, int64_t *dims)
{
    int r = 0;
    for (int k = 0; k < n; k++) {
        if (!ts[k])
            continue;
        if (ts[k]->rank < 0) {
            *rank = -1;
            return RT_OK;
        }
        if (ts[k]->rank > r)
            r = ts[k]->rank;
    }
    for (int d = 0; d < r; d++)
        dims[d] = 1;
    for (int k = 0; k < n; k++) {
        const rt_tensor *t = ts[k];
        if (!t)
            continue;
        for (int d = 0; d < t->rank; d++) {
            int od = r - t->rank + d;
            int64_t a = dims[od], b = t->dims[d];
            if (b == 1)
                continue;
            if (a == 1)
                dims[od] = b;
            else if (a == RT_DIM_UNKNOWN || b == RT_DIM_UNKNOWN)
                dims[od] = (a == RT_DIM_UNKNOWN) ? b : a;
            else if (a != b) {
                char s1[96];
                return ops_err(c, RT_ERR_SHAPE, "shapes do not broadcast: '%s' %s against dimension %lld", t->name,
                               rt_shape_str(t, s1, sizeof s1), (long long)a);
            }
        }
    }
    *rank = r;
    return RT_OK;
}

int64_t ops_read_ints(const rt_tensor *t, int64_t *vals, int64_t max)
{
    if (!t || !t->data)
        return -1;
    int64_t n = rt_tensor_numel(t);
    if (n < 0)
        return -1;
    if (n > max)
        n = max;
    for (int64_t i = 0; i < n; i++)
        vals[i] = rt_tensor_get_i64(t, i);
    return n;
}
