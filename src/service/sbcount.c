/*
 * sbcount.c -- what the scoreboard counts for the metrics: each worker's
 * requests, their durations, status classes and bytes, in its own slot;
 * and the master's tallies and gauges (deaths by reason, respawns, the
 * back-off, reloads, listen queues, descriptors) in the service table and
 * the header.
 *
 * A worker's counters are on every request's path, so they cost a load
 * and a store each: the slot has one writer, and a reader in another
 * process sums slots with relaxed loads (aligned 64-bit values are never
 * torn).  The exception is a slot shared by the children or threads of the
 * forking and threading modes, where a lost update would be a wrong count:
 * there each counter is an atomic add, which those modes' per-connection
 * fork or thread hand-off dwarfs.
 */
#include <string.h>

#include "scoreboard.h"

#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)

const uint32_t sb_bucket_us[SB_BUCKETS - 1] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

const char *const sb_death_names[SB_NDEATH_REASONS] = {
    [SB_DEATH_SIGNAL] = "signal",
    [SB_DEATH_EXIT] = "exit",
    [SB_DEATH_WORKER_TIMEOUT] = "worker_timeout",
    [SB_DEATH_INIT_FAILED] = "init_failed",
    [SB_DEATH_MAX_WORKER_MEMORY] = "max_worker_memory",
    [SB_DEATH_SANDBOX] = "sandbox",
};

const char *const sb_reload_names[SB_NRELOAD_OUTCOMES] = {
    [SB_RELOAD_OK] = "ok",
    [SB_RELOAD_FAILED] = "failed",
    [SB_RELOAD_ROLLED_BACK] = "rolled_back",
};

/* Set in a process whose slot several writers share. */
static int shared;

void slot_counters_shared(void)
{
    shared = 1;
}

static void add(uint64_t *p, uint64_t v)
{
    if (shared)
        __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
    else
        STORE(p, LOAD(p) + v);
}

/* The bucket of a duration: a binary search over 16 bounds is four
 * compares. */
static unsigned bucket_of(int64_t us)
{
    unsigned lo = 0, hi = SB_BUCKETS - 1;

    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;

        if (us <= (int64_t)sb_bucket_us[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void slot_observe(struct slot *s, int64_t us, int count)
{
    if (us < 0)
        us = 0;
    add(&s->ctr.hist[bucket_of(us)], 1);
    add(&s->ctr.duration_us, (uint64_t)us);
    if (count)
        add(&s->ctr.requests, 1);
}

void slot_count_request(struct slot *s)
{
    add(&s->ctr.requests, 1);
}

void slot_count_status(struct slot *s, int status)
{
    add(&s->ctr.requests, 1);
    if (status >= 100 && status <= 599)
        add(&s->ctr.classes[status / 100 - 1], 1);
}

void slot_count_bytes(struct slot *s, uint64_t in, uint64_t out)
{
    if (in > 0)
        add(&s->ctr.bytes_in, in);
    if (out > 0)
        add(&s->ctr.bytes_out, out);
}

void slot_read_counters(const struct slot *s, struct sb_counters *out)
{
    const uint64_t *f = (const uint64_t *)(const void *)&s->ctr;
    uint64_t       *t = (uint64_t *)(void *)out;

    for (size_t i = 0; i < SB_COUNTERS; i++)
        t[i] = LOAD(&f[i]);
}

void slot_set_fds(struct slot *s, unsigned n)
{
    STORE(&s->fds, (uint32_t)n);
}

/* --- the master's ----------------------------------------------------------- */

void scoreboard_set_backoff(struct scoreboard *sb, uint32_t id, int64_t ms)
{
    struct sb_service *e = scoreboard_find(sb, id);

    if (e != NULL && LOAD(&e->backoff_ms) != ms)
        STORE(&e->backoff_ms, ms);
}

void scoreboard_set_queues(struct scoreboard *sb, uint32_t id,
                           const struct sb_queue *q, size_t n)
{
    struct sb_service *e = scoreboard_find(sb, id);

    if (e == NULL)
        return;
    if (n > SB_QUEUES)
        n = SB_QUEUES;
    for (size_t i = 0; i < n; i++) {
        STORE(&e->queues[i].queue, q[i].queue);
        STORE(&e->queues[i].limit, q[i].limit);
    }
    STORE(&e->nqueues, (uint32_t)n);
}

void scoreboard_set_fds(struct scoreboard *sb, unsigned master_fds,
                        int64_t limit)
{
    STORE(&sb->hdr->master_fds, (uint32_t)master_fds);
    STORE(&sb->hdr->fd_limit, limit);
}

void scoreboard_count_death(struct scoreboard *sb, uint32_t id,
                            const char *reason)
{
    struct sb_service *e = scoreboard_find(sb, id);

    if (e == NULL || reason == NULL)
        return;
    for (size_t r = 0; r < SB_NDEATH_REASONS; r++)
        if (strcmp(sb_death_names[r], reason) == 0)
            STORE(&e->deaths[r], e->deaths[r] + 1);
}

void scoreboard_count_respawn(struct scoreboard *sb, uint32_t id)
{
    struct sb_service *e = scoreboard_find(sb, id);

    if (e != NULL)
        STORE(&e->respawns, e->respawns + 1);
}

void scoreboard_count_reload(struct scoreboard *sb, enum sb_reload_outcome o)
{
    STORE(&sb->hdr->reloads[o], sb->hdr->reloads[o] + 1);
}

void scoreboard_set_generation(struct scoreboard *sb, unsigned number)
{
    STORE(&sb->hdr->generation, (uint32_t)number);
}
