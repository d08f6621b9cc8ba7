/*
 * metrics -- the registry, its shards and its text exposition (see
 * metrics.h).
 *
 * A metric's series (its label value tuples) live in one list, in the
 * order they first appeared, under the registry's lock; they are what the
 * cap counts and what rendering walks.  The numbers live in cells, one per
 * series per shard that updated it, in a list per metric per shard that
 * only that shard's threads change, under that shard's lock.  An update
 * walks its own shard's list (a metric has few series: a lookup costs less
 * than the request it counts); only a series new to the shard takes the
 * registry's lock.  Lock order: the registry's, then a shard's; an update
 * never holds its shard's lock while it takes the registry's.
 */
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "metrics.h"

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_kind;

/* One label value tuple of a metric; the sums are metrics_render's
 * scratch, written only under the registry's lock. */
typedef struct series {
    char *values[METRICS_MAX_LABELS];  /* owned copies; fixed once created */
    double value;                      /* counter, gauge; the sum of a histogram */
    double set_value;                  /* gauge: the latest set, with its shard's adds since */
    int64_t set_ns;                    /* gauge: when that was set; 0: never */
    unsigned long long count;          /* histogram observations */
    struct series *next;
    unsigned long long buckets[];      /* histogram: per bound, not cumulative */
} series;

/* One shard's numbers for one series.  It has its own pointers to the
 * series' label values, so that an update reads nothing the scrape
 * writes. */
typedef struct cell {
    series *s;
    char *values[METRICS_MAX_LABELS];  /* the series' strings (it frees them) */
    double value;                      /* counter, gauge; the sum of a histogram */
    int64_t set_ns;                    /* gauge: the last metrics_set; 0: never */
    unsigned long long count;
    struct cell *next;
    unsigned long long buckets[];
} cell;

struct metric {
    metric_kind kind;
    const char *name, *help;
    const char *labels[METRICS_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    metrics_gauge_fn fn;
    void *fn_arg;
    series *first, **last;
    size_t nseries;
    cell *cells[METRICS_SHARDS + 1];   /* per shard, under that shard's mu */
    struct metric *next;
};

/* A shard's lock, on a cache line of its own so that loops never write a
 * line another loop uses.  The last shard is the shared fallback. */
typedef struct shard {
    _Alignas(64) pthread_mutex_t mu;
} shard;

static shard metrics_shards[METRICS_SHARDS + 1];
static pthread_once_t metrics_shards_once = PTHREAD_ONCE_INIT;
static _Thread_local unsigned metrics_here = METRICS_SHARDS;

static metric *metrics_first, **metrics_last = &metrics_first;
/* The registry's lock: registration, new series, rendering and reset. */
static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;

const double metrics_latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,   30};
const size_t metrics_nlatency_bounds = sizeof metrics_latency_bounds /
                                       sizeof metrics_latency_bounds[0];

/* ----------------------------------------------------------- register -- */

static int metrics_name_ok(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
            return 0;
    return 1;
}

static metric *metrics_find(const char *name)
{
    for (metric *m = metrics_first; m; m = m->next)
        if (!strcmp(m->name, name))
            return m;
    return NULL;
}

static void metrics_shards_init(void)
{
    for (size_t i = 0; i <= METRICS_SHARDS; i++)
        pthread_mutex_init(&metrics_shards[i].mu, NULL);
}

void metrics_bind_shard(unsigned i)
{
    metrics_here = i < METRICS_SHARDS ? i : METRICS_SHARDS;
}

/* With metrics_mu held.  Every update needs a registered metric, so the
 * shards' locks exist before any update takes one. */
static metric *metrics_register(metric_kind kind, const char *name, const char *help,
                                size_t nlabels, const char *const *labels)
{
    metric *m = metrics_find(name);

    pthread_once(&metrics_shards_once, metrics_shards_init);
    if (m) {
        if (m->kind != kind || m->nlabels != nlabels)
            return NULL;
        for (size_t i = 0; i < nlabels; i++)
            if (strcmp(m->labels[i], labels[i]))
                return NULL;
        return m;
    }
    if (!metrics_name_ok(name) || nlabels > METRICS_MAX_LABELS || !(m = calloc(1, sizeof *m)))
        return NULL;
    for (size_t i = 0; i < nlabels; i++)
        if (!metrics_name_ok(labels[i])) {
            free(m);
            return NULL;
        }
    *m = (metric){.kind = kind, .name = name, .help = help, .nlabels = nlabels};
    if (nlabels)
        memcpy(m->labels, labels, nlabels * sizeof *labels);
    m->last = &m->first;
    *metrics_last = m;
    metrics_last = &m->next;
    return m;
}

static series *metrics_series(metric *m, const char *const *v);

/* A metric without labels has its one series from the start, so that it
 * shows as 0 before its first update.  With metrics_mu held. */
static metric *metrics_touch(metric *m)
{
    if (m && m->nlabels == 0 && (m->kind != METRIC_HISTOGRAM || m->bounds) && !m->fn)
        metrics_series(m, NULL);
    return m;
}

metric *metrics_counter(const char *name, const char *help, size_t nlabels,
                        const char *const *labels)
{
    metric *m;

    pthread_mutex_lock(&metrics_mu);
    m = metrics_touch(metrics_register(METRIC_COUNTER, name, help, nlabels, labels));
    pthread_mutex_unlock(&metrics_mu);
    return m;
}

metric *metrics_gauge(const char *name, const char *help, size_t nlabels,
                      const char *const *labels, metrics_gauge_fn fn, void *arg)
{
    metric *m;

    pthread_mutex_lock(&metrics_mu);
    m = metrics_register(METRIC_GAUGE, name, help, nlabels, labels);
    if (m && fn) {
        m->fn = fn;
        m->fn_arg = arg;
    }
    m = metrics_touch(m);
    pthread_mutex_unlock(&metrics_mu);
    return m;
}

metric *metrics_histogram(const char *name, const char *help, size_t nlabels,
                          const char *const *labels, const double *bounds, size_t nbounds)
{
    metric *m;

    pthread_mutex_lock(&metrics_mu);
    m = metrics_register(METRIC_HISTOGRAM, name, help, nlabels, labels);
    if (m && !m->bounds) {
        if ((m->bounds = malloc((nbounds + 1) * sizeof *bounds))) {
            memcpy(m->bounds, bounds, nbounds * sizeof *bounds);
            m->nbounds = nbounds;
            m = metrics_touch(m);
        } else {
            m = NULL; /* stays registered, with no buckets: updates are dropped */
        }
    }
    pthread_mutex_unlock(&metrics_mu);
    return m;
}

static void metrics_series_free(series *s)
{
    for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s);
}

void metrics_reset(void)
{
    metric *m, *mnext;

    pthread_mutex_lock(&metrics_mu);
    for (m = metrics_first; m; m = mnext) {
        mnext = m->next;
        for (size_t i = 0; i <= METRICS_SHARDS; i++)
            for (cell *c = m->cells[i], *cnext; c; c = cnext) {
                cnext = c->next;
                free(c);
            }
        for (series *s = m->first, *snext; s; s = snext) {
            snext = s->next;
            metrics_series_free(s);
        }
        free(m->bounds);
        free(m);
    }
    metrics_first = NULL;
    metrics_last = &metrics_first;
    pthread_mutex_unlock(&metrics_mu);
}

/* ------------------------------------------------------------- update -- */

/* Room for a histogram's buckets, one per bound and +Inf. */
static size_t metrics_nbuckets(const metric *m)
{
    return m->kind == METRIC_HISTOGRAM ? m->nbounds + 1 : 0;
}

/* Are the label values have those in v? */
static int metrics_match(const metric *m, char *const *have, const char *const *v)
{
    for (size_t i = 0; i < m->nlabels; i++)
        if (strcmp(have[i], v[i]))
            return 0;
    return 1;
}

/* The series for the label values v, created if new; NULL past the cap or
 * on ENOMEM.  With metrics_mu held. */
static series *metrics_series(metric *m, const char *const *v)
{
    series *s;

    for (s = m->first; s; s = s->next)
        if (metrics_match(m, s->values, v))
            return s;
    if (m->nseries >= METRICS_MAX_SERIES ||
        !(s = calloc(1, sizeof *s + metrics_nbuckets(m) * sizeof *s->buckets)))
        return NULL;
    for (size_t i = 0; i < m->nlabels; i++)
        if (!(s->values[i] = strdup(v[i])))
            goto fail;
    *m->last = s;
    m->last = &s->next;
    m->nseries++;
    return s;
fail:
    metrics_series_free(s);
    return NULL;
}

/* Shard k's cell for the label values v, or NULL; with shard k's mu held. */
static cell *metrics_cell_find(const metric *m, size_t k, const char *const *v)
{
    for (cell *c = m->cells[k]; c; c = c->next)
        if (metrics_match(m, c->values, v))
            return c;
    return NULL;
}

/* Shard k's cell for the label values v, created if new; NULL past the cap
 * or on ENOMEM.  Called and returns with shard k's mu held, which it drops
 * around a creation (the registry's lock comes first): another thread of
 * a shared shard may add the same cell meanwhile, and then that one is
 * used. */
static cell *metrics_cell(metric *m, size_t k, const char *const *v)
{
    cell *c = metrics_cell_find(m, k, v), *other;
    series *s;

    assert(k <= METRICS_SHARDS);
    if (c)
        return c;
    pthread_mutex_unlock(&metrics_shards[k].mu);
    pthread_mutex_lock(&metrics_mu);
    s = metrics_series(m, v);
    pthread_mutex_unlock(&metrics_mu);
    if (s && (c = calloc(1, sizeof *c + metrics_nbuckets(m) * sizeof *c->buckets))) {
        c->s = s;
        memcpy(c->values, s->values, sizeof c->values);
    }
    pthread_mutex_lock(&metrics_shards[k].mu);
    if (!c || !(other = metrics_cell_find(m, k, v))) {
        if (c) {
            c->next = m->cells[k];
            m->cells[k] = c;
        }
        return c;
    }
    free(c);
    return other;
}

/* Take the label values that follow v in an update's arguments, a missing
 * one being "". */
static void metrics_values(const metric *m, const char **v, va_list ap)
{
    for (size_t i = 0; i < m->nlabels; i++) {
        v[i] = va_arg(ap, const char *);
        if (!v[i])
            v[i] = "";
    }
}

static int64_t metrics_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + 1; /* never 0 */
}

void metrics_add(metric *m, double v, ...)
{
    const char *values[METRICS_MAX_LABELS];
    size_t k = metrics_here;
    va_list ap;
    cell *c;

    if (!m || m->kind == METRIC_HISTOGRAM)
        return;
    va_start(ap, v);
    metrics_values(m, values, ap);
    va_end(ap);
    pthread_mutex_lock(&metrics_shards[k].mu);
    if ((c = metrics_cell(m, k, values)))
        c->value += v;
    pthread_mutex_unlock(&metrics_shards[k].mu);
}

void metrics_set(metric *m, double v, ...)
{
    const char *values[METRICS_MAX_LABELS];
    size_t k = metrics_here;
    int64_t now;
    va_list ap;
    cell *c;

    if (!m || m->kind != METRIC_GAUGE)
        return;
    now = metrics_now_ns();
    va_start(ap, v);
    metrics_values(m, values, ap);
    va_end(ap);
    pthread_mutex_lock(&metrics_shards[k].mu);
    if ((c = metrics_cell(m, k, values))) {
        c->value = v;
        c->set_ns = now;
    }
    pthread_mutex_unlock(&metrics_shards[k].mu);
}

void metrics_observe(metric *m, double v, ...)
{
    const char *values[METRICS_MAX_LABELS];
    size_t k = metrics_here, b = 0;
    va_list ap;
    cell *c;

    if (!m || m->kind != METRIC_HISTOGRAM || !m->bounds)
        return;
    while (b < m->nbounds && v > m->bounds[b])
        b++;
    va_start(ap, v);
    metrics_values(m, values, ap);
    va_end(ap);
    pthread_mutex_lock(&metrics_shards[k].mu);
    if ((c = metrics_cell(m, k, values))) {
        c->buckets[b]++;
        c->count++;
        c->value += v;
    }
    pthread_mutex_unlock(&metrics_shards[k].mu);
}

/* ------------------------------------------------------------- render -- */

/* HELP text escapes backslash and newline; label values also quotes. */
static void metrics_escape(struct evbuffer *b, const char *s, int quotes)
{
    for (; *s; s++) {
        if (*s == '\\')
            evbuffer_add(b, "\\\\", 2);
        else if (*s == '\n')
            evbuffer_add(b, "\\n", 2);
        else if (*s == '"' && quotes)
            evbuffer_add(b, "\\\"", 2);
        else
            evbuffer_add(b, s, 1);
    }
}

static void metrics_number(struct evbuffer *b, double v)
{
    char num[40];

    if (isinf(v))
        snprintf(num, sizeof num, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        snprintf(num, sizeof num, "NaN");
    else if (snprintf(num, sizeof num, "%.15g", v), strtod(num, NULL) != v)
        snprintf(num, sizeof num, "%.17g", v); /* the shortest that reads back exactly */
    evbuffer_add(b, num, strlen(num));
}

/* name{l1="v1",...,extra="extra_value"} value */
static void metrics_sample(struct evbuffer *b, const metric *m, const char *suffix, const series *s,
                           const char *extra, double extra_value, double v)
{
    size_t n = 0;

    evbuffer_add_printf(b, "%s%s", m->name, suffix);
    for (size_t i = 0; s && i < m->nlabels; i++, n++) {
        evbuffer_add_printf(b, "%s%s=\"", n ? "," : "{", m->labels[i]);
        metrics_escape(b, s->values[i], 1);
        evbuffer_add(b, "\"", 1);
    }
    if (extra) {
        evbuffer_add_printf(b, "%s%s=\"", n++ ? "," : "{", extra);
        metrics_number(b, extra_value);
        evbuffer_add(b, "\"", 1);
    }
    if (n)
        evbuffer_add(b, "}", 1);
    evbuffer_add(b, " ", 1);
    metrics_number(b, v);
    evbuffer_add(b, "\n", 1);
}

/* Add cell c into its series' sums (see metrics.h for the gauge rule). */
static void metrics_sum_cell(const metric *m, const cell *c)
{
    series *s = c->s;

    if (m->kind == METRIC_GAUGE && c->set_ns) {
        if (c->set_ns > s->set_ns) {
            s->set_value = c->value;
            s->set_ns = c->set_ns;
        }
        return;
    }
    s->value += c->value;
    s->count += c->count;
    for (size_t i = 0; i < metrics_nbuckets(m); i++)
        s->buckets[i] += c->buckets[i];
}

/* Every series' numbers now, summed over the shards; with metrics_mu
 * held.  Each shard is read at one moment, so a histogram's buckets agree
 * with its _count. */
static void metrics_sum(const metric *m)
{
    for (series *s = m->first; s; s = s->next) {
        s->value = 0;
        s->set_value = 0;
        s->set_ns = 0;
        s->count = 0;
        memset(s->buckets, 0, metrics_nbuckets(m) * sizeof *s->buckets);
    }
    for (size_t k = 0; k <= METRICS_SHARDS; k++) {
        pthread_mutex_lock(&metrics_shards[k].mu);
        for (const cell *c = m->cells[k]; c; c = c->next)
            metrics_sum_cell(m, c);
        pthread_mutex_unlock(&metrics_shards[k].mu);
    }
    for (series *s = m->first; s; s = s->next)
        s->value += s->set_value;
}

/* With metrics_mu held. */
static void metrics_render_one(struct evbuffer *b, const metric *m)
{
    static const char *const kinds[] = {"counter", "gauge", "histogram"};

    evbuffer_add_printf(b, "# HELP %s ", m->name);
    metrics_escape(b, m->help, 0);
    evbuffer_add_printf(b, "\n# TYPE %s %s\n", m->name, kinds[m->kind]);
    if (m->fn) {
        metrics_sample(b, m, "", NULL, NULL, 0, m->fn(m->fn_arg));
        return;
    }
    metrics_sum(m);
    for (const series *s = m->first; s; s = s->next) {
        unsigned long long cum = 0;
        if (m->kind != METRIC_HISTOGRAM) {
            metrics_sample(b, m, "", s, NULL, 0, s->value);
            continue;
        }
        for (size_t i = 0; i <= m->nbounds; i++) {
            cum += s->buckets[i];
            metrics_sample(b, m, "_bucket", s, "le", i < m->nbounds ? m->bounds[i] : INFINITY,
                           (double)cum);
        }
        metrics_sample(b, m, "_sum", s, NULL, 0, s->value);
        metrics_sample(b, m, "_count", s, NULL, 0, (double)s->count);
    }
}

int metrics_render(struct evbuffer *out)
{
    size_t before = evbuffer_get_length(out);
    int empty;

    pthread_mutex_lock(&metrics_mu);
    for (const metric *m = metrics_first; m; m = m->next)
        metrics_render_one(out, m);
    empty = !metrics_first;
    pthread_mutex_unlock(&metrics_mu);
    /* evbuffer_add fails only on ENOMEM; a short text is the sign */
    return evbuffer_get_length(out) > before || empty ? 0 : -1;
}
