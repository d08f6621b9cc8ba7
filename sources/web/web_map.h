/*
 * web_map -- how a web search provider's API is asked and answered: the
 * request URL for a query, and its JSON response turned into hits.  One
 * table entry per provider, so adding a provider touches only web_map.c.
 */
#ifndef RAGD_WEB_MAP_H
#define RAGD_WEB_MAP_H

#include <stddef.h>

#include <jansson.h>
#include <ragd/source.h>

/* Hits parsed from one response.  Owns every string. */
typedef struct web_hits {
    ragd_hit *v;
    size_t n;
} web_hits;

typedef struct web_provider {
    const char *name;
    /* Write the request URL for query against base into a malloc'd string. */
    char *(*url)(const char *base, const char *query);
    /* Parse a response body into at most k hits.  Returns 0, or -1 with a
     * message in err. */
    int (*parse)(const char *body, size_t len, int k, web_hits *out, char *err, size_t errlen);
} web_provider;

/* The provider called name ("searxng"), or NULL. */
const web_provider *web_map_provider_find(const char *name);

/* Percent-encode s for a URL query component; malloc'd, NULL on ENOMEM. */
char *web_map_escape(const char *s);

/* Normalise a URL so the same page found twice gets one id: lower-case
 * scheme and host, no fragment, no default port (nor an empty one), no
 * trailing '/' (at the end of the path, or of the query when there is one).
 * The URL is read by libcurl's parser, so userinfo, IPv6 literals and
 * colons in the path or query are taken as a client takes them; the path,
 * query and userinfo are otherwise kept byte for byte.  A URL libcurl
 * refuses is its own id, as given.  Malloc'd, NULL on ENOMEM. */
char *web_map_normalize_url(const char *url);

/* Free the hits and their strings. */
void web_map_hits_release(web_hits *h);

#endif /* RAGD_WEB_MAP_H */
