/* whatif_timeline.c -- timelines of the what-if as Chrome/Perfetto trace-event JSON: a module's
 * one run, or a task's whole inference, every run of every step one after the other, so that the
 * timeline spans the task's latency (docs/whatif.md, "Timelines").
 *
 * Processes and threads are named with metadata events: process 0 is the task (a track of step
 * runs), 1 the host CPU (CPU nodes and submissions, boundary copies), 2 the NPU (jobs, their op
 * descriptors, each DMA channel and unit). A step that runs many times (decode tokens, UNet steps)
 * is the same module run each time, so its op descriptors and units are drawn in its first run
 * only and its CPU nodes and jobs in its first WHATIF_TIMELINE_DETAILED_RUNS runs: every run is on
 * the step track whatever its number, and the file stays bounded however many tokens a task
 * generates. */
#include "whatif_report_internal.h"

#include <string.h>

#define WHATIF_TIMELINE_DETAILED_RUNS 16
#define TRACE_PID_TASK 0
#define TRACE_TID_STEPS 0

static int set(json_t *o, const char *key, json_t *v) { return v && json_object_set_new(o, key, v) == 0 ? 0 : -1; }

static json_t *meta(const char *what, int tid, const char *name)
{
    json_t *m = json_object(), *args = json_object();
    if (!m || !args || set(args, "name", json_string(name)) || set(m, "ph", json_string("M")) ||
        set(m, "name", json_string(what)) || set(m, "pid", json_integer(TRACE_PID_TASK)) ||
        (tid >= 0 && set(m, "tid", json_integer(tid))) || set(m, "args", args)) {
        json_decref(m);
        return NULL;
    }
    return m;
}

static json_t *step_event(const char *name, const whatif_module_run *m, double t0_s, int run, int runs)
{
    json_t *o = json_object(), *args = json_object();
    char params[256];
    if (!o || !args || set(o, "name", json_string(name)) || set(o, "cat", json_string("step")) ||
        set(o, "ph", json_string("X")) || set(o, "pid", json_integer(TRACE_PID_TASK)) ||
        set(o, "tid", json_integer(TRACE_TID_STEPS)) || set(o, "ts", json_real(t0_s * US_PER_S)) ||
        set(o, "dur", json_real(m->r->total_s * US_PER_S)) ||
        set(args, "module", json_string(m4_module_get(m->id)->name)) || set(args, "run", json_integer(run)) ||
        set(args, "runs", json_integer(runs)) ||
        set(args, "run_with", json_string(whatif_params_str(m, params, sizeof params))) ||
        set(args, "energy_j", json_real(energy_total(&m->r->energy))) || set(o, "args", args)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* {"traceEvents": [...], "displayTimeUnit", "otherData"} around events, dumped onto out. */
static rt_status finish(const whatif_view *v, json_t *evs, const char *what, double span_s, FILE *out, rt_error *e)
{
    json_t *root = json_object(), *other = json_object();
    char label[WHATIF_LABEL_BYTES], hash[M4NPU_CONFIG_HASH_HEX];
    int bad = !root || !other || set(root, "traceEvents", evs) || set(root, "displayTimeUnit", json_string("ms")) ||
              set(other, "what", json_string(what)) ||
              set(other, "config", json_string(whatif_config_label(v, label, sizeof label))) ||
              set(other, "config_hash", json_string(m4npu_config_hash_hex(v->cfg, hash))) ||
              set(other, "span_s", json_real(span_s)) ||
              set(other, "time", json_string("modelled (phone) time, not host time")) || set(root, "otherData", other);
    if (!bad)
        bad = json_dumpf(root, out, JSON_COMPACT) != 0;
    json_decref(root);
    if (!root)
        json_decref(evs);
    return bad ? rt_error_set(e, RT_ERR_NOMEM, "out of memory (timeline)") : RT_OK;
}

rt_status whatif_write_task_timeline(const whatif_view *v, const whatif_task_result *t, FILE *out, rt_error *e)
{
    json_t *evs = json_array();
    char name[160];
    snprintf(name, sizeof name, "T%d %s: steps", t->task->id, t->task->name);
    int bad = !evs || json_array_append_new(evs, meta("process_name", -1, name)) ||
              json_array_append_new(evs, meta("thread_name", TRACE_TID_STEPS, "step runs, one after the other")) ||
              run_timeline_names(evs, v->cfg) != RT_OK;
    double t0 = 0.0;
    for (int i = 0; !bad && i < t->n_steps; i++) {
        const whatif_step_result *s = &t->steps[i];
        const whatif_module_run *m = s->run;
        for (int k = 0; !bad && k < s->step.repeat; k++) {
            if (k < WHATIF_TIMELINE_DETAILED_RUNS)
                bad = run_timeline_events(evs, m->g, v->cfg, m->r, t0, k == 0 ? RUN_TIMELINE_ALL : RUN_TIMELINE_JOBS) != RT_OK;
            char ev_name[200];
            if (s->step.repeat > 1)
                snprintf(ev_name, sizeof ev_name, "%s (run %d of %d)", s->step.role, k + 1, s->step.repeat);
            else
                snprintf(ev_name, sizeof ev_name, "%s", s->step.role);
            bad = bad || json_array_append_new(evs, step_event(ev_name, m, t0, k + 1, s->step.repeat));
            t0 += m->r->total_s;
        }
    }
    if (bad) {
        json_decref(evs);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (timeline)");
    }
    snprintf(name, sizeof name, "T%d %s, the whole inference", t->task->id, t->task->name);
    return finish(v, evs, name, t0, out, e);
}

rt_status whatif_write_module_timeline(const whatif_view *v, const whatif_module_run *m, FILE *out, rt_error *e)
{
    json_t *evs = json_array();
    const char *module = m4_module_get(m->id)->name;
    char name[96];
    snprintf(name, sizeof name, "module %s", module);
    int bad = !evs || json_array_append_new(evs, meta("process_name", -1, name)) ||
              json_array_append_new(evs, meta("thread_name", TRACE_TID_STEPS, "the module run")) ||
              run_timeline_names(evs, v->cfg) != RT_OK ||
              run_timeline_events(evs, m->g, v->cfg, m->r, 0.0, RUN_TIMELINE_ALL) != RT_OK ||
              json_array_append_new(evs, step_event(module, m, 0.0, 1, 1));
    if (bad) {
        json_decref(evs);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (timeline)");
    }
    return finish(v, evs, name, m->r->total_s, out, e);
}
