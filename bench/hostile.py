"""Hostile clients at scale against prefork's http service, measured.

One prefork serves http with 2 workers on 127.0.0.1.  wrk (4 connections,
keep-alive GETs of a 1 KiB file) measures the latency of normal requests,
each time beside the same run with nothing else connected:

  idle      10,000 keep-alive connections, each served one request and
            then left silent, held against the 2 workers
  hostile   1,000 each of slowloris clients (a request head trickled one
            header line a second), slow POST bodies (Content-Length 60,000,
            under the 64 KiB the server reads and drops, one byte a second) and slow readers (a 4 MiB file asked for
            through a 4 KiB receive window, and never read)

For each it reports requests/s, p50 and p99, the workers' private memory
(Private_Dirty + Swap, smaps_rollup) per parked connection, and the
kernel's slab memory per connection (both ends of loopback).  Then it
waits for the server to shed the hostile clients by its own timeouts
(header_timeout 10 s for slowloris, the body's idle time for slow POST,
send_timeout for slow readers, all at their defaults but send_timeout,
set to 15 s so that the run ends sooner) and reports how many it closed.

    python3 bench/hostile.py --prefork src/prefork \\
        --module-path src/modules/.libs [--idle N] [--each N] [--md FILE]

Loopback only, bounded in count and time (about a minute and a half).
"""
import argparse
import json
import os
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos import Server, http_response, wait_for, now  # noqa: E402
from run import parse_wrk, smaps  # noqa: E402

BIG = 4 * 1024 * 1024


class HttpServer(Server):
    """The chaos run's server, with one http service only."""

    def __init__(self, binary, modpath):
        super().__init__(binary, modpath, False)
        with open(os.path.join(self.dir, 'www', 'big.bin'), 'wb') as f:
            f.write(os.urandom(BIG))

    def write_conf(self, workers, nofile=4096):
        port = self.ports['http']
        text = f"""[server]
pidfile = {self.pidfile}
error_log = {self.logs}/error.log
module_path = {self.modpath}
rlimit_nofile = 16384
[http]
module = http
listen = 127.0.0.1:{port}
workers = {workers}
root = {self.dir}/www
keepalive_timeout = 300s
send_timeout = 15s
"""
        with open(self.conf, 'w') as f:
            f.write(text)

    def start(self):
        self.proc = subprocess.Popen([self.binary, '-c', self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_for(lambda: len(self.workers()) == 2, 10):
            raise SystemExit('hostile: prefork did not start; see '
                             + self.logs + '/error.log')

    def private_kib(self):
        """The workers' memory as max_worker_memory counts it."""
        total = 0
        for pid in self.workers():
            try:
                total += smaps(pid)['dirty_swap_kib']
            except OSError:
                pass
        return total


def slab_kib():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('Slab:'):
                return int(line.split()[1])
    return 0


WRK_SECONDS = 4


def wrk_start(port):
    """wrk (4 connections, 1 thread) for WRK_SECONDS, in the background."""
    return subprocess.Popen(
        ['wrk', '-t1', '-c4', f'-d{WRK_SECONDS}s', '--timeout', '2s',
         '--latency', f'http://127.0.0.1:{port}/chaos.txt'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(proc):
    out, _ = proc.communicate(timeout=WRK_SECONDS + 20)
    return parse_wrk(out)


def wrk(port):
    return wrk_result(wrk_start(port))


def connect(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect(('127.0.0.1', port))
    return s


def open_idle(port, n):
    """n connections, each served one request and then left silent."""
    req = b'GET /chaos.txt HTTP/1.1\r\nHost: hostile\r\n\r\n'
    socks = []
    for _ in range(n):
        s = connect(port)
        s.sendall(req)
        if http_response(s) != (200, True):
            raise SystemExit('hostile: an idle client was not kept alive')
        socks.append(s)
    return socks


def open_hostile(port, n):
    """n each of slowloris, slow POST and slow reader connections."""
    kinds = {'slowloris': [], 'slow POST': [], 'slow reader': []}
    for _ in range(n):
        s = connect(port)
        s.sendall(b'GET /chaos.txt HTTP/1.1\r\nHost: hostile\r\n')
        kinds['slowloris'].append(s)
        s = connect(port)
        s.sendall(b'POST /upload HTTP/1.1\r\nHost: hostile\r\n'
                  b'Content-Length: 60000\r\n\r\n')
        kinds['slow POST'].append(s)
        s = connect(port, rcvbuf=4096)
        s.sendall(b'GET /big.bin HTTP/1.1\r\nHost: hostile\r\n\r\n')
        kinds['slow reader'].append(s)
    for socks in kinds.values():
        for s in socks:
            s.setblocking(False)
    return kinds


def trickle(kinds, seconds):
    """One more byte a second to the slowloris and slow POST clients; note
    when the server closes each hostile connection."""
    closed = {k: {} for k in kinds}
    sel = selectors.DefaultSelector()
    for kind in ('slowloris', 'slow POST'):   # a slow reader never reads
        for s in kinds[kind]:
            sel.register(s, selectors.EVENT_READ, kind)
    start = now()
    next_tick = start
    while now() - start < seconds:
        if now() >= next_tick:
            next_tick += 1.0
            for kind, piece in (('slowloris', b'X-Slow: 1\r\n'),
                                ('slow POST', b'x')):
                for s in kinds[kind]:
                    if s.fileno() in closed[kind]:
                        continue
                    try:
                        s.send(piece)
                    except OSError:
                        closed[kind][s.fileno()] = now() - start
        for key, _ in sel.select(max(0.0, min(next_tick - now(), 0.2))):
            s, kind = key.fileobj, key.data
            try:
                while s.recv(65536):
                    pass
                closed[kind][s.fileno()] = now() - start
                sel.unregister(s)
            except BlockingIOError:
                pass
            except OSError:
                closed[kind][s.fileno()] = now() - start
                sel.unregister(s)
    sel.close()
    return closed


def slow_reader_closed(s):
    """Has the server closed a slow reader?  What is queued is read first;
    then the end of stream, or a reset, says so."""
    try:
        while s.recv(1 << 20):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def close_all(socks):
    for s in socks:
        s.close()


def median_run(runs):
    """The run of median rate among several."""
    return sorted(runs, key=lambda r: r['rate'])[len(runs) // 2]


def run_idle(srv, port, n, rounds):
    """wrk alone and beside n idle keep-alive connections, rounds times
    each, interleaved; the memory the n connections cost on the first
    round (the heap and the kernel's slabs reuse it after that)."""
    alone, beside, mem, slab = [], [], [], []
    for _ in range(rounds):
        alone.append(wrk(port))
        mem0, slab0 = srv.private_kib(), slab_kib()
        t = now()
        socks = open_idle(port, n)
        opened = now() - t
        time.sleep(1)
        mem.append((srv.private_kib() - mem0) * 1024 / n)
        slab.append((slab_kib() - slab0) * 1024 / n)
        beside.append(wrk(port))
        close_all(socks)
        time.sleep(1)
    return dict(load='idle', conns=n, open_s=round(opened, 1),
                rounds=rounds, alone=median_run(alone),
                beside=median_run(beside),
                # The first round's: later ones reuse the pages it freed.
                worker_bytes_per_conn=round(mem[0]),
                slab_bytes_per_conn=round(slab[0]))


def run_hostile(srv, port, each, seconds=20):
    """wrk alone, then beside each of the hostile kinds trickling; how many
    of them the server sheds within seconds."""
    alone = wrk(port)
    mem0 = srv.private_kib()
    t = now()
    kinds = open_hostile(port, each)
    opened = now() - t
    time.sleep(1)
    mem = (srv.private_kib() - mem0) * 1024 / (3 * each)
    proc = wrk_start(port)
    closed = trickle(kinds, seconds)
    beside = wrk_result(proc)
    shed = {}
    for kind, socks in kinds.items():
        shut = closed[kind]
        if kind == 'slow reader':
            shut = {s.fileno(): None for s in socks if slow_reader_closed(s)}
        times = sorted(t for t in shut.values() if t is not None)
        shed[kind] = dict(closed=len(shut), of=len(socks),
                          last_s=round(times[-1] + 1, 1) if times else None)
        close_all(socks)
    return dict(load='hostile', conns=3 * each, open_s=round(opened, 1),
                rounds=1, alone=alone, beside=beside,
                worker_bytes_per_conn=round(mem), shed=shed, seconds=seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--prefork', default='src/prefork')
    ap.add_argument('--module-path', default='src/modules/.libs')
    ap.add_argument('--idle', type=int, default=10000)
    ap.add_argument('--each', type=int, default=1000)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--json')
    ap.add_argument('--md')
    args = ap.parse_args()
    if shutil.which('wrk') is None:
        raise SystemExit('hostile: needs wrk (apt-get install wrk)')
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    need = max(args.idle, 3 * args.each) + 100
    if hard != resource.RLIM_INFINITY and hard < need:
        raise SystemExit(f'hostile: needs {need} descriptors, the hard '
                         f'limit is {hard}')
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    srv = HttpServer(args.prefork, args.module_path)
    port = srv.ports['http']
    rows = []
    try:
        srv.start()
        wrk(port)   # warm up: the file cache, the workers' heaps
        rows.append(run_idle(srv, port, args.idle, args.rounds))
        report(rows[-1])
        rows.append(run_hostile(srv, port, args.each))
        report(rows[-1])
    finally:
        srv.stop()
        srv.cleanup()
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(rows=rows), f, indent=1)
    if args.md:
        with open(args.md, 'w') as f:
            f.write(markdown(rows))
    errors = sum(r[k]['errors'] + r[k]['non2xx'] for r in rows
                 for k in ('alone', 'beside'))
    unshed = [k for r in rows for k, v in r.get('shed', {}).items()
              if v['closed'] < v['of']]
    return 1 if errors or unshed else 0


def lat(r):
    return (f'{r["rate"]:,.0f}/s, p50 {r["p50_ms"]:.3f} ms, '
            f'p99 {r["p99_ms"]:.3f} ms, errors {r["errors"] + r["non2xx"]}')


def report(row):
    print(f'{row["load"]}: {row["conns"]:,} connections opened in '
          f'{row["open_s"]} s' + (f'; medians of {row["rounds"]} rounds'
                                  if row['rounds'] > 1 else ''))
    print(f'  wrk alone:   {lat(row["alone"])}')
    print(f'  wrk beside:  {lat(row["beside"])}')
    slab = row.get('slab_bytes_per_conn')
    print(f'  per connection: workers {row["worker_bytes_per_conn"]:,} B '
          f'private' + (f', kernel slab {slab:,} B (both ends)'
                        if slab is not None else ''))
    for kind, s in row.get('shed', {}).items():
        print(f'  {kind}: {shed_text(row, s)}')
    sys.stdout.flush()


def shed_text(row, s):
    text = f'{s["closed"]:,} of {s["of"]:,} closed by the server'
    if s['last_s'] is not None:
        text += f', the last about {s["last_s"]} s after connecting'
    return text + f' (watched {row["seconds"] + 1} s)'


def markdown(rows):
    out = ['| held against 2 workers | wrk alone: req/s, p99 | '
           'wrk beside them: req/s, p99 | worker memory per connection | '
           'kernel slab per connection (both ends) |',
           '| --- | ---: | ---: | ---: | ---: |']
    for r in rows:
        what = (f'{r["conns"]:,} idle keep-alive connections'
                if r['load'] == 'idle' else
                f'{r["conns"] // 3:,} each of slowloris, slow POST, slow '
                f'readers')
        slab = r.get('slab_bytes_per_conn')
        out.append(
            f'| {what} | {r["alone"]["rate"]:,.0f}, '
            f'{r["alone"]["p99_ms"]:.3f} ms | {r["beside"]["rate"]:,.0f}, '
            f'{r["beside"]["p99_ms"]:.3f} ms | '
            f'{r["worker_bytes_per_conn"]:,} B | '
            f'{"–" if slab is None else f"{slab:,} B"} |')
    out.append('')
    for r in rows:
        for kind, s in r.get('shed', {}).items():
            out.append(f'- {kind}: {shed_text(r, s)}')
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    sys.exit(main())
