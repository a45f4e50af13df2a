#!/usr/bin/env bash
# fork() with another library's allocating fork handlers registered before
# libsmalloc's (atfork.c, atfork_other.c), linked (-lsmalloc) and preloaded,
# also in debug mode. A deadlock shows as the timeout's exit status 124.
#   atfork.sh LIBSMALLOC.so ATFORK_LINKED ATFORK_PLAIN
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
linked=${2:?usage: atfork.sh LIBSMALLOC.so ATFORK_LINKED ATFORK_PLAIN}
plain=${3:?usage: atfork.sh LIBSMALLOC.so ATFORK_LINKED ATFORK_PLAIN}

# run NAME [VAR=value...] PROGRAM: exit 0 within 10 s, and the other
# library's handlers registered before libsmalloc's start-up (which
# registers libsmalloc's and then prints the SMALLOC_VERBOSE banner).
run() {
  local name=$1 rc=0
  shift
  timeout 10 env SMALLOC_VERBOSE=1 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  [ $rc -ne 124 ] || fail "$name: fork() deadlocked (killed after 10 s)"
  [ $rc -eq 0 ] || { cat "$tmp/$name.err" >&2; fail "$name: exit status $rc"; }
  local other banner
  other=$(grep -n -m1 '^atfork_other: handlers registered' "$tmp/$name.err" | cut -d: -f1)
  banner=$(grep -n -m1 '^smalloc: libsmalloc' "$tmp/$name.err" | cut -d: -f1)
  [ -n "$other" ] && [ -n "$banner" ] || { cat "$tmp/$name.err" >&2; fail "$name: a start-up line is missing"; }
  [ "$other" -lt "$banner" ] || fail "$name: libsmalloc registered its handlers first; the test tests nothing"
  pass "$name: $(cat "$tmp/$name.out")"
}

run linked "$linked"
run preloaded LD_PRELOAD="$lib" "$plain"
run linked_debug SMALLOC_DEBUG=1 "$linked"
run preloaded_debug LD_PRELOAD="$lib" SMALLOC_DEBUG=1 "$plain"
echo "atfork.sh: all $checks checks passed"
