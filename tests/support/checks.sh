# Sourced by every shell test, which reports one line per check:
# pass "what" prints "ok: what" and counts it; fail "what" prints
# "FAILED: what" on stderr (then, if the script defines fail_context, what
# that prints, on stderr too) and ends the script with status 1; skip "why"
# prints "skip: why" and ends it with status 77 (SKIP_RETURN_CODE in CTest).
# Also: usage (argument count), scratch_dir (a temporary directory) and
# run_logged (a command run quietly into a log).
checks=0

fail() {
  echo "FAILED: $*" >&2
  if declare -F fail_context >/dev/null; then
    fail_context >&2
  fi
  exit 1
}

pass() {
  checks=$((checks + 1))
  echo "ok: $*"
}

skip() {
  echo "skip: $*"
  exit 77
}

# usage N "ARGS": unless the script was given exactly N arguments (pass
# "$@" after ARGS), print "usage: SCRIPT ARGS" on stderr and exit 2.
usage() {
  local n=$1 text=$2
  shift 2
  if [ $# -ne "$n" ]; then
    echo "usage: $0 $text" >&2
    exit 2
  fi
}

# scratch_dir NAME: a new directory, $tmp, under TMPDIR (or /tmp), removed
# when the script exits.
scratch_dir() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/smalloc-$1.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
}

# run_logged LOG CMD...: run CMD with its output into LOG; if it fails, show
# the log on stderr and fail.
run_logged() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "command failed: $*"
  fi
}
