/* cpu_resize.c -- CPU reference kernel of Resize (and the older Upsample): nearest, linear
 * and cubic interpolation in any number of dims, every coordinate_transformation_mode and
 * nearest_mode of opset 11-17, exclude_outside and tf_crop_and_resize extrapolation. Each axis
 * contributes up to four (index, weight) taps per output coordinate; the N-D result is their
 * tensor product, which matches the ONNX reference's dimension-by-dimension recursion. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_util.h"
#include "ops_geom.h"

#define RESIZE_MAX_TAPS 4

typedef struct tap_set {
    int n;
    bool outside; /* tf_crop_and_resize: coordinate outside the input -> extrapolation value */
    int64_t idx[RESIZE_MAX_TAPS];
    double w[RESIZE_MAX_TAPS];
} tap_set;

typedef enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } interp_mode;
typedef enum { NEAREST_PREFER_FLOOR, NEAREST_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL } nearest_rule;

static void cubic_coeffs(double r, double A, double *c)
{
    c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
    c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    c[2] = ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1;
    c[3] = ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A;
}

/* Taps of output coordinate x on an axis of in_len input elements. */
static void axis_taps(int64_t x, int64_t in_len, double scale, const char *ctm, interp_mode mode, nearest_rule nr,
                      double cubic_a, bool exclude_outside, double roi_start, double roi_end, tap_set *t)
{
    double out_w = scale * (double)in_len; /* as the reference: may be fractional */
    double xo;
    memset(t, 0, sizeof *t);
    if (strcmp(ctm, "align_corners") == 0) {
        xo = out_w == 1 ? 0.0 : (double)x * (double)(in_len - 1) / (out_w - 1);
    } else if (strcmp(ctm, "asymmetric") == 0) {
        xo = (double)x / scale;
    } else if (strcmp(ctm, "tf_crop_and_resize") == 0) {
        xo = out_w == 1 ? (roi_end - roi_start) * (double)(in_len - 1) / 2
                        : (double)x * (roi_end - roi_start) * (double)(in_len - 1) / (out_w - 1);
        xo += roi_start * (double)(in_len - 1);
        if (xo < 0 || xo > (double)(in_len - 1)) {
            t->outside = true;
            return;
        }
    } else if (strcmp(ctm, "pytorch_half_pixel") == 0) {
        xo = out_w == 1 ? -0.5 : ((double)x + 0.5) / scale - 0.5;
    } else if (strcmp(ctm, "tf_half_pixel_for_nn") == 0) {
        xo = ((double)x + 0.5) / scale;
    } else { /* half_pixel */
        xo = ((double)x + 0.5) / scale - 0.5;
    }
    /* base = the neighbour on the left, ratio in (0, 1] (an integer xo has ratio 1) */
    double fl = floor(xo);
    bool integral = xo == fl;
    double ratio = integral ? 1.0 : xo - fl;
    int64_t base = rt_f64_to_i64(integral ? fl - 1 : fl);
    double coeff[RESIZE_MAX_TAPS];
    int n, first;
    if (mode == MODE_NEAREST) {
        n = 2;
        first = 0;
        if (integral) {
            coeff[0] = 0;
            coeff[1] = 1;
        } else {
            bool right = nr == NEAREST_PREFER_FLOOR ? ratio > 0.5 : nr == NEAREST_PREFER_CEIL ? ratio >= 0.5 : nr == NEAREST_CEIL;
            coeff[0] = !right;
            coeff[1] = right;
        }
    } else if (mode == MODE_LINEAR) {
        n = 2;
        first = 0;
        coeff[0] = 1 - ratio;
        coeff[1] = ratio;
    } else {
        n = 4;
        first = -1;
        cubic_coeffs(ratio, cubic_a, coeff);
    }
    double sum = 0;
    for (int k = 0; k < n; k++) {
        int64_t i = base + first + k;
        if (exclude_outside && (i < 0 || i >= in_len))
            coeff[k] = 0;
        sum += coeff[k];
    }
    for (int k = 0; k < n; k++) {
        int64_t i = base + first + k;
        i = i < 0 ? 0 : i >= in_len ? in_len - 1 : i; /* the reference pads with edge values */
        double w = exclude_outside ? (sum != 0 ? coeff[k] / sum : 0) : coeff[k];
        if (w == 0)
            continue;
        t->idx[t->n] = i;
        t->w[t->n++] = w;
    }
}

rt_status cpu_resize(rt_op_ctx *c)
{
    const rt_tensor *x = c->in[0];
    rt_tensor *y = c->out[0];
    int r = x->rank;
    int64_t out_dims[RT_MAX_RANK];
    double scales[RT_MAX_RANK];
    rt_status s = ops_resize_params(c, out_dims, scales);
    if (s != RT_OK)
        return s;
    bool legacy = strcmp(c->node->op_type, "Upsample") == 0 || c->opset < 11;
    const char *mstr = rt_node_attr_string(c->node, "mode", "nearest");
    interp_mode mode = strcmp(mstr, "nearest") == 0 ? MODE_NEAREST
                       : (strcmp(mstr, "linear") == 0 || strcmp(mstr, "bilinear") == 0) ? MODE_LINEAR
                       : strcmp(mstr, "cubic") == 0 && !legacy ? MODE_CUBIC : (interp_mode)-1;
    if ((int)mode < 0)
        return ops_err(c, RT_ERR_ATTR, "mode '%s' is not nearest, linear or cubic", mstr);
    const char *ctm = legacy ? "asymmetric" : rt_node_attr_string(c->node, "coordinate_transformation_mode", "half_pixel");
    const char *nm = legacy ? "floor" : rt_node_attr_string(c->node, "nearest_mode", "round_prefer_floor");
    nearest_rule nr = strcmp(nm, "round_prefer_ceil") == 0 ? NEAREST_PREFER_CEIL
                      : strcmp(nm, "floor") == 0           ? NEAREST_FLOOR
                      : strcmp(nm, "ceil") == 0            ? NEAREST_CEIL
                                                           : NEAREST_PREFER_FLOOR;
    double cubic_a = rt_node_attr_float(c->node, "cubic_coeff_a", -0.75f);
    bool excl = rt_node_attr_int(c->node, "exclude_outside", 0) != 0;
    double extrap = rt_node_attr_float(c->node, "extrapolation_value", 0.0f);
    const rt_tensor *roi = !legacy && ops_has_input(c, 1) && rt_tensor_numel(c->in[1]) == 2 * r ? c->in[1] : NULL;
    bool crop = strcmp(ctm, "tf_crop_and_resize") == 0;
    if (crop && !roi)
        return ops_err(c, RT_ERR_MISSING_INPUT, "tf_crop_and_resize needs an roi input of %d values", 2 * r);
    /* per axis, per output coordinate: its taps */
    tap_set *taps[RT_MAX_RANK] = {NULL};
    for (int d = 0; d < r; d++) {
        taps[d] = malloc((size_t)(y->dims[d] ? y->dims[d] : 1) * sizeof(tap_set));
        if (!taps[d]) {
            for (int k = 0; k < d; k++)
                free(taps[k]);
            return ops_err(c, RT_ERR_NOMEM, "out of memory");
        }
        double rs = roi ? rt_tensor_get_f64(roi, d) : 0, re = roi ? rt_tensor_get_f64(roi, d + r) : 1;
        for (int64_t o = 0; o < y->dims[d]; o++)
            axis_taps(o, x->dims[d], scales[d], ctm, mode, nr, cubic_a, excl, rs, re, &taps[d][o]);
    }
    int64_t xs[RT_MAX_RANK], n = rt_tensor_numel(y), idx[RT_MAX_RANK] = {0};
    cpu_strides(r, x->dims, xs);
    for (int64_t i = 0; i < n; i++) {
        const tap_set *ts[RT_MAX_RANK];
        bool outside = false;
        for (int d = 0; d < r; d++) {
            ts[d] = &taps[d][idx[d]];
            outside |= ts[d]->outside;
        }
        double v = 0;
        if (outside) {
            v = extrap;
        } else {
            int k[RT_MAX_RANK] = {0};
            for (;;) { /* every combination of one tap per axis */
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < r; d++) {
                    w *= ts[d]->w[k[d]];
                    off += ts[d]->idx[k[d]] * xs[d];
                }
                v += w * cpu_ld(x->dtype, x->data, off);
                int d = r - 1;
                while (d >= 0 && ++k[d] >= ts[d]->n)
                    k[d--] = 0;
                if (d < 0)
                    break;
            }
        }
        cpu_st(y->dtype, y->data, i, v);
        cpu_next_index(r, y->dims, idx);
    }
    for (int d = 0; d < r; d++)
        free(taps[d]);
    return RT_OK;
}
