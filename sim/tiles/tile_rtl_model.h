/* tile_rtl_model.h -- the cycle loops that drive a Verilated tile model, as templates over the
 * model class (one class per compiled size: Vmm_tile_16x16, Vsm_tile_4_512, ...).
 *
 * Why it exists: every compiled size has its own Verilator class with the same port names;
 * templates give each a direct, inlined port access (the loop runs once per simulated cycle)
 * without the drivers' headers depending on Verilator. Only tile_rtl_registry.cpp includes this.
 *
 * Clocking: inputs are set while the clock is high, then a low-phase eval settles the
 * combinational outputs (ready/valid), the handshakes are read, and the rising edge is
 * evaluated: one cycle. A handshake happens on the rising edge where valid and ready are both
 * high. Cycles are counted from the edge that accepts the command to the edge that accepts the
 * last result, both included.
 */
#ifndef M4NPU_TILE_RTL_MODEL_H
#define M4NPU_TILE_RTL_MODEL_H

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <verilated.h>
#include <verilated_vcd_c.h>

#include "mm_tile_rtl.h"
#include "sm_tile_rtl.h"
#include "tile_cycles.h"

/* The file a VCD goes to. Verilator's own file class turns a failed write (a full disk, a
 * file-size limit) into a fatal error that aborts the process, or inside a SystemC thread
 * deadlocks on Verilator's own lock. This one records the first failure and from then on
 * discards what it is given, so the run goes on and the failure is reported when the trace
 * stops. */
class VcdSink final : public VerilatedVcdFile {
public:
    bool open(const std::string &name) override
    {
        fd_ = ::open(name.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0666);
        if (fd_ < 0)
            err_ = errno;
        return fd_ >= 0;
    }
    void close() override
    {
        if (fd_ >= 0 && ::close(fd_) != 0 && !err_)
            err_ = errno;
        fd_ = -1;
    }
    ssize_t write(const char *buf, ssize_t len) override
    {
        for (ssize_t done = 0; !err_ && done < len;) {
            ssize_t n = ::write(fd_, buf + done, (size_t)(len - done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                err_ = n < 0 ? errno : EIO;
            else
                done += n;
        }
        return len; /* never an error for Verilator: see above */
    }
    int error() const { return err_; }

private:
    int fd_ = -1;
    int err_ = 0;
};

/* One Verilated model with its own context, clock and optional VCD. */
template <class V> class TileHarness {
public:
    static constexpr int kResetCycles = 2;
    static constexpr int kTraceDepth = 99; /* every level of the hierarchy */

    explicit TileHarness(const char *name) : ctx_(new VerilatedContext), top_(new V{ctx_.get(), name}) { reset(); }

    /* Hold rst for kResetCycles cycles. */
    void reset()
    {
        top_->rst = 1;
        for (int i = 0; i < kResetCycles; i++) {
            settle();
            posedge();
        }
        top_->rst = 0;
    }
    ~TileHarness()
    {
        if (vcd_)
            vcd_->close();
        top_->final();
    }

    /* Is a trace being written (started, and no write has failed)? */
    bool tracing() const { return vcd_ && !sink_->error(); }
    TileHarness(const TileHarness &) = delete;
    TileHarness &operator=(const TileHarness &) = delete;

    V &top() { return *top_; }
    uint64_t cycles() const { return cycles_; }

    /* Low phase: combinational outputs settle for the inputs set now. */
    void settle()
    {
        top_->clk = 0;
        top_->eval();
        if (tracing())
            vcd_->dump(picoseconds(2 * (cycles_ + offset_)));
    }
    /* Rising edge: one cycle. */
    void posedge()
    {
        top_->clk = 1;
        top_->eval();
        if (tracing())
            vcd_->dump(picoseconds(2 * (cycles_ + offset_) + 1));
        ++cycles_;
    }

    /* VCD time: the clock's period in picoseconds, and where cycle cycles_ sits on the caller's
     * time (tile_rtl_base.h). */
    void set_clock(double mhz)
    {
        if (mhz > 0)
            ps_per_half_cycle_ = kPsPerUs / (2.0 * mhz);
    }
    void align(uint64_t cycle)
    {
        if (cycle > cycles_ + offset_)
            offset_ = cycle - cycles_;
    }

    /* Start a VCD; returns an empty string or what went wrong. */
    std::string trace(const std::string &path)
    {
        if constexpr (!kHasTrace)
            return "this model was Verilated without VCD support (rtl/CMakeLists.txt: M4NPU_RTL_VCD_MAX_PES)";
        else
            return start_trace(path);
    }

    /* Stop the VCD: write out what is buffered and close the file. Returns an empty string, or
     * what went wrong since the trace started (the file is then incomplete). */
    std::string trace_stop()
    {
        if (!vcd_)
            return "";
        vcd_->close();
        int err = sink_->error();
        vcd_.reset();
        sink_.reset();
        std::string why = err ? std::string("cannot write: ") + std::strerror(err) : "";
        return why;
    }

private:
    /* Models Verilated with --trace have trace(); the largest are built without it. */
    template <class M, class = void> struct HasTrace : std::false_type {};
    template <class M>
    struct HasTrace<M, std::void_t<decltype(std::declval<M &>().trace(static_cast<VerilatedVcdC *>(nullptr), 0))>>
        : std::true_type {};
    static constexpr bool kHasTrace = HasTrace<V>::value;

    std::string start_trace(const std::string &path)
    {
        if (vcd_)
            return "tracing is already on for this tile";
        ctx_->traceEverOn(true);
        std::unique_ptr<VcdSink> sink(new VcdSink);
        std::unique_ptr<VerilatedVcdC> vcd(new VerilatedVcdC(sink.get()));
        top_->trace(vcd.get(), kTraceDepth);
        vcd->open(path.c_str());
        if (!vcd->isOpen())
            return "cannot open " + path + " for writing: " + std::strerror(sink->error() ? sink->error() : EIO);
        sink_ = std::move(sink);
        vcd_ = std::move(vcd);
        return "";
    }

    static constexpr double kPsPerUs = 1e6;
    /* half cycles -> picoseconds, rounded: exact for clocks whose half period is whole picoseconds,
     * otherwise within half a picosecond and never backwards */
    uint64_t picoseconds(uint64_t half_cycles) const
    {
        return static_cast<uint64_t>(static_cast<double>(half_cycles) * ps_per_half_cycle_ + 0.5);
    }

    std::unique_ptr<VerilatedContext> ctx_;
    std::unique_ptr<V> top_;
    std::unique_ptr<VcdSink> sink_; /* before vcd_: destroyed after it */
    std::unique_ptr<VerilatedVcdC> vcd_;
    uint64_t cycles_ = 0;
    uint64_t offset_ = 0; /* the caller's cycle of the model's cycle 0 */
    double ps_per_half_cycle_ = kPsPerUs / (2.0 * TILE_RTL_DEFAULT_CLOCK_MHZ);
};

/* A generous bound on an instruction's cycles, to stop a broken RTL from hanging the caller:
 * the formula's cycles, times the worst stall slowdown of the test hook, plus slack. */
inline uint64_t tile_rtl_cycle_bound(uint64_t formula, bool stalls)
{
    const uint64_t stall_factor = 1000, slack_cycles = 64;
    return formula * (stalls ? stall_factor : 1) + slack_cycles;
}

template <class V> class MmTileModel final : public MmTileRtl {
public:
    MmTileModel(uint32_t rows, uint32_t cols, uint32_t lanes) : MmTileRtl(rows, cols, lanes), h_("mm_tile") {}

    tile_rtl_status trace_vcd(const std::string &path) override
    {
        std::string why = h_.trace(path);
        return why.empty() ? ok() : fail(TILE_RTL_E_TRACE, "mm tile VCD: %s", why.c_str());
    }
    tile_rtl_status trace_vcd_stop() override
    {
        std::string why = h_.trace_stop();
        return why.empty() ? ok() : fail(TILE_RTL_E_TRACE, "mm tile VCD: %s", why.c_str());
    }
    uint64_t cycles_clocked() const override { return h_.cycles(); }
    void set_clock(double mhz) override { h_.set_clock(mhz); }
    void align(uint64_t cycle) override { h_.align(cycle); }
    void reset() override { h_.reset(); }

protected:
    static constexpr uint8_t kOpMm = 0, kOpCfg = 1, kOpOut = 2; /* cmd_op, as mm_tile.sv */

    /* Present a command and take the rising edge that accepts it: the instruction's first cycle. */
    tile_rtl_status issue(const char *what)
    {
        V &t = h_.top();
        t.cmd_valid = 1;
        t.in_valid = 0;
        t.ld_valid = 0;
        t.out_ready = 0;
        h_.settle();
        if (!t.cmd_ready)
            return fail(TILE_RTL_E_RTL, "mm tile: not idle at %s", what);
        h_.posedge();
        t.cmd_valid = 0;
        if (t.cmd_error)
            return fail(TILE_RTL_E_RTL, "mm tile: refused %s", what);
        return ok();
    }

    tile_rtl_status configure(const Config &cfg, uint64_t *cycles) override
    {
        V &t = h_.top();
        t.cmd_op = cfg.per_tensor ? kOpCfg : kOpOut;
        t.cmd_scale = (uint16_t)cfg.scale;
        t.cmd_shift = (uint8_t)cfg.shift;
        t.cmd_n = (uint16_t)cfg.n;
        t.cmd_axis = cfg.axis_row;
        t.cmd_lut = cfg.lut;
        t.cmd_lo = (uint8_t)cfg.lo;
        t.cmd_hi = (uint8_t)cfg.hi;
        tile_rtl_status st = issue(cfg.per_tensor ? "mm.cfg" : "mm.out");
        if (st != TILE_RTL_OK)
            return st;
        uint64_t n_cycles = 1;
        if (cfg.per_tensor) {
            *cycles = n_cycles;
            return ok();
        }
        const uint32_t L = lanes(), rec_beats = (cfg.n + L - 1) / L;
        const uint32_t beats = rec_beats + (cfg.lut ? (ISA_MM_OUT_LUT_ENTRIES + L - 1) / L : 0);
        const uint64_t bound = tile_rtl_cycle_bound(tile_mm_out_cycles(cfg.n, cfg.lut, L), stalls_on());
        for (uint32_t beat = 0; beat < beats;) {
            bool offer = !stall_in();
            t.ld_valid = offer;
            for (uint32_t l = 0; l < L; l++) {
                uint32_t e = (beat < rec_beats ? beat : beat - rec_beats) * L + l;
                isa_mm_out_record r{};
                if (beat < rec_beats && e < cfg.n)
                    r = cfg.records[e];
                t.ld_bias[l] = (uint32_t)r.bias;
                t.ld_mult[l] = (uint32_t)r.mult;
                t.ld_shift[l] = (uint8_t)r.shift;
                t.ld_entry[l] = beat >= rec_beats && e < ISA_MM_OUT_LUT_ENTRIES ? (uint8_t)cfg.table[e] : 0;
            }
            h_.settle();
            bool fire = offer && t.ld_ready;
            if (!t.ld_ready)
                return fail(TILE_RTL_E_RTL, "mm tile: stopped taking mm.out beats at %u of %u", beat, beats);
            h_.posedge();
            n_cycles++;
            if (fire)
                beat++;
            if (n_cycles > bound)
                return fail(TILE_RTL_E_RTL, "mm tile: mm.out not loaded after %" PRIu64 " cycles", n_cycles);
        }
        t.ld_valid = 0;
        h_.settle();
        if (t.ld_ready || !t.cmd_ready)
            return fail(TILE_RTL_E_RTL, "mm tile: still loading after mm.out's %u beats", beats);
        *cycles = n_cycles;
        return ok();
    }

    tile_rtl_status stream(const Job &job, int32_t *out32, int8_t *out8, uint64_t *cycles) override
    {
        V &t = h_.top();
        t.cmd_op = kOpMm;
        t.cmd_ws = job.ws;
        t.cmd_int4 = job.int4;
        t.cmd_at = job.at;
        t.cmd_bt = job.bt;
        t.cmd_acc = job.acc;
        t.cmd_bias = job.bias;
        t.cmd_rq = job.rq;
        t.cmd_m = job.m;
        t.cmd_n = job.n;
        t.cmd_k = job.k;
        for (uint32_t j = 0; j < cols(); j++)
            t.in_bias[j] = job.bias && j < job.n ? (uint32_t)job.bias_v[j] : 0;
        char what[64];
        std::snprintf(what, sizeof what, "m x n x k = %u x %u x %u (%s)", job.m, job.n, job.k, job.ws ? "ws" : "os");
        tile_rtl_status st = issue(what);
        if (st != TILE_RTL_OK)
            return st;

        const uint32_t L = lanes(), chunks = job.rq ? (job.n + L - 1) / L : 1;
        const bool wide = job.at != ISA_MMT_I8 || job.bt != ISA_MMT_I8;
        const uint64_t bound = tile_rtl_cycle_bound(
            tile_mm_rq_cycles_typed(job.ws, wide, job.m, job.n, job.k, job.rq ? L : 0), stalls_on());
        uint64_t n_cycles = 1;
        uint32_t next_beat = 0, loaded_beat = UINT32_MAX, row = 0, chunk = 0, acc_row = UINT32_MAX;
        for (;;) {
            bool offer = next_beat < job.beats && !stall_in();
            t.in_valid = offer;
            if (offer && loaded_beat != next_beat) {
                const uint16_t *al = &job.a[(size_t)next_beat * rows()], *bl = &job.b[(size_t)next_beat * cols()];
                for (uint32_t i = 0; i < rows(); i++)
                    t.in_a[i] = al[i];
                for (uint32_t j = 0; j < cols(); j++)
                    t.in_b[j] = bl[j];
                loaded_beat = next_beat;
            }
            if (job.acc && row < job.m && acc_row != row) { /* C's previous row, for the row at the port */
                for (uint32_t j = 0; j < cols(); j++)
                    t.in_acc[j] = j < job.n ? (uint32_t)job.c_old[(size_t)row * job.n + j] : 0;
                acc_row = row;
            }
            t.out_ready = !stall_out();
            h_.settle();
            bool in_fire = offer && t.in_ready;
            bool out_fire = t.out_valid && t.out_ready;
            bool last = out_fire && t.out_last;
            if (out_fire) {
                if (row >= job.m)
                    return fail(TILE_RTL_E_RTL, "mm tile: more than m = %u result rows", job.m);
                if (job.rq) {
                    for (uint32_t l = 0; l < L && chunk * L + l < job.n; l++)
                        out8[(size_t)row * job.n + chunk * L + l] = (int8_t)t.out_q[l];
                    if (++chunk == chunks) {
                        chunk = 0;
                        row++;
                    }
                } else {
                    for (uint32_t j = 0; j < job.n; j++)
                        out32[(size_t)row * job.n + j] = (int32_t)t.out_c[j];
                    row++;
                }
            }
            h_.posedge();
            n_cycles++;
            if (in_fire)
                next_beat++;
            if (last)
                break;
            if (n_cycles > bound)
                return fail(TILE_RTL_E_RTL, "mm tile: no last result after %" PRIu64 " cycles", n_cycles);
        }
        if (row != job.m || next_beat != job.beats)
            return fail(TILE_RTL_E_RTL, "mm tile: finished after %u of %u beats with %u of %u rows", next_beat,
                        job.beats, row, job.m);
        *cycles = n_cycles;
        return ok();
    }

private:
    TileHarness<V> h_;
};

template <class V> class SmTileModel final : public SmTileRtl {
public:
    SmTileModel(uint32_t lanes, uint32_t max_len) : SmTileRtl(lanes, max_len), h_("sm_tile") {}

    tile_rtl_status trace_vcd(const std::string &path) override
    {
        std::string why = h_.trace(path);
        return why.empty() ? ok() : fail(TILE_RTL_E_TRACE, "sm tile VCD: %s", why.c_str());
    }
    tile_rtl_status trace_vcd_stop() override
    {
        std::string why = h_.trace_stop();
        return why.empty() ? ok() : fail(TILE_RTL_E_TRACE, "sm tile VCD: %s", why.c_str());
    }
    uint64_t cycles_clocked() const override { return h_.cycles(); }
    void set_clock(double mhz) override { h_.set_clock(mhz); }
    void align(uint64_t cycle) override { h_.align(cycle); }

protected:
    tile_rtl_status stream(Job &job, uint64_t *cycles) override
    {
        V &t = h_.top();
        t.cmd_valid = 1;
        t.cmd_len = job.len;
        t.cmd_rows = job.rows;
        t.cmd_scale = job.scale;
        t.cmd_mask = job.mask;
        t.cmd_moff = (uint16_t)job.moff;
        t.in_valid = 0;
        t.out_ready = 0;
        h_.settle();
        if (!t.cmd_ready)
            return fail(TILE_RTL_E_RTL, "sm tile: not idle at issue");
        h_.posedge();
        t.cmd_valid = 0;
        if (t.cmd_error)
            return fail(TILE_RTL_E_RTL, "sm tile: refused len %u x rows %u", job.len, job.rows);

        const uint64_t bound = tile_rtl_cycle_bound(tile_sm_cycles(job.rows, job.len, lanes()), stalls_on());
        uint64_t n_cycles = 1;
        uint32_t in_row = 0, in_beat = 0, out_row = 0, out_beat = 0;
        uint8_t lanes_buf[kMaxLanes];
        for (;;) {
            /* Fetched every cycle: a row written back on the previous edge may be this input. */
            bool offer = in_row < job.rows && !stall_in();
            t.in_valid = offer;
            if (offer) {
                fetch_beat(job, in_row, in_beat, lanes_buf);
                for (uint32_t l = 0; l < lanes(); l++)
                    t.in_x[l] = lanes_buf[l];
            }
            t.out_ready = !stall_out();
            h_.settle();
            bool in_fire = offer && t.in_ready;
            bool out_fire = t.out_valid && t.out_ready;
            bool row_last = out_fire && t.out_row_last, last = out_fire && t.out_last;
            if (out_fire) {
                if (out_row >= job.rows || out_beat >= job.beats || row_last != (out_beat + 1 == job.beats))
                    return fail(TILE_RTL_E_RTL, "sm tile: unexpected result beat %u of row %u", out_beat, out_row);
                for (uint32_t l = 0; l < lanes(); l++)
                    lanes_buf[l] = t.out_y[l];
                take_beat(job, out_beat, lanes_buf);
            }
            h_.posedge();
            n_cycles++;
            if (in_fire && ++in_beat == job.beats) {
                in_beat = 0;
                in_row++;
            }
            if (out_fire) {
                out_beat++;
                if (row_last) {
                    finish_row(job, out_row);
                    out_row++;
                    out_beat = 0;
                }
            }
            if (last)
                break;
            if (n_cycles > bound)
                return fail(TILE_RTL_E_RTL, "sm tile: no last result after %" PRIu64 " cycles", n_cycles);
        }
        if (out_row != job.rows || in_row != job.rows)
            return fail(TILE_RTL_E_RTL, "sm tile: finished with %u of %u rows in and %u out", in_row, job.rows,
                        out_row);
        *cycles = n_cycles;
        return ok();
    }

public:
    static constexpr uint32_t kMaxLanes = 256; /* the registry refuses wider models */

private:
    TileHarness<V> h_;
};

#endif
