/* npu_weights.c -- build-time quantisation and packing of weights: symmetric per output
 * channel, int8 (levels -127..127) or int4 (-7..7, packed two per byte, even index in the low
 * nibble), in the storage layouts the firmware streams (npu_abi.h: BLOCKED for matmul, OHWI for
 * conv). The scale of a channel is max|w| / qmax, so its largest weight maps to +-qmax.
 */
#include <math.h>
#include <string.h>

#include "npu_internal.h"
#include "npu_twin.h"

#define NPU_INT8_QMAX 127.0f
#define NPU_INT4_QMAX 7.0f

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

void npu_pack_blocked(const float *w, int64_t ks, int64_t ns, uint64_t k, uint64_t n, float alpha, uint64_t nb,
                      bool int4, uint8_t *dst, float *scales)
{
    float qmax = int4 ? NPU_INT4_QMAX : NPU_INT8_QMAX;
    memset(dst, 0, npu_blocked_bytes(k, n, nb, int4));
    for (uint64_t j = 0; j < n; j++) {
        float amax = 0.0f;
        for (uint64_t i = 0; i < k; i++) {
            float v = fabsf(w[(int64_t)i * ks + (int64_t)j * ns] * alpha);
            if (v > amax)
                amax = v;
        }
        scales[j] = channel_scale(amax, qmax);
    }
    for (uint64_t j = 0; j < n; j++) {
        uint64_t blk = j / nb, col = j % nb, width = n - blk * nb < nb ? n - blk * nb : nb;
        if (int4)
            width = (width + 1) / 2 * 2;
        for (uint64_t i = 0; i < k; i++) {
            int8_t q = quantize_weight(w[(int64_t)i * ks + (int64_t)j * ns] * alpha, scales[j], qmax);
            uint64_t e = blk * k * nb + i * width + col;
            if (!int4) {
                dst[e] = (uint8_t)q;
                continue;
            }
            uint8_t nib = (uint8_t)q & 0xF;
            dst[e / 2] |= (uint8_t)(e % 2 ? nib << 4 : nib);
        }
    }
}

void npu_pack_ohwi(const float *w, uint64_t co, uint64_t c, uint64_t kh, uint64_t kw, uint8_t *dst, float *scales)
{
    uint64_t k = c * kh * kw;
    for (uint64_t o = 0; o < co; o++) {
        float amax = 0.0f;
        for (uint64_t i = 0; i < k; i++)
            if (fabsf(w[o * k + i]) > amax)
                amax = fabsf(w[o * k + i]);
        scales[o] = channel_scale(amax, NPU_INT8_QMAX);
        for (uint64_t ci = 0; ci < c; ci++)
            for (uint64_t y = 0; y < kh; y++)
                for (uint64_t x = 0; x < kw; x++)
                    dst[o * k + (y * kw + x) * c + ci] =
                        (uint8_t)quantize_weight(w[((o * c + ci) * kh + y) * kw + x], scales[o], NPU_INT8_QMAX);
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
