/* isa_asm.c -- the assembler: text to 16-byte instructions, driven by the ISA table.
 *
 * One pass, line by line. Each line is cut into a head (mnemonic, directive or symbol name) and
 * comma-separated operands with their columns; each operand is parsed by a small recursive-
 * descent expression evaluator. Errors carry the column of the token they are about.
 *
 * Work is linear in the input: symbols live in an open-addressing hash table (a lookup is O(1),
 * not a scan of every earlier .equ, and touches two cache lines), and expressions nest at most ISA_ASM_MAX_NESTING levels, so
 * the recursion's stack is bounded whatever the text. `m4npu bench --scale` measures it.
 */
#include "isa_asm.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPERANDS 16
#define MAX_SYMBOL_LEN 64

/* Symbols are kept in one pool, each a header followed by its name (padded to 8 bytes), so that a
 * lookup touches two cache lines (its slot and its entry) however many symbols there are. */
typedef struct symbol {
    int64_t value;
    int32_t line;
    uint32_t len; /* of the name that follows */
} symbol;

/* A hash-table slot: 1 + the offset of the symbol in the pool (0: empty) and the name's hash,
 * compared before the name. */
typedef struct symbol_slot {
    uint32_t entry;
    uint32_t hash;
} symbol_slot;

#define SYMBOL_ALIGN 8u

typedef struct growbuf {
    char *data;
    size_t len, cap;
} growbuf;

typedef struct assembler {
    const char *filename;
    int line;
    uint8_t *pool;      /* the symbols: symbol headers, each followed by its name */
    size_t pool_len, pool_cap, nsyms;
    symbol_slot *slots; /* open addressing, a power of two long, at most 3/4 full */
    size_t nslots;
    uint8_t *bytes;
    size_t size, cap;
    growbuf diag;
    int errors;
    isa_status first_status;
    int first_line, first_col;
    int nomem;
    int too_long; /* the program passed ISA_MAX_PROGRAM_BYTES (reported once) */
} assembler;

/* A value of an expression: an integer, a float, or a raw f32 bit pattern (bits(...)). */
typedef enum { VAL_INT, VAL_FLOAT, VAL_BITS } val_kind;
typedef struct value {
    val_kind kind;
    int64_t i;
    double d;
} value;

/* The expression parser's cursor; on error it records the message and column. */
typedef struct cursor {
    assembler *as;
    const char *s, *end, *line_start;
    int failed;
    int depth; /* nesting of parentheses, unary operators and bits(...) */
    int err_col;
    char err[200];
    isa_status err_status;
} cursor;

/* ------------------------------------------------------------------ helpers */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static void diag_append(assembler *as, const char *text, size_t n)
{
    if (grow((void **)&as->diag.data, &as->diag.cap, as->diag.len + n + 1, 1) != 0) {
        as->nomem = 1;
        return;
    }
    memcpy(as->diag.data + as->diag.len, text, n);
    as->diag.len += n;
    as->diag.data[as->diag.len] = '\0';
}

static void report(assembler *as, int col, isa_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(assembler *as, int col, isa_status st, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[600];
    int n = snprintf(line, sizeof line, "%s:%d:%d: error: %s\n", as->filename, as->line, col, msg);
    diag_append(as, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
    if (as->errors++ == 0) {
        as->first_status = st;
        as->first_line = as->line;
        as->first_col = col;
    }
}

static int col_of(const cursor *c, const char *p) { return (int)(p - c->line_start) + 1; }

static void fail(cursor *c, const char *at, isa_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(cursor *c, const char *at, isa_status st, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    c->err_col = col_of(c, at);
    c->err_status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

static void skip_ws(cursor *c)
{
    while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\r'))
        c->s++;
}

static int is_ident_start(char ch) { return isalpha((unsigned char)ch) || ch == '_' || ch == '.'; }
static int is_ident_char(char ch) { return isalnum((unsigned char)ch) || ch == '_' || ch == '.'; }

/* FNV-1a: short names, a good spread, no state. */
static uint32_t name_hash(const char *name, size_t len)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 0x01000193u;
    return h;
}

static const symbol *symbol_at(const assembler *as, uint32_t entry)
{
    return (const symbol *)(as->pool + entry - 1);
}

static const char *symbol_name(const symbol *sym) { return (const char *)(sym + 1); }

/* The slot that holds name, or the empty slot where it would go. */
static symbol_slot *find_slot(const assembler *as, const char *name, size_t len, uint32_t hash)
{
    size_t mask = as->nslots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        symbol_slot *slot = &as->slots[i];
        if (slot->entry == 0)
            return slot;
        if (slot->hash != hash)
            continue;
        const symbol *sym = symbol_at(as, slot->entry);
        if (sym->len == len && memcmp(symbol_name(sym), name, len) == 0)
            return slot;
    }
}

static const symbol *find_symbol(const assembler *as, const char *name, size_t len)
{
    if (as->nslots == 0)
        return NULL;
    const symbol_slot *slot = find_slot(as, name, len, name_hash(name, len));
    return slot->entry ? symbol_at(as, slot->entry) : NULL;
}

/* Keep the table at most half full: rebuild it twice as large. */
static int grow_slots(assembler *as)
{
    if (2 * (as->nsyms + 1) <= as->nslots)
        return 0;
    size_t n = as->nslots ? 2 * as->nslots : 64;
    symbol_slot *old = as->slots;
    size_t old_n = as->nslots;
    as->slots = calloc(n, sizeof *as->slots);
    if (!as->slots) {
        as->slots = old;
        return -1;
    }
    as->nslots = n;
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].entry == 0)
            continue;
        for (size_t k = old[i].hash & (n - 1);; k = (k + 1) & (n - 1))
            if (as->slots[k].entry == 0) {
                as->slots[k] = old[i];
                break;
            }
    }
    free(old);
    return 0;
}

/* Add a symbol (not yet defined) to the pool and the table; -1 when out of memory. */
static int add_symbol(assembler *as, const char *name, size_t len, int64_t value)
{
    size_t bytes = (sizeof(symbol) + len + SYMBOL_ALIGN - 1) / SYMBOL_ALIGN * SYMBOL_ALIGN;
    if (as->pool_len + bytes >= UINT32_MAX || grow((void **)&as->pool, &as->pool_cap, as->pool_len + bytes, 1) != 0 ||
        grow_slots(as) != 0)
        return -1;
    symbol *sym = (symbol *)(as->pool + as->pool_len);
    sym->value = value;
    sym->line = as->line;
    sym->len = (uint32_t)len;
    memcpy((char *)(sym + 1), name, len);
    uint32_t hash = name_hash(name, len);
    *find_slot(as, name, len, hash) = (symbol_slot){(uint32_t)as->pool_len + 1, hash};
    as->pool_len += bytes;
    as->nsyms++;
    return 0;
}

/* ------------------------------------------------------------------ expressions */

static value parse_expr(cursor *c);

static value int_value(int64_t i) { return (value){VAL_INT, i, 0.0}; }

static double as_double(value v) { return v.kind == VAL_INT ? (double)v.i : v.d; }

/* Length of a decimal float literal at p (digits, '.', digits, exponent), 0 if it is not one. */
static size_t float_literal_len(const char *p, const char *end)
{
    const char *q = p;
    int has_point = 0, has_exp = 0;
    while (q < end && isdigit((unsigned char)*q))
        q++;
    if (q < end && *q == '.') {
        has_point = 1;
        q++;
        while (q < end && isdigit((unsigned char)*q))
            q++;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        const char *r = q + 1;
        if (r < end && (*r == '+' || *r == '-'))
            r++;
        if (r < end && isdigit((unsigned char)*r)) {
            has_exp = 1;
            while (r < end && isdigit((unsigned char)*r))
                r++;
            q = r;
        }
    }
    return (has_point || has_exp) ? (size_t)(q - p) : 0;
}

static value parse_number(cursor *c)
{
    const char *start = c->s;
    char buf[80];
    size_t avail = (size_t)(c->end - start);
    size_t flen = float_literal_len(start, c->end);
    if (flen) {
        if (flen >= sizeof buf) {
            fail(c, start, ISA_E_SYNTAX, "float literal too long");
            return int_value(0);
        }
        memcpy(buf, start, flen);
        buf[flen] = '\0';
        errno = 0;
        double d = strtod(buf, NULL);
        if (errno == ERANGE && fabs(d) > 1.0) {
            fail(c, start, ISA_E_RANGE, "float literal out of range");
            return int_value(0);
        }
        c->s = start + flen;
        if (c->s < c->end && is_ident_char(*c->s))
            fail(c, c->s, ISA_E_SYNTAX, "unexpected '%c' after a number", *c->s);
        return (value){VAL_FLOAT, 0, d};
    }
    int base = 10;
    const char *digits = start;
    if (avail >= 2 && start[0] == '0' && (start[1] == 'x' || start[1] == 'X'))
        base = 16, digits = start + 2;
    else if (avail >= 2 && start[0] == '0' && (start[1] == 'b' || start[1] == 'B'))
        base = 2, digits = start + 2;
    const char *p = digits;
    unsigned long long u = 0;
    int overflow = 0;
    for (; p < c->end && isxdigit((unsigned char)*p); p++) {
        unsigned d = isdigit((unsigned char)*p) ? (unsigned)(*p - '0') : (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
        if (d >= (unsigned)base)
            break;
        if (u > ((unsigned long long)INT64_MAX - d) / (unsigned)base)
            overflow = 1;
        else
            u = u * (unsigned)base + d;
    }
    if (p == digits) {
        fail(c, start, ISA_E_SYNTAX, "expected %s digits after 0%c", base == 16 ? "hex" : "binary", start[1]);
        return int_value(0);
    }
    if (overflow) {
        fail(c, start, ISA_E_RANGE, "integer literal does not fit in 64 bits");
        return int_value(0);
    }
    c->s = p;
    if (c->s < c->end && is_ident_char(*c->s))
        fail(c, c->s, ISA_E_SYNTAX, "unexpected '%c' in a number", *c->s);
    return int_value((int64_t)u);
}

static value parse_primary_nested(cursor *c);

/* A primary, one level deeper: past ISA_ASM_MAX_NESTING levels the expression is refused
 * before the recursion can exhaust the stack. */
static value parse_primary(cursor *c)
{
    skip_ws(c);
    if (c->depth >= ISA_ASM_MAX_NESTING) {
        fail(c, c->s, ISA_E_SYNTAX, "expression nested deeper than %d levels (parentheses, unary operators, "
             "bits(...)); expected a flatter expression", ISA_ASM_MAX_NESTING);
        return int_value(0);
    }
    c->depth++;
    value v = parse_primary_nested(c);
    c->depth--;
    return v;
}

static value parse_primary_nested(cursor *c)
{
    if (c->s >= c->end) {
        fail(c, c->s, ISA_E_SYNTAX, "expected a number, a symbol or '('");
        return int_value(0);
    }
    char ch = *c->s;
    if (ch == '(') {
        c->s++;
        value v = parse_expr(c);
        skip_ws(c);
        if (c->s >= c->end || *c->s != ')')
            fail(c, c->s, ISA_E_SYNTAX, "expected ')'");
        else
            c->s++;
        return v;
    }
    if (ch == '-' || ch == '+' || ch == '~') {
        const char *at = c->s++;
        value v = parse_primary(c);
        if (ch == '+')
            return v;
        if (v.kind == VAL_BITS) {
            fail(c, at, ISA_E_SYNTAX, "bits(...) cannot be negated");
            return v;
        }
        if (ch == '~') {
            if (v.kind != VAL_INT)
                fail(c, at, ISA_E_SYNTAX, "'~' needs an integer");
            v.i = ~v.i;
            return v;
        }
        if (v.kind == VAL_FLOAT)
            v.d = -v.d;
        else if (v.i == INT64_MIN)
            fail(c, at, ISA_E_RANGE, "integer overflow");
        else
            v.i = -v.i;
        return v;
    }
    if (isdigit((unsigned char)ch) || (ch == '.' && c->s + 1 < c->end && isdigit((unsigned char)c->s[1])))
        return parse_number(c);
    if (is_ident_start(ch)) {
        const char *start = c->s;
        while (c->s < c->end && is_ident_char(*c->s))
            c->s++;
        size_t len = (size_t)(c->s - start);
        if (len == 4 && memcmp(start, "bits", 4) == 0) {
            skip_ws(c);
            if (c->s < c->end && *c->s == '(') {
                value inner = parse_primary(c);
                if (inner.kind != VAL_INT || inner.i < 0 || inner.i > (int64_t)UINT32_MAX)
                    fail(c, start, ISA_E_RANGE, "bits(...) needs an integer in 0..0xffffffff");
                return (value){VAL_BITS, inner.i, 0.0};
            }
        }
        const symbol *sym = find_symbol(c->as, start, len);
        if (!sym) {
            fail(c, start, ISA_E_SYMBOL, "undefined symbol '%.*s'; expected a number or a symbol defined "
                 "earlier with .equ", (int)len, start);
            return int_value(0);
        }
        return int_value(sym->value);
    }
    fail(c, c->s, ISA_E_SYNTAX, "unexpected '%c'; expected a number, a symbol or '('", ch);
    return int_value(0);
}

/* Binary operators by precedence level (lowest first), as in C. */
static const char *const levels[][3] = {{"|", NULL, NULL}, {"&", NULL, NULL}, {"<<", ">>", NULL},
                                        {"+", "-", NULL},  {"*", "/", "%"}};
#define NLEVELS ((int)(sizeof levels / sizeof levels[0]))

static value apply(cursor *c, const char *at, const char *op, value a, value b)
{
    if (a.kind == VAL_BITS || b.kind == VAL_BITS) {
        fail(c, at, ISA_E_SYNTAX, "bits(...) cannot be used in arithmetic");
        return a;
    }
    if (a.kind == VAL_FLOAT || b.kind == VAL_FLOAT) {
        double x = as_double(a), y = as_double(b);
        switch (op[0]) {
        case '+': return (value){VAL_FLOAT, 0, x + y};
        case '-': return (value){VAL_FLOAT, 0, x - y};
        case '*': return (value){VAL_FLOAT, 0, x * y};
        case '/': return (value){VAL_FLOAT, 0, x / y};
        default:
            fail(c, at, ISA_E_SYNTAX, "'%s' needs integers", op);
            return a;
        }
    }
    int64_t x = a.i, y = b.i, r = 0;
    switch (op[0]) {
    case '+':
        if (__builtin_add_overflow(x, y, &r))
            fail(c, at, ISA_E_RANGE, "integer overflow");
        break;
    case '-':
        if (__builtin_sub_overflow(x, y, &r))
            fail(c, at, ISA_E_RANGE, "integer overflow");
        break;
    case '*':
        if (__builtin_mul_overflow(x, y, &r))
            fail(c, at, ISA_E_RANGE, "integer overflow");
        break;
    case '/':
    case '%':
        if (y == 0 || (x == INT64_MIN && y == -1))
            fail(c, at, ISA_E_RANGE, "division by zero or overflow");
        else
            r = op[0] == '/' ? x / y : x % y;
        break;
    case '<':
    case '>':
        if (y < 0 || y > 62)
            fail(c, at, ISA_E_RANGE, "shift count %lld outside 0..62", (long long)y);
        else if (op[0] == '<' && (x < 0 || x > (INT64_MAX >> y)))
            fail(c, at, ISA_E_RANGE, "integer overflow");
        else
            r = op[0] == '<' ? x << y : x >> y;
        break;
    case '&': r = x & y; break;
    case '|': r = x | y; break;
    }
    return int_value(r);
}

static value parse_level(cursor *c, int level)
{
    if (level == NLEVELS)
        return parse_primary(c);
    value v = parse_level(c, level + 1);
    for (;;) {
        skip_ws(c);
        const char *op = NULL;
        for (int k = 0; k < 3 && levels[level][k]; k++) {
            size_t n = strlen(levels[level][k]);
            if ((size_t)(c->end - c->s) >= n && memcmp(c->s, levels[level][k], n) == 0)
                op = levels[level][k];
        }
        if (!op || c->failed)
            return v;
        const char *at = c->s;
        c->s += strlen(op);
        value rhs = parse_level(c, level + 1);
        v = apply(c, at, op, v, rhs);
    }
}

static value parse_expr(cursor *c) { return parse_level(c, 0); }

/* Evaluate one whole operand [s, e); anything left over is an error. */
static value eval_operand(cursor *c, const char *s, const char *e)
{
    c->s = s;
    c->end = e;
    value v = parse_expr(c);
    skip_ws(c);
    if (!c->failed && c->s < c->end)
        fail(c, c->s, ISA_E_SYNTAX, "unexpected '%c' after the operand", *c->s);
    return v;
}

/* ------------------------------------------------------------------ statements */

typedef struct operand {
    const char *s, *e; /* trimmed text */
} operand;

/* Split [s, e) at top-level commas into trimmed operands. Returns the count, or -1 if too many. */
static int split_operands(const char *s, const char *e, operand *ops, int max)
{
    int n = 0, depth = 0;
    const char *start = s;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    if (s == e)
        return 0;
    start = s;
    for (const char *p = s;; p++) {
        if (p == e || (*p == ',' && depth == 0)) {
            if (n == max)
                return -1;
            const char *a = start, *b = p;
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
                b--;
            ops[n].s = a;
            ops[n].e = b;
            n++;
            if (p == e)
                break;
            start = p + 1;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth--;
        }
    }
    return n;
}

static void emit(assembler *as, const uint8_t word[ISA_INSN_BYTES])
{
    if (as->size + ISA_INSN_BYTES > ISA_MAX_PROGRAM_BYTES) {
        if (!as->too_long)
            report(as, 1, ISA_E_LIMIT, "the program exceeds %llu instructions (%llu MiB), the most the tools take",
                   ISA_MAX_PROGRAM_BYTES / ISA_INSN_BYTES, ISA_MAX_PROGRAM_BYTES >> 20);
        as->too_long = 1;
        return;
    }
    if (grow((void **)&as->bytes, &as->cap, as->size + ISA_INSN_BYTES, 1) != 0) {
        as->nomem = 1;
        return;
    }
    memcpy(as->bytes + as->size, word, ISA_INSN_BYTES);
    as->size += ISA_INSN_BYTES;
}

static void define_symbol(assembler *as, cursor *c, const char *name, size_t len, const operand *val)
{
    int col = col_of(c, name);
    if (len > MAX_SYMBOL_LEN) {
        report(as, col, ISA_E_SYMBOL, "symbol name longer than %d characters", MAX_SYMBOL_LEN);
        return;
    }
    if (!is_ident_start(*name) || *name == '.') {
        report(as, col, ISA_E_SYMBOL, "expected a symbol name (a letter or '_' first)");
        return;
    }
    for (size_t i = 0; i < len; i++)
        if (!is_ident_char(name[i])) {
            report(as, col_of(c, name + i), ISA_E_SYMBOL, "unexpected '%c' in a symbol name", name[i]);
            return;
        }
    const symbol *old = find_symbol(as, name, len);
    if (old) {
        report(as, col, ISA_E_SYMBOL, "symbol '%.*s' is already defined at line %d", (int)len, name, old->line);
        return;
    }
    if (val->s == val->e) {
        report(as, col_of(c, val->s), ISA_E_SYNTAX, "expected a value after the symbol name");
        return;
    }
    value v = eval_operand(c, val->s, val->e);
    if (c->failed) {
        report(as, c->err_col, c->err_status, "%s", c->err);
        return;
    }
    if (v.kind != VAL_INT) {
        report(as, col_of(c, val->s), ISA_E_SYNTAX, "a symbol's value must be an integer");
        return;
    }
    if (add_symbol(as, name, len, v.i) != 0)
        as->nomem = 1;
}

static void raw_word(assembler *as, cursor *c, const operand *ops, int nops, int col)
{
    if (nops != 1) {
        report(as, col, ISA_E_OPERANDS, ".insn takes 1 operand (a hex word of up to 32 digits), got %d", nops);
        return;
    }
    const char *s = ops[0].s, *e = ops[0].e;
    if (e - s < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        report(as, col_of(c, s), ISA_E_SYNTAX, "expected a hex word such as 0x0102...; .insn takes no expressions");
        return;
    }
    s += 2;
    if (e - s > 32) {
        report(as, col_of(c, s), ISA_E_RANGE, "more than 32 hex digits: an instruction is 128 bits");
        return;
    }
    uint8_t word[ISA_INSN_BYTES] = {0};
    int nibble = 0;
    for (const char *p = e; p > s; nibble++) {
        char ch = *--p;
        if (!isxdigit((unsigned char)ch)) {
            report(as, col_of(c, p), ISA_E_SYNTAX, "unexpected '%c' in a hex word", ch);
            return;
        }
        unsigned v = (unsigned)(isdigit((unsigned char)ch) ? ch - '0' : (tolower((unsigned char)ch) - 'a' + 10));
        word[nibble / 2] |= (uint8_t)(v << (4 * (nibble % 2)));
    }
    emit(as, word);
}

static const char *operand_list(const isa_insn_desc *d, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->nfields && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", d->fields[i].name);
    return buf;
}

static int operand_value(assembler *as, cursor *c, const isa_insn_desc *d, int i, const operand *op,
                         int64_t *out)
{
    const isa_field_desc *f = &d->fields[i];
    int col = col_of(c, op->s);
    if (op->s == op->e) {
        report(as, col, ISA_E_SYNTAX, "%s: operand %d ('%s') is empty", d->mnemonic, i + 1, f->name);
        return -1;
    }
    if (f->kind == ISA_KIND_E && is_ident_start(*op->s)) {
        const char *p = op->s;
        while (p < op->e && is_ident_char(*p))
            p++;
        if (p == op->e && isa_enum_lookup(f->enumset, op->s, (size_t)(op->e - op->s), out) == 0)
            return 0;
        if (p == op->e && !find_symbol(as, op->s, (size_t)(op->e - op->s))) {
            char names[160] = "";
            size_t used = 0;
            for (int e = 0; e < isa_enum_count(); e++) {
                const isa_enum_desc *en = isa_enum_at(e);
                if (en->set == f->enumset && used < sizeof names)
                    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", en->name);
            }
            report(as, col, ISA_E_RANGE, "%s: '%.*s' is not a value of '%s'; expected one of %s", d->mnemonic,
                   (int)(op->e - op->s), op->s, f->name, names);
            return -1;
        }
    }
    value v = eval_operand(c, op->s, op->e);
    if (c->failed) {
        report(as, c->err_col, c->err_status, "%s", c->err);
        c->failed = 0;
        return -1;
    }
    if (f->kind == ISA_KIND_F) {
        if (v.kind == VAL_BITS) {
            *out = v.i;
        } else {
            float fv = (float)as_double(v);
            uint32_t bits;
            memcpy(&bits, &fv, sizeof bits);
            *out = bits;
        }
        return 0;
    }
    if (v.kind != VAL_INT) {
        report(as, col, ISA_E_SYNTAX, "%s: operand '%s' needs an integer", d->mnemonic, f->name);
        return -1;
    }
    *out = v.i;
    return 0;
}

static void instruction(assembler *as, cursor *c, isa_op op, const char *mn, const operand *ops, int nops)
{
    const isa_insn_desc *d = isa_desc(op);
    int mn_col = col_of(c, mn);
    if (nops != d->nfields) {
        char list[200];
        int col = nops > d->nfields ? col_of(c, ops[d->nfields].s) : mn_col;
        report(as, col, ISA_E_OPERANDS, "'%s' takes %d operand%s (%s), got %d", d->mnemonic, d->nfields,
               d->nfields == 1 ? "" : "s", operand_list(d, list, sizeof list), nops);
        return;
    }
    isa_insn in = isa_insn_make(op);
    int bad = 0;
    for (int i = 0; i < nops; i++)
        if (operand_value(as, c, d, i, &ops[i], &in.f[i]) != 0)
            bad = 1;
    if (bad)
        return;
    isa_error err;
    uint8_t word[ISA_INSN_BYTES];
    if (isa_encode(&in, word, &err) != ISA_OK) {
        int col = err.field >= 0 ? col_of(c, ops[err.field].s) : mn_col;
        report(as, col, err.status, "%s", err.msg);
        return;
    }
    emit(as, word);
}

static void statement(assembler *as, const char *line, const char *end)
{
    /* strip the comment */
    const char *e = line;
    while (e < end && *e != ';' && *e != '#')
        e++;
    cursor c = {.as = as, .line_start = line};
    const char *s = line;
    while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    if (s == e)
        return;
    const char *head = s;
    while (s < e && !isspace((unsigned char)*s) && *s != '=' && *s != ',')
        s++;
    size_t head_len = (size_t)(s - head);
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;

    operand ops[MAX_OPERANDS];
    if (s < e && *s == '=') { /* NAME = EXPR */
        operand val = {e, e};
        if (split_operands(s + 1, e, &val, 1) != 1)
            val.s = val.e = e;
        define_symbol(as, &c, head, head_len, &val);
        return;
    }
    int nops = split_operands(s, e, ops, MAX_OPERANDS);
    if (nops < 0) {
        report(as, col_of(&c, s), ISA_E_OPERANDS, "more than %d operands", MAX_OPERANDS);
        return;
    }
    if (head_len == 4 && memcmp(head, ".equ", 4) == 0) {
        if (nops != 2) {
            report(as, col_of(&c, head), ISA_E_OPERANDS, ".equ takes 2 operands (NAME, VALUE), got %d", nops);
            return;
        }
        define_symbol(as, &c, ops[0].s, (size_t)(ops[0].e - ops[0].s), &ops[1]);
        return;
    }
    if (head_len == 5 && memcmp(head, ".insn", 5) == 0) {
        raw_word(as, &c, ops, nops, col_of(&c, head));
        return;
    }
    isa_op op = isa_op_by_mnemonic(head, head_len);
    if (op == ISA_OP_NONE) {
        if (*head == '.')
            report(as, col_of(&c, head), ISA_E_MNEMONIC, "unknown directive '%.*s'; expected .equ or .insn",
                   (int)head_len, head);
        else
            report(as, col_of(&c, head), ISA_E_MNEMONIC,
                   "unknown mnemonic '%.*s'; expected an instruction of isa/ISA.md (nop, dma.ld, mm, sm, v.bin, ...)",
                   (int)head_len, head);
        return;
    }
    instruction(as, &c, op, head, ops, nops);
}

isa_status isa_assemble(const char *src, size_t len, const char *filename, isa_asm_result *out)
{
    assembler as = {.filename = filename ? filename : "<input>"};
    const char *p = src, *end = src + len;
    while (p < end && !as.nomem) {
        as.line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        if (memchr(p, '\0', (size_t)(line_end - p))) {
            report(&as, (int)((const char *)memchr(p, '\0', (size_t)(line_end - p)) - p) + 1, ISA_E_SYNTAX,
                   "NUL byte in the source; expected text");
        } else {
            statement(&as, p, line_end);
        }
        p = nl ? nl + 1 : end;
    }
    memset(out, 0, sizeof *out);
    free(as.pool);
    free(as.slots);
    if (as.nomem) {
        free(as.bytes);
        free(as.diag.data);
        out->first_status = ISA_E_NOMEM;
        out->errors = 1;
        return ISA_E_NOMEM;
    }
    out->errors = as.errors;
    out->diagnostics = as.diag.data;
    if (as.errors) {
        free(as.bytes);
        out->first_status = as.first_status;
        out->first_line = as.first_line;
        out->first_col = as.first_col;
        return as.first_status;
    }
    out->bytes = as.bytes;
    out->size = as.size;
    out->first_status = ISA_OK;
    return ISA_OK;
}

void isa_asm_result_free(isa_asm_result *r)
{
    if (!r)
        return;
    free(r->bytes);
    free(r->diagnostics);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ disassembler */

int isa_disassemble(const uint8_t *bytes, size_t len, const char *filename, FILE *out, FILE *err, int verbose)
{
    int problems = 0;
    char text[512];
    const char *name = filename ? filename : "<input>";
    size_t whole = len - len % ISA_INSN_BYTES;
    for (size_t off = 0; off < whole; off += ISA_INSN_BYTES) {
        isa_insn in;
        isa_error e;
        if (isa_decode(bytes + off, &in, &e) == ISA_OK) {
            isa_format(&in, text, sizeof text);
            if (verbose)
                fprintf(out, "    %-72s ; +0x%04zx\n", text, off);
            else
                fprintf(out, "    %s\n", text);
            continue;
        }
        problems++;
        fprintf(out, "    .insn 0x");
        for (int i = ISA_INSN_BYTES - 1; i >= 0; i--)
            fprintf(out, "%02x", bytes[off + (size_t)i]);
        fprintf(out, " ; +0x%04zx: %s\n", off, e.msg);
        if (err)
            fprintf(err, "%s:+0x%zx: error: %s\n", name, off, e.msg);
    }
    if (whole != len) {
        problems++;
        fprintf(out, "    ; +0x%04zx: %zu trailing bytes are not a whole instruction\n", whole, len - whole);
        if (err)
            fprintf(err, "%s:+0x%zx: error: truncated instruction: %zu trailing bytes; instructions are %d bytes\n",
                    name, whole, len - whole, ISA_INSN_BYTES);
    }
    return problems;
}
