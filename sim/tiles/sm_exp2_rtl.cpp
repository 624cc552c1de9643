/* sm_exp2_rtl.cpp -- tile_rtl_sm_exp2(): the Verilated softmax exponential unit evaluated on its
 * own. The unit is combinational, so each u is one eval. Exists because the tile-level tests
 * cannot see the exponentials (a one-LSB table error rarely changes a Q0.7 output). */
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <new>

#include <verilated.h>

#include "Vsm_exp2.h"
#include "tile_rtl.h"

extern "C" tile_rtl_status tile_rtl_sm_exp2(const int32_t *u, uint32_t *e, size_t n, char *err, size_t errlen)
{
    const int32_t lo = -(1 << (TILE_RTL_SM_EXP2_U_BITS - 1)), hi = (1 << (TILE_RTL_SM_EXP2_U_BITS - 1)) - 1;
    for (size_t i = 0; i < n; i++)
        if (u[i] < lo || u[i] > hi) {
            if (err && errlen)
                std::snprintf(err, errlen, "sm_exp2: u[%zu] = %" PRId32 " is outside the unit's %d-bit input", i,
                              u[i], TILE_RTL_SM_EXP2_U_BITS);
            return TILE_RTL_E_SHAPE;
        }
    try {
        std::unique_ptr<VerilatedContext> ctx(new VerilatedContext);
        std::unique_ptr<Vsm_exp2> unit(new Vsm_exp2{ctx.get(), "sm_exp2"});
        const uint32_t u_mask = (1u << TILE_RTL_SM_EXP2_U_BITS) - 1;
        for (size_t i = 0; i < n; i++) {
            unit->u = (uint32_t)u[i] & u_mask;
            unit->eval();
            e[i] = unit->e;
        }
        unit->final();
    } catch (const std::bad_alloc &) {
        if (err && errlen)
            std::snprintf(err, errlen, "sm_exp2: out of memory");
        return TILE_RTL_E_NOMEM;
    }
    if (err && errlen)
        err[0] = '\0';
    return TILE_RTL_OK;
}
