/* Unit tests for context (numbering, duplicates, token budget, rendering)
 * and prompt (default template, loading, rendering). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctx.h"
#include "prompt.h"
#include "tap.h"
#include "util.h"

/* Tokens of a header line as ctx_render writes it. */
static size_t header_tokens(const char *header)
{
    return ctx_count_tokens(header, strlen(header));
}

static size_t tok(const char *s)
{
    return ctx_count_tokens(s, strlen(s));
}

static void test_count_tokens(void)
{
    is_int(tok(""), 0, "empty text: 0 tokens");
    is_int(tok("hello"), 2, "one word: ceil(4/3) = 2");
    is_int(tok("a b c"), 4, "three short words: 3 * 4/3 = 4 (words win)");
    is_int(tok("abcdefghijklmnopqrstuvwxyzabcdefghijklmn"), 10, "40 chars, one word: 40/4 = 10 (chars win)");
    is_int(tok("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"), 3,
           "9 x 'e-acute' is 9 characters (not 18 bytes): ceil(9/4) = 3");
    is_int(tok("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"), 4, "3 CJK characters are 3 words: 4 tokens");
    is_int(ctx_count_tokens("one two three", 3), 2, "only len bytes are counted");
}

/* Invalid UTF-8 (which sources should never send) is counted byte by byte:
 * each bad byte is one character of a word, never a space or CJK, and
 * nothing is read past len. */
static void test_count_tokens_invalid(void)
{
    char s[64];

    is_int(tok("ab\xC0\xA0" "cd"), 2, "an overlong space is two letters, not a space: one word of 6");
    memset(s, 0, sizeof s);
    for (size_t i = 0; i < 48; i += 3)
        memcpy(s + i, "\xED\xA0\x80", 3);
    is_int(tok(s), 12, "16 surrogates are 48 characters: 12 tokens");
    for (size_t i = 0; i < 40; i += 4)
        memcpy(s + i, "\xF4\x90\x80\x80", 4);
    s[40] = '\0';
    is_int(tok(s), 10, "10 code points past U+10FFFF are 40 characters: 10 tokens");
    is_int(tok("\xE3\x80"), 2, "an ideographic space cut short is two letters, one word");
    is_int(tok("\xE6\x97 \xE6\x97\xA5"), 3, "a cut CJK character is a word, the whole one another");
    is_int(ctx_count_tokens("\xE6\x97\xA5", 2), 2, "a character cut by len is two bytes of a word");
    is_int(tok("\xF8\x88\x80\x80\x80 x"), 3, "a five-byte form is five characters: two words");
}

static void test_numbering(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "Alpha", NULL, "The alpha passage talks about rivers and lakes."},
        {2, "web", "b", "Beta", "https://b.example", "The beta passage talks about mountains and snow."},
        {3, "vector", "c", "Gamma", NULL, "The gamma passage talks about deserts and sand."},
    };
    ctx c;

    ok(ctx_build(&c, s, 3, 10000) == 0, "three distinct passages build");
    is_int(c.n, 3, "all three kept");
    is_int(c.v[0].n, 1, "first entry numbered 1");
    is_int(c.v[2].n, 3, "third entry numbered 3");
    ok(c.v[1].src == &s[1], "entry points at its source");
    is_str(c.v[1].text, s[1].text, "text sent whole");
    is_int(c.dropped_duplicates, 0, "no duplicates counted");
    is_int(c.dropped_budget, 0, "nothing dropped for the budget");
    ok(c.tokens > 0 && c.tokens <= 10000, "tokens counted within the budget");
    ctx_release(&c);
    ok(c.v == NULL && c.n == 0, "release leaves the ctx empty");
}

static void test_exact_duplicate_gap(void)
{
    const char *t = "Reciprocal rank fusion sums one over sixty plus rank across lists.";
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, t},
        {2, "web", "b", "B", NULL, t},
        {3, "vector", "c", "C", NULL, "Something else entirely about the event loop."},
    };
    ctx c;

    ok(ctx_build(&c, s, 3, 10000) == 0, "build with an exact duplicate");
    is_int(c.n, 2, "the duplicate is not sent");
    is_int(c.dropped_duplicates, 1, "and is counted");
    is_int(c.v[0].n, 1, "first keeps number 1");
    is_int(c.v[1].n, 3, "the next keeps its rank 3: a gap at 2");
    ctx_release(&c);
}

static void test_near_duplicates(void)
{
    /* Thresholds at their edges.  base has 30 words, so 28 shingles.
     * Changing one middle word changes 3 shingles: Jaccard 25/31 = 0.81, a
     * duplicate.  Changing two: 22/34 = 0.65, kept.  A passage whose 20 (or
     * 21) shingles hold 18 of base's is 0.90 (or 0.86) contained: skipped
     * (or kept).  A passage wholly inside base is contained, though its
     * Jaccard is only 6/28. */
#define W1_10 "one two three four "
#define W5_24 "five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
              "seventeen eighteen nineteen twenty twentyone twentytwo twentythree twentyfour"
#define W25_30 " twentyfive twentysix twentyseven twentyeight twentynine thirty"
    const char *base = W1_10 W5_24 W25_30;
    const char *near = "One two three four five six seven eight nine ten CHANGED twelve thirteen "
                       "fourteen fifteen sixteen seventeen eighteen nineteen twenty, twentyone "
                       "twentytwo twentythree twentyfour" W25_30 "!";
    const char *far = "one two three four five six seven eight nine ten XX twelve thirteen "
                      "fourteen fifteen sixteen seventeen eighteen nineteen twenty YY "
                      "twentytwo twentythree twentyfour" W25_30;
    const char *inside = "nine ten eleven twelve thirteen fourteen fifteen sixteen";
    const char *in90 = W5_24 " xx yy";
    const char *in86 = W5_24 " xx yy zz";
#undef W1_10
#undef W5_24
#undef W25_30
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, base},
        {2, "kb", "b", "B", NULL, near},
        {3, "kb", "c", "C", NULL, far},
        {4, "kb", "d", "D", NULL, inside},
        {5, "kb", "e", "E", NULL, in90},
        {6, "kb", "f", "F", NULL, in86},
    };
    ctx c;

    ok(ctx_build(&c, s, 6, 100000) == 0, "build with near-duplicates");
    is_int(c.dropped_duplicates, 3, "Jaccard 0.81, contained 1.0 and contained 0.90 are skipped");
    is_int(c.n, 3, "three passages kept");
    is_int(c.v[0].n, 1, "the first of similar passages is the one kept");
    is_int(c.v[1].n, 3, "Jaccard 0.65 is kept");
    is_int(c.v[2].n, 6, "contained 0.86 is kept");
    ctx_release(&c);
}

static void test_short_duplicates(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, "Hi there"},
        {2, "kb", "b", "B", NULL, "hi, THERE"},
        {3, "kb", "c", "C", NULL, "Hi where"},
        {4, "kb", "d", "D", NULL, "..."},
        {5, "kb", "e", "E", NULL, "..."},
        {6, "kb", "f", "F", NULL, "!!!"},
    };
    ctx c;

    ok(ctx_build(&c, s, 6, 100000) == 0, "build with short passages");
    is_int(c.n, 4, "two-word and wordless duplicates skipped, others kept");
    is_int(c.dropped_duplicates, 2, "case and punctuation do not hide a duplicate");
    is_int(c.v[1].n, 3, "a different two-word passage is kept");
    is_int(c.v[3].n, 6, "a different wordless passage is kept");
    ctx_release(&c);
}

static void test_budget_cut(void)
{
    const char *text = "First sentence is here. Second one follows it! Is this the third? Last words";
    ctx_source s[] = {
        {1, "kb", "a", "Title", NULL, text},
        {2, "kb", "b", "Other", NULL, "A short one."},
    };
    size_t head = header_tokens("[1] Title (source: kb)");
    size_t two = tok("First sentence is here. Second one follows it!");
    ctx c;

    ok(two < tok(text) && tok("First sentence is here.") < two, "test premise: prefixes cost less");
    ok(ctx_build(&c, s, 2, head + two) == 0, "build with a budget for two sentences");
    is_int(c.n, 1, "only the cut passage is kept");
    is_str(c.v[0].text, "First sentence is here. Second one follows it!", "cut after the second sentence");
    is_int(c.tokens, head + two, "tokens are the header plus the cut text");
    is_int(c.dropped_budget, 2, "the cut passage and the later one are counted");
    ctx_release(&c);

    ok(ctx_build(&c, s, 2, head + two - 1) == 0, "build with one token less");
    is_str(c.v[0].text, "First sentence is here.", "cut after the first sentence");
    ctx_release(&c);

    ok(ctx_build(&c, s, 2, head + tok(text) + 1) == 0, "build with room for the first whole");
    is_int(c.n, 1, "the second does not fit and is not cut to nothing");
    is_str(c.v[0].text, text, "first passage whole");
    is_int(c.dropped_budget, 1, "one passage left out");
    ctx_release(&c);
}

static void test_budget_line_end(void)
{
    ctx_source s[] = {{1, "kb", "a", "T", NULL, "a heading without a stop  \nand a body line that is long enough"}};
    size_t head = header_tokens("[1] T (source: kb)");
    ctx c;

    ok(ctx_build(&c, s, 1, head + tok("a heading without a stop")) == 0, "build cutting at a line end");
    is_int(c.n, 1, "kept");
    is_str(c.v[0].text, "a heading without a stop", "cut at the line end, trailing spaces dropped");
    ctx_release(&c);
}

/* Every budget from 0 up cuts the UTF-8 text at a sentence end, never
 * inside a character or a word. */
static void test_budget_utf8(void)
{
    const char *text = "\xC3\xA9t\xC3\xA9 \xC3\xA9\xC3\xA9\xC3\xA9. "             /* été ééé. */
                       "\xE6\x97\xA5\xE6\x9C\xAC\xE6\x97\xA5\xE6\x9C\xAC\xE3\x80\x82" /* 日本日本。 */
                       "\xC3\xA9\xC3\xA9 \xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9? "        /* éé éééé? */
                       "\xE6\x97\xA5\xE6\x9C\xAC \xC3\xA9\xC3\xA9 \xC3\xA9";         /* 日本 éé é */
    ctx_source s[] = {{1, "kb", "x", "T", NULL, text}};
    size_t head = header_tokens("[1] T (source: kb)"), full = head + tok(text);
    int all_valid = 1, all_ends = 1, all_prefix = 1, sizes = 0;
    size_t last = 0;

    for (size_t b = 0; b < full; b++) {
        ctx c;
        if (ctx_build(&c, s, 1, b) != 0) {
            all_valid = 0;
            break;
        }
        if (c.n == 1) {
            const char *t = c.v[0].text;
            size_t n = strlen(t);
            all_valid &= utf8_valid(t);
            all_prefix &= strncmp(t, text, n) == 0 && n < strlen(text);
            all_ends &= t[n - 1] == '.' || t[n - 1] == '?' || (n >= 3 && strcmp(t + n - 3, "\xE3\x80\x82") == 0);
            all_ends &= c.tokens <= b;
            if (n != last)
                sizes++;
            last = n;
        }
        ctx_release(&c);
    }
    ok(all_valid, "every cut is valid UTF-8");
    ok(all_prefix, "every cut is a proper prefix of the text");
    ok(all_ends, "every cut ends a sentence ('.', '?' or the CJK full stop) within the budget");
    is_int(sizes, 3, "three different cuts, one per sentence end");
}

static void test_budget_too_small(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "Title", NULL, "A first sentence that is quite long indeed. And more."},
        {2, "kb", "b", "T", NULL, "Tiny."},
    };
    size_t head = header_tokens("[1] Title (source: kb)");
    ctx c;

    ok(ctx_build(&c, s, 2, head + 1) == 0, "build with room for the header only");
    is_int(c.n, 0, "not even one sentence fits: no entries");
    is_int(c.dropped_budget, 2, "both passages counted as left out");
    is_int(c.tokens, 0, "no tokens used");
    ctx_release(&c);

    ok(ctx_build(&c, s, 2, 0) == 0, "build with budget 0");
    is_int(c.n, 0, "budget 0: no context");
    is_int(c.dropped_budget, 2, "budget 0: everything left out");
    ctx_release(&c);

    ok(ctx_build(&c, NULL, 0, 100) == 0 && c.n == 0 && c.v == NULL, "no sources: empty context");
    ctx_release(&c);
}

static void test_render(void)
{
    ctx_source s[] = {
        {1, "kb", "docs/a.md", "Title of the document", "https://example.org/x", "passage one"},
        {2, "web", "id-2", "", NULL, "passage two"},
        {4, "vector", "id-4", NULL, "", "passage\nfour"},
        {5, "kb", "id-5", "Multi\nline title", NULL, "five"},
        {7, "kb", "", "", NULL, "seven"},
        {8, "", "id-8", "T8", "https://e.org/8", "eight"},
    };
    ctx c;
    char *r;

    ok(ctx_build(&c, s, 6, 10000) == 0, "build for rendering");
    r = ctx_render(&c);
    is_str(r,
           "[1] Title of the document (source: kb, https://example.org/x)\npassage one\n\n"
           "[2] id-2 (source: web)\npassage two\n\n"
           "[4] id-4 (source: vector)\npassage\nfour\n\n"
           "[5] Multi line title (source: kb)\nfive\n\n"
           "[7] (source: kb)\nseven\n\n"
           "[8] T8 (https://e.org/8)\neight",
           "render: url when present, id for an empty title, one-line headers, no empty parts");
    free(r);
    ctx_release(&c);

    ok(ctx_build(&c, s, 4, 0) == 0, "build an empty context");
    r = ctx_render(&c);
    is_str(r, "", "an empty context renders as \"\"");
    free(r);
    ctx_release(&c);
}

/* The densest text there is, 16 bytes per token (4-byte characters in one
 * word, as in the header's title), still renders whole within the exact
 * budget it costs: the render's ceiling never cuts what was counted. */
static void test_render_dense(void)
{
    static const char smile[] = "\xF0\x9F\x99\x82"; /* U+1F642, not CJK */
    char title[4 * 100 + 1], header[4 * 100 + 32], *text = malloc(4 * 4000 + 1), *want = malloc(4 * 4200), *r;
    ctx_source s = {1, "kb", "id", title, NULL, text};
    size_t budget;
    ctx c;

    if (!text || !want) {
        ok(0, "memory for the dense text");
        free(text);
        free(want);
        return;
    }
    for (size_t i = 0; i < 100; i++)
        memcpy(title + 4 * i, smile, 4);
    title[400] = '\0';
    for (size_t i = 0; i < 4000; i++)
        memcpy(text + 4 * i, smile, 4);
    text[16000] = '\0';
    snprintf(header, sizeof header, "[1] %s (source: kb)", title);
    snprintf(want, 4 * 4200, "%s\n%s", header, text);
    budget = header_tokens(header) + tok(text);
    is_int(tok(text), 1000, "4000 four-byte characters in one word: 1000 tokens");
    ok(ctx_build(&c, &s, 1, budget) == 0 && c.n == 1 && c.dropped_budget == 0,
       "built whole with the exact budget (%zu tokens)", budget);
    r = ctx_render(&c);
    is_str(r, want, "rendered whole: %zu bytes for %zu tokens", r ? strlen(r) : 0, c.tokens);
    free(r);
    ctx_release(&c);
    free(text);
    free(want);
}

/* A context whose count does not cover its text (only possible by
 * building it by hand) is refused rather than rendered without bound. */
static void test_render_ceiling(void)
{
    ctx_source s = {1, "kb", "id", "T", NULL, NULL};
    char text[200];
    ctx_entry e = {1, &s, text};
    ctx c = {&e, 1, 2, 0, 0};
    char *r;

    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    ok((r = ctx_render(&c)) == NULL, "199 bytes counted as 2 tokens: render refuses");
    free(r);
    c.tokens = 60;
    r = ctx_render(&c);
    ok(r && strlen(r) == strlen("[1] T (source: kb)\n") + 199, "counted as 60 tokens: rendered");
    free(r);
}

/* ------------------------------------------------------------------ prompt */

static char tmpl_path[] = "/tmp/ragd-test-prompt-XXXXXX";

static void write_template(const char *json)
{
    FILE *f = fopen(tmpl_path, "w");

    if (f) {
        fputs(json, f);
        fclose(f);
    }
}

static void test_prompt_default(void)
{
    prompt_template t;
    char *sys = NULL, *user = NULL;

    ok(prompt_default(&t) == 0, "default template");
    ok(prompt_render(&t, "What is RRF?", "[1] A (source: kb)\nRRF is fusion.", &sys, &user) == 0,
       "default renders");
    ok(sys && strstr(sys, "[1]") && strstr(sys, "[2][3]"), "system shows the citation form");
    ok(sys && strstr(sys, "only") && strstr(sys, "know") && strstr(sys, "language"),
       "system: only the context, say when unknown, question's language");
    ok(user && strstr(user, "RRF is fusion.") && strstr(user, "What is RRF?"), "user has context and question");
    ok(user && strstr(user, "RRF is fusion.") < strstr(user, "What is RRF?"), "context comes before the question");
    ok(sys && user && !strchr(sys, '{') && !strstr(user, "{query}") && !strstr(user, "{context}"),
       "no placeholder left");
    free(sys);
    free(user);
    prompt_release(&t);
    ok(t.system == NULL && t.user == NULL, "release empties the template");
}

static void test_prompt_render_rules(void)
{
    prompt_template t = {"S {query} {x} {", "U {context}|{query}{context}"};
    char *sys, *user;

    ok(prompt_render(&t, "Q {context}", "C {query}", &sys, &user) == 0, "render a custom template");
    is_str(sys, "S Q {context} {x} {", "unknown {x} and a lone brace kept; the query is not re-expanded");
    is_str(user, "U C {query}|Q {context}C {query}", "each placeholder replaced everywhere, once");
    free(sys);
    free(user);
}

static void test_prompt_load(void)
{
    prompt_template t;
    char err[512] = "", *sys = NULL, *user = NULL;
    int fd = mkstemp(tmpl_path);

    ok(fd >= 0, "temp file");
    if (fd >= 0)
        close(fd);

    write_template("{\"system\": \"Be brief. {x}\",\n \"user\": \"{context}\\n\\nQ: {query}\"}\n");
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == 0, "a valid template loads: %s", err);
    ok(prompt_render(&t, "why?", "CTX", &sys, &user) == 0, "loaded template renders");
    is_str(sys, "Be brief. {x}", "system part as written");
    is_str(user, "CTX\n\nQ: why?", "user part with both placeholders filled");
    free(sys);
    free(user);
    prompt_release(&t);

    write_template("{\"system\": \"s\",\n \"user\": \"u {query}\"\n \"oops\": 1}");
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "bad JSON is refused");
    ok(strstr(err, tmpl_path) && strstr(err, "line 3"), "error names the file and line: %s", err);
    ok(t.system == NULL && t.user == NULL, "nothing kept on failure");

    write_template("{\"system\": \"{context} {query}\"}");
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "missing \"user\" is refused");
    ok(strstr(err, tmpl_path) && strstr(err, "\"user\"") && strstr(err, "missing"),
       "error names the file and the missing key: %s", err);

    write_template("{\"system\": \"user\",\n\n  \"user\": 7}");
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "non-string \"user\" is refused");
    ok(strstr(err, "line 3") && strstr(err, "\"user\"") && strstr(err, "string"),
       "error names the key's line and the key: %s", err);

    write_template("{\"system\": \"{context}\", \"user\": \"{query}\", \"sytem\": \"x\"}");
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "an unknown key is refused");
    ok(strstr(err, "\"sytem\"") != NULL, "error names the unknown key: %s", err);

    write_template("{\"system\": {\"zz\": \"zz\"},\n\n \"zz\": 1}");
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "an unknown key after a nested one is refused");
    ok(strstr(err, "line 3") && strstr(err, "\"zz\""), "its line is the top-level key's, not the nested one's: %s", err);

    write_template("{\"system\": \"answer\", \"user\": \"{context}\"}");
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "a template without {query} is refused");
    ok(strstr(err, "{query}") != NULL, "error names the missing placeholder: %s", err);

    write_template("[\"system\", \"user\"]");
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "a non-object is refused");
    ok(strstr(err, "object") != NULL, "error says an object is expected: %s", err);

    {
        FILE *f = fopen(tmpl_path, "w");
        if (f) {
            fputs("{\"system\": \"{context} {query}\", \"user\": \"", f);
            for (int i = 0; i < 1100000; i++)
                fputc('x', f);
            fputs("\"}", f);
            fclose(f);
        }
    }
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "a file over 1 MiB is refused");
    ok(strstr(err, "larger than") != NULL, "error says it is too large: %s", err);

    unlink(tmpl_path);
    ok(prompt_load(&t, tmpl_path, err, sizeof err) == -1, "a missing file is refused");
    ok(strstr(err, tmpl_path) && strstr(err, "No such file"), "error names the file and why: %s", err);
}

int main(void)
{
    test_count_tokens();
    test_count_tokens_invalid();
    test_numbering();
    test_exact_duplicate_gap();
    test_near_duplicates();
    test_short_duplicates();
    test_budget_cut();
    test_budget_line_end();
    test_budget_utf8();
    test_budget_too_small();
    test_render();
    test_render_dense();
    test_render_ceiling();
    test_prompt_default();
    test_prompt_render_rules();
    test_prompt_load();
    return tap_done();
}
