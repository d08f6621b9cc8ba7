/* Unit tests for hits_copy: a source's hits made fit to keep -- at most
 * max of them, every string valid UTF-8 (each invalid byte replaced by
 * U+FFFD) and within its limit, cut at a character boundary. */
#include <stdlib.h>
#include <string.h>

#include "hits.h"
#include "tap.h"
#include "utf8.h"

#define FFFD "\xEF\xBF\xBD"

/* text after one copy of a hit holding it (as its text), fixes in *fx. */
static char *copy_text(const char *text, hits_fixes *fx)
{
    ragd_hit src = {"id", NULL, NULL, text, 1.0}, *out;
    size_t n;
    char *t = NULL;

    if (hits_copy(&src, 1, 10, &out, &n, fx) == 0 && n == 1) {
        t = strdup(out[0].text);
        hits_release(out, n);
    }
    return t;
}

static void check_repair(const char *in, const char *want, const char *what)
{
    hits_fixes fx;
    char *t = copy_text(in, &fx);

    is_str(t, want, "%s", what);
    is_int((int)fx.repaired, strcmp(in, want) != 0, "%s: counted as repaired or not", what);
    free(t);
}

static void test_repair(void)
{
    check_repair("plain ascii text, longer than eight bytes", "plain ascii text, longer than eight bytes",
                 "ASCII is kept as it is");
    check_repair("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
                 "well-formed multi-byte characters are kept");
    check_repair("a\x80z", "a" FFFD "z", "a stray continuation byte becomes U+FFFD");
    check_repair("\xC0\xAF", FFFD FFFD, "an overlong form: each byte replaced");
    check_repair("\xED\xA0\x80", FFFD FFFD FFFD, "a surrogate: each byte replaced");
    check_repair("end \xE2\x82", "end " FFFD FFFD, "a sequence cut short by the end");
    check_repair("\xFF\xFE\xFD", FFFD FFFD FFFD, "bytes no character starts with");
    check_repair("0123456\xFF" "89abcdef\x80", "0123456" FFFD "89abcdef" FFFD,
                 "invalid bytes inside and at the end of eight-byte blocks");
}

static void test_cut(void)
{
    char *big = malloc(HITS_TEXT_MAX + 100), *t;
    hits_fixes fx;

    memset(big, 'a', HITS_TEXT_MAX + 99);
    big[HITS_TEXT_MAX + 99] = '\0';
    t = copy_text(big, &fx);
    ok(t && strlen(t) == HITS_TEXT_MAX && fx.cut == 1, "a text over the limit is cut to it");
    free(t);
    /* A euro sign (3 bytes) across the limit goes whole. */
    memcpy(big + HITS_TEXT_MAX - 2, "\xE2\x82\xAC", 3);
    t = copy_text(big, &fx);
    ok(t && strlen(t) == HITS_TEXT_MAX - 2 && utf8_span(t, strlen(t)) == strlen(t),
       "a character across the limit is left out whole");
    free(t);
    big[HITS_TEXT_MAX] = '\0';
    memset(big, 'b', HITS_TEXT_MAX);
    t = copy_text(big, &fx);
    ok(t && strlen(t) == HITS_TEXT_MAX && fx.cut == 0, "a text of exactly the limit is whole");
    free(t);
    free(big);
}

static void test_fields_and_count(void)
{
    char *longid = malloc(HITS_FIELD_MAX + 10);
    ragd_hit src[4] = {
        {NULL, NULL, NULL, NULL, 3.0},
        {"b", "T\x80", "http://x/\xFF", "t", 2.0},
        {longid, NULL, NULL, "t", 1.0},
        {"d", NULL, NULL, "t", 0.5},
    }, *out;
    hits_fixes fx;
    size_t n;

    memset(longid, 'i', HITS_FIELD_MAX + 9);
    longid[HITS_FIELD_MAX + 9] = '\0';
    ok(hits_copy(src, 4, 3, &out, &n, &fx) == 0 && n == 3, "four hits, three asked: three kept");
    is_int((int)fx.dropped, 1, "one left out");
    is_str(out[0].id, "", "a NULL id becomes empty");
    is_str(out[0].text, "", "a NULL text becomes empty");
    ok(out[0].title == NULL && out[0].url == NULL, "NULL title and url stay NULL");
    is_str(out[1].title, "T" FFFD, "a title is repaired");
    is_str(out[1].url, "http://x/" FFFD, "a url is repaired");
    is_int((int)fx.repaired, 2, "two strings repaired");
    is_int((int)strlen(out[2].id), HITS_FIELD_MAX, "an id over its limit is cut");
    is_int((int)fx.cut, 1, "one string cut");
    ok(out[2].score == 1.0, "scores are kept");
    hits_release(out, n);
    ok(hits_copy(src, 0, 3, &out, &n, &fx) == 0 && out == NULL && n == 0, "no hits: nothing");
    free(longid);
}

int main(void)
{
    test_repair();
    test_cut();
    test_fields_and_count();
    return tap_done();
}
