/* fit_table.c -- what fit knows: the measured workloads (a chip's preset, the module runs that
 * stand for the workload, and why), the configuration keys it may fit with their physical ranges,
 * and the keys each preset fits by default. docs/fit.md explains every choice. */
#include "fit.h"

#include <string.h>
#include <strings.h>

#define LLAMA_CONTEXT_TOKENS 1024 /* AI Hub's Llama-2-7B-Chat: a 1024-token context (the file's notes) */
#define BERT_SEQUENCE_TOKENS 128  /* BERT-base's usual fine-tuning length; the paper does not state one */

#define CHIP_8GEN3 "Snapdragon 8 Gen 3"
#define CHIP_TENSOR_G2 "Google Tensor G2 Edge TPU"
#define CHIP_CORAL "Coral Edge TPU"
#define TFLITE_INT8 "int8 (TFLite)"

static const fit_workload workloads[] = {
    {CHIP_8GEN3, "Llama-2-7B-Chat decode", "w4a16", "snapdragon-8gen3", 2,
     {{M4_BACKBONE_DECODE, {.kv_len = LLAMA_CONTEXT_TOKENS, .format = M4_FMT_INT4}, 1},
      {M4_GEN_DEC, {.tokens = 1, .format = M4_FMT_INT4}, 1}},
     "one token: LLaMA-7B decode against the 1024-token cache of the context the notes name, and the output head; "
     "INT4 weights (w4), no LoRA (Llama-2-Chat as published)"},
    {CHIP_8GEN3, "Llama-2-7B-Chat prefill", "w4a16", "snapdragon-8gen3", 2,
     {{M4_BACKBONE_PREFILL, {.tokens = LLAMA_CONTEXT_TOKENS, .format = M4_FMT_INT4}, 1},
      {M4_GEN_DEC, {.tokens = 1, .format = M4_FMT_INT4}, 1}},
     "time to first token: LLaMA-7B prefill of the 1024-token prompt and the output head once; INT4 weights"},
    {CHIP_TENSOR_G2, "ResNet-152 inference", TFLITE_INT8, "mobile-default", 1,
     {{M4_TS_RESNET152, {0}, 1}},
     "the built-in ResNet-152 at 224x224, INT8; mobile-default is the Pixel-7-Pro-class (Tensor G2) preset"},
    {CHIP_TENSOR_G2, "BERT-base inference", TFLITE_INT8, "mobile-default", 1,
     {{M4_TS_BERT_BASE, {.tokens = BERT_SEQUENCE_TOKENS}, 1}},
     "the built-in BERT-base at 128 tokens (the paper states no length), INT8"},
    {CHIP_CORAL, "Inception v1 (224x224) inference", TFLITE_INT8, "coral-edgetpu", 1,
     {{M4_TS_INCEPTION_V1, {0}, 1}}, "the built-in Inception v1 at 224x224, INT8"},
    {CHIP_CORAL, "MobileNet v1 (224x224) inference", TFLITE_INT8, "coral-edgetpu", 1,
     {{M4_TS_MOBILENET_V1, {0}, 1}}, "the built-in MobileNet v1 (1.0 width) at 224x224, INT8"},
    {CHIP_CORAL, "Inception v4 (299x299) inference", TFLITE_INT8, "coral-edgetpu", 1,
     {{M4_TS_INCEPTION_V4, {0}, 1}}, "the built-in Inception v4 at 299x299, INT8"},
};
#define N_WORKLOADS ((int)(sizeof workloads / sizeof workloads[0]))

int fit_workload_count(void) { return N_WORKLOADS; }
const fit_workload *fit_workload_at(int i) { return i >= 0 && i < N_WORKLOADS ? &workloads[i] : NULL; }

const fit_workload *fit_workload_find(const char *chip, const char *workload, const char *precision)
{
    for (int i = 0; i < N_WORKLOADS; i++)
        if (strcasecmp(workloads[i].chip, chip) == 0 && strcasecmp(workloads[i].workload, workload) == 0 &&
            strcasecmp(workloads[i].precision, precision) == 0)
            return &workloads[i];
    return NULL;
}

/* The keys fit may change, each within what such a device can physically have. */
static const fit_key keys[] = {
    {"npu.clock_mhz", 200, 2000,
     "the clock at which the array delivers MACs of the workload's precision (a clock); mobile and edge NPUs run "
     "at 0.2-2 GHz, and 16-bit activations on an int8 array halve the MAC rate, which the fitted clock absorbs"},
    {"npu.dram.efficiency", 0.3, 0.95,
     "the sustained fraction of the memory's peak bandwidth (an efficiency): LPDDR and PCIe links sustain 50-90% "
     "on long streams; below 0.3 a memory system would be broken, above 0.95 refresh and turnarounds forbid"},
    {"npu.dram.latency_ns", 50, 2000,
     "first-byte latency of a transfer (an overhead): ~100 ns for LPDDR, ~1-2 us for a PCIe read round trip"},
    {"cpu.npu_submit_overhead_us", 5, 1000,
     "host time per NPU job (an overhead): a driver call, doorbell and interrupt take tens to hundreds of us"},
    {"cpu.npu_transfer_overhead_us", 0.5, 100,
     "host time per tensor crossing the CPU/NPU boundary (an overhead): buffer mapping and cache maintenance"},
    {"cpu.dispatch_overhead_us", 0.5, 100,
     "fixed cost of one operator on the CPU (an overhead) in an inference runtime"},
    {"energy.npu_static_w", 0.01, 2,
     "leakage and clock tree of the NPU while it is on (a power): 10-20% of a phone NPU's 1-10 W"},
    {"cpu.idle_power_w", 0.05, 1,
     "the CPU cluster's power while it waits for the NPU (a power): phone clusters idle at 0.05-1 W"},
    {"cpu.npu_op_overhead_us", 0, 500,
     "host time per node of an NPU job (an overhead): an inference runtime's delegate that prepares and launches "
     "the NPU's work op by op costs up to a few hundred us per op (a driver call each); 0 for one compiled job"},
    {"energy.platform_w", 0, 5,
     "the rest of the device while a task runs (a power): SoC fabric, DRAM background and power delivery draw "
     "0.5-3 W in a phone under load, which a whole-device energy measurement includes; 0 for the chips alone"},
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

int fit_key_count(void) { return N_KEYS; }
const fit_key *fit_key_at(int i) { return i >= 0 && i < N_KEYS ? &keys[i] : NULL; }

const fit_key *fit_key_find(const char *key)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

/* Each preset fits the fewest keys its rows need (docs/fit.md): the 8 Gen 3's prefill is
 * compute-bound (the clock; its decode is the test row), the Tensor G2's ResNet-152 latency the
 * TFLite delegate's per-op host time and its BERT-base energy, measured on the whole phone, the
 * rest of the device's power; the Coral's CNNs the link's efficiency and the clock. */
static const struct {
    const char *preset;
    const char *keys[3];
} default_keys[] = {
    {"snapdragon-8gen3", {"npu.clock_mhz"}},
    {"snapdragon-8gen2", {"npu.clock_mhz"}},
    {"mobile-default", {"cpu.npu_op_overhead_us", "energy.platform_w"}},
    {"coral-edgetpu", {"npu.dram.efficiency", "npu.clock_mhz"}},
};

int fit_default_keys(const char *preset, const fit_key **out, int max)
{
    int n = 0;
    for (size_t i = 0; i < sizeof default_keys / sizeof default_keys[0]; i++)
        if (strcmp(default_keys[i].preset, preset) == 0)
            for (int k = 0; k < 3 && default_keys[i].keys[k] && n < max; k++)
                out[n++] = fit_key_find(default_keys[i].keys[k]);
    return n;
}

static double *key_slot(const m4npu_config *cfg, const fit_key *k)
{
    const m4npu_cfg_key *row = m4npu_config_key_find(k->key);
    /* every fit_key is an F64 key of the schema (test_fit checks the table) */
    return row && row->kind == M4NPU_CFG_F64 ? (double *)((char *)cfg + row->offset) : NULL;
}

double fit_key_get(const m4npu_config *cfg, const fit_key *k)
{
    const double *v = key_slot(cfg, k);
    return v ? *v : 0.0;
}

void fit_key_set(m4npu_config *cfg, const fit_key *k, double v)
{
    double *slot = key_slot(cfg, k);
    if (slot)
        *slot = v;
}
