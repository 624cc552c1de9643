/* More hardware never makes a workload slower (issue 14): from configs/mobile-default.yaml, each
 * knob is stepped up a ladder of values (the others at the preset's), and each of five workloads,
 * simulated timing-only, must take no longer at a step than at the step before: SRAM, DRAM
 * bandwidth, array rows and columns, vector and softmax lanes, DMA channels, NPU and control-core
 * clocks, and weight bits (int8 -> int4 where the module takes int4 weights).
 *
 * Scaled down to keep it fast: the decode step reads a KV cache of 64 tokens, the prefill is 256
 * tokens, the UNet step runs on a 16x16 latent; IMG_enc is the full ViT-H, the CNN MobileNet v2.
 * Each violation is printed with the knob, the two values, the workload and both latencies.
 */
#include "test_util.h"

#include "m4.h"
#include "m4npu_config.h"
#include "whatif.h"

#define PRESET M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define N_WORKLOADS 5
#define MAX_STEPS 6
#define MAX_SHOWN 40

typedef struct workload {
    const char *name;
    m4_module_params params;
} workload;

static workload workloads[N_WORKLOADS];

static void workloads_init(m4_format format)
{
    memset(workloads, 0, sizeof workloads);
    workloads[0].name = "backbone-decode";
    workloads[0].params.kv_len = 64;
    workloads[1].name = "backbone-prefill";
    workloads[1].params.tokens = 256;
    workloads[2].name = "IMG_enc";
    workloads[3].name = "IMG_dec-unet";
    workloads[3].params.latent = 16;
    workloads[4].name = "mobilenet-v2";
    for (int i = 0; i < N_WORKLOADS; i++)
        workloads[i].params.format = format;
}

typedef struct knob {
    const char *key;
    const char *values[MAX_STEPS]; /* increasing hardware, NULL-terminated */
} knob;

static const knob knobs[] = {
    {"npu.sram.size_bytes", {"1 MiB", "2 MiB", "4 MiB", "8 MiB", "16 MiB", NULL}},
    {"npu.dram.bandwidth_gb_s", {"25.6", "51.2", "102.4", "204.8", NULL}},
    {"npu.matmul.rows", {"32", "64", "128", NULL}},
    {"npu.matmul.cols", {"32", "64", "128", NULL}},
    {"npu.vector.lanes", {"32", "64", "128", NULL}},
    {"npu.softmax.lanes", {"32", "64", "128", NULL}},
    {"npu.dma.channels", {"1", "2", "3", "4", NULL}},
    {"npu.clock_mhz", {"800", "1066", "1400", NULL}},
    {"npu.control.clock_mhz", {"400", "800", "1600", NULL}},
};

typedef struct mono_log {
    int checks, violations;
    char shown[MAX_SHOWN][300];
} mono_log;

/* Latency of every workload on the preset with key = value (key NULL: the preset), in `format`. */
static void latencies(const char *key, const char *value, m4_format format, double out[N_WORKLOADS])
{
    m4npu_config cfg;
    m4npu_config_error err;
    if (m4npu_config_load(PRESET, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s: %s", PRESET, err.msg);
    if (key && (m4npu_config_set(&cfg, key, value, &err) != M4NPU_CONFIG_OK ||
                m4npu_config_validate(&cfg, &err) != M4NPU_CONFIG_OK))
        fail_msg("%s=%s: %s", key, value, err.msg);
    rt_error e;
    whatif *w = whatif_open(&cfg, &e);
    if (!w)
        fail_msg("%s=%s: %s", key ? key : "-", value ? value : "-", e.msg);
    workloads_init(format);
    for (int i = 0; i < N_WORKLOADS; i++) {
        const whatif_module_run *run;
        m4_module_params p = workloads[i].params, resolved;
        int id = m4_module_lookup(workloads[i].name);
        assert_true(id >= 0);
        if (format != M4_FMT_DEFAULT && m4_module_params_resolve((m4_module_id)id, &p, &resolved, &e) != RT_OK) {
            out[i] = -1.0; /* the module takes no int4 weights */
            continue;
        }
        if (whatif_module(w, (m4_module_id)id, &p, &run, &e) != RT_OK)
            fail_msg("%s=%s: %s: %s", key ? key : "-", value ? value : "-", workloads[i].name, e.msg);
        out[i] = run->r->total_s;
    }
    whatif_close(w);
}

static void compare(mono_log *log, const char *key, const char *lo, const char *hi, const double a[N_WORKLOADS],
                    const double b[N_WORKLOADS])
{
    for (int i = 0; i < N_WORKLOADS; i++) {
        if (a[i] < 0.0 || b[i] < 0.0)
            continue;
        log->checks++;
        if (b[i] > a[i]) {
            if (log->violations < MAX_SHOWN)
                snprintf(log->shown[log->violations], sizeof log->shown[0], "%s %s -> %s: %s %.6f -> %.6f s (+%.2f%%)",
                         key, lo, hi, workloads[i].name, a[i], b[i], 100.0 * (b[i] / a[i] - 1.0));
            log->violations++;
        }
    }
}

static void test_more_hardware_is_never_slower(void **state)
{
    (void)state;
    mono_log log;
    memset(&log, 0, sizeof log);
    double prev[N_WORKLOADS], cur[N_WORKLOADS];
    for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
        latencies(knobs[k].key, knobs[k].values[0], M4_FMT_DEFAULT, prev);
        for (int s = 1; s < MAX_STEPS && knobs[k].values[s]; s++) {
            latencies(knobs[k].key, knobs[k].values[s], M4_FMT_DEFAULT, cur);
            compare(&log, knobs[k].key, knobs[k].values[s - 1], knobs[k].values[s], prev, cur);
            memcpy(prev, cur, sizeof prev);
        }
    }
    /* fewer weight bits */
    latencies(NULL, NULL, M4_FMT_INT8, prev);
    latencies(NULL, NULL, M4_FMT_INT4, cur);
    compare(&log, "weights", "int8", "int4", prev, cur);
    print_message("%d comparisons, %d slower\n", log.checks, log.violations);
    for (int i = 0; i < log.violations && i < MAX_SHOWN; i++)
        print_message("  %s\n", log.shown[i]);
    assert_true(log.checks > 100);
    if (log.violations)
        fail_msg("%d steps up made a workload slower", log.violations);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_hardware_is_never_slower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
