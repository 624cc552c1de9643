/* cnn_models.h -- two small mobile CNNs written as a framework exports them before any
 * deployment folding: every convolution followed by an explicit BatchNormalization (constant
 * statistics), ReLU6 as Clip(0, 6). They are the test models of the NPU's CNN operators and of
 * BatchNormalization folding at import (the exported file keeps the BN nodes; importing it folds
 * them).
 *
 *   mobilenet_v2_bn  MobileNet-v2-class: a 3x3 stride-2 stem, inverted residual blocks (1x1
 *                    expand, 3x3 depthwise, 1x1 linear projection, residual Add where the shape
 *                    allows), a 1x1 conv to the head width, GlobalAveragePool, Flatten, a Gemm
 *                    classifier; input "image" [1, 3, 64, 64], output "logits" [1, 10]
 *   resnet_bn        ResNet-class: a 7x7 stride-2 stem, MaxPool 3x3 stride 2, basic blocks of two
 *                    3x3 convs with residual Adds (a 1x1 stride-2 projection where the shape
 *                    changes), a final BatchNormalization + Relu after the last Add (pre-activation
 *                    style: nothing to fold it into), GlobalAveragePool, Flatten, Gemm; input
 *                    "image" [1, 3, 64, 64], output "logits" [1, 10]
 *
 * Weights are fixed-seed uniform with He-like ranges, BN statistics uniform around identity. */
#ifndef M4NPU_CNN_MODELS_H
#define M4NPU_CNN_MODELS_H

#include <stdbool.h>

#include "graph.h"

#define CNN_MODEL_IMAGE_PX 64
#define CNN_MODEL_CLASSES 10

/* The graphs are validated, sorted and shape-inferred but not prepared: the BatchNormalization
 * nodes are still there (graph_prepare would fold them). with_data false: shape-only weights.
 * NULL on error (e filled). */
rt_graph *model_mobilenet_v2_bn(bool with_data, rt_error *e);
rt_graph *model_resnet_bn(bool with_data, rt_error *e);

#endif
