#!/bin/bash
# prometheus.sh -- the status module scraped by a real Prometheus.  One
# prefork with an http service (2 workers) and a status service on
# loopback ports; `promtool check metrics` on its Prometheus text, the
# Python client's OpenMetrics parser on its OpenMetrics text (when
# python3-prometheus-client is there), `promtool check config` and `check
# rules` on contrib/prometheus.yml and contrib/prefork-rules.yml; then
# Debian's prometheus started on contrib/prometheus.yml with a 1 s scrape
# interval, load on the http service (a keep-alive client, 8 s), and its
# HTTP API asked for `rate(prefork_requests_total[5s]) > 0` and the p99
# from the histogram (between 0 and 2.5 s).  Run by `make check` with
# PF_BUILDDIR and PF_SRCDIR in the environment.  Exit 0 when every step
# passed, 1 otherwise, 77 (skip) without prometheus, promtool or curl.
set -u

# shellcheck source=tests/integration/lib.sh
. "${0%/*}/lib.sh" prometheus prometheus promtool curl python3 timeout

web=$(free_port)
stat=$(free_port)
prom=$(free_port)
while [ "$stat" = "$web" ]; do stat=$(free_port); done
while [ "$prom" = "$web" ] || [ "$prom" = "$stat" ]; do prom=$(free_port); done

mkdir -p "$tmp/www"
head -c 1024 /dev/urandom | base64 > "$tmp/www/index.html"
cat > "$tmp/prefork.ini" <<INI
[server]
pidfile = $tmp/prefork.pid
error_log = $tmp/error.log
module_path = $PF_BUILDDIR/src/modules/.libs
[web]
module = http
listen = 127.0.0.1:$web
root = $tmp/www
workers = 2
[status]
module = status
listen = 127.0.0.1:$stat
workers = 1
allow = 127.0.0.0/8, ::1
INI
start_master "$tmp/prefork.ini" "$tmp/prefork.pid" "an http and a status service" ||
    summary

# The two formats, checked by their own parsers.
curl -fsS "http://127.0.0.1:$stat/metrics" > "$tmp/metrics.prom"
check "promtool check metrics (Prometheus text 0.0.4)" \
    promtool check metrics < "$tmp/metrics.prom"
curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' \
    "http://127.0.0.1:$stat/metrics" > "$tmp/metrics.om"
check "the OpenMetrics text ends with # EOF" \
    test "$(tail -n 1 "$tmp/metrics.om")" = "# EOF"
if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
    check "the OpenMetrics parser of prometheus_client takes it" \
        /usr/bin/python3 -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
list(text_string_to_metric_families(open(sys.argv[1]).read()))' "$tmp/metrics.om"
else
    echo "(python3-prometheus-client not installed: OpenMetrics parser skipped)"
fi

# contrib's scrape config, pointed at this server, every second.
cp "$PF_SRCDIR/contrib/prefork-rules.yml" "$tmp/"
sed -e "s/127.0.0.1:9145/127.0.0.1:$stat/" \
    -e "s/scrape_interval: 15s/scrape_interval: 1s/" \
    -e "s/evaluation_interval: 15s/evaluation_interval: 1s/" \
    "$PF_SRCDIR/contrib/prometheus.yml" > "$tmp/prometheus.yml"
check "promtool check rules contrib/prefork-rules.yml" \
    promtool check rules "$tmp/prefork-rules.yml"
check "promtool check config contrib/prometheus.yml" \
    promtool check config "$tmp/prometheus.yml"

prometheus --config.file="$tmp/prometheus.yml" \
    --storage.tsdb.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$prom" > "$tmp/prometheus.out" 2>&1 &
pids+=($!)
ready=0
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$prom/-/ready" >/dev/null 2>&1 && { ready=1; break; }
    sleep 0.2
done
if [ "$ready" = 1 ]; then pass "prometheus is ready"; else
    fail "prometheus did not start"; show "$tmp/prometheus.out"; summary; fi

# Load: one keep-alive client for 8 s.
python3 - "$web" > "$tmp/load.out" 2>&1 <<'PY' &
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
n, end = 0, time.time() + 8
while time.time() < end:
    c.request("GET", "/")
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    n += 1
print(n, "requests")
PY
load=$!

# query EXPR: the API's answer, the sample values one per line.
query() {
    curl -fsS --get --data-urlencode "query=$1" \
        "http://127.0.0.1:$prom/api/v1/query" |
        python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d
for r in d["data"]["result"]:
    print(r["value"][1])'
}

rate='rate(prefork_requests_total{service="web"}[5s]) > 0'
p99='histogram_quantile(0.99, sum by (le) (rate(prefork_request_duration_seconds_bucket{service="web"}[5s])))'
got_rate= got_p99=
for _ in $(seq 40); do
    got_rate=$(query "$rate" 2>/dev/null | head -n 1)
    got_p99=$(query "$p99" 2>/dev/null | head -n 1)
    [ -n "$got_rate" ] && [ -n "$got_p99" ] && [ "$got_p99" != NaN ] && break
    sleep 0.5
done
echo "rate: $got_rate/s  p99: $got_p99 s"
check "the target is up" test "$(query 'up{job="prefork"}')" = 1
check "rate(prefork_requests_total[5s]) > 0" test -n "$got_rate"
check "histogram_quantile(0.99, ...) within (0, 2.5] s" python3 -c "
import sys; v = float(sys.argv[1]); sys.exit(not 0 < v <= 2.5)" "${got_p99:-nan}"
check "build info is there" \
    test "$(query 'prefork_build_info{abi="1.4"}')" = 1
# Prometheus asks for OpenMetrics first: its metadata then says "info",
# a type only that format has.
type=$(curl -fsS "http://127.0.0.1:$prom/api/v1/targets/metadata" |
    python3 -c 'import json, sys
print(*[m["type"] for m in json.load(sys.stdin)["data"]
        if m["metric"] == "prefork_build"])')
check "prometheus scraped OpenMetrics (prefork_build is an info family: $type)" \
    test "$type" = info
check "the listen queue's limit is there" \
    test -n "$(query "prefork_listen_queue_limit{service=\"web\"}")"
wait "$load"
check "the load got 200s throughout" grep -q requests "$tmp/load.out"
cat "$tmp/load.out"
stop_master
summary
