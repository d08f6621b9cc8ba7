/* Unit tests for the hedging p95 estimator and budget (no network). */
#include "hedge.h"
#include "tap.h"

static void test_p95(void)
{
    hedge h;

    hedge_init(&h, "s", 0.05, 50);
    is_int(hedge_p95(&h), -1, "no samples: no p95");
    is_int(hedge_delay_ms(&h), -1, "and no hedging");
    for (int i = 1; i < HEDGE_MIN_SAMPLES; i++)
        hedge_observe(&h, 1);
    is_int(hedge_p95(&h), -1, "nor with too few samples");
    hedge_init(&h, "s", 0.05, 50);
    for (int i = 1; i <= 100; i++)
        hedge_observe(&h, i);
    is_int(hedge_p95(&h), 95, "p95 of 1..100 is 95");
    is_int(hedge_delay_ms(&h), 95, "above the floor: the delay is the p95");
    for (int i = 0; i < HEDGE_RING; i++)
        hedge_observe(&h, 10);
    is_int(hedge_p95(&h), 10, "old samples age out of the ring");
    is_int(hedge_delay_ms(&h), 50, "below the floor: the floor");
    for (int i = 0; i < 6; i++)
        hedge_observe(&h, 1000);
    is_int(hedge_p95(&h), 10, "6 slow samples of 128 are above the p95");
    for (int i = 0; i < 2; i++)
        hedge_observe(&h, 1000);
    is_int(hedge_p95(&h), 1000, "8 of 128 reach it");
    hedge_observe(&h, -5);
    ok(hedge_p95(&h) >= 0, "a negative latency counts as 0");
}

static void test_budget(void)
{
    hedge h;
    int hedges = 0;

    hedge_init(&h, "s", 0.05, 50);
    ok(!hedge_take(&h), "the bucket starts empty");
    for (int i = 0; i < 19; i++)
        hedge_credit(&h);
    ok(!hedge_take(&h), "19 requests at 5%%: no hedge yet");
    hedge_credit(&h);
    ok(hedge_take(&h), "the 20th makes a token");
    ok(!hedge_take(&h), "which is spent");
    for (int i = 0; i < 1000; i++)
        hedge_credit(&h);
    for (int i = 0; i < HEDGE_BURST; i++)
        hedges += hedge_take(&h);
    is_int(hedges, HEDGE_BURST, "a long quiet spell saves a burst of tokens");
    ok(!hedge_take(&h), "and no more");
    hedges = 0;

    hedge_init(&h, "s", 0.05, 50);
    for (int i = 0; i < 1000; i++) {
        hedge_credit(&h);
        hedges += hedge_take(&h);
    }
    is_int(hedges, 50, "a hedge wanted on every request: 5%% of 1000 sent");

    hedge_init(&h, "s", 0, 50);
    for (int i = 0; i < 100; i++)
        hedge_credit(&h);
    ok(!hedge_take(&h), "share 0: never");
}

int main(void)
{
    test_p95();
    test_budget();
    return tap_done();
}
