/* npu_lower.c -- lowering graph nodes (ONNX semantics) to the firmware's op descriptors.
 *
 * One function per op family does three jobs, chosen by the mode, so that what supports() says,
 * what a segment plans and what it emits can never disagree:
 *   CHECK  the node's ops, types, shapes and attributes against the kernels' abilities;
 *   PLAN   which tensors it reads and writes (for liveness), which are views of others (Reshape
 *          ...), which must share a scale (pure data movement), and the constants it needs;
 *   EMIT   the descriptors, and (numeric segments) the constants' bytes: quantised weights,
 *          scales, biases.
 * MatMul, Gemm and Conv absorb a following Add of a constant bias and a Relu/Gelu when they are
 * the only reader of the intermediate (one descriptor, one pass over memory).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "isa_exec.h"
#include "npu_internal.h"
#include "ops.h"
#include "ops_geom.h"

/* The softmax tile's input scale field is Q4.12 of scale * log2(e): scales outside this range are
 * moved to its edge (the input is quantised more coarsely, never wrongly). */
#define LOG2_E 1.4426950408889634
#define SM_SCALE_MIN ((1.0 + 0.5) / (4096.0 * LOG2_E))
#define SM_SCALE_MAX ((65535.0 - 0.5) / (4096.0 * LOG2_E))
#define SM_OUT_SCALE (1.0f / (float)(1 << ISA_SM_OUT_FRAC_BITS))
#define VEC_MAX_COLS 65535u   /* the vector instructions' cols field */
#define MM_MAX_K 16383u       /* the mm instruction's k field (conv: one mm per channel tile) */
#define DMA_MAX_PITCH 65535u  /* the DMA's row pitch */
#define STREAM_SLOTS 3u       /* the streaming kernels' slots (firmware/src/ops) */
#define NPU_MAX_COL_SLICES 64 /* a per-channel operand over at most this many images: one op each */
/* Alignment slack the kernels' SRAM plans may lose: one aligned region per slot and resident area. */
#define SRAM_SLACK_BYTES (16u * NPU_ARENA_ALIGN_BYTES)

/* Do `slots` slots of slot_bytes plus `resident` bytes fit in the SRAM? (the streaming kernels' plan) */
static bool sram_fits(const npu_lower *L, uint64_t slots, uint64_t slot_bytes, uint64_t resident)
{
    return slots * slot_bytes + resident + SRAM_SLACK_BYTES <= L->dev->sram.size_bytes;
}

static const rt_node *node_of(const npu_lower *L) { return &L->g->nodes[L->node]; }

static int refuse(npu_lower *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(npu_lower *L, const char *fmt, ...)
{
    if (L->why && L->whylen) {
        int n = snprintf(L->why, L->whylen, "%s: ", node_of(L)->op_type);
        if (n < 0 || (size_t)n >= L->whylen)
            n = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->why + n, L->whylen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---------------------------------------------------------------- tensors */

static int in_t(const npu_lower *L, int i)
{
    const rt_node *n = node_of(L);
    return i < n->n_inputs ? n->inputs[i] : -1;
}

static int out_t(const npu_lower *L, int i)
{
    const rt_node *n = node_of(L);
    return i < n->n_outputs ? n->outputs[i] : -1;
}

static const rt_tensor *T(const npu_lower *L, int t) { return L->g->tensors[t]; }
static int64_t numel(const npu_lower *L, int t) { return rt_tensor_numel(T(L, t)); }

/* The activation types the backend takes (int8 on the device either way). */
static bool float_act(rt_dtype t) { return t == RT_DT_F32 || t == RT_DT_F16 || t == RT_DT_BF16; }

static bool is_view_node(const rt_graph *g, const rt_node *n)
{
    switch (n->op) {
    case RT_OP_Reshape: case RT_OP_Flatten: case RT_OP_Squeeze: case RT_OP_Unsqueeze: case RT_OP_Identity:
        return true;
    case RT_OP_Cast:
        return n->n_inputs >= 1 && n->inputs[0] >= 0 && n->outputs[0] >= 0 &&
               rt_dtype_is_float(g->tensors[n->inputs[0]]->dtype) && rt_dtype_is_float(g->tensors[n->outputs[0]]->dtype);
    default:
        return false;
    }
}

/* The float constant whose values t holds (t itself, or seen through Reshape-like views and
 * float casts that the partitioner precomputes), or -1. */
static int csrc(const npu_lower *L, int t)
{
    for (int hop = 0; t >= 0 && hop < RT_MAX_RANK * 4; hop++) {
        const rt_tensor *x = T(L, t);
        if (x->kind == RT_TENSOR_CONSTANT)
            return rt_dtype_is_float(x->dtype) ? t : -1;
        if (x->producer < 0 || !is_view_node(L->g, &L->g->nodes[x->producer]))
            return -1;
        t = L->g->nodes[x->producer].inputs[0];
    }
    return -1;
}

static bool is_const(const npu_lower *L, int t) { return csrc(L, t) >= 0; }

/* A quantised weight seen through its int -> float Cast (how weight-only quantisation exports:
 * MatMul(x, Cast(w_int8)) * scales): the int8/int4 constant, or -1. */
static int int_weight_src(const npu_lower *L, int t)
{
    int p = t >= 0 ? T(L, t)->producer : -1;
    if (p < 0)
        return -1;
    const rt_node *n = &L->g->nodes[p];
    if (n->op != RT_OP_Cast || n->n_inputs < 1 || n->inputs[0] < 0 || !rt_dtype_is_float(T(L, t)->dtype))
        return -1;
    const rt_tensor *w = T(L, n->inputs[0]);
    return w->kind == RT_TENSOR_CONSTANT && (w->dtype == RT_DT_I8 || w->dtype == RT_DT_I4) ? n->inputs[0] : -1;
}

static int need_data(npu_lower *L, int t, const char *what)
{
    if (t < 0)
        return refuse(L, "%s is missing", what);
    const rt_tensor *x = T(L, t);
    if (!rt_tensor_shape_known(x))
        return refuse(L, "%s '%s' has no inferred shape", what, x->name);
    if (!float_act(x->dtype))
        return refuse(L, "%s '%s' is %s (the NPU path takes f32, f16 or bf16 tensors, int8 on the device)", what,
                      x->name, rt_dtype_name(x->dtype));
    if (rt_tensor_numel(x) == 0)
        return refuse(L, "%s '%s' is empty", what, x->name);
    return 0;
}

static int need_act(npu_lower *L, int t, const char *what)
{
    if (need_data(L, t, what))
        return -1;
    if (is_const(L, t))
        return refuse(L, "%s '%s' is a constant (the NPU kernel takes an activation here)", what, T(L, t)->name);
    return 0;
}

static int need_const(npu_lower *L, int t, const char *what)
{
    if (t < 0)
        return refuse(L, "%s is missing", what);
    const rt_tensor *x = T(L, t);
    int c = csrc(L, t);
    if (c < 0)
        return refuse(L, "%s '%s' is not a constant", what, x->name);
    if (!rt_tensor_shape_known(x) || rt_tensor_numel(x) != numel(L, c))
        return refuse(L, "%s '%s' must be a float constant of known shape", what, x->name);
    if (L->mode == NPU_LOWER_EMIT && !L->s->timing_only && !T(L, c)->data)
        return refuse(L, "%s '%s' has no data (a numeric segment needs it; build a timing-only one)", what,
                      T(L, c)->name);
    return 0;
}

/* A constant's values as f32 (malloc'd), for packing. */
static float *const_f32(const npu_lower *L, int t)
{
    const rt_tensor *x = T(L, csrc(L, t) >= 0 ? csrc(L, t) : t);
    int64_t n = rt_tensor_numel(x);
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    if (!x->data)
        memset(v, 0, (size_t)(n ? n : 1) * sizeof *v);
    else if (x->dtype == RT_DT_F32)
        memcpy(v, x->data, (size_t)n * sizeof *v);
    else
        for (int64_t i = 0; i < n; i++)
            v[i] = (float)rt_tensor_get_f64(x, i);
    return v;
}

/* ---------------------------------------------------------------- planning helpers */

static npu_tinfo *ti(const npu_lower *L, int t) { return &L->s->t[t]; }

static int root_of(const npu_lower *L, int t)
{
    while (ti(L, t)->root != t)
        t = ti(L, t)->root;
    return t;
}

static int scale_root_of(const npu_lower *L, int t)
{
    while (ti(L, t)->scale_root != t)
        t = ti(L, t)->scale_root;
    return t;
}

static void read_act(npu_lower *L, int t)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    ti(L, t)->used = true;
    npu_tinfo *r = ti(L, root_of(L, t));
    r->used = true;
    if (L->pos > r->last)
        r->last = L->pos;
}

static void write_act(npu_lower *L, int t)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    ti(L, t)->used = true;
    ti(L, t)->produced = true;
    npu_tinfo *r = ti(L, root_of(L, t));
    r->used = true;
    r->produced = true;
    if (L->pos < r->def)
        r->def = L->pos;
    if (L->pos > r->last)
        r->last = L->pos;
}

/* b (a later tensor) gets a's scale */
static void share_scale(npu_lower *L, int a, int b)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    int ra = scale_root_of(L, a), rb = scale_root_of(L, b);
    if (ra == rb)
        return;
    npu_tinfo *A = ti(L, ra), *B = ti(L, rb);
    if (!A->scale_set && B->scale_set) {
        A->scale_set = true;
        A->scale = B->scale;
    }
    A->lo = A->lo > B->lo ? A->lo : B->lo;
    A->hi = A->hi < B->hi ? A->hi : B->hi;
    B->scale_root = ra;
}

/* out is a view of in: same bytes, same scale */
static void alias(npu_lower *L, int out, int in)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    read_act(L, in);
    ti(L, out)->root = root_of(L, in);
    share_scale(L, in, out);
    ti(L, out)->used = true;
    ti(L, out)->produced = true; /* the view is the segment's (a boundary output if read outside); its
                                    bytes are the input's, which stays a boundary input if it is one */
}

static void force_scale(npu_lower *L, int t, float s)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    npu_tinfo *r = ti(L, scale_root_of(L, t));
    r->scale_set = true;
    r->scale = s;
}

static void clamp_scale(npu_lower *L, int t, float lo, float hi)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    npu_tinfo *r = ti(L, scale_root_of(L, t));
    r->lo = r->lo > lo ? r->lo : lo;
    r->hi = r->hi < hi ? r->hi : hi;
}

static float scale_of(const npu_lower *L, int t) { return ti(L, scale_root_of(L, t))->scale; }

/* ---------------------------------------------------------------- emission helpers */

typedef struct npu_cref {
    uint32_t buf;
    uint64_t offset;
    uint8_t *host; /* where to write its bytes (EMIT of a numeric segment), else NULL */
} npu_cref;

/* The next constant of the segment (numbered in lowering order). */
static npu_cref blob(npu_lower *L, npu_blob_kind kind, uint64_t bytes)
{
    npu_cref r = {NPU_NO_BUFFER, 0, NULL};
    npu_segment *s = L->s;
    if (!s)
        return r;
    int i = L->blob_next++;
    if (L->mode == NPU_LOWER_PLAN) {
        if (s->n_blobs == s->cap_blobs) {
            int cap = s->cap_blobs ? 2 * s->cap_blobs : 64;
            npu_blob *nb = realloc(s->blobs, (size_t)cap * sizeof *nb);
            if (!nb)
                return r; /* noticed by the caller: n_blobs does not grow */
            s->blobs = nb;
            s->cap_blobs = cap;
        }
        s->blobs[s->n_blobs].kind = kind;
        s->blobs[s->n_blobs].bytes = bytes;
        s->n_blobs++;
        return r;
    }
    if (i >= s->n_blobs)
        return r;
    r.buf = s->blobs[i].buf;
    r.offset = s->blobs[i].offset;
    if (!s->timing_only)
        r.host = (r.buf == NPU_BUF_PARAM ? s->param_host : s->weight_host[r.buf - NPU_BUF_WEIGHT0]) + r.offset;
    return r;
}

static npu_tensor_ref make_ref(uint32_t buf, uint32_t dtype, uint64_t offset, float scale, int rank, const int64_t *dims)
{
    npu_tensor_ref r;
    memset(&r, 0, sizeof r);
    r.buf = buf;
    r.dtype = dtype;
    r.offset = offset;
    r.rank = (uint32_t)rank;
    r.scales_axis = -1;
    r.scale = scale;
    r.scales_buf = NPU_NO_BUFFER;
    for (int i = 0; i < rank; i++)
        r.dims[i] = dims[i];
    return r;
}

/* Activation t (int8 in buffer 0) seen with `dims`, from element `at` on. */
static npu_tensor_ref act_ref_at(const npu_lower *L, int t, uint64_t at, int rank, const int64_t *dims)
{
    uint64_t off = L->s ? ti(L, root_of(L, t))->offset : 0;
    return make_ref(NPU_BUF_ACT, NPU_DT_I8, off + at, L->s ? scale_of(L, t) : 1.0f, rank, dims);
}

static npu_tensor_ref act_ref(const npu_lower *L, int t, int rank, const int64_t *dims)
{
    return act_ref_at(L, t, 0, rank, dims);
}

static npu_tensor_ref in_ref(npu_lower *L, int t, int rank, const int64_t *dims)
{
    read_act(L, t);
    return act_ref(L, t, rank, dims);
}

static npu_tensor_ref out_ref(npu_lower *L, int t, int rank, const int64_t *dims)
{
    write_act(L, t);
    return act_ref(L, t, rank, dims);
}

/* A constant tensor as an f32 operand in the parameter buffer (values copied in EMIT). */
static npu_tensor_ref const_ref(npu_lower *L, int t, int rank, const int64_t *dims)
{
    int64_t n = numel(L, t);
    npu_cref c = blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)n);
    if (c.host) {
        float *v = const_f32(L, t);
        if (v)
            memcpy(c.host, v, 4 * (size_t)n);
        free(v);
    }
    return make_ref(c.buf, NPU_DT_F32, c.offset, 0.0f, rank, dims);
}

/* An f32 vector computed by the caller (bias, gamma ...): returns the ref; *host is where to write. */
static npu_tensor_ref param_vec(npu_lower *L, int64_t n, float **host)
{
    npu_cref c = blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)n);
    *host = (float *)c.host;
    int64_t d[1] = {n};
    return make_ref(c.buf, NPU_DT_F32, c.offset, 0.0f, 1, d);
}

static npu_op_desc *new_op(npu_lower *L, uint32_t op, uint32_t n_inputs, npu_op_desc *scratch)
{
    npu_op_desc *d = scratch;
    npu_segment *s = L->s;
    if (L->mode == NPU_LOWER_EMIT) {
        if (s->n_ops == s->cap_ops) {
            uint32_t cap = s->cap_ops ? 2 * s->cap_ops : 64;
            npu_op_desc *no = realloc(s->ops, cap * sizeof *no);
            int *nn = realloc(s->op_node, cap * sizeof *nn);
            if (no)
                s->ops = no;
            if (nn)
                s->op_node = nn;
            if (no && nn)
                s->cap_ops = cap;
        }
        if (s->n_ops < s->cap_ops) {
            s->op_node[s->n_ops] = L->node;
            d = &s->ops[s->n_ops++];
        } else {
            s->oom = true;
        }
    }
    memset(d, 0, sizeof *d);
    d->op = op;
    d->n_inputs = n_inputs;
    for (int i = 0; i < NPU_OP_MAX_INPUTS; i++)
        d->in[i].buf = NPU_NO_BUFFER;
    d->out.buf = NPU_NO_BUFFER;
    return d;
}

/* ---------------------------------------------------------------- fusion */

/* The only node reading t, if it is a later node of this segment and t is no graph output. */
static int sole_consumer(const npu_lower *L, int t)
{
    if (!L->s)
        return -1;
    const rt_graph *g = L->g;
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == t)
            return -1;
    int found = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == t) {
                if (found >= 0 && found != i)
                    return -1;
                found = i;
            }
    if (found < 0 || L->s->pos[found] <= L->pos)
        return -1;
    return found;
}

typedef struct epilogue_fusion {
    int out;       /* the tensor the fused descriptor writes */
    int scale;     /* constant per-channel multiplier (weight-only quantisation's scales), or -1 */
    int bias;      /* constant bias tensor, or -1 */
    int32_t act;   /* enum npu_act */
} epilogue_fusion;

/* A constant of `n` values along `axis` of a rank-r output (ones elsewhere), e.g. a bias [N] for
 * a MatMul, [CO, 1, 1] or [1, CO, 1, 1] for a Conv. */
static bool is_channel_vector(const rt_tensor *c, int64_t n, int out_rank, int axis)
{
    if (rt_tensor_numel(c) != n || c->rank > out_rank)
        return false;
    for (int i = 0; i < c->rank; i++) {
        int oa = out_rank - c->rank + i;
        if (c->dims[i] != (oa == axis ? n : 1))
            return false;
    }
    return true;
}

/* If node c is `op(y, k)` (either order) with k a constant channel vector usable here, returns k. */
static int channel_operand(const npu_lower *L, int c, int op, int y, int64_t channels, int out_rank, int axis)
{
    const rt_node *n = &L->g->nodes[c];
    if (n->op != op || n->n_inputs != 2 || n->n_outputs < 1 || n->outputs[0] < 0 ||
        !float_act(T(L, n->outputs[0])->dtype) || numel(L, n->outputs[0]) != numel(L, y))
        return -1;
    int other = n->inputs[0] == y ? n->inputs[1] : n->inputs[0];
    if (other < 0 || other == y || !is_const(L, other) || (!L->s->timing_only && !T(L, csrc(L, other))->data) ||
        !is_channel_vector(T(L, other), channels, out_rank, axis))
        return -1;
    return other;
}

/* Absorb Mul(y, scales), then Add(y, bias), then Relu / Gelu after a MatMul/Gemm/Conv writing y,
 * each only where the intermediate has no other reader. */
static epilogue_fusion fuse_epilogue(npu_lower *L, int y, int64_t channels, int channel_axis, bool have_bias,
                                     bool scale_ok)
{
    epilogue_fusion f = {y, -1, -1, NPU_ACT_NONE};
    if (L->mode == NPU_LOWER_CHECK)
        return f;
    int out_rank = T(L, y)->rank;
    int c = sole_consumer(L, y), k;
    if (c >= 0 && scale_ok && !have_bias &&
        (k = channel_operand(L, c, RT_OP_Mul, f.out, channels, out_rank, channel_axis)) >= 0) {
        f.scale = k;
        f.out = L->g->nodes[c].outputs[0];
        L->s->fused[L->s->pos[c]] = true;
        c = sole_consumer(L, f.out);
    }
    if (c >= 0 && !have_bias && (k = channel_operand(L, c, RT_OP_Add, f.out, channels, out_rank, channel_axis)) >= 0) {
        f.bias = k;
        f.out = L->g->nodes[c].outputs[0];
        L->s->fused[L->s->pos[c]] = true;
        c = sole_consumer(L, f.out);
    }
    if (c >= 0 && L->g->nodes[c].n_outputs >= 1 && L->g->nodes[c].outputs[0] >= 0 &&
        float_act(T(L, L->g->nodes[c].outputs[0])->dtype)) {
        const rt_node *n = &L->g->nodes[c];
        int32_t act = NPU_ACT_NONE;
        if (n->op == RT_OP_Relu)
            act = NPU_ACT_RELU;
        else if (n->op == RT_OP_Gelu && strcmp(rt_node_attr_string(n, "approximate", "none"), "none") == 0)
            act = NPU_ACT_GELU;
        if (act != NPU_ACT_NONE) {
            f.act = act;
            f.out = n->outputs[0];
            L->s->fused[L->s->pos[c]] = true;
        }
    }
    return f;
}

/* Multiply scales[0..n-1] by the fused per-channel multiplier (if any). */
static void apply_channel_scale(const npu_lower *L, int scale_t, float *scales, int64_t n)
{
    if (scale_t < 0)
        return;
    float *m = const_f32(L, scale_t);
    for (int64_t i = 0; m && i < n; i++)
        scales[i] *= m[i];
    free(m);
}

/* ---------------------------------------------------------------- matmul and gemm */

static uint32_t block_width(const npu_lower *L, bool int4)
{
    uint32_t nb = L->dev->matmul.cols;
    return int4 && nb % 2 ? nb - 1 : nb;
}

/* The weight operand, BLOCKED: from a float constant [K, N] (trans: stored [N, K]) times alpha,
 * quantised here per output channel; or from an already quantised int8/int4 constant (`iw`,
 * [K, N]) whose per-channel scales are the fused multiplier. */
static npu_tensor_ref weight_ref(npu_lower *L, int t, int iw, int64_t k, int64_t n, bool trans, float alpha,
                                 int scale_t)
{
    bool int4 = iw >= 0 ? T(L, iw)->dtype == RT_DT_I4 : L->s && L->s->wtype == NPU_WEIGHTS_INT4;
    uint32_t nb = block_width(L, int4);
    uint64_t bytes = npu_blocked_bytes((uint64_t)k, (uint64_t)n, nb, int4);
    npu_cref sc = blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)n);
    npu_cref w = blob(L, NPU_BLOB_WEIGHT, bytes);
    if (w.host && sc.host) {
        float *scales = malloc((size_t)n * sizeof *scales);
        if (scales && iw >= 0) {
            npu_pack_blocked_int(T(L, iw), (uint64_t)k, (uint64_t)n, nb, int4, w.host);
            for (int64_t i = 0; i < n; i++)
                scales[i] = 1.0f;
        } else if (scales) {
            float *v = const_f32(L, t);
            if (v)
                npu_pack_blocked(v, trans ? 1 : n, trans ? k : 1, (uint64_t)k, (uint64_t)n, alpha, nb, int4, w.host,
                                 scales);
            free(v);
        }
        if (scales) {
            apply_channel_scale(L, scale_t, scales, n);
            memcpy(sc.host, scales, (size_t)n * sizeof *scales);
        }
        free(scales);
    }
    int64_t d[2] = {k, n};
    npu_tensor_ref r = make_ref(w.buf, int4 ? NPU_DT_I4 : NPU_DT_I8, w.offset, 0.0f, 2, d);
    r.scales_axis = 1;
    r.scales_buf = sc.buf;
    r.scales_offset = sc.offset;
    return r;
}

/* y = a @ b (+ bias) with a [.., M, K] an activation and b a constant [K, N] (or an activation). */
static int lower_matmul_core(npu_lower *L, int a, int b, int y, bool trans_b, float alpha, int bias_t, float beta)
{
    const rt_tensor *A = T(L, a), *B = T(L, b), *Y = T(L, y);
    if (A->rank < 1 || B->rank < 2)
        return refuse(L, "operands of rank %d and %d (expected >= 1 and >= 2)", A->rank, B->rank);
    int64_t K = A->dims[A->rank - 1], M = A->rank >= 2 ? A->dims[A->rank - 2] : 1;
    int64_t bk = trans_b ? B->dims[B->rank - 1] : B->dims[B->rank - 2];
    int64_t N = trans_b ? B->dims[B->rank - 2] : B->dims[B->rank - 1];
    if (bk != K)
        return refuse(L, "K = %lld but B has %lld rows", (long long)K, (long long)bk);
    int64_t batch = rt_tensor_numel(A) / (M * K);
    int iw = is_const(L, b) ? -1 : int_weight_src(L, b); /* an int8/int4 weight behind its cast */
    bool bconst = is_const(L, b) || iw >= 0, batched = false;
    if (bconst) {
        if (B->rank != 2)
            return refuse(L, "a constant B of rank %d (weights are [K, N])", B->rank);
        if (iw >= 0 && (trans_b || alpha != 1.0f))
            return refuse(L, "a quantised weight with transB or alpha");
        if (iw >= 0 && L->mode == NPU_LOWER_EMIT && !L->s->timing_only && !T(L, iw)->data)
            return refuse(L, "the weight '%s' has no data (a numeric segment needs it; build a timing-only one)",
                          T(L, iw)->name);
        if (iw < 0 && need_const(L, b, "B"))
            return -1;
    } else {
        if (trans_b || alpha != 1.0f)
            return refuse(L, "an activation B with transB or alpha (only weights are transformed)");
        if (B->rank > 2) {
            if (A->rank != B->rank)
                return refuse(L, "batch dims of A (rank %d) and B (rank %d) differ; the kernel does not broadcast them",
                              A->rank, B->rank);
            for (int i = 0; i + 2 < A->rank; i++)
                if (A->dims[i] != B->dims[i])
                    return refuse(L, "batch dim %d: A has %lld, B %lld (no batch broadcasting)", i,
                                  (long long)A->dims[i], (long long)B->dims[i]);
            batched = true;
        }
        if (need_act(L, b, "B"))
            return -1;
    }
    if (rt_tensor_numel(Y) != batch * M * N)
        return refuse(L, "output of %lld elements (expected %lld)", (long long)rt_tensor_numel(Y),
                      (long long)(batch * M * N));
    if (bias_t >= 0) {
        if (need_const(L, bias_t, "C (bias)"))
            return -1;
        if (!is_channel_vector(T(L, bias_t), N, 2, 1))
            return refuse(L, "C of shape other than [N] or [1, N] (only a bias vector is fused)");
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    epilogue_fusion f = fuse_epilogue(L, y, N, Y->rank - 1, bias_t >= 0, bconst);
    if (f.bias >= 0) {
        bias_t = f.bias;
        beta = 1.0f;
    }
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_MATMUL, bias_t >= 0 ? 3 : 2, &scratch);
    int64_t ad[3] = {batch, M, K}, od[3] = {batch, M, N};
    d->in[0] = in_ref(L, a, 3, ad);
    if (bconst) {
        d->in[1] = weight_ref(L, b, iw, K, N, trans_b, alpha, f.scale);
        d->iattr[1] = NPU_LAYOUT_BLOCKED;
        d->iattr[2] = (int32_t)block_width(L, d->in[1].dtype == NPU_DT_I4);
    } else {
        int64_t bd3[3] = {batch, K, N}, bd2[2] = {K, N};
        d->in[1] = batched ? in_ref(L, b, 3, bd3) : in_ref(L, b, 2, bd2);
        d->iattr[1] = NPU_LAYOUT_ROW_MAJOR;
    }
    if (bias_t >= 0) {
        float *h;
        d->in[2] = param_vec(L, N, &h);
        if (h) {
            float *v = const_f32(L, bias_t);
            for (int64_t i = 0; v && i < N; i++)
                h[i] = v[i] * beta;
            free(v);
        }
    }
    d->iattr[0] = f.act;
    d->out = out_ref(L, f.out, 3, od);
    return 0;
}

static int lower_matmul(npu_lower *L)
{
    int a = in_t(L, 0), b = in_t(L, 1), y = out_t(L, 0);
    if (need_act(L, a, "A") || need_data(L, b, "B") || need_data(L, y, "Y"))
        return -1;
    return lower_matmul_core(L, a, b, y, false, 1.0f, -1, 1.0f);
}

static int lower_gemm(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int a = in_t(L, 0), b = in_t(L, 1), c = in_t(L, 2), y = out_t(L, 0);
    if (need_act(L, a, "A") || need_data(L, b, "B") || need_data(L, y, "Y"))
        return -1;
    if (rt_node_attr_int(n, "transA", 0))
        return refuse(L, "transA = 1 (the array reads A row by row)");
    if (T(L, a)->rank != 2)
        return refuse(L, "A of rank %d", T(L, a)->rank);
    float alpha = rt_node_attr_float(n, "alpha", 1.0f), beta = rt_node_attr_float(n, "beta", 1.0f);
    return lower_matmul_core(L, a, b, y, rt_node_attr_int(n, "transB", 0) != 0, alpha, c, beta);
}

/* ---------------------------------------------------------------- conv */

static int lower_conv(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0), w = in_t(L, 1), bt = in_t(L, 2), y = out_t(L, 0);
    int iw = w >= 0 && !is_const(L, w) ? int_weight_src(L, w) : -1; /* an int8/int4 weight behind its cast */
    if (need_act(L, x, "X") || need_data(L, y, "Y") || (iw < 0 && need_const(L, w, "W")))
        return -1;
    if (iw >= 0 && L->mode == NPU_LOWER_EMIT && !L->s->timing_only && !T(L, iw)->data)
        return refuse(L, "the weight '%s' has no data (a numeric segment needs it; build a timing-only one)",
                      T(L, iw)->name);
    const rt_tensor *X = T(L, x), *W = T(L, w), *Y = T(L, y);
    int nsp = X->rank - 2;
    if (nsp < 1 || nsp > 3 || W->rank != X->rank || Y->rank != X->rank)
        return refuse(L, "a %d-D convolution (the kernel runs 1-D, 2-D, and 3-D whose kernel spans the depth)", nsp);
    if (rt_node_attr_int(n, "group", 1) != 1)
        return refuse(L, "group = %lld; the NPU kernel supports 1", (long long)rt_node_attr_int(n, "group", 1));
    const int64_t *v;
    size_t cnt = rt_node_attr_ints(n, "dilations", &v);
    for (size_t i = 0; i < cnt; i++)
        if (v[i] != 1)
            return refuse(L, "dilation %lld; the NPU kernel supports 1", (long long)v[i]);
    int64_t st[3] = {1, 1, 1}, pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
    cnt = rt_node_attr_ints(n, "strides", &v);
    for (int i = 0; cnt == (size_t)nsp && i < nsp; i++)
        st[i] = v[i];
    const char *ap = rt_node_attr_string(n, "auto_pad", "NOTSET");
    cnt = rt_node_attr_ints(n, "pads", &v);
    for (int i = 0; strcmp(ap, "NOTSET") == 0 && cnt == (size_t)(2 * nsp) && i < nsp; i++) {
        pb[i] = v[i];
        pe[i] = v[nsp + i];
    }
    /* a 3-D kernel spanning the whole (unpadded) depth is a 2-D convolution over channels x depth */
    int64_t depth = 1;
    if (nsp == 3) {
        if (W->dims[2] != X->dims[2] || pb[0] != 0 || pe[0] != 0 || strncmp(ap, "SAME", 4) == 0 || Y->dims[2] != 1)
            return refuse(L, "a 3-D convolution whose kernel does not span the whole depth (the kernel folds the "
                          "depth into the channels)");
        depth = X->dims[2];
    }
    /* as 2-D: [N, C, H, W] with H = 1 for 1-D */
    int64_t N = X->dims[0], C = X->dims[1] * depth, H = nsp >= 2 ? X->dims[X->rank - 2] : 1, Wd = X->dims[X->rank - 1];
    int64_t CO = W->dims[0], KH = nsp >= 2 ? W->dims[W->rank - 2] : 1, KW = W->dims[W->rank - 1];
    int64_t OH = nsp >= 2 ? Y->dims[Y->rank - 2] : 1, OW = Y->dims[Y->rank - 1];
    if (W->dims[1] != X->dims[1])
        return refuse(L, "W has %lld input channels, X %lld", (long long)W->dims[1], (long long)X->dims[1]);
    int64_t sh = nsp >= 2 ? st[nsp - 2] : 1, sw = st[nsp - 1];
    /* begin pads from the attribute or the SAME_* rule; the end pads are whatever makes the
     * output size come out, so explicit and automatic padding are handled alike */
    int64_t pt = nsp >= 2 ? pb[nsp - 2] : 0, pl = pb[nsp - 1];
    if (strncmp(ap, "SAME", 4) == 0) {
        int64_t th = (OH - 1) * sh + KH - H, tw = (OW - 1) * sw + KW - Wd;
        bool upper = strcmp(ap, "SAME_UPPER") == 0;
        pt = th > 0 ? (upper ? th / 2 : th - th / 2) : 0;
        pl = tw > 0 ? (upper ? tw / 2 : tw - tw / 2) : 0;
    }
    if (pt < 0 || pl < 0)
        return refuse(L, "negative pads");
    int64_t HP = (OH - 1) * sh + KH, WP = (OW - 1) * sw + KW; /* the input the kernel reads */
    /* the padded buffer: the input at (pt, pl), as large as the kernel reads (or the input is) */
    int64_t HB = HP > pt + H ? HP : pt + H, WB = WP > pl + Wd ? WP : pl + Wd; /* padded buffer */
    bool pad = pt > 0 || pl > 0 || HB > H || WB > Wd;
    int64_t K = C * KH * KW;
    if (KH * KW > (int64_t)MM_MAX_K)
        return refuse(L, "a %lldx%lld kernel exceeds the array's k of %u", (long long)KH, (long long)KW, MM_MAX_K);
    int64_t kmin = KH * KW; /* the firmware's smallest chunk: one input channel */
    if ((uint64_t)(HB * WB) > DMA_MAX_PITCH || (uint64_t)(OH * OW) > DMA_MAX_PITCH)
        return refuse(L, "channel planes of %lld input / %lld output bytes exceed the DMA's %u-byte row pitch",
                      (long long)(HB * WB), (long long)(OH * OW), DMA_MAX_PITCH);
    /* the firmware's smallest tiling: one channel tile of weights, one position per segment, one
     * input channel per chunk */
    uint64_t mt = L->dev->matmul.rows, need = 2 * (mt * (uint64_t)kmin) + 2 * (uint64_t)kmin;
    if (sw > 1)
        need += 2 * ((uint64_t)KH * (uint64_t)((KW + sw - 1) / sw) * (uint64_t)sw + (uint64_t)sw);
    need += 48 * mt + SRAM_SLACK_BYTES; /* int32 products, f32 epilogue, scales and bias: two slots each */
    if (need > L->dev->sram.size_bytes)
        return refuse(L, "its smallest tiling needs %llu bytes of SRAM; the device has %llu", (unsigned long long)need,
                      (unsigned long long)L->dev->sram.size_bytes);
    if (bt >= 0) {
        if (need_const(L, bt, "B"))
            return -1;
        if (rt_tensor_numel(T(L, bt)) != CO)
            return refuse(L, "B has %lld values for %lld output channels", (long long)rt_tensor_numel(T(L, bt)),
                          (long long)CO);
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    epilogue_fusion f = fuse_epilogue(L, y, CO, 1, bt >= 0, true);
    if (f.bias >= 0)
        bt = f.bias;
    int64_t xd[4] = {N, C, H, Wd}, pd[4] = {N, C, HB, WB}, wd[4] = {CO, C, KH, KW}, od[4] = {N, CO, OH, OW};
    npu_tensor_ref xin = in_ref(L, x, 4, xd);
    if (pad) { /* copy into a zero-bordered buffer; the kernel reads pads of 0 */
        npu_cref pb = blob(L, NPU_BLOB_PARAM, (uint64_t)(N * C * HB * WB));
        npu_op_desc scratch;
        npu_op_desc *cp = new_op(L, NPU_OP_COPY, 1, &scratch);
        cp->in[0] = xin;
        cp->out = make_ref(pb.buf, NPU_DT_I8, pb.offset, xin.scale, 4, pd);
        for (int i = 0; i < 4; i++)
            cp->lattr[i] = xd[i];
        cp->iattr[NPU_MAX_RANK + 2] = (int32_t)pt;
        cp->iattr[NPU_MAX_RANK + 3] = (int32_t)pl;
        xin = cp->out; /* bytes of the blob stay zero: uploaded zeroed, borders never written */
        if (pb.host)
            memset(pb.host, 0, (size_t)(N * C * HB * WB));
    }
    npu_cref sc = blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)CO);
    npu_cref wb = blob(L, NPU_BLOB_WEIGHT, (uint64_t)(CO * K));
    if (wb.host && sc.host) {
        float *scales = (float *)sc.host;
        if (iw >= 0) {
            npu_pack_ohwi_int(T(L, iw), (uint64_t)CO, (uint64_t)C, (uint64_t)KH, (uint64_t)KW, wb.host);
            for (int64_t i = 0; i < CO; i++)
                scales[i] = 1.0f;
        } else {
            float *wv = const_f32(L, w);
            if (wv)
                npu_pack_ohwi(wv, (uint64_t)CO, (uint64_t)C, (uint64_t)KH, (uint64_t)KW, wb.host, scales);
            free(wv);
        }
        apply_channel_scale(L, f.scale, scales, CO);
    }
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_CONV2D, bt >= 0 ? 3 : 2, &scratch);
    d->in[0] = xin;
    d->in[1] = make_ref(wb.buf, NPU_DT_I8, wb.offset, 0.0f, 4, wd);
    d->in[1].scales_axis = 0;
    d->in[1].scales_buf = sc.buf;
    d->in[1].scales_offset = sc.offset;
    if (bt >= 0) {
        float *h;
        d->in[2] = param_vec(L, CO, &h);
        if (h) {
            float *bv = const_f32(L, bt);
            if (bv)
                memcpy(h, bv, (size_t)CO * sizeof *h);
            free(bv);
        }
    }
    d->iattr[0] = (int32_t)sh;
    d->iattr[1] = (int32_t)sw;
    d->iattr[6] = f.act;
    d->iattr[7] = NPU_LAYOUT_OHWI;
    d->out = out_ref(L, f.out, 4, od);
    return 0;
}

/* ---------------------------------------------------------------- softmax */

static int lower_softmax(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0), y = out_t(L, 0);
    if (need_act(L, x, "input") || need_data(L, y, "output"))
        return -1;
    const rt_tensor *X = T(L, x);
    int64_t axis = rt_node_attr_int(n, "axis", graph_opset(L->g, n->domain) < 13 ? 1 : -1);
    if (axis < 0)
        axis += X->rank;
    if (axis != X->rank - 1)
        return refuse(L, "axis %lld of a rank-%d tensor; the softmax tile works on the last axis", (long long)axis,
                      X->rank);
    int64_t len = X->dims[X->rank - 1], rows = rt_tensor_numel(X) / len;
    if (len > (int64_t)L->dev->softmax.max_len)
        return refuse(L, "rows of %lld elements exceed the softmax tile's %u", (long long)len, L->dev->softmax.max_len);
    if (!sram_fits(L, STREAM_SLOTS, (uint64_t)len, 0))
        return refuse(L, "a row of %lld elements does not fit in the SRAM", (long long)len);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    force_scale(L, y, SM_OUT_SCALE);
    clamp_scale(L, x, (float)SM_SCALE_MIN, (float)SM_SCALE_MAX);
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_SOFTMAX, 1, &scratch);
    int64_t dd[2] = {rows, len};
    d->in[0] = in_ref(L, x, 2, dd);
    d->out = out_ref(L, y, 2, dd);
    return 0;
}

/* ---------------------------------------------------------------- elementwise */

enum bclass { BC_FULL = 0, BC_ROW, BC_COL, BC_SCALAR, BC_NONE };

/* How b broadcasts over out (shapes right-aligned): b's extent covers out's axes [i0, i1] exactly
 * and is 1 elsewhere, so out is [outer, mid, inner] and b repeats over outer and inner. The
 * kernel sees FULL (outer = inner = 1), a ROW of `mid` values over rows of `mid` (inner = 1), a
 * COLUMN of `mid` values over rows of `inner` (outer = 1, or one descriptor per outer index),
 * or a SCALAR. */
typedef struct bcast {
    int cls;
    int64_t outer, mid, inner;
} bcast;

static bcast classify(const rt_tensor *b, const rt_tensor *out)
{
    bcast r = {BC_NONE, 1, 1, 1};
    int off = out->rank - b->rank, i0 = -1, i1 = -1;
    if (off < 0) { /* extra leading dims of b must be 1 */
        for (int i = 0; i < -off; i++)
            if (b->dims[i] != 1)
                return r;
    }
    int state = 0; /* over out's axes of extent > 1: 0 before b's range, 1 inside, 2 after */
    for (int i = 0; i < out->rank; i++) {
        int bi = i - off;
        int64_t bd = bi >= 0 && bi < b->rank ? b->dims[bi] : 1;
        if (out->dims[i] == 1)
            continue; /* extent-1 axes move no data either way */
        if (bd == 1) {
            state = state == 1 ? 2 : state;
            continue;
        }
        if (bd != out->dims[i] || state == 2)
            return r; /* a partial broadcast inside b, or b's extent is not one range of axes */
        if (state == 0)
            i0 = i;
        state = 1;
        i1 = i;
    }
    if (i0 < 0) { /* b is one value: the whole output when that is one value too */
        r.cls = rt_tensor_numel(out) == 1 ? BC_FULL : BC_SCALAR;
        r.outer = rt_tensor_numel(out);
        return r;
    }
    for (int i = 0; i < out->rank; i++) {
        int64_t d = out->dims[i];
        if (i < i0)
            r.outer *= d;
        else if (i <= i1)
            r.mid *= d;
        else
            r.inner *= d;
    }
    r.cls = r.outer == 1 && r.inner == 1 ? BC_FULL : r.inner == 1 ? BC_ROW : BC_COL;
    return r;
}

static void flat_dims(const rt_tensor *t, int64_t *d)
{
    int64_t cols = t->dims[t->rank - 1];
    d[0] = rt_tensor_numel(t) / cols;
    d[1] = cols;
}

static int unary_desc(npu_lower *L, int x, int y, int64_t fn, float imm)
{
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_UNARY, 1, &scratch);
    int64_t dd[2];
    flat_dims(T(L, y), dd);
    d->in[0] = in_ref(L, x, 2, dd);
    d->out = out_ref(L, y, 2, dd);
    d->iattr[0] = (int32_t)fn;
    d->fattr[0] = imm;
    return 0;
}

/* A constant's single value. */
static int scalar_value(npu_lower *L, int t, float *v)
{
    const rt_tensor *c = T(L, csrc(L, t));
    if (!c->data)
        return refuse(L, "the scalar constant '%s' has no data", c->name);
    *v = (float)rt_tensor_get_f64(c, 0);
    return 0;
}

static int lower_binary(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int a = in_t(L, 0), b = in_t(L, 1), y = out_t(L, 0);
    if (n->n_inputs != 2)
        return refuse(L, "%d inputs (the kernel takes 2)", n->n_inputs);
    if (need_data(L, a, "A") || need_data(L, b, "B") || need_data(L, y, "C"))
        return -1;
    if (is_const(L, a) && is_const(L, b))
        return refuse(L, "both inputs are constants");
    int64_t fn;
    bool commutative = false;
    switch (n->op) {
    case RT_OP_Add: fn = ISA_BINOP_ADD; commutative = true; break;
    case RT_OP_Sub: fn = ISA_BINOP_SUB; break;
    case RT_OP_Mul: fn = ISA_BINOP_MUL; commutative = true; break;
    case RT_OP_Div: fn = ISA_BINOP_DIV; break;
    case RT_OP_Max: fn = ISA_BINOP_MAX; commutative = true; break;
    case RT_OP_Min: fn = ISA_BINOP_MIN; commutative = true; break;
    default: fn = ISA_BINOP_POW; break;
    }
    const rt_tensor *Y = T(L, y);
    bool reversed = false;
    /* in0 of the descriptor has the output's shape and is an activation when possible */
    bcast ca = classify(T(L, a), Y), cb = classify(T(L, b), Y);
    if (ca.cls != BC_FULL || (is_const(L, a) && cb.cls == BC_FULL)) {
        int t = a;
        a = b;
        b = t;
        reversed = !commutative;
        bcast tc = ca;
        ca = cb;
        cb = tc;
    }
    if (ca.cls != BC_FULL)
        return refuse(L, "neither input has the output's shape (both broadcast)");
    if (cb.cls == BC_NONE)
        return refuse(L, "'%s' broadcasts inside its own extent (the kernel repeats an operand only as a whole)",
                      T(L, b)->name);
    int64_t vcols = cb.cls == BC_ROW ? cb.mid : cb.inner;
    if ((cb.cls == BC_ROW || cb.cls == BC_COL) && vcols > (int64_t)VEC_MAX_COLS)
        return refuse(L, "rows of %lld elements exceed the vector unit's %u", (long long)vcols, VEC_MAX_COLS);
    int64_t slices = cb.cls == BC_COL ? cb.outer : 1; /* a column over several outer blocks: one op each */
    if (slices > NPU_MAX_COL_SLICES)
        return refuse(L, "'%s' repeats over %lld outer blocks and within rows (at most %d are lowered)",
                      T(L, b)->name, (long long)slices, NPU_MAX_COL_SLICES);
    if (slices > 1 && is_const(L, a))
        return refuse(L, "a constant first operand with a column operand over several blocks");
    /* a row stays resident beside three slots of rows; a column travels with its rows */
    if ((cb.cls == BC_ROW && !sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cb.mid, 4 * (uint64_t)cb.mid)) ||
        (cb.cls == BC_COL && !sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cb.inner + 4, 0)))
        return refuse(L, "rows of %lld elements do not fit in the SRAM", (long long)vcols);
    if (reversed && fn == ISA_BINOP_POW)
        return refuse(L, "the exponent has the output's shape and the base broadcasts");
    if (fn == ISA_BINOP_POW && !is_const(L, b) && need_act(L, b, "exponent"))
        return -1;
    /* a constant scalar second operand: one unary op with an immediate */
    if (is_const(L, b) && numel(L, b) == 1 && !reversed && !is_const(L, a)) {
        float v = 0.0f;
        if ((L->s && !L->s->timing_only) || T(L, csrc(L, b))->data) {
            if (scalar_value(L, b, &v))
                return -1;
        } else if (fn == ISA_BINOP_POW) {
            return refuse(L, "a Pow exponent without data (it decides the kernel)");
        }
        switch (fn) {
        case ISA_BINOP_ADD: return unary_desc(L, a, y, ISA_UNOP_ADDI, v);
        case ISA_BINOP_SUB: return unary_desc(L, a, y, ISA_UNOP_ADDI, -v);
        case ISA_BINOP_MUL: return unary_desc(L, a, y, ISA_UNOP_MULI, v);
        case ISA_BINOP_MAX: return unary_desc(L, a, y, ISA_UNOP_MAXI, v);
        case ISA_BINOP_MIN: return unary_desc(L, a, y, ISA_UNOP_MINI, v);
        case ISA_BINOP_POW:
            if (v == 2.0f)
                return unary_desc(L, a, y, ISA_UNOP_SQUARE, 0.0f);
            if (v == 0.5f)
                return unary_desc(L, a, y, ISA_UNOP_SQRT, 0.0f);
            if (v == -0.5f)
                return unary_desc(L, a, y, ISA_UNOP_RSQRT, 0.0f);
            if (v == -1.0f)
                return unary_desc(L, a, y, ISA_UNOP_RECIP, 0.0f);
            break; /* any other exponent: pow with the scalar in memory */
        default: break; /* Div by a constant: an exact division, the scalar in memory */
        }
    }
    if (is_const(L, a) && need_const(L, a, "A"))
        return -1;
    if (is_const(L, b) && need_const(L, b, "B"))
        return -1;
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    /* the views the kernel sees: in0 rows x cols; in1 per class */
    int64_t dd[2], bd[2];
    int brank = 2;
    switch (cb.cls) {
    case BC_FULL: flat_dims(Y, dd); bd[0] = dd[0]; bd[1] = dd[1]; break;
    case BC_ROW: dd[0] = cb.outer; dd[1] = cb.mid; bd[0] = cb.mid; brank = 1; break;
    case BC_COL: dd[0] = cb.mid; dd[1] = cb.inner; bd[0] = cb.mid; bd[1] = 1; break;
    default: flat_dims(Y, dd); bd[0] = 1; brank = 1; break;
    }
    npu_tensor_ref bref = is_const(L, b) ? const_ref(L, b, brank, bd) : in_ref(L, b, brank, bd);
    for (int64_t k = 0; k < slices; k++) {
        npu_op_desc scratch;
        npu_op_desc *d = new_op(L, NPU_OP_BINARY, 2, &scratch);
        uint64_t at = (uint64_t)(k * dd[0] * dd[1]);
        if (is_const(L, a)) {
            d->in[0] = const_ref(L, a, 2, dd);
        } else {
            read_act(L, a);
            d->in[0] = act_ref_at(L, a, at, 2, dd);
        }
        d->in[1] = bref;
        write_act(L, y);
        d->out = act_ref_at(L, y, at, 2, dd);
        d->iattr[0] = (int32_t)fn;
        d->iattr[1] = reversed;
    }
    return 0;
}

static int lower_unary(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0), y = out_t(L, 0);
    if (need_act(L, x, "input") || need_data(L, y, "output"))
        return -1;
    switch (n->op) {
    case RT_OP_Relu: return unary_desc(L, x, y, ISA_UNOP_RELU, 0.0f);
    case RT_OP_Sigmoid: return unary_desc(L, x, y, ISA_UNOP_SIGMOID, 0.0f);
    case RT_OP_Tanh: return unary_desc(L, x, y, ISA_UNOP_TANH, 0.0f);
    case RT_OP_Erf: return unary_desc(L, x, y, ISA_UNOP_ERF, 0.0f);
    case RT_OP_Sqrt: return unary_desc(L, x, y, ISA_UNOP_SQRT, 0.0f);
    case RT_OP_Reciprocal: return unary_desc(L, x, y, ISA_UNOP_RECIP, 0.0f);
    case RT_OP_Neg: return unary_desc(L, x, y, ISA_UNOP_NEG, 0.0f);
    case RT_OP_Exp: return unary_desc(L, x, y, ISA_UNOP_EXP, 0.0f);
    case RT_OP_Log: return unary_desc(L, x, y, ISA_UNOP_LOG, 0.0f);
    case RT_OP_Abs: return unary_desc(L, x, y, ISA_UNOP_ABS, 0.0f);
    case RT_OP_Sin: return unary_desc(L, x, y, ISA_UNOP_SIN, 0.0f);
    case RT_OP_Cos: return unary_desc(L, x, y, ISA_UNOP_COS, 0.0f);
    case RT_OP_LeakyRelu: return unary_desc(L, x, y, ISA_UNOP_LEAKY, rt_node_attr_float(n, "alpha", 0.01f));
    case RT_OP_Gelu:
        if (strcmp(rt_node_attr_string(n, "approximate", "none"), "none") != 0)
            return refuse(L, "approximate = \"%s\"; the vector unit's gelu is the erf form",
                          rt_node_attr_string(n, "approximate", "none"));
        return unary_desc(L, x, y, ISA_UNOP_GELU, 0.0f);
    default: break;
    }
    /* Clip: max with the lower bound, then min with the upper, the second in place */
    float lo = -INFINITY, hi = INFINITY;
    if (graph_opset(L->g, n->domain) < 11) {
        lo = rt_node_attr_float(n, "min", -INFINITY);
        hi = rt_node_attr_float(n, "max", INFINITY);
    } else {
        for (int k = 1; k <= 2; k++) {
            int t = in_t(L, k);
            if (t < 0)
                continue;
            if (!is_const(L, t) || numel(L, t) != 1 || !T(L, csrc(L, t))->data)
                return refuse(L, "a bound that is not a constant scalar");
            float v = (float)rt_tensor_get_f64(T(L, csrc(L, t)), 0);
            if (k == 1)
                lo = v;
            else
                hi = v;
        }
    }
    bool has_lo = lo > -INFINITY, has_hi = hi < INFINITY;
    if (!has_lo && !has_hi)
        return unary_desc(L, x, y, ISA_UNOP_MULI, 1.0f);
    if (has_lo && unary_desc(L, x, y, ISA_UNOP_MAXI, lo))
        return -1;
    return has_hi ? unary_desc(L, has_lo ? y : x, y, ISA_UNOP_MINI, hi) : 0;
}

/* ---------------------------------------------------------------- norms and reductions */

static int eps_ok(npu_lower *L, float eps)
{
    double p = 1.0;
    for (int x = 0; x <= 31; x++, p /= 10.0)
        if (fabs((double)eps - p) <= p * 1e-4)
            return 0;
    return refuse(L, "epsilon %g is not a power of ten (the vector unit's form is 10^-e)", (double)eps);
}

static bool output_unused(const npu_lower *L, int t)
{
    if (t < 0)
        return true;
    for (int k = 0; k < L->g->n_outputs; k++)
        if (L->g->outputs[k] == t)
            return false;
    for (int i = 0; i < L->g->n_nodes; i++)
        for (int k = 0; k < L->g->nodes[i].n_inputs; k++)
            if (L->g->nodes[i].inputs[k] == t)
                return false;
    return true;
}

static int lower_layernorm(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0), sc = in_t(L, 1), bt = in_t(L, 2), y = out_t(L, 0);
    if (need_act(L, x, "X") || need_data(L, y, "Y") || need_const(L, sc, "Scale"))
        return -1;
    const rt_tensor *X = T(L, x);
    int64_t axis = rt_node_attr_int(n, "axis", -1);
    if (axis < 0)
        axis += X->rank;
    if (axis != X->rank - 1)
        return refuse(L, "axis %lld; the kernel normalises the last axis", (long long)axis);
    if (!output_unused(L, out_t(L, 1)) || !output_unused(L, out_t(L, 2)))
        return refuse(L, "the Mean or InvStdDev output is used");
    float eps = rt_node_attr_float(n, "epsilon", 1e-5f);
    int64_t D = X->dims[X->rank - 1];
    if (eps_ok(L, eps))
        return -1;
    if (numel(L, sc) != D || (bt >= 0 && (need_const(L, bt, "B") || numel(L, bt) != D)))
        return refuse(L, "Scale and B must have %lld values (the normalised axis)", (long long)D);
    if (D > (int64_t)VEC_MAX_COLS || !sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)D, 8 * (uint64_t)D))
        return refuse(L, "rows of %lld elements exceed the vector unit or the SRAM", (long long)D);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_NORM, bt >= 0 ? 3 : 2, &scratch);
    int64_t dd[2];
    flat_dims(X, dd);
    d->in[0] = in_ref(L, x, 2, dd);
    int64_t pd[1] = {D};
    d->in[1] = const_ref(L, sc, 1, pd);
    if (bt >= 0)
        d->in[2] = const_ref(L, bt, 1, pd);
    d->out = out_ref(L, y, 2, dd);
    d->iattr[0] = NPU_NORM_LAYER;
    d->fattr[0] = eps;
    return 0;
}

static int lower_groupnorm(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0), sc = in_t(L, 1), bt = in_t(L, 2), y = out_t(L, 0);
    if (need_act(L, x, "X") || need_data(L, y, "Y") || need_const(L, sc, "scale") || need_const(L, bt, "bias"))
        return -1;
    const rt_tensor *X = T(L, x);
    if (X->rank < 3 || X->rank > NPU_MAX_RANK + 1)
        return refuse(L, "input of rank %d (expected [N, C, ...])", X->rank);
    int64_t N = X->dims[0], C = X->dims[1], spatial = rt_tensor_numel(X) / (N * C);
    int64_t G = n->op == RT_OP_InstanceNormalization ? C : rt_node_attr_int(n, "num_groups", 0);
    if (G < 1 || C % G)
        return refuse(L, "num_groups %lld does not divide %lld channels", (long long)G, (long long)C);
    int64_t ns = numel(L, sc);
    if ((ns != C && ns != G) || numel(L, bt) != ns)
        return refuse(L, "scale and bias must have one value per channel or per group");
    float eps = rt_node_attr_float(n, "epsilon", 1e-5f);
    if (eps_ok(L, eps))
        return -1;
    int64_t cols = C / G * spatial;
    if (cols > (int64_t)VEC_MAX_COLS || spatial > (int64_t)VEC_MAX_COLS ||
        !sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cols, 8 * (uint64_t)C))
        return refuse(L, "groups of %lld elements exceed the vector unit or the SRAM", (long long)cols);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_NORM, 3, &scratch);
    int64_t dd[3] = {N, C, spatial};
    d->in[0] = in_ref(L, x, 3, dd);
    float *g, *b;
    d->in[1] = param_vec(L, C, &g);
    d->in[2] = param_vec(L, C, &b);
    if (g && b) { /* per group (opset 18) becomes per channel */
        float *gv = const_f32(L, sc), *bv = const_f32(L, bt);
        for (int64_t c = 0; gv && bv && c < C; c++) {
            g[c] = gv[ns == C ? c : c / (C / G)];
            b[c] = bv[ns == C ? c : c / (C / G)];
        }
        free(gv);
        free(bv);
    }
    d->out = out_ref(L, y, 3, dd);
    d->iattr[0] = NPU_NORM_GROUP;
    d->iattr[1] = (int32_t)G;
    d->fattr[0] = eps;
    return 0;
}

static int lower_reduce(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0), y = out_t(L, 0);
    if (need_act(L, x, "data") || need_data(L, y, "reduced"))
        return -1;
    const rt_tensor *X = T(L, x);
    int64_t fn = n->op == RT_OP_ReduceMean  ? ISA_REDOP_MEAN
                 : n->op == RT_OP_ReduceSum ? ISA_REDOP_SUM
                 : n->op == RT_OP_ReduceMax ? ISA_REDOP_MAX
                                            : ISA_REDOP_MIN;
    rt_op_binding bind;
    rt_error e;
    if (ops_bind(L->g, L->node, NULL, &bind, &e) != RT_OK)
        return refuse(L, "%s", e.msg);
    int64_t axes[RT_MAX_RANK + 1];
    int na = 0;
    bool present = false;
    rt_status st = ops_axes(&bind.ctx, 1, n->op == RT_OP_ReduceSum ? 13 : 18, axes, &na, &present);
    ops_unbind(&bind);
    if (st != RT_OK)
        return refuse(L, "axes: %s", e.msg);
    bool last_only = present ? na == 1 && (axes[0] == -1 || axes[0] == X->rank - 1) : X->rank == 1;
    if (!last_only)
        return refuse(L, "reduces other axes than the last");
    int64_t cols = X->dims[X->rank - 1];
    if (cols > (int64_t)VEC_MAX_COLS || !sram_fits(L, STREAM_SLOTS, 4 * (uint64_t)cols + 4, 0))
        return refuse(L, "rows of %lld elements exceed the vector unit or the SRAM", (long long)cols);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_REDUCE, 1, &scratch);
    int64_t dd[2], od[2];
    flat_dims(X, dd);
    od[0] = dd[0];
    od[1] = 1;
    d->in[0] = in_ref(L, x, 2, dd);
    d->out = out_ref(L, y, 2, od);
    d->iattr[0] = (int32_t)fn;
    return 0;
}

/* ---------------------------------------------------------------- data movement */

static int lower_view(npu_lower *L)
{
    int x = in_t(L, 0), y = out_t(L, 0);
    if (node_of(L)->op == RT_OP_Cast && y >= 0 && int_weight_src(L, y) >= 0)
        return refuse(L, "a quantised weight's cast is folded into the MatMul or Conv that reads it");
    /* a float -> float Cast changes nothing on the device: int8 either way (need_* check both) */
    if (need_act(L, x, "input") || need_data(L, y, "output"))
        return -1;
    if (node_of(L)->op == RT_OP_Dropout && !output_unused(L, out_t(L, 1)))
        return refuse(L, "the mask output is used");
    if (numel(L, x) != numel(L, y))
        return refuse(L, "%lld elements in, %lld out", (long long)numel(L, x), (long long)numel(L, y));
    alias(L, y, x);
    return 0;
}

static int lower_transpose(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0), y = out_t(L, 0);
    if (need_act(L, x, "data") || need_data(L, y, "transposed"))
        return -1;
    const rt_tensor *X = T(L, x);
    int r = X->rank;
    int64_t perm[RT_MAX_RANK];
    const int64_t *v;
    size_t cnt = rt_node_attr_ints(n, "perm", &v);
    for (int i = 0; i < r; i++)
        perm[i] = cnt == (size_t)r ? v[i] : r - 1 - i;
    /* drop size-1 dims, then merge input dims that stay neighbours: at most 4 must remain */
    int keep[RT_MAX_RANK], nk = 0, map[RT_MAX_RANK];
    for (int i = 0; i < r; i++)
        map[i] = -1;
    for (int i = 0; i < r; i++)
        if (X->dims[i] != 1)
            map[i] = nk, keep[nk++] = i;
    int64_t p[RT_MAX_RANK];
    int np = 0;
    for (int i = 0; i < r; i++)
        if (map[perm[i]] >= 0)
            p[np++] = map[perm[i]];
    /* group runs p[i+1] == p[i] + 1 */
    int64_t gd[RT_MAX_RANK] = {0};
    int ng = 0, gof[RT_MAX_RANK] = {0}; /* group of each kept input dim, numbered in output order */
    for (int i = 0; i < np; i++)
        gof[p[i]] = i > 0 && p[i] == p[i - 1] + 1 ? gof[p[i - 1]] : ng++;
    if (ng > NPU_MAX_RANK)
        return refuse(L, "a permutation of %d independent axes (the kernel moves at most %d)", ng, NPU_MAX_RANK);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    /* input dims in input order (groups sorted by their first kept dim) */
    int order[RT_MAX_RANK], no = 0;
    for (int k = 0; k < nk; k++)
        if (k == 0 || gof[k] != gof[k - 1])
            order[no++] = gof[k];
    for (int gi = 0; gi < ng; gi++)
        gd[gi] = 1;
    for (int k = 0; k < nk; k++)
        gd[gof[k]] *= X->dims[keep[k]];
    int64_t id[NPU_MAX_RANK], od[NPU_MAX_RANK], dperm[NPU_MAX_RANK];
    int pos_in[RT_MAX_RANK];
    for (int i = 0; i < no; i++) {
        id[i] = gd[order[i]];
        pos_in[order[i]] = i;
    }
    /* output order: groups in the order p visits them */
    int k = 0;
    for (int i = 0; i < np; i++)
        if (i == 0 || p[i] != p[i - 1] + 1) {
            int gi = gof[p[i]];
            dperm[k] = pos_in[gi];
            od[k] = gd[gi];
            k++;
        }
    npu_op_desc scratch;
    if (ng <= 1) { /* only a reshape: copy the bytes */
        int64_t one[1] = {numel(L, x)};
        npu_op_desc *d = new_op(L, NPU_OP_COPY, 1, &scratch);
        d->in[0] = in_ref(L, x, 1, one);
        share_scale(L, x, y);
        d->out = out_ref(L, y, 1, one);
        d->lattr[0] = one[0];
        return 0;
    }
    npu_op_desc *d = new_op(L, NPU_OP_TRANSPOSE, 1, &scratch);
    d->in[0] = in_ref(L, x, no, id);
    share_scale(L, x, y);
    d->out = out_ref(L, y, k, od);
    for (int i = 0; i < k; i++)
        d->iattr[i] = (int32_t)dperm[i];
    return 0;
}

/* A box copy of src viewed as [outer, a, inner] into dst viewed as [outer, b, inner] at index off. */
static void copy_slab(npu_lower *L, int src, bool src_const, int dst, int64_t outer, int64_t a, int64_t inner,
                      int64_t b, int64_t src_off, int64_t dst_off, int64_t len)
{
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_COPY, 1, &scratch);
    int64_t sd[3] = {outer, a, inner}, dd[3] = {outer, b, inner};
    d->in[0] = src_const ? const_ref(L, src, 3, sd) : in_ref(L, src, 3, sd);
    d->out = out_ref(L, dst, 3, dd);
    d->lattr[0] = outer;
    d->lattr[1] = len;
    d->lattr[2] = inner;
    d->iattr[1] = (int32_t)src_off;
    d->iattr[NPU_MAX_RANK + 1] = (int32_t)dst_off;
}

static void outer_inner(const rt_tensor *t, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < t->rank; i++) {
        if (i < axis)
            *outer *= t->dims[i];
        else if (i > axis)
            *inner *= t->dims[i];
    }
}

static int lower_concat(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int y = out_t(L, 0);
    if (need_data(L, y, "concat_result"))
        return -1;
    const rt_tensor *Y = T(L, y);
    int64_t axis = rt_node_attr_int(n, "axis", 0);
    if (axis < 0)
        axis += Y->rank;
    if (axis < 0 || axis >= Y->rank)
        return refuse(L, "axis out of range");
    for (int k = 0; k < n->n_inputs; k++) {
        int t = in_t(L, k);
        if (need_data(L, t, "input"))
            return -1;
        if (is_const(L, t) && need_const(L, t, "input"))
            return -1;
    }
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    int64_t outer, inner, off = 0;
    outer_inner(Y, (int)axis, &outer, &inner);
    for (int k = 0; k < n->n_inputs; k++) {
        int t = in_t(L, k);
        int64_t a = T(L, t)->dims[axis];
        copy_slab(L, t, is_const(L, t), y, outer, a, inner, Y->dims[axis], 0, off, a);
        off += a;
    }
    return 0;
}

static int lower_split(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0);
    if (need_act(L, x, "input"))
        return -1;
    rt_op_binding bind;
    rt_error e;
    if (ops_bind(L->g, L->node, NULL, &bind, &e) != RT_OK)
        return refuse(L, "%s", e.msg);
    int axis = 0;
    int64_t sizes[64];
    rt_status st = n->n_outputs <= 64 ? ops_split_sizes(&bind.ctx, &axis, sizes) : RT_ERR_LIMIT;
    ops_unbind(&bind);
    if (st != RT_OK)
        return refuse(L, "split sizes: %s", n->n_outputs <= 64 ? e.msg : "more than 64 outputs");
    for (int k = 0; k < n->n_outputs; k++)
        if (out_t(L, k) >= 0 && need_data(L, out_t(L, k), "output"))
            return -1;
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    const rt_tensor *X = T(L, x);
    int64_t outer, inner, off = 0;
    outer_inner(X, axis, &outer, &inner);
    for (int k = 0; k < n->n_outputs; k++) {
        int t = out_t(L, k);
        if (t >= 0 && sizes[k] > 0) {
            share_scale(L, x, t);
            copy_slab(L, x, false, t, outer, X->dims[axis], inner, sizes[k], off, 0, sizes[k]);
        }
        off += sizes[k];
    }
    return 0;
}

/* Gather with one constant index (how `qkv[0]` exports): a box copy of that slice. A lookup of
 * computed indices (an embedding) stays on the CPU. */
static int lower_gather(npu_lower *L)
{
    const rt_node *n = node_of(L);
    int x = in_t(L, 0), idx = in_t(L, 1), y = out_t(L, 0);
    if (need_act(L, x, "data") || need_data(L, y, "output"))
        return -1;
    const rt_tensor *I = idx >= 0 ? T(L, idx) : NULL, *X = T(L, x);
    if (!I || I->kind != RT_TENSOR_CONSTANT || !rt_dtype_is_int(I->dtype) || !I->data || rt_tensor_numel(I) != 1)
        return refuse(L, "indices that are not one constant (a lookup of computed indices stays on the CPU)");
    int64_t axis = rt_node_attr_int(n, "axis", 0);
    if (axis < 0)
        axis += X->rank;
    if (axis < 0 || axis >= X->rank)
        return refuse(L, "axis out of range");
    int64_t i = rt_tensor_get_i64(I, 0), d = X->dims[axis];
    if (i < 0)
        i += d;
    if (i < 0 || i >= d || i > INT32_MAX)
        return refuse(L, "index %lld outside a dimension of %lld", (long long)rt_tensor_get_i64(I, 0), (long long)d);
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    int64_t outer, inner;
    outer_inner(X, (int)axis, &outer, &inner);
    share_scale(L, x, y);
    copy_slab(L, x, false, y, outer, d, inner, 1, i, 0, 1);
    return 0;
}

static int lower_slice(npu_lower *L)
{
    int x = in_t(L, 0), y = out_t(L, 0);
    if (need_act(L, x, "data") || need_data(L, y, "output"))
        return -1;
    rt_op_binding bind;
    rt_error e;
    if (ops_bind(L->g, L->node, NULL, &bind, &e) != RT_OK)
        return refuse(L, "%s", e.msg);
    ops_slice s;
    rt_status st = ops_slice_params(&bind.ctx, &s);
    ops_unbind(&bind);
    if (st != RT_OK)
        return refuse(L, "%s", e.msg);
    const rt_tensor *X = T(L, x);
    for (int i = 0; i < X->rank; i++)
        if (s.step[i] != 1 && s.out[i] > 1)
            return refuse(L, "step %lld on axis %d (the box copy takes step 1)", (long long)s.step[i], i);
    /* merge neighbouring axes the slice takes whole into the axis before them */
    int64_t in[RT_MAX_RANK], box[RT_MAX_RANK], st0[RT_MAX_RANK];
    int r = 0;
    for (int i = 0; i < X->rank; i++) {
        bool whole = s.start[i] == 0 && s.out[i] == X->dims[i];
        if (r > 0 && whole) { /* an axis taken whole folds into the one before: still one range */
            in[r - 1] *= X->dims[i];
            box[r - 1] *= X->dims[i];
            st0[r - 1] *= X->dims[i];
            continue;
        }
        in[r] = X->dims[i];
        box[r] = s.out[i];
        st0[r] = s.start[i];
        r++;
    }
    if (r > NPU_MAX_RANK || (r == NPU_MAX_RANK && box[r - 1] == 1))
        return refuse(L, "slices %d axes of a rank-%d tensor (the box copy moves at most %d, or 3 when the "
                      "innermost is taken one element wide)", r, X->rank, NPU_MAX_RANK);
    for (int i = 0; i < r; i++)
        if (st0[i] > INT32_MAX)
            return refuse(L, "a start offset beyond 2^31");
    if (L->mode == NPU_LOWER_CHECK)
        return 0;
    npu_op_desc scratch;
    npu_op_desc *d = new_op(L, NPU_OP_COPY, 1, &scratch);
    d->in[0] = in_ref(L, x, r, in);
    share_scale(L, x, y);
    d->out = out_ref(L, y, r, box);
    for (int i = 0; i < r; i++) {
        d->lattr[i] = box[i];
        d->iattr[i] = (int32_t)st0[i];
    }
    return 0;
}

/* ---------------------------------------------------------------- dispatch */

int npu_lower_node(npu_lower *L)
{
    const rt_node *n = node_of(L);
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return refuse(L, "domain '%s' has no NPU kernel", n->domain);
    for (int k = 0; k < n->n_outputs; k++) /* every output a float tensor (int8 on the device) */
        if (n->outputs[k] >= 0 && !float_act(T(L, n->outputs[k])->dtype) && !(k > 0 && output_unused(L, n->outputs[k])))
            return refuse(L, "output '%s' is %s", T(L, n->outputs[k])->name, rt_dtype_name(T(L, n->outputs[k])->dtype));
    switch (n->op) {
    case RT_OP_MatMul: return lower_matmul(L);
    case RT_OP_Gemm: return lower_gemm(L);
    case RT_OP_Conv: return lower_conv(L);
    case RT_OP_Softmax: return lower_softmax(L);
    case RT_OP_Add: case RT_OP_Sub: case RT_OP_Mul: case RT_OP_Div: case RT_OP_Pow:
    case RT_OP_Max: case RT_OP_Min:
        return lower_binary(L);
    case RT_OP_Relu: case RT_OP_Sigmoid: case RT_OP_Tanh: case RT_OP_Erf: case RT_OP_Gelu: case RT_OP_Sqrt:
    case RT_OP_Reciprocal: case RT_OP_Neg: case RT_OP_Exp: case RT_OP_Log: case RT_OP_Abs: case RT_OP_Sin:
    case RT_OP_Cos: case RT_OP_LeakyRelu: case RT_OP_Clip:
        return lower_unary(L);
    case RT_OP_LayerNormalization: return lower_layernorm(L);
    case RT_OP_GroupNormalization: case RT_OP_InstanceNormalization: return lower_groupnorm(L);
    case RT_OP_ReduceMean: case RT_OP_ReduceSum: case RT_OP_ReduceMax: case RT_OP_ReduceMin:
        return lower_reduce(L);
    case RT_OP_Transpose: return lower_transpose(L);
    case RT_OP_Reshape: case RT_OP_Flatten: case RT_OP_Squeeze: case RT_OP_Unsqueeze: case RT_OP_Identity:
    case RT_OP_Dropout: case RT_OP_Cast:
        return lower_view(L);
    case RT_OP_Concat: return lower_concat(L);
    case RT_OP_Slice: return lower_slice(L);
    case RT_OP_Gather: return lower_gather(L);
    case RT_OP_Split: return lower_split(L);
    default: return refuse(L, "no NPU kernel for this op");
    }
}
