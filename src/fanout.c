/*
 * fanout -- concurrent source searches with per-source deadlines.
 *
 * Invariants: f->pending counts slots in FANOUT_PENDING; a slot's timer
 * exists only while it is pending; f->finish is activated once, when pending
 * reaches zero, so the owner's done callback always runs from the loop and
 * never inside fanout_start or a source's callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "fanout.h"
#include "hits.h"

struct fanout {
    struct event_base *base;
    fanout_slot **slots;
    size_t n, pending;
    int64_t start_us, end_us;
    struct event *finish;
    fanout_done_cb done;
    fanout_settle_cb on_settle;
    void *arg;
};

const char *fanout_state_name(fanout_state s)
{
    static const char *const names[] = {"pending", "ok", "error", "timeout", "disabled"};
    return names[s];
}

static void fanout_slot_free(fanout_slot *s)
{
    instance_unref(s->inst);
    if (s->timer)
        event_free(s->timer);
    hits_release(s->hits, s->nhits);
    free(s->error);
    free(s);
}

static int fanout_copy_hits(fanout_slot *s, const ragd_hit *hits, size_t n)
{
    if (hits_copy(hits, n, &s->hits) != 0)
        return -1;
    s->nhits = n;
    return 0;
}

/* Move a pending slot to a final state; finish the fanout after the last. */
static void fanout_settle(fanout_slot *s, fanout_state state, const char *error)
{
    fanout *f = s->f;

    s->state = state;
    s->end_us = clock_us();
    if (error && !s->error)
        s->error = strdup(error);
    if (s->timer) {
        event_free(s->timer);
        s->timer = NULL;
    }
    if (f->on_settle)
        f->on_settle(f->arg, s);
    if (--f->pending == 0) {
        f->end_us = s->end_us;
        event_active(f->finish, EV_TIMEOUT, 0);
    }
}

static void fanout_slot_cb(void *arg, int status, const ragd_hit *hits, size_t nhits,
                           const char *error)
{
    fanout_slot *s = arg;

    s->inst->inflight--;
    s->called_back = 1;
    s->op = NULL;
    if (!s->f) {
        fanout_slot_free(s); /* orphan: its request is gone */
        return;
    }
    if (s->state != FANOUT_PENDING)
        return; /* late: the deadline already settled it */
    if (status == RAGD_OK) {
        if (fanout_copy_hits(s, hits, nhits) != 0)
            fanout_settle(s, FANOUT_ERROR, "out of memory copying results");
        else
            fanout_settle(s, FANOUT_OK, NULL);
    } else if (status == RAGD_ETIMEDOUT) {
        fanout_settle(s, FANOUT_TIMEOUT, error ? error : "timed out");
    } else {
        fanout_settle(s, FANOUT_ERROR, error ? error : "failed");
    }
}

/* Ask the source to stop, once: a slot can be cancelled by its deadline and
 * again when its fanout is freed. */
static void fanout_cancel_op(fanout_slot *s)
{
    if (s->called_back || s->cancelled || !s->op || !s->inst->type->cancel)
        return;
    s->cancelled = 1;
    s->inst->type->cancel(s->inst->self, s->op);
}

static void fanout_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    fanout_slot *s = arg;
    char msg[96];

    (void)fd;
    (void)what;
    snprintf(msg, sizeof msg, "no answer within %lld ms",
             (long long)((clock_us() - s->start_us + 500) / 1000));
    fanout_settle(s, FANOUT_TIMEOUT, msg);
    fanout_cancel_op(s);
}

static void fanout_finish_cb(evutil_socket_t fd, short what, void *arg)
{
    fanout *f = arg;

    (void)fd;
    (void)what;
    f->done(f->arg, f);
}

/* Start one instance's search in slot s.  Settles s at once when the
 * instance is disabled or its search cannot start. */
static int fanout_launch(fanout *f, fanout_slot *s, const char *query, int k, int64_t deadline_ms)
{
    instance *in = s->inst;
    int64_t now = clock_ms(), own = deadline_ms, left;
    ragd_query q;
    struct timeval tv;
    int rc;
    char msg[64];

    s->start_us = clock_us();
    f->pending++;
    if (!in->enabled) {
        fanout_settle(s, FANOUT_DISABLED, NULL);
        return 0;
    }
    if (in->timeout_ms && now + in->timeout_ms < own)
        own = now + in->timeout_ms;
    left = own > now ? own - now : 0;
    tv = clock_timeval(left);
    /* libevent times a new timer from the loop's cached clock, which lags
     * by however long this iteration has run (launching the sources before
     * this one included); refresh it so no deadline is cut short. */
    event_base_update_cache_time(f->base);
    if (!(s->timer = evtimer_new(f->base, fanout_deadline_cb, s)) || evtimer_add(s->timer, &tv)) {
        s->called_back = 1; /* never started, so nothing will call back */
        return -1;
    }
    q.text = query;
    q.k = k;
    q.deadline_ms = own;
    rc = in->type->search(in->self, &q, fanout_slot_cb, s, &s->op);
    if (rc != RAGD_OK) {
        s->called_back = 1; /* the callback rule: it never will */
        snprintf(msg, sizeof msg, "search could not start (error %d)", rc);
        fanout_settle(s, FANOUT_ERROR, msg);
        return 0;
    }
    in->inflight++;
    return 0;
}

fanout *fanout_start(struct event_base *base, instance *const *insts, size_t n,
                     const char *query, int k, int64_t deadline_ms, fanout_done_cb done,
                     fanout_settle_cb on_settle, void *arg)
{
    fanout *f = calloc(1, sizeof *f);

    if (!f || !(f->slots = calloc(n ? n : 1, sizeof *f->slots)))
        goto fail;
    f->base = base;
    f->done = done;
    f->on_settle = on_settle;
    f->arg = arg;
    f->start_us = clock_us();
    if (!(f->finish = evtimer_new(base, fanout_finish_cb, f)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        fanout_slot *s = calloc(1, sizeof *s);
        if (!s)
            goto fail;
        s->f = f;
        s->inst = insts[i];
        instance_ref(s->inst);
        f->slots[f->n++] = s;
        if (fanout_launch(f, s, query, k, deadline_ms) != 0)
            goto fail;
    }
    if (n == 0)
        event_active(f->finish, EV_TIMEOUT, 0);
    return f;
fail:
    fanout_free(&f);
    return NULL;
}

fanout_slot *const *fanout_slots(const fanout *f, size_t *n)
{
    *n = f->n;
    return f->slots;
}

int64_t fanout_elapsed_us(const fanout *f)
{
    return (f->pending == 0 && f->end_us ? f->end_us : clock_us()) - f->start_us;
}

void fanout_free(fanout **fp)
{
    fanout *f = *fp;

    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        fanout_slot *s = f->slots[i];
        if (s->timer) {
            event_free(s->timer);
            s->timer = NULL;
        }
        if (s->called_back || s->state == FANOUT_DISABLED) {
            fanout_slot_free(s);
        } else {
            s->f = NULL;
            fanout_cancel_op(s);
        }
    }
    if (f->finish)
        event_free(f->finish);
    free(f->slots);
    free(f);
    *fp = NULL;
}
