/*
 * deathlog.h -- one JSON line for every abnormal worker exit.
 *
 * When a worker dies by a signal the master did not send to retire it,
 * exits non-zero, or is killed for worker_timeout, the master writes a
 * record of it: when, which service and worker, how old it was and how
 * much it had served, how it ended, the client it was busy with, and how
 * many start-up failures in a row stand behind the respawn back-off.  The
 * record goes to `death_log` when set, else to the error log at warn.
 */
#ifndef PF_DEATHLOG_H
#define PF_DEATHLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct death {
    int64_t     time_ms; /* realtime */
    const char *service;
    pid_t       pid;
    int64_t     age_ms;
    uint64_t    served;
    const char *reason;  /* "signal", "exit", "worker_timeout",
                           "init_failed", "max_worker_memory",
                           "sandbox" */
    int         signal;  /* 0 when it exited */
    int         status;  /* exit status; -1 when signalled */
    int         core;    /* a core was dumped */
    const char *peer;    /* the client it was busy with; NULL: none */
    const char *request; /* what the module said it was doing (the http
                            request line); NULL or "": nothing */
    int         failures;
    const char *syscall; /* reason "sandbox": the call it was ended for */
};

/* Record d: append it to path, or log it at warn when path is NULL; and
 * when copy is not NULL, put the JSON text there (no newline, cut to
 * copylen).  Returns 0, or -1 (logged) when path could not be written. */
int death_record(const char *path, const struct death *d, char *copy,
                 size_t copylen);

#endif
