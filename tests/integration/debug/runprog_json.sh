#!/usr/bin/env bash
# bench/runprog's JSON line must stay valid JSON whatever the program's name
# and label hold: quotes, backslashes, a tab and a newline.
#   runprog_json.sh RUNPROG
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
runprog=$1
scratch_dir runprog
name='say "hi" \ back\slash'$'\t''tab'$'\n''line'
label='lib"smalloc\'
"$runprog" --name "$name" --label "$label" --out "$tmp/out.json" -- true
python3 - "$tmp/out.json" "$name" "$label" <<'PY' || { cat "$tmp/out.json" >&2; fail "invalid JSON"; }
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d["program"] == sys.argv[2], d["program"]
assert d["allocator"] == sys.argv[3], d["allocator"]
assert d["exit"] == 0
PY
echo "runprog_json: name and label with quotes, backslashes and control characters round-trip"
