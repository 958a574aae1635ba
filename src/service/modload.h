/*
 * modload.h -- finding, loading and checking modules.
 *
 * A service's `module` names a shared object; the master dlopen()s it,
 * checks the descriptor's magic, ABI version and size, parses the service's
 * module keys against the module's key table into a conf struct the module
 * declared, and lets the module check() it -- all before any fork, so `-t`
 * and a reload see exactly the errors a start would.
 */
#ifndef PF_MODLOAD_H
#define PF_MODLOAD_H

#include <stddef.h>

#include <prefork/module.h>

#include "config.h"
#include "diag.h"

struct key;

struct module {
    char            *path;
    void            *dl;
    struct pf_module desc; /* zero past the module's own size */
    /* desc.keys as the core describes its own keys (config_keys.h), so
     * that values.c stores them and words their errors as for any key. */
    struct key *keys;
    size_t      nkeys;
};

/* Where `spec` lives: NAME or NAME.so under module_path, or a path (one
 * with a '/') taken from dir.  Returns a new string, NULL on ENOMEM. */
char *module_resolve(const char *spec, const char *module_path,
                     const char *dir);

/* dlopen path and check its descriptor and key table.  Returns NULL with
 * the reason in err. */
struct module *module_load(const char *path, char *err, size_t errlen);
void           module_unload(struct module *m);

/* For every service of cfg: load its module, check that it serves the
 * service's socket kinds, fill sc->mconf from the module keys, and call the
 * module's check().  Every problem goes into d.  Returns 0 or -1. */
int modules_prepare(struct config *cfg, struct diag *d);
/* Everything a start checks short of binding, as `-t` runs it: read path,
 * prepare the modules of every whole service, check user and group.
 * Returns the prepared config with its warnings (keys that do nothing) in
 * d, or NULL with every error in d. */
struct config *config_prepare(const char *path, struct diag *d);

/* Undo modules_prepare: free conf structs, unload. */
void modules_release(struct config *cfg);

#endif
