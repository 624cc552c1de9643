/* No input crashes the loader (run under ASan+UBSan in the sanitizer build): random bytes, random
 * YAML-ish text, both presets truncated at every byte, and presets with random edits. Every
 * rejection carries a message that names its origin; every acceptance passes validation. */
#include "config_test_util.h"

#define ORIGIN "fuzz.yaml"

static int accepted, rejected;

static void load_and_judge(const char *text, size_t len)
{
    m4npu_config cfg;
    m4npu_config_error err;
    m4npu_config_status st = m4npu_config_load_text(text, len, ORIGIN, &cfg, &err);
    assert_true((unsigned)st < M4NPU_CONFIG_STATUS_COUNT);
    if (st == M4NPU_CONFIG_OK) {
        accepted++;
        assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_OK);
        return;
    }
    rejected++;
    assert_int_equal(err.status, st);
    assert_true(err.reason[0] != '\0');
    if (strncmp(err.msg, ORIGIN ":", strlen(ORIGIN) + 1) != 0)
        fail_msg("a message that does not name its origin: %s", err.msg);
    assert_non_null(memchr(err.msg, '\0', sizeof err.msg));
    if (st != M4NPU_CONFIG_E_NOMEM)
        assert_true(err.line >= 1 && err.column >= 1);
}

static void test_random_bytes(void **state)
{
    (void)state;
    test_rng r = {0xf022};
    char buf[1024];
    for (int i = 0; i < 3000; i++) {
        size_t len = (size_t)test_rng_range(&r, 0, sizeof buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (char)test_rng_range(&r, 0, 255);
        load_and_judge(buf, len);
    }
}

/* Text made of YAML's own tokens, so that the parser gets deep before failing. */
static void test_random_yaml_tokens(void **state)
{
    (void)state;
    static const char *const tokens[] = {
        "npu", "cpu", "name", "description", "sram", "banks", "size_bytes", "matmul", "rows", ":", ": ", "\n",
        "  ", "    ", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!str ", "\"", "'", "#", "---\n", "...\n",
        "? ", "|\n", ">\n", "16", "-1", "8 MiB", "1e9", ".inf", "fast", "rtl", "\t", "\\", "%YAML 1.1\n", "\xef\xbb\xbf",
        "\xc3", "\x00", "\r\n", "~", "null", "true", "0x10", "1_000", "<<: ", "=",
    };
    test_rng r = {0x7a111};
    char buf[2048];
    for (int i = 0; i < 5000; i++) {
        size_t len = 0, n = (size_t)test_rng_range(&r, 0, 120);
        for (size_t t = 0; t < n; t++) {
            size_t which = (size_t)test_rng_range(&r, 0, sizeof tokens / sizeof tokens[0] - 1);
            size_t tl = strlen(tokens[which]);
            if (tl == 0)
                tl = 1; /* the "\x00" token: one NUL byte */
            if (len + tl > sizeof buf)
                break;
            memcpy(buf + len, tokens[which], tl);
            len += tl;
        }
        load_and_judge(buf, len);
    }
}

static void truncate_everywhere(const char *path)
{
    size_t len;
    char *text = test_read_file(path, &len);
    for (size_t cut = 0; cut <= len; cut++)
        load_and_judge(text, cut);
    free(text);
}

static void test_truncated_presets(void **state)
{
    (void)state;
    int before = accepted;
    truncate_everywhere(TEST_YAML);
    truncate_everywhere(MOBILE_YAML);
    /* only cuts within the last value or its comment can still be complete */
    assert_true(accepted - before >= 2 && accepted - before <= 100);
}

static void test_mutated_presets(void **state)
{
    (void)state;
    test_rng r = {0xed17};
    const char *paths[] = {TEST_YAML, MOBILE_YAML};
    for (int p = 0; p < 2; p++) {
        size_t len;
        char *text = test_read_file(paths[p], &len);
        char *buf = malloc(len + 64);
        assert_non_null(buf);
        for (int i = 0; i < 3000; i++) {
            memcpy(buf, text, len);
            size_t n = len;
            int edits = (int)test_rng_range(&r, 1, 4);
            for (int e = 0; e < edits && n > 0; e++) {
                size_t at = (size_t)test_rng_range(&r, 0, (int64_t)n - 1);
                switch (test_rng_range(&r, 0, 3)) {
                case 0: /* replace a byte */
                    buf[at] = (char)test_rng_range(&r, 0, 255);
                    break;
                case 1: /* delete a byte */
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                    break;
                case 2: /* insert a YAML special */
                    if (n + 1 < len + 64) {
                        memmove(buf + at + 1, buf + at, n - at);
                        buf[at] = ":-[]{}#&*!|>'\"\n \t"[test_rng_range(&r, 0, 17)];
                        n++;
                    }
                    break;
                default: /* flip a digit */
                    if (buf[at] >= '0' && buf[at] <= '9')
                        buf[at] = (char)('0' + test_rng_range(&r, 0, 9));
                    break;
                }
            }
            load_and_judge(buf, n);
        }
        free(buf);
        free(text);
    }
}

static void test_pathological_inputs(void **state)
{
    (void)state;
    /* a billion-laughs alias bomb is refused at its first anchor */
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
    load_and_judge(bomb, strlen(bomb));
    /* a very long key and a very long value */
    size_t big = 200000;
    char *s = malloc(big + 16);
    assert_non_null(s);
    memset(s, 'k', big);
    memcpy(s + big, ": 1\n", 5);
    load_and_judge(s, big + 4);
    memcpy(s, "name: ", 6);
    memset(s + 6, 'v', big - 6);
    s[big] = '\n';
    load_and_judge(s, big + 1);
    /* a mapping with many keys */
    size_t n = 0;
    for (int i = 0; i < 10000 && n + 16 < big; i++)
        n += (size_t)snprintf(s + n, big - n, "k%d: %d\n", i, i);
    load_and_judge(s, n);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_random_yaml_tokens),
        cmocka_unit_test(test_truncated_presets),
        cmocka_unit_test(test_mutated_presets),
        cmocka_unit_test(test_pathological_inputs),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    printf("accepted %d, rejected %d inputs\n", accepted, rejected);
    return failed;
}
