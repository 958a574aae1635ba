#!/usr/bin/env python3
"""tls_client.py -- a TLS client for test_tls.c, on Python's ssl module.

    tls_client.py CMD PORT CAFILE [--cert FILE --key FILE] [--sni NAME]

Commands (each prints one line the test reads, and exits 0 when the
exchange went as the command expects, 1 otherwise):

    echo N        send N pattern bytes, read them back: "ok N"
    blockmod      greeting, pf_readline, pf_read_full, "tls" through
                  blockmod: its answers joined by "|"
    tls           blockmod's "tls" answer alone: "tls SUBJECT VERIFY ALPN"
    pipelined     two lines to blockmod in one TLS record: its answers
                  joined by "|", the second read from what OpenSSL holds
    slowhello     the ClientHello one byte at a time, then an echo: "ok N"
    records KIND  two requests in two records in one write (blockmod or
                  http): the answers, read ahead by the server
    loop SECS MS  a new TLS echo connection every MS ms for SECS seconds:
                  "made N failed M"
"""
import argparse
import os
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"


def context(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.check_hostname = False
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    return ctx


def connect(args, timeout=5.0):
    raw = socket.create_connection((HOST, args.port), timeout=timeout)
    return context(args).wrap_socket(raw, server_hostname=args.sni)


def recv_exact(s, n):
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            break
        out += b
    return bytes(out)


def echo(args, n):
    data = os.urandom(n)
    with connect(args) as s:
        s.sendall(data)
        got = recv_exact(s, n)
    print("ok %d" % len(got) if got == data else "mismatch %d" % len(got))
    return got == data


def blockmod(args, only_tls=False):
    with connect(args) as s:
        f = s.makefile("rb")
        answers = [f.readline().decode().strip()]
        if not only_tls:
            s.sendall(b"abc\n")
            answers.append(f.readline().decode().strip())
            s.sendall(b"full 5\nhello")
            answers.append(f.readline().decode().strip())
        s.sendall(b"tls\n")
        answers.append(f.readline().decode().strip())
        s.sendall(b"quit\n")
    print(answers[-1] if only_tls else "|".join(answers))
    return True


def pipelined(args):
    with connect(args, timeout=3.0) as s:
        f = s.makefile("rb")
        answers = [f.readline().decode().strip()]
        s.sendall(b"abc\nxyzw\n")
        answers.append(f.readline().decode().strip())
        answers.append(f.readline().decode().strip())
    print("|".join(answers))
    return True


def bio_handshake(args, bytewise=False):
    """A TLS connection through memory BIOs, so that the test, not the ssl
    module, decides how the bytes go: (tls, raw, incoming, outgoing) once
    the handshake is done, or None.  bytewise: the ClientHello one byte at
    a time, 2 ms apart."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context(args).wrap_bio(incoming, outgoing, server_hostname=args.sni)
    raw = socket.create_connection((HOST, args.port), timeout=5.0)
    first = True
    while True:
        try:
            tls.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        out = outgoing.read()
        if first and bytewise:
            for i in range(len(out)):
                raw.sendall(out[i:i + 1])
                time.sleep(0.002)
        elif out:
            raw.sendall(out)
        first = False
        if done:
            return tls, raw, incoming, outgoing
        data = raw.recv(65536)
        if not data:
            print("closed during the handshake")
            raw.close()
            return None
        incoming.write(data)


def bio_read(tls, raw, incoming, until):
    """What the server sends until until(bytes so far) or it closes."""
    got = b""
    while not until(got):
        try:
            got += tls.read(65536)
        except ssl.SSLWantReadError:
            data = raw.recv(65536)
            if not data:
                break
            incoming.write(data)
        except ssl.SSLZeroReturnError:
            break
    return got


def slowhello(args):
    conn = bio_handshake(args, bytewise=True)
    if conn is None:
        return False
    tls, raw, incoming, outgoing = conn
    msg = b"one byte at a time\n"
    tls.write(msg)
    raw.sendall(outgoing.read())
    got = bio_read(tls, raw, incoming, lambda b: len(b) >= len(msg))
    raw.close()
    print("ok %d" % len(got) if got == msg else "mismatch %r" % got)
    return got == msg


def records(args, kind):
    """Two messages in two TLS records, sent in one write, so that the
    server's one read takes both: the second must be served from what
    OpenSSL read ahead, without waiting for the socket.  kind: blockmod
    (two lines after its greeting: its answers joined by "|") or http
    (two GETs of /index.html: "responses N")."""
    conn = bio_handshake(args)
    if conn is None:
        return False
    tls, raw, incoming, outgoing = conn
    raw.settimeout(3.0)
    greeting = b""
    if kind == "blockmod":
        greeting = bio_read(tls, raw, incoming, lambda b: b.endswith(b"\n"))
        msgs, marker = [b"abc\n", b"xyzw\n"], b"\n"
    else:
        msgs = [b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"] * 2
        marker = b"hello over TLS"
    for m in msgs:
        tls.write(m)
    raw.sendall(outgoing.read())
    got = bio_read(tls, raw, incoming, lambda b: b.count(marker) >= 2)
    raw.close()
    if kind == "blockmod":
        print("|".join(x for x in (greeting + got).decode().split("\n") if x))
    else:
        print("responses %d" % got.count(marker))
    return True


def loop(args, secs, gap_ms):
    made = failed = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            with connect(args, timeout=3.0) as s:
                s.sendall(b"ping\n")
                if recv_exact(s, 5) != b"ping\n":
                    raise OSError("short echo")
            made += 1
        except (OSError, ssl.SSLError) as e:
            failed += 1
            print("failed: %s" % e, file=sys.stderr)
        time.sleep(gap_ms / 1000.0)
    print("made %d failed %d" % (made, failed))
    return failed == 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd")
    p.add_argument("port", type=int)
    p.add_argument("ca")
    p.add_argument("extra", nargs="*")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--sni", default="localhost")
    args = p.parse_args()
    try:
        if args.cmd == "echo":
            ok = echo(args, int(args.extra[0]))
        elif args.cmd == "blockmod":
            ok = blockmod(args)
        elif args.cmd == "tls":
            ok = blockmod(args, only_tls=True)
        elif args.cmd == "pipelined":
            ok = pipelined(args)
        elif args.cmd == "slowhello":
            ok = slowhello(args)
        elif args.cmd == "records":
            ok = records(args, args.extra[0])
        elif args.cmd == "loop":
            ok = loop(args, float(args.extra[0]), int(args.extra[1]))
        else:
            print("unknown command %s" % args.cmd)
            ok = False
    except (OSError, ssl.SSLError) as e:
        print("error: %s" % e)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
