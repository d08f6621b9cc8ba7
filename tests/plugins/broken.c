/* broken.c -- a test plugin that answers what a broken source might: hits
 * whose strings are not UTF-8 ("mode": "utf8"), far more hits than were
 * asked ("many"), a text of 200,000 bytes with a character across the
 * 65,536-byte limit ("long"), or an error whose 5,000-byte message is not
 * UTF-8 ("error").  ragd must keep what it can, say what it
 * changed, and answer the search. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ragd/source.h>

#define BROKEN_MANY 5000

typedef struct broken {
    const ragd_host *host;
    char mode[16];
} broken;

typedef struct job {
    const broken *b;
    ragd_search_cb cb;
    void *arg;
    ragd_hit hits[BROKEN_MANY];
    char ids[BROKEN_MANY][16];
    char *text;
    size_t n;
} job;

static int broken_create(const ragd_host *host, const char *name, json_t *config, void **self,
                         char *err, size_t errlen)
{
    const char *mode = json_string_value(json_object_get(config, "mode"));
    broken *b;

    (void)name;
    if (!mode || (strcmp(mode, "utf8") && strcmp(mode, "many") && strcmp(mode, "long") &&
                  strcmp(mode, "error")))
        return snprintf(err, errlen, "mode: expected utf8, many, long or error"), RAGD_EINVAL;
    if (!(b = calloc(1, sizeof *b)))
        return RAGD_ENOMEM;
    b->host = host;
    snprintf(b->mode, sizeof b->mode, "%s", mode);
    *self = b;
    return RAGD_OK;
}

static void broken_work(void *arg, unsigned worker)
{
    job *j = arg;
    (void)worker;
    if (!strcmp(j->b->mode, "utf8")) {
        /* A lone continuation byte, an overlong slash, a cut-off sequence. */
        j->hits[j->n++] = (ragd_hit){"u1\xff", "Title \x80", "http://example.com/\xc0\xaf",
                                     "caf\xc3 au lait \xe2\x82", 1.0};
    } else if (!strcmp(j->b->mode, "many")) {
        for (; j->n < BROKEN_MANY; j->n++) {
            snprintf(j->ids[j->n], sizeof j->ids[j->n], "m%zu", j->n);
            j->hits[j->n] = (ragd_hit){j->ids[j->n], NULL, NULL, "many", 1.0 / (double)(j->n + 1)};
        }
    } else if (!strcmp(j->b->mode, "error")) {
        if ((j->text = malloc(5001))) {
            memset(j->text, 'e', 5000);
            j->text[0] = '\xff';
            j->text[5000] = '\0';
        }
    } else if ((j->text = malloc(200001))) {
        /* 'a' up to byte 65,534, then a 3-byte euro sign across the limit. */
        memset(j->text, 'a', 200000);
        memcpy(j->text + 65534, "\xe2\x82\xac", 3);
        j->text[200000] = '\0';
        j->hits[j->n++] = (ragd_hit){"long", NULL, NULL, j->text, 1.0};
    }
}

static void broken_done(void *arg)
{
    job *j = arg;
    if (!strcmp(j->b->mode, "error"))
        j->cb(j->arg, RAGD_ERR, NULL, 0, j->text ? j->text : "out of memory");
    else
        j->cb(j->arg, RAGD_OK, j->hits, j->n, NULL);
    free(j->text);
    free(j);
}

static int broken_search(void *self, const ragd_query *q, ragd_search_cb cb, void *arg,
                         ragd_op **op)
{
    job *j = calloc(1, sizeof *j);
    (void)q;
    if (!j)
        return RAGD_ENOMEM;
    j->b = self, j->cb = cb, j->arg = arg, *op = NULL;
    if (j->b->host->work_submit(j->b->host, broken_work, broken_done, j) == RAGD_OK)
        return RAGD_OK;
    free(j);
    return RAGD_ENOMEM;
}

static void broken_destroy(void *self) { free(self); }

static const ragd_source_type broken_type = {
    RAGD_SOURCE_ABI_VERSION, "broken", broken_create, broken_search, NULL, broken_destroy,
    RAGD_SOURCE_LOOPS,
};

const ragd_source_type *ragd_source_entry(void) { return &broken_type; }
