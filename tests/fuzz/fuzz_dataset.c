/*
 * fuzz_dataset -- rag-eval's BEIR reader, eval_dataset_load.
 *
 * A dataset is three files in a folder, so each input is split into them
 * (at lines holding only "--"): qrels/test.tsv, then queries.jsonl, then
 * corpus.jsonl.  A part the input lacks is a missing file.  The folder is
 * made once, in /dev/shm when there is one, and removed at exit.
 *
 * Checks, beyond the sanitizers: a loaded dataset keeps the header's
 * promises (queries in qrels order, each with a text and distinct judged
 * documents); a refused one is left empty.  The reader explains failures
 * on stderr; run with -close_fd_mask=2 to keep that quiet.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "eval/dataset.h"
#include "fuzz.h"

static char fuzz_dir[64];
static char fuzz_files[3][96];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_cleanup(void)
{
    char qrels[80];

    for (int i = 0; i < 3; i++)
        unlink(fuzz_files[i]);
    snprintf(qrels, sizeof qrels, "%s/qrels", fuzz_dir);
    rmdir(qrels);
    rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char qrels[80];
    struct stat st;

    (void)argc;
    (void)argv;
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/fuzz_dataset.XXXXXX",
             stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
    if (!mkdtemp(fuzz_dir))
        abort();
    snprintf(qrels, sizeof qrels, "%s/qrels", fuzz_dir);
    if (mkdir(qrels, 0700) != 0)
        abort();
    snprintf(fuzz_files[0], sizeof fuzz_files[0], "%s/qrels/test.tsv", fuzz_dir);
    snprintf(fuzz_files[1], sizeof fuzz_files[1], "%s/queries.jsonl", fuzz_dir);
    snprintf(fuzz_files[2], sizeof fuzz_files[2], "%s/corpus.jsonl", fuzz_dir);
    atexit(fuzz_cleanup);
    return 0;
}

static void fuzz_write(const char *path, const fuzz_part *part)
{
    FILE *f;

    if (!part->p) {
        unlink(path);
        return;
    }
    if (!(f = fopen(path, "w")) || fwrite(part->p, 1, part->n, f) != part->n || fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part part[3];
    eval_dataset ds;

    fuzz_split(data, size, part, 3);
    for (int i = 0; i < 3; i++)
        fuzz_write(fuzz_files[i], &part[i]);
    if (eval_dataset_load(fuzz_dir, "test", &ds) == 0) {
        for (size_t i = 0; i < ds.nqueries; i++) {
            const eval_query *q = &ds.queries[i];
            fuzz_check(q->id && q->text && q->njudg > 0);
            fuzz_check(i == 0 || ds.queries[i - 1].first_line < q->first_line);
            for (size_t j = 0; j < q->njudg; j++) {
                fuzz_check(q->judg[j].doc != NULL);
                for (size_t k = 0; k < j; k++)
                    fuzz_check(strcmp(q->judg[k].doc, q->judg[j].doc) != 0);
            }
        }
    } else {
        fuzz_check(ds.queries == NULL && ds.nqueries == 0);
    }
    eval_dataset_free(&ds);
    return 0;
}
