/* The functional semantics (isa_exec.c) on hand-checked cases: matmul with int4, bias,
 * accumulation and requantisation; the output stage's per-channel form (mm.out: records by column
 * and by row, rounding, clamp, table); the fixed-point softmax against float; vector ops. */
#include "test_util.h"

#include <math.h>

#include "isa_test_sram.h"

static isa_insn mm_insn(int ws, int acc, int i4, int bias, int rq, int m, int n, int k, int a, int b, int c)
{
    isa_insn in = isa_insn_make(ISA_OP_MM);
    ISA_SET(&in, MM, DF, ws);
    ISA_SET(&in, MM, ACC, acc);
    ISA_SET(&in, MM, WT, i4);
    ISA_SET(&in, MM, BIAS, bias);
    ISA_SET(&in, MM, RQ, rq);
    ISA_SET(&in, MM, M, m);
    ISA_SET(&in, MM, N, n);
    ISA_SET(&in, MM, K, k);
    ISA_SET(&in, MM, A, a);
    ISA_SET(&in, MM, B, b);
    ISA_SET(&in, MM, C, c);
    return in;
}

static void test_mm_int8_and_accumulate(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    /* A = [[1, 2, 3], [-4, 5, -6]] (2x3), B = [[1, -1], [2, 0], [-3, 127]] (3x2) */
    int8_t a[] = {1, 2, 3, -4, 5, -6}, b[] = {1, -1, 2, 0, -3, 127};
    memcpy(sram + 0, a, sizeof a);
    memcpy(sram + 64, b, sizeof b);
    isa_exec_ctx c = ctx();
    isa_insn in = mm_insn(0, 0, 0, 0, 0, 2, 2, 3, 0, 64, 128);
    assert_int_equal(isa_exec(&c, &in, NULL), ISA_OK);
    assert_int_equal(rd_i32(128), 1 * 1 + 2 * 2 + 3 * -3);       /* -4 */
    assert_int_equal(rd_i32(132), 1 * -1 + 0 + 3 * 127);         /* 380 */
    assert_int_equal(rd_i32(136), -4 * 1 + 5 * 2 + -6 * -3);     /* 24 */
    assert_int_equal(rd_i32(140), -4 * -1 + 0 + -6 * 127);       /* -758 */
    ISA_SET(&in, MM, ACC, ISA_ACC_ADD); /* accumulate the same product again */
    assert_int_equal(isa_exec(&c, &in, NULL), ISA_OK);
    assert_int_equal(rd_i32(140), -1516);
}

static void test_mm_int4_bias_requant(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    /* A = [[2, -3]] (1x2); B int4 2x2 = [[7, -8], [-1, 3]] packed: even column in the low nibble */
    int8_t a[] = {2, -3};
    uint8_t b[] = {(uint8_t)(0x7 | (0x8 << 4)), (uint8_t)(0xF | (0x3 << 4))};
    memcpy(sram + 0, a, sizeof a);
    memcpy(sram + 32, b, sizeof b);
    wr_i32(256, 100);
    wr_i32(260, -100);
    isa_exec_ctx c = ctx();
    isa_insn cfg = isa_insn_make(ISA_OP_MM_CFG);
    ISA_SET(&cfg, MM_CFG, BIAS, 256);
    ISA_SET(&cfg, MM_CFG, SCALE, 3);
    ISA_SET(&cfg, MM_CFG, SHIFT, 2);
    assert_int_equal(isa_exec(&c, &cfg, NULL), ISA_OK);
    isa_insn in = mm_insn(1, 0, 1, 1, 1, 1, 2, 2, 0, 32, 64);
    assert_int_equal(isa_exec(&c, &in, NULL), ISA_OK);
    /* col0: 2*7 + -3*-1 + 100 = 117 -> (351 + 2) >> 2 = 88; col1: 2*-8 + -3*3 - 100 = -125
       -> (-375 + 2) >> 2 = floor(-93.25) = -94 */
    assert_int_equal((int8_t)sram[64], 88);
    assert_int_equal((int8_t)sram[65], -94);
    /* saturation and rounding of the requantiser itself */
    assert_int_equal(isa_mm_requant(1000, 1, 0), 127);
    assert_int_equal(isa_mm_requant(-1000, 1, 0), -128);
    assert_int_equal(isa_mm_requant(6, 1, 2), 2);   /* 1.5 rounds up */
    assert_int_equal(isa_mm_requant(-6, 1, 2), -1); /* -1.5 rounds up to -1 */
}

static void put_record(uint32_t addr, int32_t bias, int32_t mult, int32_t shift)
{
    wr_i32(addr, bias);
    wr_i32(addr + 4, mult);
    wr_i32(addr + 8, shift);
}

static isa_insn mm_out_insn(int axis, int lut, int prm, int n, int lo, int hi, int tab)
{
    isa_insn in = isa_insn_make(ISA_OP_MM_OUT);
    ISA_SET(&in, MM_OUT, AXIS, axis);
    ISA_SET(&in, MM_OUT, LUT, lut);
    ISA_SET(&in, MM_OUT, PRM, prm);
    ISA_SET(&in, MM_OUT, N, n);
    ISA_SET(&in, MM_OUT, LO, lo);
    ISA_SET(&in, MM_OUT, HI, hi);
    ISA_SET(&in, MM_OUT, TAB, tab);
    return in;
}

static void test_mm_out_per_channel(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    /* A = [[10], [-7]] (2x1), B = [[1, 2, 3]]: products [[10, 20, 30], [-7, -14, -21]] */
    int8_t a[] = {10, -7}, b[] = {1, 2, 3};
    memcpy(sram + 0, a, sizeof a);
    memcpy(sram + 16, b, sizeof b);
    put_record(512, 5, 1 << 30, 31); /* (x + 5) / 2 */
    put_record(524, 0, 3, 0);        /* 3x */
    put_record(536, -1, 1, 1 | 64);  /* (x - 1) / 2; only the low 6 bits of the shift count */
    for (int i = 0; i < 256; i++)    /* table: y -> y / 2 (toward zero) */
        sram[1024 + i] = (uint8_t)(int8_t)((i - 128) / 2);
    isa_exec_ctx c = ctx();
    isa_insn out = mm_out_insn(ISA_AXIS_COL, ISA_LUT_OFF, 512, 3, -128, 127, 0);
    assert_int_equal(isa_exec(&c, &out, NULL), ISA_OK);
    isa_insn mm = mm_insn(0, 0, 0, 0, 1, 2, 3, 1, 0, 16, 64);
    assert_int_equal(isa_exec(&c, &mm, NULL), ISA_OK);
    /* 15/2 = 7.5 -> 8 (half up); -2/2 = -1; 60; -42; 29/2 = 14.5 -> 15; -22/2 = -11 */
    int8_t want[] = {8, 60, 15, -1, -42, -11};
    assert_memory_equal(sram + 64, want, sizeof want);
    /* relu bounds and the table; two records: the third column's record is zero */
    out = mm_out_insn(ISA_AXIS_COL, ISA_LUT_ON, 512, 2, 0, 127, 1024);
    assert_int_equal(isa_exec(&c, &out, NULL), ISA_OK);
    assert_int_equal(isa_exec(&c, &mm, NULL), ISA_OK);
    int8_t want_relu_table[] = {4, 30, 0, 0, 0, 0};
    assert_memory_equal(sram + 64, want_relu_table, sizeof want_relu_table);
    /* records by row: row 0 takes record 0 for all its columns, row 1 record 1 */
    out = mm_out_insn(ISA_AXIS_ROW, ISA_LUT_OFF, 512, 2, -128, 127, 0);
    assert_int_equal(isa_exec(&c, &out, NULL), ISA_OK);
    assert_int_equal(isa_exec(&c, &mm, NULL), ISA_OK);
    int8_t want_rows[] = {8, 13, 18, -21, -42, -63}; /* (10+5)/2, (20+5)/2 = 12.5 -> 13, 17.5 -> 18; 3x */
    assert_memory_equal(sram + 64, want_rows, sizeof want_rows);
    /* mm.cfg returns the stage to its per-tensor form */
    isa_insn cfg = isa_insn_make(ISA_OP_MM_CFG);
    ISA_SET(&cfg, MM_CFG, SCALE, 1);
    ISA_SET(&cfg, MM_CFG, SHIFT, 0);
    assert_int_equal(isa_exec(&c, &cfg, NULL), ISA_OK);
    assert_int_equal(isa_exec(&c, &mm, NULL), ISA_OK);
    int8_t want_plain[] = {10, 20, 30, -7, -14, -21};
    assert_memory_equal(sram + 64, want_plain, sizeof want_plain);
    /* mm.out reads its records and table (n * 12 + 256 bytes) from the SRAM: inside it or refused */
    out = mm_out_insn(ISA_AXIS_COL, ISA_LUT_ON, 512, 3, -128, 127, SRAM_BYTES - 255);
    assert_int_equal(isa_exec(&c, &out, NULL), ISA_E_LIMIT);
}

/* The rounding at the edges, and the per-tensor form as a record (0, scale, shift). */
static void test_mm_out_rounding(void **state)
{
    (void)state;
    isa_mm_out_record r = {0, 1, 1};
    assert_int_equal(isa_mm_out_apply(&r, 3, -128, 127, NULL), 2);   /* 1.5 -> 2 */
    assert_int_equal(isa_mm_out_apply(&r, -3, -128, 127, NULL), -1); /* -1.5 -> -1 (half up) */
    assert_int_equal(isa_mm_out_apply(&r, -5, -128, 127, NULL), -2); /* -2.5 -> -2 */
    r = (isa_mm_out_record){0, INT32_MAX, 63};                       /* |p| < 2^62: rounds to 0 or 1 */
    assert_int_equal(isa_mm_out_apply(&r, INT32_MAX, -128, 127, NULL), 0);
    r = (isa_mm_out_record){INT32_MAX, 2, 0}; /* the bias add wraps like int32 */
    assert_int_equal(isa_mm_out_apply(&r, 1, -128, 127, NULL), -128);
    r = (isa_mm_out_record){0, -1, 0};
    assert_int_equal(isa_mm_out_apply(&r, 5, -3, 2, NULL), -3);       /* clamped */
    uint64_t z = 7;
    for (int i = 0; i < 20000; i++) {
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        int32_t x = (int32_t)(z >> 32);
        uint32_t scale = (uint32_t)(z >> 8) & 0xFFFF, shift = (uint32_t)(z >> 3) % 48;
        isa_mm_out_record t = {0, (int32_t)scale, shift};
        if (isa_mm_out_apply(&t, x, INT8_MIN, INT8_MAX, NULL) != isa_mm_requant(x, scale, shift))
            fail_msg("x %d scale %u shift %u: per-channel %d, per-tensor %d", x, scale, shift,
                     isa_mm_out_apply(&t, x, INT8_MIN, INT8_MAX, NULL), isa_mm_requant(x, scale, shift));
    }
}

static void test_sm_exp2_accuracy(void **state)
{
    (void)state;
    assert_int_equal(isa_sm_exp2(0), 16384);
    assert_int_equal(isa_sm_exp2(-4096), 8192);
    uint32_t prev = isa_sm_exp2(0);
    double worst = 0.0;
    for (int32_t u = 0; u >= -4096 * 14; u--) {
        uint32_t e = isa_sm_exp2(u);
        assert_true(e <= prev); /* monotonic */
        prev = e;
        double exact = 16384.0 * pow(2.0, u / 4096.0);
        double err = fabs(e - exact);
        if (err > worst)
            worst = err;
    }
    assert_true(worst <= 2.0); /* within 2 LSB of Q1.14 everywhere */
    assert_int_equal(isa_sm_exp2(-4096 * 16), 0);
}

static void test_sm_rows_and_mask(void **state)
{
    (void)state;
    int8_t x[8] = {0, 0, 0, 0, 0, 0, 0, 0}, y[8];
    isa_sm_row(x, y, 4, 0, 4096, 0, 0);
    for (int j = 0; j < 4; j++)
        assert_int_equal(y[j], 32); /* 1/4 in Q0.7 */
    /* causal: row 1 sees elements 0..1 */
    isa_sm_row(x, y, 8, 1, 4096, 1, 0);
    assert_int_equal(y[0], 64);
    assert_int_equal(y[1], 64);
    for (int j = 2; j < 8; j++)
        assert_int_equal(y[j], 0);
    /* fully masked row: all zero */
    isa_sm_row(x, y, 8, 0, 4096, 1, -1);
    for (int j = 0; j < 8; j++)
        assert_int_equal(y[j], 0);
    /* against float softmax on a random row: within 1 LSB of Q0.7 */
    test_rng r = {42};
    int8_t in[64], out[64];
    for (int t = 0; t < 200; t++) {
        for (int j = 0; j < 64; j++)
            in[j] = (int8_t)test_rng_range(&r, -128, 127);
        uint32_t scale = (uint32_t)test_rng_range(&r, 64, 2048); /* s * log2 e in Q4.12 */
        isa_sm_row(in, out, 64, 0, scale, 0, 0);
        double mx = -1e9, sum = 0.0;
        for (int j = 0; j < 64; j++)
            mx = in[j] > mx ? in[j] : mx;
        for (int j = 0; j < 64; j++)
            sum += pow(2.0, (in[j] - mx) * scale / 4096.0);
        for (int j = 0; j < 64; j++) {
            double p = pow(2.0, (in[j] - mx) * scale / 4096.0) / sum * 128.0;
            if (p > 127.0)
                p = 127.0;
            assert_true(fabs(out[j] - p) <= 1.0);
        }
    }
    /* the instruction form, in place */
    memset(sram, 0, sizeof sram);
    isa_insn in_sm = isa_insn_make(ISA_OP_SM);
    ISA_SET(&in_sm, SM, LEN, 4);
    ISA_SET(&in_sm, SM, ROWS, 2);
    ISA_SET(&in_sm, SM, SCALE, 4096);
    isa_exec_ctx c = ctx();
    assert_int_equal(isa_exec(&c, &in_sm, NULL), ISA_OK);
    for (int j = 0; j < 8; j++)
        assert_int_equal((int8_t)sram[j], 32);
}

static void test_vector_ops(void **state)
{
    (void)state;
    memset(sram, 0, sizeof sram);
    isa_exec_ctx c = ctx();
    for (int i = 0; i < 4; i++)
        wr_f32(4 * i, (float)(i + 1)); /* a = 1 2 3 4 as 2x2 */
    wr_f32(64, 10.0f);
    wr_f32(68, 20.0f); /* row vector */
    isa_insn bin = isa_insn_make(ISA_OP_VBIN);
    ISA_SET(&bin, VBIN, FN, ISA_BINOP_ADD);
    ISA_SET(&bin, VBIN, DT, ISA_DT_F32);
    ISA_SET(&bin, VBIN, BC, ISA_BC_ROW);
    ISA_SET(&bin, VBIN, DST, 128);
    ISA_SET(&bin, VBIN, A, 0);
    ISA_SET(&bin, VBIN, B, 64);
    ISA_SET(&bin, VBIN, ROWS, 2);
    ISA_SET(&bin, VBIN, COLS, 2);
    assert_int_equal(isa_exec(&c, &bin, NULL), ISA_OK);
    assert_true(rd_f32(128) == 11.0f && rd_f32(132) == 22.0f && rd_f32(136) == 13.0f && rd_f32(140) == 24.0f);

    isa_insn red = isa_insn_make(ISA_OP_VRED);
    ISA_SET(&red, VRED, FN, ISA_REDOP_MEAN);
    ISA_SET(&red, VRED, DT, ISA_DT_F32);
    ISA_SET(&red, VRED, DST, 256);
    ISA_SET(&red, VRED, SRC, 128);
    ISA_SET(&red, VRED, ROWS, 2);
    ISA_SET(&red, VRED, COLS, 2);
    assert_int_equal(isa_exec(&c, &red, NULL), ISA_OK);
    assert_true(rd_f32(256) == 16.5f && rd_f32(260) == 18.5f);

    isa_insn norm = isa_insn_make(ISA_OP_VNORM);
    ISA_SET(&norm, VNORM, FN, ISA_NORM_RMS);
    ISA_SET(&norm, VNORM, DST, 512);
    ISA_SET(&norm, VNORM, SRC, 0);
    ISA_SET(&norm, VNORM, ROWS, 1);
    ISA_SET(&norm, VNORM, COLS, 4);
    ISA_SET(&norm, VNORM, EPS, 31);
    assert_int_equal(isa_exec(&c, &norm, NULL), ISA_OK);
    double rms = sqrt((1 + 4 + 9 + 16) / 4.0);
    assert_true(fabs(rd_f32(524) - 4.0 / rms) < 1e-6);

    isa_insn q = isa_insn_make(ISA_OP_VQUANT);
    ISA_SET(&q, VQUANT, DST, 1024);
    ISA_SET(&q, VQUANT, SRC, 0);
    ISA_SET(&q, VQUANT, N, 4);
    isa_set_f32(&q, ISA_F(VQUANT, SCALE), 2.0f); /* 0.5 1 1.5 2 -> 0 1 2 2 (half to even) */
    assert_int_equal(isa_exec(&c, &q, NULL), ISA_OK);
    assert_int_equal((int8_t)sram[1024], 0);
    assert_int_equal((int8_t)sram[1025], 1);
    assert_int_equal((int8_t)sram[1026], 2);
    assert_int_equal((int8_t)sram[1027], 2);

    isa_insn t = isa_insn_make(ISA_OP_VMOV); /* transpose 2x3 int32 */
    for (int i = 0; i < 6; i++)
        wr_i32(2048 + 4 * i, i);
    ISA_SET(&t, VMOV, FN, ISA_MOV_TRANSPOSE);
    ISA_SET(&t, VMOV, ESZ, ISA_ESZ_B4);
    ISA_SET(&t, VMOV, DST, 4096);
    ISA_SET(&t, VMOV, SRC, 2048);
    ISA_SET(&t, VMOV, ROWS, 2);
    ISA_SET(&t, VMOV, COLS, 3);
    ISA_SET(&t, VMOV, SSTRIDE, 3);
    ISA_SET(&t, VMOV, DSTRIDE, 2);
    assert_int_equal(isa_exec(&c, &t, NULL), ISA_OK);
    int32_t expect[6] = {0, 3, 1, 4, 2, 5};
    for (int i = 0; i < 6; i++)
        assert_int_equal(rd_i32(4096 + 4 * i), expect[i]);
}

static void test_sram_overflow_is_refused(void **state)
{
    (void)state;
    isa_exec_ctx c = ctx();
    isa_insn in = mm_insn(0, 0, 0, 0, 0, 4, 4, 4, SRAM_BYTES - 8, 0, 0);
    isa_error err;
    assert_int_equal(isa_exec(&c, &in, &err), ISA_E_LIMIT);
    assert_string_equal(err.msg, "mm: SRAM read [0xfff8, 0x10008) exceeds the 65536-byte SRAM");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mm_int8_and_accumulate),
        cmocka_unit_test(test_mm_int4_bias_requant),
        cmocka_unit_test(test_mm_out_per_channel),
        cmocka_unit_test(test_mm_out_rounding),
        cmocka_unit_test(test_sm_exp2_accuracy),
        cmocka_unit_test(test_sm_rows_and_mask),
        cmocka_unit_test(test_vector_ops),
        cmocka_unit_test(test_sram_overflow_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
