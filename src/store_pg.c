/*
 * store_pg -- the store in PostgreSQL (store_pg.h): its schema and version,
 * the connection of each handle, and every statement run against it.
 *
 * The tables mirror the SQLite store's, prefixed ragd_, except the kb's
 * full-text index: the kb reads chunks and titles (store_pg_kb_chunks) and
 * splits them with FTS5 itself, in store_kb.c.  Two rules keep
 * several ragd processes on one database correct:
 *  - every write transaction takes one advisory lock before it changes a
 *    document and holds it until it ends, so change log sequence numbers
 *    commit in the order they were drawn and a reader that saw N never
 *    misses an entry below N that commits later;
 *  - a document remembers the job that wrote it (ragd_docs.job): a put
 *    from an older job than that is skipped, so whichever process finishes
 *    first, the newest job's version stays.
 * Writes NOTIFY STORE_PG_CHANNEL in their transaction; store_listen.c turns
 * that into notify.h messages.
 *
 * What a read-only handle reads with the vectors (their chunks' text and
 * documents) is kept in memory, one copy per URL for the whole process:
 * chunk ids are never reused, so a kept chunk never goes stale, and a
 * replica whose database is unreachable still answers searches.
 */
#include "store_pg.h"
#include "store_vec.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* Version 1: documents, chunks, vectors, change log, jobs. */
#define STORE_PG_SCHEMA_VERSION 1

/* The advisory lock of schema setup and of every write transaction. */
#define STORE_PG_LOCK "SELECT pg_advisory_xact_lock(7452361)"

/* A write that waits this long for the lock or a row fails, rather than
 * hold a worker forever. */
#define STORE_PG_CONNECT_OPTS "-c lock_timeout=30000 -c statement_timeout=600000"

/* A job's runner renews its lease at every step (64 documents); a runner
 * silent this long is taken for dead and its job for anyone's.  Longer
 * than a step's worst embedding retries, so a live runner keeps its job;
 * were it wrong, a step's commit still checks the job is where the step
 * found it, so no batch is written twice. */
#define STORE_PG_JOB_LEASE_MS 60000

static const char store_pg_schema_sql[] =
    "CREATE TABLE IF NOT EXISTS ragd_meta("
    "  key text PRIMARY KEY, value text NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ragd_docs("
    "  id text PRIMARY KEY, title text NOT NULL DEFAULT '', url text, metadata text,"
    "  job bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS ragd_chunks("
    "  id bigserial PRIMARY KEY, doc_id text NOT NULL, seq integer NOT NULL,"
    "  text text NOT NULL);"
    "CREATE INDEX IF NOT EXISTS ragd_chunks_doc ON ragd_chunks(doc_id);"
    /* Whether the chunk has a full-text entry (the kb's rows): added to
     * version 1 in place, every older chunk having one.  Looked up first,
     * since ALTER TABLE would lock out every reader even to do nothing. */
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
    "  WHERE table_schema = current_schema() AND table_name = 'ragd_chunks'"
    "  AND column_name = 'fts') THEN"
    "  ALTER TABLE ragd_chunks ADD COLUMN fts boolean NOT NULL DEFAULT true;"
    " END IF; END $$;"
    "CREATE TABLE IF NOT EXISTS ragd_vectors("
    "  chunk_id bigint PRIMARY KEY, vec bytea NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ragd_changes("
    "  seq bigserial PRIMARY KEY, doc_id text NOT NULL, op integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ragd_jobs("
    "  id bigserial PRIMARY KEY, status text NOT NULL, into_ text NOT NULL,"
    "  total bigint NOT NULL, done bigint NOT NULL DEFAULT 0,"
    "  failed bigint NOT NULL DEFAULT 0, chunks bigint NOT NULL DEFAULT 0,"
    "  errors text NOT NULL DEFAULT '[]', created_at bigint NOT NULL,"
    "  started_at bigint NOT NULL DEFAULT 0, finished_at bigint NOT NULL DEFAULT 0);"
    /* Which process runs the job, until when (the database's clock, ms):
     * added to version 1 in place.  Looked up first, as fts above: ALTER
     * TABLE takes an exclusive lock even when the column exists, and a
     * handle opening while a job step holds ragd_jobs and waits for the
     * write lock this setup holds would deadlock with it. */
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
    "  WHERE table_schema = current_schema() AND table_name = 'ragd_jobs'"
    "  AND column_name = 'lease_until') THEN"
    "  ALTER TABLE ragd_jobs ADD COLUMN IF NOT EXISTS lease_owner text NOT NULL DEFAULT '';"
    "  ALTER TABLE ragd_jobs ADD COLUMN IF NOT EXISTS lease_until bigint NOT NULL DEFAULT 0;"
    " END IF; END $$;"
    "CREATE TABLE IF NOT EXISTS ragd_job_docs("
    "  job_id bigint NOT NULL, idx bigint NOT NULL, doc text NOT NULL,"
    "  PRIMARY KEY(job_id, idx));";

#define STORE_PG_JOB_COLS                                                                \
    "id, status, into_, total, done, failed, chunks, errors, created_at, started_at,"   \
    " finished_at"

/* ------------------------------------------------------- kept chunks -- */

/* One chunk as a search reads it: doc_id, title, url, text, metadata, each
 * NUL-terminated in data (NULL fields are absent: off -1). */
typedef struct pg_row {
    int64_t id;
    struct pg_row *next;
    long off[5];
    char data[];
} pg_row;

typedef struct pg_map {
    pg_row **b;
    size_t nb, n;
} pg_map;

/* The kept chunks of one URL, shared by its handles (refs). */
typedef struct pg_rows {
    char *url;
    int refs;
    pthread_mutex_t mu;
    pg_map map;
    struct pg_rows *next;
} pg_rows;

static pthread_mutex_t store_pg_rows_mu = PTHREAD_MUTEX_INITIALIZER;
static pg_rows *store_pg_rows_head;

static void pg_map_release(pg_map *m)
{
    for (size_t i = 0; i < m->nb; i++)
        for (pg_row *r = m->b[i], *next; r; r = next) {
            next = r->next;
            free(r);
        }
    free(m->b);
    memset(m, 0, sizeof *m);
}

static int pg_map_grow(pg_map *m)
{
    size_t nb = m->nb ? m->nb * 2 : 1024;
    pg_row **b = calloc(nb, sizeof *b);

    if (!b)
        return -1;
    for (size_t i = 0; i < m->nb; i++)
        for (pg_row *r = m->b[i], *next; r; r = next) {
            next = r->next;
            r->next = b[(uint64_t)r->id & (nb - 1)];
            b[(uint64_t)r->id & (nb - 1)] = r;
        }
    free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

static pg_row *pg_map_find(const pg_map *m, int64_t id)
{
    if (!m->nb)
        return NULL;
    for (pg_row *r = m->b[(uint64_t)id & (m->nb - 1)]; r; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

/* Keep the chunk id with fields f (NULL allowed).  Returns 0 or -1. */
static int pg_map_add(pg_map *m, int64_t id, const char *const f[5])
{
    size_t need = 0;
    pg_row *r;

    if (pg_map_find(m, id))
        return 0;
    if (m->n >= m->nb && pg_map_grow(m) < 0)
        return -1;
    for (int i = 0; i < 5; i++)
        need += f[i] ? strlen(f[i]) + 1 : 0;
    if (!(r = malloc(sizeof *r + need)))
        return -1;
    r->id = id;
    need = 0;
    for (int i = 0; i < 5; i++) {
        r->off[i] = f[i] ? (long)need : -1;
        if (f[i]) {
            memcpy(r->data + need, f[i], strlen(f[i]) + 1);
            need += strlen(f[i]) + 1;
        }
    }
    r->next = m->b[(uint64_t)id & (m->nb - 1)];
    m->b[(uint64_t)id & (m->nb - 1)] = r;
    m->n++;
    return 0;
}

/* The kept chunks of url, with one more reference.  NULL: out of memory. */
static pg_rows *pg_rows_get(const char *url)
{
    pg_rows *r;

    pthread_mutex_lock(&store_pg_rows_mu);
    for (r = store_pg_rows_head; r && strcmp(r->url, url) != 0; r = r->next)
        ;
    if (!r && (r = calloc(1, sizeof *r))) {
        if (!(r->url = strdup(url))) {
            free(r);
            r = NULL;
        } else {
            pthread_mutex_init(&r->mu, NULL);
            r->next = store_pg_rows_head;
            store_pg_rows_head = r;
        }
    }
    if (r)
        r->refs++;
    pthread_mutex_unlock(&store_pg_rows_mu);
    return r;
}

/* Whether url's chunks are kept (a load has run in this process). */
static int pg_rows_loaded(pg_rows *r)
{
    int n;

    pthread_mutex_lock(&r->mu);
    n = r->map.n > 0;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void pg_rows_put(pg_rows **rp)
{
    pg_rows *r = *rp, **link;

    if (!r)
        return;
    *rp = NULL;
    pthread_mutex_lock(&store_pg_rows_mu);
    if (--r->refs == 0) {
        for (link = &store_pg_rows_head; *link != r; link = &(*link)->next)
            ;
        *link = r->next;
        pg_map_release(&r->map);
        pthread_mutex_destroy(&r->mu);
        free(r->url);
        free(r);
    }
    pthread_mutex_unlock(&store_pg_rows_mu);
}

/* ------------------------------------------------------------ handle -- */

/* A handle: one connection.  use/recorded/pending as in store.c; vec is
 * one decoded vector; row holds the strings a read hands out. */
struct store_pg {
    PGconn *conn;
    char *url;
    char label[512];
    int writable, in_txn, down;
    store_embedder use;
    int recorded, pending;
    int64_t keep, trimmed; /* store_log_keep; the last trim's bound */
    int logged;            /* this transaction logged a change */
    pg_rows *rows;
    pthread_mutex_t cancel_mu;
    PGcancel *cancel;
    float *vec;
    size_t vecdims;
    unsigned char *blob;
    size_t blobdims;
    char *row;
    size_t rowcap;
    char err[512];
};

int store_pg_is_url(const char *path)
{
    return !strncmp(path, "postgres://", 11) || !strncmp(path, "postgresql://", 13);
}

void store_pg_label(const char *url, char *out, size_t outlen)
{
    const char *scheme = strstr(url, "://"), *at, *colon;

    if (!scheme) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    scheme += 3;
    at = strchr(scheme, '@');
    colon = strchr(scheme, ':');
    if (at && colon && colon < at && !memchr(scheme, '/', (size_t)(at - scheme)))
        snprintf(out, outlen, "%.*s%.*s:***%s", (int)(scheme - url), url,
                 (int)(colon - scheme), scheme, at);
    else
        snprintf(out, outlen, "%s", url);
}

void store_pg_oneline(char *msg)
{
    size_t n;

    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    n = strlen(msg);
    while (n && msg[n - 1] == ' ')
        msg[--n] = '\0';
}

/* Record msg (and the connection's state) as p's error; returns -1. */
static int pg_fail_msg(store_pg *p, const char *msg)
{
    p->down = !p->conn || PQstatus(p->conn) != CONNECTION_OK;
    snprintf(p->err, sizeof p->err, "%s%s", p->down ? "database unreachable: " : "", msg);
    store_pg_oneline(p->err);
    return -1;
}

void store_pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_fail(store_pg *p)
{
    return pg_fail_msg(p, p->conn ? PQerrorMessage(p->conn) : "no connection");
}

const char *store_pg_errmsg(store_pg *p)
{
    return p->err;
}

int store_pg_unreachable(store_pg *p)
{
    return p->down;
}

void store_pg_interrupt(store_pg *p)
{
    char buf[64];

    pthread_mutex_lock(&p->cancel_mu);
    if (p->cancel)
        PQcancel(p->cancel, buf, sizeof buf);
    pthread_mutex_unlock(&p->cancel_mu);
}

int store_pg_fail(store_pg *p, const char *msg)
{
    return pg_fail_msg(p, msg);
}

int store_pg_unsupported(store_pg *p, const char *what)
{
    snprintf(p->err, sizeof p->err, "not supported on a PostgreSQL store yet: %s", what);
    return -1;
}

/* Run sql with n text parameters v (NULL: SQL NULL); lens/fmts may be NULL
 * (all text).  Returns the result, which the caller PQclears, or NULL
 * with p->err. */
static int pg_ready(store_pg *p);

/* One try of pg_run. */
static PGresult *pg_run_once(store_pg *p, const char *sql, int n, const char *const *v,
                             const int *lens, const int *fmts, int binary)
{
    /* Without parameters, the simple protocol, which runs several
     * statements (the schema) in one call. */
    PGresult *r = n || binary ? PQexecParams(p->conn, sql, n, NULL, v, lens, fmts, binary)
                              : PQexec(p->conn, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    pg_fail_msg(p, r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn));
    PQclear(r);
    return NULL;
}

static PGresult *pg_run(store_pg *p, const char *sql, int n, const char *const *v,
                        const int *lens, const int *fmts, int binary)
{
    /* A connection whose server restarted looks fine until its next
     * statement fails.  Outside a transaction nothing was lost with it:
     * connect again and run the statement once more. */
    int idle = PQtransactionStatus(p->conn) == PQTRANS_IDLE;
    PGresult *r = pg_run_once(p, sql, n, v, lens, fmts, binary);

    if (!r && idle && PQstatus(p->conn) == CONNECTION_BAD && pg_ready(p) == 0)
        r = pg_run_once(p, sql, n, v, lens, fmts, binary);
    return r;
}

/* pg_run for a statement whose rows do not matter.  Returns 0 or -1. */
static int pg_do(store_pg *p, const char *sql, int n, const char *const *v)
{
    PGresult *r = pg_run(p, sql, n, v, NULL, NULL, 0);

    PQclear(r);
    return r ? 0 : -1;
}

/* Connect (again) when the connection is gone; not inside a transaction,
 * whose work a new connection would not have.  Returns 0 or -1. */
static int pg_ready(store_pg *p)
{
    PGcancel *c;

    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    if (p->in_txn)
        return pg_fail_msg(p, "the connection was lost in a transaction");
    if (p->conn)
        PQreset(p->conn);
    else {
        const char *keys[] = {"dbname", "connect_timeout", "options", "application_name", NULL};
        const char *vals[] = {p->url, "5", STORE_PG_CONNECT_OPTS, "ragd", NULL};
        p->conn = PQconnectdbParams(keys, vals, 1);
    }
    if (!p->conn)
        return pg_fail_msg(p, "out of memory");
    /* The server's notices (a shutdown's FATAL) would go to stderr: what
     * matters reaches the caller as the failed call's error. */
    PQsetNoticeProcessor(p->conn, store_pg_quiet, NULL);
    if (PQstatus(p->conn) != CONNECTION_OK)
        return pg_fail(p);
    c = PQgetCancel(p->conn);
    pthread_mutex_lock(&p->cancel_mu);
    if (p->cancel)
        PQfreeCancel(p->cancel);
    p->cancel = c;
    pthread_mutex_unlock(&p->cancel_mu);
    p->down = 0;
    return pg_do(p, "SET client_min_messages = warning", 0, NULL);
}

/* A string of n as a parameter. */
static const char *pg_i64(char buf[24], int64_t n)
{
    snprintf(buf, 24, "%" PRId64, n);
    return buf;
}

static int64_t pg_get_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A NULL-aware text field of a text-format result. */
static const char *pg_get_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Copy n fields of row into p->row and point dst at them, so the result
 * can be cleared before they are used. */
static int pg_take(store_pg *p, const char *const f[], const char **dst[], int n)
{
    size_t need = 0, off = 0;

    for (int i = 0; i < n; i++)
        need += f[i] ? strlen(f[i]) + 1 : 0;
    if (need > p->rowcap) {
        char *b = realloc(p->row, need);
        if (!b)
            return pg_fail_msg(p, "out of memory");
        p->row = b;
        p->rowcap = need;
    }
    for (int i = 0; i < n; i++) {
        *dst[i] = f[i] ? memcpy(p->row + off, f[i], strlen(f[i]) + 1) : NULL;
        off += f[i] ? strlen(f[i]) + 1 : 0;
    }
    return 0;
}

/* ------------------------------------------------------------ opening -- */

/* Create what the schema lacks and check its version, in one transaction
 * under the lock, so two processes never set it up at once. */
static int pg_setup(store_pg *p)
{
    char ver[16];
    const char *v[] = {ver};
    PGresult *r;

    snprintf(ver, sizeof ver, "%d", STORE_PG_SCHEMA_VERSION);
    if (pg_do(p, "BEGIN", 0, NULL) < 0)
        return -1;
    if (pg_do(p, STORE_PG_LOCK, 0, NULL) < 0 || pg_do(p, store_pg_schema_sql, 0, NULL) < 0 ||
        !(r = pg_run(p, "INSERT INTO ragd_meta(key, value) VALUES('schema_version', $1)"
                        " ON CONFLICT(key) DO UPDATE SET value = ragd_meta.value"
                        " RETURNING value", 1, v, NULL, NULL, 0)))
        goto fail;
    if (strcmp(PQgetvalue(r, 0, 0), ver) != 0) {
        snprintf(p->err, sizeof p->err, "ragd schema version %s, this ragd needs %s",
                 PQgetvalue(r, 0, 0), ver);
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    return pg_do(p, "COMMIT", 0, NULL);
fail:
    PQclear(PQexec(p->conn, "ROLLBACK"));
    return -1;
}

int store_pg_open(const char *url, int writable, store_pg **out, char *err, size_t errlen)
{
    store_pg *p = calloc(1, sizeof *p);

    *out = NULL;
    if (!p || !(p->url = strdup(url)) || !(p->rows = pg_rows_get(url))) {
        snprintf(err, errlen, "out of memory");
        if (p)
            free(p->url);
        free(p);
        return -1;
    }
    pthread_mutex_init(&p->cancel_mu, NULL);
    store_pg_label(url, p->label, sizeof p->label);
    p->writable = writable;
    p->keep = STORE_CHANGE_LOG_KEEP;
    if (pg_ready(p) == 0 && pg_setup(p) == 0) {
        *out = p;
        return 0;
    }
    if (!writable && p->down && pg_rows_loaded(p->rows)) {
        *out = p; /* serves kept chunks; reconnects at its next call */
        return 0;
    }
    snprintf(err, errlen, "%s: %s", p->label, p->err);
    store_pg_close(&p);
    return -1;
}

void store_pg_close(store_pg **pp)
{
    store_pg *p = *pp;

    if (!p)
        return;
    if (p->in_txn)
        store_pg_rollback(p);
    PQfinish(p->conn);
    if (p->cancel)
        PQfreeCancel(p->cancel);
    pthread_mutex_destroy(&p->cancel_mu);
    pg_rows_put(&p->rows);
    free(p->url);
    free(p->vec);
    free(p->blob);
    free(p->row);
    free(p);
    *pp = NULL;
}

/* ------------------------------------------------------- transactions -- */

int store_pg_begin(store_pg *p)
{
    assert(!p->in_txn);
    /* A reader's several reads see one snapshot, as in SQLite. */
    if (pg_ready(p) < 0 ||
        pg_do(p, p->writable ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
              NULL) < 0)
        return -1;
    p->in_txn = 1;
    return 0;
}

static void pg_trim(store_pg *p);

int store_pg_commit(store_pg *p)
{
    assert(p->in_txn);
    if (pg_do(p, "COMMIT", 0, NULL) < 0) {
        store_pg_rollback(p);
        return -1;
    }
    p->in_txn = 0;
    p->recorded |= p->pending;
    p->pending = 0;
    if (p->logged) {
        p->logged = 0;
        pg_trim(p);
    }
    return 0;
}

void store_pg_rollback(store_pg *p)
{
    if (p->conn && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        PQclear(PQexec(p->conn, "ROLLBACK"));
    p->in_txn = 0;
    p->pending = 0;
    p->logged = 0;
}

/* Run fn(p, arg) in its own transaction unless one is open. */
static int pg_own_txn(store_pg *p, int (*fn)(store_pg *, const void *), const void *arg)
{
    int own = !p->in_txn, rc;

    if (own && store_pg_begin(p) < 0)
        return -1;
    rc = fn(p, arg);
    if (own && rc >= 0 && store_pg_commit(p) < 0)
        rc = -1;
    if (own && rc < 0)
        store_pg_rollback(p);
    return rc;
}

/* ----------------------------------------------------------- embedder -- */

int store_pg_meta_get(store_pg *p, const char *key, char *out, size_t outlen)
{
    const char *v[] = {key};
    PGresult *r = pg_ready(p) < 0 ? NULL
                : pg_run(p, "SELECT value FROM ragd_meta WHERE key = $1", 1, v, NULL, NULL, 0);
    int rc;

    if (!r)
        return -1;
    if ((rc = PQntuples(r) > 0))
        snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

static int pg_meta_set(store_pg *p, const char *key, const char *value)
{
    const char *v[] = {key, value};

    return pg_do(p, "INSERT INTO ragd_meta(key, value) VALUES($1, $2)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value", 2, v);
}

int store_pg_any_vector(store_pg *p)
{
    PGresult *r = pg_ready(p) < 0 ? NULL
                : pg_run(p, "SELECT EXISTS (SELECT 1 FROM ragd_vectors)", 0, NULL, NULL, NULL, 0);
    int rc;

    if (!r)
        return -1;
    rc = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return rc;
}

void store_pg_embedder_set(store_pg *p, const store_embedder *e, int recorded)
{
    p->use = *e;
    p->recorded = recorded;
}

const char *store_pg_name(store_pg *p)
{
    return p->label;
}

static int pg_record_embedder(store_pg *p)
{
    char dims[32];

    snprintf(dims, sizeof dims, "%zu", p->use.dims);
    if (pg_meta_set(p, "embedder", p->use.name) < 0 || pg_meta_set(p, "embed_dims", dims) < 0)
        return -1;
    if (!strcmp(p->use.name, "openai") &&
        (pg_meta_set(p, "embed_model", p->use.model) < 0 ||
         pg_meta_set(p, "embed_url", p->use.url) < 0))
        return -1;
    p->pending = 1;
    return 0;
}

/* ------------------------------------------------------------ writing -- */

/* Delete document id and all it had.  Returns 1, 0 when there was none,
 * or -1. */
static int pg_remove(store_pg *p, const char *id)
{
    const char *v[] = {id};
    PGresult *r;
    int had;

    if (pg_do(p, "DELETE FROM ragd_vectors WHERE chunk_id IN"
                 " (SELECT id FROM ragd_chunks WHERE doc_id = $1)", 1, v) < 0 ||
        pg_do(p, "DELETE FROM ragd_chunks WHERE doc_id = $1", 1, v) < 0 ||
        !(r = pg_run(p, "DELETE FROM ragd_docs WHERE id = $1", 1, v, NULL, NULL, 0)))
        return -1;
    had = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    return had;
}

/* Append to the change log and wake the listeners at commit. */
static int pg_log(store_pg *p, const char *id, store_op op)
{
    char o[24];
    const char *v[] = {id, pg_i64(o, op)};

    if (pg_do(p, "INSERT INTO ragd_changes(doc_id, op) VALUES($1, $2)", 2, v) < 0 ||
        pg_do(p, "NOTIFY " STORE_PG_CHANNEL, 0, NULL) < 0)
        return -1;
    p->logged = 1;
    return 0;
}

/* Whether the document's stored version comes from a job newer than
 * job: 1 (skip the put), 0, or -1. */
static int pg_newer(store_pg *p, const char *id, int64_t job)
{
    const char *v[] = {id};
    PGresult *r;
    int newer;

    if (job <= 0)
        return 0;
    if (!(r = pg_run(p, "SELECT job FROM ragd_docs WHERE id = $1", 1, v, NULL, NULL, 0)))
        return -1;
    newer = PQntuples(r) > 0 && pg_get_i64(r, 0, 0) > job;
    PQclear(r);
    return newer;
}

/* vec as float32 little-endian in p->blob. */
static int pg_pack(store_pg *p, const float *vec)
{
    return store_vec_pack(&p->blob, &p->blobdims, vec, p->use.dims) == 0
               ? 0 : pg_fail_msg(p, "out of memory");
}

static int pg_put_chunk(store_pg *p, const store_doc *d, size_t k)
{
    char seq[24], cid[24];
    const char *v[] = {d->id, pg_i64(seq, (int64_t)k), d->chunks[k].text, d->fts ? "t" : "f"};
    const int lens[] = {0, 0, (int)d->chunks[k].len, 0}, fmts[] = {0, 0, 1, 0};
    PGresult *r = pg_run(p, "INSERT INTO ragd_chunks(doc_id, seq, text, fts)"
                            " VALUES($1, $2, $3, $4) RETURNING id", 4, v, lens, fmts, 0);

    if (!r)
        return -1;
    snprintf(cid, sizeof cid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (d->vecs) {
        const char *vv[] = {cid, NULL};
        const int vl[] = {0, (int)(p->use.dims * 4)}, vf[] = {0, 1};
        if (pg_pack(p, d->vecs + k * p->use.dims) < 0)
            return -1;
        vv[1] = (const char *)p->blob;
        if (!(r = pg_run(p, "INSERT INTO ragd_vectors(chunk_id, vec) VALUES($1, $2)", 2, vv, vl,
                         vf, 0)))
            return -1;
        PQclear(r);
    }
    return 0;
}

static int pg_put_rows(store_pg *p, const void *arg)
{
    const store_doc *d = arg;
    char job[24];
    const char *v[] = {d->id, d->title, d->url, d->metadata, pg_i64(job, d->job)};
    int newer;

    if (pg_do(p, STORE_PG_LOCK, 0, NULL) < 0 || (newer = pg_newer(p, d->id, d->job)) < 0)
        return -1;
    if (newer)
        return 0;
    if (pg_remove(p, d->id) < 0)
        return -1;
    if (d->vecs && d->nchunks && !p->recorded && !p->pending && pg_record_embedder(p) < 0)
        return -1;
    if (pg_do(p, "INSERT INTO ragd_docs(id, title, url, metadata, job)"
                 " VALUES($1, $2, $3, $4, $5)", 5, v) < 0)
        return -1;
    for (size_t k = 0; k < d->nchunks; k++)
        if (pg_put_chunk(p, d, k) < 0)
            return -1;
    return pg_log(p, d->id, STORE_PUT);
}

int store_pg_put(store_pg *p, const store_doc *d)
{
    assert(p->writable && d->id && d->title);
    if (d->vecs && p->use.dims == 0)
        return pg_fail_msg(p, "vectors without a declared embedder");
    return pg_own_txn(p, pg_put_rows, d);
}

static int pg_delete_rows(store_pg *p, const void *arg)
{
    const char *id = arg;
    int rc;

    if (pg_do(p, STORE_PG_LOCK, 0, NULL) < 0 || (rc = pg_remove(p, id)) < 0)
        return -1;
    return rc == 1 && pg_log(p, id, STORE_DELETE) < 0 ? -1 : rc;
}

int store_pg_delete(store_pg *p, const char *id)
{
    assert(p->writable);
    return pg_own_txn(p, pg_delete_rows, id);
}

/* --------------------------------------------------------- change log -- */

/* A one-row, one-column integer query.  Returns 0 with *out, or -1. */
static int pg_int(store_pg *p, const char *sql, int64_t *out)
{
    PGresult *r = pg_ready(p) < 0 ? NULL : pg_run(p, sql, 0, NULL, NULL, NULL, 0);

    if (!r)
        return -1;
    *out = pg_get_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int store_pg_last_seq(store_pg *p, int64_t *seq)
{
    return pg_int(p, "SELECT coalesce(max(seq), 0) FROM ragd_changes", seq);
}

/* Every change up to this bound was trimmed from the log. */
#define PG_TRIMMED_SQL                                                                   \
    "SELECT coalesce((SELECT value::bigint FROM ragd_meta WHERE key = 'changes_trimmed'), 0)"

void store_pg_log_keep(store_pg *p, int64_t keep)
{
    p->keep = keep;
}

/* As store.c's store_trim: after a commit that logged, delete the entries
 * older than the newest p->keep and record the bound, in one transaction
 * under the writers' lock.  A failure leaves the trim to the next commit. */
static void pg_trim(store_pg *p)
{
    char c[24];
    const char *v[] = {c};
    int64_t last, cut;

    if (pg_int(p, "SELECT coalesce(max(seq), 0) FROM ragd_changes", &last) < 0 ||
        (cut = last - p->keep) <= p->trimmed)
        return;
    pg_i64(c, cut);
    if (pg_do(p, "BEGIN", 0, NULL) < 0 || pg_do(p, STORE_PG_LOCK, 0, NULL) < 0 ||
        pg_do(p, "DELETE FROM ragd_changes WHERE seq <= $1", 1, v) < 0 ||
        pg_do(p, "INSERT INTO ragd_meta(key, value) VALUES('changes_trimmed', $1)"
                 " ON CONFLICT(key) DO UPDATE SET value ="
                 " greatest(ragd_meta.value::bigint, excluded.value::bigint)::text", 1, v) < 0 ||
        pg_do(p, "COMMIT", 0, NULL) < 0) {
        store_pg_rollback(p);
        return;
    }
    p->trimmed = cut;
}

int store_pg_changes(store_pg *p, int64_t after, store_change_fn fn, void *arg)
{
    char a[24];
    const char *v[] = {pg_i64(a, after)};
    PGresult *r = pg_ready(p) < 0 ? NULL
                : pg_run(p, "SELECT seq, doc_id, op FROM ragd_changes WHERE seq > $1 ORDER BY seq",
                         1, v, NULL, NULL, 0);
    int64_t trimmed;
    int rc = 0;

    if (!r)
        return -1;
    /* The bound is read after the rows: a trim that committed before the
     * rows were read is seen, so no entry is missed unnoticed (one that
     * commits in between costs a reload that was not needed). */
    if (pg_int(p, PG_TRIMMED_SQL, &trimmed) < 0) {
        PQclear(r);
        return -1;
    }
    if (after < trimmed) {
        PQclear(r);
        return STORE_BEHIND;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        int op = atoi(PQgetvalue(r, i, 2));
        if (op != STORE_PUT && op != STORE_DELETE) {
            rc = pg_fail_msg(p, "a change log entry without document or operation");
            break;
        }
        if (fn(arg, pg_get_i64(r, i, 0), PQgetvalue(r, i, 1), (store_op)op) != 0)
            break;
    }
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ reading -- */

int store_pg_vector_count(store_pg *p, size_t *n)
{
    int64_t v;

    if (pg_int(p, "SELECT count(*) FROM ragd_vectors", &v) < 0)
        return -1;
    *n = (size_t)v;
    return 0;
}

static int64_t pg_be64(const char *b)
{
    uint64_t u = 0;

    for (int i = 0; i < 8; i++)
        u = u << 8 | (unsigned char)b[i];
    return (int64_t)u;
}

/* One row of the vectors query (binary): keep its chunk, pass its vector.
 * Returns fn's answer, or 0 for a skipped row. */
static int pg_vector_row(store_pg *p, PGresult *r, pg_map *keep, size_t dims,
                         store_vector_fn fn, void *arg, size_t *skipped)
{
    const char *f[5];
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, 0, 2);
    int64_t id = pg_be64(PQgetvalue(r, 0, 0));

    if ((size_t)PQgetlength(r, 0, 2) != dims * 4 || PQgetlength(r, 0, 0) != 8) {
        ++*skipped;
        return 0;
    }
    for (int i = 0; i < 5; i++)
        f[i] = PQgetisnull(r, 0, i + 3) ? NULL : PQgetvalue(r, 0, i + 3);
    if (keep) {
        pthread_mutex_lock(&p->rows->mu);
        pg_map_add(keep, id, f); /* out of memory: that chunk is read from the database */
        pthread_mutex_unlock(&p->rows->mu);
    }
    for (size_t i = 0; i < dims; i++) {
        uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                     (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
        memcpy(&p->vec[i], &u, 4);
    }
    return fn(arg, id, f[0], p->vec);
}

int store_pg_vectors(store_pg *p, const char *doc_id, size_t dims, store_vector_fn fn, void *arg,
                     size_t *skipped)
{
    static const char cols[] =
        "SELECT v.chunk_id, c.doc_id, v.vec, c.doc_id, d.title, d.url, c.text, d.metadata"
        " FROM ragd_vectors v JOIN ragd_chunks c ON c.id = v.chunk_id"
        " JOIN ragd_docs d ON d.id = c.doc_id";
    char sql[512];
    const char *v[] = {doc_id};
    pg_map fresh = {0}, *keep = NULL;
    PGresult *r;
    int stop = 0, rc = 0;

    *skipped = 0;
    if (p->vecdims != dims) {
        float *f = realloc(p->vec, (dims ? dims : 1) * sizeof *f);
        if (!f)
            return pg_fail_msg(p, "out of memory");
        p->vec = f;
        p->vecdims = dims;
    }
    snprintf(sql, sizeof sql, "%s%s", cols,
             doc_id ? " WHERE c.doc_id = $1 ORDER BY c.id" : " ORDER BY v.chunk_id");
    if (pg_ready(p) < 0)
        return -1;
    if (!PQsendQueryParams(p->conn, sql, doc_id ? 1 : 0, NULL, v, NULL, NULL, 1))
        return pg_fail(p);
    /* A whole store's rows one at a time, never all in memory at once. */
    PQsetSingleRowMode(p->conn);
    /* A read-only handle keeps what it reads: a whole load replaces what
     * was kept, a document's rows add to it. */
    keep = p->writable ? NULL : doc_id ? &p->rows->map : &fresh;
    while ((r = PQgetResult(p->conn))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !stop)
            stop = pg_vector_row(p, r, keep, dims, fn, arg, skipped);
        else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0)
            rc = pg_fail_msg(p, PQresultErrorMessage(r));
        PQclear(r);
    }
    if (keep == &fresh && rc == 0) {
        pthread_mutex_lock(&p->rows->mu);
        pg_map_release(&p->rows->map);
        p->rows->map = fresh;
        pthread_mutex_unlock(&p->rows->mu);
    } else {
        pg_map_release(&fresh);
    }
    return rc;
}

int store_pg_kb_chunks(store_pg *p, const char *doc_id, int text, store_pg_kb_fn fn, void *arg)
{
    char sql[256];
    const char *v[] = {doc_id};
    PGresult *r;
    int stop = 0, rc = 0;

    snprintf(sql, sizeof sql,
             "SELECT c.id, c.doc_id%s FROM ragd_chunks c%s WHERE c.fts%s ORDER BY c.id",
             text ? ", d.title, c.text" : "", text ? " JOIN ragd_docs d ON d.id = c.doc_id" : "",
             doc_id ? " AND c.doc_id = $1" : "");
    if (pg_ready(p) < 0)
        return -1;
    if (!PQsendQueryParams(p->conn, sql, doc_id ? 1 : 0, NULL, v, NULL, NULL, 0))
        return pg_fail(p);
    /* A whole store's rows one at a time, never all in memory at once. */
    PQsetSingleRowMode(p->conn);
    while ((r = PQgetResult(p->conn))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && !stop)
            stop = fn(arg, pg_get_i64(r, 0, 0), PQgetvalue(r, 0, 1),
                      text ? PQgetvalue(r, 0, 2) : NULL, text ? (size_t)PQgetlength(r, 0, 2) : 0,
                      text ? PQgetvalue(r, 0, 3) : NULL, text ? (size_t)PQgetlength(r, 0, 3) : 0);
        else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0)
            rc = pg_fail_msg(p, PQresultErrorMessage(r));
        PQclear(r);
    }
    return rc;
}

/* Chunk id from the kept chunks into *h.  Returns 1, or 0 when not kept. */
static int pg_kept(store_pg *p, int64_t id, store_hit *h)
{
    const char **dst[5] = {&h->doc_id, &h->title, &h->url, &h->text, &h->metadata};
    const char *f[5];
    pg_row *row;
    int rc = 0;

    pthread_mutex_lock(&p->rows->mu);
    if ((row = pg_map_find(&p->rows->map, id))) {
        for (int i = 0; i < 5; i++)
            f[i] = row->off[i] < 0 ? NULL : row->data + row->off[i];
        rc = pg_take(p, f, dst, 5) < 0 ? -1 : 1;
    }
    pthread_mutex_unlock(&p->rows->mu);
    return rc;
}

int store_pg_chunk_get(store_pg *p, int64_t chunk_id, store_hit *h)
{
    const char **dst[5] = {&h->doc_id, &h->title, &h->url, &h->text, &h->metadata};
    const char *f[5];
    char id[24];
    const char *v[] = {pg_i64(id, chunk_id)};
    PGresult *r;
    int rc;

    memset(h, 0, sizeof *h);
    if ((rc = pg_kept(p, chunk_id, h)) != 0)
        return rc;
    if (pg_ready(p) < 0 ||
        !(r = pg_run(p, "SELECT c.doc_id, d.title, d.url, c.text, d.metadata FROM ragd_chunks c"
                        " JOIN ragd_docs d ON d.id = c.doc_id WHERE c.id = $1", 1, v, NULL, NULL,
                     0)))
        return -1;
    rc = PQntuples(r) > 0;
    for (int i = 0; rc && i < 5; i++)
        f[i] = pg_get_text(r, 0, i);
    if (rc && pg_take(p, f, dst, 5) < 0)
        rc = -1;
    PQclear(r);
    if (rc == 1 && !h->text)
        h->text = "";
    return rc;
}

int store_pg_doc_metadata(store_pg *p, const char *id, const char **json)
{
    const char *v[] = {id}, *f[1];
    const char **dst[1] = {json};
    PGresult *r;
    int rc;

    *json = NULL;
    if (pg_ready(p) < 0 ||
        !(r = pg_run(p, "SELECT metadata FROM ragd_docs WHERE id = $1", 1, v, NULL, NULL, 0)))
        return -1;
    rc = PQntuples(r) > 0;
    if (rc) {
        f[0] = pg_get_text(r, 0, 0);
        rc = pg_take(p, f, dst, 1) < 0 ? -1 : 1;
    }
    PQclear(r);
    return rc;
}

int store_pg_doc_get(store_pg *p, const char *id, store_docinfo *d)
{
    const char *v[] = {id}, *f[4];
    const char **dst[4] = {&d->id, &d->title, &d->url, &d->metadata};
    PGresult *r;
    int rc;

    memset(d, 0, sizeof *d);
    if (pg_ready(p) < 0 ||
        !(r = pg_run(p, "SELECT id, title, url, metadata,"
                        " (SELECT count(*) FROM ragd_chunks WHERE doc_id = $1)"
                        " FROM ragd_docs WHERE id = $1", 1, v, NULL, NULL, 0)))
        return -1;
    rc = PQntuples(r) > 0;
    if (rc) {
        for (int i = 0; i < 4; i++)
            f[i] = pg_get_text(r, 0, i);
        d->nchunks = (size_t)pg_get_i64(r, 0, 4);
        rc = pg_take(p, f, dst, 4) < 0 ? -1 : 1;
    }
    PQclear(r);
    return rc;
}

int store_pg_doc_ids(store_pg *p, store_doc_id_fn fn, void *arg)
{
    PGresult *r = pg_ready(p) < 0 ? NULL
                : pg_run(p, "SELECT id FROM ragd_docs ORDER BY id", 0, NULL, NULL, NULL, 0);

    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        if (fn(arg, PQgetvalue(r, i, 0)))
            break;
    PQclear(r);
    return 0;
}

int store_pg_doc_chunks(store_pg *p, const char *id, size_t dims, store_doc_chunk_fn fn,
                        void *arg)
{
    const char *v[] = {id};
    PGresult *r;

    if (p->vecdims != dims) {
        float *f = realloc(p->vec, (dims ? dims : 1) * sizeof *f);
        if (!f)
            return pg_fail_msg(p, "out of memory");
        p->vec = f;
        p->vecdims = dims;
    }
    if (pg_ready(p) < 0 ||
        !(r = pg_run(p, "SELECT c.text, v.vec FROM ragd_chunks c LEFT JOIN ragd_vectors v"
                        " ON v.chunk_id = c.id WHERE c.doc_id = $1 ORDER BY c.seq", 1, v, NULL,
                     NULL, 1)))
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        const unsigned char *b = (const unsigned char *)PQgetvalue(r, i, 1);
        int has = !PQgetisnull(r, i, 1) && dims && (size_t)PQgetlength(r, i, 1) == dims * 4;
        for (size_t k = 0; has && k < dims; k++) {
            uint32_t u = (uint32_t)b[4 * k] | (uint32_t)b[4 * k + 1] << 8 |
                         (uint32_t)b[4 * k + 2] << 16 | (uint32_t)b[4 * k + 3] << 24;
            memcpy(&p->vec[k], &u, 4);
        }
        if (fn(arg, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), has ? p->vec : NULL))
            break;
    }
    PQclear(r);
    return 0;
}

/* --------------------------------------------------------------- jobs -- */

static int pg_job_row(store_pg *p, const PGresult *r, int i, store_job *j)
{
    memset(j, 0, sizeof *j);
    j->id = pg_get_i64(r, i, 0);
    snprintf(j->status, sizeof j->status, "%s", PQgetvalue(r, i, 1));
    snprintf(j->into, sizeof j->into, "%s", PQgetvalue(r, i, 2));
    j->total = pg_get_i64(r, i, 3);
    j->done = pg_get_i64(r, i, 4);
    j->failed = pg_get_i64(r, i, 5);
    j->chunks = pg_get_i64(r, i, 6);
    j->created_at = pg_get_i64(r, i, 8);
    j->started_at = pg_get_i64(r, i, 9);
    j->finished_at = pg_get_i64(r, i, 10);
    if (!(j->errors = strdup(PQgetvalue(r, i, 7))))
        return pg_fail_msg(p, "out of memory");
    return 0;
}

typedef struct pg_job_add_arg {
    const char *into;
    const char *const *docs;
    size_t n;
    int64_t now, *id;
} pg_job_add_arg;

static int pg_job_add_rows(store_pg *p, const void *arg)
{
    const pg_job_add_arg *a = arg;
    char total[24], now[24], id[24], idx[24];
    const char *v[] = {a->into, pg_i64(total, (int64_t)a->n), pg_i64(now, a->now)};
    PGresult *r = pg_run(p, "INSERT INTO ragd_jobs(status, into_, total, created_at)"
                            " VALUES('queued', $1, $2, $3) RETURNING id", 3, v, NULL, NULL, 0);

    if (!r)
        return -1;
    *a->id = pg_get_i64(r, 0, 0);
    PQclear(r);
    pg_i64(id, *a->id);
    for (size_t i = 0; i < a->n; i++) {
        const char *dv[] = {id, pg_i64(idx, (int64_t)i), a->docs[i]};
        if (pg_do(p, "INSERT INTO ragd_job_docs(job_id, idx, doc) VALUES($1, $2, $3)", 3, dv) < 0)
            return -1;
    }
    return 0;
}

int store_pg_job_add(store_pg *p, const char *into, const char *const *docs, size_t n,
                     int64_t now, int64_t *id)
{
    pg_job_add_arg a = {into, docs, n, now, id};

    return pg_own_txn(p, pg_job_add_rows, &a);
}

int store_pg_job_get(store_pg *p, int64_t id, store_job *j)
{
    char i[24];
    const char *v[] = {pg_i64(i, id)};
    /* Inside a transaction (a commit checking its job), the row stays
     * locked until the commit: no other process commits the same batch. */
    PGresult *r = pg_ready(p) < 0 ? NULL
                : pg_run(p, p->in_txn ? "SELECT " STORE_PG_JOB_COLS " FROM ragd_jobs WHERE id = $1"
                                        " FOR UPDATE"
                                      : "SELECT " STORE_PG_JOB_COLS " FROM ragd_jobs WHERE id = $1",
                         1, v, NULL, NULL, 0);
    int rc;

    if (!r)
        return -1;
    rc = PQntuples(r) > 0 ? (pg_job_row(p, r, 0, j) < 0 ? -1 : 1) : 0;
    PQclear(r);
    return rc;
}

int store_pg_job_list(store_pg *p, int limit, store_job_fn fn, void *arg)
{
    char l[24];
    const char *v[] = {pg_i64(l, limit)};
    PGresult *r = pg_ready(p) < 0 ? NULL
                : pg_run(p, "SELECT " STORE_PG_JOB_COLS " FROM ragd_jobs ORDER BY id DESC LIMIT $1",
                         1, v, NULL, NULL, 0);
    store_job j;
    int rc = 0;

    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int stop;
        if ((rc = pg_job_row(p, r, i, &j)) < 0)
            break;
        stop = fn(arg, &j);
        store_job_release(&j);
        if (stop)
            break;
    }
    PQclear(r);
    return rc;
}

int store_pg_job_update(store_pg *p, const store_job *j)
{
    char id[24], done[24], failed[24], chunks[24], started[24], finished[24];
    const char *v[] = {pg_i64(id, j->id), j->status, pg_i64(done, j->done),
                       pg_i64(failed, j->failed), pg_i64(chunks, j->chunks),
                       j->errors ? j->errors : "[]", pg_i64(started, j->started_at),
                       pg_i64(finished, j->finished_at)};

    if (pg_ready(p) < 0)
        return -1;
    return pg_do(p, "UPDATE ragd_jobs SET status = $2, done = $3, failed = $4, chunks = $5,"
                    " errors = $6, started_at = $7, finished_at = $8 WHERE id = $1", 8, v);
}

int store_pg_job_docs(store_pg *p, int64_t id, int64_t from, int64_t n, store_job_doc_fn fn,
                      void *arg)
{
    char i[24], f[24], t[24];
    const char *v[] = {pg_i64(i, id), pg_i64(f, from), pg_i64(t, from + n)};
    PGresult *r = pg_ready(p) < 0 ? NULL
                : pg_run(p, "SELECT idx, doc FROM ragd_job_docs WHERE job_id = $1"
                            " AND idx >= $2 AND idx < $3 ORDER BY idx", 3, v, NULL, NULL, 0);

    if (!r)
        return -1;
    for (int k = 0; k < PQntuples(r); k++)
        if (fn(arg, pg_get_i64(r, k, 0), PQgetvalue(r, k, 1)))
            break;
    PQclear(r);
    return 0;
}

/* The database's clock in ms, so that replicas never compare their own. */
#define STORE_PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/* This process, as a job's lease holder: host, pid and a random part, so
 * a restarted process on the same pid is someone else. */
static char pg_lease_owner[96];
static pthread_once_t pg_lease_once = PTHREAD_ONCE_INIT;

static void pg_lease_owner_init(void)
{
    char host[64] = "?";
    unsigned r = 0;

    gethostname(host, sizeof host - 1);
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = (unsigned)time(NULL);
    snprintf(pg_lease_owner, sizeof pg_lease_owner, "%s:%ld:%08x", host, (long)getpid(), r);
}

int store_pg_job_next(store_pg *p, int64_t *id)
{
    /* One process runs a job at a time: it takes the oldest job nobody
     * holds a lease on (or its own, renewing the lease at each step), and
     * a job whose holder died is taken over once its lease runs out.
     * SKIP LOCKED: a job another process is claiming or committing a batch
     * of is passed over, not waited for. */
    char lease[24];
    const char *v[] = {pg_lease_owner, pg_i64(lease, STORE_PG_JOB_LEASE_MS)};
    PGresult *r;
    int rc;

    pthread_once(&pg_lease_once, pg_lease_owner_init);
    r = pg_ready(p) < 0 ? NULL
      : pg_run(p, "UPDATE ragd_jobs SET lease_owner = $1, lease_until = " STORE_PG_NOW_MS " + $2"
                  " WHERE id = (SELECT id FROM ragd_jobs WHERE status IN ('running', 'queued')"
                  "   AND (lease_owner IN ('', $1) OR lease_until < " STORE_PG_NOW_MS ")"
                  "   ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                  " RETURNING id", 2, v, NULL, NULL, 0);
    if (!r)
        return -1;
    if ((rc = PQntuples(r) > 0))
        *id = pg_get_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int store_pg_job_expire(store_pg *p, int64_t before, int64_t *n)
{
    char b[24];
    const char *v[] = {pg_i64(b, before)};
    PGresult *r;

    *n = 0;
    if (store_pg_begin(p) < 0)
        return -1;
    if (pg_do(p, "DELETE FROM ragd_job_docs WHERE job_id IN (SELECT id FROM ragd_jobs"
                 " WHERE finished_at > 0 AND finished_at < $1)", 1, v) < 0 ||
        !(r = pg_run(p, "DELETE FROM ragd_jobs WHERE finished_at > 0 AND finished_at < $1", 1, v,
                     NULL, NULL, 0))) {
        store_pg_rollback(p);
        return -1;
    }
    *n = atoll(PQcmdTuples(r));
    PQclear(r);
    return store_pg_commit(p);
}
