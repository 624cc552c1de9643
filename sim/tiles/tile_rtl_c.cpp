/* tile_rtl_c.cpp -- the C API of tile_rtl.h over the MmTileRtl / SmTileRtl classes, for the C
 * tests and tools. Exceptions never cross it (the classes report errors by status). */
#include <cstdio>
#include <string>

#include "mm_tile_rtl.h"
#include "sm_tile_rtl.h"

struct tile_mm_rtl {
    std::unique_ptr<MmTileRtl> drv;
};
struct tile_sm_rtl {
    std::unique_ptr<SmTileRtl> drv;
};

namespace {

void put_msg(char *err, size_t errlen, const std::string &msg)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", msg.c_str());
}

template <class Handle, class Drv>
tile_rtl_status create_handle(std::unique_ptr<Drv> drv, tile_rtl_status st, const std::string &why, Handle **out,
                              char *err, size_t errlen)
{
    *out = nullptr;
    if (!drv) {
        put_msg(err, errlen, why);
        return st;
    }
    Handle *h = new (std::nothrow) Handle;
    if (!h) {
        put_msg(err, errlen, "out of memory");
        return TILE_RTL_E_NOMEM;
    }
    h->drv = std::move(drv);
    *out = h;
    put_msg(err, errlen, "");
    return TILE_RTL_OK;
}

template <class Drv>
tile_rtl_status run_insn(Drv &drv, const isa_insn *in, isa_exec_ctx *ctx, uint64_t *cycles, char *err,
                         size_t errlen)
{
    uint64_t c = 0;
    tile_rtl_status st = drv.execute(*in, *ctx, &c);
    if (cycles)
        *cycles = c;
    put_msg(err, errlen, drv.message());
    return st;
}

template <class Drv> tile_rtl_status trace_to(Drv &drv, const char *path, char *err, size_t errlen)
{
    tile_rtl_status st = path ? drv.trace_vcd(path) : drv.trace_vcd_stop();
    put_msg(err, errlen, drv.message());
    return st;
}

} // namespace

extern "C" {

const char *tile_rtl_mm_sizes(void) { return MmTileRtl::compiled_sizes(); }
const char *tile_rtl_sm_sizes(void) { return SmTileRtl::compiled_sizes(); }

tile_rtl_status tile_mm_rtl_create(uint32_t rows, uint32_t cols, tile_mm_rtl **out, char *err, size_t errlen)
{
    std::string why;
    tile_rtl_status st = TILE_RTL_OK;
    std::unique_ptr<MmTileRtl> drv = MmTileRtl::create(rows, cols, &why, &st);
    return create_handle(std::move(drv), st, why, out, err, errlen);
}

tile_rtl_status tile_mm_rtl_create_lanes(uint32_t rows, uint32_t cols, uint32_t lanes, tile_mm_rtl **out, char *err,
                                         size_t errlen)
{
    std::string why;
    tile_rtl_status st = TILE_RTL_OK;
    std::unique_ptr<MmTileRtl> drv = MmTileRtl::create(rows, cols, lanes ? lanes : UINT32_MAX, &why, &st);
    return create_handle(std::move(drv), st, why, out, err, errlen);
}

uint32_t tile_mm_rtl_lanes(const tile_mm_rtl *t) { return t->drv->lanes(); }

void tile_mm_rtl_destroy(tile_mm_rtl *t) { delete t; }

tile_rtl_status tile_mm_rtl_run(tile_mm_rtl *t, const isa_insn *in, isa_exec_ctx *ctx, uint64_t *cycles,
                                char *err, size_t errlen)
{
    return run_insn(*t->drv, in, ctx, cycles, err, errlen);
}

void tile_mm_rtl_set_clock(tile_mm_rtl *t, double mhz) { t->drv->set_clock(mhz); }

tile_rtl_status tile_mm_rtl_trace(tile_mm_rtl *t, const char *vcd_path, char *err, size_t errlen)
{
    return trace_to(*t->drv, vcd_path, err, errlen);
}

void tile_mm_rtl_set_stalls(tile_mm_rtl *t, const tile_rtl_stalls *stalls) { t->drv->set_stalls(*stalls); }

tile_rtl_status tile_sm_rtl_create(uint32_t lanes, uint32_t max_len, tile_sm_rtl **out, char *err, size_t errlen)
{
    std::string why;
    tile_rtl_status st = TILE_RTL_OK;
    std::unique_ptr<SmTileRtl> drv = SmTileRtl::create(lanes, max_len, &why, &st);
    return create_handle(std::move(drv), st, why, out, err, errlen);
}

void tile_sm_rtl_destroy(tile_sm_rtl *t) { delete t; }

tile_rtl_status tile_sm_rtl_run(tile_sm_rtl *t, const isa_insn *in, isa_exec_ctx *ctx, uint64_t *cycles,
                                char *err, size_t errlen)
{
    return run_insn(*t->drv, in, ctx, cycles, err, errlen);
}

void tile_sm_rtl_set_clock(tile_sm_rtl *t, double mhz) { t->drv->set_clock(mhz); }

tile_rtl_status tile_sm_rtl_trace(tile_sm_rtl *t, const char *vcd_path, char *err, size_t errlen)
{
    return trace_to(*t->drv, vcd_path, err, errlen);
}

void tile_sm_rtl_set_stalls(tile_sm_rtl *t, const tile_rtl_stalls *stalls) { t->drv->set_stalls(*stalls); }

} // extern "C"
