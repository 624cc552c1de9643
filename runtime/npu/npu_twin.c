/* npu_twin.c -- the CPU twin of the firmware's operator kernels (see npu_twin.h).
 *
 * Each op is computed over whole tensors in plain loops; only the primitive f32 steps run on a
 * small scratch "SRAM" through isa_exec(), so that they are the very functions the device's
 * units run (same libm calls, same accumulation order). The order of steps per element is the
 * one firmware/src/ops/README.md specifies for each op.
 */
#include "npu_twin.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa_exec.h"
#include "npu_attention.h"
#include "npu_twin_internal.h"

#define TW_SCRATCH_BYTES (4u << 20) /* holds a row of 65535 f32 with its gamma and beta, 4 times over */
#define TW_PIECE_ELEMS 65535u       /* elements per scratch instruction (the vector cols field) */

int tw_fail(tw *t, const char *fmt, ...)
{
    if (!t->failed) {
        char msg[RT_ERROR_MSG_BYTES];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        t->st = rt_error_set(t->e, RT_ERR_ARG, "op descriptor %u: %s", t->op, msg);
        t->failed = 1;
    }
    return -1;
}

static int tw_exec(tw *t, const isa_insn *in)
{
    isa_error err;
    if (t->failed)
        return -1;
    if (isa_check(in, &err) != ISA_OK || isa_exec(&t->x, in, &err) != ISA_OK)
        return tw_fail(t, "%s", err.msg);
    return 0;
}

int8_t npu_quantize(float x, float scale)
{
    float q = nearbyintf(x / scale); /* v.quant: round half to even, saturate, NaN -> 0 */
    if (isnan(q))
        return 0;
    return (int8_t)(q < -128.0f ? -128 : q > 127.0f ? 127 : (int)q);
}

/* ---------------------------------------------------------------- primitive steps */

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

void tw_un(tw *t, int64_t fn, float *x, uint64_t n, float imm)
{
    for (uint64_t i = 0; i < n && !t->failed; i += TW_PIECE_ELEMS) {
        uint64_t k = min_u64(TW_PIECE_ELEMS, n - i);
        memcpy(t->x.sram, x + i, k * F32);
        isa_insn in = isa_insn_make(ISA_OP_VUN);
        ISA_SET(&in, VUN, FN, fn);
        ISA_SET(&in, VUN, DT, ISA_DT_F32);
        ISA_SET(&in, VUN, COLS, k);
        isa_set_f32(&in, ISA_F(VUN, IMM), imm);
        tw_exec(t, &in);
        memcpy(x + i, t->x.sram, k * F32);
    }
}

/* dst = fn(a, b') over rows x cols; b' by bc (ISA_BC_*). */
void tw_bin(tw *t, int64_t fn, int64_t bc, float *dst, const float *a, const float *b, uint64_t rows, uint64_t cols)
{
    if (bc == ISA_BC_NONE || bc == ISA_BC_SCALAR) {
        uint64_t n = rows * cols;
        for (uint64_t i = 0; i < n && !t->failed; i += TW_PIECE_ELEMS) {
            uint64_t k = min_u64(TW_PIECE_ELEMS, n - i);
            memcpy(t->x.sram, a + i, k * F32);
            memcpy(t->x.sram + k * F32, bc == ISA_BC_SCALAR ? b : b + i, (bc == ISA_BC_SCALAR ? 1 : k) * F32);
            isa_insn in = isa_insn_make(ISA_OP_VBIN);
            ISA_SET(&in, VBIN, FN, fn);
            ISA_SET(&in, VBIN, DT, ISA_DT_F32);
            ISA_SET(&in, VBIN, BC, bc);
            ISA_SET(&in, VBIN, B, k * F32);
            ISA_SET(&in, VBIN, COLS, k);
            tw_exec(t, &in);
            memcpy(dst + i, t->x.sram, k * F32);
        }
        return;
    }
    if (cols > TW_PIECE_ELEMS) {
        tw_fail(t, "rows of %llu elements", (unsigned long long)cols);
        return;
    }
    for (uint64_t r = 0; r < rows && !t->failed; r++) { /* one row at a time: b is its row or its value */
        memcpy(t->x.sram, a + r * cols, cols * F32);
        memcpy(t->x.sram + cols * F32, bc == ISA_BC_ROW ? b : b + r, (bc == ISA_BC_ROW ? cols : 1) * F32);
        isa_insn in = isa_insn_make(ISA_OP_VBIN);
        ISA_SET(&in, VBIN, FN, fn);
        ISA_SET(&in, VBIN, DT, ISA_DT_F32);
        ISA_SET(&in, VBIN, BC, bc == ISA_BC_ROW ? ISA_BC_ROW : ISA_BC_SCALAR);
        ISA_SET(&in, VBIN, B, cols * F32);
        ISA_SET(&in, VBIN, COLS, cols);
        tw_exec(t, &in);
        memcpy(dst + r * cols, t->x.sram, cols * F32);
    }
}

void tw_quant(tw *t, int8_t *dst, const float *src, uint64_t n, float scale)
{
    for (uint64_t i = 0; i < n && !t->failed; i += TW_PIECE_ELEMS) {
        uint64_t k = min_u64(TW_PIECE_ELEMS, n - i);
        memcpy(t->x.sram, src + i, k * F32);
        isa_insn in = isa_insn_make(ISA_OP_VQUANT);
        ISA_SET(&in, VQUANT, DST, k * F32);
        ISA_SET(&in, VQUANT, N, k);
        isa_set_f32(&in, ISA_F(VQUANT, SCALE), scale);
        tw_exec(t, &in);
        memcpy(dst + i, t->x.sram + k * F32, k);
    }
}

/* dst = (float)src * scale for int8 (sdt ISA_SDT_I8) or int32 sources. */
void tw_dequant(tw *t, int64_t sdt, float *dst, const void *src, uint64_t n, float scale)
{
    uint64_t esz = sdt == ISA_SDT_I8 ? 1 : 4;
    for (uint64_t i = 0; i < n && !t->failed; i += TW_PIECE_ELEMS) {
        uint64_t k = min_u64(TW_PIECE_ELEMS, n - i);
        memcpy(t->x.sram, (const uint8_t *)src + i * esz, k * esz);
        isa_insn in = isa_insn_make(ISA_OP_VDEQUANT);
        ISA_SET(&in, VDEQUANT, SDT, sdt);
        ISA_SET(&in, VDEQUANT, DST, k * 4);
        ISA_SET(&in, VDEQUANT, N, k);
        isa_set_f32(&in, ISA_F(VDEQUANT, SCALE), scale);
        tw_exec(t, &in);
        memcpy(dst + i, t->x.sram + k * 4, k * F32);
    }
}

static uint64_t cdt_bytes(int64_t t) { return t == ISA_CDT_I8 ? 1 : t == ISA_CDT_I16 || t == ISA_CDT_F16 ? 2 : 4; }

/* v.cvt of n elements from src (type sdt) to dst (type ddt): the device's conversions. */
static void tw_cvt(tw *t, int64_t sdt, int64_t ddt, void *dst, const void *src, uint64_t n, float scale)
{
    uint64_t se = cdt_bytes(sdt), de = cdt_bytes(ddt);
    for (uint64_t i = 0; i < n && !t->failed; i += TW_PIECE_ELEMS) {
        uint64_t k = min_u64(TW_PIECE_ELEMS, n - i);
        memcpy(t->x.sram, (const uint8_t *)src + i * se, k * se);
        isa_insn in = isa_insn_make(ISA_OP_VCVT);
        ISA_SET(&in, VCVT, SDT, sdt);
        ISA_SET(&in, VCVT, DDT, ddt);
        ISA_SET(&in, VCVT, DST, k * 4);
        ISA_SET(&in, VCVT, N, k);
        isa_set_f32(&in, ISA_F(VCVT, SCALE), scale);
        tw_exec(t, &in);
        memcpy((uint8_t *)dst + i * de, t->x.sram + k * 4, k * de);
    }
}

/* In place, row by row; prm = gamma[cols] then beta[cols] (as aff needs). */
static void tw_norm(tw *t, int64_t fn, int64_t aff, float *x, uint64_t rows, uint64_t cols, const float *gamma,
                    const float *beta, int eps)
{
    if (cols > TW_PIECE_ELEMS)
        tw_fail(t, "rows of %llu elements", (unsigned long long)cols);
    for (uint64_t r = 0; r < rows && !t->failed; r++) {
        memcpy(t->x.sram, x + r * cols, cols * F32);
        if (gamma)
            memcpy(t->x.sram + cols * F32, gamma, cols * F32);
        if (beta)
            memcpy(t->x.sram + 2 * cols * F32, beta, cols * F32);
        isa_insn in = isa_insn_make(ISA_OP_VNORM);
        ISA_SET(&in, VNORM, FN, fn);
        ISA_SET(&in, VNORM, AFF, aff);
        ISA_SET(&in, VNORM, PRM, cols * F32);
        ISA_SET(&in, VNORM, COLS, cols);
        ISA_SET(&in, VNORM, EPS, eps);
        tw_exec(t, &in);
        memcpy(x + r * cols, t->x.sram, cols * F32);
    }
}

static void tw_red(tw *t, int64_t fn, float *dst, const float *x, uint64_t rows, uint64_t cols)
{
    if (cols > TW_PIECE_ELEMS)
        tw_fail(t, "rows of %llu elements", (unsigned long long)cols);
    for (uint64_t r = 0; r < rows && !t->failed; r++) {
        memcpy(t->x.sram, x + r * cols, cols * F32);
        isa_insn in = isa_insn_make(ISA_OP_VRED);
        ISA_SET(&in, VRED, FN, fn);
        ISA_SET(&in, VRED, DT, ISA_DT_F32);
        ISA_SET(&in, VRED, DST, cols * F32);
        ISA_SET(&in, VRED, COLS, cols);
        tw_exec(t, &in);
        memcpy(dst + r, t->x.sram + cols * F32, F32);
    }
}

/* ---------------------------------------------------------------- tensors */

static uint64_t numel(const npu_tensor_ref *r)
{
    uint64_t n = 1;
    for (uint32_t i = 0; i < r->rank && i < NPU_MAX_RANK; i++)
        n *= (uint64_t)r->dims[i];
    return n;
}

/* dims[rank - k] (k = 1: the innermost), or 1 past the rank. */
static uint64_t dim_end(const npu_tensor_ref *r, uint32_t k)
{
    return k >= 1 && k <= r->rank && r->rank <= NPU_MAX_RANK ? (uint64_t)r->dims[r->rank - k] : 1;
}

static int shape_ok(const npu_tensor_ref *r)
{
    if (r->rank < 1 || r->rank > NPU_MAX_RANK)
        return 0;
    for (uint32_t i = 0; i < r->rank; i++)
        if (r->dims[i] < 1)
            return 0;
    return 1;
}

static uint32_t esz(uint32_t dt) { return dt == NPU_DT_I8 ? 1 : dt == NPU_DT_I16 || dt == NPU_DT_F16 ? 2 : 4; }

static int act_dtype(uint32_t dt)
{
    return dt == NPU_DT_I8 || dt == NPU_DT_F32 || dt == NPU_DT_I16 || dt == NPU_DT_F16;
}

/* The bytes [offset, offset + bytes) of buffer r->buf, or NULL (error set). */
static uint8_t *span(tw *t, npu_twin_buf *bufs, uint32_t nbufs, uint32_t buf, uint64_t offset, uint64_t bytes,
                     const char *what)
{
    if (buf >= nbufs || !bufs[buf].data || offset > bufs[buf].size || bytes > bufs[buf].size - offset) {
        tw_fail(t, "%s: [%llu, +%llu) is outside buffer %u", what, (unsigned long long)offset,
                (unsigned long long)bytes, buf);
        return NULL;
    }
    return bufs[buf].data + offset;
}

static uint8_t *tensor(tw *t, npu_twin_buf *bufs, uint32_t nbufs, const npu_tensor_ref *r, const char *what)
{
    if (r->rank < 1 || r->rank > NPU_MAX_RANK || !act_dtype(r->dtype)) {
        tw_fail(t, "%s: rank %u dtype %u", what, r->rank, r->dtype);
        return NULL;
    }
    return span(t, bufs, nbufs, r->buf, r->offset, numel(r) * esz(r->dtype), what);
}

/* An activation as f32 (malloc'd, n elements). */
static float *load_f32(tw *t, const npu_tensor_ref *r, const uint8_t *p)
{
    uint64_t n = numel(r);
    float *v = malloc((n ? n : 1) * F32);
    if (!v) {
        tw_fail(t, "out of memory");
        return NULL;
    }
    if (r->dtype == NPU_DT_I8)
        tw_dequant(t, ISA_SDT_I8, v, p, n, r->scale);
    else if (r->dtype == NPU_DT_I16)
        tw_cvt(t, ISA_CDT_I16, ISA_CDT_F32, v, p, n, r->scale);
    else if (r->dtype == NPU_DT_F16)
        tw_cvt(t, ISA_CDT_F16, ISA_CDT_F32, v, p, n, 1.0f);
    else
        memcpy(v, p, n * F32);
    return v;
}

static void store_f32(tw *t, const npu_tensor_ref *r, uint8_t *p, const float *v, uint64_t n)
{
    if (r->dtype == NPU_DT_I8)
        tw_quant(t, (int8_t *)p, v, n, r->scale);
    else if (r->dtype == NPU_DT_I16)
        tw_cvt(t, ISA_CDT_F32, ISA_CDT_I16, p, v, n, r->scale);
    else if (r->dtype == NPU_DT_F16)
        tw_cvt(t, ISA_CDT_F32, ISA_CDT_F16, p, v, n, 1.0f);
    else
        memcpy(p, v, n * F32);
}

/* ---------------------------------------------------------------- ops */

/* Weight element (k, n) of in1 for batch bi, as the layouts of npu_abi.h say. */
/* Storage index of element (k, n) of in1 for batch bi, as the layouts of npu_abi.h say. */
static uint64_t weight_index(int int4, int blocked, uint64_t nb, uint64_t K, uint64_t N, uint64_t bi, uint64_t k,
                             uint64_t n)
{
    if (!blocked)
        return bi * K * N + k * N + n;
    uint64_t j = n / nb, wj = N - j * nb < nb ? N - j * nb : nb;
    uint64_t width = int4 ? (wj + 1) / 2 * 2 : wj;
    return j * K * nb + k * width + n % nb;
}

static int16_t ld16(const uint8_t *p)
{
    uint16_t u = (uint16_t)(p[0] | p[1] << 8);
    int16_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* An integer operand element (i8, i4, i16) at storage index idx. */
static int32_t int_elem(const uint8_t *w, uint32_t dtype, uint64_t idx)
{
    switch (dtype) {
    case NPU_DT_I16: return ld16(w + 2 * idx);
    case NPU_DT_I4: {
        uint8_t byte = w[idx / 2];
        uint8_t nib = idx % 2 ? (uint8_t)(byte >> 4) : (uint8_t)(byte & 0xF);
        return nib >= 8 ? (int)nib - 16 : (int)nib;
    }
    default: return (int8_t)w[idx];
    }
}

/* An operand element as the f16 mode sees it: f16 bits as f32, or an integer (exact). */
static float float_elem(const uint8_t *w, uint32_t dtype, uint64_t idx)
{
    return dtype == NPU_DT_F16 ? isa_f16_to_f32((uint16_t)(w[2 * idx] | w[2 * idx + 1] << 8))
                               : (float)int_elem(w, dtype, idx);
}

/* The output stage's form of the epilogue (in2 of dtype i32): `channels` records, then the table
 * for an activation other than none and relu; the clamp from the activation (relu: lo 0). -1
 * (error set) if in2 is short or the output is not i8. */
typedef struct tw_stage {
    const uint8_t *rec;
    const int8_t *tab;
    int32_t lo, hi;
} tw_stage;

static int stage_of(tw *t, const npu_op_desc *d, int32_t act, uint64_t channels, npu_twin_buf *bufs, uint32_t nbufs,
                    tw_stage *st)
{
    int table = act != NPU_ACT_NONE && act != NPU_ACT_RELU;
    uint64_t rec_bytes = ISA_MM_OUT_RECORD_BYTES * channels;
    const uint8_t *p = span(t, bufs, nbufs, d->in[2].buf, d->in[2].offset,
                            rec_bytes + (table ? ISA_MM_OUT_LUT_ENTRIES : 0), "in2 (output-stage parameters)");
    if (!p)
        return -1;
    if (d->out.dtype != NPU_DT_I8)
        return tw_fail(t, "the output stage writes i8, out is dtype %u", d->out.dtype);
    st->rec = p;
    st->tab = table ? (const int8_t *)(p + rec_bytes) : NULL;
    st->lo = act == NPU_ACT_RELU ? 0 : INT8_MIN;
    st->hi = INT8_MAX;
    return 0;
}

static int8_t stage_apply(const tw_stage *st, uint64_t channel, int32_t acc)
{
    isa_mm_out_record r = isa_mm_out_record_at(st->rec + ISA_MM_OUT_RECORD_BYTES * channel);
    return isa_mm_out_apply(&r, acc, st->lo, st->hi, st->tab);
}

/* The array's products as f32 times s_deq (acc: n int32, or n f32 in the f16 mode), then the
 * epilogue shared by matmul and conv: per-channel scales ws, bias, the activation (ws and bias
 * indexed by the channel of each element: chan(i) = i, a row broadcast). */
static void products_f32(tw *t, const int32_t *acc, float *y, uint64_t n, int fmode, float s_deq)
{
    if (fmode)
        tw_cvt(t, ISA_CDT_F32, ISA_CDT_F32, y, acc, n, s_deq);
    else
        tw_dequant(t, ISA_SDT_I32, y, acc, n, s_deq);
}

static void epilogue_rest(tw *t, float *y, uint64_t n, const float *ws, const float *bias, int32_t act,
                          const float *prm)
{
    if (ws)
        tw_bin(t, ISA_BINOP_MUL, ISA_BC_ROW, y, y, ws, 1, n);
    if (bias)
        tw_bin(t, ISA_BINOP_ADD, ISA_BC_ROW, y, y, bias, 1, n);
    tw_activation(t, act, prm, y, n);
}

/* The longest K a 16 x 8 int32 sum may have (firmware/src/ops/op_matmul.c, README.md). */
#define TW_WIDE_INT_MAX_K 511

static void op_matmul(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *a = &d->in[0], *b = &d->in[1], *o = &d->out;
    uint64_t K = dim_end(a, 1), M = dim_end(a, 2);
    uint64_t rows = numel(a) / K, N = dim_end(b, 1);
    int int4 = b->dtype == NPU_DT_I4, blocked = d->iattr[1] == NPU_LAYOUT_BLOCKED, batched = b->rank > 2;
    int fmode = a->dtype == NPU_DT_F16 || b->dtype == NPU_DT_F16;
    int wide_int = !fmode && (a->dtype == NPU_DT_I16 || b->dtype == NPU_DT_I16);
    uint64_t nb = blocked ? (uint64_t)d->iattr[2] : N, ntiles = (N + nb - 1) / nb;
    uint64_t welems; /* elements the layout spans */
    if (blocked) {
        uint64_t last = N - (ntiles - 1) * nb;
        welems = (ntiles - 1) * K * nb + K * (int4 ? (last + 1) / 2 * 2 : last);
    } else {
        welems = numel(b);
    }
    uint64_t wbytes = int4 ? (welems + 1) / 2 : welems * esz(b->dtype);
    const uint8_t *pa = tensor(t, bufs, nbufs, a, "in0");
    const uint8_t *pb = span(t, bufs, nbufs, b->buf, b->offset, wbytes, "in1");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!pa || !pb || !po || nb == 0 || numel(o) != rows * N || d->iattr[3] < 0)
        return (void)tw_fail(t, "matmul operands");
    /* K chunks summed in f32 (the descriptor decides them): per-group scales, or a 16 x 8 sum
     * longer than an int32 holds */
    uint64_t group = (uint64_t)d->iattr[3], kacc = group ? (group < K ? group : K) : 0;
    if (!group && wide_int && K > TW_WIDE_INT_MAX_K)
        kacc = TW_WIDE_INT_MAX_K;
    uint64_t nchunks = kacc ? (K + kacc - 1) / kacc : 1;
    const float *ws = NULL, *gs = NULL, *bias = NULL;
    float sa = a->dtype == NPU_DT_F16 ? 1.0f : a->scale, sb = b->dtype == NPU_DT_F16 ? 1.0f : b->scale;
    float s_deq = sa;
    if (b->scales_axis >= 0) {
        const float *sc = (const float *)span(t, bufs, nbufs, b->scales_buf, b->scales_offset,
                                              4 * N * (group ? nchunks : 1), "in1 scales");
        if (group)
            gs = sc;
        else
            ws = sc;
    } else {
        s_deq = sa * sb;
    }
    tw_stage st = {0};
    int stage = d->n_inputs >= 3 && d->in[2].dtype == NPU_DT_I32;
    if (stage && (kacc || fmode))
        return (void)tw_fail(t, "output-stage parameters with K summed in f32 chunks or the f16 mode");
    if (stage && stage_of(t, d, d->iattr[0], N, bufs, nbufs, &st))
        return;
    if (d->n_inputs >= 3 && !stage)
        bias = (const float *)span(t, bufs, nbufs, d->in[2].buf, d->in[2].offset, 4 * N, "in2");
    int32_t *acc = malloc(N * sizeof *acc);
    float *y = malloc(N * F32), *yc = malloc(N * F32);
    for (uint64_t r = 0; r < rows && acc && y && yc && !t->failed; r++) {
        uint64_t bi = batched ? r / M : 0;
        for (uint64_t c = 0; c < nchunks && !t->failed; c++) {
            uint64_t k0 = c * (kacc ? kacc : K), k1 = kacc && k0 + kacc < K ? k0 + kacc : K;
            for (uint64_t n = 0; n < N; n++) {
                if (fmode) { /* the array's f32 sum in k order, from +0 */
                    float s = 0.0f;
                    for (uint64_t k = k0; k < k1; k++)
                        s = isa_mm_f16_mac(s, float_elem(pa, a->dtype, r * K + k),
                                           float_elem(pb, b->dtype, weight_index(int4, blocked, nb, K, N, bi, k, n)));
                    memcpy(&acc[n], &s, sizeof s);
                    continue;
                }
                uint32_t s = 0; /* int32 accumulation wraps, as the array's */
                for (uint64_t k = k0; k < k1; k++)
                    s += (uint32_t)(int_elem(pa, a->dtype, r * K + k) *
                                    int_elem(pb, b->dtype, weight_index(int4, blocked, nb, K, N, bi, k, n)));
                memcpy(&acc[n], &s, sizeof s);
            }
            float *dst = c == 0 ? y : yc;
            products_f32(t, acc, dst, N, fmode, s_deq);
            if (gs)
                tw_bin(t, ISA_BINOP_MUL, ISA_BC_ROW, dst, dst, gs + c * N, 1, N);
            if (c > 0)
                tw_bin(t, ISA_BINOP_ADD, ISA_BC_NONE, y, y, yc, 1, N);
        }
        if (stage) { /* the int32 sums (one chunk) through the records */
            for (uint64_t n = 0; n < N; n++)
                po[r * N + n] = (uint8_t)stage_apply(&st, n, acc[n]);
            continue;
        }
        epilogue_rest(t, y, N, ws, bias, d->iattr[0], d->fattr);
        store_f32(t, o, po + r * N * esz(o->dtype), y, N);
    }
    if (!acc || !y || !yc)
        tw_fail(t, "out of memory");
    free(acc);
    free(y);
    free(yc);
}

static void op_conv(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *w = &d->in[1], *o = &d->out;
    uint64_t N = (uint64_t)x->dims[0], C = (uint64_t)x->dims[1], H = (uint64_t)x->dims[2], W = (uint64_t)x->dims[3];
    uint64_t CO = (uint64_t)w->dims[0], KH = (uint64_t)w->dims[2], KW = (uint64_t)w->dims[3];
    uint64_t sh = (uint64_t)d->iattr[0], sw = (uint64_t)d->iattr[1];
    uint64_t OH = (uint64_t)o->dims[2], OW = (uint64_t)o->dims[3], K = KH * KW * C;
    int fmode = x->dtype == NPU_DT_F16 || w->dtype == NPU_DT_F16;
    const uint8_t *px = tensor(t, bufs, nbufs, x, "in0");
    const uint8_t *pw = span(t, bufs, nbufs, w->buf, w->offset, CO * K * esz(w->dtype), "in1");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!px || !pw || !po)
        return;
    float sx = x->dtype == NPU_DT_F16 ? 1.0f : x->scale, sw_ = w->dtype == NPU_DT_F16 ? 1.0f : w->scale;
    float s_deq = sx;
    const float *ws = NULL, *bias = NULL;
    tw_stage st = {0};
    int stage = d->n_inputs >= 3 && d->in[2].dtype == NPU_DT_I32;
    if (stage && fmode)
        return (void)tw_fail(t, "output-stage parameters in the f16 mode");
    if (stage && stage_of(t, d, d->iattr[6], CO, bufs, nbufs, &st))
        return;
    if (w->scales_axis == 0)
        ws = (const float *)span(t, bufs, nbufs, w->scales_buf, w->scales_offset, 4 * CO, "in1 scales");
    else
        s_deq = sx * sw_;
    if (d->n_inputs >= 3 && !stage)
        bias = (const float *)span(t, bufs, nbufs, d->in[2].buf, d->in[2].offset, 4 * CO, "in2");
    uint64_t P = OH * OW;
    int32_t *acc = malloc(P * sizeof *acc);
    float *y = malloc(P * F32);
    for (uint64_t img = 0; img < N && acc && y && !t->failed; img++)
        for (uint64_t co = 0; co < CO && !t->failed; co++) {
            for (uint64_t oh = 0; oh < OH; oh++)
                for (uint64_t ow = 0; ow < OW; ow++) {
                    uint32_t s = 0;   /* integer: int32, wrapping */
                    float f = 0.0f;   /* f16 mode: the array's f32 sum in k = (kh, kw, c) order */
                    for (uint64_t i = 0; i < KH; i++)
                        for (uint64_t j = 0; j < KW; j++)
                            for (uint64_t c = 0; c < C; c++) {
                                uint64_t xi = ((img * C + c) * H + oh * sh + i) * W + ow * sw + j;
                                uint64_t wi = co * K + (i * KW + j) * C + c;
                                if (fmode)
                                    f = isa_mm_f16_mac(f, float_elem(pw, w->dtype, wi), float_elem(px, x->dtype, xi));
                                else
                                    s += (uint32_t)(int_elem(px, x->dtype, xi) * int_elem(pw, w->dtype, wi));
                            }
                    if (fmode)
                        memcpy(&acc[oh * OW + ow], &f, sizeof f);
                    else
                        memcpy(&acc[oh * OW + ow], &s, sizeof s);
                }
            if (stage) { /* channel co's record, for its whole plane */
                for (uint64_t i = 0; i < P; i++)
                    po[(img * CO + co) * P + i] = (uint8_t)stage_apply(&st, co, acc[i]);
                continue;
            }
            /* channel co's scale and bias apply to its whole plane (a column broadcast on the device) */
            products_f32(t, acc, y, P, fmode, s_deq);
            tw_channel_epilogue_f32(t, y, P, ws ? ws + co : NULL, bias ? bias + co : NULL, d->iattr[6], d->fattr);
            store_f32(t, o, po + (img * CO + co) * P * esz(o->dtype), y, P);
        }
    if (!acc || !y)
        tw_fail(t, "out of memory");
    free(acc);
    free(y);
}

/* The vector unit's softmax of one f32 row in place over its first `valid` elements (the rest
 * +0): max, x - max, exp, sum, e / sum (firmware/src/ops/README.md, "SOFTMAX"). */
static void softmax_row_f32(tw *t, float *v, uint64_t len, uint64_t valid)
{
    float st;
    if (valid > 0) {
        tw_red(t, ISA_REDOP_MAX, &st, v, 1, valid);
        tw_bin(t, ISA_BINOP_SUB, ISA_BC_SCALAR, v, v, &st, 1, valid);
        tw_un(t, ISA_UNOP_EXP, v, valid, 0.0f);
        tw_red(t, ISA_REDOP_SUM, &st, v, 1, valid);
        tw_bin(t, ISA_BINOP_DIV, ISA_BC_SCALAR, v, v, &st, 1, valid);
    }
    memset(v + valid, 0, (len - valid) * F32);
}

static void op_softmax(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    uint64_t len = dim_end(x, 1), rows = numel(x) / len;
    uint64_t mrows = dim_end(x, 2);
    const uint8_t *px = tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!px || !po)
        return;
    int causal = d->iattr[0] == 1;
    if (x->dtype != NPU_DT_I8) { /* the vector unit, in f32 */
        float *v = load_f32(t, x, px);
        for (uint64_t r = 0; v && r < rows && !t->failed; r++) {
            int64_t last = causal ? (int64_t)(r % mrows) + d->iattr[1] : (int64_t)len - 1;
            uint64_t valid = last < 0 ? 0 : (uint64_t)last + 1 >= len ? len : (uint64_t)last + 1;
            softmax_row_f32(t, v + r * len, len, valid);
        }
        if (v)
            store_f32(t, o, po, v, rows * len);
        free(v);
        return;
    }
    uint32_t scale = (uint32_t)((double)x->scale * 1.4426950408889634 * (double)(1 << ISA_SM_SCALE_FRAC_BITS) + 0.5);
    int8_t *row = malloc(len);
    float *f = malloc(len * F32);
    for (uint64_t r = 0; r < rows && row && f && !t->failed; r++) {
        isa_sm_row((const int8_t *)px + r * len, row, (uint32_t)len, (uint32_t)(r % mrows), scale, causal, d->iattr[1]);
        if (o->dtype == NPU_DT_I8) {
            memcpy(po + r * len, row, len);
        } else { /* the tile's Q0.7 through f32 to the output's type */
            tw_dequant(t, ISA_SDT_I8, f, row, len, 1.0f / (float)(1 << ISA_SM_OUT_FRAC_BITS));
            store_f32(t, o, po + r * len * esz(o->dtype), f, len);
        }
    }
    if (!row || !f)
        tw_fail(t, "out of memory");
    free(row);
    free(f);
}

static void op_binary(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *a = &d->in[0], *b = &d->in[1], *o = &d->out;
    uint64_t n = numel(a), cols = dim_end(a, 1), rows = n / cols, nb = numel(b);
    uint64_t blast = dim_end(b, 1);
    int64_t bc = nb == 1                           ? ISA_BC_SCALAR
                 : nb == n && blast == cols        ? ISA_BC_NONE
                 : nb == cols && blast == cols     ? ISA_BC_ROW
                 : blast == 1 && nb == rows        ? ISA_BC_COL
                                                   : -1;
    const uint8_t *pa = tensor(t, bufs, nbufs, a, "in0"), *pb = tensor(t, bufs, nbufs, b, "in1");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!pa || !pb || !po || bc < 0)
        return (void)tw_fail(t, "binary operands");
    float *va = load_f32(t, a, pa), *vb = load_f32(t, b, pb);
    int64_t fn = d->iattr[0];
    if (va && vb) {
        if (d->iattr[1] && fn == ISA_BINOP_SUB) { /* reversed: b - a = -(a - b) */
            tw_bin(t, ISA_BINOP_SUB, bc, va, va, vb, rows, cols);
            tw_un(t, ISA_UNOP_NEG, va, n, 0.0f);
        } else if (d->iattr[1] && fn == ISA_BINOP_DIV) { /* reversed: b / a = (1 / a) * b */
            tw_un(t, ISA_UNOP_RECIP, va, n, 0.0f);
            tw_bin(t, ISA_BINOP_MUL, bc, va, va, vb, rows, cols);
        } else {
            tw_bin(t, fn, bc, va, va, vb, rows, cols);
        }
        store_f32(t, o, po, va, n);
    }
    free(va);
    free(vb);
}

static void op_unary(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *a = &d->in[0], *o = &d->out;
    const uint8_t *pa = tensor(t, bufs, nbufs, a, "in0");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!pa || !po)
        return;
    float *v = load_f32(t, a, pa);
    if (v) {
        tw_un(t, d->iattr[0], v, numel(a), d->fattr[0]);
        store_f32(t, o, po, v, numel(a));
    }
    free(v);
}

static int eps_exponent(float eps)
{
    double p = 1.0;
    for (int x = 0; x <= 31; x++) {
        if (fabs((double)eps - p) <= p * 1e-4)
            return x;
        p /= 10.0;
    }
    return -1;
}

static void op_norm(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    int group = d->iattr[0] == NPU_NORM_GROUP, eps = eps_exponent(d->fattr[0]);
    uint64_t n = numel(x), cols, rows, chans = 0;
    if (group) {
        chans = (uint64_t)x->dims[1];
        rows = (uint64_t)x->dims[0] * (uint64_t)d->iattr[1];
        cols = n / rows;
    } else {
        cols = dim_end(x, 1);
        rows = n / cols;
    }
    uint64_t pcount = group ? chans : cols;
    const float *gamma = NULL, *beta = NULL;
    if (d->n_inputs > 1 && d->in[1].buf != NPU_NO_BUFFER)
        gamma = (const float *)span(t, bufs, nbufs, d->in[1].buf, d->in[1].offset, 4 * pcount, "in1");
    if (d->n_inputs > 2 && d->in[2].buf != NPU_NO_BUFFER)
        beta = (const float *)span(t, bufs, nbufs, d->in[2].buf, d->in[2].offset, 4 * pcount, "in2");
    const uint8_t *px = tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!px || !po || eps < 0)
        return (void)tw_fail(t, "norm operands");
    float *v = load_f32(t, x, px);
    if (v) {
        int64_t fn = d->iattr[0] == NPU_NORM_RMS ? ISA_NORM_RMS : ISA_NORM_LAYER;
        if (group) {
            tw_norm(t, fn, ISA_AFF_NONE, v, rows, cols, NULL, NULL, eps);
            uint64_t spatial = n / ((uint64_t)x->dims[0] * chans);
            for (uint64_t r = 0; gamma && r < n / spatial; r++) { /* per channel: a column broadcast */
                tw_bin(t, ISA_BINOP_MUL, ISA_BC_SCALAR, v + r * spatial, v + r * spatial, gamma + r % chans, 1,
                       spatial);
                if (beta)
                    tw_bin(t, ISA_BINOP_ADD, ISA_BC_SCALAR, v + r * spatial, v + r * spatial, beta + r % chans, 1,
                           spatial);
            }
        } else {
            int64_t aff = !gamma ? ISA_AFF_NONE : beta ? ISA_AFF_GAMMA_BETA : ISA_AFF_GAMMA;
            tw_norm(t, fn, aff, v, rows, cols, gamma, beta, eps);
        }
        store_f32(t, o, po, v, n);
    }
    free(v);
}

static void op_reduce(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    uint64_t cols = dim_end(x, 1), rows = numel(x) / cols;
    const uint8_t *px = tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!px || !po || numel(o) != rows)
        return (void)tw_fail(t, "reduce operands");
    float *v = load_f32(t, x, px), *r = malloc(rows * F32);
    if (v && r) {
        tw_red(t, d->iattr[0], r, v, rows, cols);
        store_f32(t, o, po, r, rows);
    } else {
        tw_fail(t, "out of memory");
    }
    free(v);
    free(r);
}

static void strides(const npu_tensor_ref *r, uint64_t *s)
{
    uint64_t acc = 1;
    for (int i = (int)r->rank - 1; i >= 0; i--) {
        s[i] = acc;
        acc *= (uint64_t)r->dims[i];
    }
}

static void op_transpose(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    const uint8_t *px = tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!px || !po)
        return;
    uint64_t sin[NPU_MAX_RANK] = {0}, n = numel(o), e = esz(x->dtype);
    strides(x, sin);
    for (uint64_t i = 0; i < n; i++) { /* output element i: its multi-index, read through the permutation */
        uint64_t rem = i, src = 0;
        for (int k = (int)o->rank - 1; k >= 0; k--) {
            uint64_t idx = rem % (uint64_t)o->dims[k];
            rem /= (uint64_t)o->dims[k];
            src += idx * sin[d->iattr[k]];
        }
        memcpy(po + i * e, px + src * e, e);
    }
}

static void op_copy(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *x = &d->in[0], *o = &d->out;
    const uint8_t *px = tensor(t, bufs, nbufs, x, "in0");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    if (!px || !po)
        return;
    uint64_t sin[NPU_MAX_RANK] = {0}, sout[NPU_MAX_RANK] = {0}, box = 1;
    strides(x, sin);
    strides(o, sout);
    for (uint32_t k = 0; k < x->rank; k++)
        box *= (uint64_t)d->lattr[k];
    int scaled = x->dtype == NPU_DT_I8 || x->dtype == NPU_DT_I16;
    int convert = x->dtype != o->dtype || (scaled && x->scale != o->scale);
    for (uint64_t i = 0; i < box && !t->failed; i++) {
        uint64_t rem = i, src = 0, dst = 0;
        for (int k = (int)x->rank - 1; k >= 0; k--) {
            uint64_t idx = rem % (uint64_t)d->lattr[k];
            rem /= (uint64_t)d->lattr[k];
            src += (idx + (uint64_t)d->iattr[k]) * sin[k];
            dst += (idx + (uint64_t)d->iattr[NPU_MAX_RANK + k]) * sout[k];
        }
        if (!convert) {
            memcpy(po + dst * esz(o->dtype), px + src * esz(x->dtype), esz(x->dtype));
            continue;
        }
        npu_tensor_ref one = *x;
        one.rank = 1;
        one.dims[0] = 1;
        float *v = load_f32(t, &one, px + src * esz(x->dtype));
        if (v)
            store_f32(t, o, po + dst * esz(o->dtype), v, 1);
        free(v);
    }
}

/* One query row against keys [k0, k0 + kw) of matrix g: the int32 scores s = q . k. */
static void attn_scores(const int8_t *pq, const int8_t *pk, int k_rows, uint64_t D, uint64_t Lk, uint64_t k0,
                        uint64_t kw, int32_t *acc)
{
    for (uint64_t j = 0; j < kw; j++) {
        uint32_t sum = 0; /* int32 accumulation wraps, as the array's */
        for (uint64_t x = 0; x < D; x++) {
            int32_t kv = k_rows ? pk[(k0 + j) * D + x] : pk[x * Lk + k0 + j];
            sum += (uint32_t)((int32_t)pq[x] * kv);
        }
        memcpy(&acc[j], &sum, sizeof sum);
    }
}

/* NPU_OP_ATTENTION (firmware/src/ops/README.md, "ATTENTION"): row by row, key block by key block,
 * every f32 step the same ISA operation the kernel runs on whole tiles. */
static void op_attention(tw *t, const npu_op_desc *d, npu_twin_buf *bufs, uint32_t nbufs)
{
    const npu_tensor_ref *q = &d->in[0], *k = &d->in[1], *v = &d->in[2], *o = &d->out;
    if (d->n_inputs != 3 || q->rank != 3 || k->rank != 3 || v->rank != 3 || o->rank != 3 || q->dtype != NPU_DT_I8 ||
        k->dtype != NPU_DT_I8 || v->dtype != NPU_DT_I8 || d->iattr[0] < 1)
        return (void)tw_fail(t, "attention operands");
    int k_rows = d->iattr[1] == NPU_ATTN_K_ROWS, masked = d->iattr[2] == NPU_ATTN_MASK_ADD;
    uint64_t G = (uint64_t)q->dims[0], Lq = (uint64_t)q->dims[1], D = (uint64_t)q->dims[2];
    uint64_t Lk = (uint64_t)(k_rows ? k->dims[1] : k->dims[2]), Dv = (uint64_t)v->dims[2], bc = (uint64_t)d->iattr[0];
    const int8_t *pq = (const int8_t *)tensor(t, bufs, nbufs, q, "in0");
    const int8_t *pk = (const int8_t *)tensor(t, bufs, nbufs, k, "in1");
    const int8_t *pv = (const int8_t *)tensor(t, bufs, nbufs, v, "in2");
    uint8_t *po = tensor(t, bufs, nbufs, o, "out");
    const uint8_t *pm = NULL;
    uint64_t mats = 1, mdiv = 1, mesz = d->iattr[4] == NPU_DT_F32 ? 4 : 1;
    if (masked) {
        mats = d->lattr[1] > 0 ? (uint64_t)d->lattr[1] : 0;
        mdiv = d->lattr[2] > 0 ? (uint64_t)d->lattr[2] : 0;
        if (!mats || !mdiv || d->lattr[0] < 0)
            return (void)tw_fail(t, "mask attributes");
        pm = span(t, bufs, nbufs, (uint32_t)d->iattr[3], (uint64_t)d->lattr[0], mats * Lq * Lk * mesz, "mask");
    }
    if (!pq || !pk || !pv || !po || (masked && !pm) || bc > Lk)
        return (void)tw_fail(t, "attention operands");
    float sd = (q->scale * k->scale) * d->fattr[0], sv = v->scale, smask = mesz == 1 ? d->fattr[1] : 1.0f;
    int tile = d->iattr[5] == NPU_ATTN_SOFTMAX_TILE; /* one block of every key, the softmax tile */
    float s_out = sv * (1.0f / (float)(1 << ISA_SM_OUT_FRAC_BITS));
    uint32_t scale_q = (uint32_t)((double)d->fattr[2] * 1.4426950408889634 * (double)(1 << ISA_SM_SCALE_FRAC_BITS) + 0.5);
    if (tile && bc != Lk)
        return (void)tw_fail(t, "attention: the softmax tile needs one key block");
    int32_t *acc = malloc((bc + Dv + 1) * sizeof *acc);
    float *s = malloc((2 * bc + 2 * Dv) * F32);
    int8_t *p = malloc(2 * bc);
    if (!acc || !s || !p) {
        free(acc);
        free(s);
        free(p);
        return (void)tw_fail(t, "out of memory");
    }
    float *mf = s + bc, *O = mf + bc, *ov = O + Dv;
    for (uint64_t g = 0; g < G && !t->failed; g++)
        for (uint64_t r = 0; r < Lq && !t->failed; r++) {
            const int8_t *qrow = pq + (g * Lq + r) * D;
            const int8_t *kg = pk + g * Lk * D, *vg = pv + g * Lk * Dv;
            float m = 0.0f, l = 0.0f, alpha = 0.0f, cntf;
            for (uint64_t k0 = 0; k0 < Lk && !t->failed; k0 += bc) {
                uint64_t kw = Lk - k0 < bc ? Lk - k0 : bc;
                attn_scores(qrow, kg, k_rows, D, Lk, k0, kw, acc);
                tw_dequant(t, ISA_SDT_I32, s, acc, kw, sd);
                if (masked) {
                    uint64_t mat = (g / mdiv) % mats;
                    const uint8_t *mrow = pm + ((mat * Lq + r) * Lk + k0) * mesz;
                    if (mesz == 1)
                        tw_dequant(t, ISA_SDT_I8, mf, mrow, kw, smask);
                    else
                        memcpy(mf, mrow, kw * F32);
                    tw_bin(t, ISA_BINOP_ADD, ISA_BC_NONE, s, s, mf, 1, kw);
                }
                if (tile) { /* int8 scores, the tile's softmax (Q0.7), P V, x sv / 128 */
                    tw_quant(t, p + bc, s, kw, d->fattr[2]);
                    isa_sm_row(p + bc, p, (uint32_t)kw, (uint32_t)r, scale_q, 0, 0);
                    for (uint64_t x = 0; x < Dv; x++) {
                        uint32_t sum = 0;
                        for (uint64_t j = 0; j < kw; j++)
                            sum += (uint32_t)((int32_t)p[j] * vg[j * Dv + x]);
                        memcpy(&acc[x], &sum, sizeof sum);
                    }
                    tw_dequant(t, ISA_SDT_I32, O, acc, Dv, s_out);
                    continue;
                }
                float mt;
                tw_red(t, ISA_REDOP_MAX, &mt, s, 1, kw);
                if (k0 == 0) {
                    m = mt;
                } else { /* m' = max(m, mt), alpha = exp(m - m') */
                    float mn;
                    tw_bin(t, ISA_BINOP_MAX, ISA_BC_NONE, &mn, &m, &mt, 1, 1);
                    tw_bin(t, ISA_BINOP_SUB, ISA_BC_NONE, &alpha, &m, &mn, 1, 1);
                    tw_un(t, ISA_UNOP_EXP, &alpha, 1, 0.0f);
                    m = mn;
                }
                tw_bin(t, ISA_BINOP_SUB, ISA_BC_SCALAR, s, s, &m, 1, kw);
                tw_un(t, ISA_UNOP_EXP, s, kw, 0.0f);
                tw_quant(t, p, s, kw, NPU_ATTN_P_SCALE);
                uint32_t cnt = 0;
                for (uint64_t x = 0; x < Dv; x++) {
                    uint32_t sum = 0;
                    for (uint64_t j = 0; j < kw; j++)
                        sum += (uint32_t)((int32_t)p[j] * vg[(k0 + j) * Dv + x]);
                    memcpy(&acc[x], &sum, sizeof sum);
                }
                for (uint64_t j = 0; j < kw; j++)
                    cnt += (uint32_t)(int32_t)p[j];
                memcpy(&acc[Dv], &cnt, sizeof cnt);
                tw_dequant(t, ISA_SDT_I32, k0 == 0 ? O : ov, acc, Dv, sv);
                tw_dequant(t, ISA_SDT_I32, &cntf, &acc[Dv], 1, 1.0f);
                if (k0 == 0) {
                    l = cntf;
                } else { /* O = O alpha + P V sv, l = l alpha + sum P */
                    tw_bin(t, ISA_BINOP_MUL, ISA_BC_SCALAR, O, O, &alpha, 1, Dv);
                    tw_bin(t, ISA_BINOP_ADD, ISA_BC_NONE, O, O, ov, 1, Dv);
                    tw_bin(t, ISA_BINOP_MUL, ISA_BC_NONE, &l, &l, &alpha, 1, 1);
                    tw_bin(t, ISA_BINOP_ADD, ISA_BC_NONE, &l, &l, &cntf, 1, 1);
                }
            }
            if (!tile)
                tw_bin(t, ISA_BINOP_DIV, ISA_BC_SCALAR, O, O, &l, 1, Dv);
            store_f32(t, o, po + (g * Lq + r) * Dv * esz(o->dtype), O, Dv);
        }
    free(acc);
    free(s);
    free(p);
}

rt_status npu_twin_run(const npu_op_desc *ops, uint32_t n, npu_twin_buf *bufs, uint32_t nbufs, rt_error *e)
{
    tw t;
    memset(&t, 0, sizeof t);
    t.e = e;
    t.x.sram = calloc(1, TW_SCRATCH_BYTES);
    t.x.sram_bytes = TW_SCRATCH_BYTES;
    if (!t.x.sram)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (twin scratch)");
    for (uint32_t i = 0; i < n && !t.failed; i++) {
        const npu_op_desc *d = &ops[i];
        t.op = i;
        int two = d->op == NPU_OP_MATMUL || d->op == NPU_OP_CONV2D || d->op == NPU_OP_BINARY || d->op == NPU_OP_ATTENTION;
        if (d->n_inputs < 1 || d->n_inputs > NPU_OP_MAX_INPUTS || !shape_ok(&d->in[0]) || !shape_ok(&d->out) ||
            (two && (d->n_inputs < 2 || !shape_ok(&d->in[1])))) {
            tw_fail(&t, "n_inputs %u, or an operand's rank or dims", d->n_inputs);
            break;
        }
        if ((d->op == NPU_OP_CONV2D && (d->in[0].rank != 4 || d->in[1].rank != 4 || d->out.rank != 4)) ||
            (d->op == NPU_OP_NORM && d->iattr[0] == NPU_NORM_GROUP && (d->in[0].rank < 2 || d->iattr[1] < 1))) {
            tw_fail(&t, "operand ranks or groups");
            break;
        }
        switch (d->op) {
        case NPU_OP_MATMUL: op_matmul(&t, d, bufs, nbufs); break;
        case NPU_OP_CONV2D: op_conv(&t, d, bufs, nbufs); break;
        case NPU_OP_SOFTMAX: op_softmax(&t, d, bufs, nbufs); break;
        case NPU_OP_BINARY: op_binary(&t, d, bufs, nbufs); break;
        case NPU_OP_UNARY: op_unary(&t, d, bufs, nbufs); break;
        case NPU_OP_NORM: op_norm(&t, d, bufs, nbufs); break;
        case NPU_OP_REDUCE: op_reduce(&t, d, bufs, nbufs); break;
        case NPU_OP_TRANSPOSE: op_transpose(&t, d, bufs, nbufs); break;
        case NPU_OP_COPY: op_copy(&t, d, bufs, nbufs); break;
        case NPU_OP_ATTENTION: op_attention(&t, d, bufs, nbufs); break;
        case NPU_OP_GROUP_CONV2D: case NPU_OP_POOL: case NPU_OP_PAD: case NPU_OP_RESIZE: case NPU_OP_ACTIVATION:
        case NPU_OP_CHANNEL_AFFINE:
            npu_twin_cnn_op(&t, d, bufs, nbufs); /* npu_twin_cnn.c */
            break;
        default: tw_fail(&t, "op code %u", d->op); break;
        }
    }
    free(t.x.sram);
    return t.failed ? t.st : RT_OK;
}

/* ---------------------------------------------------------------- for npu_twin_cnn.c */

void tw_activation(tw *t, int32_t act, const float *prm, float *v, uint64_t n)
{
    switch (act) {
    case NPU_ACT_RELU: tw_un(t, ISA_UNOP_RELU, v, n, 0.0f); break;
    case NPU_ACT_GELU: tw_un(t, ISA_UNOP_GELU, v, n, 0.0f); break;
    case NPU_ACT_SILU: tw_un(t, ISA_UNOP_SILU, v, n, 0.0f); break;
    case NPU_ACT_CLIP:
        tw_un(t, ISA_UNOP_MAXI, v, n, prm[0]);
        tw_un(t, ISA_UNOP_MINI, v, n, prm[1]);
        break;
    case NPU_ACT_LEAKY: tw_un(t, ISA_UNOP_LEAKY, v, n, prm[0]); break;
    case NPU_ACT_HARDSIGMOID:
        tw_un(t, ISA_UNOP_MULI, v, n, prm[0]);
        tw_un(t, ISA_UNOP_ADDI, v, n, prm[1]);
        tw_un(t, ISA_UNOP_MAXI, v, n, 0.0f);
        tw_un(t, ISA_UNOP_MINI, v, n, 1.0f);
        break;
    default: break;
    }
}

void tw_channel_epilogue(tw *t, const int32_t *acc, float *y, uint64_t n, float s_deq, const float *ws,
                         const float *bias, int32_t act, const float *prm)
{
    tw_dequant(t, ISA_SDT_I32, y, acc, n, s_deq);
    tw_channel_epilogue_f32(t, y, n, ws, bias, act, prm);
}

void tw_channel_epilogue_f32(tw *t, float *y, uint64_t n, const float *ws, const float *bias, int32_t act,
                             const float *prm)
{
    if (ws)
        tw_bin(t, ISA_BINOP_MUL, ISA_BC_SCALAR, y, y, ws, 1, n);
    if (bias)
        tw_bin(t, ISA_BINOP_ADD, ISA_BC_SCALAR, y, y, bias, 1, n);
    tw_activation(t, act, prm, y, n);
}

uint64_t tw_numel(const npu_tensor_ref *r) { return numel(r); }
uint32_t tw_esz(uint32_t dtype) { return esz(dtype); }
uint8_t *tw_span(tw *t, npu_twin_buf *bufs, uint32_t nbufs, uint32_t buf, uint64_t offset, uint64_t bytes,
                 const char *what)
{
    return span(t, bufs, nbufs, buf, offset, bytes, what);
}
uint8_t *tw_tensor(tw *t, npu_twin_buf *bufs, uint32_t nbufs, const npu_tensor_ref *r, const char *what)
{
    return tensor(t, bufs, nbufs, r, what);
}
float *tw_load_f32(tw *t, const npu_tensor_ref *r, const uint8_t *p) { return load_f32(t, r, p); }
void tw_store_f32(tw *t, const npu_tensor_ref *r, uint8_t *p, const float *v, uint64_t n) { store_f32(t, r, p, v, n); }
