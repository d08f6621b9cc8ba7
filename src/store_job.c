/*
 * store_job -- the store's jobs tables: background jobs (src/job.c) and
 * their payloads, kept in the same file as the documents so that a job's
 * progress commits in the same transaction as the documents it counts.
 *
 * Part of the store module (store.h): the only other file that knows the
 * SQLite layout.  Jobs are rare next to searches, so statements are
 * prepared per call rather than kept.
 */
#include "store.h"
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Added in schema version 3.  job_docs holds the payload: one JSON object
 * per document, numbered from 0 within its job. */
const char store_job_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS jobs("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, status TEXT NOT NULL, into_ TEXT NOT NULL,"
    "  total INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,"
    "  failed INTEGER NOT NULL DEFAULT 0, chunks INTEGER NOT NULL DEFAULT 0,"
    "  errors TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL DEFAULT 0, finished_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS job_docs("
    "  job_id INTEGER NOT NULL, idx INTEGER NOT NULL, doc TEXT NOT NULL,"
    "  PRIMARY KEY(job_id, idx)) WITHOUT ROWID;";

#define STORE_JOB_COLS                                                                  \
    "id, status, into_, total, done, failed, chunks, errors, created_at, started_at,"  \
    " finished_at"

static sqlite3_stmt *store_job_prepare(store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (store_pg_of(s)) /* never used: the public function passes the call on */
        return NULL;
    if (sqlite3_prepare_v2(store_sqlite(s), sql, -1, &st, NULL) != SQLITE_OK) {
        store_fail(s);
        return NULL;
    }
    return st;
}

/* Read the row st is on (STORE_JOB_COLS) into *j.  Returns 0 or -1. */
static int store_job_row(store *s, sqlite3_stmt *st, store_job *j)
{
    const char *status = (const char *)sqlite3_column_text(st, 1),
               *into = (const char *)sqlite3_column_text(st, 2),
               *errors = (const char *)sqlite3_column_text(st, 7);

    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    snprintf(j->status, sizeof j->status, "%s", status ? status : "");
    snprintf(j->into, sizeof j->into, "%s", into ? into : "[]");
    j->total = sqlite3_column_int64(st, 3);
    j->done = sqlite3_column_int64(st, 4);
    j->failed = sqlite3_column_int64(st, 5);
    j->chunks = sqlite3_column_int64(st, 6);
    j->created_at = sqlite3_column_int64(st, 8);
    j->started_at = sqlite3_column_int64(st, 9);
    j->finished_at = sqlite3_column_int64(st, 10);
    if (!(j->errors = strdup(errors ? errors : "[]")))
        return store_fail_msg(s, "out of memory");
    return 0;
}

static int store_job_add_docs(store *s, int64_t id, const char *const *docs, size_t n)
{
    sqlite3_stmt *st = store_job_prepare(s, "INSERT INTO job_docs(job_id, idx, doc) "
                                            "VALUES(?1, ?2, ?3)");
    int rc = 0;

    if (!st)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, (sqlite3_int64)i) != SQLITE_OK ||
            sqlite3_bind_text(st, 3, docs[i], -1, SQLITE_STATIC) != SQLITE_OK)
            rc = store_fail(s);
        else
            rc = store_step(s, st);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_job_add(store *s, const char *into, const char *const *docs, size_t n, int64_t now,
                  int64_t *id)
{
    if (store_pg_of(s))
        return store_pg_job_add(store_pg_of(s), into, docs, n, now, id);
    sqlite3_stmt *st = NULL;

    if (store_begin(s) < 0)
        return -1;
    if (!(st = store_job_prepare(s, "INSERT INTO jobs(status, into_, total, created_at) "
                                    "VALUES('queued', ?1, ?2, ?3)")))
        goto fail;
    if (sqlite3_bind_text(st, 1, into, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)n) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, now) != SQLITE_OK) {
        store_fail(s);
        goto fail;
    }
    if (store_step(s, st) < 0)
        goto fail;
    *id = sqlite3_last_insert_rowid(store_sqlite(s));
    if (store_job_add_docs(s, *id, docs, n) < 0 || store_commit(s) < 0)
        goto fail;
    sqlite3_finalize(st);
    return 0;
fail:
    sqlite3_finalize(st);
    store_rollback(s);
    return -1;
}

int store_job_get(store *s, int64_t id, store_job *j)
{
    if (store_pg_of(s))
        return store_pg_job_get(store_pg_of(s), id, j);
    sqlite3_stmt *st = store_job_prepare(s, "SELECT " STORE_JOB_COLS " FROM jobs WHERE id = ?1");
    int rc;

    if (!st)
        return -1;
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK)
        rc = store_fail(s);
    else if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        rc = store_job_row(s, st, j) < 0 ? -1 : 1;
    else
        rc = rc == SQLITE_DONE ? 0 : store_fail(s);
    sqlite3_finalize(st);
    return rc;
}

int store_job_list(store *s, int limit, store_job_fn fn, void *arg)
{
    if (store_pg_of(s))
        return store_pg_job_list(store_pg_of(s), limit, fn, arg);
    sqlite3_stmt *st = store_job_prepare(s, "SELECT " STORE_JOB_COLS
                                            " FROM jobs ORDER BY id DESC LIMIT ?1");
    store_job j;
    int rc;

    if (!st)
        return -1;
    if (sqlite3_bind_int(st, 1, limit) != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_fail(s);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stop;
        if (store_job_row(s, st, &j) < 0) {
            sqlite3_finalize(st);
            return -1;
        }
        stop = fn(arg, &j);
        store_job_release(&j);
        if (stop) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        store_fail(s);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_job_update(store *s, const store_job *j)
{
    if (store_pg_of(s))
        return store_pg_job_update(store_pg_of(s), j);
    sqlite3_stmt *st = store_job_prepare(s, "UPDATE jobs SET status = ?2, done = ?3, failed = ?4,"
                                            " chunks = ?5, errors = ?6, started_at = ?7,"
                                            " finished_at = ?8 WHERE id = ?1");
    int rc;

    if (!st)
        return -1;
    if (sqlite3_bind_int64(st, 1, j->id) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, j->status, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, j->done) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, j->failed) != SQLITE_OK ||
        sqlite3_bind_int64(st, 5, j->chunks) != SQLITE_OK ||
        sqlite3_bind_text(st, 6, j->errors ? j->errors : "[]", -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 7, j->started_at) != SQLITE_OK ||
        sqlite3_bind_int64(st, 8, j->finished_at) != SQLITE_OK)
        rc = store_fail(s);
    else
        rc = store_step(s, st);
    sqlite3_finalize(st);
    return rc;
}

int store_job_docs(store *s, int64_t id, int64_t from, int64_t n, store_job_doc_fn fn,
                   void *arg)
{
    if (store_pg_of(s))
        return store_pg_job_docs(store_pg_of(s), id, from, n, fn, arg);
    sqlite3_stmt *st = store_job_prepare(s, "SELECT idx, doc FROM job_docs WHERE job_id = ?1"
                                            " AND idx >= ?2 AND idx < ?3 ORDER BY idx");
    int rc;

    if (!st)
        return -1;
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, from) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, from + n) != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_fail(s);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *doc = (const char *)sqlite3_column_text(st, 1);
        if (fn(arg, sqlite3_column_int64(st, 0), doc ? doc : "")) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        store_fail(s);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_job_next(store *s, int64_t *id)
{
    if (store_pg_of(s))
        return store_pg_job_next(store_pg_of(s), id);
    sqlite3_stmt *st = store_job_prepare(s, "SELECT id FROM jobs WHERE status IN"
                                            " ('running', 'queued') ORDER BY id LIMIT 1");
    int rc;

    if (!st)
        return -1;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_fail(s);
    sqlite3_finalize(st);
    return rc;
}

int store_job_expire(store *s, int64_t before, int64_t *n)
{
    if (store_pg_of(s))
        return store_pg_job_expire(store_pg_of(s), before, n);
    static const char sql[] =
        "DELETE FROM job_docs WHERE job_id IN (SELECT id FROM jobs WHERE finished_at > 0"
        " AND finished_at < ?1);"
        "DELETE FROM jobs WHERE finished_at > 0 AND finished_at < ?1";
    const char *tail = sql;
    int rc = 0;

    *n = 0;
    if (store_begin(s) < 0)
        return -1;
    while (rc == 0 && tail && *tail) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_sqlite(s), tail, -1, &st, &tail) != SQLITE_OK ||
            sqlite3_bind_int64(st, 1, before) != SQLITE_OK)
            rc = store_fail(s);
        else
            rc = store_step(s, st);
        *n = sqlite3_changes(store_sqlite(s));
        sqlite3_finalize(st);
    }
    if (rc == 0 && store_commit(s) < 0)
        rc = -1;
    if (rc < 0)
        store_rollback(s);
    return rc;
}
