#!/usr/bin/env bash
# The C start-up/tear-down program (lifecycle.c) under LD_PRELOAD: before
# main, threads and thread exit, fork while threads allocate, dlopen with
# dynamic TLS, atexit handlers and destructors after main.
#   lifecycle.sh LIBSMALLOC.so LIFECYCLE PLUGIN.so
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
prog=${2:?usage: lifecycle.sh LIBSMALLOC.so LIFECYCLE PLUGIN.so}
plugin=${3:?usage: lifecycle.sh LIBSMALLOC.so LIFECYCLE PLUGIN.so}

run_preloaded lifecycle "lifecycle: destructor ok" "$prog" "$plugin"
for stage in constructor threads fork dlopen atexit destructor; do
  grep -qx "lifecycle: $stage ok" "$tmp/lifecycle.out" || fail "stage $stage did not report"
done
pass "every stage reported"
expect_served lifecycle 1 0
echo "lifecycle.sh: all $checks checks passed"
