#!/usr/bin/env bash
# The symbols libsmalloc.so exports must be exactly the list in
# exported-symbols.txt: the smalloc_* API plus, with SMALLOC_OVERRIDE, the
# malloc family. Anything else leaking out (an sm_* internal that lost its
# hidden visibility) or missing fails, and so does a new public function
# until the list is updated.
#   exported_symbols.sh LIBSMALLOC.so LIST OVERRIDE
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
usage 3 "LIBSMALLOC.so LIST OVERRIDE" "$@"
lib=$1 list=$2 override=$3
scratch_dir symbols

# Expected: the list without comments; without the override, its smalloc_* part.
grep -v -e '^#' -e '^[[:space:]]*$' "$list" | sort >"$tmp/expected"
case "$override" in
  ON|on|1|TRUE|true|YES|yes) ;;
  *) grep '^smalloc_' "$tmp/expected" >"$tmp/expected.api"; mv "$tmp/expected.api" "$tmp/expected" ;;
esac
# Actual: defined dynamic symbols, version suffixes (name@@VER) dropped.
nm -D --defined-only "$lib" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort >"$tmp/actual"

if ! diff -u "$tmp/expected" "$tmp/actual" >"$tmp/diff"; then
  fail_context() {
    echo "('-' expected but not exported, '+' exported but not in the list)"
    tail -n +3 "$tmp/diff" | grep '^[-+]'
  }
  fail "$lib exports a different symbol set than $list"
fi
# Every one of them must be a function (T), not data.
notfunc=$(nm -D --defined-only "$lib" | awk 'NF >= 3 && $2 != "T" { print }')
if [ -n "$notfunc" ]; then
  fail "exported symbols that are not functions in the text section:"$'\n'"$notfunc"
fi
echo "exported_symbols: $(wc -l <"$tmp/actual") symbols, exactly the list, all functions"
