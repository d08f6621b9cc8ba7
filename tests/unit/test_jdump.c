/* Unit tests for jdump: the same bytes as json_dumps with REPLY_JSON_FLAGS
 * for every kind of value, every escape, and reals of every magnitude. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jdump.h"
#include "reply.h"
#include "tap.h"

/* Whether jdump prints v exactly as json_dumps does. */
static int same_as_jansson(const json_t *v)
{
    char *want = json_dumps(v, REPLY_JSON_FLAGS);
    buf got = {0};
    int same = want && jdump_add(&got, v, 1 << 20) == 0 && strcmp(got.p, want) == 0;

    if (!same)
        printf("#   got  %s\n#   want %s\n", got.p ? got.p : "(failed)", want ? want : "(null)");
    free(want);
    buf_release(&got);
    return same;
}

static void test_scalars_and_containers(void)
{
    json_t *v = json_pack("{s[] s{} sn sb sb sI sI sI s[i[i{}]]}", "a", "o", "null", "t", 1, "f", 0,
                          "zero", (json_int_t)0, "min", (json_int_t)INT64_MIN, "max",
                          (json_int_t)INT64_MAX, "nest", 1, 2);

    ok(same_as_jansson(v), "literals, integers, empty and nested containers");
    json_decref(v);
    v = json_array();
    ok(same_as_jansson(v), "an empty top-level array");
    json_decref(v);
}

static void test_strings(void)
{
    char all[40];
    json_t *v = json_object();

    for (int i = 0; i < 32; i++)
        all[i] = (char)(i + 1 == 32 ? 0x7f : i + 1);
    json_object_set_new(v, "controls", json_stringn(all, 32));
    json_object_set_new(v, "nul", json_stringn("a\0b", 3));
    json_object_set_new(v, "quotes \"\\ key\n", json_string("say \"hi\" \\ back/slash"));
    json_object_set_new(v, "utf8", json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8"));
    json_object_set_new(v, "empty", json_string(""));
    ok(same_as_jansson(v), "every escape, NUL, multi-byte UTF-8 and keys that need escapes");
    json_decref(v);
}

/* A double of random bits, so every exponent comes up; never NaN or
 * infinite (JSON has no such numbers). */
static double test_random_real(unsigned long long *seed)
{
    double d;

    do {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        memcpy(&d, seed, sizeof d);
    } while (d != d || d - d != 0);
    return d;
}

static void test_reals(void)
{
    static const double fixed[] = {0.0, -0.0, 1.0, 3.0, 0.1, 0.3, 9.9, 1e-5, 1e-4, 0.0001234,
                                   1e15, 1e16, 123456789012345.6, 1234567890123456.0, 1e21,
                                   1e300, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                                   -12.5, 0.1 + 0.2, 100.0, 1e100};
    unsigned long long seed = 12345;
    json_t *v = json_array();
    int bad = 0;

    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        json_array_append_new(v, json_real(fixed[i]));
    ok(same_as_jansson(v), "reals at the edges of %%.15g and of the exponent form");
    json_decref(v);
    for (int i = 0; i < 20000; i++) {
        json_t *a = json_pack("[f]", test_random_real(&seed));
        bad += !same_as_jansson(a);
        json_decref(a);
        if (bad > 3)
            break;
    }
    is_int(bad, 0, "20,000 reals of random bits");
}

static void test_refusals(void)
{
    json_t *s = json_string("x"), *o = json_pack("{ss}", "k", "a longer value");
    buf b = {0};

    ok(jdump_add(&b, s, 100) == -1, "a bare string is not a document (as json_dumps says)");
    ok(jdump_add(&b, NULL, 100) == -1, "NULL is refused");
    buf_release(&b);
    ok(jdump_add(&b, o, 10) == -1, "a document past max is refused");
    buf_release(&b);
    ok(jdump_add(&b, o, 100) == 0 && !strcmp(b.p, "{\"k\":\"a longer value\"}"),
       "the same document within max is printed");
    buf_release(&b);
    json_decref(s);
    json_decref(o);
}

int main(void)
{
    test_scalars_and_containers();
    test_strings();
    test_reals();
    test_refusals();
    return tap_done();
}
