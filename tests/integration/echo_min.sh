#!/bin/bash
# echo_min.sh -- build contrib/echo-min/echo.c with the one command its
# README gives, against a freshly installed <prefork/module.h> and
# prefork.pc, load it as `module = ./myecho.so` into the real binary and
# check that it echoes, two clients at once.  Run by `make check` with
# PF_BUILDDIR, PF_SRCDIR and MAKE in the environment.  Exit 0 when every
# step passed, 1 otherwise, 77 (skip) without a C compiler or pkg-config.
set -u

: "${PF_BUILDDIR:?PF_BUILDDIR must name the build directory}"
: "${PF_SRCDIR:?PF_SRCDIR must name the source directory}"
MAKE=${MAKE:-make}
PREFORK=$PF_BUILDDIR/src/prefork

for tool in cc pkg-config timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found"
        exit 77
    fi
done

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: one step, pass or fail
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

tmp=$(mktemp -d /tmp/pf-echomin-XXXXXX) || exit 99
master=
cleanup() {
    if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
        kill -KILL "$master" 2>/dev/null
        wait "$master" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

show() { sed 's/^/    /' "$1"; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0));
print(s.getsockname()[1])' 2>/dev/null && return
    echo $((20000 + RANDOM % 30000))
}

# --- 1. install the header and prefork.pc into a staging root ------------
root=$tmp/root
targets=$(sed -n 's/^\(install-[A-Za-z_]*\(HEADERS\|pkgconfigDATA\)\):.*/\1/p' \
    "$PF_BUILDDIR/Makefile" | sort -u | tr '\n' ' ')
# shellcheck disable=SC2086 # one word per target
if [ -n "$targets" ] && $MAKE -C "$PF_BUILDDIR" $targets DESTDIR="$root" \
        >"$tmp/install.log" 2>&1; then
    pass "install <prefork/module.h> and prefork.pc under DESTDIR"
else
    fail "install <prefork/module.h> and prefork.pc under DESTDIR"
    show "$tmp/install.log"
    summary
fi
pc=$(find "$root" -name prefork.pc | head -n 1)
[ -n "$pc" ] || { fail "prefork.pc installed"; summary; }
export PKG_CONFIG_PATH=${pc%/*}
export PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1

# --- 2. the README's build command, and the 25-line promise ----------------
ex=$tmp/echo
mkdir -p "$ex"
cp "$PF_SRCDIR/contrib/echo-min/echo.c" "$ex/"
lines=$(wc -l <"$ex/echo.c")
check "echo.c is at most 25 lines ($lines)" test "$lines" -le 25
# shellcheck disable=SC2046 # pkg-config prints words
if (cd "$ex" && cc -shared -fPIC -Wall -Wextra -Werror \
        $(pkg-config --cflags prefork) -o myecho.so echo.c) \
        >"$ex/build.log" 2>&1 && [ -f "$ex/myecho.so" ]; then
    pass "cc -shared -fPIC \$(pkg-config --cflags prefork) builds myecho.so"
else
    fail "cc -shared -fPIC \$(pkg-config --cflags prefork) builds myecho.so"
    show "$ex/build.log"
    summary
fi

# --- 3. serve with it --------------------------------------------------------
port=$(free_port)
cat >"$ex/server.ini" <<EOI
[server]
pidfile = $tmp/prefork.pid
error_log = $tmp/error.log

[myecho]
module = ./myecho.so
listen = 127.0.0.1:$port
workers = 1
min_spare = 1
max_spare = 2
max_workers = 4
EOI
check "prefork -t accepts module = ./myecho.so" \
    sh -c "'$PREFORK' -t -c '$ex/server.ini' | grep -q 'configuration OK'"

"$PREFORK" -f -c "$ex/server.ini" >"$tmp/stdout" 2>&1 &
master=$!
for _ in $(seq 100); do
    [ -s "$tmp/prefork.pid" ] && break
    kill -0 "$master" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$tmp/prefork.pid" ]; then
    fail "prefork starts with myecho.so"
    show "$tmp/stdout"
    [ -f "$tmp/error.log" ] && show "$tmp/error.log"
    summary
fi
pass "prefork starts with myecho.so"

# A client that holds its connection open (a blocking worker is its own),
# then a second one that must still be served beside it.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'first\n' >&3
if read -r -t 5 a <&3; then :; else a=; fi
check "a held connection echoes ($a)" test "$a" = "first"
got=$(timeout 10 bash -c '
    exec 4<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "one\ntwo\n" >&4
    read -r x <&4 && read -r y <&4 && printf "%s|%s\n" "$x" "$y"
' ask "$port")
check "a second client is echoed beside it ($got)" test "$got" = "one|two"
printf 'again\n' >&3
if read -r -t 5 a <&3; then :; else a=; fi
check "the held connection still echoes ($a)" test "$a" = "again"
exec 3>&-

kill -TERM "$master"
for _ in $(seq 50); do
    kill -0 "$master" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$master" 2>/dev/null; then
    fail "prefork stops on TERM within 5s"
else
    wait "$master"
    check "prefork stops on TERM with status 0" test $? -eq 0
    master=
fi
summary
