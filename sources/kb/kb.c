/*
 * kb -- the knowledge-base source: BM25 full-text search over the store's
 * FTS5 index (kb_fts), reporting the best chunk of each document.
 *
 * Config: {"db": PATH (required), "title_weight": 1.0, "text_weight": 1.0}
 * (the BM25 weights of the title and text columns, >= 0).  Queries run on
 * the host's worker pool, each worker on its own read-only connection, so
 * the loop never waits on SQLite.  Not for writing the store (`ragd ingest`
 * does that) and not for query syntax: kb_match.c turns user text into plain
 * quoted words.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>
#include <ragd/source.h>

#include "hits.h"
#include "kb_match.h"

/* Long enough to wait out an ingest batch's commit or a checkpoint. */
#define KB_BUSY_MS 2000

/* The store schema version this source reads (meta.schema_version). */
#define KB_SCHEMA_VERSION "1"

/* The search; the two numbers are the column weights, formatted in at
 * create.  bm25() is lower-is-better, hence ascending order.  Ranking
 * happens in the subquery on kb_fts alone, so chunks and docs are read only
 * for the LIMIT rows kept: joining first reads every matching chunk's text
 * before sorting, which on SciFact costs 8.9 ms of CPU per query against
 * 4.0 ms this way, for identical results (all 1,109 SciFact queries). */
#define KB_SQL_FMT                                                                  \
    "SELECT c.doc_id, d.title, d.url, c.text, f.s FROM"                             \
    " (SELECT rowid, bm25(kb_fts, %.16g, %.16g) AS s FROM kb_fts"                   \
    "  WHERE kb_fts MATCH ?1 ORDER BY s LIMIT ?2) f"                                \
    " JOIN chunks c ON c.id = f.rowid JOIN docs d ON d.id = c.doc_id ORDER BY f.s"

/* A worker's connection and its prepared search, both NULL until that worker
 * first searches (or after a failed open). */
typedef struct kb_conn {
    sqlite3 *db;
    sqlite3_stmt *st;
} kb_conn;

/* One kb instance.  conns has nconns == host->nworkers slots: slot i is
 * opened, used and reused only by worker i, so it needs no lock, and destroy
 * closes them all when no search is in flight.  Owns path, conns and sql
 * (from sqlite3_mprintf, freed with sqlite3_free). */
typedef struct kb_source {
    const ragd_host *host;
    char *path;
    char *sql;
    unsigned nconns;
    kb_conn *conns;
} kb_source;

/* One search, from search() until its callback has run; it is also the
 * ragd_op the host may cancel.  The loop thread owns it except while the
 * work function runs.  mu guards the two fields both threads touch:
 * cancelled, and running -- the connection the work is querying on, set
 * only while this job's statement runs -- so cancel() never interrupts a
 * connection that has moved on to another job.  hits[0..nhits) own their
 * strings (const only because ragd_hit is the host's type); at most k hits,
 * one per document, best first.  Freed by kb_done after the callback. */
typedef struct kb_job {
    kb_source *kb;
    char *match;
    int k;
    ragd_search_cb cb;
    void *arg;
    pthread_mutex_t mu;
    int cancelled;
    sqlite3 *running;
    int status;
    char error[256];
    ragd_hit *hits;
    size_t nhits;
} kb_job;

/* ---------------------------------------------------------- database -- */

/* Open path read-only for this thread's use only; on failure writes
 * "WHO: cannot open: why" into err and returns -1 with *db NULL.  who is the
 * path at create, and "sqlite" in a search, whose errors reach clients. */
static int kb_open(const char *path, const char *who, sqlite3 **db, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(*db, KB_BUSY_MS);
    /* Read the file through a memory map: without it every page a query
     * touches costs a pread() and a copy, which was a sixth of the server's
     * CPU under load. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open: %s", who,
                 *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    return 0;
}

/* Check that db is a ragd store of our schema version: meta.schema_version
 * is KB_SCHEMA_VERSION.  Returns 0, or -1 with a message naming path. */
static int kb_check_schema(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    const char *v;
    int rc = -1;

    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: not a ragd database (%s)", path, sqlite3_errmsg(db));
        goto done;
    }
    if (sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, errlen, "%s: not a ragd database (no schema_version in meta: %s)", path,
                 sqlite3_errmsg(db));
        goto done;
    }
    v = (const char *)sqlite3_column_text(st, 0);
    if (!v || strcmp(v, KB_SCHEMA_VERSION) != 0) {
        snprintf(err, errlen, "%s: ragd schema version %s, the kb source reads %s", path,
                 v ? v : "(null)", KB_SCHEMA_VERSION);
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(st);
    return rc;
}

/* Verify once, at create, that the store can be searched: it opens, is a
 * ragd store, and the search statement compiles (kb_fts, chunks and docs
 * exist).  Returns 0, or -1 with a message naming the file. */
static int kb_check_db(const kb_source *kb, char *err, size_t errlen)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    int rc = -1;

    if (kb_open(kb->path, kb->path, &db, err, errlen) != 0)
        return -1;
    if (kb_check_schema(db, kb->path, err, errlen) != 0)
        goto done;
    if (sqlite3_prepare_v2(db, kb->sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: no usable kb_fts full-text index (%s)", kb->path,
                 sqlite3_errmsg(db));
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* Open worker connection c and prepare its search.  Returns 0, or -1 with a
 * message in err and c left empty so a later search retries. */
static int kb_conn_open(const kb_source *kb, kb_conn *c, char *err, size_t errlen)
{
    if (kb_open(kb->path, "sqlite", &c->db, err, errlen) != 0)
        return -1;
    if (sqlite3_prepare_v3(c->db, kb->sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        c->db = NULL;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ worker -- */

static void kb_fail_sqlite(kb_job *j, sqlite3 *db)
{
    j->status = RAGD_ERR;
    snprintf(j->error, sizeof j->error, "sqlite: %s", sqlite3_errmsg(db));
}

/* Copy column i into *out: NULL for SQL NULL.  Returns 0, or -1 when out of
 * memory. */
static int kb_dup_column(sqlite3_stmt *st, int i, const char **out)
{
    const char *s = (const char *)sqlite3_column_text(st, i);

    *out = NULL;
    if (!s)
        return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : -1;
    return (*out = strdup(s)) ? 0 : -1;
}

/* Keep the current row unless its document already has a (better) hit.
 * Returns 0, or -1 when out of memory. */
static int kb_take_row(kb_job *j, sqlite3_stmt *st)
{
    const char *doc = (const char *)sqlite3_column_text(st, 0);
    ragd_hit *h = &j->hits[j->nhits];

    if (!doc)
        return sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : -1;
    for (size_t i = 0; i < j->nhits; i++)
        if (strcmp(j->hits[i].id, doc) == 0)
            return 0;
    j->nhits++;
    h->score = -sqlite3_column_double(st, 4);
    if (kb_dup_column(st, 0, &h->id) || kb_dup_column(st, 1, &h->title) ||
        kb_dup_column(st, 2, &h->url) || kb_dup_column(st, 3, &h->text))
        return -1;
    if (!h->text && !(h->text = strdup("")))
        return -1;
    return 0;
}

/* Run the search on c's statement and keep the best chunk of each of up to
 * k documents.  Rows come best first, so the first row of a document is its
 * best chunk; 3k + 10 rows nearly always hold k documents. */
static void kb_query(kb_job *j, kb_conn *c)
{
    int rc = SQLITE_DONE;

    if (sqlite3_bind_text(c->st, 1, j->match, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(c->st, 2, 3 * j->k + 10) != SQLITE_OK) {
        kb_fail_sqlite(j, c->db);
        goto done;
    }
    while (j->nhits < (size_t)j->k && (rc = sqlite3_step(c->st)) == SQLITE_ROW) {
        if (kb_take_row(j, c->st) != 0) {
            j->status = RAGD_ENOMEM;
            snprintf(j->error, sizeof j->error, "out of memory");
            goto done;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        kb_fail_sqlite(j, c->db);
done:
    sqlite3_reset(c->st);
    sqlite3_clear_bindings(c->st);
}

/* Publish db as the connection j runs on, unless j is already cancelled.
 * Returns 0 to go on, -1 when cancelled.  An interrupt that lands before
 * the statement starts is forgotten by SQLite (it clears the flag when a
 * connection's first statement starts); the query then simply finishes and
 * kb_done still reports the cancellation. */
static int kb_job_enter(kb_job *j, sqlite3 *db)
{
    int cancelled;

    pthread_mutex_lock(&j->mu);
    cancelled = j->cancelled;
    if (!cancelled)
        j->running = db;
    pthread_mutex_unlock(&j->mu);
    return cancelled ? -1 : 0;
}

static void kb_job_leave(kb_job *j)
{
    pthread_mutex_lock(&j->mu);
    j->running = NULL;
    pthread_mutex_unlock(&j->mu);
}

/* The work function: runs on worker `worker`, touching only j and that
 * worker's connection slot. */
static void kb_work(void *arg, unsigned worker)
{
    kb_job *j = arg;
    kb_conn *c;

    if (!j->match[0])
        return;
    if (worker >= j->kb->nconns) {
        j->status = RAGD_ERR;
        snprintf(j->error, sizeof j->error, "worker %u out of range (%u workers)", worker,
                 j->kb->nconns);
        return;
    }
    c = &j->kb->conns[worker];
    if (!c->db && kb_conn_open(j->kb, c, j->error, sizeof j->error) != 0) {
        j->status = RAGD_ERR;
        return;
    }
    if (kb_job_enter(j, c->db) != 0)
        return;
    kb_query(j, c);
    kb_job_leave(j);
}

/* -------------------------------------------------------------- loop -- */

static void kb_job_free(kb_job *j)
{
    hits_release(j->hits, j->nhits);
    free(j->match);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* The done function, on the loop thread: answer the host and free j.
 * cancelled was written on this thread, and the worker is done with j, so
 * it is read without the lock. */
static void kb_done(void *arg)
{
    kb_job *j = arg;

    if (j->cancelled)
        j->cb(j->arg, RAGD_ECANCELED, NULL, 0, "cancelled");
    else if (j->status != RAGD_OK)
        j->cb(j->arg, j->status, NULL, 0, j->error);
    else
        j->cb(j->arg, RAGD_OK, j->hits, j->nhits, NULL);
    kb_job_free(j);
}

static int kb_search(void *self, const ragd_query *q, ragd_search_cb cb, void *arg, ragd_op **op)
{
    kb_source *kb = self;
    kb_job *j;
    int rc;

    if (q->k < 1)
        return RAGD_EINVAL;
    if (!(j = calloc(1, sizeof *j)))
        return RAGD_ENOMEM;
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        return RAGD_ENOMEM;
    }
    j->kb = kb;
    j->k = q->k;
    j->cb = cb;
    j->arg = arg;
    /* The expression is cheap to build, and building it here keeps the
     * user's text off the worker. */
    if (!(j->match = kb_match_expr(q->text)) ||
        !(j->hits = calloc((size_t)q->k, sizeof *j->hits))) {
        kb_job_free(j);
        return RAGD_ENOMEM;
    }
    /* An empty expression still goes through the pool: the callback must
     * come later, never from inside this call. */
    if ((rc = kb->host->work_submit(kb->host, kb_work, kb_done, j)) != RAGD_OK) {
        kb_job_free(j);
        return rc < 0 ? rc : RAGD_ERR;
    }
    *op = (ragd_op *)j;
    return RAGD_OK;
}

static void kb_cancel(void *self, ragd_op *op)
{
    kb_job *j = (kb_job *)op;

    (void)self;
    pthread_mutex_lock(&j->mu);
    j->cancelled = 1;
    if (j->running)
        sqlite3_interrupt(j->running);
    pthread_mutex_unlock(&j->mu);
}

static void kb_destroy(void *self)
{
    kb_source *kb = self;

    for (unsigned i = 0; i < kb->nconns; i++) {
        sqlite3_finalize(kb->conns[i].st);
        sqlite3_close(kb->conns[i].db);
    }
    free(kb->conns);
    sqlite3_free(kb->sql);
    free(kb->path);
    free(kb);
}

static int kb_create(const ragd_host *host, const char *name, json_t *config, void **self,
                     char *err, size_t errlen)
{
    const char *path;
    double tw, xw;
    kb_source *kb;

    (void)name;
    if (host->cfg_string(config, "db", NULL, &path, err, errlen) ||
        host->cfg_number(config, "title_weight", 1.0, &tw, err, errlen) ||
        host->cfg_number(config, "text_weight", 1.0, &xw, err, errlen))
        return RAGD_EINVAL;
    if (!path || !*path) {
        snprintf(err, errlen, "db: required");
        return RAGD_EINVAL;
    }
    if (!(tw >= 0) || !(xw >= 0)) {
        snprintf(err, errlen, "%s: expected a number >= 0",
                 tw >= 0 ? "text_weight" : "title_weight");
        return RAGD_EINVAL;
    }
    if (!(kb = calloc(1, sizeof *kb)))
        return RAGD_ENOMEM;
    kb->host = host;
    /* The weights go into the SQL text because bm25() takes them as
     * constants; SQLite's printf formats them the same in every locale. */
    if (!(kb->path = strdup(path)) || !(kb->sql = sqlite3_mprintf(KB_SQL_FMT, tw, xw)) ||
        !(kb->conns = calloc(host->nworkers ? host->nworkers : 1, sizeof *kb->conns))) {
        snprintf(err, errlen, "out of memory");
        kb_destroy(kb);
        return RAGD_ENOMEM;
    }
    kb->nconns = host->nworkers;
    if (kb_check_db(kb, err, errlen) != 0) {
        kb_destroy(kb);
        return RAGD_ERR;
    }
    *self = kb;
    return RAGD_OK;
}

static const ragd_source_type kb_type = {
    RAGD_SOURCE_ABI_VERSION, "kb", kb_create, kb_search, kb_cancel, kb_destroy,
};

/* The kb source type, for ragd's registry of built-in sources. */
const ragd_source_type *ragd_source_kb(void)
{
    return &kb_type;
}
