/* The same inputs give the same cycles, counters and bytes, every run: twice on one device,
 * and again after closing and reopening it (SystemC elaborates once per process). */
#include "npu_test.h"

static const char program[] =
    "dma.ld 0, 0, 0x0, 0, 16, 64, 64, 64\n"
    "dma.ld 1, 1, 0x400, 0, 64, 16, 16, 16\n"
    "signal dma0, 0\nsignal dma1, 1\nwait mm, 0\nwait mm, 1\n"
    "mm.cfg 0, 3, 8\n"
    "mm os, set, i8, nobias, rq, 16, 16, 64, 0x0, 0x400, 0x800, i8, i8\n"
    "signal mm, 2\nwait sm, 2\n"
    "sm causal, 0x800, 0x900, 16, 16, 900, 0\n"
    "signal sm, 3\nwait vec, 3\n"
    "v.dequant i8, 0x1000, 0x900, 256, 0.0078125\n"
    "v.un gelu, f32, 0x1000, 0x1000, 16, 16, 0.0\n"
    "signal vec, 4\nwait dma0, 4\n"
    "dma.st 0, 2, 0x1000, 0, 16, 64, 64, 64\n"
    "end\n";

typedef struct outcome {
    uint64_t cycles;
    npu_counters diff;
    uint8_t out[1024];
} outcome;

static void run_once(npu_test *t, outcome *o)
{
    test_rng r = {7};
    uint8_t in[2 * 1024];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)test_rng_next(&r);
    assert_int_equal(npu_bo_write(t->data, 0, in, 1024), NPU_DRV_OK);
    assert_int_equal(npu_bo_write(t->data, NPU_TEST_BUF_BYTES, in + 1024, 1024), NPU_DRV_OK);
    if (npu_test_run(t, program, 0) != NPU_DRV_OK)
        fail_msg("%s", npu_dev_error(t->dev));
    o->cycles = npu_test_cycles(t);
    o->diff = t->diff;
    o->diff.cycles = 0;
    for (int u = 0; u < NPU_UNIT_COUNT; u++)
        o->diff.v[u][NPU_CTR_IDLE] = 0; /* idle includes the host's wait loop granularity */
    assert_int_equal(npu_bo_read(t->data, 2 * NPU_TEST_BUF_BYTES, o->out, sizeof o->out), NPU_DRV_OK);
}

static void assert_same(const outcome *a, const outcome *b)
{
    assert_int_equal(a->cycles, b->cycles);
    assert_memory_equal(&a->diff, &b->diff, sizeof a->diff);
    assert_memory_equal(a->out, b->out, sizeof a->out);
}

static void test_same_program_same_cycles_and_bytes(void **state)
{
    (void)state;
    npu_device_config c;
    npu_config_defaults(&c);
    npu_test t;
    static outcome first, second, third;
    npu_test_open(&t, &c);
    run_once(&t, &first);
    run_once(&t, &second);
    npu_test_close(&t);
    npu_test_open(&t, &c);
    run_once(&t, &third);
    npu_test_close(&t);
    assert_true(first.cycles > 0);
    assert_same(&first, &second);
    assert_same(&first, &third);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_program_same_cycles_and_bytes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
