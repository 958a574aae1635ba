/*
 * py.h -- what the files of the python module share: its configuration,
 * the worker's interpreter state, and the functions each file offers the
 * others.  Not a public header: the module exports only its descriptor.
 *
 *   python.c    the descriptor, its keys and hooks
 *   pyinterp.c  the embedded interpreter: start, the GIL, calling the glue
 *   pyhost.c    _prefork_host: logging, pf_activity, a connection's bytes
 *               through the host API (for HostSocket)
 *   pycheck.c   the master's check: the handler imported in a child
 *   pystack.c   the handler's Python stack in the error log before a
 *               worker_timeout kill
 *   pyglue.py   the Python half, compiled in as pyglue.h
 */
#ifndef PF_PY_H
#define PF_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h> /* first, as Python asks; it defines _GNU_SOURCE */

#include <sys/types.h>

#include <prefork/module.h>

struct py_conf {
    char *handler;       /* "package.module:ClassName" */
    char *python_path;   /* prepended to sys.path; NULL: none */
    char *python_socket; /* "auto" or "host" (a debugging aid) */
};

/* Per worker: the interpreter is process-wide, so is this. */
struct py_state {
    PyThreadState *main;  /* the worker's thread state, saved without GIL */
    PyObject      *glue;  /* the _prefork module (pyglue.py) */
    pid_t          pid;   /* the worker's pid: another one is a forked child */
    int            child; /* PyOS_AfterFork_Child() was called here */
};

extern struct py_state py;

/* pyinterp.c.  Start CPython in this process, python_path (if not NULL)
 * first on sys.path, and import the glue.  Returns 0, or -1 with the
 * error logged; the GIL is held either way (py_release gives it up). */
int py_start(const pf_service *svc, const char *python_path);
/* Release the GIL the starting thread holds, for good. */
void py_release(void);
/* Declare what Python reads once the worker is confined (sys.path, the
 * standard library's run-time files).  GIL held. */
void py_declare_paths(pf_service *svc);
/* Take the GIL for this thread (mending Python first in a forked child). */
PyGILState_STATE py_gil_take(void);
/* glue.<fn>(*args), args stolen: a new reference, or NULL with the Python
 * error logged under `what`.  GIL held. */
PyObject *py_glue(const pf_service *svc, const char *fn, PyObject *args,
                  const char *what);
/* Log text (a traceback) one line at a time. */
void py_log_text(const pf_service *svc, int level, const char *text);
/* Log the pending Python error as "what: message" and clear it. */
void py_log_error(const pf_service *svc, const char *what);

/* pyhost.c.  Register _prefork_host as a built-in module: before
 * Py_InitializeEx. */
int py_host_register(void);
/* The connection the calling thread serves, for activity(); NULL: none. */
void py_host_serving(pf_conn *c);
/* Add "at FRAME" to the last activity of the handler running now (from
 * pystack.c's thread; nothing when none runs). */
void py_host_activity_at(const char *frame);
/* A host.Conn for c (new reference), or NULL with a Python error. */
PyObject *py_host_conn(pf_conn *c);
/* c is gone: conn (a host.Conn) raises from now on.  GIL held. */
void py_host_conn_end(PyObject *conn);

/* pycheck.c: the master's check hook. */
int py_check(pf_service *svc);

/* pystack.c: a worker_timeout's warning signal dumps the Python stack
 * into the error log.  After py_start, GIL held.  Returns 0 or -1. */
int py_stack_init(const pf_service *svc);

#endif
