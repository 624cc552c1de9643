/* m4_whisper.c -- AUD-I_enc, the Whisper tiny.en encoder (M4's "audio intent" encoder): two
 * GELU conv1d layers over 80 log-mel channels (the second with stride 2), learnt positions, and
 * 4 pre-norm transformer layers of width 384 with 6 heads, as HF WhisperEncoder exports it
 * (q_proj with a bias, k_proj without; q scaled by 1/sqrt(64) before the product). */
#include "m4_internal.h"

#define WH_MELS 80
#define WH_LAYERS 4
#define WH_HEADS 6
#define WH_FFN 1536
#define WH_CONV_K 3
#define WH_LN_EPS 1e-5f

static int whisper_layer(mb *b, int x)
{
    const int64_t d = M4_WHISPER_DIM, dh = d / WH_HEADS;
    int h = mb_layernorm(b, x, "self_attn_layer_norm", d, WH_LN_EPS);
    size_t s = mb_push(b, "self_attn");
    int q = mb_linear(b, h, "q_proj", d, d, true, (b->lora_targets & M4_LORA_Q) != 0);
    int k = mb_linear(b, h, "k_proj", d, d, false, (b->lora_targets & M4_LORA_K) != 0);
    int v = mb_linear(b, h, "v_proj", d, d, true, (b->lora_targets & M4_LORA_V) != 0);
    q = mb_split_heads(b, q, WH_HEADS, dh);
    k = mb_split_heads(b, k, WH_HEADS, dh);
    v = mb_split_heads(b, v, WH_HEADS, dh);
    int o = mb_attention_core(b, q, k, v, dh, -1, true);
    o = mb_merge_heads(b, o, WH_HEADS, dh);
    o = mb_linear(b, o, "out_proj", d, d, true, (b->lora_targets & M4_LORA_O) != 0);
    mb_pop(b, s);
    x = mb_binary(b, "Add", x, o);
    h = mb_layernorm(b, x, "final_layer_norm", d, WH_LN_EPS);
    h = mb_gelu(b, mb_linear(b, h, "fc1", d, WH_FFN, true, false));
    h = mb_linear(b, h, "fc2", WH_FFN, d, true, false);
    return mb_binary(b, "Add", x, h);
}

rt_graph *m4_build_audi_enc(const m4_module_params *p, rt_error *e)
{
    mb b;
    if (!mb_init(&b, "AUD-I_enc", p->format, p))
        return NULL;
    const int64_t d = M4_WHISPER_DIM, n = p->tokens, k = WH_CONV_K, pad = 1, stride2 = 2;
    /* 2 mel frames per encoder token (conv2 has stride 2): 3000 frames = 30 s at a 10 ms hop */
    int x = mb_input(&b, "input_features", b.act, 3, (int64_t[]){1, WH_MELS, 2 * n});
    x = mb_gelu(&b, mb_conv(&b, x, "conv1", WH_MELS, d, 1, &k, NULL, &pad, true));
    x = mb_gelu(&b, mb_conv(&b, x, "conv2", d, d, 1, &k, &stride2, &pad, true));
    x = mb_transpose(&b, x, 3, (int64_t[]){0, 2, 1});
    int pos = mb_param(&b, "embed_positions.weight", 2, (int64_t[]){M4_WHISPER_FRAMES, d});
    if (n < M4_WHISPER_FRAMES)
        pos = mb_slice(&b, pos, 0, n, 0);
    x = mb_binary(&b, "Add", x, pos);
    for (int i = 0; i < WH_LAYERS && x >= 0; i++) {
        size_t s = mb_push(&b, "layers.%d", i);
        x = whisper_layer(&b, x);
        mb_pop(&b, s);
    }
    x = mb_layernorm(&b, x, "layer_norm", d, WH_LN_EPS);
    mb_output(&b, x, "last_hidden_state");
    return mb_finish(&b, e);
}
