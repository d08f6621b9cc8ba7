/*
 * kb_index -- building and maintaining the kb's in-memory index (see
 * kb_index.h): segments from FTS5's own tokens, snapshots with tombstones
 * and exact statistics, and merges.
 *
 * A whole build reads FTS5's index term by term (store_kb_terms); a
 * refresh tombstones the rows of each changed document and tokenises its
 * current rows with FTS5's tokenizer (store_kb_doc) into a small segment.
 * Each segment keeps, per row, the terms it holds, so a tombstone can
 * lower their document frequencies at once: the statistics every score
 * depends on stay exactly FTS5's between merges.  Not for ranking
 * (kb_topk.c) and not for threads: the kb source decides where this runs.
 */
#include "kb_index_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Merge every segment into one once tombstones pass a quarter of the live
 * rows or the delta segments hold more than a quarter as many rows as the
 * first; merge just the delta segments once there are more than
 * KB_INDEX_MAX_PARTS segments.  Merging costs time proportional to what it
 * merges, so small changes cost little. */
#define KB_INDEX_DEAD_SHARE 4
#define KB_INDEX_MAX_PARTS 8

/* ---------------------------------------------------------------- map -- */

static uint32_t kb_index_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* The key of index i of g's map m. */
static const char *kb_index_key(const kb_index_seg *g, const kb_index_map *m, uint32_t i,
                                size_t *len)
{
    if (m == &g->termmap) {
        *len = g->terms[i].len;
        return g->terms[i].s;
    }
    *len = strlen(g->docs[i]);
    return g->docs[i];
}

/* The slot of key s in m: holding it, or the empty one it would go in. */
static size_t kb_index_probe(const kb_index_seg *g, const kb_index_map *m, const char *s,
                             size_t len)
{
    size_t mask = m->cap - 1, i = kb_index_hash(s, len) & mask;

    for (; m->slot[i]; i = (i + 1) & mask) {
        size_t klen;
        const char *k = kb_index_key(g, m, m->slot[i] - 1, &klen);
        if (klen == len && memcmp(k, s, len) == 0)
            break;
    }
    return i;
}

static int64_t kb_index_map_find(const kb_index_seg *g, const kb_index_map *m, const char *s,
                                 size_t len)
{
    if (!m->cap)
        return -1;
    return (int64_t)m->slot[kb_index_probe(g, m, s, len)] - 1;
}

/* Record index idx (whose key is in g) in m, growing it at half full.
 * Returns 0 or -1 (out of memory). */
static int kb_index_map_add(kb_index_seg *g, kb_index_map *m, uint32_t idx)
{
    size_t len;
    const char *k;

    if ((m->n + 1) * 2 > m->cap) {
        kb_index_map old = *m;
        m->cap = old.cap ? old.cap * 2 : 64;
        if (!(m->slot = calloc(m->cap, sizeof *m->slot))) {
            *m = old;
            return -1;
        }
        for (size_t i = 0; i < old.cap; i++)
            if (old.slot[i]) {
                k = kb_index_key(g, m, old.slot[i] - 1, &len);
                m->slot[kb_index_probe(g, m, k, len)] = old.slot[i];
            }
        free(old.slot);
    }
    k = kb_index_key(g, m, idx, &len);
    m->slot[kb_index_probe(g, m, k, len)] = idx + 1;
    m->n++;
    return 0;
}

int64_t kb_index_term_find(const kb_index_seg *g, const char *s, size_t len)
{
    return kb_index_map_find(g, &g->termmap, s, len);
}

/* ------------------------------------------------------------ segment -- */

/* Grow *p (of *cap elements of size) to hold n; 0 or -1. */
static int kb_index_grow(void *p, size_t *cap, size_t n, size_t size)
{
    void **pp = p;
    size_t c = *cap ? *cap : 16;
    void *q;

    if (n <= *cap)
        return 0;
    while (c < n)
        c *= 2;
    if (!(q = realloc(*pp, c * size)))
        return -1;
    *pp = q;
    *cap = c;
    return 0;
}

static void kb_index_seg_free(kb_index_seg *g)
{
    for (size_t i = 0; i < g->nterms; i++) {
        free(g->terms[i].s);
        free(g->terms[i].data);
        free(g->terms[i].blocks);
    }
    for (size_t i = 0; i < g->ndocs; i++)
        free(g->docs[i]);
    free(g->terms);
    free(g->docs);
    free(g->chunk);
    free(g->len);
    free(g->len8);
    free(g->doc);
    free(g->doc_off);
    free(g->doc_rows);
    free(g->fwd_off);
    free(g->fwd);
    free(g->docmap.slot);
    free(g->termmap.slot);
    free(g);
}

static void kb_index_seg_unref(kb_index_seg *g)
{
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        kb_index_seg_free(g);
}

/* Add a row for chunk of document doc_id; returns its index, or -1. */
static int64_t kb_index_seg_row(kb_index_seg *g, int64_t chunk, const char *doc_id)
{
    int64_t d = kb_index_map_find(g, &g->docmap, doc_id, strlen(doc_id));
    size_t cap = g->caprows;

    if (d < 0) {
        if (kb_index_grow(&g->docs, &g->capdocs, g->ndocs + 1, sizeof *g->docs) ||
            !(g->docs[g->ndocs] = strdup(doc_id)))
            return -1;
        if (kb_index_map_add(g, &g->docmap, (uint32_t)g->ndocs) != 0) {
            free(g->docs[g->ndocs]);
            return -1;
        }
        d = (int64_t)g->ndocs++;
    }
    if (kb_index_grow(&g->chunk, &cap, g->nrows + 1, sizeof *g->chunk))
        return -1;
    if (cap != g->caprows) {
        /* chunk may now be the larger: caprows stays the smaller until all
         * three have grown. */
        uint32_t *len = realloc(g->len, cap * sizeof *len), *doc;
        if (!len)
            return -1;
        g->len = len;
        if (!(doc = realloc(g->doc, cap * sizeof *doc)))
            return -1;
        g->doc = doc;
        g->caprows = cap;
    }
    g->chunk[g->nrows] = chunk;
    g->len[g->nrows] = 0;
    g->doc[g->nrows] = (uint32_t)d;
    return (int64_t)g->nrows++;
}

/* The index of term s (len bytes) in g, added when new; -1 when out of
 * memory. */
static int64_t kb_index_seg_term(kb_index_seg *g, const char *s, size_t len)
{
    int64_t t = kb_index_map_find(g, &g->termmap, s, len);
    kb_index_term *nt;

    if (t >= 0)
        return t;
    if (len > UINT32_MAX || kb_index_grow(&g->terms, &g->capterms, g->nterms + 1, sizeof *g->terms))
        return -1;
    nt = &g->terms[g->nterms];
    memset(nt, 0, sizeof *nt);
    nt->pend = -1;
    if (!(nt->s = malloc(len + 1)))
        return -1;
    memcpy(nt->s, s, len);
    nt->s[len] = '\0';
    nt->len = (uint32_t)len;
    if (kb_index_map_add(g, &g->termmap, (uint32_t)g->nterms) != 0) {
        free(nt->s);
        return -1;
    }
    return (int64_t)g->nterms++;
}

static int kb_index_put_varint(kb_index_term *t, uint32_t v)
{
    if (kb_index_grow(&t->data, &t->cap, t->size + 5, 1))
        return -1;
    while (v >= 0x80) {
        t->data[t->size++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    t->data[t->size++] = (unsigned char)v;
    return 0;
}

/* Write t's pending row into its postings, opening a block when the last
 * is full.  0 or -1. */
static int kb_index_flush(kb_index_term *t)
{
    uint32_t row = (uint32_t)t->pend, gap = t->df ? row - t->prev - 1 : row;
    kb_index_block *b;

    if (t->pend < 0)
        return 0;
    assert(!t->df || row > t->prev);
    if (!t->nblocks || t->blocks[t->nblocks - 1].n == KB_INDEX_BLOCK) {
        size_t cap = t->capblocks ? t->capblocks : 1;
        if (!t->blocks && !(t->blocks = malloc(sizeof *t->blocks)))
            return -1;
        if (kb_index_grow(&t->blocks, &cap, t->nblocks + 1, sizeof *t->blocks))
            return -1;
        t->capblocks = (uint32_t)cap;
        b = &t->blocks[t->nblocks++];
        memset(b, 0, sizeof *b);
        b->off = t->size;
    }
    b = &t->blocks[t->nblocks - 1];
    /* The gap, then the two counts as kb_block.h packs them. */
    if (kb_index_put_varint(t, gap) ||
        kb_index_put_varint(t, t->pn[1] << 2 | (t->pn[0] < 3 ? t->pn[0] : 3)) ||
        (t->pn[0] >= 3 && kb_index_put_varint(t, t->pn[0] - 3)))
        return -1;
    b->last = row;
    b->n++;
    t->df++;
    t->prev = row;
    t->pend = -1;
    return 0;
}

/* Count n0 title and n1 text occurrences of term ti in row (rows come in
 * ascending order per term; the same row may come again).  0 or -1. */
static int kb_index_seg_post(kb_index_seg *g, int64_t ti, uint32_t row, uint32_t n0,
                             uint32_t n1)
{
    kb_index_term *t = &g->terms[ti];

    if (t->pend != (int64_t)row) {
        if (kb_index_flush(t) != 0)
            return -1;
        t->pend = row;
        t->pn[0] = t->pn[1] = 0;
    }
    t->pn[0] += n0;
    t->pn[1] += n1;
    g->len[row] += n0 + n1;
    g->ntokens += n0 + n1;
    return 0;
}

/* Give back what growing t's block table left spare: most terms have
 * one block.  A failed shrink keeps the larger array. */
static void kb_index_term_trim(kb_index_term *t)
{
    kb_index_block *b = t->nblocks ? realloc(t->blocks, t->nblocks * sizeof *b) : NULL;

    if (b) {
        t->blocks = b;
        t->capblocks = t->nblocks;
    }
}

/* Decode block b of t as kb_index_flush stages it into rows, n0, n1;
 * returns its row count. */
static uint32_t kb_index_stage_decode(const kb_index_term *t, uint32_t b, uint32_t *rows,
                                      uint32_t *n0, uint32_t *n1)
{
    const kb_index_block *blk = &t->blocks[b];
    const unsigned char *p = t->data + blk->off;
    uint32_t row = kb_index_base(t, b);

    for (uint32_t i = 0; i < blk->n; i++) {
        uint32_t f;
        row += kb_block_varint(&p);
        rows[i] = row++;
        f = kb_block_varint(&p);
        n1[i] = f >> 2;
        n0[i] = f & 3;
        if (n0[i] == 3)
            n0[i] += kb_block_varint(&p);
    }
    return blk->n;
}

/* Pack t's staged postings into blocks (kb_block.h), through the scratch
 * buffer *buf (of *cap bytes, grown as needed, the caller's to free),
 * into a buffer of their size and the padding the unpacker reads past
 * them: allocated at its size, so that building leaves no spare room.
 * 0 or -1. */
static int kb_index_term_pack(kb_index_term *t, unsigned char **buf, size_t *cap)
{
    uint32_t rows[KB_INDEX_BLOCK], n0[KB_INDEX_BLOCK], n1[KB_INDEX_BLOCK];
    size_t need = 0, size = 0;
    unsigned char *d;

    for (uint32_t b = 0; b < t->nblocks; b++)
        need += KB_BLOCK_BOUND(t->blocks[b].n);
    if (kb_index_grow(buf, cap, need, 1) != 0)
        return -1;
    for (uint32_t b = 0; b < t->nblocks; b++) {
        uint32_t n = kb_index_stage_decode(t, b, rows, n0, n1);
        unsigned width;
        size_t nb = kb_block_pack(*buf + size, kb_index_base(t, b), rows, n0, n1, n, &width);
        t->blocks[b].off = size;
        t->blocks[b].width = (uint8_t)width;
        size += nb;
    }
    if (!(d = malloc(size + KB_BLOCK_PAD)))
        return -1;
    if (size)
        memcpy(d, *buf, size);
    memset(d + size, 0, KB_BLOCK_PAD);
    free(t->data);
    t->data = d;
    t->size = size;
    t->cap = size + KB_BLOCK_PAD;
    return 0;
}

/* Finish term t: its last row, its blocks packed, and each block's
 * bound. */
static int kb_index_term_finish(const kb_index *ix, kb_index_seg *g, kb_index_term *t,
                                unsigned char **buf, size_t *cap)
{
    uint32_t rows[KB_INDEX_BLOCK], n0[KB_INDEX_BLOCK], n1[KB_INDEX_BLOCK];

    if (kb_index_flush(t) != 0 || kb_index_term_pack(t, buf, cap) != 0)
        return -1;
    kb_index_term_trim(t);
    for (uint32_t b = 0; b < t->nblocks; b++) {
        uint32_t n = kb_index_decode(t, b, rows, n0, n1);
        double gmax = 0;
        for (uint32_t i = 0; i < n; i++) {
            double f = kb_index_freq(ix, n0[i], n1[i]);
            double x = kb_index_factor(f, (double)g->len[rows[i]], g->avgdl);
            if (x > gmax)
                gmax = x;
        }
        t->blocks[b].gmax = gmax;
    }
    return 0;
}

/* The rows of each document and the terms of each row, once all are in. */
static int kb_index_seg_finish(const kb_index *ix, kb_index_seg *g)
{
    uint32_t rows[KB_INDEX_BLOCK], n0[KB_INDEX_BLOCK], n1[KB_INDEX_BLOCK];
    size_t npost = 0;

    g->avgdl = g->nrows ? (double)g->ntokens / (double)g->nrows : 1.0;
    if (!(g->avgdl > 0))
        g->avgdl = 1.0;
    {
        unsigned char *buf = NULL;
        size_t cap = 0;
        for (size_t t = 0; t < g->nterms; t++) {
            if (kb_index_term_finish(ix, g, &g->terms[t], &buf, &cap) != 0) {
                free(buf);
                return -1;
            }
            npost += g->terms[t].df;
        }
        free(buf);
    }
    if (!(g->len8 = malloc(g->nrows ? g->nrows : 1)))
        return -1;
    for (size_t r = 0; r < g->nrows; r++)
        g->len8[r] = (uint8_t)(g->len[r] < KB_INDEX_LEN8 ? g->len[r] : KB_INDEX_LEN8);
    if (!(g->doc_off = calloc(g->ndocs + 1, sizeof *g->doc_off)) ||
        !(g->doc_rows = malloc((g->nrows ? g->nrows : 1) * sizeof *g->doc_rows)) ||
        !(g->fwd_off = calloc(g->nrows + 1, sizeof *g->fwd_off)) ||
        !(g->fwd = malloc((npost ? npost : 1) * sizeof *g->fwd)))
        return -1;
    for (size_t r = 0; r < g->nrows; r++)
        g->doc_off[g->doc[r] + 1]++;
    for (size_t d = 0; d < g->ndocs; d++)
        g->doc_off[d + 1] += g->doc_off[d];
    for (size_t r = 0; r < g->nrows; r++)
        g->doc_rows[g->doc_off[g->doc[r]]++] = (uint32_t)r;
    /* Filling moved each document's offset to its end, which is the next
     * one's start: shift them back. */
    memmove(g->doc_off + 1, g->doc_off, g->ndocs * sizeof *g->doc_off);
    g->doc_off[0] = 0;
    for (size_t t = 0; t < g->nterms; t++)
        for (uint32_t b = 0; b < g->terms[t].nblocks; b++) {
            uint32_t n = kb_index_decode(&g->terms[t], b, rows, n0, n1);
            for (uint32_t i = 0; i < n; i++)
                g->fwd_off[rows[i] + 1]++;
        }
    for (size_t r = 0; r < g->nrows; r++)
        g->fwd_off[r + 1] += g->fwd_off[r];
    {
        uint32_t *at = malloc((g->nrows ? g->nrows : 1) * sizeof *at);
        if (!at)
            return -1;
        memcpy(at, g->fwd_off, g->nrows * sizeof *at);
        for (size_t t = 0; t < g->nterms; t++)
            for (uint32_t b = 0; b < g->terms[t].nblocks; b++) {
                uint32_t n = kb_index_decode(&g->terms[t], b, rows, n0, n1);
                for (uint32_t i = 0; i < n; i++)
                    g->fwd[at[rows[i]]++] = (uint32_t)t;
            }
        free(at);
    }
    return 0;
}

static kb_index_seg *kb_index_seg_new(void)
{
    kb_index_seg *g = calloc(1, sizeof *g);

    if (g)
        atomic_init(&g->refs, 1);
    return g;
}

/* ----------------------------------------------------------- snapshot -- */

/* An empty snapshot with room for nparts parts; NULL when out of memory. */
static kb_index *kb_index_new(double tw, double xw, size_t nparts)
{
    kb_index *ix = calloc(1, sizeof *ix);

    if (!ix || !(ix->parts = calloc(nparts ? nparts : 1, sizeof *ix->parts))) {
        free(ix);
        return NULL;
    }
    atomic_init(&ix->refs, 1);
    ix->tw = tw;
    ix->xw = xw;
    return ix;
}

static void kb_index_free(kb_index *ix)
{
    for (size_t i = 0; i < ix->nparts; i++) {
        kb_index_seg_unref(ix->parts[i].seg);
        free(ix->parts[i].dead);
        free(ix->parts[i].ddf);
    }
    free(ix->parts);
    free(ix);
}

void kb_index_hold(kb_index *ix)
{
    atomic_fetch_add(&ix->refs, 1);
}

void kb_index_drop(kb_index **ixp)
{
    kb_index *ix = *ixp;

    *ixp = NULL;
    if (ix && atomic_fetch_sub(&ix->refs, 1) == 1)
        kb_index_free(ix);
}

void kb_index_info_get(const kb_index *ix, kb_index_info *info)
{
    memset(info, 0, sizeof *info);
    info->seq = ix->seq;
    info->rows = (size_t)ix->nrows;
    info->parts = ix->nparts;
    for (size_t i = 0; i < ix->nparts; i++) {
        const kb_index_seg *g = ix->parts[i].seg;
        info->dead += ix->parts[i].ndead;
        info->terms += g->nterms;
        info->bytes += g->nrows * (sizeof *g->chunk + sizeof *g->len + sizeof *g->len8 +
                                   sizeof *g->doc +
                                   sizeof *g->doc_rows + sizeof *g->fwd_off) +
                       g->ndocs * (sizeof *g->docs + sizeof *g->doc_off + 16) +
                       g->docmap.cap * 4 + g->termmap.cap * 4 + g->nterms * sizeof *g->terms;
        for (size_t t = 0; t < g->nterms; t++)
            info->bytes += g->terms[t].cap + g->terms[t].capblocks * sizeof(kb_index_block) +
                           g->terms[t].len + 1 + g->terms[t].df * sizeof *g->fwd;
        if (ix->parts[i].dead)
            info->bytes += (g->nrows + 7) / 8 + g->nterms * sizeof *ix->parts[i].ddf;
    }
}

/* Make segment g (the caller's reference passes to ix) ix's next part and
 * count its rows in the statistics. */
static void kb_index_push(kb_index *ix, kb_index_seg *g)
{
    ix->parts[ix->nparts++].seg = g;
    ix->nrows += (int64_t)g->nrows;
    ix->ntokens += g->ntokens;
}

/* Tombstone row r of part p, taking it out of the statistics.  0 or -1. */
static int kb_index_kill_row(kb_index *ix, kb_index_part *p, uint32_t r)
{
    const kb_index_seg *g = p->seg;

    if (!p->dead && (!(p->dead = calloc((g->nrows + 7) / 8, 1)) ||
                     !(p->ddf = calloc(g->nterms ? g->nterms : 1, sizeof *p->ddf)))) {
        free(p->dead);
        p->dead = NULL;
        return -1;
    }
    if (kb_index_is_dead(p, r))
        return 0;
    p->dead[r >> 3] |= (unsigned char)(1u << (r & 7));
    p->ndead++;
    ix->nrows--;
    ix->ntokens -= g->len[r];
    for (uint32_t i = g->fwd_off[r]; i < g->fwd_off[r + 1]; i++)
        p->ddf[g->fwd[i]]++;
    return 0;
}

/* Tombstone every live row of document id.  0 or -1. */
static int kb_index_kill_doc(kb_index *ix, const char *id)
{
    for (size_t i = 0; i < ix->nparts; i++) {
        kb_index_part *p = &ix->parts[i];
        int64_t d = kb_index_map_find(p->seg, &p->seg->docmap, id, strlen(id));
        if (d < 0)
            continue;
        for (uint32_t k = p->seg->doc_off[d]; k < p->seg->doc_off[d + 1]; k++)
            if (kb_index_kill_row(ix, p, p->seg->doc_rows[k]) != 0)
                return -1;
    }
    return 0;
}

/* ix's parts from `from` on, merged into one segment without their dead
 * rows.  The statistics do not change.  0 or -1. */
static int kb_index_merge(kb_index *ix, size_t from)
{
    uint32_t rows[KB_INDEX_BLOCK], n0[KB_INDEX_BLOCK], n1[KB_INDEX_BLOCK];
    kb_index_seg *g = kb_index_seg_new();
    size_t nparts = ix->nparts;
    uint32_t **map = calloc(nparts, sizeof *map);
    int rc = -1;

    if (!g || !map)
        goto done;
    for (size_t i = from; i < ix->nparts; i++) {
        const kb_index_part *p = &ix->parts[i];
        if (!(map[i] = malloc((p->seg->nrows ? p->seg->nrows : 1) * sizeof **map)))
            goto done;
        for (uint32_t r = 0; r < p->seg->nrows; r++) {
            int64_t nr = kb_index_is_dead(p, r) ? -2
                         : kb_index_seg_row(g, p->seg->chunk[r], p->seg->docs[p->seg->doc[r]]);
            if (nr == -1)
                goto done;
            map[i][r] = nr < 0 ? UINT32_MAX : (uint32_t)nr;
        }
    }
    for (size_t i = from; i < ix->nparts; i++) {
        const kb_index_seg *sg = ix->parts[i].seg;
        for (size_t t = 0; t < sg->nterms; t++) {
            const kb_index_term *st = &sg->terms[t];
            int64_t ti = -1;
            for (uint32_t b = 0; b < st->nblocks; b++) {
                uint32_t n = kb_index_decode(st, b, rows, n0, n1);
                for (uint32_t k = 0; k < n; k++) {
                    if (map[i][rows[k]] == UINT32_MAX)
                        continue;
                    /* A term whose rows are all dead is not carried over. */
                    if (ti < 0 && (ti = kb_index_seg_term(g, st->s, st->len)) < 0)
                        goto done;
                    if (kb_index_seg_post(g, ti, map[i][rows[k]], n0[k], n1[k]) != 0)
                        goto done;
                }
            }
        }
    }
    if (kb_index_seg_finish(ix, g) != 0)
        goto done;
    for (size_t i = from; i < ix->nparts; i++) {
        kb_index_seg_unref(ix->parts[i].seg);
        free(ix->parts[i].dead);
        free(ix->parts[i].ddf);
        memset(&ix->parts[i], 0, sizeof ix->parts[i]);
    }
    ix->nparts = from;
    if (g->nrows)
        ix->parts[ix->nparts++].seg = g;
    else
        kb_index_seg_unref(g);
    g = NULL;
    rc = 0;
done:
    for (size_t i = 0; map && i < nparts; i++)
        free(map[i]);
    free(map);
    if (g)
        kb_index_seg_unref(g);
    return rc;
}

/* ---------------------------------------------------------- building -- */

/* A build in progress: the snapshot, its one new segment, and for a
 * whole build the row of each chunk id (rowof, when chunk ids are dense
 * enough for a table; else a binary search of the segment's ascending
 * chunk ids).  For a refresh, row is the row being tokenised.  lastterm
 * caches the term FTS5 streams, which comes many rows in a row. */
typedef struct kb_index_build {
    kb_index *ix;
    kb_index_seg *g;
    uint32_t *rowof;
    int64_t nrowof;
    int64_t row, lastterm;
    int oom;
} kb_index_build;

static int kb_index_on_row(void *arg, int64_t chunk_id, const char *doc_id)
{
    kb_index_build *b = arg;

    if ((b->row = kb_index_seg_row(b->g, chunk_id, doc_id)) < 0) {
        b->oom = 1;
        return 1;
    }
    return 0;
}

/* The row of chunk id in a whole build's segment, or -1. */
static int64_t kb_index_row_of(const kb_index_build *b, int64_t id)
{
    size_t lo = 0, hi = b->g->nrows;

    if (b->rowof)
        return id >= 0 && id < b->nrowof && b->rowof[id] != UINT32_MAX ? (int64_t)b->rowof[id] : -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->g->chunk[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->g->nrows && b->g->chunk[lo] == id ? (int64_t)lo : -1;
}

static int kb_index_on_term(void *arg, const char *term, size_t len, int64_t chunk_id,
                            unsigned ntitle, unsigned ntext)
{
    kb_index_build *b = arg;
    int64_t row = kb_index_row_of(b, chunk_id);
    const kb_index_term *last = b->lastterm >= 0 ? &b->g->terms[b->lastterm] : NULL;

    /* FTS5 holds a row kb_fts has no chunk for: the rows just read and the
     * index disagree, which the read transaction rules out. */
    if (row < 0) {
        b->lastterm = -2;
        return 1;
    }
    if (!last || last->len != len || memcmp(last->s, term, len) != 0)
        b->lastterm = kb_index_seg_term(b->g, term, len);
    if (b->lastterm < 0 ||
        kb_index_seg_post(b->g, b->lastterm, (uint32_t)row, ntitle, ntext) != 0) {
        b->oom = 1;
        return 1;
    }
    return 0;
}

static int kb_index_on_token(void *arg, const char *tok, size_t len, int column)
{
    kb_index_build *b = arg;
    int64_t t = kb_index_seg_term(b->g, tok, len);

    assert(b->row >= 0 && (column == 0 || column == 1));
    if (t < 0 || kb_index_seg_post(b->g, t, (uint32_t)b->row, column == 0,
                                   column == 1) != 0) {
        b->oom = 1;
        return 1;
    }
    return 0;
}

/* The chunk-id table of a whole build, when ids are dense enough. */
static int kb_index_rowof(kb_index_build *b)
{
    const kb_index_seg *g = b->g;
    int64_t max = g->nrows ? g->chunk[g->nrows - 1] : -1;

    if (max < 0 || (uint64_t)max > 4 * (uint64_t)g->nrows + 65536)
        return 0;
    b->nrowof = max + 1;
    if (!(b->rowof = malloc((size_t)b->nrowof * sizeof *b->rowof)))
        return -1;
    memset(b->rowof, 0xff, (size_t)b->nrowof * sizeof *b->rowof);
    for (size_t r = 0; r < g->nrows; r++)
        b->rowof[g->chunk[r]] = (uint32_t)r;
    return 0;
}

/* What went wrong in a build: out of memory, or the store's message. */
static int kb_index_fail(store *db, const kb_index_build *b, const char *what, char *err,
                         size_t errlen)
{
    snprintf(err, errlen, "kb index: %s: %s", what, b->oom ? "out of memory" : store_errmsg(db));
    return -1;
}

/* Read the whole index into b (a read transaction is open on db). */
static int kb_index_read_all(store *db, kb_index_build *b, char *err, size_t errlen)
{
    if (store_kb_rows(db, kb_index_on_row, b) != 0 || b->oom)
        return kb_index_fail(db, b, "reading the full-text rows", err, errlen);
    for (size_t r = 1; r < b->g->nrows; r++)
        assert(b->g->chunk[r - 1] < b->g->chunk[r]);
    if (kb_index_rowof(b) != 0) {
        b->oom = 1;
        return kb_index_fail(db, b, "reading the full-text rows", err, errlen);
    }
    if (store_kb_terms(db, kb_index_on_term, b) != 0 || b->oom)
        return kb_index_fail(db, b, "reading the full-text terms", err, errlen);
    if (b->lastterm == -2) {
        snprintf(err, errlen, "kb index: a full-text row without a chunk");
        return -1;
    }
    if (kb_index_seg_finish(b->ix, b->g) != 0) {
        b->oom = 1;
        return kb_index_fail(db, b, "building", err, errlen);
    }
    return 0;
}

int kb_index_load(store *db, double title_weight, double text_weight, kb_index **out,
                  char *err, size_t errlen)
{
    kb_index_build b = {.lastterm = -1};
    int64_t seq;
    int rc = -1;

    *out = NULL;
    if (!(b.ix = kb_index_new(title_weight, text_weight, 1)) || !(b.g = kb_index_seg_new())) {
        snprintf(err, errlen, "kb index: out of memory");
        goto done;
    }
    if (store_begin(db) != 0 || store_last_seq(db, &seq) != 0) {
        kb_index_fail(db, &b, "reading the store", err, errlen);
        goto done;
    }
    rc = kb_index_read_all(db, &b, err, errlen);
    store_rollback(db);
    if (rc != 0)
        goto done;
    b.ix->seq = seq;
    kb_index_push(b.ix, b.g);
    b.g = NULL;
    *out = b.ix;
    b.ix = NULL;
done:
    free(b.rowof);
    if (b.g)
        kb_index_seg_unref(b.g);
    kb_index_drop(&b.ix);
    return rc;
}

/* ----------------------------------------------------------- refresh -- */

/* The documents changed after a snapshot: their ids, sorted, once each. */
typedef struct kb_index_ids {
    char **v;
    size_t n, cap;
    int oom;
} kb_index_ids;

static int kb_index_on_change(void *arg, int64_t seq, const char *doc_id, store_op op)
{
    kb_index_ids *c = arg;

    (void)seq;
    (void)op;
    if (kb_index_grow(&c->v, &c->cap, c->n + 1, sizeof *c->v) ||
        !(c->v[c->n] = strdup(doc_id))) {
        c->oom = 1;
        return 1;
    }
    c->n++;
    return 0;
}

static int kb_index_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void kb_index_ids_release(kb_index_ids *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    free(c->v);
}

/* Sort c and drop repeats. */
static void kb_index_ids_unique(kb_index_ids *c)
{
    size_t n = 0;

    qsort(c->v, c->n, sizeof *c->v, kb_index_cmp_str);
    for (size_t i = 0; i < c->n; i++) {
        if (n && strcmp(c->v[n - 1], c->v[i]) == 0)
            free(c->v[i]);
        else
            c->v[n++] = c->v[i];
    }
    c->n = n;
}

/* A copy of old with room for one more part: the same segments (held
 * again) and copies of its tombstones.  NULL when out of memory. */
static kb_index *kb_index_copy(const kb_index *old)
{
    kb_index *ix = kb_index_new(old->tw, old->xw, old->nparts + 1);

    if (!ix)
        return NULL;
    ix->seq = old->seq;
    ix->nrows = old->nrows;
    ix->ntokens = old->ntokens;
    for (size_t i = 0; i < old->nparts; i++) {
        const kb_index_part *op = &old->parts[i];
        kb_index_part *p = &ix->parts[ix->nparts++];
        atomic_fetch_add(&op->seg->refs, 1);
        p->seg = op->seg;
        p->ndead = op->ndead;
        if (!op->dead)
            continue;
        if (!(p->dead = malloc((op->seg->nrows + 7) / 8)) ||
            !(p->ddf = malloc((op->seg->nterms ? op->seg->nterms : 1) * sizeof *p->ddf))) {
            kb_index_free(ix);
            return NULL;
        }
        memcpy(p->dead, op->dead, (op->seg->nrows + 7) / 8);
        memcpy(p->ddf, op->ddf, op->seg->nterms * sizeof *p->ddf);
    }
    return ix;
}

/* Merge when the policy above says so.  0 or -1. */
static int kb_index_compact(kb_index *ix)
{
    size_t dead = 0, delta = 0;

    if (ix->nparts < 2 && (!ix->nparts || !ix->parts[0].ndead))
        return 0;
    for (size_t i = 0; i < ix->nparts; i++) {
        dead += ix->parts[i].ndead;
        if (i)
            delta += ix->parts[i].seg->nrows;
    }
    if (dead * KB_INDEX_DEAD_SHARE > (size_t)ix->nrows ||
        delta * KB_INDEX_DEAD_SHARE > ix->parts[0].seg->nrows)
        return kb_index_merge(ix, 0);
    if (ix->nparts > KB_INDEX_MAX_PARTS)
        return kb_index_merge(ix, 1);
    return 0;
}

/* Tombstone the changed documents in ix and read their current rows into
 * b's segment (a read transaction is open on db). */
static int kb_index_apply(store *db, kb_index_build *b, const kb_index_ids *c, char *err,
                          size_t errlen)
{
    for (size_t i = 0; i < c->n; i++) {
        if (kb_index_kill_doc(b->ix, c->v[i]) != 0) {
            b->oom = 1;
            return kb_index_fail(db, b, "applying changes", err, errlen);
        }
        if (store_kb_doc(db, c->v[i], kb_index_on_row, kb_index_on_token, b) != 0 || b->oom)
            return kb_index_fail(db, b, "reading a changed document", err, errlen);
    }
    if (kb_index_seg_finish(b->ix, b->g) != 0) {
        b->oom = 1;
        return kb_index_fail(db, b, "building", err, errlen);
    }
    return 0;
}

int kb_index_refresh(store *db, const kb_index *old, kb_index **out, size_t *changed,
                     char *err, size_t errlen)
{
    kb_index_build b = {.lastterm = -1};
    kb_index_ids c = {0};
    int64_t seq;
    int rc = -1;

    *out = NULL;
    *changed = 0;
    if (store_begin(db) != 0 || store_last_seq(db, &seq) != 0) {
        kb_index_fail(db, &b, "reading the store", err, errlen);
        goto done;
    }
    if (seq == old->seq) {
        rc = 0;
        goto done;
    }
    if ((rc = store_changes(db, old->seq, kb_index_on_change, &c)) < 0 || c.oom) {
        rc = -1;
        b.oom = c.oom;
        kb_index_fail(db, &b, "reading the change log", err, errlen);
        goto done;
    }
    if (rc == STORE_BEHIND)
        goto done;
    rc = -1;
    kb_index_ids_unique(&c);
    if (!(b.ix = kb_index_copy(old)) || !(b.g = kb_index_seg_new())) {
        snprintf(err, errlen, "kb index: out of memory");
        goto done;
    }
    if (kb_index_apply(db, &b, &c, err, errlen) != 0)
        goto done;
    if (b.g->nrows)
        kb_index_push(b.ix, b.g);
    else
        kb_index_seg_unref(b.g);
    b.g = NULL;
    b.ix->seq = seq;
    if (kb_index_compact(b.ix) != 0) {
        snprintf(err, errlen, "kb index: merging: out of memory");
        goto done;
    }
    *changed = c.n;
    *out = b.ix;
    b.ix = NULL;
    rc = 0;
done:
    store_rollback(db);
    kb_index_ids_release(&c);
    if (b.g)
        kb_index_seg_unref(b.g);
    kb_index_drop(&b.ix);
    return rc;
}
