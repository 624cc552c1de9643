// dram.cpp -- device DRAM bandwidth, latency and contention.
//
// Every transfer first waits the configured first-byte latency (latency does not consume
// bandwidth: requests are pipelined; the unit waits it on its own timer before transfer()), then joins the set of active transfers, which share the
// sustained bandwidth equally (processor sharing). With n transfers active, each advances by
// bw / n bytes per cycle; whenever a transfer starts or ends the shares are recomputed. So a lone
// transfer of B bytes takes latency + ceil(B / bw) cycles and two identical concurrent ones
// take latency + ceil(2B / bw) each. All arithmetic is integer (bandwidth in 16.16 fixed point
// bytes/cycle), so results are identical on every run and machine. One event per start and end
// of a transfer, none per cycle.
#include "device.h"

#include <algorithm>

using namespace sc_core;

namespace m4npu {

void DramModel::configure(uint64_t bw_fx, uint64_t latency_cycles)
{
    bw_fx_ = bw_fx;
    latency_cycles_ = latency_cycles;
    clear();
}

void DramModel::clear()
{
    for (Request *r : active_)
        r->finished = true; // their owners are being aborted; they will not look again
    active_.clear();
    next_.cancel();
    last_ = sim_now();
}

void DramModel::advance()
{
    sc_time now = sim_now();
    uint64_t dt = to_cycles(now - last_);
    last_ = now;
    if (dt && !active_.empty()) {
        uint64_t share = dt * bw_fx_ / active_.size();
        for (Request *r : active_)
            r->remaining_fx -= std::min(share, r->remaining_fx);
    }
    for (Request *r : active_)
        if (r->remaining_fx == 0) {
            r->finished = true;
            r->done->notify(SC_ZERO_TIME);
        }
    active_.erase(std::remove_if(active_.begin(), active_.end(), [](Request *r) { return r->finished; }),
                  active_.end());
}

void DramModel::schedule()
{
    next_.cancel();
    if (active_.empty())
        return;
    uint64_t least = active_.front()->remaining_fx;
    for (Request *r : active_)
        least = std::min(least, r->remaining_fx);
    uint64_t n = active_.size();
    uint64_t dt = (least * n + bw_fx_ - 1) / bw_fx_; // ceil: after dt cycles the smallest is served
    next_.notify(cycles(dt ? dt : 1));
}

void DramModel::method()
{
    advance();
    schedule();
}

bool DramModel::transfer(uint64_t bytes, sc_event &done, const sc_event_or_list &done_or_abort)
{
    done.cancel(); // a notification left by the unit's previous transfer is not this one's
    Request r{bytes << kFracBits, false, &done};
    advance();
    active_.push_back(&r);
    schedule();
    while (!r.finished) {
        wait(done_or_abort);
        if (!r.finished) { // aborted: withdraw
            advance();
            active_.erase(std::remove(active_.begin(), active_.end(), &r), active_.end());
            schedule();
            return false;
        }
    }
    return true;
}

} // namespace m4npu
