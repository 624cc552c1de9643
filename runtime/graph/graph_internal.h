/* graph_internal.h -- what the graph passes share with the builder and nothing else may use:
 * the name index, the readers index and graph compaction after nodes or tensors are removed. */
#ifndef M4NPU_RT_GRAPH_INTERNAL_H
#define M4NPU_RT_GRAPH_INTERNAL_H

#include "graph.h"

/* Rebuild the name -> tensor index hash after tensors moved. */
rt_status graph_rebuild_index(rt_graph *g);
/* Remove the nodes with remove_node[i] set and the tensors with remove_tensor[t] set (either
 * array may be NULL), renumbering everything that refers to them. Removed tensors must not be
 * referenced by a kept node or the graph's inputs and outputs. */
rt_status graph_compact(rt_graph *g, const bool *remove_node, const bool *remove_tensor);
/* Recompute every tensor's producer from the nodes. */
void graph_relink_producers(rt_graph *g);
/* Does every node come after the producers of its inputs (producers linked)? A node reading its
 * own output is not in order. graph_topo.c. */
bool graph_is_sorted(const rt_graph *g);
/* Forget the readers index (graph_users.c): every change to the nodes calls it. */
void graph_users_drop(rt_graph *g);
void graph_node_clear(rt_node *n);
/* The attribute `name` of node `node`, cleared for a new value (created if absent); NULL with the
 * error recorded in the graph. */
rt_attr *graph_attr_slot(rt_graph *g, int node, const char *name);
void graph_attr_clear(rt_attr *a);

#endif
