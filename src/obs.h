/*
 * obs -- the metric families ragd's own modules update, registered once
 * (obs_init) and shared through one table, so that every name, help text
 * and label set is in one place and GET /metrics lists them in a stable
 * order.
 *
 * Gauges read from live state at scrape time (connections, in-flight
 * requests, the worker pool, HTTP transfers) are registered by the server,
 * which owns that state; the request counters by access.c.  Modules added
 * later register their own families through metrics.h.
 *
 * Loop thread only, like metrics.h: code on a worker thread never updates
 * these; its results are counted when they come back to the loop.
 */
#ifndef RAGD_OBS_H
#define RAGD_OBS_H

#include "metrics.h"

typedef struct obs_metrics {
    metric *source_calls;       /* {source, status}: ok error timeout skipped cached ... */
    metric *source_latency;     /* {source}: seconds, sources that were asked */
    metric *stage_latency;      /* {stage}: retrieval fusion generation, seconds */
    metric *llm_calls;          /* {outcome}: ok error */
    metric *llm_retries;
    metric *llm_tokens;         /* streamed answer pieces */
    metric *jobs;               /* {status}: finished jobs, by final status */
    metric *documents_written;
    metric *cache_hits;         /* searches answered from the result cache */
    metric *cache_misses;       /* cacheable searches that found nothing there */
    metric *hedges;             /* {source, outcome}: sent won */
    metric *breaker_state;      /* {source}: 0 closed, 1 open, 2 half-open */
    metric *breaker_opened;     /* {source}: times the breaker opened */
    metric *index_loads;        /* {source}: whole-index loads from the store */
    metric *loop_requests;      /* {loop}: requests each event loop took */
} obs_metrics;

/* Every pointer is NULL until obs_init, and the metrics.h calls accept
 * NULL: code that runs without a server (tools, unit tests) counts
 * nothing. */
extern obs_metrics obs;

/* Register the families and ragd_build_info.  Returns 0, or -1 (ENOMEM). */
int obs_init(void);

/* Forget the table (metrics_reset frees the metrics themselves). */
void obs_reset(void);

#endif /* RAGD_OBS_H */
