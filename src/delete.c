/*
 * delete -- `ragd delete` (delete.h): one store transaction per id, so an
 * interrupted run leaves every document whole or gone.
 */
#include "delete.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

static const char delete_usage[] =
    "usage: ragd delete --db FILE ID...\n"
    "\n"
    "Delete the documents with these ids from the store, with their chunks,\n"
    "vectors and full-text entries.  Exit status: 0 all deleted, 1 one was\n"
    "not found or the store failed, 2 bad arguments.\n";

int delete_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *db = NULL;
    char err[1024];
    store *s = NULL;
    int c, rc = 0;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(delete_usage, stdout);
            return 0;
        }
        if (c != 'd') {
            fprintf(stderr, "ragd delete: unknown option or missing value (see 'ragd delete "
                    "--help')\n");
            return 2;
        }
        db = optarg;
    }
    if (!db || optind >= argc) {
        fprintf(stderr, "ragd delete: %s (see 'ragd delete --help')\n",
                !db ? "--db FILE is required" : "no document id given");
        return 2;
    }
    if (store_open(db, 1, &s, err, sizeof err) < 0) {
        fprintf(stderr, "ragd delete: %s\n", err);
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        int r = store_delete(s, argv[i]);
        if (r < 0) {
            fprintf(stderr, "ragd delete: %s: %s\n", argv[i], store_errmsg(s));
            rc = 1;
            break;
        }
        printf(r ? "deleted %s\n" : "not found: %s\n", argv[i]);
        if (!r)
            rc = 1;
    }
    store_close(&s);
    return rc;
}
