/* bench_npu_matmul.c -- `npu-matmul-bench [CONFIG.yaml]`: LLaMA-7B decode-token-sized matmuls
 * (x[1, K] @ W[K, N]) as timing-only NPU segments on a configured device (default
 * configs/mobile-default.yaml): ISA instructions dispatched, simulated cycles and time, DRAM
 * bytes and bandwidth against the configured peak, and the host's wall time per run. A
 * benchmark, not a test (CI never times anything). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph.h"
#include "m4npu_config.h"
#include "npu_backend.h"

#define BENCH_RUNS 3

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench(npu_backend *b, const m4npu_config *cfg, int64_t m, int64_t k, int64_t n, npu_weight_type w)
{
    rt_error e;
    rt_graph *g = graph_create("bench");
    int64_t xd[2] = {m, k}, wd[2] = {k, n};
    graph_add_input(g, "x", RT_DT_F32, 2, xd);
    graph_add_weight(g, "w", RT_DT_F32, 2, wd);
    graph_add_node(g, "MatMul", "mm", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
    graph_mark_output(g, graph_find_tensor(g, "y"));
    if (graph_prepare(g, &e) != RT_OK) {
        fprintf(stderr, "npu-matmul-bench: %s\n", e.msg);
        graph_free(g);
        return 1;
    }
    int node = 0;
    npu_segment *s = npu_segment_build(b, g, &node, 1, w, true, &e);
    if (!s) {
        fprintf(stderr, "npu-matmul-bench: %s\n", e.msg);
        graph_free(g);
        return 1;
    }
    npu_segment_stats st;
    double best = 1e30;
    for (int r = 0; r < BENCH_RUNS; r++) {
        double t0 = now_s();
        if (npu_segment_run(s, NULL, &st, &e) != RT_OK) {
            fprintf(stderr, "npu-matmul-bench: %s\n", e.msg);
            npu_segment_free(s);
            graph_free(g);
            return 1;
        }
        double t = now_s() - t0;
        best = t < best ? t : best;
    }
    uint64_t rd = 0;
    for (int u = NPU_UNIT_DMA0; u <= NPU_UNIT_DMA3; u++)
        rd += st.counters.v[u][NPU_CTR_DRAM_RD];
    double peak = cfg->npu.dram.bandwidth_gb_s * 1e9;
    printf("%5lldx%-5lld @ %5lldx%-5lld %s  %6llu insns  %9llu cycles  %8.1f us  %10llu DRAM bytes  %5.1f%% of peak  "
           "host %6.2f ms\n",
           (long long)m, (long long)k, (long long)k, (long long)n, w == NPU_WEIGHTS_INT4 ? "int4" : "int8",
           (unsigned long long)st.insns, (unsigned long long)st.cycles, st.seconds * 1e6, (unsigned long long)rd,
           100.0 * (double)rd / st.seconds / peak, best * 1e3);
    npu_segment_free(s);
    graph_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : M4NPU_SOURCE_DIR "/configs/mobile-default.yaml";
    m4npu_config cfg;
    m4npu_config_error ce;
    if (m4npu_config_load(path, &cfg, &ce) != M4NPU_CONFIG_OK) {
        fprintf(stderr, "npu-matmul-bench: %s\n", ce.msg);
        return 2;
    }
    rt_error e;
    npu_backend *b = npu_backend_open(&cfg, &e);
    if (!b) {
        fprintf(stderr, "npu-matmul-bench: %s\n", e.msg);
        return 1;
    }
    printf("%s: %ux%u array, %llu KiB SRAM, %u DMA channels, %.1f GB/s x %.2f\n", cfg.npu.name, cfg.npu.matmul.rows,
           cfg.npu.matmul.cols, (unsigned long long)(cfg.npu.sram.size_bytes >> 10), cfg.npu.dma.channels,
           cfg.npu.dram.bandwidth_gb_s, cfg.npu.dram.efficiency);
    static const int64_t shapes[][3] = {{1, 4096, 4096}, {1, 4096, 11008}, {1, 11008, 4096}, {1, 4096, 32000}};
    int rc = 0;
    for (int w = NPU_WEIGHTS_INT8; w <= NPU_WEIGHTS_INT4 && !rc; w++)
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes && !rc; i++)
            rc = bench(b, &cfg, shapes[i][0], shapes[i][1], shapes[i][2], (npu_weight_type)w);
    npu_backend_close(b);
    return rc;
}
