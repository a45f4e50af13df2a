#!/usr/bin/env bash
# C++ under LD_PRELOAD: the threaded std::map/std::string churn (cxx_churn)
# prints the same with and without libsmalloc, which served it; the
# start-up/tear-down program (cxx_lifecycle: statics, thread_local,
# exceptions across threads) runs to its last line.
#   cxx.sh LIBSMALLOC.so CXX_CHURN CXX_LIFECYCLE
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
churn=${2:?usage: cxx.sh LIBSMALLOC.so CXX_CHURN CXX_LIFECYCLE}
lifecycle=${3:?usage: cxx.sh LIBSMALLOC.so CXX_CHURN CXX_LIFECYCLE}

compare cxx_churn "$churn"
# The workers' blocks go back to the pools when they exit (their caches and
# the transfer cache): what is out at exit is mostly the main
# thread's cache, some 800 blocks.
expect_served cxx_churn 8 0
run_preloaded cxx_lifecycle "cxx_lifecycle: static destructor ok" "$lifecycle"
expect_served cxx_lifecycle 1 0
echo "cxx.sh: all $checks checks passed"
