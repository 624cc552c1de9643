/* sweep_sample.c -- the points of a sweep: the full grid of the axes' values, or random or
 * Latin-hypercube draws (GSL's MT19937, seeded by the spec), filtered by the constraints. The
 * enumeration is a pure function of the spec and the base configuration, so every process that
 * runs a point (a local worker, a Slurm array task) numbers the points identically. */
#include "sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

typedef struct point_builder {
    sweep_points *p;
    int cap;
} point_builder;

static rt_status keep(point_builder *b, char **values, rt_error *e)
{
    sweep_points *p = b->p;
    if (p->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 256;
        char **v = realloc(p->value, (size_t)cap * (size_t)p->n_axes * sizeof *v);
        if (!v)
            return rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep points)");
        p->value = v;
        b->cap = cap;
    }
    memcpy(p->value + (size_t)p->n * (size_t)p->n_axes, values, (size_t)p->n_axes * sizeof *values);
    p->n++;
    return RT_OK;
}

/* Apply the candidate's values to a copy of the base and test the constraints. A value the
 * schema refuses cannot happen (the spec checked every value); one that fails the
 * configuration's cross-key checks is kept and fails when it runs, with the reason. */
static bool satisfies(const sweep_spec *s, const m4npu_config *base, char **values, m4npu_config *scratch)
{
    if (s->n_constraints == 0)
        return true;
    memcpy(scratch, base, sizeof *scratch);
    for (int a = 0; a < s->n_axes; a++) {
        m4npu_config_error err;
        if (m4npu_config_set(scratch, s->axes[a].key->path, values[a], &err) != M4NPU_CONFIG_OK)
            return true;
    }
    for (int i = 0; i < s->n_constraints; i++)
        if (!sweep_expr_holds(s->constraints[i], scratch, &s->area))
            return false;
    return true;
}

static rt_status grid(const sweep_spec *s, const m4npu_config *base, point_builder *b, m4npu_config *scratch,
                      rt_error *e)
{
    double total = 1;
    for (int a = 0; a < s->n_axes; a++)
        total *= s->axes[a].n_values;
    if (total > SWEEP_MAX_CANDIDATES)
        return rt_error_set(e, RT_ERR_LIMIT, "%s: the grid has %.0f points, more than %d; use fewer values or random "
                                             "or lhs sampling", s->path, total, SWEEP_MAX_CANDIDATES);
    b->p->n_candidates = (int)total;
    int idx[SWEEP_MAX_AXES] = {0};
    char *values[SWEEP_MAX_AXES];
    for (int n = 0; n < (int)total; n++) {
        for (int a = 0; a < s->n_axes; a++)
            values[a] = s->axes[a].values[idx[a]];
        if (satisfies(s, base, values, scratch)) {
            rt_status st = keep(b, values, e);
            if (st != RT_OK)
                return st;
        }
        for (int a = s->n_axes - 1; a >= 0; a--) { /* the last axis varies fastest */
            if (++idx[a] < s->axes[a].n_values)
                break;
            idx[a] = 0;
        }
    }
    return RT_OK;
}

/* The value of axis ax at u in [0, 1): a list value by index, or a point of the continuous
 * range (uniform in the value, or in its log), integers rounded. Continuous values are new text,
 * owned by the points (strings[]). */
static char *value_at(const sweep_axis *ax, double u, rt_error *e)
{
    if (ax->n_values > 0) {
        int i = (int)floor(u * ax->n_values);
        return ax->values[i < ax->n_values ? i : ax->n_values - 1];
    }
    double v = ax->log_scale ? exp(log(ax->from) + u * (log(ax->to) - log(ax->from))) : ax->from + u * (ax->to - ax->from);
    v = fmin(fmax(v, ax->from), ax->to);
    char text[64];
    if (ax->key->kind == M4NPU_CFG_F64) {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(text, sizeof text, "%.*g", prec, v);
            if (strtod(text, NULL) == v)
                break;
        }
    } else {
        snprintf(text, sizeof text, "%.0f", v);
    }
    char *copy = strdup(text);
    if (!copy)
        rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep points)");
    return copy;
}

static rt_status sampled(const sweep_spec *s, const m4npu_config *base, point_builder *b, m4npu_config *scratch,
                         char ***owned, int *n_owned, rt_error *e)
{
    int n = s->samples;
    b->p->n_candidates = n;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    size_t *perm = calloc((size_t)n * (size_t)s->n_axes, sizeof *perm);
    char **strings = calloc((size_t)n * (size_t)s->n_axes + 1, sizeof *strings);
    rt_status st = RT_OK;
    int ns = 0;
    if (!rng || !perm || !strings) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep sampling)");
        goto done;
    }
    gsl_rng_set(rng, (unsigned long)s->seed);
    if (s->sampling == SWEEP_SAMPLE_LHS) /* a permutation of the n strata per axis */
        for (int a = 0; a < s->n_axes; a++) {
            size_t *col = perm + (size_t)a * (size_t)n;
            for (int i = 0; i < n; i++)
                col[i] = (size_t)i;
            gsl_ran_shuffle(rng, col, (size_t)n, sizeof *col);
        }
    for (int i = 0; i < n && st == RT_OK; i++) {
        char *values[SWEEP_MAX_AXES];
        for (int a = 0; a < s->n_axes; a++) {
            double u = gsl_rng_uniform(rng);
            if (s->sampling == SWEEP_SAMPLE_LHS)
                u = ((double)perm[(size_t)a * (size_t)n + (size_t)i] + u) / n;
            if (!(values[a] = value_at(&s->axes[a], u, e))) {
                st = RT_ERR_NOMEM;
                break;
            }
            if (s->axes[a].n_values == 0)
                strings[ns++] = values[a];
        }
        if (st == RT_OK && satisfies(s, base, values, scratch))
            st = keep(b, values, e);
    }
done:
    gsl_rng_free(rng);
    free(perm);
    *owned = strings;
    *n_owned = strings ? ns : 0;
    return st;
}

rt_status sweep_points_make(const sweep_spec *s, const m4npu_config *base, sweep_points **out, rt_error *e)
{
    *out = NULL;
    sweep_points *p = calloc(1, sizeof *p);
    m4npu_config *scratch = malloc(sizeof *scratch);
    if (!p || !scratch) {
        free(p);
        free(scratch);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep points)");
    }
    p->n_axes = s->n_axes;
    point_builder b = {p, 0};
    rt_status st = s->sampling == SWEEP_SAMPLE_GRID ? grid(s, base, &b, scratch, e)
                                                    : sampled(s, base, &b, scratch, &p->owned, &p->n_owned, e);
    free(scratch);
    if (st != RT_OK) {
        sweep_points_free(p);
        return st;
    }
    *out = p;
    return RT_OK;
}

void sweep_points_free(sweep_points *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    free(p->owned);
    free(p->value);
    free(p);
}

rt_status sweep_point_config(const sweep_spec *s, const sweep_points *p, int i, const m4npu_config *base,
                             m4npu_config *cfg, rt_error *e)
{
    if (i < 0 || i >= p->n)
        return rt_error_set(e, RT_ERR_ARG, "point %d: the sweep has points 0..%d", i, p->n - 1);
    memcpy(cfg, base, sizeof *cfg);
    rt_status st = RT_OK;
    for (int a = 0; a < s->n_axes; a++) {
        m4npu_config_error err;
        if (m4npu_config_set(cfg, s->axes[a].key->path, p->value[(size_t)i * (size_t)p->n_axes + (size_t)a], &err) !=
                M4NPU_CONFIG_OK &&
            st == RT_OK)
            st = rt_error_set(e, RT_ERR_ARG, "%s", err.msg);
    }
    if (st != RT_OK)
        return st;
    m4npu_config_error err;
    if (m4npu_config_validate(cfg, &err) != M4NPU_CONFIG_OK)
        return rt_error_set(e, RT_ERR_ARG, "the point's configuration: %s", err.msg);
    return RT_OK;
}

void sweep_config_hash(const m4npu_config *cfg, char out[SWEEP_HASH_HEX])
{
    char *text = NULL;
    size_t len = 0;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        m4npu_config_write_yaml(cfg, mem);
        fclose(mem);
        for (size_t i = 0; i < len; i++) {
            h ^= (unsigned char)text[i];
            h *= 0x100000001b3ull; /* FNV prime */
        }
    }
    free(text);
    snprintf(out, SWEEP_HASH_HEX, "%016llx", (unsigned long long)h);
}
