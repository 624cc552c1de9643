// op_memo.cpp -- a simulation fast-forward: each timing-only op's span, simulated once.
//
// The runtime's segment memo (runtime/npu/npu_memo.c) skips a job whose descriptors all repeat;
// a prefill or decode job spans layer boundaries at different ops, so the 32 identical layers of
// LLaMA-7B were still simulated 32 times, op after op. This memo works one level down, in the
// device, on the same argument: with npu.overlap off the firmware drains the units after every
// op (firmware/src/ops/fw_ops.c), and a drained device is idle -- every queue empty, no DRAM or
// SRAM request active (their models' advance() after an idle gap is the same for any gap) -- so
// what an op does from the firmware's hal_op_replay() to the end of its drain (its span, the
// growth of every counter, the dispatch numbers it used, the state it leaves) is a function of:
//   - its descriptor, with every place in memory normalised as npu_memo.c does: buffer indices
//     and offsets zeroed, except a buffer split by the on-chip memory's boundary (then the
//     offset and where the boundary falls stay: they decide which side each DMA row is on); the
//     attention mask's buffer and offset (iattr[3], lattr[0]) likewise;
//   - the device configuration (the memo is emptied when a device opens with another one);
//   - the state that survives a drain and that timing reads: the control core's clock carry
//     (spend_carry_, non-zero only with a non-whole npu/ctrl ratio), the semaphores, the matmul
//     tile's mm.cfg registers (executed in timing-only runs), and the instructions' flags.
// Each of those is in the key, and a replay restores their values at the op's end. Nothing is
// remembered when a result could depend on more: RTL tiles (their cycles are measured), an
// instruction hook (traces record every instruction), a fault, a reset or an abort during the op.
// One replay is one control-core wait of the span (a reset during it returns HAL_RESET, as a
// spend would); what the host observes between the op's start and end (a run budget that
// expires inside it) is the state at the op's start plus time, not the op's partial progress.
#include "device.h"

#include <cstdlib>
#include <cstring>

#include <xxhash.h>

extern "C" {
#include "npu_sim.h"
}

using namespace sc_core;

namespace m4npu {

namespace {
// Where a job buffer lies against the on-chip memory: wholly off chip, wholly on, or split at
// this many bytes into it (0 < split < its size).
constexpr uint64_t kOffChip = UINT64_MAX;
constexpr uint64_t kOnChip = 0;
constexpr uint64_t kNoPlace = UINT64_MAX - 1; // the reference names no buffer of the job

// The process-wide switch (npu_sim_set_op_memo), on unless M4NPU_OP_MEMO=0 or off, read once.
int g_enabled = -1; // -1: not read yet
uint64_t g_generation = 0; // turning the memo off empties it: the device sees a new generation
uint64_t g_replayed = 0, g_simulated = 0;

bool enabled()
{
    if (g_enabled < 0)
        g_enabled = env_switch_on("M4NPU_OP_MEMO");
    return g_enabled != 0;
}
} // namespace

// ------------------------------------------------------------------ the table

const OpMemoEntry *OpMemo::find(uint64_t hash, const OpMemoKey &key) const
{
    auto range = index_.equal_range(hash);
    for (auto it = range.first; it != range.second; ++it) {
        const OpMemoEntry &e = entries_[it->second];
        if (std::memcmp(&e.key, &key, sizeof key) == 0)
            return &e;
    }
    return nullptr;
}

void OpMemo::add(uint64_t hash, const OpMemoEntry &e)
{
    if (entries_.size() >= kMaxEntries || find(hash, e.key))
        return; // a memo that cannot grow only costs time
    entries_.push_back(e);
    index_.emplace(hash, entries_.size() - 1);
}

void OpMemo::clear()
{
    entries_.clear();
    index_.clear();
}

bool OpMemo::same_config(const npu_device_config &cfg) const
{
    return has_cfg_ && std::memcmp(&cfg_, &cfg, sizeof cfg) == 0;
}

void OpMemo::set_config(const npu_device_config &cfg)
{
    std::memcpy(&cfg_, &cfg, sizeof cfg);
    has_cfg_ = true;
}

// ------------------------------------------------------------------ the device's side

void Device::op_memo_open(const npu_device_config &cfg)
{
    op_pending_.active = false;
    if (!op_memo_.same_config(cfg)) { // the modules of one what-if share a configuration
        op_memo_.clear();
        op_memo_.set_config(cfg);
    }
}

bool Device::units_idle() const
{
    for (unsigned u = 0; u < NPU_UNIT_CTRL; u++)
        if (units_[u].has_current || !units_[u].queue.empty())
            return false;
    return true;
}

bool Device::op_memo_usable() const
{
    return enabled() && open_ && !mm_rtl_ && !sm_rtl_ && !insn_hook_ && !fault_pending_ && !reset_pending_ &&
           units_idle();
}

OpMemoState Device::op_memo_state() const
{
    OpMemoState st;
    st.spend_carry = spend_carry_;
    std::copy(sems_.begin(), sems_.end(), st.sems.begin());
    st.mm_bias = mm_ctx_.mm_bias;
    st.mm_scale = mm_ctx_.mm_scale;
    st.mm_shift = mm_ctx_.mm_shift;
    return st;
}

void Device::op_memo_restore(const OpMemoState &st)
{
    spend_carry_ = st.spend_carry;
    std::copy(st.sems.begin(), st.sems.end(), sems_.begin());
    mm_ctx_.mm_bias = st.mm_bias;
    mm_ctx_.mm_scale = st.mm_scale;
    mm_ctx_.mm_shift = st.mm_shift;
}

uint64_t Device::op_memo_key(const npu_op_desc &op, const npu_buf_entry *bufs, uint32_t nbufs, uint32_t cmd_flags,
                             OpMemoKey &key) const
{
    key = OpMemoKey{}; // it has no padding (device.h): keys are compared and hashed as bytes
    key.op = op;
    const uint64_t onchip = cfg_.dram.onchip_bytes, base = cfg_.dram.size_bytes - onchip;
    auto place_of = [&](uint32_t buf) -> uint64_t {
        if (buf >= nbufs)
            return kNoPlace;
        if (!onchip)
            return kOffChip;
        const npu_buf_entry &b = bufs[buf];
        if (b.addr >= base)
            return kOnChip;
        if (b.size > base - b.addr)
            return base - b.addr; // split: the boundary this far into it
        return kOffChip;
    };
    auto split = [](uint64_t place) { return place != kOffChip && place != kOnChip && place != kNoPlace; };
    npu_tensor_ref *refs[NPU_OP_MAX_INPUTS + 1] = {&key.op.in[0], &key.op.in[1], &key.op.in[2], &key.op.out};
    for (int k = 0; k < NPU_OP_MAX_INPUTS + 1; k++) {
        npu_tensor_ref &r = *refs[k];
        key.place[k][0] = place_of(r.buf);
        key.place[k][1] = place_of(r.scales_buf);
        if (!split(key.place[k][0]))
            r.offset = 0;
        if (!split(key.place[k][1]))
            r.scales_offset = 0;
        r.buf = r.buf == NPU_NO_BUFFER ? NPU_NO_BUFFER : 0;
        r.scales_buf = r.scales_buf == NPU_NO_BUFFER ? NPU_NO_BUFFER : 0;
    }
    key.mask_place = kNoPlace;
    if (op.op == NPU_OP_ATTENTION && op.iattr[2] == NPU_ATTN_MASK_ADD) { // the mask's place is in the attributes
        key.mask_place = place_of(static_cast<uint32_t>(op.iattr[3]));
        key.op.iattr[3] = 0;
        if (!split(key.mask_place))
            key.op.lattr[0] = 0;
    }
    key.cmd_flags = cmd_flags;
    key.state = op_memo_state();
    return XXH3_64bits(&key, sizeof key);
}

hal_status Device::op_replay(const npu_op_desc &op, const npu_buf_entry *bufs, uint32_t nbufs, uint32_t cmd_flags,
                             int *replayed, uint64_t *fw_insns)
{
    *replayed = 0;
    *fw_insns = 0;
    op_pending_.active = false;
    if (reset_pending_)
        return HAL_RESET;
    if (!op_memo_usable() || !(cmd_flags & HAL_CMD_TIMING_ONLY) || cfg_.overlap == NPU_ON)
        return HAL_OK;
    if (op_memo_generation_ != g_generation) { // turned off and on since the last op: forget
        op_memo_.clear();
        op_memo_generation_ = g_generation;
    }
    OpMemoPending &p = op_pending_;
    p.hash = op_memo_key(op, bufs, nbufs, cmd_flags, p.key);
    const OpMemoEntry *e = op_memo_.find(p.hash, p.key);
    if (!e) { // simulate it, and remember it at its end (op_remember)
        p.active = true;
        p.t0 = sim_now();
        p.progress0 = last_progress_;
        for (unsigned u = 0; u < NPU_UNIT_COUNT; u++)
            for (unsigned c = 0; c < NPU_CTR_COUNT; c++)
                p.ctr[u][c] = units_[u].ctr[c];
        p.dispatch0 = dispatch_seq_;
        p.abort_epoch0 = abort_epoch_;
        g_simulated++;
        return HAL_OK;
    }
    const OpMemoEntry entry = *e; // a copy: nothing the host does during the wait can pull it away
    if (entry.span && !ctrl_wait(cycles(entry.span)))
        return HAL_RESET;
    for (unsigned u = 0; u < NPU_UNIT_COUNT; u++)
        for (unsigned c = 0; c < NPU_CTR_COUNT; c++)
            units_[u].ctr[c] += entry.ctr[u][c]; // NPU_CTR_IDLE is derived from time (perf_counter)
    dispatch_seq_ += entry.dispatched;
    if (entry.progressed)
        last_progress_ = sim_now() - entry.progress_before_end;
    op_memo_restore(entry.end);
    *replayed = 1;
    *fw_insns = entry.fw_insns;
    g_replayed++;
    return HAL_OK;
}

void Device::op_remember(uint64_t fw_insns)
{
    OpMemoPending &p = op_pending_;
    if (!p.active)
        return;
    p.active = false;
    // a fault, a reset or an abort since the op began, or units still busy: not a clean span
    if (!op_memo_usable() || abort_epoch_ != p.abort_epoch0)
        return;
    OpMemoEntry e;
    e.key = p.key;
    const sc_time now = sim_now();
    e.span = to_cycles(now - p.t0);
    for (unsigned u = 0; u < NPU_UNIT_COUNT; u++)
        for (unsigned c = 0; c < NPU_CTR_COUNT; c++)
            e.ctr[u][c] = units_[u].ctr[c] - p.ctr[u][c];
    e.dispatched = dispatch_seq_ - p.dispatch0;
    e.progressed = last_progress_ != p.progress0;
    e.progress_before_end = e.progressed ? now - last_progress_ : SC_ZERO_TIME;
    e.fw_insns = fw_insns;
    e.end = op_memo_state();
    op_memo_.add(p.hash, e);
}

} // namespace m4npu

extern "C" {

void npu_sim_set_op_memo(int on)
{
    m4npu::g_enabled = on ? 1 : 0;
    if (!on)
        m4npu::g_generation++;
}

void npu_sim_op_memo_counts(uint64_t *replayed, uint64_t *simulated)
{
    if (replayed)
        *replayed = m4npu::g_replayed;
    if (simulated)
        *simulated = m4npu::g_simulated;
}

} // extern "C"
