/* sweep.h -- design-space sweeps: a YAML spec of configuration axes, constraints, workloads and
 * metrics; its points; one point run as a function of (spec, index); results in SQLite; a local
 * worker pool and a Slurm job array that run points through the same per-point contract
 * (`m4npu sweep point SPEC --out DIR --index I --count K`); and the report (table, Pareto front
 * over latency, energy and area, elasticities from log-log fits, plots). docs/sweep.md is the
 * user's guide; this header says what each part promises.
 *
 * Everything a point computes is a function of the spec file, the base configuration file and
 * the point's index: every process (a local worker, a Slurm array task) enumerates the same
 * points and gets the same cycles and joules, bit for bit.
 */
#ifndef M4NPU_SWEEP_H
#define M4NPU_SWEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "graph.h"
#include "m4.h"
#include "m4npu_config.h"

#define SWEEP_MAX_AXES 16
#define SWEEP_MAX_WORKLOADS 16
#define SWEEP_MAX_CONSTRAINTS 32
#define SWEEP_MAX_SETS 64
#define SWEEP_MAX_VALUES 4096        /* values of one discrete axis */
#define SWEEP_MAX_CANDIDATES 1000000 /* points before constraints: a larger grid is a typo */
#define SWEEP_NAME_BYTES 64
#define SWEEP_PATH_BYTES 4096
#define SWEEP_HASH_HEX 17            /* 64-bit FNV-1a as 16 hex digits and a NUL */
#define SWEEP_STORE_FILE "results.sqlite"

/* ---------------------------------------------------------------- metrics (sweep_metrics.c) */

/* Everything a point can measure, by workload. The store always keeps latency_s, energy_j and
 * area_mm2 (the Pareto front's axes) besides the spec's metrics. */
typedef enum sweep_metric {
    SWEEP_M_LATENCY_S = 0, /* the workload's modelled latency */
    SWEEP_M_ENERGY_J,
    SWEEP_M_AREA_MM2,      /* the configuration's area estimate (sweep_derived) */
    SWEEP_M_NPU_S,
    SWEEP_M_CPU_S,
    SWEEP_M_TRANSFER_S,
    SWEEP_M_SUBMIT_S,
    SWEEP_M_FIRST_TOKEN_S, /* tasks that generate */
    SWEEP_M_PER_TOKEN_S,   /* tasks that generate */
    SWEEP_M_SEGMENTS,      /* NPU jobs per inference */
    SWEEP_M_NPU_FRACTION,  /* npu_s / latency_s */
    SWEEP_M_E_MACS_J,
    SWEEP_M_E_VECTOR_J,
    SWEEP_M_E_SRAM_J,
    SWEEP_M_E_DRAM_J,
    SWEEP_M_E_CONTROL_J,
    SWEEP_M_E_STATIC_J,
    SWEEP_M_E_CPU_J,
    SWEEP_M_E_TRANSFER_J,
    SWEEP_METRIC_COUNT
} sweep_metric;

const char *sweep_metric_name(sweep_metric m); /* "latency_s" */
const char *sweep_metric_doc(sweep_metric m);
int sweep_metric_lookup(const char *name);     /* or -1 */

/* ---------------------------------------------------------------- the area model (sweep_derived.c) */

/* Area of a configuration: MAC units and SRAM bytes times these coefficients (docs/sweep.md gives
 * their sources). A spec's `area:` mapping may replace them. */
typedef struct sweep_area {
    double mm2_per_mac; /* one int8 MAC of the array with its accumulator and wiring */
    double mm2_per_mib; /* one MiB of on-chip SRAM, bit cells and periphery */
} sweep_area;

void sweep_area_defaults(sweep_area *a);

/* Quantities derived from a configuration, usable in constraints (by name) and as metrics. */
typedef enum sweep_derived {
    SWEEP_D_MAC_UNITS = 0,         /* npu.matmul.rows * npu.matmul.cols */
    SWEEP_D_SRAM_BYTES_PER_CYCLE,  /* npu.sram.banks * npu.sram.bank_width_bytes */
    SWEEP_D_DRAM_BYTES_PER_CYCLE,  /* sustained DRAM bytes per NPU cycle */
    SWEEP_D_PEAK_TOPS,             /* 2 * mac_units * npu.clock_mhz / 1e6 */
    SWEEP_D_TILE_OPERAND_BYTES,    /* one array tile's int8 A and B and int32 C: rows*cols*(1+1+4) */
    SWEEP_D_AREA_MM2,
    SWEEP_DERIVED_COUNT
} sweep_derived;

const char *sweep_derived_name(sweep_derived d);
const char *sweep_derived_doc(sweep_derived d);
int sweep_derived_lookup(const char *name); /* or -1 */
double sweep_derived_value(sweep_derived d, const m4npu_config *cfg, const sweep_area *area);

/* The numeric value of a schema key (U32, U64, BYTES, F64) in cfg; false for other kinds. */
bool sweep_key_number(const m4npu_cfg_key *k, const m4npu_config *cfg, double *out);
bool sweep_key_is_numeric(const m4npu_cfg_key *k);

/* ---------------------------------------------------------------- constraints (sweep_expr.c) */

/* A constraint: one comparison of two arithmetic expressions over numbers (with an optional
 * KiB/MiB/GiB suffix), numeric configuration keys (npu.sram.size_bytes), derived quantities
 * (mac_units ...), + - * /, unary minus, parentheses, min(a, b) and max(a, b):
 *     constraint = sum CMP sum          CMP = < | <= | > | >= | == | !=
 *     sum        = product { (+|-) product }
 *     product    = unary { (*|/) unary }
 *     unary      = - unary | primary
 *     primary    = NUMBER [KiB|MiB|GiB] | NAME | (min|max) ( sum , sum ) | ( sum )
 * A point whose comparison is false, or not a number (0/0), is dropped. */
typedef struct sweep_expr sweep_expr;

/* Compile; on error returns NULL with the 0-based byte offset of the problem and a reason. */
sweep_expr *sweep_expr_compile(const char *text, size_t *err_offset, char *reason, size_t rsize);
/* The same language over named variables instead (the report's --where over knobs and metrics). */
sweep_expr *sweep_expr_compile_vars(const char *text, const char *const *names, int n, size_t *err_offset,
                                    char *reason, size_t rsize);
bool sweep_expr_holds_vars(const sweep_expr *x, const double *vars);
/* Is the constraint true for this configuration? */
bool sweep_expr_holds(const sweep_expr *x, const m4npu_config *cfg, const sweep_area *area);
/* The value of one side (0: left, 1: right), for messages and tests. */
double sweep_expr_side(const sweep_expr *x, int side, const m4npu_config *cfg, const sweep_area *area);
void sweep_expr_free(sweep_expr *x);

/* ---------------------------------------------------------------- the spec (sweep_spec.c) */

typedef struct sweep_axis {
    const m4npu_cfg_key *key;
    int n_values;   /* discrete values in order (list, step, factor, points); 0: a continuous range */
    char **values;  /* their text, as `--set KEY=VALUE` takes it */
    double from, to; /* a continuous range (random and Latin-hypercube sampling only) */
    bool log_scale;  /* sample the range uniformly in log(value) */
    int line, column;
} sweep_axis;

typedef enum sweep_sampling { SWEEP_SAMPLE_GRID = 0, SWEEP_SAMPLE_RANDOM, SWEEP_SAMPLE_LHS } sweep_sampling;

typedef enum sweep_workload_kind { SWEEP_WL_MODULE = 0, SWEEP_WL_TASK, SWEEP_WL_MODEL } sweep_workload_kind;

#define SWEEP_MAX_DIMS 16 /* symbolic dimensions of a model workload */

typedef struct sweep_workload {
    char name[SWEEP_NAME_BYTES]; /* unique within the spec: the store's workload column */
    sweep_workload_kind kind;
    m4_module_id module;         /* SWEEP_WL_MODULE */
    m4_module_params params;
    int task;                    /* SWEEP_WL_TASK: 1..M4_TASK_COUNT */
    m4_task_options options;
    char model[SWEEP_PATH_BYTES]; /* SWEEP_WL_MODEL: an ONNX file (absolute), as `m4npu run --timing-only` */
    char dim_name[SWEEP_MAX_DIMS][SWEEP_NAME_BYTES]; /* its symbolic dimensions (NAME or INPUT:AXIS) */
    int64_t dim_value[SWEEP_MAX_DIMS];
    int n_dims;
    bool int4;                   /* NPU weights INT4 (default INT8), as run --weights */
} sweep_workload;

typedef struct sweep_spec {
    char path[SWEEP_PATH_BYTES];      /* absolute */
    char *text;                       /* the spec file */
    char base_path[SWEEP_PATH_BYTES]; /* the base configuration file (absolute) */
    char *base_text;
    char *sets[SWEEP_MAX_SETS];       /* base overrides, "KEY=VALUE" */
    int n_sets;
    sweep_axis axes[SWEEP_MAX_AXES];
    int n_axes;
    sweep_sampling sampling;
    int samples;                      /* random / lhs: candidates drawn */
    uint64_t seed;
    sweep_expr *constraints[SWEEP_MAX_CONSTRAINTS];
    char *constraint_text[SWEEP_MAX_CONSTRAINTS];
    int n_constraints;
    sweep_workload workloads[SWEEP_MAX_WORKLOADS];
    int n_workloads;
    bool metric[SWEEP_METRIC_COUNT];  /* kept (always latency_s, energy_j, area_mm2) */
    sweep_area area;
    char identity[SWEEP_HASH_HEX];    /* hash of the spec and base texts: a store holds one sweep */
} sweep_spec;

/* Load and check a spec: strict like configurations (unknown, duplicate and missing keys, wrong
 * types, values outside a key's range are "FILE:LINE:COL: KEY: reason" errors, RT_ERR_ARG; an
 * unreadable file is RT_ERR_IO). presets_dir is where `base: {preset: NAME}` looks (NAME.yaml). */
rt_status sweep_spec_load(const char *path, const char *presets_dir, sweep_spec **out, rt_error *e);
void sweep_spec_free(sweep_spec *s);
/* The base configuration: the base file with the spec's overrides, validated. */
rt_status sweep_spec_base(const sweep_spec *s, m4npu_config *cfg, rt_error *e);

/* ---------------------------------------------------------------- points (sweep_sample.c) */

typedef struct sweep_points {
    int n;            /* points kept, numbered 0 .. n-1 */
    int n_candidates; /* before the constraints */
    int n_axes;
    char **value;     /* value[i * n_axes + a]: point i's value of axis a, as text */
    char **owned;     /* the text of values drawn from continuous ranges (freed with the points) */
    int n_owned;
} sweep_points;

/* Enumerate the candidates (the full grid, last axis fastest; or `samples` random / Latin-
 * hypercube draws from GSL's MT19937 seeded with the spec's seed) and keep those that satisfy
 * every constraint. Deterministic. */
rt_status sweep_points_make(const sweep_spec *s, const m4npu_config *base, sweep_points **out, rt_error *e);
void sweep_points_free(sweep_points *p);
/* Point i's configuration: base plus its axis values, validated (RT_ERR_ARG with the reason; cfg
 * then still holds the axis values, for the store's knob columns). */
rt_status sweep_point_config(const sweep_spec *s, const sweep_points *p, int i, const m4npu_config *base,
                             m4npu_config *cfg, rt_error *e);
/* 16 hex digits of FNV-1a over the configuration's YAML: equal configurations, equal hashes. */
void sweep_config_hash(const m4npu_config *cfg, char out[SWEEP_HASH_HEX]);

/* ---------------------------------------------------------------- running (sweep_run.c) */

typedef struct sweep_result {
    bool ok;
    char error[RT_ERROR_MSG_BYTES];
    double wall_s;
    double metric[SWEEP_METRIC_COUNT];
    bool has[SWEEP_METRIC_COUNT]; /* false: does not apply (per-token times of a module) */
} sweep_result;

/* One workload on one configuration, simulated in timing-only mode (analysis/whatif for modules
 * and tasks, the run pipeline for ONNX models, on the session's device). A failure of the
 * workload is a result with ok = false and its message, not an error. */
struct whatif;
void sweep_run_workload(struct whatif *w, const sweep_workload *wl, const sweep_area *area, sweep_result *r);
/* The same with a session of its own. */
void sweep_run_workload_on(const m4npu_config *cfg, const sweep_workload *wl, const sweep_area *area,
                           sweep_result *r);

/* ---------------------------------------------------------------- the store (sweep_store.c) */

typedef struct sweep_store sweep_store;

/* Open (creating if needed) the store at path for this spec. The first open records the spec,
 * its points and axes in a meta table; a store made for another spec is RT_ERR_ARG. wal: WAL
 * journal with a busy timeout (concurrent writers on one host); else a rollback journal (a file
 * one process writes, e.g. a Slurm array task's part on a shared file system). */
rt_status sweep_store_open(const char *path, const sweep_spec *s, const sweep_points *p, bool wal,
                           sweep_store **out, rt_error *e);
/* Open an existing store to read it (the report). */
rt_status sweep_store_open_read(const char *path, sweep_store **out, rt_error *e);
void sweep_store_close(sweep_store *st);

typedef enum sweep_point_state { SWEEP_POINT_TODO = 0, SWEEP_POINT_OK, SWEEP_POINT_FAILED } sweep_point_state;
/* The state of every point (n entries): OK when every workload has an ok row, FAILED when every
 * workload has a row and one failed, else TODO. */
rt_status sweep_store_states(sweep_store *st, int n, unsigned char *state, rt_error *e);
rt_status sweep_store_point_state(sweep_store *st, int point, int n_workloads, sweep_point_state *state,
                                  rt_error *e);
/* Write every workload's row of one point in one transaction (replacing earlier rows). */
rt_status sweep_store_put(sweep_store *st, const sweep_spec *s, int point, const m4npu_config *cfg,
                          const char *config_hash, const sweep_result *rows, const char *version, rt_error *e);
/* Copy every row of a part store (same spec) into st in one transaction. */
rt_status sweep_store_merge(sweep_store *st, const char *part_path, rt_error *e);

/* ---------------------------------------------------------------- points as a process (sweep_point.c) */

typedef struct sweep_point_options {
    const char *store_path;  /* where rows go (default DIR/results.sqlite, WAL) */
    bool part;               /* store_path is a part file: rollback journal */
    bool rerun_failed;       /* also run points recorded as failed */
    const char *version;     /* the tool's version, kept in every row */
    FILE *progress;          /* "start I", "ok I", "failed I", "skip I" lines (NULL: none) */
    /* abort() when point abort_at starts: a crash on purpose, to test how the backends handle a
     * worker that crashes (M4NPU_SWEEP_ABORT_AT) */
    bool abort;
    int abort_at;
} sweep_point_options;

/* The per-point contract: run points first .. first+count-1 (clipped to the sweep) of the spec
 * into the store, each committed atomically, skipping those already complete. */
rt_status sweep_run_points(const char *spec_path, const char *presets_dir, const char *out_dir, int first,
                           int count, const sweep_point_options *o, rt_error *e);

/* ---------------------------------------------------------------- backends (sweep_local.c, sweep_slurm.c) */

typedef struct sweep_options {
    const char *spec_path;
    const char *presets_dir;
    const char *out_dir;
    const char *self_exe;    /* the m4npu binary that workers run */
    const char *version;
    int jobs;                /* local: workers at a time; slurm: the array's throttle (%N) */
    int chunk;               /* points per worker process / array task (0: automatic) */
    int retry;               /* extra rounds for chunks whose points are still missing */
    bool rerun_failed;
    bool progress;           /* a progress bar on stderr (a terminal) */
    bool quiet;              /* no summary line */
    const char *const *sbatch_args; /* extra sbatch options */
    int n_sbatch_args;
    double poll_s;           /* slurm: seconds between squeue polls (0: 2 s) */
} sweep_options;

typedef struct sweep_summary {
    int points, ok, failed, missing;
    int ran;                 /* points this invocation ran */
    double wall_s;
} sweep_summary;

rt_status sweep_local(const sweep_options *o, sweep_summary *sum, rt_error *e);
rt_status sweep_slurm(const sweep_options *o, sweep_summary *sum, rt_error *e);

/* Shared by the backends: the spec, the points and the store's states; chunks of todo points. */
typedef struct sweep_chunk {
    int first, count; /* a range of indices holding `todo` points still to run */
    int todo;
} sweep_chunk;
int sweep_make_chunks(const unsigned char *state, int n, bool rerun_failed, int per_chunk, sweep_chunk *chunks);

/* A progress bar with an ETA on stderr (only when it is a terminal and enabled). */
typedef struct sweep_progress {
    bool on;
    int total, done, failed;
    double t0, last_draw;
} sweep_progress;
void sweep_progress_start(sweep_progress *p, bool enabled, int total);
void sweep_progress_update(sweep_progress *p, int done, int failed);
void sweep_progress_end(sweep_progress *p);
double sweep_now_s(void);

/* ---------------------------------------------------------------- the report (sweep_report.c) */

typedef enum sweep_report_format { SWEEP_REPORT_TEXT = 0, SWEEP_REPORT_JSON, SWEEP_REPORT_CSV } sweep_report_format;

typedef struct sweep_report_options {
    sweep_report_format format;
    const char *plot_dir;   /* gnuplot PNGs here (NULL: none) */
    const char *where;      /* a constraint that rows must satisfy (NULL: all), over knobs and metrics */
    const char *workload;   /* only this workload (NULL: all) */
} sweep_report_options;

/* One elasticity: d log(metric) / d log(knob) from a least-squares fit (gsl_fit_linear). */
typedef struct sweep_elasticity {
    char workload[SWEEP_NAME_BYTES];
    char metric[SWEEP_NAME_BYTES];
    char knob[M4NPU_CONFIG_KEY_LEN];
    double elasticity, r2;
    int n;        /* rows in the fit */
    int lines;    /* groups of rows equal in every other knob (0: a pooled fit) */
} sweep_elasticity;

typedef struct sweep_report sweep_report;
rt_status sweep_report_load(const char *dir, const sweep_report_options *o, sweep_report **out, rt_error *e);
void sweep_report_free(sweep_report *r);
rt_status sweep_report_write(const sweep_report *r, const sweep_report_options *o, FILE *out, rt_error *e);
rt_status sweep_report_plot(const sweep_report *r, const char *dir, rt_error *e);
/* Accessors for tests. */
int sweep_report_elasticities(const sweep_report *r, const sweep_elasticity **out);
int sweep_report_pareto_count(const sweep_report *r, const char *workload);

#endif
