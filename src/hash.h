/*
 * hash -- the one non-cryptographic string hash of ragd: 64-bit FNV-1a.
 *
 * Used wherever words become numbers: the hash embedder's terms (whose
 * values are stored in every hash-embedded vector, so they must never
 * change), the extractive generator's word sets and the context's
 * near-duplicate shingles.  Fast and well spread for short keys; not for
 * anything an adversary must not be able to collide, nor for hash tables
 * keyed by untrusted input.
 */
#ifndef RAGD_HASH_H
#define RAGD_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_BASIS 0xcbf29ce484222325ULL
#define HASH_FNV1A_PRIME 0x100000001b3ULL

/* h extended by byte c: start from HASH_FNV1A_BASIS, add every byte. */
static inline uint64_t hash_fnv1a_byte(uint64_t h, unsigned char c)
{
    return (h ^ c) * HASH_FNV1A_PRIME;
}

/* 64-bit FNV-1a of s[0..len). */
static inline uint64_t hash_fnv1a(const char *s, size_t len)
{
    uint64_t h = HASH_FNV1A_BASIS;

    for (size_t i = 0; i < len; i++)
        h = hash_fnv1a_byte(h, (unsigned char)s[i]);
    return h;
}

/* 64-bit FNV-1a of s[0..len) with ASCII A..Z taken as a..z (other bytes,
 * UTF-8 included, as they are), so it equals hash_fnv1a of the lowercased
 * copy without making one. */
static inline uint64_t hash_fnv1a_lower(const char *s, size_t len)
{
    uint64_t h = HASH_FNV1A_BASIS;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        h = hash_fnv1a_byte(h, c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    return h;
}

#endif /* RAGD_HASH_H */
