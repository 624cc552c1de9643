/* graph_tensor.c -- tensor shapes, byte sizes and free-standing value tensors. Every size is
 * computed with overflow checks: shapes come from untrusted files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

bool rt_tensor_shape_known(const rt_tensor *t)
{
    if (!t || t->rank < 0)
        return false;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0)
            return false;
    return true;
}

int64_t rt_tensor_numel(const rt_tensor *t)
{
    if (!rt_tensor_shape_known(t))
        return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] != 0 && n > RT_MAX_ELEMENTS / t->dims[i])
            return -1; /* cannot happen for checked shapes */
        n *= t->dims[i];
    }
    return n;
}

uint64_t rt_tensor_nbytes(const rt_tensor *t)
{
    int64_t n = rt_tensor_numel(t);
    if (n < 0)
        return 0;
    uint64_t b = rt_dtype_bytes(t->dtype, (uint64_t)n);
    return b == UINT64_MAX ? 0 : b;
}

rt_status rt_shape_check(int rank, const int64_t *dims, const char *what, rt_error *e)
{
    if (rank < 0 || rank > RT_MAX_RANK)
        return rt_error_set(e, RT_ERR_LIMIT, "%s: rank %d is outside 0..%d", what, rank, RT_MAX_RANK);
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == RT_DIM_UNKNOWN)
            continue;
        if (dims[i] < 0)
            return rt_error_set(e, RT_ERR_SHAPE, "%s: dimension %d is negative (%lld)", what, i,
                                (long long)dims[i]);
        if (dims[i] > RT_MAX_ELEMENTS || (dims[i] != 0 && n > RT_MAX_ELEMENTS / dims[i]))
            return rt_error_set(e, RT_ERR_LIMIT,
                                "%s: element count overflows (dimension %d = %lld; limit 2^48 elements)",
                                what, i, (long long)dims[i]);
        n *= dims[i];
    }
    return RT_OK;
}

const char *rt_shape_str(const rt_tensor *t, char *buf, size_t size)
{
    if (!t || t->rank < 0) {
        snprintf(buf, size, "[?]");
        return buf;
    }
    size_t off = 0;
    off += (size_t)snprintf(buf + off, size - off, "[");
    for (int i = 0; i < t->rank && off < size; i++) {
        if (t->dims[i] < 0)
            off += (size_t)snprintf(buf + off, size - off, "%s?", i ? "," : "");
        else
            off += (size_t)snprintf(buf + off, size - off, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    }
    if (off < size)
        snprintf(buf + off, size - off, "]");
    return buf;
}

rt_tensor *rt_tensor_new(const char *name, rt_dtype dtype, int rank, const int64_t *dims)
{
    if (rank > RT_MAX_RANK)
        return NULL;
    rt_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->name = strdup(name ? name : "");
    if (!t->name) {
        free(t);
        return NULL;
    }
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank && i < RT_MAX_RANK; i++)
        t->dims[i] = dims ? dims[i] : RT_DIM_UNKNOWN;
    t->kind = RT_TENSOR_ACTIVATION;
    t->producer = -1;
    return t;
}

rt_status rt_tensor_alloc(rt_tensor *t, rt_error *e)
{
    rt_status s = rt_shape_check(t->rank, t->dims, t->name, e);
    if (s != RT_OK)
        return s;
    if (!rt_tensor_shape_known(t))
        return rt_error_set(e, RT_ERR_SHAPE, "tensor '%s': shape not known, cannot allocate", t->name);
    if (!rt_dtype_storable(t->dtype))
        return rt_error_set(e, RT_ERR_DTYPE, "tensor '%s': data type %s cannot be stored", t->name,
                            rt_dtype_name(t->dtype));
    uint64_t bytes = rt_tensor_nbytes(t);
    if (bytes > RT_MAX_ALLOC_BYTES)
        return rt_error_set(e, RT_ERR_LIMIT, "tensor '%s': %llu bytes exceeds the %llu-byte limit",
                            t->name, (unsigned long long)bytes, (unsigned long long)RT_MAX_ALLOC_BYTES);
    free(t->data);
    t->data = calloc(1, bytes ? bytes : 1);
    if (!t->data) {
        t->data_bytes = 0;
        return rt_error_set(e, RT_ERR_NOMEM, "tensor '%s': cannot allocate %llu bytes", t->name,
                            (unsigned long long)bytes);
    }
    t->data_bytes = bytes;
    return RT_OK;
}

static int quant_copy(rt_quant *dst, const rt_quant *src)
{
    *dst = *src;
    dst->scales = NULL;
    dst->zero_points = NULL;
    if (src->scheme == RT_QUANT_NONE || src->count <= 0)
        return 0;
    dst->scales = malloc((size_t)src->count * sizeof(float));
    dst->zero_points = malloc((size_t)src->count * sizeof(int32_t));
    if (!dst->scales || !dst->zero_points)
        return -1;
    memcpy(dst->scales, src->scales, (size_t)src->count * sizeof(float));
    memcpy(dst->zero_points, src->zero_points, (size_t)src->count * sizeof(int32_t));
    return 0;
}

rt_tensor *rt_tensor_clone(const rt_tensor *src)
{
    rt_tensor *t = rt_tensor_new(src->name, src->dtype, src->rank < 0 ? 0 : src->rank, src->dims);
    if (!t)
        return NULL;
    t->rank = src->rank;
    t->kind = src->kind;
    t->producer = src->producer;
    if (quant_copy(&t->quant, &src->quant) != 0) {
        rt_tensor_free(t);
        return NULL;
    }
    if (src->data) {
        t->data = malloc(src->data_bytes ? src->data_bytes : 1);
        if (!t->data) {
            rt_tensor_free(t);
            return NULL;
        }
        memcpy(t->data, src->data, src->data_bytes);
        t->data_bytes = src->data_bytes;
    }
    return t;
}

void rt_tensor_free(rt_tensor *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->quant.scales);
    free(t->quant.zero_points);
    free(t->data);
    free(t);
}

int64_t rt_tensor_get_i64(const rt_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case RT_DT_I64: return ((const int64_t *)p)[i];
    case RT_DT_I32: return ((const int32_t *)p)[i];
    case RT_DT_I16: return ((const int16_t *)p)[i];
    case RT_DT_I8: return ((const int8_t *)p)[i];
    case RT_DT_U8: case RT_DT_BOOL: return ((const uint8_t *)p)[i];
    case RT_DT_U16: return ((const uint16_t *)p)[i];
    case RT_DT_U32: return ((const uint32_t *)p)[i];
    case RT_DT_U64: return (int64_t)((const uint64_t *)p)[i];
    case RT_DT_F32: return rt_f64_to_i64(((const float *)p)[i]);
    case RT_DT_F64: return rt_f64_to_i64(((const double *)p)[i]);
    case RT_DT_F16: return rt_f64_to_i64(rt_f16_to_f32(((const uint16_t *)p)[i]));
    case RT_DT_BF16: return rt_f64_to_i64(rt_bf16_to_f32(((const uint16_t *)p)[i]));
    case RT_DT_I4: {
        uint8_t b = ((const uint8_t *)p)[i / 2];
        int v = (i & 1) ? (b >> 4) : (b & 0xf);
        return v >= 8 ? v - 16 : v;
    }
    default: return 0;
    }
}

double rt_tensor_get_f64(const rt_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case RT_DT_F32: return ((const float *)t->data)[i];
    case RT_DT_F64: return ((const double *)t->data)[i];
    case RT_DT_F16: return rt_f16_to_f32(((const uint16_t *)t->data)[i]);
    case RT_DT_BF16: return rt_bf16_to_f32(((const uint16_t *)t->data)[i]);
    case RT_DT_U64: return (double)((const uint64_t *)t->data)[i];
    default: return (double)rt_tensor_get_i64(t, i);
    }
}
