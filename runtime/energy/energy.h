/* energy.h -- energy from action counts: the device's performance counters times the energy
 * table (configuration section `energy`), static power times time, the CPU's energy from the
 * cpu section, and the CPU/NPU boundary copies. Every report shows the same breakdown. */
#ifndef M4NPU_ENERGY_H
#define M4NPU_ENERGY_H

#include <jansson.h>

#include "m4npu_config.h"
#include "npu_drv.h"

#define ENERGY_PJ_TO_J 1e-12
#define ENERGY_BITS_PER_BYTE 8.0

typedef struct energy_breakdown {
    double macs_j;     /* the matmul array: int8 and int4-weight MACs */
    double vector_j;   /* the element-wise units: the vector unit and the softmax tile by lane-cycles,
                          the matmul tile's output stage by elements */
    double sram_j;     /* bytes read and written in the on-chip SRAM by every unit */
    double dram_j;     /* bytes the DMA moved to and from device DRAM */
    double control_j;  /* the control core running firmware */
    double static_j;   /* npu_static_w + platform_w over the whole time */
    double cpu_j;      /* CPU fallback: active power while running operators, idle while waiting */
    double transfer_j; /* boundary copies: their DRAM traffic (read + write) and the CPU's time */
} energy_breakdown;

/* Dynamic device energy of a counter difference (npu_counters_diff). */
void energy_add_npu(energy_breakdown *e, const m4npu_config *cfg, const npu_counters *diff);
/* Static energy over `seconds`: the NPU's (npu_static_w) and the rest of the device's (platform_w). */
void energy_add_static(energy_breakdown *e, const m4npu_config *cfg, double seconds);
/* The CPU: active_s running operators, idle_s waiting for the NPU. */
void energy_add_cpu(energy_breakdown *e, const m4npu_config *cfg, double active_s, double idle_s);
/* Boundary copies: `bytes` copied (each read once and written once in DRAM), taking cpu_s of CPU time.
 * A double, so that the copies of a run charged one by one add up to the run's exactly. */
void energy_add_transfer(energy_breakdown *e, const m4npu_config *cfg, double bytes, double cpu_s);

void energy_accumulate(energy_breakdown *into, const energy_breakdown *e, double times);
double energy_total(const energy_breakdown *e);
/* {"macs", "vector", "sram", "dram", "control", "static", "cpu", "transfer", "total"} in joules. */
json_t *energy_to_json(const energy_breakdown *e);

#endif
