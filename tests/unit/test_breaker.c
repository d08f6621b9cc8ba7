/* Unit tests for the circuit breaker's state machine, on an injected clock. */
#include "breaker.h"
#include "tap.h"

static void fail_n(breaker *b, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        breaker_record(b, 0, now);
}

static void test_opens_after_n(void)
{
    breaker b;

    breaker_init(&b, "s", 3, 1000, 8000);
    fail_n(&b, 2, 0);
    is_int(breaker_get_state(&b), BREAKER_CLOSED, "two failures of three: still closed");
    breaker_record(&b, 1, 0);
    fail_n(&b, 2, 0);
    is_int(breaker_get_state(&b), BREAKER_CLOSED, "a success restarts the count");
    breaker_record(&b, 0, 10);
    is_int(breaker_get_state(&b), BREAKER_OPEN, "the third consecutive failure opens it");
    ok(!breaker_allow(&b, 500), "open: a request is refused");
    ok(!breaker_allow(&b, 1009), "still refused just before T");
    is_int(b.rejected, 2, "refusals counted");
    is_int(b.opened, 1, "one opening counted");
}

static void test_half_open(void)
{
    breaker b;

    breaker_init(&b, "s", 1, 1000, 3000);
    breaker_record(&b, 0, 0);
    ok(breaker_allow(&b, 1000), "after T one request goes through");
    is_int(breaker_get_state(&b), BREAKER_HALF_OPEN, "and the breaker is half-open");
    ok(!breaker_allow(&b, 1001), "a second request waits while the probe runs");
    breaker_record(&b, 0, 1100);
    is_int(breaker_get_state(&b), BREAKER_OPEN, "the probe failed: open again");
    ok(!breaker_allow(&b, 2099), "for twice T");
    ok(breaker_allow(&b, 3100), "then a probe again");
    breaker_record(&b, 0, 3100);
    ok(!breaker_allow(&b, 6099), "doubling is capped at max_open_ms");
    ok(breaker_allow(&b, 6100), "probe after the capped period");
    breaker_record(&b, 1, 6200);
    is_int(breaker_get_state(&b), BREAKER_CLOSED, "a successful probe closes it");
    ok(breaker_allow(&b, 6201), "closed: requests go through");
    breaker_record(&b, 0, 6300);
    ok(!breaker_allow(&b, 7299) && breaker_allow(&b, 7300),
       "after closing, the open period is back to T");
}

static void test_lost_probe(void)
{
    breaker b;

    breaker_init(&b, "s", 1, 1000, 4000);
    breaker_record(&b, 0, 0);
    ok(breaker_allow(&b, 1000), "probe sent");
    ok(breaker_allow(&b, 2000), "a probe never counted: another one T later");
    is_int(breaker_get_state(&b), BREAKER_HALF_OPEN, "still half-open");
}

static void test_disabled(void)
{
    breaker b;

    breaker_init(&b, "s", 0, 1000, 1000);
    fail_n(&b, 100, 0);
    is_int(breaker_get_state(&b), BREAKER_CLOSED, "failures 0: never opens");
    ok(breaker_allow(&b, 1), "and always allows");
    is_str(breaker_state_name(BREAKER_HALF_OPEN), "half_open", "state names");
}

int main(void)
{
    test_opens_after_n();
    test_half_open();
    test_lost_probe();
    test_disabled();
    return tap_done();
}
