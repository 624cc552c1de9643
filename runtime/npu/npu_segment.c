/* npu_segment.c -- building and running a segment: plan (lowering in PLAN mode), resolve the
 * activation scales, find the boundary, place activations by liveness (npu_arena_plan) and
 * resident tensors in the memory plan's resident region, lay out the constants in their
 * buffers, emit the descriptors and constants (lowering in EMIT mode); the memory plan
 * (npu_memplan.c) then allocates and the segment uploads. Per run: quantise the inputs into
 * device memory, one NPU_JOB_OPS job, dequantise the outputs, stats. The twin run does the same
 * on host copies with the CPU twin instead of the device.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "isa_exec.h"
#include "npu_internal.h"
#include "npu_twin.h"

#define NPU_RUN_TIMEOUT_CYCLES (UINT64_C(1) << 62) /* the device's watchdog catches a stuck job */
#define NPU_FAULT_LOG_BYTES 2048

/* ---------------------------------------------------------------- build */

/* npu_index: a direct table over [lowest key, highest key] when that range is at most
 * NPU_INDEX_DENSE_SPAN times the entries, else open addressing with linear probing over graph
 * indices, which are distinct non-negative ints. Fibonacci hashing (the top bits of key times
 * 2^32 / golden ratio) spreads any stride of indices over the slots, where the low bits alone
 * would pile up a segment that holds every 8th tensor of its graph; but it also sends
 * neighbouring keys to distant slots, so a long chain's lookups (in graph order) miss the cache
 * once the table outgrows it: the direct table keeps them in order. */
#define NPU_INDEX_HASH 0x9E3779B1u
#define NPU_INDEX_MIN_BITS 4
#define NPU_INDEX_DENSE_SPAN 4 /* dense form while the key range <= 4 x the entries (16 B each) */

static uint32_t index_slot(const npu_index *x, int key) { return ((uint32_t)key * NPU_INDEX_HASH) >> (32 - x->bits); }

static void npu_index_free(npu_index *x)
{
    free(x->key);
    free(x->pos);
    *x = (npu_index){0};
}

/* For `entries` distinct keys in [lo, hi]. */
static int index_init(npu_index *x, int entries, int lo, int hi)
{
    *x = (npu_index){0};
    uint64_t span = entries > 0 ? (uint64_t)((int64_t)hi - lo) + 1 : 0;
    if (entries > 0 && span <= (uint64_t)NPU_INDEX_DENSE_SPAN * (uint64_t)entries) {
        x->pos = calloc((size_t)span, sizeof *x->pos);
        if (!x->pos)
            return -1;
        x->base = lo;
        x->mask = (uint32_t)(span - 1);
        return 0;
    }
    unsigned bits = NPU_INDEX_MIN_BITS;
    while (((size_t)1 << bits) < 2 * (size_t)entries)
        bits++;
    size_t slots = (size_t)1 << bits;
    x->key = malloc(slots * sizeof *x->key);
    x->pos = calloc(slots, sizeof *x->pos);
    if (!x->key || !x->pos) {
        npu_index_free(x);
        return -1;
    }
    x->mask = (uint32_t)(slots - 1);
    x->bits = bits;
    return 0;
}

/* The dense slot of key, or -1 outside the range. */
static int64_t dense_slot(const npu_index *x, int key)
{
    int64_t d = (int64_t)key - x->base;
    return d >= 0 && d <= (int64_t)x->mask ? d : -1;
}

/* Add key -> pos; false if key is there already (or, dense, outside the range given to init). */
static bool index_add(npu_index *x, int key, int pos)
{
    if (!x->key) {
        int64_t d = dense_slot(x, key);
        if (d < 0 || x->pos[d] != 0)
            return false;
        x->pos[d] = pos + 1;
        return true;
    }
    for (uint32_t i = index_slot(x, key);; i = (i + 1) & x->mask) {
        if (x->pos[i] == 0) {
            x->key[i] = key;
            x->pos[i] = pos + 1;
            return true;
        }
        if (x->key[i] == key)
            return false;
    }
}

/* The position of key, or -1. */
static int index_find(const npu_index *x, int key)
{
    if (!x->pos)
        return -1;
    if (!x->key) {
        int64_t d = dense_slot(x, key);
        return d < 0 ? -1 : x->pos[d] - 1;
    }
    for (uint32_t i = index_slot(x, key);; i = (i + 1) & x->mask) {
        if (x->pos[i] == 0)
            return -1;
        if (x->key[i] == key)
            return x->pos[i] - 1;
    }
}


void npu_segment_destroy(npu_segment *s)
{
    if (!s)
        return;
    free(s->param_host);
    if (s->weight_host)
        for (uint32_t i = 0; i < NPU_MAX_WEIGHT_ARENAS; i++)
            free(s->weight_host[i]);
    free(s->weight_host);
    free(s->nodes);
    npu_index_free(&s->node_pos);
    npu_index_free(&s->t_pos);
    free(s->fused);
    free(s->into);
    free(s->attention);
    free(s->t);
    free(s->t_graph);
    free(s->blobs);
    free(s->ops);
    free(s->op_node);
    free(s->profile);
    free(s->ins);
    free(s->outs);
    free(s);
}

void npu_segment_free(npu_segment *s)
{
    if (s && s->owns_plan)
        npu_mem_plan_free(s->plan); /* destroys s */
}

static int lower_all(npu_segment *s, npu_lower_mode mode, rt_error *e)
{
    char why[RT_ERROR_MSG_BYTES / 2];
    npu_lower L;
    memset(&L, 0, sizeof L);
    L.mode = mode;
    L.dev = &s->b->cfg.npu;
    L.cfg = &s->b->cfg;
    L.afmt = s->afmt;
    L.group = s->group;
    L.g = s->g;
    L.s = s;
    L.why = why;
    L.whylen = sizeof why;
    for (int p = 0; p < s->n_nodes; p++) {
        if (s->fused[p])
            continue;
        L.node = s->nodes[p];
        L.pos = p;
        why[0] = '\0';
        if (npu_lower_node(&L) != 0) {
            char lbl[200];
            rt_error_set(e, RT_ERR_UNSUPPORTED, "node %s: %s", graph_node_label(s->g, L.node, lbl, sizeof lbl), why);
            return -1;
        }
    }
    if (mode == NPU_LOWER_PLAN && L.blob_next != s->n_blobs) {
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (segment constants)");
        return -1;
    }
    if (mode == NPU_LOWER_EMIT && s->oom) {
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (op descriptors)");
        return -1;
    }
    if (mode == NPU_LOWER_EMIT && L.blob_next != s->n_blobs) {
        rt_error_set(e, RT_ERR_ARG, "internal: the segment's constants changed between planning and emission");
        return -1;
    }
    return 0;
}

/* Attention patterns wholly inside the segment become one descriptor (npu_lower_attn.c). */
static void fuse_attention(npu_segment *s)
{
    char why[RT_ERROR_MSG_BYTES / 2];
    npu_lower L;
    memset(&L, 0, sizeof L);
    L.mode = NPU_LOWER_PLAN;
    L.dev = &s->b->cfg.npu;
    L.cfg = &s->b->cfg;
    L.afmt = s->afmt;
    L.group = s->group;
    L.g = s->g;
    L.s = s;
    L.why = why;
    L.whylen = sizeof why;
    npu_attn_fuse(&L);
}

/* ---- the segment's own nodes and tensors */

npu_tinfo *npu_seg_tinfo(npu_segment *s, int t)
{
    int i = index_find(&s->t_pos, t);
    if (i >= 0)
        return &s->t[i];
    /* (reset on every use: whatever a caller wrote into it, a chain of roots through it ends) */
    s->stray = true;
    s->t_stray = (npu_tinfo){.root = -1, .scale_root = -1, .def = INT_MAX, .last = -1, .hi = INFINITY};
    return &s->t_stray;
}

int npu_seg_pos(const npu_segment *s, int node) { return index_find(&s->node_pos, node); }

/* node_pos, and one entry per distinct tensor the nodes read or write, ascending, with t_pos. */
static rt_status index_segment(npu_segment *s, rt_error *e)
{
    const rt_graph *g = s->g;
    size_t total = 0;
    for (int p = 0; p < s->n_nodes; p++)
        total += (size_t)g->nodes[s->nodes[p]].n_inputs + (size_t)g->nodes[s->nodes[p]].n_outputs;
    s->t_graph = malloc((total + 1) * sizeof *s->t_graph);
    int node_lo = INT_MAX, node_hi = INT_MIN;
    for (int p = 0; p < s->n_nodes; p++) {
        node_lo = s->nodes[p] < node_lo ? s->nodes[p] : node_lo;
        node_hi = s->nodes[p] > node_hi ? s->nodes[p] : node_hi;
    }
    if (!s->t_graph || index_init(&s->node_pos, s->n_nodes, node_lo, node_hi) != 0)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (segment)");
    for (int p = 0; p < s->n_nodes; p++)
        if (!index_add(&s->node_pos, s->nodes[p], p))
            return rt_error_set(e, RT_ERR_ARG, "npu_segment_build: node %d is listed twice", s->nodes[p]);
    size_t n = 0;
    for (int p = 0; p < s->n_nodes; p++) {
        const rt_node *nd = &g->nodes[s->nodes[p]];
        for (int k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k] >= 0)
                s->t_graph[n++] = nd->inputs[k];
        for (int k = 0; k < nd->n_outputs; k++)
            if (nd->outputs[k] >= 0)
                s->t_graph[n++] = nd->outputs[k];
    }
    int distinct = n > INT_MAX ? -1 : npu_sort_distinct(s->t_graph, (int)n);
    if (distinct < 0)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (segment)");
    size_t w = (size_t)distinct;
    s->n_t = distinct;
    if (!(s->t = calloc(w + 1, sizeof *s->t)) || index_init(&s->t_pos, s->n_t, w ? s->t_graph[0] : 0, w ? s->t_graph[w - 1] : 0) != 0)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (segment)");
    for (size_t i = 0; i < w; i++) {
        index_add(&s->t_pos, s->t_graph[i], (int)i); /* (distinct after the sort) */
        npu_tinfo *x = &s->t[i];
        int t = s->t_graph[i];
        x->root = x->scale_root = t;
        x->def = INT_MAX;
        x->last = -1;
        x->lo = 0.0f;
        x->hi = INFINITY;
    }
    return RT_OK;
}

/* Is t a graph output, or read by a node outside the segment? */
static bool read_outside(const npu_segment *s, int t)
{
    if (graph_is_output(s->g, t))
        return true;
    const int *users;
    int nu = graph_tensor_users(s->g, t, &users);
    if (nu < 0)
        return true; /* (out of memory: keep the value) */
    for (int u = 0; u < nu; u++)
        if (npu_seg_pos(s, users[u]) < 0)
            return true;
    return false;
}

static int root(npu_segment *s, int t)
{
    while (npu_seg_tinfo(s, t)->root != t)
        t = npu_seg_tinfo(s, t)->root;
    return t;
}

static int scale_root(npu_segment *s, int t)
{
    while (npu_seg_tinfo(s, t)->scale_root != t)
        t = npu_seg_tinfo(s, t)->scale_root;
    return t;
}

static rt_status resolve_scales(npu_segment *s, rt_error *e)
{
    for (int i = 0; i < s->n_t; i++) {
        int t = s->t_graph[i];
        if (!s->t[i].used)
            continue;
        int sr = scale_root(s, t);
        npu_tinfo *r = npu_seg_tinfo(s, sr);
        if (!r->scale_set) {
            const rt_quant *q = &s->g->tensors[sr]->quant;
            if (q->scheme == RT_QUANT_PER_TENSOR && q->count >= 1 && q->scales && q->scales[0] > 0.0f &&
                isfinite(q->scales[0]))
                r->scale = q->scales[0];
            else if (s->timing_only || s->afmt == NPU_ACTS_F16) /* f16 activations carry no scale */
                r->scale = 1.0f;
            else
                return rt_error_set(e, RT_ERR_ARG,
                                    "tensor '%s' has no per-tensor activation scale: calibrate the graph first "
                                    "(npu_calibrate), or build a timing-only segment",
                                    s->g->tensors[sr]->name);
            r->scale_set = true;
        }
        if (r->scale < r->lo)
            r->scale = r->lo;
        if (r->scale > r->hi)
            r->scale = r->hi;
    }
    return RT_OK;
}

static rt_status find_boundary(npu_segment *s, rt_error *e)
{
    s->ins = malloc(((size_t)s->n_t + 1) * sizeof *s->ins);
    s->outs = malloc(((size_t)s->n_t + 1) * sizeof *s->outs);
    if (!s->ins || !s->outs)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (segment boundary)");
    for (int i = 0; i < s->n_t; i++) {
        int t = s->t_graph[i];
        npu_tinfo *x = &s->t[i];
        if (!x->used)
            continue;
        if (x->root == t && !x->produced) {
            x->def = -1;
            s->ins[s->n_ins++] = t;
        }
        if (x->produced && read_outside(s, t)) {
            s->outs[s->n_outs++] = t;
            npu_seg_tinfo(s, root(s, t))->last = s->n_nodes;
        }
    }
    return RT_OK;
}

static uint64_t act_bytes(const npu_segment *s, int t)
{
    uint64_t n = (uint64_t)rt_tensor_numel(s->g->tensors[t]) * npu_act_format_bytes(s->afmt);
    return n ? n : 1;
}

/* Resident tensors (the plan's predicate, e.g. a KV cache) go to the plan's resident region; the
 * segment sees the ones it touches through one window, its buffer NPU_BUF_RESIDENT. */
static rt_status place_resident(npu_segment *s, rt_error *e)
{
    int nt = s->n_t;
    for (int i = 0; i < nt; i++)
        if (s->t[i].used && npu_mem_plan_is_resident(s->plan, s->t_graph[i]))
            npu_seg_tinfo(s, root(s, s->t_graph[i]))->resident = true;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < nt; i++) {
        int t = s->t_graph[i];
        npu_tinfo *x = &s->t[i];
        if (!x->used || x->root != t || !x->resident)
            continue;
        uint64_t bytes = act_bytes(s, t), at = npu_mem_plan_resident(s->plan, t, bytes);
        x->buf = NPU_BUF_RESIDENT;
        x->offset = at; /* rebased below */
        lo = at < lo ? at : lo;
        hi = at + bytes > hi ? at + bytes : hi;
    }
    if (hi == 0)
        return RT_OK;
    if (hi - lo > NPU_ARENA_MAX_BYTES)
        return rt_error_set(e, RT_ERR_LIMIT, "the segment's resident tensors span %llu bytes; a job buffer is limited "
                            "to %llu (split the segment)", (unsigned long long)(hi - lo),
                            (unsigned long long)NPU_ARENA_MAX_BYTES);
    for (int i = 0; i < nt; i++)
        if (s->t[i].used && s->t[i].root == s->t_graph[i] && s->t[i].resident)
            s->t[i].offset -= lo;
    s->res_base = lo;
    s->buf_bytes[NPU_BUF_RESIDENT] = hi - lo;
    return RT_OK;
}

/* Every other activation root in the segment's arena, at an offset planned from its lifetime
 * (first writer, or -1 for an input, to last reader, or past the end for an output). */
static rt_status place_activations(npu_segment *s, rt_error *e)
{
    int nt = s->n_t, n = 0, nb = s->n_blobs;
    npu_live_buf *bufs = malloc((size_t)(nt + nb + 1) * sizeof *bufs);
    int *which = malloc((size_t)(nt + nb + 1) * sizeof *which);
    uint64_t *offsets = malloc((size_t)(nt + nb + 1) * sizeof *offsets);
    if (!bufs || !which || !offsets) {
        free(bufs);
        free(which);
        free(offsets);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (placement)");
    }
    for (int i = 0; i < nt; i++) {
        const npu_tinfo *x = &s->t[i];
        int t = s->t_graph[i];
        if (!x->used || x->root != t || x->resident || x->def == INT_MAX)
            continue;
        bufs[n] = (npu_live_buf){act_bytes(s, t), x->def, x->last > x->def ? x->last : x->def};
        which[n++] = i; /* an index into s->t */
    }
    int n_tensors = n;
    for (int i = 0; i < nb; i++) /* scratch: live at its node's step only */
        if (s->blobs[i].kind == NPU_BLOB_SCRATCH) {
            bufs[n] = (npu_live_buf){s->blobs[i].bytes, s->blobs[i].pos, s->blobs[i].pos};
            which[n++] = i; /* an index into s->blobs */
        }
    uint64_t top = 0;
    rt_status st = npu_arena_plan(bufs, n, NPU_ARENA_ALIGN_BYTES, offsets, &top, e);
    for (int i = 0; st == RT_OK && i < n; i++) {
        if (i >= n_tensors) {
            s->blobs[which[i]].buf = NPU_BUF_ACT;
            s->blobs[which[i]].offset = offsets[i];
            continue;
        }
        s->t[which[i]].buf = NPU_BUF_ACT;
        s->t[which[i]].offset = offsets[i];
    }
    free(bufs);
    free(which);
    free(offsets);
    if (st != RT_OK)
        return st;
    if (top > NPU_ARENA_MAX_BYTES)
        return rt_error_set(e, RT_ERR_LIMIT, "the segment's activations need %llu bytes at once; a job buffer is "
                            "limited to %llu (split the segment)",
                            (unsigned long long)top, (unsigned long long)NPU_ARENA_MAX_BYTES);
    s->buf_bytes[NPU_BUF_ACT] = top;
    return RT_OK;
}

static rt_status place_blobs(npu_segment *s, rt_error *e)
{
    uint64_t param = 0;
    uint32_t arena = 0;
    uint64_t wtop = 0;
    bool any_weight = false;
    for (int i = 0; i < s->n_blobs; i++) {
        npu_blob *b = &s->blobs[i];
        if (b->kind == NPU_BLOB_SCRATCH)
            continue; /* in the arena (place_activations) */
        uint64_t need = (b->bytes + NPU_ARENA_ALIGN_BYTES - 1) / NPU_ARENA_ALIGN_BYTES * NPU_ARENA_ALIGN_BYTES;
        if (need > NPU_ARENA_MAX_BYTES)
            return rt_error_set(e, RT_ERR_LIMIT, "a constant of %llu bytes exceeds a job buffer's %llu",
                                (unsigned long long)b->bytes, (unsigned long long)NPU_ARENA_MAX_BYTES);
        if (b->kind == NPU_BLOB_PARAM) {
            b->buf = NPU_BUF_PARAM;
            b->offset = param;
            param += need;
            continue;
        }
        if (any_weight && wtop + need > NPU_ARENA_MAX_BYTES) {
            s->buf_bytes[NPU_BUF_WEIGHT0 + arena] = wtop;
            if (++arena >= NPU_MAX_WEIGHT_ARENAS)
                return rt_error_set(e, RT_ERR_LIMIT, "the segment's weights need more than %u buffers of %llu bytes",
                                    NPU_MAX_WEIGHT_ARENAS, (unsigned long long)NPU_ARENA_MAX_BYTES);
            wtop = 0;
        }
        any_weight = true;
        b->buf = NPU_BUF_WEIGHT0 + arena;
        b->offset = wtop;
        wtop += need;
    }
    if (param > NPU_ARENA_MAX_BYTES)
        return rt_error_set(e, RT_ERR_LIMIT, "the segment's small constants need %llu bytes (more than a job buffer)",
                            (unsigned long long)param);
    s->buf_bytes[NPU_BUF_PARAM] = param;
    s->nbufs = NPU_BUF_WEIGHT0;
    if (any_weight) {
        s->buf_bytes[NPU_BUF_WEIGHT0 + arena] = wtop;
        s->nbufs = NPU_BUF_WEIGHT0 + arena + 1;
    }
    for (int i = 0; i < s->n_blobs; i++)
        s->weight_bytes += s->blobs[i].kind == NPU_BLOB_SCRATCH ? 0 : s->blobs[i].bytes;
    if (!s->timing_only) {
        s->param_host = calloc(1, param ? param : 1);
        if (!s->param_host)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (%llu bytes of constants)", (unsigned long long)param);
        for (uint32_t k = NPU_BUF_WEIGHT0; k < s->nbufs; k++) {
            s->weight_host[k - NPU_BUF_WEIGHT0] = calloc(1, s->buf_bytes[k] ? s->buf_bytes[k] : 1);
            if (!s->weight_host[k - NPU_BUF_WEIGHT0])
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory (%llu bytes of weights)",
                                    (unsigned long long)s->buf_bytes[k]);
        }
    }
    return RT_OK;
}

rt_status npu_segment_upload(npu_segment *s, rt_error *e)
{
    npu_dev *dev = s->b->dev;
    for (uint32_t k = 0; k < s->nbufs; k++) {
        const uint8_t *img = k == NPU_BUF_PARAM       ? s->param_host
                             : k >= NPU_BUF_WEIGHT0 ? s->weight_host[k - NPU_BUF_WEIGHT0]
                                                    : NULL; /* activations: written per run */
        if (img && s->buf_bytes[k] && npu_bo_write(s->win[k].bo, s->win[k].offset, img, s->buf_bytes[k]) != NPU_DRV_OK)
            return rt_error_set(e, RT_ERR_IO, "uploading buffer %u: %s", k, npu_dev_error(dev));
    }
    uint64_t pbytes = (uint64_t)s->n_ops * sizeof *s->ops;
    if (pbytes && npu_bo_write(s->prog.bo, s->prog.offset, s->ops, pbytes) != NPU_DRV_OK)
        return rt_error_set(e, RT_ERR_IO, "uploading the op descriptors: %s", npu_dev_error(dev));
    /* the images are on the device now; the twin reads them back from there */
    free(s->param_host);
    s->param_host = NULL;
    for (uint32_t i = 0; i < NPU_MAX_WEIGHT_ARENAS; i++) {
        free(s->weight_host[i]);
        s->weight_host[i] = NULL;
    }
    return RT_OK;
}

npu_segment *npu_segment_plan(npu_mem_plan *mp, const int *nodes, int n_nodes, npu_weight_type weights,
                              bool timing_only, rt_error *e)
{
    rt_graph *g = mp->g;
    if ((!nodes && n_nodes) || n_nodes < 0) {
        rt_error_set(e, RT_ERR_ARG, "npu_segment_build: no nodes");
        return NULL;
    }
    npu_segment *s = calloc(1, sizeof *s);
    if (s) {
        s->nodes = malloc((size_t)(n_nodes + 1) * sizeof *s->nodes);
        s->fused = calloc((size_t)n_nodes + 1, sizeof *s->fused);
        s->into = calloc((size_t)n_nodes + 1, sizeof *s->into);
        s->attention = calloc((size_t)n_nodes + 1, sizeof *s->attention);
        s->weight_host = calloc(NPU_MAX_WEIGHT_ARENAS, sizeof *s->weight_host);
    }
    if (!s || !s->nodes || !s->fused || !s->into || !s->attention || !s->weight_host) {
        npu_segment_destroy(s);
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (segment)");
        return NULL;
    }
    s->b = mp->b;
    s->g = g;
    s->plan = mp;
    s->n_nodes = n_nodes;
    s->timing_only = timing_only;
    s->wtype = weights;
    s->afmt = mp->b->act_format;
    s->group = mp->b->group_size;
    for (int p = 0; p < n_nodes; p++) {
        if (nodes[p] < 0 || nodes[p] >= g->n_nodes) {
            rt_error_set(e, RT_ERR_ARG, "npu_segment_build: node index %d is out of range", nodes[p]);
            npu_segment_destroy(s);
            return NULL;
        }
        s->nodes[p] = nodes[p];
        s->into[p] = nodes[p];
    }
    if (index_segment(s, e) != RT_OK) {
        npu_segment_destroy(s);
        return NULL;
    }
    fuse_attention(s);
    if (lower_all(s, NPU_LOWER_PLAN, e) != 0 || resolve_scales(s, e) != RT_OK || find_boundary(s, e) != RT_OK ||
        place_resident(s, e) != RT_OK || place_activations(s, e) != RT_OK || place_blobs(s, e) != RT_OK ||
        lower_all(s, NPU_LOWER_EMIT, e) != 0) {
        npu_segment_destroy(s);
        return NULL;
    }
    if (s->stray) {
        rt_error_set(e, RT_ERR_ARG, "internal: lowering touched a tensor none of the segment's nodes reads or writes");
        npu_segment_destroy(s);
        return NULL;
    }
    return s;
}

npu_segment *npu_segment_build(npu_backend *b, rt_graph *g, const int *nodes, int n_nodes, npu_weight_type weights,
                               bool timing_only, rt_error *e)
{
    if (!b || !g || (!nodes && n_nodes) || n_nodes < 0) {
        rt_error_set(e, RT_ERR_ARG, "npu_segment_build: no backend, graph or nodes");
        return NULL;
    }
    npu_mem_plan *p = npu_mem_plan_new(b, g, NULL, NULL, e);
    npu_segment *s = p ? npu_mem_plan_segment(p, nodes, n_nodes, weights, timing_only, e) : NULL;
    if (!s || npu_mem_plan_commit(p, e) != RT_OK) {
        npu_mem_plan_free(p);
        return NULL;
    }
    s->owns_plan = true;
    return s;
}

/* ---------------------------------------------------------------- run */

static bool float_act(rt_dtype t) { return t == RT_DT_F32 || t == RT_DT_F16 || t == RT_DT_BF16; }

static float value_at(const rt_tensor *v, int64_t i)
{
    switch (v->dtype) {
    case RT_DT_F16: return rt_f16_to_f32(((const uint16_t *)v->data)[i]);
    case RT_DT_BF16: return rt_bf16_to_f32(((const uint16_t *)v->data)[i]);
    default: return ((const float *)v->data)[i];
    }
}

static void store_at(rt_tensor *v, int64_t i, float x)
{
    switch (v->dtype) {
    case RT_DT_F16: ((uint16_t *)v->data)[i] = rt_f32_to_f16(x); break;
    case RT_DT_BF16: ((uint16_t *)v->data)[i] = rt_f32_to_bf16(x); break;
    default: ((float *)v->data)[i] = x; break;
    }
}

/* Element i of an activation in the device's format at p: quantised from x (int8, int16 with the
 * device scale, f16), as the device's v.quant / v.cvt do. */
static void put_elem(npu_act_format f, uint8_t *p, int64_t i, float x, float dscale)
{
    if (f == NPU_ACTS_INT8) {
        p[i] = (uint8_t)npu_quantize(x, dscale);
        return;
    }
    uint16_t u;
    if (f == NPU_ACTS_F16) {
        u = isa_f32_to_f16_sat(x);
    } else {
        float q = nearbyintf(x / dscale); /* round half to even, saturate, NaN -> 0 */
        int16_t v = isnan(q) ? 0 : q < (float)INT16_MIN ? INT16_MIN : q > (float)INT16_MAX ? INT16_MAX : (int16_t)q;
        memcpy(&u, &v, sizeof u);
    }
    p[2 * i] = (uint8_t)(u & 0xFF);
    p[2 * i + 1] = (uint8_t)(u >> 8);
}

/* The value of element i at p (v.dequant / v.cvt to f32). */
static float get_elem(npu_act_format f, const uint8_t *p, int64_t i, float dscale)
{
    if (f == NPU_ACTS_INT8)
        return (float)(int8_t)p[i] * dscale;
    uint16_t u = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
    if (f == NPU_ACTS_F16)
        return isa_f16_to_f32(u);
    int16_t v;
    memcpy(&v, &u, sizeof v);
    return (float)v * dscale;
}

/* Quantise the segment's inputs into their buffers: host images img[buffer] (the twin), or the
 * device's buffers when img is NULL. */
static rt_status put_inputs(npu_segment *s, rt_tensor **values, uint8_t *const *img, uint64_t *bytes, rt_error *e)
{
    const uint64_t esz = npu_act_format_bytes(s->afmt);
    for (int k = 0; k < s->n_ins; k++) {
        int t = s->ins[k];
        const rt_tensor *decl = s->g->tensors[t];
        int64_t n = rt_tensor_numel(decl);
        *bytes += (uint64_t)n * esz;
        if (s->timing_only)
            continue;
        const rt_tensor *v = values ? values[t] : NULL;
        if (!v || !v->data || !float_act(v->dtype) || rt_tensor_numel(v) != n)
            return rt_error_set(e, RT_ERR_NO_DATA, "segment input '%s': no f32/f16/bf16 value of %lld elements",
                                decl->name, (long long)n);
        float scale = npu_act_device_scale(s->afmt, npu_seg_tinfo(s, scale_root(s, t))->scale);
        const npu_tinfo *x = npu_seg_tinfo(s, t); /* an input is a storage root */
        uint8_t *q = img ? img[x->buf] + x->offset : malloc((size_t)n * esz);
        if (!q)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (input '%s')", decl->name);
        for (int64_t i = 0; i < n; i++)
            put_elem(s->afmt, q, i, value_at(v, i), scale);
        if (!img) {
            const npu_window *w = &s->win[x->buf];
            npu_drv_status st = npu_bo_write(w->bo, w->offset + x->offset, q, (uint64_t)n * esz);
            free(q);
            if (st != NPU_DRV_OK)
                return rt_error_set(e, RT_ERR_IO, "writing input '%s': %s", decl->name, npu_dev_error(s->b->dev));
        }
    }
    return RT_OK;
}

static rt_status get_outputs(npu_segment *s, rt_tensor **values, uint8_t *const *img, uint64_t *bytes, rt_error *e)
{
    const uint64_t esz = npu_act_format_bytes(s->afmt);
    for (int k = 0; k < s->n_outs; k++) {
        int t = s->outs[k];
        const rt_tensor *decl = s->g->tensors[t];
        int64_t n = rt_tensor_numel(decl);
        *bytes += (uint64_t)n * esz;
        if (s->timing_only || !values)
            continue;
        rt_tensor *v = values[t];
        if (!v) {
            v = rt_tensor_new(decl->name, decl->dtype, decl->rank, decl->dims);
            if (!v || rt_tensor_alloc(v, e) != RT_OK) {
                rt_tensor_free(v);
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory (output '%s')", decl->name);
            }
            values[t] = v;
        } else if (!float_act(v->dtype) || !v->data || rt_tensor_numel(v) != n) {
            return rt_error_set(e, RT_ERR_ARG, "segment output '%s': the value given is not a float tensor of %lld "
                                "elements", decl->name, (long long)n);
        }
        const npu_tinfo *x = npu_seg_tinfo(s, root(s, t));
        const npu_window *w = &s->win[x->buf];
        uint8_t *q = img ? img[x->buf] + x->offset : malloc((size_t)n * esz);
        if (!q)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (output '%s')", decl->name);
        if (!img && npu_bo_read(w->bo, w->offset + x->offset, q, (uint64_t)n * esz) != NPU_DRV_OK) {
            free(q);
            return rt_error_set(e, RT_ERR_IO, "reading output '%s': %s", decl->name, npu_dev_error(s->b->dev));
        }
        float scale = npu_act_device_scale(s->afmt, npu_seg_tinfo(s, scale_root(s, t))->scale);
        for (int64_t i = 0; i < n; i++)
            store_at(v, i, get_elem(s->afmt, q, i, scale)); /* the device's dequantisation, then the tensor's type */
        if (!img)
            free(q);
    }
    return RT_OK;
}

static rt_status job_fault(npu_segment *s, const npu_job_result *r, rt_error *e)
{
    npu_dev *dev = s->b->dev;
    char log[NPU_FAULT_LOG_BYTES], lbl[200] = "?";
    npu_dev_read_log(dev, log, sizeof log);
    if (r->fault_insn < s->n_ops)
        graph_node_label(s->g, s->op_node[r->fault_insn], lbl, sizeof lbl);
    rt_status st = rt_error_set(e, r->fault == NPU_FAULT_BAD_OP ? RT_ERR_UNSUPPORTED : RT_ERR_ARG,
                                "NPU fault %s in unit %s at op descriptor %u (node %s): %s; firmware log: %s",
                                npu_fault_str(r->fault), npu_unit_str(r->fault_unit), r->fault_insn, lbl,
                                npu_dev_error(dev), log);
    npu_dev_reset(dev); /* the device stops on a fault; the next job needs it running */
    return st;
}

/* The job's profile records, read back into the segment's host copy with their cycles made
 * relative to the job's start (so that a memo entry is the same whatever the job's date). */
static rt_status read_profile(npu_segment *s, uint64_t job_start, rt_error *e)
{
    if (!s->profile && !(s->profile = calloc(s->n_ops, sizeof *s->profile)))
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (op profile)");
    if (npu_bo_read(s->prof.bo, s->prof.offset, s->profile, (uint64_t)s->n_ops * sizeof *s->profile) != NPU_DRV_OK)
        return rt_error_set(e, RT_ERR_IO, "reading the op profile: %s", npu_dev_error(s->b->dev));
    for (uint32_t i = 0; i < s->n_ops; i++) {
        s->profile[i].start_cycle -= job_start;
        s->profile[i].end_cycle -= job_start;
    }
    return RT_OK;
}

/* The firmware log of the job that just ran, to the backend's log sink. */
static void forward_log(npu_segment *s)
{
    char text[NPU_FAULT_LOG_BYTES];
    while (npu_dev_read_log(s->b->dev, text, sizeof text) > 0)
        s->b->log_fn(s->b->log_ctx, text);
}

rt_status npu_segment_run(npu_segment *s, rt_tensor **values, npu_segment_stats *st, rt_error *e)
{
    if (!s)
        return rt_error_set(e, RT_ERR_ARG, "npu_segment_run: no segment");
    npu_segment_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    npu_dev *dev = s->b->dev;
    rt_status rs = put_inputs(s, values, NULL, &st->bytes_in, e);
    if (rs != RT_OK)
        return rs;
    st->ops = s->n_ops;
    st->weight_bytes = s->weight_bytes;
    if (s->n_ops > 0 && !npu_memo_lookup(s->b, s, st)) {
        char drain[NPU_FAULT_LOG_BYTES];
        npu_dev_read_log(dev, drain, sizeof drain); /* a fault report shows this job's lines only */
        npu_job job;
        memset(&job, 0, sizeof job);
        job.type = NPU_JOB_OPS;
        job.flags = (s->timing_only ? NPU_JOB_F_TIMING_ONLY : 0) | (s->b->log_fn ? NPU_JOB_F_LOG_OPS : 0);
        job.program = (npu_buf_ref){s->prog.bo, s->prog.offset, s->prog.bytes};
        if (s->b->profile_on)
            job.profile = (npu_buf_ref){s->prof.bo, s->prof.offset, s->prof.bytes};
        job.nbufs = s->nbufs;
        for (uint32_t k = 0; k < s->nbufs; k++)
            job.bufs[k] = (npu_buf_ref){s->win[k].bo, s->win[k].offset, s->win[k].bytes};
        npu_counters c0, c1;
        npu_dev_read_counters(dev, &c0);
        npu_fence f;
        npu_job_result r;
        memset(&r, 0, sizeof r);
        if (npu_submit(dev, &job, &f) != NPU_DRV_OK)
            return rt_error_set(e, RT_ERR_IO, "submitting the segment: %s", npu_dev_error(dev));
        npu_drv_status ds = npu_wait(dev, f, NPU_RUN_TIMEOUT_CYCLES, &r);
        if (ds == NPU_DRV_E_FAULT)
            return job_fault(s, &r, e);
        if (ds != NPU_DRV_OK)
            return rt_error_set(e, RT_ERR_IO, "running the segment: %s", npu_dev_error(dev));
        npu_dev_read_counters(dev, &c1);
        npu_counters_diff(&c0, &c1, &st->counters);
        st->cycles = r.end_cycle - r.start_cycle;
        st->insns = r.insns;
        st->seconds = (double)st->cycles / (s->b->cfg.npu.clock_mhz * 1e6);
        if (s->b->log_fn)
            forward_log(s);
        if (s->b->profile_on && (rs = read_profile(s, r.start_cycle, e)) != RT_OK)
            return rs;
        npu_memo_store(s->b, s, st);
    }
    return get_outputs(s, values, NULL, &st->bytes_out, e);
}

rt_status npu_segment_run_twin(npu_segment *s, rt_tensor **values, rt_error *e)
{
    if (!s)
        return rt_error_set(e, RT_ERR_ARG, "npu_segment_run_twin: no segment");
    if (s->timing_only)
        return rt_error_set(e, RT_ERR_ARG, "npu_segment_run_twin: a timing-only segment has no data to compute");
    npu_twin_buf tb[NPU_MAX_BUFFERS];
    memset(tb, 0, sizeof tb);
    rt_status rs = RT_OK;
    for (uint32_t k = 0; k < s->nbufs && rs == RT_OK; k++) {
        tb[k].size = s->buf_bytes[k];
        tb[k].data = calloc(1, tb[k].size ? tb[k].size : 1);
        if (!tb[k].data)
            rs = rt_error_set(e, RT_ERR_NOMEM, "out of memory (twin buffer %u)", k);
        else if (k != NPU_BUF_ACT && k != NPU_BUF_RESIDENT && tb[k].size &&
                 npu_bo_read(s->win[k].bo, s->win[k].offset, tb[k].data, tb[k].size) != NPU_DRV_OK)
            rs = rt_error_set(e, RT_ERR_IO, "reading buffer %u: %s", k, npu_dev_error(s->b->dev));
    }
    uint8_t *img[NPU_MAX_BUFFERS] = {NULL};
    for (uint32_t k = 0; k < s->nbufs; k++)
        img[k] = tb[k].data;
    uint64_t ignored = 0;
    if (rs == RT_OK)
        rs = put_inputs(s, values, img, &ignored, e);
    if (rs == RT_OK)
        rs = npu_twin_run(s->ops, s->n_ops, tb, s->nbufs, e);
    if (rs == RT_OK)
        rs = get_outputs(s, values, img, &ignored, e);
    for (uint32_t k = 0; k < s->nbufs; k++)
        free(tb[k].data);
    return rs;
}

const npu_op_desc *npu_segment_ops(const npu_segment *s, uint32_t *n)
{
    *n = s ? s->n_ops : 0;
    return s ? s->ops : NULL;
}

int npu_segment_op_node(const npu_segment *s, uint32_t i) { return s && i < s->n_ops ? s->op_node[i] : -1; }

const npu_op_profile *npu_segment_profile(const npu_segment *s) { return s ? s->profile : NULL; }

int npu_segment_fused_into(const npu_segment *s, int node)
{
    int pos = s && node >= 0 && node < s->g->n_nodes ? npu_seg_pos(s, node) : -1;
    return pos < 0 ? -1 : s->into[pos];
}

void npu_backend_set_profile(npu_backend *b, bool on) { b->profile_on = on; }
bool npu_backend_profile(const npu_backend *b) { return b->profile_on; }

void npu_backend_set_log(npu_backend *b, npu_log_fn fn, void *ctx)
{
    b->log_fn = fn;
    b->log_ctx = ctx;
}
