/*
 * test_pool.c -- the pool's sizing rules and respawn back-off.
 */
#include <criterion/criterion.h>

#include "config.h"
#include "pool.h"
#include "rollout.h"

static const struct pool_limits fixed = {.base = 4};
static const struct pool_limits dyn = {
    .base = 2,
    .dynamic = 1,
    .min_spare = 2,
    .max_spare = 4,
    .max_workers = 10,
};

Test(pool, static_pool_fills_to_its_size)
{
    int rate = 1;
    cr_assert_eq(pool_decide(&fixed, 0, 0, &rate), 4);
    cr_assert_eq(pool_decide(&fixed, 3, 3, &rate), 1);
    cr_assert_eq(pool_decide(&fixed, 4, 0, &rate), 0);
}

Test(pool, static_pool_shrinks_after_ttou)
{
    int rate = 1;
    cr_assert_eq(pool_decide(&fixed, 6, 6, &rate), -2);
}

Test(pool, dynamic_pool_never_below_its_minimum)
{
    int rate = 1;
    cr_assert_eq(pool_decide(&dyn, 0, 0, &rate), 2);
    cr_assert_eq(rate, 1, "filling to the minimum is not growth");
}

Test(pool, dynamic_growth_doubles_per_tick_up_to_the_cap)
{
    int rate = 1;
    cr_assert_eq(pool_decide(&dyn, 2, 0, &rate), 1);
    cr_assert_eq(pool_decide(&dyn, 3, 0, &rate), 2);
    cr_assert_eq(pool_decide(&dyn, 5, 0, &rate), 4);
    cr_assert_eq(pool_decide(&dyn, 9, 0, &rate), 1, "max_workers caps it");
    cr_assert_eq(pool_decide(&dyn, 10, 0, &rate), 0);
}

Test(pool, dynamic_rate_resets_once_enough_are_idle)
{
    int rate = 8;
    cr_assert_eq(pool_decide(&dyn, 5, 3, &rate), 0);
    cr_assert_eq(rate, 1);
}

Test(pool, dynamic_pool_retires_one_per_tick_above_max_spare)
{
    int rate = 1;
    cr_assert_eq(pool_decide(&dyn, 8, 7, &rate), -1);
    cr_assert_eq(pool_decide(&dyn, 2, 2, &rate), 0, "never below the minimum");
}

Test(pool, dynamic_pool_over_max_workers_shrinks)
{
    int rate = 1;
    cr_assert_eq(pool_decide(&dyn, 12, 0, &rate), -2);
}

Test(pool, backoff_starts_at_once_then_doubles_to_thirty_seconds)
{
    cr_assert_eq(pool_backoff_ms(0), 0);
    cr_assert_eq(pool_backoff_ms(1), 0);
    cr_assert_eq(pool_backoff_ms(2), 100);
    cr_assert_eq(pool_backoff_ms(3), 200);
    cr_assert_eq(pool_backoff_ms(6), 1600);
    cr_assert_eq(pool_backoff_ms(12), 30000);
    cr_assert_eq(pool_backoff_ms(1000), 30000);
}

Test(pool, max_requests_jitter_spreads_the_limits)
{
    int  seen[11] = {0}, distinct = 0;
    long r;

    cr_assert_eq(pool_requests_limit(0, 10, 12345), 0, "0 means no limit");
    cr_assert_eq(pool_requests_limit(100, 0, 12345), 100);
    for (r = 0; r < 1000; r++) {
        long long n = pool_requests_limit(100, 10, r * 7919);
        cr_assert(n >= 100 && n <= 110, "%lld outside 100..110", n);
        seen[n - 100]++;
    }
    for (r = 0; r < 11; r++)
        distinct += seen[r] > 0;
    cr_assert_eq(distinct, 11, "every value 100..110 should occur");
}

Test(rollout, budget_is_a_count_or_a_share_rounded_up)
{
    const struct budget one = {.n = 1}, three = {.n = 3},
                        quarter = {.n = 25, .percent = 1},
                        all = {.n = 100, .percent = 1};

    cr_assert_eq(rollout_budget(&one, 4), 1);
    cr_assert_eq(rollout_budget(&three, 4), 3);
    cr_assert_eq(rollout_budget(&three, 2), 2, "never more than the pool");
    cr_assert_eq(rollout_budget(&quarter, 4), 1);
    cr_assert_eq(rollout_budget(&quarter, 5), 2, "1.25 rounds up");
    cr_assert_eq(rollout_budget(&quarter, 1), 1);
    cr_assert_eq(rollout_budget(&all, 6), 6);
    cr_assert_eq(rollout_budget(&quarter, 0), 1, "at least one");
}

Test(rollout, old_workers_quit_as_the_new_make_up_the_pool)
{
    /* 4 old, 4 wanted: none quits until a new one is up, each new one
     * lets one old one go, and all go once the new pool is whole. */
    cr_assert_eq(rollout_may_quit(4, 0, 4), 0);
    cr_assert_eq(rollout_may_quit(4, 1, 4), 1);
    cr_assert_eq(rollout_may_quit(3, 1, 4), 0);
    cr_assert_eq(rollout_may_quit(1, 4, 4), 1);
    /* Growing from 2 to 4: the old stay until the rest are nearly up. */
    cr_assert_eq(rollout_may_quit(2, 2, 4), 0);
    cr_assert_eq(rollout_may_quit(2, 3, 4), 1);
    /* Shrinking from 4 to 2: the old go as soon as 2 serve. */
    cr_assert_eq(rollout_may_quit(4, 0, 2), 1);
    cr_assert_eq(rollout_may_quit(3, 0, 2), 1);
    cr_assert_eq(rollout_may_quit(2, 0, 2), 0);
    cr_assert_eq(rollout_may_quit(2, 1, 2), 1);
    cr_assert_eq(rollout_may_quit(0, 4, 4), 0, "no one left to quit");
}
