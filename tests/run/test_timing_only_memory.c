/* `m4npu run --timing-only` keeps host memory independent of the weights' size: models with
 * SMALL_MIB and LARGE_MIB MiB of f32 weights (m4npu-gen-big-model; embedded raw_data, and the
 * large one again as external data) peak at the same resident set size within RSS_MARGIN_KIB,
 * and below RSS_LIMIT_KIB. The peak of each run is its own (wait4's rusage of that child).
 * The 1 GB measurement is a benchmark: scripts/bench-timing-only-rss.sh. */
#define _DEFAULT_SOURCE /* wait4: the rusage of one child */
#include "test_util.h"

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <fcntl.h>

#define SMALL_MIB 32
#define LARGE_MIB 256
#define RSS_MARGIN_KIB (8 * 1024)  /* graph and plan grow a little with the dimension, not with bytes */
#define RSS_LIMIT_KIB (128 * 1024) /* far below the weights: none of them is resident */
#define GEN M4NPU_BINARY_DIR "/bin/m4npu-gen-big-model"
#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"

static char out[1 << 16];

/* Run m4npu run MODEL --timing-only; the child's peak RSS in KiB. */
static long timing_only_rss(const char *model)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execl(M4NPU_BIN, M4NPU_BIN, "run", model, "--config", MOBILE_YAML, "--timing-only", "--dim", "batch=1",
              (char *)NULL);
        _exit(127);
    }
    int status;
    struct rusage ru;
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("m4npu run %s --timing-only failed (status %d)", model, status);
    return ru.ru_maxrss;
}

static void make_model(const char *path, int mib, bool external)
{
    int rc = test_run(out, sizeof out, "%s %s %d%s", GEN, path, mib, external ? " --external" : "");
    if (rc != 0)
        fail_msg("%s: %s", GEN, out);
}

static void test_rss_does_not_grow_with_weights(void **state)
{
    (void)state;
    char small[512], large[512], ext[512];
    test_path(small, sizeof small, "small.onnx");
    test_path(large, sizeof large, "large.onnx");
    test_path(ext, sizeof ext, "large_ext.onnx");
    make_model(small, SMALL_MIB, false);
    make_model(large, LARGE_MIB, false);
    make_model(ext, LARGE_MIB, true);
    struct stat st;
    assert_int_equal(stat(large, &st), 0);
    assert_true(st.st_size >= (off_t)LARGE_MIB << 20); /* the weights really are in the file */
    long r_small = timing_only_rss(small), r_large = timing_only_rss(large), r_ext = timing_only_rss(ext);
    printf("  peak RSS of run --timing-only: %ld KiB (%d MiB of weights), %ld KiB (%d MiB embedded), %ld KiB (%d MiB "
           "external)\n",
           r_small, SMALL_MIB, r_large, LARGE_MIB, r_ext, LARGE_MIB);
    assert_true(r_large - r_small < RSS_MARGIN_KIB);
    assert_true(r_ext - r_small < RSS_MARGIN_KIB);
    assert_true(r_large < RSS_LIMIT_KIB && r_ext < RSS_LIMIT_KIB);
    for (const char *p = small;; p = p == small ? large : ext) { /* hundreds of MiB: do not leave them */
        char bin[600];
        snprintf(bin, sizeof bin, "%s.bin", p);
        unlink(p);
        unlink(bin);
        if (p == ext)
            break;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rss_does_not_grow_with_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
