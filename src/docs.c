/*
 * docs -- the documents and jobs endpoints (docs.h).  Each request becomes
 * one docs_op: routed on the loop, its body parsed and its store work done
 * on a worker, its reply on the loop.
 */
#include "docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "defer.h"
#include "docreq.h"
#include "log.h"
#include "notify.h"
#include "reply.h"

typedef enum { DOCS_POST, DOCS_GET, DOCS_DELETE, JOBS_LIST, JOBS_GET, JOBS_CANCEL } docs_kind;

typedef struct docs_op {
    docs_env *env;
    reply rep;
    docs_kind kind;
    struct evbuffer *in; /* DOCS_POST: the body, parsed on the worker */
    int ndjson;
    docreq dr;          /* DOCS_POST, once parsed */
    char *doc_id;       /* DOCS_GET, DOCS_DELETE (decoded) */
    int64_t job_id;     /* JOBS_GET, JOBS_CANCEL; the new job of DOCS_POST */
    int status;         /* the reply, made on the worker */
    json_t *body;
    char err[512];
} docs_op;

/* Document requests in flight on every loop, for /metrics. */
static atomic_size_t docs_all_live;

size_t docs_live_all(void)
{
    return atomic_load(&docs_all_live);
}

int docs_owns(const char *path)
{
    return !strcmp(path, "/documents") || !strncmp(path, "/documents/", 11) ||
           !strcmp(path, "/jobs") || !strncmp(path, "/jobs/", 6);
}

/* ------------------------------------------------------------ replies -- */

static json_t *docs_error(const char *code, const char *msg)
{
    return json_pack("{s{ss ss}}", "error", "code", code, "message", msg);
}

/* A time as a job shows it: Unix seconds, or null for not yet. */
static json_t *docs_time(int64_t t)
{
    return t ? json_integer((json_int_t)t) : json_null();
}

/* A job as GET /jobs/<id> shows it (schemas/job.schema.json).  done counts
 * the documents put, failed those refused; together, those committed. */
static json_t *docs_job_json(const store_job *j)
{
    json_t *errors = json_loads(j->errors ? j->errors : "[]", 0, NULL);
    char id[24];

    snprintf(id, sizeof id, "%lld", (long long)j->id);
    return json_pack("{ss ss s{sI sI sI} sI so so so so}", "job", id, "status", j->status,
                     "documents", "total", (json_int_t)j->total, "done",
                     (json_int_t)(j->done - j->failed), "failed", (json_int_t)j->failed,
                     "chunks", (json_int_t)j->chunks, "errors",
                     json_is_array(errors) ? errors : json_array(), "created_at",
                     docs_time(j->created_at), "started_at", docs_time(j->started_at),
                     "finished_at", docs_time(j->finished_at));
}

static void docs_set(docs_op *op, int status, json_t *body)
{
    op->status = status;
    op->body = body;
}

static void docs_set_error(docs_op *op, int status, const char *code, const char *msg)
{
    docs_set(op, status, docs_error(code, msg));
}

/* The store failed: 503 when it is unreachable (a database that is down:
 * try again later), else 500. */
static void docs_store_error(docs_op *op, store *s)
{
    if (store_unreachable(s))
        docs_set_error(op, 503, "unavailable", store_errmsg(s));
    else
        docs_set_error(op, 500, "internal", store_errmsg(s));
}

/* --------------------------------------------------------- the work -- */

/* Parse the body into op->dr, or set the 400.  On the worker, not the
 * loop: a large body takes tens of milliseconds to parse, which on the loop
 * would hold up every search in flight. */
static int docs_post_parse(docs_op *op)
{
    size_t len = evbuffer_get_length(op->in);
    const char *body = len ? (const char *)evbuffer_pullup(op->in, -1) : "";
    char err[600];
    int rc = body ? docreq_parse(body, len, op->ndjson, &op->dr, err, sizeof err) : -1;

    if (!body)
        snprintf(err, sizeof err, "out of memory");
    evbuffer_free(op->in);
    op->in = NULL;
    if (rc < 0)
        docs_set_error(op, body ? 400 : 500, !body ? "internal" : rc == -2 ? "invalid_json" :
                       strstr(err, "required") ? "missing_field" : "invalid_field", err);
    return rc < 0 ? -1 : 0;
}

static void docs_post_work(docs_op *op, store *s)
{
    size_t n;
    char **texts;
    size_t i;
    char msg[64];

    if (docs_post_parse(op) < 0)
        return;
    n = json_array_size(op->dr.docs);
    texts = calloc(n ? n : 1, sizeof *texts);
    for (i = 0; texts && i < n; i++)
        if (!(texts[i] = json_dumps(json_array_get(op->dr.docs, i), JSON_COMPACT)))
            break;
    if (!texts || i < n)
        docs_set_error(op, 500, "internal", "out of memory");
    else if (store_job_add(s, docreq_into_json(op->dr.into), (const char *const *)texts, n,
                           (int64_t)time(NULL), &op->job_id) < 0)
        docs_store_error(op, s);
    else {
        snprintf(msg, sizeof msg, "%lld", (long long)op->job_id);
        docs_set(op, 202, json_pack("{ss ss sI}", "job", msg, "status", "queued", "documents",
                                    (json_int_t)n));
    }
    for (i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
}

static void docs_get_work(docs_op *op, store *s)
{
    store_docinfo d;
    int rc = store_doc_get(s, op->doc_id, &d);
    json_t *meta;

    if (rc < 0)
        docs_store_error(op, s);
    else if (rc == 0)
        docs_set_error(op, 404, "not_found", "no such document");
    else {
        meta = d.metadata ? json_loads(d.metadata, 0, NULL) : NULL;
        docs_set(op, 200, json_pack("{ss ss so so sI}", "id", d.id, "title", d.title ? d.title : "",
                                    "url", d.url ? json_string(d.url) : json_null(), "metadata",
                                    meta ? meta : json_null(), "chunks",
                                    (json_int_t)d.nchunks));
    }
}

static void docs_delete_work(docs_op *op, store *s)
{
    int rc = store_delete(s, op->doc_id);

    if (rc < 0)
        docs_store_error(op, s);
    else if (rc == 0)
        docs_set_error(op, 404, "not_found", "no such document");
    else
        docs_set(op, 200, json_pack("{ss sb}", "id", op->doc_id, "deleted", 1));
}

static int docs_list_one(void *arg, const store_job *j)
{
    json_array_append_new(arg, docs_job_json(j));
    return 0;
}

static void docs_jobs_work(docs_op *op, store *s)
{
    json_t *jobs = json_array();
    store_job j;
    int rc;

    if (op->kind == JOBS_LIST) {
        if (store_job_list(s, DOCS_MAX_LIST, docs_list_one, jobs) < 0)
            docs_store_error(op, s);
        else
            docs_set(op, 200, json_pack("{sO}", "jobs", jobs));
        json_decref(jobs);
        return;
    }
    json_decref(jobs);
    /* A cancel and the runner's next commit are ordered by the store: the
     * runner checks the status inside its transaction. */
    if (op->kind == JOBS_CANCEL && store_begin(s) < 0) {
        docs_store_error(op, s);
        return;
    }
    rc = store_job_get(s, op->job_id, &j);
    if (rc == 1 && op->kind == JOBS_CANCEL &&
        (!strcmp(j.status, "queued") || !strcmp(j.status, "running"))) {
        snprintf(j.status, sizeof j.status, "cancelled");
        j.finished_at = (int64_t)time(NULL);
        if (store_job_update(s, &j) < 0)
            rc = -1;
    }
    if (op->kind == JOBS_CANCEL && (rc < 0 || store_commit(s) < 0)) {
        store_rollback(s);
        rc = -1;
    }
    if (rc < 0)
        docs_store_error(op, s);
    else if (rc == 0)
        docs_set_error(op, 404, "not_found", "no such job");
    else
        docs_set(op, 200, docs_job_json(&j));
    if (rc == 1)
        store_job_release(&j);
}

static void docs_work(void *arg, unsigned worker)
{
    docs_op *op = arg;
    store *s = job_store(op->env->jobs, worker, op->err, sizeof op->err);

    if (!s) {
        /* A database store that cannot be opened is down, not broken. */
        if (store_is_url(job_env_path(op->env->jobs)))
            docs_set_error(op, 503, "unavailable", op->err);
        else
            docs_set_error(op, 500, "internal", op->err);
        return;
    }
    switch (op->kind) {
    case DOCS_POST: docs_post_work(op, s); break;
    case DOCS_GET: docs_get_work(op, s); break;
    case DOCS_DELETE: docs_delete_work(op, s); break;
    default: docs_jobs_work(op, s); break;
    }
}

/* ------------------------------------------------------------- replies -- */

static void docs_op_free(docs_op *op)
{
    reply_release(&op->rep);
    if (op->in)
        evbuffer_free(op->in);
    docreq_release(&op->dr);
    free(op->doc_id);
    json_decref(op->body);
    free(op);
}

/* What a request that changed something tells the job runner (a job
 * queued or cancelled) or the store's readers (documents deleted).  They
 * live on the main loop; a request served by another loop sends it there. */
typedef struct docs_news {
    docs_kind kind;
    job_env *jobs;
    int64_t job_id;
} docs_news;

static void docs_news_run(void *arg)
{
    docs_news *n = arg;

    if (n->kind == DOCS_POST)
        job_env_kick(n->jobs);
    else if (n->kind == DOCS_DELETE)
        notify_publish(job_env_path(n->jobs));
    else
        job_env_cancelled(n->jobs, n->job_id);
    free(n);
}

static void docs_tell(docs_env *env, docs_kind kind, int64_t job_id)
{
    docs_news *n = malloc(sizeof *n);

    if (!n) {
        log_msg(LOG_WARN, "documents: out of memory telling the job runner; it looks again "
                "at its next change");
        return;
    }
    *n = (docs_news){kind, env->jobs, job_id};
    if (!env->main || env->main == env->base)
        docs_news_run(n);
    else if (defer_call(env->main, docs_news_run, n) != 0) {
        log_msg(LOG_WARN, "documents: cannot reach the main loop; the job runner looks again "
                "at its next change");
        free(n);
    }
}

static void docs_done(void *arg)
{
    docs_op *op = arg;
    char loc[48];

    op->env->live--;
    atomic_fetch_sub(&docs_all_live, 1);
    if (op->kind == DOCS_POST && op->status == 202) {
        docs_tell(op->env, DOCS_POST, op->job_id);
        snprintf(loc, sizeof loc, "/jobs/%lld", (long long)op->job_id);
        if (op->rep.req)
            evhttp_add_header(evhttp_request_get_output_headers(op->rep.req), "Location", loc);
    }
    if (op->kind == DOCS_DELETE && op->status == 200)
        docs_tell(op->env, DOCS_DELETE, 0);
    if (op->kind == JOBS_CANCEL && op->status == 200)
        docs_tell(op->env, JOBS_CANCEL, op->job_id);
    if (op->rep.req) {
        reply_send_json(&op->rep, op->status, op->body);
        op->body = NULL;
    }
    docs_op_free(op);
}

/* A whole reply never pauses or stalls; a client that left just misses
 * its answer, and the work (a queued job, a delete) stands. */
static void docs_gone(void *arg, const char *why)
{
    (void)arg;
    (void)why;
}

static int docs_pause(void *arg, int paused)
{
    (void)arg;
    (void)paused;
    return 0;
}

static void docs_stalled(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static const reply_hooks docs_hooks = {docs_gone, docs_pause, docs_stalled};

/* ------------------------------------------------------------ parsing -- */

/* Take the body of a POST /documents into op->in (moved, not copied: the
 * request may be freed before the worker parses it), or reply 4xx. */
static int docs_parse_post(docs_op *op, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    char msg[128];

    if (len > op->env->max_body) {
        snprintf(msg, sizeof msg, "body: larger than %zu bytes (max_documents_bytes)",
                 op->env->max_body);
        reply_error(req, 413, "body_too_large", msg);
        return -1;
    }
    op->ndjson = ct && !strncmp(ct, "application/x-ndjson", 20);
    if (!(op->in = evbuffer_new()) || evbuffer_add_buffer(op->in, in) != 0) {
        reply_error(req, 500, "internal", "out of memory");
        return -1;
    }
    return 0;
}

/* The id after prefix in path, percent-decoded, or NULL (reply sent). */
static char *docs_path_id(struct evhttp_request *req, const char *path, size_t prefix)
{
    size_t n;
    char *id = evhttp_uridecode(path + prefix, 0, &n);

    if (!id || n == 0 || n > DOCREQ_MAX_ID || strlen(id) != n) {
        free(id);
        reply_error(req, 400, "invalid_field", "the id in the path: a non-empty "
                    "percent-encoded document id");
        return NULL;
    }
    return id;
}

static int docs_job_id(struct evhttp_request *req, const char *s, int64_t *id)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    if (*s < '1' || *s > '9' || *end || v <= 0) {
        reply_error(req, 404, "not_found", "no such job");
        return -1;
    }
    *id = v;
    return 0;
}

/* Fill op from the request's path and method, or reply and return -1. */
static int docs_parse(docs_op *op, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);

    if (!strcmp(path, "/documents")) {
        op->kind = DOCS_POST;
        return reply_method_ok(req, EVHTTP_REQ_POST, "POST") ? docs_parse_post(op, req) : -1;
    }
    if (!strncmp(path, "/documents/", 11)) {
        if (!reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_DELETE, "GET, DELETE"))
            return -1;
        op->kind = m == EVHTTP_REQ_DELETE ? DOCS_DELETE : DOCS_GET;
        return (op->doc_id = docs_path_id(req, path, 11)) ? 0 : -1;
    }
    if (!strcmp(path, "/jobs")) {
        op->kind = JOBS_LIST;
        return reply_method_ok(req, EVHTTP_REQ_GET, "GET") ? 0 : -1;
    }
    if (!reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_DELETE, "GET, DELETE"))
        return -1;
    op->kind = m == EVHTTP_REQ_DELETE ? JOBS_CANCEL : JOBS_GET;
    return docs_job_id(req, path + 6, &op->job_id);
}

void docs_handle(docs_env *env, struct evhttp_request *req, conn *c)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    docs_op *op;

    if (!env->jobs) {
        reply_error(req, 404, "not_found", "ragd serves no store (--db): no documents or jobs");
        return;
    }
    if (!(op = calloc(1, sizeof *op))) {
        reply_error(req, 500, "internal", "out of memory");
        return;
    }
    op->env = env;
    if (docs_parse(op, req, path ? path : "") < 0) {
        docs_op_free(op);
        return;
    }
    reply_init(&op->rep, env->base, req, c, env->max_output, env->stall_ms, &docs_hooks, op);
    /* Queueing a job writes its whole payload: background work, like the
     * job's steps, so it never holds every worker while searches wait. */
    if ((op->kind == DOCS_POST ? pool_submit_background : pool_submit)(env->pool, docs_work,
                                                                      docs_done, op) != 0) {
        reply_send_error(&op->rep, 503, "overloaded", "cannot queue the request; retry");
        docs_op_free(op);
        return;
    }
    env->live++;
    atomic_fetch_add(&docs_all_live, 1);
}
