/* run_layers.h -- the per-layer report of a run: where every piece of work ran and why, what it
 * cost and what bounds it, in rows that add up to the run's totals.
 *
 * Rows, in execution order (docs/layers.md):
 *   npu-op   one op descriptor of an NPU job, as the firmware measured it (its span on the NPU and
 *            every counter's growth over the span, ABI 1.4): the node it was lowered from, and
 *            the nodes fused into it
 *   npu-job  a job's firmware work outside its descriptors (fetching and checking the job,
 *            writing its completion)
 *   submit   the host submitting a job and being woken
 *   copy     a tensor (de)quantised across the CPU/NPU boundary (tensors resident in device
 *            memory, a KV cache, cross nothing and have no row)
 *   cpu      a node on the CPU (modelled time), a view (free) or a control-flow node with its
 *            subgraphs
 * The units of the NPU overlap within an op but ops do not overlap (the firmware drains the units
 * between descriptors), so an op's time is its span and the spans of a job's ops and its npu-job
 * row add up to the job's cycles; per-unit busy cycles say what kept each unit busy within the
 * span. Seconds add up to the run's latency, NPU cycles to its segments' cycles, energy (the
 * energy table for the row's counters, the NPU's static power and the CPU's active or idle power
 * over the row's time, the copies' DRAM traffic) to the run's energy.
 */
#ifndef M4NPU_RUN_LAYERS_H
#define M4NPU_RUN_LAYERS_H

#include <stdio.h>

#include "run.h"

#define RUN_OPS_PER_MAC 2.0 /* a multiply-accumulate is two operations (the roofline's unit) */

typedef enum run_layer_kind {
    RUN_LAYER_OP = 0,
    RUN_LAYER_JOB,
    RUN_LAYER_SUBMIT,
    RUN_LAYER_CROSSING,
    RUN_LAYER_CPU,
    RUN_LAYER_KIND_COUNT
} run_layer_kind;

/* What bounds a row: the NPU resource busiest over its span (compute: the matmul array; memory:
 * DMA and DRAM; vector: the vector unit or the softmax tile; control: the firmware dispatching),
 * or the CPU (CPU nodes, submissions), or the boundary copies. */
typedef enum run_bound {
    RUN_BOUND_NONE = 0, /* no time */
    RUN_BOUND_COMPUTE,
    RUN_BOUND_MEMORY,
    RUN_BOUND_VECTOR,
    RUN_BOUND_CONTROL,
    RUN_BOUND_CPU,
    RUN_BOUND_TRANSFER,
    RUN_BOUND_COUNT
} run_bound;

typedef struct run_layer {
    run_layer_kind kind;
    int node;                  /* the graph node (npu-op: the one it was lowered from), or -1 */
    int segment;               /* its segment, or -1 */
    int op;                    /* npu-op: the descriptor's index in its job; else -1 */
    int tensor;                /* copy: the tensor; else -1 */
    const char *kernel;        /* npu-op: the firmware kernel ("matmul"); cpu: the op type; else what */
    double seconds;            /* modelled time */
    uint64_t cycles;           /* NPU cycles (npu-op, npu-job); 0 otherwise */
    double macs;               /* npu-op: the array's MACs; cpu: the op's (runtime/ops) */
    double flops;              /* npu-op: 2 x MACs; cpu: the CPU model's operations */
    uint64_t dram_bytes;       /* NPU: DRAM bytes read + written; copy: host + device bytes; cpu: the
                                  bytes the CPU model charges (memory traffic) */
    uint64_t sram_bytes;       /* NPU: SRAM bytes read + written by every unit */
    double array_util;         /* npu-op: MACs / (cycles x array rows x columns) */
    double bandwidth_bytes_s;  /* dram_bytes / seconds (0 for no time) */
    uint64_t busy[NPU_UNIT_COUNT]; /* NPU: busy cycles of each unit within the row */
    run_bound bound;
    energy_breakdown energy;
} run_layer;

/* The rows of a run (not a reference-only one), in execution order; *out is freed with free(). */
rt_status run_layers(const rt_graph *g, const m4npu_config *cfg, const run_result *r, run_layer **out, int *n,
                     rt_error *e);

const char *run_layer_kind_name(run_layer_kind k); /* "npu-op", "npu-job", "submit", "copy", "cpu" */
const char *run_bound_name(run_bound b);           /* "compute", "memory", ... "-" for none */
const char *run_npu_op_name(uint32_t op);          /* enum npu_op: "matmul" ... */
/* The row's name: its node, "to NPU x" / "from NPU x", "submit segment 3", "segment 3: job ...". */
const char *run_layer_name(const rt_graph *g, const run_layer *l, char *buf, size_t size);
/* Where it ran: "npu", "cpu", "cpu-view", "host" (submission), "boundary" (copies). */
const char *run_layer_place(const run_result *r, const run_layer *l);
/* Why there: the partitioner's reason (runtime/partition's part_node_info.why: the rule that kept
 * a node on the CPU), for an NPU op that both checks passed and the nodes fused into it. */
const char *run_layer_why(const rt_graph *g, const run_result *r, const run_layer *l, char *buf, size_t size);

/* Sums of rows (each row counted `times` times: a step's repeats). */
typedef struct run_layer_totals {
    double seconds, cycles, macs, dram_bytes;
    energy_breakdown energy;
} run_layer_totals;
void run_layers_sum(const run_layer *rows, int n, double times, run_layer_totals *t);

/* The roofs of a configuration: the matmul array's peak (2 operations per MAC, every PE every
 * cycle) and the DRAM's sustained bandwidth (peak x efficiency, what the DRAM model serves at
 * most); the ridge is where a row's arithmetic intensity (operations per DRAM byte) stops being
 * bandwidth-bound. */
typedef struct run_roofs {
    double clock_hz;
    double macs_per_cycle;
    double compute_ops_s;
    double dram_peak_bytes_s, dram_bytes_s;
    double ridge_ops_per_byte;
} run_roofs;
void run_roofs_get(const m4npu_config *cfg, run_roofs *out);

/* ---- the report's forms (run_layers_out.c) */

/* One JSON object per row: kind, name, node, op_type, kernel, segment, op, place, why, seconds,
 * cycles, macs, flops, dram_bytes, sram_bytes, array_utilisation, bandwidth_gb_s,
 * arithmetic_intensity (flops per DRAM byte; null without DRAM traffic), throughput_gops, bound,
 * busy_cycles {unit: cycles}, energy_j, energy {breakdown}. NULL if out of memory. */
json_t *run_layer_json(const rt_graph *g, const run_result *r, const run_layer *l);
/* The CSV columns of a row (no newline), and the header for them; the caller may put columns of
 * its own before both. */
void run_layers_csv_header(FILE *out);
void run_layer_csv(FILE *out, const rt_graph *g, const run_result *r, const run_layer *l);
/* The rows as a table for people, with a line of totals. */
void run_layers_print(FILE *out, const rt_graph *g, const run_result *r, const run_layer *rows, int n);
/* A CSV field in double quotes (inner quotes doubled), as RFC 4180 has it. */
void run_csv_quoted(FILE *out, const char *s);

#endif
