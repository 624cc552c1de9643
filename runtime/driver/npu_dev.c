/* npu_dev.c -- opening and closing the device, its status, reset, counters and error messages.
 * Opening programs the command queue and the firmware log ring, then checks that the firmware
 * booted and speaks our ABI. */
#include "npu_drv_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[NPU_DRV_STATUS_COUNT] = {
    [NPU_DRV_OK] = "ok",
    [NPU_DRV_E_ARG] = "invalid argument",
    [NPU_DRV_E_OPEN] = "cannot open device",
    [NPU_DRV_E_NOMEM] = "device memory exhausted",
    [NPU_DRV_E_BOUNDS] = "outside the buffer object",
    [NPU_DRV_E_BUSY] = "command queue full",
    [NPU_DRV_E_TIMEOUT] = "timeout",
    [NPU_DRV_E_FAULT] = "job faulted",
    [NPU_DRV_E_HALTED] = "device halted on an earlier fault",
    [NPU_DRV_E_DEVICE] = "device error",
    [NPU_DRV_E_IO] = "file not writable",
    [NPU_DRV_E_ABORTED] = "job aborted by a device reset",
};

static const char *const fault_names[NPU_FAULT_COUNT] = {
    [NPU_FAULT_NONE] = "none",
    [NPU_FAULT_BAD_JOB] = "bad_job",
    [NPU_FAULT_BAD_BUFFER] = "bad_buffer",
    [NPU_FAULT_ILLEGAL_INSN] = "illegal_instruction",
    [NPU_FAULT_LIMIT] = "device_limit",
    [NPU_FAULT_SRAM_OVERFLOW] = "sram_overflow",
    [NPU_FAULT_DMA_OOB] = "dma_out_of_bounds",
    [NPU_FAULT_WATCHDOG] = "watchdog",
    [NPU_FAULT_UNIT] = "unit_error",
    [NPU_FAULT_BAD_OP] = "bad_op",
};

static const char *const unit_names[NPU_UNIT_COUNT] = {
    [NPU_UNIT_DMA0] = "dma0", [NPU_UNIT_DMA1] = "dma1", [NPU_UNIT_DMA2] = "dma2", [NPU_UNIT_DMA3] = "dma3",
    [NPU_UNIT_MM] = "mm",     [NPU_UNIT_SM] = "sm",     [NPU_UNIT_VEC] = "vec",   [NPU_UNIT_CTRL] = "ctrl",
};

static const char *const counter_names[NPU_CTR_COUNT] = {
    [NPU_CTR_BUSY] = "busy_cycles",   [NPU_CTR_STALL] = "stall_cycles",   [NPU_CTR_IDLE] = "idle_cycles",
    [NPU_CTR_INSNS] = "instructions", [NPU_CTR_MACS] = "macs",            [NPU_CTR_MACS_INT4] = "macs_int4",
    [NPU_CTR_ELEMS] = "elements",     [NPU_CTR_DRAM_RD] = "dram_read_bytes", [NPU_CTR_DRAM_WR] = "dram_write_bytes",
    [NPU_CTR_SRAM_RD] = "sram_read_bytes", [NPU_CTR_SRAM_WR] = "sram_write_bytes", [NPU_CTR_JOBS] = "jobs",
};

const char *npu_drv_status_str(npu_drv_status st)
{
    return (unsigned)st < NPU_DRV_STATUS_COUNT ? status_names[st] : "unknown status";
}
const char *npu_fault_str(uint32_t fault) { return fault < NPU_FAULT_COUNT ? fault_names[fault] : "unknown"; }
const char *npu_unit_str(uint32_t unit) { return unit < NPU_UNIT_COUNT ? unit_names[unit] : "none"; }
const char *npu_counter_str(uint32_t ctr) { return ctr < NPU_CTR_COUNT ? counter_names[ctr] : "?"; }

npu_drv_status npu_dev_fail(npu_dev *dev, npu_drv_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dev->error, sizeof dev->error, fmt, ap);
    va_end(ap);
    return st;
}

const char *npu_dev_error(const npu_dev *dev) { return dev->error; }
const npu_device_config *npu_dev_config(const npu_dev *dev) { return &dev->cfg; }

/* The observer of devices opened from now on: process-wide, like the device itself. */
static const npu_drv_observer *g_observer;
static void *g_observer_ctx;

void npu_drv_set_observer(const npu_drv_observer *obs, void *ctx)
{
    g_observer = obs;
    g_observer_ctx = obs ? ctx : NULL;
}

uint64_t npu_dev_cycles(npu_dev *dev)
{
    uint64_t c = npu_sim_cycles(dev->sim);
    if (dev->obs)
        dev->obs->cycles(dev->obs_ctx, c);
    return c;
}

void npu_drv_set_op_memo(int on) { npu_sim_set_op_memo(on); }
void npu_drv_op_memo_counts(uint64_t *replayed, uint64_t *simulated) { npu_sim_op_memo_counts(replayed, simulated); }
void npu_drv_set_run_ahead(int on) { npu_sim_set_run_ahead(on); }
void npu_drv_run_ahead_counts(uint64_t *ran_ahead, uint64_t *waited) { npu_sim_run_ahead_counts(ran_ahead, waited); }

int npu_dev_run(npu_dev *dev, uint64_t max_cycles)
{
    if (dev->obs)
        dev->obs->run_begin(dev->obs_ctx, max_cycles);
    int r = npu_sim_run(dev->sim, max_cycles);
    if (dev->obs)
        dev->obs->run_end(dev->obs_ctx, r, npu_sim_cycles(dev->sim));
    return r;
}

int npu_dev_mem_write(npu_dev *dev, uint64_t addr, const void *src, uint64_t len)
{
    if (npu_sim_mem_write(dev->sim, addr, src, len) != 0)
        return -1;
    if (dev->obs)
        dev->obs->mem_write(dev->obs_ctx, addr, src, len);
    return 0;
}

int npu_dev_mem_read(npu_dev *dev, uint64_t addr, void *dst, uint64_t len, npu_read_kind kind)
{
    if (npu_sim_mem_read(dev->sim, addr, dst, len) != 0)
        return -1;
    if (dev->obs)
        dev->obs->mem_read(dev->obs_ctx, addr, dst, len, kind);
    return 0;
}

static void program_queue_and_log(npu_dev *dev)
{
    uint64_t q = npu_bo_addr(dev->queue_bo), log = npu_bo_addr(dev->log_bo);
    npu_reg_write(dev, NPU_REG_CQ_BASE_LO, (uint32_t)q);
    npu_reg_write(dev, NPU_REG_CQ_BASE_HI, (uint32_t)(q >> 32));
    npu_reg_write(dev, NPU_REG_CQ_SIZE, NPU_DRV_QUEUE_ENTRIES);
    npu_reg_write(dev, NPU_REG_LOG_BASE_LO, (uint32_t)log);
    npu_reg_write(dev, NPU_REG_LOG_BASE_HI, (uint32_t)(log >> 32));
    npu_reg_write(dev, NPU_REG_LOG_SIZE, NPU_DRV_LOG_BYTES);
    npu_reg_write(dev, NPU_REG_IRQ_MASK, NPU_IRQ_JOB_DONE | NPU_IRQ_FAULT);
}

/* After power-on or reset the firmware boots within a few delta cycles; check it did. */
static npu_drv_status check_booted(npu_dev *dev)
{
    npu_dev_run(dev, 0);
    uint32_t st = npu_reg_read(dev, NPU_REG_STATUS), abi = npu_reg_read(dev, NPU_REG_ABI_VERSION);
    if (st == NPU_STATUS_OFF)
        return npu_dev_fail(dev, NPU_DRV_E_DEVICE, "the firmware did not boot (status register %u)", st);
    if ((abi >> 16) != NPU_ABI_VERSION_MAJOR)
        return npu_dev_fail(dev, NPU_DRV_E_DEVICE, "the firmware speaks ABI %u.%u; this driver needs %u.x",
                            abi >> 16, abi & 0xFFFF, NPU_ABI_VERSION_MAJOR);
    return NPU_DRV_OK;
}

npu_dev *npu_dev_open(const npu_device_config *cfg, char *err, size_t errlen)
{
    npu_dev *dev = calloc(1, sizeof *dev);
    if (!dev) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    dev->cfg = *cfg;
    dev->sim = npu_sim_open(cfg, dev->error, sizeof dev->error);
    if (!dev->sim || npu_mem_init(dev) != 0)
        goto fail;
    if (g_observer) {
        dev->obs = g_observer;
        dev->obs_ctx = g_observer_ctx;
        dev->obs->open(dev->obs_ctx, dev->sim, &dev->cfg);
    }
    if (npu_reg_read(dev, NPU_REG_ID) != NPU_DEVICE_ID) {
        npu_dev_fail(dev, NPU_DRV_E_DEVICE, "device id 0x%08x is not an m4npu", npu_reg_read(dev, NPU_REG_ID));
        goto fail;
    }
    dev->queue_bo = npu_bo_alloc(dev, (uint64_t)NPU_DRV_QUEUE_ENTRIES * NPU_JOB_DESC_BYTES);
    dev->slots_bo = dev->queue_bo ? npu_bo_alloc(dev, (uint64_t)NPU_DRV_QUEUE_ENTRIES * sizeof(npu_slot)) : NULL;
    dev->log_bo = dev->slots_bo ? npu_bo_alloc(dev, NPU_DRV_LOG_BYTES) : NULL;
    if (!dev->log_bo)
        goto fail;
    program_queue_and_log(dev);
    npu_reg_write(dev, NPU_REG_RESET, NPU_RESET_MAGIC); /* boot again with the queue and log set up */
    if (check_booted(dev) != NPU_DRV_OK)
        goto fail;
    return dev;
fail:
    snprintf(err, errlen, "%s", dev->error[0] ? dev->error : "cannot open the device");
    npu_dev_close(dev);
    return NULL;
}

void npu_dev_close(npu_dev *dev)
{
    if (!dev)
        return;
    npu_mem_fini(dev);
    if (dev->obs)
        dev->obs->close(dev->obs_ctx);
    if (dev->sim)
        npu_sim_close(dev->sim);
    free(dev);
}

npu_drv_status npu_dev_read_status(npu_dev *dev, npu_dev_status *out)
{
    out->status = npu_reg_read(dev, NPU_REG_STATUS);
    out->fault = npu_reg_read(dev, NPU_REG_FAULT_CODE);
    out->fault_unit = npu_reg_read(dev, NPU_REG_FAULT_UNIT);
    out->fault_insn = npu_reg_read(dev, NPU_REG_FAULT_INSN);
    out->fault_job = npu_reg_read(dev, NPU_REG_FAULT_JOB);
    out->fault_addr = (uint64_t)npu_reg_read(dev, NPU_REG_FAULT_ADDR_LO) |
                      (uint64_t)npu_reg_read(dev, NPU_REG_FAULT_ADDR_HI) << 32;
    out->abi_version = npu_reg_read(dev, NPU_REG_ABI_VERSION);
    out->isa_version = npu_reg_read(dev, NPU_REG_ISA_VERSION);
    return NPU_DRV_OK;
}

npu_drv_status npu_dev_trace_vcd(npu_dev *dev, const char *mm_path, const char *sm_path)
{
    char msg[200];
    int st = npu_sim_trace_vcd(dev->sim, mm_path, sm_path, msg, sizeof msg);
    if (st == NPU_SIM_OK)
        return NPU_DRV_OK;
    return npu_dev_fail(dev, st == NPU_SIM_E_CONFIG ? NPU_DRV_E_ARG : NPU_DRV_E_IO, "%s", msg);
}

npu_drv_status npu_dev_reset(npu_dev *dev)
{
    npu_reg_write(dev, NPU_REG_IRQ_ACK, ~0u);
    npu_reg_write(dev, NPU_REG_RESET, NPU_RESET_MAGIC);
    npu_drv_status st = check_booted(dev);
    if (st != NPU_DRV_OK)
        return st;
    if (npu_reg_read(dev, NPU_REG_CQ_HEAD) != dev->tail)
        npu_reg_write(dev, NPU_REG_DOORBELL, 1); /* jobs are waiting: let the firmware see them */
    return NPU_DRV_OK;
}

void npu_dev_read_counters(npu_dev *dev, npu_counters *out)
{
    out->cycles = npu_dev_cycles(dev);
    for (uint32_t u = 0; u < NPU_UNIT_COUNT; u++)
        for (uint32_t c = 0; c < NPU_CTR_COUNT; c++)
            out->v[u][c] = (uint64_t)npu_reg_read(dev, NPU_REG_PERF(u, c)) |
                           (uint64_t)npu_reg_read(dev, NPU_REG_PERF(u, c) + 4) << 32;
}

void npu_counters_diff(const npu_counters *a, const npu_counters *b, npu_counters *out)
{
    out->cycles = b->cycles - a->cycles;
    for (uint32_t u = 0; u < NPU_UNIT_COUNT; u++)
        for (uint32_t c = 0; c < NPU_CTR_COUNT; c++)
            out->v[u][c] = b->v[u][c] - a->v[u][c];
}

size_t npu_dev_read_log(npu_dev *dev, char *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    uint32_t head = npu_reg_read(dev, NPU_REG_LOG_HEAD);
    size_t n = 0;
    uint32_t avail = head - dev->log_read;
    if (avail > NPU_DRV_LOG_BYTES) {
        n = (size_t)snprintf(buf, cap, "[lost %u bytes]\n", avail - NPU_DRV_LOG_BYTES);
        if (n >= cap)
            n = cap - 1;
        dev->log_read = head - NPU_DRV_LOG_BYTES;
    }
    /* copy the unread text in at most two pieces (the ring wraps once) */
    uint64_t ring = npu_bo_addr(dev->log_bo);
    while (dev->log_read != head && n + 1 < cap) {
        uint32_t at = dev->log_read % NPU_DRV_LOG_BYTES;
        uint32_t piece = head - dev->log_read;
        if (piece > NPU_DRV_LOG_BYTES - at)
            piece = NPU_DRV_LOG_BYTES - at;
        if (piece > cap - 1 - n)
            piece = (uint32_t)(cap - 1 - n);
        if (npu_dev_mem_read(dev, ring + at, buf + n, piece, NPU_READ_LOG) != 0)
            break;
        n += piece;
        dev->log_read += piece;
    }
    buf[n] = '\0';
    return n;
}
