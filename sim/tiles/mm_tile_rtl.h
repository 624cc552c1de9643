/* mm_tile_rtl.h -- the matmul tile's driver: runs `mm`, `mm.cfg` and `mm.out` instructions on
 * the Verilated rtl/mm_tile.sv, cycle by cycle, with isa_exec()'s exact effect on the SRAM.
 *
 * Why it exists: the simulator's rtl mode calls this from one SystemC thread (one timed wait per
 * instruction, of the returned cycles); the testbenches call it through tile_rtl.h. The tile
 * computes A x B (binary32 sums in its f16 mode) and its output stage adds C (acc; in the f16 mode
 * the driver's binary32 add) and the bias vector and requantises (rq);
 * this driver streams the operands in (one beat per cycle, in the order rtl/README.md gives),
 * reads what the stage needs from the SRAM (C's previous rows, mm.cfg's bias vector, mm.out's
 * records and table) and writes back the rows the tile emits. It keeps ctx's copy of the tile's
 * configuration (mm_bias .. mm_out) in step, as isa_exec() does.
 */
#ifndef M4NPU_MM_TILE_RTL_H
#define M4NPU_MM_TILE_RTL_H

#include <memory>
#include <vector>

#include "isa_exec.h"
#include "tile_rtl_base.h"

class MmTileRtl : public TileRtlBase {
public:
    /* A driver for a rows x cols array, or nullptr with *err naming the compiled sizes and *st
     * (if given) TILE_RTL_E_GEOMETRY or TILE_RTL_E_NOMEM. */
    static std::unique_ptr<MmTileRtl> create(uint32_t rows, uint32_t cols, std::string *err,
                                             tile_rtl_status *st = nullptr);
    /* The same with the output stage's lanes (0: whichever lane count was compiled first). */
    static std::unique_ptr<MmTileRtl> create(uint32_t rows, uint32_t cols, uint32_t lanes, std::string *err,
                                             tile_rtl_status *st = nullptr);
    static const char *compiled_sizes(); /* e.g. "16x16/8" or "16x16/8, 64x64/64" (rows x cols / lanes) */

    uint32_t rows() const { return rows_; }
    uint32_t cols() const { return cols_; }
    uint32_t lanes() const { return lanes_; }

    /* Reset the tile (its output-stage registers return to zero, as a zeroed isa_exec_ctx's
     * mm_* state): the device's reset. Takes no instruction's cycles. */
    virtual void reset() = 0;

    /* Run mm, mm.cfg or mm.out: reads the operands from ctx.sram, writes the results (and ctx's
     * copy of the tile's configuration) as isa_exec() would and returns the measured cycles; on error returns 0, writes nothing, and
     * status()/message() say why. */
    uint64_t run(const isa_insn &in, isa_exec_ctx &ctx);
    /* The same with the status returned. */
    tile_rtl_status execute(const isa_insn &in, isa_exec_ctx &ctx, uint64_t *cycles);

protected:
    /* One mm's operand stream, already laid out lane by lane, and the output stage's operands. */
    struct Job {
        bool ws = false, int4 = false, acc = false, bias = false, rq = false;
        uint32_t at = 0, bt = 0; /* operand types (isa_table.def MMT) */
        bool fmode = false;      /* an f16 operand: binary32 sums, no bias or rq, acc by the driver */
        uint32_t m = 0, n = 0, k = 0;
        uint32_t beats = 0;
        std::vector<uint16_t> a;     /* beats x rows(): left-edge lanes (an 8-bit value in the low byte) */
        std::vector<uint16_t> b;     /* beats x cols(): top-edge lanes (int4: packed byte j in lane j) */
        std::vector<int32_t> c_old;  /* acc: m x n, C before the instruction */
        std::vector<int32_t> bias_v; /* bias: n values of mm.cfg's vector */
    };
    /* mm.cfg (per_tensor) or mm.out: what the command port and the load beats carry. */
    struct Config {
        bool per_tensor = true;
        uint32_t scale = 0, shift = 0;              /* mm.cfg */
        uint32_t n = 0;                             /* mm.out: records */
        bool axis_row = false, lut = false;
        int32_t lo = 0, hi = 0;
        std::vector<isa_mm_out_record> records;     /* n */
        std::vector<int8_t> table;                  /* ISA_MM_OUT_LUT_ENTRIES with lut */
    };

    MmTileRtl(uint32_t rows, uint32_t cols, uint32_t lanes) : rows_(rows), cols_(cols), lanes_(lanes) {}
    /* Issue job to the model, stream it and collect the m result rows: int32 into out32, or with
     * rq int8 into out8 (both m x n); *cycles is from the issue cycle to the last result's cycle,
     * both included. */
    virtual tile_rtl_status stream(const Job &job, int32_t *out32, int8_t *out8, uint64_t *cycles) = 0;
    /* Issue mm.cfg or mm.out and feed mm.out's beats; *cycles as above (to the last beat). */
    virtual tile_rtl_status configure(const Config &cfg, uint64_t *cycles) = 0;

private:
    tile_rtl_status check(const isa_insn &in, const isa_exec_ctx &ctx);
    void build_job(const isa_insn &in, const isa_exec_ctx &ctx, Job *job) const;
    tile_rtl_status run_config(const isa_insn &in, isa_exec_ctx &ctx, uint64_t *cycles);

    uint32_t rows_, cols_, lanes_;
};

#endif
