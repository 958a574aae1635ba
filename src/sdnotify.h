/*
 * sdnotify.h -- telling systemd what the master is doing (sd_notify).
 *
 * Without libsystemd, or when not started by systemd (no NOTIFY_SOCKET),
 * every call does nothing.
 */
#ifndef PF_SDNOTIFY_H
#define PF_SDNOTIFY_H

#include <sys/types.h>

/* READY=1, with MAINPID when this master replaced another (upgrade). */
void notify_ready(int new_mainpid);
/* RELOADING=1 at the start of a reload; notify_ready() ends it. */
void notify_reloading(void);
/* STOPPING=1 when a shutdown begins. */
void notify_stopping(void);

#endif
