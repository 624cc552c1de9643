/* npu_abi.h -- the contract between the host driver, the NPU firmware and the device: MMIO
 * register map, command-queue entry (job descriptor), buffer table, completion record, fault and
 * status codes, and the firmware log ring. Versioned: a change to any layout here bumps
 * NPU_ABI_VERSION_MAJOR; additions that old readers can ignore bump the minor.
 *
 * Both runtime/driver and firmware include this header and nothing else of each other. All
 * multi-byte fields are little-endian; every struct has a fixed size checked below.
 */
#ifndef M4NPU_NPU_ABI_H
#define M4NPU_NPU_ABI_H

#include <stdint.h>

#define NPU_ABI_VERSION_MAJOR 1
#define NPU_ABI_VERSION_MINOR 7 /* 1.1: op descriptors (NPU_JOB_OPS); 1.2: a reset drops the running
                                   job (NPU_JOB_ABORTED, NPU_REG_CQ_RUNNING), unit state registers;
                                   1.3: NPU_OP_ATTENTION; 1.4: per-op profile (profile_addr,
                                   npu_op_profile) and per-op log lines (NPU_JOB_F_LOG_OPS);
                                   1.5: the CNN ops (GROUP_CONV2D .. CHANNEL_AFFINE),
                                   activations with parameters (CLIP ...);
                                   1.6: i16 and f16 tensors (NPU_DT_I16, NPU_DT_F16), per-group
                                   weight scales (MATMUL iattr[3]);
                                   1.7: output-stage epilogues (MATMUL and CONV2D in2 of dtype
                                   NPU_DT_I32) */
#define NPU_ABI_VERSION ((NPU_ABI_VERSION_MAJOR << 16) | NPU_ABI_VERSION_MINOR)

#define NPU_DEVICE_ID 0x504E344Du /* "M4NP" */
#define NPU_HW_VERSION 0x00010000u
#define NPU_RESET_MAGIC 0x52534554u /* "RSET": the only value NPU_REG_RESET accepts */

/* ---------------------------------------------------------------- MMIO registers (32-bit)
 * Who writes each: hw = the device itself, fw = firmware, host = the driver. A device reset
 * (NPU_REG_RESET) returns every register to 0 except the queue and log configuration
 * (CQ_*, LOG_BASE/SIZE) and IRQ_MASK, so queued jobs survive a reset. The job that was running
 * does not run again: the rebooted firmware finds it in CQ_RUNNING, completes it with state
 * NPU_JOB_ABORTED, moves CQ_HEAD past it and raises NPU_IRQ_JOB_DONE; the jobs behind it run. */
enum npu_reg {
    NPU_REG_ID = 0x000,          /* hw: NPU_DEVICE_ID */
    NPU_REG_HW_VERSION = 0x004,  /* hw */
    NPU_REG_ABI_VERSION = 0x008, /* fw at boot: the ABI it speaks */
    NPU_REG_ISA_VERSION = 0x00C, /* fw at boot: (major << 16) | minor */
    NPU_REG_STATUS = 0x010,      /* fw: enum npu_status */
    NPU_REG_DOORBELL = 0x014,    /* host: any write wakes the firmware */
    NPU_REG_CQ_BASE_LO = 0x020,  /* host: device address of the queue (64-byte aligned) */
    NPU_REG_CQ_BASE_HI = 0x024,
    NPU_REG_CQ_SIZE = 0x028,     /* host: entries in the queue (a power of two) */
    NPU_REG_CQ_HEAD = 0x02C,     /* fw: jobs consumed (free-running) */
    NPU_REG_CQ_TAIL = 0x030,     /* host: jobs submitted (free-running) */
    NPU_REG_CQ_RUNNING = 0x034,  /* fw: CQ_HEAD + 1 while the job at CQ_HEAD runs, else 0 (ABI 1.2) */
    NPU_REG_RUN_START_LO = 0x038, /* fw: the NPU cycle that job started (ABI 1.2) */
    NPU_REG_RUN_START_HI = 0x03C,
    NPU_REG_IRQ_STATUS = 0x040,  /* fw sets bits, host clears them through IRQ_ACK */
    NPU_REG_IRQ_MASK = 0x044,    /* host: the line is high while IRQ_STATUS & IRQ_MASK */
    NPU_REG_IRQ_ACK = 0x048,     /* host: write 1s to clear IRQ_STATUS bits */
    NPU_REG_FAULT_CODE = 0x050,  /* fw: enum npu_fault of the last fault */
    NPU_REG_FAULT_ADDR_LO = 0x054,
    NPU_REG_FAULT_ADDR_HI = 0x058,
    NPU_REG_FAULT_INSN = 0x05C,  /* fw: instruction (or op) index in the faulting job */
    NPU_REG_FAULT_UNIT = 0x060,  /* fw: enum npu_unit that faulted */
    NPU_REG_FAULT_JOB = 0x064,   /* fw: job_id of the faulting job */
    NPU_REG_RESET = 0x070,       /* host: write NPU_RESET_MAGIC to reset the device */
    NPU_REG_LOG_BASE_LO = 0x080, /* host: device address of the firmware log ring */
    NPU_REG_LOG_BASE_HI = 0x084,
    NPU_REG_LOG_SIZE = 0x088,    /* host: bytes in the ring (0: no log) */
    NPU_REG_LOG_HEAD = 0x08C,    /* fw: bytes ever written (free-running) */
    NPU_REG_CYCLE_LO = 0x090,    /* hw: NPU cycles since the device was opened */
    NPU_REG_CYCLE_HI = 0x094,
    NPU_REG_UNIT_BASE = 0x100,   /* hw: what each unit is doing now, see NPU_REG_UNIT_STATE() (ABI 1.2) */
    NPU_REG_PERF_BASE = 0x400,   /* hw: 64-bit counters, see NPU_REG_PERF() */
};

/* Performance counters: unit u, counter c at NPU_REG_PERF(u, c) (low word) and +4 (high word). */
enum npu_unit {
    NPU_UNIT_DMA0 = 0, NPU_UNIT_DMA1, NPU_UNIT_DMA2, NPU_UNIT_DMA3,
    NPU_UNIT_MM, NPU_UNIT_SM, NPU_UNIT_VEC,
    NPU_UNIT_CTRL, /* the control core running the firmware */
    NPU_UNIT_COUNT,
    NPU_UNIT_NONE = 0xFF
};
enum npu_counter {
    NPU_CTR_BUSY = 0,   /* cycles executing an instruction (control core: running firmware) */
    NPU_CTR_STALL,      /* cycles blocked in `wait` on a semaphore */
    NPU_CTR_IDLE,       /* cycles with nothing to do: elapsed - busy - stall */
    NPU_CTR_INSNS,      /* instructions completed (control core: dispatched) */
    NPU_CTR_MACS,       /* multiply-accumulates (matmul tile) */
    NPU_CTR_MACS_INT4,  /* of which with int4 weights */
    NPU_CTR_ELEMS,      /* elements processed (softmax tile, vector unit) */
    NPU_CTR_DRAM_RD,    /* bytes read from DRAM (DMA) */
    NPU_CTR_DRAM_WR,    /* bytes written to DRAM (DMA) */
    NPU_CTR_SRAM_RD,    /* bytes read from SRAM */
    NPU_CTR_SRAM_WR,    /* bytes written to SRAM */
    NPU_CTR_JOBS,       /* jobs completed (control core) */
    NPU_CTR_COUNT
};
#define NPU_REG_PERF(u, c) (NPU_REG_PERF_BASE + 8u * ((uint32_t)(u) * NPU_CTR_COUNT + (uint32_t)(c)))
#define NPU_MMIO_BYTES (NPU_REG_PERF(NPU_UNIT_COUNT, 0))

/* Unit state, for units DMA0..VEC (the control core has none): NPU_REG_UNIT_STATE(u) holds an
 * enum npu_unit_state, NPU_REG_UNIT_INSN(u) the index (in its job) of the instruction or op the
 * unit is on, when it is not idle. What a driver names when a job does not complete in time. */
#define NPU_REG_UNIT_STATE(u) (NPU_REG_UNIT_BASE + 8u * (uint32_t)(u))
#define NPU_REG_UNIT_INSN(u) (NPU_REG_UNIT_STATE(u) + 4u)
enum npu_unit_state {
    NPU_UNIT_STATE_IDLE = 0,    /* nothing queued, nothing running */
    NPU_UNIT_STATE_BUSY = 1,    /* executing an instruction (or one is queued) */
    NPU_UNIT_STATE_STALLED = 2, /* in a `wait` on a semaphore that is 0 */
};

enum npu_status {
    NPU_STATUS_OFF = 0,   /* before the firmware has booted */
    NPU_STATUS_IDLE = 1,  /* waiting for the doorbell */
    NPU_STATUS_BUSY = 2,  /* running a job */
    NPU_STATUS_FAULT = 3, /* stopped after a fault; a reset resumes with the next queued job */
};

enum npu_irq {
    NPU_IRQ_JOB_DONE = 1u << 0, /* a job completed (successfully or not) */
    NPU_IRQ_FAULT = 1u << 1,    /* the device stopped on a fault */
};

/* ---------------------------------------------------------------- faults */
enum npu_fault {
    NPU_FAULT_NONE = 0,
    NPU_FAULT_BAD_JOB,        /* descriptor: magic, ABI version, type, sizes or alignment */
    NPU_FAULT_BAD_BUFFER,     /* a buffer-table entry outside device memory */
    NPU_FAULT_ILLEGAL_INSN,   /* an instruction that does not decode or violates its constraints */
    NPU_FAULT_LIMIT,          /* an instruction beyond this device's limits (tile size, channels) */
    NPU_FAULT_SRAM_OVERFLOW,  /* an instruction touching SRAM beyond its end */
    NPU_FAULT_DMA_OOB,        /* a DMA reaching outside its buffer */
    NPU_FAULT_WATCHDOG,       /* units made no progress within the watchdog limit */
    NPU_FAULT_UNIT,           /* a unit failed internally (e.g. the RTL tile) */
    NPU_FAULT_BAD_OP,         /* an op descriptor the firmware cannot run */
    NPU_FAULT_COUNT
};

/* ---------------------------------------------------------------- jobs */
#define NPU_JOB_MAGIC 0x424F4A4Eu /* "NJOB" */
#define NPU_JOB_DESC_BYTES 64
#define NPU_MAX_BUFFERS 16 /* the ISA's 4-bit buffer index */

enum npu_job_type {
    NPU_JOB_ISA = 1, /* program = ISA instructions (16 bytes each) */
    NPU_JOB_OPS = 2, /* program = op descriptors, expanded by the firmware's kernels */
};

enum npu_job_flags {
    NPU_JOB_F_TIMING_ONLY = 1u << 0, /* account every cycle and byte, move and compute no data */
    NPU_JOB_F_LOG_OPS = 1u << 1,     /* ABI 1.4, NPU_JOB_OPS: one log line per op descriptor (its
                                        kernel, its tiling, its cycles), at most NPU_LOG_OPS_PER_JOB
                                        lines per job, then one line counting the rest */
};
#define NPU_LOG_OPS_PER_JOB 64

/* One command-queue entry. */
typedef struct npu_job_desc {
    uint32_t magic;           /* NPU_JOB_MAGIC */
    uint32_t abi_version;     /* NPU_ABI_VERSION */
    uint32_t type;            /* enum npu_job_type */
    uint32_t flags;           /* enum npu_job_flags */
    uint32_t job_id;          /* host's sequence number; echoed in the completion */
    uint32_t program_bytes;
    uint64_t program_addr;    /* device address */
    uint64_t buftab_addr;     /* device address of nbufs npu_buf_entry */
    uint32_t nbufs;           /* <= NPU_MAX_BUFFERS */
    uint32_t reserved0;
    uint64_t completion_addr; /* device address of an npu_job_completion */
    uint64_t profile_addr;    /* ABI 1.4, NPU_JOB_OPS: device address of one npu_op_profile per op
                                 descriptor (program_bytes / sizeof(npu_op_desc) of them), or 0 for
                                 none */
} npu_job_desc;

typedef struct npu_buf_entry {
    uint64_t addr; /* device address */
    uint64_t size; /* bytes */
} npu_buf_entry;

enum npu_job_state {
    NPU_JOB_PENDING = 0, /* the host writes this before submitting */
    NPU_JOB_DONE = 1,
    NPU_JOB_FAILED = 2,
    NPU_JOB_ABORTED = 3, /* dropped by a device reset while it ran; not run again (ABI 1.2). fault
                            is NPU_FAULT_NONE; start_cycle is when it started (RUN_START), end_cycle
                            the reboot */
};

typedef struct npu_job_completion {
    uint32_t job_id;
    uint32_t state;      /* enum npu_job_state */
    uint32_t fault;      /* enum npu_fault */
    uint32_t fault_unit; /* enum npu_unit */
    uint64_t fault_addr; /* device address (DMA), SRAM address (SRAM overflow), or 0 */
    uint32_t fault_insn; /* index of the faulting instruction or op */
    uint32_t reserved;
    uint64_t start_cycle;
    uint64_t end_cycle;
    uint64_t insns;      /* instructions dispatched */
    uint64_t reserved1;
} npu_job_completion;

#ifdef __cplusplus
#define NPU_ABI_STATIC_ASSERT static_assert
#else
#define NPU_ABI_STATIC_ASSERT _Static_assert
#endif
NPU_ABI_STATIC_ASSERT(sizeof(npu_job_desc) == NPU_JOB_DESC_BYTES, "npu_job_desc layout");
NPU_ABI_STATIC_ASSERT(sizeof(npu_buf_entry) == 16, "npu_buf_entry layout");
NPU_ABI_STATIC_ASSERT(sizeof(npu_job_completion) == 64, "npu_job_completion layout");

/* ---------------------------------------------------------------- op descriptors
 * The program of an NPU_JOB_OPS job is an array of npu_op_desc (program_bytes / sizeof). The
 * firmware's operator kernels (firmware/src/ops/, one file per family) expand each descriptor
 * into tiled ISA streams with double-buffered DMA sized to the SRAM, and run the descriptors in
 * order (each one completes before the next starts). A fault names the descriptor's index.
 *
 * Tensors live in the job's buffers, row-major, innermost dimension last. Quantised tensors are
 * symmetric: real = q * scale, zero point 0; a per-channel tensor has one f32 scale per index of
 * `scales_axis`, stored at (scales_buf, scales_offset). int4 is packed two per byte along the
 * innermost dimension, even index in the low nibble. An i16 tensor is symmetric like an i8 one
 * (its own scale); an f16 tensor (IEEE binary16) carries no scale (the field is ignored). The
 * exact arithmetic of every op (order of operations, rounding) is specified in
 * firmware/src/ops/README.md; the runtime's CPU twins compute the same bytes. */
#define NPU_MAX_RANK 4
#define NPU_OP_MAX_INPUTS 3
#define NPU_NO_BUFFER 0xFFFFFFFFu

enum npu_dtype {
    NPU_DT_NONE = 0,
    NPU_DT_I8 = 1,
    NPU_DT_I4 = 2,  /* weights only */
    NPU_DT_I32 = 3,
    NPU_DT_F32 = 4,
    NPU_DT_I16 = 5, /* ABI 1.6: activations (the array's 16 x 8 mode) */
    NPU_DT_F16 = 6, /* ABI 1.6: activations and weights (the array's f16 mode) */
};

enum npu_op {
    NPU_OP_MATMUL = 1, /* out[b,m,n] = sum_k in0[b,m,k] * in1[b',k,n] (+ in2[n]); in1 rank 2 is shared
                          by every batch; iattr[0] = fused activation (enum npu_act, parameters in
                          fattr[0..1]),
                          iattr[1] = storage of in1 (enum npu_layout: ROW_MAJOR or BLOCKED),
                          iattr[2] = block width in columns (BLOCKED), iattr[3] = G > 0 (ABI 1.6):
                          in1's scales are per group of G rows of K and per column, f32
                          [ceil(K / G)][N] at in1's scales_buf (scales_axis = rank - 1).
                          ABI 1.7: in2 of dtype NPU_DT_I32 is the matmul tile's output-stage
                          parameters instead of an f32 bias (N records, then the activation's
                          table unless it is none or relu; integer operands, G = 0, out i8): see
                          firmware/src/ops/README.md, "Output stage" */
    NPU_OP_CONV2D,     /* in0 x[N,C,H,W], in1 w[CO,C,KH,KW], in2 bias[CO] (optional); out [N,CO,OH,OW];
                          iattr: 0 stride_h, 1 stride_w, 2 pad_top, 3 pad_left, 4 pad_bottom, 5 pad_right,
                          6 fused activation (enum npu_act), 7 storage of in1 (enum npu_layout: OHWI);
                          fattr[0..1] = the activation's parameters (ABI 1.5).
                          ABI 1.7: in2 of dtype NPU_DT_I32 as MATMUL's (CO records) */
    NPU_OP_SOFTMAX,    /* over the last axis; iattr[0] = causal mask (0/1), iattr[1] = mask diagonal offset */
    NPU_OP_BINARY,     /* out = f(in0, in1), iattr[0] = ISA binop (isa_table.def BINOP); in1 has in0's
                          shape, or is a row (last dim), a column (last dim 1) or a scalar;
                          iattr[1] = 1: reversed, out = f(in1, in0) (not for pow) */
    NPU_OP_UNARY,      /* out = f(in0), iattr[0] = ISA unop (UNOP), fattr[0] = imm */
    NPU_OP_NORM,       /* iattr[0] = enum npu_norm, iattr[1] = groups (group norm); fattr[0] = epsilon;
                          in1 = gamma f32 (optional), in2 = beta f32 (optional); an absent optional
                          input has buf NPU_NO_BUFFER */
    NPU_OP_REDUCE,     /* over the last axis, keeping it as 1; iattr[0] = ISA redop (REDOP) */
    NPU_OP_TRANSPOSE,  /* iattr[0..rank-1] = permutation (as ONNX Transpose) */
    NPU_OP_COPY,       /* box copy: out[dst + i] = in0[src + i] for i < box; lattr[0..3] = box,
                          iattr[0..3] = src start, iattr[4..7] = dst start (Slice, Concat, Split) */
    NPU_OP_ATTENTION,  /* ABI 1.3. Fused attention, matrix by matrix g < G:
                          out[g] = softmax(fattr[0] * in0[g] K[g]^T (+ mask)) in2[g], with the scores
                          kept on chip and the softmax computed online over blocks of iattr[0] keys.
                          in0 Q [G, Lq, D], in1 K^T [G, D, Lk] or K [G, Lk, D] (iattr[1], enum
                          npu_attn_k), in2 V [G, Lk, Dv] (all int8), out [G, Lq, Dv] (int8 or f32).
                          The mask (iattr[2] = NPU_ATTN_MASK_ADD) is a fourth tensor given by
                          attributes: buffer iattr[3], dtype iattr[4] (NPU_DT_I8, scale fattr[1];
                          or NPU_DT_F32), byte offset lattr[0], lattr[1] matrices [Lq, Lk], matrix g
                          reading matrix (g / lattr[2]) % lattr[1] (broadcast over heads and/or
                          batches). iattr[5] (enum npu_attn_softmax): the online softmax on the
                          vector unit, or (one key block holding every key) the softmax tile on
                          the scores quantised to int8 with scale fattr[2]. The SRAM plan is
                          npu_attention.h's; the arithmetic is firmware/src/ops/README.md's
                          ("ATTENTION"). */
    /* ABI 1.5: the operators of mobile CNNs (firmware/src/ops/README.md gives their arithmetic) */
    NPU_OP_GROUP_CONV2D, /* grouped (and depthwise) convolution: as CONV2D, with lattr[0] = groups G;
                            in1 w[CO, C/G, KH, KW] in OHWI storage (per group [CO][KH][KW][C/G]) */
    NPU_OP_POOL,       /* in0 x[N,C,H,W] already padded; out [N,C,OH,OW]; iattr: 0 stride_h, 1 stride_w,
                          2 kernel_h, 3 kernel_w, 4 enum npu_pool; AVG: fattr[0] = the divisor's reciprocal,
                          or in1 = f32 [OH*OW] reciprocals per output position (optional) */
    NPU_OP_PAD,        /* in0 x[B,H,W]; out [B,HO,WO]; iattr: 0 top, 1 left, 2 bottom, 3 right (>= 0),
                          4 enum npu_pad_mode, 5 interior rows, 6 interior columns (CONSTANT only: the
                          fill between elements); CONSTANT: in1 = the fill row, WO elements of out's type */
    NPU_OP_RESIZE,     /* in0 x[B,H,W]; out [B,HO,WO]; iattr: 0 enum npu_resize_mode, 1 enum
                          npu_resize_coord, 2 enum npu_resize_nearest; lattr[0], lattr[1] = the bits of
                          the IEEE binary64 scales (output / input) along H and W */
    NPU_OP_ACTIVATION, /* out = act(in0), iattr[0] = enum npu_act, fattr[0..1] its parameters; PRELU:
                          in0 [R, S], in1 f32 [R, 1] (one slope per row) */
    NPU_OP_CHANNEL_AFFINE, /* in0 x[R, S]; out = act(x * in1[r] + in2[r]), in1 and in2 f32 [R, 1] (a
                          standalone BatchNormalization, channels repeated per image); iattr[0] = act,
                          fattr[0..1] its parameters */
    NPU_OP_COUNT
};

/* NPU_OP_ATTENTION: how in1 holds the keys, and the mask. */
enum npu_attn_k {
    NPU_ATTN_K_TRANSPOSED = 0, /* K^T [G, D, Lk]: a key per column */
    NPU_ATTN_K_ROWS = 1,       /* K [G, Lk, D]: a key per row (transposed in SRAM, block by block) */
};
enum npu_attn_mask {
    NPU_ATTN_MASK_NONE = 0,
    NPU_ATTN_MASK_ADD = 1, /* scores + mask before the softmax */
};
enum npu_attn_softmax {
    NPU_ATTN_SOFTMAX_ONLINE = 0, /* f32 on the vector unit, rescaled block by block (any key count) */
    NPU_ATTN_SOFTMAX_TILE = 1,   /* the softmax tile on whole rows: one key block, Lk <= its row limit */
};

/* Activations: fused into MATMUL, CONV2D, GROUP_CONV2D and CHANNEL_AFFINE (iattr as each op says;
 * their parameters in fattr[0..1]), or run alone by ACTIVATION. HARDSWISH and PRELU only alone. */
enum npu_act {
    NPU_ACT_NONE = 0, NPU_ACT_RELU, NPU_ACT_GELU, NPU_ACT_SILU,
    NPU_ACT_CLIP,        /* ABI 1.5: min(max(x, fattr[0]), fattr[1]) (ReLU6: 0, 6) */
    NPU_ACT_LEAKY,       /* x < 0 ? x * fattr[0] : x */
    NPU_ACT_HARDSIGMOID, /* min(max(x * fattr[0] + fattr[1], 0), 1) */
    NPU_ACT_HARDSWISH,   /* x * hardsigmoid(x) with 1/6, 1/2 */
    NPU_ACT_PRELU,       /* x < 0 ? x * slope : x, the slope from the ACTIVATION's in1 */
    NPU_ACT_COUNT
};
enum npu_pool { NPU_POOL_MAX = 0, NPU_POOL_AVG = 1 };
enum npu_pad_mode { NPU_PAD_CONSTANT = 0, NPU_PAD_EDGE = 1, NPU_PAD_REFLECT = 2 };
enum npu_resize_mode { NPU_RESIZE_NEAREST = 0, NPU_RESIZE_LINEAR = 1 };
enum npu_resize_coord { /* ONNX coordinate_transformation_mode */
    NPU_COORD_HALF_PIXEL = 0, NPU_COORD_ASYMMETRIC, NPU_COORD_ALIGN_CORNERS, NPU_COORD_PYTORCH_HALF_PIXEL,
    NPU_COORD_TF_HALF_PIXEL_FOR_NN, NPU_COORD_COUNT
};
enum npu_resize_nearest { /* ONNX nearest_mode */
    NPU_NEAREST_ROUND_PREFER_FLOOR = 0, NPU_NEAREST_ROUND_PREFER_CEIL, NPU_NEAREST_FLOOR, NPU_NEAREST_CEIL,
    NPU_NEAREST_COUNT
};

/* How a weight tensor is stored (its dims stay the logical ones). Weights are packed once, at
 * build time, in the order the kernels stream them: long contiguous DMA rows, no burst waste. */
enum npu_layout {
    NPU_LAYOUT_ROW_MAJOR = 0, /* as the dims say, innermost last */
    NPU_LAYOUT_BLOCKED = 1,   /* matmul in1 [K, N] as ceil(N / B) column blocks, B = iattr[2] (<= the
                                 array's columns; even for int4): block j holds columns [jB, jB + w),
                                 w = min(B, N - jB) (int4: rounded up to even, the extra column 0),
                                 row-major [K][w], at element offset j * K * B */
    NPU_LAYOUT_OHWI = 2,      /* conv in1 [CO, C, KH, KW] stored as [CO][KH][KW][C] */
};
enum npu_norm { NPU_NORM_LAYER = 0, NPU_NORM_RMS, NPU_NORM_GROUP };

typedef struct npu_tensor_ref {
    uint32_t buf;                 /* index in the job's buffer table */
    uint32_t dtype;               /* enum npu_dtype */
    uint64_t offset;              /* bytes into the buffer */
    uint32_t rank;                /* 1..NPU_MAX_RANK */
    int32_t scales_axis;          /* per-channel axis, or -1 for per tensor */
    int64_t dims[NPU_MAX_RANK];
    float scale;                  /* per-tensor scale of an i8/i4 tensor */
    uint32_t scales_buf;          /* per-channel scales (f32), or NPU_NO_BUFFER */
    uint64_t scales_offset;
} npu_tensor_ref;

typedef struct npu_op_desc {
    uint32_t op;                  /* enum npu_op */
    uint32_t n_inputs;            /* <= NPU_OP_MAX_INPUTS */
    int32_t iattr[8];
    float fattr[4];
    int64_t lattr[4];
    npu_tensor_ref in[NPU_OP_MAX_INPUTS];
    npu_tensor_ref out;
} npu_op_desc;

/* ABI 1.4: what one op descriptor of an NPU_JOB_OPS job did, as the firmware measured it (when the
 * job's profile_addr is set). The span runs from the cycle the firmware began expanding the op to
 * the cycle the op's last instruction completed; the units drain between ops, so the spans of a
 * job's ops follow one another without overlap, and the job's cycles are their sum plus the
 * firmware's own work before the first op and after the last. ctr holds the growth of every
 * performance counter (NPU_REG_PERF, idle included) over the span: what the op moved, computed
 * and kept each unit busy with. Record i is written when op i ends; a job that faults leaves the
 * records from the faulting op on as they were. Reading the counters and writing the record cost
 * no modelled time (a performance monitor's snapshot): a job's timing is the same with or without
 * a profile. */
typedef struct npu_op_profile {
    uint64_t start_cycle;
    uint64_t end_cycle;
    uint64_t ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT];
} npu_op_profile;

NPU_ABI_STATIC_ASSERT(sizeof(npu_tensor_ref) == 72, "npu_tensor_ref layout");
NPU_ABI_STATIC_ASSERT(sizeof(npu_op_profile) == 16 + 8 * NPU_UNIT_COUNT * NPU_CTR_COUNT, "npu_op_profile layout");
NPU_ABI_STATIC_ASSERT(sizeof(npu_op_desc) == 376, "npu_op_desc layout");

/* ---------------------------------------------------------------- firmware log
 * A ring of NPU_REG_LOG_SIZE bytes at NPU_REG_LOG_BASE: the firmware appends text lines ending in
 * '\n' at LOG_HEAD % size and advances LOG_HEAD; the host keeps its own read position and reports
 * bytes it lost when head - read > size. */

#endif
