/*
 * web -- the web search source: one HTTP request per query to a search API
 * (SearxNG by default) through the host's asynchronous HTTP client.
 *
 * Config: {"url": BASE (required), "provider": "searxng",
 *          "max_response_bytes": N (default 2 MiB)}.
 * Any HTTP status but 200, a refused or reset connection, or a body that is
 * not the provider's JSON is an error with a message saying which.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ragd/source.h>

#include "web_map.h"

#define WEB_TIMEOUT_SLACK_MS 1000

typedef struct web {
    const ragd_host *host;
    const web_provider *provider;
    char *url;
    size_t max_response;
} web;

/* One query in flight; freed after the host's callback has been called.
 * The op handle given to the host is the search itself. */
typedef struct web_search {
    web *w;
    int k;
    ragd_search_cb cb;
    void *arg;
    ragd_http_xfer *xfer;
} web_search;

static int web_create(const ragd_host *host, const char *name, json_t *config, void **self,
                      char *err, size_t errlen)
{
    const char *url, *provider;
    long long maxr;
    web *w;

    (void)name;
    if (host->cfg_string(config, "url", NULL, &url, err, errlen) ||
        host->cfg_string(config, "provider", "searxng", &provider, err, errlen) ||
        host->cfg_int(config, "max_response_bytes", 2 << 20, 1024, 64 << 20, &maxr, err, errlen))
        return RAGD_EINVAL;
    if (!url || !*url) {
        snprintf(err, errlen, "url: required (or pass --web-url)");
        return RAGD_EINVAL;
    }
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        snprintf(err, errlen, "url: expected http:// or https://, got \"%s\"", url);
        return RAGD_EINVAL;
    }
    if (!(w = calloc(1, sizeof *w)))
        return RAGD_ENOMEM;
    if (!(w->provider = web_map_provider_find(provider))) {
        snprintf(err, errlen, "provider: unknown provider \"%s\" (known: searxng)", provider);
        free(w);
        return RAGD_EINVAL;
    }
    if (!(w->url = strdup(url))) {
        free(w);
        return RAGD_ENOMEM;
    }
    w->host = host;
    w->max_response = (size_t)maxr;
    *self = w;
    return RAGD_OK;
}

static void web_http_done(void *arg, int status, long http_status, const char *body, size_t len,
                          const char *error)
{
    web_search *ws = arg;
    web_hits hits = {0};
    char why[300];

    if (status != RAGD_OK) {
        snprintf(why, sizeof why, "%s", error ? error : "request failed");
        ws->cb(ws->arg, status, NULL, 0, why);
    } else if (http_status != 200) {
        snprintf(why, sizeof why, "upstream answered HTTP %ld", http_status);
        ws->cb(ws->arg, RAGD_ERR, NULL, 0, why);
    } else if (ws->w->provider->parse(body, len, ws->k, &hits, why, sizeof why) != 0) {
        ws->cb(ws->arg, RAGD_ERR, NULL, 0, why);
    } else {
        ws->cb(ws->arg, RAGD_OK, hits.v, hits.n, NULL);
        web_map_hits_release(&hits);
    }
    free(ws);
}

static int web_search_start(void *self, const ragd_query *q, ragd_search_cb cb, void *arg,
                            ragd_op **op)
{
    web *w = self;
    web_search *ws = calloc(1, sizeof *ws);
    static const char *const headers[] = {"Accept: application/json", NULL};
    ragd_http_request req = {0};
    int64_t left = q->deadline_ms - w->host->now_ms(w->host);
    char *url;
    int rc;

    if (!ws)
        return RAGD_ENOMEM;
    if (!(url = w->provider->url(w->url, q->text))) {
        free(ws);
        return RAGD_ENOMEM;
    }
    ws->w = w;
    ws->k = q->k;
    ws->cb = cb;
    ws->arg = arg;
    req.url = url;
    req.headers = headers;
    /* ragd's own timer ends the search at its deadline; libcurl's limit is
     * only a backstop, set later so it never wins that race. */
    req.timeout_ms = (left > 1 ? (long)left : 1) + WEB_TIMEOUT_SLACK_MS;
    req.max_response = w->max_response;
    rc = w->host->http_request(w->host, &req, web_http_done, ws, &ws->xfer);
    free(url);
    if (rc != RAGD_OK) {
        free(ws);
        return rc;
    }
    *op = (ragd_op *)ws;
    return RAGD_OK;
}

static void web_cancel(void *self, ragd_op *op)
{
    web *w = self;
    web_search *ws = (web_search *)op;

    w->host->http_cancel(w->host, ws->xfer);
}

static void web_destroy(void *self)
{
    web *w = self;

    free(w->url);
    free(w);
}

static const ragd_source_type web_type = {
    RAGD_SOURCE_ABI_VERSION, "web", web_create, web_search_start, web_cancel, web_destroy,
    RAGD_SOURCE_LOOPS,
};

const ragd_source_type *ragd_source_web(void)
{
    return &web_type;
}
