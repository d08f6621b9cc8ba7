/* Unit tests for utf8_span and utf8_next: every edge of RFC 3629's table,
 * each invalid class, where the span stops, and what the decoder makes of
 * every byte. */
#include <stdint.h>
#include <stdio.h>
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


/* Bytes, and the code points utf8_next decodes them into, one call after
 * another; R stands for an invalid byte (UTF8_REPLACEMENT, length 1). */
#define R 0xFFFFFFFFu
typedef struct decode_case {
    const char *s;
    size_t n;
    uint32_t cp[8];
    size_t ncp;
    const char *what;
} decode_case;

#define DECODE(lit, what, ...)                                               \
    {lit, sizeof lit - 1, {__VA_ARGS__},                                     \
     sizeof(uint32_t[]){__VA_ARGS__} / sizeof(uint32_t), what}

static const decode_case decodes[] = {
    DECODE("Az~", "ASCII", 'A', 'z', '~'),
    DECODE("a\0b", "NUL is U+0000, one character", 'a', 0, 'b'),
    DECODE("\xC2\x80\xDF\xBF", "U+0080 and U+07FF", 0x80, 0x7FF),
    DECODE("\xE0\xA0\x80\xED\x9F\xBF", "U+0800 and U+D7FF", 0x800, 0xD7FF),
    DECODE("\xEE\x80\x80\xEF\xBF\xBF", "U+E000 and U+FFFF", 0xE000, 0xFFFF),
    DECODE("\xEF\xBF\xBD", "a real U+FFFD is 3 bytes, not an error", 0xFFFD),
    DECODE("\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", "U+10000 and U+10FFFF", 0x10000, 0x10FFFF),
    DECODE("caf\xC3\xA9\xF0\x9F\x99\x82", "mixed widths", 'c', 'a', 'f', 0xE9, 0x1F642),
    DECODE("\x80\xBFx", "stray continuation bytes, one each", R, R, 'x'),
    DECODE("\xC0\xAF", "overlong '/' (C0 lead)", R, R),
    DECODE("\xC1\xBF", "overlong U+007F (C1 lead)", R, R),
    DECODE("\xE0\x80\xAF", "overlong three-byte '/'", R, R, R),
    DECODE("\xE0\x9F\xBF", "overlong three-byte U+07FF", R, R, R),
    DECODE("\xF0\x8F\xBF\xBF", "overlong four-byte U+FFFF", R, R, R, R),
    DECODE("\xED\xA0\x80", "U+D800, a surrogate", R, R, R),
    DECODE("\xED\xBF\xBF", "U+DFFF, a surrogate", R, R, R),
    DECODE("\xF4\x90\x80\x80", "U+110000, past the last code point", R, R, R, R),
    DECODE("\xF5\x80\x80\x80", "F5 lead", R, R, R, R),
    DECODE("\xF8\x88\x80\x80\x80", "F8 lead (five bytes)", R, R, R, R, R),
    DECODE("\xFE\xFF", "FE and FF", R, R),
    DECODE("\xC3" "a", "a two-byte character cut by ASCII", R, 'a'),
    DECODE("\xE2\x82" "a", "a three-byte character cut in its last byte", R, R, 'a'),
    DECODE("\xF0\x9F\x99\xC3\xA9", "a four-byte character cut by a good one", R, R, R, 0xE9),
    DECODE("ok\xF0\x9F\x99", "a four-byte character cut at the end", 'o', 'k', R, R, R),
    DECODE("\xE2\x28\xA1", "a bad second byte", R, '(', R),
};

/* Decode c's bytes with utf8_next into text like "U+0041 R U+00E9" and
 * compare with the expected list written the same way. */
static void test_decode_case(const decode_case *c)
{
    char got[160] = "", want[160] = "";
    size_t at = 0, wat = 0;

    for (size_t i = 0; i < c->n;) {
        uint32_t cp;
        size_t k = utf8_next(c->s, c->n, i, &cp);
        if (k == 1 && cp == UTF8_REPLACEMENT)
            at += (size_t)snprintf(got + at, sizeof got - at, "R ");
        else
            at += (size_t)snprintf(got + at, sizeof got - at, "U+%04X/%zu ", (unsigned)cp, k);
        i += k;
    }
    for (size_t j = 0; j < c->ncp; j++) {
        uint32_t cp = c->cp[j];
        size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (cp == R)
            wat += (size_t)snprintf(want + wat, sizeof want - wat, "R ");
        else
            wat += (size_t)snprintf(want + wat, sizeof want - wat, "U+%04X/%zu ", (unsigned)cp, k);
    }
    is_str(got, want, "utf8_next: %s", c->what);
}

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

/* The decoder and the validator draw the same line: s is valid text
 * exactly when utf8_next finds no invalid byte and no NUL in it. */
static void test_agree(void)
{
    size_t bad = 0;

    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        size_t i = 0, first = cases[c].n;
        while (i < cases[c].n) {
            uint32_t cp;
            size_t k = utf8_next(cases[c].s, cases[c].n, i, &cp);
            if (cp == 0 || (k == 1 && cp == UTF8_REPLACEMENT)) {
                first = i;
                break;
            }
            i += k;
        }
        bad += first != cases[c].span;
    }
    is_int(bad, 0, "utf8_next stops where utf8_span does, in every case of the table");
}

static void test_decode_bounds(void)
{
    const char s[] = "\xE2\x82\xAC";
    uint32_t cp;

    is_int(utf8_next(s, 3, 0, &cp), 3, "U+20AC whole: 3 bytes");
    is_int(cp, 0x20AC, "U+20AC whole: its code point");
    is_int(utf8_next(s, 2, 0, &cp), 1, "cut by n though its bytes follow: 1 byte");
    is_int(cp, UTF8_REPLACEMENT, "cut by n: the replacement character");
    is_int(utf8_next(s, 3, 1, &cp), 1, "from a continuation byte: 1 byte");
    is_int(cp, UTF8_REPLACEMENT, "from a continuation byte: the replacement character");
}

int main(void)
{
    test_table();
    test_bounds();
    for (size_t i = 0; i < sizeof decodes / sizeof *decodes; i++)
        test_decode_case(&decodes[i]);
    test_agree();
    test_decode_bounds();
    return tap_done();
}
