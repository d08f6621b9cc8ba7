/*
 * store_vec -- how every store backend writes a vector: float32,
 * little-endian whatever the host, so a store file or database moves
 * between machines.  For the store module's own files only.
 */
#ifndef RAGD_STORE_VEC_H
#define RAGD_STORE_VEC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Grow *blob (holding *cap floats' bytes) to dims floats and write vec
 * there.  Returns 0, or -1 (out of memory; *blob unchanged). */
static inline int store_vec_pack(unsigned char **blob, size_t *cap, const float *vec, size_t dims)
{
    if (*cap != dims) {
        unsigned char *b = realloc(*blob, dims * 4);
        if (!b)
            return -1;
        *blob = b;
        *cap = dims;
    }
    for (size_t i = 0; i < dims; i++) {
        uint32_t u;
        memcpy(&u, &vec[i], 4);
        for (int b = 0; b < 4; b++)
            (*blob)[i * 4 + b] = (unsigned char)(u >> (8 * b));
    }
    return 0;
}

#endif /* RAGD_STORE_VEC_H */
