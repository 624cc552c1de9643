/* test_trace_corrupt.c -- the trace format and its reader: every record type round-trips;
 * content is stored once; and a trace truncated at every block boundary (and every byte), with
 * random bit flips, with a wrong version, empty, or with forged records that break the rules,
 * gives an error naming the byte offset and what was expected -- never a crash. The same cases
 * go through the fuzz harness (tests/fuzz/fuzz_trace_reader.c). */
#include "test_util.h"

#include "npu_drv.h"
#include "trace_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SMALL_BLOCK_BYTES 64u /* many blocks from a few hundred records */
#define BIT_FLIPS 400
#define BIG_WRITE_BYTES (100u * 1024u) /* two chunks: 64 KiB + 36 KiB */
#define TEST_JOBS 3
#define RNG_SEED 0x7472616365ull

static const char test_yaml[] = "name: \"corrupt-test\"\n";

static trace_record rec_of(uint32_t type)
{
    trace_record r;
    memset(&r, 0, sizeof r);
    r.type = type;
    return r;
}

/* A trace with every record type, several jobs and a repeated large write, in small blocks. */
static void write_sample(const char *path, size_t block_bytes)
{
    trace_err e;
    trace_writer *w = trace_writer_open(path, block_bytes, &e);
    assert_non_null(w);
    trace_record r = rec_of(TRACE_REC_HEADER);
    r.abi_version = NPU_ABI_VERSION;
    r.level = TRACE_LEVEL_INSN;
    r.tool_version = "test";
    r.command_line = "m4npu exec x.s";
    r.config_yaml = test_yaml;
    r.config_len = strlen(test_yaml);
    r.config_hash = trace_hash64(test_yaml, r.config_len);
    uint64_t cfg = r.config_hash;
    assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
    r = rec_of(TRACE_REC_OPEN);
    r.config_hash = cfg;
    r.dram_bytes = 1 << 26;
    assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
    uint8_t *big = malloc(BIG_WRITE_BYTES);
    assert_non_null(big);
    test_rng rng = {RNG_SEED};
    for (size_t i = 0; i < BIG_WRITE_BYTES; i++) /* compressible, and the two chunks differ */
        big[i] = (uint8_t)(i / 97 + i % 13);
    uint64_t cycle = 0;
    for (uint32_t job = 0; job < TEST_JOBS; job++) {
        r = rec_of(TRACE_REC_MEM_WR);
        r.addr = 0x100000;
        r.length = BIG_WRITE_BYTES; /* the same content every job: stored once */
        r.bytes = big;
        assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        r = rec_of(TRACE_REC_SUBMIT);
        r.job_id = job;
        r.job_type = NPU_JOB_ISA;
        r.nbufs = 2;
        r.program_bytes = 64;
        assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        for (uint32_t k = 0; k < 20; k++) {
            r = rec_of(k % 2 ? TRACE_REC_MMIO_RD : TRACE_REC_MMIO_WR);
            r.offset = NPU_REG_PERF(k % NPU_UNIT_COUNT, k % NPU_CTR_COUNT);
            r.value = (uint32_t)test_rng_next(&rng);
            assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        }
        r = rec_of(TRACE_REC_MEM_WR);
        r.addr = 0x2000 + job * 64;
        r.length = 64;
        r.bytes = big + job;
        assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        r = rec_of(TRACE_REC_RUN);
        r.max_cycles = 1000000;
        assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        for (uint32_t k = 0; k < 10; k++) {
            r = rec_of(TRACE_REC_INSN);
            r.unit = k % NPU_UNIT_CTRL;
            r.insn_index = k;
            r.op = k % 8;
            r.issue_cycle = cycle + 3;
            r.end_cycle = cycle += 17 + k;
            assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        }
        r = rec_of(TRACE_REC_IRQ);
        r.result = TRACE_IRQ_RAISED;
        r.cycle = cycle += 5;
        assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        r = rec_of(TRACE_REC_MEM_RD);
        r.addr = 0x2100;
        r.length = 64;
        r.kind = NPU_READ_COMPLETION;
        r.read_hash = test_rng_next(&rng);
        assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        r = rec_of(TRACE_REC_DONE);
        r.job_id = job;
        r.completion_addr = 0x2100;
        r.state = NPU_JOB_DONE;
        r.start_cycle = cycle - 200;
        r.end_cycle = cycle;
        r.insns = 10;
        for (int u = 0; u < NPU_UNIT_COUNT; u++)
            r.counters[u][NPU_CTR_BUSY] = (uint64_t)u * 100 + job;
        assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
        r = rec_of(TRACE_REC_CYCLES);
        r.cycle = cycle;
        assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
    }
    r = rec_of(TRACE_REC_CLOSE);
    assert_int_equal(trace_writer_put(w, &r, &e), TRACE_OK);
    assert_int_equal(trace_writer_close(w, &e), TRACE_OK);
    free(big);
}

/* Read everything: the status at the first error (or TRACE_OK at END), its message in e,
 * and the number of records of each type in counts (may be NULL). */
static trace_status read_mem(const uint8_t *data, size_t len, trace_err *e, uint64_t *counts)
{
    trace_reader *r = trace_reader_open_mem(data, len, "t.trc", e);
    if (!r)
        return TRACE_E_FORMAT;
    trace_status st;
    trace_record rec;
    while ((st = trace_reader_next(r, &rec, e)) == TRACE_OK && rec.type != TRACE_REC_END)
        if (counts)
            counts[rec.type]++;
    trace_reader_close(r);
    return st;
}

static uint8_t *sample(size_t block_bytes, size_t *len)
{
    char path[512];
    test_path(path, sizeof path, "sample.trc");
    write_sample(path, block_bytes);
    return (uint8_t *)test_read_file(path, len);
}

/* The offsets at which blocks start, and the end (from the block headers). */
static size_t block_starts(const uint8_t *d, size_t len, size_t *starts, size_t cap)
{
    size_t n = 0, at = TRACE_PREAMBLE_BYTES;
    while (at < len && n < cap) {
        starts[n++] = at;
        at += TRACE_BLOCK_HEADER_BYTES + tb_get_le32(d + at + 4);
    }
    assert_int_equal(at, len);
    return n;
}

/* Is byte `at` inside some block's compressed data (not its header)? */
static int in_block_data(const size_t *starts, size_t n, size_t at)
{
    for (size_t i = 0; i < n; i++)
        if (at >= starts[i] + TRACE_BLOCK_HEADER_BYTES && (i + 1 == n || at < starts[i + 1]))
            return 1;
    return 0;
}

static void test_round_trip_and_dedup(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = sample(SMALL_BLOCK_BYTES, &len);
    trace_err e;
    uint64_t counts[TRACE_REC_TYPE_END] = {0};
    assert_int_equal(read_mem(d, len, &e, counts), TRACE_OK);
    assert_int_equal(counts[TRACE_REC_BLOB], 2);                /* 100 KiB seen three times: two chunks, once */
    assert_int_equal(counts[TRACE_REC_MEM_WR], TEST_JOBS * 3);   /* two chunk writes + one inline, per job */
    assert_int_equal(counts[TRACE_REC_INSN], TEST_JOBS * 10);
    assert_int_equal(counts[TRACE_REC_DONE], TEST_JOBS);
    /* the decoded fields are the written ones */
    trace_reader *r = trace_reader_open_mem(d, len, "t.trc", &e);
    assert_non_null(r);
    trace_record rec;
    uint64_t cycle = 0;
    int insns = 0;
    while (trace_reader_next(r, &rec, &e) == TRACE_OK && rec.type != TRACE_REC_END) {
        if (rec.type == TRACE_REC_HEADER) {
            assert_string_equal(rec.command_line, "m4npu exec x.s");
            assert_string_equal(rec.config_yaml, test_yaml);
        }
        if (rec.type == TRACE_REC_INSN) {
            int k = insns++ % 10;
            assert_int_equal(rec.insn_index, k);
            assert_int_equal(rec.end_cycle, cycle + 17 + (uint64_t)k);
            assert_int_equal(rec.issue_cycle, cycle + 3);
            cycle = rec.end_cycle;
        }
        if (rec.type == TRACE_REC_IRQ)
            cycle = rec.cycle;
        if (rec.type == TRACE_REC_MEM_WR && rec.length == BIG_WRITE_BYTES - TRACE_CHUNK_BYTES)
            assert_int_equal(rec.addr, 0x100000 + TRACE_CHUNK_BYTES);
    }
    assert_int_equal(rec.type, TRACE_REC_END);
    trace_reader_close(r);
    free(d);
}

static void test_truncated_at_every_block_boundary(void **state)
{
    (void)state;
    size_t len, starts[4096];
    uint8_t *d = sample(SMALL_BLOCK_BYTES, &len);
    size_t n = block_starts(d, len, starts, 4096);
    assert_true(n > 10); /* the sample spans many blocks */
    for (size_t i = 0; i < n; i++) {
        trace_err e;
        assert_int_equal(read_mem(d, starts[i], &e, NULL), TRACE_E_FORMAT);
        char want[64];
        snprintf(want, sizeof want, "byte %zu: the trace ends after record", starts[i]);
        if (!strstr(e.msg, want) || !strstr(e.msg, "without its END record"))
            fail_msg("cut at block %zu (byte %zu): %s", i, starts[i], e.msg);
    }
    free(d);
}

static void test_truncated_at_every_byte(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = sample(SMALL_BLOCK_BYTES, &len);
    for (size_t cut = 0; cut < len; cut++) {
        trace_err e;
        memset(&e, 0, sizeof e);
        if (read_mem(d, cut, &e, NULL) != TRACE_E_FORMAT || !strstr(e.msg, "byte "))
            fail_msg("cut at byte %zu read without a positioned error: '%s'", cut, e.msg);
        LLVMFuzzerTestOneInput(d, cut); /* from 8 bytes on, the harness's whole-file mode */
    }
    free(d);
}

static void test_bit_flips(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = sample(SMALL_BLOCK_BYTES, &len);
    size_t starts[4096], n = block_starts(d, len, starts, 4096);
    test_rng rng = {RNG_SEED + 1};
    for (int i = 0; i < BIT_FLIPS; i++) {
        size_t bit = (size_t)test_rng_range(&rng, 0, (int64_t)(len * 8 - 1));
        d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        trace_err e;
        memset(&e, 0, sizeof e);
        trace_status st = read_mem(d, len, &e, NULL);
        if (st == TRACE_OK || !strstr(e.msg, "byte "))
            fail_msg("bit %zu flipped: status %d, '%s'", bit, st, e.msg);
        if (in_block_data(starts, n, bit / 8) && !strstr(e.msg, "checksum"))
            fail_msg("bit %zu flipped inside a block's data: '%s' does not blame its checksum", bit, e.msg);
        LLVMFuzzerTestOneInput(d, len);
        d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    trace_err e;
    assert_int_equal(read_mem(d, len, &e, NULL), TRACE_OK); /* every flip was undone */
    free(d);
}

static void test_version_empty_and_foreign(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = sample(0, &len);
    trace_err e;
    tb_le32(d + TRACE_MAGIC_BYTES, TRACE_FORMAT_VERSION + 1);
    assert_int_equal(read_mem(d, len, &e, NULL), TRACE_E_FORMAT);
    assert_non_null(strstr(e.msg, "byte 8: trace format version 2; this m4npu reads version 1"));
    assert_int_equal(read_mem(d, 0, &e, NULL), TRACE_E_FORMAT);
    assert_non_null(strstr(e.msg, "byte 0: the file is empty"));
    const char *yaml = "name: test\n";
    assert_int_equal(read_mem((const uint8_t *)yaml, strlen(yaml), &e, NULL), TRACE_E_FORMAT);
    assert_non_null(strstr(e.msg, "not an m4npu trace"));
    assert_int_equal(read_mem(d, 12, &e, NULL), TRACE_E_FORMAT);
    assert_non_null(strstr(e.msg, "byte 12: truncated preamble: expected 16 bytes"));
    uint8_t empty = 0;
    LLVMFuzzerTestOneInput(&empty, 0);
    LLVMFuzzerTestOneInput(&empty, 1);
    LLVMFuzzerTestOneInput(d, len); /* the whole version-2 file */
    free(d);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *d = sample(0, &len);
    uint8_t *more = malloc(len + 3);
    memcpy(more, d, len);
    memcpy(more + len, "xyz", 3);
    trace_err e;
    assert_int_equal(read_mem(more, len + 3, &e, NULL), TRACE_E_FORMAT);
    assert_non_null(strstr(e.msg, "bytes follow the END record"));
    free(more);
    free(d);
}

/* A trace of one forged block of records (valid preamble, sizes and checksum). */
static trace_status read_forged(const trace_buf *records, trace_err *e)
{
    trace_buf file = {0};
    uint8_t pre[TRACE_PREAMBLE_BYTES] = {0};
    memcpy(pre, TRACE_MAGIC, TRACE_MAGIC_BYTES);
    tb_le32(pre + TRACE_MAGIC_BYTES, TRACE_FORMAT_VERSION);
    tb_bytes(&file, pre, sizeof pre);
    assert_int_equal(trace_wrap_block(records->data, records->len, &file), 0);
    trace_status st = read_mem(file.data, file.len, e, NULL);
    LLVMFuzzerTestOneInput(records->data, records->len); /* the harness's record mode */
    free(file.data);
    return st;
}

static void put_header(trace_buf *b, uint64_t *cursor)
{
    trace_record r = rec_of(TRACE_REC_HEADER);
    r.tool_version = "t";
    r.command_line = "c";
    r.config_yaml = test_yaml;
    r.config_len = strlen(test_yaml);
    r.config_hash = trace_hash64(test_yaml, r.config_len);
    trace_encode(b, &r, cursor);
}

static void expect_forged(void (*build)(trace_buf *, uint64_t *), const char *message)
{
    trace_buf b = {0};
    uint64_t cursor = 0;
    build(&b, &cursor);
    trace_err e;
    memset(&e, 0, sizeof e);
    assert_int_equal(read_forged(&b, &e), TRACE_E_FORMAT);
    if (!strstr(e.msg, message) || !strstr(e.msg, "byte "))
        fail_msg("expected '%s', got '%s'", message, e.msg);
    free(b.data);
}

static void f_unknown_type(trace_buf *b, uint64_t *c)
{
    put_header(b, c);
    tb_u8(b, 99);
}
static void f_traffic_before_open(trace_buf *b, uint64_t *c)
{
    put_header(b, c);
    trace_record r = rec_of(TRACE_REC_MMIO_WR);
    trace_encode(b, &r, c);
}
static void f_no_header(trace_buf *b, uint64_t *c)
{
    trace_record r = rec_of(TRACE_REC_CLOSE);
    trace_encode(b, &r, c);
}
static void f_unknown_blob(trace_buf *b, uint64_t *c)
{
    put_header(b, c);
    trace_record r = rec_of(TRACE_REC_OPEN);
    r.config_hash = trace_hash64(test_yaml, strlen(test_yaml));
    trace_encode(b, &r, c);
    r = rec_of(TRACE_REC_MEM_WR);
    r.form = TRACE_MEM_BY_HASH;
    r.length = 1000;
    r.content.lo = 42;
    trace_encode(b, &r, c);
}
static void f_bad_end_count(trace_buf *b, uint64_t *c)
{
    put_header(b, c);
    trace_record r = rec_of(TRACE_REC_END);
    r.records = 7;
    trace_encode(b, &r, c);
}
static void f_cut_record(trace_buf *b, uint64_t *c)
{
    put_header(b, c);
    tb_u8(b, TRACE_REC_OPEN);
    tb_u8(b, 1);
}
static void f_overlong_varint(trace_buf *b, uint64_t *c)
{
    put_header(b, c);
    tb_u8(b, TRACE_REC_RUN);
    for (int i = 0; i < 11; i++)
        tb_u8(b, 0xFF);
}
static void f_open_unknown_config(trace_buf *b, uint64_t *c)
{
    put_header(b, c);
    trace_record r = rec_of(TRACE_REC_OPEN);
    r.config_hash = 1;
    trace_encode(b, &r, c);
}
static void f_insn_outside_run(trace_buf *b, uint64_t *c)
{
    put_header(b, c);
    trace_record r = rec_of(TRACE_REC_INSN);
    trace_encode(b, &r, c);
}
static void f_no_end(trace_buf *b, uint64_t *c) { put_header(b, c); }

static void test_forged_records(void **state)
{
    (void)state;
    expect_forged(f_unknown_type, "unknown record type");
    expect_forged(f_traffic_before_open, "device traffic while no device is open");
    expect_forged(f_no_header, "the first record must be the HEADER");
    expect_forged(f_unknown_blob, "refers to content no earlier BLOB defined");
    expect_forged(f_bad_end_count, "END counts 7 records before it; there were 1");
    expect_forged(f_cut_record, "cut short by the end of its block");
    expect_forged(f_overlong_varint, "varint");
    expect_forged(f_open_unknown_config, "OPEN names a configuration not defined before");
    expect_forged(f_insn_outside_run, "an instruction record outside a run");
    expect_forged(f_no_end, "without its END record");
}

static void test_random_inputs_through_the_harness(void **state)
{
    (void)state;
    test_rng rng = {RNG_SEED + 2};
    uint8_t buf[512];
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)test_rng_range(&rng, 1, sizeof buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)test_rng_next(&rng);
        LLVMFuzzerTestOneInput(buf, n);
    }
}

static void test_cli_on_corrupt_files(void **state)
{
    (void)state;
    char path[512], out[4096];
    size_t len;
    uint8_t *d = (uint8_t *)test_read_file(M4NPU_SOURCE_DIR "/traces/golden/attention.trc", &len);
    test_path(path, sizeof path, "cut.trc");
    test_write_file(path, d, len / 2);
    assert_int_equal(test_run(out, sizeof out, M4NPU_BIN " trace dump %s", path), 1);
    assert_non_null(strstr(out, "byte "));
    assert_int_equal(test_run(out, sizeof out, M4NPU_BIN " trace replay %s", path), 1);
    assert_non_null(strstr(out, "byte "));
    assert_int_equal(test_run(out, sizeof out, M4NPU_BIN " trace dump %s/missing.trc", test_tmpdir()), 3);
    assert_non_null(strstr(out, "cannot open"));
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_dedup),
        cmocka_unit_test(test_truncated_at_every_block_boundary),
        cmocka_unit_test(test_truncated_at_every_byte),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_version_empty_and_foreign),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_forged_records),
        cmocka_unit_test(test_random_inputs_through_the_harness),
        cmocka_unit_test(test_cli_on_corrupt_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
