/*
 * llm -- the chat completions client.
 *
 * Call lifetime: an llm_call is created by llm_start and owns everything it
 * uses -- copies of the request, the HTTP transfer in flight, two timers
 * (deadline, wake) and the answer buffers.  It frees itself in llm_finish,
 * right after on_done returns, and llm_finish is only ever reached from a
 * loop callback (httpc's completion, a timer) or httpc_free's shutdown, so
 * the callback rule holds.
 *
 * Ending: whatever decides the outcome while a transfer is in flight
 * (llm_cancel, the deadline, a malformed chunk, on_token asking to stop)
 * records it in end_status/error and aborts the transfer; the outcome is
 * delivered when httpc reports the transfer done, because httpc still holds
 * the call as its callback argument until then.  Inside on_data libcurl must
 * not be re-entered, so there the abort is on_data's non-zero return instead
 * of httpc_cancel.
 *
 * Streaming: the body of a 200 answer goes through an sse_parser; every
 * data event is one chat.completion.chunk, whose delta is appended to the
 * answer and handed to on_token.  A non-200 answer, or a 200 one that is
 * plain JSON (a server that ignored "stream"), is collected whole instead.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "buf.h"
#include "llm.h"
#include "mask.h"
#include "obs.h"
#include "url.h"
#include "sse.h"

#define LLM_MAX_EVENT (1u << 20)        /* one SSE event */
#define LLM_MAX_ANSWER (4u << 20)       /* a whole body, or a streamed answer */
#define LLM_MAX_ERROR_BODY (64u << 10)  /* of a streamed non-200 answer */
#define LLM_RETRY_DEFAULT_MS 250        /* wait before the retry without Retry-After */
#define LLM_RETRY_MAX_MS 30000          /* cap on Retry-After */
#define LLM_RETRY_MIN_LEFT_MS 100       /* a retry needs this much time to answer */
#define LLM_BACKSTOP_MS 1000            /* libcurl's timeout, after our deadline */

/* How the body of a streamed request is read; decided by its first bytes. */
enum { LLM_BODY_UNKNOWN, LLM_BODY_SSE, LLM_BODY_WHOLE };

struct llm_call {
    httpc *http;                /* borrowed, outlives the call */
    struct event_base *base;    /* borrowed, outlives the call */
    llm_callbacks cb;
    void *arg;
    char *url, *body, *auth;    /* the request, kept for the retry */
    char *key;                  /* the API key, to mask it; or NULL */
    char *cfg_model;            /* the configured model name */
    size_t max_event;           /* largest stream event or line */
    int stream;
    int64_t deadline_ms;
    httpc_xfer *xfer;           /* the attempt in flight, or NULL */
    struct event *deadline;     /* fires at deadline_ms */
    struct event *wake;         /* ends the retry wait, or delivers a cancel */
    int attempts;
    int in_data;                /* inside on_data: libcurl is on the stack */
    int end_status;             /* the decided outcome (negative), or 0 */
    char error[1024];           /* its message */
    /* the answer */
    int body_kind;
    sse_parser *sse;
    buf whole;              /* a streamed request's non-SSE body */
    buf answer;
    char *model, *finish;       /* as the upstream reported them, or NULL */
    size_t ntokens;             /* on_token calls made */
    int saw_done;               /* "data: [DONE]" arrived */
};

/* ------------------------------------------------------------ helpers -- */

/* A malloc'd copy of a JSON string's value, or NULL (with *oom set when
 * that is because memory ran out). */
static char *llm_dup_json(const json_t *v, int *oom)
{
    char *s;

    if (!json_is_string(v))
        return NULL;
    if (!(s = strndup(json_string_value(v), json_string_length(v))))
        *oom = 1;
    return s;
}

/* The upstream's own error message in an error body, or NULL. */
static const char *llm_upstream_message(const json_t *root)
{
    const json_t *e = json_object_get(root, "error");

    if (json_is_object(e))
        e = json_object_get(e, "message");
    if (!json_is_string(e))
        e = json_object_get(root, "message");
    if (!json_is_string(e))
        e = json_object_get(root, "detail");
    return json_is_string(e) ? json_string_value(e) : NULL;
}

/* An {"error": ...} body or event: its message into err, and 1; else 0. */
static int llm_error_event(const json_t *root, char *err, size_t errlen)
{
    const char *msg;

    if (!json_object_get(root, "error"))
        return 0;
    msg = llm_upstream_message(root);
    snprintf(err, errlen, "LLM error: %s", msg ? msg : "(no message)");
    return 1;
}

void llm_http_error(long status, const char *body, size_t len, const char *api_key, char *err,
                    size_t errlen)
{
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = json_is_object(root) ? llm_upstream_message(root) : NULL;

    if (msg)
        mask_printf(err, errlen, api_key, "LLM answered HTTP %ld: %s", status, msg);
    else
        mask_printf(err, errlen, api_key, "LLM answered HTTP %ld", status);
    json_decref(root);
}

int64_t llm_retry_after_ms(const char *value, time_t now, int64_t max_ms)
{
    struct tm tm = {0};
    const char *end;
    time_t t;

    if (!value)
        return -1;
    while (isspace((unsigned char)*value))
        value++;
    if (isdigit((unsigned char)*value)) {
        char *e;
        long long s = strtoll(value, &e, 10);
        end = e;
        while (isspace((unsigned char)*end))
            end++;
        if (*end)
            return -1;
        return s >= max_ms / 1000 ? max_ms : s * 1000;
    }
    /* The IMF-fixdate form, e.g. "Wed, 21 Oct 2015 07:28:00 GMT". */
    if (!(end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm)))
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end || (t = timegm(&tm)) == (time_t)-1)
        return -1;
    if (t <= now)
        return 0;
    return t - now >= max_ms / 1000 ? max_ms : (int64_t)(t - now) * 1000;
}

/* ----------------------------------------------------- request, replies -- */

static int llm_add_message(json_t *msgs, const char *role, const char *content)
{
    json_t *m = json_pack("{s:s, s:s}", "role", role, "content", content);

    return m ? json_array_append_new(msgs, m) : -1;
}

char *llm_request_body(const llm_config *cfg, const char *system, const char *user, int stream)
{
    json_t *root = json_object(), *msgs = json_array();
    char *out = NULL;

    if (!root || !msgs || json_object_set_new(root, "model", json_string(cfg->model)) != 0)
        goto fail;
    if (system && llm_add_message(msgs, "system", system) != 0)
        goto fail;
    if (llm_add_message(msgs, "user", user) != 0 || json_object_set(root, "messages", msgs) != 0)
        goto fail;
    if (cfg->temperature >= 0 &&
        json_object_set_new(root, "temperature", json_real(cfg->temperature)) != 0)
        goto fail;
    if (cfg->max_tokens > 0 &&
        json_object_set_new(root, "max_tokens", json_integer(cfg->max_tokens)) != 0)
        goto fail;
    if (json_object_set_new(root, "stream", json_boolean(stream)) != 0)
        goto fail;
    out = json_dumps(root, JSON_COMPACT);
fail:
    json_decref(msgs);
    json_decref(root);
    return out;
}

void llm_reply_release(llm_reply *r)
{
    free(r->content);
    free(r->model);
    free(r->finish_reason);
    memset(r, 0, sizeof *r);
}

/* Fill r from a choice's message or delta object and the root.  -1 when
 * content is neither a string nor null, or on ENOMEM (err set). */
static int llm_take_fields(const json_t *root, const json_t *choice, const json_t *msg,
                           llm_reply *r, const char *what, char *err, size_t errlen)
{
    const json_t *content = json_object_get(msg, "content");
    int oom = 0;

    if (content && !json_is_string(content) && !json_is_null(content)) {
        snprintf(err, errlen, "%s: content is not a string", what);
        return -1;
    }
    r->content = llm_dup_json(content, &oom);
    r->len = r->content ? strlen(r->content) : 0;
    r->model = llm_dup_json(json_object_get(root, "model"), &oom);
    r->finish_reason = llm_dup_json(json_object_get(choice, "finish_reason"), &oom);
    if (oom) {
        snprintf(err, errlen, "out of memory");
        llm_reply_release(r);
        return -1;
    }
    return 0;
}

int llm_parse_response(const char *body, size_t len, llm_reply *r, char *err, size_t errlen)
{
    static const char what[] = "malformed JSON from LLM";
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je), *choice, *msg;
    int rc = -1;

    memset(r, 0, sizeof *r);
    if (!root) {
        snprintf(err, errlen, "%s: %s", what, je.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: not an object", what);
        goto done;
    }
    if (llm_error_event(root, err, errlen))
        goto done;
    choice = json_array_get(json_object_get(root, "choices"), 0);
    if (!json_is_object(msg = json_object_get(choice, "message"))) {
        snprintf(err, errlen, "%s: no choices[0].message", what);
        goto done;
    }
    if (llm_take_fields(root, choice, msg, r, what, err, errlen) != 0)
        goto done;
    if (!r->content && !(r->content = strdup(""))) {
        snprintf(err, errlen, "out of memory");
        llm_reply_release(r);
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

/* s[0..n) without surrounding white space is exactly word. */
static int llm_is_word(const char *s, size_t n, const char *word)
{
    size_t wlen = strlen(word);

    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return n == wlen && memcmp(s, word, n) == 0;
}

int llm_parse_chunk(const char *data, size_t len, llm_reply *r, char *err, size_t errlen)
{
    static const char what[] = "malformed stream from LLM";
    json_error_t je;
    json_t *root, *choices, *choice, *delta;
    int rc = -1;

    memset(r, 0, sizeof *r);
    if (llm_is_word(data, len, "[DONE]")) {
        r->done = 1;
        return 0;
    }
    if (!(root = json_loadb(data, len, 0, &je))) {
        snprintf(err, errlen, "%s: %s", what, je.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: a chunk is not an object", what);
        goto done;
    }
    if (llm_error_event(root, err, errlen))
        goto done;
    /* A usage chunk has no choices; anything else here must be a list. */
    choices = json_object_get(root, "choices");
    choice = json_array_get(choices, 0);
    delta = json_object_get(choice, "delta");
    if ((choices && !json_is_array(choices)) || (choice && !json_is_object(choice)) ||
        (delta && !json_is_object(delta))) {
        snprintf(err, errlen, "%s: bad choices[0].delta", what);
        goto done;
    }
    rc = llm_take_fields(root, choice, delta, r, what, err, errlen);
done:
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------ the call -- */

static void llm_free(llm_call *c)
{
    if (c->deadline)
        event_free(c->deadline);
    if (c->wake)
        event_free(c->wake);
    sse_parser_free(&c->sse);
    if (c->key)
        explicit_bzero(c->key, strlen(c->key));
    if (c->auth)
        explicit_bzero(c->auth, strlen(c->auth));
    free(c->key);
    free(c->auth);
    free(c->url);
    free(c->body);
    free(c->cfg_model);
    buf_release(&c->whole);
    buf_release(&c->answer);
    free(c->model);
    free(c->finish);
    free(c);
}

/* Report the outcome and free the call.  No transfer may be in flight.
 * error (ignored on RAGD_OK) is printf-style. */
static void llm_finish(llm_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void llm_finish(llm_call *c, int status, const char *fmt, ...)
{
    const char *model = c->model ? c->model : c->cfg_model;
    char msg[sizeof c->error];
    va_list ap;

    metrics_add(obs.llm_calls, 1, status == RAGD_OK ? "ok" : status == RAGD_ECANCELED ?
                                  "cancelled" : "error");
    if (status == RAGD_OK) {
        c->cb.on_done(c->arg, RAGD_OK, c->answer.p ? c->answer.p : "", model, c->finish, NULL);
    } else {
        va_start(ap, fmt);
        mask_vprintf(msg, sizeof msg, c->key, fmt, ap);
        va_end(ap);
        c->cb.on_done(c->arg, status, NULL, model, NULL, msg);
    }
    llm_free(c);
}

/* Decide the outcome (the first decision wins); the caller aborts the
 * transfer, whose completion then reports it. */
static void llm_end(llm_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void llm_end(llm_call *c, int status, const char *fmt, ...)
{
    va_list ap;

    if (c->end_status)
        return;
    c->end_status = status;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

/* One piece of the answer: keep it and, when streaming, hand it over.
 * Non-zero when the call must stop. */
static int llm_token(llm_call *c, const char *piece, size_t len)
{
    if (buf_add(&c->answer, piece, len, LLM_MAX_ANSWER) != 0) {
        llm_end(c, RAGD_ERR, "LLM answer larger than %u bytes, or out of memory", LLM_MAX_ANSWER);
        return 1;
    }
    if (!c->stream || !c->cb.on_token)
        return 0;
    c->ntokens++;
    metrics_add(obs.llm_tokens, 1);
    if (c->cb.on_token(c->arg, piece, len) != 0)
        llm_end(c, RAGD_ECANCELED, "cancelled");
    return c->end_status != 0; /* on_token may also have called llm_cancel */
}

/* Keep what one parsed chunk says.  Non-zero stops the parser. */
static int llm_take_chunk(llm_call *c, llm_reply *r)
{
    if (r->done) {
        c->saw_done = 1;
        return 1;
    }
    if (r->model && !c->model) {
        c->model = r->model;
        r->model = NULL;
    }
    if (r->finish_reason) {
        free(c->finish);
        c->finish = r->finish_reason;
        r->finish_reason = NULL;
    }
    return r->len ? llm_token(c, r->content, r->len) : 0;
}

static int llm_on_event(void *arg, const char *event, const char *data, size_t len)
{
    llm_call *c = arg;
    char err[sizeof c->error];
    llm_reply r;
    int rc;

    (void)event; /* chat streams send unnamed events; errors come as data */
    if (llm_parse_chunk(data, len, &r, err, sizeof err) != 0) {
        llm_end(c, RAGD_ERR, "%s", err);
        return 1;
    }
    rc = llm_take_chunk(c, &r);
    llm_reply_release(&r);
    return rc;
}

/* How to read a streamed request's body, from its status and type. */
static int llm_body_kind(llm_call *c, long status)
{
    const char *type;

    if (status != 200)
        return LLM_BODY_WHOLE;
    type = httpc_header(c->xfer, "Content-Type");
    return type && strncasecmp(type, "application/json", 16) == 0 ? LLM_BODY_WHOLE
                                                                 : LLM_BODY_SSE;
}

/* on_data without the in_data bookkeeping.  Non-zero aborts the transfer. */
static int llm_take_data(llm_call *c, long status, const char *data, size_t len)
{
    int rc;

    if (c->end_status)
        return 1;
    if (c->body_kind == LLM_BODY_UNKNOWN) {
        c->body_kind = llm_body_kind(c, status);
        if (c->body_kind == LLM_BODY_SSE && !(c->sse = sse_parser_new(c->max_event, llm_on_event, c))) {
            llm_end(c, RAGD_ERR, "out of memory");
            return 1;
        }
    }
    if (c->body_kind == LLM_BODY_WHOLE) {
        size_t max = status == 200 ? LLM_MAX_ANSWER : LLM_MAX_ERROR_BODY;
        if (buf_add(&c->whole, data, len, max) == 0 || status != 200)
            return 0; /* an error body is only read for its message: cut it */
        llm_end(c, RAGD_ERR, "LLM answer larger than %u bytes, or out of memory", LLM_MAX_ANSWER);
        return 1;
    }
    if (c->saw_done)
        return 0; /* let the transfer end by itself: the connection is reused */
    rc = sse_parser_feed(c->sse, data, len);
    if (rc < 0)
        llm_end(c, RAGD_ERR, "malformed stream from LLM: an event is larger than %zu bytes",
                c->max_event);
    return c->end_status != 0;
}

static int llm_on_data(void *arg, long status, const char *data, size_t len)
{
    llm_call *c = arg;
    int rc;

    c->in_data = 1;
    rc = llm_take_data(c, status, data, len);
    c->in_data = 0;
    return rc;
}

static int llm_retryable(long http_status)
{
    return http_status == 429 || (http_status >= 500 && http_status <= 599);
}

/* A non-200 answer: retry once if the status and the deadline allow, or
 * fail with the status and the upstream's message. */
static void llm_http_failed(llm_call *c, long http_status, const char *body, size_t len,
                            int64_t retry_after_ms)
{
    int64_t wait = retry_after_ms >= 0 ? retry_after_ms : LLM_RETRY_DEFAULT_MS;
    struct timeval tv = clock_timeval(wait);
    char msg[sizeof c->error];

    if (llm_retryable(http_status) && c->attempts == 1 && c->ntokens == 0 &&
        clock_ms() + wait + LLM_RETRY_MIN_LEFT_MS < c->deadline_ms &&
        evtimer_add(c->wake, &tv) == 0) {
        metrics_add(obs.llm_retries, 1);
        return;
    }
    llm_http_error(http_status, body, len, c->key, msg, sizeof msg);
    llm_finish(c, RAGD_ERR, "%s", msg);
}

/* A whole body (asked for, or what a streamed request got instead). */
static void llm_whole_done(llm_call *c, const char *body, size_t len)
{
    llm_reply r;

    if (llm_parse_response(body, len, &r, c->error, sizeof c->error) != 0) {
        llm_finish(c, RAGD_ERR, "%s", c->error);
        return;
    }
    c->model = r.model;
    c->finish = r.finish_reason;
    r.model = r.finish_reason = NULL;
    llm_token(c, r.content, r.len);
    llm_reply_release(&r);
    if (c->end_status)
        llm_finish(c, c->end_status, "%s", c->error);
    else
        llm_finish(c, RAGD_OK, NULL);
}

/* The end of an SSE body: complete only if the upstream said so. */
static void llm_stream_done(llm_call *c, int status, const char *error)
{
    if (c->saw_done || c->finish)
        llm_finish(c, RAGD_OK, NULL);
    else if (status == RAGD_OK)
        llm_finish(c, RAGD_ERR, "LLM stream ended early");
    else
        llm_finish(c, RAGD_ERR, "LLM stream ended early: %s", error);
}

static void llm_http_done(void *arg, int status, long http_status, const char *body, size_t len,
                          const char *error)
{
    llm_call *c = arg;
    int64_t retry_after = -1;

    if (status == RAGD_OK && llm_retryable(http_status))
        retry_after = llm_retry_after_ms(httpc_header(c->xfer, "Retry-After"), time(NULL),
                                         LLM_RETRY_MAX_MS);
    /* A streamed answer without a body byte still has a kind: an empty
     * event stream ended early, an empty JSON body is malformed. */
    if (c->stream && status == RAGD_OK && c->body_kind == LLM_BODY_UNKNOWN)
        c->body_kind = llm_body_kind(c, http_status);
    c->xfer = NULL;
    if (c->end_status) {
        llm_finish(c, c->end_status, "%s", c->error);
    } else if (c->body_kind == LLM_BODY_SSE) {
        llm_stream_done(c, status, error);
    } else if (status != RAGD_OK) {
        llm_finish(c, status == RAGD_ETIMEDOUT || status == RAGD_ECANCELED ? status : RAGD_ERR,
                   "LLM request failed: %s", error);
    } else if (http_status != 200) {
        if (c->stream)
            llm_http_failed(c, http_status, c->whole.p, c->whole.len, retry_after);
        else
            llm_http_failed(c, http_status, body, len, retry_after);
    } else if (c->stream) {
        llm_whole_done(c, c->whole.p ? c->whole.p : "", c->whole.len);
    } else {
        llm_whole_done(c, body, len);
    }
}

/* Start an attempt. */
static int llm_send(llm_call *c)
{
    const char *headers[3] = {"Content-Type: application/json", c->auth, NULL};
    ragd_http_request req = {0};
    int64_t left = c->deadline_ms - clock_ms();

    c->attempts++;
    c->body_kind = LLM_BODY_UNKNOWN;
    c->whole.len = 0;
    sse_parser_free(&c->sse);
    req.method = "POST";
    req.url = c->url;
    req.headers = headers;
    req.body = c->body;
    req.body_len = strlen(c->body);
    /* The deadline timer ends the call; libcurl's limit is only a backstop,
     * later, so it never wins that race. */
    req.timeout_ms = (long)(left > 1 ? left : 1) + LLM_BACKSTOP_MS;
    req.max_response = LLM_MAX_ANSWER;
    req.on_data = c->stream ? llm_on_data : NULL;
    return httpc_start(c->http, &req, llm_http_done, c, &c->xfer);
}

/* The retry wait is over, or a cancel is to be delivered. */
static void llm_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    llm_call *c = arg;

    (void)fd;
    (void)what;
    if (c->end_status)
        llm_finish(c, c->end_status, "%s", c->error);
    else if (llm_send(c) != RAGD_OK)
        llm_finish(c, RAGD_ERR, "LLM request failed: cannot start the retry");
}

static void llm_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    llm_call *c = arg;

    (void)fd;
    (void)what;
    llm_end(c, RAGD_ETIMEDOUT, "LLM did not answer before the deadline");
    if (c->xfer)
        httpc_cancel(c->http, c->xfer); /* harmless if already cancelled */
    else
        llm_finish(c, c->end_status, "%s", c->error);
}

/* Copy what the call keeps of cfg: url, model, key. */
static int llm_copy_config(llm_call *c, const llm_config *cfg)
{
    if (!(c->url = url_join(cfg->url, "/chat/completions")))
        return -1;
    if (!(c->cfg_model = strdup(cfg->model)))
        return -1;
    c->max_event = cfg->max_event ? cfg->max_event : LLM_MAX_EVENT;
    if (!cfg->api_key || !*cfg->api_key)
        return 0;
    if (!(c->key = strdup(cfg->api_key)) ||
        asprintf(&c->auth, "Authorization: Bearer %s", cfg->api_key) < 0) {
        c->auth = NULL;
        return -1;
    }
    return 0;
}

int llm_start(httpc *http, struct event_base *base, const llm_config *cfg, const char *system,
              const char *user, int stream, int64_t deadline_ms, const llm_callbacks *cb,
              void *arg, llm_call **out)
{
    llm_call *c;
    int64_t left = deadline_ms - clock_ms();
    struct timeval tv = {0, 0};
    int rc = RAGD_ENOMEM;

    if (!http || !base || !cfg || !cfg->url || !cfg->model || !user || !cb || !cb->on_done)
        return RAGD_EINVAL;
    if (!(c = calloc(1, sizeof *c)))
        return RAGD_ENOMEM;
    c->http = http;
    c->base = base;
    c->cb = *cb;
    c->arg = arg;
    c->stream = stream;
    c->deadline_ms = deadline_ms;
    if (llm_copy_config(c, cfg) != 0)
        goto fail;
    if (!(c->body = llm_request_body(cfg, system, user, stream))) {
        rc = RAGD_EINVAL; /* most likely a string that is not UTF-8 */
        goto fail;
    }
    if (!(c->deadline = evtimer_new(base, llm_deadline_cb, c)) ||
        !(c->wake = evtimer_new(base, llm_wake_cb, c)))
        goto fail;
    if (left > 0) {
        tv = clock_timeval(left);
    }
    if (evtimer_add(c->deadline, &tv) != 0)
        goto fail;
    /* Past the deadline already: no request, the timer reports it. */
    if (left > 0 && (rc = llm_send(c)) != RAGD_OK)
        goto fail;
    if (out)
        *out = c;
    return RAGD_OK;
fail:
    llm_free(c);
    return rc;
}

void llm_pause(llm_call *c, int paused)
{
    if (c->xfer && !c->end_status)
        httpc_pause(c->http, c->xfer, paused);
}

void llm_cancel(llm_call *c)
{
    static const struct timeval now = {0, 0};

    if (c->end_status)
        return; /* already ending; its on_done is on the way */
    llm_end(c, RAGD_ECANCELED, "cancelled");
    if (c->in_data)
        return; /* on_data's non-zero return aborts the transfer */
    if (c->xfer)
        httpc_cancel(c->http, c->xfer);
    else if (evtimer_add(c->wake, &now) != 0)
        return; /* the deadline timer will deliver it */
}
