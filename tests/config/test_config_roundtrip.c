/* Printing and loading again gives the same struct, bit for bit: for both presets and for
 * random valid configurations (awkward doubles, sizes that are and are not whole KiB/MiB,
 * strings with quotes, backslashes, control characters and UTF-8). The JSON form holds the
 * same values. */
#include "config_test_util.h"

#include <math.h>

static char *yaml_of(const m4npu_config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *mem = open_memstream(&text, len);
    assert_non_null(mem);
    assert_int_equal(m4npu_config_write_yaml(cfg, mem), 0);
    fclose(mem);
    return text;
}

static void assert_round_trip(const m4npu_config *cfg)
{
    size_t len;
    char *text = yaml_of(cfg, &len);
    m4npu_config again;
    m4npu_config_error err;
    memset(&again, 0x33, sizeof again);
    if (m4npu_config_load_text(text, len, "printed", &again, &err) != M4NPU_CONFIG_OK)
        fail_msg("the printed configuration does not load: %s\n%s", err.msg, text);
    if (memcmp(&again, cfg, sizeof again) != 0)
        fail_msg("the printed configuration loads to a different struct:\n%s", text);
    free(text);
}

static void test_presets_round_trip(void **state)
{
    (void)state;
    const char *presets[] = {TEST_YAML, MOBILE_YAML};
    for (size_t i = 0; i < 2; i++) {
        m4npu_config cfg;
        m4npu_config_error err;
        if (m4npu_config_load(presets[i], &cfg, &err) != M4NPU_CONFIG_OK)
            fail_msg("%s", err.msg);
        assert_round_trip(&cfg);
    }
}

/* A double in [lo, hi] with 1..17 significant digits. */
static double random_positive(test_rng *r, double lo, double hi)
{
    double u = (double)(test_rng_next(r) >> 11) / 9007199254740992.0; /* [0, 1) */
    double v = lo + u * (hi - lo);
    if (test_rng_range(r, 0, 3) == 0) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*g", (int)test_rng_range(r, 1, 17), v);
        v = strtod(buf, NULL);
    }
    return v > lo ? v : hi;
}

static void random_string(test_rng *r, char *buf, size_t cap, size_t minlen)
{
    static const char *const pieces[] = {"a", "Z", " ", "\"", "\\", "\n", "\t", "\x01", "\x7f", ":", "#", "- ",
                                         "'", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x99\x82", "{", "]", "&", "*",
                                         /* C1 controls (U+0080, NEL, U+009F), U+00A0, BOM, U+FFFE, U+FFFF */
                                         "\xc2\x80", "\xc2\x85", "\xc2\x9f", "\xc2\xa0", "\xef\xbb\xbf",
                                         "\xef\xbf\xbe", "\xef\xbf\xbf"};
    size_t n = 0, want = (size_t)test_rng_range(r, (int64_t)minlen, (int64_t)cap - 1);
    buf[0] = '\0';
    while (n < want) {
        const char *p = pieces[test_rng_range(r, 0, sizeof pieces / sizeof pieces[0] - 1)];
        size_t len = strlen(p);
        if (n + len > cap - 1)
            break;
        memcpy(buf + n, p, len);
        n += len;
    }
    if (n < minlen) { /* nothing fitted: fall back to plain text */
        memset(buf, 'x', minlen);
        n = minlen;
    }
    buf[n] = '\0';
}

static void randomise(test_rng *r, m4npu_config *c)
{
    m4npu_config_defaults(c);
    memset(c->npu.name, 0, sizeof c->npu.name);
    memset(c->description, 0, sizeof c->description);
    random_string(r, c->npu.name, sizeof c->npu.name, 1);
    random_string(r, c->description, sizeof c->description, 0);
    c->npu.clock_mhz = random_positive(r, NPU_CLOCK_MHZ_MIN, NPU_CLOCK_MHZ_MAX);
    c->npu.matmul.rows = (uint32_t)test_rng_range(r, 1, 4095);
    c->npu.matmul.cols = (uint32_t)test_rng_range(r, 1, 4095);
    c->npu.softmax.max_len = (uint32_t)test_rng_range(r, 1, 16383);
    c->npu.softmax.lanes = (uint32_t)test_rng_range(r, 1, c->npu.softmax.max_len);
    c->npu.vector.lanes = (uint32_t)test_rng_range(r, 1, NPU_VECTOR_LANES_MAX);
    c->npu.vector.pipeline_cycles = (uint32_t)test_rng_range(r, 1, 1000);
    c->npu.sram.banks = (uint32_t)test_rng_range(r, 1, 64);
    c->npu.sram.bank_width_bytes = (uint32_t)test_rng_range(r, 1, 128);
    uint64_t stripe = (uint64_t)c->npu.sram.banks * c->npu.sram.bank_width_bytes;
    c->npu.sram.size_bytes = stripe * (uint64_t)test_rng_range(r, (int64_t)((NPU_SRAM_MIN_BYTES + stripe - 1) / stripe),
                                                                (int64_t)((16u << 20) / stripe));
    c->npu.dma.channels = (uint32_t)test_rng_range(r, 1, 4);
    c->npu.dma.setup_cycles = (uint32_t)test_rng_range(r, 0, NPU_DMA_SETUP_CYCLES_MAX);
    c->npu.dram.size_bytes = (uint64_t)test_rng_range(r, NPU_MIN_DRAM_BYTES, NPU_MAX_DRAM_BYTES);
    if (test_rng_range(r, 0, 1))
        c->npu.dram.size_bytes &= ~((1ull << 30) - 1); /* a whole number of GiB: printed with a suffix */
    if (c->npu.dram.size_bytes < (1u << 20))
        c->npu.dram.size_bytes = 1u << 20;
    c->npu.dram.bandwidth_gb_s = random_positive(r, NPU_DRAM_BANDWIDTH_GB_S_MIN, NPU_DRAM_BANDWIDTH_GB_S_MAX);
    c->npu.dram.efficiency = random_positive(r, NPU_DRAM_EFFICIENCY_MIN, NPU_DRAM_EFFICIENCY_MAX);
    c->npu.dram.latency_ns = test_rng_range(r, 0, 4) ? random_positive(r, 0.0, 1e4) : 0.0;
    c->npu.dram.burst_bytes = 1u << test_rng_range(r, 0, 12);
    c->npu.control.clock_mhz = random_positive(r, 1.0, 5000.0);
    c->npu.control.cycles_per_insn = (uint32_t)test_rng_range(r, 0, 100);
    c->npu.queue_depth = (uint32_t)test_rng_range(r, 1, NPU_QUEUE_DEPTH_MAX);
    c->npu.watchdog_cycles = (uint64_t)test_rng_range(r, NPU_WATCHDOG_CYCLES_MIN, (int64_t)NPU_WATCHDOG_CYCLES_MAX);
    c->npu.matmul.impl = NPU_IMPL_FAST;
    c->cpu.cores = (uint32_t)test_rng_range(r, 1, 256);
    c->cpu.gflop_s.fp32 = random_positive(r, 0.01, 1e4);
    c->cpu.gflop_s.int8 = random_positive(r, 0.01, 1e5);
    c->cpu.memory_bandwidth_gb_s = random_positive(r, 0.1, 1e3);
    c->cpu.dispatch_overhead_us = random_positive(r, 0.0, 100.0);
    c->cpu.active_power_w = random_positive(r, 0.001, 50.0);
    double idle_fraction = (double)test_rng_range(r, 0, 100) / 100.0;
    c->cpu.idle_power_w = fmin(c->cpu.active_power_w, c->cpu.active_power_w * idle_fraction);
}

static void test_random_configurations_round_trip(void **state)
{
    (void)state;
    test_rng r = {0x5eedc0f1};
    for (int i = 0; i < 2000; i++) {
        m4npu_config cfg;
        randomise(&r, &cfg);
        m4npu_config_error err;
        if (m4npu_config_validate(&cfg, &err) != M4NPU_CONFIG_OK)
            fail_msg("case %d: the random configuration is invalid: %s", i, err.msg);
        assert_round_trip(&cfg);
    }
}

static void test_yaml_is_readable(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    size_t len;
    char *text = yaml_of(&cfg, &len);
    /* sizes keep their binary suffix; nested sections are indented mappings */
    assert_non_null(strstr(text, "\n  sram:\n    size_bytes: 256 KiB\n    banks: 8\n"));
    assert_non_null(strstr(text, "\nname: \"test\"\n"));
    assert_non_null(strstr(text, "\n  gflop_s:\n    fp32: 50\n"));
    assert_non_null(strstr(text, "\n    impl: fast\n"));
    cfg.npu.sram.size_bytes = 1000;
    free(text);
    text = yaml_of(&cfg, &len);
    assert_non_null(strstr(text, "    size_bytes: 1000\n"));
    free(text);
}

static void test_json_holds_the_same_values(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_error err;
    if (m4npu_config_load(MOBILE_YAML, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    json_t *j = m4npu_config_to_json(&cfg);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "mobile-default");
    json_t *npu = json_object_get(j, "npu");
    assert_true(json_is_object(npu));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(npu, "matmul"), "rows")), 64);
    assert_string_equal(json_string_value(json_object_get(json_object_get(npu, "matmul"), "impl")), "fast");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(npu, "sram"), "size_bytes")), 8 << 20);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(npu, "dram"), "size_bytes")), 12ll << 30);
    assert_true(json_real_value(json_object_get(json_object_get(npu, "dram"), "bandwidth_gb_s")) == 51.2);
    assert_int_equal(json_integer_value(json_object_get(npu, "watchdog_cycles")), (json_int_t)cfg.npu.watchdog_cycles);
    json_t *cpu = json_object_get(j, "cpu");
    assert_true(json_real_value(json_object_get(json_object_get(cpu, "gflop_s"), "fp32")) == cfg.cpu.gflop_s.fp32);
    assert_true(json_real_value(json_object_get(cpu, "idle_power_w")) == cfg.cpu.idle_power_w);
    /* every schema key is present, nested by its dotted path */
    size_t keys = 0;
    for (size_t s = 0; s < m4npu_config_section_count(); s++) {
        const m4npu_cfg_section *sec = m4npu_config_section_at(s);
        for (size_t i = 0; i < sec->nkeys; i++, keys++) {
            char path[128];
            snprintf(path, sizeof path, "%s", sec->keys[i].path);
            json_t *node = j;
            for (char *tok = strtok(path, "."); tok && node; tok = strtok(NULL, "."))
                node = json_object_get(node, tok);
            if (!node)
                fail_msg("%s is missing from the JSON", sec->keys[i].path);
        }
    }
    assert_true(keys >= 37);
    /* and the dump parses back */
    char *dump = json_dumps(j, 0);
    assert_non_null(dump);
    json_error_t jerr;
    json_t *back = json_loads(dump, 0, &jerr);
    assert_non_null(back);
    assert_true(json_equal(j, back));
    json_decref(back);
    free(dump);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets_round_trip),
        cmocka_unit_test(test_random_configurations_round_trip),
        cmocka_unit_test(test_yaml_is_readable),
        cmocka_unit_test(test_json_holds_the_same_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
