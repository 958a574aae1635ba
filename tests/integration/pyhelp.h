/*
 * pyhelp.h -- what test_python.c's files share: the server under test,
 * the reference socketserver, and a prefork config with a [py] service.
 * Defined in test_python.c.
 */
#ifndef PF_TEST_PYHELP_H
#define PF_TEST_PYHELP_H

#include "harness.h"

#define PY_MODULE   H_MODDIR "/python.so"
#define PY_HANDLERS PF_SRCDIR "/tests/python"
#define PY_PYTHON   "/usr/bin/python3"

/* The prefork under test; teardown() stops it and the reference. */
extern struct h_server srv;
void                   teardown(void);

/* Skip the test when the module was not built or python3 is missing. */
void skip_unless_built(void);

/* tests/python/serve.py SERVER CLASS on 127.0.0.1:port, until it listens. */
void start_reference(const char *server, const char *cls, int port);

/* Keys added to the [py] service by start_prefork (python_socket...). */
extern const char *py_extra;

/* prefork with a [py] TCP service of handlers:tcp_cls and, when udp_cls is
 * not NULL, a UDP one, both in mode. */
void start_prefork(const char *mode, int workers, const char *tcp_cls,
                   int tcp_port, const char *udp_cls, int udp_port);

/* How long one exchange may take (longer under valgrind). */
int io_ms(void);

/* Send msg on a new connection (then shutdown(SHUT_WR) when eof), read
 * until the server closes: the reply's length, into buf, or -1. */
int ask_eof(int port, const char *msg, char *buf, size_t cap, int eof);

#endif
