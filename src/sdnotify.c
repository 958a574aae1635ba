/*
 * sdnotify.c -- libsystemd on demand, and sd_notify() messages from the
 * master.
 *
 * systemd's Type=notify protocol, through libsystemd: READY=1 once every
 * listener is bound and the pidfile written; RELOADING=1 (with the
 * monotonic time newer systemd asks for) then READY=1 around a reload;
 * STOPPING=1 when a shutdown starts.  A master started by a binary upgrade
 * also sends MAINPID=, so that systemd follows the new master (the unit
 * needs NotifyAccess=all for that message to be accepted from it).
 * NOTIFY_SOCKET stays in the environment for that new master's sake.
 *
 * The library is opened with dlopen() rather than linked: linked, it and
 * its dependencies (libgcrypt, liblzma, libzstd, liblz4, libcap) are
 * mapped into every process, about 47 KiB of proportional set size per
 * idle worker, for two functions only a master under systemd calls.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef PF_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "sdnotify.h"

#define LIBSYSTEMD "libsystemd.so.0"

#ifdef PF_HAVE_SYSTEMD
static struct {
    int           tried;
    void         *handle;
    struct sd_lib fn;
} lib;

const struct sd_lib *sd_lib(void)
{
    if (lib.tried)
        return lib.handle != NULL ? &lib.fn : NULL;
    lib.tried = 1;
    if (getenv("NOTIFY_SOCKET") == NULL && getenv("LISTEN_FDS") == NULL)
        return NULL;
    lib.handle = dlopen(LIBSYSTEMD, RTLD_NOW | RTLD_LOCAL);
    if (lib.handle == NULL) {
        log_warn(NULL, "started by systemd, but %s", dlerror());
        return NULL;
    }
    /* The casts check the prototypes against libsystemd's header. */
    lib.fn.notify = (__typeof__(&sd_notify))dlsym(lib.handle, "sd_notify");
    lib.fn.listen_fds_with_names = (__typeof__(&sd_listen_fds_with_names))dlsym(
        lib.handle, "sd_listen_fds_with_names");
    if (lib.fn.notify == NULL || lib.fn.listen_fds_with_names == NULL) {
        log_warn(NULL, "%s lacks sd_notify or sd_listen_fds_with_names",
                 LIBSYSTEMD);
        dlclose(lib.handle);
        lib.handle = NULL;
        return NULL;
    }
    return &lib.fn;
}

void sd_lib_release(void)
{
    if (lib.handle != NULL)
        dlclose(lib.handle);
    lib.handle = NULL;
    lib.tried = 1;
}

static void send_state(const char *what, const char *state)
{
    const struct sd_lib *sd = sd_lib();
    int                  rc;

    if (sd == NULL)
        return;
    rc = sd->notify(0, state);
    if (rc < 0)
        log_warn(NULL, "sd_notify(%s): error %d", what, -rc);
}

void notify_ready(int new_mainpid)
{
    char state[64];

    if (new_mainpid) {
        snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld", (long)getpid());
        send_state("READY", state);
    } else {
        send_state("READY", "READY=1");
    }
}

void notify_reloading(void)
{
    struct timespec ts;
    long long       usec = 0;
    char            state[64];

    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        usec = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%lld", usec);
    send_state("RELOADING", state);
}

void notify_stopping(void)
{
    send_state("STOPPING", "STOPPING=1");
}
#else
const struct sd_lib *sd_lib(void)
{
    return NULL;
}

void sd_lib_release(void)
{
}

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
