/*
 * hedge -- see hedge.h.  An operation has up to two transfers, x[0] (the
 * original) and x[1] (the hedge), and a timer that sends the hedge.  The
 * first answer delivered to the caller settles it; every later callback is
 * a loser's and is swallowed.  The operation is freed once no transfer owes
 * a callback any more.
 *
 * The operation is handed to the caller as a ragd_http_xfer pointer (the
 * type sources hold for a transfer), converted back in hedge_cancel; it is
 * never dereferenced as one.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "hedge.h"
#include "obs.h"

typedef struct hedge_op {
    hedge *h;
    httpc *c;
    struct event *timer;      /* sends the hedge; NULL when none may be sent */
    ragd_http_request req;    /* the copy the hedge is sent with */
    char **headers;           /* owned copies behind req */
    ragd_http_xfer *x[2];     /* the transfers whose callback is owed */
    ragd_http_cb cb;
    void *arg;
    hedge_won_fn won;
    uintptr_t tag;
    int64_t start_ms;
    int settled;              /* cb has run */
    int cancelled;            /* the caller cancelled */
} hedge_op;

typedef struct hedge_leg {
    hedge_op *op;
    int i;
} hedge_leg;

void hedge_init(hedge *h, const char *name, double share, int64_t floor_ms)
{
    memset(h, 0, sizeof *h);
    h->name = name;
    h->share = share;
    h->floor_ms = floor_ms;
    atomic_init(&h->p95, -1);
}

/* The first position in sorted[0..n) whose sample is above v (with
 * above == 0: at or above v). */
static unsigned hedge_bound(const int64_t *sorted, unsigned n, int64_t v, int above)
{
    unsigned lo = 0, hi = n;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (sorted[mid] < v || (above && sorted[mid] == v))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Put v into the sorted copy; when the ring is full, the sample v is
 * about to overwrite (ring[next], the oldest) leaves the copy first. */
static void hedge_sort_in(hedge *h, int64_t v)
{
    unsigned n = h->nring, at;

    if (n == HEDGE_RING) {
        at = hedge_bound(h->sorted, n, h->ring[h->next], 0);
        assert(at < n && h->sorted[at] == h->ring[h->next]);
        memmove(h->sorted + at, h->sorted + at + 1, (--n - at) * sizeof *h->sorted);
    }
    at = hedge_bound(h->sorted, n, v, 1);
    memmove(h->sorted + at + 1, h->sorted + at, (n - at) * sizeof *h->sorted);
    h->sorted[at] = v;
}

void hedge_observe(hedge *h, int64_t ms)
{
    int64_t v = ms < 0 ? 0 : ms;

    spin_lock(&h->lock);
    hedge_sort_in(h, v);
    h->ring[h->next] = v;
    h->next = (h->next + 1) % HEDGE_RING;
    if (h->nring < HEDGE_RING)
        h->nring++;
    /* Nearest rank: the smallest sample at or above 95% of them. */
    atomic_store_explicit(&h->p95, h->nring < HEDGE_MIN_SAMPLES
                                       ? -1 : h->sorted[(h->nring * 95 + 99) / 100 - 1],
                          memory_order_relaxed);
    spin_unlock(&h->lock);
}

int64_t hedge_p95(const hedge *h)
{
    return atomic_load_explicit(&((hedge *)h)->p95, memory_order_relaxed);
}

int64_t hedge_delay_ms(const hedge *h)
{
    int64_t p = hedge_p95(h);

    if (p < 0)
        return -1;
    return p > h->floor_ms ? p : h->floor_ms;
}

void hedge_credit(hedge *h)
{
    spin_lock(&h->lock);
    h->tokens += h->share;
    if (h->tokens > HEDGE_BURST)
        h->tokens = HEDGE_BURST;
    spin_unlock(&h->lock);
}

int hedge_take(hedge *h)
{
    int took = 0;

    spin_lock(&h->lock);
    /* A little slack so that 20 credits of 0.05 make a whole token. */
    if (h->share > 0 && h->tokens >= 1.0 - 1e-9) {
        h->tokens -= 1.0;
        if (h->tokens < 0)
            h->tokens = 0;
        took = 1;
    }
    spin_unlock(&h->lock);
    return took;
}

/* ------------------------------------------------------- operations -- */

static void hedge_op_free(hedge_op *op)
{
    if (op->timer)
        event_free(op->timer);
    if (op->headers)
        for (char **p = op->headers; *p; p++)
            free(*p);
    free(op->headers);
    free((char *)op->req.url);
    free((char *)op->req.method);
    free((char *)op->req.body);
    free(op);
}

static void hedge_stop_timer(hedge_op *op)
{
    if (op->timer) {
        event_free(op->timer);
        op->timer = NULL;
    }
}

static void hedge_leg_cb(void *arg, int status, long http_status, const char *body, size_t len,
                         const char *error)
{
    hedge_leg *leg = arg;
    hedge_op *op = leg->op;
    int i = leg->i, other = !leg->i;

    free(leg);
    op->x[i] = NULL;
    /* An error while the other transfer may still answer is not the
     * answer: wait for that one. */
    if (!op->settled && (status == RAGD_OK || !op->x[other] || op->cancelled)) {
        op->settled = 1;
        hedge_stop_timer(op);
        if (status == RAGD_OK && op->h)
            hedge_observe(op->h, clock_ms() - op->start_ms);
        if (i == 1 && status == RAGD_OK) {
            spin_lock(&op->h->lock);
            op->h->won++;
            spin_unlock(&op->h->lock);
            metrics_add(obs.hedges, 1, op->h->name, "won");
            if (op->won)
                op->won(op->tag);
        }
        if (op->x[other])
            httpc_cancel(op->c, op->x[other]);
        op->cb(op->arg, status, http_status, body, len, error);
    }
    if (!op->x[0] && !op->x[1])
        hedge_op_free(op);
}

/* Start leg i of op.  Returns 0 or a RAGD_* error. */
static int hedge_leg_start(hedge_op *op, int i, const ragd_http_request *req)
{
    hedge_leg *leg = malloc(sizeof *leg);
    int rc;

    if (!leg)
        return RAGD_ENOMEM;
    leg->op = op;
    leg->i = i;
    rc = httpc_start(op->c, req, hedge_leg_cb, leg, &op->x[i]);
    if (rc != RAGD_OK)
        free(leg);
    return rc;
}

static void hedge_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    hedge_op *op = arg;

    (void)fd;
    (void)what;
    hedge_stop_timer(op);
    if (op->settled || op->cancelled || !op->x[0] || !hedge_take(op->h))
        return;
    if (hedge_leg_start(op, 1, &op->req) == RAGD_OK) {
        spin_lock(&op->h->lock);
        op->h->sent++;
        spin_unlock(&op->h->lock);
        metrics_add(obs.hedges, 1, op->h->name, "sent");
    }
}

static char *hedge_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Keep a copy of req for the hedge, and arm the timer that sends it. */
static int hedge_arm(hedge_op *op, struct event_base *base, const ragd_http_request *req,
                     int64_t delay_ms)
{
    size_t n = 0;
    struct timeval tv = clock_timeval(delay_ms);

    op->req = *req;
    op->req.url = op->req.method = op->req.body = NULL;
    op->req.headers = NULL;
    while (req->headers && req->headers[n])
        n++;
    if (!(op->headers = calloc(n + 1, sizeof *op->headers)))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!(op->headers[i] = strdup(req->headers[i])))
            return -1;
    op->req.headers = (const char *const *)op->headers;
    if (!(op->req.url = strdup(req->url)) ||
        (req->method && !(op->req.method = strdup(req->method))) ||
        (req->body && !(op->req.body = hedge_dup(req->body, req->body_len))))
        return -1;
    if (!(op->timer = evtimer_new(base, hedge_timer_cb, op)) || evtimer_add(op->timer, &tv))
        return -1;
    return 0;
}

int hedge_start(hedge *h, struct event_base *base, httpc *c, const ragd_http_request *req,
                ragd_http_cb cb, void *arg, hedge_won_fn won, uintptr_t tag,
                ragd_http_xfer **out)
{
    hedge_op *op = calloc(1, sizeof *op);
    int64_t delay = h ? hedge_delay_ms(h) : -1;
    int rc;

    if (!op)
        return RAGD_ENOMEM;
    op->h = h;
    op->c = c;
    op->cb = cb;
    op->arg = arg;
    op->won = won;
    op->tag = tag;
    op->start_ms = clock_ms();
    if (h)
        hedge_credit(h);
    /* Without a budget or a p95 there is nothing to arm; without memory
     * for the copy the request simply goes unhedged. */
    if (delay >= 0 && h->share > 0 && !req->on_data && hedge_arm(op, base, req, delay) != 0)
        hedge_stop_timer(op);
    if ((rc = hedge_leg_start(op, 0, req)) != RAGD_OK) {
        hedge_op_free(op);
        return rc;
    }
    if (out)
        *out = (ragd_http_xfer *)op;
    return RAGD_OK;
}

void hedge_cancel(ragd_http_xfer *x)
{
    hedge_op *op = (hedge_op *)x;

    if (op->settled || op->cancelled)
        return;
    op->cancelled = 1;
    hedge_stop_timer(op);
    for (int i = 0; i < 2; i++)
        if (op->x[i])
            httpc_cancel(op->c, op->x[i]);
}
