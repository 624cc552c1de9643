/* cnn_models.c -- builds the MobileNet-v2-class and ResNet-class test models (cnn_models.h) with
 * the graph builder API, BatchNormalization unfolded as an exporter writes it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_models.h"
#include "encoder_block.h"

#define CNN_SEED UINT64_C(0x636e6e6d6f64) /* "cnnmod" */
#define CNN_CHANNELS 3
#define NAME_BYTES 96
#define BN_EPSILON 1e-5f
#define RELU6_MAX 6.0f
#define HE_GAIN 6.0f             /* uniform(+-sqrt(6 / fan_in)) keeps the activations' variance */
#define BN_SCALE_LO 0.5f         /* BN statistics around identity */
#define BN_SCALE_HI 1.5f
#define BN_SHIFT_RANGE 0.2f
#define BN_MEAN_RANGE 0.1f
#define BN_VAR_LO 0.5f
#define BN_VAR_HI 1.5f

typedef struct cb {
    rt_graph *g;
    bool with_data;
    uint64_t rng;
    int next;     /* tensor and node numbering */
} cb;

/* A fresh tensor name "<prefix>_<n>". */
static const char *fresh(cb *b, const char *prefix, char *buf)
{
    snprintf(buf, NAME_BYTES, "%s_%d", prefix, b->next++);
    return buf;
}

/* A float constant of uniform values in [lo, hi) (shape-only without data). */
static void constant(cb *b, const char *name, int rank, const int64_t *dims, float lo, float hi)
{
    if (!b->with_data) {
        graph_add_weight(b->g, name, RT_DT_F32, rank, dims);
        return;
    }
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        graph_add_weight(b->g, name, RT_DT_F32, rank, dims); /* the missing data is noticed by users */
        return;
    }
    model_fill_uniform(v, n, (hi - lo) / 2, &b->rng);
    for (int64_t i = 0; i < n; i++)
        v[i] += (hi + lo) / 2;
    graph_add_constant(b->g, name, RT_DT_F32, rank, dims, v, (uint64_t)n * sizeof *v);
    free(v);
}

static void scalar(cb *b, const char *name, float v)
{
    graph_add_constant(b->g, name, RT_DT_F32, 0, NULL, &v, sizeof v);
}

/* Conv (no bias, as exporters write a conv before a BN) then BatchNormalization; returns the BN's
 * output name in out. */
static void conv_bn(cb *b, const char *x, char *out, int64_t cin, int64_t cout, int64_t groups, int64_t k,
                    int64_t stride)
{
    char w[NAME_BYTES], y[NAME_BYTES], s[NAME_BYTES], bb[NAME_BYTES], m[NAME_BYTES], v[NAME_BYTES];
    fresh(b, "conv.weight", w);
    fresh(b, "conv", y);
    int64_t wd[4] = {cout, cin / groups, k, k}, cd[1] = {cout}, pad = k / 2;
    float a = sqrtf(HE_GAIN / (float)(cin / groups * k * k));
    constant(b, w, 4, wd, -a, a);
    int n = graph_add_node(b->g, "Conv", y, 2, (const char *[]){x, w}, 1, (const char *[]){y});
    graph_node_set_ints(b->g, n, "kernel_shape", 2, (const int64_t[]){k, k});
    graph_node_set_ints(b->g, n, "strides", 2, (const int64_t[]){stride, stride});
    graph_node_set_ints(b->g, n, "pads", 4, (const int64_t[]){pad, pad, pad, pad});
    if (groups > 1)
        graph_node_set_int(b->g, n, "group", groups);
    fresh(b, "bn.scale", s);
    fresh(b, "bn.bias", bb);
    fresh(b, "bn.mean", m);
    fresh(b, "bn.var", v);
    constant(b, s, 1, cd, BN_SCALE_LO, BN_SCALE_HI);
    constant(b, bb, 1, cd, -BN_SHIFT_RANGE, BN_SHIFT_RANGE);
    constant(b, m, 1, cd, -BN_MEAN_RANGE, BN_MEAN_RANGE);
    constant(b, v, 1, cd, BN_VAR_LO, BN_VAR_HI);
    fresh(b, "bn", out);
    n = graph_add_node(b->g, "BatchNormalization", out, 5, (const char *[]){y, s, bb, m, v}, 1, (const char *[]){out});
    graph_node_set_float(b->g, n, "epsilon", BN_EPSILON);
}

static void relu6(cb *b, const char *x, char *out)
{
    char lo[NAME_BYTES], hi[NAME_BYTES];
    fresh(b, "relu6.min", lo);
    fresh(b, "relu6.max", hi);
    scalar(b, lo, 0.0f);
    scalar(b, hi, RELU6_MAX);
    fresh(b, "relu6", out);
    graph_add_node(b->g, "Clip", out, 3, (const char *[]){x, lo, hi}, 1, (const char *[]){out});
}

static void unary(cb *b, const char *op, const char *x, char *out)
{
    fresh(b, op, out);
    graph_add_node(b->g, op, out, 1, (const char *[]){x}, 1, (const char *[]){out});
}

static void add(cb *b, const char *x, const char *y, char *out)
{
    fresh(b, "add", out);
    graph_add_node(b->g, "Add", out, 2, (const char *[]){x, y}, 1, (const char *[]){out});
}

/* GlobalAveragePool, Flatten, Gemm(features -> classes) into "logits". */
static void head(cb *b, const char *x, int64_t features)
{
    char p[NAME_BYTES], f[NAME_BYTES], w[NAME_BYTES], bias[NAME_BYTES];
    unary(b, "GlobalAveragePool", x, p);
    fresh(b, "flatten", f);
    int n = graph_add_node(b->g, "Flatten", f, 1, (const char *[]){p}, 1, (const char *[]){f});
    graph_node_set_int(b->g, n, "axis", 1);
    int64_t wd[2] = {CNN_MODEL_CLASSES, features}, bd[1] = {CNN_MODEL_CLASSES};
    float a = sqrtf(HE_GAIN / (float)features);
    fresh(b, "fc.weight", w);
    fresh(b, "fc.bias", bias);
    constant(b, w, 2, wd, -a, a);
    constant(b, bias, 1, bd, -0.1f, 0.1f);
    n = graph_add_node(b->g, "Gemm", "fc", 3, (const char *[]){f, w, bias}, 1, (const char *[]){"logits"});
    graph_node_set_int(b->g, n, "transB", 1);
}

static rt_graph *start(cb *b, const char *name, bool with_data, rt_error *e)
{
    memset(b, 0, sizeof *b);
    b->g = graph_create(name);
    if (!b->g) {
        rt_error_set(e, RT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    b->with_data = with_data;
    b->rng = CNN_SEED;
    graph_set_opset(b->g, "", RT_DEFAULT_OPSET);
    graph_add_input(b->g, "image", RT_DT_F32, 4, (const int64_t[]){1, CNN_CHANNELS, CNN_MODEL_IMAGE_PX, CNN_MODEL_IMAGE_PX});
    return b->g;
}

/* Validate, sort, infer shapes; no folding (the BNs stay for the file). */
static rt_graph *finish(cb *b, rt_error *e)
{
    graph_mark_output(b->g, graph_find_tensor(b->g, "logits"));
    rt_status s = graph_last_error(b->g)->code != RT_OK ? rt_error_set(e, graph_last_error(b->g)->code, "%s",
                                                                       graph_last_error(b->g)->msg)
                                                        : graph_validate(b->g, e);
    if (s == RT_OK)
        s = graph_topo_sort(b->g, e);
    if (s == RT_OK)
        s = graph_infer_shapes(b->g, e);
    if (s != RT_OK) {
        graph_free(b->g);
        return NULL;
    }
    return b->g;
}

rt_graph *model_mobilenet_v2_bn(bool with_data, rt_error *e)
{
    /* expansion t, output channels c, repeats n, first stride s: a narrow MobileNet v2 for 64x64 */
    static const struct { int64_t t, c, n, s; } stages[] = {
        {1, 8, 1, 1}, {6, 12, 2, 2}, {6, 16, 2, 2}, {6, 24, 2, 2}, {6, 32, 1, 1},
    };
    enum { STEM = 16, LAST = 128 };
    cb b;
    if (!start(&b, "mobilenet_v2_bn", with_data, e))
        return NULL;
    char x[NAME_BYTES], t[NAME_BYTES], h[NAME_BYTES];
    conv_bn(&b, "image", t, CNN_CHANNELS, STEM, 1, 3, 2);
    relu6(&b, t, x);
    int64_t in = STEM;
    for (size_t st = 0; st < sizeof stages / sizeof stages[0]; st++)
        for (int64_t i = 0; i < stages[st].n; i++) {
            int64_t hidden = in * stages[st].t, stride = i == 0 ? stages[st].s : 1, out = stages[st].c;
            strcpy(h, x);
            if (stages[st].t != 1) {
                conv_bn(&b, h, t, in, hidden, 1, 1, 1);
                relu6(&b, t, h);
            }
            conv_bn(&b, h, t, hidden, hidden, hidden, 3, stride); /* depthwise */
            relu6(&b, t, h);
            conv_bn(&b, h, t, hidden, out, 1, 1, 1); /* linear projection */
            if (stride == 1 && in == out) {
                add(&b, x, t, h);
                strcpy(x, h);
            } else {
                strcpy(x, t);
            }
            in = out;
        }
    conv_bn(&b, x, t, in, LAST, 1, 1, 1);
    relu6(&b, t, x);
    head(&b, x, LAST);
    return finish(&b, e);
}

rt_graph *model_resnet_bn(bool with_data, rt_error *e)
{
    static const int64_t widths[] = {16, 32, 64};
    enum { BLOCKS = 2, STEM_KERNEL = 7 };
    cb b;
    if (!start(&b, "resnet_bn", with_data, e))
        return NULL;
    char x[NAME_BYTES], t[NAME_BYTES], u[NAME_BYTES], skip[NAME_BYTES];
    conv_bn(&b, "image", t, CNN_CHANNELS, widths[0], 1, STEM_KERNEL, 2);
    unary(&b, "Relu", t, u);
    fresh(&b, "maxpool", x);
    int n = graph_add_node(b.g, "MaxPool", x, 1, (const char *[]){u}, 1, (const char *[]){x});
    graph_node_set_ints(b.g, n, "kernel_shape", 2, (const int64_t[]){3, 3});
    graph_node_set_ints(b.g, n, "strides", 2, (const int64_t[]){2, 2});
    graph_node_set_ints(b.g, n, "pads", 4, (const int64_t[]){1, 1, 1, 1});
    int64_t in = widths[0];
    for (size_t st = 0; st < sizeof widths / sizeof widths[0]; st++)
        for (int i = 0; i < BLOCKS; i++) {
            int64_t out = widths[st], stride = i == 0 && st > 0 ? 2 : 1;
            conv_bn(&b, x, t, in, out, 1, 3, stride);
            unary(&b, "Relu", t, u);
            conv_bn(&b, u, t, out, out, 1, 3, 1);
            if (stride != 1 || in != out)
                conv_bn(&b, x, skip, in, out, 1, 1, stride); /* the projection shortcut */
            else
                strcpy(skip, x);
            add(&b, t, skip, u);
            unary(&b, "Relu", u, x);
            in = out;
        }
    /* pre-activation style: a BatchNormalization after the last residual Add, nothing to fold into */
    char s[NAME_BYTES], bb[NAME_BYTES], m[NAME_BYTES], v[NAME_BYTES];
    int64_t cd[1] = {in};
    fresh(&b, "final_bn.scale", s);
    fresh(&b, "final_bn.bias", bb);
    fresh(&b, "final_bn.mean", m);
    fresh(&b, "final_bn.var", v);
    constant(&b, s, 1, cd, BN_SCALE_LO, BN_SCALE_HI);
    constant(&b, bb, 1, cd, -BN_SHIFT_RANGE, BN_SHIFT_RANGE);
    constant(&b, m, 1, cd, -BN_MEAN_RANGE, BN_MEAN_RANGE);
    constant(&b, v, 1, cd, BN_VAR_LO, BN_VAR_HI);
    fresh(&b, "final_bn", t);
    n = graph_add_node(b.g, "BatchNormalization", t, 5, (const char *[]){x, s, bb, m, v}, 1, (const char *[]){t});
    graph_node_set_float(b.g, n, "epsilon", BN_EPSILON);
    unary(&b, "Relu", t, u);
    head(&b, u, in);
    return finish(&b, e);
}
