"""Serve one class of handlers.py with one of socketserver's servers.

    serve.py SERVER CLASS PORT READYFILE

SERVER is ForkingTCPServer, ThreadingTCPServer, ForkingUDPServer,
ThreadingUDPServer or http.server's ThreadingHTTPServer; it binds 127.0.0.1:PORT, creates READYFILE once it
listens, then serves until killed.
"""
import http.server
import os
import socketserver
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import handlers  # noqa: E402

server_cls = (getattr(socketserver, sys.argv[1], None) or
              getattr(http.server, sys.argv[1]))
handler_cls = getattr(handlers, sys.argv[2])
server_cls.allow_reuse_address = True
with server_cls(("127.0.0.1", int(sys.argv[3])), handler_cls) as server:
    open(sys.argv[4], "w").close()
    server.serve_forever()
