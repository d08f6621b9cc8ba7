/*
 * mask -- hiding a secret in messages, before they are cut to size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"

void mask_secret(char *s, const char *secret)
{
    size_t klen = secret ? strlen(secret) : 0, rlen = klen < 3 ? klen : 3, n;
    char *p = s;

    if (!klen)
        return;
    while ((p = strstr(p, secret))) {
        memset(p, '*', rlen);
        memmove(p + rlen, p + klen, strlen(p + klen) + 1);
        p += rlen;
    }
    n = strlen(s);
    /* A message cut short may end in the first part of the secret.  A
     * tail under 4 bytes is left: it tells little about the secret and
     * would match too much ordinary text. */
    for (size_t k = klen - 1 < n ? klen - 1 : n; k >= 4; k--)
        if (memcmp(s + n - k, secret, k) == 0) {
            memcpy(s + n - k, "***", 4);
            return;
        }
}

void mask_vprintf(char *out, size_t outlen, const char *secret, const char *fmt, va_list ap)
{
    va_list aq;
    char *whole = NULL;
    int n;

    if (outlen == 0)
        return;
    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n >= 0 && (size_t)n >= outlen && (whole = malloc((size_t)n + 1))) {
        vsnprintf(whole, (size_t)n + 1, fmt, ap);
        mask_secret(whole, secret);
        snprintf(out, outlen, "%s", whole);
        free(whole);
    } else {
        vsnprintf(out, outlen, fmt, ap);
    }
    /* Again after the cut: masking can only shorten the message, but a
     * cut can still end in the start of a secret the message held only in
     * part. */
    mask_secret(out, secret);
}

void mask_printf(char *out, size_t outlen, const char *secret, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mask_vprintf(out, outlen, secret, fmt, ap);
    va_end(ap);
}
