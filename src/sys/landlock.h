/*
 * landlock.h -- Landlock, the kernel's unprivileged access control, for a
 * process that confines itself: what the kernel offers, and one call that
 * restricts the calling thread (and every thread and child it makes from
 * then on) to the paths and TCP ports it lists.
 */
#ifndef PF_LANDLOCK_H
#define PF_LANDLOCK_H

#include <stddef.h>
#include <stdint.h>

/* What a path is allowed; the same bits as PF_SB_* in <prefork/module.h>. */
#define LL_READ  0x1u /* read files, list directories beneath it */
#define LL_WRITE 0x2u /* write, create, truncate and remove beneath it */
#define LL_EXEC  0x4u /* execute files beneath it */

/* The Landlock ABI version of the running kernel: 0 when it has none (not
 * built in, not enabled at boot, or landlock_create_ruleset refused with
 * ENOSYS or EOPNOTSUPP).  Asked once per process. */
int landlock_abi(void);

/* The first ABI with TCP bind and connect rules. */
#define LANDLOCK_ABI_NET 4

struct ll_path {
    const char *path;
    unsigned    access; /* LL_* */
};

/*
 * Restrict the calling thread for good: files only beneath paths[0..n)
 * with the access each lists (a path that does not exist is skipped), and
 * where the kernel's ABI has network rules and net is set, TCP bind and
 * connect only to ports[0..nports).  no_new_privs must be set already.
 * Returns 0, or -1 with the reason in err (nothing was restricted).
 */
int landlock_restrict(const struct ll_path *paths, size_t n,
                      const uint16_t *ports, size_t nports, int net, char *err,
                      size_t errlen);

#endif
