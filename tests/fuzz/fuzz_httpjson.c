/*
 * fuzz_httpjson -- the httpjson plugin, driven through its public entry
 * point exactly as ragd drives it: an instance is created from a config,
 * a search builds the request, and the "upstream" answers with the fuzz
 * input's response, mapped to hits.
 *
 * Input: the instance's config (JSON), then a line "--", then the response
 * body, optionally followed by another "--" line and the query text.  The
 * fake host hands every request straight back, so each input runs one
 * search answered with HTTP 200 (the mapping) and one answered with HTTP
 * 500 (the error path, which logs the start of the body).
 *
 * Checks, beyond the sanitizers: a refused config says why; a request has
 * an http(s) URL, header lines without line breaks and, for POST, a body
 * that is valid JSON whatever the query; an answer has at most k hits,
 * each with an id and a text; a failure carries a message.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ragd/source.h>

#include "fuzz.h"
#include "srccfg.h"

const ragd_source_type *ragd_source_entry(void);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The one request in flight, as the fake host received it. */
static struct {
    ragd_http_cb cb;
    void *arg;
    int post;
} fuzz_xfer;

/* What the search callback saw. */
typedef struct fuzz_result {
    int called, k;
} fuzz_result;

static int64_t fuzz_now_ms(const ragd_host *h)
{
    (void)h;
    return 1000000;
}

static void fuzz_log(const ragd_host *h, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    (void)h;
    (void)level;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
}

static int fuzz_http_request(const ragd_host *h, const ragd_http_request *req, ragd_http_cb cb,
                             void *arg, ragd_http_xfer **xfer)
{
    json_error_t jerr;
    json_t *body;

    (void)h;
    fuzz_check(req->url && (!strncmp(req->url, "http://", 7) || !strncmp(req->url, "https://", 8)));
    fuzz_check(req->method && (!strcmp(req->method, "GET") || !strcmp(req->method, "POST")));
    for (const char *const *line = req->headers; line && *line; line++)
        fuzz_check(strchr(*line, ':') && !strpbrk(*line, "\r\n"));
    fuzz_xfer.post = !strcmp(req->method, "POST");
    if (fuzz_xfer.post) {
        fuzz_check(req->body && req->body_len == strlen(req->body));
        body = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &jerr);
        fuzz_check(body != NULL);
        json_decref(body);
    }
    fuzz_xfer.cb = cb;
    fuzz_xfer.arg = arg;
    if (xfer)
        *xfer = NULL;
    return RAGD_OK;
}

static void fuzz_http_cancel(const ragd_host *h, ragd_http_xfer *xfer)
{
    (void)h;
    (void)xfer;
}

/* The config readers, with the contract of <ragd/source.h>. */
static const ragd_host fuzz_host = {
    .abi_version = RAGD_SOURCE_ABI_VERSION,
    .embedder = "hash",
    .embed_dims = 256,
    .now_ms = fuzz_now_ms,
    .log = fuzz_log,
    .http_request = fuzz_http_request,
    .http_cancel = fuzz_http_cancel,
    .cfg_string = srccfg_string,
    .cfg_int = srccfg_int,
    .cfg_number = srccfg_number,
    .cfg_bool = srccfg_bool,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* for "env:FUZZ_TOKEN" header values in the seeds */
    setenv("FUZZ_TOKEN", "Bearer fuzz-secret", 1);
    return 0;
}

static void fuzz_on_hits(void *arg, int status, const ragd_hit *hits, size_t nhits,
                         const char *error)
{
    fuzz_result *r = arg;

    r->called++;
    if (status == RAGD_OK) {
        fuzz_check(nhits <= (size_t)r->k && (hits || nhits == 0));
        for (size_t i = 0; i < nhits; i++) {
            fuzz_check(hits[i].id && *hits[i].id && hits[i].text && *hits[i].text);
        }
    } else {
        fuzz_check(status < 0 && error && *error);
    }
}

/* One search of instance self answered with HTTP http_status and body. */
static void fuzz_search(const ragd_source_type *type, void *self, const ragd_query *q,
                        long http_status, const fuzz_part *body)
{
    fuzz_result r = {0, q->k};
    ragd_op *op = NULL;
    int rc;

    memset(&fuzz_xfer, 0, sizeof fuzz_xfer);
    rc = type->search(self, q, fuzz_on_hits, &r, &op);
    if (rc != RAGD_OK) {
        fuzz_check(rc == RAGD_ENOMEM && r.called == 0);
        return;
    }
    fuzz_check(fuzz_xfer.cb != NULL && r.called == 0);
    fuzz_xfer.cb(fuzz_xfer.arg, RAGD_OK, http_status, body->p ? body->p : "", body->n, NULL);
    fuzz_check(r.called == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ragd_source_type *type = ragd_source_entry();
    fuzz_part part[3];
    json_t *cfg, *qtext = NULL;
    json_error_t jerr;
    char err[512] = "";
    void *self = NULL;
    ragd_query q = {"what is \"rrf\"? 100% {query} caf\xC3\xA9", 5, 2000000};
    int rc;

    fuzz_check(type && type->abi_version == RAGD_SOURCE_ABI_VERSION);
    fuzz_split(data, size, part, 3);
    /* ragd reads configs this way, and gives each source its own object */
    cfg = json_loadb(part[0].p, part[0].n, JSON_REJECT_DUPLICATES, &jerr);
    if (!cfg)
        return 0;
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return 0;
    }
    rc = type->create(&fuzz_host, "fuzz", cfg, &self, err, sizeof err);
    if (rc != RAGD_OK) {
        fuzz_check(rc < 0 && err[0] != '\0');
        json_decref(cfg);
        return 0;
    }
    /* ragd only ever asks with a non-empty UTF-8 query and k in 1..100 */
    if (part[2].n && !memchr(part[2].p, '\0', part[2].n) &&
        (qtext = json_stringn(part[2].p, part[2].n)))
        q.text = json_string_value(qtext);
    q.k = 1 + (int)(part[1].n % 100);
    fuzz_search(type, self, &q, 200, &part[1]);
    fuzz_search(type, self, &q, 500, &part[1]);
    type->destroy(self);
    json_decref(qtext);
    json_decref(cfg);
    return 0;
}
