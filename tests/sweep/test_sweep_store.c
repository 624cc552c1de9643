/* The sweep store (SQLite): rows per point and workload with their knobs, metrics, status and
 * error; the states a rerun reads; a store belongs to one spec; parts merge idempotently; and a
 * writer killed with SIGKILL at any moment leaves every point with all of its rows or none, and
 * an intact database. */
#include "test_util.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sqlite3.h>

#include "sweep.h"

#define PRESETS M4NPU_SOURCE_DIR "/configs"
#define WORKLOADS 3

static const char spec_text[] = "base:\n"
                                "  preset: test\n"
                                "axes:\n"
                                "  npu.matmul.rows: [4, 8, 16, 32]\n"
                                "  npu.dram.bandwidth_gb_s: {from: 1, to: 64, factor: 2}\n"
                                "  npu.matmul.impl: [fast]\n"
                                "workloads:\n"
                                "  - {module: projection, name: a}\n"
                                "  - {module: projection, name: b}\n"
                                "  - {module: projection, name: c}\n"
                                "metrics: [latency_s, energy_j, npu_s]\n";

typedef struct fixture {
    sweep_spec *spec;
    sweep_points *points;
    m4npu_config base;
    char dir[512], store[600];
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    static int n;
    char name[64];
    snprintf(name, sizeof name, "store%d", n++);
    test_path(F.dir, sizeof F.dir, name);
    assert_int_equal(mkdir(F.dir, 0777), 0);
    char spec[600];
    snprintf(spec, sizeof spec, "%s/spec.yaml", F.dir);
    test_write_file(spec, spec_text, strlen(spec_text));
    rt_error e;
    if (sweep_spec_load(spec, PRESETS, &F.spec, &e) != RT_OK || sweep_spec_base(F.spec, &F.base, &e) != RT_OK ||
        sweep_points_make(F.spec, &F.base, &F.points, &e) != RT_OK)
        fail_msg("%s", e.msg);
    snprintf(F.store, sizeof F.store, "%s/%s", F.dir, SWEEP_STORE_FILE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sweep_points_free(F.points);
    sweep_spec_free(F.spec);
    return 0;
}

/* Rows for point i: workload w's latency is i + w / 10, and workload `failing` (if >= 0) failed. */
static void make_rows(int i, int failing, sweep_result rows[WORKLOADS])
{
    memset(rows, 0, WORKLOADS * sizeof rows[0]);
    for (int w = 0; w < WORKLOADS; w++) {
        rows[w].ok = w != failing;
        rows[w].wall_s = 0.5;
        if (!rows[w].ok) {
            snprintf(rows[w].error, sizeof rows[w].error, "point %d workload %d failed", i, w);
            rows[w].has[SWEEP_M_AREA_MM2] = true;
            rows[w].metric[SWEEP_M_AREA_MM2] = 1.0;
            continue;
        }
        for (int m = 0; m < SWEEP_METRIC_COUNT; m++) {
            rows[w].has[m] = true;
            rows[w].metric[m] = i + w / 10.0 + m / 1000.0;
        }
    }
}

static void put_point(sweep_store *st, int i, int failing)
{
    sweep_result rows[WORKLOADS];
    make_rows(i, failing, rows);
    m4npu_config cfg;
    rt_error e;
    if (sweep_point_config(F.spec, F.points, i, &F.base, &cfg, &e) != RT_OK)
        fail_msg("%s", e.msg);
    char hash[SWEEP_HASH_HEX];
    sweep_config_hash(&cfg, hash);
    if (sweep_store_put(st, F.spec, i, &cfg, hash, rows, "test-1", &e) != RT_OK)
        fail_msg("%s", e.msg);
}

static sqlite3 *open_raw(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

static long long scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    long long v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static void test_rows_and_states(void **state)
{
    (void)state;
    assert_int_equal(F.points->n, 4 * 7);
    sweep_store *st;
    rt_error e;
    assert_int_equal(sweep_store_open(F.store, F.spec, F.points, true, &st, &e), RT_OK);
    put_point(st, 0, -1);
    put_point(st, 5, 1);
    unsigned char s[4 * 7];
    assert_int_equal(sweep_store_states(st, F.points->n, s, &e), RT_OK);
    assert_int_equal(s[0], SWEEP_POINT_OK);
    assert_int_equal(s[5], SWEEP_POINT_FAILED);
    for (int i = 1; i < F.points->n; i++)
        if (i != 5)
            assert_int_equal(s[i], SWEEP_POINT_TODO);
    sweep_point_state ps;
    assert_int_equal(sweep_store_point_state(st, 5, WORKLOADS, &ps, &e), RT_OK);
    assert_int_equal(ps, SWEEP_POINT_FAILED);
    /* a rerun of a failed point replaces its rows */
    put_point(st, 5, -1);
    assert_int_equal(sweep_store_point_state(st, 5, WORKLOADS, &ps, &e), RT_OK);
    assert_int_equal(ps, SWEEP_POINT_OK);
    sweep_store_close(st);

    sqlite3 *db = open_raw(F.store);
    assert_int_equal(scalar(db, "SELECT count(*) FROM results"), 2 * WORKLOADS);
    /* knob columns hold the point's values in their types; metrics as REAL; the version */
    assert_int_equal(scalar(db, "SELECT \"npu.matmul.rows\" FROM results WHERE point = 5 AND workload = 'b'"), 4);
    assert_int_equal(scalar(db, "SELECT typeof(\"npu.dram.bandwidth_gb_s\") = 'real' FROM results WHERE point = 5 "
                                "AND workload = 'b'"),
                     1);
    assert_int_equal(scalar(db, "SELECT \"npu.dram.bandwidth_gb_s\" * 100 FROM results WHERE point = 5 AND "
                                "workload = 'b'"),
                     3200);
    assert_int_equal(scalar(db, "SELECT \"npu.matmul.impl\" = 'fast' FROM results WHERE point = 0 AND workload = 'a'"), 1);
    assert_int_equal(scalar(db, "SELECT latency_s * 10 FROM results WHERE point = 5 AND workload = 'b'"), 51);
    assert_int_equal(scalar(db, "SELECT count(*) FROM results WHERE version = 'test-1' AND length(config_hash) = 16"),
                     2 * WORKLOADS);
    assert_int_equal(scalar(db, "SELECT count(*) FROM pragma_table_info('results') WHERE name = 'per_token_s'"), 0);
    assert_int_equal(scalar(db, "PRAGMA journal_mode = 'wal'") >= 0, 1);
    sqlite3_close(db);
}

static void test_a_store_belongs_to_one_spec(void **state)
{
    (void)state;
    sweep_store *st;
    rt_error e;
    assert_int_equal(sweep_store_open(F.store, F.spec, F.points, true, &st, &e), RT_OK);
    sweep_store_close(st);
    /* the same spec opens again; a changed one is refused with both names */
    assert_int_equal(sweep_store_open(F.store, F.spec, F.points, true, &st, &e), RT_OK);
    sweep_store_close(st);
    char spec[600];
    snprintf(spec, sizeof spec, "%s/spec.yaml", F.dir);
    char *changed = malloc(sizeof spec_text + 16);
    assert_non_null(changed);
    snprintf(changed, sizeof spec_text + 16, "%s# changed\n", spec_text);
    test_write_file(spec, changed, strlen(changed));
    free(changed);
    sweep_spec *other;
    assert_int_equal(sweep_spec_load(spec, PRESETS, &other, &e), RT_OK);
    assert_int_equal(sweep_store_open(F.store, other, F.points, true, &st, &e), RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "holds the results of another sweep"));
    assert_non_null(strstr(e.msg, "use another --out directory"));
    sweep_spec_free(other);
}

static void test_parts_merge(void **state)
{
    (void)state;
    char part[700];
    snprintf(part, sizeof part, "%s/part.sqlite", F.dir);
    sweep_store *st, *p;
    rt_error e;
    assert_int_equal(sweep_store_open(F.store, F.spec, F.points, true, &st, &e), RT_OK);
    assert_int_equal(sweep_store_open(part, F.spec, F.points, false, &p, &e), RT_OK);
    put_point(st, 1, -1);
    put_point(p, 2, -1);
    put_point(p, 3, 0);
    sweep_store_close(p);
    assert_int_equal(sweep_store_merge(st, part, &e), RT_OK);
    assert_int_equal(sweep_store_merge(st, part, &e), RT_OK); /* idempotent: rows replace themselves */
    unsigned char s[4 * 7];
    assert_int_equal(sweep_store_states(st, F.points->n, s, &e), RT_OK);
    assert_int_equal(s[1], SWEEP_POINT_OK);
    assert_int_equal(s[2], SWEEP_POINT_OK);
    assert_int_equal(s[3], SWEEP_POINT_FAILED);
    sweep_store_close(st);
    sqlite3 *db = open_raw(F.store);
    assert_int_equal(scalar(db, "SELECT count(*) FROM results"), 3 * WORKLOADS);
    sqlite3_close(db);
    /* a file that is not a part of this sweep is refused */
    char foreign[700];
    snprintf(foreign, sizeof foreign, "%s/foreign.sqlite", F.dir);
    sqlite3 *fdb;
    assert_int_equal(sqlite3_open(foreign, &fdb), SQLITE_OK);
    assert_int_equal(sqlite3_exec(fdb, "CREATE TABLE meta(key TEXT, value TEXT); INSERT INTO meta VALUES "
                                       "('identity', 'ffffffffffffffff'); CREATE TABLE results(x)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(fdb);
    assert_int_equal(sweep_store_open(F.store, F.spec, F.points, true, &st, &e), RT_OK);
    assert_int_equal(sweep_store_merge(st, foreign, &e), RT_ERR_ARG);
    assert_non_null(strstr(e.msg, "not a part of the sweep"));
    sweep_store_close(st);
}

/* A writer killed with SIGKILL while it writes points, at many different moments: each point has
 * every workload's row or none, and the database is intact. The writer prepares its rows first,
 * so that it spends its time in the store when the signal comes, and writes far more points than
 * it can before the signal (the store does not check that a point exists). */
#define KILL_ROUNDS 24
#define KILL_STEP_NS 40000L
#define WRITER_POINTS 1000000

static void test_kill_9_leaves_no_torn_point(void **state)
{
    (void)state;
    m4npu_config cfg;
    char hash[SWEEP_HASH_HEX];
    rt_error e;
    assert_int_equal(sweep_point_config(F.spec, F.points, 0, &F.base, &cfg, &e), RT_OK);
    sweep_config_hash(&cfg, hash);
    for (int round = 0; round < KILL_ROUNDS; round++) {
        unlink(F.store);
        char wal[700];
        snprintf(wal, sizeof wal, "%s-wal", F.store);
        unlink(wal);
        sweep_store *st;
        assert_int_equal(sweep_store_open(F.store, F.spec, F.points, true, &st, &e), RT_OK);
        sweep_store_close(st);
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            sweep_store *cs;
            rt_error ce;
            sweep_result rows[WORKLOADS];
            if (sweep_store_open(F.store, F.spec, F.points, true, &cs, &ce) != RT_OK)
                _exit(2);
            for (int i = 0; i < WRITER_POINTS; i++) {
                make_rows(i, -1, rows);
                if (i == 1 && write(fds[1], "x", 1) != 1) /* writing: kill me now */
                    _exit(3);
                if (sweep_store_put(cs, F.spec, i, &cfg, hash, rows, "test-1", &ce) != RT_OK)
                    _exit(4);
            }
            _exit(0);
        }
        close(fds[1]);
        char c;
        assert_int_equal(read(fds[0], &c, 1), 1);
        struct timespec pause = {0, KILL_STEP_NS * round}; /* a different moment each round */
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* killed while writing */
        close(fds[0]);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(F.store, &db), SQLITE_OK);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
        sqlite3_finalize(q);
        long long torn = scalar(db, "SELECT count(*) FROM (SELECT point FROM results GROUP BY point HAVING count(*) "
                                    "<> 3)");
        if (torn)
            fail_msg("round %d: %lld points with some but not all of their rows", round, torn);
        assert_true(scalar(db, "SELECT count(DISTINCT point) FROM results") >= 1);
        assert_int_equal(scalar(db, "SELECT count(*) FROM results WHERE status = 'ok' AND (latency_s IS NULL OR "
                                    "energy_j IS NULL OR npu_s IS NULL)"),
                         0);
        sqlite3_close(db);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows_and_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_store_belongs_to_one_spec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parts_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_9_leaves_no_torn_point, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
