/*
 * confine.h -- what confinement a service's workers get: from its
 * `sandbox*` keys, what its module declared, and what the kernel offers.
 * The master decides it before any fork (for `-t`, the start-up log,
 * `-s status` and `sandbox = require`); each worker asks the same
 * questions again and applies the answer (src/worker/sandbox.c).
 */
#ifndef PF_CONFINE_H
#define PF_CONFINE_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "diag.h"
#include "landlock.h"
#include "scoreboard.h"

struct confine_plan {
    int         on;       /* the workers confine themselves at all */
    int         landlock; /* the kernel's Landlock ABI used; 0: none */
    int         fs;       /* Landlock file rules */
    int         net;      /* Landlock TCP bind/connect rules */
    int         seccomp;  /* the system-call filter */
    size_t      denied;   /* system calls the filter refuses */
    const char *off;      /* when !on: why */
};

void confine_plan(const struct service_conf *sc, struct confine_plan *p);

/* `sandbox = require` on a kernel without a protection it needs: one
 * error per such service, in d (config_prepare: -t, a start, a reload). */
void confine_check(const struct config *cfg, struct diag *d);

/* One line saying what is in force: "Landlock ABI 7 (files, TCP),
 * seccomp (33 system calls denied)", or "none (sandbox = no)". */
void confine_describe(const struct confine_plan *p, char *buf, size_t len);

/* The paths a worker of sc may reach, as Landlock rules: the module's
 * declarations, the sandbox_read/_write keys, the error log's directory
 * and what every process needs (shared libraries, time zones, /dev/null).
 * Strings the list needs are kept in it. */
struct confine_paths {
    struct ll_path *v;
    size_t          n;
    char          **owned;
    size_t          nowned;
};
int  confine_paths(const struct config *cfg, const struct service_conf *sc,
                   struct confine_paths *out);
void confine_paths_free(struct confine_paths *ps);

/* The ports sandbox_connect lists, into ports (room for max).  Returns
 * how many. */
size_t confine_ports(const struct service_conf *sc, uint16_t *ports,
                     size_t max);

/* For the status file. */
void confine_publish(const struct service_conf *sc, struct sb_sandbox *out);

/* For `prefork -t`: the plan and every path and port, a few lines. */
void confine_print(FILE *out, const struct config *cfg,
                   const struct service_conf *sc);

#endif
