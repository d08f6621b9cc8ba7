/* Unit tests for fuse_rrf: scores, merging, weights, ties, top-k. */
#include <math.h>
#include <stdlib.h>

#include "fuse.h"
#include "tap.h"

#define H(id) {id, NULL, NULL, "t", 0}

static int close_to(double a, double b)
{
    return fabs(a - b) < 1e-12;
}

static void test_single_list(void)
{
    ragd_hit a[] = {H("x"), H("y"), H("z")};
    fuse_list l[] = {{a, 3, 1.0, "s"}};
    fuse_hit *r;
    size_t n;

    ok(fuse_rrf(l, 1, 10, &r, &n) == 0, "one list fuses");
    is_int(n, 3, "all three documents kept");
    ok(close_to(r[0].score, 1.0 / 61), "rank 1 scores 1/(60+1)");
    ok(close_to(r[2].score, 1.0 / 63), "rank 3 scores 1/(60+3)");
    is_int(r[1].index, 1, "order of one list is kept");
    free(r);
}

static void test_merge_and_order(void)
{
    ragd_hit a[] = {H("d1"), H("d2"), H("d3")};
    ragd_hit b[] = {H("d3"), H("d4"), H("d1")};
    fuse_list l[] = {{a, 3, 1.0, "one"}, {b, 3, 1.0, "two"}};
    fuse_hit *r;
    size_t n;

    ok(fuse_rrf(l, 2, 10, &r, &n) == 0, "two lists fuse");
    is_int(n, 4, "duplicates merged: 4 distinct documents");
    /* d1: 1/61 + 1/63; d3: 1/63 + 1/61 -- equal; d1's best rank (1 in list
     * 0) ties d3's (1 in list 1), so the earlier list's wins. */
    ok(close_to(r[0].score, 1.0 / 61 + 1.0 / 63), "d1 sums both lists");
    is_int(r[0].list, 0, "tie broken towards the earlier list");
    is_str(l[r[0].list].hits[r[0].index].id, "d1", "d1 first");
    is_str(l[r[1].list].hits[r[1].index].id, "d3", "d3 second");
    ok(close_to(r[2].score, 1.0 / 62), "d2 and d4 score 1/62");
    is_str(l[r[2].list].hits[r[2].index].id, "d2", "d2 before d4: earlier list");
    ok(r[1].hit == &b[0], "a fused hit points at its representative, not a copy");
    is_str(r[1].source, "two", "and names the list it came from");
    is_str(r[3].source, "two", "d4 came from the second list");
    free(r);
}

static void test_weights(void)
{
    ragd_hit a[] = {H("a1"), H("a2")};
    ragd_hit b[] = {H("b1"), H("b2")};
    fuse_list l[] = {{a, 2, 1.0, "s"}, {b, 2, 3.0, "s"}};
    fuse_hit *r;
    size_t n;

    ok(fuse_rrf(l, 2, 10, &r, &n) == 0, "weighted lists fuse");
    is_str(l[r[0].list].hits[r[0].index].id, "b1", "weight 3 puts b1 first");
    is_str(l[r[1].list].hits[r[1].index].id, "b2", "weight 3 puts b2 before a1");
    ok(close_to(r[0].score, 3.0 / 61), "weighted score is w/(60+rank)");
    free(r);
}

static void test_representative(void)
{
    ragd_hit a[] = {H("x"), H("y"), H("same")};
    ragd_hit b[] = {H("same")};
    fuse_list l[] = {{a, 3, 1.0, "s"}, {b, 1, 1.0, "s"}};
    fuse_hit *r;
    size_t n;

    ok(fuse_rrf(l, 2, 1, &r, &n) == 0, "fuse with topk 1");
    is_int(n, 1, "topk cuts the list");
    is_int(r[0].list, 1, "the hit that contributed most represents the document");
    free(r);
}

static void test_duplicate_within_list(void)
{
    ragd_hit a[] = {H("d"), H("d"), H("e")};
    fuse_list l[] = {{a, 3, 1.0, "s"}};
    fuse_hit *r;
    size_t n;

    ok(fuse_rrf(l, 1, 10, &r, &n) == 0, "list with a repeated id fuses");
    is_int(n, 2, "a repeated id counts once");
    ok(close_to(r[0].score, 1.0 / 61), "only its first (best) rank counts");
    free(r);
}

static void test_empty(void)
{
    fuse_list l[] = {{NULL, 0, 1.0, "s"}};
    fuse_hit *r = (fuse_hit *)1;
    size_t n = 9;

    ok(fuse_rrf(l, 1, 10, &r, &n) == 0 && n == 0 && r == NULL, "no hits: empty result");
    ok(fuse_rrf(NULL, 0, 10, &r, &n) == 0 && n == 0, "no lists: empty result");
}

int main(void)
{
    test_single_list();
    test_merge_and_order();
    test_weights();
    test_representative();
    test_duplicate_within_list();
    test_empty();
    return tap_done();
}
