/* fit_csv.c -- the measurements file: CSV as RFC 4180 writes it (quoted fields may hold commas,
 * doubled quotes and line breaks), tokenised by libcsv, fed one line at a time so that every row
 * knows the line it starts on; then each row checked column by column (FILE:LINE: column N
 * (NAME): reason), its value converted to seconds or joules, its workload resolved, and the
 * deterministic train/test split. */
#include "fit.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIT_FILE_MAX_BYTES ((size_t)16 << 20) /* 16 MiB: far above any measurements file */
#define FIT_MAX_FIELDS 64                      /* columns of one row */

/* The columns fit reads, by role. */
enum { COL_CHIP = 0, COL_WORKLOAD, COL_PRECISION, COL_METRIC, COL_VALUE, COL_UNIT, COL_SPLIT, COL_COUNT };
static const char *const col_names[COL_COUNT] = {"chip", "workload", "precision", "metric", "value", "unit", "split"};
static const bool col_required[COL_COUNT] = {true, true, true, true, true, true, false};

static const char *const metric_names[FIT_METRIC_COUNT] = {"latency", "latency_per_token", "energy"};

const char *fit_metric_name(fit_metric m) { return (unsigned)m < FIT_METRIC_COUNT ? metric_names[m] : "?"; }
const char *fit_split_name(fit_split s) { return s == FIT_TEST ? "test" : "train"; }

/* Units per metric kind: a factor to seconds or joules. */
typedef struct unit_scale {
    const char *name;
    double to_si;
    bool energy;
} unit_scale;
static const unit_scale units[] = {
    {"s", 1.0, false}, {"ms", 1e-3, false}, {"us", 1e-6, false}, {"J", 1.0, true}, {"mJ", 1e-3, true},
};

/* The tokeniser's state: fields of the row being read, the rows so far. */
typedef struct raw_row {
    int line;
    int n;
    char *field[FIT_MAX_FIELDS];
} raw_row;

typedef struct reader {
    raw_row cur;
    raw_row *rows;
    int n_rows, cap_rows;
    int line;          /* the line being fed */
    int row_start;     /* the line the row being read started on (0: none yet) */
    bool too_many_fields, too_many_rows, nomem;
    int bad_line;      /* first row with too many fields */
} reader;

static void on_field(void *s, size_t len, void *ctx)
{
    reader *r = ctx;
    if (r->cur.n == FIT_MAX_FIELDS) {
        if (!r->too_many_fields)
            r->bad_line = r->row_start;
        r->too_many_fields = true;
        return;
    }
    char *f = malloc(len + 1);
    if (!f) {
        r->nomem = true;
        return;
    }
    memcpy(f, s ? s : "", len);
    f[len] = '\0';
    r->cur.field[r->cur.n++] = f;
}

static void raw_row_free(raw_row *row)
{
    for (int i = 0; i < row->n; i++)
        free(row->field[i]);
    row->n = 0;
}

static void on_row(int c, void *ctx)
{
    (void)c;
    reader *r = ctx;
    r->cur.line = r->row_start;
    r->row_start = 0;
    if (r->n_rows == FIT_MAX_ROWS + 1) { /* the header and FIT_MAX_ROWS rows */
        r->too_many_rows = true;
        raw_row_free(&r->cur);
        return;
    }
    if (r->n_rows == r->cap_rows) {
        int cap = r->cap_rows ? 2 * r->cap_rows : 32;
        raw_row *rows = realloc(r->rows, (size_t)cap * sizeof *rows);
        if (!rows) {
            r->nomem = true;
            raw_row_free(&r->cur);
            return;
        }
        r->rows = rows;
        r->cap_rows = cap;
    }
    r->rows[r->n_rows++] = r->cur;
    memset(&r->cur, 0, sizeof r->cur);
}

static void reader_free(reader *r)
{
    for (int i = 0; i < r->n_rows; i++)
        raw_row_free(&r->rows[i]);
    raw_row_free(&r->cur);
    free(r->rows);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* Tokenise text into r's rows, one line at a time. */
static rt_status tokenise(const char *text, size_t len, const char *origin, reader *r, rt_error *e)
{
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (CSV parser)");
    size_t pos = 0;
    rt_status st = RT_OK;
    while (pos < len && st == RT_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) + 1 : len - pos;
        r->line++;
        if (r->row_start == 0 && !blank(text + pos, n))
            r->row_start = r->line;
        if (csv_parse(&p, text + pos, n, on_field, on_row, r) != n)
            st = rt_error_set(e, RT_ERR_PARSE, "%s:%d: %s (a quote inside an unquoted field, or text after a "
                              "closing quote)", origin, r->line, csv_strerror(csv_error(&p)));
        pos += n;
    }
    if (st == RT_OK && csv_fini(&p, on_field, on_row, r) != 0)
        st = rt_error_set(e, RT_ERR_PARSE, "%s:%d: a quoted field is not closed before the end of the file", origin,
                          r->row_start ? r->row_start : r->line);
    csv_free(&p);
    if (st == RT_OK && r->nomem)
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (reading %s)", origin);
    if (st == RT_OK && r->too_many_rows)
        st = rt_error_set(e, RT_ERR_LIMIT, "%s: more than %d rows", origin, FIT_MAX_ROWS);
    if (st == RT_OK && r->too_many_fields)
        st = rt_error_set(e, RT_ERR_PARSE, "%s:%d: more than %d columns", origin, r->bad_line, FIT_MAX_FIELDS);
    return st;
}

static rt_status copy_text(char *dst, const char *src, const char *origin, int line, int col, const char *name,
                           rt_error *e)
{
    size_t n = strlen(src);
    if (n == 0)
        return rt_error_set(e, RT_ERR_PARSE, "%s:%d: column %d (%s): empty", origin, line, col + 1, name);
    if (n >= FIT_TEXT_BYTES)
        return rt_error_set(e, RT_ERR_PARSE, "%s:%d: column %d (%s): %zu bytes, longer than %d", origin, line,
                            col + 1, name, n, FIT_TEXT_BYTES - 1);
    memcpy(dst, src, n + 1);
    return RT_OK;
}

/* One data row into *out. cols[k] is the index of column role k (-1 if absent). */
static rt_status parse_row(const raw_row *raw, const int *cols, int n_cols, const char *origin, fit_row *out,
                           rt_error *e)
{
    memset(out, 0, sizeof *out);
    out->line = raw->line;
    if (raw->n != n_cols)
        return rt_error_set(e, RT_ERR_PARSE, "%s:%d: %d columns, the header has %d", origin, raw->line, raw->n,
                            n_cols);
    rt_status st;
    if ((st = copy_text(out->chip, raw->field[cols[COL_CHIP]], origin, raw->line, cols[COL_CHIP], "chip", e)) ||
        (st = copy_text(out->workload, raw->field[cols[COL_WORKLOAD]], origin, raw->line, cols[COL_WORKLOAD],
                        "workload", e)) ||
        (st = copy_text(out->precision, raw->field[cols[COL_PRECISION]], origin, raw->line, cols[COL_PRECISION],
                        "precision", e)))
        return st;
    const char *metric = raw->field[cols[COL_METRIC]];
    int m = -1;
    for (int i = 0; i < FIT_METRIC_COUNT; i++)
        if (strcmp(metric, metric_names[i]) == 0)
            m = i;
    if (m < 0)
        return rt_error_set(e, RT_ERR_PARSE, "%s:%d: column %d (metric): '%s' is not one of latency, "
                            "latency_per_token, energy", origin, raw->line, cols[COL_METRIC] + 1, metric);
    out->metric = (fit_metric)m;
    const char *unit = raw->field[cols[COL_UNIT]];
    const unit_scale *u = NULL;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].name) == 0)
            u = &units[i];
    bool energy = out->metric == FIT_METRIC_ENERGY;
    if (!u || u->energy != energy)
        return rt_error_set(e, RT_ERR_PARSE, "%s:%d: column %d (unit): '%s' is not a unit of %s (%s)", origin,
                            raw->line, cols[COL_UNIT] + 1, unit, metric, energy ? "J, mJ" : "s, ms, us");
    const char *value = raw->field[cols[COL_VALUE]];
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || !blank(end, strlen(end)) || errno == ERANGE || !isfinite(v) || v <= 0)
        return rt_error_set(e, RT_ERR_PARSE, "%s:%d: column %d (value): '%s' is not a positive number", origin,
                            raw->line, cols[COL_VALUE] + 1, value);
    out->measured = v * u->to_si;
    if (cols[COL_SPLIT] >= 0) {
        const char *s = raw->field[cols[COL_SPLIT]];
        if (strcmp(s, "train") == 0)
            out->split = FIT_TRAIN;
        else if (strcmp(s, "test") == 0)
            out->split = FIT_TEST;
        else
            return rt_error_set(e, RT_ERR_PARSE, "%s:%d: column %d (split): '%s' is not train or test", origin,
                                raw->line, cols[COL_SPLIT] + 1, s);
        out->split_given = true;
    }
    if (!(out->wl = fit_workload_find(out->chip, out->workload, out->precision))) {
        char known[RT_ERROR_MSG_BYTES / 2] = "";
        size_t k = 0;
        for (int i = 0; i < fit_workload_count() && k < sizeof known; i++) {
            const fit_workload *w = fit_workload_at(i);
            if (strcasecmp(w->chip, out->chip) == 0)
                k += (size_t)snprintf(known + k, sizeof known - k, "%s'%s' (%s)", k ? ", " : "", w->workload,
                                      w->precision);
        }
        return rt_error_set(e, RT_ERR_PARSE, "%s:%d: column %d (workload): '%s' at precision '%s' on chip '%s' is not "
                            "a workload fit knows (%s%s)", origin, raw->line, cols[COL_WORKLOAD] + 1, out->workload,
                            out->precision, out->chip, known[0] ? "known on that chip: " : "no workload on that chip; "
                            "docs/fit.md lists the chips", known);
    }
    return RT_OK;
}

rt_status fit_rows_parse(const char *text, size_t len, const char *origin, fit_rows *out, rt_error *e)
{
    memset(out, 0, sizeof *out);
    if (!origin || !origin[0])
        origin = "<text>";
    reader r;
    memset(&r, 0, sizeof r);
    rt_status st = tokenise(text, len, origin, &r, e);
    if (st == RT_OK && r.n_rows == 0)
        st = rt_error_set(e, RT_ERR_PARSE, "%s: no header row (an empty file)", origin);
    int cols[COL_COUNT];
    for (int k = 0; k < COL_COUNT; k++)
        cols[k] = -1;
    int n_cols = st == RT_OK ? r.rows[0].n : 0;
    for (int c = 0; c < n_cols && st == RT_OK; c++)
        for (int k = 0; k < COL_COUNT; k++)
            if (strcmp(r.rows[0].field[c], col_names[k]) == 0) {
                if (cols[k] >= 0)
                    st = rt_error_set(e, RT_ERR_PARSE, "%s:%d: column %d (%s): the header names it twice (also "
                                      "column %d)", origin, r.rows[0].line, c + 1, col_names[k], cols[k] + 1);
                cols[k] = c;
            }
    for (int k = 0; k < COL_COUNT && st == RT_OK; k++)
        if (col_required[k] && cols[k] < 0)
            st = rt_error_set(e, RT_ERR_PARSE, "%s:%d: the header has no '%s' column (required: chip, workload, "
                              "precision, metric, value, unit; optional: split)", origin, r.rows[0].line,
                              col_names[k]);
    if (st == RT_OK && r.n_rows > 1 && !(out->row = calloc((size_t)(r.n_rows - 1), sizeof *out->row)))
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (%d rows)", r.n_rows - 1);
    for (int i = 1; i < r.n_rows && st == RT_OK; i++) {
        st = parse_row(&r.rows[i], cols, n_cols, origin, &out->row[out->n], e);
        if (st == RT_OK)
            out->n++;
    }
    out->has_split_column = cols[COL_SPLIT] >= 0;
    reader_free(&r);
    if (st != RT_OK)
        fit_rows_free(out);
    return st;
}

rt_status fit_rows_read(const char *path, fit_rows *out, rt_error *e)
{
    memset(out, 0, sizeof *out);
    uint8_t *buf = NULL;
    size_t len = 0;
    rt_status st = rt_read_file(path, FIT_FILE_MAX_BYTES, "a measurements file", &buf, &len, e);
    if (st != RT_OK)
        return st;
    st = fit_rows_parse((const char *)buf, len, path, out, e);
    free(buf);
    return st;
}

void fit_rows_free(fit_rows *r)
{
    free(r->row);
    memset(r, 0, sizeof *r);
}

void fit_rows_split(fit_rows *r, int (*n_keys)(const char *preset, void *ctx), void *ctx)
{
    for (int i = 0; i < r->n; i++) {
        fit_row *row = &r->row[i];
        if (row->split_given || !row->wl)
            continue;
        /* rows of the same preset after this one, in file order */
        int later = 0;
        for (int j = i + 1; j < r->n; j++)
            later += r->row[j].wl && strcmp(r->row[j].wl->preset, row->wl->preset) == 0;
        row->split = later >= n_keys(row->wl->preset, ctx) ? FIT_TEST : FIT_TRAIN;
    }
}
