/* m4_imagebind.c -- the four ImageBind encoders of M4's multimodal embedding: IMG_enc (vision
 * ViT-H/14), TXT_enc (the OpenCLIP ViT-H text transformer), AUD-B_enc (audio ViT-B) and IMU_enc.
 * They share ImageBind's trunk (pre-norm blocks of nn.MultiheadAttention with a packed q/k/v
 * in_proj, and a GELU MLP) and differ in their stems and heads, which follow
 * facebookresearch/ImageBind imagebind/models/imagebind_model.py. The embedding's final L2
 * normalisation and logit scale (one vector of 1024 values) are left to the host's similarity
 * step and not built. */
#include <math.h>
#include <stdlib.h>

#include "m4_internal.h"

#define IB_OUT_DIM M4_IMAGEBIND_DIM
#define IB_LN_EPS 1e-6f      /* ImageBind's trunk and head LayerNorms */
#define IB_MLP_RATIO 4

#define VIS_DIM 1280
#define VIS_LAYERS 32
#define VIS_HEADS 16
#define VIS_PATCH 14
#define VIS_FRAMES 2         /* Conv3d temporal kernel: an image is repeated to 2 frames */
#define VIS_CHANNELS 3

#define TXT_DIM 1024
#define TXT_LAYERS 24
#define TXT_HEADS 16
#define TXT_VOCAB 49408

#define AUD_DIM 768
#define AUD_LAYERS 12
#define AUD_HEADS 12
#define AUD_MELS 128
#define AUD_MEL_FRAMES 204   /* 2 s clip at ImageBind's 10 ms hop */
#define AUD_PATCH 16
#define AUD_STRIDE 10

#define IMU_DIM 512
#define IMU_LAYERS 6
#define IMU_HEADS 8
#define IMU_CHANNELS 6
#define IMU_KERNEL 8

/* nn.MultiheadAttention as exported: packed in_proj, heads split by Reshape/Transpose/Gather,
 * optional learnt bias_k/bias_v appended to the keys and values (add_bias_kv=True). */
static int mha_packed(mb *b, int x, int64_t d, int64_t heads, int mask, bool bias_kv)
{
    int64_t bs = mb_dim(b, x, 0), t = mb_dim(b, x, 1), dh = d / heads;
    bool lora_qkv = (b->lora_targets & (M4_LORA_Q | M4_LORA_K | M4_LORA_V)) != 0;
    int qkv = mb_linear(b, x, "in_proj", d, 3 * d, true, lora_qkv);
    qkv = mb_reshape(b, qkv, 5, (int64_t[]){bs, t, 3, heads, dh});
    qkv = mb_transpose(b, qkv, 5, (int64_t[]){2, 0, 3, 1, 4}); /* [3, B, H, T, dh] */
    int q = mb_gather(b, qkv, mb_scalar_dt(b, RT_DT_I64, 0), 0);
    int k = mb_gather(b, qkv, mb_scalar_dt(b, RT_DT_I64, 1), 0);
    int v = mb_gather(b, qkv, mb_scalar_dt(b, RT_DT_I64, 2), 0);
    if (bias_kv) {
        int64_t one3[3] = {1, 1, d}, bshape[4] = {bs, heads, 1, dh};
        int bk = mb_param(b, "bias_k", 3, one3), bv = mb_param(b, "bias_v", 3, one3);
        int shape = mb_const_i64(b, 4, bshape);
        bk = mb_op(b, "Expand", 2, (int[]){mb_split_heads(b, bk, heads, dh), shape});
        bv = mb_op(b, "Expand", 2, (int[]){mb_split_heads(b, bv, heads, dh), shape});
        k = mb_concat(b, 2, (int[]){k, bk}, 2);
        v = mb_concat(b, 2, (int[]){v, bv}, 2);
    }
    int o = mb_attention_core(b, q, k, v, dh, mask, true);
    o = mb_merge_heads(b, o, heads, dh);
    return mb_linear(b, o, "out_proj", d, d, true, (b->lora_targets & M4_LORA_O) != 0);
}

/* ImageBind BlockWithMasking: x + attn(norm_1(x)); x + mlp(norm_2(x)) */
static int trunk(mb *b, int x, int layers, int64_t d, int64_t heads, int mask, bool bias_kv)
{
    for (int i = 0; i < layers && x >= 0; i++) {
        size_t s = mb_push(b, "blocks.%d", i);
        int h = mb_layernorm(b, x, "norm_1", d, IB_LN_EPS);
        size_t s2 = mb_push(b, "attn");
        h = mha_packed(b, h, d, heads, mask, bias_kv);
        mb_pop(b, s2);
        x = mb_binary(b, "Add", x, h);
        h = mb_layernorm(b, x, "norm_2", d, IB_LN_EPS);
        h = mb_linear(b, h, "mlp.fc1", d, IB_MLP_RATIO * d, true, false);
        h = mb_gelu(b, h);
        h = mb_linear(b, h, "mlp.fc2", IB_MLP_RATIO * d, d, true, false);
        x = mb_binary(b, "Add", x, h);
        mb_pop(b, s);
    }
    return x;
}

/* [B, C, ...spatial] patch grid -> [B, N, C] tokens, then the class token and positions. */
static int tokens_with_cls(mb *b, int grid, int64_t d, bool stem_norm)
{
    int64_t bs = mb_dim(b, grid, 0);
    int t = mb_reshape(b, grid, 3, (int64_t[]){bs, d, -1});
    t = mb_transpose(b, t, 3, (int64_t[]){0, 2, 1});
    if (stem_norm)
        t = mb_layernorm(b, t, "rgbt_stem.norm_layer", d, 1e-5f);
    int64_t n = mb_dim(b, t, 1);
    int cls = mb_param(b, "cls_token", 3, (int64_t[]){1, 1, d});
    cls = mb_op(b, "Expand", 2, (int[]){cls, mb_const_i64(b, 3, (int64_t[]){bs, 1, d})});
    t = mb_concat(b, 2, (int[]){cls, t}, 1);
    int pos = mb_param(b, "pos_embed", 3, (int64_t[]){1, n + 1, d});
    return mb_binary(b, "Add", t, pos);
}

/* head: LayerNorm -> SelectElement(0) -> Linear(d, 1024, bias=False), then the clips of one
 * input are averaged (ImageBind: embeddings.reshape(B, S, -1).mean(dim=1)). */
static int head_select_first(mb *b, int x, int64_t d, int64_t clips)
{
    size_t s = mb_push(b, "head");
    int h = mb_layernorm(b, x, "norm", d, IB_LN_EPS);
    h = mb_gather(b, h, mb_scalar_dt(b, RT_DT_I64, 0), 1);
    h = mb_linear(b, h, "proj", d, IB_OUT_DIM, false, false);
    mb_pop(b, s);
    if (clips > 1) {
        h = mb_reshape(b, h, 3, (int64_t[]){1, clips, IB_OUT_DIM});
        h = mb_reduce_mean(b, h, 1, false);
    }
    return h;
}

rt_graph *m4_build_img_enc(const m4_module_params *p, rt_error *e)
{
    mb b;
    if (!mb_init(&b, "IMG_enc", p->format, p))
        return NULL;
    int64_t clips = p->clips, px = M4_IMAGE_PX;
    int x;
    if (p->frames == 1) {
        /* PadIm2Video(pad_type="repeat", ntimes=2): the image becomes a 2-frame clip */
        x = mb_input(&b, "image", b.act, 4, (int64_t[]){clips, VIS_CHANNELS, px, px});
        x = mb_unsqueeze(&b, x, 1, (int64_t[]){2});
        x = mb_concat(&b, VIS_FRAMES, (int[]){x, x}, 2);
    } else {
        x = mb_input(&b, "video", b.act, 5, (int64_t[]){clips, VIS_CHANNELS, VIS_FRAMES, px, px});
    }
    size_t s = mb_push(&b, "preprocessor");
    x = mb_conv(&b, x, "rgbt_stem.proj", VIS_CHANNELS, VIS_DIM, 3,
                (int64_t[]){VIS_FRAMES, VIS_PATCH, VIS_PATCH}, (int64_t[]){VIS_FRAMES, VIS_PATCH, VIS_PATCH},
                NULL, false);
    x = tokens_with_cls(&b, x, VIS_DIM, false);
    mb_pop(&b, s);
    s = mb_push(&b, "trunk");
    x = mb_layernorm(&b, x, "pre_transformer_ln", VIS_DIM, IB_LN_EPS);
    x = trunk(&b, x, VIS_LAYERS, VIS_DIM, VIS_HEADS, -1, false);
    mb_pop(&b, s);
    x = head_select_first(&b, x, VIS_DIM, clips);
    mb_output(&b, x, "embedding");
    return mb_finish(&b, e);
}

/* OpenCLIP's causal mask buffer: -inf above the diagonal (exported as an initializer). */
static int causal_mask_const(mb *b, int64_t n)
{
    float *m = malloc((size_t)(n * n) * sizeof *m);
    if (!m)
        return mb_fail(b, RT_ERR_NOMEM, "out of memory (mask)");
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            m[i * n + j] = j > i ? -INFINITY : 0.0f;
    int t = mb_const_act(b, 2, (int64_t[]){n, n}, m);
    free(m);
    return t;
}

rt_graph *m4_build_txt_enc(const m4_module_params *p, rt_error *e)
{
    mb b;
    if (!mb_init(&b, "TXT_enc", p->format, p))
        return NULL;
    int64_t n = p->tokens;
    int ids = mb_input(&b, "input_ids", RT_DT_I64, 2, (int64_t[]){1, n});
    /* the EOS position comes from the tokenizer (torch: text.argmax(-1) on the token ids) */
    int eos = mb_input(&b, "eos_index", RT_DT_I64, 0, NULL);
    size_t s = mb_push(&b, "preprocessor");
    int table = mb_param(&b, "token_embedding.weight", 2, (int64_t[]){TXT_VOCAB, TXT_DIM});
    int x = mb_gather(&b, table, ids, 0);
    int pos = mb_param(&b, "pos_embed", 3, (int64_t[]){1, M4_TXT_CONTEXT, TXT_DIM});
    if (n < M4_TXT_CONTEXT)
        pos = mb_slice(&b, pos, 0, n, 1);
    x = mb_binary(&b, "Add", x, pos);
    mb_pop(&b, s);
    int mask = causal_mask_const(&b, n);
    s = mb_push(&b, "trunk");
    x = trunk(&b, x, TXT_LAYERS, TXT_DIM, TXT_HEADS, mask, false);
    mb_pop(&b, s);
    /* head SelectEOSAndProject: LayerNorm -> x[:, eos] -> Linear(1024, 1024, bias=False) */
    s = mb_push(&b, "head");
    x = mb_layernorm(&b, x, "norm", TXT_DIM, IB_LN_EPS);
    x = mb_gather(&b, x, eos, 1);
    x = mb_linear(&b, x, "proj", TXT_DIM, IB_OUT_DIM, false, false);
    mb_pop(&b, s);
    mb_output(&b, x, "embedding");
    return mb_finish(&b, e);
}

rt_graph *m4_build_audb_enc(const m4_module_params *p, rt_error *e)
{
    mb b;
    if (!mb_init(&b, "AUD-B_enc", p->format, p))
        return NULL;
    int64_t clips = p->clips;
    int x = mb_input(&b, "audio_mel", b.act, 4, (int64_t[]){clips, 1, AUD_MELS, AUD_MEL_FRAMES});
    size_t s = mb_push(&b, "preprocessor");
    x = mb_conv(&b, x, "rgbt_stem.proj", 1, AUD_DIM, 2, (int64_t[]){AUD_PATCH, AUD_PATCH},
                (int64_t[]){AUD_STRIDE, AUD_STRIDE}, NULL, false);
    x = tokens_with_cls(&b, x, AUD_DIM, true);
    mb_pop(&b, s);
    s = mb_push(&b, "trunk");
    x = trunk(&b, x, AUD_LAYERS, AUD_DIM, AUD_HEADS, -1, true);
    mb_pop(&b, s);
    x = head_select_first(&b, x, AUD_DIM, clips);
    mb_output(&b, x, "embedding");
    return mb_finish(&b, e);
}

rt_graph *m4_build_imu_enc(const m4_module_params *p, rt_error *e)
{
    mb b;
    if (!mb_init(&b, "IMU_enc", p->format, p))
        return NULL;
    int64_t n = p->samples, patches = n / IMU_KERNEL;
    int x = mb_input(&b, "imu", b.act, 3, (int64_t[]){1, IMU_CHANNELS, n});
    size_t s = mb_push(&b, "preprocessor");
    /* x.unfold(-1, 8, 8).permute(0, 2, 1, 3).reshape(B, 250, 48) */
    x = mb_reshape(&b, x, 4, (int64_t[]){1, IMU_CHANNELS, patches, IMU_KERNEL});
    x = mb_transpose(&b, x, 4, (int64_t[]){0, 2, 1, 3});
    x = mb_reshape(&b, x, 3, (int64_t[]){1, patches, IMU_CHANNELS * IMU_KERNEL});
    x = mb_linear(&b, x, "imu_stem.proj", IMU_CHANNELS * IMU_KERNEL, IMU_DIM, false, false);
    x = mb_layernorm(&b, x, "imu_stem.norm_layer", IMU_DIM, 1e-5f);
    int cls = mb_param(&b, "cls_token", 3, (int64_t[]){1, 1, IMU_DIM});
    cls = mb_op(&b, "Expand", 2, (int[]){cls, mb_const_i64(&b, 3, (int64_t[]){1, 1, IMU_DIM})});
    x = mb_concat(&b, 2, (int[]){cls, x}, 1);
    /* the position table is sized for ImageBind's 2000-sample window */
    int pos = mb_param(&b, "pos_embed", 3, (int64_t[]){1, M4_IMU_SAMPLES / IMU_KERNEL + 1, IMU_DIM});
    if (n < M4_IMU_SAMPLES)
        pos = mb_slice(&b, pos, 0, patches + 1, 1);
    x = mb_binary(&b, "Add", x, pos);
    mb_pop(&b, s);
    s = mb_push(&b, "trunk");
    x = trunk(&b, x, IMU_LAYERS, IMU_DIM, IMU_HEADS, -1, true);
    mb_pop(&b, s);
    x = head_select_first(&b, x, IMU_DIM, 1);
    mb_output(&b, x, "embedding");
    return mb_finish(&b, e);
}
