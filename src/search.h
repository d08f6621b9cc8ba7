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

#include <stddef.h>

#include "config.h"
#include "conn.h"
#include "gen.h"
#include "instance.h"

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
    struct search *live;      /* searches not yet freed (this module's list) */
    size_t nlive;
} search_env;

/* Handle a /search request (GET or POST) that arrived on c (NULL when
 * untracked): answers now when the request is invalid, or later when the
 * search is done. */
void search_handle(search_env *env, struct evhttp_request *req, conn *c);

/* Handle POST /v1/chat/completions: the last user message is the query;
 * the reply is an OpenAI chat completion (or its stream) whose message is
 * the answer, plus the contexts it cites. */
void search_handle_chat(search_env *env, struct evhttp_request *req, conn *c);

/* End every live search of env with a 503 "shutting_down" (or an error
 * event).  A search whose generation is still in flight is freed when that
 * generation calls back. */
void search_cancel_all(search_env *env);

#endif /* RAGD_SEARCH_H */
