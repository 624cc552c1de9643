/* cpu_control.c -- the kernels of If, Loop and Scan: they run subgraphs through the runner in
 * their context (the CPU executor's cpu_exec_body unless the run pipeline installed its own, to
 * account the modelled cost of what runs). Only the taken branch of an If runs. Outputs are
 * sized here, not by inference: a Loop's scan outputs are known when it ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_exec.h"
#include "cpu_util.h"

/* A Loop that has run this many iterations is refused: a model that means to loop longer is
 * not a model this reference runs, and a condition that never turns false must not hang it. */
#define LOOP_MAX_ITERATIONS (INT64_C(1) << 24)

static rt_status run_body(const rt_op_ctx *c, const rt_graph *body, rt_tensor *const *args, rt_tensor **results)
{
    if (c->runner)
        return c->runner->run(c->runner, body, args, results, c->err);
    return cpu_exec_body(body, args, results, NULL, c->err);
}

/* Move value v (type, shape, data) into output slot out; v is freed. */
static void take_value(rt_tensor *out, rt_tensor *v)
{
    if (!out) {
        rt_tensor_free(v);
        return;
    }
    out->dtype = v->dtype;
    out->rank = v->rank;
    memcpy(out->dims, v->dims, sizeof out->dims);
    free(out->data);
    out->data = v->data;
    out->data_bytes = v->data_bytes;
    v->data = NULL;
    rt_tensor_free(v);
}

static void free_values(rt_tensor **v, int n)
{
    for (int i = 0; v && i < n; i++) {
        rt_tensor_free(v[i]);
        v[i] = NULL;
    }
}

static rt_tensor *scalar_value(rt_dtype t, int64_t v)
{
    rt_tensor *s = rt_tensor_new("", t, 0, NULL);
    if (s && rt_tensor_alloc(s, NULL) != RT_OK) {
        rt_tensor_free(s);
        return NULL;
    }
    if (s)
        cpu_sti(t, s->data, 0, v);
    return s;
}

static rt_status body_error(const rt_op_ctx *c, const char *what, int64_t iteration, rt_status s)
{
    char inner[RT_ERROR_MSG_BYTES];
    snprintf(inner, sizeof inner, "%s", c->err ? c->err->msg : "");
    if (iteration < 0)
        return ops_err(c, s, "%s: %s", what, inner);
    return ops_err(c, s, "%s, iteration %lld: %s", what, (long long)iteration, inner);
}

/* ---- If */

rt_status cpu_if(rt_op_ctx *c)
{
    const rt_tensor *cond = c->in[0];
    if (rt_tensor_numel(cond) != 1)
        return ops_err(c, RT_ERR_SHAPE, "the condition must hold one value");
    const char *which = rt_tensor_get_f64(cond, 0) != 0 ? "then_branch" : "else_branch";
    const rt_graph *body = rt_node_attr_graph(c->node, which);
    if (!body || body->n_inputs != 0 || body->n_outputs != c->n_out)
        return ops_err(c, RT_ERR_ATTR, "%s is missing, has inputs or does not give %d outputs", which, c->n_out);
    rt_tensor **res = calloc((size_t)c->n_out + 1, sizeof *res);
    if (!res)
        return ops_err(c, RT_ERR_NOMEM, "out of memory");
    rt_status s = run_body(c, body, c->in + rt_node_explicit_inputs(c->node), res);
    if (s != RT_OK)
        s = body_error(c, which, -1, s);
    for (int k = 0; k < c->n_out && s == RT_OK; k++) {
        take_value(c->out[k], res[k]);
        res[k] = NULL;
    }
    free_values(res, c->n_out);
    free(res);
    return s;
}

/* ---- stacking per-iteration values (Loop and Scan outputs) */

typedef struct stack {
    rt_tensor **v;
    int64_t n, cap;
} stack;

static rt_status stack_push(const rt_op_ctx *c, stack *st, rt_tensor *v, int k)
{
    if (st->n && (v->dtype != st->v[0]->dtype || v->rank != st->v[0]->rank ||
                  memcmp(v->dims, st->v[0]->dims, (size_t)v->rank * sizeof v->dims[0]) != 0)) {
        char s1[96], s2[96];
        rt_tensor_free(v);
        return ops_err(c, RT_ERR_SHAPE, "scan output %d changes from %s %s to %s %s between iterations", k,
                       rt_dtype_name(st->v[0]->dtype), rt_shape_str(st->v[0], s1, sizeof s1),
                       rt_dtype_name(v->dtype), rt_shape_str(v, s2, sizeof s2));
    }
    if (st->n == st->cap) {
        int64_t nc = st->cap ? st->cap * 2 : 16;
        rt_tensor **p = realloc(st->v, (size_t)nc * sizeof *p);
        if (!p) {
            rt_tensor_free(v);
            return ops_err(c, RT_ERR_NOMEM, "out of memory");
        }
        st->v = p;
        st->cap = nc;
    }
    st->v[st->n++] = v;
    return RT_OK;
}

static void stack_free(stack *st)
{
    for (int64_t i = 0; i < st->n; i++)
        rt_tensor_free(st->v[i]);
    free(st->v);
    memset(st, 0, sizeof *st);
}

/* Bytes of one element, refusing sub-byte types (slices would split bytes). */
static rt_status elem_bytes(const rt_op_ctx *c, rt_dtype t, size_t *eb)
{
    unsigned bits = rt_dtype_bits(t);
    if (bits < 8)
        return ops_err(c, RT_ERR_DTYPE, "%s values cannot be scanned or stacked", rt_dtype_name(t));
    *eb = bits / 8;
    return RT_OK;
}

/* Stack st's values along a new axis `axis` of out (position p of value i: reversed ? n-1-i : i,
 * at len positions, zero beyond n). like gives type and shape when there is no value. */
static rt_status stack_write(const rt_op_ctx *c, stack *st, int axis, bool reversed, int64_t len, const rt_tensor *like,
                             rt_tensor *out)
{
    if (!out)
        return RT_OK;
    const rt_tensor *e = st->n ? st->v[0] : like;
    int rank = e->rank < 0 ? 0 : e->rank;
    if (rank + 1 > RT_MAX_RANK)
        return ops_err(c, RT_ERR_LIMIT, "a stacked output would have rank %d > %d", rank + 1, RT_MAX_RANK);
    int64_t dims[RT_MAX_RANK];
    for (int d = 0, r = 0; d <= rank; d++) {
        if (d == axis) {
            dims[d] = len;
            continue;
        }
        dims[d] = e->rank < 0 || e->dims[r] < 0 ? 0 : e->dims[r]; /* unknown only when nothing ran */
        r++;
    }
    rt_tensor *v = rt_tensor_new(out->name, e->dtype == RT_DT_UNDEFINED ? RT_DT_F32 : e->dtype, rank + 1, dims);
    rt_status s = v ? rt_tensor_alloc(v, c->err) : ops_err(c, RT_ERR_NOMEM, "out of memory");
    size_t eb = 0;
    if (s == RT_OK)
        s = elem_bytes(c, v->dtype, &eb);
    if (s != RT_OK) {
        rt_tensor_free(v);
        return s;
    }
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= dims[d];
    for (int d = axis + 1; d <= rank; d++)
        inner *= dims[d];
    size_t block = (size_t)inner * eb;
    for (int64_t i = 0; i < st->n; i++) {
        int64_t p = reversed ? st->n - 1 - i : i;
        const uint8_t *src = st->v[i]->data;
        for (int64_t o = 0; o < outer; o++)
            memcpy((uint8_t *)v->data + ((size_t)(o * len + p)) * block, src + (size_t)o * block, block);
    }
    take_value(out, v);
    return RT_OK;
}

/* ---- Loop */

rt_status cpu_loop(rt_op_ctx *c)
{
    const rt_graph *body = rt_node_attr_graph(c->node, "body");
    int n_in = rt_node_explicit_inputs(c->node), n_carried = n_in - 2, n_scan = c->n_out - n_carried;
    if (!body || n_carried < 0 || n_scan < 0 || body->n_inputs != 2 + n_carried ||
        body->n_outputs != 1 + n_carried + n_scan)
        return ops_err(c, RT_ERR_ATTR, "the body does not fit the node's inputs and outputs");
    int64_t m = ops_has_input(c, 0) ? rt_tensor_get_i64(c->in[0], 0) : INT64_MAX;
    bool cond = ops_has_input(c, 1) ? rt_tensor_get_f64(c->in[1], 0) != 0 : true;
    if (ops_has_input(c, 0) && rt_tensor_numel(c->in[0]) != 1)
        return ops_err(c, RT_ERR_SHAPE, "M must hold one value");
    int n_args = body->n_inputs + body->n_captures;
    rt_tensor **args = calloc((size_t)n_args + 1, sizeof *args);
    rt_tensor **carried = calloc((size_t)n_carried + 1, sizeof *carried);
    rt_tensor **res = calloc((size_t)body->n_outputs + 1, sizeof *res);
    stack *scans = calloc((size_t)n_scan + 1, sizeof *scans);
    rt_status s = RT_OK;
    if (!args || !carried || !res || !scans)
        s = ops_err(c, RT_ERR_NOMEM, "out of memory");
    for (int j = 0; j < n_carried && s == RT_OK; j++)
        if (!(carried[j] = rt_tensor_clone(c->in[2 + j])))
            s = ops_err(c, RT_ERR_NOMEM, "out of memory");
    int64_t i = 0;
    for (; s == RT_OK && i < m && cond; i++) {
        if (i == LOOP_MAX_ITERATIONS) {
            s = ops_err(c, RT_ERR_LIMIT, "more than %lld iterations", (long long)LOOP_MAX_ITERATIONS);
            break;
        }
        args[0] = scalar_value(RT_DT_I64, i);
        args[1] = scalar_value(RT_DT_BOOL, cond);
        if (!args[0] || !args[1]) {
            s = ops_err(c, RT_ERR_NOMEM, "out of memory");
            break;
        }
        for (int j = 0; j < n_carried; j++)
            args[2 + j] = carried[j];
        for (int k = 0; k < body->n_captures; k++)
            args[body->n_inputs + k] = c->in[n_in + k];
        s = run_body(c, body, args, res);
        rt_tensor_free(args[0]);
        rt_tensor_free(args[1]);
        args[0] = args[1] = NULL;
        if (s != RT_OK) {
            s = body_error(c, "body", i, s);
            break;
        }
        if (rt_tensor_numel(res[0]) != 1) {
            s = ops_err(c, RT_ERR_SHAPE, "body, iteration %lld: the condition output must hold one value", (long long)i);
            break;
        }
        cond = rt_tensor_get_f64(res[0], 0) != 0;
        for (int j = 0; j < n_carried; j++) {
            rt_tensor_free(carried[j]);
            carried[j] = res[1 + j];
            res[1 + j] = NULL;
        }
        for (int k = 0; k < n_scan && s == RT_OK; k++) {
            s = stack_push(c, &scans[k], res[1 + n_carried + k], k);
            res[1 + n_carried + k] = NULL;
        }
        free_values(res, body->n_outputs);
    }
    for (int j = 0; j < n_carried && s == RT_OK; j++) {
        take_value(c->out[j], carried[j]);
        carried[j] = NULL;
    }
    for (int k = 0; k < n_scan && s == RT_OK; k++)
        s = stack_write(c, &scans[k], 0, false, scans[k].n, body->tensors[body->outputs[1 + n_carried + k]],
                        c->out[n_carried + k]);
    free_values(carried, n_carried);
    free_values(res, body ? body->n_outputs : 0);
    for (int k = 0; scans && k < n_scan; k++)
        stack_free(&scans[k]);
    free(args);
    free(carried);
    free(res);
    free(scans);
    return s;
}

/* ---- Scan */

/* Slice index p of t along axis: a value with that axis removed. */
static rt_tensor *slice_at(const rt_op_ctx *c, const rt_tensor *t, int axis, int64_t p, rt_status *s)
{
    size_t eb = 0;
    if ((*s = elem_bytes(c, t->dtype, &eb)) != RT_OK)
        return NULL;
    int64_t dims[RT_MAX_RANK], outer = 1, inner = 1;
    for (int d = 0, w = 0; d < t->rank; d++)
        if (d != axis)
            dims[w++] = t->dims[d];
    for (int d = 0; d < axis; d++)
        outer *= t->dims[d];
    for (int d = axis + 1; d < t->rank; d++)
        inner *= t->dims[d];
    rt_tensor *v = rt_tensor_new(t->name, t->dtype, t->rank - 1, dims);
    if (!v || rt_tensor_alloc(v, c->err) != RT_OK) {
        rt_tensor_free(v);
        *s = ops_err(c, RT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t block = (size_t)inner * eb;
    int64_t len = t->dims[axis];
    for (int64_t o = 0; o < outer; o++)
        memcpy((uint8_t *)v->data + (size_t)o * block, (const uint8_t *)t->data + (size_t)(o * len + p) * block, block);
    return v;
}

/* One scan: states (owned, replaced as it goes) over `len` steps of the scanned inputs. */
typedef struct scan_spec {
    const rt_graph *body;
    int n_state, n_scan_in, n_scan_out;
    const rt_tensor *const *scan_in; /* n_scan_in values */
    const int *in_axis;
    const bool *in_reversed;
    rt_tensor *const *captures;
} scan_spec;

static rt_status scan_run(const rt_op_ctx *c, const scan_spec *sp, int64_t len, rt_tensor **states, stack *outs)
{
    const rt_graph *body = sp->body;
    int n_args = body->n_inputs + body->n_captures;
    rt_tensor **args = calloc((size_t)n_args + 1, sizeof *args);
    rt_tensor **res = calloc((size_t)body->n_outputs + 1, sizeof *res);
    rt_status s = args && res ? RT_OK : ops_err(c, RT_ERR_NOMEM, "out of memory");
    for (int64_t t = 0; t < len && s == RT_OK; t++) {
        for (int j = 0; j < sp->n_state; j++)
            args[j] = states[j];
        for (int i = 0; i < sp->n_scan_in && s == RT_OK; i++)
            args[sp->n_state + i] = slice_at(c, sp->scan_in[i], sp->in_axis[i], sp->in_reversed[i] ? len - 1 - t : t, &s);
        for (int k = 0; k < body->n_captures; k++)
            args[body->n_inputs + k] = sp->captures[k];
        if (s == RT_OK && (s = run_body(c, body, args, res)) != RT_OK)
            s = body_error(c, "body", t, s);
        for (int i = 0; i < sp->n_scan_in; i++) {
            rt_tensor_free(args[sp->n_state + i]);
            args[sp->n_state + i] = NULL;
        }
        if (s != RT_OK)
            break;
        for (int j = 0; j < sp->n_state; j++) {
            rt_tensor_free(states[j]);
            states[j] = res[j];
            res[j] = NULL;
        }
        for (int k = 0; k < sp->n_scan_out && s == RT_OK; k++) {
            s = stack_push(c, &outs[k], res[sp->n_state + k], k);
            res[sp->n_state + k] = NULL;
        }
        free_values(res, body->n_outputs);
    }
    if (res)
        free_values(res, body->n_outputs);
    free(args);
    free(res);
    return s;
}

static bool attr_flag(const rt_node *n, const char *name, int i)
{
    const int64_t *v;
    size_t k = rt_node_attr_ints(n, name, &v);
    return (size_t)i < k && v[i] != 0;
}

static rt_status scan_axis_of(const rt_op_ctx *c, const char *name, int i, int rank, int *axis)
{
    const int64_t *v;
    size_t k = rt_node_attr_ints(c->node, name, &v);
    return ops_axis(c, (size_t)i < k ? v[i] : 0, rank, name, axis);
}

/* Scan-9 and later: no batch axis, per-input axes and directions. */
static rt_status scan9(rt_op_ctx *c, const scan_spec *base)
{
    scan_spec sp = *base;
    int *axis = calloc((size_t)sp.n_scan_in + 1, sizeof *axis);
    bool *rev = calloc((size_t)sp.n_scan_in + 1, sizeof *rev);
    rt_tensor **states = calloc((size_t)sp.n_state + 1, sizeof *states);
    stack *outs = calloc((size_t)sp.n_scan_out + 1, sizeof *outs);
    rt_status s = axis && rev && states && outs ? RT_OK : ops_err(c, RT_ERR_NOMEM, "out of memory");
    int64_t len = -1;
    for (int i = 0; i < sp.n_scan_in && s == RT_OK; i++) {
        const rt_tensor *x = sp.scan_in[i];
        if ((s = scan_axis_of(c, "scan_input_axes", i, x->rank, &axis[i])) != RT_OK)
            break;
        rev[i] = attr_flag(c->node, "scan_input_directions", i);
        if (len >= 0 && x->dims[axis[i]] != len)
            s = ops_err(c, RT_ERR_SHAPE, "scanned inputs have sequence lengths %lld and %lld", (long long)len,
                        (long long)x->dims[axis[i]]);
        len = x->dims[axis[i]];
    }
    for (int j = 0; j < sp.n_state && s == RT_OK; j++)
        if (!(states[j] = rt_tensor_clone(c->in[j])))
            s = ops_err(c, RT_ERR_NOMEM, "out of memory");
    sp.in_axis = axis;
    sp.in_reversed = rev;
    if (s == RT_OK)
        s = scan_run(c, &sp, len, states, outs);
    for (int j = 0; j < sp.n_state && s == RT_OK; j++) {
        take_value(c->out[j], states[j]);
        states[j] = NULL;
    }
    for (int k = 0; k < sp.n_scan_out && s == RT_OK; k++) {
        const rt_tensor *like = sp.body->tensors[sp.body->outputs[sp.n_state + k]];
        int r = (outs[k].n ? outs[k].v[0]->rank : like->rank < 0 ? 0 : like->rank) + 1, a;
        if ((s = scan_axis_of(c, "scan_output_axes", k, r, &a)) == RT_OK)
            s = stack_write(c, &outs[k], a, attr_flag(c->node, "scan_output_directions", k), len, like,
                            c->out[sp.n_state + k]);
    }
    free_values(states, sp.n_state);
    for (int k = 0; outs && k < sp.n_scan_out; k++)
        stack_free(&outs[k]);
    free(axis);
    free(rev);
    free(states);
    free(outs);
    return s;
}

/* Scan-8: axis 0 of every input is a batch, the scanned inputs' axis 1 is time, and an optional
 * sequence_lens gives each batch entry its length (outputs are zero beyond it). Each batch entry
 * is one Scan-9 pass over its slices; the results are stacked back along axis 0. */
static rt_status scan8(rt_op_ctx *c, const scan_spec *base)
{
    scan_spec sp = *base;
    const rt_tensor *lens = ops_has_input(c, 0) ? c->in[0] : NULL;
    const rt_tensor *first = sp.n_state ? c->in[1] : sp.scan_in[0];
    if (first->rank < 1 || sp.scan_in[0]->rank < 2)
        return ops_err(c, RT_ERR_SHAPE, "Scan-8 inputs need a batch axis (and time for scanned ones)");
    int64_t batch = first->dims[0], seq = sp.scan_in[0]->dims[1];
    for (int i = 0; i < sp.n_state + sp.n_scan_in; i++)
        if (c->in[1 + i]->rank < 1 || c->in[1 + i]->dims[0] != batch)
            return ops_err(c, RT_ERR_SHAPE, "input %d does not have the batch size %lld", 1 + i, (long long)batch);
    if (lens && rt_tensor_numel(lens) != batch)
        return ops_err(c, RT_ERR_SHAPE, "sequence_lens has %lld values for a batch of %lld", (long long)rt_tensor_numel(lens),
                       (long long)batch);
    int n_in = sp.n_state + sp.n_scan_in;
    rt_tensor **slices = calloc((size_t)n_in + 1, sizeof *slices);
    int *axis = calloc((size_t)sp.n_scan_in + 1, sizeof *axis);
    bool *rev = calloc((size_t)sp.n_scan_in + 1, sizeof *rev);
    stack *batch_out = calloc((size_t)sp.n_state + sp.n_scan_out + 1, sizeof *batch_out);
    stack *outs = calloc((size_t)sp.n_scan_out + 1, sizeof *outs);
    rt_status s = slices && axis && rev && batch_out && outs ? RT_OK : ops_err(c, RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < sp.n_scan_in; i++)
        rev[i] = attr_flag(c->node, "directions", i);
    for (int64_t b = 0; b < batch && s == RT_OK; b++) {
        for (int i = 0; i < n_in && s == RT_OK; i++)
            slices[i] = slice_at(c, c->in[1 + i], 0, b, &s);
        int64_t len = lens ? rt_tensor_get_i64(lens, b) : seq;
        if (s == RT_OK && (len < 0 || len > seq))
            s = ops_err(c, RT_ERR_SHAPE, "sequence_lens[%lld] = %lld is outside 0..%lld", (long long)b, (long long)len,
                        (long long)seq);
        sp.scan_in = (const rt_tensor *const *)slices + sp.n_state;
        sp.in_axis = axis; /* time is axis 0 of a batch entry */
        sp.in_reversed = rev;
        if (s == RT_OK) {
            /* a reversed input runs from its last valid step: view only the first len steps */
            for (int i = 0; i < sp.n_scan_in && s == RT_OK && len < seq; i++)
                slices[sp.n_state + i]->dims[0] = len;
            s = scan_run(c, &sp, len, slices, outs);
            for (int i = 0; i < sp.n_scan_in; i++)
                slices[sp.n_state + i]->dims[0] = seq;
        }
        for (int j = 0; j < sp.n_state && s == RT_OK; j++) {
            s = stack_push(c, &batch_out[j], slices[j], j);
            slices[j] = NULL;
        }
        for (int k = 0; k < sp.n_scan_out && s == RT_OK; k++) {
            rt_tensor *o = rt_tensor_new("", RT_DT_UNDEFINED, 0, NULL);
            if (!o) {
                s = ops_err(c, RT_ERR_NOMEM, "out of memory");
                break;
            }
            o->rank = -1;
            s = stack_write(c, &outs[k], 0, false, seq, sp.body->tensors[sp.body->outputs[sp.n_state + k]], o);
            if (s == RT_OK)
                s = stack_push(c, &batch_out[sp.n_state + k], o, k);
            else
                rt_tensor_free(o);
            stack_free(&outs[k]);
        }
        free_values(slices, n_in);
    }
    for (int k = 0; k < sp.n_state + sp.n_scan_out && s == RT_OK; k++)
        s = stack_write(c, &batch_out[k], 0, false, batch, sp.body->tensors[sp.body->outputs[k]], c->out[k]);
    free_values(slices, n_in);
    for (int k = 0; batch_out && k < sp.n_state + sp.n_scan_out; k++)
        stack_free(&batch_out[k]);
    for (int k = 0; outs && k < sp.n_scan_out; k++)
        stack_free(&outs[k]);
    free(slices);
    free(axis);
    free(rev);
    free(batch_out);
    free(outs);
    return s;
}

rt_status cpu_scan(rt_op_ctx *c)
{
    const rt_graph *body = rt_node_attr_graph(c->node, "body");
    bool v8 = c->opset < 9;
    int first = v8 ? 1 : 0;
    int n_in = rt_node_explicit_inputs(c->node) - first;
    int64_t n_scan_in = rt_node_attr_int(c->node, "num_scan_inputs", -1);
    if (!body || n_scan_in < 1 || n_scan_in > n_in)
        return ops_err(c, RT_ERR_ATTR, "no body, or num_scan_inputs %lld is not in 1..%d", (long long)n_scan_in, n_in);
    int n_state = n_in - (int)n_scan_in, n_scan_out = c->n_out - n_state;
    if (n_scan_out < 0 || body->n_inputs != n_in || body->n_outputs != c->n_out)
        return ops_err(c, RT_ERR_ATTR, "the body does not fit the node's inputs and outputs");
    for (int i = first; i < first + n_in; i++)
        if (!ops_has_input(c, i))
            return ops_err(c, RT_ERR_MISSING_INPUT, "input %d is missing", i);
    scan_spec sp = {.body = body, .n_state = n_state, .n_scan_in = (int)n_scan_in, .n_scan_out = n_scan_out,
                    .scan_in = (const rt_tensor *const *)c->in + first + n_state,
                    .captures = c->in + rt_node_explicit_inputs(c->node)};
    if (v8)
        return scan8(c, &sp);
    return scan9(c, &sp);
}
