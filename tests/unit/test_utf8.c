/* Unit tests for utf8_span: every edge of RFC 3629's table, each invalid
 * class, and where the span stops. */
#include <string.h>

#include "tap.h"
#include "utf8.h"

/* Bytes (with their length, as some hold NUL), the span utf8_span must
 * give, and what the case is. */
typedef struct utf8_case {
    const char *s;
    size_t n, span;
    const char *what;
} utf8_case;

#define VALID(lit, what) {lit, sizeof lit - 1, sizeof lit - 1, what}
#define STOPS(lit, at, what) {lit, sizeof lit - 1, at, what}

static const utf8_case cases[] = {
    VALID("", "empty"),
    VALID("plain ASCII", "ASCII"),
    VALID("\x01", "U+0001"),
    VALID("\x7F", "U+007F, the last one-byte character"),
    VALID("\xC2\x80", "U+0080, the first two-byte character"),
    VALID("\xDF\xBF", "U+07FF, the last two-byte character"),
    VALID("\xE0\xA0\x80", "U+0800, the first three-byte character"),
    VALID("\xED\x9F\xBF", "U+D7FF, just below the surrogates"),
    VALID("\xEE\x80\x80", "U+E000, just above the surrogates"),
    VALID("\xEF\xBF\xBF", "U+FFFF, the last three-byte character"),
    VALID("\xF0\x90\x80\x80", "U+10000, the first four-byte character"),
    VALID("\xF4\x8F\xBF\xBF", "U+10FFFF, the last code point"),
    VALID("caf\xC3\xA9 \xE2\x88\x91 \xF0\x9F\x99\x82", "mixed widths"),

    STOPS("a\0b", 1, "NUL stops the span"),
    STOPS("\x80", 0, "a stray continuation byte"),
    STOPS("ab\xBF", 2, "a stray continuation byte after text"),
    STOPS("\xC0\x80", 0, "C0 lead (overlong NUL)"),
    STOPS("\xC0\xAF", 0, "C0 lead (overlong '/')"),
    STOPS("\xC1\xBF", 0, "C1 lead (overlong U+007F)"),
    STOPS("\xE0\x80\x80", 0, "overlong three-byte U+0000"),
    STOPS("\xE0\x9F\xBF", 0, "overlong three-byte U+07FF"),
    STOPS("\xF0\x80\x80\x80", 0, "overlong four-byte U+0000"),
    STOPS("\xF0\x8F\xBF\xBF", 0, "overlong four-byte U+FFFF"),
    STOPS("\xED\xA0\x80", 0, "U+D800, the first surrogate"),
    STOPS("\xED\xBF\xBF", 0, "U+DFFF, the last surrogate"),
    STOPS("x\xED\xA0\x80\xED\xB0\x80", 1, "a surrogate pair (CESU-8)"),
    STOPS("\xF4\x90\x80\x80", 0, "U+110000, past the last code point"),
    STOPS("\xF5\x80\x80\x80", 0, "F5 lead"),
    STOPS("\xF7\xBF\xBF\xBF", 0, "F7 lead"),
    STOPS("\xF8\x88\x80\x80\x80", 0, "F8 lead (five bytes)"),
    STOPS("\xFC\x84\x80\x80\x80\x80", 0, "FC lead (six bytes)"),
    STOPS("\xFE", 0, "FE"),
    STOPS("\xFF", 0, "FF"),
    STOPS("ok\xC3", 2, "a two-byte character cut at the end"),
    STOPS("ok\xE2\x82", 2, "a three-byte character cut at the end"),
    STOPS("ok\xF0\x9F\x99", 2, "a four-byte character cut at the end"),
    STOPS("\xC3" "a", 0, "a two-byte character cut by ASCII"),
    STOPS("\xE2\x82" "a", 0, "a three-byte character cut in its last byte"),
    STOPS("\xF0\x9F\x99\xC3\xA9", 0, "a four-byte character cut by a lead byte"),
    STOPS("\xC3\xA9\xE2\x28\xA1", 2, "a bad second byte after a good character"),
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        is_int(utf8_span(cases[i].s, cases[i].n), cases[i].span, "%s", cases[i].what);
}

/* A sequence is judged on its own bytes, never on what lies past n. */
static void test_bounds(void)
{
    const char s[] = "\xE2\x82\xAC";

    is_int(utf8_span(s, 2), 0, "a character cut by n is invalid though its bytes follow");
    is_int(utf8_span(s, 3), 3, "and valid when n covers it");
    is_int(utf8_span(NULL, 0), 0, "no bytes at all");
}

int main(void)
{
    test_table();
    test_bounds();
    return tap_done();
}
