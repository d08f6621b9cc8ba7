/*
 * cache -- the search result cache (see cache.h): a chained hash table for
 * lookups plus one doubly linked list in order of use, the most recent at
 * its head, so eviction takes from the tail.
 */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "notify.h"

#define CACHE_BUCKETS 1024

typedef struct cache_entry {
    char *key;                        /* owned */
    char *text;                       /* owned */
    size_t bytes;                     /* what it counts against max_bytes */
    int64_t expires_ms;
    struct cache_entry *chain;        /* bucket chain */
    struct cache_entry *newer, *older; /* use order */
} cache_entry;

/* mu guards everything but the settings: every loop thread reads and
 * writes the one cache, and the main loop empties it when told. */
struct cache {
    pthread_mutex_t mu;
    int64_t ttl_ms;
    size_t max_bytes, bytes, count;
    cache_entry *newest, *oldest;
    notify_sub *sub;                  /* "store changed", or NULL */
    cache_entry *table[CACHE_BUCKETS];
};

static cache_entry **cache_bucket(cache *c, const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return &c->table[h % CACHE_BUCKETS];
}

static void cache_unuse(cache *c, cache_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void cache_use(cache *c, cache_entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    c->newest = e;
    if (!c->oldest)
        c->oldest = e;
}

/* Unlink e from its bucket and the use list, and free it. */
static void cache_drop(cache *c, cache_entry *e)
{
    for (cache_entry **pp = cache_bucket(c, e->key); *pp; pp = &(*pp)->chain)
        if (*pp == e) {
            *pp = e->chain;
            break;
        }
    cache_unuse(c, e);
    c->bytes -= e->bytes;
    c->count--;
    free(e->key);
    free(e->text);
    free(e);
}

static void cache_clear_locked(cache *c)
{
    while (c->oldest)
        cache_drop(c, c->oldest);
}

static void cache_store_changed(void *arg)
{
    cache_clear(arg);
}

cache *cache_new(int64_t ttl_ms, size_t max_bytes, const char *store_path)
{
    cache *c = calloc(1, sizeof *c);

    if (!c)
        return NULL;
    c->ttl_ms = ttl_ms;
    c->max_bytes = max_bytes;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    if (store_path && !(c->sub = notify_subscribe(store_path, cache_store_changed, c))) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    return c;
}

void cache_free(cache **cp)
{
    if (!*cp)
        return;
    notify_unsubscribe(&(*cp)->sub);
    cache_clear_locked(*cp);
    pthread_mutex_destroy(&(*cp)->mu);
    free(*cp);
    *cp = NULL;
}

static cache_entry *cache_find(cache *c, const char *key)
{
    for (cache_entry *e = *cache_bucket(c, key); e; e = e->chain)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

char *cache_get(cache *c, const char *key, int64_t now_ms)
{
    cache_entry *e;
    char *text = NULL;

    pthread_mutex_lock(&c->mu);
    if ((e = cache_find(c, key)) && now_ms >= e->expires_ms) {
        cache_drop(c, e);
    } else if (e) {
        cache_unuse(c, e);
        cache_use(c, e);
        text = strdup(e->text);
    }
    pthread_mutex_unlock(&c->mu);
    return text;
}

static int cache_put_locked(cache *c, const char *key, const char *text, int64_t now_ms)
{
    size_t klen = strlen(key), tlen = strlen(text);
    size_t bytes = sizeof(cache_entry) + klen + tlen + 2;
    cache_entry *e, *old = cache_find(c, key);
    cache_entry **b;

    if (old)
        cache_drop(c, old);
    if (bytes > c->max_bytes)
        return -1;
    if (!(e = calloc(1, sizeof *e)) || !(e->key = malloc(klen + 1)) ||
        !(e->text = malloc(tlen + 1)))
        goto fail;
    memcpy(e->key, key, klen + 1);
    memcpy(e->text, text, tlen + 1);
    e->bytes = bytes;
    e->expires_ms = now_ms + c->ttl_ms;
    while (c->bytes + bytes > c->max_bytes) {
        assert(c->oldest);
        cache_drop(c, c->oldest);
    }
    b = cache_bucket(c, key);
    e->chain = *b;
    *b = e;
    cache_use(c, e);
    c->bytes += bytes;
    c->count++;
    return 0;
fail:
    if (e) {
        free(e->key);
        free(e);
    }
    return -1;
}

int cache_put(cache *c, const char *key, const char *text, int64_t now_ms)
{
    int rc;

    pthread_mutex_lock(&c->mu);
    rc = cache_put_locked(c, key, text, now_ms);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void cache_clear(cache *c)
{
    pthread_mutex_lock(&c->mu);
    cache_clear_locked(c);
    pthread_mutex_unlock(&c->mu);
}

size_t cache_count(const cache *c)
{
    cache *m = (cache *)c; /* the lock is not part of the value */
    size_t n;

    pthread_mutex_lock(&m->mu);
    n = m->count;
    pthread_mutex_unlock(&m->mu);
    return n;
}

size_t cache_bytes(const cache *c)
{
    cache *m = (cache *)c;
    size_t n;

    pthread_mutex_lock(&m->mu);
    n = m->bytes;
    pthread_mutex_unlock(&m->mu);
    return n;
}
