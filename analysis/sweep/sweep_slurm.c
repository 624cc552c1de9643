/* sweep_slurm.c -- the Slurm backend: the points still to run, cut into chunks of K, become one
 * sbatch job array (`--array=0-C%N`: N array tasks at a time); each array task runs its chunk
 * through the same per-point contract as a local worker (`m4npu sweep point ... --index I --count
 * K`), into a part file of its own (DIR/parts/rR-tT.sqlite, a rollback journal: SQLite's WAL
 * needs shared memory on one host, which a cluster's shared file system does not give). The
 * driver waits with squeue (no accounting database is needed), merges each finished task's part
 * into DIR/results.sqlite in one transaction and deletes it, and reads the tasks' final states
 * with scontrol. Chunks whose points are still missing (a task killed, timed out, or on a node
 * that failed) are resubmitted with --retry N, up to N more rounds.
 *
 * A driver killed mid-sweep leaves the array running: the next run finds the job in
 * DIR/slurm/active, waits for it and merges what it wrote instead of submitting it again. */
#include "sweep_internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#define OUTPUT_BYTES (256u * 1024u)   /* squeue / scontrol output we read */
#define DEFAULT_POLL_S 2.0
#define SQUEUE_ATTEMPTS 10             /* squeue may fail while the controller is busy */
#define MAX_SBATCH_ARGS 64

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static bool quotable(const char *s)
{
    return !strchr(s, '\'') && !strchr(s, '\n');
}

typedef struct slurm_run {
    const sweep_options *o;
    sweep_plan *pl;
    char dir[SWEEP_PATH_BYTES + 16];   /* DIR/slurm */
    char parts[SWEEP_PATH_BYTES + 16]; /* DIR/parts */
    char out_abs[SWEEP_PATH_BYTES];
    sweep_progress bar;
    int ran;
    rt_error *e;
} slurm_run;

static void part_path(const slurm_run *S, int round, int task, char *buf, size_t size)
{
    snprintf(buf, size, "%s/r%d-t%d.sqlite", S->parts, round, task);
}

static int count_done(const sweep_plan *pl, int *failed)
{
    int done = 0;
    *failed = 0;
    for (int i = 0; i < pl->points->n; i++) {
        done += pl->state[i] != SWEEP_POINT_TODO;
        *failed += pl->state[i] == SWEEP_POINT_FAILED;
    }
    return done;
}

/* Merge one part file into the store and delete it. A part that is not there is no error (its
 * task died before writing anything, or it was merged already); one that cannot be merged (a
 * task that died while creating it, a file that is not a part) is set aside as PATH.bad with a
 * warning, and its points run again in the next round. */
static rt_status merge_part(slurm_run *S, const char *path)
{
    if (access(path, F_OK) != 0)
        return RT_OK;
    rt_error me;
    if (sweep_store_merge(S->pl->store, path, &me) != RT_OK) {
        char bad[2 * SWEEP_PATH_BYTES + 8];
        snprintf(bad, sizeof bad, "%s.bad", path);
        if (S->bar.on)
            fputc('\n', stderr);
        fprintf(stderr, "m4npu sweep: cannot merge %s (%s); set aside as %s\n", path, me.msg, bad);
        if (rename(path, bad) != 0)
            return rt_error_set(S->e, RT_ERR_IO, "%s: cannot set aside: %s", path, strerror(errno));
        return RT_OK;
    }
    char journal[2 * SWEEP_PATH_BYTES];
    snprintf(journal, sizeof journal, "%s-journal", path);
    unlink(journal);
    if (unlink(path) != 0)
        return rt_error_set(S->e, RT_ERR_IO, "%s: cannot delete after merging: %s", path, strerror(errno));
    return RT_OK;
}

/* Every part file left in DIR/parts (by a run of the driver that was killed). */
static rt_status merge_leftovers(slurm_run *S)
{
    DIR *d = opendir(S->parts);
    if (!d)
        return RT_OK;
    struct dirent *de;
    rt_status r = RT_OK;
    char path[2 * SWEEP_PATH_BYTES];
    while (r == RT_OK && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 8 || strcmp(de->d_name + len - 7, ".sqlite") != 0) /* PATH.bad and journals stay */
            continue;
        snprintf(path, sizeof path, "%s/%s", S->parts, de->d_name);
        r = merge_part(S, path);
    }
    closedir(d);
    return r;
}

static rt_status write_job(slurm_run *S, int round, const sweep_chunk *chunks, int nchunks, char *script,
                           size_t script_size)
{
    char chunks_path[2 * SWEEP_PATH_BYTES];
    snprintf(chunks_path, sizeof chunks_path, "%s/round-%d.chunks", S->dir, round);
    snprintf(script, script_size, "%s/round-%d.sh", S->dir, round);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return rt_error_set(S->e, RT_ERR_NOMEM, "out of memory (sbatch script)");
    for (int c = 0; c < nchunks; c++)
        fprintf(f, "%d %d\n", chunks[c].first, chunks[c].count);
    fclose(f);
    rt_error e2;
    rt_status r = rt_write_file(chunks_path, text, len, &e2);
    free(text);
    if (r != RT_OK)
        return rt_error_set(S->e, RT_ERR_IO, "%s", e2.msg);
    const sweep_options *o = S->o;
    int throttle = o->jobs > 0 ? o->jobs : 1;
    text = NULL;
    len = 0;
    if (!(f = open_memstream(&text, &len)))
        return rt_error_set(S->e, RT_ERR_NOMEM, "out of memory (sbatch script)");
    fprintf(f,
            "#!/bin/sh\n"
            "# m4npu sweep, round %d: %d chunks of the points of %s still to run (written by the driver)\n"
            "#SBATCH --job-name=m4npu-sweep\n"
            "#SBATCH --array=0-%d%%%d\n"
            "#SBATCH --ntasks=1\n"
            "#SBATCH --cpus-per-task=1\n"
            "#SBATCH --output=%s/round-%d-task-%%a.out\n"
            "set -eu\n"
            "line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" '%s')\n"
            "exec '%s' sweep point '%s' --out '%s' --index \"${line%% *}\" --count \"${line##* }\" \\\n"
            "    --store '%s/r%d-t'\"$SLURM_ARRAY_TASK_ID\"'.sqlite'%s\n",
            round, nchunks, S->pl->spec->path, nchunks - 1, throttle, S->dir, round, chunks_path, o->self_exe,
            S->pl->spec->path, S->out_abs, S->parts, round, o->rerun_failed && round == 0 ? " --rerun-failed" : "");
    fclose(f);
    r = rt_write_file(script, text, len, &e2);
    free(text);
    if (r != RT_OK)
        return rt_error_set(S->e, RT_ERR_IO, "%s", e2.msg);
    chmod(script, 0755);
    return RT_OK;
}

static rt_status submit(slurm_run *S, const char *script, long *job)
{
    const char *argv[MAX_SBATCH_ARGS + 4];
    int n = 0;
    argv[n++] = "sbatch";
    argv[n++] = "--parsable";
    for (int i = 0; i < S->o->n_sbatch_args && n < MAX_SBATCH_ARGS + 2; i++)
        argv[n++] = S->o->sbatch_args[i];
    argv[n++] = script;
    argv[n] = NULL;
    char out[4096];
    int rc = sweep_run_capture(argv, out, sizeof out);
    trim(out);
    if (rc == 127)
        return rt_error_set(S->e, RT_ERR_IO,
                            "sbatch could not be run (%s): the slurm backend needs Slurm's client commands "
                            "(Debian: slurm-client, which scripts/setup.sh installs)", out);
    char *end;
    *job = strtol(out, &end, 10);
    if (rc != 0 || end == out || *job <= 0)
        return rt_error_set(S->e, RT_ERR_IO, "sbatch %s failed (status %d): %s", script, rc, out[0] ? out : "no output");
    return RT_OK;
}

/* The array tasks of job that are still queued or running, as a bitmap over 0..ntasks-1.
 * Returns the count, or -1 on an error (written to S->e). */
static int active_tasks(slurm_run *S, long job, int ntasks, unsigned char *active)
{
    char jobid[32];
    snprintf(jobid, sizeof jobid, "%ld", job);
    const char *argv[] = {"squeue", "-h", "-r", "-j", jobid, "-o", "%K %T", NULL};
    char *out = malloc(OUTPUT_BYTES);
    if (!out) {
        rt_error_set(S->e, RT_ERR_NOMEM, "out of memory (squeue)");
        return -1;
    }
    int rc = -1;
    for (int attempt = 0; attempt < SQUEUE_ATTEMPTS; attempt++) {
        rc = sweep_run_capture(argv, out, OUTPUT_BYTES);
        if (rc == 0 || strstr(out, "Invalid job id"))
            break;
        sleep(1);
    }
    if (rc != 0 && !strstr(out, "Invalid job id")) {
        trim(out);
        rt_error_set(S->e, RT_ERR_IO, "squeue -j %ld failed (status %d): %s", job, rc, out);
        free(out);
        return -1;
    }
    memset(active, 0, (size_t)ntasks);
    int n = 0;
    if (rc == 0)
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            int k;
            if (sscanf(line, "%d", &k) == 1 && k >= 0 && k < ntasks && !active[k]) {
                active[k] = 1;
                n++;
            }
        }
    free(out);
    return n;
}

/* Final states from scontrol (kept by the controller for a while after the job ends): report
 * the array tasks that did not complete. */
static void report_task_states(slurm_run *S, long job, int round)
{
    char jobid[32];
    snprintf(jobid, sizeof jobid, "%ld", job);
    const char *argv[] = {"scontrol", "-o", "show", "job", jobid, NULL};
    char *out = malloc(OUTPUT_BYTES);
    if (!out || sweep_run_capture(argv, out, OUTPUT_BYTES) != 0) {
        free(out);
        return;
    }
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *task = strstr(line, "ArrayTaskId="), *state = strstr(line, "JobState="), *code = strstr(line, "ExitCode=");
        if (!task || !state)
            continue;
        char st[32] = "", ex[32] = "";
        int t;
        if (sscanf(task, "ArrayTaskId=%d", &t) != 1 || sscanf(state, "JobState=%31s", st) != 1)
            continue;
        if (code)
            sscanf(code, "ExitCode=%31s", ex);
        if (strcmp(st, "COMPLETED") != 0) {
            if (S->bar.on)
                fputc('\n', stderr);
            fprintf(stderr, "m4npu sweep: job %ld task %d (round %d) ended %s, exit code %s; its output: %s/round-%d-task-%d.out\n",
                    job, t, round, st, ex[0] ? ex : "?", S->dir, round, t);
        }
    }
    free(out);
}

static rt_status write_active(slurm_run *S, long job, int round, int ntasks)
{
    char path[2 * SWEEP_PATH_BYTES], text[96];
    snprintf(path, sizeof path, "%s/active", S->dir);
    int len = snprintf(text, sizeof text, "%ld %d %d\n", job, round, ntasks);
    rt_error e2;
    if (rt_write_file(path, text, (size_t)len, &e2) != RT_OK)
        return rt_error_set(S->e, RT_ERR_IO, "%s", e2.msg);
    return RT_OK;
}

static rt_status wait_job(slurm_run *S, long job, int round, int ntasks)
{
    unsigned char *active = calloc((size_t)ntasks, 1), *merged = calloc((size_t)ntasks, 1);
    if (!active || !merged) {
        free(active);
        free(merged);
        return rt_error_set(S->e, RT_ERR_NOMEM, "out of memory (slurm wait)");
    }
    double poll_s = S->o->poll_s > 0 ? S->o->poll_s : DEFAULT_POLL_S;
    rt_status r = RT_OK;
    for (;;) {
        int n = active_tasks(S, job, ntasks, active);
        if (n < 0) {
            r = S->e->code;
            break;
        }
        char path[2 * SWEEP_PATH_BYTES];
        for (int t = 0; t < ntasks && r == RT_OK; t++)
            if (!active[t] && !merged[t]) {
                part_path(S, round, t, path, sizeof path);
                if ((r = merge_part(S, path)) == RT_OK)
                    merged[t] = 1;
            }
        if (r != RT_OK || (r = sweep_plan_refresh(S->pl, S->e)) != RT_OK)
            break;
        int failed, done = count_done(S->pl, &failed);
        sweep_progress_update(&S->bar, done, failed);
        if (n == 0)
            break;
        struct timespec ts = {(time_t)poll_s, (long)((poll_s - (double)(time_t)poll_s) * 1e9)};
        nanosleep(&ts, NULL);
    }
    free(active);
    free(merged);
    if (r == RT_OK) {
        report_task_states(S, job, round);
        char path[2 * SWEEP_PATH_BYTES];
        snprintf(path, sizeof path, "%s/active", S->dir);
        unlink(path);
    }
    return r;
}

/* A job left running by a driver that was killed: wait for it rather than submit it again. */
static rt_status resume_active(slurm_run *S, int *next_round)
{
    char path[2 * SWEEP_PATH_BYTES];
    snprintf(path, sizeof path, "%s/active", S->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return RT_OK;
    long job;
    int round, ntasks;
    int got = fscanf(f, "%ld %d %d", &job, &round, &ntasks);
    fclose(f);
    if (got != 3 || ntasks <= 0) {
        unlink(path);
        return RT_OK;
    }
    *next_round = round + 1;
    if (!S->o->quiet)
        fprintf(stderr, "m4npu sweep: waiting for job %ld, submitted by an earlier run\n", job);
    return wait_job(S, job, round, ntasks);
}

rt_status sweep_slurm(const sweep_options *o, sweep_summary *sum, rt_error *e)
{
    memset(sum, 0, sizeof *sum);
    double t0 = sweep_now_s();
    slurm_run S = {.o = o, .e = e};
    sweep_plan pl;
    rt_status r = sweep_plan_open(o, &pl, e);
    if (r != RT_OK)
        return r;
    S.pl = &pl;
    sweep_chunk *chunks = calloc((size_t)pl.points->n, sizeof *chunks);
    if (!chunks) {
        r = rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep)");
        goto done;
    }
    if (!realpath(o->out_dir, S.out_abs)) {
        r = rt_error_set(e, RT_ERR_IO, "%s: %s", o->out_dir, strerror(errno));
        goto done;
    }
    snprintf(S.dir, sizeof S.dir, "%s/slurm", S.out_abs);
    snprintf(S.parts, sizeof S.parts, "%s/parts", S.out_abs);
    if (!quotable(S.out_abs) || !quotable(pl.spec->path) || !quotable(o->self_exe)) {
        r = rt_error_set(e, RT_ERR_ARG, "the slurm backend cannot quote paths with a ' or a newline (%s, %s, %s)",
                         S.out_abs, pl.spec->path, o->self_exe);
        goto done;
    }
    if ((r = sweep_mkdir(S.dir, e)) != RT_OK || (r = sweep_mkdir(S.parts, e)) != RT_OK)
        goto done;
    int first_round = 0;
    int failed0, done0 = count_done(&pl, &failed0);
    sweep_progress_start(&S.bar, o->progress, pl.points->n);
    sweep_progress_update(&S.bar, done0, failed0);
    if ((r = resume_active(&S, &first_round)) != RT_OK || (r = merge_leftovers(&S)) != RT_OK ||
        (r = sweep_plan_refresh(&pl, e)) != RT_OK)
        goto end_bar;
    for (int round = first_round; round <= first_round + o->retry; round++) {
        bool rerun = o->rerun_failed && round == first_round;
        int todo = 0;
        for (int i = 0; i < pl.points->n; i++)
            todo += pl.state[i] == SWEEP_POINT_TODO || (rerun && pl.state[i] == SWEEP_POINT_FAILED);
        if (todo == 0)
            break;
        int per = o->chunk > 0 ? o->chunk : sweep_auto_chunk(todo, o->jobs > 0 ? o->jobs : 1);
        int nchunks = sweep_make_chunks(pl.state, pl.points->n, rerun, per, chunks);
        char script[2 * SWEEP_PATH_BYTES];
        sweep_options ro = *o;
        ro.rerun_failed = rerun;
        S.o = &ro;
        long job = 0;
        if ((r = write_job(&S, round, chunks, nchunks, script, sizeof script)) != RT_OK ||
            (r = submit(&S, script, &job)) != RT_OK || (r = write_active(&S, job, round, nchunks)) != RT_OK)
            break;
        r = wait_job(&S, job, round, nchunks);
        S.o = o;
        if (r != RT_OK)
            break;
    }
end_bar:
    sweep_progress_end(&S.bar);
    if (r == RT_OK)
        r = sweep_plan_refresh(&pl, e);
    sweep_plan_summary(&pl, sum);
    int failed1;
    sum->ran = count_done(&pl, &failed1) - done0;
done:
    sum->wall_s = sweep_now_s() - t0;
    free(chunks);
    sweep_plan_close(&pl);
    return r;
}
