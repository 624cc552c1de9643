/* cpu_exec.h -- the CPU graph executor: runs a prepared graph (graph_prepare) with the FP32
 * reference kernels, inputs and outputs by name. This is the numerics reference the NPU path
 * is compared with, and the CPU-fallback engine of the partitioner (cpu_exec_node). */
#ifndef M4NPU_RT_CPU_EXEC_H
#define M4NPU_RT_CPU_EXEC_H

#include "graph.h"
#include "ops.h"

typedef struct cpu_exec cpu_exec;

/* Check that every node has a kernel and the nodes are in topological order. The graph must
 * outlive the executor and not change while it exists. */
rt_status cpu_exec_create(const rt_graph *g, cpu_exec **out, rt_error *e);
void cpu_exec_free(cpu_exec *x);
/* Keep every intermediate value after a run (default: freed after their last use). */
void cpu_exec_keep_intermediates(cpu_exec *x, bool keep);
/* Bind a graph input by name (the value is copied). Type must match; known dims must match. */
rt_status cpu_exec_set_input(cpu_exec *x, const char *name, const rt_tensor *value, rt_error *e);
/* Run every node. Errors name the node; a constant without data (a shape-only weight) is
 * RT_ERR_NO_DATA naming the tensor. */
rt_status cpu_exec_run(cpu_exec *x, rt_error *e);
/* After a run: a graph output (or, with keep_intermediates, any tensor) by name; NULL if none. */
const rt_tensor *cpu_exec_output(const cpu_exec *x, const char *name);
/* Number of kernel invocations of the last run (for reports and tests). */
int cpu_exec_nodes_run(const cpu_exec *x);

/* Threads OpenBLAS uses for the dense kernels' matrix products (its own choice, from the
 * machine and OPENBLAS_NUM_THREADS / OMP_NUM_THREADS; the kernels never change it). */
int cpu_exec_blas_threads(void);

/* Run one node of g on a value table indexed like g->tensors: infers the outputs' shapes from
 * the input values, allocates them (replacing values[t] for each output t) and runs the
 * kernel. Input values must carry data. */
rt_status cpu_exec_node(const rt_graph *g, int node, rt_tensor **values, rt_error *e);
/* The same with a subgraph runner for If, Loop and Scan (NULL: cpu_exec_body). A control-flow
 * node's outputs are sized and allocated by its kernel. */
rt_status cpu_exec_node_run(const rt_graph *g, int node, rt_tensor **values, const rt_body_runner *runner,
                            rt_error *e);
/* Run a prepared subgraph (the default rt_body_runner): args are values for body's inputs, then
 * its captures (borrowed, with data); results[k] receives a new value for output k (the caller
 * frees it). Nested control-flow nodes use runner (NULL: this function again). */
rt_status cpu_exec_body(const rt_graph *body, rt_tensor *const *args, rt_tensor **results,
                        const rt_body_runner *runner, rt_error *e);

#endif
