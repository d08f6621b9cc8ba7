/* Unit tests for the result cache: hits, expiry, LRU eviction by bytes, and
 * emptying on a "store changed" notification. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "notify.h"
#include "tap.h"

/* cache_get hands out copies: keep the last one, freed at the next call. */
static char *last;

static const char *get(cache *c, const char *key, int64_t now_ms)
{
    free(last);
    last = c ? cache_get(c, key, now_ms) : NULL;
    return last;
}

static void test_hit_and_expiry(void)
{
    cache *c = cache_new(100, 1 << 20, NULL);

    ok(c != NULL, "a cache is made");
    ok(get(c, "k", 0) == NULL, "empty: a miss");
    is_int(cache_put(c, "k", "{\"a\":1}", 0), 0, "a text is stored");
    is_str(get(c, "k", 99), "{\"a\":1}", "and found before its TTL");
    ok(get(c, "k", 100) == NULL, "not at its TTL");
    is_int(cache_count(c), 0, "an expired entry is dropped when found");
    is_int(cache_bytes(c), 0, "with its bytes");
    cache_put(c, "k", "old", 0);
    cache_put(c, "k", "new", 0);
    is_str(get(c, "k", 1), "new", "storing a key again replaces it");
    is_int(cache_count(c), 1, "one entry per key");
    cache_free(&c);
    ok(c == NULL, "free clears the pointer");
}

static void test_lru_eviction(void)
{
    char text[200];
    cache *c;
    size_t one;

    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    c = cache_new(1000, 1 << 20, NULL);
    cache_put(c, "a", text, 0);
    one = cache_bytes(c);
    cache_free(&c);

    c = cache_new(1000, 3 * one, NULL);
    cache_put(c, "a", text, 0);
    cache_put(c, "b", text, 0);
    cache_put(c, "c", text, 0);
    is_int(cache_count(c), 3, "three entries fit");
    ok(get(c, "a", 1) != NULL, "a is used: now the most recent");
    cache_put(c, "d", text, 1);
    is_int(cache_count(c), 3, "a fourth evicts one");
    ok(get(c, "b", 2) == NULL, "the least recently used (b) went");
    ok(get(c, "a", 2) && get(c, "c", 2) && get(c, "d", 2), "the others stay");
    ok(cache_bytes(c) <= 3 * one, "the bytes stay within the bound");
    cache_free(&c);

    c = cache_new(1000, 1024, NULL);
    {
        char big[2048];
        memset(big, 'y', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        is_int(cache_put(c, "big", big, 0), -1, "a text larger than the bound is refused");
        is_int(cache_count(c), 0, "and nothing is held");
    }
    cache_free(&c);
}

static void test_store_changed(void)
{
    cache *c = cache_new(1000, 1 << 20, "/tmp/store.db");

    cache_put(c, "a", "1", 0);
    cache_put(c, "b", "2", 0);
    notify_publish("/tmp/other.db");
    is_int(cache_count(c), 2, "another store's change leaves it alone");
    notify_publish("/tmp/store.db");
    is_int(cache_count(c), 0, "its store's change empties it");
    is_int(cache_bytes(c), 0, "to zero bytes");
    cache_free(&c);
    notify_publish("/tmp/store.db"); /* unsubscribed: must not touch freed memory */
    ok(1, "a freed cache hears nothing");
}

int main(void)
{
    test_hit_and_expiry();
    test_lru_eviction();
    test_store_changed();
    get(NULL, NULL, 0);
    return tap_done();
}
