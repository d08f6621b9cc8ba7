/*
 * test_metrics -- the registry and its text exposition (metrics.h): label
 * escaping, cumulative histogram buckets with +Inf, _sum and _count, an
 * unlabelled metric shown from the start, a second registration of a name,
 * the series cap, route templates (access.h).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../../src/access.h"
#include "../../src/metrics.h"
#include "tap.h"

/* The exposition text now (the caller frees it). */
static char *render(void)
{
    struct evbuffer *b = evbuffer_new();
    size_t n;
    char *text;

    metrics_render(b);
    n = evbuffer_get_length(b);
    text = calloc(1, n + 1);
    evbuffer_remove(b, text, n);
    evbuffer_free(b);
    return text;
}

static double fixed(void *arg)
{
    return *(double *)arg;
}

int main(void)
{
    static const char *const two[] = {"route", "code"}, *const one[] = {"source"};
    static const double bounds[] = {0.1, 1};
    double g = 7;
    metric *c = metrics_counter("t_requests_total", "Requests\nby \\route", 2, two);
    metric *h = metrics_histogram("t_seconds", "Latency", 1, one, bounds, 2);
    metric *u = metrics_counter("t_plain_total", "Plain", 0, NULL);
    char *text;
    int capped;

    ok(c && h && u && metrics_gauge("t_gauge", "A gauge", 0, NULL, fixed, &g), "registered");
    ok(metrics_counter("t_requests_total", "again", 2, two) == c, "a name registered twice is one metric");
    ok(!metrics_histogram("t_requests_total", "clash", 2, two, bounds, 2), "but not as another kind");
    ok(!metrics_counter("bad name", "x", 0, NULL), "a bad name is refused");
    metrics_add(c, 1, "/search", "200");
    metrics_add(c, 2, "/search", "200");
    metrics_add(c, 1, "we\"ird\\\n", "404");
    metrics_observe(h, 0.05, "kb");
    metrics_observe(h, 0.5, "kb");
    metrics_observe(h, 5, "kb");
    metrics_add(NULL, 1, "x"); /* a metric that could not be registered */
    text = render();
    ok(strstr(text, "# HELP t_requests_total Requests\\nby \\\\route\n# TYPE t_requests_total counter\n") != NULL,
       "HELP escapes newline and backslash; TYPE follows");
    ok(strstr(text, "t_requests_total{route=\"/search\",code=\"200\"} 3\n") != NULL, "a counter adds up");
    ok(strstr(text, "t_requests_total{route=\"we\\\"ird\\\\\\n\",code=\"404\"} 1\n") != NULL,
       "label values escape quote, backslash and newline");
    ok(strstr(text, "t_seconds_bucket{source=\"kb\",le=\"0.1\"} 1\n"
                    "t_seconds_bucket{source=\"kb\",le=\"1\"} 2\n"
                    "t_seconds_bucket{source=\"kb\",le=\"+Inf\"} 3\n"
                    "t_seconds_sum{source=\"kb\"} 5.55\n"
                    "t_seconds_count{source=\"kb\"} 3\n") != NULL,
       "histogram buckets are cumulative, end in +Inf, then _sum and _count");
    ok(strstr(text, "t_plain_total 0\n") != NULL, "an unlabelled counter shows 0 before any update");
    ok(strstr(text, "t_gauge 7\n") != NULL, "a callback gauge is read at scrape time");
    free(text);
    for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        metrics_add(c, 1, "/x", v);
    }
    text = render();
    /* two series were there already: 510 more fit under the cap of 512 */
    capped = strstr(text, "code=\"509\"") != NULL && !strstr(text, "code=\"510\"");
    ok(capped, "a metric keeps at most METRICS_MAX_SERIES series");
    free(text);
    metrics_reset();
    text = render();
    is_str(text, "", "reset forgets every metric");
    free(text);

    is_str(access_route("/search"), "/search", "a route is its own template");
    is_str(access_route("/documents/abc%20d"), "/documents/{id}", "a document id is {id}");
    is_str(access_route("/jobs/42"), "/jobs/{id}", "a job id is {id}");
    is_str(access_route("/documents/a/b"), "other", "deeper paths are other");
    is_str(access_route("/nope"), "other", "an unknown path is other");
    return tap_done();
}
