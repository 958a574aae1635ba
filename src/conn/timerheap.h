/*
 * timerheap.h -- a binary min-heap of deadlines.
 *
 * A worker holds many parked connections, each with its own idle deadline;
 * the heap gives the nearest deadline in O(1) and adds, removes and moves a
 * timer in O(log n).  Timers are embedded in their owners; the heap stores
 * pointers and keeps each timer's index current.
 */
#ifndef PF_TIMERHEAP_H
#define PF_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

struct timer {
    int64_t deadline; /* monotonic ms */
    size_t  index;    /* position in the heap; TIMER_NONE when not in one */
};

#define TIMER_NONE ((size_t)-1)

struct timerheap {
    struct timer **v;
    size_t         n, cap;
};

void timerheap_init(struct timerheap *h);
void timerheap_free(struct timerheap *h); /* frees the array, not timers */
/* Add t with deadline d, or move it there if already in.  -1 on ENOMEM. */
int  timerheap_set(struct timerheap *h, struct timer *t, int64_t d);
void timerheap_remove(struct timerheap *h, struct timer *t);
/* The earliest timer, or NULL when empty. */
struct timer *timerheap_peek(const struct timerheap *h);

static inline void timer_init(struct timer *t)
{
    t->deadline = 0;
    t->index = TIMER_NONE;
}

#endif
