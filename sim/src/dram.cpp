// dram.cpp -- device DRAM bandwidth, latency and contention.
//
// Every transfer first waits the configured first-byte latency (latency does not consume
// bandwidth: requests are pipelined; the unit waits it on its own timer before transfer()), then
// joins the set of active transfers. The sustained bandwidth goes to them in program order: the
// active transfer dispatched first (the smallest dispatch number, whichever DMA channel runs it)
// takes all of it, the next one what it leaves in its last cycle, and so on (work-conserving and
// order-preserving). So a lone transfer of B bytes takes latency + ceil(B / bw) cycles; of two
// identical ones that start together, the earlier-dispatched ends after ceil(B / bw) and the other
// after ceil(2B / bw). Processor sharing (bw / n each) let a transfer the program needs later,
// on another channel, take bandwidth from the one it needs now: with more DMA channels a tile's
// operands arrived later and workloads became slower (issue 14). All arithmetic is integer
// (bandwidth in 16.16 fixed point bytes/cycle), so results are identical on every run and
// machine. One event per start and end of a transfer, none per cycle.
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
    uint64_t budget = dt * bw_fx_; // served in program order
    for (Request *r : active_) {
        if (budget == 0)
            break;
        uint64_t served = std::min(budget, r->remaining_fx);
        r->remaining_fx -= served;
        budget -= served;
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
    uint64_t first = active_.front()->remaining_fx; // the oldest takes all the bandwidth
    uint64_t dt = (first + bw_fx_ - 1) / bw_fx_;     // ceil: after dt cycles it is served
    next_.notify(cycles(dt ? dt : 1));
}

void DramModel::method()
{
    advance();
    schedule();
}

bool DramModel::transfer(uint64_t bytes, uint64_t seq, sc_event &done)
{
    done.cancel(); // a notification left by the unit's previous transfer is not this one's
    Request r{bytes << kFracBits, seq, false, &done};
    advance();
    auto later = std::upper_bound(active_.begin(), active_.end(), seq,
                                  [](uint64_t s, const Request *a) { return s < a->seq; });
    active_.insert(later, &r);
    schedule();
    while (!r.finished) {
        wait(done); // or the owner's abort (Device::notify_abort)
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
