/*
 * extract -- sentence-level extractive answers.
 *
 * Query terms are hashed (64-bit FNV-1a of the stemmed word) into a sorted
 * array, so matching a context word is a binary search; a stamp per term
 * makes "distinct terms of this sentence" a single pass with no clearing.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "extract.h"
#include "hash.h"

#define EX_WRAP_MIN 50      /* bytes: a shorter line ends where it ends */
#define EX_PIVOT_WORDS 20       /* sentences longer than this are scaled down */

static const char extract_ellipsis[] = "\xE2\x80\xA6"; /* … */

/* A sentence: text[off .. off+len) of entry `entry`, trimmed. */
typedef struct extract_sent {
    size_t entry, off, len;
    size_t words;
    double score;
} extract_sent;

/* A sentence that matched, for sorting without reaching back into extract_work. */
typedef struct extract_cand {
    double score;
    size_t sent;                /* index in extract_work.sent: entry order, then position */
} extract_cand;

typedef struct extract_set {
    uint64_t *h;                /* sorted, distinct */
    size_t n;
} extract_set;

/* Everything extract_answer allocates, released in one place. */
typedef struct extract_work {
    const ctx *c;
    extract_set query;               /* query term hashes */
    extract_sent *sent;
    size_t nsent, capsent;
    size_t *stamp, *df, *hit;   /* per query term */
    extract_cand *order;             /* matching sentences, best first */
    size_t ncand;
    extract_set *picked;
    size_t *pick;               /* sentence index of each picked set */
    size_t npicked;
    int *cites;
} extract_work;

/* ----------------------------------------------------------------- words */

static int extract_is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static char extract_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The next word in [*p, end): its start, with its length in *len and *p
 * moved past it; NULL when there is none. */
static const char *extract_next_word(const char **p, const char *end, size_t *len)
{
    const char *s = *p, *w;

    while (s < end && !extract_is_word_byte((unsigned char)*s))
        s++;
    if (s == end) {
        *p = end;
        return NULL;
    }
    for (w = s; s < end && extract_is_word_byte((unsigned char)*s); s++)
        ;
    *p = s;
    *len = (size_t)(s - w);
    return w;
}

static int extract_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void extract_sort_unique(extract_set *s)
{
    size_t k = 0;

    qsort(s->h, s->n, sizeof *s->h, extract_u64_cmp);
    for (size_t i = 0; i < s->n; i++)
        if (k == 0 || s->h[i] != s->h[k - 1])
            s->h[k++] = s->h[i];
    s->n = k;
}

/* The distinct terms (terms_only) or distinct lowercased words of
 * s[0..len) into *set.  Returns 0, or -1 on ENOMEM. */
static int extract_words(const char *s, size_t len, int terms_only, extract_set *set)
{
    const char *p = s, *w;
    size_t wl;

    set->n = 0;
    if (!(set->h = malloc((len / 2 + 1) * sizeof *set->h)))
        return -1;
    while ((w = extract_next_word(&p, s + len, &wl))) {
        if (!terms_only)
            set->h[set->n++] = hash_fnv1a_lower(w, wl);
        else if (embed_term(w, wl, &set->h[set->n]))
            set->n++;
    }
    extract_sort_unique(set);
    return 0;
}

/* ------------------------------------------------------------- sentences */

static int extract_is_letter(char c)
{
    return extract_lower(c) >= 'a' && extract_lower(c) <= 'z';
}

/* Whether the '.' at t[dot] ends one of the abbreviations that do not end a
 * sentence.  The word before it (letters and dots) must match whole, so
 * "deal." is not "al.".  Looking back 5 bytes, one more than the longest
 * abbreviation, is enough: a longer word still has a word byte before. */
static int extract_is_abbreviation(const char *t, size_t dot)
{
    static const char *const abbr[] = {"e.g", "i.e", "al", "cf", "vs", "fig",
                                       "mr", "mrs", "ms", "dr", "prof"};
    char w[6];
    size_t k = dot;

    while (k > 0 && dot - k < sizeof w - 1 && (t[k - 1] == '.' || extract_is_letter(t[k - 1])))
        k--;
    if (k > 0 && extract_is_word_byte((unsigned char)t[k - 1]))
        return 0;
    for (size_t i = k; i < dot; i++)
        w[i - k] = extract_lower(t[i]);
    w[dot - k] = '\0';
    for (size_t i = 0; i < sizeof abbr / sizeof abbr[0]; i++)
        if (strcmp(w, abbr[i]) == 0)
            return 1;
    return 0;
}

/* Whether the newline at t[i] only wraps a long line of prose (as hard-
 * wrapped Markdown and text files do) rather than ending a line of its own:
 * the line before is long and the next one continues in lower case or with
 * inline code ("`ctx_build` returns..."), as prose that names code does.
 * A "```" fence there still ends the sentence: extract_skip_code cuts it. */
static int extract_soft_wrap(const char *t, size_t len, size_t i)
{
    size_t start = i;

    while (start > 0 && t[start - 1] != '\n')
        start--;
    if (i - start < EX_WRAP_MIN)
        return 0;
    while (++i < len && (t[i] == ' ' || t[i] == '\t'))
        ; /* an indented continuation, as in a list item */
    return i < len && ((t[i] >= 'a' && t[i] <= 'z') || t[i] == '`');
}

/* If a fenced code block (```) starts at t[i], the offset just past its
 * closing fence line (or len); else i.  Code is not an answer. */
static size_t extract_skip_code(const char *t, size_t len, size_t i)
{
    const char *close;

    if (strncmp(t + i, "```", 3) != 0 || (i > 0 && t[i - 1] != '\n'))
        return i;
    close = strstr(t + i + 3, "\n```");
    if (!close)
        return len;
    close = strchr(close + 4, '\n');
    return close ? (size_t)(close - t) + 1 : len;
}

/* When a sentence ends at t[i], where the next one starts; else 0. */
static size_t extract_sentence_end(const char *t, size_t len, size_t i)
{
    static const char *const cjk_ends[] = {"\xE3\x80\x82", "\xEF\xBC\x81", "\xEF\xBC\x9F"};
    size_t j = i + 1;

    if (t[i] == '\n')
        return extract_soft_wrap(t, len, i) ? 0 : i + 1;
    for (size_t k = 0; k < sizeof cjk_ends / sizeof cjk_ends[0]; k++)
        if (len - i >= 3 && memcmp(t + i, cjk_ends[k], 3) == 0)
            return i + 3;
    if (!strchr(".?!", t[i]) || (t[i] == '.' && extract_is_abbreviation(t, i)))
        return 0;
    while (j < len && strchr("\"')]", t[j]))
        j++;
    return j == len || strchr(" \t\r\n", t[j]) ? j : 0;
}

static int extract_push(extract_work *x, size_t entry, size_t start, size_t end)
{
    const char *t = x->c->v[entry].text;

    while (start < end && strchr(" \t\r\n", t[start]))
        start++;
    while (end > start && strchr(" \t\r\n", t[end - 1]))
        end--;
    /* Markdown headings, code fences and table rows are not sentences of
     * an answer. */
    if (start == end || strchr("#|", t[start]) || strncmp(t + start, "```", 3) == 0)
        return 0;
    if (x->nsent == x->capsent) {
        size_t cap = x->capsent ? 2 * x->capsent : 64;
        extract_sent *v = realloc(x->sent, cap * sizeof *v);
        if (!v)
            return -1;
        x->sent = v;
        x->capsent = cap;
    }
    x->sent[x->nsent++] = (extract_sent){entry, start, end - start, 0, 0};
    return 0;
}

static int extract_split(extract_work *x, size_t entry)
{
    const char *t = x->c->v[entry].text;
    size_t len = strlen(t), start = 0;

    for (size_t i = 0; i < len; i++) {
        size_t next = extract_skip_code(t, len, i);
        if (next != i) {
            if (extract_push(x, entry, start, i) != 0)
                return -1;
            start = next;
            i = next - 1;
            continue;
        }
        if ((next = extract_sentence_end(t, len, i)) == 0)
            continue;
        if (extract_push(x, entry, start, next) != 0)
            return -1;
        start = next;
        i = next - 1;
    }
    return extract_push(x, entry, start, len);
}

/* --------------------------------------------------------------- scoring */

static const char *extract_text(const extract_work *x, const extract_sent *s)
{
    return x->c->v[s->entry].text + s->off;
}

/* The distinct query terms in sentence si, as indexes into x->query, into
 * x->hit; returns how many.  Counts the sentence's words on the way. */
static size_t extract_matches(extract_work *x, size_t si, size_t mark)
{
    extract_sent *s = &x->sent[si];
    const char *p = extract_text(x, s), *end = p + s->len, *w;
    size_t wl, n = 0;
    uint64_t h;

    s->words = 0;
    while ((w = extract_next_word(&p, end, &wl))) {
        const uint64_t *q;
        s->words++;
        if (!embed_term(w, wl, &h)
            || !(q = bsearch(&h, x->query.h, x->query.n, sizeof h, extract_u64_cmp)))
            continue;
        if (x->stamp[q - x->query.h] != mark) {
            x->stamp[q - x->query.h] = mark;
            x->hit[n++] = (size_t)(q - x->query.h);
        }
    }
    return n;
}

/* Two passes: a term's weight depends on how many sentences hold it, which
 * is known only once every sentence has been seen. */
static void extract_score(extract_work *x)
{
    double total = (double)x->nsent;

    for (size_t i = 0; i < x->nsent; i++) {
        size_t n = extract_matches(x, i, i + 1);
        for (size_t k = 0; k < n; k++)
            x->df[x->hit[k]]++;
    }
    for (size_t i = 0; i < x->nsent; i++) {
        extract_sent *s = &x->sent[i];
        size_t n = extract_matches(x, i, x->nsent + i + 1);
        double sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += log(1.0 + total / (double)x->df[x->hit[k]]);
        if (s->words > EX_PIVOT_WORDS)
            sum /= sqrt((double)s->words / EX_PIVOT_WORDS);
        s->score = sum;
    }
}

/* Best score first; ties go to the earlier entry, then the earlier sentence,
 * which is the order of sentence indexes. */
static int extract_cmp_cand(const void *a, const void *b)
{
    const extract_cand *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->sent < y->sent ? -1 : x->sent > y->sent;
}

/* ---------------------------------------------------------------- answer */

/* Whether word set s nearly repeats a picked sentence's (Jaccard >= 0.8):
 * passages often state one fact in the same words, and saying it twice
 * wastes a sentence of the answer. */
static int extract_near_picked(const extract_work *x, const extract_set *s)
{
    for (size_t k = 0; k < x->npicked; k++) {
        const extract_set *p = &x->picked[k];
        size_t i = 0, j = 0, common = 0;
        while (i < s->n && j < p->n) {
            if (s->h[i] == p->h[j]) {
                common++;
                i++;
                j++;
            } else if (s->h[i] < p->h[j]) {
                i++;
            } else {
                j++;
            }
        }
        if (5 * common >= 4 * (s->n + p->n - common))
            return 1;
    }
    return 0;
}

/* Pick up to max candidates in order, skipping near-repeats. */
static int extract_pick(extract_work *x, size_t max)
{
    size_t room = max < x->ncand ? max : x->ncand;

    if (room == 0)
        return 0;
    if (!(x->picked = calloc(room, sizeof *x->picked)) || !(x->pick = calloc(room, sizeof *x->pick)))
        return -1;
    for (size_t k = 0; k < x->ncand && x->npicked < room; k++) {
        const extract_sent *s = &x->sent[x->order[k].sent];
        extract_set set;
        if (extract_words(extract_text(x, s), s->len, 0, &set) != 0)
            return -1;
        if (extract_near_picked(x, &set)) {
            free(set.h);
            continue;
        }
        x->pick[x->npicked] = x->order[k].sent;
        x->picked[x->npicked++] = set;
    }
    return 0;
}

/* s[0..len) with whitespace runs as one space into out (room for len
 * bytes); returns the new length.  Nothing else changes: a quote keeps its
 * passage's own "[12]" and an index such as "a[1]". */
static size_t extract_clean(const char *s, size_t len, char *out)
{
    size_t n = 0;
    int space = 0;

    for (size_t i = 0; i < len; i++) {
        if (strchr(" \t\r\n", s[i])) {
            space = n > 0;
            continue;
        }
        if (space)
            out[n++] = ' ';
        space = 0;
        out[n++] = s[i];
    }
    return n;
}

/* Where to cut s[0..len) (len > max) so at most max bytes remain. */
static size_t extract_cut_point(const char *s, size_t max)
{
    size_t k = max;

    while (k > max / 2 && s[k] != ' ')
        k--;
    if (s[k] == ' ')
        return k;
    k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* Append "SENTENCE [n]" for picked sentence si to *out (room reserved). */
static size_t extract_write(const extract_work *x, size_t si, char *out)
{
    const extract_sent *s = &x->sent[si];
    size_t n = extract_clean(extract_text(x, s), s->len, out);

    if (n > EXTRACT_MAX_SENTENCE) {
        n = extract_cut_point(out, EXTRACT_MAX_SENTENCE);
        while (n > 0 && out[n - 1] == ' ')
            n--;
        memcpy(out + n, extract_ellipsis, sizeof extract_ellipsis - 1);
        n += sizeof extract_ellipsis - 1;
    }
    return n + (size_t)sprintf(out + n, " [%d]", x->c->v[s->entry].n);
}

static char *extract_compose(const extract_work *x)
{
    size_t room = 1;
    char *a, *p;

    for (size_t k = 0; k < x->npicked; k++)
        room += x->sent[x->pick[k]].len + sizeof extract_ellipsis + 16;
    if (!(a = malloc(room)))
        return NULL;
    p = a;
    for (size_t k = 0; k < x->npicked; k++) {
        if (k > 0)
            *p++ = ' ';
        p += extract_write(x, x->pick[k], p);
    }
    *p = '\0';
    return a;
}

static int extract_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return x < y ? -1 : x > y;
}

/* The distinct entry numbers of the picked sentences, ascending, in
 * x->cites; returns how many. */
static size_t extract_citations(extract_work *x)
{
    size_t n = 0;

    for (size_t k = 0; k < x->npicked; k++)
        x->cites[k] = x->c->v[x->sent[x->pick[k]].entry].n;
    qsort(x->cites, x->npicked, sizeof *x->cites, extract_cmp_int);
    for (size_t k = 0; k < x->npicked; k++)
        if (n == 0 || x->cites[k] != x->cites[n - 1])
            x->cites[n++] = x->cites[k];
    return n;
}

static void extract_release(extract_work *x)
{
    for (size_t k = 0; x->picked && k < x->npicked; k++)
        free(x->picked[k].h);
    free(x->picked);
    free(x->pick);
    free(x->query.h);
    free(x->sent);
    free(x->stamp);
    free(x->df);
    free(x->hit);
    free(x->order);
    free(x->cites);
}

/* Split, score and rank every sentence of x->c against x->query. */
static int extract_rank(extract_work *x)
{
    for (size_t e = 0; e < x->c->n; e++)
        if (extract_split(x, e) != 0)
            return -1;
    if (!(x->stamp = calloc(x->query.n, sizeof *x->stamp)) || !(x->df = calloc(x->query.n, sizeof *x->df))
        || !(x->hit = calloc(x->query.n, sizeof *x->hit))
        || !(x->order = calloc(x->nsent + 1, sizeof *x->order)))
        return -1;
    extract_score(x);
    for (size_t i = 0; i < x->nsent; i++)
        if (x->sent[i].score > 0)
            x->order[x->ncand++] = (extract_cand){x->sent[i].score, i};
    qsort(x->order, x->ncand, sizeof *x->order, extract_cmp_cand);
    return 0;
}

int extract_answer(const char *query, const ctx *c, size_t max_sentences,
                   char **answer, int **citations, size_t *ncitations)
{
    extract_work x = {0};

    x.c = c;
    *answer = NULL;
    *citations = NULL;
    *ncitations = 0;
    if (extract_words(query, strlen(query), 1, &x.query) != 0)
        goto fail;
    if (x.query.n > 0 && max_sentences > 0) {
        if (extract_rank(&x) != 0 || extract_pick(&x, max_sentences) != 0)
            goto fail;
    }
    if (!(*answer = extract_compose(&x)) || !(x.cites = malloc((x.npicked + 1) * sizeof *x.cites)))
        goto fail;
    *ncitations = extract_citations(&x);
    if (*ncitations > 0) {
        *citations = x.cites;
        x.cites = NULL;
    }
    extract_release(&x);
    return 0;
fail:
    free(*answer);
    *answer = NULL;
    *ncitations = 0;
    extract_release(&x);
    return -1;
}
