/* m4_tasks.c -- eAIBench, the benchmark of the M4 paper (Table 3): 38 tasks on 50 datasets, each
 * with its execution path, the modules the path runs and the input sizes of one inference, and
 * the paper's Table 5 latencies for the task types it reports.
 *
 * The paper states the path of a few tasks (section 3.3, Table 2, Table 5); every other path is
 * inferred from the task's input and output modality and the reason is written in path_basis.
 * Input sizes the paper does not give are defaults chosen from the dataset (mean lengths) and
 * the prompt style of Table 2; each row's inputs_basis says how. Token counts are LLaMA
 * tokenizer tokens, estimated at ~1.3 tokens per English word. docs/m4.md prints this table. */
#include <stddef.h>

#include "m4.h"

/* Paper Table 5 (Pixel 7 Pro). */
static const m4_paper_latency table5[] = {
    {"image classification", "IMG_enc", 2.10, 0.11, 0, 0},
    {"audio classification", "AUD-I_enc", 0.28, 0.014, 0, 0},
    {"question answering", "first token; then per token", 6.34, 0.32, 0.24, 0.012},
    {"visual question answering", "first token; then per token", 6.47, 0.32, 0.25, 0.013},
    {"text-to-speech", "TTS_dec", 0.82, 0.041, 0, 0},
};
enum { P5_IMG_CLS, P5_AUD_CLS, P5_QA, P5_VQA, P5_TTS };

/* Fixed by the modules: ImageBind takes 3 clips of 2 s of audio whatever the length; Whisper
 * always encodes a 30 s window (1500 tokens); ImageBind's IMU encoder a 2000-sample window. */
#define IMG M4_IMAGE_PX
#define IMU M4_IMU_SAMPLES
#define NONE M4_MODULE_NONE

/* Path-1 audio through Whisper: frames of the real audio (50 per second) are stacked 5 to a
 * token (10 tokens per second of speech) before the projection, as SLAM-ASR's linear projector
 * does; the padding of the 30 s window is not projected. */
#define STATED_P3_CLS "paper: section 3.3 and Table 2 (image classification, Path-3)"
#define NLP_REASON "text in, text or a label out; section 3.3: Path-2 serves language tasks, " \
                   "classification re-uses GEN_dec with a generation prompt (section 3.2)"
#define INFER_NLP "inferred: " NLP_REASON
#define INFER_IMG_ALIGN "inferred: image in, label out; aligned with label texts as image classification (Path-3)"
#define INFER_DENSE "inferred: image in, dense map out; IMG_enc patch tokens aligned with label texts " \
                    "(MaskCLIP/LSeg style); the light decoding head is not modelled"
#define CLS_INPUTS "one 224x224 image; label embeddings are computed once and cached"

static const m4_task tasks[M4_TASK_COUNT] = {
    /* ---- NLP: Path-2 (backbone + GEN_dec) ---- */
    {.id = 1, .name = "input word prediction", .dataset = "PTB", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = "paper: section 3.3 names input word prediction (Path-2)", .encoder = NONE,
     .generator = M4_GEN_DEC, .prompt_tokens = 40, .gen_tokens = 2,
     .inputs_basis = "instruction ~12 + a PTB sentence (~21 words, ~28 tokens) = 40; next word ~1.3 tokens -> 2"},
    {.id = 2, .name = "question answering", .dataset = "SQuAD v2.0", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = "paper: Table 5 (question answering, Path-2)", .encoder = NONE, .generator = M4_GEN_DEC,
     .prompt_tokens = 184, .gen_tokens = 5,
     .inputs_basis = "instruction 16 + context ~117 words (~152) + question ~11 words (~16) = 184; "
                     "answers ~3 words -> 4 tokens + EOS",
     .paper = &table5[P5_QA]},
    {.id = 3, .name = "question answering", .dataset = "TyDi QA", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = "paper: Table 5 (question answering, Path-2)", .encoder = NONE, .generator = M4_GEN_DEC,
     .prompt_tokens = 320, .gen_tokens = 8,
     .inputs_basis = "GoldP passage + question in 11 languages; LLaMA's tokenizer falls back to bytes for "
                     "non-Latin scripts (~2x the English count) -> 320; answers ~7 tokens + EOS",
     .paper = &table5[P5_QA]},
    {.id = 4, .name = "machine translation", .dataset = "wmt22 en-de", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = "paper: section 3.3 and Table 2 (machine translation, Path-2)", .encoder = NONE,
     .generator = M4_GEN_DEC, .prompt_tokens = 48, .gen_tokens = 48,
     .inputs_basis = "Table 2 instruction ~16 + a ~25-word source sentence (~32) = 48; German output "
                     "~1.5x the tokens per word -> 48 with EOS"},
    {.id = 5, .name = "emoji prediction", .dataset = "tweet_eval (emoji)", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = "inferred: Table 4 tunes its LoRA in the backbone; " NLP_REASON, .encoder = NONE,
     .generator = M4_GEN_DEC, .prompt_tokens = 48, .gen_tokens = 1,
     .inputs_basis = "instruction 16 + a tweet (~20 words with tags and mentions, ~32) = 48; one label token"},
    {.id = 6, .name = "emotion prediction", .dataset = "go_emotions", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = INFER_NLP, .encoder = NONE, .generator = M4_GEN_DEC, .prompt_tokens = 32, .gen_tokens = 1,
     .inputs_basis = "instruction 16 + a Reddit comment (~13 words, ~16) = 32; one label token"},
    {.id = 7, .name = "sentiment analysis", .dataset = "tweet_eval (sentiment)", .domain = M4_DOMAIN_NLP,
     .path = 2, .path_basis = INFER_NLP, .encoder = NONE, .generator = M4_GEN_DEC, .prompt_tokens = 48,
     .gen_tokens = 1, .inputs_basis = "instruction 16 + a tweet (~32) = 48; one label token"},
    {.id = 8, .name = "text classification", .dataset = "ag_news", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = INFER_NLP, .encoder = NONE, .generator = M4_GEN_DEC, .prompt_tokens = 64, .gen_tokens = 1,
     .inputs_basis = "instruction 16 + title and description (~38 words, ~48) = 64; one label token"},
    {.id = 9, .name = "text classification", .dataset = "SST2", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = INFER_NLP, .encoder = NONE, .generator = M4_GEN_DEC, .prompt_tokens = 40, .gen_tokens = 1,
     .inputs_basis = "instruction 16 + a sentence (~19 words, ~24) = 40; one label token"},
    {.id = 10, .name = "grammatical error correction", .dataset = "JFLEG", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = INFER_NLP, .encoder = NONE, .generator = M4_GEN_DEC, .prompt_tokens = 40, .gen_tokens = 26,
     .inputs_basis = "instruction 16 + a sentence (~19 words, ~24) = 40; the corrected sentence ~25 + EOS"},
    {.id = 11, .name = "text summary", .dataset = "CNN/Daily Mail", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = INFER_NLP, .encoder = NONE, .generator = M4_GEN_DEC, .prompt_tokens = 1040, .gen_tokens = 74,
     .inputs_basis = "instruction 16 + an article (~780 words, ~1015) truncated to 1024 = 1040; highlights "
                     "~56 words -> 73 + EOS"},
    {.id = 12, .name = "code document generation", .dataset = "CodeSearchNet", .domain = M4_DOMAIN_NLP,
     .path = 2, .path_basis = INFER_NLP, .encoder = NONE, .generator = M4_GEN_DEC, .prompt_tokens = 216,
     .gen_tokens = 20,
     .inputs_basis = "instruction 16 + a function (~120 code tokens, ~200 LLaMA tokens with whitespace) = 216; "
                     "a one-sentence docstring ~19 + EOS"},
    {.id = 13, .name = "code generation", .dataset = "Shellcode_IA32", .domain = M4_DOMAIN_NLP, .path = 2,
     .path_basis = "paper: Table 2 (code generation, Path-2)", .encoder = NONE, .generator = M4_GEN_DEC,
     .prompt_tokens = 32, .gen_tokens = 12,
     .inputs_basis = "Table 2 instruction ~16 + an intent (~10 words, ~16) = 32; one assembly line ~11 + EOS"},
    /* ---- CV ---- */
    {.id = 14, .name = "object detection", .dataset = "COCO", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = "inferred: section 3.3 uses a region proposal network whose proposals are classified by "
                   "alignment with label texts (RegionCLIP, paper ref. 151): Path-3",
     .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = "one 224x224 image; region features pooled from the one IMG_enc pass; the proposal "
                     "network is not modelled"},
    {.id = 15, .name = "object detection", .dataset = "LVIS", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = "inferred: as T14 (region proposals aligned with label texts): Path-3", .encoder = M4_IMG_ENC,
     .generator = NONE, .image_px = IMG, .inputs_basis = "as T14"},
    {.id = 16, .name = "image retrieval", .dataset = "Clothes Retrieval", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = "inferred: the query image's embedding is matched against gallery embeddings: Path-3",
     .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = "one 224x224 query image; the gallery embeddings are computed once"},
    {.id = 17, .name = "super-resolution", .dataset = "Set5", .domain = M4_DOMAIN_CV, .path = 4,
     .path_basis = "paper: section 3.3 (super-resolution runs IMG_dec alone, Path-4)", .encoder = NONE,
     .generator = M4_IMG_DEC, .unet_steps = 20, .unet_batch = 1,
     .inputs_basis = "512x512 output (64x64 latent); 20 DDIM steps as in on-device SD work (Chen et al. 2023, "
                     "20 iterations); conditioned on the low-resolution image, not a text prompt: no "
                     "classifier-free guidance; the low-resolution conditioning path is not modelled"},
    {.id = 18, .name = "style transfer", .dataset = "COCO + WikiArt", .domain = M4_DOMAIN_CV, .path = 4,
     .path_basis = "inferred: image in, image out, like super-resolution: img2img with IMG_dec alone (Path-4)",
     .encoder = NONE, .generator = M4_IMG_DEC, .unet_steps = 20, .unet_batch = 2,
     .inputs_basis = "512x512 (64x64 latent); 20 DDIM steps; the style prompt is guided (classifier-free "
                     "guidance, batch 2) and its text embedding computed once"},
    {.id = 19, .name = "semantic segmentation", .dataset = "ADE20K", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = INFER_DENSE, .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = CLS_INPUTS},
    {.id = 20, .name = "semantic segmentation", .dataset = "PASCAL VOC", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = INFER_DENSE, .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = CLS_INPUTS},
    {.id = 21, .name = "optical character recognition", .dataset = "Rendered SST2", .domain = M4_DOMAIN_CV,
     .path = 3, .path_basis = "paper: Table 2 (OCR, Path-3)", .encoder = M4_IMG_ENC, .generator = NONE,
     .image_px = IMG, .inputs_basis = CLS_INPUTS},
    {.id = 22, .name = "image classification", .dataset = "CIFAR-100", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = STATED_P3_CLS, .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = CLS_INPUTS " (32x32 images are resized)", .paper = &table5[P5_IMG_CLS]},
    {.id = 23, .name = "image classification", .dataset = "ImageNet", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = STATED_P3_CLS, .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = CLS_INPUTS, .paper = &table5[P5_IMG_CLS]},
    {.id = 24, .name = "traffic sign classification", .dataset = "GTSRB", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = INFER_IMG_ALIGN, .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = CLS_INPUTS},
    {.id = 25, .name = "vehicle re-identification", .dataset = "VeRi-776", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = "inferred: image embedding matched against a gallery, as T16: Path-3", .encoder = M4_IMG_ENC,
     .generator = NONE, .image_px = IMG, .inputs_basis = "one 224x224 query crop; gallery embeddings computed once"},
    {.id = 26, .name = "gender recognition", .dataset = "Adience", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = INFER_IMG_ALIGN, .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = CLS_INPUTS},
    {.id = 27, .name = "location recognition", .dataset = "Country211", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = INFER_IMG_ALIGN " (CLIP's Country211 protocol)", .encoder = M4_IMG_ENC, .generator = NONE,
     .image_px = IMG, .inputs_basis = CLS_INPUTS},
    {.id = 28, .name = "pose estimation", .dataset = "AP-10K", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = "inferred: patch tokens aligned with keypoint texts (CLAMP, CVPR 2023, on AP-10K): Path-3",
     .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = "one 224x224 image; keypoint text embeddings computed once; heatmap head not modelled"},
    {.id = 29, .name = "video classification", .dataset = "Kinetics-400", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = "paper: Table 2 (video classification, Path-3)", .encoder = M4_IMG_ENC, .generator = NONE,
     .image_px = IMG, .video_clips = 5,
     .inputs_basis = "ImageBind's video input: 5 clips of 2 frames at 224x224 (clip_duration 2 s, "
                     "clips_per_video 5), one IMG_enc pass with the clips as the batch, averaged"},
    {.id = 30, .name = "crowd counting", .dataset = "UCF-QNRF", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = "inferred: text-guided density from patch alignment (CLIP-Count style): Path-3",
     .encoder = M4_IMG_ENC, .generator = NONE, .image_px = IMG,
     .inputs_basis = "one 224x224 image; the 'people' text embedding computed once; density head not modelled"},
    {.id = 31, .name = "image matting", .dataset = "RefMatte-RW100", .domain = M4_DOMAIN_CV, .path = 3,
     .path_basis = "inferred: referring matting aligns patch tokens with the referring expression: Path-3, "
                   "and the expression changes per query so TXT_enc runs too",
     .encoder = M4_IMG_ENC, .text_query = true, .generator = NONE, .image_px = IMG,
     .inputs_basis = "one 224x224 image + one expression (77-token context); matte head not modelled"},
    /* ---- Audio ---- */
    {.id = 32, .name = "automatic speech recognition", .dataset = "LibriSpeech", .domain = M4_DOMAIN_AUDIO,
     .path = 1, .path_basis = "inferred: speech in, text out needs the backbone and GEN_dec, like spoken "
                              "language understanding (section 3.3, Path-1); AUD-I_enc encodes spoken language",
     .encoder = M4_AUDI_ENC, .generator = M4_GEN_DEC, .audio_s = 7.4, .prompt_tokens = 16, .modality_tokens = 74,
     .gen_tokens = 27,
     .inputs_basis = "test-clean mean utterance 7.4 s (5.4 h / 2620) -> 74 audio tokens at 10/s; instruction "
                     "16; ~2.7 words/s -> 20 words, 26 tokens + EOS"},
    {.id = 33, .name = "spoken language understanding", .dataset = "FSC", .domain = M4_DOMAIN_AUDIO, .path = 1,
     .path_basis = "paper: section 3.3 (spoken language understanding, Path-1)", .encoder = M4_AUDI_ENC,
     .generator = M4_GEN_DEC, .audio_s = 2.3, .prompt_tokens = 16, .modality_tokens = 23, .gen_tokens = 8,
     .inputs_basis = "mean command 2.3 s (19 h / 30,043) -> 23 audio tokens; instruction 16; the "
                     "action/object/location intent ~7 tokens + EOS"},
    {.id = 34, .name = "spoken language understanding", .dataset = "SLURP", .domain = M4_DOMAIN_AUDIO, .path = 1,
     .path_basis = "paper: section 3.3 (spoken language understanding, Path-1)", .encoder = M4_AUDI_ENC,
     .generator = M4_GEN_DEC, .audio_s = 2.9, .prompt_tokens = 16, .modality_tokens = 29, .gen_tokens = 12,
     .inputs_basis = "mean recording ~2.9 s -> 29 audio tokens; instruction 16; scenario_action + entities "
                     "~11 tokens + EOS"},
    {.id = 35, .name = "emotion recognition", .dataset = "IEMOCAP", .domain = M4_DOMAIN_AUDIO, .path = 3,
     .path_basis = "inferred: audio in, label out (Path-3); section 3.1: the background encoder AUD-B_enc "
                   "carries speaker emotion",
     .encoder = M4_AUDB_ENC, .generator = NONE, .audio_s = 4.5,
     .inputs_basis = "utterances ~4.5 s; AUD-B_enc always takes 3 clips of 2 s; label embeddings cached"},
    {.id = 36, .name = "audio classification", .dataset = "ESC-50", .domain = M4_DOMAIN_AUDIO, .path = 3,
     .path_basis = "paper: Table 5 (audio classification, Path-3, on AUD-I_enc)", .encoder = M4_AUDI_ENC,
     .generator = NONE, .audio_s = 5.0,
     .inputs_basis = "5 s clips, encoded in Whisper's 30 s window (1500 tokens); label embeddings cached",
     .paper = &table5[P5_AUD_CLS]},
    {.id = 37, .name = "keyword spotting", .dataset = "Speech Commands", .domain = M4_DOMAIN_AUDIO, .path = 3,
     .path_basis = "inferred: audio in, one of a fixed set of keywords out: alignment as audio "
                   "classification (Path-3), on the spoken-language encoder AUD-I_enc as Table 5's audio task",
     .encoder = M4_AUDI_ENC, .generator = NONE, .audio_s = 1.0,
     .inputs_basis = "1 s clips in Whisper's 30 s window; keyword embeddings cached"},
    /* ---- Sensing ---- */
    {.id = 38, .name = "human activity recognition", .dataset = "UCI HAR", .domain = M4_DOMAIN_SENSING, .path = 3,
     .path_basis = "paper: section 3.3 and Table 2 (HAR, Path-3)", .encoder = M4_IMU_ENC, .generator = NONE,
     .imu_samples = IMU,
     .inputs_basis = "6-axis window resampled/padded to ImageBind's 6x2000 (the encoder's positions are "
                     "fixed); activity label embeddings cached"},
    {.id = 39, .name = "human activity recognition", .dataset = "HHAR", .domain = M4_DOMAIN_SENSING, .path = 3,
     .path_basis = "paper: section 3.3 and Table 2 (HAR, Path-3)", .encoder = M4_IMU_ENC, .generator = NONE,
     .imu_samples = IMU, .inputs_basis = "as T38"},
    {.id = 40, .name = "human activity recognition", .dataset = "MotionSense", .domain = M4_DOMAIN_SENSING,
     .path = 3, .path_basis = "paper: section 3.3 and Table 2 (HAR, Path-3)", .encoder = M4_IMU_ENC,
     .generator = NONE, .imu_samples = IMU, .inputs_basis = "as T38"},
    /* ---- Multimodal ---- */
    {.id = 41, .name = "text-to-speech", .dataset = "LJSpeech", .domain = M4_DOMAIN_MULTIMODAL, .path = 4,
     .path_basis = "paper: section 3.3 and Table 5 (text-to-speech, Path-4)", .encoder = NONE,
     .generator = M4_TTS_DEC, .phonemes = 80, .mel_frames = 566,
     .inputs_basis = "LJSpeech mean clip 6.57 s (23.9 h / 13,100) = 566 mel frames at 22.05 kHz, hop 256; "
                     "~17 words ~ 80 phonemes; the vocoder is not part of TTS_dec",
     .paper = &table5[P5_TTS]},
    {.id = 42, .name = "audio captioning", .dataset = "Clotho", .domain = M4_DOMAIN_MULTIMODAL, .path = 1,
     .path_basis = "paper: Table 2 (audio captioning, Path-1); sound events: AUD-B_enc", .encoder = M4_AUDB_ENC,
     .generator = M4_GEN_DEC, .audio_s = 22.5, .prompt_tokens = 24, .modality_tokens = 1, .gen_tokens = 16,
     .inputs_basis = "15-30 s clips (3 clips of 2 s sampled by ImageBind); one pooled embedding token "
                     "(PandaGPT); Table 2 instruction ~24 tokens; captions ~11 words -> 15 + EOS"},
    {.id = 43, .name = "audio captioning", .dataset = "AudioSet (AudioCaps)", .domain = M4_DOMAIN_MULTIMODAL,
     .path = 1, .path_basis = "paper: Table 2 (audio captioning, Path-1); sound events: AUD-B_enc",
     .encoder = M4_AUDB_ENC, .generator = M4_GEN_DEC, .audio_s = 10.0, .prompt_tokens = 24, .modality_tokens = 1,
     .gen_tokens = 13, .inputs_basis = "10 s clips; one embedding token; instruction ~24; captions ~9 words -> 12 + EOS"},
    {.id = 44, .name = "image captioning", .dataset = "MSCOCO 2014", .domain = M4_DOMAIN_MULTIMODAL, .path = 1,
     .path_basis = "paper: Table 2 (image captioning, Path-1)", .encoder = M4_IMG_ENC, .generator = M4_GEN_DEC,
     .image_px = IMG, .prompt_tokens = 24, .modality_tokens = 1, .gen_tokens = 15,
     .inputs_basis = "one image -> one embedding token (PandaGPT); Table 2 instruction ~24; captions "
                     "~10.5 words -> 14 + EOS"},
    {.id = 45, .name = "image captioning", .dataset = "Flickr8k", .domain = M4_DOMAIN_MULTIMODAL, .path = 1,
     .path_basis = "paper: Table 2 (image captioning, Path-1)", .encoder = M4_IMG_ENC, .generator = M4_GEN_DEC,
     .image_px = IMG, .prompt_tokens = 24, .modality_tokens = 1, .gen_tokens = 15,
     .inputs_basis = "as T44; captions ~11 words -> 14 + EOS"},
    {.id = 46, .name = "text-to-image retrieval", .dataset = "Flickr8k", .domain = M4_DOMAIN_MULTIMODAL,
     .path = 3, .path_basis = "inferred: the query text's embedding is matched against image embeddings: Path-3",
     .encoder = M4_TXT_ENC, .generator = NONE,
     .inputs_basis = "one caption query in the 77-token context; image embeddings computed once"},
    {.id = 47, .name = "text-to-image retrieval", .dataset = "Flickr30k", .domain = M4_DOMAIN_MULTIMODAL,
     .path = 3, .path_basis = "inferred: as T46 (Path-3)", .encoder = M4_TXT_ENC, .generator = NONE,
     .inputs_basis = "as T46"},
    {.id = 48, .name = "audio/text-to-image generation", .dataset = "VGGSound", .domain = M4_DOMAIN_MULTIMODAL,
     .path = 1, .path_basis = "inferred: audio in, image out needs an encoder and IMG_dec; no path skips only "
                              "the backbone, so the full Path-1",
     .encoder = M4_AUDB_ENC, .generator = M4_IMG_DEC, .audio_s = 10.0, .prompt_tokens = 16, .modality_tokens = 1,
     .gen_tokens = 0, .unet_steps = 50, .unet_batch = 2,
     .inputs_basis = "10 s clips (3x2 s to AUD-B_enc), one embedding token + instruction 16 through one "
                     "backbone prefill whose hidden states condition the UNet (the map to the 77x768 context "
                     "is not modelled); CompVis txt2img defaults: 50 DDIM steps with guidance (batch 2)"},
    {.id = 49, .name = "visual question answering", .dataset = "VQA v2.0", .domain = M4_DOMAIN_MULTIMODAL,
     .path = 1, .path_basis = "paper: section 3.3 and Table 5 (VQA, Path-1)", .encoder = M4_IMG_ENC,
     .generator = M4_GEN_DEC, .image_px = IMG, .prompt_tokens = 24, .modality_tokens = 1, .gen_tokens = 4,
     .inputs_basis = "one image token; instruction ~16 + a ~6-word question (~8) = 24; answers 1-3 words -> "
                     "3 + EOS",
     .paper = &table5[P5_VQA]},
    {.id = 50, .name = "visual question answering", .dataset = "VizWiz", .domain = M4_DOMAIN_MULTIMODAL, .path = 1,
     .path_basis = "paper: section 3.3 and Table 5 (VQA, Path-1)", .encoder = M4_IMG_ENC, .generator = M4_GEN_DEC,
     .image_px = IMG, .prompt_tokens = 28, .modality_tokens = 1, .gen_tokens = 4,
     .inputs_basis = "as T49 with longer spoken-then-transcribed questions (~9 words, ~12) = 28",
     .paper = &table5[P5_VQA]},
};

const m4_task *m4_task_get(int id)
{
    if (id < 1 || id > M4_TASK_COUNT)
        return NULL;
    return &tasks[id - 1];
}

int m4_paper_latency_count(void)
{
    return (int)(sizeof table5 / sizeof table5[0]);
}

const m4_paper_latency *m4_paper_latency_get(int i)
{
    return i >= 0 && i < m4_paper_latency_count() ? &table5[i] : NULL;
}

const char *m4_domain_name(m4_domain d)
{
    static const char *const names[] = {"NLP", "CV", "Audio", "Sensing", "Multimodal"};
    return (int)d >= 0 && d <= M4_DOMAIN_MULTIMODAL ? names[d] : "?";
}
