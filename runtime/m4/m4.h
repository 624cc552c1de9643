/* m4.h -- the M4 workloads: the foundation model's modules built as graphs in the runtime's IR,
 * and the eAIBench task table with each task's execution path and input sizes.
 *
 * The what-if report asks "how fast and at what energy would this task run on this NPU?". It
 * needs every M4 module as a graph the partitioner and the NPU backend can place and time, at
 * the sizes a task implies (prompt tokens, KV-cache length, UNet steps ...). This library
 * builds those graphs from the published configurations (../shared/reference/M4.md), op for op
 * as torch.onnx would export them at opset 17, with weights that have a shape and a data type
 * but NO data: LLaMA-7B decode is ~2300 nodes and builds in milliseconds. docs/m4.md lists
 * every module, its computed parameters and MACs against the paper's figures, and the task
 * table with the reasoning behind every default.
 *
 * Conventions every consumer can rely on:
 * - A built graph is prepared (graph_prepare: validated, topologically sorted, shapes and types
 *   inferred); graph_cost works on it directly.
 * - Inputs have fixed names (m4_module_info.inputs). Outputs come in a fixed order: the module's
 *   result first (embedding, last_hidden_state, logits, mel, noise_pred, image, inputs_embeds),
 *   then the backbone's KV cache (layer i's key at 1 + 2i, value at 2 + 2i) or TTS_dec's
 *   log_duration.
 * - Model parameters are weights without data (graph_add_weight). Constants that an exporter
 *   creates (shape vectors, scalars, masks, rotary frequencies, GroupNorm's unit scales) carry
 *   data and are not parameters.
 * - Quantised weights (INT8/INT4) are i8/i4 tensors named "<layer>.weight", consumed by a Cast
 *   to the activation type, and their per-output-channel scales are f16 weights named
 *   "<layer>.weight_scale" applied by a Mul on the layer's output (weight-only quantisation
 *   written as torch code exports it: F.linear(x, w_int8.to(x.dtype)) * scales). The Cast is a
 *   format conversion that a backend fuses into the weight load (m4_is_weight_cast).
 * - LoRA adapters are branches beside the projections they adapt, with weights named
 *   "<layer>.lora_A" and "<layer>.lora_B".
 */
#ifndef M4NPU_M4_H
#define M4NPU_M4_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

/* ---------------------------------------------------------------------------------------- */
/* Modules                                                                                    */

/* Fixed sizes of the published configurations (M4.md, Table 1). */
#define M4_IMAGE_PX 224          /* IMG_enc input side */
#define M4_TXT_CONTEXT 77        /* TXT_enc context */
#define M4_IMU_SAMPLES 2000      /* IMU_enc window per channel (ImageBind) */
#define M4_WHISPER_FRAMES 1500   /* AUD-I_enc tokens for Whisper's 30 s window */
#define M4_WHISPER_DIM 384
#define M4_IMAGEBIND_DIM 1024    /* ImageBind's joint embedding width */
#define M4_LLAMA_DIM 4096
#define M4_LLAMA_CONTEXT 2048

typedef enum m4_module_id {
    M4_IMG_ENC = 0,      /* "IMG_enc": ImageBind vision ViT-H/14 */
    M4_TXT_ENC,          /* "TXT_enc": ImageBind / OpenCLIP ViT-H text encoder */
    M4_AUDB_ENC,         /* "AUD-B_enc": ImageBind audio ViT-B */
    M4_AUDI_ENC,         /* "AUD-I_enc": Whisper tiny.en encoder */
    M4_IMU_ENC,          /* "IMU_enc": ImageBind IMU encoder */
    M4_BACKBONE_PREFILL, /* "backbone-prefill" (alias "backbone"): LLaMA-7B over L tokens */
    M4_BACKBONE_DECODE,  /* "backbone-decode": LLaMA-7B, one token against a KV cache of C */
    M4_GEN_DEC,          /* "GEN_dec": the LLaMA output head 4096 -> 32000 */
    M4_TTS_DEC,          /* "TTS_dec": FastSpeech2 stand-in */
    M4_IMG_DEC,          /* "IMG_dec": one Stable Diffusion UNet step + the VAE decoder */
    M4_IMG_DEC_UNET,     /* "IMG_dec-unet": one UNet step */
    M4_IMG_DEC_VAE,      /* "IMG_dec-vae": the VAE decoder */
    M4_PROJECTION,       /* "projection": the MLP projection encoder -> backbone */
    /* Task-specific models (TS-models): the baselines of the paper's Table 3 and the classic
     * mobile references, not part of M4 (m4_module_info.task_specific). INT8 by default. */
    M4_TS_RESNET50,      /* "resnet50": torchvision ResNet-50 (v1.5), 224x224 */
    M4_TS_RESNET152,     /* "resnet152": torchvision ResNet-152 (v1.5), 224x224 */
    M4_TS_MOBILENET_V1,  /* "mobilenet-v1": Howard et al. 2017, 1.0 width, 224x224 */
    M4_TS_MOBILENET_V2,  /* "mobilenet-v2": Sandler et al. 2018, 1.0 width, 224x224 */
    M4_TS_INCEPTION_V1,  /* "inception-v1": GoogLeNet as TF-slim / torchvision build it, 224x224 */
    M4_TS_INCEPTION_V4,  /* "inception-v4": Szegedy et al. 2016, 299x299 */
    M4_TS_BERT_BASE,     /* "bert-base": BERT-base uncased + pooler + a sequence classifier */
    M4_TS_DISTILBERT,    /* "distilbert-base": DistilBERT uncased + its sequence classifier */
    M4_TS_ROBERTA_BASE,  /* "roberta-base": RoBERTa-base + its sequence-classification head */
    M4_TS_ROBERTA_QA,    /* "roberta-base-squad2": RoBERTa-base + an extractive-QA span head */
    M4_MODULE_COUNT
} m4_module_id;

#define M4_TS_FIRST M4_TS_RESNET50 /* ids below are M4's own modules */

#define M4_MODULE_NONE (-1)

/* Storage format of a module's projection/convolution weights. DEFAULT is the module's format
 * in the paper's Table 1 (encoders, IMG_dec, projection FP16; TTS_dec FP32; backbone and
 * GEN_dec INT8). FP16, INT8 and INT4 modules compute in f16; FP32 modules in f32. */
typedef enum m4_format {
    M4_FMT_DEFAULT = 0,
    M4_FMT_FP32,
    M4_FMT_FP16,
    M4_FMT_INT8,
    M4_FMT_INT4,
    M4_FMT_COUNT
} m4_format;

/* LoRA target projections (attention). Encoders whose attention packs q, k and v into one
 * in_proj (ImageBind, OpenCLIP) adapt the packed projection with one rank-r adapter when any of
 * Q, K, V is targeted: r*(d + 3d) parameters, the same as separate q and v adapters. */
enum {
    M4_LORA_Q = 1u << 0,
    M4_LORA_K = 1u << 1,
    M4_LORA_V = 1u << 2,
    M4_LORA_O = 1u << 3,
};
#define M4_LORA_TARGETS_DEFAULT (M4_LORA_Q | M4_LORA_V) /* PEFT's LLaMA default; fits Table 4 */
#define M4_LORA_RANK_DEFAULT 4   /* the rank of 3 of the 4 rows of the paper's Table 4 */
#define M4_LORA_ALPHA_DEFAULT 8  /* PEFT's default lora_alpha; scaling = alpha / r */

/* Build parameters. Zero in any field means "the module's default" (m4_module_params_resolve
 * fills them in), so `m4_module_params p = {0};` builds the published configuration. Fields a
 * module does not use must be zero. Batch is 1 throughout (clips and classifier-free guidance
 * are batch dimensions inside one inference). */
typedef struct m4_module_params {
    int tokens;        /* sequence length: backbone-prefill L (prefix included, default 48);
                          GEN_dec positions (1); TXT_enc context (77); AUD-I_enc encoder frames
                          (1500 = 30 s); projection output tokens (1) */
    int kv_len;        /* backbone-decode: cached tokens C (default 511) */
    int prefix_tokens; /* backbone-prefill: embeddings from the projection, < tokens (0) */
    int clips;         /* IMG_enc (1) / AUD-B_enc (3): clips averaged in one inference */
    int frames;        /* IMG_enc: 1 = image (repeated to 2 frames), 2 = a video clip (1) */
    int samples;       /* IMU_enc: samples per channel (2000) */
    int latent;        /* IMG_dec*: latent side (64 -> 512x512 image) */
    int batch;         /* IMG_dec-unet / IMG_dec: 2 = classifier-free guidance (1) */
    int phonemes;      /* TTS_dec: input phonemes (80) */
    int mel_frames;    /* TTS_dec: output mel frames (566) */
    int in_dim;        /* projection: encoder embedding width (1024) */
    int stack;         /* projection: encoder frames stacked per token (1) */
    int classes;       /* TS-models: outputs of the classifier head (1000 for the ImageNet CNNs, 2 for
                          the text classifiers) */
    int lora_rank;     /* LoRA rank r (0 = no adapters) */
    unsigned lora_targets; /* M4_LORA_* bits (0 = M4_LORA_TARGETS_DEFAULT when lora_rank > 0) */
    m4_format format;  /* weight format (DEFAULT = the module's paper format) */
} m4_module_params;

typedef struct m4_module_info {
    m4_module_id id;
    const char *name;        /* "IMG_enc", "backbone-decode", ... */
    const char *paper_module; /* the Table 1 row it belongs to ("backbone" for both LLaMA graphs) */
    const char *architecture; /* one line: the published configuration */
    m4_format default_format;
    const char *source;      /* where the configuration comes from */
    const char *inputs;      /* the graph's inputs, comma-separated */
    bool task_specific;      /* a TS-model (the paper's Table 3 baselines), not an M4 module: it may
                                use ops outside the M4 set and takes no LoRA adapters */
} m4_module_info;

int m4_module_count(void);
const m4_module_info *m4_module_get(m4_module_id id); /* NULL if out of range */
/* By name (case-sensitive; "backbone" is an alias of "backbone-prefill"); M4_MODULE_NONE if
 * unknown. */
int m4_module_lookup(const char *name);
const char *m4_format_name(m4_format f); /* "default", "fp32", "fp16", "int8", "int4" */

/* Fill the zero fields of *out (a copy of *p, or all defaults if p is NULL) with the module's
 * defaults and check every field: a value out of range or a field the module does not use is
 * RT_ERR_ARG naming the module, the field and the allowed range. */
rt_status m4_module_params_resolve(m4_module_id id, const m4_module_params *p, m4_module_params *out,
                                   rt_error *e);

/* The size parameters (m4_module_params' int fields but lora_rank), by index 0..count-1, for
 * reports that say what a module run used: the name ("tokens", "kv_len" ...), whether module id
 * takes it, and its value in p. */
int m4_module_param_count(void);
const char *m4_module_param_name(int i);
bool m4_module_takes_param(m4_module_id id, int i);
int m4_module_param_value(const m4_module_params *p, int i);
/* Does the module take LoRA adapters (the paper adapts the backbone and the encoders)? */
bool m4_module_takes_lora(m4_module_id id);
/* "q,v" for M4_LORA_* bits, into buf. */
const char *m4_lora_targets_str(unsigned targets, char *buf, size_t size);

/* Build a module as a prepared graph; NULL on error (e says why). The caller frees it with
 * graph_free. */
rt_graph *m4_module_build(const char *name, const m4_module_params *p, rt_error *e);
rt_graph *m4_module_build_id(m4_module_id id, const m4_module_params *p, rt_error *e);

/* What a built module costs, from the graph alone. */
typedef struct m4_module_stats {
    double params;             /* model parameters (LoRA included, quantisation scales not) */
    double lora_params;        /* the LoRA part of params */
    double macs;               /* multiply-accumulates (graph_cost) */
    double macs_activation;    /* the part of macs in MatMuls of two activations (attention
                                  scores and context): no weight is read for them */
    double flops;              /* graph_cost flops: 2*MACs + elementwise work */
    double weight_cast_flops;  /* the part of flops spent in int->float weight casts */
    uint64_t weight_bytes;     /* every parameter in its stored type, scales included */
    uint64_t weight_bytes_streamed; /* weight bytes one run reads: an embedding table read
                                       only by Gather counts the gathered rows */
    uint64_t input_bytes;      /* graph inputs (KV cache included) */
    uint64_t output_bytes;     /* graph outputs */
    int nodes;
    int weights;               /* parameter tensors (scales included) */
    rt_dtype weight_dtype;     /* stored type of the largest parameter tensor */
} m4_module_stats;

rt_status m4_module_stats_get(const rt_graph *g, m4_module_stats *s, rt_error *e);

/* Is node n the int->float Cast of a quantised weight (a format conversion the NPU fuses into
 * the weight load, not compute)? */
bool m4_is_weight_cast(const rt_graph *g, int n);

/* ---------------------------------------------------------------------------------------- */
/* Published figures                                                                          */

/* One comparison of a computed figure with a published one. */
typedef enum m4_quantity { M4_Q_PARAMS = 0, M4_Q_MACS, M4_Q_LORA_PARAMS } m4_quantity;

typedef struct m4_reference {
    m4_module_id module;       /* the graph built for the comparison */
    m4_module_params params;   /* at these sizes */
    int extra_module;          /* a second graph whose figure is added (M4_MODULE_NONE if none) */
    m4_module_params extra_params;
    m4_quantity quantity;
    double published;          /* in units of `unit` */
    double unit;               /* 1e9, or 2^30 where the paper's figure is in binary units */
    double offset;             /* published figures of parts not built, added to the computed
                                  value before comparing (documented in `note`) */
    double tolerance;          /* relative; 0.05 unless noted */
    const char *label;         /* "IMG_enc params" */
    const char *source;        /* "paper Table 1", "BK-SDM model card", ... */
    const char *note;          /* how the published figure is interpreted */
} m4_reference;

int m4_reference_count(void);
const m4_reference *m4_reference_get(int i);
/* Build the reference's graph(s) and compute the comparable value (in units of r->unit, offset
 * included). */
rt_status m4_reference_compute(const m4_reference *r, double *value, rt_error *e);

/* ---------------------------------------------------------------------------------------- */
/* eAIBench tasks (paper Table 3)                                                             */

typedef enum m4_domain { M4_DOMAIN_NLP = 0, M4_DOMAIN_CV, M4_DOMAIN_AUDIO, M4_DOMAIN_SENSING,
                         M4_DOMAIN_MULTIMODAL } m4_domain;
const char *m4_domain_name(m4_domain d);

/* The paper's Table 5 (Pixel 7 Pro): CPU measurement and the paper's NPU* estimate. For
 * generating tasks cpu_s/npu_est_s are the first token and the *_per_token_s fields the
 * following tokens; otherwise the per-token fields are 0. */
typedef struct m4_paper_latency {
    const char *task;          /* as Table 5 names it */
    const char *measured;      /* "IMG_enc", "first token", ... */
    double cpu_s, npu_est_s;
    double cpu_per_token_s, npu_est_per_token_s;
} m4_paper_latency;

#define M4_TASK_COUNT 50

/* A task's task-specific model as the paper's Table 3 names it, and the built-in graph that
 * stands for it (module M4_MODULE_NONE when this library does not build it; `basis` says why,
 * or how the built-in graph matches the paper's model and where its inputs come from). */
typedef struct m4_ts_model {
    const char *paper;       /* Table 3's name and reference, e.g. "ResNet-152 [64]" */
    const char *source;      /* the model the reference points to (repository or model card) */
    int module;              /* m4_module_id of the built-in TS-model, or M4_MODULE_NONE */
    m4_module_params params; /* its sizes for this task (zero fields: the module's defaults) */
    const char *basis;       /* why this module and these sizes, or why none is built */
} m4_ts_model;

typedef struct m4_task {
    int id;                 /* T-number, 1..50 */
    const char *name;       /* task (38 distinct names) */
    const char *dataset;
    m4_domain domain;
    int path;               /* 1..4 */
    const char *path_basis; /* "paper: ..." where the paper states it, else "inferred: why" */
    int encoder;            /* m4_module_id of the modality encoder, or M4_MODULE_NONE */
    bool text_query;        /* TXT_enc also runs per inference (the query text changes) */
    int generator;          /* M4_GEN_DEC, M4_IMG_DEC, M4_TTS_DEC, or M4_MODULE_NONE */
    /* inputs */
    int image_px;           /* image side fed to IMG_enc (224), 0 if none */
    int video_clips;        /* 2-frame clips (video), 0 if not video */
    double audio_s;         /* audio length in seconds, 0 if none */
    int imu_samples;        /* IMU samples per channel, 0 if none */
    int prompt_tokens;      /* text tokens into the backbone (instruction + text input) */
    int modality_tokens;    /* projected encoder tokens into the backbone */
    int gen_tokens;         /* generated tokens (EOS included) */
    int unet_steps;         /* denoising steps (IMG_dec) */
    int unet_batch;         /* 2 with classifier-free guidance */
    int phonemes, mel_frames; /* TTS_dec */
    const char *inputs_basis; /* why these sizes */
    const m4_paper_latency *paper; /* Table 5 row for this task type, or NULL */
} m4_task;

const m4_task *m4_task_get(int id); /* by T-number; NULL if not 1..50 */
/* The task's TS-model in the paper's Table 3 (m4_ts_tasks.c); NULL if t is NULL. */
const m4_ts_model *m4_task_ts_model(const m4_task *t);
/* Resolve its built-in module's parameters (the task's sizes, then the module's defaults);
 * RT_ERR_NOT_FOUND naming the paper's model when none is built in. */
rt_status m4_task_ts_params(const m4_task *t, m4_module_params *out, rt_error *e);
int m4_paper_latency_count(void);
const m4_paper_latency *m4_paper_latency_get(int i);

/* ---------------------------------------------------------------------------------------- */
/* A task as module runs                                                                      */

typedef enum m4_phase {
    M4_PHASE_ONCE = 0,  /* runs before the result / the first token (repeat times) */
    M4_PHASE_PER_TOKEN, /* runs once for every generated token after the first */
} m4_phase;

#define M4_LORA_NONE (-1)

typedef struct m4_task_options {
    int prompt_tokens;  /* 0: the task's default */
    int gen_tokens;     /* 0: the task's default */
    int lora_rank;      /* 0: M4_LORA_RANK_DEFAULT; M4_LORA_NONE: no adapters */
    m4_format backbone_format; /* DEFAULT (INT8) or INT4 for backbone and GEN_dec */
    int unet_steps;     /* 0: the task's default */
} m4_task_options;

typedef struct m4_step {
    m4_module_id module;
    m4_module_params params; /* resolved: every field set */
    int repeat;              /* runs per inference (UNet steps; tokens after the first) */
    m4_phase phase;
    int kv_first, kv_last;   /* backbone-decode: the KV lengths of the first and last repeat;
                                params.kv_len is their midpoint (cost is affine in C) */
    const char *role;        /* "modality encoder", "prompt prefill", ... */
} m4_step;

#define M4_PLAN_MAX_STEPS 8

/* Tokens the task generates with these options (EOS included; the first one by the first-token
 * steps, each next one by the per-token steps); 0 for a task that generates no text. */
int m4_task_gen_tokens(const m4_task *t, const m4_task_options *o);
/* Does the task run the backbone (Paths 1-2: --prompt-tokens and INT4 weights apply)? Does it run
 * LoRA adapters (every path but 4)? */
bool m4_task_runs_backbone(const m4_task *t);
bool m4_task_takes_lora(const m4_task *t);

/* Expand a task into the module runs of one inference. LoRA goes where the paper activates
 * it: the backbone on Paths 1-2, the encoders on Path 3, none on Path 4. */
rt_status m4_task_plan(const m4_task *t, const m4_task_options *o, m4_step *steps, int max_steps,
                       int *n_steps, rt_error *e);

#endif
