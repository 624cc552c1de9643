/* More SRAM never makes a workload slower (issue 14, pinned cases of the slow
 * test_whatif_monotone). On configs/mobile-default.yaml (the runs below, in-process, timing-only)
 * MobileNet v2 took 2.9119 / 2.9202 / 2.9215 ms with 1 / 2 / 4 MiB of SRAM, and a backbone decode
 * step over a 64-token KV cache 184.15 / 184.90 ms with 2 / 4 MiB: the firmware sized its tiles
 * from the SRAM (a matmul's B panel an eighth of it, a convolution's channel block and a streaming
 * chunk as large as fitted), so more SRAM gave larger tiles whose pipeline fill and drain cost more
 * than their fewer transfers saved. Tiles are now chosen by modelled cost among those that fit
 * (firmware/src/ops: panel_items, choose_block, fw_chunk_rows), and a larger SRAM fits every
 * tile a smaller one did. Seconds.
 */
#include "test_util.h"

#include "m4.h"
#include "m4npu_config.h"
#include "whatif.h"

#define PRESET M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define DECODE_KV_LEN 64
#define SRAM_KEY "npu.sram.size_bytes"

/* total_s of `module` (kv_len for the decode step) on the preset with key = value */
static double latency(const char *module, int kv_len, const char *key, const char *value)
{
    m4npu_config cfg;
    m4npu_config_error err;
    if (m4npu_config_load(PRESET, &cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s: %s", PRESET, err.msg);
    if (m4npu_config_set(&cfg, key, value, &err) != M4NPU_CONFIG_OK ||
        m4npu_config_validate(&cfg, &err) != M4NPU_CONFIG_OK)
        fail_msg("%s=%s: %s", key, value, err.msg);
    rt_error e;
    whatif *w = whatif_open(&cfg, &e);
    if (!w)
        fail_msg("%s=%s: %s", key, value, e.msg);
    m4_module_params p;
    memset(&p, 0, sizeof p);
    p.kv_len = kv_len;
    int id = m4_module_lookup(module);
    assert_true(id >= 0);
    const whatif_module_run *run;
    if (whatif_module(w, (m4_module_id)id, &p, &run, &e) != RT_OK)
        fail_msg("%s=%s: %s: %s", key, value, module, e.msg);
    double s = run->r->total_s;
    whatif_close(w);
    print_message("%s %s=%s: %.9f s\n", module, key, value, s);
    return s;
}

/* each value of `values` (increasing hardware, NULL-terminated) no slower than the one before */
static void assert_never_slower(const char *module, int kv_len, const char *key, const char *const *values)
{
    double prev = latency(module, kv_len, key, values[0]);
    for (int i = 1; values[i]; i++) {
        double cur = latency(module, kv_len, key, values[i]);
        if (cur > prev)
            fail_msg("%s: %s %s -> %s: %.9f -> %.9f s", module, key, values[i - 1], values[i], prev, cur);
        prev = cur;
    }
}

/* a streaming chunk (features.3's Add), a channel block (features.18's 1x1 conv) and the
 * classifier's B panel all grew with the SRAM */
static void test_more_sram_never_slows_the_cnn(void **state)
{
    (void)state;
    static const char *const sram[] = {"1 MiB", "2 MiB", "4 MiB", "8 MiB", NULL};
    assert_never_slower("mobilenet-v2", 0, SRAM_KEY, sram);
}

/* every decode GEMV's B panel grew from one 256 KiB item to two */
static void test_more_sram_never_slows_decode(void **state)
{
    (void)state;
    static const char *const sram[] = {"2 MiB", "4 MiB", "8 MiB", NULL};
    assert_never_slower("backbone-decode", DECODE_KV_LEN, SRAM_KEY, sram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_sram_never_slows_the_cnn),
        cmocka_unit_test(test_more_sram_never_slows_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
