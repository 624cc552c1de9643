/* fit.h -- calibration of the presets to measurements (`m4npu fit`): a few configuration keys that
 * stand for something real (a clock, an efficiency, an overhead, a power) are fitted, preset by
 * preset, to measured latencies and energies by nonlinear least squares (GSL's multifit_nlinear),
 * on the rows marked train; the rows marked test are only predicted. Every evaluation simulates
 * the rows' workloads in timing-only mode through analysis/whatif, as `m4npu whatif --module`
 * runs them.
 *
 * Parts: the measurements file (fit_csv.c: a CSV read with libcsv, rows checked with
 * FILE:LINE: column N (NAME) errors, the train/test split); what each row runs (fit_table.c: a
 * chip's preset, a workload's module runs, the keys that may be fitted and their physical
 * ranges); the fit itself (fit_solve.c). docs/fit.md is the user's guide.
 */
#ifndef M4NPU_FIT_H
#define M4NPU_FIT_H

#include <stdbool.h>
#include <stdint.h>

#include "m4.h"
#include "m4npu_config.h"

#define FIT_TEXT_BYTES 192   /* chip, workload, precision as the file gives them (longer is an error) */
#define FIT_MAX_STEPS 2      /* module runs of one workload */
#define FIT_MAX_KEYS 8       /* keys fitted in one group */
#define FIT_MAX_ROWS 1024    /* rows of a measurements file */

/* What a row measures, and its unit (converted to seconds or joules when read). */
typedef enum fit_metric {
    FIT_METRIC_LATENCY = 0,        /* one inference: s, ms, us */
    FIT_METRIC_LATENCY_PER_TOKEN,  /* one generated token: s, ms, us */
    FIT_METRIC_ENERGY,             /* one inference: J, mJ */
    FIT_METRIC_COUNT
} fit_metric;
const char *fit_metric_name(fit_metric m); /* as the file spells it: "latency", ... */

typedef enum fit_split { FIT_TRAIN = 0, FIT_TEST } fit_split;
const char *fit_split_name(fit_split s); /* "train", "test" */

/* One module run of a workload, `repeat` times. */
typedef struct fit_step {
    m4_module_id module;
    m4_module_params params;
    int repeat;
} fit_step;

/* What a measured workload runs on the simulator, on which preset (fit_table.c). */
typedef struct fit_workload {
    const char *chip;      /* the file's chip column */
    const char *workload;  /* the file's workload column */
    const char *precision; /* the file's precision column */
    const char *preset;    /* configs/<preset>.yaml */
    int n_steps;
    fit_step steps[FIT_MAX_STEPS];
    const char *basis;     /* why these modules and sizes */
} fit_workload;

int fit_workload_count(void);
const fit_workload *fit_workload_at(int i);
/* The workload of a row (chip, workload and precision compared without case), or NULL. */
const fit_workload *fit_workload_find(const char *chip, const char *workload, const char *precision);

/* A key that may be fitted: a number (F64) of the configuration schema that stands for something
 * physical, and the range a fitted value must stay in (narrower than the schema's: what such a
 * device can have). */
typedef struct fit_key {
    const char *key;   /* "npu.dram.efficiency" */
    double lo, hi;     /* the physical range, in the key's unit */
    const char *why;   /* what it stands for and where the range comes from */
} fit_key;

int fit_key_count(void);
const fit_key *fit_key_at(int i);
const fit_key *fit_key_find(const char *key); /* NULL: not a key fit may change */
/* The keys fitted on a preset when the user names none (fit_table.c says why), as a list of
 * fit_key pointers; returns how many. */
int fit_default_keys(const char *preset, const fit_key **keys, int max);

/* A key's value in a configuration, and setting it (the key must be a fit_key). */
double fit_key_get(const m4npu_config *cfg, const fit_key *k);
void fit_key_set(m4npu_config *cfg, const fit_key *k, double v);

/* One measurement. */
typedef struct fit_row {
    int line;                        /* the row's first line in its file */
    char chip[FIT_TEXT_BYTES], workload[FIT_TEXT_BYTES], precision[FIT_TEXT_BYTES];
    fit_metric metric;
    double measured;                 /* seconds or joules */
    fit_split split;
    bool split_given;                /* from the file's split column (else from the rule) */
    const fit_workload *wl;
    double before, after;            /* simulated on the preset, and on the fitted configuration */
    bool has_before, has_after;
} fit_row;

typedef struct fit_rows {
    fit_row *row;
    int n;
    bool has_split_column;
} fit_rows;

/* Parse a measurements file (CSV, RFC 4180 quoting: fields may hold commas, quotes and line
 * breaks) held in memory; origin names it in messages. The header names the columns: chip,
 * workload, precision, metric, value and unit are required, split is optional (train | test),
 * any other column (source, device, notes) is kept out of the fit. Errors are RT_ERR_PARSE as
 * "ORIGIN:LINE: column N (NAME): reason" (or "ORIGIN:LINE: reason" for a row's shape). Each row's
 * workload is resolved (fit_workload_find); the split column, when there is none, is left to
 * fit_rows_split. */
rt_status fit_rows_parse(const char *text, size_t len, const char *origin, fit_rows *out, rt_error *e);
/* The same from a file (RT_ERR_IO if it cannot be read). */
rt_status fit_rows_read(const char *path, fit_rows *out, rt_error *e);
void fit_rows_free(fit_rows *r);

/* The split of rows without a split column, deterministic and independent of the values: per
 * preset, with k keys fitted there (n_keys(preset)), the rows in file order beyond the last k
 * are test rows: the last k rows of each preset train, the earlier ones test. A preset with k or
 * fewer rows has no test row. Rows with a split column keep theirs. */
void fit_rows_split(fit_rows *r, int (*n_keys)(const char *preset, void *ctx), void *ctx);

/* One preset's fit: its configuration, the keys, the rows that run on it. */
typedef struct fit_group {
    char preset[64];
    m4npu_config base;               /* the preset as loaded */
    m4npu_config fitted;             /* base with the fitted values */
    int n_keys;
    const fit_key *keys[FIT_MAX_KEYS];
    double value_before[FIT_MAX_KEYS], value_after[FIT_MAX_KEYS];
    double sigma[FIT_MAX_KEYS];      /* 1-sigma uncertainty (docs/fit.md); 0 when not determined */
    bool determined[FIT_MAX_KEYS];   /* some train row depends on the key */
    bool at_bound[FIT_MAX_KEYS];     /* the fit pressed against the key's physical range */
    int *rows;                       /* indices into the rows */
    int n_rows, n_train;
    int iterations, evaluations;
    double host_s;                   /* wall time of the fit */
    bool fitted_any;                 /* false: no train row or no key (the preset is kept) */
    double chi2_before, chi2_after;  /* sum of squared log errors over the train rows */
} fit_group;

/* The relative uncertainty of one measurement assumed when a fit has no residual degrees of
 * freedom (as many train rows as keys): docs/fit.md. */
#define FIT_MEASUREMENT_SIGMA 0.10

/* Simulate one workload on a configuration: its metric in seconds or joules. */
rt_status fit_simulate(const m4npu_config *cfg, const fit_workload *wl, fit_metric m, double *value, rt_error *e);

/* Fit g's keys on its train rows (starting from the base values), then simulate every row of the
 * group on the base and the fitted configuration (before, after). A row whose simulation fails
 * keeps its message in error and is not fitted on. */
rt_status fit_group_run(fit_group *g, fit_rows *r, rt_error *e);

#endif
