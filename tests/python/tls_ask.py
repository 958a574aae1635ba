"""Ask a TLS server, for tests/integration/test_python.c.

    tls_ask.py PORT CAFILE MSG [MSG ...]

Connects to 127.0.0.1:PORT over TLS (trusting CAFILE), sends each MSG
(the second and later 300 ms after the one before, so that a keep-alive
connection sits idle between them), then writes to stdout every byte the
server sends until it closes.  Exits 1 when the connection fails.
"""
import os
import socket
import ssl
import sys
import time


def main():
    port, cafile, msgs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    # Under valgrind (make check-valgrind) a worker starting CPython takes
    # many seconds before its first handshake: as long as the test waits.
    wait = 35.0 if os.environ.get('PF_VALGRIND') else 10.0
    raw = socket.create_connection(('127.0.0.1', port), timeout=wait)
    out = bytearray()
    with ctx.wrap_socket(raw) as s:
        for i, msg in enumerate(msgs):
            if i > 0:
                time.sleep(0.3)
            s.sendall(os.fsencode(msg))
        while True:
            try:
                b = s.recv(65536)
            except (ssl.SSLEOFError, ConnectionResetError):
                break
            if not b:
                break
            out += b
    sys.stdout.buffer.write(out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
