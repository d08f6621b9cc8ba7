/*
 * fuse -- reciprocal rank fusion.
 *
 * Candidates are sorted by id so that duplicates sit together and merge in
 * one pass: O(n log n) in the total number of hits, no hash table to size.
 */
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

typedef struct fuse_cand {
    const char *id;
    size_t list, index, rank; /* rank is 1-based */
    double contrib;
} fuse_cand;

typedef struct fuse_doc {
    fuse_hit r;
    size_t best_rank;
    const char *id;
} fuse_doc;

static int fuse_cmp_id(const void *a, const void *b)
{
    const fuse_cand *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    if (c)
        return c;
    if (x->list != y->list)
        return x->list < y->list ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int fuse_cmp_doc(const void *a, const void *b)
{
    const fuse_doc *x = a, *y = b;

    if (x->r.score != y->r.score)
        return x->r.score > y->r.score ? -1 : 1;
    if (x->best_rank != y->best_rank)
        return x->best_rank < y->best_rank ? -1 : 1;
    if (x->r.list != y->r.list)
        return x->r.list < y->r.list ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Merge the run of candidates c[0..n) that share one id into one document. */
static void fuse_merge_run(const fuse_cand *c, size_t n, fuse_doc *d)
{
    const fuse_cand *best = &c[0];

    d->r.score = 0;
    d->best_rank = c[0].rank;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && c[i].list == c[i - 1].list)
            continue; /* a list's second hit of the same id does not count */
        d->r.score += c[i].contrib;
        if (c[i].contrib > best->contrib)
            best = &c[i];
        if (c[i].rank < d->best_rank)
            d->best_rank = c[i].rank;
    }
    d->r.list = best->list;
    d->r.index = best->index;
    d->id = best->id;
}

int fuse_rrf(const fuse_list *lists, size_t nlists, size_t topk, fuse_hit **out, size_t *nout)
{
    fuse_cand *c = NULL;
    fuse_doc *d = NULL;
    size_t total = 0, nc = 0, nd = 0;

    for (size_t l = 0; l < nlists; l++)
        total += lists[l].n;
    *out = NULL;
    *nout = 0;
    if (total == 0 || topk == 0)
        return 0;
    if (!(c = malloc(total * sizeof *c)) || !(d = malloc(total * sizeof *d)))
        goto fail;
    for (size_t l = 0; l < nlists; l++)
        for (size_t i = 0; i < lists[l].n; i++)
            c[nc++] = (fuse_cand){lists[l].hits[i].id, l, i, i + 1,
                                  lists[l].weight / (double)(FUSE_RRF_K + i + 1)};
    qsort(c, nc, sizeof *c, fuse_cmp_id);
    for (size_t i = 0, j; i < nc; i = j) {
        for (j = i + 1; j < nc && strcmp(c[j].id, c[i].id) == 0; j++)
            ;
        fuse_merge_run(&c[i], j - i, &d[nd++]);
    }
    qsort(d, nd, sizeof *d, fuse_cmp_doc);
    if (nd > topk)
        nd = topk;
    if (!(*out = malloc(nd * sizeof **out)))
        goto fail;
    for (size_t i = 0; i < nd; i++) {
        (*out)[i] = d[i].r;
        (*out)[i].hit = &lists[d[i].r.list].hits[d[i].r.index];
        (*out)[i].source = lists[d[i].r.list].name;
    }
    *nout = nd;
    free(c);
    free(d);
    return 0;
fail:
    free(c);
    free(d);
    return -1;
}
