/*
 * scoreboard.h -- one shared-memory slot per worker process.
 *
 * The master maps the scoreboard before forking anything; every worker
 * writes only its own slot, the master reads them all to size pools, find
 * stuck workers and report status.  Fields are written with atomic stores so
 * the master never reads a torn value.
 */
#ifndef PF_SCOREBOARD_H
#define PF_SCOREBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum slot_state {
    SLOT_FREE = 0, /* unused */
    SLOT_STARTING, /* forked, not yet accepting */
    SLOT_IDLE,     /* waiting for work */
    SLOT_BUSY,     /* inside a module hook for a connection or datagram */
    SLOT_EXITING,  /* draining before exit */
};

struct slot {
    pid_t    pid;        /* master writes at fork */
    uint32_t service;    /* service id, master writes at fork */
    int32_t  state;      /* enum slot_state, worker writes */
    uint64_t served;     /* connections + datagrams, worker writes */
    int64_t  started_ms; /* monotonic, master writes at fork */
    int64_t  busy_since; /* monotonic ms when state became BUSY, else 0 */
    uint32_t open_conns; /* connections the worker holds now */
};

struct scoreboard {
    size_t      nslots;
    struct slot slots[];
};

/* Monotonic clock in milliseconds, comparable across processes. */
int64_t mono_ms(void);

/* Map a shared anonymous scoreboard of n slots (master, before forking).
 * Returns NULL with errno set on failure. */
struct scoreboard *scoreboard_create(size_t n);
void               scoreboard_destroy(struct scoreboard *sb);

/* Master: claim a free slot for a worker of service about to be forked.
 * Returns its index, or -1 when every slot is taken. */
int scoreboard_claim(struct scoreboard *sb, uint32_t service);
/* Master: the worker in slot i is gone; the slot is free again. */
void scoreboard_release(struct scoreboard *sb, int i);
/* Master: record the pid of the worker just forked into slot s. */
void slot_set_pid(struct slot *s, pid_t pid);

/* Worker: state changes of its own slot. */
void slot_set_state(struct slot *s, enum slot_state st);
void slot_busy(struct slot *s);             /* BUSY, busy_since = now */
void slot_done(struct slot *s, int served); /* IDLE, served += served */
void slot_set_conns(struct slot *s, unsigned n);

/* Master: a snapshot of one slot's fields (atomic loads). */
void slot_read(const struct slot *s, struct slot *out);

#endif
