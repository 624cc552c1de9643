/* run_internal.h -- what the run pipeline's files share (run.c, run_reference.c); not for
 * callers outside runtime/run. */
#ifndef M4NPU_RUN_INTERNAL_H
#define M4NPU_RUN_INTERNAL_H

#include "run.h"

/* The value of every graph input into vals[t] (owned[t] set): given (checked against the
 * declaration, floats converted to the input's type) or generated from r->seed; the names of
 * generated inputs go to r->generated. */
rt_status run_bind_inputs(const rt_graph *g, const run_options *o, run_result *r, rt_tensor **vals, bool *owned,
                          rt_error *e);

#endif
