/*
 * kbq -- run queries through both kb engines on one store: the FTS5 path
 * (store_kb_rank, the reference) and the in-memory index (kb_topk), the
 * way the kb source runs them (the best chunk of each document, a
 * metadata filter applied before the top k is cut, the winners' chunks
 * read from the store).
 *
 *   kbq --db PATH --queries FILE [--k N] [--filter JSON] [--check] [--bench]
 *       [--fts5-queries N] [--trace] [--threads N] [--split-cost N] [--rounds N]
 *       [--only index|split|adapt] [--slot-ms N] [--go FILE]
 *
 * FILE is JSON lines with a "text" field (BEIR queries.jsonl).  --check
 * compares the two top-k lists of every query and exits 1 on the first
 * difference that is not a tie (scores within a relative 1e-9); --bench
 * prints the index's build time and size and each engine's CPU time per
 * query and latency percentiles (FTS5 on the first N queries only with
 * --fts5-queries, as it is slow on large stores); --trace adds a line a
 * query on stderr (engine, number, milliseconds, the query), to find the
 * slow ones.  --threads N (default 1) splits a costly query's walk of the
 * index across N threads (kb_topk_split), those whose terms hold at least
 * --split-cost rows (default the kb source's): --check then checks the
 * split walk, and --bench times the index unsplit (index), split always
 * (index-tN) and split as far as split_ways allows at each query, as the
 * kb source does (adapt-tN), taking turns query by query, each query
 * --rounds N times (default 1), or one of them alone with --only.
 * --slot-ms N takes the turns by the clock instead, the mode changing
 * every N ms, so that several kbq processes (--go FILE makes each wait,
 * index built, until FILE exists) run the same mode at the same time,
 * as the workers of one server would.  PATH
 * may be a
 * postgres:// URL: the index alone then (--fts5-queries 0, no --check),
 * as bench/engines/kbpg runs it.  For tests and bench/engines/kb and kbpg
 * only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "filter.h"
#include "kb_index.h"
#include "kb_match.h"
#include "kb_topk.h"
#include "store.h"

#define KBQ_MAX_K 1000

/* One engine's answer to a query. */
typedef struct kbq_list {
    size_t n;
    char *ids[KBQ_MAX_K + 1];
    double scores[KBQ_MAX_K + 1];
} kbq_list;

/* The run's settings and state. */
typedef struct kbq {
    store *db;
    kb_index *ix;
    filter *flt;
    size_t k;
    kbq_list *out;
    int fallback;
    int trace;
    kb_topk_split split;
    const kb_topk_split *use; /* &split while the split is on, else NULL */
    _Atomic unsigned long nsplit; /* walks split so far (split.nsplit) */
} kbq;

static double kbq_now(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void kbq_list_clear(kbq_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->ids[i]);
    l->n = 0;
}

/* Whether the filter keeps document id with metadata text. */
static int kbq_keeps(const kbq *q, const char *id, const char *metadata)
{
    json_t *meta;
    int keep;

    if (!q->flt)
        return 1;
    meta = metadata ? json_loads(metadata, 0, NULL) : NULL;
    keep = filter_match(q->flt, id, meta);
    json_decref(meta);
    return keep;
}

static int kbq_add(kbq_list *l, const char *id, double score)
{
    if (!(l->ids[l->n] = strdup(id)))
        return -1;
    l->scores[l->n++] = score;
    return 0;
}

/* store_kb_rank's callback: kb.c's kb_take_hit. */
static int kbq_take(void *arg, int64_t chunk_id, double score)
{
    kbq *q = arg;
    store_hit sh;
    int rc = store_chunk_get(q->db, chunk_id, &sh);

    if (rc <= 0)
        return rc < 0;
    for (size_t i = 0; i < q->out->n; i++)
        if (strcmp(q->out->ids[i], sh.doc_id) == 0)
            return 0;
    if (!kbq_keeps(q, sh.doc_id, sh.metadata))
        return 0;
    if (kbq_add(q->out, sh.doc_id, score) != 0)
        return 1;
    return q->out->n >= q->k;
}

static int kbq_fts5(kbq *q, const char *match, kbq_list *out)
{
    q->out = out;
    return match[0] ? store_kb_rank(q->db, match, kbq_take, q) : 0;
}

static int kbq_index_keeps(void *arg, const char *doc_id)
{
    kbq *q = arg;
    const char *meta;
    int rc = store_doc_metadata(q->db, doc_id, &meta);

    return rc <= 0 ? rc : kbq_keeps(q, doc_id, meta);
}

static int kbq_index(kbq *q, const char *match, kbq_list *out)
{
    kb_topk_hit hits[KBQ_MAX_K + 1];
    char err[256];
    size_t n;
    int rc;

    if (!match[0])
        return 0;
    rc = kb_topk_search(q->ix, q->db, match, q->k, q->flt ? kbq_index_keeps : NULL, q, q->use,
                        hits, &n, err, sizeof err);
    if (rc == KB_TOPK_FALLBACK) {
        q->fallback++;
        return kbq_fts5(q, match, out);
    }
    if (rc != 0) {
        fprintf(stderr, "kbq: %s\n", err);
        return -1;
    }
    /* Read the winners, as the kb source does. */
    for (size_t i = 0; i < n; i++) {
        store_hit sh;
        if (store_chunk_get(q->db, hits[i].chunk_id, &sh) <= 0 ||
            kbq_add(out, hits[i].doc_id, hits[i].score) != 0)
            return -1;
    }
    return 0;
}

static int kbq_tie(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

/* Whether the score at i ties a neighbour's in l (the list has one more
 * entry than is compared, so a tie at the cut shows). */
static int kbq_ties_near(const kbq_list *l, size_t i)
{
    return (i > 0 && kbq_tie(l->scores[i], l->scores[i - 1])) ||
           (i + 1 < l->n && kbq_tie(l->scores[i], l->scores[i + 1]));
}

/* Compare the first k entries of ref and got.  Returns 0 when they agree
 * up to ties, else 1 with the difference printed; counts exact scores. */
static int kbq_compare(const char *qid, const kbq_list *ref, const kbq_list *got, size_t k,
                       size_t *exact, size_t *ties)
{
    size_t n = ref->n < k ? ref->n : k;

    if ((ref->n < k ? ref->n : k) != (got->n < k ? got->n : k)) {
        printf("query %s: %zu results from fts5, %zu from index\n", qid, ref->n, got->n);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!kbq_tie(ref->scores[i], got->scores[i])) {
            printf("query %s: rank %zu: fts5 %s %.17g, index %s %.17g\n", qid, i + 1,
                   ref->ids[i], ref->scores[i], got->ids[i], got->scores[i]);
            return 1;
        }
        *exact += ref->scores[i] == got->scores[i];
        if (strcmp(ref->ids[i], got->ids[i]) != 0) {
            if (!kbq_ties_near(ref, i) && !kbq_ties_near(got, i)) {
                printf("query %s: rank %zu: fts5 %s, index %s, no tie\n", qid, i + 1,
                       ref->ids[i], got->ids[i]);
                return 1;
            }
            ++*ties;
        }
    }
    return 0;
}

/* Read FILE's queries: (id, text) pairs into *ids, *texts. */
static size_t kbq_read_queries(const char *path, char ***ids, char ***texts)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, n = 0, room = 0;

    if (!f)
        return 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *t = json_string_value(json_object_get(o, "text"));
        const char *id = json_string_value(json_object_get(o, "_id"));
        if (t) {
            if (n == room) {
                room = room ? room * 2 : 1024;
                *ids = realloc(*ids, room * sizeof **ids);
                *texts = realloc(*texts, room * sizeof **texts);
            }
            (*ids)[n] = strdup(id ? id : "?");
            (*texts)[n++] = strdup(t);
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    return n;
}

static int kbq_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The load averages of the last 1, 5 and 15 minutes, into buf. */
static const char *kbq_load(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double a[3];

    if (!f || fscanf(f, "%lf %lf %lf", &a[0], &a[1], &a[2]) != 3)
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, "%.2f %.2f %.2f", a[0], a[1], a[2]);
    if (f)
        fclose(f);
    return buf;
}

/* One way of answering, as kbq_bench times it. */
typedef struct kbq_mode {
    const char *name;
    int (*run)(kbq *, const char *, kbq_list *);
    const kb_topk_split *use; /* the split (NULL: unsplit) */
    int adapt;                /* its adapt setting */
    double *lat, cpu;
    size_t n;            /* queries it ran */
    unsigned long split; /* its walks that were split */
} kbq_mode;

/* --only's argument: the index of its mode in main's modes, or -2. */
static int kbq_mode_index(const char *name)
{
    return !strcmp(name, "index") ? 0 : !strcmp(name, "split") ? 1 : !strcmp(name, "adapt") ? 2 : -2;
}

/* Run every query through each mode, rounds times: the modes take turns
 * query by query (their order rotating), or with slot_ms > 0 each query
 * runs in the mode of the wall clock's current slot of slot_ms
 * milliseconds (slot number modulo nm), so that processes started
 * together run the same mode at the same time.  Either way all modes meet
 * the same load.  Prints a line a mode. */
static int kbq_bench(kbq *q, kbq_mode *m, size_t nm, char **matches, size_t n, int rounds,
                     long slot_ms)
{
    size_t steps = n * (size_t)rounds * nm;
    kbq_list *l = calloc(1, sizeof *l);
    char load[64];
    int rc = -1;

    for (size_t j = 0; j < nm; j++)
        if (!(m[j].lat = malloc(steps * sizeof *m[j].lat)))
            goto done;
    for (size_t i = 0; i < steps; i++) {
        size_t slot = (size_t)(kbq_now(CLOCK_MONOTONIC) * 1e3 / (double)(slot_ms ? slot_ms : 1));
        kbq_mode *x = &m[slot_ms ? slot % nm : (i / nm + i % nm) % nm];
        double t0 = kbq_now(CLOCK_MONOTONIC), c0 = kbq_now(CLOCK_PROCESS_CPUTIME_ID), t;
        unsigned long s0 = q->nsplit;
        q->use = x->use;
        q->split.adapt = x->adapt;
        if (x->run(q, matches[i / nm % n], l) != 0)
            goto done;
        t = kbq_now(CLOCK_MONOTONIC) - t0;
        x->cpu += kbq_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        x->lat[x->n++] = t;
        x->split += q->nsplit - s0;
        if (q->trace)
            fprintf(stderr, "TRACE %s %zu %.3f %s\n", x->name, i / nm, t * 1e3,
                    matches[i / nm % n]);
        kbq_list_clear(l);
    }
    kbq_load(load, sizeof load);
    for (size_t j = 0; j < nm; j++) {
        double *lat = m[j].lat;
        size_t nl = m[j].n;
        if (!nl)
            continue;
        qsort(lat, nl, sizeof *lat, kbq_cmp_double);
        printf("%-8s %zu queries k=%zu: cpu %.4f ms/query, p50 %.3f ms, p99 %.3f ms, "
               "max %.3f ms, %lu split\n", m[j].name, nl, q->k, m[j].cpu * 1e3 / (double)nl,
               lat[nl / 2] * 1e3, lat[nl * 99 / 100] * 1e3, lat[nl - 1] * 1e3, m[j].split);
    }
    printf("load average at the end: %s\n", load);
    rc = 0;
done:
    for (size_t j = 0; j < nm; j++) {
        free(m[j].lat);
        m[j].lat = NULL;
    }
    free(l);
    return rc;
}

static long kbq_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;

    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    const char *dbpath = NULL, *qpath = NULL, *fjson = NULL, *go = NULL;
    int check = 0, bench = 0, bad = 0;
    char **ids = NULL, **texts = NULL, **matches, err[512];
    size_t nq, exact = 0, ties = 0, compared = 0, nfts5 = (size_t)-1;
    kbq q = {.k = 10, .split = {NULL, 1, KB_TOPK_SPLIT_COST, 0, NULL}};
    char always_name[32], adapt_name[32];
    int rounds = 1, only = -1;
    long slot_ms = 0;
    kb_index_info info;
    json_t *spec = NULL;
    double t0, c0;
    long rss0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            dbpath = argv[++i];
        else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            qpath = argv[++i];
        else if (!strcmp(argv[i], "--k") && i + 1 < argc)
            q.k = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            fjson = argv[++i];
        else if (!strcmp(argv[i], "--fts5-queries") && i + 1 < argc)
            nfts5 = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--check"))
            check = 1;
        else if (!strcmp(argv[i], "--bench"))
            bench = 1;
        else if (!strcmp(argv[i], "--trace"))
            q.trace = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            q.split.nparts = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--split-cost") && i + 1 < argc)
            q.split.min_cost = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--slot-ms") && i + 1 < argc)
            slot_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--go") && i + 1 < argc)
            go = argv[++i];
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = kbq_mode_index(argv[++i]);
        else {
            fprintf(stderr, "usage: kbq --db PATH --queries FILE [--k N] [--filter JSON] "
                            "[--check] [--bench] [--fts5-queries N] [--trace] [--threads N] "
                            "[--split-cost N] [--rounds N] [--only index|split|adapt] [--slot-ms N] [--go FILE]\n");
            return 2;
        }
    }
    if (!dbpath || !qpath || q.k < 1 || q.k >= KBQ_MAX_K || q.split.nparts < 1 ||
        q.split.nparts > 64 || rounds < 1 || only == -2 || slot_ms < 0)
        return fprintf(stderr, "kbq: --db and --queries are required, 1 <= k < %d, "
                       "1 <= threads <= 64, rounds >= 1, --only index, split or adapt\n",
                       KBQ_MAX_K), 2;
    if (q.split.nparts > 1 && !(q.split.par = par_new(q.split.nparts - 1)))
        return fprintf(stderr, "kbq: cannot start %u threads\n", q.split.nparts), 2;
    if (q.split.par)
        q.use = &q.split;
    q.split.nsplit = &q.nsplit;
    store_process_init();
    if (fjson && (!(spec = json_loads(fjson, 0, NULL)) ||
                  filter_parse(spec, &q.flt, err, sizeof err) != 0))
        return fprintf(stderr, "kbq: bad filter %s\n", fjson), 2;
    /* A PostgreSQL store has the index alone: no FTS5 to check against. */
    if (store_open(dbpath, 0, &q.db, err, sizeof err) != 0 ||
        (!store_is_url(dbpath) && store_kb_prepare(q.db, 1.0, 1.0) != 0))
        return fprintf(stderr, "kbq: %s\n", q.db ? store_errmsg(q.db) : err), 2;
    if (!(nq = kbq_read_queries(qpath, &ids, &texts)))
        return fprintf(stderr, "kbq: no queries in %s\n", qpath), 2;
    matches = calloc(nq, sizeof *matches);
    for (size_t i = 0; i < nq; i++)
        matches[i] = kb_match_expr(texts[i]);
    rss0 = kbq_rss_kib();
    t0 = kbq_now(CLOCK_MONOTONIC);
    c0 = kbq_now(CLOCK_PROCESS_CPUTIME_ID);
    if (kb_index_load(q.db, 1.0, 1.0, &q.ix, err, sizeof err) != 0)
        return fprintf(stderr, "kbq: %s\n", err), 2;
    kb_index_info_get(q.ix, &info);
    printf("index: %zu rows, %zu terms, built in %.2f s (%.2f s CPU), %.1f MiB counted, "
           "RSS +%.1f MiB\n", info.rows, info.terms, kbq_now(CLOCK_MONOTONIC) - t0,
           kbq_now(CLOCK_PROCESS_CPUTIME_ID) - c0, (double)info.bytes / 1048576.0,
           (double)(kbq_rss_kib() - rss0) / 1024.0);
    if (check) {
        kbq_list *ref = calloc(1, sizeof *ref), *got = calloc(1, sizeof *got);
        size_t k = q.k;
        q.k = k + 1; /* one more, to see ties at the cut */
        for (size_t i = 0; i < nq && !bad; i++) {
            if (kbq_fts5(&q, matches[i], ref) != 0 || kbq_index(&q, matches[i], got) != 0) {
                printf("query %s: %s\n", ids[i], store_errmsg(q.db));
                bad = 1;
            } else {
                bad = kbq_compare(ids[i], ref, got, k, &exact, &ties);
                compared += ref->n < k ? ref->n : k;
            }
            kbq_list_clear(ref);
            kbq_list_clear(got);
        }
        q.k = k;
        printf("check: %zu queries, %zu results compared, %zu scores bit-identical, "
               "%zu tied swaps, %d ranked by fts5 (multi-token words): %s\n",
               nq, compared, exact, ties, q.fallback, bad ? "DIFFERENT" : "identical");
        free(ref);
        free(got);
    }
    if (bench && !bad) {
        kbq_mode fts5 = {"fts5", kbq_fts5, NULL, 0, NULL, 0, 0, 0};
        kbq_mode modes[3] = {{"index", kbq_index, NULL, 0, NULL, 0, 0, 0},
                             {always_name, kbq_index, &q.split, 0, NULL, 0, 0, 0},
                             {adapt_name, kbq_index, &q.split, 1, NULL, 0, 0, 0}};
        snprintf(always_name, sizeof always_name, "index-t%u", q.split.nparts);
        snprintf(adapt_name, sizeof adapt_name, "adapt-t%u", q.split.nparts);
        q.fallback = 0;
        while (go && access(go, F_OK) != 0)
            usleep(10000);
        if (nfts5 && kbq_bench(&q, &fts5, 1, matches, nfts5 < nq ? nfts5 : nq, 1, 0) != 0)
            bad = 1;
        if (!bad && kbq_bench(&q, only >= 0 ? &modes[only] : modes,
                              only >= 0 ? 1 : q.split.par ? 3 : 1, matches, nq, rounds,
                              slot_ms) != 0)
            bad = 1;
    }
    for (size_t i = 0; i < nq; i++) {
        free(ids[i]);
        free(texts[i]);
        free(matches[i]);
    }
    free(ids);
    free(texts);
    free(matches);
    kb_index_drop(&q.ix);
    filter_free(&q.flt);
    json_decref(spec);
    store_close(&q.db);
    par_free(&q.split.par);
    return bad;
}
