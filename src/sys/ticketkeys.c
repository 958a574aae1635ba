/*
 * ticketkeys.c -- the keys that encrypt TLS session tickets (ticketkeys.h):
 * the master's shared table, its rotation and hand-over, and the OpenSSL
 * callback every worker's contexts encrypt and decrypt tickets with.
 *
 * The table is process-wide state rather than something passed: OpenSSL
 * calls the ticket callback with the SSL and no argument of ours, and
 * ticketkeys_attach() is all a context's maker knows of it.  Each
 * process has one mapping of it, set up once (master) or inherited
 * (worker), as log.c has one error log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "clock.h"
#include "log.h"
#include "ticketfile.h"
#include "ticketkeys.h"
#include "ticketstore.h"

#define ENV_FD "PREFORK_TICKET_KEYS_FD"

static struct {
    struct tk_store *st; /* NULL before ticketkeys_open (and in -t) */
    int              fd; /* the master's memfd; -1 in a worker */
    long long        period_ms;
    int              from_files; /* tls_ticket_key_file: no rotation */
    int              used;       /* a service speaks TLS */
} tk = {NULL, -1, 0, 0, 0};

/* --- the table: made, or taken from an old master ------------------------- */

static struct tk_store *map_fd(int fd)
{
    void *p = mmap(NULL, sizeof(struct tk_store), PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, 0);

    if (p == MAP_FAILED)
        return NULL;
    /* Secrets: keep them out of core dumps (best effort). */
    (void)madvise(p, sizeof(struct tk_store), MADV_DONTDUMP);
    return p;
}

static int create_table(void)
{
    int fd =
        memfd_create("prefork-ticket-keys", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd == -1) {
        log_syserr(NULL, "TLS ticket keys: memfd_create");
        return -1;
    }
    /* Its size is fixed for every process that maps it, the next master's
     * too: a mapping past the end of a shrunk file would fault. */
    if (ftruncate(fd, sizeof(struct tk_store)) == -1 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ==
            -1 ||
        (tk.st = map_fd(fd)) == NULL) {
        log_syserr(NULL, "TLS ticket keys: shared memory");
        close(fd);
        return -1;
    }
    tk_store_init(tk.st);
    tk.fd = fd;
    return 0;
}

/* The descriptor an old master named in ENV_FD, mapped.  Returns 1 when
 * taken, 0 when there is none or it cannot be used (logged: tickets from
 * before the upgrade will need a full handshake). */
static int inherit_table(void)
{
    const char *v = getenv(ENV_FD);
    struct stat st;
    char       *end;
    long        fd;

    if (v == NULL)
        return 0;
    errno = 0;
    fd = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || fd < 3 || fd > 1 << 30 ||
        fcntl((int)fd, F_SETFD, FD_CLOEXEC) == -1) {
        log_error(NULL,
                  "%s=%s: not an open descriptor; new ticket keys are "
                  "made, and sessions from before the upgrade begin anew",
                  ENV_FD, v);
        return 0;
    }
    if (fstat((int)fd, &st) == -1 ||
        st.st_size != (off_t)sizeof(struct tk_store) ||
        (tk.st = map_fd((int)fd)) == NULL || !tk_store_valid(tk.st)) {
        log_error(NULL,
                  "%s: not the ticket key table of a prefork of this "
                  "version; new keys are made, and sessions from "
                  "before the upgrade begin anew",
                  ENV_FD);
        if (tk.st != NULL)
            munmap(tk.st, sizeof(struct tk_store));
        tk.st = NULL;
        close((int)fd);
        return 0;
    }
    tk.fd = (int)fd;
    log_info(NULL, "TLS ticket keys: %d taken from the old master",
             tk_store_count(tk.st));
    return 1;
}

int ticketkeys_open(void)
{
    int rc = 0;

    if (tk.st == NULL && !inherit_table())
        rc = create_table();
    unsetenv(ENV_FD);
    return rc;
}

int ticketkeys_export(void)
{
    char num[32];

    if (tk.fd == -1)
        return 0;
    if (fcntl(tk.fd, F_SETFD, 0) == -1)
        return -1;
    snprintf(num, sizeof(num), "%d", tk.fd);
    return setenv(ENV_FD, num, 1);
}

void ticketkeys_worker(void)
{
    if (tk.fd != -1)
        close(tk.fd);
    tk.fd = -1;
    /* A worker only reads; one that is compromised cannot plant a key. */
    if (tk.st != NULL && mprotect(tk.st, sizeof(*tk.st), PROT_READ) == -1)
        log_syswarn(NULL, "TLS ticket keys: mprotect");
}

void ticketkeys_close(void)
{
    if (tk.st != NULL)
        munmap(tk.st, sizeof(*tk.st));
    if (tk.fd != -1)
        close(tk.fd);
    tk.st = NULL;
    tk.fd = -1;
}

/* --- the master's keys ----------------------------------------------------- */

/* The first bytes of a key's name, for log lines: enough to tell keys
 * apart, nothing that helps an attacker. */
static const char *short_name(const struct tk_key *k, char buf[9])
{
    snprintf(buf, 9, "%02x%02x%02x%02x", k->name[0], k->name[1], k->name[2],
             k->name[3]);
    return buf;
}

/* A new random key, made current.  Returns 0 or -1 (logged). */
static int rotate(int64_t now)
{
    struct tk_key k = {.secret_len = TK_SECRET_MAX, .created_ms = now};
    char          nm[9];
    int           i;

    if (RAND_bytes(k.name, sizeof(k.name)) != 1 ||
        RAND_bytes(k.hmac, sizeof(k.hmac)) != 1 ||
        RAND_bytes(k.aes, sizeof(k.aes)) != 1) {
        log_error(NULL, "TLS ticket keys: RAND_bytes failed; the current "
                        "key stays");
        OPENSSL_cleanse(&k, sizeof(k));
        return -1;
    }
    i = tk_store_put(tk.st, &k, 0);
    if (i >= 0)
        tk_store_publish(tk.st, i, now);
    log_info(NULL, "TLS ticket keys: new key %s, %d kept for decrypting",
             short_name(&k, nm), tk_store_count(tk.st) - 1);
    OPENSSL_cleanse(&k, sizeof(k));
    return i >= 0 ? 0 : -1;
}

static int use_files(const char *files, const char *dir, int64_t now)
{
    struct tk_key keys[TK_FILES_MAX];
    char          err[512];
    size_t        n, i;
    int           first = -1, rc = 0;

    if (ticketfile_load(files, dir, keys, &n, now, err, sizeof(err)) == -1) {
        log_error(NULL, "tls_ticket_key_file: %s; the keys in use stay", err);
        return -1;
    }
    tk_store_unpin(tk.st, now);
    /* The first file's key encrypts: it goes in last, so that the ones it
     * replaces are all there to decrypt by the time it is published. */
    for (i = n; i-- > 0;) {
        int slot = tk_store_put(tk.st, &keys[i], 1);
        if (slot == -1)
            rc = -1;
        if (i == 0)
            first = slot;
    }
    if (first >= 0)
        tk_store_publish(tk.st, first, now);
    OPENSSL_cleanse(keys, sizeof(keys));
    if (rc == -1)
        log_error(NULL, "tls_ticket_key_file: no room for every key");
    else
        log_info(NULL,
                 "TLS ticket keys: %zu from tls_ticket_key_file, not "
                 "rotated",
                 n);
    return rc;
}

/* Tickets made from now live rotation_ms (on_new_ticket). */
static void set_lifetime(long long rotation_ms)
{
    uint32_t s = (uint32_t)(rotation_ms < 1000 ? 1 : rotation_ms / 1000);

    if (tk.st != NULL)
        atomic_store_explicit(&tk.st->lifetime_s, s, memory_order_relaxed);
}

int ticketkeys_configure(long long rotation_ms, const char *files,
                         const char *dir, int used)
{
    int64_t now = mono_ms();
    int     was_files = tk.from_files;

    tk.used = used;
    if (tk.st == NULL || !used)
        return 0;
    tk.period_ms = rotation_ms;
    set_lifetime(rotation_ms);
    if (files != NULL) {
        if (use_files(files, dir, now) == -1)
            return -1;
        tk.from_files = 1;
        return 0;
    }
    tk.from_files = 0;
    if (was_files) {
        tk_store_unpin(tk.st, now);
        return rotate(now);
    }
    if (tk_store_due(tk.st, now, rotation_ms))
        return rotate(now);
    return 0;
}

void ticketkeys_tick(int64_t now)
{
    int n;

    if (tk.st == NULL || tk.period_ms <= 0)
        return;
    if (tk.used && !tk.from_files && tk_store_due(tk.st, now, tk.period_ms))
        (void)rotate(now);
    n = tk_store_expire(tk.st, now, tk.period_ms);
    if (n > 0)
        log_debug(NULL, "TLS ticket keys: %d expired", n);
}

/* --- OpenSSL's side: every handshake that makes or shows a ticket ---------- */

/* Set up ectx and hctx for k; 0 or -1. */
static int key_init(const struct tk_key *k, unsigned char *iv,
                    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
    const EVP_CIPHER *cipher =
        k->secret_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
                                          k->secret_len),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    if (enc)
        return EVP_EncryptInit_ex(ectx, cipher, NULL, k->aes, iv) == 1 ? 0 : -1;
    return EVP_DecryptInit_ex(ectx, cipher, NULL, k->aes, iv) == 1 ? 0 : -1;
}

/*
 * OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb), for
 * TLS 1.2 tickets and TLS 1.3's stateless ones alike.  Encrypting: the
 * current key; 0 (no ticket) when there is none.  Decrypting: the key of
 * that name, 1 when it is current, 2 when it is older (the client gets a
 * new ticket under the current key), 0 when it is gone (a full
 * handshake).  -1 only when OpenSSL itself fails.
 */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
                     EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
    struct tk_key k;
    int           rc;

    if (tk.st == NULL)
        return 0;
    if (enc) {
        if (tk_store_current(tk.st, &k) == -1)
            return 0;
        rc = 1;
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
            rc = -1;
        else
            memcpy(name, k.name, TK_NAME_LEN);
    } else {
        rc = tk_store_find(tk.st, name, &k);
        if (rc == 0)
            return 0;
        /* TLS 1.3: a client uses a ticket once (RFC 8446, C.4), and
         * OpenSSL sends a new one after a resumption only when asked to
         * renew: without it, every other connection is a full handshake. */
        if (SSL_version(ssl) >= TLS1_3_VERSION)
            rc = 2;
    }
    if (rc > 0 && key_init(&k, iv, ectx, hctx, enc) == -1)
        rc = -1;
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

/*
 * Called by OpenSSL just before it encodes a session into a new ticket
 * (SSL_CTX_set_session_ticket_cb): the session, so its ticket, lives as
 * long as the table's current lifetime.  Read here rather than given to
 * the context when it is made, because contexts are made as a
 * configuration is read, before the master has the table (at start) or
 * has taken that configuration's lifetime (on reload).
 */
static int on_new_ticket(SSL *ssl, void *arg)
{
    SSL_SESSION *sess = SSL_get_session(ssl);
    uint32_t     lifetime;

    (void)arg;
    if (tk.st == NULL || sess == NULL)
        return 1;
    lifetime = atomic_load_explicit(&tk.st->lifetime_s, memory_order_relaxed);
    if (lifetime > 0)
        (void)SSL_SESSION_set_timeout(sess, (long)lifetime);
    return 1;
}

int ticketkeys_attach(SSL_CTX *ctx)
{
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1 ||
        SSL_CTX_set_session_ticket_cb(ctx, on_new_ticket, NULL, NULL) != 1) {
        log_error(NULL, "TLS: cannot set the session ticket callbacks");
        return -1;
    }
    return 0;
}
