/*
 * fuzz_sreq_json -- the POST /search body parser, sreq_from_json.
 *
 * The body is whatever a client sent, so every byte string must end in
 * either a request that keeps sreq's promises or an error that names a
 * field, with nothing leaked either way.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "sreq.h"

static const char *const fuzz_names[] = {"vector", "kb", "web"};
static const sreq_limits fuzz_lim = {4096, 60000, fuzz_names, 3, 100};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sreq r;
    sreq_error e = {0};

    if (sreq_from_json(&r, (const char *)data, size, &fuzz_lim, &e) == 0) {
        fuzz_check(r.query && *r.query && strlen(r.query) <= fuzz_lim.max_query);
        fuzz_check(r.k >= 1 && r.k <= SREQ_K_MAX);
        fuzz_check(r.nsources <= 3);
        fuzz_check(r.timeout_ms >= 0 && r.timeout_ms <= fuzz_lim.max_timeout_ms);
    } else {
        fuzz_check(r.query == NULL && r.nsources == 0);
        fuzz_check(e.status >= 400 && e.status < 600 && e.code && e.message[0]);
    }
    sreq_release(&r);
    return 0;
}
