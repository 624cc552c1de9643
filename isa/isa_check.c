/* isa_check.c -- each instruction's cross-field constraints (the ones its semantics line in
 * isa_table.def states) and the SRAM footprint of each instruction. Field ranges are checked
 * generically in isa.c; what lives here is only what one field cannot say alone. */
#include "isa_check.h"

#include <math.h>

/* Instructions that share a layout are read through one of them; keep them in step. */
#define SAME_FIELD(A, B, FLD) _Static_assert(ISA_F(A, FLD) == ISA_F(B, FLD), #A "." #FLD " != " #B "." #FLD)
SAME_FIELD(DMA_LD, DMA_ST, Q);
SAME_FIELD(DMA_LD, DMA_ST, BUF);
SAME_FIELD(DMA_LD, DMA_ST, SRAM);
SAME_FIELD(DMA_LD, DMA_ST, OFF);
SAME_FIELD(DMA_LD, DMA_ST, ROWS);
SAME_FIELD(DMA_LD, DMA_ST, COLS);
SAME_FIELD(DMA_LD, DMA_ST, DSTRIDE);
SAME_FIELD(DMA_LD, DMA_ST, SSTRIDE);
SAME_FIELD(SIGNAL, WAIT, UNIT);
SAME_FIELD(SIGNAL, WAIT, SEM);

isa_status isa_check_dma_ld(const isa_insn *in, isa_error *err)
{
    if (ISA_GET(in, DMA_LD, ROWS) > 1 && ISA_GET(in, DMA_LD, SSTRIDE) < ISA_GET(in, DMA_LD, COLS))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(DMA_LD, SSTRIDE),
                        "dma.ld: sstride = %lld is less than cols = %lld; rows would overlap in SRAM",
                        (long long)ISA_GET(in, DMA_LD, SSTRIDE), (long long)ISA_GET(in, DMA_LD, COLS));
    return ISA_OK;
}

isa_status isa_check_dma_st(const isa_insn *in, isa_error *err)
{
    if (ISA_GET(in, DMA_ST, ROWS) > 1 && ISA_GET(in, DMA_ST, DSTRIDE) < ISA_GET(in, DMA_ST, COLS))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(DMA_ST, DSTRIDE),
                        "dma.st: dstride = %lld is less than cols = %lld; rows would overlap in DRAM",
                        (long long)ISA_GET(in, DMA_ST, DSTRIDE), (long long)ISA_GET(in, DMA_ST, COLS));
    return ISA_OK;
}

isa_status isa_check_mm(const isa_insn *in, isa_error *err)
{
    int64_t at = ISA_GET(in, MM, AT), bt = ISA_GET(in, MM, BT);
    int i4 = ISA_GET(in, MM, WT) == ISA_WT_I4;
    if (i4 && ISA_GET(in, MM, N) % 2 != 0)
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(MM, N),
                        "mm: n = %lld must be even with packed int4 weights", (long long)ISA_GET(in, MM, N));
    if (i4 && bt != ISA_MMT_I8)
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(MM, WT), "mm: wt = i4 needs bt = i8 (int4 is an 8-bit-class B)");
    if (at == ISA_MMT_F16 || bt == ISA_MMT_F16) {
        if (at == ISA_MMT_I16 || bt == ISA_MMT_I16)
            return isa_fail(err, ISA_E_CONSTRAINT, at == ISA_MMT_I16 ? ISA_F(MM, AT) : ISA_F(MM, BT),
                            "mm: an i16 operand is not exact in f16: the float mode takes f16, i8 or i4");
        if (ISA_GET(in, MM, BIAS) == ISA_BIAS_ON || ISA_GET(in, MM, RQ) == ISA_RQ_ON)
            return isa_fail(err, ISA_E_CONSTRAINT, ISA_GET(in, MM, BIAS) == ISA_BIAS_ON ? ISA_F(MM, BIAS) : ISA_F(MM, RQ),
                            "mm: bias and rq are integer output stages; the f16 mode writes f32");
    } else if (at == ISA_MMT_I16 && bt == ISA_MMT_I16) {
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(MM, BT),
                        "mm: at most one 16-bit integer operand (16 x 8 products stay exact in int32 sums)");
    }
    return ISA_OK;
}

isa_status isa_check_mm_out(const isa_insn *in, isa_error *err)
{
    if (ISA_GET(in, MM_OUT, LO) > ISA_GET(in, MM_OUT, HI))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(MM_OUT, HI), "mm.out: hi = %lld is below lo = %lld",
                        (long long)ISA_GET(in, MM_OUT, HI), (long long)ISA_GET(in, MM_OUT, LO));
    return ISA_OK;
}

isa_status isa_check_sm(const isa_insn *in, isa_error *err)
{
    (void)in;
    (void)err;
    return ISA_OK; /* every combination of in-range fields is meaningful; src may equal dst */
}

static int is_f32(int64_t dt) { return dt == ISA_DT_F32; }

isa_status isa_check_vbin(const isa_insn *in, isa_error *err)
{
    int64_t fn = ISA_GET(in, VBIN, FN);
    if ((fn == ISA_BINOP_DIV || fn == ISA_BINOP_POW) && !is_f32(ISA_GET(in, VBIN, DT)))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VBIN, DT), "v.bin: %s needs dt = f32",
                        isa_enum_name(ISA_ENUMSET_BINOP, fn));
    return ISA_OK;
}

static int unop_needs_f32(int64_t fn)
{
    switch (fn) {
    case ISA_UNOP_RELU: case ISA_UNOP_ABS: case ISA_UNOP_NEG: case ISA_UNOP_SQUARE:
    case ISA_UNOP_MULI: case ISA_UNOP_ADDI: case ISA_UNOP_MAXI: case ISA_UNOP_MINI:
        return 0;
    default:
        return 1;
    }
}

isa_status isa_check_vun(const isa_insn *in, isa_error *err)
{
    int64_t fn = ISA_GET(in, VUN, FN);
    if (unop_needs_f32(fn) && !is_f32(ISA_GET(in, VUN, DT)))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VUN, DT), "v.un: %s needs dt = f32",
                        isa_enum_name(ISA_ENUMSET_UNOP, fn));
    return ISA_OK;
}

isa_status isa_check_vred(const isa_insn *in, isa_error *err)
{
    if (ISA_GET(in, VRED, FN) == ISA_REDOP_MEAN && !is_f32(ISA_GET(in, VRED, DT)))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VRED, DT), "v.red: mean needs dt = f32");
    return ISA_OK;
}

isa_status isa_check_vnorm(const isa_insn *in, isa_error *err)
{
    (void)in;
    (void)err;
    return ISA_OK; /* all field combinations are meaningful */
}

isa_status isa_check_vquant(const isa_insn *in, isa_error *err)
{
    float s = isa_get_f32(in, ISA_F(VQUANT, SCALE));
    if (!isfinite(s) || !(s > 0.0f))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VQUANT, SCALE),
                        "v.quant: scale = %g must be finite and positive", (double)s);
    return ISA_OK;
}

isa_status isa_check_vdequant(const isa_insn *in, isa_error *err)
{
    float s = isa_get_f32(in, ISA_F(VDEQUANT, SCALE));
    if (!isfinite(s))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VDEQUANT, SCALE), "v.dequant: scale must be finite");
    return ISA_OK;
}

static int overlap(const isa_sram_range *a, const isa_sram_range *b)
{
    return (uint64_t)a->addr < b->addr + b->len && (uint64_t)b->addr < a->addr + a->len;
}

isa_status isa_check_vmov(const isa_insn *in, isa_error *err)
{
    int64_t rows = ISA_GET(in, VMOV, ROWS), cols = ISA_GET(in, VMOV, COLS);
    int64_t ss = ISA_GET(in, VMOV, SSTRIDE), ds = ISA_GET(in, VMOV, DSTRIDE);
    int transpose = ISA_GET(in, VMOV, FN) == ISA_MOV_TRANSPOSE;
    if (rows > 1 && ss < cols)
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VMOV, SSTRIDE),
                        "v.mov: sstride = %lld is less than cols = %lld", (long long)ss, (long long)cols);
    int64_t dst_rows = transpose ? cols : rows, dst_cols = transpose ? rows : cols;
    if (dst_rows > 1 && ds < dst_cols)
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VMOV, DSTRIDE),
                        "v.mov: dstride = %lld is less than the %lld destination columns", (long long)ds,
                        (long long)dst_cols);
    isa_sram_range r[ISA_MAX_SRAM_RANGES] = {{0}};
    isa_sram_ranges(in, NULL, r);
    if (overlap(&r[0], &r[1]))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VMOV, DST), "v.mov: source and destination overlap");
    return ISA_OK;
}

static uint64_t cdt_bytes(int64_t t)
{
    return t == ISA_CDT_I8 ? 1 : t == ISA_CDT_I16 || t == ISA_CDT_F16 ? 2 : 4;
}

isa_status isa_check_vcvt(const isa_insn *in, isa_error *err)
{
    float s = isa_get_f32(in, ISA_F(VCVT, SCALE));
    int to_f32 = ISA_GET(in, VCVT, DDT) == ISA_CDT_F32;
    if (!isfinite(s) || (!to_f32 && !(s > 0.0f)))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VCVT, SCALE), "v.cvt: scale = %g must be finite%s", (double)s,
                        to_f32 ? "" : " and positive (it divides)");
    isa_sram_range r[ISA_MAX_SRAM_RANGES] = {{0}};
    isa_sram_ranges(in, NULL, r);
    if (r[0].addr != r[1].addr && overlap(&r[0], &r[1]))
        return isa_fail(err, ISA_E_CONSTRAINT, ISA_F(VCVT, DST),
                        "v.cvt: source and destination overlap (only dst = src converts in place)");
    return ISA_OK;
}

/* ------------------------------------------------------------------ SRAM footprints */

static int add(isa_sram_range *out, int n, int64_t addr, uint64_t len, int write)
{
    out[n].addr = (uint32_t)addr;
    out[n].len = len;
    out[n].write = write;
    return n + 1;
}

int isa_sram_ranges(const isa_insn *in, const uint32_t *mm_bias_addr, isa_sram_range out[ISA_MAX_SRAM_RANGES])
{
    int n = 0;
    switch (in->op) {
    case ISA_OP_DMA_LD:
    case ISA_OP_DMA_ST: {
        uint64_t rows = (uint64_t)ISA_GET(in, DMA_LD, ROWS), cols = (uint64_t)ISA_GET(in, DMA_LD, COLS);
        uint64_t len = (rows - 1) * (uint64_t)ISA_GET(in, DMA_LD, SSTRIDE) + cols;
        n = add(out, n, ISA_GET(in, DMA_LD, SRAM), len, in->op == ISA_OP_DMA_LD);
        break;
    }
    case ISA_OP_MM: {
        uint64_t m = (uint64_t)ISA_GET(in, MM, M), nn = (uint64_t)ISA_GET(in, MM, N);
        uint64_t k = (uint64_t)ISA_GET(in, MM, K);
        int acc = ISA_GET(in, MM, ACC) == ISA_ACC_ADD, rq = ISA_GET(in, MM, RQ) == ISA_RQ_ON;
        uint64_t ae = ISA_GET(in, MM, AT) == ISA_MMT_I8 ? 1 : 2, be = ISA_GET(in, MM, BT) == ISA_MMT_I8 ? 1 : 2;
        n = add(out, n, ISA_GET(in, MM, A), m * k * ae, 0);
        n = add(out, n, ISA_GET(in, MM, B), k * (ISA_GET(in, MM, WT) == ISA_WT_I4 ? nn / 2 : nn * be), 0);
        n = add(out, n, ISA_GET(in, MM, C), (acc || !rq) ? 4 * m * nn : m * nn, 1);
        if (ISA_GET(in, MM, BIAS) == ISA_BIAS_ON && mm_bias_addr)
            n = add(out, n, *mm_bias_addr, 4 * nn, 0);
        break;
    }
    case ISA_OP_MM_OUT:
        n = add(out, n, ISA_GET(in, MM_OUT, PRM), ISA_MM_OUT_RECORD_BYTES * (uint64_t)ISA_GET(in, MM_OUT, N), 0);
        if (ISA_GET(in, MM_OUT, LUT) == ISA_LUT_ON)
            n = add(out, n, ISA_GET(in, MM_OUT, TAB), ISA_MM_OUT_LUT_ENTRIES, 0);
        break;
    case ISA_OP_SM: {
        uint64_t len = (uint64_t)ISA_GET(in, SM, LEN) * (uint64_t)ISA_GET(in, SM, ROWS);
        n = add(out, n, ISA_GET(in, SM, SRC), len, 0);
        n = add(out, n, ISA_GET(in, SM, DST), len, 1);
        break;
    }
    case ISA_OP_VBIN: {
        uint64_t r = (uint64_t)ISA_GET(in, VBIN, ROWS), c = (uint64_t)ISA_GET(in, VBIN, COLS);
        uint64_t blen;
        switch (ISA_GET(in, VBIN, BC)) {
        case ISA_BC_ROW: blen = c; break;
        case ISA_BC_COL: blen = r; break;
        case ISA_BC_SCALAR: blen = 1; break;
        default: blen = r * c; break;
        }
        n = add(out, n, ISA_GET(in, VBIN, A), 4 * r * c, 0);
        n = add(out, n, ISA_GET(in, VBIN, B), 4 * blen, 0);
        n = add(out, n, ISA_GET(in, VBIN, DST), 4 * r * c, 1);
        break;
    }
    case ISA_OP_VUN: {
        uint64_t len = 4 * (uint64_t)ISA_GET(in, VUN, ROWS) * (uint64_t)ISA_GET(in, VUN, COLS);
        n = add(out, n, ISA_GET(in, VUN, SRC), len, 0);
        n = add(out, n, ISA_GET(in, VUN, DST), len, 1);
        break;
    }
    case ISA_OP_VRED: {
        uint64_t r = (uint64_t)ISA_GET(in, VRED, ROWS), c = (uint64_t)ISA_GET(in, VRED, COLS);
        n = add(out, n, ISA_GET(in, VRED, SRC), 4 * r * c, 0);
        n = add(out, n, ISA_GET(in, VRED, DST), 4 * r, 1);
        break;
    }
    case ISA_OP_VNORM: {
        uint64_t r = (uint64_t)ISA_GET(in, VNORM, ROWS), c = (uint64_t)ISA_GET(in, VNORM, COLS);
        int64_t aff = ISA_GET(in, VNORM, AFF);
        n = add(out, n, ISA_GET(in, VNORM, SRC), 4 * r * c, 0);
        if (aff != ISA_AFF_NONE)
            n = add(out, n, ISA_GET(in, VNORM, PRM), (aff == ISA_AFF_GAMMA_BETA ? 8 : 4) * c, 0);
        n = add(out, n, ISA_GET(in, VNORM, DST), 4 * r * c, 1);
        break;
    }
    case ISA_OP_VQUANT: {
        uint64_t cnt = (uint64_t)ISA_GET(in, VQUANT, N);
        n = add(out, n, ISA_GET(in, VQUANT, SRC), 4 * cnt, 0);
        n = add(out, n, ISA_GET(in, VQUANT, DST), cnt, 1);
        break;
    }
    case ISA_OP_VDEQUANT: {
        uint64_t cnt = (uint64_t)ISA_GET(in, VDEQUANT, N);
        uint64_t esz = ISA_GET(in, VDEQUANT, SDT) == ISA_SDT_I8 ? 1 : 4;
        n = add(out, n, ISA_GET(in, VDEQUANT, SRC), esz * cnt, 0);
        n = add(out, n, ISA_GET(in, VDEQUANT, DST), 4 * cnt, 1);
        break;
    }
    case ISA_OP_VMOV: {
        uint64_t rows = (uint64_t)ISA_GET(in, VMOV, ROWS), cols = (uint64_t)ISA_GET(in, VMOV, COLS);
        uint64_t e = 1ull << ISA_GET(in, VMOV, ESZ);
        uint64_t ss = (uint64_t)ISA_GET(in, VMOV, SSTRIDE), ds = (uint64_t)ISA_GET(in, VMOV, DSTRIDE);
        int transpose = ISA_GET(in, VMOV, FN) == ISA_MOV_TRANSPOSE;
        uint64_t drows = transpose ? cols : rows, dcols = transpose ? rows : cols;
        n = add(out, n, ISA_GET(in, VMOV, SRC), ((rows - 1) * ss + cols) * e, 0);
        n = add(out, n, ISA_GET(in, VMOV, DST), ((drows - 1) * ds + dcols) * e, 1);
        break;
    }
    case ISA_OP_VCVT: {
        uint64_t cnt = (uint64_t)ISA_GET(in, VCVT, N);
        n = add(out, n, ISA_GET(in, VCVT, SRC), cdt_bytes(ISA_GET(in, VCVT, SDT)) * cnt, 0);
        n = add(out, n, ISA_GET(in, VCVT, DST), cdt_bytes(ISA_GET(in, VCVT, DDT)) * cnt, 1);
        break;
    }
    default:
        break;
    }
    return n;
}
