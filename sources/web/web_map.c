/*
 * web_map -- providers' wire formats.  Only SearxNG's JSON API for now:
 *   GET {base}/search?q=...&format=json
 *   {"results": [{"url", "title", "content", "score"?}, ...]}
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_map.h"

char *web_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *p = out;

    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

char *web_normalize_url(const char *url)
{
    char *out = strdup(url), *p, *host, *end;
    size_t n;

    if (!out)
        return NULL;
    if ((p = strchr(out, '#')))
        *p = '\0';
    host = strstr(out, "://");
    host = host ? host + 3 : out;
    for (p = out; p < host; p++)
        *p = (char)tolower((unsigned char)*p);
    end = host + strcspn(host, "/?");
    for (p = host; p < end; p++)
        *p = (char)tolower((unsigned char)*p);
    n = (size_t)(end - host);
    if ((n > 3 && !strncmp(end - 3, ":80", 3) && !strncmp(out, "http:", 5)) ||
        (n > 4 && !strncmp(end - 4, ":443", 4) && !strncmp(out, "https:", 6))) {
        char *port = strrchr(host, ':');
        memmove(port, end, strlen(end) + 1);
    }
    n = strlen(out);
    while (n > 0 && out[n - 1] == '/' && out + n - 1 > host)
        out[--n] = '\0';
    return out;
}

void web_hits_release(web_hits *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free((char *)h->v[i].id);
        free((char *)h->v[i].title);
        free((char *)h->v[i].url);
        free((char *)h->v[i].text);
    }
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

static char *searxng_url(const char *base, const char *query)
{
    char *q = web_escape(query), *url = NULL;
    size_t n = strlen(base);

    if (!q)
        return NULL;
    while (n > 0 && base[n - 1] == '/')
        n--;
    if (asprintf(&url, "%.*s/search?q=%s&format=json", (int)n, base, q) < 0)
        url = NULL;
    free(q);
    return url;
}

/* Append one SearxNG result; results without a URL are skipped. */
static int searxng_add(json_t *item, size_t rank, web_hits *out)
{
    const char *url = json_string_value(json_object_get(item, "url"));
    const char *title = json_string_value(json_object_get(item, "title"));
    const char *content = json_string_value(json_object_get(item, "content"));
    ragd_hit *h = &out->v[out->n];

    if (!url || !*url)
        return 0;
    h->id = web_normalize_url(url);
    h->url = strdup(url);
    h->title = strdup(title ? title : "");
    h->text = strdup(content ? content : "");
    h->score = 1.0 / (double)(rank + 1);
    out->n++;
    return (h->id && h->url && h->title && h->text) ? 0 : -1;
}

static int searxng_parse(const char *body, size_t len, int k, web_hits *out, char *err,
                         size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr), *results, *item;
    size_t i;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (!root) {
        snprintf(err, errlen, "malformed JSON from upstream (%s at byte %d)", jerr.text,
                 jerr.position);
        return -1;
    }
    results = json_object_get(root, "results");
    if (!json_is_array(results)) {
        snprintf(err, errlen, "unexpected response from upstream: no \"results\" array");
        goto done;
    }
    if (!(out->v = calloc(json_array_size(results) + 1, sizeof *out->v))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    json_array_foreach(results, i, item) {
        if ((int)out->n >= k)
            break;
        if (json_is_object(item) && searxng_add(item, i, out) != 0) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    if (rc != 0)
        web_hits_release(out);
    json_decref(root);
    return rc;
}

static const web_provider web_providers[] = {
    {"searxng", searxng_url, searxng_parse},
};

const web_provider *web_provider_find(const char *name)
{
    for (size_t i = 0; i < sizeof web_providers / sizeof *web_providers; i++)
        if (strcmp(web_providers[i].name, name) == 0)
            return &web_providers[i];
    return NULL;
}
