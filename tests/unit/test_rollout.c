/*
 * test_rollout.c -- replacing workers without losing capacity: the
 * max_unavailable budget, the pace of a reload's hand-over, and when the
 * master has to look often because one is under way.
 */
#include <criterion/criterion.h>

#include "config.h"
#include "pool.h"
#include "rollout.h"
#include "service.h"

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

Test(rollout, pending_while_a_replacement_starts_or_old_workers_serve)
{
    struct generation old = {0}, cur = {0};
    struct pool       p;
    struct worker    *w;

    pool_init(&p, NULL, NULL, -1);
    cr_expect_not(rollout_pending(&p, &cur), "no worker at all");
    w = pool_add(&p);
    w->pid = 10;
    w->gen = &cur;
    cr_expect_not(rollout_pending(&p, &cur));
    w->replacement = 11;
    cr_expect(rollout_pending(&p, &cur), "a replacement is starting");
    w->retiring = 1;
    cr_expect_not(rollout_pending(&p, &cur), "it has been told to quit");

    w = pool_add(&p);
    w->pid = 12;
    w->gen = &old;
    cr_expect(rollout_pending(&p, &cur), "a reload's hand-over");
    w->killed = 1;
    cr_expect_not(rollout_pending(&p, &cur));
    pool_free(&p);
}
