/*
 * fuzz_web_map -- the web source's wire mapping (sources/web/web_map.h):
 * SearxNG's JSON response turned into hits, URL normalisation, escaping
 * and the request URL.
 *
 * A response comes from a server ragd does not control, and each result's
 * URL goes through web_map_normalize_url to become the hit's id, so the whole
 * input is both parsed as a response and, as a string, used as a URL, a
 * base URL and a query.  Byte 0 also picks k.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "web_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* web_map_escape's output holds only unreserved bytes and %XX triplets. */
static void fuzz_check_escaped(const char *s)
{
    for (; *s; s++) {
        if (*s == '%') {
            fuzz_check(strchr("0123456789ABCDEF", s[1]) && s[1]);
            fuzz_check(strchr("0123456789ABCDEF", s[2]) && s[2]);
            s += 2;
        } else {
            fuzz_check(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                              "0123456789-_.~", *s));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const web_provider *searxng = web_map_provider_find("searxng");
    char *s = fuzz_strndup(data, size), *norm, *esc, *url, err[256] = "";
    web_hits hits;
    int k = size ? 1 + data[0] % 20 : 1;

    fuzz_check(searxng != NULL);
    norm = web_map_normalize_url(s);
    fuzz_check(norm != NULL);
    free(norm);

    esc = web_map_escape(s);
    fuzz_check(esc != NULL);
    fuzz_check_escaped(esc);
    free(esc);

    url = searxng->url(s, s);
    fuzz_check(url != NULL);
    free(url);

    if (searxng->parse((const char *)data, size, k, &hits, err, sizeof err) == 0) {
        fuzz_check(hits.n <= (size_t)k);
        for (size_t i = 0; i < hits.n; i++)
            fuzz_check(hits.v[i].id && hits.v[i].url && hits.v[i].title && hits.v[i].text);
        web_map_hits_release(&hits);
        fuzz_check(hits.v == NULL && hits.n == 0);
    } else {
        fuzz_check(err[0] != '\0' && hits.v == NULL && hits.n == 0);
    }
    free(s);
    return 0;
}
