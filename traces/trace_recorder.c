/* trace_recorder.c -- recording this process's driver/device boundary: the driver's observer
 * (npu_drv.h) writing one record per crossing, plus, at level insn, the device's instruction
 * events (npu_sim_set_insn_hook). Process-wide because the observer and the device are: the
 * state is one static recorder, so a device opened while recording can never call into freed
 * memory (after stop, the callbacks do nothing). */
#include "trace_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m4npu_config.h"
#include "npu_drv.h"
#include "npu_sim.h"

typedef struct recorder {
    int active;
    trace_writer *w;
    uint32_t level;
    char *header_yaml;
    size_t header_len;
    uint64_t header_hash;
    uint64_t *configs; /* hashes of the configurations defined in the trace */
    size_t nconfigs;
    npu_sim *sim;
    int open;
    uint64_t last_ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT];
    int failed;
    trace_err err;
} recorder;

static recorder g_rec;

int trace_config_text(const m4npu_config *cfg, char **text, size_t *len, uint64_t *hash)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return -1;
    int rc = m4npu_config_write_yaml(cfg, f);
    if (fclose(f) != 0 || rc != 0) {
        free(buf);
        return -1;
    }
    *text = buf;
    *len = n;
    *hash = trace_hash64(buf, n);
    return 0;
}

static void put(recorder *r, trace_record *rec)
{
    if (!r->active || r->failed)
        return;
    if (trace_writer_put(r->w, rec, &r->err) != TRACE_OK)
        r->failed = 1;
}

static void rec_fail(recorder *r, const char *what)
{
    if (!r->failed)
        snprintf(r->err.msg, sizeof r->err.msg, "recording: %.900s", what);
    r->failed = 1;
}

static int config_known(const recorder *r, uint64_t hash)
{
    for (size_t i = 0; i < r->nconfigs; i++)
        if (r->configs[i] == hash)
            return 1;
    return 0;
}

/* The hash of the configuration a device opened with: the header's, or a CONFIG record (the
 * header's other sections with this device's npu section) written the first time. */
static uint64_t opened_config(recorder *r, const npu_device_config *npu)
{
    m4npu_config *cfg = malloc(sizeof *cfg);
    m4npu_config_error err;
    char *text = NULL;
    size_t len = 0;
    uint64_t hash = r->header_hash;
    if (!cfg) {
        rec_fail(r, "out of memory");
        return hash;
    }
    if (m4npu_config_load_text(r->header_yaml, r->header_len, "the recorded configuration", cfg, &err) !=
        M4NPU_CONFIG_OK) {
        rec_fail(r, err.msg);
    } else {
        cfg->npu = *npu;
        if (trace_config_text(cfg, &text, &len, &hash) != 0) {
            rec_fail(r, "out of memory");
        } else if (!config_known(r, hash)) {
            uint64_t *c = realloc(r->configs, (r->nconfigs + 1) * sizeof *c);
            if (!c) {
                rec_fail(r, "out of memory");
            } else {
                r->configs = c;
                r->configs[r->nconfigs++] = hash;
                trace_record rec;
                memset(&rec, 0, sizeof rec);
                rec.type = TRACE_REC_CONFIG;
                rec.config_hash = hash;
                rec.config_yaml = text;
                rec.config_len = len;
                put(r, &rec);
            }
        }
    }
    free(text);
    free(cfg);
    return hash;
}

/* ---------------------------------------------------------------- the instruction hook */

static void on_insn(void *ctx, const npu_sim_insn_event *ev)
{
    recorder *r = ctx;
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_INSN;
    rec.unit = ev->unit;
    rec.insn_index = ev->index;
    rec.op = ev->op;
    rec.outcome = ev->outcome;
    rec.issue_cycle = ev->issue_cycle;
    rec.end_cycle = ev->end_cycle;
    put(r, &rec);
}

/* ---------------------------------------------------------------- the observer */

static void ob_open(void *ctx, npu_sim *sim, const npu_device_config *cfg)
{
    recorder *r = ctx;
    if (!r->active)
        return;
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_OPEN;
    rec.config_hash = opened_config(r, cfg);
    rec.dram_bytes = cfg->dram.size_bytes;
    put(r, &rec);
    r->sim = sim;
    r->open = 1;
    memset(r->last_ctr, 0, sizeof r->last_ctr);
    if (r->level == TRACE_LEVEL_INSN)
        npu_sim_set_insn_hook(sim, on_insn, r);
}

static void ob_close(void *ctx)
{
    recorder *r = ctx;
    if (!r->active || !r->open)
        return;
    npu_sim_set_insn_hook(r->sim, NULL, NULL);
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_CLOSE;
    put(r, &rec);
    r->open = 0;
    r->sim = NULL;
}

static void ob_mmio(recorder *r, uint32_t type, uint32_t offset, uint32_t value)
{
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = type;
    rec.offset = offset;
    rec.value = value;
    put(r, &rec);
}
static void ob_mmio_read(void *ctx, uint32_t offset, uint32_t value) { ob_mmio(ctx, TRACE_REC_MMIO_RD, offset, value); }
static void ob_mmio_write(void *ctx, uint32_t offset, uint32_t value) { ob_mmio(ctx, TRACE_REC_MMIO_WR, offset, value); }

static void ob_mem_write(void *ctx, uint64_t addr, const void *src, uint64_t len)
{
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_MEM_WR;
    rec.addr = addr;
    rec.length = len;
    rec.bytes = src;
    put(ctx, &rec);
}

static void ob_mem_read(void *ctx, uint64_t addr, const void *data, uint64_t len, npu_read_kind kind)
{
    recorder *r = ctx;
    if (!r->active)
        return;
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_MEM_RD;
    rec.addr = addr;
    rec.length = len;
    rec.kind = kind;
    rec.read_hash = trace_hash64(data, (size_t)len);
    put(r, &rec);
}

static void ob_run_begin(void *ctx, uint64_t max_cycles)
{
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_RUN;
    rec.max_cycles = max_cycles;
    put(ctx, &rec);
}

static void ob_run_end(void *ctx, int result, uint64_t cycles)
{
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_IRQ;
    rec.result = result < 0 ? TRACE_IRQ_ERROR : result ? TRACE_IRQ_RAISED : TRACE_IRQ_BUDGET;
    rec.cycle = cycles;
    put(ctx, &rec);
}

static void ob_cycles(void *ctx, uint64_t cycles)
{
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_CYCLES;
    rec.cycle = cycles;
    put(ctx, &rec);
}

static void ob_submit(void *ctx, const npu_job_desc *d)
{
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_SUBMIT;
    rec.job_id = d->job_id;
    rec.job_type = d->type;
    rec.job_flags = d->flags;
    rec.nbufs = d->nbufs;
    rec.program_bytes = d->program_bytes;
    put(ctx, &rec);
}

/* The counters read at a completion are not host traffic: MMIO reads of them have no effect on
 * the device, and replay reads them at the same point. */
void trace_read_counter_deltas(npu_sim *sim, uint64_t last[NPU_UNIT_COUNT][NPU_CTR_COUNT],
                               uint64_t out[NPU_UNIT_COUNT][NPU_CTR_COUNT]);
void trace_read_counter_deltas(npu_sim *sim, uint64_t last[NPU_UNIT_COUNT][NPU_CTR_COUNT],
                               uint64_t out[NPU_UNIT_COUNT][NPU_CTR_COUNT])
{
    for (uint32_t u = 0; u < NPU_UNIT_COUNT; u++)
        for (uint32_t c = 0; c < NPU_CTR_COUNT; c++) {
            uint64_t v = (uint64_t)npu_sim_mmio_read(sim, NPU_REG_PERF(u, c)) |
                         (uint64_t)npu_sim_mmio_read(sim, NPU_REG_PERF(u, c) + 4) << 32;
            out[u][c] = v - last[u][c];
            last[u][c] = v;
        }
}

static void ob_complete(void *ctx, uint64_t completion_addr, const npu_job_completion *c)
{
    recorder *r = ctx;
    if (!r->active || !r->open)
        return;
    trace_record rec;
    memset(&rec, 0, sizeof rec);
    rec.type = TRACE_REC_DONE;
    rec.job_id = c->job_id;
    rec.completion_addr = completion_addr;
    rec.state = c->state;
    rec.fault = c->fault;
    rec.fault_unit = c->fault_unit;
    rec.fault_insn = c->fault_insn;
    rec.fault_addr = c->fault_addr;
    rec.start_cycle = c->start_cycle;
    rec.end_cycle = c->end_cycle;
    rec.insns = c->insns;
    trace_read_counter_deltas(r->sim, r->last_ctr, rec.counters);
    put(r, &rec);
}

static const npu_drv_observer observer = {
    ob_open,   ob_close,     ob_mmio_read, ob_mmio_write, ob_mem_write, ob_mem_read,
    ob_run_begin, ob_run_end, ob_cycles,   ob_submit,     ob_complete,
};

/* ---------------------------------------------------------------- start / stop */

int trace_recording(void) { return g_rec.active; }

static void reset_recorder(void)
{
    free(g_rec.header_yaml);
    free(g_rec.configs);
    memset(&g_rec, 0, sizeof g_rec);
}

trace_status trace_record_start(const trace_record_opts *o, trace_err *e)
{
    if (g_rec.active)
        return trace_fail(e, TRACE_E_ARG, "%s: a recording is already in progress", o->path);
    reset_recorder();
    g_rec.level = o->level;
    g_rec.header_len = strlen(o->config_yaml);
    g_rec.header_yaml = strdup(o->config_yaml);
    g_rec.configs = malloc(sizeof *g_rec.configs);
    if (!g_rec.header_yaml || !g_rec.configs) {
        reset_recorder();
        return trace_fail(e, TRACE_E_NOMEM, "%s: out of memory", o->path);
    }
    g_rec.header_hash = trace_hash64(o->config_yaml, g_rec.header_len);
    g_rec.configs[g_rec.nconfigs++] = g_rec.header_hash;
    if (!(g_rec.w = trace_writer_open(o->path, o->block_bytes, e))) {
        reset_recorder();
        return TRACE_E_IO;
    }
    trace_record h;
    memset(&h, 0, sizeof h);
    h.type = TRACE_REC_HEADER;
    h.abi_version = NPU_ABI_VERSION;
    h.isa_version = ((uint32_t)ISA_VERSION_MAJOR << 16) | ISA_VERSION_MINOR;
    h.level = o->level;
    h.tool_version = o->tool_version;
    h.command_line = o->command_line;
    h.config_hash = g_rec.header_hash;
    h.config_yaml = o->config_yaml;
    h.config_len = g_rec.header_len;
    trace_status st = trace_writer_put(g_rec.w, &h, e);
    if (st != TRACE_OK) {
        trace_writer_abort(g_rec.w);
        reset_recorder();
        return st;
    }
    g_rec.active = 1;
    npu_drv_set_observer(&observer, &g_rec);
    return TRACE_OK;
}

trace_status trace_record_stop(trace_err *e)
{
    if (!g_rec.active)
        return trace_fail(e, TRACE_E_ARG, "no recording in progress");
    npu_drv_set_observer(NULL, NULL);
    ob_close(&g_rec); /* a device still open is closed in the trace: its traffic ends here */
    g_rec.active = 0;
    trace_status st;
    if (g_rec.failed) {
        trace_writer_abort(g_rec.w);
        st = trace_fail(e, TRACE_E_IO, "%s", g_rec.err.msg);
    } else {
        st = trace_writer_close(g_rec.w, e);
    }
    g_rec.w = NULL;
    reset_recorder();
    return st;
}

void trace_record_abort(void)
{
    if (!g_rec.active)
        return;
    npu_drv_set_observer(NULL, NULL);
    if (g_rec.open && g_rec.sim)
        npu_sim_set_insn_hook(g_rec.sim, NULL, NULL);
    trace_writer_abort(g_rec.w);
    reset_recorder();
}
