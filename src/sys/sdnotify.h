/*
 * sdnotify.h -- talking to systemd: the notify protocol and access to
 * libsystemd itself.
 *
 * libsystemd is loaded only when the environment says systemd started
 * this process (NOTIFY_SOCKET or LISTEN_FDS are set): a server started any
 * other way never maps it, nor the compression and crypto libraries it
 * pulls in.  Workers never talk to systemd and unload it.  Without
 * libsystemd at build or run time every call here does nothing.
 */
#ifndef PF_SDNOTIFY_H
#define PF_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The functions of libsystemd prefork uses. */
struct sd_lib {
    int (*notify)(int unset_environment, const char *state);
    int (*pid_notify_with_fds)(pid_t pid, int unset_environment,
                               const char *state, const int *fds,
                               unsigned n_fds);
    int (*listen_fds_with_names)(int unset_environment, char ***names);
    int (*watchdog_enabled)(int unset_environment, uint64_t *usec);
};

/* libsystemd, loaded on the first call when systemd started us; NULL when
 * it did not, or when the library cannot be loaded (logged once). */
const struct sd_lib *sd_lib(void);
/* In a worker: let go of libsystemd (its pages are not the worker's). */
void sd_lib_release(void);
/* Is there a service manager to notify (NOTIFY_SOCKET and libsystemd)? */
int notify_available(void);

/* READY=1, with MAINPID when this master replaced another (upgrade). */
void notify_ready(int new_mainpid);
/* RELOADING=1 with MONOTONIC_USEC at the start of a reload ... */
void notify_reloading(void);
/* ... and READY=1 at its end; a failed reload also says so in STATUS=,
 * which the next successful one clears. */
void notify_reloaded(int ok);
/* MAINPID=pid: a process of the unit (a binary upgrade's new master) is
 * the main one now. */
void notify_mainpid(pid_t pid);
/* STOPPING=1 when a shutdown begins. */
void notify_stopping(void);

/* The watchdog interval systemd asks of this process (WATCHDOG_USEC, when
 * WATCHDOG_PID is unset or ours) in microseconds, or 0 for none. */
uint64_t notify_watchdog_usec(void);
/* WATCHDOG=1.  A failure is logged once, until a ping gets through. */
void notify_watchdog(void);

/* FileDescriptorStoreMax= as systemd 254 and later announce it in
 * $FDSTORE, or -1 when the environment does not say. */
long notify_fdstore_max(void);
/* FDSTORE=1 with FDNAME=name: hand systemd copies of fds to keep across
 * restarts.  Returns 0, or -1 (logged). */
int notify_fdstore(const char *name, const int *fds, size_t n);
/* FDSTOREREMOVE=1 with FDNAME=name: systemd closes what it keeps under
 * that name.  Returns 0, or -1 (logged). */
int notify_fdstore_remove(const char *name);

#endif
