"""What an idle TLS keep-alive connection costs a worker, beside nginx.

One server at a time (prefork's http service over TLS, then nginx, one
worker each, the certificate and settings of bench/tls.py) on 127.0.0.1.
N clients (default 10,000) each make a TLS 1.3 handshake, GET a 1 KiB
file with keep-alive, read the answer and fall silent.  The server's
private memory (Private_Clean + Private_Dirty over its processes, from
smaps_rollup, as bench/hostile.py counts it) is read before the first
client connects and again a second after the last one went idle; the
difference over N is what one idle connection costs in user space.  The
kernel's socket memory is the same for every server and not counted.
Then bench/tlsmem.c says where OpenSSL's part of it goes: every block
OpenSSL holds for one idle connection, by the line that allocated it.

    make bench-tls-idle      # or: python3 bench/tlsidle.py [--conns N]

Loopback only, bounded: N connections, each with a 5 s timeout.
"""
import argparse
import os
import resource
import shutil
import socket
import ssl
import sys
import tempfile
import time

import run
import tls


def open_idle(port, n, wrap=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    req = b'GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
    socks = []
    for _ in range(n):
        raw = socket.create_connection(('127.0.0.1', port), timeout=5)
        s = ctx.wrap_socket(raw) if wrap else raw
        s.sendall(req)
        got = b''
        while not got.endswith(b'\r\n\r\n') or len(got) < 1024:
            part = s.recv(4096)
            if not part:
                raise SystemExit('tlsidle: the server closed a connection')
            got += part
            head, _, body = got.partition(b'\r\n\r\n')
            if head and len(body) >= 1024:
                break
        socks.append(s)
    return socks


def private_kib(server):
    return sum(run.smaps(p)['private_kib']
               for p in run.process_tree(server.proc.pid))


def measure(server, n):
    server.start()
    try:
        time.sleep(0.5)
        before = private_kib(server)
        t0 = time.monotonic()
        port = server.ports.get('https') or server.ports['http']
        socks = open_idle(port, n, 'https' in server.ports)
        opened = time.monotonic() - t0
        time.sleep(1)
        after = private_kib(server)
        for s in socks:
            s.close()
        return (after - before) * 1024 / n, opened
    finally:
        server.stop()


def openssl_sites(work, cert, key):
    """bench/tlsmem.c's table, or why there is none."""
    exe = os.path.join(work, 'tlsmem')
    status, out = run.sh(['cc', '-O2', '-o', exe,
                          os.path.join(run.HERE, 'tlsmem.c'), '-lssl',
                          '-lcrypto'], timeout=120)
    if status == 0:
        status, out = run.sh([exe, cert, key], timeout=60)
    return out.strip() if status == 0 else f'(tlsmem: {out.strip()[-300:]})'


def peer_prefork_plain(ctx):
    """prefork's same service without TLS: what the kernel and the plain
    connection cost, for the difference."""
    sv = tls.peer_prefork(dict(ctx, work=os.path.join(ctx['work'], 'plain')))
    with open(sv.argv[-1]) as f:
        text = f.read()
    with open(sv.argv[-1], 'w') as f:
        f.write('\n'.join(line for line in text.splitlines()
                          if not line.startswith('tls_')) + '\n')
    sv.name, sv.ports = 'prefork (plain)', {'http': sv.ports['https']}
    return sv


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--conns', type=int, default=10000)
    p.add_argument('--prefork', default=os.path.join(run.TOP, 'src',
                                                     'prefork'))
    p.add_argument('--module-path',
                   default=os.path.join(run.TOP, 'src', 'modules', '.libs'))
    args = p.parse_args()
    need = args.conns + 512
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need),
                                                max(hard, need)))
    work = tempfile.mkdtemp(prefix='prefork-tlsidle-')
    os.chmod(work, 0o755)
    plain_answers = run.port_answers
    run.port_answers = lambda kind, port: (
        tls.https_answers(kind, port) if kind == 'https'
        else plain_answers(kind, port))
    rows, sites = [], ''
    try:
        cert, key = tls.make_certificate(work)
        ctx = {'work': work, 'root': run.make_docroot(work), 'cert': cert,
               'key': key, 'prefork': os.path.abspath(args.prefork),
               'module_path': os.path.abspath(args.module_path),
               'nofile': need}
        os.mkdir(os.path.join(work, 'plain'))
        for make in (peer_prefork_plain, tls.peer_prefork, tls.peer_nginx):
            try:
                server = make(ctx)
                per, opened = measure(server, args.conns)
            except run.Skip as e:
                print(f'tlsidle: skipped: {e}', file=sys.stderr)
                continue
            rows.append((server.name, per, opened))
        sites = openssl_sites(work, cert, key)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f'| server | private bytes per idle connection ({args.conns:,} '
          'connections) | opened in |')
    print('|---|---:|---:|')
    for name, per, opened in rows:
        print(f'| {name} | {per:,.0f} | {opened:.1f} s |')
    print('\nOpenSSL\'s own blocks for one idle TLS 1.3 connection '
          '(bench/tlsmem.c):\n')
    print(sites)
    return 0


if __name__ == '__main__':
    sys.exit(main())
