/* whatif_layers.c -- the per-layer report of a module run, or of every step of a task (each row
 * counted as many times as its step runs), as a table, JSON or CSV; and the roofline's data.
 * The rows come from run_layers (runtime/run/run_layers.h, docs/layers.md): their seconds, NPU
 * cycles and energy add up to the module's or the task's totals, and the last line (table), the
 * "totals" object (JSON) says so. */
#include "whatif_report_internal.h"

#include "run_layers.h"

/* ---- JSON */

json_t *whatif_layers_json(const whatif_view *v, whatif *w, const whatif_module_run *m, rt_error *e)
{
    (void)v;
    const run_layer *rows;
    int n;
    if (whatif_module_layers(w, m, &rows, &n, e) != RT_OK)
        return NULL;
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) {
        json_t *o = run_layer_json(m->g, m->r, &rows[i]);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (!arr)
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (layers)");
    return arr;
}

/* Seconds, NPU cycles and energy (and MACs, for the rows' sums: the module's own figure is the
 * graph's, in "macs" of the module report). */
static json_t *totals_json(const run_layer_totals *t, bool with_macs)
{
    json_t *o = json_object();
    json_object_set_new(o, "seconds", json_real(t->seconds));
    json_object_set_new(o, "npu_cycles", json_real(t->cycles));
    if (with_macs)
        json_object_set_new(o, "macs", json_real(t->macs));
    json_object_set_new(o, "energy_j", json_real(energy_total(&t->energy)));
    json_object_set_new(o, "energy", energy_to_json(&t->energy));
    return o;
}

/* The module's own totals to compare the rows' sums with: its latency, its segments' cycles and
 * its energy. */
static void module_totals(const whatif_module_run *m, double times, run_layer_totals *t)
{
    t->seconds += m->r->total_s * times;
    for (int s = 0; s < m->r->plan->n_segments; s++)
        t->cycles += (double)m->r->segs[s].stats.cycles * times;
    energy_accumulate(&t->energy, &m->r->energy, times);
}

/* ---- the forms */

static void csv_header(FILE *out, bool task)
{
    if (task)
        fprintf(out, "task,step,module,runs,");
    else
        fprintf(out, "module,");
    run_layers_csv_header(out);
    fprintf(out, ",config,config_hash,overrides,run_with\n");
}

static void csv_tail(FILE *out, const whatif_view *v, const whatif_module_run *m)
{
    char hash[M4NPU_CONFIG_HASH_HEX], ov[WHATIF_LABEL_BYTES] = "", params[256];
    size_t k = 0;
    for (size_t i = 0; i < v->source.n_overrides && k < sizeof ov; i++)
        k += (size_t)snprintf(ov + k, sizeof ov - k, "%s%s", i ? "; " : "", v->source.overrides[i]);
    fputc(',', out);
    run_csv_quoted(out, v->cfg->npu.name);
    fprintf(out, ",%s,", m4npu_config_hash_hex(v->cfg, hash));
    run_csv_quoted(out, ov);
    fputc(',', out);
    run_csv_quoted(out, whatif_params_str(m, params, sizeof params));
    fputc('\n', out);
}

/* One module's rows in `form`, prefixed (CSV) by the task and step when there is one. */
static rt_status module_rows(FILE *out, whatif_form form, const whatif_view *v, whatif *w, const whatif_module_run *m,
                             const whatif_task_result *t, const whatif_step_result *s, json_t *into, rt_error *e)
{
    const run_layer *rows;
    int n;
    rt_status st = whatif_module_layers(w, m, &rows, &n, e);
    if (st != RT_OK)
        return st;
    const char *module = m4_module_get(m->id)->name;
    for (int i = 0; i < n; i++) {
        if (form == WHATIF_FORM_CSV) {
            if (t)
                fprintf(out, "%d,\"%s\",%s,%d,", t->task->id, s->step.role, module, s->step.repeat);
            else
                fprintf(out, "%s,", module);
            run_layer_csv(out, m->g, m->r, &rows[i]);
            csv_tail(out, v, m);
        } else if (form == WHATIF_FORM_JSON) {
            json_t *o = run_layer_json(m->g, m->r, &rows[i]);
            if (!o)
                return rt_error_set(e, RT_ERR_NOMEM, "out of memory (layers)");
            json_object_set_new(o, "module", json_string(module));
            if (s) {
                json_object_set_new(o, "step", json_string(s->step.role));
                json_object_set_new(o, "runs", json_integer(s->step.repeat));
            }
            json_array_append_new(into, o);
        }
    }
    if (form == WHATIF_FORM_TABLE)
        run_layers_print(out, m->g, m->r, rows, n);
    return RT_OK;
}

static void print_sums(FILE *out, const run_layer_totals *rows, const run_layer_totals *whole, const char *what)
{
    fprintf(out, "rows add up to %.6g s, %.0f NPU cycles, %.6g J; the %s: %.6g s, %.0f NPU cycles, %.6g J\n",
            rows->seconds, rows->cycles, energy_total(&rows->energy), what, whole->seconds, whole->cycles,
            energy_total(&whole->energy));
}

rt_status whatif_print_module_layers(FILE *out, whatif_form form, const whatif_view *v, whatif *w,
                                     const whatif_module_run *m, rt_error *e)
{
    const run_layer *rows;
    int n;
    rt_status st = whatif_module_layers(w, m, &rows, &n, e);
    if (st != RT_OK)
        return st;
    run_layer_totals sum = {0}, whole = {0};
    run_layers_sum(rows, n, 1.0, &sum);
    module_totals(m, 1.0, &whole);
    char label[WHATIF_LABEL_BYTES], params[256];
    if (form == WHATIF_FORM_CSV) {
        csv_header(out, false);
        return module_rows(out, form, v, w, m, NULL, NULL, NULL, e);
    }
    if (form == WHATIF_FORM_TABLE) {
        fprintf(out, "%s on %s, per layer (run with %s; docs/layers.md):\n", m4_module_get(m->id)->name,
                whatif_config_label(v, label, sizeof label), whatif_params_str(m, params, sizeof params));
        st = module_rows(out, form, v, w, m, NULL, NULL, NULL, e);
        print_sums(out, &sum, &whole, "module");
        return st;
    }
    json_t *root = json_object(), *arr = json_array();
    json_object_set_new(root, "configuration", whatif_config_json(v));
    json_object_set_new(root, "module", json_string(m4_module_get(m->id)->name));
    json_object_set_new(root, "run_with", whatif_params_json(m));
    json_object_set_new(root, "layers", arr);
    if ((st = module_rows(out, form, v, w, m, NULL, NULL, arr, e)) == RT_OK) {
        json_object_set_new(root, "totals", totals_json(&whole, false));
        json_object_set_new(root, "layer_sums", totals_json(&sum, true));
        const whatif_module_run *one[1] = {m};
        json_t *roof = whatif_roofline_json(v, w, one, 1, e);
        if (!roof)
            st = e->code;
        json_object_set_new(root, "roofline", roof);
        json_dumpf(root, out, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', out);
    }
    json_decref(root);
    return st;
}

rt_status whatif_print_task_layers(FILE *out, whatif_form form, const whatif_view *v, whatif *w,
                                   const whatif_task_result *t, rt_error *e)
{
    if (t->failed)
        return rt_error_set(e, RT_ERR_ARG, "T%d failed, so it has no layers: %s", t->task->id, t->error);
    run_layer_totals sum = {0}, whole = {0};
    json_t *root = NULL, *arr = NULL;
    char label[WHATIF_LABEL_BYTES];
    if (form == WHATIF_FORM_CSV)
        csv_header(out, true);
    if (form == WHATIF_FORM_JSON) {
        root = json_object();
        arr = json_array();
        json_object_set_new(root, "configuration", whatif_config_json(v));
        json_object_set_new(root, "task", json_integer(t->task->id));
        json_object_set_new(root, "layers", arr);
    }
    if (form == WHATIF_FORM_TABLE)
        fprintf(out, "T%d %s on %s, per layer of every step (each row counted as many times as its step runs; "
                     "docs/layers.md):\n",
                t->task->id, t->task->name, whatif_config_label(v, label, sizeof label));
    rt_status st = RT_OK;
    for (int i = 0; i < t->n_steps && st == RT_OK; i++) {
        const whatif_step_result *s = &t->steps[i];
        const run_layer *rows;
        int n;
        if ((st = whatif_module_layers(w, s->run, &rows, &n, e)) != RT_OK)
            break;
        run_layers_sum(rows, n, s->step.repeat, &sum);
        module_totals(s->run, s->step.repeat, &whole);
        if (form == WHATIF_FORM_TABLE) {
            char params[256];
            fprintf(out, "\nstep %d: %s, %s x %d (run with %s)\n", i, s->step.role, m4_module_get(s->step.module)->name,
                    s->step.repeat, whatif_params_str(s->run, params, sizeof params));
        }
        st = module_rows(out, form, v, w, s->run, t, s, arr, e);
    }
    if (st == RT_OK && form == WHATIF_FORM_TABLE)
        print_sums(out, &sum, &whole, "task");
    if (st == RT_OK && form == WHATIF_FORM_JSON) {
        json_object_set_new(root, "totals", totals_json(&whole, false));
        json_object_set_new(root, "layer_sums", totals_json(&sum, true));
        json_object_set_new(root, "latency_s", json_real(t->latency_s));
        json_object_set_new(root, "energy_j", json_real(energy_total(&t->energy)));
        json_dumpf(root, out, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', out);
    }
    json_decref(root);
    return st;
}

/* ---- the roofline's data */

json_t *whatif_roofline_json(const whatif_view *v, whatif *w, const whatif_module_run *const *runs, int n,
                             rt_error *e)
{
    run_roofs roofs;
    run_roofs_get(v->cfg, &roofs);
    json_t *root = json_object(), *mods = json_array();
    json_object_set_new(root, "compute_gops", json_real(roofs.compute_ops_s / GIGA));
    json_object_set_new(root, "bandwidth_gb_s", json_real(roofs.dram_bytes_s / GIGA));
    json_object_set_new(root, "peak_bandwidth_gb_s", json_real(roofs.dram_peak_bytes_s / GIGA));
    json_object_set_new(root, "ridge_ops_per_byte", json_real(roofs.ridge_ops_per_byte));
    json_object_set_new(root, "modules", mods);
    for (int k = 0; k < n; k++) {
        const run_layer *rows;
        int nr;
        if (whatif_module_layers(w, runs[k], &rows, &nr, e) != RT_OK) {
            json_decref(root);
            return NULL;
        }
        json_t *mj = json_object(), *pts = json_array();
        json_object_set_new(mj, "module", json_string(m4_module_get(runs[k]->id)->name));
        json_object_set_new(mj, "points", pts);
        json_array_append_new(mods, mj);
        for (int i = 0; i < nr; i++) {
            const run_layer *l = &rows[i];
            if (l->kind != RUN_LAYER_OP || l->macs <= 0 || l->dram_bytes == 0 || l->seconds <= 0)
                continue;
            double ai = l->flops / (double)l->dram_bytes, ops = l->flops / l->seconds;
            double roof = ai * roofs.dram_bytes_s < roofs.compute_ops_s ? ai * roofs.dram_bytes_s : roofs.compute_ops_s;
            char name[300];
            json_t *p = json_object();
            json_object_set_new(p, "name", json_string(run_layer_name(runs[k]->g, l, name, sizeof name)));
            json_object_set_new(p, "kernel", json_string(l->kernel));
            json_object_set_new(p, "macs", json_real(l->macs));
            json_object_set_new(p, "dram_bytes", json_integer((json_int_t)l->dram_bytes));
            json_object_set_new(p, "intensity", json_real(ai));
            json_object_set_new(p, "gops", json_real(ops / GIGA));
            json_object_set_new(p, "roof_gops", json_real(roof / GIGA));
            json_object_set_new(p, "fraction_of_roof", json_real(ops / roof));
            json_object_set_new(p, "bound", json_string(run_bound_name(l->bound)));
            json_array_append_new(pts, p);
        }
    }
    return root;
}
