/* The loader: both presets load and pass the device's check; every class of error gives its
 * exact message with file, line, column and key; sizes take binary suffixes. */
#include "config_test_util.h"

#include <math.h>

#include "ops.h"

#define MIB (1024ull * 1024ull)

static void test_test_yaml_is_the_defaults(void **state)
{
    (void)state;
    m4npu_config cfg, def;
    m4npu_config_error err;
    memset(&cfg, 0xA5, sizeof cfg);
    m4npu_config_status st = m4npu_config_load(TEST_YAML, &cfg, &err);
    if (st != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(err.msg, "");
    m4npu_config_defaults(&def);
    assert_memory_equal(&cfg, &def, sizeof cfg);
    assert_int_equal(m4npu_config_validate(&cfg, &err), M4NPU_CONFIG_OK);
}

static void test_mobile_default_is_pixel_7_pro_class(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_error err;
    m4npu_config_status st = m4npu_config_load(MOBILE_YAML, &cfg, &err);
    if (st != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
    char msg[256];
    assert_int_equal(npu_config_check(&cfg.npu, msg, sizeof msg), 0);
    assert_string_equal(cfg.npu.name, "mobile-default");
    assert_int_equal(cfg.npu.matmul.rows, 64);
    assert_int_equal(cfg.npu.matmul.cols, 64);
    assert_true(cfg.npu.clock_mhz == 1066.0);
    assert_int_equal(cfg.npu.sram.size_bytes, 8 * MIB);
    assert_true(cfg.npu.dram.bandwidth_gb_s == 51.2);
    assert_true(cfg.npu.dram.efficiency == 0.75);
    assert_true(cfg.npu.dram.latency_ns >= 100.0 && cfg.npu.dram.latency_ns <= 120.0);
    assert_int_equal(cfg.npu.dma.channels, 4);
    /* M4's 4-core CPU times imply 150-160 GFLOP/s: one core's rate times Amdahl's 4-core speedup */
    assert_int_equal(cfg.cpu.cores, 4);
    double four_cores = cfg.cpu.gflop_s.fp32 / (0.1 + 0.9 / 4.0);
    assert_true(four_cores >= 150.0 && four_cores <= 160.0);
    /* peak int8 throughput 2 * 64 * 64 * 1.066 GHz = 8.7 TOPS, as reference/M4.md states */
    double tops = 2.0 * cfg.npu.matmul.rows * cfg.npu.matmul.cols * cfg.npu.clock_mhz * 1e6 / 1e12;
    assert_true(fabs(tops - 8.7) < 0.05);
}

/* Every value of a preset has a comment beside it giving its source or reasoning. */
static void assert_cites_every_value(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", M4NPU_SOURCE_DIR, rel);
    char *text = test_read_file(path, NULL);
    int line = 0, values = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line++;
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)len, p);
        char *colon = strstr(buf, ": ");
        int indented = buf[0] == ' ';
        if (indented && colon && buf[strspn(buf, " ")] != '#') {
            values++;
            if (!strchr(colon, '#'))
                fail_msg("%s:%d: a value without its source: %s", rel, line, buf);
        }
        p = nl ? nl + 1 : p + len;
    }
    assert_true(values >= 35);
    free(text);
}

/* The shipped presets (all but configs/test.yaml, which holds the test defaults): each loads,
 * passes every check, and cites a source beside every value. */
static void test_presets_load_and_cite_every_value(void **state)
{
    (void)state;
    static const char *const presets[] = {"configs/mobile-default.yaml",   "configs/edge-tpu.yaml",
                                          "configs/flagship-2024.yaml",    "configs/snapdragon-8gen2.yaml",
                                          "configs/snapdragon-8gen3.yaml", "configs/coral-edgetpu.yaml"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", M4NPU_SOURCE_DIR, presets[i]);
        m4npu_config cfg;
        m4npu_config_error err;
        if (m4npu_config_load(path, &cfg, &err) != M4NPU_CONFIG_OK)
            fail_msg("%s", err.msg);
        assert_cites_every_value(presets[i]);
    }
}

/* The new presets' key values are the public figures their comments cite: LPDDR5X-4200 and -4800
 * on a 64-bit bus, Hexagon's 8 MB VTCM; the Coral Edge TPU's 4 TOPS class, ~8 MB on chip, and
 * the PCIe Gen2 x1 link (5 GT/s, 8b/10b: 500 MB/s) standing for its "DRAM". */
static void test_new_presets_key_values(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        double dram_gb_s, tops_lo, tops_hi;
    } cases[] = {
        {"configs/snapdragon-8gen2.yaml", 8400e6 * 8 / 1e9, 22, 23.5},
        {"configs/snapdragon-8gen3.yaml", 9600e6 * 8 / 1e9, 44, 46},
        {"configs/coral-edgetpu.yaml", 5e9 * 8 / 10 / 8 / 1e9, 3.8, 4.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", M4NPU_SOURCE_DIR, cases[i].file);
        m4npu_config cfg;
        m4npu_config_error err;
        if (m4npu_config_load(path, &cfg, &err) != M4NPU_CONFIG_OK)
            fail_msg("%s", err.msg);
        if (fabs(cfg.npu.dram.bandwidth_gb_s - cases[i].dram_gb_s) > 1e-9)
            fail_msg("%s: DRAM %.3f GB/s, expected %.3f", cases[i].file, cfg.npu.dram.bandwidth_gb_s,
                     cases[i].dram_gb_s);
        double tops = 2.0 * cfg.npu.matmul.rows * cfg.npu.matmul.cols * cfg.npu.clock_mhz * 1e6 / 1e12;
        if (tops < cases[i].tops_lo || tops > cases[i].tops_hi)
            fail_msg("%s: %.2f TOPS, expected %.1f..%.1f", cases[i].file, tops, cases[i].tops_lo, cases[i].tops_hi);
        assert_int_equal(cfg.npu.sram.size_bytes, 8u << 20);
        /* ReLU6 runs on the NPU on all three (mobile CNNs) */
        assert_true(m4npu_config_op(&cfg, RT_OP_Clip)->npu);
    }
}

/* ---- errors */

typedef struct error_case {
    const char *from, *to;        /* the edit of configs/test.yaml */
    m4npu_config_status status;
    const char *key;
    const char *at;               /* text on the reported line of the edited file */
    int column;
    const char *reason;
} error_case;

static const error_case cases[] = {
    /* wrong type */
    {"    banks: 8\n", "    banks: eight\n", M4NPU_CONFIG_E_TYPE, "npu.sram.banks", "banks: eight", 12,
     "expected an unsigned integer, got \"eight\""},
    {"    banks: 8\n", "    banks: \"8\"\n", M4NPU_CONFIG_E_TYPE, "npu.sram.banks", "banks: \"8\"", 12,
     "expected an unsigned integer, got the quoted string \"8\""},
    {"    banks: 8\n", "    banks: 8.5\n", M4NPU_CONFIG_E_TYPE, "npu.sram.banks", "banks: 8.5", 12,
     "expected an unsigned integer, got \"8.5\""},
    {"    banks: 8\n", "    banks: {a: 1}\n", M4NPU_CONFIG_E_TYPE, "npu.sram.banks", "banks: {", 12,
     "expected an unsigned integer, got a mapping"},
    {"    banks: 8\n", "    banks: [8]\n", M4NPU_CONFIG_E_TYPE, "npu.sram.banks", "banks: [", 12,
     "expected an unsigned integer, got a sequence"},
    {"    banks: 8\n", "    banks:\n", M4NPU_CONFIG_E_TYPE, "npu.sram.banks", "banks:\n", 11,
     "expected an unsigned integer, got nothing"},
    {"  sram:\n    size_bytes: 256 KiB\n    banks: 8\n    bank_width_bytes: 16\n", "  sram: 3\n",
     M4NPU_CONFIG_E_STRUCTURE, "npu.sram", "sram: 3", 9,
     "expected a mapping with keys size_bytes, banks, bank_width_bytes, got a scalar"},
    {"    impl: fast\n", "    impl: slow\n", M4NPU_CONFIG_E_TYPE, "npu.matmul.impl", "impl: slow", 11,
     "expected one of fast, rtl, got \"slow\""},
    {"    bandwidth_gb_s: 16\n", "    bandwidth_gb_s: fast\n", M4NPU_CONFIG_E_TYPE, "npu.dram.bandwidth_gb_s",
     "bandwidth_gb_s: fast", 21, "expected a number, got \"fast\""},
    {"    bandwidth_gb_s: 16\n", "    bandwidth_gb_s: .inf\n", M4NPU_CONFIG_E_RANGE, "npu.dram.bandwidth_gb_s",
     "bandwidth_gb_s: .inf", 21, "expected a finite number, got \".inf\""},
    {"    bandwidth_gb_s: 16\n", "    bandwidth_gb_s: 1e999\n", M4NPU_CONFIG_E_RANGE, "npu.dram.bandwidth_gb_s",
     "bandwidth_gb_s: 1e999", 21, "\"1e999\" is too large for a finite number"},
    {"size_bytes: 256 KiB", "size_bytes: 256 KB", M4NPU_CONFIG_E_TYPE, "npu.sram.size_bytes", "256 KB", 17,
     "\"256 KB\": use a binary suffix (B, KiB, MiB, GiB, TiB); decimal ones are ambiguous"},
    {"size_bytes: 256 KiB", "size_bytes: lots", M4NPU_CONFIG_E_TYPE, "npu.sram.size_bytes", "lots", 17,
     "expected a size in bytes (an integer, or with a binary suffix as in \"256 KiB\", \"8 MiB\", \"12 GiB\"), "
     "got \"lots\""},
    {"size_bytes: 64 MiB", "size_bytes: 9000000000 TiB", M4NPU_CONFIG_E_RANGE, "npu.dram.size_bytes",
     "9000000000 TiB", 17, "9000000000 TiB is outside 1 MiB..1 TiB"},
    {"size_bytes: 64 MiB", "size_bytes: 2 TiB", M4NPU_CONFIG_E_RANGE, "npu.dram.size_bytes", "2 TiB", 17,
     "2199023255552 (2 TiB) is outside 1 MiB..1 TiB"},
    {"name: test\n", "name: \"\"\n", M4NPU_CONFIG_E_RANGE, "name", "name: \"\"", 7, "must not be empty"},
    {"name: test\n", "name: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", M4NPU_CONFIG_E_RANGE,
     "name", "name: xxx", 7, "is 64 bytes long; the maximum is 63"},
    {"name: test\n", "name: \"a\\0b\"\n", M4NPU_CONFIG_E_TYPE, "name", "name: \"a", 7, "contains a NUL character"},
    /* impossible values: every number's physical range, at the value, with the range and unit */
    {"    fp32: 50\n", "    fp32: -5\n", M4NPU_CONFIG_E_RANGE, "cpu.gflop_s.fp32", "fp32: -5", 11,
     "-5 is outside 0.01..1000000 GFLOP/s"},
    {"    banks: 8\n", "    banks: -8\n", M4NPU_CONFIG_E_RANGE, "npu.sram.banks", "banks: -8", 12,
     "-8 is outside 1..1024 banks"},
    {"    banks: 8\n", "    banks: 4294967296\n", M4NPU_CONFIG_E_RANGE, "npu.sram.banks", "banks: 4294967296", 12,
     "4294967296 is outside 1..1024 banks"},
    {"    banks: 8\n", "    banks: 99999999999999999999999\n", M4NPU_CONFIG_E_RANGE, "npu.sram.banks", "banks: 999",
     12, "99999999999999999999999 is outside 1..1024 banks"},
    /* regression (issue 9): refused with "exceeds 4294967295" instead of the real range */
    {"    rows: 16\n", "    rows: 1e23\n", M4NPU_CONFIG_E_RANGE, "npu.matmul.rows", "rows: 1e23", 11,
     "1e23 is outside 1..4095 PEs"},
    /* regression (issue 9): accepted, and a 2 KB copy then took 268 M cycles */
    {"    bandwidth_gb_s: 16\n", "    bandwidth_gb_s: 1e-320\n", M4NPU_CONFIG_E_RANGE, "npu.dram.bandwidth_gb_s",
     "bandwidth_gb_s: 1e-320", 21, "1e-320 is outside 0.1..10000 GB/s"},
    {"size_bytes: 256 KiB", "size_bytes: 20 MiB", M4NPU_CONFIG_E_RANGE, "npu.sram.size_bytes", "20 MiB", 17,
     "20971520 (20 MiB) is outside 1 KiB..16 MiB"},
    {"    efficiency: 1.0\n", "    efficiency: 0\n", M4NPU_CONFIG_E_RANGE, "npu.dram.efficiency", "efficiency: 0",
     17, "0 is outside 0.01..1"},
    {"  npu_static_w: 0.05", "  npu_static_w: 1e6", M4NPU_CONFIG_E_RANGE, "energy.npu_static_w", "npu_static_w: 1e6",
     17, "1000000 is outside 0..100 W"},
    {"    lanes: 4\n", "    lanes: 1024\n", M4NPU_CONFIG_E_DEVICE, "npu.softmax.lanes", "lanes: 1024", 12,
     "1024 exceeds npu.softmax.max_len (512)"},
    {"  idle_power_w: 0.1", "  idle_power_w: 2.5", M4NPU_CONFIG_E_DEVICE, "cpu.idle_power_w", "idle_power_w: 2.5",
     17, "2.5 exceeds cpu.active_power_w (2)"},
    {"      enabled: on\n", "      enabled: yes\n", M4NPU_CONFIG_E_TYPE, "npu.matmul.output_stage.enabled",
     "enabled: yes", 16, "expected one of off, on, got \"yes\""},
    {"      lanes: 8\n", "      lanes: 0\n", M4NPU_CONFIG_E_RANGE, "npu.matmul.output_stage.lanes", "lanes: 0", 14,
     "0 is outside 1..4095 elements/cycle"},
    /* unknown, duplicate and missing keys */
    {"    banks: 8\n", "    bank: 8\n", M4NPU_CONFIG_E_UNKNOWN_KEY, "npu.sram.bank", "bank: 8", 5,
     "unknown key; expected one of: size_bytes, banks, bank_width_bytes"},
    {"name: test\n", "name: test\nextra: 1\n", M4NPU_CONFIG_E_UNKNOWN_KEY, "extra", "extra: 1", 1,
     "unknown key; expected one of: name, description, npu, ops, cpu, energy"},
    {"  cores: 1\n", "  cores: 1\n  threads: 8\n", M4NPU_CONFIG_E_UNKNOWN_KEY, "cpu.threads", "threads: 8", 3,
     "unknown key; expected one of: cores, gflop_s, memory_bandwidth_gb_s, dispatch_overhead_us, "
     "npu_submit_overhead_us, npu_transfer_overhead_us, npu_op_overhead_us, active_power_w, idle_power_w"},
    {"    banks: 8\n", "    banks: 8\n    banks: 4\n", M4NPU_CONFIG_E_DUPLICATE_KEY, "npu.sram.banks", "banks: 4", 5,
     "duplicate key (first at line 28, column 5)"},
    {"    banks: 8\n", "", M4NPU_CONFIG_E_MISSING_KEY, "npu.sram.banks", "  sram:", 3,
     "missing key (required in npu.sram)"},
    {"  idle_power_w: 0.1\n", "", M4NPU_CONFIG_E_MISSING_KEY, "cpu.idle_power_w", "cpu:", 1,
     "missing key (required in cpu)"},
    {"name: test\n", "", M4NPU_CONFIG_E_MISSING_KEY, "name", "description:", 1,
     "missing key (required at the top level)"},
    /* YAML that configurations do not use */
    {"    banks: 8\n", "    banks: &b 8\n", M4NPU_CONFIG_E_SYNTAX, "npu.sram.banks", "banks: &b", 12,
     "anchors (&name) are not supported in configurations"},
    {"    banks: 8\n", "    banks: *b\n", M4NPU_CONFIG_E_SYNTAX, "npu.sram.banks", "banks: *b", 12,
     "aliases (*name) are not supported in configurations"},
    {"    banks: 8\n", "    banks: !!int 8\n", M4NPU_CONFIG_E_SYNTAX, "npu.sram.banks", "banks: !!int", 12,
     "explicit tags (!tag) are not supported in configurations"},
    {"  idle_power_w: 0.1\n", "  idle_power_w: 0.1\n---\nname: again\n", M4NPU_CONFIG_E_SYNTAX, "", "---", 1,
     "a second YAML document; a configuration is one document"},
    {"    banks: 8\n", "    ? [a]\n    : 8\n", M4NPU_CONFIG_E_SYNTAX, "npu.sram", "? [a]", 7,
     "a key must be a scalar, not a mapping or sequence"},
    /* malformed YAML (libyaml's words) */
    {"    banks: 8\n", "    banks: [8\n", M4NPU_CONFIG_E_SYNTAX, "npu.sram.banks[1]", "bank_width_bytes", 21,
     "malformed YAML: did not find expected ',' or ']' while parsing a flow sequence (line 28, column 12)"},
    {"    banks: 8\n", "   banks: 8\n", M4NPU_CONFIG_E_SYNTAX, "npu", "   banks: 8", 4,
     "malformed YAML: did not find expected key while parsing a block mapping (line 7, column 3)"},
    {"name: test\n", "name: test\n\tx: 1\n", M4NPU_CONFIG_E_SYNTAX, "name", "\tx: 1", 1,
     "malformed YAML: found a tab character that violates indentation while scanning a plain scalar "
     "(line 3, column 7)"},
};

static void check_error_case(const error_case *ec)
{
    char *text = cfgtest_variant(ec->from, ec->to);
    char path[256];
    m4npu_config cfg;
    m4npu_config_error err;
    m4npu_config_status st = cfgtest_load_text_file("case.yaml", text, path, sizeof path, &cfg, &err);
    int line = cfgtest_line_of(text, ec->at);
    char want[1024];
    if (ec->key[0])
        snprintf(want, sizeof want, "%s:%d:%d: %s: %s", path, line, ec->column, ec->key, ec->reason);
    else
        snprintf(want, sizeof want, "%s:%d:%d: %s", path, line, ec->column, ec->reason);
    if (st == M4NPU_CONFIG_OK)
        fail_msg("edit '%s' -> '%s' loaded; expected %s", ec->from, ec->to, want);
    if (strcmp(err.msg, want) != 0)
        fail_msg("edit '%s' -> '%s':\n  got  %s\n  want %s", ec->from, ec->to, err.msg, want);
    assert_int_equal(st, ec->status);
    assert_int_equal(err.status, ec->status);
    assert_string_equal(err.origin, path);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, ec->column);
    assert_string_equal(err.key, ec->key);
    assert_string_equal(err.reason, ec->reason);
    free(text);
}

static void test_error_messages(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_error_case(&cases[i]);
}

/* An rtl tile that was not built: the message lists what was (the list depends on the build). */
static void test_rtl_size_not_built(void **state)
{
    (void)state;
    char *text = cfgtest_variant("    rows: 16\n    cols: 16\n    impl: fast\n", "    rows: 32\n    cols: 32\n    impl: rtl\n");
    char path[256];
    m4npu_config cfg;
    m4npu_config_error err;
    assert_int_equal(cfgtest_load_text_file("case.yaml", text, path, sizeof path, &cfg, &err), M4NPU_CONFIG_E_DEVICE);
    assert_string_equal(err.key, "npu.matmul.impl");
    assert_int_equal(err.line, cfgtest_line_of(text, "impl: rtl"));
    const char *want = "no rtl tile is built for a 32x32 array with an output stage of 8 lanes (built: ";
    if (strncmp(err.reason, want, strlen(want)) != 0 || !strstr(err.reason, "16x16/8") ||
        !strstr(err.reason, "; rows x cols / lanes); use fast"))
        fail_msg("got %s", err.reason);
    free(text);
}

static void expect_whole_file_error(const char *text, size_t len, m4npu_config_status status, int line, int column,
                                    const char *reason)
{
    char path[256], want[1024];
    test_path(path, sizeof path, "whole.yaml");
    test_write_file(path, text, len);
    m4npu_config cfg;
    m4npu_config_error err;
    assert_int_equal(m4npu_config_load(path, &cfg, &err), status);
    snprintf(want, sizeof want, "%s:%d:%d: %s", path, line, column, reason);
    assert_string_equal(err.msg, want);
    assert_string_equal(err.key, "");
}

#define TOP_KEYS "expected a mapping with keys name, description, npu, ops, cpu, energy"

static void test_empty_and_non_mapping_documents(void **state)
{
    (void)state;
    expect_whole_file_error("", 0, M4NPU_CONFIG_E_EMPTY, 1, 1,
                            "no configuration (the file is empty or holds only comments); " TOP_KEYS);
    expect_whole_file_error("# only a comment\n\n", 18, M4NPU_CONFIG_E_EMPTY, 1, 1,
                            "no configuration (the file is empty or holds only comments); " TOP_KEYS);
    expect_whole_file_error("---\n", 4, M4NPU_CONFIG_E_EMPTY, 2, 1,
                            "no configuration (the file is empty or holds only comments); " TOP_KEYS);
    expect_whole_file_error("hello\n", 6, M4NPU_CONFIG_E_STRUCTURE, 1, 1, "the document is a scalar; " TOP_KEYS);
    expect_whole_file_error("- a\n- b\n", 8, M4NPU_CONFIG_E_STRUCTURE, 1, 1, "the document is a sequence; " TOP_KEYS);
    /* text without a name is called <text> */
    m4npu_config cfg;
    m4npu_config_error err;
    assert_int_equal(m4npu_config_load_text("7", 1, NULL, &cfg, &err), M4NPU_CONFIG_E_STRUCTURE);
    assert_string_equal(err.msg, "<text>:1:1: the document is a scalar; " TOP_KEYS);
}

static void test_reader_errors_have_positions(void **state)
{
    (void)state;
    /* invalid UTF-8 on line 2 */
    expect_whole_file_error("name: x\ndescription: \"\xff\"\n", 24, M4NPU_CONFIG_E_SYNTAX, 2, 15,
                            "malformed YAML: invalid leading UTF-8 octet (byte 0xff)");
    /* a NUL byte */
    expect_whole_file_error("name: x\0\n", 9, M4NPU_CONFIG_E_SYNTAX, 1, 8,
                            "malformed YAML: control characters are not allowed (byte 0x00)");
}

static void test_nesting_is_bounded(void **state)
{
    (void)state;
    enum { DEPTH = 100000 };
    char *text = malloc(2 * DEPTH + 1);
    assert_non_null(text);
    memset(text, '[', DEPTH);
    memset(text + DEPTH, ']', DEPTH);
    text[2 * DEPTH] = '\0';
    m4npu_config cfg;
    m4npu_config_error err;
    assert_int_equal(m4npu_config_load_text(text, 2 * DEPTH, "deep", &cfg, &err), M4NPU_CONFIG_E_SYNTAX);
    assert_non_null(strstr(err.msg, "nested too deeply"));
    assert_int_equal(strncmp(err.msg, "deep:1:", 7), 0);
    free(text);
}

static void test_missing_file(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_error err;
    assert_int_equal(m4npu_config_load("/nonexistent/m4npu.yaml", &cfg, &err), M4NPU_CONFIG_E_IO);
    assert_string_equal(err.msg, "/nonexistent/m4npu.yaml: cannot open: No such file or directory");
    assert_int_equal(m4npu_config_load(test_tmpdir(), &cfg, &err), M4NPU_CONFIG_E_IO);
    assert_int_equal(strncmp(err.msg, test_tmpdir(), strlen(test_tmpdir())), 0);
    assert_non_null(strstr(err.msg, ": is a directory; expected a configuration"));
}

/* Sizes: integers and binary suffixes, with or without a space, quoted or not. */
static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } sizes[] = {
        {"262144", 262144}, {"256KiB", 256 * 1024}, {"256 KiB", 256 * 1024}, {"\"256 KiB\"", 256 * 1024},
        {"1 MiB", MIB},     {"'16 MiB'", 16 * MIB},  {"1024 B", 1024},       {"1024B", 1024},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char to[64], path[256];
        snprintf(to, sizeof to, "size_bytes: %s", sizes[i].text);
        char *text = cfgtest_variant("size_bytes: 256 KiB", to);
        m4npu_config cfg;
        m4npu_config_error err;
        if (cfgtest_load_text_file("size.yaml", text, path, sizeof path, &cfg, &err) != M4NPU_CONFIG_OK)
            fail_msg("%s: %s", sizes[i].text, err.msg);
        assert_int_equal(cfg.npu.sram.size_bytes, sizes[i].bytes);
        free(text);
    }
    char path[256];
    char *text = cfgtest_variant("size_bytes: 64 MiB", "size_bytes: \"12 GiB\"");
    m4npu_config cfg;
    m4npu_config_error err;
    assert_int_equal(cfgtest_load_text_file("dram.yaml", text, path, sizeof path, &cfg, &err), M4NPU_CONFIG_OK);
    assert_int_equal(cfg.npu.dram.size_bytes, 12ull * 1024 * MIB);
    free(text);
}

/* A failed load leaves *out untouched. */
static void test_failed_load_does_not_write_out(void **state)
{
    (void)state;
    m4npu_config cfg, before;
    memset(&cfg, 0x5A, sizeof cfg);
    before = cfg;
    m4npu_config_error err;
    char *text = cfgtest_variant("    lanes: 4\n", "    lanes: 1024\n"); /* fails at the last step, the device check */
    assert_int_equal(m4npu_config_load_text(text, strlen(text), "x", &cfg, &err), M4NPU_CONFIG_E_DEVICE);
    assert_memory_equal(&cfg, &before, sizeof cfg);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_test_yaml_is_the_defaults),
        cmocka_unit_test(test_mobile_default_is_pixel_7_pro_class),
        cmocka_unit_test(test_presets_load_and_cite_every_value),
        cmocka_unit_test(test_new_presets_key_values),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_rtl_size_not_built),
        cmocka_unit_test(test_empty_and_non_mapping_documents),
        cmocka_unit_test(test_reader_errors_have_positions),
        cmocka_unit_test(test_nesting_is_bounded),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_failed_load_does_not_write_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
