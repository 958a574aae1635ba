/*
 * ticketkeys.c -- the keys that encrypt TLS session tickets (ticketkeys.h):
 * the master's shared table, its rotation and hand-over, and what the TLS
 * layer's ticket callback (ticketcb.c) reads of it.
 *
 * The table is process-wide state rather than something passed: OpenSSL
 * calls the ticket callback with the SSL and no argument of ours, and
 * ticketkeys_attach() is all a context's maker knows of it.  Each
 * process has one mapping of it, set up once (master) or inherited
 * (worker), as log.c has one error log.  Nothing here calls OpenSSL, so
 * that a server without TLS never maps it: keys come from getrandom(2)
 * and are wiped with explicit_bzero(3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* len random bytes from the kernel's CSPRNG.  0, or -1 with errno. */
static int random_fill(unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A new random key, made current.  Returns 0 or -1 (logged). */
static int rotate(int64_t now)
{
    struct tk_key k = {.secret_len = TK_SECRET_MAX, .created_ms = now};
    char          nm[9];
    int           i;

    if (random_fill(k.name, sizeof(k.name)) == -1 ||
        random_fill(k.hmac, sizeof(k.hmac)) == -1 ||
        random_fill(k.aes, sizeof(k.aes)) == -1) {
        log_syserr(NULL, "TLS ticket keys: getrandom; the current key stays");
        explicit_bzero(&k, sizeof(k));
        return -1;
    }
    i = tk_store_put(tk.st, &k, 0);
    if (i >= 0)
        tk_store_publish(tk.st, i, now);
    log_info(NULL, "TLS ticket keys: new key %s, %d kept for decrypting",
             short_name(&k, nm), tk_store_count(tk.st) - 1);
    explicit_bzero(&k, sizeof(k));
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
    explicit_bzero(keys, sizeof(keys));
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

/* --- what the TLS layer's ticket callback reads (ticketcb.c) -------------- */

int ticketkeys_current(struct tk_key *out)
{
    return tk.st != NULL ? tk_store_current(tk.st, out) : -1;
}

int ticketkeys_find(const unsigned char *name, struct tk_key *out)
{
    return tk.st != NULL ? tk_store_find(tk.st, name, out) : 0;
}

uint32_t ticketkeys_lifetime_s(void)
{
    if (tk.st == NULL)
        return 0;
    return atomic_load_explicit(&tk.st->lifetime_s, memory_order_relaxed);
}
