/*
 * test_chunk -- unit tests for chunk_split: size limits, balance, boundary
 * preference and UTF-8 safety.  Not a test of ingest's use of the spans.
 */
#include "chunk.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
        || c == '\v';
}

static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Append s to buf (of size cap) at *len, repeated until *len reaches want. */
static void fill(char *buf, size_t *len, const char *s, size_t want)
{
    size_t n = strlen(s);

    while (*len + n <= want) {
        memcpy(buf + *len, s, n);
        *len += n;
    }
    buf[*len] = '\0';
}

/* The invariants every split must keep: chunks in order, non-empty, within
 * max, trimmed, starting and ending between UTF-8 characters, and together
 * holding every non-space byte of the text.  Returns 1 when all hold. */
static int spans_ok(const char *text, size_t len, const chunk_span *sp,
                    size_t n, size_t max)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t covered = 0, nonspace = 0, prev_end = 0;

    for (size_t i = 0; i < len; i++)
        nonspace += !is_space(t[i]);
    for (size_t i = 0; i < n; i++) {
        size_t a = sp[i].off, b = sp[i].off + sp[i].len;
        if (sp[i].len == 0 || sp[i].len > max || a < prev_end || b > len)
            return 0;
        if (is_space(t[a]) || is_space(t[b - 1]))
            return 0;
        if (is_cont(t[a]) || (b < len && is_cont(t[b])))
            return 0;
        for (size_t k = prev_end; k < a; k++)
            if (!is_space(t[k]))
                return 0; /* a gap between chunks dropped text */
        for (size_t k = a; k < b; k++)
            covered += !is_space(t[k]);
        prev_end = b;
    }
    for (size_t k = prev_end; k < len; k++)
        if (!is_space(t[k]))
            return 0;
    return covered == nonspace;
}

static void test_empty(void)
{
    chunk_span *sp = (chunk_span *)1;
    size_t n = 99;

    is_int(chunk_split("", 0, 1600, 2400, &sp, &n), 0, "empty text splits");
    is_int(n, 0, "empty text gives zero chunks");
    ok(sp == NULL, "empty text gives no array");
    is_int(chunk_split(" \n\t\r\n  \n", 8, 1600, 2400, &sp, &n), 0,
           "whitespace-only text splits");
    is_int(n, 0, "whitespace-only text gives zero chunks");
    free(sp);
}

static void test_short(void)
{
    const char *text = "  Hello, world.  \n";
    chunk_span *sp;
    size_t n;

    is_int(chunk_split(text, strlen(text), 1600, 2400, &sp, &n), 0,
           "short text splits");
    is_int(n, 1, "a text shorter than target is one chunk");
    if (n == 1) {
        is_int(sp[0].off, 2, "its leading whitespace is trimmed");
        is_int(sp[0].len, 13, "its trailing whitespace is trimmed");
    }
    free(sp);
}

static void test_balanced(void)
{
    static char text[4096];
    size_t len = 0, n;
    chunk_span *sp;

    fill(text, &len, "Lorem ipsum dolor sit amet, consectetur. ", 3300);
    is_int(chunk_split(text, len, 1600, 2400, &sp, &n), 0, "3300 bytes split");
    is_int(n, 2, "3300 bytes at target 1600 give two chunks, not three");
    if (n == 2) {
        ok(sp[0].len > 1400 && sp[0].len < 1900, "first chunk is about 1650 (%zu)",
           sp[0].len);
        ok(sp[1].len > 1400 && sp[1].len < 1900, "second chunk is about 1650 (%zu)",
           sp[1].len);
        ok(text[sp[0].off + sp[0].len - 1] == '.',
           "the cut falls at a sentence end");
    }
    ok(spans_ok(text, len, sp, n, 2400), "balanced split keeps the invariants");
    free(sp);
}

static void test_limits(void)
{
    static const char *words[] = {"alpha", "beta,", "gamma", "delta.",
                                  "epsilon", "zeta?", "eta\n", "theta!"};
    static char text[60000];
    size_t len = 0, n;
    unsigned seed = 7;
    chunk_span *sp;

    while (len < sizeof text - 16) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 8];
        memcpy(text + len, w, strlen(w));
        len += strlen(w);
        text[len++] = ' ';
    }
    is_int(chunk_split(text, len, 1600, 2400, &sp, &n), 0, "60 kB splits");
    ok(n >= len / 2400 && n <= len / 1600 + 1,
       "60 kB gives about len/target chunks (%zu)", n);
    ok(spans_ok(text, len, sp, n, 2400), "every chunk within max and trimmed");
    free(sp);

    is_int(chunk_split(text, len, 5000, 300, &sp, &n), 0,
           "target above max splits");
    ok(n > 0 && spans_ok(text, len, sp, n, 300),
       "a target above max is clamped to max");
    free(sp);
    errno = 0;
    is_int(chunk_split(text, len, 0, 300, &sp, &n), -1, "target 0 is refused");
    is_int(errno, EINVAL, "with EINVAL");
}

static void test_utf8(void)
{
    static const char *chars[] = {"\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80"};
    static const size_t maxes[] = {2400, 15, 7, 5};

    for (size_t c = 0; c < 3; c++) {
        for (size_t m = 0; m < 4; m++) {
            /* Exactly sized, no NUL: ASan catches a read past the end. */
            size_t clen = strlen(chars[c]), len = clen * 2000;
            char *text = malloc(len);
            chunk_span *sp;
            size_t n;
            if (!text)
                return;
            for (size_t i = 0; i < len; i += clen)
                memcpy(text + i, chars[c], clen);
            int rc = chunk_split(text, len, maxes[m] * 2 / 3, maxes[m], &sp, &n);
            ok(rc == 0 && n > 1 && spans_ok(text, len, sp, n, maxes[m]),
               "%zu-byte characters without spaces, max %zu: never cut "
               "inside a character", clen, maxes[m]);
            free(sp);
            free(text);
        }
    }
}

/* Cuts forced onto a character's middle at the max, and at the text's
 * last character; exactly sized buffers, so ASan sees any over-read. */
static void test_utf8_edges(void)
{
    static const struct {
        const char *text;
        size_t target, max, want;
    } cases[] = {
        /* the aim equals the max and falls inside "é": back off */
        {"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 5, 5, 3},
        /* the aim falls inside the last character: cut after it */
        {"a\xF0\x9F\x98\x80", 2, 5, 2},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].text), n;
        char *text = malloc(len);
        chunk_span *sp;
        if (!text)
            return;
        memcpy(text, cases[i].text, len);
        int rc = chunk_split(text, len, cases[i].target, cases[i].max, &sp, &n);
        ok(rc == 0 && n == cases[i].want
               && spans_ok(text, len, sp, n, cases[i].max),
           "edge case %zu: %zu chunks between characters (want %zu)", i, n,
           cases[i].want);
        free(sp);
        free(text);
    }
}

static void test_paragraph(void)
{
    static char text[4096];
    size_t len = 0, n, p1;
    chunk_span *sp;

    /* A paragraph break at 1400 bytes, well off the 1600 aim, with sentence
     * ends much nearer the aim: the paragraph break wins. */
    fill(text, &len, "Short sentence here. ", 1400);
    p1 = len - 1;
    len = p1;
    memcpy(text + len, "\n\n", 2);
    len += 2;
    fill(text, &len, "Another sentence now. ", 3200);
    is_int(chunk_split(text, len, 1600, 2400, &sp, &n), 0, "paragraphs split");
    is_int(n, 2, "two paragraphs of 3200 bytes give two chunks");
    if (n == 2)
        ok(sp[0].off == 0 && sp[0].len == p1,
           "the cut is at the paragraph break, not the nearer sentence end");
    free(sp);
}

static void test_sentence(void)
{
    static char text[4096];
    size_t len = 0, n, s1;
    chunk_span *sp;

    /* One sentence end at about 1450 bytes and otherwise only spaces. */
    fill(text, &len, "word ", 1450);
    text[len - 1] = '?';
    text[len++] = '\n';
    s1 = len - 1;
    fill(text, &len, "more ", 3200);
    is_int(chunk_split(text, len, 1600, 2400, &sp, &n), 0, "sentences split");
    is_int(n, 2, "3200 bytes give two chunks");
    if (n == 2)
        ok(sp[0].len == s1, "the cut is after '?' and a newline, not at a "
                            "nearer space (%zu, want %zu)", sp[0].len, s1);
    free(sp);

    len = 0;
    fill(text, &len, "word ", 3200);
    is_int(chunk_split(text, len, 1600, 2400, &sp, &n), 0, "words split");
    if (n == 2)
        ok(text[sp[0].off + sp[0].len - 1] == 'd'
               && text[sp[0].off + sp[0].len] == ' ',
           "without sentence ends the cut is at whitespace");
    else
        ok(0, "3200 bytes of words give two chunks (%zu)", n);
    free(sp);
}

int main(void)
{
    test_empty();
    test_short();
    test_balanced();
    test_limits();
    test_utf8();
    test_utf8_edges();
    test_paragraph();
    test_sentence();
    return tap_done();
}
