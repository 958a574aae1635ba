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

/* The request-duration histogram: upper bounds in microseconds, 100 us to
 * 10 s; a last bucket takes what is slower.  Buckets are not cumulative
 * in the slot (one store per request); the writers sum them. */
#define SB_BUCKETS 17
extern const uint32_t sb_bucket_us[SB_BUCKETS - 1];

/* Why a worker died, as deathlog.c names it: the index of its counter. */
enum sb_death_reason {
    SB_DEATH_SIGNAL,
    SB_DEATH_EXIT,
    SB_DEATH_WORKER_TIMEOUT,
    SB_DEATH_INIT_FAILED,
    SB_DEATH_MAX_WORKER_MEMORY,
    SB_DEATH_SANDBOX,
    SB_NDEATH_REASONS
};
extern const char *const sb_death_names[SB_NDEATH_REASONS];

/* Reloads by how they ended. */
enum sb_reload_outcome {
    SB_RELOAD_OK,          /* rolled over, or went on trial */
    SB_RELOAD_FAILED,      /* the configuration was refused */
    SB_RELOAD_ROLLED_BACK, /* its trial failed, or it never started */
    SB_NRELOAD_OUTCOMES
};
extern const char *const sb_reload_names[SB_NRELOAD_OUTCOMES];

/* What a worker counts, in its own slot: each field has one writer and
 * is a load and a store (see slot_counters_shared for the exception), and
 * the master adds a dead worker's to its service's when it reaps it.
 * Read as an array of uint64_t (SB_COUNTERS of them). */
struct sb_counters {
    uint64_t requests;    /* handle() calls, connections or responses */
    uint64_t classes[5];  /* responses by status class, 1xx .. 5xx */
    uint64_t bytes_in;    /* what modules read from their connections */
    uint64_t bytes_out;   /* what they sent */
    uint64_t duration_us; /* the sum of the timed requests' durations */
    uint64_t hist[SB_BUCKETS];
};
#define SB_COUNTERS (sizeof(struct sb_counters) / sizeof(uint64_t))

/* One listening socket's accept queue, as TCP_INFO shows it. */
struct sb_queue {
    uint32_t queue; /* connections waiting to be accepted; SB_QUEUE_NONE:
                       not a TCP listener (UDP, UNIX), not measured */
    uint32_t limit; /* the backlog */
};
#define SB_QUEUE_NONE UINT32_MAX
#define SB_QUEUES     8 /* the first listeners of a service */

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
    /* Open descriptors, counted by the master on its tick. */
    uint32_t           fds;
    struct sb_counters ctr; /* the worker's */
    /* The system call the sandbox ended the worker for, NUL-terminated
     * (its SIGSYS handler writes it); "": none. */
    char sandbox_syscall[32];
};

/* The file's first bytes, and the number of its layout: a reader refuses
 * a file whose layout it does not know (a master of another version). */
#define SB_MAGIC        "PFSCORE"
#define SB_LAYOUT       6
#define SB_NAME_MAX     200 /* a section name fits on an INI line */
#define SB_LISTEN_MAX   512 /* listen addresses, one per line */
#define SB_MODE_MAX     16
#define SB_VERSION_MAX  32
#define SB_MAX_SERVICES 256

/* A service's confinement as its workers apply it (`-s status`). */
struct sb_sandbox {
    int32_t landlock; /* the kernel's Landlock ABI in force; 0: none */
    uint8_t on;       /* the workers confine themselves */
    uint8_t fs, net, seccomp, exec;
    uint8_t pad[3];
    char    read[SB_NAME_MAX]; /* the sandbox_* keys as written */
    char    write[SB_NAME_MAX];
    char    connect[SB_NAME_MAX];
};

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
    /* What its workers that have exited counted. */
    struct sb_counters exited;
    uint64_t           deaths[SB_NDEATH_REASONS];
    uint64_t           respawns;   /* workers replaced after an exit of
                                      their own */
    int64_t            backoff_ms; /* the wait before the next respawn */
    uint32_t           nqueues;    /* listeners in queues[] */
    uint32_t           pad2;
    struct sb_queue    queues[SB_QUEUES]; /* per listen address, in order;
                                             the master's tick */
    struct sb_sandbox  sandbox;
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
    uint64_t reloads[SB_NRELOAD_OUTCOMES];
    uint32_t generation; /* the running configuration's number */
    uint32_t master_fds; /* the master's open descriptors (tick) */
    int64_t  fd_limit;   /* RLIMIT_NOFILE, the workers' too */
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
    uint64_t           reloads[SB_NRELOAD_OUTCOMES];
    unsigned           generation;
    unsigned           master_fds;
    int64_t            fd_limit;
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
    struct sb_sandbox  sandbox;
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
/* As slot_busy, with the time the caller read already. */
void slot_busy_at(struct slot *s, int64_t now_ms);
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

/* Master, on its tick: the gauges it measures for the scoreboard. */
void scoreboard_set_backoff(struct scoreboard *sb, uint32_t id, int64_t ms);
void scoreboard_set_queues(struct scoreboard *sb, uint32_t id,
                           const struct sb_queue *q, size_t n);
void scoreboard_set_fds(struct scoreboard *sb, unsigned master_fds,
                        int64_t limit);
void slot_set_fds(struct slot *s, unsigned n);
/* Master: a worker of service id died for reason (a name of
 * sb_death_names; others are not counted), or will be respawned. */
void scoreboard_count_death(struct scoreboard *sb, uint32_t id,
                            const char *reason);
void scoreboard_count_respawn(struct scoreboard *sb, uint32_t id);
/* Master: a reload ended so; the running configuration's number. */
void scoreboard_count_reload(struct scoreboard *sb, enum sb_reload_outcome o);
void scoreboard_set_generation(struct scoreboard *sb, unsigned number);

/* Worker: one timed request of us microseconds (its bucket, the sum and,
 * when count is set, the request count); a response's status code (its
 * class, and the request count); bytes read and sent.  A few loads and
 * stores: these are on every request's path. */
void slot_observe(struct slot *s, int64_t us, int count);
void slot_count_request(struct slot *s);
void slot_count_status(struct slot *s, int status);
void slot_count_bytes(struct slot *s, uint64_t in, uint64_t out);
/* Several processes or threads write this process's slot (forking and
 * threading modes): counters are added atomically from now on. */
void slot_counters_shared(void);

/* This process's scoreboard (the master's, inherited by its workers), or
 * NULL: for the status module's worker, which reads it as another
 * process would. */
const struct scoreboard *scoreboard_self(void);

/* Master: a snapshot of one slot's fields (atomic loads). */
void slot_read(const struct slot *s, struct slot *out);
void slot_read_counters(const struct slot *s, struct sb_counters *out);
/* The entry of service id, or NULL (scoreboard.c, sbcount.c). */
struct sb_service *scoreboard_find(struct scoreboard *sb, uint32_t id);

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

/* Entries i and j of a snapshot have the same name (one service across
 * generations); slot s works for entry g or a later one of g's name.
 * The readers group a service's slots by these (status.c, metrics.c). */
int sb_same_name(const struct sb_snapshot *snap, size_t i, size_t j);
int sb_in_group(const struct sb_snapshot *snap, size_t g, const struct slot *s);

#endif
