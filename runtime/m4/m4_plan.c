/* m4_plan.c -- one eAIBench task as the module runs of one inference, so that a report can build
 * each graph, time it, and add the runs up into time-to-result, time-to-first-token and
 * per-token figures.
 *
 * Path-1: encoder -> projection -> backbone prefill -> GEN_dec (first token), then per token a
 *         backbone decode step and GEN_dec; or, with IMG_dec, the UNet steps and the VAE decoder.
 * Path-2: backbone prefill -> GEN_dec, then per token decode + GEN_dec.
 * Path-3: the encoder(s) only.
 * Path-4: the generator only.
 * LoRA is active where the paper trains it (section 3.3): the backbone on Paths 1-2, the
 * encoders on Path 3, nowhere on Path 4. A decode step's cost is affine in its KV length C, so
 * the gen-1 steps after the first token are one step at the midpoint C repeated gen-1 times
 * (exact for an odd number of steps; within half a token of attention otherwise). */
#include <string.h>

#include "m4.h"

/* Whisper frames are stacked 5 to a projected token (10 tokens per second of speech). */
#define WHISPER_STACK 5

typedef struct plan {
    m4_step *steps;
    int max, n;
    const m4_task *t;
    rt_error *e;
} plan;

static rt_status add(plan *pl, m4_module_id id, const m4_module_params *p, int repeat, m4_phase phase,
                     const char *role)
{
    if (pl->n >= pl->max)
        return rt_error_set(pl->e, RT_ERR_LIMIT, "T%d: more than %d module runs (steps array too small)",
                            pl->t->id, pl->max);
    m4_step *s = &pl->steps[pl->n];
    memset(s, 0, sizeof *s);
    rt_status st = m4_module_params_resolve(id, p, &s->params, pl->e);
    if (st != RT_OK) {
        rt_error_prefix(pl->e, "T%d (%s, %s)", pl->t->id, pl->t->name, pl->t->dataset);
        return st;
    }
    s->module = id;
    s->repeat = repeat;
    s->phase = phase;
    s->role = role;
    pl->n++;
    return RT_OK;
}

static rt_status add_encoder(plan *pl, int id, int lora)
{
    const m4_task *t = pl->t;
    m4_module_params p = {.lora_rank = lora};
    if (id == M4_IMG_ENC && t->video_clips > 0) {
        p.clips = t->video_clips;
        p.frames = 2;
    }
    if (id == M4_IMU_ENC)
        p.samples = t->imu_samples;
    return add(pl, (m4_module_id)id, &p, 1, M4_PHASE_ONCE, "modality encoder");
}

static rt_status check_options(const m4_task *t, const m4_task_options *o, rt_error *e)
{
    if (o->prompt_tokens < 0 || o->gen_tokens < 0 || o->unet_steps < 0)
        return rt_error_set(e, RT_ERR_ARG, "T%d: prompt_tokens, gen_tokens and unet_steps must be >= 0 "
                            "(0 = the task's default)", t->id);
    if (o->lora_rank < M4_LORA_NONE)
        return rt_error_set(e, RT_ERR_ARG, "T%d: lora_rank %d (0 = default %d, %d = none)", t->id, o->lora_rank,
                            M4_LORA_RANK_DEFAULT, M4_LORA_NONE);
    if (o->backbone_format != M4_FMT_DEFAULT && o->backbone_format != M4_FMT_INT8 &&
        o->backbone_format != M4_FMT_INT4 && o->backbone_format != M4_FMT_FP16)
        return rt_error_set(e, RT_ERR_ARG, "T%d: backbone format '%s' (expected int8, int4 or fp16)", t->id,
                            m4_format_name(o->backbone_format));
    return RT_OK;
}

bool m4_task_runs_backbone(const m4_task *t) { return t && (t->path == 1 || t->path == 2); }
bool m4_task_takes_lora(const m4_task *t) { return t && t->path != 4; }

int m4_task_gen_tokens(const m4_task *t, const m4_task_options *o)
{
    if (!m4_task_runs_backbone(t) || t->generator != M4_GEN_DEC)
        return 0;
    return o && o->gen_tokens ? o->gen_tokens : t->gen_tokens;
}

rt_status m4_task_plan(const m4_task *t, const m4_task_options *o, m4_step *steps, int max_steps,
                       int *n_steps, rt_error *e)
{
    m4_task_options none = {0};
    if (!o)
        o = &none;
    if (!t || !steps || !n_steps)
        return rt_error_set(e, RT_ERR_ARG, "m4_task_plan: no task, steps or count");
    *n_steps = 0;
    rt_status st = check_options(t, o, e);
    if (st != RT_OK)
        return st;
    plan pl = {steps, max_steps, 0, t, e};
    int lora = o->lora_rank == M4_LORA_NONE ? 0 : o->lora_rank ? o->lora_rank : M4_LORA_RANK_DEFAULT;
    int steps_unet = o->unet_steps ? o->unet_steps : t->unet_steps;

    if (t->path == 3) {
        if (t->encoder != M4_MODULE_NONE)
            st = add_encoder(&pl, t->encoder, lora);
        if (st == RT_OK && t->text_query)
            st = add(&pl, M4_TXT_ENC, &(m4_module_params){.lora_rank = lora}, 1, M4_PHASE_ONCE, "query text encoder");
    } else if (t->path == 4) {
        if (t->generator == M4_TTS_DEC)
            st = add(&pl, M4_TTS_DEC, &(m4_module_params){.phonemes = t->phonemes, .mel_frames = t->mel_frames}, 1,
                     M4_PHASE_ONCE, "speech generator");
    } else if (t->path == 1 || t->path == 2) {
        int prefix = 0;
        if (t->path == 1) {
            st = add_encoder(&pl, t->encoder, 0);
            prefix = t->modality_tokens;
            m4_module_params pp = {.tokens = prefix};
            if (t->encoder == M4_AUDI_ENC) {
                pp.in_dim = M4_WHISPER_DIM;
                pp.stack = WHISPER_STACK;
            }
            if (st == RT_OK)
                st = add(&pl, M4_PROJECTION, &pp, 1, M4_PHASE_ONCE, "projection into the backbone");
        }
        int text = o->prompt_tokens ? o->prompt_tokens : t->prompt_tokens;
        int len = text + prefix;
        bool tokens_out = t->generator == M4_GEN_DEC;
        int gen = tokens_out ? (o->gen_tokens ? o->gen_tokens : t->gen_tokens) : 0;
        if (len + gen > M4_LLAMA_CONTEXT)
            return rt_error_set(e, RT_ERR_ARG, "T%d (%s): %d prompt + %d generated tokens exceed LLaMA's %d-token "
                                "context", t->id, t->name, len, gen, M4_LLAMA_CONTEXT);
        if (st == RT_OK)
            st = add(&pl, M4_BACKBONE_PREFILL,
                     &(m4_module_params){.tokens = len, .prefix_tokens = prefix, .lora_rank = lora,
                                         .format = o->backbone_format},
                     1, M4_PHASE_ONCE, "prompt prefill");
        if (tokens_out) {
            m4_module_params head = {.format = o->backbone_format};
            if (st == RT_OK)
                st = add(&pl, M4_GEN_DEC, &head, 1, M4_PHASE_ONCE, "first token");
            if (st == RT_OK && gen > 1) {
                int first = len, last = len + gen - 2;
                st = add(&pl, M4_BACKBONE_DECODE,
                         &(m4_module_params){.kv_len = (first + last) / 2, .lora_rank = lora,
                                             .format = o->backbone_format},
                         gen - 1, M4_PHASE_PER_TOKEN, "decode step");
                if (st == RT_OK) {
                    steps[pl.n - 1].kv_first = first;
                    steps[pl.n - 1].kv_last = last;
                    st = add(&pl, M4_GEN_DEC, &head, gen - 1, M4_PHASE_PER_TOKEN, "next token");
                }
            }
        }
    } else {
        return rt_error_set(e, RT_ERR_ARG, "T%d: path %d is not 1..4", t->id, t->path);
    }
    if (st == RT_OK && t->generator == M4_IMG_DEC) {
        if (steps_unet < 1)
            return rt_error_set(e, RT_ERR_ARG, "T%d: IMG_dec needs at least one UNet step", t->id);
        st = add(&pl, M4_IMG_DEC_UNET, &(m4_module_params){.batch = t->unet_batch}, steps_unet, M4_PHASE_ONCE,
                 "denoising step");
        if (st == RT_OK)
            st = add(&pl, M4_IMG_DEC_VAE, NULL, 1, M4_PHASE_ONCE, "VAE decoder");
    }
    *n_steps = pl.n;
    return st;
}
