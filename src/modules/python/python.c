/*
 * python.c -- the `python` module: a socketserver request handler class,
 * served by prefork's workers.
 *
 * `handler = package.module:ClassName` names a subclass of
 * socketserver.BaseRequestHandler (StreamRequestHandler and
 * DatagramRequestHandler included).  Each worker embeds CPython once, in
 * worker_init (after fork: the master never runs Python), imports the class
 * and then, for each connection or datagram, instantiates it as
 * socketserver does: the constructor runs setup(), handle() and finish().
 *
 * A stream handler gets a socket.socket made from a dup() of the
 * connection's descriptor, so Python closing it leaves the host's own
 * descriptor open.  A datagram handler gets (data, socket), the socket a dup
 * of the UDP descriptor made once per worker.  The handler blocks, so the
 * module says PF_BLOCKING and does the whole connection in one handle().
 *
 * The GIL is released once the interpreter is up and taken around every
 * hook, the same way in every mode: in `threading` mode hooks run in several
 * threads at once; in `forking` mode the child, forked from the worker after
 * Python started, first calls PyOS_AfterFork_Child().  An exception in a
 * handler is logged with its traceback and costs that connection only.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h> /* first, as Python asks; it defines _GNU_SOURCE */

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <prefork/module.h>

struct py_conf {
    char *handler;     /* "package.module:ClassName" */
    char *python_path; /* prepended to sys.path; NULL: none */
};

/* Per worker: the interpreter is process-wide, so is this. */
struct py_state {
    PyThreadState *main;  /* the worker's thread state, saved without GIL */
    PyObject      *glue;  /* the _prefork helper module */
    PyObject      *cls;   /* the handler class */
    pid_t          pid;   /* the worker's pid: another one is a forked child */
    int            child; /* PyOS_AfterFork_Child() was called here */
};

static struct py_state py;

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
    {0},
};

/*
 * The Python half.  call() turns any exception into its traceback text so
 * that C logs it; the server object carries what handlers read from
 * socketserver's servers, and methods that do nothing here.
 */
static const char glue_src[] =
    "import importlib, socket, socketserver, sys, traceback\n"
    "\n"
    "def call(fn, *args):\n"
    "    try:\n"
    "        fn(*args)\n"
    "        return None\n"
    "    except BaseException:\n"
    "        return ''.join(traceback.format_exception(*sys.exc_info()))\n"
    "\n"
    "class Server:\n"
    "    timeout = None\n"
    "    request_queue_size = 5\n"
    "    allow_reuse_address = False\n"
    "    def __init__(self, sock, cls):\n"
    "        self.socket = sock\n"
    "        self.address_family = sock.family\n"
    "        self.socket_type = sock.type\n"
    "        self.server_address = sock.getsockname()\n"
    "        self.RequestHandlerClass = cls\n"
    "    def fileno(self): return -1\n"
    "    def shutdown(self): pass\n"
    "    def server_close(self): pass\n"
    "    def serve_forever(self, poll_interval=0.5): pass\n"
    "    def handle_error(self, request, client_address): raise\n"
    "    def verify_request(self, request, client_address): return True\n"
    "    def close_request(self, request): pass\n"
    "    def shutdown_request(self, request): pass\n"
    "    def __enter__(self): return self\n"
    "    def __exit__(self, *a): pass\n"
    "\n"
    "handler = None\n"
    "\n"
    "def load(spec):\n"
    "    global handler\n"
    "    modname, _, clsname = spec.partition(':')\n"
    "    obj = importlib.import_module(modname)\n"
    "    for part in clsname.split('.'):\n"
    "        obj = getattr(obj, part)\n"
    "    if not (isinstance(obj, type) and\n"
    "            issubclass(obj, socketserver.BaseRequestHandler)):\n"
    "        raise TypeError(spec + ' is not a subclass of '\n"
    "                        'socketserver.BaseRequestHandler')\n"
    "    handler = obj\n"
    "\n"
    "def stream(fd, timeout):\n"
    "    sock = socket.socket(fileno=fd)\n"
    "    try:\n"
    "        sock.settimeout(timeout)\n"
    "        try:\n"
    "            addr = sock.getpeername()\n"
    "        except OSError:\n"
    "            addr = ''\n"
    "        handler(sock, addr, Server(sock, handler))\n"
    "    finally:\n"
    "        sock.close()\n"
    "\n"
    "udp = {}\n"
    "\n"
    "def datagram(fd, data, addr):\n"
    "    sock = udp.get(fd)\n"
    "    if sock is None:\n"
    "        import os\n"
    "        sock = udp[fd] = socket.socket(fileno=os.dup(fd))\n"
    "        sock.settimeout(5.0)\n"
    "    handler((data, sock), addr, Server(sock, handler))\n";

/* Log text (a traceback) one line at a time. */
static void log_text(const pf_service *svc, int level, const char *what,
                     const char *text)
{
    const char *p = text, *nl;

    pf_log(svc, level, "%s", what);
    while (*p != '\0') {
        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        pf_log(svc, level, "%.*s", (int)(nl - p), p);
        p = *nl == '\n' ? nl + 1 : nl;
    }
}

/* Log the pending Python error (for the glue's own failures). */
static void log_pyerr(const pf_service *svc, const char *what)
{
    PyObject *type, *value, *tb, *s = NULL;

    PyErr_Fetch(&type, &value, &tb);
    if (value != NULL)
        s = PyObject_Str(value);
    pf_log(svc, PF_LOG_ERROR, "%s: %s", what,
           s != NULL && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : "?");
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
}

/* glue.call(glue.<fn>, args...): 0, or -1 with the traceback logged.
 * Steals args.  Called with the GIL held. */
static int glue_call(const pf_service *svc, const char *fn, PyObject *args,
                     const char *what)
{
    PyObject *f = NULL, *call = NULL, *full = NULL, *r = NULL;
    int       rc = -1;

    if (args == NULL)
        goto fail;
    f = PyObject_GetAttrString(py.glue, fn);
    call = PyObject_GetAttrString(py.glue, "call");
    if (f == NULL || call == NULL)
        goto fail;
    full = PyTuple_New(PyTuple_GET_SIZE(args) + 1);
    if (full == NULL)
        goto fail;
    Py_INCREF(f);
    PyTuple_SET_ITEM(full, 0, f);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
        PyObject *a = PyTuple_GET_ITEM(args, i);
        Py_INCREF(a);
        PyTuple_SET_ITEM(full, i + 1, a);
    }
    r = PyObject_Call(call, full, NULL);
    if (r == NULL)
        goto fail;
    if (r == Py_None)
        rc = 0;
    else
        log_text(svc, PF_LOG_ERROR, what,
                 PyUnicode_Check(r) ? PyUnicode_AsUTF8(r) : "?");
    Py_DECREF(r);
    Py_DECREF(full);
    Py_DECREF(call);
    Py_DECREF(f);
    Py_DECREF(args);
    return rc;
fail:
    if (PyErr_Occurred())
        log_pyerr(svc, what);
    Py_XDECREF(full);
    Py_XDECREF(call);
    Py_XDECREF(f);
    Py_XDECREF(args);
    return -1;
}

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

/* Master: the syntax of `handler` only; the master never runs Python. */
static int py_check(pf_service *svc)
{
    const struct py_conf *conf = svc->conf;
    const char           *colon = strchr(conf->handler, ':');

    if (colon == NULL ||
        !dotted_name(conf->handler, (size_t)(colon - conf->handler)) ||
        !dotted_name(colon + 1, strlen(colon + 1))) {
        pf_conf_error(svc, "handler", "'%s' is not package.module:ClassName",
                      conf->handler);
        return -1;
    }
    return 0;
}

/*
 * Extension modules (_socket, select...) are built against libpython's
 * symbols without linking to it; the host dlopen()ed this module with its
 * libraries local, so make libpython's symbols global before importing.
 */
static void libpython_global(const pf_service *svc)
{
    Dl_info info;

    if (dladdr((void *)Py_InitializeEx, &info) == 0 || info.dli_fname == NULL)
        return;
    if (dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL)
        pf_log(svc, PF_LOG_WARN, "%s: %s", info.dli_fname, dlerror());
}

/*
 * Once worker_init returns the worker is confined (pf_sandbox_allow):
 * Python reads only beneath every sys.path entry (python_path is the
 * first) and what the standard library reads at run time, found with
 * `strace -f -e trace=%file` on workers serving SimpleHTTPRequestHandler
 * and the tests' handlers: /etc/mime.types (mimetypes, for http.server)
 * and the time-zone files (time.localtime, logging).  Everything else,
 * the directory SimpleHTTPRequestHandler serves included, is the
 * operator's to allow with sandbox_read.
 */
static void declare_paths(pf_service *svc)
{
    static const char *const runtime[] = {"/etc/mime.types", "/etc/localtime",
                                          "/usr/share/zoneinfo"};
    PyObject  *path = PySys_GetObject("path"), *item, *fs; /* borrowed */
    Py_ssize_t i,
        n = path != NULL && PyList_Check(path) ? PyList_Size(path) : 0;

    for (i = 0; i < n; i++) {
        item = PyList_GetItem(path, i);
        if (!PyUnicode_Check(item) || PyUnicode_GetLength(item) == 0)
            continue;
        if ((fs = PyUnicode_EncodeFSDefault(item)) == NULL) {
            PyErr_Clear();
            continue;
        }
        pf_sandbox_allow(svc, PyBytes_AsString(fs), PF_SB_READ);
        Py_DECREF(fs);
    }
    for (i = 0; i < (Py_ssize_t)(sizeof(runtime) / sizeof(runtime[0])); i++)
        pf_sandbox_allow(svc, runtime[i], PF_SB_READ);
}

/* Worker (or acceptor), after fork: start Python, import the class. */
static int py_worker_init(pf_service *svc)
{
    const struct py_conf *conf = svc->conf;
    PyObject             *code = NULL, *path;

    libpython_global(svc);
    py.pid = getpid();
    Py_InitializeEx(0); /* no signal handlers: the worker has its own */
    if (conf->python_path != NULL) {
        path = PySys_GetObject("path"); /* borrowed */
        PyObject *dir = PyUnicode_DecodeFSDefault(conf->python_path);
        if (path == NULL || dir == NULL || PyList_Insert(path, 0, dir) < 0) {
            Py_XDECREF(dir);
            log_pyerr(svc, "python_path");
            goto fail;
        }
        Py_DECREF(dir);
    }
    code = Py_CompileString(glue_src, "<prefork>", Py_file_input);
    if (code == NULL ||
        (py.glue = PyImport_ExecCodeModule("_prefork", code)) == NULL) {
        log_pyerr(svc, "the python module's glue");
        goto fail;
    }
    Py_CLEAR(code);
    if (glue_call(svc, "load", Py_BuildValue("(s)", conf->handler),
                  "handler: cannot import the class") == -1)
        goto fail;
    declare_paths(svc);
    py.main = PyEval_SaveThread();
    return 0;
fail:
    Py_XDECREF(code);
    py.main = PyEval_SaveThread();
    return -1;
}

/* Take the GIL for this thread; in a forked child, first mend Python. */
static PyGILState_STATE gil_take(void)
{
    if (!py.child && getpid() != py.pid) {
        PyEval_RestoreThread(py.main);
        PyOS_AfterFork_Child();
        py.main = PyEval_SaveThread();
        py.child = 1;
    }
    return PyGILState_Ensure();
}

static void py_worker_exit(pf_service *svc)
{
    PyGILState_STATE g;

    if (py.main == NULL)
        return;
    g = gil_take();
    PyRun_SimpleString("import sys\n"
                       "for f in (sys.stdout, sys.stderr):\n"
                       "    try: f.flush()\n"
                       "    except Exception: pass\n");
    PyGILState_Release(g);
}

/* The whole connection: the handler reads and writes until it returns. */
static int py_handle(pf_conn *c)
{
    int              fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0), fl;
    PyGILState_STATE g;
    PyObject        *timeout;

    if (fd == -1) {
        pf_log(c->svc, PF_LOG_ERROR, "dup: %s", strerror(errno));
        return PF_CLOSE;
    }
    g = gil_take();
    timeout = c->read_timeout_ms > 0
                  ? PyFloat_FromDouble(c->read_timeout_ms / 1000.0)
                  : (Py_INCREF(Py_None), Py_None);
    glue_call(c->svc, "stream", Py_BuildValue("(iN)", fd, timeout),
              "handler raised an exception");
    PyGILState_Release(g);
    /* settimeout(None) would have made the shared file description block. */
    fl = fcntl(c->fd, F_GETFL);
    if (fl != -1 && !(fl & O_NONBLOCK))
        fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
    return PF_CLOSE;
}

/* A sockaddr as socket.recvfrom() gives it, or '' (new reference). */
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

static void py_datagram(pf_dgram *d)
{
    PyGILState_STATE g = gil_take();

    glue_call(d->svc, "datagram",
              Py_BuildValue("(iy#N)", d->fd, (const char *)d->buf,
                            (Py_ssize_t)d->len, py_address(d->peer)),
              "handler raised an exception");
    PyGILState_Release(g);
}

/* One hook per line: clang-format would pack them. */
/* clang-format off */
PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,
    .name = "python",
    .version = "1.0",
    .socktypes = PF_STREAM | PF_DGRAM,
    .keys = py_keys,
    .conf_size = sizeof(struct py_conf),
    .check = py_check,
    .worker_init = py_worker_init,
    .worker_exit = py_worker_exit,
    .handle = py_handle,
    .datagram = py_datagram,
    .flags = PF_BLOCKING,
};
/* clang-format on */
