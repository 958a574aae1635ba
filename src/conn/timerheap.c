/*
 * timerheap.c -- a binary min-heap of deadlines with index tracking.
 *
 * Each timer remembers its slot in the array, so removing or moving a timer
 * (a connection that closed, or read a request and got a fresh idle
 * deadline) costs O(log n) without searching.  The heap never owns timers:
 * they live inside their connections.
 */
#define _GNU_SOURCE

#include <stdint.h>
#include <stdlib.h>

#include "timerheap.h"

#define TIMERHEAP_MIN 16

void timerheap_init(struct timerheap *h)
{
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

/* Timers still in the heap are not touched: their owners may be gone. */
void timerheap_free(struct timerheap *h)
{
    free(h->v);
    timerheap_init(h);
}

static void place(struct timerheap *h, size_t i, struct timer *t)
{
    h->v[i] = t;
    t->index = i;
}

static void sift_up(struct timerheap *h, size_t i)
{
    struct timer *t = h->v[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (h->v[parent]->deadline <= t->deadline)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct timerheap *h, size_t i)
{
    struct timer *t = h->v[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= h->n)
            break;
        if (child + 1 < h->n &&
            h->v[child + 1]->deadline < h->v[child]->deadline)
            child++;
        if (t->deadline <= h->v[child]->deadline)
            break;
        place(h, i, h->v[child]);
        i = child;
    }
    place(h, i, t);
}

static int grow(struct timerheap *h)
{
    size_t         cap = h->cap ? h->cap * 2 : TIMERHEAP_MIN;
    struct timer **v;

    if (cap > SIZE_MAX / sizeof(*v))
        return -1;
    v = realloc(h->v, cap * sizeof(*v));
    if (v == NULL)
        return -1;
    h->v = v;
    h->cap = cap;
    return 0;
}

int timerheap_set(struct timerheap *h, struct timer *t, int64_t d)
{
    if (t->index != TIMER_NONE) {
        int64_t old = t->deadline;

        t->deadline = d;
        if (d < old)
            sift_up(h, t->index);
        else
            sift_down(h, t->index);
        return 0;
    }
    if (h->n == h->cap && grow(h) == -1)
        return -1;
    t->deadline = d;
    place(h, h->n++, t);
    sift_up(h, t->index);
    return 0;
}

void timerheap_remove(struct timerheap *h, struct timer *t)
{
    size_t        i = t->index;
    struct timer *last;

    if (i == TIMER_NONE)
        return;
    t->index = TIMER_NONE;
    last = h->v[--h->n];
    if (last == t)
        return;
    /* The last timer fills the hole and may belong above or below it. */
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->index);
}

struct timer *timerheap_peek(const struct timerheap *h)
{
    return h->n > 0 ? h->v[0] : NULL;
}
