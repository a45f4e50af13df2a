#!/usr/bin/env bash
# README.md's options table must be exactly what options_table prints from
# the SM_OPTIONS list (lib/options.h): an option added, renamed or
# re-documented in one place and not the other fails here.
#   readme_options.sh OPTIONS_TABLE README.md
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
table_program=$1 readme=$2
expected=$("$table_program")
actual=$(awk '/^\| variable \| default \| meaning \|$/ { on = 1 } on && /^$/ { exit } on' "$readme")
if [ "$expected" != "$actual" ]; then
  fail_context() {
    echo "$expected"
    diff <(echo "$actual") <(echo "$expected") || true
  }
  fail "the options table in $readme differs from lib/options.h; replace it with:"
fi
echo "readme_options: $(($(echo "$expected" | wc -l) - 2)) options, README in sync"
