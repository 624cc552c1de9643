/* fw_ops.c -- running an NPU_JOB_OPS job: the table of operator kernels, validation of every
 * descriptor before anything runs (a refusal is NPU_FAULT_BAD_OP naming the descriptor), then
 * each descriptor's expansion into ISA, one op after the other (the units drain between ops, so
 * an op sees every byte its predecessors wrote). Also the tensor checks the kernels share.
 */
#include "fw_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The most elements a descriptor's tensor may have: keeps every product of dims (and its byte
 * size) far from 64-bit overflow. */
#define FW_MAX_ELEMENTS (UINT64_C(1) << 48)
/* How close epsilon must be to a power of ten (relative) to use the ISA's 10^-e form. */
#define FW_EPS_REL_TOLERANCE 1e-4

static const fw_op_kernel *const kernels[NPU_OP_COUNT] = {
    [NPU_OP_MATMUL] = &fw_kernel_matmul,       [NPU_OP_CONV2D] = &fw_kernel_conv2d,
    [NPU_OP_SOFTMAX] = &fw_kernel_softmax,     [NPU_OP_BINARY] = &fw_kernel_binary,
    [NPU_OP_UNARY] = &fw_kernel_unary,         [NPU_OP_NORM] = &fw_kernel_norm,
    [NPU_OP_REDUCE] = &fw_kernel_reduce,       [NPU_OP_TRANSPOSE] = &fw_kernel_transpose,
    [NPU_OP_COPY] = &fw_kernel_copy,          [NPU_OP_ATTENTION] = &fw_kernel_attention,
    [NPU_OP_GROUP_CONV2D] = &fw_kernel_group_conv2d, [NPU_OP_POOL] = &fw_kernel_pool,
    [NPU_OP_PAD] = &fw_kernel_pad,             [NPU_OP_RESIZE] = &fw_kernel_resize,
    [NPU_OP_ACTIVATION] = &fw_kernel_activation, [NPU_OP_CHANNEL_AFFINE] = &fw_kernel_channel_affine,
};

/* ---------------------------------------------------------------- refusals and tensors */

int fw_refuse(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

uint32_t fw_dtype_bytes(uint32_t dtype)
{
    switch (dtype) {
    case NPU_DT_I8: return 1;
    case NPU_DT_I16: case NPU_DT_F16: return 2;
    case NPU_DT_I32: case NPU_DT_F32: return 4;
    default: return 0;
    }
}

const char *fw_dtype_name(uint32_t dtype)
{
    switch (dtype) {
    case NPU_DT_I8: return "i8";
    case NPU_DT_I4: return "i4";
    case NPU_DT_I32: return "i32";
    case NPU_DT_F32: return "f32";
    case NPU_DT_I16: return "i16";
    case NPU_DT_F16: return "f16";
    default: return "?";
    }
}

uint64_t fw_numel(const npu_tensor_ref *t)
{
    uint64_t n = 1;
    for (uint32_t i = 0; i < t->rank && i < NPU_MAX_RANK; i++)
        n *= (uint64_t)t->dims[i];
    return n;
}

uint64_t fw_tensor_bytes(const npu_tensor_ref *t)
{
    if (t->rank < 1 || t->rank > NPU_MAX_RANK)
        return 0;
    if (t->dtype == NPU_DT_I4) {
        uint64_t inner = (uint64_t)t->dims[t->rank - 1];
        return fw_numel(t) / inner * ((inner + 1) / 2);
    }
    return fw_numel(t) * fw_dtype_bytes(t->dtype);
}

int fw_check_shape(const npu_tensor_ref *t, const char *what, char *why, size_t whylen)
{
    if (t->rank < 1 || t->rank > NPU_MAX_RANK)
        return fw_refuse(why, whylen, "%s: rank %u (expected 1..%d)", what, t->rank, NPU_MAX_RANK);
    uint64_t n = 1;
    for (uint32_t i = 0; i < t->rank; i++) {
        if (t->dims[i] < 1 || (uint64_t)t->dims[i] > FW_MAX_ELEMENTS / n)
            return fw_refuse(why, whylen, "%s: dims[%u] = %lld (expected >= 1, at most 2^48 elements in all)", what,
                             i, (long long)t->dims[i]);
        n *= (uint64_t)t->dims[i];
    }
    return 0;
}

int fw_check_ref(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, uint64_t bytes, char *why,
                 size_t whylen)
{
    if (fw_check_shape(t, what, why, whylen) != 0)
        return -1;
    if (t->dtype != NPU_DT_I8 && t->dtype != NPU_DT_I4 && t->dtype != NPU_DT_I32 && t->dtype != NPU_DT_F32 &&
        t->dtype != NPU_DT_I16 && t->dtype != NPU_DT_F16)
        return fw_refuse(why, whylen, "%s: dtype %u is not an enum npu_dtype", what, t->dtype);
    if (t->buf >= c->nbufs)
        return fw_refuse(why, whylen, "%s: buffer %u, but the job has %u buffers", what, t->buf, c->nbufs);
    uint64_t size = c->bufs[t->buf].size, reach = FW_FIELD_MAX(DMA_LD, OFF) + 1;
    if (t->offset > size || bytes > size - t->offset)
        return fw_refuse(why, whylen, "%s: [%llu, +%llu) is outside buffer %u of %llu bytes", what,
                         (unsigned long long)t->offset, (unsigned long long)bytes, t->buf, (unsigned long long)size);
    if (t->offset + bytes > reach)
        return fw_refuse(why, whylen, "%s: ends at byte %llu of its buffer, beyond the DMA's %llu-byte offset range",
                         what, (unsigned long long)(t->offset + bytes), (unsigned long long)reach);
    return 0;
}

static int finite_positive(float x) { return x > 0.0f && x <= 3.402823466e38f; }

int fw_check_act(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, char *why, size_t whylen)
{
    if (t->dtype != NPU_DT_I8 && t->dtype != NPU_DT_F32 && t->dtype != NPU_DT_I16 && t->dtype != NPU_DT_F16)
        return fw_refuse(why, whylen, "%s: dtype %s (activations are i8, i16, f16 or f32)", what,
                         fw_dtype_name(t->dtype));
    if ((t->dtype == NPU_DT_I8 || t->dtype == NPU_DT_I16) && !finite_positive(t->scale))
        return fw_refuse(why, whylen, "%s: %s scale %g (expected finite and > 0)", what, fw_dtype_name(t->dtype),
                         (double)t->scale);
    if (t->scales_axis != -1)
        return fw_refuse(why, whylen, "%s: per-channel activation (axis %d); activations are per tensor", what,
                         t->scales_axis);
    if (fw_check_shape(t, what, why, whylen) != 0)
        return -1;
    return fw_check_ref(c, t, what, fw_tensor_bytes(t), why, whylen);
}

int fw_check_f32_vec(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, uint64_t n, char *why,
                     size_t whylen)
{
    if (t->dtype != NPU_DT_F32)
        return fw_refuse(why, whylen, "%s: dtype %s (expected f32)", what, fw_dtype_name(t->dtype));
    if (t->rank < 1 || t->rank > NPU_MAX_RANK || fw_numel(t) != n)
        return fw_refuse(why, whylen, "%s: %llu elements (expected %llu)", what,
                         (unsigned long long)(t->rank >= 1 && t->rank <= NPU_MAX_RANK ? fw_numel(t) : 0),
                         (unsigned long long)n);
    return fw_check_ref(c, t, what, 4 * n, why, whylen);
}

int fw_check_scales(const fw_op_ctx *c, const npu_tensor_ref *t, const char *what, uint64_t count, char *why,
                    size_t whylen)
{
    npu_tensor_ref s;
    memset(&s, 0, sizeof s);
    s.buf = t->scales_buf;
    s.dtype = NPU_DT_F32;
    s.offset = t->scales_offset;
    s.rank = 1;
    s.dims[0] = (int64_t)count;
    char name[64];
    snprintf(name, sizeof name, "%s scales", what);
    return fw_check_ref(c, &s, name, 4 * count, why, whylen);
}

int fw_eps_exponent(float eps)
{
    double p = 1.0, e = eps;
    for (int x = 0; x <= (int)FW_FIELD_MAX(VNORM, EPS); x++) {
        double d = e > p ? e - p : p - e;
        if (d <= p * FW_EPS_REL_TOLERANCE)
            return x;
        p /= 10.0;
    }
    return -1;
}

/* ---------------------------------------------------------------- the job */

static void ctx_init(fw_op_ctx *c, fw *f, const npu_job_desc *d, const npu_buf_entry *bufs, uint32_t index,
                     fw_job_result *r)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->info = f->info;
    c->bufs = bufs;
    c->nbufs = d->nbufs;
    c->cmd_flags = (d->flags & NPU_JOB_F_TIMING_ONLY) ? HAL_CMD_TIMING_ONLY : 0;
    c->index = index;
    c->res = r;
    c->st = HAL_OK;
}

static int read_op(fw *f, const npu_job_desc *d, uint32_t i, npu_op_desc *op, fw_job_result *r)
{
    uint64_t addr = d->program_addr + (uint64_t)i * sizeof *op;
    if (hal_mem_read(f->hal, addr, op, sizeof *op) == 0)
        return 0;
    r->fault = NPU_FAULT_BAD_JOB;
    r->unit = NPU_UNIT_CTRL;
    r->addr = addr;
    r->index = i;
    return -1;
}

const fw_op_kernel *fw_ops_kernel(uint32_t op) { return kernels[op]; }

static const char *op_name(uint32_t op)
{
    return op < NPU_OP_COUNT && kernels[op] ? kernels[op]->name : "unknown op";
}

/* 0 if op i can run; else records NPU_FAULT_BAD_OP naming it and returns -1. */
static int check_op(fw *f, const npu_job_desc *d, const npu_buf_entry *bufs, uint32_t i, const npu_op_desc *op,
                    fw_job_result *r)
{
    char why[FW_WHY_BYTES];
    fw_op_ctx c;
    ctx_init(&c, f, d, bufs, i, r);
    int bad;
    if (op->op >= NPU_OP_COUNT || !kernels[op->op])
        bad = fw_refuse(why, sizeof why, "op code %u is not an enum npu_op this firmware runs", op->op);
    else if (op->n_inputs < 1 || op->n_inputs > NPU_OP_MAX_INPUTS)
        bad = fw_refuse(why, sizeof why, "n_inputs = %u (expected 1..%d)", op->n_inputs, NPU_OP_MAX_INPUTS);
    else
        bad = kernels[op->op]->check(&c, op, why, sizeof why);
    if (!bad)
        return 0;
    r->fault = NPU_FAULT_BAD_OP;
    r->unit = NPU_UNIT_CTRL;
    r->addr = d->program_addr + (uint64_t)i * sizeof *op;
    r->index = i;
    fw_log(f, "op %u (%s): %s", i, op_name(op->op), why);
    return -1;
}

/* ---------------------------------------------------------------- per-op profile and log */

typedef uint64_t fw_perf[NPU_UNIT_COUNT][NPU_CTR_COUNT];

/* Every performance counter (the device's registers, read as a performance monitor's snapshot:
 * reading costs no modelled time), in one HAL call. */
static void read_perf(fw *f, fw_perf out) { hal_perf_read(f->hal, out); }

/* What op i did: its span and the counters' growth over it, into the job's profile (if any). */
static void write_profile(fw *f, const npu_job_desc *d, uint32_t i, uint64_t t0, uint64_t t1, fw_perf before,
                          fw_perf after)
{
    npu_op_profile p;
    memset(&p, 0, sizeof p);
    p.start_cycle = t0;
    p.end_cycle = t1;
    for (uint32_t u = 0; u < NPU_UNIT_COUNT; u++)
        for (uint32_t k = 0; k < NPU_CTR_COUNT; k++)
            p.ctr[u][k] = after[u][k] - before[u][k];
    if (hal_mem_write(f->hal, d->profile_addr + (uint64_t)i * sizeof p, &p, sizeof p) != 0)
        fw_log(f, "job %u: op %u: the profile record is outside device memory", d->job_id, i);
}

/* One log line for op i: its kernel, its tiling, its cycles and instructions, and the units it
 * kept busy (as a share of its span). */
static void log_op(fw_op_ctx *c, const npu_op_desc *op, uint32_t i, uint64_t t0, uint64_t t1, fw_perf before,
                   fw_perf after)
{
    char tiling[FW_DESCRIBE_BYTES] = "", busy[96] = "";
    const fw_op_kernel *k = kernels[op->op];
    if (k->describe)
        k->describe(c, op, tiling, sizeof tiling);
    uint64_t span = t1 - t0;
    size_t n = 0;
    for (uint32_t u = 0; u < NPU_UNIT_COUNT && span && n < sizeof busy; u++) {
        uint64_t b = after[u][NPU_CTR_BUSY] - before[u][NPU_CTR_BUSY];
        if (b * 100 >= span) /* at least 1% of the span */
            n += (size_t)snprintf(busy + n, sizeof busy - n, "%s %s %llu%%", n ? "," : "", fw_unit_name(u),
                                  (unsigned long long)(b * 100 / span));
    }
    fw_log(c->f, "op %u %s%s%s%s: %llu cycles, %llu instructions;%s", i, k->name, tiling[0] ? " (" : "", tiling,
           tiling[0] ? ")" : "", (unsigned long long)span,
           (unsigned long long)(after[NPU_UNIT_CTRL][NPU_CTR_INSNS] - before[NPU_UNIT_CTRL][NPU_CTR_INSNS]),
           busy[0] ? busy : " no unit busy");
}

hal_status fw_ops_run(fw *f, const npu_job_desc *d, const npu_buf_entry *bufs, fw_job_result *r)
{
    uint32_t count = d->program_bytes / (uint32_t)sizeof(npu_op_desc);
    npu_op_desc op;
    for (uint32_t i = 0; i < count; i++)
        if (read_op(f, d, i, &op, r) != 0 || check_op(f, d, bufs, i, &op, r) != 0)
            return HAL_OK;

    int logging = (d->flags & NPU_JOB_F_LOG_OPS) != 0, measuring = logging || d->profile_addr != 0;
    /* npu.overlap: on: no drain between ops, fences where they conflict (fw_overlap.c) */
    fw_overlap ovl; /* about 13 KiB: the control core runs on a large stack (sim/src/device.cpp) */
    int overlap = f->info->overlap_ops != 0;
    if (overlap)
        fw_overlap_init(&ovl, f);
    /* overlap off, timing only: the port may replay an op it has simulated before (fw_hal.h) */
    int memo = !overlap && (d->flags & NPU_JOB_F_TIMING_ONLY) != 0;
    fw_perf perf[2];
    uint64_t t0 = hal_now(f->hal);
    if (measuring)
        read_perf(f, perf[0]);
    for (uint32_t i = 0; i < count; i++) {
        if (read_op(f, d, i, &op, r) != 0)
            return HAL_OK;
        fw_op_ctx c;
        ctx_init(&c, f, d, bufs, i, r);
        int replayed = 0;
        uint64_t replayed_insns = 0, insns_before = r->insns;
        if (memo) {
            hal_status st = hal_op_replay(f->hal, &op, bufs, d->nbufs, c.cmd_flags, &replayed, &replayed_insns);
            if (st != HAL_OK)
                return fw_unit_failure(f, st, r);
        }
        if (replayed) {
            r->insns += replayed_insns; /* time and counters moved as the op's simulation moved them */
        } else {
            if (overlap)
                fw_overlap_begin_op(&ovl, &c, &op);
            if (c.st == HAL_OK)
                kernels[op.op]->emit(&c, &op);
            if (c.st != HAL_OK)
                return fw_unit_failure(f, c.st, r);
            if (c.bug) {
                /* the kernel's own instruction did not validate: stop before it runs */
                hal_abort(f->hal);
                r->fault = NPU_FAULT_ILLEGAL_INSN;
                r->unit = NPU_UNIT_CTRL;
                r->addr = d->program_addr + (uint64_t)i * sizeof op;
                r->index = i;
                return HAL_OK;
            }
            /* overlap: op i's span ends when its last instruction is queued (the last op's at the
             * drain); off: the units are drained, everything op i issued has completed */
            hal_status st = overlap ? fw_overlap_end_op(&ovl, &c) : HAL_OK;
            if (st == HAL_OK && (!overlap || i + 1 == count))
                st = hal_drain(f->hal);
            if (st != HAL_OK)
                return fw_unit_failure(f, st, r);
            if (memo)
                hal_op_remember(f->hal, r->insns - insns_before);
        }
        if (!measuring)
            continue;
        /* op i + 1 starts now */
        uint64_t t1 = hal_now(f->hal);
        fw_perf *before = &perf[i % 2], *after = &perf[(i + 1) % 2];
        read_perf(f, *after);
        if (d->profile_addr)
            write_profile(f, d, i, t0, t1, *before, *after);
        if (logging && i < NPU_LOG_OPS_PER_JOB) {
            const hal_device_info *region = c.info; /* overlap: the op's SRAM region */
            ctx_init(&c, f, d, bufs, i, r);
            c.info = region;
            log_op(&c, &op, i, t0, t1, *before, *after);
        }
        t0 = t1;
    }
    if (logging && overlap)
        fw_log(f, "job %u: overlap across ops: %llu fences, %llu drains, %llu of %u ops in half the SRAM, %llu alone",
               d->job_id, (unsigned long long)ovl.fences, (unsigned long long)ovl.drains,
               (unsigned long long)ovl.regions, count, (unsigned long long)ovl.exclusives);
    if (logging && count > NPU_LOG_OPS_PER_JOB)
        fw_log(f, "job %u: %u more ops not logged (at most %d per job)", d->job_id, count - NPU_LOG_OPS_PER_JOB,
               NPU_LOG_OPS_PER_JOB);
    return HAL_OK;
}
