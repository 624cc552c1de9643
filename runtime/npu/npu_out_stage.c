/* npu_out_stage.c -- the parameters of the matmul tile's output stage (mm.out), computed from the
 * f32 scales when a segment is built.
 *
 * Why here: on NPUs the compiler turns scales into fixed-point multipliers and activation tables
 * (NVDLA's compiler fills the SDP's converter registers and LUT, TFLite's prepare step computes
 * each channel's multiplier and shift); the hardware only applies them. The runtime's lowering is
 * this project's compiler: it has every scale when it emits a descriptor, while the firmware never
 * reads tensor data. The arithmetic is specified in firmware/src/ops/README.md ("Output stage");
 * the device and the CPU twin both apply the records bit for bit through isa/isa_exec.c.
 */
#include <math.h>
#include <string.h>

#include "npu_internal.h"

/* A multiplier is normalised into [2^30, 2^31): 31 significant bits. */
#define MULT_FRAC_BITS 31
/* The largest right shift a record holds (its low 6 bits). */
#define SHIFT_MAX 63
/* |int8 x int8| <= 2^14: a bound on |acc| is k * 2^14, and the bias must leave that much room in
 * the int32 sum (at most 2^30 of it: beyond that the products themselves can wrap, as they can on
 * the vector path). */
#define PRODUCT_BOUND_LOG2 14
#define HEADROOM_MAX (1ll << 30)

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

bool npu_out_stage_channel(double acc_scale, double out_scale, double bias, uint64_t k, isa_mm_out_record *r)
{
    memset(r, 0, sizeof *r);
    double real = acc_scale / out_scale;
    if (!isfinite(real) || !isfinite(bias) || !(out_scale > 0.0))
        return false;
    if (real == 0.0) /* every result is 0: right only without a bias */
        return bias == 0.0;
    double bq = nearbyint(bias / acc_scale);
    long long headroom = k >= (uint64_t)(HEADROOM_MAX >> PRODUCT_BOUND_LOG2) ? HEADROOM_MAX
                                                                               : (long long)k << PRODUCT_BOUND_LOG2;
    if (!(fabs(bq) <= (double)(INT32_MAX - headroom)))
        return false;
    int e;
    double f = frexp(fabs(real), &e); /* |real| = f * 2^e, f in [0.5, 1) */
    long long mult = llround(ldexp(f, MULT_FRAC_BITS));
    if (mult == (1ll << MULT_FRAC_BITS)) { /* rounded up to 1.0 */
        mult >>= 1;
        e++;
    }
    int shift = MULT_FRAC_BITS - e;
    if (shift < 0)
        return false; /* |real| >= 2^31: no int8 result can use it */
    if (shift > SHIFT_MAX) {
        shift = SHIFT_MAX;
        mult = llround(ldexp(fabs(real), SHIFT_MAX));
    }
    r->bias = (int32_t)bq;
    r->mult = (int32_t)(real < 0.0 ? -mult : mult);
    r->shift = (uint32_t)shift;
    return true;
}

void npu_out_stage_put(uint8_t *dst, const isa_mm_out_record *r)
{
    put_le32(dst, (uint32_t)r->bias);
    put_le32(dst + 4, (uint32_t)r->mult);
    put_le32(dst + 8, r->shift);
}

/* HardSigmoid's output range [0, 1]. */
#define HARD_SIGMOID_LO 0.0
#define HARD_SIGMOID_HI 1.0

/* act (a fused enum npu_act) with its parameters prm (the descriptor's fattr), in double. */
static double activation(int32_t act, const float prm[2], double x)
{
    switch (act) {
    case NPU_ACT_RELU: return x > 0.0 ? x : 0.0;
    case NPU_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case NPU_ACT_SILU: return x / (1.0 + exp(-x));
    case NPU_ACT_CLIP: return fmin(fmax(x, (double)prm[0]), (double)prm[1]);
    case NPU_ACT_LEAKY: return x < 0.0 ? x * (double)prm[0] : x;
    case NPU_ACT_HARDSIGMOID: return fmin(fmax(x * (double)prm[0] + (double)prm[1], HARD_SIGMOID_LO), HARD_SIGMOID_HI);
    default: return x;
    }
}

void npu_out_stage_table(int8_t tab[ISA_MM_OUT_LUT_ENTRIES], int32_t act, const float prm[2], double in_scale,
                         double out_scale)
{
    for (int i = 0; i < ISA_MM_OUT_LUT_ENTRIES; i++) {
        double y = nearbyint(activation(act, prm, (double)(i + INT8_MIN) * in_scale) / out_scale);
        tab[i] = (int8_t)(y < INT8_MIN ? INT8_MIN : y > INT8_MAX ? INT8_MAX : isnan(y) ? 0 : y);
    }
}

/* Relu is the stage's clamp (lo = 0); none needs nothing; every other fused activation is a table. */
bool npu_out_stage_uses_table(int32_t act) { return act != NPU_ACT_NONE && act != NPU_ACT_RELU; }
