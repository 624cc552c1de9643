/* npy.c -- the strict .npy reader and the writer (see npy.h). The header is parsed by a small
 * recursive-descent reader of exactly the dict numpy writes, never by evaluating anything. */
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_PREAMBLE_V1 10 /* magic, 2 version bytes, 2-byte header length */
#define NPY_PREAMBLE_V2 12 /* ... 4-byte header length */
#define NPY_ALIGN 64       /* numpy pads the header so the data starts at a multiple of this */
#define NPY_MAX_V1_HEADER 65535u
#define NPY_MAX_FILE_BYTES (UINT64_C(4) << 30) /* RT_MAX_ALLOC_BYTES: no input is larger */

typedef struct npy_type {
    const char *code; /* "f4" ... (after the byte-order character) */
    rt_dtype dtype;
} npy_type;

static const npy_type npy_types[] = {
    {"f2", RT_DT_F16}, {"f4", RT_DT_F32}, {"f8", RT_DT_F64}, {"i1", RT_DT_I8},  {"i2", RT_DT_I16},
    {"i4", RT_DT_I32}, {"i8", RT_DT_I64}, {"u1", RT_DT_U8},  {"u2", RT_DT_U16}, {"u4", RT_DT_U32},
    {"u8", RT_DT_U64}, {"b1", RT_DT_BOOL},
};
#define N_NPY_TYPES (sizeof npy_types / sizeof npy_types[0])

/* ---- the header dict */

typedef struct hdr_parser {
    const char *s;
    size_t len, pos;
    const char *origin;
    rt_error *e;
} hdr_parser;

static void skip_ws(hdr_parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                               p->s[p->pos] == '\r'))
        p->pos++;
}

static rt_status hdr_fail(hdr_parser *p, const char *what)
{
    char near[24];
    size_t n = 0;
    for (size_t i = p->pos; i < p->len && p->s[i] != '\n' && n + 1 < sizeof near; i++)
        near[n++] = (p->s[i] >= 0x20 && p->s[i] < 0x7f) ? p->s[i] : '?';
    while (n && near[n - 1] == ' ') /* the padding says nothing */
        n--;
    near[n] = '\0';
    if (p->pos >= p->len)
        return rt_error_set(p->e, RT_ERR_PARSE, "%s: .npy header: %s at its end", p->origin, what);
    return rt_error_set(p->e, RT_ERR_PARSE, "%s: .npy header: %s at column %zu (near \"%s\")", p->origin, what,
                        p->pos + 1, near);
}

static bool take(hdr_parser *p, char c)
{
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

/* A quoted Python string ('...' or "...", no escapes needed by any key or descr). */
static rt_status parse_string(hdr_parser *p, char *out, size_t size)
{
    skip_ws(p);
    if (p->pos >= p->len || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
        return hdr_fail(p, "expected a quoted string");
    char q = p->s[p->pos++];
    size_t n = 0;
    while (p->pos < p->len && p->s[p->pos] != q) {
        if (p->s[p->pos] == '\\')
            return hdr_fail(p, "escapes in strings are not supported");
        if (n + 1 >= size)
            return hdr_fail(p, "string too long");
        out[n++] = p->s[p->pos++];
    }
    if (p->pos >= p->len)
        return hdr_fail(p, "unterminated string");
    p->pos++;
    out[n] = '\0';
    return RT_OK;
}

static rt_status parse_bool(hdr_parser *p, bool *v)
{
    skip_ws(p);
    if (p->len - p->pos >= 4 && memcmp(p->s + p->pos, "True", 4) == 0) {
        p->pos += 4;
        *v = true;
        return RT_OK;
    }
    if (p->len - p->pos >= 5 && memcmp(p->s + p->pos, "False", 5) == 0) {
        p->pos += 5;
        *v = false;
        return RT_OK;
    }
    return hdr_fail(p, "fortran_order: expected True or False");
}

/* (d0, d1, ...) with an optional trailing comma; () is a scalar. */
static rt_status parse_shape(hdr_parser *p, int *rank, int64_t *dims)
{
    if (!take(p, '('))
        return hdr_fail(p, "shape: expected a tuple such as (2, 3)");
    *rank = 0;
    for (;;) {
        if (take(p, ')'))
            return RT_OK;
        skip_ws(p);
        if (*rank == RT_MAX_RANK)
            return hdr_fail(p, "shape: more dimensions than the IR's maximum rank 8");
        size_t start = p->pos;
        int64_t v = 0;
        if (p->pos < p->len && p->s[p->pos] == '-')
            return hdr_fail(p, "shape: a negative dimension");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            if (v > (RT_MAX_ELEMENTS - 9) / 10)
                return hdr_fail(p, "shape: a dimension too large for the IR");
            v = v * 10 + (p->s[p->pos++] - '0');
        }
        if (p->pos == start)
            return hdr_fail(p, "shape: expected a non-negative integer");
        dims[(*rank)++] = v;
        if (take(p, ','))
            continue;
        if (take(p, ')'))
            return RT_OK;
        return hdr_fail(p, "shape: expected ',' or ')'");
    }
}

typedef struct npy_header {
    char descr[32];
    bool fortran;
    int rank;
    int64_t dims[RT_MAX_RANK];
} npy_header;

static rt_status parse_header(hdr_parser *p, npy_header *h)
{
    bool seen_descr = false, seen_order = false, seen_shape = false;
    rt_status s;
    if (!take(p, '{'))
        return hdr_fail(p, "expected a dict {'descr': ..., 'fortran_order': ..., 'shape': ...}");
    for (;;) {
        if (take(p, '}'))
            break;
        char key[32];
        if ((s = parse_string(p, key, sizeof key)) != RT_OK)
            return s;
        if (!take(p, ':'))
            return hdr_fail(p, "expected ':' after a key");
        if (strcmp(key, "descr") == 0) {
            if (seen_descr)
                return hdr_fail(p, "'descr' given twice");
            seen_descr = true;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == '[')
                return hdr_fail(p, "descr: structured arrays (a list of fields) are not supported");
            if ((s = parse_string(p, h->descr, sizeof h->descr)) != RT_OK)
                return s;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (seen_order)
                return hdr_fail(p, "'fortran_order' given twice");
            seen_order = true;
            if ((s = parse_bool(p, &h->fortran)) != RT_OK)
                return s;
        } else if (strcmp(key, "shape") == 0) {
            if (seen_shape)
                return hdr_fail(p, "'shape' given twice");
            seen_shape = true;
            if ((s = parse_shape(p, &h->rank, h->dims)) != RT_OK)
                return s;
        } else {
            return rt_error_set(p->e, RT_ERR_PARSE,
                                "%s: .npy header: unknown key '%s'; expected descr, fortran_order, shape", p->origin,
                                key);
        }
        if (take(p, ','))
            continue;
        if (take(p, '}'))
            break;
        return hdr_fail(p, "expected ',' or '}'");
    }
    skip_ws(p);
    if (p->pos != p->len)
        return hdr_fail(p, "text after the dict");
    const char *missing = !seen_descr ? "descr" : !seen_order ? "fortran_order" : !seen_shape ? "shape" : NULL;
    if (missing)
        return rt_error_set(p->e, RT_ERR_PARSE, "%s: .npy header: the key '%s' is missing", p->origin, missing);
    return RT_OK;
}

/* '<f4' -> dtype and whether the bytes need swapping on this (little-endian) host. */
static rt_status parse_descr(const char *descr, const char *origin, rt_dtype *dt, bool *swap, rt_error *e)
{
    char order = descr[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return rt_error_set(e, RT_ERR_DTYPE, "%s: .npy descr '%s': expected a byte order '<', '>', '|' or '='", origin,
                            descr);
    for (size_t i = 0; i < N_NPY_TYPES; i++) {
        if (strcmp(descr + 1, npy_types[i].code) != 0)
            continue;
        *dt = npy_types[i].dtype;
        *swap = order == '>' && rt_dtype_bits(*dt) > 8;
        return RT_OK;
    }
    const char *kind = descr[1] == 'c'   ? "complex numbers are"
                       : descr[1] == 'U' ? "unicode strings are"
                       : descr[1] == 'S' ? "byte strings are"
                       : descr[1] == 'O' ? "Python objects are"
                       : descr[1] == 'V' ? "void/structured types are"
                       : descr[1] == 'M' || descr[1] == 'm' ? "dates and times are"
                                                           : "this type is";
    return rt_error_set(e, RT_ERR_DTYPE,
                        "%s: .npy descr '%s': %s not supported; expected f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 "
                        "or b1",
                        origin, descr, kind);
}

static void swap_bytes(uint8_t *d, uint64_t n, unsigned size)
{
    for (uint64_t i = 0; i < n; i++, d += size)
        for (unsigned a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = d[a];
            d[a] = d[b];
            d[b] = t;
        }
}

/* Column-major data to row-major. */
static rt_status from_fortran(rt_tensor *t, unsigned size, rt_error *e)
{
    int64_t n = rt_tensor_numel(t);
    if (t->rank < 2 || n <= 1)
        return RT_OK;
    uint8_t *out = malloc((size_t)t->data_bytes);
    if (!out)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (reordering a Fortran-order .npy)");
    int64_t idx[RT_MAX_RANK] = {0}, fstride[RT_MAX_RANK];
    fstride[0] = 1;
    for (int d = 1; d < t->rank; d++)
        fstride[d] = fstride[d - 1] * t->dims[d - 1];
    const uint8_t *in = t->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < t->rank; d++)
            off += idx[d] * fstride[d];
        memcpy(out + (size_t)i * size, in + (size_t)off * size, size);
        for (int d = t->rank - 1; d >= 0; d--) {
            if (++idx[d] < t->dims[d])
                break;
            idx[d] = 0;
        }
    }
    free(t->data);
    t->data = out;
    return RT_OK;
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

rt_status npy_read_buffer(const uint8_t *buf, size_t len, const char *origin, const char *name, rt_tensor **out,
                          rt_error *e)
{
    *out = NULL;
    origin = origin ? origin : "<npy>";
    if (len < NPY_MAGIC_LEN || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return rt_error_set(e, RT_ERR_PARSE, "%s: not a .npy file (it does not start with \\x93NUMPY)", origin);
    if (len < NPY_PREAMBLE_V1)
        return rt_error_set(e, RT_ERR_PARSE, "%s: truncated .npy file (%zu bytes; the preamble alone needs %d)",
                            origin, len, NPY_PREAMBLE_V1);
    unsigned major = buf[6], minor = buf[7];
    size_t pre, hlen;
    if (major == 1) {
        pre = NPY_PREAMBLE_V1;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if (major == 2 || major == 3) {
        if (len < NPY_PREAMBLE_V2)
            return rt_error_set(e, RT_ERR_PARSE, "%s: truncated .npy file (%zu bytes; the preamble needs %d)", origin,
                                len, NPY_PREAMBLE_V2);
        pre = NPY_PREAMBLE_V2;
        hlen = le32(buf + 8);
    } else {
        return rt_error_set(e, RT_ERR_PARSE, "%s: .npy version %u.%u is not supported (expected 1.0, 2.0 or 3.0)",
                            origin, major, minor);
    }
    if (minor != 0)
        return rt_error_set(e, RT_ERR_PARSE, "%s: .npy version %u.%u is not supported (expected 1.0, 2.0 or 3.0)",
                            origin, major, minor);
    if (hlen > NPY_MAX_HEADER_BYTES)
        return rt_error_set(e, RT_ERR_PARSE, "%s: .npy header length %zu exceeds %u bytes", origin, hlen,
                            NPY_MAX_HEADER_BYTES);
    if (len - pre < hlen)
        return rt_error_set(e, RT_ERR_PARSE, "%s: truncated .npy file: the header claims %zu bytes, %zu remain", origin,
                            hlen, len - pre);
    const char *htext = (const char *)buf + pre;
    for (size_t i = 0; i < hlen; i++)
        if (htext[i] == '\0' || ((unsigned char)htext[i] >= 0x80 && major < 3))
            return rt_error_set(e, RT_ERR_PARSE, "%s: .npy header: byte %zu is not ASCII text", origin, i + 1);
    hdr_parser p = {htext, hlen, 0, origin, e};
    npy_header h;
    memset(&h, 0, sizeof h);
    rt_status s = parse_header(&p, &h);
    if (s != RT_OK)
        return s;
    rt_dtype dt = RT_DT_UNDEFINED;
    bool swap = false;
    if ((s = parse_descr(h.descr, origin, &dt, &swap, e)) != RT_OK)
        return s;
    if ((s = rt_shape_check(h.rank, h.dims, "the .npy shape", e)) != RT_OK) {
        rt_error_prefix(e, "%s", origin);
        return s;
    }
    rt_tensor tmp = {.dtype = dt, .rank = h.rank};
    memcpy(tmp.dims, h.dims, sizeof h.dims);
    uint64_t need = rt_tensor_nbytes(&tmp), have = len - pre - hlen;
    char shape[160];
    rt_shape_str(&tmp, shape, sizeof shape);
    if (rt_tensor_numel(&tmp) > 0 && need == 0)
        return rt_error_set(e, RT_ERR_LIMIT, "%s: the .npy shape %s is too large", origin, shape);
    if (need > NPY_MAX_FILE_BYTES)
        return rt_error_set(e, RT_ERR_LIMIT, "%s: the .npy shape %s of %s needs %llu bytes, more than the %llu allowed",
                            origin, shape, rt_dtype_name(dt), (unsigned long long)need,
                            (unsigned long long)NPY_MAX_FILE_BYTES);
    if (have < need)
        return rt_error_set(e, RT_ERR_DATA_SIZE,
                            "%s: truncated .npy data: %llu bytes, but shape %s of %s needs %llu", origin,
                            (unsigned long long)have, shape, rt_dtype_name(dt), (unsigned long long)need);
    if (have > need)
        return rt_error_set(e, RT_ERR_DATA_SIZE,
                            "%s: %llu bytes of data after the array (shape %s of %s needs %llu)", origin,
                            (unsigned long long)(have - need), shape, rt_dtype_name(dt), (unsigned long long)need);
    rt_tensor *t = rt_tensor_new(name ? name : "npy", dt, h.rank, h.dims);
    if (!t)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (%s)", origin);
    if ((s = rt_tensor_alloc(t, e)) != RT_OK) {
        rt_tensor_free(t);
        return s;
    }
    if (need)
        memcpy(t->data, buf + pre + hlen, (size_t)need);
    unsigned size = rt_dtype_bits(dt) / 8;
    if (swap)
        swap_bytes(t->data, (uint64_t)rt_tensor_numel(t), size);
    if (dt == RT_DT_BOOL)
        for (uint64_t i = 0; i < need; i++)
            if (((uint8_t *)t->data)[i] > 1) {
                unsigned v = ((uint8_t *)t->data)[i];
                rt_tensor_free(t);
                return rt_error_set(e, RT_ERR_PARSE, "%s: element %llu of a bool .npy array is %u, not 0 or 1", origin,
                                    (unsigned long long)i, v);
            }
    if (h.fortran && (s = from_fortran(t, size, e)) != RT_OK) {
        rt_tensor_free(t);
        return s;
    }
    *out = t;
    return RT_OK;
}

rt_status npy_read_file(const char *path, const char *name, rt_tensor **out, rt_error *e)
{
    *out = NULL;
    uint8_t *buf;
    size_t len;
    rt_status s = rt_read_file(path, (size_t)(NPY_MAX_FILE_BYTES + NPY_MAX_HEADER_BYTES), "an input this runtime takes",
                               &buf, &len, e);
    if (s != RT_OK)
        return s;
    s = npy_read_buffer(buf, len, path, name, out, e);
    free(buf);
    return s;
}

/* ---- writing */

static const char *descr_of(rt_dtype dt)
{
    for (size_t i = 0; i < N_NPY_TYPES; i++)
        if (npy_types[i].dtype == dt)
            return npy_types[i].code;
    return NULL;
}

rt_status npy_write_buffer(const rt_tensor *t, uint8_t **buf, size_t *len, rt_error *e)
{
    *buf = NULL;
    *len = 0;
    const char *code = descr_of(t->dtype);
    if (!code)
        return rt_error_set(e, RT_ERR_DTYPE, "tensor '%s': %s has no .npy type", t->name, rt_dtype_name(t->dtype));
    if (!rt_tensor_shape_known(t) || !t->data || t->data_bytes != rt_tensor_nbytes(t))
        return rt_error_set(e, RT_ERR_NO_DATA, "tensor '%s': no data of its full shape to write", t->name);
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                     rt_dtype_bits(t->dtype) > 8 ? '<' : '|', code);
    for (int d = 0; d < t->rank; d++) /* numpy's tuples: (), (5,), (2, 3) */
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", d ? ", " : "", (long long)t->dims[d]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", t->rank == 1 ? "," : "");
    size_t total_header = NPY_PREAMBLE_V1 + (size_t)n + 1;
    size_t padded = (total_header + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hlen = padded - NPY_PREAMBLE_V1;
    if (hlen > NPY_MAX_V1_HEADER)
        return rt_error_set(e, RT_ERR_LIMIT, "tensor '%s': .npy header too long", t->name);
    size_t size = padded + (size_t)t->data_bytes;
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (writing '%s')", t->name);
    memcpy(b, NPY_MAGIC, NPY_MAGIC_LEN);
    b[6] = 1;
    b[7] = 0;
    b[8] = (uint8_t)(hlen & 0xff);
    b[9] = (uint8_t)(hlen >> 8);
    memcpy(b + NPY_PREAMBLE_V1, dict, (size_t)n);
    memset(b + NPY_PREAMBLE_V1 + n, ' ', hlen - (size_t)n - 1);
    b[padded - 1] = '\n';
    if (t->data_bytes)
        memcpy(b + padded, t->data, (size_t)t->data_bytes);
    *buf = b;
    *len = size;
    return RT_OK;
}

rt_status npy_write_file(const rt_tensor *t, const char *path, rt_error *e)
{
    uint8_t *buf;
    size_t len;
    rt_status s = npy_write_buffer(t, &buf, &len, e);
    if (s != RT_OK)
        return s;
    s = rt_write_file(path, buf, len, e);
    free(buf);
    return s;
}
