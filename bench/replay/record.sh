#!/bin/sh
# Re-record the shipped trace: Debian's python3 running
# bench/python/trace_source.py at scale 0.05 under PYTHONMALLOC=malloc, with
# the recorder preloaded. Writes bench/replay/python.trace.gz.
#   bench/replay/record.sh [BUILD_DIR]     (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-${BUILD_DIR:-$here/../../build}}
shim=$build/bench/libsmalloc_trace.so
[ -f "$shim" ] || { echo "record.sh: $shim missing: build the project first" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
SMALLOC_TRACE=$tmp SMALLOC_TRACE_MAX=20000000 PYTHONMALLOC=malloc \
    LD_PRELOAD=$shim /usr/bin/python3 "$here/../python/trace_source.py" 0.05 >/dev/null
gzip -9 -n -c "$tmp" > "$here/python.trace.gz"
ls -l "$here/python.trace.gz"
