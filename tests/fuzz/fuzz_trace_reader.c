/* fuzz_trace_reader.c -- fuzz harness: the trace reader (traces/trace_reader.c).
 *
 * An input that starts with the trace magic is a whole trace file (preamble, block headers,
 * checksums: mostly rejected at a checksum, as a flipped bit should be; the golden traces are
 * the seeds); any other input is the records of one block, wrapped in a valid preamble and block
 * (right sizes and checksum) so that the record decoder and the order rules behind the checksum
 * are fuzzed too. Every input must read to END
 * or stop with an error that names a byte offset; nothing may crash, hang or leak.
 *
 * Linked into tests/traces/test_trace_corrupt.c, which feeds it the corruption cases as a cmocka
 * test; registered in tests/fuzz/CMakeLists.txt (the golden traces are its seeds), so ctest
 * replays the goldens through it and scripts/fuzz.sh fuzzes it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_internal.h"

#define TRACE_FUZZ_CHECK(cond, ...)                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FUZZ_MAX_RECORDS 100000u /* a block's worth; more would mean the reader loops */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_all(const uint8_t *bytes, size_t len)
{
    trace_err e = {{0}};
    trace_reader *r = trace_reader_open_mem(bytes, len, "fuzz.trc", &e);
    if (!r) {
        TRACE_FUZZ_CHECK(strstr(e.msg, "byte ") != NULL, "an open failed without a byte offset: %s", e.msg);
        return;
    }
    trace_record rec;
    for (uint32_t i = 0; i < FUZZ_MAX_RECORDS; i++) {
        if (trace_reader_next(r, &rec, &e) != TRACE_OK) {
            TRACE_FUZZ_CHECK(strstr(e.msg, "byte ") != NULL || strstr(e.msg, "memory") != NULL,
                             "a read failed without a byte offset: %s", e.msg);
            break;
        }
        char line[4096];
        trace_format_record(&rec, line, sizeof line); /* every record read must print */
        if (rec.type == TRACE_REC_END)
            break;
        TRACE_FUZZ_CHECK(i + 1 < FUZZ_MAX_RECORDS, "no END after %u records", FUZZ_MAX_RECORDS);
    }
    trace_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || (size >= TRACE_MAGIC_BYTES && memcmp(data, TRACE_MAGIC, TRACE_MAGIC_BYTES) == 0)) {
        read_all(data, size);
        return 0;
    }
    trace_buf file = {0};
    uint8_t pre[TRACE_PREAMBLE_BYTES] = {0};
    memcpy(pre, TRACE_MAGIC, TRACE_MAGIC_BYTES);
    tb_le32(pre + TRACE_MAGIC_BYTES, TRACE_FORMAT_VERSION);
    tb_bytes(&file, pre, sizeof pre);
    if (!file.oom && trace_wrap_block(data, size, &file) == 0 && !file.oom)
        read_all(file.data, file.len);
    free(file.data);
    return 0;
}
