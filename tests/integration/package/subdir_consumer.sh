#!/usr/bin/env bash
# Builds consumer-subdir/, a project that pulls libsmalloc in with
# add_subdirectory() and links smalloc::smalloc, then runs its consumer: the
# library built inside someone else's project must work and report VERSION.
#   subdir_consumer.sh SOURCE_DIR VERSION OVERRIDE CC
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
usage 4 "SOURCE_DIR VERSION OVERRIDE CC" "$@"
source=$1 version=$2 override=$3 cc=$4
here=$(cd "$(dirname "$0")" && pwd)
mode=api
case "$override" in ON|on|1|TRUE|true|YES|yes) mode=override ;; esac
scratch_dir subdir
unset LD_PRELOAD LD_LIBRARY_PATH

# No build type: the parent's choice, which libsmalloc must leave alone. The
# override setting follows the main build so the consumer knows what to expect.
run_logged "$tmp/configure.log" cmake -S "$here/consumer-subdir" -B "$tmp/build" \
  -DCMAKE_C_COMPILER="$cc" -DSMALLOC_SOURCE_DIR="$source" -DSMALLOC_OVERRIDE="$override"
run_logged "$tmp/build.log" cmake --build "$tmp/build" -j2
out=$("$tmp/build/consumer" "$version" "$mode" 2>&1) || { echo "$out" >&2; fail "consumer"; }
echo "$out"
echo "$out" | grep -qx "consumer: $version, 0 failures" || fail "no success line"
want=$(readlink -f "$tmp/build/smalloc/lib/libsmalloc.so.$version")
got=$(echo "$out" | sed -n 's/^library: //p')
if [ "$got" != "$want" ]; then
  fail "consumer loaded '$got', want the subproject's '$want'"
fi
echo "subdir_consumer: add_subdirectory build of libsmalloc $version linked and checked ($mode)"
