#!/usr/bin/env bash
# Installs a built libsmalloc into a temporary prefix and uses the installed
# copy the three ways a user would: find_package(smalloc) (shared and static
# targets), pkg-config with a plain cc command, and the smalloc-run launcher.
# Run by CTest after the build:
#   install_consumers.sh BUILD_DIR SOURCE_DIR VERSION LIBDIR OVERRIDE CC
# VERSION is the CMake project version, LIBDIR CMAKE_INSTALL_LIBDIR, OVERRIDE
# the SMALLOC_OVERRIDE setting (ON: malloc itself must be libsmalloc's).
set -euo pipefail
if [ $# -ne 6 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR VERSION LIBDIR OVERRIDE CC" >&2
  exit 2
fi
build=$1 source=$2 version=$3 libdir_rel=$4 override=$5 cc=$6
here=$(cd "$(dirname "$0")" && pwd)
major=${version%%.*}
mode=api
case "$override" in ON|on|1|TRUE|true|YES|yes) mode=override ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smalloc-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
# Nothing from the caller's environment may decide which libsmalloc runs.
unset LD_PRELOAD LD_LIBRARY_PATH PKG_CONFIG_PATH PKG_CONFIG_LIBDIR CMAKE_PREFIX_PATH

# shellcheck source=../support/checks.sh
. "$here/../support/checks.sh"
# run LOG CMD...: run quietly, show the log if it fails.
run() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "command failed: $*"
  fi
}
expect_eq() { # what got want
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
  pass "$1 = '$3'"
}

# 1. Install.
run "$tmp/install.log" cmake --install "$build" --prefix "$prefix"
case "$libdir_rel" in /*) libdir=$libdir_rel ;; *) libdir=$prefix/$libdir_rel ;; esac
for f in "$libdir/libsmalloc.so.$version" "$libdir/libsmalloc.a" \
         "$prefix/include/smalloc.h" "$prefix/include/smalloc_version.h" \
         "$libdir/cmake/smalloc/smallocConfig.cmake" \
         "$libdir/cmake/smalloc/smallocConfigVersion.cmake" \
         "$libdir/cmake/smalloc/smallocTargets.cmake" \
         "$libdir/pkgconfig/smalloc.pc"; do
  [ -f "$f" ] || fail "not installed: $f"
done
[ -x "$prefix/bin/smalloc-run" ] || fail "not installed or not executable: $prefix/bin/smalloc-run"
pass "library, archive, headers, CMake package, smalloc.pc and smalloc-run installed"
expect_eq "libsmalloc.so.$major links to" "$(readlink "$libdir/libsmalloc.so.$major")" "libsmalloc.so.$version"
expect_eq "libsmalloc.so links to" "$(readlink -f "$libdir/libsmalloc.so")" "$libdir/libsmalloc.so.$version"
soname=$(readelf -d "$libdir/libsmalloc.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
expect_eq "SONAME" "$soname" "libsmalloc.so.$major"
# Installed text files must not point back into the build or source tree.
leaks=$(grep -rIlF -e "$build" -e "$source" "$prefix" || true)
[ -z "$leaks" ] || fail "installed files name the build or source tree: $leaks"
pass "no installed text file names $build or $source"
installed_lib=$(readlink -f "$libdir/libsmalloc.so.$version")

# check_consumer NAME EXE WANT_LIBRARY: run a consumer build, all checks must
# pass and the libsmalloc in it must be WANT_LIBRARY ("none" if static).
check_consumer() {
  local name=$1 exe=$2 want=$3 out
  if ! out=$("$exe" "$version" "$mode" 2>&1); then
    echo "$out" >&2
    fail "$name: consumer checks failed"
  fi
  echo "$out" | grep -qx "consumer: $version, 0 failures" || { echo "$out" >&2; fail "$name: no success line"; }
  pass "$name: version $version, every class counted ($mode)"
  expect_eq "$name: libsmalloc loaded" "$(echo "$out" | sed -n 's/^library: //p')" "$want"
}

# 2. find_package(smalloc): smalloc::smalloc and smalloc::smalloc_static.
run "$tmp/cmake-configure.log" cmake -S "$here/consumer-cmake" -B "$tmp/cmake-build" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DSMALLOC_EXPECT_VERSION="$version"
expect_eq "find_package(smalloc) smalloc_DIR" \
  "$(sed -n 's/^smalloc_DIR:PATH=//p' "$tmp/cmake-build/CMakeCache.txt")" "$libdir/cmake/smalloc"
run "$tmp/cmake-build.log" cmake --build "$tmp/cmake-build"
check_consumer "find_package shared" "$tmp/cmake-build/consumer_shared" "$installed_lib"
check_consumer "find_package static" "$tmp/cmake-build/consumer_static" "none"
if readelf -d "$tmp/cmake-build/consumer_static" | grep -q 'NEEDED.*libsmalloc'; then
  fail "consumer_static needs a libsmalloc shared object"
fi
pass "consumer_static needs no libsmalloc shared object"

# 3. pkg-config and a plain cc command.
export PKG_CONFIG_PATH=$libdir/pkgconfig
expect_eq "pkg-config --modversion smalloc" "$(pkg-config --modversion smalloc)" "$version"
pc_flags=$(pkg-config --cflags --libs smalloc)
pc_libdir=$(pkg-config --variable=libdir smalloc)
expect_eq "pkg-config libdir" "$pc_libdir" "$libdir"
# shellcheck disable=SC2086 # the flags are words
run "$tmp/pkg-config-cc.log" "$cc" -O2 -o "$tmp/consumer_pc" "$here/consumer.c" $pc_flags \
  -Wl,-rpath,"$pc_libdir"
check_consumer "pkg-config" "$tmp/consumer_pc" "$installed_lib"

# 4. smalloc-run on a program that never heard of libsmalloc.
run "$tmp/preloaded-cc.log" "$cc" -O2 -o "$tmp/preloaded" "$here/preloaded.c"
expect_eq "without smalloc-run, libsmalloc loaded" "$("$tmp/preloaded" | sed -n 's/^library: //p')" "none"
expect_eq "smalloc-run --version" "$("$prefix/bin/smalloc-run" --version)" "smalloc-run (libsmalloc) $version"
if ! (cd "$tmp" && "$prefix/bin/smalloc-run" --stats ./preloaded >"$tmp/run.out" 2>"$tmp/run.err"); then
  cat "$tmp/run.out" "$tmp/run.err" >&2
  fail "smalloc-run --stats ./preloaded failed"
fi
expect_eq "under smalloc-run, libsmalloc loaded" "$(sed -n 's/^library: //p' "$tmp/run.out")" "$installed_lib"
grep -qx "libsmalloc $version statistics" "$tmp/run.err" || { cat "$tmp/run.err" >&2; fail "no statistics table on stderr"; }
pass "smalloc-run --stats printed the libsmalloc $version statistics at exit"

echo "install_consumers: all $checks checks passed"
