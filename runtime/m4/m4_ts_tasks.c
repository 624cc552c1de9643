/* m4_ts_tasks.c -- each eAIBench task's task-specific model (TS-model) as the paper's Table 3
 * names it (with the reference it cites and where that points), and the built-in graph that
 * stands for it, so that the what-if report can put M4 and the TS-model side by side on the
 * same NPU (the paper's section 4.5 comparison).
 *
 * Table 3's names are read from the paper's text as extracted (../shared/reference; the table is
 * partly garbled there); every reference number is the paper's. A TS-model is built in only when
 * its published configuration is known and its parameters and MACs can be checked against
 * published figures (m4_reference.c); otherwise `module` is M4_MODULE_NONE and `basis` says what
 * is missing. Text models run at a fixed padded length, as a deployed mobile model does. */
#include <stddef.h>

#include "m4.h"

#define NONE M4_MODULE_NONE
#define CLS_TOKENS 128   /* the usual fixed length of a deployed sentence classifier (docs/m4.md) */
#define SQUAD_TOKENS 384 /* BERT's run_squad max_seq_length, the SQuAD deployment length */
#define NOT_BUILT(p, src, why) {(p), (src), NONE, {0}, "not built: " why}
#define LIBRARY_ONLY "the reference names a library or repository, not one model configuration"
#define NO_RECURRENT "recurrent layers (LSTM/GRU): the op registry has no LSTM or GRU op and the paper gives no " \
                     "configuration to unroll"

static const m4_ts_model ts_models[M4_TASK_COUNT] = {
    /* ---- NLP ---- */
    NOT_BUILT("RNN [23]", "friedrichor/Language-Model-Next-Word-Prediction", NO_RECURRENT),
    {"RoBERTa [35]", "deepset/roberta-base-squad2", M4_TS_ROBERTA_QA, {.tokens = SQUAD_TOKENS},
     "RoBERTa-base with the extractive-QA head; question + context padded to 384 tokens (BERT's run_squad "
     "max_seq_length); M4's 184-token prompt fits in it"},
    NOT_BUILT("AraELECTRA [36]", "aubmindlab/araelectra-base-discriminator",
              "an ELECTRA-base discriminator (BERT-base's encoder, 64000-token vocabulary); no published "
              "parameter or MAC figure to check a graph against"),
    NOT_BUILT("Transformer [32]", "huggingface/transformers", LIBRARY_ONLY),
    {"RoBERTa [22]", "cardiffnlp/twitter-roberta-base-emoji", M4_TS_ROBERTA_BASE,
     {.tokens = CLS_TOKENS, .classes = 20}, "RoBERTa-base sequence classifier, tweet_eval emoji's 20 labels; a "
     "tweet padded to 128 tokens"},
    {"RoBERTa [29]", "SamLowe/roberta-base-go_emotions", M4_TS_ROBERTA_BASE, {.tokens = CLS_TOKENS, .classes = 28},
     "RoBERTa-base sequence classifier, go_emotions' 28 labels; a comment padded to 128 tokens"},
    {"RoBERTa [27]", "cardiffnlp/twitter-roberta-base-sentiment-latest", M4_TS_ROBERTA_BASE,
     {.tokens = CLS_TOKENS, .classes = 3}, "RoBERTa-base sequence classifier, 3 sentiment labels; a tweet padded "
     "to 128 tokens"},
    {"BERT [37]", "JiaqiLee/bert-agnews", M4_TS_BERT_BASE, {.tokens = CLS_TOKENS, .classes = 4},
     "BERT-base uncased sequence classifier, ag_news' 4 classes; title + description padded to 128 tokens"},
    {"DistilBERT [38]", "distilbert-base-uncased-finetuned-sst-2-english", M4_TS_DISTILBERT,
     {.tokens = CLS_TOKENS, .classes = 2}, "DistilBERT sequence classifier, 2 labels; a sentence padded to 128 "
     "tokens"},
    NOT_BUILT("FLAN-T5 [30]", "pszemraj/flan-t5-large-grammar-synthesis",
              "an encoder-decoder that generates; T5's relative-position attention is not built"),
    NOT_BUILT("BART [5]", "facebook/bart-large-cnn", "an encoder-decoder that generates; not built"),
    NOT_BUILT("CodeT5-base [20]", "Salesforce/codet5-base-multi-sum", "an encoder-decoder that generates; not built"),
    {"CodeBERT [21]", "microsoft/codebert-base", M4_TS_ROBERTA_BASE, {.tokens = CLS_TOKENS},
     "microsoft/codebert-base is RoBERTa-base's architecture (vocab 50265); built as roberta-base (its "
     "classification head has the size of CodeBERT's pooler), the intent padded to 128 tokens. Table 3 scores "
     "it by BLEU, so a generating decoder ran on top of it: not modelled, the column is a lower bound"},
    /* ---- CV ---- */
    NOT_BUILT("Libra R-CNN [24]", "open-mmlab/mmdetection configs/libra_rcnn",
              "a two-stage detector (FPN, RoI align, NMS) at an unstated input size"),
    NOT_BUILT("X-Paste [33]", "yoctta/xpaste", "a CenterNet2 detector; not built"),
    {"ResNet50-arcface [31]", "open-mmlab/mmpretrain configs/arcface", M4_TS_RESNET50, {0},
     "the ResNet-50 backbone and pooling at 224x224; the 1000-class fc stands in for the embedding head "
     "(2 M of the 4.1 G MACs)"},
    NOT_BUILT("Real-ESRGAN [19]", "open-mmlab/mmagic configs/real_esrgan",
              "an RRDB x4 super-resolution network; Set5's image sizes vary and no deployment size is given"),
    NOT_BUILT("StyleGAN-NADA [4]", "rinongal/StyleGAN-nada", "a StyleGAN2 generator; not built"),
    NOT_BUILT("DeepLabv3plus [25]", "open-mmlab/mmsegmentation configs/deeplabv3plus",
              "dilated ResNet backbone and ASPP (the NPU's convolution has dilation 1 only); crop size not stated"),
    NOT_BUILT("DeepLabv3plus [26]", "open-mmlab/mmsegmentation configs/deeplabv3plus",
              "dilated ResNet backbone and ASPP (the NPU's convolution has dilation 1 only); crop size not stated"),
    NOT_BUILT("CLIP [34]", "mlfoundations/open_clip", LIBRARY_ONLY " (M4's IMG_enc is itself an OpenCLIP tower)"),
    NOT_BUILT("GFNet-XS [103]", "Rao et al. 2021", "global filter layers need a 2-D FFT, which the op registry lacks"),
    {"ResNet-152 [64]", "He et al. 2016 (torchvision resnet152)", M4_TS_RESNET152, {0},
     "ResNet-152 at 224x224, the paper's own example (section 2.2 measures it on the Pixel 7 Pro's Edge TPU)"},
    NOT_BUILT("MicronNet [8]", "ppriyank/MicronNet", "a small GTSRB CNN; not built"),
    NOT_BUILT("MSINet [6]", "vimar-gu/msinet", "a searched re-identification network; not built"),
    NOT_BUILT("MiVOLO-D1 [2]", "wildchlamydia/mivolo", "a VOLO vision transformer with outlooker attention; not built"),
    NOT_BUILT("CLIP [34]", "mlfoundations/open_clip",
              "the extracted Table 3 cell is blank; reference [34] names location recognition. " LIBRARY_ONLY),
    NOT_BUILT("ViTPose [134]", "Xu et al. 2023", "a ViT pose estimator; backbone size not stated"),
    NOT_BUILT("SlowFast [28]", "open-mmlab/mmaction2 configs/recognition/slowfast",
              "3-D convolutions over two pathways; not built"),
    NOT_BUILT("CSS-CCNN [12]", "val-iisc/css-ccnn", "a crowd-counting CNN; input size not stated"),
    NOT_BUILT("MDETR [79]", "Li et al. 2023 (referring image matting)", "a RoBERTa + ResNet detector-transformer; "
              "not built"),
    /* ---- Audio ---- */
    NOT_BUILT("CTC+attention [14]", "speechbrain/asr-crdnn-rnnlm-librispeech",
              "a CRDNN encoder, an attentional GRU decoder and an RNN LM: " NO_RECURRENT),
    NOT_BUILT("Transformer [18]", "speechbrain recipes/fluent-speech-commands", LIBRARY_ONLY),
    NOT_BUILT("CRDNN [3]", "a shared Google Drive folder (speechbrain SLURP recipe)", NO_RECURRENT),
    NOT_BUILT("ECAPA-TDNN [15]", "a shared Google Drive folder", "the reference is a shared folder, not a published configuration"),
    NOT_BUILT("ACDNet [1]", "mohaimenz/acdnet", "a raw-audio CNN; not built"),
    NOT_BUILT("cnn-trad-fpool3 [17]", "tensorflow/tensorflow examples/speech_commands",
              "a small keyword-spotting CNN; not built"),
    /* ---- Sensing ---- */
    NOT_BUILT("TS-TCC [51]", "Eldele et al. 2021", "a small temporal CNN encoder; not built"),
    NOT_BUILT("LIMU-BERT [16]", "dapowan/LIMU-BERT-Public", "a tiny IMU transformer and its classifier; not built"),
    NOT_BUILT("LIMU-BERT [16]", "dapowan/LIMU-BERT-Public", "a tiny IMU transformer and its classifier; not built"),
    /* ---- Multimodal ---- */
    NOT_BUILT("Transformer [13]", "facebookresearch/fairseq", LIBRARY_ONLY),
    NOT_BUILT("Transformer [10]", "lukewys/dcase_2020_T6", "an audio-captioning encoder-decoder; not built"),
    NOT_BUILT("Transformer [10]", "lukewys/dcase_2020_T6", "an audio-captioning encoder-decoder; not built"),
    NOT_BUILT("LSTM [7]", "maxy0524/image_captioning", NO_RECURRENT),
    NOT_BUILT("LSTM [110]", "Song et al. 2019", NO_RECURRENT),
    NOT_BUILT("NAPReg [69]", "Jawade et al.", "a cross-modal retrieval model; not built"),
    NOT_BUILT("CLIP [34]", "mlfoundations/open_clip", LIBRARY_ONLY),
    NOT_BUILT("Wav2CLIP [11]", "descriptinc/lyrebird-wav2clip", "a ResNet audio encoder feeding a VQGAN+CLIP "
              "generator; not built"),
    NOT_BUILT("MUTAN [41]", "Ben-Younes et al. 2017", "a Tucker-fusion VQA model over a ResNet-152 and a GRU: "
              NO_RECURRENT),
    NOT_BUILT("MUTAN [41]", "Ben-Younes et al. 2017", "a Tucker-fusion VQA model over a ResNet-152 and a GRU: "
              NO_RECURRENT),
};

const m4_ts_model *m4_task_ts_model(const m4_task *t)
{
    if (!t || t->id < 1 || t->id > M4_TASK_COUNT)
        return NULL;
    return &ts_models[t->id - 1];
}

rt_status m4_task_ts_params(const m4_task *t, m4_module_params *out, rt_error *e)
{
    const m4_ts_model *ts = m4_task_ts_model(t);
    if (!ts)
        return rt_error_set(e, RT_ERR_ARG, "m4_task_ts_params: no task");
    if (ts->module == NONE)
        return rt_error_set(e, RT_ERR_NOT_FOUND, "T%d: its TS-model %s is not built in (%s)", t->id, ts->paper,
                            ts->basis);
    rt_status st = m4_module_params_resolve((m4_module_id)ts->module, &ts->params, out, e);
    if (st != RT_OK)
        rt_error_prefix(e, "T%d TS-model %s", t->id, ts->paper);
    return st;
}
