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
 * flops and bytes come from runtime/ops' cost functions (shapes only, no data). The rate is one
 * core's cpu.gflop_s by data type times the speedup of cpu.cores cores: fp32 for f32 (f64 at half
 * of it), fp16 for f16/bf16, int8 for i8/u8; other integer and bool types at the fp32 rate. View
 * ops (Reshape, Squeeze, Unsqueeze, Flatten, Identity, Dropout) only relabel their input and cost
 * nothing. A control-flow node (If, Loop, Scan) costs one dispatch: what its subgraphs run is
 * costed by the run pipeline, which knows which branch and how many iterations run
 * (runtime/run/run_control.c).
 *
 * Cores: n cores run an operator 1 / ((1 - p) + p / n) times faster than one (Amdahl's law, G.
 * Amdahl, AFIPS 1967), with p = CPUMODEL_PARALLEL_FRACTION of its work split between the cores and
 * the rest serial (splitting and joining the work, thread wake-up, the slowest core's share). The
 * memory bandwidth is the whole CPU's and does not scale with cores.
 *
 * Quantised weights: a MatMul, Gemm or Conv whose weight is an integer constant dequantised by a
 * Cast (weight-only INT8/INT4 quantisation, runtime/m4's convention) runs as an integer kernel,
 * as CPU inference runtimes run such layers (activations quantised on the fly, integer dot
 * products: llama.cpp's Q8_0 and Q4 kernels, XNNPACK's QD8 kernels): at the int8 rate, reading
 * the weight at its stored size rather than as floats. The Cast itself is a constant (computed
 * once at load, runtime/partition).
 *
 * A tensor crossing the boundary is quantised (host f32 -> device int8) or dequantised on the
 * CPU: a copy that reads the host bytes and writes the device bytes (or the reverse), with
 * CPUMODEL_QUANT_FLOPS (or CPUMODEL_DEQUANT_FLOPS) per element, on the same roofline, plus
 * cpu.npu_transfer_overhead_us; each NPU job adds cpu.npu_submit_overhead_us and
 * cpu.npu_op_overhead_us per node it runs. All are at
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
/* The parallel fraction p of Amdahl's law. est.: no phone measurement of the runtime's kernels is
 * at hand; 0.9 makes 4 cores 3.1x and 8 cores 4.7x one core, between the ideal and the ~2.5-3x
 * that multi-threaded mobile inference runtimes commonly gain from four big and middle cores
 * (their little cores and the shared caches and memory hold them back). */
#define CPUMODEL_PARALLEL_FRACTION 0.9

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
    bool integer_kernel; /* quantised weights: int8 rate, weights read at their stored size */
} cpumodel_cost;

/* Sustained operations per second of the whole CPU (cpu.cores cores) on data of type t. */
double cpumodel_rate(const m4npu_cpu_config *cpu, rt_dtype t);
/* How much faster `cores` cores run an operator than one (Amdahl, CPUMODEL_PARALLEL_FRACTION). */
double cpumodel_core_speedup(uint32_t cores);
/* The inputs of node `node` that are weight-only-quantised weights (a Cast of an integer
 * constant to a float type) when the node has an integer kernel (MatMul, Gemm, Conv): how many,
 * and in *saved_bytes how many fewer bytes reading them as stored costs than as floats. */
int cpumodel_quantised_weights(const rt_graph *g, int node, uint64_t *saved_bytes);
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
/* One NPU job of n_nodes graph nodes: cpu.npu_submit_overhead_us + n_nodes x cpu.npu_op_overhead_us. */
double cpumodel_submit_s(const m4npu_cpu_config *cpu, int n_nodes);
/* CPU energy over `seconds` at active / idle power. */
double cpumodel_active_j(const m4npu_cpu_config *cpu, double seconds);
double cpumodel_idle_j(const m4npu_cpu_config *cpu, double seconds);

#endif
