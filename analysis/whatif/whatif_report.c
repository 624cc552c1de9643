/* whatif_report.c -- the what-if report's forms (see whatif_report.h, docs/whatif.md). */
#include "whatif_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GNUPLOT_NOT_FOUND_STATUS 127 /* the shell's exit status for a command it cannot find */
#define US_PER_S 1e6
#define GIGA 1e9
#define MIB_BYTES (1024.0 * 1024.0)
#define GIB_BYTES (1024.0 * 1024.0 * 1024.0)

/* ------------------------------------------------------------------ the table */

#define TIME_CELL 16 /* "123.4 ms", "1.23 s" */
static const char *fmt_s(double s, char *buf, size_t n)
{
    if (s <= 0.0)
        snprintf(buf, n, "-");
    else if (s < 1e-3)
        snprintf(buf, n, "%.3g ms", s * 1e3);
    else if (s < 1.0)
        snprintf(buf, n, "%.1f ms", s * 1e3);
    else
        snprintf(buf, n, "%.2f s", s);
    return buf;
}

/* "6.34 s + 0.24 s/tok" from the paper's Table 5 row. */
static const char *paper_cell(double once, double per_token, char *buf, size_t n)
{
    char a[16], b[16];
    if (once <= 0.0)
        snprintf(buf, n, "-");
    else if (per_token > 0.0)
        snprintf(buf, n, "%s + %s/tok", fmt_s(once, a, sizeof a), fmt_s(per_token, b, sizeof b));
    else
        snprintf(buf, n, "%s", fmt_s(once, a, sizeof a));
    return buf;
}

static double npu_fraction(const whatif_task_result *t) { return t->latency_s > 0 ? t->npu_s / t->latency_s : 0.0; }

/* M4 against the TS-models, over the tasks whose TS-model is built in. */
typedef struct ts_summary {
    int n;
    double m4_lat, m4_j, ts_lat, ts_j;
} ts_summary;

static ts_summary ts_summarise(const whatif_task_result *tasks, int n)
{
    ts_summary s = {0};
    for (int i = 0; i < n; i++) {
        const whatif_task_result *t = &tasks[i];
        if (!t->ts_run || t->failed)
            continue;
        s.n++;
        s.m4_lat += t->latency_s;
        s.m4_j += energy_total(&t->energy);
        s.ts_lat += t->ts_run->r->total_s;
        s.ts_j += energy_total(&t->ts_run->r->energy);
    }
    return s;
}

static const char *ts_energy_cell(const whatif_task_result *t, char *buf, size_t n)
{
    if (!t->ts_run)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.4fJ", energy_total(&t->ts_run->r->energy));
    return buf;
}

#define MEM_CELL 16 /* "7.42 GiB", "310.0 MiB" */
static const char *fmt_mem(uint64_t bytes, char *buf, size_t n)
{
    if (bytes == 0)
        snprintf(buf, n, "-");
    else if ((double)bytes >= GIB_BYTES)
        snprintf(buf, n, "%.2f GiB", (double)bytes / GIB_BYTES);
    else
        snprintf(buf, n, "%.1f MiB", (double)bytes / MIB_BYTES);
    return buf;
}

static int count_failed(const whatif_task_result *tasks, int n)
{
    int f = 0;
    for (int i = 0; i < n; i++)
        f += tasks[i].failed;
    return f;
}

void whatif_print_table(FILE *out, const m4npu_config *cfg, const whatif_task_result *tasks, int n)
{
    const npu_device_config *d = &cfg->npu;
    fprintf(out, "m4npu what-if on %s: %ux%u array at %.0f MHz, %.1f MiB SRAM, DRAM %.1f GB/s x %.2f; "
                 "energy table v%u\n\n",
            d->name, d->matmul.rows, d->matmul.cols, d->clock_mhz, (double)d->sram.size_bytes / (1 << 20),
            d->dram.bandwidth_gb_s, d->dram.efficiency, cfg->energy.version);
    fprintf(out, "%-4s %-34s %4s %10s %9s %10s %10s %5s %6s %9s %21s %21s %10s  %-19s %10s %9s\n", "id",
            "task (dataset)", "path", "latency", "energy", "1st token", "per token", "NPU%", "segs", "dev mem",
            "paper CPU", "paper NPU*", "DRAM floor", "TS-model", "TS latency", "TS energy");
    double sum_lat = 0.0, sum_j = 0.0;
    ts_summary ts = ts_summarise(tasks, n);
    int failed = count_failed(tasks, n), ran = n - failed;
    for (int i = 0; i < n; i++) {
        const whatif_task_result *t = &tasks[i];
        char name[64], lat[TIME_CELL], ft[TIME_CELL], pt[TIME_CELL], pc[64], pn[64], fl[TIME_CELL], mem[MEM_CELL];
        snprintf(name, sizeof name, "%s (%s)", t->task->name, t->task->dataset);
        if (t->failed) {
            fprintf(out, "T%-3d %-34.34s %4d failed: %s\n", t->task->id, name, t->task->path, t->error);
            continue;
        }
        const m4_paper_latency *p = t->task->paper;
        char tsl[TIME_CELL], tse[TIME_CELL];
        fprintf(out, "T%-3d %-34.34s %4d %10s %8.3fJ %10s %10s %4.0f%% %6llu %9s %21s %21s %10s  %-19s %10s %9s\n",
                t->task->id, name,
                t->task->path, fmt_s(t->latency_s, lat, sizeof lat), energy_total(&t->energy),
                t->generates ? fmt_s(t->first_token_s, ft, sizeof ft) : "-",
                t->generates ? fmt_s(t->per_token_s, pt, sizeof pt) : "-", 100.0 * npu_fraction(t),
                (unsigned long long)t->segments, fmt_mem(t->mem.peak_bytes, mem, sizeof mem),
                p ? paper_cell(p->cpu_s, p->cpu_per_token_s, pc, sizeof pc) : "-",
                p ? paper_cell(p->npu_est_s, p->npu_est_per_token_s, pn, sizeof pn) : "-",
                t->dram_floor_per_token_s > 0 ? fmt_s(t->dram_floor_per_token_s, fl, sizeof fl) : "-",
                t->ts_run ? m4_module_get(t->ts_run->id)->name : "-",
                t->ts_run ? fmt_s(t->ts_run->r->total_s, tsl, sizeof tsl) : "-", ts_energy_cell(t, tse, sizeof tse));
        sum_lat += t->latency_s;
        sum_j += energy_total(&t->energy);
    }
    if (ran > 1)
        fprintf(out, "\nmean over %d tasks: latency %.3f s, energy %.3f J (the paper's NPU-enabled M4 estimate: 0.48 s, "
                     "1.3 J)\n",
                ran, sum_lat / ran, sum_j / ran);
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

void whatif_print_task(FILE *out, const m4npu_config *cfg, const whatif_task_result *t)
{
    char a[48], b[48];
    fprintf(out, "T%d %s (%s), path %d, on %s\n", t->task->id, t->task->name, t->task->dataset, t->task->path,
            cfg->npu.name);
    fprintf(out, "  path: %s\n  inputs: %s\n\n", t->task->path_basis, t->task->inputs_basis);
    fprintf(out, "  %-24s %-17s %6s %10s %9s %6s %6s %5s %10s\n", "step", "module", "runs", "latency", "energy", "NPU%",
            "segs", "CPU", "dev mem");
    for (int i = 0; i < t->n_steps; i++) {
        const whatif_step_result *s = &t->steps[i];
        const run_result *r = s->run->r;
        char mem[MEM_CELL];
        fprintf(out, "  %-24s %-17s %5dx %10s %8.4fJ %5.0f%% %6d %5d %10s\n", s->step.role,
                m4_module_get(s->step.module)->name, s->step.repeat, fmt_s(r->total_s, a, sizeof a),
                energy_total(&r->energy), r->total_s > 0 ? 100.0 * r->npu_s / r->total_s : 0.0, r->plan->n_segments,
                r->plan->n_cpu, fmt_mem(r->mem.peak_bytes, mem, sizeof mem));
    }
    if (t->failed) {
        fprintf(out, "\n  failed: %s\n", t->error);
        return;
    }
    fprintf(out, "\n  latency %s", fmt_s(t->latency_s, a, sizeof a));
    if (t->generates)
        fprintf(out, " (first token %s, then %s per token, %d tokens)", fmt_s(t->first_token_s, a, sizeof a),
                fmt_s(t->per_token_s, b, sizeof b), t->gen_tokens);
    fprintf(out, "\n    NPU %s, CPU %s, transfers %s, submissions %s\n", fmt_s(t->npu_s, a, sizeof a),
            fmt_s(t->cpu_s, b, sizeof b), fmt_s(t->transfer_s, (char[32]){0}, 32), fmt_s(t->submit_s, (char[32]){0}, 32));
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
                fmt_s(t->dram_floor_per_token_s, a, sizeof a), (double)t->floor_bytes / GIGA,
                cfg->npu.dram.bandwidth_gb_s);
    if (t->ts) {
        fprintf(out, "  TS-model (paper Table 3): %s, %s\n", t->ts->paper, t->ts->source);
        if (t->ts_run) {
            const run_result *r = t->ts_run->r;
            fprintf(out, "    as %s: latency %s (NPU %.0f%%, %d segments), energy %.4f J\n",
                    m4_module_get(t->ts_run->id)->name, fmt_s(r->total_s, a, sizeof a),
                    r->total_s > 0 ? 100.0 * r->npu_s / r->total_s : 0.0, r->plan->n_segments,
                    energy_total(&r->energy));
        }
        fprintf(out, "    %s\n", t->ts->basis);
    }
    if (t->task->paper) {
        const m4_paper_latency *p = t->task->paper;
        char pc[48], pn[48];
        fprintf(out, "  paper (Table 5, %s): CPU %s, NPU* %s\n", p->measured,
                paper_cell(p->cpu_s, p->cpu_per_token_s, pc, sizeof pc),
                paper_cell(p->npu_est_s, p->npu_est_per_token_s, pn, sizeof pn));
    }
}

/* ------------------------------------------------------------------ JSON and CSV */

static json_t *num_or_null(double v, bool present) { return present ? json_real(v) : json_null(); }

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
    json_object_set_new(j, "format", json_string(m4_format_name(s->step.params.format)));
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
    json_object_set_new(j, "basis", json_string(t->ts->basis));
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
    json_object_set_new(j, "per_token_s", num_or_null(t->per_token_s, ok && t->generates));
    json_object_set_new(j, "gen_tokens", json_integer(t->gen_tokens));
    json_object_set_new(j, "npu_fraction", num_or_null(npu_fraction(t), ok));
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

json_t *whatif_tasks_json(const m4npu_config *cfg, const whatif_task_result *tasks, int n, const whatif_stats *st)
{
    json_t *root = json_object(), *arr = json_array(), *sum = json_object();
    json_object_set_new(root, "config", m4npu_config_to_json(cfg));
    json_object_set_new(root, "energy_table_version", json_integer(cfg->energy.version));
    double lat = 0.0, j = 0.0;
    int failed = count_failed(tasks, n), ran = n - failed;
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, task_json(&tasks[i]));
        if (tasks[i].failed)
            continue;
        lat += tasks[i].latency_s;
        j += energy_total(&tasks[i].energy);
    }
    json_object_set_new(root, "tasks", arr);
    json_object_set_new(sum, "tasks", json_integer(n));
    json_object_set_new(sum, "completed", json_integer(ran));
    json_object_set_new(sum, "failed", json_integer(failed));
    /* over the tasks that completed */
    json_object_set_new(sum, "mean_latency_s", num_or_null(ran ? lat / ran : 0.0, ran > 0));
    json_object_set_new(sum, "mean_energy_j", num_or_null(ran ? j / ran : 0.0, ran > 0));
    json_object_set_new(sum, "paper_mean_latency_s", json_real(0.48));
    json_object_set_new(sum, "paper_mean_energy_j", json_real(1.3));
    ts_summary ts = ts_summarise(tasks, n);
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
        json_object_set_new(s, "host_s", json_real(st->host_s));
        json_object_set_new(root, "simulation", s);
    }
    return root;
}

/* A CSV field in double quotes (inner quotes doubled), as RFC 4180 has it. */
static void csv_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

#define CSV_NUMERIC_COLUMNS 28 /* latency_s .. activations_bytes: empty in a failed task's row */

void whatif_print_csv(FILE *out, const whatif_task_result *tasks, int n)
{
    fprintf(out, "id,name,dataset,path,latency_s,energy_j,first_token_s,per_token_s,gen_tokens,npu_fraction,segments,"
                 "npu_s,cpu_s,transfer_s,submit_s,e_macs_j,e_vector_j,e_sram_j,e_dram_j,e_control_j,e_static_j,"
                 "e_cpu_j,e_transfer_j,dram_floor_per_token_s,paper_cpu_s,paper_cpu_per_token_s,paper_npu_s,"
                 "paper_npu_per_token_s,device_peak_bytes,weights_bytes,kv_cache_bytes,activations_bytes,status,error,"
                 "ts_model,ts_module,ts_latency_s,ts_energy_j\n");
    for (int i = 0; i < n; i++) {
        const whatif_task_result *t = &tasks[i];
        const energy_breakdown *e = &t->energy;
        const m4_paper_latency *p = t->task->paper;
        fprintf(out, "%d,", t->task->id);
        csv_quoted(out, t->task->name);
        fputc(',', out);
        csv_quoted(out, t->task->dataset);
        fprintf(out, ",%d,", t->task->path);
        if (t->failed) {
            for (int k = 0; k < CSV_NUMERIC_COLUMNS; k++)
                fputc(',', out);
            fprintf(out, "failed,");
            csv_quoted(out, t->error);
            fprintf(out, ",\"%s\",,,\n", t->ts ? t->ts->paper : "");
            continue;
        }
        fprintf(out, "%.9g,%.9g,", t->latency_s, energy_total(e));
        if (t->generates)
            fprintf(out, "%.9g,%.9g,", t->first_token_s, t->per_token_s);
        else
            fprintf(out, ",,");
        fprintf(out, "%d,%.6f,%llu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,", t->gen_tokens,
                npu_fraction(t), (unsigned long long)t->segments, t->npu_s, t->cpu_s, t->transfer_s, t->submit_s,
                e->macs_j, e->vector_j, e->sram_j, e->dram_j, e->control_j, e->static_j, e->cpu_j, e->transfer_j);
        if (t->floor_bytes)
            fprintf(out, "%.9g,", t->dram_floor_per_token_s);
        else
            fprintf(out, ",");
        if (p)
            fprintf(out, "%.9g,%.9g,%.9g,%.9g,", p->cpu_s, p->cpu_per_token_s, p->npu_est_s, p->npu_est_per_token_s);
        else
            fprintf(out, ",,,,");
        fprintf(out, "%llu,%llu,%llu,%llu,ok,,", (unsigned long long)t->mem.peak_bytes,
                (unsigned long long)t->mem.weight_bytes, (unsigned long long)t->mem.kv_bytes,
                (unsigned long long)t->mem.act_bytes);
        fprintf(out, "\"%s\",", t->ts ? t->ts->paper : "");
        if (t->ts_run)
            fprintf(out, "%s,%.9g,%.9g\n", m4_module_get(t->ts_run->id)->name, t->ts_run->r->total_s,
                    energy_total(&t->ts_run->r->energy));
        else
            fprintf(out, ",,\n");
    }
}

/* ------------------------------------------------------------------ one module */

/* DRAM bytes a segment's job moved (every DMA channel, read and written). */
static uint64_t segment_dram_bytes(const npu_segment_stats *st)
{
    uint64_t b = 0;
    for (int u = NPU_UNIT_DMA0; u <= NPU_UNIT_DMA3; u++)
        b += st->counters.v[u][NPU_CTR_DRAM_RD] + st->counters.v[u][NPU_CTR_DRAM_WR];
    return b;
}

static void module_references(const whatif_module_run *m, json_t *arr, FILE *out)
{
    for (int i = 0; i < m4_reference_count(); i++) {
        const m4_reference *ref = m4_reference_get(i);
        if (ref->module != m->id)
            continue;
        double value = 0.0;
        rt_error e;
        if (m4_reference_compute(ref, &value, &e) != RT_OK)
            continue;
        /* both in the reference's units (1e9, or 2^30 where the paper's figure is binary) */
        double pub = ref->published, diff = pub != 0.0 ? (value - pub) / pub : 0.0;
        const char *unit = ref->unit == 1e9 ? "G" : ref->unit == 1073741824.0 ? "Gi" : ref->unit == 1e6 ? "M" : "";
        if (out)
            fprintf(out, "  %-36s computed %9.4f %s, published %9.4f %s (%s): %+.2f%% (tolerance %.0f%%)\n",
                    ref->label, value, unit, pub, unit, ref->source, 100.0 * diff, 100.0 * ref->tolerance);
        if (arr) {
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
    }
}

void whatif_print_module(FILE *out, const m4npu_config *cfg, const whatif_module_run *m)
{
    const m4_module_info *mi = m4_module_get(m->id);
    const m4_module_stats *s = &m->stats;
    const run_result *r = m->r;
    char a[32];
    fprintf(out, "%s: %s\n  format %s; source: %s\n", mi->name, mi->architecture, m4_format_name(m->params.format),
            mi->source);
    fprintf(out, "  parameters %.6g (LoRA %.6g), MACs %.6g, FLOPs %.6g, weight bytes %.6g (read per run %.6g), "
                 "%d nodes\n",
            s->params, s->lora_params, s->macs, s->flops, (double)s->weight_bytes, (double)s->weight_bytes_streamed,
            s->nodes);
    module_references(m, NULL, out);
    fprintf(out, "  on %s: latency %s (NPU %.1f%%), %d segments, %d NPU / %d CPU nodes, energy %.4f J\n",
            cfg->npu.name, fmt_s(r->total_s, a, sizeof a), r->total_s > 0 ? 100.0 * r->npu_s / r->total_s : 0.0,
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

json_t *whatif_module_json(const m4npu_config *cfg, const whatif_module_run *m)
{
    const m4_module_stats *s = &m->stats;
    const run_result *r = m->r;
    json_t *j = json_object(), *refs = json_array(), *lat = json_object();
    json_object_set_new(j, "config", json_string(cfg->npu.name));
    json_object_set_new(j, "module", json_string(m4_module_get(m->id)->name));
    json_object_set_new(j, "format", json_string(m4_format_name(m->params.format)));
    json_object_set_new(j, "params", json_real(s->params));
    json_object_set_new(j, "lora_params", json_real(s->lora_params));
    json_object_set_new(j, "macs", json_real(s->macs));
    json_object_set_new(j, "flops", json_real(s->flops));
    json_object_set_new(j, "weight_bytes", json_integer((json_int_t)s->weight_bytes));
    json_object_set_new(j, "weight_bytes_streamed", json_integer((json_int_t)s->weight_bytes_streamed));
    json_object_set_new(j, "nodes", json_integer(s->nodes));
    module_references(m, refs, NULL);
    json_object_set_new(j, "published", refs);
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
    for (int i = 0; i < r->plan->n_segments; i++) {
        json_t *sj = run_mem_json(&r->segs[i].mem);
        json_object_set_new(sj, "cycles", json_integer((json_int_t)r->segs[i].stats.cycles));
        json_object_set_new(sj, "dram_bytes", json_integer((json_int_t)segment_dram_bytes(&r->segs[i].stats)));
        json_array_append_new(segs, sj);
    }
    json_object_set_new(j, "segment_list", segs);
    return j;
}

/* ------------------------------------------------------------------ files */

rt_status whatif_write_timeline(const m4npu_config *cfg, const whatif_task_result *t, FILE *out, rt_error *e)
{
    json_t *root = json_object(), *all = json_array();
    double offset_us = 0.0;
    for (int i = 0; i < t->n_steps; i++) {
        const whatif_module_run *m = t->steps[i].run;
        json_t *tl = run_timeline_json(m->g, cfg, m->r);
        json_t *evs = tl ? json_object_get(tl, "traceEvents") : NULL;
        if (!evs) {
            json_decref(tl);
            json_decref(root);
            json_decref(all);
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (timeline)");
        }
        size_t k;
        json_t *ev;
        json_array_foreach(evs, k, ev)
        {
            const char *ph = json_string_value(json_object_get(ev, "ph"));
            if (ph && strcmp(ph, "M") == 0 && i > 0)
                continue; /* track names once */
            json_t *ts = json_object_get(ev, "ts");
            if (ts)
                json_object_set_new(ev, "ts", json_real(json_number_value(ts) + offset_us));
            json_array_append(all, ev);
        }
        json_t *step = json_object(), *args = json_object();
        json_object_set_new(step, "name", json_string(t->steps[i].step.role));
        json_object_set_new(step, "cat", json_string("step"));
        json_object_set_new(step, "ph", json_string("X"));
        json_object_set_new(step, "pid", json_integer(0));
        json_object_set_new(step, "tid", json_integer(0));
        json_object_set_new(step, "ts", json_real(offset_us));
        json_object_set_new(step, "dur", json_real(m->r->total_s * US_PER_S));
        json_object_set_new(args, "module", json_string(m4_module_get(m->id)->name));
        json_object_set_new(args, "runs_per_inference", json_integer(t->steps[i].step.repeat));
        json_object_set_new(step, "args", args);
        json_array_append_new(all, step);
        offset_us += m->r->total_s * US_PER_S;
        json_decref(tl);
    }
    json_object_set_new(root, "traceEvents", all);
    json_object_set_new(root, "displayTimeUnit", json_string("ms"));
    int bad = json_dumpf(root, out, JSON_COMPACT);
    json_decref(root);
    if (bad)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (timeline)");
    return RT_OK;
}

rt_status whatif_write_plot(const m4npu_config *cfg, const whatif_task_result *tasks, int n, const char *png,
                            rt_error *e)
{
    if (strchr(png, '\'') || strchr(png, '\n'))
        return rt_error_set(e, RT_ERR_ARG, "%s: a quote or a newline in the path cannot be passed to gnuplot", png);
    char dir[] = "/tmp/m4npu-plot-XXXXXX";
    if (!mkdtemp(dir))
        return rt_error_set(e, RT_ERR_IO, "cannot create a temporary directory: %s", strerror(errno));
    char data[256], script[256];
    snprintf(data, sizeof data, "%s/tasks.dat", dir);
    snprintf(script, sizeof script, "%s/plot.gp", dir);
    FILE *f = fopen(data, "w");
    if (!f) {
        rmdir(dir);
        return rt_error_set(e, RT_ERR_IO, "%s: cannot create: %s", data, strerror(errno));
    }
    fprintf(f, "# task npu cpu transfer submit macs vector sram dram control static cpu transfer\n");
    for (int i = 0; i < n; i++) {
        const whatif_task_result *t = &tasks[i];
        const energy_breakdown *en = &t->energy;
        if (t->failed)
            continue; /* no numbers to plot; the table and JSON say why */
        fprintf(f, "T%d %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", t->task->id, t->npu_s, t->cpu_s,
                t->transfer_s, t->submit_s, en->macs_j, en->vector_j, en->sram_j, en->dram_j, en->control_j,
                en->static_j, en->cpu_j, en->transfer_j);
    }
    fclose(f);
    f = fopen(script, "w");
    if (!f) {
        remove(data);
        rmdir(dir);
        return rt_error_set(e, RT_ERR_IO, "%s: cannot create: %s", script, strerror(errno));
    }
    /* Four panels: each task's total latency and energy on log scales (they span 10 ms to 100 s),
     * and what each is made of as stacked shares (gnuplot stacks only on a linear scale). */
    fprintf(f,
            "set terminal pngcairo size 1800,1200 noenhanced font ',9'\n"
            "set output '%s'\n"
            "set multiplot layout 4,1 title 'M4 on %s: per-task latency and energy and their breakdowns (m4npu whatif)'\n"
            "set style fill solid 0.85 border -1\nset boxwidth 0.8\nset xtics rotate by -60 scale 0\n"
            "set grid ytics\nset key outside right top\n"
            "LAT = '($2+$3+$4+$5)'\nEN = '($6+$7+$8+$9+$10+$11+$12+$13)'\n"
            "set logscale y\nset ylabel 'latency (s)'\n"
            "plot '%s' using 0:(@LAT):xtic(1) with boxes title 'latency'\n"
            "set ylabel 'energy (J)'\n"
            "plot '%s' using 0:(@EN):xtic(1) with boxes title 'energy'\n"
            "unset logscale y\nset yrange [0:100]\n"
            "set style data histograms\nset style histogram rowstacked\n"
            "set ylabel 'latency share (%%)'\n"
            "plot '%s' using (100*$2/@LAT):xtic(1) title 'NPU', '' using (100*$3/@LAT) title 'CPU', "
            "'' using (100*$4/@LAT) title 'transfers', '' using (100*$5/@LAT) title 'submissions'\n"
            "set ylabel 'energy share (%%)'\n"
            "plot '%s' using (100*$6/@EN):xtic(1) title 'MACs', '' using (100*$7/@EN) title 'vector', "
            "'' using (100*$8/@EN) title 'SRAM', '' using (100*$9/@EN) title 'DRAM', '' using (100*$10/@EN) title 'control', "
            "'' using (100*$11/@EN) title 'static', '' using (100*$12/@EN) title 'CPU', '' using (100*$13/@EN) title 'transfers'\n"
            "unset multiplot\n",
            png, cfg->npu.name, data, data, data, data);
    fclose(f);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    FILE *p = popen(cmd, "r");
    char msg[512] = "";
    size_t got = p ? fread(msg, 1, sizeof msg - 1, p) : 0;
    msg[got] = '\0';
    int rc = p ? pclose(p) : -1;
    remove(data);
    remove(script);
    rmdir(dir);
    if (rc == -1 || (WIFEXITED(rc) && WEXITSTATUS(rc) == GNUPLOT_NOT_FOUND_STATUS))
        return rt_error_set(e, RT_ERR_IO, "cannot run gnuplot (is it installed? scripts/setup.sh installs it)%s%s",
                            msg[0] ? ": " : "", msg);
    if (rc != 0)
        return rt_error_set(e, RT_ERR_IO, "gnuplot failed: %s", msg[0] ? msg : "no output");
    return RT_OK;
}
