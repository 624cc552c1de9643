/* sm_tile_rtl.cpp -- the softmax driver's model-independent half: checking an instruction and
 * writing result rows back. The cycle loop is in tile_rtl_model.h (one instantiation per
 * compiled lane count and row length). */
#include "sm_tile_rtl.h"

#include <cinttypes>
#include <cstring>
#include <new>

uint64_t SmTileRtl::run(const isa_insn &in, isa_exec_ctx &ctx)
{
    uint64_t cycles = 0;
    return execute(in, ctx, &cycles) == TILE_RTL_OK ? cycles : 0;
}

void SmTileRtl::finish_row(Job &job, uint32_t row) const
{
    std::memcpy(job.dst + (size_t)row * job.len, job.row.data(), job.len);
}

tile_rtl_status SmTileRtl::execute(const isa_insn &in, isa_exec_ctx &ctx, uint64_t *cycles)
{
    *cycles = 0;
    if (in.op != ISA_OP_SM) {
        const isa_insn_desc *d = isa_desc(in.op);
        return fail(TILE_RTL_E_INSN, "%s is not a softmax tile instruction (expected sm)",
                    d ? d->mnemonic : "an unknown op");
    }
    isa_error e;
    if (isa_check(&in, &e) != ISA_OK)
        return fail(TILE_RTL_E_INSN, "%s", e.msg);
    if (ISA_GET(&in, SM, LEN) > (int64_t)max_len_)
        return fail(TILE_RTL_E_SHAPE, "sm: len = %" PRId64 " exceeds the softmax tile's maximum row of %u",
                    ISA_GET(&in, SM, LEN), max_len_);
    isa_sram_range r[ISA_MAX_SRAM_RANGES];
    int nr = isa_sram_ranges(&in, nullptr, r);
    for (int i = 0; i < nr; i++)
        if ((uint64_t)r[i].addr + r[i].len > ctx.sram_bytes)
            return fail(TILE_RTL_E_SRAM, "sm: SRAM %s [0x%x, 0x%" PRIx64 ") exceeds the %u-byte SRAM",
                        r[i].write ? "write" : "read", r[i].addr, (uint64_t)r[i].addr + r[i].len,
                        ctx.sram_bytes);
    try {
        Job job;
        job.len = (uint32_t)ISA_GET(&in, SM, LEN);
        job.rows = (uint32_t)ISA_GET(&in, SM, ROWS);
        job.beats = (job.len + lanes_ - 1) / lanes_;
        job.scale = (uint32_t)ISA_GET(&in, SM, SCALE);
        job.mask = ISA_GET(&in, SM, MASK) == ISA_MASK_CAUSAL;
        job.moff = (int32_t)ISA_GET(&in, SM, MOFF);
        job.src = ctx.sram + ISA_GET(&in, SM, SRC);
        job.dst = ctx.sram + ISA_GET(&in, SM, DST);
        job.row.assign(job.len, 0);
        /* Rows are written back as they complete (src and dst may overlap, as in isa_exec());
         * if the RTL fails part-way, the saved copy undoes those writes. */
        const size_t dst_bytes = (size_t)job.rows * job.len;
        std::vector<uint8_t> saved(job.dst, job.dst + dst_bytes);
        tile_rtl_status st = stream(job, cycles);
        if (st != TILE_RTL_OK) {
            std::memcpy(job.dst, saved.data(), dst_bytes);
            *cycles = 0;
            return st;
        }
    } catch (const std::bad_alloc &) {
        *cycles = 0;
        return fail(TILE_RTL_E_NOMEM, "sm: out of memory");
    }
    return ok();
}
