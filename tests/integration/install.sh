#!/bin/bash
# install.sh -- `make install` into a temporary DESTDIR, every installed
# file checked, then the installed SysV init script driving the installed
# binary: start, status, configtest, reload (and a reload refused), log
# rotation, restart, upgrade (and one to a binary that cannot start), stop;
# finally `make uninstall`.  Each step checks the pidfile, the master's
# children and the answers over real sockets.  Run by `make check` with
# PF_BUILDDIR, PF_SRCDIR and MAKE in the environment.  Prints `ok N - what`
# or `not ok N - what` per check, then the counts; exits 0 when all passed,
# 1 otherwise, 77 (skip) without start-stop-daemon or python3.
# Functions called through check and wait_for look unreachable to shellcheck.
# shellcheck disable=SC2317,SC2001
set -u

: "${PF_BUILDDIR:?PF_BUILDDIR must name the build directory}"
: "${PF_SRCDIR:?PF_SRCDIR must name the source directory}"
MAKE=${MAKE:-make}
PATH=$PATH:/usr/sbin:/sbin

for tool in start-stop-daemon python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found"
        exit 77
    fi
done

n=0
passed=0
failed=0
pass() {
    n=$((n + 1)) passed=$((passed + 1))
    echo "ok $n - $*"
}
fail() {
    n=$((n + 1)) failed=$((failed + 1))
    echo "not ok $n - $*"
}
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
summary() {
    # The first line is the one tests/criterion-run and scripts/test count.
    echo "$passed passed, $failed failed"
    echo "install: $passed checks passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
show() { [ -f "$1" ] && sed 's/^/    # /' "$1"; }

tmp=$(mktemp -d /tmp/pf-install-XXXXXX) || exit 99
dest=$tmp/dest
run=$tmp/run
mkdir -p "$run/www"
# A daemon's stderr is /dev/null: in a sanitizer build, reports go to files.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$tmp/sanitizer
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$tmp/sanitizer

# Every master this test may have started, for the trap.
masters=
remember() { masters="$masters $*"; }
cleanup() {
    local p
    for f in "$run/prefork.pid" "$run/prefork.pid.oldbin"; do
        [ -s "$f" ] && remember "$(cat "$f")"
    done
    for p in $masters; do
        alive "$p" || continue
        # shellcheck disable=SC2046 # one word per pid
        kill -KILL $(kids "$p") "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_for COMMAND...: true once COMMAND is, polling 100 times 0.1 s.
wait_for() {
    local _
    for _ in $(seq 100); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# The live (not zombie) children of a pid, sorted, on one line.
children() {
    local f line pid
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        pid=${f#/proc/}
        pid=${pid%/stat}
        line=${line##*) } # "STATE PPID ...", whatever the name holds
        # shellcheck disable=SC2086 # split into its fields
        set -- $line
        [ "$2" = "$parent" ] && [ "$1" != Z ] && echo "$pid"
    done | sort -n | tr '\n' ' '
}
kids() { local parent=$1; children; }
nkids() {
    # shellcheck disable=SC2046 # one word per pid
    set -- $(kids "$1")
    echo $#
}
has_kids() { [ "$(nkids "$1")" -eq "$2" ]; }
# Alive and not a zombie waiting for its parent.
alive() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    local line
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    line=${line##*) }
    [ "${line%% *}" != Z ]
}
dead() { ! alive "$1"; }
gone() { [ ! -e "$1" ]; }
pidof_file() { cat "$1" 2>/dev/null; }
pid_live() { alive "$(pidof_file "$1")"; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0));
print(s.getsockname()[1])'
}

# get PORT PATH [CAFILE]: the status line of a GET, then the body; over
# TLS, verified against CAFILE, when one is given.
get() {
    python3 - "$@" <<'EOF' 2>&1
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
if len(sys.argv) > 3:
    s = ssl.create_default_context(cafile=sys.argv[3]).wrap_socket(
        s, server_hostname="localhost")
s.sendall(b"GET " + sys.argv[2].encode() + b" HTTP/1.0\r\nHost: localhost\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
sys.stdout.write(head.split(b"\r\n")[0].decode() + "\n" + body.decode())
EOF
}
# echo_line PORT TEXT: what the echo service sends back for one line.
echo_line() {
    python3 - "$1" "$2" <<'EOF' 2>&1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while not data.endswith(b"\n"):
    b = s.recv(4096)
    if not b:
        break
    data += b
sys.stdout.write(data.decode())
EOF
}
# serves: HTTP and HTTPS return the document and echo answers.
serves() {
    local got
    got=$(get "$p_http" /index.html)
    [ "$got" = "$(printf 'HTTP/1.1 200 OK\n%s' "$page")" ] ||
        [ "$got" = "$(printf 'HTTP/1.0 200 OK\n%s' "$page")" ] || {
        echo "    # GET /index.html gave: $(echo "$got" | head -n 3)"
        return 1
    }
    got=$(get "$p_https" /index.html "$run/certs/ca.pem")
    [ "$got" = "$(printf 'HTTP/1.1 200 OK\n%s' "$page")" ] ||
        [ "$got" = "$(printf 'HTTP/1.0 200 OK\n%s' "$page")" ] || {
        echo "    # GET https://.../index.html gave: $(echo "$got" | head -n 3)"
        return 1
    }
    got=$(echo_line "$p_echo" "ping $$")
    [ "$got" = "ping $$" ] || {
        echo "    # echo gave: $got"
        return 1
    }
}

# --- the installation directories, as configure set them --------------------
# (A marker, as make may print "Entering directory" whatever it is told.)
# shellcheck disable=SC2016 # make expands these
vars=$($MAKE -s --no-print-directory -C "$PF_BUILDDIR" --eval '_pf_dirs: ; @echo "PFDIRS|$(prefix)|$(sbindir)|$(libdir)|$(pkglibdir)|$(includedir)|$(sysconfdir)|$(pkgdatadir)|$(mandir)|$(runstatedir)|$(localstatedir)|$(systemdsystemunitdir)|$(sysusersdir)"' _pf_dirs 2>"$tmp/vars.log" | sed -n 's/^PFDIRS|//p')
IFS='|' read -r prefix sbindir libdir pkglibdir includedir sysconfdir \
    pkgdatadir mandir runstatedir localstatedir unitdir sysusersdir <<<"$vars"
if [ -z "${unitdir:-}" ]; then
    fail "read the installation directories from $PF_BUILDDIR/Makefile"
    show "$tmp/vars.log"
    summary
fi
echo "# prefix $prefix, sysconfdir $sysconfdir, units in $unitdir"

# --- 1. make install DESTDIR ----------------------------------------------
if $MAKE -C "$PF_BUILDDIR" install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
    pass "make install DESTDIR=$dest"
else
    fail "make install DESTDIR=$dest"
    show "$tmp/install.log"
    summary
fi

D=$dest
conf=$D$sysconfdir/prefork/server.ini
initd=$D$sysconfdir/init.d/prefork
check "the binary: \$(sbindir)/prefork" test -x "$D$sbindir/prefork"
for m in http echo udp_echo; do
    check "the module: \$(pkglibdir)/$m.so" test -f "$D$pkglibdir/$m.so"
done
check "the TLS layer: \$(pkglibdir)/prefork-tls.so" \
    test -f "$D$pkglibdir/prefork-tls.so"
# OpenSSL is the layer's: the binary maps it only once it loads the layer.
check "the binary does not link OpenSSL" \
    sh -c "! ldd '$D$sbindir/prefork' | grep -q -e libssl -e libcrypto"
check "the header: \$(includedir)/prefork/module.h" \
    test -f "$D$includedir/prefork/module.h"
check "prefork.pc in \$(libdir)/pkgconfig" test -f "$D$libdir/pkgconfig/prefork.pc"
check "the document root: \$(pkgdatadir)/www/index.html" \
    cmp -s "$PF_SRCDIR/www/index.html" "$D$pkgdatadir/www/index.html"
for p in man8/prefork.8 man5/prefork.ini.5 man3/prefork-module.3; do
    check "the manual: \$(mandir)/$p" test -s "$D$mandir/$p"
done
if command -v mandoc >/dev/null 2>&1; then
    lint=$(mandoc -T lint -W warning "$D$mandir"/man*/prefork* 2>&1)
    check "mandoc -T lint finds nothing in the installed pages" test -z "$lint"
    [ -z "$lint" ] || echo "$lint" | sed 's/^/    # /'
fi

check "server.ini in \$(sysconfdir)/prefork" test -f "$conf"
check "server.ini sets no module_path" sh -c "! grep -q '^module_path' '$conf'"
check "server.ini daemonizes" grep -qx 'daemonize = yes' "$conf"
check "server.ini: pidfile in \$(runstatedir)/prefork" \
    grep -qx "pidfile = $runstatedir/prefork/prefork.pid" "$conf"
check "server.ini: error_log in \$(localstatedir)/log/prefork" \
    grep -qx "error_log = $localstatedir/log/prefork/error.log" "$conf"
check "server.ini: access_log in \$(localstatedir)/log/prefork" \
    grep -qx "access_log = $localstatedir/log/prefork/access.log" "$conf"
check "server.ini: root = \$(pkgdatadir)/www" grep -qx "root = $pkgdatadir/www" "$conf"
check "the log directory \$(localstatedir)/log/prefork" \
    test -d "$D$localstatedir/log/prefork"
case $runstatedir in
/run | /var/run) ;; # a system's own, not installed
*) check "the pidfile's directory \$(runstatedir)/prefork" \
    test -d "$D$runstatedir/prefork" ;;
esac

check "the init script: \$(sysconfdir)/init.d/prefork, executable" test -x "$initd"
check "the init script parses (sh -n)" sh -n "$initd"
check "the init script has its LSB header" grep -q '^### BEGIN INIT INFO' "$initd"
check "the init script runs \$(sbindir)/prefork" \
    grep -q "^DAEMON=$sbindir/prefork\$" "$initd"
service=$D$unitdir/prefork.service
socket=$D$unitdir/prefork.socket
logrotate=$D$sysconfdir/logrotate.d/prefork
check "the systemd units in $unitdir" test -f "$service" -a -f "$socket"
check "prefork.service runs prefork -f as Type=notify" sh -c "
    grep -qx 'ExecStart=$sbindir/prefork -f -c $sysconfdir/prefork/server.ini' '$service' &&
    grep -qx 'Type=notify' '$service' && grep -qx 'NotifyAccess=main' '$service'"
check "the unit's user: \$(sysusersdir)/prefork.conf makes prefork" sh -c "
    grep -qx 'User=prefork' '$service' &&
    grep -q '^u prefork ' '$D$sysusersdir/prefork.conf'"
check "logrotate file: \$(sysconfdir)/logrotate.d/prefork" \
    grep -q "^$localstatedir/log/prefork/\*.log {" "$logrotate"
left=$(grep -l '@[a-z_]*@' "$initd" "$service" "$socket" "$logrotate" "$conf")
check "every @dir@ substituted${left:+ (not in $left)}" test -z "$left"
if command -v systemd-analyze >/dev/null 2>&1; then
    # Moved into DESTDIR so that the command paths exist.
    mkdir -p "$tmp/units"
    sed "s|$sbindir/prefork|$D$sbindir/prefork|g" "$service" >"$tmp/units/prefork.service"
    cp "$socket" "$tmp/units/"
    out=$(systemd-analyze verify --man=no "$tmp/units/prefork.service" \
        "$tmp/units/prefork.socket" 2>&1)
    check "systemd-analyze verify accepts the units" test -z "$out"
    [ -z "$out" ] || echo "$out" | sed 's/^/    # /'
fi

# --- 2. a second install keeps the administrator's server.ini -------------
echo "; edited by the administrator" >>"$conf"
$MAKE -C "$PF_BUILDDIR" install DESTDIR="$dest" >"$tmp/install2.log" 2>&1
check "a second make install succeeds and keeps an edited server.ini" \
    grep -qx '; edited by the administrator' "$conf"

# -t also reports each service's sandbox ("[NAME] sandbox: ..." and lines
# indented under it); the rest of its output is what these checks read.
without_sandbox() {
    grep -v '^\[[^]]*\] \(sandbox: \|  \)' || true
}

# --- 3. the installed binary checks configurations ------------------------
# The installed server.ini, moved into DESTDIR (every absolute path
# prefixed), with the modules of DESTDIR.
sed -e "s|^\([a-z_]* = \)/|\1$D/|" -e "/^\[server\]/a module_path = $D$pkglibdir" \
    "$conf" >"$tmp/installed.ini"
out=$("$D$sbindir/prefork" -t -c "$tmp/installed.ini" 2>&1 | without_sandbox)
check "prefork -t accepts the installed server.ini (moved into DESTDIR)" \
    test "$out" = "configuration OK"
[ "$out" = "configuration OK" ] || echo "$out" | sed 's/^/    # /'

p_http=$(free_port)
p_echo=$(free_port)
while [ "$p_echo" = "$p_http" ]; do p_echo=$(free_port); done
p_https=$(free_port)
while [ "$p_https" = "$p_http" ] || [ "$p_https" = "$p_echo" ]; do
    p_https=$(free_port)
done
# HTTPS too, so that the installed binary loads DESTDIR's TLS layer (it
# looks in module_path first).
"$PF_SRCDIR/scripts/make-test-cert" "$run/certs" >"$tmp/certs.log" 2>&1
check "scripts/make-test-cert makes the HTTPS service's certificate" \
    test -s "$run/certs/ecdsa.key"
page="installed prefork $$"
echo "$page" >"$run/www/index.html"
page=$(cat "$run/www/index.html")
pidfile=$run/prefork.pid
cat >"$run/server.ini" <<EOF
[server]
daemonize = yes
workers = 2
pidfile = $pidfile
error_log = $run/error.log
module_path = $D$pkglibdir
shutdown_timeout = 2s

[http]
module = http
listen = tcp://127.0.0.1:$p_http
root = $run/www
access_log = $run/access.log

[echo]
module = echo
listen = tcp://127.0.0.1:$p_echo

[https]
module = http
listen = tcp://127.0.0.1:$p_https
root = $run/www
tls_certificate = $run/certs/ecdsa.pem
tls_key = $run/certs/ecdsa.key
EOF
cp "$run/server.ini" "$run/good.ini"
out=$("$D$sbindir/prefork" -t -c "$run/server.ini" 2>&1 | without_sandbox)
check "the installed prefork -t accepts a config using DESTDIR's modules and TLS layer" \
    test "$out" = "configuration OK"
[ "$out" = "configuration OK" ] || echo "$out" | sed 's/^/    # /'

# --- 4. the init script ------------------------------------------------------
export DAEMON=$D$sbindir/prefork CONFFILE=$run/server.ini PIDFILE=$pidfile
init() { "$initd" "$@" >"$tmp/init.out" 2>&1; }
workers=6 # three services, two workers each

init start
rc=$?
check "init start exits 0" test $rc -eq 0
[ $rc -eq 0 ] || show "$tmp/init.out"
wait_for pid_live "$pidfile"
check "the pidfile names a live master" pid_live "$pidfile"
master=$(pidof_file "$pidfile")
remember "$master"
wait_for has_kids "$master" "$workers"
check "the master has $workers workers ($(kids "$master"))" has_kids "$master" "$workers"
check "it serves HTTP and echo" serves
show_log_on_failure() { [ "$failed" -eq 0 ] || show "$run/error.log"; }

init status
check "init status exits 0" test $? -eq 0
check "init status says running" grep -q "running (pid $master)" "$tmp/init.out"
(unset PIDFILE && "$initd" status >/dev/null 2>&1)
check "init status finds the pidfile through the config when PIDFILE is unset" \
    test $? -eq 0

init configtest
check "init configtest exits 0" test $? -eq 0

# A broken configuration: configtest says why, reload refuses, the server
# keeps running as it was.
old_kids=$(kids "$master")
sed -i '/^\[server\]/a bogus_key = 1' "$run/server.ini"
init configtest
check "init configtest fails on a broken config" test $? -ne 0
check "init configtest shows the error (server.ini:2: ... bogus_key)" \
    grep -q "server.ini:2:.*bogus_key" "$tmp/init.out"
show "$tmp/init.out"
init reload
check "init reload refuses a broken config" test $? -ne 0
sleep 0.5
check "the master is still $master" test "$(pidof_file "$pidfile")" = "$master"
check "its workers were left alone" test "$(kids "$master")" = "$old_kids"
check "it still serves" serves
cp "$run/good.ini" "$run/server.ini"

init reload
check "init reload exits 0" test $? -eq 0
replaced() { # no old worker left, and a full set of new ones
    local k
    for k in $old_kids; do
        case " $(kids "$master") " in *" $k "*) return 1 ;; esac
    done
    has_kids "$master" "$workers"
}
wait_for replaced
check "reload: same master, every worker replaced ($(kids "$master"))" replaced
check "reload: the master is still $master" test "$(pidof_file "$pidfile")" = "$master"
check "it serves after reload" serves

# --- 5. logrotate, with the installed file moved into this test's paths -------
if command -v logrotate >/dev/null 2>&1; then
    sed -e "s|$localstatedir/log/prefork/|$run/|" \
        -e "s|$runstatedir/prefork.pid|$pidfile|g" "$logrotate" >"$tmp/logrotate.conf"
    serves >/dev/null
    sleep 1.2 # the access log is written at least once a second
    if logrotate -f -s "$tmp/logrotate.state" "$tmp/logrotate.conf" \
        >"$tmp/logrotate.out" 2>&1; then
        pass "logrotate rotates the logs with the installed file"
    else
        fail "logrotate rotates the logs with the installed file"
        show "$tmp/logrotate.out"
    fi
    check "the old access log is access.log.1" test -s "$run/access.log.1"
    serves >/dev/null
    new_access() { [ -s "$run/access.log" ]; }
    wait_for new_access
    check "after USR1 the workers write a new access.log" new_access
fi
init rotate
check "init rotate exits 0" test $? -eq 0

# --- 6. restart ----------------------------------------------------------------
old=$master
init restart
rc=$?
check "init restart exits 0" test $rc -eq 0
[ $rc -eq 0 ] || show "$tmp/init.out"
wait_for pid_live "$pidfile"
master=$(pidof_file "$pidfile")
remember "$master"
check "restart: a new master ($old -> $master)" \
    sh -c "[ -n '$master' ] && [ '$master' != '$old' ]"
check "restart: the old master is gone" wait_for dead "$old"
wait_for has_kids "$master" "$workers"
check "restart: $workers workers" has_kids "$master" "$workers"
check "it serves after restart" serves

# --- 7. binary upgrade (USR2) ----------------------------------------------------
old=$master
old_kids=$(kids "$master")
init upgrade
rc=$?
check "init upgrade exits 0" test $rc -eq 0
[ $rc -eq 0 ] || show "$tmp/init.out"
master=$(pidof_file "$pidfile")
remember "$master"
check "upgrade: a new master ($old -> $master)" \
    sh -c "[ -n '$master' ] && [ '$master' != '$old' ]"
check "upgrade: the old master is gone" wait_for dead "$old"
check "upgrade: $pidfile.oldbin is gone" wait_for gone "$pidfile.oldbin"
wait_for has_kids "$master" "$workers"
check "upgrade: $workers workers of the new master" has_kids "$master" "$workers"
check "it serves after upgrade" serves

# An upgrade to a binary that passes -t but cannot start: the old master
# takes its pidfile back and serves on.  (The master execs the path it was
# started from.)
bin=$D$sbindir/prefork
mv "$bin" "$bin.real"
cat >"$bin" <<EOF
#!/bin/sh
case " \$* " in *" -t "*) exec "$bin.real" "\$@" ;; esac
echo "this prefork cannot start" >&2
exit 1
EOF
chmod +x "$bin"
old=$master
old_kids=$(kids "$master")
init upgrade
check "init upgrade to a binary that cannot start fails" test $? -ne 0
check "failed upgrade: the master is still $old, on the pidfile" \
    test "$(pidof_file "$pidfile")" = "$old"
check "failed upgrade: no .oldbin left" gone "$pidfile.oldbin"
check "failed upgrade: its workers were left alone" test "$(kids "$master")" = "$old_kids"
check "it serves after a failed upgrade" serves
mv "$bin.real" "$bin"

# --- 8. stop ---------------------------------------------------------------------
kids_before=$(kids "$master")
init stop
check "init stop exits 0" test $? -eq 0
check "stop: the pidfile is gone" gone "$pidfile"
check "stop: the master is gone" wait_for dead "$master"
all_dead() {
    local k
    for k in $kids_before; do alive "$k" && return 1; done
    return 0
}
check "stop: its workers are gone" wait_for all_dead
init status
check "init status exits 3 once stopped" test $? -eq 3
check "init status says not running" grep -q "not running" "$tmp/init.out"
init stop
check "init stop of a stopped server exits 0" test $? -eq 0
show_log_on_failure

reports=$(cat "$tmp"/sanitizer.* 2>/dev/null)
check "no sanitizer report from the installed binary" test -z "$reports"
if [ -n "$reports" ]; then
    echo "$reports" | sed 's/^/    # /'
    [ -z "${PF_REPORTS:-}" ] || printf -- '--- install.sh\n%s\n' "$reports" >>"$PF_REPORTS"
fi

# --- 9. make uninstall ---------------------------------------------------------
if $MAKE -C "$PF_BUILDDIR" uninstall DESTDIR="$dest" >"$tmp/uninstall.log" 2>&1; then
    pass "make uninstall DESTDIR=$dest"
else
    fail "make uninstall DESTDIR=$dest"
    show "$tmp/uninstall.log"
fi
left=$(find "$dest" ! -type d)
check "make uninstall leaves no file behind" test -z "$left"
[ -z "$left" ] || echo "$left" | sed 's/^/    # /'
echo "# directories left: $(cd "$dest" && find . -mindepth 1 -type d | sort | tr '\n' ' ')"

summary
