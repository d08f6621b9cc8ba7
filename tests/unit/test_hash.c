/* Unit tests for hash.h: FNV-1a's published test vectors, and the
 * lowercasing variant against the plain hash of a lowercased copy. */
#include <stdint.h>

#include "hash.h"
#include "tap.h"

#define is_u64(got, want, what)                                              \
    do {                                                                     \
        uint64_t g_ = (got), w_ = (want);                                    \
        ok(g_ == w_, "%s: 0x%016llx", what, (unsigned long long)g_);         \
    } while (0)

int main(void)
{
    /* From the FNV reference (draft-eastlake-fnv, test vectors). */
    is_u64(hash_fnv1a("", 0), 0xcbf29ce484222325ULL, "the empty string is the basis");
    is_u64(hash_fnv1a("a", 1), 0xaf63dc4c8601ec8cULL, "\"a\"");
    is_u64(hash_fnv1a("foobar", 6), 0x85944171f73967e8ULL, "\"foobar\"");
    is_u64(hash_fnv1a("foobar", 3), hash_fnv1a("foo", 3), "only len bytes count");

    is_u64(hash_fnv1a_lower("FooBAR", 6), 0x85944171f73967e8ULL, "lowercased: \"FooBAR\" is \"foobar\"");
    is_u64(hash_fnv1a_lower("caf\xC3\x89@[`{", 9), hash_fnv1a("caf\xC3\x89@[`{", 9),
           "only A..Z change: UTF-8 and the bytes around the letters stay");
    is_u64(hash_fnv1a_byte(hash_fnv1a("fooba", 5), 'r'), hash_fnv1a("foobar", 6),
           "hash_fnv1a_byte extends a hash");
    return tap_done();
}
