"""Serve one class of handlers.py with one of socketserver's servers.

    serve.py SERVER CLASS PORTFILE

SERVER is ForkingTCPServer, ThreadingTCPServer, ForkingUDPServer or
ThreadingUDPServer; it binds 127.0.0.1 on a port of the kernel's choosing
and writes that port to PORTFILE, then serves until killed.
"""
import os
import socketserver
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import handlers  # noqa: E402

server_cls = getattr(socketserver, sys.argv[1])
handler_cls = getattr(handlers, sys.argv[2])
server_cls.allow_reuse_address = True
with server_cls(("127.0.0.1", 0), handler_cls) as server:
    tmp = sys.argv[3] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, sys.argv[3])
    server.serve_forever()
