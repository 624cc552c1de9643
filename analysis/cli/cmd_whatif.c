/* m4npu whatif: the main job. How fast, and at what energy, would M4 run on this NPU? Every
 * eAIBench task (or one task, one path, one module) on a configuration, as a table, JSON or CSV,
 * with a task's timeline and a plot of the breakdowns on request. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "whatif.h"
#include "whatif_report.h"

#ifndef M4NPU_DEFAULT_CONFIG
#define M4NPU_DEFAULT_CONFIG "configs/mobile-default.yaml"
#endif
#define MAX_SETS 32

static const char usage[] =
    "usage: m4npu whatif [--task ID] [--path N] [--module NAME] [--config FILE] [--set KEY=VALUE ...]\n"
    "                    [--prompt-tokens N] [--gen-tokens M] [--kv-len C] [--lora-rank R] [--int4]\n"
    "                    [--json | --csv] [--timeline FILE] [--plot FILE.png] [--quiet]\n"
    "\n"
    "How fast, and at what energy, would the M4 foundation model run on this NPU? With no arguments,\n"
    "every eAIBench task (T1..T50) on the default preset, as one table: latency and energy per task\n"
    "(time to first token and per token where the task generates), the NPU's share of the time, the\n"
    "NPU segments per inference, the paper's CPU measurement and NPU* estimate (Table 5) where it\n"
    "gives one, the device memory of its largest module, the backbone's DRAM floor per token, and the\n"
    "task's task-specific model (the paper's Table 3 baseline, where one is built in) on the same NPU.\n"
    "Every module runs in timing-only mode on the simulated NPU (firmware, DMA, units), with the CPU\n"
    "fallback and boundary costs modelled. A task that fails (a module that does not fit in device\n"
    "memory ...) is a row with its error; the others still run. docs/whatif.md explains every column\n"
    "and assumption.\n"
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
    "  --prompt-tokens N  prompt tokens into the backbone (tasks), or tokens of a --module\n"
    "  --gen-tokens M     generated tokens (tasks that generate)\n"
    "  --kv-len C         KV-cache length of --module backbone-decode\n"
    "  --lora-rank R      LoRA rank (0: no adapters; default 4)\n"
    "  --int4             INT4 weights for the backbone and the output head (default INT8)\n"
    "  --json, --csv      machine-readable output\n"
    "  --timeline FILE    Chrome/Perfetto trace of one pass through a task's steps (needs one task)\n"
    "  --plot FILE.png    per-task latency and energy breakdowns (gnuplot)\n"
    "  --quiet            no progress on stderr\n"
    "  --trace FILE       record the driver/device traffic into FILE (m4npu trace --help)\n"
    "  --trace-level L    job (default) or insn: also every instruction per unit\n"
    "\n"
    "Exit: 0 done, 1 a task or module failed (every other task is still reported), 2 usage, 3 a file\n"
    "could not be read or written.\n";

typedef struct whatif_args {
    const char *config, *module, *timeline, *plot, *trace, *trace_level;
    const char *sets[MAX_SETS];
    size_t nsets;
    int task, path, json, csv, quiet, kv_len;
    m4_task_options opts;
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

static int parse_args(int argc, char **argv, whatif_args *a)
{
    enum { O_TASK = 256, O_PATH, O_MODULE, O_CONFIG, O_SET, O_PROMPT, O_GEN, O_KV, O_LORA, O_INT4, O_JSON, O_CSV,
           O_TIMELINE, O_PLOT, O_QUIET, O_TRACE, O_TRACE_LEVEL };
    static const struct option opts[] = {
        {"task", required_argument, NULL, O_TASK},        {"path", required_argument, NULL, O_PATH},
        {"module", required_argument, NULL, O_MODULE},    {"config", required_argument, NULL, O_CONFIG},
        {"set", required_argument, NULL, O_SET},          {"prompt-tokens", required_argument, NULL, O_PROMPT},
        {"gen-tokens", required_argument, NULL, O_GEN},   {"kv-len", required_argument, NULL, O_KV},
        {"lora-rank", required_argument, NULL, O_LORA},   {"int4", no_argument, NULL, O_INT4},
        {"json", no_argument, NULL, O_JSON},              {"csv", no_argument, NULL, O_CSV},
        {"timeline", required_argument, NULL, O_TIMELINE}, {"plot", required_argument, NULL, O_PLOT},
        {"quiet", no_argument, NULL, O_QUIET},            {"trace", required_argument, NULL, O_TRACE},
        {"trace-level", required_argument, NULL, O_TRACE_LEVEL}, {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    int c;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *arg = optarg;
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
            break;
        case O_PATH:
            if (parse_int(arg, 1, 4, &v)) {
                fprintf(stderr, "m4npu whatif: --path %s: expected 1..4\n", arg);
                return -1;
            }
            a->path = (int)v;
            break;
        case O_MODULE: a->module = arg; break;
        case O_CONFIG: a->config = arg; break;
        case O_SET:
            if (a->nsets == MAX_SETS) {
                fprintf(stderr, "m4npu whatif: at most %d --set\n", MAX_SETS);
                return -1;
            }
            a->sets[a->nsets++] = arg;
            break;
        case O_PROMPT:
            if (parse_int(arg, 1, M4_LLAMA_CONTEXT, &v)) {
                fprintf(stderr, "m4npu whatif: --prompt-tokens %s: expected 1..%d\n", arg, M4_LLAMA_CONTEXT);
                return -1;
            }
            a->opts.prompt_tokens = (int)v;
            break;
        case O_GEN:
            if (parse_int(arg, 1, M4_LLAMA_CONTEXT, &v)) {
                fprintf(stderr, "m4npu whatif: --gen-tokens %s: expected 1..%d\n", arg, M4_LLAMA_CONTEXT);
                return -1;
            }
            a->opts.gen_tokens = (int)v;
            break;
        case O_KV:
            if (parse_int(arg, 1, M4_LLAMA_CONTEXT, &v)) {
                fprintf(stderr, "m4npu whatif: --kv-len %s: expected 1..%d\n", arg, M4_LLAMA_CONTEXT);
                return -1;
            }
            a->kv_len = (int)v;
            break;
        case O_LORA:
            if (parse_int(arg, 0, 1024, &v)) {
                fprintf(stderr, "m4npu whatif: --lora-rank %s: expected 0..1024 (0: no adapters)\n", arg);
                return -1;
            }
            a->opts.lora_rank = v == 0 ? M4_LORA_NONE : (int)v;
            break;
        case O_INT4: a->opts.backbone_format = M4_FMT_INT4; break;
        case O_JSON: a->json = 1; break;
        case O_CSV: a->csv = 1; break;
        case O_TIMELINE: a->timeline = arg; break;
        case O_PLOT: a->plot = arg; break;
        case O_QUIET: a->quiet = 1; break;
        case O_TRACE: a->trace = arg; break;
        case O_TRACE_LEVEL: a->trace_level = arg; break;
        default: return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "m4npu whatif: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (a->json && a->csv) {
        fprintf(stderr, "m4npu whatif: --json and --csv exclude each other\n");
        return -1;
    }
    if (a->module && (a->task || a->path || a->timeline || a->plot || a->csv)) {
        fprintf(stderr, "m4npu whatif: --module takes no --task, --path, --timeline, --plot or --csv\n");
        return -1;
    }
    if (a->task && a->path) {
        fprintf(stderr, "m4npu whatif: --task and --path exclude each other\n");
        return -1;
    }
    if (a->timeline && !a->task) {
        fprintf(stderr, "m4npu whatif: --timeline needs --task ID (a timeline is one task's)\n");
        return -1;
    }
    if (!a->config)
        a->config = getenv("M4NPU_CONFIG") ? getenv("M4NPU_CONFIG") : M4NPU_DEFAULT_CONFIG;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run_module(whatif *w, const whatif_args *a)
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
    memset(&p, 0, sizeof p);
    p.tokens = a->opts.prompt_tokens;
    p.kv_len = a->kv_len;
    p.lora_rank = a->opts.lora_rank == M4_LORA_NONE ? 0 : a->opts.lora_rank;
    if (a->opts.backbone_format == M4_FMT_INT4)
        p.format = M4_FMT_INT4;
    const whatif_module_run *m;
    rt_error e;
    if (whatif_module(w, (m4_module_id)id, &p, &m, &e) != RT_OK) {
        fprintf(stderr, "m4npu whatif: %s\n", e.msg);
        return CLI_FAIL;
    }
    if (a->json) {
        json_t *j = whatif_module_json(whatif_config(w), m);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(j);
    } else {
        whatif_print_module(stdout, whatif_config(w), m);
    }
    return CLI_OK;
}

/* The files --timeline and --plot write: set up before the (long) run, so that a path that
 * cannot be written is an error at once; they appear together after it. */
typedef struct whatif_files {
    rt_outputs *set;
    FILE *timeline;
    const char *plot_tmp; /* gnuplot draws here; renamed to --plot's path at the commit */
} whatif_files;

static int open_files(const whatif_args *a, whatif_files *f)
{
    memset(f, 0, sizeof *f);
    f->set = cli_outputs_new();
    if (!f->set)
        return CLI_FAIL;
    rt_error e;
    rt_status s = a->config ? rt_outputs_protect(f->set, a->config, &e) : RT_OK;
    if (s == RT_OK && a->timeline && (s = rt_outputs_open(f->set, a->timeline, &f->timeline, &e)) != RT_OK)
        rt_error_prefix(&e, "--timeline");
    if (s == RT_OK && a->plot && (s = rt_outputs_add(f->set, a->plot, &f->plot_tmp, &e)) != RT_OK)
        rt_error_prefix(&e, "--plot");
    return s == RT_OK ? CLI_OK : cli_file_error(s, e.msg);
}

static int write_files(const m4npu_config *cfg, const whatif_task_result *res, int n, const whatif_args *a,
                       whatif_files *f)
{
    rt_error e;
    if (a->timeline && whatif_write_timeline(cfg, &res[0], f->timeline, &e) != RT_OK) {
        fprintf(stderr, "m4npu whatif: --timeline %s: %s\n", a->timeline, e.msg);
        return CLI_IO;
    }
    if (a->plot && whatif_write_plot(cfg, res, n, f->plot_tmp, &e) != RT_OK) {
        fprintf(stderr, "m4npu whatif: --plot %s: %s\n", a->plot, e.msg);
        return CLI_IO;
    }
    return cli_outputs_commit(f->set);
}

static int run_tasks(whatif *w, const whatif_args *a, whatif_files *files)
{
    int ids[M4_TASK_COUNT], n = 0;
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_task *t = m4_task_get(id);
        if ((a->task && id != a->task) || (a->path && t->path != a->path))
            continue;
        ids[n++] = id;
    }
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
        rt_error e;
        if (whatif_task(w, t, &a->opts, &res[i], &e) != RT_OK) { /* reported in its row; go on */
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
    const m4npu_config *cfg = whatif_config(w);
    if (a->json) {
        json_t *j = whatif_tasks_json(cfg, res, n, &st);
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(j);
    } else if (a->csv) {
        whatif_print_csv(stdout, res, n);
    } else if (a->task) {
        whatif_print_task(stdout, cfg, &res[0]);
    } else {
        whatif_print_table(stdout, cfg, res, n);
        fflush(stdout);
        if (!a->quiet)
            fprintf(stderr, "simulated %d distinct module runs in %.1f s (%d reused, %llu segments from the memo)\n",
                    st.module_runs, st.host_s, st.module_hits, (unsigned long long)st.segment_memo_hits);
    }
    int rc;
    if (a->timeline && res[0].failed) { /* nothing to draw: no file is written */
        fprintf(stderr, "m4npu whatif: --timeline %s: T%d failed, so it has no timeline\n", a->timeline,
                res[0].task->id);
        rc = CLI_FAIL;
    } else { /* --plot leaves failed tasks out */
        rc = write_files(cfg, res, n, a, files);
    }
    if (rc == CLI_OK && failed)
        rc = CLI_FAIL;
    free(res);
    return rc;
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
    int rc = cli_load_config(a.config, a.sets, a.nsets, &cfg);
    if (rc != CLI_OK)
        return rc;
    whatif_files files;
    rc = open_files(&a, &files);
    if (rc != CLI_OK) {
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
    rc = a.module ? run_module(w, &a) : run_tasks(w, &a, &files);
    whatif_close(w);
    cli_outputs_free(files.set); /* undoes the files if they were not committed */
    return cli_trace_end(rc);
}
