/* fw_hal.h -- everything the firmware may ask of the hardware it runs on.
 *
 * The firmware is portable C that reaches the device only through these calls: registers,
 * device memory, the unit queues, time and events. A "port" implements them; sim/ is the port
 * for the simulated NPU (as NVDLA's Linux port is one port of its firmware).
 *
 * Blocking calls return HAL_RESET when the host resets the device: the firmware then unwinds to
 * fw_main(), which returns, and the port boots it again. Every HAL status must be checked.
 * Time: the firmware's own work is charged with hal_spend() in control-core cycles; hal_now()
 * reads the NPU clock.
 */
#ifndef M4NPU_FW_HAL_H
#define M4NPU_FW_HAL_H

#include <stddef.h>
#include <stdint.h>

#include "isa.h"
#include "npu_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fw_hal fw_hal; /* the port's handle */

typedef enum hal_status {
    HAL_OK = 0,
    HAL_RESET,   /* a device reset is in progress: unwind to fw_main() */
    HAL_TIMEOUT, /* the watchdog expired: no unit made progress */
    HAL_FAULT,   /* a unit reported a fault (hal_unit_fault() says which) */
} hal_status;

/* The device's limits and the firmware's costs, from the configuration. */
typedef struct hal_device_info {
    uint64_t dram_bytes;
    uint32_t sram_bytes;
    uint32_t dma_channels;
    uint32_t mm_rows, mm_cols;
    uint32_t mm_out_stage;     /* 1: MATMUL/CONV2D may use the matmul tile's output stage (mm.out) */
    uint32_t mm_out_lanes;     /* elements per cycle the output stage requantises */
    uint32_t sm_lanes, sm_max_len;
    uint32_t vec_lanes;
    uint32_t queue_depth;
    uint64_t watchdog_cycles;  /* NPU cycles without progress before HAL_TIMEOUT */
    uint32_t cycles_per_insn;  /* control-core cycles to dispatch one instruction */
    uint32_t cycles_per_job;   /* control-core cycles to fetch, check and complete a job */
    uint32_t fused_attention;  /* 1: this firmware runs NPU_OP_ATTENTION (npu.fused_attention) */
    uint32_t overlap_ops;      /* 1: an op's instructions are queued while earlier ops run (npu.overlap) */
} hal_device_info;

enum hal_cmd_flags {
    HAL_CMD_TIMING_ONLY = 1u << 0, /* account time, counters and bytes; move and compute nothing */
};

/* One entry of a unit queue: a decoded, validated instruction and what the unit needs to run it. */
typedef struct hal_cmd {
    isa_insn insn;
    uint32_t index;      /* instruction index in its job, for fault reports */
    uint32_t flags;      /* enum hal_cmd_flags */
    uint64_t dram_base;  /* DMA: device address of the instruction's buffer */
    uint64_t dram_limit; /* DMA: bytes in that buffer */
} hal_cmd;

typedef struct hal_fault {
    uint32_t fault; /* enum npu_fault */
    uint32_t unit;  /* enum npu_unit */
    uint64_t addr;
    uint32_t index; /* instruction index */
} hal_fault;

const hal_device_info *hal_info(fw_hal *h);

/* Registers (npu_abi.h), as the firmware sees them. */
uint32_t hal_reg_read(fw_hal *h, uint32_t reg);
void hal_reg_write(fw_hal *h, uint32_t reg, uint32_t value);
void hal_irq_raise(fw_hal *h, uint32_t bits); /* sets IRQ_STATUS bits */
/* Every performance counter at once: out[u][c] is what NPU_REG_PERF(u, c) and its high word read
 * now through hal_reg_read (the per-op profile reads them all at every op's end: 2 x units x
 * counters register reads). */
void hal_perf_read(fw_hal *h, uint64_t out[NPU_UNIT_COUNT][NPU_CTR_COUNT]);

/* Device memory; -1 if [addr, addr + len) is not inside it. */
int hal_mem_read(fw_hal *h, uint64_t addr, void *dst, size_t len);
int hal_mem_write(fw_hal *h, uint64_t addr, const void *src, size_t len);

/* Time. */
hal_status hal_spend(fw_hal *h, uint64_t control_cycles);
uint64_t hal_now(fw_hal *h);

/* Sleep until the host rings the doorbell (or resets the device). */
hal_status hal_wait_doorbell(fw_hal *h);

/* Queue cmd on a unit (enum npu_unit, DMA0..VEC). Blocks while the queue is full. HAL_FAULT if
 * a unit has faulted, HAL_TIMEOUT if no unit completed anything for watchdog_cycles. */
hal_status hal_push(fw_hal *h, unsigned unit, const hal_cmd *cmd);
/* hal_spend(control_cycles), then, if it returned HAL_OK, hal_push(unit, cmd): the same times,
 * counters and statuses (HAL_RESET may come from either part), in one call so that the port can
 * spend the cycles while it waits for room in a full queue (one wait instead of two). */
hal_status hal_spend_push(fw_hal *h, uint64_t control_cycles, unsigned unit, const hal_cmd *cmd);
/* Block until every unit queue is empty and every unit idle; same failure statuses. */
hal_status hal_drain(fw_hal *h);
/* The first fault a unit reported since the last hal_abort(); 0 if none. */
int hal_unit_fault(fw_hal *h, hal_fault *out);
/* The unit that holds up progress (the lowest-numbered unit with work), and the index of the
 * instruction it is on; NPU_UNIT_NONE if every unit is idle. */
unsigned hal_stuck_unit(fw_hal *h, uint32_t *index);
/* Flush every unit queue, stop the units and clear their faults and the semaphores. */
void hal_abort(fw_hal *h);

/* Simulation fast-forward (like gem5's m5 ops: a service of a simulator, not of hardware). With
 * npu.overlap off the units drain after every op, and a drained device keeps nothing that changes
 * what an op does but a little state the port knows; so a simulator may remember, per op
 * descriptor (its places in memory normalised) and that state, the op's span from this call to
 * the end of its drain, the growth of every performance counter over it, and the state it left.
 * The firmware calls hal_op_replay() before expanding a timing-only op (cmd_flags as its
 * hal_cmds'): *replayed = 1 means the port has advanced time by the remembered span and added
 * the remembered counter growth, and the firmware neither emits nor drains the op but adds
 * *fw_insns to the job's instruction count; *replayed = 0 means expand it as always, then call
 * hal_op_remember(fw_insns: the instructions it dispatched) after its drain succeeded. Returns
 * HAL_RESET if a reset came during the replayed span (as a spend would), else HAL_OK. A port of
 * real hardware sets *replayed = 0 and records nothing. */
hal_status hal_op_replay(fw_hal *h, const npu_op_desc *op, const npu_buf_entry *bufs, uint32_t nbufs,
                         uint32_t cmd_flags, int *replayed, uint64_t *fw_insns);
void hal_op_remember(fw_hal *h, uint64_t fw_insns);

/* The firmware's entry point: runs until the device is reset, then returns HAL_RESET. */
hal_status fw_main(fw_hal *h);

#ifdef __cplusplus
}
#endif
#endif
