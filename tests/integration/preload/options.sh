#!/usr/bin/env bash
# SMALLOC_* options read by a preloaded libsmalloc: SMALLOC_VERBOSE and
# SMALLOC_ALIGNMENT=8 in an ordinary program, in one that never allocates
# (libsmalloc's constructor starts it up), and in one whose first malloc
# comes from a library initialised before libsmalloc, made while environ is
# hidden (early.c): the options must still be in force, read from the
# initial process stack. early.c's destructor, which runs after
# libsmalloc's, frees and allocates once more.
#   options.sh LIBSMALLOC.so PROBE PROBE_EARLY
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
probe=${2:?usage: options.sh LIBSMALLOC.so PROBE PROBE_EARLY}
probe_early=${3:?usage: options.sh LIBSMALLOC.so PROBE PROBE_EARLY}

# run OUT ERR VAR=VALUE... -- CMD...: CMD under libsmalloc with only the
# given SMALLOC_* variables set.
run() {
  local out=$1 err=$2
  shift 2
  local vars=()
  while [ "$1" != "--" ]; do vars+=("$1"); shift; done
  shift
  env $(env | sed -n 's/^\(SMALLOC_[A-Z_]*\)=.*/-u \1/p') LD_PRELOAD="$lib" "${vars[@]}" "$@" \
    >"$out" 2>"$err" || fail "$* exited with status $?"
}

banner_count() {
  grep -c '^smalloc: libsmalloc .*, pid [0-9]*$' "$1" || true
}

expect_line() { # FILE LINE WHAT
  grep -qxF "$2" "$1" || { cat "$1" >&2; fail "$3: no line '$2'"; }
}

# 1. defaults, and the banner once
run "$tmp/1.out" "$tmp/1.err" SMALLOC_VERBOSE=1 -- "$probe" usable 24
expect_line "$tmp/1.out" "usable 24 32" "default alignment"
[ "$(banner_count "$tmp/1.err")" = 1 ] || { cat "$tmp/1.err" >&2; fail "SMALLOC_VERBOSE=1: want one banner"; }
expect_line "$tmp/1.err" "smalloc:   SMALLOC_ALIGNMENT=16" "SMALLOC_VERBOSE=1 listing"
expect_line "$tmp/1.err" "smalloc:   SMALLOC_VERBOSE=1" "SMALLOC_VERBOSE=1 listing"
pass "SMALLOC_VERBOSE=1: one banner listing the options; malloc(24) gets 32 bytes (16-aligned)"

# 2. SMALLOC_ALIGNMENT=8
run "$tmp/2.out" "$tmp/2.err" SMALLOC_VERBOSE=1 SMALLOC_ALIGNMENT=8 -- "$probe" usable 24
expect_line "$tmp/2.out" "usable 24 24" "SMALLOC_ALIGNMENT=8"
expect_line "$tmp/2.err" "smalloc:   SMALLOC_ALIGNMENT=8" "SMALLOC_ALIGNMENT=8 listing"
pass "SMALLOC_ALIGNMENT=8: malloc(24) gets the 24-byte class"

# 3. without SMALLOC_VERBOSE, nothing on stderr
run "$tmp/3.out" "$tmp/3.err" SMALLOC_ALIGNMENT=8 -- "$probe" usable 24
[ ! -s "$tmp/3.err" ] || { cat "$tmp/3.err" >&2; fail "stderr not empty without SMALLOC_VERBOSE"; }
pass "silent without SMALLOC_VERBOSE"

# 4. a program that never calls malloc: the constructor starts libsmalloc up
run "$tmp/4.out" "$tmp/4.err" SMALLOC_VERBOSE=1 -- /bin/true
[ "$(banner_count "$tmp/4.err")" = 1 ] || { cat "$tmp/4.err" >&2; fail "/bin/true: want one banner"; }
pass "/bin/true under SMALLOC_VERBOSE=1 prints the banner"

# 5-6 need early.c's constructor to run before libsmalloc's and its
# destructor after; a sanitizer build (TEST_SANITIZED=1, set by CMake) links
# libsmalloc.so against the sanitizer runtime, which changes that order.
if [ "${TEST_SANITIZED:-0}" = 1 ]; then
  echo "skip: early constructor and late destructor (sanitizer build: libsmalloc.so is initialised first)"
else
  # 5. the first malloc of the process comes from early.c's constructor, which
  #    runs before libsmalloc's, with environ hidden
  run "$tmp/5.out" "$tmp/5.err" SMALLOC_VERBOSE=1 SMALLOC_ALIGNMENT=8 -- "$probe_early" usable 24
  [ "$(head -n 1 "$tmp/5.err")" = "early: first malloc, with environ hidden" ] ||
    { cat "$tmp/5.err" >&2; fail "early.c's constructor did not run first: this test no longer tests an early malloc"; }
  [ "$(banner_count "$tmp/5.err")" = 1 ] || { cat "$tmp/5.err" >&2; fail "early malloc: want one banner"; }
  expect_line "$tmp/5.err" "smalloc:   SMALLOC_ALIGNMENT=8" "early malloc listing"
  expect_line "$tmp/5.out" "usable 24 24" "SMALLOC_ALIGNMENT=8 after an early malloc"
  run "$tmp/6.out" "$tmp/6.err" -- "$probe_early" early
  expect_line "$tmp/6.out" "early 48" "the early block is libsmalloc's 48-byte class (glibc: 40)"
  pass "first malloc before libsmalloc's constructor, environ hidden: options read from the initial stack"

  # 6. early.c's destructor runs after libsmalloc's (which prints the
  #    statistics) and still frees and allocates
  run "$tmp/7.out" "$tmp/7.err" SMALLOC_STATS=1 -- "$probe_early" return
  grep -q '^libsmalloc .* statistics$' "$tmp/7.err" || { cat "$tmp/7.err" >&2; fail "no statistics"; }
  [ "$(tail -n 1 "$tmp/7.err")" = "early: freed and allocated after libsmalloc's destructors" ] ||
    { cat "$tmp/7.err" >&2; fail "early.c's destructor did not run last"; }
  pass "free and malloc after libsmalloc's destructors (statistics printed first)"
fi
echo "options.sh: all $checks checks passed"
