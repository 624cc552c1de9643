/* run_reference.c -- `m4npu run --reference-only`: the FP32 reference of a model on the CPU
 * kernels and nothing else (see run.h). Why a mode of its own: run_model keeps every
 * intermediate value for calibration and then simulates the NPU path, which for a 100+ GMAC
 * model costs far more than the reference; this mode answers "what does the model compute,
 * and how fast does the reference run on this host" with activations freed after their last
 * use. */
#include "run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_exec.h"
#include "run_internal.h"

#define GIGA 1e9

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / GIGA;
}

/* Execute g on the bound inputs; the graph outputs move into r->outputs. */
static rt_status execute(const rt_graph *g, rt_tensor **vals, run_result *r, rt_error *e)
{
    cpu_exec *x;
    rt_status s = cpu_exec_create(g, &x, e);
    if (s != RT_OK)
        return s;
    for (int k = 0; k < g->n_inputs && s == RT_OK; k++) {
        int t = g->inputs[k];
        if (vals[t])
            s = cpu_exec_set_input(x, g->tensors[t]->name, vals[t], e);
    }
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (s == RT_OK && (s = cpu_exec_run(x, e)) != RT_OK)
        rt_error_prefix(e, "FP32 reference");
    r->host_cpu_wall_s = clock_s(CLOCK_MONOTONIC) - t0;
    r->reference_cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (s == RT_OK && !(r->outputs = calloc((size_t)g->n_outputs + 1, sizeof *r->outputs)))
        s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (outputs)");
    for (int k = 0; k < g->n_outputs && s == RT_OK; k++) {
        int t = g->outputs[k];
        const rt_tensor *v = cpu_exec_output(x, g->tensors[t]->name);
        if (!v)
            s = rt_error_set(e, RT_ERR_NO_DATA, "graph output '%s' was not computed", g->tensors[t]->name);
        else if (!(r->outputs[k].value = rt_tensor_clone(v)))
            s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (outputs)");
        else
            r->outputs[r->n_outputs++].tensor = t;
    }
    cpu_exec_free(x);
    return s;
}

rt_status run_reference(rt_graph *g, const run_options *o, run_result **out, rt_error *e)
{
    *out = NULL;
    rt_status bs = run_bind_dims(g, o, e); /* symbolic dimensions first: g may be prepared again */
    if (bs != RT_OK)
        return bs;
    run_result *r = calloc(1, sizeof *r);
    size_t nt = (size_t)g->n_tensors + 1;
    rt_tensor **vals = calloc(nt, sizeof *vals);
    bool *owned = calloc(nt, sizeof *owned);
    rt_status s = RT_OK;
    if (!r || !vals || !owned) {
        s = rt_error_set(e, RT_ERR_NOMEM, "out of memory (run)");
    } else {
        r->reference_only = true;
        r->seed = o->seed ? o->seed : RUN_DEFAULT_SEED;
        r->blas_threads = cpu_exec_blas_threads();
        rt_cost cost;
        if ((s = graph_cost(g, &cost, e)) == RT_OK) {
            r->reference_macs = cost.macs;
            r->reference_flops = cost.flops;
        }
        if (s == RT_OK)
            s = run_bind_inputs(g, o, r, vals, owned, e);
        if (s == RT_OK)
            s = execute(g, vals, r, e);
    }
    for (size_t t = 0; vals && owned && t < nt; t++)
        if (owned[t])
            rt_tensor_free(vals[t]);
    free(vals);
    free(owned);
    if (s != RT_OK) {
        run_result_free(r);
        return s;
    }
    *out = r;
    return RT_OK;
}

/* min, max and mean of a float or integer output (NaNs counted apart). */
typedef struct value_stats {
    double min, max, mean;
    int64_t nans;
} value_stats;

static value_stats stats_of(const rt_tensor *t)
{
    value_stats v = {INFINITY, -INFINITY, 0, 0};
    int64_t n = rt_tensor_numel(t), counted = 0;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = rt_dtype_is_float(t->dtype) ? rt_tensor_get_f64(t, i) : (double)rt_tensor_get_i64(t, i);
        if (isnan(x)) {
            v.nans++;
            continue;
        }
        v.min = x < v.min ? x : v.min;
        v.max = x > v.max ? x : v.max;
        sum += x;
        counted++;
    }
    v.mean = counted ? sum / (double)counted : 0;
    if (!counted)
        v.min = v.max = 0;
    return v;
}

static double gflop_s(const run_result *r)
{
    return r->host_cpu_wall_s > 0 ? r->reference_flops / r->host_cpu_wall_s / GIGA : 0;
}

void run_reference_print(FILE *out, const rt_graph *g, const run_result *r)
{
    fprintf(out, "model %s: FP32 reference only (CPU kernels; no calibration, partition or NPU)\n",
            g->name && g->name[0] ? g->name : "(unnamed)");
    if (r->n_generated) {
        fprintf(out, "inputs: generated (seed 0x%llx, uniform [-1, 1)) for", (unsigned long long)r->seed);
        for (int i = 0; i < r->n_generated; i++)
            fprintf(out, " %s", r->generated[i]);
        fputc('\n', out);
    }
    fprintf(out, "graph: %d nodes, %.3f GMAC, %.3f GFLOP\n", g->n_nodes, r->reference_macs / GIGA,
            r->reference_flops / GIGA);
    fprintf(out, "host wall time: %.3f s (%.2f GFLOP/s, %d OpenBLAS thread%s); CPU time %.3f s\n", r->host_cpu_wall_s,
            gflop_s(r), r->blas_threads, r->blas_threads == 1 ? "" : "s", r->reference_cpu_s);
    char shape[128];
    for (int i = 0; i < r->n_outputs; i++) {
        const rt_tensor *v = r->outputs[i].value;
        value_stats st = stats_of(v);
        fprintf(out, "output %s: %s %s min %.6g max %.6g mean %.6g", g->tensors[r->outputs[i].tensor]->name,
                rt_dtype_name(v->dtype), rt_shape_str(v, shape, sizeof shape), st.min, st.max, st.mean);
        if (st.nans)
            fprintf(out, " (%lld NaN)", (long long)st.nans);
        fputc('\n', out);
    }
}

json_t *run_reference_json(const rt_graph *g, const run_result *r)
{
    json_t *root = json_object(), *outs = json_array(), *gen = json_array();
    int bad = !root || !outs || !gen;
    char shape[128];
    for (int i = 0; !bad && i < r->n_outputs; i++) {
        const rt_tensor *v = r->outputs[i].value;
        value_stats st = stats_of(v);
        json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:I}", "name", g->tensors[r->outputs[i].tensor]->name,
                              "dtype", rt_dtype_name(v->dtype), "shape", rt_shape_str(v, shape, sizeof shape), "min",
                              st.min, "max", st.max, "mean", st.mean, "nans", (json_int_t)st.nans);
        bad = !o || json_array_append_new(outs, o) != 0;
    }
    for (int i = 0; !bad && i < r->n_generated; i++)
        bad = json_array_append_new(gen, json_string(r->generated[i])) != 0;
    if (!bad) {
        json_t *body = json_pack("{s:b, s:i, s:f, s:f, s:f, s:f, s:f, s:i, s:o, s:o}", "reference_only", 1, "nodes",
                                 g->n_nodes, "macs", r->reference_macs, "flops", r->reference_flops, "host_wall_s",
                                 r->host_cpu_wall_s, "host_cpu_s", r->reference_cpu_s, "gflop_s", gflop_s(r),
                                 "blas_threads", r->blas_threads, "outputs", outs, "generated_inputs", gen);
        bad = !body || json_object_update(root, body) != 0;
        json_decref(body);
        outs = gen = NULL; /* owned by body, now by root */
    }
    if (bad) {
        json_decref(root);
        json_decref(outs);
        json_decref(gen);
        return NULL;
    }
    return root;
}
