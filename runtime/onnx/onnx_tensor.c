/* onnx_tensor.c -- TensorProto <-> IR tensor: raw_data, every typed field, external data files
 * (resolved next to the model, never outside it), raw_data the skim left in the model's bytes,
 * with the element count and byte size checked against the shape before anything is copied. A
 * timing-only import gives weights no data and reads none of their bytes. */
#define _XOPEN_SOURCE 700 /* realpath (X/Open): external data must resolve inside the model's directory */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_internal.h"

/* Does the tensor get data? Not a weight in a timing-only import. */
static bool wants_data(const onnx_data_src *src, uint64_t bytes)
{
    return !(src && src->no_weight_data && bytes > ONNX_WEIGHT_MIN_BYTES);
}

/* external data: location must be a relative path inside the model's directory (after symbolic
 * links are resolved), and the file must hold offset + the shape's bytes. */
static rt_status read_external(const Onnx__TensorProto *p, const char *tname, const char *what, const onnx_data_src *src,
                               uint64_t want, void **data, rt_error *e)
{
    const char *loc = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < p->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = p->external_data[i];
        if (!kv->key || !kv->value)
            continue;
        char *end;
        if (strcmp(kv->key, "location") == 0)
            loc = kv->value;
        else if (strcmp(kv->key, "offset") == 0) {
            errno = 0;
            offset = strtoll(kv->value, &end, 10);
            if (*end || !kv->value[0] || offset < 0 || errno)
                return rt_error_set(e, RT_ERR_PARSE, "%s '%s': bad external data offset '%s'", what, tname, kv->value);
        } else if (strcmp(kv->key, "length") == 0) {
            errno = 0;
            length = strtoll(kv->value, &end, 10);
            if (*end || !kv->value[0] || length < 0 || errno)
                return rt_error_set(e, RT_ERR_PARSE, "%s '%s': bad external data length '%s'", what, tname, kv->value);
        }
    }
    if (!loc || !*loc)
        return rt_error_set(e, RT_ERR_PARSE, "%s '%s': external data without a location", what, tname);
    if (!src || !src->base_dir)
        return rt_error_set(e, RT_ERR_UNSUPPORTED,
                            "%s '%s': weights in an external data file ('%s') need the model's directory; load the model from a file",
                            what, tname, loc);
    if (loc[0] == '/' || strstr(loc, "..") != NULL)
        return rt_error_set(e, RT_ERR_UNSUPPORTED,
                            "%s '%s': external data location '%s' must be a relative path inside the model's directory",
                            what, tname, loc);
    if (length >= 0 && (uint64_t)length != want)
        return rt_error_set(e, RT_ERR_DATA_SIZE, "%s '%s': external data length %lld, but the shape needs %llu bytes", what,
                            tname, (long long)length, (unsigned long long)want);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", src->base_dir, loc) >= sizeof path)
        return rt_error_set(e, RT_ERR_IO, "%s '%s': external data path too long", what, tname);
    char *real = realpath(path, NULL), *real_dir = realpath(src->base_dir, NULL);
    rt_status s = RT_OK;
    size_t dl = real_dir ? strlen(real_dir) : 0;
    struct stat st;
    if (!real || !real_dir)
        s = rt_error_set(e, RT_ERR_IO, "%s '%s': cannot open external data file %s: %s", what, tname, path,
                         strerror(errno));
    else if (strncmp(real, real_dir, dl) != 0 || (real[dl] != '/' && strcmp(real_dir, "/") != 0))
        s = rt_error_set(e, RT_ERR_UNSUPPORTED, "%s '%s': external data file %s resolves to %s, outside the model's directory",
                         what, tname, path, real);
    else if (stat(real, &st) != 0 || !S_ISREG(st.st_mode))
        s = rt_error_set(e, RT_ERR_IO, "%s '%s': external data file %s is not a regular file", what, tname, path);
    else if ((uint64_t)st.st_size < want || (uint64_t)offset > (uint64_t)st.st_size - want)
        s = rt_error_set(e, RT_ERR_DATA_SIZE, "%s '%s': external data file %s has fewer than %llu bytes at offset %lld",
                         what, tname, path, (unsigned long long)want, (long long)offset);
    if (s != RT_OK || !wants_data(src, want)) { /* a timing-only weight: checked, never read */
        free(real);
        free(real_dir);
        return s;
    }
    FILE *f = fopen(real, "rb");
    free(real);
    free(real_dir);
    if (!f)
        return rt_error_set(e, RT_ERR_IO, "%s '%s': cannot open external data file %s: %s", what, tname, path,
                            strerror(errno));
    void *buf = malloc(want ? want : 1);
    if (!buf)
        s = rt_error_set(e, RT_ERR_NOMEM, "%s '%s': out of memory", what, tname);
    else if (fseeko(f, (off_t)offset, SEEK_SET) != 0 || fread(buf, 1, want, f) != want)
        s = rt_error_set(e, RT_ERR_DATA_SIZE, "%s '%s': external data file %s has fewer than %llu bytes at offset %lld",
                         what, tname, path, (unsigned long long)want, (long long)offset);
    fclose(f);
    if (s != RT_OK) {
        free(buf);
        return s;
    }
    *data = buf;
    return RT_OK;
}

static rt_status count_mismatch(const char *what, const char *tname, const char *field, size_t got, int64_t want,
                                rt_error *e)
{
    return rt_error_set(e, RT_ERR_DATA_SIZE, "%s '%s': %zu values in %s, but the shape has %lld elements", what, tname,
                        got, field, (long long)want);
}

rt_status onnx_tensor_from_proto(const Onnx__TensorProto *p, const char *name, const char *what,
                                 const onnx_data_src *src, rt_tensor **out, rt_error *e)
{
    *out = NULL;
    const char *tname = name ? name : (p->name ? p->name : "");
    if (p->n_dims > RT_MAX_RANK)
        return rt_error_set(e, RT_ERR_LIMIT, "%s '%s': rank %zu exceeds %d", what, tname, p->n_dims, RT_MAX_RANK);
    int64_t dims[RT_MAX_RANK];
    for (size_t i = 0; i < p->n_dims; i++) {
        dims[i] = p->dims[i];
        if (dims[i] < 0)
            return rt_error_set(e, RT_ERR_SHAPE, "%s '%s': dimension %zu is negative (%lld)", what, tname, i,
                                (long long)dims[i]);
    }
    char label[300];
    snprintf(label, sizeof label, "%s '%s'", what, tname);
    rt_status s = rt_shape_check((int)p->n_dims, dims, label, e);
    if (s != RT_OK)
        return s;
    int dt = p->has_data_type ? p->data_type : 0;
    if (dt == RT_DT_STRING || !rt_dtype_storable(dt))
        return rt_error_set(e, RT_ERR_DTYPE, "%s '%s': data type %d (%s) is not supported", what, tname, dt,
                            dt == RT_DT_STRING ? "string" : dt == 0 ? "undefined" : dt == 14 || dt == 15 ? "complex" : "unknown");
    if (p->segment)
        return rt_error_set(e, RT_ERR_UNSUPPORTED, "%s '%s': segmented tensors are not supported", what, tname);
    rt_tensor *t = rt_tensor_new(tname, (rt_dtype)dt, (int)p->n_dims, dims);
    if (!t)
        return rt_error_set(e, RT_ERR_NOMEM, "%s '%s': out of memory", what, tname);
    t->kind = RT_TENSOR_CONSTANT;
    int64_t n = rt_tensor_numel(t);
    uint64_t bytes = rt_tensor_nbytes(t);
    bool external = (p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
                    p->n_external_data > 0;
    if (bytes > RT_MAX_ALLOC_BYTES) {
        rt_tensor_free(t);
        return rt_error_set(e, RT_ERR_LIMIT, "%s '%s': %llu bytes exceeds the %llu-byte limit", what, tname,
                            (unsigned long long)bytes, (unsigned long long)RT_MAX_ALLOC_BYTES);
    }
    if (external) {
        s = read_external(p, tname, what, src, bytes, &t->data, e);
        if (s != RT_OK) {
            rt_tensor_free(t);
            return s;
        }
        t->data_bytes = t->data ? bytes : 0;
        *out = t;
        return RT_OK;
    }
    uint64_t off, len;
    if (src && src->skimmed && onnx_skim_marker(p, &off, &len)) { /* raw_data left in the model's bytes */
        char sh[128];
        if (len != bytes || off > src->len || len > src->len - off) {
            s = rt_error_set(e, RT_ERR_DATA_SIZE, "%s '%s': %llu bytes of raw_data, but shape %s of %s needs %llu", what,
                             tname, (unsigned long long)len, rt_shape_str(t, sh, sizeof sh), rt_dtype_name(t->dtype),
                             (unsigned long long)bytes);
        } else if (wants_data(src, bytes) && (s = rt_tensor_alloc(t, e)) == RT_OK) {
            memcpy(t->data, src->bytes + off, bytes);
        }
        if (s != RT_OK) {
            rt_tensor_free(t);
            return s;
        }
        *out = t;
        return RT_OK;
    }
    if (p->has_raw_data) {
        if (p->raw_data.len != bytes) {
            char sh[128];
            rt_status st = rt_error_set(e, RT_ERR_DATA_SIZE, "%s '%s': %zu bytes of raw_data, but shape %s of %s needs %llu",
                                        what, tname, p->raw_data.len, rt_shape_str(t, sh, sizeof sh),
                                        rt_dtype_name(t->dtype), (unsigned long long)bytes);
            rt_tensor_free(t);
            return st;
        }
        if (!wants_data(src, bytes)) { /* a weight of a timing-only import (left unskimmed) */
            *out = t;
            return RT_OK;
        }
        if ((s = rt_tensor_alloc(t, e)) != RT_OK) {
            rt_tensor_free(t);
            return s;
        }
        if (bytes)
            memcpy(t->data, p->raw_data.data, bytes);
        *out = t;
        return RT_OK;
    }
    /* the typed field that holds this type's values: its count must match before anything is
     * allocated (a shape may claim gigabytes that the file does not have) */
    size_t got = 0;
    const char *field = "";
    switch (t->dtype) {
    case RT_DT_F32: got = p->n_float_data, field = "float_data"; break;
    case RT_DT_F64: got = p->n_double_data, field = "double_data"; break;
    case RT_DT_I64: got = p->n_int64_data, field = "int64_data"; break;
    case RT_DT_U32: case RT_DT_U64: got = p->n_uint64_data, field = "uint64_data"; break;
    default: got = p->n_int32_data, field = "int32_data"; break;
    }
    if (got != (size_t)n) {
        if (got == 0 && n > 0)
            s = rt_error_set(e, RT_ERR_DATA_SIZE, "%s '%s': no data (neither raw_data nor %s), shape has %lld elements",
                             what, tname, field, (long long)n);
        else
            s = count_mismatch(what, tname, field, got, n, e);
        rt_tensor_free(t);
        return s;
    }
    if (!wants_data(src, bytes)) { /* a weight of a timing-only import, in typed fields: never copied */
        *out = t;
        return RT_OK;
    }
    if ((s = rt_tensor_alloc(t, e)) != RT_OK) {
        rt_tensor_free(t);
        return s;
    }
    switch (t->dtype) {
    case RT_DT_F32:
        if (n > 0)
            memcpy(t->data, p->float_data, (size_t)n * sizeof(float));
        break;
    case RT_DT_F64:
        if (n > 0)
            memcpy(t->data, p->double_data, (size_t)n * sizeof(double));
        break;
    case RT_DT_I64:
        if (n > 0)
            memcpy(t->data, p->int64_data, (size_t)n * sizeof(int64_t));
        break;
    case RT_DT_U32:
    case RT_DT_U64:
        for (int64_t i = 0; i < n; i++) {
            if (t->dtype == RT_DT_U32)
                ((uint32_t *)t->data)[i] = (uint32_t)p->uint64_data[i];
            else
                ((uint64_t *)t->data)[i] = p->uint64_data[i];
        }
        break;
    default: /* i4 (one value per entry: ONNX 1.12 does not pack two), i32, i16, i8, u16, u8, bool, f16, bf16 */
        for (int64_t i = 0; i < n; i++) {
            int32_t v = p->int32_data[i];
            switch (t->dtype) {
            case RT_DT_I32: ((int32_t *)t->data)[i] = v; break;
            case RT_DT_I16: ((int16_t *)t->data)[i] = (int16_t)v; break;
            case RT_DT_I8: ((int8_t *)t->data)[i] = (int8_t)v; break;
            case RT_DT_U16: case RT_DT_F16: case RT_DT_BF16: ((uint16_t *)t->data)[i] = (uint16_t)v; break;
            case RT_DT_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
            case RT_DT_I4: {
                uint8_t *b = (uint8_t *)t->data + i / 2, nib = (uint8_t)(v & 0xf);
                *b = (i & 1) ? (uint8_t)((*b & 0x0f) | (nib << 4)) : (uint8_t)((*b & 0xf0) | nib);
                break;
            }
            default: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
            }
        }
        break;
    }
    *out = t;
    return RT_OK;
}

rt_status onnx_tensor_to_proto(const rt_tensor *t, Onnx__TensorProto *p, int64_t *dims, rt_error *e)
{
    onnx__tensor_proto__init(p);
    if (!t->data)
        return rt_error_set(e, RT_ERR_NO_DATA, "tensor '%s' has no data (a shape-only weight) and cannot be exported",
                            t->name);
    if (t->rank < 0)
        return rt_error_set(e, RT_ERR_SHAPE, "tensor '%s' has no known shape", t->name);
    for (int i = 0; i < t->rank; i++)
        dims[i] = t->dims[i];
    p->n_dims = (size_t)t->rank;
    p->dims = dims;
    p->has_data_type = 1;
    p->data_type = (int32_t)t->dtype;
    p->name = t->name;
    p->has_raw_data = 1;
    p->raw_data.len = (size_t)t->data_bytes;
    p->raw_data.data = t->data;
    return RT_OK;
}

rt_status onnx_load_tensor_buffer(const uint8_t *buf, size_t len, rt_tensor **out, rt_error *e)
{
    Onnx__TensorProto *p = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!p)
        return rt_error_set(e, RT_ERR_PARSE, "not a TensorProto: protobuf parse failed (truncated or corrupt)");
    rt_status s = onnx_tensor_from_proto(p, NULL, "tensor", NULL, out, e);
    onnx__tensor_proto__free_unpacked(p, NULL);
    return s;
}

rt_status onnx_load_tensor_file(const char *path, rt_tensor **out, rt_error *e)
{
    uint8_t *buf;
    size_t len;
    rt_status s = rt_read_file(path, 0, NULL, &buf, &len, e);
    if (s != RT_OK)
        return s;
    s = onnx_load_tensor_buffer(buf, len, out, e);
    free(buf);
    if (s != RT_OK)
        rt_error_prefix(e, "%s", path);
    return s;
}

rt_status onnx_save_tensor_buffer(const rt_tensor *t, uint8_t **buf, size_t *len, rt_error *e)
{
    Onnx__TensorProto p;
    int64_t dims[RT_MAX_RANK];
    rt_status s = onnx_tensor_to_proto(t, &p, dims, e);
    if (s != RT_OK)
        return s;
    size_t n = onnx__tensor_proto__get_packed_size(&p);
    *buf = malloc(n ? n : 1);
    if (!*buf)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory");
    *len = onnx__tensor_proto__pack(&p, *buf);
    return RT_OK;
}
