/* m4npu bench: how fast the simulator runs. Generates a long program that keeps every unit busy
 * (double-buffered DMA -> matmul -> softmax -> vector -> DMA, ordered by semaphores), runs it
 * through the driver, and prints simulated instructions and cycles per second of host time.
 * A benchmark, not a test: it prints numbers, it asserts nothing about them. */
#include "cli.h"
#include "cli_common.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_scale.h"
#include "isa_asm.h"
#include "m4npu_config.h"
#include "npu_drv.h"
#include "npu_sim.h"

static const char usage[] =
    "usage: m4npu bench [--config FILE] [--set KEY=VALUE ...] [--insns N] [--tiles | --scale] [--json]\n"
    "\n"
    "Run a long generated program (double-buffered DMA, matmul, softmax and vector work on every\n"
    "unit) twice, with numerics and in timing-only mode, and print simulated instructions per\n"
    "second and simulated cycles per second of host wall time for each, with the share of the\n"
    "control core's dispatches that ran ahead of the simulation's time without a wait\n"
    "(M4NPU_RUN_AHEAD=0: none; the results are the same). The program adapts to the configuration:\n"
    "tiles of 16 x 16 x 64 shrink to the array's rows and columns, the softmax tile's row length and\n"
    "the SRAM (two slots); stores use the last DMA channel (the only one, if one).\n"
    "\n"
    "  --config FILE      NPU configuration (default configs/test.yaml values)\n"
    "  --set KEY=VALUE    override a configuration key (repeatable)\n"
    "  --insns N          approximate program length in instructions (default 200000)\n"
    "  --tiles            instead: the same matmul (and softmax) program in fast and rtl mode at every\n"
    "                     tile size this build Verilated (configure with -DM4NPU_RTL_BENCH_SIZES=ON for\n"
    "                     8, 16 and 32), with simulated cycles per second of each and their ratio;\n"
    "                     --insns N sets the instructions per program (default 400)\n"
    "  --scale            instead: the host time of assembling and disassembling generated programs of\n"
    "                     10k, 20k, 40k, 80k and 160k lines, of importing, preparing and partitioning\n"
    "                     (onnx) an ONNX chain of as many elementwise nodes, building its NPU segments\n"
    "                     (segments) and one NPU segment of the whole chain (one-seg), with each size's\n"
    "                     ratio to the size before (about 2x per doubling is linear; the target is at\n"
    "                     most 2.3x)\n"
    "  --json             print one JSON object\n";

#define DEFAULT_INSNS 200000u
#define BLOCK_INSNS 19u
#define TIMEOUT_CYCLES (1ull << 62)

/* The program's sizes, adapted to the configuration: square tiles of t x t (at most the array's
 * rows and columns and the softmax tile's row length), k deep, two slots that fit in the SRAM,
 * stores on the last DMA channel (the loads' channel when there is only one). */
#define BENCH_TILE 16u
#define BENCH_K 64u
#define BENCH_SLOTS 2u
#define BENCH_ALIGN_BYTES 64u

typedef struct bench_shape {
    uint32_t t, k, slot_bytes, store_q;
} bench_shape;

static uint32_t align_up(uint32_t x) { return (x + BENCH_ALIGN_BYTES - 1) / BENCH_ALIGN_BYTES * BENCH_ALIGN_BYTES; }

/* Bytes of one slot: A [t][k], B [k][t], C int8 [t][t], the probabilities [t][t], f32 [t][t]. */
static uint32_t slot_bytes(uint32_t t, uint32_t k)
{
    return align_up(t * k) + align_up(k * t) + align_up(t * t) + align_up(t * t) + align_up(4 * t * t);
}

static bench_shape shape_for(const npu_device_config *d)
{
    bench_shape b;
    b.t = BENCH_TILE;
    if (b.t > d->matmul.rows)
        b.t = d->matmul.rows;
    if (b.t > d->matmul.cols)
        b.t = d->matmul.cols;
    if (b.t > d->softmax.max_len)
        b.t = d->softmax.max_len;
    b.k = BENCH_K;
    while (BENCH_SLOTS * slot_bytes(b.t, b.k) > d->sram.size_bytes && (b.k > 1 || b.t > 1)) {
        if (b.k > b.t || b.t == 1)
            b.k = (b.k + 1) / 2;
        else
            b.t = (b.t + 1) / 2;
    }
    b.slot_bytes = slot_bytes(b.t, b.k);
    b.store_q = d->dma.channels > 1 ? d->dma.channels - 1 : 0;
    return b;
}

/* One block per tile; slot s alternates so that loads of tile i+1 overlap work on tile i. The
 * semaphores: 0..1 loaded (dma0 -> mm), 2..3 slot free (store -> loads), 4..5 products (mm -> sm),
 * 6..7 probabilities (sm -> vec), 8..9 results (vec -> store). */
static char *generate(const bench_shape *b, uint32_t blocks, size_t *len)
{
    size_t cap = (size_t)blocks * 1024 + 256, n = 0;
    char *src = malloc(cap);
    if (!src)
        return NULL;
    unsigned t = b->t, k = b->k, sq = b->store_q;
    n += (size_t)snprintf(src + n, cap - n, "signal dma%u, 2\nsignal dma%u, 3\nmm.cfg 0, 1, 8\n", sq, sq);
    for (uint32_t i = 0; i < blocks; i++) {
        unsigned s = i % 2, base = s * b->slot_bytes;
        unsigned a = base, bb = a + align_up(t * k), cm = bb + align_up(k * t), pr = cm + align_up(t * t),
                 f = pr + align_up(t * t);
        n += (size_t)snprintf(src + n, cap - n,
                              "wait dma0, %u\n"
                              "dma.ld 0, 0, 0x%x, 0, %u, %u, %u, %u\n"
                              "dma.ld 0, 1, 0x%x, 0, %u, %u, %u, %u\n"
                              "signal dma0, %u\n"
                              "wait mm, %u\n"
                              "mm os, set, i8, nobias, rq, %u, %u, %u, 0x%x, 0x%x, 0x%x, i8, i8\n"
                              "signal mm, %u\n"
                              "wait sm, %u\n"
                              "sm nomask, 0x%x, 0x%x, %u, %u, 1000, 0\n"
                              "signal sm, %u\n"
                              "wait vec, %u\n"
                              "v.dequant i8, 0x%x, 0x%x, %u, 0.0078125\n"
                              "v.un gelu, f32, 0x%x, 0x%x, %u, %u, 0.0\n"
                              "signal vec, %u\n"
                              "wait dma%u, %u\n"
                              "dma.st %u, 2, 0x%x, 0, %u, %u, %u, %u\n"
                              "signal dma%u, %u\n",
                              2 + s, a, t, k, k, k, bb, k, t, t, t, s, s, t, t, k, a, bb, cm, 4 + s, 4 + s, cm, pr, t, t,
                              6 + s, 6 + s, f, pr, t * t, f, f, t, t, 8 + s, sq, 8 + s, sq, f, t, 4 * t, 4 * t, 4 * t,
                              sq, 2 + s);
    }
    n += (size_t)snprintf(src + n, cap - n, "end\n");
    *len = n;
    return src;
}

typedef struct bench_result {
    uint64_t insns, cycles;
    double seconds;
    uint64_t ran_ahead, waited; /* the control core's dispatches (npu_drv_run_ahead_counts) */
} bench_result;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run(const m4npu_config *cfg, const uint8_t *prog, size_t len, uint32_t flags, bench_result *r)
{
    char err[512];
    npu_dev *dev = npu_dev_open(&cfg->npu, err, sizeof err);
    if (!dev) {
        fprintf(stderr, "m4npu bench: %s\n", err);
        return CLI_FAIL;
    }
    npu_bo *pbo = npu_bo_alloc(dev, len), *data = npu_bo_alloc(dev, 3 * 65536);
    int rc = CLI_FAIL;
    if (pbo && data && npu_bo_write(pbo, 0, prog, len) == NPU_DRV_OK) {
        npu_job job;
        memset(&job, 0, sizeof job);
        job.type = NPU_JOB_ISA;
        job.flags = flags;
        job.program.bo = pbo;
        job.nbufs = 3;
        for (uint32_t i = 0; i < 3; i++)
            job.bufs[i] = (npu_buf_ref){data, i * 65536ull, 65536};
        npu_fence f;
        npu_job_result res;
        uint64_t ahead0, waited0;
        npu_drv_run_ahead_counts(&ahead0, &waited0);
        double t0 = now_s();
        if (npu_submit(dev, &job, &f) == NPU_DRV_OK && npu_wait(dev, f, TIMEOUT_CYCLES, &res) == NPU_DRV_OK) {
            r->seconds = now_s() - t0;
            r->insns = res.insns;
            r->cycles = res.end_cycle - res.start_cycle;
            npu_drv_run_ahead_counts(&r->ran_ahead, &r->waited);
            r->ran_ahead -= ahead0;
            r->waited -= waited0;
            rc = CLI_OK;
        }
    }
    if (rc != CLI_OK)
        fprintf(stderr, "m4npu bench: %s\n", npu_dev_error(dev));
    npu_bo_free(pbo);
    npu_bo_free(data);
    npu_dev_close(dev);
    return rc;
}

/* ---- --tiles: fast against rtl on one program per Verilated size */

#define TILE_BENCH_INSNS 400
#define TILE_BENCH_K 256

typedef struct tile_bench_row {
    char tile[16];
    uint32_t size;
    bench_result fast, rtl;
} tile_bench_row;

static int run_text(const m4npu_config *cfg, const char *src, bench_result *r)
{
    isa_asm_result prog;
    if (isa_assemble(src, strlen(src), "tiles.s", &prog) != ISA_OK) {
        fprintf(stderr, "m4npu bench: %s", prog.diagnostics ? prog.diagnostics : "cannot assemble\n");
        isa_asm_result_free(&prog);
        return CLI_FAIL;
    }
    int rc = run(cfg, prog.bytes, prog.size, 0, r);
    isa_asm_result_free(&prog);
    return rc;
}

static char *repeat(const char *line, int times)
{
    size_t n = strlen(line), cap = n * (size_t)times + 8;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    for (int i = 0; i < times; i++)
        memcpy(s + n * (size_t)i, line, n);
    memcpy(s + n * (size_t)times, "end\n", 5);
    return s;
}

/* One row: the same program with the tile fast, then rtl. */
static int bench_tile(m4npu_config cfg, const char *tile, uint32_t size, const char *line, int insns,
                      tile_bench_row *row)
{
    snprintf(row->tile, sizeof row->tile, "%s", tile);
    row->size = size;
    char *src = repeat(line, insns);
    if (!src)
        return CLI_FAIL;
    int rc = run_text(&cfg, src, &row->fast);
    if (strcmp(tile, "matmul") == 0)
        cfg.npu.matmul.impl = NPU_IMPL_RTL;
    else
        cfg.npu.softmax.impl = NPU_IMPL_RTL;
    if (rc == CLI_OK)
        rc = run_text(&cfg, src, &row->rtl);
    free(src);
    return rc;
}

/* The matmul sizes in a list such as "16x16/8, 64x64/64": rows, cols, output-stage lanes. */
static size_t parse_mm_sizes(const char *list, uint32_t (*out)[3], size_t max)
{
    size_t n = 0;
    for (const char *p = list; p && *p && n < max;) {
        unsigned r, c, l;
        if (sscanf(p, " %ux%u/%u", &r, &c, &l) == 3) {
            out[n][0] = r;
            out[n][1] = c;
            out[n][2] = l;
            n++;
        }
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return n;
}

/* The sizes in a list such as "4 lanes/512, 8 lanes/512": the leading numbers. */
static size_t parse_sizes(const char *list, uint32_t *out, size_t max)
{
    size_t n = 0;
    for (const char *p = list; *p && n < max;) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        out[n++] = (uint32_t)v;
        p = strchr(end, ',');
        if (!p)
            break;
        p++;
    }
    return n;
}

static int bench_tiles(const m4npu_config *base, int insns, int json)
{
    uint32_t mm[8][3], sm[8];
    size_t nmm = parse_mm_sizes(npu_sim_rtl_matmul_sizes(), mm, 8), nsm = parse_sizes(npu_sim_rtl_softmax_sizes(), sm, 8);
    tile_bench_row rows[16];
    size_t nrows = 0;
    char line[160];
    for (size_t i = 0; i < nmm; i++) {
        m4npu_config cfg = *base;
        cfg.npu.matmul.rows = mm[i][0];
        cfg.npu.matmul.cols = mm[i][1];
        cfg.npu.matmul.output_stage.lanes = mm[i][2];
        snprintf(line, sizeof line, "mm os, set, i8, nobias, i32, %u, %u, %u, 0x0, 0x10000, 0x20000, i8, i8\n",
                 mm[i][0], mm[i][1], TILE_BENCH_K);
        if (bench_tile(cfg, "matmul", mm[i][0], line, insns, &rows[nrows++]) != CLI_OK)
            return CLI_FAIL;
    }
    for (size_t i = 0; i < nsm; i++) {
        m4npu_config cfg = *base;
        cfg.npu.softmax.lanes = sm[i];
        snprintf(line, sizeof line, "sm causal, 0x0, 0x10000, %u, 8, 1000, 0\n", cfg.npu.softmax.max_len);
        if (bench_tile(cfg, "softmax", sm[i], line, insns, &rows[nrows++]) != CLI_OK)
            return CLI_FAIL;
    }
    if (json) {
        json_t *root = json_object(), *arr = json_array();
        for (size_t i = 0; i < nrows; i++) {
            json_t *j = json_object();
            json_object_set_new(j, "tile", json_string(rows[i].tile));
            json_object_set_new(j, "size", json_integer(rows[i].size));
            json_object_set_new(j, "cycles", json_integer((json_int_t)rows[i].fast.cycles));
            json_object_set_new(j, "fast_cycles_per_s", json_real((double)rows[i].fast.cycles / rows[i].fast.seconds));
            json_object_set_new(j, "rtl_cycles_per_s", json_real((double)rows[i].rtl.cycles / rows[i].rtl.seconds));
            json_object_set_new(j, "speed_ratio", json_real(rows[i].rtl.seconds / rows[i].fast.seconds));
            json_object_set_new(j, "same_cycles", json_boolean(rows[i].fast.cycles == rows[i].rtl.cycles));
            json_array_append_new(arr, j);
        }
        json_object_set_new(root, "tiles", arr);
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(root);
        return CLI_OK;
    }
    printf("%d instructions per program (matmul m = n = size, k = %d; softmax 8 rows of max_len)\n", insns,
           TILE_BENCH_K);
    printf("%-8s %5s %12s %16s %16s %10s %8s\n", "tile", "size", "sim cycles", "fast cycles/s", "rtl cycles/s",
           "fast/rtl", "same");
    for (size_t i = 0; i < nrows; i++)
        printf("%-8s %5u %12" PRIu64 " %16.0f %16.0f %9.1fx %8s\n", rows[i].tile, rows[i].size, rows[i].fast.cycles,
               (double)rows[i].fast.cycles / rows[i].fast.seconds, (double)rows[i].rtl.cycles / rows[i].rtl.seconds,
               rows[i].rtl.seconds / rows[i].fast.seconds, rows[i].fast.cycles == rows[i].rtl.cycles ? "yes" : "NO");
    return CLI_OK;
}

#define SCALE_MAX_ROWS 64

static int bench_scale(int json)
{
    bench_scale_row rows[SCALE_MAX_ROWS];
    size_t n;
    if (bench_scale_measure(rows, SCALE_MAX_ROWS, &n) != 0)
        return CLI_FAIL;
    if (!json) {
        bench_scale_print(stdout, rows, n);
        return CLI_OK;
    }
    json_t *root = json_object();
    json_object_set_new(root, "scale", bench_scale_json(rows, n));
    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
    fputc('\n', stdout);
    json_decref(root);
    return CLI_OK;
}

int cmd_bench(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    enum { O_INSNS = 256, O_TILES, O_SCALE };
    static const struct option opts[] = {CLI_OPTION_CONFIG,
                                         CLI_OPTION_SET,
                                         {"insns", required_argument, NULL, O_INSNS},
                                         {"tiles", no_argument, NULL, O_TILES},
                                         {"scale", no_argument, NULL, O_SCALE},
                                         CLI_OPTION_JSON,
                                         {NULL, 0, NULL, 0}};
    cli_common common;
    cli_common_init(&common, "bench");
    unsigned long insns = DEFAULT_INSNS;
    int tiles = 0, scale = 0, insns_given = 0, c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int shared = cli_common_parse(&common, c, optarg);
        if (shared < 0)
            return CLI_USAGE;
        if (shared > 0)
            continue;
        switch (c) {
        case O_INSNS:
            insns = strtoul(optarg, &end, 0);
            insns_given = 1;
            if (*end || insns < BLOCK_INSNS || insns > 50000000ul) {
                fprintf(stderr, "m4npu bench: --insns %s: expected %u..50000000\n", optarg, BLOCK_INSNS);
                return CLI_USAGE;
            }
            break;
        case O_TILES: tiles = 1; break;
        case O_SCALE: scale = 1; break;
        default: fputs(usage, stderr); return CLI_USAGE;
        }
    }
    if (optind != argc || (tiles && scale)) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    int json = common.json;
    if (scale)
        return bench_scale(json);
    m4npu_config cfg;
    int rc = cli_common_load(&common, common.config, &cfg);
    if (rc != CLI_OK)
        return rc;
    if (tiles)
        return bench_tiles(&cfg, insns_given ? (int)insns : TILE_BENCH_INSNS, json);
    size_t src_len;
    bench_shape shape = shape_for(&cfg.npu);
    char *src = generate(&shape, (uint32_t)(insns / BLOCK_INSNS), &src_len);
    isa_asm_result prog;
    if (!src || isa_assemble(src, src_len, "bench.s", &prog) != ISA_OK) {
        fprintf(stderr, "m4npu bench: cannot generate the program\n");
        free(src);
        return CLI_FAIL;
    }
    free(src);
    bench_result numeric, timing;
    rc = run(&cfg, prog.bytes, prog.size, 0, &numeric);
    if (rc == CLI_OK)
        rc = run(&cfg, prog.bytes, prog.size, NPU_JOB_F_TIMING_ONLY, &timing);
    isa_asm_result_free(&prog);
    if (rc != CLI_OK)
        return rc;
    const bench_result *rs[2] = {&numeric, &timing};
    const char *names[2] = {"numerics", "timing_only"};
    if (json) {
        json_t *root = json_object();
        json_object_set_new(root, "config", json_string(cfg.npu.name));
        m4npu_config_source src = cli_common_source(&common, common.config);
        json_object_set_new(root, "configuration", m4npu_config_source_json(&cfg, &src));
        for (int i = 0; i < 2; i++) {
            json_t *j = json_object();
            json_object_set_new(j, "instructions", json_integer((json_int_t)rs[i]->insns));
            json_object_set_new(j, "cycles", json_integer((json_int_t)rs[i]->cycles));
            json_object_set_new(j, "wall_s", json_real(rs[i]->seconds));
            json_object_set_new(j, "insns_per_s", json_real((double)rs[i]->insns / rs[i]->seconds));
            json_object_set_new(j, "cycles_per_s", json_real((double)rs[i]->cycles / rs[i]->seconds));
            json_object_set_new(j, "dispatches_ran_ahead", json_integer((json_int_t)rs[i]->ran_ahead));
            json_object_set_new(j, "dispatches_waited", json_integer((json_int_t)rs[i]->waited));
            json_object_set_new(root, names[i], j);
        }
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(root);
        return CLI_OK;
    }
    char label[1024];
    printf("bench on %s: %" PRIu64 " instructions, %" PRIu64 " simulated cycles\n",
           cli_common_label(&common, common.config, &cfg, label, sizeof label), numeric.insns,
           numeric.cycles);
    printf("%-12s %10s %16s %18s %10s\n", "mode", "wall s", "insns/s", "sim cycles/s", "ran ahead");
    for (int i = 0; i < 2; i++) {
        uint64_t dispatches = rs[i]->ran_ahead + rs[i]->waited;
        printf("%-12s %10.3f %16.0f %18.0f %9.1f%%\n", names[i], rs[i]->seconds, (double)rs[i]->insns / rs[i]->seconds,
               (double)rs[i]->cycles / rs[i]->seconds, dispatches ? 100.0 * (double)rs[i]->ran_ahead / (double)dispatches : 0.0);
    }
    puts("(ran ahead: the control core's dispatches made without a SystemC wait, sim/README.md)");
    return CLI_OK;
}
