/*
 * batch -- one /search/batch request, top to bottom:
 *
 *   batch_handle     parse the batch; each item into an sreq or its error
 *   batch_pump       start items while the batch's concurrency and the
 *                    server's in-flight limit allow; answer when all are in
 *   batch_item_done  an item's document arrived (search_start_item)
 *   batch_expired    the batch's deadline: running items are withdrawn,
 *                    they and the unstarted ones get a timeout error
 *
 * The pump runs as an event of its own, never from inside a search's
 * callback: an item's completion only records its document and wakes the
 * pump, so no search is started or freed from inside another's writer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "access.h"
#include "batch.h"
#include "clock.h"
#include "log.h"
#include "reply.h"
#include "sreq.h"

typedef struct batch_item {
    struct batch *b;
    sreq q;                   /* parsed, until started */
    int waiting;              /* q is parsed and not started yet */
    struct search *s;         /* running: its done has not run */
    json_t *result;           /* the item's document, once known */
} batch_item;

typedef struct batch {
    batch_env *env;
    reply out;                /* the client's reply; watches its connection */
    batch_item *items;
    size_t n;
    size_t next;              /* items before it have been started or settled */
    size_t running, finished;
    int concurrency;
    int timeout_ms;
    int64_t t0_us;
    struct event *pump;
    struct event *deadline;
    struct batch *prev, *next_live;
} batch;

/* Batches being served on every loop, for /metrics. */
static atomic_size_t batch_all_live;

size_t batch_live_all(void)
{
    return atomic_load(&batch_all_live);
}

static json_t *batch_error(const char *code, const char *message)
{
    return json_pack("{s{ss ss}}", "error", "code", code, "message", message);
}

/* -------------------------------------------------------- lifecycle -- */

/* Withdraw every running item and free b (its reply has ended). */
static void batch_free(batch *b)
{
    batch_env *env = b->env;

    if (b->prev)
        b->prev->next_live = b->next_live;
    else
        env->live = b->next_live;
    if (b->next_live)
        b->next_live->prev = b->prev;
    env->nlive--;
    atomic_fetch_sub(&batch_all_live, 1);
    for (size_t i = 0; i < b->n; i++) {
        batch_item *it = &b->items[i];
        if (it->s)
            search_cancel_item(it->s);
        if (it->waiting)
            sreq_release(&it->q);
        json_decref(it->result);
    }
    if (b->pump)
        event_free(b->pump);
    if (b->deadline)
        event_free(b->deadline);
    reply_release(&b->out);
    free(b->items);
    free(b);
}

/* Every item is in: answer, in input order, and free b. */
static void batch_answer(batch *b)
{
    json_t *results = json_array();
    json_t *doc;

    for (size_t i = 0; i < b->n && results; i++) {
        json_t *r = b->items[i].result;
        if (!r || json_array_append(results, r) != 0) {
            json_decref(results);
            results = NULL;
        }
    }
    doc = results ? json_pack("{so s{sf}}", "results", results, "timing_ms", "total",
                              clock_report_ms(clock_us() - b->t0_us))
                  : NULL;
    reply_send_json(&b->out, 200, doc);
    batch_free(b);
}

/* ------------------------------------------------------------ items -- */

static void batch_item_done(void *arg, int status, json_t *doc)
{
    batch_item *it = arg;
    batch *b = it->b;
    const char *id = access_request_id(b->out.req);

    /* a failed item's document is its {"error": ...}; a search's carries
     * the batch's request id */
    if (doc && status == 200 && id)
        json_object_set_new(doc, "request_id", json_string(id));
    it->s = NULL;
    it->result = doc ? doc : batch_error("internal", "the result could not be built (out of memory)");
    b->running--;
    b->finished++;
    event_active(b->pump, EV_TIMEOUT, 0);
}

/* Whether a search may start now without passing --max-inflight. */
static int batch_room(const batch *b)
{
    const search_env *se = b->env->searches;

    return search_live_all() < (size_t)se->cfg->max_inflight;
}

static void batch_start(batch *b, batch_item *it)
{
    it->waiting = 0;
    if ((it->s = search_start_item(b->env->searches, &it->q, batch_item_done, it))) {
        b->running++;
        return;
    }
    it->result = batch_error("overloaded", "out of memory starting the search");
    b->finished++;
}

static void batch_pump(evutil_socket_t fd, short what, void *arg)
{
    batch *b = arg;

    (void)fd;
    (void)what;
    while (b->next < b->n && b->running < (size_t)b->concurrency) {
        batch_item *it = &b->items[b->next];
        if (it->waiting && !batch_room(b))
            break; /* woken again when a search is freed */
        if (it->waiting)
            batch_start(b, it);
        b->next++;
    }
    if (b->finished == b->n)
        batch_answer(b);
}

/* The deadline passed: whatever has not finished gets a timeout error. */
static void batch_expired(evutil_socket_t fd, short what, void *arg)
{
    batch *b = arg;
    char ran[128], queued[128];

    (void)fd;
    (void)what;
    snprintf(ran, sizeof ran, "the batch's deadline (%d ms) passed before this query finished",
             b->timeout_ms);
    snprintf(queued, sizeof queued, "the batch's deadline (%d ms) passed before this query started",
             b->timeout_ms);
    for (size_t i = 0; i < b->n; i++) {
        batch_item *it = &b->items[i];
        if (it->s) {
            search_cancel_item(it->s);
            it->s = NULL;
            it->result = batch_error("timeout", ran);
        } else if (it->waiting) {
            sreq_release(&it->q);
            it->waiting = 0;
            it->result = batch_error("timeout", queued);
        }
    }
    log_msg(LOG_INFO, "batch: deadline of %d ms passed with %zu of %zu queries finished",
            b->timeout_ms, b->finished, b->n);
    batch_answer(b);
}

/* ------------------------------------------------------ reply hooks -- */

static void batch_client_gone(void *arg, const char *why)
{
    batch *b = arg;

    log_msg(LOG_DEBUG, "batch: %s before the answer; cancelling %zu running queries", why,
            b->running);
    batch_free(b);
}

static int batch_pause(void *arg, int paused)
{
    (void)arg;
    (void)paused;
    return 0; /* the answer is one document, written whole */
}

static void batch_stalled(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* never paused, so never stalled */
}

static const reply_hooks batch_hooks = {batch_client_gone, batch_pause, batch_stalled};

/* ------------------------------------------------------------ parse -- */

/* Parse queries[i] into it: an sreq waiting to run, or its error. */
static void batch_parse_item(batch_item *it, json_t *v, const sreq_limits *lim)
{
    sreq_error e;

    if (!json_is_object(v))
        it->result = batch_error("invalid_field", "item: must be a search request object");
    else if (json_object_get(v, "stream"))
        it->result = batch_error("invalid_field",
                                 "stream: not available in a batch; each result comes whole");
    else if (sreq_from_object(&it->q, v, lim, &e) != 0)
        it->result = batch_error(e.code, e.message);
    else
        it->waiting = 1;
}

static int batch_int_field(json_t *root, const char *key, long min, long max, int *out,
                           sreq_error *e)
{
    json_t *v = json_object_get(root, key);

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return sreq_fail(e, 400, "invalid_field", "%s: must be an integer from %ld to %ld", key,
                         min, max);
    *out = (int)json_integer_value(v);
    return 0;
}

/* Check the batch's own fields into b; the items are parsed after. */
static int batch_parse(batch *b, json_t *root, sreq_error *e)
{
    const long max = b->env->searches->cfg->max_batch_queries;
    json_t *queries = json_object_get(root, "queries");
    const char *key;
    json_t *v;

    json_object_foreach(root, key, v)
        if (strcmp(key, "queries") && strcmp(key, "concurrency") && strcmp(key, "timeout_ms"))
            return sreq_fail(e, 400, "unknown_field", "%.64s: unknown field", key);
    if (!queries)
        return sreq_fail(e, 400, "missing_field", "queries: required");
    if (!json_is_array(queries) || json_array_size(queries) == 0)
        return sreq_fail(e, 400, "invalid_field", "queries: must be a non-empty array of search requests");
    if (json_array_size(queries) > (size_t)max)
        return sreq_fail(e, 400, "invalid_field", "queries: %zu queries, the limit is %ld",
                         json_array_size(queries), max);
    b->concurrency = BATCH_CONCURRENCY_DEFAULT;
    b->timeout_ms = CONFIG_MAX_TIMEOUT_MS;
    if (batch_int_field(root, "concurrency", 1, BATCH_CONCURRENCY_MAX, &b->concurrency, e) != 0 ||
        batch_int_field(root, "timeout_ms", 1, CONFIG_MAX_TIMEOUT_MS, &b->timeout_ms, e) != 0)
        return -1;
    b->n = json_array_size(queries);
    if (!(b->items = calloc(b->n, sizeof *b->items)))
        return sreq_fail(e, 503, "overloaded", "out of memory");
    return 0;
}

/* Parse every item of root's queries into b; settled ones are counted. */
static void batch_parse_items(batch *b, json_t *root)
{
    sreq_limits lim = search_limits(b->env->searches);
    json_t *queries = json_object_get(root, "queries");

    for (size_t i = 0; i < b->n; i++) {
        b->items[i].b = b;
        batch_parse_item(&b->items[i], json_array_get(queries, i), &lim);
        b->finished += !b->items[i].waiting;
    }
}

/* ------------------------------------------------------------ start -- */

static void batch_link(batch *b)
{
    batch_env *env = b->env;

    b->next_live = env->live;
    if (env->live)
        env->live->prev = b;
    env->live = b;
    env->nlive++;
    atomic_fetch_add(&batch_all_live, 1);
}

/* Take a parsed batch: watch its client, arm its deadline, start its
 * items.  Frees b (answering 503) when it cannot. */
static void batch_begin(batch *b, struct evhttp_request *req, conn *c)
{
    const search_env *se = b->env->searches;
    struct event_base *base = se->base;
    struct timeval tv = clock_timeval(b->timeout_ms);

    b->t0_us = clock_us();
    reply_init(&b->out, base, req, c, (size_t)se->cfg->max_output, se->cfg->idle_timeout_ms / 2,
               &batch_hooks, b);
    batch_link(b);
    if (!(b->pump = event_new(base, -1, 0, batch_pump, b)) ||
        !(b->deadline = evtimer_new(base, batch_expired, b)) || evtimer_add(b->deadline, &tv) != 0) {
        reply_send_error(&b->out, 503, "overloaded", "out of memory starting the batch");
        batch_free(b);
        return;
    }
    event_active(b->pump, EV_TIMEOUT, 0);
}

/* The body of a batch, held to max_batch_bytes rather than /search's
 * max_body: a thousand small queries are larger than one search may be.
 * Returns 0, or -1 with the 413 answered. */
static int batch_body(const batch_env *env, struct evhttp_request *req, const char **body,
                      size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t max = (size_t)env->searches->cfg->max_batch_bytes;
    char msg[128];

    *len = evbuffer_get_length(in);
    if (*len > max) {
        snprintf(msg, sizeof msg, "body: %zu bytes, the limit is %zu (max_batch_bytes)", *len, max);
        reply_error(req, 413, "body_too_large", msg);
        return -1;
    }
    *body = (const char *)evbuffer_pullup(in, -1);
    return 0;
}

void batch_handle(batch_env *env, struct evhttp_request *req, conn *c)
{
    batch *b = calloc(1, sizeof *b);
    const char *body;
    size_t len;
    json_t *root = NULL;
    sreq_error e;

    if (!b) {
        reply_error(req, 503, "overloaded", "out of memory");
        return;
    }
    b->env = env;
    if (batch_body(env, req, &body, &len) != 0)
        goto fail;
    if (sreq_load_body(body, len, &root, &e) != 0 || batch_parse(b, root, &e) != 0) {
        reply_error(req, e.status, e.code, e.message);
        goto fail;
    }
    batch_parse_items(b, root);
    json_decref(root);
    batch_begin(b, req, c);
    return;
fail:
    json_decref(root);
    free(b->items);
    free(b);
}

/* ------------------------------------------------------------- env -- */

/* A search was freed: batches waiting for room may start an item. */
static void batch_env_freed(void *arg)
{
    batch_env *env = arg;

    for (batch *b = env->live; b; b = b->next_live)
        if (b->next < b->n && b->running < (size_t)b->concurrency)
            event_active(b->pump, EV_TIMEOUT, 0);
}

void batch_env_init(batch_env *env, search_env *searches)
{
    *env = (batch_env){searches, NULL, 0};
    searches->freed = batch_env_freed;
    searches->freed_arg = env;
}

void batch_cancel_all(batch_env *env)
{
    while (env->live) {
        batch *b = env->live;
        reply_send_error(&b->out, 503, "shutting_down", "the server is shutting down");
        batch_free(b);
    }
}
