/*
 * test_scoreboard.c -- worker slots in shared memory.
 *
 * Claiming and releasing slots, per-service counts, the state changes a
 * worker makes, and the point of it all: a forked child's writes are seen
 * by the parent, both while the child runs and after it has exited.  Then
 * the status file: where it goes, who removes it, what a reader refuses,
 * and the service table across reaps and reloads.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scoreboard.h"

static struct slot snap(const struct scoreboard *sb, int i)
{
    struct slot s;

    slot_read(&sb->slots[i], &s);
    return s;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

Test(scoreboard, refuses_zero_slots)
{
    errno = 0;
    cr_expect_null(scoreboard_create(NULL, 0));
    cr_expect_eq(errno, EINVAL);
}

Test(scoreboard, mono_ms_moves_forward)
{
    int64_t t0 = mono_ms(), t1;

    cr_expect_gt(t0, 0);
    sleep_ms(30);
    t1 = mono_ms();
    cr_expect_geq(t1 - t0, 29, "slept 30 ms, clock moved %lld",
                  (long long)(t1 - t0));
    cr_expect_lt(t1 - t0, 5000);
}

Test(scoreboard, claims_until_full_and_reuses_released_slots)
{
    struct scoreboard *sb = scoreboard_create(NULL, 3);
    int64_t            before = mono_ms();
    int                seen[3] = {0};

    cr_assert_not_null(sb);
    cr_expect_eq(sb->nslots, 3);
    for (int k = 0; k < 3; k++) {
        int         i = scoreboard_claim(sb, 7);
        struct slot s;

        cr_assert(i >= 0 && i < 3, "claim %d gave %d", k, i);
        cr_expect_eq(seen[i]++, 0, "slot %d handed out twice", i);
        s = snap(sb, i);
        cr_expect_eq(s.state, SLOT_STARTING);
        cr_expect_eq(s.service, 7);
        cr_expect_geq(s.started_ms, before);
        cr_expect_leq(s.started_ms, mono_ms());
    }
    cr_expect_eq(scoreboard_claim(sb, 7), -1, "claimed a fourth of 3 slots");

    scoreboard_release(sb, 1);
    cr_expect_eq(snap(sb, 1).state, SLOT_FREE);
    cr_expect_eq(snap(sb, 1).pid, 0);
    cr_expect_eq(scoreboard_claim(sb, 9), 1);
    cr_expect_eq(snap(sb, 1).service, 9);
    cr_expect_eq(scoreboard_claim(sb, 9), -1);
    scoreboard_destroy(sb);
}

Test(scoreboard, a_reclaimed_slot_starts_clean)
{
    struct scoreboard *sb = scoreboard_create(NULL, 1);
    struct slot        s;
    int                i;

    cr_assert_not_null(sb);
    i = scoreboard_claim(sb, 1);
    cr_assert_eq(i, 0);
    slot_set_pid(&sb->slots[i], 4242);
    slot_busy(&sb->slots[i]);
    slot_done(&sb->slots[i], 5);
    slot_set_conns(&sb->slots[i], 3);
    slot_busy(&sb->slots[i]);
    scoreboard_release(sb, i);

    cr_assert_eq(scoreboard_claim(sb, 2), 0);
    s = snap(sb, 0);
    cr_expect_eq(s.state, SLOT_STARTING);
    cr_expect_eq(s.pid, 0);
    cr_expect_eq(s.service, 2);
    cr_expect_eq(s.served, 0);
    cr_expect_eq(s.busy_since, 0);
    cr_expect_eq(s.open_conns, 0);
    scoreboard_destroy(sb);
}

Test(scoreboard, state_transitions)
{
    struct scoreboard *sb = scoreboard_create(NULL, 2);
    struct slot       *w;
    struct slot        s;
    int64_t            before;
    int                i;

    cr_assert_not_null(sb);
    i = scoreboard_claim(sb, 0);
    cr_assert_geq(i, 0);
    w = &sb->slots[i];

    slot_set_state(w, SLOT_IDLE);
    cr_expect_eq(snap(sb, i).state, SLOT_IDLE);
    cr_expect_eq(snap(sb, i).busy_since, 0);

    before = mono_ms();
    slot_busy(w);
    s = snap(sb, i);
    cr_expect_eq(s.state, SLOT_BUSY);
    cr_expect_geq(s.busy_since, before);
    cr_expect_leq(s.busy_since, mono_ms());

    slot_done(w, 3);
    s = snap(sb, i);
    cr_expect_eq(s.state, SLOT_IDLE);
    cr_expect_eq(s.busy_since, 0);
    cr_expect_eq(s.served, 3);

    slot_busy(w);
    slot_done(w, 2);
    slot_busy(w);
    slot_done(w, 0);
    cr_expect_eq(snap(sb, i).served, 5);

    /* BUSY through slot_set_state stamps the time like slot_busy. */
    before = mono_ms();
    slot_set_state(w, SLOT_BUSY);
    cr_expect_geq(snap(sb, i).busy_since, before);
    slot_set_state(w, SLOT_EXITING);
    s = snap(sb, i);
    cr_expect_eq(s.state, SLOT_EXITING);
    cr_expect_eq(s.busy_since, 0, "busy_since kept after leaving BUSY");

    slot_set_conns(w, 12);
    cr_expect_eq(snap(sb, i).open_conns, 12);
    slot_set_conns(w, 0);
    cr_expect_eq(snap(sb, i).open_conns, 0);

    /* The other slot was never touched. */
    cr_expect_eq(snap(sb, 1 - i).state, SLOT_FREE);
    scoreboard_destroy(sb);
}

Test(scoreboard, child_writes_are_seen_after_exit, .timeout = 10)
{
    struct scoreboard *sb = scoreboard_create(NULL, 4);
    struct slot        s;
    pid_t              pid;
    int                i, status;

    cr_assert_not_null(sb);
    i = scoreboard_claim(sb, 3);
    cr_assert_geq(i, 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct slot *me = &sb->slots[i];

        slot_set_state(me, SLOT_IDLE);
        slot_busy(me);
        slot_done(me, 7);
        slot_set_conns(me, 2);
        slot_set_state(me, SLOT_EXITING);
        _exit(0);
    }
    slot_set_pid(&sb->slots[i], pid);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    s = snap(sb, i);
    cr_expect_eq(s.pid, pid);
    cr_expect_eq(s.service, 3);
    cr_expect_eq(s.state, SLOT_EXITING);
    cr_expect_eq(s.served, 7);
    cr_expect_eq(s.open_conns, 2);
    scoreboard_destroy(sb);
}

Test(scoreboard, child_state_is_seen_while_it_runs, .timeout = 10)
{
    struct scoreboard *sb = scoreboard_create(NULL, 2);
    int64_t            deadline;
    pid_t              pid;
    int                i, p[2], status;
    char               go;

    cr_assert_not_null(sb);
    i = scoreboard_claim(sb, 0);
    cr_assert_geq(i, 0);
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(p[1]);
        slot_busy(&sb->slots[i]);
        /* Stay busy until the parent has looked. */
        while (read(p[0], &go, 1) == -1 && errno == EINTR)
            ;
        slot_done(&sb->slots[i], 1);
        _exit(0);
    }
    close(p[0]);

    deadline = mono_ms() + 5000;
    while (snap(sb, i).state != SLOT_BUSY && mono_ms() < deadline)
        sleep_ms(5);
    cr_expect_eq(snap(sb, i).state, SLOT_BUSY, "never saw the child busy");
    cr_expect_gt(snap(sb, i).busy_since, 0);

    cr_assert_eq(write(p[1], "x", 1), 1);
    close(p[1]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect_eq(snap(sb, i).state, SLOT_IDLE);
    cr_expect_eq(snap(sb, i).served, 1);
    scoreboard_destroy(sb);
}

/* --- the status file ------------------------------------------------------ */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pf-sb-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    DIR           *d = opendir(tmpdir);
    struct dirent *e;
    char           p[512];

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(tmpdir);
}

static int h_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

static const char *in_tmp(const char *name)
{
    static char p[2][256];
    static int  k;

    k = 1 - k;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static int entries_in_tmpdir(void)
{
    DIR           *d = opendir(tmpdir);
    struct dirent *e;
    int            n = 0;

    while (d != NULL && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return n;
}

/* Services as the master describes them, from names and listen
 * addresses ("a|b" for two). */
struct fake_gen {
    struct sb_service_desc d[4];
    char                   addr[4][3][128];
    const char            *listen[4][3];
    size_t                 n;
};

static void fake_add(struct fake_gen *f, uint32_t id, const char *name,
                     const char *listen, int target)
{
    size_t                  i = f->n++;
    struct sb_service_desc *d = &f->d[i];
    const char             *p = listen;

    cr_assert_lt(i, 4);
    d->name = name;
    d->mode = "prefork";
    d->listen = f->listen[i];
    while (*p != '\0' && d->nlisten < 3) {
        const char *bar = strchr(p, '|');
        size_t      len = bar != NULL ? (size_t)(bar - p) : strlen(p);

        snprintf(f->addr[i][d->nlisten], sizeof f->addr[i][0], "%.*s", (int)len,
                 p);
        f->listen[i][d->nlisten] = f->addr[i][d->nlisten];
        d->nlisten++;
        p += len + (bar != NULL);
    }
    d->id = id;
    d->target = target;
}

static struct sb_service *entry(struct scoreboard *sb, uint32_t id)
{
    for (uint32_t i = 0; i < sb->hdr->nservices; i++)
        if (sb->svc[i].id == id)
            return &sb->svc[i];
    return NULL;
}

Test(status_file, path_follows_the_pidfile)
{
    static const struct {
        const char *pidfile, *status;
    } cases[] = {
        {"/run/prefork.pid", "/run/prefork.status"},
        {"/run/prefork", "/run/prefork.status"},
        {"/run/x.pid.old", "/run/x.pid.old.status"},
        {"/run/x.PID", "/run/x.PID.status"},
        {"/run/.pid", "/run/.status"},
        {"pid", "pid.status"},
        {"a.pid", "a.status"},
        {"", ".status"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = scoreboard_path(cases[i].pidfile);

        cr_assert_not_null(got);
        cr_expect_str_eq(got, cases[i].status, "pidfile '%s'",
                         cases[i].pidfile);
        free(got);
    }
}

Test(status_file, made_beside_the_pidfile_and_removed_at_exit,
     .init = make_tmpdir, .fini = remove_tmpdir)
{
    struct scoreboard *sb = scoreboard_create(in_tmp("prefork.pid"), 8);
    struct stat        st;

    cr_assert_not_null(sb, "scoreboard_create: %s", strerror(errno));
    cr_assert_eq(stat(in_tmp("prefork.status"), &st), 0,
                 "no status file beside the pidfile");
    cr_expect_eq(st.st_mode & 07777, 0644, "mode %o", st.st_mode & 07777);
    cr_expect_eq(st.st_ino, sb->ino);
    cr_expect_eq(entries_in_tmpdir(), 1, "a temporary file was left behind");
    cr_expect_eq(memcmp(sb->hdr->magic, SB_MAGIC, sizeof SB_MAGIC), 0);
    cr_expect_eq(sb->hdr->layout, SB_LAYOUT);
    cr_expect_eq(sb->hdr->nslots, 8);
    cr_expect_eq(sb->hdr->master_pid, getpid());
    cr_expect_str_eq(sb->hdr->version, PACKAGE_VERSION);
    cr_expect_eq(sb->nslots, 8);
    cr_expect_eq(snap(sb, 7).state, SLOT_FREE);
    scoreboard_destroy(sb);
    cr_expect_neq(stat(in_tmp("prefork.status"), &st), 0,
                  "the status file outlived its master");
}

Test(status_file, no_file_is_no_reason_not_to_serve)
{
    struct scoreboard *sb = scoreboard_create("/nonexistent/dir/p.pid", 2);

    cr_assert_not_null(sb, "a master without its status file did not start");
    cr_expect_null(sb->path);
    cr_expect_geq(scoreboard_claim(sb, 1), 0);
    scoreboard_destroy(sb);
}

Test(status_file, each_master_keeps_its_own_file, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    struct scoreboard *old = scoreboard_create(in_tmp("p.pid"), 4);
    struct scoreboard *new = scoreboard_create(in_tmp("p.pid"), 4);
    struct stat st;
    int         i;

    cr_assert_not_null(old);
    cr_assert_not_null(new);
    cr_assert_eq(stat(in_tmp("p.status"), &st), 0);
    cr_expect_eq(st.st_ino, new->ino, "the newer master does not own the name");
    cr_expect_neq(old->ino, new->ino);
    i = scoreboard_claim(old, 1);
    slot_done(&old->slots[i], 9);
    cr_expect_eq(snap(new, i).state, SLOT_FREE,
                 "the old master wrote into the new one's file");
    scoreboard_destroy(old);
    cr_expect_eq(stat(in_tmp("p.status"), &st), 0,
                 "the old master removed the new one's file");
    scoreboard_destroy(new);
    cr_expect_neq(stat(in_tmp("p.status"), &st), 0);
}

Test(status_file, moves_with_the_pidfile, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    struct scoreboard *old = scoreboard_create(in_tmp("p.pid"), 4), *new;
    struct stat        st;

    cr_assert_not_null(old);
    /* Upgrade: the old master's files become PIDFILE.oldbin(.status)... */
    cr_assert_eq(scoreboard_rename(old, in_tmp("p.pid.oldbin")), 0, "%s",
                 strerror(errno));
    cr_assert_eq(stat(in_tmp("p.pid.oldbin.status"), &st), 0);
    cr_expect_eq(st.st_ino, old->ino);
    cr_expect_neq(stat(in_tmp("p.status"), &st), 0);
    /* ...the new one fails and leaves its file behind... */
    new = scoreboard_create(in_tmp("p.pid"), 4);
    cr_assert_not_null(new);
    free(new->path);
    new->path = NULL; /* as if killed: nothing removed */
    scoreboard_destroy(new);
    /* ...and the old one takes the name back. */
    cr_assert_eq(scoreboard_rename(old, in_tmp("p.pid")), 0);
    cr_assert_eq(stat(in_tmp("p.status"), &st), 0);
    cr_expect_eq(st.st_ino, old->ino);
    cr_expect_eq(entries_in_tmpdir(), 1);
    cr_expect_eq(scoreboard_rename(old, in_tmp("p.pid")), 0, "a no-op");
    scoreboard_destroy(old);
    cr_expect_eq(entries_in_tmpdir(), 0);
}

Test(status_file, reader_refuses_foreign_files, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    struct scoreboard *sb = scoreboard_create(in_tmp("p.pid"), 4), *r;
    const char        *path = in_tmp("p.status");
    char               err[512] = "";

    cr_assert_not_null(sb);
    r = scoreboard_open(path, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    scoreboard_destroy(r);

    sb->hdr->layout = SB_LAYOUT + 1;
    cr_expect_null(scoreboard_open(path, err, sizeof err));
    {
        char theirs[32], ours[32];

        snprintf(theirs, sizeof theirs, "layout %d", SB_LAYOUT + 1);
        snprintf(ours, sizeof ours, "reads layout %d", SB_LAYOUT);
        cr_expect(strstr(err, theirs) != NULL && strstr(err, ours) != NULL,
                  "unclear message: %s", err);
    }
    sb->hdr->layout = SB_LAYOUT;
    sb->hdr->slot_size++;
    cr_expect_null(scoreboard_open(path, err, sizeof err),
                   "a file with other slots was read");
    sb->hdr->slot_size--;
    sb->hdr->magic[0] = 'X';
    cr_expect_null(scoreboard_open(path, err, sizeof err));
    cr_expect(strstr(err, "not a prefork status file") != NULL, "%s", err);
    sb->hdr->magic[0] = SB_MAGIC[0];
    sb->hdr->nslots = 1u << 30;
    cr_expect_null(scoreboard_open(path, err, sizeof err));
    cr_expect(strstr(err, "damaged") != NULL, "%s", err);
    sb->hdr->nslots = 4;
    scoreboard_destroy(sb);

    cr_expect_null(scoreboard_open(path, err, sizeof err));
    cr_expect(strstr(err, "no such file") != NULL, "%s", err);
    cr_assert_eq(h_write(path, "short"), 0);
    cr_expect_null(scoreboard_open(path, err, sizeof err));
    cr_expect(strstr(err, "not a prefork status file") != NULL, "%s", err);
}

Test(status_file, reader_sees_services_and_slots, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    struct fake_gen    f = {0};
    struct scoreboard *sb = scoreboard_create(in_tmp("p.pid"), 4), *r;
    struct sb_snapshot s;
    char               err[512] = "";
    int                i;

    cr_assert_not_null(sb);
    fake_add(&f, 10, "web", "tcp://127.0.0.1:80|tcp://[::1]:80", 3);
    fake_add(&f, 11, "echo", "unix:/tmp/e.sock", 1);
    f.d[1].mode = "threading";
    scoreboard_set_services(sb, f.d, f.n);
    i = scoreboard_claim(sb, 11);
    slot_set_pid(&sb->slots[i], 4321);
    slot_set_state(&sb->slots[i], SLOT_IDLE);
    slot_busy(&sb->slots[i]);

    r = scoreboard_open(in_tmp("p.status"), err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert_eq(scoreboard_snapshot(r, &s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.master_pid, getpid());
    cr_expect_str_eq(s.version, PACKAGE_VERSION);
    cr_assert_eq(s.nsvc, 2);
    cr_expect_str_eq(s.svc[0].name, "web");
    cr_expect_str_eq(s.svc[0].listen, "tcp://127.0.0.1:80\ntcp://[::1]:80");
    cr_expect_str_eq(s.svc[0].mode, "prefork");
    cr_expect_eq(s.svc[0].target, 3);
    cr_expect_eq(s.svc[0].flags, SB_SVC_CURRENT);
    cr_expect_str_eq(s.svc[1].name, "echo");
    cr_expect_str_eq(s.svc[1].mode, "threading");
    cr_assert_eq(s.nslots, 4);
    cr_expect_eq(s.slots[i].pid, 4321);
    cr_expect_eq(s.slots[i].service, 11);
    cr_expect_eq(s.slots[i].state, SLOT_BUSY);
    cr_expect_gt(s.slots[i].busy_since, 0);
    scoreboard_snapshot_free(&s);

    /* Later writes show in a later snapshot: the file is shared. */
    slot_done(&sb->slots[i], 1);
    scoreboard_set_target(sb, 10, 5);
    cr_assert_eq(scoreboard_snapshot(r, &s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.slots[i].state, SLOT_IDLE);
    cr_expect_eq(s.slots[i].served, 1);
    cr_expect_eq(s.svc[0].target, 5);
    scoreboard_snapshot_free(&s);
    scoreboard_destroy(r);
    scoreboard_destroy(sb);
}

Test(status_file, snapshot_waits_out_a_rewrite, .timeout = 10)
{
    struct scoreboard *sb = scoreboard_create(NULL, 2);
    struct sb_snapshot s;
    char               err[256] = "";

    cr_assert_not_null(sb);
    sb->hdr->seq = 1; /* a master stopped half-way through a rewrite */
    cr_expect_eq(scoreboard_snapshot(sb, &s, err, sizeof err), -1);
    cr_expect(strstr(err, "rewriting") != NULL, "%s", err);
    cr_expect_null(s.svc);
    sb->hdr->seq = 2;
    cr_expect_eq(scoreboard_snapshot(sb, &s, err, sizeof err), 0);
    scoreboard_snapshot_free(&s);
    scoreboard_destroy(sb);
}

Test(status_file, exited_workers_still_count)
{
    struct fake_gen    f = {0};
    struct scoreboard *sb = scoreboard_create(NULL, 4);
    int                a, b;

    cr_assert_not_null(sb);
    fake_add(&f, 1, "a", "", 1);
    fake_add(&f, 2, "b", "", 1);
    scoreboard_set_services(sb, f.d, f.n);
    a = scoreboard_claim(sb, 1);
    b = scoreboard_claim(sb, 2);
    slot_done(&sb->slots[a], 5);
    slot_done(&sb->slots[b], 7);
    scoreboard_release(sb, a);
    cr_expect_eq(sb->hdr->seq % 2, 0, "the sequence was left odd");
    cr_expect_eq(entry(sb, 1)->exited_served, 5);
    cr_expect_eq(entry(sb, 2)->exited_served, 0);
    cr_expect_eq(snap(sb, a).served, 0, "the count stayed in the free slot");
    a = scoreboard_claim(sb, 1);
    slot_done(&sb->slots[a], 2);
    scoreboard_release(sb, a);
    cr_expect_eq(entry(sb, 1)->exited_served, 7);
    cr_expect_eq(sb->hdr->seq % 2, 0, "the sequence was left odd");
    /* Publishing the same services again loses nothing. */
    scoreboard_set_services(sb, f.d, f.n);
    cr_expect_eq(sb->hdr->nservices, 2);
    cr_expect_eq(entry(sb, 1)->exited_served, 7);
    scoreboard_destroy(sb);
}

Test(status_file, reload_keeps_draining_services_and_their_counts)
{
    struct fake_gen    g1 = {0}, g2 = {0}, g3 = {0};
    struct scoreboard *sb = scoreboard_create(NULL, 4);
    struct sb_service *e;
    int                a, b;

    cr_assert_not_null(sb);
    fake_add(&g1, 1, "a", "", 1);
    fake_add(&g1, 2, "b", "", 1);
    scoreboard_set_services(sb, g1.d, g1.n);
    a = scoreboard_claim(sb, 1);
    b = scoreboard_claim(sb, 2);
    slot_done(&sb->slots[a], 3);
    slot_done(&sb->slots[b], 4);
    scoreboard_release(sb, b); /* b's worker is gone before the reload */

    /* Reload: a and c.  The old a still has a worker: listed, not
     * current; the old b has none and no successor: dropped. */
    fake_add(&g2, 3, "a", "", 1);
    fake_add(&g2, 4, "c", "", 1);
    scoreboard_set_services(sb, g2.d, g2.n);
    cr_assert_eq(sb->hdr->nservices, 3);
    cr_expect_eq(sb->svc[0].id, 3);
    cr_expect_eq(sb->svc[1].id, 4);
    cr_expect_eq(sb->svc[2].id, 1);
    cr_expect_eq(sb->svc[0].flags & SB_SVC_CURRENT, SB_SVC_CURRENT);
    cr_expect_eq(sb->svc[2].flags & SB_SVC_CURRENT, 0);
    cr_expect_null(entry(sb, 2));

    /* The old a's worker exits; the next reload folds its count into
     * the a of that configuration. */
    scoreboard_release(sb, a);
    cr_expect_eq(entry(sb, 1)->exited_served, 3);
    fake_add(&g3, 5, "a", "", 1);
    scoreboard_set_services(sb, g3.d, g3.n);
    cr_assert_eq(sb->hdr->nservices, 1);
    e = entry(sb, 5);
    cr_assert_not_null(e);
    cr_expect_eq(e->exited_served, 3);
    cr_expect_eq(e->flags, SB_SVC_CURRENT);
    scoreboard_destroy(sb);
}
