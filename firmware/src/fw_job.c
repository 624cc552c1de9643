/* fw_job.c -- one job: check the descriptor and buffer table, validate every instruction of an
 * ISA program, then dispatch it to the unit queues in program order. An NPU_JOB_OPS job goes to
 * the operator kernels (fw_ops_run, src/ops/) once its descriptor and buffers are checked.
 *
 * Validation is a full pass before anything runs, so a bad program faults before it has any
 * effect, with the index of the first bad instruction. Its cost is part of the per-job cost;
 * dispatch charges the per-instruction cost. Units run concurrently and are ordered only by the
 * program's signal/wait/barrier instructions.
 *
 * Both passes read the program a block of FW_FETCH_INSNS instructions at a time (one hal_mem_read
 * each), and dispatch decodes without checking again what validation checked: the job's only
 * writes to device memory are its DMA stores, into its buffers, so a program that overlaps none of
 * them holds at dispatch the very words validation accepted. A program that one of its buffers
 * overlaps may rewrite itself: dispatch then reads and checks each instruction again just before
 * it dispatches it, as validation did. The validation pass keeps no decoded instructions for
 * dispatch: a control core's local memory holds a block, not a program (and a decoded program, 112
 * bytes per 16-byte instruction, is more memory traffic on the host than its decode costs).
 */
#include "fw.h"

#include <string.h>

static int in_dram(const fw *f, uint64_t addr, uint64_t len)
{
    return addr <= f->info->dram_bytes && len <= f->info->dram_bytes - addr;
}

static void set_fault(fw_job_result *r, uint32_t fault, uint32_t unit, uint64_t addr, uint32_t index)
{
    r->fault = fault;
    r->unit = unit;
    r->addr = addr;
    r->index = index;
}

/* Each op's execution unit, from the ISA table at compile time: dispatch routes every instruction
 * on it, and isa_desc() is a call into isa/ (another translation unit). */
static const isa_exec_unit exec_unit_of[ISA_OP_COUNT] = {
#define ISA_INSN(ID, MN, OPC, UNIT, CHECK, SEM) [ISA_OP_##ID] = ISA_EXEC_##UNIT,
#include "isa_table.def"
};

unsigned fw_insn_unit(const isa_insn *in) /* a decoded or made instruction: a valid op */
{
    switch (exec_unit_of[in->op]) {
    case ISA_EXEC_SYNC: return (unsigned)ISA_GET(in, SIGNAL, UNIT);
    case ISA_EXEC_DMA: return NPU_UNIT_DMA0 + (unsigned)ISA_GET(in, DMA_LD, Q);
    case ISA_EXEC_MM: return NPU_UNIT_MM;
    case ISA_EXEC_SM: return NPU_UNIT_SM;
    case ISA_EXEC_VEC: return NPU_UNIT_VEC;
    default: return NPU_UNIT_CTRL;
    }
}

/* First device address outside [0, size) that a DMA of `in` touches in its buffer, or UINT64_MAX
 * if every row fits. Rows are strided, so check row by row until one crosses the end. */
static uint64_t dma_first_outside(const isa_insn *in, uint64_t size)
{
    uint64_t off = (uint64_t)ISA_GET(in, DMA_LD, OFF), rows = (uint64_t)ISA_GET(in, DMA_LD, ROWS);
    uint64_t cols = (uint64_t)ISA_GET(in, DMA_LD, COLS), stride = (uint64_t)ISA_GET(in, DMA_LD, DSTRIDE);
    uint64_t first, end;
    isa_dma_span(in, &first, &end);
    if (end <= size)
        return UINT64_MAX;
    for (uint64_t r = 0; r < rows; r++) {
        uint64_t start = off + r * stride;
        if (start + cols > size)
            return start > size ? start : size;
    }
    return size;
}

/* Validate instruction i against the device, just decoded by fetch() (whose isa_decode() checked
 * its fields: the limits are what is left); lim: the device's limits with the job's buffer count
 * (made once per job); mm_bias tracks the last mm.cfg. */
static int validate_insn(fw *f, const isa_insn *in, uint32_t i, const npu_buf_entry *bufs, const isa_limits *lim,
                         uint32_t *mm_bias, fw_job_result *r)
{
    isa_error err;
    if (isa_validate_limits(in, lim, &err) != ISA_OK) {
        set_fault(r, err.status == ISA_E_LIMIT ? NPU_FAULT_LIMIT : NPU_FAULT_ILLEGAL_INSN, fw_insn_unit(in), 0, i);
        fw_log(f, "instruction %u: %s", i, err.msg);
        return -1;
    }
    if (in->op == ISA_OP_MM_CFG)
        *mm_bias = (uint32_t)ISA_GET(in, MM_CFG, BIAS);
    isa_sram_range ranges[ISA_MAX_SRAM_RANGES];
    int n = isa_sram_ranges(in, mm_bias, ranges);
    for (int k = 0; k < n; k++) {
        uint64_t end = (uint64_t)ranges[k].addr + ranges[k].len;
        if (end > f->info->sram_bytes) {
            uint64_t bad = ranges[k].addr > f->info->sram_bytes ? ranges[k].addr : f->info->sram_bytes;
            set_fault(r, NPU_FAULT_SRAM_OVERFLOW, fw_insn_unit(in), bad, i);
            fw_log(f, "instruction %u: %s SRAM [0x%x, 0x%llx) beyond the %u-byte SRAM", i,
                   isa_desc(in->op)->mnemonic, ranges[k].addr, (unsigned long long)end, f->info->sram_bytes);
            return -1;
        }
    }
    if (in->op == ISA_OP_DMA_LD || in->op == ISA_OP_DMA_ST) {
        const npu_buf_entry *b = &bufs[ISA_GET(in, DMA_LD, BUF)];
        uint64_t bad = dma_first_outside(in, b->size);
        if (bad != UINT64_MAX) {
            set_fault(r, NPU_FAULT_DMA_OOB, fw_insn_unit(in), b->addr + bad, i);
            fw_log(f, "instruction %u: DMA reaches offset 0x%llx of buffer %lld, which has 0x%llx bytes", i,
                   (unsigned long long)bad, (long long)ISA_GET(in, DMA_LD, BUF), (unsigned long long)b->size);
            return -1;
        }
    }
    return 0;
}

/* Program instructions read from device memory at once: 1 KiB, the control core's fetch block. */
#define FW_FETCH_INSNS 64u

/* Read instructions [first, first + n) of the program into words (n <= FW_FETCH_INSNS). */
static int read_block(fw *f, const npu_job_desc *d, uint32_t first, uint32_t n,
                      uint8_t words[FW_FETCH_INSNS][ISA_INSN_BYTES], fw_job_result *r)
{
    uint64_t addr = d->program_addr + (uint64_t)first * ISA_INSN_BYTES;
    if (hal_mem_read(f->hal, addr, words, (size_t)n * ISA_INSN_BYTES) != 0) {
        set_fault(r, NPU_FAULT_BAD_JOB, NPU_UNIT_CTRL, addr, first);
        return -1;
    }
    return 0;
}

/* The program as the control core reads it: `block` instructions at a time (at most
 * FW_FETCH_INSNS), the block read again when an instruction outside it is asked for. */
typedef struct fw_fetch {
    uint32_t first, n, block; /* the block in words: instructions [first, first + n) */
    uint8_t words[FW_FETCH_INSNS][ISA_INSN_BYTES];
} fw_fetch;

static void fetch_init(fw_fetch *p, uint32_t block)
{
    p->first = p->n = 0;
    p->block = block;
}

/* The word of instruction i (i < end), its block read first if needed; NULL (the fault recorded)
 * if device memory refuses the read. */
static const uint8_t *fetch_word(fw *f, const npu_job_desc *d, fw_fetch *p, uint32_t i, uint32_t end,
                                 fw_job_result *r)
{
    if (i < p->first || i - p->first >= p->n) {
        p->first = i;
        p->n = end - i < p->block ? end - i : p->block;
        if (read_block(f, d, i, p->n, p->words, r) != 0)
            return NULL;
    }
    return p->words[i - p->first];
}

/* Decode instruction i of the program, read into word. */
static int decode(fw *f, const npu_job_desc *d, const uint8_t word[ISA_INSN_BYTES], uint32_t i, isa_insn *in,
                  fw_job_result *r)
{
    isa_error err;
    if (isa_decode(word, in, &err) != ISA_OK) {
        uint64_t addr = d->program_addr + (uint64_t)i * ISA_INSN_BYTES;
        set_fault(r, NPU_FAULT_ILLEGAL_INSN, NPU_UNIT_CTRL, addr, i);
        fw_log(f, "instruction %u at 0x%llx: %s", i, (unsigned long long)addr, err.msg);
        return -1;
    }
    return 0;
}

/* Whether a buffer of the job overlaps its program: its DMA stores may then rewrite instructions
 * between validation and dispatch. */
static int program_in_a_buffer(const npu_job_desc *d, const npu_buf_entry *bufs)
{
    uint64_t start = d->program_addr, end = start + d->program_bytes;
    for (uint32_t b = 0; b < d->nbufs; b++)
        if (bufs[b].size && bufs[b].addr < end && start < bufs[b].addr + bufs[b].size)
            return 1;
    return 0;
}

hal_status fw_unit_failure(fw *f, hal_status st, fw_job_result *r)
{
    if (st == HAL_RESET)
        return st;
    if (st == HAL_FAULT) {
        hal_fault uf;
        if (hal_unit_fault(f->hal, &uf))
            set_fault(r, uf.fault, uf.unit, uf.addr, uf.index);
        else
            set_fault(r, NPU_FAULT_UNIT, NPU_UNIT_NONE, 0, 0);
    } else { /* HAL_TIMEOUT */
        uint32_t index = 0;
        unsigned unit = hal_stuck_unit(f->hal, &index);
        set_fault(r, NPU_FAULT_WATCHDOG, unit, 0, index);
        fw_log(f, "watchdog: no progress for %llu cycles; unit %s is stuck at instruction %u",
               (unsigned long long)f->info->watchdog_cycles, fw_unit_name(unit), index);
    }
    hal_abort(f->hal);
    return HAL_OK;
}

static int check_descriptor(fw *f, const npu_job_desc *d, npu_buf_entry *bufs, fw_job_result *r)
{
    if (d->magic != NPU_JOB_MAGIC || (d->abi_version >> 16) != NPU_ABI_VERSION_MAJOR) {
        fw_log(f, "job %u: bad magic 0x%08x or ABI version 0x%08x", d->job_id, d->magic, d->abi_version);
        set_fault(r, NPU_FAULT_BAD_JOB, NPU_UNIT_CTRL, 0, 0);
        return -1;
    }
    if (d->type != NPU_JOB_ISA && d->type != NPU_JOB_OPS) {
        fw_log(f, "job %u: job type %u is not supported by this firmware", d->job_id, d->type);
        set_fault(r, NPU_FAULT_BAD_JOB, NPU_UNIT_CTRL, 0, 0);
        return -1;
    }
    uint32_t unit_bytes = d->type == NPU_JOB_ISA ? ISA_INSN_BYTES : (uint32_t)sizeof(npu_op_desc);
    if (d->program_bytes % unit_bytes != 0 || !in_dram(f, d->program_addr, d->program_bytes)) {
        fw_log(f, "job %u: program [0x%llx, +%u) is not whole %s inside device memory", d->job_id,
               (unsigned long long)d->program_addr, d->program_bytes,
               d->type == NPU_JOB_ISA ? "instructions" : "op descriptors");
        set_fault(r, NPU_FAULT_BAD_JOB, NPU_UNIT_CTRL, d->program_addr, 0);
        return -1;
    }
    if (d->nbufs > NPU_MAX_BUFFERS || !in_dram(f, d->buftab_addr, (uint64_t)d->nbufs * sizeof *bufs) ||
        hal_mem_read(f->hal, d->buftab_addr, bufs, (size_t)d->nbufs * sizeof *bufs) != 0) {
        fw_log(f, "job %u: buffer table of %u entries at 0x%llx is invalid", d->job_id, d->nbufs,
               (unsigned long long)d->buftab_addr);
        set_fault(r, NPU_FAULT_BAD_JOB, NPU_UNIT_CTRL, d->buftab_addr, 0);
        return -1;
    }
    for (uint32_t b = 0; b < d->nbufs; b++)
        if (!in_dram(f, bufs[b].addr, bufs[b].size)) {
            fw_log(f, "job %u: buffer %u [0x%llx, +0x%llx) is outside device memory", d->job_id, b,
                   (unsigned long long)bufs[b].addr, (unsigned long long)bufs[b].size);
            set_fault(r, NPU_FAULT_BAD_BUFFER, NPU_UNIT_CTRL, bufs[b].addr, b);
            return -1;
        }
    uint64_t profile_bytes = (uint64_t)(d->program_bytes / sizeof(npu_op_desc)) * sizeof(npu_op_profile);
    if (d->type == NPU_JOB_OPS && d->profile_addr && !in_dram(f, d->profile_addr, profile_bytes)) {
        fw_log(f, "job %u: profile [0x%llx, +%llu) is outside device memory", d->job_id,
               (unsigned long long)d->profile_addr, (unsigned long long)profile_bytes);
        set_fault(r, NPU_FAULT_BAD_JOB, NPU_UNIT_CTRL, d->profile_addr, 0);
        return -1;
    }
    return 0;
}

hal_status fw_job_run(fw *f, const npu_job_desc *d, fw_job_result *r)
{
    fw_hal *h = f->hal;
    npu_buf_entry bufs[NPU_MAX_BUFFERS];
    memset(r, 0, sizeof *r);
    r->unit = NPU_UNIT_NONE;
    hal_status st = hal_spend(h, f->info->cycles_per_job);
    if (st != HAL_OK)
        return st;
    if (check_descriptor(f, d, bufs, r) != 0)
        return HAL_OK;
    if (d->type == NPU_JOB_OPS)
        return fw_ops_run(f, d, bufs, r);

    uint32_t end = d->program_bytes / ISA_INSN_BYTES; /* one past the end instruction, once found */
    uint32_t mm_bias = 0;
    isa_limits lim = f->limits;
    lim.buffers = d->nbufs;
    fw_fetch prog;
    fetch_init(&prog, FW_FETCH_INSNS);
    isa_insn in;
    for (uint32_t i = 0; i < end; i++) {
        const uint8_t *word = fetch_word(f, d, &prog, i, end, r);
        if (!word || decode(f, d, word, i, &in, r) != 0 || validate_insn(f, &in, i, bufs, &lim, &mm_bias, r) != 0)
            return HAL_OK;
        if (in.op == ISA_OP_END)
            end = i + 1; /* the last instruction */
    }

    uint32_t flags = (d->flags & NPU_JOB_F_TIMING_ONLY) ? HAL_CMD_TIMING_ONLY : 0;
    const int recheck = program_in_a_buffer(d, bufs); /* read and check each word just before its dispatch */
    fetch_init(&prog, recheck ? 1 : FW_FETCH_INSNS);
    hal_cmd cmd;
    for (uint32_t i = 0; i < end; i++) {
        const uint8_t *word = fetch_word(f, d, &prog, i, end, r);
        if (!word)
            return HAL_OK;
        if (recheck) {
            if (decode(f, d, word, i, &cmd.insn, r) != 0)
                return HAL_OK;
        } else if (isa_decode_unchecked(word, &cmd.insn) != ISA_OK) { /* only if the host rewrote it */
            set_fault(r, NPU_FAULT_ILLEGAL_INSN, NPU_UNIT_CTRL, d->program_addr + (uint64_t)i * ISA_INSN_BYTES, i);
            return HAL_OK;
        }
        const isa_insn *ins = &cmd.insn;
        if (ins->op == ISA_OP_NOP || ins->op == ISA_OP_END || ins->op == ISA_OP_BARRIER) {
            if ((st = hal_spend(h, f->info->cycles_per_insn)) != HAL_OK)
                return st;
            r->insns++;
            if (ins->op == ISA_OP_BARRIER && (st = hal_drain(h)) != HAL_OK)
                return fw_unit_failure(f, st, r);
            continue; /* a nop, a barrier; or the end, the last instruction */
        }
        cmd.index = i; /* every member set (the decoder fills all of cmd.insn): no memset */
        cmd.flags = flags;
        cmd.dram_base = cmd.dram_limit = 0;
        if (ins->op == ISA_OP_DMA_LD || ins->op == ISA_OP_DMA_ST) {
            cmd.dram_base = bufs[ISA_GET(ins, DMA_LD, BUF)].addr;
            cmd.dram_limit = bufs[ISA_GET(ins, DMA_LD, BUF)].size;
        }
        /* the dispatch cost, then the queue (one HAL call: the port may wait once for both) */
        if ((st = hal_spend_push(h, f->info->cycles_per_insn, fw_insn_unit(ins), &cmd)) == HAL_RESET)
            return st;
        r->insns++;
        if (st != HAL_OK)
            return fw_unit_failure(f, st, r);
    }
    if ((st = hal_drain(h)) != HAL_OK)
        return fw_unit_failure(f, st, r);
    return HAL_OK;
}
