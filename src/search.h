/*
 * search -- the lifecycle of one /search request: validate, fan out to the
 * sources, fuse, answer, free.
 *
 * A search is owned by the server's live list from the moment it is accepted
 * until it is answered or its client leaves, and freed once nothing can call
 * back into it (see search.c).
 */
#ifndef RAGD_SEARCH_H
#define RAGD_SEARCH_H

#include "server.h"

struct evhttp_request;

/* Handle a /search request (GET or POST) that arrived on c (NULL when
 * untracked): answers now when the request is invalid, or later when the
 * fan-out settles. */
void search_handle(server *srv, struct evhttp_request *req, conn *c);

/* Handle POST /v1/chat/completions: the last user message is the query;
 * the reply is an OpenAI chat completion (or its stream) whose message is
 * the answer, plus the contexts it cites. */
void search_handle_chat(server *srv, struct evhttp_request *req, conn *c);

/* Cancel every live search of srv, answering each 503 (shutdown). */
void search_cancel_all(server *srv);

#endif /* RAGD_SEARCH_H */
