/* m4npu whatif: the main job. How fast, and at what energy, would M4 run on this NPU? Every
 * eAIBench task (or one task, one path, one module) on a configuration, as a table, JSON or CSV,
 * per layer on request, with a timeline, a plot of the breakdowns and a roofline. */
#include "cli.h"
#include "cli_common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "whatif.h"
#include "whatif_report.h"

#ifndef M4NPU_DEFAULT_CONFIG
#define M4NPU_DEFAULT_CONFIG "configs/mobile-default.yaml"
#endif

static const char usage[] =
    "usage: m4npu whatif [--task ID | --path N | --module NAME] [--config FILE] [--set KEY=VALUE ...]\n"
    "                    [--prompt-tokens N] [--gen-tokens M] [--kv-len C] [--lora-rank R] [--int4]\n"
    "                    [--json | --csv] [--layers] [--timeline FILE] [--plot FILE.png]\n"
    "                    [--roofline FILE.png] [--log] [--quiet] [--partition cost|greedy]\n"
    "                    [--objective latency|energy]\n"
    "\n"
    "How fast, and at what energy, would the M4 foundation model run on this NPU? With no arguments,\n"
    "every eAIBench task (T1..T50) on the default preset, as one table: latency and energy per task\n"
    "(time to first token and per token where the task generates), the NPU's share of the time, the\n"
    "NPU segments per inference, the paper's CPU measurement and NPU* estimate (Table 5) where it\n"
    "gives one, the device memory of its largest module, the backbone's DRAM floor per token, and the\n"
    "task's task-specific model (the paper's Table 3 baseline, where one is built in) on the same NPU.\n"
    "Every module runs in timing-only mode on the simulated NPU (firmware, DMA, units), with the CPU\n"
    "fallback and boundary costs modelled. A task that fails (a module that does not fit in device\n"
    "memory ...) is a row with its error; the others still run. docs/whatif.md explains every column,\n"
    "assumption and option; docs/layers.md the per-layer report.\n"
    "\n"
    "  --task ID          one task (1..50, or T12): its steps in detail\n"
    "  --path N           the tasks of execution path N (1..4)\n"
    "  --module NAME      one module (IMG_enc, TXT_enc, AUD-B_enc, AUD-I_enc, IMU_enc, backbone-prefill,\n"
    "                     backbone-decode, GEN_dec, TTS_dec, IMG_dec, IMG_dec-unet, IMG_dec-vae,\n"
    "                     projection; or a task-specific model: resnet50, resnet152, mobilenet-v1,\n"
    "                     mobilenet-v2, inception-v1, inception-v4, bert-base, distilbert-base,\n"
    "                     roberta-base, roberta-base-squad2): its parameters and FLOPs against the\n"
    "                     published figures, and its cost\n"
    "  --config FILE      NPU configuration (default: $M4NPU_CONFIG or configs/mobile-default.yaml)\n"
    "  --set KEY=VALUE    override a configuration key (repeatable)\n"
    "  --prompt-tokens N  prompt tokens into the backbone (tasks of paths 1-2), or the token count of a\n"
    "                     --module that takes one\n"
    "  --gen-tokens M     generated tokens (tasks that generate text; not a --module)\n"
    "  --kv-len C         KV-cache length of --module backbone-decode (not tasks: theirs follows from\n"
    "                     their tokens)\n"
    "  --lora-rank R      LoRA rank (0: no adapters; default 4 on q and v, where the paper adapts: the\n"
    "                     backbone on paths 1-2, the encoders on path 3; a --module that takes adapters)\n"
    "  --int4             INT4 weights for the backbone and the output head (default INT8)\n"
    "  --partition cost|greedy  cost (default): a module's node goes to the NPU only where that lowers\n"
    "                     the modelled objective; greedy: every node the NPU supports runs there\n"
    "  --objective latency|energy  what the cost-aware partition minimises (default latency)\n"
    "  --json, --csv      machine-readable output\n"
    "  --layers           per layer: every op descriptor, CPU node and boundary copy of a --module or a\n"
    "                     --task's steps, with time, cycles, MACs, utilisation, bytes, bandwidth, what\n"
    "                     bounds it and energy (a table, or with --json / --csv)\n"
    "  --timeline FILE    Chrome/Perfetto trace of a --task's whole inference or a --module's run\n"
    "  --plot FILE.png    per-task latency and energy breakdowns (gnuplot)\n"
    "  --roofline FILE.png  every layer of a --module (or of a --task's modules) on the roofline of the\n"
    "                     configuration (gnuplot; the data is in --layers --json)\n"
    "  --log              the firmware log on stderr: a line per op descriptor (kernel, tiling, cycles)\n"
    "                     of every job simulated (not of jobs the memo reuses)\n"
    "  --quiet            no progress on stderr\n"
    "  --trace FILE       record the driver/device traffic into FILE (m4npu trace --help)\n"
    "  --trace-level L    job (default) or insn: also every instruction per unit\n"
    "\n"
    "An option that does not apply to what is selected is an error that says why (docs/whatif.md).\n"
    "\n"
    "Exit: 0 done, 1 a task or module failed (every other task is still reported), 2 usage, 3 a file\n"
    "could not be read or written.\n";

enum { O_TASK = 256, O_PATH, O_MODULE, O_PROMPT, O_GEN, O_KV, O_LORA, O_INT4, O_TIMELINE, O_PLOT, O_ROOFLINE,
       O_LAYERS, O_LOG, O_QUIET, O_TRACE, O_TRACE_LEVEL, O_PARTITION, O_OBJECTIVE };

typedef struct whatif_args {
    cli_common common;
    const char *config, *module, *timeline, *plot, *roofline, *trace, *trace_level;
    int task, path, quiet, layers, log;
    whatif_options opts;
    bool greedy_partition;
    int objective;
} whatif_args;

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* One whatif-specific option; 0, or -1 after printing what is wrong. */
static int parse_option(whatif_args *a, int c, const char *arg)
{
    long v;
    switch (c) {
    case O_TASK:
        if (arg && (arg[0] == 'T' || arg[0] == 't'))
            arg++;
        if (parse_int(arg, 1, M4_TASK_COUNT, &v)) {
            fprintf(stderr, "m4npu whatif: --task %s: expected 1..%d (or T1..T%d)\n", optarg, M4_TASK_COUNT,
                    M4_TASK_COUNT);
            return -1;
        }
        a->task = (int)v;
        return 0;
    case O_PATH:
        if (parse_int(arg, 1, 4, &v)) {
            fprintf(stderr, "m4npu whatif: --path %s: expected 1..4\n", arg);
            return -1;
        }
        a->path = (int)v;
        return 0;
    case O_PROMPT:
    case O_GEN:
    case O_KV: {
        const char *name = c == O_PROMPT ? "--prompt-tokens" : c == O_GEN ? "--gen-tokens" : "--kv-len";
        if (parse_int(arg, 1, M4_LLAMA_CONTEXT, &v)) {
            fprintf(stderr, "m4npu whatif: %s %s: expected 1..%d\n", name, arg, M4_LLAMA_CONTEXT);
            return -1;
        }
        *(c == O_PROMPT ? &a->opts.prompt_tokens : c == O_GEN ? &a->opts.gen_tokens : &a->opts.kv_len) = (int)v;
        return 0;
    }
    case O_LORA:
        if (parse_int(arg, 0, 1024, &v)) {
            fprintf(stderr, "m4npu whatif: --lora-rank %s: expected 0..1024 (0: no adapters)\n", arg);
            return -1;
        }
        a->opts.lora_rank = v == 0 ? M4_LORA_NONE : (int)v;
        return 0;
    case O_MODULE: a->module = arg; return 0;
    case O_INT4: a->opts.int4 = true; return 0;
    case O_TIMELINE: a->timeline = arg; return 0;
    case O_PLOT: a->plot = arg; return 0;
    case O_ROOFLINE: a->roofline = arg; return 0;
    case O_LAYERS: a->layers = 1; return 0;
    case O_LOG: a->log = 1; return 0;
    case O_QUIET: a->quiet = 1; return 0;
    case O_TRACE: a->trace = arg; return 0;
    case O_TRACE_LEVEL: a->trace_level = arg; return 0;
    case O_PARTITION:
        if (cli_parse_partition(arg, &a->greedy_partition) != CLI_OK) {
            fprintf(stderr, "m4npu whatif: --partition %s: expected cost or greedy\n", arg);
            return -1;
        }
        return 0;
    case O_OBJECTIVE:
        if (cli_parse_objective(arg, &a->objective) != CLI_OK) {
            fprintf(stderr, "m4npu whatif: --objective %s: expected latency or energy\n", arg);
            return -1;
        }
        return 0;
    default: return -1;
    }
}

/* Which output options go with which selection (docs/whatif.md, "Options"). */
static int check_selection(const whatif_args *a)
{
    const cli_common *c = &a->common;
    int many = !a->task && !a->module; /* every task, or a path */
    if ((a->task != 0) + (a->path != 0) + (a->module != NULL) > 1) {
        fprintf(stderr, "m4npu whatif: --task, --path and --module exclude each other\n");
        return -1;
    }
    if (a->module && a->plot) {
        fprintf(stderr, "m4npu whatif: --plot draws tasks' breakdowns; for a --module use --roofline\n");
        return -1;
    }
    if (many && (a->timeline || a->layers || a->roofline)) {
        fprintf(stderr, "m4npu whatif: --timeline, --layers and --roofline need one --task or one --module (%s)\n",
                a->path ? "a path is many tasks" : "every task is selected");
        return -1;
    }
    return cli_common_check(c);
}

static int parse_args(int argc, char **argv, whatif_args *a)
{
    static const struct option opts[] = {
        {"task", required_argument, NULL, O_TASK},        {"path", required_argument, NULL, O_PATH},
        {"module", required_argument, NULL, O_MODULE},    CLI_OPTION_CONFIG,
        CLI_OPTION_SET,                                   {"prompt-tokens", required_argument, NULL, O_PROMPT},
        {"gen-tokens", required_argument, NULL, O_GEN},   {"kv-len", required_argument, NULL, O_KV},
        {"lora-rank", required_argument, NULL, O_LORA},   {"int4", no_argument, NULL, O_INT4},
        CLI_OPTION_JSON,                                  CLI_OPTION_CSV,
        {"layers", no_argument, NULL, O_LAYERS},          {"timeline", required_argument, NULL, O_TIMELINE},
        {"plot", required_argument, NULL, O_PLOT},        {"roofline", required_argument, NULL, O_ROOFLINE},
        {"log", no_argument, NULL, O_LOG},                {"quiet", no_argument, NULL, O_QUIET},
        {"trace", required_argument, NULL, O_TRACE},      {"trace-level", required_argument, NULL, O_TRACE_LEVEL},
        {"partition", required_argument, NULL, O_PARTITION}, {"objective", required_argument, NULL, O_OBJECTIVE},
        {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    cli_common_init(&a->common, "whatif");
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int shared = cli_common_parse(&a->common, c, optarg);
        if (shared < 0 || (shared == 0 && parse_option(a, c, optarg) != 0))
            return -1;
    }
    if (optind != argc) {
        fprintf(stderr, "m4npu whatif: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (check_selection(a) != 0)
        return -1;
    a->config = a->common.config ? a->common.config
                                 : getenv("M4NPU_CONFIG") ? getenv("M4NPU_CONFIG") : M4NPU_DEFAULT_CONFIG;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static whatif_form form_of(const whatif_args *a)
{
    return a->common.json ? WHATIF_FORM_JSON : a->common.csv ? WHATIF_FORM_CSV : WHATIF_FORM_TABLE;
}

/* The files --timeline, --plot and --roofline write: reserved before the (long) run, so that a
 * path that cannot be written is an error at once; they appear together after it. */
typedef struct whatif_files {
    rt_outputs *set;
    FILE *timeline;
    const char *plot_tmp, *roofline_tmp; /* gnuplot draws there; renamed into place at the commit */
} whatif_files;

static int open_files(const whatif_args *a, whatif_files *f)
{
    memset(f, 0, sizeof *f);
    int rc = cli_common_outputs(a->config, &f->set);
    rt_error e;
    rt_status s = RT_OK;
    if (rc == CLI_OK && a->timeline && (s = rt_outputs_open(f->set, a->timeline, &f->timeline, &e)) != RT_OK) {
        rt_error_prefix(&e, "--timeline");
        rc = cli_file_error(s, e.msg);
    }
    if (rc == CLI_OK && a->plot)
        rc = cli_outputs_reserve(f->set, "--plot", a->plot, &f->plot_tmp);
    if (rc == CLI_OK && a->roofline)
        rc = cli_outputs_reserve(f->set, "--roofline", a->roofline, &f->roofline_tmp);
    return rc;
}

static int file_failed(const char *option, const char *path, const rt_error *e)
{
    fprintf(stderr, "m4npu whatif: %s%s%s: %s\n", option, path[0] ? " " : "", path, e->msg);
    return e->code == RT_ERR_IO ? CLI_IO : CLI_FAIL;
}

static int run_module(whatif *w, const whatif_args *a, const whatif_view *v, whatif_files *files)
{
    int id = m4_module_lookup(a->module);
    if (id < 0) {
        fprintf(stderr, "m4npu whatif: --module %s: no such module; expected one of:", a->module);
        for (int i = 0; i < m4_module_count(); i++)
            fprintf(stderr, "%s %s", i ? "," : "", m4_module_get((m4_module_id)i)->name);
        fputc('\n', stderr);
        return CLI_USAGE;
    }
    m4_module_params p;
    const whatif_module_run *m;
    rt_error e;
    if (whatif_module_params((m4_module_id)id, &a->opts, &p, &e) != RT_OK) {
        fprintf(stderr, "m4npu whatif: --module %s: %s\n", a->module, e.msg);
        return CLI_USAGE;
    }
    if (whatif_module(w, (m4_module_id)id, &p, &m, &e) != RT_OK) {
        fprintf(stderr, "m4npu whatif: %s\n", e.msg);
        return CLI_FAIL;
    }
    if (a->layers) {
        if (whatif_print_module_layers(stdout, form_of(a), v, w, m, &e) != RT_OK)
            return file_failed("--layers", "", &e);
    } else if (a->common.json) {
        json_t *j = whatif_module_json(v, m);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(j);
    } else if (a->common.csv) {
        whatif_print_module_csv(stdout, v, m);
    } else {
        whatif_print_module(stdout, v, m);
    }
    if (a->timeline && whatif_write_module_timeline(v, m, files->timeline, &e) != RT_OK)
        return file_failed("--timeline", a->timeline, &e);
    const whatif_module_run *one[1] = {m};
    if (a->roofline && whatif_write_roofline(v, w, one, 1, files->roofline_tmp, &e) != RT_OK)
        return file_failed("--roofline", a->roofline, &e);
    return cli_outputs_commit(files->set);
}

/* The distinct module runs of a task, for its roofline. */
static int task_runs(const whatif_task_result *t, const whatif_module_run **runs)
{
    int n = 0;
    for (int i = 0; i < t->n_steps; i++) {
        bool seen = false;
        for (int k = 0; k < n; k++)
            seen |= runs[k] == t->steps[i].run;
        if (!seen)
            runs[n++] = t->steps[i].run;
    }
    return n;
}

static int write_task_files(whatif *w, const whatif_view *v, const whatif_task_result *res, int n,
                            const whatif_args *a, whatif_files *f)
{
    rt_error e;
    if (a->timeline && whatif_write_task_timeline(v, &res[0], f->timeline, &e) != RT_OK)
        return file_failed("--timeline", a->timeline, &e);
    if (a->plot && whatif_write_plot(v, res, n, f->plot_tmp, &e) != RT_OK)
        return file_failed("--plot", a->plot, &e);
    if (a->roofline) {
        const whatif_module_run *runs[M4_PLAN_MAX_STEPS];
        int nr = task_runs(&res[0], runs);
        if (whatif_write_roofline(v, w, runs, nr, f->roofline_tmp, &e) != RT_OK)
            return file_failed("--roofline", a->roofline, &e);
    }
    return cli_outputs_commit(f->set);
}

static int run_tasks(whatif *w, const whatif_args *a, whatif_view *v, whatif_files *files)
{
    int ids[M4_TASK_COUNT], n = 0, applied[WHATIF_OPT_COUNT];
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_task *t = m4_task_get(id);
        if ((a->task && id != a->task) || (a->path && t->path != a->path))
            continue;
        ids[n++] = id;
    }
    m4_task_options to;
    rt_error e;
    if (whatif_task_options(ids, n, &a->opts, &to, applied, &e) != RT_OK) {
        fprintf(stderr, "m4npu whatif: %s\n", e.msg);
        return CLI_USAGE;
    }
    v->applied = applied;
    v->selected = n;
    whatif_task_result *res = calloc((size_t)n + 1, sizeof *res);
    if (!res) {
        fprintf(stderr, "m4npu whatif: out of memory\n");
        return CLI_FAIL;
    }
    int progress = !a->quiet && isatty(STDERR_FILENO) && n > 1, failed = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        const m4_task *t = m4_task_get(ids[i]);
        if (progress) {
            double spent = now_s() - t0;
            fprintf(stderr, "\r\033[K[%d/%d] T%d %s", i + 1, n, t->id, t->name);
            if (i > 0)
                fprintf(stderr, " (%.0f s, about %.0f s left)", spent, spent / i * (n - i));
            fflush(stderr);
        }
        if (whatif_task(w, t, &to, &res[i], &e) != RT_OK) { /* reported in its row; go on */
            if (progress)
                fputc('\n', stderr);
            fprintf(stderr, "m4npu whatif: T%d %s: %s\n", t->id, t->name, e.msg);
            failed++;
        }
    }
    if (progress)
        fprintf(stderr, "\r\033[K");
    whatif_stats st;
    whatif_get_stats(w, &st);
    int rc = CLI_OK;
    if (a->layers) {
        if (res[0].failed) {
            fprintf(stderr, "m4npu whatif: --layers: T%d failed, so it has no layers\n", res[0].task->id);
            rc = CLI_FAIL;
        } else if (whatif_print_task_layers(stdout, form_of(a), v, w, &res[0], &e) != RT_OK) {
            rc = file_failed("--layers", "", &e);
        }
    } else if (a->common.json) {
        json_t *j = whatif_tasks_json(v, res, n, &st);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(j);
    } else if (a->common.csv) {
        whatif_print_csv(stdout, v, res, n);
    } else if (a->task) {
        whatif_print_task(stdout, v, &res[0]);
    } else {
        whatif_print_table(stdout, v, res, n);
        fflush(stdout);
        if (!a->quiet)
            fprintf(stderr,
                    "simulated %d distinct module runs in %.1f s (%d reused, %llu segments from the memo, "
                    "%llu of %llu ops replayed)\n",
                    st.module_runs, st.host_s, st.module_hits, (unsigned long long)st.segment_memo_hits,
                    (unsigned long long)st.ops_replayed, (unsigned long long)(st.ops_replayed + st.ops_simulated));
    }
    if (rc == CLI_OK && (a->timeline || a->roofline) && res[0].failed) { /* nothing to draw: no file is written */
        fprintf(stderr, "m4npu whatif: T%d failed, so it has no %s\n", res[0].task->id,
                a->timeline ? "timeline" : "roofline");
        rc = CLI_FAIL;
    } else if (rc == CLI_OK) { /* --plot leaves failed tasks out */
        rc = write_task_files(w, v, res, n, a, files);
    }
    if (rc == CLI_OK && failed)
        rc = CLI_FAIL;
    free(res);
    return rc;
}

/* The firmware log of every simulated job, as it comes (--log). */
static void log_to_stderr(void *ctx, const char *text)
{
    (void)ctx;
    fputs(text, stderr);
}

int cmd_whatif(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    whatif_args a;
    if (parse_args(argc, argv, &a) != 0) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    m4npu_config cfg;
    int rc = cli_common_load(&a.common, a.config, &cfg);
    if (rc != CLI_OK)
        return rc;
    whatif_files files;
    if ((rc = open_files(&a, &files)) != CLI_OK) {
        cli_outputs_free(files.set);
        return rc;
    }
    if ((rc = cli_trace_begin(a.trace, a.trace_level, &cfg, argc, argv)) != CLI_OK) {
        cli_outputs_free(files.set);
        return rc;
    }
    rt_error e;
    whatif *w = whatif_open(&cfg, &e);
    if (!w) {
        fprintf(stderr, "m4npu whatif: %s: %s\n", a.config, e.msg);
        cli_outputs_free(files.set);
        return cli_trace_end(CLI_FAIL);
    }
    if (a.log)
        whatif_set_log(w, log_to_stderr, NULL);
    /* the per-op profile only where a report shows it: the table of every task holds less memory */
    whatif_set_profile(w, a.layers || a.timeline || a.roofline);
    char selection[32];
    if (a.module)
        snprintf(selection, sizeof selection, "module %s", a.module);
    else if (a.task)
        snprintf(selection, sizeof selection, "T%d", a.task);
    else if (a.path)
        snprintf(selection, sizeof selection, "path %d", a.path);
    else
        snprintf(selection, sizeof selection, "all %d tasks", M4_TASK_COUNT);
    whatif_view v = {.cfg = whatif_config(w), .source = cli_common_source(&a.common, a.config), .opts = &a.opts,
                     .selection = selection};
    whatif_set_partition(w, a.greedy_partition, (part_objective)a.objective);
    rc = a.module ? run_module(w, &a, &v, &files) : run_tasks(w, &a, &v, &files);
    whatif_close(w);
    cli_outputs_free(files.set); /* undoes the files if they were not committed */
    return cli_trace_end(rc);
}
