/* The softmax tile's exponential unit (rtl/sm_exp2.sv) against isa_sm_exp2(): every u from 0
 * down to past the point where the result is 0 (all 33 table entries, every interpolation
 * fraction, every shift), random u over the rest of the 26-bit input, and positive u (clamped
 * to 0). A table or interpolation error of one LSB fails here even when it changes no Q0.7
 * output of a whole tile. */
#include "test_util.h"

#include "isa_exec.h"
#include "tile_rtl.h"

#define EXP_FRAC 12
#define ZERO_BEYOND (-(17 << EXP_FRAC)) /* 2^-17 in Q1.14 is 0: the exhaustive range ends here */
#define RANDOM_U 200000
#define POSITIVE_U 1000

static void check_range(const int32_t *u, size_t n)
{
    uint32_t *e = malloc(n * sizeof *e);
    assert_non_null(e);
    char err[256];
    assert_int_equal(tile_rtl_sm_exp2(u, e, n, err, sizeof err), TILE_RTL_OK);
    for (size_t i = 0; i < n; i++)
        if (e[i] != isa_sm_exp2(u[i]))
            fail_msg("exp2(u = %d): RTL %u, isa_sm_exp2 %u", u[i], e[i], isa_sm_exp2(u[i]));
    free(e);
}

static void test_exhaustive_near_zero(void **state)
{
    (void)state;
    size_t n = (size_t)(-ZERO_BEYOND) + 1;
    int32_t *u = malloc(n * sizeof *u);
    assert_non_null(u);
    for (size_t i = 0; i < n; i++)
        u[i] = -(int32_t)i;
    check_range(u, n);
    free(u);
}

static void test_random_and_positive(void **state)
{
    (void)state;
    const int32_t lo = -(1 << (TILE_RTL_SM_EXP2_U_BITS - 1)), hi = (1 << (TILE_RTL_SM_EXP2_U_BITS - 1)) - 1;
    int32_t *u = malloc((RANDOM_U + POSITIVE_U + 2) * sizeof *u);
    assert_non_null(u);
    test_rng rng = {.s = 0xe4b2ull};
    size_t n = 0;
    for (int i = 0; i < RANDOM_U; i++)
        u[n++] = (int32_t)test_rng_range(&rng, lo, 0);
    for (int i = 0; i < POSITIVE_U; i++)
        u[n++] = (int32_t)test_rng_range(&rng, 1, hi);
    u[n++] = lo;
    u[n++] = hi;
    check_range(u, n);
    free(u);
}

static void test_out_of_range_input(void **state)
{
    (void)state;
    int32_t u[2] = {0, -(1 << 25) - 1};
    uint32_t e[2] = {7, 7};
    char err[256];
    assert_int_equal(tile_rtl_sm_exp2(u, e, 2, err, sizeof err), TILE_RTL_E_SHAPE);
    assert_string_equal(err, "sm_exp2: u[1] = -33554433 is outside the unit's 26-bit input");
    assert_int_equal(e[0], 7); /* nothing written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustive_near_zero),
        cmocka_unit_test(test_random_and_positive),
        cmocka_unit_test(test_out_of_range_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
