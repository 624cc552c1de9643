/* sweep_run.c -- one workload on one configuration: a module or a task simulated in timing-only
 * mode through the what-if library (analysis/whatif), or an ONNX model through the run pipeline
 * as `m4npu run --timing-only` runs it; its latency, energy and their parts as the sweep's
 * metrics. A workload that fails (an allocation that does not fit, a job that faults) is a result
 * with its message: a sweep records it and goes on. */
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_io.h"
#include "whatif.h"

static void set(sweep_result *r, sweep_metric m, double v)
{
    r->metric[m] = v;
    r->has[m] = true;
}

static void set_energy(sweep_result *r, const energy_breakdown *en)
{
    set(r, SWEEP_M_ENERGY_J, energy_total(en));
    set(r, SWEEP_M_E_MACS_J, en->macs_j);
    set(r, SWEEP_M_E_VECTOR_J, en->vector_j);
    set(r, SWEEP_M_E_SRAM_J, en->sram_j);
    set(r, SWEEP_M_E_DRAM_J, en->dram_j);
    set(r, SWEEP_M_E_CONTROL_J, en->control_j);
    set(r, SWEEP_M_E_STATIC_J, en->static_j);
    set(r, SWEEP_M_E_CPU_J, en->cpu_j);
    set(r, SWEEP_M_E_TRANSFER_J, en->transfer_j);
}

static void set_times(sweep_result *r, double total, double npu, double cpu, double transfer, double submit)
{
    set(r, SWEEP_M_LATENCY_S, total);
    set(r, SWEEP_M_NPU_S, npu);
    set(r, SWEEP_M_CPU_S, cpu);
    set(r, SWEEP_M_TRANSFER_S, transfer);
    set(r, SWEEP_M_SUBMIT_S, submit);
    set(r, SWEEP_M_NPU_FRACTION, total > 0 ? npu / total : 0.0);
}

/* An ONNX model, as `m4npu run MODEL --timing-only`, on the session's device. */
static bool run_onnx(whatif *w, const sweep_workload *wl, sweep_result *r, rt_error *e)
{
    rt_graph *g = NULL;
    onnx_import_opts io = {.no_weight_data = true}; /* timing only: weights are never read */
    if (onnx_import_file(wl->model, &io, &g, e) != RT_OK)
        return false;
    run_dim dims[SWEEP_MAX_DIMS];
    for (int d = 0; d < wl->n_dims; d++)
        dims[d] = (run_dim){wl->dim_name[d], wl->dim_value[d]};
    run_options o = {.cfg = whatif_config(w), .dims = dims, .n_dims = wl->n_dims, .timing_only = true,
                     .backend = whatif_backend(w), .weights = wl->int4 ? NPU_WEIGHTS_INT4 : NPU_WEIGHTS_INT8,
                     .greedy_partition = true /* greedy placement, as every sweep point (sweep_point.c says why) */};
    run_result *rr = NULL;
    bool ok = run_model(g, &o, &rr, e) == RT_OK;
    if (ok) {
        set_times(r, rr->total_s, rr->npu_s, rr->cpu_s, rr->transfer_s, rr->submit_s);
        set_energy(r, &rr->energy);
        set(r, SWEEP_M_SEGMENTS, (double)rr->plan->n_segments);
    }
    run_result_free(rr);
    graph_free(g);
    return ok;
}

void sweep_run_workload(whatif *w, const sweep_workload *wl, const sweep_area *area, sweep_result *r)
{
    memset(r, 0, sizeof *r);
    double t0 = sweep_now_s();
    rt_error e;
    const m4npu_config *cfg = whatif_config(w);
    set(r, SWEEP_M_AREA_MM2, sweep_derived_value(SWEEP_D_AREA_MM2, cfg, area));
    if (wl->kind == SWEEP_WL_MODULE) {
        const whatif_module_run *m;
        if (whatif_module(w, wl->module, &wl->params, &m, &e) == RT_OK) {
            const run_result *rr = m->r;
            set_times(r, rr->total_s, rr->npu_s, rr->cpu_s, rr->transfer_s, rr->submit_s);
            set_energy(r, &rr->energy);
            set(r, SWEEP_M_SEGMENTS, (double)rr->plan->n_segments);
            r->ok = true;
        }
    } else if (wl->kind == SWEEP_WL_MODEL) {
        r->ok = run_onnx(w, wl, r, &e);
    } else {
        whatif_task_result *t = malloc(sizeof *t);
        if (!t) {
            rt_error_set(&e, RT_ERR_NOMEM, "out of memory (task result)");
        } else if (whatif_task(w, m4_task_get(wl->task), &wl->options, t, &e) == RT_OK) {
            set_times(r, t->latency_s, t->npu_s, t->cpu_s, t->transfer_s, t->submit_s);
            set_energy(r, &t->energy);
            set(r, SWEEP_M_SEGMENTS, (double)t->segments);
            if (t->generates) /* a task that generates one token has no per-token time */
                set(r, SWEEP_M_FIRST_TOKEN_S, t->first_token_s);
            if (t->gen_tokens > 1)
                set(r, SWEEP_M_PER_TOKEN_S, t->per_token_s);
            r->ok = true;
        }
        free(t);
    }
    if (!r->ok) {
        snprintf(r->error, sizeof r->error, "%s", e.msg);
        for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
            r->has[m] = m == SWEEP_M_AREA_MM2;
    }
    r->wall_s = sweep_now_s() - t0;
}

void sweep_run_workload_on(const m4npu_config *cfg, const sweep_workload *wl, const sweep_area *area, sweep_result *r)
{
    rt_error e;
    whatif *w = whatif_open(cfg, &e);
    if (!w) {
        memset(r, 0, sizeof *r);
        snprintf(r->error, sizeof r->error, "%s", e.msg);
        return;
    }
    whatif_set_profile(w, false); /* a sweep's metrics are totals: no per-op profile to hold */
    whatif_set_partition(w, true, PART_LATENCY); /* greedy placement, as every sweep point (sweep_point.c says why) */
    sweep_run_workload(w, wl, area, r);
    whatif_close(w);
}
