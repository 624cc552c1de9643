/* The matmul array's float units (rtl/fp32_add.sv, f16_mul.sv, i8_to_f16.sv) against the host's
 * IEEE arithmetic through isa/isa_exec.c's helpers: the adder on random bit patterns and on the
 * cases rounding lives on (every exponent difference, cancellation, ties, subnormals, overflow,
 * infinities, NaN), the multiplier on random and special binary16 pairs, the converter on every
 * int8. The array's own testbench only feeds the adder exact products and their sums; here each
 * unit meets every kind of operand. */
#include "test_util.h"

#include <math.h>

#include "isa_exec.h"
#include "tile_rtl.h"

#define RANDOM_ADDS 400000
#define RANDOM_MULS 400000
#define F32_EXP_SHIFT 23
#define F16_SPECIALS 16

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void check_adds(const uint32_t *a, const uint32_t *b, size_t n)
{
    uint32_t *y = malloc(n * sizeof *y);
    assert_non_null(y);
    char err[256];
    assert_int_equal(tile_rtl_fp32_add(a, b, y, n, err, sizeof err), TILE_RTL_OK);
    for (size_t i = 0; i < n; i++) {
        uint32_t want = bits_of(isa_f32_canon(float_of(a[i]) + float_of(b[i])));
        if (y[i] != want)
            fail_msg("fp32_add(0x%08x, 0x%08x) = 0x%08x, the host gives 0x%08x", a[i], b[i], y[i], want);
    }
    free(y);
}

static void test_adder_random(void **state)
{
    (void)state;
    test_rng r = {0xadd32ull};
    uint32_t *a = malloc(RANDOM_ADDS * sizeof *a), *b = malloc(RANDOM_ADDS * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < RANDOM_ADDS; i++) {
        a[i] = (uint32_t)test_rng_next(&r);
        switch (i % 4) {
        case 0: b[i] = (uint32_t)test_rng_next(&r); break; /* anything */
        case 1: /* a nearby exponent, either sign: alignment, carries, cancellation */
            b[i] = (a[i] & 0x80000000u) ^ ((uint32_t)test_rng_range(&r, 0, 1) << 31) ^
                   ((a[i] & 0x7f800000u) + ((uint32_t)test_rng_range(&r, 0, 30) << F32_EXP_SHIFT)) ^
                   ((uint32_t)test_rng_next(&r) & 0x7fffffu);
            break;
        case 2: /* -a give or take a few ulps: massive cancellation */
            b[i] = (a[i] ^ 0x80000000u) + (uint32_t)test_rng_range(&r, -3, 3);
            break;
        default: /* subnormals and tiny normals */
            a[i] &= 0x80ffffffu;
            b[i] = (uint32_t)test_rng_next(&r) & 0x80ffffffu;
            break;
        }
    }
    check_adds(a, b, RANDOM_ADDS);
    free(a);
    free(b);
}

static void test_adder_edges(void **state)
{
    (void)state;
    const uint32_t v[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x80000001u, 0x007fffffu, 0x00800000u,
                          0x3f800000u, 0xbf800000u, 0x3f800001u, 0x33800000u, 0x33800001u, 0x34000000u,
                          0x4b000000u, 0x4b800000u, 0x7f7fffffu, 0xff7fffffu, 0x7f000000u, 0x7f800000u,
                          0xff800000u, 0x7fc00000u, 0x7f800001u, 0xffc12345u, 0x3fffffffu, 0xbfffffffu};
    size_t nv = sizeof v / sizeof v[0], n = nv * nv;
    uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < nv; i++)
        for (size_t j = 0; j < nv; j++) {
            a[i * nv + j] = v[i];
            b[i * nv + j] = v[j];
        }
    check_adds(a, b, n);
    /* ties to even: 1 + 2^-24 (a tie, stays 1), 1 + 3 * 2^-24 (a tie, up to 1 + 2^-22) */
    uint32_t ta[] = {0x3f800000u, 0x3f800000u, 0x3f800001u}, tb[] = {0x33800000u, 0x34400000u, 0x33800000u};
    check_adds(ta, tb, 3);
    free(a);
    free(b);
}

static void test_multiplier(void **state)
{
    (void)state;
    test_rng r = {0xf16f16ull};
    const uint16_t special[F16_SPECIALS] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00, 0xbc00,
                                            0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe55, 0x3555};
    size_t n = RANDOM_MULS + F16_SPECIALS * F16_SPECIALS;
    uint16_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    uint32_t *y = malloc(n * sizeof *y);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(y);
    for (size_t i = 0; i < RANDOM_MULS; i++) {
        a[i] = (uint16_t)test_rng_next(&r);
        b[i] = (uint16_t)test_rng_next(&r);
    }
    for (size_t i = 0; i < F16_SPECIALS; i++)
        for (size_t j = 0; j < F16_SPECIALS; j++) {
            a[RANDOM_MULS + i * F16_SPECIALS + j] = special[i];
            b[RANDOM_MULS + i * F16_SPECIALS + j] = special[j];
        }
    char err[256];
    assert_int_equal(tile_rtl_f16_mul(a, b, y, n, err, sizeof err), TILE_RTL_OK);
    for (size_t i = 0; i < n; i++) {
        uint32_t want = bits_of(isa_f32_canon(isa_f16_to_f32(a[i]) * isa_f16_to_f32(b[i])));
        if (y[i] != want)
            fail_msg("f16_mul(0x%04x, 0x%04x) = 0x%08x, the host gives 0x%08x", a[i], b[i], y[i], want);
    }
    free(a);
    free(b);
    free(y);
}

static void test_int8_to_f16(void **state)
{
    (void)state;
    int8_t v[256];
    uint16_t h[256];
    for (int i = 0; i < 256; i++)
        v[i] = (int8_t)(i - 128);
    char err[256];
    assert_int_equal(tile_rtl_i8_to_f16(v, h, 256, err, sizeof err), TILE_RTL_OK);
    for (int i = 0; i < 256; i++)
        if (h[i] != isa_f32_to_f16_sat((float)v[i]))
            fail_msg("i8_to_f16(%d) = 0x%04x, expected 0x%04x", v[i], h[i], isa_f32_to_f16_sat((float)v[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adder_random),
        cmocka_unit_test(test_adder_edges),
        cmocka_unit_test(test_multiplier),
        cmocka_unit_test(test_int8_to_f16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
