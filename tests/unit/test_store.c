/*
 * test_store -- unit tests for the store: put, replace, delete, the change
 * log, the embedder rule, the upgrade of a version 1 file and opening
 * errors.  Looks at the SQLite file directly only to prove that replaced
 * and deleted rows are gone.
 */
#include "store.h"
#include "tap.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIMS 4

/* The schema `ragd ingest` wrote before the change log (version 1). */
static const char v1_schema[] =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS docs("
    "  id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', url TEXT,"
    "  metadata TEXT);"
    "CREATE TABLE IF NOT EXISTS chunks("
    "  id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    "  text TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);"
    "CREATE TABLE IF NOT EXISTS vectors("
    "  chunk_id INTEGER PRIMARY KEY, vec BLOB NOT NULL);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts USING fts5("
    "  title, text, tokenize='porter unicode61');"
    "INSERT INTO meta VALUES('schema_version', '1');";

static char dir[] = "/tmp/test_store.XXXXXX";

/* A path in the test's directory (one static buffer per call site's use). */
static const char *path_of(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", dir, name);
    return buf;
}

/* One integer from a query on the file itself, or -1. */
static long long q(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* Put document id with the given chunk texts, each with a vector. */
static int put(store *s, const char *id, const char *const *texts, size_t n)
{
    store_chunk c[8];
    float vecs[8 * DIMS];

    for (size_t i = 0; i < n; i++) {
        c[i] = (store_chunk){texts[i], strlen(texts[i])};
        for (int d = 0; d < DIMS; d++)
            vecs[i * DIMS + d] = (float)(i + 1) / (float)(d + 1);
    }
    return store_put(s, &(store_doc){.id = id, .title = id, .chunks = c, .nchunks = n,
                                     .vecs = vecs, .fts = 1});
}

/* The change log as "seq:doc:op" words, for comparing. */
typedef struct log_text {
    char buf[512];
    size_t len;
} log_text;

static int log_add(void *arg, int64_t seq, const char *doc_id, store_op op)
{
    log_text *t = arg;

    t->len += (size_t)snprintf(t->buf + t->len, sizeof t->buf - t->len, "%s%lld:%s:%s",
                               t->len ? " " : "", (long long)seq, doc_id,
                               op == STORE_PUT ? "put" : "delete");
    return 0;
}

static const char *changes(store *s, int64_t after, log_text *t)
{
    t->len = 0;
    t->buf[0] = '\0';
    return store_changes(s, after, log_add, t) == 0 ? t->buf : "(failed)";
}

static int count_vec(void *arg, int64_t chunk_id, const char *doc_id, const float *vec)
{
    (void)chunk_id;
    (void)doc_id;
    (void)vec;
    ++*(size_t *)arg;
    return 0;
}

static store_embedder hash_embedder(void)
{
    store_embedder e = {.name = "hash", .dims = DIMS};
    return e;
}

static void test_put_replace_delete(void)
{
    char p[256], err[512];
    const char *path = path_of("a.db", p, sizeof p);
    const char *t3[] = {"alpha one", "alpha two", "alpha three"};
    const char *t1[] = {"beta only"};
    store_embedder e = hash_embedder();
    store *s = NULL;
    store_hit h;
    log_text lt;
    int64_t seq = -1;
    size_t n = 0, skipped = 9;

    ok(store_open(path, 1, &s, err, sizeof err) == 0, "a new store opens writable: %s", err);
    ok(store_embedder_use(s, &e, err, sizeof err) == 0, "a fresh store accepts any embedder");
    ok(put(s, "a", t3, 3) == 0 && put(s, "b", t1, 1) == 0, "put two documents");
    is_int(q(path, "SELECT count(*) FROM chunks"), 4, "four chunks");
    is_int(q(path, "SELECT count(*) FROM vectors"), 4, "four vectors");
    is_int(q(path, "SELECT count(*) FROM kb_fts"), 4, "four full-text rows");
    ok(store_vectors(s, "a", DIMS, count_vec, &n, &skipped) == 0 && n == 3 && skipped == 0,
       "document a has three vectors");
    ok(put(s, "a", t1, 1) == 0, "re-put a with one chunk");
    is_int(q(path, "SELECT count(*) FROM chunks WHERE doc_id = 'a'"), 1, "a's old chunks are gone");
    is_int(q(path, "SELECT count(*) FROM vectors"), 2, "its old vectors are gone");
    is_int(q(path, "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH 'alpha'"), 0,
           "its old full-text rows are gone");
    is_int(store_delete(s, "b"), 1, "delete b");
    is_int(store_delete(s, "nope"), 0, "deleting a missing document changes nothing");
    is_int(q(path, "SELECT count(*) FROM chunks WHERE doc_id = 'b'"), 0, "b's chunks are gone");
    is_int(q(path, "SELECT count(*) FROM docs"), 1, "one document left");
    ok(store_last_seq(s, &seq) == 0 && seq == 4, "four changes logged (got %lld)", (long long)seq);
    is_str(changes(s, 0, &lt), "1:a:put 2:b:put 3:a:put 4:b:delete", "the log in order");
    is_str(changes(s, 2, &lt), "3:a:put 4:b:delete", "the changes after 2");
    is_str(changes(s, 4, &lt), "", "nothing after the last");
    store_close(&s);

    ok(store_open(path, 0, &s, err, sizeof err) == 0, "it opens read-only: %s", err);
    ok(store_chunk_get(s, 1, &h) == 0, "a replaced chunk is gone for readers");
    ok(store_chunk_get(s, 5, &h) == 1 && !strcmp(h.doc_id, "a") && !strcmp(h.text, "beta only"),
       "the new chunk reads back with its document");
    ok(store_kb_prepare(s, 1.0, 1.0) == 0, "the kb search prepares");
    store_close(&s);
    ok(s == NULL, "store_close clears the pointer");
}

static void test_batch_rollback(void)
{
    char p[256], err[512];
    const char *path = path_of("b.db", p, sizeof p);
    const char *t[] = {"gamma"};
    store_embedder e = hash_embedder();
    store *s = NULL;
    int64_t seq = -1;

    store_open(path, 1, &s, err, sizeof err);
    store_embedder_use(s, &e, err, sizeof err);
    ok(store_begin(s) == 0 && put(s, "x", t, 1) == 0 && put(s, "y", t, 1) == 0, "two puts in a batch");
    store_rollback(s);
    ok(store_last_seq(s, &seq) == 0 && seq == 0, "a rolled-back batch logs nothing");
    is_int(q(path, "SELECT count(*) FROM meta WHERE key = 'embedder'"), 0,
           "nor records its embedder");
    ok(store_begin(s) == 0 && put(s, "x", t, 1) == 0 && put(s, "y", t, 1) == 0 &&
       store_commit(s) == 0, "two puts committed in a batch");
    ok(store_last_seq(s, &seq) == 0 && seq == 2, "both logged");
    store_close(&s);
}

static void test_embedder(void)
{
    char p[256], err[512];
    const char *path = path_of("e.db", p, sizeof p);
    const char *t[] = {"delta"};
    store_embedder e = {.name = "openai", .model = "m1", .url = "http://x/v1//"};
    store_embedder got;
    store *s = NULL;

    store_open(path, 1, &s, err, sizeof err);
    ok(store_embedder_use(s, &e, err, sizeof err) == 0, "openai with dims unknown is accepted");
    e.dims = DIMS;
    ok(store_embedder_use(s, &e, err, sizeof err) == 0 && put(s, "d", t, 1) == 0,
       "the first put with vectors records it");
    ok(store_embedder_get(s, &got) == 1 && !strcmp(got.name, "openai") && got.dims == DIMS &&
       !strcmp(got.model, "m1") && !strcmp(got.url, "http://x/v1"),
       "recorded: name, dims, model, URL without trailing slashes");
    store_embedder h = hash_embedder();
    ok(store_embedder_use(s, &h, err, sizeof err) < 0 && strstr(err, "pass --embedder openai"),
       "another embedder is refused: %s", err);
    store_embedder m = e;
    snprintf(m.model, sizeof m.model, "m2");
    ok(store_embedder_use(s, &m, err, sizeof err) < 0 && strstr(err, "pass --embed-model m1"),
       "another model is refused: %s", err);
    store_embedder d = e;
    d.dims = DIMS + 1;
    ok(store_embedder_use(s, &d, err, sizeof err) < 0 && strstr(err, "now returns 5 dims"),
       "other dims are refused: %s", err);
    ok(store_embedder_match(s, "openai", DIMS, err, sizeof err) == 0, "a reader with the same embedder matches");
    ok(store_embedder_match(s, "hash", 384, err, sizeof err) < 0 &&
       strstr(err, "built with embedder openai (4 dims), but ragd embeds queries with hash (384 dims)"),
       "a reader with another is refused: %s", err);
    store_close(&s);
}

/* Whether a read-only open of the version 1 store at path is refused with
 * the command that upgrades it.  Root may write any file, so as root the
 * open runs in a child that has become uid (nobody) first. */
static int test_refused_as(const char *path, uid_t uid)
{
    char err[512];
    store *s = NULL;
    int status;
    pid_t pid;

    if (uid == (uid_t)-1)
        return store_open(path, 0, &s, err, sizeof err) < 0 &&
               strstr(err, "ragd ingest --migrate --db ") && strstr(err, "v1ro.db");
    chmod(dir, 0755); /* nobody must reach the file, not write beside it */
    if ((pid = fork()) == 0) {
        if (setgid((gid_t)uid) != 0 || setuid(uid) != 0 || access(path, W_OK) == 0)
            _exit(3);
        _exit(store_open(path, 0, &s, err, sizeof err) < 0 &&
              strstr(err, "ragd ingest --migrate --db ") && strstr(err, "v1ro.db") ? 0 : 1);
    }
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static void test_migration(void)
{
    char p[256], err[512];
    const char *path = path_of("v1.db", p, sizeof p);
    sqlite3 *db = NULL;
    store *s = NULL;
    log_text lt;
    int64_t seq = -1;
    int rc;

    rc = sqlite3_open(path, &db);
    rc = rc ? rc : sqlite3_exec(db, v1_schema, NULL, NULL, NULL);
    rc = rc ? rc : sqlite3_exec(db,
        "INSERT INTO docs(id, title) VALUES('d1', 'One'), ('d2', 'Two');"
        "INSERT INTO chunks(doc_id, seq, text) VALUES('d1', 0, 'first'), ('d2', 0, 'second');"
        "INSERT INTO kb_fts(rowid, title, text) VALUES(1, 'One', 'first'), (2, 'Two', 'second');",
        NULL, NULL, NULL);
    sqlite3_close(db);
    ok(rc == SQLITE_OK, "a version 1 store made");
    ok(store_open(path, 0, &s, err, sizeof err) == 0, "a reader opens it: %s", err);
    is_int(q(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 3, "upgraded in place");
    ok(store_last_seq(s, &seq) == 0 && seq == 2, "the log has one entry per document");
    is_str(changes(s, 0, &lt), "1:d1:put 2:d2:put", "changes after 0 reproduce the store");
    store_close(&s);

    path = path_of("v1ro.db", p, sizeof p);
    rc = sqlite3_open(path, &db);
    rc = rc ? rc : sqlite3_exec(db, v1_schema, NULL, NULL, NULL);
    sqlite3_close(db);
    ok(rc == SQLITE_OK && chmod(path, 0444) == 0, "a read-only version 1 store made");
    ok(test_refused_as(path, geteuid() == 0 ? 65534 : (uid_t)-1),
       "a store that cannot be upgraded is refused with the command");
}

static void test_open_errors(void)
{
    char p[256], err[512];
    const char *path = path_of("missing.db", p, sizeof p);
    store *s = NULL;
    FILE *f;

    ok(store_open(path, 0, &s, err, sizeof err) < 0 && s == NULL, "a missing file is refused");
    ok(strstr(err, "missing.db") && strstr(err, "No such file") && strstr(err, "ragd ingest"),
       "naming the file, why and what to do: %s", err);
    ok(access(path, F_OK) != 0, "and not created");
    path = path_of("text.db", p, sizeof p);
    if ((f = fopen(path, "w"))) {
        fputs("hello, this is not a database at all, just some text\n", f);
        fclose(f);
    }
    ok(store_open(path, 0, &s, err, sizeof err) < 0 && strstr(err, "text.db"),
       "a file that is not a store is refused read-only: %s", err);
    ok(store_open(path, 1, &s, err, sizeof err) < 0 && strstr(err, "not a ragd database"),
       "and writable: %s", err);
}

static int count_job(void *arg, const store_job *j)
{
    (void)j;
    ++*(int *)arg;
    return 0;
}

static int take_doc(void *arg, int64_t index, const char *doc)
{
    snprintf(arg, 64, "%lld:%s", (long long)index, doc);
    return 0;
}

/* A version 2 store (no jobs tables) is upgraded by a writable open, and
 * jobs then keep their payload and progress. */
static void test_jobs(void)
{
    char p[256], err[512], last[64] = "";
    const char *path = path_of("v2.db", p, sizeof p);
    const char *docs[] = {"{\"id\":\"a\"}", "{\"id\":\"b\"}"};
    store *s = NULL;
    store_job j;
    int64_t id = 0, next = 0, n = -1;
    int seen = 0;

    ok(store_open(path, 1, &s, err, sizeof err) == 0, "a new store: %s", err);
    store_close(&s);
    {
        sqlite3 *db = NULL;
        int rc = sqlite3_open(path, &db);
        rc = rc ? rc : sqlite3_exec(db, "DROP TABLE jobs; DROP TABLE job_docs;"
                                    "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
                                    NULL, NULL, NULL);
        sqlite3_close(db);
        ok(rc == SQLITE_OK, "made it a version 2 store");
    }
    ok(store_open(path, 1, &s, err, sizeof err) == 0, "a version 2 store opens: %s", err);
    is_int(q(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 3, "upgraded to 3");
    ok(store_job_add(s, "[\"kb\"]", docs, 2, 100, &id) == 0 && id > 0, "a job is added");
    ok(store_job_get(s, id, &j) == 1 && !strcmp(j.status, "queued") && j.total == 2 &&
       j.created_at == 100, "it reads back queued");
    ok(store_job_next(s, &next) == 1 && next == id, "it is the next job");
    j.done = 1;
    snprintf(j.status, sizeof j.status, "done");
    j.finished_at = 200;
    ok(store_job_update(s, &j) == 0, "progress is written");
    store_job_release(&j);
    ok(store_job_docs(s, id, 1, 5, take_doc, last) == 0, "the payload reads from 1");
    is_str(last, "1:{\"id\":\"b\"}", "its second document");
    ok(store_job_next(s, &next) == 0, "a finished job is not next");
    ok(store_job_list(s, 10, count_job, &seen) == 0 && seen == 1, "the list has it");
    ok(store_job_expire(s, 150, &n) == 0 && n == 0, "not expired before it finished");
    ok(store_job_expire(s, 201, &n) == 0 && n == 1, "expired after");
    ok(store_job_get(s, id, &j) == 0, "gone");
    is_int(q(path, "SELECT count(*) FROM job_docs"), 0, "with its payload");
    store_close(&s);
}

/* The change log's retention: exactly the newest `keep` entries stay, and
 * a reader behind them is told rather than given a log with a hole. */
static int count_id(void *arg, const char *id)
{
    (void)id;
    ++*(size_t *)arg;
    return 0;
}

static void test_log_keep(void)
{
    char p[256], err[512], id[16];
    const char *path = path_of("keep.db", p, sizeof p);
    const char *t[] = {"delta"};
    store_embedder e = hash_embedder();
    store *s = NULL, *r = NULL;
    log_text lt = {0};
    int64_t seq = -1;
    size_t n = 0;

    store_open(path, 1, &s, err, sizeof err);
    store_embedder_use(s, &e, err, sizeof err);
    store_log_keep(s, 3);
    for (int i = 1; i <= 5; i++) {
        snprintf(id, sizeof id, "d%d", i);
        put(s, id, t, 1);
    }
    is_int(q(path, "SELECT count(*) FROM changes"), 3, "five commits keep the newest three");
    is_str(changes(s, 2, &lt), "3:d3:put 4:d4:put 5:d5:put", "a reader at the bound reads them");
    lt.len = 0;
    is_int(store_changes(s, 1, log_add, &lt), STORE_BEHIND, "a reader behind it is told");
    is_int((int)lt.len, 0, "and given nothing");
    is_int(store_changes(s, 0, log_add, &lt), STORE_BEHIND, "as is one from the start");
    ok(store_begin(s) == 0 && put(s, "e1", t, 1) == 0 && put(s, "e2", t, 1) == 0 &&
       put(s, "e3", t, 1) == 0 && put(s, "e4", t, 1) == 0 && store_commit(s) == 0,
       "a batch of four commits");
    is_int(q(path, "SELECT count(*) FROM changes"), 3, "the window is still three");
    ok(store_last_seq(s, &seq) == 0 && seq == 9, "sequence numbers go on (got %lld)",
       (long long)seq);
    ok(store_open(path, 0, &r, err, sizeof err) == 0, "a reader opens: %s", err);
    is_int(store_changes(r, 5, log_add, &lt), STORE_BEHIND, "another handle is told too");
    is_str(changes(r, 6, &lt), "7:e2:put 8:e3:put 9:e4:put", "and reads the window");
    ok(store_begin(r) == 0 && store_changes(r, 5, log_add, &lt) == STORE_BEHIND,
       "inside a read transaction as well");
    store_rollback(r);
    ok(store_doc_ids(r, count_id, &n) == 0 && n == 9, "every document is still listed (%zu)", n);
    store_close(&r);
    store_close(&s);
}

/* Reads between store_read_begin and store_read_end see one moment: a
 * write committed by another handle meanwhile shows only after the end. */
static void test_read_transaction(void)
{
    char p[256], err[512];
    const char *path = path_of("read.db", p, sizeof p);
    const char *t1[] = {"first"}, *t2[] = {"second"};
    store_embedder e = hash_embedder();
    store *w = NULL, *r = NULL;
    store_hit h;

    store_open(path, 1, &w, err, sizeof err);
    store_embedder_use(w, &e, err, sizeof err);
    put(w, "a", t1, 1);
    ok(store_open(path, 0, &r, err, sizeof err) == 0, "a reader opens: %s", err);
    ok(store_read_begin(r) == 0, "a read transaction starts");
    ok(store_chunk_get(r, 1, &h) == 1 && !strcmp(h.text, "first"), "a read inside it");
    put(w, "a", t2, 1);
    ok(store_chunk_get(r, 1, &h) == 1 && !strcmp(h.text, "first"),
       "a write committed meanwhile is not seen inside it");
    store_read_end(r);
    ok(store_chunk_get(r, 1, &h) == 1 && !strcmp(h.text, "second"),
       "after the end, the write is seen");
    store_read_end(r);
    ok(store_read_begin(r) == 0, "ending twice is harmless, and another one starts");
    store_read_end(r);
    store_close(&r);
    store_close(&w);
}

int main(void)
{
    char cmd[300];

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_put_replace_delete();
    test_batch_rollback();
    test_embedder();
    test_migration();
    test_open_errors();
    test_jobs();
    test_log_keep();
    test_read_transaction();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
