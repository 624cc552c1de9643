/* Overrides (--set KEY=VALUE, what sweeps use): valid values of every kind, unknown keys, bad
 * values, their place in messages, and that they apply before the checks. */
#include "config_test_util.h"

static void set_ok(m4npu_config *cfg, const char *key, const char *value)
{
    m4npu_config_error err;
    if (m4npu_config_set(cfg, key, value, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s=%s: %s", key, value, err.msg);
}

static void test_valid_values_of_every_kind(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    set_ok(&cfg, "npu.matmul.rows", "32");
    set_ok(&cfg, "npu.matmul.cols", "32");
    assert_int_equal(cfg.npu.matmul.rows, 32);
    assert_int_equal(cfg.npu.matmul.cols, 32);
    set_ok(&cfg, "npu.sram.size_bytes", "4 MiB");
    assert_int_equal(cfg.npu.sram.size_bytes, 4u << 20);
    set_ok(&cfg, "npu.sram.size_bytes", "131072");
    assert_int_equal(cfg.npu.sram.size_bytes, 131072);
    set_ok(&cfg, "npu.dram.size_bytes", "12 GiB");
    assert_int_equal(cfg.npu.dram.size_bytes, 12ull << 30);
    set_ok(&cfg, "npu.watchdog_cycles", "5000000000");
    assert_int_equal(cfg.npu.watchdog_cycles, 5000000000ull);
    set_ok(&cfg, "npu.dram.bandwidth_gb_s", "51.2");
    assert_true(cfg.npu.dram.bandwidth_gb_s == 51.2);
    set_ok(&cfg, "npu.dram.efficiency", "7.5e-1");
    assert_true(cfg.npu.dram.efficiency == 0.75);
    set_ok(&cfg, "npu.softmax.impl", "rtl");
    assert_int_equal(cfg.npu.softmax.impl, NPU_IMPL_RTL);
    set_ok(&cfg, "name", "sweep point 7");
    assert_string_equal(cfg.npu.name, "sweep point 7");
    set_ok(&cfg, "description", "");
    assert_string_equal(cfg.description, "");
    set_ok(&cfg, "cpu.gflop_s.int8", "640");
    assert_true(cfg.cpu.gflop_s.int8 == 640.0);

    m4npu_config_error err;
    assert_int_equal(m4npu_config_set_assignment(&cfg, "npu.queue_depth=12", &err), M4NPU_CONFIG_OK);
    assert_int_equal(cfg.npu.queue_depth, 12);
    /* the value may itself contain '=' */
    assert_int_equal(m4npu_config_set_assignment(&cfg, "description=a=b", &err), M4NPU_CONFIG_OK);
    assert_string_equal(cfg.description, "a=b");
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_OK);
}

static void test_unknown_keys_and_bad_values(void **state)
{
    (void)state;
    cfgtest_expect_set_error("npu.matmul.row", "32", M4NPU_CONFIG_E_UNKNOWN_KEY,
                     "npu.matmul.row: unknown key; expected one of: rows, cols, impl, output_stage, full_array_gemv (in npu.matmul)");
    cfgtest_expect_set_error("npu.bogus.deeper", "1", M4NPU_CONFIG_E_UNKNOWN_KEY,
                     "npu.bogus.deeper: unknown key; expected one of: clock_mhz, matmul, softmax, vector, sram, "
                     "dma, dram, control, queue_depth, watchdog_cycles, fused_attention, overlap (in npu)");
    cfgtest_expect_set_error("gpu.cores", "1", M4NPU_CONFIG_E_UNKNOWN_KEY,
                     "gpu.cores: unknown key; expected one of: name, description, npu, ops, cpu, energy");
    cfgtest_expect_set_error("npu.sram", "1", M4NPU_CONFIG_E_TYPE,
                     "npu.sram: is a mapping; set one of its keys: size_bytes, banks, bank_width_bytes");
    cfgtest_expect_set_error("npu.matmul.rows", "abc", M4NPU_CONFIG_E_TYPE,
                     "npu.matmul.rows: expected an unsigned integer, got \"abc\"");
    cfgtest_expect_set_error("npu.matmul.rows", "", M4NPU_CONFIG_E_TYPE,
                     "npu.matmul.rows: expected an unsigned integer, got nothing");
    /* a number that cannot be stored is refused with the key's range at once */
    cfgtest_expect_set_error("npu.matmul.rows", "-1", M4NPU_CONFIG_E_RANGE, "npu.matmul.rows: -1 is outside 1..4095 PEs");
    cfgtest_expect_set_error("npu.matmul.rows", "1e23", M4NPU_CONFIG_E_RANGE,
                             "npu.matmul.rows: 1e23 is outside 1..4095 PEs");
    cfgtest_expect_set_error("npu.matmul.rows", "5000000000", M4NPU_CONFIG_E_RANGE,
                             "npu.matmul.rows: 5000000000 is outside 1..4095 PEs");
    /* a long number is shown by its head (the fuzzer found a stack overflow here: 90 digits) */
    cfgtest_expect_set_error("npu.matmul.rows",
                             "320000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
                             M4NPU_CONFIG_E_RANGE,
                             "npu.matmul.rows: 320000000000000000000000000000000000000000000000000000000000... is "
                             "outside 1..4095 PEs");
    cfgtest_expect_set_error("npu.matmul.rows", "16.5", M4NPU_CONFIG_E_TYPE,
                             "npu.matmul.rows: expected an unsigned integer, got \"16.5\"");
    cfgtest_expect_set_error("npu.matmul.impl", "verilog", M4NPU_CONFIG_E_TYPE,
                     "npu.matmul.impl: expected one of fast, rtl, got \"verilog\"");
    cfgtest_expect_set_error("npu.sram.size_bytes", "4 MB", M4NPU_CONFIG_E_TYPE,
                     "npu.sram.size_bytes: \"4 MB\": use a binary suffix (B, KiB, MiB, GiB, TiB); decimal ones are "
                     "ambiguous");
    cfgtest_expect_set_error("name", "", M4NPU_CONFIG_E_RANGE, "name: must not be empty");
    cfgtest_expect_set_error("name", "\xc3\x28", M4NPU_CONFIG_E_TYPE, "name: is not valid UTF-8");

    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    m4npu_config_error err;
    assert_int_equal(m4npu_config_set_assignment(&cfg, "npu.matmul.rows", &err), M4NPU_CONFIG_E_USAGE);
    assert_string_equal(err.msg, "expected KEY=VALUE");
    assert_int_equal(m4npu_config_set_assignment(&cfg, "=3", &err), M4NPU_CONFIG_E_USAGE);
    assert_string_equal(err.msg, "expected KEY=VALUE, got an empty key");
}

/* Ranges and the device's limits are checked by validate (after all overrides), not by set: a
 * value that can be stored is taken, then held to its range. */
static void test_device_limits_apply_at_validation(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    m4npu_config_error err;
    set_ok(&cfg, "npu.sram.size_bytes", "20 MiB");
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_E_RANGE);
    assert_string_equal(err.msg, "npu.sram.size_bytes: 20971520 (20 MiB) is outside 1 KiB..16 MiB");
    assert_string_equal(err.key, "npu.sram.size_bytes");
    m4npu_config_defaults(&cfg);
    set_ok(&cfg, "cpu.dispatch_overhead_us", "-0.5");
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_E_RANGE);
    assert_string_equal(err.msg, "cpu.dispatch_overhead_us: -0.5 is outside 0..1000000 us");
    /* regression (issue 9): a DRAM bandwidth of 1e-320 GB/s was accepted */
    m4npu_config_defaults(&cfg);
    set_ok(&cfg, "npu.dram.bandwidth_gb_s", "1e-320");
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_E_RANGE);
    assert_string_equal(err.msg, "npu.dram.bandwidth_gb_s: 1e-320 is outside 0.1..10000 GB/s");
    /* two keys that are only valid together */
    m4npu_config_defaults(&cfg);
    set_ok(&cfg, "npu.softmax.lanes", "1024");
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_E_DEVICE);
    set_ok(&cfg, "npu.softmax.max_len", "2048");
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_OK);
    /* a struct filled in code is checked like a loaded one */
    m4npu_config_defaults(&cfg);
    cfg.cpu.gflop_s.fp16 = 0;
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_E_RANGE);
    assert_string_equal(err.msg, "cpu.gflop_s.fp16: 0 is outside 0.01..1000000 GFLOP/s");
    m4npu_config_defaults(&cfg);
    cfg.npu.matmul.impl = (npu_tile_impl)3;
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_E_RANGE);
    assert_string_equal(err.msg, "npu.matmul.impl: 3 is not a value of fast, rtl");
}

static m4npu_config_status load_with(const char *file, const char *const *sets, size_t n, m4npu_config *cfg,
                                     m4npu_config_error *err)
{
    return m4npu_config_load_overrides(file, sets, n, cfg, err);
}

static void test_overrides_when_loading(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_error err;
    /* applied in order: the last one wins */
    const char *sets[] = {"npu.matmul.rows=32", "npu.matmul.cols=8", "npu.matmul.rows=64"};
    assert_int_equal(load_with(TEST_YAML, sets, 3, &cfg, &err), M4NPU_CONFIG_OK);
    assert_int_equal(cfg.npu.matmul.rows, 64);
    assert_int_equal(cfg.npu.matmul.cols, 8);

    /* an override can make a file valid: the checks run after the overrides */
    char path[256];
    char *text = cfgtest_variant("size_bytes: 256 KiB", "size_bytes: 20 MiB");
    test_path(path, sizeof path, "big-sram.yaml");
    test_write_file(path, text, strlen(text));
    assert_int_equal(load_with(path, NULL, 0, &cfg, &err), M4NPU_CONFIG_E_RANGE);
    const char *fix[] = {"npu.sram.size_bytes=8 MiB"};
    assert_int_equal(load_with(path, fix, 1, &cfg, &err), M4NPU_CONFIG_OK);
    assert_int_equal(cfg.npu.sram.size_bytes, 8u << 20);

    /* an error about an overridden key names the override, not the file */
    const char *bad[] = {"npu.dram.efficiency=1.5"};
    assert_int_equal(load_with(TEST_YAML, bad, 1, &cfg, &err), M4NPU_CONFIG_E_RANGE);
    assert_string_equal(err.msg, "--set npu.dram.efficiency=1.5: npu.dram.efficiency: 1.5 is outside 0.01..1");
    const char *both[] = {"npu.softmax.lanes=1024"};
    assert_int_equal(load_with(TEST_YAML, both, 1, &cfg, &err), M4NPU_CONFIG_E_DEVICE);
    assert_string_equal(err.msg, "--set npu.softmax.lanes=1024: npu.softmax.lanes: 1024 exceeds npu.softmax.max_len (512)");
    /* ... while one about a key from the file names its line */
    const char *other[] = {"npu.matmul.rows=16"};
    assert_int_equal(load_with(path, other, 1, &cfg, &err), M4NPU_CONFIG_E_RANGE);
    char want[512];
    snprintf(want, sizeof want, "%s:%d:17: npu.sram.size_bytes: 20971520 (20 MiB) is outside 1 KiB..16 MiB", path,
             cfgtest_line_of(text, "20 MiB"));
    assert_string_equal(err.msg, want);

    /* errors in the overrides themselves */
    const char *unknown[] = {"npu.matmul.rows=32", "npu.sram.bnaks=4"};
    assert_int_equal(load_with(TEST_YAML, unknown, 2, &cfg, &err), M4NPU_CONFIG_E_UNKNOWN_KEY);
    assert_string_equal(err.msg, "--set npu.sram.bnaks=4: npu.sram.bnaks: unknown key; expected one of: size_bytes, "
                                 "banks, bank_width_bytes (in npu.sram)");
    const char *badval[] = {"npu.sram.banks=many"};
    assert_int_equal(load_with(TEST_YAML, badval, 1, &cfg, &err), M4NPU_CONFIG_E_TYPE);
    assert_string_equal(err.msg, "--set npu.sram.banks=many: npu.sram.banks: expected an unsigned integer, got \"many\"");
    const char *noeq[] = {"npu.sram.banks"};
    assert_int_equal(load_with(TEST_YAML, noeq, 1, &cfg, &err), M4NPU_CONFIG_E_USAGE);
    assert_string_equal(err.msg, "--set npu.sram.banks: expected KEY=VALUE");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_values_of_every_kind),
        cmocka_unit_test(test_unknown_keys_and_bad_values),
        cmocka_unit_test(test_device_limits_apply_at_validation),
        cmocka_unit_test(test_overrides_when_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
