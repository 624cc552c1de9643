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

/* ---- the ranges npu_config_check accepts
 *
 * Each is a physically meaningful bound, so that a value that passes means something (a
 * bandwidth of 1e-320 GB/s passed once, and a 2 KB copy took 268 M cycles). The schema of
 * runtime/config states the same numbers in docs/configs.md and in its messages; the tile
 * geometry, SRAM reach and DMA channels come from the ISA table (npu_config.c). */
#define NPU_CLOCK_MHZ_MIN 1.0              /* 1 MHz .. 10 GHz: the NPU and the control core */
#define NPU_CLOCK_MHZ_MAX 10000.0
#define NPU_VECTOR_LANES_MAX 4096u         /* 4x the widest vector unit built (1024 lanes) */
#define NPU_UNIT_CYCLES_MAX 10000u         /* one vector start-up or per-group step */
#define NPU_SRAM_MIN_BYTES 1024ull         /* 1 KiB: room for one tile of operands */
#define NPU_SRAM_BANKS_MAX 1024u
#define NPU_SRAM_BANK_WIDTH_MAX_BYTES 1024u
#define NPU_DMA_SETUP_CYCLES_MAX 100000u   /* 100 us at 1 GHz */
#define NPU_MIN_DRAM_BYTES (1ull << 20)    /* 1 MiB: the command queue, the firmware log and a job */
#define NPU_MAX_DRAM_BYTES (1ull << 40)    /* 1 TiB: 40x a 2024 phone; also mappable on this host */
#define NPU_DRAM_BANDWIDTH_GB_S_MIN 0.1    /* 0.1 .. 10000 GB/s: an old SD card .. 3x HBM3E */
#define NPU_DRAM_BANDWIDTH_GB_S_MAX 10000.0
#define NPU_DRAM_EFFICIENCY_MIN 0.01       /* 1% .. 100% of the peak bandwidth */
#define NPU_DRAM_EFFICIENCY_MAX 1.0
#define NPU_DRAM_LATENCY_NS_MAX 10000.0    /* 0 .. 10 us first-byte latency */
#define NPU_DRAM_BURST_MAX_BYTES 4096u     /* a power of two up to a page */
#define NPU_CYCLES_PER_INSN_MAX 100000u    /* firmware cost of one instruction (control cycles) */
#define NPU_CYCLES_PER_JOB_MAX 100000000u  /* ... of one job: 0.1 s at 1 GHz */
#define NPU_QUEUE_DEPTH_MIN 1u
#define NPU_QUEUE_DEPTH_MAX 4096u          /* instructions per unit queue */
#define NPU_WATCHDOG_CYCLES_MIN 1000ull    /* above the firmware's dispatch gaps, or it fires falsely */
#define NPU_WATCHDOG_CYCLES_MAX 10000000000000ull /* 1e13: hours at any clock */

/* How a tile executes its instructions. */
typedef enum npu_tile_impl {
    NPU_IMPL_FAST = 0, /* transaction-level: result in C, latency from the analytic formula */
    NPU_IMPL_RTL = 1,  /* the Verilated RTL tile, stepped cycle by cycle */
} npu_tile_impl;

/* A feature of the NPU's firmware that a configuration turns on or off. */
typedef enum npu_switch {
    NPU_OFF = 0,
    NPU_ON = 1,
} npu_switch;

/* The matmul tile's output stage (rtl/mm_out_stage.sv): bias, requantisation and activation of
 * the array's int32 results on their way to the SRAM. */
typedef struct npu_output_stage_config {
    npu_switch enabled; /* on: the firmware's MATMUL and CONV2D epilogues use it (the runtime lowers
                           them to its parameters); off: they run on the vector unit, as without one.
                           The stage itself always executes rq for raw ISA programs. */
    uint32_t lanes;     /* elements it requantises per cycle */
} npu_output_stage_config;

typedef struct npu_matmul_config {
    uint32_t rows, cols; /* systolic array geometry (PEs) */
    npu_tile_impl impl;
    npu_output_stage_config output_stage;
    npu_switch full_array_gemv; /* on: an os mm of fewer rows than the array splits k over its idle
                                   rows (tile_mm_split_cycles, rtl/tile_cycles.h); fast model only */
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
    uint64_t onchip_bytes; /* the top onchip_bytes of the device address space are on-chip memory (an
                            * Edge TPU's parameter cache, a TCM): a DMA there runs at the SRAM banks'
                            * rate, with no DRAM latency, bandwidth or energy; 0: none */
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
    npu_switch fused_attention; /* the firmware's fused attention kernel (NPU_OP_ATTENTION) */
    npu_switch overlap;         /* the firmware queues an op while earlier ops run (fences, not drains) */
} npu_device_config;

/* A small, valid configuration (what configs/test.yaml holds); tests start from it. */
void npu_config_defaults(npu_device_config *cfg);

/* Check that the device can model cfg. On failure writes "KEY: reason" (KEY as in the YAML,
 * e.g. "npu.dram.bandwidth_gb_s: 1e-320 is outside 0.1..10000 GB/s") and returns -1. */
int npu_config_check(const npu_device_config *cfg, char *err, size_t errlen);

/* Map size bytes of device memory as the device does when it opens (anonymous, private,
 * MAP_NORESERVE: pages are only materialised when touched). NULL with "npu.dram.size_bytes:
 * ... cannot be mapped on this host ..." in err when the host refuses (an address-space limit,
 * strict overcommit). npu_dram_unmap releases it. */
void *npu_dram_map(uint64_t size, char *err, size_t errlen);
void npu_dram_unmap(void *mem, uint64_t size);
/* Can this host open a device of cfg (its DRAM mapped, then released)? 0, or -1 with the
 * message of npu_dram_map. What `m4npu config` checks so that it agrees with `m4npu exec`. */
int npu_config_check_host(const npu_device_config *cfg, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
