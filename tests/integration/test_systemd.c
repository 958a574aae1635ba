/*
 * test_systemd.c -- prefork under a service manager, faked: a datagram
 * socket in NOTIFY_SOCKET receives what sd_notify sends (READY, RELOADING,
 * STOPPING), and listening sockets the test binds are handed over as
 * systemd does (descriptors from 3, LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES).  Built without libsystemd, prefork does neither, and
 * these tests are skipped.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

#define LO "127.0.0.1"

static struct h_server srv;

static void need_systemd(void)
{
#ifndef PF_HAVE_SYSTEMD
    cr_skip_test("prefork was built without libsystemd");
#endif
}

/* The fake service manager's end: a datagram socket at DIR/notify. */
static int notify_socket(char *env, size_t len)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int                fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", srv.dir);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0, "bind: %s",
                 strerror(errno));
    snprintf(env, len, "NOTIFY_SOCKET=%s", sun.sun_path);
    return fd;
}

/* The next message within ms, NUL-terminated in buf; 0, or -1 on timeout. */
static int next_message(int fd, char *buf, size_t cap, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t       n;

    if (poll(&p, 1, ms) != 1)
        return -1;
    n = recv(fd, buf, cap - 1, 0);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* Wait for a message holding want; fail the test on anything holding
 * forbid first (NULL: nothing is forbidden). */
static void expect_message(int fd, const char *want, const char *forbid)
{
    char    buf[512];
    int64_t deadline = h_now_ms() + 10000;

    while (h_now_ms() < deadline) {
        if (next_message(fd, buf, sizeof buf, 500) == -1)
            continue;
        cr_assert(forbid == NULL || strstr(buf, forbid) == NULL,
                  "got '%s' while waiting for '%s'", buf, want);
        if (strstr(buf, want) != NULL)
            return;
    }
    cr_assert_fail("no '%s' from the master%s", want, h_diag(&srv));
}

/* Hand the master fds as systemd does: from descriptor 3, with
 * LISTEN_FDS, LISTEN_FDNAMES (names colon-separated) and LISTEN_PID. */
static void as_systemd(const char *names, const int *fds, int n)
{
    static char count[32], fdnames[128];

    snprintf(count, sizeof count, "LISTEN_FDS=%d", n);
    snprintf(fdnames, sizeof fdnames, "LISTEN_FDNAMES=%s", names);
    srv.env[0] = count;
    srv.env[1] = fdnames;
    srv.env[2] = "LISTEN_PID";
    for (int i = 0; i < n; i++)
        srv.pass[i] = fds[i];
    srv.npass = n;
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

Test(systemd, notify_ready_reloading_stopping, .fini = h_teardown,
     .timeout = 40)
{
    char env[160];
    int  fd, port;

    need_systemd();
    cr_assert_eq(h_init(&srv), 0);
    fd = notify_socket(env, sizeof env);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "", port, 1), 0);
    srv.env[0] = env;
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    expect_message(fd, "READY=1", "STOPPING");
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "not serving once READY");
    /* libsystemd is the master's business: its workers let go of it. */
    {
        pid_t w[2];
        cr_assert_eq(h_workers(&srv, w, 2), 1);
        cr_assert(maps_libsystemd(srv.pid), "the master has no libsystemd");
        cr_assert(!maps_libsystemd(w[0]), "a worker still maps libsystemd");
    }

    h_signal(&srv, SIGHUP);
    expect_message(fd, "RELOADING=1", NULL);
    expect_message(fd, "READY=1", "STOPPING");

    /* A reload that fails still ends with READY: the old config runs on. */
    cr_assert_eq(h_write_file(srv.conf, "[echo]\nbogus line\n"), 0);
    h_signal(&srv, SIGHUP);
    expect_message(fd, "RELOADING=1", NULL);
    expect_message(fd, "READY=1", "STOPPING");
    cr_assert_eq(h_echo_once(LO, port, 2000), 0);

    h_signal(&srv, SIGTERM);
    expect_message(fd, "STOPPING=1", NULL);
    cr_assert_eq(h_wait_exit(&srv, H_STOP_MS), 0);
    close(fd);
}

Test(systemd, named_socket_replaces_listen, .fini = h_teardown, .timeout = 40)
{
    int lfd, port, other;

    need_systemd();
    cr_assert_eq(h_init(&srv), 0);
    lfd = bound_socket(SOCK_STREAM, &port);
    other = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "", other, 2), 0);
    as_systemd("echo", &lfd, 1);
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
    int  tfd, ufd, tport, uport, s;
    char buf[8];

    need_systemd();
    cr_assert_eq(h_init(&srv), 0);
    tfd = bound_socket(SOCK_STREAM, &tport);
    ufd = bound_socket(SOCK_DGRAM, &uport);
    /* The test keeps both bound: prefork binding them again would fail
     * (no SO_REUSEPORT), so a start proves it used what it was given. */
    cr_assert_eq(h_config(&srv,
                          "[echo]\nmodule = echo\nlisten = %s:%d\n"
                          "workers = 1\n"
                          "[udp]\nmodule = udp_echo\nlisten = udp://%s:%d\n"
                          "workers = 1\n",
                          LO, tport, LO, uport),
                 0);
    as_systemd("prefork.socket:prefork.socket", (int[]){tfd, ufd}, 2);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
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
}

Test(systemd, unusable_or_unmatched_sockets_are_closed, .fini = h_teardown,
     .timeout = 40)
{
    char file[160];
    int  lfd, port, ffd, eport;

    need_systemd();
    cr_assert_eq(h_init(&srv), 0);
    lfd = bound_socket(SOCK_STREAM, &port);
    snprintf(file, sizeof file, "%s/not-a-socket", srv.dir);
    ffd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert(ffd >= 0);
    eport = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "", eport, 1), 0);
    as_systemd("stray:file", (int[]){lfd, ffd}, 2);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, eport, 2000), 0, "%s", h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "matches no service: closed"), "%s",
              h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "inherited descriptor 4"), "%s",
              h_diag(&srv));
    close(lfd);
    close(ffd);
}
