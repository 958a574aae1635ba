/*
 * test_http.c -- the http module (SPEC section 6) served by the real binary
 * and spoken to over loopback sockets, as a browser, curl or a hostile
 * client would.
 *
 * Each test builds its own document root in the server's temporary
 * directory (files of 0 B to 1 MiB, a directory with and one without an
 * index, an awkward file name, symlinks inside and out of the root, a secret
 * just outside it), starts prefork on it and checks what a client sees:
 * byte-exact bodies and the headers caches rely on, keep-alive and
 * pipelining, conditional and range requests, redirects and listings, every
 * error status with the connection handling that goes with it, traversal
 * attempts, the header and keep-alive timeouts, the access log and its
 * reopening, the other two modes, the config checks, and a download by curl.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* tcp_info with tcpi_segs_in */
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pool.h"

#define LO    "127.0.0.1"
#define MIB   (1 << 20)
#define IO_MS 5000 /* any single exchange; far above what loopback needs */

/* Every file gets this mtime, so Last-Modified is known to the second. */
#define MTIME      1577836800 /* 2020-01-01 00:00:00 UTC */
#define MTIME_HTTP "Wed, 01 Jan 2020 00:00:00 GMT"

static struct h_server srv;
static int             port;

/* Files of every size that matters, filled by h_pattern(seed = index + 1).
 * The extension is one no MIME table knows. */
static const struct {
    const char *path;
    size_t      size;
} sized[] = {
    {"/empty.xyzzy", 0},   {"/one.xyzzy", 1},     {"/k1.xyzzy", 1000},
    {"/k16.xyzzy", 16000}, {"/k64.xyzzy", 65536}, {"/m1.xyzzy", 1 << 20},
};
#define NSIZED (sizeof sized / sizeof sized[0])
#define ONE    1 /* index of /one.xyzzy, the usual probe after a response */
#define K1     2 /* index of /k1.xyzzy, the usual subject of ranges */
#define K16    3 /* index of /k16.xyzzy: the largest the file cache holds */
#define M1     5 /* index of /m1.xyzzy */

static const char index_html[] = "<!doctype html><title>home</title>\n";
static const char sub_index[] = "<p>the index of sub</p>\n";
static const char secret[] = "outside-the-root secret 7f3a9c\n";
#define ODD_NAME "sp ace <&>.txt"

/* --- the document root ---------------------------------------------------- */

/* srv.dir/rel, in a buffer of the caller's. */
static const char *in_dir(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", srv.dir, rel);
    return buf;
}

/* Write len bytes to srv.dir/rel, modified at mtime. */
static void put_at(const char *rel, const void *data, size_t len, time_t mtime)
{
    const struct timespec t[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    char                  path[512];
    int                   fd;

    in_dir(path, sizeof path, rel);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s", path);
    cr_assert_eq(futimens(fd, t), 0);
    close(fd);
}

static void put(const char *rel, const void *data, size_t len)
{
    put_at(rel, data, len, MTIME);
}

static void put_text(const char *rel, const char *text)
{
    put(rel, text, strlen(text));
}

/* The pattern sized[i] holds; the caller frees it. */
static char *sized_data(size_t i)
{
    char *p = malloc(sized[i].size + 1);

    cr_assert(p != NULL);
    h_pattern(p, sized[i].size, (uint32_t)(i + 1));
    return p;
}

/* The body of /pN.txt: lengths differ, so a response read out of order or
 * cut short never passes for the right one. */
static void p_body(int n, char *buf, size_t cap)
{
    snprintf(buf, cap, "pipelined response %d %.*s\n", n, n * 3,
             "+++++++++++++++++++++++++++++++");
}

static void make_root(void)
{
    static const unsigned char png[] = {0x89, 'P',  'N',  'G', '\r',
                                        '\n', 0x1a, '\n', 0,   0};
    char                       path[512], rel[64], body[64];

    static const char *const dirs[] = {"www", "www/sub", "www/noindex",
                                       "www/noindex/deeper"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        cr_assert_eq(mkdir(in_dir(path, sizeof path, dirs[i]), 0755), 0);
    put_text("www/index.html", index_html);
    put_text("www/style.css", "body { color: red }\n");
    put("www/image.png", png, sizeof png);
    put_text("www/x.txt", "hello, log\n");
    for (int n = 0; n < 10; n++) {
        snprintf(rel, sizeof rel, "www/p%d.txt", n);
        p_body(n, body, sizeof body);
        put_text(rel, body);
    }
    put_text("www/sub/index.html", sub_index);
    put_text("www/noindex/a.txt", "a\n");
    put_text("www/noindex/" ODD_NAME, "odd\n");
    for (size_t i = 0; i < NSIZED; i++) {
        char *data = sized_data(i);

        snprintf(rel, sizeof rel, "www%s", sized[i].path);
        put(rel, data, sized[i].size);
        free(data);
    }
    put_text("secret.txt", secret); /* next to the root, not in it */
    cr_assert_eq(symlink("/etc/passwd", in_dir(path, sizeof path, "www/pw")),
                 0);
    cr_assert_eq(symlink("k1.xyzzy", in_dir(path, sizeof path, "www/inside")),
                 0);
    cr_assert_eq(symlink("..", in_dir(path, sizeof path, "www/up")), 0);
}

/* Start prefork serving www/ (a path relative to the config, which the
 * server must resolve from there, not from its working directory), with
 * server keys and the service's extra keys. */
static void start_http_with(const char *server, int workers, const char *mode,
                            const char *extra)
{
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert(port > 0, "no free port");
    make_root();
    cr_assert_eq(h_config(&srv,
                          "%s[web]\nmodule = http\nlisten = %s:%d\n"
                          "root = www\nworkers = %d\nmode = %s\n%s",
                          server, LO, port, workers, mode, extra),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == workers),
              "expected %d workers, got %d%s", workers, h_nworkers(&srv),
              h_diag(&srv));
}

static void start_http(int workers, const char *mode, const char *extra)
{
    start_http_with("", workers, mode, extra);
}

/* --- a client connection -------------------------------------------------- */

/* A connection and what it received but nobody has read yet: responses
 * are taken from the front, so pipelined ones are never lost. */
struct conn {
    int    fd;
    char  *buf;
    size_t len, cap;
};

static void conn_open(struct conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = h_connect(LO, port, IO_MS);
    cr_assert(c->fd >= 0, "connect to port %d: %s%s", port, strerror(errno),
              h_diag(&srv));
}

/* A client with a 4 KiB receive buffer (set before connecting, so the
 * window starts small): the server's sends fill its socket quickly. */
static int connect_small_window(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int                small = 4096;

    cr_assert(fd >= 0, "socket: %s", strerror(errno));
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small),
                 0);
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0,
                 "connect: %s", strerror(errno));
    return fd;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void conn_send(struct conn *c, const char *raw, size_t len)
{
    cr_assert_eq(h_send_all(c->fd, raw, len, IO_MS), 0, "send: %s",
                 strerror(errno));
}

/* Receive more.  Returns 1 with new bytes, 0 at end of stream (a reset
 * counts: the peer is gone either way), -1 at the deadline. */
static int conn_fill(struct conn *c, int64_t deadline)
{
    if (c->cap - c->len < 65536) {
        char *nb = realloc(c->buf, c->cap * 2 + 65536);

        cr_assert(nb != NULL);
        c->buf = nb;
        c->cap = c->cap * 2 + 65536;
    }
    for (;;) {
        ssize_t n =
            recv(c->fd, c->buf + c->len, c->cap - c->len - 1, MSG_DONTWAIT);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int64_t       left;

        if (n > 0) {
            c->len += (size_t)n;
            return 1;
        }
        if (n == 0 ||
            (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return 0;
        left = deadline - h_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0)
            return -1;
    }
}

/* Drop n bytes from the front of the buffer. */
static void conn_consume(struct conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Does the server close the connection within ms?  0 closed, 1 more data
 * came instead, -1 still open. */
static int conn_closed(struct conn *c, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    int     n;

    if (c->len > 0)
        return 1;
    n = conn_fill(c, deadline);
    return n == 0 ? 0 : n > 0 ? 1 : -1;
}

/* --- responses ------------------------------------------------------------ */

#define MAX_HEADERS 64

struct resp {
    int    status;
    char   line[256]; /* the status line */
    char  *head;      /* the header lines, split in place */
    int    nh;
    char  *name[MAX_HEADERS], *value[MAX_HEADERS];
    char  *body; /* NUL-terminated for strstr; blen bytes */
    size_t blen;
    int    no_length; /* no Content-Length: the body ran to end of stream */
    char   why[256];  /* why read_resp() failed */
};

static void resp_free(struct resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int resp_fail(struct resp *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int resp_fail(struct resp *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return -1;
}

/* The first value of header name (case-insensitive), or NULL. */
static const char *hval(const struct resp *r, const char *name)
{
    for (int i = 0; i < r->nh; i++) {
        if (strcasecmp(r->name[i], name) == 0)
            return r->value[i];
    }
    return NULL;
}

static int hcount(const struct resp *r, const char *name)
{
    int n = 0;

    for (int i = 0; i < r->nh; i++)
        n += strcasecmp(r->name[i], name) == 0;
    return n;
}

/* Does header name hold token (a comma-separated list, any case)? */
static int has_token(const struct resp *r, const char *name, const char *token)
{
    const char *v = hval(r, name);
    size_t      tl = strlen(token);

    while (v != NULL && *v != '\0') {
        size_t n;

        v += strspn(v, " \t,");
        n = strcspn(v, ",");
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n == tl && strncasecmp(v, token, tl) == 0)
            return 1;
        v += strcspn(v, ",");
    }
    return 0;
}

/* Split the header lines (after the status line) in place. */
static int parse_headers(struct resp *r, char *p)
{
    while (p != NULL && *p != '\0') {
        char *next = strstr(p, "\r\n"), *colon, *v, *end;

        if (next != NULL) {
            *next = '\0';
            next += 2;
        }
        colon = strchr(p, ':');
        if (colon == NULL || colon == p || r->nh == MAX_HEADERS)
            return resp_fail(r, "bad header line \"%.60s\"", p);
        *colon = '\0';
        v = colon + 1 + strspn(colon + 1, " \t");
        end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        r->name[r->nh] = p;
        r->value[r->nh++] = v;
        p = next;
    }
    return 0;
}

/*
 * Read one response from the front of c within ms.  no_body: it answers a
 * HEAD.  304s never have a body; other responses have Content-Length bytes
 * of it or, without the header, everything up to the end of the stream.
 * Returns 0, or -1 with r->why.
 */
static int read_resp(struct conn *c, struct resp *r, int no_body, int ms)
{
    int64_t     deadline = h_now_ms() + ms;
    char       *end, *eol;
    size_t      hlen, need = 0;
    const char *cl;
    int         n;

    memset(r, 0, sizeof *r);
    /* c->buf is NULL until the first read: memmem must not see it. */
    while ((end = c->len > 0 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL) ==
           NULL) {
        if (c->len > 65536)
            return resp_fail(r, "a response head over 64 KiB");
        n = conn_fill(c, deadline);
        if (n == 0)
            return resp_fail(r, c->len ? "closed in the middle of a head"
                                       : "closed without a response");
        if (n < 0)
            return resp_fail(r, "no complete response head in %d ms", ms);
    }
    hlen = (size_t)(end - c->buf) + 4;
    r->head = strndup(c->buf, hlen - 4);
    cr_assert(r->head != NULL);
    conn_consume(c, hlen);
    eol = strstr(r->head, "\r\n");
    if (eol != NULL)
        *eol = '\0';
    snprintf(r->line, sizeof r->line, "%s", r->head);
    if (sscanf(r->line, "HTTP/1.%*1[01] %3d", &r->status) != 1 ||
        strlen(r->line) < 12 || r->line[12] != ' ')
        return resp_fail(r, "not an HTTP/1.x status line: \"%.60s\"", r->line);
    if (eol != NULL && parse_headers(r, eol + 2) < 0)
        return -1;
    if (no_body || r->status == 304 || r->status == 204 || r->status < 200) {
        need = 0;
    } else if ((cl = hval(r, "Content-Length")) != NULL) {
        char *e;

        if (!isdigit((unsigned char)cl[0]))
            return resp_fail(r, "Content-Length \"%s\"", cl);
        need = strtoull(cl, &e, 10);
        if (*e != '\0')
            return resp_fail(r, "Content-Length \"%s\"", cl);
    } else {
        r->no_length = 1;
        while ((n = conn_fill(c, deadline)) > 0)
            ;
        if (n < 0)
            return resp_fail(r, "a body without Content-Length and the "
                                "connection stayed open");
        need = c->len;
    }
    while (c->len < need) {
        n = conn_fill(c, deadline);
        if (n <= 0)
            return resp_fail(r, "%s after %zu of %zu body bytes",
                             n ? "timed out" : "closed", c->len, need);
    }
    r->body = malloc(need + 1);
    cr_assert(r->body != NULL);
    memcpy(r->body, c->buf, need);
    r->body[need] = '\0';
    r->blen = need;
    conn_consume(c, need);
    return 0;
}

/* read_resp() that must succeed; what names the request in a failure. */
static void expect_resp(struct conn *c, struct resp *r, int no_body,
                        const char *what)
{
    cr_assert_eq(read_resp(c, r, no_body, IO_MS), 0, "%s: %s%s", what, r->why,
                 h_diag(&srv));
}

/* Send "METHOD path HTTP/1.1" with Host and the extra header lines (each
 * ending in CRLF, or NULL). */
static void send_req(struct conn *c, const char *method, const char *path,
                     const char *headers)
{
    char raw[4096];
    int n = snprintf(raw, sizeof raw, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n",
                     method, path, LO, port, headers ? headers : "");

    cr_assert(n > 0 && (size_t)n < sizeof raw);
    conn_send(c, raw, (size_t)n);
}

/* One request on a connection of its own. */
static void fetch(const char *method, const char *path, const char *headers,
                  struct resp *r)
{
    struct conn c;
    char        what[256];

    snprintf(what, sizeof what, "%s %s", method, path);
    conn_open(&c);
    send_req(&c, method, path, headers);
    expect_resp(&c, r, strcmp(method, "HEAD") == 0, what);
    conn_close(&c);
}

/* Raw bytes on a connection of their own; *closed: did the server close
 * the connection after its response (within 2 s)? */
static void fetch_raw(const char *raw, size_t len, struct resp *r, int *closed)
{
    struct conn c;
    char        what[128];

    snprintf(what, sizeof what, "\"%.60s\"", raw);
    conn_open(&c);
    conn_send(&c, raw, len);
    expect_resp(&c, r, 0, what);
    if (closed != NULL)
        *closed = conn_closed(&c, 2000) == 0;
    conn_close(&c);
}

/* --- what responses must look like ---------------------------------------- */

/* Is v an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT")?  Stores it. */
static int imf_fixdate(const char *v, time_t *t)
{
    struct tm tm = {0};
    char     *end;

    if (v == NULL || strlen(v) != 29)
        return 0;
    end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return 0;
    *t = timegm(&tm);
    return 1;
}

/* The headers every successful file response carries. */
static void check_file_headers(const struct resp *r, size_t size,
                               const char *type, const char *what)
{
    const char *v;
    time_t      t;

    cr_assert(strncmp(r->line, "HTTP/1.1 ", 9) == 0, "%s: status line \"%s\"",
              what, r->line);
    cr_assert_eq(hcount(r, "Content-Length"), 1,
                 "%s: %d Content-Length headers", what,
                 hcount(r, "Content-Length"));
    v = hval(r, "Content-Length");
    cr_assert(strtoull(v, NULL, 10) == size && isdigit((unsigned char)*v),
              "%s: Content-Length %s, the file has %zu bytes", what, v, size);
    v = hval(r, "Content-Type");
    if (type != NULL)
        cr_assert(v != NULL && strcasecmp(v, type) == 0,
                  "%s: Content-Type \"%s\", expected \"%s\"", what,
                  v ? v : "(none)", type);
    v = hval(r, "Last-Modified");
    cr_assert(v != NULL && strcmp(v, MTIME_HTTP) == 0,
              "%s: Last-Modified \"%s\", expected \"%s\"", what,
              v ? v : "(none)", MTIME_HTTP);
    v = hval(r, "ETag");
    cr_assert(v != NULL && strlen(v) >= 2 && v[strlen(v) - 1] == '"' &&
                  (v[0] == '"' || strncmp(v, "W/\"", 3) == 0),
              "%s: ETag \"%s\" is not a quoted string", what, v ? v : "(none)");
    v = hval(r, "Date");
    cr_assert(imf_fixdate(v, &t), "%s: Date \"%s\" is not an IMF-fixdate", what,
              v ? v : "(none)");
    cr_assert(labs((long)(t - time(NULL))) < 10, "%s: Date \"%s\" is not now",
              what, v);
    v = hval(r, "Server");
    cr_assert(v != NULL && strncmp(v, "prefork/", 8) == 0, "%s: Server \"%s\"",
              what, v ? v : "(none)");
    v = hval(r, "Accept-Ranges");
    cr_assert(v != NULL && strcasecmp(v, "bytes") == 0,
              "%s: Accept-Ranges \"%s\"", what, v ? v : "(none)");
}

/* A 200 carrying exactly the len bytes of want. */
static void check_file(const struct resp *r, const void *want, size_t len,
                       const char *type, const char *what)
{
    cr_assert_eq(r->status, 200, "%s: status \"%s\"", what, r->line);
    check_file_headers(r, len, type, what);
    cr_assert_eq(r->blen, len, "%s: %zu body bytes, expected %zu", what,
                 r->blen, len);
    cr_assert(len == 0 || memcmp(r->body, want, len) == 0,
              "%s: the body differs from the file", what);
}

static void check_sized(const struct resp *r, size_t i, const char *what)
{
    char *want = sized_data(i);

    check_file(r, want, sized[i].size, "application/octet-stream", what);
    free(want);
}

/* An error: a small HTML page that says its status, with Content-Length. */
static void check_error_page(const struct resp *r, int status, const char *what)
{
    char        code[8];
    const char *type = hval(r, "Content-Type");

    snprintf(code, sizeof code, "%d", status);
    cr_assert_eq(r->status, status, "%s: \"%s\", expected %d", what, r->line,
                 status);
    cr_assert(strncmp(r->line, "HTTP/1.1 ", 9) == 0, "%s: status line \"%s\"",
              what, r->line);
    cr_assert(!r->no_length, "%s: the %d has no Content-Length", what, status);
    cr_assert(r->blen > 0 && r->blen < 4096,
              "%s: a %zu-byte body for a %d, not a small page", what, r->blen,
              status);
    cr_assert(type != NULL && strncasecmp(type, "text/html", 9) == 0,
              "%s: the %d page has Content-Type \"%s\"", what, status,
              type ? type : "(none)");
    cr_assert(strstr(r->body, code) != NULL, "%s: the page does not say %d: %s",
              what, status, r->body);
}

/* The worker is alive and well: a good request on a new connection. */
static void still_serving(const char *after)
{
    struct resp r;
    char        what[160];

    snprintf(what, sizeof what, "GET /index.html after %s", after);
    fetch("GET", "/index.html", NULL, &r);
    check_file(&r, index_html, strlen(index_html), NULL, what);
    resp_free(&r);
}

/* The one worker of a one-worker server. */
static pid_t the_worker(void)
{
    pid_t w;

    cr_assert_eq(h_workers(&srv, &w, 1), 1, "not exactly one worker");
    return w;
}

/* --- files and their headers ---------------------------------------------- */

Test(http, get_every_size_byte_exact, .fini = h_teardown, .timeout = 30)
{
    struct conn c;
    struct resp r;

    start_http(2, "prefork", "");
    for (size_t i = 0; i < NSIZED; i++) {
        fetch("GET", sized[i].path, NULL, &r);
        check_sized(&r, i, sized[i].path);
        resp_free(&r);
    }
    /* The same again, one after another on one connection. */
    conn_open(&c);
    for (size_t i = 0; i < NSIZED; i++) {
        send_req(&c, "GET", sized[i].path, NULL);
        expect_resp(&c, &r, 0, sized[i].path);
        check_sized(&r, i, sized[i].path);
        resp_free(&r);
    }
    conn_close(&c);
}

Test(http, content_type_from_extension, .fini = h_teardown, .timeout = 20)
{
    static const struct {
        const char *path, *type;
    } types[] = {
        {"/index.html", "text/html; charset=utf-8"},
        {"/", "text/html; charset=utf-8"},
        {"/style.css", "text/css; charset=utf-8"},
        {"/image.png", "image/png"},
        {"/k1.xyzzy", "application/octet-stream"},
    };
    struct resp r;

    start_http(2, "prefork", "");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        fetch("GET", types[i].path, NULL, &r);
        cr_assert_eq(r.status, 200, "%s: \"%s\"", types[i].path, r.line);
        check_file_headers(&r, r.blen, types[i].type, types[i].path);
        resp_free(&r);
    }
}

/* HEAD: the headers GET would send, no body, and the next pipelined
 * response straight after the head. */
Test(http, head_has_get_headers_and_no_body, .fini = h_teardown, .timeout = 20)
{
    static const char *const paths[] = {"/index.html", "/k64.xyzzy",
                                        "/empty.xyzzy", "/m1.xyzzy"};
    static const char *const same[] = {"Content-Length", "Content-Type", "ETag",
                                       "Last-Modified"};
    struct resp              get, head, next;
    struct conn              c;
    char                     raw[512];

    start_http(2, "prefork", "");
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        fetch("GET", paths[i], NULL, &get);
        conn_open(&c);
        snprintf(raw, sizeof raw,
                 "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /one.xyzzy HTTP/1.1\r\nHost: x\r\n\r\n",
                 paths[i]);
        conn_send(&c, raw, strlen(raw));
        expect_resp(&c, &head, 1, "HEAD");
        cr_assert_eq(head.status, 200, "HEAD %s: \"%s\"", paths[i], head.line);
        for (size_t k = 0; k < sizeof same / sizeof same[0]; k++) {
            const char *g = hval(&get, same[k]), *h = hval(&head, same[k]);

            cr_assert(g != NULL && h != NULL && strcmp(g, h) == 0,
                      "HEAD %s: %s \"%s\", GET had \"%s\"", paths[i], same[k],
                      h ? h : "(none)", g ? g : "(none)");
        }
        expect_resp(&c, &next, 0, "GET after HEAD");
        check_sized(&next, ONE, "the GET pipelined after a HEAD");
        resp_free(&get);
        resp_free(&head);
        resp_free(&next);
        conn_close(&c);
    }
}

/* --- connections ---------------------------------------------------------- */

Test(http, http11_keeps_the_connection, .fini = h_teardown, .timeout = 20)
{
    struct conn c;
    struct resp r;

    start_http(2, "prefork", "");
    conn_open(&c);
    for (size_t i = 0; i < NSIZED; i++) {
        send_req(&c, "GET", sized[i].path, NULL);
        expect_resp(&c, &r, 0, sized[i].path);
        check_sized(&r, i, sized[i].path);
        cr_assert(!has_token(&r, "Connection", "close"),
                  "%s: \"Connection: close\" on a keep-alive request",
                  sized[i].path);
        resp_free(&r);
        h_sleep_ms(50);
    }
    cr_assert_eq(conn_closed(&c, 300), -1,
                 "the server closed an HTTP/1.1 connection after a response");
    conn_close(&c);
}

Test(http, connection_close_is_honoured, .fini = h_teardown, .timeout = 20)
{
    struct conn c;
    struct resp r;

    start_http(2, "prefork", "");
    conn_open(&c);
    send_req(&c, "GET", "/k1.xyzzy", "Connection: close\r\n");
    expect_resp(&c, &r, 0, "GET with Connection: close");
    check_sized(&r, K1, "GET with Connection: close");
    cr_assert(has_token(&r, "Connection", "close"),
              "no \"Connection: close\" in the response");
    cr_assert_eq(conn_closed(&c, 2000), 0,
                 "the server kept the connection after Connection: close");
    resp_free(&r);
    conn_close(&c);
}

/* Segments this socket has received (tcp_info.tcpi_segs_in, Linux 4.2). */
static unsigned segs_in(int fd)
{
    struct tcp_info ti;
    socklen_t       len = sizeof ti;

    cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0,
                 "TCP_INFO: %s", strerror(errno));
    return ti.tcpi_segs_in;
}

/* The last response of a connection leaves together with the FIN: the
 * client gets the SYN-ACK, the ACK of its request and one segment with the
 * answer and the end of stream, not a fourth for the FIN alone. */
Test(http, a_closing_response_carries_the_fin, .fini = h_teardown,
     .timeout = 20)
{
    struct conn c;
    struct resp r;

    start_http(1, "prefork", "");
    for (int i = 0; i < 3; i++) { /* the first fills the file cache */
        conn_open(&c);
        send_req(&c, "GET", "/k1.xyzzy", "Connection: close\r\n");
        expect_resp(&c, &r, 0, "GET with Connection: close");
        check_sized(&r, K1, "GET with Connection: close");
        cr_assert_eq(conn_closed(&c, 2000), 0, "the connection stayed open");
        if (i > 0)
            cr_assert_leq(segs_in(c.fd), 3,
                          "request %d: the answer and the FIN came in %u "
                          "segments with the handshake's",
                          i + 1, segs_in(c.fd));
        resp_free(&r);
        conn_close(&c);
    }
}

/* The inode of the server's end of the client's connection fd, from
 * /proc/net/tcp (the line whose remote port is the client's port). */
static unsigned long server_end_inode(int fd)
{
    struct sockaddr_in me;
    socklen_t          len = sizeof me;
    char               line[512];
    unsigned long      inode = 0;
    unsigned           lport, rport;
    FILE              *f;

    cr_assert_eq(getsockname(fd, (struct sockaddr *)&me, &len), 0);
    f = fopen("/proc/net/tcp", "re");
    cr_assert(f != NULL, "/proc/net/tcp: %s", strerror(errno));
    while (inode == 0 && fgets(line, sizeof line, f) != NULL) {
        unsigned long ino;
        if (sscanf(line,
                   " %*d: %*x:%x %*x:%x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu",
                   &lport, &rport, &ino) == 3 &&
            lport == (unsigned)port && rport == ntohs(me.sin_port))
            inode = ino;
    }
    fclose(f);
    cr_assert(inode != 0, "no server end of port %u in /proc/net/tcp",
              ntohs(me.sin_port));
    return inode;
}

/* TCP_NODELAY on the worker's end of the client's connection fd, read
 * through a copy of the worker's descriptor (pidfd_getfd, Linux 5.6). */
static int server_nodelay(pid_t worker, int fd)
{
    char           path[64], link[64], want[64];
    unsigned long  inode = server_end_inode(fd);
    int            theirs = -1, pidfd, copy, on = -1;
    socklen_t      len = sizeof on;
    struct dirent *e;
    DIR           *d;

    snprintf(want, sizeof want, "socket:[%lu]", inode);
    snprintf(path, sizeof path, "/proc/%d/fd", (int)worker);
    d = opendir(path);
    cr_assert(d != NULL, "%s: %s", path, strerror(errno));
    while (theirs == -1 && (e = readdir(d)) != NULL) {
        char    fdpath[320];
        ssize_t n;
        snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
        n = readlink(fdpath, link, sizeof link - 1);
        if (n > 0 && (link[n] = '\0', strcmp(link, want) == 0))
            theirs = atoi(e->d_name);
    }
    closedir(d);
    cr_assert(theirs != -1, "worker %d does not hold %s", (int)worker, want);
    pidfd = (int)syscall(SYS_pidfd_open, worker, 0);
    cr_assert(pidfd >= 0, "pidfd_open: %s", strerror(errno));
    copy = (int)syscall(SYS_pidfd_getfd, pidfd, theirs, 0);
    cr_assert(copy >= 0, "pidfd_getfd: %s", strerror(errno));
    cr_assert_eq(getsockopt(copy, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
    close(copy);
    close(pidfd);
    return on;
}

/* Nagle's algorithm would hold the short last segment of an answer until
 * the client acknowledged the segments before it: a delayed ACK, tens of
 * milliseconds.  A connection kept alive answers without it. */
Test(http, a_kept_alive_connection_sends_without_delay, .fini = h_teardown,
     .timeout = 20)
{
    struct conn c;
    struct resp r;
    pid_t       worker;

    start_http(1, "prefork", "");
    cr_assert_eq(h_workers(&srv, &worker, 1), 1);
    conn_open(&c);
    send_req(&c, "GET", "/k1.xyzzy", "");
    expect_resp(&c, &r, 0, "keep-alive GET");
    check_sized(&r, K1, "keep-alive GET");
    cr_assert_eq(server_nodelay(worker, c.fd), 1,
                 "TCP_NODELAY is off on a kept-alive connection");
    resp_free(&r);
    conn_close(&c);
}

/* Bytes the server has not read when it closes make close(2) reset the
 * connection, and a reset drops what is still held to send: an answer
 * with more input behind it is never held back for the close. */
Test(http, a_closing_response_with_unread_input_arrives, .fini = h_teardown,
     .timeout = 20)
{
    static const char head[] =
        "GET /k1.xyzzy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    size_t      len = sizeof head - 1 + 65536;
    char       *raw = malloc(len);
    struct conn c;
    struct resp r;

    cr_assert(raw != NULL);
    memcpy(raw, head, sizeof head - 1);
    memset(raw + sizeof head - 1, 'x', len - (sizeof head - 1));
    start_http(1, "prefork", "");
    for (int i = 0; i < 3; i++) {
        conn_open(&c);
        conn_send(&c, raw, len); /* more than the server reads at once */
        expect_resp(&c, &r, 0, "GET with Connection: close and more behind");
        check_sized(&r, K1, "GET with Connection: close and more behind");
        resp_free(&r);
        conn_close(&c);
    }
    free(raw);
    still_serving("closing connections with unread input");
}

Test(http, http10_closes_by_default, .fini = h_teardown, .timeout = 20)
{
    static const char raw[] = "GET /k1.xyzzy HTTP/1.0\r\n\r\n";
    struct resp       r;
    int               closed;

    start_http(2, "prefork", "");
    fetch_raw(raw, strlen(raw), &r, &closed);
    check_sized(&r, K1, "HTTP/1.0 GET");
    cr_assert(closed, "an HTTP/1.0 connection without keep-alive stayed open");
    resp_free(&r);
}

Test(http, http10_keep_alive, .fini = h_teardown, .timeout = 20)
{
    static const char raw[] =
        "GET /k1.xyzzy HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    struct conn c;
    struct resp r;

    start_http(2, "prefork", "");
    conn_open(&c);
    for (int i = 0; i < 3; i++) {
        conn_send(&c, raw, strlen(raw));
        expect_resp(&c, &r, 0, "HTTP/1.0 keep-alive GET");
        check_sized(&r, K1, "HTTP/1.0 keep-alive GET");
        cr_assert(has_token(&r, "Connection", "keep-alive"),
                  "request %d: no \"Connection: keep-alive\" in the response",
                  i + 1);
        resp_free(&r);
        cr_assert_eq(conn_closed(&c, 200), -1,
                     "an HTTP/1.0 keep-alive connection was closed after "
                     "request %d",
                     i + 1);
    }
    conn_close(&c);
}

Test(http, ten_pipelined_requests_in_order, .fini = h_teardown, .timeout = 20)
{
    struct conn c;
    struct resp r;
    char        raw[2048], want[64], what[32];
    size_t      len = 0;

    start_http(2, "prefork", "");
    for (int n = 0; n < 10; n++)
        len += (size_t)snprintf(raw + len, sizeof raw - len,
                                "GET /p%d.txt HTTP/1.1\r\nHost: x\r\n\r\n", n);
    conn_open(&c);
    conn_send(&c, raw, len); /* one write, ten requests */
    for (int n = 0; n < 10; n++) {
        snprintf(what, sizeof what, "pipelined response %d", n);
        p_body(n, want, sizeof want);
        expect_resp(&c, &r, 0, what);
        check_file(&r, want, strlen(want), "text/plain; charset=utf-8", what);
        resp_free(&r);
    }
    /* Big responses between small ones, on the same connection: the
     * server must finish writing one before it starts the next. */
    len = 0;
    for (size_t i = NSIZED; i-- > 0;)
        len += (size_t)snprintf(raw + len, sizeof raw - len,
                                "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
                                sized[i].path);
    conn_send(&c, raw, len);
    for (size_t i = NSIZED; i-- > 0;) {
        expect_resp(&c, &r, 0, sized[i].path);
        check_sized(&r, i, "a pipelined response after bigger ones");
        resp_free(&r);
    }
    conn_close(&c);
}

/* Answers the socket cannot take at once (a client with a tiny receive
 * window pipelines 400 requests, 6 MB of answers, before it reads) are
 * kept and sent in order, byte-exact, however they are cut: in a head, in
 * a body. */
Test(http, pipelined_answers_to_a_full_socket_arrive_whole, .fini = h_teardown,
     .timeout = 30)
{
    static const char ask[] = "GET /k16.xyzzy HTTP/1.1\r\nHost: x\r\n\r\n";
    struct conn       c;
    struct resp       r;
    char              raw[400 * (sizeof ask - 1)], what[48];

    start_http(1, "prefork", "");
    for (int n = 0; n < 400; n++)
        memcpy(raw + (size_t)n * (sizeof ask - 1), ask, sizeof ask - 1);
    memset(&c, 0, sizeof c);
    c.fd = connect_small_window();
    conn_send(&c, raw, sizeof raw);
    h_sleep_ms(300); /* the worker has filled what the socket takes */
    for (int n = 0; n < 400; n++) {
        snprintf(what, sizeof what, "pipelined answer %d of 400", n + 1);
        expect_resp(&c, &r, 0, what);
        check_sized(&r, K16, what);
        resp_free(&r);
    }
    conn_close(&c);
    still_serving("a client that read late");
}

/* A Content-Length body on a GET is read and thrown away, never taken for
 * the next request: the body here looks like the start of one. */
Test(http, small_request_body_is_discarded, .fini = h_teardown, .timeout = 20)
{
    static const char head[] =
        "GET /p1.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
    static const char rest[] = "GET /GET /p2.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    struct conn       c;
    struct resp       r;
    char              want[64], raw[256];

    start_http(2, "prefork", "");
    /* Once with everything in one write, once with the body late. */
    for (int split = 0; split < 2; split++) {
        conn_open(&c);
        if (split) {
            conn_send(&c, head, strlen(head));
            h_sleep_ms(100);
            conn_send(&c, rest, strlen(rest));
        } else {
            snprintf(raw, sizeof raw, "%s%s", head, rest);
            conn_send(&c, raw, strlen(raw));
        }
        p_body(1, want, sizeof want);
        expect_resp(&c, &r, 0, "GET with a body");
        check_file(&r, want, strlen(want), NULL, "GET with a body");
        resp_free(&r);
        p_body(2, want, sizeof want);
        expect_resp(&c, &r, 0, "the request after a body");
        check_file(&r, want, strlen(want), NULL,
                   split ? "the request after a late body"
                         : "the request after a body");
        resp_free(&r);
        conn_close(&c);
    }
}

/* A chunked body is read to its end and dropped, and the request after it
 * on the same connection is answered: in one write, and a few bytes at a
 * time. */
Test(http, chunked_request_body_is_discarded, .fini = h_teardown, .timeout = 20)
{
    static const char raw[] =
        "GET /p1.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;ext=\"a b\"\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n"
        "X-Trailer: 1\r\n\r\n"
        "GET /p2.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    struct conn c;
    struct resp r;
    char        want[64];
    pid_t       w;

    start_http(1, "prefork", "");
    w = the_worker();
    for (int split = 0; split < 2; split++) {
        const char *what = split ? "chunked body in pieces" : "chunked body";
        size_t      step = split ? 7 : sizeof raw - 1;

        conn_open(&c);
        for (size_t i = 0; i < sizeof raw - 1; i += step) {
            size_t n = sizeof raw - 1 - i < step ? sizeof raw - 1 - i : step;

            conn_send(&c, raw + i, n);
            if (split)
                h_sleep_ms(5);
        }
        p_body(1, want, sizeof want);
        expect_resp(&c, &r, 0, what);
        check_file(&r, want, strlen(want), NULL, what);
        cr_assert(!has_token(&r, "Connection", "close"),
                  "%s: the first answer closes", what);
        resp_free(&r);
        p_body(2, want, sizeof want);
        expect_resp(&c, &r, 0, what);
        check_file(&r, want, strlen(want), NULL, what);
        resp_free(&r);
        cr_assert_eq(conn_closed(&c, 300), -1, "%s: closed after", what);
        conn_close(&c);
    }
    cr_assert_eq(the_worker(), w, "the worker was replaced");
}

/* --- conditional requests ------------------------------------------------- */

/* Send req (a full request) and a GET of /one.xyzzy in one write; read the
 * first response into r and check the second, which would be garbage if
 * the first carried a body it should not have. */
static void ask_then_probe(const char *req, struct resp *r, const char *what)
{
    struct conn c;
    struct resp probe;
    char        raw[1024];

    snprintf(raw, sizeof raw, "%sGET /one.xyzzy HTTP/1.1\r\nHost: x\r\n\r\n",
             req);
    conn_open(&c);
    conn_send(&c, raw, strlen(raw));
    expect_resp(&c, r, 0, what);
    expect_resp(&c, &probe, 0, "the request after it");
    check_sized(&probe, ONE, "the request pipelined after it");
    resp_free(&probe);
    conn_close(&c);
}

/* A 304 for the file k1.xyzzy whose ETag is etag. */
static void check_304(const struct resp *r, const char *etag, const char *what)
{
    const char *v = hval(r, "ETag");

    cr_assert_eq(r->status, 304, "%s: \"%s\", expected 304", what, r->line);
    cr_assert(v != NULL && strcmp(v, etag) == 0,
              "%s: the 304 has ETag \"%s\", the file %s", what,
              v ? v : "(none)", etag);
}

/* Workers keep files open between requests; a file rewritten, replaced
 * or removed on disk is still answered as it is now, at once. */
Test(http, changed_files_are_served_fresh, .fini = h_teardown, .timeout = 20)
{
    struct resp r;
    char        path[512], tmp[512];

    start_http(1, "prefork", "");
    put_text("www/fresh.txt", "first");
    fetch("GET", "/fresh.txt", NULL, &r);
    check_file(&r, "first", 5, NULL, "before any change");
    resp_free(&r);

    put_text("www/fresh.txt", "again"); /* rewritten in place, same size */
    fetch("GET", "/fresh.txt", NULL, &r);
    check_file(&r, "again", 5, NULL, "after a rewrite in place");
    resp_free(&r);

    put_text("www/fresh.new", "third");
    cr_assert_eq(rename(in_dir(tmp, sizeof tmp, "www/fresh.new"),
                        in_dir(path, sizeof path, "www/fresh.txt")),
                 0);
    fetch("GET", "/fresh.txt", NULL, &r);
    check_file(&r, "third", 5, NULL, "after a replace by rename");
    resp_free(&r);

    cr_assert_eq(unlink(path), 0);
    fetch("GET", "/fresh.txt", NULL, &r);
    cr_assert_eq(r.status, 404, "a removed file answered %d", r.status);
    resp_free(&r);
}

/* file_cache_valid: a file rewritten in place is served as it was for
 * up to that long, then as it is. */
Test(http, file_cache_valid_serves_a_changed_file_later, .fini = h_teardown,
     .timeout = 20)
{
    struct resp r;
    int64_t     changed;

    start_http(1, "prefork", "file_cache_valid = 500ms\n");
    put_text("www/later.txt", "first");
    fetch("GET", "/later.txt", NULL, &r);
    check_file(&r, "first", 5, NULL, "before any change");
    resp_free(&r);
    put_text("www/later.txt", "again"); /* rewritten in place, same size */
    changed = h_now_ms();
    fetch("GET", "/later.txt", NULL, &r);
    if (h_now_ms() - changed < 400)
        check_file(&r, "first", 5, NULL, "within file_cache_valid");
    resp_free(&r);
    h_sleep_ms(600);
    fetch("GET", "/later.txt", NULL, &r);
    check_file(&r, "again", 5, NULL, "after file_cache_valid");
    resp_free(&r);
}

Test(http, if_none_match, .fini = h_teardown, .timeout = 20)
{
    struct resp r;
    char        etag[128], req[512];
    char       *data;

    start_http(2, "prefork", "");
    fetch("GET", "/k1.xyzzy", NULL, &r);
    check_sized(&r, K1, "GET");
    snprintf(etag, sizeof etag, "%s", hval(&r, "ETag"));
    resp_free(&r);

    snprintf(req, sizeof req,
             "GET /k1.xyzzy HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n",
             etag);
    ask_then_probe(req, &r, "If-None-Match: the ETag");
    check_304(&r, etag, "If-None-Match: the ETag");
    resp_free(&r);

    ask_then_probe("GET /k1.xyzzy HTTP/1.1\r\nHost: x\r\n"
                   "If-None-Match: *\r\n\r\n",
                   &r, "If-None-Match: *");
    check_304(&r, etag, "If-None-Match: *");
    resp_free(&r);

    snprintf(req, sizeof req,
             "GET /k1.xyzzy HTTP/1.1\r\nHost: x\r\n"
             "If-None-Match: \"no-such-tag\", %s\r\n\r\n",
             etag);
    ask_then_probe(req, &r, "If-None-Match: a list with the ETag");
    check_304(&r, etag, "If-None-Match: a list with the ETag");
    resp_free(&r);

    fetch("GET", "/k1.xyzzy", "If-None-Match: \"no-such-tag\"\r\n", &r);
    check_sized(&r, K1, "If-None-Match: another tag");
    resp_free(&r);

    /* Once the file changes, the old tag no longer matches. */
    data = sized_data(K1);
    data[0] ^= 0xff;
    put_at("www/k1.xyzzy", data, 999, MTIME + 3600);
    snprintf(req, sizeof req, "If-None-Match: %s\r\n", etag);
    fetch("GET", "/k1.xyzzy", req, &r);
    cr_assert_eq(r.status, 200,
                 "the old ETag still matches a changed file: \"%s\"", r.line);
    cr_assert(r.blen == 999 && memcmp(r.body, data, 999) == 0,
              "the changed file was not sent (%zu bytes)", r.blen);
    cr_assert(hval(&r, "ETag") != NULL && strcmp(hval(&r, "ETag"), etag) != 0,
              "the ETag \"%s\" did not change with the file", etag);
    resp_free(&r);
    free(data);
}

Test(http, if_modified_since, .fini = h_teardown, .timeout = 20)
{
    static const struct {
        const char *date;
        int         status;
    } cases[] = {
        {MTIME_HTTP, 304},                      /* equal */
        {"Thu, 02 Jan 2020 00:00:00 GMT", 304}, /* a day later */
        {"Tue, 31 Dec 2019 23:59:59 GMT", 200}, /* a second earlier */
        {"Mon, 01 Jan 2001 00:00:00 GMT", 200},
    };
    struct resp r;
    char        etag[128], req[512];

    start_http(2, "prefork", "");
    fetch("GET", "/k1.xyzzy", NULL, &r);
    snprintf(etag, sizeof etag, "%s", hval(&r, "ETag"));
    resp_free(&r);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[96];

        snprintf(what, sizeof what, "If-Modified-Since: %s", cases[i].date);
        snprintf(req, sizeof req,
                 "GET /k1.xyzzy HTTP/1.1\r\nHost: x\r\n"
                 "If-Modified-Since: %s\r\n\r\n",
                 cases[i].date);
        ask_then_probe(req, &r, what);
        if (cases[i].status == 304)
            check_304(&r, etag, what);
        else
            check_sized(&r, K1, what);
        resp_free(&r);
    }
}

/* --- ranges --------------------------------------------------------------- */

/* GET path with "Range: spec": a 206 of bytes [first, last] of sized[i]. */
static void check_range(size_t i, const char *spec, size_t first, size_t last)
{
    struct resp r;
    char        hdr[128], want_cr[96];
    char       *data = sized_data(i);
    const char *cr;

    snprintf(hdr, sizeof hdr, "Range: %s\r\n", spec);
    fetch("GET", sized[i].path, hdr, &r);
    cr_assert_eq(r.status, 206, "Range: %s: \"%s\"", spec, r.line);
    snprintf(want_cr, sizeof want_cr, "bytes %zu-%zu/%zu", first, last,
             sized[i].size);
    cr = hval(&r, "Content-Range");
    cr_assert(cr != NULL && strcmp(cr, want_cr) == 0,
              "Range: %s: Content-Range \"%s\", expected \"%s\"", spec,
              cr ? cr : "(none)", want_cr);
    cr_assert_eq(r.blen, last - first + 1, "Range: %s: %zu bytes", spec,
                 r.blen);
    cr_assert_eq(memcmp(r.body, data + first, r.blen), 0,
                 "Range: %s: not those bytes of the file", spec);
    resp_free(&r);
    free(data);
}

Test(http, single_ranges, .fini = h_teardown, .timeout = 20)
{
    struct resp r;
    const char *cr;
    char       *data = sized_data(K1);

    start_http(2, "prefork", "");
    check_range(K1, "bytes=0-9", 0, 9);
    check_range(K1, "bytes=-5", 995, 999);
    check_range(K1, "bytes=10-", 10, 999);
    check_range(K1, "bytes=990-5000", 990, 999); /* clipped to the end */
    check_range(M1, "bytes=524288-524387", 524288, 524387);

    fetch("GET", "/k1.xyzzy", "Range: bytes=1000-\r\n", &r);
    cr_assert_eq(r.status, 416, "Range past the end: \"%s\"", r.line);
    cr = hval(&r, "Content-Range");
    cr_assert(cr != NULL && strcmp(cr, "bytes */1000") == 0,
              "416: Content-Range \"%s\", expected \"bytes */1000\"",
              cr ? cr : "(none)");
    resp_free(&r);

    /* Several ranges are not served as multipart: the whole file. */
    fetch("GET", "/k1.xyzzy", "Range: bytes=0-1,3-4\r\n", &r);
    check_file(&r, data, 1000, NULL, "Range: bytes=0-1,3-4");
    resp_free(&r);
    free(data);
}

/* --- directories ---------------------------------------------------------- */

Test(http, directory_without_slash_redirects, .fini = h_teardown, .timeout = 20)
{
    static const struct {
        const char *path, *location;
    } cases[] = {
        {"/sub", "/sub/"},
        {"/sub?x=1", "/sub/?x=1"},
        {"/noindex", "/noindex/"},
    };
    struct resp r;

    start_http(2, "prefork", "");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *loc;

        fetch("GET", cases[i].path, NULL, &r);
        cr_assert_eq(r.status, 301, "GET %s: \"%s\"", cases[i].path, r.line);
        loc = hval(&r, "Location");
        cr_assert(loc != NULL && strcmp(loc, cases[i].location) == 0,
                  "GET %s: Location \"%s\", expected \"%s\"", cases[i].path,
                  loc ? loc : "(none)", cases[i].location);
        cr_assert(!r.no_length, "the 301 has no Content-Length");
        resp_free(&r);
    }
    fetch("GET", "/sub/", NULL, &r);
    check_file(&r, sub_index, strlen(sub_index), "text/html; charset=utf-8",
               "GET /sub/");
    resp_free(&r);
}

Test(http, directory_without_index_is_forbidden, .fini = h_teardown,
     .timeout = 20)
{
    struct resp r;

    start_http(2, "prefork", "");
    fetch("GET", "/noindex/", NULL, &r);
    check_error_page(&r, 403, "GET /noindex/ with autoindex = no");
    cr_assert(strstr(r.body, "a.txt") == NULL,
              "autoindex = no, yet the 403 lists the directory");
    resp_free(&r);
}

/* Replace HTML character references and %XX escapes in s, in place. */
static void html_unescape(char *s)
{
    static const struct {
        const char *ref;
        char        ch;
    } refs[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
                {"&quot;", '"'}, {"&#39;", '\''}, {"&#x27;", '\''}};
    char *out = s;

    while (*s != '\0') {
        size_t k, n = sizeof refs / sizeof refs[0];

        for (k = 0; k < n; k++) {
            if (strncmp(s, refs[k].ref, strlen(refs[k].ref)) == 0)
                break;
        }
        if (k < n) {
            *out++ = refs[k].ch;
            s += strlen(refs[k].ref);
        } else {
            *out++ = *s++;
        }
    }
    *out = '\0';
}

static void percent_decode(char *s)
{
    char *out = s;

    for (; *s != '\0'; s++) {
        if (s[0] == '%' && isxdigit((unsigned char)s[1]) &&
            isxdigit((unsigned char)s[2])) {
            char hex[3] = {s[1], s[2], '\0'};

            *out++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

/* The href in body whose decoded last segment is name, as the target a
 * browser would request from /noindex/; 0 or -1 when there is none. */
static int find_link(const char *body, const char *name, char *target,
                     size_t cap)
{
    const char *p = body;

    while ((p = strstr(p, "href=\"")) != NULL) {
        char   href[512], decoded[512], *seg;
        size_t n;

        p += 6;
        n = strcspn(p, "\"");
        if (n >= sizeof href)
            continue;
        memcpy(href, p, n);
        href[n] = '\0';
        html_unescape(href); /* the target, still percent-encoded */
        snprintf(decoded, sizeof decoded, "%s", href);
        percent_decode(decoded);
        n = strlen(decoded);
        if (n > 0 && decoded[n - 1] == '/')
            decoded[n - 1] = '\0';
        seg = strrchr(decoded, '/');
        seg = seg != NULL ? seg + 1 : decoded;
        if (strcmp(seg, name) != 0)
            continue;
        snprintf(target, cap, "%s%s", href[0] == '/' ? "" : "/noindex/", href);
        return 0;
    }
    return -1;
}

Test(http, autoindex_lists_escaped_links, .fini = h_teardown, .timeout = 20)
{
    static const char *const names[] = {"a.txt", "deeper", ODD_NAME};
    struct resp              r, file;
    char                     target[600];
    const char              *type;

    start_http(2, "prefork", "autoindex = yes\n");
    fetch("GET", "/noindex/", NULL, &r);
    cr_assert_eq(r.status, 200, "GET /noindex/ with autoindex = yes: \"%s\"",
                 r.line);
    type = hval(&r, "Content-Type");
    cr_assert(type != NULL && strncasecmp(type, "text/html", 9) == 0,
              "the listing has Content-Type \"%s\"", type ? type : "(none)");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_eq(find_link(r.body, names[i], target, sizeof target), 0,
                     "no link to \"%s\" in the listing:\n%s", names[i], r.body);
    /* The odd name is shown escaped and linked percent-encoded... */
    cr_assert(strstr(r.body, "sp ace &lt;&amp;&gt;.txt") != NULL,
              "the name \"" ODD_NAME "\" is not shown HTML-escaped:\n%s",
              r.body);
    cr_assert(strstr(r.body, "<&>") == NULL,
              "a raw \"<&>\" in the listing:\n%s", r.body);
    find_link(r.body, ODD_NAME, target, sizeof target);
    cr_assert(strpbrk(target, " <>\"") == NULL,
              "the link to \"" ODD_NAME "\" is not percent-encoded: %s",
              target);
    /* ... and following it fetches the file. */
    fetch("GET", target, NULL, &file);
    cr_assert(file.status == 200 && strcmp(file.body, "odd\n") == 0,
              "following the link %s: \"%s\"", target, file.line);
    resp_free(&file);
    resp_free(&r);
    /* A directory with an index still gets its index. */
    fetch("GET", "/sub/", NULL, &r);
    check_file(&r, sub_index, strlen(sub_index), NULL,
               "GET /sub/ with autoindex = yes");
    resp_free(&r);
}

/* --- errors --------------------------------------------------------------- */

Test(http, not_found_and_symlinks, .fini = h_teardown, .timeout = 20)
{
    struct resp r;

    start_http(1, "prefork", "");
    fetch("GET", "/missing.txt", NULL, &r);
    check_error_page(&r, 404, "GET /missing.txt");
    resp_free(&r);
    still_serving("a 404");

    fetch("GET", "/pw", NULL, &r);
    check_error_page(&r, 403, "GET of a symlink to /etc/passwd");
    resp_free(&r);
    still_serving("a 403");

    fetch("GET", "/inside", NULL, &r);
    check_sized(&r, K1, "GET of a symlink to a file inside the root");
    resp_free(&r);
}

Test(http, other_methods_405, .fini = h_teardown, .timeout = 20)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS",
                                          "BREW"};
    struct resp              r;
    pid_t                    w;

    start_http(1, "prefork", "");
    w = the_worker();
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char        what[64];
        const char *allow;

        snprintf(what, sizeof what, "%s /index.html", methods[i]);
        fetch(methods[i], "/index.html", "Content-Length: 0\r\n", &r);
        check_error_page(&r, 405, what);
        allow = hval(&r, "Allow");
        cr_assert(allow != NULL && strcmp(allow, "GET, HEAD") == 0,
                  "%s: Allow \"%s\", expected \"GET, HEAD\"", what,
                  allow ? allow : "(none)");
        resp_free(&r);
        still_serving(what);
    }
    cr_assert_eq(the_worker(), w, "the worker was replaced");
}

/* Requests answered with an error after which the server hangs up. */
static const struct {
    const char *raw;
    int         status;
} bad[] = {
    {"GET\r\n\r\n", 400},
    {"GET / FOO\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n\r\n", 400}, /* no Host */
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
     "Content-Length: 2\r\n\r\n",
     400},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     400},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
    {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
    {"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n", 413},
};
#define NBAD (sizeof bad / sizeof bad[0])

/* Send raw on a new connection: an error page of that status, then the
 * connection closed with "Connection: close", then a good request works. */
static void check_bad(const char *raw, size_t len, int status, const char *what)
{
    struct resp r;
    int         closed;

    fetch_raw(raw, len, &r, &closed);
    check_error_page(&r, status, what);
    cr_assert(has_token(&r, "Connection", "close"),
              "%s: the %d has no \"Connection: close\"", what, status);
    cr_assert(closed, "%s: the connection stayed open after the %d", what,
              status);
    resp_free(&r);
    still_serving(what);
}

Test(http, malformed_requests, .fini = h_teardown, .timeout = 30)
{
    char *raw;
    pid_t w;

    start_http(1, "prefork", "");
    w = the_worker();
    for (size_t i = 0; i < NBAD; i++) {
        char what[96];

        snprintf(what, sizeof what, "\"%.70s\"", bad[i].raw);
        check_bad(bad[i].raw, strlen(bad[i].raw), bad[i].status, what);
    }
    /* A 10 KiB request target. */
    raw = malloc(11000);
    cr_assert(raw != NULL);
    strcpy(raw, "GET /");
    memset(raw + 5, 'a', 10240);
    strcpy(raw + 5 + 10240, " HTTP/1.1\r\nHost: x\r\n\r\n");
    check_bad(raw, strlen(raw), 414, "a 10 KiB request target");
    free(raw);
    cr_assert_eq(the_worker(), w, "the worker was replaced");
}

/* Request smuggling (RFC 9112 6, 11): each vector, followed in the same
 * bytes by a request that would be answered if the vector were read some
 * other way, gets one error and a closed connection, never two answers. */
static const struct {
    const char *raw;
    int         status;
} smuggle[] = {
    {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
    {"Content-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", 400},
    {"Content-Length: 5, 6\r\n\r\nabcdef", 400},
    {"Content-Length: +5\r\n\r\nabcde", 400},
    {"Content-Length: -5\r\n\r\nabcde", 400},
    {"Content-Length: 1 5\r\n\r\nabcde", 400},
    {"Content-Length: 5x\r\n\r\nabcde", 400},
    {"Content-Length: 0x5\r\n\r\nabcde", 400},
    {"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501},
    {"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501},
    {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n",
     400},
    {"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", 400},
    {"X-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"X-A: 1\r\n\tContent-Length: 5\r\n\r\nabcde", 400},
    {"X-A: 1\rContent-Length: 5\r\n\r\nabcde", 400},
    {"Content-Length : 5\r\n\r\nabcde", 400},
    {"Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n\r\n0\r\n\r\n",
     400},
    {"Transfer-Encoding: chunked\r\n\r\n-1\r\n\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding: chunked\r\n\r\n\r\n\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding: chunked\r\n\r\n0\r\n X: 1\r\n\r\n", 400},
    {"Transfer-Encoding: chunked\r\n\r\n10001\r\n", 413},
};

Test(http, smuggling_vectors_get_one_answer_and_a_close, .fini = h_teardown,
     .timeout = 30)
{
    static const char next[] = "GET /p2.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    char              raw[512], what[96];
    pid_t             w;

    start_http(1, "prefork", "");
    w = the_worker();
    for (size_t i = 0; i < sizeof smuggle / sizeof smuggle[0]; i++) {
        snprintf(raw, sizeof raw, "GET /p1.txt HTTP/1.1\r\nHost: x\r\n%s%s",
                 smuggle[i].raw, next);
        snprintf(what, sizeof what, "\"%.70s\"", smuggle[i].raw);
        check_bad(raw, strlen(raw), smuggle[i].status, what);
    }
    /* HTTP/1.0 has no Transfer-Encoding. */
    snprintf(raw, sizeof raw,
             "GET /p1.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\n%s",
             next);
    check_bad(raw, strlen(raw), 400, "Transfer-Encoding in HTTP/1.0");
    cr_assert_eq(the_worker(), w, "the worker was replaced");
}

/* 2 KiB of headers: over max_header_size = 1k, far under the default. */
Test(http, max_header_size, .fini = h_teardown, .timeout = 20)
{
    char   raw[4096];
    size_t len;
    int    closed;

    start_http(1, "prefork", "max_header_size = 1k\n");
    len = (size_t)snprintf(raw, sizeof raw,
                           "GET /index.html HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; len < 2048; i++)
        len += (size_t)snprintf(raw + len, sizeof raw - len,
                                "X-Pad-%02d: %050d\r\n", i, i);
    len += (size_t)snprintf(raw + len, sizeof raw - len, "\r\n");
    check_bad(raw, len, 431, "2 KiB of headers");

    /* Well under the limit, still fine. */
    {
        static const char ok[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n"
                                 "X-Pad: 0123456789012345678901234567890123456"
                                 "789012345678901234567890123456789\r\n\r\n";
        struct resp       r;

        fetch_raw(ok, strlen(ok), &r, &closed);
        check_file(&r, index_html, strlen(index_html), NULL,
                   "a request of 120 bytes with max_header_size = 1k");
        resp_free(&r);
    }
}

/* --- traversal ------------------------------------------------------------ */

/* The first line of /etc/passwd: in any body, it means the file leaked. */
static void passwd_line(char *buf, size_t cap)
{
    char *text = h_read_file("/etc/passwd");

    cr_assert(text != NULL, "cannot read /etc/passwd");
    snprintf(buf, cap, "%.*s", (int)strcspn(text, "\n"), text);
    free(text);
}

Test(http, traversal_never_leaves_root, .fini = h_teardown, .timeout = 30)
{
    static const char *const targets[] = {
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2Fetc%2Fpasswd",
        "/a/../../etc/passwd",
        "/%00",
        "/index.html%00.txt",
        "//etc/passwd",
        "/pw",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/sub/../../secret.txt",
        "/up/secret.txt",
        "/../../../../../../../../etc/passwd",
        "http://x/../../etc/passwd",
        "http://x/../secret.txt",
    };
    char  pw[256], raw[512];
    pid_t w;

    passwd_line(pw, sizeof pw);
    start_http(1, "prefork", "");
    w = the_worker();
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        struct resp r;

        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
                 targets[i]);
        fetch_raw(raw, strlen(raw), &r, NULL);
        cr_assert(r.status == 400 || r.status == 403 || r.status == 404,
                  "GET %s: \"%s\", expected 400, 403 or 404", targets[i],
                  r.line);
        cr_assert(strstr(r.body, pw) == NULL && strstr(r.body, secret) == NULL,
                  "GET %s revealed a file outside the root", targets[i]);
        resp_free(&r);
    }
    still_serving("traversal attempts");
    cr_assert_eq(the_worker(), w, "the worker was replaced");
}

Test(http, absolute_form_target, .fini = h_teardown, .timeout = 20)
{
    struct conn c;
    struct resp r;
    char        raw[256];

    start_http(2, "prefork", "");
    snprintf(raw, sizeof raw,
             "GET http://%s:%d/index.html HTTP/1.1\r\nHost: %s:%d\r\n\r\n", LO,
             port, LO, port);
    conn_open(&c);
    conn_send(&c, raw, strlen(raw));
    expect_resp(&c, &r, 0, "absolute-form GET");
    check_file(&r, index_html, strlen(index_html), "text/html; charset=utf-8",
               "absolute-form GET");
    resp_free(&r);
    conn_close(&c);
}

/* What a browser sends for ordinary names: a query, percent-encoded
 * characters, dot segments that stay inside the root. */
Test(http, query_and_encoded_targets, .fini = h_teardown, .timeout = 20)
{
    static const struct {
        const char *target, *body;
    } cases[] = {
        {"/x.txt?a=b&c=%2F", "hello, log\n"},
        {"/x%2etxt", "hello, log\n"},
        {"/noindex/sp%20ace%20%3C%26%3E.txt", "odd\n"},
        {"/sub/./index.html", sub_index},
        {"/sub/../index.html", index_html},
        {"/noindex/deeper/../a.txt", "a\n"},
    };
    struct resp r;

    start_http(2, "prefork", "");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fetch("GET", cases[i].target, NULL, &r);
        check_file(&r, cases[i].body, strlen(cases[i].body), NULL,
                   cases[i].target);
        resp_free(&r);
    }
}

/* GET target, built by the caller, on a connection of its own. */
static void fetch_target(const char *target, struct resp *r, const char *what)
{
    size_t      n = strlen(target) + 64;
    char       *raw = malloc(n);
    struct conn c;

    cr_assert(raw != NULL);
    snprintf(raw, n, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    conn_open(&c);
    conn_send(&c, raw, strlen(raw));
    expect_resp(&c, r, 0, what);
    conn_close(&c);
    free(raw);
}

/* A long path within the request line's limit names a file or does not:
 * 200 or 404, never 414, however long it or one of its names is. */
Test(http, long_paths_are_found_or_not_found, .fini = h_teardown, .timeout = 20)
{
    char        target[8000];
    struct resp r;
    pid_t       w;

    start_http(1, "prefork", "");
    w = the_worker();

    target[0] = '/';
    memset(target + 1, 'a', 2000);
    target[2001] = '\0';
    fetch_target(target, &r, "2,000 a's");
    check_error_page(&r, 404, "2,000 a's");
    resp_free(&r);

    /* A name past NAME_MAX, then more path. */
    memset(target + 1, 'b', 300);
    strcpy(target + 301, "/index.html");
    fetch_target(target, &r, "a 300-byte name");
    check_error_page(&r, 404, "a 300-byte name");
    resp_free(&r);

    /* Past PATH_MAX once decoded, under the request line's limit. */
    for (size_t i = 0; i < 2500; i++)
        memcpy(target + 2 * i, "/b", 2);
    target[5000] = '\0';
    fetch_target(target, &r, "a 5,000-byte path");
    check_error_page(&r, 404, "a 5,000-byte path");
    resp_free(&r);

    /* A long path that normalises to a file that is there. */
    for (size_t i = 0; i < 3000; i++)
        memcpy(target + 2 * i, "/.", 2);
    strcpy(target + 6000, "/index.html");
    fetch_target(target, &r, "/./././.../index.html");
    check_file(&r, index_html, strlen(index_html), NULL,
               "/./././.../index.html");
    resp_free(&r);

    strcpy(target, "/index.html?");
    memset(target + 12, 'q', 3000);
    target[3012] = '\0';
    fetch_target(target, &r, "a 3,000-byte query");
    check_file(&r, index_html, strlen(index_html), NULL, "a 3,000-byte query");
    resp_free(&r);

    still_serving("long paths");
    cr_assert_eq(the_worker(), w, "the worker was replaced");
}

/* A target the server cannot use is a malformed request like any other:
 * 400, and the connection closed after it. */
Test(http, unusable_targets_400_and_close, .fini = h_teardown, .timeout = 20)
{
    static const char *const targets[] = {"x.txt", "*", "/%zz", "/x.txt%"};
    char                     raw[256], what[64];

    start_http(1, "prefork", "");
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
                 targets[i]);
        snprintf(what, sizeof what, "GET %s", targets[i]);
        check_bad(raw, strlen(raw), 400, what);
    }
}

/* --- timeouts ------------------------------------------------------------- */

/* One byte every 300 ms, never finishing the head, with header_timeout =
 * 1s: the server answers 408 or hangs up after one second or so, neither
 * before nor long after. */
Test(http, header_timeout_stops_slowloris, .fini = h_teardown, .timeout = 20)
{
    static const char slow[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n"
                               "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    struct conn       c;
    struct resp       r;
    int64_t           t0, t;
    size_t            i;

    start_http(1, "prefork", "header_timeout = 1s\n");
    conn_open(&c);
    t0 = h_now_ms();
    for (i = 0; i < sizeof slow - 1 && h_now_ms() - t0 < 4000; i++) {
        struct pollfd p = {.fd = c.fd, .events = POLLIN};

        if (send(c.fd, slow + i, 1, MSG_NOSIGNAL) != 1)
            break; /* already hung up on */
        if (poll(&p, 1, 300) > 0)
            break; /* an answer, or the end */
    }
    t = h_now_ms() - t0;
    cr_assert(t < 2500,
              "a client trickling its head stayed connected for "
              "%lld ms with header_timeout = 1s",
              (long long)t);
    cr_assert(t >= 800,
              "the slow client was cut off after %lld ms, before "
              "header_timeout = 1s",
              (long long)t);
    if (read_resp(&c, &r, 0, 2000) == 0) {
        check_error_page(&r, 408, "the slow client");
        cr_assert_eq(conn_closed(&c, 2000), 0, "open after the 408");
    } else {
        cr_assert(strstr(r.why, "closed without") != NULL,
                  "the slow client got neither a 408 nor a close: %s", r.why);
    }
    resp_free(&r);
    conn_close(&c);
    still_serving("a slow client");
}

Test(http, keepalive_timeout_closes_idle_connection, .fini = h_teardown,
     .timeout = 20)
{
    struct conn c;
    struct resp r;
    int64_t     t0;
    int         closed;

    start_http(1, "prefork", "keepalive_timeout = 1s\n");
    conn_open(&c);
    send_req(&c, "GET", "/k1.xyzzy", NULL);
    expect_resp(&c, &r, 0, "GET");
    check_sized(&r, K1, "GET");
    resp_free(&r);
    t0 = h_now_ms();
    cr_assert_eq(conn_closed(&c, 600), -1,
                 "an idle keep-alive connection was closed after %lld ms, "
                 "before keepalive_timeout = 1s",
                 (long long)(h_now_ms() - t0));
    closed = conn_closed(&c, 2500 - (int)(h_now_ms() - t0));
    cr_assert_eq(closed, 0,
                 "an idle keep-alive connection was %s after %lld ms with "
                 "keepalive_timeout = 1s",
                 closed > 0 ? "sent data" : "still open",
                 (long long)(h_now_ms() - t0));
    conn_close(&c);
}

/* A reload drains the old worker; a keep-alive connection idle at that
 * moment is not cut under a client that is sending its next request right
 * then: the request is answered with "Connection: close".  One that stays
 * silent is closed soon after, not at keepalive_timeout. */
Test(http, drain_answers_a_request_on_an_idle_keepalive_connection,
     .fini = h_teardown, .timeout = 30)
{
    struct conn talk, quiet;
    struct resp r;

    start_http(1, "prefork", "keepalive_timeout = 30s\n");
    conn_open(&talk);
    conn_open(&quiet);
    for (int i = 0; i < 2; i++) {
        struct conn *c = i == 0 ? &talk : &quiet;

        send_req(c, "GET", "/k1.xyzzy", NULL);
        expect_resp(c, &r, 0, "GET before the reload");
        cr_assert(!has_token(&r, "Connection", "close"));
        resp_free(&r);
    }
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_slots(&srv, "web", H_EXITING) == 1),
              "the old worker did not begin to drain%s", h_diag(&srv));
    send_req(&talk, "GET", "/k1.xyzzy", NULL);
    expect_resp(&talk, &r, 0, "GET on a connection idle when the drain began");
    check_sized(&r, K1, "GET while draining");
    cr_expect(has_token(&r, "Connection", "close"),
              "a draining worker kept the connection open");
    resp_free(&r);
    cr_expect_eq(conn_closed(&talk, 2000), 0,
                 "open after the draining worker's answer");
    cr_expect_eq(conn_closed(&quiet, 3000), 0,
                 "an idle connection kept the old worker draining");
    conn_close(&talk);
    conn_close(&quiet);
    still_serving("a reload with idle keep-alive connections");
}

/* --- memory per idle keep-alive connection ------------------------------- */

#define IDLE_CONNS 1000

/* A connection parked between requests costs its worker little: 1,000 of
 * them, each served once, add well under 2 KiB each of private memory
 * (a receive buffer held while idle would add a dirty 4 KiB page each).
 * The allocators of the sanitizers and of valgrind keep freed memory, so
 * the figure means nothing under them. */
Test(http, idle_keepalive_connections_cost_little_memory, .fini = h_teardown,
     .timeout = 60)
{
#if defined(__SANITIZE_ADDRESS__)
    cr_skip_test("AddressSanitizer's allocator keeps freed memory");
#endif
    static struct conn c[IDLE_CONNS];
    struct rlimit      rl;
    struct resp        r;
    long long          before, grew;
    pid_t              w;

    if (getenv("PF_VALGRIND") != NULL)
        cr_skip_test("valgrind's allocator keeps freed memory");
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < IDLE_CONNS + 100) {
        if (rl.rlim_max < IDLE_CONNS + 100)
            cr_skip_test("needs %d descriptors", IDLE_CONNS + 100);
        rl.rlim_cur = IDLE_CONNS + 100;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    start_http_with("rlimit_nofile = 2048\n", 1, "prefork",
                    "keepalive_timeout = 60s\n");
    w = the_worker();
    still_serving("start"); /* the first request's allocations are made */
    before = pool_private_memory(w);
    cr_assert_geq(before, 0);
    for (int i = 0; i < IDLE_CONNS; i++) {
        conn_open(&c[i]);
        send_req(&c[i], "GET", "/k1.xyzzy", NULL);
        expect_resp(&c[i], &r, 0, "GET before idling");
        resp_free(&r);
    }
    grew = pool_private_memory(w) - before;
    cr_expect_lt(grew / IDLE_CONNS, 2048,
                 "%d idle keep-alive connections cost the worker %lld bytes "
                 "each",
                 IDLE_CONNS, grew / IDLE_CONNS);
    for (int i = 0; i < IDLE_CONNS; i++)
        conn_close(&c[i]);
    still_serving("1,000 idle connections");
}

/* One worker holds many waiting connections: three clients sitting idle or
 * half-way through a head do not keep a fourth waiting. */
Test(http, idle_clients_do_not_block_the_worker, .fini = h_teardown,
     .timeout = 20)
{
    static const char partial[] = "GET /p3.txt HTTP/1.1\r\nHost: x\r\n";
    struct conn       slow, idle, silent, c;
    struct resp       r;
    char              want[64];
    int64_t           t0, t;

    start_http(1, "prefork", "header_timeout = 10s\nkeepalive_timeout = 10s\n");
    conn_open(&slow);
    conn_send(&slow, partial, strlen(partial));
    conn_open(&idle);
    send_req(&idle, "GET", "/one.xyzzy", NULL);
    expect_resp(&idle, &r, 0, "GET on the idle connection");
    resp_free(&r);
    conn_open(&silent);
    h_sleep_ms(200); /* let the worker take them all */

    t0 = h_now_ms();
    conn_open(&c);
    send_req(&c, "GET", "/index.html", NULL);
    cr_assert_eq(read_resp(&c, &r, 0, 3000), 0,
                 "with three clients waiting on the only worker, a new "
                 "request was not answered: %s",
                 r.why);
    t = h_now_ms() - t0;
    check_file(&r, index_html, strlen(index_html), NULL, "the fourth client");
    cr_assert(t < 1000, "the fourth client waited %lld ms", (long long)t);
    resp_free(&r);
    conn_close(&c);

    /* The half-sent request is still being read, and is answered. */
    conn_send(&slow, "\r\n", 2);
    p_body(3, want, sizeof want);
    expect_resp(&slow, &r, 0, "the request finished late");
    check_file(&r, want, strlen(want), NULL, "the request finished late");
    resp_free(&r);
    conn_close(&slow);
    conn_close(&idle);
    conn_close(&silent);
}

/* A client with a tiny receive window that asks for a big file and then
 * reads nothing: the body waits in the worker's epoll set, not in a
 * blocked send, and send_timeout ends it. */
Test(http, slow_reader_does_not_hold_the_worker, .fini = h_teardown,
     .timeout = 30)
{
    static const char ask[] = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    struct conn       c;
    struct resp       r;
    char              path[512], buf[65536];
    long long         got = 0, size = 64LL << 20;
    int64_t           t0, t;
    ssize_t           n;
    int               fd, slow;

    start_http(1, "prefork", "send_timeout = 1s\n");
    fd = open(in_dir(path, sizeof path, "www/big.bin"),
              O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    cr_assert(fd >= 0 && ftruncate(fd, size) == 0, "big.bin: %s",
              strerror(errno));
    close(fd);
    slow = connect_small_window();
    cr_assert_eq(h_send_all(slow, ask, strlen(ask), IO_MS), 0);
    h_sleep_ms(300); /* the worker has filled what the socket takes */

    t0 = h_now_ms();
    conn_open(&c);
    send_req(&c, "GET", "/index.html", NULL);
    cr_assert_eq(read_resp(&c, &r, 0, 3000), 0,
                 "a client that reads nothing held the only worker: %s", r.why);
    t = h_now_ms() - t0;
    cr_expect(t < 1000, "the second client waited %lld ms", (long long)t);
    check_file(&r, index_html, strlen(index_html), NULL, "the second client");
    resp_free(&r);
    conn_close(&c);

    /* Past send_timeout the server drops the slow reader: reading now
     * finds the end well before 64 MiB. */
    h_sleep_ms(2000);
    t0 = h_now_ms();
    while (h_now_ms() - t0 < 10000 && (n = recv(slow, buf, sizeof buf, 0)) > 0)
        got += n;
    close(slow);
    cr_assert(got < size,
              "all %lld bytes arrived: send_timeout did not end "
              "the stalled response",
              got);
    cr_assert(h_now_ms() - t0 < 10000, "the stalled response never ended");
}

/* --- robustness ----------------------------------------------------------- */

/* Descriptors pid has open, or -1. */
static int count_fds(pid_t pid)
{
    char           path[64];
    DIR           *d;
    struct dirent *e;
    int            n = 0;

    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

Test(http, a_thousand_malformed_requests, .fini = h_teardown, .timeout = 60)
{
    int   failures = 0, fds0, fds1;
    pid_t w;
    char  first[640] = "";

    start_http(1, "prefork", "");
    still_serving("start-up"); /* the worker has settled */
    w = the_worker();
    fds0 = count_fds(w);
    for (int i = 0; i < 1000 && failures < 10; i++) {
        const char *raw = bad[i % NBAD].raw;
        struct conn c;
        struct resp r;

        conn_open(&c);
        conn_send(&c, raw, strlen(raw));
        if (read_resp(&c, &r, 0, IO_MS) < 0 ||
            r.status != bad[i % NBAD].status) {
            if (failures++ == 0)
                snprintf(first, sizeof first, "request %d (\"%.40s\"): %s %s",
                         i, raw, r.why, r.line);
        }
        resp_free(&r);
        conn_close(&c);
    }
    cr_assert_eq(failures, 0,
                 "%d bad answers to malformed requests; the "
                 "first: %s%s",
                 failures, first, h_diag(&srv));
    still_serving("a thousand malformed requests");
    cr_assert_eq(the_worker(), w, "the worker was replaced");
    fds1 = count_fds(w);
    cr_assert(fds1 <= fds0 + 4,
              "the worker held %d descriptors before and %d after a "
              "thousand closed connections",
              fds0, fds1);
}

/* --- the access log ------------------------------------------------------- */

/* Does path hold a combined-format line for "GET path" answered 200 with
 * size bytes, with today's date? */
static int has_log_line(const char *log, const char *path, size_t size,
                        const char *referer, const char *agent)
{
    char      *text = h_read_file(log), pattern[512];
    regex_t    re;
    regmatch_t m[2];
    int        found = 0;

    if (text == NULL)
        return 0;
    /* The test's path, referer and agent have no ERE specials but '.'. */
    snprintf(pattern, sizeof pattern,
             "^127\\.0\\.0\\.1 - - "
             "\\[([0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2}) "
             "\\+0000\\] \"GET %s HTTP/1\\.1\" 200 %zu \"%s\" \"%s\"$",
             path, size, referer, agent);
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0,
                 "test bug: bad pattern %s", pattern);
    if (regexec(&re, text, 2, m, 0) == 0) {
        struct tm tm = {0};
        char      stamp[32];

        snprintf(stamp, sizeof stamp, "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                 text + m[1].rm_so);
        found = strptime(stamp, "%d/%b/%Y:%H:%M:%S", &tm) != NULL &&
                labs((long)(timegm(&tm) - time(NULL))) < 60;
    }
    regfree(&re);
    free(text);
    return found;
}

Test(http, access_log_combined_and_reopened, .fini = h_teardown, .timeout = 30)
{
    static const char referer[] = "http://referer.example/from",
                      agent[] = "test-agent/1.0";
    char        log[256], old[256], hdrs[256];
    struct resp r;
    int         tries;

    start_http(1, "prefork", "access_log = access.log\n");
    in_dir(log, sizeof log, "access.log");
    in_dir(old, sizeof old, "access.log.1");
    snprintf(hdrs, sizeof hdrs, "Referer: %s\r\nUser-Agent: %s\r\n", referer,
             agent);
    fetch("GET", "/x.txt", hdrs, &r);
    cr_assert_eq(r.status, 200);
    resp_free(&r);
    cr_assert(H_WAIT(1500, has_log_line(log, "/x\\.txt", 11, referer, agent)),
              "no combined-format line for GET /x.txt in %s:\n%s", log,
              h_read_file(log));

    /* Rotate as logrotate would: rename, then USR1 to the master. */
    cr_assert_eq(rename(log, old), 0);
    h_signal(&srv, SIGUSR1);
    /* The worker learns of it from the master, a moment later: ask until
     * a request lands in the new file. */
    for (tries = 0; tries < 10; tries++) {
        fetch("GET", "/p0.txt", hdrs, &r);
        resp_free(&r);
        if (H_WAIT(300, h_file_contains(log, "GET /p0.txt")))
            break;
    }
    cr_assert(tries < 10, "no new %s with requests after USR1%s", log,
              h_diag(&srv));
    fetch("GET", "/p1.txt", hdrs, &r);
    resp_free(&r);
    cr_assert(H_WAIT(1500, h_file_contains(log, "GET /p1.txt")),
              "the request after reopening is not in the new log");
    cr_assert(!h_file_contains(old, "GET /p1.txt"),
              "the rotated log is still written to");
    cr_assert(h_file_contains(old, "GET /x.txt"), "the rotated log lost lines");
}

/* --- modes ---------------------------------------------------------------- */

static void check_mode(const char *mode)
{
    struct conn c;
    struct resp r;
    char        what[64], log[256];

    start_http(2, mode, "access_log = access.log\n");
    conn_open(&c);
    for (size_t i = 0; i < NSIZED; i++) {
        snprintf(what, sizeof what, "%s: GET %s", mode, sized[i].path);
        send_req(&c, "GET", sized[i].path, NULL);
        expect_resp(&c, &r, 0, what);
        check_sized(&r, i, what);
        resp_free(&r);
    }
    conn_close(&c);
    fetch("GET", "/", NULL, &r);
    check_file(&r, index_html, strlen(index_html), "text/html; charset=utf-8",
               mode);
    resp_free(&r);
    /* Whichever process served them, the requests are logged. */
    in_dir(log, sizeof log, "access.log");
    cr_assert(H_WAIT(1500, h_file_contains(log, "\"GET /m1.xyzzy HTTP/1.1\" "
                                                "200 1048576")),
              "%s: GET /m1.xyzzy is not in the access log", mode);
}

Test(http, forking_mode, .fini = h_teardown, .timeout = 30)
{
    check_mode("forking");
}

Test(http, threading_mode, .fini = h_teardown, .timeout = 30)
{
    check_mode("threading");
}

/* --- curl ----------------------------------------------------------------- */

/* curl's path from $PATH, or 0 when there is none. */
static int find_curl(char *buf, size_t cap)
{
    const char *p = getenv("PATH");

    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, ":");

        snprintf(buf, cap, "%.*s/curl", (int)n, p);
        if (n > 0 && access(buf, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

Test(http, curl_downloads_the_file, .fini = h_teardown, .timeout = 30)
{
    char            curl[512], url[128], out[256];
    const char     *argv[] = {curl, "-sS", "-o", out, url, NULL};
    struct h_result res;
    char           *got, *want;
    struct stat     st;
    int             code;

    if (!find_curl(curl, sizeof curl))
        cr_skip_test("no curl on PATH");
    start_http(2, "prefork", "");
    snprintf(url, sizeof url, "http://%s:%d/m1.xyzzy", LO, port);
    in_dir(out, sizeof out, "curl.out");
    code = h_run(argv, 15000, &res);
    cr_assert_eq(code, 0, "curl exited %d: %s", code, res.err);
    h_result_free(&res);
    cr_assert(stat(out, &st) == 0 && st.st_size == MIB,
              "curl saved %lld bytes, not %d", (long long)st.st_size, MIB);
    got = h_read_file(out);
    want = sized_data(M1);
    cr_assert(got != NULL && memcmp(got, want, MIB) == 0,
              "curl's download differs from the file");
    free(got);
    free(want);
}

/* --- the configuration ---------------------------------------------------- */

/* `prefork -t` on the config: exit 1, "prefork: CONF:LINE: " on stderr with
 * LINE that of the first line containing at, and the message naming
 * mention. */
static void expect_config_error(const char *at, const char *mention)
{
    const char     *argv[] = {H_PREFORK, "-t", "-c", srv.conf, NULL};
    struct h_result r;
    char            prefix[256];
    const char     *hit;
    int             code = h_run(argv, 5000, &r);

    snprintf(prefix, sizeof prefix, "prefork: %s:%d: ", srv.conf,
             h_line_of(srv.conf, at));
    cr_assert_eq(code, 1, "prefork -t exited %d, not 1\nstderr: %s", code,
                 r.err);
    hit = strstr(r.err, prefix);
    cr_assert(hit != NULL, "no \"%s\" on stderr: %s", prefix, r.err);
    cr_assert(strstr(hit, mention) != NULL,
              "the error does not mention \"%s\": %s", mention, r.err);
    h_result_free(&r);
}

Test(http, config_requires_root, .fini = h_teardown, .timeout = 20)
{
    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(
        h_config(&srv, "[web]\nmodule = http\nlisten = %s:%d\n", LO, port), 0);
    expect_config_error("[web]", "root");
}

Test(http, config_root_must_be_a_directory, .fini = h_teardown, .timeout = 20)
{
    char path[256];

    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    put_text("afile", "not a directory\n");
    cr_assert_eq(h_config(&srv,
                          "[web]\nmodule = http\nlisten = %s:%d\n"
                          "root = afile\n",
                          LO, port),
                 0);
    expect_config_error("root = afile", "afile");
    cr_assert_eq(h_config(&srv,
                          "[web]\nmodule = http\nlisten = %s:%d\n"
                          "root = %s\n",
                          LO, port, in_dir(path, sizeof path, "nothere")),
                 0);
    expect_config_error("root = ", "nothere");
}

/* --- health ------------------------------------------------------------------ */

/* A GET of the health path on a connection of its own: its status. */
static int health_status(const char *path, int *closed)
{
    struct resp r;
    char        raw[256];
    int n = snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                     path, LO, port),
        status;

    fetch_raw(raw, (size_t)n, &r, closed);
    status = r.status;
    if (status == 200 || status == 503)
        cr_expect_str_eq(hval(&r, "Cache-Control"), "no-store");
    resp_free(&r);
    return status;
}

Test(http, health_answers_200_then_503_during_shutdown_delay,
     .fini = h_teardown, .timeout = 30)
{
    struct resp r;
    int         closed = 0;
    int64_t     t0;

    start_http_with("shutdown_delay = 2s\n", 2, "prefork",
                    "health = /healthz\n");
    cr_assert_eq(health_status("/healthz", &closed), 200);
    cr_expect(!closed, "a healthy answer closed the connection");
    cr_expect_eq(health_status("/healthz?probe=1", NULL), 200,
                 "a query string is not part of the path");
    cr_expect_eq(health_status("/healthz/", NULL), 404,
                 "only the path itself is the health check");
    cr_assert_eq(h_signal(&srv, SIGQUIT), 0);
    t0 = h_now_ms();
    cr_assert(H_WAIT(1500, health_status("/healthz", NULL) == 503),
              "no 503 after QUIT with shutdown_delay%s", h_diag(&srv));
    cr_expect_eq(health_status("/healthz", &closed), 503);
    cr_expect(closed, "a 503 kept the connection open");
    /* Everything else is still served meanwhile. */
    fetch("GET", "/", NULL, &r);
    cr_expect_eq(r.status, 200, "not serving during shutdown_delay");
    resp_free(&r);
    cr_expect(h_alive(&srv), "the master left during shutdown_delay");
    cr_assert_eq(h_wait_exit(&srv, 10000), 0,
                 "the server did not stop after the delay%s", h_diag(&srv));
    cr_expect_geq(h_now_ms() - t0, 1800, "stopped before shutdown_delay");
    cr_expect(h_file_contains(srv.log, "shutdown_delay"), "%s", h_diag(&srv));
}

Test(http, config_health_must_be_a_plain_path, .fini = h_teardown,
     .timeout = 20)
{
    static const char *const paths[] = {"healthz", "/a/../b", "/h?x", "/%41"};

    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        cr_assert_eq(h_init(&srv), 0);
        port = h_free_port(LO, SOCK_STREAM);
        make_root();
        cr_assert_eq(h_config(&srv,
                              "[web]\nmodule = http\nlisten = %s:%d\n"
                              "root = www\nhealth = %s\n",
                              LO, port, paths[i]),
                     0);
        expect_config_error("health = ", "health");
        h_cleanup(&srv);
    }
}

/* A large file to a client that reads it slowly through a small window:
 * more than the server's socket buffer takes (loopback's grows to 4 MiB),
 * so the body leaves in partial sendfiles (pf_sendfile_nowait), each taken
 * up again when the socket is writable (PF_WRITE).  It arrives
 * byte-exact, with the answer pipelined behind it after it, and the one
 * worker serves others in between. */
Test(http, a_slow_reader_gets_every_byte_of_a_large_file, .fini = h_teardown,
     .timeout = 60)
{
    static const char ask[] = "GET /slow.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /k1.xyzzy HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t            size = 12 * MIB;
    char             *want = malloc(size), path[512];
    struct conn       c;
    struct resp       r;
    int               fd;

    cr_assert_not_null(want);
    h_pattern(want, size, 4242);
    start_http(1, "prefork", "");
    fd = open(in_dir(path, sizeof path, "www/slow.bin"),
              O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    cr_assert(fd >= 0 && write(fd, want, size) == (ssize_t)size, "slow.bin: %s",
              strerror(errno));
    close(fd);
    memset(&c, 0, sizeof c);
    c.fd = connect_small_window();
    conn_send(&c, ask, sizeof ask - 1);
    h_sleep_ms(300); /* the worker has filled what the socket takes */
    for (int reads = 1; reads <= 200; reads++) {
        cr_assert_eq(conn_fill(&c, h_now_ms() + IO_MS), 1,
                     "the body stopped after %zu bytes%s", c.len, h_diag(&srv));
        if (reads == 20)
            still_serving("the start of a slow download");
        h_sleep_ms(1);
    }
    expect_resp(&c, &r, 0, "the large file read slowly");
    cr_assert_eq(r.status, 200, "the large file: \"%s\"", r.line);
    cr_assert_eq(r.blen, size, "the large file: %zu of %zu bytes", r.blen,
                 size);
    cr_assert(memcmp(r.body, want, size) == 0,
              "the large file arrived with other bytes");
    resp_free(&r);
    free(want);
    expect_resp(&c, &r, 0, "the answer pipelined behind it");
    check_sized(&r, K1, "the answer pipelined behind it");
    resp_free(&r);
    conn_close(&c);
}

/* --- If-Range ------------------------------------------------------------- */

/* GET /k1.xyzzy with "Range: bytes=0-9" and "If-Range: validator": a 206
 * of the first ten bytes when the validator matches, else a 200 with the
 * whole file (RFC 9110 13.1.5). */
static void check_if_range(const char *validator, int matches)
{
    struct resp r;
    char        hdr[256], what[160];
    char       *data = sized_data(K1);

    snprintf(hdr, sizeof hdr, "Range: bytes=0-9\r\nIf-Range: %s\r\n",
             validator);
    snprintf(what, sizeof what, "If-Range: %s", validator);
    fetch("GET", "/k1.xyzzy", hdr, &r);
    if (matches) {
        const char *cr = hval(&r, "Content-Range");

        cr_assert_eq(r.status, 206, "%s: \"%s\"", what, r.line);
        cr_assert(cr != NULL && strcmp(cr, "bytes 0-9/1000") == 0,
                  "%s: Content-Range \"%s\"", what, cr ? cr : "(none)");
        cr_assert_eq(r.blen, 10, "%s: %zu bytes", what, r.blen);
        cr_assert_eq(memcmp(r.body, data, 10), 0, "%s: not bytes 0-9", what);
    } else {
        check_file(&r, data, 1000, NULL, what);
        cr_assert_null(hval(&r, "Content-Range"), "%s: a Content-Range", what);
    }
    resp_free(&r);
    free(data);
}

Test(http, if_range, .fini = h_teardown, .timeout = 20)
{
    struct resp r;
    char        etag[128], weak[140];

    start_http(2, "prefork", "");
    fetch("GET", "/k1.xyzzy", NULL, &r);
    snprintf(etag, sizeof etag, "%s", hval(&r, "ETag"));
    resp_free(&r);
    snprintf(weak, sizeof weak, "W/%s", etag);

    check_if_range(etag, 1);
    check_if_range("\"old\"", 0);
    check_if_range(weak, 0); /* a weak tag never matches */
    check_if_range(MTIME_HTTP, 1);
    check_if_range("Tue, 31 Dec 2019 23:59:59 GMT", 0);
    check_if_range("Thu, 02 Jan 2020 00:00:00 GMT", 0); /* later: no match */
}
