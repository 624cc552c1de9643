/* partition.h -- splitting a graph between the NPU and the CPU.
 *
 * Each node goes to the NPU iff the configuration's capability set allows it (its op is on, its
 * data tensors have an allowed type, it is within the op's limits: runtime/config `ops:`) AND the
 * firmware can run it (a callback: npu_backend_supports() in the run pipeline, a stand-in in
 * tests). Everything else runs on the CPU at the cost of runtime/cpumodel. Nodes computed only
 * from constants (what folding left because it was large) are precomputed once and free, and
 * view ops on the CPU (Reshape, Squeeze ...) are free too.
 *
 * The execution order is a topological order that groups NPU-ready nodes: it keeps running nodes
 * of the side it is on while any is ready and switches side only when none is, so that NPU
 * nodes form few, long runs. Each maximal run of NPU nodes in that order is a segment, run as one
 * NPU job. Every tensor a segment reads from outside it (a graph input or a CPU/other-segment
 * result) is quantised into device memory, every tensor it produces that is read outside it or is
 * a graph output is dequantised back: these crossings are priced by runtime/cpumodel (bytes over
 * CPU memory bandwidth plus a per-transfer overhead), and each segment pays the submission
 * overhead. Weights are uploaded once when a segment is built and are not charged per run.
 *
 * Plans are plain data owned by the caller; nothing here keeps state.
 */
#ifndef M4NPU_PARTITION_H
#define M4NPU_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpumodel.h"
#include "graph.h"
#include "m4npu_config.h"

#define PART_WHY_BYTES 192      /* why a node is on the CPU */
#define PART_DEVICE_ACT_BITS 8u /* activations live in device memory as int8 (npu_backend.h) */

typedef enum part_place {
    PART_CPU = 0, /* a CPU kernel, at the modelled cost */
    PART_NPU = 1, /* inside an NPU segment */
} part_place;

/* Can the firmware run node n of g? On false, write the rule into why. */
typedef bool (*part_fw_supports_fn)(void *ctx, const rt_graph *g, int node, char *why, size_t whylen);

/* How supported nodes are placed. */
typedef enum part_strategy {
    PART_GREEDY = 0, /* every node the NPU can run goes to it */
    PART_COST = 1,   /* a node goes to the NPU only where that lowers the modelled objective
                        (partition_cost.c): the default of `m4npu run` and `m4npu whatif` */
} part_strategy;

typedef enum part_objective {
    PART_LATENCY = 0, /* modelled seconds: NPU + CPU + transfers + submissions */
    PART_ENERGY = 1,  /* modelled joules (docs/run.md, "What the split costs") */
} part_objective;

/* What one NPU segment of nodes[0..n-1] (in execution order) costs on the device: its job's
 * seconds and dynamic energy (the device's counters x the energy table). When per_node is not
 * NULL, per_node[i] is nodes[i]'s share of it: the time and energy of the work lowered from that
 * node (zero for a node fused into another, whose work is its host's); the rest of c (the
 * firmware's work before the first and after the last op) is the job's own. False if it cannot
 * be built or run (the reason in e). */
typedef struct part_npu_cost {
    double seconds, dynamic_j;
} part_npu_cost;
typedef bool (*part_segment_cost_fn)(void *ctx, const rt_graph *g, const int *nodes, int n, part_npu_cost *c,
                                     part_npu_cost *per_node, rt_error *e);
/* Whether plan p's segments fit in device memory; false with the reason in e. */
typedef struct part_plan part_plan;
typedef bool (*part_plan_fits_fn)(void *ctx, const rt_graph *g, const part_plan *p, rt_error *e);
/* Tensors that stay in device memory between runs (a KV cache): their crossings cost nothing. */
typedef bool (*part_resident_fn)(void *ctx, const rt_graph *g, int tensor);

typedef struct part_options {
    part_fw_supports_fn fw;       /* NULL: the firmware runs whatever the configuration allows */
    void *fw_ctx;
    part_strategy strategy;
    part_objective objective;
    part_segment_cost_fn segment_cost; /* required by PART_COST */
    void *cost_ctx;
    part_plan_fits_fn fits;       /* PART_COST: NULL, or checked on the greedy plan before anything is
                                     simulated; a greedy plan that does not fit fails with its error,
                                     as under PART_GREEDY (the search moves nodes for time or energy,
                                     not to make a module fit) */
    void *fits_ctx;
    part_resident_fn resident;    /* NULL: none */
    void *resident_ctx;
    unsigned device_act_bits;     /* bits of a float activation in device memory (0: 8, int8) */
} part_options;

typedef struct part_node_info {
    part_place place;
    int segment;             /* index into segments; -1 on the CPU */
    int position;            /* index in the execution order */
    bool constant;           /* computed from constants only: precomputed once, free */
    bool view;               /* a view op on the CPU: free */
    char why[PART_WHY_BYTES]; /* on the CPU: which rule sent it there ("" for a constant) */
    cpumodel_cost cpu;       /* the modelled CPU cost (zero for NPU, constant and view nodes) */
    cpumodel_cost on_cpu;    /* what it would cost on the CPU (every non-constant node) */
    bool supported;          /* the capability set and the firmware allow it on the NPU */
    bool kept_on_cpu;        /* supported, but placed on the CPU by PART_COST (why says why) */
} part_node_info;

typedef struct part_crossing {
    int tensor;           /* graph tensor */
    int segment;          /* the segment it enters or leaves */
    cpumodel_dir dir;     /* CPUMODEL_TO_NPU: into the segment; CPUMODEL_FROM_NPU: out of it */
    int64_t elements;
    cpumodel_transfer_cost cost;
} part_crossing;

typedef struct part_segment {
    int *nodes;              /* graph node indices, in execution order */
    int n_nodes;
    int first_crossing;      /* its crossings: crossings[first_crossing .. + n_in + n_out - 1], ins first */
    int n_in, n_out;
    uint64_t bytes_in, bytes_out;   /* host + device bytes of its crossings */
    double transfer_in_s, transfer_out_s;
    double submit_s;         /* cpu.npu_submit_overhead_us + n_nodes x cpu.npu_op_overhead_us */
} part_segment;

struct part_plan {
    int n_nodes;
    int *order;              /* every node once, in execution order */
    part_node_info *node;    /* indexed by graph node */
    int n_segments;
    part_segment *segments;
    int n_crossings;
    part_crossing *crossings;
    /* totals */
    int n_npu, n_cpu;        /* nodes on each side (constant and view nodes count as CPU) */
    int n_constant, n_view;
    double cpu_s, cpu_j;     /* modelled CPU nodes */
    uint64_t crossing_bytes;
    double crossing_s, crossing_j;
    double submit_s, submit_j;
    /* how it was placed */
    part_strategy strategy;
    part_objective objective;
    unsigned device_act_bits;
    /* PART_COST: the candidates' modelled objective (seconds or joules, resident crossings free)
     * and which one was chosen: the cost-aware search, greedy, or everything on the CPU */
    double cost_chosen, cost_greedy, cost_cpu, cost_search;
    const char *chosen;      /* "cost-aware", "greedy", "all-cpu"; NULL for PART_GREEDY */
    int n_kept_on_cpu;       /* supported nodes placed on the CPU */
    int greedy_segments;     /* segments of the greedy plan */
    int segment_evaluations; /* segments the search had the device cost (timing-only jobs; a
                                greedy segment is asked once, other repeats come from the
                                backend's memo) */
};

/* Partition a prepared graph (graph_prepare: sorted, shapes inferred). fw may be NULL (the
 * firmware is assumed to run whatever the configuration allows). Greedy. */
rt_status partition_graph(const rt_graph *g, const m4npu_config *cfg, part_fw_supports_fn fw, void *fw_ctx,
                          part_plan **out, rt_error *e);
/* The same with options (NULL: greedy, int8 activations). */
rt_status partition_graph_opts(const rt_graph *g, const m4npu_config *cfg, const part_options *o, part_plan **out,
                               rt_error *e);
const char *part_objective_unit(part_objective o); /* "s" or "J" */
void part_plan_free(part_plan *p);

/* Does the configuration's capability set allow node n? On false, why says which rule. */
bool partition_config_allows(const rt_graph *g, int n, const m4npu_config *cfg, char *why, size_t whylen);

/* The elements node n reduces over for one output (the M4NPU_LIMIT_AXIS quantity) and its
 * largest kernel dimension and stride; -1 where the op has none or shapes are unknown. */
int64_t partition_axis_elements(const rt_graph *g, int n);
int64_t partition_max_kernel(const rt_graph *g, int n);
int64_t partition_max_stride(const rt_graph *g, int n);

#endif
