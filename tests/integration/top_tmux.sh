#!/bin/bash
# top_tmux.sh -- `prefork -s top` in a real terminal: a tmux pane runs it
# against a running master; the pane must show the view on the alternate
# screen with the cursor hidden, count requests made meanwhile, and, when
# Ctrl-C (then, a second time, `q`) ends it, give the terminal back as it
# was: the main screen, the cursor, and the same `stty -a` as before.
# Run by `make check` with PF_BUILDDIR and PF_SRCDIR in the environment.
# Exit 0 when every step passed, 1 otherwise, 77 (skip) without tmux.
set -u

# shellcheck source=tests/integration/lib.sh
. "${0%/*}/lib.sh" top_tmux tmux curl timeout

web=$(free_port)
mkdir -p "$tmp/www"
echo hello > "$tmp/www/index.html"
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
INI
start_master "$tmp/prefork.ini" "$tmp/prefork.pid" "an http service" || summary

T() { tmux -S "$tmp/tmux.sock" "$@"; }
T new-session -d -x 132 -y 30 -s top "bash --norc --noprofile" || {
    fail "tmux starts a session"; summary; }
pids+=("$(T display-message -p -t top '#{pid}')")
pane() { T capture-pane -p -t top; }
flag() { T display-message -p -t top "#{$1}"; }
# wait_for TEXT: up to 10 s for the pane to show it.
wait_for() {
    for _ in $(seq 100); do
        pane | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    pane | sed 's/^/    | /'
    return 1
}

# run_top NAME KEY: run -s top in the pane, look at it, end it with KEY.
run_top() {
    local name=$1 key=$2 rate
    T send-keys -t top "stty -a > $tmp/stty.before.$name; $PREFORK -c $tmp/prefork.ini -s top; echo $name-EXIT=\$?; stty -a > $tmp/stty.after.$name" Enter
    check "$name: the view shows the services" wait_for "SERVICE"
    check "$name: on the alternate screen" test "$(flag alternate_on)" = 1
    check "$name: with the cursor hidden" test "$(flag cursor_flag)" = 0
    for _ in $(seq 200); do curl -fs "http://127.0.0.1:$web/" -o /dev/null; done
    rate=0
    for _ in $(seq 30); do
        rate=$(pane | awk '$1 == "web" { print $2 }')
        [ -n "$rate" ] && [ "${rate%.*}" -gt 0 ] 2>/dev/null && break
        sleep 0.1
    done
    check "$name: web's requests per second shows the load ($rate)" \
        test "${rate%.*}" -gt 0
    T send-keys -t top "$key"
    check "$name: $key ends it with status 0" wait_for "$name-EXIT=0"
    for _ in $(seq 50); do [ -s "$tmp/stty.after.$name" ] && break; sleep 0.1; done
    check "$name: back on the main screen" test "$(flag alternate_on)" = 0
    check "$name: the cursor shows again" test "$(flag cursor_flag)" = 1
    check "$name: the terminal's modes are as before (stty -a)" \
        cmp -s "$tmp/stty.before.$name" "$tmp/stty.after.$name"
}
run_top ctrlc C-c
run_top quit q

T kill-server
stop_master
summary
