/*
 * kb_topk -- block-max MaxScore top-k over a kb index snapshot (see
 * kb_topk.h).
 *
 * Every score is computed as fts5_aux.c computes bm25(): the same
 * statistics (kb_index keeps them exact), the same expression, and the
 * phrases summed in the query's order, so a chunk's score here equals its
 * score there to the last bit.  Pruning only ever drops a chunk whose
 * upper bound is below the k-th best document's score (with a margin for
 * the bounds' own rounding), and ties go to the lower chunk id, so the
 * top k are FTS5's.  Each block's bound is its highest BM25 frequency
 * factor (kb_index_int.h) times the IDF of the moment, scaled up when
 * avgdl has grown since the block was built, so bounds stay valid however
 * the statistics move.
 *
 * The rows are walked in windows of KB_TOPK_WINDOW rows (Lucene's
 * MaxScoreBulkScorer): in a window every term is bounded by the highest
 * of its blocks there, or by 0 when it has no row there; the terms whose
 * bounds together stay below the k-th best score are "non-essential" and
 * only score the rows the others bring, and a window whose bounds all
 * together stay below it is skipped without decoding a block.  The
 * essential terms are walked term by term into a dense sum per row of
 * the window (cheaper than merging their cursors row by row, which is
 * where long queries of many middling terms spent their time); the sum
 * is only a bound, the exact score of a row that survives the
 * non-essential terms' probes is summed again in the query's order.
 *
 * A split walk (kb_topk_split) cuts each segment's rows into nparts
 * ranges (with adapt, the ways split_ways allows then), one walk each
 * with its own top k, buffers and filter verdicts, all reading the same
 * snapshot.  A range's k-th best score is a score k
 * distinct documents of the whole reach or beat, so every range prunes by
 * the highest any range has reached (shared, an atomic): a row below it
 * cannot be in the final top k, and a row equal to it is kept, as the
 * unsplit walk keeps it, for the chunk ids to decide.  A document whose
 * chunks fall in several ranges is scored in each; its best chunk is in
 * its range's top k whenever it is in the final one (the documents that
 * beat it there beat it overall), so the merge -- each document's best
 * entry, then the k best -- is the unsplit walk's answer.
 */
#include "kb_topk.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_index_int.h"
#include "kb_match.h"
#include "split.h"

/* A bound times this must still be below the threshold for a chunk to be
 * skipped: bounds are sums in another order than the scores, and may
 * round up to a few units in the last place differently. */
#define KB_TOPK_MARGIN (1.0 + 1e-9)

/* Rows per window: a multiple of 64 (the bitmap's words). */
#define KB_TOPK_WINDOW 4096

/* Row lengths (in tokens) below this have their BM25 length norm kept in a
 * table per walk, computed at the first row of that length; longer rows,
 * rare, compute it each time. */
#define KB_TOPK_NORMS 4096

/* A candidate notes its phrases in a 64-bit set. */
_Static_assert(KB_MATCH_MAX_WORDS <= 64, "a phrase set is a uint64_t");

/* A query phrase: its one token (owned) and its IDF over the snapshot. */
typedef struct kb_topk_phrase {
    char *tok;
    size_t len;
    double idf;
} kb_topk_phrase;

/* A term's postings in one segment as a search walks them: block b, and
 * when decoded (n > 0) its rows from position i on, i the first row >=
 * min (the row the cursor was last moved to).  Blocks are decoded only
 * when a row is needed: skipping by bounds uses the block table alone;
 * and a block's counts (n0, n1; counted) only when one of its rows is
 * scored: probing for a row needs the rows alone.  bub bounds the score
 * of any row in block b. */
typedef struct kb_topk_cur {
    const kb_index_term *t;
    int ph;
    double scale; /* the IDF, and the growth of avgdl since the segment was built */
    double ub, bub;
    uint32_t b, n, i, min;
    int counted;
    uint32_t rows[KB_INDEX_BLOCK], n0[KB_INDEX_BLOCK], n1[KB_INDEX_BLOCK];
    /* An essential cursor's rows in the window and their scores
     * (KB_TOPK_WINDOW each, in kb_topk's wbuf), wn of them; wpos: the
     * first not below the candidate being scored. */
    uint32_t *wrow;
    double *wsc;
    uint32_t wn, wpos;
} kb_topk_cur;

/* A kept document: its best chunk so far. */
typedef struct kb_topk_ent {
    double score;
    int64_t chunk;
    uint32_t part, doc;
} kb_topk_ent;

/* One walk: the whole search, or one range of a split one.  The phrases
 * belong to the search; everything from ents on belongs to the walk. */
typedef struct kb_topk {
    const kb_index *ix;
    double avgdl;
    kb_topk_phrase ph[KB_MATCH_MAX_WORDS];
    int nph;
    kb_topk_ent *ents;
    size_t k, n, worst;
    double theta;           /* the k-th best score (or shared's); -inf until k are kept */
    kb_topk_keep_fn keep;
    void *arg;
    unsigned char *verdict; /* per document of the current part: 0 unknown, 1 keep, 2 drop */
    int failed;
    /* Query splitting. */
    int ntok;
    /* The window's sums of essential scores and which of its rows have
     * one (KB_TOPK_WINDOW each); both all zero between windows. */
    double *acc;
    uint64_t bits[KB_TOPK_WINDOW / 64];
    double *top; /* the first non-essential term's scores in the window; all zero between */
    double *norm; /* KB_TOPK_NORMS length norms (kb_index_norm), 0 until computed */
    void *wbuf; /* the cursors' wrow and wsc */
    kb_topk_cur *curs; /* nph */
    /* A split walk: range slice of nslices of each segment's rows, of
     * which rows below hi are the current segment's; the highest k-th
     * best score of every range (NULL unsplit); the lock around keep. */
    unsigned slice, nslices;
    uint32_t hi;
    _Atomic double *shared;
    pthread_mutex_t *keep_mu;
    int64_t cost; /* the phrases' rows, summed */
    int rc;       /* a split walk's result */
} kb_topk;

/* ------------------------------------------------------------ phrases -- */

static int kb_topk_on_token(void *arg, const char *tok, size_t len, int column)
{
    kb_topk *q = arg;
    kb_topk_phrase *p = &q->ph[q->nph];

    (void)column;
    if (q->ntok++ == 0) {
        if (!(p->tok = malloc(len + 1)))
            return q->failed = 1;
        memcpy(p->tok, tok, len);
        p->tok[len] = '\0';
        p->len = len;
    }
    return 0;
}

/* Split match into phrases of one token each.  0, KB_TOPK_FALLBACK, or -1
 * (store error or out of memory). */
static int kb_topk_phrases(kb_topk *q, store *db, const char *match)
{
    const char *p = match;

    while ((p = strchr(p, '"'))) {
        const char *end = strchr(++p, '"');
        if (!end || q->nph == KB_MATCH_MAX_WORDS)
            return KB_TOPK_FALLBACK;
        q->ntok = 0;
        if (store_kb_tokenize(db, p, (size_t)(end - p), kb_topk_on_token, q) != 0 || q->failed)
            return -1;
        if (q->ntok != 1) {
            free(q->ph[q->nph].tok);
            q->ph[q->nph].tok = NULL;
            return KB_TOPK_FALLBACK;
        }
        q->nph++;
        p = end + 1;
    }
    return 0;
}

/* Each phrase's IDF: its rows over every part, net of tombstones. */
static void kb_topk_idf(kb_topk *q)
{
    for (int i = 0; i < q->nph; i++) {
        int64_t df = 0;
        for (size_t j = 0; j < q->ix->nparts; j++) {
            const kb_index_part *p = &q->ix->parts[j];
            int64_t t = kb_index_term_find(p->seg, q->ph[i].tok, q->ph[i].len);
            if (t >= 0)
                df += p->seg->terms[t].df - (p->ddf ? p->ddf[t] : 0);
        }
        q->cost += df;
        q->ph[i].idf = kb_index_idf(q->ix->nrows, df);
    }
}

/* ----------------------------------------------------------- results -- */

/* Whether a is better than b: higher score, then lower chunk id. */
static int kb_topk_better(double sa, int64_t ca, const kb_topk_ent *b)
{
    return sa > b->score || (sa == b->score && ca < b->chunk);
}

/* Publish q's theta to the other ranges, and take theirs when higher. */
static void kb_topk_share(kb_topk *q)
{
    double s = atomic_load_explicit(q->shared, memory_order_relaxed);

    while (q->theta > s && !atomic_compare_exchange_weak_explicit(
                               q->shared, &s, q->theta, memory_order_relaxed, memory_order_relaxed))
        ;
    if (s > q->theta)
        q->theta = s;
}

static void kb_topk_find_worst(kb_topk *q)
{
    q->worst = 0;
    for (size_t i = 1; i < q->n; i++)
        if (kb_topk_better(q->ents[q->worst].score, q->ents[q->worst].chunk, &q->ents[i]))
            q->worst = i;
    q->theta = q->n == q->k ? q->ents[q->worst].score : -INFINITY;
    if (q->shared)
        kb_topk_share(q);
}

/* Whether the filter keeps document d of part pi. */
static int kb_topk_keeps(kb_topk *q, uint32_t pi, uint32_t d)
{
    int v;

    if (!q->keep)
        return 1;
    if (q->verdict[d])
        return q->verdict[d] == 1;
    if (q->keep_mu)
        pthread_mutex_lock(q->keep_mu);
    v = q->keep(q->arg, q->ix->parts[pi].seg->docs[d]);
    if (q->keep_mu)
        pthread_mutex_unlock(q->keep_mu);
    if (v < 0) {
        q->failed = 1;
        return 0;
    }
    q->verdict[d] = v ? 1 : 2;
    return v;
}

/* Offer chunk of document d of part pi with score s. */
static void kb_topk_offer(kb_topk *q, uint32_t pi, uint32_t d, int64_t chunk, double s)
{
    kb_topk_ent *e = NULL;

    for (size_t i = 0; i < q->n; i++)
        if (q->ents[i].part == pi && q->ents[i].doc == d) {
            if (!kb_topk_better(s, chunk, &q->ents[i]))
                return;
            e = &q->ents[i];
            break;
        }
    if (!e) {
        if (q->n == q->k && !kb_topk_better(s, chunk, &q->ents[q->worst]))
            return;
        if (!kb_topk_keeps(q, pi, d))
            return;
        e = q->n < q->k ? &q->ents[q->n++] : &q->ents[q->worst];
    }
    e->score = s;
    e->chunk = chunk;
    e->part = pi;
    e->doc = d;
    kb_topk_find_worst(q);
}

static int kb_topk_cmp_ent(const void *a, const void *b)
{
    const kb_topk_ent *x = a, *y = b;

    return kb_topk_better(x->score, x->chunk, y) ? -1 : kb_topk_better(y->score, y->chunk, x);
}

/* ------------------------------------------------------------ cursors -- */

/* The bound of block b of c's term. */
static double kb_topk_block_bound(const kb_topk_cur *c, uint32_t b)
{
    return c->scale * c->t->blocks[b].gmax;
}

/* The bound of c's current block (c not walked out). */
static double kb_topk_cur_bound(const kb_topk_cur *c)
{
    return c->n ? c->bub : kb_topk_block_bound(c, c->b);
}

/* c's current row, decoding its block on first need; UINT32_MAX once it
 * is walked out. */
static uint32_t kb_topk_row(kb_topk_cur *c)
{
    if (c->b >= c->t->nblocks)
        return UINT32_MAX;
    if (!c->n) {
        c->n = kb_index_decode_rows(c->t, c->b, c->rows);
        c->counted = 0;
        c->bub = kb_topk_block_bound(c, c->b);
        /* The block's last row is >= min: the loop ends inside it. */
        for (c->i = 0; c->rows[c->i] < c->min; c->i++)
            ;
    }
    return c->rows[c->i];
}

/* Move c to block b, undecoded. */
static void kb_topk_to_block(kb_topk_cur *c, uint32_t b)
{
    c->b = b;
    c->n = 0;
}

/* Move c to its first row >= target, decoding nothing new. */
static void kb_topk_seek(kb_topk_cur *c, uint32_t target)
{
    uint32_t b = c->b;

    if (target <= c->min)
        return;
    c->min = target;
    while (b < c->t->nblocks && c->t->blocks[b].last < target)
        b++;
    if (b != c->b)
        kb_topk_to_block(c, b);
    else if (c->n)
        while (c->rows[c->i] < target)
            c->i++;
}

static void kb_topk_next(kb_topk_cur *c)
{
    c->min = c->rows[c->i] + 1;
    if (++c->i == c->n)
        kb_topk_to_block(c, c->b + 1);
}

/* Decode the counts of c's current block (decoded) on first need. */
static void kb_topk_count(kb_topk_cur *c)
{
    if (!c->counted) {
        kb_index_decode_counts(c->t, c->b, c->n0, c->n1);
        c->counted = 1;
    }
}

/* c's score in posting i of its block (counted), a row of length len.
 * The length norm is the same for every row of a length, so it comes
 * from q's table: a division saved per posting, and the same double, as
 * kb_index_norm is the very expression kb_index_term_score computes. */
static double kb_topk_score_len(const kb_topk *q, const kb_topk_cur *c, uint32_t i, uint32_t len)
{
    double f = kb_index_freq(q->ix, c->n0[i], c->n1[i]), norm;

    if (len < KB_TOPK_NORMS) {
        if ((norm = q->norm[len]) == 0)
            norm = q->norm[len] = kb_index_norm((double)len, q->avgdl);
    } else {
        norm = kb_index_norm((double)len, q->avgdl);
    }
    return kb_index_term_score_norm(q->ph[c->ph].idf, f, norm);
}

/* c's score in its current row r of segment g. */
static double kb_topk_score(const kb_topk *q, kb_topk_cur *c, const kb_index_seg *g, uint32_t r)
{
    kb_topk_count(c);
    return kb_topk_score_len(q, c, c->i, kb_index_len(g, r));
}

/* --------------------------------------------------------------- part -- */

/* Sort cs[0..nc) by their window bounds, ascending (nc is small). */
static void kb_topk_sort(kb_topk_cur **cs, int nc)
{
    for (int i = 1; i < nc; i++)
        for (int j = i; j > 0 && cs[j - 1]->ub > cs[j]->ub; j--) {
            kb_topk_cur *t = cs[j];
            cs[j] = cs[j - 1];
            cs[j - 1] = t;
        }
}

/* The first essential cursor: those before it together cannot reach
 * theta. */
static int kb_topk_essential(const kb_topk *q, const double *cum, int nc)
{
    int from = 0;

    while (from < nc && cum[from] * KB_TOPK_MARGIN < q->theta)
        from++;
    return from;
}

/* The lowest row c may still hold (c not walked out). */
static uint32_t kb_topk_low(const kb_topk_cur *c)
{
    uint32_t start = c->b ? c->t->blocks[c->b - 1].last + 1 : 0;

    if (c->n)
        return c->rows[c->i];
    return start > c->min ? start : c->min;
}

/* c's bound over rows [w0, w1]: the highest bound of its blocks there,
 * or 0 when it has no row there -- known without decoding for a block
 * that starts after the window, and found by decoding a block much
 * sparser than the window (a rare term's), which is cheap. */
static double kb_topk_window_bound(kb_topk_cur *c, uint32_t w0, uint32_t w1)
{
    const kb_index_block *bl = c->t->blocks;
    uint32_t low, b = c->b;
    double g = 0;

    if (c->b >= c->t->nblocks || (low = kb_topk_low(c)) > w1)
        return 0;
    if (bl[b].last >= w1) {
        if (!c->n && bl[b].last - low > 8 * (uint64_t)(w1 - w0 + 1) && kb_topk_row(c) > w1)
            return 0;
        return kb_topk_cur_bound(c);
    }
    for (; b < c->t->nblocks; b++) {
        if (bl[b].gmax > g)
            g = bl[b].gmax;
        if (bl[b].last >= w1)
            break;
    }
    return c->scale * g;
}

/* The next window: KB_TOPK_WINDOW rows from the lowest row any cursor
 * may still hold, and below hi, each cursor's ub its bound there.
 * Returns 0 when every cursor is walked out or past hi. */
static int kb_topk_window(kb_topk_cur **cs, int nc, uint32_t hi, uint32_t *w0, uint32_t *w1)
{
    *w0 = UINT32_MAX;
    for (int i = 0; i < nc; i++)
        if (cs[i]->b < cs[i]->t->nblocks && kb_topk_low(cs[i]) < *w0)
            *w0 = kb_topk_low(cs[i]);
    if (*w0 >= hi)
        return 0;
    *w1 = *w0 > UINT32_MAX - KB_TOPK_WINDOW ? UINT32_MAX - 1 : *w0 + (KB_TOPK_WINDOW - 1);
    if (*w1 >= hi)
        *w1 = hi - 1;
    for (int i = 0; i < nc; i++)
        cs[i]->ub = kb_topk_window_bound(cs[i], *w0, *w1);
    return 1;
}

/* Walk cursor c over its rows in [w0, w1]: each row's score goes to
 * acc (any order: a bound only), its row to bits unless NULL and, exact,
 * to c's own list (wrow, wsc), for the rows that survive. */
static void kb_topk_gather(const kb_topk *q, kb_topk_cur *c, const kb_index_seg *g, uint32_t w0,
                           uint32_t w1, double *acc, uint64_t *bits)
{
    uint32_t len[KB_INDEX_BLOCK];

    c->wn = c->wpos = 0;
    while (kb_topk_row(c) <= w1) {
        uint32_t i, e = c->i;
        /* The rows' lengths first, in a loop of independent loads: they
         * are scattered over the segment's table, and most miss the
         * cache, so they are better waited for together than one by one
         * behind each score's division. */
        for (; e < c->n && c->rows[e] <= w1; e++)
            len[e] = kb_index_len(g, c->rows[e]);
        kb_topk_count(c);
        for (i = c->i; i < e; i++) {
            uint32_t r = c->rows[i], o = r - w0;
            double s = kb_topk_score_len(q, c, i, len[i]);
            acc[o] += s;
            if (bits)
                bits[o >> 6] |= 1ull << (o & 63);
            c->wrow[c->wn] = r;
            c->wsc[c->wn++] = s;
        }
        c->i = e - 1;
        kb_topk_next(c);
    }
}

/* Row r's exact score, phrase by phrase as fts5_aux.c sums it: the
 * essential cursors' scores from their lists, the others' in contrib
 * (those in set; a phrase missing from r adds 0.0 there, which changes
 * no sum, so it is skipped here). */
static double kb_topk_exact(const kb_topk *q, kb_topk_cur **cs, int nc, int ess, uint32_t r,
                            double *contrib, uint64_t set)
{
    double s = 0.0;

    for (int i = ess; i < nc; i++) {
        kb_topk_cur *c = cs[i];
        while (c->wpos < c->wn && c->wrow[c->wpos] < r)
            c->wpos++;
        if (c->wpos < c->wn && c->wrow[c->wpos] == r) {
            contrib[c->ph] = c->wsc[c->wpos];
            set |= 1ull << c->ph;
        }
    }
    for (int i = 0; i < q->nph; i++)
        if (set >> i & 1)
            s += contrib[i];
    return s;
}

/* Candidate row r of the window, whose essential terms sum to about
 * partial and whose first non-essential term (when ess > 0) scores top
 * there: the other non-essential cursors score it while the bounds
 * allow.  Returns its exact score, or -1 when it cannot reach theta. */
static double kb_topk_candidate(const kb_topk *q, kb_topk_cur **cs, const double *cum, int nc,
                                int ess, const kb_index_seg *g, uint32_t r, double partial,
                                double top)
{
    double contrib[KB_MATCH_MAX_WORDS];
    uint64_t set = 0;

    if (ess > 0) {
        if ((partial + cum[ess - 1]) * KB_TOPK_MARGIN < q->theta)
            return -1;
        if (top > 0) {
            contrib[cs[ess - 1]->ph] = top;
            partial += top;
            set |= 1ull << cs[ess - 1]->ph;
        }
    }
    for (int i = ess - 2; i >= 0; i--) {
        if ((partial + cum[i]) * KB_TOPK_MARGIN < q->theta)
            return -1;
        kb_topk_seek(cs[i], r);
        if (kb_topk_row(cs[i]) == r) {
            contrib[cs[i]->ph] = kb_topk_score(q, cs[i], g, r);
            partial += contrib[cs[i]->ph];
            set |= 1ull << cs[i]->ph;
        }
    }
    if (partial * KB_TOPK_MARGIN < q->theta)
        return -1;
    return kb_topk_exact(q, cs, nc, ess, r, contrib, set);
}

/* Walk part pi with the cursors cs[0..nc), window by window (Lucene's
 * MaxScoreBulkScorer): in each, the terms whose bounds together stay
 * below theta are non-essential; the essential ones are walked term by
 * term into the window's sums, and only the rows whose sum and the
 * others' bounds may reach theta are probed in the others.  The first
 * of the others, probed by nearly every row, is walked too, into its own
 * sums (top): cheaper than a seek a row.  A window whose bounds all
 * together stay below theta is skipped undecoded. */
static void kb_topk_part(kb_topk *q, uint32_t pi, kb_topk_cur **cs, int nc)
{
    const kb_index_part *p = &q->ix->parts[pi];
    double cum[KB_MATCH_MAX_WORDS];
    uint32_t w0, w1;

    while (!q->failed && kb_topk_window(cs, nc, q->hi, &w0, &w1)) {
        int ess;
        if (q->shared)
            kb_topk_share(q);
        kb_topk_sort(cs, nc);
        for (int i = 0; i < nc; i++)
            cum[i] = (i ? cum[i - 1] : 0) + cs[i]->ub;
        ess = kb_topk_essential(q, cum, nc);
        for (int i = ess; i < nc; i++)
            kb_topk_gather(q, cs[i], p->seg, w0, w1, q->acc, q->bits);
        if (ess > 0 && ess < nc)
            kb_topk_gather(q, cs[ess - 1], p->seg, w0, w1, q->top, NULL);
        for (uint32_t w = 0; w < KB_TOPK_WINDOW / 64; w++)
            for (uint64_t m = q->bits[w]; m; m &= m - 1) {
                uint32_t o = w * 64 + (uint32_t)__builtin_ctzll(m), r = w0 + o;
                double s, partial = q->acc[o];
                q->acc[o] = 0;
                if (q->failed || kb_index_is_dead(p, r) ||
                    (s = kb_topk_candidate(q, cs, cum, nc, ess, p->seg, r, partial,
                                           q->top[o])) < 0)
                    continue;
                kb_topk_offer(q, pi, p->seg->doc[r], p->seg->chunk[r], s);
            }
        memset(q->bits, 0, sizeof q->bits);
        if (ess > 0 && ess < nc)
            for (uint32_t i = 0; i < cs[ess - 1]->wn; i++)
                q->top[cs[ess - 1]->wrow[i] - w0] = 0;
        if (w1 == UINT32_MAX - 1)
            break;
        for (int i = 0; i < nc; i++)
            kb_topk_seek(cs[i], w1 + 1);
    }
}

/* Search part pi (q's range of its rows): a cursor per phrase whose term
 * it holds. */
static int kb_topk_search_part(kb_topk *q, uint32_t pi)
{
    const kb_index_part *p = &q->ix->parts[pi];
    kb_topk_cur *cs[KB_MATCH_MAX_WORDS];
    uint32_t lo = 0;
    int nc = 0;

    q->hi = UINT32_MAX;
    if (q->nslices > 1) {
        lo = (uint32_t)(p->seg->nrows * q->slice / q->nslices);
        if (q->slice + 1 < q->nslices)
            q->hi = (uint32_t)(p->seg->nrows * (q->slice + 1) / q->nslices);
        if (lo >= q->hi)
            return 0;
    }
    for (int i = 0; i < q->nph; i++) {
        int64_t t = kb_index_term_find(p->seg, q->ph[i].tok, q->ph[i].len);
        kb_topk_cur *c = &q->curs[nc];
        if (t < 0 || !p->seg->terms[t].nblocks)
            continue;
        c->t = &p->seg->terms[t];
        c->ph = i;
        c->scale = q->ph[i].idf * (q->avgdl > p->seg->avgdl ? q->avgdl / p->seg->avgdl : 1.0);
        c->min = 0;
        kb_topk_to_block(c, 0);
        kb_topk_seek(c, lo);
        cs[nc++] = c;
    }
    if (!nc)
        return 0;
    if (q->keep) {
        free(q->verdict);
        if (!(q->verdict = calloc(p->seg->ndocs ? p->seg->ndocs : 1, 1)))
            return -1;
    }
    kb_topk_part(q, pi, cs, nc);
    return q->failed ? -1 : 0;
}

/* A walk's top k, cursors and window buffers, for q->nph cursors. */
static int kb_topk_buffers(kb_topk *q)
{
    size_t w = KB_TOPK_WINDOW, n = (size_t)q->nph;
    uint32_t *rows;
    double *scores;

    if (!(q->ents = calloc(q->k, sizeof *q->ents)) || !(q->curs = calloc(n, sizeof *q->curs)) ||
        !(q->acc = calloc(w, sizeof *q->acc)) || !(q->top = calloc(w, sizeof *q->top)) ||
        !(q->norm = calloc(KB_TOPK_NORMS, sizeof *q->norm)) ||
        !(q->wbuf = malloc(n * w * (sizeof *scores + sizeof *rows))))
        return -1;
    scores = q->wbuf;
    rows = (uint32_t *)(scores + n * w);
    for (size_t i = 0; i < n; i++) {
        q->curs[i].wsc = scores + i * w;
        q->curs[i].wrow = rows + i * w;
    }
    return 0;
}

/* Free what kb_topk_buffers and the walk allocated (again: a no-op). */
static void kb_topk_release(kb_topk *q)
{
    free(q->verdict);
    free(q->ents);
    free(q->curs);
    free(q->acc);
    free(q->top);
    free(q->norm);
    free(q->wbuf);
    q->norm = NULL;
    q->verdict = NULL;
    q->ents = NULL;
    q->curs = NULL;
    q->acc = q->top = NULL;
    q->wbuf = NULL;
}

/* Walk q's range of every segment into q's top k.  0, or -1: out of
 * memory, or the filter failed (q->failed). */
static int kb_topk_walk(kb_topk *q)
{
    q->theta = -INFINITY;
    if (kb_topk_buffers(q) != 0)
        return -1;
    for (uint32_t pi = 0; pi < q->ix->nparts; pi++)
        if (kb_topk_search_part(q, pi) != 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------- split -- */

/* A par part: walk range `part`, of the walks at arg, keeping only
 * its top k for the merge, so that ranges waiting for it hold no window
 * buffers. */
static void kb_topk_walk_part(void *arg, unsigned part)
{
    kb_topk *w = (kb_topk *)arg + part;
    kb_topk_ent *ents;

    w->rc = kb_topk_walk(w);
    ents = w->ents;
    w->ents = NULL;
    kb_topk_release(w);
    w->ents = ents;
}

/* Order by document, each one's best entry first. */
static int kb_topk_cmp_doc(const void *a, const void *b)
{
    const kb_topk_ent *x = a, *y = b;

    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    return kb_topk_better(x->score, x->chunk, y) ? -1 : kb_topk_better(y->score, y->chunk, x);
}

/* Walk q's search in nw ranges, on split->par's threads and this one, and
 * merge their top k into q's.  0, or -1 as kb_topk_walk (q->failed set
 * when a range's filter failed). */
static int kb_topk_split_walk(kb_topk *q, const kb_topk_split *split, unsigned nw)
{
    _Atomic double shared = -INFINITY;
    pthread_mutex_t mu;
    kb_topk *ws = calloc(nw, sizeof *ws);
    kb_topk_ent *all = NULL;
    size_t n = 0, m = 0;
    int rc = -1;

    if (!ws || pthread_mutex_init(&mu, NULL) != 0) {
        free(ws);
        return -1;
    }
    if (split->nsplit)
        atomic_fetch_add_explicit(split->nsplit, 1, memory_order_relaxed);
    for (unsigned i = 0; i < nw; i++) {
        ws[i] = *q;
        ws[i].slice = i;
        ws[i].nslices = nw;
        ws[i].shared = &shared;
        ws[i].keep_mu = q->keep ? &mu : NULL;
    }
    par_run(split->par, kb_topk_walk_part, ws, nw);
    for (unsigned i = 0; i < nw; i++) {
        q->failed |= ws[i].failed;
        if (ws[i].rc != 0)
            goto done;
        n += ws[i].n;
    }
    if (!(q->ents = calloc(q->k, sizeof *q->ents)) || !(all = malloc((n ? n : 1) * sizeof *all)))
        goto done;
    for (unsigned i = 0; i < nw; i++)
        for (size_t j = 0; j < ws[i].n; j++)
            all[m++] = ws[i].ents[j];
    qsort(all, n, sizeof *all, kb_topk_cmp_doc);
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || all[i].part != all[m - 1].part || all[i].doc != all[m - 1].doc)
            all[m++] = all[i];
    qsort(all, m, sizeof *all, kb_topk_cmp_ent);
    q->n = m < q->k ? m : q->k;
    memcpy(q->ents, all, q->n * sizeof *all);
    rc = 0;
done:
    for (unsigned i = 0; i < nw; i++)
        kb_topk_release(&ws[i]);
    pthread_mutex_destroy(&mu);
    free(all);
    free(ws);
    return rc;
}

int kb_topk_search(const kb_index *ix, store *db, const char *match, size_t k,
                   kb_topk_keep_fn keep, void *arg, const kb_topk_split *split,
                   kb_topk_hit *hits, size_t *nhits, char *err, size_t errlen)
{
    kb_topk *q = calloc(1, sizeof *q);
    unsigned ways;
    int rc = -1;

    *nhits = 0;
    assert(k > 0);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    q->ix = ix;
    q->k = k;
    q->keep = keep;
    q->arg = arg;
    if ((rc = kb_topk_phrases(q, db, match)) != 0) {
        if (rc < 0)
            snprintf(err, errlen, "%s", q->failed ? "out of memory" : store_errmsg(db));
        goto done;
    }
    if (!q->nph || ix->nrows <= 0)
        goto done;
    q->avgdl = (double)ix->ntokens / (double)ix->nrows;
    kb_topk_idf(q);
    if (split && split->par && split->nparts > 1 && q->cost >= split->min_cost &&
        (ways = split->adapt ? split_ways(split->par, split->nparts) : split->nparts) > 1)
        rc = kb_topk_split_walk(q, split, ways);
    else
        rc = kb_topk_walk(q);
    if (rc != 0) {
        snprintf(err, errlen, "%s", q->failed ? "the metadata filter failed" : "out of memory");
        goto done;
    }
    qsort(q->ents, q->n, sizeof *q->ents, kb_topk_cmp_ent);
    for (size_t i = 0; i < q->n; i++) {
        hits[i].chunk_id = q->ents[i].chunk;
        hits[i].score = q->ents[i].score;
        hits[i].doc_id = ix->parts[q->ents[i].part].seg->docs[q->ents[i].doc];
    }
    *nhits = q->n;
done:
    for (int i = 0; i < KB_MATCH_MAX_WORDS; i++)
        free(q->ph[i].tok);
    kb_topk_release(q);
    free(q);
    return rc;
}
