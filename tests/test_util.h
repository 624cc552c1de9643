/* test_util.h -- small helpers shared by the cmocka suites: a deterministic PRNG, temporary
 * files, and running the m4npu binary with its output captured. Header-only; tests only. */
#ifndef M4NPU_TEST_UTIL_H
#define M4NPU_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* splitmix64: a fixed seed gives the same sequence on every machine. */
typedef struct test_rng {
    uint64_t s;
} test_rng;

static inline uint64_t test_rng_next(test_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi] (inclusive). */
static inline int64_t test_rng_range(test_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return span == 0 ? (int64_t)test_rng_next(r) : lo + (int64_t)(test_rng_next(r) % span);
}

/* A fresh temporary directory for this test process (removed by the OS's tmp cleaning). */
static inline const char *test_tmpdir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/m4npu-test-XXXXXX");
        if (!mkdtemp(dir))
            fail_msg("mkdtemp failed");
    }
    return dir;
}

static inline void test_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", test_tmpdir(), name);
}

/* A whole file, NUL-terminated (the caller frees it); *len (if not NULL) gets its size. */
static inline char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
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

static inline void test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A copy of the configuration at src whose capability set is empty (`ops: {}`): everything on
 * the CPU. Written to dst. */
static inline void test_write_cpu_only_config(const char *src, const char *dst)
{
    char *text = test_read_file(src, NULL);
    FILE *f = fopen(dst, "w");
    assert_non_null(f);
    int in_ops = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "ops:", 4) == 0) {
            in_ops = 1;
            fputs("ops: {}\n", f);
            continue;
        }
        if (in_ops && line[0] != ' ' && line[0] != '#')
            in_ops = 0;
        if (!in_ops)
            fprintf(f, "%s\n", line);
    }
    assert_int_equal(fclose(f), 0);
    free(text);
}

/* Run a shell command; captures stdout+stderr (up to cap-1 bytes) and returns the exit code
 * (or -1 if it did not exit normally, e.g. it crashed). */
static inline int test_run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4200];
    /* stderr joins the captured output unless the command redirects it itself */
    snprintf(full, sizeof full, strstr(cmd, "2>") ? "%s" : "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t n = 0;
    if (out && cap) {
        size_t r;
        while (n < cap - 1 && (r = fread(out + n, 1, cap - 1 - n, p)) > 0)
            n += r;
        out[n] = '\0';
    }
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define M4NPU_BIN M4NPU_BINARY_DIR "/bin/m4npu"

/* A committed generated page (isa/ISA.md, docs/configs.md ...) must equal what its generator
 * writes now: write(out) produces the content; rel_path is relative to the source tree; regen is
 * the command that regenerates it, named in the failure. */
static inline void test_generated_page_matches(void (*write)(FILE *out), const char *rel_path, const char *regen)
{
    char *generated = NULL;
    size_t glen = 0;
    FILE *mem = open_memstream(&generated, &glen);
    assert_non_null(mem);
    write(mem);
    fclose(mem);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", M4NPU_SOURCE_DIR, rel_path);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s is missing; generate it with %s", rel_path, regen);
    char *page = malloc(glen + 2);
    assert_non_null(page);
    size_t plen = fread(page, 1, glen + 1, f);
    fclose(f);
    if (plen != glen || memcmp(page, generated, glen) != 0) {
        size_t i = 0;
        while (i < plen && i < glen && page[i] == generated[i])
            i++;
        int line = 1;
        for (size_t k = 0; k < i; k++)
            line += generated[k] == '\n';
        fail_msg("%s differs from its generator from line %d on; regenerate it with %s", rel_path, line, regen);
    }
    free(page);
    free(generated);
}

#endif
