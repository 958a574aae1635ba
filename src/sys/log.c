/*
 * log.c -- the error log shared by the master and every worker.
 *
 * A line looks like
 *
 *     2026/11/21 00:44:19 [info] 12345: [svc] message: strerror
 *
 * and is built whole on the stack, then handed to the kernel with one
 * write(2) on an O_APPEND descriptor, so lines from many processes (and
 * threads) land whole and never interleave.  Nothing here allocates, so
 * logging works when memory is short.  Not for signal handlers: localtime_r
 * and vsnprintf are not async-signal-safe.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "prefork/module.h"

/* Longest line written; longer messages are cut and marked with "...". */
#define LOG_LINE_MAX 2048
/* Room kept for ": strerror" and the newline so a cut message keeps them. */
#define LOG_TAIL_MAX 128

enum log_kind { TO_STDERR, TO_SYSLOG, TO_FILE };

static struct {
    enum log_kind kind;
    int           fd; /* TO_FILE only */
    int           level;
    char          path[4096];
    int           echo; /* errors also to stderr (start-up) */
} lg = {.kind = TO_STDERR, .fd = -1, .level = PF_LOG_INFO};

const struct choice log_levels[] = {
    {"debug", PF_LOG_DEBUG}, {"info", PF_LOG_INFO},   {"notice", PF_LOG_NOTICE},
    {"warn", PF_LOG_WARN},   {"error", PF_LOG_ERROR}, {NULL, 0},
};

const char *log_level_name(int level)
{
    const struct choice *c;

    for (c = log_levels; c->name != NULL; c++)
        if (c->value == level)
            return c->name;
    return "unknown";
}

static int open_file(const char *path)
{
    int fd;

    do
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    while (fd == -1 && errno == EINTR);
    return fd;
}

/* The logger itself cannot log where it is going; stderr is all there is. */
static void say(const char *what, const char *path, int err)
{
    dprintf(STDERR_FILENO, "prefork: %s %s: %s\n", what, path, strerror(err));
}

static void close_current(void)
{
    if (lg.kind == TO_FILE && lg.fd != -1)
        close(lg.fd);
    else if (lg.kind == TO_SYSLOG)
        closelog();
    lg.kind = TO_STDERR;
    lg.fd = -1;
    lg.path[0] = '\0';
}

int log_open(const char *target, int level)
{
    int fd = -1;

    if (strcmp(target, "stderr") != 0 && strcmp(target, "syslog") != 0) {
        if (strlen(target) >= sizeof(lg.path)) {
            say("cannot open error log", target, ENAMETOOLONG);
            return -1;
        }
        fd = open_file(target);
        if (fd == -1) {
            say("cannot open error log", target, errno);
            return -1;
        }
    }
    /* localtime_r() does not read TZ by itself; do it once, here. */
    tzset();
    close_current();
    lg.level = level;
    if (fd != -1) {
        lg.kind = TO_FILE;
        lg.fd = fd;
        strcpy(lg.path, target);
    } else if (strcmp(target, "syslog") == 0) {
        lg.kind = TO_SYSLOG;
        openlog("prefork", LOG_PID, LOG_DAEMON);
    }
    return 0;
}

/*
 * The new file is opened before the old one is let go, so a failed reopen
 * (a full disk, a removed directory) leaves logging where it was.  dup3()
 * puts the new file on the old descriptor number atomically: nothing ever
 * writes to a closed descriptor.
 */
int log_reopen(void)
{
    int fd, rc;

    if (lg.kind != TO_FILE)
        return 0;
    fd = open_file(lg.path);
    if (fd == -1) {
        log_at(PF_LOG_ERROR, NULL, errno, "cannot reopen error log %s",
               lg.path);
        return -1;
    }
    do
        rc = dup3(fd, lg.fd, O_CLOEXEC);
    while (rc == -1 && errno == EINTR);
    if (rc == -1) {
        int err = errno;

        close(fd);
        log_at(PF_LOG_ERROR, NULL, err, "cannot reopen error log %s", lg.path);
        return -1;
    }
    close(fd);
    return 0;
}

void log_chown(uid_t uid)
{
    if (lg.kind == TO_FILE && fchown(lg.fd, uid, (gid_t)-1) == -1)
        log_at(PF_LOG_WARN, NULL, errno, "cannot give %s to uid %ld", lg.path,
               (long)uid);
}

void log_echo_stderr(int on)
{
    lg.echo = on;
}

void log_close(void)
{
    close_current();
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);

        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report it */
        buf += w;
        len -= (size_t)w;
    }
}

/* Format "[svc] message: strerror" into buf; returns its length. */
static size_t format_body(char *buf, size_t cap, const char *svc, int err,
                          const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static size_t format_body(char *buf, size_t cap, const char *svc, int err,
                          const char *fmt, va_list ap)
{
    size_t len = 0, room = cap - LOG_TAIL_MAX;
    int    n;

    if (svc != NULL) {
        n = snprintf(buf, room, "[%s] ", svc);
        len = n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
    }
    n = vsnprintf(buf + len, room - len, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= room - len) {
        len = room - 1;
        memcpy(buf + len - 3, "...", 3);
    } else {
        len += (size_t)n;
    }
    if (err != 0) {
        char        ebuf[LOG_TAIL_MAX];
        const char *etext = strerror_r(err, ebuf, sizeof(ebuf));

        n = snprintf(buf + len, cap - len, ": %s", etext);
        if (n > 0)
            len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;
    }
    return len;
}

void log_vat(int level, const char *svc, int err, const char *fmt, va_list ap)
{
    char      line[LOG_LINE_MAX], body[LOG_LINE_MAX - 64];
    int       saved = errno, n;
    size_t    blen, len;
    struct tm tm;
    time_t    now;

    if (level > lg.level)
        return;
    blen = format_body(body, sizeof(body), svc, err, fmt, ap);
    if (lg.echo && level <= PF_LOG_ERROR && lg.kind != TO_STDERR)
        dprintf(STDERR_FILENO, "prefork: %.*s\n", (int)blen, body);
    if (lg.kind == TO_SYSLOG) {
        syslog(level, "%s", body);
        errno = saved;
        return;
    }
    now = time(NULL);
    if (localtime_r(&now, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    len = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
    n = snprintf(line + len, sizeof(line) - len,
                 " [%s] %ld: ", log_level_name(level), (long)getpid());
    if (n > 0)
        len += (size_t)n;
    /* body fits: it is 64 bytes shorter than line, more than the prefix. */
    memcpy(line + len, body, blen);
    len += blen;
    line[len++] = '\n';
    write_all(lg.kind == TO_FILE ? lg.fd : STDERR_FILENO, line, len);
    errno = saved;
}

void log_at(int level, const char *svc, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vat(level, svc, err, fmt, ap);
    va_end(ap);
}
