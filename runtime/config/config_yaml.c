/* config_yaml.c -- libyaml's event stream turned into a small tree that keeps every node's
 * position, so that the schema walk (config_load.c) can name the line and column of any key.
 *
 * Built from events rather than libyaml's document loader so that features a configuration
 * never needs are refused at their position instead of being resolved: aliases (which expand
 * without bound and can form cycles), anchors, explicit tags, keys that are not scalars and
 * further documents. Nesting depth is bounded, so no input makes the walk recurse deeply.
 */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct builder {
    const char *text;
    size_t len;
    const char *origin;
    m4npu_config_error *err;
    config_node *stack[CONFIG_MAX_DEPTH];
    int depth;
    config_node *root;
    int documents;
} builder;

void config_node_free(config_node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++)
        config_node_free(node->items[i]);
    free(node->items);
    free(node->text);
    free(node);
}

/* The key path at the builder's position: the pending key of each open mapping, the index in
 * each open sequence. Bytes that are not printable are shown as '?'. */
static void builder_path(const builder *b, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int d = 0; d < b->depth && o + 1 < size; d++) {
        const config_node *f = b->stack[d];
        int child_open = d + 1 < b->depth; /* then f's last item is that open collection */
        if (f->type == CONFIG_NODE_SEQ) {
            o += (size_t)snprintf(buf + o, size - o, "[%zu]", child_open ? f->n - 1 : f->n);
            continue;
        }
        const config_node *key;
        if (child_open)
            key = f->items[f->n - 2];
        else if (f->n % 2 == 1)
            key = f->items[f->n - 1];
        else
            break; /* between keys: the path ends at this mapping */
        if (o && o + 1 < size)
            buf[o++] = '.';
        for (size_t i = 0; i < key->len && o + 1 < size; i++) {
            unsigned char c = (unsigned char)key->text[i];
            buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
        buf[o] = '\0';
    }
    if (o >= size)
        o = size - 1;
    buf[o] = '\0';
}

static m4npu_config_status fail_at(builder *b, m4npu_config_status st, yaml_mark_t mark, const char *what)
{
    char path[M4NPU_CONFIG_KEY_LEN];
    builder_path(b, path, sizeof path);
    return config_error(b->err, st, b->origin, (int)mark.line + 1, (int)mark.column + 1, path, "%s", what);
}

static config_node *node_new(config_node_type type, yaml_mark_t mark)
{
    config_node *n = calloc(1, sizeof *n);
    if (n) {
        n->type = type;
        n->line = (int)mark.line + 1;
        n->column = (int)mark.column + 1;
    }
    return n;
}

/* Attach a finished or opening node to the innermost open collection (or make it the root). */
static m4npu_config_status attach(builder *b, config_node *node, yaml_mark_t mark)
{
    if (b->depth == 0) {
        b->root = node;
        return M4NPU_CONFIG_OK;
    }
    config_node *parent = b->stack[b->depth - 1];
    if (parent->type == CONFIG_NODE_MAP && parent->n % 2 == 0 && node->type != CONFIG_NODE_SCALAR) {
        config_node_free(node);
        return fail_at(b, M4NPU_CONFIG_E_SYNTAX, mark, "a key must be a scalar, not a mapping or sequence");
    }
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        config_node **items = realloc(parent->items, cap * sizeof *items);
        if (!items) {
            config_node_free(node);
            return config_error(b->err, M4NPU_CONFIG_E_NOMEM, b->origin, 0, 0, NULL, "out of memory");
        }
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = node;
    return M4NPU_CONFIG_OK;
}

static m4npu_config_status refuse_decorations(builder *b, const yaml_event_t *ev, const yaml_char_t *anchor,
                                              const yaml_char_t *tag)
{
    if (anchor)
        return fail_at(b, M4NPU_CONFIG_E_SYNTAX, ev->start_mark, "anchors (&name) are not supported in configurations");
    if (tag)
        return fail_at(b, M4NPU_CONFIG_E_SYNTAX, ev->start_mark,
                       "explicit tags (!tag) are not supported in configurations");
    return M4NPU_CONFIG_OK;
}

static m4npu_config_status open_collection(builder *b, const yaml_event_t *ev, config_node_type type)
{
    if (b->depth == CONFIG_MAX_DEPTH)
        return fail_at(b, M4NPU_CONFIG_E_SYNTAX, ev->start_mark, "nested too deeply");
    config_node *node = node_new(type, ev->start_mark);
    if (!node)
        return config_error(b->err, M4NPU_CONFIG_E_NOMEM, b->origin, 0, 0, NULL, "out of memory");
    m4npu_config_status st = attach(b, node, ev->start_mark);
    if (st == M4NPU_CONFIG_OK)
        b->stack[b->depth++] = node;
    return st;
}

static m4npu_config_status add_scalar(builder *b, const yaml_event_t *ev)
{
    config_node *node = node_new(CONFIG_NODE_SCALAR, ev->start_mark);
    if (!node)
        return config_error(b->err, M4NPU_CONFIG_E_NOMEM, b->origin, 0, 0, NULL, "out of memory");
    size_t len = ev->data.scalar.length;
    node->text = malloc(len + 1);
    if (!node->text) {
        free(node);
        return config_error(b->err, M4NPU_CONFIG_E_NOMEM, b->origin, 0, 0, NULL, "out of memory");
    }
    memcpy(node->text, ev->data.scalar.value, len);
    node->text[len] = '\0';
    node->len = len;
    node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return attach(b, node, ev->start_mark);
}

static m4npu_config_status on_event(builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->documents++ > 0)
            return fail_at(b, M4NPU_CONFIG_E_SYNTAX, ev->start_mark,
                           "a second YAML document; a configuration is one document");
        return M4NPU_CONFIG_OK;
    case YAML_ALIAS_EVENT:
        return fail_at(b, M4NPU_CONFIG_E_SYNTAX, ev->start_mark, "aliases (*name) are not supported in configurations");
    case YAML_SCALAR_EVENT: {
        m4npu_config_status st = refuse_decorations(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
        return st ? st : add_scalar(b, ev);
    }
    case YAML_SEQUENCE_START_EVENT: {
        m4npu_config_status st = refuse_decorations(b, ev, ev->data.sequence_start.anchor,
                                                    ev->data.sequence_start.tag);
        return st ? st : open_collection(b, ev, CONFIG_NODE_SEQ);
    }
    case YAML_MAPPING_START_EVENT: {
        m4npu_config_status st = refuse_decorations(b, ev, ev->data.mapping_start.anchor,
                                                    ev->data.mapping_start.tag);
        return st ? st : open_collection(b, ev, CONFIG_NODE_MAP);
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return M4NPU_CONFIG_OK;
    default:
        return M4NPU_CONFIG_OK;
    }
}

/* Line and column of a byte offset (libyaml's reader errors give only the offset). */
static void offset_position(const char *text, size_t len, size_t off, int *line, int *column)
{
    int l = 1;
    size_t start = 0;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++)
        if (text[i] == '\n')
            l++, start = i + 1;
    *line = l;
    *column = (int)(off - start) + 1;
}

static m4npu_config_status parser_error(builder *b, const yaml_parser_t *p)
{
    char path[M4NPU_CONFIG_KEY_LEN];
    builder_path(b, path, sizeof path);
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_MEMORY_ERROR)
        return config_error(b->err, M4NPU_CONFIG_E_NOMEM, b->origin, 0, 0, NULL, "out of memory");
    if (p->error == YAML_READER_ERROR) {
        int line, column;
        offset_position(b->text, b->len, p->problem_offset, &line, &column);
        if (p->problem_value != -1)
            return config_error(b->err, M4NPU_CONFIG_E_SYNTAX, b->origin, line, column, path,
                                "malformed YAML: %s (byte 0x%02x)", problem, (unsigned)p->problem_value & 0xffu);
        return config_error(b->err, M4NPU_CONFIG_E_SYNTAX, b->origin, line, column, path, "malformed YAML: %s",
                            problem);
    }
    int line = (int)p->problem_mark.line + 1, column = (int)p->problem_mark.column + 1;
    if (p->context)
        return config_error(b->err, M4NPU_CONFIG_E_SYNTAX, b->origin, line, column, path,
                            "malformed YAML: %s %s (line %d, column %d)", problem, p->context,
                            (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    return config_error(b->err, M4NPU_CONFIG_E_SYNTAX, b->origin, line, column, path, "malformed YAML: %s", problem);
}

m4npu_config_status config_yaml_parse(const char *text, size_t len, const char *origin, config_node **root,
                                      m4npu_config_error *err)
{
    builder b = {.text = text, .len = len, .origin = origin, .err = err};
    yaml_parser_t parser;
    *root = NULL;
    if (!yaml_parser_initialize(&parser))
        return config_error(err, M4NPU_CONFIG_E_NOMEM, origin, 0, 0, NULL, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    m4npu_config_status st = M4NPU_CONFIG_OK;
    for (int done = 0; !done && st == M4NPU_CONFIG_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = parser_error(&b, &parser);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        st = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (st != M4NPU_CONFIG_OK) {
        config_node_free(b.root);
        return st;
    }
    *root = b.root;
    return M4NPU_CONFIG_OK;
}
