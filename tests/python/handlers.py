"""The request handlers of Python's socketserver documentation, and two
that go wrong, for tests/integration/test_python.c.

The same classes run under prefork's python module and under
socketserver's own servers (serve.py), and the test compares the bytes
each gives back.
"""
import socketserver


class MyTCPHandler(socketserver.BaseRequestHandler):
    """The documentation's first TCP handler: one recv, sendall upper."""

    def handle(self):
        self.data = self.request.recv(1024).strip()
        self.request.sendall(self.data.upper())


class MyStreamHandler(socketserver.StreamRequestHandler):
    """The documentation's StreamRequestHandler variant: one line."""

    def handle(self):
        self.data = self.rfile.readline().strip()
        self.wfile.write(self.data.upper())


class MyUDPHandler(socketserver.BaseRequestHandler):
    """The documentation's UDP handler."""

    def handle(self):
        data = self.request[0].strip()
        socket = self.request[1]
        socket.sendto(data.upper(), self.client_address)


class EchoDatagramHandler(socketserver.DatagramRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.read().upper())


class Failing(socketserver.StreamRequestHandler):
    """Raises on a line saying "boom", upper-cases any other."""

    def handle(self):
        line = self.rfile.readline().strip()
        if line == b"boom":
            raise ValueError("handler failed on purpose")
        self.wfile.write(line.upper())


class Echo(socketserver.StreamRequestHandler):
    """Echo until the client closes (the benchmark's handler)."""

    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break
            self.request.sendall(data)


class Info(socketserver.StreamRequestHandler):
    """Says what socketserver would have handed it."""

    def handle(self):
        self.rfile.readline()
        s = self.server
        self.wfile.write(repr((type(self.client_address).__name__,
                               s.server_address, int(s.socket_type),
                               s.RequestHandlerClass.__name__)).encode())


class SandboxProbe(socketserver.StreamRequestHandler):
    """Tries, one command a line, what a handler taken over would, and
    answers "ok" or the errno's name (tests/modules/sbmod.c in Python):
    read PATH, write PATH, exec (os.execv in the worker), spawn (a child
    running /bin/sh -c 'exit 7': "ok 7"), connect PORT, pid."""

    def run(self, cmd, arg):
        import os
        import socket
        import subprocess
        if cmd == 'read':
            with open(arg, 'rb') as f:
                f.read(1)
        elif cmd == 'write':
            with open(arg, 'wb') as f:
                f.write(b'x')
        elif cmd == 'exec':
            os.execv('/bin/sh', ['sh', '-c', 'exit 7'])
        elif cmd == 'spawn':
            return 'ok %d' % subprocess.run(['/bin/sh', '-c', 'exit 7']).returncode
        elif cmd == 'pid':
            return str(os.getpid())
        elif cmd == 'connect':
            with socket.create_connection(('127.0.0.1', int(arg)), 5):
                pass
        return 'ok'

    def handle(self):
        import errno
        for line in self.rfile:
            cmd, _, arg = line.decode().strip().partition(' ')
            try:
                out = self.run(cmd, arg)
            except OSError as e:
                out = errno.errorcode.get(e.errno, str(e.errno))
            self.wfile.write((out + '\n').encode())
