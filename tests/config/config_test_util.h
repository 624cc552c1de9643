/* config_test_util.h -- helpers for the configuration suites: the presets' text, a copy of
 * configs/test.yaml with one piece replaced, written to a temporary file and loaded. Tests only. */
#ifndef M4NPU_CONFIG_TEST_UTIL_H
#define M4NPU_CONFIG_TEST_UTIL_H

#include "test_util.h"

#include "m4npu_config.h"

#define TEST_YAML M4NPU_SOURCE_DIR "/configs/test.yaml"
#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"

/* A whole file, NUL-terminated (the caller frees it). */
static inline char *cfgtest_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

/* configs/test.yaml with the first occurrence of `from` replaced by `to` (which must exist). */
static inline char *cfgtest_variant(const char *from, const char *to)
{
    char *text = cfgtest_read(TEST_YAML, NULL);
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
