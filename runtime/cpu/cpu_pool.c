/* cpu_pool.c -- CPU reference kernels of MaxPool (with optional Indices), AveragePool
 * (count_include_pad, ceil mode) and the global pools, over any number of spatial dims. The
 * windowed pools read their input as one f64 array (exact for every float and 8-bit type)
 * and write their output once (cpu_dense.h). */
#include <math.h>
#include <string.h>

#include "cpu_dense.h"
#include "cpu_util.h"
#include "ops_geom.h"

/* 2-D MaxPool / AveragePool without Indices over f32 planes: the common case of CNNs, without
 * the N-D index walk. Same arithmetic as the general loop (sums in double). */
static void pool2d_f32(const ops_window *w, bool is_max, bool include_pad, int64_t planes, const float *x, float *y)
{
    int64_t H = w->in[0], W = w->in[1], Ho = w->out[0], Wo = w->out[1];
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * H * W;
        float *yp = y + p * Ho * Wo;
        for (int64_t oy = 0; oy < Ho; oy++)
            for (int64_t ox = 0; ox < Wo; ox++) {
                float best = 0;
                bool have = false;
                double sum = 0;
                int64_t count = 0, padded = 0;
                for (int64_t ky = 0; ky < w->k[0]; ky++) {
                    int64_t iy = oy * w->stride[0] - w->pad_b[0] + ky * w->dil[0];
                    bool row_in = iy >= 0 && iy < H, row_pad = iy >= -w->pad_b[0] && iy < H + w->pad_e[0];
                    for (int64_t kx = 0; kx < w->k[1]; kx++) {
                        int64_t ix = ox * w->stride[1] - w->pad_b[1] + kx * w->dil[1];
                        padded += row_pad && ix >= -w->pad_b[1] && ix < W + w->pad_e[1];
                        if (!row_in || ix < 0 || ix >= W)
                            continue;
                        float v = xp[iy * W + ix];
                        count++;
                        sum += v;
                        if (v > best || !have) {
                            best = v;
                            have = true;
                        }
                    }
                }
                int64_t div = include_pad ? padded : count;
                yp[oy * Wo + ox] = is_max ? best : div ? (float)(sum / (double)div) : 0.0f;
            }
    }
}

rt_status cpu_pool(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0], *yi = c->n_out > 1 ? c->out[1] : NULL;
    int nsp = x->rank - 2;
    const int64_t *ks;
    rt_node_attr_ints(c->node, "kernel_shape", &ks);
    ops_window w;
    rt_status s = ops_window_forward(c, nsp, x->dims + 2, ks, true, &w);
    if (s != RT_OK)
        return s;
    bool is_max = c->node->op == RT_OP_MaxPool;
    bool include_pad = rt_node_attr_int(c->node, "count_include_pad", 0) != 0;
    bool col_major = rt_node_attr_int(c->node, "storage_order", 0) != 0;
    int64_t in_sz = 1, out_sz = 1, k_sz = 1;
    for (int d = 0; d < nsp; d++) {
        in_sz *= w.in[d];
        out_sz *= w.out[d];
        k_sz *= w.k[d];
    }
    int64_t in_str[RT_MAX_RANK], col_str[RT_MAX_RANK];
    cpu_strides(nsp, w.in, in_str);
    int64_t col_acc = 1;
    for (int d = 0; d < nsp; d++) { /* column-major strides for storage_order=1 */
        col_str[d] = col_acc;
        col_acc *= w.in[d];
    }
    int64_t planes = x->dims[0] * x->dims[1];
    bool ox, oy;
    if (nsp == 2 && !yi && rt_dtype_is_float(x->dtype) && x->dtype != RT_DT_F64) {
        const float *xf = cpu_dense_read_f32(c, x, &ox);
        float *yf = xf ? cpu_dense_out_f32(c, y, &oy) : NULL;
        if (!yf) {
            cpu_dense_release(xf, ox);
            return RT_ERR_NOMEM;
        }
        pool2d_f32(&w, is_max, include_pad, planes, xf, yf);
        cpu_dense_commit_f32(y, yf, oy);
        cpu_dense_release(xf, ox);
        return RT_OK;
    }
    const double *xv = cpu_dense_read_f64(c, x, &ox);
    double *yv = xv ? cpu_dense_out_f64(c, y, &oy) : NULL;
    if (!yv) {
        cpu_dense_release(xv, ox);
        return RT_ERR_NOMEM;
    }
    for (int64_t p = 0; p < planes; p++) {
        int64_t oidx[RT_MAX_RANK] = {0};
        for (int64_t o = 0; o < out_sz; o++, cpu_next_index(nsp, w.out, oidx)) {
            double best = -INFINITY, sum = 0;
            int64_t best_at = -1, count = 0, padded_count = 0;
            int64_t kidx[RT_MAX_RANK] = {0};
            for (int64_t kk = 0; kk < k_sz; kk++, cpu_next_index(nsp, w.k, kidx)) {
                int64_t off = 0, coff = 0;
                bool inside = true, in_padded = true;
                for (int d = 0; d < nsp; d++) {
                    int64_t q = oidx[d] * w.stride[d] - w.pad_b[d] + kidx[d] * w.dil[d];
                    if (q < 0 || q >= w.in[d])
                        inside = false;
                    if (q < -w.pad_b[d] || q >= w.in[d] + w.pad_e[d])
                        in_padded = false;
                    off += q * in_str[d];
                    coff += q * col_str[d];
                }
                padded_count += in_padded;
                if (!inside)
                    continue;
                double v = xv[p * in_sz + off];
                count++;
                sum += v;
                if (v > best || best_at < 0) {
                    best = v;
                    best_at = p * in_sz + (col_major ? coff : off);
                }
            }
            int64_t yo = p * out_sz + o;
            if (is_max) {
                yv[yo] = best_at < 0 ? 0.0 : best;
                if (yi)
                    cpu_sti(yi->dtype, yi->data, yo, best_at < 0 ? 0 : best_at);
            } else {
                int64_t div = include_pad ? padded_count : count;
                yv[yo] = div ? sum / (double)div : 0.0;
            }
        }
    }
    cpu_dense_commit_f64(y, yv, oy);
    cpu_dense_release(xv, ox);
    return RT_OK;
}

rt_status cpu_global_pool(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int64_t planes = x->dims[0] * x->dims[1], sp = 1;
    for (int d = 2; d < x->rank; d++)
        sp *= x->dims[d];
    bool is_max = c->node->op == RT_OP_GlobalMaxPool;
    for (int64_t p = 0; p < planes; p++) {
        double acc = is_max ? -INFINITY : 0;
        for (int64_t i = 0; i < sp; i++) {
            double v = cpu_ld(x->dtype, x->data, p * sp + i);
            acc = is_max ? (v > acc ? v : acc) : acc + v;
        }
        cpu_st(y->dtype, y->data, p, is_max ? acc : (sp ? acc / (double)sp : 0.0));
    }
    return RT_OK;
}
