/* partition_internal.h -- what partition.c and partition_cost.c share (not for callers). */
#ifndef M4NPU_PARTITION_INTERNAL_H
#define M4NPU_PARTITION_INTERNAL_H

#include "partition.h"

/* Order, segments, crossings and totals of a plan whose placement (node[].place) and per-node
 * costs (on_cpu, constant) are set; segments, crossings and totals must be empty. */
rt_status part_finish(const rt_graph *g, const m4npu_config *cfg, part_plan *p, rt_error *e);

/* PART_COST: search placements from the greedy plan *pp and replace it with the best of the
 * candidates (partition_cost.c). */
rt_status part_cost_refine(const rt_graph *g, const m4npu_config *cfg, const part_options *o, part_plan **pp,
                           rt_error *e);

#endif
