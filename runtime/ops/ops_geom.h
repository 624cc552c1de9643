/* ops_geom.h -- parameter decoding that an op's shape inference and its CPU kernel must agree
 * on (convolution/pooling windows, slices, axes lists, split sizes, resize scales), computed
 * in one place so the two can never disagree. Private to runtime/ops and runtime/cpu. */
#ifndef M4NPU_RT_OPS_GEOM_H
#define M4NPU_RT_OPS_GEOM_H

#include "ops.h"

/* Window geometry of Conv / ConvTranspose / MaxPool / AveragePool over nsp spatial dims. An
 * unknown input dim gives an unknown output dim. */
typedef struct ops_window {
    int nsp;
    int64_t in[RT_MAX_RANK], k[RT_MAX_RANK], stride[RT_MAX_RANK], dil[RT_MAX_RANK];
    int64_t pad_b[RT_MAX_RANK], pad_e[RT_MAX_RANK], out[RT_MAX_RANK];
    int64_t out_pad[RT_MAX_RANK]; /* ConvTranspose only */
} ops_window;

/* Conv and pooling: kernel shape k (from W, or the kernel_shape attribute for pools). */
rt_status ops_window_forward(const rt_op_ctx *c, int nsp, const int64_t *in, const int64_t *k,
                             bool allow_ceil, ops_window *w);
rt_status ops_window_transpose(const rt_op_ctx *c, int nsp, const int64_t *in, const int64_t *k,
                               ops_window *w);

/* Slice: per-axis start and step and output dims for x (inputs need data; opset < 10 uses
 * attributes). */
typedef struct ops_slice {
    int rank;
    int64_t start[RT_MAX_RANK], step[RT_MAX_RANK], out[RT_MAX_RANK];
} ops_slice;
rt_status ops_slice_params(const rt_op_ctx *c, ops_slice *s);

/* Axes of Reduce*, Squeeze, Unsqueeze: from input `in_idx` when opset >= input_opset, else from
 * attribute "axes". *present is false if none were given. Axes are NOT normalised. Returns
 * RT_ERR_NO_DATA if the axes input exists but has no data. */
rt_status ops_axes(const rt_op_ctx *c, int in_idx, int64_t input_opset, int64_t *axes, int *n,
                   bool *present);

/* MatMul's 1-D operands as matrices, numpy style: A [K] is [1, K], B [K] is [K, 1]. a2 and b2
 * are views of a and b (same data, promoted dims). */
void ops_matmul_promote(const rt_tensor *a, const rt_tensor *b, rt_tensor *a2, rt_tensor *b2);

/* Split: sizes of each output along *axis (normalised). */
rt_status ops_split_sizes(const rt_op_ctx *c, int *axis, int64_t *sizes);

/* Resize / Upsample: output dims and per-axis scale (output/input) actually used. */
rt_status ops_resize_params(const rt_op_ctx *c, int64_t *out_dims, double *scales);

/* LSTM, GRU and RNN: what the inputs and attributes say, checked once for inference and the
 * kernel. Dims not known yet (inference) are RT_DIM_UNKNOWN. */
typedef enum ops_rnn_act_kind {
    OPS_ACT_SIGMOID,
    OPS_ACT_TANH,
    OPS_ACT_RELU,
    OPS_ACT_AFFINE,
    OPS_ACT_LEAKY_RELU,
    OPS_ACT_THRESHOLDED_RELU,
    OPS_ACT_SCALED_TANH,
    OPS_ACT_HARD_SIGMOID,
    OPS_ACT_ELU,
    OPS_ACT_SOFTSIGN,
    OPS_ACT_SOFTPLUS,
} ops_rnn_act_kind;

typedef struct ops_rnn_act {
    ops_rnn_act_kind kind;
    double alpha, beta;
} ops_rnn_act;

#define OPS_RNN_MAX_DIRS 2
#define OPS_RNN_MAX_ACTS 3 /* per direction: LSTM f, g, h; GRU f, g; RNN f */

typedef struct ops_rnn {
    int gates;      /* 4 LSTM (i, o, f, c), 3 GRU (z, r, h), 1 RNN */
    int n_acts;     /* activations per direction */
    int dirs;       /* 2 when bidirectional */
    bool reverse;   /* direction "reverse": the one direction runs from the last step */
    int layout;     /* 0: X [seq, batch, input]; 1: X [batch, seq, input] */
    int64_t seq, batch, input, hidden;
    double clip;    /* bound of every activation's input; 0: no clipping */
    bool linear_before_reset; /* GRU */
    bool input_forget;        /* LSTM: forget gate = 1 - input gate */
    ops_rnn_act act[OPS_RNN_MAX_DIRS][OPS_RNN_MAX_ACTS];
} ops_rnn;

/* Inputs: X, W, R, B, sequence_lens, initial_h (and LSTM: initial_c, P). */
enum { OPS_RNN_X, OPS_RNN_W, OPS_RNN_R, OPS_RNN_B, OPS_RNN_SEQ_LENS, OPS_RNN_INIT_H, OPS_RNN_INIT_C, OPS_RNN_P };
rt_status ops_rnn_params(const rt_op_ctx *c, ops_rnn *r);

#endif
