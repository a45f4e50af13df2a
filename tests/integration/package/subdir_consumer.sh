#!/usr/bin/env bash
# Builds consumer-subdir/, a project that pulls libsmalloc in with
# add_subdirectory() and links smalloc::smalloc, then runs its consumer: the
# library built inside someone else's project must work and report VERSION.
#   subdir_consumer.sh SOURCE_DIR VERSION OVERRIDE CC
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 SOURCE_DIR VERSION OVERRIDE CC" >&2
  exit 2
fi
source=$1 version=$2 override=$3 cc=$4
here=$(cd "$(dirname "$0")" && pwd)
mode=api
case "$override" in ON|on|1|TRUE|true|YES|yes) mode=override ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smalloc-subdir.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset LD_PRELOAD LD_LIBRARY_PATH

run() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "FAILED: command failed: $*" >&2
    exit 1
  fi
}
# No build type: the parent's choice, which libsmalloc must leave alone. The
# override setting follows the main build so the consumer knows what to expect.
run "$tmp/configure.log" cmake -S "$here/consumer-subdir" -B "$tmp/build" \
  -DCMAKE_C_COMPILER="$cc" -DSMALLOC_SOURCE_DIR="$source" -DSMALLOC_OVERRIDE="$override"
run "$tmp/build.log" cmake --build "$tmp/build" -j2
out=$("$tmp/build/consumer" "$version" "$mode" 2>&1) || { echo "$out" >&2; echo "FAILED: consumer" >&2; exit 1; }
echo "$out"
echo "$out" | grep -qx "consumer: $version, 0 failures" || { echo "FAILED: no success line" >&2; exit 1; }
want=$(readlink -f "$tmp/build/smalloc/lib/libsmalloc.so.$version")
got=$(echo "$out" | sed -n 's/^library: //p')
if [ "$got" != "$want" ]; then
  echo "FAILED: consumer loaded '$got', want the subproject's '$want'" >&2
  exit 1
fi
echo "subdir_consumer: add_subdirectory build of libsmalloc $version linked and checked ($mode)"
