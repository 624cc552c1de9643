// device.cpp -- the NPU module: open/close, registers and interrupt, the control core that runs
// the firmware, and the HAL services the firmware calls (queues, watchdog, time, doorbell).
// Unit execution is in units.cpp, the DRAM bandwidth model in dram.cpp.
#include "device.h"


#include <cerrno>
#include <cmath>
#include <cstring>

#include <sys/mman.h>

extern "C" {
#include "npu_config.h"
#include "npu_sim.h"
}

using namespace sc_core;

namespace m4npu {

namespace {
// The control core's run-ahead (Device::spend_push): on unless M4NPU_RUN_AHEAD=0 or off, read
// once; npu_sim_set_run_ahead sets it. Counts of dispatches that ran ahead or waited.
int g_run_ahead = -1; // -1: not read yet
uint64_t g_ran_ahead = 0, g_waited = 0;

bool run_ahead_enabled()
{
    if (g_run_ahead < 0)
        g_run_ahead = env_switch_on("M4NPU_RUN_AHEAD");
    return g_run_ahead != 0;
}

constexpr int kMaxSettleDeltas = 100000; // a zero-time loop this long is a model bug
constexpr size_t kControlStackBytes = 8u << 20; // the firmware runs on this stack (ASan needs room)
constexpr size_t kUnitStackBytes = 1u << 20;
constexpr uint64_t kMaxSramBytesPerCycle = 1ull << 32; // 4 GiB per cycle: beyond any SRAM, no fixed-point overflow
} // namespace

// Run every delta cycle pending at the current time. A notification made by the host (outside
// the kernel) wakes its waiter only in the delta after it, so one sc_start(SC_ZERO_TIME) is not
// enough: loop until nothing is left to do at this time.
static void settle()
{
    for (int i = 0; i < kMaxSettleDeltas; i++) {
        sc_start(SC_ZERO_TIME);
        if (!sc_pending_activity_at_current_time())
            return;
    }
}

bool ZeroedMemory::allocate(size_t bytes)
{
    release();
    if (bytes == 0)
        return true;
    void *mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        return false;
    mem_ = static_cast<uint8_t *>(mem);
    bytes_ = bytes;
    return true;
}

void ZeroedMemory::zero()
{
    if (mem_ && madvise(mem_, bytes_, MADV_DONTNEED) != 0)
        std::memset(mem_, 0, bytes_); // cannot happen for a private anonymous mapping; stay correct anyway
}

void ZeroedMemory::release()
{
    if (mem_)
        munmap(mem_, bytes_);
    mem_ = nullptr;
    bytes_ = 0;
}

Device::Device(sc_module_name name) : sc_module(name)
{
    progress_or_reset_ |= progress_;
    progress_or_reset_ |= reset_ev_;
    progress_or_reset_ |= watchdog_ev_;
    doorbell_or_reset_ |= doorbell_;
    doorbell_or_reset_ |= reset_ev_;
    for (unsigned u = 0; u < NPU_UNIT_CTRL; u++) {
        Unit &U = units_[u];
        U.push_wait |= U.space;
        U.push_wait |= reset_ev_;
        U.push_wait |= fault_ev_;
        U.push_wait |= watchdog_ev_;
    }
    sc_spawn_options ctrl;
    ctrl.set_stack_size(kControlStackBytes);
    sc_spawn([this] { control_thread(); }, "control", &ctrl);
    for (unsigned u = 0; u < NPU_UNIT_CTRL; u++) {
        sc_spawn_options opt;
        opt.set_stack_size(kUnitStackBytes);
        sc_spawn([this, u] { unit_thread(u); }, ("unit" + std::to_string(u)).c_str(), &opt);
    }
    sc_spawn_options dram_opt;
    dram_opt.spawn_method();
    dram_opt.dont_initialize();
    dram_opt.set_sensitivity(&dram_model_.next_);
    sc_spawn([this] { dram_method(); }, "dram", &dram_opt);
    sc_spawn_options sram_opt;
    sram_opt.spawn_method();
    sram_opt.dont_initialize();
    sram_opt.set_sensitivity(&sram_model_.next_);
    sc_spawn([this] { sram_method(); }, "sram", &sram_opt);
}

Device::~Device()
{
    if (dram_)
        npu_dram_unmap(dram_, dram_mapped_);
}

// ------------------------------------------------------------------ open / close

bool Device::open(const npu_device_config &cfg, std::string &err)
{
    if (open_) {
        err = "a device is already open in this process (SystemC elaborates one device per process)";
        return false;
    }
    char msg[256];
    if (npu_config_check(&cfg, msg, sizeof msg) != 0) {
        err = msg;
        return false;
    }
    if (!open_rtl_tiles(cfg, err))
        return false;
    if (!sram_.allocate(cfg.sram.size_bytes)) {
        err = "npu.sram.size_bytes: " + std::to_string(cfg.sram.size_bytes) +
              " bytes cannot be mapped on this host (" + std::strerror(errno) + ")";
        return false;
    }
    void *mem = npu_dram_map(cfg.dram.size_bytes, msg, sizeof msg); // as npu_config_check_host does
    if (!mem) {
        sram_.release();
        err = msg;
        return false;
    }
    if (dram_)
        npu_dram_unmap(dram_, dram_mapped_);
    dram_ = static_cast<uint8_t *>(mem);
    dram_mapped_ = cfg.dram.size_bytes;
    cfg_ = cfg;

    info_ = hal_device_info{};
    info_.dram_bytes = cfg.dram.size_bytes;
    info_.sram_bytes = static_cast<uint32_t>(cfg.sram.size_bytes);
    info_.dma_channels = cfg.dma.channels;
    info_.mm_rows = cfg.matmul.rows;
    info_.mm_cols = cfg.matmul.cols;
    info_.mm_out_stage = cfg.matmul.output_stage.enabled;
    info_.mm_out_lanes = cfg.matmul.output_stage.lanes;
    info_.sm_lanes = cfg.softmax.lanes;
    info_.sm_max_len = cfg.softmax.max_len;
    info_.vec_lanes = cfg.vector.lanes;
    info_.queue_depth = cfg.queue_depth;
    info_.watchdog_cycles = cfg.watchdog_cycles;
    info_.cycles_per_insn = cfg.control.cycles_per_insn;
    info_.cycles_per_job = cfg.control.cycles_per_job;
    info_.fused_attention = cfg.fused_attention == NPU_ON ? 1u : 0u;
    info_.overlap_ops = cfg.overlap == NPU_ON ? 1u : 0u;

    // DRAM: sustained bytes per NPU cycle in 16.16 fixed point; latency rounded up to cycles.
    double bytes_per_cycle = cfg.dram.bandwidth_gb_s * 1e9 * cfg.dram.efficiency / (cfg.clock_mhz * 1e6);
    uint64_t bw_fx = static_cast<uint64_t>(std::llround(bytes_per_cycle * (1 << DramModel::kFracBits)));
    dram_model_.configure(bw_fx ? bw_fx : 1, static_cast<uint64_t>(std::ceil(cfg.dram.latency_ns * cfg.clock_mhz / 1000.0)));
    // SRAM: every bank moves bank_width_bytes per NPU cycle (clamped far above any real SRAM so
    // that the fixed-point arithmetic cannot overflow).
    uint64_t sram_bytes_per_cycle = std::min<uint64_t>(uint64_t(cfg.sram.banks) * cfg.sram.bank_width_bytes,
                                                       kMaxSramBytesPerCycle);
    sram_model_.configure(sram_bytes_per_cycle << SramModel::kFracBits);
    npu_khz_ = static_cast<uint64_t>(std::llround(cfg.clock_mhz * 1000.0));
    ctrl_khz_ = static_cast<uint64_t>(std::llround(cfg.control.clock_mhz * 1000.0));
    spend_carry_ = 0;
    // Most configurations clock the NPU at a whole multiple of the control core (2:1): then a
    // spend is a multiplication, not a division per instruction (npu_cycles_of).
    npu_per_ctrl_ = npu_khz_ % ctrl_khz_ == 0 ? npu_khz_ / ctrl_khz_ : 0;
    max_exact_spend_ = (UINT64_MAX - ctrl_khz_) / npu_khz_;

    regs_.fill(0);
    for (Unit &u : units_)
        u.ctr.fill(0);
    epoch_ = sim_now();
    op_memo_open(cfg);
    open_ = true;
    reset_pending_ = true; // a firmware still running from an earlier open unwinds and reboots
    notify_reset();
    open_ev_.notify(SC_ZERO_TIME);
    settle(); // boot: the firmware runs until it waits for the doorbell
    return true;
}

void Device::close()
{
    if (!open_)
        return;
    open_ = false;
    insn_hook_ = nullptr; // the units unwind below; nobody listens any more
    reset_pending_ = true;
    notify_reset();
    abort_units();
    settle(); // let the firmware and the units unwind
    if (dram_) {
        npu_dram_unmap(dram_, dram_mapped_);
        dram_ = nullptr;
        dram_mapped_ = 0;
    }
    sram_.release();
    mm_rtl_.reset();
    sm_rtl_.reset();
}

bool Device::open_rtl_tiles(const npu_device_config &cfg, std::string &err)
{
    mm_rtl_.reset();
    sm_rtl_.reset();
    std::string msg;
    const npu_matmul_config &mm = cfg.matmul;
    if (mm.impl == NPU_IMPL_RTL && !(mm_rtl_ = MmTileRtl::create(mm.rows, mm.cols, mm.output_stage.lanes, &msg))) {
        err = "npu.matmul.impl: " + msg;
        return false;
    }
    if (cfg.softmax.impl == NPU_IMPL_RTL && !(sm_rtl_ = SmTileRtl::create(cfg.softmax.lanes, cfg.softmax.max_len, &msg))) {
        err = "npu.softmax.impl: " + msg;
        mm_rtl_.reset();
        return false;
    }
    /* a waveform's time is the device's: picoseconds of the NPU clock */
    if (mm_rtl_)
        mm_rtl_->set_clock(cfg.clock_mhz);
    if (sm_rtl_)
        sm_rtl_->set_clock(cfg.clock_mhz);
    return true;
}

uint64_t Device::now_cycles() const { return to_cycles(sim_now() - epoch_); }

bool Device::run(uint64_t max_cycles)
{
    if (irq_ && max_cycles > 0)
        return true; // a zero budget still settles zero-time activity (a reset, a doorbell)
    host_waiting_ = true;
    if (max_cycles) {
        const sc_time budget = cycles(max_cycles), now = sim_now();
        run_until_ = budget < sc_max_time() - now ? now + budget : sc_max_time();
        sc_start(budget);
    } else {
        settle();
    }
    run_until_ = SC_ZERO_TIME; // the control core runs ahead only inside a timed run
    host_waiting_ = false;
    return irq_;
}

// VCD of the RTL tiles: the matmul tile's waveform to mm_path, the softmax tile's to sm_path;
// both NULL stops tracing and closes the files, reporting a write that failed meanwhile.
int Device::trace_vcd(const char *mm_path, const char *sm_path, std::string &err)
{
    if (!mm_path && !sm_path) {
        std::string why;
        if (mm_rtl_ && mm_rtl_->trace_vcd_stop() != TILE_RTL_OK)
            why = mm_rtl_->message();
        if (sm_rtl_ && sm_rtl_->trace_vcd_stop() != TILE_RTL_OK && why.empty())
            why = sm_rtl_->message();
        if (why.empty())
            return NPU_SIM_OK;
        err = why;
        return NPU_SIM_E_IO;
    }
    if (mm_path && !mm_rtl_) {
        err = "npu.matmul.impl is fast: there is no matmul tile waveform (use rtl)";
        return NPU_SIM_E_CONFIG;
    }
    if (sm_path && !sm_rtl_) {
        err = "npu.softmax.impl is fast: there is no softmax tile waveform (use rtl)";
        return NPU_SIM_E_CONFIG;
    }
    if (mm_path && mm_rtl_->trace_vcd(mm_path) != TILE_RTL_OK) {
        err = mm_rtl_->message();
        return NPU_SIM_E_IO;
    }
    if (sm_path && sm_rtl_->trace_vcd(sm_path) != TILE_RTL_OK) {
        err = sm_rtl_->message();
        if (mm_path)
            mm_rtl_->trace_vcd_stop();
        return NPU_SIM_E_IO;
    }
    return NPU_SIM_OK;
}

// ------------------------------------------------------------------ registers

uint32_t Device::mmio_read(uint32_t off)
{
    if (off % 4 != 0 || off >= NPU_MMIO_BYTES)
        return 0;
    switch (off) {
    case NPU_REG_ID: return NPU_DEVICE_ID;
    case NPU_REG_HW_VERSION: return NPU_HW_VERSION;
    case NPU_REG_CYCLE_LO: return static_cast<uint32_t>(now_cycles());
    case NPU_REG_CYCLE_HI: return static_cast<uint32_t>(now_cycles() >> 32);
    default: break;
    }
    if (off >= NPU_REG_UNIT_STATE(0) && off < NPU_REG_UNIT_STATE(NPU_UNIT_CTRL))
        return unit_register(off);
    if (off >= NPU_REG_PERF_BASE) {
        uint32_t idx = (off - NPU_REG_PERF_BASE) / 8;
        uint64_t v = perf_counter(idx / NPU_CTR_COUNT, idx % NPU_CTR_COUNT);
        return (off - NPU_REG_PERF_BASE) % 8 ? static_cast<uint32_t>(v >> 32) : static_cast<uint32_t>(v);
    }
    return regs_[off / 4];
}

uint64_t Device::perf_counter(uint32_t unit, uint32_t ctr) const
{
    const auto &c = units_[unit].ctr;
    if (ctr != NPU_CTR_IDLE)
        return c[ctr];
    uint64_t used = c[NPU_CTR_BUSY] + c[NPU_CTR_STALL], now = now_cycles();
    return now > used ? now - used : 0;
}

void Device::perf_read(uint64_t out[NPU_UNIT_COUNT][NPU_CTR_COUNT]) const
{
    for (uint32_t u = 0; u < NPU_UNIT_COUNT; u++)
        for (uint32_t k = 0; k < NPU_CTR_COUNT; k++)
            out[u][k] = perf_counter(u, k);
}

// NPU_REG_UNIT_STATE / NPU_REG_UNIT_INSN of a unit, from its live state.
uint32_t Device::unit_register(uint32_t off) const
{
    const Unit &u = units_[(off - NPU_REG_UNIT_BASE) / 8];
    bool insn = (off - NPU_REG_UNIT_BASE) % 8 != 0;
    uint32_t state = NPU_UNIT_STATE_IDLE, index = 0;
    if (u.has_current) {
        state = u.stalled ? NPU_UNIT_STATE_STALLED : NPU_UNIT_STATE_BUSY;
        index = u.current;
    } else if (!u.queue.empty()) {
        state = NPU_UNIT_STATE_BUSY;
        index = u.queue.front().index;
    }
    return insn ? index : state;
}

void Device::mmio_write(uint32_t off, uint32_t value)
{
    if (off % 4 != 0 || off >= NPU_REG_PERF_BASE)
        return;
    switch (off) {
    case NPU_REG_DOORBELL:
        doorbell_pending_ = true;
        doorbell_.notify(SC_ZERO_TIME);
        return;
    case NPU_REG_IRQ_ACK:
        regs_[NPU_REG_IRQ_STATUS / 4] &= ~value;
        update_irq();
        return;
    case NPU_REG_IRQ_MASK:
        regs_[off / 4] = value;
        update_irq();
        return;
    case NPU_REG_RESET:
        if (value != NPU_RESET_MAGIC)
            return;
        reset_pending_ = true;
        notify_reset();
        notify_abort();
        return;
    case NPU_REG_CQ_BASE_LO: case NPU_REG_CQ_BASE_HI: case NPU_REG_CQ_SIZE: case NPU_REG_CQ_TAIL:
    case NPU_REG_LOG_BASE_LO: case NPU_REG_LOG_BASE_HI: case NPU_REG_LOG_SIZE:
        regs_[off / 4] = value;
        return;
    default:
        return; // read-only for the host
    }
}

void Device::update_irq()
{
    bool line = (regs_[NPU_REG_IRQ_STATUS / 4] & regs_[NPU_REG_IRQ_MASK / 4]) != 0;
    irq_ = line;
    if (line && host_waiting_ && sc_is_running())
        sc_pause();
}

uint32_t Device::fw_reg_read(uint32_t reg) { return mmio_read(reg); }

void Device::fw_reg_write(uint32_t reg, uint32_t value)
{
    if (reg % 4 != 0 || reg >= NPU_REG_PERF_BASE)
        return;
    switch (reg) {
    case NPU_REG_ID: case NPU_REG_HW_VERSION: case NPU_REG_CYCLE_LO: case NPU_REG_CYCLE_HI: case NPU_REG_RESET:
        return; // hardware registers
    default:
        break;
    }
    if (reg >= NPU_REG_UNIT_STATE(0) && reg < NPU_REG_UNIT_STATE(NPU_UNIT_CTRL))
        return; // the units' live state
    regs_[reg / 4] = value;
    if (reg == NPU_REG_IRQ_STATUS)
        update_irq();
}

void Device::irq_raise(uint32_t bits)
{
    if (bits & NPU_IRQ_JOB_DONE)
        units_[NPU_UNIT_CTRL].ctr[NPU_CTR_JOBS]++;
    regs_[NPU_REG_IRQ_STATUS / 4] |= bits;
    update_irq();
}

int Device::mem_read(uint64_t addr, void *dst, size_t len)
{
    if (!dram_ || addr > cfg_.dram.size_bytes || len > cfg_.dram.size_bytes - addr)
        return -1;
    std::memcpy(dst, dram_ + addr, len);
    return 0;
}

int Device::mem_write(uint64_t addr, const void *src, size_t len)
{
    if (!dram_ || addr > cfg_.dram.size_bytes || len > cfg_.dram.size_bytes - addr)
        return -1;
    std::memcpy(dram_ + addr, src, len);
    return 0;
}

// ------------------------------------------------------------------ control core

void Device::hardware_reset()
{
    // Registers: everything clears but the queue and log configuration and the interrupt mask,
    // so jobs still in the queue run after the reset (npu_abi.h).
    // CQ_RUNNING and RUN_START too: the rebooted firmware completes the job they name as aborted.
    static const uint32_t kept[] = {NPU_REG_CQ_BASE_LO,   NPU_REG_CQ_BASE_HI,   NPU_REG_CQ_SIZE,
                                    NPU_REG_CQ_HEAD,      NPU_REG_CQ_TAIL,      NPU_REG_CQ_RUNNING,
                                    NPU_REG_RUN_START_LO, NPU_REG_RUN_START_HI, NPU_REG_LOG_BASE_LO,
                                    NPU_REG_LOG_BASE_HI,  NPU_REG_LOG_SIZE,     NPU_REG_LOG_HEAD,
                                    NPU_REG_IRQ_MASK};
    std::array<uint32_t, NPU_MMIO_BYTES / 4> saved{};
    for (uint32_t r : kept)
        saved[r / 4] = regs_[r / 4];
    regs_.fill(0);
    for (uint32_t r : kept)
        regs_[r / 4] = saved[r / 4];
    update_irq();
    abort_units();
    dram_model_.clear();
    sram_model_.clear();
    sram_.zero();
    mm_ctx_ = isa_exec_ctx{};
    if (mm_rtl_)
        mm_rtl_->reset(); // its output-stage registers, which mm_ctx_ mirrors
    doorbell_pending_ = false;
    reset_pending_ = false;
    ahead_ = SC_ZERO_TIME; // zero already: the control core waits only when it has caught up
}

void Device::control_thread()
{
    for (;;) {
        while (!open_)
            wait(open_ev_);
        hardware_reset();
        fw_main(&hal_); // returns when the device is reset or closed
        abort_units();
    }
}

// Control-core cycles to NPU cycles, carrying the remainder so that rounding never drifts.
uint64_t Device::npu_cycles_of(uint64_t control_cycles)
{
    // A whole ratio m: scaled = control_cycles * m * ctrl_khz_ + carry with carry < ctrl_khz_, so
    // the quotient is control_cycles * m and the carry stays (as long as scaled does not wrap).
    if (npu_per_ctrl_ && control_cycles <= max_exact_spend_)
        return control_cycles * npu_per_ctrl_;
    uint64_t scaled = control_cycles * npu_khz_ + spend_carry_;
    spend_carry_ = scaled % ctrl_khz_;
    return scaled / ctrl_khz_;
}

hal_status Device::spend(uint64_t control_cycles)
{
    if (sync_ahead() != HAL_OK || reset_pending_)
        return HAL_RESET;
    return spend_cycles(npu_cycles_of(control_cycles));
}

hal_status Device::spend_cycles(uint64_t n)
{
    if (n == 0)
        return HAL_OK;
    sc_time t0 = sim_now();
    ctrl_wait(cycles(n));
    units_[NPU_UNIT_CTRL].ctr[NPU_CTR_BUSY] += to_cycles(sim_now() - t0);
    return reset_pending_ ? HAL_RESET : HAL_OK;
}

hal_status Device::wait_doorbell()
{
    // The control core goes idle: the next job's firmware time starts from a whole cycle, so a
    // job's timing depends on its content alone, never on the jobs before it.
    spend_carry_ = 0;
    while (!doorbell_pending_) {
        if (reset_pending_)
            return HAL_RESET;
        wait(doorbell_or_reset_);
    }
    if (reset_pending_)
        return HAL_RESET;
    doorbell_pending_ = false;
    return HAL_OK;
}

// The watchdog's timer for `deadline`: armed only when none is pending or the pending one is
// later; one that fires earlier (armed by an earlier wait) wakes its waiter, which re-arms.
void Device::arm_watchdog(sc_time deadline)
{
    const sc_time now = sim_now();
    if (watchdog_at_ <= now || watchdog_at_ > deadline) { // none pending, or one for a longer watchdog
        watchdog_ev_.notify(deadline - now);
        watchdog_at_ = deadline;
    }
}

// Wait until some unit makes progress or reset_ev_ fires (true), or until `deadline` passes
// without either (false). Equivalent to wait(deadline - now, progress_ | reset_ev_), but the timer
// is the one watchdog notification (arm_watchdog). Its wake-ups change no state, so the device
// behaves exactly as with a fresh timeout per wait.
bool Device::wait_progress_or_deadline(sc_time deadline)
{
    for (;;) {
        arm_watchdog(deadline);
        waits_progress_ = true;
        wait(progress_or_reset_);
        waits_progress_ = false;
        if (!watchdog_ev_.triggered() || progress_.triggered() || reset_ev_.triggered())
            return true;
        if (sim_now() >= deadline)
            return false;
    }
}

// Wait until some unit makes progress. The watchdog: if nothing happens for watchdog_cycles
// while every unit with work is stalled on a semaphore (none is computing or moving data), the
// units are deadlocked and HAL_TIMEOUT is returned.
hal_status Device::wait_progress()
{
    for (;;) {
        if (reset_pending_)
            return HAL_RESET;
        if (fault_pending_)
            return HAL_FAULT;
        bool progressed = wait_progress_or_deadline(sim_now() + cycles(cfg_.watchdog_cycles));
        if (reset_pending_)
            return HAL_RESET;
        if (fault_pending_)
            return HAL_FAULT;
        if (progressed)
            return HAL_OK;
        bool working = false;
        for (unsigned u = 0; u < NPU_UNIT_CTRL; u++)
            working |= units_[u].has_current && !units_[u].stalled;
        if (!working)
            return HAL_TIMEOUT;
    }
}

hal_status Device::push(unsigned unit, const hal_cmd &cmd)
{
    if (unit >= NPU_UNIT_CTRL)
        return HAL_FAULT;
    Unit &u = units_[unit];
    for (;;) {
        if (reset_pending_)
            return HAL_RESET;
        if (fault_pending_)
            return HAL_FAULT;
        if (u.queue.size() < cfg_.queue_depth)
            break;
        hal_status st = wait_progress();
        if (st != HAL_OK)
            return st;
    }
    u.queue.push_back(cmd, dispatch_seq_++);
    if (u.waits_wake)
        u.wake.notify(SC_ZERO_TIME);
    units_[NPU_UNIT_CTRL].ctr[NPU_CTR_INSNS]++; // the control core's count: instructions dispatched
    return HAL_OK;
}

// spend(control_cycles), then push(unit, cmd), with the same times, counters and faults, in one
// wait instead of two when the unit's queue is full: the control core then sleeps until the
// queue has room (or a fault, a reset, the watchdog), not first until its cycles are spent and
// then again for every unit event until the queue has room. Room that comes before the spend is
// over: the rest of the spend, then the push, as after spend(). Room that comes after: the push
// at once, in the delta the same unit event woke push()'s wait. The watchdog runs as push()'s
// wait runs it: from the end of the spend, restarted by every unit event (last_progress_).
hal_status Device::spend_push(uint64_t control_cycles, unsigned unit, const hal_cmd &cmd)
{
    if (unit >= NPU_UNIT_CTRL || reset_pending_ || fault_pending_) {
        hal_status st = spend(control_cycles);
        return st != HAL_OK ? st : push(unit, cmd);
    }
    const uint64_t n = npu_cycles_of(control_cycles);
    if (units_[unit].queue.size() < cfg_.queue_depth) {
        // Run ahead: when nothing else can happen in the simulation before the spend is over,
        // the control core's time moves on without a wait, and the push is made at once if it
        // wakes nobody (the unit is busy; it looks at its queue only when it is woken, after
        // that time). What the push would wake waits for the control core's time to be the
        // simulation's (sync_ahead). Every unit, model and host sees the same times and the same
        // queue contents as with a wait per spend.
        if (run_ahead_enabled() && quiet_before(sim_now() + ahead_ + cycles(n))) {
            ahead_ += cycles(n);
            units_[NPU_UNIT_CTRL].ctr[NPU_CTR_BUSY] += n;
            if (units_[unit].waits_wake) {
                g_waited++;
                if (sync_ahead() != HAL_OK)
                    return HAL_RESET;
            } else {
                g_ran_ahead++;
            }
            return push(unit, cmd);
        }
        g_waited++;
        hal_status st = sync_ahead();
        if (st == HAL_OK)
            st = spend_cycles(n);
        return st != HAL_OK ? st : push(unit, cmd);
    }
    g_waited++;
    if (sync_ahead() != HAL_OK)
        return HAL_RESET;
    if (n == 0)
        return push(unit, cmd);
    Unit &U = units_[unit];
    uint64_t &busy = units_[NPU_UNIT_CTRL].ctr[NPU_CTR_BUSY];
    const sc_time t0 = sim_now(), end = t0 + cycles(n), watchdog = cycles(cfg_.watchdog_cycles);
    sc_time watch_from = end; // push()'s first wait for progress starts when the spend is over
    for (;;) {
        if (last_progress_ > watch_from)
            watch_from = last_progress_;
        arm_watchdog(watch_from + watchdog);
        U.waits_space = true;
        wait(U.push_wait);
        U.waits_space = false;
        const sc_time now = sim_now();
        if (reset_pending_) { // as spend() interrupted by the reset, or push() after it
            busy += to_cycles(std::min(now, end) - t0);
            return HAL_RESET;
        }
        const bool timer_only = watchdog_ev_.triggered() && !U.space.triggered() && !fault_ev_.triggered();
        if (now < end) {
            if (timer_only)
                continue; // a timer armed by an earlier wait: still spending
            ctrl_wait(end - now); // room or a fault during the spend: the rest of it
            busy += to_cycles(sim_now() - t0);
            if (reset_pending_)
                return HAL_RESET;
            return push(unit, cmd);
        }
        if (!timer_only) {
            busy += n;
            return push(unit, cmd);
        }
        if (last_progress_ > watch_from)
            watch_from = last_progress_;
        if (now < watch_from + watchdog)
            continue;
        bool working = false;
        for (unsigned v = 0; v < NPU_UNIT_CTRL; v++)
            working |= units_[v].has_current && !units_[v].stalled;
        if (!working) {
            busy += n;
            return HAL_TIMEOUT;
        }
        watch_from = now; // units still compute: push()'s wait waits another watchdog period
    }
}

hal_status Device::drain()
{
    for (;;) {
        if (reset_pending_)
            return HAL_RESET;
        if (fault_pending_)
            return HAL_FAULT;
        bool busy = false;
        for (unsigned u = 0; u < NPU_UNIT_CTRL; u++)
            busy |= units_[u].has_current || !units_[u].queue.empty();
        if (!busy)
            return HAL_OK;
        hal_status st = wait_progress();
        if (st != HAL_OK)
            return st;
    }
}

int Device::unit_fault(hal_fault *out) const
{
    if (!fault_pending_)
        return 0;
    *out = fault_;
    return 1;
}

unsigned Device::stuck_unit(uint32_t *index) const
{
    for (unsigned u = 0; u < NPU_UNIT_CTRL; u++) {
        const Unit &U = units_[u];
        if (U.has_current) {
            *index = U.current;
            return u;
        }
        if (!U.queue.empty()) {
            *index = U.queue.front().index;
            return u;
        }
    }
    *index = 0;
    return NPU_UNIT_NONE;
}

void Device::abort_units()
{
    abort_epoch_++;
    for (unsigned u = 0; u < NPU_UNIT_CTRL; u++)
        units_[u].queue.clear();
    sems_.fill(0);
    fault_pending_ = false;
    fault_ = hal_fault{};
    notify_abort();
}

void Device::notify_reset()
{
    reset_ev_.notify(SC_ZERO_TIME);
    if (ctrl_waits_timer_)
        ctrl_timer_.notify(SC_ZERO_TIME); // a delta notification overrides the pending timed one
}

void Device::notify_abort()
{
    abort_ev_.notify(SC_ZERO_TIME);
    for (unsigned u = 0; u < NPU_UNIT_CTRL; u++) {
        if (units_[u].waits_timer)
            units_[u].timer.notify(SC_ZERO_TIME);
        if (units_[u].waits_sem != Unit::kNoSemaphore)
            units_[u].sem_signalled.notify(SC_ZERO_TIME);
        if (units_[u].waits_dram)
            units_[u].dram_done.notify(SC_ZERO_TIME);
        if (units_[u].waits_sram)
            units_[u].sram_done.notify(SC_ZERO_TIME);
    }
}

// Nothing but the control core can act in the simulation before t (exclusive), and the host
// cannot look at the device before t: no process is runnable and no notification pending now,
// the next timed one is after t, the host's run lasts past t, and the interrupt line is low (a
// high line pauses the simulation at the end of this delta: the host reads the registers, the
// control core's busy cycles among them, at this time). Then the control core may move its own
// time up to t without a wait. The bound is looked up when the control core starts to run ahead;
// while it is ahead nothing runs or is notified (it pushes only to busy units) and the line
// stays low (the firmware raises it through a HAL call, which catches up first), so the bound
// holds until it waits again.
bool Device::quiet_before(const sc_time &t)
{
    if (ahead_ == SC_ZERO_TIME) {
        const sc_time now = sim_now();
        horizon_ = irq_ ? now : std::min(run_until_, now + sc_time_to_pending_activity()); // zero while anything is pending now
    }
    return t < horizon_;
}

hal_status Device::sync_ahead()
{
    if (ahead_ == SC_ZERO_TIME)
        return HAL_OK;
    const sc_time t = ahead_;
    ahead_ = SC_ZERO_TIME;
    return ctrl_wait(t) ? HAL_OK : HAL_RESET;
}

bool Device::ctrl_wait(sc_time t)
{
    ctrl_waits_timer_ = true;
    ctrl_timer_.notify(t);
    wait(ctrl_timer_);
    ctrl_waits_timer_ = false;
    return !reset_pending_;
}

void Device::report_fault(unsigned u, uint32_t fault, uint64_t addr, uint32_t index)
{
    if (!fault_pending_) {
        fault_pending_ = true;
        fault_.fault = fault;
        fault_.unit = u;
        fault_.addr = addr;
        fault_.index = index;
    }
    note_progress();
    fault_ev_.notify(SC_ZERO_TIME);
}

Device &device_instance()
{
    static Device *dev = new Device("npu"); // lives as long as SystemC's own kernel objects
    return *dev;
}

} // namespace m4npu

extern "C" {

void npu_sim_set_run_ahead(int on) { m4npu::g_run_ahead = on ? 1 : 0; }

void npu_sim_run_ahead_counts(uint64_t *ran_ahead, uint64_t *waited)
{
    if (ran_ahead)
        *ran_ahead = m4npu::g_ran_ahead;
    if (waited)
        *waited = m4npu::g_waited;
}

} // extern "C"
