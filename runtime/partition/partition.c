/* partition.c -- placement, the grouping topological order, segments and boundary crossings
 * (see partition.h). */
#include "partition.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "partition_internal.h"

#define SOFTMAX_AXIS_OPSET 13 /* from opset 13 Softmax's axis defaults to -1 and no longer flattens */

/* ---- what a node reduces over, its window */

static const rt_tensor *in_t(const rt_graph *g, const rt_node *n, int k)
{
    return k < n->n_inputs && n->inputs[k] >= 0 ? g->tensors[n->inputs[k]] : NULL;
}

static const rt_tensor *out_t(const rt_graph *g, const rt_node *n, int k)
{
    return k < n->n_outputs && n->outputs[k] >= 0 ? g->tensors[n->outputs[k]] : NULL;
}

/* Product of dims[from..rank-1]; -1 if unknown. */
static int64_t tail_product(const rt_tensor *t, int from)
{
    if (!t || !rt_tensor_shape_known(t) || from < 0 || from > t->rank)
        return -1;
    int64_t p = 1;
    for (int d = from; d < t->rank; d++)
        p *= t->dims[d];
    return p;
}

static int norm_axis(int64_t axis, int rank)
{
    if (axis < 0)
        axis += rank;
    return axis >= 0 && axis <= rank ? (int)axis : -1;
}

int64_t partition_axis_elements(const rt_graph *g, int node)
{
    const rt_node *n = &g->nodes[node];
    const rt_tensor *x = in_t(g, n, 0), *y = out_t(g, n, 0);
    if (!x || !rt_tensor_shape_known(x))
        return -1;
    int64_t opset = graph_opset(g, n->domain);
    switch (n->op) {
    case RT_OP_Softmax:
    case RT_OP_LogSoftmax:
    case RT_OP_Hardmax: {
        bool flattens = opset < SOFTMAX_AXIS_OPSET;
        int axis = norm_axis(rt_node_attr_int(n, "axis", flattens ? 1 : -1), x->rank);
        if (axis < 0 || axis >= x->rank)
            return -1;
        return flattens ? tail_product(x, axis) : x->dims[axis];
    }
    case RT_OP_LayerNormalization: {
        int axis = norm_axis(rt_node_attr_int(n, "axis", -1), x->rank);
        return axis < 0 ? -1 : tail_product(x, axis);
    }
    case RT_OP_InstanceNormalization:
        return x->rank >= 2 ? tail_product(x, 2) : -1;
    case RT_OP_GroupNormalization: {
        int64_t groups = rt_node_attr_int(n, "num_groups", 0);
        if (x->rank < 2 || groups <= 0 || x->dims[1] % groups)
            return -1;
        return x->dims[1] / groups * tail_product(x, 2);
    }
    case RT_OP_MatMul:
    case RT_OP_MatMulInteger:
    case RT_OP_QLinearMatMul:
        return x->rank >= 1 ? x->dims[x->rank - 1] : -1;
    case RT_OP_Gemm:
        if (x->rank != 2)
            return -1;
        return rt_node_attr_int(n, "transA", 0) ? x->dims[0] : x->dims[1];
    default:
        break;
    }
    if (m4npu_op_limit_applies(n->op, M4NPU_LIMIT_AXIS)) { /* Reduce*, ArgMax, ArgMin */
        int64_t in = rt_tensor_numel(x), out = y ? rt_tensor_numel(y) : -1;
        return in >= 0 && out > 0 ? in / out : -1;
    }
    return -1;
}

/* Kernel dims of a windowed node (into k, count returned), -1 if none or unknown. */
static int window_kernel(const rt_graph *g, const rt_node *n, const int64_t **k, int64_t *buf)
{
    if (n->op == RT_OP_Conv || n->op == RT_OP_ConvTranspose) {
        const int64_t *ks;
        size_t nk = rt_node_attr_ints(n, "kernel_shape", &ks);
        if (nk) {
            *k = ks;
            return (int)nk;
        }
        const rt_tensor *w = in_t(g, n, 1);
        if (!w || !rt_tensor_shape_known(w) || w->rank < 3)
            return -1;
        for (int d = 2; d < w->rank; d++)
            buf[d - 2] = w->dims[d];
        *k = buf;
        return w->rank - 2;
    }
    if (n->op == RT_OP_MaxPool || n->op == RT_OP_AveragePool) {
        size_t nk = rt_node_attr_ints(n, "kernel_shape", k);
        return nk ? (int)nk : -1;
    }
    return -1;
}

int64_t partition_max_kernel(const rt_graph *g, int node)
{
    const int64_t *k = NULL;
    int64_t buf[RT_MAX_RANK];
    int nk = window_kernel(g, &g->nodes[node], &k, buf);
    int64_t m = -1;
    for (int i = 0; i < nk; i++)
        if (k[i] > m)
            m = k[i];
    return m;
}

int64_t partition_max_stride(const rt_graph *g, int node)
{
    const rt_node *n = &g->nodes[node];
    const int64_t *k = NULL;
    int64_t buf[RT_MAX_RANK];
    if (window_kernel(g, n, &k, buf) < 0)
        return -1;
    const int64_t *s;
    size_t ns = rt_node_attr_ints(n, "strides", &s);
    int64_t m = 1; /* strides default to 1 */
    for (size_t i = 0; i < ns; i++)
        if (s[i] > m)
            m = s[i];
    return m;
}

/* ---- the capability set */

static bool refuse(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool refuse(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* A tensor is data (checked against dtypes and size limits) unless it is an integer constant
 * that parameterises the op (a shape, axes, starts ...). */
static bool is_data(const rt_tensor *t)
{
    return !(t->kind == RT_TENSOR_CONSTANT && (rt_dtype_is_int(t->dtype) || t->dtype == RT_DT_BOOL));
}

static bool check_data_tensor(const rt_tensor *t, const m4npu_op_cap *cap, const char *op, const char *role,
                              char *why, size_t whylen)
{
    if (!(cap->dtypes & M4NPU_DTYPE_BIT(t->dtype)))
        return refuse(why, whylen, "%s: %s '%s' is %s, not a type the capability set allows", op, role, t->name,
                      rt_dtype_name(t->dtype));
    if (cap->max_rank && t->rank > (int)cap->max_rank)
        return refuse(why, whylen, "%s: %s '%s' has rank %d > max_rank %u", op, role, t->name, t->rank,
                      cap->max_rank);
    int64_t ne = rt_tensor_numel(t);
    if (cap->max_elements && (ne < 0 || (uint64_t)ne > cap->max_elements))
        return refuse(why, whylen, "%s: %s '%s' has %lld elements > max_elements %llu", op, role, t->name,
                      (long long)ne, (unsigned long long)cap->max_elements);
    return true;
}

bool partition_config_allows(const rt_graph *g, int node, const m4npu_config *cfg, char *why, size_t whylen)
{
    const rt_node *n = &g->nodes[node];
    const m4npu_op_cap *cap = m4npu_config_op(cfg, n->op);
    if (!cap || !cap->npu)
        return refuse(why, whylen, "%s: not in the NPU capability set", n->op_type);
    for (int k = 0; k < n->n_inputs; k++) {
        const rt_tensor *t = in_t(g, n, k);
        if (t && is_data(t) && !check_data_tensor(t, cap, n->op_type, "input", why, whylen))
            return false;
    }
    for (int k = 0; k < n->n_outputs; k++) {
        const rt_tensor *t = out_t(g, n, k);
        if (t && !check_data_tensor(t, cap, n->op_type, "output", why, whylen))
            return false;
    }
    if (cap->max_axis) {
        int64_t a = partition_axis_elements(g, node);
        if (a < 0 || (uint64_t)a > cap->max_axis)
            return refuse(why, whylen, "%s: reduces over %lld elements > max_axis %u", n->op_type, (long long)a,
                          cap->max_axis);
    }
    if (cap->max_kernel) {
        int64_t k = partition_max_kernel(g, node);
        if (k < 0 || (uint64_t)k > cap->max_kernel)
            return refuse(why, whylen, "%s: kernel %lld > max_kernel %u", n->op_type, (long long)k, cap->max_kernel);
    }
    if (cap->max_stride) {
        int64_t s = partition_max_stride(g, node);
        if (s < 0 || (uint64_t)s > cap->max_stride)
            return refuse(why, whylen, "%s: stride %lld > max_stride %u", n->op_type, (long long)s, cap->max_stride);
    }
    return true;
}

/* ---- the plan */

void part_plan_free(part_plan *p)
{
    if (!p)
        return;
    for (int s = 0; s < p->n_segments; s++)
        free(p->segments[s].nodes);
    free(p->segments);
    free(p->crossings);
    free(p->order);
    free(p->node);
    free(p);
}

/* Constant nodes: every input a constant tensor or the output of a constant node. The graph is
 * in topological order, so one pass suffices. A constant need not have its bytes: a timing-only
 * model's weights have none, and the cast that dequantises a weight is still computed once, at
 * load time, never per inference. */
static void mark_constants(const rt_graph *g, part_plan *p)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        bool c = n->n_inputs > 0;
        for (int k = 0; c && k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            const rt_tensor *tt = g->tensors[t];
            c = tt->kind == RT_TENSOR_CONSTANT ||
                (tt->producer >= 0 && tt->producer < i && p->node[tt->producer].constant);
        }
        p->node[i].constant = c;
    }
}

/* What ordering and segmenting read and write of each node, copied out of the plan's per-node
 * records (part_node_info: hundreds of bytes each, mostly the CPU costs and the reason text) into
 * twelve bytes a node: the passes below visit every node and its readers several times, and on a
 * graph of 100k nodes the records are far larger than the cache, so reading them there would
 * fetch a cache line per node per pass. Written back once, with the totals. */
typedef struct node_state {
    int8_t place;   /* part_place */
    bool constant;
    int segment;    /* -1 outside the NPU segments */
    int position;   /* in the execution order */
} node_state;

/* A min-heap of node indices: the ready nodes of one side. */
typedef struct node_heap {
    int *v;
    int n;
} node_heap;

static void heap_push(node_heap *h, int x)
{
    int i = h->n++;
    h->v[i] = x;
    while (i > 0 && h->v[(i - 1) / 2] > h->v[i]) {
        int p = (i - 1) / 2, t = h->v[p];
        h->v[p] = h->v[i];
        h->v[i] = t;
        i = p;
    }
}

static int heap_pop(node_heap *h)
{
    int top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l] < h->v[m])
            m = l;
        if (r < h->n && h->v[r] < h->v[m])
            m = r;
        if (m == i)
            break;
        int t = h->v[m];
        h->v[m] = h->v[i];
        h->v[i] = t;
        i = m;
    }
    return top;
}

/* The execution order: Kahn's algorithm that stays on one side while it can. Ties go to the
 * lowest node index, so a graph with one side only keeps its order. The ready nodes of each side
 * wait in a min-heap: the next node is the smallest ready one of the current side, or, when that
 * side has none, the smallest ready one of either; O(edges + nodes log nodes). */
static rt_status order_nodes(const rt_graph *g, const node_state *ns, int *order, rt_error *e)
{
    int nn = g->n_nodes;
    int *indeg = calloc((size_t)nn + 1, sizeof *indeg);
    node_heap ready[2] = {{malloc(((size_t)nn + 1) * sizeof(int)), 0}, {malloc(((size_t)nn + 1) * sizeof(int)), 0}};
    rt_status st = RT_OK;
    if (!indeg || !ready[0].v || !ready[1].v) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition order)");
        goto out;
    }
    /* in-degree: the tensors a node reads that another node produces (each once) */
    for (int t = 0; t < g->n_tensors; t++) {
        int prod = g->tensors[t]->producer;
        if (prod < 0)
            continue;
        const int *users;
        int nu = graph_tensor_users(g, t, &users);
        if (nu < 0) {
            st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition order)");
            goto out;
        }
        for (int u = 0; u < nu; u++)
            indeg[users[u]] += users[u] != prod;
    }
    for (int i = 0; i < nn; i++)
        if (indeg[i] == 0)
            heap_push(&ready[ns[i].place], i);
    part_place side = PART_CPU;
    bool have_side = false;
    for (int pos = 0; pos < nn; pos++) {
        node_heap *from = NULL;
        if (have_side && ready[side].n > 0)
            from = &ready[side];
        else if (ready[PART_CPU].n > 0 || ready[PART_NPU].n > 0)
            from = ready[PART_NPU].n == 0 || (ready[PART_CPU].n > 0 && ready[PART_CPU].v[0] < ready[PART_NPU].v[0])
                       ? &ready[PART_CPU]
                       : &ready[PART_NPU];
        if (!from) {
            char lbl[300];
            for (int i = 0; i < nn; i++)
                if (indeg[i] > 0) {
                    st = rt_error_set(e, RT_ERR_CYCLE, "partition: node %s is on a cycle",
                                      graph_node_label(g, i, lbl, sizeof lbl));
                    goto out;
                }
            st = rt_error_set(e, RT_ERR_CYCLE, "partition: a cycle among the nodes");
            goto out;
        }
        int pick = heap_pop(from);
        side = ns[pick].place;
        have_side = true;
        order[pos] = pick;
        const rt_node *n = &g->nodes[pick];
        for (int o = 0; o < n->n_outputs; o++) {
            int t = n->outputs[o];
            if (t < 0 || g->tensors[t]->producer != pick)
                continue;
            const int *users;
            int nu = graph_tensor_users(g, t, &users); /* built above: cannot fail now */
            for (int u = 0; u < nu; u++)
                if (users[u] != pick && --indeg[users[u]] == 0)
                    heap_push(&ready[ns[users[u]].place], users[u]);
        }
    }
out:
    free(ready[0].v);
    free(ready[1].v);
    free(indeg);
    return st;
}

static rt_status add_crossing(part_plan *p, int *cap, int tensor, int seg, cpumodel_dir dir, const rt_graph *g,
                              const m4npu_config *cfg, rt_error *e)
{
    if (p->n_crossings == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        part_crossing *c = realloc(p->crossings, (size_t)nc * sizeof *c);
        if (!c)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition crossings)");
        p->crossings = c;
        *cap = nc;
    }
    const rt_tensor *t = g->tensors[tensor];
    int64_t ne = rt_tensor_numel(t);
    if (ne < 0)
        return rt_error_set(e, RT_ERR_SHAPE, "partition: tensor '%s' crosses to the NPU but its shape is not known",
                            t->name);
    part_crossing *c = &p->crossings[p->n_crossings++];
    c->tensor = tensor;
    c->segment = seg;
    c->dir = dir;
    c->elements = ne;
    unsigned dev_bits = rt_dtype_is_float(t->dtype) ? p->device_act_bits : rt_dtype_bits(t->dtype);
    cpumodel_transfer(&cfg->cpu, ne, t->dtype, dev_bits, dir, &c->cost);
    return RT_OK;
}

/* Segments are maximal runs of NPU nodes in the execution order; then their crossings. */
static rt_status form_segments(const rt_graph *g, const m4npu_config *cfg, part_plan *p, node_state *ns, rt_error *e)
{
    int nn = g->n_nodes, ccap = 0, runs = 0;
    for (int pos = 0; pos < nn; pos++) /* count the runs first: one allocation, not one per segment */
        runs += ns[p->order[pos]].place == PART_NPU && (pos == 0 || ns[p->order[pos - 1]].place != PART_NPU);
    if (!(p->segments = calloc((size_t)runs + 1, sizeof *p->segments)))
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition segments)");
    for (int pos = 0; pos < nn;) {
        if (ns[p->order[pos]].place != PART_NPU) {
            pos++;
            continue;
        }
        int end = pos;
        while (end < nn && ns[p->order[end]].place == PART_NPU)
            end++;
        part_segment *s = &p->segments[p->n_segments];
        s->n_nodes = end - pos;
        s->nodes = malloc((size_t)s->n_nodes * sizeof *s->nodes);
        if (!s->nodes)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition segments)");
        int id = p->n_segments++;
        for (int k = 0; k < s->n_nodes; k++) {
            s->nodes[k] = p->order[pos + k];
            ns[s->nodes[k]].segment = id;
        }
        pos = end;
    }
    /* crossed_in[t] = 1 + the last segment t was quantised into: each tensor once per segment */
    int *crossed_in = calloc((size_t)g->n_tensors + 1, sizeof *crossed_in);
    if (!crossed_in)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition)");
    rt_status st = RT_OK;
    for (int si = 0; si < p->n_segments && st == RT_OK; si++) {
        part_segment *s = &p->segments[si];
        s->first_crossing = p->n_crossings;
        /* inputs: read inside, produced outside (not constants), each tensor once */
        for (int k = 0; k < s->n_nodes && st == RT_OK; k++) {
            const rt_node *n = &g->nodes[s->nodes[k]];
            for (int q = 0; q < n->n_inputs && st == RT_OK; q++) {
                int t = n->inputs[q];
                if (t < 0 || g->tensors[t]->kind == RT_TENSOR_CONSTANT)
                    continue;
                int prod = g->tensors[t]->producer;
                if (prod >= 0 && (ns[prod].segment == si || ns[prod].constant))
                    continue; /* made inside, or a constant: uploaded with the weights, not per run */
                if (crossed_in[t] == si + 1)
                    continue;
                crossed_in[t] = si + 1;
                if ((st = add_crossing(p, &ccap, t, si, CPUMODEL_TO_NPU, g, cfg, e)) == RT_OK)
                    s->n_in++;
            }
        }
        /* outputs: produced inside, read outside or a graph output */
        for (int k = 0; k < s->n_nodes && st == RT_OK; k++) {
            const rt_node *n = &g->nodes[s->nodes[k]];
            for (int q = 0; q < n->n_outputs && st == RT_OK; q++) {
                int t = n->outputs[q];
                if (t < 0)
                    continue;
                bool leaves = graph_is_output(g, t);
                const int *users;
                int nu = graph_tensor_users(g, t, &users);
                if (nu < 0) {
                    st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition)");
                    break;
                }
                for (int u = 0; u < nu && !leaves; u++)
                    leaves = ns[users[u]].segment != si;
                if (leaves && (st = add_crossing(p, &ccap, t, si, CPUMODEL_FROM_NPU, g, cfg, e)) == RT_OK)
                    s->n_out++;
            }
        }
        for (int c = s->first_crossing; c < p->n_crossings; c++) {
            const part_crossing *x = &p->crossings[c];
            if (x->dir == CPUMODEL_TO_NPU) {
                s->bytes_in += x->cost.bytes;
                s->transfer_in_s += x->cost.seconds;
            } else {
                s->bytes_out += x->cost.bytes;
                s->transfer_out_s += x->cost.seconds;
            }
        }
        s->submit_s = cpumodel_submit_s(&cfg->cpu, s->n_nodes);
    }
    free(crossed_in);
    return st;
}

/* Order, segments, crossings and totals of a plan whose placement is set (p->node[].place). */
rt_status part_finish(const rt_graph *g, const m4npu_config *cfg, part_plan *p, rt_error *e)
{
    node_state *ns = malloc(((size_t)g->n_nodes + 1) * sizeof *ns);
    if (!ns)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition)");
    for (int i = 0; i < g->n_nodes; i++)
        ns[i] = (node_state){(int8_t)p->node[i].place, p->node[i].constant, -1, 0};
    rt_status st = order_nodes(g, ns, p->order, e);
    for (int pos = 0; st == RT_OK && pos < g->n_nodes; pos++)
        ns[p->order[pos]].position = pos;
    if (st == RT_OK)
        st = form_segments(g, cfg, p, ns, e);
    for (int i = 0; st == RT_OK && i < g->n_nodes; i++) {
        part_node_info *ni = &p->node[i];
        ni->segment = ns[i].segment;
        ni->position = ns[i].position;
        ni->view = ni->place == PART_CPU && !ni->constant && ni->on_cpu.view;
        if (ni->place == PART_NPU) {
            memset(&ni->cpu, 0, sizeof ni->cpu);
            p->n_npu++;
            continue;
        }
        if (!ni->constant)
            ni->cpu = ni->on_cpu;
        p->n_cpu++;
        p->n_constant += ni->constant;
        p->n_view += ni->view;
        p->cpu_s += ni->cpu.seconds;
        p->cpu_j += ni->cpu.energy_j;
    }
    free(ns);
    if (st != RT_OK)
        return st;
    for (int c = 0; c < p->n_crossings; c++) {
        p->crossing_bytes += p->crossings[c].cost.bytes;
        p->crossing_s += p->crossings[c].cost.seconds;
        p->crossing_j += p->crossings[c].cost.energy_j;
    }
    for (int s = 0; s < p->n_segments; s++)
        p->submit_s += p->segments[s].submit_s;
    p->submit_j = cpumodel_active_j(&cfg->cpu, p->submit_s);
    return RT_OK;
}

rt_status partition_graph_opts(const rt_graph *g, const m4npu_config *cfg, const part_options *o, part_plan **out,
                               rt_error *e)
{
    *out = NULL;
    part_options greedy = {0};
    if (!o)
        o = &greedy;
    if (o->strategy == PART_COST && !o->segment_cost)
        return rt_error_set(e, RT_ERR_ARG, "partition: the cost-aware strategy needs an NPU segment cost callback");
    part_plan *p = calloc(1, sizeof *p);
    if (!p)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition)");
    p->n_nodes = g->n_nodes;
    p->strategy = o->strategy;
    p->objective = o->objective;
    p->device_act_bits = o->device_act_bits ? o->device_act_bits : PART_DEVICE_ACT_BITS;
    p->order = calloc((size_t)g->n_nodes + 1, sizeof *p->order);
    p->node = calloc((size_t)g->n_nodes + 1, sizeof *p->node);
    if (!p->order || !p->node) {
        part_plan_free(p);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (partition)");
    }
    rt_status st = RT_OK;
    mark_constants(g, p);
    for (int i = 0; i < g->n_nodes && st == RT_OK; i++) {
        part_node_info *ni = &p->node[i];
        ni->segment = -1;
        ni->place = PART_CPU;
        if (ni->constant)
            continue;
        if ((st = cpumodel_node(&cfg->cpu, g, i, &ni->on_cpu, e)) != RT_OK)
            break;
        if (partition_config_allows(g, i, cfg, ni->why, sizeof ni->why)) {
            char fwhy[PART_WHY_BYTES - sizeof "firmware: "] = "";
            if (!o->fw || o->fw(o->fw_ctx, g, i, fwhy, sizeof fwhy)) {
                ni->place = PART_NPU;
                ni->supported = true;
                ni->why[0] = '\0';
                continue;
            }
            snprintf(ni->why, sizeof ni->why, "firmware: %s", fwhy[0] ? fwhy : "cannot run this node");
        }
    }
    if (st == RT_OK)
        st = part_finish(g, cfg, p, e);
    if (st == RT_OK && o->strategy == PART_COST)
        st = part_cost_refine(g, cfg, o, &p, e); /* partition_cost.c */
    if (st != RT_OK) {
        part_plan_free(p);
        return st;
    }
    *out = p;
    return RT_OK;
}

rt_status partition_graph(const rt_graph *g, const m4npu_config *cfg, part_fw_supports_fn fw, void *fw_ctx,
                          part_plan **out, rt_error *e)
{
    part_options o = {.fw = fw, .fw_ctx = fw_ctx, .strategy = PART_GREEDY};
    return partition_graph_opts(g, cfg, &o, out, e);
}
