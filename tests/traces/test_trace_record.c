/* test_trace_record.c -- recording through the driver, end to end with the m4npu command:
 * `--trace` and `trace record` give the same trace; a trace replays; dump prints one line per
 * record; diff finds the first difference and the cycles per job; the timeline has one slice
 * per instruction; a faulting job is recorded and replayed with its fault; bad uses fail with
 * the documented exit codes and leave no file behind. */
#include "test_util.h"

#include <jansson.h>
#include <sys/stat.h>

#include "trace_internal.h"

#define EXAMPLE M4NPU_SOURCE_DIR "/examples/attention.s"
#define CONFIG M4NPU_SOURCE_DIR "/configs/test.yaml"
#define OUT_BYTES (1u << 20)

static char *out;

static int setup(void **state)
{
    (void)state;
    out = malloc(OUT_BYTES);
    return out ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(out);
    return 0;
}

static int count_lines(const char *s, const char *prefix)
{
    int n = 0;
    size_t plen = strlen(prefix);
    for (const char *p = s; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
        n += strncmp(p, prefix, plen) == 0;
    return n;
}

static void record_example(const char *name, const char *extra)
{
    char path[512];
    test_path(path, sizeof path, name);
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " exec " EXAMPLE " --config " CONFIG " --trace %s %s", path,
                              extra), 0);
}

static void test_trace_option_and_record_agree(void **state)
{
    (void)state;
    char a[512], b[512];
    record_example("a.trc", "--trace-level insn");
    test_path(a, sizeof a, "a.trc");
    test_path(b, sizeof b, "b.trc");
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace record -o %s --level insn -- m4npu exec " EXAMPLE
                              " --config " CONFIG, b), 0);
    assert_non_null(strstr(out, "cycles")); /* the command's own report is printed */
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace diff %s %s", a, b), 0);
    assert_non_null(strstr(out, "the traces hold the same"));
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace replay %s", a), 0);
}

static void test_dump_is_one_line_per_record(void **state)
{
    (void)state;
    char a[512];
    record_example("d.trc", "--trace-level insn");
    test_path(a, sizeof a, "d.trc");
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace dump %s", a), 0);
    const char *end = strstr(out, "\nend records=");
    assert_non_null(end);
    int records = atoi(end + strlen("\nend records="));
    assert_int_equal(count_lines(out, ""), records + 1);
    assert_int_equal(count_lines(out, "header "), 1);
    assert_int_equal(count_lines(out, "submit job=0 type=isa"), 1);
    assert_int_equal(count_lines(out, "done job=0 done cycles="), 1);
    assert_true(count_lines(out, "insn ") >= 10);
    assert_true(count_lines(out, "irq ") >= 1);
    /* the same trace dumps to the same text */
    char *first = strdup(out);
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace dump %s", a), 0);
    assert_string_equal(first, out);
    free(first);
}

static void test_diff_names_the_first_difference(void **state)
{
    (void)state;
    char a[512], b[512];
    record_example("x.trc", "");
    record_example("y.trc", "--set npu.dma.setup_cycles=17");
    test_path(a, sizeof a, "x.trc");
    test_path(b, sizeof b, "y.trc");
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace diff %s %s", a, b), 1);
    assert_non_null(strstr(out, "first divergence at record 0:")); /* the configuration is in the header */
    assert_non_null(strstr(out, "cycles A"));
    assert_non_null(strstr(out, "%")); /* the per-job change */
}

static void test_timeline_has_a_slice_per_instruction(void **state)
{
    (void)state;
    char a[512], t[512];
    record_example("t.trc", "--trace-level insn");
    test_path(a, sizeof a, "t.trc");
    test_path(t, sizeof t, "t.json");
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace dump %s", a), 0);
    int insns = count_lines(out, "insn ");
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace timeline %s -o %s", a, t), 0);
    json_error_t err;
    json_t *root = json_load_file(t, 0, &err);
    assert_non_null(root);
    json_t *ev = json_object_get(root, "traceEvents");
    int slices = 0, jobs = 0;
    for (size_t i = 0; i < json_array_size(ev); i++) {
        json_t *e = json_array_get(ev, i);
        const char *cat = json_string_value(json_object_get(e, "cat"));
        if (cat && strcmp(cat, "insn") == 0) {
            slices++;
            assert_true(json_real_value(json_object_get(e, "dur")) >= 0.0);
        }
        jobs += cat && strcmp(cat, "job") == 0;
    }
    assert_int_equal(slices, insns);
    assert_int_equal(jobs, 1);
    json_decref(root);
    /* a job-level trace has nothing to draw per instruction */
    record_example("j.trc", "");
    test_path(a, sizeof a, "j.trc");
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace timeline %s -o %s", a, t), 1);
    assert_non_null(strstr(out, "--level insn"));
}

static void test_faulting_job_is_recorded_and_replayed(void **state)
{
    (void)state;
    char prog[512], a[512];
    test_path(prog, sizeof prog, "oob.s");
    /* a DMA far outside its 64 KiB buffer: the job faults */
    const char *src = "dma.ld 0, 0, 0x0, 0xF0000, 1, 64, 64, 64\nend\n";
    test_write_file(prog, src, strlen(src));
    test_path(a, sizeof a, "f.trc");
    int rc = test_run(out, OUT_BYTES, M4NPU_BIN " exec %s --config " CONFIG " --trace %s --trace-level insn", prog, a);
    if (rc != 1)
        fail_msg("exec of a faulting program: exit %d: %s", rc, out);
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace dump %s", a), 0);
    assert_non_null(strstr(out, "done job=0 failed"));
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace replay %s", a), 0);
}

static void test_bad_uses(void **state)
{
    (void)state;
    char a[512];
    test_path(a, sizeof a, "never.trc");
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace record -o %s -- m4npu asm " EXAMPLE, a), 2);
    assert_non_null(strstr(out, "exec, run and whatif"));
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace record -o %s -- ls", a), 2);
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace record -- m4npu exec " EXAMPLE), 2);
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " exec " EXAMPLE " --config " CONFIG
                              " --trace %s --trace-level everything", a), 2);
    struct stat st;
    assert_int_equal(stat(a, &st), -1); /* nothing was written */
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " exec " EXAMPLE " --config " CONFIG
                              " --trace /nonexistent/dir/x.trc"), 3);
    assert_non_null(strstr(out, "/nonexistent/dir/x.trc"));
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace bogus"), 2);
    assert_int_equal(test_run(out, OUT_BYTES, M4NPU_BIN " trace --help"), 0);
    assert_non_null(strstr(out, "usage: m4npu trace record"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_option_and_record_agree),
        cmocka_unit_test(test_dump_is_one_line_per_record),
        cmocka_unit_test(test_diff_names_the_first_difference),
        cmocka_unit_test(test_timeline_has_a_slice_per_instruction),
        cmocka_unit_test(test_faulting_job_is_recorded_and_replayed),
        cmocka_unit_test(test_bad_uses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
