/* abi1.c -- a source as a plugin built against source ABI version 1 has
 * it: version 1's source table, which ends at destroy (no flags), and a
 * query read no further than deadline_ms.  Answers one fixed hit. */
#include <stdlib.h>
#include <ragd/source.h>

typedef struct abi1_type {
    int abi_version;
    const char *name;
    int (*create)(const ragd_host *, const char *, json_t *, void **, char *, size_t);
    int (*search)(void *, const ragd_query *, ragd_search_cb, void *, ragd_op **);
    void (*cancel)(void *, ragd_op *);
    void (*destroy)(void *);
} abi1_type;

typedef struct job { const ragd_host *host; ragd_search_cb cb; void *arg; } job;
static const ragd_host *abi1_host;

static int abi1_create(const ragd_host *host, const char *name, json_t *config, void **self,
                       char *err, size_t errlen)
{
    (void)name, (void)config, (void)err, (void)errlen;
    abi1_host = host;
    *self = &abi1_host;
    return RAGD_OK;
}

static void abi1_work(void *arg, unsigned worker) { (void)arg, (void)worker; }

static void abi1_done(void *arg)
{
    job *j = arg;
    ragd_hit h = {"abi1-doc", "ABI 1", NULL, "An answer from a version 1 plugin.", 1.0};
    j->cb(j->arg, RAGD_OK, &h, 1, NULL);
    free(j);
}

static int abi1_search(void *self, const ragd_query *q, ragd_search_cb cb, void *arg,
                       ragd_op **op)
{
    job *j = malloc(sizeof *j);
    (void)self, (void)q, (void)op;
    if (!j)
        return RAGD_ENOMEM;
    *j = (job){abi1_host, cb, arg};
    if (abi1_host->work_submit(abi1_host, abi1_work, abi1_done, j) == RAGD_OK)
        return RAGD_OK;
    free(j);
    return RAGD_ENOMEM;
}

static void abi1_destroy(void *self) { (void)self; }

static const abi1_type abi1 = {1, "abi1", abi1_create, abi1_search, NULL, abi1_destroy};
const ragd_source_type *ragd_source_entry(void) { return (const ragd_source_type *)&abi1; }
