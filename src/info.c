/*
 * info -- GET /sources and GET /session (see info.h).
 */
#include <event2/http.h>

#include "info.h"
#include "reply.h"

static json_t *info_source(const instance *in)
{
    return json_pack("{ss ss sb sf sI ss}", "name", in->name, "type", in->type->name,
                     "enabled", in->enabled, "weight", in->weight, "timeout_ms",
                     (json_int_t)in->timeout_ms, "breaker",
                     breaker_state_name(breaker_get_state(&in->brk)));
}

void info_sources(struct evhttp_request *req, const instance_set *set)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < set->n && arr; i++)
        if (json_array_append_new(arr, info_source(set->v[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    reply_json(req, 200, arr ? json_pack("{so}", "sources", arr) : NULL);
}

void info_session(struct evhttp_request *req, const auth *a)
{
    static const struct {
        auth_scope scope;
        const char *name;
    } scopes[] = {{AUTH_SEARCH, "search"}, {AUTH_WRITE, "write"}, {AUTH_ADMIN, "admin"}};
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    json_t *names = json_array();
    auth_verdict v;
    int keys = auth_decide(a, NULL, AUTH_SEARCH, &v) == 401; /* search is open without keys */

    for (size_t i = 0; i < sizeof scopes / sizeof *scopes && names && (h || !keys); i++) {
        int ok = auth_decide(a, h, scopes[i].scope, &v) == 0 ||
                 /* GET /metrics is open on a loopback listen address */
                 (scopes[i].scope == AUTH_ADMIN && auth_listens_loopback(a));
        if (v.status == 401) {
            json_decref(names);
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                              "Bearer");
            reply_error(req, 401, v.code, v.message);
            return;
        }
        if (ok)
            json_array_append_new(names, json_string(scopes[i].name));
    }
    reply_json(req, 200, names ? json_pack("{sb so}", "keys_required", keys, "scopes", names)
                               : NULL);
}
