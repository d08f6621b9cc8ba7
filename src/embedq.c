/*
 * embedq -- many texts to vectors over the shared HTTP client (embedq.h).
 *
 * The texts are cut into requests of EMBEDQ_BATCH; each of the
 * EMBEDQ_INFLIGHT slots carries one request at a time, and takes the next
 * when its answer is in, so at most that many are ever in flight.  A slot
 * is busy while its transfer is in flight or its retry wait runs; the
 * embedq calls back once no slot is busy and either every text has its
 * vector or something ended it (an error, a cancel).  Ending aborts the
 * other transfers, whose cancelled callbacks land later, so the callback
 * never runs while a transfer could still call into freed state.
 */
#include "embedq.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "clock.h"
#include "embed.h"
#include "llm.h"
#include "mask.h"

/* One request's deadline: a batch of texts takes a service a few seconds
 * at worst; past this it is stuck, and a retry is the better bet. */
#define EMBEDQ_TIMEOUT_MS 60000

/* The wait before the first retry when the service names none; it doubles
 * with each attempt up to EMBEDQ_BACKOFF_MAX_MS. */
#define EMBEDQ_BACKOFF_MS 250
#define EMBEDQ_BACKOFF_MAX_MS 8000

/* The longest Retry-After obeyed: a job waits, but not for hours. */
#define EMBEDQ_RETRY_AFTER_MAX_MS 30000

/* 64 texts of 3072 dimensions are about 5 MiB of JSON. */
#define EMBEDQ_MAX_RESPONSE (16u << 20)

typedef struct embedq_slot {
    embedq *q;
    size_t from, n;        /* its request: texts[from .. from+n) */
    int attempts;          /* of this request so far */
    httpc_xfer *x;         /* the transfer in flight, or NULL */
    struct event *wait;    /* the retry wait */
    int waiting;
} embedq_slot;

struct embedq {
    host_services *svc;
    const char *const *texts;
    size_t n;
    size_t next;           /* the first text no slot has taken */
    size_t left;           /* texts without their vector yet */
    float *vecs;           /* n * svc->embed_dims */
    char *auth;            /* the Authorization header, or NULL */
    embedq_cb cb;
    void *arg;
    int status;            /* RAGD_OK until an error or a cancel ends q */
    char error[512];
    struct event *deliver; /* the callback of a cancel that left nothing busy */
    embedq_slot slots[EMBEDQ_INFLIGHT];
};

static void embedq_free(embedq *q)
{
    for (size_t i = 0; i < EMBEDQ_INFLIGHT; i++)
        if (q->slots[i].wait)
            event_free(q->slots[i].wait);
    if (q->deliver)
        event_free(q->deliver);
    free(q->auth);
    free(q->vecs);
    free(q);
}

static int embedq_busy(const embedq *q)
{
    for (size_t i = 0; i < EMBEDQ_INFLIGHT; i++)
        if (q->slots[i].x || q->slots[i].waiting)
            return 1;
    return 0;
}

/* Call back and free q once nothing is busy and q has its answer.  Only
 * from a callback of q's own (a transfer's, a timer's). */
static void embedq_settle(embedq *q)
{
    float *vecs;

    if (embedq_busy(q) || (q->status == RAGD_OK && q->left > 0))
        return;
    vecs = q->status == RAGD_OK ? q->vecs : NULL;
    if (vecs)
        q->vecs = NULL;
    q->cb(q->arg, q->status, vecs, q->status == RAGD_OK ? q->svc->embed_dims : 0,
          q->status == RAGD_OK ? NULL : q->error);
    embedq_free(q);
}

/* End q with status and msg (the first ending wins): abort what is in
 * flight, whose callbacks come later, and stop the retry waits. */
static void embedq_end(embedq *q, int status, const char *msg)
{
    if (q->status == RAGD_OK) {
        q->status = status;
        snprintf(q->error, sizeof q->error, "%s", msg);
    }
    for (size_t i = 0; i < EMBEDQ_INFLIGHT; i++) {
        embedq_slot *s = &q->slots[i];
        if (s->x)
            httpc_cancel(q->svc->http, s->x);
        if (s->waiting) {
            event_del(s->wait);
            s->waiting = 0;
        }
    }
}

static void embedq_http_done(void *arg, int status, long http_status, const char *body,
                             size_t len, const char *error);

/* Send slot s's request (again).  Returns 0, or a negative RAGD_* error
 * with nothing in flight. */
static int embedq_send(embedq_slot *s)
{
    embedq *q = s->q;
    const char *headers[3] = {"Content-Type: application/json", q->auth, NULL};
    char *body = embed_openai_body(q->svc->embed_model, q->texts + s->from, s->n);
    ragd_http_request req = {
        .method = "POST", .url = q->svc->embed_url, .headers = headers,
        .timeout_ms = EMBEDQ_TIMEOUT_MS, .max_response = EMBEDQ_MAX_RESPONSE,
    };
    int rc;

    if (!body)
        return RAGD_ENOMEM;
    req.body = body;
    req.body_len = strlen(body);
    s->attempts++;
    rc = httpc_start(q->svc->http, &req, embedq_http_done, s, &s->x);
    if (rc != RAGD_OK)
        s->x = NULL;
    free(body);
    return rc;
}

/* Give slot s the next request, if any texts are left.  Returns 0 (sent,
 * or nothing left), or a negative RAGD_* error with nothing in flight. */
static int embedq_fill(embedq_slot *s)
{
    embedq *q = s->q;

    if (q->next >= q->n)
        return RAGD_OK;
    s->from = q->next;
    s->n = q->n - q->next < EMBEDQ_BATCH ? q->n - q->next : EMBEDQ_BATCH;
    s->attempts = 0;
    q->next += s->n;
    return embedq_send(s);
}

static int embedq_retryable(int status, long http_status)
{
    if (status != RAGD_OK)
        return status != RAGD_ECANCELED;
    return http_status == 429 || (http_status >= 500 && http_status <= 599);
}

/* Wait before retrying s: the service's Retry-After, or the backoff.
 * Returns 0, or -1 when the timer cannot be set. */
static int embedq_retry_later(embedq_slot *s, int64_t retry_after_ms)
{
    int64_t wait = EMBEDQ_BACKOFF_MS;
    struct timeval tv;

    for (int i = 1; i < s->attempts && wait < EMBEDQ_BACKOFF_MAX_MS; i++)
        wait *= 2;
    if (wait > EMBEDQ_BACKOFF_MAX_MS)
        wait = EMBEDQ_BACKOFF_MAX_MS;
    if (retry_after_ms >= 0)
        wait = retry_after_ms;
    tv = clock_timeval(wait);
    if (evtimer_add(s->wait, &tv) != 0)
        return -1;
    s->waiting = 1;
    return 0;
}

/* A 200 answer for slot s: its vectors, then its next request. */
static void embedq_take(embedq_slot *s, const char *body, size_t len)
{
    embedq *q = s->q;
    size_t dims = 0, want = q->svc->embed_dims;
    float *out = NULL;
    char msg[512];
    int rc;

    if (embed_openai_parse(body, len, s->n, &dims, &out, msg, sizeof msg) != 0) {
        mask_secret(msg, q->svc->embed_key);
        embedq_end(q, RAGD_ERR, msg);
        return;
    }
    if (dims != want) {
        snprintf(msg, sizeof msg, "embedding service %s returned %zu dimensions, the store "
                 "has %zu", q->svc->embed_url, dims, want);
        mask_secret(msg, q->svc->embed_key);
        free(out);
        embedq_end(q, RAGD_ERR, msg);
        return;
    }
    memcpy(q->vecs + s->from * want, out, s->n * want * sizeof *out);
    free(out);
    q->left -= s->n;
    if ((rc = embedq_fill(s)) != RAGD_OK)
        embedq_end(q, rc, "cannot send an embeddings request: out of memory");
}

static void embedq_http_done(void *arg, int status, long http_status, const char *body,
                             size_t len, const char *error)
{
    embedq_slot *s = arg;
    embedq *q = s->q;
    httpc_xfer *x = s->x;
    int64_t retry_after = -1;
    char msg[512];

    s->x = NULL;
    if (q->status != RAGD_OK) {
        embedq_settle(q);
        return;
    }
    if (status == RAGD_OK && http_status == 200) {
        embedq_take(s, body, len);
    } else if (embedq_retryable(status, http_status) && s->attempts < EMBEDQ_ATTEMPTS) {
        if (status == RAGD_OK)
            retry_after = llm_retry_after_ms(httpc_header(x, "Retry-After"), time(NULL),
                                             EMBEDQ_RETRY_AFTER_MAX_MS);
        if (embedq_retry_later(s, retry_after) != 0)
            embedq_end(q, RAGD_ENOMEM, "cannot wait to retry an embeddings request");
    } else {
        if (status != RAGD_OK)
            mask_printf(msg, sizeof msg, q->svc->embed_key, "embedding request to %s failed "
                        "after %d attempts: %s", q->svc->embed_url, s->attempts, error);
        else
            embed_http_error(http_status, q->svc->embed_url, body, len, q->svc->embed_key, msg,
                             sizeof msg);
        embedq_end(q, RAGD_ERR, msg);
    }
    embedq_settle(q);
}

static void embedq_wait_done(evutil_socket_t fd, short what, void *arg)
{
    embedq_slot *s = arg;
    int rc;

    (void)fd;
    (void)what;
    s->waiting = 0;
    if ((rc = embedq_send(s)) != RAGD_OK)
        embedq_end(s->q, rc, "cannot send an embeddings request: out of memory");
    embedq_settle(s->q);
}

static void embedq_deliver(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    embedq_settle(arg);
}

/* Allocate q for n texts of svc: vectors, header, events.  NULL when out
 * of memory. */
static embedq *embedq_new(host_services *svc, size_t n)
{
    embedq *q = calloc(1, sizeof *q);
    size_t dims = svc->embed_dims;

    if (!q)
        return NULL;
    q->svc = svc;
    if (dims == 0 || n > SIZE_MAX / sizeof(float) / dims ||
        !(q->vecs = malloc(n * dims * sizeof(float))) ||
        !(q->deliver = evtimer_new(svc->base, embedq_deliver, q)))
        goto fail;
    if (svc->embed_key && *svc->embed_key) {
        if (!(q->auth = malloc(strlen(svc->embed_key) + sizeof "Authorization: Bearer ")))
            goto fail;
        strcpy(q->auth, "Authorization: Bearer ");
        strcat(q->auth, svc->embed_key);
    }
    for (size_t i = 0; i < EMBEDQ_INFLIGHT; i++) {
        q->slots[i].q = q;
        if (!(q->slots[i].wait = evtimer_new(svc->base, embedq_wait_done, &q->slots[i])))
            goto fail;
    }
    return q;
fail:
    embedq_free(q);
    return NULL;
}

int embedq_start(host_services *svc, const char *const *texts, size_t n, embedq_cb cb,
                 void *arg, embedq **out)
{
    embedq *q;
    int rc = RAGD_OK;

    assert(n > 0 && svc->embed_url && svc->embed_model);
    if (!(q = embedq_new(svc, n)))
        return RAGD_ENOMEM;
    q->texts = texts;
    q->n = q->left = n;
    q->cb = cb;
    q->arg = arg;
    for (size_t i = 0; i < EMBEDQ_INFLIGHT && rc == RAGD_OK; i++)
        rc = embedq_fill(&q->slots[i]);
    if (rc != RAGD_OK) {
        if (!embedq_busy(q)) {
            embedq_free(q);
            return rc;
        }
        /* Those sent call back later; the last of them answers. */
        embedq_end(q, rc, "cannot send an embeddings request: out of memory");
    }
    if (out)
        *out = q;
    return RAGD_OK;
}

void embedq_cancel(embedq *q)
{
    static const struct timeval now = {0, 0};

    embedq_end(q, RAGD_ECANCELED, "cancelled");
    if (!embedq_busy(q))
        evtimer_add(q->deliver, &now);
}
