#!/usr/bin/env bash
# The hardened build catches a planted overflow that corrupts the default
# build. Builds libsmalloc with -DSMALLOC_SECURE=ON in a
# sub-build, then runs planted_overflow.c (both forms: forged link, link
# changed in one byte) under LD_PRELOAD of each library:
#   default library   the program gets a forged pointer: exit 3
#   secure library    malloc aborts: SIGABRT, "smalloc: malloc(): corrupted free list"
# If the main build is itself SMALLOC_SECURE, both must abort.
#   secure_overflow.sh SOURCE_DIR WORK_DIR CC DEFAULT_LIBSMALLOC MAIN_IS_SECURE
set -uo pipefail
# shellcheck source=../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/checks.sh"
usage 5 "SOURCE_DIR WORK_DIR CC DEFAULT_LIBSMALLOC MAIN_IS_SECURE" "$@"
source=$1 work=$2 cc=$3 default_lib=$4 main_secure=$5
here=$(cd "$(dirname "$0")" && pwd)
unset LD_PRELOAD
mkdir -p "$work"

if ! cmake -S "$source" -B "$work/build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release \
      -DSMALLOC_SECURE=ON -DSMALLOC_TESTS=OFF -DSMALLOC_BENCH=OFF -DSMALLOC_INSTALL=OFF \
      >"$work/configure.log" 2>&1; then
  cat "$work/configure.log" >&2; fail "configure the secure build"
fi
cmake --build "$work/build" -j2 --target smalloc >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; fail "build the secure library"; }
secure_lib=$(ls "$work"/build/lib/libsmalloc.so.*.*.* 2>/dev/null | head -n 1)
[ -n "$secure_lib" ] || fail "no secure libsmalloc.so in $work/build/lib"
"$cc" -O0 -fno-builtin -o "$work/planted_overflow" "$here/planted_overflow.c" ||
  fail "compile planted_overflow.c"

# run LIB FORM -> sets status, out, err
run() {
  out=$(LD_PRELOAD=$1 "$work/planted_overflow" "$2" 2>"$work/err") ; status=$?
  err=$(cat "$work/err")
}
expect_corrupted() {
  run "$1" "$2"
  [ $status -eq 3 ] || fail "$2 under $1: exit $status, want 3 (corrupted); out: $out; err: $err"
  echo "default build, $2: $out"
}
expect_caught() {
  run "$1" "$2"
  [ $status -eq 134 ] || fail "$2 under $1: exit $status, want 134 (SIGABRT); out: $out; err: $err"
  echo "$err" | grep -q "^smalloc: malloc(): corrupted free list" ||
    fail "$2 under $1: stderr '$err' lacks 'smalloc: malloc(): corrupted free list'"
  echo "secure build, $2: $err"
}

for form in forge partial; do
  case "$main_secure" in
    ON|on|1|TRUE|true|YES|yes) expect_caught "$default_lib" $form ;;
    *) expect_corrupted "$default_lib" $form ;;
  esac
  expect_caught "$secure_lib" $form
done
echo "secure_overflow: the planted overflows were caught by the hardened build"
