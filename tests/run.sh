#!/usr/bin/env bash
# Installs what is missing (Debian 12, apt-get), configures, builds and runs
# every test (labels: ctest -L unit|integration|death|stress in the build).
# Usage: tests/run.sh [--long] [--no-install]   (BUILD_DIR overrides build/)
#   --long        the long stress and fuzzing forms (SMALLOC_LONG_TESTS=ON)
#   --no-install  skip the package step, for a machine that has them already
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
long=0 install=1
for arg in "$@"; do
  case "$arg" in
    --long) long=1 ;;
    --no-install) install=0 ;;
    *) echo "usage: tests/run.sh [--long] [--no-install]" >&2; exit 2 ;;
  esac
done

if [ $install = 1 ]; then
  packages=(cmake make gcc g++ binutils pkg-config libcriterion-dev python3 valgrind
            clang-14 libclang-rt-14-dev gzip gawk perl coreutils man-db groff-base strace)
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    sudo=
    [ "$(id -u)" = 0 ] || sudo="sudo -E"
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
else
  echo "== packages: not checked (--no-install)"
fi

echo "== configure ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSMALLOC_TESTS=ON \
      -DSMALLOC_LONG_TESTS=$([ $long = 1 ] && echo ON || echo OFF) >/dev/null
echo "== build"
cmake --build "$build" -j"$(nproc)"
echo "== test"
cd "$build"
ctest --output-on-failure --timeout 900
