/* whatif_csv.c -- the what-if report as CSV: one row per task (or one for a module), each naming
 * the configuration it ran on (name, hash, overrides) and the options it ran with, so that rows
 * from different runs can be put side by side (whatif_report.h, docs/whatif.md). */
#include "whatif_report_internal.h"

#include "run_layers.h"

#define CSV_NUMERIC_COLUMNS 28 /* latency_s .. activations_bytes: empty in a failed task's row */

/* config,config_hash,overrides (the overrides as one field, separated by "; "). */
static void config_columns(FILE *out, const whatif_view *v)
{
    char hash[M4NPU_CONFIG_HASH_HEX], ov[WHATIF_LABEL_BYTES] = "";
    size_t k = 0;
    for (size_t i = 0; i < v->source.n_overrides && k < sizeof ov; i++)
        k += (size_t)snprintf(ov + k, sizeof ov - k, "%s%s", i ? "; " : "", v->source.overrides[i]);
    run_csv_quoted(out, v->cfg->npu.name);
    fprintf(out, ",%s,", m4npu_config_hash_hex(v->cfg, hash));
    run_csv_quoted(out, ov);
}

void whatif_print_csv(FILE *out, const whatif_view *v, const whatif_task_result *tasks, int n)
{
    fprintf(out, "id,name,dataset,path,latency_s,energy_j,first_token_s,per_token_s,gen_tokens,npu_fraction,segments,"
                 "npu_s,cpu_s,transfer_s,submit_s,e_macs_j,e_vector_j,e_sram_j,e_dram_j,e_control_j,e_static_j,"
                 "e_cpu_j,e_transfer_j,dram_floor_per_token_s,paper_cpu_s,paper_cpu_per_token_s,paper_npu_s,"
                 "paper_npu_per_token_s,device_peak_bytes,weights_bytes,kv_cache_bytes,activations_bytes,status,error,"
                 "prompt_tokens,lora_rank,backbone_format,config,config_hash,overrides,"
                 "ts_model,ts_module,ts_latency_s,ts_energy_j\n");
    for (int i = 0; i < n; i++) {
        const whatif_task_result *t = &tasks[i];
        const energy_breakdown *e = &t->energy;
        const m4_paper_latency *p = t->task->paper;
        fprintf(out, "%d,", t->task->id);
        run_csv_quoted(out, t->task->name);
        fputc(',', out);
        run_csv_quoted(out, t->task->dataset);
        fprintf(out, ",%d,", t->task->path);
        int prompt = 0, lora = 0;
        m4_format fmt = M4_FMT_DEFAULT;
        for (int k = 0; k < t->n_steps; k++) {
            if (t->steps[k].step.module == M4_BACKBONE_PREFILL) {
                prompt = t->steps[k].step.params.tokens;
                fmt = t->steps[k].step.params.format;
            }
            if (t->steps[k].step.params.lora_rank)
                lora = t->steps[k].step.params.lora_rank;
        }
        if (t->failed) {
            for (int k = 0; k < CSV_NUMERIC_COLUMNS; k++)
                fputc(',', out);
            fprintf(out, "failed,");
            run_csv_quoted(out, t->error);
        } else {
            fprintf(out, "%.9g,%.9g,", t->latency_s, energy_total(e));
            if (t->generates)
                fprintf(out, "%.9g,", t->first_token_s);
            else
                fputc(',', out);
            if (t->gen_tokens > 1)
                fprintf(out, "%.9g,", t->per_token_s);
            else
                fputc(',', out);
            fprintf(out, "%d,%.6f,%llu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,", t->gen_tokens,
                    whatif_npu_fraction(t), (unsigned long long)t->segments, t->npu_s, t->cpu_s, t->transfer_s,
                    t->submit_s, e->macs_j, e->vector_j, e->sram_j, e->dram_j, e->control_j, e->static_j, e->cpu_j,
                    e->transfer_j);
            if (t->floor_bytes)
                fprintf(out, "%.9g,", t->dram_floor_per_token_s);
            else
                fprintf(out, ",");
            if (p)
                fprintf(out, "%.9g,%.9g,%.9g,%.9g,", p->cpu_s, p->cpu_per_token_s, p->npu_est_s,
                        p->npu_est_per_token_s);
            else
                fprintf(out, ",,,,");
            fprintf(out, "%llu,%llu,%llu,%llu,ok,", (unsigned long long)t->mem.peak_bytes,
                    (unsigned long long)t->mem.weight_bytes, (unsigned long long)t->mem.kv_bytes,
                    (unsigned long long)t->mem.act_bytes);
        }
        fputc(',', out);
        if (prompt)
            fprintf(out, "%d", prompt);
        fprintf(out, ",%d,%s,", lora, fmt != M4_FMT_DEFAULT ? m4_format_name(fmt) : "");
        config_columns(out, v);
        fputc(',', out);
        run_csv_quoted(out, t->ts ? t->ts->paper : "");
        if (t->ts_run && !t->failed)
            fprintf(out, ",%s,%.9g,%.9g\n", m4_module_get(t->ts_run->id)->name, t->ts_run->r->total_s,
                    energy_total(&t->ts_run->r->energy));
        else
            fprintf(out, ",,,\n");
    }
}

void whatif_print_module_csv(FILE *out, const whatif_view *v, const whatif_module_run *m)
{
    const run_result *r = m->r;
    const energy_breakdown *e = &r->energy;
    fprintf(out, "module");
    for (int i = 0; i < m4_module_param_count(); i++)
        if (m4_module_takes_param(m->id, i))
            fprintf(out, ",%s", m4_module_param_name(i));
    fprintf(out, ",lora_rank,format,latency_s,energy_j,npu_s,cpu_s,transfer_s,submit_s,e_macs_j,e_vector_j,e_sram_j,"
                 "e_dram_j,e_control_j,e_static_j,e_cpu_j,e_transfer_j,segments,npu_nodes,cpu_nodes,macs,"
                 "weight_bytes,device_peak_bytes,config,config_hash,overrides\n");
    fprintf(out, "%s", m4_module_get(m->id)->name);
    for (int i = 0; i < m4_module_param_count(); i++)
        if (m4_module_takes_param(m->id, i))
            fprintf(out, ",%d", m4_module_param_value(&m->params, i));
    fprintf(out, ",%d,%s,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%d,%d,%.9g,%llu,%llu,",
            m->params.lora_rank, m4_format_name(m->params.format), r->total_s, energy_total(e), r->npu_s, r->cpu_s,
            r->transfer_s, r->submit_s, e->macs_j, e->vector_j, e->sram_j, e->dram_j, e->control_j, e->static_j,
            e->cpu_j, e->transfer_j, r->plan->n_segments, r->plan->n_npu, r->plan->n_cpu, m->stats.macs,
            (unsigned long long)m->stats.weight_bytes, (unsigned long long)r->mem.peak_bytes);
    config_columns(out, v);
    fputc('\n', out);
}
