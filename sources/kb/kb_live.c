/*
 * kb_live -- keeping the kb's index current (see kb_live.h), the way the
 * vector source keeps its snapshot: one refresh at a time, on a worker,
 * with a dedicated store handle; the loop swaps the result in.
 */
#include "kb_live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "metrics.h"
#include "notify.h"
#include "obs.h"
#include "spin.h"
#include "store.h"

/* The index of one kb instance (name, for the metrics).  ix (one
 * reference) is the current snapshot: the main loop swaps it, any loop's
 * search takes a reference to it, both under ix_lock; load_db is used at create on the
 * loop and afterwards only by the refresh job, of which at most one is in
 * flight (refreshing).  dying: freed while a refresh ran; its done
 * callback frees l.  pending: told of a write while a refresh ran. */
struct kb_live {
    const ragd_host *host;
    char *name, *path;
    double title_weight, text_weight;
    kb_index *ix;
    spin ix_lock;
    store *load_db;
    struct event *timer;
    notify_sub *sub;
    int refreshing, dying, pending, failed;
};

/* One refresh: old held from submit to done; the worker sets ix (NULL:
 * nothing changed; behind: loaded whole, the change log having been
 * trimmed past old) or status and error. */
typedef struct kb_live_refresh {
    kb_live *l;
    kb_index *old, *ix;
    size_t changed;
    int status, behind;
    char error[256];
} kb_live_refresh;

static void kb_live_destroy(kb_live *l)
{
    notify_unsubscribe(&l->sub);
    if (l->timer)
        event_free(l->timer);
    store_close(&l->load_db);
    kb_index_drop(&l->ix);
    free(l->name);
    free(l->path);
    free(l);
}

static void kb_live_refresh_work(void *arg, unsigned worker)
{
    kb_live_refresh *r = arg;
    kb_live *l = r->l;
    int rc;

    (void)worker;
    rc = kb_index_refresh(l->load_db, r->old, &r->ix, &r->changed, r->error, sizeof r->error);
    if (rc == STORE_BEHIND) {
        r->behind = 1;
        rc = kb_index_load(l->load_db, l->title_weight, l->text_weight, &r->ix, r->error,
                           sizeof r->error);
    }
    if (rc != 0)
        r->status = RAGD_ERR;
}

static void kb_live_told(void *arg);

/* On the loop: swap the new snapshot in, or warn once and keep the old. */
static void kb_live_refresh_done(void *arg)
{
    kb_live_refresh *r = arg;
    kb_live *l = r->l;
    kb_index_info info;

    l->refreshing = 0;
    kb_index_drop(&r->old);
    if (l->dying) {
        kb_index_drop(&r->ix);
        free(r);
        kb_live_destroy(l);
        return;
    }
    if (r->status != RAGD_OK) {
        if (!l->failed)
            l->host->log(l->host, RAGD_LOG_WARN, "kb index refresh failed, still serving: %s",
                         r->error);
        l->failed = 1;
    } else if (r->ix) {
        kb_index *old;

        spin_lock(&l->ix_lock);
        old = l->ix;
        l->ix = r->ix;
        spin_unlock(&l->ix_lock);
        kb_index_drop(&old);
        l->failed = 0;
        kb_index_info_get(l->ix, &info);
        if (r->behind) {
            metrics_add(obs.index_loads, 1, l->name);
            l->host->log(l->host, RAGD_LOG_WARN,
                         "kb index further behind than the change log keeps: reloaded"
                         " whole, %zu rows", info.rows);
        } else {
            l->host->log(l->host, RAGD_LOG_INFO,
                         "kb index: %zu changed documents in: %zu rows in %zu segments",
                         r->changed, info.rows, info.parts);
        }
    }
    free(r);
    if (l->pending)
        kb_live_told(l);
}

static void kb_live_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    kb_live *l = arg;
    kb_live_refresh *r;

    (void)fd;
    (void)what;
    if (l->refreshing)
        return;
    if (!(r = calloc(1, sizeof *r))) {
        l->host->log(l->host, RAGD_LOG_WARN, "kb index refresh skipped: out of memory");
        return;
    }
    r->l = l;
    r->old = l->ix;
    kb_index_hold(r->old);
    l->refreshing = 1;
    if (l->host->work_submit(l->host, kb_live_refresh_work, kb_live_refresh_done, r) != RAGD_OK) {
        l->refreshing = 0;
        kb_index_drop(&r->old);
        free(r);
        l->host->log(l->host, RAGD_LOG_WARN, "kb index refresh skipped: cannot queue it");
    }
}

/* The store was written in this process: refresh now, or right after the
 * refresh that runs, which may have begun before the write committed. */
static void kb_live_told(void *arg)
{
    kb_live *l = arg;

    l->pending = l->refreshing;
    if (!l->refreshing)
        kb_live_timer_cb(-1, 0, l);
}

int kb_live_new(const ragd_host *host, const char *name, const char *path,
                double title_weight, double text_weight, long long refresh_ms, kb_live **out,
                char *err, size_t errlen)
{
    struct timeval tv = {(time_t)(refresh_ms / 1000), (suseconds_t)(refresh_ms % 1000 * 1000)};
    kb_live *l = calloc(1, sizeof *l);
    kb_index_info info;

    *out = NULL;
    if (!l || !(l->path = strdup(path)) || !(l->name = strdup(name))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    l->host = host;
    l->title_weight = title_weight;
    l->text_weight = text_weight;
    if (store_open(path, 0, &l->load_db, err, errlen) != 0 ||
        kb_index_load(l->load_db, title_weight, text_weight, &l->ix, err, errlen) != 0)
        goto fail;
    if (refresh_ms > 0 &&
        (!(l->timer = event_new(host->base, -1, EV_PERSIST, kb_live_timer_cb, l)) ||
         event_add(l->timer, &tv) != 0)) {
        snprintf(err, errlen, "cannot start the refresh timer");
        goto fail;
    }
    if (!(l->sub = notify_subscribe(path, kb_live_told, l))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    kb_index_info_get(l->ix, &info);
    host->log(host, RAGD_LOG_INFO, "kb index: %zu rows, %zu terms, about %zu MiB, from %s",
              info.rows, info.terms, info.bytes >> 20, path);
    *out = l;
    return 0;
fail:
    if (l)
        kb_live_destroy(l);
    return -1;
}

kb_index *kb_live_get(kb_live *l)
{
    kb_index *ix;

    spin_lock(&l->ix_lock);
    ix = l->ix;
    kb_index_hold(ix);
    spin_unlock(&l->ix_lock);
    return ix;
}

void kb_live_free(kb_live **lp)
{
    kb_live *l = *lp;

    *lp = NULL;
    if (!l)
        return;
    notify_unsubscribe(&l->sub);
    if (l->timer) {
        event_free(l->timer);
        l->timer = NULL;
    }
    if (l->refreshing)
        l->dying = 1;
    else
        kb_live_destroy(l);
}
