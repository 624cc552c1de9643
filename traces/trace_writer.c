/* trace_writer.c -- writing a trace as a stream of checksummed zstd blocks (trace_format.h).
 * Records accumulate in a raw buffer; past the block size it is compressed and written, so
 * memory stays bounded however long the recording. The file appears only when the trace is
 * complete: it is written beside its final name and renamed at close. */
#include "trace_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRACE_FILE_MODE 0644

#include <xxhash.h>
#include <zstd.h>

struct trace_writer {
    FILE *f;
    char *path, *tmp;
    trace_buf raw, block;
    size_t block_bytes;
    uint64_t records, cursor;
    trace_blobs seen; /* content already in the trace */
    int failed;       /* an earlier write failed: close reports it */
    char why[TRACE_ERR_BYTES];
};

trace_writer *trace_writer_open(const char *path, size_t block_bytes, trace_err *e)
{
    trace_writer *w = calloc(1, sizeof *w);
    size_t plen = strlen(path);
    if (w) {
        w->path = strdup(path);
        w->tmp = malloc(plen + sizeof ".tmpXXXXXX");
    }
    if (!w || !w->path || !w->tmp) {
        trace_fail(e, TRACE_E_NOMEM, "%s: out of memory", path);
        trace_writer_abort(w);
        return NULL;
    }
    memcpy(w->tmp, path, plen);
    memcpy(w->tmp + plen, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
    int fd = mkstemp(w->tmp);
    if (fd >= 0)
        fchmod(fd, TRACE_FILE_MODE); /* mkstemp's 0600 is for secrets; a trace is a result */
    if (fd < 0 || !(w->f = fdopen(fd, "wb"))) {
        trace_fail(e, TRACE_E_IO, "%s: cannot create: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(w->tmp);
        }
        free(w->tmp);
        w->tmp = NULL;
        trace_writer_abort(w);
        return NULL;
    }
    w->block_bytes = block_bytes ? block_bytes : TRACE_DEFAULT_BLOCK_BYTES;
    if (w->block_bytes > TRACE_MAX_BLOCK_BYTES / 2)
        w->block_bytes = TRACE_MAX_BLOCK_BYTES / 2;
    uint8_t pre[TRACE_PREAMBLE_BYTES] = {0};
    memcpy(pre, TRACE_MAGIC, TRACE_MAGIC_BYTES);
    tb_le32(pre + TRACE_MAGIC_BYTES, TRACE_FORMAT_VERSION);
    if (fwrite(pre, 1, sizeof pre, w->f) != sizeof pre) {
        trace_fail(e, TRACE_E_IO, "%s: cannot write: %s", path, strerror(errno));
        trace_writer_abort(w);
        return NULL;
    }
    return w;
}

static void fail_once(trace_writer *w, const char *what)
{
    if (!w->failed)
        snprintf(w->why, sizeof w->why, "%s: %s", w->path, what);
    w->failed = 1;
}

int trace_wrap_block(const void *raw, size_t len, trace_buf *out)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    size_t bound = ZSTD_compressBound(len), at = out->len;
    tb_reserve(out, TRACE_BLOCK_HEADER_BYTES + bound);
    if (!cctx || out->oom) {
        ZSTD_freeCCtx(cctx);
        return -1;
    }
    uint8_t *h = out->data + at;
    size_t c = ZSTD_compressCCtx(cctx, h + TRACE_BLOCK_HEADER_BYTES, bound, raw, len, TRACE_ZSTD_LEVEL);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(c))
        return -1;
    tb_le32(h, TRACE_BLOCK_MAGIC);
    tb_le32(h + 4, (uint32_t)c);
    tb_le32(h + 8, (uint32_t)len);
    /* the checksum covers both sizes and the compressed bytes: hash them as one run */
    XXH64_state_t *st = XXH64_createState();
    if (!st)
        return -1;
    XXH64_reset(st, 0);
    XXH64_update(st, h + 4, 8);
    XXH64_update(st, h + TRACE_BLOCK_HEADER_BYTES, c);
    tb_le64(h + 12, XXH64_digest(st));
    XXH64_freeState(st);
    out->len = at + TRACE_BLOCK_HEADER_BYTES + c;
    return 0;
}

static void flush_block(trace_writer *w)
{
    if (w->failed || w->raw.len == 0)
        return;
    w->block.len = 0;
    if (trace_wrap_block(w->raw.data, w->raw.len, &w->block) != 0) {
        fail_once(w, "out of memory compressing a block");
        return;
    }
    if (fwrite(w->block.data, 1, w->block.len, w->f) != w->block.len)
        fail_once(w, strerror(errno));
    w->raw.len = 0;
}

static void put(trace_writer *w, const trace_record *rec)
{
    trace_encode(&w->raw, rec, &w->cursor);
    if (w->raw.oom)
        fail_once(w, "out of memory");
    w->records++;
    if (w->raw.len >= w->block_bytes)
        flush_block(w);
}

/* A long write: chunks, each stored once as a BLOB and referred to by hash. */
static void put_content(trace_writer *w, const trace_record *rec)
{
    for (uint64_t off = 0; off < rec->length && !w->failed; off += TRACE_CHUNK_BYTES) {
        uint64_t n = rec->length - off < TRACE_CHUNK_BYTES ? rec->length - off : TRACE_CHUNK_BYTES;
        trace_record c;
        memset(&c, 0, sizeof c);
        c.addr = rec->addr + off;
        c.length = n;
        c.bytes = rec->bytes + off;
        if (n <= TRACE_INLINE_BYTES) {
            c.type = TRACE_REC_MEM_WR;
            c.form = TRACE_MEM_INLINE;
            put(w, &c);
            continue;
        }
        c.content = trace_hash_content(c.bytes, (size_t)n);
        if (!trace_blobs_find(&w->seen, c.content)) {
            if (trace_blobs_add(&w->seen, c.content, NULL, n) != 0) {
                fail_once(w, "out of memory");
                return;
            }
            c.type = TRACE_REC_BLOB;
            put(w, &c);
        }
        c.type = TRACE_REC_MEM_WR;
        c.form = TRACE_MEM_BY_HASH;
        put(w, &c);
    }
}

trace_status trace_writer_put(trace_writer *w, const trace_record *rec, trace_err *e)
{
    if (rec->type == TRACE_REC_MEM_WR)
        put_content(w, rec);
    else
        put(w, rec);
    return w->failed ? trace_fail(e, TRACE_E_IO, "%s", w->why) : TRACE_OK;
}

uint64_t trace_writer_records(const trace_writer *w) { return w->records; }

static void writer_free(trace_writer *w)
{
    if (w->f)
        fclose(w->f);
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w->raw.data);
    free(w->block.data);
    trace_blobs_free(&w->seen);
    free(w);
}

void trace_writer_abort(trace_writer *w)
{
    if (w)
        writer_free(w);
}

trace_status trace_writer_close(trace_writer *w, trace_err *e)
{
    trace_record end;
    memset(&end, 0, sizeof end);
    end.type = TRACE_REC_END;
    end.records = w->records;
    put(w, &end);
    flush_block(w);
    if (!w->failed && fflush(w->f) != 0)
        fail_once(w, strerror(errno));
    int rc = fclose(w->f);
    w->f = NULL;
    if (!w->failed && rc != 0)
        fail_once(w, strerror(errno));
    if (!w->failed && rename(w->tmp, w->path) != 0)
        fail_once(w, strerror(errno));
    trace_status st = w->failed ? trace_fail(e, TRACE_E_IO, "%s", w->why) : TRACE_OK;
    if (st == TRACE_OK) {
        free(w->tmp);
        w->tmp = NULL; /* renamed: nothing to remove */
    }
    writer_free(w);
    return st;
}
