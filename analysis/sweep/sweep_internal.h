/* sweep_internal.h -- what the files of analysis/sweep share and nothing else sees: the store's
 * handle (the report reads it with its own queries) and the store's column names. */
#ifndef M4NPU_SWEEP_INTERNAL_H
#define M4NPU_SWEEP_INTERNAL_H

#include <sqlite3.h>

#include "sweep.h"

#define SWEEP_STORE_BUSY_MS 120000 /* a writer waits this long for another's transaction */
#define SWEEP_STORE_SCHEMA_VERSION 1

/* The store's meta keys. */
#define SWEEP_META_SCHEMA "schema_version"
#define SWEEP_META_IDENTITY "identity"
#define SWEEP_META_SPEC_PATH "spec_path"
#define SWEEP_META_SPEC "spec"
#define SWEEP_META_BASE_PATH "base_path"
#define SWEEP_META_POINTS "points"
#define SWEEP_META_CANDIDATES "candidates"
#define SWEEP_META_AXES "axes"           /* JSON: [{"key": "npu.clock_mhz", "kind": "real"}, ...] */
#define SWEEP_META_METRICS "metrics"     /* JSON: ["latency_s", ...] */
#define SWEEP_META_WORKLOADS "workloads" /* JSON: ["IMG_enc", ...] */
#define SWEEP_META_AREA "area"           /* JSON: {"mm2_per_mac": ..., "mm2_per_mib": ...} */
#define SWEEP_META_VERSION "created_by"

struct sweep_store {
    sqlite3 *db;
    char path[SWEEP_PATH_BYTES];
    sqlite3_stmt *put;  /* the row insert (prepared at the first put) */
    int n_workloads;    /* from the meta table */
};

/* What both backends start from: the spec, its points, the main store and every point's state
 * (sweep_backend.c). */
typedef struct sweep_plan {
    sweep_spec *spec;
    sweep_points *points;
    sweep_store *store;
    unsigned char *state; /* sweep_point_state per point */
    char store_path[SWEEP_PATH_BYTES];
} sweep_plan;

rt_status sweep_plan_open(const sweep_options *o, sweep_plan *pl, rt_error *e);
rt_status sweep_plan_refresh(sweep_plan *pl, rt_error *e); /* re-read the states */
void sweep_plan_summary(const sweep_plan *pl, sweep_summary *sum);
void sweep_plan_close(sweep_plan *pl);
/* Points per chunk when the user gave none: several chunks per worker, to balance the load, of
 * at most SWEEP_AUTO_CHUNK_MAX points, to amortise a process's start. */
#define SWEEP_AUTO_CHUNKS_PER_JOB 8
#define SWEEP_AUTO_CHUNK_MAX 64
int sweep_auto_chunk(int todo, int jobs);
/* Run argv (no shell; argv[0] found on PATH), capture stdout and stderr (NUL-terminated,
 * truncated to cap-1 bytes). Returns the exit status, 127 if it could not be run, or -1 if it
 * died of a signal. */
int sweep_run_capture(const char *const *argv, char *out, size_t cap);
/* mkdir -p for one level; an existing directory is fine. */
rt_status sweep_mkdir(const char *path, rt_error *e);

/* ---- the report's data (sweep_report.c loads it, sweep_plot.c draws it) */

#define MAX_KNOBS SWEEP_MAX_AXES
#define GROUP_KEY_BYTES 1024 /* the other knobs' values of a row, as one text key */

typedef struct report_row {
    int point;
    int workload;
    bool ok;
    char *error;
    char hash[SWEEP_HASH_HEX];
    double wall_s;
    double knob[MAX_KNOBS];      /* NaN for a named (enum) knob */
    char *knob_text[MAX_KNOBS];  /* every knob as text */
    double metric[SWEEP_METRIC_COUNT];
    bool pareto;
} report_row;

struct sweep_report {
    char spec_path[SWEEP_PATH_BYTES];
    char identity[SWEEP_HASH_HEX];
    int points, candidates;
    int n_knobs;
    char knob[MAX_KNOBS][M4NPU_CONFIG_KEY_LEN];
    bool knob_numeric[MAX_KNOBS];
    int n_metrics;
    int metric[SWEEP_METRIC_COUNT]; /* sweep_metric ids of the stored metric columns */
    int n_workloads;
    char workload[SWEEP_MAX_WORKLOADS][SWEEP_NAME_BYTES];
    report_row *row;
    int n_rows;
    int n_failed, missing;
    sweep_elasticity *el;
    int n_el;
};

/* The other knobs' values of a row as one text key: rows with equal keys lie on one line of knob k. */
void sweep_report_group_key(const sweep_report *R, const report_row *row, int k, char *buf, size_t size);

/* "SQL-quoted" column name: keys hold dots. */
void sweep_sql_column(const char *name, char *buf, size_t size);

#endif
