/*
 * httpc -- the asynchronous HTTP client: one libcurl multi handle driven by
 * the libevent loop (CURLMOPT_SOCKETFUNCTION + CURLMOPT_TIMERFUNCTION, as in
 * curl's hiperfifo.c).  No thread per request, no curl_easy_perform: all
 * transfers share the loop and the multi handle's connection cache, so
 * connections to an upstream are reused across requests.
 *
 * Not for the ingest command, which may block (it uses curl's easy API).
 */
#ifndef RAGD_HTTPC_H
#define RAGD_HTTPC_H

#include <stddef.h>

#include <ragd/source.h>

struct event_base;

typedef struct httpc httpc;
typedef struct ragd_http_xfer httpc_xfer;

/* Create a client on base.  Returns it (freed with httpc_free), or NULL with
 * a message in err.  curl_global_init must have run. */
httpc *httpc_new(struct event_base *base, char *err, size_t errlen);

/* The largest response body any transfer of c takes (default 8 MiB): a
 * request asking for more, or for no particular limit, gets this. */
void httpc_set_max_response(httpc *c, size_t max);

/* Start a transfer.  Follows the callback rule of ragd/source.h: returns 0
 * and calls cb exactly once later on the loop thread, or returns a negative
 * RAGD_* error and never calls it.  On 0, *out (if not NULL) names the
 * transfer until cb has run. */
int httpc_start(httpc *c, const ragd_http_request *req, ragd_http_cb cb, void *arg,
                httpc_xfer **out);

/* Abort a transfer whose callback has not run: the callback runs on a later
 * loop iteration with RAGD_ECANCELED. */
void httpc_cancel(httpc *c, httpc_xfer *x);

/* Stop (paused non-zero) or restart receiving x's response, e.g. while the
 * client it is streamed to cannot keep up.  Callable from inside x's
 * on_data.  Restarting may deliver buffered data to on_data at once.  A
 * paused transfer still ends at its timeout. */
void httpc_pause(httpc *c, httpc_xfer *x, int paused);

/* The value of response header name (any case) of transfer x: the first
 * such header of the last response (after redirects), or NULL when there is
 * none.  Only from inside x's callback or on_data, since x is freed when its
 * callback returns; the string is valid until the next call for x.  Not
 * part of ragd/source.h: ragd's own clients need it (the LLM client reads
 * Retry-After), sources do not. */
const char *httpc_header(httpc_xfer *x, const char *name);

/* Transfers started whose callback has not run yet. */
size_t httpc_active(const httpc *c);

/* Transfers in flight on every client of the process; any thread. */
size_t httpc_active_all(void);

/* Abort every transfer (each callback runs now, with RAGD_ECANCELED), then free
 * the client and set *cp to NULL.  Loop thread, loop not running. */
void httpc_free(httpc **cp);

#endif /* RAGD_HTTPC_H */
