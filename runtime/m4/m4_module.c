/* m4_module.c -- the list of M4 modules: names, published configurations, default formats, the
 * build parameters each one takes (with defaults and allowed ranges), dispatch to the builders,
 * and the statistics every report reads from a built graph (parameters, MACs, weight bytes). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m4_internal.h"
#include "ops.h"

/* The size fields of m4_module_params, in one table so that resolving and checking is data. */
enum {
    F_TOKENS, F_KV_LEN, F_PREFIX, F_CLIPS, F_FRAMES, F_SAMPLES, F_LATENT, F_BATCH, F_PHONEMES,
    F_MEL_FRAMES, F_IN_DIM, F_STACK, F_CLASSES, F_COUNT
};

static const struct {
    const char *name;
    size_t offset;
} fields[F_COUNT] = {
    [F_TOKENS] = {"tokens", offsetof(m4_module_params, tokens)},
    [F_KV_LEN] = {"kv_len", offsetof(m4_module_params, kv_len)},
    [F_PREFIX] = {"prefix_tokens", offsetof(m4_module_params, prefix_tokens)},
    [F_CLIPS] = {"clips", offsetof(m4_module_params, clips)},
    [F_FRAMES] = {"frames", offsetof(m4_module_params, frames)},
    [F_SAMPLES] = {"samples", offsetof(m4_module_params, samples)},
    [F_LATENT] = {"latent", offsetof(m4_module_params, latent)},
    [F_BATCH] = {"batch", offsetof(m4_module_params, batch)},
    [F_PHONEMES] = {"phonemes", offsetof(m4_module_params, phonemes)},
    [F_MEL_FRAMES] = {"mel_frames", offsetof(m4_module_params, mel_frames)},
    [F_IN_DIM] = {"in_dim", offsetof(m4_module_params, in_dim)},
    [F_STACK] = {"stack", offsetof(m4_module_params, stack)},
    [F_CLASSES] = {"classes", offsetof(m4_module_params, classes)},
};

/* used = false: the module takes no such parameter (it must stay 0) */
typedef struct field_spec {
    bool used;
    int dflt, min, max, multiple;
} field_spec;

#define USE(d, lo, hi) {true, (d), (lo), (hi), 1}
#define USE_MULT(d, lo, hi, m) {true, (d), (lo), (hi), (m)}
#define MAX_LORA_RANK 256
#define MAX_CLIPS 64
#define DEFAULT_PREFILL_TOKENS 48  /* the prompt length at which Table 1's 312 G fits (docs/m4.md) */
#define DEFAULT_KV_LEN 511         /* the step that writes position 512 (docs/m4.md) */
#define MAX_LLAMA_TOKENS M4_LLAMA_CONTEXT
#define TTS_MAX_LEN 1000           /* FastSpeech2 max_seq_len */
#define IMAGENET_CLASSES 1000      /* the ImageNet-1k classifier of the CNN TS-models */
#define MAX_CLASSES 100000
#define TEXT_CLASSES 2             /* a binary sequence classifier unless a task says otherwise */
#define BERT_SEQ_DEFAULT 128       /* the length TinyBERT's BERT-base FLOPs are given at (docs/m4.md) */
#define SQUAD_SEQ_DEFAULT 384      /* the SQuAD fine-tuning and deployment length (docs/m4.md) */
#define BERT_MAX_POSITIONS 512
#define TS_IMAGE(d) {[F_CLASSES] = USE((d), 1, MAX_CLASSES)}
#define TS_TEXT(n) {[F_TOKENS] = USE((n), 1, BERT_MAX_POSITIONS), [F_CLASSES] = USE(TEXT_CLASSES, 1, MAX_CLASSES)}

typedef struct module_def {
    m4_module_info info;
    field_spec f[F_COUNT];
    bool lora;                     /* takes LoRA adapters (the paper: backbone and encoders) */
} module_def;

static const module_def modules[M4_MODULE_COUNT] = {
    [M4_IMG_ENC] = {{M4_IMG_ENC, "IMG_enc", "IMG_enc",
                     "ViT-H/14: Conv3d (2,14,14) patches of a 224x224 image repeated to 2 frames, 257 tokens, "
                     "32 layers, d=1280, 16 heads, MLP 5120, head 1280->1024",
                     M4_FMT_FP16, "facebookresearch/ImageBind imagebind_model.py (vision)",
                     "image [clips, 3, 224, 224] (frames 1) or video [clips, 3, 2, 224, 224]"},
                    {[F_CLIPS] = USE(1, 1, MAX_CLIPS), [F_FRAMES] = USE(1, 1, 2)}, true},
    [M4_TXT_ENC] = {{M4_TXT_ENC, "TXT_enc", "TXT_enc",
                     "OpenCLIP ViT-H text: vocab 49408, 77 tokens, causal mask, 24 layers, d=1024, 16 heads, "
                     "MLP 4096, projection 1024->1024 at the EOS token",
                     M4_FMT_FP16, "ImageBind imagebind_model.py (text); mlfoundations/open_clip ViT-H-14",
                     "input_ids i64 [1, tokens], eos_index i64 []"},
                    {[F_TOKENS] = USE(M4_TXT_CONTEXT, 1, M4_TXT_CONTEXT)}, true},
    [M4_AUDB_ENC] = {{M4_AUDB_ENC, "AUD-B_enc", "AUD-B_enc",
                      "ViT-B audio: 3 clips of a 128x204 mel, Conv2d k16 s10 -> 228 patches + cls = 229 tokens, "
                      "12 layers, d=768, 12 heads, MLP 3072, bias_kv, head 768->1024, clips averaged",
                      M4_FMT_FP16, "ImageBind imagebind_model.py (audio)", "audio_mel [clips, 1, 128, 204]"},
                     {[F_CLIPS] = USE(3, 1, MAX_CLIPS)}, true},
    [M4_AUDI_ENC] = {{M4_AUDI_ENC, "AUD-I_enc", "AUD-I_enc",
                      "Whisper tiny.en encoder: 80 mels x 3000 frames, 2 conv1d (k3; stride 1, 2) + GELU, "
                      "1500 tokens, 4 layers, d=384, 6 heads, FFN 1536",
                      M4_FMT_FP16, "openai/whisper ModelDimensions (sherpa-onnx scripts/whisper/model-info.md)",
                      "input_features [1, 80, 2 * tokens]"},
                     {[F_TOKENS] = USE(M4_WHISPER_FRAMES, 1, M4_WHISPER_FRAMES)}, true},
    [M4_IMU_ENC] = {{M4_IMU_ENC, "IMU_enc", "IMU_enc",
                     "6x2000 IMU window in patches of 8 -> Linear 48->512, 251 tokens, 6 layers, d=512, 8 heads, "
                     "MLP 2048, bias_kv, head 512->1024",
                     M4_FMT_FP16, "ImageBind imagebind_model.py (imu)", "imu [1, 6, samples]"},
                    {[F_SAMPLES] = USE_MULT(M4_IMU_SAMPLES, 8, M4_IMU_SAMPLES, 8)}, true},
    [M4_BACKBONE_PREFILL] = {{M4_BACKBONE_PREFILL, "backbone-prefill", "backbone",
                              "LLaMA-7B over L tokens: 32 layers, d=4096, 32 heads, SwiGLU 11008, RMSNorm, rotary, "
                              "vocab 32000, causal mask; returns hidden states and the KV cache",
                              M4_FMT_INT8, "LLaMA paper (Touvron et al. 2023), HF LlamaModel",
                              "input_ids i64 [1, tokens - prefix_tokens], inputs_embeds_prefix [1, prefix_tokens, 4096] "
                              "(if any), attention_mask i64 [1, tokens], position_ids i64 [1, tokens]"},
                             {[F_TOKENS] = USE(DEFAULT_PREFILL_TOKENS, 1, MAX_LLAMA_TOKENS),
                              [F_PREFIX] = {true, 0, 0, MAX_LLAMA_TOKENS - 1, 1}}, true},
    [M4_BACKBONE_DECODE] = {{M4_BACKBONE_DECODE, "backbone-decode", "backbone",
                             "LLaMA-7B, one new token against a KV cache of C tokens (Concat), no mask",
                             M4_FMT_INT8, "LLaMA paper, HF LlamaModel with past_key_values",
                             "input_ids i64 [1, 1], position_ids i64 [1, 1], past_key_values.{0..31}.{key,value} "
                             "[1, 32, kv_len, 128]"},
                            {[F_KV_LEN] = USE(DEFAULT_KV_LEN, 1, MAX_LLAMA_TOKENS - 1)}, true},
    [M4_GEN_DEC] = {{M4_GEN_DEC, "GEN_dec", "GEN_dec",
                     "LLaMA output head 4096 -> 32000 over the last T positions (default 1)",
                     M4_FMT_INT8, "LLaMA lm_head (initialised from LLaMA, paper section 3.2)",
                     "hidden_states [1, tokens, 4096]"},
                    {[F_TOKENS] = USE(1, 1, MAX_LLAMA_TOKENS)}, false},
    [M4_TTS_DEC] = {{M4_TTS_DEC, "TTS_dec", "TTS_dec",
                     "FastSpeech2 stand-in: encoder 4 / decoder 6 FFT blocks, d=256, 2 heads, conv1d 1024 "
                     "k9/k1, variance adaptor, mel 80, Tacotron-2 post-net (5 conv1d k5)",
                     M4_FMT_FP32, "ming024/FastSpeech2 config/LJSpeech/model.yaml",
                     "phonemes i64 [1, phonemes], alignment f32 [1, mel_frames, phonemes]"},
                    {[F_PHONEMES] = USE(80, 1, TTS_MAX_LEN), [F_MEL_FRAMES] = USE(566, 1, TTS_MAX_LEN)}, false},
    [M4_IMG_DEC] = {{M4_IMG_DEC, "IMG_dec", "IMG_dec",
                     "one Stable Diffusion v1 UNet step (guidance combine, DDIM update) then the VAE decoder",
                     M4_FMT_FP16, "CompVis/stable-diffusion configs/stable-diffusion/v1-inference.yaml",
                     "latent [1, 4, latent, latent], timestep i64 [batch], encoder_hidden_states [batch, 77, 768]"},
                    {[F_LATENT] = USE_MULT(64, 8, 128, 8), [F_BATCH] = USE(1, 1, 2)}, false},
    [M4_IMG_DEC_UNET] = {{M4_IMG_DEC_UNET, "IMG_dec-unet", "IMG_dec",
                          "SD v1 UNet: model_ch 320, ch_mult 1,2,4,4, 2 res blocks, attention at ds 1,2,4, 8 heads, "
                          "context 77x768, latent 4x64x64",
                          M4_FMT_FP16, "v1-inference.yaml; diffusers UNet2DConditionModel",
                          "latent [1, 4, latent, latent], timestep i64 [batch], encoder_hidden_states [batch, 77, 768]"},
                         {[F_LATENT] = USE_MULT(64, 8, 128, 8), [F_BATCH] = USE(1, 1, 2)}, false},
    [M4_IMG_DEC_VAE] = {{M4_IMG_DEC_VAE, "IMG_dec-vae", "IMG_dec",
                         "SD v1 VAE decoder: 4 latent channels, ch 128, mult 1,2,4,4, 3 resnets per level, mid "
                         "attention; 64x64 latent -> 512x512x3",
                         M4_FMT_FP16, "v1-inference.yaml first_stage_config; diffusers AutoencoderKL",
                         "latent [1, 4, latent, latent]"},
                        {[F_LATENT] = USE_MULT(64, 8, 128, 8)}, false},
    [M4_PROJECTION] = {{M4_PROJECTION, "projection", "projection",
                        "Linear(encoder width * stack -> 4096) with a bias, per projected token",
                        M4_FMT_FP16, "PandaGPT llama_proj (the prototype M4 builds on)",
                        "encoder_embedding [1, tokens * stack, in_dim]"},
                       {[F_TOKENS] = USE(1, 1, MAX_LLAMA_TOKENS), [F_IN_DIM] = USE(M4_IMAGEBIND_DIM, 1, 8192),
                        [F_STACK] = USE(1, 1, 16)}, false},
    /* ---- task-specific models (docs/m4.md, "Task-specific models") ---- */
    [M4_TS_RESNET50] = {{M4_TS_RESNET50, "resnet50", "TS-model",
                         "ResNet-50 v1.5: 7x7 stem, max pool, bottlenecks 3-4-6-3 (stride in the 3x3), global "
                         "average pool, fc 2048->classes; BN folded into the convolutions; 224x224",
                         M4_FMT_INT8, "He et al. 2016; torchvision resnet50", "image [1, 3, 224, 224]", true},
                        TS_IMAGE(IMAGENET_CLASSES), false},
    [M4_TS_RESNET152] = {{M4_TS_RESNET152, "resnet152", "TS-model",
                          "ResNet-152 v1.5: 7x7 stem, max pool, bottlenecks 3-8-36-3 (stride in the 3x3), global "
                          "average pool, fc 2048->classes; BN folded into the convolutions; 224x224",
                          M4_FMT_INT8, "He et al. 2016; torchvision resnet152", "image [1, 3, 224, 224]", true},
                         TS_IMAGE(IMAGENET_CLASSES), false},
    [M4_TS_MOBILENET_V1] = {{M4_TS_MOBILENET_V1, "mobilenet-v1", "TS-model",
                             "MobileNet v1 1.0: 3x3 conv s2 + 13 depthwise-separable layers (depthwise 3x3 + "
                             "pointwise 1x1), ReLU6, global average pool, fc 1024->classes; BN folded; 224x224",
                             M4_FMT_INT8, "Howard et al. 2017, Table 1; TF-slim mobilenet_v1",
                             "image [1, 3, 224, 224]", true},
                            TS_IMAGE(IMAGENET_CLASSES), false},
    [M4_TS_MOBILENET_V2] = {{M4_TS_MOBILENET_V2, "mobilenet-v2", "TS-model",
                             "MobileNet v2 1.0: 3x3 conv s2, 17 inverted residual bottlenecks (expand 1x1, "
                             "depthwise 3x3, linear project 1x1), 1x1 conv to 1280, ReLU6, global average pool, "
                             "fc 1280->classes; BN folded; 224x224",
                             M4_FMT_INT8, "Sandler et al. 2018, Table 2; torchvision mobilenet_v2",
                             "image [1, 3, 224, 224]", true},
                            TS_IMAGE(IMAGENET_CLASSES), false},
    [M4_TS_INCEPTION_V1] = {{M4_TS_INCEPTION_V1, "inception-v1", "TS-model",
                             "GoogLeNet: 7x7 s2 stem, 1x1 and 3x3 convs, 9 Inception modules (1x1, 1x1->3x3, "
                             "1x1->3x3 as TF-slim builds the '5x5' branch, maxpool->1x1), global average pool, "
                             "fc 1024->classes; BN folded; 224x224",
                             M4_FMT_INT8, "Szegedy et al. 2015, Table 1; TF-slim inception_v1; torchvision googlenet",
                             "image [1, 3, 224, 224]", true},
                            TS_IMAGE(IMAGENET_CLASSES), false},
    [M4_TS_INCEPTION_V4] = {{M4_TS_INCEPTION_V4, "inception-v4", "TS-model",
                             "Inception v4: stem (Mixed 3a/4a/5a), 4 Inception-A, Reduction-A, 7 Inception-B "
                             "(1x7/7x1), Reduction-B, 3 Inception-C (1x3/3x1), global average pool, "
                             "fc 1536->classes; BN folded; 299x299",
                             M4_FMT_INT8, "Szegedy et al. 2016, Figures 3-9; TF-slim inception_v4; timm inception_v4",
                             "image [1, 3, 299, 299]", true},
                            TS_IMAGE(IMAGENET_CLASSES), false},
    [M4_TS_BERT_BASE] = {{M4_TS_BERT_BASE, "bert-base", "TS-model",
                          "BERT-base uncased: vocab 30522, 12 post-LN layers, d=768, 12 heads, FFN 3072, GELU, "
                          "pooler (tanh), classifier 768->classes; inputs padded to `tokens`",
                          M4_FMT_INT8, "Devlin et al. 2018; HF bert-base-uncased, BertForSequenceClassification",
                          "input_ids, attention_mask, token_type_ids i64 [1, tokens]", true},
                         TS_TEXT(BERT_SEQ_DEFAULT), false},
    [M4_TS_DISTILBERT] = {{M4_TS_DISTILBERT, "distilbert-base", "TS-model",
                           "DistilBERT uncased: vocab 30522, 6 post-LN layers, d=768, 12 heads, FFN 3072, GELU, "
                           "pre_classifier 768->768 + ReLU, classifier 768->classes; inputs padded to `tokens`",
                           M4_FMT_INT8, "Sanh et al. 2019; HF distilbert-base-uncased-finetuned-sst-2-english",
                           "input_ids, attention_mask i64 [1, tokens]", true},
                          TS_TEXT(BERT_SEQ_DEFAULT), false},
    [M4_TS_ROBERTA_BASE] = {{M4_TS_ROBERTA_BASE, "roberta-base", "TS-model",
                             "RoBERTa-base: vocab 50265, 514 positions from the input ids, 12 post-LN layers, "
                             "d=768, 12 heads, FFN 3072, GELU, classification head (dense + tanh + out_proj "
                             "768->classes); inputs padded to `tokens`",
                             M4_FMT_INT8, "Liu et al. 2019; fairseq roberta.base; HF RobertaForSequenceClassification",
                             "input_ids, attention_mask i64 [1, tokens]", true},
                            TS_TEXT(BERT_SEQ_DEFAULT), false},
    [M4_TS_ROBERTA_QA] = {{M4_TS_ROBERTA_QA, "roberta-base-squad2", "TS-model",
                           "RoBERTa-base with the extractive-QA head: qa_outputs 768->2 on every token, split into "
                           "start and end logits; inputs padded to `tokens` (384)",
                           M4_FMT_INT8, "deepset/roberta-base-squad2 (HF RobertaForQuestionAnswering)",
                           "input_ids, attention_mask i64 [1, tokens]", true},
                          {[F_TOKENS] = USE(SQUAD_SEQ_DEFAULT, 1, BERT_MAX_POSITIONS)}, false},
};

int m4_module_count(void)
{
    return M4_MODULE_COUNT;
}

const m4_module_info *m4_module_get(m4_module_id id)
{
    if ((int)id < 0 || id >= M4_MODULE_COUNT)
        return NULL;
    return &modules[id].info;
}

int m4_module_lookup(const char *name)
{
    if (!name)
        return M4_MODULE_NONE;
    if (strcmp(name, "backbone") == 0)
        return M4_BACKBONE_PREFILL;
    for (int i = 0; i < M4_MODULE_COUNT; i++)
        if (strcmp(modules[i].info.name, name) == 0)
            return i;
    return M4_MODULE_NONE;
}

const char *m4_format_name(m4_format f)
{
    static const char *const names[M4_FMT_COUNT] = {"default", "fp32", "fp16", "int8", "int4"};
    return (int)f >= 0 && f < M4_FMT_COUNT ? names[f] : "?";
}

static int *field_ptr(m4_module_params *p, int f)
{
    return (int *)((char *)p + fields[f].offset);
}

int m4_module_param_count(void) { return F_COUNT; }
const char *m4_module_param_name(int i) { return i >= 0 && i < F_COUNT ? fields[i].name : "?"; }

bool m4_module_takes_param(m4_module_id id, int i)
{
    return (int)id >= 0 && id < M4_MODULE_COUNT && i >= 0 && i < F_COUNT && modules[id].f[i].used;
}

int m4_module_param_value(const m4_module_params *p, int i)
{
    return i >= 0 && i < F_COUNT ? *(const int *)((const char *)p + fields[i].offset) : 0;
}

bool m4_module_takes_lora(m4_module_id id) { return (int)id >= 0 && id < M4_MODULE_COUNT && modules[id].lora; }

const char *m4_lora_targets_str(unsigned targets, char *buf, size_t size)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {M4_LORA_Q, "q"}, {M4_LORA_K, "k"}, {M4_LORA_V, "v"}, {M4_LORA_O, "o"}};
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0] && n < size; i++)
        if (targets & names[i].bit)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "," : "", names[i].name);
    return buf;
}

rt_status m4_module_params_resolve(m4_module_id id, const m4_module_params *p, m4_module_params *out,
                                   rt_error *e)
{
    const m4_module_info *info = m4_module_get(id);
    if (!info)
        return rt_error_set(e, RT_ERR_ARG, "module id %d is not one of the %d M4 modules", (int)id, M4_MODULE_COUNT);
    const module_def *m = &modules[id];
    m4_module_params r = p ? *p : (m4_module_params){0};
    for (int f = 0; f < F_COUNT; f++) {
        int *v = field_ptr(&r, f);
        const field_spec *s = &m->f[f];
        if (!s->used) {
            if (*v != 0)
                return rt_error_set(e, RT_ERR_ARG, "%s: parameter '%s' does not apply to this module (got %d)",
                                    info->name, fields[f].name, *v);
            continue;
        }
        if (*v == 0)
            *v = s->dflt;
        if (*v < s->min || *v > s->max || *v % s->multiple != 0) {
            if (s->multiple > 1)
                return rt_error_set(e, RT_ERR_ARG, "%s: %s = %d, expected a multiple of %d in %d..%d", info->name,
                                    fields[f].name, *v, s->multiple, s->min, s->max);
            return rt_error_set(e, RT_ERR_ARG, "%s: %s = %d, expected %d..%d", info->name, fields[f].name, *v,
                                s->min, s->max);
        }
    }
    if (m->f[F_PREFIX].used && r.prefix_tokens >= r.tokens)
        return rt_error_set(e, RT_ERR_ARG, "%s: prefix_tokens = %d must be below tokens = %d (at least one text token)",
                            info->name, r.prefix_tokens, r.tokens);
    if (r.lora_rank < 0 || r.lora_rank > MAX_LORA_RANK)
        return rt_error_set(e, RT_ERR_ARG, "%s: lora_rank = %d, expected 0..%d", info->name, r.lora_rank, MAX_LORA_RANK);
    if (r.lora_rank > 0 && !m->lora)
        return rt_error_set(e, RT_ERR_ARG, "%s: takes no LoRA adapters (%s)", info->name,
                            info->task_specific ? "a task-specific model is fine-tuned whole"
                                                : "the paper adapts the backbone and the encoders");
    unsigned all = M4_LORA_Q | M4_LORA_K | M4_LORA_V | M4_LORA_O;
    if (r.lora_targets & ~all)
        return rt_error_set(e, RT_ERR_ARG, "%s: lora_targets = 0x%x has bits outside q|k|v|o (0x%x)", info->name,
                            r.lora_targets, all);
    if (r.lora_targets && r.lora_rank == 0)
        return rt_error_set(e, RT_ERR_ARG, "%s: lora_targets given without a lora_rank", info->name);
    if (r.lora_rank > 0 && r.lora_targets == 0)
        r.lora_targets = M4_LORA_TARGETS_DEFAULT;
    if ((int)r.format < 0 || r.format >= M4_FMT_COUNT)
        return rt_error_set(e, RT_ERR_ARG, "%s: format %d is not a format (0..%d)", info->name, (int)r.format,
                            M4_FMT_COUNT - 1);
    if (r.format == M4_FMT_DEFAULT)
        r.format = info->default_format;
    *out = r;
    return RT_OK;
}

rt_graph *m4_module_build_id(m4_module_id id, const m4_module_params *p, rt_error *e)
{
    m4_module_params r;
    if (m4_module_params_resolve(id, p, &r, e) != RT_OK)
        return NULL;
    rt_graph *g = NULL;
    switch (id) {
    case M4_IMG_ENC: g = m4_build_img_enc(&r, e); break;
    case M4_TXT_ENC: g = m4_build_txt_enc(&r, e); break;
    case M4_AUDB_ENC: g = m4_build_audb_enc(&r, e); break;
    case M4_AUDI_ENC: g = m4_build_audi_enc(&r, e); break;
    case M4_IMU_ENC: g = m4_build_imu_enc(&r, e); break;
    case M4_BACKBONE_PREFILL: g = m4_build_backbone(&r, false, e); break;
    case M4_BACKBONE_DECODE: g = m4_build_backbone(&r, true, e); break;
    case M4_GEN_DEC: g = m4_build_gen_dec(&r, e); break;
    case M4_TTS_DEC: g = m4_build_tts_dec(&r, e); break;
    case M4_IMG_DEC: g = m4_build_img_dec(&r, true, true, e); break;
    case M4_IMG_DEC_UNET: g = m4_build_img_dec(&r, true, false, e); break;
    case M4_IMG_DEC_VAE: g = m4_build_img_dec(&r, false, true, e); break;
    case M4_PROJECTION: g = m4_build_projection(&r, e); break;
    case M4_TS_RESNET50:
    case M4_TS_RESNET152:
    case M4_TS_MOBILENET_V1:
    case M4_TS_MOBILENET_V2:
    case M4_TS_INCEPTION_V1:
    case M4_TS_INCEPTION_V4: g = m4_build_ts_cnn(id, &r, e); break;
    case M4_TS_BERT_BASE:
    case M4_TS_DISTILBERT:
    case M4_TS_ROBERTA_BASE:
    case M4_TS_ROBERTA_QA: g = m4_build_ts_bert(id, &r, e); break;
    default: break;
    }
    if (!g && e && e->code == RT_OK)
        rt_error_set(e, RT_ERR_NOMEM, "%s: out of memory", m4_module_get(id)->name);
    return g;
}

rt_graph *m4_module_build(const char *name, const m4_module_params *p, rt_error *e)
{
    int id = m4_module_lookup(name);
    if (id == M4_MODULE_NONE) {
        char list[1024] = "";
        for (int i = 0; i < M4_MODULE_COUNT; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, modules[i].info.name, sizeof list - strlen(list) - 1);
        }
        rt_error_set(e, RT_ERR_NOT_FOUND, "unknown M4 module '%s' (modules: %s; 'backbone' = backbone-prefill)",
                     name ? name : "(null)", list);
        return NULL;
    }
    return m4_module_build_id((m4_module_id)id, p, e);
}

/* ---------------------------------------------------------------------------------------- */
/* Statistics                                                                                  */

static bool is_parameter(const rt_tensor *t)
{
    return t->kind == RT_TENSOR_CONSTANT && t->data == NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool m4_is_weight_cast(const rt_graph *g, int n)
{
    if (!g || n < 0 || n >= g->n_nodes)
        return false;
    const rt_node *nd = &g->nodes[n];
    if (nd->op != RT_OP_Cast || nd->n_inputs < 1 || nd->inputs[0] < 0 || nd->n_outputs < 1 || nd->outputs[0] < 0)
        return false;
    const rt_tensor *in = g->tensors[nd->inputs[0]], *out = g->tensors[nd->outputs[0]];
    return is_parameter(in) && rt_dtype_is_int(in->dtype) && rt_dtype_is_float(out->dtype);
}

/* Is tensor t a parameter, or a parameter seen through its weight cast or a Reshape of it? */
static bool reads_weight(const rt_graph *g, int t)
{
    if (t < 0)
        return false;
    if (is_parameter(g->tensors[t]))
        return true;
    int p = g->tensors[t]->producer;
    if (p < 0)
        return false;
    if (m4_is_weight_cast(g, p))
        return true;
    const rt_node *nd = &g->nodes[p];
    return nd->op == RT_OP_Reshape && nd->n_inputs > 0 && nd->inputs[0] >= 0 && is_parameter(g->tensors[nd->inputs[0]]);
}

rt_status m4_module_stats_get(const rt_graph *g, m4_module_stats *s, rt_error *e)
{
    *s = (m4_module_stats){0};
    if (!g)
        return rt_error_set(e, RT_ERR_ARG, "m4_module_stats_get: no graph");
    rt_cost c;
    rt_status st = graph_cost(g, &c, e);
    if (st != RT_OK)
        return st;
    s->macs = c.macs;
    s->flops = c.flops;
    s->nodes = g->n_nodes;
    /* per parameter: bytes read by Gathers of rows, and whether anything reads it whole */
    uint64_t *gathered = calloc((size_t)g->n_tensors + 1, sizeof *gathered);
    bool *whole = calloc((size_t)g->n_tensors + 1, sizeof *whole);
    if (!gathered || !whole) {
        free(gathered);
        free(whole);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (module statistics)");
    }
    for (int n = 0; n < g->n_nodes; n++) {
        const rt_node *nd = &g->nodes[n];
        if (nd->op == RT_OP_MatMul && nd->n_inputs == 2 && !reads_weight(g, nd->inputs[0]) &&
            !reads_weight(g, nd->inputs[1])) {
            rt_cost nc;
            if ((st = graph_node_cost(g, n, &nc, e)) != RT_OK)
                break;
            s->macs_activation += nc.macs;
        }
        if (m4_is_weight_cast(g, n)) {
            rt_cost nc;
            if ((st = graph_node_cost(g, n, &nc, e)) != RT_OK)
                break;
            s->weight_cast_flops += nc.flops;
        }
        for (int i = 0; i < nd->n_inputs; i++) {
            int t = nd->inputs[i];
            if (t < 0 || !is_parameter(g->tensors[t]))
                continue;
            const rt_tensor *w = g->tensors[t];
            bool row_gather = nd->op == RT_OP_Gather && i == 0 && rt_node_attr_int(nd, "axis", 0) == 0 &&
                              nd->n_inputs > 1 && nd->inputs[1] >= 0 && w->rank >= 1 && w->dims[0] > 0;
            if (row_gather) {
                int64_t rows = rt_tensor_numel(g->tensors[nd->inputs[1]]);
                gathered[t] += rows < 0 ? rt_tensor_nbytes(w) : (uint64_t)rows * (rt_tensor_nbytes(w) / (uint64_t)w->dims[0]);
            } else {
                whole[t] = true;
            }
        }
    }
    uint64_t largest = 0;
    for (int t = 0; t < g->n_tensors && st == RT_OK; t++) {
        const rt_tensor *w = g->tensors[t];
        if (!is_parameter(w))
            continue;
        uint64_t bytes = rt_tensor_nbytes(w);
        int64_t numel = rt_tensor_numel(w);
        s->weights++;
        s->weight_bytes += bytes;
        uint64_t streamed = whole[t] ? bytes : gathered[t] < bytes ? gathered[t] : bytes;
        s->weight_bytes_streamed += streamed;
        if (bytes > largest) {
            largest = bytes;
            s->weight_dtype = w->dtype;
        }
        if (ends_with(w->name, ".weight_scale"))
            continue;
        s->params += (double)numel;
        if (strstr(w->name, ".lora_A") || strstr(w->name, ".lora_B"))
            s->lora_params += (double)numel;
    }
    free(gathered);
    free(whole);
    if (st != RT_OK)
        return st;
    for (int i = 0; i < g->n_inputs; i++)
        s->input_bytes += rt_tensor_nbytes(g->tensors[g->inputs[i]]);
    for (int i = 0; i < g->n_outputs; i++)
        s->output_bytes += rt_tensor_nbytes(g->tensors[g->outputs[i]]);
    return RT_OK;
}
