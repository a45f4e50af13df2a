#!/usr/bin/env bash
# bench/callgrind.sh: instructions of one malloc(32)+free pair on the fast
# path, for glibc, libsmalloc, jemalloc, mimalloc and tcmalloc.
#
# Runs bench/pair.c (N pairs) under `valgrind --tool=callgrind` with each
# allocator preloaded, once with N and once with 2N pairs, and prints
# (Ir(2N) - Ir(N)) / N: start-up and exit costs cancel out. The same for a
# run without malloc/free gives the loop's own instructions, subtracted in
# the "net" column. This is the number README.md quotes in "Fast path cost".
#
#   bench/callgrind.sh [--size BYTES] [--n N] [--allocators a,b]
# Environment: BUILD_DIR (default <repo>/build) for lib/libsmalloc.so.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build}
size=32 n=1000000 want=glibc,smalloc,jemalloc,mimalloc,tcmalloc
while [ $# -gt 0 ]; do
    case $1 in
    --size) size=$2; shift ;;
    --n) n=$2; shift ;;
    --allocators) want=$2; shift ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "callgrind.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if ! command -v valgrind >/dev/null; then
    echo "== installing valgrind"
    sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Built here with the flags of the harness, so the numbers do not depend on
# whether a build tree exists.
cc -O2 -fno-builtin-malloc -fno-builtin-free -o "$tmp/pair" "$here/pair.c"

source "$here/allocators.sh"

# Total instructions (Ir) of one run: pair COUNT [SIZE [loop]] under callgrind.
ir() {
    local preload=$1
    shift
    env ${preload:+LD_PRELOAD=$preload} valgrind --tool=callgrind \
        --callgrind-out-file="$tmp/cg.out" "$tmp/pair" "$@" >/dev/null 2>"$tmp/vg.err" ||
        { cat "$tmp/vg.err" >&2; return 1; }
    awk '/^(summary|totals):/ { print $2; exit }' "$tmp/cg.out"
}

per_pair() { # preload, extra args -> instructions per pair (1 decimal)
    local a b
    a=$(ir "$1" "$n" "$size" ${2:-}) && b=$(ir "$1" $((2 * n)) "$size" ${2:-}) || return 1
    awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }'
}

loop=$(per_pair "" loop)
printf 'malloc(%d)+free pairs, (Ir(2N) - Ir(N)) / N with N = %d; loop and stores alone: %s\n\n' \
    "$size" "$n" "$loop"
printf '%-10s %10s %10s  %s\n' allocator "Ir/pair" net library
IFS=, read -r -a allocs <<<"$want"
for a in "${allocs[@]}"; do
    if [ -z "${lib[$a]+set}" ]; then
        echo "callgrind.sh: unknown allocator $a" >&2; continue
    fi
    if allocator_missing "$a"; then
        printf '%-10s %10s %10s  %s\n' "$a" - - "not installed"; continue
    fi
    if v=$(per_pair "${lib[$a]}"); then
        net=$(awk -v v="$v" -v l="$loop" 'BEGIN { printf "%.1f", v - l }')
        printf '%-10s %10s %10s  %s\n' "$a" "$v" "$net" "${lib[$a]:-libc.so.6}"
    else
        printf '%-10s %10s %10s  %s\n' "$a" FAIL - "${lib[$a]:-libc.so.6}"
    fi
done
