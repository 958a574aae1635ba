/*
 * sandbox.c -- a worker confines itself (see sandbox.h).
 *
 * One place, after set-up and before the first untrusted byte, as
 * OpenBSD's httpd calls pledge() once a process's role is fixed.  What is
 * applied comes from confine_plan(), the function the master used for
 * `-t`, its log and the status file.  A protection the kernel refuses is
 * a warning under auto and yes, and ends the worker under require.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine.h"
#include "log.h"
#include "sandbox.h"
#include "sandbox_conf.h"
#include "scoreboard.h"
#include "seccomp_filter.h"
#include "service.h"

#define MAX_PORTS 64

/* The slot the SIGSYS handler writes to: the worker's, also in its
 * forked children (the acceptor reads it when it reaps one). */
static struct slot *trap_slot;

/* A protection that failed: fatal only where the operator required it. */
static int failed(const struct service_conf *sc, const char *what,
                  const char *err)
{
    if (sc->sandbox == SANDBOX_REQUIRE) {
        log_error(sc->name, "sandbox = require: %s: %s", what, err);
        return -1;
    }
    log_warn(sc->name, "worker %d runs without %s: %s", (int)getpid(), what,
             err);
    return 0;
}

static int apply_landlock(const struct config       *cfg,
                          const struct service_conf *sc, int net)
{
    struct confine_paths ps;
    uint16_t             ports[MAX_PORTS];
    size_t               nports = confine_ports(sc, ports, MAX_PORTS);
    char                 err[256];
    int                  r;

    if (confine_paths(cfg, sc, &ps) == -1)
        return failed(sc, "Landlock", "out of memory");
    r = landlock_restrict(ps.v, ps.n, ports, nports, net, err, sizeof(err));
    confine_paths_free(&ps);
    return r == -1 ? failed(sc, "Landlock", err) : 0;
}

int sandbox_enter(const struct config *cfg, struct service *svc,
                  struct slot *slot)
{
    const struct service_conf *sc = svc->sc;
    struct confine_plan        p;
    char                       err[256];

    confine_plan(sc, &p);
    if (!p.on)
        return 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
        snprintf(err, sizeof(err), "%s", strerror(errno));
        return failed(sc, "no_new_privs, Landlock and seccomp", err);
    }
    if (p.fs && apply_landlock(cfg, sc, p.net) == -1)
        return -1;
    if (p.seccomp) {
        trap_slot = slot;
        if (seccomp_confine(sc->sandbox_exec, slot->sandbox_syscall,
                            sizeof(slot->sandbox_syscall), SANDBOX_EXIT, err,
                            sizeof(err)) == -1 &&
            failed(sc, "seccomp", err) == -1)
            return -1;
    }
    sandbox_conf_seal();
    return 0;
}

void sandbox_child_reaped(const char *name, pid_t pid, int status)
{
    if (trap_slot == NULL || !WIFEXITED(status) ||
        WEXITSTATUS(status) != SANDBOX_EXIT ||
        trap_slot->sandbox_syscall[0] == '\0')
        return;
    log_error(name, "child %d ended by the sandbox: it called %.32s", (int)pid,
              trap_slot->sandbox_syscall);
    trap_slot->sandbox_syscall[0] = '\0';
}
