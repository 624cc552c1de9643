/* mm_tile_rtl.h -- the matmul tile's driver: runs `mm` and `mm.cfg` instructions on the
 * Verilated rtl/mm_tile.sv, cycle by cycle, with isa_exec()'s exact effect on the SRAM.
 *
 * Why it exists: the simulator's rtl mode calls this from one SystemC thread (one timed wait per
 * instruction, of the returned cycles); the testbenches call it through tile_rtl.h. The tile
 * computes the int32 products A x B (binary32 sums in its f16 mode); this driver streams the
 * operands in (one beat per step, in the order rtl/README.md gives) and applies the output stage
 * to the rows the tile emits: + C (acc; in the f16 mode one more binary32 add), + bias (mm.cfg's
 * vector), requantisation (rq) -- the formula charges no cycles for them. mm.cfg only sets ctx's mm_bias/mm_scale/mm_shift and takes TILE_MM_CFG_CYCLES.
 */
#ifndef M4NPU_MM_TILE_RTL_H
#define M4NPU_MM_TILE_RTL_H

#include <memory>
#include <vector>

#include "tile_rtl_base.h"

class MmTileRtl : public TileRtlBase {
public:
    /* A driver for a rows x cols array, or nullptr with *err naming the compiled sizes and *st
     * (if given) TILE_RTL_E_GEOMETRY or TILE_RTL_E_NOMEM. */
    static std::unique_ptr<MmTileRtl> create(uint32_t rows, uint32_t cols, std::string *err,
                                             tile_rtl_status *st = nullptr);
    static const char *compiled_sizes(); /* e.g. "16x16" or "8x8, 16x16, 32x32" */

    uint32_t rows() const { return rows_; }
    uint32_t cols() const { return cols_; }

    /* Run mm or mm.cfg: reads the operands from ctx.sram, writes the results as isa_exec()
     * would and returns the measured cycles; on error returns 0, writes nothing, and
     * status()/message() say why. */
    uint64_t run(const isa_insn &in, isa_exec_ctx &ctx);
    /* The same with the status returned. */
    tile_rtl_status execute(const isa_insn &in, isa_exec_ctx &ctx, uint64_t *cycles);

protected:
    /* One instruction's operand stream, already laid out lane by lane. */
    struct Job {
        bool ws = false, int4 = false;
        uint32_t at = 0, bt = 0; /* operand types (isa_table.def MMT) */
        uint32_t m = 0, n = 0, k = 0;
        uint32_t beats = 0;
        std::vector<uint16_t> a; /* beats x rows(): left-edge lanes (an 8-bit value in the low byte) */
        std::vector<uint16_t> b; /* beats x cols(): top-edge lanes (int4: packed byte j in lane j) */
    };

    MmTileRtl(uint32_t rows, uint32_t cols) : rows_(rows), cols_(cols) {}
    /* Issue job to the model, stream it and collect the m result rows into out (m x n int32);
     * *cycles is from the issue cycle to the last result's cycle, both included. */
    virtual tile_rtl_status stream(const Job &job, int32_t *out, uint64_t *cycles) = 0;

private:
    tile_rtl_status check(const isa_insn &in, const isa_exec_ctx &ctx);
    void build_job(const isa_insn &in, const isa_exec_ctx &ctx, Job *job) const;

    uint32_t rows_, cols_;
};

#endif
