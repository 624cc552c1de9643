/* The m4npu command and the files it reads and writes (issue 9), end to end:
 * - standard output that cannot be written (> /dev/full, a closed descriptor) is exit 3 with a
 *   message, for every command;
 * - output files are whole or absent: a multi-file output that fails leaves none of its files,
 *   an input is never overwritten by an output, symbolic links are written through, a device
 *   (/dev/null) is written in place;
 * - the waveform (--vcd) of a run whose file cannot be written ends, exits 3 and leaves no file;
 * - reads are bounded: an endless device (/dev/zero) is refused at the documented limit.
 * Every case runs the real binary as a user would. */
#include "test_util.h"

#include <sys/stat.h>

#define CONFIG M4NPU_SOURCE_DIR "/configs/test.yaml"
#define EXAMPLE(f) M4NPU_SOURCE_DIR "/examples/" f
#define TIMEOUT "timeout 120 " /* a hang fails the test instead of stopping ctest */

static char out[1 << 18];

static void expect_in_output(const char *want)
{
    if (!strstr(out, want))
        fail_msg("expected '%s' in:\n%s", want, out);
}

/* A fresh, empty directory for one test. */
static void fresh_dir(char *buf, size_t size, const char *name)
{
    test_path(buf, size, name);
    assert_int_equal(mkdir(buf, 0700), 0);
}

/* Entries of dir other than . and .. */
static int count_entries(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    char n[32];
    assert_int_equal(test_run(n, sizeof n, "%s", cmd), 0);
    return atoi(n);
}

/* ---- standard output */

/* Regression (issue 9): exec, exec --json and disasm exited 0 when standard output could not be
 * written. Every command that prints checks it once, in main. */
static void test_unwritable_stdout_is_exit_3(void **state)
{
    (void)state;
    char bin[256];
    test_path(bin, sizeof bin, "prog.bin");
    assert_int_equal(test_run(out, sizeof out, "%s asm %s -o %s", M4NPU_BIN, EXAMPLE("dma_copy.s"), bin), 0);
    const char *commands[] = {
        "disasm %s",
        "exec " EXAMPLE("dma_copy.s") " --config " CONFIG "%.0s",
        "exec " EXAMPLE("dma_copy.s") " --config " CONFIG " --json%.0s",
        "config " CONFIG "%.0s",
        "config " CONFIG " --json%.0s",
        "ops --json%.0s",
        "asm --help%.0s",
        "--version%.0s",
    };
    /* the reason, when stdio still has it (the last write is the failed one) */
    assert_int_equal(test_run(out, sizeof out, "%s --version 2>&1 > /dev/full", M4NPU_BIN), 3);
    expect_in_output("m4npu: cannot write standard output: No space left on device");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        char args[600], shown[700];
        snprintf(args, sizeof args, commands[i], bin);
        snprintf(shown, sizeof shown, "m4npu %s > /dev/full", args);
        int rc = test_run(out, sizeof out, TIMEOUT "%s %s 2>&1 > /dev/full", M4NPU_BIN, args);
        if (rc != 3 || !strstr(out, "m4npu: cannot write standard output: "))
            fail_msg("%s: exit %d (expected 3 and a message):\n%s", shown, rc, out);
        /* a closed descriptor too */
        rc = test_run(out, sizeof out, TIMEOUT "%s %s 2>&1 >&-", M4NPU_BIN, args);
        if (rc != 3 || !strstr(out, "m4npu: cannot write standard output: "))
            fail_msg("m4npu %s >&-: exit %d (expected 3 and a message):\n%s", args, rc, out);
    }
    /* and a command that prints nothing on stdout is not affected */
    assert_int_equal(test_run(out, sizeof out, "%s asm %s -o %s 2>&1 > /dev/full", M4NPU_BIN, EXAMPLE("dma_copy.s"), bin),
                     0);
}

/* ---- output files */

/* Regression (issue 9): `asm x.s -o x.s` overwrote its own source. Refused (exit 2) whatever
 * the spelling, and the source stays. */
static void test_asm_refuses_its_input_as_output(void **state)
{
    (void)state;
    char dir[256], src[300], alias[300];
    fresh_dir(dir, sizeof dir, "self");
    snprintf(src, sizeof src, "%s/x.s", dir);
    snprintf(alias, sizeof alias, "%s/./link.s", dir);
    test_write_file(src, "nop\nend\n", 8);
    assert_int_equal(symlink("x.s", alias), 0);
    const char *outs[] = {src, alias};
    for (int i = 0; i < 2; i++) {
        int rc = test_run(out, sizeof out, "%s asm %s -o %s", M4NPU_BIN, src, outs[i]);
        assert_int_equal(rc, 2);
        char want[700];
        snprintf(want, sizeof want, "m4npu: %s: is the input %s; refusing to overwrite an input with an output", outs[i],
                 src);
        expect_in_output(want);
        char *text = test_read_file(src, NULL);
        assert_string_equal(text, "nop\nend\n");
        free(text);
    }
    /* exec: a dump onto the program */
    int rc = test_run(out, sizeof out, "%s exec %s --config %s --dump 0:16=%s", M4NPU_BIN, src, CONFIG, src);
    assert_int_equal(rc, 2);
    expect_in_output("refusing to overwrite an input with an output");
}

/* Regression (issue 9): a dangling symbolic link given as the output was replaced by a plain
 * file. It is written through: the link stays, its target is created. */
static void test_asm_writes_through_symbolic_links(void **state)
{
    (void)state;
    char dir[256], link[300], target[300];
    fresh_dir(dir, sizeof dir, "links");
    snprintf(link, sizeof link, "%s/out.bin", dir);
    snprintf(target, sizeof target, "%s/real.bin", dir);
    assert_int_equal(symlink("real.bin", link), 0);
    assert_int_equal(test_run(out, sizeof out, "%s asm %s -o %s", M4NPU_BIN, EXAMPLE("dma_copy.s"), link), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(target, &st), 0);
    assert_true(S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size % 16 == 0);
    /* a device is written in place, never replaced */
    assert_int_equal(test_run(out, sizeof out, "%s asm %s -o /dev/null", M4NPU_BIN, EXAMPLE("dma_copy.s")), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(test_run(out, sizeof out, "%s asm %s -o /dev/full", M4NPU_BIN, EXAMPLE("dma_copy.s")), 3);
    expect_in_output("m4npu: /dev/full: cannot write: No space left on device");
    assert_int_equal(stat("/dev/full", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
}

/* Regression (issue 9): `exec --dump` with several dumps left the first ones when a later one
 * could not be written. Here the second dump's directory does not exist: no dump appears. */
static void test_exec_dumps_are_all_or_nothing(void **state)
{
    (void)state;
    char dir[256], a[300], b[300];
    fresh_dir(dir, sizeof dir, "dumps");
    snprintf(a, sizeof a, "%s/a.bin", dir);
    snprintf(b, sizeof b, "%s/missing/b.bin", dir);
    int rc = test_run(out, sizeof out, "%s exec %s --config %s --dump 0:64=%s --dump 64:64=%s", M4NPU_BIN,
                      EXAMPLE("dma_copy.s"), CONFIG, a, b);
    assert_int_equal(rc, 3);
    char want[700];
    snprintf(want, sizeof want, "m4npu: %s: cannot create: the directory %s/missing does not exist", b, dir);
    expect_in_output(want);
    assert_int_equal(count_entries(dir), 0);
    /* both writable: both appear */
    snprintf(b, sizeof b, "%s/b.bin", dir);
    rc = test_run(out, sizeof out, "%s exec %s --config %s --dump 0:64=%s --dump 64:64=%s", M4NPU_BIN,
                  EXAMPLE("dma_copy.s"), CONFIG, a, b);
    assert_int_equal(rc, 0);
    assert_int_equal(count_entries(dir), 2);
}

/* Regression (issue 9, 8): `whatif --plot` into a missing directory said "gnuplot failed (is
 * gnuplot installed?)". The directory is checked first, before the run, and named. */
static void test_whatif_plot_into_a_missing_directory(void **state)
{
    (void)state;
    int rc = test_run(out, sizeof out, "%s whatif --task T2 --plot /nonexistent-dir/p.png --quiet", M4NPU_BIN);
    assert_int_equal(rc, 3);
    expect_in_output("m4npu: --plot: /nonexistent-dir/p.png: cannot create: the directory /nonexistent-dir does not "
                     "exist");
    if (strstr(out, "gnuplot"))
        fail_msg("the message blames gnuplot:\n%s", out);
}

/* ---- the waveform */

/* Regression (issue 9): `exec --vcd FILE` deadlocked when the VCD could not be written and left
 * a truncated file; VCD errors exited 1. Now: exit 3, a message naming the file, no file. */
static void test_vcd_that_cannot_be_written(void **state)
{
    (void)state;
    int rc = test_run(out, sizeof out, TIMEOUT "%s exec %s --config %s --set npu.matmul.impl=rtl --vcd /dev/full",
                      M4NPU_BIN, EXAMPLE("attention.s"), CONFIG);
    if (rc != 3)
        fail_msg("--vcd /dev/full: exit %d (124 is a hang):\n%s", rc, out);
    expect_in_output("m4npu exec: --vcd /dev/full: mm tile VCD: cannot write: No space left on device");

    /* a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored as a batch system might): both tiles rtl,
     * so two files; neither may be left, nor a temporary */
    char dir[256];
    fresh_dir(dir, sizeof dir, "vcd");
    rc = test_run(out, sizeof out,
                  "sh -c 'ulimit -f 16; trap \"\" XFSZ; exec " TIMEOUT "%s exec %s --config %s --set npu.matmul.impl=rtl "
                  "--set npu.softmax.impl=rtl --vcd %s/run.vcd'",
                  M4NPU_BIN, EXAMPLE("attention.s"), CONFIG, dir);
    if (rc != 3)
        fail_msg("--vcd under a file-size limit: exit %d (124 is a hang):\n%s", rc, out);
    char want[600];
    snprintf(want, sizeof want, "m4npu exec: --vcd %s/run.vcd: ", dir);
    expect_in_output(want);
    expect_in_output("cannot write: File too large");
    assert_int_equal(count_entries(dir), 0);

    /* writable: both files appear, complete */
    rc = test_run(out, sizeof out, TIMEOUT "%s exec %s --config %s --set npu.matmul.impl=rtl --set npu.softmax.impl=rtl "
                  "--vcd %s/run.vcd", M4NPU_BIN, EXAMPLE("attention.s"), CONFIG, dir);
    assert_int_equal(rc, 0);
    assert_int_equal(count_entries(dir), 2);
    char path[300];
    snprintf(path, sizeof path, "%s/run.sm.vcd", dir);
    char *vcd = test_read_file(path, NULL);
    assert_non_null(strstr(vcd, "$scope module sm_tile $end"));
    free(vcd);
    /* a fast configuration has no waveform: a usage problem of the input, exit 1 */
    rc = test_run(out, sizeof out, "%s exec %s --config %s --vcd %s/x.vcd", M4NPU_BIN, EXAMPLE("attention.s"), CONFIG,
                  dir);
    assert_int_equal(rc, 1);
    expect_in_output("no RTL tile is configured");
}

/* ---- bounded reads */

/* Regression (issue 9): `disasm /dev/zero` and `exec --load 0=/dev/zero` read until killed. Each
 * read stops at its limit (the program limit, the data region's end) with a message naming the
 * file and the limit. */
static void test_reads_are_bounded(void **state)
{
    (void)state;
    int rc = test_run(out, sizeof out, TIMEOUT "%s disasm /dev/zero", M4NPU_BIN);
    assert_int_equal(rc, 1);
    expect_in_output("m4npu: /dev/zero: more than 67108864 bytes, the limit for a program");
    rc = test_run(out, sizeof out, TIMEOUT "%s exec /dev/zero --config %s", M4NPU_BIN, CONFIG);
    assert_int_equal(rc, 1);
    expect_in_output("m4npu: /dev/zero: more than 67108864 bytes, the limit for a program");
    rc = test_run(out, sizeof out, TIMEOUT "%s exec %s --config %s --load 0x100=/dev/zero", M4NPU_BIN,
                  EXAMPLE("dma_copy.s"), CONFIG);
    assert_int_equal(rc, 1);
    /* 16 buffers of 64 KiB: 1 MiB of data region, 0x100 bytes in */
    expect_in_output("m4npu: /dev/zero: more than 1048320 bytes, the limit for --load at 0x100 (the data region's end)");
    /* a regular file over the limit is refused before it is read */
    char big[256];
    test_path(big, sizeof big, "big.bin");
    FILE *f = fopen(big, "wb");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)(64u << 20), SEEK_SET), 0); /* sparse: 64 MiB + 1 byte */
    fputc(0, f);
    fclose(f);
    rc = test_run(out, sizeof out, "%s disasm %s", M4NPU_BIN, big);
    assert_int_equal(rc, 1);
    char want[600];
    snprintf(want, sizeof want, "m4npu: %s: 67108865 bytes, larger than the 67108864-byte limit for a program", big);
    expect_in_output(want);
    /* a directory is not a program */
    rc = test_run(out, sizeof out, "%s disasm %s", M4NPU_BIN, test_tmpdir());
    assert_int_equal(rc, 3);
    expect_in_output(": is a directory; expected a program");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unwritable_stdout_is_exit_3),
        cmocka_unit_test(test_asm_refuses_its_input_as_output),
        cmocka_unit_test(test_asm_writes_through_symbolic_links),
        cmocka_unit_test(test_exec_dumps_are_all_or_nothing),
        cmocka_unit_test(test_whatif_plot_into_a_missing_directory),
        cmocka_unit_test(test_vcd_that_cannot_be_written),
        cmocka_unit_test(test_reads_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
