/* fw.h -- internal to the firmware: its state and the pieces fw_main() is built from. */
#ifndef M4NPU_FW_H
#define M4NPU_FW_H

#include "fw_hal.h"

/* The firmware's whole state; one per device, owned by fw_main(). */
typedef struct fw {
    fw_hal *hal;
    const hal_device_info *info;
    isa_limits limits; /* the device's limits, for isa_validate() */
} fw;

/* How a job ended; fault == NPU_FAULT_NONE means success. */
typedef struct fw_job_result {
    uint32_t fault;
    uint32_t unit;
    uint64_t addr;
    uint32_t index;
    uint64_t insns;
} fw_job_result;

/* Check and run one job. Returns HAL_RESET if the device is being reset (the job is abandoned),
 * else HAL_OK with the outcome (success or fault) in *res. */
hal_status fw_job_run(fw *f, const npu_job_desc *desc, fw_job_result *res);

/* Run an NPU_JOB_OPS job whose descriptor and buffer table fw_job_run() has checked: validate
 * every op descriptor, then expand each into ISA with the operator kernels (src/ops/). Same
 * return convention as fw_job_run(). */
hal_status fw_ops_run(fw *f, const npu_job_desc *desc, const npu_buf_entry *bufs, fw_job_result *res);

/* The unit queue an instruction goes to (enum npu_unit). */
unsigned fw_insn_unit(const isa_insn *in);
/* Turn a failed hal_push()/hal_drain() (HAL_FAULT or HAL_TIMEOUT) into the job's fault and abort
 * the units; HAL_RESET is passed through. */
hal_status fw_unit_failure(fw *f, hal_status st, fw_job_result *res);

/* Append a line to the log ring (no-op if the host has not configured one). */
void fw_log(fw *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *fw_fault_name(uint32_t fault);
const char *fw_unit_name(uint32_t unit);

#endif
