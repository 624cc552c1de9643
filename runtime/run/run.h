/* run.h -- the run pipeline: one inference of a model, split between the simulated NPU and the
 * CPU, with numerics, a modelled latency and energy breakdown, and a timeline.
 *
 *   inputs       the given values, or for each input not given a fixed-seed random value
 *                (floats uniform in [-1, 1), integers and bools zero)
 *   reference    the whole graph on the FP32 CPU kernels (runtime/cpu), keeping every value
 *   calibration  every f32 activation (inputs and outputs included) gets a symmetric per-tensor
 *                int8 scale max|reference value| / 127 (npu_calibrate, the backend's formula)
 *   partition    runtime/partition with the configuration's capability set and the firmware's
 *                npu_backend_supports()
 *   execution    the plan's order: CPU nodes on the CPU kernels (host wall time measured), each
 *                segment as one job through the backend (weights INT8 per channel, or INT4), and
 *                again on the backend's CPU twin of the firmware's kernels: a difference would be
 *                a device or firmware bug, 0 says the error below is quantisation only
 *   report       per-node placement; modelled latency = NPU (the segments' device time) + CPU
 *                (cpumodel) + transfers (boundary crossings) + submission; energy (runtime/energy);
 *                the max absolute and relative error of each output against the reference
 *
 * So the calibration input is the run's own input: scales are exact for it, and the error
 * measures what int8 arithmetic costs on that input. The relative error of an output is its
 * max absolute error divided by the largest |reference value| of that output.
 */
#ifndef M4NPU_RUN_H
#define M4NPU_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "energy.h"
#include "graph.h"
#include "m4npu_config.h"
#include "npu_backend.h"
#include "partition.h"

#define RUN_DEFAULT_SEED UINT64_C(0x6d346e7075) /* "m4npu" */
#define RUN_EVENT_NAME_BYTES 160

typedef struct run_input {
    const char *name;
    const rt_tensor *value;
} run_input;

typedef struct run_options {
    const m4npu_config *cfg;
    const run_input *inputs; /* by graph input name; floats are converted to the input's float type */
    int n_inputs;
    uint64_t seed;           /* for inputs not given; 0 means RUN_DEFAULT_SEED */
    npu_weight_type weights;
    /* Timing only: no input, no reference, no calibration, no data anywhere (weights need none);
     * every NPU cycle and byte and every modelled CPU cost is still accounted. How the M4
     * modules run. */
    bool timing_only;
    /* Graph inputs and outputs that live in device memory from one run to the next (a KV
     * cache): crossing the CPU/NPU boundary costs them nothing. NULL: none. */
    bool (*resident)(const rt_graph *g, int tensor, void *ctx);
    void *resident_ctx;
    /* An open backend to run on (its memo of timing-only segments then spans runs); NULL: the
     * run opens and closes its own. */
    npu_backend *backend;
} run_options;

/* Timeline tracks: the host CPU, the boundary copies, and one per NPU unit. */
typedef enum run_track {
    RUN_TRACK_CPU = 0,
    RUN_TRACK_BOUNDARY,
    RUN_TRACK_FIRMWARE, /* the control core */
    RUN_TRACK_DMA0,     /* ... DMA3 follow */
    RUN_TRACK_MM = RUN_TRACK_DMA0 + 4,
    RUN_TRACK_SM,
    RUN_TRACK_VEC,
    RUN_TRACK_COUNT
} run_track;

typedef struct run_event {
    run_track track;
    char name[RUN_EVENT_NAME_BYTES];
    const char *cat;  /* "cpu", "view", "quantise", "dequantise", "submit", "segment", "unit" */
    double start_s, dur_s;
    int node;         /* or -1 */
    int segment;      /* or -1 */
    int tensor;       /* a crossing's tensor, or -1 */
    uint64_t bytes;   /* a crossing's bytes */
    uint64_t cycles;  /* NPU events: busy cycles of the unit, or the job's cycles */
    uint64_t insns;
} run_event;

typedef struct run_node_result {
    double start_s;     /* modelled start (CPU nodes; NPU nodes: their segment's job start) */
    double host_wall_s; /* real wall time of the CPU kernel on this host (CPU nodes) */
} run_node_result;

typedef struct run_segment_result {
    npu_segment_stats stats;
    double start_s;       /* modelled start of the segment's first crossing */
    double job_start_s;   /* of the NPU job */
    double host_wall_s;   /* real wall time of simulating it */
    double twin_max_abs;  /* max |device - CPU twin| over its outputs (0: bit-exact) */
} run_segment_result;

typedef struct run_output {
    int tensor;
    rt_tensor *value;     /* the NPU path's result */
    rt_tensor *reference; /* the FP32 CPU reference */
    double max_abs, max_rel, ref_max_abs;
} run_output;

typedef struct run_result {
    part_plan *plan;
    run_node_result *nodes;     /* per graph node */
    run_segment_result *segs;   /* per plan segment */
    int n_outputs;
    run_output *outputs;        /* per graph output */
    int n_generated;
    char **generated;           /* names of the inputs that were generated */
    uint64_t seed;
    /* modelled latency (seconds) */
    double npu_s, cpu_s, transfer_s, submit_s, total_s;
    /* modelled energy (runtime/energy): the NPU's counters x the energy table, its static power
     * over total_s, the CPU active over cpu_s + submit_s and idle over npu_s, the crossings */
    energy_breakdown energy;
    /* backend-reported boundary bytes (npu_segment_stats) */
    uint64_t npu_bytes_in, npu_bytes_out, npu_weight_bytes;
    /* host wall time, not a phone time */
    double host_cpu_wall_s, host_npu_wall_s;
    double max_abs, max_rel; /* over every output */
    double twin_max_abs;     /* over every segment: the device against the backend's CPU twin */
    int n_events;
    run_event *events;
    /* run_reference only: no plan, no segments; outputs hold the reference values */
    bool reference_only;
    double reference_macs, reference_flops; /* the graph's cost (runtime/ops) */
    double reference_cpu_s;                 /* CPU time of the process while the kernels ran */
    int blas_threads;                       /* OpenBLAS threads the CPU kernels used */
} run_result;

/* Run g (prepared; calibration writes per-tensor scales into its tensors' quant). */
rt_status run_model(rt_graph *g, const run_options *o, run_result **out, rt_error *e);
void run_result_free(run_result *r);

/* The FP32 reference alone (run_reference.c): the inputs as run_model binds them, the whole
 * graph on the CPU kernels with each activation freed after its last use, the host wall time;
 * no calibration, partition or NPU simulation, so o->cfg may be NULL. The outputs' value is
 * the reference (reference is NULL); the report is run_reference_print / run_reference_json. */
rt_status run_reference(rt_graph *g, const run_options *o, run_result **out, rt_error *e);
void run_reference_print(FILE *out, const rt_graph *g, const run_result *r);
json_t *run_reference_json(const rt_graph *g, const run_result *r);

/* Reports (run_report.c). */
void run_print_report(FILE *out, const rt_graph *g, const m4npu_config *cfg, const run_result *r);
json_t *run_result_json(const rt_graph *g, const m4npu_config *cfg, const run_result *r);
/* The Chrome/Perfetto trace-event JSON ({"traceEvents": [...]}). run_write_timeline adds it to the
 * output set `out` (runtime/graph's rt_outputs: the caller commits it with its other files), or
 * with out NULL writes it on its own, atomically. */
json_t *run_timeline_json(const rt_graph *g, const m4npu_config *cfg, const run_result *r);
rt_status run_write_timeline(const rt_graph *g, const m4npu_config *cfg, const run_result *r, const char *path,
                             rt_outputs *out, rt_error *e);
/* Add each output as DIR/NAME.npy to the output set `out` (NAME: the output's name with every
 * character outside [A-Za-z0-9._-] replaced by '_'; a clash gets "_2", "_3" ...), creating DIR
 * and its parents if missing (removed again if the set fails). Paths go to `written` (may be
 * NULL) as a JSON array; they exist once the caller commits the set. */
rt_status run_write_outputs(const rt_graph *g, const run_result *r, const char *dir, rt_outputs *out,
                            json_t *written, rt_error *e);

#endif
