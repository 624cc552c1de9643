/* `m4npu bench` runs on every configuration inside the documented ranges (issue 14): its program
 * adapts to the array (tiles of at most rows x cols), the softmax tile's row length, the SRAM (two
 * slots) and the DMA channels (one channel loads and stores). Before, 8 array rows or one DMA
 * channel failed with device_limit. Each case runs a short program with numerics and timing-only
 * and must report the instructions it ran. */
#include "test_util.h"

#include <jansson.h>

#define PRESET M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"

static char out[1 << 16];

static void expect_runs(const char *sets)
{
    int rc = test_run(out, sizeof out, "%s bench --config %s %s --insns 400 --json 2>&1", M4NPU_BIN, PRESET, sets);
    if (rc != 0)
        fail_msg("bench %s: exit %d\n%.2000s", sets, rc, out);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    if (!j)
        fail_msg("bench %s: not JSON: %s\n%.500s", sets, e.text, out);
    for (int i = 0; i < 2; i++) {
        const char *mode = i ? "timing_only" : "numerics";
        json_t *insns = json_object_get(json_object_get(j, mode), "instructions");
        if (!json_is_integer(insns) || json_integer_value(insns) < 17)
            fail_msg("bench %s: %s ran no program", sets, mode);
    }
    json_decref(j);
}

static void test_bench_adapts_to_the_configuration(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "",                                          /* the preset: 16 x 16 x 64 tiles */
        "--set npu.matmul.rows=8",                   /* device_limit before */
        "--set npu.dma.channels=1",                  /* device_limit before */
        "--set npu.matmul.rows=1 --set npu.matmul.cols=1",
        "--set npu.matmul.rows=4095 --set npu.matmul.cols=4095",
        "--set npu.softmax.max_len=1 --set npu.softmax.lanes=1",
        "--set npu.sram.size_bytes=1KiB --set npu.sram.banks=1 --set npu.sram.bank_width_bytes=16",
        "--set npu.queue_depth=1 --set npu.vector.lanes=1",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_runs(cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_adapts_to_the_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
