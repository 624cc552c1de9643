/* cpu_conv.h -- what the convolution kernels share (cpu_conv.c, cpu_conv_tmpl.h,
 * cpu_winograd.c): the decoded geometry of one Conv / ConvTranspose and the bound on working
 * matrices. Private to runtime/cpu. */
#ifndef M4NPU_RT_CPU_CONV_H
#define M4NPU_RT_CPU_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "ops_geom.h"

/* Largest im2col / col2im working matrix; a chunk of lines is never less than one line. */
#define CPU_IM2COL_MAX_BYTES (INT64_C(32) << 20)

typedef struct conv_geom {
    ops_window w;
    int64_t N, C, M, group, Cg, Mg;
    int64_t in_sz, out_sz, k_sz;
    int64_t in_lines, out_lines; /* positions over all spatial dims but the last */
    int64_t in_str[RT_MAX_RANK], out_str[RT_MAX_RANK];
    bool pointwise; /* 1x1 kernel, stride 1, no padding: X is already the im2col matrix */
} conv_geom;

/* How many lines (positions over all spatial dims but the last) of bytes_per_line fit the
 * working-matrix bound: at least 1, at most lines. */
int64_t conv_chunk_lines(int64_t bytes_per_line, int64_t lines);

/* Winograd F(2x2, 3x3) (cpu_winograd.c): whether it applies to g (2-D, 3x3, stride 1,
 * dilation 1, >= 16 input and output channels per group), and the convolution itself. */
bool cpu_winograd_applies(const conv_geom *g);
rt_status cpu_winograd_conv(const rt_op_ctx *c, const conv_geom *g, const float *x, const float *w,
                            const float *bias, float *y);

#endif
