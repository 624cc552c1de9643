/* onnx_internal.h -- shared by the importer and exporter only: TensorProto conversion. */
#ifndef M4NPU_RT_ONNX_INTERNAL_H
#define M4NPU_RT_ONNX_INTERNAL_H

#include "onnx.pb-c.h"
#include "onnx_io.h"

/* TensorProto -> a new value tensor named `name` (NULL: the proto's name). what ("initializer",
 * "Constant node 'x' value", ...) prefixes messages. base_dir resolves external data. */
rt_status onnx_tensor_from_proto(const Onnx__TensorProto *p, const char *name, const char *what,
                                 const char *base_dir, rt_tensor **out, rt_error *e);
/* Fill a TensorProto that points into t (no copies: valid while t lives). dims must have room
 * for RT_MAX_RANK entries. */
rt_status onnx_tensor_to_proto(const rt_tensor *t, Onnx__TensorProto *p, int64_t *dims, rt_error *e);

#endif
