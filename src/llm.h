/*
 * llm -- the asynchronous client of an OpenAI-compatible chat completions
 * API (OpenAI, vLLM, llama.cpp server, Ollama): one system + user prompt
 * in, one answer out, whole or streamed token by token (Server-Sent
 * Events), on ragd's event loop and shared HTTP client.
 *
 * It enforces its own deadline, retries once on HTTP 429 or 5xx when the
 * deadline leaves room, and never puts the API key in an error message.
 * Not for prompt building (prompt.h), context assembly (context.h) or
 * citations (gen.h); no tools, images or multi-turn history.
 *
 * The request builder and the response parsers are exposed (llm_request_body
 * ... llm_retry_after_ms) so they can be tested without a network.
 */
#ifndef RAGD_LLM_H
#define RAGD_LLM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "httpc.h"

struct event_base;

/* Where and how to ask.  Every string is borrowed for the duration of
 * llm_start only: the call copies what it keeps. */
typedef struct llm_config {
    const char *url, *model, *api_key;   /* api_key may be NULL; never logged,
                                          * never in an error message */
    double temperature;                  /* < 0: not sent */
    int max_tokens;                      /* <= 0: not sent */
    size_t max_event;                    /* largest stream event or line;
                                          * 0: 1 MiB */
} llm_config;

typedef struct llm_call llm_call;

typedef struct llm_callbacks {
    /* Stream only, may be NULL: one content delta as the upstream sent it
     * (complete UTF-8; never split inside a character), borrowed for the
     * call.  Return non-zero to cancel: on_done follows with RAGD_ECANCELED.
     * Never called after on_done.  (Calling llm_cancel from here works
     * too.) */
    int (*on_token)(void *arg, const char *piece, size_t len);
    /* Exactly once.  status RAGD_OK: answer is the whole answer (also when
     * streamed), model the model the upstream reported or else the
     * configured one, finish_reason the upstream's ("stop", "length", ...)
     * or NULL.  Otherwise answer and finish_reason are NULL, model is as
     * above, and error says why: RAGD_ETIMEDOUT (deadline), RAGD_ECANCELED
     * (llm_cancel, or on_token asked to stop) or RAGD_ERR (an HTTP error
     * status with the upstream's message, malformed JSON or stream, a
     * stream that ended early, a connection error).  All strings are
     * borrowed for the call; the call is freed as soon as on_done returns,
     * so on_done may free the caller's state, but must not touch the call. */
    void (*on_done)(void *arg, int status, const char *answer, const char *model,
                    const char *finish_reason, const char *error);
} llm_callbacks;

/* Ask cfg's LLM to answer user under system (NULL: no system message),
 * streaming when stream is set, giving up at deadline_ms (absolute, on
 * clock_ms() of clock.h; already past: on_done soon with RAGD_ETIMEDOUT and
 * no request).  Follows the callback rule of ragd/source.h: returns
 * RAGD_EINVAL (a missing url, model, user or cb->on_done, or a prompt that
 * is not valid UTF-8) or RAGD_ENOMEM now and never calls back, or returns
 * 0, stores the call in *out (if not NULL) and calls cb->on_done exactly
 * once, later, on base's loop thread.  http and base must outlive the call;
 * cb is copied. */
int llm_start(httpc *http, struct event_base *base, const llm_config *cfg, const char *system,
              const char *user, int stream, int64_t deadline_ms, const llm_callbacks *cb,
              void *arg, llm_call **out);

/* Stop a call: its transfer is aborted at once (the upstream sees the
 * connection close), no more tokens are delivered, and on_done follows on a
 * later loop iteration -- never from inside llm_cancel -- with
 * RAGD_ECANCELED, or with the outcome already decided if the call was
 * ending anyway (deadline passed, malformed stream).  Cancelling twice is
 * harmless; cancelling a call whose on_done has run is a caller bug (the
 * call is freed by then). */
void llm_cancel(llm_call *c);

/* Stop (paused non-zero) or restart reading the streamed answer, for a
 * client that cannot take tokens as fast as they come.  The deadline keeps
 * running.  Restarting may deliver tokens before it returns. */
void llm_pause(llm_call *c, int paused);

/* ------------------------------------------------ pure, for the tests -- */

/* The JSON request body for cfg, system (NULL: left out), user and stream:
 * {"model","messages":[system?, user],"temperature"?,"max_tokens"?,
 * "stream"}.  malloc'd, or NULL on ENOMEM or when a string is not valid
 * UTF-8. */
char *llm_request_body(const llm_config *cfg, const char *system, const char *user, int stream);

/* What a whole response or one stream chunk says.  Strings are malloc'd, or
 * NULL when absent; release with llm_reply_release. */
typedef struct llm_reply {
    char *content;        /* choices[0].message.content (whole) or
                           * choices[0].delta.content (chunk) */
    size_t len;           /* strlen(content), 0 when NULL */
    char *model;
    char *finish_reason;
    int done;             /* chunk only: the event was "data: [DONE]" */
} llm_reply;

void llm_reply_release(llm_reply *r);

/* Parse a whole chat.completion body.  0 with *r filled (content never
 * NULL: a null content is ""), or -1 with err set: "malformed JSON from LLM:
 * ..." or, for an {"error":...} body, "LLM error: MESSAGE".  *r is left
 * empty on -1. */
int llm_parse_response(const char *body, size_t len, llm_reply *r, char *err, size_t errlen);

/* Parse the data of one stream event: "[DONE]" sets r->done; a
 * chat.completion.chunk fills content, model and finish_reason as present.
 * -1 with err set for JSON that is not a chunk ("malformed stream from LLM:
 * ...") or an error event ("LLM error: MESSAGE"). */
int llm_parse_chunk(const char *data, size_t len, llm_reply *r, char *err, size_t errlen);

/* The message for an HTTP error answer: "LLM answered HTTP STATUS", plus
 * ": MESSAGE" when body carries one (OpenAI's {"error":{"message"}}, or an
 * "error", "message" or "detail" string), with api_key (if not NULL or
 * empty) hidden as mask_secret (mask.h) hides it, before the message is
 * cut to fit err. */
void llm_http_error(long status, const char *body, size_t len, const char *api_key, char *err,
                    size_t errlen);

/* A Retry-After value in milliseconds: delay-seconds, or an HTTP date
 * compared with now; capped at max_ms; a past date is 0.  -1 when value is
 * NULL or neither form. */
int64_t llm_retry_after_ms(const char *value, time_t now, int64_t max_ms);

#endif /* RAGD_LLM_H */
