/*
 * access -- request records, the access log and request metrics (see
 * access.h).
 *
 * Request ids are a per-process random prefix and a counter: unique within
 * the process and, with overwhelming likelihood, across restarts, without a
 * system call per request.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "access.h"
#include "clock.h"
#include "jdump.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"

static FILE *access_file;           /* NULL: stderr */
static int access_log_queries;
static unsigned long long access_prefix;
static atomic_ullong access_counter; /* every loop numbers its requests from it */
static metric *access_requests, *access_latency;

int access_init(const char *path, int log_queries, char *err, size_t errlen)
{
    static const char *const route_code[] = {"route", "code"}, *const route[] = {"route"};

    if (access_configure(path, log_queries, err, errlen) != 0)
        return -1;
    if (getrandom(&access_prefix, sizeof access_prefix, GRND_NONBLOCK) != sizeof access_prefix)
        access_prefix = (unsigned long long)clock_us() ^ ((unsigned long long)getpid() << 32);
    access_requests = metrics_counter("ragd_http_requests_total",
                                      "HTTP requests answered, by route template and status code",
                                      2, route_code);
    access_latency = metrics_histogram("ragd_http_request_duration_seconds",
                                       "Time from routing a request to the end of its reply",
                                       1, route, metrics_latency_bounds, metrics_nlatency_bounds);
    return 0;
}

int access_configure(const char *path, int log_queries, char *err, size_t errlen)
{
    FILE *f = NULL;

    if (path && *path && !(f = fopen(path, "a"))) {
        snprintf(err, errlen, "access log %s: %s", path, strerror(errno));
        return -1;
    }
    access_shutdown();
    access_file = f;
    access_log_queries = log_queries;
    return 0;
}

void access_shutdown(void)
{
    if (access_file)
        fclose(access_file);
    access_file = NULL;
}

const char *access_route(const char *path)
{
    static const char *const exact[] = {"/search", "/search/batch", "/healthz", "/metrics",
                                        "/v1/chat/completions", "/v1/models", "/documents",
                                        "/jobs"};

    if (!path)
        return "other";
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (!strcmp(path, exact[i]))
            return exact[i];
    if (!strncmp(path, "/documents/", 11) && path[11] && !strchr(path + 11, '/'))
        return "/documents/{id}";
    if (!strncmp(path, "/jobs/", 6) && path[6] && !strchr(path + 6, '/'))
        return "/jobs/{id}";
    return "other";
}

static int access_id_ok(const char *id)
{
    size_t n = 0;

    if (!id)
        return 0;
    for (; id[n]; n++)
        if (n >= ACCESS_MAX_ID || !((id[n] >= 'a' && id[n] <= 'z') ||
                                     (id[n] >= 'A' && id[n] <= 'Z') ||
                                     (id[n] >= '0' && id[n] <= '9') || strchr("._-", id[n])))
            return 0;
    return n > 0;
}

static const char *access_method(struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "other";
    }
}

void access_begin(access_rec *r, struct evhttp_request *req)
{
    const char *given = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);

    if (r->active)
        access_end(r, 499);
    *r = (access_rec){.active = 1, .t0_us = clock_us(), .method = access_method(req),
                      .route = access_route(path), .path = strdup(path ? path : "")};
    if (access_id_ok(given))
        snprintf(r->id, sizeof r->id, "%s", given);
    else
        snprintf(r->id, sizeof r->id, "%016llx-%llx", access_prefix,
                 atomic_fetch_add(&access_counter, 1) + 1);
    evhttp_remove_header(out, "X-Request-Id");
    evhttp_add_header(out, "X-Request-Id", r->id);
}

const char *access_request_id(struct evhttp_request *req)
{
    return req ? evhttp_find_header(evhttp_request_get_output_headers(req), "X-Request-Id")
               : NULL;
}

void access_note_source(access_rec *r, const char *name, const char *status, double ms)
{
    if (!r || !r->active || (!r->sources && !(r->sources = json_object())))
        return;
    json_object_set_new(r->sources, name, json_pack("{ss sf}", "status", status,
                                                    "latency_ms", ms));
}

void access_note_query(access_rec *r, const char *query)
{
    if (!r || !r->active || !access_log_queries || !query)
        return;
    free(r->query);
    r->query = strdup(query);
}

void access_note_coalesced(access_rec *r)
{
    if (r && r->active)
        r->coalesced = 1;
}

void access_note_cached(access_rec *r)
{
    if (r && r->active)
        r->cached = 1;
}

static void access_write(const access_rec *r, int status, double latency_ms)
{
    char when[40];
    struct timespec ts;
    struct tm tm;
    json_t *line;
    buf text = {0};

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + strlen(when), sizeof when - strlen(when), ".%03ldZ", ts.tv_nsec / 1000000);
    line = json_pack("{ss ss ss ss si sI sf sb sb}", "time", when, "request_id", r->id,
                     "method", r->method, "route", r->path ? r->path : "", "status", status,
                     "bytes", (json_int_t)r->bytes, "latency_ms", latency_ms,
                     "cached", r->cached, "coalesced", r->coalesced);
    if (line && r->sources)
        json_object_set(line, "sources", r->sources);
    if (line && r->query)
        json_object_set_new(line, "query", json_string(r->query));
    if (!line || jdump_add(&text, line, REPLY_MAX_JSON) != 0 ||
        buf_add(&text, "\n", 1, REPLY_MAX_JSON) != 0) {
        json_decref(line);
        buf_release(&text);
        log_msg(LOG_WARN, "access log: out of memory writing request %s", r->id);
        return;
    }
    fwrite(text.p, 1, text.len, access_file ? access_file : stderr);
    fflush(access_file ? access_file : stderr);
    buf_release(&text);
    json_decref(line);
}

void access_end(access_rec *r, int status)
{
    int64_t us;
    char code[16];

    if (!r->active)
        return;
    us = clock_us() - r->t0_us;
    access_write(r, status, clock_report_ms(us));
    snprintf(code, sizeof code, "%d", status);
    metrics_add(access_requests, 1, r->route, code);
    metrics_observe(access_latency, (double)us / 1e6, r->route);
    free(r->path);
    free(r->query);
    json_decref(r->sources);
    *r = (access_rec){0};
}
