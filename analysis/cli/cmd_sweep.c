/* m4npu sweep: design-space sweeps (analysis/sweep, docs/sweep.md). Runs a spec's points on a
 * local worker pool or a Slurm job array, runs a chunk of points (the per-point contract both
 * backends use), checks a spec, and reports the results. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sweep.h"

#ifndef M4NPU_VERSION
#define M4NPU_VERSION "unknown"
#endif
#ifndef M4NPU_CONFIG_DIR
#define M4NPU_CONFIG_DIR "configs"
#endif
#define MAX_SBATCH_ARGS 32
#define SECONDS_PER_HOUR 3600.0

static const char usage[] =
    "usage: m4npu sweep SPEC --out DIR [--backend local|slurm] [--jobs N] [--chunk K] [--retry N]\n"
    "                   [--rerun-failed] [--sbatch-arg ARG ...] [--poll S] [--quiet]\n"
    "       m4npu sweep point SPEC --out DIR --index I [--count K] [--store FILE] [--rerun-failed]\n"
    "       m4npu sweep check SPEC [--list]\n"
    "       m4npu sweep report DIR [--json | --csv] [--plot DIR] [--where EXPR] [--workload NAME]\n"
    "\n"
    "Run every point of a sweep spec (a base configuration, axes of configuration keys, constraints,\n"
    "workloads and metrics; docs/sweep.md) and keep one row per point and workload in\n"
    "DIR/results.sqlite. A rerun skips the points already done; a point that fails is recorded with\n"
    "its message and the sweep goes on.\n"
    "\n"
    "  --backend local    worker processes on this machine (default)\n"
    "  --backend slurm    an sbatch job array, --jobs array tasks at a time (squeue/scontrol to wait)\n"
    "  --jobs N           workers (local) or the array's throttle %N (slurm); default: the CPUs here\n"
    "  --chunk K          points per worker process or array task (default: automatic)\n"
    "  --retry N          rerun the chunks whose points are still missing (a killed worker or task) up\n"
    "                     to N more times\n"
    "  --rerun-failed     also run again the points recorded as failed\n"
    "  --sbatch-arg ARG   pass ARG to sbatch (e.g. --sbatch-arg=--partition=short), repeatable\n"
    "  --poll S           seconds between squeue polls (slurm; default 2)\n"
    "  --quiet            no progress bar and no summary\n"
    "\n"
    "point: run points I .. I+K-1 (K default 1) into the store (default DIR/results.sqlite; --store: a\n"
    "       part file of their own), each committed in one transaction: what every backend runs.\n"
    "check: validate the spec and count its points (--list: print them).\n"
    "report: the points as a table, the Pareto front over latency, energy and area per workload, and\n"
    "       each metric's elasticity to each knob (log-log least squares, R^2); --plot DIR writes gnuplot\n"
    "       PNGs; --where keeps the rows that satisfy a comparison of knobs and metrics.\n"
    "\n"
    "Exit: 0 every point ok, 1 a bad spec or a point failed or is missing, 2 usage, 3 a file could not\n"
    "be read or written.\n";

static int exit_code(const rt_error *e)
{
    return e->code == RT_ERR_IO ? CLI_IO : CLI_FAIL;
}

static const char *presets_dir(void)
{
    const char *env = getenv("M4NPU_CONFIG_DIR");
    return env && *env ? env : M4NPU_CONFIG_DIR;
}

static int parse_count(const char *s, long lo, long hi, long *out)
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

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "m4npu sweep: ");
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    fputs(usage, stderr);
    return CLI_USAGE;
}

/* ---- m4npu sweep point */

static int cmd_point(int argc, char **argv)
{
    enum { O_OUT = 256, O_INDEX, O_COUNT, O_STORE, O_RERUN };
    static const struct option opts[] = {{"out", required_argument, NULL, O_OUT},
                                         {"index", required_argument, NULL, O_INDEX},
                                         {"count", required_argument, NULL, O_COUNT},
                                         {"store", required_argument, NULL, O_STORE},
                                         {"rerun-failed", no_argument, NULL, O_RERUN},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    long index = -1, count = 1;
    sweep_point_options o = {.version = M4NPU_VERSION, .progress = stdout};
    const char *abort_at = getenv("M4NPU_SWEEP_ABORT_AT"); /* a crash on purpose, for tests */
    long at;
    if (abort_at && *abort_at && parse_count(abort_at, 0, INT_MAX, &at) == 0) {
        o.abort = true;
        o.abort_at = (int)at;
    }
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_OUT: out = optarg; break;
        case O_INDEX:
            if (parse_count(optarg, 0, INT_MAX, &index))
                return usage_error("--index %s: expected a point number (0 or more)", optarg);
            break;
        case O_COUNT:
            if (parse_count(optarg, 1, INT_MAX, &count))
                return usage_error("--count %s: expected a number of points (1 or more)", optarg);
            break;
        case O_STORE:
            o.store_path = optarg;
            o.part = true;
            break;
        case O_RERUN: o.rerun_failed = true; break;
        default: fputs(usage, stderr); return CLI_USAGE;
        }
    }
    if (optind + 1 != argc)
        return usage_error("point: expected one SPEC%s", "");
    if (!out || index < 0)
        return usage_error("point: --out DIR and --index I are required%s", "");
    rt_error e;
    if (sweep_run_points(argv[optind], presets_dir(), out, (int)index, (int)count, &o, &e) != RT_OK) {
        fprintf(stderr, "m4npu sweep point: %s\n", e.msg);
        return exit_code(&e);
    }
    return CLI_OK;
}

/* ---- m4npu sweep check */

static int cmd_check(int argc, char **argv)
{
    bool list = false;
    const char *spec_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0)
            list = true;
        else if (argv[i][0] == '-' || spec_path)
            return usage_error("check: unexpected argument '%s'", argv[i]);
        else
            spec_path = argv[i];
    }
    if (!spec_path)
        return usage_error("check: expected a SPEC%s", "");
    rt_error e;
    sweep_spec *s;
    if (sweep_spec_load(spec_path, presets_dir(), &s, &e) != RT_OK) {
        fprintf(stderr, "m4npu sweep: %s\n", e.msg);
        return exit_code(&e);
    }
    m4npu_config *base = malloc(sizeof *base);
    sweep_points *p = NULL;
    int rc = CLI_OK;
    if (!base || sweep_spec_base(s, base, &e) != RT_OK || sweep_points_make(s, base, &p, &e) != RT_OK) {
        fprintf(stderr, "m4npu sweep: %s\n", base ? e.msg : "out of memory");
        rc = base ? exit_code(&e) : CLI_FAIL;
    } else {
        printf("%s: %d points (%d candidates, %d dropped by %d constraints) x %d workloads, %d axes\n", spec_path, p->n,
               p->n_candidates, p->n_candidates - p->n, s->n_constraints, s->n_workloads, s->n_axes);
        if (list) {
            printf("point");
            for (int a = 0; a < s->n_axes; a++)
                printf(" %s", s->axes[a].key->path);
            putchar('\n');
            for (int i = 0; i < p->n; i++) {
                printf("%d", i);
                for (int a = 0; a < s->n_axes; a++)
                    printf(" %s", p->value[(size_t)i * (size_t)p->n_axes + (size_t)a]);
                putchar('\n');
            }
        }
    }
    sweep_points_free(p);
    sweep_spec_free(s);
    free(base);
    return rc;
}

/* ---- m4npu sweep report */

static int cmd_report(int argc, char **argv)
{
    enum { O_JSON = 256, O_CSV, O_PLOT, O_WHERE, O_WORKLOAD };
    static const struct option opts[] = {{"json", no_argument, NULL, O_JSON},
                                         {"csv", no_argument, NULL, O_CSV},
                                         {"plot", required_argument, NULL, O_PLOT},
                                         {"where", required_argument, NULL, O_WHERE},
                                         {"workload", required_argument, NULL, O_WORKLOAD},
                                         {NULL, 0, NULL, 0}};
    sweep_report_options o = {0};
    bool json = false, csv = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_JSON: json = true; break;
        case O_CSV: csv = true; break;
        case O_PLOT: o.plot_dir = optarg; break;
        case O_WHERE: o.where = optarg; break;
        case O_WORKLOAD: o.workload = optarg; break;
        default: fputs(usage, stderr); return CLI_USAGE;
        }
    }
    if (json && csv)
        return usage_error("report: --json and --csv exclude each other%s", "");
    if (optind + 1 != argc)
        return usage_error("report: expected one DIR (a sweep's --out directory)%s", "");
    o.format = json ? SWEEP_REPORT_JSON : csv ? SWEEP_REPORT_CSV : SWEEP_REPORT_TEXT;
    rt_error e;
    sweep_report *R;
    if (sweep_report_load(argv[optind], &o, &R, &e) != RT_OK) {
        fprintf(stderr, "m4npu sweep report: %s\n", e.msg);
        return exit_code(&e);
    }
    int rc = CLI_OK;
    if (sweep_report_write(R, &o, stdout, &e) != RT_OK) {
        fprintf(stderr, "m4npu sweep report: %s\n", e.msg);
        rc = CLI_IO;
    }
    fflush(stdout);
    if (rc == CLI_OK && o.plot_dir && sweep_report_plot(R, o.plot_dir, &e) != RT_OK) {
        fprintf(stderr, "m4npu sweep report: --plot: %s\n", e.msg);
        rc = CLI_IO;
    }
    sweep_report_free(R);
    return rc;
}

/* ---- m4npu sweep SPEC --out DIR */

static int run_sweep(int argc, char **argv)
{
    enum { O_OUT = 256, O_BACKEND, O_JOBS, O_CHUNK, O_RETRY, O_RERUN, O_SBATCH, O_POLL, O_QUIET };
    static const struct option opts[] = {{"out", required_argument, NULL, O_OUT},
                                         {"backend", required_argument, NULL, O_BACKEND},
                                         {"jobs", required_argument, NULL, O_JOBS},
                                         {"chunk", required_argument, NULL, O_CHUNK},
                                         {"retry", required_argument, NULL, O_RETRY},
                                         {"rerun-failed", no_argument, NULL, O_RERUN},
                                         {"sbatch-arg", required_argument, NULL, O_SBATCH},
                                         {"poll", required_argument, NULL, O_POLL},
                                         {"quiet", no_argument, NULL, O_QUIET},
                                         {NULL, 0, NULL, 0}};
    sweep_options o = {.presets_dir = presets_dir(), .version = M4NPU_VERSION, .progress = true};
    const char *sbatch[MAX_SBATCH_ARGS];
    bool slurm = false;
    long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_OUT: o.out_dir = optarg; break;
        case O_BACKEND:
            if (strcmp(optarg, "slurm") == 0)
                slurm = true;
            else if (strcmp(optarg, "local") != 0)
                return usage_error("--backend %s: expected local or slurm", optarg);
            break;
        case O_JOBS:
            if (parse_count(optarg, 1, 4096, &v))
                return usage_error("--jobs %s: expected 1..4096", optarg);
            o.jobs = (int)v;
            break;
        case O_CHUNK:
            if (parse_count(optarg, 1, INT_MAX, &v))
                return usage_error("--chunk %s: expected a number of points (1 or more)", optarg);
            o.chunk = (int)v;
            break;
        case O_RETRY:
            if (parse_count(optarg, 0, 100, &v))
                return usage_error("--retry %s: expected 0..100 rounds", optarg);
            o.retry = (int)v;
            break;
        case O_RERUN: o.rerun_failed = true; break;
        case O_SBATCH:
            if (o.n_sbatch_args == MAX_SBATCH_ARGS)
                return usage_error("at most %s --sbatch-arg", "32");
            sbatch[o.n_sbatch_args++] = optarg;
            break;
        case O_POLL: {
            char *end;
            o.poll_s = strtod(optarg, &end);
            if (*end || !(o.poll_s > 0) || o.poll_s > SECONDS_PER_HOUR)
                return usage_error("--poll %s: expected seconds, more than 0", optarg);
            break;
        }
        case O_QUIET:
            o.quiet = true;
            o.progress = false;
            break;
        default: fputs(usage, stderr); return CLI_USAGE;
        }
    }
    if (optind + 1 != argc)
        return usage_error("expected one SPEC%s", "");
    if (!o.out_dir)
        return usage_error("--out DIR is required (the results go to DIR/results.sqlite)%s", "");
    if (o.n_sbatch_args && !slurm)
        return usage_error("--sbatch-arg goes with --backend slurm%s", "");
    o.spec_path = argv[optind];
    o.sbatch_args = sbatch;
    if (!o.jobs) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        o.jobs = cpus > 0 ? (int)cpus : 1;
    }
    static char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "m4npu sweep: cannot find the m4npu binary (/proc/self/exe)\n");
        return CLI_IO;
    }
    self[n] = '\0';
    o.self_exe = self;
    rt_error e;
    sweep_summary sum;
    rt_status st = slurm ? sweep_slurm(&o, &sum, &e) : sweep_local(&o, &sum, &e);
    if (st != RT_OK)
        fprintf(stderr, "m4npu sweep: %s\n", e.msg);
    if (sum.points > 0 && !o.quiet)
        printf("m4npu sweep: %d points in %s/%s: %d ok, %d failed, %d missing; this run: %d points in %.1f s "
               "(%.0f points/hour)\n",
               sum.points, o.out_dir, SWEEP_STORE_FILE, sum.ok, sum.failed, sum.missing, sum.ran, sum.wall_s,
               sum.wall_s > 0 ? sum.ran / sum.wall_s * SECONDS_PER_HOUR : 0.0);
    if (sum.points > 0 && sum.missing && !o.quiet)
        fprintf(stderr, "m4npu sweep: %d points have no result: run the same command again to run them%s\n",
                sum.missing, slurm ? " (or add --retry N)" : "");
    if (st != RT_OK)
        return exit_code(&e);
    return sum.failed || sum.missing ? CLI_FAIL : CLI_OK;
}

int cmd_sweep(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    if (argc >= 2 && strcmp(argv[1], "point") == 0)
        return cmd_point(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    return run_sweep(argc, argv);
}
