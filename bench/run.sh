#!/usr/bin/env bash
# bench/run.sh: where does libsmalloc stand? One command on a fresh Debian 12:
# installs what is missing, builds the project (Release), runs every workload
# under glibc, libsmalloc, jemalloc, mimalloc and tcmalloc (LD_PRELOAD into one
# driver binary, runs interleaved), runs python3 on the bundled scripts under
# each, runs the Google Benchmark shim once per allocator, and writes
# bench/results/latest.{json,md,png} (bench/report.py). See bench/README.md.
#
#   bench/run.sh            full run: 5 repetitions, < 15 minutes
#   bench/run.sh --quick    < 1 minute: 3 repetitions, 1/10 of the work; its
#                           results go to bench/results/quick/, so a smoke
#                           check never replaces the last full run's
#   bench/run.sh --program 'CMD ARGS'   your own program instead of the
#                           workloads: CMD (run by bash -c) under each
#                           allocator, wall/CPU time and peak RSS; results in
#                           bench/results/program/
#
# Options: --reps N, --scale X, --only w1,w2 (workloads), --allocators a,b, --secure (also the
#   hardened SMALLOC_SECURE build, as allocator smalloc_secure),
#   --no-install, --no-python, --no-gbench, --results DIR, --program CMD,
#   --program-name NAME (its row in the tables; default: the command's name), -h.
# Environment: BUILD_DIR (default <repo>/build), PYTHON (default /usr/bin/python3).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=${PYTHON:-/usr/bin/python3}

quick=0 reps= scale= only= want_allocs= install=1 do_python=1 do_gbench=1 secure=0
results= program= program_name=
usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --reps) reps=$2; shift ;;
    --scale) scale=$2; shift ;;
    --only) only=$2; shift ;;
    --allocators) want_allocs=$2; shift ;;
    --no-install) install=0 ;;
    --no-python) do_python=0 ;;
    --no-gbench) do_gbench=0 ;;
    --secure) secure=1 ;;
    --results) results=$2; shift ;;
    --program) program=$2; shift ;;
    --program-name) program_name=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$results" ]; then
    results=$here/results
    [ $quick = 0 ] || results=$here/results/quick
    [ -z "$program" ] || results=$here/results/program
fi
if [ -n "$program" ]; then
    # The user's program replaces the workloads, the python3 scripts and the shim.
    only= do_python=0 do_gbench=0
    # The row's name: the command's first word that is neither env nor VAR=value.
    if [ -z "$program_name" ]; then
        program_name=$(awk '{ for (i = 1; i <= NF; i++) if ($i != "env" && $i !~ /=/) { print $i; exit } }' \
            <<<"$program")
        program_name=$(basename -- "${program_name:-program}" | tr -cd 'A-Za-z0-9._+-')
    fi
    program_name=${program_name:-program}
fi
if [ $quick = 1 ]; then
    reps=${reps:-3} scale=${scale:-0.1} py_scale=0.2 py_reps=1
    gb_scale=0.01 gb_min_time=0.01
else
    reps=${reps:-5} scale=${scale:-1} py_scale=1 py_reps=$reps
    gb_scale=0.05 gb_min_time=0.2
fi

say() { printf '\033[1m== %s\033[0m\n' "$*"; }
warn() { printf 'run.sh: %s\n' "$*" >&2; }

# ---- 1. packages ------------------------------------------------------------
packages=(build-essential cmake libjemalloc-dev libmimalloc-dev libtcmalloc-minimal4
          libbenchmark-dev python3 python3-matplotlib gzip)
if [ $install = 1 ] && command -v dpkg-query >/dev/null; then
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        sudo=
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
fi

# ---- 2. build -------------------------------------------------------------------
jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p "$build"
full_ok=0
if [ -f "$root/lib/CMakeLists.txt" ]; then
    say "building $build (Release)"
    flags=(-DCMAKE_BUILD_TYPE=Release -DSMALLOC_BENCH=ON)
    # A fresh build dir gets no tests (they need Criterion); an existing one
    # keeps its choice unless configuring fails.
    [ -f "$build/CMakeCache.txt" ] || flags+=(-DSMALLOC_TESTS=OFF)
    if cmake -S "$root" -B "$build" "${flags[@]}" >"$build/bench-configure.log" 2>&1 ||
        cmake -S "$root" -B "$build" "${flags[@]}" -DSMALLOC_TESTS=OFF \
            >"$build/bench-configure.log" 2>&1; then
        full_ok=1
    else
        warn "configuring the project failed (log: $build/bench-configure.log)"
    fi
fi
if [ $full_ok = 1 ]; then
    tree=$build benchdir=$build/bench
else
    # No library yet, or the project does not configure right now: build the
    # harness alone; libsmalloc is used only if an earlier build left one.
    benchdir=$build/bench-standalone tree=$build/bench-standalone
    say "building bench/ alone into $benchdir"
    cmake -S "$here" -B "$benchdir" -DCMAKE_BUILD_TYPE=Release >"$build/bench-configure.log" 2>&1 ||
        { cat "$build/bench-configure.log" >&2; exit 1; }
    [ -f "$build/lib/libsmalloc.so" ] && warn "using $build/lib/libsmalloc.so from an earlier build"
fi
if ! cmake --build "$tree" --target bench_all -j "$jobs" >"$build/bench-build.log" 2>&1; then
    # libsmalloc may be mid-edit: build the harness alone and go on.
    cmake --build "$tree" -j "$jobs" --target driver runprog pair smalloc_trace \
        >>"$build/bench-build.log" 2>&1 || { cat "$build/bench-build.log" >&2; exit 1; }
    cmake --build "$tree" -j "$jobs" --target gbench_shim bench_trace >/dev/null 2>&1 || true
    warn "building bench_all failed (log: $build/bench-build.log): libsmalloc may be stale or missing"
fi
driver=$benchdir/driver
runprog=$benchdir/runprog
gbench=$benchdir/gbench_shim

# ---- 3. allocators ------------------------------------------------------------
source "$here/allocators.sh"
order=(glibc smalloc jemalloc mimalloc tcmalloc)
# --secure: also the hardened build (SMALLOC_SECURE=ON), to state its cost.
if [ $secure = 1 ]; then
    say "building the hardened variant into $build/secure"
    cmake -S "$root" -B "$build/secure" -DCMAKE_BUILD_TYPE=Release -DSMALLOC_SECURE=ON \
        -DSMALLOC_TESTS=OFF -DSMALLOC_BENCH=OFF >"$build/bench-secure.log" 2>&1 &&
        cmake --build "$build/secure" --target smalloc -j "$jobs" >>"$build/bench-secure.log" 2>&1 ||
        warn "building the hardened variant failed (log: $build/bench-secure.log)"
    lib[smalloc_secure]=$build/secure/lib/libsmalloc.so
    order=(glibc smalloc smalloc_secure jemalloc mimalloc tcmalloc)
fi
[ -n "$want_allocs" ] && IFS=, read -r -a order <<<"$want_allocs"

# Keep an allocator only if the preload really provides malloc in the driver
# (the driver reports the file malloc comes from).
provider_ok() { # allocator, file that provides malloc
    case $1 in
    glibc) [[ $(basename "$2") == libc.so* ]] ;;
    *) [ "$(readlink -f "$2")" = "$(readlink -f "${lib[$1]}")" ] ;;
    esac
}
allocs=()
for a in "${order[@]}"; do
    if [ -z "${lib[$a]+set}" ]; then
        warn "unknown allocator $a (known: ${!lib[*]})"; continue
    fi
    if allocator_missing "$a"; then
        warn "$a: ${lib[$a]:-library} not found, skipped"; continue
    fi
    line=$(env ${lib[$a]:+LD_PRELOAD=${lib[$a]}} "$driver" -w single --n 1000 2>/dev/null) || line=
    from=$(sed -n 's/.*"malloc_from":"\([^"]*\)".*/\1/p' <<<"$line")
    if [ -z "$from" ] || ! provider_ok "$a" "$from"; then
        warn "$a: malloc comes from '${from:-?}', not ${lib[$a]:-libc}: skipped"; continue
    fi
    allocs+=("$a")
done
[ ${#allocs[@]} -gt 0 ] || { warn "no allocator works"; exit 1; }

mapfile -t workloads < <("$driver" --list | awk '{ print $1 }')
[ -n "$only" ] && IFS=, read -r -a workloads <<<"$only"
[ -z "$program" ] || workloads=()

# ---- 4. runs ----------------------------------------------------------------------
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$build/bench/results/$stamp
mkdir -p "$raw"
{
    mode=full
    [ $quick = 0 ] || mode=quick
    [ -z "$program" ] || mode=program
    printf '{"mode":"%s","reps":%s,"scale":%s,"python_scale":%s,"python_reps":%s,' \
        "$mode" "$reps" "$scale" "$py_scale" "$py_reps"
    if [ -n "$program" ]; then
        printf '"program":%s,"program_name":"%s",' \
            "$("$python" -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$program")" \
            "$program_name"
    fi
    commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [ "$commit" != unknown ] && [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        commit=$commit-dirty
    fi
    printf '"commit":"%s","started":"%s",' "$commit" "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf '"python":"%s","python_version":"%s","allocators":{' "$python" \
        "$("$python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo '?')"
    sep=
    for a in "${allocs[@]}"; do
        pkg=
        case $a in
        glibc) pkg=libc6 ;; jemalloc) pkg=libjemalloc2 ;;
        mimalloc) pkg=libmimalloc2.0 ;; tcmalloc) pkg=libtcmalloc-minimal4 ;;
        esac
        ver=$( [ -n "$pkg" ] && dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
        printf '%s"%s":{"library":"%s","version":"%s"}' "$sep" "$a" "${lib[$a]:-none}" "$ver"
        sep=,
    done
    printf '}}\n'
} >"$raw/meta.json"

# One driver process per (rep, workload, allocator); allocators interleaved.
run_timeout=600
failures=0
[ ${#workloads[@]} = 0 ] || say "workloads: ${#workloads[@]} x ${allocs[*]} x $reps reps, scale $scale"
for ((r = 1; r <= reps; r++)); do
    for w in "${workloads[@]}"; do
        printf '  [%d/%d] %-18s' "$r" "$reps" "$w"
        for a in "${allocs[@]}"; do
            if out=$(timeout $run_timeout \
                env ${lib[$a]:+LD_PRELOAD=${lib[$a]}} "$driver" -w "$w" --scale "$scale" --label "$a" \
                2>>"$raw/driver.err"); then
                printf '%s\n' "$out" >>"$raw/driver.jsonl"
                printf ' %s %s' "$a" "$(sed -n 's/.*"ns_per_op":\([0-9.]*\).*/\1/p' <<<"$out")"
            else
                rc=$?
                failures=$((failures + 1))
                printf '{"workload":"%s","allocator":"%s","rep":%d,"error":"exit status %d"}\n' \
                    "$w" "$a" "$((r - 1))" "$rc" >>"$raw/driver.jsonl"
                printf ' %s FAIL(%d)' "$a" "$rc"
            fi
        done
        printf '\n'
    done
done

# One measured process: measured LABEL NAME ENV... -- COMMAND...: runprog
# appends its JSON line to programs.jsonl; prints " LABEL WALL" or a FAIL.
measured() {
    local label=$1 name=$2
    shift 2
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    if "$runprog" --label "$label" --name "$name" --out "$raw/programs.jsonl" -- \
        timeout $run_timeout env -u LD_PRELOAD "${envs[@]}" "$@" 2>>"$raw/programs.err"; then
        printf ' %s %s' "$label" "$(tail -n 1 "$raw/programs.jsonl" |
            sed -n 's/.*"wall_s":\([0-9]*\.[0-9][0-9][0-9]\).*/\1/p')"
    else
        failures=$((failures + 1))
        printf ' %s FAIL' "$label"
    fi
}

# --program: the user's command, one process per (rep, allocator), interleaved.
if [ -n "$program" ]; then
    say "program: $program x ${allocs[*]} x $reps reps"
    for ((r = 1; r <= reps; r++)); do
        printf '  [%d/%d] %-18s' "$r" "$reps" "$program_name"
        for a in "${allocs[@]}"; do
            measured "$a" "$program_name" ${lib[$a]:+LD_PRELOAD=${lib[$a]}} -- bash -c "$program"
        done
        printf '\n'
    done
fi

# The real program: Debian's python3 on the bundled scripts.
if [ $do_python = 1 ] && [ -x "$python" ]; then
    scripts=(dicts_lists json_roundtrip object_churn strings sort_live gc_graph)
    # pymalloc: python's own allocator, no preload. pymalloc+smalloc: libsmalloc
    # preloaded without PYTHONMALLOC=malloc, as an operator's plain LD_PRELOAD
    # does: pymalloc keeps the small objects, libsmalloc gets the rest.
    py_allocs=("${allocs[@]}" pymalloc)
    [[ " ${allocs[*]} " != *" smalloc "* ]] || py_allocs+=(pymalloc+smalloc)
    say "python3: ${scripts[*]} x ${py_allocs[*]} x $py_reps reps, scale $py_scale"
    for ((r = 1; r <= py_reps; r++)); do
        for s in "${scripts[@]}"; do
            printf '  [%d/%d] %-18s' "$r" "$py_reps" "$s"
            for a in "${py_allocs[@]}"; do
                if [ $a = pymalloc ]; then
                    envs=(PYTHONMALLOC=pymalloc)
                elif [ $a = pymalloc+smalloc ]; then
                    envs=(PYTHONMALLOC=pymalloc "LD_PRELOAD=${lib[smalloc]}")
                else
                    envs=(PYTHONMALLOC=malloc ${lib[$a]:+LD_PRELOAD=${lib[$a]}})
                fi
                measured "$a" "$s" "${envs[@]}" -- "$python" "$here/python/$s.py" "$py_scale"
            done
            printf '\n'
        done
    done
elif [ $do_python = 1 ]; then
    warn "$python not found: python3 programs skipped"
fi

# Google Benchmark's view, once per allocator (short form).
if [ $do_gbench = 1 ] && [ -x "$gbench" ]; then
    say "gbench_shim: ${allocs[*]} (scale $gb_scale, min time ${gb_min_time}s)"
    filter=$(IFS='|'; echo "^(${workloads[*]})(/|$)")
    for a in "${allocs[@]}"; do
        printf '  %s\n' "$a"
        timeout $run_timeout env ${lib[$a]:+LD_PRELOAD=${lib[$a]}} "$gbench" \
            --scale=$gb_scale --benchmark_min_time=$gb_min_time \
            --benchmark_filter="$filter" \
            --benchmark_out="$raw/gbench-$a.json" --benchmark_out_format=json \
            >/dev/null 2>>"$raw/gbench.err" || { failures=$((failures + 1)); warn "gbench_shim failed under $a"; }
    done
elif [ $do_gbench = 1 ]; then
    warn "gbench_shim not built (Google Benchmark missing): skipped"
fi

# ---- 5. report --------------------------------------------------------------------
say "report"
mkdir -p "$results"
"$python" "$here/report.py" "$raw" --out "$results" --repo "$root"
if [ $failures -gt 0 ]; then
    warn "$failures run(s) failed: see $raw/*.err"
    exit 1
fi
