/* cpu_util.h -- what the CPU reference kernels share: typed element load/store through double
 * or int64 (so one kernel covers every storable type), numpy broadcasting iteration, and
 * row-major index helpers. Private to runtime/cpu. */
#ifndef M4NPU_RT_CPU_UTIL_H
#define M4NPU_RT_CPU_UTIL_H

#include <stdint.h>

#include "ops_impl.h"

/* Element i of a buffer of type t, as double / int64 (bool as 0/1). */
double cpu_ld(rt_dtype t, const void *p, int64_t i);
int64_t cpu_ldi(rt_dtype t, const void *p, int64_t i);
/* Store v as element i: floats are rounded to the type (f16/bf16 round to nearest even);
 * integers convert toward zero, NaN to 0, and wrap to the type's width (bool: v != 0). */
void cpu_st(rt_dtype t, void *p, int64_t i, double v);
void cpu_sti(rt_dtype t, void *p, int64_t i, int64_t v);

/* Row-major strides (in elements) of a shape. */
void cpu_strides(int rank, const int64_t *dims, int64_t *strides);
/* Strides of t when broadcast to an output of out_rank dims (0 on broadcast axes). */
void cpu_bcast_strides(const rt_tensor *t, int out_rank, const int64_t *out_dims, int64_t *strides);

/* A multi-index walk over an output shape carrying up to CPU_ITER_MAX input offsets. */
#define CPU_ITER_MAX 8
typedef struct cpu_iter {
    int rank, n;
    int64_t dims[RT_MAX_RANK], idx[RT_MAX_RANK];
    int64_t strides[CPU_ITER_MAX][RT_MAX_RANK];
    int64_t off[CPU_ITER_MAX];
} cpu_iter;
/* Set up for inputs ts[0..n-1] broadcast to out. */
void cpu_iter_init(cpu_iter *it, const rt_tensor *out, int n, const rt_tensor *const *ts);
void cpu_iter_next(cpu_iter *it);

/* Advance a row-major multi-index over dims[0..rank-1] (last dim fastest); false after the last
 * index, when idx is back to all zeros. */
static inline bool cpu_next_index(int rank, const int64_t *dims, int64_t *idx)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (++idx[d] < dims[d])
            return true;
        idx[d] = 0;
    }
    return false;
}

static inline int64_t cpu_numel(const rt_tensor *t)
{
    return rt_tensor_numel(t);
}

/* Reject a dtype the kernel does not handle, naming it. */
rt_status cpu_dtype_error(const rt_op_ctx *c, rt_dtype t);

#endif
