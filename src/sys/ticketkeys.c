/*
 * ticketkeys.c -- the keys that encrypt TLS session tickets.
 *
 * For now each SSL_CTX keeps the ticket keys OpenSSL makes for it: a
 * client resumes on the workers forked from one context.  A key store
 * the master owns and rotates replaces this.
 */
#include "ticketkeys.h"

int ticketkeys_attach(SSL_CTX *ctx)
{
    (void)ctx;
    return 0;
}
