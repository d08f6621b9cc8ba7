/* busy.c -- a test plugin whose every search blocks a worker thread for
 * "block_ms" (default 5000), then answers one hit.  It writes the file
 * "marker" (when set) with "started" as the work begins and "done" as it
 * ends, so a test can act while the work is known to be running.  Used to
 * prove that shutting down while such work runs frees nothing it needs. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ragd/source.h>

typedef struct busy {
    const ragd_host *host;
    long long block_ms;
    const char *marker;
} busy;

typedef struct busy_job {
    busy *b;
    ragd_search_cb cb;
    void *arg;
} busy_job;

static void busy_mark(const char *path, const char *what)
{
    FILE *f = path ? fopen(path, "w") : NULL;

    if (f) {
        fputs(what, f);
        fclose(f);
    }
}

static void busy_work(void *arg, unsigned worker)
{
    busy_job *j = arg;
    struct timespec ts = {j->b->block_ms / 1000, (j->b->block_ms % 1000) * 1000000};

    (void)worker;
    busy_mark(j->b->marker, "started");
    nanosleep(&ts, NULL);
    busy_mark(j->b->marker, "done");
}

static void busy_done(void *arg)
{
    busy_job *j = arg;
    ragd_hit hit = {"busy-1", "Busy", NULL, "Finally done with the work.", 1.0};

    j->cb(j->arg, RAGD_OK, &hit, 1, NULL);
    free(j);
}

static int busy_create(const ragd_host *h, const char *name, json_t *cfg, void **self,
                       char *err, size_t errlen)
{
    busy *b = calloc(1, sizeof *b);

    (void)name;
    if (!b)
        return RAGD_ENOMEM;
    b->host = h;
    if (h->cfg_int(cfg, "block_ms", 5000, 0, 600000, &b->block_ms, err, errlen) != RAGD_OK ||
        h->cfg_string(cfg, "marker", NULL, &b->marker, err, errlen) != RAGD_OK) {
        free(b);
        return RAGD_EINVAL;
    }
    *self = b;
    return RAGD_OK;
}

static int busy_search(void *self, const ragd_query *q, ragd_search_cb cb, void *arg,
                       ragd_op **op)
{
    busy *b = self;
    busy_job *j = calloc(1, sizeof *j);

    (void)q;
    if (!j)
        return RAGD_ENOMEM;
    j->b = b, j->cb = cb, j->arg = arg, *op = NULL;
    if (b->host->work_submit(b->host, busy_work, busy_done, j) != RAGD_OK) {
        free(j);
        return RAGD_ERR;
    }
    return RAGD_OK;
}

static void busy_destroy(void *self)
{
    free(self);
}

static const ragd_source_type busy_type = {
    RAGD_SOURCE_ABI_VERSION, "busy", busy_create, busy_search, NULL, busy_destroy, RAGD_SOURCE_LOOPS,
};

const ragd_source_type *ragd_source_entry(void) { return &busy_type; }
