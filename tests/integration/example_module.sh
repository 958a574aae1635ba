#!/bin/bash
# example_module.sh -- build contrib/example-module the way an out-of-tree
# author would, against a freshly installed <prefork/module.h> and
# prefork.pc found with pkg-config, then load it into the real binary and
# talk to it.  Run by `make check` with PF_BUILDDIR, PF_SRCDIR and MAKE in
# the environment.  Exit 0 when every step passed, 1 otherwise, 77 (skip)
# when there is no C compiler or pkg-config.
set -u

# shellcheck source=tests/integration/lib.sh
. "${0%/*}/lib.sh" example cc pkg-config

# ask PORT TEXT: send TEXT, print the two lines that come back.
ask() {
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "%s" "$2" >&3
        read -r a <&3 && read -r b <&3 && printf "%s|%s\n" "$a" "$b"
    ' ask "$1" "$2" | tr -d '\r'
}

# --- 1. install the header and prefork.pc into a staging root ------------
stage_sdk
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

if start_master "$tmp/server.ini" "$tmp/prefork.pid" hello.so; then
    got=$(ask "$p1" $'world\nsecond line\n')
    check "greeting = bonjour answers each line ($got)" \
        test "$got" = "bonjour world|bonjour second line"
    got=$(ask "$p2" $'a\r\nb\n')
    check "the default greeting is hello ($got)" test "$got" = "hello a|hello b"
    stop_master
fi

summary
