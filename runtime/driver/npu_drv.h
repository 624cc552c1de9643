/* npu_drv.h -- the host driver of the m4npu device.
 *
 * Open a device from a configuration; allocate buffer objects (BOs) in device memory and map
 * them; submit jobs (an ISA program plus its buffer table) and get a fence; wait for a fence with
 * a timeout (in device cycles); read status, faults, performance counters and the firmware log;
 * reset the device. Everything crosses to the device through MMIO and shared device memory
 * (npu_abi.h), exactly as a kernel driver would.
 *
 * Every function that can fail returns an npu_drv_status; npu_dev_error() holds the message of
 * the last failure ("what, where, and what was expected").
 *
 * The driver keeps no pointer into device memory: buffer contents are copied in and out through
 * sim/'s npu_sim_mem_write/npu_sim_mem_read, so every byte, register access and interrupt wait
 * passes one boundary, which an observer (below) can watch: traces/ records through it.
 */
#ifndef M4NPU_NPU_DRV_H
#define M4NPU_NPU_DRV_H

#include <stddef.h>
#include <stdint.h>

#include "npu_abi.h"
#include "npu_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum npu_drv_status {
    NPU_DRV_OK = 0,
    NPU_DRV_E_ARG,     /* an invalid argument (named in the message) */
    NPU_DRV_E_OPEN,    /* the device could not be opened (configuration, memory) */
    NPU_DRV_E_NOMEM,   /* device memory exhausted */
    NPU_DRV_E_BOUNDS,  /* an access outside a buffer object */
    NPU_DRV_E_BUSY,    /* the command queue is full: wait for a fence first */
    NPU_DRV_E_TIMEOUT, /* the fence did not signal within the timeout */
    NPU_DRV_E_FAULT,   /* the job faulted (details in npu_job_result) */
    NPU_DRV_E_HALTED,  /* the device stopped on an earlier job's fault: reset it */
    NPU_DRV_E_DEVICE,  /* the device misbehaved (did not boot, internal error) */
    NPU_DRV_E_IO,      /* a file the device writes (a VCD) could not be opened or written */
    NPU_DRV_E_ABORTED, /* the job was dropped by a device reset while it ran */
    NPU_DRV_STATUS_COUNT
} npu_drv_status;

const char *npu_drv_status_str(npu_drv_status st);
const char *npu_fault_str(uint32_t fault);  /* enum npu_fault */
const char *npu_unit_str(uint32_t unit);    /* enum npu_unit */
const char *npu_counter_str(uint32_t ctr);  /* enum npu_counter */

typedef struct npu_dev npu_dev;
typedef struct npu_bo npu_bo;
typedef uint64_t npu_fence;

/* ---- device */
npu_dev *npu_dev_open(const npu_device_config *cfg, char *err, size_t errlen);
void npu_dev_close(npu_dev *dev);
const npu_device_config *npu_dev_config(const npu_dev *dev);
const char *npu_dev_error(const npu_dev *dev);
uint64_t npu_dev_cycles(npu_dev *dev);
/* The simulator's op memo (sim/include/npu_sim.h npu_sim_set_op_memo): process-wide, on by
 * default (M4NPU_OP_MEMO=0 or off in the environment: off); off empties it. The counts are ops
 * replayed from it and ops simulated while it was on, since the process started. */
void npu_drv_set_op_memo(int on);
void npu_drv_op_memo_counts(uint64_t *replayed, uint64_t *simulated);
/* The simulator's control-core run-ahead (npu_sim.h: npu_sim_set_run_ahead): on by default; the
 * same results either way. Counts: dispatches since the process started that ran ahead, waited. */
void npu_drv_set_run_ahead(int on);
void npu_drv_run_ahead_counts(uint64_t *ran_ahead, uint64_t *waited);

typedef struct npu_dev_status {
    uint32_t status; /* enum npu_status */
    uint32_t fault, fault_unit, fault_insn, fault_job;
    uint64_t fault_addr;
    uint32_t abi_version, isa_version;
} npu_dev_status;
npu_drv_status npu_dev_read_status(npu_dev *dev, npu_dev_status *out);

/* Dump the RTL tiles' waveforms of the jobs that follow into VCD files: the matmul tile's into
 * mm_path, the softmax tile's into sm_path (NULL: not that tile). Both NULL stops and closes
 * them. NPU_DRV_E_ARG if a named tile is not rtl; NPU_DRV_E_IO if a file cannot be opened, or
 * (reported by the stop) a write failed meanwhile: the jobs run on, the waveform is incomplete. */
npu_drv_status npu_dev_trace_vcd(npu_dev *dev, const char *mm_path, const char *sm_path);

/* Reset the device: the job running at that moment (a job that hangs) is dropped, never run
 * again: its completion says NPU_JOB_ABORTED and npu_wait returns NPU_DRV_E_ABORTED for it.
 * Jobs queued behind it run afterwards, without another reset. */
npu_drv_status npu_dev_reset(npu_dev *dev);

typedef struct npu_counters {
    uint64_t cycles; /* device cycles when read */
    uint64_t v[NPU_UNIT_COUNT][NPU_CTR_COUNT];
} npu_counters;
void npu_dev_read_counters(npu_dev *dev, npu_counters *out);
/* b - a, counter by counter (idle included). */
void npu_counters_diff(const npu_counters *a, const npu_counters *b, npu_counters *out);

/* Copy firmware log text written since the last call into buf (NUL-terminated, at most cap-1
 * bytes); returns the number of bytes copied. Lost text is reported as "[lost N bytes]". */
size_t npu_dev_read_log(npu_dev *dev, char *buf, size_t cap);

/* ---- buffer objects */
npu_bo *npu_bo_alloc(npu_dev *dev, uint64_t size); /* NULL: see npu_dev_error() */
/* As npu_bo_alloc, from the highest free addresses down (last fit): where a device's on-chip memory
 * is (npu.dram.onchip_bytes, the top of its address space), so that the buffers allocated this way
 * first are in it as far as they fit. */
npu_bo *npu_bo_alloc_high(npu_dev *dev, uint64_t size);
/* Bytes of on-chip memory at the top of device memory (0: none), and the device address where it
 * begins (the size of device memory when there is none); see npu_bo_alloc_high. */
uint64_t npu_dev_onchip_bytes(const npu_dev *dev);
uint64_t npu_dev_onchip_base(const npu_dev *dev);
void npu_bo_free(npu_bo *bo);
uint64_t npu_bo_addr(const npu_bo *bo); /* device address */
uint64_t npu_bo_size(const npu_bo *bo);
npu_drv_status npu_bo_write(npu_bo *bo, uint64_t offset, const void *src, uint64_t len);
npu_drv_status npu_bo_read(const npu_bo *bo, uint64_t offset, void *dst, uint64_t len);

/* What device memory holds now (for reports, and for errors that say what is resident). Sizes
 * are as allocated: rounded up to the allocator's 64-byte alignment. */
typedef struct npu_mem_info {
    uint64_t total_bytes;        /* the allocator's whole range (DRAM minus the reserved first page) */
    uint64_t used_bytes;         /* in live buffer objects, the driver's own included */
    uint64_t driver_bytes;       /* of those, the command queue, per-slot records and firmware log */
    uint64_t free_bytes;         /* total_bytes - used_bytes */
    uint64_t largest_free_bytes; /* the largest single allocation that would succeed */
    uint32_t live_bos;           /* buffer objects allocated and not freed, the driver's included */
} npu_mem_info;
void npu_dev_mem_info(const npu_dev *dev, npu_mem_info *out);

/* ---- jobs */
typedef struct npu_buf_ref {
    const npu_bo *bo;
    uint64_t offset, size; /* a sub-range of bo; size 0 means to the end of bo */
} npu_buf_ref;

typedef struct npu_job {
    uint32_t type;  /* enum npu_job_type */
    uint32_t flags; /* enum npu_job_flags */
    npu_buf_ref program;
    uint32_t nbufs;
    npu_buf_ref bufs[NPU_MAX_BUFFERS];
    /* NPU_JOB_OPS: where the firmware writes one npu_op_profile per op descriptor (its span and
     * counters, npu_abi.h), readable with npu_bo_read once the job is done; bo NULL: no profile.
     * It must hold program size / sizeof(npu_op_desc) records. */
    npu_buf_ref profile;
} npu_job;

typedef struct npu_job_result {
    uint32_t state; /* enum npu_job_state */
    uint32_t fault, fault_unit, fault_insn;
    uint64_t fault_addr;
    uint64_t start_cycle, end_cycle, insns;
} npu_job_result;

npu_drv_status npu_submit(npu_dev *dev, const npu_job *job, npu_fence *fence);
/* Wait until the job of fence completes or timeout_cycles device cycles pass. NPU_DRV_E_FAULT if
 * the job faulted (then the device has stopped: npu_dev_reset() to go on; the message says why an
 * instruction was refused), NPU_DRV_E_ABORTED if a reset dropped it, NPU_DRV_E_TIMEOUT if it did
 * not complete in time (the message names each unit with work, busy or stalled, and the
 * instruction it is on). */
npu_drv_status npu_wait(npu_dev *dev, npu_fence fence, uint64_t timeout_cycles, npu_job_result *res);

/* ---- observing the driver/device boundary
 * An observer sees, in order, everything that crosses between the driver and the device: MMIO
 * reads (with the value read) and writes, copies into and out of device memory, runs of the
 * device until its interrupt, reads of the cycle counter; and two events that name what the
 * traffic means: a job submitted, a job found complete. traces/ implements one (the recorder).
 * Every member must be set. Callbacks run inside the driver's calls and must not call the driver. */
struct npu_sim;

typedef enum npu_read_kind {
    NPU_READ_DATA = 0,   /* a buffer's contents (npu_bo_read) */
    NPU_READ_COMPLETION, /* a job's completion record, polled by npu_wait */
    NPU_READ_LOG,        /* the firmware log ring */
    NPU_READ_KIND_COUNT
} npu_read_kind;

typedef struct npu_drv_observer {
    /* the device is open: sim is its handle (for reads that are not host traffic, such as the
     * counters at a job's completion, and the instruction hook); cfg its configuration */
    void (*open)(void *ctx, struct npu_sim *sim, const npu_device_config *cfg);
    void (*close)(void *ctx); /* before the device closes */
    void (*mmio_read)(void *ctx, uint32_t offset, uint32_t value);
    void (*mmio_write)(void *ctx, uint32_t offset, uint32_t value);
    void (*mem_write)(void *ctx, uint64_t addr, const void *src, uint64_t len);
    void (*mem_read)(void *ctx, uint64_t addr, const void *data, uint64_t len, npu_read_kind kind);
    void (*run_begin)(void *ctx, uint64_t max_cycles);
    void (*run_end)(void *ctx, int result, uint64_t cycles); /* npu_sim_run's result, cycles after */
    void (*cycles)(void *ctx, uint64_t cycles);              /* the host read the cycle counter */
    void (*submit)(void *ctx, const npu_job_desc *desc);     /* before the job's traffic */
    void (*complete)(void *ctx, uint64_t completion_addr, const npu_job_completion *c);
} npu_drv_observer;

/* Watch every device opened from now on (NULL: none). Process-wide, as the device is (SystemC
 * elaborates one device per process); a device keeps the observer it was opened with. */
void npu_drv_set_observer(const npu_drv_observer *obs, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
