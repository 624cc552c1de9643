/* test_m4_modules.c -- the M4 module graphs: every module builds, validates and has every shape
 * inferred without weight data; M4's own modules use only the M4 operator set (the task-specific
 * models may use any registry op); parameters and MACs agree with the published figures
 * (runtime/m4/m4_reference.c), and every task-specific model has both; LLaMA decode streams the DESIGN's
 * 6.61 GB (INT8) / 3.30 GB (INT4); prompt and KV-cache length change MACs by exactly the
 * attention terms; formats, LoRA and bad parameters behave as documented. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "m4.h"
#include "ops.h"

/* LLaMA-7B closed forms, derived here independently of the builder */
#define LL_D 4096.0
#define LL_FFN 11008.0
#define LL_LAYERS 32.0
#define LL_HEADS 32.0
#define LL_DH 128.0
#define LL_VOCAB 32000.0
#define LL_ROTARY_MACS_PER_TOKEN 64.0 /* inv_freq [64, 1] x positions [1, L] */
static const double ll_linear_macs_per_token = LL_LAYERS * (4 * LL_D * LL_D + 3 * LL_D * LL_FFN);
static const double ll_attn_macs_per_pair = 2 * LL_LAYERS * LL_HEADS * LL_DH; /* QK^T and AV */

static rt_graph *build(m4_module_id id, const m4_module_params *p)
{
    rt_error e = {0};
    rt_graph *g = m4_module_build_id(id, p, &e);
    if (!g)
        fail_msg("%s", e.msg);
    return g;
}

static m4_module_stats stats_of(m4_module_id id, const m4_module_params *p)
{
    rt_graph *g = build(id, p);
    m4_module_stats s;
    rt_error e = {0};
    assert_int_equal(m4_module_stats_get(g, &s, &e), RT_OK);
    graph_free(g);
    return s;
}

static void test_every_module_builds_validates_and_infers_without_data(void **state)
{
    (void)state;
    assert_int_equal(m4_module_count(), M4_MODULE_COUNT);
    for (int id = 0; id < M4_MODULE_COUNT; id++) {
        const m4_module_info *info = m4_module_get((m4_module_id)id);
        assert_non_null(info);
        assert_int_equal(m4_module_lookup(info->name), id);
        rt_graph *g = build((m4_module_id)id, NULL);
        rt_error e = {0};
        assert_int_equal(graph_validate(g, &e), RT_OK);
        assert_true(g->n_outputs >= 1);
        for (int t = 0; t < g->n_tensors; t++) {
            const rt_tensor *ts = g->tensors[t];
            if (!rt_tensor_shape_known(ts) || ts->dtype == RT_DT_UNDEFINED)
                fail_msg("%s: tensor '%s' has no inferred shape/type", info->name, ts->name);
            /* parameters have no data: nothing was materialised */
            if (ts->kind == RT_TENSOR_CONSTANT && ts->data)
                assert_true(ts->data_bytes <= (UINT64_C(1) << 20));
        }
        assert_true(info->task_specific == (id >= M4_TS_FIRST));
        for (int n = 0; n < g->n_nodes; n++) {
            const rt_op_def *d = ops_get(g->nodes[n].op);
            if (!d || (!info->task_specific && !d->in_m4))
                fail_msg("%s: node '%s' uses %s, outside the M4 operator set", info->name, g->nodes[n].name,
                         g->nodes[n].op_type);
        }
        m4_module_stats s;
        assert_int_equal(m4_module_stats_get(g, &s, &e), RT_OK);
        assert_true(s.params > 0 && s.macs > 0 && s.flops >= 2 * s.macs && s.weight_bytes > 0);
        assert_int_equal(s.nodes, g->n_nodes);
        graph_free(g);
    }
    assert_int_equal(m4_module_lookup("backbone"), M4_BACKBONE_PREFILL);
}

static void test_params_and_macs_match_published_figures(void **state)
{
    (void)state;
    assert_true(m4_reference_count() >= 12);
    for (int i = 0; i < m4_reference_count(); i++) {
        const m4_reference *r = m4_reference_get(i);
        double v = 0;
        rt_error e = {0};
        assert_int_equal(m4_reference_compute(r, &v, &e), RT_OK);
        double rel = fabs(v / r->published - 1.0);
        if (rel > r->tolerance)
            fail_msg("%s: computed %.5g, published %.5g (%s): %.2f%% off, tolerance %.0f%%", r->label, v,
                     r->published, r->source, 100 * rel, 100 * r->tolerance);
        assert_true(r->note && *r->note && r->source && *r->source);
    }
    assert_null(m4_reference_get(m4_reference_count()));
}

static void test_output_shapes(void **state)
{
    (void)state;
    struct {
        m4_module_id id;
        m4_module_params p;
        const char *out;
        int rank;
        int64_t dims[4];
    } cases[] = {
        {M4_IMG_ENC, {0}, "embedding", 2, {1, 1024}},
        {M4_IMG_ENC, {.clips = 5, .frames = 2}, "embedding", 2, {1, 1024}},
        {M4_TXT_ENC, {0}, "embedding", 2, {1, 1024}},
        {M4_AUDB_ENC, {0}, "embedding", 2, {1, 1024}},
        {M4_AUDI_ENC, {0}, "last_hidden_state", 3, {1, 1500, 384}},
        {M4_IMU_ENC, {0}, "embedding", 2, {1, 1024}},
        {M4_GEN_DEC, {.tokens = 3}, "logits", 3, {1, 3, 32000}},
        {M4_TTS_DEC, {0}, "mel", 3, {1, 566, 80}},
        {M4_IMG_DEC_UNET, {.batch = 2}, "noise_pred", 4, {2, 4, 64, 64}},
        {M4_IMG_DEC_VAE, {0}, "image", 4, {1, 3, 512, 512}},
        {M4_IMG_DEC, {.batch = 2, .latent = 32}, "image", 4, {1, 3, 256, 256}},
        {M4_PROJECTION, {.tokens = 30, .in_dim = 384, .stack = 5}, "inputs_embeds", 3, {1, 30, 4096}},
        {M4_TS_RESNET152, {0}, "logits", 2, {1, 1000}},
        {M4_TS_RESNET50, {.classes = 10}, "logits", 2, {1, 10}},
        {M4_TS_MOBILENET_V1, {0}, "logits", 2, {1, 1000}},
        {M4_TS_MOBILENET_V2, {0}, "logits", 2, {1, 1000}},
        {M4_TS_INCEPTION_V1, {0}, "logits", 2, {1, 1000}},
        {M4_TS_INCEPTION_V4, {0}, "logits", 2, {1, 1000}},
        {M4_TS_BERT_BASE, {.classes = 4}, "logits", 2, {1, 4}},
        {M4_TS_DISTILBERT, {0}, "logits", 2, {1, 2}},
        {M4_TS_ROBERTA_BASE, {.tokens = 64, .classes = 28}, "logits", 2, {1, 28}},
        {M4_TS_ROBERTA_QA, {0}, "start_logits", 2, {1, 384}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_graph *g = build(cases[i].id, &cases[i].p);
        const rt_tensor *o = g->tensors[g->outputs[0]]; /* the module's result comes first */
        assert_non_null(o);
        if (o->rank != cases[i].rank || memcmp(o->dims, cases[i].dims, (size_t)o->rank * sizeof(int64_t)) != 0) {
            char buf[64];
            fail_msg("%s (%s): output shape %s", m4_module_get(cases[i].id)->name, cases[i].out,
                     rt_shape_str(o, buf, sizeof buf));
        }
        graph_free(g);
    }
}

static const rt_tensor *find(const rt_graph *g, const char *name)
{
    int t = graph_find_tensor(g, name);
    assert_true(t >= 0);
    return g->tensors[t];
}

static void test_kv_cache_is_an_input_and_present_grows_by_one(void **state)
{
    (void)state;
    rt_graph *g = build(M4_BACKBONE_DECODE, &(m4_module_params){.kv_len = 100});
    const rt_tensor *past = find(g, "past_key_values.31.value");
    assert_int_equal(past->kind, RT_TENSOR_INPUT);
    assert_int_equal(past->dims[2], 100);
    int presents = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        const rt_tensor *t = g->tensors[g->outputs[k]];
        if (t->rank == 4) {
            presents++;
            assert_int_equal(t->dims[1], 32);
            assert_int_equal(t->dims[2], 101);
            assert_int_equal(t->dims[3], 128);
        }
    }
    assert_int_equal(presents, 64);
    graph_free(g);
}

static void test_prompt_and_kv_length_change_macs_exactly(void **state)
{
    (void)state;
    /* decode: one token against C cached ones attends to C + 1 keys */
    int cs[] = {1, 100, 1000, 2046};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        m4_module_stats s = stats_of(M4_BACKBONE_DECODE, &(m4_module_params){.kv_len = cs[i]});
        double expect = ll_linear_macs_per_token + LL_ROTARY_MACS_PER_TOKEN + ll_attn_macs_per_pair * (cs[i] + 1);
        assert_true(fabs(s.macs - expect) < 0.5);
        assert_true(fabs(s.macs_activation - ll_attn_macs_per_pair * (cs[i] + 1)) < 0.5 + LL_ROTARY_MACS_PER_TOKEN);
        /* the KV cache read grows by 32 layers x (K + V) x 4096 x f16 per cached token */
        m4_module_stats s1 = stats_of(M4_BACKBONE_DECODE, &(m4_module_params){.kv_len = cs[i] + 1});
        assert_int_equal(s1.input_bytes - s.input_bytes, 32 * 2 * 4096 * 2);
        assert_true(s1.macs > s.macs);
    }
    /* prefill: L tokens, the full L x L score matrix (the causal mask is added, not skipped) */
    int ls[] = {1, 48, 512, 2048};
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        m4_module_stats s = stats_of(M4_BACKBONE_PREFILL, &(m4_module_params){.tokens = ls[i]});
        double l = ls[i];
        double expect = l * (ll_linear_macs_per_token + LL_ROTARY_MACS_PER_TOKEN) + ll_attn_macs_per_pair * l * l;
        if (fabs(s.macs / expect - 1) > 1e-12)
            fail_msg("prefill L=%d: %.0f MACs, expected %.0f", ls[i], s.macs, expect);
    }
    /* a prefix of projected embeddings replaces text tokens without changing the cost */
    m4_module_stats a = stats_of(M4_BACKBONE_PREFILL, &(m4_module_params){.tokens = 40});
    m4_module_stats b = stats_of(M4_BACKBONE_PREFILL, &(m4_module_params){.tokens = 40, .prefix_tokens = 10});
    assert_true(a.macs == b.macs);
}

static void test_decode_streams_design_weight_bytes(void **state)
{
    (void)state;
    /* DESIGN.md: LLaMA-7B decode streams ~6.61 GB INT8, ~3.30 GB INT4 per token (32 layers and
     * the output head; the embedding table is read one row at a time) */
    struct {
        m4_format f;
        double bytes;
        rt_dtype dt;
    } cases[] = {{M4_FMT_DEFAULT, 6.61e9, RT_DT_I8}, {M4_FMT_INT8, 6.61e9, RT_DT_I8}, {M4_FMT_INT4, 3.30e9, RT_DT_I4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m4_module_stats d = stats_of(M4_BACKBONE_DECODE, &(m4_module_params){.format = cases[i].f});
        m4_module_stats h = stats_of(M4_GEN_DEC, &(m4_module_params){.format = cases[i].f});
        double streamed = (double)(d.weight_bytes_streamed + h.weight_bytes_streamed);
        if (fabs(streamed / cases[i].bytes - 1) > 0.01)
            fail_msg("%s: decode streams %.4g bytes, DESIGN says ~%.3g", m4_format_name(cases[i].f), streamed,
                     cases[i].bytes);
        assert_int_equal(h.weight_dtype, cases[i].dt);
        /* the embedding table is stored (f16) but not streamed */
        assert_true(d.weight_bytes - d.weight_bytes_streamed > (uint64_t)(LL_VOCAB * LL_D * 2 * 0.99));
        assert_true(d.params + h.params == 6738415616.0);
    }
}

static void test_weight_formats(void **state)
{
    (void)state;
    rt_graph *g = build(M4_BACKBONE_DECODE, &(m4_module_params){.format = M4_FMT_INT4});
    int casts = 0;
    double cast_numel = 0;
    for (int n = 0; n < g->n_nodes; n++)
        if (m4_is_weight_cast(g, n)) {
            casts++;
            const rt_tensor *w = g->tensors[g->nodes[n].inputs[0]];
            assert_int_equal(w->dtype, RT_DT_I4);
            cast_numel += (double)rt_tensor_numel(w);
            /* its scale sits beside it */
            char scale[300];
            snprintf(scale, sizeof scale, "%s_scale", w->name);
            assert_true(graph_find_tensor(g, scale) >= 0);
        } else {
            assert_false(g->nodes[n].op == RT_OP_Cast && g->tensors[g->nodes[n].inputs[0]]->kind == RT_TENSOR_CONSTANT &&
                         g->tensors[g->nodes[n].inputs[0]]->data == NULL);
        }
    assert_int_equal(casts, 32 * 7);
    assert_true(cast_numel == ll_linear_macs_per_token); /* one weight element per MAC of one token */
    m4_module_stats s;
    rt_error e = {0};
    assert_int_equal(m4_module_stats_get(g, &s, &e), RT_OK);
    assert_true(s.weight_cast_flops == cast_numel);
    graph_free(g);

    /* the same module in FP16 has no casts, twice the INT8 projection bytes; FP32 computes in f32 */
    m4_module_stats i8 = stats_of(M4_IMG_ENC, &(m4_module_params){.format = M4_FMT_INT8});
    m4_module_stats f16 = stats_of(M4_IMG_ENC, NULL);
    m4_module_stats f32 = stats_of(M4_IMG_ENC, &(m4_module_params){.format = M4_FMT_FP32});
    assert_true(i8.params == f16.params && f16.params == f32.params);
    assert_true(i8.macs == f16.macs);
    assert_true(f16.weight_cast_flops == 0 && i8.weight_cast_flops > 0);
    assert_int_equal(f16.weight_dtype, RT_DT_F16);
    assert_int_equal(f32.weight_dtype, RT_DT_F32);
    assert_int_equal(f32.weight_bytes, 2 * f16.weight_bytes);
    assert_true(i8.weight_bytes < 0.6 * f16.weight_bytes);
    g = build(M4_TTS_DEC, NULL); /* the paper's TTS_dec is FP32 */
    assert_int_equal(g->tensors[graph_find_tensor(g, "alignment")]->dtype, RT_DT_F32);
    graph_free(g);
    assert_false(m4_is_weight_cast(NULL, 0));
}

static void test_lora_adapters(void **state)
{
    (void)state;
    /* backbone, default targets q and v: 32 layers x 2 x r x (4096 + 4096) */
    for (int r = 1; r <= 32; r *= 2) {
        m4_module_stats s = stats_of(M4_BACKBONE_DECODE, &(m4_module_params){.lora_rank = r});
        assert_true(s.lora_params == 32.0 * 2 * r * (4096 + 4096));
        m4_module_stats base = stats_of(M4_BACKBONE_DECODE, NULL);
        assert_true(s.params - base.params == s.lora_params);
        assert_true(s.macs - base.macs == s.lora_params); /* one token: one MAC per adapter weight */
    }
    m4_module_stats all = stats_of(M4_BACKBONE_PREFILL,
                                   &(m4_module_params){.lora_rank = 8, .lora_targets = M4_LORA_Q | M4_LORA_K | M4_LORA_V | M4_LORA_O});
    assert_true(all.lora_params == 32.0 * 4 * 8 * (4096 + 4096));
    /* ImageBind's packed in_proj: one adapter r x (d + 3d) per layer */
    m4_module_stats img = stats_of(M4_IMG_ENC, &(m4_module_params){.lora_rank = 4});
    assert_true(img.lora_params == 32.0 * 4 * (1280 + 3 * 1280));
    m4_module_stats wh = stats_of(M4_AUDI_ENC, &(m4_module_params){.lora_rank = 2, .lora_targets = M4_LORA_O});
    assert_true(wh.lora_params == 4.0 * 2 * (384 + 384));
    assert_true(stats_of(M4_IMG_ENC, NULL).lora_params == 0);
}

/* Every task-specific model is checked against a published parameter count and a published MAC
 * count (both within their tolerance, 5%: test_params_and_macs_match_published_figures). */
static void test_every_ts_model_has_published_params_and_macs(void **state)
{
    (void)state;
    for (int id = M4_TS_FIRST; id < M4_MODULE_COUNT; id++) {
        int params = 0, macs = 0;
        for (int i = 0; i < m4_reference_count(); i++) {
            const m4_reference *r = m4_reference_get(i);
            if ((int)r->module != id)
                continue;
            assert_true(r->tolerance <= 0.05 && r->offset == 0 && r->extra_module == M4_MODULE_NONE);
            params += r->quantity == M4_Q_PARAMS;
            macs += r->quantity == M4_Q_MACS;
        }
        if (params < 1 || macs < 1)
            fail_msg("%s: %d parameter and %d MAC comparisons with published figures", m4_module_get(id)->name,
                     params, macs);
    }
}

static int count_op(const rt_graph *g, int op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

/* As deployed int8 mobile models have them: BN folded into the convolutions, INT8 weights with
 * per-channel scales, depthwise convolutions as grouped Conv, ReLU6 as Clip; the text models'
 * MACs grow with the padded length as their closed form says. */
static void test_ts_model_structure(void **state)
{
    (void)state;
    for (int id = M4_TS_FIRST; id < M4_MODULE_COUNT; id++) {
        rt_graph *g = build((m4_module_id)id, NULL);
        assert_int_equal(count_op(g, RT_OP_BatchNormalization), 0);
        m4_module_stats s;
        rt_error e = {0};
        assert_int_equal(m4_module_stats_get(g, &s, &e), RT_OK);
        /* every projection/convolution weight is i8 behind its Cast (one flop per weight element);
         * the largest tensor is an i8 weight, except the text models' f16 embedding tables */
        assert_true(s.weight_cast_flops > 0);
        assert_int_equal(s.weight_dtype, id <= M4_TS_INCEPTION_V4 ? RT_DT_I8 : RT_DT_F16);
        assert_true(s.lora_params == 0);
        graph_free(g);
    }
    /* MobileNet v1: 13 depthwise 3x3 convolutions (group = channels), 27 Clip (ReLU6) */
    rt_graph *g = build(M4_TS_MOBILENET_V1, NULL);
    int depthwise = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        const rt_node *nd = &g->nodes[n];
        if (nd->op != RT_OP_Conv || rt_node_attr_int(nd, "group", 1) == 1)
            continue;
        depthwise++;
        /* one input channel per output channel: weight [C, 1, 3, 3] behind its Cast */
        assert_int_equal(rt_node_attr_int(nd, "group", 1), g->tensors[nd->outputs[0]]->dims[1]);
        assert_int_equal(g->tensors[nd->inputs[1]]->dims[1], 1);
    }
    assert_int_equal(depthwise, 13);
    assert_int_equal(count_op(g, RT_OP_Clip), 27);
    graph_free(g);
    /* MobileNet v2: 17 depthwise convolutions, 10 residual Adds */
    g = build(M4_TS_MOBILENET_V2, NULL);
    depthwise = 0;
    for (int n = 0; n < g->n_nodes; n++)
        depthwise += g->nodes[n].op == RT_OP_Conv && rt_node_attr_int(&g->nodes[n], "group", 1) > 1;
    assert_int_equal(depthwise, 17);
    graph_free(g);
    /* ResNet-152: 155 convolutions (1 stem + 50 bottlenecks x 3 + 4 downsamples), 50 residual Adds */
    g = build(M4_TS_RESNET152, NULL);
    assert_int_equal(count_op(g, RT_OP_Conv), 1 + 50 * 3 + 4);
    assert_int_equal(count_op(g, RT_OP_MaxPool), 1);
    assert_int_equal(count_op(g, RT_OP_GlobalAveragePool), 1);
    graph_free(g);
    /* BERT-base: linear MACs L x 12 x (4 d^2 + 2 d ffn) + attention 2 x 12 x L^2 x d, plus the pooler
     * and classifier; doubling L doubles the first and quadruples the second */
    const double d = 768, ffn = 3072, layers = 12;
    for (int tokens = 64; tokens <= 512; tokens *= 2) {
        double macs = stats_of(M4_TS_BERT_BASE, &(m4_module_params){.tokens = tokens}).macs;
        double expect = tokens * layers * (4 * d * d + 2 * d * ffn) + 2 * layers * (double)tokens * tokens * d +
                        d * d + d * 2;
        if (fabs(macs - expect) > 1e-9 * expect)
            fail_msg("bert-base at %d tokens: %.6g MACs, closed form %.6g", tokens, macs, expect);
    }
}

static void expect_error(m4_module_id id, m4_module_params p, rt_status code, const char *msg)
{
    rt_error e = {0};
    rt_graph *g = m4_module_build_id(id, &p, &e);
    assert_null(g);
    assert_int_equal(e.code, code);
    if (!strstr(e.msg, msg))
        fail_msg("error '%s' does not contain '%s'", e.msg, msg);
}

static void test_bad_parameters_are_errors_naming_module_and_field(void **state)
{
    (void)state;
    expect_error(M4_BACKBONE_PREFILL, (m4_module_params){.tokens = 3000}, RT_ERR_ARG,
                 "backbone-prefill: tokens = 3000, expected 1..2048");
    expect_error(M4_BACKBONE_DECODE, (m4_module_params){.kv_len = -5}, RT_ERR_ARG, "kv_len = -5");
    expect_error(M4_BACKBONE_DECODE, (m4_module_params){.kv_len = 2048}, RT_ERR_ARG, "kv_len = 2048, expected 1..2047");
    expect_error(M4_IMG_ENC, (m4_module_params){.kv_len = 3}, RT_ERR_ARG,
                 "IMG_enc: parameter 'kv_len' does not apply");
    expect_error(M4_IMU_ENC, (m4_module_params){.samples = 1001}, RT_ERR_ARG, "a multiple of 8");
    expect_error(M4_BACKBONE_PREFILL, (m4_module_params){.tokens = 10, .prefix_tokens = 10}, RT_ERR_ARG,
                 "prefix_tokens = 10 must be below tokens = 10");
    expect_error(M4_GEN_DEC, (m4_module_params){.lora_rank = 4}, RT_ERR_ARG, "GEN_dec: takes no LoRA adapters");
    expect_error(M4_TXT_ENC, (m4_module_params){.lora_targets = M4_LORA_Q}, RT_ERR_ARG, "without a lora_rank");
    expect_error(M4_TXT_ENC, (m4_module_params){.lora_rank = 1, .lora_targets = 0x30}, RT_ERR_ARG, "0x30");
    expect_error(M4_TXT_ENC, (m4_module_params){.format = (m4_format)9}, RT_ERR_ARG, "format 9");
    expect_error(M4_IMG_DEC_VAE, (m4_module_params){.batch = 2}, RT_ERR_ARG, "'batch' does not apply");
    expect_error(M4_TS_RESNET152, (m4_module_params){.lora_rank = 4}, RT_ERR_ARG,
                 "resnet152: takes no LoRA adapters (a task-specific model is fine-tuned whole)");
    expect_error(M4_TS_BERT_BASE, (m4_module_params){.tokens = 513}, RT_ERR_ARG, "bert-base: tokens = 513, expected 1..512");
    expect_error(M4_TS_ROBERTA_QA, (m4_module_params){.classes = 3}, RT_ERR_ARG, "'classes' does not apply");
    expect_error(M4_IMG_ENC, (m4_module_params){.classes = 3}, RT_ERR_ARG, "IMG_enc: parameter 'classes' does not apply");
    rt_error e = {0};
    assert_null(m4_module_build("IMG-enc", NULL, &e));
    assert_int_equal(e.code, RT_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "unknown M4 module 'IMG-enc'"));
    assert_non_null(strstr(e.msg, "IMG_enc"));
    assert_null(m4_module_build(NULL, NULL, &e));
    assert_null(m4_module_get((m4_module_id)M4_MODULE_COUNT));
    assert_int_equal(m4_module_lookup("nope"), M4_MODULE_NONE);
    /* resolve fills defaults and keeps given values */
    m4_module_params r;
    assert_int_equal(m4_module_params_resolve(M4_AUDB_ENC, NULL, &r, &e), RT_OK);
    assert_int_equal(r.clips, 3);
    assert_int_equal(r.format, M4_FMT_FP16);
    assert_int_equal(m4_module_params_resolve(M4_BACKBONE_DECODE, &(m4_module_params){.lora_rank = 2}, &r, &e), RT_OK);
    assert_int_equal(r.lora_targets, M4_LORA_TARGETS_DEFAULT);
    assert_int_equal(r.format, M4_FMT_INT8);
    assert_int_equal(m4_module_lookup("resnet152"), M4_TS_RESNET152);
    assert_int_equal(m4_module_params_resolve(M4_TS_INCEPTION_V4, NULL, &r, &e), RT_OK);
    assert_int_equal(r.classes, 1000);
    assert_int_equal(r.format, M4_FMT_INT8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_module_builds_validates_and_infers_without_data),
        cmocka_unit_test(test_params_and_macs_match_published_figures),
        cmocka_unit_test(test_output_shapes),
        cmocka_unit_test(test_kv_cache_is_an_input_and_present_grows_by_one),
        cmocka_unit_test(test_prompt_and_kv_length_change_macs_exactly),
        cmocka_unit_test(test_decode_streams_design_weight_bytes),
        cmocka_unit_test(test_weight_formats),
        cmocka_unit_test(test_lora_adapters),
        cmocka_unit_test(test_bad_parameters_are_errors_naming_module_and_field),
        cmocka_unit_test(test_every_ts_model_has_published_params_and_macs),
        cmocka_unit_test(test_ts_model_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
