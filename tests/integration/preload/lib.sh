# Shared by the tests/preload scripts (sourced, not run). Each script is run
# by CTest as: bash SCRIPT LIBSMALLOC.so [more arguments].
#   compare NAME CMD...   run CMD without and with libsmalloc preloaded, the
#                         second time with SMALLOC_STATS=json into $tmp/NAME.stats;
#                         stdout must be identical byte for byte and both runs
#                         must exit 0
#   expect_served NAME MIN_PEAK_ARENAS MIN_BLOCKS
#                         $tmp/NAME.stats shows libsmalloc really served the
#                         program: at least MIN_PEAK_ARENAS arenas (MiB of
#                         small blocks) mapped at once, and at least
#                         MIN_BLOCKS small blocks the program still held at
#                         exit (0 for a program that frees everything at
#                         exit, as python3 does: its peak tells)
# Every check prints "ok: ..." or "FAILED: ..." (and exits 1).
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"

lib=${1:?usage: $0 LIBSMALLOC.so ...}
[ -r "$lib" ] || fail "$lib not found"
scratch_dir preload

compare() {
  local name=$1
  shift
  local rc=0
  env -u LD_PRELOAD "$@" >"$tmp/$name.ref" 2>"$tmp/$name.ref.err" || rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/$name.ref.err" >&2; fail "$name: exit status $rc without libsmalloc"; }
  rc=0
  env LD_PRELOAD="$lib" SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/$name.stats" "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/$name.err" >&2; fail "$name: exit status $rc under libsmalloc"; }
  if ! cmp -s "$tmp/$name.ref" "$tmp/$name.out"; then
    diff "$tmp/$name.ref" "$tmp/$name.out" | head -20 >&2 || true
    fail "$name: output differs under libsmalloc"
  fi
  [ -s "$tmp/$name.ref" ] || fail "$name: no output to compare"
  pass "$name: $(wc -c <"$tmp/$name.out") bytes of output identical with and without libsmalloc"
}

#   run_preloaded NAME LAST_LINE CMD...
#                         run CMD under libsmalloc (statistics into
#                         $tmp/NAME.stats): exit status 0, no line with
#                         "FAILED", and LAST_LINE as the last line of stdout
run_preloaded() {
  local name=$1 last=$2
  shift 2
  local rc=0
  env LD_PRELOAD="$lib" SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/$name.stats" "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  sed "s/^/  /" "$tmp/$name.out"
  if [ $rc -ne 0 ] || grep -q FAILED "$tmp/$name.out"; then
    cat "$tmp/$name.err" >&2
    fail "$name: exit status $rc under libsmalloc"
  fi
  [ "$(tail -n 1 "$tmp/$name.out")" = "$last" ] || fail "$name: last line is not '$last'"
  pass "$name: ran to its last line under libsmalloc"
}

# Numbers from the JSON statistics (SMALLOC_STATS=json, lib/stats.c), read
# by python3 (itself run without libsmalloc), on one line: arenas ever mapped,
# most arenas at once, blocks the program held at exit, classes with a pool
# at exit, requests passed to glibc.
stats_numbers() {
  env -u LD_PRELOAD python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["arenas_allocated"], s["arenas_highest"],
      sum(c["blocks_in_use"] for c in s["classes"]),
      sum(1 for c in s["classes"] if c["pools_in_use"] > 0), s["fallback_calls"])' "$1"
}

expect_served() {
  local name=$1 min_peak=$2 min_blocks=$3 file="$tmp/$1.stats"
  [ -s "$file" ] || fail "$name: no statistics in $file (was libsmalloc preloaded?)"
  local arenas peak blocks classes fallback
  read -r arenas peak blocks classes fallback < <(stats_numbers "$file") ||
    { cat "$file" >&2; fail "$name: unreadable statistics"; }
  [ "$peak" -ge "$min_peak" ] || { cat "$file" >&2; fail "$name: at most $peak arenas at once, want >= $min_peak"; }
  [ "$blocks" -ge "$min_blocks" ] || { cat "$file" >&2; fail "$name: $blocks small blocks in use at exit, want >= $min_blocks"; }
  pass "$name: served by libsmalloc ($arenas arenas mapped in all, $peak at once; at exit $blocks blocks in use in $classes classes; $fallback requests passed to glibc)"
}
