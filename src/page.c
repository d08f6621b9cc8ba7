/*
 * page -- the playground's files, from the binary (see page.h).
 *
 * The bytes are generated into page_assets.c at build time; this file only
 * knows their paths and types.  The ETag is the FNV-1a hash of a file's
 * bytes: it changes exactly when a new build changes the file, and it is
 * computed per request because the files are small (a few tens of KiB).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "hash.h"
#include "page.h"
#include "reply.h"

/* Defined in the generated page_assets.c. */
extern const unsigned char page_index_html[], page_app_js[], page_app_css[];
extern const size_t page_index_html_len, page_app_js_len, page_app_css_len;

typedef struct page_file {
    const char *path;
    const char *type;
    const unsigned char *data;
    const size_t *len;
} page_file;

static const page_file page_files[] = {
    {"/", "text/html; charset=utf-8", page_index_html, &page_index_html_len},
    {"/app.js", "text/javascript; charset=utf-8", page_app_js, &page_app_js_len},
    {"/app.css", "text/css; charset=utf-8", page_app_css, &page_app_css_len},
};

static const page_file *page_find(const char *path)
{
    for (size_t i = 0; path && i < sizeof page_files / sizeof *page_files; i++)
        if (strcmp(page_files[i].path, path) == 0)
            return &page_files[i];
    return NULL;
}

int page_owns(const char *path)
{
    return page_find(path) != NULL;
}

void page_serve(struct evhttp_request *req)
{
    const page_file *f = page_find(evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)));
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *match = evhttp_find_header(evhttp_request_get_input_headers(req),
                                           "If-None-Match");
    struct evbuffer *body;
    char etag[24];

    assert(f); /* the caller asked page_owns */
    if (!reply_method_ok(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET"))
        return;
    snprintf(etag, sizeof etag, "\"%016" PRIx64 "\"",
             hash_fnv1a((const char *)f->data, *f->len));
    evhttp_add_header(out, "ETag", etag);
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_add_header(out, "Content-Security-Policy", PAGE_CSP);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    if (match && strstr(match, etag)) {
        evhttp_send_reply(req, 304, "Not Modified", NULL);
        return;
    }
    evhttp_add_header(out, "Content-Type", f->type);
    if (!(body = evbuffer_new()) || evbuffer_add_reference(body, f->data, *f->len, NULL, NULL)) {
        if (body)
            evbuffer_free(body);
        reply_error(req, 500, "internal", "out of memory sending the page");
        return;
    }
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
}
