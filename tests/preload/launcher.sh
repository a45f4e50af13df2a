#!/usr/bin/env bash
# The build tree's smalloc-run (cmake/smalloc-run.in): options, argument and
# exit status pass-through, LD_PRELOAD order, and --stats for a program that
# returns from main, calls exit(), calls _exit() (no statistics: destructors
# do not run), and for python3.
#   launcher.sh LIBSMALLOC.so SMALLOC-RUN PROBE OTHER.so
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
run=${2:?usage: launcher.sh LIBSMALLOC.so SMALLOC-RUN PROBE OTHER.so}
probe=${3:?usage: launcher.sh LIBSMALLOC.so SMALLOC-RUN PROBE OTHER.so}
other=${4:?usage: launcher.sh LIBSMALLOC.so SMALLOC-RUN PROBE OTHER.so}
[ -x "$run" ] || fail "$run is not executable"
unset LD_PRELOAD SMALLOC_STATS SMALLOC_STATS_FILE SMALLOC_VERBOSE
version=$("$run" --version | sed -n 's/^smalloc-run (libsmalloc) //p')
[ -n "$version" ] || fail "--version printed no version"
pass "--version: $version"

"$run" --help >"$tmp/help" || fail "--help exited with $?"
grep -q '^usage: smalloc-run' "$tmp/help" || fail "--help printed no usage"
rc=0; "$run" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "no program: exit status $rc, want 2"
rc=0; "$run" --no-such-option "$probe" return >/dev/null 2>"$tmp/bad" || rc=$?
[ $rc = 2 ] && grep -q 'unknown option --no-such-option' "$tmp/bad" || fail "unknown option: status $rc"
rc=0; "$run" "$tmp/no-such-program" 2>/dev/null || rc=$?
[ $rc = 127 ] || fail "missing program: exit status $rc, want 127"
pass "--help, no program (2), unknown option (2), missing program (127)"

expect_out() { # WHAT EXPECTED CMD...
  local what=$1 want=$2
  shift 2
  local got
  got=$("$@") || fail "$what: exit status $?"
  [ "$got" = "$want" ] || fail "$what: got '$got', want '$want'"
}

expect_out "preloaded library" "library $(readlink -f "$lib")" "$run" "$probe" library
expect_out "small block from libsmalloc" "usable 1 16" "$run" "$probe" usable 1
expect_out "without the launcher" "usable 1 24" "$probe" usable 1
expect_out "LD_PRELOAD order" "LD_PRELOAD=$(dirname "$lib")/libsmalloc.so.0:$other" \
  env LD_PRELOAD="$other" "$run" "$probe" env LD_PRELOAD
expect_out "arguments" "$(printf '[a b]\n[]\n[c*]\n[--stats]')" "$run" -- "$probe" args "a b" "" 'c*' --stats
rc=0; "$run" sh -c 'exit 7' || rc=$?
[ $rc = 7 ] || fail "exit status: got $rc, want 7"
pass "runs the program with libsmalloc first in LD_PRELOAD; arguments and exit status pass through"

table_on() { # FILE: the statistics table is in FILE
  grep -qx "libsmalloc $version statistics" "$1"
}
for how in return exit; do
  "$run" --stats "$probe" "$how" >"$tmp/$how.out" 2>"$tmp/$how.err" || fail "--stats $how: status $?"
  [ "$(cat "$tmp/$how.out")" = "probe: $how" ] || fail "--stats $how: stdout $(cat "$tmp/$how.out")"
  table_on "$tmp/$how.err" || { cat "$tmp/$how.err" >&2; fail "--stats: no table after $how"; }
done
"$run" --stats "$probe" _exit >"$tmp/_exit.out" 2>"$tmp/_exit.err" || fail "--stats _exit: status $?"
[ "$(cat "$tmp/_exit.out")" = "probe: _exit" ] || fail "--stats _exit: stdout"
if table_on "$tmp/_exit.err"; then fail "--stats _exit: a table, yet _exit runs no destructor"; fi
pass "--stats: table on stderr after return from main and exit(); none after _exit() (documented)"

# sort closes its stderr before exiting; the table still reaches the
# original stderr (libsmalloc keeps a duplicate of it from start-up).
printf 'b\na\n' >"$tmp/sort.in"
"$run" --stats sort "$tmp/sort.in" >"$tmp/sort.out" 2>"$tmp/sort.err" || fail "--stats sort: status $?"
[ "$(cat "$tmp/sort.out")" = "$(printf 'a\nb')" ] || fail "--stats sort: stdout"
table_on "$tmp/sort.err" || fail "--stats sort: no table although the program closed stderr"
pass "--stats: table even when the program closes stderr before exiting (sort)"

"$run" --stats --stats-file="$tmp/stats.txt" "$probe" exit >/dev/null 2>"$tmp/file.err" || fail "--stats-file: status $?"
table_on "$tmp/stats.txt" || fail "--stats-file: no table in the file"
[ ! -s "$tmp/file.err" ] || fail "--stats-file: stderr not empty"
SMALLOC_STATS=1 LD_PRELOAD="$lib" "$probe" return >/dev/null 2>"$tmp/env.err" || fail "SMALLOC_STATS=1: status $?"
table_on "$tmp/env.err" || fail "SMALLOC_STATS=1 without the launcher: no table"
"$run" --verbose "$probe" return >/dev/null 2>"$tmp/verbose.err" || fail "--verbose: status $?"
grep -q "^smalloc: libsmalloc $version, pid" "$tmp/verbose.err" || fail "--verbose: no banner"
pass "--stats-file, SMALLOC_STATS=1 without the launcher, --verbose"

if [ -x /usr/bin/python3 ]; then
  PYTHONMALLOC=malloc "$run" --stats /usr/bin/python3 -c 'print(sum(len(str(i)) for i in range(100000)))' \
    >"$tmp/py.out" 2>"$tmp/py.err" || fail "python3 under smalloc-run: status $?"
  [ "$(cat "$tmp/py.out")" = 488890 ] || fail "python3 under smalloc-run printed $(cat "$tmp/py.out")"
  table_on "$tmp/py.err" || { cat "$tmp/py.err" >&2; fail "python3: no table"; }
  pass "python3 under smalloc-run --stats: right answer, table at exit"
fi
echo "launcher.sh: all $checks checks passed"
