/*
 * store -- opening ragd's SQLite file and reading/writing its meta table.
 *
 * This is where the file gets its schema, its WAL mode and its busy timeout,
 * and where a reader learns that a path is not a ragd database before it
 * runs a query against it.  It is not the place for document, chunk or
 * vector I/O: `ragd ingest` and the sources prepare their own statements
 * against the schema in store.h.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Long enough for a reader to wait out an ingest batch's commit. */
#define STORE_BUSY_MS 5000

/* How the schema_version check came out. */
enum { STORE_SCHEMA_OK, STORE_SCHEMA_EMPTY, STORE_SCHEMA_BAD };

static void store_errf(char *err, size_t errlen, const char *path,
                       const char *what, const char *detail)
{
    if (detail)
        snprintf(err, errlen, "%s: %s (%s)", path, what, detail);
    else
        snprintf(err, errlen, "%s: %s", path, what);
}

/* Classify the open file: STORE_SCHEMA_OK when meta.schema_version is ours,
 * STORE_SCHEMA_EMPTY when the file holds no tables at all (a new file),
 * STORE_SCHEMA_BAD otherwise with the reason in err.  Returns -1 only when
 * SQLite itself fails, with its message in err. */
static int store_check_schema(sqlite3 *db, const char *path, int *state,
                              char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
        "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL);

    if (rc != SQLITE_OK) {
        /* No meta table: a brand-new file is fine for a writer, anything
         * else belongs to some other program. */
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1,
                               &st, NULL) != SQLITE_OK
            || sqlite3_step(st) != SQLITE_ROW) {
            store_errf(err, errlen, path,
                       "not a ragd database (run 'ragd ingest' first)",
                       sqlite3_errmsg(db));
            sqlite3_finalize(st);
            *state = STORE_SCHEMA_BAD;
            return 0;
        }
        *state = sqlite3_column_int64(st, 0) == 0 ? STORE_SCHEMA_EMPTY
                                                  : STORE_SCHEMA_BAD;
        if (*state == STORE_SCHEMA_BAD)
            store_errf(err, errlen, path,
                       "not a ragd database (run 'ragd ingest' first)", NULL);
        sqlite3_finalize(st);
        return 0;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v && atoi(v) == STORE_SCHEMA_VERSION) {
            *state = STORE_SCHEMA_OK;
        } else {
            snprintf(err, errlen,
                     "%s: ragd schema version %s, this ragd needs %d "
                     "(ingest into a new file)",
                     path, v ? v : "(null)", STORE_SCHEMA_VERSION);
            *state = STORE_SCHEMA_BAD;
        }
    } else if (rc == SQLITE_DONE) {
        store_errf(err, errlen, path,
                   "not a ragd database (run 'ragd ingest' first)",
                   "meta has no schema_version");
        *state = STORE_SCHEMA_BAD;
    } else {
        store_errf(err, errlen, path, "cannot read meta", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

/* Switch to WAL; the pragma answers with the mode actually in force, which
 * stays "delete" on file systems that cannot share memory. */
static int store_set_wal(sqlite3 *db, const char *path, char *err,
                         size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        /* The first statement to read the file finds a non-SQLite file. */
        store_errf(err, errlen, path,
                   sqlite3_errcode(db) == SQLITE_NOTADB
                       ? "not a ragd database" : "cannot enable WAL mode",
                   sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        store_errf(err, errlen, path, "cannot enable WAL mode",
                   mode ? mode : "no answer");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int store_exec(sqlite3 *db, const char *path, const char *sql,
                      const char *what, char *err, size_t errlen)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        store_errf(err, errlen, path, what, sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Create the schema and stamp its version in one transaction, so a crash
 * never leaves a half-made store that later opens would misjudge. */
static int store_create_schema(sqlite3 *db, const char *path, char *err,
                               size_t errlen)
{
    char ver[16];

    if (store_exec(db, path, "BEGIN IMMEDIATE", "cannot start transaction",
                   err, errlen) < 0)
        return -1;
    if (store_exec(db, path, STORE_SCHEMA_SQL, "cannot create schema", err,
                   errlen) < 0)
        goto fail;
    snprintf(ver, sizeof ver, "%d", STORE_SCHEMA_VERSION);
    if (store_meta_set(db, "schema_version", ver) < 0) {
        store_errf(err, errlen, path, "cannot set schema_version",
                   sqlite3_errmsg(db));
        goto fail;
    }
    if (store_exec(db, path, "COMMIT", "cannot commit schema", err,
                   errlen) < 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int store_open_rw(sqlite3 *db, const char *path, char *err,
                         size_t errlen)
{
    int state;

    if (sqlite3_db_readonly(db, "main") == 1) {
        store_errf(err, errlen, path, "not writable", NULL);
        return -1;
    }
    if (store_set_wal(db, path, err, errlen) < 0
        || store_exec(db, path, "PRAGMA synchronous=NORMAL",
                      "cannot set synchronous mode", err, errlen) < 0
        || store_check_schema(db, path, &state, err, errlen) < 0)
        return -1;
    if (state == STORE_SCHEMA_BAD)
        return -1;
    /* Runs on every writable open so a store made by an older ragd with
     * the same schema version gains any IF NOT EXISTS object it lacks. */
    return store_create_schema(db, path, err, errlen);
}

static int store_open_ro(sqlite3 *db, const char *path, char *err,
                         size_t errlen)
{
    int state;

    if (store_check_schema(db, path, &state, err, errlen) < 0)
        return -1;
    if (state == STORE_SCHEMA_EMPTY)
        store_errf(err, errlen, path,
                   "not a ragd database (run 'ragd ingest' first)", NULL);
    return state == STORE_SCHEMA_OK ? 0 : -1;
}

int store_open(const char *path, int writable, sqlite3 **db, char *err,
               size_t errlen)
{
    struct stat sb;
    sqlite3 *h = NULL;
    int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         : SQLITE_OPEN_READONLY;

    *db = NULL;
    /* SQLite's "unable to open database file" does not say why; stat does. */
    if (!writable && stat(path, &sb) != 0) {
        store_errf(err, errlen, path, strerror(errno),
                   "run 'ragd ingest' first");
        return -1;
    }
    if (sqlite3_open_v2(path, &h, flags, NULL) != SQLITE_OK) {
        if (h)
            store_errf(err, errlen, path, "cannot open", sqlite3_errmsg(h));
        else
            store_errf(err, errlen, path, "cannot open", "out of memory");
        goto fail;
    }
    if (sqlite3_busy_timeout(h, STORE_BUSY_MS) != SQLITE_OK) {
        store_errf(err, errlen, path, "cannot set busy timeout",
                   sqlite3_errmsg(h));
        goto fail;
    }
    if ((writable ? store_open_rw : store_open_ro)(h, path, err, errlen) < 0)
        goto fail;
    *db = h;
    return 0;
fail:
    sqlite3_close(h);
    return -1;
}

int store_meta_get(sqlite3 *db, const char *key, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;

    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1,
                           &st, NULL) != SQLITE_OK
        || sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
        goto done;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v && outlen > 0) {
            snprintf(out, outlen, "%s", v);
            ret = 0;
        }
    }
done:
    sqlite3_finalize(st);
    return ret;
}

int store_meta_set(sqlite3 *db, const char *key, const char *value)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;

    if (sqlite3_prepare_v2(db,
            "INSERT INTO meta(key, value) VALUES(?1, ?2) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            -1, &st, NULL) != SQLITE_OK
        || sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC) != SQLITE_OK)
        goto done;
    if (sqlite3_step(st) == SQLITE_DONE)
        ret = 0;
done:
    sqlite3_finalize(st);
    return ret;
}
