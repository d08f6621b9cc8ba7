/*
 * ragd/source.h -- the interface between ragd and a retrieval source.
 *
 * A source is a table of functions (ragd_source_type) that ragd calls on its
 * event-loop threads: create an instance from its JSON config, search it
 * asynchronously, cancel a search, destroy the instance.  In return ragd gives
 * every instance a ragd_host: the event loop, an asynchronous HTTP client, a
 * worker pool for blocking work, the query embedder, a logger and helpers for
 * reading its JSON config.  A source uses only what this header declares, so
 * the built-in sources (vector, kb, web) and a plugin loaded with dlopen() are
 * written the same way.
 *
 * Threading: ragd may serve on several event loops, one thread each
 * (`ragd serve --loops`).  create, destroy and the callbacks of events a
 * source adds to host->base run on the main loop's thread.  search and
 * cancel run on the thread of whichever loop took the request: for one
 * instance, on several threads at once, for different searches.  A host
 * call (http_request, http_cancel, work_submit, embed) may be made on any
 * loop thread, and its callback comes back on the thread that made it; a
 * search's own callback must likewise be made on the thread its search()
 * was called on.  So per-search state needs no lock, but what an instance
 * shares between its searches (a snapshot pointer swapped by a refresh, a
 * counter) must be made safe by the source.  A source that follows these
 * rules says so with RAGD_SOURCE_LOOPS; while any configured source does
 * not, ragd serves on one loop, where every function and callback runs on
 * the one loop thread.  A ragd_work_fn runs on a worker thread and must
 * touch nothing but its own job and per-worker state.
 *
 * Callback rule (the same for every asynchronous call in this header): a
 * function that takes a completion callback either returns a negative error
 * now and never calls the callback, or returns 0 and calls the callback
 * exactly once, later, on the calling loop's thread -- never from inside
 * the call.
 */
#ifndef RAGD_SOURCE_H
#define RAGD_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change to this header.  Version 2 added metadata filters:
 * ragd_query.filter and .filter_ref, ragd_source_type.flags and
 * host->filter_match, each at the end of its struct.  Version 3 added
 * several event loops and the RAGD_SOURCE_LOOPS flag, changing no struct.
 * ragd still loads a plugin built against version 1 (treated as not
 * filtering) or 2, and serves on one loop while such a plugin is
 * configured; any other version is refused at load time. */
#define RAGD_SOURCE_ABI_VERSION 3

/* The symbol a plugin exports; ragd looks it up with dlsym(). */
#define RAGD_SOURCE_ENTRY "ragd_source_entry"

/* Status codes: 0 is success, errors are negative. */
enum {
    RAGD_OK = 0,
    RAGD_ERR = -1,        /* failure; the accompanying message says why */
    RAGD_ETIMEDOUT = -2,  /* a deadline passed */
    RAGD_ECANCELED = -3,  /* the operation was cancelled */
    RAGD_ENOMEM = -4,
    RAGD_EINVAL = -5      /* bad argument or configuration */
};

enum { RAGD_LOG_ERROR = 0, RAGD_LOG_WARN = 1, RAGD_LOG_INFO = 2, RAGD_LOG_DEBUG = 3 };

/* Capability flags for ragd_source_type.flags (ABI 2). */
#define RAGD_SOURCE_FILTERS 0x1u /* search() applies ragd_query.filter itself */
#define RAGD_SOURCE_LOOPS 0x2u   /* ABI 3: safe under the threading rules
                                  * above with several loops */

/* A parsed metadata filter, opaque: test a document with host->filter_match. */
typedef struct ragd_filter ragd_filter;

/* One search result.  All strings are borrowed: ragd copies what it keeps
 * before the completion callback returns.  Strings are UTF-8, and a source
 * answers at most ragd_query.k hits; ragd checks both on every answer, as
 * from a broken source: it keeps the first k hits, replaces each byte
 * that is not part of a well-formed UTF-8 character by U+FFFD, cuts a text
 * past 64 KiB and an id, title or url past 8 KiB at a character boundary,
 * and logs a warning naming the instance (at most once a second).  An
 * error message passed to the callback is treated alike, cut at 1 KiB. */
typedef struct ragd_hit {
    const char *id;    /* stable id used to merge duplicates across sources:
                        * a document id, or a normalised URL; never NULL */
    const char *title; /* may be NULL */
    const char *url;   /* may be NULL */
    const char *text;  /* the passage; never NULL */
    double score;      /* the source's own score; higher is better */
} ragd_hit;

/* One query as a source sees it.  Borrowed for the duration of search():
 * copy what is needed later. */
typedef struct ragd_query {
    const char *text;    /* UTF-8, non-empty */
    int k;               /* how many hits are wanted, 1..100 */
    int64_t deadline_ms; /* absolute, on the host->now_ms() clock: ragd
                          * stops waiting then, answer or not */
    /* ABI 2: the request's metadata filter, NULL when it has none.  Only a
     * source whose type declares RAGD_SOURCE_FILTERS is asked a search with
     * a filter (the others are reported "skipped"), and it must answer only
     * documents the filter keeps, choosing its top k among those -- never
     * filtering k hits afterwards, which can leave fewer than k.  filter is
     * the JSON as the client sent it, already validated: an object of
     * conditions on metadata keys, ANDed, each a literal (equality) or an
     * object of operators $eq $ne $in $nin $gt $gte $lt $lte; "$and"/"$or"
     * take arrays of such objects; the key "id" is the document id and
     * "a.b" reaches nested metadata (README, "Metadata filters", has every
     * rule).  A source that maps filters into its backend's own query
     * language reads filter; one that holds documents with JSON metadata
     * passes filter_ref to host->filter_match, which applies ragd's exact
     * rules. */
    const json_t *filter;
    const ragd_filter *filter_ref;
} ragd_query;

/* A search's completion.  status is RAGD_OK with hits[0..nhits) best first,
 * or negative with error (a message for the response; never a secret).
 * hits and error are borrowed for the duration of the call. */
typedef void (*ragd_search_cb)(void *arg, int status, const ragd_hit *hits,
                               size_t nhits, const char *error);

/* ---------------------------------------------------------------- host -- */

typedef struct ragd_host ragd_host;

/* An HTTP request for host->http_request().  Borrowed for the duration of
 * the call; the host copies what it needs. */
typedef struct ragd_http_request {
    const char *method;         /* "GET" or "POST"; NULL means GET */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const char *body;           /* request body for POST, or NULL */
    size_t body_len;
    long timeout_ms;            /* whole-transfer limit; 0 means none.  The
                                 * host also cuts every source off at its
                                 * deadline, whatever this says. */
    size_t max_response;        /* largest body accepted; 0 means 8 MiB */
    /* When set, the body is not collected: each piece is handed to on_data
     * as it arrives (status is the HTTP status code by then), and the
     * completion carries an empty body.  Returning non-zero aborts the
     * transfer, which then completes with RAGD_ECANCELED. */
    int (*on_data)(void *arg, long status, const char *data, size_t len);
} ragd_http_request;

/* An HTTP completion.  status is RAGD_OK when a response arrived (of any HTTP
 * status: check http_status), or negative when none did (refused, reset,
 * timed out, cancelled, too large) with error saying which.  body is the
 * whole response body, NUL-terminated, borrowed for the call. */
typedef void (*ragd_http_cb)(void *arg, int status, long http_status,
                             const char *body, size_t len, const char *error);

typedef struct ragd_http_xfer ragd_http_xfer;

/* Blocking work for the worker pool: runs on a worker thread.  worker is
 * this thread's index, 0 <= worker < host->nworkers, so a source can keep one
 * connection per worker in an array and needs no lock for it. */
typedef void (*ragd_work_fn)(void *arg, unsigned worker);
/* Runs on the submitting loop's thread once the work function has returned. */
typedef void (*ragd_work_done_fn)(void *arg);

/* A query embedding.  status RAGD_OK with vec[0..dims) (L2-normalised,
 * borrowed for the call), or negative with error. */
typedef void (*ragd_embed_cb)(void *arg, int status, const float *vec,
                              size_t dims, const char *error);

struct ragd_host {
    int abi_version;          /* RAGD_SOURCE_ABI_VERSION of the host */
    struct event_base *base;  /* the main event loop: a source may add its
                               * own events to it (their callbacks run on
                               * the main loop's thread), and must remove
                               * them in destroy */
    unsigned nworkers;        /* worker threads in the pool */
    const char *embedder;     /* name of the query embedder ("hash", ...) */
    size_t embed_dims;        /* dimensions it produces */
    void *priv;               /* the host's own; not for sources */

    /* Milliseconds on a monotonic clock, the clock of ragd_query.deadline_ms. */
    int64_t (*now_ms)(const ragd_host *h);

    /* Log a line at level (RAGD_LOG_*), printf-style, prefixed with the
     * instance's name.  Never log secrets. */
    void (*log)(const ragd_host *h, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Start an HTTP transfer on the calling loop's client (one libcurl
     * multi handle per loop, driven by it; connections are reused).  On 0, *xfer (if not NULL)
     * identifies it until cb has been called.  Callback rule applies. */
    int (*http_request)(const ragd_host *h, const ragd_http_request *req,
                        ragd_http_cb cb, void *arg, ragd_http_xfer **xfer);

    /* Abort a transfer whose callback has not run yet: the callback still
     * runs, soon, with RAGD_ECANCELED. */
    void (*http_cancel)(const ragd_host *h, ragd_http_xfer *xfer);

    /* Queue blocking work.  On 0, work runs on some worker thread and then
     * done runs on the calling loop's thread, each exactly once.  Work that has been
     * queued cannot be withdrawn: a source that wants cancellation sets a
     * flag its work function checks. */
    int (*work_submit)(const ragd_host *h, ragd_work_fn work,
                       ragd_work_done_fn done, void *arg);

    /* Embed a query with the embedder the database was built with.
     * Callback rule applies; the embedding gives up at deadline_ms. */
    int (*embed)(const ragd_host *h, const char *text, int64_t deadline_ms,
                 ragd_embed_cb cb, void *arg);

    /* Config readers.  Each looks up key in the object cfg: when absent it
     * stores def and returns 0; when present with the right type it stores
     * the value and returns 0; otherwise it writes "KEY: expected ..." into
     * err and returns RAGD_EINVAL.  Strings are borrowed from cfg. */
    int (*cfg_string)(const json_t *cfg, const char *key, const char *def,
                      const char **out, char *err, size_t errlen);
    int (*cfg_int)(const json_t *cfg, const char *key, long long def,
                   long long min, long long max, long long *out, char *err,
                   size_t errlen);
    int (*cfg_number)(const json_t *cfg, const char *key, double def,
                      double *out, char *err, size_t errlen);
    int (*cfg_bool)(const json_t *cfg, const char *key, int def, int *out,
                    char *err, size_t errlen);

    /* ABI 2: whether the document id with metadata (an object, or NULL for
     * none; borrowed) is kept by filter (a query's filter_ref): 1 or 0.
     * Pure and thread-safe: a work function may call it. */
    int (*filter_match)(const ragd_filter *filter, const char *id, const json_t *metadata);
};

/* -------------------------------------------------------------- source -- */

/* An in-flight search, as the source identifies it; opaque to ragd. */
typedef struct ragd_op ragd_op;

typedef struct ragd_source_type {
    int abi_version;   /* RAGD_SOURCE_ABI_VERSION (or 1: see above) */
    const char *name;  /* type name used in configs, e.g. "kb" */

    /* Create an instance named name from its config object (which ragd owns
     * and keeps alive until destroy).  The host outlives the instance.  On 0
     * stores the instance in *self; on error writes a message naming the
     * problem into err and returns negative.  Runs on the main loop's
     * thread, at startup before the loops run or at a config reload: it may
     * block (open files). */
    int (*create)(const ragd_host *host, const char *name, json_t *config,
                  void **self, char *err, size_t errlen);

    /* Start a search.  Callback rule applies.  On 0, *op (may be left NULL
     * if the source cannot cancel) names the search until cb has run. */
    int (*search)(void *self, const ragd_query *q, ragd_search_cb cb,
                  void *arg, ragd_op **op);

    /* Optional (may be NULL).  Ask a search whose callback has not run to end
     * soon; its callback still runs exactly once (with RAGD_ECANCELED or
     * whatever it had).  ragd cancels a search whose deadline passed or whose
     * client left, and keeps the callback's arg valid until it runs. */
    void (*cancel)(void *self, ragd_op *op);

    /* Free the instance, on the main loop's thread.  Called only when no
     * search of it is in flight. */
    void (*destroy)(void *self);

    /* ABI 2: RAGD_SOURCE_* capability flags; 0 for none. */
    unsigned flags;
} ragd_source_type;

/* A plugin's entry point, exported under the name RAGD_SOURCE_ENTRY. */
typedef const ragd_source_type *(*ragd_source_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* RAGD_SOURCE_H */
