/* test_models.h -- what the model tests of the CPU kernels share (test_cpu_dense.c,
 * test_cpu_rnn.c): random values stored in a tensor type and read back exactly as the kernel
 * will see them (the FP64 references in the tests start from the same numbers), graphs saved
 * as ONNX with the project's exporter and imported again before they run on the CPU executor
 * (so every test model is a real .onnx file), and the error measure the tolerances refer to.
 * Header-only; tests only. */
#ifndef M4NPU_TEST_MODELS_H
#define M4NPU_TEST_MODELS_H

#include <math.h>

#include "test_util.h"

#include "cpu_exec.h"
#include "graph.h"
#include "onnx_io.h"

/* A tensor's values: raw bytes in its type and the same values as doubles. */
typedef struct tv {
    rt_dtype dt;
    int rank;
    int64_t dims[RT_MAX_RANK];
    int64_t n;
    void *raw;
    double *v;
} tv;

static inline int64_t tv_count(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

/* Values from f(i) (doubles), stored as dt (rounded or converted as the IR stores them). */
static inline tv tv_make(rt_dtype dt, int rank, const int64_t *dims, double (*f)(void *, int64_t), void *ctx)
{
    tv t = {.dt = dt, .rank = rank};
    memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
    t.n = tv_count(rank, dims);
    rt_tensor *x = rt_tensor_new("tv", dt, rank, dims);
    assert_non_null(x);
    assert_int_equal(rt_tensor_alloc(x, NULL), RT_OK);
    t.v = calloc((size_t)(t.n ? t.n : 1), sizeof *t.v);
    assert_non_null(t.v);
    for (int64_t i = 0; i < t.n; i++) {
        double d = f(ctx, i);
        switch (dt) {
        case RT_DT_F32: ((float *)x->data)[i] = (float)d; break;
        case RT_DT_F64: ((double *)x->data)[i] = d; break;
        case RT_DT_F16: ((uint16_t *)x->data)[i] = rt_f32_to_f16((float)d); break;
        case RT_DT_BF16: ((uint16_t *)x->data)[i] = rt_f32_to_bf16((float)d); break;
        case RT_DT_U8: ((uint8_t *)x->data)[i] = (uint8_t)d; break;
        case RT_DT_I8: ((int8_t *)x->data)[i] = (int8_t)d; break;
        case RT_DT_I32: ((int32_t *)x->data)[i] = (int32_t)d; break;
        case RT_DT_I64: ((int64_t *)x->data)[i] = (int64_t)d; break;
        default: fail_msg("tv_make: type %s", rt_dtype_name(dt));
        }
        t.v[i] = rt_dtype_is_float(dt) ? rt_tensor_get_f64(x, i) : (double)rt_tensor_get_i64(x, i);
    }
    t.raw = x->data;
    x->data = NULL;
    rt_tensor_free(x);
    return t;
}

typedef struct tv_uniform {
    test_rng rng;
    double lo, hi;
    bool integers;
} tv_uniform;

static inline double tv_uniform_next(void *ctx, int64_t i)
{
    (void)i;
    tv_uniform *u = ctx;
    if (u->integers)
        return (double)test_rng_range(&u->rng, (int64_t)u->lo, (int64_t)u->hi);
    double r = (double)(test_rng_next(&u->rng) >> 11) / 9007199254740992.0;
    return u->lo + (u->hi - u->lo) * r;
}

/* Uniform in [lo, hi) (integers: [lo, hi] for integer types) from a seed. */
static inline tv tv_random(uint64_t seed, rt_dtype dt, int rank, const int64_t *dims, double lo, double hi)
{
    tv_uniform u = {{seed}, lo, hi, !rt_dtype_is_float(dt)};
    return tv_make(dt, rank, dims, tv_uniform_next, &u);
}

static inline void tv_free(tv *t)
{
    free(t->raw);
    free(t->v);
    t->raw = NULL;
    t->v = NULL;
}

static inline uint64_t tv_bytes(const tv *t)
{
    rt_tensor x = {.dtype = t->dt, .rank = t->rank};
    memcpy(x.dims, t->dims, sizeof t->dims);
    return rt_tensor_nbytes(&x);
}

static inline void tv_constant(rt_graph *g, const char *name, const tv *t)
{
    assert_true(graph_add_constant(g, name, t->dt, t->rank, t->dims, t->raw, tv_bytes(t)) >= 0);
}

/* Save g as ONNX with the project's exporter (to path, when given, else in memory), import it
 * again (the import prepares it) and run it on the CPU executor with the given inputs. g is freed; the
 * imported graph is returned in *imported (the executor refers to it). */
static inline cpu_exec *model_run(rt_graph *g, const char *path, int n_in, const char *const *in_names,
                                  const tv *in_values, rt_graph **imported)
{
    rt_error e = {0};
    uint8_t *buf;
    size_t len;
    if (onnx_export_buffer(g, &buf, &len, &e) != RT_OK)
        fail_msg("export: %s", e.msg);
    if (path)
        test_write_file(path, buf, len);
    rt_graph *h;
    if (onnx_import_buffer(buf, len, NULL, NULL, &h, &e) != RT_OK)
        fail_msg("import: %s", e.msg);
    free(buf);
    graph_free(g);
    cpu_exec *x;
    assert_int_equal(cpu_exec_create(h, &x, &e), RT_OK);
    for (int i = 0; i < n_in; i++) {
        const tv *t = &in_values[i];
        rt_tensor *v = rt_tensor_new(in_names[i], t->dt, t->rank, t->dims);
        assert_non_null(v);
        assert_int_equal(rt_tensor_alloc(v, NULL), RT_OK);
        memcpy(v->data, t->raw, tv_bytes(t));
        if (cpu_exec_set_input(x, in_names[i], v, &e) != RT_OK)
            fail_msg("input %s: %s", in_names[i], e.msg);
        rt_tensor_free(v);
    }
    if (cpu_exec_run(x, &e) != RT_OK)
        fail_msg("run: %s", e.msg);
    *imported = h;
    return x;
}

/* max |got - want| / max(max |want|, 1e-30): the relative error of a whole output. Shape, type
 * and count are checked first. */
static inline double output_error(const cpu_exec *x, const char *name, rt_dtype dt, int rank, const int64_t *dims,
                                  const double *want)
{
    const rt_tensor *y = cpu_exec_output(x, name);
    if (!y)
        fail_msg("output %s missing", name);
    if (y->dtype != dt)
        fail_msg("output %s: type %s, expected %s", name, rt_dtype_name(y->dtype), rt_dtype_name(dt));
    assert_int_equal(y->rank, rank);
    for (int d = 0; d < rank; d++)
        if (y->dims[d] != dims[d])
            fail_msg("output %s: dim %d is %lld, expected %lld", name, d, (long long)y->dims[d], (long long)dims[d]);
    int64_t n = tv_count(rank, dims);
    double err = 0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        double got = rt_dtype_is_float(dt) ? rt_tensor_get_f64(y, i) : (double)rt_tensor_get_i64(y, i);
        err = fmax(err, fabs(got - want[i]));
        scale = fmax(scale, fabs(want[i]));
        if (isnan(got) != isnan(want[i]))
            fail_msg("output %s[%lld]: %g, expected %g", name, (long long)i, got, want[i]);
    }
    return err / scale;
}

/* The tolerance of a result stored in dt after a few roundings: a few units of its precision. */
static inline double dtype_tolerance(rt_dtype dt)
{
    switch (dt) {
    case RT_DT_F64: return 1e-12;
    case RT_DT_F32: return 1e-5;
    case RT_DT_F16: return 4e-3;  /* 2^-11 per rounding */
    case RT_DT_BF16: return 3e-2; /* 2^-8 per rounding */
    default: return 0;
    }
}

#endif
