/* mm_tile_rtl.cpp -- the matmul driver's model-independent half: checking an instruction,
 * laying out its operand beats and the output stage's operands (C's previous rows, the bias
 * vector, mm.out's records and table), and writing back what the tile emits. The cycle loops are
 * in tile_rtl_model.h (one instantiation per compiled size). */
#include "mm_tile_rtl.h"

#include <cinttypes>
#include <cstring>
#include <new>

#include "tile_cycles.h"

namespace {

int32_t ld_i32(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    int32_t s;
    std::memcpy(&s, &v, sizeof s);
    return s;
}

void st_i32(uint8_t *p, int32_t s)
{
    uint32_t v;
    std::memcpy(&v, &s, sizeof v);
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The binary32 whose bits are v, and back. */
float as_f32(int32_t v)
{
    float f;
    std::memcpy(&f, &v, sizeof f);
    return f;
}

int32_t f32_bits(float f)
{
    int32_t v;
    std::memcpy(&v, &f, sizeof v);
    return v;
}

/* Element e of a row of 1- or 2-byte elements as a 16-bit lane (little-endian). */
uint16_t lane(const uint8_t *row, uint32_t e, uint32_t esz)
{
    return esz == 1 ? row[e] : (uint16_t)(row[2 * e] | row[2 * e + 1] << 8);
}

} // namespace

uint64_t MmTileRtl::run(const isa_insn &in, isa_exec_ctx &ctx)
{
    uint64_t cycles = 0;
    return execute(in, ctx, &cycles) == TILE_RTL_OK ? cycles : 0;
}

tile_rtl_status MmTileRtl::check(const isa_insn &in, const isa_exec_ctx &ctx)
{
    if (in.op != ISA_OP_MM && in.op != ISA_OP_MM_CFG && in.op != ISA_OP_MM_OUT) {
        const isa_insn_desc *d = isa_desc(in.op);
        return fail(TILE_RTL_E_INSN, "%s is not a matmul tile instruction (expected mm, mm.cfg or mm.out)",
                    d ? d->mnemonic : "an unknown op");
    }
    isa_error e;
    if (isa_check(&in, &e) != ISA_OK)
        return fail(TILE_RTL_E_INSN, "%s", e.msg);
    if (in.op == ISA_OP_MM) {
        bool ws = ISA_GET(&in, MM, DF) == ISA_DF_WS;
        int64_t rows_dim = ws ? ISA_GET(&in, MM, K) : ISA_GET(&in, MM, M);
        if (rows_dim > (int64_t)rows_)
            return fail(TILE_RTL_E_SHAPE, "mm: %s = %" PRId64 " exceeds the %u-row matmul tile (%s dataflow)",
                        ws ? "k" : "m", rows_dim, rows_, ws ? "ws" : "os");
        if (ISA_GET(&in, MM, N) > (int64_t)cols_)
            return fail(TILE_RTL_E_SHAPE, "mm: n = %" PRId64 " exceeds the %u-column matmul tile",
                        ISA_GET(&in, MM, N), cols_);
    }
    uint32_t records = rows_ > cols_ ? rows_ : cols_;
    if (in.op == ISA_OP_MM_OUT && ISA_GET(&in, MM_OUT, N) > (int64_t)records)
        return fail(TILE_RTL_E_SHAPE, "mm.out: n = %" PRId64 " exceeds the output stage's %u records",
                    ISA_GET(&in, MM_OUT, N), records);
    isa_sram_range r[ISA_MAX_SRAM_RANGES];
    int nr = isa_sram_ranges(&in, &ctx.mm_bias, r);
    for (int i = 0; i < nr; i++)
        if ((uint64_t)r[i].addr + r[i].len > ctx.sram_bytes)
            return fail(TILE_RTL_E_SRAM, "%s: SRAM %s [0x%x, 0x%" PRIx64 ") exceeds the %u-byte SRAM",
                        isa_desc(in.op)->mnemonic, r[i].write ? "write" : "read", r[i].addr,
                        (uint64_t)r[i].addr + r[i].len, ctx.sram_bytes);
    return ok();
}

/* The beat order of rtl/README.md. os: beat t carries column t of A and row t of B. ws: beat s
 * carries weight row k-1-s (s < k; the weights shift down, so the first ends in row k-1) and,
 * from s = k-1 on, A row s-(k-1). Unused lanes are 0. */
void MmTileRtl::build_job(const isa_insn &in, const isa_exec_ctx &ctx, Job *job) const
{
    job->ws = ISA_GET(&in, MM, DF) == ISA_DF_WS;
    job->int4 = ISA_GET(&in, MM, WT) == ISA_WT_I4;
    job->acc = ISA_GET(&in, MM, ACC) == ISA_ACC_ADD;
    job->bias = ISA_GET(&in, MM, BIAS) == ISA_BIAS_ON;
    job->rq = ISA_GET(&in, MM, RQ) == ISA_RQ_ON;
    job->at = (uint32_t)ISA_GET(&in, MM, AT);
    job->bt = (uint32_t)ISA_GET(&in, MM, BT);
    job->fmode = job->at == ISA_MMT_F16 || job->bt == ISA_MMT_F16;
    job->acc = job->acc && !job->fmode; /* the f16 mode's C + sum is the driver's binary32 add */
    job->m = (uint32_t)ISA_GET(&in, MM, M);
    job->n = (uint32_t)ISA_GET(&in, MM, N);
    job->k = (uint32_t)ISA_GET(&in, MM, K);
    const uint32_t m = job->m, n = job->n, k = job->k;
    const uint8_t *a = ctx.sram + ISA_GET(&in, MM, A), *b = ctx.sram + ISA_GET(&in, MM, B);
    const uint32_t ae = job->at == ISA_MMT_I8 ? 1 : 2, be = job->bt == ISA_MMT_I8 ? 1 : 2;
    const uint32_t b_lanes = job->int4 ? n / 2 : n; /* lanes a row of B fills (int4: packed bytes) */
    job->beats = job->ws ? k + m - 1 : k;
    job->a.assign((size_t)job->beats * rows_, 0);
    job->b.assign((size_t)job->beats * cols_, 0);
    auto b_row = [&](uint16_t *bl, uint32_t r) {
        for (uint32_t j = 0; j < b_lanes; j++)
            bl[j] = lane(b + (size_t)r * b_lanes * be, j, be);
    };
    for (uint32_t s = 0; s < job->beats; s++) {
        uint16_t *al = &job->a[(size_t)s * rows_], *bl = &job->b[(size_t)s * cols_];
        if (!job->ws) {
            for (uint32_t i = 0; i < m; i++)
                al[i] = lane(a + (size_t)i * k * ae, s, ae);
            b_row(bl, s);
            continue;
        }
        if (s < k)
            b_row(bl, k - 1 - s);
        if (s + 1 >= k)
            for (uint32_t r = 0; r < k; r++)
                al[r] = lane(a + (size_t)(s + 1 - k) * k * ae, r, ae);
    }
    const uint8_t *c = ctx.sram + ISA_GET(&in, MM, C);
    if (job->acc) {
        job->c_old.resize((size_t)m * n);
        for (size_t i = 0; i < job->c_old.size(); i++)
            job->c_old[i] = ld_i32(c + 4 * i);
    }
    if (job->bias) {
        job->bias_v.resize(n);
        for (uint32_t j = 0; j < n; j++)
            job->bias_v[j] = ld_i32(ctx.sram + ctx.mm_bias + 4 * (size_t)j);
    }
}

/* mm.cfg and mm.out through the tile's command port (and mm.out's load beats). */
tile_rtl_status MmTileRtl::run_config(const isa_insn &in, isa_exec_ctx &ctx, uint64_t *cycles)
{
    Config cfg;
    if (in.op == ISA_OP_MM_CFG) {
        cfg.per_tensor = true;
        cfg.scale = (uint32_t)ISA_GET(&in, MM_CFG, SCALE);
        cfg.shift = (uint32_t)ISA_GET(&in, MM_CFG, SHIFT);
    } else {
        cfg.per_tensor = false;
        cfg.n = (uint32_t)ISA_GET(&in, MM_OUT, N);
        cfg.axis_row = ISA_GET(&in, MM_OUT, AXIS) == ISA_AXIS_ROW;
        cfg.lut = ISA_GET(&in, MM_OUT, LUT) == ISA_LUT_ON;
        cfg.lo = (int32_t)ISA_GET(&in, MM_OUT, LO);
        cfg.hi = (int32_t)ISA_GET(&in, MM_OUT, HI);
        const uint8_t *prm = ctx.sram + ISA_GET(&in, MM_OUT, PRM);
        cfg.records.resize(cfg.n);
        for (uint32_t r = 0; r < cfg.n; r++)
            cfg.records[r] = isa_mm_out_record_at(prm + (size_t)ISA_MM_OUT_RECORD_BYTES * r);
        if (cfg.lut) {
            const int8_t *tab = (const int8_t *)(ctx.sram + ISA_GET(&in, MM_OUT, TAB));
            cfg.table.assign(tab, tab + ISA_MM_OUT_LUT_ENTRIES);
        }
    }
    tile_rtl_status st = configure(cfg, cycles);
    if (st != TILE_RTL_OK) {
        *cycles = 0;
        return st;
    }
    if (in.op == ISA_OP_MM_CFG) {
        ctx.mm_bias = (uint32_t)ISA_GET(&in, MM_CFG, BIAS);
        ctx.mm_scale = cfg.scale;
        ctx.mm_shift = cfg.shift;
        ctx.mm_out.per_channel = 0;
    } else {
        isa_mm_out_load(&ctx.mm_out, &in, ctx.sram);
    }
    return ok();
}

tile_rtl_status MmTileRtl::execute(const isa_insn &in, isa_exec_ctx &ctx, uint64_t *cycles)
{
    *cycles = 0;
    tile_rtl_status st = check(in, ctx);
    if (st != TILE_RTL_OK)
        return st;
    try {
        if (in.op != ISA_OP_MM)
            return run_config(in, ctx, cycles);
        Job job;
        build_job(in, ctx, &job);
        const uint32_t m = job.m, n = job.n;
        std::vector<int32_t> res32(job.rq ? 0 : (size_t)m * n);
        std::vector<int8_t> res8(job.rq ? (size_t)m * n : 0);
        st = stream(job, res32.data(), res8.data(), cycles);
        if (st != TILE_RTL_OK) {
            *cycles = 0;
            return st;
        }
        /* All results at the end, as isa_exec() writes them (C may overlap A or B). In the f16
         * mode the tile does not accumulate: C + the array's sum is one binary32 add here. */
        uint8_t *c = ctx.sram + ISA_GET(&in, MM, C);
        if (job.fmode && ISA_GET(&in, MM, ACC) == ISA_ACC_ADD)
            for (size_t i = 0; i < res32.size(); i++)
                res32[i] = f32_bits(isa_f32_canon(as_f32(ld_i32(c + 4 * i)) + as_f32(res32[i])));
        if (job.rq)
            std::memcpy(c, res8.data(), res8.size());
        else
            for (size_t i = 0; i < res32.size(); i++)
                st_i32(c + 4 * i, res32[i]);
    } catch (const std::bad_alloc &) {
        *cycles = 0;
        return fail(TILE_RTL_E_NOMEM, "%s: out of memory for the tile's operands", isa_desc(in.op)->mnemonic);
    }
    return ok();
}
