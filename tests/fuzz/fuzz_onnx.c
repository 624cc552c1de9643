/* fuzz_onnx.c -- fuzz harness: an ONNX file through what `m4npu run` does before it touches the
 * device. Import (protobuf-c, initializers, Constant nodes, attributes), graph_prepare
 * (validation, topological sort, constant folding with the CPU kernels, dead-node removal, shape
 * inference), costing, partitioning under configs/test.yaml's capability set (with a stand-in for
 * the firmware check that refuses some nodes, so that plans have several segments and crossings),
 * export and re-import, and -- when every shape is known and the graph is small -- the FP32
 * reference run on the CPU kernels. The NPU backend's lowering is left out: it needs the SystemC
 * device.
 *
 * A file refused only for an op without a kernel is imported again as `m4npu conformance` does
 * (unknown ops kept: validation of the structure and sorting only). Every file is also imported
 * as `m4npu run --timing-only` does (weights without data, their bytes never read), prepared and
 * partitioned.
 *
 * Properties checked (a broken one aborts): a prepared graph is in topological order with
 * consistent producers and name index; a plan orders every node once, after its producers, with
 * each segment a contiguous run of NPU nodes; an exported graph imports again; the kernels produce
 * the shapes inference predicted. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_exec.h"
#include "fuzz_util.h"
#include "graph.h"
#include "m4npu_config.h"
#include "onnx_io.h"
#include "partition.h"

/* The CPU reference runs only on small graphs: the fuzzer looks for crashes, not for slow inputs. */
#define FUZZ_CPU_MAX_TENSOR_BYTES (UINT64_C(1) << 20)
#define FUZZ_CPU_MAX_FLOPS 1e7
/* The stand-in firmware refuses every node whose index is a multiple of this (when it is on). */
#define FUZZ_FW_REFUSE_EVERY 3

static bool fw_refuses_some(void *ctx, const rt_graph *g, int node, char *why, size_t whylen)
{
    (void)ctx;
    (void)g;
    if (node % FUZZ_FW_REFUSE_EVERY == 0) {
        snprintf(why, whylen, "the fuzz firmware refuses every %dth node", FUZZ_FW_REFUSE_EVERY);
        return false;
    }
    return true;
}

static void check_graph(const rt_graph *g)
{
    FUZZ_CHECK(g->n_nodes >= 0 && g->n_tensors >= 0, "negative counts");
    for (int t = 0; t < g->n_tensors; t++) {
        const rt_tensor *ts = g->tensors[t];
        FUZZ_CHECK(graph_find_tensor(g, ts->name) == t, "tensor %d '%s' not found by its name", t, ts->name);
        FUZZ_CHECK(ts->producer >= -1 && ts->producer < g->n_nodes, "tensor '%s': producer %d", ts->name,
                   ts->producer);
        FUZZ_CHECK(ts->rank >= -1 && ts->rank <= RT_MAX_RANK, "tensor '%s': rank %d", ts->name, ts->rank);
        FUZZ_CHECK(!ts->data || ts->data_bytes == rt_tensor_nbytes(ts), "tensor '%s': %llu data bytes for %llu",
                   ts->name, (unsigned long long)ts->data_bytes, (unsigned long long)rt_tensor_nbytes(ts));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const rt_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            FUZZ_CHECK(t >= -1 && t < g->n_tensors, "node %d input %d: tensor %d", i, k, t);
            if (t >= 0)
                FUZZ_CHECK(g->tensors[t]->producer < i, "node %d reads '%s' made by node %d (not sorted)", i,
                           g->tensors[t]->name, g->tensors[t]->producer);
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            FUZZ_CHECK(t >= -1 && t < g->n_tensors, "node %d output %d: tensor %d", i, k, t);
            if (t >= 0)
                FUZZ_CHECK(g->tensors[t]->producer == i, "node %d output '%s' has producer %d", i, g->tensors[t]->name,
                           g->tensors[t]->producer);
        }
    }
    for (int k = 0; k < g->n_outputs; k++)
        FUZZ_CHECK(g->outputs[k] >= 0 && g->outputs[k] < g->n_tensors, "graph output %d: tensor %d", k,
                   g->outputs[k]);
}

static void check_plan(const rt_graph *g, const part_plan *p)
{
    FUZZ_CHECK(p->n_nodes == g->n_nodes, "plan of %d nodes for %d", p->n_nodes, g->n_nodes);
    bool *seen = calloc((size_t)g->n_nodes + 1, sizeof *seen);
    FUZZ_CHECK(seen != NULL, "out of memory");
    for (int pos = 0; pos < p->n_nodes; pos++) {
        int i = p->order[pos];
        FUZZ_CHECK(i >= 0 && i < g->n_nodes && !seen[i], "order[%d] = %d", pos, i);
        seen[i] = true;
        FUZZ_CHECK(p->node[i].position == pos, "node %d at %d says position %d", i, pos, p->node[i].position);
        const rt_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            int prod = t >= 0 ? g->tensors[t]->producer : -1;
            FUZZ_CHECK(prod < 0 || p->node[prod].position < pos, "node %d runs before its producer %d", i, prod);
        }
    }
    free(seen);
    int npu = 0, crossings = 0;
    for (int s = 0; s < p->n_segments; s++) {
        const part_segment *seg = &p->segments[s];
        FUZZ_CHECK(seg->n_nodes > 0, "segment %d is empty", s);
        for (int k = 0; k < seg->n_nodes; k++) {
            const part_node_info *ni = &p->node[seg->nodes[k]];
            FUZZ_CHECK(ni->place == PART_NPU && ni->segment == s, "segment %d node %d: place %d segment %d", s,
                       seg->nodes[k], ni->place, ni->segment);
            FUZZ_CHECK(k == 0 || ni->position == p->node[seg->nodes[k - 1]].position + 1,
                       "segment %d is not contiguous in the order", s);
        }
        FUZZ_CHECK(seg->first_crossing == crossings, "segment %d: first crossing %d, expected %d", s,
                   seg->first_crossing, crossings);
        for (int c = seg->first_crossing; c < seg->first_crossing + seg->n_in + seg->n_out; c++)
            FUZZ_CHECK(p->crossings[c].segment == s &&
                           p->crossings[c].dir == (c < seg->first_crossing + seg->n_in ? CPUMODEL_TO_NPU : CPUMODEL_FROM_NPU),
                       "crossing %d of segment %d", c, s);
        crossings += seg->n_in + seg->n_out;
        npu += seg->n_nodes;
    }
    FUZZ_CHECK(crossings == p->n_crossings, "%d crossings listed, %d in segments", p->n_crossings, crossings);
    FUZZ_CHECK(npu == p->n_npu && p->n_npu + p->n_cpu == g->n_nodes, "npu %d/%d, cpu %d, nodes %d", npu, p->n_npu,
               p->n_cpu, g->n_nodes);
}

/* Every tensor's shape known and small, and few FLOPs: the CPU reference may run. */
static bool small_enough_to_run(const rt_graph *g)
{
    uint64_t bytes = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        const rt_tensor *ts = g->tensors[t];
        if (!rt_tensor_shape_known(ts) || rt_dtype_bits(ts->dtype) == 0)
            return false;
        bytes += rt_tensor_nbytes(ts);
        if (bytes > FUZZ_CPU_MAX_TENSOR_BYTES)
            return false;
    }
    rt_cost c;
    return graph_cost(g, &c, NULL) == RT_OK && c.flops <= FUZZ_CPU_MAX_FLOPS;
}

static void run_reference(const rt_graph *g)
{
    cpu_exec *x;
    if (cpu_exec_create(g, &x, NULL) != RT_OK)
        return;
    cpu_exec_keep_intermediates(x, true);
    rt_status s = RT_OK;
    for (int k = 0; k < g->n_inputs && s == RT_OK; k++) {
        const rt_tensor *decl = g->tensors[g->inputs[k]];
        rt_tensor *v = rt_tensor_new(decl->name, decl->dtype, decl->rank, decl->dims);
        s = v ? rt_tensor_alloc(v, NULL) : RT_ERR_NOMEM;
        if (s == RT_OK) {
            uint8_t *b = v->data; /* a fixed pattern: small integers, and finite floats of every type */
            for (uint64_t i = 0; i < v->data_bytes; i++)
                b[i] = (uint8_t)((i * 7u) % 61u);
            s = cpu_exec_set_input(x, decl->name, v, NULL);
        }
        rt_tensor_free(v);
    }
    if (s == RT_OK && cpu_exec_run(x, NULL) == RT_OK) {
        for (int t = 0; t < g->n_tensors; t++) {
            const rt_tensor *decl = g->tensors[t];
            const rt_tensor *v = decl->kind == RT_TENSOR_CONSTANT ? NULL : cpu_exec_output(x, decl->name);
            if (!v)
                continue;
            char s1[128], s2[128];
            FUZZ_CHECK(v->dtype == decl->dtype && v->rank == decl->rank &&
                           memcmp(v->dims, decl->dims, (size_t)v->rank * sizeof v->dims[0]) == 0,
                       "'%s': inferred %s %s, computed %s %s", decl->name, rt_dtype_name(decl->dtype),
                       rt_shape_str(decl, s1, sizeof s1), rt_dtype_name(v->dtype), rt_shape_str(v, s2, sizeof s2));
        }
    }
    cpu_exec_free(x);
}

static void export_and_reimport(const rt_graph *g)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rt_error e = {0};
    if (onnx_export_buffer(g, &buf, &len, &e) != RT_OK)
        return; /* e.g. a shape-only weight: not exportable, and said so */
    rt_graph *again = NULL;
    rt_status s = onnx_import_buffer(buf, len, NULL, NULL, &again, &e);
    FUZZ_CHECK(s == RT_OK, "an exported graph does not import again: %s", e.msg);
    check_graph(again);
    graph_free(again);
    free(buf);
}

/* As `m4npu run --timing-only` imports: weights get no data, so folding and inference must do
 * without their values. */
static void timing_only_import(const uint8_t *data, size_t size, const m4npu_config *cfg)
{
    onnx_import_opts timing = {.no_weight_data = true};
    rt_graph *g = NULL;
    rt_error e = {0};
    if (onnx_import_buffer(data, size, NULL, &timing, &g, &e) != RT_OK) {
        FUZZ_CHECK(e.code != RT_OK && e.msg[0], "a timing-only import failed without a message");
        return;
    }
    check_graph(g);
    part_plan *p = NULL;
    if (partition_graph(g, cfg, fw_refuses_some, NULL, &p, &e) == RT_OK)
        check_plan(g, p);
    part_plan_free(p);
    graph_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static m4npu_config cfg;
    static bool have_cfg;
    if (!have_cfg) {
        m4npu_config_defaults(&cfg); /* configs/test.yaml: a capability set of 30-odd ops */
        have_cfg = true;
    }
    timing_only_import(data, size, &cfg);
    rt_graph *g = NULL;
    rt_error e = {0};
    if (onnx_import_buffer(data, size, NULL, NULL, &g, &e) != RT_OK) {
        FUZZ_CHECK(e.code != RT_OK && e.msg[0], "an import failed without a message");
        if (e.code == RT_ERR_UNKNOWN_OP) { /* as `m4npu conformance` imports: unknown ops kept, sorted */
            onnx_import_opts lenient = {.allow_unknown_ops = true};
            if (onnx_import_buffer(data, size, NULL, &lenient, &g, &e) == RT_OK)
                check_graph(g);
            graph_free(g);
        }
        return 0;
    }
    check_graph(g);
    rt_cost cost;
    (void)graph_cost(g, &cost, NULL);
    for (int variant = 0; variant < 2; variant++) {
        part_plan *p = NULL;
        if (partition_graph(g, &cfg, variant ? fw_refuses_some : NULL, NULL, &p, &e) == RT_OK)
            check_plan(g, p);
        part_plan_free(p);
    }
    export_and_reimport(g);
    if (small_enough_to_run(g))
        run_reference(g);
    graph_free(g);
    return 0;
}
