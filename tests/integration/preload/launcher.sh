#!/usr/bin/env bash
# The build tree's smalloc-run (cmake/smalloc-run.in): options, argument and
# exit status pass-through, LD_PRELOAD order, and --stats for a program that
# returns from main, calls exit(), calls _exit() (no statistics: destructors
# do not run), and for python3; --stats=json, --stats-file alone (implies
# statistics), --debug, and the usage errors (exit status 2).
#   launcher.sh LIBSMALLOC.so SMALLOC-RUN PROBE OTHER.so
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
run=${2:?usage: launcher.sh LIBSMALLOC.so SMALLOC-RUN PROBE OTHER.so}
probe=${3:?usage: launcher.sh LIBSMALLOC.so SMALLOC-RUN PROBE OTHER.so}
other=${4:?usage: launcher.sh LIBSMALLOC.so SMALLOC-RUN PROBE OTHER.so}
[ -x "$run" ] || fail "$run is not executable"
unset LD_PRELOAD SMALLOC_STATS SMALLOC_STATS_FILE SMALLOC_VERBOSE SMALLOC_DEBUG
version=$("$run" --version | sed -n 's/^smalloc-run (libsmalloc) //p')
[ -n "$version" ] || fail "--version printed no version"
pass "--version: $version"

"$run" --help >"$tmp/help" || fail "--help exited with $?"
grep -q '^usage: smalloc-run' "$tmp/help" || fail "--help printed no usage"
for opt in --stats=json --stats-file=FILE --debug --verbose --version; do
  grep -q -e "$opt" "$tmp/help" || fail "--help does not mention $opt"
done
rc=0; "$run" >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "no program: exit status $rc, want 2"
# usage_error WANT-MESSAGE ARGS...: exit status 2, WANT-MESSAGE on stderr, the program not run.
usage_error() {
  local want=$1 rc=0
  shift
  "$run" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err" || rc=$?
  [ $rc = 2 ] || fail "smalloc-run $*: exit status $rc, want 2"
  grep -qF -e "smalloc-run: $want" "$tmp/bad.err" || { cat "$tmp/bad.err" >&2; fail "smalloc-run $*: no '$want'"; }
  [ ! -s "$tmp/bad.out" ] || fail "smalloc-run $*: the program ran"
}
usage_error "unknown option --no-such-option" --no-such-option "$probe" return
usage_error "unknown option -x" -x "$probe" return
usage_error "unknown statistics format 'xml' (want table or json)" --stats=xml "$probe" return
usage_error "--stats-file needs a file name" --stats-file= "$probe" return
usage_error "--stats-file needs a file name" --stats-file
rc=0; "$run" "$tmp/no-such-program" 2>/dev/null || rc=$?
[ $rc = 127 ] || fail "missing program: exit status $rc, want 127"
pass "--help, no program (2), unknown option or format (2), missing program (127)"

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

json_on() { # FILE: the statistics are one JSON object on one line of FILE
  grep -q "^{\"version\":\"$version\"," "$1" || return 1
  if [ -x /usr/bin/python3 ]; then
    grep "^{" "$1" | /usr/bin/python3 -c 'import json, sys; d = json.loads(sys.stdin.readline()); assert d["classes"]' ||
      return 1
  fi
}
"$run" --stats=json "$probe" return >/dev/null 2>"$tmp/json.err" || fail "--stats=json: status $?"
json_on "$tmp/json.err" || { cat "$tmp/json.err" >&2; fail "--stats=json: no JSON line on stderr"; }
if table_on "$tmp/json.err"; then fail "--stats=json: a table too"; fi
"$run" --stats=table "$probe" return >/dev/null 2>"$tmp/table.err" || fail "--stats=table: status $?"
table_on "$tmp/table.err" || fail "--stats=table: no table"
pass "--stats=json: one JSON object on stderr; --stats=table: the table"

# --stats-file alone asks for statistics (a table), in either spelling; a
# format from the command line or the environment is kept.
"$run" --stats-file="$tmp/alone.txt" "$probe" exit >/dev/null 2>"$tmp/alone.err" || fail "--stats-file alone: status $?"
table_on "$tmp/alone.txt" || fail "--stats-file=FILE alone: no table in the file"
[ ! -s "$tmp/alone.err" ] || fail "--stats-file alone: stderr not empty"
"$run" --stats-file "$tmp/spaced.txt" "$probe" return >/dev/null || fail "--stats-file FILE: status $?"
table_on "$tmp/spaced.txt" || fail "--stats-file FILE alone: no table in the file"
"$run" --stats-file="$tmp/j.txt" --stats=json "$probe" return >/dev/null || fail "--stats-file --stats=json: status $?"
json_on "$tmp/j.txt" || fail "--stats-file=FILE --stats=json: no JSON in the file"
SMALLOC_STATS=json "$run" --stats-file="$tmp/envj.txt" "$probe" return >/dev/null || fail "SMALLOC_STATS=json --stats-file: status $?"
json_on "$tmp/envj.txt" || fail "SMALLOC_STATS=json smalloc-run --stats-file: the environment's format lost"
SMALLOC_STATS=0 "$run" --stats-file="$tmp/env0.txt" "$probe" return >/dev/null || fail "SMALLOC_STATS=0 --stats-file: status $?"
table_on "$tmp/env0.txt" || fail "SMALLOC_STATS=0 smalloc-run --stats-file: no table"
"$run" --stats-file="$tmp/pid-%p.txt" sh -c 'exec "$0" return' "$probe" >/dev/null || fail "--stats-file with %p: status $?"
pidfiles=("$tmp"/pid-[0-9]*.txt)
[ ${#pidfiles[@]} = 1 ] && [ -f "${pidfiles[0]}" ] && table_on "${pidfiles[0]}" || fail "--stats-file=pid-%p.txt: no pid-<n>.txt with a table"
pass "--stats-file alone implies the table (=FILE and FILE forms, %p); --stats=json or SMALLOC_STATS=json kept"

# --debug: a block's usable size is what was asked for (debug blocks are
# sized exactly, so overflows reach the guard bytes), 8 without it.
expect_out "--debug: SMALLOC_DEBUG" "SMALLOC_DEBUG=1" "$run" --debug "$probe" env SMALLOC_DEBUG
expect_out "--debug: malloc_usable_size(malloc(1))" "usable 1 1" "$run" --debug "$probe" usable 1
"$run" --debug --stats=json "$probe" return >/dev/null 2>"$tmp/debug.err" || fail "--debug --stats=json: status $?"
grep -q '"debug":true' "$tmp/debug.err" || { cat "$tmp/debug.err" >&2; fail "--debug --stats=json: not in debug mode"; }
pass "--debug: SMALLOC_DEBUG=1, debug blocks, statistics say debug"

if [ -x /usr/bin/python3 ]; then
  PYTHONMALLOC=malloc "$run" --stats /usr/bin/python3 -c 'print(sum(len(str(i)) for i in range(100000)))' \
    >"$tmp/py.out" 2>"$tmp/py.err" || fail "python3 under smalloc-run: status $?"
  [ "$(cat "$tmp/py.out")" = 488890 ] || fail "python3 under smalloc-run printed $(cat "$tmp/py.out")"
  table_on "$tmp/py.err" || { cat "$tmp/py.err" >&2; fail "python3: no table"; }
  pass "python3 under smalloc-run --stats: right answer, table at exit"
fi
echo "launcher.sh: all $checks checks passed"
