/*
 * web_map -- providers' wire formats.  Only SearxNG's JSON API for now:
 *   GET {base}/search?q=...&format=json
 *   {"results": [{"url", "title", "content", "score"?}, ...]}
 * A hit's id is its normalised URL, parsed by libcurl's URL API rather than
 * by hand, so what counts as host, port or path is what a client sees.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "hits.h"
#include "web_map.h"

char *web_map_escape(const char *s)
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

/* Lower-case u's host in place.  A URL without one (file:///x) has none to
 * lower; an IPv6 zone id ("%25eth0") is kept, as setting the host drops it. */
static CURLUcode web_map_lower_host(CURLU *u)
{
    char *host = NULL, *zone = NULL;
    CURLUcode rc = curl_url_get(u, CURLUPART_HOST, &host, 0);

    if (rc == CURLUE_NO_HOST)
        return CURLUE_OK;
    if (rc != CURLUE_OK)
        return rc;
    rc = curl_url_get(u, CURLUPART_ZONEID, &zone, 0);
    if (rc != CURLUE_OK && rc != CURLUE_NO_ZONEID)
        goto done;
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if ((rc = curl_url_set(u, CURLUPART_HOST, host, 0)) == CURLUE_OK && zone)
        rc = curl_url_set(u, CURLUPART_ZONEID, zone, 0);
done:
    curl_free(zone);
    curl_free(host);
    return rc;
}

/* u as an id, malloc'd, into *out: the rules of web_map_normalize_url. */
static CURLUcode web_map_id(CURLU *u, char **out)
{
    char *url = NULL, *auth;
    size_t n, keep;
    CURLUcode rc;

    *out = NULL;
    /* libcurl lower-cases the scheme itself. */
    if ((rc = web_map_lower_host(u)) != CURLUE_OK
        || (rc = curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0)) != CURLUE_OK
        || (rc = curl_url_get(u, CURLUPART_URL, &url, CURLU_NO_DEFAULT_PORT)) != CURLUE_OK)
        return rc;
    /* Trailing slashes go wherever they are (path or query), as they always
     * have, so ids stay what they were; the authority is never cut. */
    auth = strstr(url, "://");
    keep = auth ? (size_t)(auth - url) + 3 : 0;
    n = strlen(url);
    while (n > keep + 1 && url[n - 1] == '/')
        n--;
    *out = strndup(url, n);
    curl_free(url);
    return *out ? CURLUE_OK : CURLUE_OUT_OF_MEMORY;
}

char *web_map_normalize_url(const char *url)
{
    CURLU *u = curl_url();
    char *id = NULL;
    CURLUcode rc;

    if (!u)
        return NULL;
    /* Any scheme is parsed, not only those this libcurl was built to fetch,
     * and dot segments are left alone: both would change ids otherwise. */
    rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
    if (rc == CURLUE_OK)
        rc = web_map_id(u, &id);
    curl_url_cleanup(u);
    if (rc == CURLUE_OUT_OF_MEMORY)
        return NULL;
    return rc == CURLUE_OK ? id : strdup(url);
}

void web_map_hits_release(web_hits *h)
{
    hits_release(h->v, h->n);
    h->v = NULL;
    h->n = 0;
}

static char *web_map_searxng_url(const char *base, const char *query)
{
    char *q = web_map_escape(query), *url = NULL;
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
static int web_map_searxng_add(json_t *item, size_t rank, web_hits *out)
{
    const char *url = json_string_value(json_object_get(item, "url"));
    const char *title = json_string_value(json_object_get(item, "title"));
    const char *content = json_string_value(json_object_get(item, "content"));
    ragd_hit *h = &out->v[out->n];

    if (!url || !*url)
        return 0;
    h->id = web_map_normalize_url(url);
    h->url = strdup(url);
    h->title = strdup(title ? title : "");
    h->text = strdup(content ? content : "");
    h->score = 1.0 / (double)(rank + 1);
    out->n++;
    return (h->id && h->url && h->title && h->text) ? 0 : -1;
}

static int web_map_searxng_parse(const char *body, size_t len, int k, web_hits *out, char *err,
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
        if (json_is_object(item) && web_map_searxng_add(item, i, out) != 0) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    if (rc != 0)
        web_map_hits_release(out);
    json_decref(root);
    return rc;
}

static const web_provider web_providers[] = {
    {"searxng", web_map_searxng_url, web_map_searxng_parse},
};

const web_provider *web_map_provider_find(const char *name)
{
    for (size_t i = 0; i < sizeof web_providers / sizeof *web_providers; i++)
        if (strcmp(web_providers[i].name, name) == 0)
            return &web_providers[i];
    return NULL;
}
