"""prefork's benchmark harness: prefork against its peers, per core.

What it measures, on 127.0.0.1 only, with every server pinned to CPU 0 and
every load generator (and this script) pinned to CPU 1, so the table
compares work per core:

  (a) HTTP GET of a 1 KiB file, keep-alive, 50 connections    (wrk)
  (b) the same with "Connection: close"                       (wrk)
  (c) a 64 KiB file and (d) a 1 MiB file, keep-alive          (wrk)
  (e) TCP echo of 64-byte messages over 50 connections        (echoload)
  (f) UDP echo of 64-byte datagrams, 16 sockets x 4 in flight  (echoload -u)
  (g) idle memory of a worker: Pss and private (smaps_rollup), with every
      server that has workers started again with MEMORY_WORKERS of them
  (h) prefork only: kill -9 of a worker until its replacement echoes (ms)
  (i) requests/s against connections (1..256) for prefork and the best
      HTTP peer of (a), plotted into results/rps-vs-conns.png

Peers, one worker process each: nginx, lighttpd, Apache httpd (prefork
MPM, which needs one process per connection: see README.md), Python's
http.server.ThreadingHTTPServer, socketserver.ThreadingTCPServer,
ForkingTCPServer and ThreadingUDPServer (bench/pypeers.py), and a ceiling,
bench/ceiling.c, which answers without parsing anything.  Rounds are
interleaved (every server once per round, the same order each round) and
each server's CPU time (utime+stime of the master and all its processes,
from /proc) is read before and after every run, to give CPU per request.

Run it from a built tree (as root, it installs missing Debian packages):

    make bench                # or: python3 bench/run.py
    python3 bench/run.py --rounds 5 --seconds 5   # longer, steadier
    python3 bench/run.py --quick                  # 1 round of 1 s: smoke test

It prints a Markdown table and writes results/latest.md, results/latest.json
and results/rps-vs-conns.png.  See bench/README.md for the method and how to
read the table.  Only the standard library is used.
"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SERVER_CPU, LOAD_CPU = 0, 1
CLK_TCK = os.sysconf('SC_CLK_TCK')
FILES = {'1k.bin': 1024, '64k.bin': 64 * 1024, '1m.bin': 1024 * 1024}
APACHE_PROCESSES = 64
MEMORY_WORKERS = 8  # (g): the same number of workers for every server
CURVE_CONNS = [1, 2, 4, 8, 16, 32, 64, 128, 256]
CURVE_SECONDS = 2
WARMUP_SECONDS = 1
RESPAWN_REPEATS = 5
DISTURBED = 12  # a CPU busier than our processes on it by this: company
MAX_REPEATS = 15  # disturbed runs measured again, at most, per benchmark

# (binary that proves it is there, Debian package that provides it)
PACKAGES = [
    ('/usr/bin/wrk', 'wrk'),
    ('/usr/sbin/nginx', 'nginx-light'),
    ('/usr/sbin/lighttpd', 'lighttpd'),
    ('/usr/sbin/apache2', 'apache2'),
    ('/usr/bin/gnuplot', 'gnuplot-nox'),
]

SCENARIOS = [
    {'id': 'a', 'title': 'HTTP GET 1 KiB, keep-alive, 50 connections',
     'tool': 'wrk', 'port': 'http', 'file': '1k.bin', 'conns': 50},
    {'id': 'b', 'title': 'HTTP GET 1 KiB, Connection: close, 50 connections',
     'tool': 'wrk', 'port': 'http_close', 'file': '1k.bin', 'conns': 50,
     'close': True},
    {'id': 'c', 'title': 'HTTP GET 64 KiB, keep-alive, 50 connections',
     'tool': 'wrk', 'port': 'http', 'file': '64k.bin', 'conns': 50},
    {'id': 'd', 'title': 'HTTP GET 1 MiB, keep-alive, 50 connections',
     'tool': 'wrk', 'port': 'http', 'file': '1m.bin', 'conns': 50},
    {'id': 'e', 'title': 'TCP echo, 64-byte messages, 50 connections',
     'tool': 'echo', 'port': 'echo', 'conns': 50},
    {'id': 'f',
     'title': 'UDP echo, 64-byte datagrams, 16 sockets x 4 in flight',
     'tool': 'udp', 'port': 'udp', 'conns': 16, 'window': 4},
]


class Skip(Exception):
    """A peer or a step that cannot run here; said in one line, not fatal."""


def say(msg):
    print(f'bench: {msg}', file=sys.stderr, flush=True)


def skipped(msg):
    """Says what is left out, and keeps it for the top of the report."""
    SKIPPED.append(msg)
    say(f'skipped: {msg}')


def sh(argv, timeout=30, **kw):
    """Runs a short command; returns (status, stdout + stderr)."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, **kw)
        return p.returncode, p.stdout + p.stderr
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, str(e)


# ---- the machine --------------------------------------------------------

def pin_prefix(cpu):
    return ['taskset', '-c', str(cpu)] if PINNED else []


def plan_cpus():
    """Pins this script to the load CPU; False where there is only one."""
    cpus = os.sched_getaffinity(0)
    if SERVER_CPU in cpus and LOAD_CPU in cpus and shutil.which('taskset'):
        os.sched_setaffinity(0, {LOAD_CPU})
        return True
    say('fewer than two CPUs (or no taskset): nothing is pinned')
    return False


def cpu_model():
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return platform.processor() or 'unknown'


def first_line(argv, pattern=None):
    """The first output line of a version command (matching pattern)."""
    status, out = sh(argv)
    if status == -1:
        return 'not found'
    for line in out.splitlines():
        if line.strip() and (pattern is None or re.search(pattern, line)):
            return line.strip()
    return 'unknown'


def machine(args):
    _, commit = sh(['git', '-C', TOP, 'describe', '--always', '--dirty'])
    prefork = first_line([args.prefork, '-V']) + f' ({commit.strip()})'
    busy, hogs = background_load()
    background = ', '.join(f'CPU{c} {b:.0f}% busy'
                           for c, b in sorted(busy.items()))
    if hogs:
        background += ' (' + ', '.join(hogs) + ': the numbers below are noisy)'
        say(f'the machine is not idle: {background}')
    return {
        'background': background,
        'nproc': os.cpu_count(),
        'cpu': cpu_model(),
        'kernel': f'{platform.system()} {platform.release()}',
        'os': first_line(['sh', '-c', '. /etc/os-release; echo $PRETTY_NAME']),
        'pinned': f'servers on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}'
                  if PINNED else 'not pinned',
        'versions': {
            'prefork': prefork,
            'nginx': first_line(['nginx', '-v'], 'version'),
            'lighttpd': first_line(['lighttpd', '-v']),
            'apache2': first_line(['apache2', '-v'], 'version'),
            'python': 'Python ' + platform.python_version(),
            'wrk': first_line(['wrk', '-v'], 'wrk'),
            'cc': first_line(['cc', '--version']),
        },
    }


# ---- packages and helpers -----------------------------------------------

def dpkg_installed(package):
    status, out = sh(['dpkg-query', '-W', '-f=${Status}', package])
    return status == 0 and out.startswith('install ok installed')


def apt_install(packages):
    """apt-get install without starting the packages' system services."""
    policy = '/usr/sbin/policy-rc.d'
    made_policy = not os.path.exists(policy)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    try:
        if made_policy:
            with open(policy, 'w') as f:
                f.write('#!/bin/sh\n# bench/run.py: start no service\n'
                        'exit 101\n')
            os.chmod(policy, 0o755)
        sh(['apt-get', 'update'], timeout=300, env=env)
        status, _ = sh(['apt-get', 'install', '-y', '--no-install-recommends']
                       + packages, timeout=600, env=env)
        if status != 0:  # one that does not exist must not stop the others
            for p in packages:
                sh(['apt-get', 'install', '-y', '--no-install-recommends', p],
                   timeout=300, env=env)
    finally:
        if made_policy:
            os.unlink(policy)


def ensure_packages(allow_install):
    missing = [pkg for binary, pkg in PACKAGES
               if not os.path.exists(binary) and not dpkg_installed(pkg)]
    if not missing:
        return
    if not allow_install or os.geteuid() != 0:
        skipped(f'not installing {" ".join(missing)} (--no-install, or '
                'not root): what needs them is left out')
        return
    say(f'installing {" ".join(missing)}')
    apt_install(missing)
    for binary, pkg in PACKAGES:
        if pkg in missing and not os.path.exists(binary):
            skipped(f'{pkg} could not be installed')


def build_helpers(work):
    """Compiles ceiling.c and echoload.c; returns {name: path or None}."""
    built, bindir = {}, os.path.join(work, 'bin')
    os.mkdir(bindir)
    for name in ('ceiling', 'echoload'):
        out = os.path.join(bindir, name)
        status, msg = sh(['cc', '-O2', '-Wall', '-o', out,
                          os.path.join(HERE, name + '.c')], timeout=120)
        built[name] = out if status == 0 else None
        if status != 0:
            skipped(f'cannot build {name}.c: {msg.strip()[-300:]}')
    return built


def make_docroot(work):
    root = os.path.join(work, 'www')
    os.mkdir(root)
    pattern = bytes(range(32, 127))
    for name, size in FILES.items():
        with open(os.path.join(root, name), 'wb') as f:
            f.write((pattern * (size // len(pattern) + 1))[:size])
        os.chmod(os.path.join(root, name), 0o644)
    os.chmod(root, 0o755)
    return root


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1."""
    while True:
        with socket.socket() as t:
            t.bind(('127.0.0.1', 0))
            port = t.getsockname()[1]
            with socket.socket(type=socket.SOCK_DGRAM) as u:
                try:
                    u.bind(('127.0.0.1', port))
                    return port
                except OSError:
                    continue


# ---- processes -----------------------------------------------------------

def proc_stat(pid):
    """(ppid, cpu ticks incl. reaped children) of pid, or None if gone."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def process_tree(root):
    """root and all its descendants, root first."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            st = proc_stat(entry)
            if st:
                children.setdefault(st[0], []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        tree.append(pid)
        todo.extend(sorted(children.get(pid, [])))
    return tree


def tree_cpu_seconds(root):
    """utime+stime (+ those of reaped children) summed over the tree."""
    ticks = 0
    for pid in reversed(process_tree(root)):  # children before their parent
        st = proc_stat(pid)
        ticks += st[1] if st else 0
    return ticks / CLK_TCK


def cpu_ticks():
    """{cpu number: (busy ticks, total ticks)} from /proc/stat."""
    ticks = {}
    with open('/proc/stat') as f:
        for line in f:
            name, *vals = line.split()
            if name.startswith('cpu') and name[3:].isdigit():
                v = [int(x) for x in vals[:8]]
                ticks[int(name[3:])] = (sum(v) - v[3] - v[4], sum(v))
    return ticks


def busy_pct(before, after):
    """{cpu: % busy} between two cpu_ticks() samples."""
    return {c: 100 * (after[c][0] - before[c][0])
            / max(1, after[c][1] - before[c][1]) for c in after}


def background_load(seconds=1.0):
    """How busy each CPU is before we start, and who keeps it busy."""
    procs0, t0 = cpu_by_process(), cpu_ticks()
    time.sleep(seconds)
    procs1, busy = cpu_by_process(), busy_pct(t0, cpu_ticks())
    hogs = sorted(((procs1[p][1] - procs0[p][1]) / CLK_TCK / seconds * 100,
                   procs1[p][0]) for p in procs1 if p in procs0)
    return busy, [f'{name} {pct:.0f}%' for pct, name in reversed(hogs)
                  if pct >= 10]


def cpu_by_process():
    """{pid: (command name, utime+stime ticks)} of every process."""
    out = {}
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/stat') as f:
                head, tail = f.read().rsplit(')', 1)
            fields = tail.split()
            out[entry] = (head.split('(', 1)[1],
                          int(fields[11]) + int(fields[12]))
        except (OSError, IndexError, ValueError):
            pass
    return out


def smaps(pid):
    """Memory of one process in KiB: Rss, Pss, Private (clean + dirty), and
    Private_Dirty + Swap (what prefork's max_worker_memory counts)."""
    m = {}
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                m[parts[0].rstrip(':')] = int(parts[1])
    private = m.get('Private_Clean', 0) + m.get('Private_Dirty', 0)
    return {'rss_kib': m.get('Rss', 0), 'pss_kib': m.get('Pss', 0),
            'private_kib': private,
            'dirty_swap_kib': m.get('Private_Dirty', 0) + m.get('Swap', 0)}


def listen_inode(port):
    with open('/proc/net/tcp') as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == '0A' and int(fields[1].split(':')[1], 16) == port:
                return fields[9]
    return None


def holds_socket(pid, inode):
    try:
        fds = os.listdir(f'/proc/{pid}/fd')
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f'/proc/{pid}/fd/{fd}') == f'socket:[{inode}]':
                return True
        except OSError:
            pass
    return False


# ---- servers -------------------------------------------------------------

class Server:
    """A server under test: its command, its ports, its process tree."""

    def __init__(self, name, argv, ports, workdir, files=tuple(FILES)):
        self.name, self.argv, self.ports = name, argv, ports
        self.workdir, self.files = workdir, files
        self.proc = None
        self.log = os.path.join(workdir, 'server.log')

    def start(self):
        with open(self.log, 'wb') as log:
            self.proc = subprocess.Popen(
                pin_prefix(SERVER_CPU) + self.argv, cwd=self.workdir,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        if not self.wait_ready(time.monotonic() + 10):
            self.stop()
            raise Skip(f'{self.name} did not start: {self.log_tail()}')

    def log_tail(self):
        """The end of what the server said, on stderr or in its error log."""
        text = ''
        for name in (self.log, os.path.join(self.workdir, 'error.log')):
            if os.path.exists(name):
                with open(name, errors='replace') as f:
                    text += f.read()
        return ' '.join(text.split())[-400:] or '(nothing logged)'

    def wait_ready(self, deadline):
        todo = set(self.ports.items())
        while todo and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            todo = {(k, p) for k, p in todo if not port_answers(k, p)}
            if todo:
                time.sleep(0.05)
        return not todo

    def supports(self, scenario):
        return (scenario['port'] in self.ports
                and scenario.get('file', '1k.bin') in self.files)

    def cpu_seconds(self):
        return tree_cpu_seconds(self.proc.pid)

    def settle(self, procs, limit=2.0):
        """Waits until the children forked for the run have exited and been
        reaped, so that their CPU time, the end of their lives included, is
        in the master's cutime and cstime."""
        deadline = time.monotonic() + limit
        while (len(process_tree(self.proc.pid)) > procs
               and time.monotonic() < deadline):
            time.sleep(0.05)

    def workers(self):
        """The children holding the main listener."""
        tree = process_tree(self.proc.pid)
        port = self.ports.get('http') or self.ports.get('echo')
        inode = listen_inode(port) if port else None
        return [p for p in tree[1:] if inode is None or holds_socket(p, inode)]

    def stop(self):
        """TERM, then KILL, to the server's process group and descendants."""
        if self.proc is None:
            return
        alive = self.proc.poll() is None
        kids = process_tree(self.proc.pid) if alive else []
        pids = [-self.proc.pid] + kids
        for sig in (signal.SIGTERM, signal.SIGKILL):  # KILL: stragglers
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass


def port_answers(kind, port):
    if kind == 'udp':
        with socket.socket(type=socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(b'ping', ('127.0.0.1', port))
                return s.recv(64) == b'ping'
            except OSError:
                return False
    try:
        socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
        return True
    except OSError:
        return False


def subdir(work, name):
    """A server's own directory, writable after it drops to www-data."""
    d = os.path.join(work, name)
    os.mkdir(d)
    os.chmod(d, 0o777)
    return d


def prefork_ini(d, module_path, services, workers=1):
    """A prefork configuration; services: [(name, keys)]."""
    lines = ['[server]', f'workers = {workers}', 'pidfile = prefork.pid',
             'error_log = stderr', 'log_level = warn',
             f'module_path = {module_path}']
    for name, keys in services:
        lines += ['', f'[{name}]'] + [f'{k} = {v}' for k, v in keys.items()]
    path = os.path.join(d, 'prefork.ini')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def peer_prefork(ctx, name='prefork', binary='prefork',
                 module_path='module_path', keys='keys'):
    d = subdir(ctx['work'], name)
    http, echo = free_port(), free_port()
    services = [
        ('http', {'module': 'http', 'listen': f'127.0.0.1:{http}',
                  'root': ctx['root'], 'keepalive_timeout': '65s',
                  'file_cache_valid': '1s', 'defer_accept': '10s'}),
        ('echo', {'module': 'echo', 'listen': f'127.0.0.1:{echo}'}),
        ('udp', {'module': 'udp_echo', 'listen': f'udp://127.0.0.1:{echo}'}),
    ]
    for _, svc in services:  # --keys, --baseline-keys: in every service
        svc.update(ctx.get(keys) or {})
    ports = {'http': http, 'http_close': http, 'echo': echo, 'udp': echo}
    if ctx.get('workers'):  # (g): the http service alone, as the peers
        services = services[:1]
        ports = {'http': http, 'http_close': http}
    ini = prefork_ini(d, ctx[module_path], services,
                      ctx.get('workers') or 1)
    return Server(name, [ctx[binary], '-f', '-c', ini], ports, d)


def peer_baseline(ctx):
    """--baseline: another build of prefork (say, main before a change),
    configured the same, so that its rounds interleave with prefork's."""
    if not ctx.get('baseline'):
        raise Skip('no --baseline')
    return peer_prefork(ctx, 'prefork-base', 'baseline',
                        'baseline_module_path', 'baseline_keys')


def peer_nginx(ctx):
    if not shutil.which('nginx'):
        raise Skip('nginx is not installed')
    d = subdir(ctx['work'], 'nginx')
    port = free_port()
    temps = ' '.join(f'{t}_temp_path {d}/{t};' for t in
                     ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
    user = 'user www-data;' if os.geteuid() == 0 else ''
    conf = f"""{user}
worker_processes {ctx.get('workers') or 1};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;  # as Debian's nginx.conf
    tcp_nodelay on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_requests 10000000;
    keepalive_timeout 65s;
    default_type application/octet-stream;
    {temps}
    server {{
        listen 127.0.0.1:{port} backlog=511 deferred;
        root {ctx['root']};
    }}
}}
"""
    write(d, 'nginx.conf', conf)
    ports = {'http': port, 'http_close': port}
    return Server('nginx', ['nginx', '-p', d, '-e', f'{d}/error.log', '-c',
                            f'{d}/nginx.conf'], ports, d)


def peer_lighttpd(ctx):
    if not shutil.which('lighttpd'):
        raise Skip('lighttpd is not installed')
    d = subdir(ctx['work'], 'lighttpd')
    port = free_port()
    user = ('server.username = "www-data"\nserver.groupname = "www-data"\n'
            if os.geteuid() == 0 else '')
    conf = f"""{user}server.document-root = "{ctx['root']}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{d}/error.log"
server.max-worker = {ctx.get('workers') or 0}
server.max-connections = 1024
server.listen-backlog = 511
server.defer-accept = 10
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 65
server.network-backend = "sendfile"
mimetype.assign = (".bin" => "application/octet-stream")
"""
    write(d, 'lighttpd.conf', conf)
    ports = {'http': port, 'http_close': port}
    return Server('lighttpd', ['lighttpd', '-D', '-f', f'{d}/lighttpd.conf'],
                  ports, d)


def peer_apache(ctx):
    mods = '/usr/lib/apache2/modules'
    if not shutil.which('apache2') or not os.path.exists(
            f'{mods}/mod_mpm_prefork.so'):
        raise Skip('apache2 (with mod_mpm_prefork) is not installed')
    d = subdir(ctx['work'], 'apache2')
    port = free_port()
    n = ctx.get('workers') or APACHE_PROCESSES
    user = 'User www-data\nGroup www-data\n' if os.geteuid() == 0 else ''
    conf = f"""ServerRoot {d}
ServerName 127.0.0.1
DefaultRuntimeDir {d}
PidFile {d}/apache2.pid
ErrorLog {d}/error.log
LogLevel warn
LoadModule mpm_prefork_module {mods}/mod_mpm_prefork.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule mime_module {mods}/mod_mime.so
TypesConfig /etc/mime.types
{user}Listen 127.0.0.1:{port}
ListenBacklog 511
StartServers {n}
MinSpareServers {n}
MaxSpareServers {n}
ServerLimit {n}
MaxRequestWorkers {n}
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 65
EnableSendfile On
EnableMMAP On
AddType application/octet-stream .bin
DocumentRoot "{ctx['root']}"
<Directory "{ctx['root']}">
    Require all granted
    AllowOverride None
</Directory>
"""
    write(d, 'apache2.conf', conf)
    ports = {'http': port, 'http_close': port}
    return Server('apache2', ['apache2', '-f', f'{d}/apache2.conf',
                              '-DFOREGROUND'], ports, d)


def peer_python(ctx, kind, name, port_keys):
    d = subdir(ctx['work'], name)
    port = free_port()
    argv = [sys.executable, os.path.join(HERE, 'pypeers.py'), kind, str(port),
            ctx['root']]
    return Server(name, argv, {k: port for k in port_keys}, d)


def peer_ceiling(ctx):
    if not ctx['helpers'].get('ceiling'):
        raise Skip('ceiling.c did not build')
    d = subdir(ctx['work'], 'ceiling')
    http, close, echo = free_port(), free_port(), free_port()
    ports = {'http': http, 'http_close': close, 'echo': echo, 'udp': echo}
    return Server('ceiling', [ctx['helpers']['ceiling'], str(http), str(close),
                              str(echo)], ports, d, files=('1k.bin',))


def write(d, name, text):
    with open(os.path.join(d, name), 'w') as f:
        f.write(text)


PEERS = [
    peer_prefork, peer_baseline, peer_nginx, peer_lighttpd, peer_apache,
    lambda c: peer_python(c, 'http', 'py-http', ('http', 'http_close')),
    lambda c: peer_python(c, 'echo-threading', 'py-threading', ('echo',)),
    lambda c: peer_python(c, 'echo-forking', 'py-forking', ('echo',)),
    lambda c: peer_python(c, 'udp-threading', 'py-udp', ('udp',)),
    peer_ceiling,
]


def start_servers(ctx, servers, wanted):
    """Starts every peer it can (of those wanted, when some are named) into
    servers, which the caller stops."""
    named = set()
    for make in PEERS:
        try:
            server = make(ctx)
        except Skip as e:
            if make is not peer_baseline:
                skipped(str(e))
            continue
        named.add(server.name)
        if wanted and server.name not in wanted | {'prefork',
                                                   'prefork-base'}:
            continue
        servers.append(server)  # listed before it starts, so always stopped
        try:
            server.start()
        except Skip as e:
            servers.remove(server)  # start() has stopped it
            skipped(str(e))
    unknown = ', '.join(sorted(wanted - named))
    if unknown:
        skipped(f'--servers: no server named {unknown}')


# ---- load generators -----------------------------------------------------

def to_ms(value, unit):
    return float(value) * {'us': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 6e4}[unit]


def parse_wrk(out):
    rate = re.search(r'Requests/sec:\s+([\d.]+)', out)
    reqs = re.search(r'(\d+) requests in', out)
    p50 = re.search(r'50%\s+([\d.]+)(us|ms|s|m)\b', out)
    p99 = re.search(r'99%\s+([\d.]+)(us|ms|s|m)\b', out)
    sock = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), '
                     r'timeout (\d+)', out)
    bad = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    if not rate or not reqs:
        raise Skip(f'wrk said: {out.strip()[-300:]}')
    return {'rate': float(rate.group(1)), 'requests': int(reqs.group(1)),
            'p50_ms': to_ms(*p50.groups()) if p50 else None,
            'p99_ms': to_ms(*p99.groups()) if p99 else None,
            'errors': sum(map(int, sock.groups())) if sock else 0,
            'non2xx': int(bad.group(1)) if bad else 0, 'failed': False}


def run_wrk(port, scenario, seconds, conns=None):
    argv = pin_prefix(LOAD_CPU) + [
        'wrk', '-t1', f'-c{conns or scenario["conns"]}', f'-d{seconds}s',
        '--timeout', '2s', '--latency']
    if scenario.get('close'):
        argv += ['-H', 'Connection: close']
    argv.append(f'http://127.0.0.1:{port}/{scenario["file"]}')
    status, out = sh(argv, timeout=seconds + 20)
    if status != 0:
        raise Skip(f'wrk exited {status}: {out.strip()[-300:]}')
    return parse_wrk(out)


def run_echoload(port, scenario, seconds, helpers):
    if not helpers.get('echoload'):
        raise Skip('echoload.c did not build')
    argv = pin_prefix(LOAD_CPU) + [
        helpers['echoload'], '-p', str(port), '-c', str(scenario['conns']),
        '-s', '64', '-d', str(seconds), '-n', '50000000']
    if scenario['tool'] == 'udp':
        argv += ['-u', '-w', str(scenario['window']), '-t', '200']
    status, out = sh(argv, timeout=seconds + 20)
    kv = dict(re.findall(r'(\w+)=([\d.]+)', out))
    if 'rate' not in kv:
        raise Skip(f'echoload exited {status}: {out.strip()[-300:]}')
    return {'rate': float(kv['rate']), 'requests': int(kv['count']),
            'p50_ms': float(kv['p50_us']) / 1000,
            'p99_ms': float(kv['p99_us']) / 1000, 'errors': int(kv['errors']),
            'mismatches': int(kv['mismatches']), 'lost': int(kv['lost']),
            'failed': status != 0,
            'message': out.strip()[-300:] if status != 0 else ''}


def children_cpu_seconds():
    """CPU time of this script's finished children: the load generators."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def load(server, scenario, seconds, helpers, conns=None):
    port = server.ports[scenario['port']]
    if scenario['tool'] == 'wrk':
        return run_wrk(port, scenario, seconds, conns)
    return run_echoload(port, scenario, seconds, helpers)


def measure(server, scenario, seconds, helpers, conns=None):
    """One run: the load's numbers plus the server's CPU time per request."""
    procs = len(process_tree(server.proc.pid))
    cpu0, ticks0, t0 = server.cpu_seconds(), cpu_ticks(), time.monotonic()
    load0 = children_cpu_seconds()
    try:
        res = load(server, scenario, seconds, helpers, conns)
    except Skip as e:
        return {'failed': True, 'message': str(e), 'rate': 0, 'requests': 0}
    wall = time.monotonic() - t0
    busy = busy_pct(ticks0, cpu_ticks())
    res['load_cpu_pct'] = (children_cpu_seconds() - load0) / wall * 100
    server.settle(procs)
    cpu = server.cpu_seconds() - cpu0
    n = res['requests']
    res['cpu_us_per_req'] = cpu / n * 1e6 if n else None
    res['server_cpu_pct'] = cpu / wall * 100
    res['server_core_busy_pct'] = busy.get(SERVER_CPU)
    res['load_core_busy_pct'] = busy.get(LOAD_CPU)
    return res


# ---- the scenarios -------------------------------------------------------

def pairs(servers, scenarios):
    return [(sc, sv) for sc in scenarios for sv in servers if sv.supports(sc)]


def available_scenarios(helpers, only):
    echo = bool(helpers['echoload'])
    have = {'wrk': bool(shutil.which('wrk')), 'echo': echo, 'udp': echo}
    for sc in SCENARIOS:
        if not have[sc['tool']]:
            skipped(f'scenario ({sc["id"]}) needs '
                    f'{"wrk" if sc["tool"] == "wrk" else "echoload"}')
    return [sc for sc in SCENARIOS if have[sc['tool']] and sc['id'] in only]


def warm_up(servers, scenarios, helpers):
    for sc, sv in pairs(servers, scenarios):
        r = measure(sv, sc, WARMUP_SECONDS, helpers)
        if r['failed']:
            say(f'warm-up ({sc["id"]}) {sv.name}: {r["message"]}')


def run_rounds(servers, scenarios, rounds, seconds, helpers):
    """Every server once per round, the same order each round.  A run that
    another process disturbed is kept in the raw numbers, marked discarded,
    and measured again (MAX_REPEATS times at most in all)."""
    runs, repeats = [], MAX_REPEATS
    for rnd in range(1, rounds + 1):
        for sc, sv in pairs(servers, scenarios):
            while True:
                r = measure(sv, sc, seconds, helpers)
                r.update(round=rnd, scenario=sc['id'], server=sv.name)
                runs.append(r)
                say(f'round {rnd} ({sc["id"]}) {sv.name:12s} {run_line(r)}')
                why = disturbed(r)
                if not why or repeats == 0:
                    break
                repeats -= 1
                r['discarded'] = why
                say(f'  disturbed ({why}): measuring again')
    return runs


def disturbed(r):
    """Why a run had company on its CPUs, or '': a CPU busier, by more than
    DISTURBED points, than the processes we put on it account for."""
    if r['failed']:
        return ''
    why = []
    for cpu, busy, own in (
            (SERVER_CPU, 'server_core_busy_pct', 'server_cpu_pct'),
            (LOAD_CPU, 'load_core_busy_pct', 'load_cpu_pct')):
        extra = (r.get(busy) or 0) - (r.get(own) or 0)
        if PINNED and extra > DISTURBED:
            why.append(f'CPU{cpu} +{extra:.0f}%')
    return ', '.join(why)


def run_line(r):
    if r['failed']:
        return 'FAILED ' + r.get('message', '')
    return f'{r["rate"]:10.0f}/s {r["cpu_us_per_req"] or 0:6.1f} us/req'


def idle_memory(servers):
    """(g) for the servers that run as one process, after the warm-up."""
    time.sleep(1)
    alone = [sv for sv in servers if len(process_tree(sv.proc.pid)) == 1]
    sizes = {sv.name: smaps(sv.proc.pid) for sv in alone}
    return {name: dict(m, workers=0, processes=1, tree_pss_kib=m['pss_kib'])
            for name, m in sizes.items()}


def pool_memory(ctx, names, helpers):
    """(g) for the servers with worker processes: each started again with
    MEMORY_WORKERS workers, loaded with (a) and (b) for WARMUP_SECONDS
    each, left idle for a second; then every worker is measured."""
    mem = {}
    warm = [sc for sc in SCENARIOS if sc['id'] in 'ab']
    mctx = dict(ctx, work=subdir(ctx['work'], 'memory'),
                workers=MEMORY_WORKERS)
    for make in (peer_prefork, peer_baseline, peer_nginx, peer_lighttpd,
                 peer_apache):
        try:
            sv = make(mctx)
        except Skip:
            continue  # start_servers has said why
        if sv.name not in names:
            continue
        try:
            sv.start()
            for sc in warm:
                r = measure(sv, sc, WARMUP_SECONDS, helpers)
                if r['failed']:
                    say(f'(g) load ({sc["id"]}) {sv.name}: {r["message"]}')
            time.sleep(1)
            mem[sv.name] = pool_sizes(sv)
        except Skip as e:
            skipped(f'(g) {sv.name}: {e}')
        finally:
            sv.stop()
    return mem


def pool_sizes(sv):
    """The median worker's memory, the spread of Pss, the tree's Pss."""
    each = [smaps(p) for p in sv.workers()]
    if not each:
        raise Skip('no worker holds the listener')
    pss = sorted(m['pss_kib'] for m in each)
    tree = process_tree(sv.proc.pid)
    return {'workers': len(each), 'pss_kib': statistics.median(pss),
            'pss_min_kib': pss[0], 'pss_max_kib': pss[-1],
            'private_kib': statistics.median(m['private_kib'] for m in each),
            'rss_kib': statistics.median(m['rss_kib'] for m in each),
            'processes': len(tree),
            'tree_pss_kib': sum(smaps(p)['pss_kib'] for p in tree)}


def best_peer(summary, scenario_id):
    rows = [(s['median'], name) for (sid, name), s in summary.items()
            if sid == scenario_id
            and name not in ('prefork', 'prefork-base', 'ceiling')]
    return max(rows)[1] if rows else None


def rps_curve(servers, summary, helpers):
    """(i): rate against connections, prefork and the best peer of (a)."""
    names = ['prefork', best_peer(summary, 'a')]
    chosen = [sv for n in names for sv in servers if sv.name == n]
    sc = SCENARIOS[0]
    curve = {sv.name: {} for sv in chosen}
    for conns in CURVE_CONNS:
        for sv in chosen:
            r = measure(sv, sc, CURVE_SECONDS, helpers, conns)
            curve[sv.name][conns] = r
            say(f'curve {sv.name:12s} c={conns:<4d} {r["rate"]:10.0f}/s')
    return curve


def respawn_times(ctx):
    """(h): kill -9 of the only worker of an echo service until it echoes."""
    d = subdir(ctx['work'], 'respawn')
    port = free_port()
    ini = prefork_ini(d, ctx['module_path'], [
        ('echo', {'module': 'echo', 'listen': f'127.0.0.1:{port}'})])
    sv = Server('prefork-respawn', [ctx['prefork'], '-f', '-c', ini],
                {'echo': port}, d)
    sv.start()
    times = []
    try:
        echo_once(port, 2.0)
        for _ in range(RESPAWN_REPEATS):
            time.sleep(1.1)  # a worker younger than 1 s counts as failing
            times.append(kill_and_time(sv, port))
    finally:
        sv.stop()
    return times


def only_worker(sv):
    tree = process_tree(sv.proc.pid)
    if len(tree) != 2:
        raise Skip(f'expected one worker, found {len(tree) - 1}')
    return tree[1]


def echo_once(port, timeout):
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(b'ping')
        return s.recv(4) == b'ping'


def kill_and_time(sv, port):
    """ms from SIGKILL of the worker to a successful echo, tried in a loop."""
    os.kill(only_worker(sv), signal.SIGKILL)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        try:
            if echo_once(port, 0.25):
                return (time.monotonic() - t0) * 1000
        except OSError:
            pass
    raise Skip('no replacement worker echoed within 5 s')


# ---- results ---------------------------------------------------------------

def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(runs):
    """Median, min, max over the rounds per (scenario, server)."""
    groups = {}
    for r in (r for r in runs if not r.get('discarded')):
        groups.setdefault((r['scenario'], r['server']), []).append(r)
    summary = {}
    for key, rs in groups.items():
        ok = [r for r in rs if not r['failed']]
        rates = [r['rate'] for r in ok] or [0]
        summary[key] = {
            'median': statistics.median(rates), 'min': min(rates),
            'max': max(rates), 'rounds': len(ok), 'failed': len(rs) - len(ok),
            'errors': sum(r.get('errors', 0) + r.get('non2xx', 0)
                          + r.get('mismatches', 0) for r in rs),
            'lost': sum(r.get('lost', 0) for r in rs),
        }
        for k in ('p50_ms', 'p99_ms', 'cpu_us_per_req', 'server_cpu_pct',
                  'server_core_busy_pct', 'load_core_busy_pct'):
            summary[key][k] = median_of(ok, k)
    return summary


def fmt(x, digits=0):
    return '–' if x is None else f'{x:,.{digits}f}'


def ratio(a, b):
    return f'{a / b:.2f}' if a and b else '–'


def row(cells):
    return '| ' + ' | '.join(str(c) for c in cells) + ' |'


def table(head, align):
    """A Markdown table head; align is one of l or r per column."""
    return [row(head), '|' + '|'.join('---' if a == 'l' else '---:'
                                      for a in align) + '|']


def md_machine(m, args, notes):
    versions = '; '.join(f'{k}: {v}' for k, v in m['versions'].items())
    lines = ['# prefork benchmark', '',
             f'- machine: {m["nproc"]} CPUs, {m["cpu"]}, {m["kernel"]}, '
             f'{m["os"]}',
             f'- pinning: {m["pinned"]}',
             f'- before the start, with no server running: {m["background"]}',
             f'- method: {args.rounds} interleaved rounds of {args.seconds} s '
             f'per server and scenario after a {WARMUP_SECONDS} s warm-up; '
             'median, min and max of the rounds',
             f'- versions: {versions}']
    return lines + [f'- skipped: {n}' for n in notes] + ['']


def md_summary(summary, scenarios):
    lines = ['## Summary: prefork against the best peer and the ceiling', '']
    lines += table(['scenario', 'prefork /s', 'best peer', 'peer /s',
                    'prefork ÷ peer', 'CPU µs/req prefork / peer',
                    'ceiling /s', 'prefork ÷ ceiling'],
                   'lrlrrrrr')
    for sc in scenarios:
        pf = summary.get((sc['id'], 'prefork'))
        if not pf:
            continue
        peer = best_peer(summary, sc['id'])
        ps = summary.get((sc['id'], peer), {})
        cs = summary.get((sc['id'], 'ceiling'), {})
        lines.append(row([
            f'({sc["id"]}) {sc["title"]}', fmt(pf['median']), peer or '–',
            fmt(ps.get('median')), ratio(pf['median'], ps.get('median')),
            f'{fmt(pf["cpu_us_per_req"], 1)} / '
            f'{fmt(ps.get("cpu_us_per_req"), 1)}',
            fmt(cs.get('median')), ratio(pf['median'], cs.get('median'))]))
    return lines + ['']


def per_round(runs, scenario, other):
    """prefork's rate over other's, round by round: each pair ran seconds
    apart, in whatever state the machine was in then."""
    rate = {(r['round'], r['server']): r['rate'] for r in runs
            if r['scenario'] == scenario and not r.get('discarded')
            and not r['failed']}
    return [rate[(n, 'prefork')] / rate[(n, other)]
            for (n, name) in rate
            if name == 'prefork' and rate.get((n, other))]


def per_round_cpu(runs, scenario, other):
    """prefork's CPU time per request over other's, round by round."""
    cpu = {(r['round'], r['server']): r['cpu_us_per_req'] for r in runs
           if r['scenario'] == scenario and not r.get('discarded')
           and not r['failed'] and r.get('cpu_us_per_req')}
    return [cpu[(n, 'prefork')] / cpu[(n, other)]
            for (n, name) in cpu
            if name == 'prefork' and cpu.get((n, other))]


def md_baseline(summary, scenarios, runs):
    """With --baseline: this build against the other, round by round."""
    if not any(k[1] == 'prefork-base' for k in summary):
        return []
    lines = ['## This build against --baseline, round by round', '',
             'Requests per second and server CPU time per request of '
             'prefork over prefork-base, median (min–max) over the rounds; '
             'the two ran one after the other in every round.', '']
    lines += table(['scenario', 'rate: prefork ÷ base',
                    'CPU µs/req: prefork ÷ base'], 'lrr')
    for sc in scenarios:
        if (sc['id'], 'prefork-base') not in summary:
            continue
        lines.append(row([
            f'({sc["id"]}) {sc["title"]}',
            ratio_spread(per_round(runs, sc['id'], 'prefork-base')),
            ratio_spread(per_round_cpu(runs, sc['id'], 'prefork-base'))]))
    return lines + ['']


def ratio_spread(ratios):
    if not ratios:
        return '–'
    return (f'{statistics.median(ratios):.2f} '
            f'({min(ratios):.2f}–{max(ratios):.2f})')


def md_rounds(summary, scenarios, runs):
    lines = ['## Round by round: prefork ÷ the best peer and ÷ the ceiling',
             '', 'The ratio within each round, median (min–max) over the '
             'rounds: a state of the machine that lasts a round or more '
             'weighs on both sides of it.', '']
    lines += table(['scenario', 'best peer', 'prefork ÷ peer',
                    'prefork ÷ ceiling'], 'llrr')
    for sc in scenarios:
        if (sc['id'], 'prefork') not in summary:
            continue
        peer = best_peer(summary, sc['id'])
        lines.append(row([
            f'({sc["id"]})', peer or '–',
            ratio_spread(per_round(runs, sc['id'], peer)),
            ratio_spread(per_round(runs, sc['id'], 'ceiling'))]))
    return lines + ['']


def error_cell(s):
    text = fmt(s['errors'])
    if s['lost']:
        text += f' (+{fmt(s["lost"])} lost)'
    if s['failed']:
        text += f', {s["failed"]} runs FAILED'
    return text


def md_details(summary, scenarios, servers):
    lines = ['## Every server, every scenario', '']
    lines += table(['scenario', 'server', 'median /s', 'min', 'max', 'p50 ms',
                    'p99 ms', 'server CPU µs/req', 'server CPU %',
                    'CPU0 / CPU1 busy %', 'errors', 'prefork ÷ this'],
                   'llrrrrrrrrrr')
    for sc in scenarios:
        pf = summary.get((sc['id'], 'prefork'), {})
        for sv in servers:
            s = summary.get((sc['id'], sv.name))
            if not s:
                continue
            lines.append(row([
                f'({sc["id"]})', sv.name, fmt(s['median']), fmt(s['min']),
                fmt(s['max']), fmt(s['p50_ms'], 2), fmt(s['p99_ms'], 2),
                fmt(s['cpu_us_per_req'], 1), fmt(s['server_cpu_pct']),
                f'{fmt(s["server_core_busy_pct"])} / '
                f'{fmt(s["load_core_busy_pct"])}',
                error_cell(s), ratio(pf.get('median'), s['median'])]))
    return lines + ['']


def md_disturbed(runs):
    again = [r for r in runs if r.get('discarded')]
    left = [r for r in runs if not r.get('discarded') and disturbed(r)]
    lines = []
    if again:
        lines.append(f'{len(again)} runs were disturbed by another process '
                     'and measured again: ' + run_names(again) + '.')
    if left:
        lines.append('Disturbed, and in the medians (no repeats left): '
                     + run_names(left) + '.')
    return lines + [''] if lines else []


def run_names(runs):
    return ', '.join(f'({r["scenario"]}) {r["server"]} round {r["round"]} '
                     f'[{disturbed(r)}]' for r in runs)


def md_memory(pool, single):
    lines = ['## (g) Idle memory of a worker, KiB (/proc/PID/smaps_rollup)',
             '', f'Servers with worker processes, each started again with '
             f'{MEMORY_WORKERS} workers and loaded with (a) and (b); the '
             'median worker, and the range of Pss over the workers. '
             'Servers that run as one process, after the warm-up.', '']
    lines += table(['server', 'workers', 'Pss', 'Pss min–max', 'Private',
                    'Rss', 'processes', 'Pss of all'], 'lrrrrrrr')
    alone = [(n, m) for n, m in single.items() if n not in pool]
    for name, m in list(pool.items()) + alone:
        spread = (f'{fmt(m["pss_min_kib"])}–{fmt(m["pss_max_kib"])}'
                  if m['workers'] else '–')
        lines.append(row([name, m['workers'] or 'the only process',
                          fmt(m['pss_kib']), spread, fmt(m['private_kib']),
                          fmt(m['rss_kib']), m['processes'],
                          fmt(m['tree_pss_kib'])]))
    return lines + ['']


def md_respawn(times, error):
    lines = ['## (h) prefork: kill -9 of the only echo worker until an echo '
             'succeeds', '']
    if error or not times:
        return lines + [f'not measured: {error}', '']
    each = ', '.join(f'{t:.1f}' for t in times)
    return lines + [f'median {statistics.median(times):.1f} ms, min '
                    f'{min(times):.1f}, max {max(times):.1f} over '
                    f'{len(times)} kills: {each}', '']


def md_curve(curve, plot_note):
    if not curve:
        return []
    names = list(curve)
    lines = ['## (i) Requests/s against connections (1 KiB, keep-alive, '
             f'{CURVE_SECONDS} s each)', '', plot_note, '']
    head = ['connections'] + [f'{n} {unit}' for n in names
                              for unit in ('/s', 'µs/req')]
    lines += table(head, 'r' * len(head))
    for c in CURVE_CONNS:
        cells = [c]
        for n in names:
            r = curve[n].get(c, {})
            cells += [fmt(r.get('rate')), fmt(r.get('cpu_us_per_req'), 1)]
        lines.append(row(cells))
    return lines + ['']


def gnuplot_script(curve, data):
    names = list(curve)
    plots = ', '.join(f"'{data}' using 1:{i + 2} with linespoints title '{n}'"
                      for i, n in enumerate(names))
    return ("set logscale x 2; set xlabel 'connections'; "
            "set ylabel 'requests/s'; set yrange [0:*]; set key bottom right; "
            "set grid; set title 'prefork and the best peer of (a): 1 KiB, "
            "keep-alive, one core'; plot " + plots)


def plot_curve(curve, work, outdir):
    """gnuplot to a PNG (pngcairo, else png), else to text; returns a note."""
    if not curve:
        return ''
    if not shutil.which('gnuplot'):
        return 'gnuplot is not installed: no plot.'
    data = os.path.join(work, 'curve.dat')
    with open(data, 'w') as f:
        for c in CURVE_CONNS:
            rates = [str(curve[n].get(c, {}).get('rate', 0)) for n in curve]
            f.write(f'{c} {" ".join(rates)}\n')
    script = gnuplot_script(curve, data)
    png = os.path.join(outdir, 'rps-vs-conns.png')
    for term in ('pngcairo size 900,540', 'png size 900,540'):
        status, _ = sh(['gnuplot', '-e', f"set terminal {term}; "
                        f"set output '{png}'; {script}"])
        if status == 0 and os.path.getsize(png) > 0:
            return 'Plot: `bench/results/rps-vs-conns.png`.'
    _, out = sh(['gnuplot', '-e', f'set terminal dumb 90 28; {script}'])
    with open(os.path.join(outdir, 'rps-vs-conns.txt'), 'w') as f:
        f.write(out)
    return ('No PNG terminal in gnuplot; a text plot is in '
            '`bench/results/rps-vs-conns.txt`.')


def report(res, args, servers, scenarios):
    summary = res['summary_obj']
    lines = (md_machine(res['machine'], args, res['skipped'])
             + md_summary(summary, scenarios)
             + md_rounds(summary, scenarios, res['runs'])
             + md_baseline(summary, scenarios, res['runs'])
             + md_details(summary, scenarios, servers)
             + md_disturbed(res['runs'])
             + md_memory(res['memory_pool'], res['memory'])
             + md_respawn(res['respawn_ms'], res['respawn_error'])
             + md_curve(res['curve'], res['plot_note'])
             + [f'Total run time: {res["total_seconds"]:.0f} s.', ''])
    return '\n'.join(lines)


def save(res, text, outdir):
    with open(os.path.join(outdir, 'latest.md'), 'w') as f:
        f.write(text)
    summary = [dict(v, scenario=k[0], server=k[1])
               for k, v in res['summary_obj'].items()]
    raw = {k: v for k, v in res.items() if k != 'summary_obj'}
    with open(os.path.join(outdir, 'latest.json'), 'w') as f:
        json.dump(dict(raw, summary=summary), f, indent=1, default=str)



# ---- main ------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--seconds', type=int, default=3,
                   help='per run (whole seconds, as wrk takes them)')
    p.add_argument('--quick', action='store_true', help='1 round of 1 s')
    p.add_argument('--no-install', action='store_true',
                   help='do not apt-get install missing peers')
    p.add_argument('--prefork', default=os.path.join(TOP, 'src', 'prefork'))
    p.add_argument('--module-path',
                   default=os.path.join(TOP, 'src', 'modules', '.libs'))
    p.add_argument('--baseline', default='',
                   help='another prefork binary, run beside this one in '
                   'every round (its modules: --baseline-module-path)')
    p.add_argument('--baseline-module-path', default='')
    p.add_argument('--keys', action='append', default=[], metavar='KEY=VALUE',
                   help='a key for every service of this prefork (again '
                   'for more), e.g. sandbox=yes')
    p.add_argument('--baseline-keys', action='append', default=[],
                   metavar='KEY=VALUE',
                   help='the same for --baseline, e.g. sandbox=no')
    p.add_argument('--out', default=os.path.join(HERE, 'results'))
    p.add_argument('--scenarios', default='abcdef',
                   help='the letters of the scenarios to run (default all); '
                   'the curve (i) runs with (a)')
    p.add_argument('--servers', default='',
                   help='comma-separated names of the servers to run '
                   '(default all); prefork always runs')
    args = p.parse_args()
    known = ''.join(sc['id'] for sc in SCENARIOS)
    if not args.scenarios or set(args.scenarios) - set(known):
        p.error(f'--scenarios takes letters of {known}')
    if args.quick:
        args.rounds, args.seconds = 1, 1
    args.prefork = os.path.abspath(args.prefork)
    args.module_path = os.path.abspath(args.module_path)
    if not os.access(args.prefork, os.X_OK):
        p.error(f'{args.prefork} is not built: run make first')
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
        if not args.baseline_module_path:
            p.error('--baseline needs --baseline-module-path')
        args.baseline_module_path = os.path.abspath(
            args.baseline_module_path)
    for name in ('keys', 'baseline_keys'):
        pairs = getattr(args, name)
        if any('=' not in kv for kv in pairs):
            p.error(f'--{name.replace("_", "-")} takes KEY=VALUE')
        setattr(args, name, dict(kv.split('=', 1) for kv in pairs))
    return args


def on_term(signum, frame):
    raise SystemExit(f'bench: signal {signum}, cleaning up')


def run_all(args, work, res):
    helpers = build_helpers(work)
    ctx = {'work': work, 'root': make_docroot(work), 'helpers': helpers,
           'prefork': args.prefork, 'module_path': args.module_path,
           'baseline': args.baseline,
           'baseline_module_path': args.baseline_module_path,
           'keys': args.keys, 'baseline_keys': args.baseline_keys}
    scenarios = available_scenarios(helpers, args.scenarios)
    servers = []
    wanted = {n for n in args.servers.split(',') if n}
    try:
        start_servers(ctx, servers, wanted)
        say(f'servers: {", ".join(s.name for s in servers)}; warming up')
        warm_up(servers, scenarios, helpers)
        res['memory'] = idle_memory(servers)
        res['runs'] = run_rounds(servers, scenarios, args.rounds, args.seconds,
                                 helpers)
        res['summary_obj'] = summarize(res['runs'])
        if any(sc['id'] == 'a' for sc in scenarios):
            res['curve'] = rps_curve(servers, res['summary_obj'], helpers)
    finally:
        for sv in servers:
            sv.stop()
    res['memory_pool'] = pool_memory(ctx, {sv.name for sv in servers},
                                      helpers)
    try:
        res['respawn_ms'] = respawn_times(ctx)
    except (Skip, OSError) as e:
        res['respawn_error'] = str(e)
    res['plot_note'] = plot_curve(res['curve'], work, args.out)
    return servers, scenarios


def main():
    global PINNED
    t0 = time.monotonic()
    args = parse_args()
    signal.signal(signal.SIGTERM, on_term)
    PINNED = plan_cpus()
    ensure_packages(not args.no_install)
    res = {'machine': machine(args), 'rounds': args.rounds,
           'seconds': args.seconds, 'memory': {}, 'memory_pool': {},
           'runs': [], 'curve': {}, 'summary_obj': {}, 'respawn_ms': [],
           'respawn_error': None, 'plot_note': '', 'skipped': SKIPPED}
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix='prefork-bench-')
    os.chmod(work, 0o755)  # servers that drop to www-data read the docroot
    try:
        servers, scenarios = run_all(args, work, res)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res['total_seconds'] = time.monotonic() - t0
    text = report(res, args, servers, scenarios)
    print(text)
    save(res, text, args.out)
    mismatched = any(r.get('mismatches') for r in res['runs'])
    return 1 if mismatched else 0


PINNED = False  # set once by plan_cpus()
SKIPPED = []    # one line per peer, tool or scenario left out

if __name__ == '__main__':
    sys.exit(main())
