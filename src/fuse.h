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
} fuse_list;

/* One fused document: the representative hit is lists[list].hits[index]. */
typedef struct fuse_result {
    size_t list;
    size_t index;
    double score;
} fuse_result;

/* Fuse lists[0..nlists) and keep the best topk documents, best first; ties on
 * score go to the better best rank, then the earlier list, then the smaller
 * id, so the order is deterministic.  Within one list only the first hit of
 * an id counts.  Returns 0 with a malloc'd array in *out (caller frees) of
 * *nout <= topk entries, or -1 on ENOMEM. */
int fuse_rrf(const fuse_list *lists, size_t nlists, size_t topk, fuse_result **out, size_t *nout);

#endif /* RAGD_FUSE_H */
