/* The softmax tile's self-checking testbench: random sm instructions run on the Verilated
 * 4-lane tile (rows up to 512; sim/tiles through tile_rtl.h) and on isa_exec(); the whole SRAM
 * must be byte-for-byte identical after every instruction and the measured cycles must equal
 * tile_sm_cycles(). Lengths include 1, multiples and non-multiples of the lane count and the
 * maximum; rows are masked and unmasked with offsets that mask nothing, part, or all of a row;
 * scales span the whole field; src and dst overlap in the ways isa_exec() allows. A stalled run
 * checks the handshakes; the error paths name what was wrong and write nothing. */
#include "test_util.h"

#include "isa_exec.h"
#include "tile_cycles.h"
#include "tile_rtl.h"

#define LANES 4          /* configs/test.yaml */
#define MAX_LEN 512
#define SRAM_BYTES (1u << 18)
#define SRC_ADDR 0x1000u /* rows x len <= 64 KiB of input */
#define DST_ADDR 0x20000u
#define RANDOM_CASES 500
#define STALL_CASES 80
#define SCALE_LOG2E_Q12 5909 /* log2(e) in Q4.12: scale for s = 1 */

typedef struct bench {
    tile_sm_rtl *tile;
    uint8_t *ref, *rtl;
    isa_exec_ctx ref_ctx, rtl_ctx;
    test_rng rng;
} bench;

static int setup(void **state)
{
    bench *b = calloc(1, sizeof *b);
    assert_non_null(b);
    char err[256];
    assert_int_equal(tile_sm_rtl_create(LANES, MAX_LEN, &b->tile, err, sizeof err), TILE_RTL_OK);
    b->ref = malloc(SRAM_BYTES);
    b->rtl = malloc(SRAM_BYTES);
    assert_non_null(b->ref);
    assert_non_null(b->rtl);
    b->rng.s = 0x736f66746d6178ull;
    for (uint32_t i = 0; i < SRAM_BYTES; i++)
        b->ref[i] = (uint8_t)test_rng_next(&b->rng);
    memcpy(b->rtl, b->ref, SRAM_BYTES);
    isa_exec_ctx c = {.sram = b->ref, .sram_bytes = SRAM_BYTES};
    b->ref_ctx = c;
    c.sram = b->rtl;
    b->rtl_ctx = c;
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    bench *b = *state;
    tile_sm_rtl_destroy(b->tile);
    free(b->ref);
    free(b->rtl);
    free(b);
    return 0;
}

static uint32_t random_len(test_rng *r)
{
    switch (test_rng_range(r, 0, 9)) {
    case 0: return (uint32_t)test_rng_range(r, 1, LANES + 1);
    case 1: return MAX_LEN;
    case 2: return MAX_LEN - (uint32_t)test_rng_range(r, 1, LANES);
    case 3: return LANES * (uint32_t)test_rng_range(r, 1, MAX_LEN / LANES);
    case 4: return (uint32_t)test_rng_range(r, 1, 32);
    default: return (uint32_t)test_rng_range(r, 1, MAX_LEN);
    }
}

static uint32_t random_scale(test_rng *r)
{
    switch (test_rng_range(r, 0, 5)) {
    case 0: return (uint32_t)test_rng_range(r, 1, 65535);
    case 1: return 1;
    case 2: return 65535;
    default: /* the usual range: s = 1/64 .. 4 */
        return (uint32_t)test_rng_range(r, SCALE_LOG2E_Q12 / 64, 4 * SCALE_LOG2E_Q12);
    }
}

/* Fill rows x len input bytes at addr in both SRAMs: uniform, narrow, or with one large peak. */
static void fill_rows(bench *b, uint32_t addr, uint32_t n)
{
    int kind = (int)test_rng_range(&b->rng, 0, 2);
    for (uint32_t i = 0; i < n; i++) {
        int v;
        if (kind == 0)
            v = (int)test_rng_range(&b->rng, -128, 127);
        else if (kind == 1)
            v = (int)test_rng_range(&b->rng, -6, 6);
        else
            v = test_rng_range(&b->rng, 0, 40) == 0 ? 127 : (int)test_rng_range(&b->rng, -128, 0);
        b->ref[addr + i] = b->rtl[addr + i] = (uint8_t)(int8_t)v;
    }
}

static isa_insn random_sm(bench *b)
{
    test_rng *r = &b->rng;
    uint32_t len = random_len(r);
    uint32_t max_rows = (64 * 1024) / len < 12 ? (64 * 1024) / len : 12;
    uint32_t rows = test_rng_range(r, 0, 3) == 0 ? 1 : (uint32_t)test_rng_range(r, 1, max_rows);
    isa_insn in = isa_insn_make(ISA_OP_SM);
    ISA_SET(&in, SM, LEN, len);
    ISA_SET(&in, SM, ROWS, rows);
    ISA_SET(&in, SM, SCALE, random_scale(r));
    ISA_SET(&in, SM, MASK, test_rng_range(r, 0, 1));
    int32_t moff;
    switch (test_rng_range(r, 0, 5)) {
    case 0: moff = -32768; break;
    case 1: moff = 32767; break;
    case 2: moff = 0; break;
    default: moff = (int32_t)test_rng_range(r, -(int64_t)rows - 2, (int64_t)len + 2); break;
    }
    ISA_SET(&in, SM, MOFF, moff);
    uint32_t src = SRC_ADDR + (uint32_t)test_rng_range(r, 0, 64);
    uint32_t dst;
    switch (test_rng_range(r, 0, 5)) {
    case 0: dst = src; break;               /* in place */
    case 1: dst = src + len; break;         /* row r lands on input row r+1 */
    case 2: dst = src - 1; break;           /* one byte behind */
    default: dst = DST_ADDR + (uint32_t)test_rng_range(r, 0, 64); break;
    }
    ISA_SET(&in, SM, SRC, src);
    ISA_SET(&in, SM, DST, dst);
    fill_rows(b, src, rows * len);
    return in;
}

static void run_both(bench *b, const isa_insn *in, int stalled, int case_no)
{
    char text[160], err[512];
    isa_format(in, text, sizeof text);
    isa_error ie;
    if (isa_exec(&b->ref_ctx, in, &ie) != ISA_OK)
        fail_msg("case %d: isa_exec refused %s: %s", case_no, text, ie.msg);
    uint64_t cycles = 0;
    tile_rtl_status st = tile_sm_rtl_run(b->tile, in, &b->rtl_ctx, &cycles, err, sizeof err);
    if (st != TILE_RTL_OK)
        fail_msg("case %d: RTL refused %s: %s", case_no, text, err);
    if (memcmp(b->ref, b->rtl, SRAM_BYTES) != 0) {
        uint32_t i = 0;
        while (b->ref[i] == b->rtl[i])
            i++;
        fail_msg("case %d: %s: SRAM differs first at 0x%x (isa_exec %d, RTL %d)", case_no, text, i,
                 (int8_t)b->ref[i], (int8_t)b->rtl[i]);
    }
    uint64_t want = tile_sm_cycles((uint64_t)ISA_GET(in, SM, ROWS), (uint64_t)ISA_GET(in, SM, LEN), LANES);
    if (stalled ? cycles < want : cycles != want)
        fail_msg("case %d: %s: %llu cycles measured, tile_cycles.h says %llu", case_no, text,
                 (unsigned long long)cycles, (unsigned long long)want);
}

static void test_random_instructions(void **state)
{
    bench *b = *state;
    int masked = 0, unmasked = 0, partial_lane = 0, full_len = 0;
    for (int i = 0; i < RANDOM_CASES; i++) {
        isa_insn in = random_sm(b);
        run_both(b, &in, 0, i);
        if (ISA_GET(&in, SM, MASK))
            masked++;
        else
            unmasked++;
        partial_lane += ISA_GET(&in, SM, LEN) % LANES != 0;
        full_len += ISA_GET(&in, SM, LEN) == MAX_LEN;
    }
    assert_true(masked > 100 && unmasked > 100 && partial_lane > 100 && full_len > 20);
}

/* Directed rows: every length 1..2*LANES+1, each masked with every offset that masks all, part
 * or none of a 3-row block, at the extreme scales. */
static void test_directed_rows(void **state)
{
    bench *b = *state;
    const uint32_t scales[] = {1, SCALE_LOG2E_Q12, 65535};
    int no = 0;
    for (uint32_t len = 1; len <= 2 * LANES + 1; len++)
        for (int32_t moff = -4; moff <= (int32_t)len + 1; moff++)
            for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
                isa_insn in = isa_insn_make(ISA_OP_SM);
                ISA_SET(&in, SM, LEN, len);
                ISA_SET(&in, SM, ROWS, 3);
                ISA_SET(&in, SM, SCALE, scales[s]);
                ISA_SET(&in, SM, MASK, ISA_MASK_CAUSAL);
                ISA_SET(&in, SM, MOFF, moff);
                ISA_SET(&in, SM, SRC, SRC_ADDR);
                ISA_SET(&in, SM, DST, DST_ADDR);
                fill_rows(b, SRC_ADDR, 3 * len);
                run_both(b, &in, 0, no++);
            }
}

/* A fully masked row is all zero (and takes its cycles like any other). */
static void test_fully_masked_row_is_zero(void **state)
{
    bench *b = *state;
    isa_insn in = isa_insn_make(ISA_OP_SM);
    ISA_SET(&in, SM, LEN, 9);
    ISA_SET(&in, SM, ROWS, 2);
    ISA_SET(&in, SM, SCALE, SCALE_LOG2E_Q12);
    ISA_SET(&in, SM, MASK, ISA_MASK_CAUSAL);
    ISA_SET(&in, SM, MOFF, -1); /* row 0: j > -1 masks everything; row 1: only j = 0 is kept */
    ISA_SET(&in, SM, SRC, SRC_ADDR);
    ISA_SET(&in, SM, DST, DST_ADDR);
    fill_rows(b, SRC_ADDR, 18);
    run_both(b, &in, 0, 0);
    for (int j = 0; j < 9; j++)
        assert_int_equal(b->rtl[DST_ADDR + j], 0);
    assert_int_equal((int8_t)b->rtl[DST_ADDR + 9], 127); /* a single element: 1.0 saturates */
    for (int j = 1; j < 9; j++)
        assert_int_equal(b->rtl[DST_ADDR + 9 + j], 0);
}

static void test_stalls_keep_results(void **state)
{
    bench *b = *state;
    tile_rtl_stalls stalls = {.in_per_mille = 350, .out_per_mille = 350, .seed = 7};
    tile_sm_rtl_set_stalls(b->tile, &stalls);
    for (int i = 0; i < STALL_CASES; i++) {
        isa_insn in = random_sm(b);
        run_both(b, &in, 1, i);
    }
    tile_rtl_stalls none = {0};
    tile_sm_rtl_set_stalls(b->tile, &none);
}

static void test_formula_by_hand(void **state)
{
    (void)state;
    /* one row of 4 elements on 4 lanes: issue + 1 + (1+3) + 41 + (1+3) */
    assert_int_equal(tile_sm_cycles(1, 4, 4), 1 + 1 + 4 + 41 + 4);
    assert_int_equal(tile_sm_cycles(2, 5, 4), 1 + 2 * (3 * 2 + 47));
}

static void test_errors_write_nothing(void **state)
{
    bench *b = *state;
    char err[512];
    uint64_t cycles = 5;
    isa_insn in = isa_insn_make(ISA_OP_SM);
    ISA_SET(&in, SM, LEN, MAX_LEN + 1);
    assert_int_equal(tile_sm_rtl_run(b->tile, &in, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_SHAPE);
    assert_string_equal(err, "sm: len = 513 exceeds the softmax tile's maximum row of 512");
    assert_int_equal(cycles, 0);

    ISA_SET(&in, SM, LEN, 100);
    ISA_SET(&in, SM, ROWS, 10);
    ISA_SET(&in, SM, DST, SRAM_BYTES - 500);
    assert_int_equal(tile_sm_rtl_run(b->tile, &in, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_SRAM);
    assert_string_equal(err, "sm: SRAM write [0x3fe0c, 0x401f4) exceeds the 262144-byte SRAM");

    isa_insn mm = isa_insn_make(ISA_OP_MM);
    assert_int_equal(tile_sm_rtl_run(b->tile, &mm, &b->rtl_ctx, &cycles, err, sizeof err), TILE_RTL_E_INSN);
    assert_string_equal(err, "mm is not a softmax tile instruction (expected sm)");

    assert_memory_equal(b->ref, b->rtl, SRAM_BYTES);

    tile_sm_rtl *t = (tile_sm_rtl *)1;
    assert_int_equal(tile_sm_rtl_create(LANES, 1000, &t, err, sizeof err), TILE_RTL_E_GEOMETRY);
    assert_null(t);
    assert_non_null(strstr(err, "no softmax tile RTL with 4 lanes and rows of 1000 in this build (compiled: "));
    assert_non_null(strstr(err, "4 lanes/512"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formula_by_hand),
        cmocka_unit_test_setup_teardown(test_fully_masked_row_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directed_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_instructions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalls_keep_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_write_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
