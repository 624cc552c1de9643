/* tile_rtl_registry.cpp -- the factories: which Verilated sizes this build contains, and a
 * driver for each. The list comes from tile_rtl_models.h, which rtl/CMakeLists.txt generates at
 * configure time from M4NPU_RTL_MM_SIZES / M4NPU_RTL_SM_LANES (sorted, so that a softmax request
 * gets the compiled tile with the shortest rows that still hold max_len: a tile built for longer
 * rows runs shorter ones in the same cycles; the driver refuses rows beyond the requested max_len,
 * as the configured device does). */
#include <new>

#include "tile_rtl_model.h"
#include "tile_rtl_models.h" /* generated: the model headers and the TILE_RTL_*_MODELS lists */

const char *MmTileRtl::compiled_sizes() { return TILE_RTL_MM_SIZES; }
const char *SmTileRtl::compiled_sizes() { return TILE_RTL_SM_SIZES; }

namespace {

template <class T> std::unique_ptr<T> refuse(tile_rtl_status why, tile_rtl_status *st)
{
    if (st)
        *st = why;
    return nullptr;
}

} // namespace

std::unique_ptr<MmTileRtl> MmTileRtl::create(uint32_t rows, uint32_t cols, std::string *err, tile_rtl_status *st)
{
    return create(rows, cols, 0, err, st);
}

std::unique_ptr<MmTileRtl> MmTileRtl::create(uint32_t rows, uint32_t cols, uint32_t lanes, std::string *err,
                                             tile_rtl_status *st)
{
    if (st)
        *st = TILE_RTL_OK;
    try {
#define TILE_RTL_MM_MAKE(R, C, L, MODEL)                                                                       \
    if (rows == (R) && cols == (C) && (lanes == 0 || lanes == (L)))                                            \
        return std::unique_ptr<MmTileRtl>(new MmTileModel<MODEL>(rows, cols, (L)));
        TILE_RTL_MM_MODELS(TILE_RTL_MM_MAKE)
#undef TILE_RTL_MM_MAKE
    } catch (const std::bad_alloc &) {
        if (err)
            *err = "out of memory for the " + std::to_string(rows) + "x" + std::to_string(cols) + " matmul model";
        return refuse<MmTileRtl>(TILE_RTL_E_NOMEM, st);
    }
    if (err)
        *err = "no " + std::to_string(rows) + "x" + std::to_string(cols) +
               (lanes ? "/" + std::to_string(lanes) : std::string()) +
               " matmul tile RTL in this build (compiled: " TILE_RTL_MM_SIZES
               ", rows x cols / output-stage lanes; add the size to the CMake list M4NPU_RTL_MM_SIZES)";
    return refuse<MmTileRtl>(TILE_RTL_E_GEOMETRY, st);
}

std::unique_ptr<SmTileRtl> SmTileRtl::create(uint32_t lanes, uint32_t max_len, std::string *err,
                                             tile_rtl_status *st)
{
    if (st)
        *st = TILE_RTL_OK;
    try {
#define TILE_RTL_SM_MAKE(L, N, MODEL)                                                                          \
    static_assert((L) <= SmTileModel<MODEL>::kMaxLanes, "softmax lanes beyond the driver's limit");           \
    if (lanes == (L) && max_len >= 1 && max_len <= (N))                                                        \
        return std::unique_ptr<SmTileRtl>(new SmTileModel<MODEL>(lanes, max_len));
        TILE_RTL_SM_MODELS(TILE_RTL_SM_MAKE)
#undef TILE_RTL_SM_MAKE
    } catch (const std::bad_alloc &) {
        if (err)
            *err = "out of memory for the softmax model";
        return refuse<SmTileRtl>(TILE_RTL_E_NOMEM, st);
    }
    if (err)
        *err = "no softmax tile RTL with " + std::to_string(lanes) + " lanes and rows of " +
               std::to_string(max_len) + " in this build (compiled: " TILE_RTL_SM_SIZES
               "; add LANES:MAX_LEN to the CMake list M4NPU_RTL_SM_LANES)";
    return refuse<SmTileRtl>(TILE_RTL_E_GEOMETRY, st);
}
