/*
 * kb -- the knowledge-base source: BM25 full-text search over the store's
 * FTS5 index (kb_fts), reporting the best chunk of each document.
 *
 * Config: {"db": PATH (required), "title_weight": 1.0, "text_weight": 1.0
 * (the BM25 weights of the title and text columns, >= 0), "engine":
 * "index" | "fts5", "refresh_ms": 1000, "scan_threads": cores}.  Queries run
 * on the host's worker pool, each worker on its own read-only store handle,
 * so the loop never waits on the store.
 *
 * Two engines rank the same way.  "fts5", the reference, is the store's
 * SQLite-only store_kb_rank: chunks best first, each read only when it
 * comes up, until k documents are kept -- the best chunk of each, and only
 * documents a search's metadata filter keeps (RAGD_SOURCE_FILTERS), so a
 * filter never leaves fewer than k documents when k match.  "index" (the
 * default) computes the same top k on an in-memory index built from
 * FTS5's own tokens (kb_index.c, kb_topk.c), kept current from the store's
 * change log every refresh_ms and on every in-process write (kb_live.c);
 * only the k winners are read from the store.  A costly query's walk of
 * the index is split across up to scan_threads threads (kb_topk.h): the
 * worker running it and the instance's own scan_threads - 1 helpers, as
 * the vector source splits its scans (par.h: the worker takes parts
 * itself until none is left, so a split never waits on the pool).  How
 * many is decided as each walk starts (split.h): no more than there are
 * helpers waiting and cores with nothing to run, so on a busy machine a
 * costly query is walked unsplit by its worker alone.  A filter's store
 * reads stay on the worker's handle, one at a time.
 * A query with a word FTS5
 * splits into several tokens (the index holds no positions) is ranked by
 * FTS5.  Not for writing the store (`ragd ingest` does that) and not for
 * query syntax: kb_match.c turns user text into plain quoted words.
 *
 * A PostgreSQL store has no FTS5 index: only "index" serves it (built from
 * FTS5's own tokens all the same: store_kb.c), and a query the index
 * cannot answer fails with a message saying so.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <ragd/source.h>

#include "cores.h"
#include "hits.h"
#include "kb_live.h"
#include "kb_match.h"
#include "kb_topk.h"
#include "obs.h"
#include "store.h"

/* A worker's store handle, NULL until that worker first searches (or after
 * a failed open). */
typedef struct kb_conn {
    store *db;
} kb_conn;

/* One kb instance.  conns has nconns == host->nworkers slots: slot i is
 * opened, used and reused only by worker i, so it needs no lock, and destroy
 * closes them all when no search is in flight.  live is the index (NULL
 * with engine "fts5").  Owns path, conns and live. */
typedef struct kb_source {
    const ragd_host *host;
    char *path;
    double title_weight, text_weight;
    unsigned nconns;
    kb_conn *conns;
    kb_live *live;
    int fts5; /* whether the store ranks with FTS5 (a SQLite store) */
    kb_topk_split split; /* its par: scan_threads - 1 helpers, or NULL */
} kb_source;

/* The most threads one search may take. */
#define KB_MAX_THREADS 64

/* One search, from search() until its callback has run; it is also the
 * ragd_op the host may cancel.  The loop thread owns it except while the
 * work function runs.  mu guards the two fields both threads touch:
 * cancelled, and running -- the store handle the work is querying on, set
 * only while this job's statement runs -- so cancel() never interrupts a
 * connection that has moved on to another job.  hits[0..nhits) own their
 * strings (const only because ragd_hit is the host's type); at most k hits,
 * one per document, best first.  Freed by kb_done after the callback. */
typedef struct kb_job {
    kb_source *kb;
    char *match;
    int k;
    const ragd_filter *filter; /* the query's, valid until the callback; or NULL */
    kb_index *ix;              /* the index snapshot searched, held; NULL: FTS5 */
    store *db;                 /* the worker's handle while the ranking runs */
    ragd_search_cb cb;
    void *arg;
    pthread_mutex_t mu;
    int cancelled;
    store *running;
    int status;
    char error[256];
    ragd_hit *hits;
    size_t nhits;
} kb_job;

/* ---------------------------------------------------------- database -- */

/* Open a handle on the store and ready its search; on failure writes a
 * message into err (naming the file: it goes to the log at create, and
 * workers replace it before it reaches a client) and returns -1 with *db
 * NULL. */
static int kb_open(const kb_source *kb, store **db, char *err, size_t errlen)
{
    if (store_open(kb->path, 0, db, err, errlen) != 0)
        return -1;
    if (kb->fts5 && store_kb_prepare(*db, kb->title_weight, kb->text_weight) != 0) {
        snprintf(err, errlen, "%s: no usable kb_fts full-text index (%s)", kb->path,
                 store_errmsg(*db));
        store_close(db);
        return -1;
    }
    return 0;
}

/* Verify once, at create, that the store can be searched.  Returns 0, or
 * -1 with a message naming the file. */
static int kb_check_db(const kb_source *kb, char *err, size_t errlen)
{
    store *db = NULL;

    if (kb_open(kb, &db, err, errlen) != 0)
        return -1;
    store_close(&db);
    return 0;
}

/* Open worker connection c.  Returns 0, or -1 with a message in err and c
 * left empty so a later search retries. */
static int kb_conn_open(const kb_source *kb, kb_conn *c, char *err, size_t errlen)
{
    char why[512];

    if (kb_open(kb, &c->db, why, sizeof why) == 0)
        return 0;
    /* Errors in a search reach clients: no file names. */
    snprintf(err, errlen, "sqlite: cannot open the store");
    return -1;
}

/* ------------------------------------------------------------ worker -- */

static void kb_fail_store(kb_job *j, store *db)
{
    j->status = RAGD_ERR;
    snprintf(j->error, sizeof j->error, "sqlite: %s", store_errmsg(db));
}

/* Copy s into *out: NULL for NULL.  Returns 0, or -1 when out of memory. */
static int kb_dup(const char *s, const char **out)
{
    *out = s ? strdup(s) : NULL;
    return s && !*out ? -1 : 0;
}

/* Whether the job's filter keeps the document of chunk sh. */
static int kb_keeps(const kb_job *j, const store_hit *sh)
{
    json_t *meta;
    int keep;

    if (!j->filter)
        return 1;
    /* Unparsable metadata is none: the filter sees no keys. */
    meta = sh->metadata ? json_loads(sh->metadata, 0, NULL) : NULL;
    keep = j->kb->host->filter_match(j->filter, sh->doc_id, meta);
    json_decref(meta);
    return keep;
}

/* The ranking's callback: read chunk chunk_id and keep it as a hit unless
 * its document already has a (better) one or the filter drops it.
 * Returns 0 to go on, 1 to stop: at k hits, or on an error (j->status
 * set). */
static int kb_take_hit(void *arg, int64_t chunk_id, double score)
{
    kb_job *j = arg;
    ragd_hit *h = &j->hits[j->nhits];
    store_hit sh;
    int rc = store_chunk_get(j->db, chunk_id, &sh);

    if (rc < 0) {
        kb_fail_store(j, j->db);
        return 1;
    }
    /* A chunk with no document is not a hit. */
    if (rc == 0)
        return 0;
    for (size_t i = 0; i < j->nhits; i++)
        if (strcmp(j->hits[i].id, sh.doc_id) == 0)
            return 0;
    if (!kb_keeps(j, &sh))
        return 0;
    j->nhits++;
    h->score = score;
    if (kb_dup(sh.doc_id, &h->id) || kb_dup(sh.title, &h->title) || kb_dup(sh.url, &h->url) ||
        kb_dup(sh.text, &h->text)) {
        j->status = RAGD_ENOMEM;
        snprintf(j->error, sizeof j->error, "out of memory");
        return 1;
    }
    return j->nhits >= (size_t)j->k;
}

/* Run the search on c and keep the best chunk of each of up to k
 * documents.  Chunks come best first, so the first chunk of a document is
 * its best; the ranking goes on until k documents are kept or no chunk is
 * left. */
static void kb_query(kb_job *j, kb_conn *c)
{
    j->db = c->db;
    if (store_kb_rank(c->db, j->match, kb_take_hit, j) != 0 && j->status == RAGD_OK)
        kb_fail_store(j, c->db);
    j->db = NULL;
}

/* The index's filter callback: whether the job's filter keeps document
 * doc_id, read from the store.  1, 0 (also when the document is gone), or
 * -1. */
static int kb_index_keeps(void *arg, const char *doc_id)
{
    kb_job *j = arg;
    const char *text;
    json_t *meta;
    int rc = store_doc_metadata(j->db, doc_id, &text), keep;

    if (rc <= 0)
        return rc;
    meta = text ? json_loads(text, 0, NULL) : NULL;
    keep = j->kb->host->filter_match(j->filter, doc_id, meta);
    json_decref(meta);
    return keep;
}

/* Rank on the index and read the winners, or fall back to FTS5 for a
 * query the index cannot answer.  A winner deleted since the snapshot was
 * made is left out. */
static void kb_query_index(kb_job *j, kb_conn *c)
{
    kb_topk_hit *th = calloc((size_t)j->k, sizeof *th);
    size_t n = 0;
    int rc;

    if (!th) {
        j->status = RAGD_ENOMEM;
        snprintf(j->error, sizeof j->error, "out of memory");
        return;
    }
    j->db = c->db;
    rc = kb_topk_search(j->ix, c->db, j->match, (size_t)j->k, j->filter ? kb_index_keeps : NULL,
                        j, &j->kb->split, th, &n, j->error, sizeof j->error);
    if (rc == KB_TOPK_FALLBACK && !j->kb->fts5) {
        j->status = RAGD_ERR;
        snprintf(j->error, sizeof j->error, "a word FTS5 splits in two (such as one with a curly "
                 "apostrophe or a dash inside) needs FTS5, which a PostgreSQL store lacks");
        rc = 0;
    } else if (rc == KB_TOPK_FALLBACK) {
        free(th);
        kb_query(j, c);
        return;
    }
    if (rc != 0)
        j->status = RAGD_ERR;
    if (n && j->status == RAGD_OK && store_read_begin(c->db) != 0) {
        kb_fail_store(j, c->db);
        n = 0;
    }
    for (size_t i = 0; i < n && j->status == RAGD_OK; i++)
        if (kb_take_hit(j, th[i].chunk_id, th[i].score) != 0)
            break;
    if (n)
        store_read_end(c->db);
    j->db = NULL;
    free(th);
}

/* Publish db as the handle j runs on, unless j is already cancelled.
 * Returns 0 to go on, -1 when cancelled.  An interrupt that lands before
 * the search starts may be forgotten (store_interrupt); the query then
 * simply finishes and kb_done still reports the cancellation. */
static int kb_job_enter(kb_job *j, store *db)
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
    if (j->ix)
        kb_query_index(j, c);
    else
        kb_query(j, c);
    kb_job_leave(j);
}

/* -------------------------------------------------------------- loop -- */

static void kb_job_free(kb_job *j)
{
    hits_release(j->hits, j->nhits);
    kb_index_drop(&j->ix);
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
    j->filter = q->filter_ref;
    j->cb = cb;
    j->arg = arg;
    /* The expression is cheap to build, and building it here keeps the
     * user's text off the worker. */
    if (!(j->match = kb_match_expr(q->text)) ||
        !(j->hits = calloc((size_t)q->k, sizeof *j->hits))) {
        kb_job_free(j);
        return RAGD_ENOMEM;
    }
    if (kb->live)
        j->ix = kb_live_get(kb->live);
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
        store_interrupt(j->running);
    pthread_mutex_unlock(&j->mu);
}

static void kb_destroy(void *self)
{
    kb_source *kb = self;

    kb_live_free(&kb->live);
    par_free(&kb->split.par);
    for (unsigned i = 0; i < kb->nconns; i++)
        store_close(&kb->conns[i].db);
    free(kb->conns);
    free(kb->path);
    free(kb);
}

static int kb_create(const ragd_host *host, const char *name, json_t *config, void **self,
                     char *err, size_t errlen)
{
    const char *path, *engine;
    long cores = (long)cores_usable();
    long long refresh_ms, threads;
    double tw, xw;
    kb_source *kb;

    if (host->cfg_string(config, "db", NULL, &path, err, errlen) ||
        host->cfg_number(config, "title_weight", 1.0, &tw, err, errlen) ||
        host->cfg_number(config, "text_weight", 1.0, &xw, err, errlen) ||
        host->cfg_string(config, "engine", "index", &engine, err, errlen) ||
        host->cfg_int(config, "refresh_ms", 1000, 0, 86400000, &refresh_ms, err, errlen) ||
        host->cfg_int(config, "scan_threads",
                      cores < 1 ? 1 : cores > KB_MAX_THREADS ? KB_MAX_THREADS : cores, 1,
                      KB_MAX_THREADS, &threads, err, errlen))
        return RAGD_EINVAL;
    if (!path || !*path) {
        snprintf(err, errlen, "db: required");
        return RAGD_EINVAL;
    }
    if (strcmp(engine, "index") != 0 && strcmp(engine, "fts5") != 0) {
        snprintf(err, errlen, "engine: expected \"index\" or \"fts5\"");
        return RAGD_EINVAL;
    }
    if (strcmp(engine, "fts5") == 0 && store_is_url(path)) {
        snprintf(err, errlen, "engine: \"fts5\" needs a SQLite store; on a PostgreSQL store "
                 "the kb ranks with \"index\"");
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
    kb->title_weight = tw;
    kb->text_weight = xw;
    kb->fts5 = !store_is_url(path);
    if (!(kb->path = strdup(path)) ||
        !(kb->conns = calloc(host->nworkers ? host->nworkers : 1, sizeof *kb->conns))) {
        snprintf(err, errlen, "out of memory");
        kb_destroy(kb);
        return RAGD_ENOMEM;
    }
    kb->nconns = host->nworkers;
    kb->split.nparts = (unsigned)threads;
    kb->split.min_cost = KB_TOPK_SPLIT_COST;
    kb->split.adapt = 1;
    if (threads > 1 && strcmp(engine, "index") == 0 &&
        !(kb->split.par = par_new((unsigned)threads - 1))) {
        snprintf(err, errlen, "cannot start %lld scan threads", threads);
        kb_destroy(kb);
        return RAGD_ENOMEM;
    }
    if (kb_check_db(kb, err, errlen) != 0 ||
        (strcmp(engine, "index") == 0 &&
         kb_live_new(host, name, path, tw, xw, refresh_ms, &kb->live, err, errlen) != 0)) {
        kb_destroy(kb);
        return RAGD_ERR;
    }
    if (kb->live)
        metrics_add(obs.index_loads, 1, name);
    *self = kb;
    return RAGD_OK;
}

static const ragd_source_type kb_type = {
    RAGD_SOURCE_ABI_VERSION, "kb", kb_create, kb_search, kb_cancel, kb_destroy,
    RAGD_SOURCE_FILTERS | RAGD_SOURCE_LOOPS,
};

/* The kb source type, for ragd's registry of built-in sources. */
const ragd_source_type *ragd_source_kb(void)
{
    return &kb_type;
}
