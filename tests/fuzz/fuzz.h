/*
 * fuzz.h -- helpers shared by the libFuzzer targets in tests/fuzz/.
 *
 * Targets whose code takes several inputs (a config and a response, three
 * files of a dataset) read them from one fuzz input split at lines holding
 * only "--", so the seed files stay readable text.  A target that finds a
 * broken promise calls fuzz_check, which aborts: libFuzzer then saves the
 * input, exactly as for a sanitizer report.
 */
#ifndef RAGD_FUZZ_H
#define RAGD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_SEP "\n--\n"

/* One part of a split input: borrowed from the fuzz input, not terminated. */
typedef struct fuzz_part {
    const char *p;
    size_t n;
} fuzz_part;

/* Split data[0..size) at FUZZ_SEP into at most max parts (the last part
 * keeps any further separators).  Returns how many parts were found; the
 * parts not found are left empty with p == NULL. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts, size_t max)
{
    const char *s = (const char *)data, *end = s + size;
    size_t n = 0;

    memset(parts, 0, max * sizeof *parts);
    while (n < max) {
        const char *sep = n + 1 < max ? memmem(s, (size_t)(end - s), FUZZ_SEP, 4) : NULL;
        parts[n].p = s;
        parts[n].n = sep ? (size_t)(sep - s) : (size_t)(end - s);
        n++;
        if (!sep)
            break;
        s = sep + 4;
    }
    return n;
}

/* A NUL-terminated copy of p[0..n); aborts when memory runs out, which in
 * a fuzzer is the harness failing, not the code under test. */
static inline char *fuzz_strndup(const void *p, size_t n)
{
    char *s = malloc(n + 1);

    if (!s)
        abort();
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Abort with a message when a promise the code under test makes is broken. */
#define fuzz_check(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                          \
        }                                                                     \
    } while (0)

#endif /* RAGD_FUZZ_H */
