/* whatif_report.h -- the what-if report's forms, one file each: the terminal tables
 * (whatif_table.c), JSON (whatif_json.c), CSV (whatif_csv.c), the per-layer report of a module or
 * a task (whatif_layers.c), timelines (whatif_timeline.c) and plots (whatif_plot.c: the breakdowns
 * and the roofline). docs/whatif.md explains every column and docs/layers.md the per-layer one.
 *
 * Every form says what it used: the configuration (its name, file, hash and the overrides applied
 * to it), and the tokens, KV lengths, LoRA rank and weight format of every module run. */
#ifndef M4NPU_WHATIF_REPORT_H
#define M4NPU_WHATIF_REPORT_H

#include <stdio.h>

#include <jansson.h>

#include "whatif.h"

/* What every form of the report states about where its numbers come from. */
typedef struct whatif_view {
    const m4npu_config *cfg;
    m4npu_config_source source;  /* the configuration file and the overrides applied to it */
    const whatif_options *opts;  /* the options as given (zero: defaults) */
    const int *applied;          /* tasks: how many of the selection each option applied to
                                    (WHATIF_OPT_*), or NULL */
    int selected;                /* tasks selected; fewer than M4_TASK_COUNT is a subset */
    const char *selection;       /* "all 50 tasks", "path 2", "T2", "module IMG_enc" */
} whatif_view;

/* ---- the terminal (whatif_table.c) */
void whatif_print_table(FILE *out, const whatif_view *v, const whatif_task_result *tasks, int n);
void whatif_print_task(FILE *out, const whatif_view *v, const whatif_task_result *t);
/* One module: what it was run with, its parameters and FLOPs against the published figures, and
 * its simulated cost. */
void whatif_print_module(FILE *out, const whatif_view *v, const whatif_module_run *m);

/* ---- JSON (whatif_json.c) */
json_t *whatif_tasks_json(const whatif_view *v, const whatif_task_result *tasks, int n, const whatif_stats *st);
json_t *whatif_module_json(const whatif_view *v, const whatif_module_run *m);
/* {"name", "file", "hash", "overrides"} of the view's configuration, and a module run's
 * parameters ({"tokens": 48, ..., "lora_rank", "lora_targets", "format"}: those it takes). */
json_t *whatif_config_json(const whatif_view *v);
json_t *whatif_params_json(const whatif_module_run *m);

/* ---- CSV (whatif_csv.c): one row per task, or one for the module; every row names the
 * configuration (name, hash, overrides) and the options it ran with. */
void whatif_print_csv(FILE *out, const whatif_view *v, const whatif_task_result *tasks, int n);
void whatif_print_module_csv(FILE *out, const whatif_view *v, const whatif_module_run *m);

/* ---- per layer (whatif_layers.c): the rows of run_layers for a module, or for every step of a
 * task (each row counted as many times as its step runs); their seconds, cycles and energy add up
 * to the module's or the task's totals. */
typedef enum whatif_form { WHATIF_FORM_TABLE = 0, WHATIF_FORM_JSON, WHATIF_FORM_CSV } whatif_form;
rt_status whatif_print_module_layers(FILE *out, whatif_form form, const whatif_view *v, whatif *w,
                                     const whatif_module_run *m, rt_error *e);
rt_status whatif_print_task_layers(FILE *out, whatif_form form, const whatif_view *v, whatif *w,
                                   const whatif_task_result *t, rt_error *e);
/* The layers of a module as a JSON array (run_layer_json rows with the module's name), and the
 * roofline data of a set of module runs: {"compute_gops", "bandwidth_gb_s", "peak_bandwidth_gb_s",
 * "ridge_ops_per_byte", "modules": [{"module", "points": [{"name", "kernel", "intensity",
 * "gops", "fraction_of_roof"}]}]}: every npu-op row with MACs and DRAM traffic. */
json_t *whatif_layers_json(const whatif_view *v, whatif *w, const whatif_module_run *m, rt_error *e);
json_t *whatif_roofline_json(const whatif_view *v, whatif *w, const whatif_module_run *const *runs, int n,
                             rt_error *e);

/* ---- timelines (whatif_timeline.c): Chrome/Perfetto trace-event JSON onto out (the caller's
 * output set makes the file appear whole or not at all). A task's covers the whole inference:
 * every run of every step, one after the other, so that it spans the task's latency; a module's
 * one run. Processes and threads are named (metadata events). */
rt_status whatif_write_task_timeline(const whatif_view *v, const whatif_task_result *t, FILE *out, rt_error *e);
rt_status whatif_write_module_timeline(const whatif_view *v, const whatif_module_run *m, FILE *out, rt_error *e);

/* ---- plots (whatif_plot.c), PNGs drawn by gnuplot into png_path (the temporary of the caller's
 * output set). The breakdowns: per-task latency and energy and their shares. The roofline: every
 * layer of the module runs, arithmetic intensity against achieved throughput, under the
 * configuration's compute and bandwidth roofs. */
rt_status whatif_write_plot(const whatif_view *v, const whatif_task_result *tasks, int n, const char *png_path,
                            rt_error *e);
/* The breakdowns' gnuplot script for n_tasks plotted tasks (data: their file), onto f: what
 * whatif_write_plot runs, apart for tests. */
void whatif_plot_script(FILE *f, const whatif_view *v, int n_tasks, const char *data, const char *png_path);
rt_status whatif_write_roofline(const whatif_view *v, whatif *w, const whatif_module_run *const *runs, int n,
                                const char *png_path, rt_error *e);

#endif
