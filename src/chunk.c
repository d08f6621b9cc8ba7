/*
 * chunk -- cutting a document's text into passages for retrieval.
 *
 * The cutter walks the text once, left to right.  At each step it decides
 * how many chunks the rest still needs, aims at an equal share, and looks
 * for the best boundary near that aim.  Recomputing the share at each step
 * keeps the chunks balanced even when a cut lands off its aim.  Not for
 * token counting or for any language-aware segmentation: boundaries are
 * found with ASCII punctuation and whitespace only.
 */
#include "chunk.h"

#include <errno.h>
#include <stdlib.h>

/* Boundary classes, best first. */
enum { CUT_PARA, CUT_SENT, CUT_SPACE, CUT_NCLASS };

/* UTF-8 encodes a character in at most 4 bytes, so at most 3 continuation
 * bytes separate a position from a character start in valid text. */
#define UTF8_MAX_CONT 3

static int chunk_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
        || c == '\v';
}

static int chunk_is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* The class of a cut just before text[i] (i > 0), or -1 when i is not a
 * boundary.  A paragraph break is a newline followed by blank space holding
 * another newline; a sentence end is ".?!" followed by a space or newline. */
static int chunk_class_at(const unsigned char *t, size_t i, size_t end)
{
    if (t[i] == '\n') {
        for (size_t j = i + 1; j < end && chunk_is_space(t[j]); j++)
            if (t[j] == '\n')
                return CUT_PARA;
    }
    if ((t[i] == ' ' || t[i] == '\n')
        && (t[i - 1] == '.' || t[i - 1] == '?' || t[i - 1] == '!'))
        return CUT_SENT;
    return chunk_is_space(t[i]) ? CUT_SPACE : -1;
}

static size_t chunk_dist(size_t a, size_t b)
{
    return a > b ? a - b : b - a;
}

/* The best cut in [lo, hi] (pos < lo): the best class present, and within
 * it the position nearest aim.  Returns 0 when there is none. */
static size_t chunk_best_cut(const unsigned char *t, size_t lo, size_t hi,
                             size_t end, size_t aim)
{
    size_t best[CUT_NCLASS] = {0};

    for (size_t i = lo; i <= hi && i < end; i++) {
        int c = chunk_class_at(t, i, end);
        if (c >= 0 && (!best[c] || chunk_dist(i, aim) < chunk_dist(best[c], aim)))
            best[c] = i;
    }
    for (int c = 0; c < CUT_NCLASS; c++)
        if (best[c])
            return best[c];
    return 0;
}

/* A cut near at that falls between characters: moved back off continuation
 * bytes, or forward when the character at pos itself straddles at (only
 * possible with a tiny max).  Invalid UTF-8 (a longer run of continuation
 * bytes) is cut where asked, since there is no character to keep whole. */
static size_t chunk_char_cut(const unsigned char *t, size_t pos, size_t at,
                             size_t limit, size_t end)
{
    size_t c = at;

    for (int k = 0; k < UTF8_MAX_CONT && c > pos + 1 && chunk_is_cont(t[c]); k++)
        c--;
    if (!chunk_is_cont(t[c]))
        return c;
    for (c = at; c < limit && chunk_is_cont(t[c]); c++)
        ;
    /* The text's end is always a character boundary (and t[end] may not be
     * readable: the text need not be NUL-terminated). */
    return c < end && chunk_is_cont(t[c]) ? at : c;
}

/* How many chunks rest bytes need: the count whose equal shares are
 * nearest target, but never so few that a share exceeds max. */
static size_t chunk_count(size_t rest, size_t target, size_t max)
{
    size_t n = (rest + target / 2) / target;
    size_t least = (rest + max - 1) / max;

    return n > least ? n : least;
}

/* Where the chunk starting at pos (non-space) ends, given that end - pos
 * bytes remain and n > 1 chunks are wanted for them. */
static size_t chunk_next_cut(const unsigned char *t, size_t pos, size_t end,
                             size_t n, size_t max)
{
    size_t rest = end - pos;
    size_t share = rest / n;
    size_t aim = pos + share;
    size_t limit = pos + (max < rest ? max : rest);
    size_t lo = pos + share - share / 4;
    size_t hi = aim + share / 4 < limit ? aim + share / 4 : limit;
    size_t cut;

    /* First look near the aim, so chunks stay balanced ... */
    cut = chunk_best_cut(t, lo > pos ? lo : pos + 1, hi, end, aim);
    if (cut)
        return cut;
    /* ... then anywhere the max allows, rather than split a word ... */
    cut = chunk_best_cut(t, pos + 1, limit, end, aim);
    if (cut)
        return cut;
    /* ... and only then between two characters of one long word. */
    return chunk_char_cut(t, pos, aim < limit ? aim : limit, limit, end);
}

static int chunk_push(chunk_span **spans, size_t *n, size_t *cap,
                      size_t off, size_t len)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        chunk_span *p = realloc(*spans, ncap * sizeof *p);
        if (!p)
            return -1;
        *spans = p;
        *cap = ncap;
    }
    (*spans)[*n].off = off;
    (*spans)[*n].len = len;
    (*n)++;
    return 0;
}

int chunk_split(const char *text, size_t len, size_t target, size_t max,
                chunk_span **spans, size_t *n)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t pos = 0, end = len, cap = 0;

    *spans = NULL;
    *n = 0;
    if (target == 0 || max == 0) {
        errno = EINVAL;
        return -1;
    }
    if (target > max)
        target = max;
    while (end > 0 && chunk_is_space(t[end - 1]))
        end--;
    for (;;) {
        while (pos < end && chunk_is_space(t[pos]))
            pos++;
        if (pos == end)
            return 0;
        size_t n_left = chunk_count(end - pos, target, max);
        size_t cut = n_left <= 1 ? end
                                 : chunk_next_cut(t, pos, end, n_left, max);
        size_t stop = cut;
        while (stop > pos && chunk_is_space(t[stop - 1]))
            stop--;
        if (chunk_push(spans, n, &cap, pos, stop - pos) < 0) {
            free(*spans);
            *spans = NULL;
            *n = 0;
            errno = ENOMEM;
            return -1;
        }
        pos = cut;
    }
}
