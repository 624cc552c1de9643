/* sweep_report.c -- `m4npu sweep report`: a sweep's rows as a table (or JSON, CSV), the Pareto
 * front over latency, energy and area for each workload, and each metric's sensitivity to each
 * knob: the elasticity d log(metric) / d log(knob), the slope of a least-squares line through
 * the log-log points (GSL's gsl_fit_linear), with its R^2.
 *
 * In a grid the rows that differ only in one knob form a line; the fit is over the rows of every
 * such line with each line's mean removed (one common slope, each line its own intercept), so
 * the other knobs' effects do not leak into it. Rows with no partner on a line (random or
 * Latin-hypercube samples) are fitted together as they are: a marginal elasticity, marked as
 * pooled. The report reads only the store (its meta table says what the columns are), never the
 * spec. */
#include "sweep_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_fit.h>
#include <jansson.h>

/* ---- loading */

static json_t *meta_json(sqlite3 *db, const char *key)
{
    sqlite3_stmt *q;
    json_t *j = NULL;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        j = json_loads((const char *)sqlite3_column_text(q, 0), JSON_DECODE_ANY, NULL);
    sqlite3_finalize(q);
    return j;
}

static void meta_text(sqlite3 *db, const char *key, char *buf, size_t size)
{
    sqlite3_stmt *q;
    snprintf(buf, size, "?");
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        snprintf(buf, size, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
}

static rt_status load_meta(sweep_report *R, sqlite3 *db, const char *path, rt_error *e)
{
    json_t *axes = meta_json(db, SWEEP_META_AXES), *metrics = meta_json(db, SWEEP_META_METRICS),
           *workloads = meta_json(db, SWEEP_META_WORKLOADS), *points = meta_json(db, SWEEP_META_POINTS),
           *cands = meta_json(db, SWEEP_META_CANDIDATES);
    rt_status r = RT_OK;
    if (!json_is_array(axes) || !json_is_array(metrics) || !json_is_array(workloads) || !json_is_integer(points) ||
        json_array_size(axes) > MAX_KNOBS || json_array_size(workloads) > SWEEP_MAX_WORKLOADS) {
        r = rt_error_set(e, RT_ERR_ARG, "%s: the meta table is not a sweep's", path);
        goto done;
    }
    R->points = (int)json_integer_value(points);
    R->candidates = json_is_integer(cands) ? (int)json_integer_value(cands) : R->points;
    size_t i;
    json_t *v;
    json_array_foreach(axes, i, v) {
        const char *key = json_string_value(json_object_get(v, "key")), *type = json_string_value(json_object_get(v, "type"));
        if (!key || !type) {
            r = rt_error_set(e, RT_ERR_ARG, "%s: the meta table's axes are malformed", path);
            goto done;
        }
        snprintf(R->knob[R->n_knobs], sizeof R->knob[0], "%s", key);
        R->knob_numeric[R->n_knobs++] = strcmp(type, "TEXT") != 0;
    }
    json_array_foreach(metrics, i, v) {
        int m = json_is_string(v) ? sweep_metric_lookup(json_string_value(v)) : -1;
        if (m < 0) {
            r = rt_error_set(e, RT_ERR_ARG, "%s: unknown metric in the meta table", path);
            goto done;
        }
        R->metric[R->n_metrics++] = m;
    }
    json_array_foreach(workloads, i, v) snprintf(R->workload[R->n_workloads++], sizeof R->workload[0], "%s",
                                                 json_is_string(v) ? json_string_value(v) : "?");
done:
    json_decref(axes);
    json_decref(metrics);
    json_decref(workloads);
    json_decref(points);
    json_decref(cands);
    return r;
}

static char *column_text(sqlite3_stmt *q, int c)
{
    const unsigned char *t = sqlite3_column_text(q, c);
    return strdup(t ? (const char *)t : "");
}

static rt_status load_rows(sweep_report *R, sqlite3 *db, const char *path, rt_error *e)
{
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    if (!f)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (report)");
    fputs("SELECT point, workload, status, error, config_hash, wall_s", f);
    char col[2 * M4NPU_CONFIG_KEY_LEN];
    for (int k = 0; k < R->n_knobs; k++) {
        sweep_sql_column(R->knob[k], col, sizeof col);
        fprintf(f, ", %s", col);
    }
    for (int m = 0; m < R->n_metrics; m++) {
        sweep_sql_column(sweep_metric_name((sweep_metric)R->metric[m]), col, sizeof col);
        fprintf(f, ", %s", col);
    }
    fputs(" FROM results ORDER BY point, workload", f);
    fclose(f);
    sqlite3_stmt *q;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return rt_error_set(e, RT_ERR_ARG, "%s: %s", path, sqlite3_errmsg(db));
    int cap = 0;
    rt_status r = RT_OK;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (R->n_rows == cap) {
            cap = cap ? 2 * cap : 256;
            report_row *grown = realloc(R->row, (size_t)cap * sizeof *grown);
            if (!grown) {
                r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (report)");
                break;
            }
            R->row = grown;
        }
        report_row *row = &R->row[R->n_rows++];
        memset(row, 0, sizeof *row);
        row->point = sqlite3_column_int(q, 0);
        const char *wl = (const char *)sqlite3_column_text(q, 1);
        row->workload = -1;
        for (int w = 0; w < R->n_workloads && wl; w++)
            if (strcmp(R->workload[w], wl) == 0)
                row->workload = w;
        row->ok = sqlite3_column_text(q, 2) && strcmp((const char *)sqlite3_column_text(q, 2), "ok") == 0;
        row->error = column_text(q, 3);
        snprintf(row->hash, sizeof row->hash, "%s", sqlite3_column_text(q, 4) ? (const char *)sqlite3_column_text(q, 4) : "");
        row->wall_s = sqlite3_column_double(q, 5);
        int c = 6;
        for (int k = 0; k < R->n_knobs; k++, c++) {
            row->knob_text[k] = column_text(q, c);
            row->knob[k] = R->knob_numeric[k] && sqlite3_column_type(q, c) != SQLITE_NULL ? sqlite3_column_double(q, c)
                                                                                          : NAN;
        }
        for (int m = 0; m < R->n_metrics; m++, c++)
            row->metric[R->metric[m]] = sqlite3_column_type(q, c) == SQLITE_NULL ? NAN : sqlite3_column_double(q, c);
        if (row->workload < 0) {
            r = rt_error_set(e, RT_ERR_ARG, "%s: a row of workload \"%s\" that the meta table does not list", path,
                             wl ? wl : "?");
            break;
        }
    }
    sqlite3_finalize(q);
    if (r == RT_OK && rc != SQLITE_DONE)
        r = rt_error_set(e, RT_ERR_IO, "%s: %s", path, sqlite3_errmsg(db));
    return r;
}

static void free_row(report_row *row, int n_knobs)
{
    free(row->error);
    for (int k = 0; k < n_knobs; k++)
        free(row->knob_text[k]);
}

/* --where and --workload: drop the rows that do not qualify. */
static rt_status filter_rows(sweep_report *R, const sweep_report_options *o, rt_error *e)
{
    int wl = -1;
    if (o->workload) {
        for (int w = 0; w < R->n_workloads; w++)
            if (strcmp(R->workload[w], o->workload) == 0)
                wl = w;
        if (wl < 0)
            return rt_error_set(e, RT_ERR_ARG, "--workload %s: the sweep has no such workload", o->workload);
    }
    sweep_expr *x = NULL;
    const char *names[MAX_KNOBS + SWEEP_METRIC_COUNT];
    int n = 0;
    for (int k = 0; k < R->n_knobs; k++)
        names[n++] = R->knob[k];
    for (int m = 0; m < R->n_metrics; m++)
        names[n++] = sweep_metric_name((sweep_metric)R->metric[m]);
    if (o->where) {
        size_t off;
        char reason[512];
        if (!(x = sweep_expr_compile_vars(o->where, names, n, &off, reason, sizeof reason)))
            return rt_error_set(e, RT_ERR_ARG, "--where \"%s\": column %zu: %s", o->where, off + 1, reason);
    }
    int kept = 0;
    for (int i = 0; i < R->n_rows; i++) {
        report_row *row = &R->row[i];
        double vars[MAX_KNOBS + SWEEP_METRIC_COUNT];
        int v = 0;
        for (int k = 0; k < R->n_knobs; k++)
            vars[v++] = row->knob[k];
        for (int m = 0; m < R->n_metrics; m++)
            vars[v++] = row->metric[R->metric[m]];
        if ((wl >= 0 && row->workload != wl) || (x && !sweep_expr_holds_vars(x, vars))) {
            free_row(row, R->n_knobs);
            continue;
        }
        R->row[kept++] = *row;
    }
    R->n_rows = kept;
    sweep_expr_free(x);
    return RT_OK;
}

/* ---- the Pareto front */

/* A row's coordinates on the front, sortable on their own. */
typedef struct front_item {
    double v[3]; /* latency_s, energy_j, area_mm2 */
    int row;
} front_item;

static int cmp_front(const void *a, const void *b)
{
    const front_item *x = a, *y = b;
    for (int i = 0; i < 3; i++) {
        if (x->v[i] < y->v[i])
            return -1;
        if (x->v[i] > y->v[i])
            return 1;
    }
    return (x->row > y->row) - (x->row < y->row);
}

static bool dominates(const front_item *a, const front_item *b)
{
    return a->v[0] <= b->v[0] && a->v[1] <= b->v[1] && a->v[2] <= b->v[2] &&
           (a->v[0] < b->v[0] || a->v[1] < b->v[1] || a->v[2] < b->v[2]);
}

static rt_status pareto(sweep_report *R, rt_error *e)
{
    front_item *items = malloc((size_t)(R->n_rows + 1) * sizeof *items);
    int *front = malloc((size_t)(R->n_rows + 1) * sizeof *front);
    if (!items || !front) {
        free(items);
        free(front);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (Pareto front)");
    }
    for (int w = 0; w < R->n_workloads; w++) {
        int n = 0;
        for (int i = 0; i < R->n_rows; i++) {
            const report_row *row = &R->row[i];
            front_item it = {{row->metric[SWEEP_M_LATENCY_S], row->metric[SWEEP_M_ENERGY_J],
                              row->metric[SWEEP_M_AREA_MM2]},
                             i};
            if (row->workload == w && row->ok && isfinite(it.v[0]) && isfinite(it.v[1]) && isfinite(it.v[2]))
                items[n++] = it;
        }
        /* in lexicographic order a row's dominators all come before it, and a dominated row's
         * dominator is itself dominated by a front row: checking the front so far suffices */
        qsort(items, (size_t)n, sizeof *items, cmp_front);
        int nf = 0;
        for (int i = 0; i < n; i++) {
            bool dominated = false;
            for (int f = 0; f < nf && !dominated; f++)
                dominated = dominates(&items[front[f]], &items[i]);
            if (!dominated) {
                front[nf++] = i;
                R->row[items[i].row].pareto = true;
            }
        }
    }
    free(items);
    free(front);
    return RT_OK;
}

/* ---- elasticities */

void sweep_report_group_key(const sweep_report *R, const report_row *row, int k, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int j = 0; j < R->n_knobs && o < size; j++)
        if (j != k)
            o += (size_t)snprintf(buf + o, size - o, "%s\x1f", row->knob_text[j]);
}

#define FLAT_SUMSQ 1e-20 /* per point: log-metric variation below this is rounding, not a trend */

typedef struct fit_point {
    double x, y;
    int group;
} fit_point;

static int cmp_group(const void *a, const void *b)
{
    const fit_point *x = a, *y = b;
    return (x->group > y->group) - (x->group < y->group);
}

/* Slope and R^2 of y on x over the points, each group's means removed when `within`. */
static bool fit(fit_point *pt, int n, bool within, double *slope, double *r2)
{
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return false;
    }
    qsort(pt, (size_t)n, sizeof *pt, cmp_group);
    for (int i = 0; i < n;) {
        int j = i;
        double mx = 0, my = 0;
        while (j < n && (!within || pt[j].group == pt[i].group)) {
            mx += pt[j].x;
            my += pt[j].y;
            j++;
        }
        mx /= j - i;
        my /= j - i;
        for (int k = i; k < j; k++) {
            x[k] = pt[k].x - mx;
            y[k] = pt[k].y - my;
        }
        i = j;
    }
    double c0, c1, cov00, cov01, cov11, sumsq, sst = 0;
    bool ok = gsl_fit_linear(x, 1, y, 1, (size_t)n, &c0, &c1, &cov00, &cov01, &cov11, &sumsq) == 0 && isfinite(c1);
    for (int i = 0; i < n; i++)
        sst += y[i] * y[i];
    /* a metric that does not vary along the lines (its logs differ only by rounding) has no R^2 */
    *slope = c1;
    *r2 = sst > FLAT_SUMSQ * n ? 1.0 - sumsq / sst : NAN;
    free(x);
    free(y);
    return ok;
}

static rt_status elasticity(sweep_report *R, int w, int m, int k, fit_point *pt, char (*keys)[GROUP_KEY_BYTES],
                            int *gcount, rt_error *e)
{
    int n = 0, ngroups = 0;
    for (int i = 0; i < R->n_rows; i++) {
        const report_row *row = &R->row[i];
        double v = row->metric[m], kv = row->knob[k];
        if (row->workload != w || !row->ok || !(v > 0) || !(kv > 0) || !isfinite(v) || !isfinite(kv))
            continue;
        char key[GROUP_KEY_BYTES];
        sweep_report_group_key(R, row, k, key, sizeof key);
        int g = 0;
        while (g < ngroups && strcmp(keys[g], key) != 0)
            g++;
        if (g == ngroups) {
            snprintf(keys[ngroups], GROUP_KEY_BYTES, "%s", key);
            gcount[ngroups++] = 0;
        }
        gcount[g]++;
        pt[n++] = (fit_point){log(kv), log(v), g};
    }
    /* the rows that share a line with another row; the fit is within lines if there are any */
    int lines = 0, m_in = 0;
    for (int g = 0; g < ngroups; g++)
        lines += gcount[g] > 1;
    if (lines > 0) {
        for (int i = 0; i < n; i++)
            if (gcount[pt[i].group] > 1)
                pt[m_in++] = pt[i];
        n = m_in;
    }
    /* a fit needs two distinct knob values */
    bool spread = false;
    for (int i = 1; i < n && !spread; i++)
        spread = pt[i].x != pt[0].x;
    if (n < 2 || !spread)
        return RT_OK;
    double slope, r2;
    if (!fit(pt, n, lines > 0, &slope, &r2))
        return RT_OK;
    sweep_elasticity *grown = realloc(R->el, (size_t)(R->n_el + 1) * sizeof *grown);
    if (!grown)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (elasticities)");
    R->el = grown;
    sweep_elasticity *el = &R->el[R->n_el++];
    memset(el, 0, sizeof *el);
    snprintf(el->workload, sizeof el->workload, "%s", R->workload[w]);
    snprintf(el->metric, sizeof el->metric, "%s", sweep_metric_name((sweep_metric)m));
    snprintf(el->knob, sizeof el->knob, "%s", R->knob[k]);
    el->elasticity = slope;
    el->r2 = r2;
    el->n = n;
    el->lines = lines;
    return RT_OK;
}

static rt_status elasticities(sweep_report *R, rt_error *e)
{
    fit_point *pt = malloc((size_t)(R->n_rows + 1) * sizeof *pt);
    char (*keys)[GROUP_KEY_BYTES] = malloc((size_t)(R->n_rows + 1) * GROUP_KEY_BYTES);
    int *gcount = malloc((size_t)(R->n_rows + 1) * sizeof *gcount);
    rt_status r = RT_OK;
    if (!pt || !keys || !gcount)
        r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (elasticities)");
    for (int w = 0; w < R->n_workloads && r == RT_OK; w++)
        for (int mi = 0; mi < R->n_metrics && r == RT_OK; mi++)
            for (int k = 0; k < R->n_knobs && r == RT_OK; k++)
                if (R->knob_numeric[k] && R->metric[mi] != SWEEP_M_AREA_MM2)
                    r = elasticity(R, w, R->metric[mi], k, pt, keys, gcount, e);
    free(pt);
    free(keys);
    free(gcount);
    return r;
}

rt_status sweep_report_load(const char *dir, const sweep_report_options *o, sweep_report **out, rt_error *e)
{
    *out = NULL;
    char path[SWEEP_PATH_BYTES];
    snprintf(path, sizeof path, "%s/%s", dir, SWEEP_STORE_FILE);
    if (access(path, R_OK) != 0)
        return rt_error_set(e, RT_ERR_IO, "%s: %s (is %s a sweep's --out directory?)", path, strerror(errno), dir);
    sweep_store *st;
    rt_status r = sweep_store_open_read(path, &st, e);
    if (r != RT_OK)
        return r;
    sweep_report *R = calloc(1, sizeof *R);
    if (!R) {
        sweep_store_close(st);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (report)");
    }
    meta_text(st->db, SWEEP_META_SPEC_PATH, R->spec_path, sizeof R->spec_path);
    meta_text(st->db, SWEEP_META_IDENTITY, R->identity, sizeof R->identity);
    if ((r = load_meta(R, st->db, path, e)) == RT_OK && (r = load_rows(R, st->db, path, e)) == RT_OK) {
        /* missing points: those without a row for every workload, before any filter */
        int *rows_of = calloc((size_t)R->points + 1, sizeof *rows_of);
        if (!rows_of) {
            r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (report)");
        } else {
            for (int i = 0; i < R->n_rows; i++)
                if (R->row[i].point >= 0 && R->row[i].point < R->points)
                    rows_of[R->row[i].point]++;
            for (int p = 0; p < R->points; p++)
                R->missing += rows_of[p] < R->n_workloads;
            free(rows_of);
        }
    }
    sweep_store_close(st);
    if (r == RT_OK && (r = filter_rows(R, o, e)) == RT_OK) {
        for (int i = 0; i < R->n_rows; i++)
            R->n_failed += !R->row[i].ok;
        if ((r = pareto(R, e)) == RT_OK)
            r = elasticities(R, e);
    }
    if (r != RT_OK) {
        sweep_report_free(R);
        return r;
    }
    *out = R;
    return RT_OK;
}

void sweep_report_free(sweep_report *R)
{
    if (!R)
        return;
    for (int i = 0; i < R->n_rows; i++)
        free_row(&R->row[i], R->n_knobs);
    free(R->row);
    free(R->el);
    free(R);
}

int sweep_report_elasticities(const sweep_report *R, const sweep_elasticity **out)
{
    *out = R->el;
    return R->n_el;
}

int sweep_report_pareto_count(const sweep_report *R, const char *workload)
{
    int n = 0;
    for (int i = 0; i < R->n_rows; i++)
        n += R->row[i].pareto && (!workload || strcmp(R->workload[R->row[i].workload], workload) == 0);
    return n;
}

/* ---- output */

#define EXACT_INTEGER_LIMIT 1e15 /* integers below this print exactly */

static void print_number(FILE *out, double v, int width)
{
    if (isnan(v))
        fprintf(out, " %*s", width, "-");
    else if (v == floor(v) && fabs(v) < EXACT_INTEGER_LIMIT)
        fprintf(out, " %*.0f", width, v);
    else
        fprintf(out, " %*.6g", width, v);
}

#define NUM_WIDTH 12

static void write_text(const sweep_report *R, FILE *out)
{
    int ok = 0;
    for (int i = 0; i < R->n_rows; i++)
        ok += R->row[i].ok;
    fprintf(out, "sweep %s (identity %s): %d points (%d candidates before the constraints) x %d workloads\n",
            R->spec_path, R->identity, R->points, R->candidates, R->n_workloads);
    fprintf(out, "rows shown: %d (%d ok, %d failed); points with no result yet: %d\n\n", R->n_rows, ok, R->n_failed,
            R->missing);
    fprintf(out, "%6s %-16s", "point", "workload");
    for (int k = 0; k < R->n_knobs; k++)
        fprintf(out, " %*s", NUM_WIDTH, R->knob[k]);
    for (int m = 0; m < R->n_metrics; m++)
        fprintf(out, " %*s", NUM_WIDTH, sweep_metric_name((sweep_metric)R->metric[m]));
    fprintf(out, "  pareto status\n");
    for (int i = 0; i < R->n_rows; i++) {
        const report_row *row = &R->row[i];
        fprintf(out, "%6d %-16s", row->point, R->workload[row->workload]);
        for (int k = 0; k < R->n_knobs; k++) {
            if (R->knob_numeric[k])
                print_number(out, row->knob[k], NUM_WIDTH);
            else
                fprintf(out, " %*s", NUM_WIDTH, row->knob_text[k]);
        }
        for (int m = 0; m < R->n_metrics; m++)
            print_number(out, row->metric[R->metric[m]], NUM_WIDTH);
        fprintf(out, "  %-6s %s%s%s\n", row->pareto ? "*" : "", row->ok ? "ok" : "failed", row->ok ? "" : ": ",
                row->ok ? "" : row->error);
    }
    for (int w = 0; w < R->n_workloads; w++) {
        int nf = 0, nok = 0;
        for (int i = 0; i < R->n_rows; i++)
            if (R->row[i].workload == w) {
                nf += R->row[i].pareto;
                nok += R->row[i].ok;
            }
        if (!nok)
            continue;
        fprintf(out, "\nPareto front of %s over latency_s, energy_j and area_mm2 (all minimised): %d of %d points\n",
                R->workload[w], nf, nok);
        fprintf(out, "%6s", "point");
        for (int k = 0; k < R->n_knobs; k++)
            fprintf(out, " %*s", NUM_WIDTH, R->knob[k]);
        fprintf(out, " %*s %*s %*s\n", NUM_WIDTH, "latency_s", NUM_WIDTH, "energy_j", NUM_WIDTH, "area_mm2");
        for (int i = 0; i < R->n_rows; i++) {
            const report_row *row = &R->row[i];
            if (row->workload != w || !row->pareto)
                continue;
            fprintf(out, "%6d", row->point);
            for (int k = 0; k < R->n_knobs; k++) {
                if (R->knob_numeric[k])
                    print_number(out, row->knob[k], NUM_WIDTH);
                else
                    fprintf(out, " %*s", NUM_WIDTH, row->knob_text[k]);
            }
            print_number(out, row->metric[SWEEP_M_LATENCY_S], NUM_WIDTH);
            print_number(out, row->metric[SWEEP_M_ENERGY_J], NUM_WIDTH);
            print_number(out, row->metric[SWEEP_M_AREA_MM2], NUM_WIDTH);
            fputc('\n', out);
        }
    }
    fprintf(out, "\nSensitivities: elasticity = d log(metric) / d log(knob), a least-squares line through the log-log "
                 "points (within lines of equal other knobs, else pooled), and its R^2\n");
    fprintf(out, "%-16s %-14s %-32s %10s %8s %6s %6s\n", "workload", "metric", "knob", "elasticity", "R^2", "rows",
            "lines");
    for (int i = 0; i < R->n_el; i++) {
        const sweep_elasticity *el = &R->el[i];
        fprintf(out, "%-16s %-14s %-32s %10.4f", el->workload, el->metric, el->knob, el->elasticity);
        if (isnan(el->r2))
            fprintf(out, " %8s", "-");
        else
            fprintf(out, " %8.4f", el->r2);
        char lines[16];
        snprintf(lines, sizeof lines, "%d", el->lines);
        fprintf(out, " %6d %6s\n", el->n, el->lines ? lines : "pooled");
    }
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *report_json(const sweep_report *R)
{
    json_t *j = json_object(), *rows = json_array(), *front = json_object(), *sens = json_array();
    json_object_set_new(j, "spec", json_string(R->spec_path));
    json_object_set_new(j, "identity", json_string(R->identity));
    json_object_set_new(j, "points", json_integer(R->points));
    json_object_set_new(j, "candidates", json_integer(R->candidates));
    json_object_set_new(j, "missing", json_integer(R->missing));
    json_t *wl = json_array(), *knobs = json_array(), *metrics = json_array();
    for (int w = 0; w < R->n_workloads; w++) {
        json_array_append_new(wl, json_string(R->workload[w]));
        json_object_set_new(front, R->workload[w], json_array());
    }
    for (int k = 0; k < R->n_knobs; k++)
        json_array_append_new(knobs, json_string(R->knob[k]));
    for (int m = 0; m < R->n_metrics; m++)
        json_array_append_new(metrics, json_string(sweep_metric_name((sweep_metric)R->metric[m])));
    json_object_set_new(j, "workloads", wl);
    json_object_set_new(j, "knobs", knobs);
    json_object_set_new(j, "metrics", metrics);
    for (int i = 0; i < R->n_rows; i++) {
        const report_row *row = &R->row[i];
        json_t *o = json_object(), *kv = json_object(), *mv = json_object();
        json_object_set_new(o, "point", json_integer(row->point));
        json_object_set_new(o, "workload", json_string(R->workload[row->workload]));
        json_object_set_new(o, "status", json_string(row->ok ? "ok" : "failed"));
        if (!row->ok)
            json_object_set_new(o, "error", json_string(row->error));
        json_object_set_new(o, "config_hash", json_string(row->hash));
        json_object_set_new(o, "wall_s", json_real(row->wall_s));
        for (int k = 0; k < R->n_knobs; k++)
            json_object_set_new(kv, R->knob[k],
                                R->knob_numeric[k] ? number_or_null(row->knob[k]) : json_string(row->knob_text[k]));
        for (int m = 0; m < R->n_metrics; m++)
            json_object_set_new(mv, sweep_metric_name((sweep_metric)R->metric[m]), number_or_null(row->metric[R->metric[m]]));
        json_object_set_new(o, "knobs", kv);
        json_object_set_new(o, "metrics", mv);
        json_object_set_new(o, "pareto", json_boolean(row->pareto));
        json_array_append_new(rows, o);
        if (row->pareto)
            json_array_append_new(json_object_get(front, R->workload[row->workload]), json_integer(row->point));
    }
    for (int i = 0; i < R->n_el; i++) {
        const sweep_elasticity *el = &R->el[i];
        json_array_append_new(sens, json_pack("{s:s, s:s, s:s, s:o, s:o, s:i, s:i}", "workload", el->workload, "metric",
                                              el->metric, "knob", el->knob, "elasticity", number_or_null(el->elasticity),
                                              "r2", number_or_null(el->r2), "rows", el->n, "lines", el->lines));
    }
    json_object_set_new(j, "rows", rows);
    json_object_set_new(j, "pareto", front);
    json_object_set_new(j, "sensitivity", sens);
    return j;
}

static void csv_text(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void write_csv(const sweep_report *R, FILE *out)
{
    fputs("point,workload,status", out);
    for (int k = 0; k < R->n_knobs; k++)
        fprintf(out, ",%s", R->knob[k]);
    for (int m = 0; m < R->n_metrics; m++)
        fprintf(out, ",%s", sweep_metric_name((sweep_metric)R->metric[m]));
    fputs(",pareto,config_hash,wall_s,error\n", out);
    for (int i = 0; i < R->n_rows; i++) {
        const report_row *row = &R->row[i];
        fprintf(out, "%d,", row->point);
        csv_text(out, R->workload[row->workload]);
        fprintf(out, ",%s", row->ok ? "ok" : "failed");
        for (int k = 0; k < R->n_knobs; k++) {
            fputc(',', out);
            if (R->knob_numeric[k] && isfinite(row->knob[k]))
                fprintf(out, "%.17g", row->knob[k]);
            else if (!R->knob_numeric[k])
                csv_text(out, row->knob_text[k]);
        }
        for (int m = 0; m < R->n_metrics; m++) {
            fputc(',', out);
            if (isfinite(row->metric[R->metric[m]]))
                fprintf(out, "%.17g", row->metric[R->metric[m]]);
        }
        fprintf(out, ",%d,%s,%.6f,", row->pareto ? 1 : 0, row->hash, row->wall_s);
        csv_text(out, row->ok ? "" : row->error);
        fputc('\n', out);
    }
}

rt_status sweep_report_write(const sweep_report *R, const sweep_report_options *o, FILE *out, rt_error *e)
{
    if (o->format == SWEEP_REPORT_JSON) {
        json_t *j = report_json(R);
        if (!j || json_dumpf(j, out, JSON_INDENT(2)) != 0) {
            json_decref(j);
            return rt_error_set(e, RT_ERR_IO, "cannot write the JSON report");
        }
        fputc('\n', out);
        json_decref(j);
    } else if (o->format == SWEEP_REPORT_CSV) {
        write_csv(R, out);
    } else {
        write_text(R, out);
    }
    return ferror(out) ? rt_error_set(e, RT_ERR_IO, "cannot write the report: %s", strerror(errno)) : RT_OK;
}
