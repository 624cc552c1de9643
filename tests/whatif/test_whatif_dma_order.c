/* More DMA channels and a faster control core never make a workload slower (issue 14, pinned
 * cases of the slow test_whatif_monotone). Both used to: the DRAM shared its bandwidth equally
 * among the active transfers, so a load queued early on a spare channel (a later tile's operands)
 * took half the bandwidth from the one the program needed first. On configs/mobile-default.yaml
 * (the runs below, in-process) a 256-token backbone prefill took 0.58205 s with 2 channels and
 * 0.59464 s with 3, and 0.60401 / 0.60419 s with a 400 / 800 MHz control core; ViT-H's IMG_enc
 * 0.14209 / 0.14298 s with 2 / 3 channels. After: 0.58183 / 0.58084 / 0.58080 s (prefill, 2 / 3 /
 * 4 channels), 0.14217 / 0.14180 / 0.14176 s (IMG_enc), 0.58083 / 0.58078 / 0.58076 s (control
 * core). The DRAM now serves transfers in program
 * order (sim/src/dram.cpp). Timing-only, a few seconds.
 */
#include "test_util.h"

#include <string.h>

#include "whatif_pinned.h"

#define PRESET M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define PREFILL_TOKENS 256

/* each value of `values` (increasing hardware, NULL-terminated) no slower than the one before */
static void assert_never_slower(const char *module, int tokens, const char *key, const char *const *values)
{
    m4_module_params p;
    memset(&p, 0, sizeof p);
    p.tokens = tokens;
    whatif_pinned_assert_never_slower(PRESET, module, &p, key, values);
}

static void test_more_dma_channels_never_slow_the_prefill(void **state)
{
    (void)state;
    static const char *const channels[] = {"2", "3", "4", NULL};
    assert_never_slower("backbone-prefill", PREFILL_TOKENS, "npu.dma.channels", channels);
}

static void test_more_dma_channels_never_slow_img_enc(void **state)
{
    (void)state;
    static const char *const channels[] = {"2", "3", "4", NULL};
    assert_never_slower("IMG_enc", 0, "npu.dma.channels", channels);
}

static void test_faster_control_core_never_slows_the_prefill(void **state)
{
    (void)state;
    static const char *const mhz[] = {"400", "800", "1600", NULL};
    assert_never_slower("backbone-prefill", PREFILL_TOKENS, "npu.control.clock_mhz", mhz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_dma_channels_never_slow_the_prefill),
        cmocka_unit_test(test_more_dma_channels_never_slow_img_enc),
        cmocka_unit_test(test_faster_control_core_never_slows_the_prefill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
