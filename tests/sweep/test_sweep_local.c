/* m4npu sweep on the local backend, end to end: examples/sweeps/quick.yaml (three axes over IMG_enc
 * and backbone-decode) is killed with SIGKILL halfway (first one of its workers, then the sweep
 * itself) and resumed: it ends with every point exactly once, intact, and equal bit for bit to
 * the same point computed in this process. A failing point is recorded with its message and does
 * not stop the sweep; a rerun skips it unless asked. The command's usage errors and exit codes;
 * the progress bar only on a terminal. */
#include "test_util.h"

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "sweep.h"

#define PRESETS M4NPU_SOURCE_DIR "/configs"
#define QUICK M4NPU_SOURCE_DIR "/examples/sweeps/quick.yaml"
#define QUICK_POINTS 18
#define QUICK_WORKLOADS 2
#define POLL_NS 20000000L         /* 20 ms between looks at the store */
#define PHASE_TIMEOUT_S 600.0     /* a phase that takes this long has hung */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long long scalar(const char *db_path, const char *sql)
{
    sqlite3 *db;
    long long v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* Points with a row for every workload. */
static long long complete_points(const char *db)
{
    return scalar(db, "SELECT count(*) FROM (SELECT point FROM results GROUP BY point HAVING count(*) = 2)");
}

static pid_t start_sweep(const char *spec, const char *out, const char *extra)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(M4NPU_BIN, "m4npu", "sweep", spec, "--out", out, "--jobs", "2", "--chunk", "1", "--quiet", extra,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* The children of pid (from /proc). */
static int children_of(pid_t parent, pid_t *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        char path[300], buf[512];
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = '\0';
        char *close_paren = strrchr(buf, ')');
        int ppid;
        char st;
        if (close_paren && sscanf(close_paren + 1, " %c %d", &st, &ppid) == 2 && ppid == parent && st != 'Z')
            out[n++] = (pid_t)atoi(de->d_name);
    }
    closedir(d);
    return n;
}

/* Is any process still running `m4npu sweep point` for this output directory? */
static bool workers_alive(const char *out)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *de;
    bool alive = false;
    while (!alive && (de = readdir(d))) {
        char path[300], buf[4096];
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < got; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[got] = '\0';
        alive = strstr(buf, "sweep point") && strstr(buf, out);
    }
    closedir(d);
    return alive;
}

static void wait_for(const char *db, long long points, pid_t sweep)
{
    double t0 = now_s();
    while (complete_points(db) < points) {
        int status;
        if (waitpid(sweep, &status, WNOHANG) == sweep)
            fail_msg("the sweep ended (status %d) before %lld points were done", status, points);
        if (now_s() - t0 > PHASE_TIMEOUT_S)
            fail_msg("no progress to %lld points", points);
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
    }
}

static void test_kill_9_halfway_and_resume(void **state)
{
    (void)state;
    char out[512], db[600];
    test_path(out, sizeof out, "quick");
    snprintf(db, sizeof db, "%s/%s", out, SWEEP_STORE_FILE);
    pid_t sweep = start_sweep(QUICK, out, NULL);
    /* a third of the way: kill one worker in the middle of its point */
    wait_for(db, QUICK_POINTS / 3, sweep);
    pid_t kids[8];
    int nk = children_of(sweep, kids, 8);
    assert_true(nk >= 1);
    assert_int_equal(kill(kids[0], SIGKILL), 0);
    /* halfway: kill the sweep itself */
    wait_for(db, QUICK_POINTS / 2, sweep);
    assert_int_equal(kill(sweep, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(sweep, &status, 0), sweep);
    assert_true(WIFSIGNALED(status));
    long long done = complete_points(db);
    assert_true(done >= QUICK_POINTS / 2 && done < QUICK_POINTS);
    /* its workers died with it */
    double t0 = now_s();
    while (workers_alive(out) && now_s() - t0 < 10.0) {
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
    }
    assert_false(workers_alive(out));
    assert_int_equal(scalar(db, "SELECT count(*) FROM (SELECT point FROM results GROUP BY point HAVING count(*) <> 2)"), 0);

    /* resume: every point exactly once */
    char cmd_out[4096];
    int rc = test_run(cmd_out, sizeof cmd_out, "%s sweep %s --out %s --jobs 2", M4NPU_BIN, QUICK, out);
    if (rc != 0)
        fail_msg("resume: exit %d: %s", rc, cmd_out);
    char want[1024];
    snprintf(want, sizeof want, "%d points in %s/results.sqlite: %d ok, 0 failed, 0 missing", QUICK_POINTS, out,
             QUICK_POINTS);
    assert_non_null(strstr(cmd_out, want));
    assert_int_equal(scalar(db, "SELECT count(*) FROM results"), QUICK_POINTS * QUICK_WORKLOADS);
    assert_int_equal(scalar(db, "SELECT count(*) FROM (SELECT DISTINCT point, workload FROM results)"),
                     QUICK_POINTS * QUICK_WORKLOADS);
    assert_int_equal(scalar(db, "SELECT count(DISTINCT point) FROM results WHERE point BETWEEN 0 AND 17"), QUICK_POINTS);
    assert_int_equal(scalar(db, "SELECT count(*) FROM results WHERE status = 'ok' AND latency_s > 0 AND energy_j > 0 "
                                "AND npu_s > 0 AND cpu_s > 0 AND e_dram_j > 0 AND area_mm2 > 0"),
                     QUICK_POINTS * QUICK_WORKLOADS);
    /* a rerun has nothing left to do */
    rc = test_run(cmd_out, sizeof cmd_out, "%s sweep %s --out %s --jobs 2", M4NPU_BIN, QUICK, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(cmd_out, "this run: 0 points"));

    /* bit for bit what this process computes for the same points */
    sweep_spec *s;
    sweep_points *p;
    m4npu_config base, cfg;
    rt_error e;
    assert_int_equal(sweep_spec_load(QUICK, PRESETS, &s, &e), RT_OK);
    assert_int_equal(sweep_spec_base(s, &base, &e), RT_OK);
    assert_int_equal(sweep_points_make(s, &base, &p, &e), RT_OK);
    static const int check[] = {0, QUICK_POINTS - 1};
    for (size_t c = 0; c < sizeof check / sizeof check[0]; c++) {
        assert_int_equal(sweep_point_config(s, p, check[c], &base, &cfg, &e), RT_OK);
        for (int w = 0; w < s->n_workloads; w++) {
            sweep_result r;
            sweep_run_workload_on(&cfg, &s->workloads[w], &s->area, &r);
            assert_true(r.ok);
            sqlite3 *h;
            assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
            sqlite3_stmt *q;
            assert_int_equal(sqlite3_prepare_v2(h, "SELECT latency_s, energy_j, npu_s, config_hash FROM results WHERE "
                                                   "point = ? AND workload = ?",
                                                -1, &q, NULL),
                             SQLITE_OK);
            sqlite3_bind_int(q, 1, check[c]);
            sqlite3_bind_text(q, 2, s->workloads[w].name, -1, SQLITE_STATIC);
            assert_int_equal(sqlite3_step(q), SQLITE_ROW);
            assert_true(sqlite3_column_double(q, 0) == r.metric[SWEEP_M_LATENCY_S]);
            assert_true(sqlite3_column_double(q, 1) == r.metric[SWEEP_M_ENERGY_J]);
            assert_true(sqlite3_column_double(q, 2) == r.metric[SWEEP_M_NPU_S]);
            char hash[SWEEP_HASH_HEX];
            sweep_config_hash(&cfg, hash);
            assert_string_equal((const char *)sqlite3_column_text(q, 3), hash);
            sqlite3_finalize(q);
            sqlite3_close(h);
        }
    }
    sweep_points_free(p);
    sweep_spec_free(s);
}

/* A point whose workload cannot run (its buffers do not fit a 1 MiB device memory) is recorded
 * with the reason and the others go on; a rerun leaves it, --rerun-failed runs it again. */
static void test_failed_points_are_recorded(void **state)
{
    (void)state;
    char spec[512], out[512], db[600], cmd_out[8192];
    test_path(spec, sizeof spec, "failing.yaml");
    test_path(out, sizeof out, "failing");
    snprintf(db, sizeof db, "%s/%s", out, SWEEP_STORE_FILE);
    static const char text[] = "base:\n"
                               "  preset: mobile-default\n"
                               "axes:\n"
                               "  npu.dram.size_bytes: [1 MiB, 12 GiB]\n"
                               "  npu.clock_mhz: [500, 1000]\n"
                               "workloads:\n"
                               "  - module: projection\n"
                               "metrics: [latency_s]\n";
    test_write_file(spec, text, strlen(text));
    int rc = test_run(cmd_out, sizeof cmd_out, "%s sweep %s --out %s --jobs 2", M4NPU_BIN, spec, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(cmd_out, "4 points in"));
    assert_non_null(strstr(cmd_out, ": 2 ok, 2 failed, 0 missing"));
    assert_int_equal(scalar(db, "SELECT count(*) FROM results WHERE status = 'failed' AND \"npu.dram.size_bytes\" = "
                                "1048576 AND error LIKE '%device memory%missing%' AND latency_s IS NULL"),
                     2);
    assert_int_equal(scalar(db, "SELECT count(*) FROM results WHERE status = 'ok' AND latency_s > 0"), 2);
    /* the report shows the failure and its message */
    rc = test_run(cmd_out, sizeof cmd_out, "%s sweep report %s", M4NPU_BIN, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(cmd_out, "failed: projection"));
    /* a rerun runs nothing; --rerun-failed runs the two again */
    rc = test_run(cmd_out, sizeof cmd_out, "%s sweep %s --out %s", M4NPU_BIN, spec, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(cmd_out, "this run: 0 points"));
    rc = test_run(cmd_out, sizeof cmd_out, "%s sweep %s --out %s --rerun-failed", M4NPU_BIN, spec, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(cmd_out, "this run: 2 points"));
    /* the same point by hand: the per-point contract */
    rc = test_run(cmd_out, sizeof cmd_out, "%s sweep point %s --out %s --index 0 --rerun-failed", M4NPU_BIN, spec, out);
    assert_int_equal(rc, 0);
    assert_string_equal(cmd_out, "start 0\nfailed 0\n");
    rc = test_run(cmd_out, sizeof cmd_out, "%s sweep point %s --out %s --index 2 --count 5", M4NPU_BIN, spec, out);
    assert_int_equal(rc, 0);
    assert_string_equal(cmd_out, "skip 2\nskip 3\n");
}

/* A worker that crashes (here on purpose: M4NPU_SWEEP_ABORT_AT makes it abort when point 1
 * starts) gets that point recorded as failed with the signal, the other points run, and a rerun
 * does not crash on it again; --rerun-failed runs it again. */
static void test_a_crashing_worker_fails_its_point(void **state)
{
    (void)state;
    char spec[512], out[512], db[600], cmd_out[8192];
    test_path(spec, sizeof spec, "crash.yaml");
    test_path(out, sizeof out, "crash");
    snprintf(db, sizeof db, "%s/%s", out, SWEEP_STORE_FILE);
    static const char text[] = "base: {preset: mobile-default}\naxes:\n  npu.clock_mhz: [500, 700, 900]\n"
                               "workloads: [{module: projection}, {module: IMU_enc}]\nmetrics: [latency_s]\n";
    test_write_file(spec, text, strlen(text));
    int rc = test_run(cmd_out, sizeof cmd_out, "M4NPU_SWEEP_ABORT_AT=1 %s sweep %s --out %s "
                                               "--jobs 2 --chunk 1",
                      M4NPU_BIN, spec, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(cmd_out, "the worker for points 1..1 died of signal 6"));
    assert_non_null(strstr(cmd_out, "its point is recorded as failed"));
    assert_non_null(strstr(cmd_out, ": 2 ok, 1 failed, 0 missing"));
    assert_int_equal(scalar(db, "SELECT count(*) FROM results WHERE point = 1 AND status = 'failed' AND error LIKE "
                                "'the worker process died of signal 6%'"),
                     2);
    rc = test_run(cmd_out, sizeof cmd_out, "M4NPU_SWEEP_ABORT_AT=1 %s sweep %s --out %s", M4NPU_BIN, spec, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(cmd_out, "this run: 0 points"));
    rc = test_run(cmd_out, sizeof cmd_out, "%s sweep %s --out %s --rerun-failed", M4NPU_BIN, spec, out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(cmd_out, ": 3 ok, 0 failed, 0 missing"));
}

/* An ONNX model as a workload gives what `m4npu run --timing-only --partition greedy` gives, to
 * the bit (a sweep places greedily: docs/sweep.md). */
static void test_onnx_model_workload(void **state)
{
    (void)state;
    char spec[512], out[512], db[600], cmd_out[65536];
    test_path(spec, sizeof spec, "onnx.yaml");
    test_path(out, sizeof out, "onnx");
    snprintf(db, sizeof db, "%s/%s", out, SWEEP_STORE_FILE);
    static const char text[] = "base: {preset: mobile-default}\naxes:\n  npu.dram.bandwidth_gb_s: [12.8, 51.2]\n"
                               "workloads:\n  - model: " M4NPU_BINARY_DIR "/models/encoder_block.onnx\n"
                               "metrics: [latency_s, energy_j, npu_s]\n";
    test_write_file(spec, text, strlen(text));
    int rc = test_run(cmd_out, sizeof cmd_out, "%s sweep %s --out %s --jobs 2", M4NPU_BIN, spec, out);
    if (rc != 0)
        fail_msg("exit %d: %s", rc, cmd_out);
    static const char *const bw[] = {"12.8", "51.2"};
    for (int i = 0; i < 2; i++) {
        rc = test_run(cmd_out, sizeof cmd_out,
                      "%s run %s/models/encoder_block.onnx --config %s/configs/mobile-default.yaml --set "
                      "npu.dram.bandwidth_gb_s=%s --timing-only --partition greedy --json 2>/dev/null",
                      M4NPU_BIN, M4NPU_BINARY_DIR, M4NPU_SOURCE_DIR, bw[i]);
        assert_int_equal(rc, 0);
        json_error_t je;
        json_t *j = json_loads(cmd_out, 0, &je);
        assert_non_null(j);
        double total = json_real_value(json_object_get(json_object_get(j, "breakdown"), "total_s"));
        double energy = json_real_value(json_object_get(json_object_get(j, "energy"), "total"));
        json_decref(j);
        sqlite3 *h;
        assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(h, "SELECT latency_s, energy_j FROM results WHERE point = ? AND workload = "
                                               "'encoder_block' AND status = 'ok'",
                                            -1, &q, NULL),
                         SQLITE_OK);
        sqlite3_bind_int(q, 1, i);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_true(sqlite3_column_double(q, 0) == total);
        assert_true(sqlite3_column_double(q, 1) == energy);
        sqlite3_finalize(q);
        sqlite3_close(h);
    }
}

static void test_usage_and_exit_codes(void **state)
{
    (void)state;
    char out[8192], dir[512];
    test_path(dir, sizeof dir, "usage");
    assert_int_equal(test_run(out, sizeof out, "%s sweep", M4NPU_BIN), 2);
    assert_int_equal(test_run(out, sizeof out, "%s sweep %s", M4NPU_BIN, QUICK), 2);
    assert_non_null(strstr(out, "--out DIR is required"));
    assert_int_equal(test_run(out, sizeof out, "%s sweep %s --out %s --backend cloud", M4NPU_BIN, QUICK, dir), 2);
    assert_non_null(strstr(out, "--backend cloud: expected local or slurm"));
    assert_int_equal(test_run(out, sizeof out, "%s sweep %s --out %s --jobs 0", M4NPU_BIN, QUICK, dir), 2);
    assert_int_equal(test_run(out, sizeof out, "%s sweep %s --out %s --sbatch-arg=-p", M4NPU_BIN, QUICK, dir), 2);
    assert_int_equal(test_run(out, sizeof out, "%s sweep point %s --out %s", M4NPU_BIN, QUICK, dir), 2);
    assert_int_equal(test_run(out, sizeof out, "%s sweep report", M4NPU_BIN), 2);
    assert_int_equal(test_run(out, sizeof out, "%s sweep report %s --json --csv", M4NPU_BIN, dir), 2);
    assert_int_equal(test_run(out, sizeof out, "%s sweep --help", M4NPU_BIN), 0);
    assert_non_null(strstr(out, "usage: m4npu sweep SPEC --out DIR"));
    /* a missing spec: 3, named; a bad one: 1, at its line and column */
    assert_int_equal(test_run(out, sizeof out, "%s sweep /nonexistent.yaml --out %s", M4NPU_BIN, dir), 3);
    assert_non_null(strstr(out, "/nonexistent.yaml"));
    char spec[512];
    test_path(spec, sizeof spec, "bad.yaml");
    static const char bad[] = "base: {preset: test}\naxes:\n  npu.clock_mhz: [fast]\nworkloads: [{module: projection}]\n"
                              "metrics: [latency_s]\n";
    test_write_file(spec, bad, strlen(bad));
    assert_int_equal(test_run(out, sizeof out, "%s sweep %s --out %s", M4NPU_BIN, spec, dir), 1);
    char want[700];
    snprintf(want, sizeof want, "m4npu sweep: %s:3:19: axes.npu.clock_mhz[0]: expected a number, got \"fast\"", spec);
    assert_non_null(strstr(out, want));
    assert_int_equal(test_run(out, sizeof out, "%s sweep check %s", M4NPU_BIN, spec), 1);
    /* check counts and lists the points */
    assert_int_equal(test_run(out, sizeof out, "%s sweep check %s --list", M4NPU_BIN, QUICK), 0);
    assert_non_null(strstr(out, "18 points (18 candidates, 0 dropped by 1 constraints) x 2 workloads, 3 axes"));
    assert_non_null(strstr(out, "\n17 64 51.2 8 MiB\n"));
    /* a report of a directory that holds no sweep: 3 */
    assert_int_equal(test_run(out, sizeof out, "%s sweep report %s/nothing", M4NPU_BIN, dir), 3);
    assert_non_null(strstr(out, "results.sqlite"));
}

/* The progress bar with its ETA goes to a terminal only. */
static void test_progress_only_on_a_terminal(void **state)
{
    (void)state;
    char spec[512], out1[512], out2[512], cmd_out[16384];
    test_path(spec, sizeof spec, "progress.yaml");
    test_path(out1, sizeof out1, "progress1");
    test_path(out2, sizeof out2, "progress2");
    static const char text[] = "base: {preset: mobile-default}\naxes:\n  npu.clock_mhz: [500, 700, 900, 1100]\n"
                               "workloads: [{module: projection}]\nmetrics: [latency_s]\n";
    test_write_file(spec, text, strlen(text));
    assert_int_equal(test_run(cmd_out, sizeof cmd_out, "%s sweep %s --out %s --jobs 1", M4NPU_BIN, spec, out1), 0);
    assert_null(strstr(cmd_out, "ETA"));
    assert_null(strchr(cmd_out, '\r'));
    if (test_run(NULL, 0, "command -v script >/dev/null") != 0) {
        print_message("util-linux's script is missing: the terminal half of this test is skipped\n");
        return;
    }
    /* script(1) gives the command a pseudo-terminal */
    assert_int_equal(test_run(cmd_out, sizeof cmd_out, "script -qec '%s sweep %s --out %s --jobs 1' /dev/null",
                              M4NPU_BIN, spec, out2),
                     0);
    assert_non_null(strstr(cmd_out, "4/4 points (100%)"));
    assert_non_null(strstr(cmd_out, "ETA"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_halfway_and_resume),
        cmocka_unit_test(test_failed_points_are_recorded),
        cmocka_unit_test(test_a_crashing_worker_fails_its_point),
        cmocka_unit_test(test_onnx_model_workload),
        cmocka_unit_test(test_usage_and_exit_codes),
        cmocka_unit_test(test_progress_only_on_a_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
