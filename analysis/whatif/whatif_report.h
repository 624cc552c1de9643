/* whatif_report.h -- the what-if report's forms: the terminal table, JSON, CSV, one module's
 * report, a task's timeline and the breakdown plot. docs/whatif.md explains every column. */
#ifndef M4NPU_WHATIF_REPORT_H
#define M4NPU_WHATIF_REPORT_H

#include <stdio.h>

#include <jansson.h>

#include "whatif.h"

void whatif_print_table(FILE *out, const m4npu_config *cfg, const whatif_task_result *tasks, int n);
void whatif_print_task(FILE *out, const m4npu_config *cfg, const whatif_task_result *t);
json_t *whatif_tasks_json(const m4npu_config *cfg, const whatif_task_result *tasks, int n, const whatif_stats *st);
void whatif_print_csv(FILE *out, const whatif_task_result *tasks, int n);

/* One module: its parameters and FLOPs against the published figures, and its simulated cost. */
void whatif_print_module(FILE *out, const m4npu_config *cfg, const whatif_module_run *m);
json_t *whatif_module_json(const m4npu_config *cfg, const whatif_module_run *m);

/* A task's timeline: one pass (every step once, per-token steps once each) as Chrome/Perfetto
 * trace-event JSON, onto out (the caller's output set makes the file appear whole or not at all;
 * a failed write shows when it commits). */
rt_status whatif_write_timeline(const m4npu_config *cfg, const whatif_task_result *t, FILE *out, rt_error *e);

/* The per-task latency and energy breakdowns as a PNG drawn by gnuplot into png_path (the
 * temporary of the caller's output set). */
rt_status whatif_write_plot(const m4npu_config *cfg, const whatif_task_result *tasks, int n, const char *png_path,
                            rt_error *e);

#endif
