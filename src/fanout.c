/*
 * fanout -- concurrent source searches with per-source deadlines.
 *
 * A slot is a fanout_entry (the owner's fanout_slot first) with three
 * pieces of state, and fanout_slot_move is the only function that changes
 * any of them, asserting each change is allowed:
 *
 *   result (pub.state)  PENDING --settle--> OK | ERROR | TIMEOUT | DISABLED | SKIPPED
 *   source (src)        IDLE --ask--> ASKED --cancel--> CANCELLED
 *                       IDLE --skip--> DONE    ASKED | CANCELLED --answer--> DONE
 *                                              ASKED --refuse--> DONE
 *   owner (f)           its fanout --orphan--> NULL (its source still owes a callback)
 *
 * Invariants: f->pending counts the fanout's slots in FANOUT_PENDING; a
 * slot's timer exists only while it is pending and owned; a slot is in the
 * live table exactly while its source owes a callback (ASKED, CANCELLED),
 * and that table is how a callback finds its slot; a slot is freed by its
 * fanout when its source is DONE by then, otherwise by its source's
 * callback once orphaned; f->finish is activated once, when pending reaches
 * zero, so the owner's done callback always runs from the loop and never
 * inside fanout_start or a source's callback.
 *
 * Each instance's circuit breaker (breaker.h) is asked before its source
 * and told every answer, error and timeout of a slot still owned; an
 * answer after cancellation (the client left, the deadline passed) says
 * nothing about the source and is not counted.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "fanout.h"
#include "hits.h"
#include "log.h"

typedef enum fanout_src {
    FANOUT_SRC_IDLE = 0,  /* not asked (yet) */
    FANOUT_SRC_ASKED,     /* search() started: the source owes one callback */
    FANOUT_SRC_CANCELLED, /* asked to stop; still owes its callback */
    FANOUT_SRC_DONE       /* called back, or never will */
} fanout_src;

typedef enum fanout_event {
    FANOUT_EV_ASK,     /* IDLE -> ASKED, just before search() */
    FANOUT_EV_STARTED, /* ASKED: search() returned 0 and named its op */
    FANOUT_EV_REFUSE,  /* ASKED -> DONE: search() returned an error */
    FANOUT_EV_SKIP,    /* IDLE -> DONE: never asked (disabled, cannot filter, or
                        * no timer) */
    FANOUT_EV_CANCEL,  /* ASKED -> CANCELLED */
    FANOUT_EV_ANSWER,  /* ASKED | CANCELLED -> DONE: its callback ran */
    FANOUT_EV_SETTLE,  /* PENDING -> a final state, while owned */
    FANOUT_EV_ORPHAN   /* owned -> orphaned, while its source owes a callback */
} fanout_event;

/* Which of the owner's callbacks is running. */
typedef enum fanout_in { FANOUT_IN_NONE = 0, FANOUT_IN_SETTLE, FANOUT_IN_DONE } fanout_in;

typedef struct fanout_entry {
    fanout_slot pub;              /* first: the owner's view of the slot */
    fanout *f;                    /* NULL when orphaned */
    fanout_src src;
    ragd_op *op;                  /* the source's name for the search, or NULL */
    struct event *timer;          /* the deadline; only while pending and owned */
    uintptr_t id;                 /* the callback's argument; 0 until asked */
    filter *flt;                  /* a reference while the source may use it */
    struct fanout_entry *next_live;
} fanout_entry;

struct fanout {
    struct event_base *base;
    fanout_slot **slots;          /* each the pub of a fanout_entry */
    size_t n, pending;
    int64_t start_us, end_us;
    struct event *finish;
    fanout_done_cb done;
    fanout_settle_cb on_settle;
    void *arg;
    fanout_in in_callback;
    int free_deferred;            /* fanout_free was called from in_callback */
    int done_ran;
    int destroying;
    int k;                        /* the hits asked of each source */
};

/* Slots whose source owes a callback, by callback number: a chained hash
 * with a fixed number of buckets, so asking a source never fails here and
 * chains stay short up to thousands of searches in flight.  One table per
 * loop thread: a source calls back on the thread that asked it, so a
 * number never needs to be found on another loop's table. */
#define FANOUT_LIVE_BUCKETS 4096

static _Thread_local fanout_entry *fanout_live[FANOUT_LIVE_BUCKETS];
static _Thread_local uintptr_t fanout_last_id;
static _Thread_local fanout_stats fanout_counts;
static _Thread_local log_limit fanout_stray_limit;

static void fanout_destroy(fanout *f);

static fanout_entry **fanout_live_bucket(uintptr_t id)
{
    return &fanout_live[id % FANOUT_LIVE_BUCKETS];
}

static void fanout_live_add(fanout_entry *e)
{
    fanout_entry **b;

    if (++fanout_last_id == 0)
        fanout_last_id = 1; /* 0 names no search */
    e->id = fanout_last_id;
    b = fanout_live_bucket(e->id);
    e->next_live = *b;
    *b = e;
    fanout_counts.awaiting++;
}

static fanout_entry *fanout_live_find(uintptr_t id)
{
    for (fanout_entry *e = *fanout_live_bucket(id); e; e = e->next_live)
        if (e->id == id)
            return e;
    return NULL;
}

static void fanout_live_remove(fanout_entry *e)
{
    fanout_entry **pp = fanout_live_bucket(e->id);

    while (*pp != e) {
        assert(*pp);
        pp = &(*pp)->next_live;
    }
    *pp = e->next_live;
    e->next_live = NULL;
    fanout_counts.awaiting--;
}

const char *fanout_state_name(fanout_state s)
{
    static const char *const names[] = {"pending", "ok", "error", "timeout", "disabled",
                                        "skipped"};
    return names[s];
}

static void fanout_stop_timer(fanout_entry *e)
{
    if (e->timer) {
        event_free(e->timer);
        e->timer = NULL;
    }
}

/* The one place a slot's lifecycle changes (see the top of this file).  to
 * is the final state for FANOUT_EV_SETTLE, op the source's op for
 * FANOUT_EV_STARTED; both are ignored otherwise. */
static void fanout_slot_move(fanout_entry *e, fanout_event ev, fanout_state to, ragd_op *op)
{
    instance *in = e->pub.inst;

    switch (ev) {
    case FANOUT_EV_ASK:
        assert(e->src == FANOUT_SRC_IDLE && e->f);
        e->src = FANOUT_SRC_ASKED;
        fanout_live_add(e);
        in->inflight++;
        break;
    case FANOUT_EV_STARTED:
        assert(e->src == FANOUT_SRC_ASKED && !e->op);
        e->op = op;
        break;
    case FANOUT_EV_REFUSE:
    case FANOUT_EV_ANSWER:
        assert(e->src == FANOUT_SRC_ASKED ||
               (ev == FANOUT_EV_ANSWER && e->src == FANOUT_SRC_CANCELLED));
        assert(in->inflight > 0);
        e->src = FANOUT_SRC_DONE;
        e->op = NULL;
        fanout_live_remove(e);
        in->inflight--;
        break;
    case FANOUT_EV_SKIP:
        assert(e->src == FANOUT_SRC_IDLE);
        e->src = FANOUT_SRC_DONE;
        break;
    case FANOUT_EV_CANCEL:
        assert(e->src == FANOUT_SRC_ASKED && e->op);
        e->src = FANOUT_SRC_CANCELLED;
        break;
    case FANOUT_EV_SETTLE:
        assert(e->f && e->pub.state == FANOUT_PENDING && to != FANOUT_PENDING);
        e->pub.state = to;
        e->pub.end_us = clock_us();
        fanout_stop_timer(e);
        break;
    case FANOUT_EV_ORPHAN:
        assert(e->f && (e->src == FANOUT_SRC_ASKED || e->src == FANOUT_SRC_CANCELLED));
        e->f = NULL;
        fanout_stop_timer(e);
        break;
    }
}

/* Free a slot both its fanout and its source are done with. */
static void fanout_entry_free(fanout_entry *e)
{
    assert(e->src == FANOUT_SRC_DONE && (!e->f || e->f->destroying));
    instance_unref(e->pub.inst);
    filter_free(&e->flt);
    fanout_stop_timer(e);
    hits_release(e->pub.hits, e->pub.nhits);
    free(e->pub.error);
    free(e);
}

/* Say in the log what hits_copy had to change in a source's answer: the
 * source is broken, and its author needs to know how. */
static void fanout_log_fixes(const fanout_entry *e, size_t n, const hits_fixes *fx)
{
    char what[3][160];
    int nw = 0;

    if (fx->dropped)
        snprintf(what[nw++], sizeof what[0], "answered %zu hits where %d were asked (the first "
                 "%d kept)", n, e->f->k, e->f->k);
    if (fx->repaired)
        snprintf(what[nw++], sizeof what[0], "%zu strings were not UTF-8 (each invalid byte "
                 "replaced by U+FFFD)", fx->repaired);
    if (fx->cut)
        snprintf(what[nw++], sizeof what[0], "%zu strings were too long (cut to %d bytes of "
                 "text, %d of id, title or url)", fx->cut, HITS_TEXT_MAX, HITS_FIELD_MAX);
    if (nw)
        log_limited(&e->pub.inst->fixlog, LOG_WARN, "source %s: %s%s%s%s%s", e->pub.inst->name,
                    what[0], nw > 1 ? "; " : "", nw > 1 ? what[1] : "", nw > 2 ? "; " : "",
                    nw > 2 ? what[2] : "");
}

/* Keep a copy of the source's hits, made fit to keep (hits_copy). */
static int fanout_copy_hits(fanout_entry *e, const ragd_hit *hits, size_t n)
{
    hits_fixes fx;

    if (hits_copy(hits, n, (size_t)e->f->k, &e->pub.hits, &e->pub.nhits, &fx) != 0)
        return -1;
    fanout_log_fixes(e, n, &fx);
    return 0;
}

/* Keep the source's error message for the reply, made fit to print as
 * its hits are (hits_string), and say what that changed; a message lost
 * to memory is only that. */
static void fanout_keep_error(fanout_entry *e, const char *error)
{
    hits_fixes fx = {0};
    int oom = 0;

    e->pub.error = hits_string(error, HITS_ERROR_MAX, &fx, &oom);
    if (fx.repaired || fx.cut)
        log_limited(&e->pub.inst->fixlog, LOG_WARN, "source %s: its error message %s%s%s"
                    " (%d bytes kept at most)", e->pub.inst->name,
                    fx.repaired ? "was not UTF-8 (invalid bytes replaced by U+FFFD)" : "",
                    fx.repaired && fx.cut ? " and " : "", fx.cut ? "was cut" : "",
                    HITS_ERROR_MAX);
}

/* Settle a pending slot, tell the owner, and finish the fanout after the
 * last.  Returns 1 when the owner freed the fanout from its settle callback
 * (the fanout is gone now, and e with it unless its source still owes a
 * callback: touch neither), else 0. */
static int fanout_settle(fanout_entry *e, fanout_state to, const char *error)
{
    fanout *f = e->f;

    if (error && !e->pub.error)
        fanout_keep_error(e, error);
    fanout_slot_move(e, FANOUT_EV_SETTLE, to, NULL);
    if (f->on_settle) {
        assert(f->in_callback == FANOUT_IN_NONE);
        f->in_callback = FANOUT_IN_SETTLE;
        f->on_settle(f->arg, &e->pub);
        f->in_callback = FANOUT_IN_NONE;
    }
    assert(f->pending > 0);
    if (--f->pending == 0) {
        f->end_us = e->pub.end_us;
        event_active(f->finish, EV_TIMEOUT, 0);
    }
    if (!f->free_deferred)
        return 0;
    fanout_destroy(f);
    return 1;
}

/* A source's callback.  arg is the number of the search, not a pointer:
 * a callback no slot waits for any more finds nothing and touches nothing. */
static void fanout_slot_cb(void *arg, int status, const ragd_hit *hits, size_t nhits,
                           const char *error)
{
    fanout_entry *e = fanout_live_find((uintptr_t)arg);

    if (!e) {
        fanout_counts.stray_callbacks++;
        log_limited(&fanout_stray_limit, LOG_ERROR,
                    "fanout: a source called back for search #%" PRIuPTR ", which is not "
                    "waiting for a callback (a second one, or one after search() failed); "
                    "ignored", (uintptr_t)arg);
        return;
    }
    fanout_slot_move(e, FANOUT_EV_ANSWER, FANOUT_PENDING, NULL);
    if (!e->f) {
        fanout_entry_free(e); /* orphan: its request is gone */
        return;
    }
    /* Late (the deadline already settled it), or called back from inside
     * a cancel while its fanout is being freed (which frees it next). */
    if (e->pub.state != FANOUT_PENDING || e->f->destroying)
        return;
    breaker_record(&e->pub.inst->brk, status == RAGD_OK, clock_ms());
    if (status == RAGD_OK) {
        if (fanout_copy_hits(e, hits, nhits) != 0)
            fanout_settle(e, FANOUT_ERROR, "out of memory copying results");
        else
            fanout_settle(e, FANOUT_OK, NULL);
    } else if (status == RAGD_ETIMEDOUT) {
        fanout_settle(e, FANOUT_TIMEOUT, error ? error : "timed out");
    } else {
        fanout_settle(e, FANOUT_ERROR, error ? error : "failed");
    }
}

/* The host's word that a hedge won one of search #tag's HTTP requests.
 * The tag is a search's number, so a search that is over finds nothing. */
static void fanout_hedge_won(uintptr_t tag)
{
    fanout_entry *e = fanout_live_find(tag);

    if (e)
        e->pub.hedged = 1;
}

/* Ask the source to stop, once: a slot can be cancelled by its deadline and
 * again when its fanout is freed.  Touches nothing after the source's
 * cancel, which may (against the rules) call back and free e. */
static void fanout_cancel_op(fanout_entry *e)
{
    instance *in = e->pub.inst;

    if (e->src != FANOUT_SRC_ASKED || !e->op || !in->type->cancel)
        return;
    fanout_slot_move(e, FANOUT_EV_CANCEL, FANOUT_PENDING, NULL);
    in->type->cancel(in->self, e->op);
}

static void fanout_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    fanout_entry *e = arg;
    char msg[96];

    (void)fd;
    (void)what;
    snprintf(msg, sizeof msg, "no answer within %lld ms",
             (long long)((clock_us() - e->pub.start_us + 500) / 1000));
    breaker_record(&e->pub.inst->brk, 0, clock_ms());
    if (fanout_settle(e, FANOUT_TIMEOUT, msg) == 0)
        fanout_cancel_op(e);
}

static void fanout_finish_cb(evutil_socket_t fd, short what, void *arg)
{
    fanout *f = arg;

    (void)fd;
    (void)what;
    assert(!f->done_ran && f->pending == 0 && f->in_callback == FANOUT_IN_NONE);
    f->done_ran = 1;
    f->in_callback = FANOUT_IN_DONE;
    f->done(f->arg, f);
    f->in_callback = FANOUT_IN_NONE;
    if (f->free_deferred)
        fanout_destroy(f);
}

/* Whether in's source applies filters itself: ABI 1 predates the flag. */
static int fanout_can_filter(const instance *in)
{
    return in->type->abi_version >= 2 && (in->type->flags & RAGD_SOURCE_FILTERS);
}

/* Start one instance's search in slot e.  Settles e at once when the
 * instance is disabled, cannot apply the filter flt, or its search cannot
 * start. */
static int fanout_launch(fanout *f, fanout_entry *e, const char *query, filter *flt, int k,
                         int64_t deadline_ms)
{
    instance *in = e->pub.inst;
    int64_t now = clock_ms(), own = deadline_ms, left;
    ragd_query q;
    ragd_op *op = NULL;
    struct timeval tv;
    int rc;
    char msg[64];

    e->pub.start_us = clock_us();
    if (!in->enabled) {
        fanout_slot_move(e, FANOUT_EV_SKIP, FANOUT_PENDING, NULL);
        fanout_settle(e, FANOUT_DISABLED, NULL);
        return 0;
    }
    if (flt && !fanout_can_filter(in)) {
        fanout_slot_move(e, FANOUT_EV_SKIP, FANOUT_PENDING, NULL);
        fanout_settle(e, FANOUT_SKIPPED, "cannot apply filter");
        return 0;
    }
    if (!breaker_allow(&in->brk, now)) {
        fanout_slot_move(e, FANOUT_EV_SKIP, FANOUT_PENDING, NULL);
        fanout_settle(e, FANOUT_SKIPPED, "circuit open");
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
    if (!(e->timer = evtimer_new(f->base, fanout_deadline_cb, e)) || evtimer_add(e->timer, &tv)) {
        fanout_slot_move(e, FANOUT_EV_SKIP, FANOUT_PENDING, NULL); /* nothing will call back */
        return -1;
    }
    q.text = query;
    q.k = k;
    q.deadline_ms = own;
    q.filter = flt ? filter_json(flt) : NULL;
    q.filter_ref = flt;
    e->flt = flt ? filter_hold(flt) : NULL;
    fanout_slot_move(e, FANOUT_EV_ASK, FANOUT_PENDING, NULL);
    /* The requests the source starts now are this search's: a hedge that
     * wins one is reported in its slot. */
    host_tag_begin(fanout_hedge_won, e->id);
    rc = in->type->search(in->self, &q, fanout_slot_cb, (void *)e->id, &op);
    host_tag_end();
    if (e->src == FANOUT_SRC_DONE)
        return 0; /* it called back from inside search(): that answer stands */
    if (rc != RAGD_OK) {
        fanout_slot_move(e, FANOUT_EV_REFUSE, FANOUT_PENDING, NULL);
        breaker_record(&in->brk, 0, clock_ms());
        snprintf(msg, sizeof msg, "search could not start (error %d)", rc);
        fanout_settle(e, FANOUT_ERROR, msg);
        return 0;
    }
    fanout_slot_move(e, FANOUT_EV_STARTED, FANOUT_PENDING, op);
    return 0;
}

fanout *fanout_start(struct event_base *base, instance *const *insts, size_t n,
                     const char *query, filter *flt, int k, int64_t deadline_ms,
                     fanout_done_cb done, fanout_settle_cb on_settle, void *arg)
{
    fanout *f = calloc(1, sizeof *f);

    if (!f || !(f->slots = calloc(n ? n : 1, sizeof *f->slots)))
        goto fail;
    f->base = base;
    f->k = k;
    f->done = done;
    f->on_settle = on_settle;
    f->arg = arg;
    f->start_us = clock_us();
    if (!(f->finish = evtimer_new(base, fanout_finish_cb, f)))
        goto fail;
    /* Every slot is pending from the start: one that settles inside this
     * call (disabled, refused) must not finish the fanout before the rest
     * are even asked. */
    f->pending = n;
    for (size_t i = 0; i < n; i++) {
        fanout_entry *e = calloc(1, sizeof *e);
        if (!e)
            goto fail;
        e->f = f;
        e->pub.inst = insts[i];
        instance_ref(e->pub.inst);
        f->slots[f->n++] = &e->pub;
        if (fanout_launch(f, e, query, flt, k, deadline_ms) != 0)
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

/* Free f and the slots whose source is done; orphan and cancel the rest. */
static void fanout_destroy(fanout *f)
{
    assert(!f->destroying && f->in_callback == FANOUT_IN_NONE);
    f->destroying = 1;
    for (size_t i = 0; i < f->n; i++) {
        fanout_entry *e = (fanout_entry *)f->slots[i];
        if (e->src == FANOUT_SRC_DONE) {
            fanout_entry_free(e);
        } else {
            fanout_slot_move(e, FANOUT_EV_ORPHAN, FANOUT_PENDING, NULL);
            fanout_cancel_op(e);
        }
    }
    if (f->finish)
        event_free(f->finish);
    free(f->slots);
    free(f);
}

void fanout_free(fanout **fp)
{
    fanout *f = *fp;

    if (!f)
        return;
    *fp = NULL;
    if (f->in_callback == FANOUT_IN_SETTLE) {
        fanout_counts.settle_frees++;
        log_msg(LOG_ERROR, "fanout: freed from inside its settle callback; "
                           "freeing it once the callback returns");
    }
    if (f->in_callback != FANOUT_IN_NONE) {
        f->free_deferred = 1; /* the callback's caller frees it on return */
        return;
    }
    fanout_destroy(f);
}

void fanout_get_stats(fanout_stats *out)
{
    *out = fanout_counts;
}
