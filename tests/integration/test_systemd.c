/*
 * test_systemd.c -- prefork under a service manager, faked: a datagram
 * socket in NOTIFY_SOCKET receives what sd_notify sends (READY, RELOADING,
 * STOPPING, WATCHDOG, FDSTORE with the descriptors themselves, and who
 * sent each), and listening sockets the test binds or got from FDSTORE
 * are handed over as systemd does (descriptors from 3, LISTEN_FDS,
 * LISTEN_PID, LISTEN_FDNAMES).  Built without libsystemd, prefork does
 * none of it, and these tests are skipped.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "sdfake.h"

#define LO      "127.0.0.1"
#define WD_USEC "WATCHDOG_USEC=200000" /* pings every 100 ms */

static struct h_server srv;

static void need_systemd(void)
{
#ifndef PF_HAVE_SYSTEMD
    cr_skip_test("prefork was built without libsystemd");
#endif
}

/* --- the fake service manager's side of a test ---------------------------- */

static const char *notify_env; /* NOTIFY_SOCKET=DIR/notify */

/* A fresh server directory; skips the test when prefork has no
 * libsystemd. */
static void fresh(void)
{
    need_systemd();
    cr_assert_eq(h_init(&srv), 0);
}

/* fresh() with a notification socket in it, passed as NOTIFY_SOCKET in
 * srv.env[slot] (0, or 3 after as_systemd()); returns the socket. */
static int manager(int slot)
{
    int fd;

    fresh();
    fd = sd_listen(&srv, slot);
    notify_env = srv.env[slot];
    return fd;
}

/* manager(0) for one echo service of `workers` on a free port (*port),
 * with `server` keys.  Not started yet. */
static int echo_unit(const char *server, int workers, int *port)
{
    int fd = manager(0);

    *port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, server, *port, workers), 0);
    return fd;
}

/* WatchdogSec=200ms for the process named by pid ("WATCHDOG_PID" alone:
 * the master), in srv.env[1..2]. */
static void with_watchdog(const char *pid)
{
    srv.env[1] = WD_USEC;
    srv.env[2] = pid;
}

static void start(void)
{
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
}

/* systemctl stop: STOPPING=1 (nothing holding forbid before it), then a
 * clean exit. */
static void stop(int fd, const char *forbid)
{
    h_signal(&srv, SIGTERM);
    expect_message(fd, "STOPPING=1", forbid);
    cr_assert_eq(h_wait_exit(&srv, H_STOP_MS), 0, "%s", h_diag(&srv));
}

/* systemctl reload: RELOADING=1 comes (READY is the caller's to wait
 * for, with what must not come before it). */
static void reload(int fd)
{
    h_signal(&srv, SIGHUP);
    expect_message(fd, "RELOADING=1", NULL);
}

/* The next master, started as systemd starts it with a file descriptor
 * store: the stored sockets passed under their names, and NOTIFY_SOCKET. */
static void restart_with_store(const char *names, const int *fds, int n)
{
    as_systemd(&srv, names, fds, n);
    srv.env[3] = notify_env;
    cr_assert_eq(h_start(&srv), 0, "prefork did not restart%s", h_diag(&srv));
}

/* Does process pid have libsystemd mapped? */
static int maps_libsystemd(pid_t pid)
{
    char path[64], *maps;
    int  found;

    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    maps = h_read_file(path);
    cr_assert(maps != NULL, "no %s", path);
    found = strstr(maps, "libsystemd.so") != NULL;
    free(maps);
    return found;
}

/* A socket bound by the test, as a .socket unit would bind it. */
static int bound_socket(int type, int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof sin;
    int                fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

    cr_assert(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert(type == SOCK_DGRAM || listen(fd, 128) == 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static long long mono_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

Test(systemd, notify_ready_reloading_stopping, .fini = h_teardown,
     .timeout = 40)
{
    int port, fd = echo_unit("", 1, &port);

    start();
    expect_message(fd, "READY=1", "STOPPING");
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "not serving once READY");
    /* libsystemd is the master's business: its workers let go of it. */
    {
        pid_t w[2];
        cr_assert_eq(h_workers(&srv, w, 2), 1);
        cr_assert(maps_libsystemd(srv.pid), "the master has no libsystemd");
        cr_assert(!maps_libsystemd(w[0]), "a worker still maps libsystemd");
    }

    /* Type=notify-reload: RELOADING=1 with the time it was sent, from the
     * clock systemd compares it with. */
    {
        struct note n;
        long long   before = mono_usec(), after, sent;
        const char *v;

        h_signal(&srv, SIGHUP);
        expect_note(fd, "RELOADING=1", NULL, &n);
        after = mono_usec();
        v = strstr(n.text, "MONOTONIC_USEC=");
        cr_assert(v != NULL, "no MONOTONIC_USEC in '%s'", n.text);
        sent = atoll(v + strlen("MONOTONIC_USEC="));
        cr_assert(sent >= before && sent <= after,
                  "MONOTONIC_USEC=%lld, not between %lld and %lld", sent,
                  before, after);
        cr_assert_eq(n.pid, srv.pid);
        expect_message(fd, "READY=1", "STOPPING");
    }

    /* A reload that fails still ends with READY: the old config runs on,
     * and the status line says the reload failed ... */
    cr_assert_eq(h_write_file(srv.conf, "[echo]\nbogus line\n"), 0);
    reload(fd);
    {
        struct note n;
        expect_note(fd, "READY=1", "STOPPING", &n);
        cr_assert(strstr(n.text, "STATUS=reload failed") != NULL,
                  "a failed reload's READY says '%s'", n.text);
    }
    cr_assert_eq(h_echo_once(LO, port, 2000), 0);
    /* ... until one succeeds. */
    cr_assert_eq(h_config_echo(&srv, "", port, 1), 0);
    reload(fd);
    {
        struct note n;
        expect_note(fd, "READY=1", "STOPPING", &n);
        cr_assert(has_line(n.text, "STATUS="),
                  "the status is not cleared: '%s'", n.text);
    }

    stop(fd, NULL);
    close(fd);
}

Test(systemd, named_socket_replaces_listen, .fini = h_teardown, .timeout = 40)
{
    int lfd, port, other;

    fresh();
    lfd = bound_socket(SOCK_STREAM, &port);
    other = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "", other, 2), 0);
    as_systemd(&srv, "echo", &lfd, 1);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    close(lfd);
    cr_assert_eq(h_echo_once(LO, port, 2000), 0,
                 "no echo on the socket passed in%s", h_diag(&srv));
    cr_assert_eq(h_connect(LO, other, 1000), -1,
                 "the service's own listen address was bound too");
    cr_assert(h_file_contains(srv.log, "passed by systemd"), "%s",
              h_diag(&srv));

    /* A reload keeps the very same socket. */
    h_signal(&srv, SIGHUP);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "configuration reloaded")));
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "no echo after HUP%s",
                 h_diag(&srv));
}

Test(systemd, unnamed_sockets_match_by_address, .fini = h_teardown,
     .timeout = 40)
{
    int  tfd, ufd, tport, uport, s, nfd = manager(3);
    char buf[8];

    tfd = bound_socket(SOCK_STREAM, &tport);
    ufd = bound_socket(SOCK_DGRAM, &uport);
    /* The test keeps both bound: prefork binding them again would fail
     * (no SO_REUSEPORT), so a start proves it used what it was given. */
    cr_assert_eq(h_config(&srv,
                          "fdstore = yes\n"
                          "[echo]\nmodule = echo\nlisten = %s:%d\n"
                          "workers = 1\n"
                          "[udp]\nmodule = udp_echo\nlisten = udp://%s:%d\n"
                          "workers = 1\n",
                          LO, tport, LO, uport),
                 0);
    as_systemd(&srv, "prefork.socket:prefork.socket", (int[]){tfd, ufd}, 2);
    start();
    /* The socket unit keeps its sockets: they are not stored again. */
    expect_message(nfd, "READY=1", "FDSTORE");
    cr_assert_eq(h_echo_once(LO, tport, 2000), 0, "%s", h_diag(&srv));
    s = h_udp(LO, uport);
    cr_assert(s >= 0);
    cr_assert_eq(send(s, "ping", 4, 0), 4);
    cr_assert_eq(h_recv_exact(s, buf, 4, 2000), 4, "no UDP echo%s",
                 h_diag(&srv));
    cr_assert_eq(memcmp(buf, "ping", 4), 0);
    close(s);
    close(tfd);
    close(ufd);
    close(nfd);
}

Test(systemd, unusable_or_unmatched_sockets_are_closed, .fini = h_teardown,
     .timeout = 40)
{
    char file[160];
    int  lfd, port, ffd, eport;

    fresh();
    lfd = bound_socket(SOCK_STREAM, &port);
    snprintf(file, sizeof file, "%s/not-a-socket", srv.dir);
    ffd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert(ffd >= 0);
    eport = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "", eport, 1), 0);
    as_systemd(&srv, "stray:file", (int[]){lfd, ffd}, 2);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, eport, 2000), 0, "%s", h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "matches no service: closed"), "%s",
              h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "inherited descriptor 4"), "%s",
              h_diag(&srv));
    close(lfd);
    close(ffd);
}

/* --- the watchdog ------------------------------------------------------- */

Test(systemd, watchdog_pings_from_the_loop, .fini = h_teardown, .timeout = 40)
{
    struct note n;
    int         port, fd = echo_unit("", 1, &port), pings = 0;
    int64_t     end;

    with_watchdog("WATCHDOG_PID");
    start();
    expect_message(fd, "READY=1", NULL);
    /* Every 100 ms from the master: at least 5 in a second, however busy
     * the machine. */
    for (end = h_now_ms() + 1000; h_now_ms() < end;) {
        if (next_note(fd, &n, 100) == -1)
            continue;
        note_close(&n);
        if (!has_line(n.text, "WATCHDOG=1"))
            continue;
        cr_assert_eq(n.pid, srv.pid, "a ping from %d", (int)n.pid);
        pings++;
    }
    cr_assert(pings >= 5 && pings <= 12, "%d pings in a second%s", pings,
              h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, port, 2000), 0);

    /* A master that does not run sends none, and starts again. */
    cr_assert_eq(h_signal(&srv, SIGSTOP), 0);
    h_sleep_ms(50);
    drain_notes(fd); /* what it sent before it stopped */
    quiet_for(fd, "WATCHDOG", 700);
    cr_assert_eq(h_signal(&srv, SIGCONT), 0);
    expect_message(fd, "WATCHDOG=1", NULL);

    stop(fd, NULL);
    close(fd);
}

Test(systemd, watchdog_is_for_the_pid_systemd_names, .fini = h_teardown,
     .timeout = 40)
{
    int port, fd = echo_unit("", 1, &port);

    with_watchdog("WATCHDOG_PID=1");
    start();
    expect_message(fd, "READY=1", "WATCHDOG");
    quiet_for(fd, "WATCHDOG", 700);
    /* Quiet because the pid is not its own, not because it is gone. */
    cr_assert(h_alive(&srv), "the master exited%s", h_diag(&srv));
    close(fd);
}

Test(systemd, watchdog_stops_when_no_worker_can_start, .fini = h_teardown,
     .timeout = 40)
{
    int port, fd;

#if !defined(__x86_64__) && !defined(__aarch64__)
    cr_skip_test("no seccomp filter for this architecture");
#endif
    fd = echo_unit("", 1, &port);
    with_watchdog("WATCHDOG_PID");
    /* LeakSanitizer forks a tracer at exit, which cannot start either. */
    srv.env[3] = "ASAN_OPTIONS=detect_leaks=0";
    srv.before_exec = no_fork;
    start();
    /* No worker ever starts, so no READY=1 either (it waits for one in
     * every service, up to start_timeout). */
    /* The loop turns, but the master cannot do its job: after one
     * interval of failed forks it stops pinging, and says why. */
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "watchdog pings stop")),
              "%s", h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "fork"), "%s", h_diag(&srv));
    drain_notes(fd);
    quiet_for(fd, "WATCHDOG", 1000);
    cr_assert(h_alive(&srv), "the master gave up%s", h_diag(&srv));
    close(fd);
}

/* --- the file descriptor store ------------------------------------------ */

static int sock_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t          len = sizeof sin;

    if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0 ||
        sin.sin_family != AF_INET)
        return -1;
    return ntohs(sin.sin_port);
}

static int sock_opt(int fd, int name)
{
    int       v = -1;
    socklen_t len = sizeof v;

    cr_assert_eq(getsockopt(fd, SOL_SOCKET, name, &v, &len), 0);
    return v;
}

/* Collect what the master stores until READY=1: one descriptor per name
 * expected, in *fds (indexed like names); fails on anything unexpected. */
static void expect_stored(int fd, const char *const *names, int *fds, int n)
{
    struct note note;
    int         got = 0;

    for (;;) {
        expect_note(fd, "", NULL, &note);
        if (has_line(note.text, "READY=1")) {
            note_close(&note);
            break;
        }
        if (strstr(note.text, "FDSTORE=1") == NULL) {
            note_close(&note);
            continue;
        }
        for (int i = 0; i < n; i++) {
            char want[64];
            snprintf(want, sizeof want, "FDNAME=%s", names[i]);
            if (!has_line(note.text, want))
                continue;
            cr_assert_eq(note.nfds, 1, "'%s' came with %d descriptors",
                         note.text, note.nfds);
            cr_assert_eq(fds[i], -1, "%s stored twice", names[i]);
            fds[i] = note.fds[0];
            note.nfds = 0;
            got++;
        }
        cr_assert_eq(note.nfds, 0, "unexpected '%s'", note.text);
    }
    cr_assert_eq(got, n, "%d of %d names stored%s", got, n, h_diag(&srv));
}

Test(systemd, fdstore_keeps_queued_connections_across_restart,
     .fini = h_teardown, .timeout = 60)
{
    static const char *const names[] = {"store/echo", "store/udp",
                                        "store/local"};
    struct note              note;
    struct stat              st;
    char                     buf[16], path[128];
    int fd = manager(0), tport, uport, tport2, stored[3] = {-1, -1, -1}, c, u,
        x;

    tport = h_free_port(LO, SOCK_STREAM);
    uport = h_free_port(LO, SOCK_DGRAM);
    snprintf(path, sizeof path, "%s/local.sock", srv.dir);
    cr_assert_eq(h_config(&srv,
                          "fdstore = yes\n"
                          "[echo]\nmodule = echo\nlisten = %s:%d\n"
                          "workers = 1\n"
                          "[udp]\nmodule = udp_echo\nlisten = udp://%s:%d\n"
                          "workers = 1\n"
                          "[local]\nmodule = echo\nlisten = unix:%s\n"
                          "workers = 1\n",
                          LO, tport, LO, uport, path),
                 0);
    start();
    expect_stored(fd, names, stored, 3);
    /* What systemd keeps are the listening sockets themselves. */
    cr_assert_eq(sock_port(stored[0]), tport);
    cr_assert_eq(sock_opt(stored[0], SO_TYPE), SOCK_STREAM);
    cr_assert_eq(sock_opt(stored[0], SO_ACCEPTCONN), 1);
    cr_assert_eq(sock_port(stored[1]), uport);
    cr_assert_eq(sock_opt(stored[1], SO_TYPE), SOCK_DGRAM);

    /* systemctl restart: the master goes; the store holds the sockets, so
     * a client connecting in between is queued, not refused. */
    stop(fd, NULL);
    c = h_connect(LO, tport, 2000);
    cr_assert(c >= 0, "refused while the master was down: %s", strerror(errno));
    cr_assert_eq(h_send_all(c, "queued\n", 7, 2000), 0);
    u = h_udp(LO, uport);
    cr_assert(u >= 0);
    cr_assert_eq(send(u, "dgram", 5, 0), 5);
    /* A UNIX socket in the store keeps its file for the next master. */
    cr_assert_eq(stat(path, &st), 0, "%s is gone", path);
    x = h_connect_unix(path, 2000);
    cr_assert(x >= 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(h_send_all(x, "local\n", 6, 2000), 0);

    /* The next master gets them back as systemd passes a store. */
    restart_with_store("store/echo:store/udp:store/local", stored, 3);
    /* They are in the store already: not stored twice. */
    expect_message(fd, "READY=1", "FDSTORE");
    cr_assert_eq(h_recv_exact(c, buf, 7, 5000), 7,
                 "the queued connection was not served%s", h_diag(&srv));
    cr_assert_eq(memcmp(buf, "queued\n", 7), 0);
    cr_assert_eq(h_recv_exact(u, buf, 5, 5000), 5,
                 "the queued datagram was not served%s", h_diag(&srv));
    cr_assert_eq(memcmp(buf, "dgram", 5), 0);
    cr_assert_eq(h_recv_exact(x, buf, 6, 5000), 6,
                 "the queued UNIX connection was not served%s", h_diag(&srv));
    cr_assert_eq(memcmp(buf, "local\n", 6), 0);
    close(c);
    close(u);
    close(x);
    cr_assert(h_file_contains(srv.log, "kept in the file descriptor store"),
              "%s", h_diag(&srv));
    for (int i = 0; i < 3; i++)
        close(stored[i]);

    /* A reload that changes nothing stores nothing again. */
    reload(fd);
    expect_message(fd, "READY=1", "FDSTORE");

    /* One that drops a service takes its sockets out of the store ... */
    tport2 = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config(&srv,
                          "fdstore = yes\n"
                          "[echo]\nmodule = echo\nlisten = %s:%d\n"
                          "workers = 1\n",
                          LO, tport),
                 0);
    reload(fd);
    {
        int udp = 0, local = 0;
        for (;;) {
            expect_note(fd, "", "FDSTORE=1", &note);
            note_close(&note);
            if (has_line(note.text, "READY=1"))
                break;
            cr_assert(strstr(note.text, "FDSTOREREMOVE=1") != NULL, "'%s'",
                      note.text);
            udp += has_line(note.text, "FDNAME=store/udp");
            local += has_line(note.text, "FDNAME=store/local");
        }
        cr_assert(udp == 1 && local == 1, "removed udp %d, local %d times", udp,
                  local);
    }
    /* No longer stored, the socket file goes with the last old worker. */
    cr_assert(H_WAIT(5000, stat(path, &st) == -1), "%s is still there%s", path,
              h_diag(&srv));

    /* ... and one that adds a listener stores the service's set anew. */
    cr_assert_eq(h_config(&srv,
                          "fdstore = yes\n"
                          "[echo]\nmodule = echo\nlisten = %s:%d, %s:%d\n"
                          "workers = 1\n",
                          LO, tport, LO, tport2),
                 0);
    reload(fd);
    expect_note(fd, "FDSTOREREMOVE=1", "FDSTORE=1", &note);
    cr_assert(has_line(note.text, "FDNAME=store/echo"), "%s", note.text);
    expect_note(fd, "FDSTORE=1", "READY", &note);
    cr_assert(has_line(note.text, "FDNAME=store/echo"), "%s", note.text);
    cr_assert_eq(note.nfds, 2, "%d descriptors stored", note.nfds);
    {
        int a = sock_port(note.fds[0]), b = sock_port(note.fds[1]);
        cr_assert((a == tport && b == tport2) || (a == tport2 && b == tport),
                  "stored ports %d and %d", a, b);
    }
    note_close(&note);
    expect_message(fd, "READY=1", "FDSTORE");
    cr_assert_eq(h_echo_once(LO, tport2, 2000), 0);
    close(fd);
}

/* A restart cannot bind an address afresh while systemd holds its old
 * socket: a changed reuseport waits until the service stops. */
Test(systemd, fdstore_socket_kept_when_reuseport_changes, .fini = h_teardown,
     .timeout = 60)
{
    static const char *const names[] = {"store/echo"};
    int                      port, stored = -1;
    int                      fd = echo_unit("fdstore = yes\n", 2, &port);

    start();
    expect_stored(fd, names, &stored, 1);
    stop(fd, NULL);

    cr_assert_eq(h_config(&srv,
                          "fdstore = yes\n"
                          "[echo]\nmodule = echo\nlisten = %s:%d\n"
                          "workers = 2\nreuseport = yes\n",
                          LO, port),
                 0);
    restart_with_store("store/echo", &stored, 1);
    expect_message(fd, "READY=1", "FDSTORE");
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "%s", h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "reuseport = yes applies once"), "%s",
              h_diag(&srv));
    close(stored);
    close(fd);
}

Test(systemd, fdstore_only_where_the_unit_has_one, .fini = h_teardown,
     .timeout = 60)
{
    static const char *const names[] = {"store/echo"};
    int                      port, stored = -1;
    /* fdstore = auto, the default: systemd before 254 does not say
     * whether the unit has a store, so nothing is stored ... */
    int fd = echo_unit("", 1, &port);

    start();
    expect_message(fd, "READY=1", "FDSTORE");
    stop(fd, "FDSTORE");

    /* ... unless it does ($FDSTORE, systemd 254 and later). */
    srv.env[1] = "FDSTORE=4";
    start();
    expect_stored(fd, names, &stored, 1);
    cr_assert_eq(sock_port(stored), port);
    close(stored);
    stop(fd, NULL);

    /* fdstore = no: never. */
    cr_assert_eq(h_config_echo(&srv, "fdstore = no\n", port, 1), 0);
    start();
    expect_message(fd, "READY=1", "FDSTORE");
    close(fd);
}

/* --- a binary upgrade under systemd ------------------------------------- */

Test(systemd, upgrade_hands_watchdog_and_store_over, .fini = h_teardown,
     .timeout = 60)
{
    static const char *const names[] = {"store/echo"};
    struct note              n;
    const char              *v;
    int                      port, stored = -1, status;
    int                      fd = echo_unit("fdstore = yes\n", 1, &port);
    pid_t                    pid = 0;
    int64_t                  end;

    /* The new master, the old one's child, becomes ours to reap. */
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    with_watchdog("WATCHDOG_PID");
    start();
    expect_stored(fd, names, &stored, 1);
    close(stored);

    /* The new master finds its sockets stored already.  The old master,
     * the main process, names it (NotifyAccess=main takes nothing else). */
    cr_assert_eq(h_signal(&srv, SIGUSR2), 0);
    expect_note(fd, "MAINPID=", "FDSTORE", &n);
    v = strstr(n.text, "MAINPID=");
    pid = (pid_t)atol(v + strlen("MAINPID="));
    cr_assert(pid > 0 && pid != srv.pid && n.pid == srv.pid, "'%s' from %d",
              n.text, (int)n.pid);
    /* The old master quits; systemd watches the new one now (its
     * WATCHDOG_PID is its own), and it alone talks from now on; a
     * datagram socket holds few messages: keep reading. */
    for (end = h_now_ms() + 15000; h_now_ms() < end;) {
        int gone = !h_alive(&srv);
        if (next_note(fd, &n, 100) == -1)
            continue;
        note_close(&n);
        cr_assert(strstr(n.text, "FDSTORE") == NULL, "'%s' from %d", n.text,
                  (int)n.pid);
        /* From the main process only: NotifyAccess=main refuses others. */
        cr_assert_eq(n.pid, pid, "'%s' from %d once %d is the main process",
                     n.text, (int)n.pid, (int)pid);
        if (gone && has_line(n.text, "WATCHDOG=1") && n.pid == pid)
            break;
    }
    cr_assert(h_now_ms() < end, "no ping from the new master %d%s", (int)pid,
              h_diag(&srv));
    cr_assert_eq(h_wait_exit(&srv, 0), 0, "the old master exited badly%s",
                 h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, port, 2000), 0);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    cr_assert(H_WAIT(H_STOP_MS, waitpid(pid, &status, WNOHANG) == pid),
              "the new master did not stop");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
}

/* --- READY=1 once the workers are up -------------------------------------- */

/* One testmod worker whose worker_init takes 1.5 s: READY=1 comes once it
 * is up, at start and after a reload, and the service answers at once. */
Test(systemd, ready_waits_for_a_worker_in_every_service, .fini = h_teardown,
     .timeout = 40)
{
    int     fd = manager(0), port = h_free_port(LO, SOCK_STREAM);
    int64_t t0;

    cr_assert_eq(h_config(&srv,
                          "[echo]\nmodule = echo\nlisten = %s:%d\n"
                          "workers = 1\n"
                          "[slow]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n"
                          "init_sleep = 1500ms\n",
                          LO, h_free_port(LO, SOCK_STREAM), H_TESTMOD, LO,
                          port),
                 0);
    t0 = h_now_ms();
    start();
    expect_message(fd, "READY=1", "STOPPING");
    cr_assert_geq(h_now_ms() - t0, 1400,
                  "READY=1 came %lld ms after the start, before the slow "
                  "worker was up",
                  (long long)(h_now_ms() - t0));
    cr_assert_eq(h_echo_once(LO, port, 500), 0, "not serving once READY");

    t0 = h_now_ms();
    reload(fd);
    expect_message(fd, "READY=1", "STOPPING");
    cr_assert_geq(h_now_ms() - t0, 1400,
                  "the reload's READY=1 came %lld ms after the HUP, before "
                  "its slow worker was up",
                  (long long)(h_now_ms() - t0));
    cr_assert(h_file_contains(srv.log, "generation 2 is up"), "%s",
              h_diag(&srv));
    stop(fd, NULL);
    close(fd);
}

/* A worker that never gets past worker_init within start_timeout: no
 * READY=1, and the master exits 1 saying why. */
Test(systemd, start_timeout_ends_a_start_that_never_serves, .fini = h_teardown,
     .timeout = 40)
{
    int fd = manager(0), port = h_free_port(LO, SOCK_STREAM), code;

    cr_assert_eq(h_config(&srv,
                          "start_timeout = 1s\n"
                          "[slow]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n"
                          "init_sleep = 3s\n",
                          H_TESTMOD, LO, port),
                 0);
    start();
    quiet_for(fd, "READY=1", 700);
    code = h_wait_exit(&srv, 8000);
    cr_assert_eq(code, 1, "exit %d, not 1%s", code, h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "[slow] no worker past worker_init "
                                       "within start_timeout (1000 ms)"),
              "%s", h_diag(&srv));
    close(fd);
}
