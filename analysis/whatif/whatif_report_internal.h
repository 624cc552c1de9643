/* whatif_report_internal.h -- what the forms of the what-if report share (not for callers: the
 * API is whatif_report.h). */
#ifndef M4NPU_WHATIF_REPORT_INTERNAL_H
#define M4NPU_WHATIF_REPORT_INTERNAL_H

#include "whatif_report.h"

#define US_PER_S 1e6
#define GIGA 1e9
#define MIB_BYTES (1024.0 * 1024.0)
#define GIB_BYTES (1024.0 * 1024.0 * 1024.0)
#define WHATIF_TIME_CELL 16  /* "123.4 ms", "1.23 s" */
#define WHATIF_MEM_CELL 16   /* "7.42 GiB", "310.0 MiB" */
#define WHATIF_LABEL_BYTES 1024
/* The M4 paper's NPU-enabled averages over all 50 eAIBench tasks (section 4.5). */
#define WHATIF_PAPER_MEAN_LATENCY_S 0.48
#define WHATIF_PAPER_MEAN_ENERGY_J 1.3

const char *whatif_fmt_s(double s, char *buf, size_t n);
const char *whatif_fmt_mem(uint64_t bytes, char *buf, size_t n);
/* "6.34 s + 0.24 s/tok" from the paper's Table 5 row. */
const char *whatif_paper_cell(double once, double per_token, char *buf, size_t n);
double whatif_npu_fraction(const whatif_task_result *t);
int whatif_count_failed(const whatif_task_result *tasks, int n);
/* The configuration's label: "mobile-default" or "mobile-default + 2 overrides: K=V, K=V". */
const char *whatif_config_label(const whatif_view *v, char *buf, size_t n);
/* A module run's parameters in words: "tokens 48, prefix_tokens 0; LoRA rank 4 (q,v); int8". */
const char *whatif_params_str(const whatif_module_run *m, char *buf, size_t n);
/* Does the selection hold every task (so that its mean compares with the paper's 50-task mean)? */
bool whatif_all_tasks(const whatif_view *v);

/* M4 against the TS-models, over the tasks whose TS-model is built in. */
typedef struct whatif_ts_summary {
    int n;
    double m4_lat, m4_j, ts_lat, ts_j;
} whatif_ts_summary;
whatif_ts_summary whatif_ts_summarise(const whatif_task_result *tasks, int n);

/* Run gnuplot on a script file; RT_ERR_IO with gnuplot's own message if it fails. */
rt_status whatif_gnuplot(const char *script_path, rt_error *e);
/* A private temporary directory for a plot's data and script (dir holds its path). */
rt_status whatif_plot_dir(char *dir, size_t n, rt_error *e);

#endif
