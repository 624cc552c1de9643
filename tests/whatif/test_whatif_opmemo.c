/* The simulator's op memo (sim/README.md, "Op memo") changes no number of the what-if: a few
 * modules' `--csv` rows, and the firmware's per-op log of a prefill (`--log`: every op's kernel,
 * tiling, cycles and busy units, with its cycle stamp), are byte for byte the same with the memo
 * off (M4NPU_OP_MEMO=0) and on; and on, ops are replayed (the summary line counts them), off none. */
#include "test_util.h"

#define CAP (4u << 20)
static char off_out[CAP], on_out[CAP];

/* stdout of `whatif args` (or its stderr: the log) with the memo off and on, compared */
static void run_both(const char *args, const char *redirect)
{
    int rc = test_run(off_out, sizeof off_out, "M4NPU_OP_MEMO=0 %s whatif %s %s", M4NPU_BIN, args, redirect);
    if (rc != 0)
        fail_msg("M4NPU_OP_MEMO=0 whatif %s: exit %d\n%.2000s", args, rc, off_out);
    rc = test_run(on_out, sizeof on_out, "M4NPU_OP_MEMO=1 %s whatif %s %s", M4NPU_BIN, args, redirect);
    if (rc != 0)
        fail_msg("M4NPU_OP_MEMO=1 whatif %s: exit %d\n%.2000s", args, rc, on_out);
    assert_true(strlen(off_out) > 0 && strlen(off_out) + 1 < CAP);
    if (strcmp(off_out, on_out) != 0) {
        size_t k = 0;
        while (off_out[k] == on_out[k])
            k++;
        size_t from = k > 200 ? k - 200 : 0;
        fail_msg("whatif %s differs at byte %zu:\n--- memo off:\n%.400s\n--- memo on:\n%.400s", args, k,
                 off_out + from, on_out + from);
    }
}

static void test_csv_is_the_same(void **state)
{
    (void)state;
    static const char *modules[] = {"backbone-decode", "backbone-prefill", "IMG_enc", "mobilenet-v2"};
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        char args[128];
        snprintf(args, sizeof args, "--module %s --csv --quiet", modules[i]);
        run_both(args, "2>/dev/null");
    }
}

static void test_prefill_log_is_the_same(void **state)
{
    (void)state;
    run_both("--module backbone-prefill --log", "2>&1 >/dev/null"); /* the log is on stderr */
    assert_non_null(strstr(on_out, " matmul ("));
    assert_non_null(strstr(on_out, "] job 1: done"));
}

/* The summary line: ops replayed with the memo on, none with it off. */
static void test_summary_counts_replays(void **state)
{
    (void)state;
    char line[4096];
    assert_int_equal(test_run(line, sizeof line, "M4NPU_OP_MEMO=1 %s whatif --path 4 2>&1 >/dev/null",
                              M4NPU_BIN),
                     0);
    unsigned long long replayed = 0, ops = 0;
    const char *at = strstr(line, "segments from the memo, ");
    if (!at || sscanf(at, "segments from the memo, %llu of %llu ops replayed", &replayed, &ops) != 2)
        fail_msg("no op memo count in the summary: %s", line);
    assert_true(replayed > 0 && replayed < ops);
    assert_int_equal(test_run(line, sizeof line, "M4NPU_OP_MEMO=0 %s whatif --path 4 2>&1 >/dev/null",
                              M4NPU_BIN),
                     0);
    assert_non_null(strstr(line, "segments from the memo, 0 of 0 ops replayed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_is_the_same),
        cmocka_unit_test(test_prefill_log_is_the_same),
        cmocka_unit_test(test_summary_counts_replays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
