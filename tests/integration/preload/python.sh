#!/usr/bin/env bash
# Debian's python3 with PYTHONMALLOC=malloc (every object a malloc block)
# runs alloc_heavy.py with and without libsmalloc: same output byte for byte,
# and the statistics show libsmalloc served the small objects.
#   python.sh LIBSMALLOC.so
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
python=/usr/bin/python3
[ -x "$python" ] || fail "$python missing (tests/run.sh installs the python3 package)"

compare python3 env PYTHONMALLOC=malloc "$python" "$here/alloc_heavy.py"
expect_served python3 10 0
echo "python.sh: all $checks checks passed"
