/*
 * sdnotify.c -- sd_notify() messages from the master.
 *
 * systemd's Type=notify protocol, through libsystemd: READY=1 once every
 * listener is bound and the pidfile written; RELOADING=1 (with the
 * monotonic time newer systemd asks for) then READY=1 around a reload;
 * STOPPING=1 when a shutdown starts.  A master started by a binary upgrade
 * also sends MAINPID=, so that systemd follows the new master (the unit
 * needs NotifyAccess=all for that message to be accepted from it).
 * NOTIFY_SOCKET stays in the environment for that new master's sake.
 */
#define _GNU_SOURCE
#include <time.h>
#include <unistd.h>

#ifdef PF_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "sdnotify.h"

#ifdef PF_HAVE_SYSTEMD
static void send_state(const char *what, int rc)
{
    if (rc < 0)
        log_warn(NULL, "sd_notify(%s): error %d", what, -rc);
}

void notify_ready(int new_mainpid)
{
    if (new_mainpid)
        send_state("READY",
                   sd_notifyf(0, "READY=1\nMAINPID=%ld", (long)getpid()));
    else
        send_state("READY", sd_notify(0, "READY=1"));
}

void notify_reloading(void)
{
    struct timespec ts;
    long long       usec = 0;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        usec = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    send_state("RELOADING",
               sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%lld", usec));
}

void notify_stopping(void)
{
    send_state("STOPPING", sd_notify(0, "STOPPING=1"));
}
#else
void notify_ready(int new_mainpid)
{
    (void)new_mainpid;
}

void notify_reloading(void)
{
}

void notify_stopping(void)
{
}
#endif
