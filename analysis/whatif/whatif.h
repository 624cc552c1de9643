/* whatif.h -- "how fast, and at what energy, would M4 run on this NPU?": every eAIBench task as
 * the M4 module runs its plan names (runtime/m4), each module simulated once in timing-only mode
 * through the run pipeline (runtime/run: partition, NPU segments on the simulated device, CPU
 * fallback and boundary costs), and composed into latency, time to first token, time per token,
 * energy and their breakdowns.
 *
 * A module run is a function of the module, its parameters and the configuration, so each
 * distinct one is simulated once per session and reused by every task and repeat that needs it;
 * the NPU backend further reuses identical timing-only segments (runtime/npu/npu_memo.c). Both
 * are exact: they change no result.
 */
#ifndef M4NPU_WHATIF_H
#define M4NPU_WHATIF_H

#include <stdbool.h>
#include <stdint.h>

#include "energy.h"
#include "m4.h"
#include "m4npu_config.h"
#include "run.h"

/* One simulated module run (cached). */
typedef struct whatif_module_run {
    m4_module_id id;
    m4_module_params params; /* resolved */
    rt_graph *g;             /* kept for names in timelines */
    run_result *r;           /* the timing-only run */
    m4_module_stats stats;
    double host_s;           /* host wall time to build and simulate it */
} whatif_module_run;

typedef struct whatif_step_result {
    m4_step step;
    const whatif_module_run *run;
} whatif_step_result;

/* One task. Times in seconds, energy in joules, both per inference. A task whose plan or one of
 * whose module runs failed has failed = true and the reason in error; its numbers are then not
 * meaningful, and reports show the error instead. */
typedef struct whatif_task_result {
    const m4_task *task;
    m4_task_options options;
    bool failed;
    char error[RT_ERROR_MSG_BYTES];
    int n_steps;
    whatif_step_result steps[M4_PLAN_MAX_STEPS];
    bool generates;          /* some step runs once per generated token */
    double latency_s;        /* the whole inference */
    double first_token_s;    /* the steps run once (the result, or the first token) */
    double per_token_s;      /* one repeat of every per-token step (0 if none) */
    double npu_s, cpu_s, transfer_s, submit_s; /* latency_s split (sums to it) */
    energy_breakdown energy;
    uint64_t segments;       /* NPU jobs per inference */
    int gen_tokens;          /* tokens generated (the plan's repeats + 1), 0 if none */
    /* the backbone's DRAM floor per token: the weight bytes a decode token and the output head
     * stream, over the DRAM's peak bandwidth (0 when the task runs no decode) */
    uint64_t floor_bytes;
    double dram_floor_per_token_s;
    /* the task's TS-model (the paper's Table 3) and, when it is built in, its run on the same
     * NPU (ts_run NULL otherwise): the paper's M4-against-TS comparison */
    const m4_ts_model *ts;
    const whatif_module_run *ts_run;
    /* the device memory of the step that needs the most (its module's plan: weights, KV cache,
     * activations, descriptors); modules run one after the other, each freeing its memory */
    npu_mem_usage mem;
    int mem_step;            /* that step's index, -1 if none */
} whatif_task_result;

typedef struct whatif whatif;

/* A session on one configuration: opens the NPU once for all its module runs. */
whatif *whatif_open(const m4npu_config *cfg, rt_error *e);
void whatif_close(whatif *w);
const m4npu_config *whatif_config(const whatif *w);
/* The session's open NPU backend, for runs of other graphs on the same device (a process has one
 * device: analysis/sweep runs ONNX models beside the modules). */
npu_backend *whatif_backend(whatif *w);

/* Simulate (or take from the cache) one module with these parameters. */
rt_status whatif_module(whatif *w, m4_module_id id, const m4_module_params *p, const whatif_module_run **out,
                        rt_error *e);
/* Plan and evaluate one task, and run its built-in TS-model (if any) on the same NPU. On failure
 * out->failed is set and out->error holds e's message (prefixed with the task and step), so that
 * a caller can report the task and go on. */
rt_status whatif_task(whatif *w, const m4_task *t, const m4_task_options *o, whatif_task_result *out, rt_error *e);

/* Session statistics: distinct module runs simulated, cache hits, NPU segment memo hits. */
typedef struct whatif_stats {
    int module_runs;
    int module_hits;
    uint64_t segment_memo_hits;
    double host_s;
} whatif_stats;
void whatif_get_stats(const whatif *w, whatif_stats *s);

/* Is tensor t of a module graph device-resident between runs (the KV cache)? */
bool whatif_resident(const rt_graph *g, int t, void *ctx);

#endif
