/* cpu_matmul.c -- CPU reference kernels of MatMul (numpy semantics: batch broadcasting, 1-D
 * promotion), Gemm, and the int8 twins MatMulInteger and QLinearMatMul. Float products
 * accumulate in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

rt_status cpu_matmul(rt_op_ctx *c)
{
    const rt_tensor *a = c->in[0], *b = c->in[1];
    rt_tensor *y = c->out[0];
    mm_geom g;
    rt_status s = mm_setup(c, a, b, y, &g);
    if (s != RT_OK)
        return s;
    bool f32 = a->dtype == RT_DT_F32;
    bool is_f = rt_dtype_is_float(a->dtype);
    for (int64_t bi = 0; bi < g.batches; bi++) {
        for (int64_t m = 0; m < g.M; m++) {
            for (int64_t n = 0; n < g.N; n++) {
                int64_t yo = (bi * g.M + m) * g.N + n;
                if (f32) {
                    const float *pa = (const float *)a->data + g.a_off[bi] + m * g.K;
                    const float *pb = (const float *)b->data + g.b_off[bi] + n;
                    double acc = 0;
                    for (int64_t k = 0; k < g.K; k++)
                        acc += (double)pa[k] * pb[k * g.N];
                    ((float *)y->data)[yo] = (float)acc;
                } else if (is_f) {
                    double acc = 0;
                    for (int64_t k = 0; k < g.K; k++)
                        acc += cpu_ld(a->dtype, a->data, g.a_off[bi] + m * g.K + k) *
                               cpu_ld(b->dtype, b->data, g.b_off[bi] + k * g.N + n);
                    cpu_st(y->dtype, y->data, yo, acc);
                } else {
                    uint64_t acc = 0;
                    for (int64_t k = 0; k < g.K; k++)
                        acc += (uint64_t)cpu_ldi(a->dtype, a->data, g.a_off[bi] + m * g.K + k) *
                               (uint64_t)cpu_ldi(b->dtype, b->data, g.b_off[bi] + k * g.N + n);
                    cpu_sti(y->dtype, y->data, yo, (int64_t)acc);
                }
            }
        }
    }
    mm_free(&g);
    return RT_OK;
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

rt_status cpu_matmul_integer(rt_op_ctx *c)
{
    const rt_tensor *a = c->in[0], *b = c->in[1];
    const rt_tensor *azp = ops_has_input(c, 2) ? c->in[2] : NULL, *bzp = ops_has_input(c, 3) ? c->in[3] : NULL;
    rt_tensor *y = c->out[0];
    mm_geom g;
    rt_status s = mm_setup(c, a, b, y, &g);
    if (s != RT_OK)
        return s;
    if ((s = check_per_axis(c, 2, g.M)) != RT_OK || (s = check_per_axis(c, 3, g.N)) != RT_OK) {
        mm_free(&g);
        return s;
    }
    for (int64_t bi = 0; bi < g.batches; bi++)
        for (int64_t m = 0; m < g.M; m++) {
            int64_t za = (int64_t)per_axis(azp, m, 0);
            for (int64_t n = 0; n < g.N; n++) {
                int64_t zb = (int64_t)per_axis(bzp, n, 0);
                int64_t acc = 0;
                for (int64_t k = 0; k < g.K; k++)
                    acc += (cpu_ldi(a->dtype, a->data, g.a_off[bi] + m * g.K + k) - za) *
                           (cpu_ldi(b->dtype, b->data, g.b_off[bi] + k * g.N + n) - zb);
                cpu_sti(y->dtype, y->data, (bi * g.M + m) * g.N + n, acc);
            }
        }
    mm_free(&g);
    return RT_OK;
}

static int64_t saturate(rt_dtype t, double v)
{
    double lo = t == RT_DT_I8 ? -128 : 0, hi = t == RT_DT_I8 ? 127 : 255;
    v = nearbyint(v);
    return (int64_t)(v < lo ? lo : v > hi ? hi : v);
}

rt_status cpu_qlinearmatmul(rt_op_ctx *c)
{
    const rt_tensor *a = c->in[0], *b = c->in[3];
    rt_tensor *y = c->out[0];
    mm_geom g;
    rt_status s = mm_setup(c, a, b, y, &g);
    if (s != RT_OK)
        return s;
    if ((s = check_per_axis(c, 1, g.M)) != RT_OK || (s = check_per_axis(c, 2, g.M)) != RT_OK ||
        (s = check_per_axis(c, 4, g.N)) != RT_OK || (s = check_per_axis(c, 5, g.N)) != RT_OK) {
        mm_free(&g);
        return s;
    }
    double ys = per_axis(c->in[6], 0, 1), yz = per_axis(c->in[7], 0, 0);
    for (int64_t bi = 0; bi < g.batches; bi++)
        for (int64_t m = 0; m < g.M; m++) {
            double as = per_axis(c->in[1], m, 1), az = per_axis(c->in[2], m, 0);
            for (int64_t n = 0; n < g.N; n++) {
                double bs = per_axis(c->in[4], n, 1), bz = per_axis(c->in[5], n, 0);
                int64_t acc = 0;
                for (int64_t k = 0; k < g.K; k++)
                    acc += (cpu_ldi(a->dtype, a->data, g.a_off[bi] + m * g.K + k) - (int64_t)az) *
                           (cpu_ldi(b->dtype, b->data, g.b_off[bi] + k * g.N + n) - (int64_t)bz);
                double v = (double)acc * (as * bs / ys) + yz;
                cpu_sti(y->dtype, y->data, (bi * g.M + m) * g.N + n, saturate(y->dtype, v));
            }
        }
    mm_free(&g);
    return RT_OK;
}

rt_status cpu_gemm(rt_op_ctx *c)
{
    const rt_tensor *a = c->in[0], *b = c->in[1], *cc = ops_has_input(c, 2) ? c->in[2] : NULL;
    rt_tensor *y = c->out[0];
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
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) {
                int64_t ai = ta ? k * M + m : m * K + k, bi = tb ? n * K + k : k * N + n;
                acc += cpu_ld(a->dtype, a->data, ai) * cpu_ld(b->dtype, b->data, bi);
            }
            double v = alpha * acc;
            if (cc)
                v += beta * cpu_ld(cc->dtype, cc->data, m * cstr[0] + n * cstr[1]);
            cpu_st(y->dtype, y->data, m * N + n, v);
        }
    return RT_OK;
}
