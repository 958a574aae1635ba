/*
 * ticketkeys.h -- the keys that encrypt TLS session tickets.
 *
 * The master owns them: it makes them at start, rotates them, and every
 * worker of every generation encrypts and decrypts tickets with the same
 * keys, so that a client resumes its session on any worker, after a
 * reload and after a binary upgrade.
 */
#ifndef PF_TICKETKEYS_H
#define PF_TICKETKEYS_H

#include <openssl/ssl.h>

/* Have ctx encrypt new tickets with the current key and decrypt those
 * made with any key still kept.  Called on each SSL_CTX a service makes;
 * 0, or -1 when OpenSSL refused (logged). */
int ticketkeys_attach(SSL_CTX *ctx);

#endif
