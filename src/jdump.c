/*
 * jdump -- fast printing of JSON values (see jdump.h).
 *
 * Every rule here mirrors jansson's dump.c and strconv.c for the flags
 * JSON_COMPACT | JSON_REAL_PRECISION(15); tests/unit/test_jdump.c holds
 * the two to the same bytes.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jdump.h"
#include "utf8.h"

#define JDUMP_PRECISION 15

/* Bytes a JSON string cannot hold as they are: quote, backslash, controls. */
static int jdump_special(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

static int jdump_string(buf *b, const char *s, size_t n, size_t max)
{
    size_t i = 0;

    if (buf_add(b, "\"", 1, max) != 0)
        return -1;
    while (i < n) {
        size_t run = i;
        char esc[8];
        const char *e;
        unsigned char c;

        while (run < n && !jdump_special((unsigned char)s[run]))
            run++;
        if (run > i && buf_add(b, s + i, run - i, max) != 0)
            return -1;
        if (run == n)
            break;
        c = (unsigned char)s[run];
        switch (c) {
        case '\\': e = "\\\\"; break;
        case '"': e = "\\\""; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        default:
            snprintf(esc, sizeof esc, "\\u%04X", (unsigned)c);
            e = esc;
        }
        if (buf_add(b, e, strlen(e), max) != 0)
            return -1;
        i = run + 1;
    }
    return buf_add(b, "\"", 1, max);
}

/* jansson's jsonp_dtostr: "%.15g", then ".0" when the text would read back
 * as an integer, and the exponent without '+' or leading zeros. */
static int jdump_real_text(buf *b, double v, size_t max)
{
    char t[64];
    char *e;
    int n = snprintf(t, sizeof t, "%.*g", JDUMP_PRECISION, v);

    if (n < 0 || (size_t)n + 3 > sizeof t)
        return -1;
    if (!strchr(t, '.') && !strchr(t, 'e')) {
        memcpy(t + n, ".0", 3);
        n += 2;
    }
    if ((e = strchr(t, 'e'))) {
        char *start = e + 1, *end = e + 2;

        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(t + n - end) + 1);
            n -= (int)(end - start);
        }
    }
    return buf_add(b, t, (size_t)n, max);
}

int jdump_int(buf *b, json_int_t v, size_t max)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, v);

    return buf_add(b, t, (size_t)n, max);
}

int jdump_real(buf *b, double v, size_t max)
{
    return isfinite(v) ? jdump_real_text(b, v, max) : -1;
}

int jdump_str(buf *b, const char *s, size_t n, size_t max)
{
    if (utf8_span(s, n) != n) /* it stops at a NUL too */
        return -1;
    return jdump_string(b, s, n, max);
}

static int jdump_value(buf *b, const json_t *v, size_t max)
{
    int first = 1;

    switch (json_typeof(v)) {
    case JSON_NULL: return buf_add(b, "null", 4, max);
    case JSON_TRUE: return buf_add(b, "true", 4, max);
    case JSON_FALSE: return buf_add(b, "false", 5, max);
    case JSON_INTEGER: return jdump_int(b, json_integer_value(v), max);
    case JSON_REAL: return jdump_real_text(b, json_real_value(v), max);
    case JSON_STRING: return jdump_string(b, json_string_value(v), json_string_length(v), max);
    case JSON_ARRAY:
        if (buf_add(b, "[", 1, max) != 0)
            return -1;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((i && buf_add(b, ",", 1, max) != 0) ||
                jdump_value(b, json_array_get(v, i), max) != 0)
                return -1;
        return buf_add(b, "]", 1, max);
    case JSON_OBJECT:
        if (buf_add(b, "{", 1, max) != 0)
            return -1;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if ((!first && buf_add(b, ",", 1, max) != 0) ||
                jdump_string(b, json_object_iter_key(it), json_object_iter_key_len(it),
                             max) != 0 ||
                buf_add(b, ":", 1, max) != 0 ||
                jdump_value(b, json_object_iter_value(it), max) != 0)
                return -1;
            first = 0;
        }
        return buf_add(b, "}", 1, max);
    }
    return -1;
}

int jdump_add(buf *b, const json_t *v, size_t max)
{
    /* Like json_dumps without JSON_ENCODE_ANY: a document is a container. */
    if (!json_is_object(v) && !json_is_array(v))
        return -1;
    return jdump_value(b, v, max);
}
