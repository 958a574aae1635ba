#!/bin/bash
# echo_min.sh -- build contrib/echo-min/echo.c with the one command its
# README gives, against a freshly installed <prefork/module.h> and
# prefork.pc, load it as `module = ./myecho.so` into the real binary and
# check that it echoes, two clients at once.  Run by `make check` with
# PF_BUILDDIR, PF_SRCDIR and MAKE in the environment.  Exit 0 when every
# step passed, 1 otherwise, 77 (skip) without a C compiler or pkg-config.
set -u

# shellcheck source=tests/integration/lib.sh
. "${0%/*}/lib.sh" echomin cc pkg-config timeout

# --- 1. install the header and prefork.pc into a staging root ------------
stage_sdk

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

start_master "$ex/server.ini" "$tmp/prefork.pid" myecho.so || summary

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

stop_master

summary
