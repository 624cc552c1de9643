/* rtl-tile-bench: simulated cycles per second of every Verilated tile size in this build.
 *
 * Why it exists: rtl mode's cost depends on the array size; this measures it (wall clock over a
 * fixed workload, after one warm-up instruction) so the numbers in rtl/README.md can be
 * reproduced: `build/bin/rtl-tile-bench` (configure with -DM4NPU_RTL_BENCH_SIZES=ON for 8/16/32).
 * Workloads: mm os with m = n = size, k = 256; mm ws with k = n = size, m = 256; sm with rows of
 * 512 int8, 16 rows per instruction. Not a test: timings are not asserted anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "isa_exec.h"
#include "tile_rtl.h"

#define SRAM_BYTES (1u << 20)
#define MIN_CYCLES 2000000ull /* per measurement */
#define MM_STREAM 256
#define SM_LEN 512
#define SM_ROWS 16

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef int (*run_fn)(void *tile, const isa_insn *in, isa_exec_ctx *ctx, uint64_t *cycles);

static int run_mm(void *t, const isa_insn *in, isa_exec_ctx *ctx, uint64_t *cycles)
{
    return tile_mm_rtl_run(t, in, ctx, cycles, NULL, 0) == TILE_RTL_OK ? 0 : -1;
}

static int run_sm(void *t, const isa_insn *in, isa_exec_ctx *ctx, uint64_t *cycles)
{
    return tile_sm_rtl_run(t, in, ctx, cycles, NULL, 0) == TILE_RTL_OK ? 0 : -1;
}

static int measure(const char *what, void *tile, run_fn run, const isa_insn *in, isa_exec_ctx *ctx)
{
    uint64_t c, total = 0, insns = 0;
    if (run(tile, in, ctx, &c) != 0) /* warm-up */
        return -1;
    double t0 = now_s();
    while (total < MIN_CYCLES) {
        if (run(tile, in, ctx, &c) != 0)
            return -1;
        total += c;
        insns++;
    }
    double dt = now_s() - t0;
    printf("%-28s %8llu insns %10llu cycles %7.3f s %10.0f cycles/s\n", what, (unsigned long long)insns,
           (unsigned long long)total, dt, (double)total / dt);
    return 0;
}

int main(void)
{
    uint8_t *sram = calloc(1, SRAM_BYTES);
    if (!sram)
        return 1;
    for (uint32_t i = 0; i < SRAM_BYTES; i++)
        sram[i] = (uint8_t)(i * 2654435761u >> 24);
    isa_exec_ctx ctx = {.sram = sram, .sram_bytes = SRAM_BYTES};
    int rc = 0;
    printf("matmul sizes: %s; softmax sizes: %s\n", tile_rtl_mm_sizes(), tile_rtl_sm_sizes());
    for (uint32_t size = 1; size <= 256; size++) {
        tile_mm_rtl *t;
        if (tile_mm_rtl_create(size, size, &t, NULL, 0) != TILE_RTL_OK)
            continue;
        for (int ws = 0; ws < 2; ws++) {
            isa_insn in = isa_insn_make(ISA_OP_MM);
            ISA_SET(&in, MM, DF, ws);
            ISA_SET(&in, MM, M, ws ? MM_STREAM : size);
            ISA_SET(&in, MM, N, size);
            ISA_SET(&in, MM, K, ws ? size : MM_STREAM);
            ISA_SET(&in, MM, B, 0x40000);
            ISA_SET(&in, MM, C, 0x80000);
            char what[64];
            snprintf(what, sizeof what, "mm %ux%u %s", size, size, ws ? "ws m=256" : "os k=256");
            rc |= measure(what, t, run_mm, &in, &ctx);
        }
        tile_mm_rtl_destroy(t);
    }
    for (uint32_t lanes = 1; lanes <= 256; lanes++) {
        tile_sm_rtl *t;
        if (tile_sm_rtl_create(lanes, SM_LEN, &t, NULL, 0) != TILE_RTL_OK)
            continue;
        isa_insn in = isa_insn_make(ISA_OP_SM);
        ISA_SET(&in, SM, LEN, SM_LEN);
        ISA_SET(&in, SM, ROWS, SM_ROWS);
        ISA_SET(&in, SM, SCALE, 1000);
        ISA_SET(&in, SM, DST, 0x80000);
        char what[64];
        snprintf(what, sizeof what, "sm %u lanes len=512", lanes);
        rc |= measure(what, t, run_sm, &in, &ctx);
        tile_sm_rtl_destroy(t);
    }
    free(sram);
    if (rc)
        fprintf(stderr, "rtl-tile-bench: an instruction failed\n");
    return rc ? 1 : 0;
}
