/*
 * test_metrics -- the registry and its text exposition (metrics.h): label
 * escaping, cumulative histogram buckets with +Inf, _sum and _count, an
 * unlabelled metric shown from the start, a second registration of a name,
 * the series cap, route templates (access.h); and the shards: threads
 * bound to shards of their own, and two sharing the fallback, count
 * exactly while the text is rendered, counters never go back, a
 * histogram's _count matches its +Inf bucket, a gauge shows its last set,
 * the cap counts a series once over the shards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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

/* The number after prefix in text, or -1 when it is absent. */
static double sample(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);

    return p ? strtod(p + strlen(prefix), NULL) : -1;
}

#define HAMMER_THREADS 5 /* the last two share the fallback shard */
#define HAMMER_ROUNDS 20000

static metric *hammer_c, *hammer_h;
static atomic_int hammer_running;

/* Count HAMMER_ROUNDS requests, half of them 200 and half 500, each with
 * an observation of 0.5 or 2, and one series of its own. */
static void *hammer(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    char own[16];

    if (i < HAMMER_THREADS - 2)
        metrics_bind_shard(i + 1);
    snprintf(own, sizeof own, "t%u", i);
    for (int r = 0; r < HAMMER_ROUNDS; r++) {
        metrics_add(hammer_c, 1, "/search", r % 2 ? "500" : "200");
        metrics_add(hammer_c, 1, own, "200");
        metrics_observe(hammer_h, r % 2 ? 2 : 0.5, "kb");
    }
    atomic_fetch_sub(&hammer_running, 1);
    return NULL;
}

/* Render while the hammers run: the /search counter never goes back and
 * every text's histogram agrees with itself.  Returns the renders that
 * broke a rule. */
static int hammer_watch(void)
{
    double last = -1; /* -1: the series is not there yet */
    int bad = 0;

    while (atomic_load(&hammer_running) > 0) {
        char *text = render();
        double n = sample(text, "s_total{route=\"/search\",code=\"200\"} ");
        double inf = sample(text, "s_seconds_bucket{source=\"kb\",le=\"+Inf\"} ");
        double count = sample(text, "s_seconds_count{source=\"kb\"} ");

        if (n < last || inf != count)
            bad++;
        last = n;
        free(text);
    }
    return bad;
}

static void test_shards(void)
{
    static const char *const two[] = {"route", "code"}, *const one[] = {"source"};
    static const double bounds[] = {1};
    pthread_t t[HAMMER_THREADS];
    char *text, want[256];
    int bad, all = 1;

    hammer_c = metrics_counter("s_total", "Hammered", 2, two);
    hammer_h = metrics_histogram("s_seconds", "Hammered", 1, one, bounds, 1);
    atomic_store(&hammer_running, HAMMER_THREADS);
    for (unsigned i = 0; i < HAMMER_THREADS; i++)
        pthread_create(&t[i], NULL, hammer, (void *)(uintptr_t)i);
    bad = hammer_watch();
    for (unsigned i = 0; i < HAMMER_THREADS; i++)
        pthread_join(t[i], NULL);
    is_int(bad, 0, "while threads count, a render never shows a counter going back or a torn histogram");
    text = render();
    is_int(sample(text, "s_total{route=\"/search\",code=\"200\"} "), HAMMER_THREADS * HAMMER_ROUNDS / 2,
           "the shards' counts add up exactly");
    is_int(sample(text, "s_total{route=\"/search\",code=\"500\"} "), HAMMER_THREADS * HAMMER_ROUNDS / 2,
           "for every series");
    for (unsigned i = 0; i < HAMMER_THREADS; i++) {
        snprintf(want, sizeof want, "s_total{route=\"t%u\",code=\"200\"} %d\n", i, HAMMER_ROUNDS);
        all &= strstr(text, want) != NULL;
    }
    ok(all, "a series one thread counted alone is its count");
    snprintf(want, sizeof want,
             "s_seconds_bucket{source=\"kb\",le=\"1\"} %d\n"
             "s_seconds_bucket{source=\"kb\",le=\"+Inf\"} %d\n"
             "s_seconds_sum{source=\"kb\"} %d\n"
             "s_seconds_count{source=\"kb\"} %d\n",
             HAMMER_THREADS * HAMMER_ROUNDS / 2, HAMMER_THREADS * HAMMER_ROUNDS,
             HAMMER_THREADS * HAMMER_ROUNDS / 2 * 5 / 2, HAMMER_THREADS * HAMMER_ROUNDS);
    ok(strstr(text, want) != NULL, "histogram buckets, _sum and _count add up over the shards");
    ok(strstr(text, "s_total{route=\"/search\",code=\"200\"}") <
       strstr(text, "s_total{route=\"/search\",code=\"500\"}"), "series keep their first order");
    free(text);
    metrics_reset();
}

static void test_shard_gauges_and_cap(void)
{
    static const char *const one[] = {"name"};
    metric *g = metrics_gauge("s_state", "Set", 1, one, NULL, NULL);
    metric *a = metrics_gauge("s_open", "Added", 0, NULL, NULL, NULL);
    metric *c = metrics_counter("s_capped_total", "Capped", 1, one);
    char *text, v[16];
    int capped;

    metrics_bind_shard(1);
    metrics_set(g, 5, "x");
    metrics_add(a, 2);
    metrics_bind_shard(2);
    metrics_set(g, 7, "x");
    metrics_add(a, 3);
    text = render();
    ok(strstr(text, "s_state{name=\"x\"} 7\n") != NULL, "a set gauge shows the last set of any shard");
    ok(strstr(text, "s_open 5\n") != NULL, "an added gauge shows the sum over the shards");
    free(text);
    metrics_bind_shard(1);
    metrics_set(g, 3, "x");
    metrics_add(g, 1, "x");
    text = render();
    ok(strstr(text, "s_state{name=\"x\"} 4\n") != NULL, "with what its shard added since");
    free(text);
    metrics_bind_shard(3);
    metrics_add(g, 10, "x");
    text = render();
    ok(strstr(text, "s_state{name=\"x\"} 14\n") != NULL, "and what shards that never set it added");
    free(text);
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(v, sizeof v, "%d", i);
        metrics_add(c, 1, v);
    }
    metrics_bind_shard(2);
    for (int i = 0; i < METRICS_MAX_SERIES + 1; i++) {
        snprintf(v, sizeof v, "%d", i);
        metrics_add(c, 1, v);
    }
    metrics_bind_shard(METRICS_SHARDS);
    text = render();
    capped = strstr(text, "s_capped_total{name=\"0\"} 2\n") != NULL &&
             strstr(text, "s_capped_total{name=\"511\"} 2\n") != NULL &&
             !strstr(text, "name=\"512\"");
    ok(capped, "the cap counts a series once however many shards update it");
    free(text);
    metrics_reset();
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
    test_shards();
    test_shard_gauges_and_cap();

    is_str(access_route("/search"), "/search", "a route is its own template");
    is_str(access_route("/documents/abc%20d"), "/documents/{id}", "a document id is {id}");
    is_str(access_route("/jobs/42"), "/jobs/{id}", "a job id is {id}");
    is_str(access_route("/documents/a/b"), "other", "deeper paths are other");
    is_str(access_route("/nope"), "other", "an unknown path is other");
    return tap_done();
}
