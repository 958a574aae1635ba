/*
 * ticketfile.h -- session-ticket keys read from files (tls_ticket_key_file),
 * in nginx's format, so that several hosts behind one balancer, or prefork
 * beside nginx, resume each other's sessions.
 *
 * A file holds one key: 80 bytes (a 16-byte name, a 32-byte HMAC-SHA256
 * secret, a 32-byte AES-256 key) or 48 bytes (name, AES-128 key, HMAC
 * secret, 16 bytes each).  `openssl rand 80 > ticket.key` makes one.
 */
#ifndef PF_TICKETFILE_H
#define PF_TICKETFILE_H

#include <stddef.h>
#include <stdint.h>

#include "ticketstore.h"

/* At most this many files in the list: the rest of the slots keep the
 * keys that were rotated out before (ticketstore.h). */
#define TK_FILES_MAX 8

/* The key in buf (48 or 80 bytes, as above).  Returns 0, or -1 when len
 * is neither. */
int ticketfile_parse(const unsigned char *buf, size_t len, struct tk_key *k);

/*
 * Read every file of list (comma-separated, blanks around a name ignored,
 * a relative one taken from dir) into keys[0..*n), the first being the
 * one that encrypts, each stamped created at now.  Returns 0, or -1 with
 * "PATH: why" in err (the caller adds the config's FILE:LINE).  Reads
 * only: the master calls it at start and on each reload, checks.c for
 * `prefork -t`.
 */
int ticketfile_load(const char *list, const char *dir,
                    struct tk_key keys[TK_FILES_MAX], size_t *n, int64_t now,
                    char *err, size_t errlen);

#endif
