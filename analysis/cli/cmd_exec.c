/* m4npu exec: run one ISA program on the simulated NPU through the driver and report cycles,
 * per-unit activity, bytes moved and any fault. */
#include "cli.h"
#include "cli_common.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph.h"
#include "isa_asm.h"
#include "m4npu_config.h"
#include "npu_drv.h"
#include "trace.h"

static const char usage[] =
    "usage: m4npu exec PROGRAM.s|PROGRAM.bin --config FILE [options]\n"
    "\n"
    "Assemble PROGRAM if it is assembly (.s, .asm), submit it as one job through the driver, run\n"
    "the device until the job completes, and print total cycles, per-unit busy cycles and\n"
    "utilisation, bytes moved and, on failure, the fault.\n"
    "\n"
    "The job's buffer table has --buffers buffers of --buffer-size bytes each, back to back in one\n"
    "data region: buffer i starts at data address i * buffer-size. --load and --dump addresses are\n"
    "data addresses.\n"
    "\n"
    "  --config FILE          NPU configuration (YAML, see docs/configs.md) (required)\n"
    "  --set KEY=VALUE        override one configuration key (repeatable)\n"
    "  --load ADDR=FILE       copy FILE into the data region at ADDR before the run (repeatable; at\n"
    "                         most the bytes from ADDR to the end of the region are read)\n"
    "  --dump ADDR:LEN=FILE   write LEN bytes of the data region at ADDR to FILE after the run\n"
    "  --buffers N            buffers in the job's table (1..16, default 16)\n"
    "  --buffer-size BYTES    bytes per buffer (default 65536)\n"
    "  --timing-only          account every cycle and byte but move and compute no data (no --dump:\n"
    "                         there would be nothing in it)\n"
    "  --timeout CYCLES       give up after this many device cycles (default 1e9)\n"
    "  --vcd FILE             dump the RTL tiles' waveforms (tiles with impl rtl): the matmul tile's\n"
    "                         to FILE, the softmax tile's too when it is the only rtl tile, else to\n"
    "                         FILE with .sm before its extension (FILE.sm.vcd); time in picoseconds of\n"
    "                         the NPU clock, from the device's cycle count (sim/README.md)\n"
    "  --timeline FILE        a Chrome/Perfetto timeline of the run: one slice per instruction on each\n"
    "                         unit's track and the job's, from an insn-level trace (m4npu trace\n"
    "                         timeline draws the same from a trace file)\n"
    "  --log                  print the firmware log on stderr\n"
    "  --trace FILE           record the driver/device traffic into FILE (m4npu trace --help)\n"
    "  --trace-level LEVEL    job (default) or insn: also every instruction per unit\n"
    "  --json                 print one JSON object\n"
    "  -h, --help             this help\n"
    "\n"
    "Output files (--dump, --vcd) appear together when the command succeeds (the VCD also when the\n"
    "job faults: it shows how); a file that cannot be written removes the others. The program is at\n"
    "most 64 MiB of instructions (256 MiB of assembly text).\n"
    "\n"
    "Exit: 0 the job completed, 1 it faulted or the program is invalid, 2 usage, 3 a file could not\n"
    "be read or written.\n";

#define MAX_TRANSFERS 32
#define DEFAULT_BUFFER_BYTES 65536ull
#define DEFAULT_TIMEOUT_CYCLES 1000000000ull

typedef struct transfer {
    uint64_t addr, len;
    const char *path;
} transfer;

typedef struct exec_opts {
    cli_common common; /* --config, --set, --json */
    const char *program, *config, *vcd, *trace, *trace_level, *timeline;
    transfer loads[MAX_TRANSFERS], dumps[MAX_TRANSFERS];
    size_t nloads, ndumps;
    uint32_t nbufs;
    uint64_t buffer_size, timeout;
    int timing_only, log, json;
} exec_opts;

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* ADDR=FILE (load) or ADDR:LEN=FILE (dump). */
static int parse_transfer(const char *arg, int with_len, transfer *t)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", arg);
    char *eq = strchr(buf, '=');
    if (!eq || !eq[1])
        return -1;
    *eq = '\0';
    t->path = arg + (eq - buf) + 1;
    char *colon = strchr(buf, ':');
    if (with_len != (colon != NULL))
        return -1;
    if (colon) {
        *colon = '\0';
        if (parse_u64(colon + 1, &t->len) != 0 || t->len == 0)
            return -1;
    }
    return parse_u64(buf, &t->addr);
}

static int parse_args(int argc, char **argv, exec_opts *o)
{
    enum { O_LOAD = 256, O_DUMP, O_BUFFERS, O_BUFSIZE, O_TIMING, O_TIMEOUT, O_VCD, O_LOG, O_TRACE, O_TRACE_LEVEL,
           O_TIMELINE };
    static const struct option opts[] = {
        CLI_OPTION_CONFIG,                               CLI_OPTION_SET,
        {"load", required_argument, NULL, O_LOAD},       {"dump", required_argument, NULL, O_DUMP},
        {"buffers", required_argument, NULL, O_BUFFERS}, {"buffer-size", required_argument, NULL, O_BUFSIZE},
        {"timing-only", no_argument, NULL, O_TIMING},    {"timeout", required_argument, NULL, O_TIMEOUT},
        {"vcd", required_argument, NULL, O_VCD},         {"log", no_argument, NULL, O_LOG},
        CLI_OPTION_JSON,                                 {"trace", required_argument, NULL, O_TRACE},
        {"trace-level", required_argument, NULL, O_TRACE_LEVEL}, {"timeline", required_argument, NULL, O_TIMELINE},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    cli_common_init(&o->common, "exec");
    o->nbufs = NPU_MAX_BUFFERS;
    o->buffer_size = DEFAULT_BUFFER_BYTES;
    o->timeout = DEFAULT_TIMEOUT_CYCLES;
    int c;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int shared = cli_common_parse(&o->common, c, optarg);
        if (shared < 0)
            return -1;
        if (shared > 0)
            continue;
        switch (c) {
        case O_LOAD:
            if (o->nloads == MAX_TRANSFERS || parse_transfer(optarg, 0, &o->loads[o->nloads++]) != 0) {
                fprintf(stderr, "m4npu exec: --load %s: expected ADDR=FILE\n", optarg);
                return -1;
            }
            break;
        case O_DUMP:
            if (o->ndumps == MAX_TRANSFERS || parse_transfer(optarg, 1, &o->dumps[o->ndumps++]) != 0) {
                fprintf(stderr, "m4npu exec: --dump %s: expected ADDR:LEN=FILE with LEN > 0\n", optarg);
                return -1;
            }
            break;
        case O_BUFFERS:
            if (parse_u64(optarg, &v) != 0 || v < 1 || v > NPU_MAX_BUFFERS) {
                fprintf(stderr, "m4npu exec: --buffers %s: expected 1..%d\n", optarg, NPU_MAX_BUFFERS);
                return -1;
            }
            o->nbufs = (uint32_t)v;
            break;
        case O_BUFSIZE:
            if (parse_u64(optarg, &o->buffer_size) != 0 || o->buffer_size == 0) {
                fprintf(stderr, "m4npu exec: --buffer-size %s: expected a positive byte count\n", optarg);
                return -1;
            }
            break;
        case O_TIMING: o->timing_only = 1; break;
        case O_TIMEOUT:
            if (parse_u64(optarg, &o->timeout) != 0 || o->timeout == 0) {
                fprintf(stderr, "m4npu exec: --timeout %s: expected a positive cycle count\n", optarg);
                return -1;
            }
            break;
        case O_VCD: o->vcd = optarg; break;
        case O_LOG: o->log = 1; break;
        case O_TIMELINE: o->timeline = optarg; break;
        case O_TRACE: o->trace = optarg; break;
        case O_TRACE_LEVEL: o->trace_level = optarg; break;
        default: goto bad;
        }
    }
    o->config = o->common.config;
    o->json = o->common.json;
    if (optind != argc - 1 || !o->config) {
        fprintf(stderr, "m4npu exec: expected one PROGRAM and --config FILE\n");
        return -1;
    }
    if (o->timing_only && o->ndumps) {
        fprintf(stderr, "m4npu exec: --timing-only moves and computes no data, so --dump would write what was there "
                        "before the run: run without --timing-only to dump results\n");
        return -1;
    }
    if (o->timeline && o->trace && (!o->trace_level || strcmp(o->trace_level, "insn") != 0)) {
        fprintf(stderr, "m4npu exec: --timeline draws every instruction: with --trace, give --trace-level insn\n");
        return -1;
    }
    o->program = argv[optind];
    return 0;
bad:
    fputs(usage, stderr);
    return -1;
}

static int is_assembly(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (strcmp(dot, ".s") == 0 || strcmp(dot, ".asm") == 0);
}

/* The program's bytes: assembled, or read as a binary. */
static int load_program(const char *path, uint8_t **bytes, size_t *len)
{
    uint8_t *src;
    size_t n;
    int rc = is_assembly(path) ? cli_read_file(path, ISA_ASM_MAX_SOURCE_BYTES, "assembly text", &src, &n)
                               : cli_read_file(path, ISA_MAX_PROGRAM_BYTES, "a program", &src, &n);
    if (rc != CLI_OK)
        return rc;
    if (!is_assembly(path)) {
        if (n == 0 || n % ISA_INSN_BYTES != 0) {
            fprintf(stderr, "m4npu exec: %s: %zu bytes is not a whole number of %d-byte instructions\n", path, n,
                    ISA_INSN_BYTES);
            free(src);
            return CLI_FAIL;
        }
        *bytes = src;
        *len = n;
        return CLI_OK;
    }
    isa_asm_result r;
    isa_status st = isa_assemble((const char *)src, n, path, &r);
    free(src);
    if (st != ISA_OK) {
        fputs(r.diagnostics ? r.diagnostics : "m4npu exec: assembly failed\n", stderr);
        isa_asm_result_free(&r);
        return CLI_FAIL;
    }
    if (r.size == 0) {
        fprintf(stderr, "m4npu exec: %s: the program has no instructions\n", path);
        isa_asm_result_free(&r);
        return CLI_FAIL;
    }
    *bytes = r.bytes;
    *len = r.size;
    r.bytes = NULL;
    isa_asm_result_free(&r);
    return CLI_OK;
}

static int do_loads(const exec_opts *o, npu_bo *data)
{
    for (size_t i = 0; i < o->nloads; i++) {
        uint8_t *bytes;
        size_t n;
        uint64_t addr = o->loads[i].addr, size = npu_bo_size(data);
        if (addr >= size) {
            fprintf(stderr, "m4npu exec: --load 0x%" PRIx64 "=%s: the address is outside the %" PRIu64
                            "-byte data region\n", addr, o->loads[i].path, size);
            return CLI_FAIL;
        }
        /* read no more than fits: an endless or huge file stops at the region's end */
        char kind[96];
        snprintf(kind, sizeof kind, "--load at 0x%" PRIx64 " (the data region's end)", addr);
        int rc = cli_read_file(o->loads[i].path, (size_t)(size - addr), kind, &bytes, &n);
        if (rc != CLI_OK)
            return rc;
        npu_drv_status st = npu_bo_write(data, o->loads[i].addr, bytes, n);
        free(bytes);
        if (st != NPU_DRV_OK) {
            fprintf(stderr, "m4npu exec: --load 0x%" PRIx64 "=%s: %zu bytes do not fit the %" PRIu64
                            "-byte data region\n", o->loads[i].addr, o->loads[i].path, n, npu_bo_size(data));
            return CLI_FAIL;
        }
    }
    return CLI_OK;
}

/* The dumps join the command's output set (written at its commit). */
static int do_dumps(const exec_opts *o, npu_bo *data, rt_outputs *out)
{
    for (size_t i = 0; i < o->ndumps; i++) {
        const transfer *t = &o->dumps[i];
        uint8_t *bytes = malloc(t->len);
        if (!bytes) {
            fprintf(stderr, "m4npu exec: --dump %s: out of memory\n", t->path);
            return CLI_FAIL;
        }
        if (npu_bo_read(data, t->addr, bytes, t->len) != NPU_DRV_OK) {
            fprintf(stderr, "m4npu exec: --dump 0x%" PRIx64 ":%" PRIu64 ": outside the %" PRIu64 "-byte data region\n",
                    t->addr, t->len, npu_bo_size(data));
            free(bytes);
            return CLI_FAIL;
        }
        int rc = cli_outputs_add_data(out, t->path, bytes, t->len);
        free(bytes);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/* --vcd FILE: the temporaries of the set that the device writes into (NULL for a tile that is
 * not rtl). The softmax tile's file is FILE with ".sm" before its extension when both are rtl. */
static int start_vcd(const exec_opts *o, const npu_device_config *cfg, npu_dev *dev, rt_outputs *out)
{
    int mm = cfg->matmul.impl == NPU_IMPL_RTL, sm = cfg->softmax.impl == NPU_IMPL_RTL;
    if (!mm && !sm) {
        fprintf(stderr, "m4npu exec: --vcd %s: no RTL tile is configured (npu.matmul.impl and npu.softmax.impl "
                        "are fast)\n", o->vcd);
        return CLI_FAIL;
    }
    char sm_name[4200];
    const char *dot = strrchr(o->vcd, '.'), *slash = strrchr(o->vcd, '/');
    if (dot && (!slash || dot > slash))
        snprintf(sm_name, sizeof sm_name, "%.*s.sm%s", (int)(dot - o->vcd), o->vcd, dot);
    else
        snprintf(sm_name, sizeof sm_name, "%s.sm", o->vcd);
    const char *mm_tmp = NULL, *sm_tmp = NULL;
    rt_error e;
    rt_status s = RT_OK;
    if (mm)
        s = rt_outputs_add(out, o->vcd, &mm_tmp, &e);
    if (s == RT_OK && sm)
        s = rt_outputs_add(out, mm ? sm_name : o->vcd, &sm_tmp, &e);
    if (s != RT_OK)
        return cli_file_error(s, e.msg);
    if (npu_dev_trace_vcd(dev, mm_tmp, sm_tmp) != NPU_DRV_OK) {
        fprintf(stderr, "m4npu exec: --vcd %s: %s\n", o->vcd, npu_dev_error(dev));
        return CLI_IO;
    }
    return CLI_OK;
}

/* Close the VCD files: a write that failed during the run (a full disk) is an error now. */
static int stop_vcd(const exec_opts *o, npu_dev *dev)
{
    if (npu_dev_trace_vcd(dev, NULL, NULL) == NPU_DRV_OK)
        return CLI_OK;
    fprintf(stderr, "m4npu exec: --vcd %s: %s\n", o->vcd, npu_dev_error(dev));
    return CLI_IO;
}

static const char *const unit_ids[NPU_UNIT_COUNT] = {"dma0", "dma1", "dma2", "dma3", "mm", "sm", "vec", "ctrl"};

static uint64_t total(const npu_counters *d, int ctr)
{
    uint64_t s = 0;
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        s += d->v[u][ctr];
    return s;
}

static void report_text(const exec_opts *o, const m4npu_config *whole, size_t ninsns, uint64_t cycles,
                        const npu_counters *d, const npu_job_result *res, npu_drv_status st, const char *err)
{
    const npu_device_config *cfg = &whole->npu;
    char label[1024], hash[M4NPU_CONFIG_HASH_HEX];
    printf("program   %s (%zu instructions) on %s\n", o->program, ninsns,
           cli_common_label(&o->common, o->config, whole, label, sizeof label));
    printf("config    %s (hash %s)%s\n", o->config, m4npu_config_hash_hex(whole, hash),
           o->timing_only ? "; timing only" : "");
    printf("status    %s\n", st == NPU_DRV_OK ? "ok" : "fault");
    if (st != NPU_DRV_OK)
        printf("fault     %s\n", err);
    printf("cycles    %" PRIu64 " (%.3f us at %.0f MHz)\n", cycles, (double)cycles / cfg->clock_mhz, cfg->clock_mhz);
    printf("\n%-5s %12s %12s %6s %8s %14s %14s\n", "unit", "busy", "stall", "util", "insns", "macs/elems",
           "dram bytes");
    for (int u = 0; u < NPU_UNIT_COUNT; u++) {
        if (u >= NPU_UNIT_DMA0 + (int)cfg->dma.channels && u <= NPU_UNIT_DMA3)
            continue;
        const uint64_t *c = d->v[u];
        printf("%-5s %12" PRIu64 " %12" PRIu64 " %5.1f%% %8" PRIu64 " %14" PRIu64 " %14" PRIu64 "\n", unit_ids[u],
               c[NPU_CTR_BUSY], c[NPU_CTR_STALL], cycles ? 100.0 * (double)c[NPU_CTR_BUSY] / (double)cycles : 0.0,
               c[NPU_CTR_INSNS], u == NPU_UNIT_MM ? c[NPU_CTR_MACS] : c[NPU_CTR_ELEMS],
               c[NPU_CTR_DRAM_RD] + c[NPU_CTR_DRAM_WR]);
    }
    printf("\ndram      %" PRIu64 " bytes read, %" PRIu64 " written\n", total(d, NPU_CTR_DRAM_RD), total(d, NPU_CTR_DRAM_WR));
    printf("sram      %" PRIu64 " bytes read, %" PRIu64 " written\n", total(d, NPU_CTR_SRAM_RD), total(d, NPU_CTR_SRAM_WR));
    (void)res;
}

static void report_json(const exec_opts *o, const m4npu_config *whole, size_t ninsns, uint64_t cycles,
                        const npu_counters *d, const npu_job_result *res, npu_drv_status st, const char *err)
{
    const npu_device_config *cfg = &whole->npu;
    json_t *root = json_object(), *units = json_object();
    m4npu_config_source src = cli_common_source(&o->common, o->config);
    json_object_set_new(root, "program", json_string(o->program));
    json_object_set_new(root, "config", json_string(cfg->name));
    json_object_set_new(root, "configuration", m4npu_config_source_json(whole, &src));
    json_object_set_new(root, "timing_only", json_boolean(o->timing_only));
    json_object_set_new(root, "instructions", json_integer((json_int_t)ninsns));
    json_object_set_new(root, "status", json_string(st == NPU_DRV_OK ? "ok" : "fault"));
    json_object_set_new(root, "cycles", json_integer((json_int_t)cycles));
    json_object_set_new(root, "time_s", json_real((double)cycles / (cfg->clock_mhz * 1e6)));
    for (int u = 0; u < NPU_UNIT_COUNT; u++) {
        if (u >= NPU_UNIT_DMA0 + (int)cfg->dma.channels && u <= NPU_UNIT_DMA3)
            continue;
        json_t *j = json_object();
        for (int c = 0; c < NPU_CTR_COUNT; c++)
            json_object_set_new(j, npu_counter_str((uint32_t)c), json_integer((json_int_t)d->v[u][c]));
        json_object_set_new(j, "utilisation",
                            json_real(cycles ? (double)d->v[u][NPU_CTR_BUSY] / (double)cycles : 0.0));
        json_object_set_new(units, unit_ids[u], j);
    }
    json_object_set_new(root, "units", units);
    uint64_t rd = total(d, NPU_CTR_DRAM_RD), wr = total(d, NPU_CTR_DRAM_WR);
    json_object_set_new(root, "dram_bytes", json_integer((json_int_t)(rd + wr)));
    json_object_set_new(root, "dram_read_bytes", json_integer((json_int_t)rd));
    json_object_set_new(root, "dram_write_bytes", json_integer((json_int_t)wr));
    json_object_set_new(root, "sram_read_bytes", json_integer((json_int_t)total(d, NPU_CTR_SRAM_RD)));
    json_object_set_new(root, "sram_write_bytes", json_integer((json_int_t)total(d, NPU_CTR_SRAM_WR)));
    if (st != NPU_DRV_OK) {
        json_t *f = json_object();
        json_object_set_new(f, "code", json_integer(res->fault));
        json_object_set_new(f, "name", json_string(npu_fault_str(res->fault)));
        json_object_set_new(f, "unit", json_string(npu_unit_str(res->fault_unit)));
        json_object_set_new(f, "instruction", json_integer(res->fault_insn));
        json_object_set_new(f, "address", json_integer((json_int_t)res->fault_addr));
        json_object_set_new(f, "message", json_string(err));
        json_object_set_new(root, "fault", f);
    }
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', stdout);
    json_decref(root);
}

/* --timeline: the trace drawn (one slice per instruction per unit), into the output set. */
static int add_timeline(const char *path, const char *trace, rt_outputs *out, int rc)
{
    char *json = NULL;
    size_t len = 0;
    trace_err e;
    if (trace_timeline(trace, &json, &len, &e) != TRACE_OK) {
        fprintf(stderr, "m4npu exec: --timeline %s: %s\n", path, e.msg);
        return CLI_FAIL;
    }
    int wrc = cli_outputs_add_data(out, path, json, len);
    free(json);
    return wrc != CLI_OK ? wrc : rc;
}

int cmd_exec(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    exec_opts o;
    if (parse_args(argc, argv, &o) != 0)
        return CLI_USAGE;

    m4npu_config cfg;
    int rc = cli_common_load(&o.common, o.config, &cfg);
    if (rc != CLI_OK)
        return rc;
    uint8_t *prog;
    size_t prog_len;
    rc = load_program(o.program, &prog, &prog_len);
    if (rc != CLI_OK)
        return rc;
    if (o.buffer_size > cfg.npu.dram.size_bytes / (2ull * o.nbufs)) {
        fprintf(stderr, "m4npu exec: %u buffers of %" PRIu64 " bytes do not fit the device's %" PRIu64
                        " bytes of memory\n", o.nbufs, o.buffer_size, cfg.npu.dram.size_bytes);
        free(prog);
        return CLI_USAGE;
    }

    rt_outputs *out = cli_outputs_new();
    if (!out) {
        free(prog);
        return CLI_FAIL;
    }
    /* no output may replace an input */
    rc = cli_outputs_protect(out, o.program);
    if (rc == CLI_OK && o.config)
        rc = cli_outputs_protect(out, o.config);
    for (size_t i = 0; rc == CLI_OK && i < o.nloads; i++)
        rc = cli_outputs_protect(out, o.loads[i].path);
    if (rc != CLI_OK) {
        cli_outputs_free(out);
        free(prog);
        return rc;
    }
    /* --timeline: the instructions come from an insn-level trace (--trace's, or a temporary one) */
    char tmp_trace[64] = "";
    const char *trace = o.trace, *level = o.trace_level;
    if (o.timeline && !o.trace) {
        snprintf(tmp_trace, sizeof tmp_trace, "/tmp/m4npu-exec-XXXXXX");
        int fd = mkstemp(tmp_trace);
        if (fd < 0) {
            fprintf(stderr, "m4npu exec: --timeline: cannot create a temporary trace in /tmp\n");
            cli_outputs_free(out);
            free(prog);
            return CLI_IO;
        }
        close(fd);
        trace = tmp_trace;
        level = "insn";
    }
    if ((rc = cli_trace_begin(trace, level, &cfg, argc, argv)) != CLI_OK) {
        if (tmp_trace[0])
            remove(tmp_trace);
        cli_outputs_free(out);
        free(prog);
        return rc;
    }

    char err[512];
    npu_dev *dev = npu_dev_open(&cfg.npu, err, sizeof err);
    if (!dev) {
        fprintf(stderr, "m4npu exec: %s: %s\n", o.config, err);
        cli_outputs_free(out);
        free(prog);
        return cli_trace_end(CLI_FAIL);
    }
    npu_bo *prog_bo = npu_bo_alloc(dev, prog_len);
    npu_bo *data = npu_bo_alloc(dev, o.buffer_size * o.nbufs);
    rc = (!prog_bo || !data) ? CLI_FAIL : CLI_OK;
    int faulted = 0;
    if (rc != CLI_OK)
        fprintf(stderr, "m4npu exec: %s\n", npu_dev_error(dev));
    if (rc == CLI_OK)
        rc = do_loads(&o, data);
    if (rc == CLI_OK && o.vcd)
        rc = start_vcd(&o, &cfg.npu, dev, out);
    if (rc == CLI_OK) {
        npu_bo_write(prog_bo, 0, prog, prog_len);
        npu_job job;
        memset(&job, 0, sizeof job);
        job.type = NPU_JOB_ISA;
        job.flags = o.timing_only ? NPU_JOB_F_TIMING_ONLY : 0;
        job.program.bo = prog_bo;
        job.nbufs = o.nbufs;
        for (uint32_t i = 0; i < o.nbufs; i++) {
            job.bufs[i].bo = data;
            job.bufs[i].offset = i * o.buffer_size;
            job.bufs[i].size = o.buffer_size;
        }
        npu_counters before, after, diff;
        npu_job_result res;
        memset(&res, 0, sizeof res);
        npu_fence fence;
        npu_dev_read_counters(dev, &before);
        npu_drv_status st = npu_submit(dev, &job, &fence);
        if (st == NPU_DRV_OK)
            st = npu_wait(dev, fence, o.timeout, &res);
        npu_dev_read_counters(dev, &after);
        npu_counters_diff(&before, &after, &diff);
        uint64_t cycles = res.end_cycle - res.start_cycle;
        if (st != NPU_DRV_OK && st != NPU_DRV_E_FAULT) {
            fprintf(stderr, "m4npu exec: %s\n", npu_dev_error(dev));
            rc = CLI_FAIL;
        } else {
            snprintf(err, sizeof err, "%s", npu_dev_error(dev));
            if (o.json)
                report_json(&o, &cfg, prog_len / ISA_INSN_BYTES, cycles, &diff, &res, st, err);
            else
                report_text(&o, &cfg, prog_len / ISA_INSN_BYTES, cycles, &diff, &res, st, err);
            if (st != NPU_DRV_OK) {
                fprintf(stderr, "m4npu exec: %s\n", err);
                rc = CLI_FAIL;
                faulted = 1;
            } else {
                rc = do_dumps(&o, data, out);
            }
        }
        if (o.log) {
            char log[8192];
            while (npu_dev_read_log(dev, log, sizeof log) > 0)
                fputs(log, stderr);
        }
    }
    /* the VCD is closed whatever happened; a write it could not make fails the command */
    if (o.vcd) {
        int vrc = stop_vcd(&o, dev);
        if (vrc != CLI_OK)
            rc = vrc;
    }
    npu_bo_free(prog_bo);
    npu_bo_free(data);
    npu_dev_close(dev);
    free(prog);
    rc = cli_trace_end(rc); /* the trace is whole once the device is closed */
    if ((rc == CLI_OK || faulted) && o.timeline)
        rc = add_timeline(o.timeline, trace, out, rc);
    if (tmp_trace[0])
        remove(tmp_trace);
    /* the files appear together: on success; after a fault the VCD and the timeline alone (no dump
     * was made), since they show how the job failed */
    if (rc == CLI_OK)
        rc = cli_outputs_commit(out);
    else if (faulted && cli_outputs_commit(out) != CLI_OK)
        rc = CLI_IO;
    cli_outputs_free(out);
    return rc;
}
