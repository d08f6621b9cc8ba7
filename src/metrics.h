/*
 * metrics -- ragd's counters, gauges and histograms, and their rendering in
 * the Prometheus text exposition format 0.0.4 (GET /metrics).
 *
 * A metric is registered once, at startup, with a fixed list of label
 * names; each distinct tuple of label values is one series, created on
 * first use.  Label values must come from bounded sets (route templates,
 * instance names, status words), never from what a client sent: a metric
 * holds at most METRICS_MAX_SERIES series and drops updates past that.
 *
 * Threads: calls come from the loop threads (one lock guards the
 * registry).  Numbers that live elsewhere (the worker pool, each loop's
 * connections) are read at scrape time by a gauge callback, which runs
 * under that lock and so must not call back into this module.
 *
 * Ownership: the registry owns every metric; metrics_reset frees them all,
 * after which the pointers are invalid.  Registering a name twice returns
 * the first metric (so two modules may share a family), provided its kind
 * and labels match; otherwise NULL.  Every update function accepts NULL
 * (a metric that could not be registered) and does nothing.
 *
 * For other modules (breakers, the cache): register once at startup with
 * metrics_counter / metrics_gauge / metrics_histogram, keep the pointer,
 * and update it with metrics_add / metrics_set / metrics_observe, passing
 * one label value per label name, in order.
 */
#ifndef RAGD_METRICS_H
#define RAGD_METRICS_H

#include <stddef.h>

#define METRICS_MAX_LABELS 3
#define METRICS_MAX_SERIES 512

struct evbuffer;

typedef struct metric metric;

/* Gauge callback: the value now (called during metrics_render). */
typedef double (*metrics_gauge_fn)(void *arg);

/* Register a counter with nlabels label names (copied pointers: string
 * literals).  Returns the metric, or NULL (ENOMEM, a bad name, a clash). */
metric *metrics_counter(const char *name, const char *help, size_t nlabels,
                        const char *const *labels);

/* Register a gauge; fn (may be NULL) computes an unlabelled gauge's value
 * at each scrape, in which case metrics_set is not used. */
metric *metrics_gauge(const char *name, const char *help, size_t nlabels,
                      const char *const *labels, metrics_gauge_fn fn, void *arg);

/* Register a histogram with nbounds ascending upper bounds (copied); the
 * +Inf bucket is implied. */
metric *metrics_histogram(const char *name, const char *help, size_t nlabels,
                          const char *const *labels, const double *bounds, size_t nbounds);

/* Add v (>= 0) to a counter, or to a gauge, for the label values that
 * follow (exactly as many const char * as the metric has labels). */
void metrics_add(metric *m, double v, ...);

/* Set a gauge's series to v. */
void metrics_set(metric *m, double v, ...);

/* Record one observation v in a histogram's series. */
void metrics_observe(metric *m, double v, ...);

/* Append the exposition text of every metric, in registration order, to
 * out.  Returns 0, or -1 when nothing could be written (ENOMEM). */
int metrics_render(struct evbuffer *out);

/* Free every metric (at exit, and between unit tests). */
void metrics_reset(void);

/* Upper bounds in seconds for request and call latencies. */
extern const double metrics_latency_bounds[];
extern const size_t metrics_nlatency_bounds;

#endif /* RAGD_METRICS_H */
