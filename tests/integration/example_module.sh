#!/bin/bash
# example_module.sh -- build contrib/example-module the way an out-of-tree
# author would, against a freshly installed <prefork/module.h> and
# prefork.pc found with pkg-config, then load it into the real binary and
# talk to it.  Run by `make check` with PF_BUILDDIR, PF_SRCDIR and MAKE in
# the environment.  Exit 0 when every step passed, 1 otherwise, 77 (skip)
# when there is no C compiler or pkg-config.
set -u

: "${PF_BUILDDIR:?PF_BUILDDIR must name the build directory}"
: "${PF_SRCDIR:?PF_SRCDIR must name the source directory}"
MAKE=${MAKE:-make}
PREFORK=$PF_BUILDDIR/src/prefork

for tool in cc pkg-config; do
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

tmp=$(mktemp -d /tmp/pf-example-XXXXXX) || exit 99
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

# Show a step's log when it fails, so `make check`'s .log says why.
show() { sed 's/^/    /' "$1"; }

# A TCP port nobody listens on (the kernel's pick when python3 is there).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0));
print(s.getsockname()[1])' 2>/dev/null && return
    echo $((20000 + RANDOM % 30000))
}

# ask PORT TEXT: send TEXT, print the two lines that come back.
ask() {
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "%s" "$2" >&3
        read -r a <&3 && read -r b <&3 && printf "%s|%s\n" "$a" "$b"
    ' ask "$1" "$2" | tr -d '\r'
}

# --- 1. install the header and prefork.pc into a staging root ------------
# Automake names the targets after how Makefile.am declares them
# (install-nobase_includeHEADERS, install-pkgincludeHEADERS, ...).
root=$tmp/root
targets=$(sed -n 's/^\(install-[A-Za-z_]*\(HEADERS\|pkgconfigDATA\)\):.*/\1/p' \
    "$PF_BUILDDIR/Makefile" | sort -u | tr '\n' ' ')
echo "installing with: $targets"
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
check "prefork.pc installed" test -n "$pc"
[ -n "$pc" ] || summary

# pkg-config sees only the staging root: as a user would after make install.
export PKG_CONFIG_PATH=${pc%/*}
export PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
libdir=$(pkg-config --variable=libdir prefork)
check "pkg-config finds prefork (libdir $libdir)" test -n "$libdir"
cflags=$(pkg-config --cflags prefork)
check "pkg-config --cflags points into the staging root ($cflags)" \
    test "${cflags#*"$root"}" != "$cflags"
# What an author's #include <prefork/module.h> will find.
incdir=$root$(PKG_CONFIG_SYSROOT_DIR= pkg-config --variable=includedir prefork)
check "module.h installed as \$includedir/prefork/module.h" \
    test -f "$incdir/prefork/module.h"
if [ ! -f "$incdir/prefork/module.h" ]; then
    echo "    installed instead:"
    find "$root" -name module.h | sed 's/^/      /'
fi

# --- 2. build the example out of the tree -------------------------------
ex=$tmp/example
mkdir -p "$ex"
cp "$PF_SRCDIR/contrib/example-module/hello.c" \
    "$PF_SRCDIR/contrib/example-module/Makefile" "$ex/"
if $MAKE -C "$ex" CFLAGS="-O2 -Wall -Wextra -Werror" >"$ex/build.log" 2>&1 &&
    [ -f "$ex/hello.so" ]; then
    pass "contrib/example-module builds without warnings"
else
    fail "contrib/example-module builds without warnings"
    show "$ex/build.log"
    summary
fi
if command -v nm >/dev/null 2>&1; then
    exports=$(nm -D --defined-only "$ex/hello.so" |
        awk '$2 ~ /^[A-Z]$/ && $3 !~ /^_/ { print $3 }' | tr '\n' ' ')
    check "hello.so exports prefork_module only ($exports)" \
        test "$exports" = "prefork_module "
fi

# --- 3. serve with it --------------------------------------------------------
p1=$(free_port)
p2=$(free_port)
while [ "$p2" = "$p1" ]; do p2=$(free_port); done
cat >"$tmp/server.ini" <<EOF
[server]
pidfile = $tmp/prefork.pid
error_log = $tmp/error.log
module_path = $PF_BUILDDIR/src/modules/.libs

[greeter]
module = $ex/hello.so
listen = 127.0.0.1:$p1
workers = 1
greeting = bonjour

[plain]
module = $ex/hello.so
listen = 127.0.0.1:$p2
workers = 1
EOF
check "prefork -t accepts the module and its key" \
    sh -c "'$PREFORK' -t -c '$tmp/server.ini' | grep -q 'configuration OK'"
echo "salutation = hi" >>"$tmp/server.ini"
check "prefork -t refuses a key the module does not declare" \
    sh -c "! '$PREFORK' -t -c '$tmp/server.ini' 2>/dev/null"
sed -i '$d' "$tmp/server.ini"

"$PREFORK" -f -c "$tmp/server.ini" >"$tmp/stdout" 2>&1 &
master=$!
for _ in $(seq 100); do
    [ -s "$tmp/prefork.pid" ] && break
    kill -0 "$master" 2>/dev/null || break
    sleep 0.1
done
if [ -s "$tmp/prefork.pid" ]; then
    pass "prefork starts with hello.so"
    got=$(ask "$p1" $'world\nsecond line\n')
    check "greeting = bonjour answers each line ($got)" \
        test "$got" = "bonjour world|bonjour second line"
    got=$(ask "$p2" $'a\r\nb\n')
    check "the default greeting is hello ($got)" test "$got" = "hello a|hello b"
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
else
    fail "prefork starts with hello.so"
    show "$tmp/stdout"
    [ -f "$tmp/error.log" ] && show "$tmp/error.log"
fi

summary
