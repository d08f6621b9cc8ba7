/*
 * url -- base URL + endpoint path.
 */
#include <stdlib.h>
#include <string.h>

#include "url.h"

char *url_join(const char *base, const char *path)
{
    size_t n = strlen(base), m = strlen(path);
    char *s;

    while (n > 0 && base[n - 1] == '/')
        n--;
    if (!(s = malloc(n + m + 1)))
        return NULL;
    memcpy(s, base, n);
    memcpy(s + n, path, m + 1);
    return s;
}
