/* m4_builder.c -- the graph-building kit behind the M4 module builders: unique names, shared
 * small constants, parameters in the module's format, and the layers every module is made of
 * (linear, convolution, the norms, GELU/SiLU, attention), each emitted as the op sequence
 * torch.onnx writes at opset 17. Every node's output type and shape are inferred as soon as the
 * node is added, so a builder can read shapes back and an inconsistency is reported at the node
 * that caused it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m4_internal.h"
#include "ops.h"

#define MB_NAME_BYTES 256
#define MB_SQRT2 1.41421356237309504880 /* M_SQRT2 is not in strict C11 */

static rt_dtype format_weight_type(m4_format f)
{
    switch (f) {
    case M4_FMT_FP32: return RT_DT_F32;
    case M4_FMT_INT8: return RT_DT_I8;
    case M4_FMT_INT4: return RT_DT_I4;
    case M4_FMT_FP16:
    default: return RT_DT_F16;
    }
}

bool mb_init(mb *b, const char *name, m4_format fmt, const m4_module_params *p)
{
    memset(b, 0, sizeof *b);
    b->g = graph_create(name);
    if (!b->g)
        return false;
    b->wdt = format_weight_type(fmt);
    b->act = fmt == M4_FMT_FP32 ? RT_DT_F32 : RT_DT_F16;
    b->lora_rank = p ? p->lora_rank : 0;
    b->lora_targets = p && p->lora_targets ? p->lora_targets : M4_LORA_TARGETS_DEFAULT;
    b->lora_scaling = b->lora_rank > 0 ? (float)M4_LORA_ALPHA_DEFAULT / (float)b->lora_rank : 0.0f;
    b->last_node = -1;
    return true;
}

int mb_fail(mb *b, rt_status code, const char *fmt, ...)
{
    if (b->err.code == RT_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err.msg, sizeof b->err.msg, fmt, ap);
        va_end(ap);
        b->err.code = code;
    }
    return -1;
}

static bool mb_ok(const mb *b)
{
    return b->err.code == RT_OK && graph_last_error(b->g)->code == RT_OK;
}

rt_graph *mb_finish(mb *b, rt_error *e)
{
    rt_status s = RT_OK;
    if (b->err.code != RT_OK)
        s = rt_error_set(e, b->err.code, "%s: %s", b->g->name, b->err.msg);
    else if (graph_last_error(b->g)->code != RT_OK)
        s = rt_error_set(e, graph_last_error(b->g)->code, "%s: %s", b->g->name, graph_last_error(b->g)->msg);
    else if ((s = graph_prepare(b->g, e)) != RT_OK)
        rt_error_prefix(e, "%s", b->g->name);
    if (s != RT_OK) {
        graph_free(b->g);
        b->g = NULL;
        return NULL;
    }
    rt_graph *g = b->g;
    b->g = NULL;
    return g;
}

size_t mb_push(mb *b, const char *fmt, ...)
{
    size_t old = strlen(b->scope);
    char part[MB_SCOPE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(part, sizeof part, fmt, ap);
    va_end(ap);
    if (old + 1 + strlen(part) + 1 > sizeof b->scope) {
        mb_fail(b, RT_ERR_LIMIT, "scope '%s.%s' is too long", b->scope, part);
        return old;
    }
    if (old)
        b->scope[old] = '.', b->scope[old + 1] = '\0';
    strcat(b->scope, part);
    return old;
}

void mb_pop(mb *b, size_t old_len)
{
    if (old_len < sizeof b->scope)
        b->scope[old_len] = '\0';
}

/* "<scope>.<name>" (or just name at the top level) */
static void param_name(const mb *b, char *buf, size_t size, const char *name)
{
    if (b->scope[0])
        snprintf(buf, size, "%s.%s", b->scope, name);
    else
        snprintf(buf, size, "%s", name);
}

/* "<scope>/<Op>_<n>" */
static void value_name(mb *b, char *buf, size_t size, const char *op)
{
    snprintf(buf, size, "%s/%s_%u", b->scope[0] ? b->scope : "graph", op, b->counter++);
}

int mb_input(mb *b, const char *name, rt_dtype dt, int rank, const int64_t *dims)
{
    if (!mb_ok(b))
        return -1;
    return graph_add_input(b->g, name, dt, rank, dims);
}

void mb_output(mb *b, int t, const char *what)
{
    if (t < 0) {
        mb_fail(b, RT_ERR_ARG, "output %s was not built", what);
        return;
    }
    graph_mark_output(b->g, t);
}

int mb_param(mb *b, const char *name, int rank, const int64_t *dims)
{
    if (!mb_ok(b))
        return -1;
    char full[MB_NAME_BYTES];
    param_name(b, full, sizeof full, name);
    return graph_add_weight(b->g, full, b->act, rank, dims);
}

/* A constant with data, shared with an identical earlier one. */
static int const_data(mb *b, rt_dtype dt, int rank, const int64_t *dims, const void *data, uint64_t bytes)
{
    if (!mb_ok(b))
        return -1;
    for (int i = 0; i < b->n_cache; i++) {
        const rt_tensor *t = b->g->tensors[b->cache[i]];
        if (t->dtype == dt && t->rank == rank && t->data_bytes == bytes &&
            (rank == 0 || memcmp(t->dims, dims, (size_t)rank * sizeof *dims) == 0) && memcmp(t->data, data, bytes) == 0)
            return b->cache[i];
    }
    char name[MB_NAME_BYTES];
    snprintf(name, sizeof name, "const_%u", b->counter++);
    int t = graph_add_constant(b->g, name, dt, rank, dims, data, bytes);
    if (t >= 0 && b->n_cache < MB_CONST_CACHE)
        b->cache[b->n_cache++] = t;
    return t;
}

int mb_const_i64(mb *b, int n, const int64_t *vals)
{
    int64_t dims[1] = {n};
    return const_data(b, RT_DT_I64, 1, dims, vals, (uint64_t)n * sizeof *vals);
}

int mb_scalar_dt(mb *b, rt_dtype dt, double v)
{
    union {
        float f;
        double d;
        uint16_t h;
        int64_t i;
        int32_t i32;
    } u;
    uint64_t bytes;
    switch (dt) {
    case RT_DT_F32: u.f = (float)v; bytes = 4; break;
    case RT_DT_F16: u.h = rt_f32_to_f16((float)v); bytes = 2; break;
    case RT_DT_F64: u.d = v; bytes = 8; break;
    case RT_DT_I64: u.i = (int64_t)v; bytes = 8; break;
    case RT_DT_I32: u.i32 = (int32_t)v; bytes = 4; break;
    default: return mb_fail(b, RT_ERR_DTYPE, "scalar constant of type %s", rt_dtype_name(dt));
    }
    return const_data(b, dt, 0, NULL, &u, bytes);
}

int mb_scalar(mb *b, float v)
{
    return mb_scalar_dt(b, b->act, v);
}

int mb_const_f32(mb *b, int rank, const int64_t *dims, const float *vals)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return const_data(b, RT_DT_F32, rank, dims, vals, (uint64_t)n * sizeof *vals);
}

int mb_const_act(mb *b, int rank, const int64_t *dims, const float *vals)
{
    if (b->act == RT_DT_F32)
        return mb_const_f32(b, rank, dims, vals);
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    uint16_t *h = malloc((size_t)(n ? n : 1) * sizeof *h);
    if (!h)
        return mb_fail(b, RT_ERR_NOMEM, "out of memory (constant)");
    for (int64_t i = 0; i < n; i++)
        h[i] = rt_f32_to_f16(vals[i]);
    int t = const_data(b, RT_DT_F16, rank, dims, h, (uint64_t)n * sizeof *h);
    free(h);
    return t;
}

/* Infer the new node's outputs now, so builders can read shapes and errors name this node. */
static int infer_node(mb *b, int node)
{
    rt_op_binding bind;
    rt_error e;
    rt_status s = ops_bind(b->g, node, NULL, &bind, &e);
    if (s == RT_OK) {
        s = ops_infer(&bind.ctx);
        if (s != RT_OK)
            e = *bind.ctx.err;
        ops_unbind(&bind);
    }
    if (s != RT_OK)
        return mb_fail(b, s, "%s", e.msg);
    return 0;
}

int mb_op_n(mb *b, const char *op, int n_in, const int *in, int n_out, int *out)
{
    if (!mb_ok(b))
        return -1;
    enum { MAX_IO = 16 };
    if (n_in > MAX_IO || n_out > MAX_IO)
        return mb_fail(b, RT_ERR_LIMIT, "%s: too many inputs/outputs", op);
    const char *in_names[MAX_IO], *out_names[MAX_IO];
    char outs[MAX_IO][MB_NAME_BYTES + 16], node_name[MB_NAME_BYTES];
    for (int i = 0; i < n_in; i++) {
        if (in[i] == MB_EMPTY) {
            in_names[i] = "";
            continue;
        }
        if (in[i] < 0 || in[i] >= b->g->n_tensors)
            return mb_fail(b, RT_ERR_ARG, "%s in '%s': input %d was not built", op, b->scope, i);
        in_names[i] = b->g->tensors[in[i]]->name;
    }
    value_name(b, node_name, sizeof node_name, op);
    for (int i = 0; i < n_out; i++) {
        snprintf(outs[i], sizeof outs[i], "%s:%d", node_name, i);
        out_names[i] = outs[i];
    }
    int node = graph_add_node(b->g, op, node_name, n_in, in_names, n_out, out_names);
    if (node < 0)
        return -1;
    b->last_node = node;
    for (int i = 0; i < n_out; i++)
        out[i] = b->g->nodes[node].outputs[i];
    return 0;
}

int mb_op_raw(mb *b, const char *op, int n_in, const int *in)
{
    int out;
    return mb_op_n(b, op, n_in, in, 1, &out) == 0 ? out : -1;
}

int mb_infer(mb *b, int out)
{
    if (out < 0 || !mb_ok(b))
        return -1;
    return infer_node(b, b->last_node) == 0 ? out : -1;
}

int mb_op(mb *b, const char *op, int n_in, const int *in)
{
    return mb_infer(b, mb_op_raw(b, op, n_in, in));
}

void mb_attr_int(mb *b, const char *name, int64_t v)
{
    if (mb_ok(b))
        graph_node_set_int(b->g, b->last_node, name, v);
}

void mb_attr_ints(mb *b, const char *name, int n, const int64_t *v)
{
    if (mb_ok(b))
        graph_node_set_ints(b->g, b->last_node, name, (size_t)n, v);
}

void mb_attr_float(mb *b, const char *name, float v)
{
    if (mb_ok(b))
        graph_node_set_float(b->g, b->last_node, name, v);
}

void mb_attr_string(mb *b, const char *name, const char *v)
{
    if (mb_ok(b))
        graph_node_set_string(b->g, b->last_node, name, v);
}

int mb_rank(mb *b, int t)
{
    if (t < 0 || !mb_ok(b))
        return -1;
    return b->g->tensors[t]->rank;
}

int64_t mb_dim(mb *b, int t, int axis)
{
    int r = mb_rank(b, t);
    if (r < 0)
        return -1;
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis >= r)
        return mb_fail(b, RT_ERR_ARG, "axis %d of a rank-%d tensor", axis, r);
    return b->g->tensors[t]->dims[axis];
}

/* ---------------------------------------------------------------------------------------- */
/* Tensor ops                                                                                  */

int mb_reshape(mb *b, int x, int rank, const int64_t *shape)
{
    return mb_op(b, "Reshape", 2, (int[]){x, mb_const_i64(b, rank, shape)});
}

int mb_transpose(mb *b, int x, int rank, const int64_t *perm)
{
    int y = mb_op_raw(b, "Transpose", 1, (int[]){x});
    mb_attr_ints(b, "perm", rank, perm);
    return mb_infer(b, y);
}

int mb_unsqueeze(mb *b, int x, int n, const int64_t *axes)
{
    return mb_op(b, "Unsqueeze", 2, (int[]){x, mb_const_i64(b, n, axes)});
}

int mb_concat(mb *b, int n, const int *xs, int axis)
{
    int y = mb_op_raw(b, "Concat", n, xs);
    mb_attr_int(b, "axis", axis);
    return mb_infer(b, y);
}

int mb_slice(mb *b, int x, int64_t start, int64_t end, int64_t axis)
{
    int s = mb_const_i64(b, 1, &start), en = mb_const_i64(b, 1, &end), ax = mb_const_i64(b, 1, &axis);
    return mb_op(b, "Slice", 4, (int[]){x, s, en, ax});
}

int mb_gather(mb *b, int x, int idx, int axis)
{
    int y = mb_op_raw(b, "Gather", 2, (int[]){x, idx});
    mb_attr_int(b, "axis", axis);
    return mb_infer(b, y);
}

int mb_cast(mb *b, int x, rt_dtype to)
{
    int y = mb_op_raw(b, "Cast", 1, (int[]){x});
    mb_attr_int(b, "to", (int64_t)to);
    return mb_infer(b, y);
}

int mb_binary(mb *b, const char *op, int x, int y)
{
    return mb_op(b, op, 2, (int[]){x, y});
}

int mb_unary(mb *b, const char *op, int x)
{
    return mb_op(b, op, 1, (int[]){x});
}

int mb_reduce_mean(mb *b, int x, int64_t axis, bool keepdims)
{
    /* opset 17: axes is an attribute (an input from opset 18) */
    int y = mb_op_raw(b, "ReduceMean", 1, (int[]){x});
    mb_attr_ints(b, "axes", 1, &axis);
    mb_attr_int(b, "keepdims", keepdims ? 1 : 0);
    return mb_infer(b, y);
}

int mb_softmax(mb *b, int x, int axis)
{
    int y = mb_op_raw(b, "Softmax", 1, (int[]){x});
    mb_attr_int(b, "axis", axis);
    return mb_infer(b, y);
}

/* ---------------------------------------------------------------------------------------- */
/* Layers                                                                                      */

int mb_gelu(mb *b, int x)
{
    /* torch.onnx (exact GELU, opset < 20): Div(x, sqrt2) -> Erf -> Add 1 -> Mul x -> Mul 0.5 */
    int t = mb_binary(b, "Div", x, mb_scalar(b, (float)MB_SQRT2));
    t = mb_unary(b, "Erf", t);
    t = mb_binary(b, "Add", t, mb_scalar(b, 1.0f));
    t = mb_binary(b, "Mul", x, t);
    return mb_binary(b, "Mul", t, mb_scalar(b, 0.5f));
}

int mb_silu(mb *b, int x)
{
    return mb_binary(b, "Mul", x, mb_unary(b, "Sigmoid", x));
}

int mb_layernorm(mb *b, int x, const char *name, int64_t d, float eps)
{
    size_t s = mb_push(b, "%s", name);
    int w = mb_param(b, "weight", 1, &d), bias = mb_param(b, "bias", 1, &d);
    mb_pop(b, s);
    int y = mb_op_raw(b, "LayerNormalization", 3, (int[]){x, w, bias});
    mb_attr_int(b, "axis", -1);
    mb_attr_float(b, "epsilon", eps);
    return mb_infer(b, y);
}

int mb_rmsnorm(mb *b, int x, const char *name, int64_t d, float eps)
{
    /* HF LlamaRMSNorm: h = x.float(); h * rsqrt(mean(h^2) + eps); weight * h.to(dtype) */
    size_t s = mb_push(b, "%s", name);
    int w = mb_param(b, "weight", 1, &d);
    mb_pop(b, s);
    int h = b->act == RT_DT_F32 ? x : mb_cast(b, x, RT_DT_F32);
    int sq = mb_binary(b, "Pow", h, mb_scalar_dt(b, RT_DT_F32, 2.0));
    int mean = mb_reduce_mean(b, sq, -1, true);
    int den = mb_unary(b, "Sqrt", mb_binary(b, "Add", mean, mb_scalar_dt(b, RT_DT_F32, eps)));
    int inv = mb_binary(b, "Div", mb_scalar_dt(b, RT_DT_F32, 1.0), den);
    int y = mb_binary(b, "Mul", h, inv);
    if (b->act != RT_DT_F32)
        y = mb_cast(b, y, b->act);
    return mb_binary(b, "Mul", w, y);
}

int mb_groupnorm(mb *b, int x, const char *name, int64_t c, int64_t groups, float eps)
{
    /* torch.onnx below opset 18: Reshape [N, G, -1] -> InstanceNormalization (unit scale, zero
     * bias) -> Reshape back -> Mul gamma -> Add beta (gamma/beta folded to [C, 1, 1]) */
    int r = mb_rank(b, x);
    if (r < 0)
        return -1;
    if (c % groups != 0)
        return mb_fail(b, RT_ERR_SHAPE, "%s.%s: %lld channels in %lld groups", b->scope, name,
                       (long long)c, (long long)groups);
    int64_t shape[RT_MAX_RANK], cdims[RT_MAX_RANK] = {c};
    for (int i = 0; i < r; i++)
        shape[i] = mb_dim(b, x, i);
    for (int i = 1; i < r - 1; i++)
        cdims[i] = 1;
    float *ones = malloc((size_t)groups * sizeof *ones), *zeros = calloc((size_t)groups, sizeof *zeros);
    if (!ones || !zeros) {
        free(ones);
        free(zeros);
        return mb_fail(b, RT_ERR_NOMEM, "out of memory (GroupNorm)");
    }
    for (int64_t i = 0; i < groups; i++)
        ones[i] = 1.0f;
    int sc = mb_const_act(b, 1, &groups, ones), bi = mb_const_act(b, 1, &groups, zeros);
    free(ones);
    free(zeros);
    int t = mb_reshape(b, x, 3, (int64_t[]){shape[0], groups, -1});
    t = mb_op_raw(b, "InstanceNormalization", 3, (int[]){t, sc, bi});
    mb_attr_float(b, "epsilon", eps);
    t = mb_infer(b, t);
    t = mb_reshape(b, t, r, shape);
    size_t s = mb_push(b, "%s", name);
    int gamma = mb_param(b, "weight", r - 1, cdims), beta = mb_param(b, "bias", r - 1, cdims);
    mb_pop(b, s);
    return mb_binary(b, "Add", mb_binary(b, "Mul", t, gamma), beta);
}

static bool quantised(const mb *b)
{
    return b->wdt == RT_DT_I8 || b->wdt == RT_DT_I4;
}

/* The weight of a projection or convolution in the module's format: the float tensor to feed
 * the MatMul/Conv, and (quantised) the per-output-channel scale to apply to its output. */
static int format_weight(mb *b, int rank, const int64_t *dims, int64_t out_ch, int *scale)
{
    *scale = -1;
    char full[MB_NAME_BYTES];
    param_name(b, full, sizeof full, "weight");
    int w = mb_ok(b) ? graph_add_weight(b->g, full, b->wdt, rank, dims) : -1;
    if (!quantised(b))
        return w;
    param_name(b, full, sizeof full, "weight_scale");
    *scale = mb_ok(b) ? graph_add_weight(b->g, full, b->act, 1, &out_ch) : -1;
    return mb_cast(b, w, b->act);
}

static int lora_branch(mb *b, int x, int64_t in, int64_t out)
{
    int64_t r = b->lora_rank;
    int a = mb_param(b, "lora_A", 2, (int64_t[]){in, r});
    int bb = mb_param(b, "lora_B", 2, (int64_t[]){r, out});
    int t = mb_binary(b, "MatMul", x, a);
    t = mb_binary(b, "MatMul", t, bb);
    return mb_binary(b, "Mul", t, mb_scalar(b, b->lora_scaling));
}

int mb_linear(mb *b, int x, const char *name, int64_t in, int64_t out, bool bias, bool lora)
{
    size_t s = mb_push(b, "%s", name);
    int y;
    if (mb_rank(b, x) == 2 && bias && !quantised(b)) {
        /* F.linear on a 2-D input with a bias: Gemm(x, W, b, transB=1) */
        char full[MB_NAME_BYTES];
        param_name(b, full, sizeof full, "weight");
        int w = mb_ok(b) ? graph_add_weight(b->g, full, b->wdt, 2, (int64_t[]){out, in}) : -1;
        int bi = mb_param(b, "bias", 1, &out);
        y = mb_op_raw(b, "Gemm", 3, (int[]){x, w, bi});
        mb_attr_int(b, "transB", 1);
        y = mb_infer(b, y);
    } else {
        int scale;
        int w = format_weight(b, 2, (int64_t[]){in, out}, out, &scale);
        y = mb_binary(b, "MatMul", x, w);
        if (scale >= 0)
            y = mb_binary(b, "Mul", y, scale);
        if (bias)
            y = mb_binary(b, "Add", y, mb_param(b, "bias", 1, &out));
    }
    if (lora && b->lora_rank > 0)
        y = mb_binary(b, "Add", y, lora_branch(b, x, in, out));
    mb_pop(b, s);
    return y;
}

int mb_conv(mb *b, int x, const char *name, int64_t cin, int64_t cout, int nk, const int64_t *kernel,
            const int64_t *stride, const int64_t *pad, bool bias)
{
    return mb_conv_g(b, x, name, cin, cout, 1, nk, kernel, stride, pad, bias);
}

int mb_conv_g(mb *b, int x, const char *name, int64_t cin, int64_t cout, int64_t groups, int nk, const int64_t *kernel,
              const int64_t *stride, const int64_t *pad, bool bias)
{
    if (nk < 1 || nk > RT_MAX_RANK - 2)
        return mb_fail(b, RT_ERR_ARG, "%s: %d-D convolution", name, nk);
    if (groups < 1 || cin % groups != 0 || cout % groups != 0)
        return mb_fail(b, RT_ERR_ARG, "%s: %lld -> %lld channels in %lld groups", name, (long long)cin,
                       (long long)cout, (long long)groups);
    size_t s = mb_push(b, "%s", name);
    int64_t wdims[RT_MAX_RANK] = {cout, cin / groups}, pads[2 * RT_MAX_RANK], cdims[RT_MAX_RANK] = {cout};
    for (int i = 0; i < nk; i++) {
        wdims[2 + i] = kernel[i];
        pads[i] = pads[nk + i] = pad ? pad[i] : 0;
        cdims[1 + i] = 1;
    }
    int scale;
    int w = format_weight(b, 2 + nk, wdims, cout, &scale);
    int bi = bias ? mb_param(b, "bias", 1, &cout) : -1;
    bool bias_in_conv = bias && scale < 0;
    int y = mb_op_raw(b, "Conv", bias_in_conv ? 3 : 2, (int[]){x, w, bi});
    mb_attr_ints(b, "kernel_shape", nk, kernel);
    if (stride)
        mb_attr_ints(b, "strides", nk, stride);
    mb_attr_ints(b, "pads", 2 * nk, pads);
    if (groups > 1)
        mb_attr_int(b, "group", groups);
    y = mb_infer(b, y);
    if (scale >= 0) {
        /* per-output-channel scale, then the bias, broadcast over [C, 1, ...] */
        y = mb_binary(b, "Mul", y, mb_reshape(b, scale, 1 + nk, cdims));
        if (bias)
            y = mb_binary(b, "Add", y, mb_reshape(b, bi, 1 + nk, cdims));
    }
    mb_pop(b, s);
    return y;
}

int mb_pool2d(mb *b, int x, const char *op, int64_t kernel, int64_t stride, int64_t pad, bool count_include_pad)
{
    /* torch.onnx: MaxPool / AveragePool with explicit symmetric pads (ceil_mode 0) */
    int64_t k[2] = {kernel, kernel}, st[2] = {stride, stride}, pads[4] = {pad, pad, pad, pad};
    int y = mb_op_raw(b, op, 1, (int[]){x});
    mb_attr_ints(b, "kernel_shape", 2, k);
    mb_attr_ints(b, "strides", 2, st);
    mb_attr_ints(b, "pads", 4, pads);
    if (strcmp(op, "AveragePool") == 0)
        mb_attr_int(b, "count_include_pad", count_include_pad ? 1 : 0);
    return mb_infer(b, y);
}

int mb_clip(mb *b, int x, float lo, float hi)
{
    /* opset 11+: Clip(x, min, max) with scalar inputs (ReLU6 is Clip(x, 0, 6)) */
    return mb_op(b, "Clip", 3, (int[]){x, mb_scalar(b, lo), mb_scalar(b, hi)});
}

int mb_split_heads(mb *b, int x, int64_t heads, int64_t dh)
{
    int64_t bs = mb_dim(b, x, 0), t = mb_dim(b, x, 1);
    int y = mb_reshape(b, x, 4, (int64_t[]){bs, t, heads, dh});
    return mb_transpose(b, y, 4, (int64_t[]){0, 2, 1, 3});
}

int mb_merge_heads(mb *b, int x, int64_t heads, int64_t dh)
{
    int64_t bs = mb_dim(b, x, 0), t = mb_dim(b, x, 2);
    int y = mb_transpose(b, x, 4, (int64_t[]){0, 2, 1, 3});
    return mb_reshape(b, y, 3, (int64_t[]){bs, t, heads * dh});
}

int mb_attention_core(mb *b, int q, int k, int v, int64_t dh, int mask, bool scale_q)
{
    /* q, k, v: [B, H, T, dh]. softmax(q k^T / sqrt(dh) + mask) v */
    float scale = 1.0f / sqrtf((float)dh);
    if (scale_q)
        q = mb_binary(b, "Mul", q, mb_scalar(b, scale));
    int kt = mb_transpose(b, k, 4, (int64_t[]){0, 1, 3, 2});
    int s = mb_binary(b, "MatMul", q, kt);
    if (!scale_q)
        s = mb_binary(b, "Div", s, mb_scalar(b, sqrtf((float)dh)));
    if (mask >= 0)
        s = mb_binary(b, "Add", s, mask);
    int p = mb_softmax(b, s, -1);
    return mb_binary(b, "MatMul", p, v);
}
