/* sm_tile_rtl.h -- the softmax tile's driver: runs `sm` instructions on the Verilated
 * rtl/sm_tile.sv, cycle by cycle, with isa_exec()'s exact effect on the SRAM.
 *
 * Why it exists: the simulator's rtl mode calls this from one SystemC thread (one timed wait per
 * instruction, of the returned cycles); the testbenches call it through tile_rtl.h. The whole
 * algorithm (max, exp2, sum, reciprocal, normalise, mask) is in the RTL; this driver only feeds
 * each row's beats when the tile asks for them and writes each result row back as it
 * completes, so that src and dst may overlap exactly as isa_exec() allows.
 */
#ifndef M4NPU_SM_TILE_RTL_H
#define M4NPU_SM_TILE_RTL_H

#include <memory>
#include <vector>

#include "tile_rtl_base.h"

class SmTileRtl : public TileRtlBase {
public:
    /* A driver for a tile of `lanes` elements per cycle and rows up to max_len, or nullptr with
     * *err naming the compiled sizes and *st (if given) TILE_RTL_E_GEOMETRY or TILE_RTL_E_NOMEM. */
    static std::unique_ptr<SmTileRtl> create(uint32_t lanes, uint32_t max_len, std::string *err,
                                             tile_rtl_status *st = nullptr);
    static const char *compiled_sizes(); /* e.g. "4 lanes/512" */

    uint32_t lanes() const { return lanes_; }
    uint32_t max_len() const { return max_len_; }

    /* Run sm: returns the measured cycles, or 0 on error (nothing written; see status()). */
    uint64_t run(const isa_insn &in, isa_exec_ctx &ctx);
    tile_rtl_status execute(const isa_insn &in, isa_exec_ctx &ctx, uint64_t *cycles);

protected:
    struct Job {
        uint32_t len = 0, rows = 0, beats = 0;
        uint32_t scale = 0;
        bool mask = false;
        int32_t moff = 0;
        const uint8_t *src = nullptr;
        uint8_t *dst = nullptr;
        std::vector<uint8_t> row; /* the result row being collected */
    };

    SmTileRtl(uint32_t lanes, uint32_t max_len) : lanes_(lanes), max_len_(max_len) {}
    virtual tile_rtl_status stream(Job &job, uint64_t *cycles) = 0;

    /* The lanes of input beat `beat` of row `row` (0 beyond len). */
    void fetch_beat(const Job &job, uint32_t row, uint32_t beat, uint8_t *lanes) const
    {
        const uint8_t *x = job.src + (size_t)row * job.len;
        for (uint32_t l = 0, e = beat * lanes_; l < lanes_; l++, e++)
            lanes[l] = e < job.len ? x[e] : 0;
    }
    /* Collect result beat `beat`; at the row's end the row is written to dst. */
    void take_beat(Job &job, uint32_t beat, const uint8_t *lanes) const
    {
        for (uint32_t l = 0, e = beat * lanes_; l < lanes_ && e < job.len; l++, e++)
            job.row[e] = lanes[l];
    }
    void finish_row(Job &job, uint32_t row) const;

private:
    uint32_t lanes_, max_len_;
};

#endif
