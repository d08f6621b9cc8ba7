/*
 * vec_kernel -- the inner loops of the vector scan: dot products of float32
 * and of int8 vectors, one implementation per instruction set, chosen at
 * run time.
 *
 * Kernels: "portable" (plain C that compilers vectorise for the baseline
 * ISA), "avx2" (AVX2 and FMA) and "avx512" (AVX-512 F and BW).  The float
 * kernels differ from each other only in summation order, so their results
 * agree to float rounding; the int8 kernels are exact and agree bit for
 * bit.  The environment variable RAGD_VEC_KERNEL names the kernel to use
 * (for tests, and to compare kernels); unset, the best the CPU supports is
 * used.  Not a BLAS: no matrix products, no strides, no threads.
 */
#ifndef RAGD_VEC_KERNEL_H
#define RAGD_VEC_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/* One instruction set's kernels; static, never freed. */
typedef struct vec_kernel {
    const char *name;
    /* The dot product of a[0..n) and b[0..n); any alignment. */
    float (*dot)(const float *a, const float *b, size_t n);
    /* The exact dot product of a[0..n) and b[0..n) (n <= 2^17, so the
     * int32 sum cannot overflow). */
    int32_t (*dot_i8)(const int8_t *a, const int8_t *b, size_t n);
} vec_kernel;

/* The kernel called name, or NULL when there is none by that name or this
 * CPU cannot run it. */
const vec_kernel *vec_kernel_named(const char *name);

/* The kernel RAGD_VEC_KERNEL names, or when it is unset or empty the best
 * this CPU runs.  NULL when the variable names a kernel this CPU cannot
 * run or none at all: a forced kernel is never silently replaced. */
const vec_kernel *vec_kernel_pick(void);

#endif /* RAGD_VEC_KERNEL_H */
