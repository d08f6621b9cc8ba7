/*
 * httpc -- libcurl multi on libevent.
 *
 * The shape is curl's hiperfifo.c: libcurl tells us which sockets to watch
 * (httpc_socket_cb) and when to wake it (httpc_timer_cb); libevent tells
 * libcurl when a socket is ready (httpc_event_cb) or the timer fired
 * (httpc_timeout_cb), and after each nudge httpc_check_done collects
 * finished transfers.  libcurl must never be called from inside its own
 * timer callback, so httpc_timer_cb only arms an event.
 *
 * Transfer lifetime: an xfer is created by httpc_start and freed right after
 * its callback has run, in exactly one of three places: httpc_check_done
 * (finished), httpc_deliver_cb (cancelled, delivered on a later iteration so
 * the canceller is never re-entered) and httpc_free (shutdown).  The easy
 * handle of a transfer that finished in the multi outlives it: it is reset
 * and kept, up to HTTPC_IDLE_MAX, for the next httpc_start.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "buf.h"
#include "clock.h"
#include "httpc.h"

#define HTTPC_DEFAULT_MAX (8u << 20)

/* Easy handles kept for reuse once their transfer is over: a new one costs
 * allocations (its receive buffer among them) that a reset one keeps. */
#define HTTPC_IDLE_MAX 128

struct ragd_http_xfer {
    httpc *c;
    CURL *easy;
    struct curl_slist *headers;
    ragd_http_cb cb;
    void *arg;
    int (*on_data)(void *, long, const char *, size_t);
    buf body;               /* collected response body, at most max bytes */
    size_t max;
    int too_large;          /* the body passed max: the write callback stopped it */
    int aborted_by_data;    /* on_data asked to stop */
    int reusable;           /* finished in the multi, never paused: its handle may be reset */
    int paused;             /* httpc_pause was ever called on it */
    struct event *deliver;  /* fires the callback of a cancelled xfer */
    char errbuf[CURL_ERROR_SIZE];
    struct ragd_http_xfer *prev, *next;   /* c->xfers, every live xfer */
};

/* Transfers in flight on every client of the process (one per loop). */
static atomic_size_t httpc_all;

struct httpc {
    struct event_base *base;
    size_t max_response;
    CURLM *multi;
    struct event *timer;
    atomic_size_t active;    /* read by /metrics on any loop */
    httpc_xfer *xfers;
    CURL *idle[HTTPC_IDLE_MAX];   /* reset easy handles, owned here */
    size_t nidle;
};

/* Per-socket state that libcurl asks us to watch: one event for the
 * socket's life, and what it watches for. */
typedef struct httpc_sock {
    struct event *ev;
    short kind;
} httpc_sock;

static void httpc_check_done(httpc *c);

static void httpc_link(httpc *c, httpc_xfer *x)
{
    x->next = c->xfers;
    if (c->xfers)
        c->xfers->prev = x;
    c->xfers = x;
    c->active++;
    atomic_fetch_add(&httpc_all, 1);
}

static void httpc_unlink(httpc *c, httpc_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        c->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    c->active--;
    atomic_fetch_sub(&httpc_all, 1);
}

static void httpc_xfer_free(httpc_xfer *x)
{
    httpc *c = x->c;

    /* curl_easy_reset keeps the handle's buffers and leaves its options as
     * curl_easy_init does; a handle that was paused or taken out early
     * could carry state of that transfer, so it is not reused. */
    if (x->easy && x->reusable && c->nidle < HTTPC_IDLE_MAX) {
        curl_easy_reset(x->easy);
        c->idle[c->nidle++] = x->easy;
    } else if (x->easy) {
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    if (x->deliver)
        event_free(x->deliver);
    buf_release(&x->body);
    free(x);
}

/* Run x's callback once and free it.  x must already be out of the multi. */
static void httpc_finish(httpc_xfer *x, int status, long http_status, const char *error)
{
    httpc_unlink(x->c, x);
    x->cb(x->arg, status, http_status, x->body.p ? x->body.p : "", x->body.len, error);
    httpc_xfer_free(x);
}

static void httpc_event_cb(evutil_socket_t fd, short what, void *arg)
{
    httpc *c = arg;
    int running;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

    curl_multi_socket_action(c->multi, fd, action, &running);
    httpc_check_done(c);
}

static void httpc_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    httpc *c = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    httpc_check_done(c);
}

static int httpc_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    httpc *c = arg;
    struct timeval tv = clock_timeval(timeout_ms < 0 ? 0 : timeout_ms);

    (void)multi;
    if (timeout_ms < 0)
        evtimer_del(c->timer);
    else
        evtimer_add(c->timer, &tv);
    return 0;
}

static int httpc_socket_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
    httpc *c = arg;
    httpc_sock *hs = sockp;
    short kind;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (hs) {
            if (hs->ev)
                event_free(hs->ev);
            free(hs);
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
           ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (hs && hs->kind == kind)
        return 0; /* libcurl repeats itself; the socket is watched already */
    if (!hs) {
        if (!(hs = calloc(1, sizeof *hs)))
            return -1;
        curl_multi_assign(c->multi, s, hs);
        hs->ev = event_new(c->base, s, kind, httpc_event_cb, c);
    } else {
        /* The same event, re-aimed: no allocation per change of interest. */
        event_del(hs->ev);
        event_assign(hs->ev, c->base, s, kind, httpc_event_cb, c);
    }
    if (!hs->ev)
        return -1;
    hs->kind = kind;
    event_add(hs->ev, NULL);
    return 0;
}

static int httpc_status_of(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return RAGD_OK;
    case CURLE_OPERATION_TIMEDOUT: return RAGD_ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY: return RAGD_ENOMEM;
    default: return RAGD_ERR;
    }
}

static void httpc_check_done(httpc *c)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(c->multi, &left))) {
        httpc_xfer *x;
        long code = 0;
        char why[CURL_ERROR_SIZE + 64];
        int status;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        status = httpc_status_of(msg->data.result);
        if (x->too_large) {
            status = RAGD_ERR;
            snprintf(why, sizeof why, "response body larger than %zu bytes", x->max);
        } else if (x->aborted_by_data) {
            status = RAGD_ECANCELED;
            snprintf(why, sizeof why, "cancelled");
        } else {
            snprintf(why, sizeof why, "%s", x->errbuf[0] ? x->errbuf
                     : curl_easy_strerror(msg->data.result));
        }
        curl_multi_remove_handle(c->multi, x->easy);
        x->reusable = !x->paused;
        httpc_finish(x, status, code, status == RAGD_OK ? NULL : why);
    }
}

static size_t httpc_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    httpc_xfer *x = arg;
    size_t n = size * nmemb;

    if (x->on_data) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (x->on_data(x->arg, code, data, n) != 0) {
            x->aborted_by_data = 1;
            return 0;
        }
        return n;
    }
    if (n > x->max || x->body.len > x->max - n) {
        x->too_large = 1;
        return 0;
    }
    return buf_add(&x->body, data, n, x->max) == 0 ? n : 0;
}

static int httpc_set_headers(httpc_xfer *x, const ragd_http_request *req)
{
    struct curl_slist *l;

    if (req->headers)
        for (const char *const *h = req->headers; *h; h++) {
            if (!(l = curl_slist_append(x->headers, *h)))
                return -1;
            x->headers = l;
        }
    /* libcurl otherwise sends "Expect: 100-continue" for bodies over 1 KiB
     * and waits up to a second for the server's go-ahead. */
    if (req->body) {
        if (!(l = curl_slist_append(x->headers, "Expect:")))
            return -1;
        x->headers = l;
    }
    return 0;
}

static int httpc_setup(httpc_xfer *x, const ragd_http_request *req)
{
    CURL *e = x->easy;
    int post = req->method && strcmp(req->method, "POST") == 0;

    if (httpc_set_headers(x, req) != 0)
        return -1;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, httpc_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ragd/" PACKAGE_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (req->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    if (x->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    if (post || req->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
        if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "") != CURLE_OK)
            return -1;
    }
    return 0;
}

int httpc_start(httpc *c, const ragd_http_request *req, ragd_http_cb cb, void *arg,
                httpc_xfer **out)
{
    httpc_xfer *x;

    if (!req->url || !cb)
        return RAGD_EINVAL;
    if (!(x = calloc(1, sizeof *x)))
        return RAGD_ENOMEM;
    x->c = c;
    x->cb = cb;
    x->arg = arg;
    x->on_data = req->on_data;
    x->max = req->max_response && req->max_response < c->max_response ? req->max_response
                                                                       : c->max_response;
    x->easy = c->nidle ? c->idle[--c->nidle] : curl_easy_init();
    if (!x->easy || httpc_setup(x, req) != 0)
        goto fail;
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
        goto fail;
    httpc_link(c, x);
    if (out)
        *out = x;
    return RAGD_OK;
fail:
    httpc_xfer_free(x);
    return RAGD_ENOMEM;
}

static void httpc_deliver_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    httpc_finish(arg, RAGD_ECANCELED, 0, "cancelled");
}

void httpc_cancel(httpc *c, httpc_xfer *x)
{
    static const struct timeval now = {0, 0};

    if (x->deliver)
        return; /* already cancelled; its callback is on its way */
    curl_multi_remove_handle(c->multi, x->easy);
    x->deliver = evtimer_new(c->base, httpc_deliver_cb, x);
    if (x->deliver)
        evtimer_add(x->deliver, &now);
    else
        httpc_finish(x, RAGD_ECANCELED, 0, "cancelled");
}

void httpc_pause(httpc *c, httpc_xfer *x, int paused)
{
    (void)c;
    x->paused = 1;
    if (!x->deliver)
        curl_easy_pause(x->easy, paused ? CURLPAUSE_RECV : CURLPAUSE_CONT);
}

const char *httpc_header(httpc_xfer *x, const char *name)
{
    struct curl_header *h;

    /* libcurl keeps the headers of the handle's last transfer until it is
     * reused or freed, so this works in on_data and in the callback. */
    if (curl_easy_header(x->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

void httpc_set_max_response(httpc *c, size_t max)
{
    c->max_response = max;
}

size_t httpc_active_all(void)
{
    return atomic_load(&httpc_all);
}

size_t httpc_active(const httpc *c)
{
    return atomic_load(&((httpc *)c)->active);
}

httpc *httpc_new(struct event_base *base, char *err, size_t errlen)
{
    httpc *c = calloc(1, sizeof *c);

    if (!c)
        goto fail;
    c->base = base;
    c->max_response = HTTPC_DEFAULT_MAX;
    if (!(c->multi = curl_multi_init()) || !(c->timer = evtimer_new(base, httpc_timeout_cb, c)))
        goto fail;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, httpc_socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, httpc_timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
fail:
    snprintf(err, errlen, "cannot create the HTTP client: out of memory");
    httpc_free(&c);
    return NULL;
}

void httpc_free(httpc **cp)
{
    httpc *c = *cp;

    if (!c)
        return;
    while (c->xfers) {
        httpc_xfer *x = c->xfers;
        if (!x->deliver)
            curl_multi_remove_handle(c->multi, x->easy);
        httpc_finish(x, RAGD_ECANCELED, 0, "cancelled: shutting down");
    }
    while (c->nidle)
        curl_easy_cleanup(c->idle[--c->nidle]);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->timer)
        event_free(c->timer);
    free(c);
    *cp = NULL;
}
