/* bench_npu_m4.c -- `npu-m4-bench [MODULE [CONFIG.yaml [int4|per-node]]]`: an M4 module (default
 * backbone-decode: one LLaMA-7B token against a KV cache of 511) built without weight data, every
 * node the NPU backend supports put into one timing-only segment (the NPU's share of the work,
 * whatever the partitioner's segment boundaries), run once: descriptors, ISA instructions,
 * simulated cycles and time, DRAM bytes, host wall time, and why the other nodes stay on the CPU.
 * `per-node` runs every node as its own segment instead and lists the ones that dispatch the most
 * instructions. A benchmark, not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph.h"
#include "m4.h"
#include "m4npu_config.h"
#include "npu_backend.h"

#define MAX_REASONS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *module = argc > 1 ? argv[1] : "backbone-decode";
    const char *path = argc > 2 ? argv[2] : M4NPU_SOURCE_DIR "/configs/mobile-default.yaml";
    bool int4 = argc > 3 && strcmp(argv[3], "int4") == 0, per_node = argc > 3 && strcmp(argv[3], "per-node") == 0;
    m4npu_config cfg;
    m4npu_config_error ce;
    if (m4npu_config_load(path, &cfg, &ce) != M4NPU_CONFIG_OK) {
        fprintf(stderr, "npu-m4-bench: %s\n", ce.msg);
        return 2;
    }
    rt_error e;
    m4_module_params p;
    memset(&p, 0, sizeof p);
    if (int4)
        p.format = M4_FMT_INT4;
    double t0 = now_s();
    rt_graph *g = m4_module_build(module, &p, &e);
    if (!g) {
        fprintf(stderr, "npu-m4-bench: %s\n", e.msg);
        return 1;
    }
    double t_build = now_s() - t0;
    npu_backend *b = npu_backend_open(&cfg, &e);
    if (!b) {
        fprintf(stderr, "npu-m4-bench: %s\n", e.msg);
        graph_free(g);
        return 1;
    }
    int *nodes = malloc((size_t)g->n_nodes * sizeof *nodes + 1), n = 0;
    char reasons[MAX_REASONS][256];
    int counts[MAX_REASONS] = {0}, nreasons = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        char why[256];
        if (npu_backend_supports(b, g, i, why, sizeof why)) {
            nodes[n++] = i;
            continue;
        }
        int r = 0;
        while (r < nreasons && strncmp(reasons[r], why, sizeof reasons[r] - 1) != 0)
            r++;
        if (r == nreasons && nreasons < MAX_REASONS)
            memcpy(reasons[nreasons++], why, sizeof why);
        if (r < MAX_REASONS)
            counts[r]++;
    }
    if (per_node) {
        enum { TOP = 15 };
        uint64_t top_insns[TOP] = {0};
        int top_node[TOP];
        for (int k = 0; k < n; k++) {
            npu_segment *one = npu_segment_build(b, g, &nodes[k], 1, NPU_WEIGHTS_INT8, true, &e);
            npu_segment_stats st;
            if (!one || npu_segment_run(one, NULL, &st, &e) != RT_OK) {
                fprintf(stderr, "npu-m4-bench: %s\n", e.msg);
                npu_segment_free(one);
                continue;
            }
            npu_segment_free(one);
            for (int i = 0; i < TOP; i++)
                if (st.insns > top_insns[i]) {
                    memmove(top_insns + i + 1, top_insns + i, (TOP - 1 - i) * sizeof *top_insns);
                    memmove(top_node + i + 1, top_node + i, (TOP - 1 - i) * sizeof *top_node);
                    top_insns[i] = st.insns;
                    top_node[i] = nodes[k];
                    break;
                }
        }
        for (int i = 0; i < TOP && top_insns[i]; i++) {
            char lbl[200], shp[96];
            const rt_node *nd = &g->nodes[top_node[i]];
            printf("%8llu insns  %-18s %s  out %s\n", (unsigned long long)top_insns[i], nd->op_type,
                   graph_node_label(g, top_node[i], lbl, sizeof lbl),
                   nd->outputs[0] >= 0 ? rt_shape_str(g->tensors[nd->outputs[0]], shp, sizeof shp) : "-");
        }
    }
    t0 = now_s();
    npu_segment *s = npu_segment_build(b, g, nodes, n, int4 ? NPU_WEIGHTS_INT4 : NPU_WEIGHTS_INT8, true, &e);
    double t_seg = now_s() - t0;
    int rc = 0;
    if (!s) {
        fprintf(stderr, "npu-m4-bench: %s\n", e.msg);
        rc = 1;
    } else {
        npu_segment_stats st;
        t0 = now_s();
        if (npu_segment_run(s, NULL, &st, &e) != RT_OK) {
            fprintf(stderr, "npu-m4-bench: %s\n", e.msg);
            rc = 1;
        } else {
            double t_run = now_s() - t0;
            uint64_t rd = 0;
            for (int u = NPU_UNIT_DMA0; u <= NPU_UNIT_DMA3; u++)
                rd += st.counters.v[u][NPU_CTR_DRAM_RD];
            printf("%s (%s) on %s: %d of %d nodes on the NPU\n", module, int4 ? "int4" : "default format", cfg.npu.name,
                   n, g->n_nodes);
            printf("  %u op descriptors, %llu ISA instructions, %llu cycles = %.2f ms simulated\n", st.ops,
                   (unsigned long long)st.insns, (unsigned long long)st.cycles, st.seconds * 1e3);
            printf("  DRAM read %.3f GB (%.1f GB/s), weights %.3f GB, boundary in %llu B, out %llu B\n", (double)rd / 1e9,
                   (double)rd / st.seconds / 1e9, (double)st.weight_bytes / 1e9, (unsigned long long)st.bytes_in,
                   (unsigned long long)st.bytes_out);
            printf("  host: graph %.0f ms, segment build %.0f ms, run %.0f ms\n", t_build * 1e3, t_seg * 1e3,
                   t_run * 1e3);
        }
        npu_segment_free(s);
    }
    for (int r = 0; r < nreasons; r++)
        printf("  CPU x%-4d %s\n", counts[r], reasons[r]);
    free(nodes);
    npu_backend_close(b);
    graph_free(g);
    return rc;
}
