#!/bin/bash
# haproxy.sh -- contrib/haproxy.cfg against the real binary: two prefork
# instances (proxy_protocol, health = /healthz, shutdown_delay) behind
# HAProxy on loopback ports, a bounded load through it (wrk, 8 s), and
# one instance stopped gracefully (QUIT) in the middle: no request may
# fail, the stopped one must leave, the other serve on, and the access
# log must name the client HAProxy's header gave.  Run by `make check`
# with PF_BUILDDIR and PF_SRCDIR in the environment.  Exit 0 when every
# step passed, 1 otherwise, 77 (skip) without haproxy or wrk.
set -u

# shellcheck source=tests/integration/lib.sh
. "${0%/*}/lib.sh" haproxy haproxy wrk timeout

# Three free loopback ports.
read -r front pa pb < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

mkdir -p "$tmp/www"
head -c 1024 /dev/urandom | base64 > "$tmp/www/index.html"
start_prefork() { # start_prefork NAME PORT
    cat > "$tmp/$1.ini" <<INI
[server]
pidfile = $tmp/$1.pid
error_log = $tmp/$1.error.log
module_path = $PF_BUILDDIR/src/modules/.libs
shutdown_delay = 2s
shutdown_timeout = 5s
[web]
module = http
listen = 127.0.0.1:$2
root = $tmp/www
workers = 2
proxy_protocol = yes
proxy_from = 127.0.0.1
health = /healthz
access_log = $tmp/$1.access.log
INI
    "$PREFORK" -f -c "$tmp/$1.ini" > "$tmp/$1.out" 2>&1 &
    pids+=($!)
    eval "pid_$1=$!"
}
start_prefork a "$pa"
start_prefork b "$pb"

sed -e "s/127.0.0.1:8000/127.0.0.1:$front/" -e "s/127.0.0.1:8081/127.0.0.1:$pa/" \
    -e "s/127.0.0.1:8082/127.0.0.1:$pb/" "$PF_SRCDIR/contrib/haproxy.cfg" \
    > "$tmp/haproxy.cfg"
haproxy -db -f "$tmp/haproxy.cfg" > "$tmp/haproxy.out" 2>&1 &
pids+=($!)

# Up: both servers healthy through HAProxy's checks (rise 2, every 500 ms).
up=0
for _ in $(seq 50); do
    if curl -fs "http://127.0.0.1:$front/" -o /dev/null &&
        grep -q 'GET /healthz' "$tmp/a.access.log" 2>/dev/null &&
        grep -q 'GET /healthz' "$tmp/b.access.log" 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.2
done
sleep 1.5
if [ "$up" = 1 ]; then pass "both instances up behind HAProxy"; else
    fail "not up: $(cat "$tmp"/*.out)"; fi

# The load, and a graceful stop of a 2 s into it.
timeout 30 wrk -t 2 -c 16 -d 8s "http://127.0.0.1:$front/" > "$tmp/wrk.out" 2>&1 &
load=$!
sleep 2
kill -QUIT "$pid_a"
wait "$load"
cat "$tmp/wrk.out"
requests=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
if [ -n "$requests" ] && [ "$requests" -gt 1000 ]; then
    pass "$requests requests through HAProxy"; else fail "too few requests: $requests"; fi
if grep -qE 'Socket errors|Non-2xx' "$tmp/wrk.out"; then
    fail "failed requests while one instance stopped gracefully"
else
    pass "zero failed requests while one instance stopped gracefully"
fi

for _ in $(seq 50); do kill -0 "$pid_a" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$pid_a" 2>/dev/null; then fail "the stopped instance is still running"
else pass "the stopped instance left"; fi
if grep -q 'shutdown_delay' "$tmp/a.error.log"; then pass "it said so"; else
    fail "no shutdown_delay line: $(cat "$tmp/a.error.log")"; fi
if grep -q '" 503 ' "$tmp/a.access.log"; then
    pass "its health check answered 503 before it stopped"
else
    fail "no 503 for /healthz in its access log"
fi
if curl -fs "http://127.0.0.1:$front/" -o /dev/null; then
    pass "the other instance serves on"; else fail "nothing serves after the stop"; fi
if grep -q '^127\.0\.0\.1 .*"GET / HTTP/1.1" 200' "$tmp/b.access.log"; then
    pass "the access log names the client from the PROXY header"
else
    fail "no client line in the access log: $(head -3 "$tmp/b.access.log")"
fi

summary
