/* Unit tests for the kb source's query-to-MATCH translation: the exact
 * expressions, and that every one of them (and of many hostile inputs) is
 * accepted by a real FTS5 table with the store's tokenizer. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "../../sources/kb/kb_match.h"
#include "tap.h"

static sqlite3 *db;
static sqlite3_stmt *match_st;

/* An in-memory FTS5 table shaped like the store's kb_fts. */
static int fts_open(void)
{
    static const char *const sql =
        "CREATE VIRTUAL TABLE t USING fts5(title, text, tokenize='porter unicode61');"
        "INSERT INTO t(rowid, title, text) VALUES"
        " (1, 'Hello', 'hello world of aspirin and the heart'),"
        " (2, 'near', 'title foo bar baz unbalanced quotes'),"
        " (3, 'Café', 'caf\xc3\xa9 badword covid 19 x y z'),"
        " (4, 'the of and', 'to be or not to be');";

    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?1 ORDER BY rank", -1, &match_st,
                           NULL) != SQLITE_OK) {
        printf("# cannot set up FTS5: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Run expr through MATCH.  Returns the number of rows, or -1 when FTS5
 * reported an error; *first gets the best row's rowid (0 when none). */
static int fts_run(const char *expr, long long *first)
{
    int rc, rows = 0;

    *first = 0;
    sqlite3_bind_text(match_st, 1, expr, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(match_st)) == SQLITE_ROW)
        if (rows++ == 0)
            *first = sqlite3_column_int64(match_st, 0);
    if (rc != SQLITE_DONE)
        printf("# FTS5 error for %s: %s\n", expr, sqlite3_errmsg(db));
    sqlite3_reset(match_st);
    sqlite3_clear_bindings(match_st);
    return rc == SQLITE_DONE ? rows : -1;
}

/* Check that query translates to want, and that FTS5 accepts the result
 * (an empty expression is never sent to FTS5 by the kb source). */
static void check(const char *query, const char *want, const char *what)
{
    char *got = kb_match_expr(query);
    long long first;

    is_str(got, want, "%s", what);
    if (got && *got)
        ok(fts_run(got, &first) >= 0, "%s: FTS5 accepts it", what);
    free(got);
}

static void test_plain(void)
{
    check("hello", "\"hello\"", "one word");
    check("Hello WORLD", "\"hello\" OR \"world\"", "words lowercased and OR-ed");
    check("COVID-19 x", "\"covid\" OR \"19\" OR \"x\"", "digits are words, '-' separates");
    check("caf\xc3\xa9 \xc3\x9c" "ber", "\"caf\xc3\xa9\" OR \"\xc3\x9c" "ber\"",
          "UTF-8 words stay whole, non-ASCII case untouched");
    check("\xf0\x9d\x94\x98nicode", "\"\xf0\x9d\x94\x98nicode\"", "4-byte UTF-8 kept");
}

static void test_stopwords_and_dups(void)
{
    check("The effect of aspirin on the heart", "\"effect\" OR \"aspirin\" OR \"heart\"",
          "stop words dropped");
    check("the of and", "\"the\" OR \"of\" OR \"and\"", "all stop words: kept");
    check("to be or not to be", "\"to\" OR \"be\" OR \"or\" OR \"not\"",
          "all stop words: kept once each, in order");
    check("foo Foo FOO bar foo", "\"foo\" OR \"bar\"", "duplicates kept once, case-insensitively");
}

static void test_hostile(void)
{
    check("\"unbalanced", "\"unbalanced\"", "unbalanced quote");
    check("a AND b", "\"b\"", "AND is a stop word, not an operator");
    check("NEAR(a b)", "\"near\" OR \"b\"", "NEAR is a plain word");
    check("title:foo", "\"title\" OR \"foo\"", "column filter is plain words");
    check("foo*", "\"foo\"", "prefix star dropped");
    check("^x", "\"x\"", "initial-token caret dropped");
    check("-x +y", "\"x\" OR \"y\"", "minus and plus dropped");
    check("(a OR", "\"a\" OR \"or\"", "unbalanced parenthesis");
    check("{title text}: z", "\"title\" OR \"text\" OR \"z\"", "column set filter");
    check("x NOT y", "\"x\" OR \"y\"", "NOT is a stop word, not an operator");
    check("say \"\"hi\"\" 'there'", "\"say\" OR \"hi\"", "doubled and single quotes");
    check("", "", "empty query");
    check("?!. ,;:()*^-+{}\"'", "", "only punctuation");
    check("\t\n ", "", "only whitespace");
}

static void test_invalid_utf8(void)
{
    check("caf\xc3\xa9 \xff\xfe bad\x80word", "\"caf\xc3\xa9\" OR \"badword\"",
          "stray bytes removed, words kept");
    check("\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80", "",
          "overlong, surrogate and >U+10FFFF forms removed");
    check("abc\xe2\x82", "\"abc\"", "truncated sequence at the end removed");
    check("x\xe2\x82y", "\"xy\"", "truncated sequence inside a word removed");
    check("\xc3", "", "lone lead byte");
}

static void test_limits(void)
{
    size_t size = 10 * 1024;
    static const char ops[] = "the of \"*:^+-(){}AND OR NOT NEAR ";
    char *big = malloc(size + 1), *got, want_last[16];
    size_t off = 0, ors = 0;
    long long first;

    if (!big) {
        ok(0, "malloc");
        return;
    }
    for (int i = 0; off + 16 < size; i++)
        off += (size_t)snprintf(big + off, size + 1 - off, "word%d ", i);
    got = kb_match_expr(big);
    ok(got && strncmp(got, "\"word0\" OR \"word1\" OR ", 22) == 0,
       "10 KB of words: starts in order");
    for (const char *s = got; s && (s = strstr(s, " OR ")); s += 4)
        ors++;
    is_int(ors + 1, KB_MATCH_MAX_WORDS, "10 KB of words: capped at %d words", KB_MATCH_MAX_WORDS);
    snprintf(want_last, sizeof want_last, "\"word%d\"", KB_MATCH_MAX_WORDS - 1);
    ok(got && strlen(got) > strlen(want_last) &&
           strcmp(got + strlen(got) - strlen(want_last), want_last) == 0,
       "10 KB of words: the 64th word is last");
    ok(got && fts_run(got, &first) >= 0, "10 KB of words: FTS5 accepts it");
    free(got);

    memset(big, 'a', size);
    big[size] = '\0';
    got = kb_match_expr(big);
    ok(got && strlen(got) == size + 2 && got[0] == '"' && got[size + 1] == '"', "one 10 KB word");
    ok(got && fts_run(got, &first) >= 0, "one 10 KB word: FTS5 accepts it");
    free(got);

    for (off = 0; off + strlen(ops) <= size; off += strlen(ops))
        memcpy(big + off, ops, strlen(ops));
    big[off] = '\0';
    got = kb_match_expr(big);
    is_str(got, "\"near\"", "10 KB of operators and stop words");
    free(got);
    free(big);
}

/* Results, not just the absence of errors: hostile text still finds the
 * rows its words are in. */
static void test_finds(void)
{
    char *e = kb_match_expr("title:\"unbalanced");
    long long first;

    ok(e && fts_run(e, &first) >= 1 && first == 2, "column-filter syntax finds its words");
    free(e);
    e = kb_match_expr("NEAR(aspirin heart)");
    ok(e && fts_run(e, &first) >= 1 && first == 1, "NEAR syntax finds its words");
    free(e);
    e = kb_match_expr("CAF\xc3\xa9\xff");
    ok(e && fts_run(e, &first) == 1 && first == 3,
       "UTF-8 word found after stripping invalid bytes");
    free(e);
}

/* Random strings over an alphabet of FTS5 syntax, words, UTF-8 and
 * invalid bytes: every expression must run without an FTS5 error. */
static void test_fuzz(void)
{
    static const char *const atoms[] = {
        "\"", "'", "(", ")", "*", ":", "^", "+", "-", "{", "}", ",", " ", " AND ", " OR ",
        " NOT ", "NEAR", "title", "text", "rank", "rowid", "a", "the", "foo", "x1",
        "\xc3\xa9", "\xe2\x80\x94", "\xc2\xa0", "\xff", "\x80", "\xe2\x82",
        "\xf0\x9f\x98\x80", "\t",
    };
    unsigned seed = 12345;
    int failures = 0, runs = 0;

    for (int i = 0; i < 3000; i++) {
        char q[256], *e;
        size_t off = 0;
        long long first;

        for (int j = 0; j < 24; j++) {
            const char *a;
            seed = seed * 1103515245u + 12345u;
            a = atoms[(seed >> 16) % (sizeof atoms / sizeof *atoms)];
            if (off + strlen(a) >= sizeof q)
                break;
            memcpy(q + off, a, strlen(a));
            off += strlen(a);
        }
        q[off] = '\0';
        if (!(e = kb_match_expr(q))) {
            failures++;
            continue;
        }
        if (*e) {
            runs++;
            failures += fts_run(e, &first) < 0;
        }
        free(e);
    }
    is_int(failures, 0, "3000 random hostile queries: no FTS5 error (%d ran)", runs);
}

int main(void)
{
    if (fts_open() != 0) {
        ok(0, "FTS5 in-memory table");
        return tap_done();
    }
    test_plain();
    test_stopwords_and_dups();
    test_hostile();
    test_invalid_utf8();
    test_limits();
    test_finds();
    test_fuzz();
    sqlite3_finalize(match_st);
    sqlite3_close(db);
    return tap_done();
}
