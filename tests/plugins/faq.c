/* faq.c -- a minimal ragd source: answers from the entries in its config. */
#define _GNU_SOURCE                     /* for strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ragd/source.h>
typedef struct faq { const ragd_host *host; json_t *entries; } faq;
typedef struct job { faq *f; char *query; int k; const ragd_filter *filter; /* one search */
    ragd_search_cb cb; void *arg; ragd_hit hits[16]; size_t n; } job;  /* faq_done frees it */

static int faq_create(const ragd_host *host, const char *name, json_t *config,
                      void **self, char *err, size_t errlen)
{
    faq *f; (void)name;
    if (!json_is_array(json_object_get(config, "entries")))
        return snprintf(err, errlen, "entries: expected an array"), RAGD_EINVAL;
    if (!(f = calloc(1, sizeof *f)))
        return RAGD_ENOMEM;
    *f = (faq){host, json_object_get(config, "entries")}; /* config outlives us */
    *self = f;
    return RAGD_OK;
}

static void faq_work(void *arg, unsigned worker)   /* runs on a worker thread */
{
    job *j = arg;
    size_t i; json_t *e; (void)worker;
    json_array_foreach(j->f->entries, i, e) {
        const char *text = json_string_value(json_object_get(e, "text"));
        const char *id = json_string_value(json_object_get(e, "id"));
        if (text && id && strcasestr(text, j->query) && j->n < (size_t)j->k && j->n < 16 &&
            (!j->filter || j->f->host->filter_match(j->filter, id, json_object_get(e, "metadata"))))
            j->hits[j->n++] = (ragd_hit){id,
                json_string_value(json_object_get(e, "title")), NULL, text, 1.0 / (double)(j->n + 1)};
    }
}

static void faq_done(void *arg)                    /* back on the loop thread */
{
    job *j = arg;
    j->cb(j->arg, RAGD_OK, j->hits, j->n, NULL);   /* exactly once */
    free(j->query), free(j);
}

static int faq_search(void *self, const ragd_query *q, ragd_search_cb cb, void *arg, ragd_op **op)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->query = strdup(q->text)))
        return free(j), RAGD_ENOMEM;
    j->f = self, j->k = q->k, j->filter = q->filter_ref, j->cb = cb, j->arg = arg, *op = NULL;
    if (j->f->host->work_submit(j->f->host, faq_work, faq_done, j) == RAGD_OK)
        return RAGD_OK;
    return free(j->query), free(j), RAGD_ENOMEM;   /* an error now means no callback */
}

static void faq_destroy(void *self) { free(self); }
static const ragd_source_type faq_type = {RAGD_SOURCE_ABI_VERSION, "faq", faq_create, faq_search, NULL, faq_destroy, RAGD_SOURCE_FILTERS | RAGD_SOURCE_LOOPS};
const ragd_source_type *ragd_source_entry(void) { return &faq_type; }
