/* fp_units_rtl.cpp -- the matmul array's float units (rtl/fp32_add.sv, f16_mul.sv, i8_to_f16.sv)
 * Verilated on their own and evaluated operand by operand (they are combinational). Exists
 * because the array's own testbench only ever feeds the adder exact f16 products and their sums:
 * these show the units equal the host's IEEE arithmetic on every kind of operand. */
#include <cstdio>
#include <memory>
#include <new>

#include <verilated.h>

#include "Vf16_mul.h"
#include "Vfp32_add.h"
#include "Vi8_to_f16.h"
#include "tile_rtl.h"

namespace {

/* Evaluate a fresh unit of class V over n operands; set(unit, i) drives the inputs, get(unit, i)
 * reads the output. */
template <class V, class Set, class Get>
tile_rtl_status eval_all(const char *name, size_t n, Set set, Get get, char *err, size_t errlen)
{
    try {
        std::unique_ptr<VerilatedContext> ctx(new VerilatedContext);
        std::unique_ptr<V> unit(new V{ctx.get(), name});
        for (size_t i = 0; i < n; i++) {
            set(*unit, i);
            unit->eval();
            get(*unit, i);
        }
        unit->final();
    } catch (const std::bad_alloc &) {
        if (err && errlen)
            std::snprintf(err, errlen, "%s: out of memory", name);
        return TILE_RTL_E_NOMEM;
    }
    if (err && errlen)
        err[0] = '\0';
    return TILE_RTL_OK;
}

} // namespace

extern "C" tile_rtl_status tile_rtl_fp32_add(const uint32_t *a, const uint32_t *b, uint32_t *y, size_t n, char *err,
                                             size_t errlen)
{
    return eval_all<Vfp32_add>(
        "fp32_add", n, [&](Vfp32_add &u, size_t i) { u.a = a[i], u.b = b[i]; }, [&](Vfp32_add &u, size_t i) { y[i] = u.y; },
        err, errlen);
}

extern "C" tile_rtl_status tile_rtl_f16_mul(const uint16_t *a, const uint16_t *b, uint32_t *y, size_t n, char *err,
                                            size_t errlen)
{
    return eval_all<Vf16_mul>(
        "f16_mul", n, [&](Vf16_mul &u, size_t i) { u.a = a[i], u.b = b[i]; }, [&](Vf16_mul &u, size_t i) { y[i] = u.y; },
        err, errlen);
}

extern "C" tile_rtl_status tile_rtl_i8_to_f16(const int8_t *v, uint16_t *h, size_t n, char *err, size_t errlen)
{
    return eval_all<Vi8_to_f16>(
        "i8_to_f16", n, [&](Vi8_to_f16 &u, size_t i) { u.v = (uint8_t)v[i]; },
        [&](Vi8_to_f16 &u, size_t i) { h[i] = u.h; }, err, errlen);
}
