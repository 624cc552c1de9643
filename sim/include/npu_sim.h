/* npu_sim.h -- the simulated NPU as the host sees it: MMIO registers, an interrupt line, and
 * device memory the host reads and writes by copy. This C API is the whole boundary between the
 * driver and the SystemC model (and the boundary traces record): the host holds no pointer into
 * device memory, so every byte it moves passes npu_sim_mem_write() or npu_sim_mem_read().
 *
 * Time is counted in NPU cycles of the configured clock. The simulation only advances inside
 * npu_sim_run(): the host writes registers and memory, then runs the device until it raises its
 * interrupt line or a cycle budget is spent.
 *
 * SystemC elaborates a design once per process, so a process holds at most one open device at a
 * time; it may be closed and opened again (with another configuration) any number of times.
 */
#ifndef M4NPU_NPU_SIM_H
#define M4NPU_NPU_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "isa.h"
#include "npu_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npu_sim npu_sim;

/* Open the device: check cfg, map cfg->dram.size_bytes of device memory (pages are only
 * materialised when touched), reset, and boot the firmware. NULL with a message in err on
 * failure (invalid configuration, a device already open in this process, no memory). */
npu_sim *npu_sim_open(const npu_device_config *cfg, char *err, size_t errlen);
void npu_sim_close(npu_sim *s);

const npu_device_config *npu_sim_config(const npu_sim *s);

/* 32-bit MMIO access; offsets in npu_abi.h. Unknown offsets read as 0 and ignore writes. */
uint32_t npu_sim_mmio_read(npu_sim *s, uint32_t offset);
void npu_sim_mmio_write(npu_sim *s, uint32_t offset, uint32_t value);

/* Copy len bytes between the host and device memory at device address addr. 0, or -1 (nothing
 * copied) if [addr, addr + len) is not inside device memory. Only the pages of that range are
 * touched: device memory is materialised lazily, so a timing-only run of a multi-GB model that
 * never writes its weights costs no host memory. */
int npu_sim_mem_write(npu_sim *s, uint64_t addr, const void *src, uint64_t len);
int npu_sim_mem_read(npu_sim *s, uint64_t addr, void *dst, uint64_t len);
uint64_t npu_sim_dram_size(const npu_sim *s);
/* The on-chip memory at the top of the address space: [dram_size - onchip, dram_size) (0: none). */
uint64_t npu_sim_onchip_bytes(const npu_sim *s);

/* Advance the device until its interrupt line is high or max_cycles have passed.
 * Returns 1 if the line is high, 0 if the budget ran out, -1 on an internal error. */
int npu_sim_run(npu_sim *s, uint64_t max_cycles);
int npu_sim_irq(const npu_sim *s);
uint64_t npu_sim_cycles(const npu_sim *s); /* since npu_sim_open() */

/* Dump the RTL tiles' waveforms of the runs that follow as VCD: the matmul tile's into mm_path,
 * the softmax tile's into sm_path (either NULL: not that tile). Both NULL stops tracing and
 * closes the files. A write that fails (a full disk, a file-size limit) does not stop the run:
 * the rest of the waveform is dropped and the stop reports it. Returns NPU_SIM_OK,
 * NPU_SIM_E_CONFIG (that tile's impl is not rtl) or NPU_SIM_E_IO (a file could not be opened
 * or written), with a message in err. */
enum npu_sim_status { NPU_SIM_OK = 0, NPU_SIM_E_CONFIG = -1, NPU_SIM_E_IO = -2 };
int npu_sim_trace_vcd(npu_sim *s, const char *mm_path, const char *sm_path, char *err, size_t errlen);

/* The instruction event stream: with a hook set, the device calls it once per instruction a unit
 * finishes (completes, faults or drops on a reset), from inside npu_sim_run(), in completion
 * order: each unit's in program order, and an instruction that another's completion releases
 * (a `wait` on its `signal`) after it. Instructions that end in the same cycle on different
 * units because their units' timers are due at that time come in the order SystemC releases
 * the timers, which depends on its event queue's history: a change in how many timed events the
 * simulation uses can swap them (the same cycles either way). The hook must not call back into this API. NULL turns it off; off, it costs one test
 * per instruction. Traces at `--level insn` and their timelines are built from it. */
typedef enum npu_sim_insn_outcome {
    NPU_SIM_INSN_DONE = 0,    /* completed */
    NPU_SIM_INSN_FAULT = 1,   /* faulted (the job fails) */
    NPU_SIM_INSN_ABORTED = 2, /* dropped by a reset or an abort of the job */
} npu_sim_insn_outcome;

typedef struct npu_sim_insn_event {
    uint64_t issue_cycle; /* the unit took it from its queue (cycles since npu_sim_open) */
    uint64_t end_cycle;   /* it finished */
    uint32_t unit;        /* enum npu_unit */
    uint32_t index;       /* its index in the job (an ISA job's instruction, an op job's descriptor) */
    uint32_t op;          /* enum isa_op */
    uint32_t outcome;     /* enum npu_sim_insn_outcome */
} npu_sim_insn_event;

typedef void (*npu_sim_insn_hook)(void *ctx, const npu_sim_insn_event *ev);
void npu_sim_set_insn_hook(npu_sim *s, npu_sim_insn_hook hook, void *ctx);

/* The op memo (a simulation fast-forward, sim/README.md): with npu.overlap off, a timing-only op
 * whose descriptor (its places in memory normalised) and surviving device state equal those of
 * an op simulated before on the same configuration takes that op's span and counter growth
 * instead of being simulated again; cycles, counters, per-op profiles and firmware logs are the
 * same either way. Process-wide, kept across opens with a byte-identical configuration. On by
 * default unless the environment variable M4NPU_OP_MEMO is 0 or off (read once); off empties it.
 * Never used with RTL tiles or an instruction hook. */
void npu_sim_set_op_memo(int on);
/* Ops replayed from the memo, and ops simulated while it was on, since the process started. */
void npu_sim_op_memo_counts(uint64_t *replayed, uint64_t *simulated);

/* The control core's run-ahead (sim/README.md): while nothing else can happen in the simulation
 * before a dispatch's time and the host cannot look at the device before it (no process runnable,
 * no notification due until after it, the host's run lasting past it, the interrupt line low), the
 * control core charges its cycles per instruction without a SystemC wait
 * and pushes to a busy unit's queue at once; any other firmware call first waits for the
 * simulation to catch up. Every time, counter and instruction event is the same as with a wait per
 * instruction; it only saves the kernel's work. Process-wide, on by default unless the
 * environment variable M4NPU_RUN_AHEAD is 0 or off (read once). */
void npu_sim_set_run_ahead(int on);
/* Dispatches (hal_spend_push) since the process started that ran ahead, and that waited. */
void npu_sim_run_ahead_counts(uint64_t *ran_ahead, uint64_t *waited);

/* The RTL tile sizes Verilated into this build, which rtl mode can simulate (comma-separated):
 * the matmul tile's "ROWSxCOLS" ("16x16") and the softmax tile's "LANES lanes/MAX_LEN"
 * ("4 lanes/512"). A device configured with another size refuses to open, naming these. */
const char *npu_sim_rtl_matmul_sizes(void);
const char *npu_sim_rtl_softmax_sizes(void);

/* The fast model's latency of one compute instruction (mm, mm.cfg, sm, v.*) under cfg: what a
 * fast unit waits (sim/README.md). `m4npu calibrate` compares it with the RTL tiles. */
uint64_t npu_sim_fast_cycles(const isa_insn *in, const npu_device_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
