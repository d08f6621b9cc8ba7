/*
 * vecbench -- time the vector source's scan at scale: the scan as it was
 * (portable dot product, one thread), the exact scan with the kernel this
 * CPU runs, and the int8 scan with its exact re-rank, on one thread or
 * split across threads as the source splits it (with --threads above 1,
 * both always and as far as the rule of split.h allows at each query);
 * and the int8 scan's recall@10 against the exact one.
 *
 * Rows come from a seeded Gaussian mixture (dense clusters, L2-normalised)
 * or from a store built by `ragd ingest` (--store, with --queries naming a
 * BEIR queries.jsonl whose texts are hash-embedded as ragd embeds them).
 * The rows are one segment in one 64-byte-aligned matrix, as after a full
 * load.  Prints one line per mode: ms per query (median and mean of wall
 * time, and CPU time), and recall.  A benchmark, not a test: no asserts on
 * speed.
 *
 * usage: vecbench [--rows N] [--dims D] [--queries Q] [--threads T]
 *                 [--rerank R] [--seed S] [--store DB --queries-file F]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "embed.h"
#include "store.h"
#include "vec_kernel.h"
#include "par.h"
#include "split.h"
#include "vec_quant.h"
#include "vec_scan.h"

#define K 10
#define MAX_PARTS 64

typedef struct bench {
    size_t rows, dims, nq, cap;
    float *mat, *queries, *scale;
    int8_t *qmat;
    uint32_t *doc;
    char **names; /* store documents' ids, to count each once */
    size_t nnames;
    vec_rows seg;
} bench;

/* ------------------------------------------------------------- data -- */

static uint64_t rng = 1;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

/* Two standard normal deviates (Box-Muller). */
static void gauss2(float *a, float *b)
{
    double r = sqrt(-2.0 * log(uniform())), t = 6.283185307179586 * uniform();

    *a = (float)(r * cos(t));
    *b = (float)(r * sin(t));
}

static void normalise(float *v, size_t dims)
{
    double s = 0;

    for (size_t d = 0; d < dims; d++)
        s += (double)v[d] * v[d];
    for (size_t d = 0; d < dims; d++)
        v[d] = (float)(v[d] / sqrt(s));
}

/* n points of the mixture into out: a centre plus noise of half its norm. */
static void mixture(const float *centres, size_t nc, size_t dims, float *out, size_t n)
{
    float sd = 0.5f / sqrtf((float)dims);

    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (size_t)(uniform() * (double)nc) * dims;
        float *v = out + i * dims;
        for (size_t d = 0; d + 1 < dims; d += 2) {
            float a, b;
            gauss2(&a, &b);
            v[d] = c[d] + sd * a;
            v[d + 1] = c[d + 1] + sd * b;
        }
        if (dims % 2)
            v[dims - 1] = c[dims - 1];
        normalise(v, dims);
    }
}

static int synthetic(bench *b)
{
    size_t nc = 256;
    float *centres = malloc(nc * b->dims * sizeof *centres);

    if (!centres)
        return -1;
    for (size_t i = 0; i < nc * b->dims; i += 2)
        gauss2(&centres[i], &centres[i + 1 < nc * b->dims ? i + 1 : i]);
    for (size_t c = 0; c < nc; c++)
        normalise(centres + c * b->dims, b->dims);
    mixture(centres, nc, b->dims, b->mat, b->rows);
    mixture(centres, nc, b->dims, b->queries, b->nq);
    for (size_t r = 0; r < b->rows; r++)
        b->doc[r] = (uint32_t)r;
    free(centres);
    return 0;
}

static int store_row(void *arg, int64_t id, const char *doc_id, const float *vec)
{
    bench *b = arg;

    (void)id;
    if (b->rows == b->cap)
        return 1;
    if (!b->nnames || strcmp(b->names[b->nnames - 1], doc_id) != 0)
        b->names[b->nnames++] = strdup(doc_id);
    memcpy(b->mat + b->rows * b->dims, vec, b->dims * sizeof *vec);
    b->doc[b->rows++] = (uint32_t)(b->nnames - 1);
    return 0;
}

/* The store's vectors, and the hash embeddings of the queries' texts. */
static int from_store(bench *b, const char *path, const char *qfile)
{
    char err[512];
    store *db = NULL;
    size_t n, skipped;
    FILE *f = fopen(qfile, "r");
    char line[65536];

    store_process_init();
    if (!f || store_open(path, 0, &db, err, sizeof err) != 0 || store_vector_count(db, &n) != 0)
        return fprintf(stderr, "vecbench: cannot read %s or %s\n", path, qfile), -1;
    b->cap = n;
    b->rows = 0;
    b->mat = aligned_alloc(64, (n * b->dims * sizeof(float) + 63) / 64 * 64);
    b->doc = malloc(n * sizeof *b->doc);
    b->names = calloc(n, sizeof *b->names);
    if (!b->mat || !b->doc || !b->names ||
        store_vectors(db, NULL, b->dims, store_row, b, &skipped) != 0)
        return fprintf(stderr, "vecbench: cannot load the vectors\n"), -1;
    store_close(&db);
    if (!(b->queries = malloc(2048 * b->dims * sizeof *b->queries)))
        return fprintf(stderr, "vecbench: out of memory\n"), -1;
    for (b->nq = 0; b->nq < 2048 && fgets(line, sizeof line, f);) {
        json_t *o = json_loads(line, 0, NULL);
        const char *text = json_string_value(json_object_get(o, "text"));
        if (text) {
            embed_hash(text, strlen(text), b->queries + b->nq * b->dims, b->dims);
            embed_normalize(b->queries + b->nq * b->dims, b->dims);
            b->nq++;
        }
        json_decref(o);
    }
    fclose(f);
    return 0;
}

/* ------------------------------------------------------------- scans -- */

/* The scan before vec_kernel: the 8-lane portable dot product inlined in
 * the loop, the documents' best rows offered to the heap. */
static float before_dot(const float *restrict a, const float *restrict b, size_t n)
{
    float s[8] = {0};
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static size_t before_scan(const bench *b, const float *q, vec_cand *h)
{
    size_t n = 0;
    vec_cand best = {0};

    for (size_t r = 0; r < b->rows; r++) {
        float score = before_dot(q, b->mat + r * b->dims, b->dims);
        if (r == 0 || b->doc[r] != b->doc[r - 1]) {
            if (r)
                n = vec_scan_offer(h, n, K, best);
            best = (vec_cand){score, 0, (uint32_t)r, (uint32_t)r, (uint32_t)r + 1};
        } else if (score > best.score) {
            best.score = score;
            best.row = (uint32_t)r;
        }
    }
    if (b->rows)
        n = vec_scan_offer(h, n, K, best);
    vec_scan_sort(h, n);
    return n;
}

/* One split scan, as vector.c splits it. */
typedef struct split {
    const vec_kernel *k;
    const bench *b;
    const float *q;
    int int8;
    size_t cap, cut[MAX_PARTS + 1], n[MAX_PARTS];
    vec_cand *heaps;
} split;

static void split_part(void *arg, unsigned p)
{
    split *s = arg;
    vec_cand *h = s->heaps + p * s->cap;

    s->n[p] = s->int8 ? vec_scan_int8(s->k, &s->b->seg, 1, s->cut[p], s->cut[p + 1], s->q, h, 0, s->cap)
                      : vec_scan_exact(s->k, &s->b->seg, 1, s->cut[p], s->cut[p + 1], s->q, h, 0, s->cap);
}

static size_t scan(const vec_kernel *k, const bench *b, par *par, unsigned nparts, int int8,
                   size_t rerank, const float *q, vec_cand *out, vec_cand *heaps)
{
    split s = {k, b, q, int8, int8 ? rerank : K, {0}, {0}, heaps};
    vec_cand *all = heaps + nparts * s.cap;
    size_t n = 0;

    for (unsigned p = 1; p < nparts; p++)
        s.cut[p] = vec_scan_cut(&b->seg, 1, b->rows / nparts * p);
    s.cut[nparts] = b->rows;
    if (nparts > 1)
        par_run(par, split_part, &s, nparts);
    else
        split_part(&s, 0);
    for (unsigned p = 0; p < nparts; p++)
        for (size_t i = 0; i < s.n[p]; i++)
            n = vec_scan_offer(all, n, s.cap, heaps[p * s.cap + i]);
    if (int8)
        n = vec_scan_rerank(k, &b->seg, q, all, n, out, 0, K);
    else
        memcpy(out, all, n * sizeof *out);
    vec_scan_sort(out, n);
    return n;
}

/* ---------------------------------------------------------- measure -- */

static double now(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

enum { BEFORE, EXACT, INT8 };

/* Run every query in mode, keeping each one's top K in tops; print a line.
 * With adapt, each scan takes as many parts as split_ways allows then, up
 * to threads, as the vector source does; *nsplit counts the split ones. */
static void measure(const char *label, int mode, const vec_kernel *k, const bench *b, par *par,
                    unsigned threads, int adapt, size_t rerank, vec_cand *tops, vec_cand *heaps,
                    size_t *nsplit)
{
    double *ms = malloc(b->nq * sizeof *ms), sum = 0, cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
    unsigned nparts = threads;

    if (b->rows / threads < 1024)
        nparts = 1;
    *nsplit = 0;
    for (size_t i = 0; i < b->nq; i++) {
        double t0 = now(CLOCK_MONOTONIC);
        const float *q = b->queries + i * b->dims;
        unsigned np = adapt ? split_ways(par, nparts) : nparts;
        *nsplit += np > 1;
        if (mode == BEFORE)
            before_scan(b, q, tops + i * K);
        else
            scan(k, b, par, np, mode == INT8, rerank, q, tops + i * K, heaps);
        ms[i] = now(CLOCK_MONOTONIC) - t0;
        sum += ms[i];
    }
    qsort(ms, b->nq, sizeof *ms, cmp_double);
    printf("| %s | %s | %u | %.3f | %.3f | %.3f |", label, mode == BEFORE ? "portable (inline)" : k->name,
           mode == BEFORE ? 1 : nparts, ms[b->nq / 2], sum / (double)b->nq,
           (now(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / (double)b->nq);
    fflush(stdout);
    free(ms);
}

/* recall@K of got against want, per query, counting documents. */
static double recall(const bench *b, const vec_cand *want, const vec_cand *got)
{
    size_t found = 0;

    for (size_t i = 0; i < b->nq; i++)
        for (size_t x = 0; x < K; x++)
            for (size_t y = 0; y < K; y++)
                found += b->doc[want[i * K + x].row] == b->doc[got[i * K + y].row];
    return (double)found / (double)(b->nq * K);
}

int main(int argc, char **argv)
{
    bench b = {.rows = 100000, .dims = 384, .nq = 100};
    const char *db = NULL, *qfile = NULL;
    unsigned threads = 1;
    size_t rerank = 100;
    const vec_kernel *k = vec_kernel_pick();
    vec_cand *exact_tops, *tops, *heaps;
    size_t nsplit;
    par *par;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows")) b.rows = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dims")) b.dims = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--queries")) b.nq = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--threads")) threads = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rerank")) rerank = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--seed")) rng = strtoull(argv[i + 1], NULL, 10) | 1;
        else if (!strcmp(argv[i], "--store")) db = argv[i + 1];
        else if (!strcmp(argv[i], "--queries-file")) qfile = argv[i + 1];
        else return fprintf(stderr, "vecbench: unknown option %s\n", argv[i]), 2;
    }
    if (!k || threads < 1 || threads > MAX_PARTS || b.nq < 1)
        return fprintf(stderr, "vecbench: no kernel (RAGD_VEC_KERNEL?) or bad --threads\n"), 2;
    if (db) {
        if (!qfile || from_store(&b, db, qfile) != 0)
            return 1;
    } else {
        b.mat = aligned_alloc(64, (b.rows * b.dims * sizeof(float) + 63) / 64 * 64);
        b.queries = malloc(b.nq * b.dims * sizeof *b.queries);
        b.doc = malloc(b.rows * sizeof *b.doc);
        if (!b.mat || !b.queries || !b.doc || synthetic(&b) != 0)
            return fprintf(stderr, "vecbench: out of memory\n"), 1;
    }
    b.scale = malloc(b.dims * sizeof *b.scale);
    b.qmat = aligned_alloc(64, (b.rows * b.dims + 63) / 64 * 64);
    exact_tops = calloc(b.nq * K, sizeof *exact_tops);
    tops = calloc(b.nq * K, sizeof *tops);
    heaps = calloc((MAX_PARTS + 1) * (rerank > K ? rerank : K), sizeof *heaps);
    par = par_new(threads - 1);
    if (!b.scale || !b.qmat || !exact_tops || !tops || !heaps || !par)
        return fprintf(stderr, "vecbench: out of memory\n"), 1;
    vec_quant_rows(b.mat, b.rows, b.dims, b.scale, b.qmat);
    b.seg = (vec_rows){b.rows, b.dims, 0, b.mat, b.qmat, b.scale, b.doc, NULL, NULL};

    printf("%zu rows x %zu dims (%s), %zu queries, k %d, rerank %zu\n\n", b.rows, b.dims,
           db ? db : "Gaussian mixture", b.nq, K, rerank);
    printf("| scan | kernel | threads | p50 ms | mean ms | CPU ms | recall@10 |\n");
    printf("|---|---|---:|---:|---:|---:|---:|\n");
    measure("exact", EXACT, k, &b, par, threads, 0, rerank, exact_tops, heaps, &nsplit);
    printf(" (reference) |\n");
    if (threads == 1) {
        measure("before: exact, as it was", BEFORE, k, &b, par, 1, 0, rerank, tops, heaps, &nsplit);
        printf(" %.4f |\n", recall(&b, exact_tops, tops));
    }
    measure("int8 + re-rank", INT8, k, &b, par, threads, 0, rerank, tops, heaps, &nsplit);
    printf(" %.4f |\n", recall(&b, exact_tops, tops));
    if (threads > 1) {
        measure("exact, split as the rule allows", EXACT, k, &b, par, threads, 1, rerank, tops,
                heaps, &nsplit);
        printf(" %.4f (%zu of %zu split) |\n", recall(&b, exact_tops, tops), nsplit, b.nq);
        measure("int8 + re-rank, split as the rule allows", INT8, k, &b, par, threads, 1, rerank,
                tops, heaps, &nsplit);
        printf(" %.4f (%zu of %zu split) |\n", recall(&b, exact_tops, tops), nsplit, b.nq);
    }
    par_free(&par);
    return 0;
}
