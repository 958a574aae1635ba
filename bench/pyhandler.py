"""One Python echo handler under prefork's python module and under
socketserver's own servers.

    python3 bench/pyhandler.py --prefork src/prefork \
        --module-path src/modules/.libs [--workers N] [--seconds S]

The handler is pypeers.EchoHandler (a socketserver.BaseRequestHandler that
sends back every byte until the client closes). It runs under prefork
(`module = python`, `mode = prefork` with N workers, a process per
connection as in ForkingTCPServer, and `mode = threading` with one worker,
a thread per connection in one process as in ThreadingTCPServer), then
under socketserver.ForkingTCPServer and ThreadingTCPServer as pypeers.py
configures them, each driven by echoload with N clients of 64-byte round
trips for S seconds twice: once on N connections held open, once with a
new connection for every echo (echoload -r), socketserver's usual use of
one request per connection. N connections, not more: a stream handler
holds its worker for the whole connection (PF_BLOCKING), so prefork with N
workers serves N clients at once, where the socketserver servers would
fork or start a thread for each. The four servers take turns within each
of R rounds (--rounds), and the report gives the median rate, the median
of the per-round ratios (a state of the machine that lasts a round weighs
on both sides) and each server's CPU time per round trip, the steadiest of
the figures (bench/run.py's accounting). Nothing is pinned by default:
prefork's workers may then use both CPUs where a socketserver server's
threads share one interpreter lock. With --pin, as in bench/run.py, the
servers share one CPU and the load has the other: what each does per core.

Then, when wrk is installed, an HTTP handler with keep-alive
(pypeers.FileHandler: SimpleHTTPRequestHandler, HTTP/1.1, a 1 KiB file):
wrk with 20 connections against prefork (`mode = prefork` with 2 workers,
where idle keep-alive connections wait in the workers' event loops, and
`mode = threading`) and http.server.ThreadingHTTPServer.  The peers run
under /usr/bin/python3, the interpreter the module embeds.  Prints
Markdown tables.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import run as harness  # bench/run.py: pinning, CPU time of a process tree

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = '/usr/bin/python3'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f'server exited with {proc.returncode}')
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f'nothing listens on port {port}')


def wait_serving(port, probe, want, timeout=20.0):
    """Until a worker answers probe with want: the listener is bound by
    the master before any worker has started Python."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), 1.0) as s:
                s.sendall(probe)
                if want in s.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f'nothing serves on port {port}')


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load(echoload, port, conns, seconds, reconnect):
    out = subprocess.run(harness.pin_prefix(harness.LOAD_CPU) +
                         [echoload, '-p', str(port), '-c', str(conns),
                          '-d', str(seconds)] + (['-r'] if reconnect else []),
                         capture_output=True,
                         text=True, check=False).stdout
    m = re.search(r'rate=([0-9.]+).*p99_us=([0-9]+).*errors=([0-9]+) '
                  r'mismatches=([0-9]+)', out)
    if m is None:
        raise SystemExit(f'echoload said: {out!r}')
    return float(m.group(1)), int(m.group(2)), int(m.group(3)) + int(
        m.group(4))


def measure(echoload, proc, port, args, reconnect):
    """One load on one server: (rate, p99 us, errors, server CPU us per
    round trip)."""
    before = harness.tree_cpu_seconds(proc.pid)
    rate, p99, errors = load(echoload, port, args.workers, args.seconds,
                             reconnect)
    cpu = harness.tree_cpu_seconds(proc.pid) - before
    return rate, p99, errors, cpu * 1e6 / max(1.0, rate * args.seconds)


def spread(values, fmt='{:.0f}'):
    """median (min-max)"""
    return (fmt.format(statistics.median(values)) + ' (' +
            fmt.format(min(values)) + '-' + fmt.format(max(values)) + ')')


def echo_table(rows, args):
    """rows: [(name, [(kept, fresh) per round])], prefork's first."""
    print(f'| server ({args.workers} clients, 64-byte echo, '
          f'{args.rounds} rounds of {args.seconds} s) '
          f'| round trips/s, one connection each | prefork / this, per round '
          f'| CPU us per round trip '
          f'| connections/s, one echo each | prefork / this, per round '
          f'| CPU us per connection | p99 us (held / new) | errors |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    base = rows[0][1]
    for name, runs in rows:
        cells = [name]
        for i in (0, 1):
            cells.append(spread([r[i][0] for r in runs]))
            cells.append(spread([b[i][0] / r[i][0]
                                 for b, r in zip(base, runs)], '{:.2f}'))
            cells.append(spread([r[i][3] for r in runs], '{:.1f}'))
        cells.append(f'{statistics.median(r[0][1] for r in runs):.0f} / '
                     f'{statistics.median(r[1][1] for r in runs):.0f}')
        cells.append(str(sum(r[0][2] + r[1][2] for r in runs)))
        print('| ' + ' | '.join(cells) + ' |')


def wrk(port, seconds, conns=20):
    out = subprocess.run(harness.pin_prefix(harness.LOAD_CPU) +
                         ['wrk', '-t2', f'-c{conns}', f'-d{seconds}s',
                          f'http://127.0.0.1:{port}/1k.txt'],
                         capture_output=True, text=True, check=False).stdout
    m = re.search(r'Requests/sec:\s+([0-9.]+)', out)
    if m is None:
        raise SystemExit(f'wrk said: {out!r}')
    errors = re.search(r'Non-2xx or 3xx responses: ([0-9]+)', out)
    sock = re.search(r'Socket errors: (.*)', out)
    return float(m.group(1)), (errors.group(1) if errors else '0') + (
        f' ({sock.group(1)})' if sock else '')


def python_ini(args, tmp, name, port, mode, workers, handler, more=''):
    """A configuration of one python service; its path."""
    conf = os.path.join(tmp, f'{name}.ini')
    with open(conf, 'w') as f:
        f.write(f'[server]\npidfile = {tmp}/{name}.pid\n'
                f'error_log = {tmp}/{name}.log\n'
                f'module_path = {os.path.abspath(args.module_path)}\n'
                f'\n[{name}]\nmodule = python\n'
                f'listen = 127.0.0.1:{port}\nmode = {mode}\n'
                f'workers = {workers}\nhandler = pypeers:{handler}\n'
                f'python_path = {HERE}\n{more}')
    return conf


def http_rows(args, tmp):
    """The HTTP keep-alive table's rows: (name, requests/s, errors)."""
    with open(os.path.join(tmp, '1k.txt'), 'wb') as f:
        f.write(b'x' * 1024)
    runs = []
    for mode in ('prefork', 'threading'):
        port = free_port()
        # SimpleHTTPRequestHandler serves the working directory: the
        # confined workers must read it.
        conf = python_ini(args, tmp, f'http-{mode}', port, mode, 2,
                          'FileHandler', f'sandbox_read = {tmp}\n')
        runs.append((f'prefork python, mode = {mode}, 2 workers',
                     [os.path.abspath(args.prefork), '-f', '-c', conf], port))
    port = free_port()
    runs.append(('ThreadingHTTPServer', [PYTHON, os.path.join(
        HERE, 'pypeers.py'), 'http', str(port), tmp], port))
    rows = []
    for name, cmd, p in runs:
        # The handler serves its working directory, tmp, as the peer does.
        proc = subprocess.Popen(harness.pin_prefix(harness.SERVER_CPU) + cmd,
                                start_new_session=True, cwd=tmp,
                                stderr=subprocess.DEVNULL)
        try:
            wait_listening(p, proc)
            wait_serving(p, b'GET /1k.txt HTTP/1.0\r\n\r\n', b' 200 ')
            rows.append((name,) + wrk(p, args.seconds))
        finally:
            stop(proc)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--prefork', required=True)
    ap.add_argument('--module-path', required=True)
    ap.add_argument('--workers', type=int, default=4)
    ap.add_argument('--seconds', type=int, default=3)
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--pin', action='store_true',
                    help='servers on one CPU, the load on the other')
    args = ap.parse_args()
    harness.PINNED = args.pin and harness.plan_cpus()
    tmp = tempfile.mkdtemp(prefix='pf-pybench-')
    try:
        echoload = os.path.join(tmp, 'echoload')
        subprocess.run(['cc', '-O2', '-o', echoload,
                        os.path.join(HERE, 'echoload.c')], check=True)
        runs = []
        # mode = prefork: a process per held connection, as
        # ForkingTCPServer; mode = threading with one worker: a thread per
        # connection in one process, as ThreadingTCPServer.
        for mode, workers in (('prefork', args.workers), ('threading', 1)):
            port = free_port()
            conf = python_ini(args, tmp, f'echo-{mode}', port, mode, workers,
                              'EchoHandler')
            runs.append((f'prefork python, mode = {mode}, {workers} '
                         f'worker{"s" if workers > 1 else ""}',
                         [os.path.abspath(args.prefork), '-f', '-c', conf],
                         port))
        for kind, name in (('echo-forking', 'ForkingTCPServer'),
                           ('echo-threading', 'ThreadingTCPServer')):
            p = free_port()
            runs.append((name, [PYTHON, os.path.join(HERE, 'pypeers.py'),
                                kind, str(p)], p))
        procs = []
        try:
            for name, cmd, p in runs:
                # A socketserver peer prints a traceback for each connection
                # echoload leaves mid-message at the end of a run: not
                # errors.
                proc = subprocess.Popen(
                    harness.pin_prefix(harness.SERVER_CPU) + cmd,
                    start_new_session=True, cwd=tmp,
                    stderr=subprocess.DEVNULL)
                procs.append(proc)
                wait_listening(p, proc)
                wait_serving(p, b'ping', b'ping')
            rows = [(name, []) for name, _, _ in runs]
            for _ in range(args.rounds):
                for (name, _, p), proc, row in zip(runs, procs, rows):
                    row[1].append((measure(echoload, proc, p, args, False),
                                   measure(echoload, proc, p, args, True)))
        finally:
            for proc in procs:
                stop(proc)
        echo_table(rows, args)
        threads = dict(rows)
        print('\nprefork python, mode = threading ÷ ThreadingTCPServer, '
              'per round: held connections ' + spread(
                  [a[0][0] / b[0][0] for a, b in zip(rows[1][1], threads[
                      'ThreadingTCPServer'])], '{:.2f}') +
              ', a connection per echo ' + spread(
                  [a[1][0] / b[1][0] for a, b in zip(rows[1][1], threads[
                      'ThreadingTCPServer'])], '{:.2f}'))
        if shutil.which('wrk') is None:
            print('\n(wrk is not installed: no HTTP keep-alive table)')
            return 0
        hrows = http_rows(args, tmp)
        print(f'\n| server (HTTP/1.1 keep-alive, 1 KiB file, wrk -c20, '
              f'{args.seconds} s) | requests/s | prefork (mode = prefork) '
              f'/ this | errors |')
        print('| --- | --- | --- | --- |')
        for name, rate, errors in hrows:
            print(f'| {name} | {rate:.0f} | {hrows[0][1] / rate:.2f} '
                  f'| {errors} |')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
