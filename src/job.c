/*
 * job -- the background job runner (job.h): one step at a time on the
 * worker pool, each step one transaction of up to JOB_BATCH documents.
 */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chunk.h"
#include "docreq.h"
#include "embed.h"
#include "log.h"
#include "notify.h"

/* Documents per transaction: large enough that commits are cheap next to
 * the work, small enough that a step gives its worker back to searches
 * soon and a cancel takes effect at once.  Steps are background work (pool.h), so they never hold every
 * worker and wait behind searches. */
#define JOB_BATCH 64

/* A job keeps at most this many error entries (its counters keep counting). */
#define JOB_MAX_ERRORS 100

struct job_env {
    struct event_base *base;
    host_services *svc;
    const char *path;
    long retention_s;
    store **handles;    /* one per worker, each used only by its worker */
    unsigned nhandles;
    int busy, stopping, again;
};

/* One step: its outcome, set on the worker, read on the loop. */
typedef struct job_step {
    job_env *e;
    int committed, more;
    char err[512];
} job_step;

/* One document of a step, prepared before the transaction. */
typedef struct job_doc {
    json_t *doc;        /* normalised, or NULL when the payload entry is bad */
    chunk_span *spans;
    size_t nspans;
    float *vecs;
} job_doc;

static int64_t job_now(void)
{
    return (int64_t)time(NULL);
}

store *job_store(job_env *e, unsigned worker, char *err, size_t errlen)
{
    if (worker >= e->nhandles) {
        snprintf(err, errlen, "no store handle for worker %u", worker);
        return NULL;
    }
    if (!e->handles[worker] && store_open(e->path, 1, &e->handles[worker], err, errlen) < 0)
        return NULL;
    return e->handles[worker];
}

const char *job_env_path(const job_env *e)
{
    return e->path;
}

/* Append {"index","id","message"} to j's errors, up to JOB_MAX_ERRORS. */
static void job_add_error(store_job *j, int64_t index, const char *id, const char *msg)
{
    json_t *a = json_loads(j->errors ? j->errors : "[]", 0, NULL);
    char *text;

    if (json_is_array(a) && json_array_size(a) < JOB_MAX_ERRORS &&
        json_array_append_new(a, json_pack("{sI ss ss}", "index", (json_int_t)index, "id",
                                           id ? id : "", "message", msg)) == 0 &&
        (text = json_dumps(a, JSON_COMPACT))) {
        free(j->errors);
        j->errors = text;
    }
    json_decref(a);
}

/* --------------------------------------------------------- preparing -- */

/* The text a chunk is embedded as: "TITLE\n\nCHUNK", or just the chunk,
 * as `ragd ingest` does. */
static int job_embed_hash(job_doc *d)
{
    const char *title = json_string_value(json_object_get(d->doc, "title"));
    const char *text = json_string_value(json_object_get(d->doc, "text"));
    size_t tlen = strlen(title), cap = 0;
    char *buf = NULL;

    if (!(d->vecs = malloc(d->nspans * EMBED_HASH_DIMS * sizeof *d->vecs)))
        return -1;
    for (size_t k = 0; k < d->nspans; k++) {
        size_t len = (tlen ? tlen + 2 : 0) + d->spans[k].len;
        if (len + 1 > cap) {
            char *p = realloc(buf, len + 1);
            if (!p) {
                free(buf);
                return -1;
            }
            buf = p;
            cap = len + 1;
        }
        if (tlen) {
            memcpy(buf, title, tlen);
            memcpy(buf + tlen, "\n\n", 2);
        }
        memcpy(buf + (tlen ? tlen + 2 : 0), text + d->spans[k].off, d->spans[k].len);
        buf[len] = '\0';
        embed_hash(buf, len, d->vecs + k * EMBED_HASH_DIMS, EMBED_HASH_DIMS);
    }
    free(buf);
    return 0;
}

/* Chunk (and embed, for vector) one payload document. */
static int job_prepare(job_doc *d, int into, char *err, size_t errlen)
{
    const char *text = json_string_value(json_object_get(d->doc, "text"));

    if (chunk_split(text, strlen(text), CHUNK_TARGET, CHUNK_MAX, &d->spans, &d->nspans) < 0 ||
        ((into & DOCREQ_VECTOR) && d->nspans && job_embed_hash(d) < 0)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void job_doc_release(job_doc *d)
{
    json_decref(d->doc);
    free(d->spans);
    free(d->vecs);
    memset(d, 0, sizeof *d);
}

typedef struct job_batch {
    job_doc docs[JOB_BATCH];
    size_t n;
    store_job *j;
} job_batch;

/* store_job_docs callback: take one payload document into the batch. */
static int job_take(void *arg, int64_t index, const char *text)
{
    job_batch *b = arg;
    char why[256];
    json_t *raw = json_loads(text, 0, NULL);
    json_t *doc = raw ? docreq_doc(raw, why, sizeof why) : NULL;

    if (!doc) {
        job_add_error(b->j, index, json_string_value(json_object_get(raw, "id")),
                      raw ? why : "the stored document is not JSON");
        b->j->failed++;
    }
    json_decref(raw);
    b->docs[b->n++].doc = doc;
    return 0;
}

/* ----------------------------------------------------------- writing -- */

static int job_put(store *s, const job_doc *d, int into)
{
    store_chunk chunks[64], *c = d->nspans <= 64 ? chunks : malloc(d->nspans * sizeof *c);
    const char *text = json_string_value(json_object_get(d->doc, "text"));
    char *meta = NULL;
    json_t *m = json_object_get(d->doc, "metadata");
    store_doc sd;
    int rc;

    if (!c)
        return -1;
    for (size_t k = 0; k < d->nspans; k++)
        c[k] = (store_chunk){text + d->spans[k].off, d->spans[k].len};
    if (json_is_object(m))
        meta = json_dumps(m, JSON_COMPACT);
    sd = (store_doc){
        .id = json_string_value(json_object_get(d->doc, "id")),
        .title = json_string_value(json_object_get(d->doc, "title")),
        .url = json_string_value(json_object_get(d->doc, "url")),
        .metadata = meta, .chunks = c, .nchunks = d->nspans,
        .vecs = (into & DOCREQ_VECTOR) && d->nspans ? d->vecs : NULL,
        .fts = (into & DOCREQ_KB) != 0,
    };
    rc = store_put(s, &sd);
    free(meta);
    if (c != chunks)
        free(c);
    return rc;
}

/* Write the batch and j's progress in one transaction, unless the job was
 * cancelled meanwhile.  Returns 1 committed, 0 cancelled, -1 failed. */
static int job_commit(store *s, job_batch *b, int into, char *err, size_t errlen)
{
    store_job now;
    int64_t done0 = b->j->done, chunks0 = b->j->chunks;
    int rc;

    if (store_begin(s) < 0)
        goto fail;
    if ((rc = store_job_get(s, b->j->id, &now)) < 0)
        goto fail;
    if (rc == 0 || strcmp(now.status, "running") != 0) {
        store_job_release(&now);
        store_rollback(s);
        return 0;
    }
    store_job_release(&now);
    for (size_t i = 0; i < b->n; i++) {
        if (!b->docs[i].doc)
            continue;
        if (job_put(s, &b->docs[i], into) < 0)
            goto fail;
        b->j->chunks += (int64_t)b->docs[i].nspans;
    }
    b->j->done += (int64_t)b->n;
    if (b->j->done >= b->j->total) {
        snprintf(b->j->status, sizeof b->j->status, "done");
        b->j->finished_at = job_now();
    }
    if (store_job_update(s, b->j) < 0 || store_commit(s) < 0)
        goto fail;
    return 1;
fail:
    snprintf(err, errlen, "cannot write the documents: %s", store_errmsg(s));
    store_rollback(s);
    b->j->done = done0;
    b->j->chunks = chunks0;
    snprintf(b->j->status, sizeof b->j->status, "running");
    return -1;
}

/* ------------------------------------------------------------- steps -- */

/* Mark j failed with msg, in its own transaction. */
static void job_fail(store *s, store_job *j, const char *msg)
{
    job_add_error(j, j->done, "", msg);
    snprintf(j->status, sizeof j->status, "failed");
    j->finished_at = job_now();
    store_job_update(s, j);
}

/* Run one batch of job j (status running). */
static void job_run_batch(job_step *st, store *s, store_job *j)
{
    int into = docreq_into_parse(j->into);
    job_batch *b = calloc(1, sizeof *b);
    store_embedder hash = {.name = "hash", .dims = EMBED_HASH_DIMS};
    int rc;

    if (!b) {
        snprintf(st->err, sizeof st->err, "out of memory");
        return;
    }
    b->j = j;
    if ((into & DOCREQ_VECTOR) &&
        (strcmp(st->e->svc->embedder, "hash") != 0 ||
         store_embedder_use(s, &hash, st->err, sizeof st->err) < 0)) {
        if (!st->err[0])
            snprintf(st->err, sizeof st->err, "jobs embed only with the hash embedder, and "
                     "this store's vectors are made with %s", st->e->svc->embedder);
        job_fail(s, j, st->err);
        goto done;
    }
    if (store_job_docs(s, j->id, j->done, JOB_BATCH, job_take, b) < 0) {
        snprintf(st->err, sizeof st->err, "cannot read the job's documents: %s",
                 store_errmsg(s));
        goto done;
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->docs[i].doc && job_prepare(&b->docs[i], into, st->err, sizeof st->err) < 0)
            goto done;
    if (b->n == 0) /* a payload shorter than its total: finish the job */
        j->done = j->total;
    rc = job_commit(s, b, into, st->err, sizeof st->err);
    st->committed = rc == 1;
    st->more = rc >= 0;
    if (rc < 0)
        job_fail(s, j, st->err);
done:
    for (size_t i = 0; i < b->n; i++)
        job_doc_release(&b->docs[i]);
    free(b);
}

/* The step, on a worker: take the next job, start it, run one batch. */
static void job_step_work(void *arg, unsigned worker)
{
    job_step *st = arg;
    store *s = job_store(st->e, worker, st->err, sizeof st->err);
    store_job j = {0};
    int64_t id, n;

    if (!s)
        return;
    if (store_job_next(s, &id) <= 0 || store_job_get(s, id, &j) <= 0) {
        if (st->e->retention_s > 0 &&
            store_job_expire(s, job_now() - st->e->retention_s, &n) == 0 && n > 0)
            snprintf(st->err, sizeof st->err, "deleted %lld finished jobs", (long long)n);
        return;
    }
    if (!strcmp(j.status, "queued")) {
        snprintf(j.status, sizeof j.status, "running");
        j.started_at = job_now();
        if (store_job_update(s, &j) < 0) {
            snprintf(st->err, sizeof st->err, "cannot start job %lld: %s", (long long)id,
                     store_errmsg(s));
            store_job_release(&j);
            return;
        }
    }
    job_run_batch(st, s, &j);
    store_job_release(&j);
}

static void job_step_start(job_env *e);

/* The step's end, on the loop: tell the readers, then go on. */
static void job_step_done(void *arg)
{
    job_step *st = arg;
    job_env *e = st->e;

    if (st->err[0])
        log_msg(st->more ? LOG_INFO : LOG_WARN, "jobs: %s", st->err);
    if (st->committed)
        notify_publish(e->path);
    e->busy = 0;
    if (st->more || e->again)
        job_step_start(e);
    free(st);
}

static void job_step_start(job_env *e)
{
    job_step *st;

    if (e->busy || e->stopping)
        return;
    e->again = 0;
    if (!(st = calloc(1, sizeof *st))) {
        log_msg(LOG_WARN, "jobs: out of memory; the runner waits for the next job");
        return;
    }
    st->e = e;
    if (pool_submit_background(e->svc->pool, job_step_work, job_step_done, st) != 0) {
        free(st);
        return;
    }
    e->busy = 1;
}

void job_env_kick(job_env *e)
{
    if (e->busy)
        e->again = 1;
    else
        job_step_start(e);
}

int job_env_busy(const job_env *e)
{
    return e->busy;
}

void job_env_stop(job_env *e)
{
    e->stopping = 1;
}

job_env *job_env_new(struct event_base *base, host_services *svc, const char *db_path,
                     long retention_s, char *err, size_t errlen)
{
    job_env *e = calloc(1, sizeof *e);

    if (!e || !(e->handles = calloc(pool_size(svc->pool), sizeof *e->handles))) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->base = base;
    e->svc = svc;
    e->path = db_path;
    e->retention_s = retention_s;
    e->nhandles = pool_size(svc->pool);
    job_step_start(e);
    return e;
}

void job_env_free(job_env **ep)
{
    job_env *e = *ep;

    if (!e)
        return;
    for (unsigned i = 0; i < e->nhandles; i++)
        store_close(&e->handles[i]);
    free(e->handles);
    free(e);
    *ep = NULL;
}
