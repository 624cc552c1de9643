/* config_test_util.h -- helpers for the configuration suites (tests/config and the capability set's
 * in tests/run): the presets' paths, a copy of configs/test.yaml with one piece replaced, written to
 * a temporary file and loaded, and a rejected override. Tests only. */
#ifndef M4NPU_CONFIG_TEST_UTIL_H
#define M4NPU_CONFIG_TEST_UTIL_H

#include "test_util.h"

#include "m4npu_config.h"

#define TEST_YAML M4NPU_SOURCE_DIR "/configs/test.yaml"
#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"

/* configs/test.yaml with the first occurrence of `from` replaced by `to` (which must exist). */
static inline char *cfgtest_variant(const char *from, const char *to)
{
    char *text = test_read_file(TEST_YAML, NULL);
    char *at = strstr(text, from);
    if (!at)
        fail_msg("'%s' is not in configs/test.yaml", from);
    size_t head = (size_t)(at - text), flen = strlen(from), tlen = strlen(to), rest = strlen(at + flen);
    char *out = malloc(head + tlen + rest + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, to, tlen);
    memcpy(out + head + tlen, at + flen, rest + 1);
    free(text);
    return out;
}

/* Write text to a temporary file named `name` and load it; *path receives the file's path. */
static inline m4npu_config_status cfgtest_load_text_file(const char *name, const char *text, char *path,
                                                         size_t psize, m4npu_config *cfg, m4npu_config_error *err)
{
    test_path(path, psize, name);
    test_write_file(path, text, strlen(text));
    return m4npu_config_load(path, cfg, err);
}

/* m4npu_config_set(key, value) on the defaults fails with status and exactly msg, at no line
 * (an override has no position), and leaves the configuration as it was. */
static inline void cfgtest_expect_set_error(const char *key, const char *value, m4npu_config_status status,
                                            const char *msg)
{
    m4npu_config cfg, before;
    m4npu_config_defaults(&cfg);
    before = cfg;
    m4npu_config_error err;
    assert_int_equal(m4npu_config_set(&cfg, key, value, &err), status);
    assert_string_equal(err.msg, msg);
    assert_int_equal(err.line, 0);
    assert_memory_equal(&cfg, &before, sizeof cfg); /* a rejected value changes nothing */
}

/* The 1-based line of configs/test.yaml that contains `needle` (which must exist). */
static inline int cfgtest_line_of(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    if (!at)
        fail_msg("'%s' not found", needle);
    int line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

#endif
