/*
 * store -- ragd's documents in one SQLite file: its schema and version, how
 * it is opened, every statement run against it, and the upgrade of stores
 * written by an older ragd.
 *
 * Statements are prepared on first use and kept in the handle.  Writes keep
 * the change log in step with the documents by construction: the only
 * functions that change a document are store_put and store_delete, and each
 * appends its log entry in the same transaction.  Not the place for
 * chunking, embedding or ranking: callers hand in chunks and vectors and
 * get rows back.
 */
#include "store.h"
#include "store_int.h"
#include "store_vec.h"
#include "store_pg.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

/* Version 2 added the change log, version 3 the jobs (store_job.c). */
#define STORE_SCHEMA_VERSION 3

/* One policy for every handle: long enough for a reader to wait out an
 * ingest batch's commit or a checkpoint, and for a writer to wait out
 * another writer's batch. */
#define STORE_BUSY_MS 5000

/* Readers map the file: without it every page a query touches costs a
 * pread() and a copy, which was a sixth of the server's CPU under load. */
#define STORE_MMAP_SQL "PRAGMA mmap_size=1073741824"

/* The upgrade a refused older store needs, for messages and --help. */
#define STORE_MIGRATE_CMD "ragd ingest --migrate --db "

/* Schema version 2; version 1 is the same without the changes table.
 * vectors.vec is embed_dims float32 values, little-endian.  kb_fts rowid is
 * the chunk id.  changes.op is a store_op. */
static const char store_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS docs("
    "  id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', url TEXT,"
    "  metadata TEXT);"
    "CREATE TABLE IF NOT EXISTS chunks("
    "  id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  text TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);"
    "CREATE TABLE IF NOT EXISTS vectors("
    "  chunk_id INTEGER PRIMARY KEY, vec BLOB NOT NULL);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5(" STORE_KB_FTS_COLUMNS ");"
    "CREATE TABLE IF NOT EXISTS changes("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL,"
    "  op INTEGER NOT NULL);";

/* The upgrade from version 1: one put per document, so that the changes
 * after 0 reproduce the store. */
static const char store_seed_sql[] =
    "INSERT INTO changes(doc_id, op) SELECT id, 1 FROM docs ORDER BY rowid";

enum {
    ST_META_GET, ST_META_SET, ST_CHUNK_IDS, ST_DEL_KB, ST_DEL_VEC, ST_DEL_CHUNKS,
    ST_DEL_DOC, ST_INS_DOC, ST_INS_CHUNK, ST_INS_VEC, ST_INS_KB, ST_LOG, ST_LAST_SEQ,
    ST_CHANGES, ST_ANY_VEC, ST_VEC_COUNT, ST_VECS_ALL, ST_VECS_DOC, ST_CHUNK_GET, ST_DOC_GET,
    ST_DOC_META, ST_TRIMMED, ST_TRIM, ST_TRIM_MARK, ST_READ_BEGIN, ST_READ_END,
    ST_COUNT
};

static const char *const store_sql[ST_COUNT] = {
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_CHUNK_IDS] = "SELECT id FROM chunks WHERE doc_id = ?1",
    [ST_DEL_KB] = "DELETE FROM kb_fts WHERE rowid = ?1",
    [ST_DEL_VEC] = "DELETE FROM vectors WHERE chunk_id = ?1",
    [ST_DEL_CHUNKS] = "DELETE FROM chunks WHERE doc_id = ?1",
    [ST_DEL_DOC] = "DELETE FROM docs WHERE id = ?1",
    [ST_INS_DOC] = "INSERT INTO docs(id, title, url, metadata) VALUES(?1, ?2, ?3, ?4)",
    [ST_INS_CHUNK] = "INSERT INTO chunks(doc_id, seq, text) VALUES(?1, ?2, ?3)",
    [ST_INS_VEC] = "INSERT INTO vectors(chunk_id, vec) VALUES(?1, ?2)",
    [ST_INS_KB] = "INSERT INTO kb_fts(rowid, title, text) VALUES(?1, ?2, ?3)",
    [ST_LOG] = "INSERT INTO changes(doc_id, op) VALUES(?1, ?2)",
    [ST_LAST_SEQ] = "SELECT coalesce(max(seq), 0) FROM changes",
    [ST_CHANGES] = "SELECT seq, doc_id, op FROM changes WHERE seq > ?1 ORDER BY seq",
    [ST_ANY_VEC] = "SELECT EXISTS (SELECT 1 FROM vectors)",
    [ST_VEC_COUNT] = "SELECT count(*) FROM vectors",
    [ST_VECS_ALL] = "SELECT v.chunk_id, c.doc_id, v.vec FROM vectors v"
                    " JOIN chunks c ON c.id = v.chunk_id ORDER BY v.chunk_id",
    [ST_VECS_DOC] = "SELECT v.chunk_id, c.doc_id, v.vec FROM chunks c"
                    " JOIN vectors v ON v.chunk_id = c.id WHERE c.doc_id = ?1 ORDER BY c.id",
    [ST_CHUNK_GET] = "SELECT c.doc_id, d.title, d.url, c.text, d.metadata FROM chunks c"
                     " JOIN docs d ON d.id = c.doc_id WHERE c.id = ?1",
    [ST_DOC_GET] = "SELECT id, title, url, metadata,"
                   " (SELECT count(*) FROM chunks WHERE doc_id = ?1) FROM docs WHERE id = ?1",
    [ST_DOC_META] = "SELECT metadata FROM docs WHERE id = ?1",
    /* meta.changes_trimmed: every change up to it was trimmed. */
    [ST_TRIMMED] = "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta"
                   " WHERE key = 'changes_trimmed'), 0)",
    [ST_TRIM] = "DELETE FROM changes WHERE seq <= ?1",
    [ST_TRIM_MARK] = "INSERT INTO meta(key, value) VALUES('changes_trimmed', ?1)"
                     " ON CONFLICT(key) DO UPDATE SET value ="
                     " max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
    /* Deferred: the read lock is taken by the first read that follows. */
    [ST_READ_BEGIN] = "BEGIN",
    [ST_READ_END] = "COMMIT",
};

/* The kb ranking; the two numbers are the column weights, formatted in by
 * store_kb_prepare because bm25() takes them as constants.  bm25() is
 * lower-is-better, hence ascending order.  It reads kb_fts alone: the
 * caller reads chunks and docs only for the rows it keeps, one by one
 * (joining first reads every matching chunk's text before sorting, which
 * on SciFact cost 8.9 ms of CPU per query against 4.0 ms for ranking
 * alone).  No LIMIT: the caller stops once it has k documents, however
 * many chunks that takes (a document's several chunks, or a filter that
 * skips most of them). */
#define STORE_KB_SQL_FMT                                                            \
    "SELECT rowid, bm25(kb_fts, %.16g, %.16g) AS s FROM kb_fts"                     \
    " WHERE kb_fts MATCH ?1 ORDER BY s"

/* A handle: one connection and what it prepared.  use is the embedder a
 * writer declared (use.name "" until then); recorded: the store's meta
 * names an embedder with its dims; pending: this transaction records it.
 * vec and blob are one vector decoded and encoded; row holds the strings
 * store_chunk_get hands out. */
struct store {
    sqlite3 *db;
    char *path;
    int writable, in_txn;
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *kb;
    store_embedder use;
    int recorded, pending;
    int64_t keep, trimmed; /* store_log_keep; the last trim's bound */
    int logged;            /* this transaction logged a change */
    float *vec;
    size_t vecdims;
    unsigned char *blob;
    size_t blobdims;
    char *row;
    size_t rowcap;
    store_cache kbtok; /* store_kb.c's tokenizer */
    char err[512];
    store_pg *pg; /* a PostgreSQL store: every call goes to store_pg.c */
};

/* A PostgreSQL store's calls go to store_pg.c, with the same contract. */
#define STORE_ON_PG(s, call)                                                             \
    do {                                                                                 \
        if ((s)->pg)                                                                     \
            return call;                                                                 \
    } while (0)

/* How the schema_version check came out. */
enum { STORE_SCHEMA_OK, STORE_SCHEMA_OLD, STORE_SCHEMA_EMPTY, STORE_SCHEMA_BAD };

/* ------------------------------------------------------------- errors -- */

static void store_errf(char *err, size_t errlen, const char *path, const char *what,
                       const char *detail)
{
    if (detail)
        snprintf(err, errlen, "%s: %s (%s)", path, what, detail);
    else
        snprintf(err, errlen, "%s: %s", path, what);
}

/* Keep SQLite's message for store_errmsg; returns -1 for the caller. */
int store_fail(store *s)
{
    snprintf(s->err, sizeof s->err, "%s", sqlite3_errmsg(s->db));
    return -1;
}

int store_fail_msg(store *s, const char *msg)
{
    snprintf(s->err, sizeof s->err, "%s", msg);
    return -1;
}

store_pg *store_pg_of(store *s)
{
    return s->pg;
}

int store_is_url(const char *path)
{
    return store_pg_is_url(path);
}

int store_unreachable(store *s)
{
    return s->pg && store_pg_unreachable(s->pg);
}

sqlite3 *store_sqlite(store *s)
{
    return s->db;
}

store_cache *store_kb_slot(store *s)
{
    return &s->kbtok;
}

/* Free what another file of the module cached in s. */
static void store_cache_release(store_cache *c)
{
    if (c->p)
        c->release(c->p);
    *c = (store_cache){0};
}

/* s's name in messages: its file, or its database without a password. */
static const char *store_name(store *s)
{
    return s->pg ? store_pg_name(s->pg) : s->path;
}

const char *store_errmsg(store *s)
{
    STORE_ON_PG(s, store_pg_errmsg(s->pg));
    return s->err;
}

void store_interrupt(store *s)
{
    if (s->pg) {
        store_pg_interrupt(s->pg);
        return;
    }
    sqlite3_interrupt(s->db);
}

/* ---------------------------------------------------------- statements -- */

/* Statement i of s, prepared on first use; NULL with s->err on failure. */
static sqlite3_stmt *store_stmt(store *s, int i)
{
    if (s->pg) /* never used: the public function passes the call on */
        return NULL;
    if (!s->st[i] && sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                        &s->st[i], NULL) != SQLITE_OK) {
        store_fail(s);
        return NULL;
    }
    return s->st[i];
}

/* Step a bound statement to completion and reset it.  Returns 0 or -1. */
int store_step(store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s);
}

/* Run a one-row integer statement.  Returns 0 with *out, or -1. */
static int store_int(store *s, int i, int64_t *out)
{
    sqlite3_stmt *st = store_stmt(s, i);
    int rc;

    if (!st)
        return -1;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        store_fail(s);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int store_exec(store *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : store_fail(s);
}

/* Read meta.key into out (truncated to outlen).  Returns 1, 0 when the key
 * is absent, or -1. */
static int store_meta_get(store *s, const char *key, char *out, size_t outlen)
{
    sqlite3_stmt *st;
    int rc;

    STORE_ON_PG(s, store_pg_meta_get(s->pg, key, out, outlen));
    if (!(st = store_stmt(s, ST_META_GET)))
        return -1;
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", v ? v : "");
    } else if (rc != SQLITE_DONE) {
        store_fail(s);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int store_meta_set(store *s, const char *key, const char *value)
{
    sqlite3_stmt *st = store_stmt(s, ST_META_SET);

    if (!st)
        return -1;
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    return store_step(s, st);
}

/* ------------------------------------------------------------- opening -- */

/* Classify the open file: OK when meta.schema_version is ours, OLD when it
 * is an older version (*old says which), EMPTY when the file holds no tables at all (a new file),
 * BAD otherwise with the reason in err.  Returns -1 only when SQLite itself
 * fails, with its message in err. */
static int store_check_schema(sqlite3 *db, const char *path, int *state, int *old, char *err,
                              size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
                                &st, NULL);

    if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN) {
        /* A store in WAL mode is read through its -shm file, which SQLite
         * must be able to create beside it. */
        store_errf(err, errlen, path, "cannot read it (a reader needs write access to the "
                   "store's directory, for the -wal and -shm files beside it)",
                   sqlite3_errmsg(db));
        return -1;
    }
    if (rc != SQLITE_OK) {
        /* No meta table: a brand-new file is fine for a writer, anything
         * else belongs to some other program. */
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) !=
                SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW) {
            store_errf(err, errlen, path, "not a ragd database (run 'ragd ingest' first)",
                       sqlite3_errmsg(db));
            sqlite3_finalize(st);
            *state = STORE_SCHEMA_BAD;
            return 0;
        }
        *state = sqlite3_column_int64(st, 0) == 0 ? STORE_SCHEMA_EMPTY : STORE_SCHEMA_BAD;
        if (*state == STORE_SCHEMA_BAD)
            store_errf(err, errlen, path, "not a ragd database (run 'ragd ingest' first)", NULL);
        sqlite3_finalize(st);
        return 0;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        int n = v ? atoi(v) : 0;
        *state = n == STORE_SCHEMA_VERSION      ? STORE_SCHEMA_OK
               : n >= 1 && n < STORE_SCHEMA_VERSION ? STORE_SCHEMA_OLD
                                                    : STORE_SCHEMA_BAD;
        *old = n;
        if (*state == STORE_SCHEMA_BAD)
            snprintf(err, errlen, "%s: ragd schema version %s, this ragd needs %d "
                     "(ingest into a new file)", path, v ? v : "(null)", STORE_SCHEMA_VERSION);
    } else if (rc == SQLITE_DONE) {
        store_errf(err, errlen, path, "not a ragd database (run 'ragd ingest' first)",
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
static int store_set_wal(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        /* The first statement to read the file finds a non-SQLite file. */
        store_errf(err, errlen, path,
                   sqlite3_errcode(db) == SQLITE_NOTADB ? "not a ragd database"
                                                        : "cannot enable WAL mode",
                   sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        store_errf(err, errlen, path, "cannot enable WAL mode", mode ? mode : "no answer");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int store_exec_err(sqlite3 *db, const char *path, const char *sql, const char *what,
                          char *err, size_t errlen)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        store_errf(err, errlen, path, what, sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Create what the schema lacks, upgrade an older store and stamp the
 * version, all in one transaction: a crash never leaves a half-made store
 * that later opens would misjudge.  The version is read inside the
 * transaction so two processes never both upgrade. */
static int store_setup(store *s, char *err, size_t errlen)
{
    char ver[16];
    int state, old = 0;

    if (store_exec_err(s->db, s->path, "BEGIN IMMEDIATE", "cannot start transaction", err,
                       errlen) < 0)
        return -1;
    if (store_check_schema(s->db, s->path, &state, &old, err, errlen) < 0 ||
        state == STORE_SCHEMA_BAD)
        goto fail;
    /* Versions 2 and 3 only add tables: creating what is missing upgrades. */
    if (store_exec_err(s->db, s->path, store_schema_sql, "cannot create schema", err,
                       errlen) < 0 ||
        store_exec_err(s->db, s->path, store_job_schema_sql, "cannot create the jobs tables",
                       err, errlen) < 0 ||
        (state == STORE_SCHEMA_OLD && old == 1 &&
         store_exec_err(s->db, s->path, store_seed_sql, "cannot seed the change log", err,
                        errlen) < 0))
        goto fail;
    snprintf(ver, sizeof ver, "%d", STORE_SCHEMA_VERSION);
    if (store_meta_set(s, "schema_version", ver) < 0) {
        store_errf(err, errlen, s->path, "cannot set schema_version", s->err);
        goto fail;
    }
    if (store_exec_err(s->db, s->path, "COMMIT", "cannot commit schema", err, errlen) < 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int store_open_rw(store *s, char *err, size_t errlen)
{
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        store_errf(err, errlen, s->path, "not writable", NULL);
        return -1;
    }
    if (store_set_wal(s->db, s->path, err, errlen) < 0 ||
        store_exec_err(s->db, s->path, "PRAGMA synchronous=NORMAL",
                       "cannot set synchronous mode", err, errlen) < 0)
        return -1;
    /* Runs on every writable open so a store made by an older ragd gains
     * whatever it lacks. */
    return store_setup(s, err, errlen);
}

/* Returns 0, 1 when the store is older and needs the upgrade, or -1. */
static int store_open_ro(store *s, char *err, size_t errlen)
{
    int state, old = 0;

    if (store_exec_err(s->db, s->path, STORE_MMAP_SQL, "cannot open", err, errlen) < 0 ||
        store_check_schema(s->db, s->path, &state, &old, err, errlen) < 0)
        return -1;
    if (state == STORE_SCHEMA_EMPTY)
        store_errf(err, errlen, s->path, "not a ragd database (run 'ragd ingest' first)", NULL);
    return state == STORE_SCHEMA_OK ? 0 : state == STORE_SCHEMA_OLD ? 1 : -1;
}

void store_close(store **sp)
{
    store *s = *sp;

    if (!s)
        return;
    if (s->pg) {
        store_cache_release(&s->kbtok);
        store_pg_close(&s->pg);
        free(s);
        *sp = NULL;
        return;
    }
    if (s->in_txn)
        store_rollback(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->kb);
    store_cache_release(&s->kbtok);
    sqlite3_close(s->db);
    free(s->path);
    free(s->vec);
    free(s->blob);
    free(s->row);
    free(s);
    *sp = NULL;
}

/* One open attempt.  Returns 0 with *out, 1 (read-only) when the store
 * needs the upgrade, or -1 with err. */
static int store_open_once(const char *path, int writable, store **out, char *err,
                           size_t errlen)
{
    int flags = SQLITE_OPEN_NOMUTEX |
                (writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
    store *s = calloc(1, sizeof *s);
    int rc = -1;

    if (!s || !(s->path = strdup(path))) {
        store_errf(err, errlen, path, "cannot open", "out of memory");
        goto done;
    }
    s->writable = writable;
    s->keep = STORE_CHANGE_LOG_KEEP;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        store_errf(err, errlen, path, "cannot open",
                   s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto done;
    }
    if (sqlite3_busy_timeout(s->db, STORE_BUSY_MS) != SQLITE_OK) {
        store_errf(err, errlen, path, "cannot set busy timeout", sqlite3_errmsg(s->db));
        goto done;
    }
    rc = writable ? store_open_rw(s, err, errlen) : store_open_ro(s, err, errlen);
done:
    if (rc == 0)
        *out = s;
    else if (s)
        store_close(&s);
    return rc;
}

/* Upgrade the older store at path through a writable open, for a
 * reader that found it.  Returns 0, or -1 with the command that does it. */
static int store_upgrade(const char *path, char *err, size_t errlen)
{
    char why[512];
    store *s = NULL;

    if (store_open_once(path, 1, &s, why, sizeof why) == 0) {
        store_close(&s);
        return 0;
    }
    snprintf(err, errlen, "%s: written by an older ragd (an older schema version) and "
             "cannot be upgraded here: %s; upgrade it with: " STORE_MIGRATE_CMD "%s",
             path, why, path);
    return -1;
}

void store_process_init(void)
{
    /* SQLite's memory statistics take one process-wide mutex on every
     * allocation; with several workers querying at once it was the most
     * contended lock in the server.  ragd never reads those statistics. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* A store whose every call goes to store_pg.c. */
static int store_open_pg(const char *url, int writable, store **out, char *err, size_t errlen)
{
    store *s = calloc(1, sizeof *s);

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (store_pg_open(url, writable, &s->pg, err, errlen) < 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int store_open(const char *path, int writable, store **out, char *err, size_t errlen)
{
    struct stat sb;
    int rc;

    *out = NULL;
    if (store_pg_is_url(path))
        return store_open_pg(path, writable, out, err, errlen);
    /* SQLite's "unable to open database file" does not say why; stat does. */
    if (!writable && stat(path, &sb) != 0) {
        store_errf(err, errlen, path, strerror(errno), "run 'ragd ingest' first");
        return -1;
    }
    rc = store_open_once(path, writable, out, err, errlen);
    if (rc == 1 && store_upgrade(path, err, errlen) == 0)
        rc = store_open_once(path, writable, out, err, errlen);
    return rc == 0 ? 0 : -1;
}

/* -------------------------------------------------------- transactions -- */

int store_begin(store *s)
{
    STORE_ON_PG(s, store_pg_begin(s->pg));
    assert(!s->in_txn);
    if (store_exec(s, s->writable ? "BEGIN IMMEDIATE" : "BEGIN") < 0)
        return -1;
    s->in_txn = 1;
    return 0;
}

static void store_trim(store *s);

int store_commit(store *s)
{
    STORE_ON_PG(s, store_pg_commit(s->pg));
    assert(s->in_txn);
    if (store_exec(s, "COMMIT") < 0)
        return -1;
    s->in_txn = 0;
    s->recorded |= s->pending;
    s->pending = 0;
    if (s->logged) {
        s->logged = 0;
        store_trim(s);
    }
    return 0;
}

int store_read_begin(store *s)
{
    sqlite3_stmt *st;
    int rc;

    if (s->pg)
        return 0;
    assert(!s->in_txn);
    if (!(st = store_stmt(s, ST_READ_BEGIN)))
        return -1;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s);
}

void store_read_end(store *s)
{
    sqlite3_stmt *st;

    /* A failed read may have ended the transaction already. */
    if (s->pg || sqlite3_get_autocommit(s->db))
        return;
    if ((st = store_stmt(s, ST_READ_END))) {
        int rc = sqlite3_step(st);

        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return;
    }
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

void store_rollback(store *s)
{
    if (s->pg) {
        store_pg_rollback(s->pg);
        return;
    }
    /* Only when a transaction is open: SQLite may already have rolled back
     * after an error, and its own failure would repeat that error. */
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_txn = 0;
    s->pending = 0;
    s->logged = 0;
}

/* ------------------------------------------------------------ embedder -- */

int store_embedder_get(store *s, store_embedder *e)
{
    char dims[32] = "0";
    int rc;

    memset(e, 0, sizeof *e);
    if ((rc = store_meta_get(s, "embedder", e->name, sizeof e->name)) <= 0)
        return rc;
    if (store_meta_get(s, "embed_dims", dims, sizeof dims) < 0 ||
        store_meta_get(s, "embed_url", e->url, sizeof e->url) < 0 ||
        store_meta_get(s, "embed_model", e->model, sizeof e->model) < 0) {
        memset(e, 0, sizeof *e);
        return -1;
    }
    e->dims = strtoul(dims, NULL, 10);
    if (!strcmp(e->name, "openai") && !e->model[0])
        snprintf(e->model, sizeof e->model, "%s", STORE_OPENAI_DEFAULT_MODEL);
    return 1;
}

/* Messages name the options of `ragd ingest`, the one writer. */
int store_embedder_use(store *s, const store_embedder *e, char *err, size_t errlen)
{
    const char *name = store_name(s);
    store_embedder r, u = *e;
    size_t n = strlen(u.url);
    int rc;

    if ((rc = store_embedder_get(s, &r)) < 0) {
        store_errf(err, errlen, name, "cannot read meta", store_errmsg(s));
        return -1;
    }
    if (rc == 1 && strcmp(r.name, e->name) != 0) {
        snprintf(err, errlen, "%s was built with embedder %s (%zu dims); pass --embedder %s",
                 name, r.name, r.dims, r.name);
        return -1;
    }
    if (rc == 1 && !strcmp(r.name, "hash") && e->dims && r.dims != e->dims) {
        snprintf(err, errlen, "%s was built with embedder hash (%zu dims), but this ragd's hash "
                 "embedder makes %zu; ingest into a new file", name, r.dims, e->dims);
        return -1;
    }
    if (rc == 1 && !strcmp(r.name, "openai") && strcmp(r.model, e->model) != 0) {
        snprintf(err, errlen, "%s was built with embedder openai, model %s (%zu dims); pass "
                 "--embed-model %s", name, r.model, r.dims, r.model);
        return -1;
    }
    if (rc == 1 && e->dims && r.dims && r.dims != e->dims) {
        snprintf(err, errlen, "%s was built with embedder openai, model %s (%zu dims), but %s "
                 "now returns %zu dims", name, r.model, r.dims, e->url, e->dims);
        return -1;
    }
    /* Recorded without trailing slashes: the server appends "/embeddings". */
    while (n > 1 && u.url[n - 1] == '/')
        u.url[--n] = '\0';
    if (s->pg) {
        store_pg_embedder_set(s->pg, &u, rc == 1 && r.dims > 0);
        return 0;
    }
    s->use = u;
    s->recorded = rc == 1 && r.dims > 0;
    return 0;
}

int store_embedder_match(store *s, const char *name, size_t dims, char *err, size_t errlen)
{
    store_embedder r;
    int64_t any = 0;
    int rc;

    if ((s->pg ? (any = store_pg_any_vector(s->pg)) : store_int(s, ST_ANY_VEC, &any)) < 0 ||
        (rc = store_embedder_get(s, &r)) < 0) {
        snprintf(err, errlen, "%s: %s", s->pg ? store_name(s) : "sqlite", store_errmsg(s));
        return -1;
    }
    if (any && (strcmp(rc ? r.name : "(none)", name) != 0 || r.dims != dims)) {
        char have[32] = "?";
        if (r.dims)
            snprintf(have, sizeof have, "%zu", r.dims);
        snprintf(err, errlen,
                 "%s: built with embedder %s (%s dims), but ragd embeds queries with %s (%zu dims)",
                 store_name(s), rc ? r.name : "(none)", have, name, dims);
        return -1;
    }
    return 0;
}

/* Record the declared embedder in meta, in the put's transaction, so a
 * store never has vectors without knowing how they were made. */
static int store_record_embedder(store *s)
{
    char dims[32];

    snprintf(dims, sizeof dims, "%zu", s->use.dims);
    if (store_meta_set(s, "embedder", s->use.name) < 0 || store_meta_set(s, "embed_dims", dims) < 0)
        return -1;
    if (!strcmp(s->use.name, "openai") &&
        (store_meta_set(s, "embed_model", s->use.model) < 0 || store_meta_set(s, "embed_url", s->use.url) < 0))
        return -1;
    s->pending = 1;
    return 0;
}

/* ------------------------------------------------------------- writing -- */

/* Delete every trace of document id: full-text rows and vectors of its
 * chunks, the chunks, the doc row.  Returns 1 when there was a document,
 * 0 when not, or -1. */
static int store_remove(store *s, const char *id)
{
    sqlite3_stmt *ids = store_stmt(s, ST_CHUNK_IDS), *kb = store_stmt(s, ST_DEL_KB),
                 *vec = store_stmt(s, ST_DEL_VEC), *chunks = store_stmt(s, ST_DEL_CHUNKS),
                 *doc = store_stmt(s, ST_DEL_DOC);
    int rc;

    if (!ids || !kb || !vec || !chunks || !doc)
        return -1;
    if (sqlite3_bind_text(ids, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
        sqlite3_int64 cid = sqlite3_column_int64(ids, 0);
        if (sqlite3_bind_int64(kb, 1, cid) != SQLITE_OK ||
            sqlite3_bind_int64(vec, 1, cid) != SQLITE_OK || store_step(s, kb) < 0 ||
            store_step(s, vec) < 0) {
            store_fail(s);
            sqlite3_reset(ids);
            return -1;
        }
    }
    if (rc != SQLITE_DONE)
        store_fail(s);
    sqlite3_reset(ids);
    if (rc != SQLITE_DONE)
        return -1;
    if (sqlite3_bind_text(chunks, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(doc, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    if (store_step(s, chunks) < 0 || store_step(s, doc) < 0)
        return -1;
    return sqlite3_changes(s->db) > 0;
}

static int store_log(store *s, const char *id, store_op op)
{
    sqlite3_stmt *st = store_stmt(s, ST_LOG);

    if (!st)
        return -1;
    if (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, (int)op) != SQLITE_OK)
        return store_fail(s);
    if (store_step(s, st) < 0)
        return -1;
    s->logged = 1;
    return 0;
}

/* vec as the store keeps it: float32, little-endian whatever the host, in
 * s->blob. */
static int store_pack(store *s, const float *vec)
{
    return store_vec_pack(&s->blob, &s->blobdims, vec, s->use.dims) == 0
               ? 0 : store_fail_msg(s, "out of memory");
}

static int store_put_chunk(store *s, const store_doc *d, size_t k)
{
    sqlite3_stmt *ch = store_stmt(s, ST_INS_CHUNK), *v = store_stmt(s, ST_INS_VEC),
                 *kb = store_stmt(s, ST_INS_KB);
    const store_chunk *c = &d->chunks[k];
    sqlite3_int64 cid;

    if (!ch || !v || !kb)
        return -1;
    if (sqlite3_bind_text(ch, 1, d->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(ch, 2, (sqlite3_int64)k) != SQLITE_OK ||
        sqlite3_bind_text(ch, 3, c->text, (int)c->len, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    if (store_step(s, ch) < 0)
        return -1;
    cid = sqlite3_last_insert_rowid(s->db);
    if (d->vecs) {
        if (store_pack(s, d->vecs + k * s->use.dims) < 0)
            return -1;
        if (sqlite3_bind_int64(v, 1, cid) != SQLITE_OK ||
            sqlite3_bind_blob(v, 2, s->blob, (int)(s->use.dims * 4), SQLITE_STATIC) != SQLITE_OK)
            return store_fail(s);
        if (store_step(s, v) < 0)
            return -1;
    }
    if (d->fts) {
        if (sqlite3_bind_int64(kb, 1, cid) != SQLITE_OK ||
            sqlite3_bind_text(kb, 2, d->title, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(kb, 3, c->text, (int)c->len, SQLITE_STATIC) != SQLITE_OK)
            return store_fail(s);
        if (store_step(s, kb) < 0)
            return -1;
    }
    return 0;
}

static int store_put_rows(store *s, const store_doc *d)
{
    sqlite3_stmt *st = store_stmt(s, ST_INS_DOC);

    if (!st || store_remove(s, d->id) < 0)
        return -1;
    if (d->vecs && d->nchunks && !s->recorded && !s->pending && store_record_embedder(s) < 0)
        return -1;
    if (sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, d->title, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, d->url, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 4, d->metadata, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    if (store_step(s, st) < 0)
        return -1;
    for (size_t k = 0; k < d->nchunks; k++)
        if (store_put_chunk(s, d, k) < 0)
            return -1;
    return store_log(s, d->id, STORE_PUT);
}

int store_put(store *s, const store_doc *d)
{
    int own = !s->in_txn;

    STORE_ON_PG(s, store_pg_put(s->pg, d));
    assert(s->writable && d->id && d->title);
    /* Vectors need a declared embedder: its dims say how long they are. */
    assert(!d->vecs || s->use.dims > 0);
    if (d->vecs && s->use.dims == 0)
        return store_fail_msg(s, "vectors without a declared embedder");
    if (own && store_begin(s) < 0)
        return -1;
    if (store_put_rows(s, d) < 0 || (own && store_commit(s) < 0)) {
        if (own)
            store_rollback(s);
        return -1;
    }
    return 0;
}

int store_delete(store *s, const char *id)
{
    int own = !s->in_txn, rc;

    STORE_ON_PG(s, store_pg_delete(s->pg, id));
    assert(s->writable);
    if (own && store_begin(s) < 0)
        return -1;
    rc = store_remove(s, id);
    if (rc == 1 && store_log(s, id, STORE_DELETE) < 0)
        rc = -1;
    if (own && rc >= 0 && store_commit(s) < 0)
        rc = -1;
    if (own && rc < 0)
        store_rollback(s);
    return rc;
}

/* ---------------------------------------------------------- change log -- */

int store_last_seq(store *s, int64_t *seq)
{
    STORE_ON_PG(s, store_pg_last_seq(s->pg, seq));
    return store_int(s, ST_LAST_SEQ, seq);
}

void store_log_keep(store *s, int64_t keep)
{
    assert(keep >= 1);
    if (s->pg) {
        store_pg_log_keep(s->pg, keep);
        return;
    }
    s->keep = keep;
}

/* Run statement i with one integer parameter to its end.  0 or -1. */
static int store_run_i64(store *s, int i, int64_t v)
{
    sqlite3_stmt *st = store_stmt(s, i);

    if (!st)
        return -1;
    if (sqlite3_bind_int64(st, 1, v) != SQLITE_OK)
        return store_fail(s);
    return store_step(s, st);
}

/* After a commit that logged: delete the entries older than the newest
 * s->keep and record the bound, in one transaction, so that a reader sees
 * either both or neither.  Skipped while nothing new falls out of the
 * window.  A failure (another writer holds the lock past the busy
 * timeout) is not the committed write's: the next commit trims. */
static void store_trim(store *s)
{
    int64_t last, cut;

    if (store_int(s, ST_LAST_SEQ, &last) < 0 || (cut = last - s->keep) <= s->trimmed)
        return;
    if (store_exec(s, "BEGIN IMMEDIATE") < 0)
        return;
    if (store_run_i64(s, ST_TRIM, cut) < 0 || store_run_i64(s, ST_TRIM_MARK, cut) < 0 ||
        store_exec(s, "COMMIT") < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return;
    }
    s->trimmed = cut;
}

/* Pass the changes after `after` to fn; the caller holds a read
 * transaction, so the bound and the rows agree. */
static int store_changes_read(store *s, int64_t after, store_change_fn fn, void *arg)
{
    sqlite3_stmt *st;
    int64_t trimmed;
    int rc;

    if (store_int(s, ST_TRIMMED, &trimmed) < 0)
        return -1;
    if (after < trimmed)
        return STORE_BEHIND;
    if (!(st = store_stmt(s, ST_CHANGES)))
        return -1;
    if (sqlite3_bind_int64(st, 1, after) != SQLITE_OK)
        return store_fail(s);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 1);
        int op = sqlite3_column_int(st, 2);
        if (!id || (op != STORE_PUT && op != STORE_DELETE)) {
            rc = SQLITE_CORRUPT;
            break;
        }
        if (fn(arg, sqlite3_column_int64(st, 0), id, (store_op)op) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc == SQLITE_CORRUPT)
        store_fail_msg(s, "a change log entry without document or operation");
    else if (rc != SQLITE_DONE)
        store_fail(s);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_changes(store *s, int64_t after, store_change_fn fn, void *arg)
{
    int own = !s->in_txn, rc;

    STORE_ON_PG(s, store_pg_changes(s->pg, after, fn, arg));
    /* A deferred BEGIN even on a writable handle: only reads follow. */
    if (own && store_exec(s, "BEGIN") < 0)
        return -1;
    rc = store_changes_read(s, after, fn, arg);
    if (own && (rc < 0 || store_exec(s, "COMMIT") < 0)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        rc = -1;
    }
    return rc;
}

/* ------------------------------------------------------------- reading -- */

int store_vector_count(store *s, size_t *n)
{
    int64_t v;

    STORE_ON_PG(s, store_pg_vector_count(s->pg, n));
    if (store_int(s, ST_VEC_COUNT, &v) < 0)
        return -1;
    *n = (size_t)v;
    return 0;
}

/* Decode a stored vector of dims float32 values into s->vec. */
static void store_unpack(store *s, const unsigned char *b, size_t dims)
{
    for (size_t i = 0; i < dims; i++) {
        uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                     (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
        memcpy(&s->vec[i], &u, 4);
    }
}

int store_vectors(store *s, const char *doc_id, size_t dims, store_vector_fn fn, void *arg,
                  size_t *skipped)
{
    sqlite3_stmt *st = store_stmt(s, doc_id ? ST_VECS_DOC : ST_VECS_ALL);
    int rc;

    STORE_ON_PG(s, store_pg_vectors(s->pg, doc_id, dims, fn, arg, skipped));
    *skipped = 0;
    if (!st)
        return -1;
    if (s->vecdims != dims) {
        float *v = realloc(s->vec, (dims ? dims : 1) * sizeof *v);
        if (!v)
            return store_fail_msg(s, "out of memory");
        s->vec = v;
        s->vecdims = dims;
    }
    if (doc_id && sqlite3_bind_text(st, 1, doc_id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *blob = sqlite3_column_blob(st, 2);
        const char *doc = (const char *)sqlite3_column_text(st, 1);
        if (!blob || !doc || (size_t)sqlite3_column_bytes(st, 2) != dims * 4) {
            ++*skipped;
            continue;
        }
        store_unpack(s, blob, dims);
        if (fn(arg, sqlite3_column_int64(st, 0), doc, s->vec) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        store_fail(s);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Copy the first n (<= 5) text columns of st's row into s->row and point
 * dst[0..n) at them, so the statement can be reset before they are used. */
static int store_take_row(store *s, sqlite3_stmt *st, const char **dst[], int n)
{
    size_t need = 0, off = 0;

    for (int i = 0; i < n; i++)
        need += (size_t)sqlite3_column_bytes(st, i) + 1;
    if (need > s->rowcap) {
        char *p = realloc(s->row, need);
        if (!p)
            return store_fail_msg(s, "out of memory");
        s->row = p;
        s->rowcap = need;
    }
    for (int i = 0; i < n; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i);
        size_t len = (size_t)sqlite3_column_bytes(st, i);
        if (!v && sqlite3_column_type(st, i) != SQLITE_NULL)
            return store_fail_msg(s, "out of memory");
        *dst[i] = v ? memcpy(s->row + off, v, len + 1) : NULL;
        off += len + 1;
    }
    return 0;
}

int store_chunk_get(store *s, int64_t chunk_id, store_hit *h)
{
    sqlite3_stmt *st = store_stmt(s, ST_CHUNK_GET);
    const char **cols[5] = {&h->doc_id, &h->title, &h->url, &h->text, &h->metadata};
    int rc;

    STORE_ON_PG(s, store_pg_chunk_get(s->pg, chunk_id, h));
    if (!st)
        return -1;
    if (sqlite3_bind_int64(st, 1, chunk_id) != SQLITE_OK)
        return store_fail(s);
    memset(h, 0, sizeof *h);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = store_take_row(s, st, cols, 5) < 0 ? -1 : h->doc_id != NULL;
        if (!h->text)
            h->text = "";
    } else {
        rc = rc == SQLITE_DONE ? 0 : store_fail(s);
    }
    sqlite3_reset(st);
    return rc;
}

int store_doc_metadata(store *s, const char *id, const char **json)
{
    sqlite3_stmt *st = store_stmt(s, ST_DOC_META);
    const char **cols[1] = {json};
    int rc;

    STORE_ON_PG(s, store_pg_doc_metadata(s->pg, id, json));
    *json = NULL;
    if (!st)
        return -1;
    if (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = store_take_row(s, st, cols, 1) < 0 ? -1 : 1;
    else
        rc = rc == SQLITE_DONE ? 0 : store_fail(s);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int store_kb_prepare(store *s, double title_weight, double text_weight)
{
    /* SQLite's printf formats the weights the same in every locale. */
    char *sql;
    int rc;

    STORE_ON_PG(s, store_pg_unsupported(s->pg, "the kb's full-text search"));
    if (!(sql = sqlite3_mprintf(STORE_KB_SQL_FMT, title_weight, text_weight)))
        return store_fail_msg(s, "out of memory");
    sqlite3_finalize(s->kb);
    s->kb = NULL;
    rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->kb, NULL);
    sqlite3_free(sql);
    return rc == SQLITE_OK ? 0 : store_fail(s);
}

int store_kb_rank(store *s, const char *match, store_rank_fn fn, void *arg)
{
    sqlite3_stmt *st = s->kb;
    int rc;

    STORE_ON_PG(s, store_pg_unsupported(s->pg, "the kb's full-text search"));
    assert(st);
    if (sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC) != SQLITE_OK) {
        store_fail(s);
        rc = SQLITE_ERROR;
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, sqlite3_column_int64(st, 0), -sqlite3_column_double(st, 1)) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    if (rc != SQLITE_DONE)
        store_fail(s);
done:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_doc_get(store *s, const char *id, store_docinfo *d)
{
    sqlite3_stmt *st = store_stmt(s, ST_DOC_GET);
    const char **cols[] = {&d->id, &d->title, &d->url, &d->metadata};
    int rc;

    STORE_ON_PG(s, store_pg_doc_get(s->pg, id, d));
    if (!st)
        return -1;
    if (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(s);
    memset(d, 0, sizeof *d);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        d->nchunks = (size_t)sqlite3_column_int64(st, 4);
        rc = store_take_row(s, st, cols, 4) < 0 ? -1 : 1;
    } else {
        rc = rc == SQLITE_DONE ? 0 : store_fail(s);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}
