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
#include "run_layers.h"

/* One simulated module run (cached). */
typedef struct whatif_module_run {
    m4_module_id id;
    m4_module_params params; /* resolved */
    rt_graph *g;             /* kept for names in timelines and layers */
    run_result *r;           /* the timing-only run */
    m4_module_stats stats;
    double host_s;           /* host wall time to build and simulate it */
    run_layer *layers;       /* its per-layer rows (whatif_module_layers), computed once when asked */
    int n_layers;
} whatif_module_run;

/* What the user asked for (m4npu whatif's options); 0 in a field means "the default".
 * docs/whatif.md ("Options") says which applies to which selection. */
typedef struct whatif_options {
    int prompt_tokens; /* tasks that run the backbone: text tokens; a module: its `tokens` */
    int gen_tokens;    /* tasks that generate text: tokens generated */
    int kv_len;        /* --module backbone-decode: cached tokens */
    int lora_rank;     /* 0: the default (M4_LORA_RANK_DEFAULT where adapters apply); M4_LORA_NONE: none */
    bool int4;         /* INT4 weights for the backbone and the output head */
} whatif_options;

/* The parameters of one --module run from the options: the module's defaults, LoRA rank
 * M4_LORA_RANK_DEFAULT on q and v for a module that takes adapters (as a task that adapts it
 * would run it) and none for one that does not. An option that does not apply to the module is
 * RT_ERR_ARG saying why (--gen-tokens never: a module run is one pass; --kv-len only for
 * backbone-decode; --prompt-tokens for modules with a token count; --lora-rank for modules that
 * take adapters; --int4 for the backbone and GEN_dec). */
rt_status whatif_module_params(m4_module_id id, const whatif_options *o, m4_module_params *p, rt_error *e);

/* The task options for a selection of tasks (ids[0..n-1]) from the user's: an option that applies
 * to none of them is RT_ERR_ARG saying why (--kv-len never applies to tasks: their KV length
 * follows from their prompt and generated tokens); applied[k] counts the tasks option k applies
 * to (WHATIF_OPT_*), for the report to say. */
enum { WHATIF_OPT_PROMPT = 0, WHATIF_OPT_GEN, WHATIF_OPT_LORA, WHATIF_OPT_INT4, WHATIF_OPT_COUNT };
rt_status whatif_task_options(const int *ids, int n, const whatif_options *o, m4_task_options *to,
                              int applied[WHATIF_OPT_COUNT], rt_error *e);

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
    bool generates;          /* the task generates text (gen_tokens >= 1) */
    double latency_s;        /* the whole inference */
    double first_token_s;    /* the steps run once (the result, or the first token) */
    double per_token_s;      /* one repeat of every per-token step (0 when no token follows the first) */
    double npu_s, cpu_s, transfer_s, submit_s; /* latency_s split (sums to it) */
    energy_breakdown energy;
    uint64_t segments;       /* NPU jobs per inference */
    int gen_tokens;          /* tokens generated (m4_task_gen_tokens: the first, then the per-token
                                steps' repeats), 0 if the task generates no text */
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
/* The firmware log of every job simulated from now on, job by job (npu_backend_set_log). */
void whatif_set_log(whatif *w, npu_log_fn fn, void *ctx);
/* Whether module runs keep the per-op profile the per-layer report, the roofline and the op
 * tracks of timelines need (npu_backend_set_profile; on by default). A report of every task needs
 * none and holds less memory without it. Set it before the first module run: a run cached
 * without it has no layers (whatif_module_layers says so). */
void whatif_set_profile(whatif *w, bool on);

/* How the module runs are partitioned (before the first module runs): cost-aware by default
 * (runtime/partition PART_COST, with this objective), or greedy. */
void whatif_set_partition(whatif *w, bool greedy, part_objective objective);

/* Simulate (or take from the cache) one module with these parameters. */
rt_status whatif_module(whatif *w, m4_module_id id, const m4_module_params *p, const whatif_module_run **out,
                        rt_error *e);
/* Plan and evaluate one task, and run its built-in TS-model (if any) on the same NPU. On failure
 * out->failed is set and out->error holds e's message (prefixed with the task and step), so that
 * a caller can report the task and go on. */
rt_status whatif_task(whatif *w, const m4_task *t, const m4_task_options *o, whatif_task_result *out, rt_error *e);

/* The per-layer rows of a module run (run_layers), computed on the first call and kept. */
rt_status whatif_module_layers(whatif *w, const whatif_module_run *m, const run_layer **rows, int *n, rt_error *e);

/* Session statistics: distinct module runs simulated, cache hits, NPU segment memo hits, ops
 * replayed from the simulator's op memo and ops simulated. */
typedef struct whatif_stats {
    int module_runs;
    int module_hits;
    uint64_t segment_memo_hits;
    uint64_t ops_replayed, ops_simulated; /* the simulator's op memo: ops taken from it, ops simulated */
    double host_s;
} whatif_stats;
void whatif_get_stats(const whatif *w, whatif_stats *s);

/* Is tensor t of a module graph device-resident between runs (the KV cache)? */
bool whatif_resident(const rt_graph *g, int t, void *ctx);

#endif
