// device.h -- the SystemC model of the NPU (internal to sim/).
//
// One module, elaborated once per process and re-configured at every open. Loosely-timed,
// transaction-level: every unit is a thread that takes one instruction from its queue, computes
// its effect in C and advances time once by its latency; DMA transfers share DRAM bandwidth
// through DramModel. The control core is a thread that runs the firmware through the HAL
// (hal_port.cpp). Simulated time is counted in NPU cycles: 1 SystemC ns == 1 NPU cycle.
#ifndef M4NPU_SIM_DEVICE_H
#define M4NPU_SIM_DEVICE_H

#define SC_INCLUDE_DYNAMIC_PROCESSES // sc_spawn: units are spawned threads
#include <systemc>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mm_tile_rtl.h"
#include "sm_tile_rtl.h"

extern "C" {
#include "fw_hal.h"
#include "isa_exec.h"
#include "npu_abi.h"
#include "npu_config.h"
#include "npu_sim.h"
}

namespace m4npu {
class Device;
}

// The HAL handle the firmware holds (fw_hal.h keeps it opaque).
struct fw_hal {
    m4npu::Device *dev;
};

namespace m4npu {

// Simulated time unit: one NPU cycle (1 SystemC ns). Both conversions are integer arithmetic on
// the kernel's time value (no double on the per-instruction path); cycle_value() is the value of
// one cycle at the kernel's time resolution, fixed once the first sc_time exists. Both are inline:
// they run several times per instruction.
inline sc_core::sc_time::value_type cycle_value()
{
    static const sc_core::sc_time::value_type one = sc_core::sc_time(1, sc_core::SC_NS).value();
    return one;
}
// The times of 0 .. kCycleTimes - 1 cycles, made once: nearly every wait (a spend, a latency, a
// DMA's setup and first byte, the next DRAM or SRAM completion) is that short, and
// sc_time::from_value is a call into the library.
constexpr uint64_t kCycleTimes = 1024;
inline const std::array<sc_core::sc_time, kCycleTimes> &short_cycle_times()
{
    static const std::array<sc_core::sc_time, kCycleTimes> times = [] {
        std::array<sc_core::sc_time, kCycleTimes> t;
        for (uint64_t n = 0; n < kCycleTimes; n++)
            t[n] = sc_core::sc_time::from_value(n * cycle_value());
        return t;
    }();
    return times;
}
inline sc_core::sc_time cycles(uint64_t n)
{
    if (n < kCycleTimes)
        return short_cycle_times()[n];
    constexpr uint64_t kExactDoubleLimit = 1ull << 53; // below it a double holds every integer
    static const uint64_t exact_limit = kExactDoubleLimit / cycle_value(); // in cycles
    if (n < exact_limit)
        return sc_core::sc_time::from_value(n * cycle_value());
    return sc_core::sc_time(static_cast<double>(n), sc_core::SC_NS); // run budgets: as SystemC converts (it saturates)
}
// Rounded to the nearest cycle (times are whole cycles). SystemC's default resolution, 1 ps, is
// 1000 per cycle: a division by that constant compiles to a multiplication.
inline uint64_t to_cycles(const sc_core::sc_time &t)
{
    constexpr sc_core::sc_time::value_type kPsPerNs = 1000;
    const sc_core::sc_time::value_type one = cycle_value();
    if (one == kPsPerNs)
        return (t.value() + kPsPerNs / 2) / kPsPerNs;
    return (t.value() + one / 2) / one;
}

// A process-wide switch from the environment: on unless the variable is "0" or "off".
inline bool env_switch_on(const char *name)
{
    const char *v = std::getenv(name);
    return !(v && (std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0));
}

// The current simulated time, read inline: sc_time_stamp() is a call into the library (through
// the PLT), made several times per instruction.
inline const sc_core::sc_time &sim_now() { return sc_core::sc_get_curr_simcontext()->time_stamp(); }

// Fast-model latency of a compute instruction (units.cpp; sim/README.md has the formulas).
uint64_t fast_cycles(const isa_insn &in, const npu_device_config &cfg);

// Bandwidth given to concurrent transfers in program order (the oldest dispatch first), in
// fixed point.
class DramModel {
  public:
    static constexpr int kFracBits = 16; // bandwidth in bytes/cycle << 16
    void configure(uint64_t bw_fx, uint64_t latency_cycles);
    uint64_t latency_cycles() const { return latency_cycles_; }
    uint64_t bw_fx() const { return bw_fx_; }
    // Called from a thread after its first-byte latency (latency_cycles(), waited by the caller):
    // wait for `bytes` to be served, after every active transfer dispatched before it (`seq`, the
    // instruction's dispatch number, smaller = earlier in the program). Returns false if `done` was
    // notified before the bytes were served: the owner's abort (Device::notify_abort notifies it
    // while the owner waits here), and the request is withdrawn. `done` is the caller's
    // completion event: no event is allocated per transfer.
    bool transfer(uint64_t bytes, uint64_t seq, sc_core::sc_event &done);
    void method(); // SC_METHOD body, sensitive to next_
    sc_core::sc_event next_;
    void clear();

  private:
    struct Request {
        uint64_t remaining_fx;
        uint64_t seq; // dispatch number: the smallest is served first
        bool finished;
        sc_core::sc_event *done;
    };
    void advance();
    void schedule();
    uint64_t bw_fx_ = 1;
    uint64_t latency_cycles_ = 0;
    std::vector<Request *> active_; // in increasing seq
    sc_core::sc_time last_;
};

// The SRAM banks' bandwidth shared by the units and the DMA (sram.cpp): max-min fair shares of
// banks * bank_width_bytes per cycle, each request capped at the rate it would use alone.
class SramModel {
  public:
    static constexpr int kFracBits = 16; // bandwidth in bytes/cycle << 16
    struct Request {
        uint64_t remaining_fx = 0; // bytes still to serve << 16
        uint64_t cap_fx = 0;       // the most it would use per cycle
        uint64_t rate_fx = 0;      // its current share
        bool waiting = false;      // its owner waits in finish()
        bool finished = true;
        unsigned owner = 0;        // its unit: equal caps share in unit order, not arrival order
        sc_core::sc_event *done = nullptr;               // its owner's, notified when served
    };
    void configure(uint64_t bw_fx);
    uint64_t bw_fx() const { return bw_fx_; }
    // The rate (16.16 bytes/cycle, rounded up) at which `bytes` are served in `cycles_alone`.
    static uint64_t cap_for(uint64_t bytes, uint64_t cycles_alone);
    // Called from a thread: join the active requests with `bytes` to serve at most cap_fx per
    // cycle (no bytes: finished at once). Then finish() waits until they are served (false if
    // r.done was notified first, by the owner's abort: the request is withdrawn), or withdraw()
    // drops the request. r.done is the owner's, set before begin().
    void begin(Request &r, uint64_t bytes, uint64_t cap_fx);
    bool finish(Request &r);
    void withdraw(Request &r);
    void method(); // SC_METHOD body, sensitive to next_
    sc_core::sc_event next_;
    void clear();

  private:
    void advance();
    void reshare();
    void schedule();
    uint64_t bw_fx_ = 1;
    std::vector<Request *> active_;
    std::vector<Request *> order_; // reshare()'s scratch, kept to avoid an allocation per request
    sc_core::sc_time last_;
};

// Memory that costs host memory only for the pages touched and clears in time proportional to
// them: an anonymous private mapping, cleared by dropping its pages (a dropped page reads as
// zero). The SRAM: a timing-only run never writes it, yet a std::vector cleared all of it at every
// open and every reset (8 MiB on mobile-default, page faults included, before the first job).
class ZeroedMemory {
  public:
    ZeroedMemory() = default;
    ZeroedMemory(const ZeroedMemory &) = delete;
    ZeroedMemory &operator=(const ZeroedMemory &) = delete;
    ~ZeroedMemory() { release(); }
    bool allocate(size_t bytes); // zeroed; false if the host refuses the mapping
    void zero();
    void release();
    uint8_t *data() const { return mem_; }
    size_t size() const { return bytes_; }

  private:
    uint8_t *mem_ = nullptr;
    size_t bytes_ = 0;
};

// A unit's queue of instructions: a ring that grows to the deepest queue it has held and then
// never allocates (a std::deque allocated a block every three entries: a hal_cmd is 136 bytes).
// Its capacity is kept as a number (a vector's size is a division by sizeof(hal_cmd), three per
// push).
class CmdQueue {
  public:
    bool empty() const { return count_ == 0; }
    size_t size() const { return count_; }
    const hal_cmd &front() const { return slots_[head_]; }
    uint64_t front_seq() const { return seqs_[head_]; } // the front entry's dispatch number
    void pop_front()
    {
        head_ = (head_ + 1) & (capacity_ - 1);
        count_--;
    }
    void push_back(const hal_cmd &cmd, uint64_t seq)
    {
        if (count_ == capacity_)
            grow();
        const size_t at = (head_ + count_) & (capacity_ - 1);
        slots_[at] = cmd;
        seqs_[at] = seq;
        count_++;
    }
    void clear() { head_ = count_ = 0; }

  private:
    void grow()
    {
        constexpr size_t kFirstSlots = 16; // a power of two, like every size after it
        std::vector<hal_cmd> bigger(capacity_ == 0 ? kFirstSlots : 2 * capacity_);
        std::vector<uint64_t> bigger_seqs(bigger.size());
        for (size_t i = 0; i < count_; i++) {
            bigger[i] = slots_[(head_ + i) & (capacity_ - 1)];
            bigger_seqs[i] = seqs_[(head_ + i) & (capacity_ - 1)];
        }
        slots_.swap(bigger);
        seqs_.swap(bigger_seqs);
        capacity_ = slots_.size();
        head_ = 0;
    }
    std::vector<hal_cmd> slots_; // capacity_ entries
    std::vector<uint64_t> seqs_; // each slot's dispatch number (the DRAM's priority)
    size_t capacity_ = 0;        // 0 or a power of two
    size_t head_ = 0, count_ = 0;
};

// The op memo (op_memo.cpp): what a timing-only op did on a drained device (npu.overlap off),
// keyed by what decides it: its descriptor with its places in memory normalised (but for
// buffers split by the on-chip memory's boundary) and the device state that survives a drain.
// Replaying an entry moves time, counters and that state exactly as simulating the op did.
struct OpMemoState { // what survives a drain and may change an op's timing or a later op's
    uint64_t spend_carry = 0; // the control core's clock remainder (a non-whole npu/ctrl ratio)
    std::array<uint32_t, 32> sems{};
    uint32_t mm_bias = 0, mm_scale = 0, mm_shift = 0; // mm.cfg (timing-only runs execute it)
    uint32_t pad_ = 0; // no padding: keys are hashed and compared as bytes
};
struct OpMemoKey {
    npu_op_desc op;                                   // places in memory zeroed but split buffers'
    uint64_t place[NPU_OP_MAX_INPUTS + 1][2];          // each tensor's and its scales' buffer: off, on or split
    uint64_t mask_place;                              // the attention mask's buffer
    uint32_t cmd_flags;
    uint32_t pad_;
    OpMemoState state;
};
static_assert(sizeof(OpMemoState) == 8 + 32 * 4 + 4 * 4 && sizeof(OpMemoKey) == sizeof(npu_op_desc) +
                                                                                   sizeof(OpMemoKey::place) + 8 +
                                                                                   8 + sizeof(OpMemoState),
              "the op memo's key has no padding: it is hashed and compared as bytes");
struct OpMemoEntry {
    OpMemoKey key;
    uint64_t span;                                    // NPU cycles from hal_op_replay to the drain's end
    uint64_t ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT];      // counter growth over the span
    uint64_t dispatched;                              // dispatch_seq_ growth
    bool progressed;                                  // last_progress_ moved during the op,
    sc_core::sc_time progress_before_end;             // to this long before its end
    uint64_t fw_insns;                                // the firmware's count of dispatched instructions
    OpMemoState end;
};
class OpMemo {
  public:
    static constexpr size_t kMaxEntries = 16384; // distinct ops remembered per configuration
    const OpMemoEntry *find(uint64_t hash, const OpMemoKey &key) const;
    void add(uint64_t hash, const OpMemoEntry &e); // ignored once full
    void clear();
    bool same_config(const npu_device_config &cfg) const;
    void set_config(const npu_device_config &cfg);

  private:
    std::vector<OpMemoEntry> entries_;
    std::unordered_multimap<uint64_t, size_t> index_; // key hash -> entries_
    npu_device_config cfg_{};
    bool has_cfg_ = false;
};
// The op being simulated for the memo (hal_op_replay missed): its key and the device at its start.
struct OpMemoPending {
    bool active = false;
    uint64_t hash = 0;
    OpMemoKey key;
    sc_core::sc_time t0, progress0;
    uint64_t ctr[NPU_UNIT_COUNT][NPU_CTR_COUNT];
    uint64_t dispatch0 = 0, abort_epoch0 = 0;
};

// One unit queue and the state of the unit that serves it.
struct Unit {
    CmdQueue queue;
    bool has_current = false; // an instruction has been taken from the queue and not finished
    bool stalled = false;     // in a `wait` on a semaphore
    uint32_t current = 0;     // its index
    uint64_t current_seq = 0; // its dispatch number: program order across the queues
    std::array<uint64_t, NPU_CTR_COUNT> ctr{};
    sc_core::sc_event wake; // the queue got an entry (notified only while the unit waits for it)
    bool waits_wake = false; // the unit thread waits for `wake` (its queue is empty)
    // Completion of the unit's DRAM transfer and SRAM request (one of each at most at a time),
    // made once: an event per request would construct one per instruction. The unit waits for
    // each alone; while it does (waits_dram, waits_sram), an abort notifies it at once, as it
    // notifies `timer` and `sem_signalled` (waiting on `done | abort` joined and left a second
    // event's waiters at every wait).
    sc_core::sc_event dram_done, sram_done;
    bool waits_dram = false, waits_sram = false;
    // The semaphore the unit stalls on in a `wait` (kNoSemaphore: none), and the event a
    // `signal` of that semaphore (or an abort) notifies: a signal wakes only the units that wait for it (one
    // event shared by every semaphore woke every stalled unit at every signal, and two in three
    // of those wake-ups found their own semaphore still zero).
    static constexpr unsigned kNoSemaphore = ~0u;
    unsigned waits_sem = kNoSemaphore;
    sc_core::sc_event sem_signalled;
    // The unit's timed waits (an instruction's latency, a DMA's setup and DRAM latency) wait for
    // this one event alone; an abort notifies it at once while the unit waits (waits_timer).
    // wait(t, abort_ev_) made every such wait sensitive to a second event, added to and removed
    // from that event's waiters at each of the millions of waits.
    sc_core::sc_event timer;
    bool waits_timer = false;
    sc_core::sc_event space; // an entry left the queue (notified only while spend_push waits for it)
    sc_core::sc_event_or_list push_wait; // space | reset | fault | watchdog: spend_push's wait
    bool waits_space = false; // the control core waits in push_wait for this queue's room
};

class Device : public sc_core::sc_module {
  public:
    explicit Device(sc_core::sc_module_name name);
    ~Device() override;

    // Host side (called between sc_start runs).
    bool open(const npu_device_config &cfg, std::string &err);
    void close();
    bool is_open() const { return open_; }
    const npu_device_config &config() const { return cfg_; }
    uint32_t mmio_read(uint32_t off);
    void mmio_write(uint32_t off, uint32_t value);
    uint64_t dram_size() const { return cfg_.dram.size_bytes; }
    uint64_t onchip_bytes() const { return cfg_.dram.onchip_bytes; }
    uint64_t now_cycles() const;
    bool irq() const { return irq_; }
    bool run(uint64_t max_cycles); // true when the line is high
    int trace_vcd(const char *mm_path, const char *sm_path, std::string &err); // enum npu_sim_status
    void set_insn_hook(npu_sim_insn_hook hook, void *ctx)
    {
        insn_hook_ = hook;
        insn_hook_ctx_ = ctx;
    }

    // HAL (called by the firmware, inside the control-core thread).
    const hal_device_info &info() const { return info_; }
    uint32_t fw_reg_read(uint32_t reg);
    void fw_reg_write(uint32_t reg, uint32_t value);
    void irq_raise(uint32_t bits);
    uint64_t perf_counter(uint32_t unit, uint32_t ctr) const; // NPU_REG_PERF(unit, ctr)'s value now
    void perf_read(uint64_t out[NPU_UNIT_COUNT][NPU_CTR_COUNT]) const;
    int mem_read(uint64_t addr, void *dst, size_t len);
    int mem_write(uint64_t addr, const void *src, size_t len);
    hal_status spend(uint64_t control_cycles);
    hal_status wait_doorbell();
    hal_status push(unsigned unit, const hal_cmd &cmd);
    hal_status spend_push(uint64_t control_cycles, unsigned unit, const hal_cmd &cmd);
    hal_status drain();
    // The control core's run-ahead (spend_push): the wait for the cycles it dispatched ahead of
    // the simulation's time. Every HAL call but spend_push (and info) makes it first; HAL_RESET
    // if a reset came during it, else HAL_OK.
    hal_status sync_ahead();
    int unit_fault(hal_fault *out) const;
    unsigned stuck_unit(uint32_t *index) const;
    void abort_units();
    // The op memo (op_memo.cpp; fw_hal.h's hal_op_replay and hal_op_remember).
    hal_status op_replay(const npu_op_desc &op, const npu_buf_entry *bufs, uint32_t nbufs, uint32_t cmd_flags,
                         int *replayed, uint64_t *fw_insns);
    void op_remember(uint64_t fw_insns);

  private:
    void control_thread();
    void unit_thread(unsigned u);
    void dram_method() { dram_model_.method(); }
    void sram_method() { sram_model_.method(); }
    void hardware_reset();
    void update_irq();
    uint32_t unit_register(uint32_t off) const;
    hal_status wait_progress(); // watchdog-guarded wait for a unit event
    void arm_watchdog(sc_core::sc_time deadline);
    uint64_t npu_cycles_of(uint64_t control_cycles); // with the carried remainder
    hal_status spend_cycles(uint64_t n);               // spend() in NPU cycles
    bool quiet_before(const sc_core::sc_time &t);     // nothing else can happen until t (exclusive)
    // progress_.notify, and its time; inline: every unit calls it twice per instruction
    void note_progress()
    {
        last_progress_ = sim_now();
        if (waits_progress_)
            progress_.notify(sc_core::SC_ZERO_TIME);
    }
    bool wait_progress_or_deadline(sc_core::sc_time deadline); // false: the deadline passed
    bool resetting() const { return reset_pending_; }
    void notify_reset(); // reset_ev_, and the control core's timer while it waits for it
    void notify_abort(); // abort_ev_, and the event each waiting unit waits for (timer, semaphore, DRAM, SRAM)
    // The control core waits n cycles (a spend): for ctrl_timer_ alone, which notify_reset()
    // notifies at once; false if a reset came first.
    bool ctrl_wait(sc_core::sc_time t);

    // Unit execution (units.cpp). Each returns false if the instruction was abandoned (abort).
    bool exec_sync(unsigned u, const hal_cmd &cmd);
    bool exec_dma(unsigned u, const hal_cmd &cmd);
    bool exec_compute(unsigned u, const hal_cmd &cmd);
    bool busy_wait(unsigned u, uint64_t n); // time spent working; false on abort
    void report_insn(unsigned u, const hal_cmd &cmd, uint64_t issue_cycle, npu_sim_insn_outcome outcome);
    // Wait (busy) until an SRAM request is served; false on abort (the request is withdrawn).
    bool sram_wait(unsigned u, SramModel::Request &r);
    uint64_t sram_bytes(const isa_insn &in, uint32_t mm_bias) const; // through the banks
    void report_fault(unsigned u, uint32_t fault, uint64_t addr, uint32_t index);
    // Counts the instruction's SRAM bytes read and written; returns sram_bytes() from the same
    // ranges (one isa_sram_ranges per instruction, not two).
    uint64_t count_sram(unsigned u, const isa_insn &in, uint32_t mm_bias);
    // A compute instruction's time: its latency, stretched while its SRAM bytes wait for the banks.
    bool compute_wait(unsigned u, uint64_t latency, uint64_t sram_bytes);

    npu_device_config cfg_{};
    hal_device_info info_{};
    bool open_ = false;
    sc_core::sc_time epoch_;

    // memory
    uint8_t *dram_ = nullptr;
    size_t dram_mapped_ = 0;
    ZeroedMemory sram_;
    isa_exec_ctx mm_ctx_{};   // matmul tile state (mm.cfg, mm.out) and the SRAM it works on
    isa_exec_ctx unit_ctx_{}; // the other units': the SRAM only (kept, not rebuilt: it is large)
    DramModel dram_model_;
    SramModel sram_model_;

    // registers
    std::array<uint32_t, NPU_MMIO_BYTES / 4> regs_{};
    bool irq_ = false;
    bool host_waiting_ = false; // inside run(): pause the simulation when the line rises

    // units and synchronisation
    std::array<Unit, NPU_UNIT_COUNT> units_;
    std::array<uint32_t, 32> sems_{};
    unsigned sem_waiters_ = 0; // units in a `wait` on a semaphore (Unit::waits_sem names it)
    // A unit finished an instruction or freed queue space. Notified only while the control core
    // waits for it (waits_progress_): a notification nobody waits for changes nothing, and every
    // waiter checks the state it waits for before it waits, in the same process run.
    sc_core::sc_event progress_;
    bool waits_progress_ = false;
    sc_core::sc_time last_progress_; // when progress_ was last notified
    sc_core::sc_event fault_ev_;   // a unit reported a fault (notified with progress_)
    // The watchdog's timer: one timed notification kept pending for the latest deadline, never
    // re-armed per wait (a cancelled timed notification stays in SystemC's event queue until its
    // time, so re-arming one per instruction filled the queue with watchdog_cycles' worth of
    // dead entries). watchdog_at_ is the time it is pending for (in the past: none pending).
    sc_core::sc_event watchdog_ev_;
    sc_core::sc_time watchdog_at_;
    sc_core::sc_event_or_list progress_or_reset_; // progress_ | reset_ev_ | watchdog_ev_, built once
    sc_core::sc_event abort_ev_;   // units drop their work
    uint64_t abort_epoch_ = 0;
    uint64_t dispatch_seq_ = 0; // instructions dispatched to the unit queues so far (their program order)
    bool fault_pending_ = false;
    hal_fault fault_{};

    // control core
    sc_core::sc_event doorbell_;
    sc_core::sc_event open_ev_;
    sc_core::sc_event reset_ev_; // a reset or close: the firmware unwinds
    sc_core::sc_event ctrl_timer_; // the control core's timed waits (ctrl_wait)
    bool ctrl_waits_timer_ = false;
    // The control core's run-ahead: spend_push dispatches without a wait while nothing else can
    // happen in the simulation until the dispatch's time. ahead_ is how far the control core's
    // time is past the simulation's (zero whenever it waits); run_until_ is the end of the host's
    // current run (sc_start), which the control core never runs past.
    sc_core::sc_time ahead_;
    sc_core::sc_time run_until_;
    sc_core::sc_time horizon_; // quiet_before's bound for the current run-ahead
    sc_core::sc_event_or_list doorbell_or_reset_; // doorbell_ | reset_ev_, built once
    fw_hal hal_{this};
    bool doorbell_pending_ = false;
    bool reset_pending_ = false;
    uint64_t npu_khz_ = 1, ctrl_khz_ = 1, spend_carry_ = 0;
    uint64_t npu_per_ctrl_ = 1;     // npu_khz_ / ctrl_khz_ when a whole number, else 0
    uint64_t max_exact_spend_ = 0;  // control cycles up to which control_cycles * npu_khz_ + carry does not wrap

    // the instruction event stream (npu_sim_set_insn_hook); null: off
    npu_sim_insn_hook insn_hook_ = nullptr;
    void *insn_hook_ctx_ = nullptr;

    // the op memo (op_memo.cpp): kept across opens with a byte-identical configuration
    OpMemo op_memo_;
    OpMemoPending op_pending_;
    uint64_t op_memo_generation_ = 0;
    bool op_memo_usable() const; // off, or a result could depend on more than the key
    void op_memo_open(const npu_device_config &cfg);
    uint64_t op_memo_key(const npu_op_desc &op, const npu_buf_entry *bufs, uint32_t nbufs, uint32_t cmd_flags,
                         OpMemoKey &key) const; // returns its hash
    OpMemoState op_memo_state() const;
    void op_memo_restore(const OpMemoState &st);
    bool units_idle() const;

    // The Verilated RTL tiles, for the tiles whose impl is rtl (null when fast).
    std::unique_ptr<MmTileRtl> mm_rtl_;
    std::unique_ptr<SmTileRtl> sm_rtl_;
    bool open_rtl_tiles(const npu_device_config &cfg, std::string &err);
};

// The process's one device (SystemC elaborates once per process).
Device &device_instance();

} // namespace m4npu

#endif
