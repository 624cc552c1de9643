/* run.c -- the run pipeline (see run.h): inputs, FP32 reference, calibration, partition,
 * execution on the CPU kernels and the NPU backend, errors, breakdown and the modelled schedule
 * that the timeline draws. */
#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_exec.h"
#include "ops.h"
#include "run_internal.h"

/* ---- small helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static rt_status add_event(run_result *r, int *cap, const run_event *ev, rt_error *e)
{
    if (r->n_events == *cap) {
        int n = *cap ? *cap * 2 : 64;
        run_event *evs = realloc(r->events, (size_t)n * sizeof *evs);
        if (!evs)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (timeline)");
        r->events = evs;
        *cap = n;
    }
    r->events[r->n_events++] = *ev;
    return RT_OK;
}

void run_result_free(run_result *r)
{
    if (!r)
        return;
    for (int s = 0; r->segs && r->plan && s < r->plan->n_segments; s++)
        free(r->segs[s].ops);
    part_plan_free(r->plan);
    for (int n = 0; r->nodes && n < r->n_nodes; n++)
        free(r->nodes[n].body);
    free(r->nodes);
    free(r->segs);
    for (int i = 0; i < r->n_outputs; i++) {
        rt_tensor_free(r->outputs[i].value);
        rt_tensor_free(r->outputs[i].reference);
    }
    free(r->outputs);
    for (int i = 0; i < r->n_generated; i++)
        free(r->generated[i]);
    free(r->generated);
    free(r->events);
    free(r);
}

/* ---- inputs */

/* A float value converted to float type `to` (a new tensor). */
static rt_tensor *convert_float(const rt_tensor *v, rt_dtype to, const char *name)
{
    rt_tensor *t = rt_tensor_new(name, to, v->rank, v->dims);
    if (!t || rt_tensor_alloc(t, NULL) != RT_OK) {
        rt_tensor_free(t);
        return NULL;
    }
    int64_t n = rt_tensor_numel(v);
    for (int64_t i = 0; i < n; i++) {
        double x = rt_tensor_get_f64(v, i);
        switch (to) {
        case RT_DT_F32:
            ((float *)t->data)[i] = (float)x;
            break;
        case RT_DT_F64:
            ((double *)t->data)[i] = x;
            break;
        case RT_DT_F16:
            ((uint16_t *)t->data)[i] = rt_f32_to_f16((float)x);
            break;
        default:
            ((uint16_t *)t->data)[i] = rt_f32_to_bf16((float)x);
            break;
        }
    }
    return t;
}

/* A fixed-seed value for an input that was not given. */
static rt_tensor *random_input(const rt_tensor *decl, uint64_t *state, rt_error *e)
{
    char shape[128];
    if (!rt_tensor_shape_known(decl)) {
        rt_error_set(e, RT_ERR_SHAPE, "input '%s' has the shape %s with an unknown dimension: give it with --input %s=FILE.npy",
                     decl->name, rt_shape_str(decl, shape, sizeof shape), decl->name);
        return NULL;
    }
    rt_tensor *t = rt_tensor_new(decl->name, decl->dtype, decl->rank, decl->dims);
    if (!t || rt_tensor_alloc(t, e) != RT_OK) {
        if (!t)
            rt_error_set(e, RT_ERR_NOMEM, "out of memory (input '%s')", decl->name);
        rt_tensor_free(t);
        return NULL;
    }
    if (rt_dtype_is_float(decl->dtype)) {
        rt_tensor *f = rt_tensor_new(decl->name, RT_DT_F64, decl->rank, decl->dims);
        if (!f || rt_tensor_alloc(f, e) != RT_OK) {
            rt_tensor_free(f);
            rt_tensor_free(t);
            return NULL;
        }
        int64_t n = rt_tensor_numel(decl);
        for (int64_t i = 0; i < n; i++) {
            double u = (double)(splitmix(state) >> 11) / 9007199254740992.0; /* [0, 1) */
            ((double *)f->data)[i] = 2.0 * u - 1.0;
        }
        rt_tensor *c = convert_float(f, decl->dtype, decl->name);
        rt_tensor_free(f);
        rt_tensor_free(t);
        if (!c)
            rt_error_set(e, RT_ERR_NOMEM, "out of memory (input '%s')", decl->name);
        return c;
    }
    return t; /* integers and bools: zero */
}

/* The value of every graph input: given (checked, floats converted) or generated. */
rt_status run_bind_inputs(const rt_graph *g, const run_options *o, run_result *r, rt_tensor **vals, bool *owned,
                             rt_error *e)
{
    for (int i = 0; i < o->n_inputs; i++) {
        int t = graph_find_tensor(g, o->inputs[i].name);
        if (t < 0 || g->tensors[t]->kind != RT_TENSOR_INPUT) {
            char names[512];
            size_t n = 0;
            names[0] = '\0';
            for (int k = 0; k < g->n_inputs && n < sizeof names; k++)
                n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", k ? ", " : "", g->tensors[g->inputs[k]]->name);
            return rt_error_set(e, RT_ERR_NOT_FOUND, "--input %s: the model has no input '%s' (its inputs: %s)",
                                o->inputs[i].name, o->inputs[i].name, names);
        }
        for (int j = 0; j < i; j++)
            if (strcmp(o->inputs[j].name, o->inputs[i].name) == 0)
                return rt_error_set(e, RT_ERR_DUPLICATE, "--input %s: given twice", o->inputs[i].name);
    }
    uint64_t state = r->seed;
    for (int k = 0; k < g->n_inputs; k++) {
        int t = g->inputs[k];
        const rt_tensor *decl = g->tensors[t];
        if (decl->kind != RT_TENSOR_INPUT)
            continue;
        const rt_tensor *given = NULL;
        for (int i = 0; i < o->n_inputs; i++)
            if (strcmp(o->inputs[i].name, decl->name) == 0)
                given = o->inputs[i].value;
        rt_tensor *v;
        if (given) {
            char s1[128], s2[128];
            bool shape_ok = decl->rank < 0 || decl->rank == given->rank;
            for (int d = 0; shape_ok && decl->rank >= 0 && d < decl->rank; d++)
                shape_ok = decl->dims[d] < 0 || decl->dims[d] == given->dims[d];
            bool floats = rt_dtype_is_float(decl->dtype) && rt_dtype_is_float(given->dtype);
            if (!shape_ok || (!floats && decl->dtype != given->dtype))
                return rt_error_set(e, decl->dtype != given->dtype && !floats ? RT_ERR_DTYPE : RT_ERR_SHAPE,
                                    "--input %s: expected %s %s, got %s %s", decl->name, rt_dtype_name(decl->dtype),
                                    rt_shape_str(decl, s1, sizeof s1), rt_dtype_name(given->dtype),
                                    rt_shape_str(given, s2, sizeof s2));
            if (!given->data || given->data_bytes != rt_tensor_nbytes(given))
                return rt_error_set(e, RT_ERR_NO_DATA, "--input %s: the value has no data of its shape", decl->name);
            v = decl->dtype == given->dtype ? rt_tensor_clone(given) : convert_float(given, decl->dtype, decl->name);
            if (!v)
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory (input '%s')", decl->name);
            free(v->name);
            v->name = strdup(decl->name);
            if (!v->name) {
                rt_tensor_free(v);
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory (input '%s')", decl->name);
            }
        } else {
            if (!(v = random_input(decl, &state, e)))
                return e ? e->code : RT_ERR_NOMEM;
            if (!r->generated && !(r->generated = calloc((size_t)g->n_inputs + 1, sizeof *r->generated))) {
                rt_tensor_free(v);
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
            }
            if (!(r->generated[r->n_generated] = strdup(decl->name))) {
                rt_tensor_free(v);
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
            }
            r->n_generated++;
        }
        v->kind = RT_TENSOR_INPUT;
        vals[t] = v;
        owned[t] = true;
    }
    return RT_OK;
}

/* ---- reference and calibration */

rt_status run_reference_values(const rt_graph *g, rt_tensor **vals, rt_tensor **ref, rt_error *e)
{
    cpu_exec *x;
    rt_status s = cpu_exec_create(g, &x, e);
    if (s != RT_OK)
        return s;
    cpu_exec_keep_intermediates(x, true);
    for (int k = 0; k < g->n_inputs && s == RT_OK; k++) {
        int t = g->inputs[k];
        if (vals[t])
            s = cpu_exec_set_input(x, g->tensors[t]->name, vals[t], e);
    }
    if (s == RT_OK && (s = cpu_exec_run(x, e)) != RT_OK)
        rt_error_prefix(e, "FP32 reference");
    for (int t = 0; t < g->n_tensors && s == RT_OK; t++) {
        if (g->tensors[t]->kind == RT_TENSOR_CONSTANT)
            continue;
        const rt_tensor *v = cpu_exec_output(x, g->tensors[t]->name);
        if (v && !(ref[t] = rt_tensor_clone(v)))
            s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (reference values)");
    }
    cpu_exec_free(x);
    return s;
}

/* Tensors whose shape inference could not know (a Loop's scan outputs when its condition
 * decides, data-dependent shapes) take the reference's: the partitioner prices by shape. */
static void shapes_from_reference(rt_graph *g, rt_tensor *const *ref)
{
    for (int t = 0; t < g->n_tensors; t++) {
        rt_tensor *gt = g->tensors[t];
        if (rt_tensor_shape_known(gt) || !ref[t])
            continue;
        gt->rank = ref[t]->rank;
        memcpy(gt->dims, ref[t]->dims, sizeof gt->dims);
        if (gt->dtype == RT_DT_UNDEFINED)
            gt->dtype = ref[t]->dtype;
    }
}

/* ---- what the partitioner asks of the backend */

static bool backend_supports(void *ctx, const rt_graph *g, int node, char *why, size_t whylen)
{
    return npu_backend_supports(ctx, g, node, why, whylen);
}

/* Each node's share of a segment's job from its per-op profile: the spans and counters of the
 * descriptors lowered from it (the spans follow one another, npu_segment_profile). */
static rt_status node_shares(const run_cost_ctx *cc, const rt_graph *g, npu_segment *s, const int *nodes, int n,
                             part_npu_cost *per_node, rt_error *e)
{
    uint32_t n_ops = 0;
    npu_segment_ops(s, &n_ops);
    const npu_op_profile *prof = npu_segment_profile(s);
    int *pos = malloc(((size_t)g->n_nodes + 1) * sizeof *pos);
    if (!pos)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (segment cost)");
    for (int v = 0; v < g->n_nodes; v++)
        pos[v] = -1;
    for (int i = 0; i < n; i++) {
        pos[nodes[i]] = i;
        per_node[i] = (part_npu_cost){0, 0};
    }
    double hz = cc->cfg->npu.clock_mhz * 1e6;
    for (uint32_t k = 0; prof && k < n_ops; k++) {
        int v = npu_segment_op_node(s, k);
        if (v < 0 || v >= g->n_nodes || pos[v] < 0)
            continue;
        npu_counters c;
        memset(&c, 0, sizeof c);
        memcpy(c.v, prof[k].ctr, sizeof c.v);
        energy_breakdown eb;
        memset(&eb, 0, sizeof eb);
        energy_add_npu(&eb, cc->cfg, &c);
        per_node[pos[v]].seconds += (double)(prof[k].end_cycle - prof[k].start_cycle) / hz;
        per_node[pos[v]].dynamic_j += energy_total(&eb);
    }
    free(pos);
    return prof || n_ops == 0 ? RT_OK : rt_error_set(e, RT_ERR_ARG, "segment cost: the job has no per-op profile");
}

/* A segment's device cost: built and run timing-only (the backend's memo answers repeats); with
 * per_node, with its per-op profile (switched on for this job) to share it among the nodes. */
static bool backend_segment_cost(void *ctx, const rt_graph *g, const int *nodes, int n, part_npu_cost *c,
                                 part_npu_cost *per_node, rt_error *e)
{
    const run_cost_ctx *cc = ctx;
    npu_segment *s = npu_segment_build(cc->b, (rt_graph *)g, nodes, n, cc->weights, true, e);
    if (!s)
        return false;
    bool profile_was = npu_backend_profile(cc->b);
    npu_backend_set_profile(cc->b, profile_was || per_node);
    npu_segment_stats st;
    rt_status rs = npu_segment_run(s, NULL, &st, e);
    npu_backend_set_profile(cc->b, profile_was);
    if (rs == RT_OK && per_node)
        rs = node_shares(cc, g, s, nodes, n, per_node, e);
    npu_segment_free(s);
    if (rs != RT_OK)
        return false;
    energy_breakdown eb;
    memset(&eb, 0, sizeof eb);
    energy_add_npu(&eb, cc->cfg, &st.counters);
    c->seconds = st.seconds;
    c->dynamic_j = energy_total(&eb);
    return true;
}

/* Free a kept fits-check plan (cc->fits) and leave it empty. */
void run_fits_plan_free(run_fits_plan *f)
{
    npu_mem_plan_free(f->mem);
    free(f->segs);
    free(f->n_nodes);
    free(f->nodes);
    memset(f, 0, sizeof *f);
}

/* Keep mem, the plan of p's segments (segs), as cc->fits; false when out of memory (then nothing
 * is kept and the run plans the segments itself). */
static bool keep_fits_plan(run_cost_ctx *cc, const rt_graph *g, const part_plan *p, npu_mem_plan *mem,
                           npu_segment **segs)
{
    run_fits_plan *f = &cc->fits;
    run_fits_plan_free(f);
    size_t total = 0;
    for (int s = 0; s < p->n_segments; s++)
        total += (size_t)p->segments[s].n_nodes;
    f->n_nodes = malloc(((size_t)p->n_segments + 1) * sizeof *f->n_nodes);
    f->nodes = malloc((total + 1) * sizeof *f->nodes);
    if (!f->n_nodes || !f->nodes) {
        run_fits_plan_free(f);
        return false;
    }
    size_t at = 0;
    for (int s = 0; s < p->n_segments; s++) {
        f->n_nodes[s] = p->segments[s].n_nodes;
        memcpy(f->nodes + at, p->segments[s].nodes, (size_t)p->segments[s].n_nodes * sizeof *f->nodes);
        at += (size_t)p->segments[s].n_nodes;
    }
    f->mem = mem;
    f->segs = segs;
    f->g = g;
    f->n_segments = p->n_segments;
    return true;
}

/* Whether a plan's segments fit in device memory, planned as the run plans them (nothing is
 * allocated). A segment that cannot be built is not a memory question: the exact evaluation
 * prices it. With cc->keep_fits_plan a plan that fits is kept for the run (cc->fits). */
static bool backend_plan_fits(void *ctx, const rt_graph *g, const part_plan *p, rt_error *e)
{
    run_cost_ctx *cc = ctx;
    npu_mem_plan *mem = npu_mem_plan_new(cc->b, (rt_graph *)g, cc->o->resident, cc->o->resident_ctx, e);
    npu_segment **segs = cc->keep_fits_plan ? malloc(((size_t)p->n_segments + 1) * sizeof *segs) : NULL;
    if (!mem || (cc->keep_fits_plan && !segs)) {
        npu_mem_plan_free(mem);
        free(segs);
        if (mem)
            rt_error_set(e, RT_ERR_NOMEM, "out of memory (memory plan)");
        return false;
    }
    for (int s = 0; s < p->n_segments; s++) {
        rt_error ignored = {0};
        npu_segment *seg = npu_mem_plan_segment(mem, p->segments[s].nodes, p->segments[s].n_nodes, cc->weights,
                                                cc->o->timing_only, &ignored);
        if (!seg) {
            npu_mem_plan_free(mem);
            free(segs);
            return true;
        }
        if (segs)
            segs[s] = seg;
    }
    bool fits = npu_mem_plan_check(mem, e) == RT_OK;
    if (!fits || !segs || !keep_fits_plan(cc, g, p, mem, segs)) {
        npu_mem_plan_free(mem);
        free(segs);
    }
    return fits;
}

/* The fits check's plan when it planned exactly p's segments of g (the same nodes in the same
 * order), with its segments in segs[0..n_segments-1]; NULL otherwise. The plan is the caller's
 * from then on; cc keeps none. */
static npu_mem_plan *run_take_fits_plan(run_cost_ctx *cc, const rt_graph *g, const part_plan *p,
                                        npu_segment **segs)
{
    run_fits_plan *f = &cc->fits;
    bool same = f->mem && f->g == g && f->n_segments == p->n_segments;
    size_t at = 0;
    for (int s = 0; same && s < p->n_segments; s++) {
        same = f->n_nodes[s] == p->segments[s].n_nodes &&
               memcmp(f->nodes + at, p->segments[s].nodes, (size_t)f->n_nodes[s] * sizeof *f->nodes) == 0;
        at += (size_t)f->n_nodes[s];
    }
    if (!same) {
        run_fits_plan_free(f);
        return NULL;
    }
    npu_mem_plan *mem = f->mem;
    memcpy(segs, f->segs, (size_t)p->n_segments * sizeof *segs);
    f->mem = NULL;
    run_fits_plan_free(f);
    return mem;
}

static bool run_resident(void *ctx, const rt_graph *g, int tensor)
{
    const run_options *o = ctx;
    return o->resident(g, tensor, o->resident_ctx);
}

void run_partition_options(const run_options *o, run_cost_ctx *cc, part_options *po)
{
    memset(po, 0, sizeof *po);
    po->fw = backend_supports;
    po->fw_ctx = cc->b;
    po->strategy = o->greedy_partition ? PART_GREEDY : PART_COST;
    po->objective = o->objective;
    po->segment_cost = backend_segment_cost;
    po->cost_ctx = cc;
    cc->o = o;
    po->fits = backend_plan_fits;
    po->fits_ctx = cc;
    po->resident = o->resident ? run_resident : NULL;
    po->resident_ctx = (void *)o;
    po->device_act_bits = o->activations == NPU_ACTS_INT8 ? PART_DEVICE_ACT_BITS : 2 * PART_DEVICE_ACT_BITS;
}

/* ---- execution and schedule */

typedef struct run_busy {
    double start_s, end_s;
} run_busy;

typedef struct run_ctx {
    rt_graph *g;
    const m4npu_config *cfg;
    run_result *r;
    rt_tensor **vals;
    bool *owned;
    npu_segment **segs;
    run_control *rc; /* the subgraphs of control-flow nodes */
    npu_counters body_counters; /* their NPU work */
    int *crossing_out_of; /* per tensor: 1 + the last segment run whose crossings out list it */
    int ev_cap;
    double t; /* the modelled clock (npu.overlap off: one serial clock for CPU and NPU) */
    bool timing_only;
    /* npu.overlap on: a list schedule instead of the serial clock. Each CPU step (a node, a
     * crossing, a submission) takes the earliest gap of the CPU's timeline at or after the moment
     * its inputs are ready; each job starts when its submission is done and the NPU is free. */
    bool overlap;
    double *ready;       /* per tensor: when its value is available */
    run_busy *cpu_busy;  /* the CPU's busy intervals, sorted */
    int n_busy, cap_busy;
    double npu_free, makespan;
    rt_status sched_st;  /* out of memory while scheduling */
    /* per segment: its job's end, and whether its crossings out wait to be placed (they are placed
     * when a later step reads its outputs, or at the end: the CPU does other work meanwhile) */
    double *job_end;
    bool *out_pending;
} run_ctx;

static rt_status crossing_events(run_ctx *c, const part_segment *s, bool in, double *at, double *first, rt_error *e);

/* Place a CPU step of dur seconds at the earliest time >= ready the CPU is free; returns its start.
 * Off: the serial clock (ready is ignored: everything before has finished). */
static double cpu_place(run_ctx *c, double ready, double dur)
{
    if (!c->overlap) {
        double at = c->t;
        c->t += dur;
        return at;
    }
    double at = ready;
    int i = 0;
    for (; i < c->n_busy; i++) {
        if (at + dur <= c->cpu_busy[i].start_s)
            break; /* fits in the gap before interval i */
        if (c->cpu_busy[i].end_s > at)
            at = c->cpu_busy[i].end_s;
    }
    if (dur > 0) {
        if (c->n_busy == c->cap_busy) {
            int cap = c->cap_busy ? 2 * c->cap_busy : 64;
            run_busy *b = realloc(c->cpu_busy, (size_t)cap * sizeof *b);
            if (!b) {
                c->sched_st = RT_ERR_NOMEM;
                return at;
            }
            c->cpu_busy = b;
            c->cap_busy = cap;
        }
        memmove(&c->cpu_busy[i + 1], &c->cpu_busy[i], (size_t)(c->n_busy - i) * sizeof *c->cpu_busy);
        c->cpu_busy[i] = (run_busy){at, at + dur};
        c->n_busy++;
    }
    if (at + dur > c->makespan)
        c->makespan = at + dur;
    return at;
}

static void outputs_ready(run_ctx *c, const int *nodes, int n, double at);

/* Place segment si's crossings out (overlap: once its outputs are needed, or at the end). */
static rt_status place_crossings_out(run_ctx *c, int si, rt_error *e)
{
    if (!c->out_pending[si])
        return RT_OK;
    c->out_pending[si] = false;
    const part_segment *s = &c->r->plan->segments[si];
    double at = c->job_end[si], first = -1;
    rt_status st = crossing_events(c, s, false, &at, &first, e);
    if (st == RT_OK)
        outputs_ready(c, s->nodes, s->n_nodes, at);
    return st;
}

/* When the inputs of nodes[0..n-1] that none of them produces are ready (overlap only: an input
 * from a segment whose crossings out are still to be placed places them first). */
static rt_status inputs_ready(run_ctx *c, const int *nodes, int n, double *ready, rt_error *e)
{
    double at = 0;
    for (int k = 0; k < n && c->overlap; k++) {
        const rt_node *nd = &c->g->nodes[nodes[k]];
        for (int q = 0; q < nd->n_inputs; q++) {
            int t = nd->inputs[q];
            if (t < 0)
                continue;
            int producer = c->g->tensors[t]->producer;
            if (producer >= 0 && c->r->plan->node[producer].place == PART_NPU) {
                rt_status st = place_crossings_out(c, c->r->plan->node[producer].segment, e);
                if (st != RT_OK)
                    return st;
            }
            if (c->ready[t] > at)
                at = c->ready[t];
        }
    }
    *ready = at;
    return RT_OK;
}

static void outputs_ready(run_ctx *c, const int *nodes, int n, double at)
{
    if (!c->overlap)
        return;
    for (int k = 0; k < n; k++) {
        const rt_node *nd = &c->g->nodes[nodes[k]];
        for (int q = 0; q < nd->n_outputs; q++)
            if (nd->outputs[q] >= 0)
                c->ready[nd->outputs[q]] = at;
    }
}

/* The segment's crossings in or out, one after the other on the CPU from *at on; *at becomes the
 * end of the last, *first (if still < 0) the start of the first. */
static rt_status crossing_events(run_ctx *c, const part_segment *s, bool in, double *at, double *first, rt_error *e)
{
    const part_plan *p = c->r->plan;
    int from = s->first_crossing + (in ? 0 : s->n_in), n = in ? s->n_in : s->n_out;
    for (int k = 0; k < n; k++) {
        const part_crossing *x = &p->crossings[from + k];
        double start = cpu_place(c, *at, x->cost.seconds);
        run_event ev = {.track = RUN_TRACK_BOUNDARY, .cat = in ? "quantise" : "dequantise", .start_s = start,
                        .dur_s = x->cost.seconds, .node = -1, .segment = x->segment, .tensor = x->tensor,
                        .bytes = x->cost.bytes};
        snprintf(ev.name, sizeof ev.name, "%s %s", in ? "to NPU" : "from NPU", c->g->tensors[x->tensor]->name);
        rt_status st = add_event(c->r, &c->ev_cap, &ev, e);
        if (st != RT_OK)
            return st;
        *at = start + x->cost.seconds;
        if (*first < 0)
            *first = start;
    }
    return RT_OK;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The same segment on the backend's CPU twin of the firmware's kernels, from the same host
 * inputs: the largest difference between the device's outputs and the twin's. 0 means the
 * device computed exactly the specified int8 arithmetic, so the whole error against the FP32
 * reference is quantisation. The twin writes into c->vals itself: the device's values of the
 * segment's outputs are set aside, the twin's compared with them, freed, and the device's put back
 * (O(segment), not O(graph), per segment). */
static rt_status twin_check(run_ctx *c, int si, rt_error *e)
{
    const part_segment *s = &c->r->plan->segments[si];
    int n_out = 0;
    for (int k = 0; k < s->n_nodes; k++)
        n_out += c->g->nodes[s->nodes[k]].n_outputs;
    int *outs = malloc(((size_t)n_out + 1) * sizeof *outs);
    rt_tensor **dev = malloc(((size_t)n_out + 1) * sizeof *dev);
    if (!outs || !dev) {
        free(outs);
        free(dev);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (twin run)");
    }
    n_out = 0;
    for (int k = 0; k < s->n_nodes; k++) {
        const rt_node *n = &c->g->nodes[s->nodes[k]];
        for (int q = 0; q < n->n_outputs; q++)
            if (n->outputs[q] >= 0)
                outs[n_out++] = n->outputs[q];
    }
    qsort(outs, (size_t)n_out, sizeof *outs, cmp_int); /* the differences in tensor order, as ever */
    for (int i = 0; i < n_out; i++) {
        dev[i] = c->vals[outs[i]];
        c->vals[outs[i]] = NULL;
    }
    rt_status st = npu_segment_run_twin(c->segs[si], c->vals, e);
    double diff = 0;
    for (int i = 0; i < n_out; i++) {
        int t = outs[i];
        rt_tensor *twin = c->vals[t];
        c->vals[t] = dev[i];
        if (!twin)
            continue;
        if (st == RT_OK && (!dev[i] || rt_tensor_numel(dev[i]) != rt_tensor_numel(twin)))
            st = rt_error_set(e, RT_ERR_MISMATCH, "NPU segment %d: the twin gave '%s', the device did not", si,
                              c->g->tensors[t]->name);
        for (int64_t j = 0; st == RT_OK && j < rt_tensor_numel(twin); j++) {
            double d = fabs(rt_tensor_get_f64(dev[i], j) - rt_tensor_get_f64(twin, j));
            if (!(d <= diff))
                diff = d;
        }
        rt_tensor_free(twin);
    }
    free(outs);
    free(dev);
    if (st != RT_OK) {
        rt_error_prefix(e, "NPU segment %d (CPU twin)", si);
        return st;
    }
    c->r->segs[si].twin_max_abs = diff;
    if (!(diff <= c->r->twin_max_abs))
        c->r->twin_max_abs = diff;
    return RT_OK;
}

/* The segment's op descriptors and what each did (the firmware's profile), kept in the result;
 * each node of the segment learns which node's descriptors carry its work. */
static rt_status keep_ops(run_ctx *c, int si, rt_error *e)
{
    run_segment_result *sr = &c->r->segs[si];
    const part_segment *s = &c->r->plan->segments[si];
    uint32_t n = 0;
    const npu_op_desc *ops = npu_segment_ops(c->segs[si], &n);
    const npu_op_profile *prof = npu_segment_profile(c->segs[si]);
    for (int k = 0; k < s->n_nodes; k++)
        c->r->nodes[s->nodes[k]].into = npu_segment_fused_into(c->segs[si], s->nodes[k]);
    if (n == 0 || !prof)
        return RT_OK; /* no descriptor, or a backend whose jobs carry no profile */
    if (!(sr->ops = calloc(n, sizeof *sr->ops)))
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (op profile)");
    sr->n_ops = n;
    for (uint32_t i = 0; i < n; i++) {
        sr->ops[i].node = npu_segment_op_node(c->segs[si], i);
        sr->ops[i].kind = ops[i].op;
        sr->ops[i].prof = prof[i];
    }
    return RT_OK;
}

static rt_status run_segment(run_ctx *c, int si, rt_error *e)
{
    run_result *r = c->r;
    const part_segment *s = &r->plan->segments[si];
    run_segment_result *sr = &r->segs[si];
    /* the segment's outputs are fresh values the backend allocates */
    for (int k = 0; k < s->n_nodes; k++) {
        const rt_node *n = &c->g->nodes[s->nodes[k]];
        for (int q = 0; q < n->n_outputs; q++) {
            int t = n->outputs[q];
            if (t >= 0 && c->owned[t]) {
                rt_tensor_free(c->vals[t]);
                c->vals[t] = NULL;
            }
            if (t >= 0)
                c->owned[t] = true;
        }
    }
    double w0 = now_s();
    rt_status st = npu_segment_run(c->segs[si], c->timing_only ? NULL : c->vals, &sr->stats, e);
    sr->host_wall_s = now_s() - w0;
    r->host_npu_wall_s += sr->host_wall_s;
    if (st != RT_OK) {
        rt_error_prefix(e, "NPU segment %d", si);
        return st;
    }
    /* only tensors read outside the segment (its crossings out) must come back */
    for (int x = s->first_crossing + s->n_in; x < s->first_crossing + s->n_in + s->n_out; x++)
        c->crossing_out_of[r->plan->crossings[x].tensor] = si + 1;
    for (int k = 0; !c->timing_only && k < s->n_nodes; k++) {
        const rt_node *n = &c->g->nodes[s->nodes[k]];
        for (int q = 0; q < n->n_outputs; q++) {
            int t = n->outputs[q];
            if (t >= 0 && !c->vals[t] && c->r->plan->node[s->nodes[k]].segment == si) {
                if (c->crossing_out_of[t] == si + 1) {
                    char lbl[300];
                    return rt_error_set(e, RT_ERR_NO_DATA, "NPU segment %d: the backend returned no value for '%s' (node %s)",
                                        si, c->g->tensors[t]->name, graph_node_label(c->g, s->nodes[k], lbl, sizeof lbl));
                }
            }
        }
    }
    if (!c->timing_only && (st = twin_check(c, si, e)) != RT_OK)
        return st;
    if ((st = keep_ops(c, si, e)) != RT_OK)
        return st;
    r->npu_bytes_in += sr->stats.bytes_in;
    r->npu_bytes_out += sr->stats.bytes_out;
    r->npu_weight_bytes += sr->stats.weight_bytes;
    r->npu_s += sr->stats.seconds;

    /* the modelled schedule: crossings in, submission, the job, crossings out */
    double at, first = -1;
    if ((st = inputs_ready(c, s->nodes, s->n_nodes, &at, e)) != RT_OK)
        return st;
    if ((st = crossing_events(c, s, true, &at, &first, e)) != RT_OK)
        return st;
    double sub_at = cpu_place(c, at, s->submit_s);
    sr->start_s = first >= 0 ? first : sub_at;
    run_event sub = {.track = RUN_TRACK_CPU, .cat = "submit", .start_s = sub_at, .dur_s = s->submit_s, .node = -1,
                     .segment = si, .tensor = -1};
    snprintf(sub.name, sizeof sub.name, "submit segment %d", si);
    if ((st = add_event(r, &c->ev_cap, &sub, e)) != RT_OK)
        return st;
    double job_at = sub_at + s->submit_s;
    if (c->overlap) { /* the NPU runs one job at a time */
        if (c->npu_free > job_at)
            job_at = c->npu_free;
        c->npu_free = job_at + sr->stats.seconds;
        if (c->npu_free > c->makespan)
            c->makespan = c->npu_free;
    } else {
        c->t = job_at + sr->stats.seconds;
    }
    sr->job_start_s = job_at;
    run_event job = {.track = RUN_TRACK_FIRMWARE, .cat = "segment", .start_s = job_at, .dur_s = sr->stats.seconds,
                     .node = -1, .segment = si, .tensor = -1, .cycles = sr->stats.cycles,
                     .insns = sr->stats.insns};
    snprintf(job.name, sizeof job.name, "segment %d (%d nodes, %u op descriptors)", si, s->n_nodes, sr->n_ops);
    if ((st = add_event(r, &c->ev_cap, &job, e)) != RT_OK)
        return st;
    for (int k = 0; k < s->n_nodes; k++)
        r->nodes[s->nodes[k]].start_s = job_at;
    c->job_end[si] = job_at + sr->stats.seconds;
    c->out_pending[si] = true;
    if (!c->overlap && (st = place_crossings_out(c, si, e)) != RT_OK) /* off: right after the job */
        return st;
    return c->sched_st != RT_OK ? rt_error_set(e, c->sched_st, "out of memory (schedule)") : RT_OK;
}

static rt_status run_cpu_node(run_ctx *c, int node, rt_error *e)
{
    run_result *r = c->r;
    const part_node_info *ni = &r->plan->node[node];
    const rt_node *n = &c->g->nodes[node];
    for (int q = 0; q < n->n_outputs; q++)
        if (n->outputs[q] >= 0)
            c->owned[n->outputs[q]] = true; /* cpu_exec_node stores a fresh value there */
    bool control = ops_is_control(n->op);
    run_body_cost *body = NULL;
    if (control && !ni->constant && !(body = r->nodes[node].body = calloc(1, sizeof *body)))
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (control flow)");
    if (!c->timing_only) {
        double w0 = now_s();
        rt_status st = control ? run_control_exec(c->rc, c->g, node, c->vals, body, e)
                               : cpu_exec_node(c->g, node, c->vals, e);
        r->nodes[node].host_wall_s = now_s() - w0;
        r->host_cpu_wall_s += r->nodes[node].host_wall_s;
        if (st != RT_OK)
            return st;
    } else if (body) {
        rt_status st = run_control_static(c->rc, c->g, node, body, e);
        if (st != RT_OK)
            return st;
    }
    if (ni->constant) {
        r->nodes[node].start_s = c->t;
        return RT_OK; /* precomputed once: not part of an inference */
    }
    double dur = ni->cpu.seconds + (body ? run_body_total_s(body) : 0), ready;
    rt_status rs = inputs_ready(c, &node, 1, &ready, e);
    if (rs != RT_OK)
        return rs;
    if (body && body->segments > 0 && c->npu_free > ready)
        ready = c->npu_free; /* its subgraphs use the NPU too: after every job before it */
    double at = cpu_place(c, ready, dur);
    if (body && body->segments > 0 && c->overlap && at + dur > c->npu_free)
        c->npu_free = at + dur;
    outputs_ready(c, &node, 1, at + dur);
    if (c->sched_st != RT_OK)
        return rt_error_set(e, c->sched_st, "out of memory (schedule)");
    r->nodes[node].start_s = at;
    run_event ev = {.track = RUN_TRACK_CPU, .cat = ni->view ? "view" : body ? "control" : "cpu", .start_s = at,
                    .dur_s = dur, .node = node, .segment = -1, .tensor = -1};
    if (n->name && n->name[0])
        snprintf(ev.name, sizeof ev.name, "%s", n->name);
    else
        snprintf(ev.name, sizeof ev.name, "#%d (%s)", node, n->op_type);
    if (body) {
        part_node_info *wi = &r->plan->node[node];
        snprintf(wi->why, sizeof wi->why, "control flow on the CPU; %.*s: %d nodes, %d on the NPU in %d segment%s",
                 (int)(sizeof wi->why / 2), body->what, body->nodes, body->npu_nodes, body->segments,
                 body->segments == 1 ? "" : "s");
        r->npu_s += body->npu_s;
        for (int u = 0; u < NPU_UNIT_COUNT; u++) /* the subgraphs' NPU work, for the energy */
            for (int k = 0; k < NPU_CTR_COUNT; k++)
                c->body_counters.v[u][k] += body->counters.v[u][k];
    }
    return add_event(r, &c->ev_cap, &ev, e);
}

static rt_status execute(run_ctx *c, rt_error *e)
{
    const part_plan *p = c->r->plan;
    for (int pos = 0; pos < p->n_nodes; pos++) {
        int node = p->order[pos];
        const part_node_info *ni = &p->node[node];
        rt_status st;
        if (ni->place == PART_NPU) {
            const part_segment *s = &p->segments[ni->segment];
            if (s->nodes[0] != node)
                continue; /* ran with its segment */
            st = run_segment(c, ni->segment, e);
        } else {
            st = run_cpu_node(c, node, e);
        }
        if (st != RT_OK)
            return st;
    }
    for (int si = 0; si < p->n_segments; si++) { /* overlap: what no later step read */
        rt_status st = place_crossings_out(c, si, e);
        if (st != RT_OK)
            return st;
    }
    return c->sched_st != RT_OK ? rt_error_set(e, c->sched_st, "out of memory (schedule)") : RT_OK;
}

/* Crossings of tensors that stay in device memory between runs cost nothing: zero them and the
 * totals they fed (the partitioner prices every crossing; residency is the caller's knowledge). */
static void waive_resident_crossings(part_plan *p, const rt_graph *g, const run_options *o)
{
    if (!o->resident)
        return;
    for (int s = 0; s < p->n_segments; s++) {
        part_segment *seg = &p->segments[s];
        for (int k = 0; k < seg->n_in + seg->n_out; k++) {
            part_crossing *x = &p->crossings[seg->first_crossing + k];
            if (!o->resident(g, x->tensor, o->resident_ctx))
                continue;
            if (k < seg->n_in) {
                seg->bytes_in -= x->cost.bytes;
                seg->transfer_in_s -= x->cost.seconds;
            } else {
                seg->bytes_out -= x->cost.bytes;
                seg->transfer_out_s -= x->cost.seconds;
            }
            p->crossing_bytes -= x->cost.bytes;
            p->crossing_s -= x->cost.seconds;
            p->crossing_j -= x->cost.energy_j;
            memset(&x->cost, 0, sizeof x->cost);
        }
    }
}

/* ---- the pipeline */

rt_status run_model(rt_graph *g, const run_options *o, run_result **out, rt_error *e)
{
    double *sched_ready = NULL, makespan = 0; /* npu.overlap: the list schedule's (run_ctx) */
    *out = NULL;
    if (!o || !o->cfg)
        return rt_error_set(e, RT_ERR_ARG, "run: no configuration");
    /* shapes first: the graph may change (re-prepared), and nothing expensive has run yet */
    rt_status bst = run_bind_dims(g, o, e);
    if (bst != RT_OK)
        return bst;
    run_result *r = calloc(1, sizeof *r);
    size_t nt = (size_t)g->n_tensors + 1;
    rt_tensor **vals = calloc(nt, sizeof *vals), **ref = calloc(nt, sizeof *ref);
    bool *owned = calloc(nt, sizeof *owned);
    int *crossing_out_of = calloc(nt, sizeof *crossing_out_of);
    npu_backend *b = NULL;
    npu_segment **segs = NULL;
    run_control *rc = NULL;
    npu_mem_plan *mem = NULL;
    run_cost_ctx cost_ctx = {0};
    rt_status st = RT_OK;
    if (!r || !vals || !ref || !owned || !crossing_out_of || !(r->nodes = calloc((size_t)g->n_nodes + 1, sizeof *r->nodes))) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (run)");
        goto done;
    }
    r->n_nodes = g->n_nodes;
    for (int n = 0; n < g->n_nodes; n++)
        r->nodes[n].into = -1;
    r->seed = o->seed ? o->seed : RUN_DEFAULT_SEED;
    r->timing_only = o->timing_only;
    r->activations = o->activations;
    r->weights = o->weights;
    r->group_size = o->group_size;
    if (!o->timing_only) {
        if ((st = run_bind_inputs(g, o, r, vals, owned, e)) != RT_OK)
            goto done;
        if ((st = run_reference_values(g, vals, ref, e)) != RT_OK)
            goto done;
        shapes_from_reference(g, ref); /* shapes that depend on data (a Loop's scan outputs) */
        if ((st = run_calibrate(g, o, ref, r, e)) != RT_OK)
            goto done;
    }
    b = o->backend ? o->backend : npu_backend_open(o->cfg, e);
    if (!b) {
        st = e && e->code != RT_OK ? e->code : RT_ERR_ARG;
        goto done;
    }
    npu_backend_set_format(b, o->activations, o->group_size); /* what CHECK and every segment see */
    cost_ctx = (run_cost_ctx){.b = b, .cfg = o->cfg, .weights = o->weights, .keep_fits_plan = true};
    part_options popts;
    run_partition_options(o, &cost_ctx, &popts);
    if ((st = partition_graph_opts(g, o->cfg, &popts, &r->plan, e)) != RT_OK)
        goto done;
    if (!(rc = run_control_new(o, b))) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (run)");
        goto done;
    }
    waive_resident_crossings(r->plan, g, o);
    const part_plan *p = r->plan;
    segs = calloc((size_t)p->n_segments + 1, sizeof *segs);
    r->segs = calloc((size_t)p->n_segments + 1, sizeof *r->segs);
    if (!segs || !r->segs) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (segments)");
        goto done;
    }
    /* every segment planned first, then the module's device memory at once (npu_backend.h); the
     * fits check planned them already when the partitioner kept its plan's segments */
    r->mem_plan_from_fits = (mem = run_take_fits_plan(&cost_ctx, g, p, segs)) != NULL;
    if (!mem) {
        if (!(mem = npu_mem_plan_new(b, g, o->resident, o->resident_ctx, e))) {
            st = e && e->code != RT_OK ? e->code : RT_ERR_NOMEM;
            goto done;
        }
        for (int s = 0; s < p->n_segments; s++)
            if (!(segs[s] = npu_mem_plan_segment(mem, p->segments[s].nodes, p->segments[s].n_nodes, o->weights,
                                                 o->timing_only, e))) {
                st = e && e->code != RT_OK ? e->code : RT_ERR_ARG;
                rt_error_prefix(e, "building NPU segment %d", s);
                goto done;
            }
    }
    for (int s = 0; s < p->n_segments; s++)
        npu_segment_mem_usage(segs[s], &r->segs[s].mem);
    npu_mem_plan_usage(mem, &r->mem);
    if ((st = npu_mem_plan_commit(mem, e)) != RT_OK)
        goto done;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t]->kind == RT_TENSOR_CONSTANT)
            vals[t] = g->tensors[t]; /* borrowed; never written */
    run_ctx c = {.g = g, .cfg = o->cfg, .r = r, .vals = vals, .owned = owned, .segs = segs, .rc = rc,
                 .crossing_out_of = crossing_out_of, .timing_only = o->timing_only,
                 .overlap = o->cfg->npu.overlap == NPU_ON};
    c.job_end = calloc((size_t)r->plan->n_segments + 1, sizeof *c.job_end);
    c.out_pending = calloc((size_t)r->plan->n_segments + 1, sizeof *c.out_pending);
    if (c.overlap)
        c.ready = sched_ready = calloc((size_t)g->n_tensors + 1, sizeof *c.ready);
    if (!c.job_end || !c.out_pending || (c.overlap && !c.ready))
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (schedule)");
    else
        st = execute(&c, e);
    free(c.cpu_busy);
    free(c.job_end);
    free(c.out_pending);
    makespan = c.makespan;
    if (st != RT_OK)
        goto done;
    if (o->timing_only)
        goto breakdown; /* nothing was computed: no outputs, no errors */

    /* outputs and their errors */
    r->outputs = calloc((size_t)g->n_outputs + 1, sizeof *r->outputs);
    if (!r->outputs) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (outputs)");
        goto done;
    }
    for (int k = 0; k < g->n_outputs; k++) {
        int t = g->outputs[k];
        run_output *ro = &r->outputs[r->n_outputs];
        ro->tensor = t;
        if (!vals[t] || !ref[t]) {
            st = rt_error_set(e, RT_ERR_NO_DATA, "graph output '%s' was not computed", g->tensors[t]->name);
            goto done;
        }
        ro->value = owned[t] ? vals[t] : rt_tensor_clone(vals[t]);
        if (owned[t])
            vals[t] = NULL, owned[t] = false;
        ro->reference = ref[t];
        ref[t] = NULL;
        r->n_outputs++;
        if (!ro->value) {
            st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (outputs)");
            goto done;
        }
        char s1[128], s2[128];
        if (ro->value->rank != ro->reference->rank || rt_tensor_numel(ro->value) != rt_tensor_numel(ro->reference) ||
            memcmp(ro->value->dims, ro->reference->dims, (size_t)ro->value->rank * sizeof ro->value->dims[0]) != 0) {
            st = rt_error_set(e, RT_ERR_SHAPE, "output '%s': the NPU path gave shape %s, the reference %s",
                              g->tensors[t]->name, rt_shape_str(ro->value, s1, sizeof s1),
                              rt_shape_str(ro->reference, s2, sizeof s2));
            goto done;
        }
        run_accuracy(ro, run_output_is_class_scores(g, o, t));
        if (!(ro->max_abs <= r->max_abs))
            r->max_abs = ro->max_abs;
        if (!(ro->max_rel <= r->max_rel))
            r->max_rel = ro->max_rel;
    }

breakdown:
    r->cpu_s = p->cpu_s;
    r->transfer_s = p->crossing_s;
    r->submit_s = p->submit_s;
    r->crossing_bytes = p->crossing_bytes;
    for (int n = 0; n < g->n_nodes; n++) { /* what control-flow subgraphs ran (their NPU time is in npu_s) */
        const run_body_cost *bc = r->nodes[n].body;
        if (!bc)
            continue;
        r->cpu_s += bc->cpu_s;
        r->transfer_s += bc->transfer_s;
        r->submit_s += bc->submit_s;
        r->crossing_bytes += bc->crossing_bytes;
    }
    r->total_s = r->npu_s + r->cpu_s + r->transfer_s + r->submit_s;
    if (o->cfg->npu.overlap == NPU_ON && makespan < r->total_s)
        r->total_s = makespan; /* CPU steps ran while jobs they neither feed nor follow did */
    for (int s = 0; s < p->n_segments; s++)
        energy_add_npu(&r->energy, o->cfg, &r->segs[s].stats.counters);
    energy_add_npu(&r->energy, o->cfg, &c.body_counters);
    energy_add_static(&r->energy, o->cfg, r->total_s);
    energy_add_cpu(&r->energy, o->cfg, r->cpu_s + r->submit_s, r->npu_s);
    /* energy_add_transfer charges each byte read once and written once; a crossing's bytes
     * already count the host bytes read plus the device bytes written */
    energy_add_transfer(&r->energy, o->cfg, (double)r->crossing_bytes / 2.0, r->transfer_s);
done:
    run_fits_plan_free(&cost_ctx.fits); /* a fits check's plan the run did not take */
    npu_mem_plan_free(mem); /* the segments and all their device memory */
    free(segs);
    run_control_free(rc);
    if (!o->backend)
        npu_backend_close(b);
    for (size_t t = 0; t < nt; t++) {
        if (vals && owned && owned[t])
            rt_tensor_free(vals[t]);
        if (ref)
            rt_tensor_free(ref[t]);
    }
    free(vals);
    free(ref);
    free(owned);
    free(crossing_out_of);
    free(sched_ready);
    if (st != RT_OK) {
        run_result_free(r);
        return st;
    }
    *out = r;
    return RT_OK;
}
