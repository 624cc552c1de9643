/* npy.h -- NumPy .npy files to and from rt_tensor, for `m4npu run`'s inputs and outputs.
 *
 * Debian has no C library for the format, and it is small: a magic string, a version, a header
 * that is a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }, then
 * the raw array. The reader accepts versions 1.0, 2.0 and 3.0; little- and big-endian (swapped)
 * and byte-sized types: f2 f4 f8, i1 i2 i4 i8, u1 u2 u4 u8, b1; C or Fortran order (Fortran is
 * reordered). Everything else is an error that says what was found and what was expected: a
 * wrong magic, an unknown version, a header that is not such a dict (missing, duplicate or unknown
 * keys, malformed values), an unsupported type (complex, strings, objects, structured arrays), a
 * shape beyond the IR's limits, and data shorter or longer than the shape needs. The writer
 * writes version 1.0, little-endian, C order, its header padded to 64 bytes as numpy does, and
 * files atomically (a temporary beside the target, then a rename).
 */
#ifndef M4NPU_NPY_H
#define M4NPU_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

#define NPY_MAX_HEADER_BYTES (1u << 20) /* far beyond any real header; bounds what is parsed */

/* Parse a whole .npy image; origin names it in messages ("FILE: ..."). The tensor's name is
 * `name` (may be NULL: "npy"). */
rt_status npy_read_buffer(const uint8_t *buf, size_t len, const char *origin, const char *name, rt_tensor **out,
                          rt_error *e);
rt_status npy_read_file(const char *path, const char *name, rt_tensor **out, rt_error *e);

/* Serialise a tensor with data (every storable type but i4 and bf16, which numpy lacks). */
rt_status npy_write_buffer(const rt_tensor *t, uint8_t **buf, size_t *len, rt_error *e);
rt_status npy_write_file(const rt_tensor *t, const char *path, rt_error *e);

#endif
