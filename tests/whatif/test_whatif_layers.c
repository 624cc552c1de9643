/* What the what-if report says after a run: per-layer rows of a module and of a task that add up to
 * their totals (cycles, seconds, energy), in-process and through `m4npu whatif --module IMG_enc
 * --layers --csv`; the roofline's data (decode's big matmuls sit on the bandwidth roof) and its
 * PNGs; a task's timeline spans its whole latency with named processes; the options that apply to
 * a selection and the errors for those that do not; a task that generates one token has a first
 * token; --module uses the LoRA rank a task would; the header names the overrides; a subset's mean
 * is not compared with the paper's 50-task mean; the CSV names the configuration; a one-task plot
 * keeps its bars narrow. */
#include "test_util.h"

#include <jansson.h>
#include <math.h>

#include "whatif.h"
#include "whatif_report.h"

#define PRESET(name) M4NPU_SOURCE_DIR "/configs/" name ".yaml"
/* Rows' sums against totals: a sum of hundreds of doubles against one computed otherwise. */
#define REL_TOL 1e-9
/* Decode's big matmuls stream their weights once: measured 96.4..98.6% of the sustained DRAM
 * roof on mobile-default (docs/layers.md); 90% leaves room for small changes of the kernels. */
#define ROOF_FRACTION_MIN 0.90
#define BIG_MATMUL_MACS (4096.0 * 4096.0) /* a LLaMA-7B projection for one token */

static char out[16 << 20];
static whatif *W;
static m4npu_config CFG;

static int setup(void **state)
{
    (void)state;
    m4npu_config_error ce;
    if (m4npu_config_load(PRESET("mobile-default"), &CFG, &ce) != M4NPU_CONFIG_OK)
        fail_msg("%s", ce.msg);
    rt_error e;
    if (!(W = whatif_open(&CFG, &e)))
        fail_msg("%s", e.msg);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    whatif_close(W);
    return 0;
}

static void near(double got, double want, const char *what)
{
    if (!(fabs(got - want) <= REL_TOL * fabs(want)))
        fail_msg("%s: the rows add up to %.12g, the total is %.12g", what, got, want);
}

static const whatif_module_run *module(m4_module_id id, const whatif_options *o)
{
    m4_module_params p;
    const whatif_module_run *m;
    rt_error e;
    if (whatif_module_params(id, o, &p, &e) != RT_OK || whatif_module(W, id, &p, &m, &e) != RT_OK)
        fail_msg("%s: %s", m4_module_get(id)->name, e.msg);
    return m;
}

/* Every row's seconds, NPU cycles and energy (and each part of it) add up to the module's. */
static void assert_rows_add_up(const whatif_module_run *m)
{
    const run_layer *rows;
    int n;
    rt_error e;
    if (whatif_module_layers(W, m, &rows, &n, &e) != RT_OK)
        fail_msg("%s", e.msg);
    assert_true(n > 0);
    run_layer_totals t = {0};
    run_layers_sum(rows, n, 1.0, &t);
    uint64_t cycles = 0, row_cycles = 0;
    for (int s = 0; s < m->r->plan->n_segments; s++)
        cycles += m->r->segs[s].stats.cycles;
    for (int i = 0; i < n; i++)
        row_cycles += rows[i].cycles;
    assert_int_equal(row_cycles, cycles); /* integers: exactly */
    near(t.seconds, m->r->total_s, "seconds");
    near(energy_total(&t.energy), energy_total(&m->r->energy), "energy");
    const energy_breakdown *a = &t.energy, *b = &m->r->energy;
    near(a->macs_j, b->macs_j, "MAC energy");
    near(a->dram_j, b->dram_j, "DRAM energy");
    near(a->sram_j, b->sram_j, "SRAM energy");
    near(a->static_j, b->static_j, "static energy");
    near(a->cpu_j, b->cpu_j, "CPU energy");
    near(a->transfer_j, b->transfer_j, "transfer energy");
    /* every op descriptor of every job is a row, and every CPU node that is not a constant */
    int ops = 0, cpu = 0;
    for (int i = 0; i < n; i++) {
        ops += rows[i].kind == RUN_LAYER_OP;
        cpu += rows[i].kind == RUN_LAYER_CPU;
        assert_true(rows[i].seconds >= 0.0 && rows[i].bound < RUN_BOUND_COUNT);
    }
    uint32_t descriptors = 0;
    for (int s = 0; s < m->r->plan->n_segments; s++)
        descriptors += m->r->segs[s].n_ops;
    assert_int_equal(ops, descriptors);
    assert_int_equal(cpu, m->r->plan->n_cpu - m->r->plan->n_constant);
}

static void test_module_layers_add_up(void **state)
{
    (void)state;
    whatif_options o = {0};
    assert_rows_add_up(module(M4_IMG_ENC, &o));
    assert_rows_add_up(module(M4_GEN_DEC, &o));
    o.kv_len = 100;
    assert_rows_add_up(module(M4_BACKBONE_DECODE, &o));
}

/* The fields of a CSV line (commas inside double quotes are part of a field; the quotes stay). */
static int split_csv(const char *line, char field[64][512])
{
    int nf = 0, quoted = 0;
    size_t at = 0;
    for (const char *p = line; nf < 64; p++) {
        if (*p == '"')
            quoted = !quoted;
        if ((*p == ',' && !quoted) || !*p) {
            field[nf++][at] = '\0';
            at = 0;
            if (!*p)
                break;
        } else if (at < 511) {
            field[nf][at++] = *p;
        }
    }
    return nf;
}

/* `m4npu whatif --module IMG_enc --layers --csv`: the rows' cycles and energy add up to the
 * module's (`--json`). */
static void test_module_layers_csv_adds_up(void **state)
{
    (void)state;
    assert_int_equal(test_run(out, sizeof out, "%s whatif --module IMG_enc --json", M4NPU_BIN), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    double latency = json_real_value(json_object_get(j, "latency_s"));
    double energy = json_real_value(json_object_get(j, "energy_j"));
    json_int_t cycles = json_integer_value(json_object_get(j, "npu_cycles"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "configuration"), "name")),
                        "mobile-default");
    json_decref(j);
    assert_int_equal(test_run(out, sizeof out, "%s whatif --module IMG_enc --layers --csv", M4NPU_BIN), 0);
    /* columns by name from the header */
    static char field[64][512];
    char *line = strtok(out, "\n");
    assert_non_null(line);
    int nf = split_csv(line, field), col_seconds = -1, col_cycles = -1, col_energy = -1, col_config = -1;
    for (int k = 0; k < nf; k++) {
        col_seconds = strcmp(field[k], "seconds") == 0 ? k : col_seconds;
        col_cycles = strcmp(field[k], "cycles") == 0 ? k : col_cycles;
        col_energy = strcmp(field[k], "energy_j") == 0 ? k : col_energy;
        col_config = strcmp(field[k], "config") == 0 ? k : col_config;
    }
    assert_true(col_seconds > 0 && col_cycles > 0 && col_energy > 0 && col_config > 0);
    double s = 0, e = 0;
    long long c = 0;
    int rows = 0;
    while ((line = strtok(NULL, "\n"))) {
        assert_true(split_csv(line, field) > col_config);
        s += strtod(field[col_seconds], NULL);
        c += strtoll(field[col_cycles], NULL, 10);
        e += strtod(field[col_energy], NULL);
        assert_string_equal(field[col_config], "\"mobile-default\"");
        rows++;
    }
    assert_true(rows > 100);
    assert_int_equal(c, cycles);
    /* the CSV prints 9 significant digits per row */
    assert_true(fabs(s - latency) <= 1e-6 * latency);
    assert_true(fabs(e - energy) <= 1e-6 * energy);
}

/* A task's rows, each counted as many times as its step runs, add up to the task's latency. */
static void test_task_layers_add_up(void **state)
{
    (void)state;
    m4_task_options o = {0};
    whatif_task_result t;
    rt_error e;
    if (whatif_task(W, m4_task_get(2), &o, &t, &e) != RT_OK)
        fail_msg("%s", e.msg);
    run_layer_totals sum = {0};
    for (int i = 0; i < t.n_steps; i++) {
        const run_layer *rows;
        int n;
        assert_int_equal(whatif_module_layers(W, t.steps[i].run, &rows, &n, &e), RT_OK);
        run_layers_sum(rows, n, t.steps[i].step.repeat, &sum);
    }
    near(sum.seconds, t.latency_s, "T2 seconds");
    near(energy_total(&sum.energy), energy_total(&t.energy), "T2 energy");
    /* the JSON form says the same */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    whatif_view v = {.cfg = &CFG, .source = {PRESET("mobile-default"), NULL, 0}, .selected = 1};
    assert_int_equal(whatif_print_task_layers(f, WHATIF_FORM_JSON, &v, W, &t, &e), RT_OK);
    fclose(f);
    json_t *j = json_loads(buf, 0, NULL);
    free(buf);
    assert_non_null(j);
    near(json_real_value(json_object_get(json_object_get(j, "layer_sums"), "seconds")), t.latency_s, "JSON");
    assert_true(json_array_size(json_object_get(j, "layers")) > 100);
    json_decref(j);
}

/* Decode's big matmuls sit on the bandwidth roof (the data, not the picture), IMG_enc's are far
 * right of the ridge; both PNGs are written. */
static void test_roofline(void **state)
{
    (void)state;
    whatif_options o = {0};
    const whatif_module_run *runs[2] = {module(M4_BACKBONE_DECODE, &o), module(M4_IMG_ENC, &o)};
    whatif_view v = {.cfg = &CFG};
    rt_error e;
    json_t *roof = whatif_roofline_json(&v, W, runs, 2, &e);
    assert_non_null(roof);
    double bw = json_real_value(json_object_get(roof, "bandwidth_gb_s"));
    assert_true(fabs(bw - CFG.npu.dram.bandwidth_gb_s * CFG.npu.dram.efficiency) < 1e-9);
    json_t *decode = json_object_get(json_array_get(json_object_get(roof, "modules"), 0), "points");
    int big = 0;
    double ridge = json_real_value(json_object_get(roof, "ridge_ops_per_byte"));
    for (size_t i = 0; i < json_array_size(decode); i++) {
        json_t *p = json_array_get(decode, i);
        if (strcmp(json_string_value(json_object_get(p, "kernel")), "matmul") != 0 ||
            json_real_value(json_object_get(p, "macs")) < BIG_MATMUL_MACS)
            continue;
        big++;
        double fr = json_real_value(json_object_get(p, "fraction_of_roof"));
        double ai = json_real_value(json_object_get(p, "intensity"));
        if (fr < ROOF_FRACTION_MIN || fr > 1.0 + 1e-9 || ai >= ridge)
            fail_msg("decode %s: %.1f%% of its roof at %.2f ops/byte (ridge %.1f)",
                     json_string_value(json_object_get(p, "name")), 100 * fr, ai, ridge);
        assert_string_equal(json_string_value(json_object_get(p, "bound")), "memory");
    }
    assert_int_equal(big, 32 * 7); /* q, k, v, o, gate, up, down in every layer */
    json_decref(roof);
    char png[256];
    for (int k = 0; k < 2; k++) {
        test_path(png, sizeof png, k ? "img_enc_roof.png" : "decode_roof.png");
        assert_int_equal(test_run(out, sizeof out, "%s whatif --module %s --roofline %s", M4NPU_BIN,
                                  k ? "IMG_enc" : "backbone-decode", png), 0);
        size_t n;
        char *bytes = test_read_file(png, &n);
        assert_true(n > 1000 && memcmp(bytes, "\x89PNG\r\n\x1a\n", 8) == 0);
        free(bytes);
    }
}

/* The whatif timeline of T2 covers every run of every step: it spans the task's latency, and has
 * a step event per run, on named processes. */
static void test_task_timeline_spans_the_latency(void **state)
{
    (void)state;
    m4_task_options o = {0};
    whatif_task_result t;
    rt_error e;
    if (whatif_task(W, m4_task_get(2), &o, &t, &e) != RT_OK)
        fail_msg("%s", e.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    whatif_view v = {.cfg = &CFG};
    assert_int_equal(whatif_write_task_timeline(&v, &t, f, &e), RT_OK);
    fclose(f);
    json_t *j = json_loads(buf, 0, NULL);
    free(buf);
    assert_non_null(j);
    json_t *evs = json_object_get(j, "traceEvents");
    double end = 0;
    int runs = 0, named[3] = {0};
    for (size_t i = 0; i < json_array_size(evs); i++) {
        json_t *ev = json_array_get(evs, i);
        const char *ph = json_string_value(json_object_get(ev, "ph"));
        json_int_t pid = json_integer_value(json_object_get(ev, "pid"));
        if (strcmp(ph, "M") == 0) {
            if (strcmp(json_string_value(json_object_get(ev, "name")), "process_name") == 0 && pid >= 0 && pid < 3)
                named[pid]++;
            continue;
        }
        double e_end = json_number_value(json_object_get(ev, "ts")) + json_number_value(json_object_get(ev, "dur"));
        end = e_end > end ? e_end : end;
        const char *cat = json_string_value(json_object_get(ev, "cat"));
        runs += strcmp(cat, "step") == 0;
    }
    int want_runs = 0;
    for (int i = 0; i < t.n_steps; i++)
        want_runs += t.steps[i].step.repeat;
    assert_int_equal(runs, want_runs);
    assert_true(want_runs > t.n_steps); /* T2 generates tokens: its per-token steps run several times */
    assert_true(fabs(end - t.latency_s * 1e6) <= 1e-6 * t.latency_s * 1e6);
    for (int p = 0; p < 3; p++)
        assert_int_equal(named[p], 1);
    json_decref(j);
}

/* T5..T9 generate one token (an emoji, a label): their first token is their latency. So does
 * T2 with --gen-tokens 1. */
static void test_one_generated_token(void **state)
{
    (void)state;
    whatif_task_result t;
    rt_error e;
    m4_task_options o = {0};
    for (int id = 5; id <= 9; id++) {
        if (whatif_task(W, m4_task_get(id), &o, &t, &e) != RT_OK)
            fail_msg("T%d: %s", id, e.msg);
        assert_int_equal(t.gen_tokens, 1);
        assert_true(t.generates);
        assert_true(t.first_token_s > 0 && t.first_token_s == t.latency_s);
        whatif_view v = {.cfg = &CFG, .selected = 1};
        json_t *j = whatif_tasks_json(&v, &t, 1, NULL);
        json_t *tj = json_array_get(json_object_get(j, "tasks"), 0);
        assert_int_equal(json_integer_value(json_object_get(tj, "gen_tokens")), 1);
        assert_true(json_real_value(json_object_get(tj, "first_token_s")) == t.latency_s);
        assert_true(json_is_null(json_object_get(tj, "per_token_s")));
        json_decref(j);
    }
    o.gen_tokens = 1;
    assert_int_equal(whatif_task(W, m4_task_get(2), &o, &t, &e), RT_OK);
    assert_int_equal(t.gen_tokens, 1);
    assert_true(t.first_token_s == t.latency_s && t.per_token_s == 0.0);
    for (int i = 0; i < t.n_steps; i++)
        assert_int_not_equal(t.steps[i].step.module, M4_BACKBONE_DECODE);
}

/* --module IMG_enc runs with the LoRA rank the help states (4, as T22 adapts its encoder): the same
 * module run as T22's only step; --lora-rank 0 removes the adapters. */
static void test_module_lora_default_is_a_tasks(void **state)
{
    (void)state;
    whatif_options o = {0};
    const whatif_module_run *m = module(M4_IMG_ENC, &o);
    assert_int_equal(m->params.lora_rank, M4_LORA_RANK_DEFAULT);
    m4_task_options to = {0};
    whatif_task_result t;
    rt_error e;
    assert_int_equal(whatif_task(W, m4_task_get(22), &to, &t, &e), RT_OK);
    assert_int_equal(t.n_steps, 1);
    assert_ptr_equal(t.steps[0].run, m);
    assert_true(t.latency_s == m->r->total_s);
    o.lora_rank = M4_LORA_NONE;
    const whatif_module_run *none = module(M4_IMG_ENC, &o);
    assert_int_equal(none->params.lora_rank, 0);
    assert_true(none->r->total_s < m->r->total_s);
    /* a module that takes no adapters runs without them by default */
    o.lora_rank = 0;
    assert_int_equal(module(M4_GEN_DEC, &o)->params.lora_rank, 0);
}

static void expect_arg_error(rt_status st, const rt_error *e, const char *says)
{
    if (st != RT_ERR_ARG)
        fail_msg("expected an error saying '%s', got status %d", says, (int)st);
    if (!strstr(e->msg, says))
        fail_msg("the message should say '%s': %s", says, e->msg);
}

/* Options that do not apply to the selection are errors naming why; on a selection of many tasks
 * an option applies to those it can, and is an error only when it applies to none. */
static void test_options_apply_or_are_errors(void **state)
{
    (void)state;
    m4_module_params p;
    m4_task_options to;
    int applied[WHATIF_OPT_COUNT];
    rt_error e;
    whatif_options o = {.gen_tokens = 5};
    expect_arg_error(whatif_module_params(M4_IMG_ENC, &o, &p, &e), &e, "--gen-tokens applies to tasks");
    o = (whatif_options){.kv_len = 5};
    expect_arg_error(whatif_module_params(M4_IMG_ENC, &o, &p, &e), &e, "--kv-len applies to --module backbone-decode");
    assert_int_equal(whatif_module_params(M4_BACKBONE_DECODE, &o, &p, &e), RT_OK);
    assert_int_equal(p.kv_len, 5);
    o = (whatif_options){.prompt_tokens = 10};
    expect_arg_error(whatif_module_params(M4_IMG_ENC, &o, &p, &e), &e, "IMG_enc takes none");
    o = (whatif_options){.lora_rank = 8};
    expect_arg_error(whatif_module_params(M4_GEN_DEC, &o, &p, &e), &e, "GEN_dec takes none");
    o = (whatif_options){.int4 = true};
    expect_arg_error(whatif_module_params(M4_IMG_ENC, &o, &p, &e), &e, "--int4 applies to the backbone");
    int t2[1] = {2}, t22[1] = {22}, t41[1] = {41};
    assert_int_equal(m4_task_get(41)->path, 4); /* text-to-speech: the generator alone */
    o = (whatif_options){.kv_len = 5};
    expect_arg_error(whatif_task_options(t2, 1, &o, &to, applied, &e), &e, "a task's KV length follows");
    o = (whatif_options){.prompt_tokens = 10};
    expect_arg_error(whatif_task_options(t22, 1, &o, &to, applied, &e), &e, "T22 is a path-3 task");
    o = (whatif_options){.gen_tokens = 3};
    expect_arg_error(whatif_task_options(t22, 1, &o, &to, applied, &e), &e, "T22 generates no text");
    o = (whatif_options){.lora_rank = 8};
    expect_arg_error(whatif_task_options(t41, 1, &o, &to, applied, &e), &e, "path 4 runs the generator alone");
    /* every task: --prompt-tokens applies to those that run the backbone; path 3 has none */
    int all[M4_TASK_COUNT], path3[M4_TASK_COUNT], n3 = 0, backbone = 0;
    for (int i = 0; i < M4_TASK_COUNT; i++) {
        all[i] = i + 1;
        if (m4_task_get(i + 1)->path == 3)
            path3[n3++] = i + 1;
        backbone += m4_task_runs_backbone(m4_task_get(i + 1));
    }
    o = (whatif_options){.prompt_tokens = 10};
    assert_int_equal(whatif_task_options(all, M4_TASK_COUNT, &o, &to, applied, &e), RT_OK);
    assert_int_equal(to.prompt_tokens, 10);
    assert_int_equal(applied[WHATIF_OPT_PROMPT], backbone);
    assert_true(backbone > 0 && backbone < M4_TASK_COUNT);
    expect_arg_error(whatif_task_options(path3, n3, &o, &to, applied, &e), &e, "none of the");
    /* the command says so with exit 2 */
    static const char *const cmds[] = {"--module IMG_enc --gen-tokens 5", "--task T2 --kv-len 5",
                                       "--task T22 --prompt-tokens 10"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(test_run(out, sizeof out, "%s whatif %s", M4NPU_BIN, cmds[i]), 2);
        assert_non_null(strstr(out, "applies to"));
    }
}

static char *capture_table(const whatif_view *v, const whatif_task_result *t, int n, bool csv)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (csv)
        whatif_print_csv(f, v, t, n);
    else
        whatif_print_table(f, v, t, n);
    fclose(f);
    return buf;
}

/* The header names the overrides with the preset; the CSV names configuration, hash and
 * overrides on every row; a subset's mean stands without the paper's 50-task mean. */
static void test_reports_say_what_they_used(void **state)
{
    (void)state;
    /* the report states the configuration it is given (the numbers are the session's: one device per
     * process) */
    m4npu_config cfg = CFG;
    rt_error e;
    m4npu_config_error ce;
    assert_int_equal(m4npu_config_set_assignment(&cfg, "npu.dram.bandwidth_gb_s=25.6", &ce), M4NPU_CONFIG_OK);
    const char *sets[] = {"npu.dram.bandwidth_gb_s=25.6"};
    whatif_task_result t[2];
    m4_task_options o = {0};
    assert_int_equal(whatif_task(W, m4_task_get(22), &o, &t[0], &e), RT_OK);
    assert_int_equal(whatif_task(W, m4_task_get(23), &o, &t[1], &e), RT_OK);
    whatif_view v = {.cfg = &cfg, .source = {PRESET("mobile-default"), sets, 1}, .selected = 2};
    char *table = capture_table(&v, t, 2, false), *csv = capture_table(&v, t, 2, true);
    assert_non_null(strstr(table, "on mobile-default + 1 override: npu.dram.bandwidth_gb_s=25.6:"));
    assert_null(strstr(table, "on mobile-default:"));
    char hash[M4NPU_CONFIG_HASH_HEX];
    m4npu_config_hash_hex(&cfg, hash);
    assert_non_null(strstr(table, hash));
    char want[128];
    snprintf(want, sizeof want, ",\"mobile-default\",%s,\"npu.dram.bandwidth_gb_s=25.6\",", hash);
    int rows = 0;
    for (const char *p = csv; (p = strstr(p, want)); p++)
        rows++;
    assert_int_equal(rows, 2);
    /* a subset: its mean is not set beside the paper's 50-task mean */
    assert_non_null(strstr(table, "a subset of the 50: not comparable"));
    json_t *j = whatif_tasks_json(&v, t, 2, NULL);
    json_t *sum = json_object_get(j, "summary");
    assert_true(json_is_true(json_object_get(sum, "subset")));
    assert_true(json_is_null(json_object_get(sum, "paper_mean_latency_s")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "configuration"), "hash")), hash);
    json_decref(j);
    /* the hash names the configuration, not its file: the override moves it */
    char base[M4NPU_CONFIG_HASH_HEX];
    assert_string_not_equal(m4npu_config_hash_hex(&CFG, base), hash);
    free(table);
    free(csv);
}

/* --module takes --timeline (its run, on named processes, spanning its latency) and --csv (one row
 * with the parameters it ran with and the configuration). */
static void test_module_timeline_and_csv(void **state)
{
    (void)state;
    whatif_options o = {0};
    const whatif_module_run *m = module(M4_IMG_ENC, &o);
    whatif_view v = {.cfg = &CFG, .source = {PRESET("mobile-default"), NULL, 0}};
    char *buf = NULL;
    size_t len = 0;
    rt_error e;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(whatif_write_module_timeline(&v, m, f, &e), RT_OK);
    fclose(f);
    json_t *j = json_loads(buf, 0, NULL);
    free(buf);
    assert_non_null(j);
    double end = 0;
    int ops = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(j, "traceEvents"), i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "ph")), "X") != 0)
            continue;
        double t = json_number_value(json_object_get(ev, "ts")) + json_number_value(json_object_get(ev, "dur"));
        end = t > end ? t : end;
        ops += strcmp(json_string_value(json_object_get(ev, "cat")), "op") == 0;
    }
    assert_true(fabs(end - m->r->total_s * 1e6) <= 1e-6 * m->r->total_s * 1e6);
    uint32_t descriptors = 0;
    for (int s = 0; s < m->r->plan->n_segments; s++)
        descriptors += m->r->segs[s].n_ops;
    assert_int_equal(ops, descriptors);
    json_decref(j);
    f = open_memstream(&buf, &len);
    whatif_print_module_csv(f, &v, m);
    fclose(f);
    assert_non_null(strstr(buf, "module,clips,frames,lora_rank,format,latency_s"));
    assert_non_null(strstr(buf, "\nIMG_enc,1,1,4,fp16,"));
    assert_non_null(strstr(buf, ",\"mobile-default\","));
    free(buf);
}

/* A one-task plot keeps its bar as wide as among ten tasks, not across the whole panel. */
static void test_one_task_plot_keeps_narrow_bars(void **state)
{
    (void)state;
    whatif_view v = {.cfg = &CFG};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    whatif_plot_script(f, &v, 1, "data", "out.png");
    fclose(f);
    assert_non_null(strstr(buf, "set xrange [-0.5:9.5]"));
    free(buf);
    f = open_memstream(&buf, &len);
    whatif_plot_script(f, &v, 50, "data", "out.png");
    fclose(f);
    assert_non_null(strstr(buf, "set xrange [-0.5:49.5]"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_module_layers_add_up),
        cmocka_unit_test(test_module_layers_csv_adds_up),
        cmocka_unit_test(test_task_layers_add_up),
        cmocka_unit_test(test_roofline),
        cmocka_unit_test(test_task_timeline_spans_the_latency),
        cmocka_unit_test(test_one_generated_token),
        cmocka_unit_test(test_module_lora_default_is_a_tasks),
        cmocka_unit_test(test_options_apply_or_are_errors),
        cmocka_unit_test(test_reports_say_what_they_used),
        cmocka_unit_test(test_module_timeline_and_csv),
        cmocka_unit_test(test_one_task_plot_keeps_narrow_bars),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
