/* run_layers.c -- the per-layer report of a run: one row for every op descriptor an NPU job ran,
 * every node the CPU ran, every tensor that crossed the CPU/NPU boundary, every submission and
 * every job's own firmware work, in execution order, with its modelled time, cycles, MACs, bytes,
 * array utilisation, achieved bandwidth, what bounds it and its energy. The rows partition the
 * run: their seconds add up to its latency, their NPU cycles to its segments' cycles and their
 * energy to its energy (docs/layers.md says how concurrent units are attributed). */
#include "run_layers.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "run_internal.h"

static const char *const kind_names[RUN_LAYER_KIND_COUNT] = {
    [RUN_LAYER_OP] = "npu-op",     [RUN_LAYER_JOB] = "npu-job", [RUN_LAYER_SUBMIT] = "submit",
    [RUN_LAYER_CROSSING] = "copy", [RUN_LAYER_CPU] = "cpu",
};

static const char *const bound_names[RUN_BOUND_COUNT] = {
    [RUN_BOUND_NONE] = "-",          [RUN_BOUND_COMPUTE] = "compute", [RUN_BOUND_MEMORY] = "memory",
    [RUN_BOUND_VECTOR] = "vector",   [RUN_BOUND_CONTROL] = "control", [RUN_BOUND_CPU] = "CPU",
    [RUN_BOUND_TRANSFER] = "transfer",
};

const char *run_layer_kind_name(run_layer_kind k) { return k < RUN_LAYER_KIND_COUNT ? kind_names[k] : "?"; }
const char *run_bound_name(run_bound b) { return b < RUN_BOUND_COUNT ? bound_names[b] : "?"; }

static const char *const npu_op_names[NPU_OP_COUNT] = {
    [NPU_OP_MATMUL] = "matmul", [NPU_OP_CONV2D] = "conv2d",       [NPU_OP_SOFTMAX] = "softmax",
    [NPU_OP_BINARY] = "binary", [NPU_OP_UNARY] = "unary",         [NPU_OP_NORM] = "norm",
    [NPU_OP_REDUCE] = "reduce", [NPU_OP_TRANSPOSE] = "transpose", [NPU_OP_COPY] = "copy",
    [NPU_OP_ATTENTION] = "attention", [NPU_OP_GROUP_CONV2D] = "group_conv2d", [NPU_OP_POOL] = "pool",
    [NPU_OP_PAD] = "pad", [NPU_OP_RESIZE] = "resize", [NPU_OP_ACTIVATION] = "activation",
    [NPU_OP_CHANNEL_AFFINE] = "channel_affine",
};

const char *run_npu_op_name(uint32_t op)
{
    return op < NPU_OP_COUNT && npu_op_names[op] ? npu_op_names[op] : "op";
}

/* ---- the peaks the rows are measured against */

void run_roofs_get(const m4npu_config *cfg, run_roofs *out)
{
    const npu_device_config *d = &cfg->npu;
    double hz = d->clock_mhz * 1e6;
    out->clock_hz = hz;
    out->macs_per_cycle = (double)d->matmul.rows * (double)d->matmul.cols;
    out->compute_ops_s = RUN_OPS_PER_MAC * out->macs_per_cycle * hz;
    out->dram_peak_bytes_s = d->dram.bandwidth_gb_s * 1e9;
    out->dram_bytes_s = out->dram_peak_bytes_s * d->dram.efficiency;
    out->ridge_ops_per_byte = out->compute_ops_s / out->dram_bytes_s;
}

/* ---- rows */

typedef struct builder {
    const rt_graph *g;
    const m4npu_config *cfg;
    const run_result *r;
    run_roofs roofs;
    run_layer *rows;
    int n, cap;
    rt_error *e;
} builder;

static run_layer *add_row(builder *b, run_layer_kind kind)
{
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        run_layer *rows = realloc(b->rows, (size_t)cap * sizeof *rows);
        if (!rows) {
            rt_error_set(b->e, RT_ERR_NOMEM, "out of memory (layers)");
            return NULL;
        }
        b->rows = rows;
        b->cap = cap;
    }
    run_layer *l = &b->rows[b->n++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->node = l->segment = l->op = l->tensor = -1;
    return l;
}

static uint64_t dram_bytes(const uint64_t ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT])
{
    uint64_t b = 0;
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        b += ctr[u][NPU_CTR_DRAM_RD] + ctr[u][NPU_CTR_DRAM_WR];
    return b;
}

static uint64_t sram_bytes(const uint64_t ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT])
{
    uint64_t b = 0;
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        b += ctr[u][NPU_CTR_SRAM_RD] + ctr[u][NPU_CTR_SRAM_WR];
    return b;
}

/* What bounds NPU work of `cycles` cycles with these counters: the resource busiest over its
 * span. Compute: the matmul array's busy share; vector: the vector unit's or the softmax tile's;
 * memory: the busiest DMA channel's share, or the DRAM bytes over what the DRAM sustains in the
 * span, whichever is larger; control: the control core's (the firmware dispatching). */
static run_bound npu_bound(const builder *b, const uint64_t ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT], uint64_t cycles,
                           uint64_t dram)
{
    if (cycles == 0)
        return RUN_BOUND_NONE;
    double span = (double)cycles, score[RUN_BOUND_COUNT] = {0};
    score[RUN_BOUND_COMPUTE] = (double)ctr[NPU_UNIT_MM][NPU_CTR_BUSY] / span;
    double vec = (double)ctr[NPU_UNIT_VEC][NPU_CTR_BUSY], sm = (double)ctr[NPU_UNIT_SM][NPU_CTR_BUSY];
    score[RUN_BOUND_VECTOR] = (vec > sm ? vec : sm) / span;
    double dma = 0.0;
    for (int u = NPU_UNIT_DMA0; u <= NPU_UNIT_DMA3; u++)
        if ((double)ctr[u][NPU_CTR_BUSY] > dma)
            dma = (double)ctr[u][NPU_CTR_BUSY];
    double dram_share = (double)dram / (b->roofs.dram_bytes_s / b->roofs.clock_hz * span);
    score[RUN_BOUND_MEMORY] = dma / span > dram_share ? dma / span : dram_share;
    score[RUN_BOUND_CONTROL] = (double)ctr[NPU_UNIT_CTRL][NPU_CTR_BUSY] / span;
    run_bound best = RUN_BOUND_COMPUTE;
    const run_bound order[] = {RUN_BOUND_MEMORY, RUN_BOUND_VECTOR, RUN_BOUND_CONTROL};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (score[order[i]] > score[best])
            best = order[i];
    return score[best] > 0.0 ? best : RUN_BOUND_NONE;
}

/* Fill an NPU row (an op descriptor, or a job's own work) from its counters and cycles. Its energy
 * is the energy table's for those counters, the NPU's static power and the CPU's idle power over
 * its time: the same terms run_model charges for the job. */
static void npu_row(builder *b, run_layer *l, const uint64_t ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT], uint64_t cycles)
{
    npu_counters c;
    memset(&c, 0, sizeof c);
    memcpy(c.v, ctr, sizeof c.v);
    l->cycles = cycles;
    l->seconds = (double)cycles / b->roofs.clock_hz;
    l->macs = (double)ctr[NPU_UNIT_MM][NPU_CTR_MACS];
    l->flops = RUN_OPS_PER_MAC * l->macs;
    l->dram_bytes = dram_bytes(ctr);
    l->sram_bytes = sram_bytes(ctr);
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        l->busy[u] = ctr[u][NPU_CTR_BUSY];
    l->array_util = cycles ? l->macs / ((double)cycles * b->roofs.macs_per_cycle) : 0.0;
    l->bound = npu_bound(b, ctr, cycles, l->dram_bytes);
    energy_add_npu(&l->energy, b->cfg, &c);
    energy_add_static(&l->energy, b->cfg, l->seconds);
    energy_add_cpu(&l->energy, b->cfg, 0.0, l->seconds);
}

static rt_status crossing_rows(builder *b, const part_segment *s, bool in)
{
    const part_plan *p = b->r->plan;
    int first = s->first_crossing + (in ? 0 : s->n_in), n = in ? s->n_in : s->n_out;
    for (int k = 0; k < n; k++) {
        const part_crossing *x = &p->crossings[first + k];
        if (x->cost.bytes == 0 && x->cost.seconds == 0.0)
            continue; /* resident in device memory (a KV cache): it crosses nothing */
        run_layer *l = add_row(b, RUN_LAYER_CROSSING);
        if (!l)
            return RT_ERR_NOMEM;
        l->segment = x->segment;
        l->tensor = x->tensor;
        l->kernel = in ? "quantise" : "dequantise";
        l->seconds = x->cost.seconds;
        l->dram_bytes = x->cost.bytes;
        l->bound = RUN_BOUND_TRANSFER;
        energy_add_transfer(&l->energy, b->cfg, (double)x->cost.bytes / 2.0, x->cost.seconds);
        energy_add_static(&l->energy, b->cfg, l->seconds);
    }
    return RT_OK;
}

static rt_status segment_rows(builder *b, int si)
{
    const part_segment *s = &b->r->plan->segments[si];
    const run_segment_result *sr = &b->r->segs[si];
    rt_status st = crossing_rows(b, s, true);
    if (st != RT_OK)
        return st;
    run_layer *l = add_row(b, RUN_LAYER_SUBMIT);
    if (!l)
        return RT_ERR_NOMEM;
    l->segment = si;
    l->kernel = "submit";
    l->seconds = s->submit_s;
    l->bound = RUN_BOUND_CPU;
    energy_add_cpu(&l->energy, b->cfg, s->submit_s, 0.0);
    energy_add_static(&l->energy, b->cfg, s->submit_s);
    /* the job's own work: what the counters and cycles hold beyond its descriptors' */
    uint64_t rest[NPU_UNIT_COUNT][NPU_CTR_COUNT], spans = 0;
    memcpy(rest, sr->stats.counters.v, sizeof rest);
    for (uint32_t i = 0; i < sr->n_ops; i++) {
        const run_op *o = &sr->ops[i];
        if (!(l = add_row(b, RUN_LAYER_OP)))
            return RT_ERR_NOMEM;
        l->node = o->node;
        l->segment = si;
        l->op = (int)i;
        l->kernel = run_npu_op_name(o->kind);
        uint64_t span = o->prof.end_cycle - o->prof.start_cycle;
        npu_row(b, l, o->prof.ctr, span);
        spans += span;
        for (int u = 0; u < NPU_UNIT_COUNT; u++)
            for (int k = 0; k < NPU_CTR_COUNT; k++)
                rest[u][k] -= o->prof.ctr[u][k] <= rest[u][k] ? o->prof.ctr[u][k] : rest[u][k];
    }
    if (!(l = add_row(b, RUN_LAYER_JOB)))
        return RT_ERR_NOMEM;
    l->segment = si;
    l->kernel = "firmware";
    npu_row(b, l, rest, sr->stats.cycles > spans ? sr->stats.cycles - spans : 0);
    l->bound = l->cycles ? RUN_BOUND_CONTROL : RUN_BOUND_NONE;
    return crossing_rows(b, s, false);
}

static rt_status cpu_row(builder *b, int node)
{
    const part_node_info *ni = &b->r->plan->node[node];
    if (ni->constant)
        return RT_OK; /* precomputed once: not part of an inference */
    static const run_body_cost no_body; /* a node without subgraphs adds nothing */
    const run_body_cost *body = b->r->nodes[node].body ? b->r->nodes[node].body : &no_body;
    run_layer *l = add_row(b, RUN_LAYER_CPU);
    if (!l)
        return RT_ERR_NOMEM;
    l->node = node;
    l->kernel = b->g->nodes[node].op_type;
    rt_cost cost;
    rt_error ignored;
    if (graph_node_cost(b->g, node, &cost, &ignored) == RT_OK)
        l->macs = cost.macs;
    l->flops = ni->cpu.flops;
    l->dram_bytes = ni->cpu.bytes + body->crossing_bytes;
    l->seconds = ni->cpu.seconds + run_body_total_s(body);
    l->bound = l->seconds > 0.0 ? RUN_BOUND_CPU : RUN_BOUND_NONE;
    /* a control-flow node's subgraphs: their NPU work, CPU work, crossings and submissions */
    energy_add_npu(&l->energy, b->cfg, &body->counters);
    energy_add_static(&l->energy, b->cfg, l->seconds);
    energy_add_cpu(&l->energy, b->cfg, ni->cpu.seconds + body->cpu_s + body->submit_s, body->npu_s);
    energy_add_transfer(&l->energy, b->cfg, (double)body->crossing_bytes / 2.0, body->transfer_s);
    return RT_OK;
}

rt_status run_layers(const rt_graph *g, const m4npu_config *cfg, const run_result *r, run_layer **out, int *n,
                     rt_error *e)
{
    *out = NULL;
    *n = 0;
    if (!r->plan)
        return rt_error_set(e, RT_ERR_ARG, "run_layers: a reference-only run has no layers");
    builder b = {.g = g, .cfg = cfg, .r = r, .e = e};
    run_roofs_get(cfg, &b.roofs);
    const part_plan *p = r->plan;
    for (int s = 0; s < p->n_segments; s++)
        if (r->segs[s].stats.ops > 0 && r->segs[s].n_ops == 0)
            return rt_error_set(e, RT_ERR_ARG, "run_layers: NPU segment %d has no per-op profile (its backend ran "
                                "with npu_backend_set_profile off)", s);
    rt_status st = RT_OK;
    for (int pos = 0; pos < p->n_nodes && st == RT_OK; pos++) {
        int node = p->order[pos];
        const part_node_info *ni = &p->node[node];
        if (ni->place == PART_NPU) {
            if (p->segments[ni->segment].nodes[0] == node)
                st = segment_rows(&b, ni->segment);
        } else {
            st = cpu_row(&b, node);
        }
    }
    if (st != RT_OK) {
        free(b.rows);
        return e && e->code != RT_OK ? e->code : st;
    }
    for (int i = 0; i < b.n; i++)
        b.rows[i].bandwidth_bytes_s = b.rows[i].seconds > 0.0 ? (double)b.rows[i].dram_bytes / b.rows[i].seconds : 0.0;
    *out = b.rows;
    *n = b.n;
    return RT_OK;
}

/* ---- names and reasons */

const char *run_layer_name(const rt_graph *g, const run_layer *l, char *buf, size_t size)
{
    if (l->node >= 0) {
        const rt_node *n = &g->nodes[l->node];
        if (n->name && n->name[0])
            snprintf(buf, size, "%s", n->name);
        else
            snprintf(buf, size, "#%d (%s)", l->node, n->op_type);
    } else if (l->kind == RUN_LAYER_CROSSING) {
        snprintf(buf, size, "%s %s", strcmp(l->kernel, "quantise") == 0 ? "to NPU" : "from NPU",
                 g->tensors[l->tensor]->name);
    } else if (l->kind == RUN_LAYER_SUBMIT) {
        snprintf(buf, size, "submit segment %d", l->segment);
    } else {
        snprintf(buf, size, "segment %d: job (fetch, check, complete)", l->segment);
    }
    return buf;
}

const char *run_layer_place(const run_result *r, const run_layer *l)
{
    switch (l->kind) {
    case RUN_LAYER_OP:
    case RUN_LAYER_JOB: return "npu";
    case RUN_LAYER_SUBMIT: return "host";
    case RUN_LAYER_CROSSING: return "boundary";
    default: return r->plan->node[l->node].view ? "cpu-view" : "cpu";
    }
}

const char *run_layer_why(const rt_graph *g, const run_result *r, const run_layer *l, char *buf, size_t size)
{
    buf[0] = '\0';
    if (l->kind == RUN_LAYER_CPU) {
        snprintf(buf, size, "%s", r->plan->node[l->node].why);
    } else if (l->kind == RUN_LAYER_OP) {
        /* the partitioner says nothing for a node it placed on the NPU: both checks passed */
        const char *why = r->plan->node[l->node].why;
        size_t n = (size_t)snprintf(buf, size, "%s", why[0] ? why : "in the capability set; the firmware runs it");
        bool listed = false;
        for (int k = 0; k < g->n_nodes && n < size; k++) {
            if (k == l->node || r->nodes[k].into != l->node)
                continue;
            n += (size_t)snprintf(buf + n, size - n, "%s%s", listed ? ", " : "; fused: ",
                                  g->nodes[k].name && g->nodes[k].name[0] ? g->nodes[k].name : g->nodes[k].op_type);
            listed = true;
        }
    } else if (l->kind == RUN_LAYER_CROSSING) {
        snprintf(buf, size, "%s crosses the CPU/NPU boundary", g->tensors[l->tensor]->name);
    }
    return buf;
}

void run_layers_sum(const run_layer *rows, int n, double times, run_layer_totals *t)
{
    for (int i = 0; i < n; i++) {
        t->seconds += rows[i].seconds * times;
        t->cycles += (double)rows[i].cycles * times;
        t->macs += rows[i].macs * times;
        t->dram_bytes += (double)rows[i].dram_bytes * times;
        energy_accumulate(&t->energy, &rows[i].energy, times);
    }
}
