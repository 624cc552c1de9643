/* sweep_local.c -- the local backend: a pool of worker processes on this machine, each running
 * one chunk of points through the per-point contract (`m4npu sweep point ... --index I --count
 * K`), writing into the main store (WAL) directly.
 *
 * Workers report "start I" / "ok I" / "failed I" lines on a pipe: the driver counts them for the
 * progress bar and knows which point a worker was on when it died. A worker that crashes (a
 * signal such as SIGSEGV or SIGABRT, a bug in the simulator) gets that point recorded as failed
 * with the signal, so a rerun does not crash on it again; a worker that is killed (SIGKILL,
 * SIGTERM, SIGINT) leaves its unfinished points to run again. Workers die with the driver
 * (PR_SET_PDEATHSIG), so a killed sweep leaves no process behind and a resumed one no duplicate. */
#include "sweep_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define POLL_MS 250
#define LINE_BYTES 128

typedef struct worker {
    pid_t pid;
    int fd;           /* its stdout, or -1 once closed */
    int chunk;
    int current;      /* the point it started and has not finished, or -1 */
    char buf[LINE_BYTES];
    size_t len;
} worker;

typedef struct pool {
    const sweep_options *o;
    sweep_plan *pl;
    const sweep_chunk *chunks;
    worker *w;
    int n_workers;
    int done, failed;
    sweep_progress bar;
    rt_error *e;
    rt_status status; /* the first error of a worker that could not do its job */
} pool;

static void child_exec(const sweep_options *o, const sweep_chunk *c, int out_fd, pid_t parent)
{
    /* die with the driver: a killed sweep leaves no worker behind */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    if (dup2(out_fd, STDOUT_FILENO) < 0)
        _exit(127);
    close(out_fd);
    char first[24], count[24];
    snprintf(first, sizeof first, "%d", c->first);
    snprintf(count, sizeof count, "%d", c->count);
    const char *argv[16];
    int n = 0;
    argv[n++] = o->self_exe;
    argv[n++] = "sweep";
    argv[n++] = "point";
    argv[n++] = o->spec_path;
    argv[n++] = "--out";
    argv[n++] = o->out_dir;
    argv[n++] = "--index";
    argv[n++] = first;
    argv[n++] = "--count";
    argv[n++] = count;
    if (o->rerun_failed)
        argv[n++] = "--rerun-failed";
    argv[n] = NULL;
    execv(o->self_exe, (char *const *)argv);
    fprintf(stderr, "m4npu sweep: cannot run %s: %s\n", o->self_exe, strerror(errno));
    _exit(127);
}

static rt_status spawn(pool *P, worker *w, int chunk)
{
    int fds[2];
    if (pipe(fds) != 0)
        return rt_error_set(P->e, RT_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return rt_error_set(P->e, RT_ERR_IO, "cannot start a worker: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        child_exec(P->o, &P->chunks[chunk], fds[1], parent);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    *w = (worker){.pid = pid, .fd = fds[0], .chunk = chunk, .current = -1};
    return RT_OK;
}

static void on_line(pool *P, worker *w, const char *line)
{
    int i;
    if (sscanf(line, "start %d", &i) == 1) {
        w->current = i;
    } else if (sscanf(line, "ok %d", &i) == 1) {
        w->current = -1;
        P->done++;
    } else if (sscanf(line, "failed %d", &i) == 1) {
        w->current = -1;
        P->done++;
        P->failed++;
    }
    sweep_progress_update(&P->bar, P->done, P->failed);
}

static void read_worker(pool *P, worker *w)
{
    ssize_t got = read(w->fd, w->buf + w->len, sizeof w->buf - 1 - w->len);
    if (got <= 0) {
        if (got < 0 && errno == EINTR)
            return;
        close(w->fd);
        w->fd = -1;
        return;
    }
    w->len += (size_t)got;
    w->buf[w->len] = '\0';
    char *start = w->buf, *nl;
    while ((nl = strchr(start, '\n'))) {
        *nl = '\0';
        on_line(P, w, start);
        start = nl + 1;
    }
    w->len = strlen(start);
    memmove(w->buf, start, w->len + 1);
    if (w->len == sizeof w->buf - 1) /* a line longer than any the contract writes */
        w->len = 0;
}

static bool crash_signal(int sig)
{
    return sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGSYS;
}

/* A worker crashed on point i: record it as failed so that it is not run again blindly. */
static void record_crash(pool *P, int point, int sig)
{
    sweep_spec *s = P->pl->spec;
    sweep_result rows[SWEEP_MAX_WORKLOADS];
    memset(rows, 0, sizeof rows);
    for (int w = 0; w < s->n_workloads; w++)
        snprintf(rows[w].error, sizeof rows[w].error,
                 "the worker process died of signal %d (%s) while running this point", sig, strsignal(sig));
    m4npu_config *cfg = malloc(sizeof *cfg), *base = malloc(sizeof *base);
    rt_error e;
    char hash[SWEEP_HASH_HEX] = "";
    if (cfg && base && sweep_spec_base(s, base, &e) == RT_OK) {
        sweep_point_config(s, P->pl->points, point, base, cfg, &e);
        sweep_config_hash(cfg, hash);
        if (sweep_store_put(P->pl->store, s, point, cfg, hash, rows, P->o->version, &e) == RT_OK) {
            P->done++;
            P->failed++;
        }
    }
    free(cfg);
    free(base);
}

static void reap(pool *P, worker *w)
{
    int status;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    const sweep_chunk *c = &P->chunks[w->chunk];
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (P->bar.on)
            fputc('\n', stderr);
        fprintf(stderr, "m4npu sweep: the worker for points %d..%d died of signal %d (%s)%s\n", c->first,
                c->first + c->count - 1, sig, strsignal(sig),
                w->current >= 0 && crash_signal(sig) ? "; its point is recorded as failed" : "");
        if (w->current >= 0 && crash_signal(sig))
            record_crash(P, w->current, sig);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        if (P->bar.on)
            fputc('\n', stderr);
        fprintf(stderr, "m4npu sweep: the worker for points %d..%d exited with status %d\n", c->first,
                c->first + c->count - 1, WEXITSTATUS(status));
        if (P->status == RT_OK)
            P->status = rt_error_set(P->e, RT_ERR_IO, "a worker failed (exit status %d): see its message above",
                                     WEXITSTATUS(status));
    }
    w->pid = 0;
}

static rt_status run_pool(pool *P, int nchunks)
{
    int next = 0, active = 0;
    struct pollfd fds[P->n_workers];
    while ((next < nchunks && P->status == RT_OK) || active > 0) {
        for (int k = 0; k < P->n_workers && next < nchunks && P->status == RT_OK; k++)
            if (P->w[k].pid == 0) {
                rt_status r = spawn(P, &P->w[k], next++);
                if (r != RT_OK)
                    return r;
                active++;
            }
        int nf = 0, map[P->n_workers];
        for (int k = 0; k < P->n_workers; k++)
            if (P->w[k].pid && P->w[k].fd >= 0) {
                fds[nf] = (struct pollfd){.fd = P->w[k].fd, .events = POLLIN};
                map[nf++] = k;
            }
        if (nf && poll(fds, (nfds_t)nf, POLL_MS) < 0 && errno != EINTR)
            return rt_error_set(P->e, RT_ERR_IO, "poll: %s", strerror(errno));
        for (int f = 0; f < nf; f++)
            if (fds[f].revents & (POLLIN | POLLHUP | POLLERR))
                read_worker(P, &P->w[map[f]]);
        for (int k = 0; k < P->n_workers; k++)
            if (P->w[k].pid && P->w[k].fd < 0) {
                reap(P, &P->w[k]);
                active--;
            }
        sweep_progress_update(&P->bar, P->done, P->failed);
    }
    return RT_OK;
}

rt_status sweep_local(const sweep_options *o, sweep_summary *sum, rt_error *e)
{
    memset(sum, 0, sizeof *sum);
    double t0 = sweep_now_s();
    sweep_plan pl;
    rt_status r = sweep_plan_open(o, &pl, e);
    if (r != RT_OK)
        return r;
    int n = pl.points->n, jobs = o->jobs > 0 ? o->jobs : 1;
    sweep_chunk *chunks = calloc((size_t)n, sizeof *chunks);
    worker *w = calloc((size_t)jobs, sizeof *w);
    if (!chunks || !w) {
        r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep)");
        goto done;
    }
    for (int round = 0; round <= o->retry && r == RT_OK; round++) {
        bool rerun = o->rerun_failed && round == 0;
        int todo = 0;
        for (int i = 0; i < n; i++)
            todo += pl.state[i] == SWEEP_POINT_TODO || (rerun && pl.state[i] == SWEEP_POINT_FAILED);
        if (todo == 0)
            break;
        int per = o->chunk > 0 ? o->chunk : sweep_auto_chunk(todo, jobs);
        int nchunks = sweep_make_chunks(pl.state, n, rerun, per, chunks);
        sweep_options round_opts = *o;
        round_opts.rerun_failed = rerun;
        pool P = {.o = &round_opts, .pl = &pl, .chunks = chunks, .w = w, .n_workers = jobs, .e = e};
        sweep_progress_start(&P.bar, o->progress, todo);
        r = run_pool(&P, nchunks);
        sweep_progress_end(&P.bar);
        if (r == RT_OK)
            r = P.status;
        sum->ran += P.done;
        rt_status rr = sweep_plan_refresh(&pl, e);
        if (r == RT_OK)
            r = rr;
    }
    sweep_plan_summary(&pl, sum);
done:
    sum->wall_s = sweep_now_s() - t0;
    free(chunks);
    free(w);
    sweep_plan_close(&pl);
    return r;
}
