/*
 * sandbox_conf.h -- the sandbox's part of a service's configuration: the
 * paths and ports its `sandbox_*` keys list, and the paths its module
 * declares it needs (pf_sandbox_allow), kept with the service's
 * service_conf until the worker confines itself (src/worker/sandbox.c).
 */
#ifndef PF_SANDBOX_CONF_H
#define PF_SANDBOX_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * Record that sc's module needs path (made absolute from dir) with flags
 * (PF_SB_READ, PF_SB_WRITE, PF_SB_EXEC), from check() in the master
 * (every worker inherits it).  Once the process is confined
 * (sandbox_conf_seal) it is too late.  Returns 0, or -1 with errno
 * (EINVAL: no path or no flag; EPERM: too late; ENOMEM).
 */
int sandbox_declare(struct service_conf *sc, const char *dir, const char *path,
                    unsigned flags);
/* The same from worker_init() in a worker (the host API has the
 * pf_service, not its config): kept for the process, which serves one
 * service; and what was so declared. */
int sandbox_declare_here(const char *dir, const char *path, unsigned flags);
const struct sandbox_decl *sandbox_declared_here(size_t *n);
/* Free what sandbox_declare recorded for sc. */
void sandbox_decl_free(struct service_conf *sc);
/* This process is confined: sandbox_declare refuses from now on. */
void sandbox_conf_seal(void);

/* The next item of a comma-separated list at *p, blanks trimmed, into
 * buf (len bytes).  Returns its length (0 for an empty item), or -1 at
 * the end; an item too long is cut, and says so by returning len. */
int sandbox_list_next(const char **p, char *buf, size_t len);

/* The port of one sandbox_connect item: HOST:PORT, [V6]:PORT or PORT.
 * Returns 0, or -1 when there is no port from 1 to 65535. */
int sandbox_port_parse(const char *item, uint16_t *port);

#endif
