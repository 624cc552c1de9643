/* npu_job.c -- submitting jobs and waiting for their fences.
 *
 * A job goes into the next command-queue slot: its descriptor in the queue, its buffer table
 * and completion record in the slot's record (npu_slot); then TAIL advances and the doorbell
 * rings. The fence is the job's sequence number. Waiting runs the device until the slot's
 * completion record carries the fence's job id, the interrupt says so, or the timeout passes.
 *
 * The messages of a failed wait say what a developer needs without the firmware log: a timeout
 * names every unit that still has work, busy or stalled, and the instruction it is on; an
 * illegal instruction or one beyond the device's limits says why, from the same ISA table the
 * firmware validated it with.
 */
#include "npu_drv_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "isa.h"

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
    npu_buf_entry profile = {0, 0};
    if (st == NPU_DRV_OK && job->profile.bo) {
        uint64_t need = job->type == NPU_JOB_OPS ? prog.size / sizeof(npu_op_desc) * sizeof(npu_op_profile) : 0;
        st = job->type != NPU_JOB_OPS
                 ? npu_dev_fail(dev, NPU_DRV_E_ARG, "a profile is for op jobs (NPU_JOB_OPS) only")
                 : resolve(dev, &job->profile, "the profile", &profile);
        if (st == NPU_DRV_OK && profile.size < need)
            st = npu_dev_fail(dev, NPU_DRV_E_BOUNDS, "the profile holds %llu bytes; %llu op descriptors need %llu",
                              (unsigned long long)profile.size, (unsigned long long)(prog.size / sizeof(npu_op_desc)),
                              (unsigned long long)need);
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
    d.profile_addr = profile.addr;
    if (dev->obs)
        dev->obs->submit(dev->obs_ctx, &d);
    dev->submitted[seq % NPU_DRV_QUEUE_ENTRIES] = d;
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

/* The descriptor of job seq as submitted (the driver's own copy: no device traffic). */
static int job_descriptor(npu_dev *dev, uint32_t seq, npu_job_desc *d)
{
    *d = dev->submitted[seq % NPU_DRV_QUEUE_ENTRIES];
    return d->job_id == seq && d->magic == NPU_JOB_MAGIC ? 0 : -1;
}

/* Instruction `index` of job seq, decoded. 1 if it decodes (then *in holds it), 0 if it does not
 * (err says why), -1 if it cannot be read (an op job, an index past the program). */
static int job_instruction(npu_dev *dev, uint32_t seq, uint32_t index, isa_insn *in, isa_error *err)
{
    npu_job_desc d;
    if (job_descriptor(dev, seq, &d) != 0 || d.type != NPU_JOB_ISA || index >= d.program_bytes / ISA_INSN_BYTES)
        return -1;
    uint8_t word[ISA_INSN_BYTES];
    if (npu_dev_mem_read(dev, d.program_addr + (uint64_t)index * ISA_INSN_BYTES, word, sizeof word, NPU_READ_DATA) != 0)
        return -1;
    return isa_decode(word, in, err) == ISA_OK ? 1 : 0;
}

/* " (`TEXT`)" for instruction index of job seq, or "" when it is not an instruction of a program. */
static void describe_instruction(npu_dev *dev, uint32_t seq, uint32_t index, char *buf, size_t size)
{
    isa_insn in;
    isa_error err;
    char text[200];
    buf[0] = '\0';
    if (job_instruction(dev, seq, index, &in, &err) == 1 && isa_format(&in, text, sizeof text) >= 0)
        snprintf(buf, size, " (`%s`)", text);
}

/* Why the firmware refused instruction `index`: the same decode and validation, against the
 * same limits it uses (fw_main.c: SRAM bounds apart, the job's buffer count). */
static void why_refused(npu_dev *dev, uint32_t seq, uint32_t index, char *buf, size_t size)
{
    isa_insn in;
    isa_error err;
    buf[0] = '\0';
    int got = job_instruction(dev, seq, index, &in, &err);
    if (got < 0)
        return;
    if (got == 0) {
        snprintf(buf, size, ": %s", err.msg);
        return;
    }
    npu_job_desc d;
    job_descriptor(dev, seq, &d);
    isa_limits lim = {.sram_bytes = 0, .dma_channels = dev->cfg.dma.channels, .buffers = d.nbufs,
                      .mm_rows = dev->cfg.matmul.rows, .mm_cols = dev->cfg.matmul.cols,
                      .sm_max_len = dev->cfg.softmax.max_len};
    char text[200];
    if (isa_format(&in, text, sizeof text) < 0)
        text[0] = '\0';
    if (isa_validate(&in, &lim, &err) != ISA_OK)
        snprintf(buf, size, " (`%s`): %s", text, err.msg);
    else
        snprintf(buf, size, " (`%s`)", text);
}

/* "; dma0 is busy at instruction 4 (`dma.ld ...`); vec is stalled at instruction 6 (`wait ...`)",
 * or what else holds the job up. */
static void describe_units(npu_dev *dev, uint32_t seq, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t u = 0; u < NPU_UNIT_CTRL && used < size; u++) {
        uint32_t state = npu_reg_read(dev, NPU_REG_UNIT_STATE(u));
        if (state == NPU_UNIT_STATE_IDLE)
            continue;
        uint32_t index = npu_reg_read(dev, NPU_REG_UNIT_INSN(u));
        char insn[240];
        describe_instruction(dev, seq, index, insn, sizeof insn);
        used += (size_t)snprintf(buf + used, size - used, "; %s is %s at instruction %u%s", npu_unit_str(u),
                                 state == NPU_UNIT_STATE_STALLED ? "stalled in a wait" : "busy", index, insn);
    }
    if (used == 0)
        snprintf(buf, size, "; every unit is idle: the firmware has not finished starting or completing it");
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
        if (spent >= timeout_cycles) {
            char units[900];
            describe_units(dev, (uint32_t)fence, units, sizeof units);
            return npu_dev_fail(dev, NPU_DRV_E_TIMEOUT, "job %llu did not complete within %llu cycles%s",
                                (unsigned long long)fence, (unsigned long long)timeout_cycles, units);
        }
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
    if (c.state == NPU_JOB_ABORTED)
        return npu_dev_fail(dev, NPU_DRV_E_ABORTED,
                            "job %llu was aborted by a device reset after running from cycle %llu to %llu; it was "
                            "not run again", (unsigned long long)fence, (unsigned long long)c.start_cycle,
                            (unsigned long long)c.end_cycle);
    if (c.state == NPU_JOB_FAILED) {
        char why[300] = "";
        if (c.fault == NPU_FAULT_ILLEGAL_INSN || c.fault == NPU_FAULT_LIMIT)
            why_refused(dev, (uint32_t)fence, c.fault_insn, why, sizeof why);
        else
            describe_instruction(dev, (uint32_t)fence, c.fault_insn, why, sizeof why);
        return npu_dev_fail(dev, NPU_DRV_E_FAULT, "job %llu faulted: %s in unit %s at instruction %u, address 0x%llx%s",
                            (unsigned long long)fence, npu_fault_str(c.fault), npu_unit_str(c.fault_unit),
                            c.fault_insn, (unsigned long long)c.fault_addr, why);
    }
    return NPU_DRV_OK;
}
