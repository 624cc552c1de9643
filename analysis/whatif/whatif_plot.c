/* whatif_plot.c -- the what-if report's pictures, drawn by gnuplot: the per-task latency and
 * energy breakdowns, and the roofline of module runs (every layer's arithmetic intensity against
 * its achieved throughput under the configuration's compute and bandwidth roofs). The data the
 * pictures show is also in the JSON (whatif_roofline_json), which is what tests check. */
#include "whatif_report_internal.h"

#include <string.h>
#include <unistd.h>

#include "run_layers.h"

/* Bars keep the width they have among this many tasks, so that one task's bar is a bar, not the
 * whole panel. */
#define WHATIF_PLOT_MIN_SLOTS 10
#define WHATIF_PATH_BYTES 256

static rt_status check_path(const char *png, rt_error *e)
{
    if (strchr(png, '\'') || strchr(png, '\n'))
        return rt_error_set(e, RT_ERR_ARG, "%s: a quote or a newline in the path cannot be passed to gnuplot", png);
    return RT_OK;
}

static void remove_plot_files(const char *data, const char *script, const char *dir)
{
    remove(data);
    remove(script);
    rmdir(dir);
}

/* ---- the breakdowns */

void whatif_plot_script(FILE *f, const whatif_view *v, int n_tasks, const char *data, const char *png)
{
    char label[WHATIF_LABEL_BYTES];
    int slots = n_tasks > WHATIF_PLOT_MIN_SLOTS ? n_tasks : WHATIF_PLOT_MIN_SLOTS;
    /* Four panels: each task's total latency and energy on log scales (they span 10 ms to 100 s),
     * and what each is made of as stacked shares (gnuplot stacks only on a linear scale). */
    fprintf(f,
            "set terminal pngcairo size 1800,1200 noenhanced font ',9'\n"
            "set output '%s'\n"
            "set multiplot layout 4,1 title 'M4 on %s: per-task latency and energy and their breakdowns (m4npu whatif)'\n"
            "set style fill solid 0.85 border -1\nset boxwidth 0.8\nset xtics rotate by -60 scale 0\n"
            "set xrange [-0.5:%d.5]\n"
            "set grid ytics\nset key outside right top\n"
            "LAT = '($2+$3+$4+$5)'\nEN = '($6+$7+$8+$9+$10+$11+$12+$13)'\n"
            "set logscale y\nset ylabel 'latency (s)'\n"
            "plot '%s' using 0:(@LAT):xtic(1) with boxes title 'latency'\n"
            "set ylabel 'energy (J)'\n"
            "plot '%s' using 0:(@EN):xtic(1) with boxes title 'energy'\n"
            "unset logscale y\nset yrange [0:100]\n"
            "set style data histograms\nset style histogram rowstacked\n"
            "set ylabel 'latency share (%%)'\n"
            "plot '%s' using (100*$2/@LAT):xtic(1) title 'NPU', '' using (100*$3/@LAT) title 'CPU', "
            "'' using (100*$4/@LAT) title 'transfers', '' using (100*$5/@LAT) title 'submissions'\n"
            "set ylabel 'energy share (%%)'\n"
            "plot '%s' using (100*$6/@EN):xtic(1) title 'MACs', '' using (100*$7/@EN) title 'vector', "
            "'' using (100*$8/@EN) title 'SRAM', '' using (100*$9/@EN) title 'DRAM', '' using (100*$10/@EN) title 'control', "
            "'' using (100*$11/@EN) title 'static', '' using (100*$12/@EN) title 'CPU', '' using (100*$13/@EN) title 'transfers'\n"
            "unset multiplot\n",
            png, whatif_config_label(v, label, sizeof label), slots - 1, data, data, data, data);
}

rt_status whatif_write_plot(const whatif_view *v, const whatif_task_result *tasks, int n, const char *png,
                            rt_error *e)
{
    char dir[64], data[WHATIF_PATH_BYTES], script[WHATIF_PATH_BYTES];
    rt_status st = check_path(png, e);
    if (st != RT_OK || (st = whatif_plot_dir(dir, sizeof dir, e)) != RT_OK)
        return st;
    snprintf(data, sizeof data, "%s/tasks.dat", dir);
    snprintf(script, sizeof script, "%s/plot.gp", dir);
    FILE *f = fopen(data, "w");
    if (!f) {
        rmdir(dir);
        return rt_error_set(e, RT_ERR_IO, "%s: cannot create", data);
    }
    fprintf(f, "# task npu cpu transfer submit macs vector sram dram control static cpu transfer\n");
    int plotted = 0;
    for (int i = 0; i < n; i++) {
        const whatif_task_result *t = &tasks[i];
        const energy_breakdown *en = &t->energy;
        if (t->failed)
            continue; /* no numbers to plot; the table and JSON say why */
        fprintf(f, "T%d %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", t->task->id, t->npu_s, t->cpu_s,
                t->transfer_s, t->submit_s, en->macs_j, en->vector_j, en->sram_j, en->dram_j, en->control_j,
                en->static_j, en->cpu_j, en->transfer_j);
        plotted++;
    }
    fclose(f);
    if (!(f = fopen(script, "w"))) {
        remove_plot_files(data, script, dir);
        return rt_error_set(e, RT_ERR_IO, "%s: cannot create", script);
    }
    whatif_plot_script(f, v, plotted, data, png);
    fclose(f);
    st = whatif_gnuplot(script, e);
    remove_plot_files(data, script, dir);
    return st;
}

/* ---- the roofline */

rt_status whatif_write_roofline(const whatif_view *v, whatif *w, const whatif_module_run *const *runs, int n,
                                const char *png, rt_error *e)
{
    char dir[64], data[WHATIF_PATH_BYTES], script[WHATIF_PATH_BYTES], label[WHATIF_LABEL_BYTES];
    rt_status st = check_path(png, e);
    json_t *roof = st == RT_OK ? whatif_roofline_json(v, w, runs, n, e) : NULL;
    if (!roof)
        return st != RT_OK ? st : e->code;
    if ((st = whatif_plot_dir(dir, sizeof dir, e)) != RT_OK) {
        json_decref(roof);
        return st;
    }
    snprintf(data, sizeof data, "%s/roofline.dat", dir);
    snprintf(script, sizeof script, "%s/roofline.gp", dir);
    FILE *f = fopen(data, "w");
    if (!f) {
        json_decref(roof);
        rmdir(dir);
        return rt_error_set(e, RT_ERR_IO, "%s: cannot create", data);
    }
    /* one block per module (two blank lines apart: gnuplot's index) of intensity, GOP/s */
    json_t *mods = json_object_get(roof, "modules"), *mod;
    size_t k, i;
    double lo = 1e30, hi = 0.0;
    json_array_foreach(mods, k, mod)
    {
        json_t *pt;
        fprintf(f, "# %s\n", json_string_value(json_object_get(mod, "module")));
        json_array_foreach(json_object_get(mod, "points"), i, pt)
        {
            double ai = json_real_value(json_object_get(pt, "intensity"));
            fprintf(f, "%.9g %.9g\n", ai, json_real_value(json_object_get(pt, "gops")));
            lo = ai < lo ? ai : lo;
            hi = ai > hi ? ai : hi;
        }
        fprintf(f, "%s", k + 1 < json_array_size(mods) ? "\n\n" : "");
    }
    fclose(f);
    double compute = json_real_value(json_object_get(roof, "compute_gops"));
    double bw = json_real_value(json_object_get(roof, "bandwidth_gb_s"));
    double ridge = json_real_value(json_object_get(roof, "ridge_ops_per_byte"));
    if (hi <= 0.0) { /* no layer with MACs and DRAM traffic: draw the roofs alone around the ridge */
        lo = ridge;
        hi = ridge;
    }
    lo = (lo < ridge ? lo : ridge) / 4.0;
    hi = (hi > ridge ? hi : ridge) * 4.0;
    if (!(f = fopen(script, "w"))) {
        json_decref(roof);
        remove_plot_files(data, script, dir);
        return rt_error_set(e, RT_ERR_IO, "%s: cannot create", script);
    }
    fprintf(f,
            "set terminal pngcairo size 1200,800 noenhanced font ',10'\n"
            "set output '%s'\n"
            "set title 'roofline on %s: every NPU layer (op descriptor with MACs and DRAM traffic)'\n"
            "set logscale xy\nset grid\nset key outside right top\n"
            "set xlabel 'arithmetic intensity (operations per DRAM byte)'\n"
            "set ylabel 'achieved throughput (GOP/s)'\n"
            "set xrange [%.9g:%.9g]\n"
            "C = %.9g\nB = %.9g\n"
            "roof(x) = x * B < C ? x * B : C\n"
            "set label 1 sprintf('compute roof %%.0f GOP/s', C) at graph 0.02, first C * 1.15\n"
            "set label 2 sprintf('bandwidth roof %%.1f GB/s (sustained)', B) at first %.9g, first %.9g * B rotate by 30\n"
            "plot roof(x) with lines lw 2 lc rgb 'black' title 'roofs'",
            png, whatif_config_label(v, label, sizeof label), lo, hi, compute, bw, lo * 1.5, lo * 1.5 * 1.2);
    json_array_foreach(mods, k, mod)
        if (json_array_size(json_object_get(mod, "points")) > 0)
            fprintf(f, ", '%s' index %zu using 1:2 with points pt %zu ps 1.2 title '%s'", data, k, 5 + 2 * k,
                    json_string_value(json_object_get(mod, "module")));
    fprintf(f, "\n");
    fclose(f);
    json_decref(roof);
    st = whatif_gnuplot(script, e);
    remove_plot_files(data, script, dir);
    return st;
}
