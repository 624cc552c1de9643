/* onnx_internal.h -- shared by the importer and exporter only: TensorProto conversion, where a
 * tensor's bytes come from, and the skim of large embedded tensor bytes (onnx_skim.c). */
#ifndef M4NPU_RT_ONNX_INTERNAL_H
#define M4NPU_RT_ONNX_INTERNAL_H

#include <stdbool.h>

#include "onnx.pb-c.h"
#include "onnx_io.h"

/* A field number onnx.proto does not use: the skim's marker in a TensorProto (offset and length
 * of its raw_data in the original bytes). */
#define ONNX_SKIM_FIELD 536870000u
/* Subgraphs nest; deeper than this the skim gives up (and the subgraph importer refuses). */
#define ONNX_SKIM_MAX_DEPTH 64

/* Where tensor bytes come from while importing one model. */
typedef struct onnx_data_src {
    const char *base_dir;   /* external data files resolve here; NULL: external data is refused */
    const uint8_t *bytes;   /* the model's original bytes: skimmed raw_data is read from them */
    size_t len;
    bool skimmed;           /* the unpacked message is a skim of bytes (markers are ours) */
    bool no_weight_data;    /* timing-only: tensors over ONNX_WEIGHT_MIN_BYTES get no data */
} onnx_data_src;

/* TensorProto -> a new value tensor named `name` (NULL: the proto's name). what ("initializer",
 * "Constant node 'x' value", ...) prefixes messages. src (may be NULL: no external data, no
 * skim) says where external and skimmed bytes are. */
rt_status onnx_tensor_from_proto(const Onnx__TensorProto *p, const char *name, const char *what,
                                 const onnx_data_src *src, rt_tensor **out, rt_error *e);
/* Fill a TensorProto that points into t (no copies: valid while t lives). dims must have room
 * for RT_MAX_RANK entries. */
rt_status onnx_tensor_to_proto(const rt_tensor *t, Onnx__TensorProto *p, int64_t *dims, rt_error *e);

/* A skimmed ModelProto (malloc'd bytes) and what it left out. */
typedef struct onnx_skim {
    uint8_t *bytes;
    size_t len;
    size_t n_skipped;        /* raw_data fields replaced by markers */
    uint64_t skipped_bytes;
} onnx_skim;

/* Skim bytes[0..len) (see onnx_skim.c); false when the skim gives up (parse the original). */
bool onnx_skim_model(const uint8_t *bytes, size_t len, onnx_skim *out);
/* The marker the skim left in p, if any. */
bool onnx_skim_marker(const Onnx__TensorProto *p, uint64_t *offset, uint64_t *length);

#endif
