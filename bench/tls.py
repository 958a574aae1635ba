"""prefork's TLS benchmark: HTTPS against nginx and lighttpd on one core.

The same method as bench/run.py (which it imports): every server pinned to
CPU 0, every load generator to CPU 1, one worker process each, interleaved
rounds, each server's CPU time per request read from /proc.  Every server
gets the same certificate (ECDSA P-256, made here with openssl), TLS 1.3
only and the one cipher suite TLS_AES_128_GCM_SHA256, session tickets on.

  (h) HTTPS GET of a 1 KiB file, keep-alive, 50 connections      (wrk)
  (i) full TLS 1.3 handshakes: a new connection and handshake per
      request, no session offered, 50 clients                 (tlsload)
  (j) resumed handshakes: as (i), each client offering the ticket of its
      previous connection                                     (tlsload -r)
  (k) HTTPS GET of a 1 MiB file, keep-alive, 50 connections      (wrk)

wrk gives (h) and (k); it resumes sessions on its own terms, so the
handshake scenarios use bench/tlsload.c, which says which handshake it
made and counts resumptions the server refused.  In (i) and (j) the
client's side of a handshake costs more than the server's (it verifies
the server's ECDSA signature, which is slower than making it), so with
the client on one core the rate is the client's limit for every server:
compare the servers' CPU per handshake, which the report gives, and the
server's signs per second against `openssl speed ecdsap256` on its core.

    make bench-tls            # or: python3 bench/tls.py
    python3 bench/tls.py --rounds 5 --seconds 5
    python3 bench/tls.py --baseline OLD/src/prefork   # beside another build

It prints a Markdown table and writes results/tls-latest.md and .json.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import run
from run import Server, Skip, fmt, free_port, ratio, row, say, sh, table

SUITE = 'TLS_AES_128_GCM_SHA256'
FILES = ('1k.bin', '1m.bin')

SCENARIOS = [
    {'id': 'h', 'title': 'HTTPS GET 1 KiB, keep-alive, 50 connections',
     'tool': 'wrk', 'port': 'https', 'file': '1k.bin', 'conns': 50},
    {'id': 'i', 'title': 'full TLS 1.3 handshakes, 50 clients',
     'tool': 'tlsload', 'port': 'https', 'file': '1k.bin', 'conns': 50},
    {'id': 'j', 'title': 'resumed TLS 1.3 handshakes (tickets), 50 clients',
     'tool': 'tlsload', 'port': 'https', 'file': '1k.bin', 'conns': 50,
     'resume': True},
    {'id': 'k', 'title': 'HTTPS GET 1 MiB, keep-alive, 50 connections',
     'tool': 'wrk', 'port': 'https', 'file': '1m.bin', 'conns': 50},
]


def make_certificate(d):
    """A self-signed ECDSA P-256 certificate for 127.0.0.1: (cert, key)."""
    cert, key = os.path.join(d, 'cert.pem'), os.path.join(d, 'key.pem')
    status, out = sh(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                      'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
                      '-out', cert, '-days', '30', '-subj', '/CN=127.0.0.1',
                      '-addext', 'subjectAltName=IP:127.0.0.1'])
    if status != 0:
        raise SystemExit(f'bench: openssl req failed: {out}')
    os.chmod(key, 0o644)  # servers that drop to www-data read it
    return cert, key


def build_tlsload(work):
    out = os.path.join(work, 'tlsload')
    status, msg = sh(['cc', '-O2', '-Wall', '-o', out,
                      os.path.join(run.HERE, 'tlsload.c'), '-lssl',
                      '-lcrypto'], timeout=120)
    if status != 0:
        run.skipped(f'cannot build tlsload.c: {msg.strip()[-300:]}')
        return None
    return out


def peer_prefork(ctx, name='prefork'):
    d = run.subdir(ctx['work'], name.split()[-1].strip('()'))
    port = free_port()
    services = [('https', {
        'module': 'http', 'listen': f'127.0.0.1:{port}',
        'root': ctx['root'], 'keepalive_timeout': '65s',
        'file_cache_valid': '1s', 'tls_certificate': ctx['cert'],
        'tls_key': ctx['key'], 'tls_protocols': 'TLSv1.3',
        'tls_ciphersuites': SUITE})]
    ini = run.prefork_ini(d, ctx['module_path'], services)
    if ctx.get('nofile'):  # bench/tlsidle.py: many connections
        with open(ini) as f:
            text = f.read()
        with open(ini, 'w') as f:
            f.write(text.replace('[server]\n', '[server]\nrlimit_nofile = '
                                 f'{ctx["nofile"]}\n', 1))
    return Server(name, [ctx['prefork'], '-f', '-c', ini],
                  {'https': port}, d, FILES)


def peer_baseline(ctx):
    """--baseline: another prefork build, as "prefork (before)"."""
    if not ctx.get('baseline'):
        raise Skip('no --baseline')
    return peer_prefork(dict(ctx, prefork=ctx['baseline'],
                             module_path=ctx['baseline_module_path']),
                        'prefork (before)')


def peer_nginx(ctx):
    if not shutil.which('nginx'):
        raise Skip('nginx is not installed')
    d = run.subdir(ctx['work'], 'nginx')
    port = free_port()
    temps = ' '.join(f'{t}_temp_path {d}/{t};' for t in
                     ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
    user = 'user www-data;' if os.geteuid() == 0 else ''
    nofile = ctx.get('nofile') or 1024
    conf = f"""{user}
worker_processes 1;
worker_rlimit_nofile {nofile};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections {nofile}; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_requests 10000000;
    keepalive_timeout 65s;
    default_type application/octet-stream;
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites {SUITE};
    ssl_session_tickets on;
    {temps}
    server {{
        listen 127.0.0.1:{port} ssl backlog=511;
        ssl_certificate {ctx['cert']};
        ssl_certificate_key {ctx['key']};
        root {ctx['root']};
    }}
}}
"""
    run.write(d, 'nginx.conf', conf)
    return Server('nginx', ['nginx', '-p', d, '-e', f'{d}/error.log', '-c',
                            f'{d}/nginx.conf'], {'https': port}, d, FILES)


def peer_lighttpd(ctx):
    if not shutil.which('lighttpd'):
        raise Skip('lighttpd is not installed')
    if not os.path.exists('/usr/lib/lighttpd/mod_openssl.so'):
        raise Skip('lighttpd has no mod_openssl (lighttpd-mod-openssl)')
    d = run.subdir(ctx['work'], 'lighttpd')
    port = free_port()
    user = ('server.username = "www-data"\nserver.groupname = "www-data"\n'
            if os.geteuid() == 0 else '')
    conf = f"""{user}server.modules += ("mod_openssl")
server.document-root = "{ctx['root']}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{d}/error.log"
server.max-worker = 0
server.max-connections = 1024
server.listen-backlog = 511
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 65
server.network-backend = "sendfile"
mimetype.assign = (".bin" => "application/octet-stream")
ssl.engine = "enable"
ssl.pemfile = "{ctx['cert']}"
ssl.privkey = "{ctx['key']}"
ssl.openssl.ssl-conf-cmd = ("MinProtocol" => "TLSv1.3",
                            "Ciphersuites" => "{SUITE}")
"""
    run.write(d, 'lighttpd.conf', conf)
    return Server('lighttpd', ['lighttpd', '-D', '-f', f'{d}/lighttpd.conf'],
                  {'https': port}, d, FILES)


def https_answers(kind, port):
    """Whether a TLS server answers on port (a handshake completes)."""
    import socket
    import ssl
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1) as s:
            with c.wrap_socket(s):
                return True
    except (OSError, ssl.SSLError):
        return False


def run_wrk(port, scenario, seconds):
    argv = run.pin_prefix(run.LOAD_CPU) + [
        'wrk', '-t1', f'-c{scenario["conns"]}', f'-d{seconds}s',
        '--timeout', '2s', '--latency',
        f'https://127.0.0.1:{port}/{scenario["file"]}']
    status, out = sh(argv, timeout=seconds + 20)
    if status != 0:
        raise Skip(f'wrk exited {status}: {out.strip()[-300:]}')
    return run.parse_wrk(out)


def run_tlsload(port, scenario, seconds, tlsload):
    if not tlsload:
        raise Skip('tlsload.c did not build')
    argv = run.pin_prefix(run.LOAD_CPU) + [
        tlsload, '-p', str(port), '-c', str(scenario['conns']), '-d',
        str(seconds), '-f', '/' + scenario['file']]
    if scenario.get('resume'):
        argv.append('-r')
    status, out = sh(argv, timeout=seconds + 20)
    kv = dict(re.findall(r'(\w+)=([\d.]+)', out))
    if 'rate' not in kv:
        raise Skip(f'tlsload exited {status}: {out.strip()[-300:]}')
    return {'rate': float(kv['rate']), 'requests': int(kv['count']),
            'p50_ms': None, 'p99_ms': None, 'errors': int(kv['errors']),
            'not_resumed': int(kv['not_resumed']), 'failed': status != 0,
            'message': out.strip()[-300:] if status != 0 else ''}


def speed_ecdsa():
    """ECDSA P-256 signs per second on the server's core, or None."""
    status, out = sh(run.pin_prefix(run.SERVER_CPU) + [
        'openssl', 'speed', '-seconds', '3', 'ecdsap256'], timeout=60)
    m = re.search(r'ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)', out)
    return float(m.group(1)) if m else None


def report(res, servers, scenarios):
    summary = res['summary']
    lines = ['# prefork TLS benchmark', '',
             f'- {res["rounds"]} interleaved rounds of {res["seconds"]} s; '
             'one worker process each; server on CPU 0, load on CPU 1; '
             f'ECDSA P-256, TLS 1.3, {SUITE}',
             f'- versions: {res["versions"]}',
             f'- openssl speed ecdsap256 on CPU 0: '
             f'{fmt(res["signs"])} signs/s'] + [
             f'- skipped: {n}' for n in run.SKIPPED] + ['']
    names = [sv.name for sv in servers]
    before = 'prefork (before)' in names
    head = ['scenario'] + [f'{n} /s' for n in names] + [
        f'{n} CPU µs/req' for n in names] + [
        'prefork ÷ best peer (rate)', 'prefork ÷ best peer (CPU/req)'] + (
        ['prefork ÷ before (rate)', 'before ÷ prefork (CPU/req)']
        if before else [])
    lines += table(head, 'l' + 'r' * (len(head) - 1))
    for sc in scenarios:
        got = {n: summary.get((sc['id'], n), {}) for n in names}
        pf = got.get('prefork', {})
        peers = [n for n in names if not n.startswith('prefork') and
                 got[n].get('median')]
        old = got.get('prefork (before)', {})
        best = max(peers, key=lambda n: got[n]['median'], default=None)
        cheap = min(peers, key=lambda n: got[n].get('cpu_us_per_req') or 1e9,
                    default=None)
        lines.append(row(
            [f'({sc["id"]}) {sc["title"]}'] +
            [f'{fmt(got[n].get("median"))} '
             f'({fmt(got[n].get("min"))}–{fmt(got[n].get("max"))})'
             for n in names] +
            [fmt(got[n].get('cpu_us_per_req'), 1) for n in names] +
            [ratio(pf.get('median'), got.get(best, {}).get('median')),
             ratio(got.get(cheap, {}).get('cpu_us_per_req'),
                   pf.get('cpu_us_per_req'))] +
            ([ratio(pf.get('median'), old.get('median')),
              ratio(old.get('cpu_us_per_req'), pf.get('cpu_us_per_req'))]
             if before else [])))
    lines += ['', 'CPU ratio: the best peer\'s CPU per request over '
              'prefork\'s (above 1: prefork spends less).', '']
    if res['signs']:
        for sc in scenarios:
            if sc['id'] == 'i':
                pf = summary.get(('i', 'prefork'), {})
                us = pf.get('cpu_us_per_req')
                if us:
                    lines.append(
                        f'(i) at prefork\'s CPU per handshake, one core makes '
                        f'{1e6 / us:,.0f} handshakes/s: '
                        f'{1e6 / us / res["signs"]:.2f} of openssl speed\'s '
                        f'ECDSA P-256 signs/s.')
    bad = [r for r in res['runs'] if r.get('not_resumed')]
    for r in bad:
        lines.append(f'- round {r["round"]} ({r["scenario"]}) {r["server"]}: '
                     f'{r["not_resumed"]} handshakes not resumed')
    return '\n'.join(lines) + '\n'


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--seconds', type=int, default=3)
    p.add_argument('--quick', action='store_true', help='1 round of 1 s')
    p.add_argument('--prefork', default=os.path.join(run.TOP, 'src',
                                                     'prefork'))
    p.add_argument('--module-path',
                   default=os.path.join(run.TOP, 'src', 'modules', '.libs'))
    p.add_argument('--baseline', default='',
                   help='another prefork binary, run as "prefork (before)"')
    p.add_argument('--baseline-module-path', default='')
    p.add_argument('--scenarios', default='hijk')
    p.add_argument('--out', default=os.path.join(run.HERE, 'results'))
    args = p.parse_args()
    if set(args.scenarios) - set('hijk'):
        p.error('--scenarios takes letters of hijk')
    if args.quick:
        args.rounds, args.seconds = 1, 1
    args.prefork = os.path.abspath(args.prefork)
    args.module_path = os.path.abspath(args.module_path)
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
        args.baseline_module_path = os.path.abspath(
            args.baseline_module_path or os.path.join(
                os.path.dirname(args.baseline), 'modules', '.libs'))
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, run.on_term)
    run.PINNED = run.plan_cpus()
    work = tempfile.mkdtemp(prefix='prefork-bench-tls-')
    os.chmod(work, 0o755)
    servers = []
    res = {'rounds': args.rounds, 'seconds': args.seconds, 'runs': []}
    try:
        cert, key = make_certificate(work)
        tlsload = build_tlsload(work)
        ctx = {'work': work, 'root': run.make_docroot(work), 'cert': cert,
               'key': key, 'prefork': args.prefork,
               'module_path': args.module_path, 'baseline': args.baseline,
               'baseline_module_path': args.baseline_module_path}

        def load(server, scenario, seconds, helpers, conns=None):
            port = server.ports[scenario['port']]
            if scenario['tool'] == 'wrk':
                return run_wrk(port, scenario, seconds)
            return run_tlsload(port, scenario, seconds, tlsload)
        run.load = load
        run.port_answers = https_answers
        for make in (peer_prefork, peer_baseline, peer_nginx, peer_lighttpd):
            try:
                sv = make(ctx)
            except Skip as e:
                if make is not peer_baseline:
                    run.skipped(str(e))
                continue
            servers.append(sv)
            try:
                sv.start()
            except Skip as e:
                servers.remove(sv)
                run.skipped(str(e))
        scenarios = [sc for sc in SCENARIOS if sc['id'] in args.scenarios]
        say(f'servers: {", ".join(s.name for s in servers)}; warming up')
        run.warm_up(servers, scenarios, {})
        res['runs'] = run.run_rounds(servers, scenarios, args.rounds,
                                     args.seconds, {})
    finally:
        for sv in servers:
            sv.stop()
        shutil.rmtree(work, ignore_errors=True)
    res['summary'] = run.summarize(res['runs'])
    res['signs'] = speed_ecdsa()
    res['versions'] = '; '.join(
        f'{n}: {run.first_line(a) or "?"}' for n, a in (
            ('openssl', ['openssl', 'version']), ('nginx', ['nginx', '-v']),
            ('lighttpd', ['lighttpd', '-v'])))
    text = report(res, servers, scenarios)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'tls-latest.md'), 'w') as f:
        f.write(text)
    with open(os.path.join(args.out, 'tls-latest.json'), 'w') as f:
        json.dump({k: v for k, v in res.items() if k != 'summary'}, f,
                  indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
