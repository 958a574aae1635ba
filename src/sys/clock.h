/*
 * clock.h -- the one clock prefork measures time with.
 *
 * Deadlines, ages and back-offs are all taken on CLOCK_MONOTONIC in
 * milliseconds: it never jumps with the wall clock, and it is the same
 * clock in every process of the machine, so the master can compare a
 * time a worker wrote into its scoreboard slot with its own.
 */
#ifndef PF_CLOCK_H
#define PF_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic clock in milliseconds, comparable across processes. */
static inline int64_t mono_ms(void)
{
    struct timespec ts;

    /* Cannot fail with a valid clock id and pointer. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same clock in microseconds, for timing requests: one reading
 * serves the slot's busy_since (in ms) and the duration. */
static inline int64_t mono_us(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
