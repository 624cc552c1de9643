/* Regression (issue 9): a DRAM size the host cannot map passed `m4npu config` and failed only in
 * `m4npu exec`. Both now check the same mapping, so under an address-space limit (ulimit -v)
 * both refuse the size with the same message, and without it both accept it. Labelled
 * no-sanitize: a sanitizer's shadow memory does not start under such a limit. */
#include "test_util.h"

#define CONFIG M4NPU_SOURCE_DIR "/configs/test.yaml"
#define PROGRAM M4NPU_SOURCE_DIR "/examples/dma_copy.s"
#define LIMIT "ulimit -v 6000000; " /* 6 GB of address space: a 64 GiB DRAM cannot be mapped */
#define BIG "--set 'npu.dram.size_bytes=64 GiB'"

static char out[1 << 16];

static void test_config_and_exec_agree(void **state)
{
    (void)state;
    const char *want = "--set npu.dram.size_bytes=64 GiB: npu.dram.size_bytes: 64 GiB cannot be mapped on this host "
                       "(Cannot allocate memory); the device maps all of its DRAM when it opens: lower it, or raise "
                       "the host's limit (ulimit -v, vm.overcommit_memory)\n";
    int rc = test_run(out, sizeof out, "sh -c \"" LIMIT "%s config %s " BIG " > /dev/null\"", M4NPU_BIN, CONFIG);
    assert_int_equal(rc, 1);
    assert_string_equal(out, want);
    rc = test_run(out, sizeof out, "sh -c \"" LIMIT "%s exec %s --config %s " BIG "\"", M4NPU_BIN, PROGRAM, CONFIG);
    assert_int_equal(rc, 1);
    assert_string_equal(out, want);
    /* without the limit both take it (the mapping reserves nothing) */
    assert_int_equal(test_run(out, sizeof out, "%s config %s " BIG " > /dev/null", M4NPU_BIN, CONFIG), 0);
    assert_int_equal(test_run(out, sizeof out, "%s exec %s --config %s " BIG " > /dev/null", M4NPU_BIN, PROGRAM, CONFIG),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_exec_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
