/* bench_scale.h -- `m4npu bench --scale`: time per input size of each step that reads user
 * input (bench_scale.c says how it measures). */
#ifndef M4NPU_BENCH_SCALE_H
#define M4NPU_BENCH_SCALE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

typedef struct bench_scale_row {
    const char *step; /* "asm", "disasm", "onnx" ... */
    const char *unit; /* what size counts: "lines", "instructions", "nodes" */
    uint32_t size;
    double seconds;   /* CPU time, the fastest of rounds over the sizes */
} bench_scale_row;

/* Measure every step at every size into rows (at most max_rows). 0, or -1 after printing why. */
int bench_scale_measure(bench_scale_row *rows, size_t max_rows, size_t *nrows);
/* The table, with each size's ratio to the size before it and the largest ratio. */
void bench_scale_print(FILE *out, const bench_scale_row *rows, size_t n);
/* The rows as a JSON array of {step, unit, size, seconds, ratio_to_previous}. */
json_t *bench_scale_json(const bench_scale_row *rows, size_t n);

#endif
