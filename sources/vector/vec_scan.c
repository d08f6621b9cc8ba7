/*
 * vec_scan -- exact and int8 top-k scans over in-memory rows, and the
 * re-rank that makes the int8 scan's answer exact for its candidates
 * (vec_scan.h).
 */
#include <assert.h>
#include <stdlib.h>

#include "vec_quant.h"
#include "vec_scan.h"

/* Whether a is worse than b: a lower score, or the same score at a later
 * row (so that ties do not depend on the order of offers). */
static int vec_scan_worse(const vec_cand *a, const vec_cand *b)
{
    if (a->score != b->score)
        return a->score < b->score;
    if (a->seg != b->seg)
        return a->seg > b->seg;
    return a->row > b->row;
}

static void vec_scan_swap(vec_cand *a, vec_cand *b)
{
    vec_cand t = *a;
    *a = *b;
    *b = t;
}

/* Restore the min-heap h[0..n) below i. */
static void vec_scan_sift_down(vec_cand *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && vec_scan_worse(&h[l], &h[m]))
            m = l;
        if (r < n && vec_scan_worse(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        vec_scan_swap(&h[i], &h[m]);
        i = m;
    }
}

size_t vec_scan_offer(vec_cand *h, size_t n, size_t cap, vec_cand c)
{
    size_t i = n;

    if (n == cap) {
        if (!vec_scan_worse(&h[0], &c))
            return n;
        h[0] = c;
        vec_scan_sift_down(h, n, 0);
        return n;
    }
    h[i] = c;
    while (i > 0 && vec_scan_worse(&h[i], &h[(i - 1) / 2])) {
        vec_scan_swap(&h[i], &h[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    return n + 1;
}

void vec_scan_sort(vec_cand *h, size_t n)
{
    /* Moving the worst to the end each time leaves h best first. */
    for (size_t i = n; i > 1; i--) {
        vec_scan_swap(&h[0], &h[i - 1]);
        vec_scan_sift_down(h, i - 1, 0);
    }
}

size_t vec_scan_cut(const vec_rows *segs, size_t nseg, size_t at)
{
    for (size_t i = 0; i < nseg; i++) {
        const vec_rows *g = &segs[i];
        if (at >= g->base + g->n)
            continue;
        if (at <= g->base)
            return g->base;
        for (size_t r = at - g->base; r < g->n; r++)
            if (g->doc[r] != g->doc[r - 1])
                return g->base + r;
        return g->base + g->n;
    }
    return nseg ? segs[nseg - 1].base + segs[nseg - 1].n : 0;
}

/* Whether the scan skips row r of g: tombstoned or filtered out. */
static int vec_scan_skip(const vec_rows *g, size_t r)
{
    size_t bit = g->base + r;

    return (g->dead && (g->dead[bit / 8] >> (bit % 8) & 1)) || (g->keep && !g->keep[g->doc[r]]);
}

/* Where rows [from, to) fall in segment g: rows [*r0, *r1). */
static void vec_scan_clip(const vec_rows *g, size_t from, size_t to, size_t *r0, size_t *r1)
{
    *r0 = from > g->base ? from - g->base : 0;
    *r1 = to > g->base ? to - g->base : 0;
    if (*r1 > g->n)
        *r1 = g->n;
    if (*r0 > *r1)
        *r0 = *r1;
}

/* Track the run of documents through a segment: note row r's score, and
 * offer the previous document's best row when r begins another.  The
 * caller offers the last one. */
static size_t vec_scan_note(vec_cand *best, const vec_rows *g, uint32_t seg, size_t r,
                            float score, vec_cand *h, size_t n, size_t cap)
{
    if (best->end == 0 || g->doc[r] != g->doc[best->row]) {
        if (best->end)
            n = vec_scan_offer(h, n, cap, *best);
        *best = (vec_cand){score, seg, (uint32_t)r, (uint32_t)r, (uint32_t)r + 1};
        return n;
    }
    if (score > best->score) {
        best->score = score;
        best->row = (uint32_t)r;
    }
    best->end = (uint32_t)r + 1;
    return n;
}

size_t vec_scan_exact(const vec_kernel *k, const vec_rows *segs, size_t nseg, size_t from,
                      size_t to, const float *q, vec_cand *h, size_t n, size_t cap)
{
    for (size_t i = 0; i < nseg; i++) {
        const vec_rows *g = &segs[i];
        vec_cand best = {0};
        size_t r0, r1;

        assert(g->n <= UINT32_MAX - 1);
        vec_scan_clip(g, from, to, &r0, &r1);
        for (size_t r = r0; r < r1; r++)
            if (!vec_scan_skip(g, r))
                n = vec_scan_note(&best, g, (uint32_t)i, r, k->dot(q, g->f + r * g->dims, g->dims),
                                  h, n, cap);
        if (best.end)
            n = vec_scan_offer(h, n, cap, best);
    }
    return n;
}

size_t vec_scan_int8(const vec_kernel *k, const vec_rows *segs, size_t nseg, size_t from,
                     size_t to, const float *q, vec_cand *h, size_t n, size_t cap)
{
    int8_t *qq = nseg ? aligned_alloc(64, (segs[0].dims + 63) / 64 * 64) : NULL;

    if (nseg && !qq)
        return (size_t)-1;
    for (size_t i = 0; i < nseg; i++) {
        const vec_rows *g = &segs[i];
        vec_cand best = {0};
        size_t r0, r1;
        float s;

        vec_scan_clip(g, from, to, &r0, &r1);
        if (r0 == r1)
            continue;
        assert(g->q && g->n <= UINT32_MAX - 1);
        /* The query again for each segment: each has its own scales. */
        s = vec_quant_query(q, g->scale, g->dims, qq);
        for (size_t r = r0; r < r1; r++)
            if (!vec_scan_skip(g, r))
                n = vec_scan_note(&best, g, (uint32_t)i, r,
                                  s * (float)k->dot_i8(qq, g->q + r * g->dims, g->dims), h, n, cap);
        if (best.end)
            n = vec_scan_offer(h, n, cap, best);
    }
    free(qq);
    return n;
}

size_t vec_scan_rerank(const vec_kernel *k, const vec_rows *segs, const float *q,
                       const vec_cand *c, size_t nc, vec_cand *h, size_t n, size_t cap)
{
    for (size_t i = 0; i < nc; i++) {
        const vec_rows *g = &segs[c[i].seg];
        vec_cand best = c[i];

        /* A run holds one document's rows, all live: a changed document's
         * rows die together, and the filter keeps or drops them together. */
        best.score = k->dot(q, g->f + (size_t)c[i].first * g->dims, g->dims);
        best.row = c[i].first;
        for (uint32_t r = c[i].first + 1; r < c[i].end; r++) {
            float score = k->dot(q, g->f + (size_t)r * g->dims, g->dims);
            if (score > best.score) {
                best.score = score;
                best.row = r;
            }
        }
        n = vec_scan_offer(h, n, cap, best);
    }
    return n;
}
