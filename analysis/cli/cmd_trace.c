/* m4npu trace: record, replay, diff, dump and draw traces of the driver/device boundary
 * (traces/, trace_format.h). Also the --trace FILE option that exec, run and whatif share:
 * `trace record -- m4npu COMMAND ...` runs COMMAND in this process with a recording requested,
 * and the command starts it once its configuration is loaded (the header holds it). */
#include "cli.h"
#include "cli_common.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "m4npu_config.h"
#include "trace.h"

#ifndef M4NPU_VERSION
#define M4NPU_VERSION "unknown"
#endif

#define CMDLINE_BYTES 4096

static const char usage[] =
    "usage: m4npu trace record -o FILE [--level job|insn] -- m4npu COMMAND [ARGS]\n"
    "       m4npu trace replay FILE [--config FILE] [--set KEY=VALUE ...] [--retime]\n"
    "       m4npu trace diff A B\n"
    "       m4npu trace dump FILE\n"
    "       m4npu trace stats FILE\n"
    "       m4npu trace timeline FILE -o TIMELINE.json\n"
    "\n"
    "A trace holds everything that crossed the driver/device boundary during one m4npu command:\n"
    "register reads (with the values read) and writes, device-memory writes (content stored once)\n"
    "and reads (content hashes), runs until the interrupt, job completions with their cycles and\n"
    "counters, and at --level insn every instruction's issue and completion per unit (docs/traces.md).\n"
    "\n"
    "  record    run COMMAND (exec, run or whatif) in this process and record it into FILE\n"
    "            (the same as COMMAND's own --trace FILE [--trace-level LEVEL])\n"
    "  replay    drive the device alone with the recorded host traffic and check the interrupts,\n"
    "            every job's cycles and status, every value and content the host read; stops at the\n"
    "            first divergence (record, job, unit, instruction, expected and actual)\n"
    "            --config FILE / --set KEY=VALUE  replay on another configuration\n"
    "            --retime  a changed configuration is not a failure: print each job's cycles,\n"
    "                      recorded and now (timing-dependent reads are tolerated and counted)\n"
    "  diff      the first record that differs, then cycles per job side by side\n"
    "  dump      one line per record, stable across runs (diff two dumps in review)\n"
    "  stats     records per type, their bytes before compression, bytes per job\n"
    "  timeline  Chrome/Perfetto trace-event JSON: one slice per instruction per unit and per job\n"
    "            (an insn-level trace)\n"
    "\n"
    "Exit: 0 ok (replay clean, diff identical), 1 a divergence, a difference or a bad trace (the\n"
    "message names the byte offset or record), 2 usage, 3 a file could not be read or written.\n";

/* ---------------------------------------------------------------- --trace, shared */

static struct {
    const char *path; /* requested by `trace record` */
    const char *level;
} pending;

static int parse_level(const char *s, uint32_t *level)
{
    if (!s || strcmp(s, "job") == 0)
        *level = TRACE_LEVEL_JOB;
    else if (strcmp(s, "insn") == 0)
        *level = TRACE_LEVEL_INSN;
    else
        return -1;
    return 0;
}

/* argv joined with spaces, words with spaces or quotes in single quotes, without the --trace
 * options (where the trace goes is not part of what was run: `--trace F` and `trace record -o F`
 * give the same trace). */
static void join_argv(int argc, char **argv, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && n + 1 < cap; i++) {
        if (strcmp(argv[i], "--trace") == 0 || strcmp(argv[i], "--trace-level") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--trace=", 8) == 0 || strncmp(argv[i], "--trace-level=", 14) == 0)
            continue;
        int quote = strpbrk(argv[i], " \t'\"") != NULL || !argv[i][0];
        int k = snprintf(buf + n, cap - n, "%s%s%s%s", i ? " " : "", quote ? "'" : "", argv[i], quote ? "'" : "");
        if (k < 0)
            break;
        n = n + (size_t)k < cap ? n + (size_t)k : cap - 1;
    }
}

int cli_trace_begin(const char *path, const char *level, const m4npu_config *cfg, int argc, char **argv)
{
    if (!path) {
        path = pending.path;
        level = level ? level : pending.level;
    }
    if (!path)
        return CLI_OK;
    uint32_t lv;
    if (parse_level(level, &lv) != 0) {
        fprintf(stderr, "m4npu: --trace-level %s: expected job or insn\n", level);
        return CLI_USAGE;
    }
    char *yaml = NULL, cmd[CMDLINE_BYTES];
    size_t len = 0;
    FILE *f = open_memstream(&yaml, &len);
    if (!f || m4npu_config_write_yaml(cfg, f) != 0 || fclose(f) != 0) {
        fprintf(stderr, "m4npu: --trace %s: cannot serialise the configuration\n", path);
        free(yaml);
        return CLI_FAIL;
    }
    snprintf(cmd, sizeof cmd, "m4npu ");
    join_argv(argc, argv, cmd + strlen(cmd), sizeof cmd - strlen(cmd));
    trace_record_opts o = {path, lv, M4NPU_VERSION, cmd, yaml, 0};
    trace_err e;
    trace_status st = trace_record_start(&o, &e);
    free(yaml);
    if (st != TRACE_OK) {
        fprintf(stderr, "m4npu: --trace: %s\n", e.msg);
        return st == TRACE_E_IO ? CLI_IO : CLI_FAIL;
    }
    return CLI_OK;
}

int cli_trace_end(int rc)
{
    if (!trace_recording())
        return rc;
    trace_err e;
    if (trace_record_stop(&e) != TRACE_OK) {
        fprintf(stderr, "m4npu: --trace: %s\n", e.msg);
        return rc == CLI_OK ? CLI_IO : rc;
    }
    return rc;
}

/* ---------------------------------------------------------------- subcommands */

static int exit_of(trace_status st)
{
    switch (st) {
    case TRACE_OK: return CLI_OK;
    case TRACE_E_IO: return CLI_IO;
    default: return CLI_FAIL;
    }
}

static int cmd_record(int argc, char **argv)
{
    /* parsed by hand: getopt's hidden state would leak into the command run below */
    const char *out = NULL, *level = "job";
    int optind = 1;
    for (; optind < argc && strcmp(argv[optind], "--") != 0; optind++) {
        int has_value = optind + 1 < argc;
        if ((strcmp(argv[optind], "-o") == 0 || strcmp(argv[optind], "--output") == 0) && has_value)
            out = argv[++optind];
        else if (strcmp(argv[optind], "--level") == 0 && has_value)
            level = argv[++optind];
        else {
            fprintf(stderr, "m4npu trace record: unexpected '%s'\n%s", argv[optind], usage);
            return CLI_USAGE;
        }
    }
    optind++; /* past "--" */
    uint32_t lv;
    if (parse_level(level, &lv) != 0) {
        fprintf(stderr, "m4npu trace record: --level %s: expected job or insn\n", level);
        return CLI_USAGE;
    }
    if (!out || optind + 1 >= argc) {
        fprintf(stderr, "m4npu trace record: expected -o FILE -- m4npu COMMAND [ARGS]\n");
        return CLI_USAGE;
    }
    const char *prog = argv[optind], *slash = strrchr(prog, '/');
    if (strcmp(slash ? slash + 1 : prog, "m4npu") != 0) {
        fprintf(stderr, "m4npu trace record: expected 'm4npu COMMAND ...' after --, not '%s'\n", prog);
        return CLI_USAGE;
    }
    const char *name = argv[optind + 1];
    if (strcmp(name, "exec") != 0 && strcmp(name, "run") != 0 && strcmp(name, "whatif") != 0) {
        fprintf(stderr, "m4npu trace record: '%s' cannot be traced; exec, run and whatif can\n", name);
        return CLI_USAGE;
    }
    const cli_command *cmd = cli_find_command(name);
    pending.path = out;
    pending.level = level;
    int rc = cmd->run(argc - optind - 1, argv + optind + 1);
    rc = cli_trace_end(rc); /* a command that returned early never started it: nothing to do */
    pending.path = NULL;
    return rc;
}

static int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {CLI_OPTION_CONFIG, CLI_OPTION_SET, {"retime", no_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    cli_common common;
    cli_common_init(&common, "trace replay");
    int c, retime = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:", opts, NULL)) != -1) {
        int shared = cli_common_parse(&common, c, optarg);
        if (shared < 0)
            return CLI_USAGE;
        if (shared > 0)
            continue;
        if (c != 'r') {
            fputs(usage, stderr);
            return CLI_USAGE;
        }
        retime = 1;
    }
    trace_replay_opts o = {common.config, common.sets, common.nsets, retime};
    if (optind != argc - 1) {
        fprintf(stderr, "m4npu trace replay: expected one trace FILE\n");
        return CLI_USAGE;
    }
    const char *path = argv[optind];
    trace_replay_result res;
    trace_err e;
    trace_status st = trace_replay(path, &o, &res, &e);
    if (st == TRACE_E_DIVERGED) {
        fprintf(stderr, "m4npu trace replay: %s: diverged at %s\n", path, res.divergence);
        if (res.config_changed)
            fprintf(stderr, "m4npu trace replay: the configuration differs from the recorded one: --retime re-times "
                            "the workload instead of checking it\n");
        else
            fprintf(stderr, "m4npu trace replay: if this change of behaviour is intended, regenerate the golden "
                            "traces: scripts/update-golden.sh\n");
    } else if (st != TRACE_OK) {
        fprintf(stderr, "m4npu trace replay: %s\n", e.msg);
    } else if (o.retime) {
        printf("%-6s %-8s %-7s %14s %14s %14s %9s\n", "#", "job", "state", "recorded", "now", "now - rec", "change");
        uint64_t rec_total = 0, now_total = 0;
        for (size_t i = 0; i < res.njobs; i++) {
            const trace_job_timing *j = &res.jobs[i];
            rec_total += j->recorded_cycles;
            now_total += j->replayed_cycles;
            printf("%-6zu %-8u %-7s %14" PRIu64 " %14" PRIu64 " %+14" PRId64 " %+8.2f%%\n", i, j->job_id,
                   j->state == NPU_JOB_DONE ? "done" : "failed", j->recorded_cycles, j->replayed_cycles,
                   (int64_t)(j->replayed_cycles - j->recorded_cycles),
                   j->recorded_cycles ? 100.0 * ((double)j->replayed_cycles - (double)j->recorded_cycles) /
                                            (double)j->recorded_cycles
                                      : 0.0);
        }
        printf("%-6s %-8s %-7s %14" PRIu64 " %14" PRIu64 " %+14" PRId64 "\n", "total", "", "", rec_total, now_total,
               (int64_t)(now_total - rec_total));
        printf("re-timed %zu jobs (%" PRIu64 " records); %" PRIu64 " timing-dependent values differed%s", res.njobs,
               res.records, res.timing_reads, res.config_changed ? "" : " (the configuration is the recorded one)");
        if (res.data_reads_differ)
            printf("; %" PRIu64 " data reads differ (the results depend on the configuration)", res.data_reads_differ);
        printf("\n");
    } else {
        printf("replayed %s: %" PRIu64 " records, %zu jobs, all as recorded\n", path, res.records, res.njobs);
    }
    trace_replay_result_free(&res);
    if (st == TRACE_OK && fflush(stdout) != 0)
        return CLI_IO;
    return exit_of(st);
}

static int cmd_dump(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "m4npu trace dump: expected one trace FILE\n");
        return CLI_USAGE;
    }
    trace_err e;
    trace_status st = trace_dump(argv[1], stdout, &e);
    if (st != TRACE_OK)
        fprintf(stderr, "m4npu trace dump: %s\n", e.msg);
    if (st == TRACE_OK && fflush(stdout) != 0)
        return CLI_IO;
    return exit_of(st);
}

static int cmd_stats(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "m4npu trace stats: expected one trace FILE\n");
        return CLI_USAGE;
    }
    trace_err e;
    trace_status st = trace_stats(argv[1], stdout, &e);
    if (st != TRACE_OK)
        fprintf(stderr, "m4npu trace stats: %s\n", e.msg);
    if (st == TRACE_OK && fflush(stdout) != 0)
        return CLI_IO;
    return exit_of(st);
}

static int cmd_diff(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "m4npu trace diff: expected two trace files A B\n");
        return CLI_USAGE;
    }
    trace_err e;
    int same = 0;
    trace_status st = trace_diff(argv[1], argv[2], stdout, &same, &e);
    if (st != TRACE_OK) {
        fprintf(stderr, "m4npu trace diff: %s\n", e.msg);
        return exit_of(st);
    }
    if (fflush(stdout) != 0)
        return CLI_IO;
    return same ? CLI_OK : CLI_FAIL;
}

static int cmd_timeline(int argc, char **argv)
{
    const char *out = NULL, *in = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
            out = argv[++i];
        else if (!in && argv[i][0] != '-')
            in = argv[i];
        else {
            fprintf(stderr, "m4npu trace timeline: unexpected '%s'\n", argv[i]);
            return CLI_USAGE;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "m4npu trace timeline: expected FILE -o TIMELINE.json\n");
        return CLI_USAGE;
    }
    char *json;
    size_t len;
    trace_err e;
    trace_status st = trace_timeline(in, &json, &len, &e);
    if (st != TRACE_OK) {
        fprintf(stderr, "m4npu trace timeline: %s\n", e.msg);
        return exit_of(st);
    }
    /* through an output set: whole or absent, and never over the trace it was made from */
    rt_outputs *set = cli_outputs_new();
    int rc = set ? cli_outputs_protect(set, in) : CLI_FAIL;
    if (rc == CLI_OK)
        rc = cli_outputs_add_data(set, out, json, len);
    if (rc == CLI_OK)
        rc = cli_outputs_commit(set);
    cli_outputs_free(set);
    free(json);
    return rc;
}

int cmd_trace(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "record") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            fputs(usage, stdout);
            return CLI_OK;
        }
        return cmd_record(argc - 1, argv + 1);
    }
    if (cli_wants_help(argc - 1, argv + 1, usage))
        return CLI_OK;
    if (strcmp(sub, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(sub, "dump") == 0)
        return cmd_dump(argc - 1, argv + 1);
    if (strcmp(sub, "stats") == 0)
        return cmd_stats(argc - 1, argv + 1);
    if (strcmp(sub, "diff") == 0)
        return cmd_diff(argc - 1, argv + 1);
    if (strcmp(sub, "timeline") == 0)
        return cmd_timeline(argc - 1, argv + 1);
    fprintf(stderr, "m4npu trace: unknown subcommand '%s'\n\n%s", sub, usage);
    return CLI_USAGE;
}
