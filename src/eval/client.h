/*
 * client -- many POSTs to ragd's /search at once, for rag-eval.
 *
 * One libcurl multi handle, at most `concurrency` transfers in flight, a
 * plain poll loop: the requests are independent and the work per answer is
 * small, so threads would buy nothing.  Connections are reused by the multi
 * handle's connection cache.
 */
#ifndef RAGD_EVAL_CLIENT_H
#define RAGD_EVAL_CLIENT_H

#include <stddef.h>

/* How one request ended: status is the HTTP status, or 0 when no answer
 * came (err says why). */
typedef struct eval_client_resp {
    long status;
    const char *body; /* NUL-terminated */
    size_t len;
    const char *err;
    int last; /* no retry follows if this one is rejected */
} eval_client_resp;

/* Request i's JSON body, malloc'd (the client frees it); NULL: out of memory. */
typedef char *(*eval_client_body_fn)(void *ctx, size_t i);

/*
 * Request i ended.  Return 0 to accept it, -1 to reject it (HTTP error,
 * unusable body); a rejected first attempt is retried once, so a callback
 * seeing r->last must record the failure itself before returning -1.
 */
typedef int (*eval_client_done_fn)(void *ctx, size_t i, const eval_client_resp *r);

typedef struct eval_client {
    const char *url;      /* the full endpoint, e.g. http://h:p/search */
    size_t concurrency;   /* >= 1 */
    long timeout_ms;      /* per attempt */
    int progress;         /* draw "done/total, rate" on stderr */
    eval_client_body_fn body;
    eval_client_done_fn done;
    void *ctx;
} eval_client;

/*
 * POST requests 0..n-1 to c->url, calling c->done for each as it ends (in
 * completion order).  Returns 0 when every request was run (whatever their
 * outcome), -1 when the client itself failed (out of memory, libcurl setup;
 * printed to stderr).  curl_global_init must have been called.
 */
int eval_client_run(const eval_client *c, size_t n);

#endif /* RAGD_EVAL_CLIENT_H */
