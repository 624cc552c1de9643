/* npu_backend.c -- the backend's device and the question the partitioner asks of it: can the
 * firmware's kernels run this node? (the lowering's CHECK mode answers, so the answer is exactly
 * what a segment can build). Also the calibration helper that gives activations their scales.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npu_internal.h"

#define NPU_INT8_MAX 127.0
#define NPU_MIN_SCALE 1e-12f /* a tensor of zeros still gets a valid (positive) scale */

npu_backend *npu_backend_open(const m4npu_config *cfg, rt_error *e)
{
    if (!cfg) {
        rt_error_set(e, RT_ERR_ARG, "npu_backend_open: no configuration");
        return NULL;
    }
    npu_backend *b = calloc(1, sizeof *b);
    if (!b) {
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (backend)");
        return NULL;
    }
    b->cfg = *cfg;
    b->memo_on = true;
    b->profile_on = true;
    char err[RT_ERROR_MSG_BYTES / 2];
    b->dev = npu_dev_open(&cfg->npu, err, sizeof err);
    if (!b->dev) {
        rt_error_set(e, RT_ERR_ARG, "opening the NPU '%s': %s", cfg->npu.name, err);
        free(b);
        return NULL;
    }
    return b;
}

void npu_backend_close(npu_backend *b)
{
    if (!b)
        return;
    npu_dev_close(b->dev);
    npu_memo_free(b);
    free(b);
}

npu_dev *npu_backend_device(npu_backend *b) { return b ? b->dev : NULL; }

void npu_backend_set_format(npu_backend *b, npu_act_format acts, uint32_t group_size)
{
    if (!b)
        return;
    b->act_format = acts;
    b->group_size = group_size;
}

uint32_t npu_act_format_bytes(npu_act_format f) { return f == NPU_ACTS_INT8 ? 1 : 2; }

uint32_t npu_act_format_dtype(npu_act_format f)
{
    return f == NPU_ACTS_INT16 ? NPU_DT_I16 : f == NPU_ACTS_F16 ? NPU_DT_F16 : NPU_DT_I8;
}

bool npu_backend_supports(const npu_backend *b, const rt_graph *g, int n, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!b || !g || n < 0 || n >= g->n_nodes) {
        if (why && whylen)
            snprintf(why, whylen, "no backend, graph or node %d", n);
        return false;
    }
    npu_lower L;
    memset(&L, 0, sizeof L);
    L.mode = NPU_LOWER_CHECK;
    L.dev = &b->cfg.npu;
    L.cfg = &b->cfg;
    L.afmt = b->act_format;
    L.group = b->group_size;
    L.g = g;
    L.node = n;
    L.pos = 0;
    L.why = why;
    L.whylen = whylen;
    return npu_lower_node(&L) == 0;
}

rt_status npu_calibrate(rt_graph *g, rt_tensor *const *values, rt_error *e)
{
    for (int t = 0; t < g->n_tensors; t++) {
        const rt_tensor *v = values[t];
        if (!v || !v->data || !rt_dtype_is_float(v->dtype) || g->tensors[t]->kind == RT_TENSOR_CONSTANT)
            continue;
        double m = 0.0;
        for (int64_t i = 0, n = rt_tensor_numel(v); i < n; i++) {
            double a = fabs(rt_tensor_get_f64(v, i));
            if (a > m && isfinite(a))
                m = a;
        }
        float scale = m > 0.0 ? (float)(m / NPU_INT8_MAX) : NPU_MIN_SCALE;
        int32_t zero = 0;
        rt_status st = graph_set_quant(g, t, -1, 1, &scale, &zero, e);
        if (st != RT_OK)
            return st;
    }
    return RT_OK;
}

int npu_act_format_qmax(npu_act_format f)
{
    switch (f) {
    case NPU_ACTS_INT8: return INT8_MAX;
    case NPU_ACTS_INT16: return INT16_MAX;
    default: return 0;
    }
}

const char *npu_act_format_name(npu_act_format f)
{
    switch (f) {
    case NPU_ACTS_INT8: return "int8";
    case NPU_ACTS_INT16: return "int16";
    case NPU_ACTS_F16: return "f16";
    default: return "?";
    }
}

const char *npu_weight_type_name(npu_weight_type w)
{
    switch (w) {
    case NPU_WEIGHTS_INT8: return "int8";
    case NPU_WEIGHTS_INT4: return "int4";
    case NPU_WEIGHTS_F16: return "f16";
    default: return "?";
    }
}
