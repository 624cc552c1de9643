/* npu_lower.h -- what the lowering files of runtime/npu share (private): the helpers every op
 * family uses to check operands, plan tensors and emit descriptors, and the families' entry
 * points. npu_lower_node() (npu_internal.h) dispatches to them.
 *
 * Conventions: functions taking `what` name the operand in the refusal; nl_refuse() writes
 * "OpType: reason" and returns -1. Planning helpers act in PLAN mode only, emission helpers
 * return placeholders outside EMIT, so a family writes its three modes as one function.
 */
#ifndef M4NPU_NPU_LOWER_H
#define M4NPU_NPU_LOWER_H

#include <stdbool.h>
#include <stdint.h>

#include "npu_internal.h"
#include "ops.h"

#define VEC_MAX_COLS 65535u   /* the vector instructions' cols field */
#define MM_MAX_K 16383u       /* the mm instruction's k field */
#define MM_INT4_MIN_COLS 2u   /* an int4 tile pairs columns (two weights per byte) */
#define DMA_MAX_PITCH 65535u  /* the DMA's row pitch */
#define STREAM_SLOTS 3u       /* the streaming kernels' slots (firmware/src/ops) */
/* Alignment slack the kernels' SRAM plans may lose: one aligned region per slot and resident area. */
#define SRAM_SLACK_BYTES (16u * NPU_ARENA_ALIGN_BYTES)

/* A constant's place in the segment, and where to write its bytes (EMIT of a numeric segment). */
typedef struct npu_cref {
    uint32_t buf;
    uint64_t offset;
    uint8_t *host;
} npu_cref;

static inline const rt_node *nl_node(const npu_lower *L) { return &L->g->nodes[L->node]; }
static inline const rt_tensor *nl_tensor(const npu_lower *L, int t) { return L->g->tensors[t]; }
static inline int64_t nl_numel(const npu_lower *L, int t) { return rt_tensor_numel(nl_tensor(L, t)); }
/* input / output i of the node, or -1 */
static inline int nl_in(const npu_lower *L, int i)
{
    return i < nl_node(L)->n_inputs ? nl_node(L)->inputs[i] : -1;
}
static inline int nl_out(const npu_lower *L, int i)
{
    return i < nl_node(L)->n_outputs ? nl_node(L)->outputs[i] : -1;
}
/* The activation types the backend takes (int8 on the device either way). */
static inline bool nl_float_act(rt_dtype t) { return t == RT_DT_F32 || t == RT_DT_F16 || t == RT_DT_BF16; }

int nl_refuse(npu_lower *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Do `slots` slots of slot_bytes plus `resident` bytes fit in the SRAM? */
bool nl_sram_fits(const npu_lower *L, uint64_t slots, uint64_t slot_bytes, uint64_t resident);

/* ---- operands */
/* The float constant whose values t holds (t, or through precomputed views and float casts), or -1. */
int nl_csrc(const npu_lower *L, int t);
bool nl_is_const(const npu_lower *L, int t);
/* An int8/int4 constant behind the Cast that feeds t (weight-only quantisation), or -1. */
int nl_int_weight_src(const npu_lower *L, int t);
int nl_need_data(npu_lower *L, int t, const char *what);  /* a float tensor of known, non-empty shape */
int nl_need_act(npu_lower *L, int t, const char *what);   /* ... and not a constant */
int nl_need_const(npu_lower *L, int t, const char *what); /* a float constant (with data when emitting numerics) */
float *nl_const_f32(const npu_lower *L, int t);           /* its values as f32 (malloc'd) */
bool nl_output_unused(const npu_lower *L, int t);          /* no node and no graph output reads t */

/* ---- planning */
void nl_read_act(npu_lower *L, int t);
void nl_write_act(npu_lower *L, int t);
void nl_share_scale(npu_lower *L, int a, int b);  /* b gets a's scale */
void nl_alias(npu_lower *L, int out, int in);     /* out is a view of in */
void nl_force_scale(npu_lower *L, int t, float s);
void nl_clamp_scale(npu_lower *L, int t, float lo, float hi);

/* ---- emission */
npu_cref nl_blob(npu_lower *L, npu_blob_kind kind, uint64_t bytes); /* the next constant of the segment */
npu_tensor_ref nl_make_ref(uint32_t buf, uint32_t dtype, uint64_t offset, float scale, int rank, const int64_t *dims);
npu_tensor_ref nl_act_ref_at(const npu_lower *L, int t, uint64_t at, int rank, const int64_t *dims);
npu_tensor_ref nl_act_ref(const npu_lower *L, int t, int rank, const int64_t *dims);
npu_tensor_ref nl_in_ref(npu_lower *L, int t, int rank, const int64_t *dims);  /* read + ref */
npu_tensor_ref nl_out_ref(npu_lower *L, int t, int rank, const int64_t *dims); /* write + ref */
npu_tensor_ref nl_const_ref(npu_lower *L, int t, int rank, const int64_t *dims); /* an f32 operand */
npu_tensor_ref nl_param_vec(npu_lower *L, int64_t n, float **host);
/* The next descriptor of the segment (EMIT), or `scratch` (CHECK, PLAN). */
npu_op_desc *nl_new_op(npu_lower *L, uint32_t op, uint32_t n_inputs, npu_op_desc *scratch);

/* ---- shared by the families */
/* An activation ref x [N, C, H, W] copied (NPU_OP_COPY) to (top, left) of a constant buffer of
 * dims bd [N, C, HB, WB] whose other bytes hold `border` (written at build time, never at run
 * time): how the window ops get their padding. Returns the buffer's ref (x's type and scale).
 * x is i8, or i16 / f16 (the 16-bit activation formats' conv input) with a border of 0. */
npu_tensor_ref nl_bordered_input(npu_lower *L, npu_tensor_ref x, const int64_t *bd, int64_t top, int64_t left,
                                 int8_t border);
/* Clip node's bounds (+-inf when absent); -1 if one is not a constant scalar with data. */
int nl_clip_bounds(const npu_lower *L, int node, float *lo, float *hi);
/* The activation node c computes, as a fused enum npu_act with its parameters (Relu, Gelu erf
 * form, Clip with constant bounds, LeakyRelu, HardSigmoid), or NPU_ACT_NONE. */
int32_t nl_fused_act(const npu_lower *L, int c, float prm[2]);

/* What a MatMul/Gemm/Conv-like descriptor absorbs after it (npu_lower_mm.c). */
typedef struct epilogue_fusion {
    int out;       /* the tensor the fused descriptor writes */
    int pre;       /* the tensor the fused activation reads (its scale is the table's input), or -1 */
    int scale;     /* constant per-channel multiplier (weight-only quantisation's scales), or -1 */
    int bias;      /* constant bias tensor, or -1 */
    int32_t act;   /* enum npu_act */
    float prm[2];  /* its parameters (fattr[0..1]) */
} epilogue_fusion;
/* Absorb Mul(y, scales) (when scale_ok and no bias yet), Add(y, bias) (when !have_bias), then an
 * activation, each only where y has no other reader; marks the absorbed nodes fused (PLAN, EMIT). */
epilogue_fusion nl_fuse_epilogue(npu_lower *L, int y, int64_t channels, int channel_axis, bool have_bias,
                                 bool scale_ok);

/* ---- the families */
int npu_lower_matmul(npu_lower *L);    /* npu_lower_mm.c */
int npu_lower_gemm(npu_lower *L);
int npu_lower_conv(npu_lower *L);
int npu_lower_softmax(npu_lower *L);   /* npu_lower_vec.c */
int npu_lower_binary(npu_lower *L);
int npu_lower_unary(npu_lower *L);
int npu_lower_layernorm(npu_lower *L);
int npu_lower_groupnorm(npu_lower *L);
int npu_lower_reduce(npu_lower *L);
int npu_lower_view(npu_lower *L);      /* npu_lower_move.c */
int npu_lower_transpose(npu_lower *L);
int npu_lower_concat(npu_lower *L);
int npu_lower_split(npu_lower *L);
int npu_lower_gather(npu_lower *L);
int npu_lower_slice(npu_lower *L);
int npu_lower_attention(npu_lower *L); /* npu_lower_attn.c: the last MatMul of a fused attention */
/* Is L->node part of an attention pattern that runs fused (CHECK: a node the kernels cannot run
 * alone is still supported then)? On false L->why is left as it was. */
bool npu_attn_member_fusable(npu_lower *L);
int npu_lower_group_conv(npu_lower *L);     /* npu_lower_cnn.c */
int npu_lower_conv_transpose(npu_lower *L);
int npu_lower_pool(npu_lower *L);
int npu_lower_global_pool(npu_lower *L);
int npu_lower_pad(npu_lower *L);
int npu_lower_resize(npu_lower *L);
int npu_lower_activation(npu_lower *L);
int npu_lower_batchnorm(npu_lower *L);

#endif
