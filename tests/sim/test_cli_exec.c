/* `m4npu exec` end to end: every example runs and reports the documented JSON keys; the
 * attention example's output equals a C reference exactly; faults exit non-zero; random files
 * are rejected cleanly; two runs give identical cycles and bytes; --timeline draws every
 * instruction on named tracks; --timing-only refuses --dump (it would write zeros); the report names
 * the configuration with its overrides and hash. */
#include "test_util.h"

#include <dirent.h>
#include <jansson.h>

#include "isa_exec.h"

#define CONFIG M4NPU_SOURCE_DIR "/configs/test.yaml"
static char out[1 << 20];

static json_t *run_json(const char *args, int expect_rc)
{
    int rc = test_run(out, sizeof out, "%s exec %s --config %s --json 2>/dev/null", M4NPU_BIN, args, CONFIG);
    if (rc != expect_rc)
        fail_msg("exit %d (expected %d) for exec %s:\n%s", rc, expect_rc, args, out);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (!j)
        fail_msg("not JSON (%s) for exec %s:\n%s", jerr.text, args, out);
    return j;
}

static void assert_report_keys(json_t *j)
{
    assert_true(json_is_integer(json_object_get(j, "cycles")));
    assert_true(json_integer_value(json_object_get(j, "cycles")) > 0);
    assert_true(json_is_integer(json_object_get(j, "dram_bytes")));
    assert_true(json_is_string(json_object_get(j, "status")));
    json_t *units = json_object_get(j, "units");
    assert_true(json_is_object(units));
    static const char *const names[] = {"dma0", "dma1", "mm", "sm", "vec", "ctrl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *u = json_object_get(units, names[i]);
        if (!u)
            fail_msg("units.%s missing", names[i]);
        assert_true(json_is_integer(json_object_get(u, "busy_cycles")));
        assert_true(json_is_integer(json_object_get(u, "instructions")));
    }
}

static void test_every_example_runs(void **state)
{
    (void)state;
    DIR *d = opendir(M4NPU_SOURCE_DIR "/examples");
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    char args[512];
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".s") != 0)
            continue;
        snprintf(args, sizeof args, "%s/examples/%s", M4NPU_SOURCE_DIR, e->d_name);
        json_t *j = run_json(args, 0);
        assert_report_keys(j);
        assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
        json_decref(j);
        n++;
    }
    closedir(d);
    assert_true(n >= 4);
}

/* floor(v / 2^s) for any sign (the requantiser's arithmetic shift) */
static int64_t floor_shift(int64_t v, int s) { return v >= 0 ? v >> s : -((-v + (1 << s) - 1) >> s); }

/* The C reference of examples/attention.s: S = requant(Q K^T, scale 1, shift 9), then a causal
 * row softmax with scale 1068 (Q4.12). The matmul is written out here independently. */
static void attention_reference(const int8_t q[16 * 64], const int8_t kt[64 * 16], int8_t p[16 * 16])
{
    int8_t s[16 * 16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            int32_t acc = 0;
            for (int k = 0; k < 64; k++)
                acc += q[i * 64 + k] * kt[k * 16 + j];
            int64_t v = floor_shift((int64_t)acc + 256, 9);
            s[i * 16 + j] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
        }
    for (int r = 0; r < 16; r++)
        isa_sm_row(s + r * 16, p + r * 16, 16, (uint32_t)r, 1068, 1, 0);
}

static void run_attention(uint64_t *cycles, int8_t p[256])
{
    char q_path[256], kt_path[256], p_path[256], args[1024];
    test_path(q_path, sizeof q_path, "q.bin");
    test_path(kt_path, sizeof kt_path, "kt.bin");
    test_path(p_path, sizeof p_path, "p.bin");
    snprintf(args, sizeof args, "%s/examples/attention.s --load 0x0=%s --load 0x10000=%s --dump 0x20000:256=%s",
             M4NPU_SOURCE_DIR, q_path, kt_path, p_path);
    json_t *j = run_json(args, 0);
    *cycles = (uint64_t)json_integer_value(json_object_get(j, "cycles"));
    json_decref(j);
    FILE *f = fopen(p_path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(p, 1, 256, f), 256);
    fclose(f);
}

static void test_attention_equals_reference_and_is_deterministic(void **state)
{
    (void)state;
    int8_t q[16 * 64], kt[64 * 16], expect[256], got[256], again[256];
    test_rng r = {0xa77e};
    for (int i = 0; i < 16 * 64; i++) {
        q[i] = (int8_t)test_rng_range(&r, -32, 31); /* scores of a few units: a spread softmax */
        kt[i] = (int8_t)test_rng_range(&r, -32, 31);
    }
    char path[256];
    test_path(path, sizeof path, "q.bin");
    test_write_file(path, q, sizeof q);
    test_path(path, sizeof path, "kt.bin");
    test_write_file(path, kt, sizeof kt);
    attention_reference(q, kt, expect);
    uint64_t c1, c2;
    run_attention(&c1, got);
    assert_memory_equal(got, expect, sizeof expect);
    int nonzero = 0;
    for (int i = 0; i < 256; i++)
        nonzero += got[i] != 0;
    assert_true(nonzero > 100); /* a real softmax, not a block of zeros */
    run_attention(&c2, again);
    assert_int_equal(c1, c2);
    assert_memory_equal(got, again, sizeof got);
}

static void expect_exec_fault(const char *name, const char *src, const char *extra, const char *fault)
{
    char path[256], args[600];
    test_path(path, sizeof path, name);
    test_write_file(path, src, strlen(src));
    snprintf(args, sizeof args, "%s %s", path, extra);
    json_t *j = run_json(args, 1);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "fault");
    json_t *f = json_object_get(j, "fault");
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "name")), fault);
    assert_report_keys(j);
    json_decref(j);
}

static void test_faults_exit_non_zero(void **state)
{
    (void)state;
    expect_exec_fault("illegal.s", "nop\n.insn 0xff\nend\n", "", "illegal_instruction");
    expect_exec_fault("oob.s", "dma.ld 0, 0, 0x0, 0xfff0, 1, 64, 64, 64\nend\n", "", "dma_out_of_bounds");
    expect_exec_fault("sram.s", "dma.ld 0, 0, 0x3fff0, 0, 1, 64, 64, 64\nend\n", "", "sram_overflow");
    expect_exec_fault("hang.s", "wait sm, 3\nend\n", "--set npu.watchdog_cycles=5000", "watchdog");
}

static void test_bad_files_are_rejected_cleanly(void **state)
{
    (void)state;
    test_rng r = {99};
    char path[256];
    uint8_t bytes[1024];
    for (int round = 0; round < 8; round++) {
        size_t len = round % 2 ? 1024 : (size_t)test_rng_range(&r, 1, 1023);
        for (size_t i = 0; i < len; i++)
            bytes[i] = (uint8_t)test_rng_next(&r);
        test_path(path, sizeof path, "random.bin");
        test_write_file(path, bytes, len);
        int rc = test_run(out, sizeof out, "%s exec %s --config %s", M4NPU_BIN, path, CONFIG);
        if (rc != 1)
            fail_msg("random file of %zu bytes: exit %d\n%s", len, rc, out);
    }
    /* assembly errors are reported with their place */
    test_path(path, sizeof path, "bad.s");
    test_write_file(path, "nop\nmm os\n", 10);
    assert_int_equal(test_run(out, sizeof out, "%s exec %s --config %s", M4NPU_BIN, path, CONFIG), 1);
    assert_non_null(strstr(out, "bad.s:2:1: error: 'mm' takes 13 operands"));
    /* usage and file errors */
    assert_int_equal(test_run(out, sizeof out, "%s exec %s", M4NPU_BIN, path), 2);
    assert_int_equal(test_run(out, sizeof out, "%s exec %s --config %s --load nonsense", M4NPU_BIN, path, CONFIG), 2);
    assert_int_equal(test_run(out, sizeof out, "%s exec %s --config /nonexistent.yaml", M4NPU_BIN, path), 3);
    assert_int_equal(test_run(out, sizeof out, "%s exec /nonexistent.s --config %s", M4NPU_BIN, CONFIG), 3);
    assert_int_equal(test_run(out, sizeof out, "%s exec --help", M4NPU_BIN), 0);
}

static void test_timeline_and_timing_only_dump(void **state)
{
    (void)state;
    char tl[256], dump[256];
    test_path(tl, sizeof tl, "exec.json");
    test_path(dump, sizeof dump, "never.bin");
    remove(dump);
    assert_int_equal(test_run(out, sizeof out, "%s exec %s/examples/attention.s --config %s --timeline %s", M4NPU_BIN,
                              M4NPU_SOURCE_DIR, CONFIG, tl),
                     0);
    json_error_t e;
    json_t *j = json_load_file(tl, 0, &e);
    if (!j)
        fail_msg("--timeline: not JSON: %s", e.text);
    json_t *evs = json_object_get(j, "traceEvents");
    int insns = 0, jobs = 0, process_names = 0, thread_names = 0;
    for (size_t i = 0; i < json_array_size(evs); i++) {
        json_t *ev = json_array_get(evs, i);
        const char *ph = json_string_value(json_object_get(ev, "ph")), *name = json_string_value(json_object_get(ev, "name"));
        if (strcmp(ph, "M") == 0) {
            process_names += strcmp(name, "process_name") == 0;
            thread_names += strcmp(name, "thread_name") == 0;
            continue;
        }
        const char *cat = json_string_value(json_object_get(ev, "cat"));
        insns += strcmp(cat, "insn") == 0;
        jobs += strcmp(cat, "job") == 0;
    }
    assert_int_equal(jobs, 1);
    assert_true(insns >= 10); /* the example's instructions, each on its unit's track */
    assert_int_equal(process_names, 1);
    assert_true(thread_names >= 8);
    json_decref(j);
    /* --timing-only moves no data: a dump would hold zeros, so it is refused */
    assert_int_equal(test_run(out, sizeof out, "%s exec %s/examples/attention.s --config %s --timing-only --dump 0:16=%s",
                              M4NPU_BIN, M4NPU_SOURCE_DIR, CONFIG, dump),
                     2);
    assert_non_null(strstr(out, "--timing-only moves and computes no data"));
    FILE *f = fopen(dump, "rb");
    assert_null(f);
    /* the report names the configuration with its overrides and hash */
    json_t *r = run_json("--set npu.dma.setup_cycles=40 " M4NPU_SOURCE_DIR "/examples/dma_copy.s", 0);
    json_t *c = json_object_get(r, "configuration");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "overrides"), 0)), "npu.dma.setup_cycles=40");
    assert_int_equal(strlen(json_string_value(json_object_get(c, "hash"))), 16);
    json_decref(r);
    assert_int_equal(test_run(out, sizeof out, "%s exec %s/examples/dma_copy.s --config %s --set npu.dma.setup_cycles=40",
                              M4NPU_BIN, M4NPU_SOURCE_DIR, CONFIG),
                     0);
    assert_non_null(strstr(out, "on test + 1 override: npu.dma.setup_cycles=40\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_example_runs),
        cmocka_unit_test(test_attention_equals_reference_and_is_deterministic),
        cmocka_unit_test(test_faults_exit_non_zero),
        cmocka_unit_test(test_bad_files_are_rejected_cleanly),
        cmocka_unit_test(test_timeline_and_timing_only_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
