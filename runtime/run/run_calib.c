/* run_calib.c -- activation calibration as NPU toolchains do it: the FP32 reference runs over a
 * calibration set, and every floating-point activation gets a clipping range (its per-tensor
 * scale is range / qmax) by one of three methods (docs/run.md, "Calibration"):
 *
 *   max         range = the largest |x| seen over the set;
 *   percentile  range = the p-th percentile of |x| over every element of every sample (default
 *               p = 99.99): the outliers above it are clipped;
 *   mse         range = argmin_c E[(Q_c(x) - x)^2], estimated from the histogram of |x|: values
 *               below c cost the rounding noise (c / qmax)^2 / 12 each, values above it their
 *               clipping error (|x| - c)^2.
 *
 * Percentile and MSE need the distribution: a first pass over the set finds each tensor's largest
 * |x|, a second fills a histogram of RUN_CALIB_BINS bins over [0, max] (so a tensor's bins are
 * the same for every sample). The set is either the run's own inputs (the default: one sample,
 * its reference values reused), a directory of .npy files, or generated samples.
 *
 * A calibration directory holds one subdirectory per sample, each with INPUT.npy for every graph
 * input (INPUT: the input's name with characters outside [A-Za-z0-9._-] replaced by '_'); for a
 * model with a single input, the .npy files directly in the directory may be the samples
 * instead. Samples are taken in the byte order of their names. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "npy.h"
#include "run_internal.h"

#define CALIB_MIN_SCALE 1e-12f /* a tensor of zeros still gets a valid (positive) scale */
#define CALIB_INT8_QMAX 127.0  /* rt_quant holds range / 127 whatever the device format */
#define CALIB_PATH_BYTES 4096
#define PERCENT 100.0
#define RUN_CALIB_SEED_STRIDE 1 /* generated sample i uses seed + 1 + i */

typedef struct calib_set {
    const rt_graph *g;
    const run_options *o;
    const run_result *r;
    rt_tensor *const *run_ref; /* the run's own reference (the default set of one sample) */
    char **samples;            /* directory: sample paths (subdirectories, or files) */
    int n_samples;
    bool files;                /* samples are .npy files of the one input */
    int count;
} calib_set;

typedef struct calib_stats {
    int n_tensors;
    bool *want;     /* calibrated tensors */
    bool *seen;     /* of which with a value in some sample */
    double *absmax; /* per tensor */
    uint64_t *hist; /* per tensor RUN_CALIB_BINS counts (percentile, mse) */
} calib_stats;

static bool calibrated(const rt_graph *g, int t)
{
    const rt_tensor *x = g->tensors[t];
    return x->kind != RT_TENSOR_CONSTANT && rt_dtype_is_float(x->dtype);
}

/* ---- the set */

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void free_names(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The samples of a calibration directory, sorted: its subdirectories, or (one-input models)
 * its .npy files. */
static rt_status list_dir(calib_set *cs, const char *dir, rt_error *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return rt_error_set(e, RT_ERR_IO, "--calib %s: cannot open the directory: %s", dir, strerror(errno));
    char **dirs = NULL, **files = NULL;
    int nd = 0, nf = 0, cap_d = 0, cap_f = 0;
    rt_status st = RT_OK;
    struct dirent *ent;
    while (st == RT_OK && (ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        char path[CALIB_PATH_BYTES];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, ent->d_name) >= sizeof path) {
            st = rt_error_set(e, RT_ERR_LIMIT, "--calib %s: the path of '%s' is too long", dir, ent->d_name);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        bool is_dir = S_ISDIR(sb.st_mode);
        if (!is_dir && !(S_ISREG(sb.st_mode) && ends_with(ent->d_name, ".npy")))
            continue;
        if ((is_dir ? nd : nf) >= RUN_CALIB_MAX_SAMPLES) {
            st = rt_error_set(e, RT_ERR_LIMIT, "--calib %s: more than %d samples", dir, RUN_CALIB_MAX_SAMPLES);
            break;
        }
        char ***v = is_dir ? &dirs : &files;
        int *n = is_dir ? &nd : &nf, *cap = is_dir ? &cap_d : &cap_f;
        if (*n == *cap) {
            int nc = *cap ? *cap * 2 : 16;
            char **grown = realloc(*v, (size_t)nc * sizeof *grown);
            if (!grown) {
                st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (calibration set)");
                break;
            }
            *v = grown;
            *cap = nc;
        }
        if (!((*v)[*n] = strdup(path))) {
            st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (calibration set)");
            break;
        }
        (*n)++;
    }
    closedir(d);
    int n_inputs = 0;
    for (int k = 0; k < cs->g->n_inputs; k++)
        n_inputs += cs->g->tensors[cs->g->inputs[k]]->kind == RT_TENSOR_INPUT;
    if (st == RT_OK && nd && nf)
        st = rt_error_set(e, RT_ERR_UNSUPPORTED, "--calib %s: both sample subdirectories and .npy files: give one kind "
                          "(DIR/SAMPLE/INPUT.npy, or DIR/SAMPLE.npy for a one-input model)", dir);
    else if (st == RT_OK && nf && n_inputs != 1)
        st = rt_error_set(e, RT_ERR_UNSUPPORTED, "--calib %s: .npy files directly in the directory are samples only for a "
                          "model with one input; this one has %d (use DIR/SAMPLE/INPUT.npy)", dir, n_inputs);
    else if (st == RT_OK && !nd && !nf)
        st = rt_error_set(e, RT_ERR_NOT_FOUND, "--calib %s: no samples (expected DIR/SAMPLE/INPUT.npy, or DIR/SAMPLE.npy "
                          "for a model with one input)", dir);
    if (st != RT_OK) {
        free_names(dirs, nd);
        free_names(files, nf);
        return st;
    }
    cs->files = nf > 0;
    cs->samples = cs->files ? files : dirs;
    cs->n_samples = cs->files ? nf : nd;
    free_names(cs->files ? dirs : files, cs->files ? nd : nf);
    qsort(cs->samples, (size_t)cs->n_samples, sizeof *cs->samples, name_cmp);
    return RT_OK;
}

/* Bind sample k's inputs into vals (owned set) and run the reference into ref. */
static rt_status sample_reference(const calib_set *cs, int k, rt_tensor **vals, bool *owned, rt_tensor **ref,
                                  rt_error *e)
{
    const rt_graph *g = cs->g;
    run_result tmp;
    memset(&tmp, 0, sizeof tmp);
    run_options so = *cs->o;
    so.inputs = NULL;
    so.n_inputs = 0;
    run_input *ins = NULL;
    rt_tensor **loaded = NULL;
    int n_loaded = 0;
    rt_status st = RT_OK;
    if (cs->samples) {
        ins = calloc((size_t)g->n_inputs + 1, sizeof *ins);
        loaded = calloc((size_t)g->n_inputs + 1, sizeof *loaded);
        if (!ins || !loaded)
            st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (calibration sample)");
        for (int i = 0; st == RT_OK && i < g->n_inputs; i++) {
            const rt_tensor *decl = g->tensors[g->inputs[i]];
            if (decl->kind != RT_TENSOR_INPUT)
                continue;
            char path[CALIB_PATH_BYTES], stem[256];
            run_file_stem(decl->name, stem, sizeof stem);
            if (cs->files)
                snprintf(path, sizeof path, "%s", cs->samples[k]);
            else if ((size_t)snprintf(path, sizeof path, "%s/%s.npy", cs->samples[k], stem) >= sizeof path)
                st = rt_error_set(e, RT_ERR_LIMIT, "calibration sample %s: the path is too long", cs->samples[k]);
            if (st == RT_OK && (st = npy_read_file(path, decl->name, &loaded[n_loaded], e)) != RT_OK)
                rt_error_prefix(e, "calibration sample %s, input '%s'", cs->samples[k], decl->name);
            if (st == RT_OK) {
                ins[n_loaded] = (run_input){decl->name, loaded[n_loaded]};
                n_loaded++;
            }
        }
        so.inputs = ins;
        so.n_inputs = n_loaded;
    }
    tmp.seed = cs->r->seed + RUN_CALIB_SEED_STRIDE + (uint64_t)k;
    if (st == RT_OK && (st = run_bind_inputs(g, &so, &tmp, vals, owned, e)) != RT_OK && cs->samples)
        rt_error_prefix(e, "calibration sample %s", cs->samples[k]);
    if (st == RT_OK && (st = run_reference_values(g, vals, ref, e)) != RT_OK)
        rt_error_prefix(e, "calibration sample %d", k);
    for (int i = 0; i < n_loaded; i++)
        rt_tensor_free(loaded[i]);
    free(loaded);
    free(ins);
    for (int i = 0; i < tmp.n_generated; i++)
        free(tmp.generated[i]);
    free(tmp.generated);
    return st;
}

/* Call add(stats, values) for every sample's reference values. */
static rt_status for_each_sample(const calib_set *cs, calib_stats *s,
                                 void (*add)(calib_stats *s, const rt_graph *g, rt_tensor *const *v), rt_error *e)
{
    if (cs->count == 0) {
        add(s, cs->g, cs->run_ref);
        return RT_OK;
    }
    size_t nt = (size_t)cs->g->n_tensors + 1;
    rt_tensor **vals = calloc(nt, sizeof *vals), **ref = calloc(nt, sizeof *ref);
    bool *owned = calloc(nt, sizeof *owned);
    rt_status st = vals && ref && owned ? RT_OK : rt_error_set(e, RT_ERR_NOMEM, "out of memory (calibration)");
    for (int k = 0; k < cs->count && st == RT_OK; k++) {
        st = sample_reference(cs, k, vals, owned, ref, e);
        if (st == RT_OK)
            add(s, cs->g, ref);
        for (size_t t = 0; t < nt; t++) {
            if (owned[t])
                rt_tensor_free(vals[t]);
            rt_tensor_free(ref[t]);
            vals[t] = ref[t] = NULL;
            owned[t] = false;
        }
    }
    free(vals);
    free(ref);
    free(owned);
    return st;
}

/* ---- statistics */

static void add_max(calib_stats *s, const rt_graph *g, rt_tensor *const *v)
{
    (void)g;
    for (int t = 0; t < s->n_tensors; t++) {
        if (!s->want[t] || !v[t] || !v[t]->data)
            continue;
        s->seen[t] = true;
        for (int64_t i = 0, n = rt_tensor_numel(v[t]); i < n; i++) {
            double a = fabs(rt_tensor_get_f64(v[t], i));
            if (a > s->absmax[t] && isfinite(a))
                s->absmax[t] = a;
        }
    }
}

static void add_hist(calib_stats *s, const rt_graph *g, rt_tensor *const *v)
{
    (void)g;
    for (int t = 0; t < s->n_tensors; t++) {
        if (!s->want[t] || !v[t] || !v[t]->data || !(s->absmax[t] > 0))
            continue;
        uint64_t *h = s->hist + (size_t)t * RUN_CALIB_BINS;
        double per_bin = RUN_CALIB_BINS / s->absmax[t];
        for (int64_t i = 0, n = rt_tensor_numel(v[t]); i < n; i++) {
            double a = fabs(rt_tensor_get_f64(v[t], i));
            if (!isfinite(a))
                continue;
            double b = a * per_bin;
            h[b >= RUN_CALIB_BINS ? RUN_CALIB_BINS - 1 : (int)b]++;
        }
    }
}

/* The upper edge of the bin where the cumulative count first reaches p percent. */
static double percentile_range(const uint64_t *h, double absmax, double p)
{
    uint64_t total = 0;
    for (int b = 0; b < RUN_CALIB_BINS; b++)
        total += h[b];
    double need = (double)total * p / PERCENT;
    uint64_t cum = 0;
    for (int b = 0; b < RUN_CALIB_BINS; b++) {
        cum += h[b];
        if ((double)cum >= need)
            return absmax * (b + 1) / RUN_CALIB_BINS;
    }
    return absmax;
}

/* The bin edge c minimising sum_b n_b e(x_b, c), x_b the bin's centre: e = (c / qmax)^2 / 12 for
 * x_b <= c (rounding), (x_b - c)^2 above (clipping). Suffix sums make it one pass per tensor. */
static double mse_range(const uint64_t *h, double absmax, double qmax)
{
    double w = absmax / RUN_CALIB_BINS, n_gt = 0, s1_gt = 0, s2_gt = 0, n_le = 0;
    for (int b = 0; b < RUN_CALIB_BINS; b++)
        n_le += (double)h[b];
    double best = absmax, best_err = INFINITY;
    /* candidates from the top down: c = edge i + 1; bins above i are clipped */
    for (int i = RUN_CALIB_BINS - 1; i >= 0; i--) {
        double c = w * (i + 1), step = c / qmax;
        double err = n_le * step * step / 12.0 + s2_gt - 2.0 * c * s1_gt + c * c * n_gt;
        if (err < best_err) {
            best_err = err;
            best = c;
        }
        double x = w * (i + 0.5), n = (double)h[i];
        n_le -= n;
        n_gt += n;
        s1_gt += n * x;
        s2_gt += n * x * x;
    }
    return best;
}

/* ---- the pipeline step */

const char *run_calib_method_name(run_calib_method m)
{
    return m == RUN_CALIB_PERCENTILE ? "percentile" : m == RUN_CALIB_MSE ? "mse" : "max";
}

rt_status run_calibrate(rt_graph *g, const run_options *o, rt_tensor *const *ref, run_result *r, rt_error *e)
{
    run_calib_info *info = &r->calib;
    memset(info, 0, sizeof *info);
    info->method = o->calib.method;
    info->percentile = o->calib.percentile > 0 ? o->calib.percentile : RUN_CALIB_DEFAULT_PERCENTILE;
    info->source = o->calib.dir ? "directory" : o->calib.generated > 0 ? "generated" : "run input";
    if (o->calib.method == RUN_CALIB_PERCENTILE && !(info->percentile > 0 && info->percentile <= PERCENT))
        return rt_error_set(e, RT_ERR_ARG, "calibration percentile %g: expected (0, 100]", info->percentile);
    if (o->calib.generated < 0 || o->calib.generated > RUN_CALIB_MAX_SAMPLES)
        return rt_error_set(e, RT_ERR_ARG, "calibration: %d generated samples (expected 1..%d)", o->calib.generated,
                            RUN_CALIB_MAX_SAMPLES);
    double qmax = npu_act_format_qmax(o->activations);
    if (qmax <= 0)
        return RT_OK; /* f16 activations carry no scale */
    calib_set cs = {.g = g, .o = o, .r = r, .run_ref = ref};
    rt_status st = RT_OK;
    if (o->calib.dir) {
        if ((st = list_dir(&cs, o->calib.dir, e)) != RT_OK)
            return st;
        cs.count = cs.n_samples;
    } else {
        cs.count = o->calib.generated;
    }
    info->samples = cs.count ? cs.count : 1;
    calib_stats s = {.n_tensors = g->n_tensors};
    s.want = calloc((size_t)g->n_tensors + 1, sizeof *s.want);
    s.absmax = calloc((size_t)g->n_tensors + 1, sizeof *s.absmax);
    s.seen = calloc((size_t)g->n_tensors + 1, sizeof *s.seen);
    if (!s.want || !s.absmax || !s.seen)
        st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (calibration)");
    for (int t = 0; st == RT_OK && t < g->n_tensors; t++)
        s.want[t] = calibrated(g, t);
    if (st == RT_OK)
        st = for_each_sample(&cs, &s, add_max, e);
    if (st == RT_OK && o->calib.method != RUN_CALIB_MAX) {
        if (!(s.hist = calloc((size_t)g->n_tensors * RUN_CALIB_BINS + 1, sizeof *s.hist)))
            st = rt_error_set(e, RT_ERR_NOMEM, "out of memory (calibration histograms)");
        else
            st = for_each_sample(&cs, &s, add_hist, e);
    }
    for (int t = 0; st == RT_OK && t < g->n_tensors; t++) {
        if (!s.want[t] || !s.seen[t])
            continue;
        double range = s.absmax[t];
        if (range > 0 && o->calib.method == RUN_CALIB_PERCENTILE)
            range = percentile_range(s.hist + (size_t)t * RUN_CALIB_BINS, s.absmax[t], info->percentile);
        else if (range > 0 && o->calib.method == RUN_CALIB_MSE)
            range = mse_range(s.hist + (size_t)t * RUN_CALIB_BINS, s.absmax[t], qmax);
        float scale = range > 0 ? (float)(range / CALIB_INT8_QMAX) : CALIB_MIN_SCALE;
        int32_t zero = 0;
        st = graph_set_quant(g, t, -1, 1, &scale, &zero, e);
        info->tensors++;
        info->clipped += range < s.absmax[t];
    }
    free(s.want);
    free(s.seen);
    free(s.absmax);
    free(s.hist);
    free_names(cs.samples, cs.n_samples);
    return st;
}
