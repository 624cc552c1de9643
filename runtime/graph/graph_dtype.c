/* graph_dtype.c -- element types of the IR: sizes, names, classes, and the float16/bfloat16
 * conversions that the importer, the kernels and the conformance runner share. */
#include <math.h>
#include <string.h>

#include "graph.h"

unsigned rt_dtype_bits(rt_dtype t)
{
    switch (t) {
    case RT_DT_BOOL:
    case RT_DT_U8:
    case RT_DT_I8:
        return 8;
    case RT_DT_U16:
    case RT_DT_I16:
    case RT_DT_F16:
    case RT_DT_BF16:
        return 16;
    case RT_DT_F32:
    case RT_DT_I32:
    case RT_DT_U32:
        return 32;
    case RT_DT_F64:
    case RT_DT_I64:
    case RT_DT_U64:
        return 64;
    case RT_DT_I4:
        return 4;
    default:
        return 0;
    }
}

bool rt_dtype_storable(int t)
{
    return rt_dtype_bits((rt_dtype)t) != 0;
}

const char *rt_dtype_name(rt_dtype t)
{
    switch (t) {
    case RT_DT_F32: return "f32";
    case RT_DT_U8: return "u8";
    case RT_DT_I8: return "i8";
    case RT_DT_U16: return "u16";
    case RT_DT_I16: return "i16";
    case RT_DT_I32: return "i32";
    case RT_DT_I64: return "i64";
    case RT_DT_STRING: return "string";
    case RT_DT_BOOL: return "bool";
    case RT_DT_F16: return "f16";
    case RT_DT_F64: return "f64";
    case RT_DT_U32: return "u32";
    case RT_DT_U64: return "u64";
    case RT_DT_BF16: return "bf16";
    case RT_DT_I4: return "i4";
    case RT_DT_UNDEFINED: return "undefined";
    }
    return "?";
}

bool rt_dtype_is_float(rt_dtype t)
{
    return t == RT_DT_F32 || t == RT_DT_F16 || t == RT_DT_BF16 || t == RT_DT_F64;
}

bool rt_dtype_is_int(rt_dtype t)
{
    switch (t) {
    case RT_DT_U8: case RT_DT_I8: case RT_DT_U16: case RT_DT_I16: case RT_DT_I32:
    case RT_DT_I64: case RT_DT_U32: case RT_DT_U64: case RT_DT_I4:
        return true;
    default:
        return false;
    }
}

bool rt_dtype_is_signed(rt_dtype t)
{
    return t == RT_DT_I8 || t == RT_DT_I16 || t == RT_DT_I32 || t == RT_DT_I64 || t == RT_DT_I4;
}

uint64_t rt_dtype_bytes(rt_dtype t, uint64_t n)
{
    unsigned bits = rt_dtype_bits(t);
    if (bits == 0)
        return 0;
    if (n > UINT64_MAX / bits)
        return UINT64_MAX;
    return (n * bits + 7) / 8;
}

/* IEEE binary16 <-> binary32. */
float rt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t rt_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) /* inf or nan (keep a quiet nan) */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) { /* subnormal or zero */
        if (e < -10)
            return sign;
        man |= 0x800000;
        unsigned shift = (unsigned)(14 - e);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent, up to infinity: correct */
    return (uint16_t)(sign | half);
}

float rt_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t rt_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if (isnan(f))
        return (uint16_t)((x >> 16) | 0x40);
    uint32_t lsb = (x >> 16) & 1;
    x += 0x7fff + lsb;
    return (uint16_t)(x >> 16);
}

#define I64_LIMIT 0x1p63 /* 2^63: the first double above INT64_MAX; -2^63 is INT64_MIN exactly */

int64_t rt_f64_to_i64(double v)
{
    if (isnan(v))
        return 0;
    if (v >= I64_LIMIT)
        return INT64_MAX;
    if (v < -I64_LIMIT)
        return INT64_MIN;
    return (int64_t)v;
}
