"""_prefork: the Python half of prefork's python module.

This file is compiled into python.so (the build turns it into pyglue.h),
so the module is one file to install and its two halves always match.
Each worker runs it once, as the module `_prefork`; the master's check
runs it in a short-lived child.  The C half calls:

    start(spec)               import the handler class (worker_init)
    verdict(spec)             the same for `-t` and reloads: None or why not
    open_stream(fd, conn, addr)  a connection's state, kept in c->data
    serve(st)                 one handle(): CLOSE, IDLE, or a report (str)
    close_stream(st)          the connection ends (finish())
    datagram(fd, data, addr)

and gives it the module `_prefork_host`: activity(text)
(what the death record's "request" says) and the type Conn, a
connection's bytes read and written through prefork's host API, which
HostSocket below dresses as a socket.socket.

A handler runs as socketserver runs it: the constructor calls setup(),
handle() and finish().  One exception: a BaseHTTPRequestHandler subclass
that keeps the stock handle() is driven a request at a time, since that
handle() is only a loop over handle_one_request(); between requests the
connection goes back to the worker (PF_IDLE) with its handler instance
and buffered reader kept, so a keep-alive client holds no worker.
"""
import importlib
import math
import socket
import socketserver
import sys
import traceback
from http.server import BaseHTTPRequestHandler

import _prefork_host as host

CLOSE, IDLE = 0, 2

handler = None  # the class
spec = ''  # 'package.module:ClassName', as configured
parked = False  # served a request at a time (see the docstring)


class NotAHandler(TypeError):
    pass


class Server:
    """What a handler reads from socketserver's server, and methods that do
    nothing here: prefork owns the listening sockets and the processes."""
    timeout = None
    request_queue_size = 5
    allow_reuse_address = False

    def __init__(self, sock, cls):
        self.socket = sock
        self.address_family = sock.family
        self.socket_type = sock.type
        self.server_address = sock.getsockname()
        self.RequestHandlerClass = cls

    # http.server.HTTPServer's, set in its server_bind().
    @property
    def server_name(self):
        return socket.getfqdn(self.server_address[0])

    @property
    def server_port(self):
        return self.server_address[1]

    def fileno(self): return -1
    def shutdown(self): pass
    def server_close(self): pass
    def serve_forever(self, poll_interval=0.5): pass
    def handle_error(self, request, client_address): raise
    def verify_request(self, request, client_address): return True
    def close_request(self, request): pass
    def shutdown_request(self, request): pass
    def __enter__(self): return self
    def __exit__(self, *a): pass


def load(name):
    """Import the class named 'package.module:ClassName'."""
    global handler, spec, parked
    modname, _, clsname = name.partition(':')
    obj = importlib.import_module(modname)
    for part in clsname.split('.'):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and
            issubclass(obj, socketserver.BaseRequestHandler)):
        raise NotAHandler(f'{name} is not a subclass of '
                          f'socketserver.BaseRequestHandler')
    handler, spec = obj, name
    parked = (issubclass(obj, BaseHTTPRequestHandler) and
              obj.handle is BaseHTTPRequestHandler.handle)


def start(name):
    """load(name) in a worker: how long a parked connection may stay idle
    (the class's timeout in ms, -1: None), or the traceback (str)."""
    try:
        load(name)
    except BaseException:  # noqa: B036 (reported by the worker)
        return ''.join(traceback.format_exception(*sys.exc_info()))
    t = getattr(handler, 'timeout', None)
    return -1 if t is None or not parked else max(1, int(t * 1000))


def verdict(name):
    """load(name), and why it failed in one line, or None."""
    try:
        load(name)
        return None
    except (AttributeError, ImportError, NotAHandler) as e:
        if isinstance(e, ImportError) and e.name is None:
            return f'{type(e).__name__}: {e}'
        return str(e)
    except SyntaxError as e:
        return f'{e.filename}:{e.lineno}: SyntaxError: {e.msg}'
    except BaseException as e:  # noqa: B036 (what an import raised)
        tb = traceback.extract_tb(e.__traceback__)
        where = f' ({tb[-1].filename}:{tb[-1].lineno})' if tb else ''
        return f'{type(e).__name__}: {e}{where}'


# --- stream connections --------------------------------------------------

class Stream:
    __slots__ = ('sock', 'addr', 'inst', 'timeout')

    def __init__(self, sock, addr):
        self.sock, self.addr, self.inst, self.timeout = sock, addr, None, None


def open_stream(fd, conn, addr):
    """fd: a dup of the connection's descriptor; conn: a host.Conn when the
    bytes must go through the host, else None."""
    sock = socket.socket(fileno=fd)
    if conn is not None:
        sock = HostSocket(conn, sock)
    # The host's descriptors are non-blocking; socketserver's sockets
    # block, and StreamRequestHandler.setup() sets the class's timeout.
    sock.setblocking(True)
    return Stream(sock, addr)


def report(st, inst):
    """The traceback of the exception being handled, naming the client and,
    for an HTTP handler, the request line."""
    what = f'handler raised an exception serving {st.addr!r}'
    line = getattr(inst, 'requestline', '')
    if line:
        what += f', request {line!r}'
    return what + '\n' + ''.join(traceback.format_exception(*sys.exc_info()))


def new_handler(st):
    """A handler instance, not yet constructed: the HTTP ones say their
    request line before serving it."""
    inst = handler.__new__(handler)
    if issubclass(handler, BaseHTTPRequestHandler):
        parse = inst.parse_request

        def parse_request():
            ok = parse()
            host.activity(inst.requestline)
            return ok
        try:
            inst.parse_request = parse_request
        except AttributeError:  # __slots__
            pass
    return inst


def serve(st):
    inst = st.inst
    try:
        if inst is None:
            inst = new_handler(st)
            if not parked or not construct_only(st, inst):
                host.activity(spec)
                handler.__init__(inst, st.sock, st.addr,
                                 Server(st.sock, handler))
                return CLOSE
            st.inst = inst
            inst.close_connection = True
            st.timeout = st.sock.gettimeout()
        else:
            # Between requests the host had the descriptor non-blocking.
            st.sock.settimeout(st.timeout)
        return serve_requests(st, inst)
    except BaseException:  # noqa: B036 (the handler's, reported)
        text = report(st, inst)
        try:
            close_stream(st)
        except BaseException:  # noqa: B036 (socketserver's would mask it)
            pass
        return text


def nothing():
    pass


def construct_only(st, inst):
    """Run the class's constructor (SimpleHTTPRequestHandler's sets its
    directory there) up to and including setup(), not handle() and
    finish(): the module calls those.  False when the instance takes no
    attributes (__slots__): then it runs whole, as socketserver runs it."""
    try:
        inst.handle = inst.finish = nothing
    except AttributeError:
        return False
    try:
        handler.__init__(inst, st.sock, st.addr, Server(st.sock, handler))
    finally:
        del inst.handle, inst.finish
    return True


def serve_requests(st, inst):
    """handle_one_request() for as long as requests are there: bytes in the
    buffered reader are a request (pipelined) the host cannot see."""
    while True:
        inst.handle_one_request()
        if inst.close_connection:
            break
        peek = getattr(inst.rfile, 'peek', None)
        if peek is None:
            return IDLE
        st.sock.setblocking(False)
        if not peek(1):
            return IDLE  # the host makes it non-blocking anyway
        st.sock.settimeout(st.timeout)
    close_stream(st)
    return CLOSE


def close_stream(st):
    """The connection ends: the handler's finish() (socketserver calls it
    even after handle() raised), then the socket."""
    inst, st.inst = st.inst, None
    try:
        if inst is not None:
            inst.finish()
    finally:
        st.sock.close()


# --- datagrams -----------------------------------------------------------

udp = {}


def datagram(fd, data, addr):
    """One datagram; the socket is a dup of the service's UDP descriptor,
    made once per worker (closing it leaves the host's open)."""
    sock = udp.get(fd)
    if sock is None:
        import os
        sock = udp[fd] = socket.socket(fileno=os.dup(fd))
        sock.settimeout(5.0)
    try:
        host.activity(spec)
        handler((data, sock), addr, Server(sock, handler))
        return None
    except BaseException:  # noqa: B036
        return (f'handler raised an exception serving {addr!r}\n' +
                ''.join(traceback.format_exception(*sys.exc_info())))


# --- a socket whose bytes go through the host ----------------------------

class HostSocket:
    """A handler's `request` when the connection's bytes must go through
    prefork (TLS): what socketserver's handlers use of socket.socket, the
    bytes through host.Conn, the rest (getpeername, getsockopt, fileno...)
    from a real socket on a dup of the descriptor."""

    def __init__(self, conn, sock):
        self._conn = conn
        self._sock = sock
        self._timeout = None
        self._io_refs = 0
        self._closed = False

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _ms(self):
        t = self._timeout
        if t is None:
            return -1
        return 0 if t == 0 else max(1, math.ceil(t * 1000))

    def recv(self, bufsize, flags=0):
        return self._conn.recv(bufsize, self._ms())

    def recv_into(self, buffer, nbytes=0, flags=0):
        return self._conn.recv_into(buffer, nbytes, self._ms())

    def send(self, data, flags=0):
        return self._conn.send(data, self._ms(), 0)

    def sendall(self, data, flags=0):
        self._conn.send(data, self._ms(), 1)

    def settimeout(self, value):
        if value is not None:
            value = float(value)
            if value < 0:
                raise ValueError('Timeout value out of range')
        self._timeout = value

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def getblocking(self):
        return self._timeout != 0.0

    makefile = socket.socket.makefile

    def _decref_socketios(self):
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed:
            self.close()

    def close(self):
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()

    def detach(self):
        raise OSError('a connection served through prefork cannot be '
                      'detached')
