/* npu_graph_bench.h -- a bench for the runtime's NPU backend: build a small graph, run it with
 * the FP32 CPU kernels (the reference, and the calibration of activation scales), build one NPU
 * segment of all its nodes, run it on the device and on the CPU twin, and compare: device and
 * twin bit for bit, device and FP32 within a tolerance relative to the output's range. Tests
 * only. */
#ifndef M4NPU_NPU_GRAPH_BENCH_H
#define M4NPU_NPU_GRAPH_BENCH_H

#include "test_util.h"

#include <math.h>

#include "cpu_exec.h"
#include "graph.h"
#include "npu_backend.h"
#include "ops.h"

#define GB_MAX_T 256

typedef struct gb {
    rt_graph *g;
    test_rng rng;
    double max_rel;          /* worst max|npu - ref| / max|ref| over the outputs of the last run */
    npu_segment_stats st;    /* of the last device run */
    uint32_t ops;            /* descriptors of the last segment */
    uint32_t first_op;       /* the kind of its first descriptor (enum npu_op; 0: none) */
} gb;

static inline void gb_new(gb *b, const char *name)
{
    memset(b, 0, sizeof *b);
    b->g = graph_create(name);
    assert_non_null(b->g);
    b->rng.s = 777;
}

static inline float gb_uniform(gb *b, float lo, float hi)
{
    return lo + (hi - lo) * (float)(test_rng_next(&b->rng) >> 40) / (float)(1ull << 24);
}

static inline void gb_input(gb *b, const char *name, int rank, const int64_t *dims)
{
    assert_true(graph_add_input(b->g, name, RT_DT_F32, rank, dims) >= 0);
}

/* A constant of any type from values given as float (rounded to the type; ints truncated). */
static inline void gb_const_typed(gb *b, const char *name, rt_dtype dt, int rank, const int64_t *dims, const float *v)
{
    rt_tensor *t = rt_tensor_new(name, dt, rank, dims);
    rt_error e;
    assert_non_null(t);
    assert_int_equal(rt_tensor_alloc(t, &e), RT_OK);
    for (int64_t i = 0; i < rt_tensor_numel(t); i++) {
        if (dt == RT_DT_F16) {
            ((uint16_t *)t->data)[i] = rt_f32_to_f16(v[i]);
        } else if (dt == RT_DT_I8) {
            ((int8_t *)t->data)[i] = (int8_t)v[i];
        } else if (dt == RT_DT_I4) { /* low nibble first */
            uint8_t nib = (uint8_t)((int)v[i] & 0xF);
            ((uint8_t *)t->data)[i / 2] |= (uint8_t)(i % 2 ? nib << 4 : nib);
        } else {
            ((float *)t->data)[i] = v[i];
        }
    }
    assert_true(graph_add_constant(b->g, name, dt, rank, dims, t->data, t->data_bytes) >= 0);
    rt_tensor_free(t);
}

/* A constant of uniform values in [lo, hi]. */
static inline void gb_const(gb *b, const char *name, int rank, const int64_t *dims, float lo, float hi)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = gb_uniform(b, lo, hi);
    assert_true(graph_add_constant(b->g, name, RT_DT_F32, rank, dims, v, (uint64_t)n * 4) >= 0);
    free(v);
}

static inline void gb_const_vals(gb *b, const char *name, int rank, const int64_t *dims, const float *v)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    assert_true(graph_add_constant(b->g, name, RT_DT_F32, rank, dims, v, (uint64_t)n * 4) >= 0);
}

static inline void gb_const_i64(gb *b, const char *name, int n, const int64_t *v)
{
    int64_t d[1] = {n};
    assert_true(graph_add_constant(b->g, name, RT_DT_I64, 1, d, v, (uint64_t)n * 8) >= 0);
}

static inline int gb_node(gb *b, const char *op, int nin, const char *const *in, int nout, const char *const *out)
{
    int n = graph_add_node(b->g, op, NULL, nin, in, nout, out);
    assert_true(n >= 0);
    return n;
}

static inline void gb_output(gb *b, const char *name)
{
    assert_int_equal(graph_mark_output(b->g, graph_find_tensor(b->g, name)), RT_OK);
}

static inline void gb_free(gb *b)
{
    graph_free(b->g);
    memset(b, 0, sizeof *b);
}

/* Prepare, reference-run (inputs uniform in [lo, hi]), calibrate. Returns the reference values
 * per tensor (caller frees with gb_values_free). */
static inline rt_tensor **gb_reference(gb *b, float lo, float hi)
{
    rt_error e;
    memset(&e, 0, sizeof e);
    if (graph_prepare(b->g, &e) != RT_OK)
        fail_msg("graph_prepare: %s", e.msg);
    cpu_exec *x;
    assert_int_equal(cpu_exec_create(b->g, &x, &e), RT_OK);
    cpu_exec_keep_intermediates(x, true);
    rt_tensor **vals = calloc((size_t)b->g->n_tensors + 1, sizeof *vals);
    assert_non_null(vals);
    for (int k = 0; k < b->g->n_inputs; k++) {
        const rt_tensor *d = b->g->tensors[b->g->inputs[k]];
        rt_tensor *v = rt_tensor_new(d->name, d->dtype, d->rank, d->dims);
        assert_non_null(v);
        assert_int_equal(rt_tensor_alloc(v, &e), RT_OK);
        for (int64_t i = 0; i < rt_tensor_numel(v); i++) {
            float x = gb_uniform(b, lo, hi);
            if (v->dtype == RT_DT_F16)
                ((uint16_t *)v->data)[i] = rt_f32_to_f16(x);
            else
                ((float *)v->data)[i] = x;
        }
        if (cpu_exec_set_input(x, d->name, v, &e) != RT_OK)
            fail_msg("set input: %s", e.msg);
        vals[b->g->inputs[k]] = v;
    }
    if (cpu_exec_run(x, &e) != RT_OK)
        fail_msg("reference run: %s", e.msg);
    for (int t = 0; t < b->g->n_tensors; t++) {
        if (vals[t] || b->g->tensors[t]->kind == RT_TENSOR_CONSTANT)
            continue;
        const rt_tensor *v = cpu_exec_output(x, b->g->tensors[t]->name);
        if (v)
            vals[t] = rt_tensor_clone(v);
    }
    cpu_exec_free(x);
    assert_int_equal(npu_calibrate(b->g, vals, &e), RT_OK);
    return vals;
}

static inline void gb_values_free(const gb *b, rt_tensor **v)
{
    for (int t = 0; v && t < b->g->n_tensors; t++)
        rt_tensor_free(v[t]);
    free(v);
}

static inline npu_segment *gb_segment(gb *b, npu_backend *be, npu_weight_type w, bool timing_only)
{
    int *nodes = malloc((size_t)b->g->n_nodes * sizeof *nodes + 1), n = 0;
    assert_non_null(nodes);
    for (int i = 0; i < b->g->n_nodes; i++) { /* every node but a quantised weight's cast (precomputed) */
        const rt_node *nd = &b->g->nodes[i];
        if (nd->op == RT_OP_Cast && nd->inputs[0] >= 0 && b->g->tensors[nd->inputs[0]]->kind == RT_TENSOR_CONSTANT &&
            rt_dtype_is_int(b->g->tensors[nd->inputs[0]]->dtype))
            continue;
        nodes[n++] = i;
    }
    rt_error e;
    memset(&e, 0, sizeof e);
    npu_segment *s = npu_segment_build(be, b->g, nodes, n, w, timing_only, &e);
    free(nodes);
    if (!s)
        fail_msg("npu_segment_build: %s", e.msg);
    const npu_op_desc *ops = npu_segment_ops(s, &b->ops);
    b->first_op = b->ops ? ops[0].op : 0;
    return s;
}

/* The values of the graph's inputs only (fresh copies), for a run. */
static inline rt_tensor **gb_inputs_of(const gb *b, rt_tensor *const *ref)
{
    rt_tensor **v = calloc((size_t)b->g->n_tensors + 1, sizeof *v);
    assert_non_null(v);
    for (int k = 0; k < b->g->n_inputs; k++)
        v[b->g->inputs[k]] = rt_tensor_clone(ref[b->g->inputs[k]]);
    return v;
}

/* The descriptors of s, one line each (for failure messages). */
static inline void gb_dump_ops(const npu_segment *s)
{
    uint32_t n;
    const npu_op_desc *d = npu_segment_ops(s, &n);
    for (uint32_t i = 0; i < n; i++) {
        print_message("op %u: code %u, in0 buf %u +%llu [%lld,%lld,%lld,%lld] r%u, out buf %u +%llu [%lld,%lld,%lld,%lld] "
                      "r%u, iattr %d %d %d %d %d %d %d %d, lattr %lld %lld %lld %lld\n",
                      i, d[i].op, d[i].in[0].buf, (unsigned long long)d[i].in[0].offset, (long long)d[i].in[0].dims[0],
                      (long long)d[i].in[0].dims[1], (long long)d[i].in[0].dims[2], (long long)d[i].in[0].dims[3],
                      d[i].in[0].rank, d[i].out.buf, (unsigned long long)d[i].out.offset, (long long)d[i].out.dims[0],
                      (long long)d[i].out.dims[1], (long long)d[i].out.dims[2], (long long)d[i].out.dims[3],
                      d[i].out.rank, d[i].iattr[0], d[i].iattr[1], d[i].iattr[2], d[i].iattr[3], d[i].iattr[4],
                      d[i].iattr[5], d[i].iattr[6], d[i].iattr[7], (long long)d[i].lattr[0], (long long)d[i].lattr[1],
                      (long long)d[i].lattr[2], (long long)d[i].lattr[3]);
    }
}

/* Build one segment of every node; run it on the device and on the twin; check device == twin
 * byte for byte (through their dequantised outputs) and device against the reference within
 * tol (relative to the output's largest magnitude). */
static inline void gb_check(gb *b, npu_backend *be, npu_weight_type w, float lo, float hi, double tol)
{
    rt_tensor **ref = gb_reference(b, lo, hi);
    npu_segment *s = gb_segment(b, be, w, false);
    rt_tensor **dev = gb_inputs_of(b, ref), **twin = gb_inputs_of(b, ref);
    rt_error e;
    memset(&e, 0, sizeof e);
    if (npu_segment_run(s, dev, &b->st, &e) != RT_OK)
        fail_msg("%s: npu_segment_run: %s", b->g->name, e.msg);
    if (npu_segment_run_twin(s, twin, &e) != RT_OK)
        fail_msg("%s: npu_segment_run_twin: %s", b->g->name, e.msg);
    b->max_rel = 0;
    for (int k = 0; k < b->g->n_outputs; k++) {
        int t = b->g->outputs[k];
        const rt_tensor *r = ref[t], *d = dev[t], *tw = twin[t];
        const char *name = b->g->tensors[t]->name;
        assert_non_null(d);
        assert_non_null(tw);
        assert_int_equal(rt_tensor_numel(d), rt_tensor_numel(r));
        assert_int_equal(d->dtype, r->dtype);
        if (memcmp(d->data, tw->data, rt_tensor_nbytes(d)) != 0) {
            gb_dump_ops(s);
            int64_t i = 0;
            while (rt_tensor_get_f64(d, i) == rt_tensor_get_f64(tw, i))
                i++;
            fail_msg("%s: output '%s': the device and the twin differ first at element %lld: %g, twin %g (reference %g)",
                     b->g->name, name, (long long)i, rt_tensor_get_f64(d, i), rt_tensor_get_f64(tw, i),
                     rt_tensor_get_f64(r, i));
        }
        double mref = 0, merr = 0;
        for (int64_t i = 0; i < rt_tensor_numel(r); i++) {
            double want = rt_tensor_get_f64(r, i), got = rt_tensor_get_f64(d, i);
            mref = fabs(want) > mref ? fabs(want) : mref;
            merr = fabs(got - want) > merr || isnan(got) ? fabs(got - want) : merr;
        }
        double rel = mref > 0 ? merr / mref : merr;
        if (!(rel <= tol))
            fail_msg("%s: output '%s': max error %.4g is %.3g of its range %.4g (tolerance %.3g)", b->g->name, name,
                     merr, rel, mref, tol);
        if (rel > b->max_rel)
            b->max_rel = rel;
    }
    assert_true(b->st.cycles > 0 || b->ops == 0);
    gb_values_free(b, ref);
    gb_values_free(b, dev);
    gb_values_free(b, twin);
    npu_segment_free(s);
}

#endif
