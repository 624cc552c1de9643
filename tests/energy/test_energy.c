/* The energy model on hand-made counters: each term is the documented product, exactly. */
#include "test_util.h"

#include <math.h>

#include "energy.h"

static void assert_close(double got, double want)
{
    if (fabs(got - want) > 1e-12 * fmax(1.0, fabs(want)))
        fail_msg("got %.15g, want %.15g", got, want);
}

static void test_npu_terms(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg); /* lanes: vector 16, softmax 4 */
    npu_counters d;
    memset(&d, 0, sizeof d);
    d.v[NPU_UNIT_MM][NPU_CTR_MACS] = 1000000;
    d.v[NPU_UNIT_MM][NPU_CTR_MACS_INT4] = 400000;
    d.v[NPU_UNIT_VEC][NPU_CTR_BUSY] = 1000;
    d.v[NPU_UNIT_SM][NPU_CTR_BUSY] = 500;
    d.v[NPU_UNIT_MM][NPU_CTR_ELEMS] = 2500; /* results through the matmul tile's output stage */
    d.v[NPU_UNIT_DMA0][NPU_CTR_DRAM_RD] = 4096;
    d.v[NPU_UNIT_DMA1][NPU_CTR_DRAM_WR] = 1024;
    d.v[NPU_UNIT_DMA0][NPU_CTR_SRAM_WR] = 4096;
    d.v[NPU_UNIT_MM][NPU_CTR_SRAM_RD] = 3000;
    d.v[NPU_UNIT_CTRL][NPU_CTR_BUSY] = 2000;
    energy_breakdown e;
    memset(&e, 0, sizeof e);
    energy_add_npu(&e, &cfg, &d);
    assert_close(e.macs_j, (600000 * 0.1 + 400000 * 0.05) * 1e-12);
    assert_close(e.vector_j, (1000 * 16 * 0.5 + 500 * 4 * 0.3 + 2500 * 0.8) * 1e-12);
    assert_close(e.sram_j, 7096 * 5.0 * 1e-12);
    assert_close(e.dram_j, 5120 * 8 * 5.0 * 1e-12);
    assert_close(e.control_j, 2000 * 15.0 * 1e-12);
    assert_close(e.static_j + e.cpu_j + e.transfer_j, 0.0);
}

static void test_static_cpu_transfer_and_totals(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg); /* cpu active 2 W, idle 0.1 W; static 0.05 W */
    energy_breakdown e;
    memset(&e, 0, sizeof e);
    energy_add_static(&e, &cfg, 2.0);
    energy_add_cpu(&e, &cfg, 0.5, 1.5);
    energy_add_transfer(&e, &cfg, 1000000, 0.001);
    assert_close(e.static_j, 0.1);
    assert_close(e.cpu_j, 2.0 * 0.5 + 0.1 * 1.5);
    assert_close(e.transfer_j, 2e6 * 8 * 5.0 * 1e-12 + 2.0 * 0.001);
    /* energy.platform_w: the rest of the device, with the static energy over the same time */
    m4npu_config whole = cfg;
    whole.energy.platform_w = 1.5;
    energy_breakdown w;
    memset(&w, 0, sizeof w);
    energy_add_static(&w, &whole, 2.0);
    assert_close(w.static_j, (0.05 + 1.5) * 2.0);
    energy_breakdown sum;
    memset(&sum, 0, sizeof sum);
    energy_accumulate(&sum, &e, 3.0);
    assert_close(energy_total(&sum), 3.0 * energy_total(&e));
    json_t *j = energy_to_json(&e);
    assert_non_null(j);
    assert_close(json_real_value(json_object_get(j, "total")), energy_total(&e));
    assert_close(json_real_value(json_object_get(j, "static")), 0.1);
    json_decref(j);
}

/* LLaMA-7B-decode-sized DRAM traffic: 6.61 GB at 5 pJ/bit is ~264 mJ (DESIGN.md). */
static void test_decode_dram_energy_scale(void **state)
{
    (void)state;
    m4npu_config cfg;
    m4npu_config_defaults(&cfg);
    npu_counters d;
    memset(&d, 0, sizeof d);
    d.v[NPU_UNIT_DMA0][NPU_CTR_DRAM_RD] = 6610000000ull;
    energy_breakdown e;
    memset(&e, 0, sizeof e);
    energy_add_npu(&e, &cfg, &d);
    assert_true(e.dram_j > 0.26 && e.dram_j < 0.27);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npu_terms),
        cmocka_unit_test(test_static_cpu_transfer_and_totals),
        cmocka_unit_test(test_decode_dram_energy_scale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
