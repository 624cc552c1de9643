/* m4_internal.h -- the graph-building kit shared by the M4 module builders.
 *
 * A module builder chains many small calls (a ViT block is ~40 nodes); each helper returns the
 * index of the tensor it produced, or -1 once anything failed, and every later helper passes a
 * -1 through. The builder checks once at the end (mb_finish). Helpers emit the op sequences
 * torch.onnx writes at opset 17 (docs/m4.md, "How the graphs are exported"), so that the
 * partitioner sees the op mix and segment boundaries of a real export.
 *
 * Names: parameters are "<scope>.<name>" (e.g. "layers.3.self_attn.q_proj.weight"); nodes and
 * activations are "<scope>/<Op>_<n>" with a graph-wide counter, so names are unique by
 * construction.
 */
#ifndef M4NPU_M4_INTERNAL_H
#define M4NPU_M4_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"
#include "m4.h"

#define MB_SCOPE_BYTES 160
#define MB_CONST_CACHE 128 /* distinct small constants shared within one graph */

typedef struct mb {
    rt_graph *g;
    rt_dtype act;          /* activation and float-parameter type (f32 or f16) */
    rt_dtype wdt;          /* projection/convolution weight type (f32, f16, i8, i4) */
    int lora_rank;         /* 0: no adapters */
    unsigned lora_targets; /* M4_LORA_* bits */
    float lora_scaling;    /* alpha / r */
    char scope[MB_SCOPE_BYTES];
    unsigned counter;      /* for unique node/activation names */
    int last_node;         /* index of the node the last helper added */
    rt_error err;          /* first error of the builder's own (the graph records its own) */
    int cache[MB_CONST_CACHE];
    int n_cache;
} mb;

/* Start a graph for module `name` with the given formats; returns false on allocation failure. */
bool mb_init(mb *b, const char *name, m4_format fmt, const m4_module_params *p);
/* Check the builder's and the graph's first error, mark no more outputs, run graph_prepare.
 * Returns the graph or NULL (freed) with *e filled. */
rt_graph *mb_finish(mb *b, rt_error *e);
/* Record a builder error (the first one wins); returns -1 for chaining. */
int mb_fail(mb *b, rt_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Scopes: mb_push appends ".part" (printf-style) and returns the old length for mb_pop. */
size_t mb_push(mb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mb_pop(mb *b, size_t old_len);

/* Graph inputs, outputs, parameters and constants. */
int mb_input(mb *b, const char *name, rt_dtype dt, int rank, const int64_t *dims);
void mb_output(mb *b, int t, const char *what);
/* A parameter "<scope>.<name>" of the activation type (norm gains, biases, embeddings). */
int mb_param(mb *b, const char *name, int rank, const int64_t *dims);
int mb_const_i64(mb *b, int n, const int64_t *vals);   /* 1-D i64 [n] */
int mb_scalar(mb *b, float v);                          /* rank-0 of the activation type */
int mb_scalar_dt(mb *b, rt_dtype dt, double v);         /* rank-0 of type dt */
int mb_const_f32(mb *b, int rank, const int64_t *dims, const float *vals); /* f32 data */
int mb_const_act(mb *b, int rank, const int64_t *dims, const float *vals); /* converted to act */

/* One node with one output; in[] may hold -1 only for an empty optional input given as
 * MB_EMPTY. Returns the output tensor index. */
#define MB_EMPTY (-2)
int mb_op(mb *b, const char *op, int n_in, const int *in);
/* A node's attributes must be set before its outputs are inferred: mb_op adds and infers a node
 * that needs none; a node with attributes is added with mb_op_raw (one output) or mb_op_n
 * (fills out[0..n_out-1], returns 0 or -1), given its attributes, then inferred with mb_infer
 * (returns `out`, or -1). */
int mb_op_raw(mb *b, const char *op, int n_in, const int *in);
int mb_op_n(mb *b, const char *op, int n_in, const int *in, int n_out, int *out);
int mb_infer(mb *b, int out);
void mb_attr_int(mb *b, const char *name, int64_t v);
void mb_attr_ints(mb *b, const char *name, int n, const int64_t *v);
void mb_attr_float(mb *b, const char *name, float v);
void mb_attr_string(mb *b, const char *name, const char *v);

/* Shape of a tensor the builder created (inferred on the fly where the helper needs it). */
int mb_rank(mb *b, int t);
int64_t mb_dim(mb *b, int t, int axis);

/* Tensor ops with constant arguments. */
int mb_reshape(mb *b, int x, int rank, const int64_t *shape);
int mb_transpose(mb *b, int x, int rank, const int64_t *perm);
int mb_unsqueeze(mb *b, int x, int n, const int64_t *axes);
int mb_concat(mb *b, int n, const int *xs, int axis);
int mb_slice(mb *b, int x, int64_t start, int64_t end, int64_t axis);
int mb_gather(mb *b, int x, int idx, int axis);
int mb_cast(mb *b, int x, rt_dtype to);
int mb_binary(mb *b, const char *op, int x, int y);
int mb_unary(mb *b, const char *op, int x);
int mb_softmax(mb *b, int x, int axis);
int mb_reduce_mean(mb *b, int x, int64_t axis, bool keepdims);

/* Layers. */
int mb_gelu(mb *b, int x);   /* Erf form: x * 0.5 * (1 + erf(x / sqrt 2)) */
int mb_silu(mb *b, int x);   /* x * sigmoid(x) */
int mb_layernorm(mb *b, int x, const char *name, int64_t d, float eps);
int mb_rmsnorm(mb *b, int x, const char *name, int64_t d, float eps);
int mb_groupnorm(mb *b, int x, const char *name, int64_t c, int64_t groups, float eps);
/* Linear layer "<scope>.<name>" on the last axis: weight stored [in, out] (torch's constant-
 * folded transpose), quantised per b->wdt; LoRA branch if lora is true and b->lora_rank > 0.
 * On a 2-D input with a bias and float weights it is one Gemm (transB=1, weight [out, in]). */
int mb_linear(mb *b, int x, const char *name, int64_t in, int64_t out, bool bias, bool lora);
/* Convolution "<scope>.<name>": weight [cout, cin/group, k...], quantised per b->wdt. */
int mb_conv(mb *b, int x, const char *name, int64_t cin, int64_t cout, int nk, const int64_t *kernel,
            const int64_t *stride, const int64_t *pad, bool bias);
/* The same with `groups` (the `group` attribute; cin / groups input channels per output channel:
 * groups = cin = cout is a depthwise convolution). */
int mb_conv_g(mb *b, int x, const char *name, int64_t cin, int64_t cout, int64_t groups, int nk, const int64_t *kernel,
              const int64_t *stride, const int64_t *pad, bool bias);
/* 2-D MaxPool or AveragePool ("MaxPool" / "AveragePool"), square kernel, symmetric pads. */
int mb_pool2d(mb *b, int x, const char *op, int64_t kernel, int64_t stride, int64_t pad, bool count_include_pad);
/* Clip(x, lo, hi) with scalar bounds of the activation type (ReLU6). */
int mb_clip(mb *b, int x, float lo, float hi);

/* Attention over heads: q [B, H, Tq, dh], k and v [B, H, Tk, dh]; returns [B, H, Tq, dh].
 * mask: -1 or a tensor added to the scores. scale_q multiplies q by 1/sqrt(dh) before the
 * product (HF CLIP, Whisper, diffusers); otherwise the scores are divided by sqrt(dh) (HF
 * LLaMA). */
int mb_attention_core(mb *b, int q, int k, int v, int64_t dh, int mask, bool scale_q);
/* Split [B, T, H*dh] into heads [B, H, T, dh] and back. */
int mb_split_heads(mb *b, int x, int64_t heads, int64_t dh);
int mb_merge_heads(mb *b, int x, int64_t heads, int64_t dh);

/* The module builders (one per file family). Each gets resolved parameters. */
rt_graph *m4_build_img_enc(const m4_module_params *p, rt_error *e);
rt_graph *m4_build_txt_enc(const m4_module_params *p, rt_error *e);
rt_graph *m4_build_audb_enc(const m4_module_params *p, rt_error *e);
rt_graph *m4_build_imu_enc(const m4_module_params *p, rt_error *e);
rt_graph *m4_build_audi_enc(const m4_module_params *p, rt_error *e);
rt_graph *m4_build_backbone(const m4_module_params *p, bool decode, rt_error *e);
rt_graph *m4_build_gen_dec(const m4_module_params *p, rt_error *e);
rt_graph *m4_build_projection(const m4_module_params *p, rt_error *e);
rt_graph *m4_build_tts_dec(const m4_module_params *p, rt_error *e);
rt_graph *m4_build_img_dec(const m4_module_params *p, bool unet, bool vae, rt_error *e);
/* Task-specific models (m4_ts_cnn.c, m4_ts_bert.c): the module id picks the architecture. */
rt_graph *m4_build_ts_cnn(m4_module_id id, const m4_module_params *p, rt_error *e);
rt_graph *m4_build_ts_bert(m4_module_id id, const m4_module_params *p, rt_error *e);

#endif
