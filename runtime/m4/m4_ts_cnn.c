/* m4_ts_cnn.c -- the convolutional task-specific models: ResNet-50 and ResNet-152 (the paper's
 * Table 3 baselines for image retrieval and ImageNet classification), and the classic mobile
 * references MobileNet v1 and v2, Inception v1 (GoogLeNet) and Inception v4, which the Edge TPU
 * and phone benchmarks report. They exist so that the what-if report can put M4 beside the
 * models apps ship today, on the same simulated NPU.
 *
 * Every graph is written as a deployed int8 mobile model has it and as torch.onnx writes an
 * eval-mode export: BatchNormalization is folded into the preceding convolution (its scale into
 * the weights, its shift into a conv bias), so a layer is Conv (+ bias) and its activation (Relu,
 * or Clip(0, 6) for ReLU6). In the INT8 default format the weight is an i8 tensor behind a Cast
 * with its per-channel scale applied by a Mul, as every INT8 module of this library
 * (m4_builder.c); the NPU backend fuses scale, bias and Relu into the convolution. Pooling is
 * MaxPool / AveragePool with explicit pads and GlobalAveragePool; shapes follow torchvision, or
 * TF-slim where the model comes from there (docs/m4.md, "Task-specific models"). */
#include <stdio.h>

#include "m4_internal.h"

#define CNN_CHANNELS 3
#define CNN_IMAGE_PX 224          /* ResNet, MobileNet, Inception v1 */
#define INCEPTION_V4_PX 299       /* Inception v4's input side */
#define RESNET_EXPANSION 4        /* bottleneck output = 4 x its width */
#define RESNET_STEM_CH 64
#define RELU6_MAX 6.0f

typedef enum act { ACT_NONE = 0, ACT_RELU, ACT_RELU6 } act;

/* Conv + folded BN (a bias) + activation, square kernel; pad p on both sides. */
static int conv_act(mb *b, int x, const char *name, int64_t cin, int64_t cout, int64_t groups, int64_t k,
                    int64_t stride, int64_t pad, act a)
{
    int y = mb_conv_g(b, x, name, cin, cout, groups, 2, (int64_t[]){k, k}, (int64_t[]){stride, stride},
                      (int64_t[]){pad, pad}, true);
    if (a == ACT_RELU)
        y = mb_unary(b, "Relu", y);
    else if (a == ACT_RELU6)
        y = mb_clip(b, y, 0.0f, RELU6_MAX);
    return y;
}

/* A rectangular (kh x kw) Conv + folded BN + Relu, stride 1, "same" padding (Inception's 1x7 / 7x1). */
static int conv_rect(mb *b, int x, const char *name, int64_t cin, int64_t cout, int64_t kh, int64_t kw)
{
    int y = mb_conv(b, x, name, cin, cout, 2, (int64_t[]){kh, kw}, (int64_t[]){1, 1},
                    (int64_t[]){kh / 2, kw / 2}, true);
    return mb_unary(b, "Relu", y);
}

/* GlobalAveragePool -> Flatten -> the classifier Linear(features, classes). */
static int classifier(mb *b, int x, const char *name, int64_t features, int64_t classes)
{
    int y = mb_unary(b, "GlobalAveragePool", x);
    y = mb_op_raw(b, "Flatten", 1, (int[]){y});
    mb_attr_int(b, "axis", 1);
    y = mb_infer(b, y);
    return mb_linear(b, y, name, features, classes, true, false);
}

static int image_input(mb *b, int64_t px)
{
    return mb_input(b, "image", b->act, 4, (int64_t[]){1, CNN_CHANNELS, px, px});
}

/* ---------------------------------------------------------------------------------------- */
/* ResNet (torchvision, v1.5: the stride sits in the 3x3 convolution)                         */

static int bottleneck(mb *b, int x, int64_t in, int64_t width, int64_t stride)
{
    int64_t out = width * RESNET_EXPANSION;
    int h = conv_act(b, x, "conv1", in, width, 1, 1, 1, 0, ACT_RELU);
    h = conv_act(b, h, "conv2", width, width, 1, 3, stride, 1, ACT_RELU);
    h = conv_act(b, h, "conv3", width, out, 1, 1, 1, 0, ACT_NONE);
    int skip = x;
    if (stride != 1 || in != out)
        skip = conv_act(b, x, "downsample.0", in, out, 1, 1, stride, 0, ACT_NONE);
    return mb_unary(b, "Relu", mb_binary(b, "Add", h, skip));
}

static int resnet(mb *b, const int *blocks, int64_t classes)
{
    static const int64_t widths[4] = {64, 128, 256, 512};
    int x = image_input(b, CNN_IMAGE_PX);
    x = conv_act(b, x, "conv1", CNN_CHANNELS, RESNET_STEM_CH, 1, 7, 2, 3, ACT_RELU);
    x = mb_pool2d(b, x, "MaxPool", 3, 2, 1, false);
    int64_t in = RESNET_STEM_CH;
    for (int l = 0; l < 4; l++)
        for (int i = 0; i < blocks[l]; i++) {
            size_t s = mb_push(b, "layer%d.%d", l + 1, i);
            x = bottleneck(b, x, in, widths[l], i == 0 && l > 0 ? 2 : 1);
            in = widths[l] * RESNET_EXPANSION;
            mb_pop(b, s);
        }
    return classifier(b, x, "fc", in, classes);
}

/* ---------------------------------------------------------------------------------------- */
/* MobileNet v1 (Howard et al. 2017, Table 1) and v2 (Sandler et al. 2018, Table 2)           */

static int mobilenet_v1(mb *b, int64_t classes)
{
    /* the 13 depthwise-separable layers: output channels and stride */
    static const struct { int64_t out, stride; } dws[13] = {
        {64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1},
        {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1},
    };
    int x = image_input(b, CNN_IMAGE_PX);
    x = conv_act(b, x, "Conv2d_0", CNN_CHANNELS, 32, 1, 3, 2, 1, ACT_RELU6);
    int64_t in = 32;
    char name[64];
    for (int i = 0; i < 13; i++) {
        snprintf(name, sizeof name, "Conv2d_%d_depthwise", i + 1);
        x = conv_act(b, x, name, in, in, in, 3, dws[i].stride, 1, ACT_RELU6);
        snprintf(name, sizeof name, "Conv2d_%d_pointwise", i + 1);
        x = conv_act(b, x, name, in, dws[i].out, 1, 1, 1, 0, ACT_RELU6);
        in = dws[i].out;
    }
    return classifier(b, x, "Logits", in, classes);
}

static int mobilenet_v2(mb *b, int64_t classes)
{
    /* bottleneck stages: expansion t, output channels c, repeats n, first stride s */
    static const struct { int64_t t, c, n, s; } stages[7] = {
        {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
    };
    enum { STEM_CH = 32, LAST_CH = 1280 };
    int x = image_input(b, CNN_IMAGE_PX);
    x = conv_act(b, x, "features.0", CNN_CHANNELS, STEM_CH, 1, 3, 2, 1, ACT_RELU6);
    int64_t in = STEM_CH;
    int block = 1;
    for (int st = 0; st < 7; st++)
        for (int i = 0; i < stages[st].n; i++, block++) {
            size_t s = mb_push(b, "features.%d", block);
            int64_t hidden = in * stages[st].t, stride = i == 0 ? stages[st].s : 1, out = stages[st].c;
            int h = x;
            if (stages[st].t != 1)
                h = conv_act(b, h, "expand", in, hidden, 1, 1, 1, 0, ACT_RELU6);
            h = conv_act(b, h, "depthwise", hidden, hidden, hidden, 3, stride, 1, ACT_RELU6);
            h = conv_act(b, h, "project", hidden, out, 1, 1, 1, 0, ACT_NONE);
            x = stride == 1 && in == out ? mb_binary(b, "Add", x, h) : h;
            in = out;
            mb_pop(b, s);
        }
    char name[32];
    snprintf(name, sizeof name, "features.%d", block);
    x = conv_act(b, x, name, in, LAST_CH, 1, 1, 1, 0, ACT_RELU6);
    return classifier(b, x, "classifier.1", LAST_CH, classes);
}

/* ---------------------------------------------------------------------------------------- */
/* Inception v1 (GoogLeNet; TF-slim inception_v1 / torchvision googlenet: the "5x5" branch is  */
/* a 3x3 convolution, no LRN, no auxiliary classifiers at inference)                          */

typedef struct inception_v1_cfg {
    const char *name;
    int64_t c1, c3r, c3, c5r, c5, pool;
} inception_v1_cfg;

static int inception_v1_block(mb *b, int x, int64_t in, const inception_v1_cfg *c)
{
    size_t s = mb_push(b, "%s", c->name);
    int b1 = conv_act(b, x, "branch1", in, c->c1, 1, 1, 1, 0, ACT_RELU);
    int b2 = conv_act(b, x, "branch2.0", in, c->c3r, 1, 1, 1, 0, ACT_RELU);
    b2 = conv_act(b, b2, "branch2.1", c->c3r, c->c3, 1, 3, 1, 1, ACT_RELU);
    int b3 = conv_act(b, x, "branch3.0", in, c->c5r, 1, 1, 1, 0, ACT_RELU);
    b3 = conv_act(b, b3, "branch3.1", c->c5r, c->c5, 1, 3, 1, 1, ACT_RELU);
    int b4 = mb_pool2d(b, x, "MaxPool", 3, 1, 1, false);
    b4 = conv_act(b, b4, "branch4.1", in, c->pool, 1, 1, 1, 0, ACT_RELU);
    mb_pop(b, s);
    return mb_concat(b, 4, (int[]){b1, b2, b3, b4}, 1);
}

static int inception_v1(mb *b, int64_t classes)
{
    static const inception_v1_cfg blocks[9] = {
        {"inception3a", 64, 96, 128, 16, 32, 32},    {"inception3b", 128, 128, 192, 32, 96, 64},
        {"inception4a", 192, 96, 208, 16, 48, 64},   {"inception4b", 160, 112, 224, 24, 64, 64},
        {"inception4c", 128, 128, 256, 24, 64, 64},  {"inception4d", 112, 144, 288, 32, 64, 64},
        {"inception4e", 256, 160, 320, 32, 128, 128}, {"inception5a", 256, 160, 320, 32, 128, 128},
        {"inception5b", 384, 192, 384, 48, 128, 128},
    };
    int x = image_input(b, CNN_IMAGE_PX);
    x = conv_act(b, x, "conv1", CNN_CHANNELS, 64, 1, 7, 2, 3, ACT_RELU);
    x = mb_pool2d(b, x, "MaxPool", 3, 2, 1, false);  /* 112 -> 56 (TF-slim SAME) */
    x = conv_act(b, x, "conv2", 64, 64, 1, 1, 1, 0, ACT_RELU);
    x = conv_act(b, x, "conv3", 64, 192, 1, 3, 1, 1, ACT_RELU);
    x = mb_pool2d(b, x, "MaxPool", 3, 2, 1, false);  /* 56 -> 28 */
    int64_t in = 192;
    for (int i = 0; i < 9; i++) {
        if (i == 2)
            x = mb_pool2d(b, x, "MaxPool", 3, 2, 1, false); /* 28 -> 14 */
        if (i == 7)
            x = mb_pool2d(b, x, "MaxPool", 2, 2, 0, false); /* 14 -> 7 */
        x = inception_v1_block(b, x, in, &blocks[i]);
        in = blocks[i].c1 + blocks[i].c3 + blocks[i].c5 + blocks[i].pool;
    }
    return classifier(b, x, "fc", in, classes);
}

/* ---------------------------------------------------------------------------------------- */
/* Inception v4 (Szegedy et al. 2016, Figures 3-9; channel counts of TF-slim inception_v4 and  */
/* timm inception_v4). "valid" convolutions and pools have no padding.                        */

static int pool3_valid(mb *b, int x) { return mb_pool2d(b, x, "MaxPool", 3, 2, 0, false); }
static int avg3_same(mb *b, int x) { return mb_pool2d(b, x, "AveragePool", 3, 1, 1, false); }

static int inception_a(mb *b, int x)
{
    enum { IN = 384 };
    int b0 = conv_act(b, x, "branch0", IN, 96, 1, 1, 1, 0, ACT_RELU);
    int b1 = conv_act(b, x, "branch1.0", IN, 64, 1, 1, 1, 0, ACT_RELU);
    b1 = conv_act(b, b1, "branch1.1", 64, 96, 1, 3, 1, 1, ACT_RELU);
    int b2 = conv_act(b, x, "branch2.0", IN, 64, 1, 1, 1, 0, ACT_RELU);
    b2 = conv_act(b, b2, "branch2.1", 64, 96, 1, 3, 1, 1, ACT_RELU);
    b2 = conv_act(b, b2, "branch2.2", 96, 96, 1, 3, 1, 1, ACT_RELU);
    int b3 = conv_act(b, avg3_same(b, x), "branch3.1", IN, 96, 1, 1, 1, 0, ACT_RELU);
    return mb_concat(b, 4, (int[]){b0, b1, b2, b3}, 1);
}

static int reduction_a(mb *b, int x)
{
    enum { IN = 384 };
    int b0 = conv_act(b, x, "branch0", IN, 384, 1, 3, 2, 0, ACT_RELU);
    int b1 = conv_act(b, x, "branch1.0", IN, 192, 1, 1, 1, 0, ACT_RELU);
    b1 = conv_act(b, b1, "branch1.1", 192, 224, 1, 3, 1, 1, ACT_RELU);
    b1 = conv_act(b, b1, "branch1.2", 224, 256, 1, 3, 2, 0, ACT_RELU);
    return mb_concat(b, 3, (int[]){b0, b1, pool3_valid(b, x)}, 1);
}

static int inception_b(mb *b, int x)
{
    enum { IN = 1024 };
    int b0 = conv_act(b, x, "branch0", IN, 384, 1, 1, 1, 0, ACT_RELU);
    int b1 = conv_act(b, x, "branch1.0", IN, 192, 1, 1, 1, 0, ACT_RELU);
    b1 = conv_rect(b, b1, "branch1.1", 192, 224, 1, 7);
    b1 = conv_rect(b, b1, "branch1.2", 224, 256, 7, 1);
    int b2 = conv_act(b, x, "branch2.0", IN, 192, 1, 1, 1, 0, ACT_RELU);
    b2 = conv_rect(b, b2, "branch2.1", 192, 192, 7, 1);
    b2 = conv_rect(b, b2, "branch2.2", 192, 224, 1, 7);
    b2 = conv_rect(b, b2, "branch2.3", 224, 224, 7, 1);
    b2 = conv_rect(b, b2, "branch2.4", 224, 256, 1, 7);
    int b3 = conv_act(b, avg3_same(b, x), "branch3.1", IN, 128, 1, 1, 1, 0, ACT_RELU);
    return mb_concat(b, 4, (int[]){b0, b1, b2, b3}, 1);
}

static int reduction_b(mb *b, int x)
{
    enum { IN = 1024 };
    int b0 = conv_act(b, x, "branch0.0", IN, 192, 1, 1, 1, 0, ACT_RELU);
    b0 = conv_act(b, b0, "branch0.1", 192, 192, 1, 3, 2, 0, ACT_RELU);
    int b1 = conv_act(b, x, "branch1.0", IN, 256, 1, 1, 1, 0, ACT_RELU);
    b1 = conv_rect(b, b1, "branch1.1", 256, 256, 1, 7);
    b1 = conv_rect(b, b1, "branch1.2", 256, 320, 7, 1);
    b1 = conv_act(b, b1, "branch1.3", 320, 320, 1, 3, 2, 0, ACT_RELU);
    return mb_concat(b, 3, (int[]){b0, b1, pool3_valid(b, x)}, 1);
}

static int inception_c(mb *b, int x)
{
    enum { IN = 1536 };
    int b0 = conv_act(b, x, "branch0", IN, 256, 1, 1, 1, 0, ACT_RELU);
    int b1 = conv_act(b, x, "branch1_0", IN, 384, 1, 1, 1, 0, ACT_RELU);
    int b1a = conv_rect(b, b1, "branch1_1a", 384, 256, 1, 3);
    int b1b = conv_rect(b, b1, "branch1_1b", 384, 256, 3, 1);
    int b2 = conv_act(b, x, "branch2_0", IN, 384, 1, 1, 1, 0, ACT_RELU);
    b2 = conv_rect(b, b2, "branch2_1", 384, 448, 3, 1);
    b2 = conv_rect(b, b2, "branch2_2", 448, 512, 1, 3);
    int b2a = conv_rect(b, b2, "branch2_3a", 512, 256, 1, 3);
    int b2b = conv_rect(b, b2, "branch2_3b", 512, 256, 3, 1);
    int b3 = conv_act(b, avg3_same(b, x), "branch3.1", IN, 256, 1, 1, 1, 0, ACT_RELU);
    return mb_concat(b, 6, (int[]){b0, b1a, b1b, b2a, b2b, b3}, 1);
}

static int inception_v4(mb *b, int64_t classes)
{
    enum { BLOCKS_A = 4, BLOCKS_B = 7, BLOCKS_C = 3, FEATURES = 1536 };
    int x = image_input(b, INCEPTION_V4_PX);
    /* stem (Figure 3): 299 -> 149 -> 147 -> 147 */
    x = conv_act(b, x, "features.0", CNN_CHANNELS, 32, 1, 3, 2, 0, ACT_RELU);
    x = conv_act(b, x, "features.1", 32, 32, 1, 3, 1, 0, ACT_RELU);
    x = conv_act(b, x, "features.2", 32, 64, 1, 3, 1, 1, ACT_RELU);
    size_t s = mb_push(b, "features.3");                 /* Mixed_3a: 147 -> 73, 160 channels */
    int p = pool3_valid(b, x);
    int c = conv_act(b, x, "conv", 64, 96, 1, 3, 2, 0, ACT_RELU);
    x = mb_concat(b, 2, (int[]){p, c}, 1);
    mb_pop(b, s);
    s = mb_push(b, "features.4");                        /* Mixed_4a: 73 -> 71, 192 channels */
    int b0 = conv_act(b, x, "branch0.0", 160, 64, 1, 1, 1, 0, ACT_RELU);
    b0 = conv_act(b, b0, "branch0.1", 64, 96, 1, 3, 1, 0, ACT_RELU);
    int b1 = conv_act(b, x, "branch1.0", 160, 64, 1, 1, 1, 0, ACT_RELU);
    b1 = conv_rect(b, b1, "branch1.1", 64, 64, 1, 7);
    b1 = conv_rect(b, b1, "branch1.2", 64, 64, 7, 1);
    b1 = conv_act(b, b1, "branch1.3", 64, 96, 1, 3, 1, 0, ACT_RELU);
    x = mb_concat(b, 2, (int[]){b0, b1}, 1);
    mb_pop(b, s);
    s = mb_push(b, "features.5");                        /* Mixed_5a: 71 -> 35, 384 channels */
    c = conv_act(b, x, "conv", 192, 192, 1, 3, 2, 0, ACT_RELU);
    x = mb_concat(b, 2, (int[]){c, pool3_valid(b, x)}, 1);
    mb_pop(b, s);
    int layer = 6;
    for (int i = 0; i < BLOCKS_A; i++, layer++) {
        s = mb_push(b, "features.%d", layer);
        x = inception_a(b, x);
        mb_pop(b, s);
    }
    s = mb_push(b, "features.%d", layer++);
    x = reduction_a(b, x);                               /* 35 -> 17, 1024 channels */
    mb_pop(b, s);
    for (int i = 0; i < BLOCKS_B; i++, layer++) {
        s = mb_push(b, "features.%d", layer);
        x = inception_b(b, x);
        mb_pop(b, s);
    }
    s = mb_push(b, "features.%d", layer++);
    x = reduction_b(b, x);                               /* 17 -> 8, 1536 channels */
    mb_pop(b, s);
    for (int i = 0; i < BLOCKS_C; i++, layer++) {
        s = mb_push(b, "features.%d", layer);
        x = inception_c(b, x);
        mb_pop(b, s);
    }
    return classifier(b, x, "last_linear", FEATURES, classes);
}

/* ---------------------------------------------------------------------------------------- */

rt_graph *m4_build_ts_cnn(m4_module_id id, const m4_module_params *p, rt_error *e)
{
    static const int resnet50_blocks[4] = {3, 4, 6, 3}, resnet152_blocks[4] = {3, 8, 36, 3};
    const m4_module_info *info = m4_module_get(id);
    mb b;
    if (!info || !mb_init(&b, info->name, p->format, p))
        return NULL;
    int64_t classes = p->classes;
    int y;
    switch (id) {
    case M4_TS_RESNET50: y = resnet(&b, resnet50_blocks, classes); break;
    case M4_TS_RESNET152: y = resnet(&b, resnet152_blocks, classes); break;
    case M4_TS_MOBILENET_V1: y = mobilenet_v1(&b, classes); break;
    case M4_TS_MOBILENET_V2: y = mobilenet_v2(&b, classes); break;
    case M4_TS_INCEPTION_V1: y = inception_v1(&b, classes); break;
    case M4_TS_INCEPTION_V4: y = inception_v4(&b, classes); break;
    default: y = mb_fail(&b, RT_ERR_ARG, "module %d is not a convolutional TS-model", (int)id); break;
    }
    mb_output(&b, y, "logits");
    return mb_finish(&b, e);
}
