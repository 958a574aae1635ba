/*
 * test_listener.c -- listen address parsing and binding.
 *
 * Parsing is table-driven: every accepted form with its canonical text,
 * every refused one with the words its reason must contain.  Binding uses
 * real sockets on loopback and in a private temporary directory.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"

/* ---- parsing --------------------------------------------------------- */

struct good {
    const char    *in;
    const char    *dir;
    enum addr_kind kind;
    const char    *text;
};

static const struct good goods[] = {
    {"127.0.0.1:8080", NULL, ADDR_TCP, "tcp://127.0.0.1:8080"},
    {"tcp://127.0.0.1:80", NULL, ADDR_TCP, "tcp://127.0.0.1:80"},
    {"udp://127.0.0.1:7007", NULL, ADDR_UDP, "udp://127.0.0.1:7007"},
    {"127.0.0.1:1", NULL, ADDR_TCP, "tcp://127.0.0.1:1"},
    {"127.0.0.1:65535", NULL, ADDR_TCP, "tcp://127.0.0.1:65535"},
    {"[::1]:7007", NULL, ADDR_TCP, "tcp://[::1]:7007"},
    {"udp://[::1]:7007", NULL, ADDR_UDP, "udp://[::1]:7007"},
    {"[::]:80", NULL, ADDR_TCP, "tcp://[::]:80"},
    {"[0:0:0:0:0:0:0:1]:80", NULL, ADDR_TCP, "tcp://[::1]:80"},
    {"*:80", NULL, ADDR_TCP, "tcp://0.0.0.0:80"},
    {":80", NULL, ADDR_TCP, "tcp://0.0.0.0:80"},
    {"udp://*:53", NULL, ADDR_UDP, "udp://0.0.0.0:53"},
    {"tcp://:8080", NULL, ADDR_TCP, "tcp://0.0.0.0:8080"},
    {"unix:/run/prefork.sock", NULL, ADDR_UNIX, "unix:/run/prefork.sock"},
    {"unix:/run/x.sock", "/srv", ADDR_UNIX, "unix:/run/x.sock"},
    {"unix:run/x.sock", "/srv/pf", ADDR_UNIX, "unix:/srv/pf/run/x.sock"},
    {"unix:x.sock", "/srv/pf/", ADDR_UNIX, "unix:/srv/pf/x.sock"},
};

Test(addr_parse, accepts_every_documented_form)
{
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
        const struct good *g = &goods[i];
        struct addr        a;
        char               err[256] = "";

        int rc = addr_parse(g->in, g->dir, &a, err, sizeof(err));

        cr_expect_eq(rc, 0, "%s: refused: %s", g->in, err);
        if (rc != 0)
            continue;
        cr_expect_eq(a.kind, g->kind, "%s: kind %d", g->in, a.kind);
        cr_expect_str_eq(a.text, g->text, "%s", g->in);
    }
}

Test(addr_parse, fills_a_bindable_sockaddr)
{
    struct addr          a;
    char                 err[256];
    struct sockaddr_in  *sin = (struct sockaddr_in *)&a.ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;
    struct sockaddr_un  *sun = (struct sockaddr_un *)&a.ss;

    cr_assert_eq(addr_parse("127.0.0.1:8080", NULL, &a, err, sizeof(err)), 0);
    cr_expect_eq(sin->sin_family, AF_INET);
    cr_expect_eq(ntohs(sin->sin_port), 8080);
    cr_expect_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    cr_expect_eq(a.len, sizeof(struct sockaddr_in));

    cr_assert_eq(addr_parse("*:81", NULL, &a, err, sizeof(err)), 0);
    cr_expect_eq(sin->sin_addr.s_addr, htonl(INADDR_ANY));

    cr_assert_eq(addr_parse("udp://[::1]:53", NULL, &a, err, sizeof(err)), 0);
    cr_expect_eq(sin6->sin6_family, AF_INET6);
    cr_expect_eq(ntohs(sin6->sin6_port), 53);
    cr_expect(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));

    cr_assert_eq(addr_parse("unix:/tmp/a.sock", NULL, &a, err, sizeof(err)), 0);
    cr_expect_eq(sun->sun_family, AF_UNIX);
    cr_expect_str_eq(sun->sun_path, "/tmp/a.sock");
}

Test(addr_parse, resolves_hostnames)
{
    struct addr a;
    char        err[256] = "";

    cr_assert_eq(addr_parse("localhost:8080", NULL, &a, err, sizeof(err)), 0,
                 "%s", err);
    cr_expect_eq(a.kind, ADDR_TCP);
    cr_expect(strcmp(a.text, "tcp://127.0.0.1:8080") == 0 ||
                  strcmp(a.text, "tcp://[::1]:8080") == 0,
              "localhost gave %s", a.text);
}

Test(addr_parse, relative_unix_path_without_dir_is_made_absolute)
{
    struct addr a;
    char        err[256] = "", cwd[4096], want[4200];

    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    snprintf(want, sizeof(want), "unix:%s/x.sock", cwd);
    if (strlen(want) >= sizeof(a.text))
        cr_skip_test("working directory too long for this test");
    cr_assert_eq(addr_parse("unix:x.sock", NULL, &a, err, sizeof(err)), 0, "%s",
                 err);
    cr_expect_str_eq(a.text, want);
}

struct bad {
    const char *in;
    const char *why; /* must appear in the reason */
};

static const struct bad bads[] = {
    {"", "empty address"},
    {"127.0.0.1", "missing port"},
    {"127.0.0.1:", "missing port"},
    {"localhost", "missing port"},
    {"127.0.0.1:0", "1 to 65535"},
    {"127.0.0.1:65536", "1 to 65535"},
    {"127.0.0.1:99999999999999999999", "1 to 65535"},
    {"127.0.0.1:80x", "1 to 65535"},
    {"127.0.0.1:-1", "1 to 65535"},
    {"127.0.0.1:+80", "1 to 65535"},
    {"127.0.0.1: 80", "1 to 65535"},
    {"127.0.0.1:http", "1 to 65535"},
    {"::1:80", "brackets"},
    {"[::1:80", "missing ']'"},
    {"[::1]80", ":PORT"},
    {"[::1]", ":PORT"},
    {"[]:80", "empty IPv6"},
    {"[127.0.0.1]:80", "not an IPv6 address"},
    {"[::1]:0", "1 to 65535"},
    {"http://127.0.0.1:80", "unknown scheme"},
    {"sctp://127.0.0.1:80", "unknown scheme"},
    {"unix:", "missing socket path"},
    {"tcp://", "missing port"},
    {"udp://127.0.0.1", "missing port"},
    {"host name:80", "space"},
    {" 127.0.0.1:80", "space"},
    {"no-such-host.invalid:80", "cannot resolve"},
};

Test(addr_parse, refuses_garbage_with_a_reason)
{
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        const struct bad *b = &bads[i];
        struct addr       a;
        char              err[256] = "";

        cr_expect_eq(addr_parse(b->in, "/srv", &a, err, sizeof(err)), -1,
                     "'%s' was accepted as %s", b->in, a.text);
        cr_expect_neq(strstr(err, b->why), NULL, "'%s': reason '%s' lacks '%s'",
                      b->in, err, b->why);
    }
}

Test(addr_parse, refuses_unix_path_longer_than_sun_path)
{
    struct sockaddr_un sun;
    char               in[300], err[256] = "";
    struct addr        a;
    size_t             max = sizeof(sun.sun_path) - 1;

    /* "unix:/" followed by max - 1 letters is exactly the longest path. */
    strcpy(in, "unix:/");
    memset(in + 6, 'a', max - 1);
    in[6 + max - 1] = '\0';
    cr_expect_eq(addr_parse(in, NULL, &a, err, sizeof(err)), 0, "%s", err);

    in[6 + max - 1] = 'a';
    in[6 + max] = '\0';
    cr_expect_eq(addr_parse(in, NULL, &a, err, sizeof(err)), -1);
    cr_expect_neq(strstr(err, "longer than"), NULL, "%s", err);

    /* A relative path counts once the directory is in front of it. */
    cr_expect_eq(addr_parse("unix:x.sock", in + 5, &a, err, sizeof(err)), -1);
    cr_expect_neq(strstr(err, "longer than"), NULL, "%s", err);
}

Test(addr_parse_list, splits_and_trims)
{
    struct addr *v = NULL;
    size_t       n = 0;
    char         err[256] = "";

    cr_assert_eq(addr_parse_list(" 127.0.0.1:80,udp://127.0.0.1:80 ,\t"
                                 "unix:s.sock ",
                                 "/srv", &v, &n, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(v[0].text, "tcp://127.0.0.1:80");
    cr_expect_str_eq(v[1].text, "udp://127.0.0.1:80");
    cr_expect_str_eq(v[2].text, "unix:/srv/s.sock");
    free(v);

    cr_assert_eq(addr_parse_list("[::1]:1", NULL, &v, &n, err, sizeof(err)), 0,
                 "%s", err);
    cr_expect_eq(n, 1);
    cr_expect_str_eq(v[0].text, "tcp://[::1]:1");
    free(v);
}

Test(addr_parse_list, refuses_empty_items_duplicates_and_bad_items)
{
    static const struct bad lists[] = {
        {"", "empty address"},
        {" ", "empty address"},
        {"127.0.0.1:80,", "empty address"},
        {",127.0.0.1:80", "empty address"},
        {"127.0.0.1:80,,127.0.0.1:81", "empty address"},
        {"127.0.0.1:80, ,127.0.0.1:81", "empty address"},
        {"127.0.0.1:80,127.0.0.1:80", "listed twice"},
        {"*:80, 0.0.0.0:80", "listed twice"},
        {"127.0.0.1:80,127.0.0.1:99999", "127.0.0.1:99999"},
    };

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct addr *v = (struct addr *)&v; /* must be reset to NULL */
        size_t       n = 42;
        char         err[256] = "";

        cr_expect_eq(
            addr_parse_list(lists[i].in, NULL, &v, &n, err, sizeof(err)), -1,
            "'%s' accepted", lists[i].in);
        cr_expect_null(v, "'%s'", lists[i].in);
        cr_expect_eq(n, 0, "'%s'", lists[i].in);
        cr_expect_neq(strstr(err, lists[i].why), NULL,
                      "'%s': reason '%s' lacks '%s'", lists[i].in, err,
                      lists[i].why);
    }
}

/* ---- binding --------------------------------------------------------- */

/* A port nobody uses right now: bind port 0 and see what the kernel gave. */
static int free_port(int family, int type)
{
    struct sockaddr_storage ss;
    socklen_t               len;
    int                     fd, port;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*s4);
    }
    fd = socket(family, type | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
        close(fd);
        return -1;
    }
    port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                    : ((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return port;
}

/* A TCP port free in both families: found by a dual-stack bind of [::],
 * which a client's socket on 127.0.0.1 (in TIME_WAIT, say) would block. */
static int dual_free_port(void)
{
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    socklen_t           len = sizeof(s6);
    int                 off = 0, port = -1;
    int                 fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0 &&
        bind(fd, (struct sockaddr *)&s6, len) == 0 &&
        getsockname(fd, (struct sockaddr *)&s6, &len) == 0)
        port = ntohs(s6.sin6_port);
    close(fd);
    return port;
}

static void parse_or_die(const char *text, const char *dir, struct addr *a)
{
    char err[256] = "";

    cr_assert_eq(addr_parse(text, dir, a, err, sizeof(err)), 0, "%s: %s", text,
                 err);
}

/* host is everything before ":PORT": "127.0.0.1", "udp://[::1]"... */
static void parse_port_or_die(const char *host, int port, struct addr *a)
{
    char text[256];

    snprintf(text, sizeof(text), "%s:%d", host, port);
    parse_or_die(text, NULL, a);
}

static int intopt(int fd, int level, int name)
{
    int       v = -1;
    socklen_t len = sizeof(v);

    cr_assert_eq(getsockopt(fd, level, name, &v, &len), 0, "getsockopt: %s",
                 strerror(errno));
    return v;
}

static void expect_cloexec_nonblock(int fd)
{
    int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);

    cr_assert_neq(fdfl, -1);
    cr_assert_neq(fl, -1);
    cr_expect(fdfl & FD_CLOEXEC, "fd %d is not close-on-exec", fd);
    cr_expect(fl & O_NONBLOCK, "fd %d is blocking", fd);
}

static void expect_connects(const struct addr *a)
{
    int c = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_neq(c, -1);
    cr_expect_eq(connect(c, (const struct sockaddr *)&a->ss, a->len), 0,
                 "connect %s: %s", a->text, strerror(errno));
    close(c);
}

Test(listener_open, tcp_listens_nonblocking_cloexec)
{
    struct addr a;
    char        err[256] = "";
    int         port = free_port(AF_INET, SOCK_STREAM), fd;

    cr_assert_gt(port, 0);
    parse_port_or_die("127.0.0.1", port, &a);
    fd = listener_open(&a, 16, 0, err, sizeof(err));
    cr_assert_geq(fd, 0, "%s", err);
    expect_cloexec_nonblock(fd);
    cr_expect_eq(intopt(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    cr_expect_eq(intopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    cr_expect_neq(intopt(fd, SOL_SOCKET, SO_REUSEADDR), 0);
    cr_expect_eq(intopt(fd, SOL_SOCKET, SO_REUSEPORT), 0);
    expect_connects(&a);
    close(fd);
}

Test(listener_open, tcp_port_in_use_is_refused_unless_reuseport)
{
    struct addr a;
    char        err[256] = "";
    int         port = free_port(AF_INET, SOCK_STREAM), fd1, fd2;

    cr_assert_gt(port, 0);
    parse_port_or_die("tcp://127.0.0.1", port, &a);
    fd1 = listener_open(&a, 16, 0, err, sizeof(err));
    cr_assert_geq(fd1, 0, "%s", err);
    cr_expect_eq(listener_open(&a, 16, 0, err, sizeof(err)), -1);
    cr_expect_neq(strstr(err, a.text), NULL, "%s", err);
    cr_expect_neq(strstr(err, strerror(EADDRINUSE)), NULL, "%s", err);
    close(fd1);

    parse_port_or_die("tcp://127.0.0.1", free_port(AF_INET, SOCK_STREAM), &a);
    fd1 = listener_open(&a, 16, 1, err, sizeof(err));
    cr_assert_geq(fd1, 0, "%s", err);
    fd2 = listener_open(&a, 16, 1, err, sizeof(err));
    cr_expect_geq(fd2, 0, "second SO_REUSEPORT socket: %s", err);
    cr_expect_neq(intopt(fd1, SOL_SOCKET, SO_REUSEPORT), 0);
    close(fd1);
    if (fd2 >= 0)
        close(fd2);
}

/* The kernel doubles what it is asked for and caps it at [rw]mem_max. */
static long expected_buf(const char *sysctl)
{
    FILE *f = fopen(sysctl, "r");
    long  max = -1;

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld", &max) != 1)
        max = -1;
    fclose(f);
    if (max < 0)
        return -1;
    return 2 * (max < (1 << 20) ? max : (1 << 20));
}

Test(listener_open, udp_binds_with_large_buffers)
{
    struct addr a;
    char        err[256] = "", buf[16];
    int         port = free_port(AF_INET, SOCK_DGRAM), fd, c;
    long        want;

    cr_assert_gt(port, 0);
    parse_port_or_die("udp://127.0.0.1", port, &a);
    fd = listener_open(&a, 16, 0, err, sizeof(err));
    cr_assert_geq(fd, 0, "%s", err);
    expect_cloexec_nonblock(fd);
    cr_expect_eq(intopt(fd, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
    /* UDP must not share a port with another process by accident. */
    cr_expect_eq(intopt(fd, SOL_SOCKET, SO_REUSEADDR), 0);
    want = expected_buf("/proc/sys/net/core/rmem_max");
    if (want > 0)
        cr_expect_geq(intopt(fd, SOL_SOCKET, SO_RCVBUF), want);
    want = expected_buf("/proc/sys/net/core/wmem_max");
    if (want > 0)
        cr_expect_geq(intopt(fd, SOL_SOCKET, SO_SNDBUF), want);

    c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_neq(c, -1);
    cr_assert_eq(sendto(c, "ping", 4, 0, (struct sockaddr *)&a.ss, a.len), 4);
    close(c);
    for (int i = 0; i < 100; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        if (n == -1 && errno == EAGAIN) {
            usleep(10000);
            continue;
        }
        cr_expect_eq(n, 4);
        cr_expect_eq(memcmp(buf, "ping", 4), 0);
        break;
    }
    close(fd);
}

Test(listener_open, ipv6_loopback_is_v6only)
{
    struct addr a;
    char        err[256] = "";
    int         port = free_port(AF_INET6, SOCK_STREAM), fd;

    if (port <= 0)
        cr_skip_test("::1 is not available here");
    parse_port_or_die("[::1]", port, &a);
    fd = listener_open(&a, 16, 0, err, sizeof(err));
    cr_assert_geq(fd, 0, "%s", err);
    expect_cloexec_nonblock(fd);
    cr_expect_eq(intopt(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    expect_connects(&a);
    close(fd);
}

/* "[::]:P, *:P" is how one serves both families: the v6 wildcard must not
 * take the v4 port too.  (Binding ::1 would not show it: the kernel makes
 * any socket bound to a specific v6 address v6-only by itself.) */
Test(listener_open, ipv6_wildcard_leaves_ipv4_port_free)
{
    struct addr a6, a4;
    char        err[256] = "";
    int         port = dual_free_port(), fd6, fd4;

    if (port <= 0)
        cr_skip_test("IPv6 is not available here");
    parse_port_or_die("[::]", port, &a6);
    parse_port_or_die("*", port, &a4);
    fd6 = listener_open(&a6, 16, 0, err, sizeof(err));
    cr_assert_geq(fd6, 0, "%s", err);
    cr_expect_eq(intopt(fd6, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    fd4 = listener_open(&a4, 16, 0, err, sizeof(err));
    cr_expect_geq(fd4, 0, "v4 wildcard after v6 wildcard: %s", err);
    close(fd6);
    if (fd4 >= 0)
        close(fd4);
}

/* ---- UNIX sockets ---------------------------------------------------- */

static char tmpdir[] = "/tmp/pf-listener-XXXXXX";

static void make_tmpdir(void)
{
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void remove_tmpdir(void)
{
    static const char *const names[] = {"s.sock", "plain", "rel.sock"};
    char                     path[256];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

static int is_socket(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static const char *unix_path(const struct addr *a)
{
    return ((const struct sockaddr_un *)&a->ss)->sun_path;
}

TestSuite(unix_listener, .init = make_tmpdir, .fini = remove_tmpdir);

Test(unix_listener, binds_relative_to_dir_and_unlinks)
{
    struct addr a;
    char        err[256] = "", want[256];
    int         fd;

    parse_or_die("unix:rel.sock", tmpdir, &a);
    snprintf(want, sizeof(want), "%s/rel.sock", tmpdir);
    cr_assert_str_eq(unix_path(&a), want);
    fd = listener_open(&a, 16, 0, err, sizeof(err));
    cr_assert_geq(fd, 0, "%s", err);
    expect_cloexec_nonblock(fd);
    cr_expect_eq(intopt(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    cr_expect(is_socket(want));
    expect_connects(&a);
    close(fd);
    listener_unlink(&a);
    cr_expect_eq(access(want, F_OK), -1, "%s still exists", want);
}

Test(unix_listener, stale_socket_is_replaced)
{
    struct addr a;
    char        err[256] = "";
    int         fd;

    parse_or_die("unix:s.sock", tmpdir, &a);
    fd = listener_open(&a, 16, 0, err, sizeof(err));
    cr_assert_geq(fd, 0, "%s", err);
    close(fd); /* the server "died": the file stays, nobody listens */
    cr_assert(is_socket(unix_path(&a)));

    fd = listener_open(&a, 16, 0, err, sizeof(err));
    cr_assert_geq(fd, 0, "stale socket not replaced: %s", err);
    expect_connects(&a);
    close(fd);
}

Test(unix_listener, live_socket_is_refused_and_left_alone)
{
    struct addr a;
    char        err[256] = "";
    int         fd;

    parse_or_die("unix:s.sock", tmpdir, &a);
    fd = listener_open(&a, 16, 0, err, sizeof(err));
    cr_assert_geq(fd, 0, "%s", err);

    cr_expect_eq(listener_open(&a, 16, 0, err, sizeof(err)), -1);
    cr_expect_neq(strstr(err, "in use by a running server"), NULL, "%s", err);
    cr_expect_neq(strstr(err, a.text), NULL, "%s", err);
    /* The running server still has its socket. */
    expect_connects(&a);
    close(fd);
}

Test(unix_listener, non_socket_file_is_refused_and_kept)
{
    struct addr a;
    char        err[256] = "", buf[8] = "";
    int         f;

    parse_or_die("unix:plain", tmpdir, &a);
    f = open(unix_path(&a), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_neq(f, -1);
    cr_assert_eq(write(f, "data", 4), 4);
    close(f);

    cr_expect_eq(listener_open(&a, 16, 0, err, sizeof(err)), -1);
    cr_expect_neq(strstr(err, "not a socket"), NULL, "%s", err);

    listener_unlink(&a); /* must not remove a file that is not a socket */
    f = open(unix_path(&a), O_RDONLY | O_CLOEXEC);
    cr_assert_neq(f, -1, "the file was removed");
    cr_expect_eq(read(f, buf, sizeof(buf)), 4);
    cr_expect_str_eq(buf, "data");
    close(f);
}

Test(unix_listener, reuseport_is_refused)
{
    struct addr a;
    char        err[256] = "";

    parse_or_die("unix:s.sock", tmpdir, &a);
    cr_expect_eq(listener_open(&a, 16, 1, err, sizeof(err)), -1);
    cr_expect_neq(strstr(err, "reuseport"), NULL, "%s", err);
    cr_expect(!is_socket(unix_path(&a)), "a socket file was left behind");
}
