/*
 * fuzz_sreq_query -- the GET /search query string parser, sreq_from_query.
 *
 * The query string reaches sreq exactly as the client wrote it (still
 * percent-encoded), so the fuzz input is used as the string itself, cut at
 * its first NUL as an HTTP request line would be.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sreq.h"

static const char *const fuzz_names[] = {"vector", "kb", "web"};
static const sreq_limits fuzz_lim = {4096, 60000, fuzz_names, 3, 100};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *qs = fuzz_strndup(data, size);
    sreq r;
    sreq_error e = {0};

    if (sreq_from_query(&r, qs, &fuzz_lim, &e) == 0) {
        fuzz_check(r.query && *r.query && strlen(r.query) <= fuzz_lim.max_query);
        fuzz_check(r.k >= 1 && r.k <= SREQ_K_MAX);
        fuzz_check(r.nsources <= 3);
        fuzz_check(r.timeout_ms >= 0 && r.timeout_ms <= fuzz_lim.max_timeout_ms);
    } else {
        fuzz_check(r.query == NULL && r.nsources == 0);
        fuzz_check(e.status >= 400 && e.status < 600 && e.code && e.message[0]);
    }
    sreq_release(&r);
    free(qs);
    return 0;
}
