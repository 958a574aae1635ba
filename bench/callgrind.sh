#!/bin/sh
# bench/callgrind.sh -- instructions per request of one prefork worker,
# counted by callgrind: a measure that does not depend on how busy the
# machine is, for before/after comparisons of the hot paths.
#
#     bench/callgrind.sh [http|close|echo] [REQUESTS] [PREFORK] [MODULE_DIR]
#
# Starts PREFORK (default src/prefork, modules from src/modules/.libs)
# with workers = 1 under valgrind --tool=callgrind, warms the worker up
# with 500 requests, zeroes its counters, sends exactly REQUESTS (default
# 20000) over 10 keep-alive connections -- `ab -k` of a 1 KiB file for
# http (file_cache_valid = 1s, as bench/run.py), bench/echoload -n of
# 64-byte messages for echo -- or, for close, each on a connection of its
# own (`ab` without -k), and dumps the counters.  Prints the
# worker's instructions (Ir) per request and its top 25 functions with
# their shares; the dump stays in the directory it names.
set -eu

what=${1:-http}
n=${2:-20000}
prefork=${3:-src/prefork}
modules=${4:-src/modules/.libs}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/pf-callgrind.XXXXXX)
port=$(python3 -c 'import random; print(random.randrange(20000, 30000))') # below the ephemeral range: a port a client holds in TIME_WAIT cannot be bound

mkdir "$work/www"
head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 >"$work/www/1k.bin"
case $what in
http | close) svc="module = http
root = $work/www
keepalive_timeout = 65s
file_cache_valid = 1s" ;;
echo) svc="module = echo" ;;
*) echo "usage: $0 [http|close|echo] [REQUESTS] [PREFORK] [MODULE_DIR]" >&2; exit 2 ;;
esac
cat >"$work/prefork.ini" <<EOF
[server]
workers = 1
pidfile = $work/prefork.pid
error_log = stderr
log_level = warn
module_path = $(cd "$modules" && pwd)

[svc]
listen = 127.0.0.1:$port
$svc
EOF

valgrind --tool=callgrind --trace-children=yes --vgdb=yes \
    --callgrind-out-file="$work/callgrind.%p" \
    "$prefork" -f -c "$work/prefork.ini" 2>"$work/valgrind.log" &
master=$!
trap 'kill $master 2>/dev/null || true' EXIT

load() { # count
    if [ "$what" != echo ]; then
        ab -q $([ "$what" = http ] && echo -k) -n "$1" -c 10 \
            "http://127.0.0.1:$port/1k.bin" >"$work/ab.out"
        grep -E '^(Complete|Failed|Non-2xx)' "$work/ab.out" || true
    else
        "$here/echoload" -p "$port" -c 10 -s 64 -d 600 -n "$1"
    fi
}

i=0
until ss -ltn "sport = :$port" | grep -q LISTEN; do
    i=$((i + 1)); [ $i -lt 300 ] || { cat "$work/valgrind.log"; exit 1; }
    sleep 0.2
done
sleep 1
worker=$(pgrep -P "$master" | head -n 1)
load 500 >/dev/null
callgrind_control -z "$worker" >/dev/null
load "$n"
callgrind_control -d "$worker" >/dev/null
kill "$master"
wait "$master" 2>/dev/null || true
trap - EXIT

dump="$work/callgrind.$worker.1" # what -d dumped: the counted requests alone
# Self cost per function, summed from the dump (callgrind_annotate of
# valgrind 3.19 puts a dump taken after zeroing all in one function).
python3 - "$dump" "$n" <<'PY'
import re, sys
names, cost, fn, skip = {}, {}, None, False
for line in open(sys.argv[1]):
    m = re.match(r'(c?fn|c?ob|c?fi|c?fe|fl)=\((\d+)\)(?: (.*))?', line)
    if m:
        kind, ident, name = m.group(1), m.group(2), m.group(3)
        key = ('ob' if kind.endswith('ob') else
               'fn' if kind.endswith('fn') else 'fl') + ident
        if name:
            names[key] = name.strip()
        if kind in ('fn',):
            fn = names.get(key, key)
        continue
    if line.startswith('calls='):
        skip = True
        continue
    m = re.match(r'[+*-]?\d*\s+(\d+)', line)
    if m and fn is not None:
        if not skip:
            cost[fn] = cost.get(fn, 0) + int(m.group(1))
        skip = False
total, n = sum(cost.values()), int(sys.argv[2])
print(f'worker Ir: {total:,} over {n:,} requests: {total / n:,.0f} Ir per request')
print('| function | Ir per request | share |')
print('| --- | ---: | ---: |')
for f, c in sorted(cost.items(), key=lambda kv: -kv[1])[:25]:
    print(f'| `{f}` | {c / n:,.0f} | {100 * c / total:.1f}% |')
PY
