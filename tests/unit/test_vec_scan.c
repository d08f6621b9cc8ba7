/* Unit tests for vec_scan and vec_quant on a dense, clustered synthetic
 * set (a seeded Gaussian mixture, 384-d, L2-normalised): the int8 scan with
 * its exact re-rank finds the exact scan's top 10 (recall@10 >= 0.99) and
 * reports exact scores; a scan split into parts at vec_scan_cut's
 * boundaries and merged answers exactly like one scan; a document's rows
 * count once, by its best; tombstones and the filter skip rows. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vec_kernel.h"
#include "par.h"
#include "vec_quant.h"
#include "vec_scan.h"

#define DIMS 384
#define ROWS 20000
#define CLUSTERS 64
#define QUERIES 200
#define K 10
#define RERANK 100

static uint64_t rng = 42;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

/* A standard normal deviate (Box-Muller). */
static float gauss(void)
{
    return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

static void normalise(float *v)
{
    double s = 0;

    for (size_t d = 0; d < DIMS; d++)
        s += (double)v[d] * v[d];
    for (size_t d = 0; d < DIMS; d++)
        v[d] = (float)(v[d] / sqrt(s));
}

/* A point of the mixture: a random centre plus noise of half its norm,
 * normalised: dense clusters whose members differ by little, where int8
 * alone misses about 4% of the top 10. */
static void point(const float *centres, float *out)
{
    const float *c = centres + (size_t)(uniform() * CLUSTERS) * DIMS;

    for (size_t d = 0; d < DIMS; d++)
        out[d] = c[d] + 0.5f * gauss() / sqrtf(DIMS);
    normalise(out);
}

static float *matrix, *queries, *centres;
static int8_t *qmat;
static float scale[DIMS];
static uint32_t *docs;

static int setup(void)
{
    matrix = aligned_alloc(64, sizeof(float) * ROWS * DIMS);
    queries = malloc(sizeof(float) * QUERIES * DIMS);
    centres = malloc(sizeof(float) * CLUSTERS * DIMS);
    qmat = aligned_alloc(64, (size_t)ROWS * DIMS);
    docs = malloc(sizeof *docs * ROWS);
    if (!matrix || !queries || !centres || !qmat || !docs)
        return -1;
    for (size_t c = 0; c < CLUSTERS; c++) {
        for (size_t d = 0; d < DIMS; d++)
            centres[c * DIMS + d] = gauss();
        normalise(centres + c * DIMS);
    }
    for (size_t r = 0; r < ROWS; r++)
        point(centres, matrix + r * DIMS);
    for (size_t q = 0; q < QUERIES; q++)
        point(centres, queries + q * DIMS);
    vec_quant_rows(matrix, ROWS, DIMS, scale, qmat);
    return 0;
}

/* The rows as two segments (the second one row shorter than the first,
 * both odd), doc numbers given per row by docs. */
static void segments(vec_rows *segs, const unsigned char *dead, const unsigned char *keep)
{
    size_t half = ROWS / 2 + 1;

    segs[0] = (vec_rows){half, DIMS, 0, matrix, qmat, scale, docs, keep, dead};
    segs[1] = (vec_rows){ROWS - half, DIMS, half, matrix + half * DIMS, qmat + half * DIMS, scale,
                         docs + half, keep, dead};
}

static size_t exact(const vec_kernel *k, const vec_rows *segs, const float *q, vec_cand *h)
{
    size_t n = vec_scan_exact(k, segs, 2, 0, ROWS, q, h, 0, K);

    vec_scan_sort(h, n);
    return n;
}

/* The int8 scan's best `rerank` re-ranked to the best K. */
static size_t approx(const vec_kernel *k, const vec_rows *segs, const float *q, vec_cand *h,
                     size_t rerank)
{
    vec_cand pool[RERANK];
    size_t n = vec_scan_int8(k, segs, 2, 0, ROWS, q, pool, 0, rerank);

    n = vec_scan_rerank(k, segs, q, pool, n, h, 0, K);
    vec_scan_sort(h, n);
    return n;
}

/* The global row of candidate c. */
static size_t row_of(const vec_rows *segs, const vec_cand *c)
{
    return segs[c->seg].base + c->row;
}

static void recall(const vec_kernel *k)
{
    vec_rows segs[2];
    size_t found = 0, total = 0, wrong_scores = 0, bare = 0;

    for (size_t r = 0; r < ROWS; r++)
        docs[r] = (uint32_t)r;
    segments(segs, NULL, NULL);
    for (size_t q = 0; q < QUERIES; q++) {
        const float *qv = queries + q * DIMS;
        vec_cand e[K], a[K], b[K];
        size_t ne = exact(k, segs, qv, e), na = approx(k, segs, qv, a, RERANK),
               nb = approx(k, segs, qv, b, K);
        for (size_t i = 0; i < ne; i++, total++) {
            for (size_t j = 0; j < na; j++)
                if (row_of(segs, &e[i]) == row_of(segs, &a[j])) {
                    found++;
                    wrong_scores += e[i].score != a[j].score;
                }
            for (size_t j = 0; j < nb; j++)
                bare += row_of(segs, &e[i]) == row_of(segs, &b[j]);
        }
    }
    /* Without the re-rank (int8 alone) the recall is lower: the set is
     * not an easy case. */
    printf("# %s: recall@%d %.4f with re-rank %d, %.4f without; %d queries, %d rows, %d clusters\n",
           k->name, K, (double)found / (double)total, RERANK, (double)bare / (double)total,
           QUERIES, ROWS, CLUSTERS);
    ok(total == (size_t)QUERIES * K && found >= total * 99 / 100,
       "%s: int8 + re-rank recall@10 >= 0.99 against exact (%zu of %zu)", k->name, found, total);
    is_int(wrong_scores, 0, "%s: re-ranked scores are the exact ones", k->name);
}

#define PARTS 7

/* One split scan, for par_run: part p scans [cut[p], cut[p + 1]). */
typedef struct split {
    const vec_kernel *k;
    const vec_rows *segs;
    const float *q;
    size_t cut[PARTS + 1], n[PARTS];
    vec_cand heaps[PARTS][K];
} split;

static void split_part(void *arg, unsigned p)
{
    split *sp = arg;

    sp->n[p] = vec_scan_exact(sp->k, sp->segs, 2, sp->cut[p], sp->cut[p + 1], sp->q, sp->heaps[p],
                              0, K);
}

/* Scanned in parts cut at vec_scan_cut, on two helper threads and this
 * one, and merged, the answer is one scan's, with documents of 1 to 5
 * rows. */
static void parts(const vec_kernel *k)
{
    vec_rows segs[2];
    int same = 1, unique = 1;
    par *par = par_new(2);
    static split sp;

    for (size_t r = 0, d = 0; r < ROWS; d++)
        for (size_t n = 1 + d % 5; n > 0 && r < ROWS; n--)
            docs[r++] = (uint32_t)d;
    segments(segs, NULL, NULL);
    for (size_t q = 0; q < 20; q++) {
        const float *qv = queries + q * DIMS;
        vec_cand one[K], merged[K];
        size_t n1 = exact(k, segs, qv, one), nm = 0;
        memset(&sp, 0, sizeof sp);
        sp.k = k;
        sp.segs = segs;
        sp.q = qv;
        for (size_t p = 1; p <= PARTS; p++)
            sp.cut[p] = p == PARTS ? ROWS : vec_scan_cut(segs, 2, ROWS * p / PARTS);
        if (par)
            par_run(par, split_part, &sp, PARTS);
        for (size_t p = 0; p < PARTS; p++)
            for (size_t i = 0; i < sp.n[p]; i++)
                nm = vec_scan_offer(merged, nm, K, sp.heaps[p][i]);
        vec_scan_sort(merged, nm);
        same &= n1 == nm && memcmp(one, merged, nm * sizeof *one) == 0;
        for (size_t i = 0; i < n1; i++)
            for (size_t j = i + 1; j < n1; j++)
                unique &= !(one[i].seg == one[j].seg &&
                            segs[one[i].seg].doc[one[i].row] == segs[one[j].seg].doc[one[j].row]);
    }
    par_free(&par);
    ok(same, "%s: seven parts on three threads, merged, answer as one scan", k->name);
    ok(unique, "%s: each document at most once", k->name);
    /* Documents 0, 1, 2 have rows {0}, {1, 2}, {3, 4, 5}. */
    ok(vec_scan_cut(segs, 2, 1) == 1 && vec_scan_cut(segs, 2, 2) == 3 &&
       vec_scan_cut(segs, 2, 3) == 3 && vec_scan_cut(segs, 2, 4) == 6 &&
       vec_scan_cut(segs, 2, ROWS + 5) == ROWS,
       "cuts fall where a document begins");
}

/* A tombstoned row and a filtered-out document are never returned. */
static void skips(const vec_kernel *k)
{
    static unsigned char dead[ROWS / 8 + 1], keep[ROWS];
    vec_rows segs[2];
    vec_cand h[K];
    size_t n, top;

    for (size_t r = 0; r < ROWS; r++)
        docs[r] = (uint32_t)r;
    segments(segs, NULL, NULL);
    n = exact(k, segs, matrix + 7 * DIMS, h);
    ok(n == K && row_of(segs, &h[0]) == 7, "a row is its own best match");
    dead[0] = 1u << 7;
    segments(segs, dead, NULL);
    n = exact(k, segs, matrix + 7 * DIMS, h);
    ok(n == K && row_of(segs, &h[0]) != 7, "a tombstoned row is skipped");
    top = row_of(segs, &h[0]);
    memset(keep, 1, sizeof keep);
    keep[top] = 0;
    segments(segs, dead, keep);
    n = approx(k, segs, matrix + 7 * DIMS, h, RERANK);
    ok(n == K && row_of(segs, &h[0]) != 7 && row_of(segs, &h[0]) != top,
       "a filtered-out document is skipped by the int8 scan too");
}

int main(void)
{
    const vec_kernel *k = vec_kernel_pick();

    if (!k || setup() != 0) {
        printf("Bail out! no kernel or out of memory\n");
        return 1;
    }
    recall(k);
    if (strcmp(k->name, "portable") != 0)
        recall(vec_kernel_named("portable"));
    parts(k);
    skips(k);
    free(matrix);
    free(queries);
    free(centres);
    free(qmat);
    free(docs);
    return tap_done();
}
