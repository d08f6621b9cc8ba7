/*
 * main -- the ragd command: process-wide setup, then `ragd ingest`,
 * `ragd delete` or `ragd serve`.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "delete.h"
#include "ingest.h"
#include "migrate.h"
#include "serve.h"
#include "store.h"

static const char main_usage[] =
    "usage: ragd COMMAND [options]\n"
    "\n"
    "A retrieval service: /search asks a vector store, a knowledge base and a\n"
    "web search API at once and fuses what answers in time.\n"
    "\n"
    "commands:\n"
    "  ingest   load documents into a store  (ragd ingest --help)\n"
    "  delete   delete documents from a store (ragd delete --db FILE ID...)\n"
    "  serve    serve /search over HTTP      (ragd serve --help)\n"
    "  migrate  copy a store: a file to PostgreSQL, or back (ragd migrate --help)\n"
    "\n"
    "  ragd --help      this text\n"
    "  ragd --version   the version\n";

int main(int argc, char **argv)
{
    int rc;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(main_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ragd %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "serve") && strcmp(argv[1], "ingest") && strcmp(argv[1], "delete") &&
        strcmp(argv[1], "migrate")) {
        fprintf(stderr, "ragd: unknown command \"%s\" (see 'ragd --help')\n", argv[1]);
        return 2;
    }
    store_process_init();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || evthread_use_pthreads() != 0) {
        fprintf(stderr, "ragd: cannot initialise libcurl or libevent threads\n");
        return 1;
    }
    rc = !strcmp(argv[1], "serve")    ? serve_main(argc - 1, argv + 1)
         : !strcmp(argv[1], "delete") ? delete_main(argc - 1, argv + 1)
         : !strcmp(argv[1], "migrate") ? migrate_main(argc - 1, argv + 1)
                                      : ingest_main(argc - 1, argv + 1);
    libevent_global_shutdown();
    curl_global_cleanup();
    return rc;
}
