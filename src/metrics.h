/*
 * metrics -- ragd's counters, gauges and histograms, and their rendering in
 * the Prometheus text exposition format 0.0.4 (GET /metrics).
 *
 * A metric is registered once, at startup, with a fixed list of label
 * names; each distinct tuple of label values is one series, created on
 * first use.  Label values must come from bounded sets (route templates,
 * instance names, status words), never from what a client sent: a metric
 * holds at most METRICS_MAX_SERIES series (distinct label value tuples,
 * counted once however many shards update them) and drops updates to new
 * ones past that.
 *
 * Threads: each event loop counts into a shard of its own, so that loops
 * never share a lock or a written cache line on the update path.  A loop
 * thread binds its shard once (metrics_bind_shard, with its loop index);
 * any other thread (the worker pool, a source's own threads, unit tests)
 * counts into one shared fallback shard.  Every shard has a mutex that
 * only its own threads and the scrape take.  metrics_render sums the
 * shards, per series:
 *   - counters, and histograms' buckets, _sum and _count, add up;
 *   - a gauge shows the most recent metrics_set on any shard (by the
 *     monotonic clock), plus what metrics_add added on that shard since,
 *     plus what metrics_add added on shards that never set it: a gauge
 *     only set shows its last value, one only added to shows the sum.
 * Where one thread updates a series (one loop), its text is exactly what a
 * single shared registry would show.  A series shows from the first update on any shard, in the
 * order series first appeared.  Numbers that live elsewhere (the worker
 * pool, each loop's connections) are read at scrape time by a gauge
 * callback, which runs under the registry's lock and so must not call back
 * into this module.
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
/* Loop indexes below this have a shard of their own (ragd's loops fit). */
#define METRICS_SHARDS 64

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

/* Make the calling thread count into shard i from now on (i: its loop's
 * index, 0 for the main loop).  An index of METRICS_SHARDS or more means
 * the shared fallback shard, where every thread starts. */
void metrics_bind_shard(unsigned i);

/* Append the exposition text of every metric, in registration order, to
 * out.  Returns 0, or -1 when nothing could be written (ENOMEM). */
int metrics_render(struct evbuffer *out);

/* Free every metric and every shard's series (at exit, and between unit
 * tests; no thread may update or render meanwhile). */
void metrics_reset(void);

/* Upper bounds in seconds for request and call latencies. */
extern const double metrics_latency_bounds[];
extern const size_t metrics_nlatency_bounds;

#endif /* RAGD_METRICS_H */
