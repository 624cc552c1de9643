/* run_dims.c -- binding a model's unknown input dimensions before anything is computed.
 *
 * Exported models leave dimensions symbolic ("batch", "width", "samples") or unnamed. A run
 * needs numbers: a given input fixes its own dimensions and every symbol it carries (so an input
 * not given that shares "batch" gets the same value); --dim NAME=VALUE gives a symbol, or an
 * unnamed dimension as INPUT:AXIS. Conflicts are errors naming both sources. Then the graph is
 * prepared again: shapes are inferred for the bound values, shape computations fold, an If on
 * a shape-derived condition is inlined. What is still unknown is an error naming the input, the
 * dimension and the --dim that would give it -- before the reference or the simulation start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

#define DIM_SOURCE_BYTES 160

/* A symbol's value and where it came from, for conflict messages. */
typedef struct symbol {
    const char *name;
    int64_t value;
    char source[DIM_SOURCE_BYTES];
} symbol;

typedef struct symtab {
    symbol *v;
    int n;
} symtab;

static symbol *sym_find(symtab *st, const char *name)
{
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->v[i].name, name) == 0)
            return &st->v[i];
    return NULL;
}

/* Bind name = value (from source); a different earlier value is an error naming both. */
static rt_status sym_bind(symtab *st, const char *name, int64_t value, const char *source, rt_error *e)
{
    symbol *s = sym_find(st, name);
    if (s) {
        if (s->value != value)
            return rt_error_set(e, RT_ERR_SHAPE, "dimension '%s' is %lld (%s) but %lld (%s)", name, (long long)s->value,
                                s->source, (long long)value, source);
        return RT_OK;
    }
    symbol *v = realloc(st->v, (size_t)(st->n + 1) * sizeof *v);
    if (!v)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (dimensions)");
    st->v = v;
    v[st->n].name = name;
    v[st->n].value = value;
    snprintf(v[st->n].source, sizeof v[st->n].source, "%s", source);
    st->n++;
    return RT_OK;
}

/* "x:1" -> input x, axis 1; false if name is not of that form for an input of g. */
static bool input_axis(const rt_graph *g, const char *name, int *input, int *axis)
{
    const char *colon = strrchr(name, ':');
    if (!colon || colon == name || !colon[1])
        return false;
    char *end;
    long a = strtol(colon + 1, &end, 10);
    if (*end || a < 0 || a >= RT_MAX_RANK)
        return false;
    for (int k = 0; k < g->n_inputs; k++) {
        const rt_tensor *t = g->tensors[g->inputs[k]];
        if (strlen(t->name) == (size_t)(colon - name) && strncmp(t->name, name, (size_t)(colon - name)) == 0 &&
            a < t->rank) {
            *input = k;
            *axis = (int)a;
            return true;
        }
    }
    return false;
}

static bool is_symbol(const rt_graph *g, const char *name)
{
    for (int i = 0; i < g->n_dim_params; i++)
        if (strcmp(g->dim_params[i].name, name) == 0)
            return true;
    return false;
}

/* "--dim NAME: the model has no symbolic dimension ..." with the ones it has. */
static rt_status no_such_dim(const rt_graph *g, const char *name, rt_error *e)
{
    char names[256];
    size_t off = 0;
    names[0] = '\0';
    for (int i = 0; i < g->n_dim_params && off < sizeof names; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup = strcmp(g->dim_params[j].name, g->dim_params[i].name) == 0;
        if (!dup)
            off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", off ? ", " : "", g->dim_params[i].name);
    }
    return rt_error_set(e, RT_ERR_NOT_FOUND,
                        "--dim %s: the model has no symbolic dimension '%s' and no input:axis of that name "
                        "(its symbolic dimensions: %s)",
                        name, name, names[0] ? names : "none");
}

static const rt_tensor *given_value(const run_options *o, const char *name)
{
    for (int i = 0; i < o->n_inputs; i++)
        if (strcmp(o->inputs[i].name, name) == 0)
            return o->inputs[i].value;
    return NULL;
}

/* The first node output whose shape is still unknown (timing-only runs need them all). */
static rt_status all_shapes_known(const rt_graph *g, rt_error *e)
{
    char lbl[300], sh[96];
    for (int i = 0; i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++) {
            int t = g->nodes[i].outputs[o];
            if (t >= 0 && !rt_tensor_shape_known(g->tensors[t]))
                return rt_error_set(e, RT_ERR_SHAPE,
                                    "timing only: the shape %s of '%s' (output of node %s) depends on data; run with "
                                    "inputs instead of --timing-only",
                                    rt_shape_str(g->tensors[t], sh, sizeof sh), g->tensors[t]->name,
                                    graph_node_label(g, i, lbl, sizeof lbl));
        }
    return RT_OK;
}

rt_status run_bind_dims(rt_graph *g, const run_options *o, rt_error *e)
{
    symtab st = {0};
    rt_status s = RT_OK;
    char src[DIM_SOURCE_BYTES];
    /* --dim for symbols first (checked against the given inputs below) */
    for (int i = 0; i < o->n_dims && s == RT_OK; i++) {
        int in, ax;
        snprintf(src, sizeof src, "--dim %s=%lld", o->dims[i].name, (long long)o->dims[i].value);
        if (o->dims[i].value < 0)
            s = rt_error_set(e, RT_ERR_SHAPE, "%s: a dimension cannot be negative", src);
        else if (is_symbol(g, o->dims[i].name))
            s = sym_bind(&st, o->dims[i].name, o->dims[i].value, src, e);
        else if (!input_axis(g, o->dims[i].name, &in, &ax))
            s = no_such_dim(g, o->dims[i].name, e);
    }
    /* the given inputs fix the symbols they carry */
    for (int k = 0; k < g->n_inputs && s == RT_OK; k++) {
        const rt_tensor *t = g->tensors[g->inputs[k]], *v = given_value(o, t->name);
        if (!v || t->rank < 0 || v->rank != t->rank)
            continue; /* a rank mismatch is reported with the input */
        for (int d = 0; d < t->rank && s == RT_OK; d++) {
            const char *sym = graph_dim_param(g, t->name, d);
            snprintf(src, sizeof src, "dimension %d of --input %s", d, t->name);
            if (sym && t->dims[d] == RT_DIM_UNKNOWN)
                s = sym_bind(&st, sym, v->dims[d], src, e);
        }
    }
    bool changed = false;
    for (int k = 0; k < g->n_inputs && s == RT_OK; k++) {
        rt_tensor *t = g->tensors[g->inputs[k]];
        const rt_tensor *v = given_value(o, t->name);
        if (t->rank < 0 && v) { /* no declared shape: the value gives it */
            t->rank = v->rank;
            memcpy(t->dims, v->dims, sizeof t->dims);
            changed = true;
            continue;
        }
        if (t->rank < 0) {
            s = rt_error_set(e, RT_ERR_SHAPE, "input '%s' declares no shape (not even a rank): %sgive it with --input %s=FILE.npy",
                             t->name, o->timing_only ? "run without --timing-only and " : "", t->name);
            break;
        }
        for (int d = 0; d < t->rank && s == RT_OK; d++) {
            if (t->dims[d] != RT_DIM_UNKNOWN)
                continue;
            const char *sym = graph_dim_param(g, t->name, d);
            const symbol *b = sym ? sym_find(&st, sym) : NULL;
            int64_t value = RT_DIM_UNKNOWN;
            if (v && v->rank == t->rank)
                value = v->dims[d];
            else if (b)
                value = b->value;
            for (int i = 0; i < o->n_dims && value == RT_DIM_UNKNOWN; i++) {
                int in, ax;
                if (input_axis(g, o->dims[i].name, &in, &ax) && in == k && ax == d)
                    value = o->dims[i].value;
            }
            if (value == RT_DIM_UNKNOWN) {
                char how[200], named[160] = " (unnamed)", alt[200] = "";
                if (sym) {
                    snprintf(how, sizeof how, "--dim %s=VALUE", sym);
                    snprintf(named, sizeof named, " ('%s')", sym);
                } else {
                    snprintf(how, sizeof how, "--dim %s:%d=VALUE", t->name, d);
                }
                if (!o->timing_only)
                    snprintf(alt, sizeof alt, " (or the input with --input %s=FILE.npy)", t->name);
                s = rt_error_set(e, RT_ERR_SHAPE, "input '%s': dimension %d%s is not known: give it with %s%s", t->name,
                                 d, named, how, alt);
                break;
            }
            t->dims[d] = value;
            changed = true;
        }
        if (s == RT_OK && t->rank >= 0) {
            char what[300];
            snprintf(what, sizeof what, "input '%s'", t->name);
            s = rt_shape_check(t->rank, t->dims, what, e);
        }
    }
    free(st.v);
    if (s == RT_OK && changed)
        s = graph_prepare(g, e);
    if (s == RT_OK && o->timing_only)
        s = all_shapes_known(g, e);
    return s;
}
