/*
 * buf -- bounded growing byte buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int buf_add(buf *b, const char *s, size_t n, size_t max)
{
    if (n > max || b->len > max - n)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *np;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(np = realloc(b->p, cap)))
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

void buf_release(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
