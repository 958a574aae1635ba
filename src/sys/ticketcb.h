/*
 * ticketcb.h -- OpenSSL's side of the session-ticket keys, in the TLS
 * layer (prefork-tls.so): the callbacks every context encrypts and
 * decrypts tickets with, reading the master's key table (ticketkeys.h)
 * through the host's table (tlslayer.h).
 */
#ifndef PF_TICKETCB_H
#define PF_TICKETCB_H

#include <openssl/ssl.h>

/* Have ctx encrypt new tickets with the current key and decrypt those
 * made with any key still kept, and give each ticket the lifetime the
 * master last configured (read as the ticket is made).  Called on each
 * SSL_CTX a service makes; 0, or -1 when OpenSSL refused (logged). */
int ticketkeys_attach(SSL_CTX *ctx);

#endif
