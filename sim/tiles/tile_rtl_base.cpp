/* tile_rtl_base.cpp -- the status messages of tile_rtl.h and the shared parts of the drivers:
 * recording a status with its message, and the stall-injection PRNG (splitmix64, so a seed
 * gives the same stalls on every machine). */
#include "tile_rtl_base.h"

#include <cstdarg>
#include <cstdio>

extern "C" const char *tile_rtl_status_str(tile_rtl_status st)
{
    static const char *const msg[TILE_RTL_STATUS_COUNT] = {
        "ok",
        "no RTL model of that size was compiled",
        "not an instruction of this tile, or an invalid one",
        "the instruction's shape does not fit the tile",
        "an operand or result lies outside the SRAM",
        "the RTL broke its protocol or did not finish (an RTL bug)",
        "the VCD trace could not be started",
        "out of memory",
    };
    return (st >= 0 && st < TILE_RTL_STATUS_COUNT) ? msg[st] : "unknown status";
}

tile_rtl_status TileRtlBase::ok()
{
    status_ = TILE_RTL_OK;
    message_.clear();
    return TILE_RTL_OK;
}

tile_rtl_status TileRtlBase::fail(tile_rtl_status st, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    status_ = st;
    message_ = buf;
    return st;
}

uint32_t TileRtlBase::draw()
{
    const uint32_t per_mille = 1000;
    uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) % per_mille);
}
