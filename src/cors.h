/*
 * cors -- Cross-Origin Resource Sharing, so a browser page on an allowed
 * origin may call ragd (search, SSE streams, chat) with its API key.
 *
 * Not an access control: a browser enforces CORS, any other client ignores
 * it, and API keys (auth.h) stay the only gate.  With no origins configured
 * (the default) ragd sends no CORS headers at all and a browser refuses
 * every cross-origin reply.
 */
#ifndef RAGD_CORS_H
#define RAGD_CORS_H

#include <jansson.h>

struct evhttp_request;

/* How long a browser may cache a preflight's answer, in seconds. */
#define CORS_MAX_AGE "600"

/*
 * Called first for every request, before any reply: when its Origin is in
 * origins (an array of strings, borrowed; "*" matches any origin; NULL or
 * empty matches none), add Access-Control-Allow-Origin (the origin itself)
 * and Vary: Origin to its reply headers.  An OPTIONS request from an
 * allowed origin is a preflight and is answered here, 204 with the methods,
 * headers and max age allowed.
 *
 * Returns 1 when the request has been answered (the caller does nothing
 * more with it), else 0.
 */
int cors_apply(const json_t *origins, struct evhttp_request *req);

#endif /* RAGD_CORS_H */
