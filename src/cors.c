/*
 * cors -- the CORS headers of a reply and the preflight answer.
 *
 * The allowed origin is echoed, never "*": the reply then varies by Origin,
 * which Vary says so that a cache does not hand one origin's answer to
 * another.  Credentials (cookies) are not allowed: ragd has none, and an
 * Authorization header set by the page needs no credentials mode.
 */
#include <string.h>

#include <event2/http.h>

#include "cors.h"

/* Whether origin is one of origins, or origins allows any. */
static int cors_allowed(const json_t *origins, const char *origin)
{
    size_t i;
    const json_t *o;

    json_array_foreach(origins, i, o) {
        const char *s = json_string_value(o);
        if (s && (strcmp(s, "*") == 0 || strcmp(s, origin) == 0))
            return 1;
    }
    return 0;
}

int cors_apply(const json_t *origins, struct evhttp_request *req)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req), "Origin");

    if (!origin || !*origin || !cors_allowed(origins, origin))
        return 0;
    evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
    evhttp_add_header(out, "Vary", "Origin");
    evhttp_add_header(out, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
    if (evhttp_request_get_command(req) != EVHTTP_REQ_OPTIONS)
        return 0;
    evhttp_add_header(out, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    evhttp_add_header(out, "Access-Control-Allow-Headers",
                      "Authorization, Content-Type, X-Request-Id");
    evhttp_add_header(out, "Access-Control-Max-Age", CORS_MAX_AGE);
    evhttp_send_reply(req, 204, "No Content", NULL);
    return 1;
}
