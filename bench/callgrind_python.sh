#!/usr/bin/env bash
# bench/callgrind_python.sh: instructions python3 executes on the bundled
# scripts (bench/python/) under each allocator, against python's own pymalloc.
#
# Wall time of python3 on a shared machine moves by tens of percent from run
# to run; an instruction count does not. Each script runs once per allocator
# under `valgrind --tool=callgrind` (PYTHONHASHSEED=0, so the same objects
# are made in the same order), with PYTHONMALLOC=malloc and the allocator
# preloaded as bench/run.sh does (pymalloc: no preload, python's own). Prints
# the total instructions of each run in millions and the ratio to pymalloc,
# with the geomean of the ratios. Cache misses and prefetching do not show
# here: this is the allocator's work, not its placement (see
# results/studies/python-placement.md).
#
#   bench/callgrind_python.sh [--scale X] [--scripts a,b] [--allocators a,b] [--jobs N]
# Defaults: --scale 0.2, every script of bench/run.sh, glibc, smalloc,
# jemalloc, mimalloc, tcmalloc and pymalloc, 2 jobs; pymalloc+smalloc (python's
# own allocator with libsmalloc preloaded under it) on request. Environment: BUILD_DIR
# (default <repo>/build) for lib/libsmalloc.so, PYTHON (default /usr/bin/python3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=${PYTHON:-/usr/bin/python3}
scale=0.2 jobs=2
scripts=dicts_lists,json_roundtrip,object_churn,strings,sort_live,gc_graph
want=glibc,smalloc,jemalloc,mimalloc,tcmalloc,pymalloc
while [ $# -gt 0 ]; do
    case $1 in
    --scale) scale=$2; shift ;;
    --scripts) scripts=$2; shift ;;
    --allocators) want=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "callgrind_python.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
command -v valgrind >/dev/null || { echo "callgrind_python.sh: valgrind is not installed" >&2; exit 1; }

source "$here/allocators.sh"
lib[pymalloc]= # python's own, no preload
lib[pymalloc+smalloc]=$build/lib/libsmalloc.so # python's own over libsmalloc
IFS=, read -r -a allocs <<<"$want"
IFS=, read -r -a names <<<"$scripts"
for a in "${allocs[@]}"; do
    [ -n "${lib[$a]+set}" ] || { echo "callgrind_python.sh: unknown allocator $a" >&2; exit 2; }
    [ $a = pymalloc ] || ! allocator_missing "$a" ||
        { echo "callgrind_python.sh: $a is not installed (${lib[$a]:-no library})" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One run: its total instructions into $tmp/<script>.<allocator>.
run_one() {
    local s=$1 a=$2 envs=(PYTHONHASHSEED=0)
    if [ "$a" = pymalloc ]; then
        envs+=(PYTHONMALLOC=pymalloc)
    elif [ "$a" = pymalloc+smalloc ]; then # python's own allocator over libsmalloc
        envs+=(PYTHONMALLOC=pymalloc "LD_PRELOAD=${lib[$a]}")
    else
        envs+=(PYTHONMALLOC=malloc ${lib[$a]:+LD_PRELOAD=${lib[$a]}})
    fi
    if env "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file="$tmp/$s.$a.cg" \
        "$python" "$here/python/$s.py" "$scale" >/dev/null 2>"$tmp/$s.$a.err"; then
        awk '/^(summary|totals):/ { print $2; exit }' "$tmp/$s.$a.cg" >"$tmp/$s.$a"
    else
        echo "callgrind_python.sh: $s under $a failed:" >&2
        tail -5 "$tmp/$s.$a.err" >&2
    fi
}

running=0
for s in "${names[@]}"; do
    for a in "${allocs[@]}"; do
        run_one "$s" "$a" &
        running=$((running + 1))
        if [ $running -ge "$jobs" ]; then
            wait -n || true
            running=$((running - 1))
        fi
    done
done
wait

printf 'python3 %s, PYTHONMALLOC=malloc under each allocator (pymalloc: its own), scale %s,\n' \
    "$("$python" -c 'import sys; print(sys.version.split()[0])')" "$scale"
printf 'callgrind, PYTHONHASHSEED=0: instructions, millions (x pymalloc)\n\n'
printf '%-16s' script
for a in "${allocs[@]}"; do printf '%18s' "$a"; done
printf '\n'
declare -A logsum=() count=()
for s in "${names[@]}"; do
    printf '%-16s' "$s"
    base=$(cat "$tmp/$s.pymalloc" 2>/dev/null || true)
    for a in "${allocs[@]}"; do
        v=$(cat "$tmp/$s.$a" 2>/dev/null || true)
        if [ -z "$v" ]; then
            printf '%18s' FAIL
        elif [ -n "$base" ]; then
            printf '%18s' "$(awk -v v="$v" -v b="$base" 'BEGIN { printf "%.1f x%.3f", v / 1e6, v / b }')"
            logsum[$a]=$(awk -v s="${logsum[$a]:-0}" -v v="$v" -v b="$base" 'BEGIN { printf "%.9f", s + log(v / b) }')
            count[$a]=$((${count[$a]:-0} + 1))
        else
            printf '%18s' "$(awk -v v="$v" 'BEGIN { printf "%.1f", v / 1e6 }')"
        fi
    done
    printf '\n'
done
printf '%-16s' "geomean"
for a in "${allocs[@]}"; do
    if [ -n "${count[$a]:-}" ]; then
        printf '%18s' "$(awk -v s="${logsum[$a]}" -v n="${count[$a]}" 'BEGIN { printf "x%.3f", exp(s / n) }')"
    else
        printf '%18s' -
    fi
done
printf '\n'
