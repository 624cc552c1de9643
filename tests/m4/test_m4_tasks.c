/* test_m4_tasks.c -- the eAIBench task table: 50 datasets and 38 tasks, paths consistent with
 * the modules they run and with what the paper states, input sizes consistent with the modules,
 * the paper's Table 5, the expansion of a task into module runs (LoRA placement, decode steps at
 * the midpoint KV length, overrides, context limit), each task's TS-model (the paper's Table 3
 * names, the built-in graphs that stand for them), and docs/m4.md listing every row. */
#include <math.h>

#include "test_util.h"

#include "m4.h"

static bool is_encoder(int id)
{
    return id == M4_IMG_ENC || id == M4_TXT_ENC || id == M4_AUDB_ENC || id == M4_AUDI_ENC || id == M4_IMU_ENC;
}

static void test_fifty_datasets_thirty_eight_tasks(void **state)
{
    (void)state;
    const char *names[M4_TASK_COUNT];
    int distinct = 0;
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_task *t = m4_task_get(id);
        assert_non_null(t);
        assert_int_equal(t->id, id);
        assert_true(t->name && *t->name && t->dataset && *t->dataset && t->inputs_basis && *t->inputs_basis);
        assert_true(strncmp(t->path_basis, "paper: ", 7) == 0 || strncmp(t->path_basis, "inferred: ", 10) == 0);
        assert_true(t->domain >= M4_DOMAIN_NLP && t->domain <= M4_DOMAIN_MULTIMODAL);
        assert_string_not_equal(m4_domain_name(t->domain), "?");
        bool seen = false;
        for (int k = 0; k < distinct; k++)
            seen |= strcmp(names[k], t->name) == 0;
        if (!seen)
            names[distinct++] = t->name;
    }
    assert_int_equal(distinct, 38);
    assert_null(m4_task_get(0));
    assert_null(m4_task_get(M4_TASK_COUNT + 1));
}

static void test_paths_match_modules(void **state)
{
    (void)state;
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_task *t = m4_task_get(id);
        switch (t->path) {
        case 1: /* embedding -> backbone -> generator */
            assert_true(is_encoder(t->encoder));
            assert_true(t->generator == M4_GEN_DEC || t->generator == M4_IMG_DEC);
            assert_true(t->prompt_tokens > 0 && t->modality_tokens > 0);
            break;
        case 2: /* backbone -> generator */
            assert_int_equal(t->encoder, M4_MODULE_NONE);
            assert_int_equal(t->generator, M4_GEN_DEC);
            assert_true(t->prompt_tokens > 0 && t->modality_tokens == 0);
            break;
        case 3: /* embedding only */
            assert_true(is_encoder(t->encoder));
            assert_int_equal(t->generator, M4_MODULE_NONE);
            assert_true(t->prompt_tokens == 0 && t->gen_tokens == 0);
            break;
        case 4: /* one generator only */
            assert_int_equal(t->encoder, M4_MODULE_NONE);
            assert_true(t->generator == M4_IMG_DEC || t->generator == M4_TTS_DEC);
            break;
        default:
            fail_msg("T%d: path %d", id, t->path);
        }
        if (t->generator == M4_GEN_DEC)
            assert_true(t->gen_tokens >= 1);
        if (t->generator == M4_IMG_DEC)
            assert_true(t->unet_steps >= 1 && (t->unet_batch == 1 || t->unet_batch == 2));
        if (t->generator == M4_TTS_DEC)
            assert_true(t->phonemes > 0 && t->mel_frames > 0);
        /* inputs follow the encoder */
        if (t->encoder == M4_IMG_ENC)
            assert_int_equal(t->image_px, M4_IMAGE_PX);
        else
            assert_int_equal(t->image_px, 0);
        if (t->encoder == M4_AUDB_ENC || t->encoder == M4_AUDI_ENC)
            assert_true(t->audio_s > 0);
        if (t->encoder == M4_IMU_ENC)
            assert_int_equal(t->imu_samples, M4_IMU_SAMPLES);
        if (t->path == 1 && t->encoder == M4_AUDI_ENC) /* 10 projected tokens per second of speech */
            assert_int_equal(t->modality_tokens, (int)lround(t->audio_s * 10));
        if (t->path == 1 && t->encoder != M4_AUDI_ENC) /* one pooled ImageBind embedding */
            assert_int_equal(t->modality_tokens, 1);
        assert_true(t->prompt_tokens + t->modality_tokens + t->gen_tokens <= M4_LLAMA_CONTEXT);
    }
}

static void test_paths_the_paper_states(void **state)
{
    (void)state;
    /* section 3.3, Table 2 and Table 5 */
    static const struct {
        int id, path;
    } stated[] = {{1, 2},  {2, 2},  {3, 2},  {4, 2},  {13, 2}, {17, 4}, {21, 3}, {22, 3}, {23, 3},
                  {29, 3}, {33, 1}, {34, 1}, {36, 3}, {38, 3}, {39, 3}, {40, 3}, {41, 4}, {42, 1},
                  {43, 1}, {44, 1}, {45, 1}, {49, 1}, {50, 1}};
    int n_paper = 0;
    for (size_t i = 0; i < sizeof stated / sizeof stated[0]; i++) {
        const m4_task *t = m4_task_get(stated[i].id);
        assert_int_equal(t->path, stated[i].path);
        if (strncmp(t->path_basis, "paper: ", 7) != 0)
            fail_msg("T%d: the paper states its path, basis says '%s'", t->id, t->path_basis);
    }
    for (int id = 1; id <= M4_TASK_COUNT; id++)
        n_paper += strncmp(m4_task_get(id)->path_basis, "paper: ", 7) == 0;
    assert_int_equal(n_paper, (int)(sizeof stated / sizeof stated[0]));
    /* Table 5 runs audio classification on AUD-I_enc; AUD-B_enc carries emotion (section 3.1) */
    assert_int_equal(m4_task_get(36)->encoder, M4_AUDI_ENC);
    assert_int_equal(m4_task_get(35)->encoder, M4_AUDB_ENC);
    assert_int_equal(m4_task_get(29)->video_clips, 5);
}

static void test_table5(void **state)
{
    (void)state;
    assert_int_equal(m4_paper_latency_count(), 5);
    for (int i = 0; i < m4_paper_latency_count(); i++) {
        const m4_paper_latency *p = m4_paper_latency_get(i);
        /* M4.md: every NPU* value is the CPU value divided by ~20 */
        assert_true(fabs(p->cpu_s / p->npu_est_s - 20) < 2);
        if (p->cpu_per_token_s > 0)
            assert_true(fabs(p->cpu_per_token_s / p->npu_est_per_token_s - 20) < 2);
    }
    assert_null(m4_paper_latency_get(5));
    int with = 0;
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_task *t = m4_task_get(id);
        if (!t->paper)
            continue;
        with++;
        assert_string_equal(t->paper->task, t->name);
    }
    assert_int_equal(with, 8); /* QA x2, image classification x2, audio classification, TTS, VQA x2 */
    const m4_paper_latency *qa = m4_task_get(2)->paper;
    assert_true(qa->cpu_s == 6.34 && qa->npu_est_s == 0.32 && qa->cpu_per_token_s == 0.24 &&
                qa->npu_est_per_token_s == 0.012);
    assert_true(m4_task_get(22)->paper->cpu_s == 2.10);
}

static int plan(int id, const m4_task_options *o, m4_step *steps)
{
    int n = 0;
    rt_error e = {0};
    if (m4_task_plan(m4_task_get(id), o, steps, M4_PLAN_MAX_STEPS, &n, &e) != RT_OK)
        fail_msg("T%d: %s", id, e.msg);
    return n;
}

static void test_every_task_plans_and_every_step_builds(void **state)
{
    (void)state;
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_task *t = m4_task_get(id);
        m4_step s[M4_PLAN_MAX_STEPS];
        int n = plan(id, NULL, s);
        assert_true(n >= 1);
        bool enc = false, backbone = false, gen = false;
        for (int k = 0; k < n; k++) {
            assert_true(s[k].repeat >= 1 && s[k].role && *s[k].role);
            enc |= is_encoder(s[k].module);
            backbone |= s[k].module == M4_BACKBONE_PREFILL;
            gen |= s[k].module == M4_GEN_DEC || s[k].module == M4_IMG_DEC_UNET || s[k].module == M4_TTS_DEC;
            /* LoRA where the paper trains it */
            int want = (t->path == 3 && is_encoder(s[k].module)) ||
                               ((t->path == 1 || t->path == 2) &&
                                (s[k].module == M4_BACKBONE_PREFILL || s[k].module == M4_BACKBONE_DECODE))
                           ? M4_LORA_RANK_DEFAULT
                           : 0;
            assert_int_equal(s[k].params.lora_rank, want);
            rt_error e = {0};
            rt_graph *g = m4_module_build_id(s[k].module, &s[k].params, &e);
            if (!g)
                fail_msg("T%d step %d (%s): %s", id, k, m4_module_get(s[k].module)->name, e.msg);
            graph_free(g);
        }
        assert_int_equal(enc, t->path == 1 || t->path == 3);
        assert_int_equal(backbone, t->path == 1 || t->path == 2);
        assert_int_equal(gen, t->path != 3);
    }
}

static void test_generating_task_plan(void **state)
{
    (void)state;
    /* VQA (T49): IMG_enc, projection of 1 token, prefill of 24 + 1, first token, then 3 more */
    m4_step s[M4_PLAN_MAX_STEPS];
    int n = plan(49, NULL, s);
    assert_int_equal(n, 6);
    assert_int_equal(s[0].module, M4_IMG_ENC);
    assert_int_equal(s[1].module, M4_PROJECTION);
    assert_int_equal(s[1].params.tokens, 1);
    assert_int_equal(s[2].module, M4_BACKBONE_PREFILL);
    assert_int_equal(s[2].params.tokens, 25);
    assert_int_equal(s[2].params.prefix_tokens, 1);
    assert_int_equal(s[2].params.format, M4_FMT_INT8);
    assert_int_equal(s[3].module, M4_GEN_DEC);
    assert_int_equal(s[3].phase, M4_PHASE_ONCE);
    assert_int_equal(s[4].module, M4_BACKBONE_DECODE);
    assert_int_equal(s[4].phase, M4_PHASE_PER_TOKEN);
    assert_int_equal(s[4].repeat, 3);
    assert_int_equal(s[4].kv_first, 25);
    assert_int_equal(s[4].kv_last, 27);
    assert_int_equal(s[4].params.kv_len, 26);
    assert_int_equal(s[5].module, M4_GEN_DEC);
    assert_int_equal(s[5].repeat, 3);

    /* the midpoint step repeated stands exactly for the steps at each KV length (odd count) */
    double sum = 0, mid = 0;
    for (int c = s[4].kv_first; c <= s[4].kv_last; c++) {
        m4_module_params p = s[4].params;
        p.kv_len = c;
        rt_error e = {0};
        rt_graph *g = m4_module_build_id(M4_BACKBONE_DECODE, &p, &e);
        m4_module_stats st;
        assert_int_equal(m4_module_stats_get(g, &st, &e), RT_OK);
        sum += st.macs;
        if (c == s[4].params.kv_len)
            mid = st.macs * s[4].repeat;
        graph_free(g);
    }
    assert_true(sum == mid);

    /* ASR through Whisper: 5 frames of 384 stacked per projected token */
    n = plan(32, NULL, s);
    assert_int_equal(s[1].params.in_dim, M4_WHISPER_DIM);
    assert_int_equal(s[1].params.stack, 5);
    assert_int_equal(s[1].params.tokens, 74);
    assert_int_equal(s[0].params.lora_rank, 0); /* Path-1 encoders keep their adapters off */

    /* one generated token: no per-token steps */
    n = plan(7, NULL, s);
    assert_int_equal(n, 2);

    /* generation of an image: 50 guided UNet steps, one VAE decode, no GEN_dec */
    n = plan(48, NULL, s);
    assert_int_equal(s[n - 2].module, M4_IMG_DEC_UNET);
    assert_int_equal(s[n - 2].repeat, 50);
    assert_int_equal(s[n - 2].params.batch, 2);
    assert_int_equal(s[n - 1].module, M4_IMG_DEC_VAE);
    for (int k = 0; k < n; k++)
        assert_int_not_equal(s[k].module, M4_GEN_DEC);
}

static void test_options(void **state)
{
    (void)state;
    m4_step s[M4_PLAN_MAX_STEPS];
    int n = plan(2, &(m4_task_options){.prompt_tokens = 100, .gen_tokens = 10, .lora_rank = 16,
                                       .backbone_format = M4_FMT_INT4}, s);
    assert_int_equal(n, 4);
    assert_int_equal(s[0].params.tokens, 100);
    assert_int_equal(s[0].params.lora_rank, 16);
    assert_int_equal(s[0].params.format, M4_FMT_INT4);
    assert_int_equal(s[1].params.format, M4_FMT_INT4); /* the head follows the backbone */
    assert_int_equal(s[2].repeat, 9);
    assert_int_equal(s[2].kv_first, 100);
    assert_int_equal(s[2].kv_last, 108);
    n = plan(2, &(m4_task_options){.lora_rank = M4_LORA_NONE}, s);
    for (int k = 0; k < n; k++)
        assert_int_equal(s[k].params.lora_rank, 0);
    n = plan(17, &(m4_task_options){.unet_steps = 4, .gen_tokens = 7}, s); /* gen ignored: no tokens */
    assert_int_equal(s[0].repeat, 4);
    /* options that do not apply are ignored */
    n = plan(22, &(m4_task_options){.prompt_tokens = 99}, s);
    assert_int_equal(n, 1);

    rt_error e = {0};
    int cnt;
    assert_int_equal(m4_task_plan(m4_task_get(11), &(m4_task_options){.gen_tokens = 1500}, s, M4_PLAN_MAX_STEPS,
                                  &cnt, &e),
                     RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "T11 (text summary): 1040 prompt + 1500 generated tokens exceed LLaMA's 2048"));
    assert_int_equal(m4_task_plan(m4_task_get(2), &(m4_task_options){.gen_tokens = -1}, s, M4_PLAN_MAX_STEPS, &cnt, &e),
                     RT_ERR_ARG);
    assert_int_equal(m4_task_plan(m4_task_get(2), &(m4_task_options){.backbone_format = M4_FMT_FP32}, s,
                                  M4_PLAN_MAX_STEPS, &cnt, &e),
                     RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "fp32"));
    assert_int_equal(m4_task_plan(m4_task_get(49), NULL, s, 3, &cnt, &e), RT_ERR_LIMIT);
    assert_int_equal(m4_task_plan(NULL, NULL, s, 3, &cnt, &e), RT_ERR_ARG);
}

/* Every task names its Table 3 TS-model with a reference and a source; the built-in ones are
 * exactly these, resolve to task-specific modules and build at the task's sizes; the others say
 * why they are not built. */
static void test_ts_models(void **state)
{
    (void)state;
    static const struct {
        int task;
        m4_module_id module;
        const char *paper;
    } built[] = {
        {2, M4_TS_ROBERTA_QA, "RoBERTa [35]"},   {5, M4_TS_ROBERTA_BASE, "RoBERTa [22]"},
        {6, M4_TS_ROBERTA_BASE, "RoBERTa [29]"}, {7, M4_TS_ROBERTA_BASE, "RoBERTa [27]"},
        {8, M4_TS_BERT_BASE, "BERT [37]"},       {9, M4_TS_DISTILBERT, "DistilBERT [38]"},
        {13, M4_TS_ROBERTA_BASE, "CodeBERT [21]"}, {16, M4_TS_RESNET50, "ResNet50-arcface [31]"},
        {23, M4_TS_RESNET152, "ResNet-152 [64]"},
    };
    int n_built = 0;
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_task *t = m4_task_get(id);
        const m4_ts_model *ts = m4_task_ts_model(t);
        assert_non_null(ts);
        assert_true(ts->paper && strchr(ts->paper, '[') && ts->source && *ts->source && ts->basis && *ts->basis);
        size_t k = 0;
        while (k < sizeof built / sizeof built[0] && built[k].task != id)
            k++;
        m4_module_params p;
        rt_error e = {0};
        if (k == sizeof built / sizeof built[0]) {
            assert_int_equal(ts->module, M4_MODULE_NONE);
            assert_true(strncmp(ts->basis, "not built", 9) == 0);
            assert_int_equal(m4_task_ts_params(t, &p, &e), RT_ERR_NOT_FOUND);
            assert_non_null(strstr(e.msg, ts->paper));
            continue;
        }
        n_built++;
        assert_int_equal(ts->module, built[k].module);
        assert_string_equal(ts->paper, built[k].paper);
        assert_true(m4_module_get((m4_module_id)ts->module)->task_specific);
        assert_int_equal(m4_task_ts_params(t, &p, &e), RT_OK);
        rt_graph *g = m4_module_build_id((m4_module_id)ts->module, &p, &e);
        if (!g)
            fail_msg("T%d: %s", id, e.msg);
        graph_free(g);
    }
    assert_int_equal(n_built, 9);
    /* sizes follow the task: ag_news' 4 classes, SQuAD's 384 tokens */
    m4_module_params p;
    rt_error e = {0};
    assert_int_equal(m4_task_ts_params(m4_task_get(8), &p, &e), RT_OK);
    assert_int_equal(p.classes, 4);
    assert_int_equal(p.tokens, 128);
    assert_int_equal(m4_task_ts_params(m4_task_get(2), &p, &e), RT_OK);
    assert_int_equal(p.tokens, 384);
    assert_null(m4_task_ts_model(NULL));
}

static void test_docs_list_every_task_and_comparison(void **state)
{
    (void)state;
    char *doc = test_read_file(M4NPU_SOURCE_DIR "/docs/m4.md", NULL);
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_task *t = m4_task_get(id);
        char row[128];
        snprintf(row, sizeof row, "| T%d | %s | %s | %d |", id, t->name, t->dataset, t->path);
        if (!strstr(doc, row))
            fail_msg("docs/m4.md has no row '%s'", row);
    }
    for (int i = 0; i < m4_reference_count(); i++)
        if (!strstr(doc, m4_reference_get(i)->label))
            fail_msg("docs/m4.md does not list the comparison '%s'", m4_reference_get(i)->label);
    for (int id = 1; id <= M4_TASK_COUNT; id++) {
        const m4_ts_model *ts = m4_task_ts_model(m4_task_get(id));
        char row[160];
        snprintf(row, sizeof row, "| T%d | %s | %s |", id, ts->paper,
                 ts->module == M4_MODULE_NONE ? "-" : m4_module_get((m4_module_id)ts->module)->name);
        if (!strstr(doc, row))
            fail_msg("docs/m4.md has no TS-model row '%s'", row);
    }
    for (int i = 0; i < m4_module_count(); i++)
        if (!strstr(doc, m4_module_get((m4_module_id)i)->name))
            fail_msg("docs/m4.md does not list module '%s'", m4_module_get((m4_module_id)i)->name);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifty_datasets_thirty_eight_tasks),
        cmocka_unit_test(test_paths_match_modules),
        cmocka_unit_test(test_paths_the_paper_states),
        cmocka_unit_test(test_table5),
        cmocka_unit_test(test_every_task_plans_and_every_step_builds),
        cmocka_unit_test(test_generating_task_plan),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_ts_models),
        cmocka_unit_test(test_docs_list_every_task_and_comparison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
