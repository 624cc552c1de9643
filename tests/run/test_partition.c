/* The CPU fallback cost model and the partitioner on hand-built graphs, with results worked out
 * by hand: roofline times and energies, boundary crossings, placement with the reason for each
 * CPU node, the grouping order, segments and their crossings. */
#include "test_util.h"

#include <math.h>

#include "cpumodel.h"
#include "m4npu_config.h"
#include "ops.h"
#include "partition.h"
#include "test_graph_build.h"

#define REL_EPS 1e-12

static void assert_close(double got, double want)
{
    if (fabs(got - want) > REL_EPS * fmax(1.0, fabs(want)) && fabs(got - want) > 1e-18)
        fail_msg("got %.17g, want %.17g", got, want);
}

/* configs/test.yaml: one core, fp32 50 GFLOP/s, fp16 100, int8 200, 10 GB/s, 2 us dispatch, 2 W
 * active, 0.1 W idle, 20 us per NPU job, 2 us per crossing. */
static void test_config(m4npu_config *cfg)
{
    m4npu_config_defaults(cfg);
    assert_true(cfg->cpu.cores == 1);
    assert_true(cfg->cpu.gflop_s.fp32 == 50 && cfg->cpu.memory_bandwidth_gb_s == 10);
    assert_true(cfg->cpu.dispatch_overhead_us == 2 && cfg->cpu.active_power_w == 2);
    assert_true(cfg->cpu.npu_submit_overhead_us == 20 && cfg->cpu.npu_transfer_overhead_us == 2);
}

static void const_f32(rt_graph *g, const char *name, int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *v = calloc((size_t)n, sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)(i % 7) * 0.125f;
    assert_true(graph_add_constant(g, name, RT_DT_F32, rank, dims, v, (uint64_t)n * sizeof *v) >= 0);
    free(v);
}

static int node_named(const rt_graph *g, const char *name)
{
    int n = graph_find_node(g, name);
    if (n < 0)
        fail_msg("no node %s", name);
    return n;
}

/* ---- the CPU model */

static void test_roofline_of_nodes(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    rt_graph *g = graph_create("roofline");
    graph_add_input(g, "x", RT_DT_F32, 3, (int64_t[]){1, 16, 64});
    const_f32(g, "W", 2, (int64_t[]){64, 64});
    const_f32(g, "b", 1, (int64_t[]){64});
    int64_t shp[] = {16, 64};
    graph_add_constant(g, "shape", RT_DT_I64, 1, (int64_t[]){2}, shp, sizeof shp);
    int mm = add2(g, "MatMul", "mm", "x", "W", "xw");
    int add = add2(g, "Add", "add", "xw", "b", "y0");
    int rs = add2(g, "Reshape", "rs", "y0", "shape", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    rt_error e;
    cpumodel_cost c;

    /* MatMul: 16*64*64 MACs = 131072 flops at 50e9 -> 2.62144 us; 20480 + 4096 bytes at 10e9 ->
     * 2.4576 us; compute-bound, + 2 us dispatch */
    assert_int_equal(cpumodel_node(&cfg.cpu, g, mm, &c, &e), RT_OK);
    assert_close(c.flops, 131072);
    assert_int_equal(c.bytes, 24576);
    assert_close(c.compute_s, 131072 / 50e9);
    assert_close(c.memory_s, 24576 / 10e9);
    assert_false(c.memory_bound);
    assert_close(c.seconds, 131072 / 50e9 + 2e-6);
    assert_close(c.energy_j, 2.0 * (131072 / 50e9 + 2e-6));

    /* Add: 1024 flops, 4096 + 256 + 4096 bytes: memory-bound */
    assert_int_equal(cpumodel_node(&cfg.cpu, g, add, &c, &e), RT_OK);
    assert_close(c.flops, 1024);
    assert_int_equal(c.bytes, 8448);
    assert_true(c.memory_bound);
    assert_close(c.seconds, 8448 / 10e9 + 2e-6);

    /* Reshape relabels its input: free */
    assert_int_equal(cpumodel_node(&cfg.cpu, g, rs, &c, &e), RT_OK);
    assert_true(c.view);
    assert_true(c.seconds == 0 && c.energy_j == 0);

    assert_int_equal(cpumodel_node(&cfg.cpu, g, 99, &c, &e), RT_ERR_ARG);
    graph_free(g);
}

/* Cores speed up compute by Amdahl's law with p = 0.9, not memory traffic. */
static void test_cores_speed_up_compute_not_memory(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    assert_close(cpumodel_core_speedup(1), 1.0);
    assert_close(cpumodel_core_speedup(4), 1.0 / (0.1 + 0.9 / 4));
    assert_close(cpumodel_core_speedup(8), 1.0 / (0.1 + 0.9 / 8));
    assert_true(cpumodel_core_speedup(1000) < 10.0); /* the serial tenth bounds it */
    rt_graph *g = graph_create("cores");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){128, 512});
    const_f32(g, "W", 2, (int64_t[]){512, 128});
    int mm = add2(g, "MatMul", "mm", "x", "W", "xw");
    int add = add2(g, "Add", "add", "xw", "xw", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    rt_error e;
    cpumodel_cost one, four;
    assert_int_equal(cpumodel_node(&cfg.cpu, g, mm, &one, &e), RT_OK);
    cfg.cpu.cores = 4;
    assert_close(cpumodel_rate(&cfg.cpu, RT_DT_F32), 50e9 / (0.1 + 0.9 / 4));
    assert_int_equal(cpumodel_node(&cfg.cpu, g, mm, &four, &e), RT_OK);
    /* 2 * 128 * 512 * 128 flops against 589824 bytes: compute-bound on one core and on four */
    assert_false(one.memory_bound || four.memory_bound);
    assert_close(four.compute_s, one.compute_s * (0.1 + 0.9 / 4));
    assert_true(four.seconds < one.seconds);
    /* the memory-bound Add takes as long on four cores as on one */
    assert_int_equal(cpumodel_node(&cfg.cpu, g, add, &four, &e), RT_OK);
    cfg.cpu.cores = 1;
    assert_int_equal(cpumodel_node(&cfg.cpu, g, add, &one, &e), RT_OK);
    assert_true(one.memory_bound && four.memory_bound);
    assert_close(four.seconds, one.seconds);
    graph_free(g);
}

/* A MatMul on the CPU whose weight is an INT8 constant dequantised by a Cast runs as an integer
 * kernel: at the int8 rate, reading the weight's 1-byte elements rather than the f16 it becomes. */
static void test_quantised_weights_run_at_the_int8_rate(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    rt_graph *g = graph_create("int8 weights");
    graph_add_input(g, "x", RT_DT_F16, 2, (int64_t[]){256, 128});
    graph_add_weight(g, "w_q", RT_DT_I8, 2, (int64_t[]){128, 64});
    int cast = graph_add_node(g, "Cast", "dequant", 1, (const char *[]){"w_q"}, 1, (const char *[]){"w"});
    graph_node_set_int(g, cast, "to", RT_DT_F16);
    int mm = add2(g, "MatMul", "mm", "x", "w", "y");
    graph_add_input(g, "w_f", RT_DT_F16, 2, (int64_t[]){128, 64});
    int mm_f = add2(g, "MatMul", "mm_f", "x", "w_f", "y_f");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    graph_mark_output(g, graph_find_tensor(g, "y_f"));
    prepare(g);
    rt_error e;
    uint64_t saved;
    assert_int_equal(cpumodel_quantised_weights(g, node_named(g, "mm"), &saved), 1);
    assert_int_equal(saved, 128 * 64); /* f16 (2 bytes) read as int8 (1 byte) */
    assert_int_equal(cpumodel_quantised_weights(g, node_named(g, "mm_f"), &saved), 0);
    assert_int_equal(cpumodel_quantised_weights(g, node_named(g, "dequant"), &saved), 0);
    cpumodel_cost q, f;
    assert_int_equal(cpumodel_node(&cfg.cpu, g, mm, &q, &e), RT_OK);
    assert_int_equal(cpumodel_node(&cfg.cpu, g, mm_f, &f, &e), RT_OK);
    /* 2 * 256 * 128 * 64 = 4194304 flops at 200 GOP/s (int8) against 100 GFLOP/s (f16) */
    assert_true(q.integer_kernel && !f.integer_kernel);
    assert_close(q.rate_flop_s, 200e9);
    assert_close(f.rate_flop_s, 100e9);
    assert_int_equal(q.bytes, 256 * 128 * 2 + 128 * 64 + 256 * 64 * 2);
    assert_int_equal(f.bytes, 256 * 128 * 2 + 128 * 64 * 2 + 256 * 64 * 2);
    assert_false(q.memory_bound);
    assert_close(q.seconds, 4194304 / 200e9 + 2e-6);
    /* so the int8 rate decides its time */
    cfg.cpu.gflop_s.int8 = 1;
    assert_int_equal(cpumodel_node(&cfg.cpu, g, mm, &q, &e), RT_OK);
    assert_close(q.seconds, 4194304 / 1e9 + 2e-6);
    graph_free(g);
}

static void test_rates_and_transfers(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    assert_close(cpumodel_rate(&cfg.cpu, RT_DT_F32), 50e9);
    assert_close(cpumodel_rate(&cfg.cpu, RT_DT_F16), 100e9);
    assert_close(cpumodel_rate(&cfg.cpu, RT_DT_BF16), 100e9);
    assert_close(cpumodel_rate(&cfg.cpu, RT_DT_I8), 200e9);
    assert_close(cpumodel_rate(&cfg.cpu, RT_DT_F64), 25e9);
    assert_close(cpumodel_rate(&cfg.cpu, RT_DT_I64), 50e9);

    /* 1024 f32 into the NPU as int8: 4096 + 1024 bytes, 3 flops each; memory-bound, + 2 us */
    cpumodel_transfer_cost t;
    cpumodel_transfer(&cfg.cpu, 1024, RT_DT_F32, 8, CPUMODEL_TO_NPU, &t);
    assert_int_equal(t.bytes, 5120);
    assert_close(t.copy_s, 5120 / 10e9);
    assert_close(t.overhead_s, 2e-6);
    assert_close(t.seconds, 5120 / 10e9 + 2e-6);
    assert_close(t.energy_j, 2.0 * t.seconds);
    /* compute-bound when the CPU is slow: 3 * 1024 flops at 1 GFLOP/s */
    m4npu_config slow = cfg;
    slow.cpu.gflop_s.fp32 = 1;
    cpumodel_transfer(&slow.cpu, 1024, RT_DT_F32, 8, CPUMODEL_TO_NPU, &t);
    assert_close(t.copy_s, 3072 / 1e9);
    cpumodel_transfer(&slow.cpu, 1024, RT_DT_F32, 8, CPUMODEL_FROM_NPU, &t);
    assert_close(t.copy_s, 1024 / 1e9); /* one flop per element to dequantise */
    /* same width on both sides: a plain copy */
    cpumodel_transfer(&slow.cpu, 1024, RT_DT_I32, 32, CPUMODEL_TO_NPU, &t);
    assert_int_equal(t.bytes, 8192);
    assert_close(t.copy_s, 8192 / 10e9);

    assert_close(cpumodel_submit_s(&cfg.cpu, 3), 20e-6);
    /* a delegate's per-op host time: cpu.npu_op_overhead_us per node of the job */
    m4npu_config per_op = cfg;
    per_op.cpu.npu_op_overhead_us = 50.0;
    assert_close(cpumodel_submit_s(&per_op.cpu, 3), 20e-6 + 3 * 50e-6);
    assert_close(cpumodel_idle_j(&cfg.cpu, 2.0), 0.2);
    assert_close(cpumodel_active_j(&cfg.cpu, 2.0), 4.0);
}

/* ---- the partitioner */

/* x -> n0 Sin (CPU) -> s
 * x -> n1 MatMul W (NPU) -> a
 * x -> n2 Cos (CPU) -> c
 * a -> n3 Relu (NPU) -> r
 * r, s -> n4 Add (NPU) -> t
 * t, c -> n5 Mul (NPU) -> y
 * In file order the NPU nodes form two runs ([n1], [n3 n4 n5]); the grouping order runs both
 * CPU nodes first and gets one segment. */
static rt_graph *mixed_graph(void)
{
    rt_graph *g = graph_create("mixed");
    graph_add_input(g, "x", RT_DT_F32, 2, (int64_t[]){4, 8});
    const_f32(g, "W", 2, (int64_t[]){8, 8});
    add1(g, "Sin", "n0", "x", "s");
    add2(g, "MatMul", "n1", "x", "W", "a");
    add1(g, "Cos", "n2", "x", "c");
    add1(g, "Relu", "n3", "a", "r");
    add2(g, "Add", "n4", "r", "s", "t");
    add2(g, "Mul", "n5", "t", "c", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    return g;
}

static bool refuse_relu(void *ctx, const rt_graph *g, int node, char *why, size_t whylen)
{
    int *calls = ctx;
    (*calls)++;
    if (g->nodes[node].op == RT_OP_Relu) {
        snprintf(why, whylen, "Relu: no kernel in this test firmware");
        return false;
    }
    return true;
}


static void test_grouping_order_makes_one_segment(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    rt_graph *g = mixed_graph();
    part_plan *p;
    rt_error e;
    if (partition_graph(g, &cfg, NULL, NULL, &p, &e) != RT_OK)
        fail_msg("%s", e.msg);
    int n0 = node_named(g, "n0"), n1 = node_named(g, "n1"), n2 = node_named(g, "n2"), n3 = node_named(g, "n3"),
        n4 = node_named(g, "n4"), n5 = node_named(g, "n5");
    assert_int_equal(p->n_npu, 4);
    assert_int_equal(p->n_cpu, 2);
    assert_int_equal(p->node[n0].place, PART_CPU);
    assert_string_equal(p->node[n0].why, "Sin: not in the NPU capability set");
    assert_string_equal(p->node[n2].why, "Cos: not in the NPU capability set");
    assert_int_equal(p->node[n1].place, PART_NPU);
    assert_string_equal(p->node[n1].why, "");
    int want_order[] = {n0, n2, n1, n3, n4, n5};
    assert_memory_equal(p->order, want_order, sizeof want_order);
    assert_int_equal(p->n_segments, 1);
    assert_int_equal(p->segments[0].n_nodes, 4);
    int want_seg[] = {n1, n3, n4, n5};
    assert_memory_equal(p->segments[0].nodes, want_seg, sizeof want_seg);
    for (int i = 0; i < 4; i++)
        assert_int_equal(p->node[want_seg[i]].segment, 0);
    assert_int_equal(p->node[n0].segment, -1);

    /* crossings: x, s, c in (32 f32 -> int8: 160 bytes each), y out (160 bytes) */
    const part_segment *s = &p->segments[0];
    assert_int_equal(s->n_in, 3);
    assert_int_equal(s->n_out, 1);
    assert_int_equal(p->n_crossings, 4);
    const char *want_in[] = {"x", "s", "c"};
    for (int i = 0; i < 3; i++) {
        const part_crossing *c = &p->crossings[s->first_crossing + i];
        assert_string_equal(g->tensors[c->tensor]->name, want_in[i]);
        assert_int_equal(c->dir, CPUMODEL_TO_NPU);
        assert_int_equal(c->elements, 32);
        assert_int_equal(c->cost.bytes, 160);
        assert_close(c->cost.seconds, 160 / 10e9 + 2e-6);
    }
    const part_crossing *out = &p->crossings[s->first_crossing + 3];
    assert_string_equal(g->tensors[out->tensor]->name, "y");
    assert_int_equal(out->dir, CPUMODEL_FROM_NPU);
    assert_int_equal(s->bytes_in, 480);
    assert_int_equal(s->bytes_out, 160);
    assert_int_equal(p->crossing_bytes, 640);
    assert_close(p->crossing_s, 4 * (160 / 10e9 + 2e-6));
    assert_close(p->crossing_j, 2.0 * p->crossing_s);
    assert_close(p->submit_s, 20e-6);
    assert_close(p->submit_j, 40e-6);

    /* the CPU nodes' modelled cost: Sin/Cos on 32 f32: 32 flops, 256 bytes; memory-bound */
    assert_close(p->node[n0].cpu.seconds, 256 / 10e9 + 2e-6);
    assert_close(p->cpu_s, 2 * (256 / 10e9 + 2e-6));
    assert_close(p->cpu_j, 2.0 * p->cpu_s);
    part_plan_free(p);
    graph_free(g);
}

static void test_firmware_refusal_splits_the_segment(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    rt_graph *g = mixed_graph();
    part_plan *p;
    rt_error e;
    int calls = 0;
    if (partition_graph(g, &cfg, refuse_relu, &calls, &p, &e) != RT_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(calls, 4); /* asked only about the nodes the configuration allows */
    int n0 = node_named(g, "n0"), n1 = node_named(g, "n1"), n2 = node_named(g, "n2"), n3 = node_named(g, "n3"),
        n4 = node_named(g, "n4"), n5 = node_named(g, "n5");
    assert_int_equal(p->node[n3].place, PART_CPU);
    assert_string_equal(p->node[n3].why, "firmware: Relu: no kernel in this test firmware");
    int want_order[] = {n0, n2, n1, n3, n4, n5};
    assert_memory_equal(p->order, want_order, sizeof want_order);
    assert_int_equal(p->n_segments, 2);
    assert_int_equal(p->segments[0].n_nodes, 1);
    assert_int_equal(p->segments[0].nodes[0], n1);
    assert_int_equal(p->segments[1].n_nodes, 2);
    /* segment 0: x in, a out; segment 1: r, s, c in, y out */
    assert_int_equal(p->segments[0].n_in, 1);
    assert_int_equal(p->segments[0].n_out, 1);
    assert_int_equal(p->segments[1].n_in, 3);
    assert_int_equal(p->segments[1].n_out, 1);
    assert_int_equal(p->n_crossings, 6);
    assert_int_equal(p->crossing_bytes, 6 * 160);
    assert_close(p->submit_s, 2 * 20e-6);
    part_plan_free(p);
    graph_free(g);
}

static void test_capability_changes_placement(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    m4npu_config_error err;
    rt_graph *g = mixed_graph();
    part_plan *p;
    rt_error e;
    /* everything on: one segment holding all six nodes; only x in and y out */
    assert_int_equal(m4npu_config_set(&cfg, "ops.Sin", "on", &err), M4NPU_CONFIG_OK);
    assert_int_equal(m4npu_config_set(&cfg, "ops.Cos", "on", &err), M4NPU_CONFIG_OK);
    assert_int_equal(partition_graph(g, &cfg, NULL, NULL, &p, &e), RT_OK);
    assert_int_equal(p->n_npu, 6);
    assert_int_equal(p->n_segments, 1);
    assert_int_equal(p->n_crossings, 2);
    for (int i = 0; i < 6; i++)
        assert_int_equal(p->order[i], i); /* one side only: the graph's order */
    part_plan_free(p);
    /* nothing on: no segment, no crossing, all six on the CPU */
    memset(&cfg.ops, 0, sizeof cfg.ops);
    assert_int_equal(partition_graph(g, &cfg, NULL, NULL, &p, &e), RT_OK);
    assert_int_equal(p->n_cpu, 6);
    assert_int_equal(p->n_segments, 0);
    assert_int_equal(p->n_crossings, 0);
    assert_true(p->submit_s == 0 && p->crossing_s == 0);
    part_plan_free(p);
    graph_free(g);
}

/* Limits, data types, integer parameters, views and constants. */
static void test_limits_types_views_and_constants(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    rt_graph *g = graph_create("limits");
    graph_add_input(g, "wide", RT_DT_F32, 2, (int64_t[]){2, 600});
    graph_add_input(g, "narrow", RT_DT_F32, 2, (int64_t[]){2, 512});
    graph_add_input(g, "half", RT_DT_F64, 1, (int64_t[]){8}); /* no `on` default: floats f32/f16/bf16 */
    graph_add_input(g, "img", RT_DT_F32, 4, (int64_t[]){1, 3, 16, 16});
    const_f32(g, "k9", 4, (int64_t[]){4, 3, 9, 9});
    const_f32(g, "k3", 4, (int64_t[]){4, 3, 3, 3});
    const_f32(g, "c1", 1, (int64_t[]){8});
    const_f32(g, "c2", 1, (int64_t[]){8});
    int64_t shp[] = {1024};
    graph_add_constant(g, "flat", RT_DT_I64, 1, (int64_t[]){1}, shp, sizeof shp);
    int sm_wide = add1(g, "Softmax", "sm_wide", "wide", "p1");
    int sm_narrow = add1(g, "Softmax", "sm_narrow", "narrow", "p2");
    int conv9 = add2(g, "Conv", "conv9", "img", "k9", "f9");
    int conv3 = add2(g, "Conv", "conv3", "img", "k3", "f3");
    int hadd = add2(g, "Add", "half_add", "half", "half", "h2");
    int cadd = add2(g, "Add", "const_add", "c1", "c2", "c3");
    int cmul = add2(g, "Mul", "const_mul", "c3", "c3", "c4");
    int rs = add2(g, "Reshape", "flatten", "p2", "flat", "p2f");
    int gnode = add2(g, "Add", "use_const", "h2", "h2", "h3");
    graph_node_set_int(g, conv3, "group", 1);
    graph_mark_output(g, graph_find_tensor(g, "p1"));
    graph_mark_output(g, graph_find_tensor(g, "f9"));
    graph_mark_output(g, graph_find_tensor(g, "f3"));
    graph_mark_output(g, graph_find_tensor(g, "c4"));
    graph_mark_output(g, graph_find_tensor(g, "p2f"));
    graph_mark_output(g, graph_find_tensor(g, "h3"));
    prepare(g);
    sm_wide = node_named(g, "sm_wide");
    sm_narrow = node_named(g, "sm_narrow");
    conv9 = node_named(g, "conv9");
    conv3 = node_named(g, "conv3");
    hadd = node_named(g, "half_add");
    cadd = node_named(g, "const_add");
    cmul = node_named(g, "const_mul");
    rs = node_named(g, "flatten");
    gnode = node_named(g, "use_const");

    assert_int_equal(partition_axis_elements(g, sm_wide), 600);
    assert_int_equal(partition_max_kernel(g, conv9), 9);
    assert_int_equal(partition_max_stride(g, conv9), 1);
    assert_int_equal(partition_axis_elements(g, hadd), -1);
    assert_int_equal(partition_max_kernel(g, sm_wide), -1);

    part_plan *p;
    rt_error e;
    assert_int_equal(partition_graph(g, &cfg, NULL, NULL, &p, &e), RT_OK);
    assert_int_equal(p->node[sm_wide].place, PART_CPU);
    assert_string_equal(p->node[sm_wide].why, "Softmax: reduces over 600 elements > max_axis 512");
    assert_int_equal(p->node[sm_narrow].place, PART_NPU);
    assert_int_equal(p->node[conv9].place, PART_CPU);
    assert_string_equal(p->node[conv9].why, "Conv: kernel 9 > max_kernel 7");
    assert_int_equal(p->node[conv3].place, PART_NPU);
    assert_int_equal(p->node[hadd].place, PART_CPU);
    assert_string_equal(p->node[hadd].why, "Add: input 'half' is f64, not a type the capability set allows");
    /* Reshape's i64 shape is a parameter, not data: it joins the softmax's segment */
    assert_int_equal(p->node[rs].place, PART_NPU);
    assert_int_equal(p->node[rs].segment, p->node[sm_narrow].segment);
    /* nodes computed from constants only are precomputed once: free, on the CPU */
    assert_true(p->node[cadd].constant && p->node[cmul].constant);
    assert_int_equal(p->node[cadd].place, PART_CPU);
    assert_true(p->node[cadd].cpu.seconds == 0 && p->node[cmul].cpu.seconds == 0);
    assert_string_equal(p->node[cadd].why, "");
    assert_int_equal(p->n_constant, 2);
    assert_false(p->node[gnode].constant);
    part_plan_free(p);

    /* a view op the capability set leaves out runs on the CPU for free */
    m4npu_config_error err;
    assert_int_equal(m4npu_config_set(&cfg, "ops.Reshape", "off", &err), M4NPU_CONFIG_OK);
    assert_int_equal(m4npu_config_set(&cfg, "ops.Softmax.max_axis", "1024", &err), M4NPU_CONFIG_OK);
    assert_int_equal(m4npu_config_set(&cfg, "ops.Conv.max_kernel", "9", &err), M4NPU_CONFIG_OK);
    assert_int_equal(m4npu_config_set(&cfg, "ops.Add.dtypes", "f32,f64", &err), M4NPU_CONFIG_OK);
    assert_int_equal(partition_graph(g, &cfg, NULL, NULL, &p, &e), RT_OK);
    assert_int_equal(p->node[rs].place, PART_CPU);
    assert_true(p->node[rs].view);
    assert_true(p->node[rs].cpu.seconds == 0);
    assert_int_equal(p->n_view, 1);
    assert_int_equal(p->node[sm_wide].place, PART_NPU);
    assert_int_equal(p->node[conv9].place, PART_NPU);
    assert_int_equal(p->node[hadd].place, PART_NPU);
    part_plan_free(p);
    /* a stride limit */
    assert_int_equal(m4npu_config_set(&cfg, "ops.Conv.max_stride", "1", &err), M4NPU_CONFIG_OK);
    graph_node_set_ints(g, conv3, "strides", 2, (int64_t[]){2, 2});
    assert_int_equal(graph_infer_shapes(g, &e), RT_OK);
    assert_int_equal(partition_graph(g, &cfg, NULL, NULL, &p, &e), RT_OK);
    assert_string_equal(p->node[conv3].why, "Conv: stride 2 > max_stride 1");
    part_plan_free(p);
    graph_free(g);
}

/* The axis quantity of the other ops with a reduction. */
/* A quantised weight without data (a timing-only model): its dequantising Cast is a constant
 * (computed once at load, not per inference, whatever the capability set says about Cast), the
 * MatMul that reads it joins the NPU, and the weight never crosses the boundary. */
static void test_weight_cast_is_a_constant(void **state)
{
    (void)state;
    m4npu_config cfg;
    test_config(&cfg);
    rt_graph *g = graph_create("weight cast");
    graph_add_input(g, "x", RT_DT_F16, 2, (int64_t[]){4, 64});
    graph_add_weight(g, "w_q", RT_DT_I8, 2, (int64_t[]){64, 32});
    int cast = graph_add_node(g, "Cast", "dequant", 1, (const char *[]){"w_q"}, 1, (const char *[]){"w"});
    graph_node_set_int(g, cast, "to", RT_DT_F16);
    add2(g, "MatMul", "mm", "x", "w", "y");
    graph_mark_output(g, graph_find_tensor(g, "y"));
    prepare(g);
    cast = node_named(g, "dequant");
    int mm = node_named(g, "mm");
    part_plan *p;
    rt_error e;
    assert_int_equal(partition_graph(g, &cfg, NULL, NULL, &p, &e), RT_OK);
    assert_true(p->node[cast].constant);
    assert_int_equal(p->node[mm].place, PART_NPU);
    assert_int_equal(p->n_segments, 1);
    /* crossings: x in and y out only */
    assert_int_equal(p->n_crossings, 2);
    for (int c = 0; c < p->n_crossings; c++)
        assert_int_not_equal(p->crossings[c].tensor, graph_find_tensor(g, "w"));
    assert_true(p->cpu_s == 0.0);
    part_plan_free(p);
    graph_free(g);
}

static void test_axis_elements(void **state)
{
    (void)state;
    rt_graph *g = graph_create("axes");
    graph_add_input(g, "x", RT_DT_F32, 3, (int64_t[]){2, 6, 10});
    graph_add_input(g, "m", RT_DT_F32, 2, (int64_t[]){6, 10});
    const_f32(g, "w", 2, (int64_t[]){10, 5});
    const_f32(g, "gamma", 1, (int64_t[]){10});
    const_f32(g, "beta", 1, (int64_t[]){10});
    const_f32(g, "s6", 1, (int64_t[]){6});
    int ln = graph_add_node(g, "LayerNormalization", "ln", 3, (const char *[]){"x", "gamma", "beta"}, 1,
                            (const char *[]){"ln.y"});
    graph_node_set_int(g, ln, "axis", 1);
    int in = graph_add_node(g, "InstanceNormalization", "in", 3, (const char *[]){"x", "s6", "s6"}, 1,
                            (const char *[]){"in.y"});
    int rm = add1(g, "ReduceMean", "rm", "x", "rm.y");
    graph_node_set_ints(g, rm, "axes", 1, (int64_t[]){1});
    int mm = add2(g, "MatMul", "mm", "x", "w", "mm.y");
    int gemm = add2(g, "Gemm", "gemm", "m", "w", "gemm.y");
    int gemm_t = add2(g, "Gemm", "gemm_t", "m", "m", "gemm_t.y");
    graph_node_set_int(g, gemm_t, "transA", 1);
    for (const char *const *o = (const char *const[]){"ln.y", "in.y", "rm.y", "mm.y", "gemm.y", "gemm_t.y", NULL};
         *o; o++)
        graph_mark_output(g, graph_find_tensor(g, *o));
    prepare(g);
    assert_int_equal(partition_axis_elements(g, node_named(g, "ln")), 60);
    assert_int_equal(partition_axis_elements(g, node_named(g, "in")), 10);
    assert_int_equal(partition_axis_elements(g, node_named(g, "rm")), 6);
    assert_int_equal(partition_axis_elements(g, node_named(g, "mm")), 10);
    assert_int_equal(partition_axis_elements(g, node_named(g, "gemm")), 10);
    assert_int_equal(partition_axis_elements(g, node_named(g, "gemm_t")), 6);
    (void)in;
    (void)mm;
    (void)gemm;
    graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roofline_of_nodes),
        cmocka_unit_test(test_rates_and_transfers),
        cmocka_unit_test(test_cores_speed_up_compute_not_memory),
        cmocka_unit_test(test_quantised_weights_run_at_the_int8_rate),
        cmocka_unit_test(test_grouping_order_makes_one_segment),
        cmocka_unit_test(test_firmware_refusal_splits_the_segment),
        cmocka_unit_test(test_capability_changes_placement),
        cmocka_unit_test(test_limits_types_views_and_constants),
        cmocka_unit_test(test_weight_cast_is_a_constant),
        cmocka_unit_test(test_axis_elements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
