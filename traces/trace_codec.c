/* trace_codec.c -- the byte encoding of trace records (trace_format.h): varints, hashes,
 * strings, each record's fields, the content table, and the names used in messages and dumps.
 * The writer and the reader both go through trace_encode/trace_decode, so the two cannot drift. */
#include "trace_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "npu_drv.h"

#define TB_MIN_CAP 4096u
#define ZIGZAG_SIGN_SHIFT 63

trace_status trace_fail(trace_err *e, trace_status st, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

trace_hash128 trace_hash_content(const void *data, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(data, len);
    trace_hash128 r = {h.low64, h.high64};
    return r;
}

uint64_t trace_hash64(const void *data, size_t len) { return XXH3_64bits(data, len); }

int trace_hash_eq(trace_hash128 a, trace_hash128 b) { return a.lo == b.lo && a.hi == b.hi; }

/* ---------------------------------------------------------------- encoding */

void tb_reserve(trace_buf *b, size_t more)
{
    if (b->oom || b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : TB_MIN_CAP;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->data = p;
    b->cap = cap;
}

void tb_bytes(trace_buf *b, const void *p, size_t n)
{
    tb_reserve(b, n);
    if (b->oom || n == 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void tb_u8(trace_buf *b, uint8_t v) { tb_bytes(b, &v, 1); }

void tb_varint(trace_buf *b, uint64_t v)
{
    uint8_t tmp[TRACE_VARINT_MAX_BYTES];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        tmp[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
    } while (v);
    tb_bytes(b, tmp, n);
}

void tb_zz(trace_buf *b, int64_t v)
{
    tb_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> ZIGZAG_SIGN_SHIFT));
}

void tb_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void tb_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t tb_get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t tb_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void tb_h64(trace_buf *b, uint64_t v)
{
    uint8_t tmp[8];
    tb_le64(tmp, v);
    tb_bytes(b, tmp, sizeof tmp);
}

void tb_h128(trace_buf *b, trace_hash128 h)
{
    tb_h64(b, h.lo);
    tb_h64(b, h.hi);
}

void tb_str(trace_buf *b, const char *s, size_t n)
{
    tb_varint(b, n);
    tb_bytes(b, s, n);
}

/* ---------------------------------------------------------------- decoding */

static int tc_need(trace_cursor *c, size_t n)
{
    if (c->len - c->pos < n) {
        c->why = "the record is cut short by the end of its block";
        return -1;
    }
    return 0;
}

int tc_u8(trace_cursor *c, uint32_t *v)
{
    if (tc_need(c, 1) != 0)
        return -1;
    *v = c->p[c->pos++];
    return 0;
}

int tc_varint(trace_cursor *c, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < TRACE_VARINT_MAX_BYTES; i++) {
        if (tc_need(c, 1) != 0)
            return -1;
        uint8_t byte = c->p[c->pos++];
        if (i == TRACE_VARINT_MAX_BYTES - 1 && byte > 1) {
            c->why = "a varint overflows 64 bits";
            return -1;
        }
        r |= (uint64_t)(byte & 0x7F) << (7 * i);
        if (!(byte & 0x80)) {
            *v = r;
            return 0;
        }
    }
    c->why = "a varint is longer than 10 bytes";
    return -1;
}

int tc_u32(trace_cursor *c, uint32_t *v)
{
    uint64_t w;
    if (tc_varint(c, &w) != 0)
        return -1;
    if (w > UINT32_MAX) {
        c->why = "a 32-bit field holds a larger value";
        return -1;
    }
    *v = (uint32_t)w;
    return 0;
}

int tc_zz(trace_cursor *c, int64_t *v)
{
    uint64_t w;
    if (tc_varint(c, &w) != 0)
        return -1;
    *v = (int64_t)(w >> 1) ^ -(int64_t)(w & 1);
    return 0;
}

int tc_bytes(trace_cursor *c, size_t n, const uint8_t **p)
{
    if (tc_need(c, n) != 0)
        return -1;
    *p = c->p + c->pos;
    c->pos += n;
    return 0;
}

int tc_h64(trace_cursor *c, uint64_t *v)
{
    const uint8_t *p;
    if (tc_bytes(c, 8, &p) != 0)
        return -1;
    *v = tb_get_le64(p);
    return 0;
}

int tc_h128(trace_cursor *c, trace_hash128 *h)
{
    return tc_h64(c, &h->lo) != 0 || tc_h64(c, &h->hi) != 0 ? -1 : 0;
}

static int tc_str(trace_cursor *c, const char **s, size_t *n)
{
    uint64_t len;
    const uint8_t *p;
    if (tc_varint(c, &len) != 0)
        return -1;
    if (len > TRACE_MAX_STRING_BYTES) {
        c->why = "a text field is longer than the format allows";
        return -1;
    }
    if (tc_bytes(c, (size_t)len, &p) != 0)
        return -1;
    if (memchr(p, '\0', (size_t)len)) {
        c->why = "a text field holds a NUL byte";
        return -1;
    }
    *s = (const char *)p;
    *n = (size_t)len;
    return 0;
}

/* ---------------------------------------------------------------- records */

static int64_t delta(uint64_t v, uint64_t *cursor) { return (int64_t)(v - *cursor); }

void trace_encode(trace_buf *b, const trace_record *r, uint64_t *cursor)
{
    tb_u8(b, (uint8_t)r->type);
    switch (r->type) {
    case TRACE_REC_HEADER:
        tb_varint(b, r->abi_version);
        tb_varint(b, r->isa_version);
        tb_varint(b, r->level);
        tb_str(b, r->tool_version, strlen(r->tool_version));
        tb_str(b, r->command_line, strlen(r->command_line));
        tb_h64(b, r->config_hash);
        tb_str(b, r->config_yaml, r->config_len);
        break;
    case TRACE_REC_CONFIG:
        tb_h64(b, r->config_hash);
        tb_str(b, r->config_yaml, r->config_len);
        break;
    case TRACE_REC_OPEN:
        tb_h64(b, r->config_hash);
        tb_varint(b, r->dram_bytes);
        *cursor = 0;
        break;
    case TRACE_REC_CLOSE: break;
    case TRACE_REC_MMIO_RD:
    case TRACE_REC_MMIO_WR:
        tb_varint(b, r->offset);
        tb_varint(b, r->value);
        break;
    case TRACE_REC_BLOB:
        tb_h128(b, r->content);
        tb_varint(b, r->length);
        tb_bytes(b, r->bytes, (size_t)r->length);
        break;
    case TRACE_REC_MEM_WR:
        tb_varint(b, r->addr);
        tb_varint(b, r->length);
        tb_varint(b, r->form);
        if (r->form == TRACE_MEM_INLINE)
            tb_bytes(b, r->bytes, (size_t)r->length);
        else
            tb_h128(b, r->content);
        break;
    case TRACE_REC_MEM_RD:
        tb_varint(b, r->addr);
        tb_varint(b, r->length);
        tb_varint(b, r->kind);
        tb_h64(b, r->read_hash);
        break;
    case TRACE_REC_RUN: tb_varint(b, r->max_cycles); break;
    case TRACE_REC_IRQ:
        tb_varint(b, r->result);
        tb_zz(b, delta(r->cycle, cursor));
        *cursor = r->cycle;
        break;
    case TRACE_REC_CYCLES:
        tb_zz(b, delta(r->cycle, cursor));
        *cursor = r->cycle;
        break;
    case TRACE_REC_SUBMIT:
        tb_varint(b, r->job_id);
        tb_varint(b, r->job_type);
        tb_varint(b, r->job_flags);
        tb_varint(b, r->nbufs);
        tb_varint(b, r->program_bytes);
        break;
    case TRACE_REC_DONE:
        tb_varint(b, r->job_id);
        tb_varint(b, r->completion_addr);
        tb_varint(b, r->state);
        tb_varint(b, r->fault);
        tb_varint(b, r->fault_unit);
        tb_varint(b, r->fault_insn);
        tb_varint(b, r->fault_addr);
        tb_zz(b, delta(r->start_cycle, cursor));
        tb_zz(b, delta(r->end_cycle, cursor));
        *cursor = r->end_cycle;
        tb_varint(b, r->insns);
        for (int u = 0; u < NPU_UNIT_COUNT; u++)
            for (int k = 0; k < NPU_CTR_COUNT; k++)
                tb_varint(b, r->counters[u][k]);
        break;
    case TRACE_REC_INSN:
        tb_varint(b, r->unit);
        tb_varint(b, r->insn_index);
        tb_varint(b, r->op);
        tb_varint(b, r->outcome);
        tb_zz(b, delta(r->end_cycle, cursor));
        *cursor = r->end_cycle;
        tb_varint(b, r->end_cycle - r->issue_cycle);
        break;
    case TRACE_REC_END: tb_varint(b, r->records); break;
    default: break;
    }
}

#define TRY(x)                                                                                                         \
    do {                                                                                                               \
        if ((x) != 0)                                                                                                  \
            return -1;                                                                                                 \
    } while (0)

static int check(trace_cursor *c, int ok, const char *why)
{
    if (!ok) {
        c->why = why;
        return -1;
    }
    return 0;
}

int trace_decode(trace_cursor *c, trace_record *r, uint64_t *cursor)
{
    int64_t d;
    switch (r->type) {
    case TRACE_REC_HEADER:
        TRY(tc_u32(c, &r->abi_version));
        TRY(tc_u32(c, &r->isa_version));
        TRY(tc_u32(c, &r->level));
        TRY(check(c, r->level <= TRACE_LEVEL_INSN, "the trace level is neither job (0) nor insn (1)"));
        TRY(tc_str(c, &r->tool_version, &r->tool_len));
        TRY(tc_str(c, &r->command_line, &r->command_len));
        TRY(tc_h64(c, &r->config_hash));
        TRY(tc_str(c, &r->config_yaml, &r->config_len));
        return 0;
    case TRACE_REC_CONFIG:
        TRY(tc_h64(c, &r->config_hash));
        TRY(tc_str(c, &r->config_yaml, &r->config_len));
        return 0;
    case TRACE_REC_OPEN:
        TRY(tc_h64(c, &r->config_hash));
        TRY(tc_varint(c, &r->dram_bytes));
        *cursor = 0;
        return 0;
    case TRACE_REC_CLOSE: return 0;
    case TRACE_REC_MMIO_RD:
    case TRACE_REC_MMIO_WR:
        TRY(tc_u32(c, &r->offset));
        TRY(tc_u32(c, &r->value));
        return check(c, r->offset % 4 == 0, "an MMIO offset is not a multiple of 4");
    case TRACE_REC_BLOB:
        TRY(tc_h128(c, &r->content));
        TRY(tc_varint(c, &r->length));
        TRY(check(c, r->length > TRACE_INLINE_BYTES && r->length <= TRACE_CHUNK_BYTES,
                  "a content blob's length is outside (inline size, chunk size]"));
        TRY(tc_bytes(c, (size_t)r->length, &r->bytes));
        return check(c, trace_hash_eq(trace_hash_content(r->bytes, (size_t)r->length), r->content),
                     "a content blob's bytes do not hash to its recorded hash");
    case TRACE_REC_MEM_WR:
        TRY(tc_varint(c, &r->addr));
        TRY(tc_varint(c, &r->length));
        TRY(tc_u32(c, &r->form));
        if (r->form == TRACE_MEM_INLINE) {
            TRY(check(c, r->length <= TRACE_INLINE_BYTES, "an inline memory write is longer than the inline limit"));
            return tc_bytes(c, (size_t)r->length, &r->bytes);
        }
        TRY(check(c, r->form == TRACE_MEM_BY_HASH, "a memory write's form is neither inline (0) nor by content (1)"));
        return tc_h128(c, &r->content);
    case TRACE_REC_MEM_RD:
        TRY(tc_varint(c, &r->addr));
        TRY(tc_varint(c, &r->length));
        TRY(tc_u32(c, &r->kind));
        TRY(check(c, r->kind < NPU_READ_KIND_COUNT, "a memory read's kind is not data, completion or log"));
        return tc_h64(c, &r->read_hash);
    case TRACE_REC_RUN: return tc_varint(c, &r->max_cycles);
    case TRACE_REC_IRQ:
        TRY(tc_u32(c, &r->result));
        TRY(check(c, r->result <= TRACE_IRQ_ERROR, "a run's result is not 0, 1 or 2"));
        TRY(tc_zz(c, &d));
        r->cycle = *cursor + (uint64_t)d;
        *cursor = r->cycle;
        return 0;
    case TRACE_REC_CYCLES:
        TRY(tc_zz(c, &d));
        r->cycle = *cursor + (uint64_t)d;
        *cursor = r->cycle;
        return 0;
    case TRACE_REC_SUBMIT:
        TRY(tc_u32(c, &r->job_id));
        TRY(tc_u32(c, &r->job_type));
        TRY(tc_u32(c, &r->job_flags));
        TRY(tc_u32(c, &r->nbufs));
        return tc_u32(c, &r->program_bytes);
    case TRACE_REC_DONE:
        TRY(tc_u32(c, &r->job_id));
        TRY(tc_varint(c, &r->completion_addr));
        TRY(tc_u32(c, &r->state));
        TRY(tc_u32(c, &r->fault));
        TRY(tc_u32(c, &r->fault_unit));
        TRY(tc_u32(c, &r->fault_insn));
        TRY(tc_varint(c, &r->fault_addr));
        TRY(tc_zz(c, &d));
        r->start_cycle = *cursor + (uint64_t)d;
        TRY(tc_zz(c, &d));
        r->end_cycle = *cursor + (uint64_t)d;
        *cursor = r->end_cycle;
        TRY(tc_varint(c, &r->insns));
        for (int u = 0; u < NPU_UNIT_COUNT; u++)
            for (int k = 0; k < NPU_CTR_COUNT; k++)
                TRY(tc_varint(c, &r->counters[u][k]));
        return 0;
    case TRACE_REC_INSN: {
        uint64_t dur;
        TRY(tc_u32(c, &r->unit));
        TRY(check(c, r->unit < NPU_UNIT_CTRL, "an instruction's unit is not one of the device's units"));
        TRY(tc_u32(c, &r->insn_index));
        TRY(tc_u32(c, &r->op));
        TRY(tc_u32(c, &r->outcome));
        TRY(check(c, r->outcome <= 2, "an instruction's outcome is not done, fault or aborted"));
        TRY(tc_zz(c, &d));
        r->end_cycle = *cursor + (uint64_t)d;
        *cursor = r->end_cycle;
        TRY(tc_varint(c, &dur));
        TRY(check(c, dur <= r->end_cycle, "an instruction was issued before cycle 0"));
        r->issue_cycle = r->end_cycle - dur;
        return 0;
    }
    case TRACE_REC_END: return tc_varint(c, &r->records);
    default: c->why = "unknown record type"; return -1;
    }
}

/* ---------------------------------------------------------------- content table */

static size_t slot_of(const trace_blobs *t, trace_hash128 h)
{
    size_t mask = t->cap - 1, i = (size_t)h.lo & mask;
    while (t->slot[i].used && !trace_hash_eq(t->slot[i].hash, h))
        i = (i + 1) & mask;
    return i;
}

const trace_blob *trace_blobs_find(const trace_blobs *t, trace_hash128 h)
{
    if (!t->cap)
        return NULL;
    size_t i = slot_of(t, h);
    return t->slot[i].used ? &t->slot[i] : NULL;
}

static int grow(trace_blobs *t)
{
    size_t cap = t->cap ? 2 * t->cap : 64;
    trace_blob *old = t->slot;
    size_t oldcap = t->cap;
    t->slot = calloc(cap, sizeof *t->slot);
    if (!t->slot) {
        t->slot = old;
        return -1;
    }
    t->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].used)
            t->slot[slot_of(t, old[i].hash)] = old[i];
    free(old);
    return 0;
}

int trace_blobs_add(trace_blobs *t, trace_hash128 h, const void *data, uint64_t len)
{
    if ((t->n + 1) * 2 > t->cap && grow(t) != 0)
        return -1;
    size_t i = slot_of(t, h);
    if (t->slot[i].used)
        return 0;
    trace_blob b = {h, NULL, len, 1};
    if (data) {
        b.data = malloc(len ? (size_t)len : 1);
        if (!b.data)
            return -1;
        memcpy(b.data, data, (size_t)len);
    }
    t->slot[i] = b;
    t->n++;
    return 0;
}

void trace_blobs_free(trace_blobs *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slot[i].data);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- names */

static const char *const rec_names[TRACE_REC_TYPE_END] = {
    [TRACE_REC_HEADER] = "header", [TRACE_REC_CONFIG] = "config",   [TRACE_REC_OPEN] = "open",
    [TRACE_REC_CLOSE] = "close",   [TRACE_REC_MMIO_RD] = "mmio.rd", [TRACE_REC_MMIO_WR] = "mmio.wr",
    [TRACE_REC_BLOB] = "blob",     [TRACE_REC_MEM_WR] = "mem.wr",   [TRACE_REC_MEM_RD] = "mem.rd",
    [TRACE_REC_RUN] = "run",       [TRACE_REC_IRQ] = "irq",         [TRACE_REC_CYCLES] = "cycles",
    [TRACE_REC_SUBMIT] = "submit", [TRACE_REC_DONE] = "done",       [TRACE_REC_INSN] = "insn",
    [TRACE_REC_END] = "end",
};

const char *trace_rec_type_name(uint32_t type)
{
    return type < TRACE_REC_TYPE_END && rec_names[type] ? rec_names[type] : "unknown";
}

const char *trace_level_name(uint32_t level) { return level == TRACE_LEVEL_INSN ? "insn" : "job"; }

const char *trace_read_kind_name(uint32_t kind)
{
    static const char *const names[NPU_READ_KIND_COUNT] = {"data", "completion", "log"};
    return kind < NPU_READ_KIND_COUNT ? names[kind] : "unknown";
}

static const struct {
    uint32_t offset;
    const char *name;
} reg_names[] = {
    {NPU_REG_ID, "ID"},
    {NPU_REG_HW_VERSION, "HW_VERSION"},
    {NPU_REG_ABI_VERSION, "ABI_VERSION"},
    {NPU_REG_ISA_VERSION, "ISA_VERSION"},
    {NPU_REG_STATUS, "STATUS"},
    {NPU_REG_DOORBELL, "DOORBELL"},
    {NPU_REG_CQ_BASE_LO, "CQ_BASE_LO"},
    {NPU_REG_CQ_BASE_HI, "CQ_BASE_HI"},
    {NPU_REG_CQ_SIZE, "CQ_SIZE"},
    {NPU_REG_CQ_HEAD, "CQ_HEAD"},
    {NPU_REG_CQ_TAIL, "CQ_TAIL"},
    {NPU_REG_CQ_RUNNING, "CQ_RUNNING"},
    {NPU_REG_RUN_START_LO, "RUN_START_LO"},
    {NPU_REG_RUN_START_HI, "RUN_START_HI"},
    {NPU_REG_IRQ_STATUS, "IRQ_STATUS"},
    {NPU_REG_IRQ_MASK, "IRQ_MASK"},
    {NPU_REG_IRQ_ACK, "IRQ_ACK"},
    {NPU_REG_FAULT_CODE, "FAULT_CODE"},
    {NPU_REG_FAULT_ADDR_LO, "FAULT_ADDR_LO"},
    {NPU_REG_FAULT_ADDR_HI, "FAULT_ADDR_HI"},
    {NPU_REG_FAULT_INSN, "FAULT_INSN"},
    {NPU_REG_FAULT_UNIT, "FAULT_UNIT"},
    {NPU_REG_FAULT_JOB, "FAULT_JOB"},
    {NPU_REG_RESET, "RESET"},
    {NPU_REG_LOG_BASE_LO, "LOG_BASE_LO"},
    {NPU_REG_LOG_BASE_HI, "LOG_BASE_HI"},
    {NPU_REG_LOG_SIZE, "LOG_SIZE"},
    {NPU_REG_LOG_HEAD, "LOG_HEAD"},
    {NPU_REG_CYCLE_LO, "CYCLE_LO"},
    {NPU_REG_CYCLE_HI, "CYCLE_HI"},
};

void trace_reg_name(uint32_t offset, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof reg_names / sizeof reg_names[0]; i++)
        if (reg_names[i].offset == offset) {
            snprintf(buf, cap, "%s", reg_names[i].name);
            return;
        }
    if (offset >= NPU_REG_PERF_BASE && offset < NPU_MMIO_BYTES) {
        uint32_t idx = (offset - NPU_REG_PERF_BASE) / 8;
        snprintf(buf, cap, "PERF.%s.%s.%s", npu_unit_str(idx / NPU_CTR_COUNT), npu_counter_str(idx % NPU_CTR_COUNT),
                 (offset - NPU_REG_PERF_BASE) % 8 ? "hi" : "lo");
        return;
    }
    if (offset >= NPU_REG_UNIT_STATE(0) && offset < NPU_REG_UNIT_STATE(NPU_UNIT_CTRL)) {
        uint32_t u = (offset - NPU_REG_UNIT_BASE) / 8;
        snprintf(buf, cap, "UNIT.%s.%s", npu_unit_str(u), (offset - NPU_REG_UNIT_BASE) % 8 ? "insn" : "state");
        return;
    }
    snprintf(buf, cap, "0x%03x", offset);
}

int trace_reg_timing_dependent(uint32_t offset)
{
    return offset == NPU_REG_CYCLE_LO || offset == NPU_REG_CYCLE_HI || offset == NPU_REG_LOG_HEAD ||
           offset == NPU_REG_RUN_START_LO || offset == NPU_REG_RUN_START_HI ||
           (offset >= NPU_REG_UNIT_STATE(0) && offset < NPU_REG_UNIT_STATE(NPU_UNIT_CTRL)) ||
           (offset >= NPU_REG_PERF_BASE && offset < NPU_MMIO_BYTES);
}
