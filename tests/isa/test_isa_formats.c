/* The 16-bit formats of the ISA (isa_exec.c): mm with int16 and f16 operands (the 16 x 8 integer
 * mode, the f16 mode with its exact products, k-ordered f32 sums and canonical NaN), their
 * constraints, and v.cvt between every pair of element types (rounding, saturation, NaN, in-place
 * widening and narrowing); the binary16 helpers exhaustively. */
#include "test_util.h"

#include <math.h>

#include "isa_test_sram.h"

#define F16_COUNT 65536

static isa_insn mm_typed(int at, int bt, int i4, int acc, int m, int n, int k, int a, int b, int c)
{
    isa_insn in = isa_insn_make(ISA_OP_MM);
    ISA_SET(&in, MM, DF, ISA_DF_OS);
    ISA_SET(&in, MM, ACC, acc);
    ISA_SET(&in, MM, WT, i4);
    ISA_SET(&in, MM, M, m);
    ISA_SET(&in, MM, N, n);
    ISA_SET(&in, MM, K, k);
    ISA_SET(&in, MM, A, a);
    ISA_SET(&in, MM, B, b);
    ISA_SET(&in, MM, C, c);
    ISA_SET(&in, MM, AT, at);
    ISA_SET(&in, MM, BT, bt);
    return in;
}

static void run_ok(isa_insn *in)
{
    isa_error err;
    if (isa_check(in, &err) != ISA_OK)
        fail_msg("check: %s", err.msg);
    isa_exec_ctx c = ctx();
    if (isa_exec(&c, in, &err) != ISA_OK)
        fail_msg("exec: %s", err.msg);
}

/* ---- binary16 */

static void test_f16_round_trips_exactly(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < F16_COUNT; h++) {
        float f = isa_f16_to_f32((uint16_t)h);
        int exp = (h >> 10) & 31;
        if (exp == 31 && (h & 0x3ff)) { /* NaN: stays a NaN, written as the one quiet NaN */
            assert_true(isnan(f));
            assert_int_equal(isa_f32_to_f16_sat(f), ISA_F16_QNAN);
            continue;
        }
        if (exp == 31) { /* infinities saturate */
            assert_true(isinf(f));
            assert_int_equal(isa_f32_to_f16_sat(f), (h & 0x8000) | 0x7bff);
            continue;
        }
        assert_int_equal(isa_f32_to_f16_sat(f), h); /* every finite binary16 is exact in f32 */
    }
    /* rounding: ties to even at 1 + 2^-11 (between 1 and 1 + 2^-10), saturation, subnormals */
    assert_int_equal(isa_f32_to_f16_sat(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    assert_int_equal(isa_f32_to_f16_sat(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    assert_int_equal(isa_f32_to_f16_sat(70000.0f), 0x7bff);
    assert_int_equal(isa_f32_to_f16_sat(-1e30f), 0xfbff);
    assert_int_equal(isa_f32_to_f16_sat(65519.0f), 0x7bff);
    assert_int_equal(isa_f32_to_f16_sat(ldexpf(1.0f, -24)), 0x0001);
    assert_int_equal(isa_f32_to_f16_sat(ldexpf(1.0f, -25)), 0x0000); /* a tie: to even (0) */
    assert_int_equal(isa_f32_to_f16_sat(ldexpf(3.0f, -26)), 0x0001);
    assert_int_equal(isa_f32_to_f16_sat(ldexpf(1023.5f, -24)), 0x0400); /* into the smallest normal */
    assert_int_equal(isa_f32_to_f16_sat(-0.0f), 0x8000);
}

/* ---- mm */

static void test_mm_16x8_integer(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    /* A int16 1x2 = [[30000, -32768]], B int8 2x2 = [[127, -1], [-128, 2]] */
    wr_i16(0, 30000);
    wr_i16(2, -32768);
    int8_t b[] = {127, -1, -128, 2};
    memcpy(sram + 64, b, sizeof b);
    isa_insn in = mm_typed(ISA_MMT_I16, ISA_MMT_I8, 0, 0, 1, 2, 2, 0, 64, 128);
    run_ok(&in);
    assert_int_equal(rd_i32(128), 30000 * 127 + -32768 * -128);
    assert_int_equal(rd_i32(132), 30000 * -1 + -32768 * 2);
    /* int8 A with int16 B (the convolution's order: weights x activations) */
    int8_t a8[] = {-3, 5};
    memcpy(sram + 256, a8, 2);
    wr_i16(320, -20000);
    wr_i16(322, 1);
    wr_i16(324, 7);
    wr_i16(326, 32767);
    in = mm_typed(ISA_MMT_I8, ISA_MMT_I16, 0, 0, 1, 2, 2, 256, 320, 384);
    run_ok(&in);
    assert_int_equal(rd_i32(384), -3 * -20000 + 5 * 7);
    assert_int_equal(rd_i32(388), -3 * 1 + 5 * 32767);
    /* int16 A with packed int4 B */
    uint8_t b4[] = {(uint8_t)(0x7 | (0x8 << 4))}; /* [[7, -8]] */
    memcpy(sram + 512, b4, 1);
    wr_i16(448, -1000);
    in = mm_typed(ISA_MMT_I16, ISA_MMT_I8, 1, 0, 1, 2, 1, 448, 512, 576);
    run_ok(&in);
    assert_int_equal(rd_i32(576), -7000);
    assert_int_equal(rd_i32(580), 8000);
}

static void test_mm_f16_sums_in_k_order(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    /* one row: a = [2^12, 1, -2^12], b = [2^11, 1, 2^11] (f16): products 2^23, 1, -2^23. In k order
     * the sum is (2^23 + 1) - 2^23 = 1 exactly in f32 (2^23 + 1 is representable); with a
     * product of 2^24 instead, 2^24 + 1 rounds to 2^24 and the sum is 0: the order matters and
     * is the specified one. */
    uint16_t a[] = {isa_f32_to_f16_sat(4096.0f), isa_f32_to_f16_sat(1.0f), isa_f32_to_f16_sat(-4096.0f)};
    uint16_t b[] = {isa_f32_to_f16_sat(2048.0f), isa_f32_to_f16_sat(1.0f), isa_f32_to_f16_sat(2048.0f)};
    for (int i = 0; i < 3; i++) {
        wr_u16(2 * i, a[i]);
        wr_u16(64 + 2 * i, b[i]);
    }
    isa_insn in = mm_typed(ISA_MMT_F16, ISA_MMT_F16, 0, 0, 1, 1, 3, 0, 64, 128);
    run_ok(&in);
    assert_true(rd_f32(128) == 1.0f);
    wr_u16(64, isa_f32_to_f16_sat(4096.0f)); /* 2^24 */
    wr_u16(68, isa_f32_to_f16_sat(4096.0f));
    run_ok(&in);
    assert_true(rd_f32(128) == 0.0f);
    /* acc: C + s, one more rounding; here exact */
    wr_f32(128, 0.5f);
    ISA_SET(&in, MM, ACC, ISA_ACC_ADD);
    run_ok(&in);
    assert_true(rd_f32(128) == 0.5f);
    /* inf * 0 is the canonical NaN */
    wr_u16(0, 0x7c00); /* +inf */
    wr_u16(64, 0x0000);
    ISA_SET(&in, MM, ACC, ISA_ACC_SET);
    run_ok(&in);
    assert_int_equal(rd_bits(128), ISA_F32_QNAN_BITS);
}

static void test_mm_f16_with_integer_operands(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    /* f16 A 1x2 = [0.5, -1.25]; int8 B [[100], [-128]]: exact as f16 at the array's edge */
    wr_u16(0, isa_f32_to_f16_sat(0.5f));
    wr_u16(2, isa_f32_to_f16_sat(-1.25f));
    int8_t b[] = {100, -128};
    memcpy(sram + 64, b, 2);
    isa_insn in = mm_typed(ISA_MMT_F16, ISA_MMT_I8, 0, 0, 1, 1, 2, 0, 64, 128);
    run_ok(&in);
    assert_true(rd_f32(128) == 50.0f + 160.0f);
    /* int4 B with f16 A: [[7, -8]] */
    uint8_t b4 = (uint8_t)(0x7 | (0x8 << 4));
    memcpy(sram + 256, &b4, 1);
    in = mm_typed(ISA_MMT_F16, ISA_MMT_I8, 1, 0, 1, 2, 1, 0, 256, 320);
    run_ok(&in);
    assert_true(rd_f32(320) == 3.5f && rd_f32(324) == -4.0f);
}

static void test_mm_type_constraints(void **state)
{
    (void)state;
    isa_error err;
    isa_insn in = mm_typed(ISA_MMT_I16, ISA_MMT_I16, 0, 0, 1, 1, 1, 0, 64, 128);
    assert_int_equal(isa_check(&in, &err), ISA_E_CONSTRAINT);
    assert_string_equal(err.msg, "mm: at most one 16-bit integer operand (16 x 8 products stay exact in int32 sums)");
    in = mm_typed(ISA_MMT_F16, ISA_MMT_I16, 0, 0, 1, 1, 1, 0, 64, 128);
    assert_int_equal(isa_check(&in, &err), ISA_E_CONSTRAINT);
    assert_int_equal(err.field, ISA_F(MM, BT));
    in = mm_typed(ISA_MMT_I8, ISA_MMT_F16, 1, 0, 1, 2, 1, 0, 64, 128);
    assert_int_equal(isa_check(&in, &err), ISA_E_CONSTRAINT);
    assert_string_equal(err.msg, "mm: wt = i4 needs bt = i8 (int4 is an 8-bit-class B)");
    in = mm_typed(ISA_MMT_F16, ISA_MMT_F16, 0, 0, 1, 1, 1, 0, 64, 128);
    ISA_SET(&in, MM, RQ, ISA_RQ_ON);
    assert_int_equal(isa_check(&in, &err), ISA_E_CONSTRAINT);
    assert_string_equal(err.msg, "mm: bias and rq are integer output stages; the f16 mode writes f32");
    /* the footprint counts 2-byte elements */
    in = mm_typed(ISA_MMT_F16, ISA_MMT_F16, 0, 0, 4, 8, 16, 0, 1024, 4096);
    isa_sram_range r[ISA_MAX_SRAM_RANGES];
    assert_int_equal(isa_sram_ranges(&in, NULL, r), 3);
    assert_int_equal(r[0].len, 4 * 16 * 2);
    assert_int_equal(r[1].len, 16 * 8 * 2);
    assert_int_equal(r[2].len, 4 * 8 * 4);
}

/* ---- v.cvt */

static isa_insn cvt(int sdt, int ddt, uint32_t dst, uint32_t src, uint32_t n, float scale)
{
    isa_insn in = isa_insn_make(ISA_OP_VCVT);
    ISA_SET(&in, VCVT, SDT, sdt);
    ISA_SET(&in, VCVT, DDT, ddt);
    ISA_SET(&in, VCVT, DST, dst);
    ISA_SET(&in, VCVT, SRC, src);
    ISA_SET(&in, VCVT, N, n);
    isa_set_f32(&in, ISA_F(VCVT, SCALE), scale);
    return in;
}

static void test_vcvt_to_and_from_f32(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    float x[] = {1.5f, -2.5f, 40000.0f, -1e9f, NAN, 0.75f};
    for (int i = 0; i < 6; i++)
        wr_f32(4 * (uint32_t)i, x[i]);
    isa_insn in = cvt(ISA_CDT_F32, ISA_CDT_I16, 256, 0, 6, 0.5f); /* x / 0.5, ties to even, saturated */
    run_ok(&in);
    int16_t want16[] = {3, -5, 32767, -32768, 0, 2};
    for (int i = 0; i < 6; i++)
        assert_int_equal((int16_t)rd_u16(256 + 2 * (uint32_t)i), want16[i]);
    in = cvt(ISA_CDT_F32, ISA_CDT_F16, 512, 0, 6, 1.0f);
    run_ok(&in);
    assert_int_equal(rd_u16(512), 0x3e00);      /* 1.5 */
    assert_int_equal(rd_u16(516), 0x78e2);      /* 40000 = 1250 x 32, exact */
    assert_int_equal(rd_u16(518), 0xfbff);      /* -1e9 saturates */
    assert_int_equal(rd_u16(520), ISA_F16_QNAN); /* NaN */
    in = cvt(ISA_CDT_I16, ISA_CDT_F32, 1024, 256, 6, 0.5f);
    run_ok(&in);
    assert_true(rd_f32(1024) == 1.5f && rd_f32(1028) == -2.5f && rd_f32(1032) == 16383.5f);
    in = cvt(ISA_CDT_F32, ISA_CDT_I32, 1280, 0, 4, 1e-3f); /* 1e12 saturates to INT32_MIN */
    run_ok(&in);
    assert_int_equal(rd_i32(1280), 1500);
    assert_int_equal(rd_i32(1292), INT32_MIN);
    in = cvt(ISA_CDT_I32, ISA_CDT_F32, 1536, 1280, 1, 2.0f);
    run_ok(&in);
    assert_true(rd_f32(1536) == 3000.0f);
}

static void test_vcvt_in_place(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    /* widening int8 -> f32 in place (last first), then narrowing f32 -> f16 in place (first first) */
    int8_t q[64];
    for (int i = 0; i < 64; i++)
        q[i] = (int8_t)(i * 3 - 90);
    memcpy(sram + 128, q, sizeof q);
    isa_insn in = cvt(ISA_CDT_I8, ISA_CDT_F32, 128, 128, 64, 0.25f);
    run_ok(&in);
    for (int i = 0; i < 64; i++)
        assert_true(rd_f32(128 + 4 * (uint32_t)i) == (float)q[i] * 0.25f);
    in = cvt(ISA_CDT_F32, ISA_CDT_F16, 128, 128, 64, 1.0f);
    run_ok(&in);
    for (int i = 0; i < 64; i++)
        assert_true(isa_f16_to_f32(rd_u16(128 + 2 * (uint32_t)i)) == (float)q[i] * 0.25f);
    /* overlapping but not equal: refused */
    isa_error err;
    in = cvt(ISA_CDT_F32, ISA_CDT_F16, 130, 128, 64, 1.0f);
    assert_int_equal(isa_check(&in, &err), ISA_E_CONSTRAINT);
    assert_string_equal(err.msg, "v.cvt: source and destination overlap (only dst = src converts in place)");
    in = cvt(ISA_CDT_F32, ISA_CDT_I8, 0, 1024, 4, 0.0f);
    assert_int_equal(isa_check(&in, &err), ISA_E_CONSTRAINT);
    assert_string_equal(err.msg, "v.cvt: scale = 0 must be finite and positive (it divides)");
    in = cvt(ISA_CDT_I8, ISA_CDT_F32, 0, 1024, 4, -2.0f); /* to f32 it multiplies: any finite scale */
    assert_int_equal(isa_check(&in, &err), ISA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_round_trips_exactly),  cmocka_unit_test(test_mm_16x8_integer),
        cmocka_unit_test(test_mm_f16_sums_in_k_order),   cmocka_unit_test(test_mm_f16_with_integer_operands),
        cmocka_unit_test(test_mm_type_constraints),      cmocka_unit_test(test_vcvt_to_and_from_f32),
        cmocka_unit_test(test_vcvt_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
