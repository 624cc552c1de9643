/* cpu_matmul.c -- CPU kernels of MatMul (numpy semantics: batch broadcasting, 1-D promotion),
 * Gemm, and the int8 twins MatMulInteger and QLinearMatMul. Float products are one OpenBLAS
 * GEMM per batch in the working type (cpu_dense.h: f32, or f64 for f64 tensors); the integer
 * ops subtract their zero points and multiply in f64, exact for u8/i8; integer MatMul computes
 * in int64 and wraps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_dense.h"
#include "cpu_util.h"
#include "ops_geom.h"

typedef struct mm_geom {
    int64_t M, K, N;
    int64_t batches;
    int64_t *a_off, *b_off; /* per output batch: element offset of its A and B matrices */
} mm_geom;

/* Promote 1-D operands, then walk the broadcast batch dims. */
static rt_status mm_setup(const rt_op_ctx *c, const rt_tensor *a, const rt_tensor *b, const rt_tensor *y, mm_geom *g)
{
    rt_tensor a2, b2;
    ops_matmul_promote(a, b, &a2, &b2);
    g->M = a2.dims[a2.rank - 2];
    g->K = a2.dims[a2.rank - 1];
    g->N = b2.dims[b2.rank - 1];
    rt_tensor ba = a2, bb = b2, yb = {0};
    ba.rank -= 2;
    bb.rank -= 2;
    yb.rank = ba.rank > bb.rank ? ba.rank : bb.rank;
    for (int d = 0; d < yb.rank; d++) {
        int da = d - (yb.rank - ba.rank), db = d - (yb.rank - bb.rank);
        int64_t x = da >= 0 ? ba.dims[da] : 1, z = db >= 0 ? bb.dims[db] : 1;
        yb.dims[d] = x == 1 ? z : x;
    }
    g->batches = rt_tensor_numel(&yb);
    int64_t expect = g->batches * g->M * g->N;
    if (expect != rt_tensor_numel(y))
        return ops_err(c, RT_ERR_SHAPE, "output has the wrong size");
    g->a_off = malloc((size_t)(g->batches ? g->batches : 1) * sizeof(int64_t));
    g->b_off = malloc((size_t)(g->batches ? g->batches : 1) * sizeof(int64_t));
    if (!g->a_off || !g->b_off) {
        free(g->a_off);
        free(g->b_off);
        return ops_err(c, RT_ERR_NOMEM, "out of memory");
    }
    cpu_iter it;
    const rt_tensor *ins[2] = {&ba, &bb};
    cpu_iter_init(&it, &yb, 2, ins);
    for (int64_t i = 0; i < g->batches; i++, cpu_iter_next(&it)) {
        g->a_off[i] = it.off[0] * g->M * g->K;
        g->b_off[i] = it.off[1] * g->K * g->N;
    }
    return RT_OK;
}

static void mm_free(mm_geom *g)
{
    free(g->a_off);
    free(g->b_off);
}

/* Integer MatMul (numpy semantics, wrapping): operands converted to int64 once. */
static rt_status integer_matmul(rt_op_ctx *c, const rt_tensor *a, const rt_tensor *b, rt_tensor *y, const mm_geom *g)
{
    int64_t na = rt_tensor_numel(a), nb = rt_tensor_numel(b), ny = rt_tensor_numel(y);
    int64_t *ia = malloc((size_t)(na ? na : 1) * sizeof *ia), *ib = malloc((size_t)(nb ? nb : 1) * sizeof *ib);
    uint64_t *acc = malloc((size_t)(ny ? ny : 1) * sizeof *acc);
    if (!ia || !ib || !acc) {
        free(ia);
        free(ib);
        free(acc);
        return ops_err(c, RT_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < na; i++)
        ia[i] = cpu_ldi(a->dtype, a->data, i);
    for (int64_t i = 0; i < nb; i++)
        ib[i] = cpu_ldi(b->dtype, b->data, i);
    for (int64_t bi = 0; bi < g->batches; bi++)
        for (int64_t m = 0; m < g->M; m++) {
            uint64_t *row = acc + (bi * g->M + m) * g->N;
            for (int64_t n = 0; n < g->N; n++)
                row[n] = 0;
            for (int64_t k = 0; k < g->K; k++) {
                uint64_t av = (uint64_t)ia[g->a_off[bi] + m * g->K + k];
                const int64_t *brow = ib + g->b_off[bi] + k * g->N;
                for (int64_t n = 0; n < g->N; n++)
                    row[n] += av * (uint64_t)brow[n];
            }
        }
    for (int64_t i = 0; i < ny; i++)
        cpu_sti(y->dtype, y->data, i, (int64_t)acc[i]);
    free(ia);
    free(ib);
    free(acc);
    return RT_OK;
}

/* Float MatMul: one GEMM per output batch in the working type. */
static rt_status float_matmul(rt_op_ctx *c, const rt_tensor *a, const rt_tensor *b, rt_tensor *y, const mm_geom *g)
{
    rt_status s = RT_OK;
    bool oa, ob, oy;
    if (cpu_dense_is_f64(a->dtype)) {
        const double *pa = cpu_dense_read_f64(c, a, &oa), *pb = cpu_dense_read_f64(c, b, &ob);
        double *py = cpu_dense_out_f64(c, y, &oy);
        if (!pa || !pb || !py)
            s = RT_ERR_NOMEM;
        for (int64_t bi = 0; bi < g->batches && s == RT_OK; bi++)
            s = cpu_gemm_f64(c, false, false, g->M, g->N, g->K, 1, pa + g->a_off[bi], g->K, pb + g->b_off[bi], g->N,
                             0, py + bi * g->M * g->N, g->N);
        if (py)
            cpu_dense_commit_f64(y, py, oy);
        cpu_dense_release(pa, oa);
        cpu_dense_release(pb, ob);
    } else {
        const float *pa = cpu_dense_read_f32(c, a, &oa), *pb = cpu_dense_read_f32(c, b, &ob);
        float *py = cpu_dense_out_f32(c, y, &oy);
        if (!pa || !pb || !py)
            s = RT_ERR_NOMEM;
        for (int64_t bi = 0; bi < g->batches && s == RT_OK; bi++)
            s = cpu_gemm_f32(c, false, false, g->M, g->N, g->K, 1, pa + g->a_off[bi], g->K, pb + g->b_off[bi], g->N,
                             0, py + bi * g->M * g->N, g->N);
        if (py)
            cpu_dense_commit_f32(y, py, oy);
        cpu_dense_release(pa, oa);
        cpu_dense_release(pb, ob);
    }
    return s;
}

rt_status cpu_matmul(rt_op_ctx *c)
{
    const rt_tensor *a = c->in[0], *b = c->in[1];
    rt_tensor *y = c->out[0];
    mm_geom g;
    rt_status s = mm_setup(c, a, b, y, &g);
    if (s != RT_OK)
        return s;
    s = rt_dtype_is_float(a->dtype) ? float_matmul(c, a, b, y, &g) : integer_matmul(c, a, b, y, &g);
    mm_free(&g);
    return s;
}

/* Zero point / scale of A's row m or B's column n: scalar, or one per row/column. */
static double per_axis(const rt_tensor *t, int64_t idx, double dflt)
{
    if (!t)
        return dflt;
    int64_t n = rt_tensor_numel(t);
    return cpu_ld(t->dtype, t->data, n == 1 ? 0 : idx < n ? idx : 0);
}

static rt_status check_per_axis(const rt_op_ctx *c, int i, int64_t count)
{
    if (!ops_has_input(c, i))
        return RT_OK;
    int64_t n = rt_tensor_numel(c->in[i]);
    if (n != 1 && n != count)
        return ops_err(c, RT_ERR_SHAPE, "input %d ('%s') must be a scalar or have %lld entries", i, c->in[i]->name,
                       (long long)count);
    return RT_OK;
}

/* A - a_zero_point (per row m of A, or scalar) and B - b_zero_point (per column n of B) in f64,
 * then one f64 GEMM per batch into acc: exact for u8/i8 operands (every sum stays below 2^53). */
static rt_status zero_point_matmul(rt_op_ctx *c, const rt_tensor *a, const rt_tensor *azp, const rt_tensor *b,
                                   const rt_tensor *bzp, const mm_geom *g, double **acc_out)
{
    *acc_out = NULL;
    bool oa, ob;
    double *pa = cpu_dense_read_f64(c, a, &oa), *pb = cpu_dense_read_f64(c, b, &ob);
    int64_t ny = g->batches * g->M * g->N;
    double *acc = malloc((size_t)(ny > 0 ? ny : 1) * sizeof *acc);
    rt_status s = RT_OK;
    if (!pa || !pb || !acc) {
        s = ops_err(c, RT_ERR_NOMEM, "out of memory");
    } else if (!oa || !ob) {
        s = ops_err(c, RT_ERR_DTYPE, "A and B must be 8-bit integers");
    } else {
        int64_t na = rt_tensor_numel(a), nb = rt_tensor_numel(b);
        for (int64_t i = 0; i < na; i++)
            pa[i] -= per_axis(azp, (i / g->K) % (g->M ? g->M : 1), 0);
        for (int64_t i = 0; i < nb; i++)
            pb[i] -= per_axis(bzp, i % (g->N ? g->N : 1), 0);
        for (int64_t bi = 0; bi < g->batches && s == RT_OK; bi++)
            s = cpu_gemm_f64(c, false, false, g->M, g->N, g->K, 1, pa + g->a_off[bi], g->K, pb + g->b_off[bi], g->N,
                             0, acc + bi * g->M * g->N, g->N);
    }
    cpu_dense_release(pa, oa);
    cpu_dense_release(pb, ob);
    if (s != RT_OK) {
        free(acc);
        return s;
    }
    *acc_out = acc;
    return RT_OK;
}

rt_status cpu_matmul_integer(rt_op_ctx *c)
{
    const rt_tensor *a = c->in[0], *b = c->in[1];
    const rt_tensor *azp = ops_has_input(c, 2) ? c->in[2] : NULL, *bzp = ops_has_input(c, 3) ? c->in[3] : NULL;
    rt_tensor *y = c->out[0];
    mm_geom g;
    rt_status s = mm_setup(c, a, b, y, &g);
    if (s != RT_OK)
        return s;
    double *acc = NULL;
    if ((s = check_per_axis(c, 2, g.M)) == RT_OK && (s = check_per_axis(c, 3, g.N)) == RT_OK)
        s = zero_point_matmul(c, a, azp, b, bzp, &g, &acc);
    if (s == RT_OK) {
        int64_t n = rt_tensor_numel(y);
        for (int64_t i = 0; i < n; i++)
            ((int32_t *)y->data)[i] = (int32_t)(uint32_t)rt_f64_to_i64(acc[i]); /* (exact below 2^53) */
    }
    free(acc);
    mm_free(&g);
    return s;
}

static int64_t saturate(rt_dtype t, double v)
{
    double lo = t == RT_DT_I8 ? INT8_MIN : 0, hi = t == RT_DT_I8 ? INT8_MAX : UINT8_MAX;
    v = nearbyint(v);
    return rt_f64_to_i64(v < lo ? lo : v > hi ? hi : v); /* NaN: 0 */
}

/* QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point. */
rt_status cpu_qlinearmatmul(rt_op_ctx *c)
{
    const rt_tensor *a = c->in[0], *b = c->in[3];
    rt_tensor *y = c->out[0];
    mm_geom g;
    rt_status s = mm_setup(c, a, b, y, &g);
    if (s != RT_OK)
        return s;
    double *acc = NULL;
    if ((s = check_per_axis(c, 1, g.M)) == RT_OK && (s = check_per_axis(c, 2, g.M)) == RT_OK &&
        (s = check_per_axis(c, 4, g.N)) == RT_OK && (s = check_per_axis(c, 5, g.N)) == RT_OK)
        s = zero_point_matmul(c, a, c->in[2], b, c->in[5], &g, &acc);
    if (s == RT_OK) {
        double ys = per_axis(c->in[6], 0, 1), yz = per_axis(c->in[7], 0, 0);
        for (int64_t bi = 0; bi < g.batches; bi++)
            for (int64_t m = 0; m < g.M; m++) {
                double as = per_axis(c->in[1], m, 1);
                for (int64_t n = 0; n < g.N; n++) {
                    int64_t yo = (bi * g.M + m) * g.N + n;
                    double v = acc[yo] * (as * per_axis(c->in[4], n, 1) / ys) + yz;
                    cpu_sti(y->dtype, y->data, yo, saturate(y->dtype, v));
                }
            }
    }
    free(acc);
    mm_free(&g);
    return s;
}

/* C of Gemm broadcast to [M, N], times beta, into y (the GEMM then adds alpha * A * B). */
#define GEMM_FILL_C(REAL, y, cb, cstr, M, N, beta)                                                           \
    for (int64_t m = 0; m < (M); m++)                                                                         \
        for (int64_t n = 0; n < (N); n++)                                                                     \
            (y)[m * (N) + n] = (cb) ? (REAL)(beta) * (cb)[m * (cstr)[0] + n * (cstr)[1]] : (REAL)0;

rt_status cpu_gemm(rt_op_ctx *c)
{
    const rt_tensor *a = c->in[0], *b = c->in[1], *cc = ops_has_input(c, 2) ? c->in[2] : NULL;
    rt_tensor *y = c->out[0];
    if (!rt_dtype_is_float(a->dtype))
        return cpu_dtype_error(c, a->dtype);
    bool ta = rt_node_attr_int(c->node, "transA", 0), tb = rt_node_attr_int(c->node, "transB", 0);
    double alpha = rt_node_attr_float(c->node, "alpha", 1.0f), beta = rt_node_attr_float(c->node, "beta", 1.0f);
    int64_t M = y->dims[0], N = y->dims[1], K = a->dims[ta ? 0 : 1];
    int64_t cstr[2] = {0, 0};
    if (cc) {
        if (cc->rank > 2)
            return ops_err(c, RT_ERR_SHAPE, "C must have rank <= 2");
        for (int d = 0; d < cc->rank; d++) {
            int od = 2 - cc->rank + d;
            if (cc->dims[d] != 1 && cc->dims[d] != y->dims[od])
                return ops_err(c, RT_ERR_SHAPE, "C does not broadcast to [%lld,%lld]", (long long)M, (long long)N);
        }
        cpu_bcast_strides(cc, 2, y->dims, cstr);
    }
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    rt_status s = RT_OK;
    bool oa, ob, oc = false, oy;
    if (cpu_dense_is_f64(a->dtype)) {
        const double *pa = cpu_dense_read_f64(c, a, &oa), *pb = cpu_dense_read_f64(c, b, &ob);
        const double *pc = cc ? cpu_dense_read_f64(c, cc, &oc) : NULL;
        double *py = cpu_dense_out_f64(c, y, &oy);
        if (!pa || !pb || (cc && !pc) || !py) {
            s = RT_ERR_NOMEM;
        } else {
            GEMM_FILL_C(double, py, pc, cstr, M, N, beta)
            s = cpu_gemm_f64(c, ta, tb, M, N, K, alpha, pa, lda, pb, ldb, 1, py, N);
        }
        if (py)
            cpu_dense_commit_f64(y, py, oy);
        cpu_dense_release(pa, oa);
        cpu_dense_release(pb, ob);
        cpu_dense_release(pc, oc);
    } else {
        const float *pa = cpu_dense_read_f32(c, a, &oa), *pb = cpu_dense_read_f32(c, b, &ob);
        const float *pc = cc ? cpu_dense_read_f32(c, cc, &oc) : NULL;
        float *py = cpu_dense_out_f32(c, y, &oy);
        if (!pa || !pb || (cc && !pc) || !py) {
            s = RT_ERR_NOMEM;
        } else {
            GEMM_FILL_C(float, py, pc, cstr, M, N, beta)
            s = cpu_gemm_f32(c, ta, tb, M, N, K, (float)alpha, pa, lda, pb, ldb, 1, py, N);
        }
        if (py)
            cpu_dense_commit_f32(y, py, oy);
        cpu_dense_release(pa, oa);
        cpu_dense_release(pb, ob);
        cpu_dense_release(pc, oc);
    }
    return s;
}
