#!/usr/bin/env bash
# Statistics reports of a running program (lib/stats.c, written by the
# background thread of lib/release.c), on report_child linked with
# libsmalloc:
#  - SMALLOC_STATS_INTERVAL=1: interval reports while it runs, then the exit
#    report; each names its pid, reason, time; JSON lines parse;
#  - a fork child writes its own interval reports, with its own pid;
#  - SMALLOC_STATS_SIGNAL=USR1: kill -USR1 gives a report (reason signal)
#    while the program goes on; SIGTERM then ends it with those reports only;
#  - a program that installs its own USR1 handler keeps it (libsmalloc does
#    not chain: its handler is replaced and writes nothing);
#  - an ignored signal stays ignored; bad names, SMALLOC_BACKGROUND=0: one
#    warning each.
# No timing assertions: the waits below are upper bounds on polling.
#   running_reports.sh REPORT_CHILD
set -euo pipefail
child=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smalloc-running.XXXXXX")
bgpid=
cleanup() {
  if [ -n "$bgpid" ]; then kill -KILL "$bgpid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
run() { env -i PATH="$PATH" "$@"; } # not for "&": $! would be the subshell's pid
# wait_for FILE PATTERN: up to 10 s for a line matching PATTERN in FILE.
wait_for() {
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "no '$2' in $1 after 10 s: $(head -c 500 "$1" 2>/dev/null)"
}

# 1. Interval, table (SMALLOC_STATS unset: the table is implied), 2.5 s (slack for a loaded machine).
before=$(date +%s.%N)
run SMALLOC_STATS_INTERVAL=1 SMALLOC_STATS_FILE="$tmp/interval.txt" "$child" run 2500 \
  >/dev/null 2>"$tmp/err" || fail "run 2500: $(cat "$tmp/err")"
after=$(date +%s.%N)
[ ! -s "$tmp/err" ] || fail "stderr: $(cat "$tmp/err")"
python3 - "$tmp/interval.txt" <<'PY' || fail "interval tables: $(head -c 3000 "$tmp/interval.txt")"
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"(?m)^(?=libsmalloc [0-9.]+ statistics$)", text)
assert blocks[0] == "", "text before the first report"
blocks = blocks[1:]
reasons, pids, elapsed = [], set(), []
for b in blocks:
    lines = b.split("\n")
    m = re.fullmatch(r"pid (\d+) \(report_child\)", lines[1])
    assert m, lines[1]
    pids.add(m.group(1))
    assert "SMALLOC_STATS=table" in lines[2] and "SMALLOC_STATS_INTERVAL=1" in lines[2], lines[2]
    m = re.fullmatch(r"report (\w+), at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z), ([0-9.]+) s after start-up", lines[3])
    assert m, lines[3]
    reasons.append(m.group(1))
    elapsed.append(float(m.group(3)))
    assert re.search(r"(?m)^  resident \(RSS, whole process\) +[1-9]", b), "no RSS"
assert len(pids) == 1, pids
assert reasons.count("exit") == 1 and reasons[-1] == "exit", reasons
assert reasons.count("interval") >= 1 and set(reasons) == {"interval", "exit"}, reasons
assert elapsed == sorted(elapsed), elapsed
PY
pass "SMALLOC_STATS_INTERVAL=1, 2.5 s run: interval table(s), then the exit table, one pid"

# 2. The same in JSON, with the time checked against the clock here.
run SMALLOC_STATS=json SMALLOC_STATS_INTERVAL=1 SMALLOC_STATS_FILE="$tmp/interval.json" \
  "$child" run 2500 >/dev/null 2>"$tmp/err" || fail "run 2500 (json): $(cat "$tmp/err")"
after=$(date +%s.%N)
python3 - "$tmp/interval.json" "$before" "$after" <<'PY' || fail "interval JSON: $(head -c 3000 "$tmp/interval.json")"
import json, sys
reports = [json.loads(l) for l in open(sys.argv[1])]
before, after = float(sys.argv[2]), float(sys.argv[3])
reasons = [r["reason"] for r in reports]
assert reasons.count("exit") == 1 and reasons[-1] == "exit", reasons
assert reasons.count("interval") >= 1 and set(reasons) == {"interval", "exit"}, reasons
assert len(set(r["pid"] for r in reports)) == 1
for r in reports:
    assert r["program"] == "report_child" and r["rss_bytes"] > 0
    assert before - 1 <= r["time"] <= after + 1, (before, r["time"], after)
    assert r["options"]["SMALLOC_STATS_INTERVAL"] == 1 and r["options"]["SMALLOC_STATS_SIGNAL"] is None
    assert 0 <= r["elapsed"] < 60
PY
pass "SMALLOC_STATS=json with the interval: JSON lines, reason/time/elapsed/pid/rss_bytes"

# 3. A fork child starts its own thread: interval reports with its pid.
run SMALLOC_STATS=json SMALLOC_STATS_INTERVAL=1 SMALLOC_STATS_FILE="$tmp/fork.json" \
  "$child" run-fork 3500 >/dev/null 2>"$tmp/err" || fail "run-fork: $(cat "$tmp/err")"
python3 - "$tmp/fork.json" <<'PY' || fail "fork JSON: $(head -c 3000 "$tmp/fork.json")"
import json, sys
reports = [json.loads(l) for l in open(sys.argv[1])]
by_pid = {}
for r in reports:
    by_pid.setdefault(r["pid"], []).append(r["reason"])
assert len(by_pid) == 2, by_pid
for pid, reasons in by_pid.items():
    assert reasons.count("exit") == 1 and reasons[-1] == "exit", (pid, reasons)
    assert reasons.count("interval") >= 1, (pid, reasons)
PY
pass "fork: parent and child each write interval reports with their own pid, then their exit report"

# start MODE VAR=VALUE...: the child in MODE in the background, with only
# those variables, its stdout in out and stderr in err; once it is ready.
start() {
  local mode=$1
  shift
  env -i PATH="$PATH" "$@" "$child" "$mode" >"$tmp/out" 2>"$tmp/err" &
  bgpid=$!
  wait_for "$tmp/out" '^ready$'
}

# 4. SMALLOC_STATS_SIGNAL=USR1: reports on demand; SIGTERM ends it.
start until-term SMALLOC_STATS=json SMALLOC_STATS_SIGNAL=USR1 SMALLOC_STATS_FILE="$tmp/signal.json"
kill -USR1 "$bgpid"
wait_for "$tmp/signal.json" '"reason":"signal"'
kill -0 "$bgpid" || fail "the program did not survive SIGUSR1"
kill -USR1 "$bgpid"
for _ in $(seq 200); do [ "$(wc -l <"$tmp/signal.json")" -ge 2 ] && break; sleep 0.05; done
kill -0 "$bgpid" || fail "the program did not survive a second SIGUSR1"
kill -TERM "$bgpid"
status=0
wait "$bgpid" || status=$?
pid=$bgpid bgpid=
[ "$status" = 143 ] || fail "exit status $status after SIGTERM, want 143: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "stderr: $(cat "$tmp/err")"
python3 - "$tmp/signal.json" "$pid" <<'PY' || fail "signal JSON: $(head -c 3000 "$tmp/signal.json")"
import json, sys
reports = [json.loads(l) for l in open(sys.argv[1])]
assert [r["reason"] for r in reports] == ["signal", "signal"], [r["reason"] for r in reports]
assert all(r["pid"] == int(sys.argv[2]) for r in reports)
assert reports[0]["options"]["SMALLOC_STATS_SIGNAL"] == "USR1"
assert reports[0]["time"] <= reports[1]["time"]
PY
pass "SMALLOC_STATS_SIGNAL=USR1: two kill -USR1, two reports (reason signal), the program runs on; SIGTERM ends it"

# 5. The same in table form, the signal given as SIGUSR2 and by number.
for sig in SIGUSR2 12; do
  start until-term SMALLOC_STATS_SIGNAL=$sig SMALLOC_STATS_FILE="$tmp/signal-$sig.txt"
  kill -USR2 "$bgpid"
  wait_for "$tmp/signal-$sig.txt" '^report signal, at '
  kill -TERM "$bgpid"
  wait "$bgpid" || true
  bgpid=
  [ ! -s "$tmp/err" ] || fail "stderr ($sig): $(cat "$tmp/err")"
  grep -q "^pid [0-9]* (report_child)$" "$tmp/signal-$sig.txt" || fail "no pid line ($sig)"
done
pass "SMALLOC_STATS_SIGNAL=SIGUSR2 and =12: a table with 'report signal'"

# 6. The program's own USR1 handler wins: it runs, libsmalloc writes no
#    signal report; the program then exits by itself (the exit report).
start own-usr1 SMALLOC_STATS=json SMALLOC_STATS_SIGNAL=USR1 SMALLOC_STATS_FILE="$tmp/own.json"
kill -USR1 "$bgpid"
status=0
wait "$bgpid" || status=$?
bgpid=
[ "$status" = 0 ] || fail "own-usr1: status $status: $(cat "$tmp/err")"
grep -qx "own handler" "$tmp/out" || fail "the program's own handler did not run: $(cat "$tmp/out")"
python3 - "$tmp/own.json" <<'PY' || fail "own JSON: $(head -c 3000 "$tmp/own.json")"
import json, sys
reports = [json.loads(l) for l in open(sys.argv[1])]
assert [r["reason"] for r in reports] == ["exit"], [r["reason"] for r in reports]
PY
pass "a program installing its own SIGUSR1 handler keeps it: no signal report, its exit report"

# 7. An inherited SIG_IGN is left alone (with a warning); bad values and
#    SMALLOC_BACKGROUND=0 cost one warning each.
(
  trap '' USR1
  exec env -i PATH="$PATH" SMALLOC_STATS_SIGNAL=USR1 SMALLOC_STATS_FILE="$tmp/ign.txt" \
    "$child" until-term >"$tmp/out" 2>"$tmp/err"
) &
bgpid=$!
wait_for "$tmp/out" '^ready$'
kill -USR1 "$bgpid"
sleep 0.2
kill -0 "$bgpid" || fail "an ignored SIGUSR1 killed the program"
kill -TERM "$bgpid"
wait "$bgpid" || true
bgpid=
[ ! -s "$tmp/ign.txt" ] || fail "a report on an ignored signal: $(head -3 "$tmp/ign.txt")"
grep -qx "smalloc: warning: SMALLOC_STATS_SIGNAL=USR1: the signal is ignored already; libsmalloc leaves it, and writes no report on it" \
  "$tmp/err" || fail "ignored: $(cat "$tmp/err")"
for bad in USR3 KILL SEGV 0 99999; do
  run SMALLOC_STATS_SIGNAL=$bad "$child" plain 2>"$tmp/err" >/dev/null || fail "SMALLOC_STATS_SIGNAL=$bad"
  grep -q "^smalloc: warning: SMALLOC_STATS_SIGNAL=$bad: .*; no report on a signal$" "$tmp/err" ||
    fail "SMALLOC_STATS_SIGNAL=$bad: $(cat "$tmp/err")"
done
run SMALLOC_BACKGROUND=0 SMALLOC_STATS_INTERVAL=1 SMALLOC_STATS_FILE="$tmp/nobg.txt" "$child" run 1300 \
  >/dev/null 2>"$tmp/err" || fail "SMALLOC_BACKGROUND=0"
grep -qx "smalloc: warning: SMALLOC_STATS_INTERVAL and SMALLOC_STATS_SIGNAL need the background thread, which SMALLOC_BACKGROUND=0 turns off: only the exit report is written" \
  "$tmp/err" || fail "SMALLOC_BACKGROUND=0: $(cat "$tmp/err")"
[ "$(grep -c '^report ' "$tmp/nobg.txt")" = 1 ] && grep -q '^report exit, ' "$tmp/nobg.txt" ||
  fail "SMALLOC_BACKGROUND=0: $(grep '^report' "$tmp/nobg.txt")"
pass "ignored signal left alone, bad signal names and SMALLOC_BACKGROUND=0 each warned about"

echo "running_reports: all $checks checks passed"
