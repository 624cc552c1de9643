/* m4npu sweep on Slurm, end to end, on a throw-away single-node cluster on 127.0.0.1
 * (tests/sweep/slurm_cluster.sh: munged, slurmctld and slurmd from Debian, non-default ports,
 * every file in a temporary directory, stopped after the tests and by a watchdog if this process
 * dies). examples/sweeps/quick.yaml gives the same rows on Slurm as on the local backend, metrics
 * bit for bit; a chunk whose array task fails is resubmitted with --retry; a driver killed while
 * its job runs is resumed without submitting the job again. Needs root and the Debian packages
 * (it says which are missing, and fails: CI runs as root with them installed). */
#include "test_util.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#include "sweep.h"

#define CLUSTER_SCRIPT M4NPU_SOURCE_DIR "/tests/sweep/slurm_cluster.sh"
#define QUICK M4NPU_SOURCE_DIR "/examples/sweeps/quick.yaml"
#define CLUSTER_CPUS 2
#define WAIT_S 300.0

static char cluster[256];
static char slurm_conf[512];
static pid_t daemon_pid[3];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static pid_t read_pid(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", cluster, name);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

static int start_cluster(void **state)
{
    (void)state;
    if (geteuid() != 0)
        fail_msg("the Slurm test needs root (slurmd starts jobs as their user); CI runs as root");
    snprintf(cluster, sizeof cluster, "/tmp/m4npu-slurm-XXXXXX");
    assert_non_null(mkdtemp(cluster));
    char out[8192];
    int rc = test_run(out, sizeof out, "%s start %s %d %d", CLUSTER_SCRIPT, cluster, (int)getpid(), CLUSTER_CPUS);
    if (rc != 0)
        fail_msg("could not start a single-node Slurm: %s", out);
    snprintf(slurm_conf, sizeof slurm_conf, "%s/slurm.conf", cluster);
    static const char *const names[] = {"munged.pid", "slurmctld.pid", "slurmd.pid"};
    for (int i = 0; i < 3; i++) {
        daemon_pid[i] = read_pid(names[i]);
        assert_true(daemon_pid[i] > 0 && kill(daemon_pid[i], 0) == 0);
    }
    return 0;
}

static int stop_cluster(void **state)
{
    (void)state;
    char out[4096];
    int rc = test_run(out, sizeof out, "%s stop %s", CLUSTER_SCRIPT, cluster);
    if (rc != 0)
        print_message("stopping the cluster: %s\n", out);
    /* no daemon survives */
    for (int i = 0; i < 3; i++)
        if (daemon_pid[i] > 0 && kill(daemon_pid[i], 0) == 0)
            fail_msg("daemon %d is still running after the cluster was stopped", (int)daemon_pid[i]);
    /* its state (munge key, logs, spool) goes with it */
    assert_int_equal(test_run(out, sizeof out, "rm -rf %s", cluster), 0);
    return 0;
}

static long long scalar(const char *db_path, const char *sql)
{
    sqlite3 *db;
    long long v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
            v = sqlite3_column_int64(q, 0);
        else
            print_message("%s: %s\n", sql, sqlite3_errmsg(db));
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return v;
}

static void run_ok(const char *what, char *out, size_t cap, const char *cmd)
{
    int rc = test_run(out, cap, "%s", cmd);
    if (rc != 0)
        fail_msg("%s: exit %d: %s", what, rc, out);
}

/* The same sweep on both backends: the same rows, every metric bit for bit. */
static void test_slurm_rows_equal_local_rows(void **state)
{
    (void)state;
    char local[512], slurm[512], cmd[4096], out[16384];
    test_path(local, sizeof local, "local");
    test_path(slurm, sizeof slurm, "slurm");
    snprintf(cmd, sizeof cmd, "%s sweep %s --out %s --jobs 2", M4NPU_BIN, QUICK, local);
    run_ok("local sweep", out, sizeof out, cmd);
    snprintf(cmd, sizeof cmd, "SLURM_CONF=%s %s sweep %s --out %s --backend slurm --jobs 2 --chunk 3 --poll 0.3",
             slurm_conf, M4NPU_BIN, QUICK, slurm);
    run_ok("slurm sweep", out, sizeof out, cmd);
    assert_non_null(strstr(out, "18 points in"));
    assert_non_null(strstr(out, ": 18 ok, 0 failed, 0 missing"));
    char db[600], sql[4096];
    snprintf(db, sizeof db, "%s/results.sqlite", slurm);
    assert_int_equal(scalar(db, "SELECT count(*) FROM results"), 36);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM results s JOIN (SELECT * FROM l.results) x USING (point, workload) WHERE "
             "s.status IS x.status AND s.config_hash IS x.config_hash AND s.version IS x.version AND "
             "s.\"npu.matmul.rows\" IS x.\"npu.matmul.rows\" AND "
             "s.\"npu.dram.bandwidth_gb_s\" IS x.\"npu.dram.bandwidth_gb_s\" AND "
             "s.\"npu.sram.size_bytes\" IS x.\"npu.sram.size_bytes\" AND s.latency_s IS x.latency_s AND "
             "s.energy_j IS x.energy_j AND s.area_mm2 IS x.area_mm2 AND s.npu_s IS x.npu_s AND s.cpu_s IS x.cpu_s "
             "AND s.e_dram_j IS x.e_dram_j AND s.status = 'ok'");
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char attach[700];
    snprintf(attach, sizeof attach, "ATTACH DATABASE '%s/results.sqlite' AS l", local);
    assert_int_equal(sqlite3_exec(h, attach, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 36);
    sqlite3_finalize(q);
    sqlite3_close(h);
    /* the array was chunked (6 tasks of 3 points), throttled (%2), and its parts merged */
    char script[700];
    snprintf(script, sizeof script, "%s/slurm/round-0.sh", slurm);
    char *text = test_read_file(script, NULL);
    assert_non_null(strstr(text, "#SBATCH --array=0-5%2\n"));
    assert_non_null(strstr(text, "sweep point"));
    free(text);
    assert_int_equal(test_run(out, sizeof out, "ls %s/parts | wc -l", slurm), 0);
    assert_string_equal(out, "0\n");
}

/* Array task 0 cannot write its part (the path of the part's journal is taken by a directory):
 * its points are missing after the first round, its part is set aside, and --retry 1 resubmits
 * that chunk alone. */
static void test_retry_resubmits_failed_chunks(void **state)
{
    (void)state;
    char dir[512], spec[512], cmd[4096], out[16384], sabotage[700];
    test_path(dir, sizeof dir, "retry");
    test_path(spec, sizeof spec, "retry.yaml");
    static const char text[] = "base: {preset: mobile-default}\naxes:\n  npu.clock_mhz: [500, 700, 900, 1100]\n"
                               "workloads: [{module: projection}]\nmetrics: [latency_s]\n";
    test_write_file(spec, text, strlen(text));
    snprintf(sabotage, sizeof sabotage, "mkdir -p %s/parts/r0-t0.sqlite-journal", dir);
    assert_int_equal(test_run(out, sizeof out, "%s", sabotage), 0);
    snprintf(cmd, sizeof cmd,
             "SLURM_CONF=%s %s sweep %s --out %s --backend slurm --jobs 2 --chunk 2 --poll 0.3 --retry 1", slurm_conf,
             M4NPU_BIN, spec, dir);
    run_ok("slurm sweep with a failing task", out, sizeof out, cmd);
    assert_non_null(strstr(out, ": 4 ok, 0 failed, 0 missing"));
    assert_non_null(strstr(out, "task 0 (round 0) ended FAILED, exit code 3:0"));
    assert_non_null(strstr(out, "r0-t0.sqlite.bad"));
    char round1[700];
    snprintf(round1, sizeof round1, "%s/slurm/round-1.chunks", dir);
    char *chunks = test_read_file(round1, NULL);
    assert_string_equal(chunks, "0 2\n"); /* the failed chunk alone */
    free(chunks);
    /* without --retry the points stay missing and the command says so */
    char dir2[512];
    test_path(dir2, sizeof dir2, "noretry");
    snprintf(sabotage, sizeof sabotage, "mkdir -p %s/parts/r0-t1.sqlite-journal", dir2);
    assert_int_equal(test_run(out, sizeof out, "%s", sabotage), 0);
    snprintf(cmd, sizeof cmd, "SLURM_CONF=%s %s sweep %s --out %s --backend slurm --jobs 2 --chunk 2 --poll 0.3",
             slurm_conf, M4NPU_BIN, spec, dir2);
    assert_int_equal(test_run(out, sizeof out, "%s", cmd), 1);
    assert_non_null(strstr(out, ": 2 ok, 0 failed, 2 missing"));
    assert_non_null(strstr(out, "2 points have no result"));
}

/* The driver is killed while its array runs; the next run waits for that job and merges what it
 * wrote instead of submitting it again. */
static void test_killed_driver_resumes_its_job(void **state)
{
    (void)state;
    char dir[512], spec[512], active[700], cmd[4096], out[16384];
    test_path(dir, sizeof dir, "resume");
    test_path(spec, sizeof spec, "resume.yaml");
    static const char text[] = "base: {preset: mobile-default}\naxes:\n  npu.clock_mhz: [500, 600, 700, 800, 900, 1000]\n"
                               "workloads: [{module: IMU_enc}]\nmetrics: [latency_s]\n";
    test_write_file(spec, text, strlen(text));
    snprintf(active, sizeof active, "%s/slurm/active", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        setenv("SLURM_CONF", slurm_conf, 1);
        execl(M4NPU_BIN, "m4npu", "sweep", spec, "--out", dir, "--backend", "slurm", "--jobs", "1", "--chunk", "1",
              "--poll", "0.3", (char *)NULL);
        _exit(127);
    }
    double t0 = now_s();
    while (access(active, F_OK) != 0) {
        assert_true(now_s() - t0 < WAIT_S);
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    snprintf(cmd, sizeof cmd, "SLURM_CONF=%s %s sweep %s --out %s --backend slurm --jobs 1 --chunk 1 --poll 0.3",
             slurm_conf, M4NPU_BIN, spec, dir);
    run_ok("resumed slurm sweep", out, sizeof out, cmd);
    assert_non_null(strstr(out, "submitted by an earlier run"));
    assert_non_null(strstr(out, ": 6 ok, 0 failed, 0 missing"));
    char round1[700];
    snprintf(round1, sizeof round1, "%s/slurm/round-1.sh", dir);
    assert_int_not_equal(access(round1, F_OK), 0); /* not submitted again */
    char db[600];
    snprintf(db, sizeof db, "%s/results.sqlite", dir);
    assert_int_equal(scalar(db, "SELECT count(*) FROM results WHERE status = 'ok'"), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slurm_rows_equal_local_rows),
        cmocka_unit_test(test_retry_resubmits_failed_chunks),
        cmocka_unit_test(test_killed_driver_resumes_its_job),
    };
    return cmocka_run_group_tests(tests, start_cluster, stop_cluster);
}
