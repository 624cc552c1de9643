/* sweep_expr.c -- the constraint language of sweep specs (grammar in sweep.h, docs/sweep.md):
 * one comparison of two arithmetic expressions over numbers, configuration keys and derived
 * quantities. A recursive-descent parser compiles the text into a small tree whose names are
 * resolved once, so evaluating it for each of a million candidates is a walk of a few nodes.
 * Nesting is bounded, so no text makes the parser recurse deeply. */
#include "sweep.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPR_MAX_NODES 256
#define EXPR_MAX_DEPTH 32
#define KIB 1024.0

typedef enum node_kind {
    N_NUMBER,
    N_KEY,     /* a schema key's value */
    N_DERIVED, /* a derived quantity */
    N_VAR,     /* a named variable (sweep_expr_compile_vars) */
    N_NEG,
    N_ADD,
    N_SUB,
    N_MUL,
    N_DIV,
    N_MIN,
    N_MAX,
} node_kind;

typedef struct expr_node {
    node_kind kind;
    double number;
    const m4npu_cfg_key *key;
    int derived;
    int var;
    int a, b; /* operands (node indices) */
} expr_node;

typedef enum cmp_op { CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_EQ, CMP_NE } cmp_op;

struct sweep_expr {
    expr_node node[EXPR_MAX_NODES];
    int n;
    int lhs, rhs;
    cmp_op cmp;
};

typedef struct parser {
    const char *text;
    size_t pos;
    sweep_expr *x;
    int depth;
    size_t err_at;
    char *reason;
    size_t rsize;
    bool failed;
    const char *const *vars; /* variable names, or NULL: configuration keys and derived quantities */
    int n_vars;
} parser;

static int fail(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parser *p, size_t at, const char *fmt, ...)
{
    if (!p->failed) {
        p->failed = true;
        p->err_at = at;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->reason, p->rsize, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void skip_space(parser *p)
{
    while (p->text[p->pos] && isspace((unsigned char)p->text[p->pos]))
        p->pos++;
}

static int add_node(parser *p, expr_node n)
{
    if (p->x->n == EXPR_MAX_NODES)
        return fail(p, p->pos, "the expression is too long (more than %d terms)", EXPR_MAX_NODES);
    p->x->node[p->x->n] = n;
    return p->x->n++;
}

static int parse_sum(parser *p);

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* A size suffix right after a number: KiB, MiB, GiB. */
static double size_suffix(parser *p)
{
    static const struct {
        const char *name;
        double scale;
    } units[] = {{"KiB", KIB}, {"MiB", KIB * KIB}, {"GiB", KIB * KIB * KIB}};
    size_t save = p->pos;
    skip_space(p);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t len = strlen(units[i].name);
        if (strncmp(p->text + p->pos, units[i].name, len) == 0 && !is_name_char(p->text[p->pos + len])) {
            p->pos += len;
            return units[i].scale;
        }
    }
    p->pos = save;
    return 1.0;
}

static int parse_call(parser *p, node_kind kind, size_t at)
{
    skip_space(p);
    if (p->text[p->pos] != '(')
        return fail(p, p->pos, "expected '(' after %s", kind == N_MIN ? "min" : "max");
    p->pos++;
    int a = parse_sum(p);
    if (a < 0)
        return -1;
    skip_space(p);
    if (p->text[p->pos] != ',')
        return fail(p, p->pos, "expected ',' between the two arguments of %s", kind == N_MIN ? "min" : "max");
    p->pos++;
    int b = parse_sum(p);
    if (b < 0)
        return -1;
    skip_space(p);
    if (p->text[p->pos] != ')')
        return fail(p, p->pos, "expected ')' to close the call at column %zu", at + 1);
    p->pos++;
    return add_node(p, (expr_node){.kind = kind, .a = a, .b = b});
}

static int parse_name(parser *p)
{
    size_t start = p->pos;
    while (is_name_char(p->text[p->pos]))
        p->pos++;
    char name[M4NPU_CONFIG_KEY_LEN];
    size_t len = p->pos - start;
    if (len >= sizeof name)
        return fail(p, start, "name too long");
    memcpy(name, p->text + start, len);
    name[len] = '\0';
    if (strcmp(name, "min") == 0)
        return parse_call(p, N_MIN, start);
    if (strcmp(name, "max") == 0)
        return parse_call(p, N_MAX, start);
    if (p->vars) {
        for (int v = 0; v < p->n_vars; v++)
            if (strcmp(p->vars[v], name) == 0)
                return add_node(p, (expr_node){.kind = N_VAR, .var = v});
        char list[512];
        size_t o = 0;
        list[0] = '\0';
        for (int v = 0; v < p->n_vars && o < sizeof list; v++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", v ? ", " : "", p->vars[v]);
        return fail(p, start, "unknown name '%s'; expected one of: %s", name, list);
    }
    int d = sweep_derived_lookup(name);
    if (d >= 0)
        return add_node(p, (expr_node){.kind = N_DERIVED, .derived = d});
    const m4npu_cfg_key *k = m4npu_config_key_find(name);
    if (k && sweep_key_is_numeric(k))
        return add_node(p, (expr_node){.kind = N_KEY, .key = k});
    if (k)
        return fail(p, start, "'%s' is not a number (constraints compare numeric keys)", name);
    return fail(p, start,
                "unknown name '%s'; expected a numeric configuration key (npu.sram.size_bytes ...), a derived "
                "quantity (mac_units, sram_bytes_per_cycle, dram_bytes_per_cycle, peak_tops, tile_operand_bytes, "
                "area_mm2) or min/max",
                name);
}

static int parse_primary(parser *p)
{
    skip_space(p);
    char c = p->text[p->pos];
    if (c == '(') {
        size_t open = p->pos++;
        int inner = parse_sum(p);
        if (inner < 0)
            return -1;
        skip_space(p);
        if (p->text[p->pos] != ')')
            return fail(p, p->pos, "expected ')' to close the '(' at column %zu", open + 1);
        p->pos++;
        return inner;
    }
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)p->text[p->pos + 1]))) {
        char *end;
        errno = 0;
        double v = strtod(p->text + p->pos, &end);
        if (errno == ERANGE || !isfinite(v))
            return fail(p, p->pos, "number out of range");
        p->pos = (size_t)(end - p->text);
        double scale = size_suffix(p);
        size_t next = p->pos;
        while (isspace((unsigned char)p->text[next]))
            next++;
        if (scale == 1.0 && is_name_start(p->text[next]))
            return fail(p, next, "unexpected text after a number (sizes take KiB, MiB or GiB)");
        return add_node(p, (expr_node){.kind = N_NUMBER, .number = v * scale});
    }
    if (is_name_start(c))
        return parse_name(p);
    if (!c)
        return fail(p, p->pos, "expected a number, a name or '(' but the expression ends");
    return fail(p, p->pos, "expected a number, a name or '(', got '%c'", c);
}

static int parse_unary(parser *p)
{
    skip_space(p);
    if (p->text[p->pos] == '-') {
        p->pos++;
        if (++p->depth > EXPR_MAX_DEPTH)
            return fail(p, p->pos, "nested too deeply");
        int a = parse_unary(p);
        p->depth--;
        return a < 0 ? -1 : add_node(p, (expr_node){.kind = N_NEG, .a = a});
    }
    if (++p->depth > EXPR_MAX_DEPTH)
        return fail(p, p->pos, "nested too deeply");
    int r = parse_primary(p);
    p->depth--;
    return r;
}

static int parse_product(parser *p)
{
    int a = parse_unary(p);
    for (;;) {
        if (a < 0)
            return -1;
        skip_space(p);
        char c = p->text[p->pos];
        if (c != '*' && c != '/')
            return a;
        p->pos++;
        int b = parse_unary(p);
        if (b < 0)
            return -1;
        a = add_node(p, (expr_node){.kind = c == '*' ? N_MUL : N_DIV, .a = a, .b = b});
    }
}

static int parse_sum(parser *p)
{
    int a = parse_product(p);
    for (;;) {
        if (a < 0)
            return -1;
        skip_space(p);
        char c = p->text[p->pos];
        if (c != '+' && c != '-')
            return a;
        p->pos++;
        int b = parse_product(p);
        if (b < 0)
            return -1;
        a = add_node(p, (expr_node){.kind = c == '+' ? N_ADD : N_SUB, .a = a, .b = b});
    }
}

static bool parse_cmp(parser *p, cmp_op *op)
{
    skip_space(p);
    const char *s = p->text + p->pos;
    static const struct {
        const char *text;
        cmp_op op;
    } ops[] = {{"<=", CMP_LE}, {">=", CMP_GE}, {"==", CMP_EQ}, {"!=", CMP_NE}, {"<", CMP_LT}, {">", CMP_GT}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t len = strlen(ops[i].text);
        if (strncmp(s, ops[i].text, len) == 0) {
            p->pos += len;
            *op = ops[i].op;
            return true;
        }
    }
    return false;
}

static sweep_expr *compile(const char *text, const char *const *vars, int n_vars, size_t *err_offset, char *reason,
                           size_t rsize)
{
    sweep_expr *x = calloc(1, sizeof *x);
    char fallback[8];
    parser p = {.text = text ? text : "", .x = x, .reason = rsize ? reason : fallback,
                .rsize = rsize ? rsize : sizeof fallback, .vars = vars, .n_vars = n_vars};
    if (!x) {
        snprintf(p.reason, p.rsize, "out of memory");
        *err_offset = 0;
        return NULL;
    }
    x->lhs = parse_sum(&p);
    if (!p.failed && !parse_cmp(&p, &x->cmp)) {
        skip_space(&p);
        if (p.text[p.pos])
            fail(&p, p.pos, "expected an operator or a comparison (<, <=, >, >=, ==, !=), got '%c'", p.text[p.pos]);
        else
            fail(&p, p.pos, "a constraint compares two expressions: expected <, <=, >, >=, == or != before the end");
    }
    if (!p.failed)
        x->rhs = parse_sum(&p);
    if (!p.failed) {
        skip_space(&p);
        if (p.text[p.pos]) {
            cmp_op extra;
            if (parse_cmp(&p, &extra))
                fail(&p, p.pos - 1, "one comparison per constraint (write two constraints)");
            else
                fail(&p, p.pos, "unexpected '%c' after the comparison", p.text[p.pos]);
        }
    }
    if (p.failed) {
        *err_offset = p.err_at;
        free(x);
        return NULL;
    }
    return x;
}

sweep_expr *sweep_expr_compile(const char *text, size_t *err_offset, char *reason, size_t rsize)
{
    return compile(text, NULL, 0, err_offset, reason, rsize);
}

sweep_expr *sweep_expr_compile_vars(const char *text, const char *const *names, int n, size_t *err_offset,
                                    char *reason, size_t rsize)
{
    return compile(text, names, n, err_offset, reason, rsize);
}

typedef struct eval_ctx {
    const m4npu_config *cfg;
    const sweep_area *area;
    const double *vars;
} eval_ctx;

static double eval(const sweep_expr *x, int i, const eval_ctx *c)
{
    const expr_node *n = &x->node[i];
    double v;
    switch (n->kind) {
    case N_NUMBER: return n->number;
    case N_KEY: return c->cfg && sweep_key_number(n->key, c->cfg, &v) ? v : NAN;
    case N_DERIVED: return c->cfg ? sweep_derived_value((sweep_derived)n->derived, c->cfg, c->area) : NAN;
    case N_VAR: return c->vars ? c->vars[n->var] : NAN;
    case N_NEG: return -eval(x, n->a, c);
    case N_ADD: return eval(x, n->a, c) + eval(x, n->b, c);
    case N_SUB: return eval(x, n->a, c) - eval(x, n->b, c);
    case N_MUL: return eval(x, n->a, c) * eval(x, n->b, c);
    case N_DIV: return eval(x, n->a, c) / eval(x, n->b, c);
    case N_MIN: return fmin(eval(x, n->a, c), eval(x, n->b, c));
    case N_MAX: return fmax(eval(x, n->a, c), eval(x, n->b, c));
    }
    return NAN;
}

static bool compare(const sweep_expr *x, double a, double b)
{
    if (isnan(a) || isnan(b))
        return false;
    switch (x->cmp) {
    case CMP_LT: return a < b;
    case CMP_LE: return a <= b;
    case CMP_GT: return a > b;
    case CMP_GE: return a >= b;
    case CMP_EQ: return a == b;
    case CMP_NE: return a != b;
    }
    return false;
}

double sweep_expr_side(const sweep_expr *x, int side, const m4npu_config *cfg, const sweep_area *area)
{
    eval_ctx c = {cfg, area, NULL};
    return eval(x, side ? x->rhs : x->lhs, &c);
}

bool sweep_expr_holds(const sweep_expr *x, const m4npu_config *cfg, const sweep_area *area)
{
    eval_ctx c = {cfg, area, NULL};
    return compare(x, eval(x, x->lhs, &c), eval(x, x->rhs, &c));
}

bool sweep_expr_holds_vars(const sweep_expr *x, const double *vars)
{
    eval_ctx c = {NULL, NULL, vars};
    return compare(x, eval(x, x->lhs, &c), eval(x, x->rhs, &c));
}

void sweep_expr_free(sweep_expr *x)
{
    free(x);
}
