/* isa_exec.c -- the functional semantics of the compute instructions (see isa_exec.h).
 *
 * Each instruction's semantics is a short function of its own, in the order of the table.
 * Integer paths are exact and portable; the fixed-point softmax is specified here in full so
 * that the RTL tile can implement exactly the same arithmetic.
 */
#include "isa_exec.h"
#include "isa_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ little-endian access */

static int32_t ld_i32(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t s;
    memcpy(&s, &v, sizeof s);
    return s;
}

static void st_i32(uint8_t *p, int32_t s)
{
    uint32_t v;
    memcpy(&v, &s, sizeof v);
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static float ld_f32(const uint8_t *p)
{
    int32_t s = ld_i32(p);
    float f;
    memcpy(&f, &s, sizeof f);
    return f;
}

static void st_f32(uint8_t *p, float f)
{
    int32_t s;
    memcpy(&s, &f, sizeof s);
    st_i32(p, s);
}

static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
static int32_t wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
static int32_t wrap_mul(int32_t a, int32_t b) { return (int32_t)((uint32_t)a * (uint32_t)b); }

/* Arithmetic shift right (floor division by 2^s), portable for negative values. */
static int64_t asr64(int64_t v, unsigned s) { return v >= 0 ? v >> s : ~((~v) >> s); }
static int32_t asr32(int32_t v, unsigned s) { return v >= 0 ? v >> s : ~((~v) >> s); }

static int8_t sat8(int64_t v) { return (int8_t)(v < INT8_MIN ? INT8_MIN : v > INT8_MAX ? INT8_MAX : v); }

/* ------------------------------------------------------------------ matmul tile */

int8_t isa_mm_requant(int32_t acc, uint32_t scale, uint32_t shift)
{
    int64_t v = (int64_t)acc * (int64_t)scale;
    if (shift)
        v += (int64_t)1 << (shift - 1);
    return sat8(asr64(v, shift));
}

/* The shift amount is the low 6 bits of the record's third word. */
#define MM_OUT_SHIFT_MASK 63u

isa_mm_out_record isa_mm_out_record_at(const uint8_t *p)
{
    isa_mm_out_record r;
    r.bias = ld_i32(p);
    r.mult = ld_i32(p + 4);
    r.shift = (uint32_t)ld_i32(p + 8) & MM_OUT_SHIFT_MASK;
    return r;
}

void isa_mm_out_load(isa_mm_stage *st, const isa_insn *in, const uint8_t *sram)
{
    uint32_t n = (uint32_t)ISA_GET(in, MM_OUT, N);
    const uint8_t *prm = sram + ISA_GET(in, MM_OUT, PRM);
    memset(st->rec, 0, sizeof st->rec);
    for (uint32_t r = 0; r < n && r < ISA_MM_OUT_MAX_RECORDS; r++)
        st->rec[r] = isa_mm_out_record_at(prm + (size_t)ISA_MM_OUT_RECORD_BYTES * r);
    st->per_channel = 1;
    st->axis = (uint32_t)ISA_GET(in, MM_OUT, AXIS);
    st->lut = (uint32_t)ISA_GET(in, MM_OUT, LUT);
    st->lo = (int32_t)ISA_GET(in, MM_OUT, LO);
    st->hi = (int32_t)ISA_GET(in, MM_OUT, HI);
    if (st->lut == ISA_LUT_ON)
        memcpy(st->tab, sram + ISA_GET(in, MM_OUT, TAB), sizeof st->tab);
    else
        memset(st->tab, 0, sizeof st->tab);
}

int8_t isa_mm_out_apply(const isa_mm_out_record *r, int32_t x, int32_t lo, int32_t hi, const int8_t *tab)
{
    int64_t p = (int64_t)wrap_add(x, r->bias) * (int64_t)r->mult; /* |p| <= 2^62: exact */
    int64_t y = p;
    if (r->shift)
        y = asr64(p, r->shift) + (asr64(p, r->shift - 1) & 1); /* half up, without an add that could overflow */
    int32_t v = sat8(y);
    v = v < lo ? lo : v > hi ? hi : v;
    return tab ? tab[v - INT8_MIN] : (int8_t)v;
}

static int8_t weight(const uint8_t *b, uint32_t n, int int4, uint32_t kk, uint32_t j)
{
    if (!int4)
        return (int8_t)b[(size_t)kk * n + j];
    uint8_t byte = b[(size_t)kk * (n / 2) + j / 2];
    uint8_t nib = (j % 2) ? (uint8_t)(byte >> 4) : (uint8_t)(byte & 0xF);
    return (int8_t)(nib >= 8 ? (int)nib - 16 : (int)nib);
}

static uint16_t ld_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void st_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static int16_t ld_i16(const uint8_t *p)
{
    uint16_t u = ld_u16(p);
    int16_t s;
    memcpy(&s, &u, sizeof s);
    return s;
}

#define F16_EXP_BIAS 15
#define F16_FRAC_BITS 10
#define F16_EXP_MAX 31
#define F16_MAX_BITS 0x7bffu

float isa_f16_to_f32(uint16_t h)
{
    int sign = h >> 15, e = (h >> F16_FRAC_BITS) & F16_EXP_MAX, f = h & 0x3ff;
    float v;
    if (e == 0)
        v = ldexpf((float)f, 1 - F16_EXP_BIAS - F16_FRAC_BITS); /* zero and subnormals */
    else if (e == F16_EXP_MAX) {
        uint32_t bits = 0x7f800000u | ((uint32_t)f << 13); /* infinity, or NaN with its payload */
        memcpy(&v, &bits, sizeof v);
    } else
        v = ldexpf((float)(f | 0x400), e - F16_EXP_BIAS - F16_FRAC_BITS);
    return sign ? -v : v;
}

uint16_t isa_f32_to_f16_sat(float x)
{
    if (isnan(x))
        return ISA_F16_QNAN;
    uint16_t sign = signbit(x) ? 0x8000u : 0;
    float a = fabsf(x);
    if (a >= ISA_F16_MAX)
        return sign | F16_MAX_BITS;
    int e;
    frexpf(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    int unbiased = e - 1;
    /* the quantum at a's binade (subnormals share the smallest normal binade's) */
    int q = (unbiased < 1 - F16_EXP_BIAS ? 1 - F16_EXP_BIAS : unbiased) - F16_FRAC_BITS;
    float m = nearbyintf(ldexpf(a, -q)); /* exact scaling; rounds to nearest even */
    uint32_t mi = (uint32_t)m;
    if (a == 0.0f)
        return sign;
    if (unbiased < 1 - F16_EXP_BIAS) /* subnormal (may round up into the smallest normal: same encoding) */
        return sign | (uint16_t)mi;
    if (mi == 1u << (F16_FRAC_BITS + 1)) { /* rounded up into the next binade */
        mi >>= 1;
        unbiased++;
    }
    if (unbiased > F16_EXP_BIAS) /* above 65504 after rounding: saturate */
        return sign | F16_MAX_BITS;
    return sign | (uint16_t)((unbiased + F16_EXP_BIAS) << F16_FRAC_BITS) | (uint16_t)(mi & 0x3ffu);
}

float isa_f32_canon(float x)
{
    if (!isnan(x))
        return x;
    uint32_t bits = ISA_F32_QNAN_BITS;
    float q;
    memcpy(&q, &bits, sizeof q);
    return q;
}

float isa_mm_f16_mac(float acc, float a, float b) { return isa_f32_canon(acc + isa_f32_canon(a * b)); }

/* Element (i, kk) of A and (kk, j) of B, integer or as f32 (an integer converts exactly). */
static int32_t mm_a_int(const uint8_t *a, int64_t at, uint32_t k, uint32_t i, uint32_t kk)
{
    size_t idx = (size_t)i * k + kk;
    return at == ISA_MMT_I8 ? (int8_t)a[idx] : ld_i16(a + 2 * idx);
}

static int32_t mm_b_int(const uint8_t *b, int64_t bt, int int4, uint32_t n, uint32_t kk, uint32_t j)
{
    return bt == ISA_MMT_I8 ? weight(b, n, int4, kk, j) : ld_i16(b + 2 * ((size_t)kk * n + j));
}

static float mm_a_f32(const uint8_t *a, int64_t at, uint32_t k, uint32_t i, uint32_t kk)
{
    return at == ISA_MMT_F16 ? isa_f16_to_f32(ld_u16(a + 2 * ((size_t)i * k + kk))) : (float)mm_a_int(a, at, k, i, kk);
}

static float mm_b_f32(const uint8_t *b, int64_t bt, int int4, uint32_t n, uint32_t kk, uint32_t j)
{
    return bt == ISA_MMT_F16 ? isa_f16_to_f32(ld_u16(b + 2 * ((size_t)kk * n + j))) : (float)mm_b_int(b, bt, int4, n, kk, j);
}

static isa_status exec_mm(isa_exec_ctx *ctx, const isa_insn *in, isa_error *err)
{
    uint32_t m = (uint32_t)ISA_GET(in, MM, M), n = (uint32_t)ISA_GET(in, MM, N), k = (uint32_t)ISA_GET(in, MM, K);
    const uint8_t *a = ctx->sram + ISA_GET(in, MM, A);
    const uint8_t *b = ctx->sram + ISA_GET(in, MM, B);
    uint8_t *c = ctx->sram + ISA_GET(in, MM, C);
    int acc = ISA_GET(in, MM, ACC) == ISA_ACC_ADD, rq = ISA_GET(in, MM, RQ) == ISA_RQ_ON;
    int bias = ISA_GET(in, MM, BIAS) == ISA_BIAS_ON, int4 = ISA_GET(in, MM, WT) == ISA_WT_I4;
    int64_t at = ISA_GET(in, MM, AT), bt = ISA_GET(in, MM, BT);
    int fmode = at == ISA_MMT_F16 || bt == ISA_MMT_F16;
    int32_t *out = malloc((size_t)m * n * sizeof *out); /* results first: C may overlap A or B */
    if (!out)
        return isa_fail(err, ISA_E_NOMEM, -1, "mm: out of memory");
    for (uint32_t i = 0; i < m; i++)
        for (uint32_t j = 0; j < n; j++) {
            if (fmode) { /* the sum from +0 in k order, then C + sum */
                float s = 0.0f;
                for (uint32_t kk = 0; kk < k; kk++)
                    s = isa_mm_f16_mac(s, mm_a_f32(a, at, k, i, kk), mm_b_f32(b, bt, int4, n, kk, j));
                if (acc)
                    s = isa_f32_canon(ld_f32(c + 4 * ((size_t)i * n + j)) + s);
                memcpy(&out[(size_t)i * n + j], &s, sizeof s);
                continue;
            }
            int32_t s = acc ? ld_i32(c + 4 * ((size_t)i * n + j)) : 0;
            for (uint32_t kk = 0; kk < k; kk++)
                s = wrap_add(s, wrap_mul(mm_a_int(a, at, k, i, kk), mm_b_int(b, bt, int4, n, kk, j)));
            if (bias)
                s = wrap_add(s, ld_i32(ctx->sram + ctx->mm_bias + 4 * j));
            out[(size_t)i * n + j] = s;
        }
    const isa_mm_stage *st = &ctx->mm_out;
    const int8_t *tab = st->lut == ISA_LUT_ON ? st->tab : NULL;
    for (size_t i = 0; i < (size_t)m * n; i++) {
        if (rq && st->per_channel)
            c[i] = (uint8_t)isa_mm_out_apply(&st->rec[st->axis == ISA_AXIS_ROW ? i / n : i % n], out[i], st->lo,
                                             st->hi, tab);
        else if (rq)
            c[i] = (uint8_t)isa_mm_requant(out[i], ctx->mm_scale, ctx->mm_shift);
        else
            st_i32(c + 4 * i, out[i]);
    }
    free(out);
    return ISA_OK;
}

/* ------------------------------------------------------------------ softmax tile */

static const uint16_t sm_lut[(1 << ISA_SM_LUT_BITS) + 1] = {
    /* round(16384 * 2^(i/32)), i = 0..32 */
    16384, 16743, 17109, 17484, 17867, 18258, 18658, 19066, 19484, 19911, 20347,
    20792, 21247, 21713, 22188, 22674, 23170, 23678, 24196, 24726, 25268, 25821,
    26386, 26964, 27554, 28158, 28774, 29405, 30048, 30706, 31379, 32066, 32768,
};

uint32_t isa_sm_lut(int i) { return (i >= 0 && i <= (1 << ISA_SM_LUT_BITS)) ? sm_lut[i] : 0; }

uint32_t isa_sm_exp2(int32_t u)
{
    const int frac_bits = ISA_SM_SCALE_FRAC_BITS;
    const int interp_bits = ISA_SM_SCALE_FRAC_BITS - ISA_SM_LUT_BITS; /* 7 */
    if (u > 0)
        u = 0;
    int32_t ip = asr32(u, frac_bits); /* floor(u / 4096) <= 0 */
    uint32_t f = (uint32_t)(u - ip * (1 << frac_bits));
    uint32_t idx = f >> interp_bits, fr = f & ((1u << interp_bits) - 1);
    uint32_t p = sm_lut[idx] + (((sm_lut[idx + 1] - sm_lut[idx]) * fr) >> interp_bits);
    uint32_t shift = (uint32_t)(-ip);
    return shift > ISA_SM_EXP_FRAC_BITS + 1 ? 0 : p >> shift;
}

void isa_sm_row(const int8_t *x, int8_t *y, uint32_t len, uint32_t row, uint32_t scale, int mask, int32_t moff)
{
    /* valid elements: j <= row + moff when masked */
    int64_t last = mask ? (int64_t)row + moff : (int64_t)len - 1;
    uint32_t nvalid = last < 0 ? 0 : (last >= (int64_t)len ? len : (uint32_t)last + 1);
    if (nvalid == 0) {
        memset(y, 0, len);
        return;
    }
    int32_t mx = x[0];
    for (uint32_t j = 1; j < nvalid; j++)
        if (x[j] > mx)
            mx = x[j];
    uint32_t sum = 0;
    for (uint32_t j = 0; j < nvalid; j++)
        sum += isa_sm_exp2((x[j] - mx) * (int32_t)scale);
    uint64_t recip = ((uint64_t)1 << ISA_SM_RECIP_BITS) / sum; /* sum >= 16384: the max element */
    const unsigned out_shift = ISA_SM_RECIP_BITS - ISA_SM_OUT_FRAC_BITS;
    for (uint32_t j = 0; j < len; j++) {
        if (j >= nvalid) {
            y[j] = 0;
            continue;
        }
        uint64_t e = isa_sm_exp2((x[j] - mx) * (int32_t)scale);
        uint64_t q = (e * recip + ((uint64_t)1 << (out_shift - 1))) >> out_shift;
        y[j] = (int8_t)(q > 127 ? 127 : q);
    }
}

static isa_status exec_sm(isa_exec_ctx *ctx, const isa_insn *in, isa_error *err)
{
    uint32_t len = (uint32_t)ISA_GET(in, SM, LEN), rows = (uint32_t)ISA_GET(in, SM, ROWS);
    const int8_t *src = (const int8_t *)(ctx->sram + ISA_GET(in, SM, SRC));
    int8_t *dst = (int8_t *)(ctx->sram + ISA_GET(in, SM, DST));
    int8_t *tmp = malloc(len); /* src and dst may be the same */
    if (!tmp)
        return isa_fail(err, ISA_E_NOMEM, -1, "sm: out of memory");
    for (uint32_t r = 0; r < rows; r++) {
        isa_sm_row(src + (size_t)r * len, tmp, len, r, (uint32_t)ISA_GET(in, SM, SCALE),
                   ISA_GET(in, SM, MASK) == ISA_MASK_CAUSAL, (int32_t)ISA_GET(in, SM, MOFF));
        memcpy(dst + (size_t)r * len, tmp, len);
    }
    free(tmp);
    return ISA_OK;
}

/* ------------------------------------------------------------------ vector unit */

static float binop_f32(int64_t fn, float a, float b)
{
    switch (fn) {
    case ISA_BINOP_ADD: return a + b;
    case ISA_BINOP_SUB: return a - b;
    case ISA_BINOP_MUL: return a * b;
    case ISA_BINOP_DIV: return a / b;
    case ISA_BINOP_MAX: return fmaxf(a, b);
    case ISA_BINOP_MIN: return fminf(a, b);
    default: return powf(a, b);
    }
}

static int32_t binop_i32(int64_t fn, int32_t a, int32_t b)
{
    switch (fn) {
    case ISA_BINOP_ADD: return wrap_add(a, b);
    case ISA_BINOP_SUB: return wrap_sub(a, b);
    case ISA_BINOP_MUL: return wrap_mul(a, b);
    case ISA_BINOP_MAX: return a > b ? a : b;
    default: return a < b ? a : b; /* MIN; div and pow are f32-only (isa_check) */
    }
}

static isa_status exec_vbin(isa_exec_ctx *ctx, const isa_insn *in)
{
    uint32_t rows = (uint32_t)ISA_GET(in, VBIN, ROWS), cols = (uint32_t)ISA_GET(in, VBIN, COLS);
    const uint8_t *a = ctx->sram + ISA_GET(in, VBIN, A), *b = ctx->sram + ISA_GET(in, VBIN, B);
    uint8_t *d = ctx->sram + ISA_GET(in, VBIN, DST);
    int64_t fn = ISA_GET(in, VBIN, FN), bc = ISA_GET(in, VBIN, BC);
    int f32 = ISA_GET(in, VBIN, DT) == ISA_DT_F32;
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            size_t bi = bc == ISA_BC_ROW ? c : bc == ISA_BC_COL ? r : bc == ISA_BC_SCALAR ? 0 : i;
            if (f32)
                st_f32(d + 4 * i, binop_f32(fn, ld_f32(a + 4 * i), ld_f32(b + 4 * bi)));
            else
                st_i32(d + 4 * i, binop_i32(fn, ld_i32(a + 4 * i), ld_i32(b + 4 * bi)));
        }
    return ISA_OK;
}

#define INV_SQRT2_F 0.70710678118654752f
static float gelu(float x) { return 0.5f * x * (1.0f + erff(x * INV_SQRT2_F)); }
static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

static float unop_f32(int64_t fn, float x, float imm)
{
    switch (fn) {
    case ISA_UNOP_RELU: return x > 0.0f ? x : 0.0f;
    case ISA_UNOP_ABS: return fabsf(x);
    case ISA_UNOP_NEG: return -x;
    case ISA_UNOP_EXP: return expf(x);
    case ISA_UNOP_LOG: return logf(x);
    case ISA_UNOP_SQRT: return sqrtf(x);
    case ISA_UNOP_RSQRT: return 1.0f / sqrtf(x);
    case ISA_UNOP_RECIP: return 1.0f / x;
    case ISA_UNOP_SIGMOID: return sigmoid(x);
    case ISA_UNOP_TANH: return tanhf(x);
    case ISA_UNOP_ERF: return erff(x);
    case ISA_UNOP_GELU: return gelu(x);
    case ISA_UNOP_SILU: return x * sigmoid(x);
    case ISA_UNOP_SQUARE: return x * x;
    case ISA_UNOP_MULI: return x * imm;
    case ISA_UNOP_ADDI: return x + imm;
    case ISA_UNOP_MAXI: return fmaxf(x, imm);
    case ISA_UNOP_MINI: return fminf(x, imm);
    case ISA_UNOP_LEAKY: return x < 0.0f ? x * imm : x;
    case ISA_UNOP_SIN: return sinf(x);
    default: return cosf(x);
    }
}

/* imm as an integer for i32 data: truncated toward zero, saturated, NaN -> 0. */
static int32_t imm_i32(float imm)
{
    if (isnan(imm))
        return 0;
    if (imm >= 2147483647.0f)
        return INT32_MAX;
    if (imm <= -2147483648.0f)
        return INT32_MIN;
    return (int32_t)imm;
}

static int32_t unop_i32(int64_t fn, int32_t x, int32_t imm)
{
    switch (fn) {
    case ISA_UNOP_RELU: return x > 0 ? x : 0;
    case ISA_UNOP_ABS: return x < 0 ? wrap_sub(0, x) : x;
    case ISA_UNOP_NEG: return wrap_sub(0, x);
    case ISA_UNOP_SQUARE: return wrap_mul(x, x);
    case ISA_UNOP_MULI: return wrap_mul(x, imm);
    case ISA_UNOP_ADDI: return wrap_add(x, imm);
    case ISA_UNOP_MAXI: return x > imm ? x : imm;
    default: return x < imm ? x : imm; /* MINI; the rest are f32-only (isa_check) */
    }
}

static isa_status exec_vun(isa_exec_ctx *ctx, const isa_insn *in)
{
    size_t cnt = (size_t)ISA_GET(in, VUN, ROWS) * (size_t)ISA_GET(in, VUN, COLS);
    const uint8_t *s = ctx->sram + ISA_GET(in, VUN, SRC);
    uint8_t *d = ctx->sram + ISA_GET(in, VUN, DST);
    int64_t fn = ISA_GET(in, VUN, FN);
    float imm = isa_get_f32(in, ISA_F(VUN, IMM));
    if (ISA_GET(in, VUN, DT) == ISA_DT_F32)
        for (size_t i = 0; i < cnt; i++)
            st_f32(d + 4 * i, unop_f32(fn, ld_f32(s + 4 * i), imm));
    else
        for (size_t i = 0; i < cnt; i++)
            st_i32(d + 4 * i, unop_i32(fn, ld_i32(s + 4 * i), imm_i32(imm)));
    return ISA_OK;
}

static isa_status exec_vred(isa_exec_ctx *ctx, const isa_insn *in)
{
    uint32_t rows = (uint32_t)ISA_GET(in, VRED, ROWS), cols = (uint32_t)ISA_GET(in, VRED, COLS);
    const uint8_t *s = ctx->sram + ISA_GET(in, VRED, SRC);
    uint8_t *d = ctx->sram + ISA_GET(in, VRED, DST);
    int64_t fn = ISA_GET(in, VRED, FN);
    int f32 = ISA_GET(in, VRED, DT) == ISA_DT_F32;
    for (uint32_t r = 0; r < rows; r++) {
        const uint8_t *row = s + 4 * (size_t)r * cols;
        if (f32) {
            double acc = fn == ISA_REDOP_SUM || fn == ISA_REDOP_MEAN ? 0.0 : ld_f32(row);
            for (uint32_t c = 0; c < cols; c++) {
                float x = ld_f32(row + 4 * c);
                if (fn == ISA_REDOP_MAX)
                    acc = fmax(acc, x);
                else if (fn == ISA_REDOP_MIN)
                    acc = fmin(acc, x);
                else
                    acc += x;
            }
            if (fn == ISA_REDOP_MEAN)
                acc /= cols;
            st_f32(d + 4 * r, (float)acc);
        } else {
            int32_t acc = fn == ISA_REDOP_SUM ? 0 : ld_i32(row);
            for (uint32_t c = 0; c < cols; c++) {
                int32_t x = ld_i32(row + 4 * c);
                if (fn == ISA_REDOP_MAX)
                    acc = x > acc ? x : acc;
                else if (fn == ISA_REDOP_MIN)
                    acc = x < acc ? x : acc;
                else
                    acc = wrap_add(acc, x);
            }
            st_i32(d + 4 * r, acc);
        }
    }
    return ISA_OK;
}

static isa_status exec_vnorm(isa_exec_ctx *ctx, const isa_insn *in)
{
    uint32_t rows = (uint32_t)ISA_GET(in, VNORM, ROWS), cols = (uint32_t)ISA_GET(in, VNORM, COLS);
    const uint8_t *s = ctx->sram + ISA_GET(in, VNORM, SRC), *prm = ctx->sram + ISA_GET(in, VNORM, PRM);
    uint8_t *d = ctx->sram + ISA_GET(in, VNORM, DST);
    int rms = ISA_GET(in, VNORM, FN) == ISA_NORM_RMS;
    int64_t aff = ISA_GET(in, VNORM, AFF);
    double eps = pow(10.0, -(double)ISA_GET(in, VNORM, EPS));
    for (uint32_t r = 0; r < rows; r++) {
        const uint8_t *x = s + 4 * (size_t)r * cols;
        uint8_t *y = d + 4 * (size_t)r * cols;
        double mean = 0.0, var = 0.0;
        if (!rms) {
            for (uint32_t c = 0; c < cols; c++)
                mean += ld_f32(x + 4 * c);
            mean /= cols;
        }
        for (uint32_t c = 0; c < cols; c++) {
            double v = ld_f32(x + 4 * c) - mean;
            var += v * v;
        }
        var /= cols;
        float inv = (float)(1.0 / sqrt(var + eps));
        for (uint32_t c = 0; c < cols; c++) {
            float v = (float)(ld_f32(x + 4 * c) - mean) * inv;
            if (aff != ISA_AFF_NONE)
                v *= ld_f32(prm + 4 * c);
            if (aff == ISA_AFF_GAMMA_BETA)
                v += ld_f32(prm + 4 * ((size_t)cols + c));
            st_f32(y + 4 * c, v);
        }
    }
    return ISA_OK;
}

static isa_status exec_vquant(isa_exec_ctx *ctx, const isa_insn *in)
{
    size_t n = (size_t)ISA_GET(in, VQUANT, N);
    const uint8_t *s = ctx->sram + ISA_GET(in, VQUANT, SRC);
    int8_t *d = (int8_t *)(ctx->sram + ISA_GET(in, VQUANT, DST));
    float scale = isa_get_f32(in, ISA_F(VQUANT, SCALE));
    for (size_t i = 0; i < n; i++) {
        float q = nearbyintf(ld_f32(s + 4 * i) / scale); /* default rounding: half to even */
        d[i] = isnan(q) ? 0 : (int8_t)(q < -128.0f ? -128 : q > 127.0f ? 127 : (int)q);
    }
    return ISA_OK;
}

static isa_status exec_vdequant(isa_exec_ctx *ctx, const isa_insn *in)
{
    size_t n = (size_t)ISA_GET(in, VDEQUANT, N);
    const uint8_t *s = ctx->sram + ISA_GET(in, VDEQUANT, SRC);
    uint8_t *d = ctx->sram + ISA_GET(in, VDEQUANT, DST);
    float scale = isa_get_f32(in, ISA_F(VDEQUANT, SCALE));
    int i8 = ISA_GET(in, VDEQUANT, SDT) == ISA_SDT_I8;
    /* backwards, so that an int8 source may sit at the start of its own f32 destination */
    for (size_t i = n; i-- > 0;) {
        float x = i8 ? (float)(int8_t)s[i] : (float)ld_i32(s + 4 * i);
        st_f32(d + 4 * i, x * scale);
    }
    return ISA_OK;
}

static size_t cdt_size(int64_t t) { return t == ISA_CDT_I8 ? 1 : t == ISA_CDT_I16 || t == ISA_CDT_F16 ? 2 : 4; }

/* A source element as the value v.cvt converts. */
static float cvt_load(const uint8_t *p, int64_t t)
{
    switch (t) {
    case ISA_CDT_I8: return (float)(int8_t)p[0];
    case ISA_CDT_I16: return (float)ld_i16(p);
    case ISA_CDT_I32: return (float)ld_i32(p);
    case ISA_CDT_F16: return isa_f16_to_f32(ld_u16(p));
    default: return ld_f32(p);
    }
}

/* round_half_even(x) saturated to [lo, hi]; NaN to 0. */
static int32_t cvt_int(float x, float lo, float hi)
{
    float q = nearbyintf(x);
    if (isnan(q))
        return 0;
    if (q <= lo)
        return (int32_t)lo;
    return q >= hi ? (q >= 2147483647.0f ? INT32_MAX : (int32_t)hi) : (int32_t)q;
}

static void cvt_store(uint8_t *p, int64_t t, float x, float scale)
{
    switch (t) {
    case ISA_CDT_I8: p[0] = (uint8_t)(int8_t)cvt_int(x / scale, -128.0f, 127.0f); break;
    case ISA_CDT_I16: st_u16(p, (uint16_t)(int16_t)cvt_int(x / scale, -32768.0f, 32767.0f)); break;
    case ISA_CDT_I32: st_i32(p, cvt_int(x / scale, -2147483648.0f, 2147483647.0f)); break;
    case ISA_CDT_F16: st_u16(p, isa_f32_to_f16_sat(x / scale)); break;
    default: st_f32(p, x * scale); break;
    }
}

static isa_status exec_vcvt(isa_exec_ctx *ctx, const isa_insn *in)
{
    size_t n = (size_t)ISA_GET(in, VCVT, N);
    int64_t sdt = ISA_GET(in, VCVT, SDT), ddt = ISA_GET(in, VCVT, DDT);
    size_t se = cdt_size(sdt), de = cdt_size(ddt);
    const uint8_t *s = ctx->sram + ISA_GET(in, VCVT, SRC);
    uint8_t *d = ctx->sram + ISA_GET(in, VCVT, DST);
    float scale = isa_get_f32(in, ISA_F(VCVT, SCALE));
    if (de > se) /* widening in place: last first */
        for (size_t i = n; i-- > 0;)
            cvt_store(d + de * i, ddt, cvt_load(s + se * i, sdt), scale);
    else
        for (size_t i = 0; i < n; i++)
            cvt_store(d + de * i, ddt, cvt_load(s + se * i, sdt), scale);
    return ISA_OK;
}

static isa_status exec_vmov(isa_exec_ctx *ctx, const isa_insn *in)
{
    uint32_t rows = (uint32_t)ISA_GET(in, VMOV, ROWS), cols = (uint32_t)ISA_GET(in, VMOV, COLS);
    size_t e = (size_t)1 << ISA_GET(in, VMOV, ESZ);
    size_t ss = (size_t)ISA_GET(in, VMOV, SSTRIDE), ds = (size_t)ISA_GET(in, VMOV, DSTRIDE);
    const uint8_t *s = ctx->sram + ISA_GET(in, VMOV, SRC);
    uint8_t *d = ctx->sram + ISA_GET(in, VMOV, DST);
    int transpose = ISA_GET(in, VMOV, FN) == ISA_MOV_TRANSPOSE;
    for (uint32_t r = 0; r < rows; r++) {
        if (!transpose) {
            memcpy(d + (size_t)r * ds * e, s + (size_t)r * ss * e, cols * e);
            continue;
        }
        for (uint32_t c = 0; c < cols; c++)
            memcpy(d + ((size_t)c * ds + r) * e, s + ((size_t)r * ss + c) * e, e);
    }
    return ISA_OK;
}

/* ------------------------------------------------------------------ dispatch */

isa_status isa_exec(isa_exec_ctx *ctx, const isa_insn *in, isa_error *err)
{
    const isa_insn_desc *d = isa_desc(in->op);
    if (!d || (d->unit != ISA_EXEC_MM && d->unit != ISA_EXEC_SM && d->unit != ISA_EXEC_VEC))
        return isa_fail(err, ISA_E_CONSTRAINT, -1, "%s is not a compute instruction", d ? d->mnemonic : "?");
    isa_sram_range r[ISA_MAX_SRAM_RANGES];
    int n = isa_sram_ranges(in, &ctx->mm_bias, r);
    for (int i = 0; i < n; i++)
        if ((uint64_t)r[i].addr + r[i].len > ctx->sram_bytes)
            return isa_fail(err, ISA_E_LIMIT, -1, "%s: SRAM %s [0x%x, 0x%llx) exceeds the %u-byte SRAM",
                            d->mnemonic, r[i].write ? "write" : "read", r[i].addr,
                            (unsigned long long)(r[i].addr + r[i].len), ctx->sram_bytes);
    if (err) {
        err->status = ISA_OK;
        err->field = -1;
        err->msg[0] = '\0';
    }
    switch (in->op) {
    case ISA_OP_MM: return exec_mm(ctx, in, err);
    case ISA_OP_MM_CFG:
        ctx->mm_bias = (uint32_t)ISA_GET(in, MM_CFG, BIAS);
        ctx->mm_scale = (uint32_t)ISA_GET(in, MM_CFG, SCALE);
        ctx->mm_shift = (uint32_t)ISA_GET(in, MM_CFG, SHIFT);
        ctx->mm_out.per_channel = 0;
        return ISA_OK;
    case ISA_OP_MM_OUT:
        isa_mm_out_load(&ctx->mm_out, in, ctx->sram);
        return ISA_OK;
    case ISA_OP_SM: return exec_sm(ctx, in, err);
    case ISA_OP_VBIN: return exec_vbin(ctx, in);
    case ISA_OP_VUN: return exec_vun(ctx, in);
    case ISA_OP_VRED: return exec_vred(ctx, in);
    case ISA_OP_VNORM: return exec_vnorm(ctx, in);
    case ISA_OP_VQUANT: return exec_vquant(ctx, in);
    case ISA_OP_VDEQUANT: return exec_vdequant(ctx, in);
    case ISA_OP_VMOV: return exec_vmov(ctx, in);
    case ISA_OP_VCVT: return exec_vcvt(ctx, in);
    default: return ISA_E_CONSTRAINT;
    }
}
