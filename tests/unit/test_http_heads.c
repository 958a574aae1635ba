/*
 * test_http_heads.c -- every answer the http module makes, its head byte
 * for byte against tests/fixtures/http-heads.txt.
 *
 * The module runs whole (its check, worker_init, setup, handle, finish)
 * on a document root made here, behind a host table of this file's own
 * that hands it one request and keeps every byte it sends.  The expected
 * heads were written by the module as it was when each answer was added,
 * so that a faster way of building heads must build the same bytes.
 * The Date value and the version in Server are the only parts masked;
 * short bodies (error pages, ranges, small files) are compared too.
 * PF_HEADS_WRITE=FILE writes what the module sends now to FILE instead of
 * comparing, to make the fixture again on purpose.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "modules/http/state.h"

#define FIXTURE PF_SRCDIR "/tests/fixtures/http-heads.txt"
#define MTIME   1700000000 /* Tue, 14 Nov 2023 22:13:20 GMT */

extern const struct pf_module prefork_module;

/* --- a host that keeps what is sent -------------------------------------- */

static struct {
    const char *in; /* the request bytes not yet read */
    size_t      in_len;
    char       *out; /* everything sent */
    size_t      out_len, out_cap;
    int         accepting;
} io;

static void keep(const void *p, size_t n)
{
    if (io.out_len + n > io.out_cap) {
        io.out_cap = (io.out_len + n) * 2;
        io.out = realloc(io.out, io.out_cap);
        cr_assert_not_null(io.out);
    }
    memcpy(io.out + io.out_len, p, n);
    io.out_len += n;
}

static void h_vlog(const pf_service *svc, int level, const char *fmt,
                   va_list ap)
{
    (void)svc;
    (void)level;
    (void)fmt;
    (void)ap;
}

static void h_vconf_error(pf_service *svc, const char *key, const char *fmt,
                          va_list ap)
{
    (void)svc;
    fprintf(stderr, "%s: ", key != NULL ? key : "-");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static int h_write(pf_conn *c, const void *buf, size_t len)
{
    (void)c;
    keep(buf, len);
    return 0;
}

static ssize_t h_send_nowait(pf_conn *c, const void *buf, size_t len, int more)
{
    (void)more;
    return h_write(c, buf, len) == 0 ? (ssize_t)len : -1;
}

static ssize_t h_sendv_nowait(pf_conn *c, const struct iovec *iov, int iovcnt,
                              int more)
{
    size_t n = 0;
    int    i;

    (void)c;
    (void)more;
    for (i = 0; i < iovcnt; i++) {
        keep(iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    return (ssize_t)n;
}

static ssize_t h_sendfile_nowait(pf_conn *c, int fd, off_t *offset, size_t len)
{
    char    buf[4096];
    size_t  done = 0;
    ssize_t n;

    (void)c;
    while (done < len) {
        n = pread(fd, buf, len - done < sizeof(buf) ? len - done : sizeof(buf),
                  *offset);
        if (n <= 0) {
            errno = EIO;
            return -1;
        }
        keep(buf, (size_t)n);
        *offset += n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static int h_sendfile(pf_conn *c, int fd, off_t offset, size_t len)
{
    return h_sendfile_nowait(c, fd, &offset, len) == (ssize_t)len ? 0 : -1;
}

static ssize_t h_recv_nowait(pf_conn *c, void *buf, size_t len)
{
    (void)c;
    if (io.in_len == 0) {
        errno = EAGAIN;
        return -1;
    }
    if (len > io.in_len)
        len = io.in_len;
    memcpy(buf, io.in, len);
    io.in += len;
    io.in_len -= len;
    return (ssize_t)len;
}

static int h_accepting(const pf_service *svc)
{
    (void)svc;
    return io.accepting;
}

static void h_activity(pf_conn *c, const char *text, size_t len)
{
    (void)c;
    (void)text;
    (void)len;
}

static int h_nodelay(pf_conn *c)
{
    (void)c;
    return 0;
}

/* An ABI 1.3 host: members added later are absent to the module. */
static const struct pf_api api = {
    .size = offsetof(struct pf_api, nodelay) + sizeof(api.nodelay),
    .vlog = h_vlog,
    .vconf_error = h_vconf_error,
    .write = h_write,
    .write_more = h_write,
    .sendfile = h_sendfile,
    .send_nowait = h_send_nowait,
    .accepting = h_accepting,
    .activity = h_activity,
    .recv_nowait = h_recv_nowait,
    .sendv_nowait = h_sendv_nowait,
    .sendfile_nowait = h_sendfile_nowait,
    .nodelay = h_nodelay,
};

/* --- the document root ---------------------------------------------------- */

static char root[64];

static void put_file(const char *name, size_t size)
{
    char            path[256];
    struct timespec t[2] = {{MTIME, 0}, {MTIME, 0}};
    FILE           *f;
    size_t          i;

    snprintf(path, sizeof(path), "%s/%s", root, name);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    for (i = 0; i < size; i++)
        fputc('a' + (int)(i % 26), f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void make_root(void)
{
    char path[256];

    strcpy(root, "/tmp/pf-heads.XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    put_file("1k.bin", 1024);
    put_file("big.bin", 20000); /* past FC_SMALL: sent with sendfile */
    put_file("page.html", 300);
    put_file("notes.txt", 12);
    put_file("empty.txt", 0);
    snprintf(path, sizeof(path), "%s/dir", root);
    cr_assert_eq(mkdir(path, 0755), 0);
    put_file("dir/index.html", 50);
    snprintf(path, sizeof(path), "%s/list", root);
    cr_assert_eq(mkdir(path, 0755), 0);
    put_file("list/a.txt", 3);
    put_file("list/b c.txt", 3);
}

static int remove_one(const char *path, const struct stat *st, int type,
                      struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static void remove_root(void)
{
    nftw(root, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* --- the answers ----------------------------------------------------------- */

/* Which service (autoindex off, on), and how the connection runs. */
enum {
    PLAIN = 0,
    LISTING = 1,
    SERVICE = 1,
    STOPPING = 2,  /* the worker has stopped taking new work */
    TIMED_OUT = 4, /* the head never finished: finish() answers */
};

struct answer {
    const char *name;
    const char *request;
    int         how;
};

static const struct answer answers[] = {
    {"200 GET, opened", "GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 GET, cached", "GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 HEAD", "HEAD /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 HTTP/1.0 keep-alive",
     "GET /1k.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", PLAIN},
    {"200 HTTP/1.0", "GET /1k.bin HTTP/1.0\r\n\r\n", PLAIN},
    {"200 Connection: close",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", PLAIN},
    {"200 stopping", "GET /1k.bin HTTP/1.1\r\nHost: x\r\n\r\n",
     PLAIN | STOPPING},
    {"200 sendfile", "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 sendfile, cached", "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 HEAD sendfile", "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 text/html", "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 text/plain", "GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 empty", "GET /empty.txt HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 index", "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 index, cached", "GET /dir/ HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 query", "GET /1k.bin?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"304 If-None-Match",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\n"
     "If-None-Match: \"6553f100-400\"\r\n\r\n",
     PLAIN},
    {"304 If-None-Match *",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n", PLAIN},
    {"304 If-None-Match W/ in a list",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\n"
     "If-None-Match: \"x\", W/\"6553f100-400\"\r\n\r\n",
     PLAIN},
    {"200 If-None-Match other",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"x\"\r\n\r\n", PLAIN},
    {"304 If-Modified-Since",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\n"
     "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n",
     PLAIN},
    {"200 If-Modified-Since earlier",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\n"
     "If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n\r\n",
     PLAIN},
    {"304 HEAD HTTP/1.0",
     "HEAD /1k.bin HTTP/1.0\r\nIf-None-Match: \"6553f100-400\"\r\n\r\n", PLAIN},
    {"304 sendfile",
     "GET /big.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n", PLAIN},
    {"206", "GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n",
     PLAIN},
    {"206 suffix",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-10\r\n\r\n", PLAIN},
    {"206 sendfile",
     "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=19000-\r\n\r\n", PLAIN},
    {"206 HEAD", "HEAD /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n",
     PLAIN},
    {"206 If-Range",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n"
     "If-Range: \"6553f100-400\"\r\n\r\n",
     PLAIN},
    {"200 If-Range other",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n"
     "If-Range: \"x\"\r\n\r\n",
     PLAIN},
    {"200 Range unparsed",
     "GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: lines=1-2\r\n\r\n", PLAIN},
    {"416", "GET /1k.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=5000-\r\n\r\n",
     PLAIN},
    {"416 HTTP/1.0", "GET /1k.bin HTTP/1.0\r\nRange: bytes=5000-\r\n\r\n",
     PLAIN},
    {"301", "GET /dir HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"301 query", "GET /dir?a=1&b=2 HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"301 HEAD", "HEAD /dir HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"403 no index", "GET /list/ HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 autoindex", "GET /list/ HTTP/1.1\r\nHost: x\r\n\r\n", LISTING},
    {"200 autoindex HEAD", "HEAD /list/ HTTP/1.0\r\n\r\n", LISTING},
    {"404", "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"404 HEAD", "HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"404 HTTP/1.0", "GET /missing HTTP/1.0\r\n\r\n", PLAIN},
    {"404 HTTP/1.0 keep-alive",
     "GET /missing HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", PLAIN},
    {"404 file/", "GET /notes.txt/ HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"405", "POST /1k.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
     PLAIN},
    {"405 unknown method", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"400 garbage", "GARBAGE\r\n\r\n", PLAIN},
    {"400 path", "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"400 bad chunked",
     "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     "zz\r\n",
     PLAIN},
    {"413", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
     PLAIN},
    {"501", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
     PLAIN},
    {"505", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", PLAIN},
    {"200 health", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", PLAIN},
    {"200 health HEAD", "HEAD /healthz HTTP/1.0\r\n\r\n", PLAIN},
    {"503 health", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
     PLAIN | STOPPING},
    {"408", "GET /1k.bin HTTP/1.1\r\nHost: x\r\n", PLAIN | TIMED_OUT},
};

/* The long ones, made at run time. */
static char long_uri[10000], long_head[10000], long_location[5000];

static const struct answer long_answers[] = {
    {"414", long_uri, PLAIN},
    {"431", long_head, PLAIN},
    {"301 long Location", long_location, PLAIN},
};

static void make_long_requests(void)
{
    size_t n;

    n = (size_t)snprintf(long_uri, sizeof(long_uri), "GET /");
    memset(long_uri + n, 'u', 9000);
    strcpy(long_uri + n + 9000, " HTTP/1.1\r\nHost: x\r\n\r\n");
    n = (size_t)snprintf(long_head, sizeof(long_head),
                         "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(long_head + n, 'h', 9000);
    strcpy(long_head + n + 9000, "\r\n\r\n");
    /* A query long enough that Location outgrows the head's buffer. */
    n = (size_t)snprintf(long_location, sizeof(long_location), "GET /dir?");
    memset(long_location + n, 'q', 1500);
    strcpy(long_location + n + 1500, " HTTP/1.1\r\nHost: x\r\n\r\n");
}

/* --- running one ------------------------------------------------------------ */

static struct http_conf conf[2];
static pf_service       svc[2];

static void start_services(void)
{
    int i;

    for (i = 0; i < 2; i++) {
        conf[i] = (struct http_conf){
            .root = root,
            .index = "index.html",
            .keepalive_timeout = 5000,
            .header_timeout = 10000,
            .send_timeout = 60000,
            .file_cache_valid = 0,
            .max_header_size = 8192,
            .autoindex = i == LISTING,
            .health = "/healthz",
        };
        svc[i] = (pf_service){
            .api = &api, .name = "web", .conf = &conf[i], .config_dir = "/"};
        cr_assert_eq(prefork_module.check(&svc[i]), 0);
        cr_assert_eq(prefork_module.worker_init(&svc[i]), 0);
    }
}

/* Run a on a connection of its own; io.out holds what was sent. */
static void run(const struct answer *a)
{
    struct sockaddr_in peer = {.sin_family = AF_INET};
    pf_conn            c = {
                   .api = &api,
                   .svc = &svc[a->how & SERVICE],
                   .fd = -1,
                   .peer = (const struct sockaddr *)&peer,
                   .peerlen = sizeof(peer),
    };
    int r, i;

    io.in = a->request;
    io.in_len = strlen(a->request);
    io.out_len = 0;
    io.accepting = !(a->how & STOPPING);
    cr_assert_eq(prefork_module.setup(&c), 0);
    for (i = 0; i < 10; i++) {
        r = prefork_module.handle(&c);
        if (r != PF_WRITE)
            break;
    }
    c.timed_out = (a->how & TIMED_OUT) != 0;
    prefork_module.finish(&c);
}

/* What was sent, as the fixture keeps it: the head's lines without their
 * CRLF (a last line without one ends in '|'), the Date and the version
 * masked, then a short body itself, then the body's length. */
static char *describe(const struct answer *a)
{
    char  *s = NULL, *end;
    size_t n = 0, hlen, i;
    FILE  *f = open_memstream(&s, &n);

    cr_assert_not_null(f);
    end = memmem(io.out, io.out_len, "\r\n\r\n", 4);
    hlen = end != NULL ? (size_t)(end - io.out) + 4 : io.out_len;
    fprintf(f, "=== %s\n", a->name);
    for (i = 0; i < hlen;) {
        const char *line = io.out + i;
        const char *eol = memmem(line, hlen - i, "\r\n", 2);
        size_t      len = eol != NULL ? (size_t)(eol - line) : hlen - i;

        if (len == 6 + 29 && memcmp(line, "Date: ", 6) == 0 &&
            memcmp(line + len - 4, " GMT", 4) == 0)
            fprintf(f, "Date: <date>");
        else if (len == strlen("Server: prefork/" PACKAGE_VERSION) &&
                 memcmp(line, "Server: prefork/" PACKAGE_VERSION, len) == 0)
            fprintf(f, "Server: prefork/<version>");
        else
            fwrite(line, 1, len, f);
        fputc(eol != NULL ? '\n' : '|', f);
        i += len + (eol != NULL ? 2 : 0);
    }
    /* Short bodies in full: error pages, ranges, small files. */
    if (io.out_len - hlen <= 400) {
        fwrite(io.out + hlen, 1, io.out_len - hlen, f);
        fputc('\n', f);
    }
    fprintf(f, "(body %zu bytes)\n", io.out_len - hlen);
    fclose(f);
    return s;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *s;
    long  n;

    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    s = calloc(1, (size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return s;
}

static void check(const struct answer *a, const char *expected, FILE *out)
{
    char  *got, *want, *at, *next;
    size_t len;

    run(a);
    got = describe(a);
    if (out != NULL) {
        fputs(got, out);
        free(got);
        return;
    }
    /* The block in the fixture that opens with the same "=== name" line. */
    at = memmem(expected, strlen(expected), got, strcspn(got, "\n") + 1);
    cr_expect_not_null(at, "no expected head for '%s'", a->name);
    if (at != NULL) {
        next = strstr(at + 1, "\n=== ");
        len = next != NULL ? (size_t)(next - at + 1) : strlen(at);
        want = strndup(at, len);
        cr_expect_str_eq(got, want, "'%s'", a->name);
        free(want);
    }
    free(got);
}

Test(http_heads, every_answer_as_it_was)
{
    const char *write_to = getenv("PF_HEADS_WRITE");
    char       *expected = NULL;
    FILE       *out = NULL;
    size_t      i;

    make_root();
    make_long_requests();
    start_services();
    if (write_to != NULL)
        cr_assert_not_null(out = fopen(write_to, "w"));
    else
        expected = read_all(FIXTURE);
    for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
        check(&answers[i], expected, out);
    for (i = 0; i < sizeof(long_answers) / sizeof(long_answers[0]); i++)
        check(&long_answers[i], expected, out);
    if (out != NULL)
        fclose(out);
    free(expected);
    prefork_module.worker_exit(&svc[PLAIN]);
    prefork_module.worker_exit(&svc[LISTING]);
    remove_root();
}
