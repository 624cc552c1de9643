/* tile_rtl_base.h -- what the two RTL tile drivers share: the status and message of the last
 * call, the stall-injection test hook and its PRNG, and the run() convenience wrapper's contract.
 *
 * Why it exists: MmTileRtl and SmTileRtl report errors the same way (a tile_rtl_status from
 * tile_rtl.h plus a message naming the field and what was expected) and inject stalls the same
 * way; one base keeps that in one place. No Verilator header is needed to use it.
 */
#ifndef M4NPU_TILE_RTL_BASE_H
#define M4NPU_TILE_RTL_BASE_H

#include <cstdint>
#include <string>

#include "tile_rtl.h"

class TileRtlBase {
public:
    TileRtlBase() = default;
    TileRtlBase(const TileRtlBase &) = delete;
    TileRtlBase &operator=(const TileRtlBase &) = delete;
    virtual ~TileRtlBase() = default;

    /* Status and message of the last execute()/run()/trace_vcd(). */
    tile_rtl_status status() const { return status_; }
    const std::string &message() const { return message_; }

    /* Dump the tile's signals into a VCD file from now on (one file per driver; closed when the
     * driver is destroyed). VCD time is in picoseconds ($timescale 1ps) of the clock set_clock
     * gives (default TILE_RTL_DEFAULT_CLOCK_MHZ), two value dumps per cycle (low phase, rising edge);
     * cycle 0 is the model's creation, or what align() says. */
    virtual tile_rtl_status trace_vcd(const std::string &path) = 0;
    /* The clock the VCD's time follows (MHz). */
    virtual void set_clock(double mhz) = 0;
    /* The next instruction starts at this cycle of the caller's clock (the device's cycle count):
     * the VCD's time jumps there, so that a waveform lines up with the device's timeline. A cycle
     * earlier than the tile's own time is ignored (time never runs backwards). */
    virtual void align(uint64_t cycle) = 0;
    /* Stop the VCD and close its file: TILE_RTL_E_TRACE if a write failed since it started (a
     * full disk, a file-size limit: the file is incomplete; the run itself went on). */
    virtual tile_rtl_status trace_vcd_stop() = 0;

    /* Test hook: see tile_rtl_stalls. */
    void set_stalls(const tile_rtl_stalls &stalls)
    {
        stalls_ = stalls;
        rng_ = stalls.seed;
    }

    /* Every clock cycle this driver's model has been stepped through (reset included). */
    virtual uint64_t cycles_clocked() const = 0;

protected:
    tile_rtl_status ok();
    tile_rtl_status fail(tile_rtl_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
    bool stall_in() { return stalls_.in_per_mille && draw() < stalls_.in_per_mille; }
    bool stall_out() { return stalls_.out_per_mille && draw() < stalls_.out_per_mille; }
    bool stalls_on() const { return stalls_.in_per_mille || stalls_.out_per_mille; }

private:
    uint32_t draw(); /* uniform in [0, 1000) */

    tile_rtl_stalls stalls_{};
    uint64_t rng_ = 0;
    tile_rtl_status status_ = TILE_RTL_OK;
    std::string message_;
};

#endif
