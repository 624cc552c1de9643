// hal_port.cpp -- the simulator's port of the firmware HAL (firmware/include/fw_hal.h): each
// call forwards to the device. The firmware runs inside the control-core thread, so blocking
// calls are SystemC waits.
#include "device.h"

using m4npu::Device;

extern "C" {

const hal_device_info *hal_info(fw_hal *h) { return &h->dev->info(); }
uint32_t hal_reg_read(fw_hal *h, uint32_t reg) { return h->dev->fw_reg_read(reg); }
void hal_reg_write(fw_hal *h, uint32_t reg, uint32_t value) { h->dev->fw_reg_write(reg, value); }
void hal_irq_raise(fw_hal *h, uint32_t bits) { h->dev->irq_raise(bits); }
void hal_perf_read(fw_hal *h, uint64_t out[NPU_UNIT_COUNT][NPU_CTR_COUNT]) { h->dev->perf_read(out); }
int hal_mem_read(fw_hal *h, uint64_t addr, void *dst, size_t len) { return h->dev->mem_read(addr, dst, len); }
int hal_mem_write(fw_hal *h, uint64_t addr, const void *src, size_t len) { return h->dev->mem_write(addr, src, len); }
hal_status hal_spend(fw_hal *h, uint64_t control_cycles) { return h->dev->spend(control_cycles); }
uint64_t hal_now(fw_hal *h) { return h->dev->now_cycles(); }
hal_status hal_wait_doorbell(fw_hal *h) { return h->dev->wait_doorbell(); }
hal_status hal_push(fw_hal *h, unsigned unit, const hal_cmd *cmd) { return h->dev->push(unit, *cmd); }
hal_status hal_spend_push(fw_hal *h, uint64_t control_cycles, unsigned unit, const hal_cmd *cmd)
{
    return h->dev->spend_push(control_cycles, unit, *cmd);
}
hal_status hal_drain(fw_hal *h) { return h->dev->drain(); }
int hal_unit_fault(fw_hal *h, hal_fault *out) { return h->dev->unit_fault(out); }
unsigned hal_stuck_unit(fw_hal *h, uint32_t *index) { return h->dev->stuck_unit(index); }
void hal_abort(fw_hal *h) { h->dev->abort_units(); }
hal_status hal_op_replay(fw_hal *h, const npu_op_desc *op, const npu_buf_entry *bufs, uint32_t nbufs,
                         uint32_t cmd_flags, int *replayed, uint64_t *fw_insns)
{
    return h->dev->op_replay(*op, bufs, nbufs, cmd_flags, replayed, fw_insns);
}
void hal_op_remember(fw_hal *h, uint64_t fw_insns) { h->dev->op_remember(fw_insns); }

} // extern "C"
