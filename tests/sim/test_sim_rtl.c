/* The device in rtl mode: the Verilated tiles give the same bytes and the same cycles as the fast
 * model on whole programs; `m4npu exec --vcd` writes the tiles' waveforms; `m4npu calibrate`
 * meets its targets (>= 200 cases per tile) and `m4npu bench --tiles` reports both modes. */
#include "test_util.h"

#include <jansson.h>

#define CONFIG M4NPU_SOURCE_DIR "/configs/test.yaml"
#define RTL "--set npu.matmul.impl=rtl --set npu.softmax.impl=rtl"
static char out[1 << 20];

static json_t *json_of(const char *what)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    if (!j)
        fail_msg("%s: not JSON (%s):\n%s", what, e.text, out);
    return j;
}

static void test_rtl_mode_matches_fast_on_examples(void **state)
{
    (void)state;
    static const char *const examples[] = {"attention", "double_buffer", "mlp_gelu", "dma_copy"};
    char fast_dump[256], rtl_dump[256];
    test_path(fast_dump, sizeof fast_dump, "fast.bin");
    test_path(rtl_dump, sizeof rtl_dump, "rtl.bin");
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        int64_t cycles[2];
        const char *dumps[2] = {fast_dump, rtl_dump};
        for (int mode = 0; mode < 2; mode++) {
            int rc = test_run(out, sizeof out, "%s exec %s/examples/%s.s --config %s %s --dump 0x0:196608=%s --json 2>/dev/null",
                              M4NPU_BIN, M4NPU_SOURCE_DIR, examples[i], CONFIG, mode ? RTL : "", dumps[mode]);
            assert_int_equal(rc, 0);
            json_t *j = json_of(examples[i]);
            cycles[mode] = json_integer_value(json_object_get(j, "cycles"));
            json_decref(j);
        }
        if (cycles[0] != cycles[1])
            fail_msg("%s: fast %lld cycles, rtl %lld", examples[i], (long long)cycles[0], (long long)cycles[1]);
        assert_int_equal(test_run(out, sizeof out, "cmp %s %s", fast_dump, rtl_dump), 0);
    }
}

static void test_exec_vcd_contains_tile_signals(void **state)
{
    (void)state;
    char vcd[256], sm_vcd[256], tl[256];
    test_path(vcd, sizeof vcd, "run.vcd");
    test_path(sm_vcd, sizeof sm_vcd, "run.sm.vcd");
    test_path(tl, sizeof tl, "run.json");
    assert_int_equal(test_run(out, sizeof out, "%s exec %s/examples/attention.s --config %s %s --vcd %s --timeline %s",
                              M4NPU_BIN, M4NPU_SOURCE_DIR, CONFIG, RTL, vcd, tl),
                     0);
    /* the device cycle at which each tile took its first instruction that clocks it (mm, mm.cfg,
     * mm.out; sm) */
    long long first_issue[2] = {-1, -1};
    json_error_t je;
    json_t *timeline = json_load_file(tl, 0, &je);
    assert_non_null(timeline);
    json_t *evs = json_object_get(timeline, "traceEvents");
    for (size_t i = 0; i < json_array_size(evs); i++) {
        json_t *ev = json_array_get(evs, i);
        const char *name = json_string_value(json_object_get(ev, "name"));
        json_int_t issue = json_integer_value(json_object_get(json_object_get(ev, "args"), "issue_cycle"));
        /* mm.cfg and mm.out are tile commands too: they clock the matmul tile */
        int mm_op = name && (strcmp(name, "mm") == 0 || strcmp(name, "mm.cfg") == 0 || strcmp(name, "mm.out") == 0);
        int which = mm_op ? 0 : name && strcmp(name, "sm") == 0 ? 1 : -1;
        if (which >= 0 && (first_issue[which] < 0 || issue < first_issue[which]))
            first_issue[which] = issue;
    }
    json_decref(timeline);
    assert_true(first_issue[0] > 0 && first_issue[1] > 0);
    const char *files[2] = {vcd, sm_vcd};
    const char *signals[2][3] = {{"$var", "clk", "busy"}, {"$var", "clk", "busy"}};
    for (int f = 0; f < 2; f++) {
        FILE *fp = fopen(files[f], "rb");
        if (!fp)
            fail_msg("%s was not written", files[f]);
        static char text[4 << 20]; /* the matmul tile's header alone is ~1 MB (the output stage's registers) */
        size_t n = fread(text, 1, sizeof text - 1, fp);
        fclose(fp);
        text[n] = '\0';
        assert_non_null(strstr(text, "$timescale"));
        for (int s = 0; s < 3; s++)
            if (!strstr(text, signals[f][s]))
                fail_msg("%s has no %s", files[f], signals[f][s]);
        assert_non_null(strstr(text, "#1")); /* value changes, not just a header */
        /* time in picoseconds of the NPU clock (1000 MHz here: a half cycle is 500 ps), starting at
         * the device's cycle of the tile's first instruction (its issue in the timeline) */
        assert_non_null(strstr(text, "$timescale 1ps $end"));
        const char *first = strstr(text, "\n#");
        assert_non_null(first);
        long long t0 = atoll(first + 2);
        assert_true(t0 % 500 == 0);
        assert_int_equal(t0, first_issue[f] * 1000);
    }
    /* no rtl tile configured: a clean error */
    assert_int_equal(test_run(out, sizeof out, "%s exec %s/examples/attention.s --config %s --vcd %s", M4NPU_BIN,
                              M4NPU_SOURCE_DIR, CONFIG, vcd),
                     1);
    assert_non_null(strstr(out, "no RTL tile is configured"));
    /* a size that was not Verilated: named, with the sizes that were */
    assert_int_equal(test_run(out, sizeof out, "%s exec %s/examples/attention.s --config %s --set npu.matmul.impl=rtl "
                                               "--set npu.matmul.rows=12 --set npu.matmul.cols=12",
                              M4NPU_BIN, M4NPU_SOURCE_DIR, CONFIG),
                     1);
    assert_non_null(strstr(out, "no rtl tile is built for a 12x12 array with an output stage of 8 lanes (built: "));
}

static void test_calibrate_meets_targets(void **state)
{
    (void)state;
    int rc = test_run(out, sizeof out, "%s calibrate --config %s --cases 250 --seed 7 --json 2>/dev/null", M4NPU_BIN, CONFIG);
    json_t *j = json_of("calibrate");
    json_t *tiles = json_object_get(j, "tiles");
    static const char *const names[] = {"matmul", "softmax"};
    for (int i = 0; i < 2; i++) {
        json_t *t = json_object_get(tiles, names[i]);
        assert_non_null(t);
        /* exactly the cases asked for (issue 18: the matmul tile ran 1.1 N) */
        assert_int_equal(json_integer_value(json_object_get(t, "cases")), 250);
        double mean = json_real_value(json_object_get(t, "mean_abs_err_pct"));
        double max = json_real_value(json_object_get(t, "max_abs_err_pct"));
        if (mean > 0.2 || max > 1.0 || !json_is_true(json_object_get(t, "bit_exact")))
            fail_msg("%s: mean %.4f%%, max %.4f%%, bit-exact %d", names[i], mean, max,
                     json_is_true(json_object_get(t, "bit_exact")));
    }
    assert_true(json_is_true(json_object_get(j, "pass")));
    assert_int_equal(rc, 0);
    json_decref(j);
    /* bad arguments */
    assert_int_equal(test_run(out, sizeof out, "%s calibrate --config %s --cases 0", M4NPU_BIN, CONFIG), 2);
    assert_int_equal(test_run(out, sizeof out, "%s calibrate", M4NPU_BIN), 2);
}

static void test_bench_tiles_reports_both_modes(void **state)
{
    (void)state;
    assert_int_equal(test_run(out, sizeof out, "%s bench --tiles --insns 40 --json 2>/dev/null", M4NPU_BIN), 0);
    json_t *j = json_of("bench --tiles");
    json_t *rows = json_object_get(j, "tiles");
    assert_true(json_array_size(rows) >= 2);
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        assert_true(json_is_true(json_object_get(r, "same_cycles")));
        assert_true(json_real_value(json_object_get(r, "fast_cycles_per_s")) > 0.0);
        assert_true(json_real_value(json_object_get(r, "rtl_cycles_per_s")) > 0.0);
    }
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtl_mode_matches_fast_on_examples),
        cmocka_unit_test(test_exec_vcd_contains_tile_signals),
        cmocka_unit_test(test_calibrate_meets_targets),
        cmocka_unit_test(test_bench_tiles_reports_both_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
