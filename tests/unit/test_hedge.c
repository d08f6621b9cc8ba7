/* Unit tests for the hedging p95 estimator and budget (no network). */
#include <stdlib.h>
#include <string.h>

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

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The p95 kept sorted at each observation against sorting the last
 * HEDGE_RING samples afresh, over a long run with many equal samples (so
 * that evicting one of several equal ones is exercised). */
static void test_p95_against_sort(void)
{
    int64_t seen[4000], last[HEDGE_RING];
    unsigned x = 12345, wrong = 0;
    hedge h;

    hedge_init(&h, "s", 0.05, 50);
    for (int i = 0; i < 4000; i++) {
        int n = i + 1 < HEDGE_RING ? i + 1 : HEDGE_RING;
        int64_t want = -1;

        x = x * 1103515245u + 12345u;
        seen[i] = (int64_t)(x >> 16) % (i < 2000 ? 7 : 500) - 1;
        hedge_observe(&h, seen[i]);
        memcpy(last, seen + i + 1 - n, (size_t)n * sizeof *last);
        for (int j = 0; j < n; j++)
            last[j] = last[j] < 0 ? 0 : last[j];
        qsort(last, (size_t)n, sizeof *last, cmp64);
        if (n >= HEDGE_MIN_SAMPLES)
            want = last[(n * 95 + 99) / 100 - 1];
        wrong += hedge_p95(&h) != want;
    }
    is_int(wrong, 0, "the kept p95 is the p95 of the last %d samples after each of 4,000",
           HEDGE_RING);
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
    test_p95_against_sort();
    test_budget();
    return tap_done();
}
