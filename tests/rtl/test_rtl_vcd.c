/* VCD tracing of the RTL tiles: a trace started on a driver is written when the driver is
 * destroyed, holds the tile's hierarchy and signal names and value changes over the cycles
 * that ran, in picoseconds of the tile's clock (two dumps a cycle); an unwritable path and a
 * second trace on the same driver are clean errors. */
#include "test_util.h"

#include <math.h>

#include "isa_exec.h"
#include "tile_rtl.h"

#define SRAM_BYTES 65536
#define FILE_CAP (8u << 20)

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(FILE_CAP + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, FILE_CAP, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* The number of "#<time>" lines: timestamps with value changes. */
static int count_timestamps(const char *vcd)
{
    int n = 0;
    for (const char *p = vcd; (p = strstr(p, "\n#")) != NULL; p++)
        n++;
    return n;
}

static void test_mm_vcd(void **state)
{
    (void)state;
    static uint8_t sram[SRAM_BYTES];
    isa_exec_ctx ctx = {.sram = sram, .sram_bytes = SRAM_BYTES};
    tile_mm_rtl *t;
    char err[256], path[256];
    assert_int_equal(tile_mm_rtl_create(16, 16, &t, err, sizeof err), TILE_RTL_OK);
    test_path(path, sizeof path, "mm.vcd");
    assert_int_equal(tile_mm_rtl_trace(t, path, err, sizeof err), TILE_RTL_OK);
    assert_int_equal(tile_mm_rtl_trace(t, path, err, sizeof err), TILE_RTL_E_TRACE);
    assert_string_equal(err, "mm tile VCD: tracing is already on for this tile");
    isa_insn in = isa_insn_make(ISA_OP_MM);
    ISA_SET(&in, MM, M, 4);
    ISA_SET(&in, MM, N, 4);
    ISA_SET(&in, MM, K, 8);
    ISA_SET(&in, MM, C, 1024);
    uint64_t cycles = 0;
    assert_int_equal(tile_mm_rtl_run(t, &in, &ctx, &cycles, err, sizeof err), TILE_RTL_OK);
    tile_mm_rtl_destroy(t);

    size_t len;
    char *vcd = slurp(path, &len);
    assert_non_null(strstr(vcd, "$enddefinitions"));
    assert_non_null(strstr(vcd, "$scope module mm_tile $end"));
    const char *names[] = {" out_valid ", " in_ready ", " in_a[15] ", " out_c[0] ", " acc_q ", " cmd_ws ", " clk "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(vcd, names[i]))
            fail_msg("%s missing from the VCD", names[i]);
    /* two dumps per cycle over (at least) the instruction's cycles */
    assert_true(count_timestamps(vcd) >= 2 * (int)cycles);
    /* picoseconds of the default clock: a half cycle is 500 ps */
    assert_non_null(strstr(vcd, "$timescale 1ps $end"));
    for (const char *p = vcd; (p = strstr(p, "\n#")) != NULL; p++)
        assert_int_equal(atoll(p + 2) % 500, 0);
    free(vcd);
}

/* At 1066 MHz a half cycle is 469.04 ps: each dump 469 or 470 ps after the last, never backwards,
 * and the last at the instruction's cycles' worth of time. */
static void test_vcd_follows_the_clock(void **state)
{
    (void)state;
    static uint8_t sram[SRAM_BYTES];
    isa_exec_ctx ctx = {.sram = sram, .sram_bytes = SRAM_BYTES};
    tile_mm_rtl *t;
    char err[256], path[256];
    assert_int_equal(tile_mm_rtl_create(16, 16, &t, err, sizeof err), TILE_RTL_OK);
    tile_mm_rtl_set_clock(t, 1066.0);
    test_path(path, sizeof path, "clock.vcd");
    assert_int_equal(tile_mm_rtl_trace(t, path, err, sizeof err), TILE_RTL_OK);
    isa_insn in = isa_insn_make(ISA_OP_MM);
    ISA_SET(&in, MM, M, 4);
    ISA_SET(&in, MM, N, 4);
    ISA_SET(&in, MM, K, 8);
    ISA_SET(&in, MM, C, 1024);
    uint64_t cycles = 0;
    assert_int_equal(tile_mm_rtl_run(t, &in, &ctx, &cycles, err, sizeof err), TILE_RTL_OK);
    tile_mm_rtl_destroy(t);
    size_t len;
    char *vcd = slurp(path, &len);
    long long last = -1, first = -1;
    int steps = 0;
    for (const char *p = vcd; (p = strstr(p, "\n#")) != NULL; p++) {
        long long ts = atoll(p + 2);
        if (last >= 0) {
            if (ts - last != 469 && ts - last != 470)
                fail_msg("a half cycle of %lld ps at 1066 MHz", ts - last);
            steps++;
        } else {
            first = ts;
        }
        last = ts;
    }
    assert_true(steps >= 2 * (int)cycles - 1);
    double want = (double)steps * 1e6 / (2 * 1066.0);
    assert_true(fabs((double)(last - first) - want) <= 1.0);
    free(vcd);
}

static void test_sm_vcd(void **state)
{
    (void)state;
    static uint8_t sram[SRAM_BYTES];
    isa_exec_ctx ctx = {.sram = sram, .sram_bytes = SRAM_BYTES};
    tile_sm_rtl *t;
    char err[256], path[256];
    assert_int_equal(tile_sm_rtl_create(4, 512, &t, err, sizeof err), TILE_RTL_OK);
    assert_int_equal(tile_sm_rtl_trace(t, "/nonexistent-dir/x.vcd", err, sizeof err), TILE_RTL_E_TRACE);
    assert_string_equal(err, "sm tile VCD: cannot open /nonexistent-dir/x.vcd for writing: No such file or directory");
    test_path(path, sizeof path, "sm.vcd");
    assert_int_equal(tile_sm_rtl_trace(t, path, err, sizeof err), TILE_RTL_OK);
    isa_insn in = isa_insn_make(ISA_OP_SM);
    ISA_SET(&in, SM, LEN, 10);
    ISA_SET(&in, SM, ROWS, 2);
    ISA_SET(&in, SM, SCALE, 5909);
    ISA_SET(&in, SM, DST, 4096);
    uint64_t cycles = 0;
    assert_int_equal(tile_sm_rtl_run(t, &in, &ctx, &cycles, err, sizeof err), TILE_RTL_OK);
    tile_sm_rtl_destroy(t);

    size_t len;
    char *vcd = slurp(path, &len);
    assert_non_null(strstr(vcd, "$scope module sm_tile $end"));
    const char *names[] = {" out_valid ", " in_x[0] ", " out_y[3] ", " recip_q ", " sum_q ", " phase_q "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(vcd, names[i]))
            fail_msg("%s missing from the VCD", names[i]);
    assert_true(count_timestamps(vcd) >= 2 * (int)cycles);
    free(vcd);
}

/* Regression (issue 9): a VCD that could not be written (a full disk, a file-size limit) made
 * Verilator's fatal-error path abort the process or deadlock. The write failure is recorded, the
 * run goes on, and stopping the trace reports it; a stop on a good file reports nothing. */
static void test_vcd_write_failure_is_reported_at_stop(void **state)
{
    (void)state;
    static uint8_t sram[SRAM_BYTES];
    isa_exec_ctx ctx = {.sram = sram, .sram_bytes = SRAM_BYTES};
    tile_mm_rtl *t;
    char err[256], path[256];
    assert_int_equal(tile_mm_rtl_create(16, 16, &t, err, sizeof err), TILE_RTL_OK);
    assert_int_equal(tile_mm_rtl_trace(t, "/dev/full", err, sizeof err), TILE_RTL_OK);
    isa_insn in = isa_insn_make(ISA_OP_MM);
    ISA_SET(&in, MM, M, 16);
    ISA_SET(&in, MM, N, 16);
    ISA_SET(&in, MM, K, 64);
    ISA_SET(&in, MM, C, 4096);
    uint64_t cycles = 0;
    for (int i = 0; i < 20; i++) /* enough waveform to fill Verilator's buffer more than once */
        assert_int_equal(tile_mm_rtl_run(t, &in, &ctx, &cycles, err, sizeof err), TILE_RTL_OK);
    assert_int_equal(tile_mm_rtl_trace(t, NULL, err, sizeof err), TILE_RTL_E_TRACE);
    assert_string_equal(err, "mm tile VCD: cannot write: No space left on device");
    /* tracing again, to a good file, works; its stop reports nothing */
    test_path(path, sizeof path, "again.vcd");
    assert_int_equal(tile_mm_rtl_trace(t, path, err, sizeof err), TILE_RTL_OK);
    assert_int_equal(tile_mm_rtl_run(t, &in, &ctx, &cycles, err, sizeof err), TILE_RTL_OK);
    assert_int_equal(tile_mm_rtl_trace(t, NULL, err, sizeof err), TILE_RTL_OK);
    size_t len;
    char *vcd = slurp(path, &len);
    assert_non_null(strstr(vcd, "$enddefinitions"));
    free(vcd);
    tile_mm_rtl_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mm_vcd),
        cmocka_unit_test(test_sm_vcd),
        cmocka_unit_test(test_vcd_follows_the_clock),
        cmocka_unit_test(test_vcd_write_failure_is_reported_at_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
