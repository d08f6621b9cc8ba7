/*
 * vec_quant -- int8 scalar quantisation of embedding rows, with one scale
 * per dimension, and of a query against those scales.
 *
 * A row value x of dimension d is stored as round(x / scale[d]) in
 * [-127, 127], scale[d] being the largest |x| of dimension d over the rows
 * quantised together divided by 127, so every dimension uses the whole
 * int8 range whatever its spread.  The query folds the scales in: with
 * w[d] = q[d] * scale[d] quantised by one scale s, dot(q, x) is about
 * s * dot_i8(w, row).  An approximation for choosing candidates only; the
 * float rows stay the reference and re-rank them.
 */
#ifndef RAGD_VEC_QUANT_H
#define RAGD_VEC_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* Fill scale[0..dims) from the n rows of dims floats at m, and out (n *
 * dims bytes, the caller's) with the quantised rows. */
void vec_quant_rows(const float *m, size_t n, size_t dims, float *scale, int8_t *out);

/* Quantise query q[0..dims) against scale into out[0..dims).  Returns the
 * factor s that turns dot_i8(out, row) into an estimate of dot(q, row); 0
 * when q is orthogonal to every dimension the rows use. */
float vec_quant_query(const float *q, const float *scale, size_t dims, int8_t *out);

#endif /* RAGD_VEC_QUANT_H */
