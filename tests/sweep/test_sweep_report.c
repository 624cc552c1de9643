/* m4npu sweep report: elasticities recovered exactly from rows that follow a known power law
 * (within lines of equal other knobs, and pooled for samples), the Pareto front over latency,
 * energy and area on rows whose front is known, --where and --workload, JSON and CSV, the plots;
 * and on a real sweep, LLaMA-7B decode latency against DRAM bandwidth has an elasticity near -1
 * at low bandwidth (it streams its weights: latency ~ bytes / bandwidth). */
#include "test_util.h"

#include <math.h>
#include <sys/stat.h>

#include <jansson.h>

#include "sweep.h"

#define PRESETS M4NPU_SOURCE_DIR "/configs"
#define EXACT 1e-9

/* Write a spec, run its points through the store with metrics from f(cfg) instead of a
 * simulation, and return the output directory. */
typedef void (*metric_fn)(const m4npu_config *cfg, int point, int workload, sweep_result *r);

static void synthetic_sweep(const char *name, const char *text, metric_fn f, char *dir, size_t dsize)
{
    char spec[600], store[700];
    test_path(dir, dsize, name);
    assert_int_equal(mkdir(dir, 0777), 0);
    snprintf(spec, sizeof spec, "%s/spec.yaml", dir);
    test_write_file(spec, text, strlen(text));
    sweep_spec *s;
    sweep_points *p;
    sweep_store *st;
    m4npu_config base, cfg;
    rt_error e;
    if (sweep_spec_load(spec, PRESETS, &s, &e) != RT_OK || sweep_spec_base(s, &base, &e) != RT_OK ||
        sweep_points_make(s, &base, &p, &e) != RT_OK)
        fail_msg("%s", e.msg);
    snprintf(store, sizeof store, "%s/%s", dir, SWEEP_STORE_FILE);
    assert_int_equal(sweep_store_open(store, s, p, true, &st, &e), RT_OK);
    for (int i = 0; i < p->n; i++) {
        assert_int_equal(sweep_point_config(s, p, i, &base, &cfg, &e), RT_OK);
        sweep_result rows[SWEEP_MAX_WORKLOADS];
        memset(rows, 0, sizeof rows);
        for (int w = 0; w < s->n_workloads; w++) {
            rows[w].ok = true;
            for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
                rows[w].has[m] = true;
            rows[w].metric[SWEEP_M_AREA_MM2] = sweep_derived_value(SWEEP_D_AREA_MM2, &cfg, &s->area);
            f(&cfg, i, w, &rows[w]);
        }
        assert_int_equal(sweep_store_put(st, s, i, &cfg, "0000000000000000", rows, "test", &e), RT_OK);
    }
    sweep_store_close(st);
    sweep_points_free(p);
    sweep_spec_free(s);
}

static sweep_report *load(const char *dir, const char *where, const char *workload)
{
    sweep_report_options o = {.where = where, .workload = workload};
    sweep_report *R;
    rt_error e;
    if (sweep_report_load(dir, &o, &R, &e) != RT_OK)
        fail_msg("%s", e.msg);
    return R;
}

static const sweep_elasticity *find(const sweep_report *R, const char *wl, const char *metric, const char *knob)
{
    const sweep_elasticity *el;
    int n = sweep_report_elasticities(R, &el);
    for (int i = 0; i < n; i++)
        if (strcmp(el[i].workload, wl) == 0 && strcmp(el[i].metric, metric) == 0 && strcmp(el[i].knob, knob) == 0)
            return &el[i];
    fail_msg("no elasticity of %s %s to %s", wl, metric, knob);
    return NULL;
}

/* latency = 2 clock^-0.5 bandwidth^-1 (one workload) or 3 clock^-1 (the other), energy = clock^0.25 */
static void power_law(const m4npu_config *cfg, int point, int workload, sweep_result *r)
{
    (void)point;
    double c = cfg->npu.clock_mhz, b = cfg->npu.dram.bandwidth_gb_s;
    r->metric[SWEEP_M_LATENCY_S] = workload == 0 ? 2.0 * pow(c, -0.5) / b : 3.0 / c;
    r->metric[SWEEP_M_ENERGY_J] = pow(c, 0.25);
    r->metric[SWEEP_M_NPU_S] = 7.0; /* constant: an elasticity of 0 with no R^2 */
}

static const char grid_spec[] = "base: {preset: test}\n"
                                "axes:\n"
                                "  npu.clock_mhz: {from: 250, to: 2000, factor: 2}\n"
                                "  npu.dram.bandwidth_gb_s: [4, 8, 32]\n"
                                "workloads:\n"
                                "  - {module: projection, name: one}\n"
                                "  - {module: projection, name: two}\n"
                                "metrics: [latency_s, energy_j, npu_s]\n";

static void test_elasticities_of_a_power_law(void **state)
{
    (void)state;
    char dir[512];
    synthetic_sweep("power", grid_spec, power_law, dir, sizeof dir);
    sweep_report *R = load(dir, NULL, NULL);
    const sweep_elasticity *el = find(R, "one", "latency_s", "npu.clock_mhz");
    assert_true(fabs(el->elasticity + 0.5) < EXACT && fabs(el->r2 - 1.0) < EXACT);
    assert_int_equal(el->n, 12);
    assert_int_equal(el->lines, 3); /* one line per bandwidth */
    el = find(R, "one", "latency_s", "npu.dram.bandwidth_gb_s");
    assert_true(fabs(el->elasticity + 1.0) < EXACT && fabs(el->r2 - 1.0) < EXACT);
    assert_int_equal(el->lines, 4);
    el = find(R, "two", "latency_s", "npu.clock_mhz");
    assert_true(fabs(el->elasticity + 1.0) < EXACT);
    el = find(R, "two", "latency_s", "npu.dram.bandwidth_gb_s");
    assert_true(fabs(el->elasticity) < EXACT && isnan(el->r2)); /* does not depend on it */
    el = find(R, "one", "energy_j", "npu.clock_mhz");
    assert_true(fabs(el->elasticity - 0.25) < EXACT);
    el = find(R, "one", "npu_s", "npu.clock_mhz");
    assert_true(fabs(el->elasticity) < EXACT && isnan(el->r2));
    sweep_report_free(R);
}

/* Random samples share no line: the fit is pooled over every row (lines = 0), exact where the
 * metric depends on that knob alone. */
static void test_pooled_elasticity_of_samples(void **state)
{
    (void)state;
    char dir[512];
    synthetic_sweep("pooled",
                    "base: {preset: test}\naxes:\n  npu.clock_mhz: {from: 250, to: 2000}\n"
                    "  npu.dram.bandwidth_gb_s: {from: 4, to: 32, scale: log}\n"
                    "sampling: {method: random, points: 30, seed: 3}\n"
                    "workloads:\n  - {module: projection, name: one}\n  - {module: projection, name: two}\n"
                    "metrics: [latency_s, energy_j]\n",
                    power_law, dir, sizeof dir);
    sweep_report *R = load(dir, NULL, NULL);
    const sweep_elasticity *el = find(R, "two", "latency_s", "npu.clock_mhz");
    assert_int_equal(el->lines, 0);
    assert_int_equal(el->n, 30);
    assert_true(fabs(el->elasticity + 1.0) < EXACT && fabs(el->r2 - 1.0) < EXACT);
    el = find(R, "one", "latency_s", "npu.dram.bandwidth_gb_s");
    assert_int_equal(el->lines, 0);
    assert_true(el->r2 < 1.0 - EXACT); /* clock varies too: a marginal fit */
    sweep_report_free(R);
}

static void test_where_and_workload(void **state)
{
    (void)state;
    char dir[512];
    synthetic_sweep("where", grid_spec, power_law, dir, sizeof dir);
    sweep_report *R = load(dir, "npu.dram.bandwidth_gb_s <= 8", "one");
    const sweep_elasticity *el = find(R, "one", "latency_s", "npu.dram.bandwidth_gb_s");
    assert_int_equal(el->n, 8);
    assert_int_equal(el->lines, 4);
    const sweep_elasticity *all;
    int n = sweep_report_elasticities(R, &all);
    for (int i = 0; i < n; i++)
        assert_string_equal(all[i].workload, "one");
    sweep_report_free(R);
    /* a metric in --where */
    R = load(dir, "latency_s * 1000 < 2", NULL);
    assert_true(sweep_report_pareto_count(R, NULL) > 0);
    sweep_report_free(R);
    R = load(dir, "latency_s * 1000 < 1", NULL); /* none is that fast */
    assert_int_equal(sweep_report_pareto_count(R, NULL), 0);
    sweep_report_free(R);
    sweep_report_options o = {.where = "speed > 1"};
    rt_error e;
    assert_int_equal(sweep_report_load(dir, &o, &R, &e), RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "--where \"speed > 1\": column 1: unknown name 'speed'; expected one of: "
                                  "npu.clock_mhz, npu.dram.bandwidth_gb_s, latency_s, energy_j, area_mm2, npu_s"));
    o = (sweep_report_options){.workload = "three"};
    assert_int_equal(sweep_report_load(dir, &o, &R, &e), RT_ERR_ARG);
    assert_string_equal(e.msg, "--workload three: the sweep has no such workload");
}

/* Five configurations by SRAM size (area grows with it) with chosen latency and energy:
 *   point  area  latency energy
 *   0      a0    1       1      front (the smallest area, and no one is better in all three)
 *   1      a1    2       2      dominated by 0
 *   2      a2    0.5     3      front (fastest)
 *   3      a3    1       1      dominated by 0 (same latency and energy, more area)
 *   4      a4    3       0.5    front (least energy) */
static void front_metrics(const m4npu_config *cfg, int point, int workload, sweep_result *r)
{
    (void)cfg;
    (void)workload;
    static const double lat[] = {1, 2, 0.5, 1, 3}, en[] = {1, 2, 3, 1, 0.5};
    r->metric[SWEEP_M_LATENCY_S] = lat[point];
    r->metric[SWEEP_M_ENERGY_J] = en[point];
    r->metric[SWEEP_M_NPU_S] = lat[point];
}

static void test_pareto_front_and_outputs(void **state)
{
    (void)state;
    char dir[512];
    synthetic_sweep("front",
                    "base: {preset: test}\naxes:\n  npu.sram.size_bytes: [64 KiB, 128 KiB, 192 KiB, 256 KiB, 320 KiB]\n"
                    "workloads: [{module: projection}]\nmetrics: [latency_s, energy_j]\n",
                    front_metrics, dir, sizeof dir);
    sweep_report *R = load(dir, NULL, NULL);
    assert_int_equal(sweep_report_pareto_count(R, "projection"), 3);
    sweep_report_free(R);
    char out[65536];
    assert_int_equal(test_run(out, sizeof out, "%s sweep report %s --json 2>/dev/null", M4NPU_BIN, dir), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("report --json: %s", je.text);
    json_t *front = json_object_get(json_object_get(j, "pareto"), "projection");
    assert_int_equal(json_array_size(front), 3);
    assert_int_equal(json_integer_value(json_array_get(front, 0)), 0);
    assert_int_equal(json_integer_value(json_array_get(front, 1)), 2);
    assert_int_equal(json_integer_value(json_array_get(front, 2)), 4);
    json_t *rows = json_object_get(j, "rows");
    assert_int_equal(json_array_size(rows), 5);
    assert_true(json_is_false(json_object_get(json_array_get(rows, 3), "pareto")));
    assert_true(json_real_value(json_object_get(json_object_get(json_array_get(rows, 2), "knobs"),
                                                "npu.sram.size_bytes")) == 192 * 1024);
    json_decref(j);
    /* CSV: a header and one line per row, the front flagged */
    assert_int_equal(test_run(out, sizeof out, "%s sweep report %s --csv 2>/dev/null", M4NPU_BIN, dir), 0);
    assert_true(strncmp(out, "point,workload,status,npu.sram.size_bytes,latency_s,energy_j,area_mm2,pareto,"
                             "config_hash,wall_s,error\n",
                        98) == 0);
    assert_non_null(strstr(out, "\n2,\"projection\",ok,196608,0.5,3,"));
    int lines = 0;
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 6);
    /* the table names the front */
    assert_int_equal(test_run(out, sizeof out, "%s sweep report %s", M4NPU_BIN, dir), 0);
    assert_non_null(strstr(out, "Pareto front of projection over latency_s, energy_j and area_mm2 (all minimised): "
                                "3 of 5 points"));
    /* plots: PNGs, with their data and scripts beside them */
    char plots[600], png[700];
    snprintf(plots, sizeof plots, "%s/plots", dir);
    assert_int_equal(test_run(out, sizeof out, "%s sweep report %s --plot %s", M4NPU_BIN, dir, plots), 0);
    static const char *const files[] = {"pareto-projection.png", "sensitivity-projection.png",
                                        "knob-npu.sram.size_bytes-projection.png", "pareto-projection.gp",
                                        "pareto-projection.dat"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(png, sizeof png, "%s/%s", plots, files[i]);
        size_t len;
        char *data = test_read_file(png, &len);
        assert_true(len > 100);
        if (strstr(files[i], ".png"))
            assert_memory_equal(data, "\x89PNG", 4);
        free(data);
    }
}

/* A real sweep: decode latency against DRAM bandwidth (examples/sweeps/decode-bandwidth.yaml). */
static void test_decode_latency_elasticity_to_dram_bandwidth(void **state)
{
    (void)state;
    char dir[512], out[8192];
    test_path(dir, sizeof dir, "decode");
    int rc = test_run(out, sizeof out, "%s sweep %s/examples/sweeps/decode-bandwidth.yaml --out %s --jobs 2 --quiet",
                      M4NPU_BIN, M4NPU_SOURCE_DIR, dir);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, out);
    sweep_report *R = load(dir, "npu.dram.bandwidth_gb_s <= 25.6", NULL);
    const sweep_elasticity *low = find(R, "backbone-decode", "latency_s", "npu.dram.bandwidth_gb_s");
    print_message("decode latency elasticity to DRAM bandwidth, 3.2 .. 25.6 GB/s: %.4f (R^2 %.5f, %d points)\n",
                  low->elasticity, low->r2, low->n);
    assert_true(low->elasticity >= -1.1 && low->elasticity <= -0.7);
    assert_true(low->r2 > 0.99);
    assert_int_equal(low->n, 4);
    double e_low = low->elasticity;
    sweep_report_free(R);
    /* at high bandwidth the fixed costs weigh more: a smaller elasticity */
    R = load(dir, "npu.dram.bandwidth_gb_s >= 51.2", NULL);
    const sweep_elasticity *high = find(R, "backbone-decode", "latency_s", "npu.dram.bandwidth_gb_s");
    assert_true(high->elasticity > e_low);
    sweep_report_free(R);
    /* and the CLI prints it */
    rc = test_run(out, sizeof out, "%s sweep report %s --where 'npu.dram.bandwidth_gb_s <= 25.6'", M4NPU_BIN, dir);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "backbone-decode  latency_s      npu.dram.bandwidth_gb_s"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elasticities_of_a_power_law),
        cmocka_unit_test(test_pooled_elasticity_of_samples),
        cmocka_unit_test(test_where_and_workload),
        cmocka_unit_test(test_pareto_front_and_outputs),
        cmocka_unit_test(test_decode_latency_elasticity_to_dram_bandwidth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
