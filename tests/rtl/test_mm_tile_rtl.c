/* The matmul tile's self-checking testbench: random mm / mm.cfg / mm.out instructions run on the
 * Verilated 16x16 array with its 8-lane output stage (sim/tiles, through tile_rtl.h) and on
 * isa_exec(); the whole SRAM must be byte-for-byte identical after every instruction and the
 * measured cycles must equal tile_cycles.h's (tile_mm_rq_cycles_typed, tile_mm_out_cycles).
 * Shapes include 1, size-1, size and random values, both dataflows, int4 weights, every
 * acc/bias/rq combination in both forms of the output stage (per tensor, per channel by column
 * and by row, with and without its table; random records, so rounding, clamping and saturation
 * all occur), rows wider than the stage's lanes, every operand-type pair (int8, the 16 x 8 modes,
 * the f16 mode with f16 or integer operands; random SRAM bytes make f16 NaNs, infinities and
 * subnormals too) and C overlapping A; a stalled run checks that the handshakes never change
 * results; the error paths name what was wrong and write nothing. */
#include "test_util.h"

#include "isa_exec.h"
#include "tile_cycles.h"
#include "tile_rtl.h"

#define TILE 16                      /* the size configs/test.yaml uses, always compiled */
#define LANES 8                      /* its output stage (npu.matmul.output_stage.lanes) */
#define SRAM_BYTES (1u << 20)        /* room for k = 16383 (os) and m = 4095 (ws) */
#define A_ADDR 0x00000u              /* A: up to 16 x 16383 bytes */
#define B_ADDR 0x40000u              /* B: up to 16383 x 16 bytes */
#define C_ADDR 0x80000u              /* C: up to 4095 x 16 int32 */
#define BIAS_REGION 0xC0000u         /* mm.cfg bias vectors land in [BIAS_REGION, + 64 KiB) */
#define PRM_REGION 0xD0000u          /* mm.out records and tables land in [PRM_REGION, + 64 KiB) */
#define RANDOM_CASES 600
#define STALL_CASES 120
#define MAX_K 16383
#define MAX_WS_M 4095

typedef struct bench {
    tile_mm_rtl *tile;
    uint8_t *ref, *rtl; /* two SRAMs: isa_exec() and the RTL */
    isa_exec_ctx ref_ctx, rtl_ctx;
    test_rng rng;
} bench;

static int setup(void **state)
{
    bench *b = calloc(1, sizeof *b);
    assert_non_null(b);
    char err[256];
    assert_int_equal(tile_mm_rtl_create_lanes(TILE, TILE, LANES, &b->tile, err, sizeof err), TILE_RTL_OK);
    assert_int_equal(tile_mm_rtl_lanes(b->tile), LANES);
    b->ref = malloc(SRAM_BYTES);
    b->rtl = malloc(SRAM_BYTES);
    assert_non_null(b->ref);
    assert_non_null(b->rtl);
    b->rng.s = 0x6d6d74696c65ull; /* fixed seed */
    for (uint32_t i = 0; i < SRAM_BYTES; i++)
        b->ref[i] = (uint8_t)test_rng_next(&b->rng);
    memcpy(b->rtl, b->ref, SRAM_BYTES);
    memset(&b->ref_ctx, 0, sizeof b->ref_ctx);
    b->ref_ctx.sram = b->ref;
    b->ref_ctx.sram_bytes = SRAM_BYTES;
    b->rtl_ctx = b->ref_ctx;
    b->rtl_ctx.sram = b->rtl;
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    bench *b = *state;
    tile_mm_rtl_destroy(b->tile);
    free(b->ref);
    free(b->rtl);
    free(b);
    return 0;
}

/* A dimension bounded by the tile: 1, size-1, size, or anything in between. */
static uint32_t tile_dim(test_rng *r, uint32_t max)
{
    switch (test_rng_range(r, 0, 4)) {
    case 0: return 1;
    case 1: return max - 1;
    case 2: return max;
    default: return (uint32_t)test_rng_range(r, 1, max);
    }
}

/* A streamed dimension (k in os, m in ws): short, around the tile size, long, or the maximum. */
static uint32_t stream_dim(test_rng *r, uint32_t max)
{
    switch (test_rng_range(r, 0, 9)) {
    case 0: return 1;
    case 1: return TILE - 1;
    case 2: return TILE;
    case 3: return TILE + 1;
    case 4: return (uint32_t)test_rng_range(r, 1, 2 * TILE);
    case 5: return (uint32_t)test_rng_range(r, 1, 600);
    case 6: return test_rng_range(r, 0, 15) == 0 ? max : (uint32_t)test_rng_range(r, 1, 3000);
    default: return (uint32_t)test_rng_range(r, 1, 100);
    }
}

/* Operand-type pairs (at, bt) a random mm draws from; the first is drawn half of the time. */
static const int type_pairs[][2] = {
    {ISA_MMT_I8, ISA_MMT_I8},   {ISA_MMT_I16, ISA_MMT_I8}, {ISA_MMT_I8, ISA_MMT_I16},
    {ISA_MMT_F16, ISA_MMT_F16}, {ISA_MMT_F16, ISA_MMT_I8}, {ISA_MMT_I8, ISA_MMT_F16},
};
#define TYPE_PAIRS (int)(sizeof type_pairs / sizeof type_pairs[0])

static int is_wide(const isa_insn *in) { return ISA_GET(in, MM, AT) != ISA_MMT_I8 || ISA_GET(in, MM, BT) != ISA_MMT_I8; }

static isa_insn random_mm(test_rng *r)
{
    isa_insn in = isa_insn_make(ISA_OP_MM);
    int ws = (int)test_rng_range(r, 0, 1), i4 = (int)test_rng_range(r, 0, 2) == 0;
    int pair = test_rng_range(r, 0, 1) ? 0 : (int)test_rng_range(r, 1, TYPE_PAIRS - 1);
    if (i4 && type_pairs[pair][1] != ISA_MMT_I8)
        pair = pair == 2 ? 1 : 4; /* int4 is an 8-bit-class B */
    int fmode = type_pairs[pair][0] == ISA_MMT_F16 || type_pairs[pair][1] == ISA_MMT_F16;
    uint32_t n = tile_dim(r, TILE);
    if (i4 && n % 2)
        n = n == 1 ? 2 : n - 1;
    uint32_t m = ws ? stream_dim(r, MAX_WS_M) : tile_dim(r, TILE);
    uint32_t k = ws ? tile_dim(r, TILE) : stream_dim(r, MAX_K);
    ISA_SET(&in, MM, DF, ws ? ISA_DF_WS : ISA_DF_OS);
    ISA_SET(&in, MM, WT, i4 ? ISA_WT_I4 : ISA_WT_I8);
    ISA_SET(&in, MM, ACC, test_rng_range(r, 0, 1));
    ISA_SET(&in, MM, BIAS, fmode ? 0 : test_rng_range(r, 0, 1));
    ISA_SET(&in, MM, RQ, fmode ? 0 : test_rng_range(r, 0, 1));
    ISA_SET(&in, MM, AT, type_pairs[pair][0]);
    ISA_SET(&in, MM, BT, type_pairs[pair][1]);
    ISA_SET(&in, MM, M, m);
    ISA_SET(&in, MM, N, n);
    ISA_SET(&in, MM, K, k);
    ISA_SET(&in, MM, A, A_ADDR + test_rng_range(r, 0, 255));
    ISA_SET(&in, MM, B, B_ADDR + test_rng_range(r, 0, 255));
    /* now and then the result overwrites its own A operand (isa_exec reads everything first) */
    uint32_t c = test_rng_range(r, 0, 9) == 0 ? (uint32_t)ISA_GET(&in, MM, A) : C_ADDR + (uint32_t)test_rng_range(r, 0, 255);
    ISA_SET(&in, MM, C, c);
    return in;
}

static isa_insn random_cfg(test_rng *r)
{
    isa_insn in = isa_insn_make(ISA_OP_MM_CFG);
    ISA_SET(&in, MM_CFG, BIAS, BIAS_REGION + test_rng_range(r, 0, 4096));
    ISA_SET(&in, MM_CFG, SCALE, test_rng_range(r, 0, 65535));
    ISA_SET(&in, MM_CFG, SHIFT, test_rng_range(r, 0, 47));
    return in;
}

/* Records from the random SRAM (any bias and multiplier, any shift) or, now and then, tame ones
 * whose results are not all saturated. */
static isa_insn random_out(bench *b)
{
    test_rng *r = &b->rng;
    isa_insn in = isa_insn_make(ISA_OP_MM_OUT);
    uint32_t n = tile_dim(r, TILE), prm = PRM_REGION + (uint32_t)test_rng_range(r, 0, 4096);
    int lo = (int)test_rng_range(r, 0, 3) == 0 ? (int)test_rng_range(r, -128, 127) : -128;
    int hi = lo + (int)test_rng_range(r, 0, 127 - lo);
    ISA_SET(&in, MM_OUT, AXIS, test_rng_range(r, 0, 1));
    ISA_SET(&in, MM_OUT, LUT, test_rng_range(r, 0, 1));
    ISA_SET(&in, MM_OUT, PRM, prm);
    ISA_SET(&in, MM_OUT, N, n);
    ISA_SET(&in, MM_OUT, LO, lo);
    ISA_SET(&in, MM_OUT, HI, hi);
    ISA_SET(&in, MM_OUT, TAB, PRM_REGION + 0x8000 + test_rng_range(r, 0, 4096));
    if (test_rng_range(r, 0, 1)) /* tame: mult ~2^30 with shifts 28..40, small biases */
        for (uint32_t i = 0; i < n; i++) {
            int32_t v[3] = {(int32_t)test_rng_range(r, -1000, 1000), (int32_t)test_rng_range(r, 1 << 29, 1 << 30),
                            (int32_t)test_rng_range(r, 28, 40)};
            for (int w = 0; w < 3; w++) {
                memcpy(b->ref + prm + ISA_MM_OUT_RECORD_BYTES * i + 4 * w, &v[w], 4);
                memcpy(b->rtl + prm + ISA_MM_OUT_RECORD_BYTES * i + 4 * w, &v[w], 4);
            }
        }
    return in;
}

static uint64_t formula(const isa_insn *in)
{
    switch (in->op) {
    case ISA_OP_MM_CFG: return TILE_MM_CFG_CYCLES;
    case ISA_OP_MM_OUT:
        return tile_mm_out_cycles((uint64_t)ISA_GET(in, MM_OUT, N), ISA_GET(in, MM_OUT, LUT) == ISA_LUT_ON, LANES);
    default:
        return tile_mm_rq_cycles_typed(ISA_GET(in, MM, DF) == ISA_DF_WS, is_wide(in), (uint64_t)ISA_GET(in, MM, M),
                                       (uint64_t)ISA_GET(in, MM, N), (uint64_t)ISA_GET(in, MM, K),
                                       ISA_GET(in, MM, RQ) == ISA_RQ_ON ? LANES : 0);
    }
}

static void describe(const isa_insn *in, char *buf, size_t size) { isa_format(in, buf, size); }

/* Run one instruction on both; compare SRAM, ctx and (unless stalled) cycles. */
static void run_both(bench *b, const isa_insn *in, int stalled, int case_no)
{
    char text[160], err[512];
    describe(in, text, sizeof text);
    isa_error ie;
    isa_status ist = isa_exec(&b->ref_ctx, in, &ie);
    if (ist != ISA_OK)
        fail_msg("case %d: isa_exec refused %s: %s", case_no, text, ie.msg);
    uint64_t cycles = 0;
    tile_rtl_status st = tile_mm_rtl_run(b->tile, in, &b->rtl_ctx, &cycles, err, sizeof err);
    if (st != TILE_RTL_OK)
        fail_msg("case %d: RTL refused %s: %s", case_no, text, err);
    if (memcmp(b->ref, b->rtl, SRAM_BYTES) != 0) {
        uint32_t i = 0;
        while (b->ref[i] == b->rtl[i])
            i++;
        fail_msg("case %d: %s: SRAM differs first at 0x%x (isa_exec 0x%02x, RTL 0x%02x)", case_no, text, i,
                 b->ref[i], b->rtl[i]);
    }
    assert_int_equal(b->ref_ctx.mm_bias, b->rtl_ctx.mm_bias);
    assert_int_equal(b->ref_ctx.mm_scale, b->rtl_ctx.mm_scale);
    assert_int_equal(b->ref_ctx.mm_shift, b->rtl_ctx.mm_shift);
    assert_memory_equal(&b->ref_ctx.mm_out, &b->rtl_ctx.mm_out, sizeof b->ref_ctx.mm_out);
    uint64_t want = formula(in);
    if (stalled ? cycles < want : cycles != want)
        fail_msg("case %d: %s: %llu cycles measured, tile_cycles.h says %llu", case_no, text,
                 (unsigned long long)cycles, (unsigned long long)want);
}

static void test_random_instructions(void **state)
{
    bench *b = *state;
    int seen[2][2] = {{0}}, combos[8] = {0}, cfgs = 0, outs[2][2] = {{0}}, forms[2] = {0}, wide = 0;
    int types[3][3] = {{0}};
    for (int i = 0; i < RANDOM_CASES; i++) {
        if (i % 5 == 0) { /* reconfigure: the per-tensor form, or the per-channel one */
            if (test_rng_range(&b->rng, 0, 1)) {
                isa_insn cfg = random_cfg(&b->rng);
                run_both(b, &cfg, 0, i);
                cfgs++;
            } else {
                isa_insn out = random_out(b);
                run_both(b, &out, 0, i);
                outs[ISA_GET(&out, MM_OUT, AXIS)][ISA_GET(&out, MM_OUT, LUT)]++;
            }
        }
        isa_insn in = random_mm(&b->rng);
        run_both(b, &in, 0, i);
        seen[ISA_GET(&in, MM, DF)][ISA_GET(&in, MM, WT)]++;
        types[ISA_GET(&in, MM, AT)][ISA_GET(&in, MM, BT)]++;
        combos[ISA_GET(&in, MM, ACC) * 4 + ISA_GET(&in, MM, BIAS) * 2 + ISA_GET(&in, MM, RQ)]++;
        if (ISA_GET(&in, MM, RQ) == ISA_RQ_ON) {
            forms[b->ref_ctx.mm_out.per_channel]++;
            wide += ISA_GET(&in, MM, N) > LANES;
        }
    }
    /* the generator really covered every dataflow x weight type and acc/bias/rq combination, both
     * forms of the stage, every mm.out kind, and rows the stage takes in more than one beat */
    for (int df = 0; df < 2; df++)
        for (int wt = 0; wt < 2; wt++)
            assert_true(seen[df][wt] > 20);
    for (int c = 0; c < 8; c++)
        assert_true(combos[c] > 20);
    for (int p = 0; p < TYPE_PAIRS; p++)
        assert_true(types[type_pairs[p][0]][type_pairs[p][1]] > 20);
    assert_true(cfgs >= RANDOM_CASES / 20);
    for (int ax = 0; ax < 2; ax++)
        for (int lut = 0; lut < 2; lut++)
            assert_true(outs[ax][lut] >= 5);
    assert_true(forms[0] > 20 && forms[1] > 20);
    assert_true(wide > 20);
}

/* Every edge shape exactly once per dataflow, so that none depends on the random draw. */
static void test_edge_shapes(void **state)
{
    bench *b = *state;
    const uint32_t dims[] = {1, 2, TILE - 1, TILE};
    const uint32_t streams[] = {1, 2, TILE - 1, TILE, TILE + 1, 3 * TILE + 5};
    int no = 0;
    for (int ws = 0; ws < 2; ws++)
        for (size_t a = 0; a < sizeof dims / sizeof dims[0]; a++)
            for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++)
                for (size_t s = 0; s < sizeof streams / sizeof streams[0]; s++) {
                    isa_insn in = isa_insn_make(ISA_OP_MM);
                    ISA_SET(&in, MM, DF, ws);
                    ISA_SET(&in, MM, M, ws ? streams[s] : dims[a]);
                    ISA_SET(&in, MM, K, ws ? dims[a] : streams[s]);
                    ISA_SET(&in, MM, N, dims[c]);
                    ISA_SET(&in, MM, WT, dims[c] % 2 == 0 && s % 2 ? ISA_WT_I4 : ISA_WT_I8);
                    ISA_SET(&in, MM, A, A_ADDR);
                    ISA_SET(&in, MM, B, B_ADDR);
                    ISA_SET(&in, MM, C, C_ADDR);
                    run_both(b, &in, 0, no++);
                }
    /* the output stage at the lane boundary: n = lanes - 1, lanes, lanes + 1, 2 lanes, in both
     * record axes, with acc and bias feeding it */
    const uint32_t widths[] = {LANES - 1, LANES, LANES + 1, 2 * LANES};
    for (int axis = 0; axis < 2; axis++) {
        isa_insn out = isa_insn_make(ISA_OP_MM_OUT);
        ISA_SET(&out, MM_OUT, AXIS, axis);
        ISA_SET(&out, MM_OUT, LUT, axis);
        ISA_SET(&out, MM_OUT, PRM, PRM_REGION);
        ISA_SET(&out, MM_OUT, N, TILE);
        ISA_SET(&out, MM_OUT, LO, -100);
        ISA_SET(&out, MM_OUT, HI, 100);
        ISA_SET(&out, MM_OUT, TAB, PRM_REGION + 0x8000);
        run_both(b, &out, 0, no++);
        for (int ws = 0; ws < 2; ws++)
            for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
                isa_insn in = isa_insn_make(ISA_OP_MM);
                ISA_SET(&in, MM, DF, ws);
                ISA_SET(&in, MM, ACC, ISA_ACC_ADD);
                ISA_SET(&in, MM, BIAS, ISA_BIAS_ON);
                ISA_SET(&in, MM, RQ, ISA_RQ_ON);
                ISA_SET(&in, MM, M, ws ? 37 : TILE);
                ISA_SET(&in, MM, K, ws ? TILE : 37);
                ISA_SET(&in, MM, N, widths[w]);
                ISA_SET(&in, MM, A, A_ADDR);
                ISA_SET(&in, MM, B, B_ADDR);
                ISA_SET(&in, MM, C, C_ADDR);
                run_both(b, &in, 0, no++);
            }
    }
}

/* The typed modes on the edge shapes, with operands that make the float sums' order visible. */
static void test_typed_edge_shapes(void **state)
{
    bench *b = *state;
    const uint32_t dims[] = {1, TILE - 1, TILE};
    const uint32_t streams[] = {1, TILE, TILE + 1, 2 * TILE + 3};
    int no = 0;
    for (int p = 1; p < TYPE_PAIRS; p++)
        for (int ws = 0; ws < 2; ws++)
            for (size_t a = 0; a < sizeof dims / sizeof dims[0]; a++)
                for (size_t s = 0; s < sizeof streams / sizeof streams[0]; s++) {
                    isa_insn in = isa_insn_make(ISA_OP_MM);
                    ISA_SET(&in, MM, DF, ws);
                    ISA_SET(&in, MM, M, ws ? streams[s] : dims[a]);
                    ISA_SET(&in, MM, K, ws ? dims[a] : streams[s]);
                    ISA_SET(&in, MM, N, dims[(a + s) % 3]);
                    ISA_SET(&in, MM, ACC, (int)(s % 2));
                    ISA_SET(&in, MM, AT, type_pairs[p][0]);
                    ISA_SET(&in, MM, BT, type_pairs[p][1]);
                    ISA_SET(&in, MM, A, A_ADDR);
                    ISA_SET(&in, MM, B, B_ADDR);
                    ISA_SET(&in, MM, C, C_ADDR);
                    run_both(b, &in, 0, no++);
                }
}

static void test_stalls_keep_results(void **state)
{
    bench *b = *state;
    tile_rtl_stalls stalls = {.in_per_mille = 300, .out_per_mille = 400, .seed = 42};
    tile_mm_rtl_set_stalls(b->tile, &stalls);
    for (int i = 0; i < STALL_CASES; i++) {
        if (i % 4 == 0) { /* mm.out's beats stall too */
            isa_insn out = random_out(b);
            run_both(b, &out, 1, i);
        }
        isa_insn in = random_mm(&b->rng);
        if (ISA_GET(&in, MM, K) > 600) /* stalls make cycles slow: keep the streams short */
            ISA_SET(&in, MM, K, 77);
        if (ISA_GET(&in, MM, M) > 600)
            ISA_SET(&in, MM, M, 77);
        run_both(b, &in, 1, i);
    }
    tile_rtl_stalls none = {0};
    tile_mm_rtl_set_stalls(b->tile, &none);
}

/* The formula itself, on hand-counted schedules (rtl/README.md): os 1x1x1 is issue, one beat,
 * one result; ws k=16 loads 16 weight rows (the last with A row 0) and the result leaves the
 * bottom of column 15 after 15 + 15 more steps. */
static void test_formula_by_hand(void **state)
{
    (void)state;
    assert_int_equal(tile_mm_cycles(0, 1, 1, 1), 3);
    assert_int_equal(tile_mm_cycles(0, 16, 16, 64), 64 + 32 + 16 - 1);
    assert_int_equal(tile_mm_cycles(1, 1, 16, 16), 32 + 1 + 16 - 1);
    assert_int_equal(tile_mm_cycles(1, 100, 1, 1), 2 + 100 + 1 - 1);
    /* a 16-bit operand: issue, then every step two cycles */
    assert_int_equal(tile_mm_cycles_typed(0, 1, 1, 1, 1), 1 + 2 * 2);
    assert_int_equal(tile_mm_cycles_typed(0, 0, 16, 16, 64), tile_mm_cycles(0, 16, 16, 64));
    assert_int_equal(tile_mm_cycles_typed(1, 1, 1, 16, 16), 1 + 2 * (16 + 1 + 16 + 16 - 2));
    /* the output stage: rows of n <= lanes leave in one cycle; a row of 16 takes two 8-lane beats
     * (one stalled cycle per row); mm.out is issue, the record beats, then 256 / lanes table beats */
    assert_int_equal(tile_mm_rq_cycles(0, 2, 8, 3, 8), tile_mm_cycles(0, 2, 8, 3));
    assert_int_equal(tile_mm_rq_cycles(0, 2, 16, 3, 8), tile_mm_cycles(0, 2, 16, 3) + 2);
    assert_int_equal(tile_mm_rq_cycles(1, 100, 9, 4, 8), tile_mm_cycles(1, 100, 9, 4) + 100);
    assert_int_equal(tile_mm_rq_cycles(0, 16, 16, 64, 0), tile_mm_cycles(0, 16, 16, 64));
    assert_int_equal(tile_mm_out_cycles(16, 1, 8), 1 + 2 + 32);
    assert_int_equal(tile_mm_out_cycles(5, 0, 8), 2);
    /* the stage with a 16-bit operand: its extra steps are two cycles each, as the array's */
    assert_int_equal(tile_mm_rq_cycles_typed(0, 1, 2, 16, 3, 8), tile_mm_cycles_typed(0, 1, 2, 16, 3) + 2 * 2);
    assert_int_equal(tile_mm_rq_cycles_typed(0, 1, 2, 8, 3, 8), tile_mm_cycles_typed(0, 1, 2, 8, 3));
}

static void test_errors_write_nothing(void **state)
{
    bench *b = *state;
    char err[512];
    uint64_t cycles = 99;

    isa_insn big = isa_insn_make(ISA_OP_MM);
    ISA_SET(&big, MM, M, TILE + 1);
    ISA_SET(&big, MM, N, 4);
    ISA_SET(&big, MM, K, 4);
    ISA_SET(&big, MM, C, C_ADDR);
    assert_int_equal(tile_mm_rtl_run(b->tile, &big, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_SHAPE);
    assert_string_equal(err, "mm: m = 17 exceeds the 16-row matmul tile (os dataflow)");
    assert_int_equal(cycles, 0);

    ISA_SET(&big, MM, DF, ISA_DF_WS);
    ISA_SET(&big, MM, K, TILE + 1);
    assert_int_equal(tile_mm_rtl_run(b->tile, &big, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_SHAPE);
    assert_string_equal(err, "mm: k = 17 exceeds the 16-row matmul tile (ws dataflow)");

    isa_insn wide = isa_insn_make(ISA_OP_MM);
    ISA_SET(&wide, MM, N, TILE + 1);
    assert_int_equal(tile_mm_rtl_run(b->tile, &wide, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_SHAPE);
    assert_string_equal(err, "mm: n = 17 exceeds the 16-column matmul tile");

    isa_insn out = isa_insn_make(ISA_OP_MM);
    ISA_SET(&out, MM, M, 16);
    ISA_SET(&out, MM, N, 16);
    ISA_SET(&out, MM, K, 16);
    ISA_SET(&out, MM, C, SRAM_BYTES - 100);
    assert_int_equal(tile_mm_rtl_run(b->tile, &out, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_SRAM);
    assert_string_equal(err, "mm: SRAM write [0xfff9c, 0x10039c) exceeds the 1048576-byte SRAM");

    isa_insn odd = isa_insn_make(ISA_OP_MM); /* int4 needs an even n: isa_check's message */
    ISA_SET(&odd, MM, WT, ISA_WT_I4);
    ISA_SET(&odd, MM, N, 3);
    assert_int_equal(tile_mm_rtl_run(b->tile, &odd, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_INSN);
    assert_string_equal(err, "mm: n = 3 must be even with packed int4 weights");

    isa_insn sm = isa_insn_make(ISA_OP_SM);
    assert_int_equal(tile_mm_rtl_run(b->tile, &sm, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_INSN);
    assert_string_equal(err, "sm is not a matmul tile instruction (expected mm, mm.cfg or mm.out)");

    isa_insn many = isa_insn_make(ISA_OP_MM_OUT);
    ISA_SET(&many, MM_OUT, N, TILE + 1);
    assert_int_equal(tile_mm_rtl_run(b->tile, &many, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_SHAPE);
    assert_string_equal(err, "mm.out: n = 17 exceeds the output stage's 16 records");

    /* none of the failures touched the SRAM */
    assert_memory_equal(b->ref, b->rtl, SRAM_BYTES);
}

static void test_geometry_not_compiled(void **state)
{
    (void)state;
    tile_mm_rtl *t = (tile_mm_rtl *)1;
    char err[512];
    assert_int_equal(tile_mm_rtl_create(7, 7, &t, err, sizeof err), TILE_RTL_E_GEOMETRY);
    assert_null(t);
    assert_non_null(strstr(err, "no 7x7 matmul tile RTL in this build (compiled: "));
    assert_non_null(strstr(err, "16x16/8"));
    assert_non_null(strstr(tile_rtl_mm_sizes(), "16x16/8"));
    assert_int_equal(tile_mm_rtl_create_lanes(TILE, TILE, LANES + 1, &t, err, sizeof err), TILE_RTL_E_GEOMETRY);
    assert_non_null(strstr(err, "no 16x16/9 matmul tile RTL in this build"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formula_by_hand),
        cmocka_unit_test(test_geometry_not_compiled),
        cmocka_unit_test_setup_teardown(test_edge_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_typed_edge_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_instructions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalls_keep_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_write_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
