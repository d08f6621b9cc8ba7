/* Unit tests for extract_answer: choice of sentences, citations, scoring,
 * sentence splitting, cutting long sentences; and how gen reports an
 * extractive answer that is empty. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "ctx.h"
#include "extract.h"
#include "gen.h"
#include "tap.h"
#include "util.h"

typedef struct answer {
    int rc;
    char *text;
    int *cites;
    size_t ncites;
} answer;

/* Build a context from src[0..n) with room for everything and answer q. */
static answer ask(const char *q, const ctx_source *src, size_t n, size_t max)
{
    answer a = {-1, NULL, NULL, 0};
    ctx c;

    if (ctx_build(&c, src, n, 100000) == 0)
        a.rc = extract_answer(q, &c, max, &a.text, &a.cites, &a.ncites);
    ctx_release(&c);
    return a;
}

static void done(answer *a)
{
    free(a->text);
    free(a->cites);
}

/* Every "[n]" in text names one of the ranks src[0..n); counts them too. */
static int cites_only(const char *text, const ctx_source *src, size_t n, int *count)
{
    *count = 0;
    for (const char *p = strchr(text, '['); p; p = strchr(p + 1, '[')) {
        char *end;
        long v = strtol(p + 1, &end, 10);
        int found = 0;
        if (end == p + 1 || *end != ']')
            continue;
        for (size_t i = 0; i < n; i++)
            found |= src[i].rank == v;
        if (!found)
            return 0;
        ++*count;
    }
    return 1;
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0;

    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_picks_and_cites(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, "The weather was mild all week. Nobody complained."},
        {2, "kb", "b", "B", NULL, "Cats sleep most of the day."},
        {3, "web", "c", "C", NULL, "Markets opened late. Proteins fold into their native shape quickly. Rain fell."},
    };
    answer a = ask("How do proteins fold?", s, 3, 3);

    is_int(a.rc, 0, "extract succeeds");
    is_str(a.text, "Proteins fold into their native shape quickly. [3]", "the matching sentence, cited [3]");
    is_int(a.ncites, 1, "one citation");
    ok(a.cites && a.cites[0] == 3, "citation is 3, the rank of its context");
    done(&a);
}

static void test_gap_numbers(void)
{
    const char *dup = "Lighthouses guide ships along the coast at night.";
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, dup},
        {2, "kb", "b", "B", NULL, dup},
        {3, "kb", "c", "C", NULL, "The keeper lit the lighthouse lamp every evening."},
    };
    answer a = ask("lighthouse keeper lamp", s, 3, 3);
    int n;

    ok(a.rc == 0 && cites_only(a.text, s, 3, &n), "every [n] in the answer is a context rank");
    ok(strstr(a.text, "[3]") && !strstr(a.text, "[2]"), "the skipped duplicate's number is never cited");
    ok(a.ncites == 2 && a.cites[0] == 1 && a.cites[1] == 3, "citations are 1 and 3");
    done(&a);
}

static void test_own_references_kept(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, "Glaciers carve valleys [12] over millennia [3, 4]. Unrelated text."},
        {2, "kb", "b", "B", NULL, "Glaciers retreat [99]. Set a[1] to glaciers[0]."},
    };
    answer a = ask("glaciers valleys", s, 2, 3);

    is_str(a.text, "Glaciers carve valleys [12] over millennia [3, 4]. [1] Glaciers retreat [99]. [2] "
           "Set a[1] to glaciers[0]. [2]",
           "a quote keeps the passage's own [12], [3, 4], [99] and a[1]");
    ok(a.ncites == 2 && a.cites[0] == 1 && a.cites[1] == 2,
       "citations are the passages' numbers, not the quoted ones");
    done(&a);
}

static void test_nothing_matches(void)
{
    ctx_source s[] = {{1, "kb", "a", "A", NULL, "Bread is what the oldest food is."}};
    answer a = ask("quantum chromodynamics", s, 1, 3);

    is_int(a.rc, 0, "no match still succeeds");
    is_str(a.text, "", "no match: empty answer");
    ok(a.ncites == 0 && a.cites == NULL, "no match: no citations");
    done(&a);

    a = ask("what is the", s, 1, 3);
    ok(a.rc == 0 && a.text && *a.text == '\0' && a.ncites == 0, "a query of stop words matches nothing");
    done(&a);

    a = ask("bread", s, 1, 0);
    ok(a.rc == 0 && a.text && *a.text == '\0' && a.ncites == 0, "max_sentences 0: empty answer");
    done(&a);

    a = ask("bread", NULL, 0, 3);
    ok(a.rc == 0 && a.text && *a.text == '\0' && a.ncites == 0, "empty context: empty answer");
    done(&a);
}

static void test_max_and_order(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, "Volcanoes erupt lava. Ash clouds follow volcanoes."},
        {2, "kb", "b", "B", NULL, "Some volcanoes sleep for centuries."},
        {3, "kb", "c", "C", NULL, "Volcanoes form at plate boundaries."},
        {4, "kb", "d", "D", NULL, "Lava cools into basalt."},
    };
    answer a = ask("volcanoes", s, 4, 2);

    is_int(count_str(a.text, "] "), 1, "max_sentences 2: two sentences");
    is_str(a.text, "Volcanoes erupt lava. [1] Ash clouds follow volcanoes. [1]",
           "equal scores: earlier rank, then earlier position");
    ok(a.ncites == 1 && a.cites[0] == 1, "a number cited twice is listed once");
    done(&a);

    a = ask("volcanoes", s, 4, 10);
    is_int(count_str(a.text, "volcanoes") + count_str(a.text, "Volcanoes"), 4,
           "all four matching sentences, no more");
    ok(a.ncites == 3 && a.cites[0] == 1 && a.cites[1] == 2 && a.cites[2] == 3,
       "citations ascending and distinct: 1 2 3");
    done(&a);
}

static void test_citations_sorted(void)
{
    ctx_source s[] = {
        {2, "kb", "a", "A", NULL, "Tides follow the moon."},
        {5, "kb", "b", "B", NULL, "Tides and moon and gravity and oceans."},
    };
    answer a = ask("tides moon gravity oceans", s, 2, 3);

    ok(strstr(a.text, "[5]") < strstr(a.text, "[2]"), "the better sentence (rank 5) comes first");
    ok(a.ncites == 2 && a.cites[0] == 2 && a.cites[1] == 5, "citations still ascending: 2 5");
    done(&a);
}

static void test_rare_terms_weigh_more(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, "The structure is large. A structure was built. Structure matters."},
        {2, "kb", "b", "B", NULL, "Enzymes are catalysts."},
    };
    answer a = ask("enzyme structure", s, 2, 1);

    is_str(a.text, "Enzymes are catalysts. [2]", "the rare term wins over the common one, despite rank");
    done(&a);
}

static void test_long_sentence_penalised(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL,
         "Comets are made of ice and dust and rock and they travel around the sun on long orbits that "
         "take them far beyond the planets where it is very cold and dark for years at a time."},
        {2, "kb", "b", "B", NULL, "Comets have tails."},
    };
    answer a = ask("comets", s, 2, 1);

    is_str(a.text, "Comets have tails. [2]", "a long sentence does not win just by being long");
    done(&a);
}

static void test_stemming(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, "Nothing here."},
        {2, "kb", "b", "B", NULL, "Each protein binds a ligand."},
    };
    answer a = ask("PROTEINS", s, 2, 3);

    is_str(a.text, "Each protein binds a ligand. [2]", "PROTEINS matches protein: plural and case");
    done(&a);

    a = ask("binding", s, 2, 3);
    is_str(a.text, "Each protein binds a ligand. [2]", "binding matches binds: verb ending");
    done(&a);
}

static void test_splitting(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL,
         "Water boils at 99.5 degrees, e.g. on hills, per Smith et al. in 2001. Mountains are high.\n"
         "Boiling point heading\nIs water wet? \"Yes,\" said Dr. Who of the water. Then water froze! "
         "Water went to Xprof. Water in \xC3\x89" "fig. Water left."},
    };
    answer a = ask("water", s, 1, 10);

    is_str(a.text,
           "Water boils at 99.5 degrees, e.g. on hills, per Smith et al. in 2001. [1] "
           "Is water wet? [1] \"Yes,\" said Dr. Who of the water. [1] Then water froze! [1] "
           "Water went to Xprof. [1] Water in \xC3\x89" "fig. [1] Water left. [1]",
           "no split at 99.5, e.g., et al., Dr.; split at ?, !, line ends, 'Xprof.' and '\xC3\x89" "fig.'");
    done(&a);

    a = ask("wrapped prose", (ctx_source[]){{1, "kb", "a", "A", NULL,
             "## Wrapped heading\nA sentence of hard-wrapped prose that is long enough to\n"
             "wrap onto a second line of text. Short line\nends here? No."}}, 1, 5);
    is_str(a.text, "A sentence of hard-wrapped prose that is long enough to wrap onto a second "
           "line of text. [1]", "a long line continued in lower case is one sentence; no heading");
    done(&a);

    a = ask("wrapped code", (ctx_source[]){{1, "kb", "a", "A", NULL,
             "A wrapped sentence names code and is long enough to be\n"
             "`ctx_build` wrapped code, all one sentence.\n"
             "A long line of plain prose that stops just before a fence\n"
             "```\nwrapped code\n```\n"}}, 1, 5);
    is_str(a.text, "A wrapped sentence names code and is long enough to be `ctx_build` wrapped code, "
           "all one sentence. [1]", "a long line continued with inline code is one sentence; fenced code after one is not quoted");
    done(&a);

    a = ask("curl search", (ctx_source[]){{1, "kb", "a", "A", NULL,
             "Run it:\n\n```sh\ncurl -s localhost:8080/search | jq .\n```\n\n"
             "Then search with curl from another terminal."}}, 1, 5);
    is_str(a.text, "Then search with curl from another terminal. [1]", "fenced code is never quoted");
    done(&a);

    a = ask("quotes", (ctx_source[]){{1, "kb", "a", "A", NULL, "He said \"no quotes.\" Then quotes again."}}, 1, 5);
    is_str(a.text, "He said \"no quotes.\" [1] Then quotes again. [1]", "a closing quote stays with its sentence");
    done(&a);
}

static void test_near_identical_skipped(void)
{
    ctx_source s[] = {
        {1, "kb", "a", "A", NULL, "Honey never spoils in sealed jars. Bees are busy."},
        {2, "kb", "b", "B", NULL, "Honey never spoils in sealed jars! Ants are busy too, and they like honey jars."},
    };
    answer a = ask("honey spoils jars", s, 2, 3);

    is_int(count_str(a.text, "never spoils"), 1, "the same sentence from two passages is given once");
    is_str(a.text, "Honey never spoils in sealed jars. [1] Ants are busy too, and they like honey jars. [2]",
           "the next best distinct sentence follows");
    done(&a);
}

static void test_long_cut_utf8(void)
{
    char word_text[700], cjk_text[700];
    size_t n = 0;
    answer a;
    const char *tail;

    /* "Glacier éé éé ... ." : 5-byte words, so a 400-byte cut lands on a space. */
    n += (size_t)sprintf(word_text, "Glacier");
    while (n < 600)
        n += (size_t)sprintf(word_text + n, " \xC3\xA9\xC3\xA9");
    strcpy(word_text + n, ".");
    a = ask("glacier", (ctx_source[]){{1, "kb", "a", "A", NULL, word_text}}, 1, 3);
    tail = a.text + strlen(a.text) - strlen("\xE2\x80\xA6 [1]");
    ok(utf8_valid(a.text), "a cut sentence is valid UTF-8");
    is_str(tail, "\xE2\x80\xA6 [1]", "a cut sentence ends with the ellipsis, then its citation");
    ok(tail - a.text <= EXTRACT_MAX_SENTENCE, "the kept part is at most %d bytes", EXTRACT_MAX_SENTENCE);
    ok(tail[-1] != ' ' && tail[-5] == ' ', "cut at a word boundary: after a whole word");
    done(&a);

    /* Spaceless CJK after one word: no space in the second half, so the cut
     * falls between two 3-byte characters. */
    n = (size_t)sprintf(cjk_text, "Glacier ");
    while (n < 600)
        n += (size_t)sprintf(cjk_text + n, "\xE6\x97\xA5");
    a = ask("glacier", (ctx_source[]){{1, "kb", "a", "A", NULL, cjk_text}}, 1, 3);
    tail = a.text + strlen(a.text) - strlen("\xE2\x80\xA6 [1]");
    ok(utf8_valid(a.text), "a cut spaceless sentence is valid UTF-8");
    ok(tail - a.text <= EXTRACT_MAX_SENTENCE && tail - a.text > EXTRACT_MAX_SENTENCE - 3,
       "cut at the last whole character within the limit");
    done(&a);
}

/* What gen reported, copied out of its borrowed result. */
typedef struct reported {
    int calls;
    const char *status, *error;
    char *answer;
} reported;

static void on_generated(void *arg, const gen_result *r)
{
    reported *rep = arg;

    rep->calls++;
    rep->status = gen_status_name(r);
    rep->error = r->error;
    rep->answer = r->answer ? strdup(r->answer) : NULL;
}

/* Run the extractive generator on the loop, as a search does. */
static reported generate(const char *q, const ctx_source *src, size_t n)
{
    static const gen_callbacks cbs = {NULL, on_generated};
    struct event_base *base = event_base_new();
    gen_env env = {.base = base, .context_tokens = 100000};
    reported rep = {0, NULL, NULL, NULL};
    ragd_hit hits[8];
    fuse_hit fused[8];
    gen *g;

    for (size_t i = 0; i < n && i < 8; i++) {
        hits[i] = (ragd_hit){src[i].id, src[i].title, src[i].url, src[i].text, 0};
        fused[i] = (fuse_hit){&hits[i], src[i].source, 0, i, 0};
    }
    if (base && gen_start(&env, q, fused, n, 0, 0, &cbs, &rep, &g) == RAGD_OK)
        event_base_dispatch(base);
    if (base)
        event_base_free(base);
    return rep;
}

static void test_gen_empty_status(void)
{
    ctx_source s[] = {{1, "kb", "a", "A", NULL, "Bread is what the oldest food is."}};
    reported r = generate("quantum chromodynamics", s, 1);

    ok(r.calls == 1 && r.answer && *r.answer == '\0', "no sentence matches: the answer is empty");
    is_str(r.status, "empty", "and its status is empty, not ok");
    is_str(r.error, "no sentence in the contexts matched the query", "with why");
    free(r.answer);

    r = generate("bread", NULL, 0);
    ok(r.calls == 1 && r.status && strcmp(r.status, "empty") == 0 && r.error &&
       strcmp(r.error, "no contexts to answer from") == 0, "no contexts: empty, saying so");
    free(r.answer);

    r = generate("oldest bread", s, 1);
    is_str(r.status, "ok", "a matching sentence: ok");
    ok(r.error == NULL && r.answer && strcmp(r.answer, "Bread is what the oldest food is. [1]") == 0,
       "with the answer and no error");
    free(r.answer);

    is_str(gen_status_name(&(gen_result){.status = RAGD_ETIMEDOUT}), "timeout", "timeout is named");
    is_str(gen_status_name(&(gen_result){.status = RAGD_ERR}), "error", "an error is named");
}

int main(void)
{
    test_picks_and_cites();
    test_gap_numbers();
    test_own_references_kept();
    test_nothing_matches();
    test_max_and_order();
    test_citations_sorted();
    test_rare_terms_weigh_more();
    test_long_sentence_penalised();
    test_stemming();
    test_splitting();
    test_near_identical_skipped();
    test_long_cut_utf8();
    test_gen_empty_status();
    return tap_done();
}
