#!/usr/bin/env bash
# Installs a built libsmalloc into a temporary prefix and uses the installed
# copy the three ways a user would: find_package(smalloc) (shared and static
# targets), pkg-config with a plain cc command, and the smalloc-run launcher;
# then reads the installed licence and manual pages (man smalloc, man
# smalloc-run: no groff warning, every smalloc_* function, SMALLOC_* option
# and launcher option documented).
# Run by CTest after the build:
#   install_consumers.sh BUILD_DIR SOURCE_DIR VERSION LIBDIR OVERRIDE CC
# VERSION is the CMake project version, LIBDIR CMAKE_INSTALL_LIBDIR, OVERRIDE
# the SMALLOC_OVERRIDE setting (ON: malloc itself must be libsmalloc's).
set -euo pipefail
# shellcheck source=../../support/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../support/checks.sh"
usage 6 "BUILD_DIR SOURCE_DIR VERSION LIBDIR OVERRIDE CC" "$@"
build=$1 source=$2 version=$3 libdir_rel=$4 override=$5 cc=$6
here=$(cd "$(dirname "$0")" && pwd)
major=${version%%.*}
mode=api
case "$override" in ON|on|1|TRUE|true|YES|yes) mode=override ;; esac

scratch_dir package
prefix=$tmp/prefix
# Nothing from the caller's environment may decide which libsmalloc runs.
unset LD_PRELOAD LD_LIBRARY_PATH PKG_CONFIG_PATH PKG_CONFIG_LIBDIR CMAKE_PREFIX_PATH

expect_eq() { # what got want
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
  pass "$1 = '$3'"
}

# 1. Install.
run_logged "$tmp/install.log" cmake --install "$build" --prefix "$prefix"
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
run_logged "$tmp/cmake-configure.log" cmake -S "$here/consumer-cmake" -B "$tmp/cmake-build" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DSMALLOC_EXPECT_VERSION="$version"
expect_eq "find_package(smalloc) smalloc_DIR" \
  "$(sed -n 's/^smalloc_DIR:PATH=//p' "$tmp/cmake-build/CMakeCache.txt")" "$libdir/cmake/smalloc"
run_logged "$tmp/cmake-build.log" cmake --build "$tmp/cmake-build"
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
run_logged "$tmp/pkg-config-cc.log" "$cc" -O2 -o "$tmp/consumer_pc" "$here/consumer.c" $pc_flags \
  -Wl,-rpath,"$pc_libdir"
check_consumer "pkg-config" "$tmp/consumer_pc" "$installed_lib"

# 4. smalloc-run on a program that never heard of libsmalloc.
run_logged "$tmp/preloaded-cc.log" "$cc" -O2 -o "$tmp/preloaded" "$here/preloaded.c"
expect_eq "without smalloc-run, libsmalloc loaded" "$("$tmp/preloaded" | sed -n 's/^library: //p')" "none"
expect_eq "smalloc-run --version" "$("$prefix/bin/smalloc-run" --version)" "smalloc-run (libsmalloc) $version"
if ! (cd "$tmp" && "$prefix/bin/smalloc-run" --stats ./preloaded >"$tmp/run.out" 2>"$tmp/run.err"); then
  cat "$tmp/run.out" "$tmp/run.err" >&2
  fail "smalloc-run --stats ./preloaded failed"
fi
expect_eq "under smalloc-run, libsmalloc loaded" "$(sed -n 's/^library: //p' "$tmp/run.out")" "$installed_lib"
grep -qx "libsmalloc $version statistics" "$tmp/run.err" || { cat "$tmp/run.err" >&2; fail "no statistics table on stderr"; }
pass "smalloc-run --stats printed the libsmalloc $version statistics at exit"

# 5. The licence, and the manual pages.
doc=$prefix/share/doc/smalloc
mandir=$prefix/share/man
[ -f "$doc/LICENSE" ] && grep -qx "MIT License" "$doc/LICENSE" || fail "not installed: $doc/LICENSE (MIT)"
grep -qx "License: MIT" "$libdir/pkgconfig/smalloc.pc" || fail "smalloc.pc: no 'License: MIT'"
for page in man3/smalloc.3 man1/smalloc-run.1; do
  [ -f "$mandir/$page" ] || fail "not installed: $mandir/$page"
done
pass "LICENSE (MIT) in share/doc/smalloc, License: MIT in smalloc.pc, smalloc.3 and smalloc-run.1 installed"
if ! command -v groff >/dev/null || ! command -v man >/dev/null; then
  echo "skipped: the man page checks need groff and man (Debian: groff-base man-db; tests/run.sh installs them)"
else
  for page in man3/smalloc.3 man1/smalloc-run.1; do
    warnings=$(groff -ww -man -z "$mandir/$page" 2>&1) || fail "groff -man $page: status $?"
    [ -z "$warnings" ] || fail "groff -ww -man $page warns: $warnings"
    warnings=$(LC_ALL=C man --warnings -l "$mandir/$page" 2>&1 >/dev/null) || fail "man -l $page: status $?"
    [ -z "$warnings" ] || fail "man --warnings -l $page warns: $warnings"
  done
  pass "groff -ww -man and man --warnings: no warning in either page"
  # man NAME [SECTION] through MANPATH, as a user with the prefix on it would.
  read_man() {
    LC_ALL=C MANWIDTH=200 MANPATH=$mandir man -P cat "$@" 2>"$tmp/man.err" || { cat "$tmp/man.err" >&2; fail "man $*: status $?"; }
    [ ! -s "$tmp/man.err" ] || { cat "$tmp/man.err" >&2; fail "man $*: messages on stderr"; }
  }
  expect_eq "man -w smalloc" "$(MANPATH=$mandir man -w smalloc)" "$mandir/man3/smalloc.3"
  expect_eq "man -w smalloc-run" "$(MANPATH=$mandir man -w smalloc-run)" "$mandir/man1/smalloc-run.1"
  read_man 3 smalloc >"$tmp/smalloc.txt"
  read_man smalloc-run >"$tmp/smalloc-run.txt"
  for f in smalloc.txt smalloc-run.txt; do
    grep -q "^libsmalloc $version " "$tmp/$f" || fail "$f: no 'libsmalloc $version' footer"
    grep -qF "$libdir/libsmalloc.so.$major" "$tmp/$f" || fail "$f: does not name $libdir/libsmalloc.so.$major"
  done
  # Every exported smalloc_* function, every option of lib/options.h, and
  # every option smalloc-run --help lists, is in its page.
  missing=
  for fn in $(grep -x 'smalloc_[a-z_]*' "$here/exported-symbols.txt"); do
    grep -q "\b$fn()" "$tmp/smalloc.txt" || missing="$missing $fn()"
  done
  for opt in $(sed -n 's/^ *X([a-z_]*, "\(SMALLOC_[A-Z_]*\)".*/\1/p' "$source/lib/options.h"); do
    grep -q "^ *$opt (default " "$tmp/smalloc.txt" || missing="$missing $opt"
  done
  [ -z "$missing" ] || fail "smalloc(3) does not document:$missing"
  nopts=$(grep -c '^ *X(' "$source/lib/options.h")
  pass "man smalloc: every smalloc_* function and the $nopts options of lib/options.h"
  for opt in $("$prefix/bin/smalloc-run" --help | grep -o -e '--[a-z][a-z-]*' | sort -u); do
    grep -q -e "^ *$opt\b" "$tmp/smalloc-run.txt" || missing="$missing $opt"
  done
  [ -z "$missing" ] || fail "smalloc-run(1) does not document:$missing"
  pass "man smalloc-run: every option of smalloc-run --help"
fi

echo "install_consumers: all $checks checks passed"
