/* m4npu bench: how fast the simulator runs. Generates a long program that keeps every unit busy
 * (double-buffered DMA -> matmul -> softmax -> vector -> DMA, ordered by semaphores), runs it
 * through the driver, and prints simulated instructions and cycles per second of host time.
 * A benchmark, not a test: it prints numbers, it asserts nothing about them. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "isa_asm.h"
#include "m4npu_config.h"
#include "npu_drv.h"

static const char usage[] =
    "usage: m4npu bench [--config FILE] [--set KEY=VALUE ...] [--insns N] [--json]\n"
    "\n"
    "Run a long generated program (double-buffered DMA, matmul, softmax and vector work on every\n"
    "unit) twice, with numerics and in timing-only mode, and print simulated instructions per\n"
    "second and simulated cycles per second of host wall time for each.\n"
    "\n"
    "  --config FILE      NPU configuration (default configs/test.yaml values)\n"
    "  --set KEY=VALUE    override a configuration key (repeatable)\n"
    "  --insns N          approximate program length in instructions (default 200000)\n"
    "  --json             print one JSON object\n";

#define DEFAULT_INSNS 200000u
#define BLOCK_INSNS 19u
#define MAX_SETS 32
#define TIMEOUT_CYCLES (1ull << 62)

/* One block per tile; slot s alternates so that loads of tile i+1 overlap work on tile i. */
static char *generate(uint32_t blocks, size_t *len)
{
    size_t cap = (size_t)blocks * 1024 + 256, n = 0;
    char *src = malloc(cap);
    if (!src)
        return NULL;
    n += (size_t)snprintf(src + n, cap - n, "signal dma1, 2\nsignal dma1, 3\nmm.cfg 0, 1, 8\n");
    for (uint32_t i = 0; i < blocks; i++) {
        unsigned s = i % 2, base = s * 0x4000;
        n += (size_t)snprintf(src + n, cap - n,
                              "wait dma0, %u\n"
                              "dma.ld 0, 0, 0x%x, 0, 16, 64, 64, 64\n"
                              "dma.ld 0, 1, 0x%x, 0, 64, 16, 16, 16\n"
                              "signal dma0, %u\n"
                              "wait mm, %u\n"
                              "mm os, set, i8, nobias, rq, 16, 16, 64, 0x%x, 0x%x, 0x%x\n"
                              "signal mm, %u\n"
                              "wait sm, %u\n"
                              "sm nomask, 0x%x, 0x%x, 16, 16, 1000, 0\n"
                              "signal sm, %u\n"
                              "wait vec, %u\n"
                              "v.dequant i8, 0x%x, 0x%x, 256, 0.0078125\n"
                              "v.un gelu, f32, 0x%x, 0x%x, 16, 16, 0.0\n"
                              "signal vec, %u\n"
                              "wait dma1, %u\n"
                              "dma.st 1, 2, 0x%x, 0, 16, 64, 64, 64\n"
                              "signal dma1, %u\n",
                              2 + s, base, base + 0x400, s, s, base, base + 0x400, base + 0x800, 4 + s, 4 + s,
                              base + 0x800, base + 0x900, 6 + s, 6 + s, base + 0x1000, base + 0x900, base + 0x1000,
                              base + 0x1000, 8 + s, 8 + s, base + 0x1000, 2 + s);
    }
    n += (size_t)snprintf(src + n, cap - n, "end\n");
    *len = n;
    return src;
}

typedef struct bench_result {
    uint64_t insns, cycles;
    double seconds;
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
        double t0 = now_s();
        if (npu_submit(dev, &job, &f) == NPU_DRV_OK && npu_wait(dev, f, TIMEOUT_CYCLES, &res) == NPU_DRV_OK) {
            r->seconds = now_s() - t0;
            r->insns = res.insns;
            r->cycles = res.end_cycle - res.start_cycle;
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

int cmd_bench(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    enum { O_CONFIG = 256, O_SET, O_INSNS, O_JSON };
    static const struct option opts[] = {{"config", required_argument, NULL, O_CONFIG},
                                         {"set", required_argument, NULL, O_SET},
                                         {"insns", required_argument, NULL, O_INSNS},
                                         {"json", no_argument, NULL, O_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *sets[MAX_SETS];
    size_t nsets = 0;
    unsigned long insns = DEFAULT_INSNS;
    int json = 0, c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: config = optarg; break;
        case O_SET:
            if (nsets == MAX_SETS) {
                fputs(usage, stderr);
                return CLI_USAGE;
            }
            sets[nsets++] = optarg;
            break;
        case O_INSNS:
            insns = strtoul(optarg, &end, 0);
            if (*end || insns < BLOCK_INSNS || insns > 50000000ul) {
                fprintf(stderr, "m4npu bench: --insns %s: expected %u..50000000\n", optarg, BLOCK_INSNS);
                return CLI_USAGE;
            }
            break;
        case O_JSON: json = 1; break;
        default: fputs(usage, stderr); return CLI_USAGE;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    m4npu_config cfg;
    m4npu_config_error cerr;
    m4npu_config_defaults(&cfg);
    if (config && m4npu_config_load_overrides(config, sets, nsets, &cfg, &cerr) != M4NPU_CONFIG_OK) {
        fprintf(stderr, "%s\n", cerr.msg);
        return cerr.status == M4NPU_CONFIG_E_IO ? CLI_IO : CLI_FAIL;
    }
    for (size_t i = 0; !config && i < nsets; i++)
        if (m4npu_config_set_assignment(&cfg, sets[i], &cerr) != M4NPU_CONFIG_OK) {
            fprintf(stderr, "%s\n", cerr.msg);
            return CLI_FAIL;
        }
    size_t src_len;
    char *src = generate((uint32_t)(insns / BLOCK_INSNS), &src_len);
    isa_asm_result prog;
    if (!src || isa_assemble(src, src_len, "bench.s", &prog) != ISA_OK) {
        fprintf(stderr, "m4npu bench: cannot generate the program\n");
        free(src);
        return CLI_FAIL;
    }
    free(src);
    bench_result numeric, timing;
    int rc = run(&cfg, prog.bytes, prog.size, 0, &numeric);
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
        for (int i = 0; i < 2; i++) {
            json_t *j = json_object();
            json_object_set_new(j, "instructions", json_integer((json_int_t)rs[i]->insns));
            json_object_set_new(j, "cycles", json_integer((json_int_t)rs[i]->cycles));
            json_object_set_new(j, "wall_s", json_real(rs[i]->seconds));
            json_object_set_new(j, "insns_per_s", json_real((double)rs[i]->insns / rs[i]->seconds));
            json_object_set_new(j, "cycles_per_s", json_real((double)rs[i]->cycles / rs[i]->seconds));
            json_object_set_new(root, names[i], j);
        }
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(root);
        return CLI_OK;
    }
    printf("bench on %s: %" PRIu64 " instructions, %" PRIu64 " simulated cycles\n", cfg.npu.name, numeric.insns,
           numeric.cycles);
    printf("%-12s %10s %16s %18s\n", "mode", "wall s", "insns/s", "sim cycles/s");
    for (int i = 0; i < 2; i++)
        printf("%-12s %10.3f %16.0f %18.0f\n", names[i], rs[i]->seconds, (double)rs[i]->insns / rs[i]->seconds,
               (double)rs[i]->cycles / rs[i]->seconds);
    return CLI_OK;
}
