/* fw_ops.h -- what the operator kernels share (internal to firmware/src/ops/).
 *
 * An NPU_JOB_OPS job is a list of op descriptors (npu_abi.h). Like NVDLA's firmware, each
 * operator family has one file that fills the same small table entry: `check` validates a
 * descriptor against the device's limits (a refusal becomes NPU_FAULT_BAD_OP naming the
 * descriptor), `emit` expands it into ISA pushed to the unit queues. The helpers here are the
 * vocabulary the kernels speak: tensor checks, an SRAM bump allocator, instruction emission
 * (validated, charged, pushed), DMA and vector instructions split to the ISA's field limits,
 * and pipelines of SRAM slots ordered only by signal/wait semaphores, which give double
 * buffering: the loads of item i+1 overlap the compute of item i.
 *
 * Emission is sticky: after the first failure (a unit fault, a reset, the watchdog, or a kernel
 * bug caught by validation) every later emit is a no-op and fw_ops_run() reports the failure, so
 * kernels emit without checking every call. A kernel never reads tensor data, so the stream of
 * instructions (and therefore the timing) never depends on it.
 */
#ifndef M4NPU_FW_OPS_H
#define M4NPU_FW_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "fw.h"

#define FW_WHY_BYTES 192         /* a refusal's reason */
#define FW_SRAM_ALIGN_BYTES 64   /* every SRAM region starts on this boundary */
#define FW_SEMAPHORES 32         /* the ISA's 5-bit semaphore index */
#define FW_PIPE_MAX_SLOTS 4
#define FW_PIPE_MAX_STAGES 5 /* the fused attention's blk pipe: DMA, mm, vec, sm, mm */
/* Streaming kernels' slots are at most this size (fw_chunk_rows chooses by modelled cost below). */
#define FW_CHUNK_TARGET_BYTES (1024u * 1024u)
#define FW_STREAM_SLOTS 3 /* load, compute and store of three chunks overlap */

/* The largest value of an ISA field, read from the table (never restated here). */
#define FW_FIELD_MAX(ID, FLD) ((uint64_t)isa_desc(ISA_OP_##ID)->fields[ISA_F(ID, FLD)].max)

struct fw_overlap;

/* The state of one op while it is checked or expanded. */
typedef struct fw_op_ctx {
    fw *f;
    const hal_device_info *info;
    const npu_buf_entry *bufs;
    uint32_t nbufs;
    uint32_t cmd_flags;   /* enum hal_cmd_flags for every instruction (timing only) */
    uint32_t index;       /* the descriptor's index in the job: fault reports name it */
    fw_job_result *res;
    uint32_t sram_used;   /* bytes handed out by fw_sram_alloc */
    uint32_t sems_used;
    uint32_t mm_bias;     /* bias address of the last mm.cfg, for SRAM footprint checks */
    hal_status st;        /* first HAL failure while emitting */
    int bug;              /* a kernel emitted an instruction that does not validate */
    /* npu.overlap: on (fw_overlap.c); all zero when off */
    struct fw_overlap *ovl; /* the job's cross-op state */
    uint32_t sram_base;     /* the op's SRAM region starts here (info->sram_bytes long) */
    uint32_t sem_base;      /* the op's first semaphore (kernel semaphores rotate) */
    int fencing;            /* emitting a fence: no footprint, no ordering */
    int dry;                /* a trial emission: validate and plan, push nothing */
    uint64_t dry_insns, dry_dram_bytes; /* what a trial would have dispatched and moved */
} fw_op_ctx;

typedef struct fw_op_kernel {
    const char *name;
    /* 0 if the kernel can run d on this device; else -1 with the reason in why. */
    int (*check)(fw_op_ctx *c, const npu_op_desc *d, char *why, size_t whylen);
    /* Expand d (already checked) into ISA. */
    void (*emit)(fw_op_ctx *c, const npu_op_desc *d);
    /* Say in a few words how d (already checked) is tiled, for the job's per-op log lines
     * (NPU_JOB_F_LOG_OPS), as NVDLA's engines dump their configuration; NULL: nothing to say. */
    void (*describe)(fw_op_ctx *c, const npu_op_desc *d, char *buf, size_t len);
} fw_op_kernel;

#define FW_DESCRIBE_BYTES 160 /* a kernel's description of its tiling, in a log line */

/* The kernels, one per family (one file each). */
extern const fw_op_kernel fw_kernel_matmul;    /* op_matmul.c */
extern const fw_op_kernel fw_kernel_conv2d;    /* op_conv.c */
extern const fw_op_kernel fw_kernel_softmax;   /* op_softmax.c */
extern const fw_op_kernel fw_kernel_binary;    /* op_eltwise.c */
extern const fw_op_kernel fw_kernel_unary;     /* op_eltwise.c */
extern const fw_op_kernel fw_kernel_norm;      /* op_norm.c */
extern const fw_op_kernel fw_kernel_reduce;    /* op_reduce.c */
extern const fw_op_kernel fw_kernel_transpose; /* op_move.c */
extern const fw_op_kernel fw_kernel_copy;      /* op_move.c */
extern const fw_op_kernel fw_kernel_attention; /* op_attention.c */
extern const fw_op_kernel fw_kernel_group_conv2d;  /* op_gconv.c */
extern const fw_op_kernel fw_kernel_pool;          /* op_pool.c */
extern const fw_op_kernel fw_kernel_pad;           /* op_pad.c */
extern const fw_op_kernel fw_kernel_resize;        /* op_resize.c */
extern const fw_op_kernel fw_kernel_activation;    /* op_act.c */
extern const fw_op_kernel fw_kernel_channel_affine; /* op_act.c */

/* The kernel of an op code already checked by fw_ops_run (fw_ops.c). */
const fw_op_kernel *fw_ops_kernel(uint32_t op);

/* ---------------------------------------------------------------- overlap across ops
 * (fw_overlap.c; npu.overlap: on). Footprint of the instructions one unit was given by one op
 * (or by several merged): SRAM bytes [sram_lo, sram_hi), DRAM spans read and written (device
 * addresses), semaphores used. */
#define FW_OVL_SPANS 8        /* DRAM spans kept apart per footprint; more are merged (wider) */
#define FW_OVL_FENCE_SEMS 6   /* semaphores kept for fences between ops, one per (unit, unit) pair */
#define FW_OVL_KERNEL_SEMS (FW_SEMAPHORES - FW_OVL_FENCE_SEMS)
#define FW_QUEUE_UNITS NPU_UNIT_CTRL /* DMA0 .. VEC: the units with queues */
#define FW_OVL_HISTORY 4      /* earlier ops whose footprints are kept apart; older ones merged */
/* An op takes half the SRAM only if its plan there dispatches at most NUM/DEN times the
 * instructions of its plan in the whole SRAM (and moves no more DRAM bytes). */
#define FW_OVL_HALF_INSNS_NUM 5
#define FW_OVL_HALF_INSNS_DEN 4
typedef struct fw_span {
    uint64_t lo, hi;
    uint32_t buf; /* the job's buffer entry the span lies in */
} fw_span;
typedef struct fw_footprint {
    int used;
    uint32_t last_op; /* the latest op merged in */
    uint64_t sram_lo, sram_hi;
    uint32_t sems; /* bit s: semaphore s */
    uint32_t nrd, nwr;
    int dram_all; /* spans of some buffer did not fit: the reads and writes cover all DRAM */
    fw_span rd[FW_OVL_SPANS], wr[FW_OVL_SPANS];
} fw_footprint;
typedef struct fw_overlap {
    fw *f;
    hal_device_info info; /* what the current op's kernel sees (its SRAM region's size) */
    int64_t op;           /* the op being emitted */
    fw_footprint cur[FW_QUEUE_UNITS];
    fw_footprint hist[FW_OVL_HISTORY][FW_QUEUE_UNITS]; /* op k at k % FW_OVL_HISTORY */
    fw_footprint old[FW_QUEUE_UNITS];                  /* every op before those, merged */
    /* synced[u][v]: every instruction of ops <= synced[u][v] on unit v completes before the next
     * instruction pushed to unit u runs */
    int64_t synced[FW_QUEUE_UNITS][FW_QUEUE_UNITS];
    int8_t fence_sem[FW_QUEUE_UNITS][FW_QUEUE_UNITS]; /* [v][u]: orders v before u; -1 none yet */
    uint32_t fence_sems_used;
    uint32_t sem_next;        /* the next op's first kernel semaphore */
    uint64_t prev_lo, prev_hi; /* SRAM the previous op touched */
    int exclusive;        /* the current op needs more than FW_OVL_KERNEL_SEMS: drained before and after */
    uint64_t fences, drains, regions, exclusives; /* fences emitted, drains for want of a fence semaphore,
                                                     ops in half the SRAM, ops run alone */
} fw_overlap;
void fw_overlap_init(fw_overlap *o, fw *f);
/* Choose op's SRAM region and first semaphore (a trial emission says whether the op fits in half
 * the SRAM and how many semaphores it needs); points c at them. An op that needs more semaphores
 * than kernels may use while others run is run alone: the units are drained first (a failure is
 * in c->st). */
void fw_overlap_begin_op(fw_overlap *o, fw_op_ctx *c, const npu_op_desc *op);
/* Op c->index is emitted: its footprints become history (an op run alone: drained). */
hal_status fw_overlap_end_op(fw_overlap *o, fw_op_ctx *c);
/* Before `in` goes to unit u: fence it after every earlier op's conflicting work; record it. */
void fw_overlap_order(fw_op_ctx *c, const isa_insn *in, unsigned u);

/* ---------------------------------------------------------------- refusals and tensors */

/* Write a reason into why and return -1. */
int fw_refuse(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Bytes per element of a dtype (i4: 0, it is packed). */
uint32_t fw_dtype_bytes(uint32_t dtype);
const char *fw_dtype_name(uint32_t dtype);
/* Elements of a tensor (product of its dims). */
uint64_t fw_numel(const npu_tensor_ref *t);
/* Bytes of a row-major tensor (i4: two per byte along the innermost dimension, rows rounded up). */
uint64_t fw_tensor_bytes(const npu_tensor_ref *t);
/* rank 1..NPU_MAX_RANK, every dim >= 1, at most 2^48 elements. */
int fw_check_shape(const npu_tensor_ref *t, const char *what, char *why, size_t whylen);
/* The shape is sane (rank 1..NPU_MAX_RANK, dims >= 1) and [offset, offset + bytes) lies inside its
 * buffer and within reach of a DMA offset. `what` names the operand in the reason. */
int fw_check_ref(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, uint64_t bytes, char *why,
                 size_t whylen);
/* An activation: dtype i8 or i16 (with a finite scale > 0), f16 or f32, row-major, checked as above. */
int fw_check_act(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, char *why, size_t whylen);
/* An f32 parameter vector of n elements (gamma, beta, bias). */
int fw_check_f32_vec(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, uint64_t n, char *why,
                     size_t whylen);
/* Per-channel scales of t along `axis` (count f32 values at scales_buf/scales_offset). */
int fw_check_scales(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, uint64_t count, char *why,
                    size_t whylen);
/* Map epsilon to the ISA's 10^-e exponent; -1 if it is not a power of ten the ISA can express. */
int fw_eps_exponent(float eps);


/* ---------------------------------------------------------------- SRAM and semaphores */

/* Round up to FW_SRAM_ALIGN_BYTES. */
uint64_t fw_align(uint64_t bytes);
/* An aligned SRAM region; a plan that does not fit is a kernel bug (recorded, returns 0). */
uint32_t fw_sram_alloc(fw_op_ctx *c, uint64_t bytes);
uint32_t fw_sem_alloc(fw_op_ctx *c);

/* Items (rows) per slot so that nslots slots of rows * row_bytes fit in `avail` bytes, at most
 * FW_CHUNK_TARGET_BYTES per slot (unless one row is more) and at most total, chosen by modelled
 * cost (pipeline fill and drain against per-chunk costs). 0 if one row does not fit. */
uint64_t fw_chunk_rows(uint64_t avail, uint32_t nslots, uint64_t row_bytes, uint64_t total);
/* Planning estimates, used only to rank candidate tilings by modelled cost (issue 14: more SRAM
 * must never make an op slower). The firmware is not told the DRAM's speed; being constants, these
 * make a kernel's choice the same at every SRAM size where its best candidate fits, and where it
 * does not, the larger SRAM's candidates include the smaller's, so its choice is modelled no worse.
 * Values: mobile-default's order of magnitude. */
#define FW_PLAN_DRAM_BYTES_PER_CYCLE 32u /* 51.2 GB/s x 0.75 efficiency / 1.066 GHz = 36 B per NPU cycle */
#define FW_PLAN_DRAM_BURST_BYTES 64u     /* DRAM moves whole bursts: a short row costs a burst */
#define FW_PLAN_DMA_SETUP_CYCLES 32u     /* a transfer's setup on its channel */
#define FW_PLAN_DMA_LATENCY_CYCLES 117u  /* its first byte (110 ns at 1066 MHz): a channel waits for it,
                                          * transfers on other channels overlap it */
/* The control core's time per instruction it dispatches, in NPU cycles (12 control-core cycles at
 * half the NPU clock): a plan of many small tiles can be bound by it. */
#define FW_PLAN_CYCLES_PER_INSN 24u
/* A streaming chunk's fixed cost in each stage: its transfer's setup, and its ~8 instructions (DMA,
 * conversions, the slot's signals and waits). */
#define FW_PLAN_CHUNK_FIXED_CYCLES (FW_PLAN_DMA_SETUP_CYCLES + 8u * FW_PLAN_CYCLES_PER_INSN)
/* Modelled NPU cycles the DRAM spends on `rows` rows of `row_bytes` (each rounded up to whole
 * bursts; one row: a contiguous run), and how long one DMA of them takes on its channel (setup,
 * first-byte latency and the data). */
uint64_t fw_plan_dram_cycles(uint64_t rows, uint64_t row_bytes);
uint64_t fw_plan_dma_cycles(uint64_t rows, uint64_t row_bytes);
/* Modelled cycles of n items through a pipe of `slots` SRAM slots whose stages take stage[0..nstages)
 * cycles per item: the first item goes through every stage (fill and drain), then one item every
 * `pace`: the slowest unit (pace_floor: what the caller knows bounds it, e.g. the DRAM's time or
 * the control core's) or, when the slots are fewer than the stages keep busy, the sum of the
 * stages over the slots. */
uint64_t fw_plan_pipeline_cycles(uint64_t n, const uint64_t *stage, unsigned nstages, uint32_t slots,
                                 uint64_t pace_floor);

/* SRAM bytes not yet allocated. */
uint64_t fw_sram_free(const fw_op_ctx *c);

/* DMA queues: loads use channels [0, fw_load_channels()), stores the last channel (shared with
 * loads when the device has one channel). */
uint32_t fw_load_channels(const fw_op_ctx *c);
unsigned fw_load_queue(const fw_op_ctx *c, uint32_t i); /* the i-th load channel, round robin */
unsigned fw_store_queue(const fw_op_ctx *c);

/* ---------------------------------------------------------------- emission */

/* Validate (fields, device limits, SRAM bounds), charge the control core's dispatch cost, and
 * push to the instruction's unit queue. */
void fw_emit(fw_op_ctx *c, const isa_insn *in);
/* Nothing more will be emitted (a failure is recorded). */
int fw_stopped(const fw_op_ctx *c);

void fw_signal(fw_op_ctx *c, unsigned unit, uint32_t sem);
void fw_wait(fw_op_ctx *c, unsigned unit, uint32_t sem);

/* A 2-D DMA of rows x cols bytes: DRAM at buffer `buf` + off with pitch dstride, SRAM at sram with
 * pitch sstride. Split into as many instructions as the field widths require. */
void fw_dma(fw_op_ctx *c, int load, unsigned q, uint32_t buf, uint32_t sram, uint64_t off, uint64_t rows,
            uint64_t cols, uint64_t dstride, uint64_t sstride);
/* `bytes` contiguous bytes both sides, in long rows (at most two instructions). */
void fw_dma_flat(fw_op_ctx *c, int load, unsigned q, uint32_t buf, uint32_t sram, uint64_t off, uint64_t bytes);
/* Instructions fw_dma_flat emits for `bytes` (for planning). */
uint32_t fw_dma_flat_count(uint64_t bytes);

/* One mm: output-stationary (m <= array rows, k streams) or weight-stationary (ws: k <= array
 * rows, m streams). */
void fw_mm(fw_op_ctx *c, int ws, int acc, int int4, uint32_t m, uint32_t n, uint32_t k, uint32_t a, uint32_t b,
           uint32_t dst);
/* The same with operand types (isa_table.def MMT: ISA_MMT_I8, I16, F16) for A and B. */
void fw_mm_typed(fw_op_ctx *c, int ws, int acc, int int4, int64_t at, int64_t bt, uint32_t m, uint32_t n, uint32_t k,
                 uint32_t a, uint32_t b, uint32_t dst);
/* The mm operand type of a tensor's dtype (i8 and i4: ISA_MMT_I8), and its bytes per element
 * (i4: 0, packed). */
int64_t fw_mm_type(uint32_t dtype);
typedef struct fw_out_stage fw_out_stage; /* an epilogue in the output stage (below) */
/* The same with rq: the output stage requantises as the last mm.out loaded it (int8 C, pitch n); an
 * integer mode (at, bt not F16). */
void fw_mm_rq(fw_op_ctx *c, int ws, int acc, int int4, int64_t at, int64_t bt, uint32_t m, uint32_t n, uint32_t k,
              uint32_t a, uint32_t b, uint32_t dst);
/* Load the output stage: n records at prm (axis_row: they serve rows), the clamp and the table. */
void fw_mm_out(fw_op_ctx *c, const fw_out_stage *st, int axis_row, uint32_t prm, uint32_t n, uint32_t tab);
void fw_sm(fw_op_ctx *c, int causal, uint32_t src, uint32_t dst, uint32_t len, uint32_t rows, uint32_t scale,
           int32_t moff);
/* Vector instructions on f32 data. Flat forms take n elements and split them to the field widths;
 * row forms keep rows x cols (rows split in chunks, b advanced for BC_COL). */
void fw_vun(fw_op_ctx *c, int64_t fn, uint32_t dst, uint32_t src, uint64_t n, float imm);
void fw_vbin_flat(fw_op_ctx *c, int64_t fn, int scalar_b, uint32_t dst, uint32_t a, uint32_t b, uint64_t n);
void fw_vbin_rows(fw_op_ctx *c, int64_t fn, int64_t bc, uint32_t dst, uint32_t a, uint32_t b, uint64_t rows,
                  uint64_t cols);
void fw_vred(fw_op_ctx *c, int64_t fn, uint32_t dst, uint32_t src, uint64_t rows, uint64_t cols);
void fw_vnorm(fw_op_ctx *c, int64_t fn, int64_t aff, uint32_t dst, uint32_t src, uint32_t prm, uint64_t rows,
              uint64_t cols, int eps_exp);
void fw_vquant(fw_op_ctx *c, uint32_t dst, uint32_t src, uint64_t n, float scale);
void fw_vdequant(fw_op_ctx *c, int64_t sdt, uint32_t dst, uint32_t src, uint64_t n, float scale);
/* v.cvt of n elements (isa_table.def CDT types), split to the n field; dst may equal src. */
void fw_vcvt(fw_op_ctx *c, int64_t sdt, int64_t ddt, uint32_t dst, uint32_t src, uint64_t n, float scale);
void fw_vmov(fw_op_ctx *c, int transpose, uint32_t esz_bytes, uint32_t dst, uint32_t src, uint64_t rows,
             uint64_t cols, uint64_t sstride, uint64_t dstride);
/* Zero n bytes (a multiple of 4) at dst on the vector unit. */
void fw_vzero(fw_op_ctx *c, uint32_t dst, uint64_t bytes);

/* Convert n elements of tensor t's storage type at src into f32 at dst (dst may equal src: a
 * narrower source sits at the start of its f32 destination), and back: i8 through v.dequant /
 * v.quant, i16 and f16 through v.cvt (f16 with scale 1). f32 data is copied only when dst != src. */
void fw_to_f32(fw_op_ctx *c, const npu_tensor_ref *t, uint32_t dst, uint32_t src, uint64_t n);
void fw_from_f32(fw_op_ctx *c, const npu_tensor_ref *t, uint32_t dst, uint32_t src, uint64_t n);
/* ---------------------------------------------------------------- pipelines
 * A pipe is a ring of SRAM slots that `total` items pass through in order, each item visiting
 * stages 0..nstages-1 (e.g. load -> compute -> store), each stage on one unit. Stage k of an
 * item waits until stage k-1 of the same item is done; stage 0 of item i waits until the last
 * stage of item i - nslots has freed the slot. One semaphore per (stage, slot), so stages may
 * run on different queues (round-robin DMA channels) without stealing each other's signals.
 * Emission in item order is a valid sequential schedule, hence no deadlock; the queues then run
 * ahead of each other by up to nslots items. */
typedef struct fw_pipe {
    uint32_t nslots, nstages, total;
    uint32_t slot_bytes;
    uint32_t addr[FW_PIPE_MAX_SLOTS];
    uint32_t sem[FW_PIPE_MAX_STAGES][FW_PIPE_MAX_SLOTS];
    uint32_t count[FW_PIPE_MAX_STAGES]; /* items that entered each stage */
} fw_pipe;


/* nslots is clamped to total (at least 1). Allocates the slots and the semaphores. */
void fw_pipe_init(fw_op_ctx *c, fw_pipe *p, uint32_t nslots, uint32_t nstages, uint64_t slot_bytes,
                  uint32_t total);
/* Stage `stage` of the next item on `unit`: emits its wait; returns the item's slot address. */
uint32_t fw_pipe_begin(fw_op_ctx *c, fw_pipe *p, uint32_t stage, unsigned unit);
/* The slot of the next item to enter `stage` (no instruction). */
uint32_t fw_pipe_slot(const fw_pipe *p, uint32_t stage);
uint32_t fw_pipe_slot_index(const fw_pipe *p, uint32_t stage);
/* Stage `stage` of the current item is done on `unit`: emits its signal (unless nobody waits). */
void fw_pipe_end(fw_op_ctx *c, fw_pipe *p, uint32_t stage, unsigned unit);

/* ---------------------------------------------------------------- activations and epilogues
 * (fw_epilogue.c) */

/* A fused activation (enum npu_act: NONE .. HARDSIGMOID, in place, no temporary); 0, or -1 with the
 * reason. */
int fw_check_fused_act(int32_t act, char *why, size_t whylen);
/* The activation act (a fused kind) in place over n f32 elements; prm = its parameters (fattr). */
void fw_activation(fw_op_ctx *c, int32_t act, const float *prm, uint32_t addr, uint64_t n);

/* The per-channel epilogue of the convolutions (CONV2D, GROUP_CONV2D) and of CHANNEL_AFFINE, over
 * rows = channels x cols positions (README.md, "CONV2D"): load turns the products into f32 at dst,
 * finish applies the per-channel scales (column broadcast at prm), the bias (at prm + bias_off),
 * the activation and the conversion to the output's type, in place at dst. Two calls so that a
 * kernel can free the products' slot between them. */
typedef struct fw_epilogue {
    float s_deq;            /* the products' scale: in0's (per-channel weights) or in0's x in1's */
    int per_channel, bias;
    uint32_t bias_off;      /* bytes from the scales to the bias in the parameter area */
    int32_t act;
    const float *act_prm;   /* the activation's parameters (the descriptor's fattr) */
    const npu_tensor_ref *out;
} fw_epilogue;
/* sdt: ISA_SDT_I32 (int32 products), ISA_SDT_I8 (an int8 tensor's values) or FW_EPILOGUE_F32_SUMS
 * (the array's f16 mode: f32 sums, converted by v.cvt times s_deq). */
#define FW_EPILOGUE_F32_SUMS (-1)
void fw_epilogue_load(fw_op_ctx *c, const fw_epilogue *ep, int64_t sdt, uint32_t dst, uint32_t src, uint64_t n);
void fw_epilogue_finish(fw_op_ctx *c, const fw_epilogue *ep, uint32_t dst, uint32_t prm, uint64_t rows,
                        uint64_t cols);

/* The other form of a MATMUL's or CONV2D's epilogue (ABI 1.7), on the matmul tile instead of the
 * vector unit: in2 of dtype i32 holds `channels` mm.out records (12 bytes: int32 bias, mult, shift)
 * and, for an activation other than none and relu (relu is the clamp), the 256-entry int8 table after them
 * (npu_abi.h, README.md "Output stage"). The kernel then loads a tile's records, emits mm.out
 * before the tile's last products, makes those `mm ... rq`, and stores the int8 results from the C
 * slot; load and finish above are not used. */
struct fw_out_stage {
    int on;             /* in2 is output-stage parameters (else the vector unit's f32 epilogue) */
    int lut;            /* the activation is the table (any but none and relu) */
    int32_t lo, hi;     /* clamp bounds: relu 0..127, else -128..127 */
    uint64_t tab_off;   /* the table's offset in in2's buffer */
};
/* Read d's epilogue form; with output-stage parameters, check them (the device's stage is switched
 * on, integer products (no f16 operand), the output is i8, in2 has exactly the records and table).
 * 0 or -1 with the reason. */
int fw_check_out_stage(const fw_op_ctx *c, const npu_op_desc *d, uint64_t channels, int32_t act, fw_out_stage *st,
                       char *why, size_t whylen);
/* The output stage's table (the 256 bytes after in2's records) into a one-item pipe `tab`: loaded
 * once per op; the matmul tile waits for it here. Returns its SRAM address; the caller ends stage
 * 1 on NPU_UNIT_MM after the op's last mm.out. */
uint32_t fw_load_table(fw_op_ctx *c, fw_pipe *tab, const npu_op_desc *d, const fw_out_stage *st);

/* ---------------------------------------------------------------- im2col (fw_im2col.c)
 * The convolutions' and the pools' operand: for one segment of output positions (one output
 * row's run, or any run of a 1x1 stride-1 window) and a range of input channels, the rows
 * [(kh * KW + kw) * cc + c][n] of every window tap, built in SRAM by the DMA (stride 1: one
 * strided DMA per tap; a horizontal stride s: runs of s times the length into a staging area,
 * then one v.mov transpose per run that de-interleaves the s phases). */
typedef struct fw_im2col {
    const npu_tensor_ref *x;    /* i8, i16 or f16 [N, C, H, W], already padded */
    uint32_t esz;               /* x's bytes per element: the rows and DMA runs are in elements */
    uint64_t c, h, w, kh, kw, sh, sw;
    uint64_t qblocks;           /* sw > 1: kernel columns in blocks of sw phases */
    int flat;                   /* a 1x1 stride-1 window: positions in any run */
    /* wide: a stride-1 window whose positions run across output rows in the input's width: position
     * p = oh * W + ow reads x[kh * W + kw + p], so one DMA per tap moves a long run of every
     * channel; positions with ow >= OW are computed and dropped (fw_im2col_compact) */
    int wide;
    uint64_t oh, ow;
} fw_im2col;
/* Fill in the geometry; flat when the window allows it and allow_flat. */
void fw_im2col_init(fw_im2col *g, const npu_tensor_ref *x, uint64_t kh, uint64_t kw, uint64_t sh, uint64_t sw,
                    int allow_flat);
/* Use wide runs when the window has stride 1 (and is not flat), for an output of oh x ow. */
void fw_im2col_allow_wide(fw_im2col *g, uint64_t oh, uint64_t ow);
/* Flat and wide modes: the positions of one image, iterated in runs (flat: OH*OW; wide:
 * (OH - 1) * W + OW). Row mode: 0. */
uint64_t fw_im2col_positions(const fw_im2col *g);
/* The output positions a run [p0, p0 + n) holds: a contiguous range [*first, *first + *count) of
 * the output plane (wide runs drop their columns past OW). */
void fw_im2col_outputs(const fw_im2col *g, uint64_t p0, uint64_t n, uint64_t *first, uint64_t *count);
/* Wide runs: move the valid positions of rows x n elements (esz bytes, pitch n) at src to rows x
 * count at dst (pitch count) with one v.mov per output row the run touches; dst must not overlap src. */
void fw_im2col_compact(fw_op_ctx *c, const fw_im2col *g, uint32_t esz, uint32_t dst, uint32_t src, uint64_t rows,
                       uint64_t p0, uint64_t n);
/* Bytes of one slot for cc channels and n positions of esz-byte elements (the rows, and the
 * strided staging area). */
uint64_t fw_im2col_slot_bytes(const fw_im2col *g, uint64_t cc, uint64_t n);
/* Producer stages of the slot's pipe: 1 (DMA), or 2 (DMA, then the vector unit's de-interleave). */
uint32_t fw_im2col_stages(const fw_im2col *g);
/* The DMAs one fw_im2col_load emits, their modelled cycles for cc channels and n positions, and
 * its de-interleave's v.mov instructions (0 unless strided): what a plan that loads the segment
 * again pays for it. */
uint64_t fw_im2col_dmas(const fw_im2col *g);
uint64_t fw_im2col_plan_cycles(const fw_im2col *g, uint64_t cc, uint64_t n); /* one after another on a channel */
uint64_t fw_im2col_plan_dram(const fw_im2col *g, uint64_t cc, uint64_t n);   /* the DRAM's time for them */
uint64_t fw_im2col_vmovs(const fw_im2col *g);
/* The largest n a strided de-interleave of cc channels takes (UINT64_MAX when not strided). */
uint64_t fw_im2col_max_positions(const fw_im2col *g, uint64_t cc);
/* Build the segment (image img, output row oh, positions ow0 .. ow0 + n - 1; flat and wide:
 * positions ow0.. of fw_im2col_positions) for channels [c0, c0 + cc) into the next slot of pipe b
 * (its producer stages); returns the slot. */
uint32_t fw_im2col_load(fw_op_ctx *c, const fw_im2col *g, fw_pipe *b, uint64_t img, uint64_t oh, uint64_t ow0,
                        uint64_t n, uint64_t c0, uint64_t cc);

#endif
