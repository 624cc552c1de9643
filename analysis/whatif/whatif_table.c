/* whatif_table.c -- the what-if report on the terminal: every task in one table, one task's steps
 * in detail, one module's figures and cost (whatif_report.h). */
#include "whatif_report_internal.h"

#include <string.h>

/* The configuration, its file and hash, and the options that changed the defaults. */
static void print_header(FILE *out, const whatif_view *v, const char *what)
{
    const npu_device_config *d = &v->cfg->npu;
    char label[WHATIF_LABEL_BYTES], hash[M4NPU_CONFIG_HASH_HEX];
    fprintf(out, "m4npu what-if%s%s on %s: %ux%u array at %.0f MHz, %.1f MiB SRAM, DRAM %.1f GB/s x %.2f; "
                 "energy table v%u\n",
            what ? ", " : "", what ? what : "", whatif_config_label(v, label, sizeof label), d->matmul.rows,
            d->matmul.cols, d->clock_mhz, (double)d->sram.size_bytes / (1 << 20), d->dram.bandwidth_gb_s,
            d->dram.efficiency, v->cfg->energy.version);
    fprintf(out, "configuration: %s (hash %s)\n", v->source.path ? v->source.path : "built-in defaults",
            m4npu_config_hash_hex(v->cfg, hash));
    if (!v->applied || !v->opts)
        return;
    static const char *const names[WHATIF_OPT_COUNT] = {"--prompt-tokens", "--gen-tokens", "--lora-rank", "--int4"};
    int values[WHATIF_OPT_COUNT] = {v->opts->prompt_tokens, v->opts->gen_tokens, v->opts->lora_rank, v->opts->int4};
    for (int k = 0; k < WHATIF_OPT_COUNT; k++) {
        if (!values[k])
            continue;
        char val[24] = "";
        if (k != WHATIF_OPT_INT4)
            snprintf(val, sizeof val, " %d", values[k] == M4_LORA_NONE ? 0 : values[k]);
        fprintf(out, "option %s%s: applied to %d of the %d task%s\n", names[k], val, v->applied[k], v->selected,
                v->selected == 1 ? "" : "s");
    }
}

void whatif_print_table(FILE *out, const whatif_view *v, const whatif_task_result *tasks, int n)
{
    print_header(out, v, NULL);
    fprintf(out, "\n%-4s %-34s %4s %10s %9s %10s %10s %5s %6s %9s %21s %21s %10s  %-19s %10s %9s\n", "id",
            "task (dataset)", "path", "latency", "energy", "1st token", "per token", "NPU%", "segs", "dev mem",
            "paper CPU", "paper NPU*", "DRAM floor", "TS-model", "TS latency", "TS energy");
    double sum_lat = 0.0, sum_j = 0.0;
    whatif_ts_summary ts = whatif_ts_summarise(tasks, n);
    int failed = whatif_count_failed(tasks, n), ran = n - failed;
    for (int i = 0; i < n; i++) {
        const whatif_task_result *t = &tasks[i];
        char name[64], lat[WHATIF_TIME_CELL], ft[WHATIF_TIME_CELL], pt[WHATIF_TIME_CELL], pc[64], pn[64],
            fl[WHATIF_TIME_CELL], mem[WHATIF_MEM_CELL], tsl[WHATIF_TIME_CELL], tse[WHATIF_TIME_CELL];
        snprintf(name, sizeof name, "%s (%s)", t->task->name, t->task->dataset);
        if (t->failed) {
            fprintf(out, "T%-3d %-34.34s %4d failed: %s\n", t->task->id, name, t->task->path, t->error);
            continue;
        }
        const m4_paper_latency *p = t->task->paper;
        if (t->ts_run)
            snprintf(tse, sizeof tse, "%.4fJ", energy_total(&t->ts_run->r->energy));
        fprintf(out, "T%-3d %-34.34s %4d %10s %8.3fJ %10s %10s %4.0f%% %6llu %9s %21s %21s %10s  %-19s %10s %9s\n",
                t->task->id, name, t->task->path, whatif_fmt_s(t->latency_s, lat, sizeof lat), energy_total(&t->energy),
                t->generates ? whatif_fmt_s(t->first_token_s, ft, sizeof ft) : "-",
                t->gen_tokens > 1 ? whatif_fmt_s(t->per_token_s, pt, sizeof pt) : "-",
                100.0 * whatif_npu_fraction(t), (unsigned long long)t->segments,
                whatif_fmt_mem(t->mem.peak_bytes, mem, sizeof mem),
                p ? whatif_paper_cell(p->cpu_s, p->cpu_per_token_s, pc, sizeof pc) : "-",
                p ? whatif_paper_cell(p->npu_est_s, p->npu_est_per_token_s, pn, sizeof pn) : "-",
                t->dram_floor_per_token_s > 0 ? whatif_fmt_s(t->dram_floor_per_token_s, fl, sizeof fl) : "-",
                t->ts_run ? m4_module_get(t->ts_run->id)->name : "-",
                t->ts_run ? whatif_fmt_s(t->ts_run->r->total_s, tsl, sizeof tsl) : "-", t->ts_run ? tse : "-");
        sum_lat += t->latency_s;
        sum_j += energy_total(&t->energy);
    }
    if (ran > 1) {
        /* the paper's averages are over all 50 tasks: compare like with like only */
        if (whatif_all_tasks(v) && !failed)
            fprintf(out, "\nmean over the %d tasks: latency %.3f s, energy %.3f J (the paper's NPU-enabled M4 "
                         "estimate over the same 50 tasks: %.2f s, %.1f J)\n",
                    ran, sum_lat / ran, sum_j / ran, WHATIF_PAPER_MEAN_LATENCY_S, WHATIF_PAPER_MEAN_ENERGY_J);
        else
            fprintf(out, "\nmean over these %d tasks: latency %.3f s, energy %.3f J (a subset of the 50: not "
                         "comparable with the paper's 50-task means, %.2f s and %.1f J)\n",
                    ran, sum_lat / ran, sum_j / ran, WHATIF_PAPER_MEAN_LATENCY_S, WHATIF_PAPER_MEAN_ENERGY_J);
    }
    if (failed)
        fprintf(out, "%s%d of %d tasks failed (their rows say why)%s\n", ran > 1 ? "" : "\n", failed, n,
                ran > 1 ? "; the mean is over the others" : "");
    if (ts.n > 0)
        fprintf(out, "on the %d tasks whose TS-model (paper Table 3) is built in: M4 %.3f s, %.3f J; the TS-models "
                     "%.4f s, %.4f J (M4 %.1fx the latency, %.1fx the energy)\n",
                ts.n, ts.m4_lat / ts.n, ts.m4_j / ts.n, ts.ts_lat / ts.n, ts.ts_j / ts.n,
                ts.ts_lat > 0 ? ts.m4_lat / ts.ts_lat : 0.0, ts.ts_j > 0 ? ts.m4_j / ts.ts_j : 0.0);
    fprintf(out, "dev mem: the device memory of the task's largest module (weights, KV cache, activations). DRAM floor: "
                 "the weight bytes one decode token streams (backbone + output head) / the DRAM's peak bandwidth; no "
                 "per-token time can be below it. Columns: docs/whatif.md\n");
}

void whatif_print_task(FILE *out, const whatif_view *v, const whatif_task_result *t)
{
    char a[48], b[48], c[48], d[48], params[256];
    char what[160];
    snprintf(what, sizeof what, "T%d %s (%s), path %d", t->task->id, t->task->name, t->task->dataset, t->task->path);
    print_header(out, v, what);
    fprintf(out, "  path: %s\n  inputs: %s\n\n", t->task->path_basis, t->task->inputs_basis);
    fprintf(out, "  %-24s %-17s %6s %10s %9s %6s %6s %5s %10s  %s\n", "step", "module", "runs", "latency", "energy",
            "NPU%", "segs", "CPU", "dev mem", "run with");
    for (int i = 0; i < t->n_steps; i++) {
        const whatif_step_result *s = &t->steps[i];
        const run_result *r = s->run->r;
        char mem[WHATIF_MEM_CELL], kv[64] = "";
        if (s->step.module == M4_BACKBONE_DECODE && s->step.repeat > 1)
            snprintf(kv, sizeof kv, " (KV %d..%d: their midpoint)", s->step.kv_first, s->step.kv_last);
        fprintf(out, "  %-24s %-17s %5dx %10s %8.4fJ %5.0f%% %6d %5d %10s  %s%s\n", s->step.role,
                m4_module_get(s->step.module)->name, s->step.repeat, whatif_fmt_s(r->total_s, a, sizeof a),
                energy_total(&r->energy), r->total_s > 0 ? 100.0 * r->npu_s / r->total_s : 0.0, r->plan->n_segments,
                r->plan->n_cpu, whatif_fmt_mem(r->mem.peak_bytes, mem, sizeof mem),
                whatif_params_str(s->run, params, sizeof params), kv);
    }
    if (t->failed) {
        fprintf(out, "\n  failed: %s\n", t->error);
        return;
    }
    fprintf(out, "\n  latency %s", whatif_fmt_s(t->latency_s, a, sizeof a));
    if (t->gen_tokens > 1)
        fprintf(out, " (first token %s, then %s per token, %d tokens)", whatif_fmt_s(t->first_token_s, a, sizeof a),
                whatif_fmt_s(t->per_token_s, b, sizeof b), t->gen_tokens);
    else if (t->generates)
        fprintf(out, " (the first and only token: %s)", whatif_fmt_s(t->first_token_s, a, sizeof a));
    fprintf(out, "\n    NPU %s, CPU %s, transfers %s, submissions %s\n", whatif_fmt_s(t->npu_s, a, sizeof a),
            whatif_fmt_s(t->cpu_s, b, sizeof b), whatif_fmt_s(t->transfer_s, c, sizeof c),
            whatif_fmt_s(t->submit_s, d, sizeof d));
    const energy_breakdown *e = &t->energy;
    fprintf(out, "  energy %.4f J: MACs %.4f, vector %.4f, SRAM %.4f, DRAM %.4f, control %.4f, static %.4f, "
                 "CPU %.4f, transfers %.4f\n",
            energy_total(e), e->macs_j, e->vector_j, e->sram_j, e->dram_j, e->control_j, e->static_j, e->cpu_j,
            e->transfer_j);
    if (t->mem_step >= 0)
        fprintf(out, "  device memory at the peak (%s): %.1f MiB = weights %.1f + KV cache %.1f + activations %.1f + "
                     "descriptors %.1f\n",
                t->steps[t->mem_step].step.role, (double)t->mem.peak_bytes / MIB_BYTES,
                (double)t->mem.weight_bytes / MIB_BYTES, (double)t->mem.kv_bytes / MIB_BYTES,
                (double)t->mem.act_bytes / MIB_BYTES, (double)t->mem.program_bytes / MIB_BYTES);
    if (t->dram_floor_per_token_s > 0)
        fprintf(out, "  DRAM floor %s per token (%.3f GB of weights / %.1f GB/s peak)\n",
                whatif_fmt_s(t->dram_floor_per_token_s, a, sizeof a), (double)t->floor_bytes / GIGA,
                v->cfg->npu.dram.bandwidth_gb_s);
    if (t->ts) {
        fprintf(out, "  TS-model (paper Table 3): %s, %s\n", t->ts->paper, t->ts->source);
        if (t->ts_run) {
            const run_result *r = t->ts_run->r;
            fprintf(out, "    as %s (%s): latency %s (NPU %.0f%%, %d segments), energy %.4f J\n",
                    m4_module_get(t->ts_run->id)->name, whatif_params_str(t->ts_run, params, sizeof params),
                    whatif_fmt_s(r->total_s, a, sizeof a), r->total_s > 0 ? 100.0 * r->npu_s / r->total_s : 0.0,
                    r->plan->n_segments, energy_total(&r->energy));
        }
        fprintf(out, "    %s\n", t->ts->basis);
    }
    if (t->task->paper) {
        const m4_paper_latency *p = t->task->paper;
        char pc[48], pn[48];
        fprintf(out, "  paper (Table 5, %s): CPU %s, NPU* %s\n", p->measured,
                whatif_paper_cell(p->cpu_s, p->cpu_per_token_s, pc, sizeof pc),
                whatif_paper_cell(p->npu_est_s, p->npu_est_per_token_s, pn, sizeof pn));
    }
}

/* The published figures of the module, against the computed ones (text). */
static void module_references(FILE *out, const whatif_module_run *m)
{
    for (int i = 0; i < m4_reference_count(); i++) {
        const m4_reference *ref = m4_reference_get(i);
        double value = 0.0;
        rt_error e;
        if (ref->module != m->id || m4_reference_compute(ref, &value, &e) != RT_OK)
            continue;
        /* both in the reference's units (1e9, or 2^30 where the paper's figure is binary) */
        double pub = ref->published, diff = pub != 0.0 ? (value - pub) / pub : 0.0;
        const char *unit = ref->unit == 1e9 ? "G" : ref->unit == 1073741824.0 ? "Gi" : ref->unit == 1e6 ? "M" : "";
        fprintf(out, "  %-36s computed %9.4f %s, published %9.4f %s (%s): %+.2f%% (tolerance %.0f%%)\n", ref->label,
                value, unit, pub, unit, ref->source, 100.0 * diff, 100.0 * ref->tolerance);
    }
}

void whatif_print_module(FILE *out, const whatif_view *v, const whatif_module_run *m)
{
    const m4_module_info *mi = m4_module_get(m->id);
    const m4_module_stats *s = &m->stats;
    const run_result *r = m->r;
    char a[32], params[256], what[64];
    snprintf(what, sizeof what, "module %s", mi->name);
    print_header(out, v, what);
    fprintf(out, "%s: %s\n  run with: %s; source: %s\n", mi->name, mi->architecture,
            whatif_params_str(m, params, sizeof params), mi->source);
    fprintf(out, "  parameters %.6g (LoRA %.6g), MACs %.6g, FLOPs %.6g, weight bytes %.6g (read per run %.6g), "
                 "%d nodes\n",
            s->params, s->lora_params, s->macs, s->flops, (double)s->weight_bytes, (double)s->weight_bytes_streamed,
            s->nodes);
    module_references(out, m);
    fprintf(out, "  latency %s (NPU %.1f%%), %d segments, %d NPU / %d CPU nodes, energy %.4f J\n",
            whatif_fmt_s(r->total_s, a, sizeof a), r->total_s > 0 ? 100.0 * r->npu_s / r->total_s : 0.0,
            r->plan->n_segments, r->plan->n_npu, r->plan->n_cpu, energy_total(&r->energy));
    uint64_t seg_act = 0;
    int largest = -1;
    for (int i = 0; i < r->plan->n_segments; i++)
        if (largest < 0 || r->segs[i].mem.act_bytes > seg_act) {
            seg_act = r->segs[i].mem.act_bytes;
            largest = i;
        }
    fprintf(out, "  device memory %.1f MiB at the peak: weights %.1f, KV cache %.1f, activations %.1f (one arena for "
                 "its %d segments, as large as segment %d needs), descriptors %.1f\n",
            (double)r->mem.peak_bytes / MIB_BYTES, (double)r->mem.weight_bytes / MIB_BYTES,
            (double)r->mem.kv_bytes / MIB_BYTES, (double)r->mem.act_bytes / MIB_BYTES, r->plan->n_segments, largest,
            (double)r->mem.program_bytes / MIB_BYTES);
}
