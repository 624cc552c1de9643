/* cpu_conv.c -- CPU reference kernels of Conv and ConvTranspose over any number of spatial
 * dims (1-D for Whisper/TTS, 2-D for ViT patches and the UNet, 3-D for ImageBind's video patch
 * embedding), with groups, strides, dilations and padding from ops_geom. */
#include <stdlib.h>
#include <string.h>

#include "cpu_util.h"
#include "ops_geom.h"

static int64_t prod(int n, const int64_t *v)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= v[i];
    return p;
}

static rt_status window_of(rt_op_ctx *c, bool transpose, ops_window *w)
{
    const rt_tensor *x = c->in[0], *wt = c->in[1];
    int nsp = x->rank - 2;
    int64_t k[RT_MAX_RANK];
    for (int i = 0; i < nsp; i++)
        k[i] = wt->dims[2 + i];
    return transpose ? ops_window_transpose(c, nsp, x->dims + 2, k, w)
                     : ops_window_forward(c, nsp, x->dims + 2, k, false, w);
}

rt_status cpu_conv(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0], *wt = c->in[1], *bias = ops_has_input(c, 2) ? c->in[2] : NULL;
    rt_tensor *y = c->out[0];
    if (!rt_dtype_is_float(x->dtype))
        return cpu_dtype_error(c, x->dtype);
    ops_window w;
    rt_status s = window_of(c, false, &w);
    if (s != RT_OK)
        return s;
    int nsp = w.nsp;
    int64_t group = rt_node_attr_int(c->node, "group", 1);
    int64_t N = x->dims[0], C = x->dims[1], M = wt->dims[0], Cg = C / group, Mg = M / group;
    int64_t in_sz = prod(nsp, w.in), out_sz = prod(nsp, w.out), k_sz = prod(nsp, w.k);
    int64_t in_str[RT_MAX_RANK], k_str[RT_MAX_RANK];
    cpu_strides(nsp, w.in, in_str);
    cpu_strides(nsp, w.k, k_str);
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++) {
            int64_t g = m / Mg;
            double b = bias ? cpu_ld(bias->dtype, bias->data, m) : 0.0;
            int64_t oidx[RT_MAX_RANK] = {0};
            for (int64_t o = 0; o < out_sz; o++, cpu_next_index(nsp, w.out, oidx)) {
                double acc = b;
                int64_t kidx[RT_MAX_RANK] = {0};
                for (int64_t kk = 0; kk < k_sz; kk++, cpu_next_index(nsp, w.k, kidx)) {
                    int64_t off = 0;
                    bool inside = true;
                    for (int d = 0; d < nsp && inside; d++) {
                        int64_t p = oidx[d] * w.stride[d] - w.pad_b[d] + kidx[d] * w.dil[d];
                        inside = p >= 0 && p < w.in[d];
                        off += p * in_str[d];
                    }
                    if (!inside)
                        continue;
                    for (int64_t ci = 0; ci < Cg; ci++) {
                        int64_t xi = ((n * C) + g * Cg + ci) * in_sz + off;
                        int64_t wi = ((m * Cg) + ci) * k_sz + kk;
                        acc += cpu_ld(x->dtype, x->data, xi) * cpu_ld(wt->dtype, wt->data, wi);
                    }
                }
                cpu_st(y->dtype, y->data, (n * M + m) * out_sz + o, acc);
            }
        }
    return RT_OK;
}

rt_status cpu_convtranspose(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0], *wt = c->in[1], *bias = ops_has_input(c, 2) ? c->in[2] : NULL;
    rt_tensor *y = c->out[0];
    if (!rt_dtype_is_float(x->dtype))
        return cpu_dtype_error(c, x->dtype);
    ops_window w;
    rt_status s = window_of(c, true, &w);
    if (s != RT_OK)
        return s;
    int nsp = w.nsp;
    int64_t group = rt_node_attr_int(c->node, "group", 1);
    int64_t N = x->dims[0], C = x->dims[1], Cg = C / group, Mg = wt->dims[1], M = Mg * group;
    int64_t in_sz = prod(nsp, w.in), out_sz = prod(nsp, w.out), k_sz = prod(nsp, w.k);
    int64_t out_str[RT_MAX_RANK];
    cpu_strides(nsp, w.out, out_str);
    double *acc = calloc((size_t)(out_sz ? out_sz : 1), sizeof *acc);
    if (!acc)
        return ops_err(c, RT_ERR_NOMEM, "out of memory");
    for (int64_t n = 0; n < N; n++)
        for (int64_t m = 0; m < M; m++) {
            int64_t g = m / Mg, mg = m % Mg;
            double b = bias ? cpu_ld(bias->dtype, bias->data, m) : 0.0;
            for (int64_t o = 0; o < out_sz; o++)
                acc[o] = b;
            for (int64_t ci = 0; ci < Cg; ci++) {
                int64_t cin = g * Cg + ci;
                int64_t iidx[RT_MAX_RANK] = {0};
                for (int64_t i = 0; i < in_sz; i++, cpu_next_index(nsp, w.in, iidx)) {
                    double xv = cpu_ld(x->dtype, x->data, (n * C + cin) * in_sz + i);
                    int64_t kidx[RT_MAX_RANK] = {0};
                    for (int64_t kk = 0; kk < k_sz; kk++, cpu_next_index(nsp, w.k, kidx)) {
                        int64_t off = 0;
                        bool inside = true;
                        for (int d = 0; d < nsp && inside; d++) {
                            int64_t p = iidx[d] * w.stride[d] - w.pad_b[d] + kidx[d] * w.dil[d];
                            inside = p >= 0 && p < w.out[d];
                            off += p * out_str[d];
                        }
                        if (inside)
                            acc[off] += xv * cpu_ld(wt->dtype, wt->data, (cin * Mg + mg) * k_sz + kk);
                    }
                }
            }
            for (int64_t o = 0; o < out_sz; o++)
                cpu_st(y->dtype, y->data, (n * M + m) * out_sz + o, acc[o]);
        }
    free(acc);
    return RT_OK;
}
