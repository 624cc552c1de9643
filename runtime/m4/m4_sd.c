/* m4_sd.c -- IMG_dec, M4's image generator: one denoising step of the Stable Diffusion v1.x
 * UNet and the VAE decoder, as diffusers' UNet2DConditionModel and AutoencoderKL export them
 * (CompVis v1-inference.yaml: model_channels 320, channel_mult 1,2,4,4, 2 res blocks per level,
 * attention at downsampling 1, 2, 4 with 8 heads, cross-attention context 768; VAE ch 128 with
 * mult 1,2,4,4, 4 latent channels, one single-head attention in the middle).
 *
 * GroupNorm is Reshape/InstanceNormalization/Reshape/Mul/Add (torch.onnx below opset 18), SiLU
 * is Sigmoid*x, GEGLU is Split + Erf-GELU, upsampling is Resize (nearest, 2x) + Conv. The
 * combined IMG_dec graph is what a traced pipeline runs for one step and the final decode:
 * classifier-free guidance (batch 2) combined by the guidance formula, a DDIM update of the
 * latent, the 1/0.18215 latent scale, then the VAE decoder. */
#include <math.h>

#include "m4_internal.h"

#define SD_LATENT_CH 4
#define SD_MODEL_CH 320
#define SD_LEVELS 4
#define SD_RES_BLOCKS 2
#define SD_HEADS 8
#define SD_CONTEXT_DIM 768
#define SD_CONTEXT_TOKENS 77
#define SD_TIME_DIM (4 * SD_MODEL_CH)
#define SD_GROUPS 32
#define SD_RES_EPS 1e-5f
#define SD_ATTN_GN_EPS 1e-6f
#define SD_LN_EPS 1e-5f
#define SD_FF_MULT 4
#define SD_MAX_PERIOD 10000.0
#define SD_GUIDANCE 7.5f     /* CompVis txt2img default scale */
#define SD_LATENT_SCALE 0.18215f

#define VAE_CH 128
#define VAE_OUT_CH 3
#define VAE_EPS 1e-6f

static const int sd_mult[SD_LEVELS] = {1, 2, 4, 4};
static const bool sd_attn[SD_LEVELS] = {true, true, true, false}; /* ds 1, 2, 4 */
static const int vae_mult[SD_LEVELS] = {1, 2, 4, 4};

/* diffusers ResnetBlock2D; temb < 0 for the VAE (no time embedding) */
static int resnet(mb *b, int x, int64_t cin, int64_t cout, int temb, float eps)
{
    const int64_t k3[2] = {3, 3}, p1[2] = {1, 1}, k1[2] = {1, 1};
    int h = mb_silu(b, mb_groupnorm(b, x, "norm1", cin, SD_GROUPS, eps));
    h = mb_conv(b, h, "conv1", cin, cout, 2, k3, NULL, p1, true);
    if (temb >= 0) {
        int t = mb_linear(b, mb_silu(b, temb), "time_emb_proj", SD_TIME_DIM, cout, true, false);
        h = mb_binary(b, "Add", h, mb_unsqueeze(b, t, 2, (int64_t[]){2, 3}));
    }
    h = mb_silu(b, mb_groupnorm(b, h, "norm2", cout, SD_GROUPS, eps));
    h = mb_conv(b, h, "conv2", cout, cout, 2, k3, NULL, p1, true);
    if (cin != cout)
        x = mb_conv(b, x, "conv_shortcut", cin, cout, 2, k1, NULL, NULL, true);
    return mb_binary(b, "Add", x, h);
}

/* diffusers Attention: to_q/k/v (bias as given), heads, to_out.0 with a bias */
static int attention(mb *b, const char *name, int x, int ctx, int64_t c, int64_t cctx, int64_t heads,
                     bool qkv_bias)
{
    size_t s = mb_push(b, "%s", name);
    int64_t dh = c / heads;
    int src = ctx >= 0 ? ctx : x;
    int q = mb_split_heads(b, mb_linear(b, x, "to_q", c, c, qkv_bias, false), heads, dh);
    int k = mb_split_heads(b, mb_linear(b, src, "to_k", cctx, c, qkv_bias, false), heads, dh);
    int v = mb_split_heads(b, mb_linear(b, src, "to_v", cctx, c, qkv_bias, false), heads, dh);
    int o = mb_merge_heads(b, mb_attention_core(b, q, k, v, dh, -1, false), heads, dh);
    o = mb_linear(b, o, "to_out.0", c, c, true, false);
    mb_pop(b, s);
    return o;
}

/* [B, C, H, W] <-> [B, H*W, C] */
static int to_tokens(mb *b, int x)
{
    int64_t bs = mb_dim(b, x, 0), c = mb_dim(b, x, 1), hw = mb_dim(b, x, 2) * mb_dim(b, x, 3);
    x = mb_transpose(b, x, 4, (int64_t[]){0, 2, 3, 1});
    return mb_reshape(b, x, 3, (int64_t[]){bs, hw, c});
}

static int from_tokens(mb *b, int x, int64_t h, int64_t w)
{
    int64_t bs = mb_dim(b, x, 0), c = mb_dim(b, x, 2);
    x = mb_reshape(b, x, 4, (int64_t[]){bs, h, w, c});
    return mb_transpose(b, x, 4, (int64_t[]){0, 3, 1, 2});
}

/* Transformer2DModel (use_linear_projection=False) with one BasicTransformerBlock */
static int spatial_transformer(mb *b, int x, int64_t c, int ctx)
{
    const int64_t k1[2] = {1, 1};
    int64_t hh = mb_dim(b, x, 2), ww = mb_dim(b, x, 3);
    int h = mb_groupnorm(b, x, "norm", c, SD_GROUPS, SD_ATTN_GN_EPS);
    h = to_tokens(b, mb_conv(b, h, "proj_in", c, c, 2, k1, NULL, NULL, true));
    size_t s = mb_push(b, "transformer_blocks.0");
    int n = mb_layernorm(b, h, "norm1", c, SD_LN_EPS);
    h = mb_binary(b, "Add", h, attention(b, "attn1", n, -1, c, c, SD_HEADS, false));
    n = mb_layernorm(b, h, "norm2", c, SD_LN_EPS);
    h = mb_binary(b, "Add", h, attention(b, "attn2", n, ctx, c, SD_CONTEXT_DIM, SD_HEADS, false));
    n = mb_layernorm(b, h, "norm3", c, SD_LN_EPS);
    /* FeedForward with GEGLU: proj to 2 * 4c, chunk(2), hidden * gelu(gate) */
    int64_t inner = SD_FF_MULT * c;
    int proj = mb_linear(b, n, "ff.net.0.proj", c, 2 * inner, true, false);
    int parts[2] = {-1, -1};
    if (mb_op_n(b, "Split", 2, (int[]){proj, mb_const_i64(b, 2, (int64_t[]){inner, inner})}, 2, parts) == 0) {
        mb_attr_int(b, "axis", -1);
        mb_infer(b, 0);
    }
    proj = mb_binary(b, "Mul", parts[0], mb_gelu(b, parts[1]));
    h = mb_binary(b, "Add", h, mb_linear(b, proj, "ff.net.2", inner, c, true, false));
    mb_pop(b, s);
    h = mb_conv(b, from_tokens(b, h, hh, ww), "proj_out", c, c, 2, k1, NULL, NULL, true);
    return mb_binary(b, "Add", h, x);
}

static int upsample(mb *b, int x, int64_t c)
{
    const int64_t k3[2] = {3, 3}, p1[2] = {1, 1};
    const float scales[4] = {1.0f, 1.0f, 2.0f, 2.0f};
    int sc = mb_const_f32(b, 1, (int64_t[]){4}, scales);
    int y = mb_op_raw(b, "Resize", 3, (int[]){x, MB_EMPTY, sc});
    mb_attr_string(b, "mode", "nearest");
    mb_attr_string(b, "coordinate_transformation_mode", "asymmetric");
    mb_attr_string(b, "nearest_mode", "floor");
    y = mb_infer(b, y);
    return mb_conv(b, y, "upsamplers.0.conv", c, c, 2, k3, NULL, p1, true);
}

/* Sinusoidal timestep embedding (flip_sin_to_cos: cos first) and the time MLP: [B, 1280]. */
static int time_embedding(mb *b, int timestep)
{
    enum { HALF = SD_MODEL_CH / 2 };
    float freqs[HALF];
    for (int i = 0; i < HALF; i++)
        freqs[i] = (float)exp(-log(SD_MAX_PERIOD) * i / HALF);
    int f = mb_const_f32(b, 2, (int64_t[]){1, HALF}, freqs);
    int t = mb_unsqueeze(b, mb_cast(b, timestep, RT_DT_F32), 1, (int64_t[]){1});
    int args = mb_binary(b, "Mul", t, f);
    int emb = mb_concat(b, 2, (int[]){mb_unary(b, "Cos", args), mb_unary(b, "Sin", args)}, -1);
    if (b->act != RT_DT_F32)
        emb = mb_cast(b, emb, b->act);
    size_t s = mb_push(b, "time_embedding");
    emb = mb_linear(b, emb, "linear_1", SD_MODEL_CH, SD_TIME_DIM, true, false);
    emb = mb_linear(b, mb_silu(b, emb), "linear_2", SD_TIME_DIM, SD_TIME_DIM, true, false);
    mb_pop(b, s);
    return emb;
}

/* The UNet on latent x [B, 4, h, w] with context [B, 77, 768]; returns the noise prediction. */
static int unet(mb *b, int x, int timestep, int ctx)
{
    const int64_t k3[2] = {3, 3}, p1[2] = {1, 1}, s2[2] = {2, 2};
    size_t s0 = mb_push(b, "unet");
    int temb = time_embedding(b, timestep);
    x = mb_conv(b, x, "conv_in", SD_LATENT_CH, SD_MODEL_CH, 2, k3, NULL, p1, true);
    int skips[1 + SD_LEVELS * (SD_RES_BLOCKS + 1)];
    int64_t skip_ch[1 + SD_LEVELS * (SD_RES_BLOCKS + 1)];
    int ns = 0;
    skips[ns] = x, skip_ch[ns++] = SD_MODEL_CH;
    int64_t ch = SD_MODEL_CH;
    for (int l = 0; l < SD_LEVELS; l++) {
        int64_t out = (int64_t)SD_MODEL_CH * sd_mult[l];
        for (int j = 0; j < SD_RES_BLOCKS; j++) {
            size_t s = mb_push(b, "down_blocks.%d.resnets.%d", l, j);
            x = resnet(b, x, ch, out, temb, SD_RES_EPS);
            mb_pop(b, s);
            if (sd_attn[l]) {
                s = mb_push(b, "down_blocks.%d.attentions.%d", l, j);
                x = spatial_transformer(b, x, out, ctx);
                mb_pop(b, s);
            }
            ch = out;
            skips[ns] = x, skip_ch[ns++] = ch;
        }
        if (l < SD_LEVELS - 1) {
            size_t s = mb_push(b, "down_blocks.%d.downsamplers.0", l);
            x = mb_conv(b, x, "conv", ch, ch, 2, k3, s2, p1, true);
            mb_pop(b, s);
            skips[ns] = x, skip_ch[ns++] = ch;
        }
    }
    size_t s = mb_push(b, "mid_block.resnets.0");
    x = resnet(b, x, ch, ch, temb, SD_RES_EPS);
    mb_pop(b, s);
    s = mb_push(b, "mid_block.attentions.0");
    x = spatial_transformer(b, x, ch, ctx);
    mb_pop(b, s);
    s = mb_push(b, "mid_block.resnets.1");
    x = resnet(b, x, ch, ch, temb, SD_RES_EPS);
    mb_pop(b, s);
    for (int u = 0; u < SD_LEVELS; u++) {
        int l = SD_LEVELS - 1 - u;
        int64_t out = (int64_t)SD_MODEL_CH * sd_mult[l];
        for (int j = 0; j < SD_RES_BLOCKS + 1; j++) {
            ns--;
            x = mb_concat(b, 2, (int[]){x, skips[ns]}, 1);
            s = mb_push(b, "up_blocks.%d.resnets.%d", u, j);
            x = resnet(b, x, ch + skip_ch[ns], out, temb, SD_RES_EPS);
            mb_pop(b, s);
            if (sd_attn[l]) {
                s = mb_push(b, "up_blocks.%d.attentions.%d", u, j);
                x = spatial_transformer(b, x, out, ctx);
                mb_pop(b, s);
            }
            ch = out;
        }
        if (l > 0) {
            s = mb_push(b, "up_blocks.%d", u);
            x = upsample(b, x, ch);
            mb_pop(b, s);
        }
    }
    x = mb_silu(b, mb_groupnorm(b, x, "conv_norm_out", ch, SD_GROUPS, SD_RES_EPS));
    x = mb_conv(b, x, "conv_out", ch, SD_LATENT_CH, 2, k3, NULL, p1, true);
    mb_pop(b, s0);
    return x;
}

/* The VAE decoder on latent z [1, 4, h, w] (already divided by the latent scale). */
static int vae_decoder(mb *b, int z)
{
    const int64_t k3[2] = {3, 3}, p1[2] = {1, 1}, k1[2] = {1, 1};
    size_t s0 = mb_push(b, "vae");
    z = mb_conv(b, z, "post_quant_conv", SD_LATENT_CH, SD_LATENT_CH, 2, k1, NULL, NULL, true);
    size_t s1 = mb_push(b, "decoder");
    int64_t ch = (int64_t)VAE_CH * vae_mult[SD_LEVELS - 1];
    int x = mb_conv(b, z, "conv_in", SD_LATENT_CH, ch, 2, k3, NULL, p1, true);
    size_t s = mb_push(b, "mid_block.resnets.0");
    x = resnet(b, x, ch, ch, -1, VAE_EPS);
    mb_pop(b, s);
    s = mb_push(b, "mid_block.attentions.0");
    {
        int64_t hh = mb_dim(b, x, 2), ww = mb_dim(b, x, 3);
        int h = to_tokens(b, mb_groupnorm(b, x, "group_norm", ch, SD_GROUPS, VAE_EPS));
        h = attention(b, "attn", h, -1, ch, ch, 1, true);
        x = mb_binary(b, "Add", from_tokens(b, h, hh, ww), x);
    }
    mb_pop(b, s);
    s = mb_push(b, "mid_block.resnets.1");
    x = resnet(b, x, ch, ch, -1, VAE_EPS);
    mb_pop(b, s);
    for (int u = 0; u < SD_LEVELS; u++) {
        int64_t out = (int64_t)VAE_CH * vae_mult[SD_LEVELS - 1 - u];
        for (int j = 0; j < SD_RES_BLOCKS + 1; j++) {
            s = mb_push(b, "up_blocks.%d.resnets.%d", u, j);
            x = resnet(b, x, ch, out, -1, VAE_EPS);
            mb_pop(b, s);
            ch = out;
        }
        if (u < SD_LEVELS - 1) {
            s = mb_push(b, "up_blocks.%d", u);
            x = upsample(b, x, ch);
            mb_pop(b, s);
        }
    }
    x = mb_silu(b, mb_groupnorm(b, x, "conv_norm_out", ch, SD_GROUPS, VAE_EPS));
    x = mb_conv(b, x, "conv_out", ch, VAE_OUT_CH, 2, k3, NULL, p1, true);
    mb_pop(b, s1);
    mb_pop(b, s0);
    return x;
}

rt_graph *m4_build_img_dec(const m4_module_params *p, bool with_unet, bool with_vae, rt_error *e)
{
    mb b;
    const char *name = with_unet && with_vae ? "IMG_dec" : with_unet ? "IMG_dec-unet" : "IMG_dec-vae";
    if (!mb_init(&b, name, p->format, p))
        return NULL;
    int64_t lat = p->latent, bs = with_unet ? p->batch : 1;
    int latent = mb_input(&b, "latent", b.act, 4, (int64_t[]){1, SD_LATENT_CH, lat, lat});
    int x = latent;
    if (with_unet) {
        int ts = mb_input(&b, "timestep", RT_DT_I64, 1, (int64_t[]){bs});
        int ctx = mb_input(&b, "encoder_hidden_states", b.act, 3, (int64_t[]){bs, SD_CONTEXT_TOKENS, SD_CONTEXT_DIM});
        /* classifier-free guidance runs the unconditional and the conditional half as one batch */
        int in = bs == 2 ? mb_concat(&b, 2, (int[]){latent, latent}, 0) : latent;
        int eps = unet(&b, in, ts, ctx);
        if (!with_vae) {
            mb_output(&b, eps, "noise_pred");
            return mb_finish(&b, e);
        }
        size_t s = mb_push(&b, "scheduler");
        if (bs == 2) {
            int parts[2] = {-1, -1};
            if (mb_op_n(&b, "Split", 2, (int[]){eps, mb_const_i64(&b, 2, (int64_t[]){1, 1})}, 2, parts) == 0) {
                mb_attr_int(&b, "axis", 0);
                mb_infer(&b, 0);
            }
            int diff = mb_binary(&b, "Sub", parts[1], parts[0]);
            eps = mb_binary(&b, "Add", parts[0], mb_binary(&b, "Mul", diff, mb_scalar(&b, SD_GUIDANCE)));
        }
        /* DDIM: x_prev = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps, x0 = (x - sqrt(1 - a) eps) / sqrt(a),
         * folded to two scalar coefficients for one step */
        const float c_x = 1.02f, c_eps = -0.15f; /* a mid-trajectory step (alpha 0.5 -> 0.52) */
        x = mb_binary(&b, "Add", mb_binary(&b, "Mul", latent, mb_scalar(&b, c_x)),
                      mb_binary(&b, "Mul", eps, mb_scalar(&b, c_eps)));
        mb_pop(&b, s);
    }
    x = mb_binary(&b, "Mul", x, mb_scalar(&b, 1.0f / SD_LATENT_SCALE));
    x = vae_decoder(&b, x);
    mb_output(&b, x, "image");
    return mb_finish(&b, e);
}
