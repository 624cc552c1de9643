/* trace.h -- the trace library: write and read trace files (trace_format.h), record the
 * driver/device boundary of this process (the driver's observer), replay a trace on the device
 * alone, and the text and timeline views of one. `m4npu trace` (analysis/cli/cmd_trace.c) is a
 * thin layer over this.
 *
 * Every function that can fail returns a trace_status and fills a trace_err whose message names
 * the file, the byte offset (and record index) and what was expected. Nothing keeps state
 * between calls except the recorder, which is process-wide because the driver's observer is.
 */
#ifndef M4NPU_TRACE_H
#define M4NPU_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "npu_abi.h"
#include "trace_format.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum trace_status {
    TRACE_OK = 0,
    TRACE_E_IO,       /* a file could not be opened, read or written */
    TRACE_E_FORMAT,   /* not a trace, a wrong version, truncated or corrupt */
    TRACE_E_NOMEM,
    TRACE_E_ARG,      /* a bad argument or configuration */
    TRACE_E_DIVERGED, /* replay: the device did not do what the trace recorded */
} trace_status;

#define TRACE_ERR_BYTES 1024
typedef struct trace_err {
    char msg[TRACE_ERR_BYTES];
} trace_err;

typedef struct trace_hash128 {
    uint64_t lo, hi;
} trace_hash128;

/* One decoded record. Fields are set for the types noted (trace_format.h); pointers (text,
 * bytes) stay valid until the next trace_reader_next() on the same reader. */
typedef struct trace_record {
    uint32_t type;     /* enum trace_rec_type */
    uint64_t index;    /* 0 for the HEADER */
    uint64_t position; /* file offset of the block holding it (for messages) */
    /* HEADER */
    uint32_t abi_version, isa_version, level;
    const char *tool_version, *command_line; /* NUL-terminated */
    size_t tool_len, command_len;
    /* HEADER, CONFIG, OPEN */
    uint64_t config_hash;
    const char *config_yaml; /* HEADER, CONFIG */
    size_t config_len;
    uint64_t dram_bytes; /* OPEN */
    /* MMIO_RD, MMIO_WR */
    uint32_t offset, value;
    /* BLOB, MEM_WR, MEM_RD */
    uint64_t addr, length;
    uint32_t form, kind; /* MEM_WR form, MEM_RD kind */
    trace_hash128 content; /* BLOB, MEM_WR by hash */
    const uint8_t *bytes;  /* BLOB, MEM_WR inline and by hash (the blob's bytes) */
    uint64_t read_hash;    /* MEM_RD */
    /* RUN, IRQ, CYCLES */
    uint64_t max_cycles;
    uint32_t result;
    uint64_t cycle;
    /* SUBMIT, DONE */
    uint32_t job_id, job_type, job_flags, nbufs, program_bytes;
    uint64_t completion_addr;
    uint32_t state, fault, fault_unit, fault_insn;
    uint64_t fault_addr, start_cycle, end_cycle, insns;
    uint64_t counters[NPU_UNIT_COUNT][NPU_CTR_COUNT];
    /* INSN (end_cycle above) */
    uint32_t unit, insn_index, op, outcome;
    uint64_t issue_cycle;
    /* END */
    uint64_t records;
} trace_record;

const char *trace_rec_type_name(uint32_t type); /* "mmio.rd" ... */
const char *trace_level_name(uint32_t level);   /* "job", "insn" */
const char *trace_read_kind_name(uint32_t kind); /* "data", "completion", "log" */
trace_hash128 trace_hash_content(const void *data, size_t len); /* XXH3-128 */
uint64_t trace_hash64(const void *data, size_t len);            /* XXH3-64 */

/* ---- writing */
typedef struct trace_writer trace_writer;
/* Create path atomically: records go to a temporary file beside it, renamed at close.
 * block_bytes: raw bytes per block (0: TRACE_DEFAULT_BLOCK_BYTES). */
trace_writer *trace_writer_open(const char *path, size_t block_bytes, trace_err *e);
/* Append one record; index, position and (for MEM_WR) form and content are computed. A MEM_WR
 * with length > TRACE_INLINE_BYTES is split into chunks and deduplicated (BLOB records first). */
trace_status trace_writer_put(trace_writer *w, const trace_record *rec, trace_err *e);
/* Write END and the last block, flush and rename into place; frees w in every case. */
trace_status trace_writer_close(trace_writer *w, trace_err *e);
/* Drop the file being written (no trace appears); frees w. */
void trace_writer_abort(trace_writer *w);
uint64_t trace_writer_records(const trace_writer *w);

/* ---- reading */
typedef struct trace_reader trace_reader;
trace_reader *trace_reader_open(const char *path, trace_err *e);
/* A trace in memory (the fuzz harness, tests); name is used in messages. data must outlive r. */
trace_reader *trace_reader_open_mem(const void *data, size_t len, const char *name, trace_err *e);
/* The next record: TRACE_OK with *rec filled, or TRACE_OK with rec->type == TRACE_REC_END at
 * the end (and after it), or an error (truncation, corruption, a broken order rule). */
trace_status trace_reader_next(trace_reader *r, trace_record *rec, trace_err *e);
/* The file offset the reader has consumed up to (whole blocks). */
uint64_t trace_reader_position(const trace_reader *r);
void trace_reader_close(trace_reader *r);

/* ---- recording this process (the driver's observer) */
typedef struct trace_record_opts {
    const char *path;
    uint32_t level;            /* enum trace_level */
    const char *tool_version;  /* "0.1.0" */
    const char *command_line;  /* what was run, for the header */
    const char *config_yaml;   /* the configuration, canonical YAML (m4npu_config_write_yaml) */
    size_t block_bytes;        /* 0: default */
} trace_record_opts;
/* Start recording every device opened from now on into opts->path. One recording at a time. */
trace_status trace_record_start(const trace_record_opts *opts, trace_err *e);
/* Stop: close the trace (END, rename into place). The devices recorded must be closed. */
trace_status trace_record_stop(trace_err *e);
/* Drop the recording in progress (no file). */
void trace_record_abort(void);
int trace_recording(void);

/* ---- replay */
typedef struct trace_job_timing {
    uint32_t job_id, state;
    uint64_t recorded_cycles, replayed_cycles;
    uint64_t record_index; /* of its DONE */
} trace_job_timing;

typedef struct trace_replay_opts {
    const char *config_path;     /* replace the recorded configuration (NULL: keep it) */
    const char *const *sets;     /* KEY=VALUE overrides, applied to it */
    size_t nsets;
    int retime;                  /* timing differences are not failures: report per-job cycles */
} trace_replay_opts;

typedef struct trace_replay_result {
    uint64_t records;            /* replayed */
    trace_job_timing *jobs;      /* every DONE, in order */
    size_t njobs;
    int config_changed;          /* the configuration replayed differs from the recorded one */
    uint64_t timing_reads;       /* --retime: timing-dependent values that differed (tolerated) */
    uint64_t data_reads_differ;  /* --retime: data reads whose content differed (reported) */
    char divergence[TRACE_ERR_BYTES]; /* the first divergence ("" if none) */
} trace_replay_result;

/* Drive the device with the trace's host traffic and check everything the host saw.
 * TRACE_OK (replayed clean, or re-timed), TRACE_E_DIVERGED (res->divergence says where, what was
 * expected and what happened: record index, job, unit and instruction), or another error.
 * Free res with trace_replay_result_free. */
trace_status trace_replay(const char *path, const trace_replay_opts *opts, trace_replay_result *res, trace_err *e);
void trace_replay_result_free(trace_replay_result *res);

/* ---- views */
/* One line (no newline) describing rec, stable across runs: the form `trace dump` prints. */
void trace_format_record(const trace_record *rec, char *buf, size_t cap);
/* `trace dump`: one line per record. */
trace_status trace_dump(const char *path, FILE *out, trace_err *e);
/* `trace stats`: per record type, the count and the bytes it takes before compression, the file's
 * size and compression ratio, and bytes per job. */
trace_status trace_stats(const char *path, FILE *out, trace_err *e);
/* `trace diff`: the first record that differs, then cycles per job side by side. *same is set
 * to 1 if the traces hold the same records. */
trace_status trace_diff(const char *path_a, const char *path_b, FILE *out, int *same, trace_err *e);
/* `trace timeline`: Chrome/Perfetto trace-event JSON, one slice per instruction per unit and one
 * per job, into a buffer (malloc'd, *len bytes). Needs an insn-level trace for instructions. */
trace_status trace_timeline(const char *path, char **json, size_t *len, trace_err *e);

#ifdef __cplusplus
}
#endif
#endif
