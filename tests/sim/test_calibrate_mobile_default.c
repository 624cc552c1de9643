/* `m4npu calibrate --config configs/mobile-default.yaml`: the fast model against the Verilated
 * tiles at the default preset's own sizes (a 64x64 array with a 64-lane output stage, a 64-lane
 * softmax with rows up to 4096), bit-exact and cycle-exact on every case. Registered only when
 * the build Verilated those sizes (tests/sim/CMakeLists.txt). With calibrate's default 500 cases
 * per tile the run takes about 12 s of CPU on the CI machine. */
#include "test_util.h"

#include <jansson.h>

#define CONFIG M4NPU_SOURCE_DIR "/configs/mobile-default.yaml"
#define CASES 500
static char out[1 << 16];

static void test_mobile_default_is_bit_and_cycle_exact(void **state)
{
    (void)state;
    int rc = test_run(out, sizeof out, "%s calibrate --config %s --cases %d --seed 11 --json 2>&1", M4NPU_BIN, CONFIG,
                      CASES);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    if (!j)
        fail_msg("calibrate: not JSON (%s):\n%s", e.text, out);
    static const char *const names[] = {"matmul", "softmax"};
    for (int i = 0; i < 2; i++) {
        json_t *t = json_object_get(json_object_get(j, "tiles"), names[i]);
        assert_non_null(t);
        assert_true(json_integer_value(json_object_get(t, "cases")) >= CASES);
        if (json_real_value(json_object_get(t, "max_abs_err_pct")) != 0.0 ||
            !json_is_true(json_object_get(t, "bit_exact")))
            fail_msg("%s: max cycle error %.4f%%, bit-exact %d", names[i],
                     json_real_value(json_object_get(t, "max_abs_err_pct")),
                     json_is_true(json_object_get(t, "bit_exact")));
        assert_int_equal(json_integer_value(json_object_get(t, "rtl_cycles")),
                         json_integer_value(json_object_get(t, "fast_cycles")));
    }
    assert_true(json_is_true(json_object_get(j, "pass")));
    assert_int_equal(rc, 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobile_default_is_bit_and_cycle_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
