/*
 * scoreboard.h -- one shared-memory slot per worker process, and the table
 * of services that `prefork -s status` reads.
 *
 * The master maps the scoreboard before forking anything; every worker
 * writes only its own slot, the master reads them all to size pools, find
 * stuck workers and report status.  Fields are written with atomic stores so
 * the master never reads a torn value.
 *
 * With a pidfile the mapping is a file (the pidfile's name with `.status`
 * for `.pid`), so that another process can map it read-only and report it;
 * without one it is anonymous memory.  The file starts with a header: a
 * magic and a layout version, the master's pid, version and start time, and
 * the services of the running configuration (kept by the master), then the
 * slots.
 */
#ifndef PF_SCOREBOARD_H
#define PF_SCOREBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "clock.h"

#define SB_REQUEST_MAX 128
#define SB_DEATHS      5   /* the last death records `-s status` shows */
#define SB_DEATH_MAX   768 /* one record's JSON text */
#define SB_STATE_MAX   16
#define SB_REASON_MAX  160
#define SB_REFUSED_MAX 512 /* the first error of a refused reload */

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
    /* The client of the connection last handed to the module (an IPv4 or
     * IPv6 sockaddr; peer_len 0: none or another family), for the master's
     * death record. */
    uint32_t peer_len;
    uint8_t  peer[28];
    /* What the module said the connection is doing (the http request
     * line), NUL-terminated; for the death record too. */
    char request[SB_REQUEST_MAX];
    /* The worker reached max_requests and asks to be replaced. */
    uint32_t recycle;
    /* TLS handshakes done (of them resumed) and failed, by this worker
     * and its children or threads; -s status sums them per service. */
    uint64_t tls_handshakes;
    uint64_t tls_resumed;
    uint64_t tls_failures;
};

/* The file's first bytes, and the number of its layout: a reader refuses
 * a file whose layout it does not know (a master of another version). */
#define SB_MAGIC        "PFSCORE"
#define SB_LAYOUT       5
#define SB_NAME_MAX     200 /* a section name fits on an INI line */
#define SB_LISTEN_MAX   512 /* listen addresses, one per line */
#define SB_MODE_MAX     16
#define SB_VERSION_MAX  32
#define SB_MAX_SERVICES 256

/* Flags of a service entry. */
#define SB_SVC_CURRENT                                                         \
    1u /* of the running configuration (else reloaded
                             away, its workers draining) */

/* One service, written by the master only. */
struct sb_service {
    uint32_t id;     /* = struct slot.service of its workers */
    uint32_t flags;  /* SB_SVC_* */
    int32_t  target; /* the pool size (the minimum of a dynamic pool) */
    uint32_t pad;
    uint64_t exited_served; /* served by its workers that have exited */
    char     mode[SB_MODE_MAX];
    char     name[SB_NAME_MAX];
    char     listen[SB_LISTEN_MAX]; /* canonical addresses, '\n' between */
};

struct sb_header {
    char     magic[8];      /* SB_MAGIC */
    uint32_t layout;        /* SB_LAYOUT */
    uint32_t header_size;   /* sizeof(struct sb_header) */
    uint32_t service_size;  /* sizeof(struct sb_service) */
    uint32_t slot_size;     /* sizeof(struct slot) */
    uint32_t max_services;  /* entries the table has room for */
    uint32_t nslots;        /* slots after the table */
    uint32_t nservices;     /* entries in use */
    uint32_t seq;           /* odd while the master rewrites the table */
    uint32_t stopping;      /* a graceful stop has begun (shutdown_delay) */
    uint32_t ndeaths;       /* death records so far; the last SB_DEATHS are in
                          deaths[], the latest at (ndeaths - 1) % SB_DEATHS */
    int64_t  master_pid;    /* set when the services are published */
    int64_t  start_time;    /* realtime seconds */
    int64_t  start_mono_ms; /* monotonic */
    char     version[SB_VERSION_MAX]; /* the master's PACKAGE_VERSION */
    char     deaths[SB_DEATHS][SB_DEATH_MAX];
    /* The last reload: its generation (0: none yet), how it went (see
     * scoreboard_set_reload) and, when it was rolled back, why. */
    uint32_t reload_generation;
    char     reload_state[SB_STATE_MAX];
    char     reload_reason[SB_REASON_MAX];
    /* The last reload refused because the file has errors, by the master
     * (on HUP) or by `prefork -s reload` (which then sends nothing): when
     * (realtime seconds; 0: none yet), who refused it, how many errors
     * and the first of them. */
    int64_t  refused_time;
    uint32_t refused_errors;
    char     refused_by[SB_STATE_MAX + 8];
    char     refused_reason[SB_REFUSED_MAX];
};

/* The master's (and after fork each worker's) view of the mapping. */
struct scoreboard {
    struct sb_header  *hdr;
    struct sb_service *svc;   /* max_services entries */
    struct slot       *slots; /* nslots */
    size_t             max_services;
    size_t             nslots;
    size_t             size; /* of the mapping */
    char              *path; /* the status file, NULL when anonymous */
    dev_t              dev;  /* its identity, so that at exit the master */
    ino_t              ino;  /* removes only its own file */
};

/* A consistent copy of a scoreboard, taken by scoreboard_snapshot(). */
struct sb_snapshot {
    pid_t              master_pid;
    int64_t            start_time;
    int64_t            start_mono_ms;
    char               version[SB_VERSION_MAX];
    struct sb_service *svc;
    size_t             nsvc;
    struct slot       *slots; /* every slot, the free ones included */
    size_t             nslots;
    char               deaths[SB_DEATHS][SB_DEATH_MAX]; /* latest first */
    size_t             ndeaths;
    unsigned           reload_generation;
    char               reload_state[SB_STATE_MAX];
    char               reload_reason[SB_REASON_MAX];
    int64_t            refused_time;
    unsigned           refused_errors;
    char               refused_by[SB_STATE_MAX + 8];
    char               refused_reason[SB_REFUSED_MAX];
};

/* The status file that goes with a pidfile: a trailing ".pid" replaced by
 * ".status", else ".status" appended.  Returns a string the caller frees,
 * or NULL (out of memory). */
char *scoreboard_path(const char *pidfile);

/* Map a shared scoreboard of n slots (master, before forking): anonymous
 * memory when pidfile is NULL, else the status file that goes with it,
 * made under a temporary name in the same directory and renamed into
 * place, so that a master starting next to another one never writes into
 * the other's file; when the file cannot be made, that is logged and the
 * scoreboard is anonymous.  Returns NULL with errno set on failure. */
struct scoreboard *scoreboard_create(const char *pidfile, size_t n);
/* Master: say that a graceful stop has begun (1), or not (0).  Workers
 * read it through scoreboard_stopping(); their health checks fail. */
void scoreboard_set_stopping(struct scoreboard *sb, int on);
/* In any process of the server: has the master begun a graceful stop? */
int scoreboard_stopping(void);
/* Unmap; in the master, also remove the file when path still names it. */
void scoreboard_destroy(struct scoreboard *sb);
/* Master: move the status file to the name that goes with pidfile, as the
 * pidfile moves to PIDFILE.oldbin and back during a binary upgrade, so
 * that a new master does not replace it and a master that serves on after
 * a failed upgrade gets its name back.  Returns 0 (also when there is no
 * file), or -1 with errno set. */
int scoreboard_rename(struct scoreboard *sb, const char *pidfile);

/* One service of the running configuration as the master describes it
 * to scoreboard_set_services(): plain data, so that the scoreboard needs
 * to know nothing of how services are built. */
struct sb_service_desc {
    uint32_t           id;     /* = struct slot.service of its workers */
    int                target; /* the pool size */
    const char        *name;
    const char        *mode;   /* "prefork", "forking", "threading" */
    const char *const *listen; /* its addresses as text, nlisten of them */
    size_t             nlisten;
};

/* Master: publish v[0..n), the services of the running configuration,
 * with its own pid.  Names and addresses are cut to fit their entry (the
 * addresses at a whole one).  Entries of earlier configurations stay
 * while they have workers; the served count of one removed goes to the
 * new service of the same name.  Call at start-up and after every
 * reload. */
void scoreboard_set_services(struct scoreboard            *sb,
                             const struct sb_service_desc *v, size_t n);
/* Master: the pool size of service id changed (TTIN, TTOU). */
void scoreboard_set_target(struct scoreboard *sb, uint32_t id, int target);

/* Master: claim a free slot for a worker of service about to be forked.
 * Returns its index, or -1 when every slot is taken. */
int scoreboard_claim(struct scoreboard *sb, uint32_t service);
/* Master: the worker in slot i is gone; what it served is added to its
 * service's count and the slot is free again. */
void scoreboard_release(struct scoreboard *sb, int i);
/* Master: record the pid of the worker just forked into slot s. */
void slot_set_pid(struct slot *s, pid_t pid);

/* Worker: state changes of its own slot. */
void slot_set_state(struct slot *s, enum slot_state st);
void slot_busy(struct slot *s);             /* BUSY, busy_since = now */
void slot_done(struct slot *s, int served); /* IDLE, served += served */
void slot_set_conns(struct slot *s, unsigned n);
/* Ask the master for a replacement (max_requests reached). */
void slot_want_recycle(struct slot *s);
/* The client the worker is about to serve. */
void slot_set_peer(struct slot *s, const struct sockaddr *sa, socklen_t len);
/* The module's word on what the connection is doing (len bytes of text;
 * cut to fit, control bytes made '?'); len 0 clears it. */
void slot_set_request(struct slot *s, const char *text, size_t len);
/* Master: how the reload to generation `number` goes: "on trial"
 * (reload_canary), "rolled over" or "rolled back" (with why). */
void scoreboard_set_reload(struct scoreboard *sb, unsigned number,
                           const char *state, const char *reason);
/* Master: a reload was refused, the file having `errors` errors, the
 * first being reason; `by` says who refused it ("SIGHUP"). */
void scoreboard_set_refused(struct scoreboard *sb, const char *by,
                            unsigned errors, const char *reason);
/* `prefork -s reload`: the same, written into the running master's status
 * file at path, which it opens for writing (so only its owner can).
 * Returns 0, or -1 with the reason in err. */
int scoreboard_note_refused(const char *path, const char *by, unsigned errors,
                            const char *reason, char *err, size_t errlen);
/* Master: keep one death record's JSON text for `-s status`. */
void scoreboard_add_death(struct scoreboard *sb, const char *json);
/* Master: that client as "ADDR:PORT" ("[V6]:PORT"); returns 0, or -1
 * when there is none. */
int slot_peer_string(const struct slot *s, char *buf, size_t len);

/* Master: a snapshot of one slot's fields (atomic loads). */
void slot_read(const struct slot *s, struct slot *out);

/* The layout of the mapping, for scoreboard.c and sbread.c: its size with
 * room for max_services entries and nslots slots, and sb's pointers into
 * one that starts at base and is size bytes long. */
size_t scoreboard_map_size(size_t max_services, size_t nslots);
void   scoreboard_view(struct scoreboard *sb, void *base, size_t max_services,
                       size_t nslots, size_t size);

/* Another process (`prefork -s status`, sbread.c): map the status file at path
 * read-only and check that it is one this version can read.  Returns the
 * view, or NULL with the reason in err. */
struct scoreboard *scoreboard_open(const char *path, char *err, size_t errlen);
/* Copy the header, the services and every slot, retrying while the master
 * rewrites the table.  Returns 0, or -1 with the reason in err; free the
 * copy with scoreboard_snapshot_free(). */
int  scoreboard_snapshot(const struct scoreboard *sb, struct sb_snapshot *out,
                         char *err, size_t errlen);
void scoreboard_snapshot_free(struct sb_snapshot *snap);

#endif
