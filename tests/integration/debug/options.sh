#!/usr/bin/env bash
# Options from the environment, through a real program (planted) under
# LD_PRELOAD of libsmalloc.so: bad values and unknown SMALLOC_* names cost
# one warning line each and nothing else; SMALLOC_VERBOSE says what it
# does; SMALLOC_STATS prints the table or JSON (checked with python3's json)
# to stderr or SMALLOC_STATS_FILE.
#   options.sh LIBSMALLOC.so PLANTED
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
lib=$1 planted=$2
scratch_dir options
run() { env -i PATH="$PATH" LD_PRELOAD="$lib" "$@"; }

# Bad values and unknown names: one line each, the run goes on.
run SMALLOC_STATSS=1 SMALLOC_STATS=maybe SMALLOC_DEBUG=2 SMALLOC_ALIGNMENT=12 \
    SMALLOC_VERBOSE=loud "$planted" clean 2>"$tmp/err" || fail "planted clean failed: $(cat "$tmp/err")"
cat >"$tmp/want" <<'WANT'
smalloc: warning: SMALLOC_ALIGNMENT=12 is not a valid value; keeping the default
smalloc: warning: SMALLOC_DEBUG=2 is not a valid value; keeping the default
smalloc: warning: SMALLOC_STATS=maybe is not a valid value; keeping the default
smalloc: warning: SMALLOC_VERBOSE=loud is not a valid value; keeping the default
smalloc: warning: unknown option SMALLOC_STATSS ignored
usable 16
WANT
LC_ALL=C sort "$tmp/err" | diff -u "$tmp/want" - >&2 || fail "warnings differ (sorted stderr above)"
pass "four bad values and one unknown name: one warning line each, nothing else"

# Every accepted spelling of a bool.
for v in 1 yes on true YES 0 no off false Off; do
  run SMALLOC_VERBOSE=$v "$planted" clean 2>"$tmp/err" || fail "SMALLOC_VERBOSE=$v"
  grep -q warning "$tmp/err" && fail "SMALLOC_VERBOSE=$v warned: $(cat "$tmp/err")"
done
pass "bool spellings accepted without a warning"

# Verbose: version, options in force, arenas mapped and returned.
run SMALLOC_VERBOSE=1 "$planted" arenas 2>"$tmp/err" || fail "planted arenas failed"
grep -q '^smalloc: libsmalloc [0-9.]*, pid [0-9]*$' "$tmp/err" || fail "no version line: $(cat "$tmp/err")"
for o in SMALLOC_ALIGNMENT=16 SMALLOC_DEBUG=0 SMALLOC_STATS=0 'SMALLOC_STATS_FILE=(unset)' SMALLOC_VERBOSE=1; do
  grep -qxF "smalloc:   $o" "$tmp/err" || fail "no line for $o: $(cat "$tmp/err")"
done
mapped=$(grep -c '^smalloc: arena 0x[0-9a-f]* mapped ([0-9]* mapped now)$' "$tmp/err" || true)
returned=$(grep -c '^smalloc: arena 0x[0-9a-f]* returned to the OS ([0-9]* mapped now)$' "$tmp/err" || true)
[ "$mapped" -ge 3 ] || fail "$mapped arena-mapped lines, want >= 3 (6144 blocks of 512 bytes): $(cat "$tmp/err")"
[ "$returned" -ge 1 ] || fail "no arena-returned line: $(cat "$tmp/err")"
pass "SMALLOC_VERBOSE: version, 5 options, $mapped arenas mapped, $returned returned"

# The table at exit, on stderr.
run SMALLOC_STATS=1 "$planted" stats 2>"$tmp/err" || fail "planted stats failed"
head -1 "$tmp/err" | grep -qx 'libsmalloc [0-9.]* statistics' || fail "table: first line: $(head -3 "$tmp/err")"
grep -q '^  mapped  ' "$tmp/err" || fail "table: no bytes mapped line"
pass "SMALLOC_STATS=1: the table on stderr"

# JSON at exit into SMALLOC_STATS_FILE with %p, parsed by python3.
run SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/stats-%p.json" "$planted" stats 2>"$tmp/err" ||
  fail "planted stats (json) failed"
[ ! -s "$tmp/err" ] || fail "stderr not empty with SMALLOC_STATS_FILE: $(cat "$tmp/err")"
files=("$tmp"/stats-*.json)
[ ${#files[@]} = 1 ] && [ -f "${files[0]}" ] || fail "want one stats-<pid>.json, got: ${files[*]}"
[[ "${files[0]}" =~ /stats-[0-9]+\.json$ ]] || fail "%p not replaced: ${files[0]}"
python3 - "${files[0]}" 0 <<'PY' || fail "JSON checks failed"
import json, sys
d = json.load(open(sys.argv[1]))
debug = sys.argv[2] == "1"
parts = ["bytes_in_use", "bytes_free_blocks", "bytes_pool_free", "bytes_headers", "bytes_pool_tail"]
assert sum(d[k] for k in parts) == d["bytes_mapped"], "bytes do not add up"
assert d["bytes_mapped"] == d["arenas_now"] * d["arena_size"]
assert d["debug"] is debug
c5 = [c for c in d["classes"] if c["block_size"] == 48]  # malloc(40): the 48-byte class
assert c5 and c5[0]["block_size"] == 48 and c5[0]["blocks_in_use"] >= 1000, c5
if debug:
    assert d["bytes_requested"] >= 1000 * 40 and d["bytes_rounding"] >= 1000 * 8
else:
    assert d["bytes_requested"] is None and d["bytes_rounding"] is None
PY
pass "SMALLOC_STATS=json, SMALLOC_STATS_FILE with %p: one JSON object, bytes add up, 1000 blocks of 48"

# The same with the debug mode on: requested and rounding are measured.
run SMALLOC_DEBUG=1 SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/debug.json" "$planted" stats 2>"$tmp/err" ||
  fail "planted stats (debug json) failed: $(cat "$tmp/err")"
python3 - "$tmp/debug.json" 1 <<'PY' || fail "JSON checks failed (debug mode)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["debug"] is True
assert d["bytes_requested"] >= 1000 * 40 and d["bytes_rounding"] >= 1000 * 8, d
parts = ["bytes_requested", "bytes_rounding", "bytes_debug", "bytes_quarantine"]
assert sum(d[k] for k in parts) == d["bytes_in_use"], "in-use split does not add up"
PY
pass "SMALLOC_DEBUG=1 SMALLOC_STATS=json: requested and rounding measured, split adds up"

echo "options: all $checks checks passed"
