/* run_internal.h -- what the run pipeline's files share (run.c, run_reference.c, run_control.c);
 * not for callers outside runtime/run. */
#ifndef M4NPU_RUN_INTERNAL_H
#define M4NPU_RUN_INTERNAL_H

#include "run.h"

/* The value of every graph input into vals[t] (owned[t] set): given (checked against the
 * declaration, floats converted to the input's type) or generated from r->seed; the names of
 * generated inputs go to r->generated. */
rt_status run_bind_inputs(const rt_graph *g, const run_options *o, run_result *r, rt_tensor **vals, bool *owned,
                          rt_error *e);

/* The whole graph on the FP32 CPU kernels from the inputs in vals, every non-constant value kept
 * in ref[t] (clones the caller frees). */
rt_status run_reference_values(const rt_graph *g, rt_tensor **vals, rt_tensor **ref, rt_error *e);

/* A file name stem for a tensor name: characters outside [A-Za-z0-9._-] become '_'. */
void run_file_stem(const char *name, char *buf, size_t size);

/* ---- partitioning */

/* The device-memory plan the partitioner's fits check made of a plan's segments (the greedy
 * plan's), kept for the run: when the run's plan has the same segments, node for node, it takes
 * this plan instead of planning them again (run.c: run_take_fits_plan). The key is the graph and
 * every segment's node list; the weights, timing-only flag and residency are the run's own options,
 * the same in the check and the run. */
typedef struct run_fits_plan {
    npu_mem_plan *mem;
    const rt_graph *g;
    npu_segment **segs; /* per segment, as npu_mem_plan_segment returned it */
    int n_segments;
    int *n_nodes;       /* per segment */
    int *nodes;         /* the segments' node lists, one after the other */
} run_fits_plan;

/* What the partitioner's callbacks need (run.c). */
typedef struct run_cost_ctx {
    npu_backend *b;
    const m4npu_config *cfg;
    npu_weight_type weights;
    const run_options *o;   /* set by run_partition_options */
    bool keep_fits_plan;    /* keep the fits check's plan in `fits` (run_model sets it) */
    run_fits_plan fits;     /* freed by run_fits_plan_free */
} run_cost_ctx;
void run_fits_plan_free(run_fits_plan *f);
/* The partition options of a run: the firmware check, cost-aware or greedy, the objective, the
 * segment cost (timing-only through the backend), residency, the activations' device bits. */
void run_partition_options(const run_options *o, run_cost_ctx *cc, part_options *po);

/* ---- calibration (run_calib.c) */

/* Give every non-constant float tensor of g its activation range (rt_quant: per tensor, scale =
 * range / 127) by o->calib over the calibration set (or ref, the run's own reference values),
 * for o->activations' integer range; f16 activations need none. Fills r->calib. */
rt_status run_calibrate(rt_graph *g, const run_options *o, rt_tensor *const *ref, run_result *r, rt_error *e);

/* ---- accuracy against the reference (run_accuracy.c) */

/* Is graph output t class scores (named in o->class_outputs, or a last-axis Softmax/LogSoftmax
 * through views), with a last axis of at least 2? */
bool run_output_is_class_scores(const rt_graph *g, const run_options *o, int t);
/* Fill o's error metrics from o->value against o->reference (same element count). */
void run_accuracy(run_output *o, bool class_scores);

/* ---- the costing of control-flow subgraphs (run_control.c) */

/* The plans of the subgraphs run so far and the runner that accounts them. */
typedef struct run_control run_control;

/* o (its configuration, weights and partition options) must outlive the runner. */
run_control *run_control_new(const run_options *o, npu_backend *b);
void run_control_free(run_control *rc);
/* Execute control-flow node `node` of g on the FP32 kernels (vals as cpu_exec_node takes them),
 * adding the modelled cost of every subgraph run it makes to acc (NULL: cost nothing, e.g. a
 * node computed from constants only). */
rt_status run_control_exec(run_control *rc, const rt_graph *g, int node, rt_tensor **vals, run_body_cost *acc,
                           rt_error *e);
/* Without data: the modelled cost of control-flow node `node` from shapes alone (an If's
 * costlier branch, a Loop's M iterations, a Scan's sequence length). */
rt_status run_control_static(run_control *rc, rt_graph *g, int node, run_body_cost *acc, rt_error *e);
/* npu + cpu + transfer + submission seconds. */
double run_body_total_s(const run_body_cost *c);

#endif
