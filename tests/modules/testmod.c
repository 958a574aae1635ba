/*
 * testmod.c -- a module for the integration tests, never installed.
 *
 * It echoes like `echo`, answers two commands that let a test look inside
 * the worker serving it, and misbehaves on request so the tests can watch
 * the master cope:
 *
 *   pid\n       the serving process's pid, then \n (stream or datagram)
 *   fds\n       how many of its descriptors are sockets, then \n
 *   who\n       the peer as the module sees it: ADDR:PORT (IPv6 in
 *               brackets) or "unix", then \n
 *   crash       yes: SIGSEGV on receiving anything
 *   abort       yes: abort() on receiving anything
 *   sleep       a duration slept on receiving anything, before answering
 *   fail_init   yes: worker_init() fails
 *   reject      set: check() rejects the key with "rejected: VALUE"
 *   leak        a size allocated, touched and never freed per read
 *   fail_setup  yes: setup() fails, so the connection is closed at once
 *
 * A finish() for a connection whose setup() did not succeed is logged
 * ("testmod: finish() without setup()"): the host must never call it.
 *
 * A command is recognised only as a whole line; any other bytes, partial
 * lines included, are echoed as they arrive.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <prefork/module.h>

#define TM_BUFSIZE   16384
#define TM_MAX_READS 16

struct tm_conf {
    int       crash;
    int       abort;
    long long sleep_ms;
    int       fail_init;
    char     *reject;
    long long leak;
    int       fail_setup;
};

static const struct pf_key tm_keys[] = {
    {.name = "crash",
     .type = PF_KEY_BOOL,
     .offset = offsetof(struct tm_conf, crash),
     .def = "no",
     .help = "raise SIGSEGV when serving"},
    {.name = "abort",
     .type = PF_KEY_BOOL,
     .offset = offsetof(struct tm_conf, abort),
     .def = "no",
     .help = "call abort() when serving"},
    {.name = "sleep",
     .type = PF_KEY_DURATION,
     .offset = offsetof(struct tm_conf, sleep_ms),
     .def = "0",
     .help = "sleep this long before answering"},
    {.name = "fail_init",
     .type = PF_KEY_BOOL,
     .offset = offsetof(struct tm_conf, fail_init),
     .def = "no",
     .help = "make worker_init() fail"},
    {.name = "reject",
     .type = PF_KEY_STRING,
     .offset = offsetof(struct tm_conf, reject),
     .help = "when set, check() rejects this key"},
    {.name = "leak",
     .type = PF_KEY_SIZE,
     .offset = offsetof(struct tm_conf, leak),
     .def = "0",
     .help = "bytes to allocate, touch and never free per read"},
    {.name = "fail_setup",
     .type = PF_KEY_BOOL,
     .offset = offsetof(struct tm_conf, fail_setup),
     .def = "no",
     .help = "make setup() fail"},
    {0},
};

/* Per connection: the start of a line that may still become a command. */
struct tm_conn {
    char   pend[4];
    size_t npend;
    int    bol; /* at the beginning of a line */
};

/* Output collected during one handle() call, flushed in order. */
struct tm_out {
    char   buf[TM_BUFSIZE + 64];
    size_t len;
};

static int tm_check(pf_service *svc)
{
    const struct tm_conf *conf = svc->conf;

    if (conf->reject != NULL) {
        pf_conf_error(svc, "reject", "rejected: %s", conf->reject);
        return -1;
    }
    return 0;
}

static int tm_worker_init(pf_service *svc)
{
    const struct tm_conf *conf = svc->conf;

    if (conf->fail_init) {
        pf_log(svc, PF_LOG_ERROR, "testmod: failing worker_init as told");
        return -1;
    }
    /* "fds" lists /proc/self/fd: allowed through the sandbox. */
    if (pf_sandbox_allow(svc, "/proc", PF_SB_READ) == -1)
        return -1;
    return 0;
}

/* Sleep the whole duration even when signals interrupt it. */
static void tm_sleep(long long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* What every handle()/datagram() does first: misbehave when told to. */
static void tm_misbehave(const pf_service *svc)
{
    const struct tm_conf *conf = svc->conf;

    if (conf->sleep_ms > 0)
        tm_sleep(conf->sleep_ms);
    if (conf->leak > 0 && (size_t)conf->leak >= sizeof(void *)) {
        /* Chained from a static head: grown, not lost (valgrind's leak
         * check at the worker's exit would count a lost block). */
        static void *kept;
        char        *p = malloc((size_t)conf->leak);

        if (p != NULL) {
            memset(p, 0x5a, (size_t)conf->leak); /* private, dirty */
            memcpy(p, &kept, sizeof kept);
            kept = p;
        }
    }
    if (conf->crash) {
        /* Die by the signal even where a sanitizer would catch it. */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    if (conf->abort) {
        signal(SIGABRT, SIG_DFL);
        abort();
    }
}

static int tm_count_sockets(void)
{
    DIR           *d = opendir("/proc/self/fd");
    struct dirent *e;
    int            n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char    target[64];
        ssize_t len;

        if (e->d_name[0] == '.')
            continue;
        len = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
        if (len < 0)
            continue;
        target[len] = '\0';
        if (strncmp(target, "socket:", 7) == 0)
            n++;
    }
    closedir(d);
    /* The directory stream's own descriptor is not a socket: no fix-up. */
    return n;
}

/* "ADDR:PORT" of the peer, "unix" for anything else. */
static int tm_who(const struct sockaddr *sa, char *out, size_t cap)
{
    char        host[INET6_ADDRSTRLEN];
    const void *a;
    unsigned    port;

    if (sa->sa_family == AF_INET) {
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        port =
            ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    } else {
        return snprintf(out, cap, "unix\n");
    }
    if (inet_ntop(sa->sa_family, a, host, sizeof host) == NULL)
        return snprintf(out, cap, "?\n");
    return snprintf(out, cap,
                    sa->sa_family == AF_INET6 ? "[%s]:%u\n" : "%s:%u\n", host,
                    port);
}

/* The answer to a command line ("pid", "fds" or "who"), or 0 when it is
 * none. */
static int tm_answer(const char *cmd, size_t len, const struct sockaddr *peer,
                     char *out, size_t cap)
{
    if (len == 3 && memcmp(cmd, "who", 3) == 0)
        return tm_who(peer, out, cap);
    if (len == 3 && memcmp(cmd, "pid", 3) == 0)
        return snprintf(out, cap, "%ld\n", (long)getpid());
    if (len == 3 && memcmp(cmd, "fds", 3) == 0)
        return snprintf(out, cap, "%d\n", tm_count_sockets());
    return 0;
}

static void tm_put(struct tm_out *o, const void *p, size_t n)
{
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

/* A byte is either held back (it may start a command line) or echoed. */
static void tm_feed(struct tm_conn *st, struct tm_out *o, char ch,
                    const struct sockaddr *peer)
{
    static const char *const cmds[] = {"pid\n", "fds\n", "who\n"};
    char                     ans[80];
    int                      n;

    if (!st->bol && st->npend == 0) {
        tm_put(o, &ch, 1);
        st->bol = ch == '\n';
        return;
    }
    st->pend[st->npend++] = ch;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (memcmp(st->pend, cmds[i], st->npend) != 0)
            continue;
        if (st->npend < 4)
            return; /* still a prefix of a command */
        n = tm_answer(st->pend, 3, peer, ans, sizeof ans);
        tm_put(o, ans, (size_t)n);
        st->npend = 0;
        st->bol = 1;
        return;
    }
    tm_put(o, st->pend, st->npend);
    st->npend = 0;
    st->bol = ch == '\n';
}

static int tm_setup(pf_conn *c)
{
    const struct tm_conf *conf = c->svc->conf;
    struct tm_conn       *st;

    if (conf->fail_setup)
        return -1;
    st = calloc(1, sizeof *st);

    if (st == NULL)
        return -1;
    st->bol = 1;
    c->data = st;
    return 0;
}

static int tm_handle(pf_conn *c)
{
    struct tm_conn *st = c->data;
    struct tm_out  *o;
    char            buf[TM_BUFSIZE];
    int             next = PF_MORE;

    o = malloc(sizeof *o);
    if (o == NULL)
        return PF_CLOSE;
    for (int i = 0; i < TM_MAX_READS; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
                next = PF_CLOSE;
            break;
        }
        /* Before every answer, so each request keeps the worker busy. */
        tm_misbehave(c->svc);
        o->len = 0;
        for (ssize_t j = 0; j < n; j++)
            tm_feed(st, o, buf[j], c->peer);
        if (pf_write(c, o->buf, o->len) < 0) {
            next = PF_CLOSE;
            break;
        }
    }
    free(o);
    return next;
}

static void tm_finish(pf_conn *c)
{
    if (c->data == NULL)
        pf_log(c->svc, PF_LOG_ERROR, "testmod: finish() without setup()");
    free(c->data);
    c->data = NULL;
}

static void tm_datagram(pf_dgram *d)
{
    char   ans[80];
    size_t len = d->len;
    int    n;

    tm_misbehave(d->svc);
    if (len > 0 && ((const char *)d->buf)[len - 1] == '\n')
        len--;
    n = tm_answer(d->buf, len, d->peer, ans, sizeof ans);
    if (n > 0)
        pf_reply(d, ans, (size_t)n);
    else
        pf_reply(d, d->buf, d->len);
}

/* One hook per line: clang-format would pack them. */
/* clang-format off */
PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,
    .name = "testmod",
    .version = "test",
    .socktypes = PF_STREAM | PF_DGRAM, /* any listener */
    .keys = tm_keys,
    .conf_size = sizeof(struct tm_conf),
    .check = tm_check,
    .worker_init = tm_worker_init,
    .setup = tm_setup,
    .handle = tm_handle,
    .finish = tm_finish,
    .datagram = tm_datagram,
};
/* clang-format on */
