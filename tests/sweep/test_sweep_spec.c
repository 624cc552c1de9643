/* The sweep spec, its points and its constraints: the examples load; every class of error is a
 * "FILE:LINE:COL: KEY: reason" message at the offending node; axes expand as documented; the
 * grid's order, random and Latin-hypercube draws are deterministic, and LHS puts one point in
 * each stratum of every axis; constraints drop exactly the points they should; the expression
 * language's precedence, units, functions and errors. */
#include "test_util.h"

#include <math.h>

#include "sweep.h"

#define PRESETS M4NPU_SOURCE_DIR "/configs"

/* line numbers are part of the expected messages below */
static const char base_spec[] = "base:\n"                                               /* 1 */
                                "  preset: test\n"                                      /* 2 */
                                "axes:\n"                                               /* 3 */
                                "  npu.matmul.rows: [8, 16]\n"                          /* 4 */
                                "  npu.dram.bandwidth_gb_s: {from: 4, to: 16, factor: 2}\n" /* 5 */
                                "constraints:\n"                                        /* 6 */
                                "  - npu.sram.size_bytes >= 2 * tile_operand_bytes\n"   /* 7 */
                                "workloads:\n"                                          /* 8 */
                                "  - module: projection\n"                              /* 9 */
                                "metrics: [latency_s, energy_j]\n";                     /* 10 */

static char spec_path[512];

/* base_spec with `from` replaced by `to` (from must occur), written to spec.yaml */
static void write_variant(const char *from, const char *to)
{
    const char *at = strstr(base_spec, from);
    if (!at)
        fail_msg("'%s' is not in the base spec", from);
    char text[4096];
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - base_spec), base_spec, to, at + strlen(from));
    test_path(spec_path, sizeof spec_path, "spec.yaml");
    test_write_file(spec_path, text, strlen(text));
}

static sweep_spec *load_ok(void)
{
    sweep_spec *s;
    rt_error e;
    if (sweep_spec_load(spec_path, PRESETS, &s, &e) != RT_OK)
        fail_msg("%s", e.msg);
    return s;
}

static void test_base_spec_and_examples_load(void **state)
{
    (void)state;
    write_variant("", "");
    sweep_spec *s = load_ok();
    assert_int_equal(s->n_axes, 2);
    assert_int_equal(s->axes[0].n_values, 2);
    assert_string_equal(s->axes[0].values[1], "16");
    /* factor 2 from 4 to 16: 4, 8, 16 */
    assert_int_equal(s->axes[1].n_values, 3);
    assert_string_equal(s->axes[1].values[0], "4");
    assert_string_equal(s->axes[1].values[2], "16");
    assert_int_equal(s->n_constraints, 1);
    assert_int_equal(s->n_workloads, 1);
    assert_string_equal(s->workloads[0].name, "projection");
    assert_true(s->metric[SWEEP_M_LATENCY_S] && s->metric[SWEEP_M_ENERGY_J] && s->metric[SWEEP_M_AREA_MM2]);
    assert_false(s->metric[SWEEP_M_NPU_S]);
    assert_int_equal(strlen(s->identity), 16);
    sweep_spec_free(s);
    static const char *const examples[] = {"quick.yaml", "decode-bandwidth.yaml", "lhs.yaml"};
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        snprintf(spec_path, sizeof spec_path, "%s/examples/sweeps/%s", M4NPU_SOURCE_DIR, examples[i]);
        sweep_spec_free(load_ok());
    }
}

typedef struct error_case {
    const char *from, *to;
    const char *msg; /* after "PATH:" */
} error_case;

static const error_case errors[] = {
    {"metrics: [latency_s, energy_j]\n", "metrics: [latency_s, energy_j]\ncolour: red\n",
     "11:1: colour: unknown key; expected one of: base, axes, sampling, constraints, workloads, metrics, area"},
    {"  npu.matmul.rows: [8, 16]\n", "  npu.matmul.rows: [8, 16]\n  npu.matmul.rows: [32]\n",
     "5:3: axes.npu.matmul.rows: duplicate key (first at line 4, column 3)"},
    {"metrics: [latency_s, energy_j]\n", "", "1:1: metrics: missing key (required in a sweep spec)"},
    {"[8, 16]", "8",
     "4:20: axes.npu.matmul.rows: expected a list of values or a range {from, to, step | factor | points}, got a "
     "scalar"},
    {"[8, 16]", "[8, eight]", "4:24: axes.npu.matmul.rows[1]: expected an unsigned integer, got \"eight\""},
    {"[8, 16]", "[8, 8]", "4:24: axes.npu.matmul.rows[1]: \"8\" is listed twice"},
    {"[8, 16]", "[]", "4:20: axes.npu.matmul.rows: an empty list of values"},
    {"npu.matmul.rows:", "npu.matmul.depth:", "4:3: axes.npu.matmul.depth: not a configuration key (docs/configs.md "
                                              "lists them)"},
    {"npu.matmul.rows: [8, 16]", "name: [a, b]",
     "4:3: axes.name: not a knob a sweep can vary (a numeric or named value)"},
    {"factor: 2}", "factor: 1}", "5:54: axes.npu.dram.bandwidth_gb_s.factor: must be greater than 1"},
    {"factor: 2}", "step: 2, points: 3}",
     "5:28: axes.npu.dram.bandwidth_gb_s: give one of step, factor and points"},
    {"{from: 4, to: 16, factor: 2}", "{from: 16, to: 4, step: 2}",
     "5:35: axes.npu.dram.bandwidth_gb_s: from (16) is greater than to (4)"},
    {"{from: 4, to: 16, factor: 2}", "{from: 4, to: 16}",
     "5:3: axes.npu.dram.bandwidth_gb_s: a continuous range (no step, factor or points) needs random or lhs "
     "sampling"},
    {"{from: 4, to: 16, factor: 2}", "{from: 4, to: 16, size: 2}",
     "5:46: axes.npu.dram.bandwidth_gb_s.size: unknown key; expected one of: from, to, step, factor, points, scale"},
    {"2 * tile_operand_bytes", "2 * * tile_operand_bytes",
     "7:32: constraints[0]: expected a number, a name or '(', got '*' (in \"npu.sram.size_bytes >= 2 * * "
     "tile_operand_bytes\")"},
    {"2 * tile_operand_bytes", "2 * tile_bytes",
     "7:32: constraints[0]: unknown name 'tile_bytes'; expected a numeric configuration key (npu.sram.size_bytes "
     "...), a derived quantity (mac_units, sram_bytes_per_cycle, dram_bytes_per_cycle, peak_tops, "
     "tile_operand_bytes, area_mm2) or min/max (in \"npu.sram.size_bytes >= 2 * tile_bytes\")"},
    {">= 2 * tile_operand_bytes", "+ 1",
     "7:28: constraints[0]: a constraint compares two expressions: expected <, <=, >, >=, == or != before the end "
     "(in \"npu.sram.size_bytes + 1\")"},
    {"[latency_s, energy_j]", "[latency_s, speed]",
     "10:22: metrics[1]: unknown metric \"speed\"; expected one of: latency_s, energy_j, area_mm2, npu_s, cpu_s, "
     "transfer_s, submit_s, first_token_s, per_token_s, segments, npu_fraction, e_macs_j, e_vector_j, e_sram_j, "
     "e_dram_j, e_control_j, e_static_j, e_cpu_j, e_transfer_j"},
    {"[latency_s, energy_j]", "[energy_j, energy_j]", "10:21: metrics[1]: \"energy_j\" is listed twice"},
    {"  - module: projection\n", "  - model: nonesuch.onnx\n", "9:12: workloads[0].model: "},
    {"  - module: projection\n", "  - model: " M4NPU_BINARY_DIR "/models/garbage.onnx\n",
     "9:12: workloads[0]: " M4NPU_BINARY_DIR "/models/garbage.onnx: "},
    {"  - module: projection\n", "  - model: " M4NPU_BINARY_DIR "/models/encoder_block.onnx\n    dims: [1]\n",
     "10:11: workloads[0].dims: expected a mapping from dimension names (or INPUT:AXIS) to sizes, got a sequence"},
    {"  - module: projection\n", "  - model: " M4NPU_BINARY_DIR "/models/encoder_block.onnx\n    dims: {batch: 0}\n",
     "10:19: workloads[0].dims.batch: 0 is outside 1..2147483647"},
    {"  - module: projection\n", "  - model: " M4NPU_BINARY_DIR "/models/encoder_block.onnx\n    weights: fp8\n",
     "10:14: workloads[0].weights: expected int8 or int4, got \"fp8\""},
    {"  - module: projection\n", "  - module: projection\n  - module: projection\n",
     "10:5: workloads[1]: a second workload named \"projection\"; give each a distinct name:"},
    {"module: projection", "module: resnet",
     "9:13: workloads[0].module: no module \"resnet\"; expected one of: IMG_enc, TXT_enc, AUD-B_enc, AUD-I_enc, "
     "IMU_enc, backbone-prefill, backbone-decode, GEN_dec, TTS_dec, IMG_dec, IMG_dec-unet, IMG_dec-vae, "
     "projection"},
    {"module: projection", "module: projection\n    kv_len: eight",
     "10:13: workloads[0].kv_len: expected an integer, got \"eight\""},
    {"  - module: projection\n", "  - task: T51\n", "9:11: workloads[0].task: expected a task T1..T50, got \"T51\""},
    {"  - module: projection\n", "  - task: T2\n    int4: maybe\n",
     "10:11: workloads[0].int4: expected true or false, got \"maybe\""},
    {"  - module: projection\n", "  - {}\n",
     "9:5: workloads[0]: a workload needs one of module (an M4 module), task (T1..T50) and model (an ONNX file)"},
    {"preset: test", "preset: nonesuch", "2:11: base.preset: no preset nonesuch"},
    {"preset: test", "preset: ../test", "2:11: base.preset: \"../test\" is not a preset name (letters, digits, - and _)"},
    {"  preset: test\n", "  preset: test\n  file: x.yaml\n",
     "2:3: base: give exactly one of preset (a name in configs/) and file (a path)"},
    {"  preset: test\n", "  preset: test\n  set:\n    npu.matmul.rows: many\n",
     "4:22: base.set.npu.matmul.rows: expected an unsigned integer, got \"many\""},
    {"constraints:\n", "sampling:\n  method: lhs\nconstraints:\n",
     "7:3: sampling.points: missing key (random and lhs sampling draw this many points)"},
    {"constraints:\n", "sampling:\n  method: grid\n  seed: 3\nconstraints:\n",
     "8:3: sampling.seed: the grid is every combination of the axes' values: no points or seed"},
    {"constraints:\n", "sampling:\n  method: sobol\nconstraints:\n",
     "7:11: sampling.method: expected grid, random or lhs, got \"sobol\""},
    {"[8, 16]", "&a [8, 16]", "4:20: axes.npu.matmul.rows: anchors (&name) are not supported in configurations"},
};

static void test_errors_name_file_line_column_and_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        write_variant(errors[i].from, errors[i].to);
        sweep_spec *s = NULL;
        rt_error e;
        assert_int_equal(sweep_spec_load(spec_path, PRESETS, &s, &e), RT_ERR_ARG);
        assert_null(s);
        char want[2048];
        snprintf(want, sizeof want, "%s:%s", spec_path, errors[i].msg);
        if (strncmp(e.msg, want, strlen(want)) != 0)
            fail_msg("case %zu:\n got: %s\nwant: %s", i, e.msg, want);
    }
    /* an unreadable spec is an I/O error naming it */
    sweep_spec *s;
    rt_error e;
    assert_int_equal(sweep_spec_load("/nonexistent/spec.yaml", PRESETS, &s, &e), RT_ERR_IO);
    assert_non_null(strstr(e.msg, "/nonexistent/spec.yaml"));
}

/* An ONNX model as a workload: its path (relative to the spec), name, dimensions and weights. */
static void test_model_workloads(void **state)
{
    (void)state;
    write_variant("  - module: projection\n", "  - model: " M4NPU_BINARY_DIR "/models/encoder_block.onnx\n"
                                             "    dims: {batch: 2, x:1: 8}\n    weights: int4\n");
    sweep_spec *s = load_ok();
    assert_int_equal(s->workloads[0].kind, SWEEP_WL_MODEL);
    assert_string_equal(s->workloads[0].name, "encoder_block");
    assert_int_equal(s->workloads[0].n_dims, 2);
    assert_string_equal(s->workloads[0].dim_name[1], "x:1");
    assert_int_equal(s->workloads[0].dim_value[1], 8);
    assert_true(s->workloads[0].int4);
    assert_non_null(strstr(s->workloads[0].model, "/models/encoder_block.onnx"));
    sweep_spec_free(s);
}

/* A module that takes LoRA adapters has them at whatif --module's default rank unless lora_rank
 * says otherwise, so a sweep row and a whatif row of one module describe the same work. */
static void test_module_lora_rank_as_whatif(void **state)
{
    (void)state;
    write_variant("  - module: projection\n", "  - module: IMG_enc\n  - module: IMG_enc\n    name: r0\n    lora_rank: 0\n"
                                             "  - module: IMG_enc\n    name: r8\n    lora_rank: 8\n  - module: projection\n");
    sweep_spec *s = load_ok();
    assert_int_equal(s->workloads[0].params.lora_rank, M4_LORA_RANK_DEFAULT);
    assert_int_equal(s->workloads[1].params.lora_rank, 0);
    assert_int_equal(s->workloads[2].params.lora_rank, 8);
    assert_int_equal(s->workloads[3].params.lora_rank, 0); /* the projection takes no adapters */
    sweep_spec_free(s);
    write_variant("  - module: projection\n", "  - module: projection\n    lora_rank: 4\n");
    sweep_spec *bad = NULL;
    rt_error e;
    assert_int_equal(sweep_spec_load(spec_path, PRESETS, &bad, &e), RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "10:16: workloads[0].lora_rank: projection takes no LoRA adapters"));
}

static void test_axis_ranges(void **state)
{
    (void)state;
    /* step: 4, 6, ... 16; points 5 on a log scale from 1 to 16: 1, 2, 4, 8, 16; sizes with units */
    write_variant("{from: 4, to: 16, factor: 2}", "{from: 1, to: 16, points: 5, scale: log}");
    sweep_spec *s = load_ok();
    assert_int_equal(s->axes[1].n_values, 5);
    static const double want[] = {1, 2, 4, 8, 16};
    for (int i = 0; i < 5; i++)
        assert_true(fabs(strtod(s->axes[1].values[i], NULL) - want[i]) < 1e-12);
    sweep_spec_free(s);
    write_variant("npu.matmul.rows: [8, 16]", "npu.sram.size_bytes: {from: 64 KiB, to: 256 KiB, step: 65536}");
    s = load_ok();
    assert_int_equal(s->axes[0].n_values, 4);
    assert_string_equal(s->axes[0].values[0], "65536");
    assert_string_equal(s->axes[0].values[3], "262144");
    sweep_spec_free(s);
    /* an integer key's linear points are rounded and kept once: 1..3 in 5 points is 1, 2, 3 */
    write_variant("[8, 16]", "{from: 1, to: 3, points: 5}");
    s = load_ok();
    assert_int_equal(s->axes[0].n_values, 3);
    sweep_spec_free(s);
    /* a range value outside the key's range is refused like a listed one */
    write_variant("{from: 4, to: 16, factor: 2}", "{from: 0.5, to: 2, points: 3}");
    s = load_ok();
    sweep_spec_free(s);
    write_variant("npu.dram.bandwidth_gb_s: {from: 4, to: 16, factor: 2}", "npu.dram.efficiency: {from: 0.5, to: 2, step: 0.5}");
    rt_error e;
    assert_int_equal(sweep_spec_load(spec_path, PRESETS, &s, &e), RT_ERR_ARG);
    assert_non_null(strstr(e.msg, ":5:40: axes.npu.dram.efficiency.to: 2 is outside 0.01..1"));
}

static sweep_points *points_of(sweep_spec *s)
{
    m4npu_config base;
    rt_error e;
    if (sweep_spec_base(s, &base, &e) != RT_OK)
        fail_msg("%s", e.msg);
    sweep_points *p;
    if (sweep_points_make(s, &base, &p, &e) != RT_OK)
        fail_msg("%s", e.msg);
    return p;
}

static void test_grid_order_and_constraints(void **state)
{
    (void)state;
    write_variant("", "");
    sweep_spec *s = load_ok();
    sweep_points *p = points_of(s);
    /* 2 x 3 = 6 candidates, the last axis fastest; the test preset's 256 KiB holds every tile */
    assert_int_equal(p->n_candidates, 6);
    assert_int_equal(p->n, 6);
    assert_string_equal(p->value[0 * 2 + 0], "8");
    assert_string_equal(p->value[0 * 2 + 1], "4");
    assert_string_equal(p->value[1 * 2 + 1], "8");
    assert_string_equal(p->value[3 * 2 + 0], "16");
    assert_string_equal(p->value[3 * 2 + 1], "4");
    sweep_points_free(p);
    sweep_spec_free(s);
    /* a constraint that 8-row arrays fail: 2 * 6 * 8 * 16 = 1536 bytes <= 2000 < 2 * 6 * 16 * 16 */
    write_variant("npu.sram.size_bytes >= 2 * tile_operand_bytes", "2 * tile_operand_bytes <= 2000");
    s = load_ok();
    p = points_of(s);
    assert_int_equal(p->n_candidates, 6);
    assert_int_equal(p->n, 3);
    for (int i = 0; i < p->n; i++)
        assert_string_equal(p->value[i * 2 + 0], "8");
    /* a point's configuration has its values and a hash that tells configurations apart */
    m4npu_config base, c0, c1;
    rt_error e;
    assert_int_equal(sweep_spec_base(s, &base, &e), RT_OK);
    assert_int_equal(sweep_point_config(s, p, 0, &base, &c0, &e), RT_OK);
    assert_int_equal(sweep_point_config(s, p, 1, &base, &c1, &e), RT_OK);
    assert_int_equal(c0.npu.matmul.rows, 8);
    assert_true(c1.npu.dram.bandwidth_gb_s == 8.0);
    char h0[SWEEP_HASH_HEX], h1[SWEEP_HASH_HEX], h0b[SWEEP_HASH_HEX];
    sweep_config_hash(&c0, h0);
    sweep_config_hash(&c1, h1);
    sweep_config_hash(&c0, h0b);
    assert_string_equal(h0, h0b);
    assert_string_not_equal(h0, h1);
    assert_int_equal(sweep_point_config(s, p, 3, &base, &c0, &e), RT_ERR_ARG);
    sweep_points_free(p);
    sweep_spec_free(s);
}

/* The base spec with a continuous bandwidth axis and the given sampling block. */
static void write_sampled(const char *sampling)
{
    char text[4096], with_sampling[4096];
    const char *at = strstr(base_spec, "constraints:\n");
    snprintf(with_sampling, sizeof with_sampling, "%.*s%s%s", (int)(at - base_spec), base_spec, sampling, at);
    const char *range = "{from: 4, to: 16, factor: 2}";
    char *r = strstr(with_sampling, range);
    assert_non_null(r);
    snprintf(text, sizeof text, "%.*s{from: 4, to: 16}%s", (int)(r - with_sampling), with_sampling, r + strlen(range));
    test_path(spec_path, sizeof spec_path, "spec.yaml");
    test_write_file(spec_path, text, strlen(text));
}

static void test_random_and_latin_hypercube(void **state)
{
    (void)state;
    enum { N = 20 };
    write_sampled("sampling:\n  method: lhs\n  points: 20\n  seed: 5\n");
    sweep_spec *s = load_ok();
    sweep_points *p = points_of(s), *again = points_of(s);
    assert_int_equal(p->n, N);
    /* the same seed, the same points */
    for (int i = 0; i < N * 2; i++)
        assert_string_equal(p->value[i], again->value[i]);
    /* LHS: exactly one point in each of the N strata of the continuous axis [4, 16] */
    int hits[N] = {0};
    int rows8 = 0;
    for (int i = 0; i < N; i++) {
        double v = strtod(p->value[i * 2 + 1], NULL);
        assert_true(v >= 4.0 && v <= 16.0);
        int stratum = (int)((v - 4.0) / 12.0 * N);
        hits[stratum < N ? stratum : N - 1]++;
        rows8 += strcmp(p->value[i * 2 + 0], "8") == 0;
    }
    for (int k = 0; k < N; k++)
        assert_int_equal(hits[k], 1);
    /* and of the list axis' two values, each half of the time */
    assert_int_equal(rows8, N / 2);
    sweep_points_free(p);
    sweep_points_free(again);
    sweep_spec_free(s);
    /* random: deterministic for a seed, different for another */
    write_sampled("sampling:\n  method: random\n  points: 20\n  seed: 5\n");
    s = load_ok();
    sweep_points *r1 = points_of(s), *r1b = points_of(s);
    sweep_spec_free(s);
    write_sampled("sampling:\n  method: random\n  points: 20\n  seed: 6\n");
    s = load_ok();
    sweep_points *r2 = points_of(s);
    int differ = 0;
    for (int i = 0; i < N; i++) {
        assert_string_equal(r1->value[i * 2 + 1], r1b->value[i * 2 + 1]);
        differ += strcmp(r1->value[i * 2 + 1], r2->value[i * 2 + 1]) != 0;
    }
    assert_true(differ > N / 2);
    sweep_points_free(r1);
    sweep_points_free(r1b);
    sweep_points_free(r2);
    sweep_spec_free(s);
}

/* ---- the expression language */

static double side(const char *text, int which, const m4npu_config *cfg)
{
    size_t off;
    char why[256];
    sweep_expr *x = sweep_expr_compile(text, &off, why, sizeof why);
    if (!x)
        fail_msg("%s: %s at %zu", text, why, off);
    sweep_area area;
    sweep_area_defaults(&area);
    double v = sweep_expr_side(x, which, cfg, &area);
    sweep_expr_free(x);
    return v;
}

static bool holds(const char *text, const m4npu_config *cfg)
{
    size_t off;
    char why[256];
    sweep_expr *x = sweep_expr_compile(text, &off, why, sizeof why);
    if (!x)
        fail_msg("%s: %s at %zu", text, why, off);
    sweep_area area;
    sweep_area_defaults(&area);
    bool h = sweep_expr_holds(x, cfg, &area);
    sweep_expr_free(x);
    return h;
}

static void expect_compile_error(const char *text, size_t offset, const char *reason)
{
    size_t off = 999;
    char why[512];
    sweep_expr *x = sweep_expr_compile(text, &off, why, sizeof why);
    if (x)
        fail_msg("'%s' compiled", text);
    if (off != offset || strncmp(why, reason, strlen(reason)) != 0)
        fail_msg("'%s': got offset %zu '%s', want %zu '%s'", text, off, why, offset, reason);
}

static void test_expressions(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg); /* 16 x 16 array, 256 KiB SRAM, 8 x 16 banks, 1000 MHz */
    assert_true(side("2 + 3 * 4 == 0", 0, &cfg) == 14);
    assert_true(side("(2 + 3) * 4 == 0", 0, &cfg) == 20);
    assert_true(side("2 - 3 - 4 == 0", 0, &cfg) == -5);
    assert_true(side("16 / 4 / 2 == 0", 0, &cfg) == 2);
    assert_true(side("-2 * -3 == 0", 0, &cfg) == 6);
    assert_true(side("1 KiB + 2MiB == 0", 0, &cfg) == 1024 + 2 * 1048576);
    assert_true(side("min(3, 4) + max(3, 4) == 0", 0, &cfg) == 7);
    assert_true(side("1.5e3 == 0", 0, &cfg) == 1500);
    assert_true(holds("npu.matmul.rows * npu.matmul.cols == mac_units", &cfg));
    assert_true(holds("mac_units == 256", &cfg));
    assert_true(holds("sram_bytes_per_cycle == 128", &cfg));
    assert_true(holds("tile_operand_bytes == 1536", &cfg));
    assert_true(holds("peak_tops == 0.512", &cfg));
    assert_true(holds("dram_bytes_per_cycle == 16", &cfg));
    assert_true(holds("npu.sram.size_bytes == 256 KiB", &cfg));
    assert_true(holds("area_mm2 > 0", &cfg));
    assert_true(holds("1 < 2", &cfg) && holds("2 <= 2", &cfg) && holds("3 > 2", &cfg) && holds("2 >= 2", &cfg));
    assert_true(holds("2 != 3", &cfg) && !holds("2 == 3", &cfg) && !holds("2 > 3", &cfg));
    /* not a number compares false: such a point is dropped */
    assert_false(holds("0 / 0 == 0 / 0", &cfg));
    assert_false(holds("0 / 0 <= 1", &cfg));
    assert_true(holds("1 / 0 > 1e300", &cfg));
    expect_compile_error("1 +", 3, "expected a number, a name or '(' but the expression ends");
    expect_compile_error("1 < 2 < 3", 6, "one comparison per constraint");
    expect_compile_error("npu.matmul.impl > 1", 0, "'npu.matmul.impl' is not a number");
    expect_compile_error("2 MB > 1", 2, "unexpected text after a number (sizes take KiB, MiB or GiB)");
    expect_compile_error("2 mac_units > 1", 2, "unexpected text after a number");
    expect_compile_error("(1 + 2 > 3", 7, "expected ')' to close the '(' at column 1");
    expect_compile_error("min(1) > 0", 5, "expected ',' between the two arguments of min");
    expect_compile_error("1 ? 2", 2, "expected an operator or a comparison");
    char deep[200];
    memset(deep, '(', 100);
    snprintf(deep + 100, sizeof deep - 100, "1 > 0");
    size_t off;
    char why[256];
    assert_null(sweep_expr_compile(deep, &off, why, sizeof why));
    assert_non_null(strstr(why, "nested too deeply"));
    /* the report's form: named variables */
    const char *names[] = {"x", "latency_s"};
    sweep_expr *x = sweep_expr_compile_vars("latency_s * 2 <= x", names, 2, &off, why, sizeof why);
    assert_non_null(x);
    assert_true(sweep_expr_holds_vars(x, (double[]){3.0, 1.5}));
    assert_false(sweep_expr_holds_vars(x, (double[]){2.9, 1.5}));
    sweep_expr_free(x);
    assert_null(sweep_expr_compile_vars("y > 1", names, 2, &off, why, sizeof why));
    assert_string_equal(why, "unknown name 'y'; expected one of: x, latency_s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_spec_and_examples_load),
        cmocka_unit_test(test_errors_name_file_line_column_and_key),
        cmocka_unit_test(test_model_workloads),
        cmocka_unit_test(test_module_lora_rank_as_whatif),
        cmocka_unit_test(test_axis_ranges),
        cmocka_unit_test(test_grid_order_and_constraints),
        cmocka_unit_test(test_random_and_latin_hypercube),
        cmocka_unit_test(test_expressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
