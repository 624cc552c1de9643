/* config_ops.c -- the `ops:` section: the NPU capability set.
 *
 * Unlike the other sections, whose keys are fixed rows, this one is a mapping whose keys are
 * operator names of the runtime/ops registry, so it has a row kind of its own
 * (M4NPU_CFG_OPS) and its own walk, override syntax, printers and docs, all here:
 *
 *   ops:
 *     MatMul: on                          # the NPU runs it on f32 data (quantised to int8)
 *     Softmax: {max_axis: 4096}           # ... up to 4096 elements along the softmax axis
 *     Conv: {dtypes: [f32], max_kernel: 16, max_stride: 16}
 *     Where: off                          # the CPU runs it (the same as not listing it)
 *
 * An op name the registry does not know is an error at its line. Overrides drop or add ops
 * (`ops.Softmax=off`, `ops.Where=on`) and change fields (`ops.Softmax.max_axis=256`), so that
 * sweeps can vary the operator support like any other parameter.
 */
#include "config_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

_Static_assert(RT_OP_COUNT <= M4NPU_CONFIG_MAX_OPS, "M4NPU_CONFIG_MAX_OPS must cover the op registry");

#define OPS_SECTION "ops"
#define DEFAULT_DTYPES M4NPU_OP_DEFAULT_DTYPES
#define OPS_INDENT 2                               /* spaces before each op in the YAML block */
#define FIELD_NAME_MAX 32

static const char *const limit_names[M4NPU_LIMIT_COUNT] = {
    [M4NPU_LIMIT_RANK] = "max_rank",
    [M4NPU_LIMIT_ELEMENTS] = "max_elements",
    [M4NPU_LIMIT_AXIS] = "max_axis",
    [M4NPU_LIMIT_KERNEL] = "max_kernel",
    [M4NPU_LIMIT_STRIDE] = "max_stride",
};

/* The largest value each limit takes (what its member holds, or what the IR can describe). */
#define WINDOW_MAX 65535u /* a kernel or stride dimension: far beyond any layer's */

static const uint64_t limit_max[M4NPU_LIMIT_COUNT] = {
    [M4NPU_LIMIT_RANK] = RT_MAX_RANK,
    [M4NPU_LIMIT_ELEMENTS] = (uint64_t)RT_MAX_ELEMENTS,
    [M4NPU_LIMIT_AXIS] = UINT32_MAX,
    [M4NPU_LIMIT_KERNEL] = WINDOW_MAX,
    [M4NPU_LIMIT_STRIDE] = WINDOW_MAX,
};

static const char *const limit_units[M4NPU_LIMIT_COUNT] = {
    [M4NPU_LIMIT_RANK] = "dimensions", [M4NPU_LIMIT_ELEMENTS] = "elements", [M4NPU_LIMIT_AXIS] = "elements",
    [M4NPU_LIMIT_KERNEL] = "elements", [M4NPU_LIMIT_STRIDE] = "elements",
};

static const char *const limit_docs[M4NPU_LIMIT_COUNT] = {
    [M4NPU_LIMIT_RANK] = "Largest rank of any data tensor of the node. Every op.",
    [M4NPU_LIMIT_ELEMENTS] = "Most elements of any data tensor of the node. Every op.",
    [M4NPU_LIMIT_AXIS] = "Most elements the op reduces over for one output: the Softmax/LogSoftmax/Hardmax "
                         "axis, the normalised elements of LayerNormalization (from `axis` on) and of "
                         "Instance/GroupNormalization (per channel or group), the reduced elements of Reduce* "
                         "and ArgMax/ArgMin, the inner dimension K of MatMul, Gemm, MatMulInteger, QLinearMatMul.",
    [M4NPU_LIMIT_KERNEL] = "Largest kernel (window) dimension. Conv, ConvTranspose, MaxPool, AveragePool.",
    [M4NPU_LIMIT_STRIDE] = "Largest stride. Conv, ConvTranspose, MaxPool, AveragePool.",
};

/* Types a capability may name for data tensors. */
static const rt_dtype nameable_dtypes[] = {RT_DT_F32, RT_DT_F16, RT_DT_BF16, RT_DT_F64, RT_DT_I8, RT_DT_U8,
                                           RT_DT_I16, RT_DT_U16, RT_DT_I32, RT_DT_I64, RT_DT_BOOL};
#define N_NAMEABLE (sizeof nameable_dtypes / sizeof nameable_dtypes[0])

static const int axis_ops[] = {RT_OP_Softmax,         RT_OP_LogSoftmax,   RT_OP_Hardmax,
                               RT_OP_LayerNormalization, RT_OP_InstanceNormalization, RT_OP_GroupNormalization,
                               RT_OP_ReduceMean,      RT_OP_ReduceSum,    RT_OP_ReduceMax,
                               RT_OP_ReduceMin,       RT_OP_ReduceProd,   RT_OP_ReduceL1,
                               RT_OP_ReduceL2,        RT_OP_ReduceSumSquare, RT_OP_ReduceLogSum,
                               RT_OP_ReduceLogSumExp, RT_OP_ArgMax,       RT_OP_ArgMin,
                               RT_OP_MatMul,          RT_OP_Gemm,         RT_OP_MatMulInteger,
                               RT_OP_QLinearMatMul};
static const int window_ops[] = {RT_OP_Conv, RT_OP_ConvTranspose, RT_OP_MaxPool, RT_OP_AveragePool};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the public helpers */

const m4npu_op_cap *m4npu_config_op(const m4npu_config *cfg, int op)
{
    return cfg && op >= 0 && op < M4NPU_CONFIG_MAX_OPS ? &cfg->ops.op[op] : NULL;
}

int m4npu_config_ops_on(const m4npu_config *cfg)
{
    int n = 0;
    for (int i = 0; i < M4NPU_CONFIG_MAX_OPS; i++)
        n += cfg->ops.op[i].npu != 0;
    return n;
}

const char *m4npu_op_limit_name(m4npu_op_limit lim)
{
    return (unsigned)lim < M4NPU_LIMIT_COUNT ? limit_names[lim] : "?";
}

uint64_t m4npu_op_cap_limit(const m4npu_op_cap *cap, m4npu_op_limit lim)
{
    switch (lim) {
    case M4NPU_LIMIT_RANK:
        return cap->max_rank;
    case M4NPU_LIMIT_ELEMENTS:
        return cap->max_elements;
    case M4NPU_LIMIT_AXIS:
        return cap->max_axis;
    case M4NPU_LIMIT_KERNEL:
        return cap->max_kernel;
    case M4NPU_LIMIT_STRIDE:
        return cap->max_stride;
    default:
        return 0;
    }
}

static void cap_set_limit(m4npu_op_cap *cap, m4npu_op_limit lim, uint64_t v)
{
    switch (lim) {
    case M4NPU_LIMIT_RANK:
        cap->max_rank = (uint32_t)v;
        break;
    case M4NPU_LIMIT_ELEMENTS:
        cap->max_elements = v;
        break;
    case M4NPU_LIMIT_AXIS:
        cap->max_axis = (uint32_t)v;
        break;
    case M4NPU_LIMIT_KERNEL:
        cap->max_kernel = (uint32_t)v;
        break;
    case M4NPU_LIMIT_STRIDE:
        cap->max_stride = (uint32_t)v;
        break;
    default:
        break;
    }
}

static int in_list(const int *list, size_t n, int op)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == op)
            return 1;
    return 0;
}

int m4npu_op_limit_applies(int op, m4npu_op_limit lim)
{
    if (op < 0 || op >= ops_count())
        return 0;
    switch (lim) {
    case M4NPU_LIMIT_RANK:
    case M4NPU_LIMIT_ELEMENTS:
        return 1;
    case M4NPU_LIMIT_AXIS:
        return in_list(axis_ops, COUNT_OF(axis_ops), op);
    case M4NPU_LIMIT_KERNEL:
    case M4NPU_LIMIT_STRIDE:
        return in_list(window_ops, COUNT_OF(window_ops), op);
    default:
        return 0;
    }
}

/* "Conv, ConvTranspose, ..." : the ops a limit applies to (for messages). */
static void applies_list(m4npu_op_limit lim, char *buf, size_t size)
{
    const int *list = lim == M4NPU_LIMIT_AXIS ? axis_ops : window_ops;
    size_t n = lim == M4NPU_LIMIT_AXIS ? COUNT_OF(axis_ops) : COUNT_OF(window_ops), o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", ops_get(list[i])->name);
}

/* ---- small parsers */

static m4npu_config_status why(char *r, size_t rsize, m4npu_config_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static m4npu_config_status why(char *r, size_t rsize, m4npu_config_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r, rsize, fmt, ap);
    va_end(ap);
    return st;
}

/* Printable, NUL-free copy of some text for a message or a key path. */
static void shown(const char *s, size_t len, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[o] = '\0';
}

static int dtype_by_name(const char *s, size_t len)
{
    for (size_t i = 0; i < N_NAMEABLE; i++) {
        const char *n = rt_dtype_name(nameable_dtypes[i]);
        if (strlen(n) == len && memcmp(n, s, len) == 0)
            return (int)nameable_dtypes[i];
    }
    return -1;
}

static void dtype_names(char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_NAMEABLE && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", rt_dtype_name(nameable_dtypes[i]));
}

static void dtype_mask_format(uint32_t mask, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "[");
    int first = 1;
    for (size_t i = 0; i < N_NAMEABLE && o < size; i++)
        if (mask & M4NPU_DTYPE_BIT(nameable_dtypes[i])) {
            o += (size_t)snprintf(buf + o, size - o, "%s%s", first ? "" : ", ", rt_dtype_name(nameable_dtypes[i]));
            first = 0;
        }
    if (o < size)
        snprintf(buf + o, size - o, "]");
}

/* Add one type name to *mask. */
static m4npu_config_status add_dtype(const char *s, size_t len, uint32_t *mask, char *r, size_t rsize)
{
    char name[64], names[160];
    shown(s, len, name, sizeof name);
    int t = dtype_by_name(s, len);
    if (t < 0) {
        dtype_names(names, sizeof names);
        return why(r, rsize, M4NPU_CONFIG_E_TYPE, "unknown data type \"%s\"; expected one of %s", name, names);
    }
    if (*mask & M4NPU_DTYPE_BIT(t))
        return why(r, rsize, M4NPU_CONFIG_E_DUPLICATE_KEY, "%s is listed twice", name);
    *mask |= M4NPU_DTYPE_BIT(t);
    return M4NPU_CONFIG_OK;
}

/* "f32", "f32,f16" or "[f32, f16]" (the override form of a list). */
static m4npu_config_status parse_dtype_text(const char *s, size_t len, uint32_t *mask, char *r, size_t rsize)
{
    while (len && s[0] == ' ')
        s++, len--;
    while (len && s[len - 1] == ' ')
        len--;
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']')
        s++, len -= 2;
    *mask = 0;
    if (len == 0)
        return why(r, rsize, M4NPU_CONFIG_E_RANGE, "needs at least one data type");
    for (size_t i = 0;;) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        if (a == b)
            return why(r, rsize, M4NPU_CONFIG_E_TYPE, "an empty name in the list of data types");
        m4npu_config_status st = add_dtype(s + a, b - a, mask, r, rsize);
        if (st != M4NPU_CONFIG_OK)
            return st;
        if (j >= len)
            return M4NPU_CONFIG_OK;
        i = j + 1;
    }
}

static int limit_by_name(const char *s, size_t len)
{
    for (int i = 0; i < M4NPU_LIMIT_COUNT; i++)
        if (strlen(limit_names[i]) == len && memcmp(limit_names[i], s, len) == 0)
            return i;
    return -1;
}

/* The value of one limit of op `op` (applicability, type, range). */
static m4npu_config_status parse_limit(int op, m4npu_op_limit lim, const char *s, size_t len, int plain,
                                       uint64_t *out, char *r, size_t rsize)
{
    char text[64], list[400];
    shown(s, len, text, sizeof text);
    if (!m4npu_op_limit_applies(op, lim)) {
        applies_list(lim, list, sizeof list);
        return why(r, rsize, M4NPU_CONFIG_E_RANGE, "%s has no %s; %s applies to %s", ops_get(op)->name,
                   lim == M4NPU_LIMIT_AXIS ? "reduction axis" : "window", limit_names[lim], list);
    }
    if (!plain)
        return why(r, rsize, M4NPU_CONFIG_E_TYPE, "expected an unsigned integer, got the quoted string \"%s\"", text);
    if (len == 0)
        return why(r, rsize, M4NPU_CONFIG_E_TYPE, "expected an unsigned integer, got nothing");
    uint64_t v = 0;
    int overflow = 0, negative = s[0] == '-' && len > 1;
    for (size_t i = negative; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return why(r, rsize, M4NPU_CONFIG_E_TYPE, "expected an unsigned integer, got \"%s\"", text);
        if (v > (UINT64_MAX - 9) / 10)
            overflow = 1;
        else
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (negative || overflow || v == 0 || v > limit_max[lim])
        return why(r, rsize, M4NPU_CONFIG_E_RANGE, "%s is outside 1..%llu %s%s", text,
                   (unsigned long long)limit_max[lim], limit_units[lim],
                   v == 0 && !negative ? " (leave the limit out for none)" : "");
    *out = v;
    return M4NPU_CONFIG_OK;
}

/* The op id of a name, or RT_OP_NONE; *hint gets a registry name equal but for case. */
static int op_by_name(const char *s, size_t len, const char **hint)
{
    char name[128];
    *hint = NULL;
    if (len == 0 || len >= sizeof name || memchr(s, '\0', len))
        return RT_OP_NONE;
    memcpy(name, s, len);
    name[len] = '\0';
    int op = ops_lookup("", name);
    if (op != RT_OP_NONE)
        return op;
    for (int i = 0; i < ops_count(); i++) {
        const char *n = ops_get(i)->name;
        size_t k = 0;
        while (k < len && n[k] && tolower((unsigned char)n[k]) == tolower((unsigned char)s[k]))
            k++;
        if (k == len && n[k] == '\0')
            *hint = n;
    }
    return RT_OP_NONE;
}

static m4npu_config_status unknown_op_reason(const char *s, size_t len, char *r, size_t rsize)
{
    const char *hint;
    op_by_name(s, len, &hint);
    if (hint)
        return why(r, rsize, M4NPU_CONFIG_E_UNKNOWN_KEY,
                   "unknown op; not in the runtime/ops registry (did you mean %s?)", hint);
    return why(r, rsize, M4NPU_CONFIG_E_UNKNOWN_KEY,
               "unknown op; not in the runtime/ops registry (`m4npu ops` lists every op)");
}

static void field_names(char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "dtypes");
    for (int i = 0; i < M4NPU_LIMIT_COUNT && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, ", %s", limit_names[i]);
}

static const m4npu_op_cap default_on = {.npu = 1, .dtypes = DEFAULT_DTYPES};

/* ---- the walk of the YAML mapping */

static m4npu_config_status node_error(m4npu_config_error *err, m4npu_config_status st, const char *origin,
                                      const config_node *at, const char *key, const char *reason)
{
    return config_error(err, st, origin, at->line, at->column, key, "%s", reason);
}

static const char *kind_of(const config_node *n)
{
    if (n->type == CONFIG_NODE_MAP)
        return "a mapping";
    if (n->type == CONFIG_NODE_SEQ)
        return "a sequence";
    return n->len == 0 && n->plain ? "nothing" : "a scalar";
}

/* One field of an op's mapping: `dtypes` (a name or a sequence of names) or a limit. */
static m4npu_config_status walk_field(int op, const config_node *key, const config_node *val, const char *path,
                                      const char *origin, m4npu_op_cap *cap, m4npu_config_error *err)
{
    char reason[512];
    m4npu_config_status st;
    if (key->len == strlen("dtypes") && memcmp(key->text, "dtypes", key->len) == 0) {
        uint32_t mask = 0;
        if (val->type == CONFIG_NODE_SCALAR) {
            if (val->len == 0)
                return node_error(err, M4NPU_CONFIG_E_TYPE, origin, val, path,
                                  "expected a data type or a sequence of them, got nothing");
            if ((st = add_dtype(val->text, val->len, &mask, reason, sizeof reason)) != M4NPU_CONFIG_OK)
                return node_error(err, st, origin, val, path, reason);
        } else if (val->type == CONFIG_NODE_SEQ) {
            for (size_t i = 0; i < val->n; i++) {
                const config_node *item = val->items[i];
                if (item->type != CONFIG_NODE_SCALAR)
                    return config_error(err, M4NPU_CONFIG_E_TYPE, origin, item->line, item->column, path,
                                        "expected a data type, got %s", kind_of(item));
                if ((st = add_dtype(item->text, item->len, &mask, reason, sizeof reason)) != M4NPU_CONFIG_OK)
                    return node_error(err, st, origin, item, path, reason);
            }
            if (mask == 0)
                return node_error(err, M4NPU_CONFIG_E_RANGE, origin, val, path, "needs at least one data type");
        } else {
            return node_error(err, M4NPU_CONFIG_E_TYPE, origin, val, path,
                              "expected a data type or a sequence of them, got a mapping");
        }
        cap->dtypes = mask;
        return M4NPU_CONFIG_OK;
    }
    int lim = limit_by_name(key->text, key->len);
    if (lim < 0) {
        char names[160];
        field_names(names, sizeof names);
        snprintf(reason, sizeof reason, "unknown key; expected one of: %s", names);
        return node_error(err, M4NPU_CONFIG_E_UNKNOWN_KEY, origin, key, path, reason);
    }
    if (val->type != CONFIG_NODE_SCALAR) {
        snprintf(reason, sizeof reason, "expected an unsigned integer, got %s", kind_of(val));
        return node_error(err, M4NPU_CONFIG_E_TYPE, origin, val, path, reason);
    }
    uint64_t v = 0;
    if ((st = parse_limit(op, (m4npu_op_limit)lim, val->text, val->len, val->plain, &v, reason, sizeof reason)))
        return node_error(err, st, origin, lim >= 0 && !m4npu_op_limit_applies(op, (m4npu_op_limit)lim) ? key : val,
                          path, reason);
    cap_set_limit(cap, (m4npu_op_limit)lim, v);
    return M4NPU_CONFIG_OK;
}

/* Duplicate keys of a mapping: the first earlier key equal to items[i], or NULL. */
static const config_node *earlier_key(const config_node *map, size_t i)
{
    const config_node *key = map->items[i];
    for (size_t j = 0; j < i; j += 2)
        if (map->items[j]->len == key->len && memcmp(map->items[j]->text, key->text, key->len) == 0)
            return map->items[j];
    return NULL;
}

static m4npu_config_status walk_entry(int op, const config_node *val, const char *path, const char *origin,
                                      m4npu_op_cap *cap, m4npu_config_error *err)
{
    char reason[512], names[160];
    if (val->type == CONFIG_NODE_SCALAR) {
        if (val->len == 2 && memcmp(val->text, "on", 2) == 0) {
            *cap = default_on;
            return M4NPU_CONFIG_OK;
        }
        if (val->len == 3 && memcmp(val->text, "off", 3) == 0) {
            memset(cap, 0, sizeof *cap);
            return M4NPU_CONFIG_OK;
        }
        char text[64];
        shown(val->text, val->len, text, sizeof text);
        field_names(names, sizeof names);
        if (val->len == 0 && val->plain)
            snprintf(reason, sizeof reason, "expected on, off or a mapping with keys %s, got nothing", names);
        else
            snprintf(reason, sizeof reason, "expected on, off or a mapping with keys %s, got \"%s\"", names, text);
        return node_error(err, M4NPU_CONFIG_E_TYPE, origin, val, path, reason);
    }
    if (val->type != CONFIG_NODE_MAP) {
        field_names(names, sizeof names);
        snprintf(reason, sizeof reason, "expected on, off or a mapping with keys %s, got a sequence", names);
        return node_error(err, M4NPU_CONFIG_E_TYPE, origin, val, path, reason);
    }
    *cap = default_on;
    for (size_t i = 0; i + 1 < val->n; i += 2) {
        const config_node *key = val->items[i];
        char fname[FIELD_NAME_MAX], fpath[2 * M4NPU_CONFIG_KEY_LEN];
        shown(key->text, key->len, fname, sizeof fname);
        snprintf(fpath, sizeof fpath, "%s.%s", path, fname);
        const config_node *prev = earlier_key(val, i);
        if (prev) {
            snprintf(reason, sizeof reason, "duplicate key (first at line %d, column %d)", prev->line, prev->column);
            return node_error(err, M4NPU_CONFIG_E_DUPLICATE_KEY, origin, key, fpath, reason);
        }
        m4npu_config_status st = walk_field(op, key, val->items[i + 1], fpath, origin, cap, err);
        if (st != M4NPU_CONFIG_OK)
            return st;
    }
    return M4NPU_CONFIG_OK;
}

m4npu_config_status config_ops_walk(const config_node *map, const char *origin, m4npu_config *cfg,
                                    m4npu_config_error *err)
{
    memset(&cfg->ops, 0, sizeof cfg->ops);
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const config_node *key = map->items[i], *val = map->items[i + 1];
        char name[64], path[M4NPU_CONFIG_KEY_LEN], reason[512];
        shown(key->text, key->len, name, sizeof name);
        snprintf(path, sizeof path, "%s.%s", OPS_SECTION, name);
        const config_node *prev = earlier_key(map, i);
        if (prev) {
            snprintf(reason, sizeof reason, "duplicate key (first at line %d, column %d)", prev->line, prev->column);
            return node_error(err, M4NPU_CONFIG_E_DUPLICATE_KEY, origin, key, path, reason);
        }
        const char *hint;
        int op = op_by_name(key->text, key->len, &hint);
        if (op == RT_OP_NONE) {
            m4npu_config_status st = unknown_op_reason(key->text, key->len, reason, sizeof reason);
            return node_error(err, st, origin, key, path, reason);
        }
        m4npu_config_status st = walk_entry(op, val, path, origin, &cfg->ops.op[op], err);
        if (st != M4NPU_CONFIG_OK)
            return st;
    }
    return M4NPU_CONFIG_OK;
}

/* ---- overrides */

m4npu_config_status config_ops_set(m4npu_config *cfg, const char *sub, const char *value, const char *origin,
                                   m4npu_config_error *err)
{
    const char *dot = strchr(sub, '.');
    size_t oplen = dot ? (size_t)(dot - sub) : strlen(sub);
    char name[64], key[M4NPU_CONFIG_KEY_LEN], reason[512];
    shown(sub, oplen, name, sizeof name);
    snprintf(key, sizeof key, "%s.%s", OPS_SECTION, name);
    const char *hint;
    int op = op_by_name(sub, oplen, &hint);
    if (op == RT_OP_NONE) {
        m4npu_config_status st = unknown_op_reason(sub, oplen, reason, sizeof reason);
        return config_error(err, st, origin, 0, 0, key, "%s", reason);
    }
    const char *v = value ? value : "";
    size_t vlen = strlen(v);
    m4npu_op_cap cap = cfg->ops.op[op];
    if (!dot) {
        if (strcmp(v, "off") == 0) {
            memset(&cfg->ops.op[op], 0, sizeof cap);
            return M4NPU_CONFIG_OK;
        }
        if (strcmp(v, "on") == 0) {
            if (!cap.npu)
                cfg->ops.op[op] = default_on;
            return M4NPU_CONFIG_OK;
        }
        char text[64], names[160];
        shown(v, vlen, text, sizeof text);
        field_names(names, sizeof names);
        return config_error(err, M4NPU_CONFIG_E_TYPE, origin, 0, 0, key,
                            "expected on or off, got \"%s\" (set a field with %s.FIELD=VALUE; fields: %s)", text,
                            key, names);
    }
    const char *field = dot + 1;
    char fkey[2 * M4NPU_CONFIG_KEY_LEN], fname[FIELD_NAME_MAX];
    shown(field, strlen(field), fname, sizeof fname);
    snprintf(fkey, sizeof fkey, "%s.%s", key, fname);
    if (!cap.npu)
        cap = default_on; /* a field implies the op is on, as a mapping in YAML does */
    m4npu_config_status st;
    if (strcmp(field, "dtypes") == 0) {
        uint32_t mask = 0;
        if ((st = parse_dtype_text(v, vlen, &mask, reason, sizeof reason)) != M4NPU_CONFIG_OK)
            return config_error(err, st, origin, 0, 0, fkey, "%s", reason);
        cap.dtypes = mask;
    } else {
        int lim = limit_by_name(field, strlen(field));
        if (lim < 0) {
            char names[160];
            field_names(names, sizeof names);
            return config_error(err, M4NPU_CONFIG_E_UNKNOWN_KEY, origin, 0, 0, fkey,
                                "unknown key; expected one of: %s (in %s)", names, key);
        }
        uint64_t lv = 0;
        if ((st = parse_limit(op, (m4npu_op_limit)lim, v, vlen, 1, &lv, reason, sizeof reason)) != M4NPU_CONFIG_OK)
            return config_error(err, st, origin, 0, 0, fkey, "%s", reason);
        cap_set_limit(&cap, (m4npu_op_limit)lim, lv);
    }
    cfg->ops.op[op] = cap;
    return M4NPU_CONFIG_OK;
}

/* ---- the check of a struct (filled by the loader, by overrides or in code) */

int config_ops_check(const m4npu_config *cfg, char *err, size_t errlen)
{
    uint32_t nameable = 0;
    for (size_t i = 0; i < N_NAMEABLE; i++)
        nameable |= M4NPU_DTYPE_BIT(nameable_dtypes[i]);
    static const m4npu_op_cap off;
    for (int op = 0; op < M4NPU_CONFIG_MAX_OPS; op++) {
        const m4npu_op_cap *c = &cfg->ops.op[op];
        if (op >= ops_count()) {
            if (memcmp(c, &off, sizeof off) != 0) {
                snprintf(err, errlen, "ops: entry %d is set but the registry has only %d ops", op, ops_count());
                return -1;
            }
            continue;
        }
        const char *name = ops_get(op)->name;
        if (c->npu > 1) {
            snprintf(err, errlen, "ops.%s: npu is %u; expected 0 (off) or 1 (on)", name, c->npu);
            return -1;
        }
        if (!c->npu) {
            if (memcmp(c, &off, sizeof off) != 0) {
                snprintf(err, errlen, "ops.%s: an op that is off has no data types or limits", name);
                return -1;
            }
            continue;
        }
        if (c->dtypes == 0 || (c->dtypes & ~nameable)) {
            snprintf(err, errlen, "ops.%s.dtypes: %s", name,
                     c->dtypes ? "holds a type that is not a data type name" : "needs at least one data type");
            return -1;
        }
        for (int l = 0; l < M4NPU_LIMIT_COUNT; l++) {
            uint64_t v = m4npu_op_cap_limit(c, (m4npu_op_limit)l);
            if (v == 0)
                continue;
            if (!m4npu_op_limit_applies(op, (m4npu_op_limit)l)) {
                snprintf(err, errlen, "ops.%s.%s: does not apply to %s", name, limit_names[l], name);
                return -1;
            }
            if (v > limit_max[l]) {
                snprintf(err, errlen, "ops.%s.%s: %llu is outside 1..%llu %s", name, limit_names[l],
                         (unsigned long long)v, (unsigned long long)limit_max[l], limit_units[l]);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- printing */

/* "on", or a flow mapping of what differs from `on`. */
static void entry_format(const m4npu_op_cap *c, char *buf, size_t size)
{
    if (memcmp(c, &default_on, sizeof *c) == 0) {
        snprintf(buf, size, "on");
        return;
    }
    size_t o = (size_t)snprintf(buf, size, "{");
    int first = 1;
    if (c->dtypes != DEFAULT_DTYPES) {
        char list[160];
        dtype_mask_format(c->dtypes, list, sizeof list);
        o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "dtypes: %s", list);
        first = 0;
    }
    for (int l = 0; l < M4NPU_LIMIT_COUNT; l++) {
        uint64_t v = m4npu_op_cap_limit(c, (m4npu_op_limit)l);
        if (v) {
            o += (size_t)snprintf(buf + o, o < size ? size - o : 0, "%s%s: %llu", first ? "" : ", ", limit_names[l],
                                  (unsigned long long)v);
            first = 0;
        }
    }
    if (o < size)
        snprintf(buf + o, size - o, "}");
}

int config_ops_write_yaml(const m4npu_config *cfg, const char *key, FILE *out)
{
    if (m4npu_config_ops_on(cfg) == 0) {
        fprintf(out, "%s: {}\n", key);
        return ferror(out) ? -1 : 0;
    }
    fprintf(out, "%s:\n", key);
    for (int op = 0; op < ops_count(); op++) {
        const m4npu_op_cap *c = &cfg->ops.op[op];
        if (!c->npu)
            continue;
        char entry[256];
        entry_format(c, entry, sizeof entry);
        fprintf(out, "%*s%s: %s\n", OPS_INDENT, "", ops_get(op)->name, entry);
    }
    return ferror(out) ? -1 : 0;
}

json_t *config_ops_json(const m4npu_config *cfg)
{
    json_t *obj = json_object();
    for (int op = 0; obj && op < ops_count(); op++) {
        const m4npu_op_cap *c = &cfg->ops.op[op];
        if (!c->npu)
            continue;
        json_t *e = json_object(), *types = json_array();
        int bad = !e || !types;
        for (size_t i = 0; !bad && i < N_NAMEABLE; i++)
            if (c->dtypes & M4NPU_DTYPE_BIT(nameable_dtypes[i]))
                bad = json_array_append_new(types, json_string(rt_dtype_name(nameable_dtypes[i]))) != 0;
        bad = bad || json_object_set(e, "dtypes", types) != 0;
        for (int l = 0; !bad && l < M4NPU_LIMIT_COUNT; l++) {
            uint64_t v = m4npu_op_cap_limit(c, (m4npu_op_limit)l);
            if (v)
                bad = json_object_set_new(e, limit_names[l], json_integer((json_int_t)v)) != 0;
        }
        json_decref(types);
        if (bad || json_object_set_new(obj, ops_get(op)->name, e) != 0) {
            if (bad)
                json_decref(e);
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

void config_ops_doc(const m4npu_config *example, FILE *out)
{
    char names[160];
    dtype_names(names, sizeof names);
    fputs("\nEach entry of `ops:` is an op name of the runtime/ops registry (`m4npu ops` lists them; an\n"
          "unknown name is an error at its line) and one of:\n"
          "\n"
          "- `on`: the NPU runs the op on f32 data (quantised to int8 at the boundary), with no limit;\n"
          "- `off`: the CPU runs it (the same as leaving the op out; written to record why);\n"
          "- a mapping of the fields below (the op is on; a field left out has its `on` value).\n"
          "\n"
          "A node goes to the NPU only if its op is on, its data tensors have a listed type, it is within\n"
          "every limit, and the firmware's kernels can run it (`npu_backend_supports`). Integer constants\n"
          "that parameterise an op (Reshape's shape, Slice's starts ...) are not data tensors.\n"
          "Overrides drop or add an op (`--set ops.Softmax=off`, `--set ops.Where=on`) or set a field\n"
          "(`--set ops.Softmax.max_axis=256`, `--set \"ops.Conv.dtypes=[f32, f16]\"`; a field turns the op on).\n"
          "\n"
          "| field | type | meaning |\n"
          "|---|---|---|\n",
          out);
    fprintf(out, "| `dtypes` | a name or a list | Types the node's data tensors may have (default `[f32, f16, bf16]`): %s. |\n",
            names);
    for (int l = 0; l < M4NPU_LIMIT_COUNT; l++)
        fprintf(out, "| `%s` | integer, 1..%llu %s | %s Left out: no limit. |\n", limit_names[l],
                (unsigned long long)limit_max[l], limit_units[l], limit_docs[l]);
    fprintf(out, "\nThe capability set of `configs/test.yaml` (%d ops):\n\n", m4npu_config_ops_on(example));
    for (int op = 0; op < ops_count(); op++) {
        const m4npu_op_cap *c = &example->ops.op[op];
        if (!c->npu)
            continue;
        char entry[256];
        entry_format(c, entry, sizeof entry);
        fprintf(out, "- `%s: %s`\n", ops_get(op)->name, entry);
    }
    fputs("\n`configs/mobile-default.yaml` gives the reason for each op of the M4 set that it leaves to the CPU.\n",
          out);
}

/* ---- configs/test.yaml's capability set */

static const struct {
    const char *op;
    uint32_t max_axis, max_kernel, max_stride;
} test_set[] = {
    {"Add", 0, 0, 0},      {"Sub", 0, 0, 0},       {"Mul", 0, 0, 0},
    {"Div", 0, 0, 0},      {"Neg", 0, 0, 0},       {"Sqrt", 0, 0, 0},
    {"Exp", 0, 0, 0},      {"Pow", 0, 0, 0},       {"Sigmoid", 0, 0, 0},
    {"Tanh", 0, 0, 0},     {"Relu", 0, 0, 0},      {"MatMul", 0, 0, 0},
    {"Gemm", 0, 0, 0},     {"Conv", 0, 7, 4},      {"LayerNormalization", 1024, 0, 0},
    {"InstanceNormalization", 0, 0, 0},            {"ReduceMean", 1024, 0, 0},
    {"Softmax", 512, 0, 0}, {"Reshape", 0, 0, 0},  {"Transpose", 0, 0, 0},
    {"Concat", 0, 0, 0},   {"Slice", 0, 0, 0},     {"Unsqueeze", 0, 0, 0},
    {"Squeeze", 0, 0, 0},  {"Split", 0, 0, 0},     {"Resize", 0, 0, 0},
    {"Clip", 0, 0, 0},     {"LeakyRelu", 0, 0, 0}, {"HardSigmoid", 0, 0, 0},
    {"HardSwish", 0, 0, 0}, {"PRelu", 0, 0, 0},    {"MaxPool", 0, 7, 4},
    {"AveragePool", 0, 7, 4}, {"GlobalAveragePool", 0, 0, 0}, {"GlobalMaxPool", 0, 0, 0},
    {"Flatten", 0, 0, 0},  {"Pad", 0, 0, 0},       {"ConvTranspose", 0, 7, 4},
    {"BatchNormalization", 0, 0, 0},
};

void config_ops_defaults(m4npu_ops_config *ops)
{
    memset(ops, 0, sizeof *ops);
    for (size_t i = 0; i < COUNT_OF(test_set); i++) {
        int op = ops_lookup("", test_set[i].op);
        if (op == RT_OP_NONE)
            continue; /* cannot happen: tests/config compares the defaults with configs/test.yaml */
        m4npu_op_cap *c = &ops->op[op];
        *c = default_on;
        c->max_axis = test_set[i].max_axis;
        c->max_kernel = test_set[i].max_kernel;
        c->max_stride = test_set[i].max_stride;
    }
}
