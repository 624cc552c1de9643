/* cpu_util.c -- typed loads and stores, broadcasting iteration and strides for the CPU
 * reference kernels (see cpu_util.h). Correctness over speed: these are the numerics the NPU
 * path is checked against. */
#include <math.h>
#include <string.h>

#include "cpu_util.h"

double cpu_ld(rt_dtype t, const void *p, int64_t i)
{
    switch (t) {
    case RT_DT_F32: return ((const float *)p)[i];
    case RT_DT_F64: return ((const double *)p)[i];
    case RT_DT_F16: return rt_f16_to_f32(((const uint16_t *)p)[i]);
    case RT_DT_BF16: return rt_bf16_to_f32(((const uint16_t *)p)[i]);
    case RT_DT_U64: return (double)((const uint64_t *)p)[i];
    default: return (double)cpu_ldi(t, p, i);
    }
}

int64_t cpu_ldi(rt_dtype t, const void *p, int64_t i)
{
    switch (t) {
    case RT_DT_I64: return ((const int64_t *)p)[i];
    case RT_DT_I32: return ((const int32_t *)p)[i];
    case RT_DT_I16: return ((const int16_t *)p)[i];
    case RT_DT_I8: return ((const int8_t *)p)[i];
    case RT_DT_U8: return ((const uint8_t *)p)[i];
    case RT_DT_BOOL: return ((const uint8_t *)p)[i] != 0;
    case RT_DT_U16: return ((const uint16_t *)p)[i];
    case RT_DT_U32: return ((const uint32_t *)p)[i];
    case RT_DT_U64: return (int64_t)((const uint64_t *)p)[i];
    case RT_DT_I4: {
        uint8_t b = ((const uint8_t *)p)[i / 2];
        int v = (i & 1) ? (b >> 4) : (b & 0xf);
        return v >= 8 ? v - 16 : v;
    }
    default:
        return rt_f64_to_i64(cpu_ld(t, p, i));
    }
}

void cpu_sti(rt_dtype t, void *p, int64_t i, int64_t v)
{
    switch (t) {
    case RT_DT_I64: ((int64_t *)p)[i] = v; break;
    case RT_DT_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)v; break;
    case RT_DT_I16: ((int16_t *)p)[i] = (int16_t)(uint16_t)v; break;
    case RT_DT_I8: ((int8_t *)p)[i] = (int8_t)(uint8_t)v; break;
    case RT_DT_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case RT_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case RT_DT_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case RT_DT_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case RT_DT_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case RT_DT_I4: {
        uint8_t *b = (uint8_t *)p + i / 2, nib = (uint8_t)(v & 0xf);
        *b = (i & 1) ? (uint8_t)((*b & 0x0f) | (nib << 4)) : (uint8_t)((*b & 0xf0) | nib);
        break;
    }
    default: cpu_st(t, p, i, (double)v); break;
    }
}

void cpu_st(rt_dtype t, void *p, int64_t i, double v)
{
    switch (t) {
    case RT_DT_F32: ((float *)p)[i] = (float)v; return;
    case RT_DT_F64: ((double *)p)[i] = v; return;
    case RT_DT_F16: ((uint16_t *)p)[i] = rt_f32_to_f16((float)v); return;
    case RT_DT_BF16: ((uint16_t *)p)[i] = rt_f32_to_bf16((float)v); return;
    case RT_DT_BOOL: ((uint8_t *)p)[i] = v != 0; return;
    case RT_DT_U64:
        if (v >= 9.2233720368547758e18 && v < 1.8446744073709552e19) {
            ((uint64_t *)p)[i] = (uint64_t)v;
            return;
        }
        break;
    default: break;
    }
    cpu_sti(t, p, i, rt_f64_to_i64(v));
}

void cpu_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

void cpu_bcast_strides(const rt_tensor *t, int out_rank, const int64_t *out_dims, int64_t *strides)
{
    (void)out_dims;
    int64_t own[RT_MAX_RANK];
    cpu_strides(t->rank, t->dims, own);
    for (int d = 0; d < out_rank; d++) {
        int td = d - (out_rank - t->rank);
        strides[d] = (td < 0 || t->dims[td] == 1) ? 0 : own[td];
    }
}

void cpu_iter_init(cpu_iter *it, const rt_tensor *out, int n, const rt_tensor *const *ts)
{
    memset(it, 0, sizeof *it);
    it->rank = out->rank;
    it->n = n;
    memcpy(it->dims, out->dims, sizeof it->dims);
    for (int k = 0; k < n && k < CPU_ITER_MAX; k++)
        if (ts[k])
            cpu_bcast_strides(ts[k], out->rank, out->dims, it->strides[k]);
}

void cpu_iter_next(cpu_iter *it)
{
    for (int d = it->rank - 1; d >= 0; d--) {
        it->idx[d]++;
        for (int k = 0; k < it->n; k++)
            it->off[k] += it->strides[k][d];
        if (it->idx[d] < it->dims[d])
            return;
        for (int k = 0; k < it->n; k++)
            it->off[k] -= it->strides[k][d] * it->dims[d];
        it->idx[d] = 0;
    }
}

rt_status cpu_dtype_error(const rt_op_ctx *c, rt_dtype t)
{
    return ops_err(c, RT_ERR_DTYPE, "data type %s is not supported by the %s kernel", rt_dtype_name(t),
                   c->node->op_type);
}
