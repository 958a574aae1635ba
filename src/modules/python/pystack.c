/*
 * pystack.c -- a Python handler's stack in the error log before a
 * worker_timeout kill.  The master sends a worker that overstays
 * worker_timeout PF_SIG_STACK first, and SIGKILL a moment later; workers
 * ignore that signal, and here Python's faulthandler is registered on it,
 * writing every thread's stack into a pipe.  A thread of our own (plain C:
 * it needs no GIL, and the handler may hold it for ever) reads the pipe
 * and logs each line, tagged, through the host; the innermost frame is
 * also added to what the death record's "request" says.
 */
#include "py.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The signal the master sends before a worker_timeout kill (pool.c). */
#define PF_SIG_STACK SIGUSR2

struct reader {
    const pf_service *svc;
    int               fd;
};

static struct reader rd = {.fd = -1};

/* `  File "handlers.py", line 80 in handle` -> `handlers.py:80 in handle`,
 * the frame's place in a few words for the death record. */
static int frame_of(const char *line, char *out, size_t cap)
{
    char file[160], func[64];
    int  lineno, n;

    if (sscanf(line, " File \"%159[^\"]\", line %d in %63s", file, &lineno,
               func) != 3)
        return -1;
    n = snprintf(out, cap, "%s:%d in %s", file, lineno, func);
    return n < 0 ? -1 : 0;
}

/* Log each line of a dump; after a thread's header the next frame is its
 * innermost one. */
static void log_lines(char *buf, size_t *len, int *want_frame)
{
    char *p = buf, *nl;

    while ((nl = memchr(p, '\n', *len - (size_t)(p - buf))) != NULL) {
        char frame[256];

        *nl = '\0';
        pf_log(rd.svc, PF_LOG_ERROR, "python stack: %s", p);
        if (strstr(p, "hread 0x") != NULL)
            *want_frame = 1;
        else if (*want_frame && frame_of(p, frame, sizeof(frame)) == 0) {
            py_host_activity_at(frame);
            *want_frame = 0;
        }
        p = nl + 1;
    }
    *len -= (size_t)(p - buf);
    memmove(buf, p, *len);
}

static void *reader_main(void *arg)
{
    char    buf[4096];
    size_t  len = 0;
    int     want_frame = 0;
    ssize_t n;

    (void)arg;
    for (;;) {
        n = read(rd.fd, buf + len, sizeof(buf) - 1 - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        len += (size_t)n;
        log_lines(buf, &len, &want_frame);
        if (len == sizeof(buf) - 1) /* a line longer than the buffer */
            len = 0;
    }
}

/* Start the reader with every signal blocked, so that the signal is the
 * handler's thread's, which faulthandler then calls "Current thread". */
static int reader_start(void)
{
    sigset_t       all, old;
    pthread_t      t;
    pthread_attr_t a;
    int            rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    rc = pthread_create(&t, &a, reader_main, NULL);
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int py_stack_init(const pf_service *svc)
{
    PyObject *fh = NULL, *r = NULL;
    sigset_t  set;
    int       p[2], rc;

    if (pipe2(p, O_CLOEXEC) == -1) {
        pf_log(svc, PF_LOG_WARN, "no Python stack on worker_timeout: pipe: %s",
               strerror(errno));
        return 0;
    }
    rd.svc = svc;
    rd.fd = p[0];
    fh = PyImport_ImportModule("faulthandler");
    if (fh != NULL)
        r = PyObject_CallMethod(fh, "register", "iiii", PF_SIG_STACK, p[1], 1,
                                0);
    if (r == NULL) {
        py_log_error(svc, "faulthandler");
        goto fail;
    }
    rc = reader_start();
    if (rc != 0) {
        pf_log(svc, PF_LOG_WARN, "no Python stack on worker_timeout: %s",
               strerror(rc));
        PyObject_CallMethod(fh, "unregister", "i", PF_SIG_STACK);
        PyErr_Clear();
        goto fail;
    }
    /* The worker runs with its signals blocked but in epoll_pwait; this
     * one must come in while a handler runs. */
    sigemptyset(&set);
    sigaddset(&set, PF_SIG_STACK);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    Py_DECREF(r);
    Py_DECREF(fh);
    return 0; /* p[1] stays open: faulthandler writes to it */
fail:
    Py_XDECREF(r);
    Py_XDECREF(fh);
    close(p[0]);
    close(p[1]);
    rd.fd = -1;
    return 0; /* the worker serves on without it */
}
