/*
 * test_pool.c -- the pool's table of workers, its sizing rules and
 * respawn back-off, and which services have a worker accepting (and so
 * when a start or a reload is complete, readiness.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "pool.h"
#include "readiness.h"
#include "scoreboard.h"
#include "service.h"

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

Test(pool_table, workers_are_added_found_by_pid_and_removed)
{
    struct pool    p;
    struct worker *w;
    pid_t          pid;

    pool_init(&p, NULL, NULL, -1);
    /* Past the first allocation, so the table has to move. */
    for (pid = 100; pid < 140; pid++) {
        w = pool_add(&p);
        cr_assert_not_null(w);
        cr_expect_eq(w->pid, 0, "a new entry starts zeroed");
        w->pid = pid;
    }
    cr_assert_eq(p.n, 40);
    for (pid = 100; pid < 140; pid++) {
        w = pool_find(&p, pid);
        cr_assert_not_null(w, "pid %d lost", (int)pid);
        cr_expect_eq(w->pid, pid);
    }
    cr_expect_null(pool_find(&p, 99));

    pool_remove(&p, pool_find(&p, 105));
    cr_expect_eq(p.n, 39);
    cr_expect_null(pool_find(&p, 105));
    cr_expect_eq(p.w[5].pid, 139, "the last entry takes the gap");
    pool_remove(&p, pool_find(&p, 138)); /* now the last */
    cr_expect_eq(p.n, 38);
    cr_expect_null(pool_find(&p, 138));
    for (pid = 100; pid < 138; pid++)
        cr_expect(pid == 105 || pool_find(&p, pid) != NULL, "pid %d lost",
                  (int)pid);
    pool_free(&p);
    cr_expect_eq(p.n, 0);
    cr_expect_null(p.w);
}

/* Two generations of services "a" and "b", and a scoreboard whose slots
 * say what each worker is doing. */
struct fake {
    struct service_conf sc[2];
    struct service      svc[2][2];
    struct generation   gen[2];
    struct scoreboard  *sb;
    struct pool         p;
};

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->sc[0].name = "a";
    f->sc[1].name = "b";
    for (int g = 0; g < 2; g++) {
        for (int i = 0; i < 2; i++)
            f->svc[g][i].sc = &f->sc[i];
        f->gen[g].svc = f->svc[g];
        f->gen[g].nsvc = 2;
    }
    f->sb = scoreboard_create(NULL, 8);
    cr_assert_not_null(f->sb);
    pool_init(&f->p, f->sb, NULL, -1);
}

static struct worker *fake_worker(struct fake *f, int g, int i, pid_t pid,
                                  enum slot_state st)
{
    struct worker *w = pool_add(&f->p);

    cr_assert_not_null(w);
    w->pid = pid;
    w->gen = &f->gen[g];
    w->svc = &f->svc[g][i];
    w->slot = scoreboard_claim(f->sb, 1);
    cr_assert_neq(w->slot, -1);
    slot_set_state(&f->sb->slots[w->slot], st);
    return w;
}

static void fake_free(struct fake *f)
{
    pool_free(&f->p);
    scoreboard_destroy(f->sb);
}

Test(pool_table, a_generation_is_held_while_a_worker_of_it_lives)
{
    struct fake f;

    fake_init(&f);
    cr_expect_not(pool_holds(&f.p, &f.gen[0]));
    fake_worker(&f, 0, 0, 10, SLOT_IDLE);
    fake_worker(&f, 1, 1, 11, SLOT_IDLE);
    cr_expect(pool_holds(&f.p, &f.gen[0]));
    cr_expect(pool_holds(&f.p, &f.gen[1]));
    pool_remove(&f.p, pool_find(&f.p, 10));
    cr_expect_not(pool_holds(&f.p, &f.gen[0]));
    cr_expect(pool_holds(&f.p, &f.gen[1]));
    fake_free(&f);
}

Test(pool_table, a_service_is_ready_once_a_worker_of_its_own_accepts)
{
    struct fake    f;
    struct worker *a, *b;

    fake_init(&f);
    cr_expect_str_eq(pool_unready(&f.p, &f.gen[1]), "a");
    /* The previous generation's workers do not count. */
    fake_worker(&f, 0, 0, 10, SLOT_IDLE);
    fake_worker(&f, 0, 1, 11, SLOT_BUSY);
    cr_expect_str_eq(pool_unready(&f.p, &f.gen[1]), "a");
    cr_expect_null(pool_unready(&f.p, &f.gen[0]));
    a = fake_worker(&f, 1, 0, 20, SLOT_STARTING);
    b = fake_worker(&f, 1, 1, 21, SLOT_BUSY);
    cr_expect_not(pool_accepting(&f.p, a));
    cr_expect(pool_accepting(&f.p, b));
    cr_expect_str_eq(pool_unready(&f.p, &f.gen[1]), "a", "a only starts");
    slot_set_state(&f.sb->slots[a->slot], SLOT_IDLE);
    cr_expect_null(pool_unready(&f.p, &f.gen[1]));
    slot_set_state(&f.sb->slots[b->slot], SLOT_EXITING);
    cr_expect_str_eq(pool_unready(&f.p, &f.gen[1]), "b");
    fake_free(&f);
}

Test(readiness, a_generation_is_up_once_each_service_has_a_worker_accepting)
{
    struct fake   f;
    struct config cfg = {.start_timeout_ms = 1000};
    char          why[256];

    fake_init(&f);
    f.gen[1].cfg = &cfg;
    cr_expect_eq(readiness_deadline(&f.gen[1], 5000), 6000);
    fake_worker(&f, 1, 0, 20, SLOT_IDLE);
    fake_worker(&f, 1, 1, 21, SLOT_STARTING);
    cr_expect_eq(
        readiness_check(&f.p, &f.gen[1], 1, 6000, 5999, why, sizeof(why)),
        READINESS_WAIT);
    slot_set_state(&f.sb->slots[f.p.w[1].slot], SLOT_BUSY);
    cr_expect_eq(
        readiness_check(&f.p, &f.gen[1], 1, 6000, 9999, why, sizeof(why)),
        READINESS_UP, "up even after the deadline");
    cfg.start_timeout_ms = 0;
    cr_expect_eq(readiness_deadline(&f.gen[1], 5000), 0, "0: no bound");
    fake_free(&f);
}

Test(readiness, start_timeout_names_the_service_and_its_last_failure)
{
    struct fake   f;
    struct config cfg = {.start_timeout_ms = 1000};
    char          why[256];

    fake_init(&f);
    f.gen[1].cfg = &cfg;
    fake_worker(&f, 1, 0, 20, SLOT_IDLE);
    cr_expect_eq(
        readiness_check(&f.p, &f.gen[1], 0, 0, 1000000, why, sizeof(why)),
        READINESS_WAIT, "no deadline, no end");
    cr_assert_eq(
        readiness_check(&f.p, &f.gen[1], 0, 6000, 6000, why, sizeof(why)),
        READINESS_HOPELESS);
    cr_expect_str_eq(why, "[b] no worker past worker_init within "
                          "start_timeout (1000 ms)");
    f.svc[1][1].failures = 2;
    snprintf(f.svc[1][1].start_failure, sizeof(f.svc[1][1].start_failure),
             "worker 7 died on signal 11");
    cr_assert_eq(
        readiness_check(&f.p, &f.gen[1], 0, 6000, 6000, why, sizeof(why)),
        READINESS_HOPELESS);
    cr_expect_str_eq(why, "[b] no worker past worker_init within "
                          "start_timeout (1000 ms); the last failure: "
                          "worker 7 died on signal 11");
    fake_free(&f);
}

Test(readiness, a_reload_failing_at_start_up_is_given_up_before_its_deadline)
{
    struct fake   f;
    struct config cfg = {.start_timeout_ms = 60000};
    char          why[256];

    fake_init(&f);
    f.gen[1].cfg = &cfg;
    f.svc[1][0].failures = READINESS_GIVE_UP;
    snprintf(f.svc[1][0].start_failure, sizeof(f.svc[1][0].start_failure),
             "worker 9 exited with code 2");
    cr_assert_eq(
        readiness_check(&f.p, &f.gen[1], 1, 60000, 10, why, sizeof(why)),
        READINESS_HOPELESS);
    cr_expect_str_eq(why, "[a] 5 workers in a row failed at start-up; the "
                          "last: worker 9 exited with code 2");
    cr_expect_eq(
        readiness_check(&f.p, &f.gen[1], 0, 60000, 10, why, sizeof(why)),
        READINESS_WAIT, "a start waits its whole start_timeout");
    f.gen[1].trial_until = 5;
    cr_expect_eq(
        readiness_check(&f.p, &f.gen[1], 1, 60000, 70000, why, sizeof(why)),
        READINESS_WAIT, "a trial has its own verdict");
    fake_free(&f);
}
