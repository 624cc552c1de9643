/* run_control.c -- what the subgraphs of If, Loop and Scan cost in a run.
 *
 * A control-flow node runs on the CPU (its own cost is one dispatch, runtime/cpumodel). What its
 * subgraphs run is costed like a graph: each subgraph run is partitioned with the run's
 * configuration and firmware (partition_graph), its NPU segments are simulated timing-only
 * (the device's timing depends on shapes, not values) and its CPU nodes and boundary crossings
 * are priced by the CPU model, submissions included. The sums go to the outermost control-flow
 * node (run_body_cost); nested control flow adds to it.
 *
 * With data (a normal run) the node is executed on the FP32 kernels through a subgraph runner
 * that accounts every subgraph run it makes: only the branch taken, each iteration actually
 * run, nested ones included. Each run is planned for its own input shapes, on a copy of the
 * subgraph inferred for them (the model's subgraphs are never changed while running); plans are
 * kept per (subgraph, shapes), so a loop with steady shapes is planned once. The numbers of a
 * control-flow node are therefore the FP32 kernels' (no int8 error); its time is the partitioned
 * subgraphs'.
 *
 * Without data (--timing-only) there is no condition to read: an If costs its costlier branch (a
 * worst case, and the report says so), a Loop M iterations (exact when its condition cannot end
 * it early, else an upper bound; M must be a constant), a Scan its sequence length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_exec.h"
#include "ops.h"
#include "run_internal.h"

/* Nesting deeper than this is refused when costing without data (imports allow 64 levels). */
#define CONTROL_MAX_DEPTH 64
/* A timing-only Loop whose trip count is above this is refused: the same bound as the kernel's. */
#define STATIC_MAX_TRIPS (INT64_C(1) << 24)

typedef struct shape_key {
    rt_dtype dtype;
    int rank;
    int64_t dims[RT_MAX_RANK];
} shape_key;

/* One subgraph planned for one set of input shapes. */
typedef struct body_plan {
    const rt_graph *body; /* the model's subgraph (the key) */
    int n_args;
    shape_key *args;      /* NULL for a timing-only plan (the subgraph's own shapes) */
    rt_graph *copy;       /* the subgraph inferred for args (owned), or NULL */
    part_plan *plan;
    run_body_cost cost;   /* one run (nested control flow excluded) */
} body_plan;

struct run_control {
    const m4npu_config *cfg;
    npu_backend *b;
    npu_weight_type weights;
    run_cost_ctx cost_ctx;  /* the run's partition options, for every subgraph run */
    part_options popts;
    body_plan *plans;
    int n_plans, cap_plans;
    rt_body_runner runner;
    /* the outermost node being executed */
    run_body_cost *acc;
    const rt_node *top;
    const rt_graph *first_body;
    int64_t top_runs;
};

static void add_counters(npu_counters *d, const npu_counters *s, uint64_t times)
{
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        for (int k = 0; k < NPU_CTR_COUNT; k++)
            d->v[u][k] += s->v[u][k] * times;
}

static void add_cost(run_body_cost *d, const run_body_cost *s, int64_t times)
{
    double t = (double)times;
    d->npu_s += t * s->npu_s;
    d->cpu_s += t * s->cpu_s;
    d->transfer_s += t * s->transfer_s;
    d->submit_s += t * s->submit_s;
    d->crossing_bytes += s->crossing_bytes * (uint64_t)times;
    d->runs += s->runs * times;
    add_counters(&d->counters, &s->counters, (uint64_t)times);
}

double run_body_total_s(const run_body_cost *c)
{
    return c->npu_s + c->cpu_s + c->transfer_s + c->submit_s;
}

/* Partition gr and simulate its segments timing-only: the cost of one run. */
static rt_status plan_cost(run_control *rc, rt_graph *gr, body_plan *bp, rt_error *e)
{
    rt_status s = partition_graph_opts(gr, rc->cfg, &rc->popts, &bp->plan, e);
    if (s != RT_OK)
        return s;
    const part_plan *p = bp->plan;
    run_body_cost *c = &bp->cost;
    for (int i = 0; i < p->n_segments && s == RT_OK; i++) {
        npu_segment *seg = npu_segment_build(rc->b, gr, p->segments[i].nodes, p->segments[i].n_nodes, rc->weights, true, e);
        npu_segment_stats st;
        if (!seg)
            s = e && e->code != RT_OK ? e->code : RT_ERR_ARG;
        else if ((s = npu_segment_run(seg, NULL, &st, e)) == RT_OK) {
            c->npu_s += st.seconds;
            add_counters(&c->counters, &st.counters, 1);
        }
        npu_segment_free(seg);
        if (s != RT_OK)
            rt_error_prefix(e, "NPU segment %d", i);
    }
    c->runs = 1;
    c->cpu_s = p->cpu_s;
    c->transfer_s = p->crossing_s;
    c->submit_s = p->submit_s;
    c->crossing_bytes = p->crossing_bytes;
    c->nodes = gr->n_nodes;
    c->npu_nodes = p->n_npu;
    c->segments = p->n_segments;
    return s;
}

static body_plan *new_plan(run_control *rc, rt_error *e)
{
    if (rc->n_plans == rc->cap_plans) {
        int nc = rc->cap_plans ? rc->cap_plans * 2 : 8;
        body_plan *p = realloc(rc->plans, (size_t)nc * sizeof *p);
        if (!p) {
            rt_error_set(e, RT_ERR_NOMEM, "out of memory (subgraph plans)");
            return NULL;
        }
        rc->plans = p;
        rc->cap_plans = nc;
    }
    body_plan *bp = &rc->plans[rc->n_plans++];
    memset(bp, 0, sizeof *bp);
    return bp;
}

static void free_plan(body_plan *bp)
{
    part_plan_free(bp->plan);
    graph_free(bp->copy);
    free(bp->args);
}

/* The plan of body for these argument values (inputs, then captures). */
static rt_status plan_for(run_control *rc, const rt_graph *body, rt_tensor *const *args, body_plan **out, rt_error *e)
{
    int n = body->n_inputs + body->n_captures;
    for (int i = 0; i < rc->n_plans; i++) {
        body_plan *bp = &rc->plans[i];
        if (bp->body != body || !bp->args)
            continue;
        bool same = true;
        for (int k = 0; k < n && same; k++)
            same = bp->args[k].dtype == args[k]->dtype && bp->args[k].rank == args[k]->rank &&
                   memcmp(bp->args[k].dims, args[k]->dims, (size_t)args[k]->rank * sizeof args[k]->dims[0]) == 0;
        if (same) {
            *out = bp;
            return RT_OK;
        }
    }
    body_plan *bp = new_plan(rc, e);
    if (!bp)
        return RT_ERR_NOMEM;
    bp->body = body;
    bp->n_args = n;
    bp->args = calloc((size_t)n + 1, sizeof *bp->args);
    bp->copy = graph_clone(body);
    if (!bp->args || !bp->copy) {
        rc->n_plans--;
        free_plan(bp);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (subgraph plan)");
    }
    for (int k = 0; k < n; k++) {
        const rt_tensor *a = args[k];
        bp->args[k] = (shape_key){a->dtype, a->rank, {0}};
        memcpy(bp->args[k].dims, a->dims, sizeof a->dims);
        int t = k < body->n_inputs ? body->inputs[k] : body->captures[k - body->n_inputs];
        rt_tensor *ct = bp->copy->tensors[t];
        ct->dtype = a->dtype;
        ct->rank = a->rank;
        memcpy(ct->dims, a->dims, sizeof a->dims);
    }
    rt_status s = graph_infer_shapes(bp->copy, e);
    if (s == RT_OK)
        s = plan_cost(rc, bp->copy, bp, e);
    if (s != RT_OK) {
        rt_error_prefix(e, "costing subgraph '%s'", body->name);
        rc->n_plans--;
        free_plan(bp);
        return s;
    }
    *out = bp;
    return RT_OK;
}

static rt_status runner_run(const rt_body_runner *self, const rt_graph *body, rt_tensor *const *args,
                            rt_tensor **results, rt_error *e)
{
    run_control *rc = self->ctx;
    if (rc->acc) {
        body_plan *bp = NULL;
        rt_status s = plan_for(rc, body, args, &bp, e);
        if (s != RT_OK)
            return s;
        add_cost(rc->acc, &bp->cost, 1);
        bool top = false;
        for (int a = 0; a < rc->top->n_attrs; a++)
            top |= rc->top->attrs[a].type == RT_ATTR_GRAPH && rc->top->attrs[a].g == body;
        if (top && !rc->first_body) {
            rc->first_body = body;
            rc->acc->nodes = bp->cost.nodes;
            rc->acc->npu_nodes = bp->cost.npu_nodes;
            rc->acc->segments = bp->cost.segments;
        }
        rc->top_runs += top;
    }
    return cpu_exec_body(body, args, results, self, e);
}

run_control *run_control_new(const run_options *o, npu_backend *b)
{
    run_control *rc = calloc(1, sizeof *rc);
    if (!rc)
        return NULL;
    rc->cfg = o->cfg;
    rc->b = b;
    rc->weights = o->weights;
    rc->cost_ctx = (run_cost_ctx){.b = b, .cfg = o->cfg, .weights = o->weights};
    run_partition_options(o, &rc->cost_ctx, &rc->popts);
    rc->runner.run = runner_run;
    rc->runner.ctx = rc;
    return rc;
}

void run_control_free(run_control *rc)
{
    if (!rc)
        return;
    for (int i = 0; i < rc->n_plans; i++)
        free_plan(&rc->plans[i]);
    free(rc->plans);
    free(rc);
}

/* The name of the GRAPH attribute of n holding body. */
static const char *attr_of(const rt_node *n, const rt_graph *body)
{
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == RT_ATTR_GRAPH && n->attrs[a].g == body)
            return n->attrs[a].name;
    return "subgraph";
}

rt_status run_control_exec(run_control *rc, const rt_graph *g, int node, rt_tensor **vals, run_body_cost *acc,
                           rt_error *e)
{
    rc->acc = acc;
    rc->top = &g->nodes[node];
    rc->first_body = NULL;
    rc->top_runs = 0;
    rt_status s = cpu_exec_node_run(g, node, vals, acc ? &rc->runner : NULL, e);
    if (s == RT_OK && acc) {
        const char *name = rc->first_body ? attr_of(rc->top, rc->first_body) : "nothing";
        if (rc->top->op == RT_OP_If)
            snprintf(acc->what, sizeof acc->what, "ran %s", name);
        else
            snprintf(acc->what, sizeof acc->what, "ran %s %lld time%s", name, (long long)rc->top_runs,
                     rc->top_runs == 1 ? "" : "s");
    }
    rc->acc = NULL;
    rc->top = NULL;
    return s;
}

/* ---- without data */

static rt_status static_node(run_control *rc, rt_graph *g, int node, run_body_cost *acc, int depth, rt_error *e);

/* One run of body from its own (prepared) shapes, nested control flow included. */
static rt_status static_body(run_control *rc, rt_graph *body, run_body_cost *out, int depth, rt_error *e)
{
    body_plan *bp = NULL;
    for (int i = 0; i < rc->n_plans && !bp; i++)
        if (rc->plans[i].body == body && !rc->plans[i].args)
            bp = &rc->plans[i];
    if (!bp) {
        if (!(bp = new_plan(rc, e)))
            return RT_ERR_NOMEM;
        bp->body = body;
        rt_status s = plan_cost(rc, body, bp, e);
        if (s != RT_OK) {
            rc->n_plans--;
            free_plan(bp);
            rt_error_prefix(e, "costing subgraph '%s'", body->name);
            return s;
        }
    }
    *out = bp->cost;
    const part_plan *p = bp->plan;
    for (int i = 0; i < body->n_nodes; i++) {
        if (!ops_is_control(body->nodes[i].op) || p->node[i].constant)
            continue;
        run_body_cost sub = {0};
        rt_status s = static_node(rc, body, i, &sub, depth + 1, e);
        if (s != RT_OK)
            return s;
        add_cost(out, &sub, 1);
    }
    return RT_OK;
}

static rt_status static_node(run_control *rc, rt_graph *g, int node, run_body_cost *acc, int depth, rt_error *e)
{
    const rt_node *n = &g->nodes[node];
    char lbl[300];
    graph_node_label(g, node, lbl, sizeof lbl);
    if (depth > CONTROL_MAX_DEPTH)
        return rt_error_set(e, RT_ERR_LIMIT, "node %s: control flow nests deeper than %d levels", lbl, CONTROL_MAX_DEPTH);
    rt_status s = RT_OK;
    if (n->op == RT_OP_If) {
        static const char *const names[2] = {"then_branch", "else_branch"};
        run_body_cost br[2] = {{0}, {0}};
        for (int b = 0; b < 2 && s == RT_OK; b++) {
            rt_graph *body = rt_node_attr_graph(n, names[b]);
            s = body ? static_body(rc, body, &br[b], depth, e)
                     : rt_error_set(e, RT_ERR_ATTR, "node %s: %s is missing", lbl, names[b]);
        }
        if (s != RT_OK)
            return s;
        int w = run_body_total_s(&br[1]) > run_body_total_s(&br[0]);
        add_cost(acc, &br[w], 1);
        acc->nodes = br[w].nodes;
        acc->npu_nodes = br[w].npu_nodes;
        acc->segments = br[w].segments;
        snprintf(acc->what, sizeof acc->what, "%s, the costlier branch (no data: the condition is not known)", names[w]);
        return RT_OK;
    }
    rt_graph *body = rt_node_attr_graph(n, "body");
    if (!body)
        return rt_error_set(e, RT_ERR_ATTR, "node %s: its body is missing", lbl);
    int64_t times;
    bool exact = true;
    if (n->op == RT_OP_Loop) {
        const rt_tensor *m = n->inputs[0] >= 0 ? g->tensors[n->inputs[0]] : NULL;
        const rt_tensor *cond = n->n_inputs > 1 && n->inputs[1] >= 0 ? g->tensors[n->inputs[1]] : NULL;
        times = ops_loop_trips(n, m, cond, &exact);
        if (times < 0)
            return rt_error_set(e, RT_ERR_SHAPE,
                                "node %s: without data the trip count must be a constant M; run with inputs instead "
                                "of --timing-only",
                                lbl);
        if (times > STATIC_MAX_TRIPS)
            return rt_error_set(e, RT_ERR_LIMIT,
                                "node %s: M = %lld iterations%s; run with inputs instead of --timing-only", lbl,
                                (long long)times, exact ? "" : " at most (its condition decides)");
    } else { /* Scan: the sequence length (times the batch for Scan-8) */
        bool v8 = graph_opset(g, n->domain) < 9;
        int n_scan = (int)rt_node_attr_int(n, "num_scan_inputs", 0);
        int idx = rt_node_explicit_inputs(n) - n_scan;
        const rt_tensor *x = n_scan > 0 && idx >= (v8 ? 1 : 0) && n->inputs[idx] >= 0 ? g->tensors[n->inputs[idx]] : NULL;
        const int64_t *axes;
        size_t na = rt_node_attr_ints(n, "scan_input_axes", &axes);
        int64_t axis = v8 ? 1 : na ? axes[0] : 0;
        if (x && axis < 0)
            axis += x->rank;
        if (!x || axis < 0 || axis >= x->rank || x->dims[axis] < 0 || (v8 && x->dims[0] < 0))
            return rt_error_set(e, RT_ERR_SHAPE, "node %s: the sequence length is not known", lbl);
        times = x->dims[axis] * (v8 ? x->dims[0] : 1);
    }
    run_body_cost one = {0};
    if ((s = static_body(rc, body, &one, depth, e)) != RT_OK)
        return s;
    add_cost(acc, &one, times);
    acc->nodes = one.nodes;
    acc->npu_nodes = one.npu_nodes;
    acc->segments = one.segments;
    snprintf(acc->what, sizeof acc->what, "body %lld time%s%s", (long long)times, times == 1 ? "" : "s",
             exact ? "" : " (at most: its condition may end it earlier)");
    return RT_OK;
}

rt_status run_control_static(run_control *rc, rt_graph *g, int node, run_body_cost *acc, rt_error *e)
{
    return static_node(rc, g, node, acc, 0, e);
}
