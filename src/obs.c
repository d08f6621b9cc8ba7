/*
 * obs -- registration of ragd's metric families (see obs.h).
 */
#include <string.h>

#include "obs.h"

obs_metrics obs;

int obs_init(void)
{
    static const char *const source_status[] = {"source", "status"}, *const source[] = {"source"},
                             *const stage[] = {"stage"}, *const outcome[] = {"outcome"},
                             *const status[] = {"status"}, *const version[] = {"version"},
                             *const source_outcome[] = {"source", "outcome"},
                             *const loop[] = {"loop"};
    metric *info = metrics_gauge("ragd_build_info", "The running ragd's version; always 1", 1,
                                 version, NULL, NULL);

    metrics_set(info, 1, PACKAGE_VERSION);
    obs = (obs_metrics){
        metrics_counter("ragd_source_requests_total",
                        "Source instance calls of searches, by how they ended", 2, source_status),
        metrics_histogram("ragd_source_duration_seconds",
                          "Latency of the calls a source instance answered or failed", 1, source,
                          metrics_latency_bounds, metrics_nlatency_bounds),
        metrics_histogram("ragd_search_stage_duration_seconds",
                          "Time searches spent in each stage", 1, stage,
                          metrics_latency_bounds, metrics_nlatency_bounds),
        metrics_counter("ragd_llm_calls_total", "LLM completion calls, by outcome", 1, outcome),
        metrics_counter("ragd_llm_retries_total", "LLM calls retried after a failure", 0, NULL),
        metrics_counter("ragd_llm_streamed_tokens_total",
                        "Answer pieces streamed from the LLM", 0, NULL),
        metrics_counter("ragd_ingest_jobs_total", "Ingest jobs finished, by final status", 1,
                        status),
        metrics_counter("ragd_documents_written_total",
                        "Documents written to the store by jobs", 0, NULL),
        metrics_counter("ragd_cache_hits_total",
                        "Searches answered from the result cache", 0, NULL),
        metrics_counter("ragd_cache_misses_total",
                        "Cacheable searches not found in the result cache", 0, NULL),
        metrics_counter("ragd_source_hedges_total",
                        "Hedged HTTP requests of source instances: sent, and won (answered "
                        "first)", 2, source_outcome),
        metrics_gauge("ragd_source_breaker_state",
                      "Circuit breaker of each source instance: 0 closed, 1 open, 2 half-open",
                      1, source, NULL, NULL),
        metrics_counter("ragd_source_breaker_opened_total",
                        "Times the circuit breaker of a source instance opened", 1, source),
        metrics_counter("ragd_source_index_loads_total",
                        "Times a source instance loaded its whole index from the store: once "
                        "at start, again only when it rebuilds", 1, source),
        metrics_counter("ragd_loop_requests_total",
                        "Requests taken by each event loop (--loops), numbered from 0, the "
                        "main loop", 1, loop),
    };
    return info && obs.source_calls && obs.source_latency && obs.stage_latency && obs.llm_calls &&
                   obs.llm_retries && obs.llm_tokens && obs.jobs && obs.documents_written &&
                   obs.cache_hits && obs.cache_misses && obs.hedges &&
                   obs.breaker_state && obs.breaker_opened && obs.index_loads &&
                   obs.loop_requests
               ? 0 : -1;
}

void obs_reset(void)
{
    memset(&obs, 0, sizeof obs);
}
