/*
 * hits -- copying and freeing owned ragd_hit arrays (see hits.h).
 */
#include "hits.h"

#include <stdlib.h>
#include <string.h>

static char *hits_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int hits_copy_one(ragd_hit *dst, const ragd_hit *src)
{
    ragd_hit h = {
        .id = hits_dup(src->id ? src->id : ""),
        .title = hits_dup(src->title),
        .url = hits_dup(src->url),
        .text = hits_dup(src->text ? src->text : ""),
        .score = src->score,
    };
    if (!h.id || !h.text || (src->title && !h.title) || (src->url && !h.url)) {
        hits_release_one(&h);
        return -1;
    }
    *dst = h;
    return 0;
}

int hits_copy(const ragd_hit *src, size_t n, ragd_hit **out)
{
    ragd_hit *v;
    size_t i;

    *out = NULL;
    if (n == 0)
        return 0;
    if (!(v = calloc(n, sizeof *v)))
        return -1;
    for (i = 0; i < n; i++)
        if (hits_copy_one(&v[i], &src[i]) != 0) {
            hits_release(v, i);
            return -1;
        }
    *out = v;
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
