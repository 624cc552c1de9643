// units.cpp -- the units: DMA channels, matmul tile, softmax tile, vector unit.
//
// Each unit is a thread that takes instructions from its queue in order. A compute instruction
// advances time once by its latency and then applies its effect (isa_exec); a DMA instruction
// waits its setup, then its DRAM transfer, then copies the bytes. Effects happen when an
// instruction completes, so a correctly synchronised program sees exactly the ISA's semantics.
// Latency formulas (sim/README.md documents each):
//   matmul, softmax: rtl/tile_cycles.h (the RTL tiles' own schedules; mm with rq adds the output
//   stage's term when its lanes are fewer than n)
//   vector: vector_cycles() below
//   DMA: setup_cycles + DRAM latency + ceil(bytes / bandwidth share), bytes = rows * whole bursts
//   every instruction's SRAM bytes share the banks' bandwidth (sram.cpp): it completes when its
//   latency has passed and its bytes have been served
//   signal/wait: no time of their own (a wait stalls until its semaphore is positive)
#include "device.h"

#include <array>
#include <cstring>

extern "C" {
#include "tile_cycles.h"
}

using namespace sc_core;

namespace m4npu {

namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Each op's execution unit, read from the ISA table once before main: the units dispatch on it
// for every instruction, and isa_desc() is a call into isa/ (another translation unit).
const std::array<isa_exec_unit, ISA_OP_COUNT> kExecUnitOf = [] {
    std::array<isa_exec_unit, ISA_OP_COUNT> units{};
    for (int op = 0; op < ISA_OP_COUNT; op++)
        units[op] = isa_desc(static_cast<isa_op>(op))->unit;
    return units;
}();

// The execution unit of a decoded instruction's op (always a valid op).
isa_exec_unit exec_unit_of(isa_op op) { return kExecUnitOf[static_cast<size_t>(op)]; }

// Cost class of a vector operation, per lane-group of elements.
uint64_t vector_op_cycles(const npu_vector_config &v, int64_t unop_or_binop, bool binary)
{
    if (binary) {
        if (unop_or_binop == ISA_BINOP_DIV)
            return v.divsqrt_cycles;
        if (unop_or_binop == ISA_BINOP_POW)
            return v.transcendental_cycles;
        return v.simple_cycles;
    }
    switch (unop_or_binop) {
    case ISA_UNOP_SQRT: case ISA_UNOP_RSQRT: case ISA_UNOP_RECIP:
        return v.divsqrt_cycles;
    case ISA_UNOP_EXP: case ISA_UNOP_LOG: case ISA_UNOP_SIGMOID: case ISA_UNOP_TANH: case ISA_UNOP_ERF:
    case ISA_UNOP_GELU: case ISA_UNOP_SILU: case ISA_UNOP_SIN: case ISA_UNOP_COS:
        return v.transcendental_cycles;
    default:
        return v.simple_cycles;
    }
}

} // namespace

// Vector unit latency. L = lanes, P = pipeline_cycles, c = cost class cycles (simple, divsqrt,
// transcendental), E = elements:
//   v.bin, v.un, v.quant, v.dequant, v.cvt:  P + ceil(E / L) * c
//   v.red:                            P + rows * ceil(cols / L) * simple
//   v.norm layer:                     P + rows * (3 * ceil(cols / L) * simple + divsqrt)
//   v.norm rms:                       P + rows * (2 * ceil(cols / L) * simple + divsqrt)
//   v.mov copy:                       P + rows * ceil(cols / L) * simple
//   v.mov transpose:                  P + cols * ceil(rows / L) * simple
static uint64_t vector_cycles(const isa_insn &in, const npu_vector_config &v)
{
    const uint64_t L = v.lanes, P = v.pipeline_cycles, s = v.simple_cycles;
    switch (in.op) {
    case ISA_OP_VBIN: {
        uint64_t e = uint64_t(ISA_GET(&in, VBIN, ROWS)) * uint64_t(ISA_GET(&in, VBIN, COLS));
        return P + ceil_div(e, L) * vector_op_cycles(v, ISA_GET(&in, VBIN, FN), true);
    }
    case ISA_OP_VUN: {
        uint64_t e = uint64_t(ISA_GET(&in, VUN, ROWS)) * uint64_t(ISA_GET(&in, VUN, COLS));
        return P + ceil_div(e, L) * vector_op_cycles(v, ISA_GET(&in, VUN, FN), false);
    }
    case ISA_OP_VQUANT: return P + ceil_div(uint64_t(ISA_GET(&in, VQUANT, N)), L) * s;
    case ISA_OP_VDEQUANT: return P + ceil_div(uint64_t(ISA_GET(&in, VDEQUANT, N)), L) * s;
    case ISA_OP_VCVT: return P + ceil_div(uint64_t(ISA_GET(&in, VCVT, N)), L) * s;
    case ISA_OP_VRED:
        return P + uint64_t(ISA_GET(&in, VRED, ROWS)) * ceil_div(uint64_t(ISA_GET(&in, VRED, COLS)), L) * s;
    case ISA_OP_VNORM: {
        uint64_t passes = ISA_GET(&in, VNORM, FN) == ISA_NORM_LAYER ? 3 : 2;
        uint64_t per_row = passes * ceil_div(uint64_t(ISA_GET(&in, VNORM, COLS)), L) * s + v.divsqrt_cycles;
        return P + uint64_t(ISA_GET(&in, VNORM, ROWS)) * per_row;
    }
    case ISA_OP_VMOV: {
        uint64_t rows = uint64_t(ISA_GET(&in, VMOV, ROWS)), cols = uint64_t(ISA_GET(&in, VMOV, COLS));
        if (ISA_GET(&in, VMOV, FN) == ISA_MOV_TRANSPOSE)
            return P + cols * ceil_div(rows, L) * s;
        return P + rows * ceil_div(cols, L) * s;
    }
    default: return P;
    }
}

// Latency of a matmul- or softmax-tile instruction in fast mode.
static uint64_t tile_cycles(const isa_insn &in, const npu_device_config &cfg)
{
    switch (in.op) {
    case ISA_OP_MM: {
        bool wide = ISA_GET(&in, MM, AT) != ISA_MMT_I8 || ISA_GET(&in, MM, BT) != ISA_MMT_I8;
        uint64_t stage_lanes = ISA_GET(&in, MM, RQ) == ISA_RQ_ON ? cfg.matmul.output_stage.lanes : 0;
        if (cfg.matmul.full_array_gemv == NPU_ON && ISA_GET(&in, MM, DF) == ISA_DF_OS)
            return tile_mm_split_rq_cycles_typed(wide, uint64_t(ISA_GET(&in, MM, M)), uint64_t(ISA_GET(&in, MM, N)),
                                                 uint64_t(ISA_GET(&in, MM, K)), cfg.matmul.rows, stage_lanes);
        return tile_mm_rq_cycles_typed(ISA_GET(&in, MM, DF) == ISA_DF_WS, wide, uint64_t(ISA_GET(&in, MM, M)),
                                       uint64_t(ISA_GET(&in, MM, N)), uint64_t(ISA_GET(&in, MM, K)), stage_lanes);
    }
    case ISA_OP_MM_CFG: return TILE_MM_CFG_CYCLES;
    case ISA_OP_MM_OUT:
        return tile_mm_out_cycles(uint64_t(ISA_GET(&in, MM_OUT, N)), ISA_GET(&in, MM_OUT, LUT) == ISA_LUT_ON,
                                  cfg.matmul.output_stage.lanes);
    case ISA_OP_SM:
        return tile_sm_cycles(uint64_t(ISA_GET(&in, SM, ROWS)), uint64_t(ISA_GET(&in, SM, LEN)), cfg.softmax.lanes);
    default: return 0;
    }
}

uint64_t fast_cycles(const isa_insn &in, const npu_device_config &cfg)
{
    return exec_unit_of(in.op) == ISA_EXEC_VEC ? vector_cycles(in, cfg.vector) : tile_cycles(in, cfg);
}

void Device::unit_thread(unsigned u)
{
    Unit &U = units_[u];
    for (;;) {
        while (U.queue.empty()) {
            U.waits_wake = true;
            wait(U.wake);
            U.waits_wake = false;
        }
        hal_cmd cmd = U.queue.front();
        U.current_seq = U.queue.front_seq();
        U.queue.pop_front();
        U.has_current = true;
        U.current = cmd.index;
        note_progress(); // queue space for the firmware
        if (U.waits_space)
            U.space.notify(SC_ZERO_TIME);
        const uint64_t issued = insn_hook_ ? now_cycles() : 0;
        uint64_t epoch = abort_epoch_;
        bool done;
        switch (exec_unit_of(cmd.insn.op)) {
        case ISA_EXEC_SYNC: done = exec_sync(u, cmd); break;
        case ISA_EXEC_DMA: done = exec_dma(u, cmd); break;
        default: done = exec_compute(u, cmd); break;
        }
        U.has_current = false;
        U.stalled = false;
        if (done && epoch == abort_epoch_) {
            U.ctr[NPU_CTR_INSNS]++;
            if (insn_hook_)
                report_insn(u, cmd, issued, NPU_SIM_INSN_DONE);
            note_progress();
        } else if (epoch == abort_epoch_) {
            if (insn_hook_)
                report_insn(u, cmd, issued, NPU_SIM_INSN_FAULT);
            // the instruction faulted: hold the queue until the firmware aborts the job
            while (epoch == abort_epoch_)
                wait(abort_ev_);
        } else if (insn_hook_) {
            report_insn(u, cmd, issued, NPU_SIM_INSN_ABORTED);
        }
    }
}

void Device::report_insn(unsigned u, const hal_cmd &cmd, uint64_t issue_cycle, npu_sim_insn_outcome outcome)
{
    npu_sim_insn_event ev{};
    ev.issue_cycle = issue_cycle;
    ev.end_cycle = now_cycles();
    ev.unit = u;
    ev.index = cmd.index;
    ev.op = static_cast<uint32_t>(cmd.insn.op);
    ev.outcome = static_cast<uint32_t>(outcome);
    insn_hook_(insn_hook_ctx_, &ev);
}

bool Device::busy_wait(unsigned u, uint64_t n)
{
    if (n == 0)
        return true;
    uint64_t epoch = abort_epoch_;
    Unit &U = units_[u];
    sc_time t0 = sim_now();
    U.waits_timer = true;
    U.timer.notify(cycles(n));
    wait(U.timer);
    U.waits_timer = false;
    U.ctr[NPU_CTR_BUSY] += to_cycles(sim_now() - t0);
    return epoch == abort_epoch_;
}

bool Device::sram_wait(unsigned u, SramModel::Request &r)
{
    if (r.finished)
        return true;
    uint64_t epoch = abort_epoch_;
    sc_time t0 = sim_now();
    units_[u].waits_sram = true;
    bool served = sram_model_.finish(r);
    units_[u].waits_sram = false;
    units_[u].ctr[NPU_CTR_BUSY] += to_cycles(sim_now() - t0);
    return served && epoch == abort_epoch_;
}

bool Device::compute_wait(unsigned u, uint64_t latency, uint64_t bytes)
{
    SramModel::Request req;
    req.owner = u;
    req.done = &units_[u].sram_done;
    sram_model_.begin(req, bytes, SramModel::cap_for(bytes, latency));
    if (!busy_wait(u, latency)) {
        sram_model_.withdraw(req);
        return false;
    }
    return sram_wait(u, req);
}

bool Device::exec_sync(unsigned u, const hal_cmd &cmd)
{
    unsigned sem = static_cast<unsigned>(ISA_GET(&cmd.insn, SIGNAL, SEM));
    if (cmd.insn.op == ISA_OP_SIGNAL) {
        sems_[sem]++;
        for (unsigned w = 0; sem_waiters_ && w < NPU_UNIT_CTRL; w++)
            if (units_[w].waits_sem == sem)
                units_[w].sem_signalled.notify(SC_ZERO_TIME);
        return true;
    }
    uint64_t epoch = abort_epoch_;
    Unit &U = units_[u];
    while (sems_[sem] == 0) {
        U.stalled = true;
        sc_time t0 = sim_now();
        sem_waiters_++;
        U.waits_sem = sem;
        wait(U.sem_signalled); // notify_abort notifies it too
        U.waits_sem = Unit::kNoSemaphore;
        sem_waiters_--;
        U.ctr[NPU_CTR_STALL] += to_cycles(sim_now() - t0);
        if (epoch != abort_epoch_)
            return false;
    }
    U.stalled = false;
    sems_[sem]--;
    return true;
}

bool Device::exec_dma(unsigned u, const hal_cmd &cmd)
{
    const isa_insn &in = cmd.insn;
    const bool load = in.op == ISA_OP_DMA_LD;
    const uint64_t rows = uint64_t(ISA_GET(&in, DMA_LD, ROWS)), cols = uint64_t(ISA_GET(&in, DMA_LD, COLS));
    const uint64_t off = uint64_t(ISA_GET(&in, DMA_LD, OFF)), dstride = uint64_t(ISA_GET(&in, DMA_LD, DSTRIDE));
    const uint64_t sram = uint64_t(ISA_GET(&in, DMA_LD, SRAM)), sstride = uint64_t(ISA_GET(&in, DMA_LD, SSTRIDE));
    // The engine checks its own bounds too (the firmware has already): buffer, then DRAM, row by
    // row, the first row outside faults. The rows' starts only grow (the strides are unsigned), so
    // when the last row is inside everything is: the loop runs only to find a fault's row.
    const uint64_t last_start = off + (rows - 1) * dstride, last_sram = sram + (rows - 1) * sstride;
    const bool all_inside = rows == 0 || (last_start + cols <= cmd.dram_limit &&
                                          cmd.dram_base + last_start + cols <= cfg_.dram.size_bytes &&
                                          last_sram + cols <= sram_.size());
    for (uint64_t r = 0; !all_inside && r < rows; r++) {
        uint64_t start = off + r * dstride;
        if (start + cols > cmd.dram_limit || cmd.dram_base + start + cols > cfg_.dram.size_bytes) {
            report_fault(u, NPU_FAULT_DMA_OOB, cmd.dram_base + start, cmd.index);
            return false;
        }
        if (sram + r * sstride + cols > sram_.size()) {
            report_fault(u, NPU_FAULT_SRAM_OVERFLOW, sram + r * sstride, cmd.index);
            return false;
        }
    }
    const uint64_t burst = cfg_.dram.burst_bytes;
    // Rows that lie in the on-chip memory at the top of the address space (npu.dram.onchip_bytes)
    // never reach the DRAM interface; a row that crosses into it is charged as DRAM.
    const uint64_t onchip_base = cfg_.dram.size_bytes - cfg_.dram.onchip_bytes;
    uint64_t onchip_rows = 0;
    if (cfg_.dram.onchip_bytes && rows) {
        const uint64_t first = cmd.dram_base + off; // row r starts at first + r * dstride
        if (first >= onchip_base)
            onchip_rows = rows;
        else if (dstride) // rows from ceil((onchip_base - first) / dstride) on
            onchip_rows = rows - std::min(rows, ceil_div(onchip_base - first, dstride));
    }
    const uint64_t dram_rows = rows - onchip_rows;
    const uint64_t charged = dram_rows * ceil_div(cols, burst) * burst;
    uint64_t epoch = abort_epoch_;
    if (!busy_wait(u, cfg_.dma.setup_cycles))
        return false;
    // The SRAM side moves rows * cols bytes alongside the DRAM transfer, no faster than DRAM
    // delivers (or takes) them; the on-chip rows move at the SRAM banks' rate after them (a
    // transfer of no rows waits the DRAM's latency, as it always has).
    if (dram_rows || !onchip_rows) {
        SramModel::Request sram_req;
        sram_req.owner = u;
        sram_req.done = &units_[u].sram_done;
        sram_model_.begin(sram_req, dram_rows * cols, dram_model_.bw_fx());
        if (!busy_wait(u, dram_model_.latency_cycles())) { // the first-byte latency
            sram_model_.withdraw(sram_req);
            return false;
        }
        sc_time t0 = sim_now();
        units_[u].waits_dram = true;
        bool served = dram_model_.transfer(charged, units_[u].current_seq, units_[u].dram_done);
        units_[u].waits_dram = false;
        units_[u].ctr[NPU_CTR_BUSY] += to_cycles(sim_now() - t0);
        if (!served || epoch != abort_epoch_) {
            sram_model_.withdraw(sram_req);
            return false;
        }
        if (!sram_wait(u, sram_req))
            return false;
    }
    if (onchip_rows) {
        SramModel::Request onchip_req;
        onchip_req.owner = u;
        onchip_req.done = &units_[u].sram_done;
        sram_model_.begin(onchip_req, onchip_rows * cols, sram_model_.bw_fx());
        if (!sram_wait(u, onchip_req))
            return false;
    }
    auto &c = units_[u].ctr;
    c[load ? NPU_CTR_DRAM_RD : NPU_CTR_DRAM_WR] += charged;
    c[load ? NPU_CTR_SRAM_WR : NPU_CTR_SRAM_RD] += rows * cols;
    // the on-chip memory's side of its rows (the energy model charges SRAM bytes for them)
    c[load ? NPU_CTR_SRAM_RD : NPU_CTR_SRAM_WR] += onchip_rows * cols;
    if (cmd.flags & HAL_CMD_TIMING_ONLY)
        return true;
    for (uint64_t r = 0; r < rows; r++) {
        uint8_t *d = dram_ + cmd.dram_base + off + r * dstride;
        uint8_t *s = sram_.data() + sram + r * sstride;
        if (load)
            std::memcpy(s, d, cols);
        else
            std::memcpy(d, s, cols);
    }
    return true;
}

// Bytes a v.mov moves through the banks: rows * cols elements each way, not the span its strides
// cover.
static uint64_t vmov_bytes(const isa_insn &in)
{
    uint64_t elem_bytes = uint64_t(1) << ISA_GET(&in, VMOV, ESZ);
    return 2 * uint64_t(ISA_GET(&in, VMOV, ROWS)) * uint64_t(ISA_GET(&in, VMOV, COLS)) * elem_bytes;
}

uint64_t Device::count_sram(unsigned u, const isa_insn &in, uint32_t mm_bias)
{
    isa_sram_range r[ISA_MAX_SRAM_RANGES];
    int n = isa_sram_ranges(&in, &mm_bias, r);
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        units_[u].ctr[r[i].write ? NPU_CTR_SRAM_WR : NPU_CTR_SRAM_RD] += r[i].len;
        bytes += r[i].len;
    }
    return in.op == ISA_OP_VMOV ? vmov_bytes(in) : bytes;
}

// Bytes an instruction moves through the SRAM's banks: its footprint, except a v.mov's.
uint64_t Device::sram_bytes(const isa_insn &in, uint32_t mm_bias) const
{
    if (in.op == ISA_OP_VMOV)
        return vmov_bytes(in);
    isa_sram_range r[ISA_MAX_SRAM_RANGES];
    int n = isa_sram_ranges(&in, &mm_bias, r);
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += r[i].len;
    return bytes;
}

bool Device::exec_compute(unsigned u, const hal_cmd &cmd)
{
    const isa_insn &in = cmd.insn;
    uint64_t latency = fast_cycles(in, cfg_);
    auto &c = units_[u].ctr;
    isa_exec_ctx &ctx = u == NPU_UNIT_MM ? mm_ctx_ : unit_ctx_; // only the matmul tile keeps state
    ctx.sram = sram_.data();
    ctx.sram_bytes = static_cast<uint32_t>(sram_.size());
    switch (in.op) {
    case ISA_OP_MM: {
        uint64_t macs = uint64_t(ISA_GET(&in, MM, M)) * uint64_t(ISA_GET(&in, MM, N)) * uint64_t(ISA_GET(&in, MM, K));
        c[NPU_CTR_MACS] += macs;
        if (ISA_GET(&in, MM, WT) == ISA_WT_I4)
            c[NPU_CTR_MACS_INT4] += macs;
        if (ISA_GET(&in, MM, RQ) == ISA_RQ_ON) // the output stage's elements
            c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, MM, M)) * uint64_t(ISA_GET(&in, MM, N));
        break;
    }
    case ISA_OP_SM: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, SM, ROWS)) * uint64_t(ISA_GET(&in, SM, LEN)); break;
    case ISA_OP_VBIN: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, VBIN, ROWS)) * uint64_t(ISA_GET(&in, VBIN, COLS)); break;
    case ISA_OP_VUN: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, VUN, ROWS)) * uint64_t(ISA_GET(&in, VUN, COLS)); break;
    case ISA_OP_VRED: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, VRED, ROWS)) * uint64_t(ISA_GET(&in, VRED, COLS)); break;
    case ISA_OP_VNORM: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, VNORM, ROWS)) * uint64_t(ISA_GET(&in, VNORM, COLS)); break;
    case ISA_OP_VQUANT: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, VQUANT, N)); break;
    case ISA_OP_VDEQUANT: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, VDEQUANT, N)); break;
    case ISA_OP_VCVT: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, VCVT, N)); break;
    case ISA_OP_VMOV: c[NPU_CTR_ELEMS] += uint64_t(ISA_GET(&in, VMOV, ROWS)) * uint64_t(ISA_GET(&in, VMOV, COLS)); break;
    default: break;
    }
    const uint64_t bytes = count_sram(u, in, mm_ctx_.mm_bias);
    // rtl mode: the Verilated tile computes the result now and its measured cycles are the
    // latency (so its effect lands at issue, not at completion: the same for any correctly
    // synchronised program). One timed wait per instruction either way.
    TileRtlBase *rtl = u == NPU_UNIT_MM ? static_cast<TileRtlBase *>(mm_rtl_.get())
                     : u == NPU_UNIT_SM ? static_cast<TileRtlBase *>(sm_rtl_.get())
                                        : nullptr;
    if (rtl) {
        uint64_t measured = 0;
        rtl->align(now_cycles()); /* its waveform starts at the device's cycle of issue */
        tile_rtl_status st = u == NPU_UNIT_MM ? mm_rtl_->execute(in, ctx, &measured) : sm_rtl_->execute(in, ctx, &measured);
        if (st != TILE_RTL_OK) {
            report_fault(u, st == TILE_RTL_E_SRAM ? NPU_FAULT_SRAM_OVERFLOW : NPU_FAULT_UNIT, 0, cmd.index);
            return false;
        }
        return compute_wait(u, measured, sram_bytes(in, mm_ctx_.mm_bias)); // after the tile's effect, as always
    }
    if (!compute_wait(u, latency, bytes))
        return false;
    if ((cmd.flags & HAL_CMD_TIMING_ONLY) && in.op != ISA_OP_MM_CFG)
        return true;
    isa_error err;
    isa_status st = isa_exec(&ctx, &in, &err);
    if (st != ISA_OK) {
        report_fault(u, st == ISA_E_LIMIT ? NPU_FAULT_SRAM_OVERFLOW : NPU_FAULT_UNIT, 0, cmd.index);
        return false;
    }
    return true;
}

} // namespace m4npu
