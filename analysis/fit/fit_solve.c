/* fit_solve.c -- one preset's fit: its keys by nonlinear least squares (GSL's multifit_nlinear,
 * the trust-region Levenberg-Marquardt method) on its train rows. Each residual is the log of
 * simulated over measured, so that a latency in ms, one in s and an energy in J weigh alike and an
 * error of x% counts the same whether too slow or too fast. Each key moves inside its physical
 * range through MINUIT's sine map of an unbounded variable, so no step can leave the range. The
 * Jacobian is taken by forward differences with a step far above the simulator's integer-cycle
 * resolution; evaluations at a point already simulated come from a small cache. */
#include "fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>

#include "whatif.h"

#define FIT_MAX_ITERATIONS 40      /* trust-region iterations; a fit of 1-3 keys converges in < 15 */
#define FIT_XTOL 1e-4              /* step tolerance on the unbounded variables */
#define FIT_GTOL 1e-8              /* gradient tolerance */
#define FIT_FTOL 0.0               /* not used by GSL 2.7's driver */
#define FIT_DIFF_STEP 1e-2         /* forward-difference step of the unbounded variable (~0.25% of the
                                      range near its middle: far above integer-cycle resolution) */
#define FIT_EDGE_FRACTION 0.05     /* a start value is kept this far inside its range (a fraction of it):
                                      at the ends the sine map is flat and no step would move it */
#define FIT_BOUND_FRACTION 0.01    /* a fitted value this close to an end of its range pressed on it */
#define FIT_DETERMINED_NORM 1e-6   /* a key whose Jacobian column is below this moves no train row */
#define FIT_CACHE_SIZE 16          /* points remembered (the driver asks for f at a point more than once) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double metric_of(const run_result *r, fit_metric m)
{
    return m == FIT_METRIC_ENERGY ? energy_total(&r->energy) : r->total_s;
}

/* Simulate rows idx[0..n-1] of r on cfg into values[]; one what-if session for all of them (module
 * runs they share are simulated once). A failure names the row's line. */
static rt_status simulate_rows(const m4npu_config *cfg, const fit_rows *r, const int *idx, int n, double *values,
                               rt_error *e)
{
    whatif *w = whatif_open(cfg, e);
    if (!w)
        return e ? e->code : RT_ERR_ARG;
    whatif_set_profile(w, false); /* totals only: no per-op profile to hold */
    /* greedy placement: the fit calibrates the NPU's parameters, so every node the NPU supports
     * runs there whatever the trial parameters (the cost-aware default would move work to the CPU
     * as they change, and the modelled figure would jump between placements) */
    whatif_set_partition(w, true, PART_LATENCY);
    rt_status st = RT_OK;
    for (int i = 0; i < n && st == RT_OK; i++) {
        const fit_row *row = &r->row[idx[i]];
        double v = 0;
        for (int s = 0; s < row->wl->n_steps && st == RT_OK; s++) {
            const whatif_module_run *m;
            st = whatif_module(w, row->wl->steps[s].module, &row->wl->steps[s].params, &m, e);
            if (st == RT_OK)
                v += metric_of(m->r, row->metric) * row->wl->steps[s].repeat;
            else
                rt_error_prefix(e, "line %d (%s)", row->line, row->workload);
        }
        values[i] = v;
    }
    whatif_close(w);
    return st;
}

rt_status fit_simulate(const m4npu_config *cfg, const fit_workload *wl, fit_metric m, double *value, rt_error *e)
{
    fit_row row;
    memset(&row, 0, sizeof row);
    row.wl = wl;
    row.metric = m;
    snprintf(row.workload, sizeof row.workload, "%s", wl->workload);
    fit_rows rows = {.row = &row, .n = 1};
    int idx = 0;
    return simulate_rows(cfg, &rows, &idx, 1, value, e);
}

/* ---- the least-squares problem */

typedef struct cache_entry {
    double x[FIT_MAX_KEYS];
    double *f;
    bool used;
} cache_entry;

typedef struct solve_ctx {
    fit_group *g;
    const fit_rows *r;
    int *train;                 /* row indices */
    int n_train;
    cache_entry cache[FIT_CACHE_SIZE];
    int next_slot;
    rt_error *e;
    rt_status failed;
    double *values;             /* scratch: one per train row */
} solve_ctx;

/* MINUIT's map of a bounded parameter: value = lo + (hi - lo) (1 + sin x) / 2. Every x is inside
 * the range, and a step that overshoots an end comes back instead of sticking there (a logistic
 * map's flat tails trap the trust region at the first overshoot). */
static double key_value(const fit_key *k, double x) { return k->lo + (k->hi - k->lo) * (1.0 + sin(x)) / 2.0; }

static double key_variable(const fit_key *k, double v)
{
    double edge = FIT_EDGE_FRACTION * (k->hi - k->lo);
    if (v < k->lo + edge)
        v = k->lo + edge;
    if (v > k->hi - edge)
        v = k->hi - edge;
    return asin(2.0 * (v - k->lo) / (k->hi - k->lo) - 1.0);
}

/* |dvalue/dx| at x */
static double key_slope(const fit_key *k, double x) { return fabs((k->hi - k->lo) * cos(x) / 2.0); }

static void config_at(const fit_group *g, const double *x, m4npu_config *cfg)
{
    *cfg = g->base;
    for (int j = 0; j < g->n_keys; j++)
        fit_key_set(cfg, g->keys[j], key_value(g->keys[j], x[j]));
}

/* The residuals at x (from the cache or simulated). */
static int residuals_at(solve_ctx *c, const double *x, gsl_vector *f)
{
    fit_group *g = c->g;
    for (int i = 0; i < FIT_CACHE_SIZE; i++)
        if (c->cache[i].used && memcmp(c->cache[i].x, x, (size_t)g->n_keys * sizeof *x) == 0) {
            for (int k = 0; k < c->n_train; k++)
                gsl_vector_set(f, (size_t)k, c->cache[i].f[k]);
            return GSL_SUCCESS;
        }
    m4npu_config cfg;
    config_at(g, x, &cfg);
    m4npu_config_error ce;
    if (m4npu_config_validate(&cfg, &ce) != M4NPU_CONFIG_OK) {
        c->failed = rt_error_set(c->e, RT_ERR_ARG, "%s: a fitted configuration is invalid: %s", g->preset, ce.msg);
        return GSL_EDOM;
    }
    rt_status st = simulate_rows(&cfg, c->r, c->train, c->n_train, c->values, c->e);
    g->evaluations++;
    if (st != RT_OK) {
        c->failed = st;
        return GSL_EFAILED;
    }
    cache_entry *slot = &c->cache[c->next_slot];
    c->next_slot = (c->next_slot + 1) % FIT_CACHE_SIZE;
    memcpy(slot->x, x, (size_t)g->n_keys * sizeof *x);
    slot->used = true;
    for (int k = 0; k < c->n_train; k++)
        if (!(c->values[k] > 0)) {
            const fit_row *row = &c->r->row[c->train[k]];
            c->failed = rt_error_set(c->e, RT_ERR_ARG, "%s: line %d (%s): simulated %g, not a positive time or energy",
                                     g->preset, row->line, row->workload, c->values[k]);
            return GSL_EDOM;
        }
    for (int k = 0; k < c->n_train; k++) {
        double resid = log(c->values[k] / c->r->row[c->train[k]].measured);
        slot->f[k] = resid;
        gsl_vector_set(f, (size_t)k, resid);
    }
    return GSL_SUCCESS;
}

static int fdf_f(const gsl_vector *xv, void *params, gsl_vector *f)
{
    solve_ctx *c = params;
    double x[FIT_MAX_KEYS];
    for (int j = 0; j < c->g->n_keys; j++)
        x[j] = gsl_vector_get(xv, (size_t)j);
    return residuals_at(c, x, f);
}

static int fdf_df(const gsl_vector *xv, void *params, gsl_matrix *J)
{
    solve_ctx *c = params;
    int n = c->n_train, p = c->g->n_keys;
    gsl_vector *f0 = gsl_vector_alloc((size_t)n), *f1 = gsl_vector_alloc((size_t)n);
    if (!f0 || !f1) {
        gsl_vector_free(f0);
        gsl_vector_free(f1);
        c->failed = rt_error_set(c->e, RT_ERR_NOMEM, "out of memory (Jacobian)");
        return GSL_ENOMEM;
    }
    double x[FIT_MAX_KEYS];
    for (int j = 0; j < p; j++)
        x[j] = gsl_vector_get(xv, (size_t)j);
    int st = residuals_at(c, x, f0);
    for (int j = 0; j < p && st == GSL_SUCCESS; j++) {
        double keep = x[j];
        x[j] = keep + FIT_DIFF_STEP;
        st = residuals_at(c, x, f1);
        x[j] = keep;
        for (int i = 0; i < n && st == GSL_SUCCESS; i++)
            gsl_matrix_set(J, (size_t)i, (size_t)j, (gsl_vector_get(f1, (size_t)i) - gsl_vector_get(f0, (size_t)i)) /
                                                        FIT_DIFF_STEP);
    }
    gsl_vector_free(f0);
    gsl_vector_free(f1);
    return st;
}

/* Uncertainties from the Jacobian at the solution: cov(x) = s^2 (J^T J)^-1, with s^2 the residual
 * variance when there are more train rows than keys, and never below FIT_MEASUREMENT_SIGMA^2 (the
 * assumed scatter of one measurement); propagated to each key's value through the map's slope. */
static void uncertainties(fit_group *g, const gsl_matrix *J, const gsl_vector *x, double chi2, int n)
{
    int p = g->n_keys;
    gsl_matrix *cov = gsl_matrix_alloc((size_t)p, (size_t)p);
    if (!cov)
        return;
    gsl_multifit_nlinear_covar(J, 0.0, cov);
    double s2 = n > p ? chi2 / (n - p) : 0.0;
    if (s2 < FIT_MEASUREMENT_SIGMA * FIT_MEASUREMENT_SIGMA)
        s2 = FIT_MEASUREMENT_SIGMA * FIT_MEASUREMENT_SIGMA;
    for (int j = 0; j < p; j++) {
        gsl_vector_const_view col = gsl_matrix_const_column(J, (size_t)j);
        /* the change of the log errors over the key's whole range: a key no train row depends on
         * has none (the slope divides out the map, which flattens at the range's ends) */
        const fit_key *k = g->keys[j];
        double slope = key_slope(k, gsl_vector_get(x, (size_t)j));
        g->determined[j] = slope > 0 && gsl_blas_dnrm2(&col.vector) / slope * (k->hi - k->lo) > FIT_DETERMINED_NORM;
        double var = gsl_matrix_get(cov, (size_t)j, (size_t)j) * s2;
        g->sigma[j] = g->determined[j] && var > 0 ? sqrt(var) * slope : 0.0;
    }
    gsl_matrix_free(cov);
}

static rt_status solve(fit_group *g, const fit_rows *r, int *train, int n_train, rt_error *e)
{
    int p = g->n_keys;
    solve_ctx c = {.g = g, .r = r, .train = train, .n_train = n_train, .e = e};
    rt_status st = RT_OK;
    c.values = calloc((size_t)n_train, sizeof *c.values);
    for (int i = 0; i < FIT_CACHE_SIZE; i++)
        if (!(c.cache[i].f = calloc((size_t)n_train, sizeof *c.cache[i].f)))
            st = RT_ERR_NOMEM;
    gsl_multifit_nlinear_fdf fdf = {.f = fdf_f, .df = fdf_df, .fvv = NULL, .n = (size_t)n_train, .p = (size_t)p,
                                    .params = &c};
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w = NULL;
    gsl_vector *x0 = gsl_vector_alloc((size_t)p);
    if (st == RT_OK && c.values && x0)
        w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, (size_t)n_train, (size_t)p);
    if (!w) {
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (the fit of %s)", g->preset);
    } else {
        for (int j = 0; j < p; j++)
            gsl_vector_set(x0, (size_t)j, key_variable(g->keys[j], g->value_before[j]));
        int gst = gsl_multifit_nlinear_init(x0, &fdf, w), info = 0;
        if (gst == GSL_SUCCESS)
            gst = gsl_multifit_nlinear_driver(FIT_MAX_ITERATIONS, FIT_XTOL, FIT_GTOL, FIT_FTOL, NULL, NULL, &info, w);
        g->iterations = (int)gsl_multifit_nlinear_niter(w);
        if (c.failed) {
            st = c.failed;
            rt_error_prefix(e, "%s", g->preset);
        } else if (gst != GSL_SUCCESS && gst != GSL_EMAXITER && gst != GSL_ENOPROG) {
            st = rt_error_set(e, RT_ERR_ARG, "%s: the least-squares solver failed: %s", g->preset, gsl_strerror(gst));
        } else {
            /* GSL_EMAXITER / GSL_ENOPROG: the best point found stands (its rows show how good it is) */
            const gsl_vector *x = gsl_multifit_nlinear_position(w);
            const gsl_vector *f = gsl_multifit_nlinear_residual(w);
            double chi2;
            gsl_blas_ddot(f, f, &chi2);
            g->chi2_after = chi2;
            for (int j = 0; j < p; j++) {
                const fit_key *k = g->keys[j];
                g->value_after[j] = key_value(k, gsl_vector_get(x, (size_t)j));
                double margin = FIT_BOUND_FRACTION * (k->hi - k->lo);
                g->at_bound[j] = g->value_after[j] < k->lo + margin || g->value_after[j] > k->hi - margin;
            }
            uncertainties(g, gsl_multifit_nlinear_jac(w), x, chi2, n_train);
        }
    }
    gsl_multifit_nlinear_free(w);
    gsl_vector_free(x0);
    for (int i = 0; i < FIT_CACHE_SIZE; i++)
        free(c.cache[i].f);
    free(c.values);
    return st;
}

rt_status fit_group_run(fit_group *g, fit_rows *r, rt_error *e)
{
    double t0 = now_s();
    g->fitted = g->base;
    g->fitted_any = false;
    g->iterations = g->evaluations = 0;
    g->chi2_before = g->chi2_after = 0;
    int *train = calloc((size_t)(g->n_rows ? g->n_rows : 1), sizeof *train);
    double *values = calloc((size_t)(g->n_rows ? g->n_rows : 1), sizeof *values);
    if (!train || !values) {
        free(train);
        free(values);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (the fit of %s)", g->preset);
    }
    for (int j = 0; j < g->n_keys; j++) {
        const fit_key *k = g->keys[j];
        g->value_before[j] = g->value_after[j] = fit_key_get(&g->base, k);
        g->sigma[j] = 0;
        g->determined[j] = g->at_bound[j] = false;
    }
    /* before: every row on the preset */
    rt_status st = simulate_rows(&g->base, r, g->rows, g->n_rows, values, e);
    int n_train = 0;
    for (int i = 0; i < g->n_rows && st == RT_OK; i++) {
        fit_row *row = &r->row[g->rows[i]];
        row->before = values[i];
        row->has_before = true;
        if (row->split == FIT_TRAIN) {
            train[n_train++] = g->rows[i];
            double l = log(row->before / row->measured);
            g->chi2_before += l * l;
        }
    }
    g->n_train = n_train;
    if (st == RT_OK && n_train > 0 && g->n_keys > 0) {
        if (n_train < g->n_keys) {
            st = rt_error_set(e, RT_ERR_ARG, "%s: %d train row%s cannot determine %d keys: fit fewer keys there, or "
                              "mark more rows train", g->preset, n_train, n_train == 1 ? "" : "s", g->n_keys);
        } else {
            gsl_error_handler_t *old = gsl_set_error_handler_off(); /* GSL's errors come back as codes */
            st = solve(g, r, train, n_train, e);
            gsl_set_error_handler(old);
            if (st == RT_OK) {
                g->fitted_any = true;
                for (int j = 0; j < g->n_keys; j++)
                    fit_key_set(&g->fitted, g->keys[j], g->value_after[j]);
            }
        }
    }
    /* after: every row on the fitted configuration */
    if (st == RT_OK)
        st = simulate_rows(&g->fitted, r, g->rows, g->n_rows, values, e);
    for (int i = 0; i < g->n_rows && st == RT_OK; i++) {
        r->row[g->rows[i]].after = values[i];
        r->row[g->rows[i]].has_after = true;
    }
    free(train);
    free(values);
    g->host_s = now_s() - t0;
    return st;
}
