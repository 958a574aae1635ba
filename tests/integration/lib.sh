# lib.sh -- what the shell tests share, sourced by example_module.sh,
# echo_min.sh and haproxy.sh (bash): the environment `make check` gives
# them, a skip when a tool is missing, one counted line per step, a
# temporary directory removed at exit with every process the test
# started, a free port, and the staging install an out-of-tree module
# author builds against.  A test sources it first, with its own name:
#
#     . "${0%/*}/lib.sh" NAME TOOL...
#
# which skips (77) without one of the TOOLs, and makes $tmp,
# /tmp/pf-NAME-XXXXXX.
# shellcheck shell=bash

: "${PF_BUILDDIR:?PF_BUILDDIR must name the build directory}"
: "${PF_SRCDIR:?PF_SRCDIR must name the source directory}"
MAKE=${MAKE:-make}
PREFORK=$PF_BUILDDIR/src/prefork

lib_name=$1
shift
for tool in "$@"; do
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
# The counts, in the line tests/criterion-run and scripts/test read; exit
# 0 when nothing failed.
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

# Show a step's log when it fails, so `make check`'s .log says why.
show() { sed 's/^/    /' "$1"; }

tmp=$(mktemp -d "/tmp/pf-$lib_name-XXXXXX") || exit 99
pids=() # processes to kill at exit; a test adds what it starts
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# A TCP port nobody listens on (the kernel's pick when python3 is there).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0));
print(s.getsockname()[1])' 2>/dev/null && return
    echo $((20000 + RANDOM % 30000))
}

# stage_sdk: install <prefork/module.h> and prefork.pc under $tmp/root
# and point pkg-config there alone, as a user's would be after `make
# install`; sets $root and $pc.  Ends the test (summary) when it cannot.
stage_sdk() {
    local targets
    root=$tmp/root
    # Automake names the targets after how Makefile.am declares them
    # (install-nobase_includeHEADERS, install-pkgincludeHEADERS, ...).
    targets=$(sed -n \
        's/^\(install-[A-Za-z_]*\(HEADERS\|pkgconfigDATA\)\):.*/\1/p' \
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
    export PKG_CONFIG_PATH=${pc%/*}
    export PKG_CONFIG_SYSROOT_DIR=$root
    export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1
}

# start_master CONF PIDFILE WHAT: prefork -f on CONF in the background
# ($master), up once PIDFILE is written; passes or fails "prefork starts
# with WHAT", showing its output and $tmp/error.log on failure.  Returns
# 1 when it did not start.
start_master() {
    "$PREFORK" -f -c "$1" >"$tmp/stdout" 2>&1 &
    master=$!
    pids+=("$master")
    for _ in $(seq 100); do
        [ -s "$2" ] && break
        kill -0 "$master" 2>/dev/null || break
        sleep 0.1
    done
    if [ -s "$2" ]; then
        pass "prefork starts with $3"
        return 0
    fi
    fail "prefork starts with $3"
    show "$tmp/stdout"
    [ -f "$tmp/error.log" ] && show "$tmp/error.log"
    return 1
}

# stop_master: TERM to $master, which must be gone within 5 s with status
# 0.
stop_master() {
    local status
    kill -TERM "$master"
    for _ in $(seq 50); do
        kill -0 "$master" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$master" 2>/dev/null; then
        fail "prefork stops on TERM within 5s"
        return
    fi
    wait "$master"
    status=$?
    check "prefork stops on TERM with status 0" test "$status" -eq 0
    forget "$master"
}

# forget PID: a process reaped, whose pid may be another's by exit time.
forget() {
    local p kept=()
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
    pids=("${kept[@]}")
}
