/* whatif_json.c -- the what-if report as JSON for scripts: every task with its steps, or one
 * module (whatif_report.h; docs/whatif.md names every key). */
#include "whatif_report_internal.h"

#include <math.h>

static json_t *num_or_null(double v, bool present) { return present ? json_real(v) : json_null(); }

json_t *whatif_config_json(const whatif_view *v)
{
    return m4npu_config_source_json(v->cfg, &v->source);
}

json_t *whatif_params_json(const whatif_module_run *m)
{
    json_t *j = json_object();
    char targets[16];
    for (int i = 0; i < m4_module_param_count(); i++)
        if (m4_module_takes_param(m->id, i))
            json_object_set_new(j, m4_module_param_name(i), json_integer(m4_module_param_value(&m->params, i)));
    json_object_set_new(j, "lora_rank", json_integer(m->params.lora_rank));
    json_object_set_new(j, "lora_targets",
                        m->params.lora_rank ? json_string(m4_lora_targets_str(m->params.lora_targets, targets,
                                                                              sizeof targets))
                                            : json_null());
    json_object_set_new(j, "format", json_string(m4_format_name(m->params.format)));
    return j;
}

static json_t *step_json(const whatif_step_result *s)
{
    const run_result *r = s->run->r;
    json_t *j = json_object();
    json_object_set_new(j, "module", json_string(m4_module_get(s->step.module)->name));
    json_object_set_new(j, "role", json_string(s->step.role));
    json_object_set_new(j, "phase", json_string(s->step.phase == M4_PHASE_ONCE ? "once" : "per_token"));
    json_object_set_new(j, "repeat", json_integer(s->step.repeat));
    json_object_set_new(j, "latency_s", json_real(r->total_s));
    json_object_set_new(j, "energy_j", json_real(energy_total(&r->energy)));
    json_object_set_new(j, "npu_s", json_real(r->npu_s));
    json_object_set_new(j, "cpu_s", json_real(r->cpu_s));
    json_object_set_new(j, "transfer_s", json_real(r->transfer_s));
    json_object_set_new(j, "submit_s", json_real(r->submit_s));
    json_object_set_new(j, "segments", json_integer(r->plan->n_segments));
    json_object_set_new(j, "npu_nodes", json_integer(r->plan->n_npu));
    json_object_set_new(j, "cpu_nodes", json_integer(r->plan->n_cpu));
    json_object_set_new(j, "tokens", json_integer(s->step.params.tokens));
    json_object_set_new(j, "kv_len", json_integer(s->step.params.kv_len));
    bool kv_range = s->step.module == M4_BACKBONE_DECODE && s->step.repeat > 0;
    json_object_set_new(j, "kv_first", kv_range ? json_integer(s->step.kv_first) : json_null());
    json_object_set_new(j, "kv_last", kv_range ? json_integer(s->step.kv_last) : json_null());
    json_object_set_new(j, "lora_rank", json_integer(s->step.params.lora_rank));
    json_object_set_new(j, "format", json_string(m4_format_name(s->step.params.format)));
    json_object_set_new(j, "params", whatif_params_json(s->run));
    json_object_set_new(j, "device_memory", run_mem_json(&r->mem));
    return j;
}

/* The task's TS-model: the paper's name, and its latency and energy on this NPU (null when it
 * is not built in). */
static json_t *ts_json(const whatif_task_result *t)
{
    if (!t->ts)
        return json_null();
    json_t *j = json_object();
    const run_result *r = t->ts_run ? t->ts_run->r : NULL;
    json_object_set_new(j, "paper", json_string(t->ts->paper));
    json_object_set_new(j, "source", json_string(t->ts->source));
    json_object_set_new(j, "module", r ? json_string(m4_module_get(t->ts_run->id)->name) : json_null());
    json_object_set_new(j, "latency_s", r ? json_real(r->total_s) : json_null());
    json_object_set_new(j, "energy_j", r ? json_real(energy_total(&r->energy)) : json_null());
    json_object_set_new(j, "npu_s", r ? json_real(r->npu_s) : json_null());
    json_object_set_new(j, "segments", r ? json_integer(r->plan->n_segments) : json_null());
    json_object_set_new(j, "tokens", r && t->ts_run->params.tokens ? json_integer(t->ts_run->params.tokens)
                                                                   : json_null());
    json_object_set_new(j, "params", r ? whatif_params_json(t->ts_run) : json_null());
    json_object_set_new(j, "basis", json_string(t->ts->basis));
    return j;
}

/* The options a task ran with, resolved: its prompt tokens (those of the backbone's prefill, the
 * modality tokens included), generated tokens, LoRA rank and the backbone's weight format. */
static json_t *task_options_json(const whatif_task_result *t)
{
    json_t *j = json_object();
    int prompt = 0, lora = 0;
    m4_format fmt = M4_FMT_DEFAULT;
    for (int i = 0; i < t->n_steps; i++) {
        const m4_step *s = &t->steps[i].step;
        if (s->module == M4_BACKBONE_PREFILL) {
            prompt = s->params.tokens;
            fmt = s->params.format;
        }
        if (s->params.lora_rank)
            lora = s->params.lora_rank;
    }
    json_object_set_new(j, "prompt_tokens", prompt ? json_integer(prompt) : json_null());
    json_object_set_new(j, "gen_tokens", json_integer(t->gen_tokens));
    json_object_set_new(j, "lora_rank", json_integer(lora));
    json_object_set_new(j, "backbone_format", fmt != M4_FMT_DEFAULT ? json_string(m4_format_name(fmt)) : json_null());
    return j;
}

/* A failed task keeps every key: its numbers are null, "status" is "failed" and "error" says why;
 * "steps" lists the steps that ran before the failure. */
static json_t *task_json(const whatif_task_result *t)
{
    json_t *j = json_object(), *lat = json_object(), *bd = json_object(), *steps = json_array();
    bool ok = !t->failed;
    json_object_set_new(j, "id", json_integer(t->task->id));
    json_object_set_new(j, "name", json_string(t->task->name));
    json_object_set_new(j, "dataset", json_string(t->task->dataset));
    json_object_set_new(j, "domain", json_string(m4_domain_name(t->task->domain)));
    json_object_set_new(j, "path", json_integer(t->task->path));
    json_object_set_new(j, "status", json_string(ok ? "ok" : "failed"));
    json_object_set_new(j, "error", ok ? json_null() : json_string(t->error));
    json_object_set_new(j, "latency_s", num_or_null(t->latency_s, ok));
    json_object_set_new(j, "energy_j", num_or_null(energy_total(&t->energy), ok));
    json_object_set_new(j, "first_token_s", num_or_null(t->first_token_s, ok && t->generates));
    json_object_set_new(j, "per_token_s", num_or_null(t->per_token_s, ok && t->gen_tokens > 1));
    json_object_set_new(j, "gen_tokens", json_integer(t->gen_tokens));
    json_object_set_new(j, "options", task_options_json(t));
    json_object_set_new(j, "npu_fraction", num_or_null(whatif_npu_fraction(t), ok));
    json_object_set_new(j, "segments", ok ? json_integer((json_int_t)t->segments) : json_null());
    json_object_set_new(lat, "npu_s", json_real(t->npu_s));
    json_object_set_new(lat, "cpu_s", json_real(t->cpu_s));
    json_object_set_new(lat, "transfer_s", json_real(t->transfer_s));
    json_object_set_new(lat, "submit_s", json_real(t->submit_s));
    json_object_set_new(bd, "latency", lat);
    json_object_set_new(bd, "energy", energy_to_json(&t->energy));
    if (ok) {
        json_object_set_new(j, "breakdown", bd);
    } else {
        json_decref(bd);
        json_object_set_new(j, "breakdown", json_null());
    }
    json_object_set_new(j, "device_memory", ok && t->mem_step >= 0 ? run_mem_json(&t->mem) : json_null());
    json_object_set_new(j, "dram_floor_per_token_s", num_or_null(t->dram_floor_per_token_s, ok && t->floor_bytes > 0));
    json_object_set_new(j, "dram_floor_bytes", json_integer((json_int_t)t->floor_bytes));
    for (int i = 0; i < t->n_steps; i++)
        json_array_append_new(steps, step_json(&t->steps[i]));
    json_object_set_new(j, "steps", steps);
    const m4_paper_latency *p = t->task->paper;
    if (p) {
        json_t *pj = json_object();
        json_object_set_new(pj, "measured", json_string(p->measured));
        json_object_set_new(pj, "cpu_s", json_real(p->cpu_s));
        json_object_set_new(pj, "npu_estimate_s", json_real(p->npu_est_s));
        json_object_set_new(pj, "cpu_per_token_s", num_or_null(p->cpu_per_token_s, p->cpu_per_token_s > 0));
        json_object_set_new(pj, "npu_estimate_per_token_s",
                            num_or_null(p->npu_est_per_token_s, p->npu_est_per_token_s > 0));
        json_object_set_new(j, "paper", pj);
    } else {
        json_object_set_new(j, "paper", json_null());
    }
    json_object_set_new(j, "ts_model", ts_json(t));
    json_object_set_new(j, "path_basis", json_string(t->task->path_basis));
    json_object_set_new(j, "inputs_basis", json_string(t->task->inputs_basis));
    return j;
}

json_t *whatif_tasks_json(const whatif_view *v, const whatif_task_result *tasks, int n, const whatif_stats *st)
{
    json_t *root = json_object(), *arr = json_array(), *sum = json_object();
    json_object_set_new(root, "config", m4npu_config_to_json(v->cfg));
    json_object_set_new(root, "configuration", whatif_config_json(v));
    json_object_set_new(root, "energy_table_version", json_integer(v->cfg->energy.version));
    double lat = 0.0, j = 0.0;
    int failed = whatif_count_failed(tasks, n), ran = n - failed;
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, task_json(&tasks[i]));
        if (tasks[i].failed)
            continue;
        lat += tasks[i].latency_s;
        j += energy_total(&tasks[i].energy);
    }
    json_object_set_new(root, "tasks", arr);
    json_object_set_new(sum, "tasks", json_integer(n));
    json_object_set_new(sum, "selection", json_string(v->selection ? v->selection : ""));
    json_object_set_new(sum, "completed", json_integer(ran));
    json_object_set_new(sum, "failed", json_integer(failed));
    /* over the tasks that completed; the paper's means are over all 50, so they stand beside ours
     * only when ours are over all 50 too */
    bool comparable = whatif_all_tasks(v) && !failed;
    json_object_set_new(sum, "subset", json_boolean(!comparable));
    json_object_set_new(sum, "mean_latency_s", num_or_null(ran ? lat / ran : 0.0, ran > 0));
    json_object_set_new(sum, "mean_energy_j", num_or_null(ran ? j / ran : 0.0, ran > 0));
    json_object_set_new(sum, "paper_mean_latency_s", num_or_null(WHATIF_PAPER_MEAN_LATENCY_S, comparable));
    json_object_set_new(sum, "paper_mean_energy_j", num_or_null(WHATIF_PAPER_MEAN_ENERGY_J, comparable));
    whatif_ts_summary ts = whatif_ts_summarise(tasks, n);
    json_object_set_new(sum, "ts_model_tasks", json_integer(ts.n));
    json_object_set_new(sum, "ts_mean_latency_s", num_or_null(ts.n ? ts.ts_lat / ts.n : 0.0, ts.n > 0));
    json_object_set_new(sum, "ts_mean_energy_j", num_or_null(ts.n ? ts.ts_j / ts.n : 0.0, ts.n > 0));
    json_object_set_new(sum, "m4_mean_latency_s_ts_tasks", num_or_null(ts.n ? ts.m4_lat / ts.n : 0.0, ts.n > 0));
    json_object_set_new(sum, "m4_mean_energy_j_ts_tasks", num_or_null(ts.n ? ts.m4_j / ts.n : 0.0, ts.n > 0));
    json_object_set_new(root, "summary", sum);
    if (st) {
        json_t *s = json_object();
        json_object_set_new(s, "module_runs_simulated", json_integer(st->module_runs));
        json_object_set_new(s, "module_cache_hits", json_integer(st->module_hits));
        json_object_set_new(s, "segment_memo_hits", json_integer((json_int_t)st->segment_memo_hits));
        json_object_set_new(s, "ops_replayed", json_integer((json_int_t)st->ops_replayed));
        json_object_set_new(s, "ops_simulated", json_integer((json_int_t)st->ops_simulated));
        json_object_set_new(s, "host_s", json_real(st->host_s));
        json_object_set_new(root, "simulation", s);
    }
    return root;
}

/* DRAM bytes a segment's job moved (every DMA channel, read and written). */
static uint64_t segment_dram_bytes(const npu_segment_stats *st)
{
    uint64_t b = 0;
    for (int u = NPU_UNIT_DMA0; u <= NPU_UNIT_DMA3; u++)
        b += st->counters.v[u][NPU_CTR_DRAM_RD] + st->counters.v[u][NPU_CTR_DRAM_WR];
    return b;
}

static json_t *module_references_json(const whatif_module_run *m)
{
    json_t *arr = json_array();
    for (int i = 0; i < m4_reference_count(); i++) {
        const m4_reference *ref = m4_reference_get(i);
        double value = 0.0;
        rt_error e;
        if (ref->module != m->id || m4_reference_compute(ref, &value, &e) != RT_OK)
            continue;
        double pub = ref->published, diff = pub != 0.0 ? (value - pub) / pub : 0.0;
        json_t *j = json_object();
        json_object_set_new(j, "label", json_string(ref->label));
        json_object_set_new(j, "computed", json_real(value * ref->unit));
        json_object_set_new(j, "published", json_real(pub * ref->unit));
        json_object_set_new(j, "rel_diff", json_real(diff));
        json_object_set_new(j, "tolerance", json_real(ref->tolerance));
        json_object_set_new(j, "within_tolerance", json_boolean(fabs(diff) <= ref->tolerance));
        json_object_set_new(j, "source", json_string(ref->source));
        json_object_set_new(j, "note", json_string(ref->note));
        json_array_append_new(arr, j);
    }
    return arr;
}

/* Busy cycles of each unit over the module's segments: which unit bounds the NPU's time. */
static json_t *unit_busy_json(const run_result *r)
{
    json_t *u = json_object();
    for (uint32_t unit = 0; unit < NPU_UNIT_COUNT; unit++) {
        uint64_t busy = 0;
        for (int i = 0; i < r->plan->n_segments; i++)
            busy += r->segs[i].stats.counters.v[unit][NPU_CTR_BUSY];
        json_object_set_new(u, npu_unit_str(unit), json_integer((json_int_t)busy));
    }
    return u;
}

json_t *whatif_module_json(const whatif_view *v, const whatif_module_run *m)
{
    const m4_module_stats *s = &m->stats;
    const run_result *r = m->r;
    json_t *j = json_object(), *lat = json_object();
    json_object_set_new(j, "config", json_string(v->cfg->npu.name));
    json_object_set_new(j, "configuration", whatif_config_json(v));
    json_object_set_new(j, "module", json_string(m4_module_get(m->id)->name));
    json_object_set_new(j, "format", json_string(m4_format_name(m->params.format)));
    json_object_set_new(j, "run_with", whatif_params_json(m));
    json_object_set_new(j, "params", json_real(s->params));
    json_object_set_new(j, "lora_params", json_real(s->lora_params));
    json_object_set_new(j, "macs", json_real(s->macs));
    json_object_set_new(j, "flops", json_real(s->flops));
    json_object_set_new(j, "weight_bytes", json_integer((json_int_t)s->weight_bytes));
    json_object_set_new(j, "weight_bytes_streamed", json_integer((json_int_t)s->weight_bytes_streamed));
    json_object_set_new(j, "nodes", json_integer(s->nodes));
    json_object_set_new(j, "published", module_references_json(m));
    json_object_set_new(j, "latency_s", json_real(r->total_s));
    json_object_set_new(lat, "npu_s", json_real(r->npu_s));
    json_object_set_new(lat, "cpu_s", json_real(r->cpu_s));
    json_object_set_new(lat, "transfer_s", json_real(r->transfer_s));
    json_object_set_new(lat, "submit_s", json_real(r->submit_s));
    json_object_set_new(j, "latency", lat);
    json_object_set_new(j, "energy_j", json_real(energy_total(&r->energy)));
    json_object_set_new(j, "energy", energy_to_json(&r->energy));
    json_object_set_new(j, "segments", json_integer(r->plan->n_segments));
    json_object_set_new(j, "npu_nodes", json_integer(r->plan->n_npu));
    json_object_set_new(j, "cpu_nodes", json_integer(r->plan->n_cpu));
    json_object_set_new(j, "device_memory", run_mem_json(&r->mem));
    json_t *segs = json_array();
    uint64_t cycles = 0;
    for (int i = 0; i < r->plan->n_segments; i++) {
        json_t *sj = run_mem_json(&r->segs[i].mem);
        json_object_set_new(sj, "cycles", json_integer((json_int_t)r->segs[i].stats.cycles));
        json_object_set_new(sj, "dram_bytes", json_integer((json_int_t)segment_dram_bytes(&r->segs[i].stats)));
        json_array_append_new(segs, sj);
        cycles += r->segs[i].stats.cycles;
    }
    json_object_set_new(j, "segment_list", segs);
    json_object_set_new(j, "npu_cycles", json_integer((json_int_t)cycles));
    json_object_set_new(j, "unit_busy_cycles", unit_busy_json(r));
    return j;
}
