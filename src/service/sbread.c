/*
 * sbread.c -- another process's view of a master's status file, for
 * `prefork -s status` (scoreboard_open, scoreboard_snapshot: declared in
 * scoreboard.h with the rest of the scoreboard).
 *
 * The file is mapped read-only and trusted no further than its header
 * says: a magic, a layout number and the sizes of each part, all checked
 * against this version's before anything else is read.  The service table
 * is copied until the master's sequence number is the same, and even,
 * before and after, so a copy never holds half a rewrite; every string in
 * it is cut to its field.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "scoreboard.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* How often a reader tries to copy the table while the master writes it:
 * a rewrite takes microseconds, so a thousand 1 ms naps is plenty. */
#define SNAPSHOT_TRIES 1000

/* Is the header one this version lays out the same way, and does the file
 * hold all it announces?  Returns 0, or -1 with the reason in err. */
static int header_check(const struct sb_header *h, size_t fsize,
                        const char *path, char *err, size_t errlen)
{
    if (memcmp(h->magic, SB_MAGIC, sizeof(SB_MAGIC)) != 0) {
        errbuf_set(err, errlen, "%s: not a prefork status file", path);
        return -1;
    }
    if (h->layout != SB_LAYOUT || h->header_size != sizeof(struct sb_header) ||
        h->service_size != sizeof(struct sb_service) ||
        h->slot_size != sizeof(struct slot)) {
        errbuf_set(err, errlen,
                   "%s: status file layout %u, this prefork " PACKAGE_VERSION
                   " reads layout %u (is the master another version?)",
                   path, (unsigned)h->layout, (unsigned)SB_LAYOUT);
        return -1;
    }
    if (h->max_services > SB_MAX_SERVICES || h->nslots == 0 ||
        scoreboard_map_size(h->max_services, h->nslots) > fsize) {
        errbuf_set(err, errlen, "%s: status file is damaged", path);
        return -1;
    }
    return 0;
}

struct scoreboard *scoreboard_open(const char *path, char *err, size_t errlen)
{
    struct scoreboard *sb = NULL;
    struct sb_header   h;
    struct stat        st;
    void              *base = MAP_FAILED;
    int                fd;

    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        errbuf_set(err, errlen, "%s: %s", path,
                   errno == ENOENT
                       ? "no such file (the master keeps none: is it "
                         "another version, or was the file removed?)"
                       : strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) == -1) {
        errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if ((size_t)st.st_size < sizeof(h)) {
        errbuf_set(err, errlen, "%s: not a prefork status file", path);
        goto fail;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        errbuf_set(err, errlen, "%s: mmap: %s", path, strerror(errno));
        goto fail;
    }
    memcpy(&h, base, sizeof(h));
    if (header_check(&h, (size_t)st.st_size, path, err, errlen) == -1)
        goto fail;
    if ((sb = calloc(1, sizeof(*sb))) == NULL) {
        errbuf_set(err, errlen, "out of memory");
        goto fail;
    }
    scoreboard_view(sb, base, h.max_services, h.nslots, (size_t)st.st_size);
    close(fd);
    return sb;
fail:
    if (base != MAP_FAILED)
        munmap(base, (size_t)st.st_size);
    close(fd);
    return NULL;
}

/* One attempt: 1 when the copy is consistent. */
static int snapshot_once(const struct scoreboard *sb, struct sb_snapshot *out)
{
    const struct sb_header *h = sb->hdr;
    uint32_t                seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
    size_t                  n;

    if (seq & 1)
        return 0;
    n = LOAD(&h->nservices);
    if (n > sb->max_services)
        return 0;
    out->master_pid = (pid_t)LOAD(&h->master_pid);
    out->start_time = LOAD(&h->start_time);
    out->start_mono_ms = LOAD(&h->start_mono_ms);
    memcpy(out->version, h->version, sizeof(out->version));
    out->version[sizeof(out->version) - 1] = '\0';
    memcpy(out->svc, sb->svc, n * sizeof(*out->svc));
    out->nsvc = n;
    for (size_t i = 0; i < sb->nslots; i++)
        slot_read(&sb->slots[i], &out->slots[i]);
    out->nslots = sb->nslots;
    n = LOAD(&h->ndeaths);
    out->ndeaths = n < SB_DEATHS ? n : SB_DEATHS;
    for (size_t i = 0; i < out->ndeaths; i++) {
        memcpy(out->deaths[i], h->deaths[(n - 1 - i) % SB_DEATHS],
               SB_DEATH_MAX);
        out->deaths[i][SB_DEATH_MAX - 1] = '\0';
    }
    out->reload_generation = LOAD(&h->reload_generation);
    memcpy(out->reload_state, h->reload_state, SB_STATE_MAX);
    out->reload_state[SB_STATE_MAX - 1] = '\0';
    memcpy(out->reload_reason, h->reload_reason, SB_REASON_MAX);
    out->reload_reason[SB_REASON_MAX - 1] = '\0';
    out->refused_time = LOAD(&h->refused_time);
    out->refused_errors = LOAD(&h->refused_errors);
    memcpy(out->refused_by, h->refused_by, sizeof(out->refused_by));
    out->refused_by[sizeof(out->refused_by) - 1] = '\0';
    memcpy(out->refused_reason, h->refused_reason, SB_REFUSED_MAX);
    out->refused_reason[SB_REFUSED_MAX - 1] = '\0';
    for (size_t i = 0; i < SB_NRELOAD_OUTCOMES; i++)
        out->reloads[i] = LOAD(&h->reloads[i]);
    out->generation = LOAD(&h->generation);
    out->master_fds = LOAD(&h->master_fds);
    out->fd_limit = LOAD(&h->fd_limit);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return LOAD(&h->seq) == seq;
}

int scoreboard_snapshot(const struct scoreboard *sb, struct sb_snapshot *out,
                        char *err, size_t errlen)
{
    struct timespec nap = {0, 1000000};

    memset(out, 0, sizeof(*out));
    out->svc = calloc(SB_MAX_SERVICES, sizeof(*out->svc));
    out->slots = calloc(sb->nslots, sizeof(*out->slots));
    if (out->svc == NULL || out->slots == NULL) {
        errbuf_set(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < SNAPSHOT_TRIES; i++) {
        if (snapshot_once(sb, out)) {
            /* The file is another process's: trust no string in it. */
            for (size_t k = 0; k < out->nsvc; k++) {
                struct sb_service *e = &out->svc[k];

                e->mode[sizeof(e->mode) - 1] = '\0';
                e->name[sizeof(e->name) - 1] = '\0';
                e->listen[sizeof(e->listen) - 1] = '\0';
            }
            return 0;
        }
        nanosleep(&nap, NULL);
    }
    errbuf_set(err, errlen, "the master kept rewriting the status file");
fail:
    scoreboard_snapshot_free(out);
    return -1;
}

void scoreboard_snapshot_free(struct sb_snapshot *snap)
{
    free(snap->svc);
    free(snap->slots);
    snap->svc = NULL;
    snap->slots = NULL;
    snap->nsvc = snap->nslots = 0;
}

/*
 * Written from outside the master, so not under its sequence number (two
 * writers would break it): the text goes first and the time, which makes
 * the record shown, last.  A reader that copies it in between sees the
 * previous record's time with the new text, at worst.
 */
int scoreboard_note_refused(const char *path, const char *by, unsigned errors,
                            const char *reason, char *err, size_t errlen)
{
    struct sb_header h;
    struct stat      st;
    int64_t          now = (int64_t)time(NULL);
    uint32_t         n = errors;
    int              fd, rc = -1;

    do
        fd = open(path, O_RDWR | O_CLOEXEC);
    while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == -1 ||
        pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
        errbuf_set(err, errlen, "%s: not a prefork status file", path);
        goto done;
    }
    if (header_check(&h, (size_t)st.st_size, path, err, errlen) == -1)
        goto done;
    memset(h.refused_by, 0, sizeof(h.refused_by));
    memset(h.refused_reason, 0, sizeof(h.refused_reason));
    snprintf(h.refused_by, sizeof(h.refused_by), "%s", by);
    snprintf(h.refused_reason, sizeof(h.refused_reason), "%s", reason);
    if (pwrite(fd, h.refused_by, sizeof(h.refused_by),
               offsetof(struct sb_header, refused_by)) == -1 ||
        pwrite(fd, h.refused_reason, sizeof(h.refused_reason),
               offsetof(struct sb_header, refused_reason)) == -1 ||
        pwrite(fd, &n, sizeof(n), offsetof(struct sb_header, refused_errors)) ==
            -1 ||
        pwrite(fd, &now, sizeof(now),
               offsetof(struct sb_header, refused_time)) == -1) {
        errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    close(fd);
    return rc;
}

int sb_same_name(const struct sb_snapshot *snap, size_t i, size_t j)
{
    return strcmp(snap->svc[i].name, snap->svc[j].name) == 0;
}

int sb_in_group(const struct sb_snapshot *snap, size_t g, const struct slot *s)
{
    if (s->state == SLOT_FREE)
        return 0;
    for (size_t i = g; i < snap->nsvc; i++)
        if (snap->svc[i].id == s->service && sb_same_name(snap, g, i))
            return 1;
    return 0;
}
