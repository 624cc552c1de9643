/* fw_main.c -- the firmware's top level: boot, then serve the command queue forever.
 *
 * Each queued job descriptor is fetched, run (fw_job.c), its completion record written and the
 * host interrupted. After a fault the firmware publishes the fault in the registers and stops;
 * the remaining queued jobs stay in the queue and run after the host resets the device.
 *
 * A reset is how a host recovers a job that hangs, so the job that was running when it came is
 * dropped, never run again (it would hang again): while a job runs, CQ_RUNNING (a register the
 * reset keeps) names it, and the firmware that boots after the reset completes that job as
 * NPU_JOB_ABORTED and moves the queue past it before serving the rest.
 */
#include "fw.h"

#include <string.h>

_Static_assert((int)ISA_UNIT_MM == (int)NPU_UNIT_MM && (int)ISA_UNIT_SM == (int)NPU_UNIT_SM &&
                   (int)ISA_UNIT_VEC == (int)NPU_UNIT_VEC && (int)ISA_UNIT_DMA0 == (int)NPU_UNIT_DMA0 &&
                   (int)ISA_UNIT_DMA3 == (int)NPU_UNIT_DMA3,
               "the ISA's unit numbers are the ABI's");

static uint64_t reg64(fw_hal *h, uint32_t lo, uint32_t hi)
{
    return (uint64_t)hal_reg_read(h, lo) | (uint64_t)hal_reg_read(h, hi) << 32;
}

static void publish_fault(fw *f, uint32_t job_id, const fw_job_result *r)
{
    hal_reg_write(f->hal, NPU_REG_FAULT_CODE, r->fault);
    hal_reg_write(f->hal, NPU_REG_FAULT_ADDR_LO, (uint32_t)r->addr);
    hal_reg_write(f->hal, NPU_REG_FAULT_ADDR_HI, (uint32_t)(r->addr >> 32));
    hal_reg_write(f->hal, NPU_REG_FAULT_INSN, r->index);
    hal_reg_write(f->hal, NPU_REG_FAULT_UNIT, r->unit);
    hal_reg_write(f->hal, NPU_REG_FAULT_JOB, job_id);
}

/* The descriptor of queue entry `head`; -1 if the queue is misconfigured or outside memory. */
static int read_descriptor(fw *f, uint32_t head, npu_job_desc *d)
{
    fw_hal *h = f->hal;
    uint32_t size = hal_reg_read(h, NPU_REG_CQ_SIZE);
    uint64_t base = reg64(h, NPU_REG_CQ_BASE_LO, NPU_REG_CQ_BASE_HI);
    if (size == 0 || (size & (size - 1)) != 0 || base % NPU_JOB_DESC_BYTES != 0)
        return -1;
    return hal_mem_read(h, base + (uint64_t)(head % size) * NPU_JOB_DESC_BYTES, d, sizeof *d);
}

/* The job at `head` has ended (or was aborted): the queue moves past it. */
static void retire(fw *f, uint32_t head)
{
    hal_reg_write(f->hal, NPU_REG_CQ_RUNNING, 0);
    hal_reg_write(f->hal, NPU_REG_CQ_HEAD, head + 1);
}

static void write_completion(fw *f, const npu_job_desc *d, const fw_job_result *r, uint64_t start)
{
    npu_job_completion c;
    memset(&c, 0, sizeof c);
    c.job_id = d->job_id;
    c.state = r->fault == NPU_FAULT_NONE ? NPU_JOB_DONE : NPU_JOB_FAILED;
    c.fault = r->fault;
    c.fault_unit = r->unit;
    c.fault_addr = r->addr;
    c.fault_insn = r->index;
    c.start_cycle = start;
    c.end_cycle = hal_now(f->hal);
    c.insns = r->insns;
    if (hal_mem_write(f->hal, d->completion_addr, &c, sizeof c) != 0)
        fw_log(f, "job %u: completion address 0x%llx is outside device memory", d->job_id,
               (unsigned long long)d->completion_addr);
}

/* After a fault: wait for the host's reset; doorbells are ignored meanwhile. */
static hal_status halt(fw *f)
{
    hal_reg_write(f->hal, NPU_REG_STATUS, NPU_STATUS_FAULT);
    for (;;) {
        hal_status st = hal_wait_doorbell(f->hal);
        if (st == HAL_RESET)
            return st;
    }
}

/* After a reset: the job that was running (CQ_RUNNING) is completed as aborted, not run again.
 * Its start cycle is in RUN_START, which the reset keeps too. */
static void abort_interrupted_job(fw *f)
{
    fw_hal *h = f->hal;
    uint32_t running = hal_reg_read(h, NPU_REG_CQ_RUNNING), head = hal_reg_read(h, NPU_REG_CQ_HEAD);
    if (running == 0)
        return;
    npu_job_desc d;
    if (running - 1 != head || read_descriptor(f, head, &d) != 0) {
        hal_reg_write(h, NPU_REG_CQ_RUNNING, 0); /* the host rewrote the queue: nothing to complete */
        return;
    }
    uint64_t start = reg64(h, NPU_REG_RUN_START_LO, NPU_REG_RUN_START_HI);
    npu_job_completion c;
    memset(&c, 0, sizeof c);
    c.job_id = d.job_id;
    c.state = NPU_JOB_ABORTED;
    c.fault_unit = NPU_UNIT_NONE;
    c.start_cycle = start;
    c.end_cycle = hal_now(h);
    if (hal_mem_write(h, d.completion_addr, &c, sizeof c) != 0)
        fw_log(f, "job %u: completion address 0x%llx is outside device memory", d.job_id,
               (unsigned long long)d.completion_addr);
    fw_log(f, "job %u: aborted by a device reset (it had run since cycle %llu); not run again", d.job_id,
           (unsigned long long)start);
    retire(f, head);
    hal_irq_raise(h, NPU_IRQ_JOB_DONE);
}

static hal_status serve_one(fw *f, uint32_t head)
{
    fw_hal *h = f->hal;
    npu_job_desc d;
    fw_job_result r;
    memset(&r, 0, sizeof r);
    r.unit = NPU_UNIT_CTRL;
    uint64_t start = hal_now(h);
    if (read_descriptor(f, head, &d) != 0) {
        /* no descriptor to complete: report through the registers only */
        uint64_t base = reg64(h, NPU_REG_CQ_BASE_LO, NPU_REG_CQ_BASE_HI);
        fw_log(f, "queue misconfigured: base 0x%llx, %u entries", (unsigned long long)base,
               hal_reg_read(h, NPU_REG_CQ_SIZE));
        r.fault = NPU_FAULT_BAD_JOB;
        r.addr = base;
        publish_fault(f, 0, &r);
        hal_reg_write(h, NPU_REG_CQ_HEAD, head + 1);
        hal_irq_raise(h, NPU_IRQ_FAULT);
        return halt(f);
    }
    /* from here until retire() a reset drops this job (abort_interrupted_job) */
    hal_reg_write(h, NPU_REG_RUN_START_LO, (uint32_t)start);
    hal_reg_write(h, NPU_REG_RUN_START_HI, (uint32_t)(start >> 32));
    hal_reg_write(h, NPU_REG_CQ_RUNNING, head + 1);
    fw_log(f, "job %u: start (type %u, %u program bytes, %u buffers%s)", d.job_id, d.type, d.program_bytes,
           d.nbufs, (d.flags & NPU_JOB_F_TIMING_ONLY) ? ", timing only" : "");
    hal_status st = fw_job_run(f, &d, &r);
    if (st != HAL_OK)
        return st;
    write_completion(f, &d, &r, start);
    retire(f, head);
    if (r.fault == NPU_FAULT_NONE) {
        fw_log(f, "job %u: done, %llu instructions, %llu cycles", d.job_id, (unsigned long long)r.insns,
               (unsigned long long)(hal_now(h) - start));
        hal_irq_raise(h, NPU_IRQ_JOB_DONE);
        return HAL_OK;
    }
    fw_log(f, "job %u: fault: %s (unit %s, instruction %u, address 0x%llx)", d.job_id, fw_fault_name(r.fault),
           fw_unit_name(r.unit), r.index, (unsigned long long)r.addr);
    publish_fault(f, d.job_id, &r);
    hal_irq_raise(h, NPU_IRQ_JOB_DONE | NPU_IRQ_FAULT);
    return halt(f);
}

hal_status fw_main(fw_hal *h)
{
    fw f;
    memset(&f, 0, sizeof f);
    f.hal = h;
    f.info = hal_info(h);
    f.limits.sram_bytes = 0; /* SRAM bounds are checked separately, to report SRAM_OVERFLOW */
    f.limits.dma_channels = f.info->dma_channels;
    f.limits.mm_rows = f.info->mm_rows;
    f.limits.mm_cols = f.info->mm_cols;
    f.limits.sm_max_len = f.info->sm_max_len;

    hal_reg_write(h, NPU_REG_ABI_VERSION, NPU_ABI_VERSION);
    hal_reg_write(h, NPU_REG_ISA_VERSION, (ISA_VERSION_MAJOR << 16) | ISA_VERSION_MINOR);
    hal_reg_write(h, NPU_REG_STATUS, NPU_STATUS_IDLE);
    fw_log(&f, "boot: m4npu firmware, ABI %u.%u, ISA %s", NPU_ABI_VERSION_MAJOR, NPU_ABI_VERSION_MINOR,
           ISA_VERSION_STRING);
    abort_interrupted_job(&f);
    for (;;) {
        uint32_t head = hal_reg_read(h, NPU_REG_CQ_HEAD), tail = hal_reg_read(h, NPU_REG_CQ_TAIL);
        if (head == tail) {
            hal_reg_write(h, NPU_REG_STATUS, NPU_STATUS_IDLE);
            hal_status st = hal_wait_doorbell(h);
            if (st != HAL_OK)
                return st;
            continue;
        }
        hal_reg_write(h, NPU_REG_STATUS, NPU_STATUS_BUSY);
        hal_status st = serve_one(&f, head);
        if (st != HAL_OK)
            return st;
    }
}
