/*
 * seccomp_filter.h -- the system-call filter a worker confines itself with, and
 * how a call it denies is told: the process ends, and a SIGSYS handler
 * leaves the call's name where its master will read it.
 */
#ifndef PF_SECCOMP_FILTER_H
#define PF_SECCOMP_FILTER_H

#include <stddef.h>

/* One system call the filter refuses (seccomp_deny.c). */
struct seccomp_deny {
    const char *name;
    unsigned    flags; /* SD_* */
};

#define SD_EXEC 0x1u /* allowed with sandbox_exec = yes */
#define SD_ENOSYS                                                              \
    0x2u /* fails with ENOSYS (a caller falls back), else the
                          process ends */

extern const struct seccomp_deny seccomp_deny[];
extern const size_t              seccomp_ndeny;

/* Can this process load a seccomp filter?  (The kernel may be built
 * without it.)  Asked once per process. */
int seccomp_available(void);

/* How many calls the filter denies with or without sandbox_exec. */
size_t seccomp_denied_count(int allow_exec);

/* Compile both filters (with and without sandbox_exec) into this
 * process's memory, once: the master does it before it forks, so that its
 * workers share the result.  Returns 0 (also on a kernel without
 * seccomp), or -1 with the reason in err. */
int seccomp_prepare(char *err, size_t errlen);

/*
 * Load the filter into the calling thread and every thread and child it
 * makes from then on; no_new_privs must be set already.  A denied call
 * ends the process with _exit(exit_code) from a SIGSYS handler that first
 * copies the call's name (at most namelen - 1 bytes) to name, which the
 * caller keeps mapped where its master reads it.  Returns 0, or -1 with
 * the reason in err (no filter loaded).
 */
int seccomp_confine(int allow_exec, char *name, size_t namelen, int exit_code,
                    char *err, size_t errlen);

#endif
