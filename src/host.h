/*
 * host -- the services ragd lends to every source instance, packaged as the
 * ragd_host table of <ragd/source.h>: loop, HTTP client, worker pool, query
 * embedder, logger and config readers.
 *
 * One host_services is shared by all instances; each instance gets its own
 * ragd_host (so its log lines carry its name) pointing at a host_ctx.
 */
#ifndef RAGD_HOST_H
#define RAGD_HOST_H

#include <ragd/source.h>

#include "hedge.h"
#include "httpc.h"
#include "pool.h"

struct event_base;

typedef struct host_services {
    struct event_base *base;
    httpc *http;
    pool *pool;
    char embedder[32];   /* "hash" or "openai" */
    size_t embed_dims;
    char *embed_url;     /* openai only: the /embeddings endpoint (owned) */
    char *embed_model;   /* openai only (owned) */
    char *embed_key;     /* openai only: from RAGD_EMBED_API_KEY (owned, never logged) */
} host_services;

/* An instance's identity as the host sees it.  Owned by the caller; must
 * outlive every ragd_host initialised from it. */
typedef struct host_ctx {
    host_services *svc;
    const char *name;
    hedge *hg;          /* the instance's hedging of HTTP requests, or NULL */
} host_ctx;

/* This thread's event loop and HTTP client: the host calls a source makes
 * on this thread use them, so their callbacks come back to it.  Unbound,
 * a thread uses svc->base and svc->http (the main loop's).  serve.c binds
 * each loop thread once, before it runs. */
void host_bind_loop(struct event_base *base, httpc *http);

/* The search whose HTTP requests a source starts on this thread until
 * host_tag_end: a hedge that wins one of them tells won(tag) (fanout.c). */
void host_tag_begin(hedge_won_fn won, uintptr_t tag);
void host_tag_end(void);

/* Fill h with the host's functions for the instance described by ctx. */
void host_init(ragd_host *h, host_ctx *ctx);

/* Choose the query embedder from the store's meta (embedder, embed_dims,
 * embed_model, embed_url); embed_url, when not NULL, overrides the stored
 * URL.  A NULL db_path means the built-in hash embedder.  Returns 0, or -1
 * with a message in err. */
int host_embedder_from_store(host_services *svc, const char *db_path, const char *embed_url,
                             char *err, size_t errlen);

/* Free what svc owns of the embedder settings. */
void host_services_release(host_services *svc);

#endif /* RAGD_HOST_H */
