/*
 * hits -- copying and freeing owned ragd_hit arrays (see hits.h).
 */
#include "hits.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* The length of s[0..n) cut to at most max bytes at a character
 * boundary (s valid UTF-8: a boundary is a byte that does not continue a
 * character). */
static size_t hits_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* s[0..n) with each byte that does not belong to a well-formed character
 * replaced by U+FFFD; malloc'd, NULL when out of memory.  Each such byte
 * grows by at most two, so 3n + 1 bytes always hold the result. */
static char *hits_repair(const char *s, size_t n)
{
    static const char fffd[] = "\xEF\xBF\xBD";
    char *out = malloc(3 * n + 1), *o = out;
    size_t i = 0;

    while (out && i < n) {
        size_t good = utf8_span(s + i, n - i);
        memcpy(o, s + i, good);
        o += good;
        i += good;
        if (i < n) {
            memcpy(o, fffd, 3);
            o += 3;
            i++;
        }
    }
    if (out)
        *o = '\0';
    return out;
}

char *hits_string(const char *s, size_t max, hits_fixes *fx, int *oom)
{
    size_t n;
    char *fixed = NULL, *d;

    if (!s)
        return NULL;
    n = strlen(s);
    if (utf8_span(s, n) != n) {
        if (!(fixed = hits_repair(s, n))) {
            *oom = 1;
            return NULL;
        }
        fx->repaired++;
        s = fixed;
        n = strlen(s);
    }
    if (n > max) {
        fx->cut++;
        n = hits_cut(s, n, max);
    }
    if ((d = malloc(n + 1))) {
        memcpy(d, s, n);
        d[n] = '\0';
    } else {
        *oom = 1;
    }
    free(fixed);
    return d;
}

int hits_copy_one(ragd_hit *dst, const ragd_hit *src, hits_fixes *fx)
{
    int oom = 0;
    ragd_hit h = {
        .id = hits_string(src->id ? src->id : "", HITS_FIELD_MAX, fx, &oom),
        .title = hits_string(src->title, HITS_FIELD_MAX, fx, &oom),
        .url = hits_string(src->url, HITS_FIELD_MAX, fx, &oom),
        .text = hits_string(src->text ? src->text : "", HITS_TEXT_MAX, fx, &oom),
        .score = src->score,
    };
    if (oom) {
        hits_release_one(&h);
        return -1;
    }
    *dst = h;
    return 0;
}

int hits_copy(const ragd_hit *src, size_t n, size_t max, ragd_hit **out, size_t *nout,
              hits_fixes *fx)
{
    ragd_hit *v;
    size_t i;

    *out = NULL;
    *nout = 0;
    *fx = (hits_fixes){0};
    if (n > max) {
        fx->dropped = n - max;
        n = max;
    }
    if (n == 0)
        return 0;
    if (!(v = calloc(n, sizeof *v)))
        return -1;
    for (i = 0; i < n; i++)
        if (hits_copy_one(&v[i], &src[i], fx) != 0) {
            hits_release(v, i);
            return -1;
        }
    *out = v;
    *nout = n;
    return 0;
}

void hits_release_one(ragd_hit *h)
{
    free((char *)h->id);
    free((char *)h->title);
    free((char *)h->url);
    free((char *)h->text);
    memset(h, 0, sizeof *h);
}

void hits_release(ragd_hit *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        hits_release_one(&v[i]);
    free(v);
}
