/* onnx_skim.c -- a copy of a serialized ModelProto without its large embedded tensor bytes.
 *
 * protobuf-c's unpack copies every bytes field, so a model with 1 GB of weights in raw_data costs
 * 1 GB (more with the file read into memory) before a single shape is known; a timing-only run
 * needs none of those bytes. This skim walks the wire format along the few paths where tensors
 * live -- ModelProto.graph, GraphProto.initializer and .node, NodeProto.attribute,
 * AttributeProto.t/.g/.tensors/.graphs, and subgraphs recursively -- and copies every other field
 * verbatim. A TensorProto's raw_data longer than ONNX_WEIGHT_MIN_BYTES is replaced by a field
 * with a number onnx.proto does not use (ONNX_SKIM_FIELD), holding the (offset, length) of the
 * bytes in the original buffer; protobuf-c keeps it as an unknown field, and the importer reads
 * the bytes from there only if it needs them (never in a timing-only run). Nothing else is
 * interpreted: the skimmed message is parsed by protobuf-c like the original.
 *
 * It is not a protobuf parser: it reads keys and lengths only, and gives up (returns false) on
 * anything unexpected -- a group, a truncated field, nesting deeper than ONNX_SKIM_MAX_DEPTH --
 * in which case the importer parses the original bytes and protobuf-c decides. */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

#define WIRE_VARINT 0
#define WIRE_I64 1
#define WIRE_LEN 2
#define WIRE_I32 5
#define VARINT_MAX_BYTES 10
#define MARKER_BYTES 16 /* offset and length, little-endian u64 each */

/* Field numbers of onnx.proto on the paths the skim walks. */
#define MODEL_GRAPH 7
#define GRAPH_NODE 1
#define GRAPH_INITIALIZER 5
#define NODE_ATTRIBUTE 5
#define ATTR_T 5
#define ATTR_G 6
#define ATTR_TENSORS 11
#define ATTR_GRAPHS 10
#define TENSOR_RAW_DATA 9

typedef enum msg_kind { MSG_MODEL, MSG_GRAPH, MSG_NODE, MSG_ATTRIBUTE, MSG_TENSOR, MSG_OTHER } msg_kind;

/* The kind of sub-message field `field` of a `parent` message is, or MSG_OTHER (copied). */
static msg_kind child_kind(msg_kind parent, uint64_t field)
{
    switch (parent) {
    case MSG_MODEL:
        return field == MODEL_GRAPH ? MSG_GRAPH : MSG_OTHER;
    case MSG_GRAPH:
        return field == GRAPH_INITIALIZER ? MSG_TENSOR : field == GRAPH_NODE ? MSG_NODE : MSG_OTHER;
    case MSG_NODE:
        return field == NODE_ATTRIBUTE ? MSG_ATTRIBUTE : MSG_OTHER;
    case MSG_ATTRIBUTE:
        return field == ATTR_T || field == ATTR_TENSORS ? MSG_TENSOR
             : field == ATTR_G || field == ATTR_GRAPHS ? MSG_GRAPH
                                                       : MSG_OTHER;
    default:
        return MSG_OTHER;
    }
}

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static bool put(buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n)
            nc *= 2;
        uint8_t *p = realloc(b->p, nc);
        if (!p)
            return false;
        b->p = p;
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
    return true;
}

static bool put_varint(buf *b, uint64_t v)
{
    uint8_t tmp[VARINT_MAX_BYTES];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return put(b, tmp, n);
}

static bool get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 7 * VARINT_MAX_BYTES; shift += 7) {
        if (*pos >= len)
            return false;
        uint8_t byte = p[(*pos)++];
        *v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return true;
    }
    return false;
}

typedef struct field {
    uint64_t number;
    unsigned wire;
    size_t start, end;             /* the whole field, key included */
    size_t payload, payload_len;   /* a LEN field's bytes */
} field;

/* The next field of msg[0..len) at *pos. */
static bool next_field(const uint8_t *msg, size_t len, size_t *pos, field *f)
{
    f->start = *pos;
    uint64_t key, v;
    if (!get_varint(msg, len, pos, &key))
        return false;
    f->number = key >> 3;
    f->wire = (unsigned)(key & 7);
    switch (f->wire) {
    case WIRE_VARINT:
        if (!get_varint(msg, len, pos, &v))
            return false;
        break;
    case WIRE_I64:
    case WIRE_I32: {
        size_t w = f->wire == WIRE_I64 ? 8 : 4;
        if (len - *pos < w)
            return false;
        *pos += w;
        break;
    }
    case WIRE_LEN:
        if (!get_varint(msg, len, pos, &v) || v > len - *pos)
            return false;
        f->payload = *pos;
        f->payload_len = (size_t)v;
        *pos += (size_t)v;
        break;
    default:
        return false; /* groups (deprecated) and invalid wire types: leave it to protobuf-c */
    }
    f->end = *pos;
    return true;
}

typedef struct skim_ctx {
    const uint8_t *base; /* the whole original buffer: markers hold offsets into it */
    size_t n_skipped;
    uint64_t skipped_bytes;
} skim_ctx;

static bool skim_message(skim_ctx *c, const uint8_t *msg, size_t len, msg_kind kind, int depth, buf *out);

/* A TensorProto: every raw_data but the last is dropped (protobuf keeps the last); the last is
 * kept if small, else replaced by the marker. Fields numbered ONNX_SKIM_FIELD are dropped. */
static bool skim_tensor(skim_ctx *c, const uint8_t *msg, size_t len, buf *out)
{
    size_t pos = 0, last_raw = SIZE_MAX;
    field f;
    while (pos < len) {
        if (!next_field(msg, len, &pos, &f))
            return false;
        if (f.number == TENSOR_RAW_DATA && f.wire == WIRE_LEN)
            last_raw = f.start;
    }
    for (pos = 0; pos < len;) {
        next_field(msg, len, &pos, &f);
        if (f.number == ONNX_SKIM_FIELD)
            continue;
        if (f.number == TENSOR_RAW_DATA && f.wire == WIRE_LEN) {
            if (f.start != last_raw)
                continue;
            if (f.payload_len > ONNX_WEIGHT_MIN_BYTES) {
                uint8_t marker[MARKER_BYTES];
                uint64_t off = (uint64_t)(msg + f.payload - c->base), n = f.payload_len;
                for (int i = 0; i < 8; i++) {
                    marker[i] = (uint8_t)(off >> (8 * i));
                    marker[8 + i] = (uint8_t)(n >> (8 * i));
                }
                if (!put_varint(out, ((uint64_t)ONNX_SKIM_FIELD << 3) | WIRE_LEN) || !put_varint(out, MARKER_BYTES) ||
                    !put(out, marker, MARKER_BYTES))
                    return false;
                c->n_skipped++;
                c->skipped_bytes += n;
                continue;
            }
        }
        if (!put(out, msg + f.start, f.end - f.start))
            return false;
    }
    return true;
}

static bool skim_message(skim_ctx *c, const uint8_t *msg, size_t len, msg_kind kind, int depth, buf *out)
{
    if (depth > ONNX_SKIM_MAX_DEPTH)
        return false;
    if (kind == MSG_TENSOR)
        return skim_tensor(c, msg, len, out);
    size_t pos = 0;
    field f;
    while (pos < len) {
        if (!next_field(msg, len, &pos, &f))
            return false;
        msg_kind ck = f.wire == WIRE_LEN ? child_kind(kind, f.number) : MSG_OTHER;
        if (ck == MSG_OTHER) {
            if (!put(out, msg + f.start, f.end - f.start))
                return false;
            continue;
        }
        buf sub = {0};
        bool ok = skim_message(c, msg + f.payload, f.payload_len, ck, depth + 1, &sub) &&
                  put_varint(out, (f.number << 3) | WIRE_LEN) && put_varint(out, sub.n) && put(out, sub.p, sub.n);
        free(sub.p);
        if (!ok)
            return false;
    }
    return true;
}

bool onnx_skim_model(const uint8_t *bytes, size_t len, onnx_skim *out)
{
    memset(out, 0, sizeof *out);
    skim_ctx c = {.base = bytes};
    buf b = {0};
    if (!skim_message(&c, bytes, len, MSG_MODEL, 0, &b)) {
        free(b.p);
        return false;
    }
    out->bytes = b.p;
    out->len = b.n;
    out->n_skipped = c.n_skipped;
    out->skipped_bytes = c.skipped_bytes;
    return true;
}

bool onnx_skim_marker(const Onnx__TensorProto *p, uint64_t *offset, uint64_t *length)
{
    bool found = false;
    for (unsigned i = 0; i < p->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *u = &p->base.unknown_fields[i];
        /* protobuf-c keeps a length-delimited unknown field's length prefix in its data */
        if (u->tag != ONNX_SKIM_FIELD || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
            u->len != 1 + MARKER_BYTES || u->data[0] != MARKER_BYTES)
            continue;
        const uint8_t *d = u->data + 1;
        *offset = *length = 0;
        for (int k = 0; k < 8; k++) {
            *offset |= (uint64_t)d[k] << (8 * k);
            *length |= (uint64_t)d[8 + k] << (8 * k);
        }
        found = true; /* the skim writes at most one; the last wins like protobuf's own fields */
    }
    return found;
}
