/*
 * sdnotify.c -- libsystemd on demand, and sd_notify() messages from the
 * master.
 *
 * systemd's Type=notify protocol, through libsystemd: READY=1 once every
 * listener is bound and the pidfile written; RELOADING=1 with
 * MONOTONIC_USEC= (which Type=notify-reload requires) then READY=1 around
 * a reload; STOPPING=1 when a shutdown starts; WATCHDOG=1 from the
 * supervision loop (watchdog.c decides when); FDSTORE=1 and
 * FDSTOREREMOVE=1 to keep the listening sockets in the unit's file
 * descriptor store (fdstore.c decides which).  A master started by a
 * binary upgrade is named to systemd with MAINPID= by the old master,
 * the main process, as it stops (upgrade.c).  NOTIFY_SOCKET stays in the
 * environment for that new master's sake.
 *
 * The library is opened with dlopen() rather than linked: linked, it and
 * its dependencies (libgcrypt, liblzma, libzstd, liblz4, libcap) are
 * mapped into every process, about 47 KiB of proportional set size per
 * idle worker, for a few functions only a master under systemd calls.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef PF_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "sdnotify.h"

#define LIBSYSTEMD "libsystemd.so.0"

/* The kernel passes at most SCM_MAX_FD (253) descriptors per message. */
#define FDS_PER_MESSAGE 250

long notify_fdstore_max(void)
{
    const char *v = getenv("FDSTORE");
    char       *end;
    long        n;

    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    return n;
}

#ifdef PF_HAVE_SYSTEMD
static struct {
    int           tried;
    void         *handle;
    struct sd_lib fn;
} lib;

static int reload_failed; /* STATUS= says so, until a reload succeeds */
static int ping_failing;  /* a WATCHDOG=1 failed: logged, not again */

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
    lib.fn.pid_notify_with_fds = (__typeof__(&sd_pid_notify_with_fds))dlsym(
        lib.handle, "sd_pid_notify_with_fds");
    lib.fn.listen_fds_with_names = (__typeof__(&sd_listen_fds_with_names))dlsym(
        lib.handle, "sd_listen_fds_with_names");
    lib.fn.watchdog_enabled = (__typeof__(&sd_watchdog_enabled))dlsym(
        lib.handle, "sd_watchdog_enabled");
    if (lib.fn.notify == NULL || lib.fn.pid_notify_with_fds == NULL ||
        lib.fn.listen_fds_with_names == NULL ||
        lib.fn.watchdog_enabled == NULL) {
        log_warn(NULL,
                 "%s lacks sd_notify, sd_pid_notify_with_fds, "
                 "sd_listen_fds_with_names or sd_watchdog_enabled",
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

int notify_available(void)
{
    return getenv("NOTIFY_SOCKET") != NULL && sd_lib() != NULL;
}

/* Send state; 0 when sent or when there is no one to send it to, else the
 * negative errno libsystemd returned (not logged). */
static int send_quiet(const char *state)
{
    const struct sd_lib *sd = sd_lib();
    int                  rc;

    if (sd == NULL)
        return 0;
    rc = sd->notify(0, state);
    return rc < 0 ? rc : 0;
}

static void send_state(const char *what, const char *state)
{
    int rc = send_quiet(state);

    if (rc < 0)
        log_warn(NULL, "sd_notify(%s): %s", what, strerror(-rc));
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

void notify_mainpid(pid_t pid)
{
    char state[32];

    snprintf(state, sizeof(state), "MAINPID=%ld", (long)pid);
    send_state("MAINPID", state);
}

void notify_reloading(void)
{
    struct timespec ts;
    char            state[64];

    /* systemd matches the MONOTONIC_USEC to the time it sent the reload
     * signal; without it, Type=notify-reload may take RELOADING=1 for a
     * reload of the service's own and finish the job at once. */
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
        log_syswarn(NULL, "clock_gettime(CLOCK_MONOTONIC)");
        send_state("RELOADING", "RELOADING=1");
        return;
    }
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%lld",
             (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
    send_state("RELOADING", state);
}

void notify_reloaded(int ok)
{
    if (!ok) {
        /* A reload job ends when READY=1 comes, success or not: the
         * status line is where `systemctl status` shows that it failed. */
        send_state("READY", "READY=1\nSTATUS=reload failed, running the "
                            "previous configuration: see the error log");
        reload_failed = 1;
    } else if (reload_failed) {
        send_state("READY", "READY=1\nSTATUS=");
        reload_failed = 0;
    } else {
        send_state("READY", "READY=1");
    }
}

void notify_stopping(void)
{
    send_state("STOPPING", "STOPPING=1");
}

uint64_t notify_watchdog_usec(void)
{
    const struct sd_lib *sd = sd_lib();
    uint64_t             usec = 0;
    int                  rc;

    if (sd == NULL)
        return 0;
    rc = sd->watchdog_enabled(0, &usec);
    if (rc < 0) {
        log_warn(NULL, "WATCHDOG_USEC ignored: %s", strerror(-rc));
        return 0;
    }
    return rc > 0 ? usec : 0;
}

void notify_watchdog(void)
{
    int rc = send_quiet("WATCHDOG=1");

    if (rc < 0 && !ping_failing)
        log_warn(NULL, "sd_notify(WATCHDOG): %s", strerror(-rc));
    ping_failing = rc < 0;
}

/* systemd reads FDNAME= up to the end of its line: a name holding a new
 * line would smuggle another assignment in.  Service names cannot. */
static int fdname_ok(const char *name)
{
    if (strchr(name, '\n') == NULL && strchr(name, ':') == NULL &&
        strlen(name) <= 255)
        return 1;
    log_error(NULL, "'%s' cannot name a stored descriptor", name);
    return 0;
}

int notify_fdstore(const char *name, const int *fds, size_t n)
{
    const struct sd_lib *sd = sd_lib();
    char                 state[300];
    size_t               off, k;
    int                  rc;

    if (sd == NULL || !fdname_ok(name))
        return -1;
    snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s", name);
    for (off = 0; off < n; off += k) {
        k = n - off < FDS_PER_MESSAGE ? n - off : FDS_PER_MESSAGE;
        rc = sd->pid_notify_with_fds(0, 0, state, fds + off, (unsigned)k);
        if (rc < 0) {
            log_warn(NULL, "sd_notify(FDSTORE, %s): %s", name, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

int notify_fdstore_remove(const char *name)
{
    char state[300];
    int  rc;

    if (!fdname_ok(name))
        return -1;
    snprintf(state, sizeof(state), "FDSTOREREMOVE=1\nFDNAME=%s", name);
    rc = send_quiet(state);
    if (rc < 0) {
        log_warn(NULL, "sd_notify(FDSTOREREMOVE, %s): %s", name, strerror(-rc));
        return -1;
    }
    return 0;
}
#else
const struct sd_lib *sd_lib(void)
{
    return NULL;
}

void sd_lib_release(void)
{
}

int notify_available(void)
{
    return 0;
}

void notify_ready(int new_mainpid)
{
    (void)new_mainpid;
}

void notify_reloading(void)
{
}

void notify_reloaded(int ok)
{
    (void)ok;
}

void notify_mainpid(pid_t pid)
{
    (void)pid;
}

void notify_stopping(void)
{
}

uint64_t notify_watchdog_usec(void)
{
    return 0;
}

void notify_watchdog(void)
{
}

int notify_fdstore(const char *name, const int *fds, size_t n)
{
    (void)name;
    (void)fds;
    (void)n;
    return -1;
}

int notify_fdstore_remove(const char *name)
{
    (void)name;
    return -1;
}
#endif
