/* whatif.c -- module runs (simulated once, cached) and their composition into tasks. */
#include "whatif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHATIF_KV_INPUT_PREFIX "past_key_values."

typedef struct module_cache {
    whatif_module_run **runs; /* each allocated once: task results point at them */
    int n, cap;
} module_cache;

struct whatif {
    m4npu_config cfg;
    npu_backend *backend;
    module_cache cache;
    int hits;
    double host_s;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

whatif *whatif_open(const m4npu_config *cfg, rt_error *e)
{
    whatif *w = calloc(1, sizeof *w);
    if (!w) {
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (what-if)");
        return NULL;
    }
    w->cfg = *cfg;
    if (!(w->backend = npu_backend_open(&w->cfg, e))) {
        free(w);
        return NULL;
    }
    return w;
}

void whatif_close(whatif *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->cache.n; i++) {
        run_result_free(w->cache.runs[i]->r);
        graph_free(w->cache.runs[i]->g);
        free(w->cache.runs[i]);
    }
    free(w->cache.runs);
    npu_backend_close(w->backend);
    free(w);
}

const m4npu_config *whatif_config(const whatif *w) { return &w->cfg; }

npu_backend *whatif_backend(whatif *w) { return w->backend; }

/* The KV cache stays in device memory from one token to the next: the decode graph's
 * past_key_values.* inputs, and the backbone's cache outputs (every output after the first,
 * runtime/m4's convention). Crossing the boundary costs them nothing. */
bool whatif_resident(const rt_graph *g, int t, void *ctx)
{
    const whatif_module_run *m = ctx;
    const rt_tensor *x = g->tensors[t];
    if (x->kind == RT_TENSOR_INPUT && strncmp(x->name, WHATIF_KV_INPUT_PREFIX, strlen(WHATIF_KV_INPUT_PREFIX)) == 0)
        return true;
    if (m->id != M4_BACKBONE_PREFILL && m->id != M4_BACKBONE_DECODE)
        return false;
    for (int k = 1; k < g->n_outputs; k++)
        if (g->outputs[k] == t)
            return true;
    return false;
}

static const whatif_module_run *cached(const whatif *w, m4_module_id id, const m4_module_params *p)
{
    for (int i = 0; i < w->cache.n; i++)
        if (w->cache.runs[i]->id == id && memcmp(&w->cache.runs[i]->params, p, sizeof *p) == 0)
            return w->cache.runs[i];
    return NULL;
}

rt_status whatif_module(whatif *w, m4_module_id id, const m4_module_params *p, const whatif_module_run **out,
                        rt_error *e)
{
    m4_module_params rp;
    memset(&rp, 0, sizeof rp); /* resolved parameters are the cache key: no padding garbage */
    rt_status st = m4_module_params_resolve(id, p, &rp, e);
    if (st != RT_OK)
        return st;
    if ((*out = cached(w, id, &rp))) {
        w->hits++;
        return RT_OK;
    }
    if (w->cache.n == w->cache.cap) {
        int cap = w->cache.cap ? 2 * w->cache.cap : 16;
        whatif_module_run **runs = realloc(w->cache.runs, (size_t)cap * sizeof *runs);
        if (!runs)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (module cache)");
        w->cache.runs = runs;
        w->cache.cap = cap;
    }
    whatif_module_run *m = calloc(1, sizeof *m);
    if (!m)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (module cache)");
    m->id = id;
    m->params = rp;
    double t0 = now_s();
    if (!(m->g = m4_module_build_id(id, &rp, e))) {
        free(m);
        return e && e->code != RT_OK ? e->code : RT_ERR_ARG;
    }
    if ((st = m4_module_stats_get(m->g, &m->stats, e)) != RT_OK) {
        graph_free(m->g);
        free(m);
        return st;
    }
    run_options o;
    memset(&o, 0, sizeof o);
    o.cfg = &w->cfg;
    o.timing_only = true;
    o.resident = whatif_resident;
    o.resident_ctx = m;
    o.backend = w->backend;
    o.weights = rp.format == M4_FMT_INT4 ? NPU_WEIGHTS_INT4 : NPU_WEIGHTS_INT8;
    if ((st = run_model(m->g, &o, &m->r, e)) != RT_OK) {
        rt_error_prefix(e, "%s", m4_module_get(id)->name);
        graph_free(m->g);
        free(m);
        return st;
    }
    m->host_s = now_s() - t0;
    w->host_s += m->host_s;
    w->cache.runs[w->cache.n++] = m;
    *out = m;
    return RT_OK;
}

static rt_status task_failed(whatif_task_result *out, rt_status st, rt_error *e)
{
    out->failed = true;
    snprintf(out->error, sizeof out->error, "%s", e && e->msg[0] ? e->msg : "failed");
    return st;
}

rt_status whatif_task(whatif *w, const m4_task *t, const m4_task_options *o, whatif_task_result *out, rt_error *e)
{
    rt_error local;
    if (!e)
        e = &local;
    memset(e, 0, sizeof *e);
    memset(out, 0, sizeof *out);
    out->task = t;
    out->options = *o;
    out->mem_step = -1;
    m4_step steps[M4_PLAN_MAX_STEPS];
    rt_status st = m4_task_plan(t, o, steps, M4_PLAN_MAX_STEPS, &out->n_steps, e);
    if (st != RT_OK)
        return task_failed(out, st, e);
    uint64_t decode_bytes = 0, head_bytes = 0;
    for (int i = 0; i < out->n_steps; i++) {
        const whatif_module_run *m;
        if ((st = whatif_module(w, steps[i].module, &steps[i].params, &m, e)) != RT_OK) {
            rt_error_prefix(e, "T%d %s", t->id, steps[i].role);
            out->n_steps = i; /* the steps that ran */
            return task_failed(out, st, e);
        }
        out->steps[i].step = steps[i];
        out->steps[i].run = m;
        const run_result *r = m->r;
        if (out->mem_step < 0 || r->mem.peak_bytes > out->mem.peak_bytes) {
            out->mem = r->mem;
            out->mem_step = i;
        }
        double times = steps[i].repeat;
        out->latency_s += r->total_s * times;
        out->npu_s += r->npu_s * times;
        out->cpu_s += r->cpu_s * times;
        out->transfer_s += r->transfer_s * times;
        out->submit_s += r->submit_s * times;
        energy_accumulate(&out->energy, &r->energy, times);
        out->segments += (uint64_t)r->plan->n_segments * (uint64_t)steps[i].repeat;
        if (steps[i].phase == M4_PHASE_ONCE) {
            out->first_token_s += r->total_s * times;
        } else {
            out->generates = true;
            out->per_token_s += r->total_s;
            if (steps[i].module == M4_BACKBONE_DECODE)
                decode_bytes = m->stats.weight_bytes_streamed;
            if (steps[i].module == M4_GEN_DEC)
                head_bytes = m->stats.weight_bytes_streamed;
            out->gen_tokens = steps[i].repeat + 1;
        }
    }
    if (decode_bytes) {
        out->floor_bytes = decode_bytes + head_bytes;
        out->dram_floor_per_token_s = (double)out->floor_bytes / (w->cfg.npu.dram.bandwidth_gb_s * 1e9);
    }
    out->ts = m4_task_ts_model(t);
    if (out->ts && out->ts->module != M4_MODULE_NONE &&
        (st = whatif_module(w, (m4_module_id)out->ts->module, &out->ts->params, &out->ts_run, e)) != RT_OK) {
        rt_error_prefix(e, "T%d TS-model %s", t->id, out->ts->paper);
        return task_failed(out, st, e);
    }
    return RT_OK;
}

void whatif_get_stats(const whatif *w, whatif_stats *s)
{
    s->module_runs = w->cache.n;
    s->module_hits = w->hits;
    s->segment_memo_hits = npu_backend_memo_hits(w->backend);
    s->host_s = w->host_s;
}
