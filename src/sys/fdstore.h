/*
 * fdstore.h -- the listening sockets kept in systemd's file descriptor
 * store, so that `systemctl restart` hands them to the next master with
 * their queued connections.
 *
 * The master stores every listener it bound itself (not those a socket
 * unit passes: that unit keeps them already) under the name "store/NAME",
 * NAME being the service that uses it.  A restarted master gets them back
 * with LISTEN_FDS, as from socket activation, and takes each one by its
 * address like any listener carried over by a reload.
 */
#ifndef PF_FDSTORE_H
#define PF_FDSTORE_H

#include "service.h"

/* FDNAME= of a socket the master stores: this, then the service name. */
#define FDSTORE_PREFIX "store/"

/* Is name (a LISTEN_FDNAMES entry) one the master gave a stored socket? */
int fdstore_name(const char *name);

/*
 * In the master, once generation g is built (at start-up, before sockets
 * nobody takes are closed; on reload, once g is current): make the store
 * hold exactly the listeners of g's services, each once, when g's config
 * and the unit allow it, and nothing otherwise.  A name whose set of
 * sockets changes is removed (FDSTOREREMOVE=1) and stored again whole;
 * names that did not change are left alone.  Failures are logged.
 */
void fdstore_sync(struct lsock_set *set, const struct generation *g);

#endif
