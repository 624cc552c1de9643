/* npu_twin_internal.h -- what the twin's files share (private to runtime/npu): the twin's state
 * and its primitive f32 steps, each run through isa_exec() on a scratch SRAM (npu_twin.c), so
 * that the CNN ops' twin (npu_twin_cnn.c) computes with the very functions the device's units
 * run. */
#ifndef M4NPU_NPU_TWIN_INTERNAL_H
#define M4NPU_NPU_TWIN_INTERNAL_H

#include "isa_exec.h"
#include "npu_twin.h"

#define F32 4u /* bytes of an f32 */

typedef struct tw {
    isa_exec_ctx x;
    rt_error *e;
    uint32_t op;
    int failed;
    rt_status st;
} tw;

/* Record the first failure (RT_ERR_ARG naming the descriptor); returns -1. */
int tw_fail(tw *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The vector unit's steps (isa_exec): x = fn(x, imm) over n; dst = fn(a, b') over rows x cols
 * (bc an ISA_BC_*); f32 -> int8; int8 (ISA_SDT_I8) or int32 -> f32 times scale. */
void tw_un(tw *t, int64_t fn, float *x, uint64_t n, float imm);
void tw_bin(tw *t, int64_t fn, int64_t bc, float *dst, const float *a, const float *b, uint64_t rows, uint64_t cols);
void tw_quant(tw *t, int8_t *dst, const float *src, uint64_t n, float scale);
void tw_dequant(tw *t, int64_t sdt, float *dst, const void *src, uint64_t n, float scale);

/* A fused activation (enum npu_act up to HARDSIGMOID) in place; prm = the descriptor's fattr. */
void tw_activation(tw *t, int32_t act, const float *prm, float *v, uint64_t n);
/* One output channel's epilogue over n products: to f32, times its scale (ws, or none), plus its
 * bias (or none), the activation. */
void tw_channel_epilogue(tw *t, const int32_t *acc, float *y, uint64_t n, float s_deq, const float *ws,
                         const float *bias, int32_t act, const float *prm);
/* The same from the products already in f32 (y, n: dequantised int32 sums or the f16 mode's f32
 * sums times the scale). */
void tw_channel_epilogue_f32(tw *t, float *y, uint64_t n, const float *ws, const float *bias, int32_t act,
                             const float *prm);

/* Tensors on the host buffers. */
uint64_t tw_numel(const npu_tensor_ref *r);
uint32_t tw_esz(uint32_t dtype);
uint8_t *tw_span(tw *t, npu_twin_buf *bufs, uint32_t nbufs, uint32_t buf, uint64_t offset, uint64_t bytes,
                 const char *what);
uint8_t *tw_tensor(tw *t, npu_twin_buf *bufs, uint32_t nbufs, const npu_tensor_ref *r, const char *what);
float *tw_load_f32(tw *t, const npu_tensor_ref *r, const uint8_t *p); /* malloc'd */
void tw_store_f32(tw *t, const npu_tensor_ref *r, uint8_t *p, const float *v, uint64_t n);

/* npu_twin_cnn.c: GROUP_CONV2D, POOL, PAD, RESIZE, ACTIVATION, CHANNEL_AFFINE. */
void npu_twin_cnn_op(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs);

#endif
