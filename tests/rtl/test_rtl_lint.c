/* Verilator lint of the RTL: `verilator --lint-only -Wall` on each top module at several
 * parameter sets (odd sizes included) must print nothing and exit 0, the sources must carry no
 * lint waivers, and a control file with a deliberate defect must fail the same command (so
 * this test can fail). */
#include "test_util.h"

#define OUT_CAP 8192

static const char *const mm_sources = M4NPU_RTL_DIR "/mm_tile.sv " M4NPU_RTL_DIR "/mm_pe.sv " M4NPU_RTL_DIR
                                      "/mm_out_stage.sv " M4NPU_RTL_DIR "/tile_delay.sv " M4NPU_RTL_DIR
                                      "/tile_shift.sv " M4NPU_RTL_DIR "/fp32_add.sv " M4NPU_RTL_DIR "/f16_mul.sv "
                                      M4NPU_RTL_DIR "/i8_to_f16.sv";
static const char *const sm_sources = M4NPU_RTL_DIR "/sm_tile.sv " M4NPU_RTL_DIR "/sm_exp2.sv";

static void lint_clean(const char *top, const char *params, const char *sources)
{
    char out[OUT_CAP];
    int rc = test_run(out, sizeof out, "%s --lint-only -Wall --top-module %s %s %s", M4NPU_VERILATOR, top,
                      params, sources);
    if (rc != 0 || out[0] != '\0')
        fail_msg("lint of %s %s: exit %d\n%s", top, params, rc, out);
}

static void test_mm_tile_lint(void **state)
{
    (void)state;
    /* LANES (the output stage's) below, equal to and above the columns, and not dividing them; 32x32:
     * 16 s of CPU with the float units */
    const char *params[] = {"-GROWS=1 -GCOLS=1", "-GROWS=2 -GCOLS=2 -GLANES=1", "-GROWS=5 -GCOLS=3 -GLANES=2",
                            "-GROWS=3 -GCOLS=6 -GLANES=9", "-GROWS=8 -GCOLS=8", "-GROWS=16 -GCOLS=16 -GLANES=5"};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        lint_clean("mm_tile", params[i], mm_sources);
}

static void test_sm_tile_lint(void **state)
{
    (void)state;
    const char *params[] = {"-GLANES=1 -GMAX_LEN=1", "-GLANES=3 -GMAX_LEN=100", "-GLANES=4 -GMAX_LEN=512",
                            "-GLANES=8 -GMAX_LEN=16383", "-GLANES=32 -GMAX_LEN=512"};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        lint_clean("sm_tile", params[i], sm_sources);
}

static void test_float_units_lint(void **state)
{
    (void)state;
    lint_clean("fp32_add", "", M4NPU_RTL_DIR "/fp32_add.sv");
    lint_clean("f16_mul", "", M4NPU_RTL_DIR "/f16_mul.sv");
    lint_clean("i8_to_f16", "", M4NPU_RTL_DIR "/i8_to_f16.sv");
}

static void test_no_waivers(void **state)
{
    (void)state;
    char out[OUT_CAP];
    int rc = test_run(out, sizeof out, "grep -n 'lint_off' %s %s", mm_sources, sm_sources);
    if (rc != 1) /* grep: 1 = no match */
        fail_msg("lint waivers found in rtl/ (justify each in rtl/README.md and here):\n%s", out);
}

static void test_lint_catches_a_defect(void **state)
{
    (void)state;
    char path[256], out[OUT_CAP];
    test_path(path, sizeof path, "defect.sv");
    const char *sv = "module defect(input logic clk, input logic [7:0] a, output logic [3:0] y);\n"
                     "    logic unused_by_mistake_q;\n"
                     "    always_ff @(posedge clk) y <= a;\n"
                     "endmodule\n";
    test_write_file(path, sv, strlen(sv));
    int rc = test_run(out, sizeof out, "%s --lint-only -Wall %s", M4NPU_VERILATOR, path);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "WIDTH"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mm_tile_lint),
        cmocka_unit_test(test_sm_tile_lint),
        cmocka_unit_test(test_float_units_lint),
        cmocka_unit_test(test_no_waivers),
        cmocka_unit_test(test_lint_catches_a_defect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
