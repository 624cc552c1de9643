/* m4_ts_bert.c -- the transformer-encoder task-specific models of the paper's Table 3: BERT-base
 * (text classification, ag_news), DistilBERT (SST2) and RoBERTa-base (question answering,
 * emoji, emotion and sentiment prediction; CodeBERT has its architecture), each with the head
 * its Table 3 model card puts on top. They exist so that the what-if report can put M4 beside
 * the models apps ship today, on the same simulated NPU.
 *
 * The graphs follow the Hugging Face implementations (BertModel, DistilBertModel,
 * RobertaModel and their *ForSequenceClassification / *ForQuestionAnswering heads) as
 * torch.onnx writes them at opset 17 in eval mode (dropout removed): post-LayerNorm blocks,
 * q/k/v projections with biases, the scores divided by sqrt(d_head) (DistilBERT scales q),
 * the padding mask added as (1 - mask) * min (BERT, RoBERTa) or applied with Where
 * (DistilBERT), exact (Erf) GELU. Inputs are padded to a fixed length, as a deployed mobile
 * model has them; `tokens` is that length. */
#include <math.h>

#include "m4_internal.h"

#define BERT_DIM 768
#define BERT_HEADS 12
#define BERT_FFN 3072
#define BERT_LAYERS 12
#define DISTILBERT_LAYERS 6
#define BERT_VOCAB 30522       /* bert-base-uncased, distilbert-base-uncased */
#define ROBERTA_VOCAB 50265    /* roberta-base (GPT-2 BPE) */
#define BERT_POSITIONS 512
#define ROBERTA_POSITIONS 514  /* 512 + the padding index offset */
#define BERT_TYPES 2
#define ROBERTA_PAD_ID 1       /* RoBERTa's padding token; positions start after it */
#define BERT_LN_EPS 1e-12f
#define ROBERTA_LN_EPS 1e-5f
#define F16_MIN -65504.0f      /* torch.finfo(torch.float16).min: the masked score */
#define F32_MIN -3.4028234663852886e38f
#define QA_OUTPUTS 2           /* start and end logits */

typedef enum bert_kind { KIND_BERT, KIND_DISTILBERT, KIND_ROBERTA, KIND_ROBERTA_QA } bert_kind;

static float masked_value(const mb *b) { return b->act == RT_DT_F32 ? F32_MIN : F16_MIN; }

/* HF get_extended_attention_mask: (1 - mask[:, None, None, :]) * min, added to the scores. */
static int additive_mask(mb *b, int mask)
{
    int m = mb_unsqueeze(b, mask, 2, (int64_t[]){1, 2});
    m = mb_cast(b, m, b->act);
    m = mb_binary(b, "Sub", mb_scalar(b, 1.0f), m);
    return mb_binary(b, "Mul", m, mb_scalar(b, masked_value(b)));
}

/* DistilBERT's MultiHeadSelfAttention (q scaled, masked_fill with Where) or BERT's
 * BertSelfAttention + BertSelfOutput's dense (scores / sqrt(d_head) + the additive mask). */
static int self_attention(mb *b, int x, int mask, bert_kind kind)
{
    const bool distil = kind == KIND_DISTILBERT;
    int64_t dh = BERT_DIM / BERT_HEADS;
    int q = mb_linear(b, x, distil ? "attention.q_lin" : "attention.self.query", BERT_DIM, BERT_DIM, true, false);
    int k = mb_linear(b, x, distil ? "attention.k_lin" : "attention.self.key", BERT_DIM, BERT_DIM, true, false);
    int v = mb_linear(b, x, distil ? "attention.v_lin" : "attention.self.value", BERT_DIM, BERT_DIM, true, false);
    q = mb_split_heads(b, q, BERT_HEADS, dh);
    k = mb_split_heads(b, k, BERT_HEADS, dh);
    v = mb_split_heads(b, v, BERT_HEADS, dh);
    int o;
    if (distil) {
        q = mb_binary(b, "Div", q, mb_scalar(b, sqrtf((float)dh)));
        int s = mb_binary(b, "MatMul", q, mb_transpose(b, k, 4, (int64_t[]){0, 1, 3, 2}));
        s = mb_op(b, "Where", 3, (int[]){mask, mb_scalar(b, masked_value(b)), s});
        o = mb_binary(b, "MatMul", mb_softmax(b, s, -1), v);
    } else {
        o = mb_attention_core(b, q, k, v, dh, mask, false);
    }
    o = mb_merge_heads(b, o, BERT_HEADS, dh);
    return mb_linear(b, o, distil ? "attention.out_lin" : "attention.output.dense", BERT_DIM, BERT_DIM, true, false);
}

/* One post-LN encoder layer: LN(x + attn(x)); LN(h + W2 gelu(W1 h)). */
static int encoder_layer(mb *b, int x, int mask, bert_kind kind, float eps)
{
    const bool distil = kind == KIND_DISTILBERT;
    int h = self_attention(b, x, mask, kind);
    h = mb_layernorm(b, mb_binary(b, "Add", h, x), distil ? "sa_layer_norm" : "attention.output.LayerNorm",
                     BERT_DIM, eps);
    int f = mb_linear(b, h, distil ? "ffn.lin1" : "intermediate.dense", BERT_DIM, BERT_FFN, true, false);
    f = mb_gelu(b, f);
    f = mb_linear(b, f, distil ? "ffn.lin2" : "output.dense", BERT_FFN, BERT_DIM, true, false);
    return mb_layernorm(b, mb_binary(b, "Add", f, h), distil ? "output_layer_norm" : "output.LayerNorm", BERT_DIM,
                        eps);
}

/* RoBERTa's create_position_ids_from_input_ids: cumsum(ids != pad) * (ids != pad) + pad. */
static int roberta_position_ids(mb *b, int ids)
{
    int not_pad = mb_unary(b, "Not", mb_binary(b, "Equal", ids, mb_scalar_dt(b, RT_DT_I64, ROBERTA_PAD_ID)));
    int m = mb_cast(b, not_pad, RT_DT_I32);
    int c = mb_op(b, "CumSum", 2, (int[]){m, mb_scalar_dt(b, RT_DT_I64, 1)});
    int pos = mb_cast(b, mb_binary(b, "Mul", c, m), RT_DT_I64);
    return mb_binary(b, "Add", pos, mb_scalar_dt(b, RT_DT_I64, ROBERTA_PAD_ID));
}

/* Word + position (+ token type) embeddings, then LayerNorm. */
static int embeddings(mb *b, int ids, int types, int64_t n, bert_kind kind, float eps)
{
    const bool roberta = kind == KIND_ROBERTA || kind == KIND_ROBERTA_QA;
    size_t s = mb_push(b, "embeddings");
    int64_t vocab = roberta ? ROBERTA_VOCAB : BERT_VOCAB, positions = roberta ? ROBERTA_POSITIONS : BERT_POSITIONS;
    int words = mb_param(b, "word_embeddings.weight", 2, (int64_t[]){vocab, BERT_DIM});
    int x = mb_gather(b, words, ids, 0);
    int table = mb_param(b, "position_embeddings.weight", 2, (int64_t[]){positions, BERT_DIM});
    int pos_ids;
    if (roberta) {
        pos_ids = roberta_position_ids(b, ids);
    } else {
        /* the registered position_ids buffer, sliced to the length: a constant after folding */
        int64_t idx[BERT_POSITIONS];
        for (int64_t i = 0; i < n; i++)
            idx[i] = i;
        pos_ids = mb_const_i64(b, (int)n, idx);
    }
    x = mb_binary(b, "Add", x, mb_gather(b, table, pos_ids, 0));
    if (kind == KIND_BERT) {
        int tt = mb_param(b, "token_type_embeddings.weight", 2, (int64_t[]){BERT_TYPES, BERT_DIM});
        x = mb_binary(b, "Add", x, mb_gather(b, tt, types, 0));
    } else if (roberta) {
        /* type_vocab_size 1: the one row, added to every token (token_type_ids default to 0) */
        int tt = mb_param(b, "token_type_embeddings.weight", 2, (int64_t[]){1, BERT_DIM});
        x = mb_binary(b, "Add", x, tt);
    }
    x = mb_layernorm(b, x, "LayerNorm", BERT_DIM, eps);
    mb_pop(b, s);
    return x;
}

/* The first token's hidden state [1, 768] (x[:, 0]). */
static int first_token(mb *b, int x) { return mb_gather(b, x, mb_scalar_dt(b, RT_DT_I64, 0), 1); }

rt_graph *m4_build_ts_bert(m4_module_id id, const m4_module_params *p, rt_error *e)
{
    const m4_module_info *info = m4_module_get(id);
    bert_kind kind = id == M4_TS_DISTILBERT      ? KIND_DISTILBERT
                     : id == M4_TS_ROBERTA_BASE ? KIND_ROBERTA
                     : id == M4_TS_ROBERTA_QA   ? KIND_ROBERTA_QA
                                                : KIND_BERT;
    mb b;
    if (!info || !mb_init(&b, info->name, p->format, p))
        return NULL;
    if (id != M4_TS_BERT_BASE && id != M4_TS_DISTILBERT && id != M4_TS_ROBERTA_BASE && id != M4_TS_ROBERTA_QA)
        mb_fail(&b, RT_ERR_ARG, "module %d is not a transformer-encoder TS-model", (int)id);
    int64_t n = p->tokens, classes = p->classes;
    float eps = kind == KIND_ROBERTA || kind == KIND_ROBERTA_QA ? ROBERTA_LN_EPS : BERT_LN_EPS;
    int ids = mb_input(&b, "input_ids", RT_DT_I64, 2, (int64_t[]){1, n});
    int mask_in = mb_input(&b, "attention_mask", RT_DT_I64, 2, (int64_t[]){1, n});
    int types = kind == KIND_BERT ? mb_input(&b, "token_type_ids", RT_DT_I64, 2, (int64_t[]){1, n}) : -1;
    const char *base = kind == KIND_DISTILBERT ? "distilbert" : kind == KIND_BERT ? "bert" : "roberta";
    size_t s = mb_push(&b, "%s", base);
    int x = embeddings(&b, ids, types, n, kind, eps);
    int mask;
    if (kind == KIND_DISTILBERT) {
        /* (mask == 0).view(bs, 1, 1, n), expanded to the scores by Where's broadcast */
        mask = mb_binary(&b, "Equal", mask_in, mb_scalar_dt(&b, RT_DT_I64, 0));
        mask = mb_reshape(&b, mask, 4, (int64_t[]){1, 1, 1, n});
    } else {
        mask = additive_mask(&b, mask_in);
    }
    int layers = kind == KIND_DISTILBERT ? DISTILBERT_LAYERS : BERT_LAYERS;
    for (int i = 0; i < layers && x >= 0; i++) {
        size_t sl = mb_push(&b, kind == KIND_DISTILBERT ? "transformer.layer.%d" : "encoder.layer.%d", i);
        x = encoder_layer(&b, x, mask, kind, eps);
        mb_pop(&b, sl);
    }
    if (kind == KIND_BERT) {
        /* BertPooler: tanh(W x[:, 0] + b) */
        x = mb_unary(&b, "Tanh", mb_linear(&b, first_token(&b, x), "pooler.dense", BERT_DIM, BERT_DIM, true, false));
    }
    mb_pop(&b, s);
    int y;
    switch (kind) {
    case KIND_BERT: y = mb_linear(&b, x, "classifier", BERT_DIM, classes, true, false); break;
    case KIND_DISTILBERT:
        y = mb_unary(&b, "Relu", mb_linear(&b, first_token(&b, x), "pre_classifier", BERT_DIM, BERT_DIM, true, false));
        y = mb_linear(&b, y, "classifier", BERT_DIM, classes, true, false);
        break;
    case KIND_ROBERTA:
        /* RobertaClassificationHead: out_proj(tanh(dense(x[:, 0]))) */
        y = mb_unary(&b, "Tanh", mb_linear(&b, first_token(&b, x), "classifier.dense", BERT_DIM, BERT_DIM, true, false));
        y = mb_linear(&b, y, "classifier.out_proj", BERT_DIM, classes, true, false);
        break;
    case KIND_ROBERTA_QA:
    default: {
        /* qa_outputs on every token, split into start and end logits [1, n] each */
        y = mb_linear(&b, x, "qa_outputs", BERT_DIM, QA_OUTPUTS, true, false);
        int halves[QA_OUTPUTS] = {-1, -1};
        if (mb_op_n(&b, "Split", 2, (int[]){y, mb_const_i64(&b, QA_OUTPUTS, (int64_t[]){1, 1})}, QA_OUTPUTS, halves) ==
            0) {
            mb_attr_int(&b, "axis", -1);
            mb_infer(&b, halves[0]);
        }
        int last = mb_const_i64(&b, 1, (int64_t[]){-1});
        mb_output(&b, mb_op(&b, "Squeeze", 2, (int[]){halves[0], last}), "start_logits");
        mb_output(&b, mb_op(&b, "Squeeze", 2, (int[]){halves[1], last}), "end_logits");
        return mb_finish(&b, e);
    }
    }
    mb_output(&b, y, "logits");
    return mb_finish(&b, e);
}
