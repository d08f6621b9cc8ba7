/*
 * docs -- the documents and jobs endpoints: POST /documents,
 * GET|DELETE /documents/<id>, GET /jobs, GET|DELETE /jobs/<id>.
 *
 * Every store access runs on the worker pool (the store handles of
 * job.h); the loop only parses, routes and replies.  A POST is answered
 * 202 once its job and payload are committed, before any chunking or
 * embedding: the job runner (job.h) does that in the background.
 *
 * Ownership: the server owns the docs_env and calls docs_handle for every
 * request on these paths; docs borrows the job env.  An answer that comes
 * back after its client left is dropped (reply.h).
 */
#ifndef RAGD_DOCS_H
#define RAGD_DOCS_H

#include <stdatomic.h>
#include <stddef.h>

#include "conn.h"
#include "job.h"

struct evhttp_request;
struct event_base;

/* How many jobs GET /jobs lists at most. */
#define DOCS_MAX_LIST 100

typedef struct docs_env {
    struct event_base *base;
    struct event_base *main; /* the main loop's, where the job runner and the
                              * store's subscribers live; == base there */
    pool *pool;
    job_env *jobs;     /* NULL when ragd serves no store: every route 404s */
    size_t max_body;   /* largest POST /documents body */
    size_t max_output;
    long stall_ms;
    atomic_uint live;  /* requests whose store work is in flight (read by any loop) */
} docs_env;

/* Document requests whose store work is in flight, on every loop. */
size_t docs_live_all(void);

/* Whether path is one of these endpoints. */
int docs_owns(const char *path);

/* Answer req (path owned by docs), which arrived on c. */
void docs_handle(docs_env *env, struct evhttp_request *req, conn *c);

#endif /* RAGD_DOCS_H */
