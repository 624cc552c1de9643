/* trace_internal.h -- what the trace library's files share: the byte encoding of records
 * (varints, hashes, strings), the content table (hash -> bytes), and the error helper. */
#ifndef M4NPU_TRACE_INTERNAL_H
#define M4NPU_TRACE_INTERNAL_H

#include <stdarg.h>

#include "npu_config.h"
#include "trace.h"

#define TRACE_VARINT_MAX_BYTES 10
#define TRACE_NAME_BYTES 256

trace_status trace_fail(trace_err *e, trace_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- a growing byte buffer (encoding) */
typedef struct trace_buf {
    uint8_t *data;
    size_t len, cap;
    int oom; /* an allocation failed: everything after is dropped */
} trace_buf;
void tb_reserve(trace_buf *b, size_t more);
void tb_u8(trace_buf *b, uint8_t v);
void tb_varint(trace_buf *b, uint64_t v);
void tb_zz(trace_buf *b, int64_t v);
void tb_bytes(trace_buf *b, const void *p, size_t n);
void tb_h64(trace_buf *b, uint64_t v);
void tb_h128(trace_buf *b, trace_hash128 h);
void tb_str(trace_buf *b, const char *s, size_t n);
void tb_le32(uint8_t *p, uint32_t v);
void tb_le64(uint8_t *p, uint64_t v);
uint32_t tb_get_le32(const uint8_t *p);
uint64_t tb_get_le64(const uint8_t *p);

/* Append one block holding raw (len > 0 bytes of records) to out: header, checksum, zstd frame.
 * -1 if out of memory. The writer's blocks and tests' forged ones are made by this. */
int trace_wrap_block(const void *raw, size_t len, trace_buf *out);

/* ---- decoding a block's bytes: each returns 0, or -1 when the field does not fit or is malformed
 * (what is set in *why) */
typedef struct trace_cursor {
    const uint8_t *p;
    size_t len, pos;
    const char *why;
} trace_cursor;
int tc_u8(trace_cursor *c, uint32_t *v);
int tc_varint(trace_cursor *c, uint64_t *v);
int tc_u32(trace_cursor *c, uint32_t *v); /* a varint that must fit 32 bits */
int tc_zz(trace_cursor *c, int64_t *v);
int tc_h64(trace_cursor *c, uint64_t *v);
int tc_h128(trace_cursor *c, trace_hash128 *h);
int tc_bytes(trace_cursor *c, size_t n, const uint8_t **p);

/* Encode rec (any type but BLOB/MEM_WR by hash, which the writer builds) into b. *cursor is the
 * cycle cursor (trace_format.h), updated. */
void trace_encode(trace_buf *b, const trace_record *rec, uint64_t *cursor);
/* Decode one record's fields after its type byte; -1 with c->why on malformed input. Strings and
 * bytes point into the block. */
int trace_decode(trace_cursor *c, trace_record *rec, uint64_t *cursor);

/* ---- content by hash */
typedef struct trace_blob {
    trace_hash128 hash;
    uint8_t *data; /* owned; NULL in a writer's seen-set */
    uint64_t len;
    int used;
} trace_blob;
typedef struct trace_blobs {
    trace_blob *slot;
    size_t n, cap; /* cap a power of two */
} trace_blobs;
/* The entry of h, or NULL. */
const trace_blob *trace_blobs_find(const trace_blobs *t, trace_hash128 h);
/* Add h (copying data when given); -1 if out of memory. */
int trace_blobs_add(trace_blobs *t, trace_hash128 h, const void *data, uint64_t len);
void trace_blobs_free(trace_blobs *t);

int trace_hash_eq(trace_hash128 a, trace_hash128 b);

/* The configuration text the reader saw for config_hash (HEADER or CONFIG), or NULL. */
const char *trace_reader_config(const trace_reader *r, uint64_t config_hash, size_t *len);
/* The header (valid once the first record was read). */
const trace_record *trace_reader_header(const trace_reader *r);

/* A configuration as canonical YAML (malloc'd text) and its hash; -1 if out of memory. */
struct m4npu_config;
int trace_config_text(const struct m4npu_config *cfg, char **text, size_t *len, uint64_t *hash);

/* Name of an MMIO register offset ("CQ_TAIL", "PERF.mm.busy_cycles.lo"), into buf. */
void trace_reg_name(uint32_t offset, char *buf, size_t cap);
/* Does the value of this register depend on timing (cycle counter, counters, log head)? */
int trace_reg_timing_dependent(uint32_t offset);

/* ---- replay
 * At level insn, replay matches the instruction records that end in one cycle as a set (per unit
 * in order; trace_replay.c, on_insn). It holds at most this many: in one cycle a unit finishes
 * the instruction it was running and at most what its queue holds (signals and waits take no
 * time), for every unit at the largest queue depth, and a margin. More is refused as corrupt. */
#define TRACE_REPLAY_TIED_INSNS_MARGIN 1024u
#define TRACE_REPLAY_MAX_TIED_INSNS (NPU_UNIT_COUNT * (NPU_QUEUE_DEPTH_MAX + 1u) + TRACE_REPLAY_TIED_INSNS_MARGIN)

#endif
