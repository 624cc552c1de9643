/* npu_weights.c -- build-time quantisation and packing of weights: symmetric per output
 * channel (or per group of K rows and output channel), int8 (levels -127..127) or int4 (-7..7,
 * packed two per byte, even index in the low nibble), or f16 normalised per output channel
 * (w / max|w| in binary16, the scale max|w|), in the storage layouts the firmware streams (npu_abi.h: BLOCKED for matmul, OHWI for
 * conv). The scale of a channel is max|w| / qmax, so its largest weight maps to +-qmax.
 */
#include <math.h>
#include <string.h>

#include "isa_exec.h"
#include "npu_internal.h"
#include "npu_twin.h"

#define NPU_INT8_QMAX 127.0f
#define NPU_INT4_QMAX 7.0f
#define NPU_F16_NORM 1.0f /* f16 weights are stored as w / max|w| of their channel: within [-1, 1] */

uint64_t npu_blocked_bytes(uint64_t k, uint64_t n, uint64_t nb, bool int4)
{
    uint64_t tiles = (n + nb - 1) / nb, last = n - (tiles - 1) * nb;
    if (int4)
        last = (last + 1) / 2 * 2;
    uint64_t el = (tiles - 1) * k * nb + k * last;
    return int4 ? el / 2 : el;
}

static float channel_scale(float amax, float qmax) { return amax > 0.0f && isfinite(amax) ? amax / qmax : 1.0f; }

static int8_t quantize_weight(float w, float scale, float qmax)
{
    int8_t q = npu_quantize(w, scale);
    return (int8_t)(q > qmax ? (int)qmax : q < -qmax ? -(int)qmax : q);
}

/* The f16 bits of w / scale (round to nearest even, saturated: the device's conversion). */
static uint16_t f16_weight(float w, float scale) { return isa_f32_to_f16_sat(w / scale); }

void npu_pack_blocked(const float *w, int64_t ks, int64_t ns, uint64_t k, uint64_t n, float alpha, uint64_t nb,
                      npu_weight_type wt, uint64_t group, uint8_t *dst, float *scales)
{
    bool int4 = wt == NPU_WEIGHTS_INT4, f16 = wt == NPU_WEIGHTS_F16;
    float qmax = int4 ? NPU_INT4_QMAX : f16 ? NPU_F16_NORM : NPU_INT8_QMAX;
    uint64_t g = group && !f16 && group < k ? group : k, ngroups = (k + g - 1) / g;
    memset(dst, 0, npu_blocked_bytes(k, n, nb, int4) * (f16 ? 2 : 1));
    for (uint64_t gi = 0; gi < ngroups; gi++)
        for (uint64_t j = 0; j < n; j++) {
            float amax = 0.0f;
            for (uint64_t i = gi * g; i < k && i < (gi + 1) * g; i++) {
                float v = fabsf(w[(int64_t)i * ks + (int64_t)j * ns] * alpha);
                if (v > amax)
                    amax = v;
            }
            scales[gi * n + j] = channel_scale(amax, qmax);
        }
    for (uint64_t j = 0; j < n; j++) {
        uint64_t blk = j / nb, col = j % nb, width = n - blk * nb < nb ? n - blk * nb : nb;
        if (int4)
            width = (width + 1) / 2 * 2;
        for (uint64_t i = 0; i < k; i++) {
            float x = w[(int64_t)i * ks + (int64_t)j * ns] * alpha, sc = scales[(i / g) * n + j];
            uint64_t e = blk * k * nb + i * width + col;
            if (f16) {
                uint16_t h = f16_weight(x, sc);
                dst[2 * e] = (uint8_t)(h & 0xFF);
                dst[2 * e + 1] = (uint8_t)(h >> 8);
                continue;
            }
            int8_t q = quantize_weight(x, sc, qmax);
            if (!int4) {
                dst[e] = (uint8_t)q;
                continue;
            }
            uint8_t nib = (uint8_t)q & 0xF;
            dst[e / 2] |= (uint8_t)(e % 2 ? nib << 4 : nib);
        }
    }
}

void npu_pack_ohwi(const float *w, uint64_t co, uint64_t c, uint64_t kh, uint64_t kw, bool f16, uint8_t *dst,
                   float *scales)
{
    uint64_t k = c * kh * kw;
    float qmax = f16 ? NPU_F16_NORM : NPU_INT8_QMAX;
    for (uint64_t o = 0; o < co; o++) {
        float amax = 0.0f;
        for (uint64_t i = 0; i < k; i++)
            if (fabsf(w[o * k + i]) > amax)
                amax = fabsf(w[o * k + i]);
        scales[o] = channel_scale(amax, qmax);
        for (uint64_t ci = 0; ci < c; ci++)
            for (uint64_t y = 0; y < kh; y++)
                for (uint64_t x = 0; x < kw; x++) {
                    float v = w[((o * c + ci) * kh + y) * kw + x];
                    uint64_t e = o * k + (y * kw + x) * c + ci;
                    if (f16) {
                        uint16_t h = f16_weight(v, scales[o]);
                        dst[2 * e] = (uint8_t)(h & 0xFF);
                        dst[2 * e + 1] = (uint8_t)(h >> 8);
                    } else {
                        dst[e] = (uint8_t)quantize_weight(v, scales[o], NPU_INT8_QMAX);
                    }
                }
    }
}

/* Element i of an i8 or packed i4 tensor (ONNX INT4: low nibble first, two's complement). */
static int8_t int_elem(const rt_tensor *w, uint64_t i)
{
    const uint8_t *p = w->data;
    if (w->dtype == RT_DT_I8)
        return (int8_t)p[i];
    uint8_t nib = i % 2 ? (uint8_t)(p[i / 2] >> 4) : (uint8_t)(p[i / 2] & 0xF);
    return (int8_t)(nib >= 8 ? (int)nib - 16 : (int)nib);
}

void npu_pack_blocked_int(const rt_tensor *w, uint64_t k, uint64_t n, uint64_t nb, bool int4, uint8_t *dst)
{
    memset(dst, 0, npu_blocked_bytes(k, n, nb, int4));
    for (uint64_t j = 0; j < n; j++) {
        uint64_t blk = j / nb, col = j % nb, width = n - blk * nb < nb ? n - blk * nb : nb;
        if (int4)
            width = (width + 1) / 2 * 2;
        for (uint64_t i = 0; i < k; i++) {
            int8_t q = int_elem(w, i * n + j);
            uint64_t e = blk * k * nb + i * width + col;
            if (!int4) {
                dst[e] = (uint8_t)q;
                continue;
            }
            if (q < -8 || q > 7) /* an int8 weight in an int4 layout is never asked for (int4 = source type) */
                q = q < -8 ? -8 : 7;
            dst[e / 2] |= (uint8_t)(e % 2 ? ((uint8_t)q & 0xF) << 4 : (uint8_t)q & 0xF);
        }
    }
}

void npu_pack_ohwi_int(const rt_tensor *w, uint64_t co, uint64_t c, uint64_t kh, uint64_t kw, uint8_t *dst)
{
    uint64_t k = c * kh * kw;
    for (uint64_t o = 0; o < co; o++)
        for (uint64_t ci = 0; ci < c; ci++)
            for (uint64_t y = 0; y < kh; y++)
                for (uint64_t x = 0; x < kw; x++)
                    dst[o * k + (y * kw + x) * c + ci] = (uint8_t)int_elem(w, ((o * c + ci) * kh + y) * kw + x);
}
