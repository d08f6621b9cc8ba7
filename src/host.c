/*
 * host -- implements the ragd_host services on top of ragd's own modules.
 *
 * Query embedding lives here because it is a host service: the embedder is
 * fixed by the store the sources read ("embed queries the way the documents
 * were embedded"), and the remote one needs the shared HTTP client.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "defer.h"
#include "embed.h"
#include "filter.h"
#include "host.h"
#include "url.h"
#include "log.h"
#include "srccfg.h"
#include "store.h"

/* What this thread's host calls use (host.h): its loop, and the search
 * whose requests are being started. */
static _Thread_local struct {
    struct event_base *base;
    httpc *http;
    hedge_won_fn won;
    uintptr_t tag;
} host_here;

void host_bind_loop(struct event_base *base, httpc *http)
{
    host_here.base = base;
    host_here.http = http;
}

void host_tag_begin(hedge_won_fn won, uintptr_t tag)
{
    host_here.won = won;
    host_here.tag = tag;
}

void host_tag_end(void)
{
    host_here.won = NULL;
    host_here.tag = 0;
}

static struct event_base *host_base(const host_services *svc)
{
    return host_here.base ? host_here.base : svc->base;
}

static httpc *host_http(const host_services *svc)
{
    return host_here.http ? host_here.http : svc->http;
}

static int64_t host_now_ms(const ragd_host *h)
{
    (void)h;
    return clock_ms();
}

static void host_log(const ragd_host *h, int level, const char *fmt, ...)
{
    const host_ctx *ctx = h->priv;
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, ctx->name, fmt, ap);
    va_end(ap);
}

static int host_http_request(const ragd_host *h, const ragd_http_request *req, ragd_http_cb cb,
                             void *arg, ragd_http_xfer **xfer)
{
    const host_ctx *ctx = h->priv;
    return hedge_start(ctx->hg, host_base(ctx->svc), host_http(ctx->svc), req, cb, arg,
                       host_here.won, host_here.tag, xfer);
}

static void host_http_cancel(const ragd_host *h, ragd_http_xfer *xfer)
{
    (void)h;
    hedge_cancel(xfer);
}

static int host_work_submit(const ragd_host *h, ragd_work_fn work, ragd_work_done_fn done, void *arg)
{
    const host_ctx *ctx = h->priv;
    return pool_submit(ctx->svc->pool, work, done, arg) == 0 ? RAGD_OK : RAGD_ENOMEM;
}

/* ------------------------------------------------------------- embed -- */

/* One query embedding in flight.  Owned by itself: freed after cb runs. */
typedef struct host_embed_op {
    ragd_embed_cb cb;
    void *arg;
    size_t dims;
    float *vec;
    char error[256];
} host_embed_op;

static void host_embed_finish(host_embed_op *op, int status)
{
    op->cb(op->arg, status, status == RAGD_OK ? op->vec : NULL, status == RAGD_OK ? op->dims : 0,
           status == RAGD_OK ? NULL : op->error);
    free(op->vec);
    free(op);
}

static void host_embed_hash_done(void *arg)
{
    host_embed_finish(arg, RAGD_OK);
}

static void host_embed_http_done(void *arg, int status, long http_status, const char *body,
                                 size_t len, const char *error)
{
    host_embed_op *op = arg;
    size_t dims = 0;

    if (status != RAGD_OK) {
        snprintf(op->error, sizeof op->error, "embeddings request failed: %s", error);
    } else if (http_status != 200) {
        snprintf(op->error, sizeof op->error, "embeddings endpoint answered HTTP %ld", http_status);
        status = RAGD_ERR;
    } else if (embed_openai_parse(body, len, 1, &dims, &op->vec, op->error, sizeof op->error) != 0) {
        status = RAGD_ERR;
    } else if (dims != op->dims) {
        snprintf(op->error, sizeof op->error,
                 "embeddings endpoint returned %zu dimensions, the store has %zu", dims, op->dims);
        status = RAGD_ERR;
    }
    host_embed_finish(op, status);
}

static int host_embed_remote(const host_ctx *ctx, host_embed_op *op, const char *text,
                             int64_t deadline_ms)
{
    const host_services *svc = ctx->svc;
    const char *texts[1] = {text};
    char auth[512];
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    ragd_http_request req = {0};
    char *body = embed_openai_body(svc->embed_model, texts, 1);
    int64_t left = deadline_ms - clock_ms();
    int rc;

    if (!body)
        return RAGD_ENOMEM;
    if (svc->embed_key && *svc->embed_key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", svc->embed_key);
        headers[1] = auth;
    }
    req.method = "POST";
    req.url = svc->embed_url;
    req.headers = headers;
    req.body = body;
    req.body_len = strlen(body);
    /* The source's deadline timer is what ends a search; this limit is a
     * backstop set later so it never wins that race. */
    req.timeout_ms = (left > 1 ? (long)left : 1) + 1000;
    req.max_response = 4u << 20;
    rc = hedge_start(ctx->hg, host_base(svc), host_http(svc), &req, host_embed_http_done, op,
                     host_here.won, host_here.tag, NULL);
    free(body);
    return rc;
}

static int host_embed(const ragd_host *h, const char *text, int64_t deadline_ms, ragd_embed_cb cb,
                      void *arg)
{
    const host_ctx *ctx = h->priv;
    const host_services *svc = ctx->svc;
    host_embed_op *op = calloc(1, sizeof *op);
    int rc;

    if (!op)
        return RAGD_ENOMEM;
    op->cb = cb;
    op->arg = arg;
    op->dims = svc->embed_dims;
    if (strcmp(svc->embedder, "openai") == 0) {
        rc = host_embed_remote(ctx, op, text, deadline_ms);
    } else if (!(op->vec = malloc(op->dims * sizeof *op->vec))) {
        rc = RAGD_ENOMEM;
    } else {
        /* Cheap enough to run on the loop; delivered later to keep the
         * callback rule. */
        embed_hash(text, strlen(text), op->vec, op->dims);
        rc = defer_call(host_base(svc), host_embed_hash_done, op) == 0 ? RAGD_OK : RAGD_ENOMEM;
    }
    if (rc != RAGD_OK) {
        free(op->vec);
        free(op);
    }
    return rc;
}

/* ------------------------------------------------------- cfg readers -- */

void host_init(ragd_host *h, host_ctx *ctx)
{
    memset(h, 0, sizeof *h);
    h->abi_version = RAGD_SOURCE_ABI_VERSION;
    h->base = ctx->svc->base;
    h->nworkers = pool_size(ctx->svc->pool);
    h->embedder = ctx->svc->embedder;
    h->embed_dims = ctx->svc->embed_dims;
    h->priv = ctx;
    h->now_ms = host_now_ms;
    h->log = host_log;
    h->http_request = host_http_request;
    h->http_cancel = host_http_cancel;
    h->work_submit = host_work_submit;
    h->embed = host_embed;
    h->cfg_string = srccfg_string;
    h->cfg_int = srccfg_int;
    h->cfg_number = srccfg_number;
    h->cfg_bool = srccfg_bool;
    h->filter_match = filter_match;
}

static int host_dup(char **slot, const char *s)
{
    free(*slot);
    *slot = s ? strdup(s) : NULL;
    return s && !*slot ? -1 : 0;
}

/* The query embedder is the one the store's vectors were made with; a
 * store that records none (or no store) gets the hash embedder. */
int host_embedder_from_store(host_services *svc, const char *db_path, const char *embed_url,
                             char *err, size_t errlen)
{
    store_embedder e = {.name = "hash"};
    store *db = NULL;
    int rc = -1;

    if (db_path) {
        if (store_open(db_path, 0, &db, err, errlen) != 0)
            return -1;
        rc = store_embedder_get(db, &e);
        if (rc < 0)
            snprintf(err, errlen, "%s: cannot read meta (%s)", db_path, store_errmsg(db));
        store_close(&db);
        if (rc < 0)
            return -1;
        if (rc == 0)
            snprintf(e.name, sizeof e.name, "hash");
        rc = -1;
    }
    snprintf(svc->embedder, sizeof svc->embedder, "%s", e.name);
    if (strcmp(e.name, "hash") == 0) {
        svc->embed_dims = EMBED_HASH_DIMS;
        return 0;
    }
    svc->embed_dims = e.dims;
    if (strcmp(e.name, "openai") != 0 || e.dims == 0) {
        snprintf(err, errlen, "%s: unknown embedder \"%s\" (%zu dims)", db_path, e.name, e.dims);
        return -1;
    }
    if (!embed_url && e.url[0])
        embed_url = e.url;
    if (!embed_url) {
        snprintf(err, errlen, "%s was built with the openai embedder: pass --embed-url", db_path);
        return -1;
    }
    free(svc->embed_url);
    if (!(svc->embed_url = url_join(embed_url, "/embeddings")))
        return -1;
    if (host_dup(&svc->embed_model, e.model) == 0 &&
        host_dup(&svc->embed_key, getenv("RAGD_EMBED_API_KEY")) == 0)
        rc = 0;
    return rc;
}

void host_services_release(host_services *svc)
{
    free(svc->embed_url);
    free(svc->embed_model);
    free(svc->embed_key);
    svc->embed_url = svc->embed_model = svc->embed_key = NULL;
}
