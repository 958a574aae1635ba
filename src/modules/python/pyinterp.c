/*
 * pyinterp.c -- the python module's embedded interpreter: starting it in a
 * worker (or in the check's child), the GIL, calling into the glue
 * (pyglue.py, compiled in) and logging what Python says.
 *
 * The interpreter is started once per process, after fork: the master
 * never runs Python.  The GIL is released once it is up and taken around
 * every hook, the same way in every mode: in `threading` mode hooks run in
 * several threads at once; in `forking` mode the child, forked from the
 * worker after Python started, first calls PyOS_AfterFork_Child().  What
 * Python reads once the worker is confined is declared here too.
 */
#include "py.h"

#include <dlfcn.h>
#include <string.h>
#include <unistd.h>

struct py_state py;

/* The glue's source, made from pyglue.py at build time. */
static const char glue_src[] =
#include "pyglue.h"
    ;

void py_log_text(const pf_service *svc, int level, const char *text)
{
    const char *p = text, *nl;

    while (*p != '\0') {
        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        pf_log(svc, level, "%.*s", (int)(nl - p), p);
        p = *nl == '\n' ? nl + 1 : nl;
    }
}

void py_log_error(const pf_service *svc, const char *what)
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

PyObject *py_glue(const pf_service *svc, const char *fn, PyObject *args,
                  const char *what)
{
    PyObject *f = NULL, *r = NULL;

    if (args != NULL && (f = PyObject_GetAttrString(py.glue, fn)) != NULL)
        r = PyObject_Call(f, args, NULL);
    if (r == NULL)
        py_log_error(svc, what);
    Py_XDECREF(f);
    Py_XDECREF(args);
    return r;
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

static int path_prepend(const pf_service *svc, const char *dir)
{
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    PyObject *d = PyUnicode_DecodeFSDefault(dir);

    if (path == NULL || d == NULL || PyList_Insert(path, 0, d) < 0) {
        Py_XDECREF(d);
        py_log_error(svc, "python_path");
        return -1;
    }
    Py_DECREF(d);
    return 0;
}

int py_start(const pf_service *svc, const char *python_path)
{
    PyObject *code;

    libpython_global(svc);
    py.pid = getpid();
    if (py_host_register() == -1) {
        pf_log(svc, PF_LOG_ERROR, "cannot register _prefork_host");
        return -1;
    }
    Py_InitializeEx(0); /* no signal handlers: the worker has its own */
    if (python_path != NULL && path_prepend(svc, python_path) == -1)
        return -1;
    code = Py_CompileString(glue_src, "<prefork>", Py_file_input);
    if (code == NULL ||
        (py.glue = PyImport_ExecCodeModule("_prefork", code)) == NULL) {
        Py_XDECREF(code);
        py_log_error(svc, "the python module's glue");
        return -1;
    }
    Py_DECREF(code);
    return 0;
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
void py_declare_paths(pf_service *svc)
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

void py_release(void)
{
    py.main = PyEval_SaveThread();
}

PyGILState_STATE py_gil_take(void)
{
    if (!py.child && getpid() != py.pid) {
        PyEval_RestoreThread(py.main);
        PyOS_AfterFork_Child();
        py.main = PyEval_SaveThread();
        py.child = 1;
    }
    return PyGILState_Ensure();
}
