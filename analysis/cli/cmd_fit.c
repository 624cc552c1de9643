/* m4npu fit: calibrate the presets to measured latencies and energies (analysis/fit,
 * docs/fit.md). Reads the measurements, groups the rows by the preset their chip maps to, fits
 * each preset's keys on its train rows, prints every row measured, simulated before and after the
 * fit, and its error, train and test apart, and writes each calibrated preset as a configuration
 * that `whatif --config` loads. */
#include "cli.h"
#include "cli_common.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fit.h"

#ifndef M4NPU_CONFIG_DIR
#define M4NPU_CONFIG_DIR "configs"
#endif

#define FIT_TOLERANCE_DEFAULT_PCT 25.0 /* done-when of issue 15: every row within +-25% */
#define FIT_MAX_GROUPS 32              /* presets in one run */
#define FIT_SUFFIX "-fit"              /* a calibrated preset's name: <preset>-fit */

static const char usage[] =
    "usage: m4npu fit --measurements FILE.csv [--keys LIST] [--presets DIR] [--tolerance PCT]\n"
    "                 [--out DIR] [--set KEY=VALUE ...] [--json]\n"
    "\n"
    "Fit configuration keys that stand for something real (a clock, an efficiency, an overhead, a\n"
    "power) to measured latencies and energies, preset by preset, by nonlinear least squares (GSL\n"
    "multifit_nlinear) on the rows marked train; the rows marked test are only predicted. Each row's\n"
    "chip names its preset (configs/<preset>.yaml) and its workload the module runs that stand for it\n"
    "(docs/fit.md lists both). Prints the fitted values with their 1-sigma uncertainty and every row:\n"
    "measured, simulated on the preset (before), on the fitted configuration (after), and its error.\n"
    "\n"
    "  -m, --measurements FILE  the CSV: chip, workload, precision, metric, value, unit (required\n"
    "                           columns), split (optional: train | test; without it the rule of\n"
    "                           docs/fit.md: per preset, its last K rows train, K its key count)\n"
    "  -k, --keys LIST          the keys to fit, comma-separated: KEY fits it on every preset,\n"
    "                           PRESET:KEY on that one; a preset no entry applies to keeps its default\n"
    "                           keys (docs/fit.md). Keys fit may change and their ranges: docs/fit.md\n"
    "  -p, --presets DIR        where configs/<preset>.yaml are (default: the source tree's configs/)\n"
    "  -t, --tolerance PCT      a row whose error is beyond +-PCT% fails the check (default 25)\n"
    "  -o, --out DIR            write each fitted preset as DIR/<preset>-fit.yaml (made if missing;\n"
    "                           written also when a row is outside the tolerance)\n"
    "  -s, --set KEY=VALUE      override a key of every preset before the fit\n"
    "  -j, --json               print one JSON object instead of the tables\n"
    "  -h, --help               this help\n"
    "\n"
    "Exit: 0 every row within the tolerance, 1 a row outside it or bad input (a bad row names\n"
    "FILE:LINE: column N (NAME)), 2 usage, 3 a file could not be read or written.\n";

typedef struct key_choice {
    char preset[64]; /* "" for every preset */
    const fit_key *key;
} key_choice;

static int parse_keys(const char *list, key_choice *out, int max, int *n)
{
    *n = 0;
    const char *s = list;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[160];
        if (len == 0 || len >= sizeof item) {
            fprintf(stderr, "m4npu fit: --keys: an empty or overlong entry in '%s'\n", list);
            return CLI_USAGE;
        }
        memcpy(item, s, len);
        item[len] = '\0';
        if (*n == max) {
            fprintf(stderr, "m4npu fit: --keys: more than %d entries\n", max);
            return CLI_USAGE;
        }
        key_choice *k = &out[(*n)++];
        const char *colon = strchr(item, ':'), *key = item;
        k->preset[0] = '\0';
        if (colon) {
            size_t pl = (size_t)(colon - item);
            if (pl == 0 || pl >= sizeof k->preset) {
                fprintf(stderr, "m4npu fit: --keys: '%s': PRESET:KEY with an empty or overlong preset\n", item);
                return CLI_USAGE;
            }
            memcpy(k->preset, item, pl);
            k->preset[pl] = '\0';
            key = colon + 1;
        }
        if (!(k->key = fit_key_find(key))) {
            fprintf(stderr, "m4npu fit: --keys: '%s' is not a key fit may change; those are:", key);
            for (int i = 0; i < fit_key_count(); i++)
                fprintf(stderr, "%s %s", i ? "," : "", fit_key_at(i)->key);
            fprintf(stderr, " (docs/fit.md says why each and its range)\n");
            return CLI_USAGE;
        }
        s += len;
        if (*s == ',')
            s++;
    }
    return CLI_OK;
}

typedef struct fit_run {
    key_choice choices[FIT_MAX_KEYS * 4];
    int n_choices;
    bool keys_given;
} fit_run;

/* The keys of one preset: the --keys entries that name it or no preset, or its defaults. */
static int preset_keys(const fit_run *run, const char *preset, const fit_key **keys, int max)
{
    int n = 0;
    bool named = false;
    for (int i = 0; i < run->n_choices; i++)
        named = named || strcmp(run->choices[i].preset, preset) == 0;
    bool global = false;
    for (int i = 0; i < run->n_choices; i++)
        global = global || !run->choices[i].preset[0];
    if (!named && !global)
        return fit_default_keys(preset, keys, max);
    for (int i = 0; i < run->n_choices && n < max; i++) {
        const key_choice *c = &run->choices[i];
        if (c->preset[0] && strcmp(c->preset, preset) != 0)
            continue;
        bool dup = false;
        for (int j = 0; j < n; j++)
            dup = dup || keys[j] == c->key;
        if (!dup)
            keys[n++] = c->key;
    }
    return n;
}

static int split_keys(const char *preset, void *ctx)
{
    const fit_key *keys[FIT_MAX_KEYS];
    return preset_keys(ctx, preset, keys, FIT_MAX_KEYS);
}

/* "88.4 ms", "1.49 s", "0.300 J" */
static const char *quantity(double v, fit_metric m, char *buf, size_t size)
{
    if (m == FIT_METRIC_ENERGY)
        snprintf(buf, size, v < 0.1 ? "%.2f mJ" : "%.3f J", v < 0.1 ? v * 1e3 : v);
    else if (v < 1e-3)
        snprintf(buf, size, "%.1f us", v * 1e6);
    else if (v < 1.0)
        snprintf(buf, size, "%.2f ms", v * 1e3);
    else
        snprintf(buf, size, "%.3f s", v);
    return buf;
}

static double error_pct(const fit_row *r) { return (r->after / r->measured - 1.0) * 100.0; }

static void print_keys(const fit_group *g)
{
    if (!g->fitted_any) {
        printf("preset %s: nothing fitted (%s)\n\n", g->preset,
               g->n_keys == 0 ? "no keys" : "no train row");
        return;
    }
    printf("preset %s: %d key%s on %d train row%s, %d iterations, %d simulations, %.1f s\n", g->preset, g->n_keys,
           g->n_keys == 1 ? "" : "s", g->n_train, g->n_train == 1 ? "" : "s", g->iterations, g->evaluations,
           g->host_s);
    printf("  %-28s %12s %12s %12s  %s\n", "key", "preset", "fitted", "+- 1 sigma", "physical range");
    for (int j = 0; j < g->n_keys; j++) {
        const fit_key *k = g->keys[j];
        char sigma[32];
        if (!g->determined[j])
            snprintf(sigma, sizeof sigma, "undetermined");
        else if (g->at_bound[j])
            snprintf(sigma, sizeof sigma, "-"); /* the range, not the rows, holds it there */
        else if (g->sigma[j] > k->hi - k->lo)
            snprintf(sigma, sizeof sigma, "> range"); /* the rows hardly depend on it */
        else
            snprintf(sigma, sizeof sigma, "%.4g", g->sigma[j]);
        printf("  %-28s %12.4g %12.4g %12s  %g..%g%s\n", k->key, g->value_before[j], g->value_after[j], sigma, k->lo,
               k->hi, g->at_bound[j] ? "  (at the end of its range: the rows ask for more)" : "");
    }
    printf("  sum of squared log errors over the train rows: %.4g before, %.4g after\n\n", g->chi2_before,
           g->chi2_after);
}

static void print_rows(const fit_rows *r, double tol)
{
    printf("%5s %-6s %-17s %-34s %-18s %10s %10s %10s %8s\n", "line", "split", "preset", "workload", "metric",
           "measured", "before", "after", "error");
    for (int pass = 0; pass < 2; pass++) {
        fit_split want = pass == 0 ? FIT_TRAIN : FIT_TEST;
        for (int i = 0; i < r->n; i++) {
            const fit_row *row = &r->row[i];
            if (row->split != want)
                continue;
            char m[24], b[24], a[24];
            double err = error_pct(row);
            printf("%5d %-6s %-17s %-34.34s %-18s %10s %10s %10s %+7.1f%%%s\n", row->line, fit_split_name(row->split),
                   row->wl->preset, row->workload, fit_metric_name(row->metric), quantity(row->measured, row->metric,
                   m, sizeof m), quantity(row->before, row->metric, b, sizeof b), quantity(row->after, row->metric, a,
                   sizeof a), err, fabs(err) > tol ? "  OUTSIDE" : "");
        }
        if (pass == 0)
            printf("%5s\n", "");
    }
}

static json_t *rows_json(const fit_rows *r, double tol)
{
    json_t *a = json_array();
    for (int i = 0; a && i < r->n; i++) {
        const fit_row *row = &r->row[i];
        json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:b}", "line",
                                           row->line, "split", fit_split_name(row->split), "preset", row->wl->preset,
                                           "chip", row->chip, "workload", row->workload, "precision", row->precision,
                                           "metric", fit_metric_name(row->metric), "measured", row->measured,
                                           "before", row->before, "after", row->after, "error_pct", error_pct(row),
                                           "within", fabs(error_pct(row)) <= tol));
    }
    return a;
}

static json_t *groups_json(const fit_group *g, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        json_t *keys = json_array();
        for (int j = 0; keys && j < g[i].n_keys; j++)
            json_array_append_new(keys, json_pack("{s:s, s:f, s:f, s:o, s:f, s:f, s:b}", "key", g[i].keys[j]->key,
                                                  "preset", g[i].value_before[j], "fitted", g[i].value_after[j],
                                                  "sigma", g[i].determined[j] && !g[i].at_bound[j] ? json_real(g[i].sigma[j]) : json_null(),
                                                  "lo", g[i].keys[j]->lo, "hi", g[i].keys[j]->hi, "at_bound",
                                                  g[i].at_bound[j]));
        json_array_append_new(a, json_pack("{s:s, s:b, s:o, s:i, s:i, s:i, s:i, s:f, s:f, s:f}", "preset",
                                           g[i].preset, "fitted", g[i].fitted_any, "keys", keys ? keys : json_null(),
                                           "rows", g[i].n_rows, "train_rows", g[i].n_train, "iterations",
                                           g[i].iterations, "simulations", g[i].evaluations, "host_s", g[i].host_s,
                                           "chi2_before", g[i].chi2_before, "chi2_after", g[i].chi2_after));
    }
    return a;
}

/* The calibrated preset as YAML: a header saying what was fitted on what, then the configuration. */
static int write_fitted(const fit_group *g, const char *measurements, char **data, size_t *size)
{
    FILE *f = open_memstream(data, size);
    if (!f)
        return -1;
    fprintf(f, "# %s%s.yaml -- written by `m4npu fit` from %s: configs/%s.yaml with these keys fitted\n"
               "# on %d train row%s (docs/fit.md); every other value, and its source, is the preset's.\n",
            g->preset, FIT_SUFFIX, measurements, g->preset, g->n_train, g->n_train == 1 ? "" : "s");
    for (int j = 0; j < g->n_keys; j++)
        fprintf(f, "#   %s: %.6g (preset %.6g, +- %.3g at 1 sigma, range %g..%g)\n", g->keys[j]->key,
                g->value_after[j], g->value_before[j], g->sigma[j], g->keys[j]->lo, g->keys[j]->hi);
    m4npu_config cfg = g->fitted;
    snprintf(cfg.npu.name, sizeof cfg.npu.name, "%.*s%s", (int)(sizeof cfg.npu.name - sizeof FIT_SUFFIX),
             g->base.npu.name, FIT_SUFFIX);
    int bad = m4npu_config_write_yaml(&cfg, f) != 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

static int write_outputs(const fit_group *g, int n, const char *dir, const char *measurements)
{
    rt_outputs *o = cli_outputs_new();
    if (!o)
        return CLI_IO;
    rt_error e = {0};
    int rc = cli_outputs_protect(o, measurements);
    if (rc == CLI_OK && rt_outputs_mkdir(o, dir, &e) != RT_OK)
        rc = cli_file_error(e.code, e.msg);
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        if (!g[i].fitted_any)
            continue;
        char path[4096], *data = NULL;
        size_t size = 0;
        int len = snprintf(path, sizeof path, "%s/%s%s.yaml", dir, g[i].preset, FIT_SUFFIX);
        if (len < 0 || (size_t)len >= sizeof path) {
            fprintf(stderr, "m4npu fit: --out: the path '%s/...' is too long\n", dir);
            rc = CLI_USAGE;
        } else if (write_fitted(&g[i], measurements, &data, &size) != 0) {
            fprintf(stderr, "m4npu fit: out of memory writing %s\n", path);
            rc = CLI_IO;
        } else {
            rc = cli_outputs_add_data(o, path, data, size);
        }
        free(data);
    }
    if (rc == CLI_OK)
        rc = cli_outputs_commit(o);
    else
        cli_outputs_free(o);
    return rc;
}

static int parse_tolerance(const char *s, double *tol)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > 1000) {
        fprintf(stderr, "m4npu fit: --tolerance: '%s' is not a percentage in (0, 1000]\n", s);
        return CLI_USAGE;
    }
    *tol = v;
    return CLI_OK;
}

/* Load every preset the rows name, with the --set overrides, and its keys. */
static int make_groups(const fit_run *run, const cli_common *common, const char *dir, fit_rows *rows, fit_group *g,
                       int *n_groups)
{
    *n_groups = 0;
    for (int i = 0; i < rows->n; i++) {
        const char *preset = rows->row[i].wl->preset;
        int k = 0;
        while (k < *n_groups && strcmp(g[k].preset, preset) != 0)
            k++;
        if (k == *n_groups) {
            if (k == FIT_MAX_GROUPS) {
                fprintf(stderr, "m4npu fit: rows on more than %d presets\n", FIT_MAX_GROUPS);
                return CLI_FAIL;
            }
            memset(&g[k], 0, sizeof g[k]);
            snprintf(g[k].preset, sizeof g[k].preset, "%s", preset);
            char path[4096];
            int len = snprintf(path, sizeof path, "%s/%s.yaml", dir, preset);
            if (len < 0 || (size_t)len >= sizeof path) {
                fprintf(stderr, "m4npu fit: --presets: the path '%s' is too long\n", dir);
                return CLI_USAGE;
            }
            int rc = cli_common_load(common, path, &g[k].base);
            if (rc != CLI_OK)
                return rc;
            g[k].n_keys = preset_keys(run, preset, g[k].keys, FIT_MAX_KEYS);
            if (!(g[k].rows = calloc((size_t)rows->n, sizeof *g[k].rows))) {
                fprintf(stderr, "m4npu fit: out of memory\n");
                return CLI_FAIL;
            }
            (*n_groups)++;
        }
        g[k].rows[g[k].n_rows++] = i;
    }
    return CLI_OK;
}

int cmd_fit(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, usage))
        return CLI_OK;
    static const struct option opts[] = {
        {"measurements", required_argument, NULL, 'm'},
        {"keys", required_argument, NULL, 'k'},
        {"presets", required_argument, NULL, 'p'},
        {"tolerance", required_argument, NULL, 't'},
        {"out", required_argument, NULL, 'o'},
        CLI_OPTION_SET,
        CLI_OPTION_JSON,
        {NULL, 0, NULL, 0},
    };
    cli_common common;
    cli_common_init(&common, "fit");
    static fit_run run; /* large-ish; one per process */
    memset(&run, 0, sizeof run);
    const char *measurements = NULL, *dir = M4NPU_CONFIG_DIR, *out = NULL;
    double tol = FIT_TOLERANCE_DEFAULT_PCT;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:k:p:t:o:s:j", opts, NULL)) != -1) {
        int shared = cli_common_parse(&common, c, optarg);
        if (shared < 0)
            return CLI_USAGE;
        if (shared > 0)
            continue;
        switch (c) {
        case 'm': measurements = optarg; break;
        case 'k':
            if ((rc = parse_keys(optarg, run.choices, (int)(sizeof run.choices / sizeof run.choices[0]),
                                 &run.n_choices)) != CLI_OK)
                return rc;
            run.keys_given = true;
            break;
        case 'p': dir = optarg; break;
        case 't':
            if ((rc = parse_tolerance(optarg, &tol)) != CLI_OK)
                return rc;
            break;
        case 'o': out = optarg; break;
        default: fputs(usage, stderr); return CLI_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "m4npu fit: unexpected argument '%s'\n%s", argv[optind], usage);
        return CLI_USAGE;
    }
    if (!measurements) {
        fprintf(stderr, "m4npu fit: --measurements FILE is required\n%s", usage);
        return CLI_USAGE;
    }
    if (cli_common_check(&common) != 0)
        return CLI_USAGE;
    fit_rows rows;
    rt_error e = {0};
    rt_status st = fit_rows_read(measurements, &rows, &e);
    if (st != RT_OK) {
        /* a file that cannot be read is exit 3; a file read and found bad, 1 */
        fprintf(stderr, "m4npu fit: %s\n", e.msg);
        return st == RT_ERR_IO ? CLI_IO : CLI_FAIL;
    }
    if (rows.n == 0) {
        fprintf(stderr, "m4npu fit: %s: no measurement rows\n", measurements);
        fit_rows_free(&rows);
        return CLI_FAIL;
    }
    fit_rows_split(&rows, split_keys, &run);
    static fit_group groups[FIT_MAX_GROUPS];
    int n_groups = 0;
    rc = make_groups(&run, &common, dir, &rows, groups, &n_groups);
    for (int i = 0; i < n_groups && rc == CLI_OK; i++) {
        if (!common.json)
            fprintf(stderr, "m4npu fit: fitting %s (%d rows) ...\n", groups[i].preset, groups[i].n_rows);
        if ((st = fit_group_run(&groups[i], &rows, &e)) != RT_OK) {
            fprintf(stderr, "m4npu fit: %s\n", e.msg);
            rc = CLI_FAIL;
        }
    }
    int outside = 0, n_test = 0;
    for (int i = 0; i < rows.n; i++) {
        outside += fabs(error_pct(&rows.row[i])) > tol;
        n_test += rows.row[i].split == FIT_TEST;
    }
    if (rc == CLI_OK && common.json) {
        json_t *root = json_pack("{s:s, s:f, s:s, s:o, s:o, s:i}", "measurements", measurements, "tolerance_pct", tol,
                                 "split", rows.has_split_column ? "column" : "rule", "presets",
                                 groups_json(groups, n_groups), "rows", rows_json(&rows, tol), "outside", outside);
        if (!root || json_dumpf(root, stdout, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "m4npu fit: cannot print JSON\n");
            rc = CLI_FAIL;
        }
        json_decref(root);
        printf("\n");
    } else if (rc == CLI_OK) {
        printf("m4npu fit: %s, %d rows (%d train, %d test; split: %s)\n\n", measurements, rows.n, rows.n - n_test,
               n_test, rows.has_split_column ? "the file's split column" : "per preset, its last K rows train, K its "
               "key count (docs/fit.md)");
        for (int i = 0; i < n_groups; i++)
            print_keys(&groups[i]);
        print_rows(&rows, tol);
        printf("\nerror = after / measured - 1; %d of %d rows outside +-%g%%\n", outside, rows.n, tol);
    }
    if (rc == CLI_OK && out)
        rc = write_outputs(groups, n_groups, out, measurements);
    if (rc == CLI_OK && outside)
        rc = CLI_FAIL;
    for (int i = 0; i < n_groups; i++)
        free(groups[i].rows);
    fit_rows_free(&rows);
    return rc;
}
