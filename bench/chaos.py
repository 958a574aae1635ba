"""The chaos run: faults thrown at a serving prefork, each measured.

One prefork with an http, an echo and a udp_echo service, each on
127.0.0.1 and [::1] (where the machine has IPv6), serves a steady load from
this script's own clients for the whole run:

  http   keep-alive GETs of a 1 KiB file, a new connection every 50
         requests; a response counts when its status is 200 and its body
         is complete
  echo   connections of 10 round trips of 64 distinct bytes each
  udp    one datagram at a time, its echo awaited for 1 s

Then, one after another, each fault below is applied while the load goes
on, and for each the run prints the requests sent and failed and the
longest time in which some service answered nothing:

  baseline   no fault, 3 s
  hup        20 reloads 1 s apart, every other one changing `workers`
  kill9      20 `kill -9` of a random worker, 0.5 s apart; the requests
             in flight on it at that moment are counted beside the failures
  usr2       5 binary upgrades 1 s apart, each awaited until the new
             master owns the pidfile and the old one is gone
  ttin/ttou  50 TTIN 20 ms apart, then 50 TTOU
  stop/cont  the master stopped for 2 s (workers must keep serving)
  disk full  the logs' tmpfs filled to the last byte for 3 s (the logs
             reopened by USR1 meanwhile), then freed and reopened again;
             the access and error logs must grow again
  nofile     a reload to `rlimit_nofile = 64` and 200 idle connections to
             echo: echo's workers run out of descriptors, must not spin
             (their CPU is reported) and must serve again when the idle
             clients leave; a reload then restores the limit

A reused keep-alive connection that the server closed as the request went
out (no byte of a response came back) is retried once on a new
connection, as RFC 9112 section 9.3.1 allows for idempotent requests and
as browsers and HTTP libraries do; the retries are counted in their own
column and the retried request fails only if the retry fails too.

Everything runs on loopback with bounded counts; the whole run takes
about a minute.  The logs go to a 64 MiB tmpfs mounted by the run
(root only); without root the disk-full fault is skipped.

    python3 bench/chaos.py --prefork src/prefork \\
        --module-path src/modules/.libs [--json FILE] [--md FILE]
"""
import argparse
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BODY = bytes((i * 7 + 13) % 94 + 32 for i in range(1024))
TIMEOUT = 3.0


def now():
    return time.monotonic()


# --- the load ----------------------------------------------------------------

class Client(threading.Thread):
    """One load client: a loop of requests, each recorded as (end, ok)."""

    def __init__(self, proto, host, port, stop):
        super().__init__(daemon=True)
        self.proto, self.host, self.port, self.stop = proto, host, port, stop
        self.family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.events = []      # (monotonic end time, ok)
        self.retries = []     # monotonic times of keep-alive retries
        self.errors = {}      # error text -> count, for the report

    def record(self, ok, err=None):
        self.events.append((now(), ok))
        if err is not None:
            key = f'{self.proto}: {err}'
            self.errors[key] = self.errors.get(key, 0) + 1

    def connect(self):
        s = socket.socket(self.family, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        try:
            s.connect((self.host, self.port))
        except OSError:
            s.close()
            raise
        return s

    def run(self):
        getattr(self, 'run_' + self.proto)()

    # http: keep-alive, a fresh connection every 50 requests
    def run_http(self):
        req = (f'GET /chaos.txt HTTP/1.1\r\nHost: chaos\r\n\r\n').encode()
        sock, used = None, 0
        while not self.stop.is_set():
            for attempt in (0, 1):
                reused = sock is not None
                try:
                    if sock is None:
                        sock, used = self.connect(), 0
                    sock.sendall(req)
                    got, keep = http_response(sock)
                except (OSError, ValueError, IndexError) as e:
                    got, keep, err = None, False, e
                if got is not None:
                    break
                if sock is not None:
                    sock.close()
                sock = None
                # The server closed an idle keep-alive connection as the
                # request went out: retry once on a new one.
                if reused and attempt == 0 and isinstance(
                        err, (EmptyReply, ConnectionResetError,
                              BrokenPipeError)):
                    self.retries.append(now())
                    continue
                break
            if got == 200:
                self.record(True)
            else:
                self.record(False, type(err).__name__ if got is None
                            else f'status {got}')
            used += 1
            if sock is not None and (not keep or used >= 50):
                sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def run_echo(self):
        seq = 0
        while not self.stop.is_set():
            try:
                s = self.connect()
            except OSError as e:
                self.record(False, 'connect ' + type(e).__name__)
                continue
            try:
                for _ in range(10):
                    if self.stop.is_set():
                        break
                    seq += 1
                    msg = (b'%020d' % seq) * 3 + b'echo'
                    s.sendall(msg)
                    back = b''
                    while len(back) < len(msg):
                        b = s.recv(len(msg) - len(back))
                        if not b:
                            raise EmptyReply()
                        back += b
                    if back != msg:
                        self.record(False, 'mismatch')
                        break
                    self.record(True)
            except OSError as e:
                self.record(False, type(e).__name__)
            finally:
                s.close()

    def run_udp(self):
        s = socket.socket(self.family, socket.SOCK_DGRAM)
        s.connect((self.host, self.port))
        seq = 0
        while not self.stop.is_set():
            seq += 1
            msg = b'udp %d %d' % (id(self), seq)
            try:
                s.send(msg)
                deadline = now() + 1.0
                while True:
                    s.settimeout(max(0.001, deadline - now()))
                    if s.recv(2048) == msg:   # a late echo of an earlier one
                        self.record(True)     # is read and passed over
                        break
            except OSError as e:
                self.record(False, type(e).__name__)
        s.close()


class EmptyReply(OSError):
    """The connection closed before any byte of a response."""


def http_response(sock):
    """Read one response; return (status, keep-alive)."""
    buf = b''
    while b'\r\n\r\n' not in buf:
        b = sock.recv(65536)
        if not b:
            if buf:
                raise ConnectionError('closed inside the header')
            raise EmptyReply()
        buf += b
    head, _, rest = buf.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    status = int(lines[0].split()[1])
    length, keep = 0, True
    for line in lines[1:]:
        k, _, v = line.partition(b':')
        k = k.strip().lower()
        if k == b'content-length':
            length = int(v)
        elif k == b'connection' and v.strip().lower() == b'close':
            keep = False
    while len(rest) < length:
        b = sock.recv(65536)
        if not b:
            raise ConnectionError('closed inside the body')
        rest += b
    if status == 200 and rest[:length] != BODY:
        raise ConnectionError('wrong body')
    return status, keep


# --- the server --------------------------------------------------------------

class Server:
    def __init__(self, binary, modpath, v6):
        self.binary = os.path.abspath(binary)
        self.modpath = os.path.abspath(modpath)
        self.dir = tempfile.mkdtemp(prefix='chaos-')
        self.logs = os.path.join(self.dir, 'logs')
        os.mkdir(self.logs)
        self.tmpfs = False
        if os.geteuid() == 0:
            r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64m',
                                'chaos', self.logs], capture_output=True)
            self.tmpfs = r.returncode == 0
        www = os.path.join(self.dir, 'www')
        os.mkdir(www)
        with open(os.path.join(www, 'chaos.txt'), 'wb') as f:
            f.write(BODY)
        self.hosts = ['127.0.0.1'] + (['::1'] if v6 else [])
        self.ports = {p: free_port(t) for p, t in
                      (('http', socket.SOCK_STREAM),
                       ('echo', socket.SOCK_STREAM),
                       ('udp', socket.SOCK_DGRAM))}
        self.pidfile = os.path.join(self.dir, 'prefork.pid')
        self.conf = os.path.join(self.dir, 'chaos.ini')
        self.write_conf(workers=2)
        self.proc = None

    def listen(self, proto):
        scheme = 'udp' if proto == 'udp' else 'tcp'
        return ', '.join(f'{scheme}://{h if ":" not in h else "[" + h + "]"}'
                         f':{self.ports[proto]}' for h in self.hosts)

    def write_conf(self, workers, nofile=4096):
        text = f"""[server]
pidfile = {self.pidfile}
error_log = {self.logs}/error.log
module_path = {self.modpath}
shutdown_timeout = 5s
rlimit_nofile = {nofile}
[http]
module = http
listen = {self.listen('http')}
workers = {workers}
root = {self.dir}/www
access_log = {self.logs}/access.log
[echo]
module = echo
listen = {self.listen('echo')}
workers = {workers}
[udp_echo]
module = udp_echo
listen = {self.listen('udp')}
workers = {workers}
"""
        tmp = self.conf + '.new'
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, self.conf)

    def start(self):
        self.proc = subprocess.Popen([self.binary, '-c', self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_for(lambda: self.master() is not None, 10):
            raise SystemExit('chaos: prefork did not start; see '
                             + self.logs + '/error.log')
        wait_for(lambda: len(self.workers()) >= 6, 10)

    def master(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def signal(self, sig):
        pid = self.master()
        if pid is not None:
            os.kill(pid, sig)
        return pid

    def status(self):
        r = subprocess.run([self.binary, '-c', self.conf, '-s', 'status'],
                           capture_output=True, text=True, timeout=10)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def workers(self):
        """{pid: (service, open connections)} from the scoreboard."""
        st = self.status()
        out = {}
        for svc in (st or {}).get('services', []):
            for w in svc.get('workers', []):
                out[w['pid']] = (svc['name'], w.get('open_conns') or 0)
        return out

    def stop(self):
        pid = self.signal(signal.SIGTERM)
        if pid is not None:
            wait_for(lambda: not alive(pid), 10)
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def cleanup(self):
        if self.tmpfs:
            subprocess.run(['umount', '-l', self.logs])
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # a zombie of ours is gone for this purpose
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def wait_for(cond, seconds):
    end = now() + seconds
    while now() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def reap_orphans():
    """Upgraded masters are reparented here (we are a subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(('::1', 0))
        s.close()
        return True
    except OSError:
        return False


def cpu_ticks(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


# --- the faults --------------------------------------------------------------

def fault_baseline(srv, note):
    time.sleep(3)
    return '3 s of load'


def fault_hup(srv, note):
    bad = 0
    for i in range(20):
        if i % 2 == 1:
            srv.write_conf(workers=3 if i % 4 == 1 else 2)
        srv.signal(signal.SIGHUP)
        time.sleep(1)
    srv.write_conf(workers=2)
    srv.signal(signal.SIGHUP)
    note['settled'] = wait_for(lambda: len(srv.workers()) == 6, 10)
    return '20 reloads; workers 2 -> 3 -> 2 on every other one'


def fault_kill9(srv, note):
    inflight = 0
    for _ in range(20):
        ws = srv.workers()
        if not ws:
            time.sleep(0.5)
            continue
        pid = random.choice(sorted(ws))
        inflight += ws[pid][1]
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(0.5)
    settled = wait_for(lambda: len(srv.workers()) == 6, 10)
    time.sleep(1)
    note['inflight'] = inflight
    note['settled'] = settled
    back = 'pool back to 6' if settled else 'POOL DID NOT SETTLE'
    return f'20 kills; {inflight} connections open on them; {back}'


def fault_usr2(srv, note):
    done, longest = 0, 0.0
    for _ in range(5):
        old = srv.master()
        t = now()
        os.kill(old, signal.SIGUSR2)
        ok = wait_for(lambda: not alive(old) and srv.master() not in
                      (None, old), 30)
        longest = max(longest, now() - t)
        reap_orphans()
        if not ok:
            break
        wait_for(lambda: len(srv.workers()) == 6, 10)
        done += 1
        time.sleep(1)
    note['settled'] = done == 5
    return (f'{done} of 5 upgrades 1 s apart completed, each old master '
            f'gone within {longest * 1000:.0f} ms')


def fault_ttin(srv, note):
    for _ in range(50):
        srv.signal(signal.SIGTTIN)
        time.sleep(0.02)
    wait_for(lambda: len(srv.workers()) >= 6 + 3 * 40, 20)
    peak = len(srv.workers())
    for _ in range(50):
        srv.signal(signal.SIGTTOU)
        time.sleep(0.02)
    settled = wait_for(lambda: len(srv.workers()) <= 6, 20)
    note['settled'] = settled
    time.sleep(1)
    return (f'50 TTIN (pool peak {peak}), 50 TTOU (pool '
            f'{len(srv.workers())}{"" if settled else ", NOT SETTLED"})')


def fault_stop(srv, note):
    pid = srv.signal(signal.SIGSTOP)
    time.sleep(2)
    os.kill(pid, signal.SIGCONT)
    time.sleep(1)
    return 'master stopped 2 s'


def fault_disk(srv, note):
    if not srv.tmpfs:
        note['skipped'] = True
        return 'skipped: needs root to mount a tmpfs'
    access = os.path.join(srv.logs, 'access.log')
    fill = os.path.join(srv.logs, 'filler')
    with open(fill, 'wb') as f:
        try:
            while True:
                f.write(b'\0' * 65536)
                f.flush()
        except OSError:
            pass
    errlog = os.path.join(srv.logs, 'error.log')
    full_at = os.path.getsize(access)
    time.sleep(1.5)
    srv.signal(signal.SIGUSR1)   # a log rotation while the disk is full
    time.sleep(1.5)
    grew_full = os.path.getsize(access) - full_at
    os.unlink(fill)
    freed_at, err_at = os.path.getsize(access), os.path.getsize(errlog)
    srv.signal(signal.SIGUSR1)
    time.sleep(2)
    grew = os.path.getsize(access) - freed_at
    err_grew = os.path.getsize(errlog) - err_at
    alive_ok = srv.master() is not None and len(srv.workers()) == 6
    note['log_resumed'] = grew > 0 and err_grew > 0
    note['settled'] = note['log_resumed'] and alive_ok
    return (f'full 3 s with a USR1 reopen (access log +{grew_full} B), '
            f'freed 2 s with another (access log +{grew} B, error log '
            f'+{err_grew} B{"" if note["log_resumed"] else ", DID NOT RESUME"}'
            f'){"" if alive_ok else ", WORKERS LOST"}')


def fault_nofile(srv, note):
    srv.write_conf(workers=2, nofile=64)
    srv.signal(signal.SIGHUP)
    time.sleep(2)
    echo = [p for p, (s, _) in srv.workers().items() if s == 'echo']
    idle = []
    for i in range(200):
        try:
            s = socket.create_connection(('127.0.0.1', srv.ports['echo']), 2)
            idle.append(s)
        except OSError:
            break
    time.sleep(0.5)
    t0 = [cpu_ticks(p) for p in echo]
    time.sleep(2)
    t1 = [cpu_ticks(p) for p in echo]
    hz = os.sysconf('SC_CLK_TCK')
    cpu = max(((b - a) * 100.0 / hz / 2 for a, b in zip(t0, t1)), default=0)
    note['freed_at'] = now()
    for s in idle:
        s.close()
    time.sleep(2)
    srv.write_conf(workers=2)
    srv.signal(signal.SIGHUP)
    time.sleep(2)
    note['cpu'] = cpu
    return (f'{len(idle)} idle echo clients at rlimit_nofile = 64: echo '
            f'workers at most {cpu:.0f}% CPU; 4 s after they left')


FAULTS = [
    ('baseline', fault_baseline),
    ('hup', fault_hup),
    ('kill9', fault_kill9),
    ('usr2', fault_usr2),
    ('ttin/ttou', fault_ttin),
    ('stop/cont', fault_stop),
    ('disk full', fault_disk),
    ('nofile', fault_nofile),
]


def measure(clients, t0, t1, protos=None):
    sent = failed = 0
    gap, gap_proto = 0.0, ''
    ok_times = {}
    for c in clients:
        if protos is not None and c.proto not in protos:
            continue
        for t, ok in c.events:
            if t0 <= t < t1:
                sent += 1
                failed += not ok
                if ok:
                    ok_times.setdefault(c.proto, []).append(t)
    for proto, ts in ok_times.items():
        ts = [t0] + sorted(ts) + [t1]
        g = max(b - a for a, b in zip(ts, ts[1:]))
        if g > gap:
            gap, gap_proto = g, proto
    retried = sum(1 for c in clients for t in c.retries if t0 <= t < t1)
    return sent, failed, retried, gap, gap_proto


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--prefork', default='src/prefork')
    ap.add_argument('--module-path', default='src/modules/.libs')
    ap.add_argument('--json', help='write the results here')
    ap.add_argument('--md', help='write the table here (markdown)')
    ap.add_argument('--only', help='comma-separated faults to run')
    args = ap.parse_args()

    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    random.seed(12)
    v6 = have_ipv6()
    srv = Server(args.prefork, args.module_path, v6)
    stop = threading.Event()
    clients = []
    rows = []
    try:
        srv.start()
        for proto in ('http', 'echo', 'udp'):
            for host in srv.hosts:
                for _ in range(2):
                    clients.append(Client(proto, host, srv.ports[proto], stop))
        for c in clients:
            c.start()
        time.sleep(1)
        faults = FAULTS
        if args.only:
            want = args.only.split(',')
            faults = [f for f in FAULTS if f[0] in want]
        for name, fn in faults:
            note = {}
            t0 = now()
            what = fn(srv, note)
            t1 = now()
            sent, failed, retried, gap, gproto = measure(clients, t0, t1)
            row = dict(fault=name, what=what, sent=sent, failed=failed,
                       retried=retried, gap_ms=round(gap * 1000),
                       gap_proto=gproto, seconds=round(t1 - t0, 1), **note)
            if 'freed_at' in note:   # nofile: after the idle clients left
                s2, f2, _, g2, p2 = measure(clients, note['freed_at'] + 1, t1)
                row.update(after_sent=s2, after_failed=f2)
                row.pop('freed_at')
            rows.append(row)
            print(f'{name:10s} sent {sent:7d} failed {failed:5d} retried '
                  f'{retried:4d} longest gap {gap * 1000:6.0f} ms ({gproto})'
                  f'  {what}', flush=True)
    finally:
        stop.set()
        for c in clients:
            c.join(TIMEOUT + 2)
        errlog = os.path.join(srv.logs, 'error.log')
        respawn_loop = False
        try:
            with open(errlog, errors='replace') as f:
                text = f.read()
            respawn_loop = 'backing off' in text or 'back-off' in text
        except OSError:
            pass
        srv.stop()
        reap_orphans()
        errors = {}
        for c in clients:
            for k, v in c.errors.items():
                errors[k] = errors.get(k, 0) + v
        srv.cleanup()
    print('respawn back-off logged:', 'yes' if respawn_loop else 'no')
    if errors:
        print('failures by kind:', ', '.join(f'{k} {v}' for k, v in
                                               sorted(errors.items())))
    result = dict(ipv6=v6, clients=len(clients), rows=rows,
                  respawn_backoff=respawn_loop, errors=errors)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    if args.md:
        with open(args.md, 'w') as f:
            f.write(markdown(result))
    bad = [r for r in rows if r['failed'] > r.get('inflight', 0)
           and r['fault'] != 'nofile']
    bad += [r for r in rows if r.get('settled') is False]
    bad += [r for r in rows if r['fault'] == 'nofile'
            and (r.get('after_failed') or r.get('cpu', 0) >= 50)]
    return 1 if bad or respawn_loop else 0


def markdown(result):
    out = ['| fault | what was done | requests | failed | retried | '
           'longest gap |', '| --- | --- | ---: | ---: | ---: | ---: |']
    for r in result['rows']:
        failed = str(r['failed'])
        if 'inflight' in r:
            failed += f' ({r["inflight"]} in flight on the killed workers)'
        if 'after_failed' in r:
            failed += (f' during the exhaustion; {r["after_failed"]} of '
                       f'{r["after_sent"]} after')
        out.append(f'| {r["fault"]} | {r["what"]} | {r["sent"]} | {failed} | '
                   f'{r["retried"]} | {r["gap_ms"]} ms ({r["gap_proto"]}) |')
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    sys.exit(main())
