/* sweep_point.c -- the per-point contract that every backend runs: `m4npu sweep point SPEC
 * --out DIR --index I --count K` runs points I .. I+K-1 of the spec, each on a what-if session of
 * its own configuration, and commits each point's rows in one transaction. A point already
 * complete in the store is skipped, so running a chunk again (a resubmitted Slurm task, a resumed
 * sweep) does no work twice. Progress goes out as lines ("start I", "ok I", "failed I", "skip I")
 * that the local driver reads to draw its bar and to know which point a crashed worker was on. */
#include "sweep.h"

#include <stdlib.h>
#include <string.h>

#include "whatif.h"

static void progress(FILE *f, const char *what, int i)
{
    if (!f)
        return;
    fprintf(f, "%s %d\n", what, i);
    fflush(f);
}

/* Every workload of one point. */
static void run_point(const sweep_spec *s, const sweep_points *p, int i, const m4npu_config *base, m4npu_config *cfg,
                      sweep_result *rows)
{
    rt_error e;
    double t0 = sweep_now_s();
    if (sweep_point_config(s, p, i, base, cfg, &e) != RT_OK) {
        for (int w = 0; w < s->n_workloads; w++) {
            memset(&rows[w], 0, sizeof rows[w]);
            snprintf(rows[w].error, sizeof rows[w].error, "%s", e.msg);
            rows[w].wall_s = sweep_now_s() - t0;
        }
        return;
    }
    whatif *w = whatif_open(cfg, &e);
    if (w) {
        whatif_set_profile(w, false); /* a sweep's metrics are totals: no per-op profile to hold */
        /* Greedy placement: a sweep measures the NPU at each design point, so every node the NPU
         * supports runs there (the cost-aware default of run and whatif would move work to the CPU
         * where this point's NPU is slower, or all of it where the point cannot hold the model,
         * and the point would describe the CPU instead). */
        whatif_set_partition(w, true, PART_LATENCY);
    }
    for (int k = 0; k < s->n_workloads; k++) {
        if (w) {
            sweep_run_workload(w, &s->workloads[k], &s->area, &rows[k]);
        } else {
            memset(&rows[k], 0, sizeof rows[k]);
            snprintf(rows[k].error, sizeof rows[k].error, "%s", e.msg);
        }
    }
    whatif_close(w);
}

rt_status sweep_run_points(const char *spec_path, const char *presets_dir, const char *out_dir, int first, int count,
                           const sweep_point_options *o, rt_error *e)
{
    sweep_spec *s = NULL;
    sweep_points *p = NULL;
    sweep_store *st = NULL;
    m4npu_config *base = malloc(sizeof *base), *cfg = malloc(sizeof *cfg);
    sweep_result *rows = calloc(SWEEP_MAX_WORKLOADS, sizeof *rows);
    rt_status r;
    if (!base || !cfg || !rows) {
        r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep point)");
        goto done;
    }
    if ((r = sweep_spec_load(spec_path, presets_dir, &s, e)) != RT_OK || (r = sweep_spec_base(s, base, e)) != RT_OK ||
        (r = sweep_points_make(s, base, &p, e)) != RT_OK)
        goto done;
    if (first < 0 || first >= p->n) {
        r = rt_error_set(e, RT_ERR_ARG, "--index %d: the sweep has points 0..%d", first, p->n - 1);
        goto done;
    }
    char path[SWEEP_PATH_BYTES];
    if (o->store_path)
        snprintf(path, sizeof path, "%s", o->store_path);
    else
        snprintf(path, sizeof path, "%s/%s", out_dir, SWEEP_STORE_FILE);
    if ((r = sweep_store_open(path, s, p, !o->part, &st, e)) != RT_OK)
        goto done;
    int end = count > p->n - first ? p->n : first + count;
    for (int i = first; i < end; i++) {
        sweep_point_state state;
        if ((r = sweep_store_point_state(st, i, s->n_workloads, &state, e)) != RT_OK)
            goto done;
        if (state == SWEEP_POINT_OK || (state == SWEEP_POINT_FAILED && !o->rerun_failed)) {
            progress(o->progress, "skip", i);
            continue;
        }
        progress(o->progress, "start", i);
        if (o->abort && i == o->abort_at)
            abort();
        run_point(s, p, i, base, cfg, rows);
        char hash[SWEEP_HASH_HEX];
        sweep_config_hash(cfg, hash);
        if ((r = sweep_store_put(st, s, i, cfg, hash, rows, o->version ? o->version : "unknown", e)) != RT_OK)
            goto done;
        bool ok = true;
        for (int w = 0; w < s->n_workloads; w++)
            ok = ok && rows[w].ok;
        progress(o->progress, ok ? "ok" : "failed", i);
    }
done:
    sweep_store_close(st);
    sweep_points_free(p);
    sweep_spec_free(s);
    free(base);
    free(cfg);
    free(rows);
    return r;
}
