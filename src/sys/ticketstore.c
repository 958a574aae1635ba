/*
 * ticketstore.c -- the table of TLS session-ticket keys (ticketstore.h):
 * choosing slots, rotating, expiring, and reading without a lock.
 *
 * Each slot is a sequence lock with one writer.  The master makes seq
 * odd, writes, and makes it even again with a release store; a reader
 * loads seq with acquire, copies the slot, and loads seq again after an
 * acquire fence: the copy is good when both loads read the same even
 * number.  The master never writes the slot `current` names: a new key
 * goes to another slot and `current` is then switched with a release
 * store, so an encrypting worker's copy fails only when a slot it chose
 * was freed and reused under it, which takes a whole ticket lifetime.
 */
#include <string.h>

#include "ticketstore.h"

/* A reader that meets the master mid-write tries again this often (the
 * master writes 120 bytes: it is out of the bracket long before). */
#define READ_TRIES 4

void tk_store_init(struct tk_store *st)
{
    memset(st, 0, sizeof(*st));
    memcpy(st->magic, TK_MAGIC, sizeof(st->magic));
    st->layout = TK_LAYOUT;
    st->size = sizeof(*st);
}

int tk_store_valid(const struct tk_store *st)
{
    return memcmp(st->magic, TK_MAGIC, sizeof(st->magic)) == 0 &&
           st->layout == TK_LAYOUT && st->size == sizeof(*st);
}

/* --- the master's side: one writer ---------------------------------------- */

static void write_begin(struct tk_slot *s)
{
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    /* The odd number is seen before any byte written after it. */
    atomic_thread_fence(memory_order_release);
}

static void write_end(struct tk_slot *s)
{
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

    atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
}

static int current_index(const struct tk_store *st)
{
    return (int)atomic_load_explicit(&st->current, memory_order_acquire) - 1;
}

/* The slot to put a key named name in: its own, a free one, or the one
 * retired longest ago. */
static int choose_slot(const struct tk_store *st, const unsigned char *name)
{
    int i, cur = current_index(st), free_slot = -1, oldest = -1;

    for (i = 0; i < TK_SLOTS; i++) {
        const struct tk_slot *s = &st->slot[i];

        if (s->used && memcmp(s->key.name, name, TK_NAME_LEN) == 0)
            return i;
        if (!s->used) {
            if (free_slot == -1)
                free_slot = i;
        } else if (i != cur && !s->pinned &&
                   (oldest == -1 ||
                    s->retired_ms < st->slot[oldest].retired_ms)) {
            oldest = i;
        }
    }
    return free_slot != -1 ? free_slot : oldest;
}

int tk_store_put(struct tk_store *st, const struct tk_key *k, int pinned)
{
    int             i = choose_slot(st, k->name);
    struct tk_slot *s;

    if (i == -1)
        return -1;
    s = &st->slot[i];
    write_begin(s);
    s->key = *k;
    s->used = 1;
    s->pinned = pinned != 0;
    s->retired_ms = 0;
    write_end(s);
    return i;
}

void tk_store_publish(struct tk_store *st, int i, int64_t now)
{
    int old = current_index(st);

    atomic_store_explicit(&st->current, (uint32_t)i + 1, memory_order_release);
    if (old >= 0 && old != i && !st->slot[old].pinned) {
        /* Only the master reads retired_ms: no bracket needed. */
        st->slot[old].retired_ms = now;
    }
}

int tk_store_due(const struct tk_store *st, int64_t now, long long period_ms)
{
    int                   cur = current_index(st);
    const struct tk_slot *s;

    if (cur < 0)
        return 1;
    s = &st->slot[cur];
    return !s->pinned && now - s->key.created_ms >= period_ms;
}

static void wipe(struct tk_slot *s)
{
    write_begin(s);
    memset(&s->key, 0, sizeof(s->key));
    s->used = 0;
    s->pinned = 0;
    s->retired_ms = 0;
    write_end(s);
}

int tk_store_expire(struct tk_store *st, int64_t now, long long lifetime_ms)
{
    int i, n = 0, cur = current_index(st);

    for (i = 0; i < TK_SLOTS; i++) {
        struct tk_slot *s = &st->slot[i];

        if (!s->used || s->pinned || i == cur || s->retired_ms == 0 ||
            now - s->retired_ms < lifetime_ms)
            continue;
        wipe(s);
        n++;
    }
    return n;
}

void tk_store_unpin(struct tk_store *st, int64_t now)
{
    int i, cur = current_index(st);

    for (i = 0; i < TK_SLOTS; i++) {
        struct tk_slot *s = &st->slot[i];

        if (!s->used || !s->pinned)
            continue;
        s->pinned = 0;
        if (i != cur)
            s->retired_ms = now;
    }
}

int tk_store_count(const struct tk_store *st)
{
    int i, n = 0;

    for (i = 0; i < TK_SLOTS; i++)
        n += st->slot[i].used != 0;
    return n;
}

/* --- the readers' side ----------------------------------------------------- */

/* Copy slot s.  Returns 1 for a whole copy of a used slot, 0 for an
 * unused one, -1 when the master was writing it. */
static int read_slot(const struct tk_slot *s, struct tk_slot *out)
{
    uint32_t before, after;

    before = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (before & 1)
        return -1;
    out->used = s->used;
    out->key = s->key;
    atomic_thread_fence(memory_order_acquire);
    after = atomic_load_explicit(&s->seq, memory_order_relaxed);
    if (after != before)
        return -1;
    return out->used ? 1 : 0;
}

static int read_slot_retrying(const struct tk_slot *s, struct tk_slot *out)
{
    int tries, rc = -1;

    for (tries = 0; tries < READ_TRIES && rc == -1; tries++)
        rc = read_slot(s, out);
    return rc;
}

int tk_store_current(const struct tk_store *st, struct tk_key *out)
{
    struct tk_slot copy;
    int            cur = current_index(st);

    if (cur < 0 || cur >= TK_SLOTS ||
        read_slot_retrying(&st->slot[cur], &copy) != 1)
        return -1;
    *out = copy.key;
    return 0;
}

int tk_store_find(const struct tk_store *st, const unsigned char *name,
                  struct tk_key *out)
{
    struct tk_slot copy;
    int            i;

    for (i = 0; i < TK_SLOTS; i++) {
        if (read_slot_retrying(&st->slot[i], &copy) != 1 ||
            memcmp(copy.key.name, name, TK_NAME_LEN) != 0)
            continue;
        *out = copy.key;
        return i == current_index(st) ? 1 : 2;
    }
    return 0;
}
