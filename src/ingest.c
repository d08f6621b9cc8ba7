/*
 * ingest -- the `ragd ingest` command: loading documents into the store.
 *
 * Documents stream in from the inputs into a batch; a full batch is chunked,
 * embedded (before its transaction, so a slow embedding service never holds
 * the write lock) and put into the store in one transaction.  WAL plus one transaction per batch is what makes kill -9
 * safe: it loses the batch in flight and nothing else.  Not for the server:
 * this blocks, prints and exits.
 */
#include "ingest.h"

#include "chunk.h"
#include "embed.h"
#include "ingest_read.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INGEST_DEFAULT_BATCH 256
#define INGEST_MAX_BATCH 1000000L
/* Texts per embeddings request: well under every service's limit. */
#define INGEST_EMBED_GROUP 64
#define INGEST_DEFAULT_MODEL STORE_OPENAI_DEFAULT_MODEL
#define INGEST_KEY_ENV "RAGD_EMBED_API_KEY"
/* Seconds between progress redraws: often enough to look alive, rarely
 * enough to cost nothing. */
#define INGEST_PROGRESS_EVERY 0.25

enum { INTO_VECTOR = 1, INTO_KB = 2 };

/* Exit statuses of ingest_main. */
enum { INGEST_OK = 0, INGEST_FAIL = 1, INGEST_USAGE = 2 };

static const char ingest_usage[] =
    "usage: ragd ingest --db FILE [options] INPUT...\n"
    "       ragd ingest --db FILE --migrate\n"
    "\n"
    "Load documents into a ragd store (created when missing).\n"
    "INPUT is a .jsonl corpus (BEIR layout: _id, title, text, url, metadata\n"
    "per line), a .txt or .md file, or a directory of .txt/.md files.\n"
    "\n"
    "  --db FILE            the store to write (required)\n"
    "  --into PARTS         comma list of vector, kb (default vector,kb)\n"
    "  --embedder NAME      hash (default) or openai\n"
    "  --embed-url URL      OpenAI-compatible API base, e.g.\n"
    "                       https://api.openai.com/v1 (openai only)\n"
    "  --embed-model NAME   embedding model (default " INGEST_DEFAULT_MODEL ")\n"
    "  --batch N            documents per transaction (default 256)\n"
    "  --migrate            upgrade a store written by an older ragd in place\n"
    "                       and exit (no INPUT)\n"
    "  -h, --help           show this help\n"
    "\n"
    "The openai embedder reads its key from $" INGEST_KEY_ENV " (may be unset\n"
    "for local servers).  Exit status: 0 done, 1 failed during the run,\n"
    "2 bad arguments or input.\n";

typedef struct ingest_opts {
    const char *db, *embedder, *embed_url, *embed_model;
    int into, migrate;
    long batch;
    char **inputs;
    int ninputs;
} ingest_opts;

/* A document waiting in the batch (its strings are owned) and where its
 * chunks are: run->spans[first .. first+nchunks). */
typedef struct ingest_doc {
    ingest_read_doc in;
    size_t first, nchunks;
} ingest_doc;

typedef struct ingest_run {
    ingest_opts opt;
    const char *api_key;
    store *db;

    ingest_doc *docs; /* the batch: opt.batch slots */
    size_t ndocs;
    chunk_span *spans; /* chunks of the batch, doc by doc */
    size_t nspans, spancap;
    float *vecs; /* nspans * dims embeddings */
    size_t veccap;
    size_t dims;        /* 0 until the openai service first answers */
    store_embedder emb; /* what the vectors are made with, as declared */
    char *scratch;      /* one embedding input for the hash embedder */
    size_t scratchcap;
    store_chunk *chunks; /* one document's chunks as the store takes them */
    size_t chunkcap;

    size_t ndone, nchunks, nskipped;
    struct timespec t0, tshown;
    int tty, shown; /* stderr is a terminal; a progress line is on it */

    int status; /* INGEST_FAIL or INGEST_USAGE once a fatal error happened */
    char err[1024];
} ingest_run;

/* ---------------------------------------------------------- reporting -- */

static double ingest_since(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (b.tv_nsec - a->tv_nsec) / 1e9;
}

static void ingest_clear_progress(ingest_run *r)
{
    if (r->shown) {
        fputs("\r\033[K", stderr);
        r->shown = 0;
    }
}

static void ingest_progress(ingest_run *r)
{
    double t = ingest_since(&r->t0);

    if (!r->tty || ingest_since(&r->tshown) < INGEST_PROGRESS_EVERY)
        return;
    fprintf(stderr, "\r\033[K%zu documents, %zu chunks, %.0f documents/s",
            r->ndone, r->nchunks, t > 0 ? r->ndone / t : 0.0);
    r->shown = 1;
    clock_gettime(CLOCK_MONOTONIC, &r->tshown);
}

/* Report one skipped line or file on stderr and count it. */
static void ingest_skip(ingest_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ingest_skip(ingest_run *r, const char *fmt, ...)
{
    va_list ap;

    ingest_clear_progress(r);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    r->nskipped++;
}

/* Record a fatal error; the run stops at the next check of r->status. */
static int ingest_fail(ingest_run *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int ingest_fail(ingest_run *r, int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->status = status;
    return -1;
}

/* ---------------------------------------------------------- arguments -- */

static int ingest_parse_into(const char *s, int *into)
{
    const char *p = s;

    *into = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (n == 6 && strncmp(p, "vector", 6) == 0)
            *into |= INTO_VECTOR;
        else if (n == 2 && strncmp(p, "kb", 2) == 0)
            *into |= INTO_KB;
        else {
            fprintf(stderr,
                    "ragd ingest: --into: unknown part \"%.*s\" (expected "
                    "vector, kb)\n", (int)n, p);
            return -1;
        }
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

static int ingest_parse_batch(const char *s, long *batch)
{
    char *end;

    errno = 0;
    *batch = strtol(s, &end, 10);
    if (errno || end == s || *end || *batch < 1 || *batch > INGEST_MAX_BATCH) {
        fprintf(stderr,
                "ragd ingest: --batch: expected a positive integer up to "
                "%ld, got \"%s\"\n", INGEST_MAX_BATCH, s);
        return -1;
    }
    return 0;
}

/* Check the options that need one another once all are known. */
static int ingest_check_opts(const ingest_opts *o)
{
    const char *why = NULL;

    if (!o->db)
        why = "missing --db FILE";
    else if (o->migrate)
        why = o->ninputs ? "--migrate takes no INPUT" : NULL;
    else if (o->ninputs == 0)
        why = "no INPUT given (a .jsonl, .txt or .md file, or a directory)";
    else if (strcmp(o->embedder, "hash") && strcmp(o->embedder, "openai")) {
        fprintf(stderr,
                "ragd ingest: unknown embedder \"%s\" (expected hash or "
                "openai)\n", o->embedder);
        return -1;
    } else if (!strcmp(o->embedder, "openai") && (!o->embed_url
                                                  || !*o->embed_url))
        why = "--embedder openai needs --embed-url URL";
    if (why) {
        fprintf(stderr, "ragd ingest: %s (see 'ragd ingest --help')\n", why);
        return -1;
    }
    return 0;
}

/* Returns 0 to run, 1 after printing help, -1 after printing an error. */
static int ingest_parse_args(int argc, char **argv, ingest_opts *o)
{
    enum { O_DB = 256, O_INTO, O_EMBEDDER, O_URL, O_MODEL, O_BATCH, O_MIGRATE };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, O_DB},
        {"into", required_argument, NULL, O_INTO},
        {"embedder", required_argument, NULL, O_EMBEDDER},
        {"embed-url", required_argument, NULL, O_URL},
        {"embed-model", required_argument, NULL, O_MODEL},
        {"batch", required_argument, NULL, O_BATCH},
        {"migrate", no_argument, NULL, O_MIGRATE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    *o = (ingest_opts){.embedder = "hash", .embed_model = INGEST_DEFAULT_MODEL,
                       .into = INTO_VECTOR | INTO_KB,
                       .batch = INGEST_DEFAULT_BATCH};
    /* The dispatcher hands us a fresh argv; restart getopt on it and print
     * its complaints ourselves, in one line with our prefix. */
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case O_DB: o->db = optarg; break;
        case O_INTO:
            if (ingest_parse_into(optarg, &o->into) < 0)
                return -1;
            break;
        case O_EMBEDDER: o->embedder = optarg; break;
        case O_URL: o->embed_url = optarg; break;
        case O_MODEL: o->embed_model = optarg; break;
        case O_BATCH:
            if (ingest_parse_batch(optarg, &o->batch) < 0)
                return -1;
            break;
        case O_MIGRATE: o->migrate = 1; break;
        case 'h': fputs(ingest_usage, stdout); return 1;
        case ':':
            fprintf(stderr, "ragd ingest: option %s needs a value\n",
                    argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr,
                    "ragd ingest: unknown option \"%s\" (see 'ragd ingest "
                    "--help')\n", argv[optind - 1]);
            return -1;
        }
    }
    o->inputs = argv + optind;
    o->ninputs = argc - optind;
    return ingest_check_opts(o);
}

/* Every INPUT must exist and be usable before anything is written. */
static int ingest_check_inputs(const ingest_opts *o)
{
    for (int i = 0; i < o->ninputs; i++) {
        const char *p = o->inputs[i];
        struct stat sb;
        if (strcmp(p, "-") == 0) {
            fprintf(stderr,
                    "ragd ingest: reading standard input (\"-\") is not "
                    "supported; name a file\n");
            return -1;
        }
        if (stat(p, &sb) != 0) {
            fprintf(stderr, "ragd ingest: %s: %s\n", p, strerror(errno));
            return -1;
        }
        if (!S_ISDIR(sb.st_mode) && !(S_ISREG(sb.st_mode)
              && ingest_read_accepts(p))) {
            fprintf(stderr,
                    "ragd ingest: %s: not a .jsonl, .txt or .md file or a "
                    "directory\n", p);
            return -1;
        }
        if (access(p, S_ISDIR(sb.st_mode) ? R_OK | X_OK : R_OK) != 0) {
            fprintf(stderr, "ragd ingest: %s: %s\n", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ embedder -- */

/* Declare the embedder to the store, which refuses one that does not
 * match its vectors.  Returns 0, or -1 with r->status INGEST_USAGE. */
static int ingest_use_embedder(ingest_run *r)
{
    store_embedder *e = &r->emb;

    snprintf(e->name, sizeof e->name, "%s", r->opt.embedder);
    snprintf(e->model, sizeof e->model, "%s", r->opt.embed_model);
    snprintf(e->url, sizeof e->url, "%s", r->opt.embed_url ? r->opt.embed_url : "");
    e->dims = r->dims;
    if (store_embedder_use(r->db, e, r->err, sizeof r->err) < 0) {
        r->status = INGEST_USAGE;
        return -1;
    }
    return 0;
}

/* Grow r->vecs to hold nspans embeddings of r->dims. */
static int ingest_vec_room(ingest_run *r)
{
    size_t need = r->nspans * r->dims;

    if (need > r->veccap) {
        float *v = realloc(r->vecs, need * sizeof *v);
        if (!v)
            return ingest_fail(r, INGEST_FAIL, "out of memory");
        r->vecs = v;
        r->veccap = need;
    }
    return 0;
}

/* embed_input for chunk s of d: its length, and the text into dst unless
 * dst is NULL. */
static size_t ingest_embed_input(const ingest_doc *d, const chunk_span *s,
                                 char *dst)
{
    return embed_input(d->in.title, d->in.text + s->off, s->len, dst);
}

/* The document owning chunk k of the batch. */
static const ingest_doc *ingest_doc_of(const ingest_run *r, size_t k,
                                       size_t *hint)
{
    while (k >= r->docs[*hint].first + r->docs[*hint].nchunks)
        (*hint)++;
    return &r->docs[*hint];
}

static int ingest_embed_hash(ingest_run *r)
{
    size_t di = 0;

    for (size_t k = 0; k < r->nspans; k++) {
        const ingest_doc *d = ingest_doc_of(r, k, &di);
        size_t len = ingest_embed_input(d, &r->spans[k], NULL);
        if (len + 1 > r->scratchcap) {
            char *p = realloc(r->scratch, len + 1);
            if (!p)
                return ingest_fail(r, INGEST_FAIL, "out of memory");
            r->scratch = p;
            r->scratchcap = len + 1;
        }
        ingest_embed_input(d, &r->spans[k], r->scratch);
        embed_hash(r->scratch, len, r->vecs + k * r->dims, r->dims);
    }
    return 0;
}

/* Learn or check the service's dimensions from its first answer. */
static int ingest_take_dims(ingest_run *r, size_t dims)
{
    if (r->dims && dims != r->dims)
        return ingest_fail(r, INGEST_FAIL,
                           "embedding service changed from %zu to %zu dims "
                           "during the run", r->dims, dims);
    if (!r->dims) {
        r->dims = dims;
        if (ingest_use_embedder(r) < 0)
            return -1;
    }
    return ingest_vec_room(r);
}

/* Embed chunks [from, from+n) of the batch in one request. */
static int ingest_embed_group(ingest_run *r, size_t from, size_t n)
{
    const char *texts[INGEST_EMBED_GROUP];
    size_t total = 0, di = 0, dims;
    float *out = NULL;
    char msg[768];
    char *buf, *p;

    for (size_t k = from; k < from + n; k++)
        total += ingest_embed_input(ingest_doc_of(r, k, &di), &r->spans[k],
                                    NULL) + 1;
    if (!(buf = malloc(total)))
        return ingest_fail(r, INGEST_FAIL, "out of memory");
    di = 0;
    p = buf;
    for (size_t k = from; k < from + n; k++) {
        const ingest_doc *d = ingest_doc_of(r, k, &di);
        texts[k - from] = p;
        p += ingest_embed_input(d, &r->spans[k], p) + 1;
    }
    if (embed_openai_sync(r->opt.embed_url, r->opt.embed_model, r->api_key,
                          texts, n, &dims, &out, msg, sizeof msg) < 0) {
        free(buf);
        return ingest_fail(r, INGEST_FAIL, "%s", msg);
    }
    free(buf);
    if (ingest_take_dims(r, dims) < 0) {
        free(out);
        return -1;
    }
    memcpy(r->vecs + from * r->dims, out, n * dims * sizeof *out);
    free(out);
    return 0;
}

static int ingest_embed_batch(ingest_run *r)
{
    if (!strcmp(r->opt.embedder, "hash"))
        return ingest_vec_room(r) < 0 ? -1 : ingest_embed_hash(r);
    for (size_t k = 0; k < r->nspans; k += INGEST_EMBED_GROUP) {
        size_t n = r->nspans - k < INGEST_EMBED_GROUP ? r->nspans - k
                                                      : INGEST_EMBED_GROUP;
        if (ingest_embed_group(r, k, n) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- writing -- */

/* Hand document d to the store with its chunks and, when the run writes
 * vectors, their embeddings. */
static int ingest_write_doc(ingest_run *r, const ingest_doc *d)
{
    store_doc sd;

    if (d->nchunks > r->chunkcap) {
        store_chunk *c = realloc(r->chunks, d->nchunks * sizeof *c);
        if (!c)
            return ingest_fail(r, INGEST_FAIL, "out of memory");
        r->chunks = c;
        r->chunkcap = d->nchunks;
    }
    sd = (store_doc){
        .id = d->in.id, .title = d->in.title, .url = d->in.url,
        .metadata = d->in.metadata, .chunks = r->chunks, .nchunks = d->nchunks,
        .vecs = (r->opt.into & INTO_VECTOR) && d->nchunks ? r->vecs + d->first * r->dims : NULL,
        .fts = (r->opt.into & INTO_KB) != 0,
    };
    for (size_t k = 0; k < d->nchunks; k++)
        r->chunks[k] = (store_chunk){d->in.text + r->spans[d->first + k].off,
                                     r->spans[d->first + k].len};
    if (store_put(r->db, &sd) < 0)
        return ingest_fail(r, INGEST_FAIL, "%s: write failed: %s", r->opt.db,
                           store_errmsg(r->db));
    return 0;
}

/* Write the whole batch in one transaction, or nothing of it. */
static int ingest_write_batch(ingest_run *r)
{
    if (store_begin(r->db) < 0)
        return ingest_fail(r, INGEST_FAIL, "%s: cannot start a transaction: %s",
                           r->opt.db, store_errmsg(r->db));
    for (size_t i = 0; i < r->ndocs; i++)
        if (ingest_write_doc(r, &r->docs[i]) < 0)
            goto fail;
    if (store_commit(r->db) < 0) {
        ingest_fail(r, INGEST_FAIL, "%s: commit failed: %s", r->opt.db,
                    store_errmsg(r->db));
        goto fail;
    }
    return 0;
fail:
    store_rollback(r->db);
    return -1;
}

/* ------------------------------------------------------------- batches -- */

/* Chunk every document of the batch into r->spans. */
static int ingest_chunk_batch(ingest_run *r)
{
    r->nspans = 0;
    for (size_t i = 0; i < r->ndocs; i++) {
        ingest_doc *d = &r->docs[i];
        chunk_span *sp;
        size_t n;
        if (chunk_split(d->in.text, d->in.text_len, CHUNK_TARGET, CHUNK_MAX, &sp,
                        &n) < 0)
            return ingest_fail(r, INGEST_FAIL, "out of memory");
        if (r->nspans + n > r->spancap) {
            size_t cap = (r->nspans + n) * 2;
            chunk_span *p = realloc(r->spans, cap * sizeof *p);
            if (!p) {
                free(sp);
                return ingest_fail(r, INGEST_FAIL, "out of memory");
            }
            r->spans = p;
            r->spancap = cap;
        }
        if (n)
            memcpy(r->spans + r->nspans, sp, n * sizeof *sp);
        free(sp);
        d->first = r->nspans;
        d->nchunks = n;
        r->nspans += n;
    }
    return 0;
}

/* Chunk, embed and write the batch, then empty it. */
static int ingest_flush(ingest_run *r)
{
    int rc = 0;

    if (r->ndocs == 0)
        return 0;
    if (ingest_chunk_batch(r) < 0
        || ((r->opt.into & INTO_VECTOR) && ingest_embed_batch(r) < 0)
        || ingest_write_batch(r) < 0)
        rc = -1;
    else {
        r->ndone += r->ndocs;
        r->nchunks += r->nspans;
    }
    for (size_t i = 0; i < r->ndocs; i++)
        ingest_read_doc_release(&r->docs[i].in);
    r->ndocs = 0;
    r->nspans = 0;
    if (rc == 0)
        ingest_progress(r);
    return rc;
}

/* The readers' sink (ingest_read.h).  add takes d into the batch (its
 * strings now belong to the run; d is zeroed), writing the batch when it
 * is full. */
static int ingest_add(void *arg, ingest_read_doc *d)
{
    ingest_run *r = arg;

    r->docs[r->ndocs++] = (ingest_doc){.in = *d};
    memset(d, 0, sizeof *d);
    if (r->ndocs == (size_t)r->opt.batch)
        return ingest_flush(r);
    return 0;
}

static void ingest_skip_msg(void *arg, const char *msg)
{
    ingest_skip(arg, "%s", msg);
}

static int ingest_fail_msg(void *arg, const char *msg)
{
    return ingest_fail(arg, INGEST_FAIL, "%s", msg);
}

/* ----------------------------------------------------------------- run -- */

/* Open the store and get ready to write: 0, or -1 with r->status set. */
static int ingest_setup(ingest_run *r)
{
    if (store_open(r->opt.db, 1, &r->db, r->err, sizeof r->err) < 0) {
        r->status = INGEST_USAGE;
        return -1;
    }
    if (!strcmp(r->opt.embedder, "hash"))
        r->dims = EMBED_HASH_DIMS;
    if ((r->opt.into & INTO_VECTOR) && ingest_use_embedder(r) < 0)
        return -1;
    r->api_key = getenv(INGEST_KEY_ENV);
    if (!(r->docs = calloc((size_t)r->opt.batch, sizeof *r->docs)))
        return ingest_fail(r, INGEST_FAIL, "out of memory");
    return 0;
}

static void ingest_release(ingest_run *r)
{
    for (size_t i = 0; i < r->ndocs; i++)
        ingest_read_doc_release(&r->docs[i].in);
    store_close(&r->db);
    free(r->docs);
    free(r->spans);
    free(r->vecs);
    free(r->scratch);
    free(r->chunks);
}

/* --migrate: opening the store writable upgrades it (store.h). */
static int ingest_migrate(const char *path)
{
    char err[1024];
    store *db = NULL;

    if (store_open(path, 1, &db, err, sizeof err) < 0) {
        fprintf(stderr, "ragd ingest: %s\n", err);
        return INGEST_USAGE;
    }
    store_close(&db);
    printf("%s: up to date\n", path);
    return INGEST_OK;
}

int ingest_main(int argc, char **argv)
{
    ingest_run r = {0};
    ingest_read_sink sink = {ingest_add, ingest_skip_msg, ingest_fail_msg, &r};
    int rc;

    if ((rc = ingest_parse_args(argc, argv, &r.opt)) != 0)
        return rc > 0 ? INGEST_OK : INGEST_USAGE;
    if (r.opt.migrate)
        return ingest_migrate(r.opt.db);
    if (ingest_check_inputs(&r.opt) < 0)
        return INGEST_USAGE;
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    r.tshown = r.t0;
    r.tty = isatty(STDERR_FILENO);
    if (ingest_setup(&r) == 0) {
        int i = 0;
        while (i < r.opt.ninputs && ingest_read_input(&sink, r.opt.inputs[i]) == 0)
            i++;
        if (i == r.opt.ninputs)
            ingest_flush(&r);
    }
    ingest_clear_progress(&r);
    if (r.status == INGEST_OK)
        printf("ingested %zu documents, %zu chunks, %zu skipped in %.2f s\n",
               r.ndone, r.nchunks, r.nskipped, ingest_since(&r.t0));
    else
        fprintf(stderr, "ragd ingest: %s\n", r.err);
    ingest_release(&r);
    return r.status;
}
