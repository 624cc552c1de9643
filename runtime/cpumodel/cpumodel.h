/* cpumodel.h -- the CPU fallback cost model: what a node the NPU cannot run costs on the phone's
 * CPU, and what moving a tensor across the CPU/NPU boundary costs.
 *
 * The simulator's host runs the CPU kernels for their numbers, but its own wall time says
 * nothing about a phone. So every CPU node gets a modelled time from the config's cpu section,
 * a roofline plus a fixed dispatch cost:
 *
 *     seconds = max(flops / rate(dtype), bytes / memory_bandwidth) + dispatch_overhead
 *     energy  = active_power x seconds
 *
 * flops and bytes come from runtime/ops' cost functions (shapes only, no data). The rate is
 * cpu.gflop_s by data type: fp32 for f32 (f64 at half of it), fp16 for f16/bf16, int8 for i8/u8;
 * other integer and bool types at the fp32 rate. View ops (Reshape, Squeeze, Unsqueeze, Flatten,
 * Identity, Dropout) only relabel their input and cost nothing. A control-flow node (If, Loop,
 * Scan) costs one dispatch: what its subgraphs run is costed by the run pipeline, which knows
 * which branch and how many iterations run (runtime/run/run_control.c).
 *
 * A tensor crossing the boundary is quantised (host f32 -> device int8) or dequantised on the
 * CPU: a copy that reads the host bytes and writes the device bytes (or the reverse), with
 * CPUMODEL_QUANT_FLOPS (or CPUMODEL_DEQUANT_FLOPS) per element, on the same roofline, plus
 * cpu.npu_transfer_overhead_us; each NPU job adds cpu.npu_submit_overhead_us. Both are at
 * active power. While the NPU runs, the CPU idles at cpu.idle_power_w.
 *
 * Pure functions of their arguments; no state.
 */
#ifndef M4NPU_CPUMODEL_H
#define M4NPU_CPUMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"
#include "m4npu_config.h"

#define CPUMODEL_QUANT_FLOPS 3.0   /* per element: scale, round, clamp */
#define CPUMODEL_DEQUANT_FLOPS 1.0 /* per element: scale */
#define CPUMODEL_US_S 1e-6         /* seconds per microsecond */
#define CPUMODEL_GIGA 1e9          /* GFLOP/s and GB/s to per second */

typedef struct cpumodel_cost {
    double flops;       /* operations (runtime/ops cost: 2 per MAC, 1 per elementwise output ...) */
    uint64_t bytes;     /* read + written */
    double rate_flop_s; /* the rate that applied */
    double compute_s;   /* flops / rate */
    double memory_s;    /* bytes / bandwidth */
    double dispatch_s;  /* fixed per operator */
    double seconds;     /* max(compute_s, memory_s) + dispatch_s; 0 for a view */
    double energy_j;    /* active power x seconds */
    bool memory_bound;  /* memory_s > compute_s */
    bool view;          /* a view op: free */
} cpumodel_cost;

/* Sustained operations per second of the whole CPU on data of type t. */
double cpumodel_rate(const m4npu_cpu_config *cpu, rt_dtype t);
/* Is op id `op` a view (its output relabels its input's data)? */
bool cpumodel_is_view(int op);
/* The modelled cost of node `node` of g (shapes must be inferred). */
rt_status cpumodel_node(const m4npu_cpu_config *cpu, const rt_graph *g, int node, cpumodel_cost *c, rt_error *e);
/* The roofline for given work, with or without the dispatch overhead (no view shortcut). */
void cpumodel_roofline(const m4npu_cpu_config *cpu, double flops, uint64_t bytes, rt_dtype t, bool dispatch,
                       cpumodel_cost *c);

typedef enum cpumodel_dir {
    CPUMODEL_TO_NPU = 0,   /* quantise host -> device */
    CPUMODEL_FROM_NPU = 1, /* dequantise device -> host */
} cpumodel_dir;

typedef struct cpumodel_transfer_cost {
    uint64_t bytes;     /* host bytes + device bytes moved */
    double copy_s;      /* the roofline of the (de)quantising copy */
    double overhead_s;  /* cpu.npu_transfer_overhead_us */
    double seconds;     /* copy_s + overhead_s */
    double energy_j;    /* active power x seconds */
} cpumodel_transfer_cost;

/* One tensor of `elements` elements crossing in direction dir: host type `host`, device element
 * size `device_bits` (8 for int8 activations). A crossing with device_bits equal to the host
 * type's bits is a plain copy (no flops). */
void cpumodel_transfer(const m4npu_cpu_config *cpu, int64_t elements, rt_dtype host, unsigned device_bits,
                       cpumodel_dir dir, cpumodel_transfer_cost *out);
/* Host seconds to submit one NPU job and resume after it. */
double cpumodel_submit_s(const m4npu_cpu_config *cpu);
/* CPU energy over `seconds` at active / idle power. */
double cpumodel_active_j(const m4npu_cpu_config *cpu, double seconds);
double cpumodel_idle_j(const m4npu_cpu_config *cpu, double seconds);

#endif
