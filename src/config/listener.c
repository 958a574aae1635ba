/*
 * listener.c -- parsing listen addresses and binding sockets to them.
 *
 * The master parses every address while it reads the config, so a typo is
 * reported with its file and line before anything starts, and binds every
 * socket before it forks, so workers only inherit descriptors and never need
 * privileges to bind.  Like redis's anet, nothing here logs: each function
 * writes its reason into a buffer the caller owns, and the caller decides
 * whether that goes to stderr (-t, start-up) or the error log (reload).
 */
#define _GNU_SOURCE

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "diag.h"
#include "listener.h"

/* UDP servers lose datagrams when a burst outruns the workers. */
#define UDP_BUFSIZE (1 << 20)

/* ---- parsing --------------------------------------------------------- */

static int parse_unix(const char *text, const char *path, const char *dir,
                      struct addr *out, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&out->ss;
    char                cwd[4096], full[sizeof(sun->sun_path) + 1];
    int                 n;

    if (*path == '\0') {
        errbuf_set(err, errlen, "'%s': missing socket path after unix:", text);
        return -1;
    }
    /* Resolved now: the master chdirs to / when it daemonizes. */
    if (*path == '/') {
        n = snprintf(full, sizeof(full), "%s", path);
    } else {
        if (dir == NULL || *dir != '/') {
            if (getcwd(cwd, sizeof(cwd)) == NULL) {
                errbuf_set(err, errlen,
                           "'%s': cannot resolve relative path: %s", text,
                           strerror(errno));
                return -1;
            }
        }
        if (dir == NULL)
            n = snprintf(full, sizeof(full), "%s/%s", cwd, path);
        else if (*dir != '/')
            n = snprintf(full, sizeof(full), "%s/%s/%s", cwd, dir, path);
        else
            n = snprintf(full, sizeof(full), "%s%s%s", dir,
                         dir[strlen(dir) - 1] == '/' ? "" : "/", path);
    }
    if (n < 0 || (size_t)n >= sizeof(sun->sun_path)) {
        errbuf_set(err, errlen, "'%s': socket path longer than %zu bytes", text,
                   sizeof(sun->sun_path) - 1);
        return -1;
    }
    out->kind = ADDR_UNIX;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, full, (size_t)n + 1);
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    snprintf(out->text, sizeof(out->text), "unix:%s", full);
    return 0;
}

/* Digits only, 1..65535: "80x", "+80", " 80" and "0" are all refused. */
static int parse_port(const char *s)
{
    long v = 0;

    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        v = v * 10 + (*s - '0');
        if (v > 65535)
            return -1;
    }
    return v >= 1 ? (int)v : -1;
}

/* Split "host:port" or "[v6]:port"; host and port point into buf. */
static int split_hostport(const char *text, char *buf, char **host, char **port,
                          int *bracketed, char *err, size_t errlen)
{
    char *colon;

    *bracketed = 0;
    if (*buf == '[') {
        char *close = strchr(buf, ']');

        if (close == NULL) {
            errbuf_set(err, errlen, "'%s': missing ']' after IPv6 address",
                       text);
            return -1;
        }
        if (close[1] != ':') {
            errbuf_set(err, errlen, "'%s': expected :PORT after ']'", text);
            return -1;
        }
        *close = '\0';
        *host = buf + 1;
        *port = close + 2;
        *bracketed = 1;
        if (**host == '\0') {
            errbuf_set(err, errlen, "'%s': empty IPv6 address", text);
            return -1;
        }
        return 0;
    }
    colon = strrchr(buf, ':');
    if (colon == NULL) {
        errbuf_set(err, errlen, "'%s': missing port (expected HOST:PORT)",
                   text);
        return -1;
    }
    *colon = '\0';
    if (strchr(buf, ':') != NULL) {
        errbuf_set(err, errlen,
                   "'%s': an IPv6 address must be in brackets, "
                   "as in [::1]:PORT",
                   text);
        return -1;
    }
    *host = buf;
    *port = colon + 1;
    return 0;
}

static int resolve(const char *text, const char *host, const char *port,
                   int bracketed, struct addr *out, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    const char     *name = host;
    int             rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = out->kind == ADDR_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (bracketed ? AI_NUMERICHOST : 0);
    if (*host == '\0' || strcmp(host, "*") == 0) {
        /* Every IPv4 address, as nginx reads "listen 80". */
        hints.ai_family = AF_INET;
        hints.ai_flags |= AI_PASSIVE;
        host = NULL;
    }
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        if (bracketed && rc != EAI_SYSTEM && rc != EAI_MEMORY)
            errbuf_set(err, errlen, "'%s': '%s' is not an IPv6 address", text,
                       name);
        else
            errbuf_set(err, errlen, "'%s': cannot resolve '%s': %s", text, name,
                       rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    if (res->ai_addrlen > sizeof(out->ss)) {
        freeaddrinfo(res);
        errbuf_set(err, errlen, "'%s': address too long", text);
        return -1;
    }
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* "tcp://127.0.0.1:80", "udp://[::1]:7007": what logs and status show. */
static int canonical(struct addr *a, char *err, size_t errlen)
{
    char        host[NI_MAXHOST], port[NI_MAXSERV];
    const char *scheme = a->kind == ADDR_UDP ? "udp" : "tcp";
    int         rc, n;

    rc = getnameinfo((struct sockaddr *)&a->ss, a->len, host, sizeof(host),
                     port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
    if (rc != 0) {
        errbuf_set(err, errlen, "cannot format address: %s", gai_strerror(rc));
        return -1;
    }
    if (a->ss.ss_family == AF_INET6)
        n = snprintf(a->text, sizeof(a->text), "%s://[%s]:%s", scheme, host,
                     port);
    else
        n = snprintf(a->text, sizeof(a->text), "%s://%s:%s", scheme, host,
                     port);
    if (n < 0 || (size_t)n >= sizeof(a->text)) {
        errbuf_set(err, errlen, "address '%s' too long", host);
        return -1;
    }
    return 0;
}

int addr_parse(const char *text, const char *dir, struct addr *out, char *err,
               size_t errlen)
{
    char        buf[512], *host, *port;
    const char *rest = text;
    int         bracketed;

    memset(out, 0, sizeof(*out));
    if (text == NULL || *text == '\0') {
        errbuf_set(err, errlen, "empty address");
        return -1;
    }
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text, text + 5, dir, out, err, errlen);
    out->kind = ADDR_TCP;
    if (strncmp(text, "tcp://", 6) == 0) {
        rest = text + 6;
    } else if (strncmp(text, "udp://", 6) == 0) {
        out->kind = ADDR_UDP;
        rest = text + 6;
    } else if (strstr(text, "://") != NULL) {
        errbuf_set(err, errlen,
                   "'%s': unknown scheme (use tcp://, udp:// or "
                   "unix:)",
                   text);
        return -1;
    }
    if (strlen(rest) >= sizeof(buf)) {
        errbuf_set(err, errlen, "address too long");
        return -1;
    }
    strcpy(buf, rest);
    if (split_hostport(text, buf, &host, &port, &bracketed, err, errlen) == -1)
        return -1;
    for (const char *p = host; *p != '\0'; p++) {
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
            errbuf_set(err, errlen, "'%s': space or control character in host",
                       text);
            return -1;
        }
    }
    if (*port == '\0') {
        errbuf_set(err, errlen, "'%s': missing port after ':'", text);
        return -1;
    }
    if (parse_port(port) == -1) {
        errbuf_set(err, errlen, "'%s': port must be a number from 1 to 65535",
                   text);
        return -1;
    }
    if (resolve(text, host, port, bracketed, out, err, errlen) == -1)
        return -1;
    return canonical(out, err, errlen);
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int add_one(char *item, const char *dir, struct addr *v, size_t *n,
                   char *err, size_t errlen)
{
    item = trim(item);
    if (*item == '\0') {
        errbuf_set(err, errlen, "empty address in list");
        return -1;
    }
    if (addr_parse(item, dir, &v[*n], err, errlen) == -1)
        return -1;
    /* The second bind would fail with EADDRINUSE; say why here instead. */
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(v[i].text, v[*n].text) == 0) {
            errbuf_set(err, errlen, "'%s': %s is listed twice", item,
                       v[i].text);
            return -1;
        }
    }
    (*n)++;
    return 0;
}

int addr_parse_list(const char *text, const char *dir, struct addr **out,
                    size_t *n, char *err, size_t errlen)
{
    struct addr *v = NULL;
    char        *copy = NULL, *item, *comma;
    size_t       count = 1;

    *out = NULL;
    *n = 0;
    for (const char *p = text; *p != '\0'; p++)
        count += *p == ',';
    copy = strdup(text);
    v = calloc(count, sizeof(*v));
    if (copy == NULL || v == NULL) {
        errbuf_set(err, errlen, "%s", strerror(errno));
        goto fail;
    }
    for (item = copy;; item = comma + 1) {
        comma = strchr(item, ',');
        if (comma != NULL)
            *comma = '\0';
        if (add_one(item, dir, v, n, err, errlen) == -1)
            goto fail;
        if (comma == NULL)
            break;
    }
    free(copy);
    *out = v;
    return 0;
fail:
    free(v);
    free(copy);
    *n = 0;
    return -1;
}

/* ---- binding --------------------------------------------------------- */

static int setopt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof(value));
}

/*
 * A socket file is left behind when a server dies without unlinking it.
 * Whether anyone still listens there is only known by connecting: refused
 * means the file is stale and may go; anything else means it is not ours.
 */
static int clear_unix_path(const struct addr *a, char *err, size_t errlen)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
    struct stat               st;
    int                       fd = -1, rc;

    if (lstat(sun->sun_path, &st) == -1) {
        if (errno == ENOENT)
            return 0;
        errbuf_set(err, errlen, "%s: %s", a->text, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        errbuf_set(err, errlen, "%s: the file exists and is not a socket",
                   a->text);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        errbuf_set(err, errlen, "%s: socket: %s", a->text, strerror(errno));
        return -1;
    }
    do
        rc = connect(fd, (const struct sockaddr *)&a->ss, a->len);
    while (rc == -1 && errno == EINTR);
    if (rc == -1 && errno == ECONNREFUSED) {
        close(fd);
        if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
            errbuf_set(err, errlen, "%s: cannot remove stale socket: %s",
                       a->text, strerror(errno));
            return -1;
        }
        return 0;
    }
    close(fd);
    /* Connected, backlog full (EAGAIN) or a datagram socket (EPROTOTYPE):
     * something is alive behind it. */
    if (rc == 0 || errno == EAGAIN || errno == EPROTOTYPE) {
        errbuf_set(err, errlen, "%s: in use by a running server", a->text);
        return -1;
    }
    errbuf_set(err, errlen, "%s: cannot probe existing socket: %s", a->text,
               strerror(errno));
    return -1;
}

/* Best effort: the kernel caps the size at net.core.[rw]mem_max. */
static void grow_udp_buffers(int fd)
{
    static const int names[] = {SO_RCVBUF, SO_SNDBUF};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int       cur = 0;
        socklen_t len = sizeof(cur);

        if (getsockopt(fd, SOL_SOCKET, names[i], &cur, &len) == 0 &&
            cur >= UDP_BUFSIZE)
            continue;
        (void)setopt(fd, SOL_SOCKET, names[i], UDP_BUFSIZE);
    }
}

static int set_options(int fd, const struct addr *a, int reuseport, char *err,
                       size_t errlen)
{
    const char *what = NULL;

    /* Restarting must not wait out TIME_WAIT connections of the old run. */
    if (a->kind == ADDR_TCP && setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1)
        what = "SO_REUSEADDR";
    else if (reuseport && setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1) == -1)
        what = "SO_REUSEPORT";
    /* [::]:80 must not also take 0.0.0.0:80 from another listen line. */
    else if (a->ss.ss_family == AF_INET6 &&
             setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) == -1)
        what = "IPV6_V6ONLY";
    if (what != NULL) {
        errbuf_set(err, errlen, "%s: setsockopt %s: %s", a->text, what,
                   strerror(errno));
        return -1;
    }
    if (a->kind == ADDR_UDP)
        grow_udp_buffers(fd);
    return 0;
}

int listener_open(const struct addr *a, int backlog, int reuseport, char *err,
                  size_t errlen)
{
    int type = a->kind == ADDR_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = -1, bound = 0;

    if (a->kind == ADDR_UNIX && reuseport) {
        errbuf_set(err, errlen, "%s: reuseport needs a TCP or UDP address",
                   a->text);
        return -1;
    }
    if (a->kind == ADDR_UNIX && clear_unix_path(a, err, errlen) == -1)
        return -1;
    fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        errbuf_set(err, errlen, "%s: socket: %s", a->text, strerror(errno));
        goto fail;
    }
    if (set_options(fd, a, reuseport, err, errlen) == -1)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
        errbuf_set(err, errlen, "%s: bind: %s", a->text, strerror(errno));
        goto fail;
    }
    bound = 1;
    if (type == SOCK_STREAM && listen(fd, backlog) == -1) {
        errbuf_set(err, errlen, "%s: listen: %s", a->text, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    if (fd != -1)
        close(fd);
    if (bound)
        listener_unlink(a);
    return -1;
}

void listener_unlink(const struct addr *a)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
    struct stat               st;

    if (a->kind != ADDR_UNIX)
        return;
    /* Only a socket: a file put there since is not ours to remove. */
    if (lstat(sun->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
        (void)unlink(sun->sun_path);
}

/* ---- sockets handed over by systemd or an old master ------------------ */

static int getint(int fd, int level, int name, int *v)
{
    socklen_t len = sizeof(*v);

    return getsockopt(fd, level, name, v, &len);
}

static int adopt_address(int fd, int type, struct addr *a, char *err,
                         size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
    size_t              n;

    memset(a, 0, sizeof(*a));
    a->len = sizeof(a->ss);
    if (getsockname(fd, (struct sockaddr *)&a->ss, &a->len) == -1) {
        errbuf_set(err, errlen, "getsockname: %s", strerror(errno));
        return -1;
    }
    if (a->ss.ss_family != AF_UNIX) {
        if (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6) {
            errbuf_set(err, errlen, "address family %d is not served",
                       (int)a->ss.ss_family);
            return -1;
        }
        a->kind = type == SOCK_DGRAM ? ADDR_UDP : ADDR_TCP;
        return canonical(a, err, errlen);
    }
    n = a->len > offsetof(struct sockaddr_un, sun_path)
            ? a->len - offsetof(struct sockaddr_un, sun_path)
            : 0;
    if (type != SOCK_STREAM || n < 2 || sun->sun_path[0] == '\0') {
        errbuf_set(err, errlen,
                   "only UNIX stream sockets with a path are "
                   "served");
        return -1;
    }
    sun->sun_path[n - 1] = '\0';
    a->kind = ADDR_UNIX;
    snprintf(a->text, sizeof(a->text), "unix:%s", sun->sun_path);
    return 0;
}

int listener_adopt(int fd, struct addr *a, int *reuseport, char *err,
                   size_t errlen)
{
    int type = 0, listening = 0, flags;

    if (getint(fd, SOL_SOCKET, SO_TYPE, &type) == -1) {
        errbuf_set(err, errlen, "not a socket: %s", strerror(errno));
        return -1;
    }
    if (type != SOCK_STREAM && type != SOCK_DGRAM) {
        errbuf_set(err, errlen, "socket type %d is not served", type);
        return -1;
    }
    if (adopt_address(fd, type, a, err, errlen) == -1)
        return -1;
    if (type == SOCK_STREAM &&
        (getint(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening) == -1 ||
         !listening)) {
        errbuf_set(err, errlen, "%s: not a listening socket", a->text);
        return -1;
    }
    *reuseport = 0;
    if (getint(fd, SOL_SOCKET, SO_REUSEPORT, reuseport) == -1)
        *reuseport = 0;
    *reuseport = *reuseport != 0;
    flags = fcntl(fd, F_GETFL);
    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
        errbuf_set(err, errlen, "%s: fcntl: %s", a->text, strerror(errno));
        return -1;
    }
    return 0;
}
