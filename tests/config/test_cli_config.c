/* `m4npu config` end to end: output that reloads to the same configuration, --json, --set,
 * and the exit code and message of each kind of failure. */
#include "config_test_util.h"

#include <jansson.h>

static char out[65536];

static void test_prints_yaml_that_reloads(void **state)
{
    (void)state;
    char path[256];
    test_path(path, sizeof path, "printed.yaml");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s config %s > %s", M4NPU_BIN, MOBILE_YAML, path);
    assert_int_equal(test_run(out, sizeof out, "%s", cmd), 0);
    m4npu_config printed, original;
    m4npu_config_error err;
    if (m4npu_config_load(path, &printed, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(m4npu_config_load(MOBILE_YAML, &original, &err), M4NPU_CONFIG_OK);
    assert_memory_equal(&printed, &original, sizeof printed);
}

static void test_json(void **state)
{
    (void)state;
    assert_int_equal(test_run(out, sizeof out, "%s config %s --json", M4NPU_BIN, TEST_YAML), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (!j)
        fail_msg("not JSON (%s): %s", jerr.text, out);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "test");
    json_t *sram = json_object_get(json_object_get(j, "npu"), "sram");
    assert_int_equal(json_integer_value(json_object_get(sram, "size_bytes")), 256 * 1024);
    assert_true(json_is_object(json_object_get(json_object_get(j, "cpu"), "gflop_s")));
    json_decref(j);
}

static void test_overrides(void **state)
{
    (void)state;
    assert_int_equal(test_run(out, sizeof out, "%s config %s --set npu.matmul.rows=32 -s 'npu.sram.size_bytes=1 MiB' "
                                               "--json", M4NPU_BIN, TEST_YAML), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *npu = json_object_get(j, "npu");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(npu, "matmul"), "rows")), 32);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(npu, "sram"), "size_bytes")), 1 << 20);
    json_decref(j);

    assert_int_equal(test_run(out, sizeof out, "%s config %s --set npu.matmul.rowz=32", M4NPU_BIN, TEST_YAML), 1);
    assert_string_equal(out, "--set npu.matmul.rowz=32: npu.matmul.rowz: unknown key; expected one of: rows, cols, "
                             "impl, output_stage, full_array_gemv (in npu.matmul)\n");
    assert_int_equal(test_run(out, sizeof out, "%s config %s --set npu.dma.channels=8", M4NPU_BIN, TEST_YAML), 1);
    assert_string_equal(out, "--set npu.dma.channels=8: npu.dma.channels: 8 is outside 1..4 channels\n");
    /* regression (issue 9): passed, and then a 2 KB copy took 268 M cycles */
    assert_int_equal(test_run(out, sizeof out, "%s config %s --set npu.dram.bandwidth_gb_s=1e-320", M4NPU_BIN, TEST_YAML),
                     1);
    assert_string_equal(out, "--set npu.dram.bandwidth_gb_s=1e-320: npu.dram.bandwidth_gb_s: 1e-320 is outside "
                             "0.1..10000 GB/s\n");
    assert_int_equal(test_run(out, sizeof out, "%s config %s --set npu.dma.channels", M4NPU_BIN, TEST_YAML), 2);
    assert_string_equal(out, "m4npu config: --set npu.dma.channels: expected KEY=VALUE\n");
}

static void test_invalid_file(void **state)
{
    (void)state;
    char path[256];
    char *text = cfgtest_variant("    banks: 8\n", "    banks: eight\n");
    test_path(path, sizeof path, "bad.yaml");
    test_write_file(path, text, strlen(text));
    assert_int_equal(test_run(out, sizeof out, "%s config %s", M4NPU_BIN, path), 1);
    char want[512];
    snprintf(want, sizeof want, "%s:%d:12: npu.sram.banks: expected an unsigned integer, got \"eight\"\n", path,
             cfgtest_line_of(text, "banks: eight"));
    assert_string_equal(out, want);
    free(text);

    /* regression (issue 9): refused with "exceeds 4294967295" instead of the real range */
    text = cfgtest_variant("    rows: 16\n", "    rows: 1e23\n");
    test_write_file(path, text, strlen(text));
    assert_int_equal(test_run(out, sizeof out, "%s config %s", M4NPU_BIN, path), 1);
    snprintf(want, sizeof want, "%s:%d:11: npu.matmul.rows: 1e23 is outside 1..4095 PEs\n", path,
             cfgtest_line_of(text, "rows: 1e23"));
    assert_string_equal(out, want);
    free(text);

    /* garbage is rejected cleanly */
    test_path(path, sizeof path, "garbage.yaml");
    test_write_file(path, "\x7f\x45\x4c\x46\x02\x01\x01\x00", 8);
    assert_int_equal(test_run(out, sizeof out, "%s config %s", M4NPU_BIN, path), 1);
    assert_int_equal(strncmp(out, path, strlen(path)), 0);
}

static void test_usage_and_io(void **state)
{
    (void)state;
    assert_int_equal(test_run(out, sizeof out, "%s config /nonexistent/x.yaml", M4NPU_BIN), 3);
    assert_string_equal(out, "m4npu: /nonexistent/x.yaml: cannot open: No such file or directory\n");
    assert_int_equal(test_run(out, sizeof out, "%s config", M4NPU_BIN), 2);
    assert_non_null(strstr(out, "expected one configuration file"));
    assert_int_equal(test_run(out, sizeof out, "%s config %s %s", M4NPU_BIN, TEST_YAML, TEST_YAML), 2);
    assert_int_equal(test_run(out, sizeof out, "%s config --frobnicate %s", M4NPU_BIN, TEST_YAML), 2);
    assert_int_equal(test_run(out, sizeof out, "%s config --help", M4NPU_BIN), 0);
    assert_non_null(strstr(out, "usage: m4npu config FILE [--set KEY=VALUE ...] [--json]"));
    assert_int_equal(test_run(out, sizeof out, "%s --help", M4NPU_BIN), 0);
    assert_non_null(strstr(out, "  config "));
}

/* Every command that takes --config reports an unreadable file and a malformed --set the same
 * way (cli_load_config): the same message and exit 3, and exit 2. */
static void test_every_command_loads_configs_alike(void **state)
{
    (void)state;
    static const char *const cmds[] = {"exec nothere.s", "run nothere.onnx", "whatif", "ops", "calibrate", "bench"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        int rc = test_run(out, sizeof out, "%s %s --config /nonexistent/x.yaml", M4NPU_BIN, cmds[i]);
        if (rc != 3 || strcmp(out, "m4npu: /nonexistent/x.yaml: cannot open: No such file or directory\n") != 0)
            fail_msg("m4npu %s: exit %d, printed '%s'", cmds[i], rc, out);
        rc = test_run(out, sizeof out, "%s %s --config %s --set novalue", M4NPU_BIN, cmds[i], TEST_YAML);
        if (rc != 2 || !strstr(out, "--set novalue: expected KEY=VALUE"))
            fail_msg("m4npu %s --set novalue: exit %d, printed '%s'", cmds[i], rc, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prints_yaml_that_reloads),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_invalid_file),
        cmocka_unit_test(test_usage_and_io),
        cmocka_unit_test(test_every_command_loads_configs_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
