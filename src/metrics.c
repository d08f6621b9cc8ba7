/*
 * metrics -- the registry and its text exposition (see metrics.h).
 *
 * Series are kept in a list per metric and found by comparing label
 * values: a metric has few series (they come from bounded sets), and a
 * lookup costs less than the request it counts.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_kind;

typedef struct series {
    char *values[METRICS_MAX_LABELS];  /* owned copies */
    double value;                      /* counter, gauge; the sum of a histogram */
    unsigned long long count;          /* histogram observations */
    unsigned long long *buckets;       /* histogram: per bound, not cumulative */
    struct series *next;
} series;

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
    struct metric *next;
};

static metric *metrics_first, **metrics_last = &metrics_first;
/* Every loop thread counts into the one registry: updates, registration
 * and rendering take this lock (an update holds it for a list walk of a
 * few series and an add). */
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

static metric *metrics_register(metric_kind kind, const char *name, const char *help,
                                size_t nlabels, const char *const *labels)
{
    metric *m = metrics_find(name);

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

static series *metrics_series(metric *m, va_list ap);

/* A metric without labels has its one series from the start, so that it
 * shows as 0 before its first update. */
static metric *metrics_touch(metric *m, ...)
{
    va_list ap;

    if (m && m->nlabels == 0 && (m->kind != METRIC_HISTOGRAM || m->bounds) && !m->fn) {
        va_start(ap, m);
        metrics_series(m, ap);
        va_end(ap);
    }
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
    free(s->buckets);
    free(s);
}

void metrics_reset(void)
{
    metric *m, *mnext;

    pthread_mutex_lock(&metrics_mu);
    for (m = metrics_first; m; m = mnext) {
        mnext = m->next;
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

/* The series for the label values in ap, created if new; NULL past the
 * cap or on ENOMEM. */
static series *metrics_series(metric *m, va_list ap)
{
    const char *v[METRICS_MAX_LABELS];
    series *s;

    for (size_t i = 0; i < m->nlabels; i++) {
        v[i] = va_arg(ap, const char *);
        if (!v[i])
            v[i] = "";
    }
    for (s = m->first; s; s = s->next) {
        size_t i = 0;
        while (i < m->nlabels && !strcmp(s->values[i], v[i]))
            i++;
        if (i == m->nlabels)
            return s;
    }
    if (m->nseries >= METRICS_MAX_SERIES || !(s = calloc(1, sizeof *s)))
        return NULL;
    if (m->kind == METRIC_HISTOGRAM && !(s->buckets = calloc(m->nbounds + 1, sizeof *s->buckets)))
        goto fail;
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

void metrics_add(metric *m, double v, ...)
{
    va_list ap;
    series *s;

    if (!m || m->kind == METRIC_HISTOGRAM)
        return;
    pthread_mutex_lock(&metrics_mu);
    va_start(ap, v);
    s = metrics_series(m, ap);
    va_end(ap);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&metrics_mu);
}

void metrics_set(metric *m, double v, ...)
{
    va_list ap;
    series *s;

    if (!m || m->kind != METRIC_GAUGE)
        return;
    pthread_mutex_lock(&metrics_mu);
    va_start(ap, v);
    s = metrics_series(m, ap);
    va_end(ap);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&metrics_mu);
}

void metrics_observe(metric *m, double v, ...)
{
    va_list ap;
    series *s;
    size_t b = 0;

    if (!m || m->kind != METRIC_HISTOGRAM || !m->bounds)
        return;
    while (b < m->nbounds && v > m->bounds[b])
        b++;
    pthread_mutex_lock(&metrics_mu);
    va_start(ap, v);
    s = metrics_series(m, ap);
    va_end(ap);
    if (s) {
        s->buckets[b]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&metrics_mu);
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
