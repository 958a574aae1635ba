/*
 * pyinterp.c -- the python module's embedded interpreter: starting it in a
 * worker (or in the check's child), the GIL, calling into the glue
 * (pyglue.py, compiled in) and logging what Python says.
 *
 * The interpreter is started once per process, after fork: the master
 * never runs Python.  The GIL is released once it is up and taken around
 * every hook, the same way in every mode: in `threading` mode hooks run in
 * several threads at once; in `forking` mode the child, forked from the
 * worker after Python started, first calls PyOS_AfterFork_Child().
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
