// sram.cpp -- the on-chip SRAM's bandwidth and the conflicts between the units' and the DMA's
// accesses to its banks.
//
// The SRAM is npu.sram.banks banks of npu.sram.bank_width_bytes each, interleaved word by word,
// so a streaming access spreads over every bank and the banks together serve at most
//     S = banks * bank_width_bytes bytes per cycle.
// Every instruction that touches the SRAM is a request for its bytes (the counters' SRAM bytes:
// a DMA transfer's SRAM side, a matmul's operands and result, a softmax or vector instruction's
// source and destination) at the rate it would use them on its own: its bytes over its latency
// for a compute instruction, at most the DRAM's bandwidth for a DMA transfer. Active requests
// share S by max-min fairness (water-filling): while their rates sum to at most S no one waits;
// beyond it the banks are oversubscribed (two requesters want a bank in the same cycle, one of
// them loses the cycle) and each gets an equal share, never more than it asks for, the unused
// part of the modest requests' shares going to the others. An instruction completes when its
// latency has passed AND its bytes have been served, so a conflict shows as extra busy cycles of
// the units involved, and an SRAM narrower than one unit's need bounds that unit at
// ceil(bytes / S) cycles. Integer arithmetic (16.16 fixed-point bytes per cycle), one event per
// start and end of a request while the banks are oversubscribed or an instruction waits for
// them (none when they keep up), none per cycle: identical results on every run.
#include "device.h"

#include <algorithm>

using namespace sc_core;

namespace m4npu {

void SramModel::configure(uint64_t bw_fx)
{
    bw_fx_ = bw_fx ? bw_fx : 1;
    clear();
}

void SramModel::clear()
{
    for (Request *r : active_)
        r->finished = true; // their owners are being aborted; they will not look again
    active_.clear();
    next_.cancel();
    last_ = sim_now();
}

void SramModel::advance()
{
    sc_time now = sim_now();
    uint64_t dt = to_cycles(now - last_);
    last_ = now;
    for (Request *r : active_) {
        // served = min(remaining, rate * dt); a product that overflows exceeds any remainder. No
        // division: advance() runs at every request's start and end.
        uint64_t served;
        if (__builtin_mul_overflow(r->rate_fx, dt, &served) || served >= r->remaining_fx)
            r->remaining_fx = 0;
        else
            r->remaining_fx -= served;
        if (r->remaining_fx == 0) {
            r->finished = true;
            if (r->waiting) // an owner not waiting yet finds it finished in finish(): no event
                r->done->notify(SC_ZERO_TIME);
        }
    }
    active_.erase(std::remove_if(active_.begin(), active_.end(), [](Request *r) { return r->finished; }),
                  active_.end());
}

// Water-filling: in order of increasing demand, each request gets the smaller of its demand and
// an equal split of what is left. Ties keep arrival order, so the result never depends on more
// than the requests themselves. The order is an insertion sort (stable, like std::stable_sort,
// which allocated a buffer per call): at most one request per unit is active. Each request is
// inserted straight from active_ (a copy first was a call to memmove for a few pointers).
void SramModel::reshare()
{
    if (order_.size() < active_.size())
        order_.resize(active_.size()); // only grows: its first active_.size() entries are used
    size_t sorted = 0;
    for (Request *r : active_) {
        size_t j = sorted++;
        for (; j > 0 && (r->cap_fx < order_[j - 1]->cap_fx ||
                         (r->cap_fx == order_[j - 1]->cap_fx && r->owner < order_[j - 1]->owner)); j--)
            order_[j] = order_[j - 1];
        order_[j] = r;
    }
    uint64_t left = bw_fx_;
    uint64_t n = sorted;
    for (size_t i = 0; i < sorted; i++) {
        Request *r = order_[i];
        uint64_t fair = left / n--;
        r->rate_fx = std::max<uint64_t>(std::min(r->cap_fx, fair), 1);
        left -= std::min(left, r->rate_fx);
    }
}

// An event is needed only when a completion changes something: while the banks are
// oversubscribed (a request gets less than it asks for, and every completion frees bandwidth for
// the others), or when an owner waits for its request. Otherwise every request is served at its
// own rate and is found complete when its owner looks (finish), without an event.
void SramModel::schedule()
{
    next_.cancel();
    bool needed = false;
    for (const Request *r : active_)
        needed = needed || r->waiting || r->rate_fx < r->cap_fx;
    if (!needed)
        return;
    uint64_t least = UINT64_MAX;
    for (const Request *r : active_)
        least = std::min(least, (r->remaining_fx + r->rate_fx - 1) / r->rate_fx); // ceil: served by then
    next_.notify(cycles(least ? least : 1));
}

void SramModel::method()
{
    advance();
    reshare();
    schedule();
}

void SramModel::begin(Request &r, uint64_t bytes, uint64_t cap_fx)
{
    r.remaining_fx = bytes << kFracBits;
    r.cap_fx = cap_fx ? cap_fx : 1;
    r.rate_fx = 0;
    r.waiting = false;
    r.finished = bytes == 0;
    r.done->cancel(); // a notification left by the owner's previous request is not this one's
    if (r.finished)
        return;
    advance();
    active_.push_back(&r);
    reshare();
    schedule();
}

void SramModel::withdraw(Request &r)
{
    auto it = std::find(active_.begin(), active_.end(), &r);
    if (it == active_.end())
        return;
    advance();
    active_.erase(std::remove(active_.begin(), active_.end(), &r), active_.end());
    r.finished = true;
    reshare();
    schedule();
}

bool SramModel::finish(Request &r)
{
    if (!r.finished) {
        advance(); // served by now, as it is when the banks kept up
        if (!r.finished) {
            r.waiting = true;
            reshare();
            schedule();
        }
    }
    while (!r.finished) {
        wait(*r.done); // or the owner's abort (Device::notify_abort)
        if (!r.finished) { // aborted: withdraw
            withdraw(r);
            return false;
        }
    }
    return true;
}

uint64_t SramModel::cap_for(uint64_t bytes, uint64_t cycles_alone)
{
    if (cycles_alone == 0)
        return UINT64_MAX; // no time of its own: as fast as the banks allow
    return ((bytes << kFracBits) + cycles_alone - 1) / cycles_alone; // rounded up: done by then when alone
}

} // namespace m4npu
