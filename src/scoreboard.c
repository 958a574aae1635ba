/*
 * scoreboard.c -- the shared-memory table of worker slots.
 *
 * One anonymous shared mapping made by the master before it forks, so every
 * worker inherits the same pages.  Each field has exactly one writer (the
 * master at fork and after reaping, or the worker in between), so plain
 * atomic stores are enough: no locks, nothing a dying worker could leave
 * held.  The state is stored last with release ordering and loaded first
 * with acquire ordering, so a reader that sees a state also sees the fields
 * written before it.  A snapshot is not a transaction: the master may see
 * BUSY with busy_since already back to 0 when the worker finishes while it
 * reads, and must treat that as "not stuck".
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "scoreboard.h"

/* Lock-based atomics would use a lock table private to each process. */
_Static_assert(__atomic_always_lock_free(sizeof(int64_t), 0),
               "the scoreboard needs lock-free 64-bit atomics");

#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)

int64_t mono_ms(void)
{
    struct timespec ts;

    /* Cannot fail with a valid clock id and pointer. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t map_size(size_t n)
{
    return sizeof(struct scoreboard) + n * sizeof(struct slot);
}

struct scoreboard *scoreboard_create(size_t n)
{
    struct scoreboard *sb;

    if (n == 0 || n > (SIZE_MAX - sizeof(*sb)) / sizeof(struct slot)) {
        errno = EINVAL;
        return NULL;
    }
    /* Anonymous pages come zeroed: every slot starts SLOT_FREE. */
    sb = mmap(NULL, map_size(n), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sb == MAP_FAILED)
        return NULL;
    sb->nslots = n;
    return sb;
}

void scoreboard_destroy(struct scoreboard *sb)
{
    if (sb != NULL)
        (void)munmap(sb, map_size(sb->nslots));
}

static void set_state(struct slot *s, int32_t st)
{
    __atomic_store_n(&s->state, st, __ATOMIC_RELEASE);
}

static int32_t get_state(const struct slot *s)
{
    return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
}

int scoreboard_claim(struct scoreboard *sb, uint32_t service)
{
    for (size_t i = 0; i < sb->nslots; i++) {
        struct slot *s = &sb->slots[i];

        if (get_state(s) != SLOT_FREE)
            continue;
        STORE(&s->pid, 0);
        STORE(&s->service, service);
        STORE(&s->served, 0);
        STORE(&s->started_ms, mono_ms());
        STORE(&s->busy_since, 0);
        STORE(&s->open_conns, 0);
        set_state(s, SLOT_STARTING);
        return (int)i;
    }
    return -1;
}

void scoreboard_release(struct scoreboard *sb, int i)
{
    struct slot *s;

    if (i < 0 || (size_t)i >= sb->nslots)
        return;
    s = &sb->slots[i];
    STORE(&s->pid, 0);
    STORE(&s->busy_since, 0);
    STORE(&s->open_conns, 0);
    set_state(s, SLOT_FREE);
}

void slot_set_pid(struct slot *s, pid_t pid)
{
    STORE(&s->pid, pid);
}

void slot_set_state(struct slot *s, enum slot_state st)
{
    if (st == SLOT_BUSY) {
        slot_busy(s);
        return;
    }
    STORE(&s->busy_since, 0);
    set_state(s, (int32_t)st);
}

void slot_busy(struct slot *s)
{
    STORE(&s->busy_since, mono_ms());
    set_state(s, SLOT_BUSY);
}

void slot_done(struct slot *s, int served)
{
    if (served > 0)
        __atomic_fetch_add(&s->served, (uint64_t)served, __ATOMIC_RELAXED);
    STORE(&s->busy_since, 0);
    set_state(s, SLOT_IDLE);
}

void slot_set_conns(struct slot *s, unsigned n)
{
    STORE(&s->open_conns, (uint32_t)n);
}

void slot_read(const struct slot *s, struct slot *out)
{
    out->state = get_state(s);
    out->pid = LOAD(&s->pid);
    out->service = LOAD(&s->service);
    out->served = LOAD(&s->served);
    out->started_ms = LOAD(&s->started_ms);
    out->busy_since = LOAD(&s->busy_since);
    out->open_conns = LOAD(&s->open_conns);
}
