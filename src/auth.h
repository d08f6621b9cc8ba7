/*
 * auth -- who may call what: API keys from a private JSON file
 * (--api-keys FILE, or api_keys_file in the config file), each with scopes,
 * presented as "Authorization: Bearer <key>".
 *
 *   search  /search, /search/batch, /v1/chat/completions
 *   write   the document and job endpoints
 *   admin   operations endpoints: GET /metrics, unless ragd listens on a
 *           loopback address (then it is open); on any other address with
 *           no keys configured it is refused (403)
 *
 * With no keys configured, search is open and write is allowed only when
 * ragd listens on a loopback address (its own listen address, not the
 * peer's: behind a proxy every peer looks local).  /healthz is always open:
 * its routes simply never call auth_check.
 *
 * Keys are compared in constant time and never logged, nor echoed in a
 * message.  Not for: rate limits, per-key quotas, key rotation while
 * running (restart to reload the file).
 *
 * How a route uses it: after its method check and before any other work,
 *
 *     if (auth_check(srv->auth, req, AUTH_WRITE) != 0)
 *         return;   (the 401 or 403 has been answered)
 *
 * Ownership: the server owns its auth (auth_load / auth_free); routes
 * borrow it.
 */
#ifndef RAGD_AUTH_H
#define RAGD_AUTH_H

#include <stddef.h>

struct evhttp_request;
struct sockaddr;

typedef enum auth_scope {
    AUTH_SEARCH = 1 << 0,
    AUTH_WRITE = 1 << 1,
    AUTH_ADMIN = 1 << 2,
} auth_scope;

typedef struct auth auth;

/* The keys of the file at path, or none when path is NULL.  The file must
 * not be readable by group or others.  Returns 0 with *out, or -1 with a
 * message in err naming the file and, when malformed, the entry and field
 * ("keys[2].scopes[0]: ..."); a key's value never appears in it. */
int auth_load(auth **out, const char *path, char *err, size_t errlen);

/* The same from the file's text (what auth_load reads): for tests, and
 * whatever else holds keys in memory.  Same contract. */
int auth_parse(auth **out, const char *text, size_t len, char *err, size_t errlen);

/* Say whether ragd listens on a loopback address (the address it bound),
 * which decides the write scope when no keys are configured. */
void auth_set_listen(auth *a, const struct sockaddr *bound);

/* Whether ragd listens on a loopback address (as auth_set_listen said):
 * GET /metrics is then open to all, keys or not. */
int auth_listens_loopback(const auth *a);

/* Whether sa is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z). */
int auth_is_loopback(const struct sockaddr *sa);

/* A decision: status 0 (allowed), 401 or 403, with the error's code and
 * message. */
typedef struct auth_verdict {
    int status;
    const char *code;
    char message[256];
} auth_verdict;

/* Decide whether the Authorization header value authorization (NULL when
 * absent) allows need.  Returns v->status. */
int auth_decide(const auth *a, const char *authorization, auth_scope need, auth_verdict *v);

/* Whether req may use a route that needs need: 0, or -1 with the 401 (and
 * WWW-Authenticate: Bearer) or 403 answered. */
int auth_check(const auth *a, struct evhttp_request *req, auth_scope need);

/* Free *ap (NULL is fine) and set it to NULL. */
void auth_free(auth **ap);

#endif /* RAGD_AUTH_H */
