/* insn_events.h -- the device's instruction event stream (npu_sim_set_insn_hook) in a canonical
 * order, for tests that compare two runs. Instructions that end in the same cycle on different
 * units come in an order SystemC decides: their units' timers are due at the same time, and the
 * kernel's timed-event queue (a heap keyed by time alone) releases them in an order that depends
 * on its history, so any change in the number of timed events (the control core's run-ahead,
 * a model that waits less) can swap them. The canonical order keeps the end cycles' order and
 * each unit's own order and sorts the units within a cycle. Tests only. */
#ifndef M4NPU_TESTS_INSN_EVENTS_H
#define M4NPU_TESTS_INSN_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "npu_sim.h"

/* Events arrive in nondecreasing end_cycle; an insertion sort by (end_cycle, unit) is stable,
 * so each unit's events keep their order, and it moves an event only within its own cycle. */
static inline void insn_events_canonical(npu_sim_insn_event *ev, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        npu_sim_insn_event x = ev[i];
        size_t j = i;
        while (j > 0 && (ev[j - 1].end_cycle > x.end_cycle ||
                         (ev[j - 1].end_cycle == x.end_cycle && ev[j - 1].unit > x.unit))) {
            ev[j] = ev[j - 1];
            j--;
        }
        ev[j] = x;
    }
}

/* Append e to the growing array *ev of *n events (capacity *cap, doubled from 1024 as needed):
 * for an instruction hook that records the stream. -1 (nothing appended) when out of memory. */
static inline int insn_events_append(npu_sim_insn_event **ev, size_t *n, size_t *cap, const npu_sim_insn_event *e)
{
    if (*n == *cap) {
        size_t grown = *cap ? 2 * *cap : 1024;
        npu_sim_insn_event *p = realloc(*ev, grown * sizeof *p);
        if (!p)
            return -1;
        *ev = p;
        *cap = grown;
    }
    (*ev)[(*n)++] = *e;
    return 0;
}

#endif
