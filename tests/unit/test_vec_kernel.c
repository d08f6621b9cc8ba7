/* Unit tests for vec_kernel: every kernel this CPU runs agrees with the
 * portable one -- float dot products within rounding, int8 ones exactly --
 * on odd lengths, odd row counts and unaligned rows; and RAGD_VEC_KERNEL
 * forces a kernel or refuses one it cannot give. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
#include "vec_kernel.h"

#define ROWS 37
#define MAXDIMS 800

/* A fixed-seed generator, so a failure reproduces. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static float unit(void)
{
    return (float)next() / 4294967296.0f * 2.0f - 1.0f;
}

/* Compare kernel k with portable p over ROWS rows of dims at offset off
 * (floats past a 64-byte boundary).  Returns the count of disagreements. */
static int compare(const vec_kernel *k, const vec_kernel *p, size_t dims, size_t off)
{
    static float fm[ROWS * MAXDIMS + 16], fq[MAXDIMS + 16];
    static int8_t im[ROWS * MAXDIMS + 16], iq[MAXDIMS + 16];
    int bad = 0;

    for (size_t i = 0; i < ROWS * dims + off; i++) {
        fm[i] = unit();
        im[i] = (int8_t)(next() % 255 - 127);
    }
    for (size_t i = 0; i < dims + off; i++) {
        fq[i] = unit();
        iq[i] = (int8_t)(next() % 255 - 127);
    }
    for (size_t r = 0; r < ROWS; r++) {
        const float *row = fm + off + r * dims;
        float want = p->dot(fq + off, row, dims), got = k->dot(fq + off, row, dims);
        /* Each term is below 1 in magnitude: the sums differ by at most a
         * few ulps of dims. */
        if (fabsf(got - want) > 1e-5f * (float)dims) {
            printf("#   %s dims %zu off %zu row %zu: %.9g, portable %.9g\n", k->name, dims, off,
                   r, got, want);
            bad++;
        }
        if (k->dot_i8(iq + off, im + off + r * dims, dims) !=
            p->dot_i8(iq + off, im + off + r * dims, dims))
            bad++;
    }
    return bad;
}

static void agree(const char *name)
{
    static const size_t dims[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 383, 384,
                                  385, 767, 768, 799};
    const vec_kernel *k = vec_kernel_named(name), *p = vec_kernel_named("portable");
    int bad = 0;

    if (!k) {
        printf("ok %d # SKIP this CPU cannot run %s\n", ++tap_n, name);
        return;
    }
    for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
        for (size_t off = 0; off < 4; off += 3)
            bad += compare(k, p, dims[d], off);
    is_int(bad, 0, "%s agrees with portable on odd and even lengths, aligned or not", name);
}

int main(void)
{
    const vec_kernel *p = vec_kernel_named("portable");
    int8_t a[] = {-127, 127, -127, 5}, b[] = {-127, -127, 3, 5};

    ok(p != NULL, "the portable kernel always runs");
    is_int(p->dot_i8(a, b, 4), 127 * 127 - 127 * 127 - 381 + 25, "int8 dot product");
    ok(p->dot((const float[]){1, 2, 3}, (const float[]){4, 5, 6}, 3) == 32.0f,
       "float dot product");
    agree("avx2");
    agree("avx512");
    ok(vec_kernel_named("sse9") == NULL, "an unknown kernel is none");

    setenv("RAGD_VEC_KERNEL", "portable", 1);
    ok(vec_kernel_pick() == p, "RAGD_VEC_KERNEL=portable forces it");
    setenv("RAGD_VEC_KERNEL", "sse9", 1);
    ok(vec_kernel_pick() == NULL, "RAGD_VEC_KERNEL naming no kernel is refused");
    unsetenv("RAGD_VEC_KERNEL");
    ok(vec_kernel_pick() != NULL, "unset, the best kernel is picked");
    printf("# best kernel here: %s\n", vec_kernel_pick()->name);
    return tap_done();
}
