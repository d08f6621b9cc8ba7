/*
 * search -- one request, top to bottom:
 *
 *   search_handle / search_handle_chat   parse into an sreq (a parsed search
 *                                        request) and pick the writer
 *   search_start_item                    or take a parsed sreq, one item of a
 *                                        batch (batch.c): writer_json into a
 *                                        reply that collects the document
 *   search_begin                         answer from the result cache
 *                                        (cache.c), or fan out to the
 *                                        sources (fanout.c)
 *   search_settled                       each source, as it settles
 *   search_retrieved                     fuse (fuse.c): typed hits, best first
 *   search_generate / search_generated   generate the answer (gen.c)
 *   search_complete                      the writer writes the rest; freed
 *
 * Every byte of output goes through the request's writer (writer.h), which
 * makes the JSON; this file never asks which format the client wanted.
 *
 * Ownership: a search is on its env's live list from acceptance until it
 * is freed, which happens exactly once, in search_release, when both are
 * true: the search has ended (answered, or its client left) and no
 * generation is in flight (a cancelled generation still calls back, and
 * that callback needs the search).  The reply stops watching the
 * connection before the last bytes are written, so a close can never reach
 * a freed search.  The fused hits point into the fan-out's slots, which the
 * search keeps until it is freed: hits are copied once, by the fan-out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include "access.h"
#include "cache.h"
#include "chat.h"
#include "clock.h"
#include "coalesce.h"
#include "fanout.h"
#include "fuse.h"
#include "gen.h"
#include "log.h"
#include "obs.h"
#include "reply.h"
#include "search.h"
#include "sreq.h"
#include "writer.h"

typedef struct search {
    search_env *env;
    sreq q;                           /* the parsed request */
    const writer *w;                  /* the client's output format */
    char *model;                      /* the model a chat client named (owned) */
    char id[CHAT_ID_SIZE];            /* the chat completion's id; "" for /search */
    reply out;
    int ended;                        /* answered, or the client left */
    int64_t t0_us;
    coalesce_member cm;               /* its fan-out, maybe shared: owns the sources' hits
                                       * until the search is freed */
    fuse_hit *hits;                   /* fused contexts, pointing into f's slots */
    size_t nhits;
    int partial;
    double retrieval_ms;
    int64_t gen_t0_us;                /* when generation started */
    access_rec *acc;                  /* the request's access record until it ends, or NULL */
    char *key;                        /* coalescing and cache key (owned), or NULL */
    char *cached;                     /* the result cache's document for key (owned,
                                       * a copy) while the search answers from it, or NULL */
    gen *generation;                  /* in flight; NULL once it called back */
    const gen_result *gen;            /* during search_generated only */
    struct search *prev, *next;       /* env->live */
} search;

/* Live searches of every loop: admission (--max-inflight) is the
 * process's, whichever loop a request lands on. */
static atomic_size_t search_all_live;

size_t search_live_all(void)
{
    return atomic_load(&search_all_live);
}

/* -------------------------------------------------------- lifecycle -- */

static void search_link(search *s)
{
    search_env *env = s->env;

    s->next = env->live;
    if (env->live)
        env->live->prev = s;
    env->live = s;
    env->nlive++;
    atomic_fetch_add(&search_all_live, 1);
}

/* Free s once it has ended and nothing will call back into it. */
static void search_release(search *s)
{
    search_env *env = s->env;

    if (!s->ended || s->generation)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        env->live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    env->nlive--;
    atomic_fetch_sub(&search_all_live, 1);
    free(s->hits);
    free(s->key);
    free(s->cached);
    coalesce_leave(&s->cm);
    sreq_release(&s->q);
    free(s->model);
    reply_release(&s->out);
    free(s);
    if (env->freed)
        env->freed(env->freed_arg);
}

/* End the search: stop retrieval and generation, then free when safe. */
static void search_end(search *s)
{
    reply_detach(&s->out);
    s->ended = 1;
    s->acc = NULL; /* the connection may close, and free it, from now on */
    coalesce_leave(&s->cm);
    if (s->generation)
        gen_cancel(s->generation);
    search_release(s);
}

/* What the writer sees of s. */
static writer_data search_data(const search *s)
{
    fanout *f = coalesce_fanout(&s->cm);
    size_t nslots = 0;
    fanout_slot *const *slots = f ? fanout_slots(f, &nslots) : NULL;

    return (writer_data){s->q.query, s->model, s->t0_us, slots, nslots, s->hits, s->nhits,
                         s->partial, s->retrieval_ms, s->gen, s->cm.follower,
                         s->id[0] ? s->id : NULL, s->cached};
}

/* Answer an error in the request's format and end the search. */
static void search_fail(search *s, int status, const char *code, const char *message)
{
    writer_data d = search_data(s);

    reply_detach(&s->out);
    s->w->fail(&s->out, &d, status, code, message);
    search_end(s);
}

/* Whether s's answer may be kept in the result cache: a JSON document with
 * a key, not itself from the cache, and every source asked answered (or
 * was disabled) -- a failure, timeout or open circuit is not kept. */
static int search_cacheable(const search *s)
{
    fanout *f = coalesce_fanout(&s->cm);
    size_t n = 0;
    fanout_slot *const *slots = f ? fanout_slots(f, &n) : NULL;

    if (!s->env->cache || !s->key || s->cached || !f || s->cm.follower)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (slots[i]->state != FANOUT_OK && slots[i]->state != FANOUT_DISABLED)
            return 0;
    return 1;
}

/* Everything is known: the writer writes the rest, and the search ends. */
static void search_complete(search *s)
{
    writer_data d = search_data(s);

    if (search_cacheable(s)) {
        char *text = writer_json_stored(&d);
        if (text)
            cache_put(s->env->cache, s->key, text, clock_ms());
        free(text);
    }
    reply_detach(&s->out);
    s->w->done(&s->out, &d);
    search_end(s);
}

/* ------------------------------------------------- reply hooks -- */

static void search_client_gone(void *arg, const char *why)
{
    log_msg(LOG_DEBUG, "search: %s before the answer; cancelling the search", why);
    search_end(arg);
}

static int search_pause(void *arg, int paused)
{
    search *s = arg;

    if (!s->generation)
        return 0;
    gen_pause(s->generation, paused);
    return 1;
}

static void search_stalled(void *arg, const char *msg)
{
    search_fail(arg, 0, "client_too_slow", msg);
}

static const reply_hooks search_hooks = {search_client_gone, search_pause, search_stalled};

/* ------------------------------------------------------ generation -- */

static int search_token(void *arg, const char *piece, size_t len)
{
    search *s = arg;
    writer_data d;

    if (!reply_open(&s->out))
        return 1;
    d = search_data(s);
    if (s->w->token)
        s->w->token(&s->out, &d, piece, len);
    return 0;
}

static void search_generated(void *arg, const gen_result *r)
{
    search *s = arg;

    s->generation = NULL;
    metrics_observe(obs.stage_latency, (double)(clock_us() - s->gen_t0_us) / 1e6, "generation");
    if (s->ended) {
        search_release(s); /* the client left; this was the last callback */
        return;
    }
    s->gen = r;
    search_complete(s);
}

static void search_generate(search *s)
{
    static const gen_callbacks cbs = {search_token, search_generated};
    const search_env *env = s->env;
    int rc;

    s->gen_t0_us = clock_us();
    rc = gen_start(env->gen, s->q.query, s->hits, s->nhits, s->w->streams,
                       clock_ms() + env->cfg->llm_timeout_ms, &cbs, s, &s->generation);

    if (rc != RAGD_OK) {
        gen_result r = {.status = RAGD_ERR, .generator = env->gen->llm ? "llm" : "extractive",
                        .error = "generation could not start"};
        search_generated(s, &r);
    }
}

/* ------------------------------------------------------- retrieval -- */

/* A source settled: a streaming writer says so at once.  This may run inside
 * fanout_start, before s->f is set, so nothing here may end the search:
 * writing an event can only ask to pause a generation, and there is none
 * yet. */
static void search_settled(void *arg, const fanout_slot *sl)
{
    search *s = arg;
    writer_data d = search_data(s);
    const char *status = fanout_state_name(sl->state);
    double secs = (double)(sl->end_us - sl->start_us) / 1e6;

    metrics_add(obs.source_calls, 1, sl->inst->name, status);
    if (sl->state == FANOUT_OK || sl->state == FANOUT_ERROR || sl->state == FANOUT_TIMEOUT)
        metrics_observe(obs.source_latency, secs, sl->inst->name);
    access_note_source(s->acc, sl->inst->name, status, secs * 1e3);
    if (s->w->source)
        s->w->source(&s->out, &d, sl);
}

/* Fuse what the sources answered in f into s->hits. */
static int search_fuse(search *s, fanout *f)
{
    size_t n, nl = 0;
    fanout_slot *const *slots = fanout_slots(f, &n);
    fuse_list *lists = calloc(n + 1, sizeof *lists);
    int rc;

    if (!lists)
        return -1;
    for (size_t i = 0; i < n; i++) {
        s->partial |= slots[i]->state == FANOUT_ERROR || slots[i]->state == FANOUT_TIMEOUT;
        if (slots[i]->state == FANOUT_OK && slots[i]->nhits > 0)
            lists[nl++] = (fuse_list){slots[i]->hits, slots[i]->nhits, slots[i]->inst->weight,
                                      slots[i]->inst->name};
    }
    rc = fuse_rrf(lists, nl, (size_t)s->q.k, &s->hits, &s->nhits);
    free(lists);
    return rc;
}

static void search_retrieved(void *arg, fanout *f)
{
    search *s = arg;
    writer_data d;
    int64_t fuse_t0_us = clock_us();

    s->retrieval_ms = clock_report_ms(fanout_elapsed_us(f));
    metrics_observe(obs.stage_latency, (double)fanout_elapsed_us(f) / 1e6, "retrieval");
    if (search_fuse(s, f) != 0) {
        search_fail(s, 500, "internal", "out of memory building the response");
        return;
    }
    metrics_observe(obs.stage_latency, (double)(clock_us() - fuse_t0_us) / 1e6, "fusion");
    d = search_data(s);
    if (s->w->contexts)
        s->w->contexts(&s->out, &d);
    if (s->q.generate)
        search_generate(s);
    else
        search_complete(s);
}

/* The instances a request asked for: all, or the named ones in order.
 * Returns how many, or 0 with *missing naming one that is gone (a config
 * reload removed it after the request was parsed). */
static size_t search_select(const search_env *env, const sreq *q, instance **out,
                            const char **missing)
{
    size_t n = 0;

    if (q->nsources == 0) {
        for (size_t i = 0; i < env->sources->n; i++)
            out[n++] = env->sources->v[i];
        return n;
    }
    for (size_t i = 0; i < q->nsources; i++)
        if (!(out[n++] = instance_set_find(env->sources, q->sources[i]))) {
            *missing = q->sources[i];
            return 0;
        }
    return n;
}

/* The query with its ends trimmed and every run of white space made one
 * space (owned by the caller), as requests are compared for coalescing. */
static char *search_normalise(const char *q)
{
    char *out = malloc(strlen(q) + 1), *o = out;

    if (!out)
        return NULL;
    for (; *q; q++) {
        if (!strchr(" \t\n\r\f\v", *q))
            *o++ = *q;
        else if (o > out && o[-1] != ' ')
            *o++ = ' ';
    }
    if (o > out && o[-1] == ' ')
        o--;
    *o = '\0';
    return out;
}

/* The coalescing key of s (owned by the caller): its normalised query, k,
 * sources, filter (canonical JSON) and deadline, or NULL when s must have a
 * fan-out of its own (it streams, generates, or memory ran out). */
static char *search_key(const search *s, int timeout_ms)
{
    char *norm = NULL, *flt = NULL, *key = NULL;
    json_t *arr = NULL, *names = json_array();

    if (s->w != &writer_json || s->q.generate || s->q.stream || s->model || !names)
        goto done;
    for (size_t i = 0; i < s->q.nsources; i++)
        json_array_append_new(names, json_string(s->q.sources[i]));
    if (!(norm = search_normalise(s->q.query)))
        goto done;
    if (s->q.filter &&
        !(flt = json_dumps(filter_json(s->q.filter), JSON_COMPACT | JSON_SORT_KEYS)))
        goto done;
    arr = json_pack("[s i O s* i]", norm, s->q.k, names, flt, timeout_ms);
    if (arr)
        key = json_dumps(arr, JSON_COMPACT);
done:
    json_decref(arr);
    json_decref(names);
    free(norm);
    free(flt);
    return key;
}

/* Answer s from the cached document text and end it: each source it would
 * have asked (sel, n) counts as "cached". */
static void search_answer_cached(search *s, instance *const *sel, size_t n, char *text)
{
    metrics_add(obs.cache_hits, 1);
    access_note_cached(s->acc);
    for (size_t i = 0; i < n; i++) {
        metrics_add(obs.source_calls, 1, sel[i]->name, "cached");
        access_note_source(s->acc, sel[i]->name, "cached", 0.0);
    }
    s->cached = text;
    search_complete(s);
}

/* Start retrieval for a parsed, linked search: answer it now from the
 * result cache when may_answer and the cache has it, or join an identical
 * search's fan-out in flight, or start one.  Returns 0 (s may have been
 * freed), or -1 when the fan-out could not start (out of memory): nothing
 * was sent. */
static int search_begin(search *s, int may_answer)
{
    search_env *env = s->env;
    instance **sel = calloc(env->sources->n + 1, sizeof *sel);
    int timeout = s->q.timeout_ms ? s->q.timeout_ms : env->cfg->timeout_ms;
    writer_data d = search_data(s);
    const char *missing = NULL;
    char *text;
    size_t n = sel ? search_select(env, &s->q, sel, &missing) : 0;
    char msg[96];
    int rc = -1;

    if (missing) {
        snprintf(msg, sizeof msg, "sources: unknown source \"%s\" (removed by a config reload)",
                 missing);
        free(sel);
        search_fail(s, 400, "unknown_source", msg);
        return 0;
    }
    s->key = search_key(s, timeout);
    if (may_answer && sel && s->key && env->cache) {
        if ((text = cache_get(env->cache, s->key, clock_ms()))) {
            search_answer_cached(s, sel, n, text);
            free(sel);
            return 0;
        }
        metrics_add(obs.cache_misses, 1);
    }
    if (s->w->start)
        s->w->start(&s->out, &d); /* first: sources may settle inside fanout_start */
    s->cm.settled = search_settled;
    s->cm.done = search_retrieved;
    s->cm.arg = s;
    if (sel)
        rc = coalesce_join(&s->cm, s->key, env->base, sel, n, s->q.query, s->q.filter, s->q.k,
                           clock_ms() + timeout);
    if (rc == 0 && s->cm.follower)
        access_note_coalesced(s->acc);
    free(sel);
    return rc;
}

/* ------------------------------------------------------------ start -- */

sreq_limits search_limits(const search_env *env)
{
    return (sreq_limits){env->cfg->max_query, CONFIG_MAX_TIMEOUT_MS, env->names,
                         env->sources->n, (int)env->cfg->max_k};
}

/* The body of req in *body (NULL when empty) and *len, borrowed from req;
 * or -1 with the 413 answered. */
static int search_body(const search_env *env, struct evhttp_request *req, const char **body,
                       size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    char msg[96];

    *len = evbuffer_get_length(in);
    if (*len > env->cfg->max_body) {
        snprintf(msg, sizeof msg, "body: %zu bytes, the limit is %zu", *len, env->cfg->max_body);
        reply_error(req, 413, "body_too_large", msg);
        return -1;
    }
    *body = (const char *)evbuffer_pullup(in, -1);
    return 0;
}

/* Parse a /search request into q, or answer the error and return -1. */
static int search_parse(const search_env *env, struct evhttp_request *req, sreq *q)
{
    sreq_limits lim = search_limits(env);
    const char *body;
    size_t len;
    sreq_error e;

    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        if (sreq_from_query(q, evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)), &lim,
                            &e) == 0)
            return 0;
    } else if (search_body(env, req, &body, &len) != 0) {
        return -1;
    } else if (sreq_from_json(q, body, len, &lim, &e) == 0) {
        return 0;
    }
    reply_error(req, e.status, e.code, e.message);
    return -1;
}

static int search_wants_events(struct evhttp_request *req)
{
    const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
    return accept && strstr(accept, "text/event-stream") != NULL;
}

/* Take a parsed request: link it, set up its reply and start retrieval.
 * Takes over what q and model own, whatever happens. */
static void search_start(search_env *env, struct evhttp_request *req, conn *c, sreq *q,
                         char *model, const writer *w)
{
    search *s = calloc(1, sizeof *s);

    if (!s) {
        sreq_release(q);
        free(model);
        reply_error(req, 503, "overloaded", "out of memory");
        return;
    }
    s->env = env;
    s->q = *q;
    s->model = model;
    s->w = w;
    if (w == &writer_chat || w == &writer_chat_sse)
        chat_new_id(s->id);
    s->t0_us = clock_us();
    s->acc = conn_access(c);
    access_note_query(s->acc, s->q.query);
    reply_init(&s->out, env->base, req, c, (size_t)env->cfg->max_output,
               env->cfg->idle_timeout_ms / 2, &search_hooks, s);
    search_link(s);
    if (search_begin(s, 1) != 0)
        search_fail(s, 503, "overloaded", "out of memory starting the search");
}

search *search_start_item(search_env *env, sreq *q, search_item_cb done, void *arg)
{
    search *s = calloc(1, sizeof *s);

    if (!s) {
        sreq_release(q);
        return NULL;
    }
    s->env = env;
    s->q = *q;
    s->q.stream = 0;
    s->w = &writer_json;
    s->t0_us = clock_us();
    reply_init_collect(&s->out, env->base, done, arg);
    search_link(s);
    if (search_begin(s, 0) == 0)
        return s;
    s->out.collect = NULL; /* nothing was written: the caller hears of it now */
    search_end(s);
    return NULL;
}

void search_cancel_item(search *s)
{
    search_end(s);
}

void search_handle(search_env *env, struct evhttp_request *req, conn *c)
{
    sreq q = {0};

    if (search_parse(env, req, &q) != 0) {
        sreq_release(&q);
        return;
    }
    search_start(env, req, c, &q, NULL,
                 q.stream || search_wants_events(req) ? &writer_events : &writer_json);
}

void search_handle_chat(search_env *env, struct evhttp_request *req, conn *c)
{
    sreq_limits lim = search_limits(env);
    chat_req chat = {0};
    const char *body;
    size_t len;
    sreq_error e;

    if (search_body(env, req, &body, &len) != 0)
        return;
    if (chat_from_json(&chat, body, len, &lim, &e) != 0) {
        chat_release(&chat);
        reply_error(req, e.status, e.code, e.message);
        return;
    }
    search_start(env, req, c, &chat.q, chat.model, chat.stream ? &writer_chat_sse : &writer_chat);
}

void search_cancel_all(search_env *env)
{
    for (search *s = env->live, *next; s; s = next) {
        next = s->next;
        if (!s->ended)
            search_fail(s, 503, "shutting_down", "the server is shutting down");
    }
}
