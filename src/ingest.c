/*
 * ingest -- the `ragd ingest` command: loading documents into the store.
 *
 * Documents stream in from the inputs into a batch; a full batch is chunked,
 * embedded (before its transaction, so a slow embedding service never holds
 * the write lock) and written in one transaction with statements prepared
 * once per run.  WAL plus one transaction per batch is what makes kill -9
 * safe: it loses the batch in flight and nothing else.  Not for the server:
 * this blocks, prints and exits.
 */
#include "ingest.h"

#include "chunk.h"
#include "embed.h"
#include "store.h"
#include "utf8.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INGEST_DEFAULT_BATCH 256
#define INGEST_MAX_BATCH 1000000L
/* Texts per embeddings request: well under every service's limit. */
#define INGEST_EMBED_GROUP 64
#define INGEST_MAX_LINE (16u << 20)
#define INGEST_MAX_FILE (64u << 20)
#define INGEST_DEFAULT_MODEL "text-embedding-3-small"
#define INGEST_KEY_ENV "RAGD_EMBED_API_KEY"
/* Seconds between progress redraws: often enough to look alive, rarely
 * enough to cost nothing. */
#define INGEST_PROGRESS_EVERY 0.25

enum { INTO_VECTOR = 1, INTO_KB = 2 };

/* Exit statuses of ingest_main. */
enum { INGEST_OK = 0, INGEST_FAIL = 1, INGEST_USAGE = 2 };

static const char ingest_usage[] =
    "usage: ragd ingest --db FILE [options] INPUT...\n"
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
    "  -h, --help           show this help\n"
    "\n"
    "The openai embedder reads its key from $" INGEST_KEY_ENV " (may be unset\n"
    "for local servers).  Exit status: 0 done, 1 failed during the run,\n"
    "2 bad arguments or input.\n";

typedef struct ingest_opts {
    const char *db, *embedder, *embed_url, *embed_model;
    int into;
    long batch;
    char **inputs;
    int ninputs;
} ingest_opts;

/* A document waiting in the batch; every string is owned. */
typedef struct ingest_doc {
    char *id, *title, *url, *metadata, *text;
    size_t text_len;
    size_t first, nchunks; /* its chunks: run->spans[first .. first+n) */
} ingest_doc;

/* Statements prepared once per run. */
enum {
    ST_CHUNK_IDS, ST_DEL_KB, ST_DEL_VEC, ST_DEL_CHUNKS, ST_DEL_DOC,
    ST_INS_DOC, ST_INS_CHUNK, ST_INS_VEC, ST_INS_KB, ST_COUNT
};

static const char *const ingest_sql[ST_COUNT] = {
    [ST_CHUNK_IDS] = "SELECT id FROM chunks WHERE doc_id = ?1",
    [ST_DEL_KB] = "DELETE FROM kb_fts WHERE rowid = ?1",
    [ST_DEL_VEC] = "DELETE FROM vectors WHERE chunk_id = ?1",
    [ST_DEL_CHUNKS] = "DELETE FROM chunks WHERE doc_id = ?1",
    [ST_DEL_DOC] = "DELETE FROM docs WHERE id = ?1",
    [ST_INS_DOC] = "INSERT INTO docs(id, title, url, metadata) "
                   "VALUES(?1, ?2, ?3, ?4)",
    [ST_INS_CHUNK] = "INSERT INTO chunks(doc_id, seq, text) VALUES(?1, ?2, ?3)",
    [ST_INS_VEC] = "INSERT INTO vectors(chunk_id, vec) VALUES(?1, ?2)",
    [ST_INS_KB] = "INSERT INTO kb_fts(rowid, title, text) VALUES(?1, ?2, ?3)",
};

typedef struct ingest_run {
    ingest_opts opt;
    const char *api_key;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];

    ingest_doc *docs; /* the batch: opt.batch slots */
    size_t ndocs;
    chunk_span *spans; /* chunks of the batch, doc by doc */
    size_t nspans, spancap;
    float *vecs; /* nspans * dims embeddings */
    size_t veccap;
    size_t dims;        /* 0 until the openai service first answers */
    size_t stored_dims; /* meta.embed_dims of the store, 0 when unset */
    int meta_done;      /* the store's embedder meta is set and agrees */
    char *scratch;      /* one embedding input for the hash embedder */
    size_t scratchcap;
    unsigned char *blob; /* one vector as little-endian float32 */

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
    enum { O_DB = 256, O_INTO, O_EMBEDDER, O_URL, O_MODEL, O_BATCH };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, O_DB},
        {"into", required_argument, NULL, O_INTO},
        {"embedder", required_argument, NULL, O_EMBEDDER},
        {"embed-url", required_argument, NULL, O_URL},
        {"embed-model", required_argument, NULL, O_MODEL},
        {"batch", required_argument, NULL, O_BATCH},
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

static int ingest_has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);

    return n > e && strcasecmp(path + n - e, ext) == 0;
}

static int ingest_is_text_file(const char *path)
{
    return ingest_has_ext(path, ".md") || ingest_has_ext(path, ".txt");
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
              && (ingest_has_ext(p, ".jsonl") || ingest_is_text_file(p)))) {
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

/* Compare the store's recorded embedder with the one asked for.  Returns
 * 0, or -1 with r->status INGEST_USAGE and the message in r->err. */
static int ingest_check_embedder(ingest_run *r)
{
    const ingest_opts *o = &r->opt;
    char name[64], dims[32] = "0", model[256];

    if (store_meta_get(r->db, "embedder", name, sizeof name) < 0)
        return 0; /* a fresh store: the first batch records ours */
    store_meta_get(r->db, "embed_dims", dims, sizeof dims);
    r->stored_dims = strtoul(dims, NULL, 10);
    if (strcmp(name, o->embedder) != 0)
        return ingest_fail(r, INGEST_USAGE,
                           "%s was built with embedder %s (%s dims); pass "
                           "--embedder %s", o->db, name, dims, name);
    if (!strcmp(name, "hash") && r->stored_dims != EMBED_HASH_DIMS)
        return ingest_fail(r, INGEST_USAGE,
                           "%s was built with embedder hash (%s dims), but "
                           "this ragd's hash embedder makes %d; ingest into "
                           "a new file", o->db, dims, EMBED_HASH_DIMS);
    if (!strcmp(name, "openai")) {
        if (store_meta_get(r->db, "embed_model", model, sizeof model) < 0)
            snprintf(model, sizeof model, "%s", INGEST_DEFAULT_MODEL);
        if (strcmp(model, o->embed_model) != 0)
            return ingest_fail(r, INGEST_USAGE,
                               "%s was built with embedder openai, model %s "
                               "(%s dims); pass --embed-model %s", o->db,
                               model, dims, model);
    }
    r->meta_done = r->stored_dims > 0;
    return 0;
}

/* Record the embedder in meta, inside the batch's transaction, so a store
 * never has vectors without knowing how they were made. */
static int ingest_record_embedder(ingest_run *r)
{
    char dims[32], url[2048];
    size_t n;

    snprintf(dims, sizeof dims, "%zu", r->dims);
    if (store_meta_set(r->db, "embedder", r->opt.embedder) < 0
        || store_meta_set(r->db, "embed_dims", dims) < 0)
        goto fail;
    if (!strcmp(r->opt.embedder, "openai")) {
        /* Without trailing slashes, as the server appends "/embeddings". */
        n = strlen(r->opt.embed_url);
        while (n > 1 && r->opt.embed_url[n - 1] == '/')
            n--;
        snprintf(url, sizeof url, "%.*s", (int)n, r->opt.embed_url);
        if (store_meta_set(r->db, "embed_model", r->opt.embed_model) < 0
            || store_meta_set(r->db, "embed_url", url) < 0)
            goto fail;
    }
    r->meta_done = 1;
    r->stored_dims = r->dims;
    return 0;
fail:
    return ingest_fail(r, INGEST_FAIL, "%s: cannot record embedder: %s",
                       r->opt.db, sqlite3_errmsg(r->db));
}

/* Grow r->vecs to hold nspans embeddings of r->dims, and r->blob one. */
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
    if (!r->blob && !(r->blob = malloc(r->dims * 4)))
        return ingest_fail(r, INGEST_FAIL, "out of memory");
    return 0;
}

/* The text a chunk is embedded as: "TITLE\n\nCHUNK", or just the chunk. */
static size_t ingest_embed_len(const ingest_doc *d, const chunk_span *s)
{
    return (*d->title ? strlen(d->title) + 2 : 0) + s->len;
}

static void ingest_embed_text(const ingest_doc *d, const chunk_span *s,
                              char *dst)
{
    size_t t = strlen(d->title);

    if (t) {
        memcpy(dst, d->title, t);
        memcpy(dst + t, "\n\n", 2);
        dst += t + 2;
    }
    memcpy(dst, d->text + s->off, s->len);
    dst[s->len] = '\0';
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
        size_t len = ingest_embed_len(d, &r->spans[k]);
        if (len + 1 > r->scratchcap) {
            char *p = realloc(r->scratch, len + 1);
            if (!p)
                return ingest_fail(r, INGEST_FAIL, "out of memory");
            r->scratch = p;
            r->scratchcap = len + 1;
        }
        ingest_embed_text(d, &r->spans[k], r->scratch);
        embed_hash(r->scratch, len, r->vecs + k * r->dims, r->dims);
    }
    return 0;
}

/* Learn or check the service's dimensions from its first answer. */
static int ingest_take_dims(ingest_run *r, size_t dims)
{
    if (r->stored_dims && dims != r->stored_dims)
        return ingest_fail(r, INGEST_USAGE,
                           "%s was built with embedder openai, model %s (%zu "
                           "dims), but %s now returns %zu dims", r->opt.db,
                           r->opt.embed_model, r->stored_dims,
                           r->opt.embed_url, dims);
    if (r->dims && dims != r->dims)
        return ingest_fail(r, INGEST_FAIL,
                           "embedding service changed from %zu to %zu dims "
                           "during the run", r->dims, dims);
    r->dims = dims;
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
        total += ingest_embed_len(ingest_doc_of(r, k, &di), &r->spans[k]) + 1;
    if (!(buf = malloc(total)))
        return ingest_fail(r, INGEST_FAIL, "out of memory");
    di = 0;
    p = buf;
    for (size_t k = from; k < from + n; k++) {
        const ingest_doc *d = ingest_doc_of(r, k, &di);
        texts[k - from] = p;
        ingest_embed_text(d, &r->spans[k], p);
        p += ingest_embed_len(d, &r->spans[k]) + 1;
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

/* Step a bound statement to completion and reset it for its next use. */
static int ingest_step(ingest_run *r, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return ingest_fail(r, INGEST_FAIL, "%s: write failed: %s", r->opt.db,
                           sqlite3_errmsg(r->db));
    return 0;
}

static int ingest_bind_fail(ingest_run *r)
{
    return ingest_fail(r, INGEST_FAIL, "%s: cannot bind: %s", r->opt.db,
                       sqlite3_errmsg(r->db));
}

/* Delete every trace of document id: kb_fts rows and vectors of its
 * chunks, the chunks, the doc row. */
static int ingest_delete_doc(ingest_run *r, const char *id)
{
    sqlite3_stmt *ids = r->st[ST_CHUNK_IDS];
    int rc;

    if (sqlite3_bind_text(ids, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
        return ingest_bind_fail(r);
    while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
        sqlite3_int64 cid = sqlite3_column_int64(ids, 0);
        if (sqlite3_bind_int64(r->st[ST_DEL_KB], 1, cid) != SQLITE_OK
            || sqlite3_bind_int64(r->st[ST_DEL_VEC], 1, cid) != SQLITE_OK) {
            sqlite3_reset(ids);
            return ingest_bind_fail(r);
        }
        if (ingest_step(r, r->st[ST_DEL_KB]) < 0
            || ingest_step(r, r->st[ST_DEL_VEC]) < 0) {
            sqlite3_reset(ids);
            return -1;
        }
    }
    sqlite3_reset(ids);
    if (rc != SQLITE_DONE)
        return ingest_fail(r, INGEST_FAIL, "%s: read failed: %s", r->opt.db,
                           sqlite3_errmsg(r->db));
    if (sqlite3_bind_text(r->st[ST_DEL_CHUNKS], 1, id, -1, SQLITE_STATIC)
            != SQLITE_OK
        || sqlite3_bind_text(r->st[ST_DEL_DOC], 1, id, -1, SQLITE_STATIC)
            != SQLITE_OK)
        return ingest_bind_fail(r);
    if (ingest_step(r, r->st[ST_DEL_CHUNKS]) < 0)
        return -1;
    return ingest_step(r, r->st[ST_DEL_DOC]);
}

/* vec as the store keeps it: float32, little-endian whatever the host. */
static void ingest_pack(unsigned char *dst, const float *vec, size_t dims)
{
    for (size_t i = 0; i < dims; i++) {
        uint32_t u;
        memcpy(&u, &vec[i], 4);
        for (int b = 0; b < 4; b++)
            dst[i * 4 + b] = (unsigned char)(u >> (8 * b));
    }
}

static int ingest_write_chunk(ingest_run *r, const ingest_doc *d, size_t k)
{
    const chunk_span *s = &r->spans[k];
    sqlite3_stmt *ch = r->st[ST_INS_CHUNK];
    sqlite3_int64 cid;

    if (sqlite3_bind_text(ch, 1, d->id, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_int64(ch, 2, (sqlite3_int64)(k - d->first))
            != SQLITE_OK
        || sqlite3_bind_text(ch, 3, d->text + s->off, (int)s->len,
                             SQLITE_STATIC) != SQLITE_OK)
        return ingest_bind_fail(r);
    if (ingest_step(r, ch) < 0)
        return -1;
    cid = sqlite3_last_insert_rowid(r->db);
    if (r->opt.into & INTO_VECTOR) {
        sqlite3_stmt *v = r->st[ST_INS_VEC];
        ingest_pack(r->blob, r->vecs + k * r->dims, r->dims);
        if (sqlite3_bind_int64(v, 1, cid) != SQLITE_OK
            || sqlite3_bind_blob(v, 2, r->blob, (int)(r->dims * 4),
                                 SQLITE_STATIC) != SQLITE_OK)
            return ingest_bind_fail(r);
        if (ingest_step(r, v) < 0)
            return -1;
    }
    if (r->opt.into & INTO_KB) {
        sqlite3_stmt *kb = r->st[ST_INS_KB];
        if (sqlite3_bind_int64(kb, 1, cid) != SQLITE_OK
            || sqlite3_bind_text(kb, 2, d->title, -1, SQLITE_STATIC)
                != SQLITE_OK
            || sqlite3_bind_text(kb, 3, d->text + s->off, (int)s->len,
                                 SQLITE_STATIC) != SQLITE_OK)
            return ingest_bind_fail(r);
        if (ingest_step(r, kb) < 0)
            return -1;
    }
    return 0;
}

static int ingest_write_doc(ingest_run *r, const ingest_doc *d)
{
    sqlite3_stmt *st = r->st[ST_INS_DOC];

    if (ingest_delete_doc(r, d->id) < 0)
        return -1;
    if (sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_text(st, 2, d->title, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_text(st, 3, d->url, -1, SQLITE_STATIC) != SQLITE_OK
        || sqlite3_bind_text(st, 4, d->metadata, -1, SQLITE_STATIC)
            != SQLITE_OK)
        return ingest_bind_fail(r);
    if (ingest_step(r, st) < 0)
        return -1;
    for (size_t k = d->first; k < d->first + d->nchunks; k++)
        if (ingest_write_chunk(r, d, k) < 0)
            return -1;
    return 0;
}

static int ingest_exec(ingest_run *r, const char *sql)
{
    if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return ingest_fail(r, INGEST_FAIL, "%s: %s failed: %s", r->opt.db,
                           sql, sqlite3_errmsg(r->db));
    return 0;
}

/* Write the whole batch in one transaction, or nothing of it. */
static int ingest_write_batch(ingest_run *r)
{
    if (ingest_exec(r, "BEGIN IMMEDIATE") < 0)
        return -1;
    if ((r->opt.into & INTO_VECTOR) && !r->meta_done && r->nspans > 0
        && ingest_record_embedder(r) < 0)
        goto fail;
    for (size_t i = 0; i < r->ndocs; i++)
        if (ingest_write_doc(r, &r->docs[i]) < 0)
            goto fail;
    if (ingest_exec(r, "COMMIT") < 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* ------------------------------------------------------------- batches -- */

static void ingest_doc_release(ingest_doc *d)
{
    free(d->id);
    free(d->title);
    free(d->url);
    free(d->metadata);
    free(d->text);
    memset(d, 0, sizeof *d);
}

/* Chunk every document of the batch into r->spans. */
static int ingest_chunk_batch(ingest_run *r)
{
    r->nspans = 0;
    for (size_t i = 0; i < r->ndocs; i++) {
        ingest_doc *d = &r->docs[i];
        chunk_span *sp;
        size_t n;
        if (chunk_split(d->text, d->text_len, CHUNK_TARGET, CHUNK_MAX, &sp,
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
        ingest_doc_release(&r->docs[i]);
    r->ndocs = 0;
    r->nspans = 0;
    if (rc == 0)
        ingest_progress(r);
    return rc;
}

/* Take d into the batch (its strings now belong to the run; d is zeroed),
 * writing the batch when it is full. */
static int ingest_add(ingest_run *r, ingest_doc *d)
{
    r->docs[r->ndocs++] = *d;
    memset(d, 0, sizeof *d);
    if (r->ndocs == (size_t)r->opt.batch)
        return ingest_flush(r);
    return 0;
}

/* --------------------------------------------------------------- JSONL -- */

static int ingest_is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(" \t\r\n\f\v", s[i]))
            return 0;
    return 1;
}

/* Why text[0..n) is no document, or NULL when it is one: a document
 * without words would only be found by its title, and is most likely a
 * mistake in the input. */
static const char *ingest_no_text(const char *text, size_t n)
{
    if (n == 0)
        return "empty";
    return ingest_is_blank(text, n) ? "only whitespace" : NULL;
}

/* The document id of a JSONL object as a malloc'd string.  Returns 1 with
 * the id, 0 with why in msg, or -1 when out of memory. */
static int ingest_json_id(const json_t *obj, char **id, char *msg,
                          size_t msglen)
{
    const char *key = json_object_get(obj, "_id") ? "_id" : "id";
    const json_t *v = json_object_get(obj, key);
    char num[32];
    double x;

    if (!v) {
        snprintf(msg, msglen, "missing \"_id\"");
        return 0;
    }
    if (json_is_string(v)) {
        if (json_string_length(v) == 0) {
            snprintf(msg, msglen, "empty \"%s\"", key);
            return 0;
        }
        *id = strdup(json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        *id = strdup(num);
    } else if (json_is_real(v) && (x = json_real_value(v)) > -0x1p53
               && x < 0x1p53 && x == (double)(long long)x) {
        /* 1e3 parses as a real; its decimal string is still "1000". */
        snprintf(num, sizeof num, "%lld", (long long)x);
        *id = strdup(num);
    } else {
        snprintf(msg, msglen, "\"%s\" is not a string or an integer", key);
        return 0;
    }
    return *id ? 1 : -1;
}

/* An optional string member: NULL when absent or null.  Returns 1, or 0
 * with why in msg when it is something else. */
static int ingest_json_opt_string(const json_t *obj, const char *key,
                                  const char **out, char *msg, size_t msglen)
{
    const json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return 1;
    if (!json_is_string(v)) {
        snprintf(msg, msglen, "\"%s\" is not a string", key);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

/* Fill d from one parsed JSONL object.  Returns 1, 0 with why in msg, or
 * -1 when out of memory. */
static int ingest_json_doc(const json_t *obj, ingest_doc *d, char *msg,
                           size_t msglen)
{
    const json_t *text = json_object_get(obj, "text");
    const json_t *meta = json_object_get(obj, "metadata");
    const char *title, *url, *why;
    int rc;

    if (!json_is_object(obj)) {
        snprintf(msg, msglen, "not a JSON object");
        return 0;
    }
    if (!text) {
        snprintf(msg, msglen, "missing \"text\"");
        return 0;
    }
    if (!json_is_string(text)) {
        snprintf(msg, msglen, "\"text\" is not a string");
        return 0;
    }
    if ((why = ingest_no_text(json_string_value(text), json_string_length(text)))) {
        snprintf(msg, msglen, "\"text\" is %s", why);
        return 0;
    }
    if (!ingest_json_opt_string(obj, "title", &title, msg, msglen)
        || !ingest_json_opt_string(obj, "url", &url, msg, msglen))
        return 0;
    if ((rc = ingest_json_id(obj, &d->id, msg, msglen)) <= 0)
        return rc;
    d->text_len = json_string_length(text);
    d->text = strdup(json_string_value(text));
    d->title = strdup(title ? title : "");
    d->url = url ? strdup(url) : NULL;
    d->metadata = meta ? json_dumps(meta, JSON_COMPACT | JSON_ENCODE_ANY)
                       : NULL;
    if (!d->text || !d->title || (url && !d->url) || (meta && !d->metadata))
        return -1;
    return 1;
}

/* One JSONL line (without its newline): skipped with a report when
 * malformed, else added to the batch. */
static int ingest_line(ingest_run *r, const char *path, size_t lineno,
                       const char *line, size_t len)
{
    ingest_doc d = {0};
    json_error_t jerr;
    json_t *obj;
    char msg[256];
    int rc;

    if (ingest_is_blank(line, len))
        return 0;
    if (!(obj = json_loadb(line, len, 0, &jerr))) {
        ingest_skip(r, "%s:%zu: invalid JSON: %s", path, lineno, jerr.text);
        return 0;
    }
    rc = ingest_json_doc(obj, &d, msg, sizeof msg);
    json_decref(obj);
    if (rc == 1)
        return ingest_add(r, &d);
    ingest_doc_release(&d);
    if (rc < 0)
        return ingest_fail(r, INGEST_FAIL, "out of memory");
    ingest_skip(r, "%s:%zu: %s", path, lineno, msg);
    return 0;
}

static int ingest_jsonl(ingest_run *r, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;

    if (!f) {
        ingest_skip(r, "%s: %s", path, strerror(errno));
        return 0;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        size_t len = (size_t)n;
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len > INGEST_MAX_LINE) {
            ingest_skip(r, "%s:%zu: line longer than 16 MiB", path, lineno);
            /* Give the huge buffer back rather than keep it all run. */
            free(line);
            line = NULL;
            cap = 0;
            continue;
        }
        rc = ingest_line(r, path, lineno, line, len);
    }
    /* getline also stops on a read error or ENOMEM, not only at EOF. */
    if (rc == 0 && !feof(f))
        rc = ingest_fail(r, INGEST_FAIL, "%s: read error: %s", path,
                         strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------- text files -- */

/* The first "# " heading of Markdown text outside ``` or ~~~ fences, as a
 * malloc'd string, or NULL (also when out of memory: the caller then
 * falls back to the base name). */
static char *ingest_heading(const char *text, size_t len)
{
    int fenced = 0;

    for (size_t i = 0; i < len;) {
        const char *l = text + i;
        size_t n = strcspn(l, "\n");
        i += n + 1;
        if (n >= 3 && (!strncmp(l, "```", 3) || !strncmp(l, "~~~", 3)))
            fenced = !fenced;
        if (fenced || n < 2 || strncmp(l, "# ", 2) != 0)
            continue;
        const char *h = l + 2, *e = l + n;
        while (h < e && strchr(" \t", *h))
            h++;
        while (e > h && strchr(" \t\r", e[-1]))
            e--;
        if (e > h)
            return strndup(h, (size_t)(e - h));
    }
    return NULL;
}

/* Read path whole into a malloc'd NUL-terminated buffer.  Returns 0, or -1
 * with why in msg. */
static int ingest_slurp(const char *path, char **out, size_t *len, char *msg,
                        size_t msglen)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    char *buf = NULL;

    *out = NULL;
    if (!f || fstat(fileno(f), &sb) != 0) {
        snprintf(msg, msglen, "%s", strerror(errno));
        goto fail;
    }
    if (sb.st_size > (off_t)INGEST_MAX_FILE) {
        snprintf(msg, msglen, "larger than 64 MiB");
        goto fail;
    }
    if (!(buf = malloc((size_t)sb.st_size + 1))) {
        snprintf(msg, msglen, "out of memory");
        goto fail;
    }
    *len = fread(buf, 1, (size_t)sb.st_size, f);
    if (ferror(f)) {
        snprintf(msg, msglen, "read error: %s", strerror(errno));
        goto fail;
    }
    buf[*len] = '\0';
    fclose(f);
    *out = buf;
    return 0;
fail:
    free(buf);
    if (f)
        fclose(f);
    return -1;
}

/* One .txt or .md file as one document; skipped with a report when it
 * cannot be read or is not UTF-8 text. */
static int ingest_text_file(ingest_run *r, const char *path)
{
    ingest_doc d = {0};
    const char *base = strrchr(path, '/');
    const char *why;
    char msg[256];
    char *buf;
    size_t len, bad;

    if (ingest_slurp(path, &buf, &len, msg, sizeof msg) < 0) {
        ingest_skip(r, "%s: %s", path, msg);
        return 0;
    }
    /* What jansson accepts when the server sends the text back as JSON. */
    if ((bad = utf8_span(buf, len)) != len) {
        free(buf);
        ingest_skip(r, "%s: not UTF-8 text (byte %zu)", path, bad);
        return 0;
    }
    /* A byte-order mark is not text; drop it. */
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
        memmove(buf, buf + 3, len - 2);
        len -= 3;
    }
    if ((why = ingest_no_text(buf, len))) {
        free(buf);
        ingest_skip(r, "%s: %s", path, why);
        return 0;
    }
    d.text = buf;
    d.text_len = len;
    d.id = strdup(path);
    d.title = ingest_heading(buf, len);
    if (!d.title)
        d.title = strdup(base ? base + 1 : path);
    if (!d.id || !d.title) {
        ingest_doc_release(&d);
        return ingest_fail(r, INGEST_FAIL, "out of memory");
    }
    return ingest_add(r, &d);
}

/* ----------------------------------------------------------- directories -- */

typedef struct ingest_paths {
    char **v;
    size_t n, cap;
} ingest_paths;

static int ingest_paths_push(ingest_paths *p, char *s)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = s;
    return 0;
}

static void ingest_paths_release(ingest_paths *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Collect the .md/.txt files below dir into p.  A subdirectory that cannot
 * be read is reported and skipped; returns -1 only when out of memory. */
static int ingest_walk(ingest_run *r, const char *dir, ingest_paths *p)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;

    if (!d) {
        ingest_skip(r, "%s: %s", dir, strerror(errno));
        return 0;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat sb;
        char *path;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (asprintf(&path, "%s/%s", dir, e->d_name) < 0) {
            rc = -1;
            break;
        }
        /* lstat first: a link to a directory could loop, so links are
         * followed only to files. */
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            rc = ingest_walk(r, path, p);
            free(path);
        } else if (ingest_is_text_file(path) && stat(path, &sb) == 0
                   && S_ISREG(sb.st_mode)) {
            if ((rc = ingest_paths_push(p, path)) < 0)
                free(path);
        } else {
            free(path);
        }
    }
    closedir(d);
    return rc;
}

static int ingest_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ingest_dir(ingest_run *r, const char *dir)
{
    ingest_paths p = {0};
    char *root = strdup(dir);
    size_t n;
    int rc = 0;

    if (!root)
        return ingest_fail(r, INGEST_FAIL, "out of memory");
    /* "docs/" and "docs" give the same ids. */
    n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        root[--n] = '\0';
    if (ingest_walk(r, root, &p) < 0)
        rc = ingest_fail(r, INGEST_FAIL, "out of memory");
    else
        qsort(p.v, p.n, sizeof *p.v, ingest_strcmp);
    for (size_t i = 0; rc == 0 && i < p.n; i++)
        rc = ingest_text_file(r, p.v[i]);
    ingest_paths_release(&p);
    free(root);
    return rc;
}

/* ----------------------------------------------------------------- run -- */

static int ingest_input(ingest_run *r, const char *path)
{
    struct stat sb;

    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return ingest_dir(r, path);
    if (ingest_has_ext(path, ".jsonl"))
        return ingest_jsonl(r, path);
    return ingest_text_file(r, path);
}

static int ingest_prepare(ingest_run *r)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(r->db, ingest_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &r->st[i], NULL)
            != SQLITE_OK)
            return ingest_fail(r, INGEST_FAIL, "%s: cannot prepare: %s",
                               r->opt.db, sqlite3_errmsg(r->db));
    return 0;
}

/* Open the store and get ready to write: 0, or -1 with r->status set. */
static int ingest_setup(ingest_run *r)
{
    if (store_open(r->opt.db, 1, &r->db, r->err, sizeof r->err) < 0) {
        r->status = INGEST_USAGE;
        return -1;
    }
    if ((r->opt.into & INTO_VECTOR) && ingest_check_embedder(r) < 0)
        return -1;
    if (!strcmp(r->opt.embedder, "hash"))
        r->dims = EMBED_HASH_DIMS;
    r->api_key = getenv(INGEST_KEY_ENV);
    if (!(r->docs = calloc((size_t)r->opt.batch, sizeof *r->docs)))
        return ingest_fail(r, INGEST_FAIL, "out of memory");
    return ingest_prepare(r);
}

static void ingest_release(ingest_run *r)
{
    for (size_t i = 0; i < r->ndocs; i++)
        ingest_doc_release(&r->docs[i]);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    sqlite3_close(r->db);
    free(r->docs);
    free(r->spans);
    free(r->vecs);
    free(r->scratch);
    free(r->blob);
}

int ingest_main(int argc, char **argv)
{
    ingest_run r = {0};
    int rc;

    if ((rc = ingest_parse_args(argc, argv, &r.opt)) != 0)
        return rc > 0 ? INGEST_OK : INGEST_USAGE;
    if (ingest_check_inputs(&r.opt) < 0)
        return INGEST_USAGE;
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    r.tshown = r.t0;
    r.tty = isatty(STDERR_FILENO);
    if (ingest_setup(&r) == 0) {
        int i = 0;
        while (i < r.opt.ninputs && ingest_input(&r, r.opt.inputs[i]) == 0)
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
