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

#include <sys/types.h>

/* The two functions of libsystemd prefork uses. */
struct sd_lib {
    int (*notify)(int unset_environment, const char *state);
    int (*listen_fds_with_names)(int unset_environment, char ***names);
};

/* libsystemd, loaded on the first call when systemd started us; NULL when
 * it did not, or when the library cannot be loaded (logged once). */
const struct sd_lib *sd_lib(void);
/* In a worker: let go of libsystemd (its pages are not the worker's). */
void sd_lib_release(void);

/* READY=1, with MAINPID when this master replaced another (upgrade). */
void notify_ready(int new_mainpid);
/* RELOADING=1 at the start of a reload; notify_ready() ends it. */
void notify_reloading(void);
/* STOPPING=1 when a shutdown begins. */
void notify_stopping(void);

#endif
