"""The CPU one scrape of the status module costs, with 64 workers.

Starts prefork with an http service of 64 workers and a status service of
one worker, scrapes GET /metrics N times in each format (and GET /status)
one after another on 127.0.0.1, and reads the status worker's user and
system CPU time from /proc/PID/stat (what getrusage would say in that
process) before and after:

    python3 bench/scrape.py src/prefork [N]
"""
import os, socket, subprocess, sys, tempfile, time, json

MODS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src',
                    'modules', '.libs')
TICK = os.sysconf('SC_CLK_TCK')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK  # utime, stime


def get(port, path, accept):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(f'GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n'
              .encode())
    n = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        n += len(b)
    s.close()
    return n


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    d = tempfile.mkdtemp()
    web, stat = free_port(), free_port()
    open(d + '/s.ini', 'w').write(f"""[server]
pidfile = {d}/pid
error_log = {d}/err.log
module_path = {MODS}
[web]
module = http
listen = 127.0.0.1:{web}
root = {d}
workers = 64
[status]
module = status
listen = 127.0.0.1:{stat}
workers = 1
""")
    p = subprocess.Popen([binary, '-f', '-c', d + '/s.ini'])
    try:
        while not os.path.exists(d + '/pid'):
            time.sleep(0.05)
        time.sleep(2)  # every worker up, the master's tick done
        st = json.loads(subprocess.check_output(
            [binary, '-c', d + '/s.ini', '-s', 'status']))
        svc = {s['name']: s for s in st['services']}
        assert len(svc['web']['workers']) == 64, len(svc['web']['workers'])
        pid = svc['status']['workers'][0]['pid']
        for path, accept, what in (
                ('/metrics', 'text/plain', 'Prometheus text'),
                ('/metrics', 'application/openmetrics-text', 'OpenMetrics'),
                ('/status', '*/*', '/status JSON')):
            size = get(stat, path, accept)
            before, t0 = cpu_seconds(pid), time.time()
            for _ in range(n):
                get(stat, path, accept)
            cpu, wall = cpu_seconds(pid) - before, time.time() - t0
            print(f'{what:16} {size:7} bytes  {cpu / n * 1e6:7.0f} us CPU '
                  f'per scrape  ({n} scrapes, {wall / n * 1e3:.2f} ms wall '
                  f'each)')
    finally:
        p.terminate()
        p.wait()


main()
