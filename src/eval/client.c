/*
 * client -- the libcurl multi loop behind rag-eval's requests.
 *
 * A fixed set of slots, one easy handle each; a finished slot takes the next
 * request, or the same one again when its first attempt was rejected.
 */
#include "buf.h"
#include "eval/client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The largest /search response accepted: k = 100 contexts are well under. */
#define EVAL_CLIENT_MAX_RESPONSE (64u << 20)

/* Seconds between progress redraws. */
#define EVAL_CLIENT_REDRAW 0.2

typedef struct eval_client_slot {
    CURL *easy;
    size_t index;
    int attempt;
    char *body;
    buf resp;                   /* the response body so far */
    char err[CURL_ERROR_SIZE];
} eval_client_slot;

typedef struct eval_client_loop {
    const eval_client *c;
    CURLM *multi;
    struct curl_slist *hdr;
    eval_client_slot *slots;
    size_t nslots, next, done, total;
    double start, drawn;
} eval_client_loop;

static double eval_client_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t eval_client_write(char *p, size_t size, size_t nmemb, void *arg)
{
    eval_client_slot *s = arg;
    size_t n = size * nmemb;

    /* Short means libcurl fails the transfer: a rejected attempt. */
    return buf_add(&s->resp, p, n, EVAL_CLIENT_MAX_RESPONSE) == 0 ? n : 0;
}

static void eval_client_progress(eval_client_loop *l, int final)
{
    double t = eval_client_now(), el = t - l->start;

    if (!l->c->progress || (!final && t - l->drawn < EVAL_CLIENT_REDRAW))
        return;
    l->drawn = t;
    fprintf(stderr, "\r\033[K%zu/%zu requests, %.1f/s", l->done, l->total,
            el > 0 ? (double)l->done / el : 0.0);
    if (final)
        fputc('\n', stderr);
}

/* (Re)start the slot's request. */
static int eval_client_start(eval_client_loop *l, eval_client_slot *s)
{
    CURL *e = s->easy;

    s->resp.len = 0;
    s->err[0] = '\0';
    curl_easy_reset(e);
    if (curl_easy_setopt(e, CURLOPT_URL, l->c->url)
        || curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body)
        || curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->hdr)
        || curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, eval_client_write)
        || curl_easy_setopt(e, CURLOPT_WRITEDATA, s)
        || curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->err)
        || curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)
        || curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, l->c->timeout_ms)
        || curl_easy_setopt(e, CURLOPT_PRIVATE, s)
        || curl_multi_add_handle(l->multi, e)) {
        fprintf(stderr, "rag-eval: cannot set up a request to %s\n", l->c->url);
        return -1;
    }
    s->attempt++;
    return 0;
}

/* Give a free slot the next request, if any is left. */
static int eval_client_fill(eval_client_loop *l, eval_client_slot *s)
{
    if (l->next >= l->total)
        return 0;
    s->index = l->next++;
    s->attempt = 0;
    s->body = l->c->body(l->c->ctx, s->index);
    if (!s->body) {
        fprintf(stderr, "rag-eval: out of memory\n");
        return -1;
    }
    return eval_client_start(l, s);
}

/* One transfer ended: hand it to the caller, retry it or move on. */
static int eval_client_finish(eval_client_loop *l, CURL *e, CURLcode code)
{
    eval_client_slot *s = NULL;
    eval_client_resp r = {0};

    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
    curl_multi_remove_handle(l->multi, e);
    if (code == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
    r.body = s->resp.p ? s->resp.p : "";
    r.len = s->resp.len;
    r.err = code == CURLE_OK ? NULL : (s->err[0] ? s->err : curl_easy_strerror(code));
    r.last = s->attempt >= 2;
    if (l->c->done(l->c->ctx, s->index, &r) < 0 && !r.last)
        return eval_client_start(l, s);
    free(s->body);
    s->body = NULL;
    l->done++;
    eval_client_progress(l, 0);
    return eval_client_fill(l, s);
}

static int eval_client_drain(eval_client_loop *l)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(l->multi, &left)))
        if (m->msg == CURLMSG_DONE
            && eval_client_finish(l, m->easy_handle, m->data.result) < 0)
            return -1;
    return 0;
}

static int eval_client_loop_run(eval_client_loop *l)
{
    int running = 0;

    for (size_t i = 0; i < l->nslots; i++)
        if (eval_client_fill(l, &l->slots[i]) < 0)
            return -1;
    while (l->done < l->total) {
        if (curl_multi_perform(l->multi, &running) != CURLM_OK
            || eval_client_drain(l) < 0)
            return -1;
        if (l->done < l->total
            && curl_multi_poll(l->multi, NULL, 0, 100, NULL) != CURLM_OK)
            return -1;
    }
    return 0;
}

int eval_client_run(const eval_client *c, size_t n)
{
    eval_client_loop l = {.c = c, .total = n};
    int rc = -1;

    l.nslots = c->concurrency < n ? c->concurrency : n;
    l.multi = curl_multi_init();
    l.slots = calloc(l.nslots ? l.nslots : 1, sizeof *l.slots);
    l.hdr = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before the body. */
    struct curl_slist *h2 = l.hdr ? curl_slist_append(l.hdr, "Expect:") : NULL;
    if (!l.multi || !l.slots || !h2)
        goto fail;
    for (size_t i = 0; i < l.nslots; i++)
        if (!(l.slots[i].easy = curl_easy_init()))
            goto fail;
    l.start = l.drawn = eval_client_now();
    rc = eval_client_loop_run(&l);
    eval_client_progress(&l, 1);
fail:
    if (rc < 0 && (!l.multi || !l.slots || !h2))
        fprintf(stderr, "rag-eval: out of memory\n");
    for (size_t i = 0; l.slots && i < l.nslots; i++) {
        if (l.slots[i].easy) {
            curl_multi_remove_handle(l.multi, l.slots[i].easy);
            curl_easy_cleanup(l.slots[i].easy);
        }
        free(l.slots[i].body);
        buf_release(&l.slots[i].resp);
    }
    free(l.slots);
    curl_slist_free_all(l.hdr);
    curl_multi_cleanup(l.multi);
    return rc;
}
