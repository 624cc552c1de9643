/* bench_npu_attention.c -- `npu-attention-bench [CONFIG.yaml [HEADS KEYS MASK [QUERY_ROWS]] [KEY=VALUE ...]]`:
 * one attention block as LLaMA-7B's layers export it (f16: Transpose(K), MatMul, Div by
 * sqrt(128), an additive mask when MASK is 1, Softmax, MatMul by V; head width 128; QUERY_ROWS
 * defaults to KEYS, 1 is a decode step), every node the NPU takes as one timing-only segment, with
 * npu.fused_attention on and off: descriptors, cycles and time, DRAM bytes, instructions, the
 * activation arena, and the busy cycles of the array, the vector unit, the softmax tile and DMA.
 * Defaults: configs/mobile-default.yaml, 32 heads, 2048 keys, a mask. Further KEY=VALUE arguments
 * override the configuration (npu.softmax.max_len=64 forces the online softmax). A benchmark, not
 * a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "m4npu_config.h"
#include "npu_backend.h"

#define HEAD_DIM 128
#define MAX_SETS 8
#define IN(...) ((const char *[]){__VA_ARGS__})

static rt_graph *attention_graph(int64_t heads, int64_t keys, int64_t rows, int mask, rt_error *e)
{
    rt_graph *g = graph_create("attention");
    if (!g)
        return NULL;
    int64_t qd[4] = {1, heads, rows, HEAD_DIM}, kd[4] = {1, heads, keys, HEAD_DIM}, md[4] = {1, 1, rows, keys};
    graph_add_input(g, "q", RT_DT_F16, 4, qd);
    graph_add_input(g, "k", RT_DT_F16, 4, kd);
    graph_add_input(g, "v", RT_DT_F16, 4, kd);
    uint16_t c = rt_f32_to_f16(11.3137085f); /* sqrt(128) */
    graph_add_constant(g, "c", RT_DT_F16, 0, NULL, &c, sizeof c);
    int t = graph_add_node(g, "Transpose", NULL, 1, IN("k"), 1, IN("kt"));
    graph_node_set_ints(g, t, "perm", 4, (const int64_t[]){0, 1, 3, 2});
    graph_add_node(g, "MatMul", NULL, 2, IN("q", "kt"), 1, IN("s0"));
    graph_add_node(g, "Div", NULL, 2, IN("s0", "c"), 1, IN("s1"));
    if (mask) {
        graph_add_input(g, "mask", RT_DT_F16, 4, md);
        graph_add_node(g, "Add", NULL, 2, IN("s1", "mask"), 1, IN("s2"));
    }
    int sm = graph_add_node(g, "Softmax", NULL, 1, mask ? IN("s2") : IN("s1"), 1, IN("p"));
    graph_node_set_int(g, sm, "axis", -1);
    graph_add_node(g, "MatMul", NULL, 2, IN("p", "v"), 1, IN("o"));
    graph_mark_output(g, graph_find_tensor(g, "o"));
    if (graph_prepare(g, e) != RT_OK) {
        graph_free(g);
        return NULL;
    }
    return g;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : M4NPU_SOURCE_DIR "/configs/mobile-default.yaml";
    int64_t heads = 32, keys = 2048, rows = -1;
    int mask = 1, a = 2;
    if (argc > 4 && strchr(argv[2], '=') == NULL) {
        heads = atoll(argv[2]);
        keys = atoll(argv[3]);
        mask = atoi(argv[4]);
        a = 5;
        if (argc > 5 && strchr(argv[5], '=') == NULL) {
            rows = atoll(argv[5]);
            a = 6;
        }
    }
    if (rows < 0)
        rows = keys;
    if (heads < 1 || keys < 1 || rows < 1) {
        fprintf(stderr, "npu-attention-bench: heads, keys and query rows must be positive\n");
        return 2;
    }
    const char *sets[MAX_SETS + 1];
    size_t nsets = 0;
    for (; a < argc && nsets < MAX_SETS; a++)
        sets[nsets++] = argv[a];
    printf("attention on %s: %lld heads x %lld query rows x %lld keys, head width %d, %s\n", path, (long long)heads,
           (long long)rows, (long long)keys, HEAD_DIM, mask ? "additive mask" : "no mask");
    for (int fused = 1; fused >= 0; fused--) {
        m4npu_config cfg;
        m4npu_config_error ce;
        sets[nsets] = fused ? "npu.fused_attention=on" : "npu.fused_attention=off";
        if (m4npu_config_load_overrides(path, sets, nsets + 1, &cfg, &ce) != M4NPU_CONFIG_OK) {
            fprintf(stderr, "npu-attention-bench: %s\n", ce.msg);
            return 2;
        }
        rt_error e;
        rt_graph *g = attention_graph(heads, keys, rows, mask, &e);
        npu_backend *b = g ? npu_backend_open(&cfg, &e) : NULL;
        if (!b) {
            fprintf(stderr, "npu-attention-bench: %s\n", e.msg);
            graph_free(g);
            return 1;
        }
        int nodes[16], n = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            char why[256];
            if (npu_backend_supports(b, g, i, why, sizeof why))
                nodes[n++] = i;
            else
                printf("  %s: %s on the CPU (%s), not counted\n", fused ? "fused" : "op by op", g->nodes[i].op_type, why);
        }
        npu_segment *s = npu_segment_build(b, g, nodes, n, NPU_WEIGHTS_INT8, true, &e);
        npu_segment_stats st;
        if (!s || npu_segment_run(s, NULL, &st, &e) != RT_OK) {
            fprintf(stderr, "npu-attention-bench: %s\n", e.msg);
            npu_segment_free(s);
            npu_backend_close(b);
            graph_free(g);
            return 1;
        }
        uint64_t rd = 0, wr = 0, dma_busy = 0;
        for (int u = NPU_UNIT_DMA0; u <= NPU_UNIT_DMA3; u++) {
            rd += st.counters.v[u][NPU_CTR_DRAM_RD];
            wr += st.counters.v[u][NPU_CTR_DRAM_WR];
            dma_busy = st.counters.v[u][NPU_CTR_BUSY] > dma_busy ? st.counters.v[u][NPU_CTR_BUSY] : dma_busy;
        }
        npu_mem_usage mu;
        npu_segment_mem_usage(s, &mu);
        printf("  %-9s %u descriptors, %llu cycles = %.3f ms, DRAM %.1f MB read + %.1f MB written, %llu instructions, "
               "activations %.1f MiB; busy: array %llu, vector %llu, softmax tile %llu, busiest DMA %llu\n",
               fused ? "fused" : "op by op", st.ops, (unsigned long long)st.cycles, st.seconds * 1e3, rd / 1e6, wr / 1e6,
               (unsigned long long)st.insns, (double)mu.act_bytes / (1024.0 * 1024.0),
               (unsigned long long)st.counters.v[NPU_UNIT_MM][NPU_CTR_BUSY],
               (unsigned long long)st.counters.v[NPU_UNIT_VEC][NPU_CTR_BUSY],
               (unsigned long long)st.counters.v[NPU_UNIT_SM][NPU_CTR_BUSY], (unsigned long long)dma_busy);
        npu_segment_free(s);
        npu_backend_close(b);
        graph_free(g);
    }
    return 0;
}
