# Sourced by the test scripts that report one line per check:
# pass "what" prints "ok: what" and counts it; fail "what" prints
# "FAILED: what" on stderr and ends the script.
checks=0

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

pass() {
  checks=$((checks + 1))
  echo "ok: $*"
}
