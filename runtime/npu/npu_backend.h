/* npu_backend.h -- running parts of a graph on the simulated NPU.
 *
 * The runtime hands the backend a segment: nodes of an rt_graph (in topological order) that the
 * partitioner placed on the NPU. The backend lowers each node to op descriptors (npu_abi.h),
 * allocates device buffers for the segment's tensors, quantises and uploads its weights
 * (INT8 symmetric per output channel, or INT4), and runs the segment as one NPU_JOB_OPS job
 * through the driver; the firmware's operator kernels expand the descriptors into ISA.
 *
 * Quantisation contract: every activation tensor inside or at the boundary of a segment carries
 * a per-tensor scale in its rt_quant (the run pipeline sets them from a calibration run) unless
 * the segment is timing-only. Tensors entering the segment arrive as f32 host tensors and are
 * quantised on the way in; tensors leaving it are dequantised to f32 on the way out (that is the
 * boundary work, whose bytes are reported so that the caller can charge it).
 *
 * Timing-only segments move and compute no data (no weight is ever materialised); every cycle,
 * counter and byte is still accounted. That is how the M4 modules are simulated.
 */
#ifndef M4NPU_NPU_BACKEND_H
#define M4NPU_NPU_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "m4npu_config.h"
#include "npu_drv.h"

typedef struct npu_backend npu_backend;
typedef struct npu_segment npu_segment;

typedef enum npu_weight_type {
    NPU_WEIGHTS_INT8 = 0, /* per output channel (or per group of K rows: npu_backend_set_format) */
    NPU_WEIGHTS_INT4 = 1, /* per output channel (or per group of K rows), packed */
    NPU_WEIGHTS_F16 = 2,  /* IEEE binary16, normalised per output channel (f16 activations only) */
} npu_weight_type;

/* How activations live on the device (firmware/src/ops/README.md, "Activation formats"). */
typedef enum npu_act_format {
    NPU_ACTS_INT8 = 0,  /* symmetric int8, one scale per tensor (the default) */
    NPU_ACTS_INT16 = 1, /* symmetric int16 per tensor: the array's 16x8 mode */
    NPU_ACTS_F16 = 2,   /* IEEE binary16 (no scale): the array's f16 mode, f32 accumulation */
} npu_act_format;

/* The largest quantised magnitude of an integer activation format (127, 32767); 0 for f16. */
int npu_act_format_qmax(npu_act_format f);
const char *npu_act_format_name(npu_act_format f); /* "int8", "int16", "f16" */
const char *npu_weight_type_name(npu_weight_type w); /* "int8", "int4", "f16" */

/* The device's bytes per element of an activation format (1 or 2), and its enum npu_dtype. */
uint32_t npu_act_format_bytes(npu_act_format f);
uint32_t npu_act_format_dtype(npu_act_format f);

/* Open the device described by cfg->npu. */
npu_backend *npu_backend_open(const m4npu_config *cfg, rt_error *e);
void npu_backend_close(npu_backend *b);
npu_dev *npu_backend_device(npu_backend *b);

/* The format of activations on the device and the weights' group size (rows of K per scale, 0:
 * per output channel) for the segments built from now on, and for npu_backend_supports (some
 * kernels take only int8 activations: the fused attention, a MatMul of two int16 activations).
 * The default: int8 per tensor, per-channel weight scales. */
void npu_backend_set_format(npu_backend *b, npu_act_format acts, uint32_t group_size);

/* Can this firmware's kernels run node `n` (its op, data types, shapes and attributes)? Shapes
 * must be inferred. On false, `why` says which rule (e.g. "Conv: dilation 2; the NPU kernel
 * supports 1"). This is the firmware's ability only; the configuration's capability set is
 * applied by the partitioner on top of it. */
bool npu_backend_supports(const npu_backend *b, const rt_graph *g, int n, char *why, size_t whylen);

/* Build a segment from nodes[0..n_nodes-1] of g: lower them, allocate device memory, and (unless
 * timing_only) quantise and upload the weights. g must outlive the segment. The segment's device
 * memory is its own (a memory plan of one segment, below). */
npu_segment *npu_segment_build(npu_backend *b, rt_graph *g, const int *nodes, int n_nodes,
                               npu_weight_type weights, bool timing_only, rt_error *e);
/* Frees a segment of npu_segment_build (a segment of a memory plan is freed with its plan). */
void npu_segment_free(npu_segment *s);

typedef struct npu_segment_stats {
    uint64_t cycles;          /* device cycles of the segment's job, firmware included */
    double seconds;           /* cycles at the NPU clock */
    npu_counters counters;    /* per-unit counters over the run */
    uint64_t bytes_in;        /* bytes quantised and copied into device memory at the boundary (int8) */
    uint64_t bytes_out;       /* bytes copied out and dequantised at the boundary (int8) */
    uint64_t weight_bytes;    /* bytes of the segment's constants in device memory: quantised weights,
                                 their scales, biases, norm parameters, f32 operands */
    uint32_t ops;             /* op descriptors in the job */
    uint64_t insns;           /* ISA instructions the firmware dispatched */
} npu_segment_stats;

/* Run a segment once. values[t] is the host value of tensor t of the graph (f32, with data) or
 * NULL: the segment's inputs are read from it, its outputs are written into it (allocated by the
 * backend when NULL, freed by the caller with rt_tensor_free). For a timing-only segment values
 * may be NULL. */
rt_status npu_segment_run(npu_segment *s, rt_tensor **values, npu_segment_stats *st, rt_error *e);

/* ---- device memory of segments that run one after the other (runtime/npu/README.md)
 *
 * A memory plan holds the segments of one graph that run in sequence (a module) and places their
 * device memory ahead of the first run, as a compiler's arena planner does: every segment's
 * constants once, side by side (weights are uploaded once and stay); the resident tensors (a KV
 * cache, which lives in device memory from one run to the next) once each, in their own region;
 * the activations of each segment in one shared arena, each tensor at an offset planned from its
 * lifetime (greedy by size), so that its bytes are reused as soon as it is dead and no gap a plan
 * could avoid is left. A segment's activations are dead when its job ends (its outputs are read
 * back), so the arena is as large as the largest segment's need. Four buffer objects in all, freed
 * together: nothing is left behind between modules. */

/* Tensors that stay in device memory from one run to the next (a KV cache); NULL: none. */
typedef bool (*npu_resident_fn)(const rt_graph *g, int tensor, void *ctx);

/* Device memory, in bytes as allocated (each region rounded up to 64 bytes). */
typedef struct npu_mem_usage {
    uint64_t weight_bytes;  /* constants: quantised weights, their scales, biases, norm parameters,
                               padding buffers */
    uint64_t kv_bytes;      /* resident tensors (the KV cache) */
    uint64_t act_bytes;     /* activations at their peak */
    uint64_t program_bytes; /* op descriptors */
    uint64_t peak_bytes;    /* the sum: what is held while it runs */
} npu_mem_usage;

typedef struct npu_mem_plan npu_mem_plan;

npu_mem_plan *npu_mem_plan_new(npu_backend *b, rt_graph *g, npu_resident_fn resident, void *resident_ctx,
                               rt_error *e);
/* Lower nodes[0..n_nodes-1] of the plan's graph into a segment of the plan (no device memory yet). */
npu_segment *npu_mem_plan_segment(npu_mem_plan *p, const int *nodes, int n_nodes, npu_weight_type weights,
                                  bool timing_only, rt_error *e);
/* Allocate the plan's device memory and upload every segment's constants and descriptors. When
 * the plan does not fit, the error says what it needs (weights, KV cache, activations,
 * descriptors), what device memory already holds and how many bytes are missing. */
rt_status npu_mem_plan_commit(npu_mem_plan *p, rt_error *e);
/* Whether the plan fits in the device memory free now: commit's check, with its error, and
 * nothing allocated. */
rt_status npu_mem_plan_check(const npu_mem_plan *p, rt_error *e);
/* The plan's device memory (computed before commit too). */
void npu_mem_plan_usage(const npu_mem_plan *p, npu_mem_usage *u);
/* A segment's own share: its constants, the resident tensors it touches, its activations' peak
 * and its descriptors. */
void npu_segment_mem_usage(const npu_segment *s, npu_mem_usage *u);
/* Frees the plan's segments and device memory. */
void npu_mem_plan_free(npu_mem_plan *p);

/* ---- additions (runtime/npu/README.md says why) */

/* Timing-only segments whose descriptors (buffer places aside) equal one already run on this
 * backend take its stats instead of being simulated again (exact: the device starts every job
 * idle, and timing depends neither on data nor on addresses). On by default; off empties it. */
void npu_backend_set_memo(npu_backend *b, bool on);
uint64_t npu_backend_memo_hits(const npu_backend *b);

/* Run a numeric segment on the CPU twin of the firmware's kernels instead of the device: the
 * same quantised inputs, the same descriptors, the same bytes; outputs into values as
 * npu_segment_run does. For tests and the pipeline's error report. */
rt_status npu_segment_run_twin(npu_segment *s, rt_tensor **values, rt_error *e);

/* Give every non-constant float tensor with a value a per-tensor scale max|x| / 127 (its rt_quant),
 * from values[t] (e.g. a CPU reference run with intermediates kept). */
rt_status npu_calibrate(rt_graph *g, rt_tensor *const *values, rt_error *e);

/* The segment's op descriptors (owned by the segment) and the graph node each came from. */
const npu_op_desc *npu_segment_ops(const npu_segment *s, uint32_t *n);
int npu_segment_op_node(const npu_segment *s, uint32_t i);
/* The graph node whose descriptors carry node's work: node itself, or the node it was fused into
 * (an epilogue's MatMul, an attention's last MatMul); -1 if node is not in the segment. */
int npu_segment_fused_into(const npu_segment *s, int node);

/* What each descriptor did in the segment's last run, as the firmware measured it (ABI 1.4,
 * npu_op_profile): one record per descriptor (npu_segment_ops' n), start and end cycles relative
 * to the job's start; NULL before the first run. A timing-only segment taken from the memo has
 * the memo's records. The spans follow one another (the units drain between descriptors), so
 * the job's cycles are their sum plus the firmware's work before the first and after the last;
 * the counters of all records add up to the job's, but for that work (docs/layers.md). */
const npu_op_profile *npu_segment_profile(const npu_segment *s);
/* Whether jobs carry the per-op profile (on by default). Off, no profile is written or kept
 * (npu_segment_profile stays NULL): for sessions that report no per-op figure and should not hold
 * them (the what-if's table of every task). Cycles and counters are the same either way. */
void npu_backend_set_profile(npu_backend *b, bool on);
bool npu_backend_profile(const npu_backend *b);

/* Where the firmware log of every job the backend runs goes, job by job (text with '\n'-ended
 * lines, possibly in several calls per job); NULL: nowhere. While set, jobs ask the firmware for
 * a line per op descriptor (NPU_JOB_F_LOG_OPS: kernel, tiling, cycles). Segments taken from the
 * memo do not run and log nothing. */
typedef void (*npu_log_fn)(void *ctx, const char *text);
void npu_backend_set_log(npu_backend *b, npu_log_fn fn, void *ctx);

#endif
