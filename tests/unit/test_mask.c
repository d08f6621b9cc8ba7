/* Unit tests for mask: every occurrence and a cut tail hidden, and a
 * message masked before it is cut, wherever the cut falls on the key. */
#include <stdio.h>
#include <string.h>

#include "mask.h"
#include "tap.h"

#define KEY "sk-test-5ecret-key-0123456789"

static void test_secret(void)
{
    char s[128];

    snprintf(s, sizeof s, "a " KEY " b " KEY);
    mask_secret(s, KEY);
    is_str(s, "a *** b ***", "every occurrence");
    snprintf(s, sizeof s, KEY KEY "x");
    mask_secret(s, KEY);
    is_str(s, "******x", "back to back");
    snprintf(s, sizeof s, "tail sk-test-5ec");
    mask_secret(s, KEY);
    is_str(s, "tail ***", "a tail that starts the key");
    snprintf(s, sizeof s, "tail sk-t");
    mask_secret(s, KEY);
    is_str(s, "tail ***", "a 4-byte tail that starts the key");
    snprintf(s, sizeof s, "ends sk-");
    mask_secret(s, KEY);
    is_str(s, "ends sk-", "a 3-byte tail is left");
    snprintf(s, sizeof s, "sk-test in the middle");
    mask_secret(s, KEY);
    is_str(s, "sk-test in the middle", "a part of the key inside the text is not the key");
    snprintf(s, sizeof s, "xx-ab-xx");
    mask_secret(s, "ab");
    is_str(s, "xx-**-xx", "a short secret becomes as many stars");
    mask_secret(s, NULL);
    mask_secret(s, "");
    is_str(s, "xx-**-xx", "no secret, no change");
}

/* Whether s shows any run of 4 or more consecutive bytes of KEY. */
static int shows_key(const char *s)
{
    char run[5];

    for (size_t i = 0; i + 4 <= sizeof KEY - 1; i++) {
        memcpy(run, KEY + i, 4);
        run[4] = '\0';
        if (strstr(s, run))
            return 1;
    }
    return 0;
}

/* A message holding the whole key, with the key at every position around
 * the end of a 64-byte buffer: the cut message must be exactly the start
 * of the masked whole one, so no byte of the key is left anywhere. */
static void test_printf_cut(void)
{
    static const char dots[] = "................................................................"
                               "................................";
    size_t shown = 0, wrong = 0;

    for (int at = 0; at <= 90; at++) {
        char out[64], want[256];
        mask_printf(out, sizeof out, KEY, "%.*s%s and more", at, dots, KEY);
        snprintf(want, sizeof want, "%.*s*** and more", at, dots);
        want[sizeof out - 1] = '\0';
        shown += shows_key(out);
        wrong += strcmp(out, want) != 0;
    }
    is_int(shown, 0, "no 4-byte run of the key, wherever the cut falls");
    is_int(wrong, 0, "the cut message is the start of the masked whole one: a cut key leaves nothing");
}

static void test_printf(void)
{
    char out[32] = "unchanged";

    mask_printf(out, sizeof out, KEY, "short %d", 42);
    is_str(out, "short 42", "a message that fits is formatted as snprintf does");
    mask_printf(out, sizeof out, KEY, "bad key %s", KEY);
    is_str(out, "bad key ***", "and masked");
    mask_printf(out, sizeof out, NULL, "%s", KEY);
    is_str(out, "sk-test-5ecret-key-0123456789", "no secret: nothing masked");
    mask_printf(out, 8, "", "%s", "0123456789");
    is_str(out, "0123456", "an empty secret: only cut");
    mask_printf(out, 0, KEY, "%s", "never written");
    is_str(out, "0123456", "outlen 0 writes nothing");
    /* The message holds only the start of the key; the cut ends inside it. */
    mask_printf(out, 16, KEY, "key: %.12s...", KEY);
    is_str(out, "key: ***", "a cut that ends in the start of the key hides it");
}

int main(void)
{
    test_secret();
    test_printf_cut();
    test_printf();
    return tap_done();
}
