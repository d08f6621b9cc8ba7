/*
 * kb_match -- turning a user's query text into a safe FTS5 MATCH expression.
 *
 * Only the quoted-word form is ever produced, so FTS5 never parses anything
 * the user typed as syntax.  Not for ranking or stemming: FTS5 does both.
 */
#include "kb_match.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* English stop words, dropped from the expression.  An OR query over common
 * terms makes FTS5 walk their huge posting lists -- the kb source's search
 * over SciFact's 1,109 queries took 11.3 ms of CPU per query with them
 * against 4.2 ms without -- while they carry almost no BM25 weight, since
 * nearly every chunk contains them.  A query made only of stop words keeps
 * them all, so that it still finds something. */
static const char *const kb_stopwords[] = {
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can",
    "do", "does", "for", "from", "had", "has", "have", "how", "in", "into",
    "is", "it", "its", "no", "not", "of", "on", "or", "than", "that", "the",
    "their", "then", "there", "these", "they", "this", "those", "to", "was",
    "were", "what", "when", "which", "who", "will", "with",
};

/* A word as a slice of the cleaned-text buffer. */
typedef struct kb_word {
    const char *s;
    size_t len;
} kb_word;

/* Distinct words in first-occurrence order; n <= KB_MATCH_MAX_WORDS. */
typedef struct kb_words {
    kb_word v[KB_MATCH_MAX_WORDS];
    size_t n;
} kb_words;

static int kb_match_is_stopword(const char *w, size_t len)
{
    for (size_t i = 0; i < sizeof kb_stopwords / sizeof *kb_stopwords; i++)
        if (strlen(kb_stopwords[i]) == len && memcmp(kb_stopwords[i], w, len) == 0)
            return 1;
    return 0;
}

static int kb_match_is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Copy the word starting at *pp (before end, the query's NUL) into out,
 * lowercased and without invalid UTF-8; advance *pp past the word.  Returns
 * the bytes written (0 when the word was nothing but invalid bytes). */
static size_t kb_match_take_word(const unsigned char **pp, const unsigned char *end, char *out)
{
    const unsigned char *p = *pp;
    size_t len = 0;

    while (*p >= 0x80 || kb_match_is_ascii_alnum(*p)) {
        if (*p < 0x80) {
            out[len++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
            p++;
        } else {
            uint32_t cp;
            size_t n = utf8_next((const char *)p, (size_t)(end - p), 0, &cp);
            if (n == 1 && cp == UTF8_REPLACEMENT) {
                p++;
                continue;
            }
            memcpy(out + len, p, n);
            len += n;
            p += n;
        }
    }
    *pp = p;
    return len;
}

/* Add w to ws unless it is already there or ws is full. */
static void kb_match_words_add(kb_words *ws, const char *w, size_t len)
{
    if (ws->n == KB_MATCH_MAX_WORDS)
        return;
    for (size_t i = 0; i < ws->n; i++)
        if (ws->v[i].len == len && memcmp(ws->v[i].s, w, len) == 0)
            return;
    ws->v[ws->n].s = w;
    ws->v[ws->n].len = len;
    ws->n++;
}

/* Join ws as `"w1" OR "w2" ...` into a malloc'd string, or NULL. */
static char *kb_match_words_join(const kb_words *ws)
{
    size_t size = 1, off = 0;
    char *out;

    for (size_t i = 0; i < ws->n; i++)
        size += ws->v[i].len + 2 + (i ? 4 : 0);
    if (!(out = malloc(size)))
        return NULL;
    for (size_t i = 0; i < ws->n; i++) {
        if (i) {
            memcpy(out + off, " OR ", 4);
            off += 4;
        }
        out[off++] = '"';
        memcpy(out + off, ws->v[i].s, ws->v[i].len);
        off += ws->v[i].len;
        out[off++] = '"';
    }
    out[off] = '\0';
    return out;
}

char *kb_match_expr(const char *query)
{
    const unsigned char *p = (const unsigned char *)query, *end = p + strlen(query);
    kb_words *words = calloc(1, sizeof *words), *stops = calloc(1, sizeof *stops);
    char *buf = malloc((size_t)(end - p) + 1), *out = NULL;
    size_t used = 0;

    if (!words || !stops || !buf)
        goto done;
    /* Stop scanning once the real words are full: the stop words would be
     * used only if there were none. */
    while (*p && words->n < KB_MATCH_MAX_WORDS) {
        char *w = buf + used;
        size_t len;

        if (*p < 0x80 && !kb_match_is_ascii_alnum(*p)) {
            p++;
            continue;
        }
        if ((len = kb_match_take_word(&p, end, w)) == 0)
            continue;
        used += len;
        kb_match_words_add(kb_match_is_stopword(w, len) ? stops : words, w, len);
    }
    out = kb_match_words_join(words->n ? words : stops);
done:
    free(words);
    free(stops);
    free(buf);
    return out;
}
