/*
 * main -- the rag-eval command: scores ragd's retrieval on BEIR datasets
 * (`rag-eval run`) and gates regressions between two reports
 * (`rag-eval compare`).  Argument parsing only; the work is in run.c and
 * compare.c.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/compare.h"
#include "eval/run.h"

#define EVAL_MAX_CONCURRENCY 1024

static const char eval_usage[] =
    "usage: rag-eval run --dataset DIR --url http://HOST:PORT [options]\n"
    "       rag-eval compare BASE.json NEW.json [--max-drop 0.01]\n"
    "\n"
    "Scores ragd's retrieval on a BEIR dataset (rag-eval run --help), and\n"
    "compares two reports (rag-eval compare --help).\n";

static const char eval_run_usage[] =
    "usage: rag-eval run --dataset DIR --url http://HOST:PORT [--split test] [--k 100]\n"
    "                    [--concurrency 8] [--out eval-out] [--ingest --db FILE [--ragd PATH]]\n"
    "\n"
    "Runs every query of DIR/qrels/SPLIT.tsv through POST /search of a running\n"
    "ragd (\"generate\": false): once per enabled source (\"sources\": [name]) and\n"
    "once fused (all sources).  Writes into --out: report.json\n"
    "(schemas/eval-report.schema.json), summary.md, chart.svg and TREC run files\n"
    "runs/<source>.trec and runs/fused.trec.\n"
    "\n"
    "  --dataset DIR      BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv\n"
    "  --url URL          ragd's base URL, e.g. http://127.0.0.1:8080\n"
    "  --split NAME       qrels split (default test)\n"
    "  --k N              results asked per query, 1..100 (default 100)\n"
    "  --concurrency N    requests in flight (default 8)\n"
    "  --out DIR          output folder (default eval-out)\n"
    "  --ingest           first run `PATH ingest --db FILE DIR/corpus.jsonl`\n"
    "                     (only the ingest: start ragd on FILE yourself; rag-eval\n"
    "                     then waits 2 s for ragd's vector source to reload it)\n"
    "  --db FILE          the store --ingest writes\n"
    "  --ragd PATH        the ragd binary for --ingest (default: ragd from $PATH)\n"
    "\n"
    "Metrics are those of `trec_eval -c -m ndcg_cut.10 -m recall.10,100 -m recip_rank`\n"
    "on the run files: averaged over every query of the split (no answer scores 0);\n"
    "a run is ordered by score, ties by document id descending, as trec_eval does\n"
    "(ragd's order is kept by writing strictly decreasing scores); MRR is cut at\n"
    "rank 10 (MRR@10, as BEIR reports it).  A request that fails (HTTP error, bad\n"
    "JSON) is retried once, then scored as empty and counted as a failure.\n"
    "\n"
    "Exit status: 0 done, 2 unusable input, unreachable ragd or unwritable output.\n";

static const char eval_compare_usage[] =
    "usage: rag-eval compare BASE.json NEW.json [--max-drop 0.01]\n"
    "\n"
    "Prints, for each run present in both reports, base, new and delta of\n"
    "ndcg@10, recall@10, recall@100 and mrr@10.\n"
    "\n"
    "  --max-drop X   largest acceptable absolute drop of any metric (default 0.01)\n"
    "\n"
    "Exit status: 0 no metric dropped by more than X, 1 some did, 2 unusable input.\n";

/* A whole-string integer in [lo, hi]; -1 after naming the option. */
static int eval_main_parse_int(const char *opt, const char *s, long lo, long hi, long *v)
{
    char *end;

    errno = 0;
    *v = strtol(s, &end, 10);
    if (errno || end == s || *end || *v < lo || *v > hi) {
        fprintf(stderr, "rag-eval: %s: expected an integer from %ld to %ld, got \"%s\"\n",
                opt, lo, hi, s);
        return -1;
    }
    return 0;
}

/* Fill o from run's arguments; returns -1 (exit 2), 1 (--help, exit 0), 0. */
static int eval_main_parse_run(int argc, char **argv, eval_opts *o)
{
    static const struct option opts[] = {
        {"dataset", required_argument, NULL, 'd'}, {"url", required_argument, NULL, 'u'},
        {"split", required_argument, NULL, 's'}, {"k", required_argument, NULL, 'k'},
        {"concurrency", required_argument, NULL, 'c'}, {"out", required_argument, NULL, 'o'},
        {"ingest", no_argument, NULL, 'i'}, {"db", required_argument, NULL, 'b'},
        {"ragd", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long v;
    int c;

    *o = (eval_opts){.split = "test", .out = "eval-out", .k = 100, .concurrency = 8};
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dataset = optarg; break;
        case 'u': o->url = optarg; break;
        case 's': o->split = optarg; break;
        case 'o': o->out = optarg; break;
        case 'i': o->ingest = 1; break;
        case 'b': o->db = optarg; break;
        case 'r': o->ragd = optarg; break;
        case 'h': fputs(eval_run_usage, stdout); return 1;
        case 'k':
            if (eval_main_parse_int("--k", optarg, 1, EVAL_CURVE_MAX, &v) < 0)
                return -1;
            o->k = (int)v;
            break;
        case 'c':
            if (eval_main_parse_int("--concurrency", optarg, 1, EVAL_MAX_CONCURRENCY, &v) < 0)
                return -1;
            o->concurrency = (size_t)v;
            break;
        default: fputs(eval_run_usage, stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rag-eval: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!o->dataset || !o->url) {
        fprintf(stderr, "rag-eval: run needs --dataset DIR and --url URL (rag-eval run --help)\n");
        return -1;
    }
    if ((o->ingest && !o->db) || (!o->ingest && (o->db || o->ragd))) {
        fprintf(stderr, "rag-eval: --ingest and --db FILE go together (--ragd needs both)\n");
        return -1;
    }
    if (strchr(o->split, '/')) {
        fprintf(stderr, "rag-eval: --split: a name like test, not a path\n");
        return -1;
    }
    return 0;
}

static int eval_main_cmd_run(int argc, char **argv)
{
    eval_opts o;
    int rc = eval_main_parse_run(argc, argv, &o);

    if (rc)
        return rc > 0 ? 0 : 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "rag-eval: cannot initialise libcurl\n");
        return 2;
    }
    rc = eval_run_main(&o);
    curl_global_cleanup();
    return rc;
}

static int eval_main_cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"max-drop", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double max_drop = 0.01;
    char *end;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(eval_compare_usage, stdout);
            return 0;
        }
        if (c != 'm') {
            fputs(eval_compare_usage, stderr);
            return 2;
        }
        max_drop = strtod(optarg, &end);
        if (end == optarg || *end || !(max_drop >= 0)) {
            fprintf(stderr, "rag-eval: --max-drop: expected a number >= 0, got \"%s\"\n", optarg);
            return 2;
        }
    }
    if (argc - optind != 2) {
        fputs(eval_compare_usage, stderr);
        return 2;
    }
    return eval_compare_main(argv[optind], argv[optind + 1], max_drop);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(eval_usage, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(eval_usage, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "run"))
        return eval_main_cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "compare"))
        return eval_main_cmd_compare(argc - 1, argv + 1);
    fprintf(stderr, "rag-eval: unknown command \"%s\"\n%s", argv[1], eval_usage);
    return 2;
}
