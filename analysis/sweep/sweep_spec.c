/* sweep_spec.c -- the sweep spec: YAML (runtime/config's positioned tree, config_yaml.h) walked
 * as strictly as a configuration. Every key is known, none is given twice, required keys are
 * present, every value has the right type, and every axis value is parsed and range-checked by
 * the configuration schema's own rules, so a point never fails for a typo found hours into a
 * sweep. Errors read "FILE:LINE:COL: KEY: reason". docs/sweep.md describes every key. */
#include "sweep.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config_yaml.h"
#include "onnx_io.h"

#define SPEC_MAX_FILE_BYTES (4u * 1024u * 1024u)
#define DEFAULT_SEED 1u
#define RANGE_EPS 1e-9 /* relative slack so that a step or factor reaches `to` despite rounding */

typedef struct spec_ctx {
    const char *origin;
    sweep_spec *s;
    rt_error *e;
    m4npu_config scratch; /* values are parsed into it to check them */
} spec_ctx;

static rt_status spec_err(spec_ctx *c, const config_node *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static rt_status spec_err(spec_ctx *c, const config_node *at, const char *key, const char *fmt, ...)
{
    char reason[RT_ERROR_MSG_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (at)
        return rt_error_set(c->e, RT_ERR_ARG, "%s:%d:%d: %s%s%s", c->origin, at->line, at->column, key ? key : "",
                            key && key[0] ? ": " : "", reason);
    return rt_error_set(c->e, RT_ERR_ARG, "%s: %s%s%s", c->origin, key ? key : "", key && key[0] ? ": " : "", reason);
}

static const char *node_kind(const config_node *n)
{
    if (n->type == CONFIG_NODE_MAP)
        return "a mapping";
    if (n->type == CONFIG_NODE_SEQ)
        return "a sequence";
    return n->len == 0 && n->plain ? "nothing" : "a scalar";
}

/* ---- mappings with known keys */

typedef struct field {
    const char *name;
    bool required;
    const config_node *key, *value; /* filled by walk_fields */
} field;

/* prefix.name, truncated (with its NUL) if it does not fit: it only names a key in a message */
static void join(char *buf, size_t size, const char *prefix, const char *name)
{
    int n = snprintf(buf, size, "%s%s%s", prefix, prefix[0] ? "." : "", name);
    if (n < 0 && size)
        buf[0] = '\0';
}

static void printable(const config_node *key, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < key->len && o + 1 < size; i++) {
        unsigned char ch = (unsigned char)key->text[i];
        buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    buf[o] = '\0';
}

/* Duplicate keys anywhere in a mapping are errors at the second one. */
static rt_status check_duplicates(spec_ctx *c, const config_node *map, const char *prefix)
{
    for (size_t i = 0; i + 1 < map->n; i += 2)
        for (size_t j = 0; j < i; j += 2) {
            const config_node *a = map->items[j], *b = map->items[i];
            if (a->len == b->len && memcmp(a->text, b->text, a->len) == 0) {
                char name[M4NPU_CONFIG_KEY_LEN], path[2 * M4NPU_CONFIG_KEY_LEN];
                printable(b, name, sizeof name);
                join(path, sizeof path, prefix, name);
                return spec_err(c, b, path, "duplicate key (first at line %d, column %d)", a->line, a->column);
            }
        }
    return RT_OK;
}

static rt_status walk_fields(spec_ctx *c, const config_node *map, const config_node *owner, const char *prefix,
                             field *fields, size_t nfields)
{
    if (map->type != CONFIG_NODE_MAP) {
        char keys[256];
        size_t o = 0;
        keys[0] = '\0';
        for (size_t f = 0; f < nfields && o < sizeof keys; f++)
            o += (size_t)snprintf(keys + o, sizeof keys - o, "%s%s", f ? ", " : "", fields[f].name);
        return spec_err(c, map, prefix, "expected a mapping with keys %s, got %s", keys, node_kind(map));
    }
    rt_status st = check_duplicates(c, map, prefix);
    if (st != RT_OK)
        return st;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const config_node *k = map->items[i];
        size_t f = 0;
        while (f < nfields && !(strlen(fields[f].name) == k->len && memcmp(fields[f].name, k->text, k->len) == 0))
            f++;
        if (f == nfields) {
            char name[M4NPU_CONFIG_KEY_LEN], path[2 * M4NPU_CONFIG_KEY_LEN], keys[256];
            size_t o = 0;
            keys[0] = '\0';
            for (size_t g = 0; g < nfields && o < sizeof keys; g++)
                o += (size_t)snprintf(keys + o, sizeof keys - o, "%s%s", g ? ", " : "", fields[g].name);
            printable(k, name, sizeof name);
            join(path, sizeof path, prefix, name);
            return spec_err(c, k, path, "unknown key; expected one of: %s", keys);
        }
        fields[f].key = k;
        fields[f].value = map->items[i + 1];
    }
    for (size_t f = 0; f < nfields; f++)
        if (fields[f].required && !fields[f].value) {
            char path[2 * M4NPU_CONFIG_KEY_LEN];
            join(path, sizeof path, prefix, fields[f].name);
            return spec_err(c, owner, path, "missing key (required in %s)", prefix[0] ? prefix : "a sweep spec");
        }
    return RT_OK;
}

/* ---- scalars */

static rt_status want_scalar(spec_ctx *c, const config_node *v, const char *key, const char *what)
{
    if (v->type != CONFIG_NODE_SCALAR || (v->len == 0 && v->plain))
        return spec_err(c, v, key, "expected %s, got %s", what, node_kind(v));
    return RT_OK;
}

static rt_status scalar_int(spec_ctx *c, const config_node *v, const char *key, long lo, long hi, long *out)
{
    rt_status st = want_scalar(c, v, key, "an integer");
    if (st != RT_OK)
        return st;
    char *end;
    errno = 0;
    long x = strtol(v->text, &end, 10);
    if (!v->plain || *end || end == v->text || errno == ERANGE)
        return spec_err(c, v, key, "expected an integer, got \"%s\"", v->text);
    if (x < lo || x > hi)
        return spec_err(c, v, key, "%ld is outside %ld..%ld", x, lo, hi);
    *out = x;
    return RT_OK;
}

static rt_status scalar_number(spec_ctx *c, const config_node *v, const char *key, double *out)
{
    rt_status st = want_scalar(c, v, key, "a number");
    if (st != RT_OK)
        return st;
    char *end;
    errno = 0;
    double x = strtod(v->text, &end);
    if (!v->plain || *end || end == v->text || errno == ERANGE || !isfinite(x))
        return spec_err(c, v, key, "expected a finite number, got \"%s\"", v->text);
    *out = x;
    return RT_OK;
}

static rt_status scalar_bool(spec_ctx *c, const config_node *v, const char *key, bool *out)
{
    rt_status st = want_scalar(c, v, key, "true or false");
    if (st != RT_OK)
        return st;
    if (v->plain && strcmp(v->text, "true") == 0)
        *out = true;
    else if (v->plain && strcmp(v->text, "false") == 0)
        *out = false;
    else
        return spec_err(c, v, key, "expected true or false, got \"%s\"", v->text);
    return RT_OK;
}

/* ---- configuration values: parsed by the schema's rules */

/* Parse text as a value of key k (type and range checks): into the base configuration with only
 * this key changed, validated, so that the device's own limits (npu_config_check) apply too. A
 * problem the validation names under another key is a combination other axes may fix: it is left
 * to the point, which then fails with its reason. */
static rt_status config_value(spec_ctx *c, const config_node *at, const char *path, const m4npu_cfg_key *k,
                              const char *text, double *number)
{
    m4npu_config_error err;
    m4npu_config *one = malloc(sizeof *one);
    if (!one)
        return rt_error_set(c->e, RT_ERR_NOMEM, "out of memory (sweep spec)");
    memcpy(one, &c->scratch, sizeof *one);
    rt_status st = RT_OK;
    if (m4npu_config_set(one, k->path, text, &err) != M4NPU_CONFIG_OK ||
        (m4npu_config_validate(one, &err) != M4NPU_CONFIG_OK && strcmp(err.key, k->path) == 0))
        st = spec_err(c, at, path, "%s", err.reason);
    else if (number && !sweep_key_number(k, one, number))
        *number = NAN;
    free(one);
    return st;
}

static bool key_is_integer(const m4npu_cfg_key *k)
{
    return k->kind == M4NPU_CFG_U32 || k->kind == M4NPU_CFG_U64 || k->kind == M4NPU_CFG_BYTES;
}

/* The text of a number for key k: an integer for integer keys, else the shortest %g that reads
 * back exactly. */
static void number_text(const m4npu_cfg_key *k, double v, char *buf, size_t size)
{
    if (key_is_integer(k)) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static rt_status axis_add_value(spec_ctx *c, sweep_axis *ax, const config_node *at, const char *path,
                                const char *text)
{
    if (ax->n_values == SWEEP_MAX_VALUES)
        return spec_err(c, at, path, "more than %d values", SWEEP_MAX_VALUES);
    /* integer keys round a range's values: keep each once */
    for (int i = 0; i < ax->n_values; i++)
        if (strcmp(ax->values[i], text) == 0)
            return RT_OK;
    char *copy = strdup(text);
    if (!copy)
        return rt_error_set(c->e, RT_ERR_NOMEM, "out of memory (sweep spec)");
    ax->values[ax->n_values++] = copy;
    return RT_OK;
}

static rt_status axis_list(spec_ctx *c, sweep_axis *ax, const config_node *seq, const char *path)
{
    if (seq->n == 0)
        return spec_err(c, seq, path, "an empty list of values");
    for (size_t i = 0; i < seq->n; i++) {
        const config_node *v = seq->items[i];
        char item[2 * M4NPU_CONFIG_KEY_LEN + 32];
        snprintf(item, sizeof item, "%s[%zu]", path, i);
        if (v->type != CONFIG_NODE_SCALAR)
            return spec_err(c, v, item, "expected a value of %s, got %s", ax->key->path, node_kind(v));
        rt_status st = config_value(c, v, item, ax->key, v->text, NULL);
        if (st != RT_OK)
            return st;
        for (int j = 0; j < ax->n_values; j++)
            if (strcmp(ax->values[j], v->text) == 0)
                return spec_err(c, v, item, "\"%s\" is listed twice", v->text);
        if ((st = axis_add_value(c, ax, v, item, v->text)) != RT_OK)
            return st;
    }
    return RT_OK;
}

/* A value of a range, checked by the key's rules and returned as its text. */
static rt_status range_value(spec_ctx *c, sweep_axis *ax, const config_node *at, const char *path, double v)
{
    char text[64];
    number_text(ax->key, v, text, sizeof text);
    rt_status st = config_value(c, at, path, ax->key, text, NULL);
    return st != RT_OK ? st : axis_add_value(c, ax, at, path, text);
}

static rt_status axis_range(spec_ctx *c, sweep_axis *ax, const config_node *map, const char *path)
{
    field f[] = {{"from", true, NULL, NULL}, {"to", true, NULL, NULL}, {"step", false, NULL, NULL},
                 {"factor", false, NULL, NULL}, {"points", false, NULL, NULL}, {"scale", false, NULL, NULL}};
    enum { F_FROM, F_TO, F_STEP, F_FACTOR, F_POINTS, F_SCALE };
    rt_status st = walk_fields(c, map, map, path, f, sizeof f / sizeof f[0]);
    if (st != RT_OK)
        return st;
    if (!sweep_key_is_numeric(ax->key))
        return spec_err(c, map, path, "a range needs a numeric key; list the values of %s instead", ax->key->path);
    char sub[2 * M4NPU_CONFIG_KEY_LEN];
    double from, to;
    join(sub, sizeof sub, path, "from");
    if ((st = want_scalar(c, f[F_FROM].value, sub, "a value")) != RT_OK ||
        (st = config_value(c, f[F_FROM].value, sub, ax->key, f[F_FROM].value->text, &from)) != RT_OK)
        return st;
    join(sub, sizeof sub, path, "to");
    if ((st = want_scalar(c, f[F_TO].value, sub, "a value")) != RT_OK ||
        (st = config_value(c, f[F_TO].value, sub, ax->key, f[F_TO].value->text, &to)) != RT_OK)
        return st;
    if (from > to)
        return spec_err(c, f[F_FROM].value, path, "from (%g) is greater than to (%g)", from, to);
    int kinds = (f[F_STEP].value != NULL) + (f[F_FACTOR].value != NULL) + (f[F_POINTS].value != NULL);
    if (kinds > 1)
        return spec_err(c, map, path, "give one of step, factor and points");
    ax->log_scale = false;
    if (f[F_SCALE].value) {
        join(sub, sizeof sub, path, "scale");
        if ((st = want_scalar(c, f[F_SCALE].value, sub, "linear or log")) != RT_OK)
            return st;
        if (strcmp(f[F_SCALE].value->text, "log") == 0)
            ax->log_scale = true;
        else if (strcmp(f[F_SCALE].value->text, "linear") != 0)
            return spec_err(c, f[F_SCALE].value, sub, "expected linear or log, got \"%s\"", f[F_SCALE].value->text);
        if (f[F_STEP].value || f[F_FACTOR].value)
            return spec_err(c, f[F_SCALE].value, sub, "scale goes with points or a continuous range, not with %s",
                            f[F_STEP].value ? "step" : "factor");
    }
    if (ax->log_scale && !(from > 0))
        return spec_err(c, f[F_FROM].value, path, "a log scale needs from > 0");
    if (f[F_STEP].value) {
        double step;
        join(sub, sizeof sub, path, "step");
        if ((st = scalar_number(c, f[F_STEP].value, sub, &step)) != RT_OK)
            return st;
        if (!(step > 0))
            return spec_err(c, f[F_STEP].value, sub, "must be greater than 0");
        if ((to - from) / step >= SWEEP_MAX_VALUES)
            return spec_err(c, f[F_STEP].value, sub, "gives more than %d values", SWEEP_MAX_VALUES);
        for (int i = 0;; i++) {
            double v = from + step * i;
            if (v > to + step * RANGE_EPS)
                break;
            if ((st = range_value(c, ax, map, path, fmin(v, to))) != RT_OK)
                return st;
        }
        return RT_OK;
    }
    if (f[F_FACTOR].value) {
        double factor;
        join(sub, sizeof sub, path, "factor");
        if ((st = scalar_number(c, f[F_FACTOR].value, sub, &factor)) != RT_OK)
            return st;
        if (!(factor > 1))
            return spec_err(c, f[F_FACTOR].value, sub, "must be greater than 1");
        if (!(from > 0))
            return spec_err(c, f[F_FROM].value, path, "a factor needs from > 0");
        for (double v = from; v <= to * (1 + RANGE_EPS); v *= factor)
            if ((st = range_value(c, ax, map, path, fmin(v, to))) != RT_OK)
                return st;
        return RT_OK;
    }
    if (f[F_POINTS].value) {
        long n;
        join(sub, sizeof sub, path, "points");
        if ((st = scalar_int(c, f[F_POINTS].value, sub, 1, SWEEP_MAX_VALUES, &n)) != RT_OK)
            return st;
        for (long i = 0; i < n; i++) {
            double t = n == 1 ? 0.0 : (double)i / (double)(n - 1);
            double v = ax->log_scale ? exp(log(from) + t * (log(to) - log(from))) : from + t * (to - from);
            if (i == n - 1)
                v = to; /* exactly, not exp(log(to)) */
            if ((st = range_value(c, ax, map, path, v)) != RT_OK)
                return st;
        }
        return RT_OK;
    }
    ax->n_values = 0; /* continuous: random or Latin-hypercube sampling draws from [from, to] */
    ax->from = from;
    ax->to = to;
    return RT_OK;
}

static rt_status parse_axes(spec_ctx *c, const config_node *map)
{
    if (map->type != CONFIG_NODE_MAP || map->n == 0)
        return spec_err(c, map, "axes", "expected a mapping from configuration keys to values or ranges, got %s",
                        map->type == CONFIG_NODE_MAP ? "an empty mapping" : node_kind(map));
    rt_status st = check_duplicates(c, map, "axes");
    if (st != RT_OK)
        return st;
    if (map->n / 2 > SWEEP_MAX_AXES)
        return spec_err(c, map, "axes", "more than %d axes", SWEEP_MAX_AXES);
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const config_node *k = map->items[i], *v = map->items[i + 1];
        char name[M4NPU_CONFIG_KEY_LEN], path[2 * M4NPU_CONFIG_KEY_LEN];
        printable(k, name, sizeof name);
        join(path, sizeof path, "axes", name);
        const m4npu_cfg_key *key = m4npu_config_key_find(name);
        if (!key)
            return spec_err(c, k, path, "not a configuration key (docs/configs.md lists them)");
        if (!sweep_key_is_numeric(key) && key->kind != M4NPU_CFG_ENUM)
            return spec_err(c, k, path, "not a knob a sweep can vary (a numeric or named value)");
        sweep_axis *ax = &c->s->axes[c->s->n_axes++];
        ax->key = key;
        ax->line = k->line;
        ax->column = k->column;
        if (!(ax->values = calloc(SWEEP_MAX_VALUES, sizeof *ax->values)))
            return rt_error_set(c->e, RT_ERR_NOMEM, "out of memory (sweep spec)");
        if (v->type == CONFIG_NODE_SEQ)
            st = axis_list(c, ax, v, path);
        else if (v->type == CONFIG_NODE_MAP)
            st = axis_range(c, ax, v, path);
        else
            st = spec_err(c, v, path,
                          "expected a list of values or a range {from, to, step | factor | points}, got %s",
                          node_kind(v));
        if (st != RT_OK)
            return st;
    }
    return RT_OK;
}

/* ---- base */

static bool preset_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') || *s == '-' ||
              *s == '_'))
            return false;
    return true;
}

/* path relative to the directory of `relative_to` (unless absolute), made absolute */
static rt_status resolve_path(spec_ctx *c, const config_node *at, const char *key, const char *relative_to,
                              const char *path, char *out)
{
    char joined[SWEEP_PATH_BYTES];
    if (path[0] == '/') {
        snprintf(joined, sizeof joined, "%s", path);
    } else {
        const char *slash = strrchr(relative_to, '/');
        int dir = slash ? (int)(slash - relative_to) : 0;
        snprintf(joined, sizeof joined, "%.*s%s%s", dir, relative_to, slash ? "/" : "", path);
    }
    if (!realpath(joined, out))
        return spec_err(c, at, key, "%s: %s", joined, strerror(errno));
    return RT_OK;
}

static rt_status parse_base(spec_ctx *c, const config_node *map, const config_node *owner, const char *presets_dir)
{
    field f[] = {{"preset", false, NULL, NULL}, {"file", false, NULL, NULL}, {"set", false, NULL, NULL}};
    rt_status st = walk_fields(c, map, owner, "base", f, 3);
    if (st != RT_OK)
        return st;
    if (!f[0].value == !f[1].value)
        return spec_err(c, map, "base", "give exactly one of preset (a name in configs/) and file (a path)");
    if (f[0].value) {
        if ((st = want_scalar(c, f[0].value, "base.preset", "a preset name")) != RT_OK)
            return st;
        if (!preset_name_ok(f[0].value->text))
            return spec_err(c, f[0].value, "base.preset", "\"%s\" is not a preset name (letters, digits, - and _)",
                            f[0].value->text);
        char file[SWEEP_PATH_BYTES];
        snprintf(file, sizeof file, "%s/%s.yaml", presets_dir, f[0].value->text);
        if (!realpath(file, c->s->base_path))
            return spec_err(c, f[0].value, "base.preset", "no preset %s (%s: %s)", f[0].value->text, file,
                            strerror(errno));
    } else {
        if ((st = want_scalar(c, f[1].value, "base.file", "a path")) != RT_OK ||
            (st = resolve_path(c, f[1].value, "base.file", c->s->path, f[1].value->text, c->s->base_path)) != RT_OK)
            return st;
    }
    uint8_t *text;
    size_t len;
    rt_error re;
    if (rt_read_file(c->s->base_path, SPEC_MAX_FILE_BYTES, "a configuration", &text, &len, &re) != RT_OK)
        return rt_error_set(c->e, RT_ERR_IO, "%s", re.msg);
    c->s->base_text = (char *)text;
    m4npu_config_error cerr;
    if (m4npu_config_load_text(c->s->base_text, len, c->s->base_path, &c->scratch, &cerr) != M4NPU_CONFIG_OK)
        return rt_error_set(c->e, RT_ERR_ARG, "%s (the base of %s)", cerr.msg, c->origin);
    const config_node *set = f[2].value;
    if (!set)
        return RT_OK;
    if (set->type != CONFIG_NODE_MAP)
        return spec_err(c, set, "base.set", "expected a mapping from configuration keys to values, got %s",
                        node_kind(set));
    if ((st = check_duplicates(c, set, "base.set")) != RT_OK)
        return st;
    for (size_t i = 0; i + 1 < set->n; i += 2) {
        const config_node *k = set->items[i], *v = set->items[i + 1];
        char name[M4NPU_CONFIG_KEY_LEN], path[2 * M4NPU_CONFIG_KEY_LEN];
        printable(k, name, sizeof name);
        join(path, sizeof path, "base.set", name);
        if (c->s->n_sets == SWEEP_MAX_SETS)
            return spec_err(c, k, path, "more than %d overrides", SWEEP_MAX_SETS);
        if (v->type != CONFIG_NODE_SCALAR)
            return spec_err(c, v, path, "expected a value, got %s", node_kind(v));
        m4npu_config_error err;
        if (m4npu_config_set(&c->scratch, name, v->text, &err) != M4NPU_CONFIG_OK)
            return spec_err(c, err.status == M4NPU_CONFIG_E_UNKNOWN_KEY ? k : v, path, "%s", err.reason);
        size_t len2 = strlen(name) + 1 + strlen(v->text) + 1;
        if (!(c->s->sets[c->s->n_sets] = malloc(len2)))
            return rt_error_set(c->e, RT_ERR_NOMEM, "out of memory (sweep spec)");
        snprintf(c->s->sets[c->s->n_sets++], len2, "%s=%s", name, v->text);
    }
    m4npu_config_error err;
    if (m4npu_config_validate(&c->scratch, &err) != M4NPU_CONFIG_OK)
        return spec_err(c, set, "base.set", "the base configuration with these overrides: %s", err.msg);
    return RT_OK;
}

/* ---- sampling, constraints, metrics, area */

static rt_status parse_sampling(spec_ctx *c, const config_node *map, const config_node *owner)
{
    field f[] = {{"method", true, NULL, NULL}, {"points", false, NULL, NULL}, {"seed", false, NULL, NULL}};
    rt_status st = walk_fields(c, map, owner, "sampling", f, 3);
    if (st != RT_OK || (st = want_scalar(c, f[0].value, "sampling.method", "grid, random or lhs")) != RT_OK)
        return st;
    const char *m = f[0].value->text;
    if (strcmp(m, "grid") == 0)
        c->s->sampling = SWEEP_SAMPLE_GRID;
    else if (strcmp(m, "random") == 0)
        c->s->sampling = SWEEP_SAMPLE_RANDOM;
    else if (strcmp(m, "lhs") == 0)
        c->s->sampling = SWEEP_SAMPLE_LHS;
    else
        return spec_err(c, f[0].value, "sampling.method", "expected grid, random or lhs, got \"%s\"", m);
    if (c->s->sampling == SWEEP_SAMPLE_GRID) {
        if (f[1].value || f[2].value)
            return spec_err(c, f[1].value ? f[1].key : f[2].key, f[1].value ? "sampling.points" : "sampling.seed",
                            "the grid is every combination of the axes' values: no points or seed");
        return RT_OK;
    }
    if (!f[1].value)
        return spec_err(c, map, "sampling.points", "missing key (random and lhs sampling draw this many points)");
    long n, seed = DEFAULT_SEED;
    if ((st = scalar_int(c, f[1].value, "sampling.points", 1, SWEEP_MAX_CANDIDATES, &n)) != RT_OK)
        return st;
    if (f[2].value && (st = scalar_int(c, f[2].value, "sampling.seed", 0, LONG_MAX, &seed)) != RT_OK)
        return st;
    c->s->samples = (int)n;
    c->s->seed = (uint64_t)seed;
    return RT_OK;
}

static rt_status parse_constraints(spec_ctx *c, const config_node *seq)
{
    if (seq->type != CONFIG_NODE_SEQ)
        return spec_err(c, seq, "constraints", "expected a list of comparisons, got %s", node_kind(seq));
    if (seq->n > SWEEP_MAX_CONSTRAINTS)
        return spec_err(c, seq, "constraints", "more than %d constraints", SWEEP_MAX_CONSTRAINTS);
    for (size_t i = 0; i < seq->n; i++) {
        const config_node *v = seq->items[i];
        char path[64];
        snprintf(path, sizeof path, "constraints[%zu]", i);
        rt_status st = want_scalar(c, v, path, "a comparison such as npu.sram.size_bytes >= 2 * tile_operand_bytes");
        if (st != RT_OK)
            return st;
        size_t off;
        char reason[256];
        sweep_expr *x = sweep_expr_compile(v->text, &off, reason, sizeof reason);
        if (!x) {
            /* a plain one-line scalar starts at its node: the offset is a column */
            config_node at = *v;
            if (v->plain && !memchr(v->text, '\n', v->len))
                at.column += (int)off;
            return spec_err(c, &at, path, "%s (in \"%s\")", reason, v->text);
        }
        c->s->constraints[c->s->n_constraints] = x;
        if (!(c->s->constraint_text[c->s->n_constraints++] = strdup(v->text)))
            return rt_error_set(c->e, RT_ERR_NOMEM, "out of memory (sweep spec)");
    }
    return RT_OK;
}

static rt_status parse_metrics(spec_ctx *c, const config_node *seq)
{
    if (seq->type != CONFIG_NODE_SEQ || seq->n == 0)
        return spec_err(c, seq, "metrics", "expected a list of metric names (latency_s, energy_j ...), got %s",
                        seq->type == CONFIG_NODE_SEQ ? "an empty list" : node_kind(seq));
    bool listed[SWEEP_METRIC_COUNT] = {false};
    for (size_t i = 0; i < seq->n; i++) {
        const config_node *v = seq->items[i];
        char path[64];
        snprintf(path, sizeof path, "metrics[%zu]", i);
        rt_status st = want_scalar(c, v, path, "a metric name");
        if (st != RT_OK)
            return st;
        int m = sweep_metric_lookup(v->text);
        if (m < 0) {
            char list[512];
            size_t o = 0;
            list[0] = '\0';
            for (int k = 0; k < SWEEP_METRIC_COUNT && o < sizeof list; k++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "", sweep_metric_name((sweep_metric)k));
            return spec_err(c, v, path, "unknown metric \"%s\"; expected one of: %s", v->text, list);
        }
        if (listed[m])
            return spec_err(c, v, path, "\"%s\" is listed twice", v->text);
        listed[m] = true;
        c->s->metric[m] = true;
    }
    return RT_OK;
}

static rt_status parse_area(spec_ctx *c, const config_node *map, const config_node *owner)
{
    field f[] = {{"mm2_per_mac", false, NULL, NULL}, {"mm2_per_mib", false, NULL, NULL}};
    rt_status st = walk_fields(c, map, owner, "area", f, 2);
    double *dst[] = {&c->s->area.mm2_per_mac, &c->s->area.mm2_per_mib};
    for (int i = 0; i < 2 && st == RT_OK; i++) {
        if (!f[i].value)
            continue;
        char path[64];
        join(path, sizeof path, "area", f[i].name);
        if ((st = scalar_number(c, f[i].value, path, dst[i])) == RT_OK && !(*dst[i] >= 0))
            st = spec_err(c, f[i].value, path, "must be at least 0");
    }
    return st;
}

/* ---- workloads */

typedef struct int_param {
    const char *name;
    size_t offset; /* into m4_module_params */
} int_param;

#define PARAM(F) {#F, offsetof(m4_module_params, F)}
static const int_param module_params[] = {
    PARAM(tokens),  PARAM(kv_len),   PARAM(prefix_tokens), PARAM(clips),      PARAM(frames),
    PARAM(samples), PARAM(latent),   PARAM(batch),         PARAM(phonemes),   PARAM(mel_frames),
    PARAM(in_dim),  PARAM(stack),    PARAM(lora_rank),
};
#define N_MODULE_PARAMS (sizeof module_params / sizeof module_params[0])
#define SWEEP_LORA_RANK_MAX 1024 /* as whatif's --lora-rank */

static rt_status workload_name(spec_ctx *c, sweep_workload *w, const config_node *name, const char *path,
                               const char *fallback)
{
    if (name) {
        rt_status st = want_scalar(c, name, path, "a name");
        if (st != RT_OK)
            return st;
        if (name->len >= sizeof w->name)
            return spec_err(c, name, path, "longer than %zu bytes", sizeof w->name - 1);
        for (size_t i = 0; i < name->len; i++)
            if ((unsigned char)name->text[i] < 0x20 || name->text[i] == ',')
                return spec_err(c, name, path, "a name of printable characters without commas");
        snprintf(w->name, sizeof w->name, "%s", name->text);
    } else {
        snprintf(w->name, sizeof w->name, "%s", fallback);
    }
    return RT_OK;
}

static rt_status parse_module(spec_ctx *c, sweep_workload *w, const config_node *map, const char *prefix)
{
    field f[N_MODULE_PARAMS + 3];
    f[0] = (field){"module", true, NULL, NULL};
    f[1] = (field){"name", false, NULL, NULL};
    f[2] = (field){"format", false, NULL, NULL};
    for (size_t i = 0; i < N_MODULE_PARAMS; i++)
        f[3 + i] = (field){module_params[i].name, false, NULL, NULL};
    rt_status st = walk_fields(c, map, map, prefix, f, N_MODULE_PARAMS + 3);
    char path[128];
    join(path, sizeof path, prefix, "module");
    if (st != RT_OK || (st = want_scalar(c, f[0].value, path, "a module name")) != RT_OK)
        return st;
    int id = m4_module_lookup(f[0].value->text);
    if (id < 0) {
        char list[512];
        size_t o = 0;
        list[0] = '\0';
        for (int m = 0; m < m4_module_count() && o < sizeof list; m++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", m ? ", " : "", m4_module_get((m4_module_id)m)->name);
        return spec_err(c, f[0].value, path, "no module \"%s\"; expected one of: %s", f[0].value->text, list);
    }
    w->kind = SWEEP_WL_MODULE;
    w->module = (m4_module_id)id;
    memset(&w->params, 0, sizeof w->params);
    if (f[2].value) {
        join(path, sizeof path, prefix, "format");
        if ((st = want_scalar(c, f[2].value, path, "a weight format")) != RT_OK)
            return st;
        int fmt = -1;
        for (int k = 0; k < M4_FMT_COUNT; k++)
            if (strcmp(m4_format_name((m4_format)k), f[2].value->text) == 0)
                fmt = k;
        if (fmt < 0)
            return spec_err(c, f[2].value, path, "expected default, fp32, fp16, int8 or int4, got \"%s\"",
                            f[2].value->text);
        w->params.format = (m4_format)fmt;
    }
    for (size_t i = 0; i < N_MODULE_PARAMS; i++) {
        if (!f[3 + i].value)
            continue;
        long v;
        join(path, sizeof path, prefix, module_params[i].name);
        bool lora = module_params[i].offset == offsetof(m4_module_params, lora_rank);
        if ((st = scalar_int(c, f[3 + i].value, path, lora ? 0 : 1, lora ? SWEEP_LORA_RANK_MAX : INT_MAX, &v)) !=
            RT_OK)
            return st;
        if (lora && v > 0 && !m4_module_takes_lora(w->module))
            return spec_err(c, f[3 + i].value, path, "%s takes no LoRA adapters; lora_rank must be 0 or absent",
                            m4_module_get(w->module)->name);
        int iv = (int)v;
        memcpy((char *)&w->params + module_params[i].offset, &iv, sizeof iv);
    }
    /* As `m4npu whatif --module`: a module that takes adapters has them at the default rank unless
     * lora_rank says otherwise (0: none), so a sweep row and a whatif row of one module agree. */
    bool lora_given = false;
    for (size_t i = 0; i < N_MODULE_PARAMS; i++)
        lora_given |= f[3 + i].value && module_params[i].offset == offsetof(m4_module_params, lora_rank);
    if (!lora_given && m4_module_takes_lora(w->module))
        w->params.lora_rank = M4_LORA_RANK_DEFAULT;
    m4_module_params resolved;
    rt_error re;
    if (m4_module_params_resolve(w->module, &w->params, &resolved, &re) != RT_OK)
        return spec_err(c, map, prefix, "%s", re.msg);
    join(path, sizeof path, prefix, "name");
    return workload_name(c, w, f[1].value, path, m4_module_get(w->module)->name);
}

static rt_status parse_task(spec_ctx *c, sweep_workload *w, const config_node *map, const char *prefix)
{
    field f[] = {{"task", true, NULL, NULL},          {"name", false, NULL, NULL},
                 {"prompt_tokens", false, NULL, NULL}, {"gen_tokens", false, NULL, NULL},
                 {"lora_rank", false, NULL, NULL},     {"unet_steps", false, NULL, NULL},
                 {"int4", false, NULL, NULL}};
    rt_status st = walk_fields(c, map, map, prefix, f, sizeof f / sizeof f[0]);
    char path[128];
    join(path, sizeof path, prefix, "task");
    if (st != RT_OK || (st = want_scalar(c, f[0].value, path, "a task (T1..T50)")) != RT_OK)
        return st;
    const char *t = f[0].value->text;
    char *end;
    long id = strtol(t[0] == 'T' || t[0] == 't' ? t + 1 : t, &end, 10);
    if (*end || end == t || id < 1 || id > M4_TASK_COUNT)
        return spec_err(c, f[0].value, path, "expected a task T1..T%d, got \"%s\"", M4_TASK_COUNT, t);
    w->kind = SWEEP_WL_TASK;
    w->task = (int)id;
    memset(&w->options, 0, sizeof w->options);
    long v;
    int *dst[] = {&w->options.prompt_tokens, &w->options.gen_tokens, &w->options.lora_rank, &w->options.unet_steps};
    for (int i = 0; i < 4; i++) {
        if (!f[2 + i].value)
            continue;
        join(path, sizeof path, prefix, f[2 + i].name);
        bool lora = i == 2;
        if ((st = scalar_int(c, f[2 + i].value, path, lora ? 0 : 1, lora ? SWEEP_LORA_RANK_MAX : M4_LLAMA_CONTEXT,
                             &v)) != RT_OK)
            return st;
        *dst[i] = lora && v == 0 ? M4_LORA_NONE : (int)v;
    }
    if (f[6].value) {
        bool int4 = false;
        join(path, sizeof path, prefix, "int4");
        if ((st = scalar_bool(c, f[6].value, path, &int4)) != RT_OK)
            return st;
        w->options.backbone_format = int4 ? M4_FMT_INT4 : M4_FMT_DEFAULT;
    }
    m4_step steps[M4_PLAN_MAX_STEPS];
    int n;
    rt_error re;
    if (m4_task_plan(m4_task_get(w->task), &w->options, steps, M4_PLAN_MAX_STEPS, &n, &re) != RT_OK)
        return spec_err(c, map, prefix, "%s", re.msg);
    char fallback[16];
    snprintf(fallback, sizeof fallback, "T%d", w->task);
    join(path, sizeof path, prefix, "name");
    return workload_name(c, w, f[1].value, path, fallback);
}

/* An ONNX model, run as `m4npu run MODEL --timing-only [--dim NAME=VALUE ...] [--weights int4]`.
 * It is imported once here (weights skipped), so that a file that is not a model fails now. */
static rt_status parse_model(spec_ctx *c, sweep_workload *w, const config_node *map, const char *prefix)
{
    field f[] = {{"model", true, NULL, NULL}, {"name", false, NULL, NULL}, {"dims", false, NULL, NULL},
                 {"weights", false, NULL, NULL}};
    rt_status st = walk_fields(c, map, map, prefix, f, sizeof f / sizeof f[0]);
    char path[128];
    join(path, sizeof path, prefix, "model");
    if (st != RT_OK || (st = want_scalar(c, f[0].value, path, "an ONNX file")) != RT_OK ||
        (st = resolve_path(c, f[0].value, path, c->s->path, f[0].value->text, w->model)) != RT_OK)
        return st;
    w->kind = SWEEP_WL_MODEL;
    w->n_dims = 0;
    const config_node *dims = f[2].value;
    join(path, sizeof path, prefix, "dims");
    if (dims && dims->type != CONFIG_NODE_MAP)
        return spec_err(c, dims, path, "expected a mapping from dimension names (or INPUT:AXIS) to sizes, got %s",
                        node_kind(dims));
    if (dims && (st = check_duplicates(c, dims, path)) != RT_OK)
        return st;
    for (size_t i = 0; dims && i + 1 < dims->n; i += 2) {
        const config_node *k = dims->items[i], *v = dims->items[i + 1];
        char name[SWEEP_NAME_BYTES + 8], dpath[256];
        printable(k, name, sizeof name);
        join(dpath, sizeof dpath, path, name);
        long size;
        if (w->n_dims == SWEEP_MAX_DIMS)
            return spec_err(c, k, dpath, "more than %d dimensions", SWEEP_MAX_DIMS);
        if (k->len == 0 || k->len >= SWEEP_NAME_BYTES)
            return spec_err(c, k, dpath, "a dimension name of 1 to %d bytes", SWEEP_NAME_BYTES - 1);
        if ((st = scalar_int(c, v, dpath, 1, INT_MAX, &size)) != RT_OK)
            return st;
        memcpy(w->dim_name[w->n_dims], k->text, k->len);
        w->dim_name[w->n_dims][k->len] = '\0';
        w->dim_value[w->n_dims++] = size;
    }
    w->int4 = false;
    if (f[3].value) {
        join(path, sizeof path, prefix, "weights");
        if ((st = want_scalar(c, f[3].value, path, "int8 or int4")) != RT_OK)
            return st;
        if (strcmp(f[3].value->text, "int4") == 0)
            w->int4 = true;
        else if (strcmp(f[3].value->text, "int8") != 0)
            return spec_err(c, f[3].value, path, "expected int8 or int4, got \"%s\"", f[3].value->text);
    }
    rt_graph *g = NULL;
    rt_error re;
    onnx_import_opts io = {.no_weight_data = true};
    if (onnx_import_file(w->model, &io, &g, &re) != RT_OK)
        return spec_err(c, f[0].value, prefix, "%s", re.msg);
    graph_free(g);
    /* the default name: the file's name without .onnx */
    const char *base = strrchr(w->model, '/');
    base = base ? base + 1 : w->model;
    char fallback[SWEEP_NAME_BYTES];
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".onnx") == 0)
        len -= 5;
    snprintf(fallback, sizeof fallback, "%.*s", (int)(len < sizeof fallback ? len : sizeof fallback - 1), base);
    join(path, sizeof path, prefix, "name");
    return workload_name(c, w, f[1].value, path, fallback);
}

static rt_status parse_workloads(spec_ctx *c, const config_node *seq)
{
    if (seq->type != CONFIG_NODE_SEQ || seq->n == 0)
        return spec_err(c, seq, "workloads", "expected a list of workloads ({module: NAME}, {task: T2}, {model: FILE}), got %s",
                        seq->type == CONFIG_NODE_SEQ ? "an empty list" : node_kind(seq));
    if (seq->n > SWEEP_MAX_WORKLOADS)
        return spec_err(c, seq, "workloads", "more than %d workloads", SWEEP_MAX_WORKLOADS);
    for (size_t i = 0; i < seq->n; i++) {
        const config_node *m = seq->items[i];
        char prefix[64];
        snprintf(prefix, sizeof prefix, "workloads[%zu]", i);
        if (m->type != CONFIG_NODE_MAP)
            return spec_err(c, m, prefix, "expected a mapping ({module: NAME, ...}, {task: T2, ...}, {model: FILE}), got %s",
                            node_kind(m));
        rt_status st = check_duplicates(c, m, prefix);
        if (st != RT_OK)
            return st;
        const char *kind = NULL;
        for (size_t k = 0; k + 1 < m->n && !kind; k += 2) {
            const char *name = m->items[k]->text;
            if (strcmp(name, "module") == 0 || strcmp(name, "task") == 0 || strcmp(name, "model") == 0)
                kind = name;
        }
        sweep_workload *w = &c->s->workloads[c->s->n_workloads];
        if (!kind)
            return spec_err(c, m, prefix,
                            "a workload needs one of module (an M4 module), task (T1..T50) and model (an ONNX file)");
        st = strcmp(kind, "module") == 0 ? parse_module(c, w, m, prefix)
             : strcmp(kind, "task") == 0 ? parse_task(c, w, m, prefix)
                                         : parse_model(c, w, m, prefix);
        if (st != RT_OK)
            return st;
        for (int j = 0; j < c->s->n_workloads; j++)
            if (strcmp(c->s->workloads[j].name, w->name) == 0)
                return spec_err(c, m, prefix, "a second workload named \"%s\"; give each a distinct name:", w->name);
        c->s->n_workloads++;
    }
    return RT_OK;
}

/* ---- the whole spec */

static void fnv1a(uint64_t *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        *h ^= p[i];
        *h *= 0x100000001b3ull; /* the 64-bit FNV prime */
    }
}

#define FNV_OFFSET_BASIS 0xcbf29ce484222325ull
#define MODEL_HASH_BYTES (1u << 20) /* a model's identity: its size and its first MiB */

/* A model file into the spec's identity: its size and its first MiB (a multi-GB model is not read
 * whole at every worker's start; a change that keeps both is not noticed). */
static void hash_model(uint64_t *h, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    unsigned char *buf = malloc(MODEL_HASH_BYTES);
    size_t got = buf ? fread(buf, 1, MODEL_HASH_BYTES, f) : 0;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    fclose(f);
    fnv1a(h, &size, sizeof size);
    if (buf)
        fnv1a(h, buf, got);
    free(buf);
}

static rt_status parse_root(spec_ctx *c, const config_node *root, const char *presets_dir)
{
    if (!root || (root->type == CONFIG_NODE_SCALAR && root->plain && root->len == 0))
        return spec_err(c, NULL, NULL, "no sweep spec (the file is empty); expected a mapping with keys base, axes, "
                                       "workloads, metrics and optionally constraints, sampling, area");
    field f[] = {{"base", true, NULL, NULL},         {"axes", true, NULL, NULL},  {"sampling", false, NULL, NULL},
                 {"constraints", false, NULL, NULL}, {"workloads", true, NULL, NULL}, {"metrics", true, NULL, NULL},
                 {"area", false, NULL, NULL}};
    rt_status st = walk_fields(c, root, root, "", f, sizeof f / sizeof f[0]);
    if (st != RT_OK)
        return st;
    if ((st = parse_base(c, f[0].value, f[0].key, presets_dir)) != RT_OK ||
        (st = parse_axes(c, f[1].value)) != RT_OK ||
        (f[2].value && (st = parse_sampling(c, f[2].value, f[2].key)) != RT_OK) ||
        (f[3].value && (st = parse_constraints(c, f[3].value)) != RT_OK) ||
        (st = parse_workloads(c, f[4].value)) != RT_OK || (st = parse_metrics(c, f[5].value)) != RT_OK ||
        (f[6].value && (st = parse_area(c, f[6].value, f[6].key)) != RT_OK))
        return st;
    /* the grid needs every axis discrete */
    for (int a = 0; a < c->s->n_axes && c->s->sampling == SWEEP_SAMPLE_GRID; a++)
        if (c->s->axes[a].n_values == 0) {
            config_node at = {.line = c->s->axes[a].line, .column = c->s->axes[a].column};
            char path[2 * M4NPU_CONFIG_KEY_LEN];
            join(path, sizeof path, "axes", c->s->axes[a].key->path);
            return spec_err(c, &at, path,
                            "a continuous range (no step, factor or points) needs random or lhs sampling");
        }
    return RT_OK;
}

rt_status sweep_spec_load(const char *path, const char *presets_dir, sweep_spec **out, rt_error *e)
{
    *out = NULL;
    sweep_spec *s = calloc(1, sizeof *s);
    spec_ctx *c = calloc(1, sizeof *c);
    if (!s || !c) {
        free(s);
        free(c);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep spec)");
    }
    c->origin = path;
    c->s = s;
    c->e = e;
    sweep_area_defaults(&s->area);
    s->metric[SWEEP_M_LATENCY_S] = s->metric[SWEEP_M_ENERGY_J] = s->metric[SWEEP_M_AREA_MM2] = true;
    uint8_t *text = NULL;
    size_t len = 0;
    config_node *root = NULL;
    rt_status st = rt_read_file(path, SPEC_MAX_FILE_BYTES, "a sweep spec", &text, &len, e);
    if (st != RT_OK)
        goto done;
    s->text = (char *)text;
    if (!realpath(path, s->path)) {
        st = rt_error_set(e, RT_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    m4npu_config_error cerr;
    if (config_yaml_parse(s->text, len, path, &root, &cerr) != M4NPU_CONFIG_OK) {
        st = rt_error_set(e, cerr.status == M4NPU_CONFIG_E_NOMEM ? RT_ERR_NOMEM : RT_ERR_ARG, "%s", cerr.msg);
        goto done;
    }
    if ((st = parse_root(c, root, presets_dir)) != RT_OK)
        goto done;
    uint64_t h = FNV_OFFSET_BASIS;
    fnv1a(&h, s->text, strlen(s->text) + 1);
    fnv1a(&h, s->base_text, strlen(s->base_text) + 1);
    for (int w = 0; w < s->n_workloads; w++)
        if (s->workloads[w].kind == SWEEP_WL_MODEL)
            hash_model(&h, s->workloads[w].model);
    snprintf(s->identity, sizeof s->identity, "%016llx", (unsigned long long)h);
done:
    config_node_free(root);
    free(c);
    if (st != RT_OK) {
        sweep_spec_free(s);
        return st;
    }
    *out = s;
    return RT_OK;
}

void sweep_spec_free(sweep_spec *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_sets; i++)
        free(s->sets[i]);
    for (int a = 0; a < s->n_axes; a++) {
        for (int v = 0; v < s->axes[a].n_values; v++)
            free(s->axes[a].values[v]);
        free(s->axes[a].values);
    }
    for (int i = 0; i < s->n_constraints; i++) {
        sweep_expr_free(s->constraints[i]);
        free(s->constraint_text[i]);
    }
    free(s->text);
    free(s->base_text);
    free(s);
}

rt_status sweep_spec_base(const sweep_spec *s, m4npu_config *cfg, rt_error *e)
{
    m4npu_config_error err;
    if (m4npu_config_load_text(s->base_text, strlen(s->base_text), s->base_path, cfg, &err) != M4NPU_CONFIG_OK)
        return rt_error_set(e, RT_ERR_ARG, "%s", err.msg);
    for (int i = 0; i < s->n_sets; i++)
        if (m4npu_config_set_assignment(cfg, s->sets[i], &err) != M4NPU_CONFIG_OK)
            return rt_error_set(e, RT_ERR_ARG, "%s: base.set: %s", s->path, err.msg);
    if (m4npu_config_validate(cfg, &err) != M4NPU_CONFIG_OK)
        return rt_error_set(e, RT_ERR_ARG, "%s: the base configuration with base.set: %s", s->path, err.msg);
    return RT_OK;
}
