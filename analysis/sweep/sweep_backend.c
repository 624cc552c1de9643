/* sweep_backend.c -- what the local pool and the Slurm backend share: opening a sweep (spec,
 * points, store, the state of every point), cutting the points still to run into chunks, and the
 * progress bar with its ETA. */
#include "sweep_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_REDRAW_S 0.1  /* redraw the bar at most this often */
#define PROGRESS_BAR_WIDTH 30
#define SECONDS_PER_MINUTE 60.0
#define SECONDS_PER_HOUR 3600.0

double sweep_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int sweep_run_capture(const char *const *argv, char *out, size_t cap)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    char sink[4096];
    while ((got = read(fds[0], n + 1 < cap ? out + n : sink, n + 1 < cap ? cap - 1 - n : sizeof sink)) != 0) {
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (n + 1 < cap)
            n += (size_t)got;
    }
    out[n] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

rt_status sweep_mkdir(const char *path, rt_error *e)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return RT_OK;
        return rt_error_set(e, RT_ERR_IO, "%s: exists and is not a directory", path);
    }
    return rt_error_set(e, RT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
}

rt_status sweep_plan_open(const sweep_options *o, sweep_plan *pl, rt_error *e)
{
    memset(pl, 0, sizeof *pl);
    m4npu_config *base = malloc(sizeof *base);
    if (!base)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep)");
    rt_status r;
    if ((r = sweep_spec_load(o->spec_path, o->presets_dir, &pl->spec, e)) != RT_OK ||
        (r = sweep_spec_base(pl->spec, base, e)) != RT_OK ||
        (r = sweep_points_make(pl->spec, base, &pl->points, e)) != RT_OK)
        goto fail;
    if (pl->points->n == 0) {
        r = rt_error_set(e, RT_ERR_ARG, "%s: the constraints drop every one of the %d candidates: nothing to run",
                         o->spec_path, pl->points->n_candidates);
        goto fail;
    }
    if ((r = sweep_mkdir(o->out_dir, e)) != RT_OK)
        goto fail;
    snprintf(pl->store_path, sizeof pl->store_path, "%s/%s", o->out_dir, SWEEP_STORE_FILE);
    if ((r = sweep_store_open(pl->store_path, pl->spec, pl->points, true, &pl->store, e)) != RT_OK)
        goto fail;
    if (!(pl->state = calloc((size_t)pl->points->n, 1))) {
        r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep)");
        goto fail;
    }
    if ((r = sweep_plan_refresh(pl, e)) != RT_OK)
        goto fail;
    free(base);
    return RT_OK;
fail:
    free(base);
    sweep_plan_close(pl);
    return r;
}

rt_status sweep_plan_refresh(sweep_plan *pl, rt_error *e)
{
    return sweep_store_states(pl->store, pl->points->n, pl->state, e);
}

void sweep_plan_summary(const sweep_plan *pl, sweep_summary *sum)
{
    sum->points = pl->points->n;
    sum->ok = sum->failed = sum->missing = 0;
    for (int i = 0; i < pl->points->n; i++) {
        if (pl->state[i] == SWEEP_POINT_OK)
            sum->ok++;
        else if (pl->state[i] == SWEEP_POINT_FAILED)
            sum->failed++;
        else
            sum->missing++;
    }
}

void sweep_plan_close(sweep_plan *pl)
{
    sweep_store_close(pl->store);
    sweep_points_free(pl->points);
    sweep_spec_free(pl->spec);
    free(pl->state);
    memset(pl, 0, sizeof *pl);
}

int sweep_auto_chunk(int todo, int jobs)
{
    int per = (todo + jobs * SWEEP_AUTO_CHUNKS_PER_JOB - 1) / (jobs * SWEEP_AUTO_CHUNKS_PER_JOB);
    return per < 1 ? 1 : per > SWEEP_AUTO_CHUNK_MAX ? SWEEP_AUTO_CHUNK_MAX : per;
}

int sweep_make_chunks(const unsigned char *state, int n, bool rerun_failed, int per_chunk, sweep_chunk *chunks)
{
    int nchunks = 0;
    sweep_chunk *cur = NULL;
    for (int i = 0; i < n; i++) {
        bool todo = state[i] == SWEEP_POINT_TODO || (rerun_failed && state[i] == SWEEP_POINT_FAILED);
        if (!todo)
            continue;
        if (!cur || cur->todo == per_chunk) {
            cur = &chunks[nchunks++];
            cur->first = i;
            cur->todo = 0;
        }
        cur->count = i - cur->first + 1;
        cur->todo++;
    }
    return nchunks;
}

/* ---- the progress bar */

void sweep_progress_start(sweep_progress *p, bool enabled, int total)
{
    memset(p, 0, sizeof *p);
    p->on = enabled && isatty(STDERR_FILENO);
    p->total = total;
    p->t0 = sweep_now_s();
}

static void format_duration(double s, char *buf, size_t size)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, size, "?");
    else if (s < SECONDS_PER_MINUTE)
        snprintf(buf, size, "%.0fs", s);
    else if (s < SECONDS_PER_HOUR)
        snprintf(buf, size, "%dm%02ds", (int)(s / SECONDS_PER_MINUTE), (int)fmod(s, SECONDS_PER_MINUTE));
    else
        snprintf(buf, size, "%dh%02dm", (int)(s / SECONDS_PER_HOUR), (int)fmod(s / SECONDS_PER_MINUTE, SECONDS_PER_MINUTE));
}

void sweep_progress_update(sweep_progress *p, int done, int failed)
{
    p->done = done;
    p->failed = failed;
    if (!p->on)
        return;
    double now = sweep_now_s();
    if (now - p->last_draw < PROGRESS_REDRAW_S && done < p->total)
        return;
    p->last_draw = now;
    double spent = now - p->t0, frac = p->total ? (double)done / p->total : 1.0;
    char bar[PROGRESS_BAR_WIDTH + 1];
    int fill = (int)(frac * PROGRESS_BAR_WIDTH);
    for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[PROGRESS_BAR_WIDTH] = '\0';
    char elapsed[32], eta[32];
    format_duration(spent, elapsed, sizeof elapsed);
    format_duration(done ? spent / done * (p->total - done) : NAN, eta, sizeof eta);
    fprintf(stderr, "\r\033[K[%s] %d/%d points (%.0f%%)", bar, done, p->total, 100.0 * frac);
    if (failed)
        fprintf(stderr, ", %d failed", failed);
    fprintf(stderr, ", %s elapsed, ETA %s", elapsed, eta);
    fflush(stderr);
}

void sweep_progress_end(sweep_progress *p)
{
    if (p->on) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}
