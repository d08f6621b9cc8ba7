/*
 * kb_block -- one block of a kb term's postings, packed and unpacked: the
 * rows as gaps bit-packed at one width per block (the width of the
 * largest gap; PISA's and Lucene's blocks of packed deltas), then each
 * row's counts as a varint, text count << 2 | min(title count, 3),
 * followed when the title count is 3 or more by a varint title count - 3
 * (one byte for both counts in most rows).
 *
 * Why two streams: the rows unpack without a branch per posting (every
 * gap is width bits at a position known from its index), and a search
 * that only probes a block for a row (MaxScore's non-essential terms)
 * never reads the counts of a block whose rows it does not score.
 *
 * The first gap counts from base (the previous block's last row + 1, or 0
 * for a term's first block), the others from the previous row + 1.  The
 * unpacker reads 8 bytes at a time, so a buffer holding blocks has
 * KB_BLOCK_PAD readable bytes past its last block.  Header only: the
 * packer serves the index's build, the unpackers its search.
 */
#ifndef RAGD_KB_BLOCK_H
#define RAGD_KB_BLOCK_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* The most rows a block holds. */
#define KB_BLOCK_MAX 128

/* Readable bytes a buffer of blocks keeps past its last block. */
#define KB_BLOCK_PAD 8

/* The most bytes a block of n rows packs into: 32-bit gaps and two
 * five-byte varints a row. */
#define KB_BLOCK_BOUND(n) ((size_t)(n) * (4 + 5 + 5))

/* The bytes of a block's packed gaps: n of width bits. */
static inline size_t kb_block_gap_bytes(uint32_t n, unsigned width)
{
    return ((size_t)n * width + 7) / 8;
}

/* The 8 bytes at p as a little-endian integer (compilers make this one
 * load where the machine allows). */
static inline uint64_t kb_block_load64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static inline unsigned char *kb_block_put_varint(unsigned char *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static inline uint32_t kb_block_varint(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint32_t v = 0;
    int shift = 0;

    while (*p & 0x80) {
        v |= (uint32_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    v |= (uint32_t)*p++ << shift;
    *pp = p;
    return v;
}

/* Pack rows[0..n) (ascending, the first >= base) with their title (n0)
 * and text (n1) counts into out (KB_BLOCK_BOUND(n) bytes); *width gets the
 * gaps' width.  Returns the bytes written. */
static inline size_t kb_block_pack(unsigned char *out, uint32_t base, const uint32_t *rows,
                                   const uint32_t *n0, const uint32_t *n1, uint32_t n,
                                   unsigned *width)
{
    uint32_t maxgap = 0, next = base;
    unsigned w = 0;
    size_t nb;
    unsigned char *p;

    assert(n >= 1 && n <= KB_BLOCK_MAX);
    for (uint32_t i = 0; i < n; i++) {
        assert(rows[i] >= next);
        if (rows[i] - next > maxgap)
            maxgap = rows[i] - next;
        next = rows[i] + 1;
    }
    while (w < 32 && maxgap >> w)
        w++;
    nb = kb_block_gap_bytes(n, w);
    for (size_t i = 0; i < nb; i++)
        out[i] = 0;
    next = base;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t gap = rows[i] - next, bit = (uint64_t)i * w;
        /* A gap spans at most 5 bytes from its first (7 + 32 bits). */
        for (unsigned j = 0; j < 5 && (bit >> 3) + j < nb; j++)
            out[(bit >> 3) + j] |= (unsigned char)(gap << (bit & 7) >> (8 * j));
        next = rows[i] + 1;
    }
    p = out + nb;
    for (uint32_t i = 0; i < n; i++) {
        p = kb_block_put_varint(p, n1[i] << 2 | (n0[i] < 3 ? n0[i] : 3));
        if (n0[i] >= 3)
            p = kb_block_put_varint(p, n0[i] - 3);
    }
    *width = w;
    return (size_t)(p - out);
}

/* Unpack the n rows of the block at p, packed at width from base, into
 * rows. */
static inline void kb_block_rows(const unsigned char *p, unsigned width, uint32_t n,
                                 uint32_t base, uint32_t *rows)
{
    const uint64_t mask = (UINT64_C(1) << width) - 1;
    uint32_t row = base;

    assert(width <= 32);
    for (uint32_t i = 0; i < n; i++) {
        size_t bit = (size_t)i * width;
        row += (uint32_t)(kb_block_load64(p + (bit >> 3)) >> (bit & 7) & mask);
        rows[i] = row++;
    }
}

/* Unpack the n rows' counts of the block at p, packed at width, into n0
 * (title) and n1 (text). */
static inline void kb_block_counts(const unsigned char *p, unsigned width, uint32_t n,
                                   uint32_t *n0, uint32_t *n1)
{
    p += kb_block_gap_bytes(n, width);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f = *p < 0x80 ? *p++ : kb_block_varint(&p);
        n1[i] = f >> 2;
        n0[i] = f & 3;
        if (n0[i] == 3)
            n0[i] += kb_block_varint(&p);
    }
}

#endif /* RAGD_KB_BLOCK_H */
