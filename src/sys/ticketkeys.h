/*
 * ticketkeys.h -- the keys that encrypt TLS session tickets.
 *
 * The master owns them: it makes them at start, rotates them, and every
 * worker of every generation encrypts and decrypts tickets with the same
 * keys, so that a client resumes its session on any worker, after a
 * reload and after a binary upgrade.
 *
 * They live in one shared mapping (a memfd, ticketstore.h) that the
 * master makes before its first fork: every worker inherits it, a reload
 * keeps it, and on SIGUSR2 the new master is handed its descriptor in
 * PREFORK_TICKET_KEYS_FD and maps the very same keys.  Only the master
 * writes; workers read without a lock.  With tls_ticket_key_file the keys
 * come from files instead (ticketfile.h) and are not rotated.
 *
 * A ticket lives as long as tls_ticket_key_rotation: a key encrypts for
 * one period, then decrypts for one more (tickets it decrypts are
 * renewed under the current key), then is wiped.
 */
#ifndef PF_TICKETKEYS_H
#define PF_TICKETKEYS_H

#include <stdint.h>

struct tk_key;

/* Master, at start, before the first fork and the first SSL_CTX: map the
 * keys an old master hands over (binary upgrade), else make an empty
 * table.  0, or -1 (logged). */
int ticketkeys_open(void);

/* Master, at start and after each reload: tickets live rotation_ms; the
 * keys come from files (a comma-separated list, relative names from dir)
 * or, files NULL, are made here and rotated every rotation_ms (a key the
 * table has already, from an old master or the running configuration,
 * is kept).  used: whether a service speaks TLS; while none does, no key
 * is made and OpenSSL is left untouched, so that a server without TLS
 * pays nothing for it.  0, or -1 (logged; the keys in use stay). */
int ticketkeys_configure(long long rotation_ms, const char *files,
                         const char *dir, int used);

/* Master, on its tick, while no upgrade it started is under way (the
 * new master writes then): a new key when the current one is due, and
 * the keys whose tickets have all expired wiped. */
void ticketkeys_tick(int64_t now);

/* In the child about to exec the new binary: let the table's descriptor
 * survive exec and name it in the environment.  0, or -1 with errno. */
int ticketkeys_export(void);

/* Worker, once forked: the table becomes read-only here and the master's
 * descriptor of it is closed. */
void ticketkeys_worker(void);

/* Master, at exit. */
void ticketkeys_close(void);

/*
 * What the TLS layer's ticket callback (ticketcb.c, which attaches it to
 * each context) reads, in whichever process does the handshake, without
 * a lock: the current key (0, or -1 when there is none), the key named
 * name (1 current, 2 older, 0 gone or none), the lifetime of a ticket
 * made now in seconds (0: none configured).
 */
int      ticketkeys_current(struct tk_key *out);
int      ticketkeys_find(const unsigned char *name, struct tk_key *out);
uint32_t ticketkeys_lifetime_s(void);

#endif
