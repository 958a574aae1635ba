/*
 * test_upgrade.c -- the binary upgrade on SIGUSR2: a new master takes the
 * listeners over and the old one quits, with no connection refused under
 * load; a new binary that cannot start leaves the old master serving; a
 * UNIX socket's file outlives the old master; under systemd the new master
 * announces itself with MAINPID and the old one does not say STOPPING.
 *
 * The test process is a child subreaper, so the new master (the old one's
 * child) is reparented to it and can be reaped when the test stops it.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "sdfake.h"

#define LO        "127.0.0.1"
#define LOADERS   4
#define LOAD_MAX  20000 /* connections per load thread, at most */
#define LOAD_SECS 30    /* and at most this long */

static struct h_server srv;

static void subreaper(void)
{
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

/* The pid in path, or 0. */
static pid_t read_pid(const char *path)
{
    char *s = h_read_file(path);
    pid_t pid = s != NULL ? (pid_t)atol(s) : 0;

    free(s);
    return pid;
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static void oldbin_path(char *buf, size_t len)
{
    snprintf(buf, len, "%s.oldbin", srv.pidfile);
}

/* Stop the master that took over and reap it (it is our child now). */
static void stop_new_master(pid_t pid)
{
    int status;

    cr_assert_eq(kill(pid, SIGTERM), 0);
    cr_assert(H_WAIT(H_STOP_MS, waitpid(pid, &status, WNOHANG) == pid),
              "the new master did not stop");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the new master exited with status %d", status);
}

/* `prefork -s upgrade`, as an administrator would send USR2. */
static void send_upgrade(void)
{
    const char     *argv[] = {H_PREFORK, "-s", "upgrade", "-c", srv.conf, NULL};
    struct h_result r;

    cr_assert_eq(h_run(argv, 5000, &r), 0, "-s upgrade: %s", r.err);
    h_result_free(&r);
}

/* Send USR2 (by -s upgrade or kill) and wait until the new master holds
 * the pidfile and the old one (our child) has exited 0.  Returns the new
 * master's pid. */
static pid_t upgrade(int by_command)
{
    pid_t old = srv.pid, pid = 0;
    char  oldbin[160];

    oldbin_path(oldbin, sizeof oldbin);
    if (by_command)
        send_upgrade();
    else
        cr_assert_eq(h_signal(&srv, SIGUSR2), 0);
    cr_assert(H_WAIT(15000, (pid = read_pid(srv.pidfile)) > 0 && pid != old &&
                                !exists(oldbin)),
              "no new master in the pidfile%s", h_diag(&srv));
    cr_assert_eq(h_wait_exit(&srv, 15000), 0, "the old master did not quit%s",
                 h_diag(&srv));
    cr_assert_eq(kill(pid, 0), 0, "the new master is not running");
    return pid;
}

static int new_workers(pid_t master)
{
    struct h_server view = srv;

    view.pid = master;
    return h_nworkers(&view);
}

struct load {
    int         port;
    atomic_int *stop;
    int         ok, failed, last_errno;
};

static void *load_run(void *arg)
{
    struct load *l = arg;
    char         out[64], in[64];
    int64_t      end = h_now_ms() + LOAD_SECS * 1000;

    h_pattern(out, sizeof out, (uint32_t)l->port);
    for (int i = 0; i < LOAD_MAX && h_now_ms() < end && !atomic_load(l->stop);
         i++) {
        int fd = h_connect(LO, l->port, 3000);
        if (fd < 0 || h_transfer(fd, out, in, sizeof out, 3000) != 0 ||
            memcmp(in, out, sizeof out) != 0) {
            l->failed++;
            l->last_errno = errno;
        } else {
            l->ok++;
        }
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

Test(upgrade, usr2_under_load_refuses_nothing, .fini = h_teardown,
     .timeout = 90)
{
    pthread_t   t[LOADERS];
    struct load l[LOADERS];
    atomic_int  stop = 0;
    int         port, ok = 0, failed = 0, last = 0;
    pid_t       pid;

    subreaper();
    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "", port, 2), 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 2));
    for (int i = 0; i < LOADERS; i++) {
        l[i] = (struct load){.port = port, .stop = &stop};
        cr_assert_eq(pthread_create(&t[i], NULL, load_run, &l[i]), 0);
    }
    h_sleep_ms(300);
    pid = upgrade(0);
    cr_assert(H_WAIT(5000, new_workers(pid) == 2), "new master has %d workers",
              new_workers(pid));
    h_sleep_ms(300);
    atomic_store(&stop, 1);
    for (int i = 0; i < LOADERS; i++) {
        pthread_join(t[i], NULL);
        ok += l[i].ok;
        failed += l[i].failed;
        if (l[i].failed)
            last = l[i].last_errno;
    }
    cr_log_info("upgrade under load: %d connections, %d failed", ok + failed,
                failed);
    cr_assert_eq(failed, 0, "%d of %d connections failed (last: %s)", failed,
                 ok + failed, strerror(last));
    cr_assert(ok >= 100, "only %d connections made", ok);
    cr_assert(h_file_contains(srv.log, "took over from master"), "%s",
              h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, port, 2000), 0);
    stop_new_master(pid);
}

Test(upgrade, a_new_binary_that_fails_leaves_the_old_serving,
     .fini = h_teardown, .timeout = 60)
{
    char  oldbin[160];
    int   port;
    pid_t old;

    subreaper();
    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "", port, 1), 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    old = srv.pid;
    /* The new master reads the config again: a broken one stops it. */
    cr_assert_eq(h_write_file(srv.conf, "[echo]\nmodule = echo\n"), 0);
    cr_assert_eq(h_signal(&srv, SIGUSR2), 0);
    cr_assert(H_WAIT(10000, h_file_contains(srv.log, "serves on")),
              "no failed upgrade logged%s", h_diag(&srv));
    oldbin_path(oldbin, sizeof oldbin);
    cr_assert(H_WAIT(2000, read_pid(srv.pidfile) == old && !exists(oldbin)),
              "the pidfile was not taken back");
    cr_assert(h_alive(&srv));
    cr_assert_eq(h_echo_once(LO, port, 2000), 0);
    /* The status file has its name back too. */
    cr_assert_eq(h_config_echo(&srv, "", port, 1), 0);
    {
        const char *argv[] = {H_PREFORK, "-s", "status", "-c", srv.conf, NULL};
        struct h_result r;
        char            want[64];

        snprintf(want, sizeof want, "\"pid\":%d", (int)old);
        cr_assert_eq(h_run(argv, 5000, &r), 0, "-s status: %s", r.err);
        cr_assert(strstr(r.out, want) != NULL, "status: %s", r.out);
        h_result_free(&r);
    }
    /* And a later stop still removes the pidfile. */
    cr_assert_eq(h_stop(&srv), 0);
    cr_assert(!exists(srv.pidfile));
}

Test(upgrade, unix_socket_file_survives_the_old_master, .fini = h_teardown,
     .timeout = 60)
{
    char  path[160];
    int   fd;
    pid_t pid;

    subreaper();
    cr_assert_eq(h_init(&srv), 0);
    snprintf(path, sizeof path, "%s/echo.sock", srv.dir);
    cr_assert_eq(h_config(&srv,
                          "[echo]\nmodule = echo\nlisten = unix:%s\n"
                          "workers = 1\n",
                          path),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    pid = upgrade(1);
    cr_assert(exists(path), "the old master removed the socket file");
    fd = h_connect_unix(path, 2000);
    cr_assert(fd >= 0, "cannot connect after the upgrade: %s", strerror(errno));
    cr_assert_eq(h_transfer(fd, "hello", (char[5]){0}, 5, 2000), 0);
    close(fd);
    stop_new_master(pid);
    cr_assert(!exists(path), "the new master left its socket file behind");
}

#ifdef PF_HAVE_SYSTEMD
/* Notifications to the fake NOTIFY_SOCKET, one a line, appended to all
 * for up to ms or until one holds `until`, as a unit with
 * NotifyAccess=main takes them: from *main only (one from another
 * process is kept as "REFUSED from PID: ..."), and MAINPID= makes another
 * process the main one.  Fails when they overflow all: a full buffer
 * would hide what came after. */
static void collect(int fd, pid_t *main, char *all, size_t cap,
                    const char *until, int ms)
{
    int64_t     end = h_now_ms() + ms;
    size_t      len = strlen(all);
    struct note n;
    char       *p;

    while (h_now_ms() < end && strstr(all, until) == NULL) {
        if (next_note(fd, &n, 100) == -1)
            continue;
        note_close(&n);
        cr_assert(len + strlen(n.text) + 40 <= cap,
                  "more notifications than %zu bytes: '%s'", cap, all);
        if (n.pid != *main)
            len += (size_t)snprintf(all + len, cap - len,
                                    "REFUSED from %d: ", (int)n.pid);
        else if ((p = strstr(n.text, "MAINPID=")) != NULL)
            *main = (pid_t)atol(p + strlen("MAINPID="));
        len += (size_t)snprintf(all + len, cap - len, "%s\n", n.text);
    }
}
#endif

Test(upgrade, systemd_follows_the_new_master, .fini = h_teardown, .timeout = 60)
{
#ifndef PF_HAVE_SYSTEMD
    cr_skip_test("prefork was built without libsystemd");
#else
    char  all[4096] = "", want[64];
    int   fd, port;
    pid_t pid, main;

    subreaper();
    cr_assert_eq(h_init(&srv), 0);
    fd = sd_listen(&srv, 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "", port, 1), 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    main = srv.pid;
    collect(fd, &main, all, sizeof all, "READY=1", 10000);
    cr_assert(strstr(all, "READY=1") != NULL, "no READY: '%s'", all);
    all[0] = '\0';
    pid = upgrade(0);
    snprintf(want, sizeof want, "MAINPID=%d", (int)pid);
    collect(fd, &main, all, sizeof all, want, 5000);
    /* Whatever either master says next must come in too. */
    collect(fd, &main, all, sizeof all, "(nothing)", 1500);
    cr_assert(strstr(all, want) != NULL, "no %s in '%s'", want, all);
    /* NotifyAccess=main: the old master, still the main process, names
     * the new one, which says nothing before. */
    cr_assert(strstr(all, "REFUSED") == NULL,
              "a notification NotifyAccess=main would refuse: '%s'", all);
    cr_assert_eq(main, pid, "systemd would follow %d, not the new master %d",
                 (int)main, (int)pid);
    cr_assert(strstr(all, "STOPPING") == NULL,
              "the old master told systemd it was stopping: '%s'", all);
    close(fd);
    stop_new_master(pid);
#endif
}

/* The old master killed before it could hand over (its workers were not
 * up yet): the new master's hand-over pipe closes without a word, and it
 * names itself to systemd (READY=1 with its MAINPID, which a unit with
 * NotifyAccess=all takes) and serves on. */
Test(upgrade, new_master_names_itself_when_the_old_dies_first,
     .fini = h_teardown, .timeout = 60)
{
#ifndef PF_HAVE_SYSTEMD
    cr_skip_test("prefork was built without libsystemd");
#else
    char        want[64];
    int         fd, port;
    pid_t       old, pid = 0;
    struct note n;

    subreaper();
    cr_assert_eq(h_init(&srv), 0);
    fd = sd_listen(&srv, 0);
    port = h_free_port(LO, SOCK_STREAM);
    /* A second in worker_init: the window between the new master's start
     * and its hand-over. */
    cr_assert_eq(h_config(&srv,
                          "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n"
                          "init_sleep = 1s\n",
                          H_TESTMOD, LO, port),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    expect_note(fd, "READY=1", NULL, NULL);
    old = srv.pid;
    cr_assert_eq(h_signal(&srv, SIGUSR2), 0);
    cr_assert(H_WAIT(10000, (pid = read_pid(srv.pidfile)) > 0 && pid != old),
              "no new master in the pidfile%s", h_diag(&srv));
    cr_assert(!h_file_contains(srv.log, "took over"),
              "the new master was up before the old one could be killed");
    cr_assert_eq(kill(old, SIGKILL), 0);
    h_wait_exit(&srv, 5000);
    snprintf(want, sizeof want, "MAINPID=%d", (int)pid);
    expect_note(fd, want, NULL, &n);
    cr_expect_eq(n.pid, pid, "%s came from %d, not the new master %d", want,
                 (int)n.pid, (int)pid);
    cr_expect(has_line(n.text, "READY=1"), "no READY=1 with it: '%s'", n.text);
    note_close(&n);
    cr_expect(h_file_contains(srv.log, "this master names itself"), "%s",
              h_diag(&srv));
    cr_expect(H_WAIT(10000, h_echo_once(LO, port, 1000) == 0),
              "the new master does not serve%s", h_diag(&srv));
    close(fd);
    stop_new_master(pid);
#endif
}
