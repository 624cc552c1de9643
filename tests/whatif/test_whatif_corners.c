/* Every configuration inside the documented ranges runs every workload (issue 14): each numeric
 * key of the `npu:` section, and each switch, at both ends of its range (docs/configs.md), the
 * others at configs/mobile-default.yaml's values, and five workloads simulated timing-only on
 * it. No run may fail: an op the firmware cannot tile into the SRAM is tiled smaller, or its node
 * falls back to the CPU with the reason; a firmware refusal (BAD_OP) or any other fault of an
 * NPU job fails the test with the key, the value, the workload and the message.
 *
 * Scaled down to keep it fast (the workloads' shapes, not their kinds): the decode step reads a
 * KV cache of 64 tokens (default 511), the prefill is 256 tokens (1024 took too long at the 1-row
 * and 1-column corners), the Stable Diffusion UNet step runs on a 16x16 latent (default 64x64),
 * IMG_enc is the full ViT-H, the CNN is MobileNet v2.
 *
 * Left out: npu.dram.size_bytes (1 MiB holds no module's weights: that is the device-memory
 * error docs/whatif.md describes, not a fault; at 1 TiB the host may not map it), the `impl`
 * keys (rtl exists only for the sizes rtl/ builds) and npu.watchdog_cycles at its minimum,
 * which the docs define as the point below which the firmware's own gaps trip it.
 */
#include "test_util.h"

#include "m4.h"
#include "m4npu_config.h"
#include "whatif.h"

#define PRESET M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define MAX_FAILURES_SHOWN 12
#define DECODE_KV_TOKENS 64
#define UNET_LATENT 16
#define PREFILL_TOKENS 256

typedef struct workload {
    const char *name;
    m4_module_params params;
} workload;

static workload workloads[5];

static void workloads_init(void)
{
    memset(workloads, 0, sizeof workloads);
    workloads[0].name = "backbone-decode";
    workloads[0].params.kv_len = DECODE_KV_TOKENS;
    workloads[1].name = "backbone-prefill";
    workloads[1].params.tokens = PREFILL_TOKENS;
    workloads[2].name = "IMG_enc";
    workloads[3].name = "IMG_dec-unet";
    workloads[3].params.latent = UNET_LATENT;
    workloads[4].name = "mobilenet-v2";
}

/* Keys left out (see the top of the file), and keys whose corner needs a partner to stay valid. */
static int skipped(const char *path)
{
    return strcmp(path, "npu.dram.size_bytes") == 0 || strstr(path, ".impl") != NULL ||
           strcmp(path, "npu.watchdog_cycles") == 0;
}

typedef struct corner_log {
    int runs, failures;
    char shown[MAX_FAILURES_SHOWN][600];
} corner_log;

static void note_failure(corner_log *log, const char *fmt, ...)
{
    if (log->failures < MAX_FAILURES_SHOWN) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(log->shown[log->failures], sizeof log->shown[0], fmt, ap);
        va_end(ap);
    }
    log->failures++;
}

/* Partners that keep a corner valid: the softmax tile's lanes are at most its row length, an
 * SRAM is a whole number of bank rows, on-chip memory is at most half of the device's DRAM (the
 * schema's 512 GiB end is half of the largest npu.dram.size_bytes, which is left out: the top
 * corner is half of the preset's). */
static void set_partners(m4npu_config *cfg, const char *path, const char *value)
{
    m4npu_config_error err;
    if (strcmp(path, "npu.dram.onchip_bytes") == 0 && cfg->npu.dram.onchip_bytes > cfg->npu.dram.size_bytes / 2) {
        char half[32];
        snprintf(half, sizeof half, "%llu", (unsigned long long)(cfg->npu.dram.size_bytes / 2));
        m4npu_config_set(cfg, "npu.dram.onchip_bytes", half, &err);
    }
    if (strcmp(path, "npu.softmax.max_len") == 0 && strcmp(value, "1") == 0)
        m4npu_config_set(cfg, "npu.softmax.lanes", "1", &err);
    if (strcmp(path, "npu.softmax.lanes") == 0 && cfg->npu.softmax.max_len < cfg->npu.softmax.lanes)
        m4npu_config_set(cfg, "npu.softmax.max_len", value, &err);
    if (strcmp(path, "npu.sram.size_bytes") == 0 && strcmp(value, "1024") == 0) {
        m4npu_config_set(cfg, "npu.sram.banks", "1", &err);
        m4npu_config_set(cfg, "npu.sram.bank_width_bytes", "16", &err);
    }
    if ((strcmp(path, "npu.sram.banks") == 0 || strcmp(path, "npu.sram.bank_width_bytes") == 0) &&
        strcmp(value, "1024") == 0) {
        m4npu_config_set(cfg, "npu.sram.size_bytes", "16 MiB", &err);
        m4npu_config_set(cfg, strcmp(path, "npu.sram.banks") == 0 ? "npu.sram.bank_width_bytes" : "npu.sram.banks",
                         "16", &err);
    }
}

static void run_corner(const char *path, const char *value, corner_log *log)
{
    m4npu_config cfg;
    m4npu_config_error err;
    if (m4npu_config_load(PRESET, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s: %s", PRESET, err.msg);
    if (m4npu_config_set(&cfg, path, value, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s=%s: %s", path, value, err.msg);
    set_partners(&cfg, path, value);
    if (m4npu_config_validate(&cfg, &err) != M4NPU_CONFIG_OK) {
        note_failure(log, "%s=%s: the corner is not a valid configuration: %s", path, value, err.msg);
        return;
    }
    rt_error e;
    whatif *w = whatif_open(&cfg, &e);
    if (!w) {
        note_failure(log, "%s=%s: opening: %s", path, value, e.msg);
        return;
    }
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
        const whatif_module_run *run = NULL;
        int id = m4_module_lookup(workloads[i].name);
        assert_true(id >= 0);
        log->runs++;
        if (whatif_module(w, (m4_module_id)id, &workloads[i].params, &run, &e) != RT_OK)
            note_failure(log, "%s=%s: %s: %s", path, value, workloads[i].name, e.msg);
        else if (!(run->r->total_s > 0.0))
            note_failure(log, "%s=%s: %s: a latency of %g s", path, value, workloads[i].name, run->r->total_s);
    }
    whatif_close(w);
    print_message("%s=%s: %d runs, %d failed so far\n", path, value, log->runs, log->failures);
}

/* A key's ends as the text --set takes. */
static void corner_values(const m4npu_cfg_key *k, char lo[64], char hi[64])
{
    if (k->kind == M4NPU_CFG_F64) {
        snprintf(lo, 64, "%.17g", k->fmin);
        snprintf(hi, 64, "%.17g", k->fmax);
    } else {
        snprintf(lo, 64, "%llu", (unsigned long long)k->min);
        snprintf(hi, 64, "%llu", (unsigned long long)k->max);
    }
}

static void test_every_corner_runs_every_workload(void **state)
{
    (void)state;
    workloads_init();
    corner_log log;
    memset(&log, 0, sizeof log);
    int corners = 0;
    for (size_t s = 0; s < m4npu_config_section_count(); s++) {
        const m4npu_cfg_section *sec = m4npu_config_section_at(s);
        if (strcmp(sec->name, "npu") != 0)
            continue;
        for (size_t i = 0; i < sec->nkeys; i++) {
            const m4npu_cfg_key *k = &sec->keys[i];
            if (skipped(k->path))
                continue;
            if (k->kind == M4NPU_CFG_ENUM) { /* a switch: both of its values */
                for (int v = 0; k->names[v]; v++, corners++)
                    run_corner(k->path, k->names[v], &log);
                continue;
            }
            if (k->kind != M4NPU_CFG_U32 && k->kind != M4NPU_CFG_U64 && k->kind != M4NPU_CFG_BYTES &&
                k->kind != M4NPU_CFG_F64)
                continue;
            char lo[64], hi[64];
            corner_values(k, lo, hi);
            run_corner(k->path, lo, &log);
            run_corner(k->path, hi, &log);
            corners += 2;
        }
    }
    print_message("%d corners, %d workload runs, %d failed\n", corners, log.runs, log.failures);
    for (int i = 0; i < log.failures && i < MAX_FAILURES_SHOWN; i++)
        print_message("  %s\n", log.shown[i]);
    assert_true(corners >= 40); /* the schema's npu keys, both ends: a renamed section would skip them all */
    if (log.failures)
        fail_msg("%d of %d workload runs failed at a corner of the documented ranges", log.failures, log.runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_corner_runs_every_workload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
