/* The run pipeline (runtime/run) on the encoder block (d=64, 4 heads, 16 tokens) under
 * configs/mobile-default.yaml: partly on the NPU, partly on the CPU; outputs within the
 * documented tolerance of the FP32 reference; the breakdown adds up and agrees with the
 * partitioner and the backend; the timeline is valid trace-event JSON on one serial clock;
 * changing the capability set moves placement, segments and latency the expected way; the run
 * is deterministic. A timing-only module of many segments whose activations add up to more than
 * the device holds runs (issue 17): its segments share one activation arena, its device memory is
 * reported per segment and in all, and all of it is given back. */
#include "test_util.h"

#include <jansson.h>
#include <math.h>

#include "encoder_block.h"
#include "m4npu_config.h"
#include "ops.h"
#include "run.h"

#define MOBILE_YAML M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
/* docs/run.md: the encoder block's NPU output is within 5% of the largest |reference value| */
#define ENCODER_TOLERANCE 0.05
#define TIME_EPS 1e-12

static void load_config(m4npu_config *cfg, const char *const *sets, size_t nsets)
{
    m4npu_config_error err;
    if (m4npu_config_load_overrides(MOBILE_YAML, sets, nsets, cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s", err.msg);
}

static rt_graph *encoder(void)
{
    encoder_block_cfg ec = ENCODER_BLOCK_DEFAULT;
    assert_int_equal(ec.d_model, 64);
    assert_int_equal(ec.heads, 4);
    assert_int_equal(ec.tokens, 16);
    rt_error e;
    rt_graph *g = model_encoder_block(&ec, true, &e);
    if (!g)
        fail_msg("%s", e.msg);
    return g;
}

/* The encoder block, greedy: every supported node on the NPU (what most tests here check). */
static run_result *run_encoder(const m4npu_config *cfg, rt_graph **gout)
{
    rt_graph *g = encoder();
    run_options o = {.cfg = cfg, .greedy_partition = true};
    run_result *r;
    rt_error e;
    if (run_model(g, &o, &r, &e) != RT_OK)
        fail_msg("%s", e.msg);
    *gout = g;
    return r;
}

static int node_named(const rt_graph *g, const char *name)
{
    int n = graph_find_node(g, name);
    if (n < 0)
        fail_msg("no node %s", name);
    return n;
}

static void test_encoder_block_splits_and_stays_accurate(void **state)
{
    (void)state;
    m4npu_config cfg;
    load_config(&cfg, NULL, 0);
    rt_graph *g;
    run_result *r = run_encoder(&cfg, &g);
    const part_plan *p = r->plan;

    /* partly on the NPU, partly on the CPU: Erf (exact GELU) is not in mobile-default's set */
    assert_true(p->n_npu > 0 && p->n_cpu > 0);
    assert_int_equal(p->n_nodes, g->n_nodes);
    int erf = node_named(g, "mlp/gelu/Erf");
    assert_int_equal(p->node[erf].place, PART_CPU);
    assert_string_equal(p->node[erf].why, "Erf: not in the NPU capability set");
    for (int n = 0; n < g->n_nodes; n++)
        if (n != erf)
            assert_int_equal(p->node[n].place, PART_NPU);
    assert_int_equal(p->n_segments, 2);

    /* the output is the NPU path's, within the documented tolerance, and not the reference */
    assert_int_equal(r->n_outputs, 1);
    const run_output *o = &r->outputs[0];
    assert_string_equal(g->tensors[o->tensor]->name, "y");
    assert_true(o->max_abs > 0);
    assert_true(o->max_rel <= ENCODER_TOLERANCE);
    double m = 0, ref_max = 0;
    for (int64_t i = 0; i < rt_tensor_numel(o->value); i++) {
        float a = ((float *)o->value->data)[i], b = ((float *)o->reference->data)[i];
        m = fmax(m, fabs((double)a - b));
        ref_max = fmax(ref_max, fabs(b));
    }
    assert_true(m == o->max_abs && ref_max == o->ref_max_abs);
    assert_true(fabs(o->max_rel - m / ref_max) < 1e-15);
    assert_true(r->max_abs == o->max_abs && r->max_rel == o->max_rel);
    /* the device computed exactly what its kernels specify: the error is quantisation only */
    assert_true(r->twin_max_abs == 0);
    for (int s = 0; s < r->plan->n_segments; s++)
        assert_true(r->segs[s].twin_max_abs == 0);

    /* the breakdown adds up and agrees with the plan */
    assert_true(fabs(r->total_s - (r->npu_s + r->cpu_s + r->transfer_s + r->submit_s)) < TIME_EPS);
    assert_true(r->cpu_s == p->cpu_s && r->cpu_s == p->node[erf].cpu.seconds && r->cpu_s > 0);
    assert_true(r->transfer_s == p->crossing_s && r->transfer_s > 0);
    assert_true(fabs(r->submit_s - 2 * cfg.cpu.npu_submit_overhead_us * 1e-6) < TIME_EPS);
    double npu = 0;
    for (int s = 0; s < p->n_segments; s++) {
        const run_segment_result *sr = &r->segs[s];
        assert_true(sr->stats.cycles > 0);
        assert_true(fabs(sr->stats.seconds - sr->stats.cycles / (cfg.npu.clock_mhz * 1e6)) < TIME_EPS);
        npu += sr->stats.seconds;
        /* the backend's boundary bytes are the int8 side of the partitioner's crossings */
        uint64_t in = 0, out = 0;
        const part_segment *sg = &p->segments[s];
        for (int c = sg->first_crossing; c < sg->first_crossing + sg->n_in + sg->n_out; c++)
            *(p->crossings[c].dir == CPUMODEL_TO_NPU ? &in : &out) += (uint64_t)p->crossings[c].elements;
        assert_int_equal(sr->stats.bytes_in, in);
        assert_int_equal(sr->stats.bytes_out, out);
    }
    assert_true(fabs(npu - r->npu_s) < TIME_EPS);
    /* segment 0 ends before Erf: its outputs are Erf's input, fc1's output (for the GELU's Mul)
     * and the first residual (for the second); segment 1 takes them back with Erf's result */
    assert_int_equal(p->segments[0].n_in, 1);
    assert_int_equal(p->segments[0].n_out, 3);
    assert_int_equal(p->segments[1].n_in, 3);
    assert_int_equal(p->segments[1].n_out, 1);

    /* energy: every part present, the CPU part as the cpu section says */
    const energy_breakdown *en = &r->energy;
    assert_true(en->macs_j > 0 && en->sram_j > 0 && en->dram_j > 0 && en->static_j > 0 && en->transfer_j > 0);
    double cpu_j = cfg.cpu.active_power_w * (r->cpu_s + r->submit_s) + cfg.cpu.idle_power_w * r->npu_s;
    assert_true(fabs(en->cpu_j - cpu_j) < 1e-15);
    assert_true(fabs(en->static_j - cfg.energy.npu_static_w * r->total_s) < 1e-15);
    assert_int_equal(r->n_generated, 1);
    assert_string_equal(r->generated[0], "x");
    run_result_free(r);
    graph_free(g);
}

/* ---- the timeline */

static void test_timeline_is_trace_event_json(void **state)
{
    (void)state;
    m4npu_config cfg;
    load_config(&cfg, NULL, 0);
    rt_graph *g;
    run_result *r = run_encoder(&cfg, &g);
    char path[256];
    test_path(path, sizeof path, "timeline.json");
    rt_error e;
    assert_int_equal(run_write_timeline(g, &cfg, r, path, NULL, &e), RT_OK);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j)
        fail_msg("timeline is not JSON: %s (line %d)", jerr.text, jerr.line);
    json_t *evs = json_object_get(j, "traceEvents");
    assert_true(json_is_array(evs));
    assert_string_equal(json_string_value(json_object_get(j, "displayTimeUnit")), "ns");
    int thread_names = 0, process_names = 0, sort_indices = 0, cpu_nodes = 0, crossings = 0, jobs = 0, units = 0,
        ops = 0;
    bool tracks_seen[RUN_TRACK_COUNT] = {false};
    double serial_end = 0, last_end = 0, job_start = 0, job_end = 0, op_end = 0;
    for (size_t i = 0; i < json_array_size(evs); i++) {
        json_t *ev = json_array_get(evs, i);
        const char *ph = json_string_value(json_object_get(ev, "ph"));
        assert_non_null(ph);
        assert_true(json_is_integer(json_object_get(ev, "pid")));
        if (strcmp(ph, "M") == 0) {
            const char *what = json_string_value(json_object_get(ev, "name"));
            if (strstr(what, "sort_index")) { /* keeps the tracks in their order */
                assert_true(json_is_integer(json_object_get(json_object_get(ev, "args"), "sort_index")));
                sort_indices++;
                continue;
            }
            assert_non_null(json_string_value(json_object_get(json_object_get(ev, "args"), "name")));
            if (strcmp(what, "thread_name") == 0) {
                json_int_t tid = json_integer_value(json_object_get(ev, "tid"));
                assert_true(tid >= 0 && tid < RUN_TRACK_COUNT);
                tracks_seen[tid] = true;
                thread_names++;
            } else {
                assert_string_equal(what, "process_name");
                process_names++;
            }
            continue;
        }
        assert_string_equal(ph, "X");
        assert_non_null(json_string_value(json_object_get(ev, "name")));
        assert_non_null(json_string_value(json_object_get(ev, "cat")));
        assert_true(json_is_integer(json_object_get(ev, "tid")));
        assert_true(json_is_object(json_object_get(ev, "args")));
        double ts = json_number_value(json_object_get(ev, "ts")), dur = json_number_value(json_object_get(ev, "dur"));
        assert_true(ts >= 0 && dur >= 0);
        const char *cat = json_string_value(json_object_get(ev, "cat"));
        json_int_t pid = json_integer_value(json_object_get(ev, "pid"));
        if (strcmp(cat, "op") == 0) {
            /* a job's op descriptors follow each other inside it (the units drain between them) */
            ops++;
            assert_int_equal(pid, 2);
            assert_true(ts >= job_start - 1e-6 && ts + dur <= job_end + 1e-6 && ts >= op_end - 1e-6);
            op_end = ts + dur;
            assert_non_null(json_string_value(json_object_get(json_object_get(ev, "args"), "kernel")));
            continue;
        }
        if (strcmp(cat, "unit") != 0) {
            /* host events and NPU jobs form one serial chain: each starts where the last ended */
            assert_true(fabs(ts - serial_end) < 1e-6);
            serial_end = ts + dur;
        }
        last_end = fmax(last_end, ts + dur);
        if (strcmp(cat, "cpu") == 0 || strcmp(cat, "view") == 0) {
            cpu_nodes++;
            assert_int_equal(pid, 1);
            assert_non_null(json_string_value(json_object_get(json_object_get(ev, "args"), "op")));
        } else if (strcmp(cat, "quantise") == 0 || strcmp(cat, "dequantise") == 0) {
            crossings++;
            assert_true(json_integer_value(json_object_get(json_object_get(ev, "args"), "bytes")) > 0);
        } else if (strcmp(cat, "segment") == 0) {
            jobs++;
            job_start = op_end = ts;
            job_end = ts + dur;
            assert_int_equal(pid, 2);
            assert_true(json_integer_value(json_object_get(json_object_get(ev, "args"), "cycles")) > 0);
        } else if (strcmp(cat, "unit") == 0) {
            units++;
            assert_int_equal(pid, 2);
        } else {
            assert_string_equal(cat, "submit");
        }
    }
    assert_int_equal(process_names, 2);
    assert_int_equal(thread_names, RUN_TRACK_COUNT);
    assert_int_equal(sort_indices, 2 + RUN_TRACK_COUNT);
    uint32_t descriptors = 0;
    for (int s = 0; s < r->plan->n_segments; s++)
        descriptors += r->segs[s].n_ops;
    assert_int_equal(ops, descriptors);
    for (int t = 0; t < RUN_TRACK_COUNT; t++)
        assert_true(tracks_seen[t]);
    assert_int_equal(cpu_nodes, r->plan->n_cpu - r->plan->n_constant);
    assert_int_equal(crossings, r->plan->n_crossings);
    assert_int_equal(jobs, r->plan->n_segments);
    assert_true(units >= 2 * r->plan->n_segments); /* at least the matmul array and a DMA channel */
    assert_true(fabs(serial_end - r->total_s * 1e6) < 1e-6);
    assert_true(last_end <= serial_end + 1e-6);
    json_decref(j);
    run_result_free(r);
    graph_free(g);
}

/* ---- the capability set moves placement, segments and latency */

static void run_with(const char *const *sets, size_t n, int *cpu, int *segs, double *total, double *max_rel)
{
    m4npu_config cfg;
    load_config(&cfg, sets, n);
    rt_graph *g;
    run_result *r = run_encoder(&cfg, &g);
    *cpu = r->plan->n_cpu;
    *segs = r->plan->n_segments;
    *total = r->total_s;
    *max_rel = r->max_rel;
    run_result_free(r);
    graph_free(g);
}

static void test_capability_changes_move_the_split(void **state)
{
    (void)state;
    int cpu0, seg0, cpu1, seg1, cpu2, seg2, cpu3, seg3;
    double t0, t1, t2, t3, e0, e1, e2, e3;
    run_with(NULL, 0, &cpu0, &seg0, &t0, &e0);
    /* removing Softmax from the NPU: one more CPU node, one more segment, slower */
    const char *no_softmax[] = {"ops.Softmax=off"};
    run_with(no_softmax, 1, &cpu1, &seg1, &t1, &e1);
    assert_int_equal(cpu1, cpu0 + 1);
    assert_int_equal(seg1, seg0 + 1);
    assert_true(t1 > t0);
    /* a softmax axis limit below the 16 tokens does the same through the limit */
    const char *short_axis[] = {"ops.Softmax.max_axis=8"};
    run_with(short_axis, 1, &cpu2, &seg2, &t2, &e2);
    assert_int_equal(cpu2, cpu1);
    assert_int_equal(seg2, seg1);
    assert_true(fabs(t2 - t1) < TIME_EPS);
    /* adding Erf: everything on the NPU, one segment, faster than the default split */
    const char *with_erf[] = {"ops.Erf=on"};
    run_with(with_erf, 1, &cpu3, &seg3, &t3, &e3);
    assert_int_equal(cpu3, 0);
    assert_int_equal(seg3, 1);
    assert_true(t3 < t0);
    assert_true(e0 <= ENCODER_TOLERANCE && e1 <= ENCODER_TOLERANCE && e3 <= ENCODER_TOLERANCE);
    /* nothing on the NPU: the NPU path is the reference, no segment, no crossing */
    m4npu_config cfg;
    load_config(&cfg, NULL, 0);
    memset(&cfg.ops, 0, sizeof cfg.ops);
    rt_graph *g;
    run_result *r = run_encoder(&cfg, &g);
    assert_int_equal(r->plan->n_segments, 0);
    assert_int_equal(r->plan->n_crossings, 0);
    assert_true(r->max_abs == 0 && r->npu_s == 0 && r->submit_s == 0);
    assert_true(r->total_s == r->cpu_s && r->cpu_s > t3);
    run_result_free(r);
    graph_free(g);
}

/* ---- determinism and given inputs */

static void test_deterministic_and_given_inputs(void **state)
{
    (void)state;
    m4npu_config cfg;
    load_config(&cfg, NULL, 0);
    rt_graph *g1, *g2;
    run_result *a = run_encoder(&cfg, &g1), *b = run_encoder(&cfg, &g2);
    assert_true(a->total_s == b->total_s && a->npu_s == b->npu_s);
    for (int s = 0; s < a->plan->n_segments; s++)
        assert_memory_equal(&a->segs[s].stats.counters, &b->segs[s].stats.counters, sizeof(npu_counters));
    assert_memory_equal(a->outputs[0].value->data, b->outputs[0].value->data, a->outputs[0].value->data_bytes);

    /* the generated input, given back explicitly (as f64: converted), gives the same run */
    rt_tensor *x = rt_tensor_new("x", RT_DT_F64, 3, (int64_t[]){1, 16, 64});
    assert_int_equal(rt_tensor_alloc(x, NULL), RT_OK);
    uint64_t st = RUN_DEFAULT_SEED;
    for (int64_t i = 0; i < 1024; i++) {
        uint64_t z = (st += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        ((double *)x->data)[i] = 2.0 * ((double)(z >> 11) / 9007199254740992.0) - 1.0;
    }
    rt_graph *g3 = encoder();
    run_input in = {"x", x};
    run_options o = {.cfg = &cfg, .inputs = &in, .n_inputs = 1, .greedy_partition = true};
    run_result *c;
    rt_error e;
    if (run_model(g3, &o, &c, &e) != RT_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(c->n_generated, 0);
    assert_memory_equal(c->outputs[0].value->data, a->outputs[0].value->data, a->outputs[0].value->data_bytes);
    /* another seed: other values, same placement and cycles (timing never depends on data) */
    rt_graph *g4 = encoder();
    run_options o4 = {.cfg = &cfg, .seed = 12345, .greedy_partition = true};
    run_result *d;
    if (run_model(g4, &o4, &d, &e) != RT_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(d->seed, 12345);
    assert_true(memcmp(d->outputs[0].value->data, a->outputs[0].value->data, a->outputs[0].value->data_bytes) != 0);
    assert_true(d->npu_s == a->npu_s);
    assert_true(d->max_rel <= ENCODER_TOLERANCE);
    run_result_free(a);
    run_result_free(b);
    run_result_free(c);
    run_result_free(d);
    rt_tensor_free(x);
    graph_free(g1);
    graph_free(g2);
    graph_free(g3);
    graph_free(g4);
}

static void expect_input_error(const run_input *in, int n, rt_status code, const char *msg)
{
    m4npu_config cfg;
    load_config(&cfg, NULL, 0);
    rt_graph *g = encoder();
    run_options o = {.cfg = &cfg, .inputs = in, .n_inputs = n};
    run_result *r = (run_result *)0x1;
    rt_error e;
    assert_int_equal(run_model(g, &o, &r, &e), code);
    assert_null(r);
    assert_string_equal(e.msg, msg);
    graph_free(g);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    rt_tensor *i32 = rt_tensor_new("x", RT_DT_I32, 3, (int64_t[]){1, 16, 64});
    rt_tensor *shape = rt_tensor_new("x", RT_DT_F32, 2, (int64_t[]){16, 64});
    assert_int_equal(rt_tensor_alloc(i32, NULL), RT_OK);
    assert_int_equal(rt_tensor_alloc(shape, NULL), RT_OK);
    run_input a = {"x", i32};
    expect_input_error(&a, 1, RT_ERR_DTYPE, "--input x: expected f32 [1,16,64], got i32 [1,16,64]");
    run_input b = {"x", shape};
    expect_input_error(&b, 1, RT_ERR_SHAPE, "--input x: expected f32 [1,16,64], got f32 [16,64]");
    run_input c = {"tokens", shape};
    expect_input_error(&c, 1, RT_ERR_NOT_FOUND, "--input tokens: the model has no input 'tokens' (its inputs: x)");
    run_input d[2] = {{"x", shape}, {"x", shape}};
    expect_input_error(d, 2, RT_ERR_DUPLICATE, "--input x: given twice");
    rt_tensor_free(i32);
    rt_tensor_free(shape);
}

/* SEGS + 1 segments (split by an Erf, which configs/test.yaml leaves to the CPU), each with 8 MiB
 * of activations at its peak (an 8 MiB input dead before its 8 MiB output is born, so they share
 * their bytes): 72 MiB together on a 64 MiB device. */
static void test_segments_share_the_device_memory_of_a_module(void **state)
{
    (void)state;
    enum { SEGS = 8 };
    const int64_t rows = 2048, narrow = 16, wide = 4096;
    rt_graph *g = graph_create("many segments");
    assert_non_null(g);
    int64_t xd[2] = {rows, narrow}, wa[2] = {narrow, wide}, wb[2] = {wide, narrow};
    assert_true(graph_add_input(g, "a0", RT_DT_F32, 2, xd) >= 0);
    char a[16], w[16], b[16], c[16], v[16];
    for (int i = 0; i < SEGS; i++) { /* a_i -> b_i (8 MiB) -> Erf (CPU) -> c_i -> a_i+1 */
        snprintf(a, sizeof a, "a%d", i);
        snprintf(w, sizeof w, "wa%d", i);
        snprintf(b, sizeof b, "b%d", i);
        snprintf(c, sizeof c, "c%d", i);
        snprintf(v, sizeof v, "wb%d", i);
        assert_true(graph_add_weight(g, w, RT_DT_F32, 2, wa) >= 0);
        assert_true(graph_add_weight(g, v, RT_DT_F32, 2, wb) >= 0);
        assert_true(graph_add_node(g, "MatMul", NULL, 2, (const char *[]){a, w}, 1, (const char *[]){b}) >= 0);
        assert_true(graph_add_node(g, "Erf", NULL, 1, (const char *[]){b}, 1, (const char *[]){c}) >= 0);
        snprintf(a, sizeof a, "a%d", i + 1);
        assert_true(graph_add_node(g, "MatMul", NULL, 2, (const char *[]){c, v}, 1, (const char *[]){a}) >= 0);
    }
    assert_int_equal(graph_mark_output(g, graph_find_tensor(g, a)), RT_OK);
    rt_error e;
    assert_int_equal(graph_prepare(g, &e), RT_OK);
    m4npu_config cfg;
    m4npu_config_defaults(&cfg); /* configs/test.yaml: 64 MiB of DRAM */
    npu_backend *be = npu_backend_open(&cfg, &e);
    assert_non_null(be);
    npu_mem_info before;
    npu_dev_mem_info(npu_backend_device(be), &before);
    run_options o = {.cfg = &cfg, .timing_only = true, .backend = be, .greedy_partition = true};
    run_result *r;
    if (run_model(g, &o, &r, &e) != RT_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(r->plan->n_segments, SEGS + 1);
    uint64_t act_sum = 0, act_max = 0, weights = 0;
    for (int s = 0; s < r->plan->n_segments; s++) {
        const npu_mem_usage *m = &r->segs[s].mem;
        assert_int_equal(m->peak_bytes, m->weight_bytes + m->kv_bytes + m->act_bytes + m->program_bytes);
        act_sum += m->act_bytes;
        act_max = m->act_bytes > act_max ? m->act_bytes : act_max;
        weights += m->weight_bytes;
    }
    assert_true(act_sum > cfg.npu.dram.size_bytes); /* one arena per segment would not fit */
    assert_int_equal(act_max, (uint64_t)(rows * wide + rows * narrow));
    assert_int_equal(r->mem.act_bytes, act_max);
    assert_int_equal(r->mem.weight_bytes, weights);
    assert_true(r->mem.peak_bytes < cfg.npu.dram.size_bytes);
    json_t *j = run_result_json(g, &cfg, NULL, r); /* the report says the same */
    assert_non_null(j);
    json_t *dm = json_object_get(j, "device_memory");
    assert_int_equal(json_integer_value(json_object_get(dm, "activations_bytes")), (json_int_t)r->mem.act_bytes);
    assert_int_equal(json_integer_value(json_object_get(dm, "peak_bytes")), (json_int_t)r->mem.peak_bytes);
    json_t *s0 = json_object_get(json_array_get(json_object_get(j, "segments"), 0), "device_memory");
    assert_int_equal(json_integer_value(json_object_get(s0, "weights_bytes")), (json_int_t)r->segs[0].mem.weight_bytes);
    json_decref(j);
    npu_mem_info after;
    npu_dev_mem_info(npu_backend_device(be), &after);
    assert_int_equal(after.used_bytes, before.used_bytes); /* all given back */
    assert_int_equal(after.live_bos, before.live_bos);
    run_result_free(r);
    npu_backend_close(be);
    graph_free(g);
}

/* Two MatMuls around a Softmax, all on the NPU in one segment whichever way it is partitioned. */
static rt_graph *npu_chain(void)
{
    rt_graph *g = graph_create("npu chain");
    assert_non_null(g);
    int64_t xd[2] = {64, 256}, wd[2] = {256, 256};
    assert_true(graph_add_input(g, "x", RT_DT_F32, 2, xd) >= 0);
    static float w[256 * 256];
    for (int i = 0; i < 256 * 256; i++)
        w[i] = (float)((i * 7919) % 201 - 100) / 1000.0f; /* in [-0.1, 0.1] */
    assert_true(graph_add_constant(g, "w1", RT_DT_F32, 2, wd, w, sizeof w) >= 0);
    assert_true(graph_add_constant(g, "w2", RT_DT_F32, 2, wd, w, sizeof w) >= 0);
    assert_true(graph_add_node(g, "MatMul", NULL, 2, (const char *[]){"x", "w1"}, 1, (const char *[]){"h"}) >= 0);
    assert_true(graph_add_node(g, "Softmax", NULL, 1, (const char *[]){"h"}, 1, (const char *[]){"p"}) >= 0);
    assert_true(graph_add_node(g, "MatMul", NULL, 2, (const char *[]){"p", "w2"}, 1, (const char *[]){"y"}) >= 0);
    assert_int_equal(graph_mark_output(g, graph_find_tensor(g, "y")), RT_OK);
    rt_error e;
    if (graph_prepare(g, &e) != RT_OK)
        fail_msg("%s", e.msg);
    return g;
}

/* Cost-aware partitioning plans the greedy segments' device memory for its fits check; when the
 * run's plan has the same segments it takes that plan instead of planning them again, with the
 * same memory, cycles and outputs as a run that plans them itself (greedy partitioning never
 * checks fits, so it always does). */
static void test_run_takes_the_fits_checks_memory_plan(void **state)
{
    (void)state;
    m4npu_config cfg;
    load_config(&cfg, NULL, 0);
    rt_graph *g = npu_chain(), *h = npu_chain();
    run_options cost = {.cfg = &cfg}, greedy = {.cfg = &cfg, .greedy_partition = true};
    run_result *rc, *rg;
    rt_error e;
    if (run_model(g, &cost, &rc, &e) != RT_OK || run_model(h, &greedy, &rg, &e) != RT_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(rc->plan->n_segments, 1);
    assert_int_equal(rg->plan->n_segments, 1);
    assert_int_equal(rc->plan->segments[0].n_nodes, rg->plan->segments[0].n_nodes);
    assert_true(rc->mem_plan_from_fits);
    assert_false(rg->mem_plan_from_fits);
    assert_memory_equal(&rc->mem, &rg->mem, sizeof rc->mem);
    assert_memory_equal(&rc->segs[0].mem, &rg->segs[0].mem, sizeof rc->segs[0].mem);
    assert_int_equal(rc->segs[0].stats.cycles, rg->segs[0].stats.cycles);
    assert_true(rc->segs[0].stats.cycles > 0);
    assert_int_equal(rc->n_outputs, 1);
    assert_int_equal(rg->n_outputs, 1);
    const rt_tensor *a = rc->outputs[0].value, *b = rg->outputs[0].value;
    assert_int_equal(rt_tensor_numel(a), rt_tensor_numel(b));
    assert_memory_equal(a->data, b->data, (size_t)rt_tensor_numel(a) * sizeof(float));
    assert_true(rc->max_abs == rg->max_abs && rc->max_rel == rg->max_rel);
    run_result_free(rc);
    run_result_free(rg);
    graph_free(g);
    graph_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoder_block_splits_and_stays_accurate),
        cmocka_unit_test(test_timeline_is_trace_event_json),
        cmocka_unit_test(test_capability_changes_move_the_split),
        cmocka_unit_test(test_deterministic_and_given_inputs),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_segments_share_the_device_memory_of_a_module),
        cmocka_unit_test(test_run_takes_the_fits_checks_memory_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
