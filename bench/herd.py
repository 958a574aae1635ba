"""Thundering-herd measurement: worker wake-ups per connection.

Starts prefork with 8 idle echo workers, makes N sequential connections
(1-byte round trip each) on 127.0.0.1, and counts the voluntary context
switches of all workers per connection.  Compare a normal build with one
whose listeners are registered without EPOLLEXCLUSIVE (see docs/DESIGN.md):

    python3 bench/herd.py src/prefork [/path/to/prefork-without-exclusive]
"""
import os, socket, subprocess, sys, time, tempfile
MODS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'modules', '.libs')

def run(binary, reuseport, n=3000, workers=8):
    d = tempfile.mkdtemp()
    port = 18000 + os.getpid() % 1000
    open(d+'/s.ini','w').write(f"""[server]
pidfile = pid
error_log = err.log
module_path = {MODS}
[e]
module = echo
listen = 127.0.0.1:{port}
workers = {workers}
reuseport = {reuseport}
""")
    p = subprocess.Popen([binary, '-c', d+'/s.ini'])
    while not os.path.exists(d+'/pid'): time.sleep(0.05)
    time.sleep(0.5)
    m = int(open(d+'/pid').read())
    kids = open(f'/proc/{m}/task/{m}/children').read().split()
    def csw():
        t = 0
        for k in kids:
            for l in open(f'/proc/{k}/status'):
                if l.startswith('voluntary_ctxt_switches'): t += int(l.split()[1])
        return t
    before = csw(); t0 = time.time()
    for i in range(n):
        s = socket.create_connection(('127.0.0.1', port)); s.sendall(b'x'); s.recv(1); s.close()
    el = time.time() - t0
    after = csw()
    p.terminate(); p.wait()
    return (after - before) / n, n / el
def main():
    excl = sys.argv[1] if len(sys.argv) > 1 else 'src/prefork'
    cases = [('EPOLLEXCLUSIVE', excl, 'no'), ('SO_REUSEPORT', excl, 'yes')]
    if len(sys.argv) > 2:
        cases.insert(1, ('shared epoll, no EXCLUSIVE', sys.argv[2], 'no'))
    for name, b, rp in cases:
        w, r = run(b, rp)
        print(f'{name:30s} worker wakeups/conn {w:5.2f}   conn/s {r:7.0f}')

if __name__ == '__main__':
    main()
