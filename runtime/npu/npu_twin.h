/* npu_twin.h -- the CPU twin of the NPU's operator kernels: runs a list of op descriptors
 * (npu_abi.h) on host copies of the job's buffers and produces the same bytes as the firmware
 * on the device.
 *
 * The twin is written from the arithmetic specified in firmware/src/ops/README.md, not from the
 * firmware's tiling: whole tensors, plain loops. Every f32 step (dequantise, scale, bias,
 * activation, normalise, reduce, quantise) and the softmax tile's fixed point go through
 * isa/isa_exec.c, the reference semantics the device's units execute, so equal bytes mean the
 * kernels' tiling, double buffering and synchronisation lost or reordered nothing. Tests compare
 * device buffers with it bit for bit; the run pipeline uses it (npu_segment_run_twin) for the
 * error report.
 */
#ifndef M4NPU_NPU_TWIN_H
#define M4NPU_NPU_TWIN_H

#include <stdint.h>

#include "graph.h"
#include "npu_abi.h"

/* One buffer of the job, as host memory. */
typedef struct npu_twin_buf {
    uint8_t *data;
    uint64_t size;
} npu_twin_buf;

/* Run ops[0..n-1] in order on bufs. A descriptor the twin cannot run (a buffer reference out of
 * range, an unknown op or attribute) is RT_ERR_ARG naming its index. */
rt_status npu_twin_run(const npu_op_desc *ops, uint32_t n, npu_twin_buf *bufs, uint32_t nbufs, rt_error *e);

/* The quantisation the device uses everywhere (v.quant): clamp(round_half_even(x / scale)). */
int8_t npu_quantize(float x, float scale);

#endif
