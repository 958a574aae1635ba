/*
 * pyhost.c -- _prefork_host, the built-in module through which the glue
 * (pyglue.py) reaches prefork: activity() says what the handler is doing
 * (the death record's "request"), and Conn is a connection's bytes read
 * and written through the host API (pf_read, pf_write, pf_recv_nowait,
 * pf_send_nowait) rather than the descriptor.  HostSocket dresses a Conn
 * as a socket.socket for a connection whose bytes are not the socket's
 * (TLS), or for any when `python_socket = host`.
 *
 * A Conn is made per connection by python.c and cut from its pf_conn when
 * the connection ends (finish()), so a handler that keeps its socket
 * past the connection gets EBADF, not freed memory.  Waits release the
 * GIL: in threading mode other handlers run meanwhile.
 */
#include "py.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The connection this thread serves: one per worker in prefork mode, one
 * per thread in threading mode. */
static __thread pf_conn *serving;

typedef struct {
    PyObject_HEAD pf_conn *c; /* NULL once the connection ended */
} ConnObject;

static PyTypeObject *conn_type;

/* The last activity said, and by which connection, for pystack.c's
 * thread to add where the handler is stuck. */
static struct {
    pthread_mutex_t lock;
    pf_conn        *c; /* NULL: no handler is running */
    char            text[128];
} last = {.lock = PTHREAD_MUTEX_INITIALIZER};

void py_host_serving(pf_conn *c)
{
    serving = c;
    pthread_mutex_lock(&last.lock);
    last.c = c;
    last.text[0] = '\0';
    pthread_mutex_unlock(&last.lock);
}

void py_host_activity_at(const char *frame)
{
    char text[256];
    int  n;

    pthread_mutex_lock(&last.lock);
    if (last.c != NULL) {
        n = snprintf(text, sizeof(text), "%s%sat %s", last.text,
                     last.text[0] != '\0' ? " " : "", frame);
        pf_activity(last.c, text,
                    n < (int)sizeof(text) ? (size_t)n : sizeof(text) - 1);
    }
    pthread_mutex_unlock(&last.lock);
}

static PyObject *raise_errno(int err)
{
    if (err == ETIMEDOUT) {
        PyErr_SetString(PyExc_TimeoutError, "timed out");
        return NULL;
    }
    errno = err;
    return PyErr_SetFromErrno(PyExc_OSError);
}

static pf_conn *conn_of(ConnObject *self)
{
    if (self->c == NULL)
        raise_errno(EBADF);
    return self->c;
}

/* Read up to n bytes: ms < 0 waits for ever, 0 never, else up to ms for
 * the first byte.  Returns the count (0: end of stream), or -1 with a
 * Python error (BlockingIOError, TimeoutError, OSError). */
static Py_ssize_t conn_read(ConnObject *self, char *buf, Py_ssize_t n, int ms)
{
    pf_conn *c = conn_of(self);
    ssize_t  r;
    int      err;

    if (c == NULL)
        return -1;
    if (n == 0)
        return 0;
    Py_BEGIN_ALLOW_THREADS;
    if (ms == 0) {
        r = pf_recv_nowait(c, buf, (size_t)n);
    } else {
        c->read_timeout_ms = ms < 0 ? 0 : ms;
        r = pf_read(c, buf, (size_t)n);
    }
    err = errno;
    Py_END_ALLOW_THREADS;
    if (r < 0) {
        raise_errno(err);
        return -1;
    }
    return r;
}

/* recv(bufsize, timeout_ms) -> bytes */
static PyObject *conn_recv(ConnObject *self, PyObject *args)
{
    Py_ssize_t n, got;
    int        ms;
    PyObject  *b;

    if (!PyArg_ParseTuple(args, "ni", &n, &ms))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "negative buffersize in recv");
        return NULL;
    }
    b = PyBytes_FromStringAndSize(NULL, n);
    if (b == NULL)
        return NULL;
    got = conn_read(self, PyBytes_AS_STRING(b), n, ms);
    if (got < 0) {
        Py_DECREF(b);
        return NULL;
    }
    if (got != n && _PyBytes_Resize(&b, got) == -1)
        return NULL;
    return b;
}

/* recv_into(buffer, nbytes, timeout_ms) -> count */
static PyObject *conn_recv_into(ConnObject *self, PyObject *args)
{
    Py_buffer  view;
    Py_ssize_t n, got;
    int        ms;

    if (!PyArg_ParseTuple(args, "w*ni", &view, &n, &ms))
        return NULL;
    if (n < 0 || n > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError,
                        n < 0 ? "negative buffersize in recv_into"
                              : "buffer too small for requested bytes");
        return NULL;
    }
    got = conn_read(self, view.buf, n == 0 ? view.len : n, ms);
    PyBuffer_Release(&view);
    return got < 0 ? NULL : PyLong_FromSsize_t(got);
}

/* send(data, timeout_ms, all) -> count.  Blocking (ms != 0) sends all of
 * it, as pf_write does; non-blocking sends what the connection takes. */
static PyObject *conn_send(ConnObject *self, PyObject *args)
{
    Py_buffer view;
    int       ms, all, err = 0;
    ssize_t   r;
    pf_conn  *c;

    if (!PyArg_ParseTuple(args, "y*ii", &view, &ms, &all))
        return NULL;
    if ((c = conn_of(self)) == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS;
    if (ms == 0) {
        r = view.len > 0 ? pf_send_nowait(c, view.buf, (size_t)view.len, 0) : 0;
        if (r == 0 && view.len > 0)
            r = -1, errno = EAGAIN;
        else if (r >= 0 && all && r < view.len)
            r = -1, errno = EAGAIN; /* socket.sendall's BlockingIOError */
    } else {
        c->write_timeout_ms = ms < 0 ? 0 : ms;
        r = pf_write(c, view.buf, (size_t)view.len) == 0 ? view.len : -1;
    }
    err = errno;
    Py_END_ALLOW_THREADS;
    PyBuffer_Release(&view);
    if (r < 0)
        return raise_errno(err);
    if (all)
        Py_RETURN_NONE;
    return PyLong_FromSsize_t(r);
}

static PyMethodDef conn_methods[] = {
    {"recv", (PyCFunction)conn_recv, METH_VARARGS,
     "recv(bufsize, timeout_ms): bytes"},
    {"recv_into", (PyCFunction)conn_recv_into, METH_VARARGS,
     "recv_into(buffer, nbytes, timeout_ms): count"},
    {"send", (PyCFunction)conn_send, METH_VARARGS,
     "send(data, timeout_ms, all): count, or None with all"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot conn_slots[] = {
    {Py_tp_methods, conn_methods},
    {Py_tp_doc, "a connection's bytes through prefork's host API"},
    {0, NULL},
};

static PyType_Spec conn_spec = {
    .name = "_prefork_host.Conn",
    .basicsize = sizeof(ConnObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = conn_slots,
};

PyObject *py_host_conn(pf_conn *c)
{
    ConnObject *o = PyObject_New(ConnObject, conn_type);

    if (o != NULL)
        o->c = c;
    return (PyObject *)o;
}

void py_host_conn_end(PyObject *conn)
{
    ((ConnObject *)conn)->c = NULL;
}

/* activity(text): pf_activity() for the connection this thread serves. */
static PyObject *host_activity(PyObject *self, PyObject *arg)
{
    const char *text;
    Py_ssize_t  len;

    (void)self;
    if (!PyUnicode_Check(arg))
        Py_RETURN_NONE;
    text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (text == NULL)
        return NULL;
    if (serving == NULL)
        Py_RETURN_NONE;
    pf_activity(serving, text, (size_t)len);
    pthread_mutex_lock(&last.lock);
    last.c = serving;
    snprintf(last.text, sizeof(last.text), "%.*s", (int)len, text);
    pthread_mutex_unlock(&last.lock);
    Py_RETURN_NONE;
}

static PyMethodDef host_methods[] = {
    {"activity", host_activity, METH_O,
     "activity(text): what the handler is doing, for the death record"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef host_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_prefork_host",
    .m_doc = "prefork's host, as the python module's glue sees it",
    .m_size = -1,
    .m_methods = host_methods,
};

static PyObject *host_init(void)
{
    PyObject *m = PyModule_Create(&host_def);

    if (m == NULL)
        return NULL;
    conn_type = (PyTypeObject *)PyType_FromSpec(&conn_spec);
    if (conn_type == NULL ||
        PyModule_AddObjectRef(m, "Conn", (PyObject *)conn_type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

int py_host_register(void)
{
    return PyImport_AppendInittab("_prefork_host", host_init) == -1 ? -1 : 0;
}
