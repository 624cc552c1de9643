/* m4_reference.c -- the published figures the module graphs are checked against, as data: which
 * graph is built at which sizes, what the published number is, in which units, and how the
 * paper's figure is read. The tests check every row within its tolerance and docs/m4.md prints
 * the same rows; a figure that cannot be reconstructed from a published configuration is
 * documented in docs/m4.md instead of being listed here. */
#include <stddef.h>

#include "m4.h"

#define GIGA 1e9
#define GIBI 1073741824.0 /* 2^30: the paper's LLaMA and GEN_dec rows are in binary units */
#define MEGA 1e6
#define TOL 0.05
#define TOL_ONE_DIGIT 0.25 /* a figure given to one significant digit: +-half a unit */

/* Parts of the SD v1 checkpoint that IMG_dec does not run per image (diffusers counts):
 * AutoencoderKL 83,653,863 minus its decoder half 49,490,199 (built here), and the CLIP
 * ViT-L/14 text encoder 123,060,480. */
#define SD_VAE_ENCODER_PARAMS (83653863.0 - 49490199.0)
#define SD_CLIP_TEXT_PARAMS 123060480.0

/* Task-specific models: the MAC counts of the text encoders are given at this padded length. */
#define TS_TEXT_TOKENS 128

static const m4_reference refs[] = {
    {M4_IMG_ENC, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 0.6328, GIGA, 0, TOL, "IMG_enc parameters",
     "paper Table 1", "0.6328 B"},
    {M4_IMG_ENC, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 167.5963, GIGA, 0, TOL, "IMG_enc MACs",
     "paper Table 1",
     "the paper's 'GFLOPs' are fvcore counts, one per multiply-accumulate (OpenCLIP's profile gives "
     "334.6 GFLOP for the same ViT-H/14 at 224: twice the MACs)"},
    {M4_TXT_ENC, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 0.354, GIGA, 0, TOL, "TXT_enc parameters",
     "paper Table 1", "0.354 B"},
    {M4_TXT_ENC, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 23.4189, GIGA, 0, TOL, "TXT_enc MACs", "paper Table 1",
     "GMAC over the 77-token context (OpenCLIP's profile: 47.1 GFLOP)"},
    {M4_AUDB_ENC, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 0.0862, GIGA, 0, TOL, "AUD-B_enc parameters",
     "paper Table 1", "0.0862 B"},
    {M4_AUDB_ENC, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 61.4679, GIGA, 0, TOL, "AUD-B_enc MACs",
     "paper Table 1",
     "GMAC for ImageBind's audio input: 3 clips of 2 s (229 tokens each), averaged; one clip is 20.5 G"},
    {M4_IMU_ENC, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 0.0196, GIGA, 0, TOL, "IMU_enc parameters",
     "paper Table 1", "0.0196 B"},
    {M4_IMU_ENC, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 5.1417, GIGA, 0, TOL, "IMU_enc MACs", "paper Table 1",
     "GMAC for one 6x2000 window (251 tokens)"},
    {M4_BACKBONE_PREFILL, {0}, M4_GEN_DEC, {0}, M4_Q_PARAMS, 6.28, GIBI, 0, TOL, "LLaMA-7B parameters",
     "paper Table 1",
     "6.28 = 6.738e9 / 2^30: the whole LLaMA-7B (embedding table, 32 layers, final norm and the output "
     "head, which this library builds as GEN_dec) in binary giga"},
    {M4_BACKBONE_PREFILL, {.tokens = 48}, M4_MODULE_NONE, {0}, M4_Q_MACS, 312, GIGA, 0, TOL,
     "backbone MACs (L = 48)", "paper Table 1",
     "the paper does not give the sequence length; 312 G is L x 6.48 G + attention at L = 48 (the "
     "default prefill length is chosen to match); the output head over all 48 positions would add 2%"},
    {M4_GEN_DEC, {.tokens = 1024}, M4_MODULE_NONE, {0}, M4_Q_MACS, 125.0, GIBI, 0, TOL,
     "GEN_dec MACs (1024 positions)", "paper Table 1",
     "1024 positions x 4096 x 32000 = 125.0 x 2^30 MACs exactly: the head over a 1024-token sequence, "
     "in binary giga"},
    {M4_IMG_DEC_UNET, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 0.86, GIGA, 0, TOL, "SD v1 UNet parameters",
     "BK-SDM model card (Nota-NetsPresso/BK-SDM MODEL_CARD.md)",
     "'0.86B-param U-Net' of SD v1.4; diffusers counts 859,520,964"},
    {M4_IMG_DEC_VAE, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 49.490199, MEGA, 0, TOL,
     "SD v1 VAE decoder parameters", "torchinfo summary of diffusers AutoencoderKL (SD v1)",
     "post_quant_conv 20 + decoder 49,490,179 (conv_in, mid block, 4 up blocks, norm, conv_out)"},
    {M4_IMG_DEC, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 1.0663, GIGA, SD_VAE_ENCODER_PARAMS + SD_CLIP_TEXT_PARAMS,
     TOL, "IMG_dec parameters (whole SD v1)", "paper Table 1",
     "the paper counts the whole SD v1 checkpoint: UNet + VAE + CLIP ViT-L/14 text encoder; the parts "
     "not run per image (VAE encoder 34.16 M, text encoder 123.06 M, diffusers counts) are added to the "
     "built UNet + VAE decoder"},
    {M4_BACKBONE_PREFILL, {.lora_rank = 4}, M4_MODULE_NONE, {0}, M4_Q_LORA_PARAMS, 2.0, MEGA, 0, TOL_ONE_DIGIT,
     "backbone LoRA, rank 4 on q and v", "paper Table 4 (emoji prediction)",
     "'2M' trainable parameters, published to one significant figure (1.5-2.5 M, hence 25%): "
     "32 x 2 x 4 x (4096 + 4096) = 2.10 M"},
    /* ---- task-specific models (BN folded: each BN's gamma folds into the weights, its beta
     * becomes the conv bias, so a model has one parameter per BN channel fewer than torchvision
     * counts; at most 0.2% here) ---- */
    {M4_TS_RESNET50, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 25.557032, MEGA, 0, TOL, "ResNet-50 parameters",
     "torchvision ResNet50_Weights.IMAGENET1K_V1 (num_params 25,557,032)",
     "v1.5 with the 1000-class fc; He et al. 2016 give no parameter count"},
    {M4_TS_RESNET50, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 4.089, GIGA, 0, TOL, "ResNet-50 MACs",
     "torchvision ResNet50_Weights.IMAGENET1K_V1 (4.09 'GFLOPS', counted one per multiply-add)",
     "224x224; He et al. 2016 Table 1 give 3.8e9 for v1 (stride in the first 1x1), 7% below v1.5"},
    {M4_TS_RESNET152, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 60.192808, MEGA, 0, TOL, "ResNet-152 parameters",
     "torchvision ResNet152_Weights.IMAGENET1K_V1 (num_params 60,192,808)",
     "v1.5 with the 1000-class fc; OpenVINO's Caffe ResNet-152 (no BN parameters) lists 60.117 M"},
    {M4_TS_RESNET152, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 11.514, GIGA, 0, TOL, "ResNet-152 MACs",
     "torchvision ResNet152_Weights.IMAGENET1K_V1 (11.51 'GFLOPS', one per multiply-add)",
     "224x224; He et al. 2016 Table 1 give 11.3e9 for v1 (the built v1.5 is 1.9% above it)"},
    {M4_TS_MOBILENET_V1, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 4.2, MEGA, 0, TOL, "MobileNet v1 parameters",
     "Howard et al. 2017 (arXiv 1704.04861), Table 8: 1.0 MobileNet-224", "4.2 million, the 1000-class fc included"},
    {M4_TS_MOBILENET_V1, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 0.569, GIGA, 0, TOL, "MobileNet v1 MACs",
     "Howard et al. 2017, Table 8: 1.0 MobileNet-224", "569 million mult-adds at 224x224"},
    {M4_TS_MOBILENET_V2, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 3.4, MEGA, 0, TOL, "MobileNet v2 parameters",
     "Sandler et al. 2018 (arXiv 1801.04381), Table 4: MobileNetV2 (1.0, 224)",
     "3.4 M; torchvision's mobilenet_v2 counts 3,504,872 with BN (the built graph is between the two)"},
    {M4_TS_MOBILENET_V2, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 0.300, GIGA, 0, TOL, "MobileNet v2 MACs",
     "Sandler et al. 2018, Table 4: MobileNetV2 (1.0, 224)", "300 M multiply-adds"},
    {M4_TS_INCEPTION_V1, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 6.624904, MEGA, 0, TOL, "Inception v1 parameters",
     "torchvision GoogLeNet_Weights.IMAGENET1K_V1 (num_params 6,624,904)",
     "the 3x3 '5x5' branch of TF-slim and torchvision (the deployed models), no auxiliary classifiers; the "
     "paper's Table 1 (true 5x5 branch) sums to about 6.8 M"},
    {M4_TS_INCEPTION_V1, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 1.5, GIGA, 0, TOL, "Inception v1 MACs",
     "Szegedy et al. 2015 (arXiv 1409.4842), section 1: '1.5 billion multiply-adds at inference time'",
     "torchvision lists 1.5 'GFLOPS' (multiply-adds) for the 3x3-branch model built here"},
    {M4_TS_INCEPTION_V4, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 42.68, MEGA, 0, TOL, "Inception v4 parameters",
     "timm inception_v4 (42.68 M; also zhulf0804/Inceptionv4_and_Inception-ResNetv2.PyTorch README)",
     "1000 classes; Szegedy et al. 2016 give no parameter count (TF-slim's 1001-class model: +1537)"},
    {M4_TS_INCEPTION_V4, {0}, M4_MODULE_NONE, {0}, M4_Q_MACS, 12.275, GIGA, 0, TOL, "Inception v4 MACs",
     "Xilinx Vitis AI model zoo, tf_inceptionv4_imagenet_299_299 ('float ops: 24.55G')",
     "24.55 GFLOP at 299x299 counted two per multiply-add = 12.275 GMAC (timm lists 12.28 GMACs); "
     "Szegedy et al. 2016 give none"},
    {M4_TS_BERT_BASE, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 110, MEGA, 0, TOL, "BERT-base parameters",
     "Devlin et al. 2018 (arXiv 1810.04805), section 3: BERT-BASE 110M",
     "embeddings, 12 layers and the pooler (HF bert-base-uncased: 109,482,240) + a 2-class classifier"},
    {M4_TS_BERT_BASE, {.tokens = TS_TEXT_TOKENS}, M4_MODULE_NONE, {0}, M4_Q_MACS, 11.25, GIGA, 0, TOL,
     "BERT-base MACs (128 tokens)", "TinyBERT (Jiao et al., Findings of EMNLP 2020), Table 1: BERT-BASE 22.5B FLOPs",
     "22.5 GFLOP at sequence length 128 counted two per multiply-add = 11.25 GMAC (the same table: 109M "
     "parameters)"},
    {M4_TS_DISTILBERT, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 66, MEGA, 0, TOL, "DistilBERT parameters",
     "Sanh et al. 2019 (arXiv 1910.01108), Table 3: DistilBERT 66M",
     "HF distilbert-base-uncased-finetuned-sst-2-english counts 66,955,010 with its classifier"},
    {M4_TS_DISTILBERT, {.tokens = TS_TEXT_TOKENS}, M4_MODULE_NONE, {0}, M4_Q_MACS, 5.65, GIGA, 0, TOL,
     "DistilBERT MACs (128 tokens)", "TinyBERT (Jiao et al. 2020), Table 1: TinyBERT6 11.3B FLOPs",
     "TinyBERT6 has DistilBERT's shape (6 layers, d 768, FFN 3072, 12 heads, BERT's vocabulary): 11.3 GFLOP "
     "at length 128 = 5.65 GMAC; no DistilBERT MAC count is published"},
    {M4_TS_ROBERTA_BASE, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 125, MEGA, 0, TOL, "RoBERTa-base parameters",
     "fairseq examples/roberta README: roberta.base, 125M params (Liu et al. 2019)",
     "RoBERTa on the BERT-base architecture with a 50265-token vocabulary; HF roberta-base counts "
     "124,645,632 with the pooler, whose size the classification head's dense layer has"},
    {M4_TS_ROBERTA_BASE, {.tokens = TS_TEXT_TOKENS}, M4_MODULE_NONE, {0}, M4_Q_MACS, 11.25, GIGA, 0, TOL,
     "RoBERTa-base MACs (128 tokens)", "TinyBERT (Jiao et al. 2020), Table 1: BERT-BASE 22.5B FLOPs",
     "RoBERTa-base's encoder is BERT-base's (the vocabulary changes parameters, not MACs)"},
    {M4_TS_ROBERTA_QA, {0}, M4_MODULE_NONE, {0}, M4_Q_PARAMS, 125, MEGA, 0, TOL,
     "RoBERTa-base SQuAD parameters", "fairseq examples/roberta README: roberta.base, 125M params",
     "deepset/roberta-base-squad2: the encoder without pooler + qa_outputs 768 -> 2"},
    {M4_TS_ROBERTA_QA, {.tokens = TS_TEXT_TOKENS}, M4_MODULE_NONE, {0}, M4_Q_MACS, 11.25, GIGA, 0, TOL,
     "RoBERTa-base SQuAD MACs (128 tokens)", "TinyBERT (Jiao et al. 2020), Table 1: BERT-BASE 22.5B FLOPs",
     "the same encoder; the task runs it at 384 tokens (35.3 GMAC, attention included)"},
};

int m4_reference_count(void)
{
    return (int)(sizeof refs / sizeof refs[0]);
}

const m4_reference *m4_reference_get(int i)
{
    return i >= 0 && i < m4_reference_count() ? &refs[i] : NULL;
}

static rt_status module_value(m4_module_id id, const m4_module_params *p, m4_quantity q, double *v, rt_error *e)
{
    rt_graph *g = m4_module_build_id(id, p, e);
    if (!g)
        return e ? e->code : RT_ERR_ARG;
    m4_module_stats s;
    rt_status st = m4_module_stats_get(g, &s, e);
    graph_free(g);
    if (st != RT_OK)
        return st;
    *v = q == M4_Q_MACS ? s.macs : q == M4_Q_LORA_PARAMS ? s.lora_params : s.params;
    return RT_OK;
}

rt_status m4_reference_compute(const m4_reference *r, double *value, rt_error *e)
{
    if (!r || !value)
        return rt_error_set(e, RT_ERR_ARG, "m4_reference_compute: no reference or no output");
    double v = 0, extra = 0;
    rt_status st = module_value(r->module, &r->params, r->quantity, &v, e);
    if (st == RT_OK && r->extra_module != M4_MODULE_NONE)
        st = module_value((m4_module_id)r->extra_module, &r->extra_params, r->quantity, &extra, e);
    if (st != RT_OK)
        return st;
    *value = (v + extra + r->offset) / r->unit;
    return RT_OK;
}
