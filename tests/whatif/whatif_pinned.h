/* whatif_pinned.h -- one module's latency on a preset with one key overridden, in-process and
 * timing-only: the measurement the pinned monotonicity cases (test_whatif_dma_order,
 * test_whatif_sram_tiling) compare between two values of a knob. */
#ifndef WHATIF_PINNED_H
#define WHATIF_PINNED_H

#include "m4.h"

/* total_s of `module` with parameters p on the preset at `preset` with key = value; fails the
 * running cmocka test (naming the key, the value and the module) on any error. */
double whatif_pinned_latency(const char *preset, const char *module, const m4_module_params *p,
                             const char *key, const char *value);

/* values: a NULL-terminated ladder of key's values, increasing hardware; fails the running test
 * (naming the step and both latencies) if a step up makes `module` slower. */
void whatif_pinned_assert_never_slower(const char *preset, const char *module, const m4_module_params *p,
                                       const char *key, const char *const *values);

#endif
