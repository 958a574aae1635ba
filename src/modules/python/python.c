/*
 * python.c -- the `python` module: a socketserver request handler class,
 * served by prefork's workers.  This file is the descriptor, its keys and
 * its hooks; py.h lists the others.
 *
 * `handler = package.module:ClassName` names a subclass of
 * socketserver.BaseRequestHandler (StreamRequestHandler and
 * DatagramRequestHandler included).  The master's check imports it in a
 * short-lived child (pycheck.c), so `-t` and a reload refuse a class that
 * is not there.  Each worker embeds CPython once, in worker_init (after
 * fork: the master never runs Python), imports the class and then, for
 * each connection or datagram, instantiates it as socketserver does: the
 * constructor runs setup(), handle() and finish().
 *
 * A stream handler's `request` is a socket.socket made from a dup() of the
 * connection's descriptor, blocking, as socketserver's are (the class's
 * `timeout` applies, as StreamRequestHandler.setup() sets it; a handler
 * that hangs meets worker_timeout), so Python closing it leaves the host's
 * own descriptor open.  Where the connection's bytes are not the socket's
 * (TLS), or with `python_socket = host`, it is a HostSocket whose bytes
 * go through the host API instead (pyhost.c, pyglue.py).  A datagram
 * handler gets (data, socket), the socket a dup of the UDP descriptor made
 * once per worker.
 *
 * The handler blocks, so the module says PF_BLOCKING and a connection has
 * its worker to itself -- except between the requests of an HTTP handler
 * (a BaseHTTPRequestHandler keeping the stock handle()), which the glue
 * serves a request at a time, answering PF_IDLE in between (PF_PARK_IDLE:
 * the worker takes other connections meanwhile).  An exception in a
 * handler is logged with its traceback, naming the client, and costs that
 * connection only.
 */
#include "py.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct pf_key py_keys[] = {
    {
        .name = "handler",
        .type = PF_KEY_STRING,
        .offset = offsetof(struct py_conf, handler),
        .required = 1,
        .help = "socketserver handler class as package.module:ClassName",
    },
    {
        .name = "python_path",
        .type = PF_KEY_PATH,
        .offset = offsetof(struct py_conf, python_path),
        .help = "directory prepended to sys.path",
    },
    {
        .name = "python_socket",
        .type = PF_KEY_STRING,
        .offset = offsetof(struct py_conf, python_socket),
        .def = "auto",
        .help = "a stream handler's request: auto (a socket.socket on a "
                "plain connection) or host (always through the host API: "
                "a debugging aid)",
    },
    {0},
};

/* A connection's Python side (c->data). */
struct py_stream {
    PyObject *st;   /* the glue's Stream */
    PyObject *conn; /* its host.Conn; NULL: a plain socket.socket */
};

/* How long a parked HTTP connection may stay idle: the class's timeout in
 * ms; -1: None, the host's idle timeout stays. */
static long long idle_ms = -1;

/* Do c's bytes go through its socket as they are?  Not over TLS, which
 * every TLS connection says with pf_tls_verify() ("NONE" when no client
 * certificate was asked for; NULL on a plain connection and from hosts
 * older than ABI 1.4, which have no transport). */
static int conn_plain(pf_conn *c)
{
    return pf_tls_verify(c) == NULL;
}

static int wants_host_io(pf_conn *c)
{
    const struct py_conf *conf = c->svc->conf;

    return strcmp(conf->python_socket, "host") == 0 || !conn_plain(c);
}

/* Worker (or acceptor), after fork: start Python, import the class. */
static int py_worker_init(pf_service *svc)
{
    const struct py_conf *conf = svc->conf;
    PyObject             *r = NULL;
    int                   rc = -1;

    if (py_start(svc, conf->python_path) == -1)
        goto done;
    r = py_glue(svc, "start", Py_BuildValue("(s)", conf->handler),
                "handler: cannot import the class");
    if (r == NULL)
        goto done;
    if (PyUnicode_Check(r)) {
        pf_log(svc, PF_LOG_ERROR, "handler: cannot import the class");
        py_log_text(svc, PF_LOG_ERROR, PyUnicode_AsUTF8(r));
        goto done;
    }
    idle_ms = PyLong_AsLongLong(r);
    if (py_stack_init(svc) == -1)
        goto done;
    py_declare_paths(svc);
    rc = 0;
done:
    Py_XDECREF(r);
    py_release();
    return rc;
}

static void py_worker_exit(pf_service *svc)
{
    PyGILState_STATE g;

    (void)svc;
    if (py.main == NULL)
        return;
    g = py_gil_take();
    PyRun_SimpleString("import sys\n"
                       "for f in (sys.stdout, sys.stderr):\n"
                       "    try: f.flush()\n"
                       "    except Exception: pass\n");
    PyGILState_Release(g);
}

/* A sockaddr as socket.accept() gives it, or '' (new reference). */
static PyObject *py_address(const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN];

    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return Py_BuildValue("(si)", host, ntohs(in->sin_port));
    }
    if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return Py_BuildValue("(siII)", host, ntohs(in6->sin6_port),
                             (unsigned)ntohl(in6->sin6_flowinfo),
                             (unsigned)in6->sin6_scope_id);
    }
    return PyUnicode_FromString("");
}

/* c's Python side, made at its first handle().  GIL held.  NULL: logged. */
static struct py_stream *stream_open(pf_conn *c)
{
    struct py_stream *s = calloc(1, sizeof(*s));
    int               fd;

    if (s == NULL) {
        pf_log(c->svc, PF_LOG_ERROR, "out of memory");
        return NULL;
    }
    fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
    if (fd == -1) {
        pf_log(c->svc, PF_LOG_ERROR, "dup: %s", strerror(errno));
        goto fail;
    }
    if (wants_host_io(c) && (s->conn = py_host_conn(c)) == NULL) {
        py_log_error(c->svc, "host socket");
        close(fd);
        goto fail;
    }
    /* From here the descriptor is the socket object's to close. */
    s->st = py_glue(c->svc, "open_stream",
                    Py_BuildValue("(iON)", fd, s->conn ? s->conn : Py_None,
                                  py_address(c->peer)),
                    "python socket");
    if (s->st == NULL)
        goto fail;
    if (idle_ms > 0)
        c->idle_timeout_ms = idle_ms > 0x7fffffff ? 0x7fffffff : (int)idle_ms;
    return s;
fail:
    Py_XDECREF(s->conn);
    free(s);
    return NULL;
}

/* The handler's socket blocks while it runs; the host's descriptor (the
 * same file description) must not, once it has it back. */
static void nonblocking_again(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl != -1 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* A whole connection, or one HTTP request (or several pipelined ones). */
static int py_handle(pf_conn *c)
{
    PyGILState_STATE  g = py_gil_take();
    struct py_stream *s = c->data;
    PyObject         *r;
    int               next = PF_CLOSE;

    if (s == NULL && (s = c->data = stream_open(c)) == NULL)
        goto done;
    py_host_serving(c);
    r = py_glue(c->svc, "serve", Py_BuildValue("(O)", s->st), "python handler");
    py_host_serving(NULL);
    if (r != NULL && PyLong_Check(r))
        next = (int)PyLong_AsLong(r) == PF_IDLE ? PF_IDLE : PF_CLOSE;
    else if (r != NULL && PyUnicode_Check(r))
        py_log_text(c->svc, PF_LOG_ERROR, PyUnicode_AsUTF8(r));
    Py_XDECREF(r);
done:
    PyGILState_Release(g);
    nonblocking_again(c->fd);
    return next;
}

static void py_finish(pf_conn *c)
{
    struct py_stream *s = c->data;
    PyGILState_STATE  g;
    PyObject         *r;

    if (s == NULL)
        return;
    g = py_gil_take();
    py_host_serving(c);
    r = py_glue(c->svc, "close_stream", Py_BuildValue("(O)", s->st),
                "python handler's finish()");
    py_host_serving(NULL);
    Py_XDECREF(r);
    if (s->conn != NULL)
        py_host_conn_end(s->conn);
    Py_XDECREF(s->conn);
    Py_DECREF(s->st);
    PyGILState_Release(g);
    free(s);
    c->data = NULL;
}

static void py_datagram(pf_dgram *d)
{
    PyGILState_STATE g = py_gil_take();
    PyObject        *r;

    r = py_glue(d->svc, "datagram",
                Py_BuildValue("(iy#N)", d->fd, (const char *)d->buf,
                              (Py_ssize_t)d->len, py_address(d->peer)),
                "python handler");
    if (r != NULL && PyUnicode_Check(r))
        py_log_text(d->svc, PF_LOG_ERROR, PyUnicode_AsUTF8(r));
    Py_XDECREF(r);
    PyGILState_Release(g);
}

/* One hook per line: clang-format would pack them. */
/* clang-format off */
PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,
    .name = "python",
    .version = "1.1",
    .socktypes = PF_STREAM | PF_DGRAM,
    .keys = py_keys,
    .conf_size = sizeof(struct py_conf),
    .check = py_check,
    .worker_init = py_worker_init,
    .worker_exit = py_worker_exit,
    .handle = py_handle,
    .finish = py_finish,
    .datagram = py_datagram,
    .flags = PF_BLOCKING | PF_PARK_IDLE,
};
/* clang-format on */
