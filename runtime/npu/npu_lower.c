/* npu_lower.c -- lowering graph nodes (ONNX semantics) to the firmware's op descriptors: what
 * every family shares (npu_lower.h) and the dispatch by op.
 *
 * One function per op family (npu_lower_mm.c, npu_lower_vec.c, npu_lower_move.c) does three
 * jobs, chosen by the mode, so that what supports() says, what a segment plans and what it emits
 * can never disagree:
 *   CHECK  the node's ops, types, shapes and attributes against the kernels' abilities;
 *   PLAN   which tensors it reads and writes (for liveness), which are views of others (Reshape
 *          ...), which must share a scale (pure data movement), and the constants it needs;
 *   EMIT   the descriptors, and (numeric segments) the constants' bytes: quantised weights,
 *          scales, biases.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_lower.h"

/* Do `slots` slots of slot_bytes plus `resident` bytes fit in the SRAM? (the streaming kernels' plan) */
bool nl_sram_fits(const npu_lower *L, uint64_t slots, uint64_t slot_bytes, uint64_t resident)
{
    return slots * slot_bytes + resident + SRAM_SLACK_BYTES <= L->dev->sram.size_bytes;
}


int nl_refuse(npu_lower *L, const char *fmt, ...)
{
    if (L->why && L->whylen) {
        int n = snprintf(L->why, L->whylen, "%s: ", nl_node(L)->op_type);
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
int nl_csrc(const npu_lower *L, int t)
{
    for (int hop = 0; t >= 0 && hop < RT_MAX_RANK * 4; hop++) {
        const rt_tensor *x = nl_tensor(L, t);
        if (x->kind == RT_TENSOR_CONSTANT)
            return rt_dtype_is_float(x->dtype) ? t : -1;
        if (x->producer < 0 || !is_view_node(L->g, &L->g->nodes[x->producer]))
            return -1;
        t = L->g->nodes[x->producer].inputs[0];
    }
    return -1;
}

bool nl_is_const(const npu_lower *L, int t) { return nl_csrc(L, t) >= 0; }

/* A quantised weight seen through its int -> float Cast (how weight-only quantisation exports:
 * MatMul(x, Cast(w_int8)) * scales): the int8/int4 constant, or -1. */
int nl_int_weight_src(const npu_lower *L, int t)
{
    int p = t >= 0 ? nl_tensor(L, t)->producer : -1;
    if (p < 0)
        return -1;
    const rt_node *n = &L->g->nodes[p];
    if (n->op != RT_OP_Cast || n->n_inputs < 1 || n->inputs[0] < 0 || !rt_dtype_is_float(nl_tensor(L, t)->dtype))
        return -1;
    const rt_tensor *w = nl_tensor(L, n->inputs[0]);
    return w->kind == RT_TENSOR_CONSTANT && (w->dtype == RT_DT_I8 || w->dtype == RT_DT_I4) ? n->inputs[0] : -1;
}

int nl_need_data(npu_lower *L, int t, const char *what)
{
    if (t < 0)
        return nl_refuse(L, "%s is missing", what);
    const rt_tensor *x = nl_tensor(L, t);
    if (!rt_tensor_shape_known(x))
        return nl_refuse(L, "%s '%s' has no inferred shape", what, x->name);
    if (!nl_float_act(x->dtype))
        return nl_refuse(L, "%s '%s' is %s (the NPU path takes f32, f16 or bf16 tensors, int8 on the device)", what,
                      x->name, rt_dtype_name(x->dtype));
    if (rt_tensor_numel(x) == 0)
        return nl_refuse(L, "%s '%s' is empty", what, x->name);
    return 0;
}

int nl_need_act(npu_lower *L, int t, const char *what)
{
    if (nl_need_data(L, t, what))
        return -1;
    if (nl_is_const(L, t))
        return nl_refuse(L, "%s '%s' is a constant (the NPU kernel takes an activation here)", what,
                         nl_tensor(L, t)->name);
    return 0;
}

int nl_need_const(npu_lower *L, int t, const char *what)
{
    if (t < 0)
        return nl_refuse(L, "%s is missing", what);
    const rt_tensor *x = nl_tensor(L, t);
    int c = nl_csrc(L, t);
    if (c < 0)
        return nl_refuse(L, "%s '%s' is not a constant", what, x->name);
    if (!rt_tensor_shape_known(x) || rt_tensor_numel(x) != nl_numel(L, c))
        return nl_refuse(L, "%s '%s' must be a float constant of known shape", what, x->name);
    if (L->mode == NPU_LOWER_EMIT && !L->s->timing_only && !nl_tensor(L, c)->data)
        return nl_refuse(L, "%s '%s' has no data (a numeric segment needs it; build a timing-only one)", what,
                      nl_tensor(L, c)->name);
    return 0;
}

/* A constant's values as f32 (malloc'd), for packing. */
float *nl_const_f32(const npu_lower *L, int t)
{
    const rt_tensor *x = nl_tensor(L, nl_csrc(L, t) >= 0 ? nl_csrc(L, t) : t);
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

static npu_tinfo *ti(const npu_lower *L, int t) { return npu_seg_tinfo(L->s, t); }

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

void nl_read_act(npu_lower *L, int t)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    ti(L, t)->used = true;
    npu_tinfo *r = ti(L, root_of(L, t));
    r->used = true;
    if (L->pos > r->last)
        r->last = L->pos;
}

void nl_write_act(npu_lower *L, int t)
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
void nl_share_scale(npu_lower *L, int a, int b)
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
void nl_alias(npu_lower *L, int out, int in)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    nl_read_act(L, in);
    ti(L, out)->root = root_of(L, in);
    nl_share_scale(L, in, out);
    ti(L, out)->used = true;
    ti(L, out)->produced = true; /* the view is the segment's (a boundary output if read outside); its
                                    bytes are the input's, which stays a boundary input if it is one */
}

void nl_force_scale(npu_lower *L, int t, float s)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    npu_tinfo *r = ti(L, scale_root_of(L, t));
    r->scale_set = true;
    r->scale = s;
}

void nl_clamp_scale(npu_lower *L, int t, float lo, float hi)
{
    if (L->mode != NPU_LOWER_PLAN)
        return;
    npu_tinfo *r = ti(L, scale_root_of(L, t));
    r->lo = r->lo > lo ? r->lo : lo;
    r->hi = r->hi < hi ? r->hi : hi;
}

static float scale_of(const npu_lower *L, int t) { return ti(L, scale_root_of(L, t))->scale; }

/* ---------------------------------------------------------------- emission helpers */

npu_cref nl_blob(npu_lower *L, npu_blob_kind kind, uint64_t bytes)
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
        s->blobs[s->n_blobs].pos = L->pos;
        s->n_blobs++;
        return r;
    }
    if (i >= s->n_blobs)
        return r;
    r.buf = s->blobs[i].buf;
    r.offset = s->blobs[i].offset;
    if (!s->timing_only && s->blobs[i].kind != NPU_BLOB_SCRATCH)
        r.host = (r.buf == NPU_BUF_PARAM ? s->param_host : s->weight_host[r.buf - NPU_BUF_WEIGHT0]) + r.offset;
    return r;
}

npu_tensor_ref nl_make_ref(uint32_t buf, uint32_t dtype, uint64_t offset, float scale, int rank, const int64_t *dims)
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

float npu_act_device_scale(npu_act_format f, float s8)
{
    return f == NPU_ACTS_INT16 ? s8 * (float)INT8_MAX / (float)INT16_MAX : f == NPU_ACTS_F16 ? 1.0f : s8;
}

/* Activation t (in the segment's format, in the arena or the resident window) seen with `dims`,
 * from element `at` on. Its scale is the planned int8 scale in the format's terms. */
npu_tensor_ref nl_act_ref_at(const npu_lower *L, int t, uint64_t at, int rank, const int64_t *dims)
{
    const npu_tinfo *r = L->s ? ti(L, root_of(L, t)) : NULL;
    uint64_t esz = npu_act_format_bytes(L->afmt);
    return nl_make_ref(r ? r->buf : NPU_BUF_ACT, npu_act_format_dtype(L->afmt), (r ? r->offset : 0) + at * esz,
                       npu_act_device_scale(L->afmt, r ? scale_of(L, t) : 1.0f), rank, dims);
}

npu_tensor_ref nl_act_ref(const npu_lower *L, int t, int rank, const int64_t *dims)
{
    return nl_act_ref_at(L, t, 0, rank, dims);
}

npu_tensor_ref nl_in_ref(npu_lower *L, int t, int rank, const int64_t *dims)
{
    nl_read_act(L, t);
    return nl_act_ref(L, t, rank, dims);
}

npu_tensor_ref nl_out_ref(npu_lower *L, int t, int rank, const int64_t *dims)
{
    nl_write_act(L, t);
    return nl_act_ref(L, t, rank, dims);
}

/* A constant tensor as an f32 operand in the parameter buffer (values copied in EMIT). */
npu_tensor_ref nl_const_ref(npu_lower *L, int t, int rank, const int64_t *dims)
{
    int64_t n = nl_numel(L, t);
    npu_cref c = nl_blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)n);
    if (c.host) {
        float *v = nl_const_f32(L, t);
        if (v)
            memcpy(c.host, v, 4 * (size_t)n);
        free(v);
    }
    return nl_make_ref(c.buf, NPU_DT_F32, c.offset, 0.0f, rank, dims);
}

/* An f32 vector computed by the caller (bias, gamma ...): returns the ref; *host is where to write. */
npu_tensor_ref nl_param_vec(npu_lower *L, int64_t n, float **host)
{
    npu_cref c = nl_blob(L, NPU_BLOB_PARAM, 4 * (uint64_t)n);
    *host = (float *)c.host;
    int64_t d[1] = {n};
    return nl_make_ref(c.buf, NPU_DT_F32, c.offset, 0.0f, 1, d);
}

npu_op_desc *nl_new_op(npu_lower *L, uint32_t op, uint32_t n_inputs, npu_op_desc *scratch)
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

bool nl_output_unused(const npu_lower *L, int t)
{
    if (t < 0)
        return true;
    const int *users;
    return !graph_is_output(L->g, t) && graph_tensor_users(L->g, t, &users) == 0; /* (-1, no memory: used) */
}

/* ---------------------------------------------------------------- shared by the families */

npu_tensor_ref nl_bordered_input(npu_lower *L, npu_tensor_ref x, const int64_t *bd, int64_t top, int64_t left,
                                 int8_t border)
{
    /* an i16 or f16 input (16-bit activation formats) has 2-byte elements; its border is 0 */
    int wide = x.dtype == NPU_DT_I16 || x.dtype == NPU_DT_F16;
    uint32_t bdt = wide ? x.dtype : NPU_DT_I8; /* the buffer's type */
    uint64_t esz = wide ? 2 : 1;
    unsigned char fill = esz == 1 ? (unsigned char)border : 0;
    uint64_t bytes = (uint64_t)(bd[0] * bd[1] * bd[2] * bd[3]) * esz;
    npu_op_desc scratch;
    if (bd[2] == 1) {
        /* one-row planes (a 1-D convolution's [N, C, 1, L]): a box COPY into a buffer uploaded
         * once with its border, which the copy never writes. The copy moves the rows of all
         * channels with a DMA pitch; a PAD would write the border on every run as well (TTS_dec's
         * 23 padded 1-D convs: 190 us as PADs, 66 us as copies on mobile-default). */
        npu_cref pb = nl_blob(L, NPU_BLOB_PARAM, bytes);
        npu_op_desc *cp = nl_new_op(L, NPU_OP_COPY, 1, &scratch);
        cp->in[0] = x;
        cp->out = nl_make_ref(pb.buf, bdt, pb.offset, x.scale, 4, bd);
        for (int i = 0; i < 4; i++)
            cp->lattr[i] = x.dims[i];
        cp->iattr[NPU_MAX_RANK + 2] = (int32_t)top;
        cp->iattr[NPU_MAX_RANK + 3] = (int32_t)left;
        if (pb.host)
            memset(pb.host, fill, (size_t)bytes);
        return cp->out;
    }
    /* a PAD of the planes [N*C, H, W] into [N*C, HB, WB], the border from a fill row: a box copy
     * would move one plane per block (a 7x7 depthwise layer of 960 channels: ~1000 blocks). The
     * PAD writes the whole buffer every run, so it is scratch in the arena, not a constant. */
    npu_cref pb = nl_blob(L, NPU_BLOB_SCRATCH, bytes), fb = nl_blob(L, NPU_BLOB_PARAM, (uint64_t)bd[3] * esz);
    if (fb.host)
        memset(fb.host, fill, (size_t)bd[3] * esz);
    int64_t xd[3] = {x.dims[0] * x.dims[1], x.dims[2], x.dims[3]}, od[3] = {bd[0] * bd[1], bd[2], bd[3]}, fd[1] = {bd[3]};
    npu_op_desc *pd = nl_new_op(L, NPU_OP_PAD, 2, &scratch);
    pd->in[0] = nl_make_ref(x.buf, x.dtype, x.offset, x.scale, 3, xd);
    pd->in[1] = nl_make_ref(fb.buf, bdt, fb.offset, x.scale, 1, fd);
    pd->out = nl_make_ref(pb.buf, bdt, pb.offset, x.scale, 3, od);
    pd->iattr[0] = (int32_t)top;
    pd->iattr[1] = (int32_t)left;
    pd->iattr[2] = (int32_t)(bd[2] - x.dims[2] - top);
    pd->iattr[3] = (int32_t)(bd[3] - x.dims[3] - left);
    pd->iattr[4] = NPU_PAD_CONSTANT;
    return nl_make_ref(pb.buf, bdt, pb.offset, x.scale, 4, bd);
}

/* Clip's bounds (attributes before opset 11, constant scalar inputs after; absent: unbounded);
 * -1 if a bound is not a constant scalar with data. */
int nl_clip_bounds(const npu_lower *L, int node, float *lo, float *hi)
{
    const rt_node *n = &L->g->nodes[node];
    *lo = -INFINITY;
    *hi = INFINITY;
    if (graph_opset(L->g, n->domain) < 11) {
        *lo = rt_node_attr_float(n, "min", -INFINITY);
        *hi = rt_node_attr_float(n, "max", INFINITY);
        return 0;
    }
    for (int k = 1; k <= 2; k++) {
        int t = k < n->n_inputs ? n->inputs[k] : -1;
        if (t < 0)
            continue;
        int c = nl_csrc(L, t);
        if (c < 0 || nl_numel(L, t) != 1 || !nl_tensor(L, c)->data)
            return -1;
        float v = (float)rt_tensor_get_f64(nl_tensor(L, c), 0);
        if (k == 1)
            *lo = v;
        else
            *hi = v;
    }
    return 0;
}

/* HardSigmoid's defaults (ONNX): alpha 0.2, beta 0.5. */
#define HARDSIGMOID_ALPHA_DEFAULT 0.2f
#define HARDSIGMOID_BETA_DEFAULT 0.5f
#define LEAKY_ALPHA_DEFAULT 0.01f

int32_t nl_fused_act(const npu_lower *L, int c, float prm[2])
{
    const rt_node *n = &L->g->nodes[c];
    prm[0] = prm[1] = 0.0f;
    switch (n->op) {
    case RT_OP_Relu: return NPU_ACT_RELU;
    case RT_OP_Gelu:
        return strcmp(rt_node_attr_string(n, "approximate", "none"), "none") == 0 ? NPU_ACT_GELU : NPU_ACT_NONE;
    case RT_OP_Clip: return nl_clip_bounds(L, c, &prm[0], &prm[1]) == 0 ? NPU_ACT_CLIP : NPU_ACT_NONE;
    case RT_OP_LeakyRelu: prm[0] = rt_node_attr_float(n, "alpha", LEAKY_ALPHA_DEFAULT); return NPU_ACT_LEAKY;
    case RT_OP_HardSigmoid:
        prm[0] = rt_node_attr_float(n, "alpha", HARDSIGMOID_ALPHA_DEFAULT);
        prm[1] = rt_node_attr_float(n, "beta", HARDSIGMOID_BETA_DEFAULT);
        return NPU_ACT_HARDSIGMOID;
    default: return NPU_ACT_NONE;
    }
}

/* ---------------------------------------------------------------- dispatch */

static int lower_one(npu_lower *L);

int npu_lower_node(npu_lower *L)
{
    if (L->s && L->s->attention[L->pos])
        return npu_lower_attention(L);
    int rc = lower_one(L);
    if (rc != 0 && L->mode == NPU_LOWER_CHECK && npu_attn_member_fusable(L))
        return 0; /* it runs inside the fused attention descriptor */
    return rc;
}

static int lower_one(npu_lower *L)
{
    const rt_node *n = nl_node(L);
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
        return nl_refuse(L, "domain '%s' has no NPU kernel", n->domain);
    for (int k = 0; k < n->n_outputs; k++) { /* every output a float tensor (int8 on the device) */
        int t = n->outputs[k];
        if (t >= 0 && !nl_float_act(nl_tensor(L, t)->dtype) && !(k > 0 && nl_output_unused(L, t)))
            return nl_refuse(L, "output '%s' is %s", nl_tensor(L, t)->name, rt_dtype_name(nl_tensor(L, t)->dtype));
    }
    switch (n->op) {
    case RT_OP_MatMul: return npu_lower_matmul(L);
    case RT_OP_Gemm: return npu_lower_gemm(L);
    case RT_OP_Conv: return rt_node_attr_int(n, "group", 1) != 1 ? npu_lower_group_conv(L) : npu_lower_conv(L);
    case RT_OP_ConvTranspose: return npu_lower_conv_transpose(L);
    case RT_OP_MaxPool: case RT_OP_AveragePool: return npu_lower_pool(L);
    case RT_OP_GlobalAveragePool: case RT_OP_GlobalMaxPool: return npu_lower_global_pool(L);
    case RT_OP_Pad: return npu_lower_pad(L);
    case RT_OP_Resize: case RT_OP_Upsample: return npu_lower_resize(L);
    case RT_OP_Clip: case RT_OP_HardSigmoid: case RT_OP_HardSwish: case RT_OP_PRelu: return npu_lower_activation(L);
    case RT_OP_BatchNormalization: return npu_lower_batchnorm(L);
    case RT_OP_Softmax: return npu_lower_softmax(L);
    case RT_OP_Add: case RT_OP_Sub: case RT_OP_Mul: case RT_OP_Div: case RT_OP_Pow:
    case RT_OP_Max: case RT_OP_Min:
        return npu_lower_binary(L);
    case RT_OP_Relu: case RT_OP_Sigmoid: case RT_OP_Tanh: case RT_OP_Erf: case RT_OP_Gelu: case RT_OP_Sqrt:
    case RT_OP_Reciprocal: case RT_OP_Neg: case RT_OP_Exp: case RT_OP_Log: case RT_OP_Abs: case RT_OP_Sin:
    case RT_OP_Cos: case RT_OP_LeakyRelu:
        return npu_lower_unary(L);
    case RT_OP_LayerNormalization: return npu_lower_layernorm(L);
    case RT_OP_GroupNormalization: case RT_OP_InstanceNormalization: return npu_lower_groupnorm(L);
    case RT_OP_ReduceMean: case RT_OP_ReduceSum: case RT_OP_ReduceMax: case RT_OP_ReduceMin:
        return npu_lower_reduce(L);
    case RT_OP_Transpose: return npu_lower_transpose(L);
    case RT_OP_Reshape: case RT_OP_Flatten: case RT_OP_Squeeze: case RT_OP_Unsqueeze: case RT_OP_Identity:
    case RT_OP_Dropout: case RT_OP_Cast:
        return npu_lower_view(L);
    case RT_OP_Concat: return npu_lower_concat(L);
    case RT_OP_Slice: return npu_lower_slice(L);
    case RT_OP_Gather: return npu_lower_gather(L);
    case RT_OP_Split: return npu_lower_split(L);
    default: return nl_refuse(L, "no NPU kernel for this op");
    }
}
