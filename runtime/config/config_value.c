/* config_value.c -- one value of one key: its text form, its type and range, where it is stored.
 *
 * The loader (YAML scalars), overrides (--set KEY=VALUE) and validation of a struct filled in
 * code all come through here, so a value means the same wherever it is written. The printers
 * use the inverse, so that printing and reading back gives the same struct bit for bit.
 */
#include "config_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define SNIPPET_MAX 40 /* characters of an offending value quoted in a message */

/* ---- storage */

static void *member(const m4npu_cfg_key *k, m4npu_config *cfg)
{
    return (char *)cfg + k->offset;
}

static const void *cmember(const m4npu_cfg_key *k, const m4npu_config *cfg)
{
    return (const char *)cfg + k->offset;
}

static uint64_t load_uint(const m4npu_cfg_key *k, const m4npu_config *cfg)
{
    if (k->size == sizeof(uint32_t)) {
        uint32_t v;
        memcpy(&v, cmember(k, cfg), sizeof v);
        return v;
    }
    uint64_t v;
    memcpy(&v, cmember(k, cfg), sizeof v);
    return v;
}

static void store_uint(const m4npu_cfg_key *k, m4npu_config *cfg, uint64_t v)
{
    if (k->size == sizeof(uint32_t)) {
        uint32_t v32 = (uint32_t)v;
        memcpy(member(k, cfg), &v32, sizeof v32);
    } else {
        memcpy(member(k, cfg), &v, sizeof v);
    }
}

static double load_double(const m4npu_cfg_key *k, const m4npu_config *cfg)
{
    double v;
    memcpy(&v, cmember(k, cfg), sizeof v);
    return v;
}

/* ---- helpers for messages */

/* "text" with non-printable bytes as \xNN, cut at SNIPPET_MAX characters. */
static void snippet(const char *s, size_t len, char *buf, size_t size)
{
    size_t o = 0;
    static const char hex[] = "0123456789abcdef";
    if (size < 8) {
        if (size)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (size_t i = 0; i < len && o + 7 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == SNIPPET_MAX) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

static m4npu_config_status reason(char *r, size_t rsize, m4npu_config_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static m4npu_config_status reason(char *r, size_t rsize, m4npu_config_status st, const char *fmt, ...)
{
    if (r && rsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r, rsize, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- numbers */

/* Decimal digits only. 0 ok, -1 not digits, -2 overflow. */
static int parse_digits(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* [+-]? digits [. digits] [(e|E) [+-]? digits], or [+-]? . digits [...]: a decimal number. */
static int is_decimal_number(const char *s, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++, exp_digits++;
        if (exp_digits == 0)
            return 0;
    }
    return i == len;
}

static const struct {
    const char *suffix;
    uint64_t factor;
} byte_suffixes[] = {
    {"B", 1},
    {"KiB", CONFIG_KIB_BYTES},
    {"MiB", CONFIG_KIB_BYTES * CONFIG_KIB_BYTES},
    {"GiB", CONFIG_KIB_BYTES * CONFIG_KIB_BYTES * CONFIG_KIB_BYTES},
    {"TiB", CONFIG_KIB_BYTES * CONFIG_KIB_BYTES * CONFIG_KIB_BYTES * CONFIG_KIB_BYTES},
};
#define NSUFFIXES (sizeof byte_suffixes / sizeof byte_suffixes[0])

static const char *const decimal_suffixes[] = {"kB", "KB", "MB", "GB", "TB", "k", "K", "M", "G", "T"};
#define NDECIMAL (sizeof decimal_suffixes / sizeof decimal_suffixes[0])

void config_format_bytes(uint64_t v, char *buf, size_t size)
{
    for (size_t i = NSUFFIXES; i-- > 1;) {
        if (v != 0 && v % byte_suffixes[i].factor == 0) {
            snprintf(buf, size, "%llu %s", (unsigned long long)(v / byte_suffixes[i].factor),
                     byte_suffixes[i].suffix);
            return;
        }
    }
    snprintf(buf, size, "%llu", (unsigned long long)v);
}

#define PLAIN_INTEGER_LIMIT 1e15 /* whole numbers below this print without an exponent */

void config_format_double(double v, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    if (v == floor(v) && fabs(v) < PLAIN_INTEGER_LIMIT) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static m4npu_config_status out_of_range(const m4npu_cfg_key *k, const char *shown, char *r, size_t rsize);

/* A size of key k: digits, optional spaces, an optional binary suffix. */
static m4npu_config_status parse_bytes(const m4npu_cfg_key *k, const char *s, size_t len, uint64_t *out, char *r,
                                       size_t rsize)
{
    char shown[64];
    snippet(s, len, shown, sizeof shown);
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t ndigits = i;
    while (i < len && s[i] == ' ')
        i++;
    const char *suf = s + i;
    size_t suflen = len - i;
    if (ndigits == 0) {
        return reason(r, rsize, M4NPU_CONFIG_E_TYPE,
                      "expected a size in bytes (an integer, or with a binary suffix as in "
                      "\"256 KiB\", \"8 MiB\", \"12 GiB\"), got %s", shown);
    }
    uint64_t factor = 1;
    if (suflen) {
        size_t j = 0;
        while (j < NSUFFIXES && !(strlen(byte_suffixes[j].suffix) == suflen &&
                                  memcmp(byte_suffixes[j].suffix, suf, suflen) == 0))
            j++;
        if (j == NSUFFIXES) {
            for (size_t d = 0; d < NDECIMAL; d++)
                if (strlen(decimal_suffixes[d]) == suflen && memcmp(decimal_suffixes[d], suf, suflen) == 0)
                    return reason(r, rsize, M4NPU_CONFIG_E_TYPE,
                                  "%s: use a binary suffix (B, KiB, MiB, GiB, TiB); decimal ones are ambiguous",
                                  shown);
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE,
                          "expected a size in bytes (an integer, or with a binary suffix B, KiB, MiB, "
                          "GiB, TiB), got %s", shown);
        }
        factor = byte_suffixes[j].factor;
    }
    uint64_t n;
    if (parse_digits(s, ndigits, &n) != 0 || n > CONFIG_INT_MAX / factor) {
        char text[64];
        snprintf(text, sizeof text, "%.*s", (int)(len < sizeof text ? len : sizeof text - 1), s);
        return out_of_range(k, text, r, rsize);
    }
    *out = n * factor;
    return M4NPU_CONFIG_OK;
}

/* ---- ranges */

void config_range_text(const m4npu_cfg_key *k, char *buf, size_t size)
{
    char lo[40], hi[40];
    const char *unit = k->unit;
    switch (k->kind) {
    case M4NPU_CFG_BYTES:
        config_format_bytes(k->min, lo, sizeof lo);
        config_format_bytes(k->max, hi, sizeof hi);
        unit = strchr(hi, ' ') ? "" : "bytes"; /* "1 MiB..1 TiB", or plain numbers of bytes */
        break;
    case M4NPU_CFG_F64:
        config_format_double(k->fmin, lo, sizeof lo);
        config_format_double(k->fmax, hi, sizeof hi);
        break;
    default:
        snprintf(lo, sizeof lo, "%llu", (unsigned long long)k->min);
        snprintf(hi, sizeof hi, "%llu", (unsigned long long)k->max);
        break;
    }
    snprintf(buf, size, "%s..%s%s%s", lo, hi, unit[0] ? " " : "", unit);
}

/* The largest value the member can hold: a value beyond it is refused as it is read; a value
 * that fits but is outside the row's range is refused by the validation that follows every
 * load and override (so that an override can still bring a file's value into range). */
static uint64_t capacity(const m4npu_cfg_key *k)
{
    return k->size == sizeof(uint32_t) ? UINT32_MAX : CONFIG_INT_MAX;
}

/* "V is outside LO..HI UNIT", V as the user wrote it. */
static m4npu_config_status out_of_range(const m4npu_cfg_key *k, const char *shown, char *r, size_t rsize)
{
    char range[120];
    config_range_text(k, range, sizeof range);
    return reason(r, rsize, M4NPU_CONFIG_E_RANGE, "%s is outside %s", shown, range);
}

static m4npu_config_status check_uint(const m4npu_cfg_key *k, uint64_t v, char *r, size_t rsize)
{
    if (v >= k->min && v <= k->max)
        return M4NPU_CONFIG_OK;
    char val[64];
    snprintf(val, sizeof val, "%llu", (unsigned long long)v);
    if (k->kind == M4NPU_CFG_BYTES) {
        char sized[40];
        config_format_bytes(v, sized, sizeof sized);
        if (strchr(sized, ' '))
            snprintf(val, sizeof val, "%llu (%s)", (unsigned long long)v, sized);
    }
    return out_of_range(k, val, r, rsize);
}

static m4npu_config_status check_double(const m4npu_cfg_key *k, double v, char *r, size_t rsize)
{
    if (v >= k->fmin && v <= k->fmax) /* false for NaN */
        return M4NPU_CONFIG_OK;
    char val[40];
    config_format_double(v, val, sizeof val);
    return out_of_range(k, val, r, rsize);
}

/* A number written where an unsigned integer is expected that is not one ("1e23", "-5", "1.5",
 * or digits past 64 bits): its range if it is outside (it could not be stored to be checked
 * later), else a type error. */
static m4npu_config_status not_an_integer(const m4npu_cfg_key *k, const char *s, size_t len, char *r, size_t rsize)
{
    char buf[128], shown[64];
    snippet(s, len, shown, sizeof shown);
    if (len < sizeof buf) {
        memcpy(buf, s, len);
        buf[len] = '\0';
        double v = strtod(buf, NULL);
        if (!(v >= (double)k->min && v <= (double)k->max)) {
            /* the number as written, its head and "..." if it is longer than shown holds */
            if (len < sizeof shown) {
                memcpy(shown, s, len);
                shown[len] = '\0';
            } else {
                size_t head = sizeof shown - sizeof "...";
                memcpy(shown, s, head);
                memcpy(shown + head, "...", sizeof "...");
            }
            return out_of_range(k, shown, r, rsize);
        }
    }
    return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected an unsigned integer, got %s", shown);
}

static size_t enum_count(const m4npu_cfg_key *k)
{
    size_t n = 0;
    while (k->names[n])
        n++;
    return n;
}

static void enum_list(const m4npu_cfg_key *k, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; k->names[i] && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", k->names[i]);
}

int config_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0)
            n = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            n = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            n = 3, cp = c & 0x07;
        else
            return 0;
        if (i + n >= len)
            return 0;
        for (size_t j = 1; j <= n; j++) {
            unsigned char cc = (unsigned char)s[i + j];
            if ((cc & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

static m4npu_config_status check_string(const m4npu_cfg_key *k, const char *s, size_t len, char *r, size_t rsize)
{
    if (memchr(s, '\0', len))
        return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "contains a NUL character");
    if (!config_utf8_valid(s, len))
        return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "is not valid UTF-8");
    if (len < k->min)
        return reason(r, rsize, M4NPU_CONFIG_E_RANGE, "must not be empty");
    if (len > k->max)
        return reason(r, rsize, M4NPU_CONFIG_E_RANGE, "is %zu bytes long; the maximum is %llu", len,
                      (unsigned long long)k->max);
    return M4NPU_CONFIG_OK;
}

/* ---- parse one value */

m4npu_config_status config_value_parse(const m4npu_cfg_key *k, const char *s, size_t len, int plain,
                                       m4npu_config *cfg, char *r, size_t rsize)
{
    char shown[64];
    snippet(s, len, shown, sizeof shown);
    m4npu_config_status st;
    switch (k->kind) {
    case M4NPU_CFG_U32:
    case M4NPU_CFG_U64: {
        if (!plain)
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected an unsigned integer, got the quoted string %s",
                          shown);
        if (len == 0)
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected an unsigned integer, got nothing");
        uint64_t v = 0;
        int rc = parse_digits(s, len, &v);
        if (rc != 0 && is_decimal_number(s, len))
            return not_an_integer(k, s, len, r, rsize);
        if (rc == -1)
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected an unsigned integer, got %s", shown);
        if (v > capacity(k))
            return check_uint(k, v, r, rsize); /* cannot even be stored: its range now */
        store_uint(k, cfg, v);
        return M4NPU_CONFIG_OK;
    }
    case M4NPU_CFG_BYTES: {
        if (len == 0)
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected a size in bytes, got nothing");
        uint64_t v = 0;
        if (is_decimal_number(s, len) && parse_digits(s, len, &v) != 0)
            return not_an_integer(k, s, len, r, rsize); /* "-1", "1e12", "1.5", 30 digits */
        if ((st = parse_bytes(k, s, len, &v, r, rsize)) != M4NPU_CONFIG_OK)
            return st;
        store_uint(k, cfg, v);
        return M4NPU_CONFIG_OK;
    }
    case M4NPU_CFG_F64: {
        if (!plain)
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected a number, got the quoted string %s", shown);
        if (len == 0)
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected a number, got nothing");
        if (!is_decimal_number(s, len)) {
            static const char *const nonfinite[] = {".inf", "+.inf", "-.inf", ".Inf", "+.Inf", "-.Inf", ".INF",
                                                    "+.INF", "-.INF", ".nan", ".NaN", ".NAN", "inf", "nan"};
            for (size_t i = 0; i < sizeof nonfinite / sizeof nonfinite[0]; i++)
                if (strlen(nonfinite[i]) == len && memcmp(nonfinite[i], s, len) == 0)
                    return reason(r, rsize, M4NPU_CONFIG_E_RANGE, "expected a finite number, got %s", shown);
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected a number, got %s", shown);
        }
        char buf[128];
        if (len >= sizeof buf)
            return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected a number, got %s (too many digits)", shown);
        memcpy(buf, s, len);
        buf[len] = '\0';
        double v = strtod(buf, NULL);
        if (!isfinite(v))
            return reason(r, rsize, M4NPU_CONFIG_E_RANGE, "%s is too large for a finite number", shown);
        memcpy(member(k, cfg), &v, sizeof v);
        return M4NPU_CONFIG_OK;
    }
    case M4NPU_CFG_ENUM: {
        for (size_t i = 0; k->names[i]; i++) {
            if (strlen(k->names[i]) == len && memcmp(k->names[i], s, len) == 0) {
                store_uint(k, cfg, i);
                return M4NPU_CONFIG_OK;
            }
        }
        char names[128];
        enum_list(k, names, sizeof names);
        return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected one of %s, got %s", names, shown);
    }
    case M4NPU_CFG_STR: {
        if ((st = check_string(k, s, len, r, rsize)) != M4NPU_CONFIG_OK)
            return st;
        char *dst = member(k, cfg);
        memset(dst, 0, k->size);
        memcpy(dst, s, len);
        return M4NPU_CONFIG_OK;
    }
    case M4NPU_CFG_OPS:
        return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "expected a mapping of op names, got %s", shown);
    }
    return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "key of an unknown kind");
}

/* ---- check a stored value */

m4npu_config_status config_value_check(const m4npu_cfg_key *k, const m4npu_config *cfg, char *r, size_t rsize)
{
    switch (k->kind) {
    case M4NPU_CFG_U32:
    case M4NPU_CFG_U64:
    case M4NPU_CFG_BYTES:
        return check_uint(k, load_uint(k, cfg), r, rsize);
    case M4NPU_CFG_F64:
        return check_double(k, load_double(k, cfg), r, rsize);
    case M4NPU_CFG_ENUM: {
        uint64_t v = load_uint(k, cfg);
        if (v < enum_count(k))
            return M4NPU_CONFIG_OK;
        char names[128];
        enum_list(k, names, sizeof names);
        return reason(r, rsize, M4NPU_CONFIG_E_RANGE, "%llu is not a value of %s", (unsigned long long)v, names);
    }
    case M4NPU_CFG_STR: {
        const char *s = cmember(k, cfg);
        const char *nul = memchr(s, '\0', k->size);
        if (!nul)
            return reason(r, rsize, M4NPU_CONFIG_E_RANGE, "is not terminated within %zu bytes", k->size);
        return check_string(k, s, (size_t)(nul - s), r, rsize);
    }
    case M4NPU_CFG_OPS:
        return M4NPU_CONFIG_OK; /* the section's check (config_ops_check) looks at every entry */
    }
    return reason(r, rsize, M4NPU_CONFIG_E_TYPE, "key of an unknown kind");
}

/* ---- format */

/* The UTF-8 encoding of the C1 controls U+0080..U+009F: 0xc2 then 0x80..0x9f. */
#define UTF8_C1_LEAD 0xc2
#define UTF8_C1_FIRST 0x80
#define UTF8_C1_LAST 0x9f

/* s as a YAML double-quoted scalar: every character a YAML reader refuses raw (C0 and C1
 * controls, DEL, U+FFFE and U+FFFF) is escaped. s is valid UTF-8 (check_string). */
static int yaml_quote(const char *s, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (o + 1 >= size)                                                                         \
            return -1;                                                                             \
        buf[o++] = (c);                                                                            \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            PUT('\\');
            PUT((char)c);
        } else if (c == '\n') {
            PUT('\\');
            PUT('n');
        } else if (c == '\t') {
            PUT('\\');
            PUT('t');
        } else if (c < 0x20 || c == 0x7f) {
            PUT('\\');
            PUT('x');
            PUT(hex[c >> 4]);
            PUT(hex[c & 15]);
        } else if (c == UTF8_C1_LEAD && p[1] >= UTF8_C1_FIRST && p[1] <= UTF8_C1_LAST) {
            /* U+0080..U+009F: valid UTF-8 that a YAML stream may not carry raw */
            PUT('\\');
            PUT('x');
            PUT(hex[p[1] >> 4]);
            PUT(hex[p[1] & 15]);
            p++;
        } else if (c == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
            /* U+FFFE, U+FFFF: noncharacters, likewise */
            PUT('\\');
            PUT('u');
            PUT('f');
            PUT('f');
            PUT('f');
            PUT(p[2] == 0xbe ? 'e' : 'f');
            p += 2;
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
#undef PUT
    buf[o] = '\0';
    return (int)o;
}

int config_value_format(const m4npu_cfg_key *k, const m4npu_config *cfg, char *buf, size_t size)
{
    int n;
    switch (k->kind) {
    case M4NPU_CFG_U32:
    case M4NPU_CFG_U64:
        n = snprintf(buf, size, "%llu", (unsigned long long)load_uint(k, cfg));
        break;
    case M4NPU_CFG_BYTES:
        config_format_bytes(load_uint(k, cfg), buf, size);
        n = (int)strlen(buf);
        break;
    case M4NPU_CFG_F64:
        config_format_double(load_double(k, cfg), buf, size);
        n = (int)strlen(buf);
        break;
    case M4NPU_CFG_ENUM: {
        uint64_t v = load_uint(k, cfg);
        n = snprintf(buf, size, "%s", v < enum_count(k) ? k->names[v] : "?");
        break;
    }
    case M4NPU_CFG_STR: {
        const char *s = cmember(k, cfg);
        if (!memchr(s, '\0', k->size))
            return -1;
        return yaml_quote(s, buf, size);
    }
    default:
        return -1;
    }
    return n >= 0 && (size_t)n < size ? n : -1;
}

json_t *config_value_json(const m4npu_cfg_key *k, const m4npu_config *cfg)
{
    switch (k->kind) {
    case M4NPU_CFG_U32:
    case M4NPU_CFG_U64:
    case M4NPU_CFG_BYTES: {
        uint64_t v = load_uint(k, cfg);
        return v <= CONFIG_INT_MAX ? json_integer((json_int_t)v) : NULL;
    }
    case M4NPU_CFG_F64:
        return json_real(load_double(k, cfg));
    case M4NPU_CFG_ENUM: {
        uint64_t v = load_uint(k, cfg);
        return v < enum_count(k) ? json_string(k->names[v]) : NULL;
    }
    case M4NPU_CFG_STR: {
        const char *s = cmember(k, cfg);
        const char *nul = memchr(s, '\0', k->size);
        return nul ? json_stringn(s, (size_t)(nul - s)) : NULL;
    }
    case M4NPU_CFG_OPS:
        return config_ops_json(cfg);
    }
    return NULL;
}
