/* npu_config.h -- the configuration of one simulated NPU: every number the device model uses.
 *
 * A plain C struct so that the SystemC device, the driver, the runtime's YAML loader and tests
 * can all fill or read it. Units are in the member names (_mhz, _bytes, _cycles, _gb_s ...).
 * The YAML form (the `npu:` section of the files in configs/) mirrors this struct key for key; the loader
 * lives in runtime/config. npu_config_check() is the device's own statement of which values it
 * can model; every loader must call it.
 */
#ifndef M4NPU_NPU_CONFIG_H
#define M4NPU_NPU_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NPU_MAX_DMA_CHANNELS 4
#define NPU_CONFIG_NAME_LEN 64

/* How a tile executes its instructions. */
typedef enum npu_tile_impl {
    NPU_IMPL_FAST = 0, /* transaction-level: result in C, latency from the analytic formula */
    NPU_IMPL_RTL = 1,  /* the Verilated RTL tile, stepped cycle by cycle */
} npu_tile_impl;

typedef struct npu_matmul_config {
    uint32_t rows, cols; /* systolic array geometry (PEs) */
    npu_tile_impl impl;
} npu_matmul_config;

typedef struct npu_softmax_config {
    uint32_t lanes;   /* elements per cycle in each pass over a row */
    uint32_t max_len; /* longest row the tile accepts */
    npu_tile_impl impl;
} npu_softmax_config;

typedef struct npu_vector_config {
    uint32_t lanes;                 /* f32/i32 elements per cycle */
    uint32_t pipeline_cycles;       /* start-up latency of every instruction */
    uint32_t simple_cycles;         /* per lane-group: add, mul, max, relu, copy, quantise ... */
    uint32_t divsqrt_cycles;        /* div, sqrt, rsqrt, recip */
    uint32_t transcendental_cycles; /* exp, log, sigmoid, tanh, erf, gelu, silu, sin, cos, pow */
} npu_vector_config;

typedef struct npu_sram_config {
    uint64_t size_bytes;       /* on-chip SRAM seen by the ISA (<= 16 MiB: 24-bit addresses) */
    uint32_t banks;
    uint32_t bank_width_bytes; /* bytes per bank per cycle */
} npu_sram_config;

typedef struct npu_dma_config {
    uint32_t channels;     /* 1..NPU_MAX_DMA_CHANNELS */
    uint32_t setup_cycles; /* per transfer, before the first byte */
} npu_dma_config;

typedef struct npu_dram_config {
    uint64_t size_bytes;   /* device memory shared with the host */
    double bandwidth_gb_s; /* peak, 1e9 bytes/s */
    double efficiency;     /* sustained fraction of peak, (0, 1] */
    double latency_ns;     /* first-byte latency of a transfer */
    uint32_t burst_bytes;  /* each row of a 2-D transfer is rounded up to whole bursts */
} npu_dram_config;

typedef struct npu_control_config {
    double clock_mhz;          /* control core clock */
    uint32_t cycles_per_insn;  /* firmware cost to validate and dispatch one instruction */
    uint32_t cycles_per_job;   /* firmware cost to fetch, validate and complete one job */
} npu_control_config;

typedef struct npu_device_config {
    char name[NPU_CONFIG_NAME_LEN];
    double clock_mhz; /* NPU clock: simulated time is counted in these cycles */
    npu_matmul_config matmul;
    npu_softmax_config softmax;
    npu_vector_config vector;
    npu_sram_config sram;
    npu_dma_config dma;
    npu_dram_config dram;
    npu_control_config control;
    uint32_t queue_depth;     /* instructions each unit queue holds */
    uint64_t watchdog_cycles; /* a job whose units do not drain within this many cycles faults */
} npu_device_config;

/* A small, valid configuration (what configs/test.yaml holds); tests start from it. */
void npu_config_defaults(npu_device_config *cfg);

/* Check that the device can model cfg. On failure writes "KEY: reason" (KEY as in the YAML,
 * e.g. "npu.sram.size_bytes: must be a multiple of banks * bank_width_bytes") and returns -1. */
int npu_config_check(const npu_device_config *cfg, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
