#!/usr/bin/env bash
# Builds the libFuzzer target (fuzz_alloc.c) with clang in sub-builds and runs
# it for a bounded time on the seed corpus (tests/stress/fuzz/corpus/), one process
# per variant, side by side:
#   override  libsmalloc replaces malloc (libFuzzer allocates from it too), UBSan
#   asan      smalloc_* API only, AddressSanitizer + UBSan
#   secure    as override, with SMALLOC_SECURE=ON
# Usage: run_fuzz.sh SOURCE_DIR WORK_DIR SECONDS [VARIANT...]   (default: all three)
# New inputs found go to WORK_DIR/<variant>/corpus, never to the seed corpus;
# a crash leaves its input in WORK_DIR/<variant>/ and fails the run.
# Exit 77 (skipped) when no clang with libFuzzer is installed (tests/run.sh
# installs clang-14 and libclang-rt-14-dev).
set -uo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
if [ $# -lt 3 ]; then
  echo "usage: $0 SOURCE_DIR WORK_DIR SECONDS [override|asan|secure ...]" >&2
  exit 2
fi
source=$1 work=$2 seconds=$3
shift 3
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(override asan secure)
here=$(cd "$(dirname "$0")" && pwd)
unset LD_PRELOAD

cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
  for c in clang-14 clang; do
    if command -v "$c" >/dev/null; then cc=$(command -v "$c"); break; fi
  done
fi
if [ -z "$cc" ] || ! echo 'int LLVMFuzzerTestOneInput(const char*d,long n){return 0;}' |
     "$cc" -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
  skip "no clang with libFuzzer (install clang-14 libclang-rt-14-dev)"
fi

build_one() {
  local v=$1 dir=$work/$1 san="undefined" override=ON secure=OFF
  case "$v" in
    override) ;;
    asan) san="address,undefined" override=OFF ;;
    secure) secure=ON ;;
    *) echo "unknown variant $v" >&2; return 2 ;;
  esac
  mkdir -p "$dir"
  if ! cmake -S "$here/project" -B "$dir/build" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_BUILD_TYPE=Release -DSMALLOC_SOURCE_DIR="$source" \
        -DFUZZ_OVERRIDE=$override -DFUZZ_SECURE=$secure \
        "-DCMAKE_C_FLAGS=-g -fsanitize=fuzzer-no-link,$san -fno-sanitize-recover=all -fno-omit-frame-pointer" \
        "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=$san" >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log" >&2
    fail "configure $v"
  fi
  if ! cmake --build "$dir/build" -j2 --target fuzz_alloc >"$dir/build.log" 2>&1; then
    cat "$dir/build.log" >&2
    fail "build $v"
  fi
}

for v in "${variants[@]}"; do
  build_one "$v" || exit 1
done

export ASAN_OPTIONS=allocator_may_return_null=1:abort_on_error=1
# The model checks the byte accounting exactly after each input, which
# needs a quiet process: no background thread returning parked batches
# and left caches to the pools meanwhile (the rounds then run on the
# fuzzer's own slow paths).
export SMALLOC_BACKGROUND=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
pids=()
for v in "${variants[@]}"; do
  dir=$work/$v
  mkdir -p "$dir/corpus"
  ( cd "$dir" && exec ./build/fuzz_alloc -max_total_time="$seconds" -timeout=20 \
      -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$dir/" \
      "$dir/corpus" "$here/corpus" >"$dir/fuzz.log" 2>&1 ) &
  pids+=($!)
done
status=0
for i in "${!variants[@]}"; do
  v=${variants[$i]}
  if wait "${pids[$i]}"; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$v/fuzz.log")
    cov=$(grep -o 'cov: [0-9]*' "$work/$v/fuzz.log" | tail -1)
    echo "fuzz_alloc[$v]: ${seconds}s, ${execs:-?} executions, $cov, corpus $(ls "$work/$v/corpus" | wc -l) new + $(ls "$here/corpus" | wc -l) seeds, no findings"
  else
    tail -n 60 "$work/$v/fuzz.log" >&2
    echo "FAILED: fuzz_alloc[$v] found a problem; input saved in $work/$v/" >&2
    status=1
  fi
done
exit $status
