/*
 * vec_quant -- int8 scalar quantisation with a per-dimension scale
 * (vec_quant.h).  Rounds to nearest: the mean error of a value is then
 * zero and at most half a step.
 */
#include <math.h>

#include "vec_quant.h"

/* round(x / step) within [-127, 127]; 0 for a zero step. */
static int8_t vec_quant_one(float x, float step)
{
    float r;

    if (step == 0.0f)
        return 0;
    r = nearbyintf(x / step);
    return (int8_t)(r > 127.0f ? 127 : r < -127.0f ? -127 : r);
}

void vec_quant_rows(const float *m, size_t n, size_t dims, float *scale, int8_t *out)
{
    for (size_t d = 0; d < dims; d++)
        scale[d] = 0.0f;
    for (size_t r = 0; r < n; r++)
        for (size_t d = 0; d < dims; d++)
            if (fabsf(m[r * dims + d]) > scale[d])
                scale[d] = fabsf(m[r * dims + d]);
    for (size_t d = 0; d < dims; d++)
        scale[d] /= 127.0f;
    for (size_t r = 0; r < n; r++)
        for (size_t d = 0; d < dims; d++)
            out[r * dims + d] = vec_quant_one(m[r * dims + d], scale[d]);
}

float vec_quant_query(const float *q, const float *scale, size_t dims, int8_t *out)
{
    float top = 0.0f, s;

    for (size_t d = 0; d < dims; d++)
        if (fabsf(q[d] * scale[d]) > top)
            top = fabsf(q[d] * scale[d]);
    s = top / 127.0f;
    for (size_t d = 0; d < dims; d++)
        out[d] = vec_quant_one(q[d] * scale[d], s);
    return s;
}
