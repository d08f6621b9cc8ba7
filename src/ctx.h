/*
 * ctx -- the numbered context that answer generation works from.
 *
 * Takes the fused contexts of a search in fused order and decides which
 * passages are sent (near-duplicates are not sent twice; a token budget
 * bounds the total) and how they are numbered and laid out for an LLM
 * prompt.  The extractive generator reads the same kept entries.  Pure: no
 * I/O, no loop.  Not for retrieval, fusion or talking to the LLM.
 */
#ifndef RAGD_CTX_H
#define RAGD_CTX_H

#include <stddef.h>

/* One fused context, borrowed from the caller for the life of the ctx. */
typedef struct ctx_source {
    int rank;                   /* 1-based rank in the /search response */
    const char *source, *id, *title, *url, *text; /* title/url may be NULL or "" */
} ctx_source;

typedef struct ctx_entry {
    int n;                      /* citation number == the source's rank */
    const ctx_source *src;
    char *text;                 /* owned: the passage as sent, possibly cut */
} ctx_entry;

typedef struct ctx {
    ctx_entry *v;
    size_t n;                   /* kept entries, in rank order */
    size_t tokens;              /* approximate tokens used (headers included) */
    size_t dropped_duplicates;  /* near-duplicates skipped */
    size_t dropped_budget;      /* passages left out (or cut) for the budget */
} ctx;

/* Approximate number of LLM tokens in s[0..len) (UTF-8, need not be
 * NUL-terminated).
 *
 * BPE tokenizers (GPT, Llama) spend about 4 characters or 3/4 of a word of
 * English per token, so the count is
 *     max(ceil(words * 4 / 3), ceil(characters / 4))
 * where characters are UTF-8 code points and words are runs of
 * non-whitespace, except that a CJK character (ideograph, kana, hangul
 * syllable) counts as a word of its own, since those scripts put no spaces
 * between words and tokenizers spend about a token per character on them.
 * A rule of thumb that errs on the high side for English prose, not any
 * particular model's tokenizer: leave the LLM some headroom.  Returns 0 for
 * empty text. */
size_t ctx_count_tokens(const char *s, size_t len);

/* Choose and number the passages of src[0..n) (fused order, borrowed: c
 * keeps pointers into src until ctx_release) for a budget of budget_tokens
 * tokens as ctx_count_tokens counts them.
 *
 * Each kept entry is numbered with its source's rank, so [n] always names
 * contexts[n-1] of the response, and a skipped passage leaves a gap.
 *
 * Near-duplicates: a passage's shingles are its runs of 3 consecutive words
 * (words are runs of ASCII letters and digits and of bytes >= 0x80, ASCII
 * lowercased; a passage of fewer than 3 words is one shingle).  A passage
 * is skipped, and counted in dropped_duplicates, when for some kept passage
 * K the Jaccard similarity of their shingle sets is >= 0.8, or >= 90% of
 * its own shingles are in K's (it is contained in K).  A passage without
 * words is a duplicate only of a byte-identical one.
 *
 * Budget: passages are taken in rank order while header line plus text fit
 * in what is left.  The first that does not fit whole is cut after the last
 * sentence end that fits (". ", "? ", "! ", a CJK full stop, question or
 * exclamation mark, or a line end), so the cut never falls inside a word or
 * a UTF-8 character; when not even its first sentence fits it is left out.
 * Either way that passage and every later one count in dropped_budget
 * (duplicates or not), and no more are taken.  budget_tokens 0 means no
 * context at all.  A NULL text counts as empty.
 *
 * Returns 0, or -1 on ENOMEM.  Either way c is fully initialised (empty on
 * -1) and must be given to ctx_release. */
int ctx_build(ctx *c, const ctx_source *src, size_t n, size_t budget_tokens);

/* The prompt block for c: for each entry, in order,
 *     [n] TITLE (source: SOURCE, URL)
 *     TEXT
 * separated by a blank line.  ", URL" is left out when the url is NULL or
 * empty, and the id stands in for an empty title.  Line breaks and tabs
 * inside title, id, source and url become spaces so the header stays one
 * line.  Returns a malloc'd string the caller frees ("" when c has no
 * entries), or NULL on ENOMEM. */
char *ctx_render(const ctx *c);

/* Free what c owns and leave it empty.  c itself is not freed. */
void ctx_release(ctx *c);

#endif /* RAGD_CTX_H */
