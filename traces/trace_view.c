/* trace_view.c -- reading a trace for people: one stable line per record (`trace dump`), the
 * first difference between two traces and their cycles per job (`trace diff`), and a
 * Chrome/Perfetto timeline with one slice per instruction per unit (`trace timeline`). */
#include "trace_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "m4npu_config.h"
#include "npu_drv.h"

#define LINE_BYTES 4096
#define TIMELINE_JOBS_TRACK NPU_UNIT_COUNT /* the tid of the jobs' track */
#define TIMELINE_MAX_INFLIGHT 256u

static const char *op_mnemonic(uint32_t op)
{
    const isa_insn_desc *d = op < ISA_OP_COUNT ? isa_desc((isa_op)op) : NULL;
    return d ? d->mnemonic : "?";
}

static const char *state_name(uint32_t s)
{
    return s == NPU_JOB_DONE ? "done" : s == NPU_JOB_FAILED ? "failed" : s == NPU_JOB_PENDING ? "pending" : "?";
}

static const char *job_type_name(uint32_t t) { return t == NPU_JOB_ISA ? "isa" : t == NPU_JOB_OPS ? "ops" : "?"; }

/* Append to buf (at *n, capacity cap), never overflowing. */
static void add(char *buf, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n = *n + (size_t)k < cap ? *n + (size_t)k : cap - 1;
}

void trace_format_record(const trace_record *r, char *buf, size_t cap)
{
    size_t n = 0;
    char reg[64];
    buf[0] = '\0';
    add(buf, cap, &n, "%s", trace_rec_type_name(r->type));
    switch (r->type) {
    case TRACE_REC_HEADER:
        add(buf, cap, &n, " format=%u abi=%u.%u isa=%u.%u level=%s tool=%s config=%016" PRIx64 " cmd=\"%s\"",
            TRACE_FORMAT_VERSION, r->abi_version >> 16, r->abi_version & 0xFFFF, r->isa_version >> 16,
            r->isa_version & 0xFFFF, trace_level_name(r->level), r->tool_version, r->config_hash, r->command_line);
        break;
    case TRACE_REC_CONFIG: add(buf, cap, &n, " %016" PRIx64 " %zu bytes", r->config_hash, r->config_len); break;
    case TRACE_REC_OPEN: add(buf, cap, &n, " config=%016" PRIx64 " dram=%" PRIu64, r->config_hash, r->dram_bytes); break;
    case TRACE_REC_MMIO_RD:
    case TRACE_REC_MMIO_WR:
        trace_reg_name(r->offset, reg, sizeof reg);
        add(buf, cap, &n, " %s = 0x%08x", reg, r->value);
        break;
    case TRACE_REC_BLOB:
        add(buf, cap, &n, " %016" PRIx64 "%016" PRIx64 " %" PRIu64 " bytes", r->content.hi, r->content.lo, r->length);
        break;
    case TRACE_REC_MEM_WR:
        if (r->form == TRACE_MEM_INLINE)
            add(buf, cap, &n, " 0x%" PRIx64 " +%" PRIu64 " inline %016" PRIx64, r->addr, r->length,
                trace_hash64(r->bytes, (size_t)r->length));
        else
            add(buf, cap, &n, " 0x%" PRIx64 " +%" PRIu64 " blob %016" PRIx64 "%016" PRIx64, r->addr, r->length,
                r->content.hi, r->content.lo);
        break;
    case TRACE_REC_MEM_RD:
        add(buf, cap, &n, " 0x%" PRIx64 " +%" PRIu64 " %s %016" PRIx64, r->addr, r->length,
            trace_read_kind_name(r->kind), r->read_hash);
        break;
    case TRACE_REC_RUN: add(buf, cap, &n, " max=%" PRIu64, r->max_cycles); break;
    case TRACE_REC_IRQ:
        add(buf, cap, &n, " cycle=%" PRIu64 " %s", r->cycle,
            r->result == TRACE_IRQ_RAISED ? "interrupt" : r->result == TRACE_IRQ_BUDGET ? "budget-spent" : "model-error");
        break;
    case TRACE_REC_CYCLES: add(buf, cap, &n, " %" PRIu64, r->cycle); break;
    case TRACE_REC_SUBMIT:
        add(buf, cap, &n, " job=%u type=%s flags=0x%x bufs=%u program=%u", r->job_id, job_type_name(r->job_type),
            r->job_flags, r->nbufs, r->program_bytes);
        break;
    case TRACE_REC_DONE:
        add(buf, cap, &n, " job=%u %s cycles=%" PRIu64 " (%" PRIu64 "..%" PRIu64 ") insns=%" PRIu64, r->job_id,
            state_name(r->state), r->end_cycle - r->start_cycle, r->start_cycle, r->end_cycle, r->insns);
        if (r->state != NPU_JOB_DONE)
            add(buf, cap, &n, " fault=%s unit=%s at=%u addr=0x%" PRIx64, npu_fault_str(r->fault),
                npu_unit_str(r->fault_unit), r->fault_insn, r->fault_addr);
        for (uint32_t u = 0; u < NPU_UNIT_COUNT; u++) {
            int any = 0;
            for (uint32_t k = 0; k < NPU_CTR_COUNT; k++) {
                if (!r->counters[u][k] || k == NPU_CTR_IDLE) /* idle = elapsed - busy - stall: implied */
                    continue;
                if (any)
                    add(buf, cap, &n, ",%s=%" PRIu64, npu_counter_str(k), r->counters[u][k]);
                else
                    add(buf, cap, &n, " %s{%s=%" PRIu64, npu_unit_str(u), npu_counter_str(k), r->counters[u][k]);
                any = 1;
            }
            if (any)
                add(buf, cap, &n, "}");
        }
        break;
    case TRACE_REC_INSN:
        add(buf, cap, &n, " %s #%u %s %" PRIu64 "..%" PRIu64 " %s", npu_unit_str(r->unit), r->insn_index,
            op_mnemonic(r->op), r->issue_cycle, r->end_cycle,
            r->outcome == 0 ? "done" : r->outcome == 1 ? "fault" : "aborted");
        break;
    case TRACE_REC_END: add(buf, cap, &n, " records=%" PRIu64, r->records); break;
    default: break;
    }
}

trace_status trace_dump(const char *path, FILE *out, trace_err *e)
{
    trace_reader *r = trace_reader_open(path, e);
    if (!r)
        return strstr(e->msg, "cannot open") ? TRACE_E_IO : TRACE_E_FORMAT;
    char *line = malloc(LINE_BYTES);
    trace_status st = line ? TRACE_OK : trace_fail(e, TRACE_E_NOMEM, "out of memory");
    while (st == TRACE_OK) {
        trace_record rec;
        if ((st = trace_reader_next(r, &rec, e)) != TRACE_OK)
            break;
        trace_format_record(&rec, line, LINE_BYTES);
        if (fprintf(out, "%s\n", line) < 0)
            st = trace_fail(e, TRACE_E_IO, "writing the dump failed");
        if (rec.type == TRACE_REC_END)
            break;
    }
    free(line);
    trace_reader_close(r);
    return st;
}

/* ---------------------------------------------------------------- stats */

trace_status trace_stats(const char *path, FILE *out, trace_err *e)
{
    trace_reader *r = trace_reader_open(path, e);
    if (!r)
        return strstr(e->msg, "cannot open") ? TRACE_E_IO : TRACE_E_FORMAT;
    uint64_t count[TRACE_REC_TYPE_END] = {0}, raw[TRACE_REC_TYPE_END] = {0}, total_raw = 0, cursor = 0;
    trace_buf b = {0};
    trace_status st;
    trace_record rec;
    while ((st = trace_reader_next(r, &rec, e)) == TRACE_OK) {
        b.len = 0;
        if (rec.type == TRACE_REC_MEM_WR && rec.form == TRACE_MEM_BY_HASH)
            rec.bytes = NULL; /* re-encoded by hash, as written */
        trace_encode(&b, &rec, &cursor);
        count[rec.type]++;
        raw[rec.type] += b.len;
        total_raw += b.len;
        if (rec.type == TRACE_REC_END)
            break;
    }
    uint64_t file = trace_reader_position(r);
    trace_reader_close(r);
    free(b.data);
    if (st != TRACE_OK)
        return st;
    double ratio = total_raw ? (double)file / (double)total_raw : 0.0;
    fprintf(out, "%s: %" PRIu64 " bytes, %" PRIu64 " bytes of records before compression (ratio %.3f)\n", path, file,
            total_raw, ratio);
    fprintf(out, "%-8s %10s %12s %10s %12s\n", "record", "count", "raw bytes", "raw/rec", "~file/rec");
    for (uint32_t t = 1; t < TRACE_REC_TYPE_END; t++)
        if (count[t])
            fprintf(out, "%-8s %10" PRIu64 " %12" PRIu64 " %10.2f %12.2f\n", trace_rec_type_name(t), count[t], raw[t],
                    (double)raw[t] / (double)count[t], (double)raw[t] / (double)count[t] * ratio);
    if (count[TRACE_REC_DONE])
        fprintf(out, "jobs %" PRIu64 ": %.0f file bytes per job\n", count[TRACE_REC_DONE],
                (double)file / (double)count[TRACE_REC_DONE]);
    return TRACE_OK;
}

/* ---------------------------------------------------------------- diff */

typedef struct job_cycles {
    uint32_t id;
    uint64_t cycles;
} job_cycles;

static int push_job(job_cycles **v, size_t *n, const trace_record *rec)
{
    job_cycles *p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p)
        return -1;
    *v = p;
    p[(*n)++] = (job_cycles){rec->job_id, rec->end_cycle - rec->start_cycle};
    return 0;
}

trace_status trace_diff(const char *path_a, const char *path_b, FILE *out, int *same, trace_err *e)
{
    *same = 0;
    trace_reader *a = trace_reader_open(path_a, e), *b = a ? trace_reader_open(path_b, e) : NULL;
    if (!a || !b) {
        trace_reader_close(a);
        return strstr(e->msg, "cannot open") ? TRACE_E_IO : TRACE_E_FORMAT;
    }
    char *la = malloc(LINE_BYTES), *lb = malloc(LINE_BYTES);
    job_cycles *ja = NULL, *jb = NULL;
    size_t nja = 0, njb = 0;
    int a_end = 0, b_end = 0, differ = 0;
    uint64_t records = 0;
    trace_status st = la && lb ? TRACE_OK : trace_fail(e, TRACE_E_NOMEM, "out of memory");
    trace_record ra, rb;
    memset(&ra, 0, sizeof ra);
    memset(&rb, 0, sizeof rb);
    while (st == TRACE_OK && !(a_end && b_end)) {
        if (!a_end) {
            if ((st = trace_reader_next(a, &ra, e)) != TRACE_OK)
                break;
            if (ra.type == TRACE_REC_DONE && push_job(&ja, &nja, &ra) != 0)
                st = trace_fail(e, TRACE_E_NOMEM, "out of memory");
            a_end = ra.type == TRACE_REC_END;
            records = ra.index;
        }
        if (!b_end && st == TRACE_OK) {
            if ((st = trace_reader_next(b, &rb, e)) != TRACE_OK)
                break;
            if (rb.type == TRACE_REC_DONE && push_job(&jb, &njb, &rb) != 0)
                st = trace_fail(e, TRACE_E_NOMEM, "out of memory");
            b_end = rb.type == TRACE_REC_END;
        }
        if (differ || st != TRACE_OK)
            continue;
        trace_format_record(&ra, la, LINE_BYTES);
        trace_format_record(&rb, lb, LINE_BYTES);
        if (strcmp(la, lb) != 0) {
            differ = 1;
            fprintf(out, "first divergence at record %" PRIu64 ":\n  %s: %s\n  %s: %s\n", ra.index, path_a, la, path_b,
                    lb);
        }
    }
    if (st == TRACE_OK) {
        if (!differ)
            fprintf(out, "the traces hold the same %" PRIu64 " records\n", records);
        fprintf(out, "%-6s %-8s %14s %14s %14s %9s\n", "#", "job", "cycles A", "cycles B", "B - A", "change");
        size_t n = nja > njb ? nja : njb;
        for (size_t i = 0; i < n; i++) {
            char ca[24] = "-", cb[24] = "-", d[24] = "-", pct[16] = "-";
            if (i < nja)
                snprintf(ca, sizeof ca, "%" PRIu64, ja[i].cycles);
            if (i < njb)
                snprintf(cb, sizeof cb, "%" PRIu64, jb[i].cycles);
            if (i < nja && i < njb) {
                snprintf(d, sizeof d, "%+" PRId64, (int64_t)(jb[i].cycles - ja[i].cycles));
                if (ja[i].cycles)
                    snprintf(pct, sizeof pct, "%+.2f%%",
                             100.0 * ((double)jb[i].cycles - (double)ja[i].cycles) / (double)ja[i].cycles);
            }
            fprintf(out, "%-6zu %-8u %14s %14s %14s %9s\n", i, i < nja ? ja[i].id : jb[i].id, ca, cb, d, pct);
        }
        *same = !differ;
    }
    free(la);
    free(lb);
    free(ja);
    free(jb);
    trace_reader_close(a);
    trace_reader_close(b);
    return st;
}

/* ---------------------------------------------------------------- timeline */

typedef struct timeline {
    FILE *f;
    int first;
    double mhz;
    uint64_t base;        /* cycles of earlier device opens, so that opens follow each other */
    uint64_t open_cycles; /* the last cycle seen in this open */
    uint32_t pid;
    uint32_t jobs[TIMELINE_MAX_INFLIGHT];
    size_t njobs;
} timeline;

static void event(timeline *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void event(timeline *t, const char *fmt, ...)
{
    fputs(t->first ? "\n  " : ",\n  ", t->f);
    t->first = 0;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->f, fmt, ap);
    va_end(ap);
}

static double us(const timeline *t, uint64_t cycle) { return (double)(t->base + cycle) / t->mhz; }

static void open_tracks(timeline *t, const trace_reader *r, const trace_record *open)
{
    t->pid++;
    t->mhz = 1000.0;
    size_t len;
    const char *yaml = trace_reader_config(r, open->config_hash, &len);
    m4npu_config *cfg = malloc(sizeof *cfg);
    m4npu_config_error err;
    char name[sizeof cfg->npu.name] = "npu";
    if (cfg && yaml && m4npu_config_load_text(yaml, len, "trace", cfg, &err) == M4NPU_CONFIG_OK) {
        t->mhz = cfg->npu.clock_mhz;
        /* the name is user text: keep it a plain JSON string */
        size_t k = 0;
        for (; k + 1 < sizeof name && cfg->npu.name[k]; k++) {
            char ch = cfg->npu.name[k];
            name[k] = ch == '"' || ch == '\\' || (unsigned char)ch < 0x20 ? '_' : ch;
        }
        if (k)
            name[k] = '\0';
    }
    event(t, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%u,\"args\":{\"name\":\"NPU %s (device open %u)\"}}",
          t->pid, name, t->pid);
    free(cfg);
    for (uint32_t u = 0; u <= TIMELINE_JOBS_TRACK; u++)
        event(t, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":\"%s\"}}", t->pid, u,
              u == TIMELINE_JOBS_TRACK ? "jobs" : npu_unit_str(u));
    t->njobs = 0;
}

trace_status trace_timeline(const char *path, char **json, size_t *len, trace_err *e)
{
    *json = NULL;
    *len = 0;
    trace_reader *r = trace_reader_open(path, e);
    if (!r)
        return strstr(e->msg, "cannot open") ? TRACE_E_IO : TRACE_E_FORMAT;
    timeline t;
    memset(&t, 0, sizeof t);
    t.first = 1;
    t.mhz = 1000.0;
    t.f = open_memstream(json, len);
    trace_status st = t.f ? TRACE_OK : trace_fail(e, TRACE_E_NOMEM, "out of memory");
    if (st == TRACE_OK)
        fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", t.f);
    while (st == TRACE_OK) {
        trace_record rec;
        if ((st = trace_reader_next(r, &rec, e)) != TRACE_OK || rec.type == TRACE_REC_END)
            break;
        switch (rec.type) {
        case TRACE_REC_HEADER:
            if (rec.level != TRACE_LEVEL_INSN)
                st = trace_fail(e, TRACE_E_ARG, "%s was recorded at level job: it has no instructions to draw "
                                "(record it with --level insn)", path);
            break;
        case TRACE_REC_OPEN: open_tracks(&t, r, &rec); break;
        case TRACE_REC_CLOSE:
            t.base += t.open_cycles;
            t.open_cycles = 0;
            break;
        case TRACE_REC_IRQ:
        case TRACE_REC_CYCLES:
            if (rec.cycle > t.open_cycles)
                t.open_cycles = rec.cycle;
            break;
        case TRACE_REC_SUBMIT:
            if (t.njobs < TIMELINE_MAX_INFLIGHT)
                t.jobs[t.njobs++] = rec.job_id;
            break;
        case TRACE_REC_DONE:
            event(&t, "{\"name\":\"job %u\",\"cat\":\"job\",\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,"
                  "\"args\":{\"state\":\"%s\",\"instructions\":%" PRIu64 "}}", rec.job_id, t.pid, TIMELINE_JOBS_TRACK,
                  us(&t, rec.start_cycle), us(&t, rec.end_cycle) - us(&t, rec.start_cycle), state_name(rec.state),
                  rec.insns);
            for (size_t i = 0; i < t.njobs; i++)
                if (t.jobs[i] == rec.job_id) {
                    memmove(&t.jobs[i], &t.jobs[i + 1], (t.njobs - i - 1) * sizeof t.jobs[0]);
                    t.njobs--;
                    break;
                }
            break;
        case TRACE_REC_INSN:
            event(&t, "{\"name\":\"%s\",\"cat\":\"insn\",\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,"
                  "\"args\":{\"job\":%d,\"index\":%u,\"issue_cycle\":%" PRIu64 ",\"end_cycle\":%" PRIu64
                  ",\"outcome\":\"%s\"}}", op_mnemonic(rec.op), t.pid, rec.unit, us(&t, rec.issue_cycle),
                  us(&t, rec.end_cycle) - us(&t, rec.issue_cycle), t.njobs ? (int)t.jobs[0] : -1, rec.insn_index,
                  rec.issue_cycle, rec.end_cycle, rec.outcome == 0 ? "done" : rec.outcome == 1 ? "fault" : "aborted");
            if (rec.end_cycle > t.open_cycles)
                t.open_cycles = rec.end_cycle;
            break;
        default: break;
        }
    }
    if (t.f) {
        fputs("\n]}\n", t.f);
        if (fclose(t.f) != 0 && st == TRACE_OK)
            st = trace_fail(e, TRACE_E_NOMEM, "out of memory");
    }
    if (st != TRACE_OK) {
        free(*json);
        *json = NULL;
        *len = 0;
    }
    trace_reader_close(r);
    return st;
}
