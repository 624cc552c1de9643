/* m4_tts.c -- TTS_dec, M4's speech generator. The paper names a fairseq transformer TTS without
 * its configuration; M4.md takes FastSpeech2 (ming024/FastSpeech2 config/LJSpeech/model.yaml)
 * as the stand-in: a 4-layer phoneme encoder and a 6-layer mel decoder of post-norm FFT blocks
 * (d=256, 2 heads, conv1d filter 1024 with kernels 9 and 1), the variance adaptor (duration,
 * pitch and energy predictors at phoneme level), an 80-bin mel projection and the Tacotron-2
 * post-net (5 conv1d of kernel 5 with Tanh; BatchNorm folded into the convs, as torch.onnx does
 * in eval mode).
 *
 * Two parts have no static-shape ONNX form in the original code and are written as exports of
 * this model usually are: the length regulator is a MatMul with the frame-to-phoneme alignment
 * matrix [1, mel_frames, phonemes] that the host builds from the predicted durations (VITS-style
 * exports do the same), and the pitch/energy embeddings are FastPitch-style Conv1d(1 -> 256, k3)
 * instead of bucketize + Embedding. Batch 1 without padding needs no masks. */
#include <stdio.h>

#include "m4_internal.h"

#define TTS_DIM 256
#define TTS_HEADS 2
#define TTS_FILTER 1024
#define TTS_K1 9
#define TTS_K2 1
#define TTS_ENC_LAYERS 4
#define TTS_DEC_LAYERS 6
#define TTS_VOCAB 361          /* len(symbols) + 1 in ming024's text/symbols.py (approx.) */
#define TTS_MAX_SEQ 1000       /* max_seq_len: the sinusoid position tables have 1001 rows */
#define TTS_VP_FILTER 256
#define TTS_VP_K 3
#define TTS_MELS 80
#define TTS_POSTNET_CH 512
#define TTS_POSTNET_K 5
#define TTS_POSTNET_LAYERS 5
#define TTS_LN_EPS 1e-5f

/* Conv1d on a [1, T, C] sequence as the models write it: transpose, conv, transpose back. */
static int conv_seq(mb *b, int x, const char *name, int64_t cin, int64_t cout, int64_t k)
{
    int64_t pad = (k - 1) / 2;
    int t = mb_transpose(b, x, 3, (int64_t[]){0, 2, 1});
    t = mb_conv(b, t, name, cin, cout, 1, &k, NULL, &pad, true);
    return mb_transpose(b, t, 3, (int64_t[]){0, 2, 1});
}

/* FFTBlock: post-norm multi-head attention, then the conv feed-forward */
static int fft_block(mb *b, int x)
{
    const int64_t d = TTS_DIM, dh = d / TTS_HEADS;
    size_t s = mb_push(b, "slf_attn");
    int q = mb_split_heads(b, mb_linear(b, x, "w_qs", d, d, true, false), TTS_HEADS, dh);
    int k = mb_split_heads(b, mb_linear(b, x, "w_ks", d, d, true, false), TTS_HEADS, dh);
    int v = mb_split_heads(b, mb_linear(b, x, "w_vs", d, d, true, false), TTS_HEADS, dh);
    int o = mb_merge_heads(b, mb_attention_core(b, q, k, v, dh, -1, false), TTS_HEADS, dh);
    o = mb_linear(b, o, "fc", d, d, true, false);
    x = mb_layernorm(b, mb_binary(b, "Add", o, x), "layer_norm", d, TTS_LN_EPS);
    mb_pop(b, s);
    s = mb_push(b, "pos_ffn");
    int h = mb_unary(b, "Relu", conv_seq(b, x, "w_1", d, TTS_FILTER, TTS_K1));
    h = conv_seq(b, h, "w_2", TTS_FILTER, d, TTS_K2);
    x = mb_layernorm(b, mb_binary(b, "Add", h, x), "layer_norm", d, TTS_LN_EPS);
    mb_pop(b, s);
    return x;
}

static int fft_stack(mb *b, int x, const char *name, int layers, int64_t len)
{
    size_t s = mb_push(b, "%s", name);
    /* the sinusoid table is an nn.Parameter (requires_grad=False) in the original code */
    int pos = mb_param(b, "position_enc", 3, (int64_t[]){1, TTS_MAX_SEQ + 1, TTS_DIM});
    x = mb_binary(b, "Add", x, mb_slice(b, pos, 0, len, 1));
    for (int i = 0; i < layers && x >= 0; i++) {
        size_t s2 = mb_push(b, "layer_stack.%d", i);
        x = fft_block(b, x);
        mb_pop(b, s2);
    }
    mb_pop(b, s);
    return x;
}

/* VariancePredictor: (conv1d k3, ReLU, LayerNorm) x 2, Linear(256, 1) -> [1, T] */
static int variance_predictor(mb *b, int x, const char *name, int64_t len)
{
    size_t s = mb_push(b, "%s", name);
    int h = mb_unary(b, "Relu", conv_seq(b, x, "conv_layer.conv1d_1", TTS_DIM, TTS_VP_FILTER, TTS_VP_K));
    h = mb_layernorm(b, h, "conv_layer.layer_norm_1", TTS_VP_FILTER, TTS_LN_EPS);
    h = mb_unary(b, "Relu", conv_seq(b, h, "conv_layer.conv1d_2", TTS_VP_FILTER, TTS_VP_FILTER, TTS_VP_K));
    h = mb_layernorm(b, h, "conv_layer.layer_norm_2", TTS_VP_FILTER, TTS_LN_EPS);
    h = mb_linear(b, h, "linear_layer", TTS_VP_FILTER, 1, true, false);
    mb_pop(b, s);
    return mb_reshape(b, h, 2, (int64_t[]){1, len});
}

/* FastPitch-style embedding of a per-phoneme value [1, T] -> [1, T, 256] */
static int value_embedding(mb *b, int v, const char *name, int64_t len)
{
    const int64_t k = 3, pad = 1;
    int t = mb_reshape(b, v, 3, (int64_t[]){1, 1, len});
    t = mb_conv(b, t, name, 1, TTS_DIM, 1, &k, NULL, &pad, true);
    return mb_transpose(b, t, 3, (int64_t[]){0, 2, 1});
}

rt_graph *m4_build_tts_dec(const m4_module_params *p, rt_error *e)
{
    mb b;
    if (!mb_init(&b, "TTS_dec", p->format, p))
        return NULL;
    int64_t np = p->phonemes, nm = p->mel_frames;
    int ids = mb_input(&b, "phonemes", RT_DT_I64, 2, (int64_t[]){1, np});
    int align = mb_input(&b, "alignment", b.act, 3, (int64_t[]){1, nm, np});
    int table = mb_param(&b, "encoder.src_word_emb.weight", 2, (int64_t[]){TTS_VOCAB, TTS_DIM});
    int x = mb_gather(&b, table, ids, 0);
    x = fft_stack(&b, x, "encoder", TTS_ENC_LAYERS, np);
    size_t s = mb_push(&b, "variance_adaptor");
    int log_dur = variance_predictor(&b, x, "duration_predictor", np);
    int pitch = variance_predictor(&b, x, "pitch_predictor", np);
    x = mb_binary(&b, "Add", x, value_embedding(&b, pitch, "pitch_embedding", np));
    int energy = variance_predictor(&b, x, "energy_predictor", np);
    x = mb_binary(&b, "Add", x, value_embedding(&b, energy, "energy_embedding", np));
    x = mb_binary(&b, "MatMul", align, x); /* length regulator */
    mb_pop(&b, s);
    x = fft_stack(&b, x, "decoder", TTS_DEC_LAYERS, nm);
    int mel = mb_linear(&b, x, "mel_linear", TTS_DIM, TTS_MELS, true, false);
    /* PostNet on [1, 80, T]: conv (BN folded) + Tanh, the last without Tanh; residual */
    s = mb_push(&b, "postnet");
    int h = mb_transpose(&b, mel, 3, (int64_t[]){0, 2, 1});
    const int64_t k = TTS_POSTNET_K, pad = (TTS_POSTNET_K - 1) / 2;
    for (int i = 0; i < TTS_POSTNET_LAYERS; i++) {
        int64_t cin = i == 0 ? TTS_MELS : TTS_POSTNET_CH;
        int64_t cout = i == TTS_POSTNET_LAYERS - 1 ? TTS_MELS : TTS_POSTNET_CH;
        char name[40];
        snprintf(name, sizeof name, "convolutions.%d", i);
        h = mb_conv(&b, h, name, cin, cout, 1, &k, NULL, &pad, true);
        if (i < TTS_POSTNET_LAYERS - 1)
            h = mb_unary(&b, "Tanh", h);
    }
    mb_pop(&b, s);
    int out = mb_binary(&b, "Add", mel, mb_transpose(&b, h, 3, (int64_t[]){0, 2, 1}));
    mb_output(&b, out, "mel");
    mb_output(&b, log_dur, "log_duration");
    return mb_finish(&b, e);
}
