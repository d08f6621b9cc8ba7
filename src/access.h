/*
 * access -- one record per HTTP request: its request id (the X-Request-Id
 * header), the access log line written when it ends, and the request
 * counters and latency of GET /metrics.
 *
 * A record lives in the connection that carries the request (conn.c):
 * access_begin when a route takes the request, access_end when its reply
 * has been written or its client left.  Handlers add what only they know
 * (the sources a search asked) through access_note_*.
 *
 * The log never holds a query's text unless --log-queries asked for it,
 * and never a header: keys and Authorization stay out of it.
 *
 * Loop thread only.  The log's settings are process-wide, like log.c's.
 */
#ifndef RAGD_ACCESS_H
#define RAGD_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct evhttp_request;

#define ACCESS_MAX_ID 64

typedef struct access_rec {
    int active;                    /* between access_begin and access_end */
    char id[ACCESS_MAX_ID + 1];
    int64_t t0_us;
    const char *method;            /* static */
    const char *route;             /* a route template (static) */
    char *path;                    /* the path without its query (owned) */
    json_t *sources;               /* {name: {status, latency_ms}} or NULL (owned) */
    char *query;                   /* only with --log-queries (owned) */
    size_t bytes;                  /* written to the client, headers included */
    int coalesced;                 /* answered from another request's fan-out */
    int cached;                    /* answered from the result cache */
} access_rec;

/* Write the log to path (appended; NULL or "" means stderr), with query
 * texts when log_queries, and register the request metrics.  Returns 0,
 * or -1 with a message. */
int access_init(const char *path, int log_queries, char *err, size_t errlen);

/* Switch the log to path and log_queries (a config reload): the new file
 * is opened before the old one is closed, so a path that cannot be opened
 * leaves the log as it was.  Returns 0, or -1 with a message. */
int access_configure(const char *path, int log_queries, char *err, size_t errlen);

/* Close the log file. */
void access_shutdown(void);

/* The route template path belongs to ("/documents/{id}"), or "other":
 * what metrics label a request with, so that ids and unknown paths cannot
 * make new series. */
const char *access_route(const char *path);

/* Start r for req: pick its id (the client's X-Request-Id if it is 1-64
 * characters of [A-Za-z0-9._-], else a new one) and put it on the reply's
 * headers. */
void access_begin(access_rec *r, struct evhttp_request *req);

/* The request id of req's reply, or NULL before access_begin. */
const char *access_request_id(struct evhttp_request *req);

/* A source the request asked settled with status after ms. */
void access_note_source(access_rec *r, const char *name, const char *status, double ms);

/* The request was answered from another identical request's fan-out. */
void access_note_coalesced(access_rec *r);

/* The request was answered from the result cache. */
void access_note_cached(access_rec *r);

/* The request's query text (kept only with --log-queries). */
void access_note_query(access_rec *r, const char *query);

/* The request ended with status (499: the client left first): write the
 * log line, count it, and free what r holds. */
void access_end(access_rec *r, int status);

#endif /* RAGD_ACCESS_H */
