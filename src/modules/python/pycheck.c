/*
 * pycheck.c -- the python module's check, in the master at config time
 * (`-t`, the start, every reload): the syntax of `handler`, then the class
 * itself, imported in a short-lived child so that the master never runs
 * Python.  The child writes its verdict into a pipe: "ok", or why not in
 * one line ("module 'handlers' has no attribute 'MyTCPHandlr'"), which the
 * master reports as the `handler` key's error, FILE:LINE.  A child that
 * takes longer than CHECK_TIMEOUT_MS is killed and that is the error.
 */
#include "py.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK_TIMEOUT_MS 30000

/* Is s a dotted name of identifiers ("a.b_c.d")? */
static int dotted_name(const char *s, size_t len)
{
    int start = 1;

    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '.') {
            if (start)
                return 0;
            start = 1;
            continue;
        }
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') ||
              (ch >= 'A' && ch <= 'Z') || (!start && ch >= '0' && ch <= '9') ||
              ch >= 0x80))
            return 0;
        start = 0;
    }
    return !start;
}

static void write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* The child: import the class, say what happened, exit. */
_Noreturn static void child(const pf_service *svc, int out)
{
    const struct py_conf *conf = svc->conf;
    PyObject             *r = NULL;
    const char           *say = "cannot start Python (see the log)";

    if (py_start(svc, conf->python_path) == 0) {
        r = py_glue(svc, "verdict", Py_BuildValue("(s)", conf->handler),
                    "handler");
        if (r == Py_None)
            say = "ok";
        else if (r != NULL && PyUnicode_Check(r))
            say = PyUnicode_AsUTF8(r);
    }
    write_all(out, say, strlen(say));
    _exit(0);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what the child says until it closes, or the deadline.  Returns the
 * length read, or -1 on timeout. */
static ssize_t read_verdict(int fd, char *buf, size_t cap)
{
    long long deadline = now_ms() + CHECK_TIMEOUT_MS;
    size_t    len = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long     left = deadline - now_ms();
        ssize_t       n;

        if (left <= 0)
            return -1;
        if (poll(&p, 1, (int)left) == -1 && errno != EINTR)
            return (ssize_t)len;
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        n = read(fd, buf + len, cap - 1 - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return (ssize_t)len;
        len += (size_t)n;
        if (len == cap - 1)
            return (ssize_t)len;
    }
}

static int reap(pid_t pid)
{
    int status = 0;

    while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        ;
    return status;
}

/* Import the handler in a child; 0 when it is a handler class, else -1
 * with the `handler` key's error reported.  A check that cannot run (no
 * pipe, no fork) warns and passes: the workers will say. */
static int import_in_child(pf_service *svc)
{
    const struct py_conf *conf = svc->conf;
    char                  msg[512];
    int                   p[2], status;
    ssize_t               n;
    pid_t                 pid;

    if (pipe2(p, O_CLOEXEC) == -1) {
        pf_log(svc, PF_LOG_WARN, "handler not checked: pipe: %s",
               strerror(errno));
        return 0;
    }
    pid = fork();
    if (pid == -1) {
        pf_log(svc, PF_LOG_WARN, "handler not checked: fork: %s",
               strerror(errno));
        close(p[0]);
        close(p[1]);
        return 0;
    }
    if (pid == 0) {
        close(p[0]);
        child(svc, p[1]);
    }
    close(p[1]);
    n = read_verdict(p[0], msg, sizeof(msg));
    close(p[0]);
    if (n == -1)
        kill(pid, SIGKILL);
    status = reap(pid);
    if (n == -1) {
        pf_conf_error(svc, "handler", "importing %s took more than %d s",
                      conf->handler, CHECK_TIMEOUT_MS / 1000);
        return -1;
    }
    msg[n] = '\0';
    if (strcmp(msg, "ok") == 0)
        return 0;
    if (n == 0 && WIFSIGNALED(status)) {
        pf_conf_error(svc, "handler", "importing %s killed Python (signal %d)",
                      conf->handler, WTERMSIG(status));
        return -1;
    }
    pf_conf_error(svc, "handler", "%s",
                  n > 0 ? msg : "importing it failed (see the log)");
    return -1;
}

int py_check(pf_service *svc)
{
    const struct py_conf *conf = svc->conf;
    const char           *colon = strchr(conf->handler, ':');
    const char           *io = conf->python_socket;

    if (strcmp(io, "auto") != 0 && strcmp(io, "host") != 0) {
        pf_conf_error(svc, "python_socket", "'%s' is not auto or host", io);
        return -1;
    }
    if (colon == NULL ||
        !dotted_name(conf->handler, (size_t)(colon - conf->handler)) ||
        !dotted_name(colon + 1, strlen(colon + 1))) {
        pf_conf_error(svc, "handler", "'%s' is not package.module:ClassName",
                      conf->handler);
        return -1;
    }
    return import_in_child(svc);
}
