// hal_port.cpp -- the simulator's port of the firmware HAL (firmware/include/fw_hal.h): each
// call forwards to the device. The firmware runs inside the control-core thread, so blocking
// calls are SystemC waits.
//
// The control core may run ahead of the simulation's time across consecutive hal_spend_push
// calls (Device::spend_push). Every other call first waits until the simulation has caught up
// (sync_ahead), so that it sees and acts at the control core's time. A reset during that wait
// is left for the call itself to report (each checks the device's reset state).
#include "device.h"

using m4npu::Device;

static Device &at_ctrl_time(fw_hal *h)
{
    (void)h->dev->sync_ahead();
    return *h->dev;
}

extern "C" {

const hal_device_info *hal_info(fw_hal *h) { return &h->dev->info(); }
uint32_t hal_reg_read(fw_hal *h, uint32_t reg) { return at_ctrl_time(h).fw_reg_read(reg); }
void hal_reg_write(fw_hal *h, uint32_t reg, uint32_t value) { at_ctrl_time(h).fw_reg_write(reg, value); }
void hal_irq_raise(fw_hal *h, uint32_t bits) { at_ctrl_time(h).irq_raise(bits); }
void hal_perf_read(fw_hal *h, uint64_t out[NPU_UNIT_COUNT][NPU_CTR_COUNT]) { at_ctrl_time(h).perf_read(out); }
int hal_mem_read(fw_hal *h, uint64_t addr, void *dst, size_t len) { return at_ctrl_time(h).mem_read(addr, dst, len); }
int hal_mem_write(fw_hal *h, uint64_t addr, const void *src, size_t len) { return at_ctrl_time(h).mem_write(addr, src, len); }
hal_status hal_spend(fw_hal *h, uint64_t control_cycles) { return h->dev->spend(control_cycles); }
uint64_t hal_now(fw_hal *h) { return at_ctrl_time(h).now_cycles(); }
hal_status hal_wait_doorbell(fw_hal *h) { return at_ctrl_time(h).wait_doorbell(); }
hal_status hal_push(fw_hal *h, unsigned unit, const hal_cmd *cmd) { return at_ctrl_time(h).push(unit, *cmd); }
hal_status hal_spend_push(fw_hal *h, uint64_t control_cycles, unsigned unit, const hal_cmd *cmd)
{
    return h->dev->spend_push(control_cycles, unit, *cmd);
}
hal_status hal_drain(fw_hal *h) { return at_ctrl_time(h).drain(); }
int hal_unit_fault(fw_hal *h, hal_fault *out) { return at_ctrl_time(h).unit_fault(out); }
unsigned hal_stuck_unit(fw_hal *h, uint32_t *index) { return at_ctrl_time(h).stuck_unit(index); }
void hal_abort(fw_hal *h) { at_ctrl_time(h).abort_units(); }
hal_status hal_op_replay(fw_hal *h, const npu_op_desc *op, const npu_buf_entry *bufs, uint32_t nbufs,
                         uint32_t cmd_flags, int *replayed, uint64_t *fw_insns)
{
    return at_ctrl_time(h).op_replay(*op, bufs, nbufs, cmd_flags, replayed, fw_insns);
}
void hal_op_remember(fw_hal *h, uint64_t fw_insns) { at_ctrl_time(h).op_remember(fw_insns); }

} // extern "C"
