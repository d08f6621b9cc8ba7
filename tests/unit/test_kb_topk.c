/* The kb index's window walk (sources/kb/kb_topk.c) on a store of
 * several windows against FTS5: long queries of many middling-frequency
 * words (where most terms stay essential and the walk's sums and probes
 * do the work), short and rare ones (where whole windows are skipped),
 * documents whose chunks straddle a window's edge, a deeper k, a filter,
 * and tombstones and a delta segment after deletes and puts.  Every
 * answer must be FTS5's: the same documents, scores within a relative
 * 1e-9, order free only among ties, and the index's answer must not
 * change when it is rebuilt.  Every query is also answered by a walk split
 * in 512 ranges of some 30 rows (so that many documents straddle two) on
 * three helper threads (kb_topk_split), which must give the unsplit walk's
 * answer exactly: the same chunks, scores to the bit, the same order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sources/kb/kb_index.h"
#include "../../sources/kb/kb_match.h"
#include "../../sources/kb/kb_topk.h"
#include "filter.h"
#include "store.h"
#include "kbcorpus.h"
#include "tap.h"

#define KMAX 100
#define NWORDS 1500
/* About 2.5 chunks a document: some 15,000 rows, three windows and more. */
#define NDOCS 6000

static char words[NWORDS][16];
/* Every query is split, however cheap, in ranges smaller than most
 * documents. */
static kb_topk_split split = {NULL, 512, 0, 0, NULL};
static kbcorpus corpus = {20261127, words, NWORDS, 4, 5, 40};

/* ------------------------------------------------------- the answers -- */

/* --------------------------------------------------------------- checks -- */

/* A query of n words: common ones, or (rare) from the rarest tenth only. */
static char *query(unsigned n, int rare)
{
    char text[1024] = "";
    size_t off = 0;

    for (unsigned i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "%s%s", i ? " " : "",
                                rare ? words[NWORDS - 1 - kbcorpus_rnd(&corpus, NWORDS / 10)] : kbcorpus_word(&corpus));
    return kb_match_expr(text);
}

/* nq queries of between lo and hi words through the index (and a rebuilt
 * one when fresh is not NULL) and FTS5, k - 1 compared.  Returns the
 * number of disagreements, each printed. */
static int compare(store *db, const kb_index *ix, const kb_index *fresh, const filter *flt,
                   size_t k, int nq, unsigned lo, unsigned hi, int rare)
{
    int bad = 0;

    for (int i = 0; i < nq; i++) {
        char *match = query(lo + kbcorpus_rnd(&corpus, hi - lo + 1), rare);
        kbcorpus_answer ref, got, again, parts;

        if (kbcorpus_fts5(db, match, flt, k, &ref) != 0 ||
            kbcorpus_index(ix, db, match, flt, k, NULL, &got) != 0 ||
            kbcorpus_index(ix, db, match, flt, k, &split, &parts) != 0 ||
            (fresh && kbcorpus_index(fresh, db, match, flt, k, NULL, &again) != 0)) {
            printf("# query [%s] failed: %s\n", match, store_errmsg(db));
            bad++;
        } else if (!kbcorpus_same_up_to_ties(&ref, &got, k - 1)) {
            printf("# query [%s]: index and fts5 differ: %s %.17g / %s %.17g\n", match,
                   ref.ids[0], ref.scores[0], got.ids[0], got.scores[0]);
            bad++;
        } else if (!kbcorpus_same_exactly(&got, &parts)) {
            printf("# query [%s]: split and unsplit differ\n", match);
            bad++;
        } else if (fresh && !kbcorpus_same_exactly(&got, &again)) {
            printf("# query [%s]: live and rebuilt differ\n", match);
            bad++;
        }
        free(match);
    }
    return bad;
}

/* Delete a tenth of the documents and put a few hundred more (some of
 * them replacing deleted ones), then refresh *live from the change log. */
static int churn(store *wr, store *rd, kb_index **live)
{
    kb_index *next = NULL;
    size_t changed;
    char err[512], id[32];
    int failed = 0;

    for (unsigned d = 0; d < NDOCS; d += 10) {
        snprintf(id, sizeof id, "doc%u", d + kbcorpus_rnd(&corpus, 10));
        failed |= store_delete(wr, id) < 0;
    }
    for (unsigned i = 0; i < 300; i++)
        failed |= kbcorpus_put(&corpus, wr, i % 2 ? NDOCS + i : kbcorpus_rnd(&corpus, NDOCS)) != 0;
    if (failed || kb_index_refresh(rd, *live, &next, &changed, err, sizeof err) != 0) {
        printf("# churn: %s\n", failed ? "a put or delete failed" : err);
        return -1;
    }
    if (next) {
        kb_index_drop(live);
        *live = next;
    }
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/test_kb_topk.XXXXXX", path[128], err[512];
    store *wr = NULL, *rd = NULL;
    kb_index *live = NULL, *fresh = NULL;
    json_t *spec = json_pack("{s{s[ii]}}", "g", "$in", 0, 2);
    filter *flt = NULL;
    kb_index_info info;

    store_process_init();
    if (!(split.par = par_new(3))) {
        printf("Bail out! threads\n");
        return 1;
    }
    for (int i = 0; i < NWORDS; i++)
        snprintf(words[i], sizeof words[i], "%c%c%cw%d", 'a' + i % 26, 'a' + i / 26 % 26,
                 'a' + i * 7 % 26, i % 17);
    if (!mkdtemp(dir) || filter_parse(spec, &flt, err, sizeof err) != 0) {
        printf("Bail out! setup\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/kb.db", dir);
    ok(store_open(path, 1, &wr, err, sizeof err) == 0, "a writable store");
    for (unsigned d = 0; d < NDOCS; d++)
        kbcorpus_put(&corpus, wr, d);
    ok(store_open(path, 0, &rd, err, sizeof err) == 0, "a reading handle");
    ok(store_kb_prepare(rd, 1.0, 1.0) == 0, "fts5 ranking");
    ok(kb_index_load(rd, 1.0, 1.0, &live, err, sizeof err) == 0, "index loaded: %s",
       live ? "" : err);
    if (!live)
        return tap_done();
    kb_index_info_get(live, &info);
    ok(info.rows > 3 * 4096, "%zu rows: several windows", info.rows);
    is_int(compare(rd, live, NULL, NULL, 11, 150, 8, 40, 0), 0,
           "long queries of common words answer as fts5 (k = 10)");
    is_int(compare(rd, live, NULL, NULL, 11, 100, 1, 4, 0), 0, "... and short ones");
    is_int(compare(rd, live, NULL, NULL, 11, 60, 1, 3, 1), 0, "... and rare words only");
    is_int(compare(rd, live, NULL, NULL, KMAX + 1, 60, 5, 30, 0), 0, "... with k = %d", KMAX);
    is_int(compare(rd, live, NULL, flt, 11, 80, 5, 30, 0), 0, "... through a filter");
    ok(churn(wr, rd, &live) == 0, "deletes and puts applied through the change log");
    kb_index_info_get(live, &info);
    ok(info.parts > 1, "the live index has a delta segment (%zu parts)", info.parts);
    ok(kb_index_load(rd, 1.0, 1.0, &fresh, err, sizeof err) == 0, "a rebuilt index: %s",
       fresh ? "" : err);
    if (fresh) {
        is_int(compare(rd, live, fresh, NULL, 11, 150, 5, 40, 0), 0,
               "with tombstones: live == rebuilt == fts5");
        is_int(compare(rd, live, fresh, flt, 11, 60, 5, 30, 0), 0, "... through a filter");
    }
    kb_index_drop(&fresh);
    kb_index_drop(&live);
    store_close(&rd);
    store_close(&wr);
    filter_free(&flt);
    json_decref(spec);
    par_free(&split.par);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    if (system(path) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
