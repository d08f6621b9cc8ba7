/*
 * utf8 -- RFC 3629 validation and decoding by the table of its section 4:
 * a lead byte says how many continuation bytes follow and narrows the range
 * of the first, which is what excludes overlong forms, surrogates and code
 * points past U+10FFFF; later continuation bytes are always 80..BF.
 */
#include "utf8.h"

#include <string.h>

/* The sequence a lead byte starts: continuation bytes that follow, and the
 * range of the first.  more == 0 marks a byte no character starts with. */
typedef struct utf8_lead {
    unsigned char more, lo, hi;
} utf8_lead;

static utf8_lead utf8_lead_of(unsigned char c)
{
    if (c >= 0xC2 && c <= 0xDF)
        return (utf8_lead){1, 0x80, 0xBF};
    if (c == 0xE0)
        return (utf8_lead){2, 0xA0, 0xBF}; /* below is overlong */
    if (c == 0xED)
        return (utf8_lead){2, 0x80, 0x9F}; /* above is a surrogate */
    if (c >= 0xE1 && c <= 0xEF)
        return (utf8_lead){2, 0x80, 0xBF};
    if (c == 0xF0)
        return (utf8_lead){3, 0x90, 0xBF}; /* below is overlong */
    if (c == 0xF4)
        return (utf8_lead){3, 0x80, 0x8F}; /* above is past U+10FFFF */
    if (c >= 0xF1 && c <= 0xF3)
        return (utf8_lead){3, 0x80, 0xBF};
    return (utf8_lead){0, 0, 0};
}

size_t utf8_next(const char *s, size_t n, size_t i, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s + i;
    utf8_lead l;
    uint32_t c;

    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    l = utf8_lead_of(u[0]);
    if (l.more == 0 || n - i <= l.more || u[1] < l.lo || u[1] > l.hi)
        goto bad;
    /* The lead byte keeps 5, 4 or 3 bits for 1, 2 or 3 continuations. */
    c = u[0] & (0x3Fu >> l.more);
    for (size_t k = 1; k <= l.more; k++) {
        if ((u[k] & 0xC0) != 0x80)
            goto bad;
        c = (c << 6) | (u[k] & 0x3Fu);
    }
    *cp = c;
    return (size_t)l.more + 1;
bad:
    *cp = UTF8_REPLACEMENT;
    return 1;
}

size_t utf8_span(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        uint32_t cp;
        size_t k;
        uint64_t w;
        /* ASCII, most of any text, eight bytes at a time (no byte with its
         * top bit set, none zero), then one at a time, without decoding. */
        if (n - i >= 8 && (memcpy(&w, u + i, 8), (w & 0x8080808080808080ull) == 0) &&
            ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull) == 0) {
            i += 8;
            continue;
        }
        if (u[i] != 0 && u[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_next(s, n, i, &cp);
        if (cp == 0 || (k == 1 && cp == UTF8_REPLACEMENT))
            return i;
        i += k;
    }
    return i;
}
