/*
 * embedq -- embedding many texts with the OpenAI-compatible embedder, for
 * the background jobs: the texts go out through the shared asynchronous
 * HTTP client in requests of EMBEDQ_BATCH texts, at most EMBEDQ_INFLIGHT
 * requests at once, each retried on 429, 5xx or a failed transfer with
 * backoff (Retry-After honoured up to a cap) and each with its own
 * deadline.  The answer is all the vectors, or the first permanent error.
 *
 * Not for query embedding (host.c embeds one query against a search's
 * deadline, without retries) nor for `ragd ingest`, which blocks.  Knows
 * nothing about documents or the store: it turns texts into vectors.
 *
 * Loop thread only.
 */
#ifndef RAGD_EMBEDQ_H
#define RAGD_EMBEDQ_H

#include <stddef.h>

#include "host.h"

/* Texts per request: well under every service's limit. */
#define EMBEDQ_BATCH 64

/* Requests in flight at once, per embedq: enough to hide the service's
 * latency, few enough not to set off its rate limit. */
#define EMBEDQ_INFLIGHT 4

/* Attempts per request, the first included. */
#define EMBEDQ_ATTEMPTS 5

typedef struct embedq embedq;

/* The end of an embedq.  status RAGD_OK with vecs[0..n*dims) (row i is
 * text i, each L2-normalised; the receiver takes the array and frees it
 * with free()); or negative with vecs NULL and error (borrowed for the
 * call) saying why: RAGD_ECANCELED after embedq_cancel, RAGD_ERR for a
 * failure that retrying did not mend.  The embedq is freed once this
 * returns. */
typedef void (*embedq_cb)(void *arg, int status, float *vecs, size_t dims, const char *error);

/* Embed texts[0..n) (n >= 1; borrowed, valid UTF-8, kept until cb runs)
 * with svc's embedder (svc->embedder "openai"), each vector to have
 * svc->embed_dims dimensions.  Follows the callback rule: returns 0 and
 * calls cb exactly once later on the loop, or returns a negative RAGD_*
 * error and never calls it.  On 0, *out (if not NULL) names the embedq
 * until cb has run. */
int embedq_start(host_services *svc, const char *const *texts, size_t n, embedq_cb cb,
                 void *arg, embedq **out);

/* Stop q, whose callback has not run: its transfers are aborted and its
 * retry waits ended, and cb runs on a later loop iteration with
 * RAGD_ECANCELED (or with the error that had already ended it).  Never
 * calls back from inside itself. */
void embedq_cancel(embedq *q);

#endif /* RAGD_EMBEDQ_H */
