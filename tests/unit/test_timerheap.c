/*
 * test_timerheap.c -- the deadline heap against a plain reference.
 *
 * Random adds, moves and removals, with many equal deadlines, checked after
 * every step against an array that knows which timers are in and when they
 * expire: the earliest deadline, the size, the heap order and every
 * timer's index.  Draining at the end must give the deadlines sorted.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <stdlib.h>

#include "timerheap.h"

#define NTIMERS 500
#define NOPS    10000

/* A small deterministic generator: a failure reproduces exactly. */
static unsigned long long rng_state = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void check_heap(const struct timerheap *h)
{
    for (size_t i = 0; i < h->n; i++) {
        cr_assert_eq(h->v[i]->index, i, "timer at %zu thinks it is at %zu", i,
                     h->v[i]->index);
        if (i > 0)
            cr_assert_leq(h->v[(i - 1) / 2]->deadline, h->v[i]->deadline,
                          "heap order broken at %zu", i);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

Test(timerheap, empty)
{
    struct timerheap h;
    struct timer     t;

    timerheap_init(&h);
    timer_init(&t);
    cr_expect_null(timerheap_peek(&h));
    timerheap_remove(&h, &t); /* not in the heap: nothing happens */
    cr_expect_eq(h.n, 0);
    cr_expect_eq(t.index, TIMER_NONE);
    timerheap_free(&h);
}

Test(timerheap, set_moves_a_timer_both_ways)
{
    struct timerheap h;
    struct timer     t[4];

    timerheap_init(&h);
    for (int i = 0; i < 4; i++) {
        timer_init(&t[i]);
        cr_assert_eq(timerheap_set(&h, &t[i], 100 + 10 * i), 0);
    }
    cr_expect_eq(timerheap_peek(&h), &t[0]);
    cr_expect_eq(h.n, 4);

    cr_assert_eq(timerheap_set(&h, &t[3], 5), 0); /* earlier: moves up */
    cr_expect_eq(timerheap_peek(&h), &t[3]);
    cr_expect_eq(t[3].deadline, 5);
    cr_expect_eq(h.n, 4, "setting a timer already in added it twice");

    cr_assert_eq(timerheap_set(&h, &t[3], 1000), 0); /* later: moves down */
    cr_expect_eq(timerheap_peek(&h), &t[0]);
    check_heap(&h);

    timerheap_remove(&h, &t[0]);
    cr_expect_eq(t[0].index, TIMER_NONE);
    cr_expect_eq(timerheap_peek(&h), &t[1]);
    timerheap_remove(&h, &t[0]); /* twice: nothing happens */
    cr_expect_eq(h.n, 3);
    check_heap(&h);

    /* A removed timer can go back in. */
    cr_assert_eq(timerheap_set(&h, &t[0], 1), 0);
    cr_expect_eq(timerheap_peek(&h), &t[0]);
    cr_expect_eq(h.n, 4);
    timerheap_free(&h);
}

Test(timerheap, random_operations_match_a_reference)
{
    static struct timer t[NTIMERS];
    static int64_t      ref[NTIMERS]; /* deadline, or -1 when not in */
    static int64_t      sorted[NTIMERS];
    struct timerheap    h;
    size_t              in = 0, k;

    timerheap_init(&h);
    for (int i = 0; i < NTIMERS; i++) {
        timer_init(&t[i]);
        ref[i] = -1;
    }
    for (int op = 0; op < NOPS; op++) {
        unsigned i = rnd(NTIMERS);
        int64_t  min = -1;

        /* Two sets to one removal keeps the heap about two-thirds full;
         * deadlines from a small range make ties common. */
        if (rnd(3) < 2) {
            int64_t d = rnd(1000);

            cr_assert_eq(timerheap_set(&h, &t[i], d), 0);
            in += ref[i] == -1;
            ref[i] = d;
        } else {
            timerheap_remove(&h, &t[i]);
            in -= ref[i] != -1;
            ref[i] = -1;
            cr_assert_eq(t[i].index, TIMER_NONE);
        }
        cr_assert_eq(h.n, in, "op %d: %zu timers, expected %zu", op, h.n, in);
        check_heap(&h);
        for (int j = 0; j < NTIMERS; j++)
            if (ref[j] != -1 && (min == -1 || ref[j] < min))
                min = ref[j];
        if (min == -1)
            cr_assert_null(timerheap_peek(&h), "op %d", op);
        else
            cr_assert_eq(timerheap_peek(&h)->deadline, min, "op %d", op);
    }

    /* Drain: the deadlines come out in order and are exactly ours. */
    k = 0;
    for (int j = 0; j < NTIMERS; j++)
        if (ref[j] != -1)
            sorted[k++] = ref[j];
    qsort(sorted, k, sizeof(sorted[0]), cmp_i64);
    cr_assert_gt(k, 0);
    for (size_t j = 0; j < k; j++) {
        struct timer *top = timerheap_peek(&h);

        cr_assert_not_null(top);
        cr_assert_eq(top->deadline, sorted[j], "drain %zu", j);
        cr_assert_eq(ref[top - t], top->deadline, "wrong timer on top");
        timerheap_remove(&h, top);
        ref[top - t] = -1;
    }
    cr_expect_null(timerheap_peek(&h));
    cr_expect_eq(h.n, 0);
    timerheap_free(&h);
}
