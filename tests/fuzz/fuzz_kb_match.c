/*
 * fuzz_kb_match -- the kb source's FTS5 MATCH builder, kb_match_expr.
 *
 * kb_match promises that nothing a user types reaches FTS5 as query
 * syntax.  Beyond the sanitizers, this target checks the shape of every
 * expression ("w" OR "w" ..., at most KB_MATCH_MAX_WORDS words, valid
 * UTF-8) and then hands it to a real FTS5 table, which must accept it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fuzz.h"
#include "kb_match.h"

static sqlite3 *fuzz_db;
static sqlite3_stmt *fuzz_stmt;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The tokenizer kb uses, and one row so MATCH really runs. */
    if (sqlite3_open(":memory:", &fuzz_db) != SQLITE_OK ||
        sqlite3_exec(fuzz_db, "CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61');"
                     "INSERT INTO t VALUES ('reciprocal rank fusion of sources');",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(fuzz_db, "SELECT count(*) FROM t WHERE t MATCH ?", -1, &fuzz_stmt,
                           NULL) != SQLITE_OK)
        abort();
    return 0;
}

/* Whether s[0..n) is well-formed UTF-8. */
static int fuzz_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i++];
        int more = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (more < 0 || n - i < (size_t)more)
            return 0;
        while (more--)
            if ((s[i++] & 0xC0) != 0x80)
                return 0;
    }
    return 1;
}

/* Check expr is `"w"( OR "w")*` with words of [a-z0-9] and bytes >= 0x80. */
static void fuzz_check_shape(const char *expr)
{
    const char *p = expr;
    size_t words = 0;

    if (!*p)
        return;
    for (;;) {
        fuzz_check(*p == '"');
        p++;
        fuzz_check(*p != '"');
        while (*p != '"') {
            unsigned char c = (unsigned char)*p++;
            fuzz_check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80);
        }
        p++;
        words++;
        if (!*p)
            break;
        fuzz_check(strncmp(p, " OR ", 4) == 0);
        p += 4;
    }
    fuzz_check(words <= KB_MATCH_MAX_WORDS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *query = fuzz_strndup(data, size), *expr = kb_match_expr(query);
    int rc;

    fuzz_check(expr != NULL);
    fuzz_check_shape(expr);
    fuzz_check(fuzz_utf8((const unsigned char *)expr, strlen(expr)));
    if (*expr) {
        sqlite3_bind_text(fuzz_stmt, 1, expr, -1, SQLITE_STATIC);
        rc = sqlite3_step(fuzz_stmt);
        if (rc != SQLITE_ROW)
            fprintf(stderr, "FTS5 refused %s: %s\n", expr, sqlite3_errmsg(fuzz_db));
        fuzz_check(rc == SQLITE_ROW);
        sqlite3_reset(fuzz_stmt);
        sqlite3_clear_bindings(fuzz_stmt);
    }
    free(expr);
    free(query);
    return 0;
}
