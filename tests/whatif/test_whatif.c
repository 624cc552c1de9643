/* The what-if report (the main job): the default run's JSON has every documented key and 50
 * tasks with positive latency and energy and their device memory; decode is never faster than
 * its DRAM floor, on every preset, with INT8 and INT4 weights; LLaMA's whole 2048-token context
 * (prefill, and decode at a KV length of 2047) fits on every phone preset; the modules' parameters
 * and FLOPs agree with the published figures (the TS-models' too); the TS-model column in the
 * table, JSON and CSV; timeline, CSV, plot; determinism; bad arguments; on the 64 MiB test device
 * every task still gets a row, failed ones with their error, and the exit code is 1. */
#include "test_util.h"

#include <jansson.h>
#include <math.h>

#include "whatif.h"
#include "whatif_report.h"

#define PRESET(name) M4NPU_SOURCE_DIR "/configs/" name ".yaml"
static char out[8 << 20];

static json_t *whatif_json(const char *args)
{
    int rc = test_run(out, sizeof out, "%s whatif %s --json --quiet 2>/dev/null", M4NPU_BIN, args);
    if (rc != 0)
        fail_msg("m4npu whatif %s: exit %d\n%.2000s", args, rc, out);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    if (!j)
        fail_msg("m4npu whatif %s: not JSON: %s", args, e.text);
    return j;
}

static void test_default_report_has_every_task_and_key(void **state)
{
    (void)state;
    json_t *j = whatif_json("");
    assert_true(json_is_object(json_object_get(j, "config")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "config"), "name")), "mobile-default");
    json_t *tasks = json_object_get(j, "tasks");
    assert_int_equal(json_array_size(tasks), 50);
    static const char *const keys[] = {"id",          "name",         "path",     "latency_s", "energy_j",
                                       "first_token_s", "per_token_s", "npu_fraction", "segments", "breakdown",
                                       "status",      "error",        "device_memory"};
    static const char *const energy_keys[] = {"macs", "sram", "dram", "static", "control", "cpu", "transfer", "vector"};
    int generating = 0;
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        json_t *t = json_array_get(tasks, i);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!json_object_get(t, keys[k]))
                fail_msg("task %zu has no '%s'", i, keys[k]);
        assert_int_equal(json_integer_value(json_object_get(t, "id")), (json_int_t)i + 1);
        assert_string_equal(json_string_value(json_object_get(t, "status")), "ok");
        assert_true(json_is_null(json_object_get(t, "error")));
        /* device memory: the largest step's, its parts adding up, within the device */
        json_t *dm = json_object_get(t, "device_memory");
        json_int_t peak = json_integer_value(json_object_get(dm, "peak_bytes"));
        assert_int_equal(peak, json_integer_value(json_object_get(dm, "weights_bytes")) +
                                   json_integer_value(json_object_get(dm, "kv_cache_bytes")) +
                                   json_integer_value(json_object_get(dm, "activations_bytes")) +
                                   json_integer_value(json_object_get(dm, "descriptors_bytes")));
        assert_true(peak > 0 && (double)peak < 12.0 * 1024 * 1024 * 1024);
        json_t *steps = json_object_get(t, "steps");
        for (size_t k = 0; k < json_array_size(steps); k++) {
            json_t *st = json_array_get(steps, k), *sm = json_object_get(st, "device_memory");
            assert_true(json_integer_value(json_object_get(sm, "peak_bytes")) <= peak);
            const char *mod = json_string_value(json_object_get(st, "module"));
            if (strncmp(mod, "backbone", 8) == 0) /* the KV cache is resident */
                assert_true(json_integer_value(json_object_get(sm, "kv_cache_bytes")) > 0);
        }
        double lat = json_real_value(json_object_get(t, "latency_s")), en = json_real_value(json_object_get(t, "energy_j"));
        if (!(lat > 0 && en > 0 && isfinite(lat) && isfinite(en)))
            fail_msg("T%zu: latency %g, energy %g", i + 1, lat, en);
        json_t *e = json_object_get(json_object_get(t, "breakdown"), "energy");
        double sum = 0;
        for (size_t k = 0; k < sizeof energy_keys / sizeof energy_keys[0]; k++) {
            json_t *v = json_object_get(e, energy_keys[k]);
            assert_true(json_is_real(v) && json_real_value(v) >= 0);
            sum += json_real_value(v);
        }
        assert_true(fabs(sum - en) <= 1e-9 * en); /* the breakdown adds up */
        json_t *latb = json_object_get(json_object_get(t, "breakdown"), "latency");
        double parts = json_real_value(json_object_get(latb, "npu_s")) + json_real_value(json_object_get(latb, "cpu_s")) +
                       json_real_value(json_object_get(latb, "transfer_s")) +
                       json_real_value(json_object_get(latb, "submit_s"));
        assert_true(fabs(parts - lat) <= 1e-9 * lat);
        double npu = json_real_value(json_object_get(t, "npu_fraction"));
        assert_true(npu >= 0 && npu <= 1);
        if (!json_is_null(json_object_get(t, "per_token_s"))) {
            generating++;
            double per = json_real_value(json_object_get(t, "per_token_s"));
            double floor = json_real_value(json_object_get(t, "dram_floor_per_token_s"));
            if (!(floor > 0 && per >= floor))
                fail_msg("T%zu: %g s per token, below its DRAM floor %g s", i + 1, per, floor);
        }
    }
    assert_true(generating >= 10);
    /* question answering (T2), the paper's Table 5 row: at or above the DRAM floor */
    json_t *qa = json_array_get(tasks, 1);
    assert_string_equal(json_string_value(json_object_get(qa, "name")), "question answering");
    double per = json_real_value(json_object_get(qa, "per_token_s"));
    double floor = json_real_value(json_object_get(qa, "dram_floor_per_token_s"));
    assert_true(floor > 0.125 && floor < 0.135); /* ~6.61 GB / 51.2 GB/s, DESIGN.md: >= 129 ms */
    assert_true(per >= floor);
    json_t *paper = json_object_get(qa, "paper");
    assert_true(fabs(json_real_value(json_object_get(paper, "npu_estimate_per_token_s")) - 0.012) < 1e-9);
    json_decref(j);
}

/* Decode latency per token >= weight bytes / DRAM bandwidth, for INT8 and INT4, on every preset. */
static void test_decode_never_beats_the_dram_floor(void **state)
{
    (void)state;
    static const char *const presets[] = {PRESET("mobile-default"), PRESET("edge-tpu"), PRESET("flagship-2024"),
                                          PRESET("snapdragon-8gen2"), PRESET("snapdragon-8gen3")};
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        m4npu_config cfg;
        m4npu_config_error ce;
        if (m4npu_config_load(presets[p], &cfg, &ce) != M4NPU_CONFIG_OK)
            fail_msg("%s", ce.msg);
        rt_error e;
        whatif *w = whatif_open(&cfg, &e);
        if (!w)
            fail_msg("%s", e.msg);
        for (int fmt = 0; fmt < 2; fmt++) {
            m4_task_options o;
            memset(&o, 0, sizeof o);
            o.backbone_format = fmt ? M4_FMT_INT4 : M4_FMT_DEFAULT;
            whatif_task_result r;
            if (whatif_task(w, m4_task_get(2), &o, &r, &e) != RT_OK)
                fail_msg("%s: %s", presets[p], e.msg);
            assert_true(r.generates && r.floor_bytes > 0);
            double floor = (double)r.floor_bytes / (cfg.npu.dram.bandwidth_gb_s * 1e9);
            if (!(r.per_token_s >= floor))
                fail_msg("%s %s: %.4f s per token, below the DRAM floor %.4f s", cfg.npu.name, fmt ? "int4" : "int8",
                         r.per_token_s, floor);
            /* the floor streams the decode weights: ~6.6 GB INT8, half that INT4 (DESIGN.md) */
            double gb = (double)r.floor_bytes / 1e9;
            assert_true(fmt ? (gb > 3.2 && gb < 3.5) : (gb > 6.5 && gb < 6.8));
        }
        whatif_close(w);
    }
}

/* `m4npu whatif --module NAME` prints parameters and FLOPs that agree within 5% with the
 * published figures (runtime/m4's references: the paper's Table 1 and the model sources). */
static void test_module_figures_agree_with_published(void **state)
{
    (void)state;
    static const char *const modules[] = {"IMG_enc", "TXT_enc", "AUD-B_enc", "IMU_enc", "backbone-prefill", "GEN_dec",
                                          "resnet152", "bert-base", "roberta-base", "mobilenet-v1"};
    int compared = 0;
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        char args[128];
        snprintf(args, sizeof args, "--module %s", modules[i]);
        json_t *j = whatif_json(args);
        assert_true(json_real_value(json_object_get(j, "params")) > 0);
        assert_true(json_real_value(json_object_get(j, "flops")) > 0);
        assert_true(json_real_value(json_object_get(j, "latency_s")) > 0);
        json_t *pub = json_object_get(j, "published");
        assert_true(json_array_size(pub) >= 1);
        for (size_t k = 0; k < json_array_size(pub); k++) {
            json_t *r = json_array_get(pub, k);
            double diff = json_real_value(json_object_get(r, "rel_diff"));
            if (!json_is_true(json_object_get(r, "within_tolerance")) || fabs(diff) > 0.05 + 1e-12)
                if (json_real_value(json_object_get(r, "tolerance")) <= 0.05)
                    fail_msg("%s: %s differs by %.2f%%", modules[i], json_string_value(json_object_get(r, "label")),
                             100 * diff);
            compared++;
        }
        json_decref(j);
    }
    assert_true(compared >= 16);
    /* the text form shows the same comparison */
    assert_int_equal(test_run(out, sizeof out, "%s whatif --module IMG_enc", M4NPU_BIN), 0);
    assert_non_null(strstr(out, "IMG_enc parameters"));
    assert_non_null(strstr(out, "published"));
}

static void test_task_timeline_csv_plot_and_determinism(void **state)
{
    (void)state;
    char tl[256], png[256];
    test_path(tl, sizeof tl, "t49.json");
    test_path(png, sizeof png, "plot.png");
    assert_int_equal(test_run(out, sizeof out, "%s whatif --task T49 --timeline %s --quiet", M4NPU_BIN, tl), 0);
    assert_non_null(strstr(out, "visual question answering"));
    assert_non_null(strstr(out, "first token"));
    json_error_t e;
    json_t *t = json_load_file(tl, 0, &e);
    if (!t)
        fail_msg("timeline is not JSON: %s", e.text);
    json_t *evs = json_object_get(t, "traceEvents");
    assert_true(json_array_size(evs) > 10);
    int steps = 0;
    for (size_t i = 0; i < json_array_size(evs); i++) {
        json_t *ev = json_array_get(evs, i);
        const char *ph = json_string_value(json_object_get(ev, "ph"));
        assert_non_null(ph);
        if (strcmp(ph, "X") == 0) {
            assert_true(json_is_number(json_object_get(ev, "ts")) && json_is_number(json_object_get(ev, "dur")));
            const char *cat = json_string_value(json_object_get(ev, "cat"));
            steps += cat && strcmp(cat, "step") == 0;
        }
    }
    assert_true(steps >= 3);
    json_decref(t);
    /* CSV: a header and one row per task of path 3 */
    assert_int_equal(test_run(out, sizeof out, "%s whatif --path 3 --csv --quiet", M4NPU_BIN), 0);
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    assert_true(lines >= 20);
    assert_non_null(strstr(out, "id,name,dataset,path,latency_s,energy_j"));
    /* the plot is a PNG */
    assert_int_equal(test_run(out, sizeof out, "%s whatif --path 4 --plot %s --quiet", M4NPU_BIN, png), 0);
    FILE *f = fopen(png, "rb");
    assert_non_null(f);
    unsigned char sig[8];
    assert_int_equal(fread(sig, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    /* the same run twice: the same report, byte for byte (host times aside) */
    static char first[sizeof out];
    assert_int_equal(test_run(out, sizeof out, "%s whatif --path 4 --csv --quiet", M4NPU_BIN), 0);
    memcpy(first, out, sizeof out);
    assert_int_equal(test_run(out, sizeof out, "%s whatif --path 4 --csv --quiet", M4NPU_BIN), 0);
    assert_string_equal(first, out);
}

/* The TS-model column (the paper's Table 3 baselines on the same NPU): in the table, the JSON and
 * the CSV, a latency and an energy for every task whose TS-model is built in, "-" / null / empty
 * for the others; one simulation, three forms. */
static char *report_text(void (*print)(FILE *, const whatif_view *, const whatif_task_result *, int),
                         const whatif_view *v, const whatif_task_result *res, int n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    print(f, v, res, n);
    fclose(f);
    return buf;
}

static const char *line_of(const char *text, const char *prefix, char *buf, size_t size)
{
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            snprintf(buf, size, "%.*s", (int)len, p);
            return buf;
        }
        p = nl ? nl + 1 : NULL;
    }
    fail_msg("no line starting '%s'", prefix);
    return NULL;
}

static void test_ts_model_column(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_error ce;
    if (m4npu_config_load(PRESET("mobile-default"), &cfg, &ce) != M4NPU_CONFIG_OK)
        fail_msg("%s", ce.msg);
    rt_error e;
    whatif *w = whatif_open(&cfg, &e);
    if (!w)
        fail_msg("%s", e.msg);
    static whatif_task_result res[M4_TASK_COUNT];
    m4_task_options o;
    memset(&o, 0, sizeof o);
    int with_ts = 0;
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        if (whatif_task(w, m4_task_get(id), &o, &res[id - 1], &e) != RT_OK)
            fail_msg("T%d: %s", id, e.msg);
        const whatif_task_result *t = &res[id - 1];
        assert_ptr_equal(t->ts, m4_task_ts_model(t->task));
        assert_true((t->ts_run != NULL) == (t->ts->module != M4_MODULE_NONE));
        if (t->ts_run) {
            with_ts++;
            assert_int_equal(t->ts_run->id, t->ts->module);
            assert_true(t->ts_run->r->total_s > 0 && energy_total(&t->ts_run->r->energy) > 0);
        }
    }
    assert_int_equal(with_ts, 9);
    /* ResNet-152 (T23) on this preset: faster and cheaper than M4's IMG_enc for the same task */
    assert_true(res[22].ts_run->r->total_s < res[22].latency_s);
    assert_true(energy_total(&res[22].ts_run->r->energy) < energy_total(&res[22].energy));

    whatif_view v = {.cfg = &cfg, .source = {PRESET("mobile-default"), NULL, 0}, .selected = M4_TASK_COUNT};
    char *table = report_text(whatif_print_table, &v, res, M4_TASK_COUNT);
    char *csv = report_text(whatif_print_csv, &v, res, M4_TASK_COUNT);
    json_t *j = whatif_tasks_json(&v, res, M4_TASK_COUNT, NULL);
    assert_non_null(strstr(table, "TS-model"));
    assert_non_null(strstr(table, "TS latency"));
    assert_non_null(strstr(csv, ",ts_model,ts_module,ts_latency_s,ts_energy_j\n"));
    char line[1024], prefix[16], cell[64];
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const whatif_task_result *t = &res[id - 1];
        /* table: the module's name, its latency and its energy at the end of the task's row */
        snprintf(prefix, sizeof prefix, "T%-3d ", id);
        line_of(table, prefix, line, sizeof line);
        if (t->ts_run) {
            snprintf(cell, sizeof cell, "  %-19s", m4_module_get(t->ts_run->id)->name);
            assert_non_null(strstr(line, cell));
            snprintf(cell, sizeof cell, "%.4fJ", energy_total(&t->ts_run->r->energy));
            assert_non_null(strstr(line, cell));
        } else {
            /* the same cells as the table prints them, each "-" */
            snprintf(cell, sizeof cell, "  %-19s %10s %9s", "-", "-", "-");
            size_t len = strlen(line), k = strlen(cell);
            assert_true(len > k);
            assert_string_equal(line + len - k, cell);
        }
        /* CSV: the paper's name, then module, latency, energy (empty without one) */
        snprintf(prefix, sizeof prefix, "%d,\"", id);
        line_of(csv, prefix, line, sizeof line);
        snprintf(cell, sizeof cell, ",\"%s\",", t->ts->paper);
        const char *at = strstr(line, cell);
        assert_non_null(at);
        at += strlen(cell);
        if (t->ts_run) {
            char module[32];
            double lat, en;
            assert_int_equal(sscanf(at, "%31[^,],%lf,%lf", module, &lat, &en), 3);
            assert_string_equal(module, m4_module_get(t->ts_run->id)->name);
            assert_true(fabs(lat - t->ts_run->r->total_s) <= 1e-8 * lat);
            assert_true(fabs(en - energy_total(&t->ts_run->r->energy)) <= 1e-8 * en);
        } else {
            assert_string_equal(at, ",,");
        }
        /* JSON: ts_model with the paper's name; latency and energy, or null */
        json_t *ts = json_object_get(json_array_get(json_object_get(j, "tasks"), (size_t)id - 1), "ts_model");
        assert_true(json_is_object(ts));
        assert_string_equal(json_string_value(json_object_get(ts, "paper")), t->ts->paper);
        if (t->ts_run) {
            assert_string_equal(json_string_value(json_object_get(ts, "module")), m4_module_get(t->ts_run->id)->name);
            assert_true(json_real_value(json_object_get(ts, "latency_s")) == t->ts_run->r->total_s);
            assert_true(json_real_value(json_object_get(ts, "energy_j")) == energy_total(&t->ts_run->r->energy));
        } else {
            assert_true(json_is_null(json_object_get(ts, "module")) && json_is_null(json_object_get(ts, "latency_s")) &&
                        json_is_null(json_object_get(ts, "energy_j")));
        }
    }
    json_t *sum = json_object_get(j, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "ts_model_tasks")), 9);
    assert_true(json_real_value(json_object_get(sum, "ts_mean_latency_s")) > 0);
    assert_non_null(strstr(table, "on the 9 tasks whose TS-model (paper Table 3) is built in"));
    json_decref(j);
    free(table);
    free(csv);
    whatif_close(w);
}

/* coral-edgetpu: the Edge TPU's "DRAM" is its PCIe Gen2 x1 link to the host, so a model streams
 * at least its weight bytes over 0.5 GB/s per inference (parameter caching across inferences is
 * not modelled: configs/README.md); image classification (T23) runs, with ResNet-152 beside it. */
static void test_coral_streams_weights_over_pcie(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_error ce;
    if (m4npu_config_load(PRESET("coral-edgetpu"), &cfg, &ce) != M4NPU_CONFIG_OK)
        fail_msg("%s", ce.msg);
    rt_error e;
    whatif *w = whatif_open(&cfg, &e);
    if (!w)
        fail_msg("%s", e.msg);
    /* greedy: the cost-aware default rightly keeps resnet152 on the host CPU rather than stream its
     * weights over the link; this checks the NPU's time when it does run there */
    whatif_set_partition(w, true, PART_LATENCY);
    m4_task_options o;
    memset(&o, 0, sizeof o);
    whatif_task_result r;
    if (whatif_task(w, m4_task_get(23), &o, &r, &e) != RT_OK)
        fail_msg("T23 on coral-edgetpu: %s", e.msg);
    assert_non_null(r.ts_run);
    assert_int_equal(r.ts_run->id, M4_TS_RESNET152);
    double link_s = (double)r.ts_run->stats.weight_bytes / (cfg.npu.dram.bandwidth_gb_s * 1e9);
    assert_true(link_s > 0.1); /* ~60 MB over 0.5 GB/s */
    if (!(r.ts_run->r->npu_s >= link_s))
        fail_msg("resnet152 on coral-edgetpu: NPU %.4f s, below its weights over the link %.4f s", r.ts_run->r->npu_s,
                 link_s);
    whatif_close(w);
}

/* Issue 17: LLaMA's whole context on every phone preset: a 2048-token prefill and a decode step at
 * a KV length of 2047, their device memory within the device's DRAM. Issue 15: coral-edgetpu too,
 * whose "DRAM" is the 8 GiB of host memory behind its PCIe link (its Dev Board's 1 GiB held no
 * backbone, and 24 tasks of its whatif failed). */
static void test_full_context_fits_on_every_preset(void **state)
{
    (void)state;
    static const char *const presets[] = {PRESET("mobile-default"), PRESET("edge-tpu"), PRESET("flagship-2024"),
                                          PRESET("snapdragon-8gen2"), PRESET("snapdragon-8gen3"),
                                          PRESET("coral-edgetpu")};
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        m4npu_config cfg;
        m4npu_config_error ce;
        if (m4npu_config_load(presets[p], &cfg, &ce) != M4NPU_CONFIG_OK)
            fail_msg("%s", ce.msg);
        rt_error e;
        whatif *w = whatif_open(&cfg, &e);
        if (!w)
            fail_msg("%s", e.msg);
        whatif_set_partition(w, true, PART_LATENCY); /* every layer on the device: its KV cache there */
        m4_module_params mp;
        memset(&mp, 0, sizeof mp);
        mp.tokens = M4_LLAMA_CONTEXT;
        const whatif_module_run *pre, *dec;
        if (whatif_module(w, M4_BACKBONE_PREFILL, &mp, &pre, &e) != RT_OK)
            fail_msg("%s: prefill of %d tokens: %s", cfg.npu.name, M4_LLAMA_CONTEXT, e.msg);
        memset(&mp, 0, sizeof mp);
        mp.kv_len = M4_LLAMA_CONTEXT - 1;
        if (whatif_module(w, M4_BACKBONE_DECODE, &mp, &dec, &e) != RT_OK)
            fail_msg("%s: decode at KV length %d: %s", cfg.npu.name, M4_LLAMA_CONTEXT - 1, e.msg);
        /* the prefill's KV cache: 32 layers x key and value x 2048 x 4096 int8 */
        assert_int_equal(pre->r->mem.kv_bytes, (uint64_t)32 * 2 * M4_LLAMA_CONTEXT * 4096);
        /* decode: the cache read (2047) and the one written (2048) */
        assert_int_equal(dec->r->mem.kv_bytes, (uint64_t)32 * 2 * (2 * M4_LLAMA_CONTEXT - 1) * 4096);
        assert_true(pre->r->mem.peak_bytes < cfg.npu.dram.size_bytes);
        assert_true(dec->r->mem.peak_bytes < cfg.npu.dram.size_bytes);
        assert_true(pre->r->total_s > 0 && dec->r->total_s > 0);
        whatif_close(w);
    }
}

/* Issue 15, done-when 3: the whole whatif on coral-edgetpu (the preset with the least memory
 * behind it) completes every task, exit 0, and every task whose TS-model is built in has its TS
 * column (the other new presets, with 12 GiB, hold the full context: the test above). */
static void test_coral_runs_every_task(void **state)
{
    (void)state;
    int rc = test_run(out, sizeof out, "%s whatif --config %s --json --quiet 2>/dev/null", M4NPU_BIN,
                      PRESET("coral-edgetpu"));
    assert_int_equal(rc, 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("not JSON: %s", je.text);
    json_t *tasks = json_object_get(j, "tasks");
    assert_int_equal(json_array_size(tasks), M4_TASK_COUNT);
    int with_ts = 0;
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        json_t *t = json_array_get(tasks, i);
        if (strcmp(json_string_value(json_object_get(t, "status")), "ok") != 0)
            fail_msg("T%zu: %s", i + 1, json_string_value(json_object_get(t, "error")));
        json_t *ts = json_object_get(t, "ts_model");
        if (json_is_object(ts) && json_is_string(json_object_get(ts, "module"))) {
            with_ts++;
            assert_true(json_real_value(json_object_get(ts, "latency_s")) > 0);
            assert_true(json_real_value(json_object_get(ts, "energy_j")) > 0);
        }
    }
    assert_true(with_ts > 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "summary"), "failed")), 0);
    json_decref(j);
}

/* configs/test.yaml has 64 MiB of DRAM: most modules do not fit. Every task still gets its row,
 * a failed one with the error (what the plan needs and how much is missing), the completed ones
 * with their numbers, and the exit code is 1. */
static void test_failed_tasks_are_rows_and_exit_1(void **state)
{
    (void)state;
    int rc = test_run(out, sizeof out, "%s whatif --config %s --json --quiet 2>/dev/null", M4NPU_BIN, PRESET("test"));
    assert_int_equal(rc, 1);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("not JSON: %s", je.text);
    json_t *tasks = json_object_get(j, "tasks");
    assert_int_equal(json_array_size(tasks), 50);
    int failed = 0, ok = 0;
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        json_t *t = json_array_get(tasks, i);
        const char *status = json_string_value(json_object_get(t, "status"));
        assert_non_null(status);
        if (strcmp(status, "failed") == 0) {
            failed++;
            const char *err = json_string_value(json_object_get(t, "error"));
            assert_non_null(err);
            assert_non_null(strstr(err, "device memory"));
            assert_non_null(strstr(err, "are missing"));
            assert_true(json_is_null(json_object_get(t, "latency_s")));
        } else {
            assert_string_equal(status, "ok");
            ok++;
            assert_true(json_real_value(json_object_get(t, "latency_s")) > 0);
            assert_true(json_integer_value(json_object_get(json_object_get(t, "device_memory"), "peak_bytes")) <
                        64 * 1024 * 1024);
        }
    }
    assert_true(failed > 0 && ok > 0); /* the backbone fails; the IMU encoder runs */
    /* the cost-aware default fails a module whose greedy plan does not fit as greedy does, before
     * simulating anything (it used to simulate the VAE's segments for seconds, then run it on the
     * CPU) */
    rc = test_run(out, sizeof out, "%s whatif --config %s --module IMG_dec-vae --quiet 2>&1", M4NPU_BIN, PRESET("test"));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "IMG_dec-vae: device memory: the plan of"));
    json_t *sum = json_object_get(j, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "failed")), failed);
    assert_int_equal(json_integer_value(json_object_get(sum, "completed")), ok);
    json_decref(j);
    /* the table and CSV: a row for every task of path 3, failed ones with their error */
    rc = test_run(out, sizeof out, "%s whatif --config %s --path 3 --quiet 2>/dev/null", M4NPU_BIN, PRESET("test"));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "T14  object detection (COCO)               3 failed: T14 modality encoder: IMG_enc: "
                                "device memory: the plan of"));
    assert_non_null(strstr(out, "T38  human activity recognition"));
    assert_non_null(strstr(out, " tasks failed (their rows say why)"));
    rc = test_run(out, sizeof out, "%s whatif --config %s --path 3 --csv --quiet 2>/dev/null", M4NPU_BIN, PRESET("test"));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, ",status,error,prompt_tokens,lora_rank,backbone_format,config,config_hash,overrides,"
                                "ts_model,"));
    assert_non_null(strstr(out, "\n14,\"object detection\",\"COCO\",3,,,,,,,,,,,,,,,,,,,,,,,,,,,,,failed,\"T14 modality"));
    assert_non_null(strstr(out, ",ok,,"));
}

static void test_options_and_errors(void **state)
{
    (void)state;
    /* INT4 halves the floor; more generated tokens cost more */
    json_t *a = whatif_json("--task 2");
    json_t *b = whatif_json("--task 2 --int4 --gen-tokens 20");
    json_t *ta = json_array_get(json_object_get(a, "tasks"), 0), *tb = json_array_get(json_object_get(b, "tasks"), 0);
    assert_true(json_real_value(json_object_get(tb, "dram_floor_per_token_s")) <
                0.6 * json_real_value(json_object_get(ta, "dram_floor_per_token_s")));
    assert_int_equal(json_integer_value(json_object_get(tb, "gen_tokens")), 20);
    json_decref(a);
    json_decref(b);
    assert_int_equal(test_run(out, sizeof out, "%s whatif --task 51", M4NPU_BIN), 2);
    assert_int_equal(test_run(out, sizeof out, "%s whatif --module NoSuchModule", M4NPU_BIN), 2);
    assert_non_null(strstr(out, "no such module"));
    assert_int_equal(test_run(out, sizeof out, "%s whatif --json --csv", M4NPU_BIN), 2);
    assert_int_equal(test_run(out, sizeof out, "%s whatif --timeline /tmp/x.json", M4NPU_BIN), 2);
    assert_int_equal(test_run(out, sizeof out, "%s whatif --config /nonexistent.yaml", M4NPU_BIN), 3);
    assert_int_equal(test_run(out, sizeof out, "%s whatif --task 1 --set npu.matmul.rows=0", M4NPU_BIN), 1);
    assert_int_equal(test_run(out, sizeof out, "%s whatif --help", M4NPU_BIN), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_report_has_every_task_and_key),
        cmocka_unit_test(test_decode_never_beats_the_dram_floor),
        cmocka_unit_test(test_module_figures_agree_with_published),
        cmocka_unit_test(test_task_timeline_csv_plot_and_determinism),
        cmocka_unit_test(test_ts_model_column),
        cmocka_unit_test(test_coral_streams_weights_over_pcie),
        cmocka_unit_test(test_coral_runs_every_task),
        cmocka_unit_test(test_options_and_errors),
        cmocka_unit_test(test_full_context_fits_on_every_preset),
        cmocka_unit_test(test_failed_tasks_are_rows_and_exit_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
