/* m4npu calibrate: the fast model against the RTL tiles. Runs random instructions on both (the
 * fast model: isa_exec's result and the simulator's analytic latency; the RTL: the Verilated
 * tile stepped cycle by cycle) from the same SRAM contents, and reports per tile the cycle error
 * and whether every result was bit-identical. The matmul tile's configuration (mm.cfg, mm.out)
 * goes through both as instructions too, so each keeps its own state as a device would. Fails
 * when the targets are missed. */
#include "cli.h"
#include "cli_common.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "isa_exec.h"
#include "m4npu_config.h"
#include "npu_sim.h"
#include "tile_rtl.h"

static const char usage[] =
    "usage: m4npu calibrate --config FILE [--set KEY=VALUE ...] [--cases N] [--seed S] [--json]\n"
    "\n"
    "Run N random instructions per tile on the fast model and on the Verilated RTL tile of the\n"
    "configured geometry (npu.matmul rows x cols and output_stage.lanes; npu.softmax lanes and\n"
    "max_len), from the same SRAM contents, and print per tile the mean and maximum absolute cycle\n"
    "error (percent of the RTL's cycles) and whether every result was bit-identical. Shapes include\n"
    "1, tile size - 1, tile size, tile size + 1 in the streaming dimension, non-multiples of the lane\n"
    "counts, both dataflows, int4 weights, accumulate/bias/requantise in both forms of the output\n"
    "stage (mm.cfg per tensor, mm.out per channel by column or row, with its table), masked and\n"
    "unmasked rows.\n"
    "\n"
    "  --config FILE    configuration (its tile geometry must have been Verilated in this build)\n"
    "  --set KEY=VALUE  override a configuration key (repeatable)\n"
    "  --cases N        instructions per tile (default 500; for the matmul tile every other one\n"
    "                   configures its output stage: mm.cfg or mm.out, then an mm)\n"
    "  --seed S         random seed (default 1)\n"
    "  --json           {\"tiles\": {\"matmul\": {\"cases\", \"mean_abs_err_pct\", \"max_abs_err_pct\",\n"
    "                   \"bit_exact\"}, \"softmax\": {...}}, \"targets\": {...}, \"pass\"}\n"
    "\n"
    "Targets: mean absolute cycle error <= 0.2%, maximum <= 1%, every result bit-exact.\n"
    "Exit: 0 targets met, 1 missed (or the RTL failed), 2 usage, 3 a file could not be read.\n";

#define DEFAULT_CASES 500
#define TARGET_MEAN_PCT 0.2
#define TARGET_MAX_PCT 1.0
#define MAX_K 600      /* longest streamed dimension drawn (keeps a case fast on the RTL) */
#define MAX_SM_ROWS 8

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t pick(rng *r, uint32_t lo, uint32_t hi) { return lo + (uint32_t)(next(r) % (hi - lo + 1)); }

/* A dimension bounded by the tile: 1, size-1, size, or anything in between (non-multiples). */
static uint32_t bounded_dim(rng *r, uint32_t size)
{
    switch (next(r) % 4) {
    case 0: return 1;
    case 1: return size > 1 ? size - 1 : 1;
    case 2: return size;
    default: return pick(r, 1, size);
    }
}

/* A streamed dimension: also size + 1 and beyond. */
static uint32_t streamed_dim(rng *r, uint32_t size)
{
    switch (next(r) % 5) {
    case 0: return 1;
    case 1: return size > 1 ? size - 1 : 1;
    case 2: return size;
    case 3: return size + 1;
    default: return pick(r, 1, MAX_K);
    }
}

typedef struct tile_stats {
    const char *name;
    uint32_t cases, mismatched_results;
    double sum_abs_pct, max_abs_pct;
    uint64_t rtl_cycles, fast_cycles;
} tile_stats;

static void record(tile_stats *t, uint64_t rtl, uint64_t fast, int same_bytes)
{
    double pct = rtl ? 100.0 * fabs((double)rtl - (double)fast) / (double)rtl : (fast ? 100.0 : 0.0);
    t->cases++;
    t->sum_abs_pct += pct;
    if (pct > t->max_abs_pct)
        t->max_abs_pct = pct;
    t->rtl_cycles += rtl;
    t->fast_cycles += fast;
    if (!same_bytes)
        t->mismatched_results++;
}

/* The two sides of the comparison: each keeps its own unit state (the matmul tile's mm.cfg and
 * mm.out registers) across instructions and works on its own copy of the SRAM. */
typedef struct sides {
    isa_exec_ctx fast, rtl;
    const uint8_t *base; /* the SRAM contents every instruction starts from */
} sides;

/* Compare one instruction: the fast model on one copy of the SRAM, the RTL on another. */
static int compare(tile_stats *t, const isa_insn *in, sides *sd, const npu_device_config *dev, tile_mm_rtl *mm,
                   tile_sm_rtl *sm)
{
    isa_exec_ctx *f = &sd->fast, *r = &sd->rtl;
    memcpy(f->sram, sd->base, f->sram_bytes);
    memcpy(r->sram, sd->base, r->sram_bytes);
    isa_error err;
    if (isa_exec(f, in, &err) != ISA_OK) {
        fprintf(stderr, "m4npu calibrate: the fast model refused an instruction: %s\n", err.msg);
        return -1;
    }
    uint64_t fast = npu_sim_fast_cycles(in, dev), rtl = 0;
    char msg[256];
    tile_rtl_status st = mm ? tile_mm_rtl_run(mm, in, r, &rtl, msg, sizeof msg)
                            : tile_sm_rtl_run(sm, in, r, &rtl, msg, sizeof msg);
    if (st != TILE_RTL_OK) {
        char text[256];
        isa_format(in, text, sizeof text);
        fprintf(stderr, "m4npu calibrate: the RTL failed on `%s`: %s\n", text, msg);
        return -1;
    }
    int same = memcmp(f->sram, r->sram, f->sram_bytes) == 0 && f->mm_bias == r->mm_bias &&
               f->mm_scale == r->mm_scale && f->mm_shift == r->mm_shift &&
               memcmp(&f->mm_out, &r->mm_out, sizeof f->mm_out) == 0;
    record(t, rtl, fast, same);
    return 0;
}

static void fill_random(rng *r, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)next(r);
}

/* Records and a table for mm.out at prm: random bytes (saturating results, any shift) or, half the
 * time, multipliers around 2^30 with shifts 28..40 and small biases (results spread over int8). */
static void random_records(rng *r, uint8_t *prm, uint32_t n)
{
    if (next(r) % 2)
        return; /* the SRAM is already random */
    for (uint32_t i = 0; i < n; i++) {
        int32_t w[3] = {(int32_t)pick(r, 0, 2000) - 1000, (int32_t)pick(r, 1u << 29, 1u << 30), (int32_t)pick(r, 28, 40)};
        memcpy(prm + ISA_MM_OUT_RECORD_BYTES * i, w, sizeof w);
    }
}

/* The instruction that configures the output stage before a case: mm.cfg (per tensor) or mm.out
 * (per channel, by column or row, with or without its table), its operands laid out at cfg_at. */
static isa_insn random_stage_config(rng *r, uint8_t *sram, uint32_t cfg_at, uint32_t bias_at, uint32_t records)
{
    if (next(r) % 3 == 0) {
        isa_insn cfg = isa_insn_make(ISA_OP_MM_CFG);
        ISA_SET(&cfg, MM_CFG, BIAS, bias_at);
        ISA_SET(&cfg, MM_CFG, SCALE, pick(r, 0, 65535));
        ISA_SET(&cfg, MM_CFG, SHIFT, pick(r, 0, 47));
        return cfg;
    }
    uint32_t n = bounded_dim(r, records);
    int lo = next(r) % 4 == 0 ? (int)pick(r, 0, 255) - 128 : INT8_MIN;
    int hi = lo + (int)pick(r, 0, (uint32_t)(INT8_MAX - lo));
    random_records(r, sram + cfg_at, n);
    isa_insn out = isa_insn_make(ISA_OP_MM_OUT);
    ISA_SET(&out, MM_OUT, AXIS, next(r) % 2);
    ISA_SET(&out, MM_OUT, LUT, next(r) % 2);
    ISA_SET(&out, MM_OUT, PRM, cfg_at);
    ISA_SET(&out, MM_OUT, N, n);
    ISA_SET(&out, MM_OUT, LO, lo);
    ISA_SET(&out, MM_OUT, HI, hi);
    ISA_SET(&out, MM_OUT, TAB, cfg_at + ISA_MM_OUT_RECORD_BYTES * records);
    return out;
}

static int calibrate_matmul(const npu_device_config *dev, uint32_t cases, rng *r, sides *sd, uint8_t *sram,
                            tile_stats *t)
{
    char msg[256];
    tile_mm_rtl *mm;
    if (tile_mm_rtl_create_lanes(dev->matmul.rows, dev->matmul.cols, dev->matmul.output_stage.lanes, &mm, msg,
                                 sizeof msg) != TILE_RTL_OK) {
        fprintf(stderr, "m4npu calibrate: npu.matmul: %s\n", msg);
        return -1;
    }
    const uint32_t R = dev->matmul.rows, C = dev->matmul.cols, bytes = (uint32_t)dev->sram.size_bytes;
    const uint32_t records = R > C ? R : C;
    int rc = 0;
    /* instruction i configures the stage when i is even, and i + 1 is the mm that uses it */
    for (uint32_t i = 0; i < cases && rc == 0; i += 2) {
        int ws = (int)(next(r) % 2), int4 = C >= 2 && next(r) % 2;
        uint32_t n = bounded_dim(r, C);
        if (int4 && n % 2)
            n = n == C ? n - 1 : n + 1;
        if (n == 0)
            n = 2;
        uint32_t m = ws ? streamed_dim(r, R) : bounded_dim(r, R), k = ws ? bounded_dim(r, R) : streamed_dim(r, R);
        /* lay the operands out one after another, then mm.out's records and table; shrink the
         * streamed dimension until they fit */
        uint64_t prm = ISA_MM_OUT_RECORD_BYTES * (uint64_t)records + ISA_MM_OUT_LUT_ENTRIES;
        for (;;) {
            uint64_t need = (uint64_t)m * k + (uint64_t)k * n + 4ull * m * n + 4ull * n + prm;
            if (need <= bytes)
                break;
            if (ws)
                m = m > 1 ? m / 2 : 1;
            else
                k = k > 1 ? k / 2 : 1;
        }
        uint32_t A = 0, B = m * k, Cc = B + (int4 ? k * n / 2 : k * n), bias = Cc + 4 * m * n, cfg_at = bias + 4 * n;
        fill_random(r, sram, bytes);
        isa_insn cfg = random_stage_config(r, sram, cfg_at, bias, records);
        rc = compare(t, &cfg, sd, dev, mm, NULL);
        isa_insn in = isa_insn_make(ISA_OP_MM);
        ISA_SET(&in, MM, DF, ws ? ISA_DF_WS : ISA_DF_OS);
        ISA_SET(&in, MM, ACC, next(r) % 2);
        ISA_SET(&in, MM, WT, int4 ? ISA_WT_I4 : ISA_WT_I8);
        ISA_SET(&in, MM, BIAS, next(r) % 2);
        ISA_SET(&in, MM, RQ, next(r) % 3 != 0);
        ISA_SET(&in, MM, M, m);
        ISA_SET(&in, MM, N, n);
        ISA_SET(&in, MM, K, k);
        ISA_SET(&in, MM, A, A);
        ISA_SET(&in, MM, B, B);
        ISA_SET(&in, MM, C, Cc);
        if (rc == 0 && i + 1 < cases)
            rc = compare(t, &in, sd, dev, mm, NULL);
    }
    tile_mm_rtl_destroy(mm);
    return rc;
}

static int calibrate_softmax(const npu_device_config *dev, uint32_t cases, rng *r, sides *sd, uint8_t *sram,
                             tile_stats *t)
{
    char msg[256];
    tile_sm_rtl *sm;
    if (tile_sm_rtl_create(dev->softmax.lanes, dev->softmax.max_len, &sm, msg, sizeof msg) != TILE_RTL_OK) {
        fprintf(stderr, "m4npu calibrate: npu.softmax: %s\n", msg);
        return -1;
    }
    const uint32_t P = dev->softmax.lanes, L = dev->softmax.max_len, bytes = (uint32_t)dev->sram.size_bytes;
    int rc = 0;
    for (uint32_t i = 0; i < cases && rc == 0; i++) {
        uint32_t len;
        switch (next(r) % 6) {
        case 0: len = 1; break;
        case 1: len = P > 1 ? P - 1 : 1; break;
        case 2: len = P; break;
        case 3: len = P + 1 <= L ? P + 1 : L; break;
        case 4: len = L; break;
        default: len = pick(r, 1, L); break;
        }
        uint32_t rows = pick(r, 1, MAX_SM_ROWS);
        while ((uint64_t)rows * len * 2 > bytes && rows > 1)
            rows--;
        fill_random(r, sram, bytes);
        isa_insn in = isa_insn_make(ISA_OP_SM);
        ISA_SET(&in, SM, MASK, next(r) % 2 ? ISA_MASK_CAUSAL : ISA_MASK_OFF);
        ISA_SET(&in, SM, SRC, 0);
        ISA_SET(&in, SM, DST, next(r) % 4 ? rows * len : 0); /* now and then in place */
        ISA_SET(&in, SM, LEN, len);
        ISA_SET(&in, SM, ROWS, rows);
        ISA_SET(&in, SM, SCALE, pick(r, 1, 65535));
        ISA_SET(&in, SM, MOFF, (int32_t)pick(r, 0, 2 * len + 4) - (int32_t)len - 2);
        rc = compare(t, &in, sd, dev, NULL, sm);
    }
    tile_sm_rtl_destroy(sm);
    return rc;
}

static int met(const tile_stats *t)
{
    return t->cases && t->mismatched_results == 0 && t->sum_abs_pct / t->cases <= TARGET_MEAN_PCT &&
           t->max_abs_pct <= TARGET_MAX_PCT;
}

static json_t *tile_json(const tile_stats *t)
{
    json_t *j = json_object();
    json_object_set_new(j, "cases", json_integer(t->cases));
    json_object_set_new(j, "mean_abs_err_pct", json_real(t->cases ? t->sum_abs_pct / t->cases : 0.0));
    json_object_set_new(j, "max_abs_err_pct", json_real(t->max_abs_pct));
    json_object_set_new(j, "bit_exact", json_boolean(t->mismatched_results == 0));
    json_object_set_new(j, "mismatched_results", json_integer(t->mismatched_results));
    json_object_set_new(j, "rtl_cycles", json_integer((json_int_t)t->rtl_cycles));
    json_object_set_new(j, "fast_cycles", json_integer((json_int_t)t->fast_cycles));
    return j;
}

int cmd_calibrate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    enum { O_CASES = 256, O_SEED };
    static const struct option opts[] = {CLI_OPTION_CONFIG,
                                         CLI_OPTION_SET,
                                         {"cases", required_argument, NULL, O_CASES},
                                         {"seed", required_argument, NULL, O_SEED},
                                         CLI_OPTION_JSON,
                                         {NULL, 0, NULL, 0}};
    cli_common common;
    cli_common_init(&common, "calibrate");
    unsigned long cases = DEFAULT_CASES;
    unsigned long long seed = 1;
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int shared = cli_common_parse(&common, c, optarg);
        if (shared < 0)
            goto usage_error;
        if (shared > 0)
            continue;
        switch (c) {
        case O_CASES:
            cases = strtoul(optarg, &end, 10);
            if (*end || cases < 1 || cases > 1000000) {
                fprintf(stderr, "m4npu calibrate: --cases %s: expected 1..1000000\n", optarg);
                return CLI_USAGE;
            }
            break;
        case O_SEED:
            seed = strtoull(optarg, &end, 0);
            if (*end || !*optarg) {
                fprintf(stderr, "m4npu calibrate: --seed %s: expected an integer\n", optarg);
                return CLI_USAGE;
            }
            break;
        default: goto usage_error;
        }
    }
    if (optind != argc || !common.config)
        goto usage_error;
    int json = common.json;

    m4npu_config cfg;
    int rc = cli_common_load(&common, common.config, &cfg);
    if (rc != CLI_OK)
        return rc;
    const npu_device_config *dev = &cfg.npu;
    size_t bytes = dev->sram.size_bytes;
    uint8_t *sram = malloc(bytes), *a = malloc(bytes), *b = malloc(bytes);
    sides *sd = calloc(1, sizeof *sd);
    if (!sram || !a || !b || !sd) {
        fprintf(stderr, "m4npu calibrate: out of memory\n");
        free(sram), free(a), free(b), free(sd);
        return CLI_FAIL;
    }
    sd->base = sram;
    sd->fast.sram = a;
    sd->rtl.sram = b;
    sd->fast.sram_bytes = sd->rtl.sram_bytes = (uint32_t)bytes;
    rng r = {seed};
    tile_stats mm = {.name = "matmul"}, sm = {.name = "softmax"};
    rc = calibrate_matmul(dev, (uint32_t)cases, &r, sd, sram, &mm);
    if (rc == 0)
        rc = calibrate_softmax(dev, (uint32_t)cases, &r, sd, sram, &sm);
    free(sram), free(a), free(b), free(sd);
    if (rc != 0)
        return CLI_FAIL;
    int pass = met(&mm) && met(&sm);
    if (json) {
        json_t *root = json_object(), *tiles = json_object(), *targets = json_object();
        json_object_set_new(tiles, "matmul", tile_json(&mm));
        json_object_set_new(tiles, "softmax", tile_json(&sm));
        json_object_set_new(root, "tiles", tiles);
        json_object_set_new(targets, "mean_abs_err_pct", json_real(TARGET_MEAN_PCT));
        json_object_set_new(targets, "max_abs_err_pct", json_real(TARGET_MAX_PCT));
        json_object_set_new(targets, "bit_exact", json_true());
        json_object_set_new(root, "targets", targets);
        json_object_set_new(root, "config", json_string(dev->name));
        m4npu_config_source src = cli_common_source(&common, common.config);
        json_object_set_new(root, "configuration", m4npu_config_source_json(&cfg, &src));
        json_object_set_new(root, "seed", json_integer((json_int_t)seed));
        json_object_set_new(root, "pass", json_boolean(pass));
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(root);
    } else {
        char label[1024];
        printf("calibrate on %s (matmul %ux%u, output stage of %u lanes, softmax %u lanes up to %u), seed %llu\n",
               cli_common_label(&common, common.config, &cfg, label, sizeof label), dev->matmul.rows,
               dev->matmul.cols, dev->matmul.output_stage.lanes, dev->softmax.lanes, dev->softmax.max_len, seed);
        printf("%-8s %7s %12s %12s %10s %14s %14s\n", "tile", "cases", "mean err %", "max err %", "bit-exact",
               "rtl cycles", "fast cycles");
        const tile_stats *ts[2] = {&mm, &sm};
        for (int i = 0; i < 2; i++)
            printf("%-8s %7u %12.4f %12.4f %10s %14" PRIu64 " %14" PRIu64 "\n", ts[i]->name, ts[i]->cases,
                   ts[i]->sum_abs_pct / ts[i]->cases, ts[i]->max_abs_pct,
                   ts[i]->mismatched_results ? "NO" : "yes", ts[i]->rtl_cycles, ts[i]->fast_cycles);
        printf("targets (mean <= %.1f%%, max <= %.1f%%, bit-exact): %s\n", TARGET_MEAN_PCT, TARGET_MAX_PCT,
               pass ? "met" : "MISSED");
    }
    return pass ? CLI_OK : CLI_FAIL;
usage_error:
    fputs(usage, stderr);
    return CLI_USAGE;
}
