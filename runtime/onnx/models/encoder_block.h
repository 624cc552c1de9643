/* encoder_block.h -- a small transformer encoder block built with the graph builder: the test
 * model that later runs partly on the simulated NPU. Layout (pre-norm, as exported by
 * torch.onnx): LayerNorm, Q/K/V MatMul+Add, Reshape/Transpose into heads, MatMul scores, Div by
 * sqrt(d_head), Softmax, MatMul with V, Transpose/Reshape back, output projection, residual Add,
 * LayerNorm, MLP MatMul-Add-GELU(Erf form)-MatMul-Add, residual Add. Input "x" [1, tokens, d],
 * output "y" [1, tokens, d]. Weights are fixed-seed uniform(+-1/sqrt(fan_in)). */
#ifndef M4NPU_ENCODER_BLOCK_H
#define M4NPU_ENCODER_BLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

typedef struct encoder_block_cfg {
    int d_model, heads, tokens, d_ff;
    uint64_t seed;
} encoder_block_cfg;

#define ENCODER_BLOCK_DEFAULT ((encoder_block_cfg){64, 4, 16, 256, UINT64_C(0x4d344e5055)})

/* with_data false: every weight is shape-only (no data), as in timing-only mode. The graph is
 * prepared (sorted, shapes inferred). NULL on error (e filled). */
rt_graph *model_encoder_block(const encoder_block_cfg *cfg, bool with_data, rt_error *e);

/* Deterministic uniform values in [-a, a) (splitmix64), for weights and test inputs. */
void model_fill_uniform(float *v, int64_t n, float a, uint64_t *state);

#endif
