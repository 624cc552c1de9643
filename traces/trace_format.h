/* trace_format.h -- the m4npu trace file format, version 1: everything a reader or writer needs
 * to know, in one place. A trace records the traffic at the driver/device boundary (npu_drv.h's
 * observer: MMIO, device-memory copies, interrupt waits) of one m4npu command, so that
 * `m4npu trace replay` can drive the device alone with it and stop at the first divergence.
 *
 * FILE    = PREAMBLE BLOCK*
 * PREAMBLE (16 bytes, not compressed):
 *     magic "M4NPUTRC" (8 bytes), u32 format version (TRACE_FORMAT_VERSION), u32 flags (0)
 * BLOCK   = header (20 bytes) + compressed bytes:
 *     u32 magic "TBLK", u32 compressed bytes C, u32 raw bytes R,
 *     u64 checksum = XXH64 (seed 0) of the 8 bytes of C and R followed by the C compressed bytes,
 *     then C bytes: one zstd frame that decompresses to exactly R bytes of records.
 *     A flipped bit anywhere in a block fails its checksum before anything is decompressed.
 *     Blocks are independent (each its own zstd frame): a reader streams them one at a time.
 * All integers in the preamble and block headers are little-endian. R <= TRACE_MAX_BLOCK_BYTES.
 *
 * RECORDS (inside the decompressed bytes; a record never spans blocks): a type byte, then its
 * fields in the order listed, each an unsigned LEB128 varint (at most 10 bytes, no overflow)
 * unless marked: h64 = 8 bytes, h128 = 16 bytes (little-endian), str = varint length + bytes,
 * zz = a zigzag-encoded signed varint. Cycle stamps are deltas from the "cycle cursor": the
 * last absolute stamp decoded (IRQ cycle, CYCLES cycle, INSN end, DONE end); OPEN sets it to 0.
 *
 *   1 HEADER    abi_version, isa_version, level (enum trace_level), tool_version str,
 *               command_line str, config_hash h64, config_yaml str         -- first, exactly once
 *   2 CONFIG    config_hash h64, config_yaml str   -- a configuration other than the header's
 *   3 OPEN      config_hash h64, dram_bytes          -- the device opened (a config defined before)
 *   4 CLOSE                                          -- the device is about to close
 *   5 MMIO_RD   offset, value                        -- the host read a register and got value
 *   6 MMIO_WR   offset, value
 *   7 BLOB      hash h128, length, bytes             -- content that MEM_WR records refer to
 *   8 MEM_WR    addr, length, form (0: inline, the bytes follow; 1: by content, h128 follows)
 *   9 MEM_RD    addr, length, kind (enum npu_read_kind), hash h64 of the bytes read
 *  10 RUN       max_cycles                           -- the host runs the device until its interrupt
 *  11 IRQ       result (0 budget spent, 1 interrupt, 2 model error), cycle zz -- the run returned
 *  12 CYCLES    cycle zz                             -- the host read the cycle counter
 *  13 SUBMIT    job_id, type, flags, nbufs, program_bytes -- a job enters the queue
 *  14 DONE      job_id, completion_addr, state, fault, fault_unit, fault_insn, fault_addr,
 *               start_cycle zz, end_cycle zz, insns, then NPU_UNIT_COUNT x NPU_CTR_COUNT counter
 *               deltas since the previous DONE of this device (or its OPEN), unit-major
 *  15 INSN      unit, index, op, outcome (npu_sim_insn_outcome), end_cycle zz,
 *               end_cycle - issue_cycle                 -- level insn only, between RUN and IRQ
 *  16 END       records before it                    -- last, alone at the end of the last block
 *
 * Content: host writes longer than TRACE_INLINE_BYTES are split into chunks of at most
 * TRACE_CHUNK_BYTES, each stored once in a BLOB (XXH3-128 of its bytes) the first time it is
 * seen anywhere in the trace, and referred to by hash after; shorter writes are inline. Host
 * reads are stored as XXH3-64 of what was read. Configurations are canonical YAML (what
 * m4npu_config_write_yaml prints, which m4npu_config_load_text reads back), hashed with XXH3-64.
 *
 * Order rules a reader checks: HEADER first; CONFIG before the OPEN that names it; traffic only
 * between OPEN and CLOSE; after RUN only INSN records until its IRQ; END last.
 *
 * Compatibility: a change to any of this bumps TRACE_FORMAT_VERSION; a reader refuses other
 * versions, naming both. The ABI version in HEADER is the driver/firmware ABI (npu_abi.h) the
 * trace was recorded against; replay refuses another major version.
 */
#ifndef M4NPU_TRACE_FORMAT_H
#define M4NPU_TRACE_FORMAT_H

#define TRACE_MAGIC "M4NPUTRC"
#define TRACE_MAGIC_BYTES 8
#define TRACE_FORMAT_VERSION 1u
#define TRACE_PREAMBLE_BYTES 16
#define TRACE_BLOCK_MAGIC 0x4B4C4254u /* "TBLK" little-endian */
#define TRACE_BLOCK_HEADER_BYTES 20
#define TRACE_MAX_BLOCK_BYTES (64u << 20)     /* raw bytes of one block, at most */
#define TRACE_DEFAULT_BLOCK_BYTES (1u << 20)  /* a writer closes a block past this many raw bytes */
#define TRACE_CHUNK_BYTES (64u << 10)         /* content is deduplicated in chunks of this size */
#define TRACE_INLINE_BYTES 256u               /* writes up to this size are stored inline */
#define TRACE_ZSTD_LEVEL 3
#define TRACE_MAX_STRING_BYTES (16u << 20)    /* command line, configuration text */

enum trace_rec_type {
    TRACE_REC_HEADER = 1,
    TRACE_REC_CONFIG = 2,
    TRACE_REC_OPEN = 3,
    TRACE_REC_CLOSE = 4,
    TRACE_REC_MMIO_RD = 5,
    TRACE_REC_MMIO_WR = 6,
    TRACE_REC_BLOB = 7,
    TRACE_REC_MEM_WR = 8,
    TRACE_REC_MEM_RD = 9,
    TRACE_REC_RUN = 10,
    TRACE_REC_IRQ = 11,
    TRACE_REC_CYCLES = 12,
    TRACE_REC_SUBMIT = 13,
    TRACE_REC_DONE = 14,
    TRACE_REC_INSN = 15,
    TRACE_REC_END = 16,
    TRACE_REC_TYPE_END
};

enum trace_level {
    TRACE_LEVEL_JOB = 0,  /* host traffic and job completions */
    TRACE_LEVEL_INSN = 1, /* and every instruction's issue and completion, per unit */
};

enum trace_mem_form { TRACE_MEM_INLINE = 0, TRACE_MEM_BY_HASH = 1 };

enum trace_irq_result { TRACE_IRQ_BUDGET = 0, TRACE_IRQ_RAISED = 1, TRACE_IRQ_ERROR = 2 };

#endif
