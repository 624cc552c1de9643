/* sweep_plot.c -- `m4npu sweep report --plot DIR`: gnuplot PNGs of a sweep, per workload: the
 * Pareto front (latency against energy and against area, the front's points marked), the
 * elasticities of latency and energy to every knob, and for every numeric knob its lines
 * (latency and energy against the knob, one line per combination of the other knobs' values,
 * log-log). The data and the gnuplot script of each plot stay beside it in DIR, so that a plot
 * can be redrawn or restyled by hand. Each PNG appears whole or not at all. */
#include "sweep_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLOT_FILE_BYTES (SWEEP_PATH_BYTES + 64)
#define GNUPLOT_OUTPUT_BYTES 2048
#define MAX_LINE_TITLES 12 /* beyond this many lines a legend is unreadable: none */

/* A name made safe for a file name. */
static void file_name(const char *name, char *buf, size_t size)
{
    size_t o = 0;
    for (const char *p = name; *p && o + 1 < size; p++)
        buf[o++] = (('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') || *p == '-' ||
                    *p == '.')
                       ? *p
                       : '_';
    buf[o] = '\0';
}

static rt_status write_text_file(const char *path, char *text, size_t len, rt_error *e)
{
    rt_error e2;
    rt_status r = rt_write_file(path, text, len, &e2);
    free(text);
    return r == RT_OK ? RT_OK : rt_error_set(e, RT_ERR_IO, "%s", e2.msg);
}

/* Run gnuplot on script, which writes png.tmp; rename it to png. */
static rt_status gnuplot(const char *script, const char *png, rt_error *e)
{
    char tmp[PLOT_FILE_BYTES + 8], out[GNUPLOT_OUTPUT_BYTES];
    snprintf(tmp, sizeof tmp, "%s.tmp", png);
    const char *argv[] = {"gnuplot", script, NULL};
    int rc = sweep_run_capture(argv, out, sizeof out);
    if (rc != 0) {
        unlink(tmp);
        return rt_error_set(e, RT_ERR_IO, "gnuplot %s failed (is gnuplot installed? scripts/setup.sh installs it): %s",
                            script, out[0] ? out : "no output");
    }
    if (rename(tmp, png) != 0) {
        rt_status r = rt_error_set(e, RT_ERR_IO, "%s: cannot write: %s", png, strerror(errno));
        unlink(tmp);
        return r;
    }
    return RT_OK;
}

static void number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.17g", v);
    else
        fputs(" NaN", f);
}

static rt_status plot_pareto(const sweep_report *R, int w, const char *dir, const char *wname, rt_error *e)
{
    char data[PLOT_FILE_BYTES], script[PLOT_FILE_BYTES], png[PLOT_FILE_BYTES];
    snprintf(data, sizeof data, "%s/pareto-%s.dat", dir, wname);
    snprintf(script, sizeof script, "%s/pareto-%s.gp", dir, wname);
    snprintf(png, sizeof png, "%s/pareto-%s.png", dir, wname);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (plot)");
    fprintf(f, "# point latency_s energy_j area_mm2 pareto\n");
    for (int i = 0; i < R->n_rows; i++) {
        const report_row *row = &R->row[i];
        if (row->workload != w || !row->ok)
            continue;
        fprintf(f, "%d", row->point);
        number(f, row->metric[SWEEP_M_LATENCY_S]);
        number(f, row->metric[SWEEP_M_ENERGY_J]);
        number(f, row->metric[SWEEP_M_AREA_MM2]);
        fprintf(f, " %d\n", row->pareto ? 1 : 0);
    }
    fclose(f);
    rt_status r = write_text_file(data, text, len, e);
    if (r != RT_OK)
        return r;
    text = NULL;
    len = 0;
    if (!(f = open_memstream(&text, &len)))
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (plot)");
    fprintf(f,
            "set terminal pngcairo size 1400,600 noenhanced font ',10'\n"
            "set output '%s.tmp'\n"
            "set multiplot layout 1,2 title '%s: the Pareto front over latency, energy and area (m4npu sweep report)'\n"
            "set logscale xy\nset grid\nset key top right\n"
            "set xlabel 'latency (s)'\n"
            "set ylabel 'energy (J)'\n"
            "plot '%s' using 2:($5 == 0 ? $3 : 1/0) with points pt 7 ps 0.6 lc rgb '#a0a0a0' title 'dominated', "
            "'' using 2:($5 == 1 ? $3 : 1/0) with points pt 7 ps 1.2 lc rgb '#d62728' title 'Pareto front'\n"
            "set ylabel 'area (mm2)'\n"
            "plot '%s' using 2:($5 == 0 ? $4 : 1/0) with points pt 7 ps 0.6 lc rgb '#a0a0a0' title 'dominated', "
            "'' using 2:($5 == 1 ? $4 : 1/0) with points pt 7 ps 1.2 lc rgb '#d62728' title 'Pareto front'\n"
            "unset multiplot\n",
            png, R->workload[w], data, data);
    fclose(f);
    if ((r = write_text_file(script, text, len, e)) != RT_OK)
        return r;
    return gnuplot(script, png, e);
}

static const sweep_elasticity *find_el(const sweep_report *R, int w, const char *metric, const char *knob)
{
    for (int i = 0; i < R->n_el; i++)
        if (strcmp(R->el[i].workload, R->workload[w]) == 0 && strcmp(R->el[i].metric, metric) == 0 &&
            strcmp(R->el[i].knob, knob) == 0)
            return &R->el[i];
    return NULL;
}

static rt_status plot_sensitivity(const sweep_report *R, int w, const char *dir, const char *wname, rt_error *e)
{
    char data[PLOT_FILE_BYTES], script[PLOT_FILE_BYTES], png[PLOT_FILE_BYTES];
    snprintf(data, sizeof data, "%s/sensitivity-%s.dat", dir, wname);
    snprintf(script, sizeof script, "%s/sensitivity-%s.gp", dir, wname);
    snprintf(png, sizeof png, "%s/sensitivity-%s.png", dir, wname);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (plot)");
    fprintf(f, "# knob elasticity(latency_s) elasticity(energy_j)\n");
    int n = 0;
    for (int k = 0; k < R->n_knobs; k++) {
        if (!R->knob_numeric[k])
            continue;
        const sweep_elasticity *lat = find_el(R, w, "latency_s", R->knob[k]), *en = find_el(R, w, "energy_j", R->knob[k]);
        fprintf(f, "\"%s\"", R->knob[k]);
        number(f, lat ? lat->elasticity : NAN);
        number(f, en ? en->elasticity : NAN);
        fputc('\n', f);
        n++;
    }
    fclose(f);
    if (n == 0) {
        free(text);
        return RT_OK;
    }
    rt_status r = write_text_file(data, text, len, e);
    if (r != RT_OK)
        return r;
    text = NULL;
    len = 0;
    if (!(f = open_memstream(&text, &len)))
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (plot)");
    fprintf(f,
            "set terminal pngcairo size %d,600 noenhanced font ',10'\n"
            "set output '%s.tmp'\n"
            "set title '%s: elasticity d log(metric) / d log(knob) (m4npu sweep report)'\n"
            "set style data histograms\nset style histogram clustered gap 1\n"
            "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
            "set xtics rotate by -30 scale 0\nset grid ytics\nset key outside top center horizontal\n"
            "set xzeroaxis lt -1\nset ylabel 'elasticity'\n"
            "plot '%s' using 2:xtic(1) title 'latency_s', '' using 3 title 'energy_j'\n",
            n < 4 ? 800 : 200 * n, png, R->workload[w], data);
    fclose(f);
    if ((r = write_text_file(script, text, len, e)) != RT_OK)
        return r;
    return gnuplot(script, png, e);
}

typedef struct line_item {
    int row;
    int group;
    double x;
} line_item;

static int cmp_line(const void *a, const void *b)
{
    const line_item *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return (x->x > y->x) - (x->x < y->x);
}

/* Latency and energy against knob k, one line per combination of the other knobs. */
static rt_status plot_knob(const sweep_report *R, int w, int k, const char *dir, const char *wname, rt_error *e)
{
    line_item *items = malloc((size_t)(R->n_rows + 1) * sizeof *items);
    char (*keys)[GROUP_KEY_BYTES] = malloc((size_t)(R->n_rows + 1) * GROUP_KEY_BYTES);
    if (!items || !keys) {
        free(items);
        free(keys);
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (plot)");
    }
    int n = 0, ngroups = 0;
    for (int i = 0; i < R->n_rows; i++) {
        const report_row *row = &R->row[i];
        if (row->workload != w || !row->ok || !isfinite(row->knob[k]))
            continue;
        char key[GROUP_KEY_BYTES];
        sweep_report_group_key(R, row, k, key, sizeof key);
        int g = 0;
        while (g < ngroups && strcmp(keys[g], key) != 0)
            g++;
        if (g == ngroups)
            snprintf(keys[ngroups++], GROUP_KEY_BYTES, "%s", key);
        items[n++] = (line_item){i, g, row->knob[k]};
    }
    qsort(items, (size_t)n, sizeof *items, cmp_line);
    char kname[M4NPU_CONFIG_KEY_LEN], data[PLOT_FILE_BYTES], script[PLOT_FILE_BYTES], png[PLOT_FILE_BYTES];
    file_name(R->knob[k], kname, sizeof kname);
    snprintf(data, sizeof data, "%s/knob-%s-%s.dat", dir, kname, wname);
    snprintf(script, sizeof script, "%s/knob-%s-%s.gp", dir, kname, wname);
    snprintf(png, sizeof png, "%s/knob-%s-%s.png", dir, kname, wname);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rt_status r = RT_OK;
    if (!f) {
        r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (plot)");
        goto done;
    }
    /* one gnuplot data block per line (blocks are separated by two blank lines) */
    fprintf(f, "# %s latency_s energy_j point; one block per combination of the other knobs\n", R->knob[k]);
    for (int i = 0; i < n; i++) {
        if (i > 0 && items[i].group != items[i - 1].group)
            fputs("\n\n", f);
        const report_row *row = &R->row[items[i].row];
        number(f, items[i].x);
        number(f, row->metric[SWEEP_M_LATENCY_S]);
        number(f, row->metric[SWEEP_M_ENERGY_J]);
        fprintf(f, " %d\n", row->point);
    }
    fclose(f);
    if ((r = write_text_file(data, text, len, e)) != RT_OK)
        goto done;
    text = NULL;
    len = 0;
    if (!(f = open_memstream(&text, &len))) {
        r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (plot)");
        goto done;
    }
    fprintf(f,
            "set terminal pngcairo size 1400,600 noenhanced font ',10'\n"
            "set output '%s.tmp'\n"
            "set multiplot layout 1,2 title '%s: latency and energy against %s, one line per combination of the other "
            "knobs (m4npu sweep report)'\n"
            "set logscale xy\nset grid\nset key outside bottom center horizontal\n"
            "set xlabel '%s'\n",
            png, R->workload[w], R->knob[k], R->knob[k]);
    const char *what[] = {"latency (s)", "energy (J)"};
    for (int panel = 0; panel < 2; panel++) {
        fprintf(f, "set ylabel '%s'\nplot", what[panel]);
        int b = 0;
        for (int i = 0; i < n; i++) {
            if (i > 0 && items[i].group == items[i - 1].group)
                continue;
            /* the line's title: the other knobs' values */
            char title[GROUP_KEY_BYTES];
            size_t o = 0;
            const report_row *row = &R->row[items[i].row];
            title[0] = '\0';
            for (int j = 0; j < R->n_knobs && o < sizeof title; j++)
                if (j != k)
                    o += (size_t)snprintf(title + o, sizeof title - o, "%s%s=%s", o ? " " : "", R->knob[j],
                                          row->knob_text[j]);
            for (char *c = title; *c; c++)
                if (*c == '\'')
                    *c = '"';
            fprintf(f, "%s '%s' index %d using 1:%d with linespoints pt 7", b ? "," : "", data, b, panel + 2);
            if (ngroups <= MAX_LINE_TITLES && title[0])
                fprintf(f, " title '%s'", title);
            else
                fputs(" notitle", f);
            b++;
        }
        fputc('\n', f);
    }
    fputs("unset multiplot\n", f);
    fclose(f);
    if ((r = write_text_file(script, text, len, e)) == RT_OK)
        r = gnuplot(script, png, e);
done:
    free(items);
    free(keys);
    return r;
}

rt_status sweep_report_plot(const sweep_report *R, const char *dir, rt_error *e)
{
    rt_status r = sweep_mkdir(dir, e);
    for (int w = 0; w < R->n_workloads && r == RT_OK; w++) {
        int ok = 0;
        for (int i = 0; i < R->n_rows; i++)
            ok += R->row[i].workload == w && R->row[i].ok;
        if (!ok)
            continue;
        char wname[SWEEP_NAME_BYTES];
        file_name(R->workload[w], wname, sizeof wname);
        if ((r = plot_pareto(R, w, dir, wname, e)) != RT_OK || (r = plot_sensitivity(R, w, dir, wname, e)) != RT_OK)
            break;
        for (int k = 0; k < R->n_knobs && r == RT_OK; k++)
            if (R->knob_numeric[k])
                r = plot_knob(R, w, k, dir, wname, e);
    }
    return r;
}
