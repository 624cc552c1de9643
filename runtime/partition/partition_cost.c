/* partition_cost.c -- cost-aware placement (PART_COST): a node goes to the NPU only where that
 * lowers the modelled objective (latency or energy), boundary transfers and submissions included.
 *
 * The greedy plan (every supported node on the NPU, the grouping order, its segments) is the
 * start. The objective of a plan is exact and additive over its parts:
 *
 *     cost = sum over segments of the segment's simulated device cost (the callback: a timing-only
 *            job of its nodes, firmware and job overhead included)
 *          + sum over CPU nodes of their runtime/cpumodel cost
 *          + sum over crossings (quantise in / dequantise out, priced by runtime/cpumodel)
 *          + one submission per segment (a job's overhead plus one per node)
 *
 * in seconds, or in joules (the NPU's dynamic energy plus static power and the CPU idling over
 * its time; CPU nodes, crossings and submissions at active power plus the NPU's static power;
 * crossings' DRAM bytes), which is what the run pipeline then reports.
 *
 * The search moves nodes from the NPU to the CPU at the ends of segments. Within a segment (a run
 * of the fixed execution order) it scans every prefix and then every suffix: moving node v costs
 *
 *     delta(v) = cpu(v) - npu(v) + (crossing cost of v's tensors after - before) - the node's
 *                share of the submission (cpu.npu_op_overhead_us) [- the job's submission when
 *                the segment empties]
 *
 * with npu(v) the node's share of its greedy segment's simulated job (the callback's per-node
 * costs: the spans of the op descriptors lowered from v, which follow one another on the device),
 * and each crossing recomputed exactly from the readers of the tensor (a tensor is quantised into
 * each segment that reads it and is made outside it, and dequantised once when a segment makes
 * it and anything outside reads it). What is left of a segment is priced analytically too: its
 * job's cost less the shares of the nodes that left. That is exact where descriptors do not
 * interact (the device drains between descriptors); it misses what a cut changes in lowering (an
 * epilogue no longer fused, a tensor now written out), which the exact evaluation below catches.
 * So the search simulates nothing beyond the greedy plan's segments. The best prefix (possibly
 * the whole segment) and then the best suffix are kept, a trim only where it gains at least
 * COST_MIN_TRIM_SHARE of the segment, and passes repeat until nothing improves.
 * Every step is O(degree x readers), so a pass is linear in the graph. The placement is then
 * regrouped (the order may merge runs), and three candidates are evaluated exactly (their
 * segments simulated; a segment of the greedy plan's nodes costs what the greedy plan's run
 * gave, other repeats come from the backend's memo, which the run then reuses): the search's
 * result, the greedy plan and everything on the CPU; the cheapest wins (ties to the search). So
 * the chosen plan is never modelled slower than greedy or than the CPU alone.
 *
 * Every supported node the plan leaves on the CPU says why, with the numbers of the run of
 * nodes it moved with ("cheaper on the CPU: 12.0 us here against 71.5 us on the NPU, transfers
 * and submission included (3 nodes)").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition_internal.h"

#define COST_MAX_PASSES 4
#define COST_REL_EPS 1e-12      /* improvements smaller than this share of the greedy cost are noise */
/* A segment's ends move only for a modelled gain of at least this share of its device cost. Below
 * that the shares' error can turn the gain into a loss (a cut changes lowering: moving rotary
 * nodes off LLaMA-7B's prefill segment was modelled at -24 us and simulated at +550 us, 0.25% of
 * it), and checking it costs a whole simulation of the trimmed segment; with the threshold the
 * default what-if of every task takes ~1.2x the time of greedy placement instead of ~1.7x. */
#define COST_MIN_TRIM_SHARE 0.01
#define COST_PJ_TO_J 1e-12
#define COST_BITS_PER_BYTE 8.0
#define COST_US 1e6             /* seconds -> microseconds (and J -> uJ) in the reasons */

typedef struct search {
    const rt_graph *g;
    const m4npu_config *cfg;
    const part_options *o;
    rt_error *e;
    int nn, nt;
    int *rd_start, *rd;     /* readers of tensor t: rd[rd_start[t] .. rd_start[t + 1]), each node once */
    bool *is_output, *free_tensor; /* graph outputs; constants, constant-node results and resident tensors */
    double *in_cost, *out_cost;    /* a crossing of each tensor, objective units */
    int *seg;               /* node -> segment in the search, or -1 (CPU) */
    int *seg_size;          /* nodes left in each segment */
    int *stamp, stamp_now;  /* per segment: dedup of a tensor's reading segments */
    double *npu_share;      /* node -> its share of its greedy segment's device cost (0 on the CPU) */
    part_npu_cost *per_node; /* scratch for the callback's shares: one per node of a segment */
    double *run_cost;       /* segment -> device cost of its current run: exact for the greedy
                               segment, less the shares of nodes moved since (INFINITY: cannot be built) */
    double *cpu_cost;       /* node -> CPU cost */
    /* The greedy plan's segments and their exact device costs, as plan_cost evaluated them: a
     * later plan's segment with the same nodes costs the same (the backend's memo would answer it,
     * after building the segment again: on the default what-if a sixth of the CPU time). */
    const part_plan *greedy;
    double *greedy_cost;
    double submit;          /* a job's submission: cpu.npu_submit_overhead_us */
    double op_submit;       /* and each of its nodes': cpu.npu_op_overhead_us */
    int evaluations;
} search;

const char *part_objective_unit(part_objective o) { return o == PART_ENERGY ? "J" : "s"; }

/* ---- the objective's parts */

static double static_w(const search *s) { return s->cfg->energy.npu_static_w; }

static double cpu_node_cost(const search *s, const cpumodel_cost *c)
{
    if (s->o->objective == PART_LATENCY)
        return c->seconds;
    return c->energy_j + static_w(s) * c->seconds;
}

static double npu_part_cost(const search *s, const part_npu_cost *c)
{
    if (s->o->objective == PART_LATENCY)
        return c->seconds;
    return c->dynamic_j + (s->cfg->cpu.idle_power_w + static_w(s)) * c->seconds;
}

static double crossing_cost(const search *s, const cpumodel_transfer_cost *c)
{
    if (s->o->objective == PART_LATENCY)
        return c->seconds;
    return c->energy_j + static_w(s) * c->seconds +
           (double)c->bytes * COST_BITS_PER_BYTE * s->cfg->energy.dram_pj_per_bit * COST_PJ_TO_J;
}

/* Submitting one job of n_nodes nodes. */
static double submit_cost(const search *s, int n_nodes)
{
    double t = cpumodel_submit_s(&s->cfg->cpu, n_nodes);
    return s->o->objective == PART_LATENCY ? t : cpumodel_active_j(&s->cfg->cpu, t) + static_w(s) * t;
}

/* The device cost of nodes[0..n-1] as one segment; INFINITY if it cannot be built. With
 * shares, each node's share of it goes to s->npu_share. */
static double segment_cost(search *s, const int *nodes, int n, bool shares)
{
    for (int i = 0; !shares && s->greedy_cost && i < s->greedy->n_segments; i++) {
        const part_segment *g = &s->greedy->segments[i];
        if (g->n_nodes == n && memcmp(g->nodes, nodes, (size_t)n * sizeof *nodes) == 0)
            return s->greedy_cost[i];
    }
    part_npu_cost c = {0, 0};
    rt_error local = {0};
    s->evaluations++;
    if (!s->o->segment_cost(s->o->cost_ctx, s->g, nodes, n, &c, shares ? s->per_node : NULL, &local))
        return INFINITY;
    for (int i = 0; shares && i < n; i++)
        s->npu_share[nodes[i]] = npu_part_cost(s, &s->per_node[i]);
    return npu_part_cost(s, &c);
}

/* What tensor t's crossings cost under the current placement. */
static double tensor_cost(search *s, int t)
{
    if (t < 0 || s->free_tensor[t])
        return 0.0;
    int prod = s->g->tensors[t]->producer, ps = prod >= 0 ? s->seg[prod] : -1;
    bool out = ps >= 0 && s->is_output[t];
    double c = 0.0;
    s->stamp_now++;
    for (int k = s->rd_start[t]; k < s->rd_start[t + 1]; k++) {
        int rs = s->seg[s->rd[k]];
        if (rs == ps)
            continue;
        out |= ps >= 0;
        if (rs >= 0 && s->stamp[rs] != s->stamp_now) {
            s->stamp[rs] = s->stamp_now;
            c += s->in_cost[t];
        }
    }
    return out ? c + s->out_cost[t] : c;
}

/* The tensors node v reads or writes, each once (into ts, at most cap); their count. */
static int node_tensors(const search *s, int v, int *ts, int cap)
{
    const rt_node *n = &s->g->nodes[v];
    int k = 0;
    for (int side = 0; side < 2; side++) {
        int cnt = side ? n->n_outputs : n->n_inputs;
        const int *list = side ? n->outputs : n->inputs;
        for (int i = 0; i < cnt && k < cap; i++) {
            int t = list[i];
            bool dup = t < 0;
            for (int j = 0; j < k && !dup; j++)
                dup = ts[j] == t;
            if (!dup)
                ts[k++] = t;
        }
    }
    return k;
}

#define COST_NODE_TENSORS 64 /* inputs + outputs of a node considered per move (ONNX nodes have few) */

/* Move node v (on the NPU, in segment seg[v]) to the CPU; the change of the objective except the
 * node's own device cost (the caller knows it: an estimate, or the run's exact time). */
static double move_to_cpu(search *s, int v)
{
    int ts[COST_NODE_TENSORS];
    int k = node_tensors(s, v, ts, COST_NODE_TENSORS);
    double before = 0.0, after = 0.0;
    for (int i = 0; i < k; i++)
        before += tensor_cost(s, ts[i]);
    int sg = s->seg[v];
    s->seg[v] = -1;
    s->seg_size[sg]--;
    for (int i = 0; i < k; i++)
        after += tensor_cost(s, ts[i]);
    double d = after - before + s->cpu_cost[v];
    if (s->seg_size[sg] == 0)
        d -= s->submit;
    d -= s->op_submit;
    return d;
}

static void move_back(search *s, int v, int sg)
{
    s->seg[v] = sg;
    s->seg_size[sg]++;
}

/* ---- set-up */

static void search_free(search *s)
{
    free(s->rd_start);
    free(s->rd);
    free(s->is_output);
    free(s->free_tensor);
    free(s->in_cost);
    free(s->out_cost);
    free(s->seg);
    free(s->seg_size);
    free(s->stamp);
    free(s->npu_share);
    free(s->per_node);
    free(s->run_cost);
    free(s->cpu_cost);
    free(s->greedy_cost);
}

/* Whether n's input i is a tensor it has not read at an earlier input (a node reading t twice
 * is one reader of t). */
static bool first_read(const rt_node *n, int i)
{
    int t = n->inputs[i];
    bool dup = t < 0;
    for (int j = 0; j < i && !dup; j++)
        dup = n->inputs[j] == t;
    return !dup;
}

static rt_status search_init(search *s, const part_plan *p)
{
    const rt_graph *g = s->g;
    int nn = s->nn = g->n_nodes, nt = s->nt = g->n_tensors;
    s->rd_start = calloc((size_t)nt + 2, sizeof *s->rd_start);
    s->is_output = calloc((size_t)nt + 1, sizeof *s->is_output);
    s->free_tensor = calloc((size_t)nt + 1, sizeof *s->free_tensor);
    s->in_cost = calloc((size_t)nt + 1, sizeof *s->in_cost);
    s->out_cost = calloc((size_t)nt + 1, sizeof *s->out_cost);
    s->seg = malloc(((size_t)nn + 1) * sizeof *s->seg);
    s->seg_size = calloc((size_t)p->n_segments + 1, sizeof *s->seg_size);
    s->stamp = calloc((size_t)p->n_segments + 1, sizeof *s->stamp);
    s->npu_share = calloc((size_t)nn + 1, sizeof *s->npu_share);
    s->per_node = calloc((size_t)nn + 1, sizeof *s->per_node);
    s->run_cost = calloc((size_t)p->n_segments + 1, sizeof *s->run_cost);
    s->cpu_cost = calloc((size_t)nn + 1, sizeof *s->cpu_cost);
    if (!s->rd_start || !s->is_output || !s->free_tensor || !s->in_cost || !s->out_cost || !s->seg || !s->seg_size ||
        !s->stamp || !s->npu_share || !s->per_node || !s->run_cost || !s->cpu_cost)
        return rt_error_set(s->e, RT_ERR_NOMEM, "out of memory (partition search)");
    /* readers, CSR: count, prefix sums, fill (a node reading t twice is one reader) */
    for (int v = 0; v < nn; v++)
        for (int i = 0; i < g->nodes[v].n_inputs; i++)
            if (first_read(&g->nodes[v], i))
                s->rd_start[g->nodes[v].inputs[i] + 1]++;
    for (int t = 0; t < nt; t++)
        s->rd_start[t + 1] += s->rd_start[t];
    int *fill = malloc(((size_t)nt + 1) * sizeof *fill);
    s->rd = malloc(((size_t)s->rd_start[nt] + 1) * sizeof *s->rd);
    if (!fill || !s->rd) {
        free(fill);
        return rt_error_set(s->e, RT_ERR_NOMEM, "out of memory (partition search)");
    }
    memcpy(fill, s->rd_start, (size_t)nt * sizeof *fill);
    for (int v = 0; v < nn; v++)
        for (int i = 0; i < g->nodes[v].n_inputs; i++)
            if (first_read(&g->nodes[v], i))
                s->rd[fill[g->nodes[v].inputs[i]]++] = v;
    free(fill);
    for (int k = 0; k < g->n_outputs; k++)
        s->is_output[g->outputs[k]] = true;
    for (int t = 0; t < nt; t++) {
        const rt_tensor *x = g->tensors[t];
        int prod = x->producer;
        s->free_tensor[t] = x->kind == RT_TENSOR_CONSTANT || (prod >= 0 && p->node[prod].constant) ||
                            (s->o->resident && s->o->resident(s->o->resident_ctx, g, t));
        int64_t ne = rt_tensor_numel(x);
        if (s->free_tensor[t] || ne < 0)
            continue;
        unsigned bits = rt_dtype_is_float(x->dtype) ? p->device_act_bits : rt_dtype_bits(x->dtype);
        cpumodel_transfer_cost c;
        cpumodel_transfer(&s->cfg->cpu, ne, x->dtype, bits, CPUMODEL_TO_NPU, &c);
        s->in_cost[t] = crossing_cost(s, &c);
        cpumodel_transfer(&s->cfg->cpu, ne, x->dtype, bits, CPUMODEL_FROM_NPU, &c);
        s->out_cost[t] = crossing_cost(s, &c);
    }
    for (int v = 0; v < nn; v++) {
        s->seg[v] = p->node[v].place == PART_NPU ? p->node[v].segment : -1;
        s->cpu_cost[v] = p->node[v].constant ? 0.0 : cpu_node_cost(s, &p->node[v].on_cpu);
    }
    for (int i = 0; i < p->n_segments; i++)
        s->seg_size[i] = p->segments[i].n_nodes;
    s->submit = submit_cost(s, 0);
    s->op_submit = submit_cost(s, 1) - s->submit;
    return RT_OK;
}

/* ---- exact evaluation of a finished plan */

/* (seg_costs: each segment's device cost, and each node's share of it in s->npu_share; or NULL.) */
static double plan_cost(search *s, const part_plan *p, double *seg_costs)
{
    double c = 0.0;
    for (int i = 0; i < p->n_segments; i++) {
        double sc = segment_cost(s, p->segments[i].nodes, p->segments[i].n_nodes, seg_costs != NULL);
        if (seg_costs)
            seg_costs[i] = sc;
        c += sc + submit_cost(s, p->segments[i].n_nodes);
    }
    if (!isfinite(c))
        return INFINITY;
    for (int v = 0; v < s->nn; v++)
        if (p->node[v].place == PART_CPU && !p->node[v].constant)
            c += s->cpu_cost[v];
    for (int k = 0; k < p->n_crossings; k++)
        if (!s->free_tensor[p->crossings[k].tensor])
            c += crossing_cost(s, &p->crossings[k].cost);
    return c;
}

/* What plan_cost gives the plan with every node on the CPU (replan with no NPU node), without
 * making that plan (a copy of every node's record, then ordering and crossings: on a 2,700-node
 * decode graph ~1 MiB written and 1.5 M instructions) unless it wins. That plan has no segment,
 * hence no crossing, and every node on the CPU: its cost is its non-constant nodes' CPU costs,
 * summed in plan_cost's order (node index), so the sum is the same double. */
static double all_cpu_cost(const search *s, const part_plan *from)
{
    double c = 0.0;
    for (int v = 0; v < s->nn; v++)
        if (!from->node[v].constant)
            c += s->cpu_cost[v];
    return c;
}

/* A plan with the placement of from, NPU nodes where npu[v] (supported ones only), finished. */
static rt_status replan(const rt_graph *g, const m4npu_config *cfg, const part_plan *from, const bool *npu,
                        part_plan **out, rt_error *e)
{
    *out = NULL;
    part_plan *p = calloc(1, sizeof *p);
    if (!p)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition)");
    p->n_nodes = from->n_nodes;
    p->strategy = from->strategy;
    p->objective = from->objective;
    p->device_act_bits = from->device_act_bits;
    p->order = calloc((size_t)p->n_nodes + 1, sizeof *p->order);
    p->node = malloc(((size_t)p->n_nodes + 1) * sizeof *p->node);
    if (!p->order || !p->node) {
        part_plan_free(p);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition)");
    }
    memcpy(p->node, from->node, (size_t)p->n_nodes * sizeof *p->node);
    for (int v = 0; v < p->n_nodes; v++) {
        part_node_info *ni = &p->node[v];
        ni->segment = -1;
        if (ni->supported) {
            ni->place = npu[v] ? PART_NPU : PART_CPU;
            ni->kept_on_cpu = !npu[v];
            if (npu[v])
                ni->why[0] = '\0';
        }
    }
    rt_status st = part_finish(g, cfg, p, e);
    if (st != RT_OK) {
        part_plan_free(p);
        return st;
    }
    *out = p;
    return RT_OK;
}

/* ---- the search */

static void why_moved(const search *s, part_plan *p, const int *nodes, int n, double cpu_side, double gain)
{
    bool lat = s->o->objective == PART_LATENCY;
    for (int i = 0; i < n; i++)
        snprintf(p->node[nodes[i]].why, sizeof p->node[nodes[i]].why,
                 "cost: cheaper on the CPU: %.2f %s here against %.2f %s on the NPU, transfers and submission "
                 "included (%d node%s)",
                 cpu_side * COST_US, lat ? "us" : "uJ", (cpu_side + gain) * COST_US, lat ? "us" : "uJ", n,
                 n == 1 ? "" : "s moved together");
}

/* Move nodes[first], nodes[first + step] ... (count of them) to the CPU one by one, each at its
 * share of the segment's device cost; cum[i] = the objective's change after the first i moves, cpu[i] their
 * CPU cost. Stops early (returns how many moved) once the CPU cost alone exceeds `bound`: no
 * longer run can gain then (see search_pass). */
static int scan_moves(search *s, const int *nodes, int first, int count, int step, double bound, double *cum,
                      double *cpu)
{
    cum[0] = cpu[0] = 0.0;
    for (int i = 0; i < count; i++) {
        int v = nodes[first + step * i];
        if (cpu[i] > bound)
            return i;
        cum[i + 1] = cum[i] + move_to_cpu(s, v) - s->npu_share[v];
        cpu[i + 1] = cpu[i] + s->cpu_cost[v];
    }
    return count;
}

static void undo_moves(search *s, const int *nodes, int first, int count, int step, int sg)
{
    for (int i = count - 1; i >= 0; i--)
        move_back(s, nodes[first + step * i], sg);
}

/* The best (most negative) cum[1 .. n], excluding the whole run of L; its length, 0 if none < 0. */
static int best_part(const double *cum, int n, int L, double *best)
{
    int k = 0;
    *best = 0.0;
    for (int i = 1; i <= n && i < L; i++)
        if (cum[i] < *best) {
            *best = cum[i];
            k = i;
        }
    return k;
}

/* What the crossings of the tensors that nodes[lo .. hi) touch cost now. */
static double run_crossings(search *s, const int *nd, int lo, int hi)
{
    double c = 0.0;
    int ts[COST_NODE_TENSORS];
    for (int i = lo; i < hi; i++) {
        int k = node_tensors(s, nd[i], ts, COST_NODE_TENSORS);
        for (int j = 0; j < k; j++) /* a tensor shared by two nodes of the run counts twice: a bound */
            c += tensor_cost(s, ts[j]);
    }
    return c;
}

/* The shares of nodes[first], nodes[first + step] ... (count of them). */
static double shares(const search *s, const int *nodes, int first, int count, int step)
{
    double c = 0.0;
    for (int i = 0; i < count; i++)
        c += s->npu_share[nodes[first + step * i]];
    return c;
}

/* One pass over the segments. For each, the nodes still on the NPU form a run nodes[lo .. hi) of
 * device cost T (s->run_cost). Candidates: the whole run to the CPU (its change, with T), or the
 * best prefix, the best suffix, or both (scanned node by node with each node's share). A scan
 * stops once the CPU cost of the nodes it moved exceeds T plus the submission plus the run's
 * crossings: the device cost of a part is at most T and moving nodes saves at most those
 * crossings, so no longer part can gain. The best candidate that improves is applied, and T of
 * what is left loses the shares of the nodes that left. Whether anything moved. cum and cpu are
 * scratch of n_nodes + 1 entries. */
static bool search_pass(search *s, const part_plan *greedy, part_plan *reasons, double eps, double *cum, double *cpu)
{
    bool moved = false;
    for (int si = 0; si < greedy->n_segments; si++) {
        const part_segment *sg = &greedy->segments[si];
        const int *nd = sg->nodes;
        int lo = 0, hi = sg->n_nodes;
        while (lo < hi && s->seg[nd[lo]] != si)
            lo++;
        while (hi > lo && s->seg[nd[hi - 1]] != si)
            hi--;
        int L = hi - lo;
        double T = s->run_cost[si];
        if (L <= 0 || !isfinite(T))
            continue;
        double bound = T + s->submit + L * s->op_submit + run_crossings(s, nd, lo, hi);
        /* the whole run: exact */
        double all_cpu = 0.0, all = -T;
        for (int k = lo; k < hi; k++) {
            all += move_to_cpu(s, nd[k]);
            all_cpu += s->cpu_cost[nd[k]];
        }
        undo_moves(s, nd, lo, L, 1, si);
        /* the best prefix, then the best suffix, each from the same state */
        int n = scan_moves(s, nd, lo, L, 1, bound, cum, cpu);
        undo_moves(s, nd, lo, n, 1, si);
        double pre, suf;
        int np = best_part(cum, n, L, &pre);
        double pre_cpu = cpu[np];
        n = scan_moves(s, nd, hi - 1, L, -1, bound, cum, cpu);
        undo_moves(s, nd, hi - 1, n, -1, si);
        int ns = best_part(cum, n, L, &suf);
        double suf_cpu = cpu[ns];
        /* both ends: the exact change of applying the two (they may share tensors) */
        double both = INFINITY, both_pre = 0.0, both_suf = 0.0;
        if (np && ns && np + ns < L) {
            scan_moves(s, nd, lo, np, 1, INFINITY, cum, cpu);
            both_pre = cum[np];
            scan_moves(s, nd, hi - 1, ns, -1, INFINITY, cum, cpu);
            both_suf = cum[ns];
            both = both_pre + both_suf;
            undo_moves(s, nd, hi - 1, ns, -1, si);
            undo_moves(s, nd, lo, np, 1, si);
        }
        if (!(fmin(both, fmin(pre, suf)) < -fmax(eps, COST_MIN_TRIM_SHARE * T)))
            pre = suf = both = INFINITY; /* a trim not worth its uncertainty (no whole run: no simulation) */
        double best = fmin(fmin(all, both), fmin(pre, suf));
        if (!(best < -eps))
            continue;
        moved = true;
        if (best == all) {
            for (int k = lo; k < hi; k++)
                move_to_cpu(s, nd[k]);
            why_moved(s, reasons, nd + lo, L, all_cpu, -all);
            continue;
        }
        if (best == both || best == pre) {
            scan_moves(s, nd, lo, np, 1, INFINITY, cum, cpu);
            why_moved(s, reasons, nd + lo, np, pre_cpu, best == both ? -both_pre : -pre);
            s->run_cost[si] -= shares(s, nd, lo, np, 1);
            lo += np;
        }
        if (best == both || best == suf) {
            scan_moves(s, nd, hi - 1, ns, -1, INFINITY, cum, cpu);
            why_moved(s, reasons, nd + hi - ns, ns, suf_cpu, best == both ? -both_suf : -suf);
            s->run_cost[si] -= shares(s, nd, hi - 1, ns, -1);
            hi -= ns;
        }
    }
    return moved;
}

rt_status part_cost_refine(const rt_graph *g, const m4npu_config *cfg, const part_options *o, part_plan **pp,
                           rt_error *e)
{
    part_plan *greedy = *pp, *found = NULL, *cpu_only = NULL;
    search s;
    memset(&s, 0, sizeof s);
    s.g = g;
    s.cfg = cfg;
    s.o = o;
    s.e = e;
    bool *npu = calloc((size_t)g->n_nodes + 1, sizeof *npu);
    rt_status st = npu ? search_init(&s, greedy) : rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition)");
    if (st != RT_OK)
        goto out;
    if (o->fits && greedy->n_segments > 0 && !o->fits(o->fits_ctx, g, greedy, e)) {
        st = e && e->code != RT_OK ? e->code : RT_ERR_NOMEM;
        goto out;
    }
    double c_greedy = plan_cost(&s, greedy, s.run_cost);
    if ((s.greedy_cost = malloc(((size_t)greedy->n_segments + 1) * sizeof *s.greedy_cost)) == NULL) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition search)");
        goto out;
    }
    memcpy(s.greedy_cost, s.run_cost, (size_t)greedy->n_segments * sizeof *s.greedy_cost);
    s.greedy = greedy;
    greedy->greedy_segments = greedy->n_segments;
    greedy->cost_greedy = c_greedy;
    /* the search, on a copy of the greedy plan's node infos (where the reasons go) */
    double eps = COST_REL_EPS * (isfinite(c_greedy) && c_greedy > 0 ? c_greedy : 1.0);
    double *cum = malloc(((size_t)g->n_nodes + 2) * sizeof *cum), *cpu = malloc(((size_t)g->n_nodes + 2) * sizeof *cpu);
    if (!cum || !cpu) {
        free(cum);
        free(cpu);
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition search)");
        goto out;
    }
    for (int pass = 0; pass < COST_MAX_PASSES && search_pass(&s, greedy, greedy, eps, cum, cpu); pass++)
        ;
    free(cum);
    free(cpu);
    bool moved = false;
    for (int v = 0; v < g->n_nodes; v++) {
        npu[v] = s.seg[v] >= 0;
        moved |= npu[v] != (greedy->node[v].place == PART_NPU);
    }
    /* Nothing moved: the search's plan is greedy's (the same placement gives the same order,
     * segments and crossings, and its segments cost what greedy's did, so the same total), and
     * greedy stands for it instead of a copy made and evaluated again. */
    if (moved && (st = replan(g, cfg, greedy, npu, &found, e)) != RT_OK)
        goto out;
    double c_found = moved ? plan_cost(&s, found, NULL) : c_greedy, c_cpu = all_cpu_cost(&s, greedy);
    if (!moved)
        found = greedy;
    part_plan *pick = found;
    const char *name = "cost-aware";
    if (c_greedy < c_found && c_greedy <= c_cpu) {
        pick = greedy;
        name = "greedy";
    } else if (c_cpu < c_found && c_cpu < c_greedy) {
        memset(npu, 0, (size_t)g->n_nodes * sizeof *npu);
        if ((st = replan(g, cfg, greedy, npu, &cpu_only, e)) != RT_OK)
            goto out;
        pick = cpu_only;
        name = "all-cpu";
        bool lat = o->objective == PART_LATENCY;
        double best_split = fmin(c_found, c_greedy);
        for (int v = 0; v < g->n_nodes; v++)
            if (pick->node[v].supported)
                snprintf(pick->node[v].why, sizeof pick->node[v].why,
                         "cost: the whole graph is cheaper on the CPU: %.2f %s against %.2f %s for the best split",
                         c_cpu * COST_US, lat ? "us" : "uJ", best_split * COST_US, lat ? "us" : "uJ");
    }
    if (pick == greedy)
        for (int v = 0; v < g->n_nodes; v++) /* the search's reasons were written into greedy's nodes */
            if (greedy->node[v].place == PART_NPU)
                greedy->node[v].why[0] = '\0';
    pick->cost_greedy = c_greedy;
    pick->cost_cpu = c_cpu;
    pick->cost_search = c_found;
    pick->cost_chosen = pick == greedy ? c_greedy : pick == cpu_only ? c_cpu : c_found;
    pick->chosen = name;
    pick->greedy_segments = greedy->n_segments;
    pick->segment_evaluations = s.evaluations;
    pick->n_kept_on_cpu = 0;
    for (int v = 0; v < g->n_nodes; v++) {
        part_node_info *ni = &pick->node[v];
        ni->kept_on_cpu = ni->supported && ni->place == PART_CPU;
        pick->n_kept_on_cpu += ni->kept_on_cpu;
    }
    *pp = pick;
out:
    if (found && found != *pp && found != greedy)
        part_plan_free(found);
    if (cpu_only && cpu_only != *pp)
        part_plan_free(cpu_only);
    if (greedy != *pp)
        part_plan_free(greedy);
    search_free(&s);
    free(npu);
    return st;
}
