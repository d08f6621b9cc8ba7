/*
 * search -- one /search or /v1/chat/completions request from arrival to
 * answer: parse, fan out to the sources, fuse, generate, write.
 *
 * The server routes a request here and keeps a search_env for its searches;
 * nothing in this module calls back up into the server.  A search is on its
 * env's live list from the moment it is accepted until it is freed, which
 * happens once nothing can call back into it (see search.c).
 */
#ifndef RAGD_SEARCH_H
#define RAGD_SEARCH_H

#include <stdatomic.h>
#include <stddef.h>

#include "config.h"
#include "conn.h"
#include "gen.h"
#include "instance.h"
#include "sreq.h"

struct event_base;
struct evhttp_request;
struct search;

/* What every search of a server shares.  The server owns it; everything it
 * points to is borrowed and outlives every search. */
typedef struct search_env {
    struct event_base *base;
    const config *cfg;
    instance_set *sources;
    const char **names;       /* the instances' names, for request validation */
    const gen_env *gen;
    struct cache *cache;      /* the result cache, or NULL when off */
    struct search *live;      /* searches not yet freed (this module's list) */
    atomic_size_t nlive;      /* read by the other loops (admission, metrics) */
    /* Told each time a search is freed, so whoever waits for room under
     * --max-inflight can look again (may be NULL).  Called from inside this
     * module: it may schedule work, never start or end a search. */
    void (*freed)(void *arg);
    void *freed_arg;
} search_env;

/* Searches not yet freed, on every loop of the process. */
size_t search_live_all(void);

/* The limits every search request of env is parsed under. */
sreq_limits search_limits(const search_env *env);

/* Handle a /search request (GET or POST) that arrived on c (NULL when
 * untracked): answers now when the request is invalid, or later when the
 * search is done. */
void search_handle(search_env *env, struct evhttp_request *req, conn *c);

/* Handle POST /v1/chat/completions: the last user message is the query;
 * the reply is an OpenAI chat completion (or its stream) whose message is
 * the answer, plus the contexts it cites. */
void search_handle_chat(search_env *env, struct evhttp_request *req, conn *c);

/* Where a search started by search_start_item delivers its /search
 * document (or its {"error": ...} document, with the status /search would
 * have answered): doc is a new reference the callee owns, NULL when it
 * could not be built. */
typedef void (*search_item_cb)(void *arg, int status, json_t *doc);

/* Start a search for the parsed request q (its stream field is ignored),
 * one item of a batch: it runs like a /search, counts as live, and instead
 * of answering a client calls done(arg, ...) exactly once, later, on the
 * loop thread, from inside this module (done must not end the search).
 * Takes over what q owns, whatever happens.  Returns the search, valid
 * until done runs or search_cancel_item; or NULL (out of memory) and done
 * never runs. */
struct search *search_start_item(search_env *env, sreq *q, search_item_cb done, void *arg);

/* Withdraw an item whose done has not run: it stops, is freed once nothing
 * can call back into it, and done never runs. */
void search_cancel_item(struct search *s);

/* End every live search of env with a 503 "shutting_down" (or an error
 * event).  A search whose generation is still in flight is freed when that
 * generation calls back. */
void search_cancel_all(search_env *env);

#endif /* RAGD_SEARCH_H */
