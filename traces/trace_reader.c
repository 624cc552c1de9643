/* trace_reader.c -- reading a trace block by block, checking everything: the preamble, each
 * block's header and checksum before decompressing it, each record's fields, the order rules
 * and the content references. Whatever the input (truncated, bit-flipped, another version,
 * empty, random), the reader returns an error that names the byte offset and what was expected;
 * it never reads past its buffers and never allocates more than a block's declared size (bounded
 * by TRACE_MAX_BLOCK_BYTES). */
#include "trace_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

typedef struct config_text {
    uint64_t hash;
    char *yaml;
    size_t len;
} config_text;

struct trace_reader {
    char name[TRACE_NAME_BYTES];
    FILE *f;             /* a file, or */
    const uint8_t *mem;  /* a buffer in memory */
    size_t memlen, mempos;
    uint64_t pos;        /* bytes consumed */
    uint64_t block_pos;  /* offset of the current block */
    uint64_t blocks;     /* blocks read */
    uint8_t *raw, *cbuf;
    size_t rawlen, rawpos, rawcap, ccap;
    ZSTD_DCtx *dctx;
    uint64_t index, cursor;
    int failed, ended, open, in_run;
    char fail_msg[TRACE_ERR_BYTES];
    trace_record header; /* its strings owned below */
    char *tool_version, *command_line;
    config_text *configs;
    size_t nconfigs;
    trace_blobs blobs;
};

static trace_reader *reader_new(const char *name, trace_err *e)
{
    trace_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->dctx = ZSTD_createDCtx())) {
        free(r);
        trace_fail(e, TRACE_E_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

/* Up to n bytes from the source; the count read. */
static size_t src_read(trace_reader *r, void *dst, size_t n)
{
    size_t got;
    if (r->f) {
        got = fread(dst, 1, n, r->f);
    } else {
        got = r->memlen - r->mempos < n ? r->memlen - r->mempos : n;
        memcpy(dst, r->mem + r->mempos, got);
        r->mempos += got;
    }
    r->pos += got;
    return got;
}

static trace_status rfail(trace_reader *r, trace_err *e, trace_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static trace_status rfail(trace_reader *r, trace_err *e, trace_status st, const char *fmt, ...)
{
    char what[TRACE_ERR_BYTES - TRACE_NAME_BYTES - 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(r->fail_msg, sizeof r->fail_msg, "%s: %s", r->name, what);
    r->failed = 1;
    return trace_fail(e, st, "%s", r->fail_msg);
}

static trace_status read_preamble(trace_reader *r, trace_err *e)
{
    uint8_t pre[TRACE_PREAMBLE_BYTES];
    size_t got = src_read(r, pre, sizeof pre);
    if (r->f && ferror(r->f))
        return rfail(r, e, TRACE_E_IO, "cannot read: %s", strerror(errno));
    if (got == 0)
        return rfail(r, e, TRACE_E_FORMAT, "byte 0: the file is empty; expected a trace starting with \"%s\"",
                     TRACE_MAGIC);
    if (got < TRACE_MAGIC_BYTES || memcmp(pre, TRACE_MAGIC, TRACE_MAGIC_BYTES) != 0)
        return rfail(r, e, TRACE_E_FORMAT, "byte 0: not an m4npu trace: expected the magic \"%s\"", TRACE_MAGIC);
    if (got < sizeof pre)
        return rfail(r, e, TRACE_E_FORMAT, "byte %zu: truncated preamble: expected %d bytes, the file has %zu", got,
                     TRACE_PREAMBLE_BYTES, got);
    uint32_t version = tb_get_le32(pre + TRACE_MAGIC_BYTES), flags = tb_get_le32(pre + TRACE_MAGIC_BYTES + 4);
    if (version != TRACE_FORMAT_VERSION)
        return rfail(r, e, TRACE_E_FORMAT, "byte %d: trace format version %u; this m4npu reads version %u",
                     TRACE_MAGIC_BYTES, version, TRACE_FORMAT_VERSION);
    if (flags != 0)
        return rfail(r, e, TRACE_E_FORMAT, "byte %d: flags 0x%x; version %u defines none (expected 0)",
                     TRACE_MAGIC_BYTES + 4, flags, TRACE_FORMAT_VERSION);
    return TRACE_OK;
}

trace_reader *trace_reader_open(const char *path, trace_err *e)
{
    trace_reader *r = reader_new(path, e);
    if (!r)
        return NULL;
    if (!(r->f = fopen(path, "rb"))) {
        trace_fail(e, TRACE_E_IO, "%s: cannot open: %s", path, strerror(errno));
        trace_reader_close(r);
        return NULL;
    }
    if (read_preamble(r, e) != TRACE_OK) {
        trace_reader_close(r);
        return NULL;
    }
    return r;
}

trace_reader *trace_reader_open_mem(const void *data, size_t len, const char *name, trace_err *e)
{
    trace_reader *r = reader_new(name, e);
    if (!r)
        return NULL;
    r->mem = data;
    r->memlen = len;
    if (read_preamble(r, e) != TRACE_OK) {
        trace_reader_close(r);
        return NULL;
    }
    return r;
}

void trace_reader_close(trace_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->raw);
    free(r->cbuf);
    ZSTD_freeDCtx(r->dctx);
    free(r->tool_version);
    free(r->command_line);
    for (size_t i = 0; i < r->nconfigs; i++)
        free(r->configs[i].yaml);
    free(r->configs);
    trace_blobs_free(&r->blobs);
    free(r);
}

uint64_t trace_reader_position(const trace_reader *r) { return r->pos; }
const trace_record *trace_reader_header(const trace_reader *r) { return r->index ? &r->header : NULL; }

const char *trace_reader_config(const trace_reader *r, uint64_t hash, size_t *len)
{
    for (size_t i = 0; i < r->nconfigs; i++)
        if (r->configs[i].hash == hash) {
            if (len)
                *len = r->configs[i].len;
            return r->configs[i].yaml;
        }
    return NULL;
}

static int keep_config(trace_reader *r, uint64_t hash, const char *yaml, size_t len)
{
    if (trace_reader_config(r, hash, NULL))
        return 0;
    config_text *c = realloc(r->configs, (r->nconfigs + 1) * sizeof *c);
    if (!c)
        return -1;
    r->configs = c;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, yaml, len);
    copy[len] = '\0';
    c[r->nconfigs++] = (config_text){hash, copy, len};
    return 0;
}

/* The next block into raw: TRACE_OK, or an error naming the offset. At the end of the input
 * (no byte left where a block would start) the trace is truncated: END comes before it. */
static trace_status load_block(trace_reader *r, trace_err *e)
{
    uint8_t h[TRACE_BLOCK_HEADER_BYTES];
    r->block_pos = r->pos;
    size_t got = src_read(r, h, sizeof h);
    if (r->f && ferror(r->f))
        return rfail(r, e, TRACE_E_IO, "byte %" PRIu64 ": cannot read: %s", r->block_pos, strerror(errno));
    if (got == 0)
        return rfail(r, e, TRACE_E_FORMAT,
                     "byte %" PRIu64 ": the trace ends after record %" PRIu64 " without its END record (truncated at "
                     "a block boundary)", r->block_pos, r->index ? r->index - 1 : 0);
    if (got < sizeof h)
        return rfail(r, e, TRACE_E_FORMAT, "byte %" PRIu64 ": truncated block header: expected %d bytes, found %zu",
                     r->block_pos, TRACE_BLOCK_HEADER_BYTES, got);
    uint32_t magic = tb_get_le32(h), clen = tb_get_le32(h + 4), rlen = tb_get_le32(h + 8);
    uint64_t sum = tb_get_le64(h + 12);
    if (magic != TRACE_BLOCK_MAGIC)
        return rfail(r, e, TRACE_E_FORMAT, "byte %" PRIu64 ": expected a block (magic \"TBLK\"), found 0x%08x",
                     r->block_pos, magic);
    if (rlen == 0 || rlen > TRACE_MAX_BLOCK_BYTES)
        return rfail(r, e, TRACE_E_FORMAT, "byte %" PRIu64 ": block %" PRIu64 " declares %u raw bytes; expected 1..%u",
                     r->block_pos + 8, r->blocks, rlen, TRACE_MAX_BLOCK_BYTES);
    if (clen == 0 || clen > ZSTD_compressBound(rlen))
        return rfail(r, e, TRACE_E_FORMAT,
                     "byte %" PRIu64 ": block %" PRIu64 " declares %u compressed bytes; %u raw bytes compress to "
                     "1..%zu", r->block_pos + 4, r->blocks, clen, rlen, ZSTD_compressBound(rlen));
    if (clen + 8u > r->ccap) {
        uint8_t *p = realloc(r->cbuf, clen + 8u);
        if (!p)
            return rfail(r, e, TRACE_E_NOMEM, "out of memory reading block %" PRIu64, r->blocks);
        r->cbuf = p;
        r->ccap = clen + 8u;
    }
    memcpy(r->cbuf, h + 4, 8);
    got = src_read(r, r->cbuf + 8, clen);
    if (got < clen)
        return rfail(r, e, TRACE_E_FORMAT,
                     "byte %" PRIu64 ": block %" PRIu64 " is truncated: expected %u compressed bytes, found %zu",
                     r->block_pos + TRACE_BLOCK_HEADER_BYTES, r->blocks, clen, got);
    uint64_t actual = XXH64(r->cbuf, 8u + clen, 0);
    if (actual != sum)
        return rfail(r, e, TRACE_E_FORMAT,
                     "byte %" PRIu64 ": block %" PRIu64 " is corrupt: its checksum is 0x%016" PRIx64 ", its bytes hash "
                     "to 0x%016" PRIx64, r->block_pos + 12, r->blocks, sum, actual);
    if (rlen > r->rawcap) {
        uint8_t *p = realloc(r->raw, rlen);
        if (!p)
            return rfail(r, e, TRACE_E_NOMEM, "out of memory reading block %" PRIu64, r->blocks);
        r->raw = p;
        r->rawcap = rlen;
    }
    size_t n = ZSTD_decompressDCtx(r->dctx, r->raw, rlen, r->cbuf + 8, clen);
    if (ZSTD_isError(n) || n != rlen)
        return rfail(r, e, TRACE_E_FORMAT,
                     "byte %" PRIu64 ": block %" PRIu64 " does not decompress to its %u bytes (%s)",
                     r->block_pos + TRACE_BLOCK_HEADER_BYTES, r->blocks, rlen,
                     ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
    r->rawlen = rlen;
    r->rawpos = 0;
    r->blocks++;
    return TRACE_OK;
}

/* The order rules (trace_format.h) and the references to earlier records. */
static const char *order_error(trace_reader *r, const trace_record *rec)
{
    uint32_t t = rec->type;
    if (r->index == 0)
        return t == TRACE_REC_HEADER ? NULL : "the first record must be the HEADER";
    switch (t) {
    case TRACE_REC_HEADER: return "a second HEADER";
    case TRACE_REC_CONFIG:
    case TRACE_REC_BLOB: return r->in_run ? "only instruction records may come between RUN and IRQ" : NULL;
    case TRACE_REC_OPEN:
        if (r->open)
            return "OPEN while a device is open";
        return trace_reader_config(r, rec->config_hash, NULL) ? NULL : "OPEN names a configuration not defined before";
    case TRACE_REC_END: return r->open ? "END while a device is open" : NULL;
    case TRACE_REC_INSN: return r->in_run ? NULL : "an instruction record outside a run";
    case TRACE_REC_IRQ: return r->in_run ? NULL : "IRQ without a RUN before it";
    default:
        if (!r->open)
            return "device traffic while no device is open";
        if (r->in_run)
            return "only instruction records may come between RUN and IRQ";
        if (t == TRACE_REC_MEM_WR && rec->form == TRACE_MEM_BY_HASH && !trace_blobs_find(&r->blobs, rec->content))
            return "a memory write refers to content no earlier BLOB defined";
        if (t == TRACE_REC_MEM_WR && rec->form == TRACE_MEM_BY_HASH &&
            trace_blobs_find(&r->blobs, rec->content)->len != rec->length)
            return "a memory write's length differs from its content's";
        return NULL;
    }
}

static void apply(trace_reader *r, trace_record *rec)
{
    switch (rec->type) {
    case TRACE_REC_OPEN: r->open = 1; break;
    case TRACE_REC_CLOSE: r->open = 0; break;
    case TRACE_REC_RUN: r->in_run = 1; break;
    case TRACE_REC_IRQ: r->in_run = 0; break;
    case TRACE_REC_MEM_WR:
        if (rec->form == TRACE_MEM_BY_HASH)
            rec->bytes = trace_blobs_find(&r->blobs, rec->content)->data;
        break;
    default: break;
    }
}

trace_status trace_reader_next(trace_reader *r, trace_record *rec, trace_err *e)
{
    if (r->failed)
        return trace_fail(e, TRACE_E_FORMAT, "%s", r->fail_msg);
    memset(rec, 0, sizeof *rec);
    if (r->ended) {
        rec->type = TRACE_REC_END;
        rec->index = r->index;
        return TRACE_OK;
    }
    if (r->rawpos == r->rawlen) {
        trace_status st = load_block(r, e);
        if (st != TRACE_OK)
            return st;
    }
    trace_cursor c = {r->raw, r->rawlen, r->rawpos, NULL};
    size_t at = r->rawpos;
    rec->index = r->index;
    rec->position = r->block_pos;
    if (tc_u8(&c, &rec->type) != 0 || trace_decode(&c, rec, &r->cursor) != 0)
        return rfail(r, e, TRACE_E_FORMAT,
                     "byte %" PRIu64 " (block %" PRIu64 ", offset %zu of its data): record %" PRIu64 " (%s %u): %s",
                     r->block_pos, r->blocks - 1, at, r->index, trace_rec_type_name(rec->type), rec->type,
                     c.why ? c.why : "malformed");
    r->rawpos = c.pos;
    const char *why = order_error(r, rec);
    if (why)
        return rfail(r, e, TRACE_E_FORMAT, "byte %" PRIu64 " (block %" PRIu64 "): record %" PRIu64 " (%s): %s",
                     r->block_pos, r->blocks - 1, r->index, trace_rec_type_name(rec->type), why);
    int oom = 0;
    if (rec->type == TRACE_REC_HEADER) {
        r->header = *rec;
        r->tool_version = strndup(rec->tool_version, rec->tool_len);
        r->command_line = strndup(rec->command_line, rec->command_len);
        oom = !r->tool_version || !r->command_line || keep_config(r, rec->config_hash, rec->config_yaml, rec->config_len);
    } else if (rec->type == TRACE_REC_CONFIG) {
        oom = keep_config(r, rec->config_hash, rec->config_yaml, rec->config_len) != 0;
    } else if (rec->type == TRACE_REC_BLOB) {
        if (trace_blobs_find(&r->blobs, rec->content))
            return rfail(r, e, TRACE_E_FORMAT, "byte %" PRIu64 ": record %" PRIu64 " (blob): content defined twice",
                         r->block_pos, r->index);
        oom = trace_blobs_add(&r->blobs, rec->content, rec->bytes, rec->length) != 0;
    }
    if (oom)
        return rfail(r, e, TRACE_E_NOMEM, "out of memory at record %" PRIu64, r->index);
    if (rec->type == TRACE_REC_HEADER || rec->type == TRACE_REC_CONFIG) {
        /* point at the reader's own copies, NUL-terminated */
        rec->config_yaml = trace_reader_config(r, rec->config_hash, &rec->config_len);
        if (rec->type == TRACE_REC_HEADER) {
            rec->tool_version = r->header.tool_version = r->tool_version;
            rec->command_line = r->header.command_line = r->command_line;
            r->header.config_yaml = rec->config_yaml;
        }
    }
    apply(r, rec);
    if (rec->type == TRACE_REC_END) {
        if (rec->records != r->index)
            return rfail(r, e, TRACE_E_FORMAT, "byte %" PRIu64 ": END counts %" PRIu64 " records before it; there were %" PRIu64,
                         r->block_pos, rec->records, r->index);
        if (r->rawpos != r->rawlen)
            return rfail(r, e, TRACE_E_FORMAT, "byte %" PRIu64 ": %zu bytes of records follow END in its block",
                         r->block_pos, r->rawlen - r->rawpos);
        uint8_t extra;
        if (src_read(r, &extra, 1) != 0)
            return rfail(r, e, TRACE_E_FORMAT, "byte %" PRIu64 ": bytes follow the END record (expected the end of the "
                         "file)", r->pos - 1);
        r->ended = 1;
    }
    r->index++;
    return TRACE_OK;
}
