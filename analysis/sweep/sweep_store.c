/* sweep_store.c -- a sweep's results in SQLite (Debian's libsqlite3): a meta table that names
 * the spec the store belongs to, its axes, workloads and metrics, and a results table with one
 * row per point and workload (the knob values, the configuration hash, the metrics, the status
 * and error, the wall time and the tool version).
 *
 * Crash safety is SQLite's: the rows of a point are written in one transaction, so a process
 * killed at any instant (kill -9 of the sweep or of a worker) leaves either all of a point's rows
 * or none, never a torn row. The main store runs in WAL mode with a busy timeout, so a pool of
 * worker processes on one host can write it concurrently; a Slurm array task writes a part file
 * of its own with a rollback journal (WAL needs shared memory on one host, which a shared file
 * system does not give) and the driver merges the parts, one transaction each. */
#include "sweep_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

void sweep_sql_column(const char *name, char *buf, size_t size)
{
    size_t o = 0;
    if (size < 3) {
        if (size)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (const char *p = name; *p && o + 3 < size; p++) {
        if (*p == '"')
            buf[o++] = '"';
        buf[o++] = *p;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

static rt_status db_error(sweep_store *st, rt_error *e, const char *what)
{
    return rt_error_set(e, RT_ERR_IO, "%s: %s: %s", st->path, what, st->db ? sqlite3_errmsg(st->db) : "no database");
}

static rt_status exec(sweep_store *st, const char *sql, rt_error *e)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        rt_status s = rt_error_set(e, RT_ERR_IO, "%s: %s", st->path, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return s;
    }
    return RT_OK;
}

/* A meta value (malloc'd), or NULL if absent. */
static char *meta_get(sweep_store *st, const char *key)
{
    sqlite3_stmt *q;
    char *v = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
        v = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    return v;
}

static rt_status meta_put(sweep_store *st, const char *key, const char *value, rt_error *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO meta(key, value) VALUES (?, ?)", -1, &q, NULL) != SQLITE_OK)
        return db_error(st, e, "meta");
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, value, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? RT_OK : db_error(st, e, "meta");
}

static const char *axis_sql_type(const sweep_axis *ax)
{
    switch (ax->key->kind) {
    case M4NPU_CFG_F64: return "REAL";
    case M4NPU_CFG_ENUM: return "TEXT";
    default: return "INTEGER";
    }
}

static rt_status put_json(sweep_store *st, const char *key, json_t *j, rt_error *e)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep store)");
    rt_status s = meta_put(st, key, text, e);
    free(text);
    return s;
}

/* The tables of a new store (inside the caller's transaction). */
static rt_status create(sweep_store *st, const sweep_spec *s, const sweep_points *p, rt_error *e)
{
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    if (!f)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep store)");
    fputs("CREATE TABLE results(point INTEGER NOT NULL, workload TEXT NOT NULL, "
          "status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), error TEXT, config_hash TEXT NOT NULL, "
          "wall_s REAL NOT NULL, version TEXT NOT NULL, finished_at TEXT NOT NULL",
          f);
    char col[2 * M4NPU_CONFIG_KEY_LEN];
    for (int a = 0; a < s->n_axes; a++) {
        sweep_sql_column(s->axes[a].key->path, col, sizeof col);
        fprintf(f, ", %s %s", col, axis_sql_type(&s->axes[a]));
    }
    for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
        if (s->metric[m]) {
            sweep_sql_column(sweep_metric_name((sweep_metric)m), col, sizeof col);
            fprintf(f, ", %s REAL", col);
        }
    fputs(", PRIMARY KEY (point, workload))", f);
    fclose(f);
    rt_status r = exec(st, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)", e);
    if (r == RT_OK)
        r = exec(st, sql, e);
    free(sql);
    if (r != RT_OK)
        return r;
    char num[32];
    json_t *axes = json_array(), *metrics = json_array(), *workloads = json_array();
    for (int a = 0; a < s->n_axes; a++)
        json_array_append_new(axes, json_pack("{s:s, s:s}", "key", s->axes[a].key->path, "type",
                                              axis_sql_type(&s->axes[a])));
    for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
        if (s->metric[m])
            json_array_append_new(metrics, json_string(sweep_metric_name((sweep_metric)m)));
    for (int w = 0; w < s->n_workloads; w++)
        json_array_append_new(workloads, json_string(s->workloads[w].name));
    snprintf(num, sizeof num, "%d", SWEEP_STORE_SCHEMA_VERSION);
    if ((r = meta_put(st, SWEEP_META_SCHEMA, num, e)) != RT_OK ||
        (r = meta_put(st, SWEEP_META_IDENTITY, s->identity, e)) != RT_OK ||
        (r = meta_put(st, SWEEP_META_SPEC_PATH, s->path, e)) != RT_OK ||
        (r = meta_put(st, SWEEP_META_SPEC, s->text, e)) != RT_OK ||
        (r = meta_put(st, SWEEP_META_BASE_PATH, s->base_path, e)) != RT_OK)
        goto fail;
    snprintf(num, sizeof num, "%d", p->n);
    if ((r = meta_put(st, SWEEP_META_POINTS, num, e)) != RT_OK)
        goto fail;
    snprintf(num, sizeof num, "%d", p->n_candidates);
    if ((r = meta_put(st, SWEEP_META_CANDIDATES, num, e)) != RT_OK)
        goto fail;
    r = put_json(st, SWEEP_META_AXES, axes, e);
    axes = NULL;
    if (r == RT_OK)
        r = put_json(st, SWEEP_META_METRICS, metrics, e);
    metrics = NULL;
    if (r == RT_OK)
        r = put_json(st, SWEEP_META_WORKLOADS, workloads, e);
    workloads = NULL;
    if (r == RT_OK)
        r = put_json(st, SWEEP_META_AREA,
                     json_pack("{s:f, s:f}", "mm2_per_mac", s->area.mm2_per_mac, "mm2_per_mib", s->area.mm2_per_mib), e);
    return r;
fail:
    json_decref(axes);
    json_decref(metrics);
    json_decref(workloads);
    return r;
}

static rt_status open_db(const char *path, int flags, sweep_store **out, rt_error *e)
{
    *out = NULL;
    sweep_store *st = calloc(1, sizeof *st);
    if (!st)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep store)");
    snprintf(st->path, sizeof st->path, "%s", path);
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        rt_status r = db_error(st, e, "cannot open");
        sweep_store_close(st);
        return r;
    }
    sqlite3_busy_timeout(st->db, SWEEP_STORE_BUSY_MS);
    *out = st;
    return RT_OK;
}

static int count_workloads(sweep_store *st)
{
    char *w = meta_get(st, SWEEP_META_WORKLOADS);
    json_t *j = w ? json_loads(w, 0, NULL) : NULL;
    int n = json_is_array(j) ? (int)json_array_size(j) : 0;
    json_decref(j);
    free(w);
    return n;
}

rt_status sweep_store_open(const char *path, const sweep_spec *s, const sweep_points *p, bool wal,
                           sweep_store **out, rt_error *e)
{
    sweep_store *st;
    rt_status r = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &st, e);
    if (r != RT_OK)
        return r;
    /* WAL: readers never block the writer, and a commit is one append to the log; NORMAL
     * synchronisation keeps every commit across a crash of the process (not of the machine) */
    if ((r = exec(st, wal ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
                          : "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL",
                  e)) != RT_OK ||
        (r = exec(st, "BEGIN IMMEDIATE", e)) != RT_OK)
        goto fail;
    sqlite3_stmt *q;
    int exists = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", -1, &q,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            exists = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    if (!exists) {
        r = create(st, s, p, e);
    } else {
        char *id = meta_get(st, SWEEP_META_IDENTITY), *spec = meta_get(st, SWEEP_META_SPEC_PATH);
        if (!id || strcmp(id, s->identity) != 0)
            r = rt_error_set(e, RT_ERR_ARG,
                             "%s holds the results of another sweep (%s, identity %s; this spec %s is %s): the spec or "
                             "its base configuration changed; use another --out directory",
                             path, spec ? spec : "?", id ? id : "none", s->path, s->identity);
        free(id);
        free(spec);
    }
    if (r != RT_OK) {
        exec(st, "ROLLBACK", NULL);
        goto fail;
    }
    if ((r = exec(st, "COMMIT", e)) != RT_OK)
        goto fail;
    st->n_workloads = s->n_workloads;
    *out = st;
    return RT_OK;
fail:
    sweep_store_close(st);
    return r;
}

rt_status sweep_store_open_read(const char *path, sweep_store **out, rt_error *e)
{
    sweep_store *st;
    rt_status r = open_db(path, SQLITE_OPEN_READONLY, &st, e);
    if (r != RT_OK)
        return r;
    char *id = meta_get(st, SWEEP_META_IDENTITY);
    if (!id) {
        r = rt_error_set(e, RT_ERR_ARG, "%s: not a sweep's results (no meta table)", path);
        sweep_store_close(st);
        return r;
    }
    free(id);
    st->n_workloads = count_workloads(st);
    *out = st;
    return RT_OK;
}

void sweep_store_close(sweep_store *st)
{
    if (!st)
        return;
    sqlite3_finalize(st->put);
    sqlite3_close(st->db);
    free(st);
}

rt_status sweep_store_states(sweep_store *st, int n, unsigned char *state, rt_error *e)
{
    memset(state, SWEEP_POINT_TODO, (size_t)n);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT point, count(*), sum(status = 'ok') FROM results GROUP BY point", -1, &q,
                           NULL) != SQLITE_OK)
        return db_error(st, e, "reading the results");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int point = sqlite3_column_int(q, 0), rows = sqlite3_column_int(q, 1), ok = sqlite3_column_int(q, 2);
        if (point < 0 || point >= n || rows < st->n_workloads)
            continue;
        state[point] = ok == rows ? SWEEP_POINT_OK : SWEEP_POINT_FAILED;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? RT_OK : db_error(st, e, "reading the results");
}

rt_status sweep_store_point_state(sweep_store *st, int point, int n_workloads, sweep_point_state *state, rt_error *e)
{
    sqlite3_stmt *q;
    *state = SWEEP_POINT_TODO;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*), sum(status = 'ok') FROM results WHERE point = ?", -1, &q,
                           NULL) != SQLITE_OK)
        return db_error(st, e, "reading the results");
    sqlite3_bind_int(q, 1, point);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        int rows = sqlite3_column_int(q, 0), ok = sqlite3_column_int(q, 1);
        if (rows >= n_workloads)
            *state = ok == rows ? SWEEP_POINT_OK : SWEEP_POINT_FAILED;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? RT_OK : db_error(st, e, "reading the results");
}

static rt_status prepare_put(sweep_store *st, const sweep_spec *s, rt_error *e)
{
    char *sql = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&sql, &len);
    if (!f)
        return rt_error_set(e, RT_ERR_NOMEM, "out of memory (sweep store)");
    int n = 8;
    fputs("INSERT OR REPLACE INTO results(point, workload, status, error, config_hash, wall_s, version, finished_at", f);
    char col[2 * M4NPU_CONFIG_KEY_LEN];
    for (int a = 0; a < s->n_axes; a++, n++) {
        sweep_sql_column(s->axes[a].key->path, col, sizeof col);
        fprintf(f, ", %s", col);
    }
    for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
        if (s->metric[m]) {
            sweep_sql_column(sweep_metric_name((sweep_metric)m), col, sizeof col);
            fprintf(f, ", %s", col);
            n++;
        }
    fputs(") VALUES (", f);
    for (int i = 0; i < n; i++)
        fputs(i ? ", ?" : "?", f);
    fputs(")", f);
    fclose(f);
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &st->put, NULL);
    free(sql);
    return rc == SQLITE_OK ? RT_OK : db_error(st, e, "preparing the insert");
}

static void bind_knob(sqlite3_stmt *q, int col, const sweep_axis *ax, const m4npu_config *cfg)
{
    const m4npu_cfg_key *k = ax->key;
    const unsigned char *member = (const unsigned char *)cfg + k->offset;
    if (k->kind == M4NPU_CFG_ENUM) {
        uint32_t v;
        memcpy(&v, member, sizeof v);
        const char *name = NULL;
        for (uint32_t i = 0; k->names && k->names[i]; i++)
            if (i == v)
                name = k->names[i];
        if (name)
            sqlite3_bind_text(q, col, name, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(q, col);
        return;
    }
    if (k->kind == M4NPU_CFG_F64) {
        double v;
        memcpy(&v, member, sizeof v);
        sqlite3_bind_double(q, col, v);
        return;
    }
    uint64_t v = 0;
    if (k->kind == M4NPU_CFG_U32) {
        uint32_t v32;
        memcpy(&v32, member, sizeof v32);
        v = v32;
    } else {
        memcpy(&v, member, sizeof v);
    }
    sqlite3_bind_int64(q, col, (sqlite3_int64)v);
}

rt_status sweep_store_put(sweep_store *st, const sweep_spec *s, int point, const m4npu_config *cfg,
                          const char *config_hash, const sweep_result *rows, const char *version, rt_error *e)
{
    rt_status r;
    if (!st->put && (r = prepare_put(st, s, e)) != RT_OK)
        return r;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if ((r = exec(st, "BEGIN IMMEDIATE", e)) != RT_OK)
        return r;
    for (int w = 0; w < s->n_workloads; w++) {
        const sweep_result *row = &rows[w];
        sqlite3_stmt *q = st->put;
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        int c = 1;
        sqlite3_bind_int(q, c++, point);
        sqlite3_bind_text(q, c++, s->workloads[w].name, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, c++, row->ok ? "ok" : "failed", -1, SQLITE_STATIC);
        if (row->ok)
            sqlite3_bind_null(q, c++);
        else
            sqlite3_bind_text(q, c++, row->error, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, c++, config_hash, -1, SQLITE_STATIC);
        sqlite3_bind_double(q, c++, row->wall_s);
        sqlite3_bind_text(q, c++, version, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, c++, when, -1, SQLITE_STATIC);
        for (int a = 0; a < s->n_axes; a++)
            bind_knob(q, c++, &s->axes[a], cfg);
        for (int m = 0; m < SWEEP_METRIC_COUNT; m++)
            if (s->metric[m]) {
                if (row->has[m])
                    sqlite3_bind_double(q, c, row->metric[m]);
                c++;
            }
        if (sqlite3_step(q) != SQLITE_DONE) {
            r = db_error(st, e, "writing a row");
            exec(st, "ROLLBACK", NULL);
            return r;
        }
    }
    sqlite3_reset(st->put);
    return exec(st, "COMMIT", e);
}

rt_status sweep_store_merge(sweep_store *st, const char *part_path, rt_error *e)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "ATTACH DATABASE ? AS part", -1, &q, NULL) != SQLITE_OK)
        return db_error(st, e, "attaching a part");
    sqlite3_bind_text(q, 1, part_path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return db_error(st, e, "attaching a part");
    rt_status r = RT_OK;
    char *mine = meta_get(st, SWEEP_META_IDENTITY), *theirs = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM part.meta WHERE key = 'identity'", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
            theirs = strdup((const char *)sqlite3_column_text(q, 0));
        sqlite3_finalize(q);
    }
    if (!mine || !theirs || strcmp(mine, theirs) != 0)
        r = rt_error_set(e, RT_ERR_ARG, "%s: not a part of the sweep in %s", part_path, st->path);
    if (r == RT_OK && (r = exec(st, "BEGIN IMMEDIATE", e)) == RT_OK) {
        if ((r = exec(st, "INSERT OR REPLACE INTO main.results SELECT * FROM part.results", e)) == RT_OK)
            r = exec(st, "COMMIT", e);
        else
            exec(st, "ROLLBACK", NULL);
    }
    free(mine);
    free(theirs);
    exec(st, "DETACH DATABASE part", NULL);
    return r;
}
