#!/usr/bin/env bash
# Valgrind support: planted errors in a program linked with a libsmalloc
# built with the Memcheck client requests (SMALLOC_VALGRIND) must be
# reported by Memcheck as for glibc's malloc, with libsmalloc's malloc and
# free in the stacks; a clean run must report nothing. Valgrind replaces
# any library's malloc by default: --soname-synonyms=somalloc=nouserintercepts
# keeps libsmalloc's own.
#   memcheck.sh VALGRIND PLANTED_VG
set -euo pipefail
# shellcheck source=../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/checks.sh"
valgrind=$1 planted=$2
scratch_dir memcheck
fail_context() { echo "--- valgrind output:"; cat "$tmp/out"; }

memcheck() {
  local status=0
  PLANTED_NO_PVALLOC=1 "$valgrind" --tool=memcheck --soname-synonyms=somalloc=nouserintercepts \
    --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
    "$planted" "$1" >"$tmp/out" 2>&1 || status=$?
  echo "$status"
}
# expect LINE_REGEX: some line of the output matches.
expect() { grep -qE "$1" "$tmp/out" || fail "no line matching: $1"; }
# expect_near LINE REGEX WHAT: one of the 4 lines after a line matching LINE
# matches REGEX, else fail with WHAT.
expect_near() { grep -A4 -- "$1" "$tmp/out" | grep -qE "$2" || fail "$3"; }
# A frame of libsmalloc: its malloc or free, by source line or by object.
# With -g and little inlining (a Debug build), Memcheck first lists the
# inlined helpers (sm_track_alloc, sm_alloc), so the frame may come a few
# lines down the stack.
ours='(override\.c|libsmalloc[^ ]*\.so)'

[ "$(memcheck clean)" = 0 ] || fail "clean run: Memcheck found errors"
expect 'ERROR SUMMARY: 0 errors from 0 contexts'
expect 'All heap blocks were freed -- no leaks are possible'
pass "clean run (every entry point, sizes 0..1100): no error, no leak"

[ "$(memcheck leak)" = 99 ] || fail "leak: no error exit"
expect '32 bytes in 1 blocks are definitely lost in loss record'
expect_near 'definitely lost in loss record' "(at|by) 0x[0-9A-Fa-f]+: malloc \(.*$ours" \
  "leak: not allocated by libsmalloc's malloc"
expect 'by 0x[0-9A-Fa-f]+: plant_leak \(planted\.c'
pass "leak: 32 bytes definitely lost, allocated by libsmalloc's malloc in plant_leak"

[ "$(memcheck use_after_free)" = 99 ] || fail "use after free: no error exit"
expect 'Invalid write of size 1'
expect 'at 0x[0-9A-Fa-f]+: plant_use_after_free \(planted\.c'
expect 'Address 0x[0-9A-Fa-f]+ is 8 bytes inside a block of size 32 free.d'
expect_near "free'd" "(at|by) 0x[0-9A-Fa-f]+: free \(.*$ours" "use after free: not freed by libsmalloc's free"
expect_near "Block was alloc'd at" "(at|by) 0x[0-9A-Fa-f]+: malloc \(.*$ours" \
  "use after free: not allocated by libsmalloc's malloc"
pass "use after free: invalid write 8 bytes inside a freed 32-byte block, freed and allocated by libsmalloc"

[ "$(memcheck uninitialised)" = 99 ] || fail "uninitialised: no error exit"
expect 'Conditional jump or move depends on uninitialised value'
expect 'at 0x[0-9A-Fa-f]+: plant_uninitialised \(planted\.c'
pass "read of uninitialised bytes of a libsmalloc block"

[ "$(memcheck overflow_block)" = 99 ] || fail "overflow: no error exit"
expect 'Invalid write of size 1'
expect 'Address 0x[0-9A-Fa-f]+ is 0 bytes after a block of size 32 alloc.d'
pass "overflow past a 32-byte block into the next one"

echo "memcheck: all $checks checks passed"
