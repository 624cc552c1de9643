/* run.h -- the run pipeline: one inference of a model, split between the simulated NPU and the
 * CPU, with numerics, a modelled latency and energy breakdown, and a timeline.
 *
 *   shapes       unknown input dimensions bound from the given values and --dim, shapes
 *                inferred again (run_dims.c)
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
 *                (cpumodel) + transfers (boundary crossings) + submission (npu.overlap on: a list
 *                schedule's end, CPU steps beside jobs they do not depend on); energy (runtime/energy);
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

/* --dim NAME=VALUE: a symbolic input dimension by its name in the model ("batch"), or an
 * unnamed one as INPUT:AXIS ("x:1"). */
typedef struct run_dim {
    const char *name;
    int64_t value;
} run_dim;

/* Activation calibration (run_calib.c, docs/run.md "Calibration"): the clipping range of every
 * floating-point activation, from the FP32 reference over a calibration set. */
typedef enum run_calib_method {
    RUN_CALIB_MAX = 0,        /* the largest |x| seen */
    RUN_CALIB_PERCENTILE = 1, /* the percentile of |x| (percent kept unclipped) */
    RUN_CALIB_MSE = 2,        /* the range whose quantisation + clipping error is smallest */
} run_calib_method;

#define RUN_CALIB_DEFAULT_PERCENTILE 99.99
#define RUN_CALIB_BINS 2048 /* histogram bins of |x| over [0, max], per tensor */
#define RUN_CALIB_MAX_SAMPLES 100000
#define RUN_MAX_GROUP_SIZE 16384 /* per-group weight scales: at most the ISA's k */

typedef struct run_calib_options {
    run_calib_method method;
    double percentile;  /* RUN_CALIB_PERCENTILE: in (0, 100]; 0 means RUN_CALIB_DEFAULT_PERCENTILE */
    const char *dir;    /* the calibration set: DIR/SAMPLE/INPUT.npy, or DIR/SAMPLE.npy for a one-input model */
    int generated;      /* or this many generated samples (sample i from seed + 1 + i); neither: the run's inputs */
} run_calib_options;

const char *run_calib_method_name(run_calib_method m); /* "max", "percentile", "mse" */

/* What the calibration did (for the report). */
typedef struct run_calib_info {
    run_calib_method method;
    double percentile;
    int samples;        /* 0: no calibration (f16 activations need none; timing-only runs) */
    const char *source; /* "run input", "directory", "generated" */
    int tensors;        /* tensors given a range */
    int clipped;        /* of which with a range below their largest |x| */
} run_calib_info;

typedef struct run_options {
    const m4npu_config *cfg;
    const run_input *inputs; /* by graph input name; floats are converted to the input's float type */
    int n_inputs;
    uint64_t seed;           /* for inputs not given; 0 means RUN_DEFAULT_SEED */
    const run_dim *dims;     /* values of symbolic dimensions of inputs not given (run_dims.c) */
    int n_dims;
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
    /* Outputs (by name) whose last axis is classes: their report adds argmax agreement. Outputs
     * of a Softmax/LogSoftmax over the last axis are class scores without being named. */
    const char *const *class_outputs;
    int n_class_outputs;
    /* Quantisation: how activations are calibrated and stored on the device, and the group size
     * of per-group weight scales (0: per output channel). */
    run_calib_options calib;
    npu_act_format activations;
    uint32_t group_size;
    /* Partitioning: cost-aware (the default: a node goes to the NPU only where that lowers the
     * modelled objective) or greedy (every supported node on the NPU). */
    bool greedy_partition;
    part_objective objective;
} run_options;

/* Timeline tracks: the host CPU, the boundary copies, the NPU's jobs and op descriptors, and one
 * per NPU unit. */
typedef enum run_track {
    RUN_TRACK_CPU = 0,
    RUN_TRACK_BOUNDARY,
    RUN_TRACK_FIRMWARE, /* the control core: jobs */
    RUN_TRACK_DMA0,     /* ... DMA3 follow */
    RUN_TRACK_MM = RUN_TRACK_DMA0 + 4,
    RUN_TRACK_SM,
    RUN_TRACK_VEC,
    RUN_TRACK_OPS,      /* the op descriptors of each job, one after the other */
    RUN_TRACK_COUNT
} run_track;

typedef struct run_event {
    run_track track;
    char name[RUN_EVENT_NAME_BYTES];
    const char *cat;  /* "cpu", "view", "control", "quantise", "dequantise", "submit", "segment" (a job:
                         the timeline draws its op descriptors and units from the segment's ops) */
    double start_s, dur_s;
    int node;         /* or -1 */
    int segment;      /* or -1 */
    int tensor;       /* a crossing's tensor, or -1 */
    uint64_t bytes;   /* a crossing's bytes */
    uint64_t cycles;  /* NPU events: busy cycles of the unit, or the job's cycles */
    uint64_t insns;
} run_event;

/* What the subgraphs of one control-flow node (If, Loop, Scan) ran, modelled: each subgraph
 * run is partitioned like a graph (its NPU segments simulated timing-only, its CPU nodes and
 * crossings priced by runtime/cpumodel); nested control flow adds to its outermost node. */
typedef struct run_body_cost {
    int64_t runs;        /* subgraph runs: an If's branch, each iteration of a Loop or Scan, nested */
    int nodes, npu_nodes, segments; /* of the first run's plan */
    double npu_s, cpu_s, transfer_s, submit_s;
    uint64_t crossing_bytes;
    npu_counters counters;
    char what[RUN_EVENT_NAME_BYTES]; /* "then_branch", "body x 7", "else_branch (worst case)" */
} run_body_cost;

typedef struct run_node_result {
    double start_s;     /* modelled start (CPU nodes; NPU nodes: their segment's job start) */
    int into;           /* NPU nodes: the node whose op descriptors carry its work (itself, or the
                           node it was fused into); -1 on the CPU */
    double host_wall_s; /* real wall time of the CPU kernel on this host (CPU nodes) */
    run_body_cost *body; /* control-flow nodes not precomputed: their subgraphs (owned; NULL for
                            every other node, so that the per-node array stays small: a body is
                            some 900 bytes, which for every node of a 2,700-node decode graph
                            was 2.7 MiB written at each run, a page fault per 4 KiB) */
} run_node_result;

/* One op descriptor of a segment's job, as the firmware measured it (npu_backend.h's profile). */
typedef struct run_op {
    int node;            /* the graph node it was lowered from */
    uint32_t kind;       /* enum npu_op */
    npu_op_profile prof; /* its span (cycles from the job's start) and its counters over the span */
} run_op;

typedef struct run_segment_result {
    npu_segment_stats stats;
    run_op *ops;          /* per op descriptor, in job order (owned) */
    uint32_t n_ops;
    npu_mem_usage mem;    /* its device memory: constants, resident tensors, activations, descriptors */
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
    /* (run_accuracy.c) relative L2 error ||value - ref|| / ||ref||; SQNR = 10 log10(sum ref^2 /
     * sum (value - ref)^2) in dB (+inf for an exact output) */
    double rel_l2, sqnr_db;
    bool class_scores;    /* last axis = classes: argmax agreement per row */
    int64_t argmax_rows, argmax_agree;
} run_output;

typedef struct run_result {
    bool timing_only;           /* no reference, no outputs, no errors */
    run_calib_info calib;
    npu_act_format activations;
    npu_weight_type weights;    /* the NPU's weight format (run_options.weights) */
    uint32_t group_size;
    part_plan *plan;
    run_node_result *nodes;     /* per graph node */
    int n_nodes;                /* entries of nodes */
    run_segment_result *segs;   /* per plan segment */
    int n_outputs;
    run_output *outputs;        /* per graph output */
    int n_generated;
    char **generated;           /* names of the inputs that were generated */
    uint64_t seed;
    /* modelled latency (seconds), subgraphs of control-flow nodes included */
    double npu_s, cpu_s, transfer_s, submit_s, total_s;
    uint64_t crossing_bytes;    /* the plan's and the subgraphs' */
    /* modelled energy (runtime/energy): the NPU's counters x the energy table, its static power
     * over total_s, the CPU active over cpu_s + submit_s and idle over npu_s, the crossings */
    energy_breakdown energy;
    /* the device memory of all segments, planned together (npu_mem_plan): held while the run lasts */
    npu_mem_usage mem;
    /* the run took the plan the partitioner's fits check had made of the same segments, instead of
     * planning them again (cost-aware partitioning that kept the greedy plan's segments) */
    bool mem_plan_from_fits;
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

/* Run g (prepared; calibration writes per-tensor scales into its tensors' quant). First the
 * inputs' unknown dimensions are bound (from the given values and o->dims) and g is prepared
 * again for them, so g may change (folded, If branches inlined); a dimension still unknown is an
 * error naming the input, the dimension and the --dim that gives it, before any other work. */
rt_status run_model(rt_graph *g, const run_options *o, run_result **out, rt_error *e);

/* Bind the unknown input dimensions of g (run_dims.c; run_model's first step): from the given
 * inputs' shapes (which also fix the symbols they carry) and dims; then graph_prepare again if
 * anything changed. In a timing-only run every shape must then be known. */
rt_status run_bind_dims(rt_graph *g, const run_options *o, rt_error *e);
void run_result_free(run_result *r);

/* The FP32 reference alone (run_reference.c): the inputs as run_model binds them, the whole
 * graph on the CPU kernels with each activation freed after its last use, the host wall time;
 * no calibration, partition or NPU simulation, so o->cfg may be NULL. The outputs' value is
 * the reference (reference is NULL); the report is run_reference_print / run_reference_json. */
rt_status run_reference(rt_graph *g, const run_options *o, run_result **out, rt_error *e);
void run_reference_print(FILE *out, const rt_graph *g, const run_result *r);
json_t *run_reference_json(const rt_graph *g, const run_result *r);

/* Reports (run_report.c). */
/* src (may be NULL) says where the configuration came from: its file and the overrides applied,
 * which the header and the JSON's "configuration" state with the configuration's hash. */
void run_print_report(FILE *out, const rt_graph *g, const m4npu_config *cfg, const m4npu_config_source *src,
                      const run_result *r);
json_t *run_result_json(const rt_graph *g, const m4npu_config *cfg, const m4npu_config_source *src,
                        const run_result *r);
/* Device memory as {weights_bytes, kv_cache_bytes, activations_bytes, descriptors_bytes,
 * peak_bytes} (NULL if out of memory); run_result_json and the what-if report use it. */
json_t *run_mem_json(const npu_mem_usage *m);
/* The Chrome/Perfetto trace-event JSON ({"traceEvents": [...]}). run_write_timeline adds it to the
 * output set `out` (runtime/graph's rt_outputs: the caller commits it with its other files), or
 * with out NULL writes it on its own, atomically. */
json_t *run_timeline_json(const rt_graph *g, const m4npu_config *cfg, const run_result *r);
/* The same in parts, for timelines that put several runs side by side (the what-if's tasks): the
 * metadata events naming the host and NPU processes and their threads, and the run's events
 * shifted by offset_s; with RUN_TIMELINE_JOBS without the op descriptors and units inside jobs. */
typedef enum run_timeline_detail { RUN_TIMELINE_ALL = 0, RUN_TIMELINE_JOBS } run_timeline_detail;
rt_status run_timeline_names(json_t *events, const m4npu_config *cfg);
rt_status run_timeline_events(json_t *events, const rt_graph *g, const m4npu_config *cfg, const run_result *r,
                              double offset_s, run_timeline_detail detail);
rt_status run_write_timeline(const rt_graph *g, const m4npu_config *cfg, const run_result *r, const char *path,
                             rt_outputs *out, rt_error *e);
/* Add each output as DIR/NAME.npy to the output set `out` (NAME: the output's name with every
 * character outside [A-Za-z0-9._-] replaced by '_'; a clash gets "_2", "_3" ...), creating DIR
 * and its parents if missing (removed again if the set fails). Paths go to `written` (may be
 * NULL) as a JSON array; they exist once the caller commits the set. */
rt_status run_write_outputs(const rt_graph *g, const run_result *r, const char *dir, rt_outputs *out,
                            json_t *written, rt_error *e);

#endif
