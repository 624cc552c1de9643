/* The functional semantics (isa_exec.c) on hand-checked cases: matmul with int4, bias,
 * accumulation and requantisation; the fixed-point softmax against float; vector ops. */
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
        cmocka_unit_test(test_sm_exp2_accuracy),
        cmocka_unit_test(test_sm_rows_and_mask),
        cmocka_unit_test(test_vector_ops),
        cmocka_unit_test(test_sram_overflow_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
