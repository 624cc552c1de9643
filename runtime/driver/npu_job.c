/* npu_job.c -- submitting jobs and waiting for their fences.
 *
 * A job goes into the next command-queue slot: its descriptor in the queue, its buffer table
 * and completion record in the slot's record (npu_slot); then TAIL advances and the doorbell
 * rings. The fence is the job's sequence number. Waiting runs the device until the slot's
 * completion record carries the fence's job id, the interrupt says so, or the timeout passes.
 */
#include "npu_drv_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static uint64_t slot_addr(const npu_dev *dev, uint32_t seq, size_t member_offset)
{
    return npu_bo_addr(dev->slots_bo) + (uint64_t)(seq % NPU_DRV_QUEUE_ENTRIES) * sizeof(npu_slot) + member_offset;
}

static npu_drv_status resolve(npu_dev *dev, const npu_buf_ref *ref, const char *what, npu_buf_entry *out)
{
    if (!ref->bo)
        return npu_dev_fail(dev, NPU_DRV_E_ARG, "%s has no buffer object", what);
    uint64_t size = ref->size ? ref->size : npu_bo_size(ref->bo) - (ref->offset < npu_bo_size(ref->bo) ? ref->offset : 0);
    if (ref->offset > npu_bo_size(ref->bo) || size > npu_bo_size(ref->bo) - ref->offset)
        return npu_dev_fail(dev, NPU_DRV_E_BOUNDS, "%s [%llu, +%llu) is outside its %llu-byte buffer object", what,
                            (unsigned long long)ref->offset, (unsigned long long)size,
                            (unsigned long long)npu_bo_size(ref->bo));
    out->addr = npu_bo_addr(ref->bo) + ref->offset;
    out->size = size;
    return NPU_DRV_OK;
}

npu_drv_status npu_submit(npu_dev *dev, const npu_job *job, npu_fence *fence)
{
    if (job->nbufs > NPU_MAX_BUFFERS)
        return npu_dev_fail(dev, NPU_DRV_E_ARG, "a job has at most %d buffers, not %u", NPU_MAX_BUFFERS, job->nbufs);
    uint32_t head = npu_reg_read(dev, NPU_REG_CQ_HEAD);
    if (dev->tail - head >= NPU_DRV_QUEUE_ENTRIES)
        return npu_dev_fail(dev, NPU_DRV_E_BUSY, "all %u queue slots hold unfinished jobs; wait for one first",
                            NPU_DRV_QUEUE_ENTRIES);
    npu_buf_entry prog = {0, 0}, bufs[NPU_MAX_BUFFERS];
    npu_drv_status st = resolve(dev, &job->program, "the program", &prog);
    char what[32];
    for (uint32_t i = 0; st == NPU_DRV_OK && i < job->nbufs; i++) {
        snprintf(what, sizeof what, "buffer %u", i);
        st = resolve(dev, &job->bufs[i], what, &bufs[i]);
    }
    if (st != NPU_DRV_OK)
        return st;
    if (prog.size > UINT32_MAX)
        return npu_dev_fail(dev, NPU_DRV_E_ARG, "program of %llu bytes is larger than a job allows",
                            (unsigned long long)prog.size);

    uint32_t seq = dev->tail;
    npu_job_completion pending;
    memset(&pending, 0, sizeof pending);
    pending.state = NPU_JOB_PENDING;
    pending.job_id = seq;
    npu_job_desc d;
    memset(&d, 0, sizeof d);
    d.magic = NPU_JOB_MAGIC;
    d.abi_version = NPU_ABI_VERSION;
    d.type = job->type;
    d.flags = job->flags;
    d.job_id = seq;
    d.program_addr = prog.addr;
    d.program_bytes = (uint32_t)prog.size;
    d.buftab_addr = slot_addr(dev, seq, offsetof(npu_slot, buftab));
    d.nbufs = job->nbufs;
    d.completion_addr = slot_addr(dev, seq, offsetof(npu_slot, completion));
    if (dev->obs)
        dev->obs->submit(dev->obs_ctx, &d);
    uint64_t desc_addr = npu_bo_addr(dev->queue_bo) + (uint64_t)(seq % NPU_DRV_QUEUE_ENTRIES) * NPU_JOB_DESC_BYTES;
    if ((job->nbufs && npu_dev_mem_write(dev, d.buftab_addr, bufs, job->nbufs * sizeof *bufs) != 0) ||
        npu_dev_mem_write(dev, d.completion_addr, &pending, sizeof pending) != 0 ||
        npu_dev_mem_write(dev, desc_addr, &d, sizeof d) != 0)
        return npu_dev_fail(dev, NPU_DRV_E_DEVICE, "the device refused the writes of job %u's queue slot", seq);

    dev->tail = seq + 1;
    npu_reg_write(dev, NPU_REG_CQ_TAIL, dev->tail);
    npu_reg_write(dev, NPU_REG_DOORBELL, 1);
    *fence = seq;
    return NPU_DRV_OK;
}

/* The completion record of fence, if the device has written it. */
static int completed(npu_dev *dev, npu_fence fence, npu_job_completion *c)
{
    uint64_t at = slot_addr(dev, (uint32_t)fence, offsetof(npu_slot, completion));
    if (npu_dev_mem_read(dev, at, c, sizeof *c, NPU_READ_COMPLETION) != 0)
        return 0;
    int done = c->job_id == (uint32_t)fence && c->state != NPU_JOB_PENDING;
    if (done && dev->obs)
        dev->obs->complete(dev->obs_ctx, at, c);
    return done;
}

npu_drv_status npu_wait(npu_dev *dev, npu_fence fence, uint64_t timeout_cycles, npu_job_result *res)
{
    if (fence >= dev->tail || dev->tail - fence > NPU_DRV_QUEUE_ENTRIES)
        return npu_dev_fail(dev, NPU_DRV_E_ARG, "fence %llu was never submitted or is too old to wait for",
                            (unsigned long long)fence);
    uint64_t start = npu_dev_cycles(dev);
    npu_job_completion c;
    for (;;) {
        if (completed(dev, fence, &c)) {
            npu_reg_write(dev, NPU_REG_IRQ_ACK, NPU_IRQ_JOB_DONE); /* consumed; a fault stays raised */
            break;
        }
        if (npu_reg_read(dev, NPU_REG_STATUS) == NPU_STATUS_FAULT) {
            uint32_t job = npu_reg_read(dev, NPU_REG_FAULT_JOB);
            return npu_dev_fail(dev, NPU_DRV_E_HALTED, "the device stopped on a fault in job %u (%s); reset it to run job %llu",
                                job, npu_fault_str(npu_reg_read(dev, NPU_REG_FAULT_CODE)), (unsigned long long)fence);
        }
        uint64_t spent = npu_dev_cycles(dev) - start;
        if (spent >= timeout_cycles)
            return npu_dev_fail(dev, NPU_DRV_E_TIMEOUT, "job %llu did not complete within %llu cycles",
                                (unsigned long long)fence, (unsigned long long)timeout_cycles);
        int irq = npu_dev_run(dev, timeout_cycles - spent);
        if (irq < 0)
            return npu_dev_fail(dev, NPU_DRV_E_DEVICE, "the device model failed while running job %llu",
                                (unsigned long long)fence);
        if (irq)
            npu_reg_write(dev, NPU_REG_IRQ_ACK, npu_reg_read(dev, NPU_REG_IRQ_STATUS));
    }
    if (res) {
        memset(res, 0, sizeof *res);
        res->state = c.state;
        res->fault = c.fault;
        res->fault_unit = c.fault_unit;
        res->fault_insn = c.fault_insn;
        res->fault_addr = c.fault_addr;
        res->start_cycle = c.start_cycle;
        res->end_cycle = c.end_cycle;
        res->insns = c.insns;
    }
    if (c.state == NPU_JOB_FAILED)
        return npu_dev_fail(dev, NPU_DRV_E_FAULT, "job %llu faulted: %s in unit %s at instruction %u, address 0x%llx",
                            (unsigned long long)fence, npu_fault_str(c.fault), npu_unit_str(c.fault_unit),
                            c.fault_insn, (unsigned long long)c.fault_addr);
    return NPU_DRV_OK;
}
