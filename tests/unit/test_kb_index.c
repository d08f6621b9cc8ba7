/* The kb index (sources/kb/kb_index.c, kb_topk.c) against FTS5 and
 * against itself: on a generated corpus, an index kept current through
 * the change log by many small puts and deletes answers exactly as one
 * rebuilt from scratch (same documents, same scores to the bit), and both
 * answer as the FTS5 path does (the same documents, scores within a
 * relative 1e-9, order free only among ties), with and without a
 * metadata filter and with other column weights. */
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

#define K 10
#define NWORDS 400
#define NDOCS 300

static char words[NWORDS][16];
static kbcorpus corpus = {42, words, NWORDS, 5, 3, 80};

/* ------------------------------------------------------- the answers -- */

/* --------------------------------------------------------------- checks -- */

/* Run nq random queries on the live index, a rebuilt one and FTS5.
 * Returns the number of disagreements (each printed). */
static int compare_all(store *rd, const kb_index *live, double tw, double xw, int nq,
                       const filter *flt)
{
    kb_index *fresh = NULL;
    kb_index_info a, b;
    char err[512];
    int bad = 0;

    if (kb_index_load(rd, tw, xw, &fresh, err, sizeof err) != 0) {
        printf("# load: %s\n", err);
        return 1;
    }
    kb_index_info_get(live, &a);
    kb_index_info_get(fresh, &b);
    if (a.rows != b.rows || a.seq != b.seq) {
        printf("# live has %zu rows at %lld, rebuilt %zu at %lld\n", a.rows, (long long)a.seq,
               b.rows, (long long)b.seq);
        bad++;
    }
    for (int i = 0; i < nq; i++) {
        char text[256] = "";
        char *match;
        kbcorpus_answer ref, got, again;

        kbcorpus_words_into(&corpus, text, sizeof text, 1 + kbcorpus_rnd(&corpus, 6));
        if (kbcorpus_rnd(&corpus, 4) == 0)
            strcat(text, " the of and");
        match = kb_match_expr(text);
        if (kbcorpus_fts5(rd, match, flt, K + 1, &ref) != 0 ||
            kbcorpus_index(live, rd, match, flt, K + 1, NULL, &got) != 0 ||
            kbcorpus_index(fresh, rd, match, flt, K + 1, NULL, &again) != 0) {
            printf("# query [%s] failed: %s\n", match, store_errmsg(rd));
            bad++;
        } else if (!kbcorpus_same_exactly(&got, &again)) {
            printf("# query [%s]: live and rebuilt differ\n", match);
            bad++;
        } else if (!kbcorpus_same_up_to_ties(&ref, &got, K)) {
            printf("# query [%s]: index and fts5 differ: %s %.17g / %s %.17g\n", match,
                   ref.ids[0], ref.scores[0], got.ids[0], got.scores[0]);
            bad++;
        }
        free(match);
    }
    kb_index_drop(&fresh);
    return bad;
}

/* Append word w and a space to buf (of size cap), when it fits. */
static void add_word(char *buf, size_t cap, const char *w)
{
    size_t n = strlen(buf), m = strlen(w);

    if (n + m + 2 <= cap) {
        memcpy(buf + n, w, m);
        buf[n + m] = ' ';
        buf[n + m + 1] = '\0';
    }
}

/* Documents whose counts need more than the one byte a posting's two
 * counts usually take (kb_block.h): a title holding a word 3, 4 and 7
 * times, texts holding one 40 and 200 times; the last is 401 tokens long,
 * past the byte of the segment's length table (kb_index_int.h). */
static int put_repeats(store *wr)
{
    static const unsigned tcount[4] = {3, 4, 7, 1}, xcount[4] = {40, 2, 33, 200};
    char id[16], title[512], text[8192];

    for (unsigned d = 0; d < 4; d++) {
        store_chunk chunk;
        store_doc doc = {.id = id, .title = title, .metadata = "{}", .chunks = &chunk,
                         .nchunks = 1, .fts = 1};
        title[0] = text[0] = '\0';
        snprintf(id, sizeof id, "rep%u", d);
        for (unsigned i = 0; i < tcount[d]; i++)
            add_word(title, sizeof title, words[d]);
        for (unsigned i = 0; i < xcount[d]; i++) {
            add_word(text, sizeof text, words[d]);
            add_word(text, sizeof text, words[5]);
        }
        chunk = (store_chunk){text, strlen(text)};
        if (store_put(wr, &doc) != 0)
            return -1;
    }
    return 0;
}

/* Whether the index answers the query text as fts5 does. */
static int same_as_fts5(store *rd, const kb_index *ix, const char *text)
{
    char *match = kb_match_expr(text);
    kbcorpus_answer ref, got;
    int same = match && kbcorpus_fts5(rd, match, NULL, K + 1, &ref) == 0 &&
               kbcorpus_index(ix, rd, match, NULL, K + 1, NULL, &got) == 0 &&
               kbcorpus_same_up_to_ties(&ref, &got, K);

    free(match);
    return same;
}

/* Apply the change log to *live. */
static int catch_up(store *rd, kb_index **live)
{
    kb_index *next = NULL;
    size_t changed;
    char err[512];

    if (kb_index_refresh(rd, *live, &next, &changed, err, sizeof err) != 0) {
        printf("# refresh: %s\n", err);
        return -1;
    }
    if (next) {
        kb_index_drop(live);
        *live = next;
    }
    return 0;
}

/* Many small changes, each followed by a refresh; checks now and then. */
static void churn(store *wr, store *rd, kb_index **live, double tw, double xw, const filter *flt)
{
    int bad = 0, failed = 0, checks = 0;
    size_t maxparts = 0;

    for (int step = 1; step <= 240; step++) {
        unsigned ops = 1 + kbcorpus_rnd(&corpus, 3);
        kb_index_info info;
        for (unsigned o = 0; o < ops; o++) {
            unsigned d = kbcorpus_rnd(&corpus, NDOCS + 40);
            char id[32];
            snprintf(id, sizeof id, "doc%u", d);
            /* A quarter deletes (some of documents that never were). */
            if (kbcorpus_rnd(&corpus, 4) == 0)
                failed |= store_delete(wr, id) < 0;
            else
                failed |= kbcorpus_put(&corpus, wr, d) != 0;
        }
        failed |= catch_up(rd, live) != 0;
        kb_index_info_get(*live, &info);
        if (info.parts > maxparts)
            maxparts = info.parts;
        if (step % 40 == 0) {
            bad += compare_all(rd, *live, tw, xw, 40, step % 80 ? NULL : flt);
            checks++;
        }
    }
    ok(!failed, "240 rounds of puts and deletes applied through the change log");
    ok(maxparts > 1, "the live index grew delta segments (at most %zu)", maxparts);
    is_int(bad, 0, "live == rebuilt == fts5 at %d checkpoints (weights %g, %g)", checks, tw, xw);
}

int main(void)
{
    char dir[] = "/tmp/test_kb_index.XXXXXX", path[128], err[512];
    store *wr = NULL, *rd = NULL;
    kb_index *live = NULL;
    json_t *spec = json_pack("{s{s[ii]}}", "g", "$in", 0, 2);
    filter *flt = NULL;
    double weights[][2] = {{1.0, 1.0}, {2.5, 0.75}};

    store_process_init();
    for (int i = 0; i < NWORDS; i++)
        snprintf(words[i], sizeof words[i], "%c%c%cword%d", 'a' + i % 26, 'a' + i / 26 % 26,
                 'a' + i * 7 % 26, i % 13);
    /* A few stemmed forms, so two query words can be one token. */
    snprintf(words[1], sizeof words[1], "running");
    snprintf(words[2], sizeof words[2], "runs");
    if (!mkdtemp(dir) || filter_parse(spec, &flt, err, sizeof err) != 0) {
        printf("Bail out! setup\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/kb.db", dir);
    ok(store_open(path, 1, &wr, err, sizeof err) == 0, "a writable store");
    for (unsigned d = 0; d < NDOCS; d++)
        kbcorpus_put(&corpus, wr, d);
    ok(put_repeats(wr) == 0, "documents with words repeated in title and text");
    ok(store_open(path, 0, &rd, err, sizeof err) == 0, "a reading handle");
    for (size_t w = 0; w < sizeof weights / sizeof *weights; w++) {
        double tw = weights[w][0], xw = weights[w][1];
        ok(store_kb_prepare(rd, tw, xw) == 0, "fts5 ranking with weights %g, %g", tw, xw);
        ok(kb_index_load(rd, tw, xw, &live, err, sizeof err) == 0, "index loaded: %s",
           live ? "" : err);
        if (!live)
            break;
        for (int i = 0; i < 4; i++)
            ok(same_as_fts5(rd, live, words[i]), "title count %d, text count %d: as fts5",
               i == 0 ? 3 : i == 1 ? 4 : i == 2 ? 7 : 1, i == 0 ? 40 : i == 1 ? 2 : i == 2 ? 33 : 200);
        is_int(compare_all(rd, live, tw, xw, 200, NULL), 0, "a fresh index answers as fts5");
        is_int(compare_all(rd, live, tw, xw, 100, flt), 0, "... with a filter too");
        churn(wr, rd, &live, tw, xw, flt);
        kb_index_drop(&live);
    }
    store_close(&rd);
    store_close(&wr);
    filter_free(&flt);
    json_decref(spec);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    if (system(path) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
