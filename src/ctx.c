/*
 * ctx -- choosing, numbering and laying out the passages sent to the
 * generator.
 *
 * Near-duplicate detection hashes word 3-shingles into sorted sets and
 * compares them by merging, so it needs no hash table and costs
 * O(words log words) per passage plus O(words) per kept passage.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctx.h"
#include "hash.h"
#include "utf8.h"

/* ------------------------------------------------------------ small tools */

/* The most bytes a header or passage takes per token ctx_count_tokens
 * charges for it: a token is charged for every 4 characters or fewer
 * (ceil(characters / 4) <= tokens), and a character is at most 4 bytes
 * (utf8_next never takes more, an invalid byte is 1), so bytes <= 16 *
 * tokens.  What ctx_render writes was all counted against the budget, so
 * this bounds the rendered context by the budget. */
#define CTX_BYTES_PER_TOKEN 16

/* A growing string with a ceiling (buf.h); a failed put -- out of memory,
 * or past max, which the ceilings below make impossible for the output
 * they bound -- sets failed and later puts do nothing, so callers check
 * once at the end. */
typedef struct ctx_buf {
    buf b;
    size_t max;
    int failed;
} ctx_buf;

static void ctx_put(ctx_buf *b, const char *s, size_t n)
{
    if (!b->failed && buf_add(&b->b, s, n, b->max) != 0)
        b->failed = 1;
}

static void ctx_puts(ctx_buf *b, const char *s)
{
    ctx_put(b, s, strlen(s));
}

/* s with line breaks and tabs as spaces, so a header stays on one line. */
static void ctx_put_flat(ctx_buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        size_t run = strcspn(p, "\r\n\t");
        ctx_put(b, p, run);
        if (!p[run])
            break;
        ctx_put(b, " ", 1);
        p += run;
    }
}

/* The buffer's string handed to the caller, or NULL when anything failed. */
static char *ctx_take_string(ctx_buf *b)
{
    if (!b->failed && !b->b.p)
        ctx_put(b, "", 0);
    if (b->failed) {
        buf_release(&b->b);
        return NULL;
    }
    return b->b.p;
}

static int ctx_nonempty(const char *s)
{
    return s && *s;
}

static int ctx_is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 || cp == 0x3000;
}

/* Ideographs, kana, hangul: scripts written without spaces between words. */
static int ctx_is_cjk(uint32_t cp)
{
    return (cp >= 0x2E80 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x2FFFF);
}

/* ---------------------------------------------------------------- tokens */

/* Running counts for ctx_count_tokens, so a prefix can be extended. */
typedef struct ctx_tally {
    size_t chars, words;
    int in_word;
} ctx_tally;

static void ctx_tally_add(ctx_tally *t, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        /* An invalid byte is one character, U+FFFD: neither a space nor
         * CJK, so it counts like a letter. */
        i += utf8_next(s, len, i, &cp);
        t->chars++;
        if (ctx_is_space(cp)) {
            t->in_word = 0;
        } else if (ctx_is_cjk(cp)) {
            t->words++;
            t->in_word = 0;
        } else if (!t->in_word) {
            t->words++;
            t->in_word = 1;
        }
    }
}

static size_t ctx_tally_tokens(const ctx_tally *t)
{
    size_t by_words = (t->words * 4 + 2) / 3, by_chars = (t->chars + 3) / 4;

    return by_words > by_chars ? by_words : by_chars;
}

size_t ctx_count_tokens(const char *s, size_t len)
{
    ctx_tally t = {0, 0, 0};

    ctx_tally_add(&t, s, len);
    return ctx_tally_tokens(&t);
}

/* ------------------------------------------------------------- shingles */

typedef struct ctx_set {
    uint64_t *h;                /* sorted, distinct */
    size_t n;
} ctx_set;

/* splitmix64's finaliser: spreads a word hash before it is combined. */
static uint64_t ctx_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int ctx_is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* FNV-1a hashes of the lowercased words of s into w; returns the count.
 * w has room for (strlen(s) + 1) / 2 words, the most s can hold. */
static size_t ctx_word_hashes(const char *s, uint64_t *w)
{
    size_t n = 0;

    for (const char *p = s; *p;) {
        size_t len = 0;
        if (!ctx_is_word_byte((unsigned char)*p)) {
            p++;
            continue;
        }
        while (ctx_is_word_byte((unsigned char)p[len]))
            len++;
        w[n++] = hash_fnv1a_lower(p, len);
        p += len;
    }
    return n;
}

static int ctx_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* The shingle set of s.  Returns 0, or -1 on ENOMEM. */
static int ctx_shingles(const char *s, ctx_set *set)
{
    size_t nw, k = 0;
    uint64_t *h = malloc(((strlen(s) + 1) / 2 + 1) * sizeof *h);

    set->h = h;
    set->n = 0;
    if (!h)
        return -1;
    nw = ctx_word_hashes(s, h);
    /* Shingles start at words 0..nw-3, or only at word 0 when there are 1
     * or 2 words.  In place: shingle i reads words i..i+2 before anything
     * overwrites them. */
    for (size_t i = 0; i + 3 <= nw || (i == 0 && nw > 0); i++) {
        uint64_t x = ctx_mix(h[i]);
        for (size_t j = i + 1; j < i + 3 && j < nw; j++)
            x = ctx_mix(x + h[j]);
        h[k++] = x;
    }
    qsort(h, k, sizeof *h, ctx_u64_cmp);
    for (size_t i = 0; i < k; i++)
        if (set->n == 0 || h[i] != h[set->n - 1])
            h[set->n++] = h[i];
    return 0;
}

static size_t ctx_common(const ctx_set *a, const ctx_set *b)
{
    size_t i = 0, j = 0, n = 0;

    while (i < a->n && j < b->n) {
        if (a->h[i] == b->h[j]) {
            n++;
            i++;
            j++;
        } else if (a->h[i] < b->h[j]) {
            i++;
        } else {
            j++;
        }
    }
    return n;
}

/* Whether a passage (set s, text) repeats one of the kept ones (sets[i]
 * belongs to c->v[i]); the thresholds are in context.h. */
static int ctx_is_duplicate(const ctx_set *s, const char *text, const ctx *c, const ctx_set *sets)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *kept = c->v[i].src->text ? c->v[i].src->text : "";
        size_t common, uni;
        if (s->n == 0 || sets[i].n == 0) {
            if (s->n == sets[i].n && strcmp(text, kept) == 0)
                return 1;
            continue;
        }
        common = ctx_common(s, &sets[i]);
        uni = s->n + sets[i].n - common;
        if (5 * common >= 4 * uni || 10 * common >= 9 * s->n)
            return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- budget */

/* What a header names a passage by: its title, else its id. */
static const char *ctx_label(const ctx_source *s)
{
    return ctx_nonempty(s->title) ? s->title : s->id ? s->id : "";
}

/* The most bytes s's header line can take: its fixed text ("[n]", " ",
 * " (source: ", ", ", ")": 27 bytes at most, with an int's 11 characters)
 * and its label, source and url, whose line breaks and tabs become spaces
 * byte for byte.  Sources bound those strings; this only keeps a header
 * from growing past what they hold. */
static size_t ctx_header_max(const ctx_source *s)
{
    return 32 + strlen(ctx_label(s)) + (s->source ? strlen(s->source) : 0)
        + (s->url ? strlen(s->url) : 0);
}

static void ctx_put_header(ctx_buf *b, int n, const ctx_source *s)
{
    const char *label = ctx_label(s);
    char num[32];

    snprintf(num, sizeof num, "[%d]", n);
    ctx_puts(b, num);
    if (*label) {
        ctx_put(b, " ", 1);
        ctx_put_flat(b, label);
    }
    if (ctx_nonempty(s->source)) {
        ctx_puts(b, " (source: ");
        ctx_put_flat(b, s->source);
        if (ctx_nonempty(s->url)) {
            ctx_puts(b, ", ");
            ctx_put_flat(b, s->url);
        }
        ctx_puts(b, ")");
    } else if (ctx_nonempty(s->url)) {
        ctx_puts(b, " (");
        ctx_put_flat(b, s->url);
        ctx_puts(b, ")");
    }
}

/* Where a sentence ending at s[i] stops (the prefix s[0..end) holds it), or
 * 0 when no sentence ends at i. */
static size_t ctx_sentence_end(const char *s, size_t len, size_t i)
{
    static const char *const cjk_ends[] = {"\xE3\x80\x82", "\xEF\xBC\x81", "\xEF\xBC\x9F"};

    if (s[i] == '\n') {
        while (i > 0 && strchr(" \t\r", s[i - 1]))
            i--;
        return i;
    }
    if (strchr(".?!", s[i]) && i + 1 < len && strchr(" \t\r\n", s[i + 1]))
        return i + 1;
    for (size_t k = 0; k < sizeof cjk_ends / sizeof cjk_ends[0]; k++)
        if (len - i >= 3 && memcmp(s + i, cjk_ends[k], 3) == 0)
            return i + 3;
    return 0;
}

/* The length of the longest prefix of text[0..len) that ends a sentence and
 * costs at most avail tokens (its cost in *tokens), or 0 when none does.
 * Token counts only grow with the prefix, so the scan stops at the first
 * sentence that does not fit. */
static size_t ctx_cut(const char *text, size_t len, size_t avail, size_t *tokens)
{
    ctx_tally t = {0, 0, 0};
    size_t done = 0, best = 0;

    *tokens = 0;
    for (size_t i = 0; i < len; i++) {
        size_t end = ctx_sentence_end(text, len, i);
        if (end <= done)
            continue;
        ctx_tally_add(&t, text + done, end - done);
        done = end;
        if (ctx_tally_tokens(&t) > avail)
            break;
        best = end;
        *tokens = ctx_tally_tokens(&t);
    }
    return best;
}

/* Add src as c's next entry if it fits in avail tokens, whole or cut.
 * Returns 1 when it was added whole, 0 when it was cut or left out (no
 * more entries are wanted), -1 on ENOMEM. */
static int ctx_add(ctx *c, const ctx_source *src, size_t avail)
{
    const char *text = src->text ? src->text : "";
    size_t len = strlen(text), cost, keep = len, used;
    ctx_buf head = {.max = ctx_header_max(src)};
    ctx_entry *e = &c->v[c->n];
    int whole = 1;

    ctx_put_header(&head, src->rank, src);
    if (head.failed) {
        buf_release(&head.b);
        return -1;
    }
    cost = ctx_count_tokens(head.b.p, head.b.len);
    buf_release(&head.b);
    if (cost > avail)
        return 0;
    used = ctx_count_tokens(text, len);
    if (cost + used > avail) {
        whole = 0;
        if ((keep = ctx_cut(text, len, avail - cost, &used)) == 0)
            return 0;
    }
    if (!(e->text = strndup(text, keep)))
        return -1;
    e->n = src->rank;
    e->src = src;
    c->n++;
    c->tokens += cost + used;
    return whole;
}

/* ----------------------------------------------------------------- public */

int ctx_build(ctx *c, const ctx_source *src, size_t n, size_t budget_tokens)
{
    ctx_set *sets = NULL;

    memset(c, 0, sizeof *c);
    if (n == 0)
        return 0;
    if (!(c->v = calloc(n, sizeof *c->v)) || !(sets = calloc(n, sizeof *sets)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *text = src[i].text ? src[i].text : "";
        size_t before = c->n;
        ctx_set s;
        int whole;
        if (ctx_shingles(text, &s) != 0)
            goto fail;
        if (ctx_is_duplicate(&s, text, c, sets)) {
            free(s.h);
            c->dropped_duplicates++;
            continue;
        }
        whole = ctx_add(c, &src[i], budget_tokens - c->tokens);
        if (c->n > before)
            sets[before] = s;
        else
            free(s.h);
        if (whole < 0)
            goto fail;
        if (whole == 0) {
            c->dropped_budget = n - i;
            break;
        }
    }
    for (size_t i = 0; i < c->n; i++)
        free(sets[i].h);
    free(sets);
    return 0;
fail:
    for (size_t i = 0; sets && i < c->n; i++)
        free(sets[i].h);
    free(sets);
    ctx_release(c);
    return -1;
}

/* The ceiling of ctx_render's output: every header and text it writes
 * was counted in c->tokens (at most the budget), so they take at most
 * CTX_BYTES_PER_TOKEN bytes per token, plus 3 bytes of line breaks per
 * entry.  More would mean a broken count: refused, not grown into. */
static size_t ctx_render_max(const ctx *c)
{
    size_t breaks = 3 * c->n;

    if (c->tokens > (SIZE_MAX - breaks) / CTX_BYTES_PER_TOKEN)
        return SIZE_MAX;
    return c->tokens * CTX_BYTES_PER_TOKEN + breaks;
}

char *ctx_render(const ctx *c)
{
    ctx_buf b = {.max = ctx_render_max(c)};

    for (size_t i = 0; i < c->n; i++) {
        if (i > 0)
            ctx_puts(&b, "\n\n");
        ctx_put_header(&b, c->v[i].n, c->v[i].src);
        ctx_put(&b, "\n", 1);
        ctx_puts(&b, c->v[i].text);
    }
    return ctx_take_string(&b);
}

void ctx_release(ctx *c)
{
    for (size_t i = 0; c->v && i < c->n; i++)
        free(c->v[i].text);
    free(c->v);
    memset(c, 0, sizeof *c);
}
