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
#                         MIN_BLOCKS small blocks still out of the pools at
#                         exit (held by the program or its thread caches;
#                         a program that frees everything at exit, as
#                         python3 does, is judged by its peak instead)
# Every check prints "ok: ..." or "FAILED: ..." (and exits 1).
set -euo pipefail

lib=${1:?usage: $0 LIBSMALLOC.so ...}
[ -r "$lib" ] || { echo "FAILED: $lib not found" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smalloc-preload.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
checks=0

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

pass() {
  checks=$((checks + 1))
  echo "ok: $*"
}

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

# Numbers from the JSON statistics (SMALLOC_STATS=json, lib/stats.c): a top
# level field, or a sum over the classes. python3 reads them, itself run
# without libsmalloc.
stats_json() {
  env -u LD_PRELOAD python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
what = sys.argv[2]
if what == "blocks_out":
    print(sum(c["blocks_in_use"] + c["blocks_cached"] for c in s["classes"]))
elif what == "classes_used":
    print(sum(1 for c in s["classes"] if c["pools_in_use"] > 0))
else:
    print(s[what])' "$1" "$2"
}

expect_served() {
  local name=$1 min_peak=$2 min_blocks=$3 file="$tmp/$1.stats"
  [ -s "$file" ] || fail "$name: no statistics in $file (was libsmalloc preloaded?)"
  local arenas peak blocks classes fallback
  arenas=$(stats_json "$file" arenas_allocated) || { cat "$file" >&2; fail "$name: unreadable statistics"; }
  peak=$(stats_json "$file" arenas_highest)
  blocks=$(stats_json "$file" blocks_out)
  classes=$(stats_json "$file" classes_used)
  fallback=$(stats_json "$file" fallback_calls)
  [ "$peak" -ge "$min_peak" ] || { cat "$file" >&2; fail "$name: at most $peak arenas at once, want >= $min_peak"; }
  [ "$blocks" -ge "$min_blocks" ] || { cat "$file" >&2; fail "$name: $blocks small blocks out at exit, want >= $min_blocks"; }
  pass "$name: served by libsmalloc ($arenas arenas mapped in all, $peak at once; at exit $classes classes with pools, $blocks blocks out; $fallback requests passed to glibc)"
}
