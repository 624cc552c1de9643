/* chain.h -- a chain of elementwise nodes of any length, built with the graph builder: the input
 * of the scale benchmark (`m4npu bench --scale`), which times import, preparation, partitioning and
 * segment building as the graph doubles in size. The ops repeat Add, Relu, Sin, Mul: Sin is not in
 * the shipped capability sets, so the chain splits into one NPU segment per four nodes, with a
 * crossing each way, which is what makes partitioning and segment building work. Input "x" [1, 16]
 * f32; output "y"; one shared constant "c" [16]. */
#ifndef M4NPU_CHAIN_H
#define M4NPU_CHAIN_H

#include "graph.h"

#define CHAIN_WIDTH 16 /* elements per tensor: tiny, so that the graph's size dominates */

/* The chain of n_nodes (>= 1) nodes, not prepared (as an importer builds it). NULL on error. */
rt_graph *model_elementwise_chain(int n_nodes, rt_error *e);

#endif
