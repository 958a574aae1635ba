/*
 * tlsload.h -- the TLS layer (prefork-tls.so) loaded into the host.
 *
 * The host's tls.h and tlsctx.h functions (tls_prepare, tls_handshake,
 * ...) are defined in tlsload.c and call the layer through its table; the
 * first tls_prepare() that sees a service with TLS keys loads it.  These
 * are for what needs the layer by other ways: the tests.
 */
#ifndef PF_TLSLOAD_H
#define PF_TLSLOAD_H

#include <stddef.h>

#include "tlslayer.h"

/* Load the layer from path from now on, instead of where the host looks
 * for it (module_path, the build tree of the running binary, else the
 * installed one).  path is kept, not copied. */
void tls_layer_path(const char *path);

/* The layer, loaded now if it was not (master, before any fork), from
 * directory dir (the configuration's module_path; NULL: none) when it is
 * there; NULL with the reason (dlerror's) in err when it cannot be. */
const struct tls_layer *tls_layer_load(const char *dir, char *err,
                                       size_t errlen);

#endif
