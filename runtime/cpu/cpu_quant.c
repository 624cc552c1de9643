/* cpu_quant.c -- CPU reference kernels of QuantizeLinear, DequantizeLinear (per tensor or per
 * axis) and DynamicQuantizeLinear: the CPU twins of the NPU's int8 path. Rounding is half to
 * even, saturation to the output type, as ONNX specifies. */
#include <math.h>

#include "cpu_util.h"

/* (NaN stays NaN: the caller converts with rt_f64_to_i64, which makes it 0) */
static double sat_round(rt_dtype t, double v)
{
    double lo = t == RT_DT_I8 ? -128 : 0, hi = t == RT_DT_I8 ? 127 : 255;
    v = nearbyint(v);
    return v < lo ? lo : v > hi ? hi : v;
}

/* Channel index of element i for per-axis parameters of `count` entries (0 if per tensor). */
typedef struct axis_map {
    int64_t count, inner, len;
} axis_map;

/* The channel map of x for scale (and the zero point, which must match it if given). */
static rt_status axis_setup(const rt_op_ctx *c, const rt_tensor *x, const rt_tensor *scale, const rt_tensor *zp,
                            axis_map *m)
{
    if (zp && rt_tensor_numel(zp) != rt_tensor_numel(scale))
        return ops_err(c, RT_ERR_SHAPE, "zero point and scale sizes differ");
    m->count = rt_tensor_numel(scale);
    if (m->count == 0)
        return ops_err(c, RT_ERR_SHAPE, "scale is empty");
    m->inner = 1;
    m->len = 1;
    if (m->count <= 1 && scale->rank <= 1) {
        m->count = 1;
        return RT_OK;
    }
    int axis;
    rt_status s = ops_axis(c, rt_node_attr_int(c->node, "axis", 1), x->rank, "axis", &axis);
    if (s != RT_OK)
        return s;
    if (x->dims[axis] != m->count)
        return ops_err(c, RT_ERR_SHAPE, "%lld scales for axis %d of size %lld", (long long)m->count, axis,
                       (long long)x->dims[axis]);
    for (int d = axis + 1; d < x->rank; d++)
        m->inner *= x->dims[d];
    m->len = m->count;
    return RT_OK;
}

static int64_t channel(const axis_map *m, int64_t i)
{
    return m->count == 1 ? 0 : (i / m->inner) % m->len;
}

rt_status cpu_quantize(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0], *sc = c->in[1], *zp = ops_has_input(c, 2) ? c->in[2] : NULL;
    rt_tensor *y = c->out[0];
    axis_map m;
    rt_status s = axis_setup(c, x, sc, zp, &m);
    if (s != RT_OK)
        return s;
    int64_t n = rt_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t ch = channel(&m, i);
        /* single precision division, as the ONNX reference rounds x / scale in float32 */
        float scale = (float)cpu_ld(sc->dtype, sc->data, ch), xv = (float)cpu_ld(x->dtype, x->data, i);
        double z = zp ? (double)cpu_ldi(zp->dtype, zp->data, ch) : 0;
        cpu_sti(y->dtype, y->data, i, rt_f64_to_i64(sat_round(y->dtype, nearbyintf(xv / scale) + z)));
    }
    return RT_OK;
}

rt_status cpu_dequantize(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0], *sc = c->in[1], *zp = ops_has_input(c, 2) ? c->in[2] : NULL;
    rt_tensor *y = c->out[0];
    axis_map m;
    rt_status s = axis_setup(c, x, sc, zp, &m);
    if (s != RT_OK)
        return s;
    int64_t n = rt_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t ch = channel(&m, i);
        double z = zp ? (double)cpu_ldi(zp->dtype, zp->data, ch) : 0;
        cpu_st(y->dtype, y->data, i, ((double)cpu_ldi(x->dtype, x->data, i) - z) * cpu_ld(sc->dtype, sc->data, ch));
    }
    return RT_OK;
}

rt_status cpu_dynquant(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    int64_t n = rt_tensor_numel(x);
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = cpu_ld(x->dtype, x->data, i);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    /* single precision throughout, as the ONNX definition computes it */
    float scale = ((float)hi - (float)lo) / 255.0f;
    double zp = scale != 0 ? sat_round(RT_DT_U8, 0.0f - (float)lo / scale) : 0;
    for (int64_t i = 0; i < n; i++) {
        double q = scale != 0 ? sat_round(RT_DT_U8, nearbyintf((float)cpu_ld(x->dtype, x->data, i) / scale) + zp) : 0;
        cpu_sti(RT_DT_U8, c->out[0]->data, i, rt_f64_to_i64(q));
    }
    if (c->n_out > 1 && c->out[1])
        *(float *)c->out[1]->data = scale;
    if (c->n_out > 2 && c->out[2])
        *(uint8_t *)c->out[2]->data = (uint8_t)rt_f64_to_i64(zp); /* (NaN, from infinite inputs: 0) */
    return RT_OK;
}
