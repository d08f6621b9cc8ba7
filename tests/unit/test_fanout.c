/* Unit tests for fanout: the real fan-out on a real libevent loop, asking
 * fake sources that misbehave in the ways a source can -- failing at once,
 * answering late, never answering until cancelled, calling back twice or
 * from inside search() -- and owners that free the fanout early or from
 * inside a callback.  Run under ASan/LSan, a slot freed twice, used after
 * free or never freed fails the program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "fanout.h"
#include "tap.h"

/* ------------------------------------------------------- fake source -- */

typedef enum fake_mode {
    FAKE_FAIL,   /* search() returns RAGD_ERR */
    FAKE_LATER,  /* calls back ncalls times, delay_ms then gap_ms apart */
    FAKE_NEVER,  /* calls back only when cancelled */
    FAKE_SYNC    /* calls back from inside search(), against the rules */
} fake_mode;

typedef struct fake {
    struct event_base *base;
    fake_mode mode;
    int delay_ms, gap_ms;
    int ncalls;          /* callbacks per search (FAKE_LATER); 0 means 1 */
    int honours_cancel;  /* cancel makes it call back soon with RAGD_ECANCELED */
    int searches, cancels, callbacks;
    const json_t *last_filter;  /* the last search's ragd_query.filter */
} fake;

typedef struct fake_op {
    fake *src;
    ragd_search_cb cb;
    void *arg;
    struct event *ev;
    int calls_left;
    int cancelled;
} fake_op;

/* Call back with two hits built in a buffer that is scribbled over as soon
 * as the callback returns, so only copies survive. */
static void fake_answer(fake_op *op, int round)
{
    char buf[4][32];
    ragd_hit h[2];

    snprintf(buf[0], sizeof buf[0], "doc-%d-a", round);
    snprintf(buf[1], sizeof buf[1], "text %d a", round);
    snprintf(buf[2], sizeof buf[2], "doc-%d-b", round);
    snprintf(buf[3], sizeof buf[3], "text %d b", round);
    h[0] = (ragd_hit){buf[0], "Title A", NULL, buf[1], 2.0};
    h[1] = (ragd_hit){buf[2], NULL, "http://b/", buf[3], 1.0};
    op->src->callbacks++;
    op->cb(op->arg, RAGD_OK, h, 2, NULL);
    memset(buf, 'X', sizeof buf);
}

static void fake_fire(evutil_socket_t fd, short what, void *arg)
{
    fake_op *op = arg;
    struct timeval gap;

    (void)fd;
    (void)what;
    if (op->cancelled) {
        op->src->callbacks++;
        op->cb(op->arg, RAGD_ECANCELED, NULL, 0, "cancelled");
        op->calls_left = 0;
    } else {
        fake_answer(op, op->calls_left);
        op->calls_left--;
    }
    if (op->calls_left > 0 && op->src->gap_ms > 0) {
        gap = clock_timeval(op->src->gap_ms);
        evtimer_add(op->ev, &gap);
        return;
    }
    while (op->calls_left > 0) { /* back to back */
        fake_answer(op, op->calls_left);
        op->calls_left--;
    }
    event_free(op->ev);
    free(op);
}

static int fake_search(void *self, const ragd_query *q, ragd_search_cb cb, void *arg,
                       ragd_op **opp)
{
    fake *src = self;
    fake_op *op;
    struct timeval tv = clock_timeval(src->delay_ms);

    src->searches++;
    src->last_filter = q->filter;
    if (src->mode == FAKE_FAIL)
        return RAGD_ERR;
    if (!(op = calloc(1, sizeof *op)))
        return RAGD_ENOMEM;
    op->src = src;
    op->cb = cb;
    op->arg = arg;
    op->calls_left = src->ncalls ? src->ncalls : 1;
    if (src->mode == FAKE_SYNC) {
        fake_answer(op, 1);
        free(op);
        return RAGD_OK;
    }
    if (!(op->ev = evtimer_new(src->base, fake_fire, op)) ||
        (src->mode == FAKE_LATER && evtimer_add(op->ev, &tv))) {
        if (op->ev)
            event_free(op->ev);
        free(op);
        return RAGD_ENOMEM;
    }
    *opp = (ragd_op *)op;
    return RAGD_OK;
}

static void fake_cancel(void *self, ragd_op *o)
{
    fake *src = self;
    fake_op *op = (fake_op *)o;

    src->cancels++;
    if (!src->honours_cancel)
        return;
    op->cancelled = 1;
    event_active(op->ev, EV_TIMEOUT, 0); /* soon, never from inside cancel */
}

static void fake_destroy(void *self)
{
    (void)self;
}

static const ragd_source_type fake_type = {
    RAGD_SOURCE_ABI_VERSION, "fake", NULL, fake_search, fake_cancel, fake_destroy, 0,
};

/* The same declaring that it applies filters, and built for ABI 1 with the
 * flag's bit set anyway (ABI 1 has no flags: ragd must not read them). */
static const ragd_source_type fake_filtering_type = {
    RAGD_SOURCE_ABI_VERSION, "fake", NULL, fake_search, fake_cancel, fake_destroy,
    RAGD_SOURCE_FILTERS,
};
static const ragd_source_type fake_abi1_type = {
    1, "fake", NULL, fake_search, fake_cancel, fake_destroy, RAGD_SOURCE_FILTERS,
};

/* An instance of fake_type with the one reference a set would hold. */
static instance *fake_instance(fake *src, const char *name, int enabled)
{
    instance *in = calloc(1, sizeof *in);

    if (!in)
        abort();
    snprintf(in->name, sizeof in->name, "%s", name);
    in->type = &fake_type;
    in->self = src;
    in->enabled = enabled;
    in->weight = 1.0;
    in->refs = 1;
    return in;
}

/* Check that nothing holds or waits on in any more, then free it. */
static void fake_instance_free(instance *in)
{
    is_int(in->inflight, 0, "%s: no search in flight", in->name);
    is_int(in->refs, 1, "%s: every slot dropped its reference", in->name);
    free(in);
}

/* ------------------------------------------------------------- owner -- */

static struct event_base *base;

typedef struct owner {
    fanout *f;
    int dones, settles;
    int free_in_done;        /* fanout_free from the done callback */
    int free_in_settle;      /* fanout_free from the first settle callback */
    fanout_state seen_after_free;  /* the slot as read after that free */
    size_t awaiting_at_done;
} owner;

static void owner_done(void *arg, fanout *f)
{
    owner *o = arg;
    fanout_stats st;
    size_t n, pending = 0;
    fanout_slot *const *v = fanout_slots(f, &n);

    ok(f == o->f, "done names the fanout");
    for (size_t i = 0; i < n; i++)
        pending += v[i]->state == FANOUT_PENDING;
    is_int(pending, 0, "done runs only once every slot has settled");
    o->dones++;
    fanout_get_stats(&st);
    o->awaiting_at_done = st.awaiting;
    if (o->free_in_done)
        fanout_free(&o->f);
}

static void owner_settled(void *arg, const fanout_slot *slot)
{
    owner *o = arg;

    o->settles++;
    ok(slot->state != FANOUT_PENDING, "a settle callback sees a settled slot");
    if (o->free_in_settle && o->f) {
        fanout_free(&o->f);
        /* The fanout and this slot stay valid until the callback returns. */
        o->seen_after_free = slot->state;
    }
}

static fanout *owner_start(owner *o, instance **insts, size_t n, int deadline_ms)
{
    o->f = fanout_start(base, insts, n, "query", NULL, 5, clock_ms() + deadline_ms, owner_done,
                        owner_settled, o);
    return o->f;
}

static const fanout_slot *slot_at(fanout *f, size_t i)
{
    size_t n;
    fanout_slot *const *v = fanout_slots(f, &n);

    return i < n ? v[i] : NULL;
}

static void check_copies(const fanout_slot *sl, int round, const char *what)
{
    char id[32], text[32];

    snprintf(id, sizeof id, "doc-%d-a", round);
    snprintf(text, sizeof text, "text %d a", round);
    is_int(sl->nhits, 2, "%s: two hits", what);
    if (sl->nhits != 2)
        return;
    is_str(sl->hits[0].id, id, "%s: first id copied", what);
    is_str(sl->hits[0].text, text, "%s: first text copied", what);
    is_str(sl->hits[0].title, "Title A", "%s: title copied", what);
    ok(sl->hits[0].url == NULL, "%s: a NULL url stays NULL", what);
    is_str(sl->hits[1].url, "http://b/", "%s: url copied", what);
    ok(sl->hits[0].score == 2.0 && sl->hits[1].score == 1.0, "%s: scores, best first", what);
}

/* Everything the loop was given has ended: no timer, no pending event. */
static void check_loop_empty(const char *what)
{
    fanout_stats st;

    is_int(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE), 0,
           "%s: no event left on the loop", what);
    fanout_get_stats(&st);
    is_int(st.awaiting, 0, "%s: no callback still owed", what);
}

/* ------------------------------------------------------------- cases -- */

static void test_fail_and_answer(void)
{
    fake bad = {.base = base, .mode = FAKE_FAIL};
    fake good = {.base = base, .mode = FAKE_LATER, .delay_ms = 5};
    instance *in[2] = {fake_instance(&bad, "bad", 1), fake_instance(&good, "good", 1)};
    owner o = {0};
    const fanout_slot *s0, *s1;

    ok(owner_start(&o, in, 2, 5000) != NULL, "fail+answer: started");
    s0 = slot_at(o.f, 0);
    is_int(s0->state, FANOUT_ERROR, "a failing search() settles its slot at once");
    is_str(s0->error, "search could not start (error -1)", "with the error it returned");
    is_int(o.settles, 1, "the owner heard of it inside fanout_start");
    is_int(o.dones, 0, "done never runs inside fanout_start");
    event_base_dispatch(base);
    s1 = slot_at(o.f, 1);
    is_int(s1->state, FANOUT_OK, "the answering source is ok");
    ok(s1->error == NULL, "with no error");
    check_copies(s1, 1, "answer");
    ok(s1->end_us >= s1->start_us + 5000, "its latency covers its delay");
    is_int(o.dones, 1, "done ran once");
    is_int(o.settles, 2, "every slot settled once");
    is_int(bad.callbacks + good.callbacks, 1, "only the started search called back");
    ok(fanout_elapsed_us(o.f) >= 5000, "elapsed covers the slowest");
    fanout_free(&o.f);
    ok(o.f == NULL, "fanout_free clears the pointer");
    check_loop_empty("fail+answer");
    fake_instance_free(in[0]);
    fake_instance_free(in[1]);
}

/* A slot settled inside fanout_start (here a disabled instance, listed
 * first) must not end the fanout before the sources after it answer. */
static void test_disabled_and_empty(void)
{
    fake off = {.base = base, .mode = FAKE_LATER};
    fake on = {.base = base, .mode = FAKE_LATER, .delay_ms = 5};
    instance *in[2] = {fake_instance(&off, "off", 0), fake_instance(&on, "on", 1)};
    owner o = {0}, e = {0};

    ok(owner_start(&o, in, 2, 5000) != NULL, "disabled: started");
    is_int(slot_at(o.f, 0)->state, FANOUT_DISABLED, "a disabled instance is recorded as such");
    is_int(off.searches, 0, "and never asked");
    ok(owner_start(&e, NULL, 0, 5000) != NULL, "no sources: started");
    is_int(e.dones, 0, "no sources: done not inside fanout_start");
    event_base_dispatch(base);
    is_int(o.dones, 1, "disabled: done ran once");
    is_int(slot_at(o.f, 1)->state, FANOUT_OK, "after the source listed next answered");
    is_int(e.dones, 1, "no sources: done ran once, from the loop");
    fanout_free(&o.f);
    fanout_free(&e.f);
    check_loop_empty("disabled");
    fake_instance_free(in[0]);
    fake_instance_free(in[1]);
}

/* With a filter, only a source that declares it applies filters is asked,
 * and it gets the filter; the others are skipped, saying why. */
static void test_filter_skips(void)
{
    fake plain = {.base = base, .mode = FAKE_LATER};
    fake old = {.base = base, .mode = FAKE_LATER};
    fake filt = {.base = base, .mode = FAKE_LATER, .delay_ms = 5};
    instance *in[3] = {fake_instance(&plain, "plain", 1), fake_instance(&old, "old", 1),
                       fake_instance(&filt, "filt", 1)};
    json_t *spec = json_pack("{si}", "year", 2015);
    filter *flt = NULL;
    char err[128];
    owner o = {0};

    in[1]->type = &fake_abi1_type;
    in[2]->type = &fake_filtering_type;
    ok(filter_parse(spec, &flt, err, sizeof err) == 0, "filter: parsed");
    o.f = fanout_start(base, in, 3, "query", flt, 5, clock_ms() + 5000, owner_done,
                       owner_settled, &o);
    ok(o.f != NULL, "filter: started");
    is_int(slot_at(o.f, 0)->state, FANOUT_SKIPPED, "a source without the flag is skipped");
    is_str(slot_at(o.f, 0)->error, "cannot apply filter", "saying why");
    is_str(fanout_state_name(FANOUT_SKIPPED), "skipped", "reported as \"skipped\"");
    is_int(slot_at(o.f, 1)->state, FANOUT_SKIPPED, "an ABI 1 source is skipped whatever it sets");
    is_int(plain.searches + old.searches, 0, "neither is asked");
    ok(filt.last_filter == spec, "the filtering source gets the filter's JSON");
    filter_free(&flt);
    json_decref(spec);
    event_base_dispatch(base);
    is_int(slot_at(o.f, 2)->state, FANOUT_OK, "the filtering source answers, the filter kept "
           "alive for it");
    is_int(o.dones, 1, "filter: done ran once");
    fanout_free(&o.f);
    check_loop_empty("filter");
    for (int i = 0; i < 3; i++)
        fake_instance_free(in[i]);
}

static void test_late_answer_lands_on_orphan(void)
{
    fake late = {.base = base, .mode = FAKE_LATER, .delay_ms = 200};
    instance *in = fake_instance(&late, "late", 1);
    owner o = {.free_in_done = 1};

    ok(owner_start(&o, &in, 1, 20) != NULL, "late: started");
    event_base_dispatch(base);
    is_int(o.dones, 1, "late: done ran once, at the deadline");
    ok(o.f == NULL, "the owner freed the fanout from done");
    is_int(o.awaiting_at_done, 1, "at done the late source still owed its callback");
    is_int(late.cancels, 1, "the source was asked to cancel once");
    is_int(late.callbacks, 1, "its late answer came, once");
    check_loop_empty("late");
    fake_instance_free(in);
}

static void test_timeout_reported(void)
{
    fake slow = {.base = base, .mode = FAKE_NEVER, .honours_cancel = 1};
    instance *in = fake_instance(&slow, "slow", 1);
    owner o = {0};
    const fanout_slot *s;

    ok(owner_start(&o, &in, 1, 20) != NULL, "never: started");
    event_base_dispatch(base);
    s = slot_at(o.f, 0);
    is_int(s->state, FANOUT_TIMEOUT, "a source silent past its deadline times out");
    ok(s->error && strncmp(s->error, "no answer within ", 17) == 0, "and says so: %s",
       s->error ? s->error : "(null)");
    ok(s->end_us - s->start_us >= 20000, "not before its deadline");
    is_int(s->nhits, 0, "with no hits");
    is_int(slow.cancels, 1, "cancelled once, at its deadline");
    is_int(slow.callbacks, 1, "cancel led to exactly one callback");
    is_int(o.dones, 1, "done ran once");
    is_int(o.settles, 1, "the cancelled callback did not settle it again");
    fanout_free(&o.f);
    is_int(slow.cancels, 1, "freeing the fanout does not cancel it again");
    check_loop_empty("never");
    fake_instance_free(in);
}

static void test_owner_frees_early(void)
{
    fake a = {.base = base, .mode = FAKE_NEVER, .honours_cancel = 1};
    fake b = {.base = base, .mode = FAKE_FAIL};
    fake c = {.base = base, .mode = FAKE_LATER, .delay_ms = 30};
    instance *in[3] = {fake_instance(&a, "a", 1), fake_instance(&b, "b", 1),
                       fake_instance(&c, "c", 1)};
    owner o = {0};
    fanout_stats st;

    ok(owner_start(&o, in, 3, 10000) != NULL, "early free: started");
    fanout_get_stats(&st);
    is_int(st.awaiting, 2, "two sources owe a callback");
    fanout_free(&o.f);
    is_int(a.cancels, 1, "a running search is cancelled when its fanout is freed");
    is_int(c.cancels, 1, "every running search");
    is_int(b.cancels, 0, "one that never started is not");
    event_base_dispatch(base);
    is_int(o.dones, 0, "done never runs after fanout_free");
    is_int(o.settles, 1, "nor does a settle callback");
    is_int(a.callbacks, 1, "the cancelled source called back once, onto an orphan");
    is_int(c.callbacks, 1, "so did the one that ignores cancel");
    check_loop_empty("early free");
    for (int i = 0; i < 3; i++)
        fake_instance_free(in[i]);
}

static void test_double_callback(void)
{
    fake twice = {.base = base, .mode = FAKE_LATER, .delay_ms = 5, .ncalls = 2};
    instance *in = fake_instance(&twice, "twice", 1);
    owner o = {0};
    fanout_stats before, after;

    fanout_get_stats(&before);
    ok(owner_start(&o, &in, 1, 5000) != NULL, "twice: started");
    event_base_dispatch(base);
    fanout_get_stats(&after);
    is_int(twice.callbacks, 2, "the source called back twice");
    is_int(after.stray_callbacks - before.stray_callbacks, 1, "the second call is caught");
    is_int(slot_at(o.f, 0)->state, FANOUT_OK, "the first answer stands");
    check_copies(slot_at(o.f, 0), 2, "first of two");
    is_int(o.dones, 1, "done ran once");
    is_int(o.settles, 1, "the slot settled once");
    fanout_free(&o.f);
    check_loop_empty("twice");
    fake_instance_free(in);
}

/* The second callback comes after the slot was freed: by its fanout (the
 * source had answered), or by the first callback (an orphan). */
static void test_double_callback_after_free(void)
{
    fake answered = {.base = base, .mode = FAKE_LATER, .delay_ms = 5, .ncalls = 2, .gap_ms = 30};
    fake orphaned = {.base = base, .mode = FAKE_LATER, .delay_ms = 60, .ncalls = 2, .gap_ms = 30};
    instance *in[2] = {fake_instance(&answered, "answered", 1),
                       fake_instance(&orphaned, "orphaned", 1)};
    owner o = {.free_in_done = 1};
    fanout_stats before, after;

    fanout_get_stats(&before);
    in[1]->timeout_ms = 20;
    ok(owner_start(&o, in, 2, 5000) != NULL, "twice after free: started");
    event_base_dispatch(base);
    fanout_get_stats(&after);
    is_int(o.dones, 1, "done ran once");
    ok(o.f == NULL, "the fanout was freed at done");
    is_int(answered.callbacks + orphaned.callbacks, 4, "each source called back twice");
    is_int(after.stray_callbacks - before.stray_callbacks, 2,
           "both second calls were caught, touching nothing freed");
    check_loop_empty("twice after free");
    fake_instance_free(in[0]);
    fake_instance_free(in[1]);
}

static void test_sync_callback(void)
{
    fake sync = {.base = base, .mode = FAKE_SYNC};
    instance *in = fake_instance(&sync, "sync", 1);
    owner o = {0};

    ok(owner_start(&o, &in, 1, 5000) != NULL, "sync: started");
    is_int(slot_at(o.f, 0)->state, FANOUT_OK, "a callback from inside search() is its answer");
    check_copies(slot_at(o.f, 0), 1, "sync");
    is_int(o.dones, 0, "done still waits for the loop");
    event_base_dispatch(base);
    is_int(o.dones, 1, "done ran once");
    fanout_free(&o.f);
    check_loop_empty("sync");
    fake_instance_free(in);
}

static void test_free_in_settle(void)
{
    fake quick = {.base = base, .mode = FAKE_LATER, .delay_ms = 5};
    fake silent = {.base = base, .mode = FAKE_NEVER, .honours_cancel = 1};
    instance *in[2] = {fake_instance(&quick, "quick", 1), fake_instance(&silent, "silent", 1)};
    owner o = {.free_in_settle = 1, .seen_after_free = FANOUT_PENDING};
    fanout_stats before, after;

    fanout_get_stats(&before);
    ok(owner_start(&o, in, 2, 5000) != NULL, "free in settle: started");
    event_base_dispatch(base);
    fanout_get_stats(&after);
    is_int(after.settle_frees - before.settle_frees, 1, "freeing from a settle callback is caught");
    ok(o.f == NULL, "the owner's pointer is cleared at once");
    is_int(o.seen_after_free, FANOUT_OK, "the slot stayed readable until the callback returned");
    is_int(o.settles, 1, "no settle callback after the free");
    is_int(o.dones, 0, "nor done");
    is_int(silent.cancels, 1, "the free took effect: the running search was cancelled");
    is_int(silent.callbacks, 1, "and called back once, onto an orphan");
    check_loop_empty("free in settle");
    fake_instance_free(in[0]);
    fake_instance_free(in[1]);
}

static void test_free_in_done(void)
{
    fake quick = {.base = base, .mode = FAKE_LATER, .delay_ms = 5};
    instance *in = fake_instance(&quick, "quick", 1);
    owner o = {.free_in_done = 1};
    fanout_stats before, after;

    fanout_get_stats(&before);
    ok(owner_start(&o, &in, 1, 5000) != NULL, "free in done: started");
    event_base_dispatch(base);
    fanout_get_stats(&after);
    is_int(o.dones, 1, "done ran once");
    ok(o.f == NULL, "and freed the fanout");
    is_int(after.settle_frees, before.settle_frees, "freeing from done is the normal way");
    check_loop_empty("free in done");
    fake_instance_free(in);
}

int main(void)
{
    struct event_config *ec = event_config_new();
#ifdef NDEBUG
    int asserts_on = 0;
#else
    int asserts_on = 1;
#endif

    alarm(60); /* a fanout that never finishes must fail, not hang */
    /* As ragd runs it: a coarse clock would fire deadlines early. */
    if (ec)
        event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec)
        event_config_free(ec);
    if (!base) {
        printf("Bail out! no event loop\n");
        return 1;
    }
    ok(asserts_on, "built without NDEBUG: the fan-out's assert()s are checked");
    test_fail_and_answer();
    test_disabled_and_empty();
    test_filter_skips();
    test_late_answer_lands_on_orphan();
    test_timeout_reported();
    test_owner_frees_early();
    test_double_callback();
    test_double_callback_after_free();
    test_sync_callback();
    test_free_in_settle();
    test_free_in_done();
    event_base_free(base);
    return tap_done();
}
