#!/usr/bin/env bash
# The exit reports (lib/stats.c) of a program linked with libsmalloc:
#  - many processes, one SMALLOC_STATS_FILE: appended, each report whole
#    (one write(2) each, counted with strace when it is installed), each
#    naming its pid, program and the options in force (all of SM_OPTIONS);
#  - SMALLOC_STATS_FILE up to PATH_MAX used whole, longer refused with the
#    reason; a file that cannot be opened is named with the errno text, on
#    the stderr the program closed, with the report after it;
#  - the file is created 0600 and never opened through a symbolic link.
#   reports.sh REPORT_CHILD OPTIONS_TABLE
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
child=$1 options_table=$2
scratch_dir reports
run() { env -i PATH="$PATH" "$@"; }
version_line='^libsmalloc [0-9.]* statistics$'

# 1. Eight children and their parent, JSON, one file.
run SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/all.json" "$child" fork 8 2>"$tmp/err" ||
  fail "fork 8 (json): $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "stderr not empty: $(cat "$tmp/err")"
"$options_table" | sed -n 's/^| `\(SMALLOC_[A-Z_]*\)` .*/\1/p' >"$tmp/option-names"
python3 - "$tmp/all.json" "$tmp/option-names" <<'PY' || fail "JSON reports of 9 processes: $(head -c 2000 "$tmp/all.json")"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "the file does not end with a newline"
reports = [json.loads(l) for l in lines[:-1]]
assert len(reports) == 9, f"{len(reports)} reports, want 9"
names = open(sys.argv[2]).read().split()
assert len(set(r["pid"] for r in reports)) == 9, "pids not distinct"
for r in reports:
    assert r["program"] == "report_child", r["program"]
    assert list(r["options"]) == names, (list(r["options"]), names)
    assert r["options"]["SMALLOC_STATS"] == "json" and r["options"]["SMALLOC_STATS_FILE"] == sys.argv[1]
    assert r["options"]["SMALLOC_DEBUG"] is False and r["options"]["SMALLOC_ALIGNMENT"] == 16
    assert r["rss_bytes"] > 0 and r["rss_bytes"] != r["bytes_mapped"]
    c5 = [c for c in r["classes"] if c["block_size"] == 48]  # malloc(40): 48 bytes, 16-aligned
    assert c5 and c5[0]["blocks_in_use"] >= 100, c5
PY
pass "9 processes, SMALLOC_STATS=json into one file: 9 whole reports, each with pid, program, all $(wc -l <"$tmp/option-names") options"

# 2. The same with the table: 9 reports, each contiguous, its pid twice.
run SMALLOC_STATS=1 SMALLOC_STATS_FILE="$tmp/all.txt" "$child" fork 8 2>"$tmp/err" ||
  fail "fork 8 (table): $(cat "$tmp/err")"
python3 - "$tmp/all.txt" <<'PY' || fail "table reports of 9 processes"
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"(?m)^(?=libsmalloc [0-9.]+ statistics$)", text)
assert blocks[0] == "", "text before the first report"
blocks = blocks[1:]
assert len(blocks) == 9, f"{len(blocks)} reports, want 9"
shape = None
for b in blocks:
    lines = b.rstrip("\n").split("\n")
    m = re.fullmatch(r"pid (\d+) \(report_child\)", lines[1])
    assert m, lines[1]
    assert lines[2].startswith("options SMALLOC_ALIGNMENT=16 ") and "SMALLOC_STATS=table" in lines[2], lines[2]
    assert re.search(r"(?m)^  pid +%s$" % m.group(1), b), "the process group's pid differs"
    assert any(l.startswith("  mapped by libsmalloc (above) ") for l in lines), "no mapped line"
    assert sum(l.startswith("libsmalloc ") for l in lines) == 1
PY
pass "9 processes, SMALLOC_STATS=1 into one file: 9 whole tables"

# 3. One write(2) per report: the program itself writes nothing.
if command -v strace >/dev/null 2>&1; then
  run SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/traced.json" \
    strace -f -qq -e trace=write -e signal=none -o "$tmp/trace" "$child" fork 3 2>"$tmp/err" ||
    fail "strace: $(cat "$tmp/err")"
  writes=$(grep -c 'write(' "$tmp/trace" || true)
  [ "$writes" = 4 ] || fail "$writes write calls for 4 reports: $(cut -c1-120 "$tmp/trace")"
  [ "$(wc -l <"$tmp/traced.json")" = 4 ] || fail "traced.json: $(cat "$tmp/traced.json")"
  run SMALLOC_STATS=1 strace -f -qq -e trace=write -e signal=none -o "$tmp/trace" "$child" plain \
    2>"$tmp/err" || fail "strace (table)"
  writes=$(grep -c 'write(2,' "$tmp/trace" || true)
  [ "$writes" = 1 ] || fail "$writes writes to stderr for one table: $(cut -c1-120 "$tmp/trace")"
  pass "strace: one write(2) per report, JSON to a file and the table to stderr"
else
  echo "skip - strace not installed: the write count is not checked"
fi

# 4. A 4090-byte SMALLOC_STATS_FILE (legal: PATH_MAX is 4096 with the NUL).
long=$tmp
while [ $((${#long} + 201)) -lt 4070 ]; do long=$long/$(printf 'd%.0s' {1..200}); done
mkdir -p "$long"
long=$long/$(printf 'f%.0s' $(seq $((4090 - ${#long} - 1))))
[ ${#long} = 4090 ] || fail "built a ${#long}-byte path"
run SMALLOC_STATS=1 SMALLOC_STATS_FILE="$long" "$child" plain 2>"$tmp/err" || fail "long path"
[ ! -s "$tmp/err" ] || fail "stderr with a 4090-byte path: $(cut -c1-300 "$tmp/err")"
grep -q "$version_line" "$long" || fail "no report in the 4090-byte file"
pass "a 4090-byte SMALLOC_STATS_FILE is used whole"

# 5. Longer than PATH_MAX, as given (4100 bytes) or once %p is expanded.
run SMALLOC_STATS=1 SMALLOC_STATS_FILE="$long/0123456789" "$child" plain 2>"$tmp/err" || fail "too long"
grep -qx 'smalloc: warning: SMALLOC_STATS_FILE is 4101 bytes long with %p expanded, more than PATH_MAX (4096 with its NUL) allows; statistics go to stderr' \
  "$tmp/err" || fail "too long: $(cut -c1-300 "$tmp/err")"
grep -q "$version_line" "$tmp/err" || fail "too long: no report on stderr"
pids=$(printf '%%p%.0s' {1..1400}) # 2800 bytes; at least 4200 once expanded (pids > 99)
run SMALLOC_STATS=1 SMALLOC_STATS_FILE="$tmp/$pids" "$child" plain 2>"$tmp/err" || fail "too long (%p)"
grep -q '^smalloc: warning: SMALLOC_STATS_FILE is [0-9]* bytes long with %p expanded, more than PATH_MAX' \
  "$tmp/err" || fail "too long once expanded: $(cut -c1-300 "$tmp/err")"
grep -q "$version_line" "$tmp/err" || fail "too long (%p): no report on stderr"
pass "a SMALLOC_STATS_FILE over PATH_MAX is refused with the reason, the report goes to stderr"

# 6. Cannot open, and the program closed its stderr: the reason and the
#    report still reach the stderr it was started with.
run SMALLOC_STATS=1 SMALLOC_STATS_FILE="$tmp/no/such/dir/x" "$child" close-stderr 2>"$tmp/err" ||
  fail "close-stderr"
grep -qxF "smalloc: warning: cannot open SMALLOC_STATS_FILE=$tmp/no/such/dir/x: No such file or directory; statistics go to stderr" \
  "$tmp/err" || fail "close-stderr: no reason: $(head -3 "$tmp/err")"
grep -q "$version_line" "$tmp/err" || fail "close-stderr: no report"
pass "SMALLOC_STATS_FILE unopenable, stderr closed: the errno text and the report on the original stderr"

# 7. Created 0600; a symbolic link is not followed; an existing file is
#    appended to, not truncated.
run SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/new.json" "$child" plain
[ "$(stat -c %a "$tmp/new.json")" = 600 ] || fail "mode $(stat -c %a "$tmp/new.json")"
echo "kept" >"$tmp/target"
ln -s "$tmp/target" "$tmp/link"
run SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/link" "$child" plain 2>"$tmp/err"
[ "$(cat "$tmp/target")" = kept ] || fail "written through a symbolic link"
grep -qxF "smalloc: warning: cannot open SMALLOC_STATS_FILE=$tmp/link: Too many levels of symbolic links; statistics go to stderr" \
  "$tmp/err" || fail "symlink: $(head -2 "$tmp/err")"
echo "first line" >"$tmp/existing"
run SMALLOC_STATS=json SMALLOC_STATS_FILE="$tmp/existing" "$child" plain
[ "$(head -1 "$tmp/existing")" = "first line" ] && [ "$(wc -l <"$tmp/existing")" = 2 ] ||
  fail "existing file not appended to: $(head -c 300 "$tmp/existing")"
pass "created 0600, never through a symbolic link, appended to"

echo "reports: all $checks checks passed"
