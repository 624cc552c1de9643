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
    uint64_t op_replayed0, op_simulated0; /* the simulator's op memo counts at whatif_open */
    bool greedy_partition;   /* whatif_set_partition */
    part_objective objective;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void whatif_set_partition(whatif *w, bool greedy, part_objective objective)
{
    w->greedy_partition = greedy;
    w->objective = objective;
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
    npu_drv_op_memo_counts(&w->op_replayed0, &w->op_simulated0);
    return w;
}

void whatif_close(whatif *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->cache.n; i++) {
        free(w->cache.runs[i]->layers);
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
void whatif_set_log(whatif *w, npu_log_fn fn, void *ctx) { npu_backend_set_log(w->backend, fn, ctx); }
void whatif_set_profile(whatif *w, bool on) { npu_backend_set_profile(w->backend, on); }

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
    o.greedy_partition = w->greedy_partition;
    o.objective = w->objective;
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
            out->per_token_s += r->total_s;
            if (steps[i].module == M4_BACKBONE_DECODE)
                decode_bytes = m->stats.weight_bytes_streamed;
            if (steps[i].module == M4_GEN_DEC)
                head_bytes = m->stats.weight_bytes_streamed;
        }
    }
    /* a task that generates one token has its first-token steps and no per-token step */
    out->gen_tokens = m4_task_gen_tokens(t, o);
    out->generates = out->gen_tokens > 0;
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

rt_status whatif_module_layers(whatif *w, const whatif_module_run *m, const run_layer **rows, int *n, rt_error *e)
{
    whatif_module_run *own = NULL; /* the session's own run, found again to fill its cache */
    for (int i = 0; i < w->cache.n && !own; i++)
        if (w->cache.runs[i] == m)
            own = w->cache.runs[i];
    if (!own)
        return rt_error_set(e, RT_ERR_ARG, "whatif_module_layers: not a module run of this session");
    if (!own->layers) {
        rt_status st = run_layers(own->g, &w->cfg, own->r, &own->layers, &own->n_layers, e);
        if (st != RT_OK)
            return st;
    }
    *rows = own->layers;
    *n = own->n_layers;
    return RT_OK;
}

/* ---- options */

static const char *const lora_modules = "the encoders, backbone-prefill and backbone-decode";

rt_status whatif_module_params(m4_module_id id, const whatif_options *o, m4_module_params *p, rt_error *e)
{
    const m4_module_info *mi = m4_module_get(id);
    if (!mi)
        return rt_error_set(e, RT_ERR_ARG, "module id %d is not a module", (int)id);
    memset(p, 0, sizeof *p);
    int tokens = -1, kv = -1;
    for (int i = 0; i < m4_module_param_count(); i++) {
        if (strcmp(m4_module_param_name(i), "tokens") == 0)
            tokens = i;
        if (strcmp(m4_module_param_name(i), "kv_len") == 0)
            kv = i;
    }
    if (o->gen_tokens)
        return rt_error_set(e, RT_ERR_ARG, "--gen-tokens applies to tasks that generate text; a --module run is one "
                            "pass (for a decode step's cost at a given cache length use --module backbone-decode "
                            "--kv-len C)");
    if (o->kv_len && !m4_module_takes_param(id, kv))
        return rt_error_set(e, RT_ERR_ARG, "--kv-len applies to --module backbone-decode (the KV cache it reads), not "
                            "to %s", mi->name);
    if (o->prompt_tokens && !m4_module_takes_param(id, tokens))
        return rt_error_set(e, RT_ERR_ARG, "--prompt-tokens sets the token count of a module that takes one "
                            "(backbone-prefill, GEN_dec, TXT_enc, AUD-I_enc, projection, the text TS-models); %s "
                            "takes none", mi->name);
    if (o->lora_rank && !m4_module_takes_lora(id))
        return rt_error_set(e, RT_ERR_ARG, "--lora-rank applies to modules that take LoRA adapters (%s); %s takes "
                            "none", lora_modules, mi->name);
    if (o->int4 && id != M4_BACKBONE_PREFILL && id != M4_BACKBONE_DECODE && id != M4_GEN_DEC)
        return rt_error_set(e, RT_ERR_ARG, "--int4 applies to the backbone (backbone-prefill, backbone-decode) and "
                            "the output head (GEN_dec), not to %s", mi->name);
    p->tokens = o->prompt_tokens;
    p->kv_len = o->kv_len;
    if (m4_module_takes_lora(id))
        p->lora_rank = o->lora_rank == M4_LORA_NONE ? 0 : o->lora_rank ? o->lora_rank : M4_LORA_RANK_DEFAULT;
    if (o->int4)
        p->format = M4_FMT_INT4;
    return RT_OK;
}

rt_status whatif_task_options(const int *ids, int n, const whatif_options *o, m4_task_options *to,
                              int applied[WHATIF_OPT_COUNT], rt_error *e)
{
    memset(to, 0, sizeof *to);
    memset(applied, 0, WHATIF_OPT_COUNT * sizeof applied[0]);
    if (o->kv_len)
        return rt_error_set(e, RT_ERR_ARG, "--kv-len applies to --module backbone-decode; a task's KV length follows "
                            "from its prompt and generated tokens (--prompt-tokens, --gen-tokens)");
    for (int i = 0; i < n; i++) {
        const m4_task *t = m4_task_get(ids[i]);
        applied[WHATIF_OPT_PROMPT] += m4_task_runs_backbone(t);
        applied[WHATIF_OPT_INT4] += m4_task_runs_backbone(t);
        applied[WHATIF_OPT_GEN] += m4_task_gen_tokens(t, NULL) > 0;
        applied[WHATIF_OPT_LORA] += m4_task_takes_lora(t);
    }
    /* who the option does not apply to: the one task, or all of the selection */
    char who[64];
    if (n == 1)
        snprintf(who, sizeof who, "T%d is a path-%d task", ids[0], m4_task_get(ids[0])->path);
    else
        snprintf(who, sizeof who, "none of the %d selected tasks is one", n);
    if (o->prompt_tokens && !applied[WHATIF_OPT_PROMPT])
        return rt_error_set(e, RT_ERR_ARG, "--prompt-tokens applies to tasks that run the backbone (paths 1 and 2); %s",
                            who);
    if (o->gen_tokens && !applied[WHATIF_OPT_GEN]) {
        if (n == 1)
            snprintf(who, sizeof who, "T%d generates no text (path %d)", ids[0], m4_task_get(ids[0])->path);
        return rt_error_set(e, RT_ERR_ARG, "--gen-tokens applies to tasks that generate text (paths 1 and 2 with the "
                            "output head); %s", who);
    }
    if (o->lora_rank && !applied[WHATIF_OPT_LORA])
        return rt_error_set(e, RT_ERR_ARG, "--lora-rank applies to tasks with LoRA adapters (paths 1 to 3; path 4 runs "
                            "the generator alone); %s", who);
    if (o->int4 && !applied[WHATIF_OPT_INT4])
        return rt_error_set(e, RT_ERR_ARG, "--int4 applies to tasks that run the backbone (paths 1 and 2); %s", who);
    to->prompt_tokens = o->prompt_tokens;
    to->gen_tokens = o->gen_tokens;
    to->lora_rank = o->lora_rank;
    to->backbone_format = o->int4 ? M4_FMT_INT4 : M4_FMT_DEFAULT;
    if (!o->prompt_tokens)
        applied[WHATIF_OPT_PROMPT] = 0;
    if (!o->gen_tokens)
        applied[WHATIF_OPT_GEN] = 0;
    if (!o->lora_rank)
        applied[WHATIF_OPT_LORA] = 0;
    if (!o->int4)
        applied[WHATIF_OPT_INT4] = 0;
    return RT_OK;
}

void whatif_get_stats(const whatif *w, whatif_stats *s)
{
    s->module_runs = w->cache.n;
    s->module_hits = w->hits;
    s->segment_memo_hits = npu_backend_memo_hits(w->backend);
    uint64_t replayed = 0, simulated = 0;
    npu_drv_op_memo_counts(&replayed, &simulated);
    s->ops_replayed = replayed - w->op_replayed0;
    s->ops_simulated = simulated - w->op_simulated0;
    s->host_s = w->host_s;
}
