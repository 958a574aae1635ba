"""The Python standard library's servers, as peers for bench/run.py.

    python3 bench/pypeers.py http PORT DOCROOT    # http.server.ThreadingHTTPServer
    python3 bench/pypeers.py echo-threading PORT  # socketserver.ThreadingTCPServer
    python3 bench/pypeers.py echo-forking PORT    # socketserver.ForkingTCPServer
    python3 bench/pypeers.py udp-threading PORT   # socketserver.ThreadingUDPServer

Each listens on 127.0.0.1:PORT and serves until killed.  The classes are
used as their documentation shows, with four of their documented settings
changed so that they are not measured on what the other servers are
configured out of: the listen backlog is 511 (socketserver's 5 drops SYNs
when 50 clients connect at once), ForkingMixIn may have 64 children (its 40
would block the server at the 41st connection; prefork's `max_children` is
64), and the HTTP handler speaks HTTP/1.1 so keep-alive works, with
`disable_nagle_algorithm` (it writes the head and the body in two sends, and
Nagle would hold the body until the client's delayed ACK, 40 ms per
request), without a log line per request.
"""
import functools
import http.server
import socketserver
import sys

BACKLOG = 511


class EchoHandler(socketserver.BaseRequestHandler):
    """RFC 862 over TCP: send back every byte until the client closes."""

    def handle(self):
        sock = self.request
        while True:
            data = sock.recv(65536)
            if not data:
                return
            sock.sendall(data)


class UDPEchoHandler(socketserver.BaseRequestHandler):
    """RFC 862 over UDP: send each datagram back to its sender."""

    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


class FileHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with keep-alive and without a log line per request."""

    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass


class ThreadingTCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = BACKLOG


class ForkingTCP(socketserver.ForkingTCPServer):
    allow_reuse_address = True
    request_queue_size = BACKLOG
    max_children = 64


class ThreadingUDP(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True


class ThreadingHTTP(http.server.ThreadingHTTPServer):
    request_queue_size = BACKLOG


def make_server(kind, port, docroot):
    addr = ('127.0.0.1', port)
    if kind == 'http':
        handler = functools.partial(FileHandler, directory=docroot)
        return ThreadingHTTP(addr, handler)
    if kind == 'echo-threading':
        return ThreadingTCP(addr, EchoHandler)
    if kind == 'echo-forking':
        return ForkingTCP(addr, EchoHandler)
    if kind == 'udp-threading':
        return ThreadingUDP(addr, UDPEchoHandler)
    raise SystemExit(f'pypeers: unknown kind {kind!r}')


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    docroot = sys.argv[3] if len(sys.argv) > 3 else '.'
    with make_server(sys.argv[1], int(sys.argv[2]), docroot) as server:
        server.serve_forever()


if __name__ == '__main__':
    main()
