/*
 * fuse -- reciprocal rank fusion of several ranked hit lists.
 *
 * score(d) = sum over lists L that contain d of weight(L) / (k + rank_L(d)),
 * with 1-based ranks and k = FUSE_RRF_K (60, as in Cormack et al. 2009).
 * Hits with the same id are one document; the one kept to represent it is
 * the hit that contributed most (ties: the earlier list).  Pure: no I/O, no
 * loop, so it is tested on its own.
 */
#ifndef RAGD_FUSE_H
#define RAGD_FUSE_H

#include <stddef.h>

#include <ragd/source.h>

#define FUSE_RRF_K 60

/* One ranked list: hits[0] is rank 1.  Borrowed. */
typedef struct fuse_list {
    const ragd_hit *hits;
    size_t n;
    double weight;
    const char *name;   /* the source that answered it; borrowed */
} fuse_list;

/* One fused document: its representative hit, lists[list].hits[index].
 * hit and source are borrowed from the lists: a fused list is valid while
 * the lists it was made from are. */
typedef struct fuse_hit {
    const ragd_hit *hit;
    const char *source;
    size_t list;
    size_t index;
    double score;       /* the fused score */
} fuse_hit;

/* Fuse lists[0..nlists) and keep the best topk documents, best first; ties on
 * score go to the better best rank, then the earlier list, then the smaller
 * id, so the order is deterministic.  Within one list only the first hit of
 * an id counts.  Returns 0 with a malloc'd array in *out (caller frees) of
 * *nout <= topk entries, or -1 on ENOMEM. */
int fuse_rrf(const fuse_list *lists, size_t nlists, size_t topk, fuse_hit **out, size_t *nout);

#endif /* RAGD_FUSE_H */
