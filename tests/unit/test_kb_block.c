/* Unit tests for a kb postings block (sources/kb/kb_block.h): blocks of
 * every gap width packed and unpacked again (rows and counts), their
 * edges (no row, one row, a full block, the largest gap, counts past one
 * byte, a title count of 3 and more), the layout of a known block to the
 * byte, and many seeded random blocks.  Each packed block is read from a
 * buffer of its exact size plus KB_BLOCK_PAD, so that a read past what
 * the unpacker may touch is caught by the sanitizers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sources/kb/kb_block.h"
#include "tap.h"

typedef struct blk {
    uint32_t base, n;
    uint32_t rows[KB_BLOCK_MAX], n0[KB_BLOCK_MAX], n1[KB_BLOCK_MAX];
} blk;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* The width kb_block_pack should choose: the bits of the largest gap. */
static unsigned want_width(const blk *b)
{
    uint32_t next = b->base, max = 0;
    unsigned w = 0;

    for (uint32_t i = 0; i < b->n; i++) {
        if (b->rows[i] - next > max)
            max = b->rows[i] - next;
        next = b->rows[i] + 1;
    }
    while (w < 32 && max >> w)
        w++;
    return w;
}

/* Pack b, unpack it from an exact copy, and compare.  Returns 1 when all
 * agree. */
static int round_trip(const blk *b, unsigned *width)
{
    unsigned char out[KB_BLOCK_BOUND(KB_BLOCK_MAX)], *exact;
    uint32_t rows[KB_BLOCK_MAX], n0[KB_BLOCK_MAX], n1[KB_BLOCK_MAX];
    size_t nb = kb_block_pack(out, b->base, b->rows, b->n0, b->n1, b->n, width);
    int same;

    if (nb > KB_BLOCK_BOUND(b->n) || *width != want_width(b) ||
        !(exact = malloc(nb + KB_BLOCK_PAD)))
        return 0;
    memcpy(exact, out, nb);
    memset(exact + nb, 0xff, KB_BLOCK_PAD); /* the padding's bytes must not matter */
    kb_block_rows(exact, *width, b->n, b->base, rows);
    kb_block_counts(exact, *width, b->n, n0, n1);
    same = !memcmp(rows, b->rows, b->n * sizeof *rows) &&
           !memcmp(n0, b->n0, b->n * sizeof *n0) && !memcmp(n1, b->n1, b->n * sizeof *n1);
    free(exact);
    return same;
}

/* n rows from base, every gap below 2^width and the last gap of the
 * block exactly 2^width - 1 (so that it sets the width); counts small. */
static void make_width(blk *b, uint32_t base, uint32_t n, unsigned width)
{
    uint64_t lim = (uint64_t)1 << width, next = base;

    b->base = base;
    b->n = n;
    for (uint32_t i = 0; i < n; i++) {
        /* The other gaps below 2^20, so that a block's rows stay in
         * range whatever the width. */
        uint64_t gap = i + 1 == n ? lim - 1 : rnd() % (lim < (1u << 20) ? lim : (1u << 20));
        b->rows[i] = (uint32_t)(next + gap);
        next = b->rows[i] + 1ull;
        b->n0[i] = rnd() % 3;
        b->n1[i] = 1 + rnd() % 20;
    }
}

static void test_widths(void)
{
    static const uint32_t ns[] = {1, 2, 7, 8, 9, 63, 64, 127, KB_BLOCK_MAX};
    blk b;

    for (unsigned w = 0; w <= 32; w++) {
        int all = 1;
        for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
            unsigned got;
            /* The widest gaps only fit one to a block from row 0. */
            uint32_t n = w == 32 ? 1 : ns[k];
            make_width(&b, w == 32 ? 0 : (uint32_t)k * 1000, n, w);
            if (want_width(&b) != w || !round_trip(&b, &got))
                all = 0;
        }
        ok(all, "blocks of gaps %u bits wide, 1 to %d rows, pack and unpack", w,
           KB_BLOCK_MAX);
    }
}

static void test_edges(void)
{
    unsigned char buf[KB_BLOCK_PAD] = {0};
    uint32_t rows[2] = {7, 7}, n0[2] = {9, 9}, n1[2] = {9, 9};
    unsigned w;
    blk b;

    /* No row: nothing written, nothing read but the padding. */
    kb_block_rows(buf, 5, 0, 10, rows);
    kb_block_counts(buf, 5, 0, n0, n1);
    ok(rows[0] == 7 && n0[0] == 9 && n1[0] == 9 && kb_block_gap_bytes(0, 32) == 0,
       "an empty block unpacks to nothing");

    b = (blk){.base = 41, .n = 1};
    b.rows[0] = 41;
    b.n1[0] = 1;
    ok(round_trip(&b, &w) && w == 0, "one row at its block's base: width 0");

    b.rows[0] = UINT32_MAX;
    b.base = 0;
    ok(round_trip(&b, &w) && w == 32, "the largest gap, 2^32 - 1, at width 32");

    b.base = UINT32_MAX - 1;
    b.rows[0] = UINT32_MAX - 1;
    ok(round_trip(&b, &w) && w == 0, "a block at the last rows");

    /* A full block of consecutive rows, then one whose last gap is wide. */
    make_width(&b, 1u << 20, KB_BLOCK_MAX, 0);
    ok(round_trip(&b, &w) && w == 0 && b.rows[KB_BLOCK_MAX - 1] == (1u << 20) + KB_BLOCK_MAX - 1,
       "a full block of consecutive rows");
    b.rows[KB_BLOCK_MAX - 1] += 1000000;
    ok(round_trip(&b, &w) && w == 20, "a full block whose last gap is the widest");

    /* Counts past one byte, titles of 3 and more. */
    b = (blk){.base = 0, .n = 8};
    {
        static const uint32_t t[8] = {0, 2, 3, 4, 7, 200, 100000, 3};
        static const uint32_t x[8] = {31, 32, 0, 33, 40, 1, 1u << 29, (1u << 30) - 1};
        for (uint32_t i = 0; i < 8; i++) {
            b.rows[i] = i * 3;
            b.n0[i] = t[i];
            b.n1[i] = x[i];
        }
    }
    ok(round_trip(&b, &w), "counts past one byte, title counts 3, 4, 7, 200, 100000");
}

/* A known block, byte by byte: rows 5, 6, 10 from base 3 are gaps 2, 0,
 * 3 at width 2 (0b11'00'10 = 0x32), then the counts (title 1, text 1:
 * 0x05; title 0, text 40: 0xa0 0x01; title 4, text 0: 0x03 then 0x01). */
static void test_layout(void)
{
    static const uint32_t rows[3] = {5, 6, 10}, n0[3] = {1, 0, 4}, n1[3] = {1, 40, 0};
    static const unsigned char want[] = {0x32, 0x05, 0xa0, 0x01, 0x03, 0x01};
    unsigned char out[KB_BLOCK_BOUND(3)];
    unsigned w;
    size_t nb = kb_block_pack(out, 3, rows, n0, n1, 3, &w);

    ok(w == 2 && nb == sizeof want && !memcmp(out, want, nb), "a known block's bytes");
}

static void test_random(void)
{
    int all = 1;
    blk b;

    for (int k = 0; k < 2000; k++) {
        unsigned w, spread = rnd() % 25;
        uint64_t next;
        b.n = 1 + rnd() % KB_BLOCK_MAX;
        b.base = next = rnd() % 5000000;
        for (uint32_t i = 0; i < b.n; i++) {
            b.rows[i] = (uint32_t)(next + (spread ? rnd() % (1u << spread) : 0));
            next = b.rows[i] + 1ull;
            b.n0[i] = rnd() % 8 == 0 ? rnd() % 300 : rnd() % 3;
            b.n1[i] = rnd() % 8 == 0 ? rnd() % 100000 : rnd() % 31;
        }
        if (!round_trip(&b, &w))
            all = 0;
    }
    ok(all, "2000 random blocks pack and unpack");
}

int main(void)
{
    test_widths();
    test_edges();
    test_layout();
    test_random();
    return tap_done();
}
