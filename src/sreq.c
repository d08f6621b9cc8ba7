/*
 * sreq -- parse and validate /search requests.
 *
 * Unknown JSON fields are rejected rather than ignored: a misspelt "sorces"
 * silently searching everything is worse than a 400 that names it.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "sreq.h"
#include "utf8.h"

int sreq_fail(sreq_error *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    e->status = status;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

void sreq_release(sreq *r)
{
    free(r->query);
    for (size_t i = 0; i < r->nsources; i++)
        free(r->sources[i]);
    filter_free(&r->filter);
    memset(r, 0, sizeof *r);
}

static int sreq_set_query(sreq *r, const char *q, size_t n, const sreq_limits *lim, sreq_error *e)
{
    size_t i;

    /* Called once per request: JSON refuses a duplicate key and the query
     * string a second q or query, so there is no earlier query to leak. */
    assert(r->query == NULL);
    if (n > lim->max_query)
        return sreq_fail(e, 413, "query_too_long", "query: %zu bytes, the limit is %zu",
                         n, lim->max_query);
    if ((i = utf8_span(q, n)) != n)
        return sreq_fail(e, 400, "invalid_field", "query: not valid UTF-8 (byte %zu)", i);
    for (i = 0; i < n && strchr(" \t\r\n", q[i]); i++)
        ;
    if (i == n)
        return sreq_fail(e, 400, "missing_field", "query: must not be empty");
    if (!(r->query = strndup(q, n)))
        return sreq_fail(e, 500, "internal", "out of memory");
    return 0;
}

static int sreq_add_source(sreq *r, const char *name, size_t n, const sreq_limits *lim,
                           sreq_error *e)
{
    size_t i;

    for (i = 0; i < lim->nnames; i++)
        if (strlen(lim->names[i]) == n && memcmp(lim->names[i], name, n) == 0)
            break;
    if (i == lim->nnames)
        return sreq_fail(e, 400, "unknown_source", "sources: unknown source \"%.*s\"",
                         (int)(n > 64 ? 64 : n), name);
    for (size_t j = 0; j < r->nsources; j++)
        if (strcmp(r->sources[j], lim->names[i]) == 0)
            return 0; /* listed twice: once is enough */
    if (r->nsources == SREQ_SOURCES_MAX)
        return sreq_fail(e, 400, "invalid_field", "sources: too many names");
    if (!(r->sources[r->nsources] = strdup(lim->names[i])))
        return sreq_fail(e, 500, "internal", "out of memory");
    r->nsources++;
    return 0;
}

static int sreq_max_k(const sreq_limits *lim)
{
    return lim->max_k > 0 && lim->max_k < SREQ_K_MAX ? lim->max_k : SREQ_K_MAX;
}

/* r empty, every field at its default: k within lim's maximum. */
static void sreq_init(sreq *r, const sreq_limits *lim)
{
    memset(r, 0, sizeof *r);
    r->k = SREQ_K_DEFAULT < sreq_max_k(lim) ? SREQ_K_DEFAULT : sreq_max_k(lim);
    r->generate = 1;
}

static int sreq_check_k(long long k, sreq *r, const sreq_limits *lim, sreq_error *e)
{
    if (k < 1 || k > sreq_max_k(lim))
        return sreq_fail(e, 400, "invalid_field", "k: must be an integer from 1 to %d, got %lld",
                         sreq_max_k(lim), k);
    r->k = (int)k;
    return 0;
}

static int sreq_check_timeout(long long t, sreq *r, const sreq_limits *lim, sreq_error *e)
{
    if (t < 1 || t > lim->max_timeout_ms)
        return sreq_fail(e, 400, "invalid_field",
                         "timeout_ms: must be an integer from 1 to %d, got %lld",
                         lim->max_timeout_ms, t);
    r->timeout_ms = (int)t;
    return 0;
}

static int sreq_json_sources(sreq *r, json_t *v, const sreq_limits *lim, sreq_error *e)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) == 0)
        return sreq_fail(e, 400, "invalid_field", "sources: must be a non-empty array of names");
    json_array_foreach(v, i, item) {
        if (!json_is_string(item))
            return sreq_fail(e, 400, "invalid_field", "sources[%zu]: must be a string", i);
        if (sreq_add_source(r, json_string_value(item), json_string_length(item), lim, e) != 0)
            return -1;
    }
    return 0;
}

/* The "filter" field: its messages name the path inside it. */
static int sreq_set_filter(sreq *r, json_t *v, sreq_error *e)
{
    char msg[sizeof e->message];

    assert(r->filter == NULL);
    if (filter_parse(v, &r->filter, msg, sizeof msg) != 0)
        return sreq_fail(e, 400, "invalid_field", "%s", msg);
    return 0;
}

static int sreq_json_field(sreq *r, const char *key, json_t *v, const sreq_limits *lim,
                           sreq_error *e)
{
    if (!strcmp(key, "query")) {
        if (!json_is_string(v))
            return sreq_fail(e, 400, "invalid_field", "query: must be a string");
        return sreq_set_query(r, json_string_value(v), json_string_length(v), lim, e);
    }
    if (!strcmp(key, "k")) {
        if (!json_is_integer(v))
            return sreq_fail(e, 400, "invalid_field", "k: must be an integer from 1 to %d",
                             sreq_max_k(lim));
        return sreq_check_k(json_integer_value(v), r, lim, e);
    }
    if (!strcmp(key, "timeout_ms")) {
        if (!json_is_integer(v))
            return sreq_fail(e, 400, "invalid_field", "timeout_ms: must be an integer");
        return sreq_check_timeout(json_integer_value(v), r, lim, e);
    }
    if (!strcmp(key, "sources"))
        return sreq_json_sources(r, v, lim, e);
    if (!strcmp(key, "filter"))
        return sreq_set_filter(r, v, e);
    if (!strcmp(key, "generate") || !strcmp(key, "stream")) {
        if (!json_is_boolean(v))
            return sreq_fail(e, 400, "invalid_field", "%s: must be true or false", key);
        *(key[0] == 'g' ? &r->generate : &r->stream) = json_is_true(v);
        return 0;
    }
    return sreq_fail(e, 400, "unknown_field", "%.64s: unknown field", key);
}

/* Whether s[0..n) is nothing but JSON whitespace. */
static int sreq_is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || !strchr(" \t\r\n", s[i]))
            return 0;
    return 1;
}

int sreq_load_body(const char *body, size_t len, json_t **root, sreq_error *e)
{
    json_error_t jerr;
    size_t bad;

    *root = NULL;
    /* jansson would call an empty body "wrong arguments". */
    if (sreq_is_blank(body, len))
        return sreq_fail(e, 400, "invalid_json", "body: empty");
    if ((bad = utf8_span(body, len)) != len)
        return sreq_fail(e, 400, "invalid_json", "body: not valid UTF-8 (byte %zu)", bad);
    if (!(*root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)))
        return sreq_fail(e, 400, "invalid_json", "body: invalid JSON at line %d column %d: %s",
                         jerr.line, jerr.column, jerr.text);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return sreq_fail(e, 400, "invalid_json", "body: must be a JSON object");
    }
    return 0;
}

int sreq_from_object(sreq *r, json_t *obj, const sreq_limits *lim, sreq_error *e)
{
    json_t *v;
    const char *key;

    sreq_init(r, lim);
    json_object_foreach(obj, key, v)
        if (sreq_json_field(r, key, v, lim, e) != 0)
            goto fail;
    if (!r->query) {
        sreq_fail(e, 400, "missing_field", "query: required");
        goto fail;
    }
    return 0;
fail:
    sreq_release(r);
    return -1;
}

int sreq_from_json(sreq *r, const char *body, size_t len, const sreq_limits *lim, sreq_error *e)
{
    json_t *root;
    int rc;

    sreq_init(r, lim);
    if (sreq_load_body(body, len, &root, e) != 0)
        return -1;
    rc = sreq_from_object(r, root, lim, e);
    json_decref(root);
    return rc;
}

int sreq_from_text(sreq *r, const char *q, size_t n, const sreq_limits *lim, sreq_error *e)
{
    sreq_init(r, lim);
    if (sreq_set_query(r, q, n, lim, e) != 0) {
        sreq_release(r);
        return -1;
    }
    return 0;
}

static int sreq_parse_int(const char *s, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return (errno || end == s || *end) ? -1 : 0;
}

static int sreq_query_sources(sreq *r, const char *list, const sreq_limits *lim, sreq_error *e)
{
    const char *p = list;

    if (!*list)
        return sreq_fail(e, 400, "invalid_field", "sources: must name at least one source");
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n && sreq_add_source(r, p, n, lim, e) != 0)
            return -1;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* filter=JSON in a query string. */
static int sreq_query_filter(sreq *r, const char *val, sreq_error *e)
{
    json_t *v = json_loads(val, JSON_REJECT_DUPLICATES, NULL);
    int rc;

    if (!v)
        return sreq_fail(e, 400, "invalid_field", "filter: not valid JSON");
    rc = sreq_set_filter(r, v, e);
    json_decref(v);
    return rc;
}

static int sreq_query_field(sreq *r, const char *key, const char *val, const sreq_limits *lim,
                            sreq_error *e)
{
    long long n;

    if (!strcmp(key, "q") || !strcmp(key, "query"))
        return sreq_set_query(r, val, strlen(val), lim, e);
    if (!strcmp(key, "k")) {
        if (sreq_parse_int(val, &n) != 0)
            return sreq_fail(e, 400, "invalid_field", "k: must be an integer from 1 to %d",
                             sreq_max_k(lim));
        return sreq_check_k(n, r, lim, e);
    }
    if (!strcmp(key, "timeout_ms")) {
        if (sreq_parse_int(val, &n) != 0)
            return sreq_fail(e, 400, "invalid_field", "timeout_ms: must be an integer");
        return sreq_check_timeout(n, r, lim, e);
    }
    if (!strcmp(key, "sources"))
        return sreq_query_sources(r, val, lim, e);
    if (!strcmp(key, "filter"))
        return sreq_query_filter(r, val, e);
    if (!strcmp(key, "generate") || !strcmp(key, "stream")) {
        if (strcmp(val, "true") && strcmp(val, "false") && strcmp(val, "1") && strcmp(val, "0"))
            return sreq_fail(e, 400, "invalid_field", "%s: must be true or false", key);
        *(key[0] == 'g' ? &r->generate : &r->stream) = !strcmp(val, "true") || !strcmp(val, "1");
        return 0;
    }
    return sreq_fail(e, 400, "unknown_field", "%.64s: unknown parameter", key);
}

/* The query string's parameters; "query" is another name for "q". */
static const char *const sreq_params[] = {"q", "k", "timeout_ms", "sources", "generate", "stream",
                                           "filter"};
#define SREQ_NPARAMS (sizeof sreq_params / sizeof *sreq_params)

/* A parameter given twice is refused, not resolved: "q=a&q=b" has no
 * reading that the client and every proxy or cache in between would agree
 * on.  seen[i] is the name sreq_params[i] was first given under. */
static int sreq_query_once(const char *key, const char **seen, sreq_error *e)
{
    size_t i = 0;

    if (strcmp(key, "query") != 0)
        while (i < SREQ_NPARAMS && strcmp(key, sreq_params[i]) != 0)
            i++;
    if (i == SREQ_NPARAMS)
        return 0; /* unknown: sreq_query_field says so */
    if (!seen[i]) {
        seen[i] = key;
        return 0;
    }
    if (strcmp(seen[i], key) != 0)
        return sreq_fail(e, 400, "invalid_field", "%s: given more than once (also as %s)", key,
                         seen[i]);
    return sreq_fail(e, 400, "invalid_field", "%s: given more than once", key);
}

int sreq_from_query(sreq *r, const char *qs, const sreq_limits *lim, sreq_error *e)
{
    struct evkeyvalq params;
    struct evkeyval *kv;
    const char *seen[SREQ_NPARAMS] = {NULL};
    int rc = -1;

    sreq_init(r, lim);
    TAILQ_INIT(&params);
    if (evhttp_parse_query_str(qs ? qs : "", &params) != 0) {
        sreq_fail(e, 400, "invalid_field", "query string: malformed");
        goto done;
    }
    TAILQ_FOREACH(kv, &params, next)
        if (sreq_query_once(kv->key, seen, e) != 0
            || sreq_query_field(r, kv->key, kv->value, lim, e) != 0)
            goto done;
    if (!r->query) {
        sreq_fail(e, 400, "missing_field", "q: required");
        goto done;
    }
    rc = 0;
done:
    evhttp_clear_headers(&params);
    if (rc != 0)
        sreq_release(r);
    return rc;
}
