/*
 * job -- the background job runner (job.h): one step at a time, each step
 * one transaction of up to JOB_BATCH documents.
 *
 * A step runs on the worker pool: it takes the job, reads and chunks the
 * batch, embeds it (hash embedder) and commits.  When the store's
 * vectors come from an embedding service the step pauses between chunking
 * and committing: the batch goes back to the loop, which embeds it through
 * the shared HTTP client (embedq.h), and a second worker call commits
 * it.  While embedding, the step is env->cur, so a cancel or a shutdown
 * can stop it.
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
#include "embedq.h"
#include "log.h"
#include "obs.h"
#include "notify.h"

/* Documents per transaction: large enough that commits are cheap next to
 * the work, small enough that a step gives its worker back to searches
 * soon and a cancel takes effect at once.  Steps are background work (pool.h), so they never hold every
 * worker and wait behind searches. */
#define JOB_BATCH 64

/* A job keeps at most this many error entries (its counters keep counting). */
#define JOB_MAX_ERRORS 100

typedef struct job_step job_step;

struct job_env {
    struct event_base *base;
    host_services *svc;
    const char *path;
    long retention_s, change_log_keep;
    store **handles;    /* one per worker, each used only by its worker */
    unsigned nhandles;
    int busy, stopping, again;
    job_step *cur;      /* the step while its embeddings are in flight */
    notify_sub *feed;   /* a database store's changes: look for work again */
    int64_t cancelled;  /* the job last cancelled, or 0 */
};

/* One document of a step, prepared before the transaction. */
typedef struct job_doc {
    json_t *doc;        /* normalised, or NULL when the payload entry is bad */
    chunk_span *spans;
    size_t nspans;
    const float *vecs;  /* its chunks' rows of the batch's vecs, or NULL */
} job_doc;

/* A step's documents. */
typedef struct job_batch {
    job_doc docs[JOB_BATCH];
    size_t n;
    store_job *j;
    char *inputs;       /* the chunks' embedding inputs, NUL-separated */
    const char **texts; /* texts[k]: chunk k's input, in inputs */
    size_t nchunks;     /* chunks of the documents going into vector */
    float *vecs;        /* nchunks rows of the embedder's dims */
} job_batch;

/* One step: its job and batch, and its outcome, each set on the worker
 * or the loop while the other does not look. */
struct job_step {
    job_env *e;
    store_job j;        /* the step's job */
    job_batch *b;       /* a batch waiting for the embedding service */
    int into;
    embedq *q;          /* the embeddings in flight, or NULL */
    char fail[512];     /* why the embeddings failed: the job fails */
    int committed, more;
    size_t written;     /* documents the commit wrote */
    char err[512];
};

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
    if (!e->handles[worker]) {
        if (store_open(e->path, 1, &e->handles[worker], err, errlen) < 0)
            return NULL;
        store_log_keep(e->handles[worker], e->change_log_keep);
    }
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

/* Chunk one payload document. */
static int job_prepare(job_doc *d, char *err, size_t errlen)
{
    const char *text = json_string_value(json_object_get(d->doc, "text"));

    if (chunk_split(text, strlen(text), CHUNK_TARGET, CHUNK_MAX, &d->spans, &d->nspans) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void job_doc_release(job_doc *d)
{
    json_decref(d->doc);
    free(d->spans);
    memset(d, 0, sizeof *d);
}

static void job_batch_free(job_batch **bp)
{
    job_batch *b = *bp;

    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        job_doc_release(&b->docs[i]);
    free(b->inputs);
    free(b->texts);
    free(b->vecs);
    free(b);
    *bp = NULL;
}

/* The embedding input of chunk k of d (embed_input), into dst unless dst
 * is NULL; returns its length. */
static size_t job_input(const job_doc *d, size_t k, char *dst)
{
    const char *title = json_string_value(json_object_get(d->doc, "title"));
    const char *text = json_string_value(json_object_get(d->doc, "text"));

    return embed_input(title, text + d->spans[k].off, d->spans[k].len, dst);
}

/* Lay out the embedding inputs of b's chunks, in document order.
 * Returns 0, or -1 when out of memory. */
static int job_batch_inputs(job_batch *b)
{
    size_t total = 0, k = 0;
    char *p;

    for (size_t i = 0; i < b->n; i++)
        for (size_t c = 0; b->docs[i].doc && c < b->docs[i].nspans; c++, b->nchunks++)
            total += job_input(&b->docs[i], c, NULL) + 1;
    if (b->nchunks == 0)
        return 0;
    if (!(b->inputs = malloc(total)) || !(b->texts = malloc(b->nchunks * sizeof *b->texts)))
        return -1;
    p = b->inputs;
    for (size_t i = 0; i < b->n; i++)
        for (size_t c = 0; b->docs[i].doc && c < b->docs[i].nspans; c++) {
            b->texts[k++] = p;
            p += job_input(&b->docs[i], c, p) + 1;
        }
    return 0;
}

/* Give b its chunks' vectors: vecs, b->nchunks rows of dims, which b
 * takes. */
static void job_batch_place(job_batch *b, float *vecs, size_t dims)
{
    size_t k = 0;

    free(b->vecs);
    b->vecs = vecs;
    for (size_t i = 0; i < b->n; i++) {
        job_doc *d = &b->docs[i];
        d->vecs = d->doc && d->nspans ? vecs + k * dims : NULL;
        k += d->doc ? d->nspans : 0;
    }
}

/* Embed b's chunks with the hash embedder.  Returns 0, or -1 when out of
 * memory. */
static int job_embed_hash(job_batch *b)
{
    float *vecs = malloc((b->nchunks ? b->nchunks : 1) * EMBED_HASH_DIMS * sizeof *vecs);

    if (!vecs)
        return -1;
    for (size_t k = 0; k < b->nchunks; k++)
        embed_hash(b->texts[k], strlen(b->texts[k]), vecs + k * EMBED_HASH_DIMS,
                   EMBED_HASH_DIMS);
    job_batch_place(b, vecs, EMBED_HASH_DIMS);
    return 0;
}

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

static int job_put(store *s, const job_doc *d, int into, int64_t job)
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
        .fts = (into & DOCREQ_KB) != 0, .job = job,
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
    /* Another process may run the same job: the batch is committed once,
     * by whoever finds the job still at done0 (the store locks the job's
     * row until the commit). */
    if (rc == 0 || strcmp(now.status, "running") != 0 || now.done != done0) {
        store_job_release(&now);
        store_rollback(s);
        return 0;
    }
    store_job_release(&now);
    for (size_t i = 0; i < b->n; i++) {
        if (!b->docs[i].doc)
            continue;
        if (job_put(s, &b->docs[i], into, b->j->id) < 0)
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

/* job_fail, unless j was cancelled meanwhile: the check and the write in
 * one transaction, as a commit does. */
static void job_fail_running(store *s, store_job *j, const char *msg)
{
    store_job now;
    int rc;

    if (store_begin(s) < 0)
        return;
    rc = store_job_get(s, j->id, &now);
    if (rc == 1 && !strcmp(now.status, "running"))
        job_fail(s, j, msg);
    if (rc == 1)
        store_job_release(&now);
    if (store_commit(s) < 0)
        store_rollback(s);
}

/* Declare the embedder the store's vectors are made with to worker
 * handle s, which needs it before it writes vectors. */
static int job_use_embedder(const job_env *e, store *s, char *err, size_t errlen)
{
    const host_services *svc = e->svc;
    store_embedder use = {.dims = svc->embed_dims};

    snprintf(use.name, sizeof use.name, "%s", svc->embedder);
    if (!strcmp(svc->embedder, "openai")) {
        snprintf(use.model, sizeof use.model, "%s", svc->embed_model);
        snprintf(use.url, sizeof use.url, "%s", svc->embed_url);
    }
    return store_embedder_use(s, &use, err, errlen);
}

/* Whether the step's vectors come from an embedding service. */
static int job_remote(const job_step *st)
{
    return (st->into & DOCREQ_VECTOR) && !strcmp(st->e->svc->embedder, "openai");
}

/* Commit st's batch (embedded) and record the outcome in st. */
static void job_commit_step(job_step *st, store *s)
{
    int rc = job_commit(s, st->b, st->into, st->err, sizeof st->err);

    st->committed = rc == 1;
    for (size_t i = 0; st->committed && i < st->b->n; i++)
        st->written += st->b->docs[i].doc != NULL;
    st->more = rc >= 0;
    if (rc < 0)
        job_fail(s, &st->j, st->err);
}

/* Run one batch of st's job (status running): chunk it, then embed and
 * commit it, or leave it in st->b for the embedding service. */
static void job_run_batch(job_step *st, store *s)
{
    store_job *j = &st->j;
    job_batch *b = calloc(1, sizeof *b);

    if (!b) {
        snprintf(st->err, sizeof st->err, "out of memory");
        return;
    }
    b->j = j;
    st->into = docreq_into_parse(j->into);
    if ((st->into & DOCREQ_VECTOR) && job_use_embedder(st->e, s, st->err, sizeof st->err) < 0) {
        job_fail(s, j, st->err);
        goto done;
    }
    if (store_job_docs(s, j->id, j->done, JOB_BATCH, job_take, b) < 0) {
        snprintf(st->err, sizeof st->err, "cannot read the job's documents: %s",
                 store_errmsg(s));
        goto done;
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->docs[i].doc && job_prepare(&b->docs[i], st->err, sizeof st->err) < 0)
            goto done;
    if ((st->into & DOCREQ_VECTOR) && job_batch_inputs(b) < 0) {
        snprintf(st->err, sizeof st->err, "out of memory");
        goto done;
    }
    if (b->n == 0) /* a payload shorter than its total: finish the job */
        j->done = j->total;
    if (job_remote(st) && b->nchunks) {
        st->b = b;
        return;
    }
    if ((st->into & DOCREQ_VECTOR) && job_embed_hash(b) < 0) {
        snprintf(st->err, sizeof st->err, "out of memory");
        goto done;
    }
    st->b = b;
    job_commit_step(st, s);
done:
    st->b = NULL;
    job_batch_free(&b);
}

/* The step, on a worker: take the next job, start it, run one batch. */
static void job_step_work(void *arg, unsigned worker)
{
    job_step *st = arg;
    store *s = job_store(st->e, worker, st->err, sizeof st->err);
    int64_t id, n;

    if (!s)
        return;
    if (store_job_next(s, &id) <= 0 || store_job_get(s, id, &st->j) <= 0) {
        if (st->e->retention_s > 0 &&
            store_job_expire(s, job_now() - st->e->retention_s, &n) == 0 && n > 0)
            snprintf(st->err, sizeof st->err, "deleted %lld finished jobs", (long long)n);
        return;
    }
    if (!strcmp(st->j.status, "queued")) {
        snprintf(st->j.status, sizeof st->j.status, "running");
        st->j.started_at = job_now();
        if (store_job_update(s, &st->j) < 0) {
            snprintf(st->err, sizeof st->err, "cannot start job %lld: %s", (long long)id,
                     store_errmsg(s));
            return;
        }
    }
    job_run_batch(st, s);
}

/* The second half of a step whose batch went to the embedding service, on
 * a worker: commit the batch, or fail the job when its embeddings failed. */
static void job_commit_work(void *arg, unsigned worker)
{
    job_step *st = arg;
    store *s = job_store(st->e, worker, st->err, sizeof st->err);

    if (!s) {
        job_batch_free(&st->b);
        return;
    }
    if (st->fail[0]) {
        job_fail_running(s, &st->j, st->fail);
        snprintf(st->err, sizeof st->err, "job %lld failed: %.440s", (long long)st->j.id,
                 st->fail);
    } else if (job_use_embedder(st->e, s, st->err, sizeof st->err) < 0) {
        job_fail(s, &st->j, st->err);
    } else {
        job_commit_step(st, s);
    }
    job_batch_free(&st->b);
}

static void job_step_start(job_env *e);
static void job_step_done(void *arg);

/* The end of a step, on the loop: tell the readers, then go on. */
/* Count what the step wrote, and its job if the step finished it. */
static void job_step_count(const job_step *st)
{
    metrics_add(obs.documents_written, (double)st->written);
    if (!strcmp(st->j.status, "done") || !strcmp(st->j.status, "failed"))
        metrics_add(obs.jobs, 1, st->j.status);
}

static void job_step_end(job_step *st)
{
    job_env *e = st->e;
    int more = st->more;

    if (st->err[0])
        log_msg(more && !st->fail[0] ? LOG_INFO : LOG_WARN, "jobs: %s", st->err);
    if (st->committed)
        notify_publish(e->path);
    job_step_count(st);
    job_batch_free(&st->b);
    store_job_release(&st->j);
    free(st);
    e->busy = 0;
    if (more || e->again)
        job_step_start(e);
}

/* The batch's embeddings are in (or failed, or were stopped): commit. */
static void job_embedded(void *arg, int status, float *vecs, size_t dims, const char *error)
{
    job_step *st = arg;
    job_env *e = st->e;

    st->q = NULL;
    e->cur = NULL;
    if (status == RAGD_ECANCELED) {
        /* The job was cancelled (the next step moves on) or ragd stops. */
        st->more = 1;
        job_step_end(st);
        return;
    }
    if (status == RAGD_OK) {
        job_batch_place(st->b, vecs, dims);
    } else {
        snprintf(st->fail, sizeof st->fail, "%s", error);
        st->more = 1;
    }
    if (pool_submit(e->svc->pool, job_commit_work, job_step_done, st) != 0) {
        snprintf(st->err, sizeof st->err, "out of memory; the runner waits for the next job");
        st->more = 0;
        job_step_end(st);
    }
}

/* Send st's batch to the embedding service.  Returns 0, or -1 when the
 * step ends now. */
static int job_embed_start(job_step *st)
{
    job_env *e = st->e;
    int rc;

    if (e->stopping || st->j.id == e->cancelled) {
        st->more = 1;
        return -1;
    }
    rc = embedq_start(e->svc, st->b->texts, st->b->nchunks, job_embedded, st, &st->q);
    if (rc != RAGD_OK) {
        snprintf(st->err, sizeof st->err, "cannot start embedding job %lld: out of memory",
                 (long long)st->j.id);
        return -1;
    }
    e->cur = st;
    return 0;
}

/* A worker call of a step has returned, on the loop. */
static void job_step_done(void *arg)
{
    job_step *st = arg;

    if (st->b && job_embed_start(st) == 0)
        return;
    job_step_end(st);
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

void job_env_cancelled(job_env *e, int64_t id)
{
    e->cancelled = id;
    if (e->cur && e->cur->j.id == id)
        embedq_cancel(e->cur->q);
}

void job_env_stop(job_env *e)
{
    e->stopping = 1;
    if (e->cur)
        embedq_cancel(e->cur->q);
}

/* A database store changed (or its feed reconnected after an outage): a
 * step that failed while the database was down left its job queued or
 * running, and no one else would look for it again. */
static void job_env_told(void *arg)
{
    job_env_kick(arg);
}

job_env *job_env_new(struct event_base *base, host_services *svc, const char *db_path,
                     long retention_s, long change_log_keep, char *err, size_t errlen)
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
    e->change_log_keep = change_log_keep;
    e->nhandles = pool_size(svc->pool);
    if (store_is_url(db_path) && !(e->feed = notify_subscribe(db_path, job_env_told, e))) {
        free(e->handles);
        free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    job_step_start(e);
    return e;
}

void job_env_free(job_env **ep)
{
    job_env *e = *ep;

    if (!e)
        return;
    notify_unsubscribe(&e->feed);
    for (unsigned i = 0; i < e->nhandles; i++)
        store_close(&e->handles[i]);
    free(e->handles);
    free(e);
    *ep = NULL;
}
