/*
 * vector -- the vector source: exact cosine top-k over every chunk embedding
 * in the store, reporting the best chunk of each document.
 *
 * Config: {"db": PATH (required), "refresh_ms": 1000 (0 disables)}.
 *
 * All embeddings live in memory as one snapshot matrix that every search
 * scans in full on a worker (vectors are L2-normalised, so cosine is a dot
 * product); the winners' texts are then read from SQLite on that worker's
 * own read-only connection.  Every refresh_ms a worker asks SQLite whether
 * another connection committed (PRAGMA data_version) and, if so, loads a
 * whole new snapshot, which the loop swaps in: documents ingested while ragd
 * runs become searchable without a restart.  That reload is full, which is
 * fine for corpora up to a few hundred thousand chunks; loading only what
 * changed is future work.  Not an approximate index, and not for writing the
 * store.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sqlite3.h>
#include <ragd/source.h>

#include "hits.h"

/* Stored vectors are little-endian float32 and are copied as they are. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the vector source needs a little-endian host");

/* Long enough to wait out an ingest batch's commit or a checkpoint. */
#define VEC_BUSY_MS 2000

/* The store schema version this source reads (meta.schema_version). */
#define VEC_SCHEMA_VERSION "1"

/* Alignment of the snapshot matrix and the query: a cache line, and enough
 * for any SIMD load. */
#define VEC_ALIGN 64

#define VEC_LOOKUP_SQL                                                       \
    "SELECT c.doc_id, d.title, d.url, c.text FROM chunks c"                  \
    " JOIN docs d ON d.id = c.doc_id WHERE c.id = ?1"

/* A loaded copy of the vectors table.  mat is n rows of dims floats in one
 * VEC_ALIGN-aligned block, row i being the embedding of chunk ids[i]; none
 * of it changes after loading.  refs counts its holders: the instance (for
 * its current snapshot) and every scan job from submit to its done
 * callback.  Only the loop thread touches refs -- references are taken and
 * dropped in search's embed callback, the scan's done callback, the refresh
 * swap and destroy, all on the loop -- so it needs no atomics; workers only
 * read mat and ids of a snapshot their job holds.  Freed at refs 0. */
typedef struct vec_snap {
    unsigned refs;
    size_t n, dims;
    float *mat;
    int64_t *ids;
} vec_snap;

/* A worker's lookup connection and its prepared statement, both NULL until
 * that worker first looks up (or after a failed open). */
typedef struct vec_conn {
    sqlite3 *db;
    sqlite3_stmt *st;
} vec_conn;

/* One vector instance.  Owns everything it points to except host.
 *  - path, embedder, dims: fixed at create; workers may read them.
 *  - snap: the current snapshot (the instance holds one reference); loop
 *    thread only.
 *  - load_db, version_st: the dedicated loading connection.  The loop uses
 *    it at create; afterwards only the refresh job does, and at most one is
 *    in flight (refreshing set), so it is never used by two threads at once.
 *  - version: data_version at the last successful load; loop thread only.
 *  - conns: host->nworkers lookup connections; slot i is opened and used
 *    only by worker i, so it needs no lock; destroy closes them.
 *  - timer: the refresh timer on host->base, NULL when refresh is off.
 *  - dying: destroy came while a refresh was in flight; that refresh's done
 *    callback frees the instance. */
typedef struct vec {
    const ragd_host *host;
    char *path;
    char *embedder;
    size_t dims;
    vec_snap *snap;
    sqlite3 *load_db;
    sqlite3_stmt *version_st;
    int64_t version;
    size_t skipped;      /* bad rows in the last load, to warn once */
    int refresh_failed;  /* the last refresh failed, to warn once */
    unsigned nconns;
    vec_conn *conns;
    struct event *timer;
    int refreshing, dying;
} vec;

/* A candidate row of the scan. */
typedef struct vec_cand {
    float score;
    size_t row;
} vec_cand;

/* One search, from search() until its callback has run; it is also the
 * ragd_op the host may cancel.  The loop thread owns it except while the
 * scan runs on a worker; cancelled is the one field both touch.  snap is a
 * held reference from submit to done (NULL outside); q is the query vector
 * (dims floats, VEC_ALIGN-aligned); cands has room for ncap candidates.
 * hits[0..nhits) own their strings (const only because ragd_hit is the
 * host's type): at most k, one per document, best first.  Freed by
 * vec_finish right after the callback. */
typedef struct vec_job {
    vec *v;
    int k;
    ragd_search_cb cb;
    void *arg;
    atomic_int cancelled;
    vec_snap *snap;
    float *q;
    vec_cand *cands;
    size_t ncap;
    int status;
    char error[256];
    ragd_hit *hits;
    size_t nhits;
    size_t vanished;   /* candidates whose chunk is gone: the snapshot is stale */
} vec_job;

/* One refresh, from the timer's submit to its done callback.  old_version
 * is what the instance last loaded; the worker fills the rest: the new
 * snapshot (refs 1) when the store changed, or status and error. */
typedef struct vec_refresh {
    vec *v;
    int64_t old_version, version;
    vec_snap *snap;
    size_t skipped;
    int status;
    char error[256];
} vec_refresh;

/* ---------------------------------------------------------- snapshot -- */

static void *vec_aligned_alloc(size_t bytes)
{
    return aligned_alloc(VEC_ALIGN, (bytes + VEC_ALIGN - 1) / VEC_ALIGN * VEC_ALIGN);
}

/* A snapshot with room for cap rows of dims floats, n 0, refs 1; or NULL
 * when out of memory. */
static vec_snap *vec_snap_new(size_t cap, size_t dims)
{
    vec_snap *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->refs = 1;
    s->dims = dims;
    if (cap == 0)
        return s;
    if (cap > (SIZE_MAX - VEC_ALIGN) / sizeof(float) / dims ||
        !(s->mat = vec_aligned_alloc(cap * dims * sizeof(float))) ||
        !(s->ids = malloc(cap * sizeof *s->ids))) {
        free(s->mat);
        free(s);
        return NULL;
    }
    return s;
}

/* Drop one reference; frees s at the last.  s may be NULL.  Loop only. */
static void vec_snap_unref(vec_snap *s)
{
    if (!s || --s->refs > 0)
        return;
    free(s->mat);
    free(s->ids);
    free(s);
}

/* ---------------------------------------------------------- database -- */

/* Open path read-only for one thread at a time; on failure writes
 * "WHO: cannot open: why" into err and returns -1 with *db NULL.  who is the
 * path at create, and "sqlite" in a search, whose errors reach clients. */
static int vec_open(const char *path, const char *who, sqlite3 **db, char *err, size_t errlen)
{
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(*db, VEC_BUSY_MS);
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

/* Read meta.key into out (truncated to outlen).  Returns 1 when found, 0
 * when absent, -1 on an SQLite error (message in err). */
static int vec_meta_get(sqlite3 *db, const char *key, char *out, size_t outlen, char *err,
                        size_t errlen)
{
    static const char sql[] = "SELECT value FROM meta WHERE key = ?1";
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *value = sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", value ? (const char *)value : "");
    } else if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Run a one-row integer query.  Returns 0 with *out, or -1 with err. */
static int vec_query_int(sqlite3 *db, const char *sql, int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Check that the store's vectors, if it has any, were made by the embedder
 * ragd embeds queries with: comparing vectors of two embedders is
 * meaningless.  Returns 0, or -1 with a message naming the file. */
static int vec_check_embedder(const vec *v, sqlite3 *db, char *err, size_t errlen)
{
    char name[64] = "(none)", dims[32] = "?";
    int64_t any = 0;

    if (vec_query_int(db, "SELECT EXISTS (SELECT 1 FROM vectors)", &any, err, errlen) != 0 ||
        vec_meta_get(db, "embedder", name, sizeof name, err, errlen) < 0 ||
        vec_meta_get(db, "embed_dims", dims, sizeof dims, err, errlen) < 0)
        return -1;
    if (any && (strcmp(name, v->embedder) != 0 || strtoull(dims, NULL, 10) != v->dims)) {
        snprintf(err, errlen,
                 "%s: built with embedder %s (%s dims), but ragd embeds queries with %s (%zu dims)",
                 v->path, name, dims, v->embedder, v->dims);
        return -1;
    }
    return 0;
}

/* Read every row of vectors into s (sized for them); a BLOB of the wrong
 * length is skipped and counted in *skipped.  Returns 0, or -1 with err. */
static int vec_read_rows(sqlite3 *db, vec_snap *s, size_t cap, size_t *skipped, char *err,
                         size_t errlen)
{
    sqlite3_stmt *st = NULL;
    size_t bytes = s->dims * sizeof(float);
    int rc = sqlite3_prepare_v2(db, "SELECT chunk_id, vec FROM vectors", -1, &st, NULL);

    *skipped = 0;
    while (rc == SQLITE_OK && s->n < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(st, 1);
        if (!blob || (size_t)sqlite3_column_bytes(st, 1) != bytes) {
            ++*skipped;
        } else {
            memcpy(s->mat + s->n * s->dims, blob, bytes);
            s->ids[s->n++] = sqlite3_column_int64(st, 0);
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK && rc != SQLITE_DONE)
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_OK || rc == SQLITE_DONE ? 0 : -1;
}

/* Load a new snapshot from db, the loading connection, in one read
 * transaction so the row count and the rows agree.  Runs on the loop at
 * create and on a worker at refresh.  Returns 0 with *out (refs 1) and
 * *skipped, or -1 with a message in err. */
static int vec_load(const vec *v, sqlite3 *db, vec_snap **out, size_t *skipped, char *err,
                    size_t errlen)
{
    vec_snap *s = NULL;
    int64_t n = 0;

    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (vec_check_embedder(v, db, err, errlen) != 0 ||
        vec_query_int(db, "SELECT count(*) FROM vectors", &n, err, errlen) != 0)
        goto fail;
    if (!(s = vec_snap_new((size_t)n, v->dims))) {
        snprintf(err, errlen, "out of memory for %lld vectors of %zu dims", (long long)n, v->dims);
        goto fail;
    }
    if (vec_read_rows(db, s, (size_t)n, skipped, err, errlen) != 0)
        goto fail;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    /* Ending a read transaction cannot lose anything; its own failure would
     * only repeat the error already reported. */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    vec_snap_unref(s);
    return -1;
}

/* PRAGMA data_version on the loading connection: it changes when another
 * connection commits.  Returns 0 with *out, or -1 with err. */
static int vec_data_version(vec *v, int64_t *out, char *err, size_t errlen)
{
    int rc = sqlite3_step(v->version_st);

    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(v->version_st, 0);
    else
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(v->load_db));
    sqlite3_reset(v->version_st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Open worker connection c and prepare its lookup.  Returns 0, or -1 with a
 * message in err and c left empty so a later search retries. */
static int vec_conn_open(const vec *v, vec_conn *c, char *err, size_t errlen)
{
    if (vec_open(v->path, "sqlite", &c->db, err, errlen) != 0)
        return -1;
    if (sqlite3_prepare_v3(c->db, VEC_LOOKUP_SQL, -1, SQLITE_PREPARE_PERSISTENT, &c->st, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        c->db = NULL;
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- scan -- */

/* Dot product of a[0..n) and b[0..n).  Eight independent partial sums: GCC
 * may not reorder one running float sum (that would change its rounding)
 * and so would not vectorise it without -ffast-math, but it turns these
 * eight into SIMD lanes, at -O2 as well as -O3. */
static float vec_dot(const float *restrict a, const float *restrict b, size_t n)
{
    float s[8] = {0};
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static void vec_cand_swap(vec_cand *a, vec_cand *b)
{
    vec_cand t = *a;
    *a = *b;
    *b = t;
}

/* Restore the min-heap h[0..n) below i. */
static void vec_sift_down(vec_cand *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].score < h[m].score)
            m = l;
        if (r < n && h[r].score < h[m].score)
            m = r;
        if (m == i)
            return;
        vec_cand_swap(&h[i], &h[m]);
        i = m;
    }
}

/* Restore the min-heap h[0..i] after appending h[i]. */
static void vec_sift_up(vec_cand *h, size_t i)
{
    while (i > 0 && h[(i - 1) / 2].score > h[i].score) {
        vec_cand_swap(&h[i], &h[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

/* Score every row of s against q and keep the best cap in h, a min-heap
 * whose root is the worst kept, so most rows cost one comparison.  Returns
 * how many were kept, sorted best first. */
static size_t vec_scan(const vec_snap *s, const float *q, vec_cand *h, size_t cap)
{
    size_t n = 0;

    for (size_t r = 0; r < s->n; r++) {
        float score = vec_dot(q, s->mat + r * s->dims, s->dims);
        if (n < cap) {
            h[n].score = score;
            h[n].row = r;
            vec_sift_up(h, n++);
        } else if (score > h[0].score) {
            h[0].score = score;
            h[0].row = r;
            vec_sift_down(h, n, 0);
        }
    }
    /* Heap sort: moving the worst to the end each time leaves h best first. */
    for (size_t i = n; i > 1; i--) {
        vec_cand_swap(&h[0], &h[i - 1]);
        vec_sift_down(h, i - 1, 0);
    }
    return n;
}

/* ------------------------------------------------------------ lookup -- */

static void vec_fail_sqlite(vec_job *j, sqlite3 *db)
{
    j->status = RAGD_ERR;
    snprintf(j->error, sizeof j->error, "sqlite: %s", sqlite3_errmsg(db));
}

/* Copy column i into *out: NULL for SQL NULL.  Returns 0, or -1 when out of
 * memory. */
static int vec_dup_column(sqlite3_stmt *st, int i, const char **out)
{
    const char *s = (const char *)sqlite3_column_text(st, i);

    *out = NULL;
    if (!s)
        return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : -1;
    return (*out = strdup(s)) ? 0 : -1;
}

/* Keep the looked-up row as a hit unless its document already has a
 * (better) one.  Returns 0, or -1 when out of memory. */
static int vec_take_row(vec_job *j, sqlite3_stmt *st, float score)
{
    const char *doc = (const char *)sqlite3_column_text(st, 0);
    ragd_hit *h = &j->hits[j->nhits];

    if (!doc)
        return sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : -1;
    for (size_t i = 0; i < j->nhits; i++)
        if (strcmp(j->hits[i].id, doc) == 0)
            return 0;
    j->nhits++;
    h->score = score;
    if (vec_dup_column(st, 0, &h->id) || vec_dup_column(st, 1, &h->title) ||
        vec_dup_column(st, 2, &h->url) || vec_dup_column(st, 3, &h->text))
        return -1;
    if (!h->text && !(h->text = strdup("")))
        return -1;
    return 0;
}

/* Turn the candidates (best first) into at most k hits, one per document,
 * reading each chunk on c.  A chunk deleted since the snapshot was loaded
 * is skipped. */
static void vec_lookup(vec_job *j, vec_conn *c, size_t ncands)
{
    for (size_t i = 0; i < ncands && j->nhits < (size_t)j->k; i++) {
        int rc = sqlite3_bind_int64(c->st, 1, j->snap->ids[j->cands[i].row]);

        if (rc == SQLITE_OK && (rc = sqlite3_step(c->st)) == SQLITE_ROW &&
            vec_take_row(j, c->st, j->cands[i].score) != 0) {
            j->status = RAGD_ENOMEM;
            snprintf(j->error, sizeof j->error, "out of memory");
        } else if (rc == SQLITE_DONE) {
            j->vanished++;
        } else if (rc != SQLITE_OK && rc != SQLITE_ROW) {
            vec_fail_sqlite(j, c->db);
        }
        sqlite3_reset(c->st);
        if (j->status != RAGD_OK)
            return;
    }
}

/* The scan job's work function, on worker `worker`: touches only j, the
 * snapshot j holds (read-only) and that worker's connection slot. */
static void vec_scan_work(void *arg, unsigned worker)
{
    vec_job *j = arg;
    vec_conn *c;
    size_t n;

    if (atomic_load(&j->cancelled))
        return;
    if (worker >= j->v->nconns) {
        j->status = RAGD_ERR;
        snprintf(j->error, sizeof j->error, "worker %u out of range (%u workers)", worker,
                 j->v->nconns);
        return;
    }
    n = vec_scan(j->snap, j->q, j->cands, j->ncap);
    if (n == 0 || atomic_load(&j->cancelled))
        return;
    c = &j->v->conns[worker];
    if (!c->db && vec_conn_open(j->v, c, j->error, sizeof j->error) != 0) {
        j->status = RAGD_ERR;
        return;
    }
    vec_lookup(j, c, n);
}

/* ------------------------------------------------------------ search -- */

static void vec_job_free(vec_job *j)
{
    hits_release(j->hits, j->nhits);
    free(j->cands);
    free(j->q);
    free(j);
}

/* Answer the host and free j: the end of every search that started.  A
 * cancelled search answers RAGD_ECANCELED whatever it had.  Loop only. */
static void vec_finish(vec_job *j, int status, const char *error)
{
    if (atomic_load(&j->cancelled))
        j->cb(j->arg, RAGD_ECANCELED, NULL, 0, "cancelled");
    else if (status != RAGD_OK)
        j->cb(j->arg, status, NULL, 0, error);
    else
        j->cb(j->arg, RAGD_OK, j->hits, j->nhits, NULL);
    vec_job_free(j);
}

static void vec_scan_done(void *arg)
{
    vec_job *j = arg;

    /* Chunks that vanished mean the store changed under this snapshot (a
     * re-ingest): refresh now rather than at the next tick. */
    if (j->vanished && j->v->timer)
        event_active(j->v->timer, EV_TIMEOUT, 0);
    vec_snap_unref(j->snap);
    j->snap = NULL;
    vec_finish(j, j->status, j->error);
}

static int vec_is_zero(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f)
            return 0;
    return 1;
}

/* The query embedding arrived (loop thread): start the scan on the current
 * snapshot, or finish now -- this is already later than search(). */
static void vec_embedded(void *arg, int status, const float *x, size_t dims, const char *error)
{
    vec_job *j = arg;
    vec *v = j->v;
    char why[sizeof j->error];
    int rc;

    if (status != RAGD_OK) {
        snprintf(why, sizeof why, "embed: %s", error ? error : "failed");
        vec_finish(j, status, why);
        return;
    }
    if (atomic_load(&j->cancelled)) {
        vec_finish(j, RAGD_ECANCELED, "cancelled");
        return;
    }
    if (dims != v->dims) {
        snprintf(why, sizeof why, "embed: the embedder gave %zu dimensions, the store has %zu",
                 dims, v->dims);
        vec_finish(j, RAGD_ERR, why);
        return;
    }
    /* No words, no direction: every cosine would be 0. */
    if (vec_is_zero(x, dims)) {
        vec_finish(j, RAGD_OK, NULL);
        return;
    }
    if (!(j->q = vec_aligned_alloc(dims * sizeof *j->q))) {
        vec_finish(j, RAGD_ENOMEM, "out of memory");
        return;
    }
    memcpy(j->q, x, dims * sizeof *j->q);
    j->snap = v->snap;
    j->snap->refs++;
    if ((rc = v->host->work_submit(v->host, vec_scan_work, vec_scan_done, j)) != RAGD_OK) {
        vec_snap_unref(j->snap);
        j->snap = NULL;
        vec_finish(j, rc < 0 ? rc : RAGD_ERR, "cannot queue the scan");
    }
}

static int vec_search(void *self, const ragd_query *q, ragd_search_cb cb, void *arg, ragd_op **op)
{
    vec *v = self;
    vec_job *j;
    int rc;

    if (q->k < 1)
        return RAGD_EINVAL;
    if (!(j = calloc(1, sizeof *j)))
        return RAGD_ENOMEM;
    j->v = v;
    j->k = q->k;
    j->cb = cb;
    j->arg = arg;
    atomic_init(&j->cancelled, 0);
    /* Enough candidates that k distinct documents nearly always remain after
     * keeping one chunk per document. */
    j->ncap = 4 * (size_t)q->k + 16;
    if (!(j->hits = calloc((size_t)q->k, sizeof *j->hits)) ||
        !(j->cands = calloc(j->ncap, sizeof *j->cands))) {
        vec_job_free(j);
        return RAGD_ENOMEM;
    }
    if ((rc = v->host->embed(v->host, q->text, q->deadline_ms, vec_embedded, j)) != RAGD_OK) {
        vec_job_free(j);
        return rc < 0 ? rc : RAGD_ERR;
    }
    *op = (ragd_op *)j;
    return RAGD_OK;
}

/* Takes effect when the embedding arrives or before the scan starts; a
 * running scan finishes (it takes milliseconds) and then answers
 * RAGD_ECANCELED. */
static void vec_cancel(void *self, ragd_op *op)
{
    (void)self;
    atomic_store(&((vec_job *)op)->cancelled, 1);
}

/* ----------------------------------------------------------- refresh -- */

/* Warn about skipped rows once per distinct count, not at every reload. */
static void vec_note_skipped(vec *v, size_t skipped)
{
    if (skipped && skipped != v->skipped)
        v->host->log(v->host, RAGD_LOG_WARN,
                     "%s: skipped %zu vectors that are not %zu float32 values", v->path,
                     skipped, v->dims);
    v->skipped = skipped;
}

/* The refresh work function, on a worker: touches only r and the loading
 * connection, which no one else uses while a refresh is in flight. */
static void vec_refresh_work(void *arg, unsigned worker)
{
    vec_refresh *r = arg;

    (void)worker;
    if (vec_data_version(r->v, &r->version, r->error, sizeof r->error) != 0)
        r->status = RAGD_ERR;
    else if (r->version != r->old_version &&
             vec_load(r->v, r->v->load_db, &r->snap, &r->skipped, r->error, sizeof r->error) != 0)
        r->status = RAGD_ERR;
}

static void vec_free(vec *v);

/* The refresh done callback, on the loop: swap the new snapshot in (running
 * scans keep the old one until they finish), or report the failure once
 * and keep serving the old snapshot. */
static void vec_refresh_done(void *arg)
{
    vec_refresh *r = arg;
    vec *v = r->v;

    v->refreshing = 0;
    if (v->dying) {
        vec_snap_unref(r->snap);
        vec_free(v);
    } else if (r->status != RAGD_OK) {
        if (!v->refresh_failed)
            v->host->log(v->host, RAGD_LOG_WARN, "reload failed, still serving %zu vectors: %s",
                         v->snap->n, r->error);
        v->refresh_failed = 1;
    } else if (r->snap) {
        vec_snap_unref(v->snap);
        v->snap = r->snap;
        v->version = r->version;
        v->refresh_failed = 0;
        vec_note_skipped(v, r->skipped);
        v->host->log(v->host, RAGD_LOG_INFO, "reloaded %zu vectors", v->snap->n);
    }
    free(r);
}

/* The refresh timer (loop thread): start a refresh unless one runs. */
static void vec_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    vec *v = arg;
    vec_refresh *r;

    (void)fd;
    (void)what;
    if (v->refreshing)
        return;
    if (!(r = calloc(1, sizeof *r))) {
        v->host->log(v->host, RAGD_LOG_WARN, "reload skipped: out of memory");
        return;
    }
    r->v = v;
    r->old_version = v->version;
    v->refreshing = 1;
    if (v->host->work_submit(v->host, vec_refresh_work, vec_refresh_done, r) != RAGD_OK) {
        v->refreshing = 0;
        free(r);
        v->host->log(v->host, RAGD_LOG_WARN, "reload skipped: cannot queue it");
    }
}

/* ---------------------------------------------------------- lifetime -- */

/* Free v and all it owns.  Loop only, with no scan or refresh in flight. */
static void vec_free(vec *v)
{
    if (v->timer)
        event_free(v->timer);
    for (unsigned i = 0; i < v->nconns; i++) {
        sqlite3_finalize(v->conns[i].st);
        sqlite3_close(v->conns[i].db);
    }
    sqlite3_finalize(v->version_st);
    sqlite3_close(v->load_db);
    vec_snap_unref(v->snap);
    free(v->conns);
    free(v->embedder);
    free(v->path);
    free(v);
}

/* A refresh may still be running on a worker with the loading connection:
 * then stop the timer now and let the refresh's done callback free v. */
static void vec_destroy(void *self)
{
    vec *v = self;

    if (v->timer) {
        event_free(v->timer);
        v->timer = NULL;
    }
    if (v->refreshing)
        v->dying = 1;
    else
        vec_free(v);
}

/* Check the store and load the first snapshot on the loading connection.
 * Returns 0, or -1 with a message naming the file. */
static int vec_open_store(vec *v, char *err, size_t errlen)
{
    char version[16];
    sqlite3_stmt *st = NULL;
    size_t skipped;
    int found;

    if (vec_open(v->path, v->path, &v->load_db, err, errlen) != 0)
        return -1;
    found = vec_meta_get(v->load_db, "schema_version", version, sizeof version, err, errlen);
    if (found <= 0) {
        snprintf(err, errlen, "%s: not a ragd database (%s)", v->path,
                 found < 0 ? sqlite3_errmsg(v->load_db) : "no schema_version in meta");
        return -1;
    }
    if (strcmp(version, VEC_SCHEMA_VERSION) != 0) {
        snprintf(err, errlen, "%s: ragd schema version %s, the vector source reads %s", v->path,
                 version, VEC_SCHEMA_VERSION);
        return -1;
    }
    /* Compiling the lookup proves chunks and docs are there. */
    if (sqlite3_prepare_v2(v->load_db, VEC_LOOKUP_SQL, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(v->load_db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
                           &v->version_st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: not a ragd database (%s)", v->path, sqlite3_errmsg(v->load_db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (vec_data_version(v, &v->version, err, errlen) != 0 ||
        vec_load(v, v->load_db, &v->snap, &skipped, err, errlen) != 0)
        return -1;
    vec_note_skipped(v, skipped);
    return 0;
}

/* Start the refresh timer, firing every ms milliseconds. */
static int vec_start_timer(vec *v, long long ms, char *err, size_t errlen)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};

    if (!(v->timer = event_new(v->host->base, -1, EV_PERSIST, vec_timer_cb, v)) ||
        event_add(v->timer, &tv) != 0) {
        snprintf(err, errlen, "cannot start the refresh timer");
        return -1;
    }
    return 0;
}

static int vec_create(const ragd_host *host, const char *name, json_t *config, void **self,
                      char *err, size_t errlen)
{
    const char *path;
    long long refresh_ms;
    vec *v;

    (void)name;
    if (host->cfg_string(config, "db", NULL, &path, err, errlen) ||
        host->cfg_int(config, "refresh_ms", 1000, 0, 86400000, &refresh_ms, err, errlen))
        return RAGD_EINVAL;
    if (!path || !*path) {
        snprintf(err, errlen, "db: required");
        return RAGD_EINVAL;
    }
    if (host->embed_dims == 0 || !host->embedder) {
        snprintf(err, errlen, "ragd has no query embedder");
        return RAGD_EINVAL;
    }
    if (!(v = calloc(1, sizeof *v)))
        return RAGD_ENOMEM;
    v->host = host;
    v->dims = host->embed_dims;
    if (!(v->path = strdup(path)) || !(v->embedder = strdup(host->embedder)) ||
        !(v->conns = calloc(host->nworkers ? host->nworkers : 1, sizeof *v->conns))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    v->nconns = host->nworkers;
    if (vec_open_store(v, err, errlen) != 0 ||
        (refresh_ms > 0 && vec_start_timer(v, refresh_ms, err, errlen) != 0))
        goto fail;
    host->log(host, RAGD_LOG_INFO, "%zu vectors of %zu dimensions loaded from %s", v->snap->n,
              v->dims, v->path);
    *self = v;
    return RAGD_OK;
fail:
    vec_free(v);
    return RAGD_ERR;
}

static const ragd_source_type vec_type = {
    RAGD_SOURCE_ABI_VERSION, "vector", vec_create, vec_search, vec_cancel, vec_destroy,
};

/* The vector source type, for ragd's registry of built-in sources. */
const ragd_source_type *ragd_source_vector(void)
{
    return &vec_type;
}
