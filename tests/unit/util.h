/*
 * util.h -- small checks shared by ragd's unit tests.
 */
#ifndef RAGD_TEST_UTIL_H
#define RAGD_TEST_UTIL_H

#include <stddef.h>

/* Whether s is well-formed UTF-8 (no truncated or stray sequences). */
static inline int utf8_valid(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    while (*u) {
        size_t n = *u < 0x80 ? 1 : (*u & 0xE0) == 0xC0 ? 2 : (*u & 0xF0) == 0xE0 ? 3
                 : (*u & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0)
            return 0;
        for (size_t k = 1; k < n; k++)
            if ((u[k] & 0xC0) != 0x80)
                return 0;
        u += n;
    }
    return 1;
}

#endif /* RAGD_TEST_UTIL_H */
