/*
 * cache -- finished /search documents kept for a while, so that a repeated
 * search is answered without a fan-out.
 *
 * Keyed like coalescing (search.c's search_key: normalised query, k,
 * sources, filter, timeout_ms), holding the document as text without its
 * timing and request id; the writer re-emits it with fresh ones.  Entries
 * expire ttl_ms after they were stored; when the bytes held (keys, bodies
 * and bookkeeping) would pass max_bytes, the least recently used go first.
 * The whole cache is emptied when the store it serves changes: a write by
 * this process (notify.h) empties it at once; a write by another process
 * to the same file is seen only through the TTL.
 *
 * Ownership: the server owns the cache (cache_new / cache_free); stored
 * texts are copies the cache owns, and cache_get hands out a copy of its
 * own.  Any loop thread: one lock guards it, so every loop shares one
 * cache; notify subscribers (cache_new) are the main loop's.
 */
#ifndef RAGD_CACHE_H
#define RAGD_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cache cache;

/* A cache of at most max_bytes whose entries live ttl_ms, emptied when
 * store_path (may be NULL) is published as changed.  Returns the cache, or
 * NULL (out of memory). */
cache *cache_new(int64_t ttl_ms, size_t max_bytes, const char *store_path);

/* Free *cp (NULL is fine) and what it holds, and set *cp to NULL. */
void cache_free(cache **cp);

/* A copy of the text stored under key if it has not expired at now_ms
 * (the caller frees it), and mark it recently used; NULL when absent or out
 * of memory. */
char *cache_get(cache *c, const char *key, int64_t now_ms);

/* Store a copy of text under key at now_ms, replacing what was there and
 * evicting the least recently used entries to stay within max_bytes.  A
 * text that alone would not fit is not stored.  Returns 0, or -1 (not
 * stored: too big, or out of memory). */
int cache_put(cache *c, const char *key, const char *text, int64_t now_ms);

/* Drop every entry. */
void cache_clear(cache *c);

/* Entries and bytes held now. */
size_t cache_count(const cache *c);
size_t cache_bytes(const cache *c);

#endif /* RAGD_CACHE_H */
