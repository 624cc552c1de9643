/* npu_drv_internal.h -- the driver's private state, shared by its files. */
#ifndef M4NPU_NPU_DRV_INTERNAL_H
#define M4NPU_NPU_DRV_INTERNAL_H

#include <stdarg.h>

#include "npu_drv.h"
#include "npu_sim.h"

#define NPU_DRV_QUEUE_ENTRIES 64u        /* command-queue slots (a power of two) */
#define NPU_DRV_LOG_BYTES (64u * 1024u)  /* firmware log ring */
#define NPU_DRV_BO_ALIGN 64u             /* every BO starts on a 64-byte boundary */
#define NPU_DRV_RESERVED_BYTES 4096u     /* device address 0 is never handed out */
#define NPU_DRV_BOOT_CYCLES 1000u        /* budget for the firmware to come back after reset */

/* Per queue slot: the job's buffer table and completion record. */
typedef struct npu_slot {
    npu_buf_entry buftab[NPU_MAX_BUFFERS];
    npu_job_completion completion;
} npu_slot;

/* Free device-memory ranges, sorted by address. */
typedef struct npu_range {
    uint64_t addr, size;
} npu_range;

struct npu_bo {
    npu_dev *dev;
    uint64_t addr, size;
};

struct npu_dev {
    npu_sim *sim;
    const npu_drv_observer *obs; /* NULL: nobody watches */
    void *obs_ctx;
    npu_device_config cfg;
    char error[1024]; /* room for a timeout naming every unit and its instruction */
    /* device-memory allocator */
    npu_range *free;
    size_t nfree, capfree;
    uint64_t used_bytes; /* in live buffer objects, rounded up to NPU_DRV_BO_ALIGN */
    uint32_t live_bos;
    /* queue, per-slot records and log */
    npu_bo *queue_bo, *slots_bo, *log_bo;
    uint32_t tail; /* jobs submitted */
    uint32_t log_read;
    /* the descriptor of each slot's last job, as submitted: messages name its instructions */
    npu_job_desc submitted[NPU_DRV_QUEUE_ENTRIES];
};

npu_drv_status npu_dev_fail(npu_dev *dev, npu_drv_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Allocator (npu_bo.c). */
int npu_mem_init(npu_dev *dev);
void npu_mem_fini(npu_dev *dev);

/* Every access to the device goes through these, so the observer sees all of it. */
static inline uint32_t npu_reg_read(npu_dev *dev, uint32_t reg)
{
    uint32_t v = npu_sim_mmio_read(dev->sim, reg);
    if (dev->obs)
        dev->obs->mmio_read(dev->obs_ctx, reg, v);
    return v;
}
static inline void npu_reg_write(npu_dev *dev, uint32_t reg, uint32_t v)
{
    if (dev->obs)
        dev->obs->mmio_write(dev->obs_ctx, reg, v);
    npu_sim_mmio_write(dev->sim, reg, v);
}
/* Device memory [addr, addr + len): 0, or -1 if outside device memory (nothing copied). */
int npu_dev_mem_write(npu_dev *dev, uint64_t addr, const void *src, uint64_t len);
int npu_dev_mem_read(npu_dev *dev, uint64_t addr, void *dst, uint64_t len, npu_read_kind kind);
/* npu_sim_run and npu_sim_cycles, observed. */
int npu_dev_run(npu_dev *dev, uint64_t max_cycles);

#endif
