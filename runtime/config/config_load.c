/* config_load.c -- the strict loader: walk the YAML tree against the schema, apply overrides,
 * run the checks, and say exactly where anything is wrong.
 *
 * The walk knows only the schema (config_schema.c): at each mapping the expected keys are the
 * next components of the rows' paths below it, so nested sections need no code of their own.
 * Every value's position is kept, so that a check that runs later (the device's own
 * npu_config_check, which knows no YAML) is reported at the line that set the key it names, or
 * at the --set override that set it.
 */
#include "config_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#define CONFIG_MAX_FILE_BYTES (16u * 1024u * 1024u) /* no configuration is anywhere near this */

/* Where the value of each row came from. */
typedef struct value_origin {
    int line, column; /* in the file; 0: not from the file */
    size_t override;  /* 1 + index of the --set that set it last; 0: none */
} value_origin;

typedef struct load_ctx {
    const char *origin; /* the file's name */
    m4npu_config *cfg;
    m4npu_config_error *err;
    const char *const *assignments;
    value_origin where[M4NPU_CONFIG_MAX_KEYS];
} load_ctx;

m4npu_config_status config_error(m4npu_config_error *err, m4npu_config_status st, const char *origin, int line,
                                 int column, const char *key, const char *fmt, ...)
{
    if (!err)
        return st;
    memset(err, 0, sizeof *err);
    err->status = st;
    snprintf(err->origin, sizeof err->origin, "%s", origin ? origin : "");
    snprintf(err->key, sizeof err->key, "%s", key ? key : "");
    err->line = line > 0 ? line : 0;
    err->column = line > 0 ? column : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
    size_t o = 0;
    if (err->origin[0] && err->line)
        o = (size_t)snprintf(err->msg, sizeof err->msg, "%s:%d:%d: ", err->origin, err->line, err->column);
    else if (err->origin[0])
        o = (size_t)snprintf(err->msg, sizeof err->msg, "%s: ", err->origin);
    if (o < sizeof err->msg && err->key[0])
        o += (size_t)snprintf(err->msg + o, sizeof err->msg - o, "%s: ", err->key);
    if (o < sizeof err->msg)
        snprintf(err->msg + o, sizeof err->msg - o, "%s", err->reason);
    return st;
}

/* ---- positions of values */

/* Report a problem with the value of `key` where that value came from. */
static m4npu_config_status error_at_value(load_ctx *c, m4npu_config_status st, const char *key, const char *reason)
{
    const m4npu_cfg_key *k = m4npu_config_key_find(key);
    if (k) {
        const value_origin *w = &c->where[config_key_index(k)];
        if (w->override) {
            char origin[sizeof c->err->origin];
            snprintf(origin, sizeof origin, "--set %s", c->assignments[w->override - 1]);
            return config_error(c->err, st, origin, 0, 0, key, "%s", reason);
        }
        if (w->line)
            return config_error(c->err, st, c->origin, w->line, w->column, key, "%s", reason);
    }
    return config_error(c->err, st, c->origin, 0, 0, key, "%s", reason);
}

/* Split a check's "KEY: reason" message. */
static void split_check_message(const char *msg, char *key, size_t ksize, const char **reason)
{
    const char *sep = strstr(msg, ": ");
    if (!sep || (size_t)(sep - msg) >= ksize || memchr(msg, ' ', (size_t)(sep - msg))) {
        key[0] = '\0';
        *reason = msg;
        return;
    }
    memcpy(key, msg, (size_t)(sep - msg));
    key[sep - msg] = '\0';
    *reason = sep + 2;
}

/* Every key's value, then each section's own check. */
static m4npu_config_status validate(load_ctx *c)
{
    char reason[sizeof c->err->reason];
    for (size_t s = 0; s < m4npu_config_section_count(); s++) {
        const m4npu_cfg_section *sec = m4npu_config_section_at(s);
        for (size_t i = 0; i < sec->nkeys; i++) {
            const m4npu_cfg_key *k = &sec->keys[i];
            m4npu_config_status st = config_value_check(k, c->cfg, reason, sizeof reason);
            if (st != M4NPU_CONFIG_OK)
                return error_at_value(c, st, k->path, reason);
        }
        if (sec->check) {
            char msg[sizeof c->err->reason];
            msg[0] = '\0';
            if (sec->check(c->cfg, msg, sizeof msg) != 0) {
                char key[M4NPU_CONFIG_KEY_LEN];
                const char *why;
                split_check_message(msg, key, sizeof key, &why);
                return error_at_value(c, M4NPU_CONFIG_E_DEVICE, key, why);
            }
        }
    }
    return M4NPU_CONFIG_OK;
}

m4npu_config_status m4npu_config_validate(const m4npu_config *cfg, m4npu_config_error *err)
{
    load_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = (m4npu_config *)cfg; /* validate() only reads it */
    c.err = err;
    return validate(&c);
}

/* ---- the walk */

static const char *node_kind_name(const config_node *n)
{
    if (n->type == CONFIG_NODE_MAP)
        return "a mapping";
    if (n->type == CONFIG_NODE_SEQ)
        return "a sequence";
    return n->len == 0 && n->plain ? "nothing" : "a scalar";
}

static const char *key_kind_name(const m4npu_cfg_key *k)
{
    switch (k->kind) {
    case M4NPU_CFG_U32:
    case M4NPU_CFG_U64:
        return "an unsigned integer";
    case M4NPU_CFG_BYTES:
        return "a size in bytes";
    case M4NPU_CFG_F64:
        return "a number";
    case M4NPU_CFG_ENUM:
        return "a name";
    case M4NPU_CFG_STR:
        return "a string";
    case M4NPU_CFG_OPS:
        return "a mapping of op names";
    }
    return "a value";
}

static int join_path(char *buf, size_t size, const char *prefix, const char *name, size_t len)
{
    int n = prefix[0] ? snprintf(buf, size, "%s.%.*s", prefix, (int)len, name)
                      : snprintf(buf, size, "%.*s", (int)len, name);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

/* A key's text made printable for a message (and NUL-free). */
static void printable_key(const config_node *key, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < key->len && o + 1 < size; i++) {
        unsigned char ch = (unsigned char)key->text[i];
        buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    buf[o] = '\0';
}

static m4npu_config_status walk_map(load_ctx *c, const config_node *map, const char *prefix, int owner_line,
                                    int owner_column);

static m4npu_config_status walk_value(load_ctx *c, const config_node *key, const config_node *val, const char *path)
{
    const m4npu_cfg_key *k = m4npu_config_key_find(path);
    char reason[sizeof c->err->reason];
    if (k && k->kind == M4NPU_CFG_OPS) {
        if (val->type != CONFIG_NODE_MAP)
            return config_error(c->err, M4NPU_CONFIG_E_TYPE, c->origin, val->line, val->column, path,
                                "expected %s (e.g. MatMul: on), got %s", key_kind_name(k), node_kind_name(val));
        m4npu_config_status st = config_ops_walk(val, c->origin, c->cfg, c->err);
        if (st != M4NPU_CONFIG_OK)
            return st;
        value_origin *w = &c->where[config_key_index(k)];
        w->line = val->line;
        w->column = val->column;
        return M4NPU_CONFIG_OK;
    }
    if (k) {
        if (val->type != CONFIG_NODE_SCALAR)
            return config_error(c->err, M4NPU_CONFIG_E_TYPE, c->origin, val->line, val->column, path,
                                "expected %s, got %s", key_kind_name(k), node_kind_name(val));
        m4npu_config_status st = config_value_parse(k, val->text, val->len, val->plain, c->cfg, reason,
                                                    sizeof reason);
        if (st != M4NPU_CONFIG_OK)
            return config_error(c->err, st, c->origin, val->line, val->column, path, "%s", reason);
        value_origin *w = &c->where[config_key_index(k)];
        w->line = val->line;
        w->column = val->column;
        return M4NPU_CONFIG_OK;
    }
    if (val->type != CONFIG_NODE_MAP) {
        char keys[256];
        config_children_list(path, keys, sizeof keys);
        return config_error(c->err, M4NPU_CONFIG_E_STRUCTURE, c->origin, val->line, val->column, path,
                            "expected a mapping with keys %s, got %s", keys, node_kind_name(val));
    }
    return walk_map(c, val, path, key->line, key->column);
}

static m4npu_config_status walk_map(load_ctx *c, const config_node *map, const char *prefix, int owner_line,
                                    int owner_column)
{
    const char *names[M4NPU_CONFIG_MAX_KEYS];
    size_t lens[M4NPU_CONFIG_MAX_KEYS];
    unsigned char seen[M4NPU_CONFIG_MAX_KEYS] = {0};
    size_t nchildren = config_children(prefix, names, lens, M4NPU_CONFIG_MAX_KEYS);
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const config_node *key = map->items[i], *val = map->items[i + 1];
        char shown[M4NPU_CONFIG_KEY_LEN], path[M4NPU_CONFIG_KEY_LEN];
        printable_key(key, shown, sizeof shown);
        for (size_t j = 0; j < i; j += 2) {
            const config_node *prev = map->items[j];
            if (prev->len == key->len && memcmp(prev->text, key->text, key->len) == 0) {
                join_path(path, sizeof path, prefix, shown, strlen(shown));
                return config_error(c->err, M4NPU_CONFIG_E_DUPLICATE_KEY, c->origin, key->line, key->column, path,
                                    "duplicate key (first at line %d, column %d)", prev->line, prev->column);
            }
        }
        size_t ch = 0;
        while (ch < nchildren && !(lens[ch] == key->len && memcmp(names[ch], key->text, key->len) == 0))
            ch++;
        if (ch == nchildren) {
            char keys[256];
            config_children_list(prefix, keys, sizeof keys);
            join_path(path, sizeof path, prefix, shown, strlen(shown));
            return config_error(c->err, M4NPU_CONFIG_E_UNKNOWN_KEY, c->origin, key->line, key->column, path,
                                "unknown key; expected one of: %s", keys);
        }
        seen[ch] = 1;
        if (join_path(path, sizeof path, prefix, names[ch], lens[ch]) != 0)
            return config_error(c->err, M4NPU_CONFIG_E_UNKNOWN_KEY, c->origin, key->line, key->column, shown,
                                "key path too long");
        m4npu_config_status st = walk_value(c, key, val, path);
        if (st != M4NPU_CONFIG_OK)
            return st;
    }
    for (size_t ch = 0; ch < nchildren; ch++) {
        if (seen[ch])
            continue;
        char path[M4NPU_CONFIG_KEY_LEN];
        join_path(path, sizeof path, prefix, names[ch], lens[ch]);
        if (prefix[0])
            return config_error(c->err, M4NPU_CONFIG_E_MISSING_KEY, c->origin, owner_line, owner_column, path,
                                "missing key (required in %s)", prefix);
        return config_error(c->err, M4NPU_CONFIG_E_MISSING_KEY, c->origin, owner_line, owner_column, path,
                            "missing key (required at the top level)");
    }
    return M4NPU_CONFIG_OK;
}

/* ---- overrides */

static m4npu_config_status set_value(m4npu_config *cfg, const char *key, const char *value, const char *origin,
                                     m4npu_config_error *err)
{
    if (!key || !key[0])
        return config_error(err, M4NPU_CONFIG_E_USAGE, origin, 0, 0, NULL, "expected KEY=VALUE, got an empty key");
    const m4npu_cfg_key *k = m4npu_config_key_find(key);
    if (k && k->kind == M4NPU_CFG_OPS)
        return config_error(err, M4NPU_CONFIG_E_TYPE, origin, 0, 0, key,
                            "is the capability set; set %s.OP=on|off or %s.OP.FIELD=VALUE", key, key);
    if (!k && strncmp(key, "ops.", 4) == 0)
        return config_ops_set(cfg, key + 4, value, origin, err);
    char list[256];
    if (!k && config_is_mapping(key)) {
        config_children_list(key, list, sizeof list);
        return config_error(err, M4NPU_CONFIG_E_TYPE, origin, 0, 0, key,
                            "is a mapping; set one of its keys: %s", list);
    }
    if (!k) {
        /* List the keys of the deepest mapping the path reaches. */
        char prefix[M4NPU_CONFIG_KEY_LEN];
        snprintf(prefix, sizeof prefix, "%s", key);
        for (;;) {
            char *dot = strrchr(prefix, '.');
            if (dot)
                *dot = '\0';
            else
                prefix[0] = '\0';
            if (!prefix[0] || config_is_mapping(prefix))
                break;
        }
        config_children_list(prefix, list, sizeof list);
        if (prefix[0])
            return config_error(err, M4NPU_CONFIG_E_UNKNOWN_KEY, origin, 0, 0, key,
                                "unknown key; expected one of: %s (in %s)", list, prefix);
        return config_error(err, M4NPU_CONFIG_E_UNKNOWN_KEY, origin, 0, 0, key,
                            "unknown key; expected one of: %s", list);
    }
    char reason[sizeof err->reason];
    const char *v = value ? value : "";
    m4npu_config_status st =
        config_value_parse(k, v, strlen(v), 1, cfg, reason, sizeof reason);
    if (st != M4NPU_CONFIG_OK)
        return config_error(err, st, origin, 0, 0, key, "%s", reason);
    return M4NPU_CONFIG_OK;
}

m4npu_config_status m4npu_config_set(m4npu_config *cfg, const char *key, const char *value, m4npu_config_error *err)
{
    return set_value(cfg, key, value, NULL, err);
}

/* Split "KEY=VALUE" into key (copied) and value (pointing into the assignment). */
static m4npu_config_status split_assignment(const char *assignment, char *key, size_t ksize, const char **value,
                                            const char *origin, m4npu_config_error *err)
{
    const char *eq = assignment ? strchr(assignment, '=') : NULL;
    if (!eq)
        return config_error(err, M4NPU_CONFIG_E_USAGE, origin, 0, 0, NULL, "expected KEY=VALUE");
    size_t klen = (size_t)(eq - assignment);
    if (klen == 0)
        return config_error(err, M4NPU_CONFIG_E_USAGE, origin, 0, 0, NULL, "expected KEY=VALUE, got an empty key");
    if (klen >= ksize)
        return config_error(err, M4NPU_CONFIG_E_UNKNOWN_KEY, origin, 0, 0, NULL, "unknown key (too long)");
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    *value = eq + 1;
    return M4NPU_CONFIG_OK;
}

m4npu_config_status m4npu_config_set_assignment(m4npu_config *cfg, const char *assignment, m4npu_config_error *err)
{
    char key[M4NPU_CONFIG_KEY_LEN];
    const char *value = NULL;
    m4npu_config_status st = split_assignment(assignment, key, sizeof key, &value, NULL, err);
    return st ? st : set_value(cfg, key, value, NULL, err);
}

/* ---- loading */

static m4npu_config_status load(const char *text, size_t len, const char *origin, const char *const *assignments,
                                size_t nassignments, m4npu_config *out, m4npu_config_error *err)
{
    load_ctx *c = calloc(1, sizeof *c);
    m4npu_config *cfg = calloc(1, sizeof *cfg);
    config_node *root = NULL;
    m4npu_config_status st;
    if (!c || !cfg) {
        st = config_error(err, M4NPU_CONFIG_E_NOMEM, origin, 0, 0, NULL, "out of memory");
        goto done;
    }
    c->origin = origin;
    c->cfg = cfg;
    c->err = err;
    c->assignments = assignments;
    if (config_key_count() > M4NPU_CONFIG_MAX_KEYS) {
        st = config_error(err, M4NPU_CONFIG_E_NOMEM, origin, 0, 0, NULL,
                          "the schema has more keys than M4NPU_CONFIG_MAX_KEYS");
        goto done;
    }
    char keys[256];
    config_children_list("", keys, sizeof keys);
    if ((st = config_yaml_parse(text, len, origin, &root, err)) != M4NPU_CONFIG_OK)
        goto done;
    if (!root || (root->type == CONFIG_NODE_SCALAR && root->plain && root->len == 0)) {
        st = config_error(err, M4NPU_CONFIG_E_EMPTY, origin, root ? root->line : 1, root ? root->column : 1, NULL,
                          "no configuration (the file is empty or holds only comments); expected a mapping "
                          "with keys %s", keys);
        goto done;
    }
    if (root->type != CONFIG_NODE_MAP) {
        st = config_error(err, M4NPU_CONFIG_E_STRUCTURE, origin, root->line, root->column, NULL,
                          "the document is %s; expected a mapping with keys %s", node_kind_name(root), keys);
        goto done;
    }
    if ((st = walk_map(c, root, "", root->line, root->column)) != M4NPU_CONFIG_OK)
        goto done;
    for (size_t i = 0; i < nassignments; i++) {
        char where[sizeof err->origin], key[M4NPU_CONFIG_KEY_LEN];
        const char *value = NULL;
        snprintf(where, sizeof where, "--set %s", assignments[i] ? assignments[i] : "");
        if ((st = split_assignment(assignments[i], key, sizeof key, &value, where, err)) != M4NPU_CONFIG_OK ||
            (st = set_value(cfg, key, value, where, err)) != M4NPU_CONFIG_OK)
            goto done;
        const m4npu_cfg_key *k = m4npu_config_key_find(key);
        if (!k && strncmp(key, "ops.", 4) == 0)
            k = m4npu_config_key_find("ops"); /* a key inside the capability set */
        if (k)
            c->where[config_key_index(k)].override = i + 1;
    }
    if ((st = validate(c)) != M4NPU_CONFIG_OK)
        goto done;
    memcpy(out, cfg, sizeof *out); /* padding included: loaded configurations compare with memcmp */
done:
    config_node_free(root);
    free(cfg);
    free(c);
    if (st == M4NPU_CONFIG_OK && err)
        memset(err, 0, sizeof *err);
    return st;
}

m4npu_config_status m4npu_config_load_text(const char *text, size_t len, const char *origin, m4npu_config *out,
                                           m4npu_config_error *err)
{
    return m4npu_config_load_text_overrides(text, len, origin, NULL, 0, out, err);
}

m4npu_config_status m4npu_config_load_text_overrides(const char *text, size_t len, const char *origin,
                                                     const char *const *assignments, size_t nassignments,
                                                     m4npu_config *out, m4npu_config_error *err)
{
    return load(text, len, origin && origin[0] ? origin : "<text>", assignments, nassignments, out, err);
}

/* The whole file, or an E_IO (E_NOMEM) error naming it. */
static m4npu_config_status read_file(const char *path, char **text, size_t *len, m4npu_config_error *err)
{
    rt_error e;
    uint8_t *buf;
    rt_status s = rt_read_file(path, CONFIG_MAX_FILE_BYTES, "a configuration", &buf, len, &e);
    if (s != RT_OK) {
        /* rt_read_file's message is "PATH: reason"; the error names the path on its own */
        size_t plen = strlen(path);
        const char *reason = strncmp(e.msg, path, plen) == 0 && strncmp(e.msg + plen, ": ", 2) == 0 ? e.msg + plen + 2
                                                                                                      : e.msg;
        return config_error(err, s == RT_ERR_NOMEM ? M4NPU_CONFIG_E_NOMEM : M4NPU_CONFIG_E_IO, path, 0, 0, NULL, "%s",
                            reason);
    }
    *text = (char *)buf;
    return M4NPU_CONFIG_OK;
}

m4npu_config_status m4npu_config_load_overrides(const char *path, const char *const *assignments,
                                                size_t nassignments, m4npu_config *out, m4npu_config_error *err)
{
    char *text = NULL;
    size_t len = 0;
    m4npu_config_status st = read_file(path, &text, &len, err);
    if (st != M4NPU_CONFIG_OK)
        return st;
    st = load(text, len, path, assignments, nassignments, out, err);
    free(text);
    return st;
}

m4npu_config_status m4npu_config_load(const char *path, m4npu_config *out, m4npu_config_error *err)
{
    return m4npu_config_load_overrides(path, NULL, 0, out, err);
}
