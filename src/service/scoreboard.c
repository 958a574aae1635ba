/*
 * scoreboard.c -- the shared-memory table of worker slots, and the status
 * file it lives in.
 *
 * One shared mapping made by the master before it forks, so every worker
 * inherits the same pages.  Each field has exactly one writer (the master
 * at fork and after reaping, or the worker in between), so plain atomic
 * stores are enough: no locks, nothing a dying worker could leave held.
 * The state is stored last with release ordering and loaded first with
 * acquire ordering, so a reader that sees a state also sees the fields
 * written before it.  A snapshot is not a transaction: the master may see
 * BUSY with busy_since already back to 0 when the worker finishes while it
 * reads, and must treat that as "not stuck".
 *
 * When the master has a pidfile the mapping is a file beside it (as
 * Apache's ScoreBoardFile), which `prefork -s status` maps read-only
 * (sbread.c).  On a tmpfs such as /run that costs nothing more than
 * anonymous memory; the file is sparse, and only the pages in use are ever
 * allocated.  The master makes it under a temporary name and renames it
 * into place, so that two masters (a binary upgrade) each keep their own
 * file, and at exit removes the name only while it is still its own.
 *
 * The service table changes only when the master publishes a new
 * configuration or reaps a worker; it brackets both with a sequence number
 * (odd while it writes), and a reader in another process copies until it
 * sees the same even number before and after, so the served total never
 * counts a reaped worker twice or not at all.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scoreboard.h"

/* Lock-based atomics would use a lock table private to each process. */
_Static_assert(__atomic_always_lock_free(sizeof(int64_t), 0),
               "the scoreboard needs lock-free 64-bit atomics");
_Static_assert(sizeof(SB_MAGIC) <= sizeof(((struct sb_header *)0)->magic),
               "the magic must fit the header");

#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)

char *scoreboard_path(const char *pidfile)
{
    static const char pid[] = ".pid", status[] = ".status";
    size_t            len = strlen(pidfile), keep = len;
    char             *p;

    if (len >= sizeof(pid) - 1 &&
        strcmp(pidfile + len - (sizeof(pid) - 1), pid) == 0)
        keep = len - (sizeof(pid) - 1);
    p = malloc(keep + sizeof(status));
    if (p == NULL)
        return NULL;
    memcpy(p, pidfile, keep);
    memcpy(p + keep, status, sizeof(status));
    return p;
}

/* --- layout ----------------------------------------------------------------- */

static size_t round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static size_t svc_offset(void)
{
    return round64(sizeof(struct sb_header));
}

static size_t slot_offset(size_t max_services)
{
    return round64(svc_offset() + max_services * sizeof(struct sb_service));
}

size_t scoreboard_map_size(size_t max_services, size_t nslots)
{
    return slot_offset(max_services) + nslots * sizeof(struct slot);
}

void scoreboard_view(struct scoreboard *sb, void *base, size_t max_services,
                     size_t nslots, size_t size)
{
    sb->hdr = base;
    sb->svc = (struct sb_service *)((char *)base + svc_offset());
    sb->slots = (struct slot *)((char *)base + slot_offset(max_services));
    sb->max_services = max_services;
    sb->nslots = nslots;
    sb->size = size;
}

static void header_init(struct sb_header *h, size_t nslots)
{
    struct timespec now;

    memcpy(h->magic, SB_MAGIC, sizeof(SB_MAGIC));
    h->layout = SB_LAYOUT;
    h->header_size = sizeof(struct sb_header);
    h->service_size = sizeof(struct sb_service);
    h->slot_size = sizeof(struct slot);
    h->max_services = SB_MAX_SERVICES;
    h->nslots = (uint32_t)nslots;
    h->master_pid = getpid();
    if (clock_gettime(CLOCK_REALTIME, &now) == 0)
        h->start_time = now.tv_sec;
    h->start_mono_ms = mono_ms();
    snprintf(h->version, sizeof(h->version), "%s", PACKAGE_VERSION);
}

/* --- the master's mapping --------------------------------------------------- */

/* Make the file under a temporary name, size and map it, then rename it
 * over sb->path.  Returns the mapping or MAP_FAILED with errno set. */
static void *file_map(struct scoreboard *sb, size_t size)
{
    struct stat st;
    char       *tmp;
    void       *base = MAP_FAILED;
    int         fd = -1, saved;

    if (asprintf(&tmp, "%s.XXXXXX", sb->path) == -1)
        return MAP_FAILED;
    fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, never someone else's file */
    if (fd == -1)
        goto fail;
    /* Readable by anyone who may run `prefork -s status`. */
    if (fchmod(fd, 0644) == -1 || ftruncate(fd, (off_t)size) == -1 ||
        fstat(fd, &st) == -1)
        goto fail;
    base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        goto fail;
    /* Whole before it has its name: a reader never sees a blank header. */
    header_init(base, sb->nslots);
    if (rename(tmp, sb->path) == -1)
        goto fail;
    sb->dev = st.st_dev;
    sb->ino = st.st_ino;
    close(fd);
    free(tmp);
    return base;
fail:
    saved = errno;
    if (base != MAP_FAILED)
        munmap(base, size);
    if (fd != -1) {
        unlink(tmp);
        close(fd);
    }
    free(tmp);
    errno = saved;
    return MAP_FAILED;
}

/* The header this process mapped (inherited by its workers), for
 * scoreboard_stopping(), and the whole view, for scoreboard_self(). */
static struct sb_header        *own_header;
static const struct scoreboard *own_board;

const struct scoreboard *scoreboard_self(void)
{
    return own_board;
}

void scoreboard_set_stopping(struct scoreboard *sb, int on)
{
    STORE(&sb->hdr->stopping, on ? 1u : 0u);
}

int scoreboard_stopping(void)
{
    return own_header != NULL && LOAD(&own_header->stopping) != 0;
}

struct scoreboard *scoreboard_create(const char *pidfile, size_t n)
{
    struct scoreboard *sb;
    size_t             size;
    void              *base;

    if (n == 0 || n > UINT32_MAX ||
        n > (SIZE_MAX - slot_offset(SB_MAX_SERVICES)) / sizeof(struct slot)) {
        errno = EINVAL;
        return NULL;
    }
    size = scoreboard_map_size(SB_MAX_SERVICES, n);
    sb = calloc(1, sizeof(*sb));
    if (sb == NULL)
        return NULL;
    sb->nslots = n;
    base = MAP_FAILED;
    if (pidfile != NULL) {
        if ((sb->path = scoreboard_path(pidfile)) == NULL)
            goto fail;
        base = file_map(sb, size);
        /* The status file is for looking, not for serving: without it
         * the master runs as it would without a pidfile. */
        if (base == MAP_FAILED) {
            log_syswarn(NULL,
                        "cannot create the status file %s; "
                        "`prefork -s status` will not work",
                        sb->path);
            free(sb->path);
            sb->path = NULL;
        }
    }
    if (base == MAP_FAILED) {
        /* Anonymous pages come zeroed: every slot starts SLOT_FREE. */
        base = mmap(NULL, size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            goto fail;
        header_init(base, n);
    }
    scoreboard_view(sb, base, SB_MAX_SERVICES, n, size);
    own_header = sb->hdr;
    own_board = sb;
    return sb;
fail:
    free(sb->path);
    free(sb);
    return NULL;
}

/* Remove the status file if its name is still ours: after a binary
 * upgrade it names the new master's file, which must stay. */
static void file_remove(const struct scoreboard *sb)
{
    struct stat st;

    if (stat(sb->path, &st) == -1 || st.st_dev != sb->dev ||
        st.st_ino != sb->ino)
        return;
    if (unlink(sb->path) == -1 && errno != ENOENT)
        log_syswarn(NULL, "cannot remove status file %s", sb->path);
}

void scoreboard_destroy(struct scoreboard *sb)
{
    if (sb == NULL)
        return;
    if (sb->path != NULL)
        file_remove(sb);
    if (sb->hdr == own_header) {
        own_header = NULL;
        own_board = NULL;
    }
    if (sb->hdr != NULL)
        (void)munmap(sb->hdr, sb->size);
    free(sb->path);
    free(sb);
}

int scoreboard_rename(struct scoreboard *sb, const char *pidfile)
{
    char *to;

    if (sb->path == NULL)
        return 0;
    if ((to = scoreboard_path(pidfile)) == NULL)
        return -1;
    if (strcmp(to, sb->path) != 0 && rename(sb->path, to) == -1) {
        free(to);
        return -1;
    }
    free(sb->path);
    sb->path = to;
    return 0;
}

/* --- the service table (master) ---------------------------------------- */

/* to += what from counts, as the master folds a reaped worker's slot or a
 * reloaded-away entry into a service's totals. */
static void counters_add(struct sb_counters *to, const struct sb_counters *from)
{
    uint64_t       *t = (uint64_t *)(void *)to;
    const uint64_t *f = (const uint64_t *)(const void *)from;

    for (size_t i = 0; i < SB_COUNTERS; i++)
        STORE(&t[i], t[i] + LOAD(&f[i]));
}

/* What an entry carries over to the entry that replaces it: what exited
 * workers served and counted, and the deaths and respawns. */
static void totals_add(struct sb_service *to, const struct sb_service *from)
{
    to->exited_served += from->exited_served;
    counters_add(&to->exited, &from->exited);
    for (size_t r = 0; r < SB_NDEATH_REASONS; r++)
        to->deaths[r] += from->deaths[r];
    to->respawns += from->respawns;
}

static void seq_begin(struct sb_header *h)
{
    STORE(&h->seq, h->seq + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void seq_end(struct sb_header *h)
{
    __atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
}

struct sb_service *scoreboard_find(struct scoreboard *sb, uint32_t id)
{
    for (uint32_t i = 0; i < sb->hdr->nservices; i++)
        if (sb->svc[i].id == id)
            return &sb->svc[i];
    return NULL;
}

/* Copy s into dst, cut short of cap at a UTF-8 character boundary. */
static void copy_text(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);

    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* The listen addresses of d, one per line, as many as fit. */
static void listen_text(char *dst, size_t cap, const struct sb_service_desc *d)
{
    size_t used = 0;

    dst[0] = '\0';
    for (size_t i = 0; i < d->nlisten; i++) {
        const char *a = d->listen[i];
        size_t      need = strlen(a) + (used > 0);

        if (used + need >= cap)
            break;
        used += (size_t)snprintf(dst + used, cap - used, "%s%s",
                                 used > 0 ? "\n" : "", a);
    }
}

static void entry_fill(struct sb_service *e, const struct sb_service_desc *d)
{
    memset(e, 0, sizeof(*e));
    e->id = d->id;
    e->flags = SB_SVC_CURRENT;
    e->target = d->target;
    copy_text(e->mode, sizeof(e->mode), d->mode);
    copy_text(e->name, sizeof(e->name), d->name);
    listen_text(e->listen, sizeof(e->listen), d);
    e->sandbox = d->sandbox;
}

static int has_workers(const struct scoreboard *sb, uint32_t id)
{
    struct slot snap;

    for (size_t i = 0; i < sb->nslots; i++) {
        slot_read(&sb->slots[i], &snap);
        if (snap.state != SLOT_FREE && snap.service == id)
            return 1;
    }
    return 0;
}

static struct sb_service *find_name(struct sb_service *v, size_t n,
                                    const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

void scoreboard_set_services(struct scoreboard            *sb,
                             const struct sb_service_desc *v, size_t nv)
{
    struct sb_header  *h = sb->hdr;
    struct sb_service *next, *same;
    size_t             n = 0, ncur, i;

    next = calloc(SB_MAX_SERVICES, sizeof(*next));
    if (next == NULL) {
        log_error(NULL, "out of memory: the status file keeps the old "
                        "list of services");
        return;
    }
    for (i = 0; i < nv && n < SB_MAX_SERVICES; i++)
        entry_fill(&next[n++], &v[i]);
    if (i < nv)
        log_warn(NULL, "the status file lists the first %d services only",
                 SB_MAX_SERVICES);
    ncur = n;
    /* Services reloaded away stay listed while their workers drain; once
     * gone, their count goes to the service that took their name. */
    for (i = 0; i < h->nservices; i++) {
        const struct sb_service *old = &sb->svc[i];
        size_t                   k;

        for (k = 0; k < ncur && next[k].id != old->id; k++)
            ;
        if (k < ncur) { /* the same service, published again */
            totals_add(&next[k], old);
            memcpy(next[k].queues, old->queues, sizeof(old->queues));
            next[k].nqueues = old->nqueues;
            next[k].backoff_ms = old->backoff_ms;
            continue;
        }
        if (n < SB_MAX_SERVICES && has_workers(sb, old->id)) {
            next[n] = *old;
            next[n++].flags &= ~SB_SVC_CURRENT;
        } else if ((same = find_name(next, ncur, old->name)) != NULL) {
            totals_add(same, old);
        }
    }
    seq_begin(h);
    memcpy(sb->svc, next, n * sizeof(*next));
    h->nservices = (uint32_t)n;
    h->master_pid = getpid(); /* after daemonize, the final process */
    seq_end(h);
    free(next);
}

void scoreboard_set_target(struct scoreboard *sb, uint32_t id, int target)
{
    struct sb_service *e = scoreboard_find(sb, id);

    if (e != NULL && LOAD(&e->target) != target)
        STORE(&e->target, target);
}

/* --- slots ------------------------------------------------------------------ */

static void set_state(struct slot *s, int32_t st)
{
    __atomic_store_n(&s->state, st, __ATOMIC_RELEASE);
}

static int32_t get_state(const struct slot *s)
{
    return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
}

int scoreboard_claim(struct scoreboard *sb, uint32_t service)
{
    for (size_t i = 0; i < sb->nslots; i++) {
        struct slot *s = &sb->slots[i];

        if (get_state(s) != SLOT_FREE)
            continue;
        STORE(&s->pid, 0);
        STORE(&s->service, service);
        STORE(&s->served, 0);
        STORE(&s->started_ms, mono_ms());
        STORE(&s->busy_since, 0);
        STORE(&s->open_conns, 0);
        STORE(&s->recycle, 0);
        STORE(&s->tls_handshakes, 0);
        STORE(&s->tls_resumed, 0);
        STORE(&s->tls_failures, 0);
        STORE(&s->fds, 0);
        memset(&s->ctr, 0, sizeof(s->ctr)); /* no worker yet */
        s->peer_len = 0;
        s->request[0] = '\0';
        s->sandbox_syscall[0] = '\0';
        set_state(s, SLOT_STARTING);
        return (int)i;
    }
    return -1;
}

void scoreboard_release(struct scoreboard *sb, int i)
{
    struct sb_service *e;
    struct slot       *s;

    if (i < 0 || (size_t)i >= sb->nslots)
        return;
    s = &sb->slots[i];
    /* The count moves from the slot to its service in one step, as seen
     * by a reader that checks the sequence number. */
    seq_begin(sb->hdr);
    e = scoreboard_find(sb, LOAD(&s->service));
    if (e != NULL) {
        STORE(&e->exited_served, e->exited_served + LOAD(&s->served));
        counters_add(&e->exited, &s->ctr);
    }
    STORE(&s->pid, 0);
    STORE(&s->served, 0);
    STORE(&s->busy_since, 0);
    STORE(&s->open_conns, 0);
    set_state(s, SLOT_FREE);
    seq_end(sb->hdr);
}

void slot_set_pid(struct slot *s, pid_t pid)
{
    STORE(&s->pid, pid);
}

void slot_set_state(struct slot *s, enum slot_state st)
{
    if (st == SLOT_BUSY) {
        slot_busy(s);
        return;
    }
    STORE(&s->busy_since, 0);
    set_state(s, (int32_t)st);
}

void slot_busy(struct slot *s)
{
    slot_busy_at(s, mono_ms());
}

void slot_busy_at(struct slot *s, int64_t now_ms)
{
    STORE(&s->busy_since, now_ms);
    set_state(s, SLOT_BUSY);
}

void slot_set_peer(struct slot *s, const struct sockaddr *sa, socklen_t len)
{
    /* Only the master reads it, once the worker is gone: no atomics. */
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        len = 0;
    if (len > sizeof(s->peer))
        len = sizeof(s->peer);
    if (len > 0)
        memcpy(s->peer, sa, len);
    s->peer_len = len;
}

void slot_set_request(struct slot *s, const char *text, size_t len)
{
    size_t i;

    /* As the peer: read by the master once the worker is gone. */
    if (len >= sizeof(s->request))
        len = sizeof(s->request) - 1;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        s->request[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    s->request[len] = '\0';
}

void scoreboard_set_reload(struct scoreboard *sb, unsigned number,
                           const char *state, const char *reason)
{
    struct sb_header *h = sb->hdr;

    seq_begin(h);
    STORE(&h->reload_generation, (uint32_t)number);
    snprintf(h->reload_state, sizeof(h->reload_state), "%s", state);
    snprintf(h->reload_reason, sizeof(h->reload_reason), "%s",
             reason != NULL ? reason : "");
    seq_end(h);
}

void scoreboard_set_refused(struct scoreboard *sb, const char *by,
                            unsigned errors, const char *reason)
{
    struct sb_header *h = sb->hdr;

    seq_begin(h);
    STORE(&h->refused_time, (int64_t)time(NULL));
    STORE(&h->refused_errors, (uint32_t)errors);
    snprintf(h->refused_by, sizeof(h->refused_by), "%s", by);
    snprintf(h->refused_reason, sizeof(h->refused_reason), "%s", reason);
    seq_end(h);
}

void scoreboard_add_death(struct scoreboard *sb, const char *json)
{
    struct sb_header *h = sb->hdr;
    char             *e = h->deaths[h->ndeaths % SB_DEATHS];

    seq_begin(h);
    snprintf(e, SB_DEATH_MAX, "%s", json);
    STORE(&h->ndeaths, h->ndeaths + 1);
    seq_end(h);
}

int slot_peer_string(const struct slot *s, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    char                    host[INET6_ADDRSTRLEN];
    const void             *a;
    unsigned                port;

    if (s->peer_len == 0 || s->peer_len > sizeof(s->peer))
        return -1;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, s->peer, s->peer_len);
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        a = &in->sin_addr;
        port = ntohs(in->sin_port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        a = &in6->sin6_addr;
        port = ntohs(in6->sin6_port);
    }
    if (inet_ntop(ss.ss_family, a, host, sizeof(host)) == NULL)
        return -1;
    snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             port);
    return 0;
}

void slot_done(struct slot *s, int served)
{
    if (served > 0)
        __atomic_fetch_add(&s->served, (uint64_t)served, __ATOMIC_RELAXED);
    STORE(&s->busy_since, 0);
    set_state(s, SLOT_IDLE);
}

void slot_set_conns(struct slot *s, unsigned n)
{
    STORE(&s->open_conns, (uint32_t)n);
}

void slot_want_recycle(struct slot *s)
{
    STORE(&s->recycle, 1);
}

void slot_read(const struct slot *s, struct slot *out)
{
    out->state = get_state(s);
    out->pid = LOAD(&s->pid);
    out->service = LOAD(&s->service);
    out->served = LOAD(&s->served);
    out->started_ms = LOAD(&s->started_ms);
    out->busy_since = LOAD(&s->busy_since);
    out->open_conns = LOAD(&s->open_conns);
    out->recycle = LOAD(&s->recycle);
    out->tls_handshakes = LOAD(&s->tls_handshakes);
    out->tls_resumed = LOAD(&s->tls_resumed);
    out->tls_failures = LOAD(&s->tls_failures);
    out->fds = LOAD(&s->fds);
    slot_read_counters(s, &out->ctr);
    out->peer_len = s->peer_len;
    memcpy(out->peer, s->peer, sizeof(out->peer));
    memcpy(out->request, s->request, sizeof(out->request));
    out->request[sizeof(out->request) - 1] = '\0';
    memcpy(out->sandbox_syscall, s->sandbox_syscall,
           sizeof(out->sandbox_syscall));
    out->sandbox_syscall[sizeof(out->sandbox_syscall) - 1] = '\0';
}
