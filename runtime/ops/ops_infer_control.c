/* ops_infer_control.c -- type and shape inference of If, Loop and Scan, and their cost.
 *
 * Inferring a control-flow node prepares its subgraphs for the types and shapes its inputs have
 * now: the subgraph's inputs and captures take them (with the data of small outer constants,
 * so shape computations inside fold), then the subgraph goes through graph_prepare. A Loop's or
 * Scan's carried values may change shape from one iteration to the next (a growing sequence):
 * the body is inferred again with every dimension that changed made unknown until nothing
 * changes, and only then prepared (folded) -- so nothing is folded from a shape that holds for
 * the first iteration only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_impl.h"

/* At most this many rounds of carried-shape generalisation: each round makes at least one
 * dimension or a rank unknown, so rank + 2 rounds per carried value always suffice in practice. */
#define FIXPOINT_ROUNDS (RT_MAX_RANK + 2)

/* A type and shape, without data (what a subgraph input is bound to during inference). */
typedef struct shape_of {
    rt_dtype dtype;
    int rank;
    int64_t dims[RT_MAX_RANK];
} shape_of;

static shape_of shape_of_tensor(const rt_tensor *t)
{
    shape_of s = {t->dtype, t->rank, {0}};
    if (t->rank > 0)
        memcpy(s.dims, t->dims, (size_t)t->rank * sizeof s.dims[0]);
    return s;
}

static const shape_of SCALAR_I64 = {RT_DT_I64, 0, {0}};
static const shape_of SCALAR_BOOL = {RT_DT_BOOL, 0, {0}};

static rt_graph *body_attr(const rt_op_ctx *c, const char *name, rt_status *s)
{
    rt_graph *b = rt_node_attr_graph(c->node, name);
    if (!b)
        *s = ops_err(c, RT_ERR_ATTR, "graph attribute '%s' is missing", name);
    return b;
}

#define DIGEST_SEED UINT64_C(1469598103934665603) /* FNV-1a 64 */
#define DIGEST_PRIME UINT64_C(1099511628211)

static uint64_t digest(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * DIGEST_PRIME;
    return h;
}

/* The binding a subgraph would get: the formal inputs' types and shapes, the captures' types,
 * shapes, constness and (for the small constants bind_body copies) values. Never 0. */
static uint64_t binding_digest(const rt_op_ctx *c, const shape_of *formal, int n_formal)
{
    uint64_t h = digest(DIGEST_SEED, &n_formal, sizeof n_formal);
    for (int k = 0; k < n_formal; k++) {
        h = digest(h, &formal[k].dtype, sizeof formal[k].dtype);
        h = digest(h, &formal[k].rank, sizeof formal[k].rank);
        h = digest(h, formal[k].dims, (size_t)(formal[k].rank > 0 ? formal[k].rank : 0) * sizeof formal[k].dims[0]);
    }
    for (int k = rt_node_explicit_inputs(c->node); k < c->n_in; k++) {
        const rt_tensor *o = c->in[k];
        bool constant = o->kind == RT_TENSOR_CONSTANT;
        h = digest(h, &o->dtype, sizeof o->dtype);
        h = digest(h, &o->rank, sizeof o->rank);
        h = digest(h, o->dims, (size_t)(o->rank > 0 ? o->rank : 0) * sizeof o->dims[0]);
        h = digest(h, &constant, sizeof constant);
        if (constant && o->data && o->data_bytes <= RT_FOLD_MAX_BYTES_DEFAULT)
            h = digest(h, o->data, o->data_bytes);
    }
    return h ? h : 1;
}

/* Bind body's formal inputs to `formal` and its captures to the node's capture inputs. */
static rt_status bind_body(const rt_op_ctx *c, rt_graph *body, const char *what, const shape_of *formal, int n_formal)
{
    if (body->n_inputs != n_formal)
        return ops_err(c, RT_ERR_ATTR, "%s has %d inputs, expected %d", what, body->n_inputs, n_formal);
    int first_capture = rt_node_explicit_inputs(c->node);
    if (body->n_captures != c->node->n_captures)
        return ops_err(c, RT_ERR_ARG, "%s: %d captures for the node's %d", what, body->n_captures,
                       c->node->n_captures);
    for (int k = 0; k < n_formal; k++) {
        rt_tensor *t = body->tensors[body->inputs[k]];
        t->dtype = formal[k].dtype;
        t->rank = formal[k].rank;
        if (formal[k].rank > 0)
            memcpy(t->dims, formal[k].dims, (size_t)formal[k].rank * sizeof t->dims[0]);
    }
    for (int k = 0; k < body->n_captures; k++) {
        const rt_tensor *o = c->in[first_capture + k];
        rt_tensor *t = body->tensors[body->captures[k]];
        t->dtype = o->dtype;
        t->rank = o->rank;
        if (o->rank > 0)
            memcpy(t->dims, o->dims, (size_t)o->rank * sizeof t->dims[0]);
        free(t->data);
        t->data = NULL;
        t->data_bytes = 0;
        t->kind = o->kind == RT_TENSOR_CONSTANT ? RT_TENSOR_CONSTANT : RT_TENSOR_INPUT;
        if (o->kind == RT_TENSOR_CONSTANT && o->data && o->data_bytes <= RT_FOLD_MAX_BYTES_DEFAULT) {
            t->data = malloc(o->data_bytes ? o->data_bytes : 1);
            if (!t->data)
                return ops_err(c, RT_ERR_NOMEM, "%s: out of memory", what);
            memcpy(t->data, o->data, o->data_bytes);
            t->data_bytes = o->data_bytes;
        }
    }
    return RT_OK;
}

/* Prefix an error from a subgraph pass with the node and the subgraph. */
static rt_status body_failed(const rt_op_ctx *c, const char *what, rt_status s)
{
    char inner[RT_ERROR_MSG_BYTES];
    snprintf(inner, sizeof inner, "%s", c->err ? c->err->msg : "");
    return ops_err(c, s, "%s: %s", what, inner);
}

/* Infer body once (no folding: see the top of the file). */
static rt_status infer_only(const rt_op_ctx *c, rt_graph *body, const char *what)
{
    rt_status s = graph_validate(body, c->err);
    if (s == RT_OK)
        s = graph_topo_sort(body, c->err);
    if (s == RT_OK)
        s = graph_infer_shapes(body, c->err);
    return s == RT_OK ? RT_OK : body_failed(c, what, s);
}

static rt_status prepare(const rt_op_ctx *c, rt_graph *body, const char *what)
{
    rt_status s = graph_prepare(body, c->err);
    return s == RT_OK ? RT_OK : body_failed(c, what, s);
}

/* Merge a value's shape from another path into acc: a rank or dimension that differs becomes
 * unknown. Returns true if acc changed. */
static bool merge_shape(shape_of *acc, const rt_tensor *t)
{
    if (acc->rank < 0)
        return false;
    if (t->rank < 0 || t->rank != acc->rank) {
        acc->rank = -1;
        return true;
    }
    bool changed = false;
    for (int d = 0; d < acc->rank; d++)
        if (acc->dims[d] != RT_DIM_UNKNOWN && acc->dims[d] != t->dims[d]) {
            acc->dims[d] = RT_DIM_UNKNOWN;
            changed = true;
        }
    return changed;
}

static const rt_tensor *body_output(const rt_graph *body, int k)
{
    return body->tensors[body->outputs[k]];
}

/* Iterate the carried values' shapes to a fixed point, then prepare the body for them. formal
 * holds the body's inputs; carried[j] is formal[first + j] and comes back as body output
 * out_first + j. */
static rt_status carried_fixpoint(const rt_op_ctx *c, rt_graph *body, const char *what, shape_of *formal, int n_formal,
                                  int first, int n_carried, int out_first)
{
    uint64_t sig = binding_digest(c, formal, n_formal);
    if (body->prepared_for == sig && body->n_inputs == n_formal) { /* as last time: its inputs hold the fixed point */
        for (int k = 0; k < n_formal; k++)
            formal[k] = shape_of_tensor(body->tensors[body->inputs[k]]);
        return body->n_outputs >= out_first + n_carried
                   ? RT_OK
                   : ops_err(c, RT_ERR_ATTR, "%s has %d outputs, expected at least %d", what, body->n_outputs,
                             out_first + n_carried);
    }
    body->prepared_for = 0;
    for (int round = 0;; round++) {
        rt_status s = bind_body(c, body, what, formal, n_formal);
        if (s == RT_OK)
            s = infer_only(c, body, what);
        if (s != RT_OK)
            return s;
        if (body->n_outputs < out_first + n_carried)
            return ops_err(c, RT_ERR_ATTR, "%s has %d outputs, expected at least %d", what, body->n_outputs,
                           out_first + n_carried);
        bool changed = false;
        for (int j = 0; j < n_carried; j++) {
            const rt_tensor *o = body_output(body, out_first + j);
            if (o->dtype != formal[first + j].dtype)
                return ops_err(c, RT_ERR_DTYPE, "%s: carried value %d enters as %s but leaves as %s", what, j,
                               rt_dtype_name(formal[first + j].dtype), rt_dtype_name(o->dtype));
            changed |= merge_shape(&formal[first + j], o);
        }
        if (!changed)
            break;
        if (round == FIXPOINT_ROUNDS)
            return ops_err(c, RT_ERR_SHAPE, "%s: the carried values' shapes do not settle", what);
    }
    rt_status s = bind_body(c, body, what, formal, n_formal);
    if (s == RT_OK && (s = prepare(c, body, what)) == RT_OK)
        body->prepared_for = sig;
    return s;
}

/* ---- If */

rt_status infer_if(rt_op_ctx *c)
{
    rt_status s = ops_need_typed(c, 0);
    if (s != RT_OK)
        return s;
    rt_graph *br[2] = {body_attr(c, "then_branch", &s), NULL};
    if (br[0])
        br[1] = body_attr(c, "else_branch", &s);
    if (!br[1])
        return s;
    const rt_tensor *cond = c->in[0];
    if (rt_tensor_numel(cond) > 1 || (cond->rank >= 0 && rt_tensor_numel(cond) == 0))
        return ops_err(c, RT_ERR_SHAPE, "the condition must hold one value");
    static const char *const names[2] = {"then_branch", "else_branch"};
    /* a constant condition: only the branch it selects must make sense (the other may not fit
     * these shapes at all; graph_prepare inlines the taken one) */
    int taken = cond->data ? (rt_tensor_get_f64(cond, 0) != 0 ? 0 : 1) : -1;
    uint64_t sig = binding_digest(c, NULL, 0);
    for (int b = 0; b < 2; b++) {
        if (taken >= 0 && b != taken)
            continue;
        if (br[b]->prepared_for != sig) {
            if ((s = bind_body(c, br[b], names[b], NULL, 0)) != RT_OK || (s = prepare(c, br[b], names[b])) != RT_OK)
                return s;
            br[b]->prepared_for = sig;
        }
        if (br[b]->n_outputs != c->n_out)
            return ops_err(c, RT_ERR_ATTR, "%s has %d outputs, the node %d", names[b], br[b]->n_outputs, c->n_out);
    }
    for (int k = 0; k < c->n_out; k++) {
        const rt_tensor *t = body_output(br[taken == 1 ? 1 : 0], k), *f = body_output(br[taken == 0 ? 0 : 1], k);
        if (t->dtype != f->dtype)
            return ops_err(c, RT_ERR_DTYPE, "output %d is %s in then_branch but %s in else_branch", k,
                           rt_dtype_name(t->dtype), rt_dtype_name(f->dtype));
        shape_of sh = shape_of_tensor(t);
        merge_shape(&sh, f);
        if ((s = ops_set_output(c, k, sh.dtype, sh.rank, sh.dims)) != RT_OK)
            return s;
    }
    return RT_OK;
}

/* ---- Loop */

int64_t ops_loop_trips(const rt_node *n, const rt_tensor *m, const rt_tensor *cond, bool *exact)
{
    *exact = false;
    if (!m || !m->data || rt_tensor_numel(m) != 1)
        return -1;
    int64_t trips = rt_tensor_get_i64(m, 0);
    if (trips < 0)
        trips = 0;
    bool cond_true = !cond || (cond->data && rt_tensor_numel(cond) == 1 && rt_tensor_get_i64(cond, 0) != 0);
    const rt_graph *body = rt_node_attr_graph(n, "body");
    if (!cond_true || !body || body->n_inputs < 2 || body->n_outputs < 1)
        return trips;
    int cond_in = body->inputs[1], cond_out = body->outputs[0];
    int p = body->tensors[cond_out]->producer;
    const rt_tensor *co = body->tensors[cond_out];
    *exact = cond_out == cond_in ||
             (p >= 0 && body->nodes[p].op == RT_OP_Identity && body->nodes[p].n_inputs >= 1 &&
              body->nodes[p].inputs[0] == cond_in) ||
             (co->kind == RT_TENSOR_CONSTANT && co->data && rt_tensor_numel(co) == 1 && rt_tensor_get_i64(co, 0) != 0);
    return trips;
}

rt_status infer_loop(rt_op_ctx *c)
{
    rt_status s = RT_OK;
    rt_graph *body = body_attr(c, "body", &s);
    if (!body)
        return s;
    int n_in = rt_node_explicit_inputs(c->node);
    if (n_in < 2)
        return ops_err(c, RT_ERR_ATTR, "Loop needs the inputs M and cond (each may be empty), then the carried values");
    int n_carried = n_in - 2;
    int n_scan = c->n_out - n_carried;
    if (n_scan < 0)
        return ops_err(c, RT_ERR_ATTR, "%d carried values but only %d outputs", n_carried, c->n_out);
    for (int j = 0; j < n_carried; j++)
        if ((s = ops_need_typed(c, 2 + j)) != RT_OK)
            return s;
    shape_of *formal = calloc((size_t)n_carried + 2, sizeof *formal);
    if (!formal)
        return ops_err(c, RT_ERR_NOMEM, "out of memory");
    formal[0] = SCALAR_I64;
    formal[1] = SCALAR_BOOL;
    for (int j = 0; j < n_carried; j++)
        formal[2 + j] = shape_of_tensor(c->in[2 + j]);
    s = carried_fixpoint(c, body, "body", formal, n_carried + 2, 2, n_carried, 1);
    if (s == RT_OK && body->n_outputs != 1 + n_carried + n_scan)
        s = ops_err(c, RT_ERR_ATTR, "body has %d outputs, expected 1 + %d carried + %d scan outputs", body->n_outputs,
                    n_carried, n_scan);
    for (int j = 0; j < n_carried && s == RT_OK; j++)
        s = ops_set_output(c, j, formal[2 + j].dtype, formal[2 + j].rank, formal[2 + j].dims);
    free(formal);
    bool exact;
    int64_t trips = ops_loop_trips(c->node, ops_has_input(c, 0) ? c->in[0] : NULL, ops_has_input(c, 1) ? c->in[1] : NULL,
                                   &exact);
    for (int k = 0; k < n_scan && s == RT_OK; k++) {
        const rt_tensor *o = body_output(body, 1 + n_carried + k);
        if (o->rank >= RT_MAX_RANK)
            return ops_err(c, RT_ERR_LIMIT, "scan output %d would have rank %d > %d", k, o->rank + 1, RT_MAX_RANK);
        int64_t dims[RT_MAX_RANK];
        dims[0] = exact ? trips : RT_DIM_UNKNOWN;
        for (int d = 0; d < o->rank; d++)
            dims[1 + d] = o->dims[d];
        s = ops_set_output(c, n_carried + k, o->dtype, o->rank < 0 ? -1 : o->rank + 1, dims);
    }
    return s;
}

/* ---- Scan */

/* The axis attribute `name`[i] of a tensor of rank `rank` (default 0), normalised. */
static rt_status scan_axis(const rt_op_ctx *c, const char *name, int i, int rank, int *axis)
{
    const int64_t *v;
    size_t n = rt_node_attr_ints(c->node, name, &v);
    int64_t a = (size_t)i < n ? v[i] : 0;
    return ops_axis(c, a, rank, name, axis);
}

rt_status infer_scan(rt_op_ctx *c)
{
    rt_status s = RT_OK;
    rt_graph *body = body_attr(c, "body", &s);
    if (!body)
        return s;
    bool v8 = c->opset < 9; /* Scan-8: a leading sequence_lens input and a batch axis 0 everywhere */
    int first = v8 ? 1 : 0;
    int n_in = rt_node_explicit_inputs(c->node) - first;
    int64_t n_scan_in = rt_node_attr_int(c->node, "num_scan_inputs", -1);
    if (n_scan_in < 1 || n_scan_in > n_in)
        return ops_err(c, RT_ERR_ATTR, "num_scan_inputs %lld is not in 1..%d", (long long)n_scan_in, n_in);
    int n_state = n_in - (int)n_scan_in, n_scan_out = c->n_out - n_state;
    if (n_scan_out < 0)
        return ops_err(c, RT_ERR_ATTR, "%d state values but only %d outputs", n_state, c->n_out);
    for (int i = first; i < first + n_in; i++)
        if ((s = ops_need_typed(c, i)) != RT_OK)
            return s;
    shape_of *formal = calloc((size_t)n_in + 1, sizeof *formal);
    if (!formal)
        return ops_err(c, RT_ERR_NOMEM, "out of memory");
    int64_t seq = RT_DIM_UNKNOWN, batch = RT_DIM_UNKNOWN;
    for (int j = 0; j < n_in && s == RT_OK; j++) {
        const rt_tensor *t = c->in[first + j];
        formal[j] = shape_of_tensor(t);
        bool scanned = j >= n_state;
        int drop = 0, axis = 0; /* Scan-8 drops the batch axis and, for scanned inputs, the time axis 1 */
        if (v8) {
            if (t->rank < (scanned ? 2 : 1)) {
                s = ops_err(c, RT_ERR_SHAPE, "input %d needs a batch%s axis", first + j, scanned ? " and a sequence" : "");
                break;
            }
            if (batch == RT_DIM_UNKNOWN)
                batch = t->dims[0];
            drop = scanned ? 2 : 1;
            axis = 1;
        } else if (scanned) {
            if (t->rank < 1) {
                s = ops_err(c, RT_ERR_SHAPE, "scanned input %d has rank 0", j);
                break;
            }
            if ((s = scan_axis(c, "scan_input_axes", j - n_state, t->rank, &axis)) != RT_OK)
                break;
            drop = 1;
        }
        if (scanned && (seq == RT_DIM_UNKNOWN))
            seq = t->dims[axis];
        else if (scanned && t->dims[axis] != RT_DIM_UNKNOWN && t->dims[axis] != seq) {
            s = ops_err(c, RT_ERR_SHAPE, "scanned inputs have sequence lengths %lld and %lld", (long long)seq,
                        (long long)t->dims[axis]);
            break;
        }
        /* the body sees the value without the dropped axes */
        if (t->rank >= 0 && drop) {
            int w = 0;
            for (int d = 0; d < t->rank; d++)
                if (!(v8 ? d < drop : d == axis))
                    formal[j].dims[w++] = t->dims[d];
            formal[j].rank = w;
        }
    }
    if (s == RT_OK)
        s = carried_fixpoint(c, body, "body", formal, n_in, 0, n_state, 0);
    if (s == RT_OK && body->n_outputs != n_state + n_scan_out)
        s = ops_err(c, RT_ERR_ATTR, "body has %d outputs, expected %d states + %d scan outputs", body->n_outputs, n_state,
                    n_scan_out);
    for (int j = 0; j < n_state && s == RT_OK; j++) {
        shape_of o = formal[j];
        if (v8 && o.rank >= 0) { /* the batch axis comes back */
            memmove(o.dims + 1, o.dims, (size_t)o.rank * sizeof o.dims[0]);
            o.dims[0] = batch;
            o.rank++;
        }
        s = ops_set_output(c, j, o.dtype, o.rank, o.dims);
    }
    free(formal);
    for (int k = 0; k < n_scan_out && s == RT_OK; k++) {
        const rt_tensor *o = body_output(body, n_state + k);
        int extra = v8 ? 2 : 1;
        if (o->rank < 0) {
            s = ops_set_output(c, n_state + k, o->dtype, -1, NULL);
            continue;
        }
        if (o->rank + extra > RT_MAX_RANK)
            return ops_err(c, RT_ERR_LIMIT, "scan output %d would have rank %d > %d", k, o->rank + extra, RT_MAX_RANK);
        int64_t dims[RT_MAX_RANK];
        int axis = 0;
        if (v8) {
            dims[0] = batch;
            dims[1] = seq;
            memcpy(dims + 2, o->dims, (size_t)o->rank * sizeof dims[0]);
        } else {
            if ((s = scan_axis(c, "scan_output_axes", k, o->rank + 1, &axis)) != RT_OK)
                return s;
            for (int d = 0, r = 0; d <= o->rank; d++)
                dims[d] = d == axis ? seq : o->dims[r++];
        }
        s = ops_set_output(c, n_state + k, o->dtype, o->rank + extra, dims);
    }
    return s;
}

/* ---- cost: the work of the subgraphs, from shapes (If: the costlier branch; Loop: M times the
 * body, which is exact or an upper bound; Scan: the sequence length times the body). The run
 * pipeline costs what actually runs instead (docs/run.md, "Control flow"). */

static rt_status body_cost(const rt_op_ctx *c, const rt_graph *body, double times, rt_cost *o)
{
    rt_cost b;
    rt_status s = graph_cost(body, &b, c->err);
    if (s != RT_OK)
        return body_failed(c, "body", s);
    o->macs += times * b.macs;
    o->flops += times * b.flops;
    return RT_OK;
}

rt_status cost_control(const rt_op_ctx *c, rt_cost *o)
{
    const rt_node *n = c->node;
    if (n->op == RT_OP_If) {
        rt_cost t = {0}, f = {0};
        rt_status s = body_cost(c, rt_node_attr_graph(n, "then_branch"), 1, &t);
        if (s == RT_OK)
            s = body_cost(c, rt_node_attr_graph(n, "else_branch"), 1, &f);
        if (s == RT_OK) {
            o->macs += t.flops >= f.flops ? t.macs : f.macs;
            o->flops += t.flops >= f.flops ? t.flops : f.flops;
        }
        return s;
    }
    const rt_graph *body = rt_node_attr_graph(n, "body");
    if (!body)
        return ops_err(c, RT_ERR_ATTR, "graph attribute 'body' is missing");
    double times;
    if (n->op == RT_OP_Loop) {
        bool exact;
        int64_t trips = ops_loop_trips(n, ops_has_input(c, 0) ? c->in[0] : NULL, ops_has_input(c, 1) ? c->in[1] : NULL, &exact);
        if (trips < 0)
            return ops_err(c, RT_ERR_SHAPE, "cannot cost: the trip count M is not a constant");
        times = (double)trips;
    } else {
        /* from the first scanned input: Scan-8 has it on axis 1, later opsets on scan_input_axes[0] */
        int first = c->opset < 9 ? 1 : 0;
        int n_scan = (int)rt_node_attr_int(n, "num_scan_inputs", 0);
        int idx = rt_node_explicit_inputs(n) - n_scan;
        const rt_tensor *x = idx >= first && ops_has_input(c, idx) ? c->in[idx] : NULL;
        int axis = 1;
        if (x && c->opset >= 9 && x->rank > 0 && scan_axis(c, "scan_input_axes", 0, x->rank, &axis) != RT_OK)
            return c->err ? c->err->code : RT_ERR_ATTR;
        if (!x || x->rank <= axis || x->dims[axis] < 0)
            return ops_err(c, RT_ERR_SHAPE, "cannot cost: the sequence length is not known");
        times = (double)x->dims[axis];
    }
    return body_cost(c, body, times, o);
}
