/*
 * batch -- POST /search/batch: many independent searches in one request,
 * run concurrently, each answered with its /search document or its own
 * error, in input order (schemas/batch-request.schema.json,
 * schemas/batch-response.schema.json).
 *
 * A batch item is an ordinary search (search_start_item) whose reply
 * collects its document instead of answering a client, so an item behaves
 * exactly like the /search it stands for.  Items share the server's
 * admission limit with single searches: each running item is a live search
 * counted against --max-inflight, and an item that finds no room waits in
 * its batch's own queue (bounded by --max-batch-queries) until a search is
 * freed, rather than being refused or queued globally.
 *
 * Ownership: the server owns the batch_env; each batch is on its env's live
 * list from acceptance until it has answered (or its client left) and is
 * freed, which withdraws any item still running.
 */
#ifndef RAGD_BATCH_H
#define RAGD_BATCH_H

#include <stdatomic.h>
#include <stddef.h>

#include "conn.h"
#include "search.h"

struct evhttp_request;
struct batch;

#define BATCH_CONCURRENCY_DEFAULT 8
#define BATCH_CONCURRENCY_MAX 64

/* What every batch of a server shares.  searches is borrowed and outlives
 * the env. */
typedef struct batch_env {
    search_env *searches;
    struct batch *live;       /* batches not yet freed (this module's list) */
    atomic_size_t nlive;      /* read by the other loops (admission, metrics) */
} batch_env;

/* Batches being served on every loop; any thread. */
size_t batch_live_all(void);

/* Set up env over searches, whose freed hook it takes: a freed search may
 * make room for a waiting item. */
void batch_env_init(batch_env *env, search_env *searches);

/* Handle POST /search/batch that arrived on c (NULL when untracked):
 * answers a malformed batch now with a 400 naming the field, or later with
 * 200 and every item's result. */
void batch_handle(batch_env *env, struct evhttp_request *req, conn *c);

/* End every live batch with a 503 "shutting_down", withdrawing its running
 * items.  Called before search_cancel_all, so no item is restarted. */
void batch_cancel_all(batch_env *env);

#endif /* RAGD_BATCH_H */
