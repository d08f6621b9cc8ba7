/*
 * vec_kernel -- float32 and int8 dot products for the vector scan, in
 * portable C and for AVX2 and AVX-512, picked at run time (vec_kernel.h).
 *
 * The SIMD kernels are compiled with GCC's target attribute in this one
 * file, so the rest of ragd keeps the baseline ISA and a CPU without the
 * extension never executes an instruction it lacks: vec_kernel_named asks
 * __builtin_cpu_supports first.  Each float kernel keeps several
 * independent accumulators so that the adds do not wait on each other;
 * a row of 384 floats is 24 cache lines, and the scan is bound by memory,
 * not by these loops.
 */
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>

#include "vec_kernel.h"

/* ---------------------------------------------------------- portable -- */

/* Eight independent partial sums: GCC may not reorder one running float
 * sum (that would change its rounding) and so would not vectorise it
 * without -ffast-math, but it turns these eight into SIMD lanes. */
static float vec_kernel_dot_portable(const float *a, const float *b, size_t n)
{
    float s[8] = {0};
    size_t i = 0;

    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    for (; i < n; i++)
        s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* Sixteen partial sums for the same reason: a fixed-size inner loop that
 * GCC turns into widening SIMD multiplies at -O2. */
static int32_t vec_kernel_dot_i8_portable(const int8_t *a, const int8_t *b, size_t n)
{
    int32_t s[16] = {0}, t = 0;
    size_t i = 0;

    for (; i + 16 <= n; i += 16)
        for (size_t j = 0; j < 16; j++)
            s[j] += (int32_t)a[i + j] * b[i + j];
    for (; i < n; i++)
        t += (int32_t)a[i] * b[i];
    for (size_t j = 0; j < 16; j++)
        t += s[j];
    return t;
}

/* -------------------------------------------------------------- AVX2 -- */

__attribute__((target("avx2,fma")))
static float vec_kernel_hsum256(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

__attribute__((target("avx2,fma")))
static float vec_kernel_dot_avx2(const float *a, const float *b, size_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    float tail = 0;

    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    for (; i < n; i++)
        tail += a[i] * b[i];
    return vec_kernel_hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

__attribute__((target("avx2")))
static int32_t vec_kernel_dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    __m128i x;
    size_t i = 0;
    int32_t tail = 0;

    /* Widen 16 bytes to 16 int16 lanes; madd multiplies and adds pairs
     * into 8 int32 lanes, exactly. */
    for (; i + 32 <= n; i += 32) {
        __m256i a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
        __m256i a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i + 16)));
        __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i + 16)));
        s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(a0, b0));
        s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(a1, b1));
    }
    for (; i < n; i++)
        tail += (int32_t)a[i] * b[i];
    s0 = _mm256_add_epi32(s0, s1);
    x = _mm_add_epi32(_mm256_castsi256_si128(s0), _mm256_extracti128_si256(s0, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    return _mm_cvtsi128_si32(x) + tail;
}

/* ----------------------------------------------------------- AVX-512 -- */

__attribute__((target("avx512f")))
static float vec_kernel_dot_avx512(const float *a, const float *b, size_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;

    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        /* The last n - i < 16 floats through a mask: no reads past the end. */
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

__attribute__((target("avx512f,avx512bw")))
static int32_t vec_kernel_dot_i8_avx512(const int8_t *a, const int8_t *b, size_t n)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0;
    size_t i = 0;
    int32_t tail = 0;

    for (; i + 64 <= n; i += 64) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        __m512i a1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i + 32)));
        __m512i b1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i + 32)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(a1, b1));
    }
    for (; i + 32 <= n; i += 32) {
        __m512i a0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i b0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(a0, b0));
    }
    for (; i < n; i++)
        tail += (int32_t)a[i] * b[i];
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1)) + tail;
}

/* ------------------------------------------------------------ choice -- */

static const vec_kernel vec_kernels[] = {
    {"avx512", vec_kernel_dot_avx512, vec_kernel_dot_i8_avx512},
    {"avx2", vec_kernel_dot_avx2, vec_kernel_dot_i8_avx2},
    {"portable", vec_kernel_dot_portable, vec_kernel_dot_i8_portable},
};

/* Whether this CPU (and its OS, which must save the wider registers) runs
 * kernel k. */
static int vec_kernel_supported(const vec_kernel *k)
{
    __builtin_cpu_init();
    if (k->dot == vec_kernel_dot_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (k->dot == vec_kernel_dot_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return 1;
}

const vec_kernel *vec_kernel_named(const char *name)
{
    for (size_t i = 0; i < sizeof vec_kernels / sizeof *vec_kernels; i++)
        if (strcmp(vec_kernels[i].name, name) == 0)
            return vec_kernel_supported(&vec_kernels[i]) ? &vec_kernels[i] : NULL;
    return NULL;
}

const vec_kernel *vec_kernel_pick(void)
{
    const char *want = getenv("RAGD_VEC_KERNEL");

    if (want && *want)
        return vec_kernel_named(want);
    for (size_t i = 0;; i++)
        if (vec_kernel_supported(&vec_kernels[i]))
            return &vec_kernels[i]; /* the table ends in "portable", always supported */
}
