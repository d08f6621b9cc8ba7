/*
 * sreq -- a search request: a /search request parsed from a JSON body
 * (POST) or a query string (GET) and validated, with an error that names
 * the field.  The chat API (chat.c) reads its query into one too.
 *
 * Pure: knows nothing of sockets or sources beyond a list of valid names, so
 * every rule is unit-tested on its own.
 */
#ifndef RAGD_SREQ_H
#define RAGD_SREQ_H

#include <stddef.h>

#include <jansson.h>

#include "filter.h"

#define SREQ_K_DEFAULT 8
#define SREQ_K_MAX 1000            /* the most any server may allow */
#define SREQ_SOURCES_MAX 32

typedef struct sreq {
    char *query;                     /* owned, valid UTF-8, non-blank */
    int k;                           /* 1..SREQ_K_MAX */
    char *sources[SREQ_SOURCES_MAX]; /* owned; the requested names */
    size_t nsources;                 /* 0 means every configured source */
    int timeout_ms;                  /* 0 means the server's default */
    int generate;                    /* generate an answer (default on) */
    int stream;                      /* answer with Server-Sent Events */
    filter *filter;                  /* owned (one reference); NULL for none */
} sreq;

typedef struct sreq_limits {
    size_t max_query;                /* bytes */
    int max_timeout_ms;
    const char *const *names;        /* valid source names */
    size_t nnames;
    int max_k;                       /* largest k, 1..SREQ_K_MAX; 0 means SREQ_K_MAX */
} sreq_limits;

/* A rejected request: HTTP status, a stable machine code and a message that
 * names the field. */
typedef struct sreq_error {
    int status;
    const char *code;
    char message[256];
} sreq_error;

/* Read body[0..len) as a JSON object, as every JSON request body is read:
 * 0 with *root (a new reference), or -1 with e saying "body: empty", "body:
 * not valid UTF-8 (byte N)", "body: invalid JSON at line L column C: ..."
 * or "body: must be a JSON object".  Duplicate keys are refused. */
int sreq_load_body(const char *body, size_t len, json_t **root, sreq_error *e);

/* Parse a JSON body (body may be NULL when len is 0).  Returns 0 with r
 * filled, or -1 with e filled (r is then empty).  Either way the caller
 * calls sreq_release(r). */
int sreq_from_json(sreq *r, const char *body, size_t len, const sreq_limits *lim, sreq_error *e);

/* Parse a request already read as the JSON object obj (borrowed), as
 * sreq_from_json parses a body's object: one item of a batch.  Same
 * contract as sreq_from_json. */
int sreq_from_object(sreq *r, json_t *obj, const sreq_limits *lim, sreq_error *e);

/* A request for the query q[0..n) with every other field at its default,
 * checked as sreq_from_json checks "query".  Same contract as
 * sreq_from_json. */
int sreq_from_text(sreq *r, const char *q, size_t n, const sreq_limits *lim, sreq_error *e);

/* Parse a query string ("q=...&k=...&sources=a,b&timeout_ms=...&filter=JSON"), already
 * without the leading '?'.  Each parameter may be given once ("query" is
 * another name for "q"); a repeated one is a 400 naming it.  Same contract
 * as sreq_from_json. */
int sreq_from_query(sreq *r, const char *qs, const sreq_limits *lim, sreq_error *e);

/* Free what r owns. */
void sreq_release(sreq *r);

/* Fill e; returns -1 so callers can `return sreq_fail(...)`. */
int sreq_fail(sreq_error *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* RAGD_SREQ_H */
