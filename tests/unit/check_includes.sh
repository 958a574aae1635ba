#!/bin/sh
# check_includes.sh -- scripts/check-includes on small trees made here:
# it must fail on a cycle (printing it) and pass on a tree without one,
# so that the check CI runs on src/ can fail at all.  Run by `make check`
# with PF_SRCDIR in the environment.  Exit 0 when every case passed, 1
# otherwise, 77 (skip) without python3.
set -u

: "${PF_SRCDIR:?PF_SRCDIR must name the source directory}"
script=$PF_SRCDIR/scripts/check-includes

if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP: python3 not found"
    exit 77
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

tmp=$(mktemp -d /tmp/pf-includes-XXXXXX) || exit 99
trap 'rm -rf "$tmp"' EXIT

# mk FILE [INCLUDE...]: a source file that includes each header named.
mk() {
    f=$tmp/$1
    shift
    mkdir -p "$(dirname "$f")"
    : >"$f"
    for h in "$@"; do
        echo "#include \"$h\"" >>"$f"
    done
}

# expect CASE STATUS PATTERN: run the script on $tmp/CASE; its exit
# status must be STATUS and its output hold the line PATTERN (grep -x).
expect() {
    out=$(python3 "$script" "$tmp/$1" 2>&1)
    rc=$?
    if [ "$rc" -eq "$2" ] && printf '%s\n' "$out" | grep -qxF -- "$3"; then
        pass "$1: exit $rc, '$3'"
    else
        fail "$1: exit $rc (wanted $2), output:"
        printf '%s\n' "$out"
    fi
}

# No cycle: a.c includes its own header and b's; b.c includes c's from
# another folder (found by its name, as through -I); system and public
# headers are not units.
mk clean/a/a.c a.h b.h
mk clean/a/a.h stdint.h
mk clean/b/b.c b.h c.h prefork/module.h
mk clean/b/b.h
mk clean/c/c.h
expect clean 0 "check-includes: 3 units, no cycle"

# A cycle through headers in two folders: a.h includes b.h, b.c a.h.
mk pair/a/a.c a.h
mk pair/a/a.h b.h
mk pair/b/b.c b.h a.h
mk pair/b/b.h
expect pair 1 "a -> b -> a"

# A longer one, beside a unit outside it; the cycle starts at its least
# unit whichever file was read first.
mk ring/x.c y.h
mk ring/y.c z.h
mk ring/z.c x.h
mk ring/x.h
mk ring/y.h
mk ring/z.h
mk ring/w.c x.h
expect ring 1 "x -> y -> z -> x"

# Two folders with a unit of the same name: "x.h" would be ambiguous.
mk twice/a/x.h
mk twice/b/x.h
mk twice/b/y.c x.h
expect twice 2 "check-includes: unit x is in more than one folder: $tmp/twice/a, $tmp/twice/b"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
