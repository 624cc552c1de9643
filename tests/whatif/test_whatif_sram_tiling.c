/* More SRAM, or fewer weight bits, never make a workload slower (issue 14, pinned cases of the slow
 * test_whatif_monotone). On configs/mobile-default.yaml (the runs below, in-process, timing-only)
 * MobileNet v2 took 2.911853 / 2.920198 ms with 1 / 2 MiB of SRAM, a backbone decode step over a
 * 64-token KV cache 183.282 / 184.032 ms with 2 / 4 MiB, and ViT-H's IMG_enc 141.619 ms with int8
 * weights against 141.731 ms with int4: the firmware sized its tiles from the SRAM or the bytes
 * (a matmul's B panel min(512 KiB, SRAM / 8) of whole column tiles, so int4's held twice the
 * tiles; a convolution's channel block and a streaming chunk as large as fitted), and larger tiles
 * cost more pipeline fill and drain than their fewer transfers saved. Tiles are now chosen by
 * modelled cost among those that fit (firmware/src/ops: panel_items, choose_block,
 * fw_chunk_rows), and a larger SRAM fits every tile a smaller one did. After: 2.884017 ms at 1 to
 * 8 MiB, 183.194 ms at 2 to 8 MiB, 138.415 / 138.152 ms. Seconds.
 */
#include "test_util.h"

#include <string.h>

#include "whatif_pinned.h"

#define PRESET M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define DECODE_KV_LEN 64
#define SRAM_KEY "npu.sram.size_bytes"

/* total_s of `module` (kv_len for the decode step; weights in `format`) on the preset with key = value */
static double latency_in(const char *module, int kv_len, m4_format format, const char *key, const char *value)
{
    m4_module_params p;
    memset(&p, 0, sizeof p);
    p.kv_len = kv_len;
    p.format = format;
    double s = whatif_pinned_latency(PRESET, module, &p, key, value);
    print_message("%s %s=%s weights %d: %.9f s\n", module, key, value, (int)format, s);
    return s;
}

/* each value of `values` (increasing hardware, NULL-terminated) no slower than the one before */
static void assert_never_slower(const char *module, int kv_len, const char *key, const char *const *values)
{
    m4_module_params p;
    memset(&p, 0, sizeof p);
    p.kv_len = kv_len;
    p.format = M4_FMT_DEFAULT;
    whatif_pinned_assert_never_slower(PRESET, module, &p, key, values);
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

/* int4 halves a column tile's bytes: a panel of the same bytes held twice the products */
static void test_int4_weights_never_slow_img_enc(void **state)
{
    (void)state;
    double int8 = latency_in("IMG_enc", 0, M4_FMT_INT8, SRAM_KEY, "8 MiB");
    double int4 = latency_in("IMG_enc", 0, M4_FMT_INT4, SRAM_KEY, "8 MiB");
    if (int4 > int8)
        fail_msg("IMG_enc: int8 -> int4 weights: %.9f -> %.9f s", int8, int4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_sram_never_slows_the_cnn),
        cmocka_unit_test(test_more_sram_never_slows_decode),
        cmocka_unit_test(test_int4_weights_never_slow_img_enc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
