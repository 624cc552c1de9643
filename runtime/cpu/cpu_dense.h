/* cpu_dense.h -- what the dense kernels (Conv, ConvTranspose, MatMul, Gemm, the integer and
 * quantised convolutions, the recurrent ops) share: whole-tensor conversion to a working
 * float or double buffer, and matrix products through OpenBLAS's cblas interface.
 *
 * Why: a kernel that converted every element through a per-element type switch in its inner
 * loop ran a 160 GMAC fp16 CNN in more than 15 minutes. These kernels instead convert each
 * input once (f16/bf16/f32 to f32; f64 stays f64), compute in that type with BLAS, and convert
 * the output back once. A tensor already of the working type is used in place.
 *
 * Determinism: OpenBLAS computes each element of a product with a blocking that depends only
 * on the shapes, the kernel chosen for the processor (OPENBLAS_CORETYPE) and the thread count;
 * its level-3 threading splits M and N, never K, so the same shapes give the same bits run to
 * run on the same machine and environment. The kernels never change OpenBLAS's environment
 * (OPENBLAS_* variables are left as the machine sets them). Private to runtime/cpu. */
#ifndef M4NPU_RT_CPU_DENSE_H
#define M4NPU_RT_CPU_DENSE_H

#include <stdbool.h>
#include <stdint.h>

#include "ops_impl.h"

/* The working type of a float tensor: f64 stays f64, everything else computes in f32. */
static inline bool cpu_dense_is_f64(rt_dtype t)
{
    return t == RT_DT_F64;
}

/* t's elements as a contiguous f32 (f64) array: t->data itself when t already has that type
 * (*owned false), else a converted copy the caller frees (*owned true). NULL only when out of
 * memory (an error is set on c). Any storable numeric type converts (integers exactly where
 * the working type can hold them). */
float *cpu_dense_read_f32(const rt_op_ctx *c, const rt_tensor *t, bool *owned);
double *cpu_dense_read_f64(const rt_op_ctx *c, const rt_tensor *t, bool *owned);

/* A buffer to compute output t in: t->data when t has the working type, else a new buffer
 * (*owned true; not zeroed: the kernel writes every element). cpu_dense_commit_* converts an
 * owned buffer into t (floats round to nearest even, integers convert toward zero and wrap as
 * cpu_st does) and frees it. */
float *cpu_dense_out_f32(const rt_op_ctx *c, rt_tensor *t, bool *owned);
double *cpu_dense_out_f64(const rt_op_ctx *c, rt_tensor *t, bool *owned);
void cpu_dense_commit_f32(rt_tensor *t, float *buf, bool owned);
void cpu_dense_commit_f64(rt_tensor *t, double *buf, bool owned);

/* n f16 values to f32 and back (round to nearest even), vectorised where the processor can. */
void cpu_f16_to_f32_n(const uint16_t *src, float *dst, int64_t n);
void cpu_f32_to_f16_n(const float *src, uint16_t *dst, int64_t n);

/* Release a buffer from cpu_dense_read_* (const for the caller's convenience). */
void cpu_dense_release(const void *buf, bool owned);

/* Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, op = transpose when ta/tb.
 * lda, ldb, ldc are the row strides (in elements) of A, B, C as stored. Empty M, N are no-ops
 * and K == 0 scales C by beta (BLAS refuses zero leading dimensions). Every size must fit
 * cblas's int: RT_ERR_LIMIT with a message otherwise. */
rt_status cpu_gemm_f32(const rt_op_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
rt_status cpu_gemm_f64(const rt_op_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                       const double *A, int64_t lda, const double *B, int64_t ldb, double beta, double *C,
                       int64_t ldc);

#endif
