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

/* Append a line to the log ring (no-op if the host has not configured one). */
void fw_log(fw *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *fw_fault_name(uint32_t fault);
const char *fw_unit_name(uint32_t unit);

#endif
