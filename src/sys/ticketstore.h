/*
 * ticketstore.h -- the table of TLS session-ticket keys, as laid out in
 * the memory the master shares with every worker.
 *
 * One writer (the master) and many readers (every worker of every
 * generation, each handshake), and no lock between them: the master
 * writes a key into a slot no reader is told to use, then publishes the
 * slot's index with a release store; each slot also carries a sequence
 * number, odd while it is written, so that a reader who meets a slot
 * being reused (an expired key's) sees that its copy is torn and skips
 * it.  Nothing here maps memory or calls OpenSSL: ticketkeys.c maps it,
 * the TLS layer's ticketcb.c calls OpenSSL with what it reads, and
 * the unit tests run these functions on a plain struct.
 */
#ifndef PF_TICKETSTORE_H
#define PF_TICKETSTORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TK_NAME_LEN   16 /* the key name a ticket starts with */
#define TK_SECRET_MAX 32 /* AES-256 and HMAC-SHA256 */
#define TK_SLOTS      16 /* the current key, and those kept for decrypting */

/* One key: its name, its secrets, when it was made.  secret_len is 32
 * (AES-256-CBC, a 32-byte HMAC-SHA256 key) for the keys the master makes
 * and nginx's 80-byte files, 16 (AES-128-CBC) for its 48-byte files. */
struct tk_key {
    unsigned char name[TK_NAME_LEN];
    unsigned char hmac[TK_SECRET_MAX];
    unsigned char aes[TK_SECRET_MAX];
    uint32_t      secret_len;
    int64_t       created_ms; /* mono_ms() of the master that made it */
};

/* A slot's fields besides seq are written by the master only, inside a
 * seq bracket (tk_store.c); readers copy them and check seq again. */
struct tk_slot {
    _Atomic uint32_t seq;    /* odd while the master writes the slot */
    uint32_t         used;   /* holds a key that may decrypt */
    uint32_t         pinned; /* from tls_ticket_key_file: never expires */
    uint32_t         pad;
    int64_t          retired_ms; /* stopped encrypting then (0: has not) */
    struct tk_key    key;
};

#define TK_MAGIC  "pfticket"
#define TK_LAYOUT 1

/* The shared table.  magic, layout and size let a new master check that
 * the table an old one hands it over (binary upgrade) is one it reads. */
struct tk_store {
    char             magic[8];
    uint32_t         layout;
    uint32_t         size;       /* sizeof(struct tk_store) */
    _Atomic uint32_t current;    /* slot index + 1 of the encrypting key */
    _Atomic uint32_t lifetime_s; /* of a ticket (the rotation period) */
    struct tk_slot   slot[TK_SLOTS];
};

/* An empty table, with its header. */
void tk_store_init(struct tk_store *st);

/* Does st have the header tk_store_init writes, for this layout? */
int tk_store_valid(const struct tk_store *st);

/* Master: write k into a slot (the one holding its name already, else a
 * free one, else the oldest retired key's) without making it current.
 * Returns the slot's index; -1 when every slot holds a pinned or current
 * key (cannot happen with at most TK_FILES_MAX files). */
int tk_store_put(struct tk_store *st, const struct tk_key *k, int pinned);

/* Master: make slot i the one new tickets are encrypted with; the key
 * it replaces is retired at now (a pinned one stays pinned). */
void tk_store_publish(struct tk_store *st, int i, int64_t now);

/* Master: is a new key due (none yet, or the current one, not pinned, is
 * period_ms old)? */
int tk_store_due(const struct tk_store *st, int64_t now, long long period_ms);

/* Master: free the keys retired at least lifetime_ms ago, whose tickets
 * have all expired.  Returns how many. */
int tk_store_expire(struct tk_store *st, int64_t now, long long lifetime_ms);

/* Master: the pinned keys (tls_ticket_key_file) become ordinary keys
 * retired at now, expiring like the rest. */
void tk_store_unpin(struct tk_store *st, int64_t now);

/* How many slots hold a key. */
int tk_store_count(const struct tk_store *st);

/* Any process: copy the current key into out.  Returns 0, or -1 when
 * there is none (or the master is writing it: try again later). */
int tk_store_current(const struct tk_store *st, struct tk_key *out);

/* Any process: copy the key named name into out.  Returns 1 when it is
 * the current key, 2 when it is an older one (tickets it made are to be
 * renewed), 0 when no key has that name. */
int tk_store_find(const struct tk_store *st, const unsigned char *name,
                  struct tk_key *out);

#endif
