/*
 * test_scoreboard.c -- worker slots in shared memory.
 *
 * Claiming and releasing slots, per-service counts, the state changes a
 * worker makes, and the point of it all: a forked child's writes are seen
 * by the parent, both while the child runs and after it has exited.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scoreboard.h"

static struct slot snap(const struct scoreboard *sb, int i)
{
    struct slot s;

    slot_read(&sb->slots[i], &s);
    return s;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

Test(scoreboard, refuses_zero_slots)
{
    errno = 0;
    cr_expect_null(scoreboard_create(0));
    cr_expect_eq(errno, EINVAL);
}

Test(scoreboard, mono_ms_moves_forward)
{
    int64_t t0 = mono_ms(), t1;

    cr_expect_gt(t0, 0);
    sleep_ms(30);
    t1 = mono_ms();
    cr_expect_geq(t1 - t0, 29, "slept 30 ms, clock moved %lld",
                  (long long)(t1 - t0));
    cr_expect_lt(t1 - t0, 5000);
}

Test(scoreboard, claims_until_full_and_reuses_released_slots)
{
    struct scoreboard *sb = scoreboard_create(3);
    int64_t            before = mono_ms();
    int                seen[3] = {0};

    cr_assert_not_null(sb);
    cr_expect_eq(sb->nslots, 3);
    for (int k = 0; k < 3; k++) {
        int         i = scoreboard_claim(sb, 7);
        struct slot s;

        cr_assert(i >= 0 && i < 3, "claim %d gave %d", k, i);
        cr_expect_eq(seen[i]++, 0, "slot %d handed out twice", i);
        s = snap(sb, i);
        cr_expect_eq(s.state, SLOT_STARTING);
        cr_expect_eq(s.service, 7);
        cr_expect_geq(s.started_ms, before);
        cr_expect_leq(s.started_ms, mono_ms());
    }
    cr_expect_eq(scoreboard_claim(sb, 7), -1, "claimed a fourth of 3 slots");

    scoreboard_release(sb, 1);
    cr_expect_eq(snap(sb, 1).state, SLOT_FREE);
    cr_expect_eq(snap(sb, 1).pid, 0);
    cr_expect_eq(scoreboard_claim(sb, 9), 1);
    cr_expect_eq(snap(sb, 1).service, 9);
    cr_expect_eq(scoreboard_claim(sb, 9), -1);
    scoreboard_destroy(sb);
}

Test(scoreboard, a_reclaimed_slot_starts_clean)
{
    struct scoreboard *sb = scoreboard_create(1);
    struct slot        s;
    int                i;

    cr_assert_not_null(sb);
    i = scoreboard_claim(sb, 1);
    cr_assert_eq(i, 0);
    slot_set_pid(&sb->slots[i], 4242);
    slot_busy(&sb->slots[i]);
    slot_done(&sb->slots[i], 5);
    slot_set_conns(&sb->slots[i], 3);
    slot_busy(&sb->slots[i]);
    scoreboard_release(sb, i);

    cr_assert_eq(scoreboard_claim(sb, 2), 0);
    s = snap(sb, 0);
    cr_expect_eq(s.state, SLOT_STARTING);
    cr_expect_eq(s.pid, 0);
    cr_expect_eq(s.service, 2);
    cr_expect_eq(s.served, 0);
    cr_expect_eq(s.busy_since, 0);
    cr_expect_eq(s.open_conns, 0);
    scoreboard_destroy(sb);
}

Test(scoreboard, state_transitions)
{
    struct scoreboard *sb = scoreboard_create(2);
    struct slot       *w;
    struct slot        s;
    int64_t            before;
    int                i;

    cr_assert_not_null(sb);
    i = scoreboard_claim(sb, 0);
    cr_assert_geq(i, 0);
    w = &sb->slots[i];

    slot_set_state(w, SLOT_IDLE);
    cr_expect_eq(snap(sb, i).state, SLOT_IDLE);
    cr_expect_eq(snap(sb, i).busy_since, 0);

    before = mono_ms();
    slot_busy(w);
    s = snap(sb, i);
    cr_expect_eq(s.state, SLOT_BUSY);
    cr_expect_geq(s.busy_since, before);
    cr_expect_leq(s.busy_since, mono_ms());

    slot_done(w, 3);
    s = snap(sb, i);
    cr_expect_eq(s.state, SLOT_IDLE);
    cr_expect_eq(s.busy_since, 0);
    cr_expect_eq(s.served, 3);

    slot_busy(w);
    slot_done(w, 2);
    slot_busy(w);
    slot_done(w, 0);
    cr_expect_eq(snap(sb, i).served, 5);

    /* BUSY through slot_set_state stamps the time like slot_busy. */
    before = mono_ms();
    slot_set_state(w, SLOT_BUSY);
    cr_expect_geq(snap(sb, i).busy_since, before);
    slot_set_state(w, SLOT_EXITING);
    s = snap(sb, i);
    cr_expect_eq(s.state, SLOT_EXITING);
    cr_expect_eq(s.busy_since, 0, "busy_since kept after leaving BUSY");

    slot_set_conns(w, 12);
    cr_expect_eq(snap(sb, i).open_conns, 12);
    slot_set_conns(w, 0);
    cr_expect_eq(snap(sb, i).open_conns, 0);

    /* The other slot was never touched. */
    cr_expect_eq(snap(sb, 1 - i).state, SLOT_FREE);
    scoreboard_destroy(sb);
}

Test(scoreboard, child_writes_are_seen_after_exit, .timeout = 10)
{
    struct scoreboard *sb = scoreboard_create(4);
    struct slot        s;
    pid_t              pid;
    int                i, status;

    cr_assert_not_null(sb);
    i = scoreboard_claim(sb, 3);
    cr_assert_geq(i, 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct slot *me = &sb->slots[i];

        slot_set_state(me, SLOT_IDLE);
        slot_busy(me);
        slot_done(me, 7);
        slot_set_conns(me, 2);
        slot_set_state(me, SLOT_EXITING);
        _exit(0);
    }
    slot_set_pid(&sb->slots[i], pid);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    s = snap(sb, i);
    cr_expect_eq(s.pid, pid);
    cr_expect_eq(s.service, 3);
    cr_expect_eq(s.state, SLOT_EXITING);
    cr_expect_eq(s.served, 7);
    cr_expect_eq(s.open_conns, 2);
    scoreboard_destroy(sb);
}

Test(scoreboard, child_state_is_seen_while_it_runs, .timeout = 10)
{
    struct scoreboard *sb = scoreboard_create(2);
    int64_t            deadline;
    pid_t              pid;
    int                i, p[2], status;
    char               go;

    cr_assert_not_null(sb);
    i = scoreboard_claim(sb, 0);
    cr_assert_geq(i, 0);
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(p[1]);
        slot_busy(&sb->slots[i]);
        /* Stay busy until the parent has looked. */
        while (read(p[0], &go, 1) == -1 && errno == EINTR)
            ;
        slot_done(&sb->slots[i], 1);
        _exit(0);
    }
    close(p[0]);

    deadline = mono_ms() + 5000;
    while (snap(sb, i).state != SLOT_BUSY && mono_ms() < deadline)
        sleep_ms(5);
    cr_expect_eq(snap(sb, i).state, SLOT_BUSY, "never saw the child busy");
    cr_expect_gt(snap(sb, i).busy_since, 0);

    cr_assert_eq(write(p[1], "x", 1), 1);
    close(p[1]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect_eq(snap(sb, i).state, SLOT_IDLE);
    cr_expect_eq(snap(sb, i).served, 1);
    scoreboard_destroy(sb);
}
