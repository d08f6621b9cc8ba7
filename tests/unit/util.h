/*
 * util.h -- small checks shared by ragd's unit tests.
 */
#ifndef RAGD_TEST_UTIL_H
#define RAGD_TEST_UTIL_H

#include <string.h>

#include "utf8.h"

/* Whether the NUL-terminated s is well-formed UTF-8, by the same rules as
 * the text ragd accepts (src/utf8.h). */
static inline int utf8_valid(const char *s)
{
    return utf8_span(s, strlen(s)) == strlen(s);
}

#endif /* RAGD_TEST_UTIL_H */
