#!/usr/bin/env bash
# Configures and builds libsmalloc the way the README says, on what looks
# like a machine with a C compiler only: Criterion's header directory is
# ignored by every find_* (CMAKE_IGNORE_PATH) and the C++ compiler is
# CXX=/nonexistent, so check_language(CXX) finds none.
#   c_only.sh SOURCE_DIR CC GENERATOR MAKE_PROGRAM CRITERION_INCLUDE_DIR
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
usage 5 "SOURCE_DIR CC GENERATOR MAKE_PROGRAM CRITERION_INCLUDE_DIR" "$@"
source=$1 cc=$2 generator=$3 make=$4 criterion_inc=$5
here=$(cd "$(dirname "$0")" && pwd)
scratch_dir c-only
unset LD_PRELOAD CMAKE_PREFIX_PATH SMALLOC_DEBUG SMALLOC_STATS

# configure DIR [ARGS...]: the project configured into $tmp/DIR, its output
# in $tmp/DIR.log; returns cmake's status.
configure() {
  local dir=$1
  shift
  cmake -S "$source" -B "$tmp/$dir" -G "$generator" -DCMAKE_MAKE_PROGRAM="$make" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release "$@" >"$tmp/$dir.log" 2>&1
}
no_criterion=(-DCMAKE_IGNORE_PATH="$criterion_inc")
summary() { # DIR NAME: the value the configure summary gives NAME
  sed -n "s/^--   $2 *= //p" "$tmp/$1.log"
}
cache() { # DIR NAME: the cache entry NAME
  sed -n "s/^$2:[A-Z]*=//p" "$tmp/$1/CMakeCache.txt"
}
expect_eq() { # what got want
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
  pass "$1 = '$3'"
}

# 1. The plain command: neither Criterion nor C++.
CXX=/nonexistent configure plain "${no_criterion[@]}" || { cat "$tmp/plain.log" >&2; fail "configure without Criterion and C++"; }
expect_eq "hidden: CRITERION_INCLUDE_DIR" "$(cache plain CRITERION_INCLUDE_DIR)" "CRITERION_INCLUDE_DIR-NOTFOUND"
expect_eq "hidden: CMAKE_CXX_COMPILER" "$(cache plain CMAKE_CXX_COMPILER)" "NOTFOUND"
expect_eq "summary SMALLOC_TESTS" "$(summary plain SMALLOC_TESTS)" \
  "OFF (Criterion not found: apt-get install libcriterion-dev)"
expect_eq "summary SMALLOC_BENCH" "$(summary plain SMALLOC_BENCH)" "ON (gbench_shim left out: no C++ compiler)"
if ls "$tmp"/plain/CMakeFiles/*/CMakeCXXCompiler.cmake >/dev/null 2>&1; then
  fail "C++ was enabled although no C++ compiler was found"
fi
pass "C++ not enabled"
if ! cmake --build "$tmp/plain" -j2 >"$tmp/plain-build.log" 2>&1; then
  tail -40 "$tmp/plain-build.log" >&2
  fail "cmake --build of the C-only configuration"
fi
lib=$tmp/plain/lib/libsmalloc.so
[ -f "$lib" ] && [ -f "$tmp/plain/lib/libsmalloc.a" ] || fail "libsmalloc.so or libsmalloc.a not built"
[ -x "$tmp/plain/bench/driver" ] || fail "bench/driver not built"
[ ! -e "$tmp/plain/bench/gbench_shim" ] || fail "gbench_shim built without C++"
out=$(LD_PRELOAD=$lib sh -c 'echo preloaded') || fail "sh under the C-only libsmalloc.so"
expect_eq "sh under the C-only libsmalloc.so" "$out" "preloaded"
pass "cmake --build: libsmalloc.so, libsmalloc.a and the C bench harness, no C++"

# 2. Asked for explicitly, the tests need Criterion: a clear error at once.
rc=0
CXX=/nonexistent configure asked "${no_criterion[@]}" -DSMALLOC_TESTS=ON || rc=$?
[ $rc != 0 ] || fail "SMALLOC_TESTS=ON without Criterion configured"
grep -q "SMALLOC_TESTS=ON, but Criterion was not found" "$tmp/asked.log" &&
  grep -q "apt-get install libcriterion-dev" "$tmp/asked.log" ||
  { cat "$tmp/asked.log" >&2; fail "SMALLOC_TESTS=ON without Criterion: no clear error"; }
pass "SMALLOC_TESTS=ON without Criterion: configure fails, naming libcriterion-dev"

# 3. Criterion but no C++: AUTO builds the C tests only, ON refuses.
CXX=/nonexistent configure auto || { cat "$tmp/auto.log" >&2; fail "configure with Criterion, without C++"; }
expect_eq "summary SMALLOC_TESTS, no C++" "$(summary auto SMALLOC_TESTS)" \
  "ON (AUTO: Criterion found; no C++ compiler: preload_cxx left out)"
tests=$(cd "$tmp/auto" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')
echo "$tests" | grep -qx preload_family || fail "no C++: preload_family missing from the suite"
if echo "$tests" | grep -qx preload_cxx; then fail "no C++: preload_cxx still in the suite"; fi
pass "no C++: the suite has $(echo "$tests" | wc -l) tests, preload_cxx left out"
rc=0
CXX=/nonexistent configure strict -DSMALLOC_TESTS=ON || rc=$?
[ $rc != 0 ] && grep -q "SMALLOC_TESTS=ON, but no C++ compiler was found" "$tmp/strict.log" ||
  { cat "$tmp/strict.log" >&2; fail "SMALLOC_TESTS=ON without C++: status $rc, no clear error"; }
pass "SMALLOC_TESTS=ON without C++: configure fails"

echo "c_only: all $checks checks passed"
