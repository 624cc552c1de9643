/* onnx_io.h -- ONNX files in and out of the graph IR, through protobuf-c code generated at
 * build time from libonnx-dev's onnx.proto (no hand-written protobuf parsing).
 *
 * Import reads initializers (raw_data or the typed fields, or external data files next to the
 * model), Constant nodes (turned into constant tensors), graph inputs/outputs with their
 * declared types and symbolic dimensions, attributes, subgraphs (If, Loop, Scan, nested) and
 * opset versions. A file is mapped, not read: large embedded tensor bytes are skipped while
 * parsing (onnx_skim.c) and copied from the file only when the tensor needs data. Every malformed, truncated or inconsistent
 * file gives an error naming the problem and, where there is one, the node or tensor; nothing
 * crashes. Export writes a graph back (constants as raw_data).
 */
#ifndef M4NPU_RT_ONNX_IO_H
#define M4NPU_RT_ONNX_IO_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

/* Initializers (and Constant values) larger than this are weights: a timing-only import gives
 * them a shape and a type but no data, and never reads their bytes (embedded or external). The
 * smaller ones -- shapes, axes, scales -- are read: inference needs them. */
#define ONNX_WEIGHT_MIN_BYTES RT_FOLD_MAX_BYTES_DEFAULT

typedef struct onnx_import_opts {
    /* Keep nodes whose op has no kernel (for listing and costing); only structural checks and
     * topological sorting are done then, not inference. */
    bool allow_unknown_ops;
    /* Skip graph_prepare (validate + sort + fold + dead-node removal + shape inference). */
    bool no_prepare;
    /* Timing only: weights (tensors over ONNX_WEIGHT_MIN_BYTES) get no data; their bytes are
     * never read (external data files are checked -- inside the model's directory, long enough
     * -- but not read). */
    bool no_weight_data;
} onnx_import_opts;

/* Messages are prefixed with the path. opts may be NULL (strict, prepared). */
rt_status onnx_import_file(const char *path, const onnx_import_opts *opts, rt_graph **out, rt_error *e);
/* base_dir resolves external data files (NULL: external data is rejected). */
rt_status onnx_import_buffer(const uint8_t *buf, size_t len, const char *base_dir, const onnx_import_opts *opts,
                             rt_graph **out, rt_error *e);
/* The op types a model's main graph uses, without importing it ("domain:Op" for ops of other
 * domains): lets a caller tell "needs an op we have no kernel for" from "malformed". The
 * caller frees each string and the array. */
rt_status onnx_model_op_types(const char *path, char ***types, int *n, rt_error *e);

/* A serialized TensorProto (the backend tests' input_N.pb / output_N.pb). */
rt_status onnx_load_tensor_file(const char *path, rt_tensor **out, rt_error *e);
rt_status onnx_load_tensor_buffer(const uint8_t *buf, size_t len, rt_tensor **out, rt_error *e);

/* Export; a constant without data (a shape-only weight) cannot be written: RT_ERR_NO_DATA. */
rt_status onnx_export_buffer(const rt_graph *g, uint8_t **buf, size_t *len, rt_error *e);
/* Atomic: written to a temporary file beside path, then renamed. */
rt_status onnx_export_file(const rt_graph *g, const char *path, rt_error *e);
/* A single tensor as a serialized TensorProto. */
rt_status onnx_save_tensor_buffer(const rt_tensor *t, uint8_t **buf, size_t *len, rt_error *e);

#endif
