#!/usr/bin/env bash
# Debug mode and blocks libsmalloc did not make: glibc's (__libc_malloc), and
# in python3 blocks from libc.malloc passed to a libsmalloc loaded later with
# ctypes.CDLL. They go to glibc, as in a normal run; a bad pointer inside an
# arena is still reported.
#   foreign.sh LIBSMALLOC.so FOREIGN-PROGRAM
set -uo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
lib=${1:?usage: foreign.sh LIBSMALLOC.so FOREIGN-PROGRAM}
prog=${2:?usage: foreign.sh LIBSMALLOC.so FOREIGN-PROGRAM}
here=$(cd "$(dirname "$0")" && pwd)
scratch_dir foreign
unset SMALLOC_STATS SMALLOC_STATS_FILE SMALLOC_VERBOSE
# glibc's tcache off: its checks then see every block it is given back.
export GLIBC_TUNABLES=glibc.malloc.tcache_count=0

for mode in 0 1; do
  rc=0
  env LD_PRELOAD="$lib" SMALLOC_DEBUG=$mode "$prog" foreign >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ $mode = 0 ]; then
    # Without debug mode malloc(1) is an 8-byte block: only that check fails.
    grep -v "debug mode on" "$tmp/out" | grep -q FAILED && { cat "$tmp/out" "$tmp/err" >&2; fail "SMALLOC_DEBUG=0: glibc blocks"; }
    pass "SMALLOC_DEBUG=0: free, realloc, malloc_usable_size of glibc blocks (two threads)"
    continue
  fi
  [ $rc = 0 ] && grep -qx "foreign: ok" "$tmp/out" ||
    { cat "$tmp/out" "$tmp/err" >&2; fail "SMALLOC_DEBUG=1: glibc blocks: status $rc"; }
  pass "SMALLOC_DEBUG=1: free, realloc, malloc_usable_size of glibc blocks go to glibc (two threads)"
done

rc=0
env LD_PRELOAD="$lib" SMALLOC_DEBUG=1 "$prog" inside >"$tmp/out" 2>"$tmp/err" || rc=$?
[ $rc = 134 ] && grep -q "debug: free(): pointer not returned by libsmalloc" "$tmp/err" ||
  { cat "$tmp/out" "$tmp/err" >&2; fail "SMALLOC_DEBUG=1, free(p + 16): status $rc, want 134 and the report"; }
pass "SMALLOC_DEBUG=1: free(p + 16) inside an arena still aborts with the report"
rc=0
env LD_PRELOAD="$lib" SMALLOC_DEBUG=1 "$prog" stack >"$tmp/out" 2>"$tmp/err" || rc=$?
[ $rc = 134 ] && grep -q "debug: free(): pointer not returned by libsmalloc" "$tmp/err" ||
  { cat "$tmp/out" "$tmp/err" >&2; fail "SMALLOC_DEBUG=1, free(&local) in a thread: status $rc, want 134 and the report"; }
pass "SMALLOC_DEBUG=1: free(&local) in a second thread aborts with the report (a stack is never foreign)"

if [ -x /usr/bin/python3 ]; then
  cat >"$tmp/ctypes_case.py" <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None)                 # glibc's malloc: libsmalloc is not loaded yet
for f in (libc.malloc,):
    f.restype, f.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
blocks = [libc.malloc(n) for n in (16, 100, 600, 5000)]
sm = ctypes.CDLL(sys.argv[1])            # now libsmalloc, RTLD_LOCAL
sm.malloc_usable_size.restype, sm.malloc_usable_size.argtypes = ctypes.c_size_t, [ctypes.c_void_p]
sm.realloc.restype, sm.realloc.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]
sm.free.restype, sm.free.argtypes = None, [ctypes.c_void_p]
sm.malloc.restype, sm.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
for p, n in zip(blocks, (16, 100, 600, 5000)):
    assert sm.malloc_usable_size(p) >= n, "usable size"
    q = sm.realloc(p, 2 * n)
    assert q, "realloc"
    sm.free(q)
own = sm.malloc(10)
print("usable", sm.malloc_usable_size(own))
sm.free(own)
print("ctypes: ok")
PY
  rc=0
  SMALLOC_DEBUG=1 /usr/bin/python3 "$tmp/ctypes_case.py" "$lib" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ $rc = 0 ] && [ "$(cat "$tmp/out")" = "$(printf 'usable 10\nctypes: ok')" ] ||
    { cat "$tmp/out" "$tmp/err" >&2; fail "python3 ctypes, SMALLOC_DEBUG=1: status $rc"; }
  pass "python3: libc.malloc blocks freed through a ctypes-loaded libsmalloc in debug mode"
fi
echo "foreign.sh: all $checks checks passed"
