/* End-to-end tests of `m4npu asm` and `m4npu disasm` as a user runs them. */
#include "test_util.h"

static char out[1 << 16];

static void test_asm_unknown_mnemonic_on_line_2(void **state)
{
    (void)state;
    char src[256], bin[256];
    test_path(src, sizeof src, "bad.s");
    test_path(bin, sizeof bin, "bad.bin");
    const char *text = "nop\n    bogus 1, 2\nend\n";
    test_write_file(src, text, strlen(text));
    int rc = test_run(out, sizeof out, "%s asm %s -o %s", M4NPU_BIN, src, bin);
    assert_int_equal(rc, 1);
    char expect[512];
    snprintf(expect, sizeof expect, "%s:2:5: error: unknown mnemonic 'bogus'", src);
    if (!strstr(out, expect))
        fail_msg("expected '%s' in: %s", expect, out);
    assert_int_equal(access(bin, F_OK), -1); /* nothing written */
}

static void test_asm_then_disasm_round_trip(void **state)
{
    (void)state;
    char src[256], bin[256], dis[256], bin2[256];
    test_path(src, sizeof src, "ok.s");
    test_path(bin, sizeof bin, "ok.bin");
    test_path(dis, sizeof dis, "ok.dis.s");
    test_path(bin2, sizeof bin2, "ok2.bin");
    const char *text = ".equ A, 0x40\nmm ws, acc, i4, bias, rq, 100, 16, 16, A, 0x800, 0x1000, i8, i8\n"
                       "v.quant 0, 0x100, 64, 0.0078125\nend\n";
    test_write_file(src, text, strlen(text));
    assert_int_equal(test_run(out, sizeof out, "%s asm %s -o %s", M4NPU_BIN, src, bin), 0);
    assert_int_equal(test_run(NULL, 0, "%s disasm %s > %s", M4NPU_BIN, bin, dis), 0);
    assert_int_equal(test_run(out, sizeof out, "%s asm %s -o %s", M4NPU_BIN, dis, bin2), 0);
    assert_int_equal(test_run(out, sizeof out, "cmp %s %s", bin, bin2), 0);
}

static void test_disasm_random_bytes_exits_cleanly(void **state)
{
    (void)state;
    test_rng r = {0xdecafbad};
    char path[256];
    for (int round = 0; round < 20; round++) {
        size_t len = (size_t)test_rng_range(&r, 1, 4096); /* often not a multiple of 16 */
        uint8_t *bytes = malloc(len);
        assert_non_null(bytes);
        for (size_t i = 0; i < len; i++)
            bytes[i] = (uint8_t)test_rng_next(&r);
        test_path(path, sizeof path, "random.bin");
        test_write_file(path, bytes, len);
        free(bytes);
        int rc = test_run(out, sizeof out, "%s disasm %s", M4NPU_BIN, path);
        assert_int_equal(rc, 1); /* reported, not crashed (a crash gives -1) */
        assert_non_null(strstr(out, "random.bin:+0x"));
    }
}

static void test_usage_errors_and_help(void **state)
{
    (void)state;
    assert_int_equal(test_run(out, sizeof out, "%s asm", M4NPU_BIN), 2);
    assert_int_equal(test_run(out, sizeof out, "%s asm --help", M4NPU_BIN), 0);
    assert_non_null(strstr(out, "usage: m4npu asm"));
    assert_int_equal(test_run(out, sizeof out, "%s disasm --help", M4NPU_BIN), 0);
    assert_int_equal(test_run(out, sizeof out, "%s no-such-command", M4NPU_BIN), 2);
    assert_int_equal(test_run(out, sizeof out, "%s asm /nonexistent/x.s -o /tmp/x.bin", M4NPU_BIN), 3);
    assert_non_null(strstr(out, "/nonexistent/x.s: cannot open"));
    assert_int_equal(test_run(out, sizeof out, "%s --version", M4NPU_BIN), 0);
    assert_non_null(strstr(out, "(ISA 1.1)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_asm_unknown_mnemonic_on_line_2),
        cmocka_unit_test(test_asm_then_disasm_round_trip),
        cmocka_unit_test(test_disasm_random_bytes_exits_cleanly),
        cmocka_unit_test(test_usage_errors_and_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
