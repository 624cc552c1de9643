/* m4_llama.c -- M4's foundation backbone (LLaMA-7B), its generator head GEN_dec and the MLP
 * projection from an encoder into the backbone.
 *
 * The backbone is built as HF transformers' LlamaModel exports it: RMSNorm in f32 (Cast, Pow,
 * ReduceMean, Add, Sqrt, Div, Mul, Cast, Mul), rotary embeddings computed once from the
 * position ids (MatMul of the inverse frequencies, Concat, Cos, Sin) and applied per layer
 * (Slice, Neg, Concat, Mul, Add), attention with the softmax in f32, a SwiGLU MLP (Sigmoid, Mul),
 * and a key/value cache: prefill of L tokens returns the cache ("present") and applies the
 * causal mask built from the position ids and the attention mask (Less, Where, Add); a decode
 * step appends one token to a cache of C tokens (Concat) and needs no mask (batch 1, no
 * padding). Projection weights are INT8 by default (m4.h: Cast + MatMul + Mul of the per-channel
 * scales); the embedding table, the norms and any LoRA adapters stay f16. */
#include <math.h>
#include <stdio.h>

#include "m4_internal.h"

#define LL_LAYERS 32
#define LL_HEADS 32
#define LL_HEAD_DIM 128
#define LL_FFN 11008
#define LL_VOCAB 32000
#define LL_EPS 1e-6f
#define LL_ROPE_BASE 10000.0

/* torch.finfo(dtype).min, the value HF LLaMA puts in masked scores */
static double mask_min(rt_dtype act)
{
    return act == RT_DT_F16 ? -65504.0 : -3.4028234663852886e38;
}

/* cos/sin tables [1, L, 128] (activation type) from position_ids [1, L]. */
static void rotary_tables(mb *b, int pos_ids, int *cos, int *sin)
{
    float inv[LL_HEAD_DIM / 2];
    for (int i = 0; i < LL_HEAD_DIM / 2; i++)
        inv[i] = (float)(1.0 / pow(LL_ROPE_BASE, (2.0 * i) / LL_HEAD_DIM));
    size_t s = mb_push(b, "rotary_emb");
    int inv_freq = mb_const_f32(b, 3, (int64_t[]){1, LL_HEAD_DIM / 2, 1}, inv);
    int p = mb_cast(b, mb_unsqueeze(b, pos_ids, 1, (int64_t[]){1}), RT_DT_F32); /* [1, 1, L] */
    int freqs = mb_binary(b, "MatMul", inv_freq, p);                         /* [1, 64, L] */
    freqs = mb_transpose(b, freqs, 3, (int64_t[]){0, 2, 1});
    int emb = mb_concat(b, 2, (int[]){freqs, freqs}, -1);                     /* [1, L, 128] */
    *cos = mb_unary(b, "Cos", emb);
    *sin = mb_unary(b, "Sin", emb);
    if (b->act != RT_DT_F32) {
        *cos = mb_cast(b, *cos, b->act);
        *sin = mb_cast(b, *sin, b->act);
    }
    mb_pop(b, s);
}

/* x * cos + rotate_half(x) * sin, x [1, H, T, 128]; cos/sin [1, 1, T, 128] */
static int apply_rotary(mb *b, int x, int cos, int sin)
{
    const int64_t half = LL_HEAD_DIM / 2;
    int x1 = mb_slice(b, x, 0, half, 3), x2 = mb_slice(b, x, half, LL_HEAD_DIM, 3);
    int rot = mb_concat(b, 2, (int[]){mb_unary(b, "Neg", x2), x1}, -1);
    return mb_binary(b, "Add", mb_binary(b, "Mul", x, cos), mb_binary(b, "Mul", rot, sin));
}

static int llama_attention(mb *b, int h, int cos, int sin, int mask, int past_k, int past_v,
                           int *present_k, int *present_v)
{
    const int64_t d = M4_LLAMA_DIM;
    unsigned tg = b->lora_targets;
    int q = mb_split_heads(b, mb_linear(b, h, "q_proj", d, d, false, tg & M4_LORA_Q), LL_HEADS, LL_HEAD_DIM);
    int k = mb_split_heads(b, mb_linear(b, h, "k_proj", d, d, false, tg & M4_LORA_K), LL_HEADS, LL_HEAD_DIM);
    int v = mb_split_heads(b, mb_linear(b, h, "v_proj", d, d, false, tg & M4_LORA_V), LL_HEADS, LL_HEAD_DIM);
    int c = mb_unsqueeze(b, cos, 1, (int64_t[]){1}), s = mb_unsqueeze(b, sin, 1, (int64_t[]){1});
    q = apply_rotary(b, q, c, s);
    k = apply_rotary(b, k, c, s);
    if (past_k >= 0) {
        k = mb_concat(b, 2, (int[]){past_k, k}, 2);
        v = mb_concat(b, 2, (int[]){past_v, v}, 2);
    }
    *present_k = k;
    *present_v = v;
    int kt = mb_transpose(b, k, 4, (int64_t[]){0, 1, 3, 2});
    int sc = mb_binary(b, "Div", mb_binary(b, "MatMul", q, kt), mb_scalar(b, sqrtf((float)LL_HEAD_DIM)));
    if (mask >= 0)
        sc = mb_binary(b, "Add", sc, mask);
    /* softmax(dim=-1, dtype=torch.float32).to(query.dtype) */
    if (b->act != RT_DT_F32)
        sc = mb_cast(b, sc, RT_DT_F32);
    int pr = mb_softmax(b, sc, -1);
    if (b->act != RT_DT_F32)
        pr = mb_cast(b, pr, b->act);
    int o = mb_merge_heads(b, mb_binary(b, "MatMul", pr, v), LL_HEADS, LL_HEAD_DIM);
    return mb_linear(b, o, "o_proj", d, d, false, tg & M4_LORA_O);
}

static int llama_mlp(mb *b, int h)
{
    const int64_t d = M4_LLAMA_DIM;
    int gate = mb_silu(b, mb_linear(b, h, "gate_proj", d, LL_FFN, false, false));
    int up = mb_linear(b, h, "up_proj", d, LL_FFN, false, false);
    return mb_linear(b, mb_binary(b, "Mul", gate, up), "down_proj", LL_FFN, d, false, false);
}

/* The prefill mask [1, 1, L, L]: finfo.min where key j is in the future of query i (from the
 * position ids) or is padding (attention_mask 0); 0 elsewhere. */
static int prefill_mask(mb *b, int pos_ids, int attn_mask)
{
    size_t s = mb_push(b, "causal_mask");
    int lo = mb_scalar(b, (float)mask_min(b->act)), zero = mb_scalar(b, 0.0f);
    int pi = mb_unsqueeze(b, pos_ids, 1, (int64_t[]){2}), pj = mb_unsqueeze(b, pos_ids, 1, (int64_t[]){1});
    int future = mb_binary(b, "Less", pi, pj);                               /* [1, L, L] */
    int causal = mb_op(b, "Where", 3, (int[]){future, lo, zero});
    int am = mb_unsqueeze(b, attn_mask, 1, (int64_t[]){1});                   /* [1, 1, L] */
    int pad = mb_binary(b, "Less", am, mb_scalar_dt(b, RT_DT_I64, 1));
    int padm = mb_op(b, "Where", 3, (int[]){pad, lo, zero});
    int m = mb_unsqueeze(b, mb_binary(b, "Add", causal, padm), 1, (int64_t[]){1});
    mb_pop(b, s);
    return m;
}

rt_graph *m4_build_backbone(const m4_module_params *p, bool decode, rt_error *e)
{
    mb b;
    if (!mb_init(&b, decode ? "backbone-decode" : "backbone-prefill", p->format, p))
        return NULL;
    const int64_t d = M4_LLAMA_DIM;
    int64_t n = decode ? 1 : p->tokens, prefix = decode ? 0 : p->prefix_tokens, c = p->kv_len;
    int ids = mb_input(&b, "input_ids", RT_DT_I64, 2, (int64_t[]){1, n - prefix});
    int pre = prefix > 0 ? mb_input(&b, "inputs_embeds_prefix", b.act, 3, (int64_t[]){1, prefix, d}) : -1;
    int am = decode ? -1 : mb_input(&b, "attention_mask", RT_DT_I64, 2, (int64_t[]){1, n});
    int pos = mb_input(&b, "position_ids", RT_DT_I64, 2, (int64_t[]){1, n});
    int past_k[LL_LAYERS], past_v[LL_LAYERS];
    for (int i = 0; i < LL_LAYERS; i++) {
        past_k[i] = past_v[i] = -1;
        if (!decode)
            continue;
        char name[64];
        int64_t kv[4] = {1, LL_HEADS, c, LL_HEAD_DIM};
        snprintf(name, sizeof name, "past_key_values.%d.key", i);
        past_k[i] = mb_input(&b, name, b.act, 4, kv);
        snprintf(name, sizeof name, "past_key_values.%d.value", i);
        past_v[i] = mb_input(&b, name, b.act, 4, kv);
    }
    int table = mb_param(&b, "embed_tokens.weight", 2, (int64_t[]){LL_VOCAB, d});
    int x = mb_gather(&b, table, ids, 0);
    if (pre >= 0)
        x = mb_concat(&b, 2, (int[]){pre, x}, 1);
    int cos, sin;
    rotary_tables(&b, pos, &cos, &sin);
    int mask = decode ? -1 : prefill_mask(&b, pos, am);
    int present_k[LL_LAYERS], present_v[LL_LAYERS];
    for (int i = 0; i < LL_LAYERS; i++)
        present_k[i] = present_v[i] = -1;
    for (int i = 0; i < LL_LAYERS && x >= 0; i++) {
        size_t s = mb_push(&b, "layers.%d", i);
        int h = mb_rmsnorm(&b, x, "input_layernorm", d, LL_EPS);
        size_t s2 = mb_push(&b, "self_attn");
        h = llama_attention(&b, h, cos, sin, mask, past_k[i], past_v[i], &present_k[i], &present_v[i]);
        mb_pop(&b, s2);
        x = mb_binary(&b, "Add", x, h);
        h = mb_rmsnorm(&b, x, "post_attention_layernorm", d, LL_EPS);
        s2 = mb_push(&b, "mlp");
        h = llama_mlp(&b, h);
        mb_pop(&b, s2);
        x = mb_binary(&b, "Add", x, h);
        mb_pop(&b, s);
    }
    x = mb_rmsnorm(&b, x, "norm", d, LL_EPS);
    mb_output(&b, x, "last_hidden_state");
    for (int i = 0; i < LL_LAYERS; i++) {
        mb_output(&b, present_k[i], "present key");
        mb_output(&b, present_v[i], "present value");
    }
    return mb_finish(&b, e);
}

rt_graph *m4_build_gen_dec(const m4_module_params *p, rt_error *e)
{
    mb b;
    if (!mb_init(&b, "GEN_dec", p->format, p))
        return NULL;
    int x = mb_input(&b, "hidden_states", b.act, 3, (int64_t[]){1, p->tokens, M4_LLAMA_DIM});
    x = mb_linear(&b, x, "lm_head", M4_LLAMA_DIM, LL_VOCAB, false, false);
    mb_output(&b, x, "logits");
    return mb_finish(&b, e);
}

rt_graph *m4_build_projection(const m4_module_params *p, rt_error *e)
{
    /* PandaGPT's llama_proj: Linear(encoder width, 4096) with a bias. Encoders with a sequence
     * (Whisper) stack `stack` consecutive frames per token first (a Reshape). */
    mb b;
    if (!mb_init(&b, "projection", p->format, p))
        return NULL;
    int64_t n = p->tokens, k = p->stack, din = p->in_dim;
    int x = mb_input(&b, "encoder_embedding", b.act, 3, (int64_t[]){1, n * k, din});
    if (k > 1)
        x = mb_reshape(&b, x, 3, (int64_t[]){1, n, k * din});
    x = mb_linear(&b, x, "llama_proj", k * din, M4_LLAMA_DIM, true, false);
    mb_output(&b, x, "inputs_embeds");
    return mb_finish(&b, e);
}
